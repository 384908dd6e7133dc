/* cmd_report.c -- kula report and kula graph: ecosystem analytics from the
 * ledger alone (definitions in include/kula/audit/analytics.h). */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kula/base/amount.h"
#include "kula/audit/analytics.h"
#include "kula/audit/audit.h"
#include "kula/base/error.h"

static const char report_usage[] =
    "Usage: kula report [DATADIR] [--period day|week|month] [--json]\n"
    "\n"
    "Ecosystem analytics of a node's ledger (DATADIR/ledger; DATADIR defaults\n"
    "to --datadir), computed offline by replaying it from the genesis:\n"
    "  - per period (UTC days, ISO weeks or months; default month): transactions,\n"
    "    active members, volume, benefits paid into agreements, settlements;\n"
    "  - network: members, trading pairs and density (pairs / (n(n-1)/2));\n"
    "  - per member: value given and received, settlement benefits, partners,\n"
    "    transactions, balance, average rating;\n"
    "  - per agreement: each party's share of the benefits against its share\n"
    "    of the contributions;\n"
    "  - concentration of settlement benefits among agreement parties (Gini, HHI);\n"
    "  - clearings, in all and per period: the debt at the clearings, how much\n"
    "    of it they set off and its share (a percentage, rounded to 0.1), and\n"
    "    the largest creditors and debtors left after the latest clearing.\n"
    "Volume counts value handed from member to member: transfers, both sides of\n"
    "an exchange (goods plus the settled difference), referral fees and invoice\n"
    "payments, those a clearing made from a member's credit (kula clearing\n"
    "settle on) included and shown apart as 'paid at clearings'.\n"
    "include/kula/audit/analytics.h defines every figure.\n"
    "\n"
    "Exit status: 0 ok; 1 the ledger cannot be read or replayed; 3 usage.\n";

static const char graph_usage[] =
    "Usage: kula graph [DATADIR] [--min-volume AMOUNT]\n"
    "\n"
    "Writes the member trade graph of a node's ledger as Graphviz DOT to standard\n"
    "output: one node per member (labelled with its name and id), one edge per\n"
    "direction in which value flowed between two members, labelled with the\n"
    "total value, its width growing with it.  Removed members are dashed.\n"
    "  --min-volume AMOUNT  leave out edges with less total value (in units)\n"
    "Render with, e.g.: kula graph | dot -Tsvg > graph.svg\n"
    "\n"
    "Exit status: 0 ok; 1 the ledger cannot be read or replayed; 3 usage.\n";

static const char *rule_name(uint8_t kind)
{
    const char *name = kula_rule_kind_name(kind);
    return name != NULL ? name : "?";
}

/* Opens the archive of DATADIR (or --datadir).  Returns 0 or an exit code. */
static int open_archive(cli *c, int argi, kula_archive **out)
{
    if (c->argc - argi > 1)
        return cli_fail(CLI_USAGE, "%s: expected at most one DATADIR", c->argv[0]);
    const char *dir = argi < c->argc ? c->argv[argi] : c->datadir;
    kula_error err;
    if (kula_archive_open(out, dir, &err) != 0)
        return cli_fail(CLI_REFUSED, "%s", err.what);
    return 0;
}

/* Computes the analytics; on failure closes the archive.  Returns 0 or an
 * exit code. */
static int compute(kula_archive *a, kula_analytics *an, enum kula_period_kind period)
{
    kula_error e;
    uint64_t bad = 0;
    int rc = kula_analytics_compute(an, a, period, &e, &bad);
    if (rc == 0)
        return 0;
    kula_analytics_free(an);
    kula_archive_close(a);
    if (bad != 0)
        return cli_fail(CLI_REFUSED, "the ledger does not replay at height %llu: %s "
                                     "(run kula audit)",
                        (unsigned long long)bad, e.what);
    return cli_fail(CLI_REFUSED, "cannot compute the analytics: %s", kula_strerror(rc));
}

/* ---- text ---- */

typedef struct fmt {
    unsigned decimals;
    char b[8][64];
    int i;
} fmt;

static const char *sum_s(fmt *f, kula_sum v)
{
    char *b = f->b[f->i++ % 8];
    if (kula_sum_format(b, 64, v, f->decimals) < 0)
        snprintf(b, 64, "?");
    return b;
}

