/* cmd_query.c -- kula's read-only commands: status, members, balances, history,
 * proposals, transactions, blocks, peers and agreements, as asked of kulad.
 * One table (queries, at the end) describes each command: its arguments, the
 * node's method, how its list pages, and the function that shows it. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "kula/base/amount.h"
#include "kula/base/error.h"
#include "kula/crypto/keystore.h"
#include "ids.h"
#include "rpc_client.h"
#include "txflow.h"
#include "kula/audit/txview.h"

/* ---- what the commands share ---- */

/* One command's view of the network: the unit, for amounts, and the member
 * table, for names; both are asked of the node only when first needed. */
typedef struct query {
    cli *c;
    unsigned decimals;
    char unit[64];
    json_t *members; /* array from "members", or NULL */
    bool members_tried;
    json_t *labels;  /* agreement id -> label, asked one by one */
} query;

static void query_free(query *q)
{
    json_decref(q->members);
    json_decref(q->labels);
}

static int64_t jint(const json_t *o, const char *key)
{
    return (int64_t)json_integer_value(json_object_get(o, key));
}

static const char *jstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? s : "";
}

/* As txview_amount, with a '+' in front of positive amounts (history). */
static const char *signed_amt(char *buf, size_t cap, int64_t v, unsigned decimals)
{
    if (v <= 0 || cap < 2)
        return txview_amount(buf, cap, v, decimals);
    buf[0] = '+';
    txview_amount(buf + 1, cap - 1, v, decimals);
    return buf;
}

/* value * 100 / total as "12.34%", rounded to the nearest hundredth. */
static const char *percent(char *buf, size_t cap, int64_t value, int64_t total)
{
    if (total <= 0) {
        snprintf(buf, cap, "-");
        return buf;
    }
    __int128 p = ((__int128)value * 20000 / total + 1) / 2; /* hundredths of a percent */
    const char *sign = p < 0 ? "-" : "";
    if (p < 0)
        p = -p;
    snprintf(buf, cap, "%s%" PRId64 ".%02d%%", sign, (int64_t)(p / 100), (int)(p % 100));
    return buf;
}

/* Asks the node for the unit.  Returns: 0 or an exit code (printed). */
static int load_unit(query *q)
{
    json_t *st;
    int rc = rpc_call(q->c, "status", NULL, &st, NULL, false);
    if (rc != CLI_OK)
        return rc;
    q->decimals = (unsigned)jint(st, "decimals");
    snprintf(q->unit, sizeof(q->unit), "%s", jstr(st, "unit"));
    json_decref(st);
    if (q->decimals > 18)
        return cli_fail(CLI_REFUSED, "the node reports %u decimals (at most 18 expected)",
                        q->decimals);
    return 0;
}

/* ---- the node's lists, every page ---- */

/* How a list continues after one answer (the node's JSON-RPC pages every
 * list, README "Limits"): not at all; an array, continued "after" its last
 * entry's "id"; or an object whose list field continues at its "next" (the
 * params of the next page, null after the last). */
typedef enum page_kind { PAGE_NONE, PAGE_AFTER_ID, PAGE_NEXT } page_kind;

#define PAGE 1000 /* entries asked for at once: the node's largest "limit" */

/* The params of the page after `page`, or NULL after the last (or when a page
 * brought nothing, so that a node repeating itself cannot loop us). */
static json_t *next_params(page_kind kind, const json_t *page, const json_t *list)
{
    const json_t *next = json_object_get(page, "next");
    if (json_array_size(list) == 0)
        return NULL;
    if (kind == PAGE_AFTER_ID && json_array_size(list) == PAGE)
        return json_pack("{s:O}", "after",
                         json_object_get(json_array_get(list, PAGE - 1), "id"));
    if (kind == PAGE_NEXT && json_is_object(next))
        return json_incref((json_t *)next);
    return NULL;
}

/* Calls method with params (stolen; may be NULL) and, for a list, asks for
 * the pages that follow until the last, so the list is whole: the result is
 * the first answer with the entries of the others appended (and the last
 * one's "next"), as the node answers a short list in one page.  Out: *out.
 * Returns: CLI_OK or rpc_call's exit code (printed unless quiet). */
static int fetch(cli *c, const char *method, page_kind kind, const char *field,
                 json_t *params, bool quiet, json_t **out)
{
    *out = NULL;
    if (kind == PAGE_NONE)
        return rpc_call(c, method, params, out, NULL, quiet);
    if (params == NULL)
        params = json_object();
    json_object_set_new(params, "limit", json_integer(PAGE));
    json_t *next = NULL;
    int rc;
    do {
        json_t *page;
        if (next != NULL) {
            json_object_update(params, next);
            json_decref(next);
        }
        if ((rc = rpc_call(c, method, json_incref(params), &page, NULL, quiet)) != CLI_OK)
            break;
        json_t *list = field != NULL ? json_object_get(page, field) : page;
        next = next_params(kind, page, list);
        if (*out == NULL) {
            *out = page;
        } else {
            json_array_extend(field != NULL ? json_object_get(*out, field) : *out, list);
            if (field != NULL)
                json_object_set(*out, "next", json_object_get(page, "next"));
            json_decref(page);
        }
    } while (next != NULL);
    json_decref(params);
    if (rc != CLI_OK) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

/* The member named by id, or NULL (the member table is asked once; a node
 * that refuses it only costs the names). */
static const json_t *member_of(query *q, int64_t id)
{
    if (!q->members_tried) {
        q->members_tried = true;
        if (fetch(q->c, "members", PAGE_AFTER_ID, NULL, NULL, true, &q->members) != CLI_OK)
            q->members = NULL;
    }
    size_t i;
    json_t *m;
    json_array_foreach(q->members, i, m) {
        if (jint(m, "id") == id)
            return m;
    }
    return NULL;
}

static const char *name_of(void *ctx, int64_t id)
{
    const json_t *m = member_of(ctx, id);
    return m != NULL ? jstr(m, "name") : NULL;
}

/* The formatter's view of the network (txview.h). */
static txview view_of(query *q)
{
    txview v = { q->decimals, q->unit, name_of, q, cli_local_time };
    return v;
}

/* "#2 Alice Bakery" */
static const char *who(char *buf, size_t cap, query *q, int64_t id)
{
    txview v = view_of(q);
    return txview_who(buf, cap, &v, id);
}

/* "agreement LABEL" for an agreement id (hex), asked of the node once. */
static const char *agreement_name(char *buf, size_t cap, query *q, const char *id)
{
    if (q->labels == NULL)
        q->labels = json_object();
    json_t *label = json_object_get(q->labels, id);
    if (label == NULL) {
        json_t *a = NULL;
        if (rpc_call(q->c, "agreement", json_pack("{s:s}", "id", id), &a, NULL, true) == CLI_OK)
            label = json_string(jstr(a, "label"));
        else
            label = json_null();
        json_decref(a);
        json_object_set_new(q->labels, id, label);
    }
    char text[200];
    if (json_is_string(label) && json_string_length(label) > 0)
        snprintf(buf, cap, "agreement %s",
                 txview_clean(text, sizeof(text), json_string_value(label)));
    else
        snprintf(buf, cap, "agreement %.12s..", id);
    return buf;
}

/* Reads the public key of the wallet key `label` (no passphrase needed).
 * Out: hex, 64 digits.  Returns: 0 or an exit code (printed). */
static int key_pubkey_hex(const cli *c, const char *label, char hex[2 * KULA_PUBKEY_LEN + 1])
{
    kula_pubkey pk;
    int rc = cli_key_pubkey(c, label, &pk, NULL);
    if (rc != 0)
        return rc;
    kula_hex_encode(hex, pk.b, KULA_PUBKEY_LEN);
    return 0;
}

/* ---- command lines ---- */

enum { O_JSON = 256, O_KEY, O_MEMBER, O_LIMIT, O_BEFORE, O_OPEN };

typedef struct args {
    const char *key, *member, *limit, *before;
    bool open;    /* --open */
    int npos;
    char **pos;
} args;

/* Parses a command's arguments.  `allowed` lists the options the command
 * takes besides --json ('k' --key, 'm' --member, 'l' --limit, 'b' --before,
 * 'o' --open);
 * options may come before or after the positional arguments; cmd names the
 * command in messages.  Sets c->json
 * for --json, so that 'kula CMD --json' works as 'kula --json CMD'.
 * Returns: 0, or CLI_USAGE after printing why. */
static int parse_args(cli *c, const char *cmd, int argc, char **argv, const char *allowed,
                      int maxpos, args *a)
{
    static const struct option opts[] = {
        { "json", no_argument, NULL, O_JSON },
        { "key", required_argument, NULL, O_KEY },
        { "member", required_argument, NULL, O_MEMBER },
        { "limit", required_argument, NULL, O_LIMIT },
        { "before", required_argument, NULL, O_BEFORE },
        { "open", no_argument, NULL, O_OPEN },
        { NULL, 0, NULL, 0 },
    };
    memset(a, 0, sizeof(*a));
    int opt;
    optind = 0;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        const char **slot = NULL;
        char letter = 0;
        switch (opt) {
        case O_JSON: c->json = true; continue;
        case O_KEY: slot = &a->key; letter = 'k'; break;
        case O_MEMBER: slot = &a->member; letter = 'm'; break;
        case O_LIMIT: slot = &a->limit; letter = 'l'; break;
        case O_BEFORE: slot = &a->before; letter = 'b'; break;
        case O_OPEN: letter = 'o'; break;
        case ':':
            return cli_fail(CLI_USAGE, "%s: %s needs a value", cmd, argv[optind - 1]);
        default:
            return cli_fail(CLI_USAGE, "%s: unknown option '%s' (see kula %s --help)", cmd,
                            argv[optind - 1], cmd);
        }
        if (strchr(allowed, letter) == NULL)
            return cli_fail(CLI_USAGE, "%s: unknown option '%s' (see kula %s --help)", cmd,
                            argv[optind - 1], cmd);
        if (slot != NULL)
            *slot = optarg;
        else
            a->open = true;
    }
    a->npos = argc - optind;
    a->pos = argv + optind;
    if (a->npos > maxpos)
        return cli_fail(CLI_USAGE, "%s: unexpected argument '%s' (see kula %s --help)", cmd,
                        a->pos[maxpos], cmd);
    return 0;
}

