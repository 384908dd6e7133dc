/* cmd_tx.c -- kula's transaction commands: pay, exchange, referral, convert,
 * agreement, feedback, propose, vote. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kula/base/error.h"
#include "kula/crypto/keystore.h"
#include "kula/types/records.h"
#include "game.h"
#include "ids.h"
#include "progress.h"
#include "rpc_client.h"
#include "txflow.h"
#include "kula/audit/txview.h"

int tx_parse(int argc, char **argv, const struct option *opts, own_opt_fn own, void *ctx,
                 const char *usage, parsed *p)
{
    memset(p, 0, sizeof(*p));
    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return CLI_OK;
    }
    int opt;
    optind = 0;
    while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        int r = tx_common_opt(&p->o, opt, optarg);
        if (r < 0)
            return CLI_USAGE;
        if (r > 0)
            continue;
        if (opt == ':')
            return cli_fail(CLI_USAGE, "%s: missing value", argv[optind - 1]);
        if (opt == '?') {
            const char *bad = argv[optind - 1];
            if (bad[0] == '-' && bad[1] >= '0' && bad[1] <= '9')
                return cli_fail(CLI_REFUSED, "'%s': amounts must be positive", bad);
            return cli_fail(CLI_USAGE, "unknown option '%s' (see kula %s --help)", bad, argv[0]);
        }
        r = own != NULL ? own(ctx, opt, optarg) : 0;
        if (r < 0)
            return -r;
        if (r == 0)
            return cli_fail(CLI_USAGE, "unknown option (see kula %s --help)", argv[0]);
    }
    int rc = tx_common_check(&p->o); /* before asking for a passphrase */
    if (rc != CLI_OK)
        return rc;
    p->argc = argc - optind;
    p->argv = argv + optind;
    return -1;
}

int tx_need_args(const parsed *p, int n, const char *usage)
{
    if (p->argc != n) {
        fputs(usage, stderr);
        return CLI_USAGE;
    }
    return -1;
}

static int text_arg(const char *v, const char *what, size_t max, kula_text *out)
{
    if (v == NULL)
        return cli_fail(CLI_USAGE, "%s is required", what);
    if (strlen(v) > max)
        return cli_fail(CLI_USAGE, "%s: at most %zu bytes", what, max);
    out->p = v;
    out->n = strlen(v);
    return -1;
}

static void sort_ids(uint32_t *ids, uint32_t n)
{
    for (uint32_t i = 1; i < n; i++)
        for (uint32_t j = i; j > 0 && ids[j - 1] > ids[j]; j--) {
            uint32_t t = ids[j];
            ids[j] = ids[j - 1];
            ids[j - 1] = t;
        }
}

/* ---- pay ---- */

typedef struct pay_args {
    const char *to, *invoice;
} pay_args;

static int pay_opt(void *ctx, int opt, const char *arg)
{
    pay_args *a = ctx;
    if (opt == 't' || opt == 'i') {
        *(opt == 't' ? &a->to : &a->invoice) = arg;
        return 1;
    }
    return 0;
}

int cmd_pay(cli *c)
{
    static const char usage[] =
        "Usage: kula pay --key NAME --to MEMBER AMOUNT [--memo TEXT]\n"
        "       kula pay --key NAME --invoice ID [AMOUNT] [--memo TEXT]\n"
        "Pays AMOUNT of mutual credit to MEMBER; or pays an invoice billed to you,\n"
        "in full (without AMOUNT: all it still owes) or in part.  ID is the\n"
        "invoice's id or its first 4 or more hex digits (kula invoice list --open).\n"
        TX_COMMON_HELP;
    static const struct option opts[] = { TX_COMMON_OPTIONS, { "to", required_argument, NULL, 't' },
                                          { "invoice", required_argument, NULL, 'i' },
                                          { NULL, 0, NULL, 0 } };
    pay_args a = { 0 };
    parsed p;
    int rc = tx_parse(c->argc, c->argv, opts, pay_opt, &a, usage, &p);
    if (rc >= 0)
        return rc;
    if (a.invoice != NULL && a.to != NULL)
        return cli_fail(CLI_USAGE, "pay: give --to MEMBER or --invoice ID, not both (an "
                                   "invoice names whom it pays)");
    if (a.invoice != NULL && p.argc > 1)
        return tx_need_args(&p, 1, usage);
    if (a.invoice != NULL)
        return invoice_pay(c, &p, a.invoice);
    if ((rc = tx_need_args(&p, 1, usage)) >= 0)
        return rc;
    if (a.to == NULL)
        return cli_fail(CLI_USAGE, "pay: --to MEMBER is required");
    txctx t;
    kula_tx tx;
    if ((rc = tx_begin(c, &p.o, &t)) == CLI_OK) {
        tx_init(&t, &tx, KULA_TX_TRANSFER);
        if ((rc = tx_member(&t, a.to, &tx.u.transfer.to)) == CLI_OK &&
            (rc = tx_amount(&t, p.argv[0], "AMOUNT", &tx.u.transfer.amount)) == CLI_OK) {
            if (tx.u.transfer.amount <= 0)
                rc = cli_fail(CLI_REFUSED, "AMOUNT must be positive");
            else
                rc = tx_finish(&t, &tx, &t.me, 1);
        }
    }
    tx_end(&t);
    return rc;
}

/* ---- exchange ---- */

typedef struct exchange_args {
    const char *with, *gives, *gives_value, *receives, *receives_value;
} exchange_args;

static int exchange_opt(void *ctx, int opt, const char *arg)
{
    exchange_args *a = ctx;
    switch (opt) {
    case 'w': a->with = arg; return 1;
    case 'g': a->gives = arg; return 1;
    case 'G': a->gives_value = arg; return 1;
    case 'r': a->receives = arg; return 1;
    case 'R': a->receives_value = arg; return 1;
    default: return 0;
    }
}

