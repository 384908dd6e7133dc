/* txview.c -- a transaction in words, names and units (kula tx, kula sign, the web wallet). */
#include "kula/audit/txview.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kula/base/amount.h"
#include "kula/base/error.h"
#include "kula/ledger/distribution.h"

const char *txview_clean(char *out, size_t cap, const char *in)
{
    /* no text on the ledger may move the cursor or rewrite the screen
     * (proto/LEDGER.md §2.4 refuses control characters, but a display must
     * not depend on every writer having obeyed): C0, DEL and the UTF-8
     * encodings of C1 become '?' */
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p != '\0' && o + 3 < cap; p++) {
        if (*p == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else if (*p < 0x20 || *p == 0x7f) {
            out[o++] = '?';
        } else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
            out[o++] = '?';
            p++;
        } else {
            out[o++] = (char)*p;
        }
    }
    if (cap > 0)
        out[o < cap ? o : cap - 1] = '\0';
    return out;
}

const char *txview_amount(char *buf, size_t cap, int64_t v, unsigned decimals)
{
    if (kula_amount_format(buf, cap, kula_amount_of(v), decimals) < 0)
        snprintf(buf, cap, "%" PRId64, v);
    return buf;
}

const char *txview_who(char *buf, size_t cap, const txview *v, int64_t id)
{
    const char *name = v->name != NULL ? v->name(v->ctx, id) : NULL;
    char clean[200];
    if (name != NULL && *name != '\0')
        snprintf(buf, cap, "#%" PRId64 " %s", id, txview_clean(clean, sizeof(clean), name));
    else
        snprintf(buf, cap, "#%" PRId64, id);
    return buf;
}