/* Prints the usage on --help.  Returns true if it did. */
static bool help(int argc, char **argv, const char *usage)
{
    if (!cli_wants_help(argc, argv))
        return false;
    fputs(usage, stdout);
    return true;
}

/* Prints the result as JSON with --json; takes the reference.  Returns true if
 * it did. */
static bool print_json(const cli *c, json_t **res)
{
    if (!c->json)
        return false;
    cli_print_json(*res);
    *res = NULL;
    return true;
}

/* ---- kula status ---- */

static const char status_usage[] =
    "Usage: kula status\n"
    "The node's network, chain id, height, last block, mempool, peers, sync\n"
    "state, and whether it produces blocks.  With --json, the node's answer.\n";

static void show_status(query *q, const args *a, const json_t *st)
{
    (void)q;
    (void)a;
    char t[64], text[200];
    const json_t *sync = json_object_get(st, "sync");
    printf("network      %s\n", txview_clean(text, sizeof(text), jstr(st, "network")));
    printf("chain id     %s\n", jstr(st, "chain_id"));
    printf("unit         %s (%" PRId64 " decimals)\n",
           txview_clean(text, sizeof(text), jstr(st, "unit")), jint(st, "decimals"));
    printf("height       %" PRId64 "\n", jint(st, "height"));
    printf("last block   %s\n", jstr(st, "last_block_hash"));
    printf("             at %s\n", cli_local_time(t, sizeof(t), jint(st, "last_block_time_ms"), true));
    printf("mempool      %" PRId64 " transactions (%" PRId64 " bytes)\n", jint(st, "mempool_size"),
           jint(st, "mempool_bytes"));
    const json_t *health = json_object_get(st, "health");
    if (health != NULL) {
        const char *reason = jstr(health, "reason");
        printf("health       %s%s%s\n", jstr(health, "state"), *reason ? ": " : "",
               txview_clean(text, sizeof(text), reason));
    }
    printf("peers        %" PRId64 "\n", jint(st, "peers"));
    printf("sync         %s (height %" PRId64 " of %" PRId64 ")\n", jstr(sync, "state"),
           jint(sync, "height"), jint(sync, "target"));
    printf("validator    %s\n", json_is_true(json_object_get(st, "validator"))
                                    ? "yes: this node produces blocks"
                                    : "no: this node follows the chain");
    printf("version      kulad %s\n", jstr(st, "version"));
}

/* ---- kula members, member, balance ---- */

static const char members_usage[] =
    "Usage: kula members\n"
    "Every member of the network: id, name, sector, status, balance, credit\n"
    "limit and average rating (with the number of ratings).\n";

/* "4.50 (2)" or "-" */
static const char *rating(char *buf, size_t cap, const json_t *m)
{
    int64_t n = jint(m, "rating_count"), sum = jint(m, "rating_sum");
    if (n <= 0) {
        snprintf(buf, cap, "-");
        return buf;
    }
    __int128 h = ((__int128)sum * 200 / n + 1) / 2; /* hundredths */
    snprintf(buf, cap, "%d.%02d (%" PRId64 ")", (int)(h / 100), (int)(h % 100), n);
    return buf;
}

static void show_members(query *q, const args *a, const json_t *list)
{
    (void)a;
    printf("%5s  %-24s %-16s %-8s %14s %14s  %s\n", "ID", "NAME", "SECTOR", "STATUS", "BALANCE",
           "CREDIT LIMIT", "RATING");
    size_t i;
    json_t *m;
    json_array_foreach(list, i, m) {
        char name[200], sector[200], bal[64], lim[64], r[64];
        printf("%5" PRId64 "  %-24s %-16s %-8s %14s %14s  %s\n", jint(m, "id"),
               txview_clean(name, sizeof(name), jstr(m, "name")),
               txview_clean(sector, sizeof(sector), jstr(m, "sector")), jstr(m, "status"),
               txview_amount(bal, sizeof(bal), jint(m, "balance"), q->decimals),
               txview_amount(lim, sizeof(lim), jint(m, "credit_limit"), q->decimals),
               rating(r, sizeof(r), m));
    }
    printf("%zu member%s; amounts in %s\n", json_array_size(list),
           json_array_size(list) == 1 ? "" : "s", q->unit);
}

static const char member_usage[] =
    "Usage: kula member MEMBER\n"
    "One member's record.  MEMBER is a member id, a name or a public key (hex).\n";

static void show_member(query *q, const args *a, const json_t *m)
{
    (void)a;
    char text[200], b1[64], b2[64], b3[64];
    kula_amount avail;
    if (!kula_amount_add(&avail, kula_amount_of(jint(m, "balance")),
                         kula_amount_of(jint(m, "credit_limit"))))
        avail = kula_amount_of(INT64_MAX);
    printf("member        #%" PRId64 "\n", jint(m, "id"));
    printf("name          %s\n", txview_clean(text, sizeof(text), jstr(m, "name")));
    printf("sector        %s\n", txview_clean(text, sizeof(text), jstr(m, "sector")));
    printf("public key    %s\n", jstr(m, "pubkey"));
    printf("status        %s\n", jstr(m, "status"));
    printf("balance       %s %s\n", txview_amount(b1, sizeof(b1), jint(m, "balance"), q->decimals),
           q->unit);
    printf("credit limit  %s %s\n",
           txview_amount(b2, sizeof(b2), jint(m, "credit_limit"), q->decimals), q->unit);
    printf("available     %s %s\n", txview_amount(b3, sizeof(b3), avail.v, q->decimals), q->unit);
    printf("rating        %s\n", rating(text, sizeof(text), m));
    printf("voting power  %" PRId64 "%s\n", jint(m, "voting_power"),
           json_is_true(json_object_get(m, "validator")) ? " (validator)" : "");
    if (jint(m, "joined") == 0)
        printf("joined        at genesis\n");
    else
        printf("joined        at height %" PRId64 "\n", jint(m, "joined"));
    /* the nonce counts sequenced transactions only: those written for
     * co-signers are unsequenced (proto/LEDGER.md §2.2) */
    printf("last nonce    %" PRId64 " (counts its sequenced transactions)\n", jint(m, "nonce"));
    /* proto/LEDGER.md §9.6; a node before it says nothing */
    const json_t *settles = json_object_get(m, "settles_at_clearing");
    if (json_is_object(settles))
        printf("at clearings  pays what it still owes from its credit (since block %" PRId64
               "; kula clearing settle off stops it)\n", jint(settles, "since"));
    else if (settles != NULL)
        printf("at clearings  leaves what it still owes owed (kula clearing settle on pays it "
               "from credit)\n");
}

static const char balance_usage[] =
    "Usage: kula balance [MEMBER | --key NAME]\n"
    "A member's balance, credit limit and what it may still pay (balance +\n"
    "credit limit).  MEMBER is a member id, a name or a public key (hex); with\n"
    "--key, the member whose public key is the wallet key NAME's (no passphrase\n"
    "needed).\n";

static void show_balance(query *q, const args *a, const json_t *b)
{
    (void)a;
    char name[200], b1[64], b2[64], b3[64];
    printf("member        #%" PRId64 " %s\n", jint(b, "member"),
           txview_clean(name, sizeof(name), jstr(b, "name")));
    printf("balance       %s %s\n", txview_amount(b1, sizeof(b1), jint(b, "balance"), q->decimals),
           q->unit);
    printf("credit limit  %s %s\n",
           txview_amount(b2, sizeof(b2), jint(b, "credit_limit"), q->decimals), q->unit);
    printf("available     %s %s\n",
           txview_amount(b3, sizeof(b3), jint(b, "available"), q->decimals), q->unit);
}