int cmd_exchange(cli *c)
{
    static const char usage[] =
        "Usage: kula exchange --key NAME --with MEMBER --gives TEXT --gives-value AMOUNT\n"
        "                     --receives TEXT --receives-value AMOUNT --out FILE\n"
        "Records a barter: you deliver what --gives says, MEMBER delivers what --receives\n"
        "says; the difference of the values settles in credit.  Both must sign: the file\n"
        "goes to MEMBER for 'kula sign', then 'kula submit'.\n" TX_COMMON_HELP;
    static const struct option opts[] = {
        TX_COMMON_OPTIONS, { "with", required_argument, NULL, 'w' },
        { "gives", required_argument, NULL, 'g' }, { "gives-value", required_argument, NULL, 'G' },
        { "receives", required_argument, NULL, 'r' },
        { "receives-value", required_argument, NULL, 'R' }, { NULL, 0, NULL, 0 }
    };
    exchange_args a = { 0 };
    parsed p;
    int rc = tx_parse(c->argc, c->argv, opts, exchange_opt, &a, usage, &p);
    if (rc >= 0 || (rc = tx_need_args(&p, 0, usage)) >= 0)
        return rc;
    if (a.with == NULL || a.gives_value == NULL || a.receives_value == NULL)
        return cli_fail(CLI_USAGE, "exchange: --with, --gives-value and --receives-value are "
                                   "required");
    txctx t;
    kula_tx tx;
    if ((rc = tx_begin(c, &p.o, &t)) == CLI_OK) {
        tx_init(&t, &tx, KULA_TX_EXCHANGE);
        kula_text g = { a.gives ? a.gives : "", a.gives ? strlen(a.gives) : 0 };
        kula_text r = { a.receives ? a.receives : "", a.receives ? strlen(a.receives) : 0 };
        if (g.n > KULA_MAX_DESC || r.n > KULA_MAX_DESC)
            rc = cli_fail(CLI_USAGE, "descriptions: at most %u bytes", KULA_MAX_DESC);
        tx.u.exchange.gives = g;
        tx.u.exchange.receives = r;
        uint32_t req[2];
        if (rc == CLI_OK && (rc = tx_member(&t, a.with, &tx.u.exchange.counterparty)) == CLI_OK &&
            (rc = tx_amount(&t, a.gives_value, "--gives-value", &tx.u.exchange.gives_value)) ==
                CLI_OK &&
            (rc = tx_amount(&t, a.receives_value, "--receives-value",
                            &tx.u.exchange.receives_value)) == CLI_OK) {
            req[0] = t.me;
            req[1] = tx.u.exchange.counterparty;
            sort_ids(req, 2);
            rc = tx_finish(&t, &tx, req, 2);
        }
    }
    tx_end(&t);
    return rc;
}

/* ---- referral and conversion ---- */

typedef struct referral_args {
    const char *to, *lead, *fee, *agreement, *referral, *value;
} referral_args;

static int referral_opt(void *ctx, int opt, const char *arg)
{
    referral_args *a = ctx;
    switch (opt) {
    case 't': a->to = arg; return 1;
    case 'l': a->lead = arg; return 1;
    case 'f': a->fee = arg; return 1;
    case 'a': a->agreement = arg; return 1;
    case 'r': a->referral = arg; return 1;
    case 'v': a->value = arg; return 1;
    default: return 0;
    }
}

int cmd_referral(cli *c)
{
    static const char usage[] =
        "Usage: kula referral --key NAME --to MEMBER --lead TEXT (--fee AMOUNT | --agreement ID)\n"
        "Refers a customer to MEMBER.  Only a hash of --lead is recorded (no personal\n"
        "data on the ledger): keep TEXT (e.g. your CRM reference) to prove it later.\n"
        "The fee is stated, or follows the referral terms of an agreement between you\n"
        "(ID: its id, first 4 or more hex digits, or label).\n"
        TX_COMMON_HELP;
    static const struct option opts[] = {
        TX_COMMON_OPTIONS, { "to", required_argument, NULL, 't' },
        { "lead", required_argument, NULL, 'l' }, { "fee", required_argument, NULL, 'f' },
        { "agreement", required_argument, NULL, 'a' }, { NULL, 0, NULL, 0 }
    };
    referral_args a = { 0 };
    parsed p;
    int rc = tx_parse(c->argc, c->argv, opts, referral_opt, &a, usage, &p);
    if (rc >= 0 || (rc = tx_need_args(&p, 0, usage)) >= 0)
        return rc;
    if (a.to == NULL || a.lead == NULL || (a.fee == NULL) == (a.agreement == NULL))
        return cli_fail(CLI_USAGE, "referral: --to, --lead and one of --fee, --agreement are "
                                   "required");
    txctx t;
    kula_tx tx;
    if ((rc = tx_begin(c, &p.o, &t)) == CLI_OK) {
        tx_init(&t, &tx, KULA_TX_REFERRAL);
        kula_hash_bytes(&tx.u.referral.lead, a.lead, strlen(a.lead));
        if (a.agreement != NULL) {
            tx.u.referral.has_agreement = true;
            rc = ids_resolve(c, "--agreement", "agreement", a.agreement, t.me,
                             &tx.u.referral.agreement);
        } else {
            rc = tx_amount(&t, a.fee, "--fee", &tx.u.referral.fee);
        }
        if (rc == CLI_OK && (rc = tx_member(&t, a.to, &tx.u.referral.receiver)) == CLI_OK)
            rc = tx_finish(&t, &tx, &t.me, 1);
    }
    tx_end(&t);
    return rc;
}