static const char *amt_s(fmt *f, int64_t v)
{
    char *b = f->b[f->i++ % 8];
    if (kula_amount_format(b, 64, kula_amount_of(v), f->decimals) < 0)
        snprintf(b, 64, "?");
    return b;
}

static const char *share_s(fmt *f, double v)
{
    char *b = f->b[f->i++ % 8];
    if (v < 0)
        snprintf(b, 64, "-");
    else
        snprintf(b, 64, "%.1f%%", v * 100);
    return b;
}

static const char *pct_s(fmt *f, kula_sum part, kula_sum whole)
{
    char *b = f->b[f->i++ % 8];
    if (kula_share_format(b, 64, part, whole) < 0)
        snprintf(b, 64, "?");
    else if (whole != 0)
        strcat(b, "%");
    return b;
}

static void print_ranks(const kula_analytics *an, fmt *f, const char *unit, const char *title,
                        const kula_debt_rank *r, uint32_t n)
{
    printf("  %s%s\n", title, n == 0 ? ": none" : "");
    for (uint32_t i = 0; i < n; i++)
        printf("    #%-5u %-22.22s %16s %s\n", r[i].member, an->members[r[i].member - 1].name,
               sum_s(f, r[i].amount), unit);
}

/* Clearings: in all, the latest, who is owed and owes after it, per period. */
static void print_clearings(const kula_genesis *g, const kula_analytics *an, fmt *f)
{
    const kula_clearing_stats *cs = &an->clearing;
    printf("\nClearings\n");
    if (cs->count == 0) {
        printf("  none yet\n");
        return;
    }
    char t[32];
    kula_format_utc(t, sizeof(t), cs->last_ms);
    printf("  clearings            %llu: debt at clearings %s %s, cleared %s %s (%s)\n",
           (unsigned long long)cs->count, sum_s(f, cs->debt), g->unit, sum_s(f, cs->cleared),
           g->unit, pct_s(f, cs->cleared, cs->debt));
    printf("  latest               number %llu at height %llu (%s): debt %s, cleared %s (%s), "
           "remaining %s %s\n",
           (unsigned long long)cs->last, (unsigned long long)cs->last_height, t,
           sum_s(f, cs->last_debt), sum_s(f, cs->last_cleared),
           pct_s(f, cs->last_cleared, cs->last_debt), sum_s(f, cs->last_remaining), g->unit);
    print_ranks(an, f, g->unit, "largest creditors after it (still owed to them)",
                cs->creditors, cs->ncreditors);
    print_ranks(an, f, g->unit, "largest debtors after it (still owing)", cs->debtors,
                cs->ndebtors);
    printf("  %-10s %9s %18s %18s %7s\n", "period", "clearings", "debt at clearings", "cleared",
           "share");
    for (size_t i = 0; i < an->nperiods; i++) {
        const kula_period_stats *p = &an->periods[i];
        if (p->clearings > 0)
            printf("  %-10s %9u %18s %18s %7s\n", p->label, p->clearings,
                   sum_s(f, p->clearing_debt), sum_s(f, p->cleared),
                   pct_s(f, p->cleared, p->clearing_debt));
    }
}