/* ---- kula history ---- */

static const char history_usage[] =
    "Usage: kula history [MEMBER | --key NAME] [--limit N] [--before HEIGHT:INDEX]\n"
    "A member's transactions, newest first: height:index, time, kind,\n"
    "counterparty, the amount of credit that moved for the member (+ received,\n"
    "- paid; empty when none moved or the transaction does not say), details\n"
    "and memo.  Times are in your time zone ($TZ, else the system's) with their\n"
    "offset from UTC (2026-12-05 09:14 +01:00); with --json, time_ms (UTC).\n"
    "A clearing that paid what a member still owed from its credit (kula\n"
    "clearing settle on) shows each payment, in both members' history, at the\n"
    "clearing's block after its transactions: kind clearing-settlement, no\n"
    "transaction id, 'clearing N: invoice REF (ID) paid from credit'.\n"
    "\n"
    "  --limit N               at most N transactions (1-1000, default 50)\n"
    "  --before HEIGHT:INDEX   only transactions before that one (the next page)\n";

/* The one-line summary of a governance action. */
static void action_summary(char *buf, size_t cap, query *q, const json_t *act)
{
    const char *kind = jstr(act, "action");
    char m[200], t1[200], t2[200], a1[64];
    if (strcmp(kind, "admit") == 0)
        snprintf(buf, cap, "admit %s (%s), credit limit %s, voting power %" PRId64 ", key %.16s..",
                 txview_clean(t1, sizeof(t1), jstr(act, "name")),
                 txview_clean(t2, sizeof(t2), jstr(act, "sector")),
                 txview_amount(a1, sizeof(a1), jint(act, "credit_limit"), q->decimals),
                 jint(act, "voting_power"), jstr(act, "pubkey"));
    else if (strcmp(kind, "remove") == 0)
        snprintf(buf, cap, "remove %s", who(m, sizeof(m), q, jint(act, "member")));
    else if (strcmp(kind, "credit-limit") == 0)
        snprintf(buf, cap, "set the credit limit of %s to %s",
                 who(m, sizeof(m), q, jint(act, "member")),
                 txview_amount(a1, sizeof(a1), jint(act, "credit_limit"), q->decimals));
    else if (strcmp(kind, "param") == 0 && txview_param_is_amount(jstr(act, "name")))
        snprintf(buf, cap, "set %s to %s", jstr(act, "name"),
                 txview_amount(a1, sizeof(a1), jint(act, "value"), q->decimals));
    else if (strcmp(kind, "param") == 0)
        snprintf(buf, cap, "set %s to %" PRId64, jstr(act, "name"), jint(act, "value"));
    else if (strcmp(kind, "rotate-key") == 0)
        snprintf(buf, cap, "rotate the key of %s to %.16s..",
                 who(m, sizeof(m), q, jint(act, "member")), jstr(act, "pubkey"));
    else if (strcmp(kind, "admit-observer") == 0)
        snprintf(buf, cap, "admit the observer %s, key %.16s..", jstr(act, "name"),
                 jstr(act, "pubkey"));
    else if (strcmp(kind, "remove-observer") == 0)
        snprintf(buf, cap, "remove the observer with key %.16s..", jstr(act, "pubkey"));
    else
        snprintf(buf, cap, "%s", kind);
}

/* What a transaction meant for member `me`: the counterparty, the credit that
 * moved for me (has_amount false when none did or the tx does not say), and
 * details. */
typedef struct effect {
    char party[240];
    bool has_amount;
    int64_t amount;
    char detail[400];
} effect;

/* "2026-12-31" (UTC) for a due date in ms, or "none" for 0. */
static const char *due_words(char *buf, size_t cap, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (ms <= 0 || gmtime_r(&t, &tm) == NULL || strftime(buf, cap, "%Y-%m-%d", &tm) == 0)
        snprintf(buf, cap, "none");
    return buf;
}

/* An invoice's transaction for member me (proto/LEDGER.md §8): the other
 * party, the credit a payment moved, and what happened to which invoice. */
static void invoice_effect(effect *e, query *q, const json_t *tx, int64_t me)
{
    const char *kind = jstr(tx, "kind");
    int64_t from = jint(tx, "from");
    bool mine = from == me;
    char a1[64], t1[300], t2[300], d[40];
    if (strcmp(kind, "invoice") == 0) {
        who(e->party, sizeof(e->party), q, mine ? jint(tx, "debtor") : from);
        snprintf(e->detail, sizeof(e->detail), "invoice %s (%.12s..) %s of %s, due %s",
                 txview_clean(t1, sizeof(t1), jstr(tx, "reference")), jstr(tx, "id"),
                 mine ? "issued" : "received",
                 txview_amount(a1, sizeof(a1), jint(tx, "amount"), q->decimals),
                 due_words(d, sizeof(d), jint(tx, "due")));
        return;
    }
    /* the invoice names both parties and its reference */
    json_t *v = NULL;
    if (rpc_call(q->c, "invoice", json_pack("{s:s}", "id", jstr(tx, "invoice")), &v, NULL,
                 true) != CLI_OK)
        v = NULL;
    int64_t other = jint(v, "issuer") == from ? jint(v, "debtor") : jint(v, "issuer");
    if (v != NULL)
        who(e->party, sizeof(e->party), q, mine ? other : from);
    const char *what = strcmp(kind, "invoice-accept") == 0    ? "accepted"
                       : strcmp(kind, "invoice-dispute") == 0 ? "disputed: "
                       : strcmp(kind, "invoice-cancel") == 0  ? "cancelled"
                                                              : "payment";
    if (strcmp(kind, "invoice-pay") == 0) {
        e->has_amount = true;
        e->amount = mine ? -jint(tx, "amount") : jint(tx, "amount");
    }
    snprintf(e->detail, sizeof(e->detail), "invoice %s (%.12s..) %s%s",
             txview_clean(t1, sizeof(t1), jstr(v, "reference")), jstr(tx, "invoice"), what,
             txview_clean(t2, sizeof(t2), jstr(tx, "reason")));
    json_decref(v);
}