int cmd_convert(cli *c)
{
    static const char usage[] =
        "Usage: kula convert --key NAME --referral ID --value AMOUNT\n"
        "Confirms that a referral you received converted into a sale worth AMOUNT;\n"
        "the referral fee is paid to the referrer.  ID is the referral's id or its\n"
        "first 4 or more hex digits (kula referrals lists the open ones).\n" TX_COMMON_HELP;
    static const struct option opts[] = {
        TX_COMMON_OPTIONS, { "referral", required_argument, NULL, 'r' },
        { "value", required_argument, NULL, 'v' }, { NULL, 0, NULL, 0 }
    };
    referral_args a = { 0 };
    parsed p;
    int rc = tx_parse(c->argc, c->argv, opts, referral_opt, &a, usage, &p);
    if (rc >= 0 || (rc = tx_need_args(&p, 0, usage)) >= 0)
        return rc;
    if (a.referral == NULL || a.value == NULL)
        return cli_fail(CLI_USAGE, "convert: --referral and --value are required");
    txctx t;
    kula_tx tx;
    if ((rc = tx_begin(c, &p.o, &t)) == CLI_OK) {
        tx_init(&t, &tx, KULA_TX_CONVERSION);
        rc = ids_resolve(c, "--referral", "referral", a.referral, 0,
                         &tx.u.conversion.referral);
        if (rc == CLI_OK &&
            (rc = tx_amount(&t, a.value, "--value", &tx.u.conversion.value)) == CLI_OK)
            rc = tx_finish(&t, &tx, &t.me, 1);
    }
    tx_end(&t);
    return rc;
}

/* ---- after the fact: a proposal's progress, a settlement's split ---- */

/* Whether the command waited for its block and prints words. */
static bool tells(const txctx *t)
{
    return t->o.out == NULL && !t->o.no_wait && !t->c->json;
}

/* After propose or vote: where the proposal stands (proto/LEDGER.md §6.2). */
static void tell_progress(txctx *t, const kula_hash *id)
{
    char hex[2 * KULA_HASH_LEN + 1], words[600];
    json_t *q;
    if (!tells(t))
        return;
    kula_hex_encode(hex, id->b, KULA_HASH_LEN);
    if (rpc_call(t->c, "proposal", json_pack("{s:s, s:i}", "id", hex, "limit", 1), &q, NULL,
                 false) != CLI_OK)
        return;
    printf("proposal %.12s: %s\n", hex, progress_words(words, sizeof(words), q));
    json_decref(q);
}

/* The agreement's record (NULL if the node has none). */
static json_t *agreement_now(txctx *t, const kula_hash *id)
{
    char hex[2 * KULA_HASH_LEN + 1];
    json_t *a;
    kula_hex_encode(hex, id->b, KULA_HASH_LEN);
    return rpc_call(t->c, "agreement", json_pack("{s:s}", "id", hex), &a, NULL, true) == CLI_OK
               ? a
               : NULL;
}

/* After settle: what each party received, the growth of its "received"
 * since `before`, in units and names. */
static void tell_split(txctx *t, const kula_hash *id, const json_t *before)
{
    if (!tells(t) || before == NULL)
        return;
    json_t *after = agreement_now(t, id);
    const json_t *pb = json_object_get(before, "parties"), *pa = json_object_get(after, "parties");
    if (after == NULL || json_array_size(pa) != json_array_size(pb)) {
        json_decref(after);
        return;
    }
    rpc_names nm = { t->c, NULL };
    txview v = { t->decimals, t->unit, rpc_name_of, &nm, cli_local_time };
    char label[300], amt[64], who[240];
    printf("the pool of %s is split, in %s:\n",
           txview_clean(label, sizeof(label),
                        json_string_value(json_object_get(after, "label")) != NULL
                            ? json_string_value(json_object_get(after, "label"))
                            : "?"),
           t->unit);
    for (size_t i = 0; i < json_array_size(pa); i++) {
        const json_t *x = json_array_get(pa, i), *y = json_array_get(pb, i);
        int64_t got = (int64_t)json_integer_value(json_object_get(x, "received")) -
                      (int64_t)json_integer_value(json_object_get(y, "received"));
        txview_who(who, sizeof(who), &v,
                   (int64_t)json_integer_value(json_object_get(x, "member")));
        printf("  %-40s %14s\n", who, txview_amount(amt, sizeof(amt), got, t->decimals));
    }
    json_decref(nm.last);
    json_decref(after);
}

/* ---- agreements ---- */

typedef struct agr_args {
    const char *id, *label, *title, *rule, *value, *description, *ack, *term_end, *bps, *game;
    const char *parties[KULA_MAX_PARTIES + 1];
    uint32_t nparties, given;
    bool too_many;
} agr_args;

static int agr_opt(void *ctx, int opt, const char *arg)
{
    agr_args *a = ctx;
    switch (opt) {
    case 'i': a->id = arg; return 1;
    case 'l': a->label = arg; return 1;
    case 't': a->title = arg; return 1;
    case 'r': a->rule = arg; return 1;
    case 'v': a->value = arg; return 1;
    case 'd': a->description = arg; return 1;
    case 'a': a->ack = arg; return 1;
    case 'e': a->term_end = arg; return 1;
    case 'b': a->bps = arg; return 1;
    case 'g': a->game = arg; return 1;
    case 'p':
        a->given++;
        if (a->nparties >= KULA_MAX_PARTIES)
            a->too_many = true;
        else
            a->parties[a->nparties++] = arg;
        return 1;
    default: return 0;
    }
}