static void print_text(const kula_archive *a, const kula_analytics *an)
{
    const kula_genesis *g = kula_archive_genesis(a);
    fmt f = { .decimals = g->decimals };
    char t0[32], t1[32];
    kula_format_utc(t0, sizeof(t0), an->first_ms);
    kula_format_utc(t1, sizeof(t1), an->last_ms);
    uint32_t active = 0;
    for (uint32_t i = 0; i < an->nmembers; i++)
        active += an->members[i].status == KULA_MEMBER_ACTIVE;
    printf("Kula ledger report: network %s, unit %s, height %llu\n", g->network, g->unit,
           (unsigned long long)an->height);
    if (an->txs > 0)
        printf("%llu transactions from %s to %s\n", (unsigned long long)an->txs, t0, t1);
    else
        printf("no transactions yet\n");
    printf("\nNetwork\n");
    printf("  members              %u (%u active)\n", an->nmembers, active);
    printf("  trading pairs        %llu, density %.4f\n", (unsigned long long)an->pairs,
           an->density);
    printf("  volume               %s %s\n", sum_s(&f, an->volume), g->unit);
    if (an->payments > 0)
        printf("  paid at clearings    %s %s from credit, by %llu payments of clearings' "
               "settlements (in the volume)\n",
               sum_s(&f, an->settled), g->unit, (unsigned long long)an->payments);
    printf("  benefits paid in     %s %s, distributed %s %s\n", sum_s(&f, an->benefits),
           g->unit, sum_s(&f, an->distributed), g->unit);
    printf("  benefit concentration  Gini %.4f, HHI %.4f (over %u agreement parties)\n",
           an->gini, an->hhi, an->benefit_members);

    printf("\nPer %s\n", kula_period_name(an->period));
    printf("  %-10s %8s %7s %16s %16s %16s %18s\n", "period", "txs", "active", "volume",
           "benefits", "distributed", "paid at clearings");
    for (size_t i = 0; i < an->nperiods; i++) {
        const kula_period_stats *p = &an->periods[i];
        printf("  %-10s %8llu %7u %16s %16s %16s %18s\n", p->label, (unsigned long long)p->txs,
               p->active_members, sum_s(&f, p->volume), sum_s(&f, p->benefits),
               sum_s(&f, p->distributed), sum_s(&f, p->settled));
    }

    print_clearings(g, an, &f);

    printf("\nMembers\n");
    printf("  %5s %-22s %14s %14s %14s %8s %6s %12s %s\n", "id", "name", "given", "received",
           "benefits", "partners", "txs", "balance", "rating");
    for (uint32_t i = 0; i < an->nmembers; i++) {
        const kula_member_stats *m = &an->members[i];
        char rating[32];
        if (m->rating_count > 0)
            snprintf(rating, sizeof(rating), "%.2f (%llu)", m->rating,
                     (unsigned long long)m->rating_count);
        else
            snprintf(rating, sizeof(rating), "-");
        printf("  %5u %-22.22s %14s %14s %14s %8u %6llu %12s %s%s\n", m->id, m->name,
               sum_s(&f, m->given), sum_s(&f, m->received), sum_s(&f, m->benefits),
               m->partners, (unsigned long long)m->txs, amt_s(&f, m->balance), rating,
               m->status == KULA_MEMBER_ACTIVE ? "" : " [removed]");
    }

    if (an->nagreements > 0)
        printf("\nAgreements (share of benefits against share of contributions)\n");
    for (size_t k = 0; k < an->nagreements; k++) {
        const kula_agreement_stats *s = &an->agreements[k];
        char hex[2 * KULA_HASH_LEN + 1];
        kula_hex_encode(hex, s->id.b, KULA_HASH_LEN);
        printf("  %s \"%s\" (%.16s, %s, rule %s, opened at %llu): benefits %s, %llu "
               "settlements, pool %s\n",
               s->label, s->title, hex, s->status == KULA_AGREEMENT_OPEN ? "open" : "closed",
               rule_name(s->rule), (unsigned long long)s->opened, amt_s(&f, s->benefits),
               (unsigned long long)s->settlements, amt_s(&f, s->pool));
        printf("    %5s %-22s %14s %8s %14s %8s\n", "id", "name", "contributed", "share",
               "received", "share");
        for (uint32_t i = 0; i < s->nparties; i++) {
            const kula_member_stats *m = &an->members[s->parties[i] - 1];
            printf("    %5u %-22.22s %14s %8s %14s %8s\n", s->parties[i], m->name,
                   amt_s(&f, s->contributed[i]), share_s(&f, s->contribution_share[i]),
                   amt_s(&f, s->received[i]), share_s(&f, s->benefit_share[i]));
        }
    }
}

/* ---- JSON ---- */

static json_t *jsum(unsigned decimals, kula_sum v)
{
    char b[64];
    return kula_sum_format(b, sizeof(b), v, decimals) < 0 ? json_null() : json_string(b);
}

static json_t *jamt(unsigned decimals, int64_t v)
{
    char b[64];
    return kula_amount_format(b, sizeof(b), kula_amount_of(v), decimals) < 0 ? json_null()
                                                                             : json_string(b);
}

/* A ratio rounded to 4 decimals (presentation). */
static json_t *jratio(double v)
{
    if (!(v >= 0)) /* also NaN */
        return json_null();
    return json_real((double)(long long)(v * 1e4 + 0.5) / 1e4);
}

static json_t *jtime(uint64_t ms)
{
    char b[32];
    kula_format_utc(b, sizeof(b), ms);
    return json_string(b);
}