static void tx_effect(effect *e, query *q, const json_t *tx, int64_t me)
{
    const char *kind = jstr(tx, "kind");
    int64_t from = jint(tx, "from");
    bool mine = from == me;
    char a1[64], a2[64], t1[300], t2[300], t3[300];
    memset(e, 0, sizeof(*e));
    if (strcmp(kind, "transfer") == 0) {
        who(e->party, sizeof(e->party), q, mine ? jint(tx, "to") : from);
        e->has_amount = true;
        e->amount = mine ? -jint(tx, "amount") : jint(tx, "amount");
    } else if (strcmp(kind, "exchange") == 0) {
        /* proto/LEDGER.md §4.2: the side that delivered more is paid the
         * difference by the other. */
        kula_amount d;
        who(e->party, sizeof(e->party), q, mine ? jint(tx, "counterparty") : from);
        if (kula_amount_sub(&d, kula_amount_of(jint(tx, "gives_value")),
                            kula_amount_of(jint(tx, "receives_value"))) &&
            (mine || kula_amount_neg(&d, d))) {
            e->has_amount = d.v != 0;
            e->amount = d.v;
        }
        snprintf(e->detail, sizeof(e->detail), "%s %s (%s) for %s (%s)",
                 mine ? "gave" : "received", txview_clean(t1, sizeof(t1), jstr(tx, "gives")),
                 txview_amount(a1, sizeof(a1), jint(tx, "gives_value"), q->decimals),
                 txview_clean(t2, sizeof(t2), jstr(tx, "receives")),
                 txview_amount(a2, sizeof(a2), jint(tx, "receives_value"), q->decimals));
    } else if (strcmp(kind, "referral") == 0) {
        who(e->party, sizeof(e->party), q, mine ? jint(tx, "receiver") : from);
        if (json_is_string(json_object_get(tx, "agreement")))
            snprintf(e->detail, sizeof(e->detail), "referral %.12s.. (lead %.12s..), fee by %s",
                     jstr(tx, "id"), jstr(tx, "lead"),
                     agreement_name(t1, sizeof(t1), q, jstr(tx, "agreement")));
        else
            snprintf(e->detail, sizeof(e->detail), "referral %.12s.. (lead %.12s..), fee %s",
                     jstr(tx, "id"), jstr(tx, "lead"),
                     txview_amount(a1, sizeof(a1), jint(tx, "fee"), q->decimals));
    } else if (strcmp(kind, "conversion") == 0) {
        /* The receiver (from) pays the referrer: find the referral. */
        json_t *r = NULL;
        const json_t *rtx = NULL;
        if (rpc_call(q->c, "tx", json_pack("{s:s}", "id", jstr(tx, "referral")), &r, NULL,
                     true) == CLI_OK)
            rtx = json_object_get(r, "tx");
        if (json_is_object(rtx)) {
            int64_t referrer = jint(rtx, "from");
            who(e->party, sizeof(e->party), q, mine ? referrer : from);
            if (!json_is_string(json_object_get(rtx, "agreement"))) {
                e->has_amount = true;
                e->amount = mine ? -jint(rtx, "fee") : jint(rtx, "fee");
            }
        }
        json_decref(r);
        snprintf(e->detail, sizeof(e->detail), "referral %.12s.. converted, sale %s",
                 jstr(tx, "referral"),
                 txview_amount(a1, sizeof(a1), jint(tx, "value"), q->decimals));
    } else if (strcmp(kind, "agreement-open") == 0) {
        snprintf(e->party, sizeof(e->party), "agreement %s",
                 txview_clean(t1, sizeof(t1), jstr(tx, "label")));
        snprintf(e->detail, sizeof(e->detail), "opened \"%s\"",
                 txview_clean(t2, sizeof(t2), jstr(tx, "title")));
    } else if (strcmp(kind, "agreement-amend") == 0) {
        agreement_name(e->party, sizeof(e->party), q, jstr(tx, "agreement"));
        snprintf(e->detail, sizeof(e->detail), "amended: \"%s\"",
                 txview_clean(t1, sizeof(t1), jstr(tx, "title")));
    } else if (strcmp(kind, "contribute") == 0) {
        agreement_name(e->party, sizeof(e->party), q, jstr(tx, "agreement"));
        snprintf(e->detail, sizeof(e->detail), "contribution of %s by %s, acknowledged by %s: %s",
                 txview_amount(a1, sizeof(a1), jint(tx, "value"), q->decimals),
                 who(t1, sizeof(t1), q, from), who(t2, sizeof(t2), q, jint(tx, "acknowledger")),
                 txview_clean(t3, sizeof(t3), jstr(tx, "description")));
    } else if (strcmp(kind, "benefit") == 0) {
        agreement_name(e->party, sizeof(e->party), q, jstr(tx, "agreement"));
        if (mine) {
            e->has_amount = true;
            e->amount = -jint(tx, "amount");
        }
        snprintf(e->detail, sizeof(e->detail), "%s paid %s into the pool%s%s",
                 who(t1, sizeof(t1), q, from),
                 txview_amount(a1, sizeof(a1), jint(tx, "amount"), q->decimals),
                 *jstr(tx, "description") ? ": " : "",
                 txview_clean(t2, sizeof(t2), jstr(tx, "description")));
    } else if (strcmp(kind, "settle") == 0) {
        agreement_name(e->party, sizeof(e->party), q, jstr(tx, "agreement"));
        snprintf(e->detail, sizeof(e->detail), "pool settled by %s (see kula agreement show)",
                 who(t1, sizeof(t1), q, from));
    } else if (strcmp(kind, "agreement-close") == 0) {
        agreement_name(e->party, sizeof(e->party), q, jstr(tx, "agreement"));
        snprintf(e->detail, sizeof(e->detail), "closed");
    } else if (strcmp(kind, "feedback") == 0) {
        who(e->party, sizeof(e->party), q, mine ? jint(tx, "about") : from);
        snprintf(e->detail, sizeof(e->detail), "%s %" PRId64 "/5%s%s",
                 mine ? "rating given" : "rating received", jint(tx, "rating"),
                 *jstr(tx, "comment") ? ": " : "",
                 txview_clean(t1, sizeof(t1), jstr(tx, "comment")));
    } else if (strcmp(kind, "propose") == 0) {
        action_summary(t1, sizeof(t1), q, tx);
        snprintf(e->detail, sizeof(e->detail), "proposal %.12s..: %s", jstr(tx, "id"), t1);
    } else if (strcmp(kind, "vote") == 0) {
        snprintf(e->detail, sizeof(e->detail), "voted %s on proposal %.12s..",
                 json_is_true(json_object_get(tx, "approve")) ? "yes" : "no",
                 jstr(tx, "proposal"));
    } else if (strncmp(kind, "invoice", 7) == 0) {
        invoice_effect(e, q, tx, me);
    } else if (strcmp(kind, "evidence") == 0) {
        int64_t v = jint(tx, "validator");
        who(e->party, sizeof(e->party), q, v == me ? from : v);
        snprintf(e->detail, sizeof(e->detail),
                 "%s: two different %ss at height %" PRId64 ", round %" PRId64,
                 v == me ? "evidence of equivocation against me" : "evidence of equivocation",
                 jstr(tx, "vote_type"), jint(tx, "vote_height"), jint(tx, "vote_round"));
    }
}

/* HEIGHT:INDEX */
static bool parse_before(const char *s, uint64_t *height, uint64_t *index)
{
    char *end;
    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    unsigned long long h = strtoull(s, &end, 10);
    if (errno != 0 || *end != ':' || end[1] < '0' || end[1] > '9')
        return false;
    unsigned long long i = strtoull(end + 1, &end, 10);
    if (errno != 0 || *end != '\0' || i > UINT32_MAX || h > INT64_MAX)
        return false;
    *height = h;
    *index = i;
    return true;
}

static void show_history(query *q, const args *a, const json_t *h)
{
    int64_t me = jint(h, "member");
    const json_t *entries = json_object_get(h, "entries");
    char whom[240];
    printf("history of %s, newest first; amounts in %s\n", who(whom, sizeof(whom), q, me),
           q->unit);
    if (json_array_size(entries) == 0)
        printf("no transactions%s\n", a->before != NULL ? " before that one" : "");
    else
        printf("%-12s %-23s %-16s %-24s %12s  %s\n", "HEIGHT:INDEX", "TIME", "KIND",
               "COUNTERPARTY", "AMOUNT", "DETAILS / MEMO");
    size_t i;
    json_t *en;
    json_array_foreach(entries, i, en) {
        const json_t *tx = json_object_get(en, "tx");
        char pos[48], t[64], a1[64], memo[600];
        effect e;
        snprintf(pos, sizeof(pos), "%" PRId64 ":%" PRId64, jint(en, "height"), jint(en, "index"));
        if (strcmp(jstr(en, "kind"), "clearing-settlement") == 0) {
            /* LEDGER §9.6: paid at the clearing from the debtor's credit */
            bool paid = jint(en, "from") == me;
            printf("%-12s %-23s %-16s %-24s %12s  %s\n", pos,
                   cli_local_time(t, sizeof(t), jint(en, "time_ms"), false), jstr(en, "kind"),
                   who(e.party, sizeof(e.party), q, jint(en, paid ? "to" : "from")),
                   signed_amt(a1, sizeof(a1), paid ? -jint(en, "amount") : jint(en, "amount"),
                              q->decimals),
                   txview_clean(memo, sizeof(memo), jstr(en, "description")));
            continue;
        }
        if (!json_is_object(tx)) {
            printf("%-12s %-23s %s (the node could not read it)\n", pos,
                   cli_local_time(t, sizeof(t), jint(en, "time_ms"), false), jstr(en, "id"));
            continue;
        }
        tx_effect(&e, q, tx, me);
        txview_clean(memo, sizeof(memo), jstr(tx, "memo"));
        printf("%-12s %-23s %-16s %-24s %12s  %s%s%s\n", pos,
               cli_local_time(t, sizeof(t), jint(en, "time_ms"), false), jstr(tx, "kind"), e.party,
               e.has_amount ? signed_amt(a1, sizeof(a1), e.amount, q->decimals) : "", e.detail,
               e.detail[0] && memo[0] ? " | " : "", memo);
    }
    /* the node says where the next page starts (a page may end before
     * --limit when it reaches the node's limits): never count entries */
    const json_t *next = json_object_get(h, "next");
    if (json_is_object(next))
        printf("(more: --before %" PRId64 ":%" PRId64 ")\n", jint(next, "before_height"),
               jint(next, "before_index"));
}

/* ---- kula proposals, proposal ---- */

static const char proposals_usage[] =
    "Usage: kula proposals\n"
    "The network's governance proposals: id, status, votes, expiry and action.\n";

static const char proposal_usage[] =
    "Usage: kula proposal ID\n"
    "One proposal: its action, proposer, votes, expiry and decision.\n";

static void show_proposals(query *q, const args *a, const json_t *list)
{
    (void)a;
    if (json_array_size(list) == 0)
        printf("no proposals\n");
    else
        printf("%-64s  %-8s %4s %4s %8s  %s\n", "ID", "STATUS", "YES", "NO", "EXPIRES", "ACTION");
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p) {
        char act[600];
        action_summary(act, sizeof(act), q, json_object_get(p, "action"));
        printf("%-64s  %-8s %4" PRId64 " %4" PRId64 " %8" PRId64 "  %s\n", jstr(p, "id"),
               jstr(p, "status"), jint(p, "yes"), jint(p, "no"), jint(p, "expires"), act);
    }
}