/* --rule equal | pro-rata | weights:W,W,... | shapley:V0,V1,... */
static int parse_rule(const char *spec, uint32_t nparties, kula_rule *r, kula_buf *raw)
{
    memset(r, 0, sizeof(*r));
    if (spec == NULL)
        return cli_fail(CLI_USAGE, "--rule is required (equal, pro-rata, weights:.., shapley:..), or --game FILE");
    if (strcmp(spec, "equal") == 0) {
        r->kind = KULA_RULE_EQUAL;
        return -1;
    }
    if (strcmp(spec, "pro-rata") == 0) {
        r->kind = KULA_RULE_PRORATA;
        return -1;
    }
    bool weights = strncmp(spec, "weights:", 8) == 0;
    bool shapley = strncmp(spec, "shapley:", 8) == 0;
    if (!weights && !shapley)
        return cli_fail(CLI_USAGE, "--rule: equal, pro-rata, weights:W1,W2,.. or shapley:V0,..");
    const char *p = spec + 8;
    uint32_t n = 0, want = weights ? nparties : (1u << nparties);
    kula_writer w;
    kula_buf_reset(raw);
    kula_writer_init(&w, raw);
    kula_w_array(&w, want);
    while (*p != '\0') {
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (errno == ERANGE || (weights && v > (long long)UINT32_MAX))
            return cli_fail(CLI_USAGE, "--rule: %.*s is too large (at most %llu; nothing is "
                                       "clamped)", (int)strcspn(p, ","), p,
                            weights ? (unsigned long long)UINT32_MAX
                                    : (unsigned long long)INT64_MAX);
        if (end == p || (*end != ',' && *end != '\0') || v < 0)
            return cli_fail(CLI_USAGE, "--rule: '%s' is not a list of whole numbers >= 0", spec);
        if (n < KULA_MAX_PARTIES && weights)
            r->weights[n] = (uint32_t)v;
        if (shapley)
            kula_w_int(&w, v);
        n++;
        p = *end == ',' ? end + 1 : end;
    }
    if (n != want)
        return cli_fail(CLI_USAGE, "--rule: %s needs %u values for %u parties, got %u",
                        weights ? "weights" : "shapley", want, nparties, n);
    if (weights) {
        r->kind = KULA_RULE_WEIGHTS;
        r->nweights = n;
    } else {
        r->kind = KULA_RULE_SHAPLEY;
        r->nvalues = n;
        r->values_raw = raw->data;
        r->values_raw_len = raw->len;
    }
    return -1;
}

/* --game FILE: the Shapley rule from a file of named coalitions (game.h),
 * over the parties ids[0..n) ascending, named as the node knows them. */
static int game_rule(txctx *t, const char *path, const uint32_t *ids, uint32_t n, kula_rule *r,
                     kula_buf *raw)
{
    char err[512];
    const char *names[KULA_MAX_PARTIES];
    json_t *m[KULA_MAX_PARTIES] = { NULL };
    char *text = NULL;
    size_t len;
    int64_t *values = NULL;
    int rc = -1;
    for (uint32_t k = 0; k < n && rc < 0; k++) {
        if (rpc_call(t->c, "member", json_pack("{s:I}", "member", (json_int_t)ids[k]), &m[k],
                     NULL, false) != CLI_OK)
            rc = CLI_REFUSED;
        else
            names[k] = json_string_value(json_object_get(m[k], "name"));
        if (rc < 0 && names[k] == NULL)
            rc = cli_fail(CLI_REFUSED, "member %u has no name the game could use", ids[k]);
    }
    if (rc < 0 && game_read(path, &text, &len, err, sizeof(err)) != 0)
        rc = cli_fail(CLI_USAGE, "%s", err);
    if (rc < 0 && (values = malloc(((size_t)1 << n) * sizeof(values[0]))) == NULL)
        rc = cli_fail(CLI_REFUSED, "out of memory");
    if (rc < 0 && game_parse(text, len, names, n, t->decimals, values, err, sizeof(err)) != 0)
        rc = cli_fail(CLI_USAGE, "--game %s: %s", path, err);
    if (rc < 0) {
        kula_writer w;
        kula_buf_reset(raw);
        kula_writer_init(&w, raw);
        kula_w_array(&w, (uint32_t)1 << n);
        for (uint32_t i = 0; i < ((uint32_t)1 << n); i++)
            kula_w_int(&w, values[i]);
        memset(r, 0, sizeof(*r));
        r->kind = KULA_RULE_SHAPLEY;
        r->nvalues = (uint32_t)1 << n;
        r->values_raw = raw->data;
        r->values_raw_len = raw->len;
    }
    for (uint32_t k = 0; k < n; k++)
        json_decref(m[k]);
    free(text);
    free(values);
    return rc;
}

/* --rule, or --game (with --rule absent or shapley). */
static int rule_arg(txctx *t, const agr_args *a, const uint32_t *ids, uint32_t n, kula_rule *r,
                    kula_buf *raw)
{
    if (a->game == NULL)
        return parse_rule(a->rule, n, r, raw);
    if (a->rule != NULL && strcmp(a->rule, "shapley") != 0)
        return cli_fail(CLI_USAGE, "--game declares a Shapley rule: leave out --rule, or give "
                                   "--rule shapley");
    return game_rule(t, a->game, ids, n, r, raw);
}

static int parse_u64(const char *v, const char *what, uint64_t max, uint64_t *out)
{
    char *end;
    if (v == NULL) {
        *out = 0;
        return -1;
    }
    unsigned long long x = strtoull(v, &end, 10);
    if (*v == '\0' || *end != '\0' || *v == '-' || x > max)
        return cli_fail(CLI_USAGE, "%s: a whole number from 0 to %llu", what,
                        (unsigned long long)max);
    *out = x;
    return -1;
}

/* The parties of an existing agreement, ascending. */
static int agreement_parties(txctx *t, const kula_hash *id, uint32_t *ids, uint32_t *n)
{
    char hex[65];
    kula_hex_encode(hex, id->b, KULA_HASH_LEN);
    json_t *a;
    int rc = rpc_call(t->c, "agreement", json_pack("{s:s}", "id", hex), &a, NULL, false);
    if (rc != CLI_OK)
        return rc;
    json_t *parties = json_object_get(a, "parties");
    *n = 0;
    for (size_t i = 0; i < json_array_size(parties) && i < KULA_MAX_PARTIES; i++)
        ids[(*n)++] = (uint32_t)json_integer_value(
            json_object_get(json_array_get(parties, i), "member"));
    json_decref(a);
    return CLI_OK;
}