int txview_param_is_amount(const char *name)
{
    return strcmp(name, "default_credit_limit") == 0; /* SPEC §8.2: the only one */
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

/* ---- shares under a rule of distribution ---- */

/* The split of pool among the parties by rule (proto/LEDGER.md §5.1), as
 * every node computes it.  Out: shares[n].  Returns: 0, or not 0 when the
 * rule cannot split it (no parties, weights all 0 or not one per party, an
 * invalid game, pro rata with no contribution). */
static int split(int64_t *shares, const json_t *rule, const json_t *parties,
                 const json_t *contributed, int64_t pool)
{
    size_t n = json_array_size(parties);
    uint32_t ids[KULA_MAX_PARTIES];
    uint64_t w[KULA_MAX_PARTIES];
    if (n == 0 || n > KULA_MAX_PARTIES)
        return -1;
    for (size_t i = 0; i < n; i++)
        ids[i] = (uint32_t)json_integer_value(json_array_get(parties, i));
    const char *kind = jstr(rule, "kind");
    if (strcmp(kind, "equal") == 0)
        return kula_distribute_equal(shares, ids, n, pool);
    if (strcmp(kind, "weights") == 0 || strcmp(kind, "pro-rata") == 0) {
        const json_t *list = kind[0] == 'w' ? json_object_get(rule, "weights") : contributed;
        if (json_array_size(list) != n)
            return -1;
        for (size_t i = 0; i < n; i++) {
            json_int_t x = json_integer_value(json_array_get(list, i));
            w[i] = x > 0 ? (uint64_t)x : 0;
        }
        return kula_distribute_weighted(shares, ids, w, n, pool);
    }
    const json_t *values = json_object_get(rule, "coalition_values");
    if (values == NULL)
        values = json_object_get(rule, "values");
    if (strcmp(kind, "shapley") != 0 || json_array_size(values) != ((size_t)1 << n))
        return -1;
    int64_t *v = malloc(json_array_size(values) * sizeof(*v));
    if (v == NULL)
        return -1;
    for (size_t i = 0; i < json_array_size(values); i++)
        v[i] = (int64_t)json_integer_value(json_array_get(values, i));
    int rc = kula_distribute_shapley(shares, ids, v, n, pool);
    free(v);
    return rc;
}

/* Each party's share: per 100 units of pool (two decimals: an exact split
 * of 10000), and of pool when there is one. */
static void print_shares(FILE *out, const txview *v, const json_t *rule, const json_t *parties,
                         const json_t *contributed, int64_t pool, const char *indent)
{
    int64_t per[KULA_MAX_PARTIES], now[KULA_MAX_PARTIES];
    int rc = split(per, rule, parties, contributed, 10000);
    if (rc != 0 && strcmp(jstr(rule, "kind"), "pro-rata") == 0) {
        fprintf(out, "%seach party's share: in proportion to its acknowledged contributions "
                     "(none yet)\n", indent);
        return;
    }
    if (rc != 0 && json_array_size(parties) == 0) {
        fprintf(out, "%seach party's share: by this rule (kula agreement show tells the "
                     "parties)\n", indent);
        return;
    }
    if (rc != 0) {
        fprintf(out, "%sthis rule cannot split any pool: the network refuses it\n", indent);
        return;
    }
    bool with_pool = pool > 0 && split(now, rule, parties, contributed, pool) == 0;
    char a1[64];
    if (with_pool)
        fprintf(out, "%seach party's share of every 100 %s paid in, and of the pool now (%s):\n",
                indent, v->unit, txview_amount(a1, sizeof(a1), pool, v->decimals));
    else
        fprintf(out, "%seach party's share of every 100 %s paid into the pool:\n", indent,
                v->unit);
    for (size_t i = 0; i < json_array_size(parties); i++) {
        char w[240], a2[64];
        txview_who(w, sizeof(w), v, json_integer_value(json_array_get(parties, i)));
        fprintf(out, "%s  %-28s %10s%s%s\n", indent, w, txview_amount(a1, sizeof(a1), per[i], 2),
                with_pool ? "  " : "",
                with_pool ? txview_amount(a2, sizeof(a2), now[i], v->decimals) : "");
    }
}

/* ---- words ---- */

static void rule_words(FILE *out, const txview *v, const json_t *tx, const json_t *rule,
                       const json_t *parties, int64_t pool, const json_t *contributed,
                       const char *indent)
{
    const char *kind = jstr(rule, "kind");
    fprintf(out, "%srule: %s\n", indent,
            strcmp(kind, "equal") == 0      ? "equal shares"
            : strcmp(kind, "weights") == 0  ? "fixed weights"
            : strcmp(kind, "pro-rata") == 0 ? "in proportion to acknowledged contributions"
                                            : "Shapley values of the declared coalition game");
    print_shares(out, v, rule, parties, contributed, pool, indent);
    int64_t term = jint(tx, "term_end"), bps = jint(tx, "referral_fee_bps");
    if (term == 0)
        fprintf(out, "%sterm: open-ended (until the parties close it)\n", indent);
    else
        fprintf(out, "%sterm: until block %" PRId64 "\n", indent, term);
    if (bps == 0)
        fprintf(out, "%sreferrals under it: no fee\n", indent);
    else
        fprintf(out, "%sreferrals under it: a fee of %" PRId64 ".%02" PRId64 "%% of the sale\n",
                indent, bps / 100, bps % 100);
}

static void action_words(FILE *out, const txview *v, const json_t *act, const char *indent)
{
    const char *kind = jstr(act, "action");
    char m[240], t1[200], t2[200], a1[64];
    if (strcmp(kind, "admit") == 0)
        fprintf(out, "%sadmit %s (%s) as a member, credit limit %s %s, voting power %" PRId64
                     ", key %.16s..\n", indent, txview_clean(t1, sizeof(t1), jstr(act, "name")),
                txview_clean(t2, sizeof(t2), jstr(act, "sector")),
                txview_amount(a1, sizeof(a1), jint(act, "credit_limit"), v->decimals), v->unit,
                jint(act, "voting_power"), jstr(act, "pubkey"));
    else if (strcmp(kind, "remove") == 0)
        fprintf(out, "%sremove %s from the network\n", indent,
                txview_who(m, sizeof(m), v, jint(act, "member")));
    else if (strcmp(kind, "credit-limit") == 0)
        fprintf(out, "%sset the credit limit of %s to %s %s\n", indent,
                txview_who(m, sizeof(m), v, jint(act, "member")),
                txview_amount(a1, sizeof(a1), jint(act, "credit_limit"), v->decimals), v->unit);
    else if (strcmp(kind, "param") == 0 && txview_param_is_amount(jstr(act, "name")))
        fprintf(out, "%sset the parameter %s to %s %s\n", indent, jstr(act, "name"),
                txview_amount(a1, sizeof(a1), jint(act, "value"), v->decimals), v->unit);
    else if (strcmp(kind, "param") == 0)
        fprintf(out, "%sset the parameter %s to %" PRId64 "\n", indent, jstr(act, "name"),
                jint(act, "value"));
    else if (strcmp(kind, "rotate-key") == 0)
        fprintf(out, "%sreplace the key of %s by %.16s..\n", indent,
                txview_who(m, sizeof(m), v, jint(act, "member")), jstr(act, "pubkey"));
    else if (strcmp(kind, "admit-observer") == 0)
        fprintf(out, "%slet %s's node, key %.16s.., follow the ledger as an observer\n",
                indent, jstr(act, "name"), jstr(act, "pubkey"));
    else if (strcmp(kind, "remove-observer") == 0)
        fprintf(out, "%sstop letting the observer with key %.16s.. follow the ledger\n",
                indent, jstr(act, "pubkey"));
    else
        fprintf(out, "%s%s\n", indent, kind);
}

static void time_words(char *buf, size_t cap, const txview *v, int64_t ms);

void txview_words(FILE *out, const txview *v, const json_t *tx, const json_t *agreement,
                  const char *indent)
{
    const char *kind = jstr(tx, "kind");
    /* the agreement's parties and contributions, in party order */
    json_t *ids = json_array(), *contributed = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(agreement, "parties"), i, p) {
        json_array_append_new(ids, json_integer(jint(p, "member")));
        json_array_append_new(contributed, json_integer(jint(p, "contributed")));
    }
    int64_t pool = jint(agreement, "pool");
    char f[240], o[240], a1[64], a2[64], t1[300], t2[300];
    const char *u = v->unit;
    unsigned d = v->decimals;
    txview_who(f, sizeof(f), v, jint(tx, "from"));
    if (strcmp(kind, "transfer") == 0) {
        fprintf(out, "%s%s pays %s %s %s\n", indent, f,
                txview_who(o, sizeof(o), v, jint(tx, "to")),
                txview_amount(a1, sizeof(a1), jint(tx, "amount"), d), u);
    } else if (strcmp(kind, "exchange") == 0) {
        /* proto/LEDGER.md §4.2: the side that delivered more is paid the
         * difference by the other */
        int64_t gv = jint(tx, "gives_value"), rv = jint(tx, "receives_value");
        txview_who(o, sizeof(o), v, jint(tx, "counterparty"));
        fprintf(out, "%s%s delivers \"%s\", worth %s %s\n", indent, f,
                txview_clean(t1, sizeof(t1), jstr(tx, "gives")),
                txview_amount(a1, sizeof(a1), gv, d), u);
        fprintf(out, "%s%s delivers \"%s\", worth %s %s\n", indent, o,
                txview_clean(t2, sizeof(t2), jstr(tx, "receives")),
                txview_amount(a2, sizeof(a2), rv, d), u);
        kula_amount diff;
        if (gv == rv)
            fprintf(out, "%sthe values are equal: no credit moves\n", indent);
        else if (kula_amount_sub(&diff, kula_amount_of(gv > rv ? gv : rv),
                                 kula_amount_of(gv > rv ? rv : gv)))
            fprintf(out, "%s%s pays %s the difference, %s %s\n", indent, gv > rv ? o : f,
                    gv > rv ? f : o, txview_amount(a1, sizeof(a1), diff.v, d), u);
    } else if (strcmp(kind, "referral") == 0) {
        txview_who(o, sizeof(o), v, jint(tx, "receiver"));
        if (json_is_string(json_object_get(tx, "agreement")))
            fprintf(out, "%s%s refers a customer to %s; if it converts, %s pays the fee the "
                         "agreement %.12s.. sets\n", indent, f, o, o, jstr(tx, "agreement"));
        else
            fprintf(out, "%s%s refers a customer to %s; if it converts, %s pays %s %s %s\n",
                    indent, f, o, o, f, txview_amount(a1, sizeof(a1), jint(tx, "fee"), d), u);
    } else if (strcmp(kind, "conversion") == 0) {
        fprintf(out, "%s%s confirms that referral %.12s.. became a sale worth %s %s, and pays "
                     "the referrer its fee\n", indent, f, jstr(tx, "referral"),
                txview_amount(a1, sizeof(a1), jint(tx, "value"), d), u);
    } else if (strcmp(kind, "agreement-open") == 0 || strcmp(kind, "agreement-amend") == 0) {
        const json_t *parties = json_object_get(tx, "parties");
        bool open = kind[10] == 'o';
        if (parties == NULL)
            parties = ids;
        if (open) {
            fprintf(out, "%s%s opens the agreement %s, \"%s\", among:", indent, f,
                    txview_clean(t1, sizeof(t1), jstr(tx, "label")),
                    txview_clean(t2, sizeof(t2), jstr(tx, "title")));
            for (size_t k = 0; k < json_array_size(parties); k++)
                fprintf(out, "%s %s", k ? "," : "",
                        txview_who(o, sizeof(o), v, json_integer_value(json_array_get(parties, k))));
            fprintf(out, "\n%severy party signs: each is bound by its rule\n", indent);
        } else {
            fprintf(out, "%s%s changes agreement %.12s.. to \"%s\"; every party signs\n", indent,
                    f, jstr(tx, "agreement"), txview_clean(t2, sizeof(t2), jstr(tx, "title")));
        }
        rule_words(out, v, tx, json_object_get(tx, "rule"), parties, pool, contributed, indent);
    } else if (strcmp(kind, "contribute") == 0) {
        fprintf(out, "%s%s records a contribution worth %s %s to agreement %.12s..: \"%s\"\n",
                indent, f, txview_amount(a1, sizeof(a1), jint(tx, "value"), d), u,
                jstr(tx, "agreement"), txview_clean(t1, sizeof(t1), jstr(tx, "description")));
        fprintf(out, "%s%s acknowledges it by signing\n", indent,
                txview_who(o, sizeof(o), v, jint(tx, "acknowledger")));
    } else if (strcmp(kind, "benefit") == 0) {
        fprintf(out, "%s%s pays %s %s into the pool of agreement %.12s..%s%s\n", indent, f,
                txview_amount(a1, sizeof(a1), jint(tx, "amount"), d), u, jstr(tx, "agreement"),
                *jstr(tx, "description") ? ": " : "",
                txview_clean(t1, sizeof(t1), jstr(tx, "description")));
    } else if (strcmp(kind, "settle") == 0) {
        fprintf(out, "%s%s settles the pool of agreement %.12s..: it is paid out to the parties "
                     "by the agreement's rule\n", indent, f, jstr(tx, "agreement"));
        if (agreement != NULL)
            print_shares(out, v, json_object_get(agreement, "rule"), ids, contributed, pool,
                         indent);
    } else if (strcmp(kind, "agreement-close") == 0) {
        fprintf(out, "%s%s closes agreement %.12s..; every party signs\n", indent, f,
                jstr(tx, "agreement"));
    } else if (strcmp(kind, "feedback") == 0) {
        fprintf(out, "%s%s rates %s %" PRId64 "/5%s%s\n", indent, f,
                txview_who(o, sizeof(o), v, jint(tx, "about")), jint(tx, "rating"),
                *jstr(tx, "comment") ? ": " : "",
                txview_clean(t1, sizeof(t1), jstr(tx, "comment")));
    } else if (strcmp(kind, "propose") == 0) {
        fprintf(out, "%s%s proposes to the members (its own vote counts as yes):\n", indent, f);
        char deeper[64];
        snprintf(deeper, sizeof(deeper), "%s  ", indent);
        action_words(out, v, tx, deeper); /* the API joins the action's keys to the tx's */
    } else if (strcmp(kind, "vote") == 0) {
        fprintf(out, "%s%s votes %s on proposal %.12s..\n", indent, f,
                json_is_true(json_object_get(tx, "approve")) ? "yes" : "no",
                jstr(tx, "proposal"));
    } else if (strcmp(kind, "invoice") == 0) {
        char due[64];
        time_words(due, sizeof(due), v, jint(tx, "due"));
        fprintf(out, "%s%s bills %s %s %s under reference \"%s\", due %s\n", indent, f,
                txview_who(o, sizeof(o), v, jint(tx, "debtor")),
                txview_amount(a1, sizeof(a1), jint(tx, "amount"), d), u,
                txview_clean(t1, sizeof(t1), jstr(tx, "reference")), due);
        if (json_is_string(json_object_get(tx, "document")))
            fprintf(out, "%sits document's BLAKE2b-256 is %s\n", indent, jstr(tx, "document"));
        fprintf(out, "%sno credit moves until the debtor pays it\n", indent);
    } else if (strcmp(kind, "invoice-accept") == 0) {
        fprintf(out, "%s%s accepts invoice %.12s..: it owes it from now on\n", indent, f,
                jstr(tx, "invoice"));
    } else if (strcmp(kind, "invoice-dispute") == 0) {
        fprintf(out, "%s%s disputes invoice %.12s..: \"%s\"\n", indent, f, jstr(tx, "invoice"),
                txview_clean(t1, sizeof(t1), jstr(tx, "reason")));
    } else if (strcmp(kind, "invoice-cancel") == 0) {
        fprintf(out, "%s%s cancels its invoice %.12s..: nothing is owed on it any more\n",
                indent, f, jstr(tx, "invoice"));
    } else if (strcmp(kind, "invoice-pay") == 0) {
        fprintf(out, "%s%s pays %s %s of invoice %.12s.. to its issuer\n", indent, f,
                txview_amount(a1, sizeof(a1), jint(tx, "amount"), d), u, jstr(tx, "invoice"));
    } else if (strcmp(kind, "clearing-settle") == 0) {
        fprintf(out, json_is_true(json_object_get(tx, "settle"))
                         ? "%s%s asks that what it still owes after each clearing be paid from "
                           "its credit\n"
                         : "%s%s stops paying what it still owes at clearings\n",
                indent, f);
    } else {
        fprintf(out, "%s%s: %s\n", indent, kind, f);
    }
    if (*jstr(tx, "memo"))
        fprintf(out, "%smemo: %s\n", indent, txview_clean(t1, sizeof(t1), jstr(tx, "memo")));
    json_decref(ids);
    json_decref(contributed);
}