static void show_proposal(query *q, const args *a, const json_t *p)
{
    (void)a;
    char act[600], m[240];
    const char *status = jstr(p, "status");
    action_summary(act, sizeof(act), q, json_object_get(p, "action"));
    printf("proposal   %s\n", jstr(p, "id"));
    printf("action     %s\n", act);
    printf("proposer   %s\n", who(m, sizeof(m), q, jint(p, "proposer")));
    printf("created    at height %" PRId64 "\n", jint(p, "created"));
    printf("expires    after height %" PRId64 "\n", jint(p, "expires"));
    printf("votes      %" PRId64 " yes, %" PRId64 " no\n", jint(p, "yes"), jint(p, "no"));
    json_t *votes = json_object_get(p, "votes");
    for (size_t i = 0; i < json_array_size(votes); i++) {
        json_t *v = json_array_get(votes, i);
        printf("           %-3s %s\n", json_is_true(json_object_get(v, "approve")) ? "yes" : "no",
               who(m, sizeof(m), q, jint(v, "member")));
    }
    if (strcmp(status, "open") == 0)
        printf("status     open\n");
    else
        printf("status     %s at height %" PRId64 "\n", status, jint(p, "decided"));
    if (json_object_get(p, "failure") != NULL)
        printf("failure    %s\n", jstr(p, "failure"));
}

/* ---- kula tx, block, peers ---- */

static const char tx_usage[] =
    "Usage: kula tx ID\n"
    "Where a transaction is: pending (waiting for a block), committed at a\n"
    "height, rejected (with the reason) or unknown to this node; committed\n"
    "transactions are shown whole.  ID is the transaction's id or its first 4 or\n"
    "more hex digits when no other transaction's id starts with them (kula\n"
    "history shows ids).  The exit status is 0 whenever the node answered,\n"
    "whatever the status; 1 when no transaction, or more than one, starts with\n"
    "a prefix (they are listed).\n";

static void show_tx(query *q, const args *a, const json_t *t)
{
    (void)a;
    const char *status = jstr(t, "status");
    printf("transaction  %s\n", jstr(t, "id"));
    if (strcmp(status, "committed") == 0) {
        printf("status       committed at height %" PRId64 " (index %" PRId64 ")\n",
               jint(t, "height"), jint(t, "index"));
        if (json_is_object(json_object_get(t, "tx"))) {
            txview v = view_of(q);
            txview_words(stdout, &v, json_object_get(t, "tx"), NULL, "  ");
            txview_fields(stdout, &v, json_object_get(t, "tx"), "  ");
        }
    } else if (strcmp(status, "pending") == 0) {
        const char *waiting = jstr(t, "waiting_for");
        printf("status       pending, waiting for %s (since height %" PRId64 ")\n",
               *waiting ? waiting : "a block", jint(t, "since_height"));
    } else if (strcmp(status, "rejected") == 0) {
        printf("status       rejected: %s (%s)\n", jstr(t, "reason"), jstr(t, "error"));
    } else if (strcmp(status, "expired") == 0) {
        printf("status       expired: %s; sign it again to send it\n", jstr(t, "reason"));
    } else {
        printf("status       unknown to this node (never received, or rejected long ago)\n");
    }
}

static const char block_usage[] =
    "Usage: kula block [HEIGHT]\n"
    "A block's header and transactions (default: the last block).  Its time is\n"
    "in your time zone ($TZ) with its offset from UTC; with --json, time_ms (UTC).\n";

static void show_block(query *q, const args *a, const json_t *b)
{
    (void)a;
    char t[64], m[240];
    const json_t *txs = json_object_get(b, "txs");
    printf("block        %" PRId64 "\n", jint(b, "height"));
    printf("hash         %s\n", jstr(b, "hash"));
    printf("time         %s\n", cli_local_time(t, sizeof(t), jint(b, "time_ms"), true));
    printf("previous     %s\n", jstr(b, "prev_hash"));
    printf("txs root     %s\n", jstr(b, "txs_root"));
    printf("state root   %s\n", jstr(b, "state_root"));
    printf("last commit  %s\n", jstr(b, "last_commit_hash"));
    printf("proposer     %s\n", who(m, sizeof(m), q, jint(b, "proposer")));
    const json_t *lc = json_object_get(b, "last_commit");
    if (lc != NULL) {
        /* the validators whose precommits finalised the parent */
        printf("signed by    ");
        size_t k;
        json_t *v;
        json_array_foreach(json_object_get(lc, "signers"), k, v)
            printf("%s%s", k ? ", " : "", who(m, sizeof(m), q, json_integer_value(v)));
        printf("  (block %" PRId64 ", round %" PRId64 ")\n", jint(lc, "height"),
               jint(lc, "round"));
    }
    printf("size         %" PRId64 " bytes\n", jint(b, "size"));
    printf("transactions %zu\n", json_array_size(txs));
    size_t i;
    json_t *tx;
    json_array_foreach(txs, i, tx) {
        char memo[600];
        printf("  %4zu  %s  %-16s from %s%s%s\n", i, jstr(tx, "id"), jstr(tx, "kind"),
               who(m, sizeof(m), q, jint(tx, "from")), *jstr(tx, "memo") ? "  " : "",
               txview_clean(memo, sizeof(memo), jstr(tx, "memo")));
    }
}

static const char peers_usage[] =
    "Usage: kula peers\n"
    "The node's peer connections: id, direction (outbound: this node dialed),\n"
    "address, identity key (first 16 hex digits; --json for all), the height\n"
    "the peer last announced, its misbehaviour score (disconnected and banned\n"
    "at 100) and whether its handshake is done.\n";

static void show_peers(query *q, const args *a, const json_t *list)
{
    (void)q;
    (void)a;
    if (json_array_size(list) == 0) {
        printf("no peers connected\n");
        return;
    }
    printf("%5s  %-9s %-26s %-16s %10s %6s %s\n", "ID", "DIRECTION", "ADDRESS", "KEY", "HEIGHT",
           "SCORE", "STATE");
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p) {
        char addr[80], key[80];
        txview_clean(addr, sizeof(addr), jstr(p, "addr"));
        txview_clean(key, sizeof(key),
                     json_is_string(json_object_get(p, "key")) ? jstr(p, "key") : "-");
        key[16] = '\0';
        bool up = json_is_true(json_object_get(p, "established"));
        printf("%5" PRId64 "  %-9s %-26s %-16s %10" PRId64 " %6" PRId64 " %s\n", jint(p, "id"),
               jstr(p, "direction"), addr, key, jint(p, "height"), jint(p, "score"),
               up ? "connected" : "handshake");
    }
    printf("%zu peers\n", json_array_size(list));
}

static const char observers_usage[] =
    "Usage: kula observers [--json]\n"
    "The observers the members admitted by vote (kula propose admit-observer):\n"
    "nodes that follow the ledger read-only, such as an auditor's.  Each with its\n"
    "name, identity key (--json for all 64 hex digits) and the block that\n"
    "admitted it.  Observers a node admits in its kulad.conf are not listed.\n";

static void show_observers(query *q, const args *a, const json_t *list)
{
    (void)q;
    (void)a;
    if (json_array_size(list) == 0) {
        printf("no observers admitted\n");
        return;
    }
    printf("%-24s %-16s %10s\n", "NAME", "KEY", "ADMITTED");
    size_t i;
    json_t *o;
    json_array_foreach(list, i, o) {
        char name[280], key[80];
        txview_clean(name, sizeof(name), jstr(o, "name"));
        txview_clean(key, sizeof(key), jstr(o, "pubkey"));
        key[16] = '\0';
        printf("%-24s %-16s %10" PRId64 "\n", name, key, jint(o, "admitted"));
    }
    printf("%zu observers\n", json_array_size(list));
}

/* ---- kula agreement list, show ---- */

static const char agreement_list_usage[] =
    "Usage: kula agreement list [--member MEMBER]\n"
    "The agreements of the network, or those MEMBER is a party to: id, label,\n"
    "status, parties, rule, pool and title.\n";

static const char agreement_show_usage[] =
    "Usage: kula agreement show ID\n"
    "One agreement: title, label, rule, term, pool and status, and per party\n"
    "what it contributed and received, its share of the current pool as the\n"
    "node computes it, and its share of all contributions and of all benefits\n"
    "paid out, in percent.\n";

static void rule_text(char *buf, size_t cap, const json_t *rule)
{
    const char *kind = jstr(rule, "kind");
    const json_t *list = json_object_get(rule, "weights");
    if (list == NULL)
        list = json_object_get(rule, "coalition_values");
    size_t o = (size_t)snprintf(buf, cap, "%s", kind);
    if (list == NULL)
        return;
    o += (size_t)snprintf(buf + o, o < cap ? cap - o : 0, "%s",
                          json_object_get(rule, "weights") != NULL ? " (weights " : " (values ");
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) {
        if (i == 16) {
            o += (size_t)snprintf(buf + o, o < cap ? cap - o : 0, ", .. %zu in all",
                                  json_array_size(list));
            break;
        }
        o += (size_t)snprintf(buf + o, o < cap ? cap - o : 0, "%s%" PRId64, i ? "," : "",
                              (int64_t)json_integer_value(v));
    }
    if (o < cap)
        snprintf(buf + o, cap - o, ")");
}