/* part / whole as a percentage with one decimal ("80.0"), null when whole is 0. */
static json_t *jpct(kula_sum part, kula_sum whole)
{
    char b[64];
    return whole == 0 || kula_share_format(b, sizeof(b), part, whole) < 0 ? json_null()
                                                                          : json_string(b);
}

static json_t *jranks(const kula_analytics *an, unsigned d, const kula_debt_rank *r, uint32_t n)
{
    json_t *arr = json_array();
    for (uint32_t i = 0; i < n; i++) {
        json_t *x = json_object();
        json_object_set_new(x, "member", json_integer(r[i].member));
        json_object_set_new(x, "name", json_string(an->members[r[i].member - 1].name));
        json_object_set_new(x, "amount", jsum(d, r[i].amount));
        json_array_append_new(arr, x);
    }
    return arr;
}

static json_t *jclearings(const kula_analytics *an, unsigned d)
{
    const kula_clearing_stats *cs = &an->clearing;
    json_t *o = json_object();
    json_object_set_new(o, "count", json_integer((json_int_t)cs->count));
    json_object_set_new(o, "debt", jsum(d, cs->debt));
    json_object_set_new(o, "cleared", jsum(d, cs->cleared));
    json_object_set_new(o, "cleared_percent", jpct(cs->cleared, cs->debt));
    json_t *last = json_null();
    if (cs->count > 0) {
        last = json_object();
        json_object_set_new(last, "number", json_integer((json_int_t)cs->last));
        json_object_set_new(last, "height", json_integer((json_int_t)cs->last_height));
        json_object_set_new(last, "time", jtime(cs->last_ms));
        json_object_set_new(last, "debt", jsum(d, cs->last_debt));
        json_object_set_new(last, "cleared", jsum(d, cs->last_cleared));
        json_object_set_new(last, "remaining", jsum(d, cs->last_remaining));
        json_object_set_new(last, "cleared_percent", jpct(cs->last_cleared, cs->last_debt));
    }
    json_object_set_new(o, "latest", last);
    json_object_set_new(o, "creditors", jranks(an, d, cs->creditors, cs->ncreditors));
    json_object_set_new(o, "debtors", jranks(an, d, cs->debtors, cs->ndebtors));
    return o;
}