static int agreement_tx(cli *c, const char *sub, int argc, char **argv)
{
    static const char usage[] =
        "Usage: kula agreement open --key NAME --party MEMBER... --label L --title T --rule R\n"
        "                           [--term-end HEIGHT] [--referral-fee-bps N] --out FILE\n"
        "       kula agreement amend --key NAME --id ID --title T (--rule R | --game FILE)\n"
        "                            [--term-end H]\n"
        "                            [--referral-fee-bps N] --out FILE\n"
        "       kula agreement contribute --key NAME --id ID --value AMOUNT\n"
        "                                 --description TEXT --ack MEMBER --out FILE\n"
        "       kula agreement benefit --key NAME --id ID AMOUNT [--description TEXT]\n"
        "       kula agreement settle --key NAME --id ID\n"
        "       kula agreement close --key NAME --id ID --out FILE\n"
        "       kula agreement list [--member MEMBER]\n"
        "       kula agreement show ID\n"
        "\n"
        "An agreement binds 2-16 members (--party, repeated, yourself included).  Its\n"
        "pool is shared by the rule R: equal, pro-rata (to acknowledged contributions),\n"
        "weights:W1,W2,... (one per party in ascending member id) or\n"
        "shapley:V0,V1,...,V(2^n-1) (the value of each coalition by bitmask over the\n"
        "parties in ascending id; proto/LEDGER.md §5).  A Shapley game is easier\n"
        "written in a file, --game FILE (- for standard input), a coalition a line by\n"
        "the parties' names with its value in units:\n"
        "    alice: 50.00\n"
        "    alice+bob: 120.00\n"
        "The empty coalition is 0; a coalition not listed is worth the most of the\n"
        "listed ones inside it (0 if none); '#' starts a comment.\n"
        "ID is an agreement's id, its first 4 or more hex digits, or its label.\n"
        "Open, amend and close need\n"
        "every party's signature, a contribution the acknowledging party's: those go\n"
        "through a file (kula sign FILE, then kula submit FILE).\n" TX_COMMON_HELP;
    static const struct option opts[] = {
        TX_COMMON_OPTIONS,
        { "id", required_argument, NULL, 'i' }, { "label", required_argument, NULL, 'l' },
        { "title", required_argument, NULL, 't' }, { "rule", required_argument, NULL, 'r' },
        { "value", required_argument, NULL, 'v' },
        { "description", required_argument, NULL, 'd' }, { "ack", required_argument, NULL, 'a' },
        { "term-end", required_argument, NULL, 'e' },
        { "referral-fee-bps", required_argument, NULL, 'b' },
        { "game", required_argument, NULL, 'g' },
        { "party", required_argument, NULL, 'p' }, { NULL, 0, NULL, 0 }
    };
    agr_args a;
    memset(&a, 0, sizeof(a));
    parsed p;
    int rc = tx_parse(argc, argv, opts, agr_opt, &a, usage, &p);
    if (rc >= 0)
        return rc;
    bool benefit = strcmp(sub, "benefit") == 0;
    if ((rc = tx_need_args(&p, benefit ? 1 : 0, usage)) >= 0)
        return rc;
    if (a.too_many)
        return cli_fail(CLI_USAGE, "an agreement has at most %u parties (proto/LEDGER.md §5), "
                                   "not %u: split it, or leave parties out",
                        KULA_MAX_PARTIES, a.given);
    bool open = strcmp(sub, "open") == 0;
    if (!open && a.id == NULL)
        return cli_fail(CLI_USAGE, "agreement %s: --id ID is required", sub);
    kula_hash id;
    txctx t;
    kula_tx tx;
    kula_buf raw;
    kula_buf_init(&raw);
    uint32_t req[KULA_MAX_PARTIES], nreq = 0;
    uint64_t term = 0, bps = 0;
    json_t *before = NULL;
    if ((rc = tx_begin(c, &p.o, &t)) != CLI_OK ||
        (!open && (rc = ids_resolve(c, "--id", "agreement", a.id, t.me, &id)) != CLI_OK))
        goto out;
    rc = -1;
    if (open) {
        tx_init(&t, &tx, KULA_TX_AGREEMENT_OPEN);
        for (uint32_t i = 0; i < a.nparties && rc < 0; i++)
            if (tx_member(&t, a.parties[i], &req[nreq++]) != CLI_OK)
                rc = CLI_REFUSED;
        if (rc < 0 && nreq < 2)
            rc = cli_fail(CLI_USAGE, "agreement open: at least two --party (yourself included)");
        if (rc < 0) {
            sort_ids(req, nreq);
            tx.u.open.nparties = nreq;
            memcpy(tx.u.open.parties, req, nreq * sizeof(req[0]));
        }
        if (rc < 0)
            rc = text_arg(a.label, "--label", KULA_MAX_LABEL, &tx.u.open.label);
        if (rc < 0)
            rc = text_arg(a.title, "--title", KULA_MAX_NAME, &tx.u.open.title);
        if (rc < 0)
            rc = rule_arg(&t, &a, req, nreq, &tx.u.open.rule, &raw);
        if (rc < 0)
            rc = parse_u64(a.term_end, "--term-end", UINT64_MAX, &term);
        if (rc < 0)
            rc = parse_u64(a.bps, "--referral-fee-bps", KULA_BPS_DENOM, &bps);
        tx.u.open.term_end = term;
        tx.u.open.referral_fee_bps = (uint32_t)bps;
    } else if (strcmp(sub, "amend") == 0) {
        tx_init(&t, &tx, KULA_TX_AGREEMENT_AMEND);
        tx.u.amend.agreement = id;
        if ((rc = agreement_parties(&t, &id, req, &nreq)) == CLI_OK)
            rc = -1;
        if (rc < 0)
            rc = text_arg(a.title, "--title", KULA_MAX_NAME, &tx.u.amend.title);
        if (rc < 0)
            rc = rule_arg(&t, &a, req, nreq, &tx.u.amend.rule, &raw);
        if (rc < 0)
            rc = parse_u64(a.term_end, "--term-end", UINT64_MAX, &term);
        if (rc < 0)
            rc = parse_u64(a.bps, "--referral-fee-bps", KULA_BPS_DENOM, &bps);
        tx.u.amend.term_end = term;
        tx.u.amend.referral_fee_bps = (uint32_t)bps;
    } else if (strcmp(sub, "contribute") == 0) {
        tx_init(&t, &tx, KULA_TX_CONTRIBUTE);
        tx.u.contribute.agreement = id;
        if (a.ack == NULL || a.value == NULL)
            rc = cli_fail(CLI_USAGE, "agreement contribute: --value and --ack are required");
        if (rc < 0)
            rc = text_arg(a.description, "--description", KULA_MAX_DESC,
                          &tx.u.contribute.description);
        if (rc < 0 && (rc = tx_member(&t, a.ack, &tx.u.contribute.acknowledger)) == CLI_OK)
            rc = -1;
        if (rc < 0 && (rc = tx_amount(&t, a.value, "--value", &tx.u.contribute.value)) == CLI_OK)
            rc = -1;
        req[0] = t.me;
        req[1] = tx.u.contribute.acknowledger;
        nreq = 2;
        sort_ids(req, nreq);
    } else if (benefit) {
        tx_init(&t, &tx, KULA_TX_BENEFIT);
        tx.u.benefit.agreement = id;
        const char *d = a.description != NULL ? a.description : "";
        if (strlen(d) > KULA_MAX_DESC)
            rc = cli_fail(CLI_USAGE, "--description: at most %u bytes", KULA_MAX_DESC);
        tx.u.benefit.description.p = d;
        tx.u.benefit.description.n = strlen(d);
        if (rc < 0 && (rc = tx_amount(&t, p.argv[0], "AMOUNT", &tx.u.benefit.amount)) == CLI_OK)
            rc = -1;
        req[0] = t.me;
        nreq = 1;
    } else if (strcmp(sub, "settle") == 0 || strcmp(sub, "close") == 0) {
        bool settle = sub[0] == 's';
        tx_init(&t, &tx, settle ? KULA_TX_SETTLE : KULA_TX_AGREEMENT_CLOSE);
        tx.u.settle.agreement = id;
        if (settle) {
            req[0] = t.me;
            nreq = 1;
            before = tells(&t) ? agreement_now(&t, &id) : NULL;
        } else if ((rc = agreement_parties(&t, &id, req, &nreq)) == CLI_OK) {
            rc = -1;
        }
    } else {
        rc = cli_fail(CLI_USAGE, "agreement: unknown subcommand '%s' (see kula agreement --help)",
                      sub);
    }
    if (rc < 0)
        rc = tx_finish(&t, &tx, req, nreq);
    if (rc == CLI_OK && tx.kind == KULA_TX_SETTLE)
        tell_split(&t, &id, before);
out:
    json_decref(before);
    tx_end(&t);
    kula_buf_free(&raw);
    return rc;
}