static void show_agreements(query *q, const args *a, const json_t *list)
{
    (void)a;
    if (json_array_size(list) == 0)
        printf("no agreements\n");
    else
        printf("%-64s  %-16s %-6s %7s %-12s %12s  %s\n", "ID", "LABEL", "STATUS", "PARTIES",
               "RULE", "POOL", "TITLE");
    size_t i;
    json_t *ag;
    json_array_foreach(list, i, ag) {
        char label[200], title[300], pool[64];
        printf("%-64s  %-16s %-6s %7zu %-12s %12s  %s\n", jstr(ag, "id"),
               txview_clean(label, sizeof(label), jstr(ag, "label")), jstr(ag, "status"),
               json_array_size(json_object_get(ag, "parties")),
               jstr(json_object_get(ag, "rule"), "kind"),
               txview_amount(pool, sizeof(pool), jint(ag, "pool"), q->decimals),
               txview_clean(title, sizeof(title), jstr(ag, "title")));
    }
    if (json_array_size(list) > 0)
        printf("amounts in %s\n", q->unit);
}

/* The parties' table of an agreement: contributed, received, share of the
 * pool, each in percent of the total. */
static void show_parties(query *q, const json_t *ag)
{
    const json_t *parties = json_object_get(ag, "parties");
    int64_t pool = jint(ag, "pool");
    char a1[64], a2[64], a3[64], p1[32], p2[32];
    /* Totals, for each party's share in percent.  They are display only:
     * overflow (impossible with amounts the ledger accepted) saturates. */
    kula_amount contributed = kula_amount_of(0), received = kula_amount_of(0);
    size_t i;
    json_t *p;
    json_array_foreach(parties, i, p) {
        if (!kula_amount_add(&contributed, contributed, kula_amount_of(jint(p, "contributed"))))
            contributed = kula_amount_of(INT64_MAX);
        if (!kula_amount_add(&received, received, kula_amount_of(jint(p, "received"))))
            received = kula_amount_of(INT64_MAX);
    }
    printf("\n%-28s %14s %9s %14s %9s %14s\n", "PARTY", "CONTRIBUTED", "% CONTR", "RECEIVED",
           "% RECV", "SHARE OF POOL");
    bool unsplittable = false;
    json_array_foreach(parties, i, p) {
        char party[240];
        const json_t *share = json_object_get(p, "share_of_pool");
        if (pool > 0 && share == NULL)
            unsplittable = true;
        printf("%-28s %14s %9s %14s %9s %14s\n", who(party, sizeof(party), q, jint(p, "member")),
               txview_amount(a1, sizeof(a1), jint(p, "contributed"), q->decimals),
               percent(p1, sizeof(p1), jint(p, "contributed"), contributed.v),
               txview_amount(a2, sizeof(a2), jint(p, "received"), q->decimals),
               percent(p2, sizeof(p2), jint(p, "received"), received.v),
               share != NULL
                   ? txview_amount(a3, sizeof(a3), (int64_t)json_integer_value(share), q->decimals)
               : pool > 0 ? "-"
                          : txview_amount(a3, sizeof(a3), 0, q->decimals));
    }
    printf("%-28s %14s %9s %14s %9s %14s\n", "total",
           txview_amount(a1, sizeof(a1), contributed.v, q->decimals),
           contributed.v > 0 ? "100.00%" : "-",
           txview_amount(a2, sizeof(a2), received.v, q->decimals), received.v > 0 ? "100.00%" : "-",
           txview_amount(a3, sizeof(a3), pool, q->decimals));
    printf("amounts in %s\n", q->unit);
    if (unsplittable)
        printf("note: the rule cannot split the pool now (%s); settling would be refused\n",
               strcmp(jstr(json_object_get(ag, "rule"), "kind"), "pro-rata") == 0
                   ? "pro rata with no contribution recorded"
                   : "see the rule");
}

static void show_agreement(query *q, const args *a, const json_t *ag)
{
    (void)a;
    char text[400], a1[64], a2[64], p1[32];
    int64_t pool = jint(ag, "pool");
    printf("agreement    %s\n", jstr(ag, "id"));
    printf("title        %s\n", txview_clean(text, sizeof(text), jstr(ag, "title")));
    printf("label        %s\n", txview_clean(text, sizeof(text), jstr(ag, "label")));
    printf("status       %s (opened at height %" PRId64 ")\n", jstr(ag, "status"),
           jint(ag, "opened"));
    rule_text(text, sizeof(text), json_object_get(ag, "rule"));
    printf("rule         %s\n", text);
    if (jint(ag, "term_end") == 0)
        printf("term         open-ended\n");
    else
        printf("term         until height %" PRId64 "\n", jint(ag, "term_end"));
    if (jint(ag, "referral_fee_bps") == 0)
        printf("referrals    no fee\n");
    else
        printf("referrals    fee %s of the sale (%" PRId64 " bps)\n",
               percent(p1, sizeof(p1), jint(ag, "referral_fee_bps"), 10000),
               jint(ag, "referral_fee_bps"));
    printf("pool         %s %s\n", txview_amount(a1, sizeof(a1), pool, q->decimals), q->unit);
    printf("benefits     %s %s paid in, %" PRId64 " settlement%s\n",
           txview_amount(a2, sizeof(a2), jint(ag, "benefits"), q->decimals), q->unit,
           jint(ag, "settlements"), jint(ag, "settlements") == 1 ? "" : "s");
    show_parties(q, ag);
}

/* ---- the commands: command lines into params, and a table ---- */

typedef struct query_cmd query_cmd;

/* One query command: how its command line becomes the params of one method
 * of the node, and how the node's answer is shown (--json prints it as the
 * node gave it, every page of a list joined). */
struct query_cmd {
    const char *name;     /* as typed after kula, and in messages */
    const char *method;   /* the node's JSON-RPC method */
    const char *options;  /* besides --json, as parse_args takes them */
    int maxpos;           /* positional arguments, at most */
    /* Checks the arguments.  Out: *out, the params (NULL: none).
     * Returns: 0 or an exit code (printed).  NULL: the command takes none. */
    int (*params)(const query_cmd *cmd, cli *c, const args *a, json_t **out);
    const char *what;     /* for id_arg: what the ID names */
    page_kind paging;     /* how the answer's list continues */
    const char *list;     /* PAGE_NEXT: the field holding the list */
    bool unit;            /* the output shows amounts or names: ask for the unit */
    void (*show)(query *q, const args *a, const json_t *res);
    const char *usage;
};

/* MEMBER or --key NAME, exactly one, as the member parameter. */
static int member_or_key_arg(const query_cmd *cmd, cli *c, const args *a, json_t **out)
{
    if ((a->key != NULL) == (a->npos == 1))
        return cli_fail(CLI_USAGE, "%s: give a MEMBER or --key NAME (see kula %s --help)",
                        cmd->name, cmd->name);
    char hex[2 * KULA_PUBKEY_LEN + 1];
    int rc = a->key != NULL ? key_pubkey_hex(c, a->key, hex) : 0;
    if (rc != 0)
        return rc;
    *out = json_pack("{s:o}", "member",
                     a->key != NULL ? json_string(hex) : cli_member_param(c, a->pos[0]));
    return 0;
}

/* One ID: 64 hex digits or a unique prefix of 4 or more, and for an
 * agreement its label (ids.h). */
static int id_arg(const query_cmd *cmd, cli *c, const args *a, json_t **out)
{
    if (a->npos != 1)
        return cli_fail(CLI_USAGE, "%s: expected one %s ID (64 hex digits or the first 4 or more)",
                        cmd->name, cmd->what);
    kula_hash id;
    char hex[2 * KULA_HASH_LEN + 1];
    const char *kind = strcmp(cmd->what, "transaction") == 0 ? "tx" : cmd->what;
    int rc = ids_resolve(c, cmd->name, kind, a->pos[0], 0, &id);
    if (rc != CLI_OK)
        return rc;
    kula_hex_encode(hex, id.b, KULA_HASH_LEN);
    *out = json_pack("{s:s}", "id", hex);
    return 0;
}

static int member_arg(const query_cmd *cmd, cli *c, const args *a, json_t **out)
{
    (void)cmd;
    (void)c;
    if (a->npos != 1)
        return cli_fail(CLI_USAGE, "member: expected one MEMBER (see kula member --help)");
    *out = json_pack("{s:o}", "member", cli_member_param(c, a->pos[0]));
    return 0;
}

static int history_args(const query_cmd *cmd, cli *c, const args *a, json_t **out)
{
    unsigned long limit = 50;
    uint64_t bh = 0, bi = 0;
    if (a->limit != NULL) {
        char *end;
        errno = 0;
        limit = strtoul(a->limit, &end, 10);
        if (errno != 0 || *end != '\0' || a->limit[0] < '0' || a->limit[0] > '9' || limit < 1 ||
            limit > 1000)
            return cli_fail(CLI_USAGE, "history: --limit must be a number from 1 to 1000");
    }
    if (a->before != NULL && !parse_before(a->before, &bh, &bi))
        return cli_fail(CLI_USAGE, "history: --before must be HEIGHT:INDEX (as in '12:0')");
    int rc = member_or_key_arg(cmd, c, a, out);
    if (rc != 0)
        return rc;
    json_object_set_new(*out, "limit", json_integer((json_int_t)limit));
    if (a->before != NULL) {
        json_object_set_new(*out, "before_height", json_integer((json_int_t)bh));
        json_object_set_new(*out, "before_index", json_integer((json_int_t)bi));
    }
    return 0;
}