/* ---- fields ---- */

/* "2026-12-11 17:19:03 UTC", or in v's time ("2026-12-11 18:19:03
 * +01:00"), or "none" for 0 (a sequenced transaction). */
static void time_words(char *buf, size_t cap, const txview *v, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (ms == 0)
        snprintf(buf, cap, "none");
    else if (ms < 0)
        snprintf(buf, cap, "%" PRId64, ms);
    else if (v->time != NULL)
        v->time(buf, cap, ms, true);
    else if (gmtime_r(&t, &tm) == NULL || strftime(buf, cap, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
        snprintf(buf, cap, "?");
}

static bool is_amount_field(const json_t *tx, const char *k)
{
    static const char *const names[] = { "amount", "gives_value", "receives_value", "fee",
                                         "value", "credit_limit" };
    if (strcmp(k, "value") == 0 && json_is_string(json_object_get(tx, "action")))
        return txview_param_is_amount(jstr(tx, "name")); /* a param action */
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(k, names[i]) == 0)
            return true;
    return false;
}

static bool is_member_field(const char *k)
{
    static const char *const names[] = { "from", "to", "counterparty", "receiver",
                                         "acknowledger", "about", "member", "debtor" };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(k, names[i]) == 0)
            return true;
    return false;
}

void txview_fields(FILE *out, const txview *v, const json_t *tx, const char *indent)
{
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)tx, k, x) {
        char buf[600];
        if (json_is_string(x))
            txview_clean(buf, sizeof(buf), json_string_value(x));
        else if (json_is_integer(x) && is_amount_field(tx, k))
            txview_amount(buf, sizeof(buf), (int64_t)json_integer_value(x), v->decimals);
        else if (json_is_integer(x) && is_member_field(k))
            txview_who(buf, sizeof(buf), v, (int64_t)json_integer_value(x));
        else if (json_is_integer(x) && (strcmp(k, "expires") == 0 || strcmp(k, "due") == 0))
            time_words(buf, sizeof(buf), v, (int64_t)json_integer_value(x));
        else if (json_is_null(x))
            snprintf(buf, sizeof(buf), "-");
        else if (json_is_array(x) && (strcmp(k, "parties") == 0 || strcmp(k, "signers") == 0)) {
            size_t i, o = 0;
            json_t *m;
            buf[0] = '\0';
            json_array_foreach(x, i, m) {
                char w[240];
                txview_who(w, sizeof(w), v, (int64_t)json_integer_value(m));
                o += (size_t)snprintf(buf + o, o < sizeof(buf) ? sizeof(buf) - o : 0, "%s%s",
                                      i ? ", " : "", w);
                if (o >= sizeof(buf))
                    break;
            }
        } else if (json_is_object(x) && strcmp(k, "action") == 0) {
            fprintf(out, "%s%-16s\n", indent, k);
            char deeper[64];
            snprintf(deeper, sizeof(deeper), "%s  ", indent);
            txview_fields(out, v, x, deeper);
            continue;
        } else {
            char *text = json_dumps(x, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
            txview_clean(buf, sizeof(buf), text != NULL ? text : "?");
            free(text);
        }
        fprintf(out, "%s%-16s %s\n", indent, k, buf[0] != '\0' ? buf : "-");
    }
}