int cmd_agreement(cli *c)
{
    if (c->argc < 2) {
        fputs("Usage: kula agreement open|amend|contribute|benefit|settle|close|list|show ...\n"
              "(kula agreement --help for details)\n",
              stderr);
        return CLI_USAGE;
    }
    const char *sub = c->argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0)
        return agreement_tx(c, "open", c->argc, c->argv);
    if (strcmp(sub, "list") == 0)
        return agreement_list(c, c->argc - 1, c->argv + 1);
    if (strcmp(sub, "show") == 0)
        return agreement_show(c, c->argc - 1, c->argv + 1);
    static const char *const subs[] = { "open", "amend", "contribute", "benefit", "settle",
                                        "close", "list", "show" };
    size_t nsubs = sizeof(subs) / sizeof(subs[0]), i = 0;
    while (i < nsubs && strcmp(subs[i], sub) != 0)
        i++;
    if (i == nsubs) {
        const char *near = cli_nearest(subs, nsubs, sub);
        return cli_fail(CLI_USAGE, "agreement: unknown subcommand '%s'%s%s%s: open, amend, "
                                   "contribute, benefit, settle, close, list or show (see kula "
                                   "agreement --help)",
                        sub, near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
    }
    return agreement_tx(c, sub, c->argc - 1, c->argv + 1);
}

/* ---- feedback ---- */

typedef struct fb_args {
    const char *about, *rating, *comment;
} fb_args;

static int fb_opt(void *ctx, int opt, const char *arg)
{
    fb_args *a = ctx;
    switch (opt) {
    case 'a': a->about = arg; return 1;
    case 'r': a->rating = arg; return 1;
    case 'c': a->comment = arg; return 1;
    default: return 0;
    }
}