/* An optional whole number, from `least` on, as the param `name`; a bad one
 * is refused naming it as `what`. */
static int number_arg(const args *a, const char *name, unsigned long long least,
                      const char *what, json_t **out)
{
    *out = json_object();
    if (a->npos == 0)
        return 0;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(a->pos[0], &end, 10);
    if (errno != 0 || *end != '\0' || a->pos[0][0] < '0' || a->pos[0][0] > '9' || n < least ||
        n > INT64_MAX) {
        json_decref(*out);
        *out = NULL;
        return cli_fail(CLI_USAGE, "%s, not '%s'", what, a->pos[0]);
    }
    json_object_set_new(*out, name, json_integer((json_int_t)n));
    return 0;
}

static int height_arg(const query_cmd *cmd, cli *c, const args *a, json_t **out)
{
    (void)cmd;
    (void)c;
    return number_arg(a, "height", 0, "block: HEIGHT must be a number", out);
}

static int agreements_args(const query_cmd *cmd, cli *c, const args *a, json_t **out)
{
    (void)cmd;
    (void)c;
    *out = json_object();
    if (a->member != NULL)
        json_object_set_new(*out, "member", cli_member_param(c, a->member));
    return 0;
}

/* ---- kula referrals ---- */

static const char referrals_usage[] =
    "Usage: kula referrals [--member MEMBER]\n"
    "The open referrals (not converted yet), or those MEMBER made or received: id\n"
    "prefix (what kula convert --referral takes), referrer, receiver, fee in units\n"
    "and age in blocks.  The receiver confirms a sale with kula convert.\n";

static void show_referrals(query *q, const args *a, const json_t *list)
{
    (void)a;
    json_t *st = NULL;
    int64_t tip = 0;
    if (rpc_call(q->c, "status", NULL, &st, NULL, true) == CLI_OK)
        tip = jint(st, "height");
    json_decref(st);
    if (json_array_size(list) == 0) {
        printf("no open referrals\n");
        return;
    }
    printf("%-12s  %-24s %-24s %14s  %s\n", "ID", "REFERRER", "RECEIVER", "FEE", "AGE");
    size_t i;
    json_t *r;
    json_array_foreach(list, i, r) {
        char w1[240], w2[240], fee[300], age[64];
        if (json_is_string(json_object_get(r, "agreement")))
            agreement_name(fee, sizeof(fee), q, jstr(r, "agreement"));
        else
            txview_amount(fee, sizeof(fee), jint(r, "fee"), q->decimals);
        int64_t h = jint(r, "height");
        if (tip >= h)
            snprintf(age, sizeof(age), "%" PRId64 " blocks (at height %" PRId64 ")", tip - h, h);
        else
            snprintf(age, sizeof(age), "at height %" PRId64, h);
        printf("%-12.12s  %-24s %-24s %14s  %s\n", jstr(r, "id"),
               who(w1, sizeof(w1), q, jint(r, "referrer")),
               who(w2, sizeof(w2), q, jint(r, "receiver")), fee, age);
    }
    printf("fees in %s; by agreement: its referral terms apply\n", q->unit);
}

/* ---- kula invoice list, kula invoice show ---- */

static const char invoice_list_usage[] =
    "Usage: kula invoice list [--open] [MEMBER]\n"
    "The invoices, or those MEMBER issued or owes: id prefix (what kula invoice\n"
    "accept|dispute|cancel and kula pay --invoice take), issuer, debtor, amount and\n"
    "what is still owed in units, due date, status (issued, accepted, disputed,\n"
    "paid, cancelled) and reference.  --open: only those neither paid nor cancelled.\n";

static const char invoice_show_usage[] =
    "Usage: kula invoice show ID\n"
    "One invoice: who billed whom, the amount, what is paid and still owed in\n"
    "units, the due date, its status, a dispute's reason, its document's hash.\n"
    "ID is its id or its first 4 or more hex digits (kula invoice list).\n";

static int invoice_list_args(const query_cmd *cmd, cli *c, const args *a, json_t **out)
{
    (void)cmd;
    *out = json_object();
    if (a->npos == 1)
        json_object_set_new(*out, "member", cli_member_param(c, a->pos[0]));
    if (a->open)
        json_object_set_new(*out, "open", json_true());
    return 0;
}

static void show_invoices(query *q, const args *a, const json_t *list)
{
    if (json_array_size(list) == 0) {
        printf(a->open ? "no open invoices\n" : "no invoices\n");
        return;
    }
    printf("%-12s  %-20s %-20s %14s %14s  %-14s %-9s  %s\n", "ID", "ISSUER", "DEBTOR",
           "AMOUNT", "STILL OWED", "DUE", "STATUS", "REFERENCE");
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) {
        char w1[240], w2[240], a1[64], a2[64], d[40], r[300];
        printf("%-12.12s  %-20s %-20s %14s %14s  %-14s %-9s  %s\n", jstr(v, "id"),
               who(w1, sizeof(w1), q, jint(v, "issuer")),
               who(w2, sizeof(w2), q, jint(v, "debtor")),
               txview_amount(a1, sizeof(a1), jint(v, "amount"), q->decimals),
               txview_amount(a2, sizeof(a2), jint(v, "residual"), q->decimals),
               due_words(d, sizeof(d), jint(v, "due")),
               jstr(v, "status"), txview_clean(r, sizeof(r), jstr(v, "reference")));
    }
    printf("amounts in %s\n", q->unit);
}

static void show_invoice(query *q, const args *a, const json_t *v)
{
    (void)a;
    char w[240], a1[64], d[40], t[600];
    printf("invoice      %s\n", jstr(v, "id"));
    printf("reference    %s\n", txview_clean(t, sizeof(t), jstr(v, "reference")));
    printf("issuer       %s\n", who(w, sizeof(w), q, jint(v, "issuer")));
    printf("debtor       %s\n", who(w, sizeof(w), q, jint(v, "debtor")));
    printf("amount       %s %s\n", txview_amount(a1, sizeof(a1), jint(v, "amount"), q->decimals),
           q->unit);
    printf("paid         %s %s\n", txview_amount(a1, sizeof(a1), jint(v, "paid"), q->decimals),
           q->unit);
    if (jint(v, "set_off") > 0)
        printf("set off      %s %s (by clearing)\n",
               txview_amount(a1, sizeof(a1), jint(v, "set_off"), q->decimals), q->unit);
    printf("still owed   %s %s\n",
           txview_amount(a1, sizeof(a1), jint(v, "residual"), q->decimals), q->unit);
    printf("due          %s\n", due_words(d, sizeof(d), jint(v, "due")));
    printf("status       %s (since height %" PRId64 ", issued at height %" PRId64 ")\n",
           jstr(v, "status"), jint(v, "changed"), jint(v, "issued"));
    if (json_is_string(json_object_get(v, "reason")))
        printf("reason       %s\n", txview_clean(t, sizeof(t), jstr(v, "reason")));
    if (json_is_string(json_object_get(v, "document")))
        printf("document     BLAKE2b-256 %s\n", jstr(v, "document"));
    const char *st = jstr(v, "status");
    if (strcmp(st, "issued") == 0)
        printf("the debtor accepts or disputes it (kula invoice accept|dispute), or pays it "
               "(kula pay --invoice)\n");
    else if (strcmp(st, "accepted") == 0)
        printf("the debtor pays it: kula pay --invoice %.12s [AMOUNT]\n", jstr(v, "id"));
    else if (strcmp(st, "disputed") == 0)
        printf("the debtor may still accept it, or the issuer cancel it\n");
}

/* ---- kula clearing show ---- */

static const char clearing_show_usage[] =
    "Usage: kula clearing show [N] [--json]\n"
    "Clearing number N of the ledger (default: the last one): the block that ran\n"
    "it, the total debt it took, what it cleared and what remains, in units;\n"
    "each member's debts owed to it and owed by it, before and after; and each\n"
    "obligation (invoice) with what was set off and what was paid from credit\n"
    "for members who asked for it (kula clearing settle).  A clearing runs when a passed\n"
    "proposal asks for one (kula clearing propose) and every\n"
    "clearing_interval_blocks blocks when that parameter is not 0.\n";

static int clearing_arg(const query_cmd *cmd, cli *c, const args *a, json_t **out)
{
    (void)cmd;
    (void)c;
    return number_arg(a, "number", 1, "clearing show: N must be a clearing's number (1, 2, ...)",
                      out);
}