static int print_json(const kula_archive *a, const kula_analytics *an)
{
    const kula_genesis *g = kula_archive_genesis(a);
    unsigned d = g->decimals;
    json_t *o = json_object();
    json_object_set_new(o, "network", json_string(g->network));
    json_object_set_new(o, "unit", json_string(g->unit));
    json_object_set_new(o, "decimals", json_integer(d));
    json_object_set_new(o, "height", json_integer((json_int_t)an->height));
    json_object_set_new(o, "period", json_string(kula_period_name(an->period)));
    json_object_set_new(o, "transactions", json_integer((json_int_t)an->txs));
    json_object_set_new(o, "first", an->txs ? jtime(an->first_ms) : json_null());
    json_object_set_new(o, "last", an->txs ? jtime(an->last_ms) : json_null());
    json_object_set_new(o, "member_count", json_integer(an->nmembers));
    json_object_set_new(o, "volume", jsum(d, an->volume));
    json_object_set_new(o, "settled", jsum(d, an->settled));
    json_object_set_new(o, "settlement_payments", json_integer((json_int_t)an->payments));
    json_object_set_new(o, "benefits", jsum(d, an->benefits));
    json_object_set_new(o, "distributed", jsum(d, an->distributed));
    json_object_set_new(o, "trading_pairs", json_integer((json_int_t)an->pairs));
    json_object_set_new(o, "density", jratio(an->density));
    json_t *conc = json_object();
    json_object_set_new(conc, "members", json_integer(an->benefit_members));
    json_object_set_new(conc, "gini", jratio(an->gini));
    json_object_set_new(conc, "hhi", jratio(an->hhi));
    json_object_set_new(o, "benefit_concentration", conc);
    json_t *ps = json_array();
    for (size_t i = 0; i < an->nperiods; i++) {
        const kula_period_stats *p = &an->periods[i];
        json_t *x = json_object();
        json_object_set_new(x, "period", json_string(p->label));
        json_object_set_new(x, "start", jtime(p->start_ms));
        json_object_set_new(x, "transactions", json_integer((json_int_t)p->txs));
        json_object_set_new(x, "active_members", json_integer(p->active_members));
        json_object_set_new(x, "volume", jsum(d, p->volume));
        json_object_set_new(x, "settled", jsum(d, p->settled));
        json_object_set_new(x, "settlement_payments", json_integer((json_int_t)p->payments));
        json_object_set_new(x, "benefits", jsum(d, p->benefits));
        json_object_set_new(x, "distributed", jsum(d, p->distributed));
        json_object_set_new(x, "clearings", json_integer(p->clearings));
        json_object_set_new(x, "clearing_debt", jsum(d, p->clearing_debt));
        json_object_set_new(x, "cleared", jsum(d, p->cleared));
        json_object_set_new(x, "cleared_percent", jpct(p->cleared, p->clearing_debt));
        json_array_append_new(ps, x);
    }
    json_object_set_new(o, "periods", ps);
    json_object_set_new(o, "clearing", jclearings(an, d));
    json_t *ms = json_array();
    for (uint32_t i = 0; i < an->nmembers; i++) {
        const kula_member_stats *m = &an->members[i];
        json_t *x = json_object();
        json_object_set_new(x, "id", json_integer(m->id));
        json_object_set_new(x, "name", json_string(m->name));
        json_object_set_new(x, "sector", json_string(m->sector));
        json_object_set_new(x, "active", json_boolean(m->status == KULA_MEMBER_ACTIVE));
        json_object_set_new(x, "balance", jamt(d, m->balance));
        json_object_set_new(x, "given", jsum(d, m->given));
        json_object_set_new(x, "received", jsum(d, m->received));
        json_object_set_new(x, "benefits", jsum(d, m->benefits));
        json_object_set_new(x, "contributed", jsum(d, m->contributed));
        json_object_set_new(x, "partners", json_integer(m->partners));
        json_object_set_new(x, "transactions", json_integer((json_int_t)m->txs));
        json_object_set_new(x, "rating", m->rating_count ? json_real((double)(long long)(m->rating * 100 + 0.5) / 100)
                                                         : json_null());
        json_object_set_new(x, "ratings", json_integer((json_int_t)m->rating_count));
        json_array_append_new(ms, x);
    }
    json_object_set_new(o, "members", ms);
    json_t *as = json_array();
    for (size_t k = 0; k < an->nagreements; k++) {
        const kula_agreement_stats *s = &an->agreements[k];
        char hex[2 * KULA_HASH_LEN + 1];
        kula_hex_encode(hex, s->id.b, KULA_HASH_LEN);
        json_t *x = json_object();
        json_object_set_new(x, "id", json_string(hex));
        json_object_set_new(x, "label", json_string(s->label));
        json_object_set_new(x, "title", json_string(s->title));
        json_object_set_new(x, "status", json_string(s->status == KULA_AGREEMENT_OPEN ? "open"
                                                                                      : "closed"));
        json_object_set_new(x, "rule", json_string(rule_name(s->rule)));
        json_object_set_new(x, "opened", json_integer((json_int_t)s->opened));
        json_object_set_new(x, "settlements", json_integer((json_int_t)s->settlements));
        json_object_set_new(x, "benefits", jamt(d, s->benefits));
        json_object_set_new(x, "pool", jamt(d, s->pool));
        json_t *parties = json_array();
        for (uint32_t i = 0; i < s->nparties; i++) {
            json_t *p = json_object();
            json_object_set_new(p, "member", json_integer(s->parties[i]));
            json_object_set_new(p, "name", json_string(an->members[s->parties[i] - 1].name));
            json_object_set_new(p, "contributed", jamt(d, s->contributed[i]));
            json_object_set_new(p, "contribution_share", jratio(s->contribution_share[i]));
            json_object_set_new(p, "received", jamt(d, s->received[i]));
            json_object_set_new(p, "benefit_share", jratio(s->benefit_share[i]));
            json_array_append_new(parties, p);
        }
        json_object_set_new(x, "parties", parties);
        json_array_append_new(as, x);
    }
    json_object_set_new(o, "agreements", as);
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    json_decref(o);
    if (s == NULL)
        return cli_fail(CLI_REFUSED, "out of memory");
    puts(s);
    free(s);
    return CLI_OK;
}