int cmd_feedback(cli *c)
{
    static const char usage[] =
        "Usage: kula feedback --key NAME --about MEMBER --rating 1-5 [--comment TEXT]\n"
        "Rates a trading partner: allowed once per completed exchange between you.\n"
        TX_COMMON_HELP;
    static const struct option opts[] = {
        TX_COMMON_OPTIONS, { "about", required_argument, NULL, 'a' },
        { "rating", required_argument, NULL, 'r' }, { "comment", required_argument, NULL, 'c' },
        { NULL, 0, NULL, 0 }
    };
    fb_args a = { 0 };
    parsed p;
    int rc = tx_parse(c->argc, c->argv, opts, fb_opt, &a, usage, &p);
    if (rc >= 0 || (rc = tx_need_args(&p, 0, usage)) >= 0)
        return rc;
    uint64_t rating = 0;
    if (a.about == NULL || a.rating == NULL)
        return cli_fail(CLI_USAGE, "feedback: --about and --rating are required");
    if ((rc = parse_u64(a.rating, "--rating", 5, &rating)) >= 0)
        return rc;
    if (rating < 1)
        return cli_fail(CLI_USAGE, "--rating: 1 to 5");
    const char *comment = a.comment != NULL ? a.comment : "";
    if (strlen(comment) > KULA_MAX_COMMENT)
        return cli_fail(CLI_USAGE, "--comment: at most %u bytes", KULA_MAX_COMMENT);
    txctx t;
    kula_tx tx;
    if ((rc = tx_begin(c, &p.o, &t)) == CLI_OK) {
        tx_init(&t, &tx, KULA_TX_FEEDBACK);
        tx.u.feedback.rating = (uint32_t)rating;
        tx.u.feedback.comment.p = comment;
        tx.u.feedback.comment.n = strlen(comment);
        if ((rc = tx_member(&t, a.about, &tx.u.feedback.about)) == CLI_OK)
            rc = tx_finish(&t, &tx, &t.me, 1);
    }
    tx_end(&t);
    return rc;
}

/* ---- governance ---- */

typedef struct gov_args {
    const char *pubkey, *name, *sector, *credit, *power, *member, *proposal;
} gov_args;

static int gov_opt(void *ctx, int opt, const char *arg)
{
    gov_args *a = ctx;
    switch (opt) {
    case 'k': a->pubkey = arg; return 1;
    case 'n': a->name = arg; return 1;
    case 's': a->sector = arg; return 1;
    case 'c': a->credit = arg; return 1;
    case 'p': a->power = arg; return 1;
    case 'm': a->member = arg; return 1;
    case 'q': a->proposal = arg; return 1;
    default: return 0;
    }
}

/* --pubkey: 64 hex digits, or the name of a key in the wallet. */
static int pubkey_arg(cli *c, const char *v, kula_pubkey *out)
{
    if (v == NULL)
        return cli_fail(CLI_USAGE, "--pubkey HEX or --pubkey WALLET-KEY-NAME is required");
    if (strlen(v) == 2 * KULA_PUBKEY_LEN && kula_hex_decode(out->b, KULA_PUBKEY_LEN, v) == 0)
        return -1;
    int rc = cli_key_pubkey(c, v, out, NULL);
    return rc != 0 ? rc : -1;
}

static int param_id(const char *name)
{
    for (uint32_t id = 1; id <= KULA_PARAM_COUNT; id++)
        if (strcmp(kula_param_name(id), name) == 0)
            return (int)id;
    return -1;
}