/* A sum of minor units as the node gives it: an integer, or digits past 2^63. */
static const char *sum_words(char *buf, size_t n, const query *q, const json_t *v)
{
    if (json_is_integer(v))
        return txview_amount(buf, n, json_integer_value(v), q->decimals);
    snprintf(buf, n, "%s (minor units)", json_is_string(v) ? json_string_value(v) : "?");
    return buf;
}

static void show_clearing(query *q, const args *a, const json_t *v)
{
    (void)a;
    char a1[64], a2[64], a3[64], a4[64], w1[240], w2[240];
    printf("clearing     %" PRId64 " (block %" PRId64 ")\n", jint(v, "number"),
           jint(v, "height"));
    printf("total debt   %s %s in %" PRId64 " obligations\n",
           sum_words(a1, sizeof(a1), q, json_object_get(v, "total_debt")), q->unit,
           jint(v, "obligations_count"));
    printf("cleared      %s %s\n", sum_words(a1, sizeof(a1), q, json_object_get(v, "cleared")),
           q->unit);
    printf("remaining    %s %s\n", sum_words(a1, sizeof(a1), q, json_object_get(v, "remaining")),
           q->unit);
    if (json_object_get(v, "settled") != NULL) {
        printf("paid         %s %s from the credit of members who settle at clearings (%" PRId64
               " payments)\n",
               sum_words(a1, sizeof(a1), q, json_object_get(v, "settled")), q->unit,
               jint(v, "payments_count"));
        printf("still owed   %s %s\n",
               sum_words(a1, sizeof(a1), q, json_object_get(v, "still_owed")), q->unit);
    }
    size_t i;
    json_t *x;
    printf("\n%-20s %14s %14s %14s %14s\n", "MEMBER", "OWED BEFORE", "OWES BEFORE",
           "OWED AFTER", "OWES AFTER");
    json_array_foreach(json_object_get(v, "members"), i, x) {
        printf("%-20s %14s %14s %14s %14s\n", who(w1, sizeof(w1), q, jint(x, "member")),
               sum_words(a1, sizeof(a1), q, json_object_get(x, "owed")),
               sum_words(a2, sizeof(a2), q, json_object_get(x, "owing")),
               sum_words(a3, sizeof(a3), q, json_object_get(x, "owed_after")),
               sum_words(a4, sizeof(a4), q, json_object_get(x, "owing_after")));
    }
    printf("\n%-12s  %-20s %-20s %14s %14s %14s %14s\n", "INVOICE", "DEBTOR", "CREDITOR",
           "OWED", "SET OFF", "PAID", "STILL OWED");
    json_array_foreach(json_object_get(v, "obligations"), i, x) {
        printf("%-12.12s  %-20s %-20s %14s %14s %14s %14s\n", jstr(x, "id"),
               who(w1, sizeof(w1), q, jint(x, "debtor")),
               who(w2, sizeof(w2), q, jint(x, "creditor")),
               txview_amount(a1, sizeof(a1), jint(x, "before"), q->decimals),
               txview_amount(a2, sizeof(a2), jint(x, "setoff"), q->decimals),
               txview_amount(a4, sizeof(a4), jint(x, "settled"), q->decimals),
               txview_amount(a3, sizeof(a3), jint(x, "after"), q->decimals));
    }
    printf("amounts in %s\n", q->unit);
}

static const query_cmd queries[] = {
    { .name = "status", .method = "status", .show = show_status, .usage = status_usage },
    { .name = "members", .method = "members", .paging = PAGE_AFTER_ID, .unit = true,
      .show = show_members, .usage = members_usage },
    { .name = "member", .method = "member", .maxpos = 1, .params = member_arg, .unit = true,
      .show = show_member, .usage = member_usage },
    { .name = "balance", .method = "balance", .options = "k", .maxpos = 1,
      .params = member_or_key_arg, .unit = true, .show = show_balance, .usage = balance_usage },
    { .name = "history", .method = "history", .options = "klb", .maxpos = 1,
      .params = history_args, .unit = true, .show = show_history, .usage = history_usage },
    { .name = "proposals", .method = "proposals", .paging = PAGE_AFTER_ID, .unit = true,
      .show = show_proposals, .usage = proposals_usage },
    { .name = "proposal", .method = "proposal", .maxpos = 1, .params = id_arg,
      .what = "proposal", .paging = PAGE_NEXT, .list = "votes", .unit = true,
      .show = show_proposal, .usage = proposal_usage },
    { .name = "tx", .method = "tx", .maxpos = 1, .params = id_arg, .what = "transaction",
      .unit = true, .show = show_tx, .usage = tx_usage },
    { .name = "block", .method = "block", .maxpos = 1, .params = height_arg,
      .paging = PAGE_NEXT, .list = "txs", .unit = true, .show = show_block,
      .usage = block_usage },
    { .name = "peers", .method = "peers", .show = show_peers, .usage = peers_usage },
    { .name = "observers", .method = "observers", .show = show_observers,
      .usage = observers_usage },
    { .name = "referrals", .method = "referrals", .options = "m", .params = agreements_args,
      .paging = PAGE_AFTER_ID, .unit = true, .show = show_referrals, .usage = referrals_usage },
    { .name = "agreement list", .method = "agreements", .options = "m",
      .params = agreements_args, .paging = PAGE_AFTER_ID, .unit = true,
      .show = show_agreements, .usage = agreement_list_usage },
    { .name = "agreement show", .method = "agreement", .maxpos = 1, .params = id_arg,
      .what = "agreement", .unit = true, .show = show_agreement,
      .usage = agreement_show_usage },
    { .name = "invoice list", .method = "invoices", .options = "o", .maxpos = 1,
      .params = invoice_list_args, .paging = PAGE_AFTER_ID, .unit = true,
      .show = show_invoices, .usage = invoice_list_usage },
    { .name = "invoice show", .method = "invoice", .maxpos = 1, .params = id_arg,
      .what = "invoice", .unit = true, .show = show_invoice, .usage = invoice_show_usage },
    { .name = "clearing show", .method = "clearing", .maxpos = 1, .params = clearing_arg,
      .paging = PAGE_NEXT, .list = "obligations", .unit = true, .show = show_clearing,
      .usage = clearing_show_usage },
};

/* Runs the query command `name` (a row of queries): its --help, its
 * arguments, the unit when its output needs it, every page of the node's
 * answer, then the answer as JSON or shown.  Returns: an exit code. */
static int run_query(cli *c, const char *name, int argc, char **argv)
{
    const query_cmd *cmd = queries;
    while (strcmp(cmd->name, name) != 0)
        cmd++;
    if (help(argc, argv, cmd->usage))
        return CLI_OK;
    args a;
    json_t *params = NULL, *res = NULL;
    query q = { .c = c };
    int rc = parse_args(c, cmd->name, argc, argv, cmd->options != NULL ? cmd->options : "",
                        cmd->maxpos, &a);
    if (rc == 0 && cmd->params != NULL)
        rc = cmd->params(cmd, c, &a, &params);
    if (rc == 0 && cmd->unit && !c->json && (rc = load_unit(&q)) != 0)
        json_decref(params);
    if (rc == 0)
        rc = fetch(c, cmd->method, cmd->paging, cmd->list, params, false, &res);
    if (rc == CLI_OK && !print_json(c, &res))
        cmd->show(&q, &a, res);
    json_decref(res);
    query_free(&q);
    return rc;
}

/* The entry points kula.c and cmd_agreement call (cli.h). */
int cmd_status(cli *c) { return run_query(c, "status", c->argc, c->argv); }
int cmd_members(cli *c) { return run_query(c, "members", c->argc, c->argv); }
int cmd_member(cli *c) { return run_query(c, "member", c->argc, c->argv); }
int cmd_balance(cli *c) { return run_query(c, "balance", c->argc, c->argv); }
int cmd_history(cli *c) { return run_query(c, "history", c->argc, c->argv); }
int cmd_proposals(cli *c) { return run_query(c, "proposals", c->argc, c->argv); }
int cmd_proposal(cli *c) { return run_query(c, "proposal", c->argc, c->argv); }
int cmd_tx(cli *c) { return run_query(c, "tx", c->argc, c->argv); }
int cmd_block(cli *c) { return run_query(c, "block", c->argc, c->argv); }
int cmd_peers(cli *c) { return run_query(c, "peers", c->argc, c->argv); }
int cmd_observers(cli *c) { return run_query(c, "observers", c->argc, c->argv); }
int cmd_referrals(cli *c) { return run_query(c, "referrals", c->argc, c->argv); }
int agreement_list(cli *c, int argc, char **argv)
{
    return run_query(c, "agreement list", argc, argv);
}
int agreement_show(cli *c, int argc, char **argv)
{
    return run_query(c, "agreement show", argc, argv);
}
int invoice_list(cli *c, int argc, char **argv) { return run_query(c, "invoice list", argc, argv); }
int invoice_show(cli *c, int argc, char **argv) { return run_query(c, "invoice show", argc, argv); }
int clearing_show(cli *c, int argc, char **argv)
{
    return run_query(c, "clearing show", argc, argv);
}