int cmd_report(cli *c)
{
    static const struct option opts[] = {
        { "period", required_argument, NULL, 'p' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    enum kula_period_kind period = KULA_PERIOD_MONTH;
    bool json = c->json;
    int opt;
    optind = 0;
    while ((opt = getopt_long(c->argc, c->argv, ":h", opts, NULL)) != -1) {
        switch (opt) {
        case 'p':
            if (strcmp(optarg, "day") == 0)
                period = KULA_PERIOD_DAY;
            else if (strcmp(optarg, "week") == 0)
                period = KULA_PERIOD_WEEK;
            else if (strcmp(optarg, "month") == 0)
                period = KULA_PERIOD_MONTH;
            else
                return cli_fail(CLI_USAGE, "--period: day, week or month, not '%s'", optarg);
            break;
        case 'j': json = true; break;
        case 'h': fputs(report_usage, stdout); return CLI_OK;
        case ':': return cli_fail(CLI_USAGE, "%s: missing value", c->argv[optind - 1]);
        default: return cli_fail(CLI_USAGE, "report: bad option '%s' (see kula report --help)",
                                 c->argv[optind - 1]);
        }
    }
    kula_analytics an;
    kula_archive *a;
    int rc = open_archive(c, optind, &a);
    if (rc != 0 || (rc = compute(a, &an, period)) != 0)
        return rc;
    if (json)
        rc = print_json(a, &an);
    else
        print_text(a, &an);
    kula_analytics_free(&an);
    kula_archive_close(a);
    return rc;
}

/* ---- graph ---- */

/* A DOT double-quoted string. */
static void dot_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', out);
        if (*s == '\n')
            fputs("\\n", out);
        else
            fputc(*s, out);
    }
    fputc('"', out);
}

int cmd_graph(cli *c)
{
    static const struct option opts[] = {
        { "min-volume", required_argument, NULL, 'm' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *min_text = NULL;
    int opt;
    optind = 0;
    while ((opt = getopt_long(c->argc, c->argv, ":h", opts, NULL)) != -1) {
        switch (opt) {
        case 'm': min_text = optarg; break;
        case 'h': fputs(graph_usage, stdout); return CLI_OK;
        case ':': return cli_fail(CLI_USAGE, "%s: missing value", c->argv[optind - 1]);
        default: return cli_fail(CLI_USAGE, "graph: bad option '%s' (see kula graph --help)",
                                 c->argv[optind - 1]);
        }
    }
    kula_analytics an;
    kula_archive *a;
    int rc = open_archive(c, optind, &a);
    if (rc != 0)
        return rc;
    const kula_genesis *g = kula_archive_genesis(a);
    kula_amount min = kula_amount_of(0);
    if (min_text != NULL && (kula_amount_parse(&min, min_text, g->decimals) != 0 || min.v < 0)) {
        rc = cli_fail(CLI_USAGE, "--min-volume: an amount of %s with at most %u decimals",
                      g->unit, g->decimals);
        kula_archive_close(a);
        return rc;
    }
    if ((rc = compute(a, &an, KULA_PERIOD_MONTH)) != 0)
        return rc;
    kula_sum max = 0;
    for (size_t i = 0; i < an.nflows; i++)
        if (an.flows[i].value > max)
            max = an.flows[i].value;
    char label[256], value[64];
    printf("// kula graph: network %s at height %llu; edge labels in %s\n", g->network,
           (unsigned long long)an.height, g->unit);
    printf("digraph kula {\n  rankdir=LR;\n  node [shape=box, style=rounded];\n");
    for (uint32_t i = 0; i < an.nmembers; i++) {
        const kula_member_stats *m = &an.members[i];
        snprintf(label, sizeof(label), "%s\n#%u", m->name, m->id);
        printf("  m%u [label=", m->id);
        dot_string(stdout, label);
        printf("%s];\n", m->status == KULA_MEMBER_ACTIVE ? "" : ", style=\"rounded,dashed\"");
    }
    for (size_t i = 0; i < an.nflows; i++) {
        const kula_flow *fl = &an.flows[i];
        if (fl->value < (kula_sum)min.v || (min.v > 0 && fl->value == 0))
            continue;
        kula_sum_format(value, sizeof(value), fl->value, g->decimals);
        double w = max > 0 ? 1.0 + 5.0 * (double)fl->value / (double)max : 1.0;
        printf("  m%u -> m%u [label=", fl->from, fl->to);
        dot_string(stdout, value);
        printf(", penwidth=%.2f, weight=%llu];\n", w, (unsigned long long)fl->txs);
    }
    printf("}\n");
    kula_analytics_free(&an);
    kula_archive_close(a);
    return CLI_OK;
}