int cmd_propose(cli *c)
{
    static const char usage[] =
        "Usage: kula propose --key NAME admit --pubkey KEY --name NAME --sector S\n"
        "                    [--credit-limit AMOUNT] [--voting-power P]\n"
        "       kula propose --key NAME remove --member MEMBER\n"
        "       kula propose --key NAME credit-limit --member MEMBER AMOUNT\n"
        "       kula propose --key NAME param PARAM VALUE\n"
        "       kula propose --key NAME rotate-key --member MEMBER --pubkey KEY\n"
        "       kula propose --key NAME admit-observer --pubkey KEY --name NAME\n"
        "       kula propose --key NAME remove-observer --pubkey KEY\n"
        "       kula propose --key NAME clear\n"
        "KEY is a public key (64 hex digits) or the name of a key in your wallet.\n"
        "An observer (an auditor's node, say) follows the ledger read-only: every\n"
        "member's node admits its key once the proposal passes (kula observers).\n"
        "Proposes a governance action; the proposer's vote counts as yes.  It passes\n"
        "when yes votes exceed the genesis threshold of active members (proto/LEDGER.md\n"
        "§6).  PARAM is a name of proto/SPEC.md §8.2; VALUE is an AMOUNT in units for\n"
        "default_credit_limit (2000.00), else a whole number.  clear: a clearing of\n"
        "the accepted, unpaid invoices at the block after it passes (kula clearing).\n"
        TX_COMMON_HELP;
    static const struct option opts[] = {
        TX_COMMON_OPTIONS, { "pubkey", required_argument, NULL, 'k' },
        { "name", required_argument, NULL, 'n' }, { "sector", required_argument, NULL, 's' },
        { "credit-limit", required_argument, NULL, 'c' },
        { "voting-power", required_argument, NULL, 'p' },
        { "member", required_argument, NULL, 'm' }, { NULL, 0, NULL, 0 }
    };
    gov_args a = { 0 };
    parsed p;
    int rc = tx_parse(c->argc, c->argv, opts, gov_opt, &a, usage, &p);
    if (rc >= 0)
        return rc;
    if (p.argc < 1) {
        fputs(usage, stderr);
        return CLI_USAGE;
    }
    const char *what = p.argv[0];
    txctx t;
    kula_tx tx;
    if ((rc = tx_begin(c, &p.o, &t)) != CLI_OK) {
        tx_end(&t);
        return rc;
    }
    tx_init(&t, &tx, KULA_TX_PROPOSE);
    kula_action *act = &tx.u.propose.action;
    rc = -1;
    if (strcmp(what, "admit") == 0) {
        act->kind = KULA_ACT_ADMIT;
        uint64_t power = 0;
        if (p.argc != 1)
            rc = cli_fail(CLI_USAGE, "propose admit: unexpected argument '%s'", p.argv[1]);
        if (rc < 0)
            rc = pubkey_arg(c, a.pubkey, &act->pubkey);
        if (rc < 0)
            rc = text_arg(a.name, "--name", KULA_MAX_NAME, &act->name);
        if (rc < 0)
            rc = text_arg(a.sector, "--sector", KULA_MAX_NAME, &act->sector);
        if (rc < 0)
            rc = parse_u64(a.power, "--voting-power", UINT64_C(1) << 48, &power);
        act->voting_power = power;
        if (rc < 0 && a.credit != NULL &&
            (rc = tx_amount(&t, a.credit, "--credit-limit", &act->credit_limit)) == CLI_OK)
            rc = -1;
        if (rc < 0 && a.credit == NULL) {
            json_t *g;
            if ((rc = rpc_call(c, "genesis", NULL, &g, NULL, false)) == CLI_OK) {
                act->credit_limit = json_integer_value(
                    json_object_get(json_object_get(g, "params"), "default_credit_limit"));
                json_decref(g);
                rc = -1;
            }
        }
    } else if (strcmp(what, "remove") == 0 || strcmp(what, "credit-limit") == 0 ||
               strcmp(what, "rotate-key") == 0) {
        act->kind = what[0] == 'r' && what[1] == 'e' ? KULA_ACT_REMOVE
                    : what[0] == 'c'                 ? KULA_ACT_CREDIT_LIMIT
                                                     : KULA_ACT_ROTATE_KEY;
        if (a.member == NULL)
            rc = cli_fail(CLI_USAGE, "propose %s: --member MEMBER is required", what);
        if (rc < 0 && (rc = tx_member(&t, a.member, &act->member)) == CLI_OK)
            rc = -1;
        if (rc < 0 && act->kind == KULA_ACT_CREDIT_LIMIT) {
            if (p.argc != 2)
                rc = cli_fail(CLI_USAGE, "propose credit-limit: --member MEMBER AMOUNT");
            else if ((rc = tx_amount(&t, p.argv[1], "AMOUNT", &act->credit_limit)) == CLI_OK)
                rc = -1;
        }
        if (rc < 0 && act->kind == KULA_ACT_ROTATE_KEY)
            rc = pubkey_arg(c, a.pubkey, &act->pubkey);
    } else if (strcmp(what, "admit-observer") == 0 || strcmp(what, "remove-observer") == 0) {
        act->kind = what[0] == 'a' ? KULA_ACT_ADMIT_OBSERVER : KULA_ACT_REMOVE_OBSERVER;
        if (p.argc != 1)
            rc = cli_fail(CLI_USAGE, "propose %s: unexpected argument '%s'", what, p.argv[1]);
        if (rc < 0)
            rc = pubkey_arg(c, a.pubkey, &act->pubkey);
        if (rc < 0 && act->kind == KULA_ACT_ADMIT_OBSERVER)
            rc = text_arg(a.name, "--name", KULA_MAX_NAME, &act->name);
    } else if (strcmp(what, "clear") == 0) {
        act->kind = KULA_ACT_CLEAR;
        if (p.argc != 1)
            rc = cli_fail(CLI_USAGE, "propose clear: unexpected argument '%s'", p.argv[1]);
    } else if (strcmp(what, "param") == 0) {
        /* SPEC §8.2: an amount is typed in units as everywhere, a count whole */
        act->kind = KULA_ACT_PARAM;
        int id = p.argc == 3 ? param_id(p.argv[1]) : -1;
        if (id < 0) {
            rc = cli_fail(CLI_USAGE, "propose param: PARAM VALUE with PARAM one of "
                                     "proto/SPEC.md §8.2 (e.g. default_credit_limit)");
        } else if (txview_param_is_amount(p.argv[1])) {
            if ((rc = tx_amount(&t, p.argv[2], p.argv[1], &act->value)) == CLI_OK)
                rc = -1;
        } else {
            char *end;
            errno = 0;
            long long v = strtoll(p.argv[2], &end, 10);
            if (*p.argv[2] == '\0' || *end != '\0' || errno != 0)
                rc = cli_fail(CLI_USAGE, "propose param %s: VALUE is a whole number, not '%s'",
                              p.argv[1], p.argv[2]);
            act->value = v;
        }
        act->param = (uint32_t)id;
    } else {
        rc = cli_fail(CLI_USAGE, "propose: unknown action '%s' (see kula propose --help)", what);
    }
    if (rc < 0 && (rc = tx_finish(&t, &tx, &t.me, 1)) == CLI_OK)
        tell_progress(&t, &tx.id);
    tx_end(&t);
    return rc;
}

int cmd_vote(cli *c)
{
    static const char usage[] =
        "Usage: kula vote --key NAME --proposal ID yes|no\n"
        "ID is the proposal's id or its first 4 or more hex digits (kula proposals).\n"
        "Afterwards kula says where the proposal stands: its votes and how many more\n"
        "yes votes make it pass (proto/LEDGER.md §6.2).\n" TX_COMMON_HELP;
    static const struct option opts[] = { TX_COMMON_OPTIONS,
                                          { "proposal", required_argument, NULL, 'q' },
                                          { NULL, 0, NULL, 0 } };
    gov_args a = { 0 };
    parsed p;
    int rc = tx_parse(c->argc, c->argv, opts, gov_opt, &a, usage, &p);
    if (rc >= 0 || (rc = tx_need_args(&p, 1, usage)) >= 0)
        return rc;
    bool yes = strcmp(p.argv[0], "yes") == 0;
    if (!yes && strcmp(p.argv[0], "no") != 0)
        return cli_fail(CLI_USAGE, "vote: yes or no");
    txctx t;
    kula_tx tx;
    if (a.proposal == NULL)
        return cli_fail(CLI_USAGE, "vote: --proposal ID is required");
    if ((rc = tx_begin(c, &p.o, &t)) == CLI_OK) {
        tx_init(&t, &tx, KULA_TX_VOTE);
        tx.u.vote.approve = yes;
        if ((rc = ids_resolve(c, "--proposal", "proposal", a.proposal, 0,
                              &tx.u.vote.proposal)) == CLI_OK &&
            (rc = tx_finish(&t, &tx, &t.me, 1)) == CLI_OK)
            tell_progress(&t, &tx.u.vote.proposal);
    }
    tx_end(&t);
    return rc;
}
