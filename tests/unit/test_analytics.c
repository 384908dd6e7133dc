/* test_analytics.c -- kula report's figures (node/audit/analytics.c) on the small
 * ledger of ledgerfix.h, against values computed by hand. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kula/audit/analytics.h"
#include "ledgerfix.h"

static lf F;

static void setup(void) { lf_init(&F); }
static void teardown(void) { lf_free(&F); }

TestSuite(analytics, .init = setup, .fini = teardown, .timeout = 60);

#define NEAR(a, b) (fabs((a) - (b)) < 1e-9)

static void compute(kula_analytics *an, enum kula_period_kind p)
{
    kula_archive *a;
    kula_error err;
    cr_assert_eq(kula_archive_open(&a, F.dir, &err), 0, "%s", err.what);
    kula_error e;
    uint64_t bad;
    int rc = kula_analytics_compute(an, a, p, &e, &bad);
    cr_assert_eq(rc, 0, "analytics: %s at %llu: %s", kula_strerror(rc), (unsigned long long)bad,
                 e.what);
    kula_archive_close(a);
}

Test(analytics, the_small_ledger_by_hand)
{
    lf_scenario(&F);
    kula_analytics an;
    compute(&an, KULA_PERIOD_MONTH);
    cr_assert_eq(an.height, 5);
    cr_assert_eq(an.txs, 15);
    cr_assert_eq(an.nmembers, 4);
    /* flows: 1->2 1000; exchange 2<->3, each side max(5000, 3000); 3->4 500 */
    cr_assert_eq(an.nflows, 4);
    cr_assert(an.volume == 11500);
    cr_assert(kula_analytics_flow(&an, 1, 2)->value == 1000);
    cr_assert(kula_analytics_flow(&an, 2, 3)->value == 5000);
    cr_assert(kula_analytics_flow(&an, 3, 2)->value == 5000);
    cr_assert(kula_analytics_flow(&an, 3, 4)->value == 500);
    cr_assert_null(kula_analytics_flow(&an, 2, 1));
    /* pairs {1,2} {2,3} {3,4} of 6 possible */
    cr_assert_eq(an.pairs, 3);
    cr_assert(NEAR(an.density, 0.5), "density %f", an.density);
    static const uint32_t partners[] = { 1, 2, 2, 1 };
    /* given: 1 transfer + 1 benefit; 2 exchange; 3 exchange + transfer; 4 benefits */
    static const uint64_t given[] = { 1001, 5000, 5500, 10999 };
    static const uint64_t received[] = { 6600, 9300, 6100, 500 };
    static const uint64_t benefits[] = { 6600, 3300, 1100, 0 };
    static const uint64_t contributed[] = { 6000, 3000, 1000, 0 };
    static const int64_t balance[] = { 5599, 1000 + 2000 + 3300, -2000 + 1100 - 500, -10499 };
    for (uint32_t i = 0; i < 4; i++) {
        const kula_member_stats *m = &an.members[i];
        cr_assert_eq(m->id, i + 1);
        cr_assert_str_eq(m->name, lf_names[i + 1]);
        cr_assert_eq(m->partners, partners[i], "member %u partners %u", i + 1, m->partners);
        cr_assert(m->given == given[i], "member %u given %llu", i + 1,
                  (unsigned long long)m->given);
        cr_assert(m->received == received[i], "member %u received %llu", i + 1,
                  (unsigned long long)m->received);
        cr_assert(m->benefits == benefits[i]);
        cr_assert(m->contributed == contributed[i]);
        cr_assert_eq(m->balance, balance[i], "member %u balance %lld", i + 1,
                     (long long)m->balance);
        cr_assert_eq(m->in_agreement, i < 3);
    }
    /* ratings: 2 got a 5 and a 3 */
    cr_assert_eq(an.members[1].rating_count, 2);
    cr_assert(NEAR(an.members[1].rating, 4.0));
    cr_assert_eq(an.members[0].rating_count, 0);
    cr_assert(NEAR(an.members[0].rating, 0));
    /* benefits 6600, 3300, 1100 among the 3 parties:
     * Gini = (|66-33| + |66-11| + |33-11|) * 2 / (2 * 3 * 110) = 1/3;
     * HHI = 0.6^2 + 0.3^2 + 0.1^2 = 0.46 */
    cr_assert_eq(an.benefit_members, 3);
    cr_assert(NEAR(an.gini, 1.0 / 3.0), "gini %f", an.gini);
    cr_assert(NEAR(an.hhi, 0.46), "hhi %f", an.hhi);
    cr_assert(an.benefits == 11000);
    cr_assert(an.distributed == 11000);
    /* the agreement: shares of benefits against shares of contributions */
    cr_assert_eq(an.nagreements, 1);
    const kula_agreement_stats *s = &an.agreements[0];
    cr_assert_str_eq(s->label, "fair");
    cr_assert_eq(s->status, KULA_AGREEMENT_CLOSED);
    cr_assert_eq(s->rule, KULA_RULE_PRORATA);
    cr_assert_eq(s->settlements, 2);
    cr_assert_eq(s->benefits, 11000);
    cr_assert_eq(s->pool, 0);
    static const double share[] = { 0.6, 0.3, 0.1 };
    for (uint32_t i = 0; i < 3; i++) {
        cr_assert_eq(s->parties[i], i + 1);
        cr_assert(NEAR(s->contribution_share[i], share[i]));
        cr_assert(NEAR(s->benefit_share[i], share[i]));
    }
    /* months: January (blocks 1-2) and February (blocks 3-5) */
    cr_assert_eq(an.nperiods, 2);
    cr_assert_str_eq(an.periods[0].label, "2026-01");
    cr_assert_eq(an.periods[0].txs, 6);
    cr_assert_eq(an.periods[0].active_members, 3);
    cr_assert(an.periods[0].volume == 11000);
    cr_assert(an.periods[0].benefits == 0);
    cr_assert_str_eq(an.periods[1].label, "2026-02");
    cr_assert_eq(an.periods[1].txs, 9);
    cr_assert_eq(an.periods[1].active_members, 4);
    cr_assert(an.periods[1].volume == 500);
    cr_assert(an.periods[1].benefits == 11000);
    cr_assert(an.periods[1].distributed == 11000);
    kula_analytics_free(&an);
}

Test(analytics, days_and_iso_weeks)
{
    lf_scenario(&F);
    kula_analytics an;
    compute(&an, KULA_PERIOD_DAY);
    cr_assert_eq(an.nperiods, 5);
    cr_assert_str_eq(an.periods[0].label, "2026-01-05");
    cr_assert_str_eq(an.periods[4].label, "2026-02-11");
    kula_analytics_free(&an);
    compute(&an, KULA_PERIOD_WEEK);
    /* 2026-01-05 is the Monday of ISO week 2; Jan 20 week 4; Feb 3 week 6;
     * Feb 10 and 11 week 7 */
    cr_assert_eq(an.nperiods, 4);
    cr_assert_str_eq(an.periods[0].label, "2026-W02");
    cr_assert_str_eq(an.periods[1].label, "2026-W04");
    cr_assert_str_eq(an.periods[2].label, "2026-W06");
    cr_assert_str_eq(an.periods[3].label, "2026-W07");
    cr_assert_eq(an.periods[3].txs, 5);
    char t[32];
    kula_format_utc(t, sizeof(t), an.periods[1].start_ms);
    cr_assert_str_eq(t, "2026-01-19T00:00:00Z");
    kula_analytics_free(&an);
}

Test(analytics, empty_ledger)
{
    kula_analytics an;
    compute(&an, KULA_PERIOD_MONTH);
    cr_assert_eq(an.txs, 0);
    cr_assert_eq(an.nmembers, 4);
    cr_assert_eq(an.pairs, 0);
    cr_assert(NEAR(an.density, 0));
    cr_assert(NEAR(an.gini, 0));
    cr_assert(NEAR(an.hhi, 0));
    cr_assert_eq(an.nperiods, 0);
    kula_analytics_free(&an);
}

Test(analytics, gini_and_hhi)
{
    const double equal[] = { 5, 5, 5, 5 };
    cr_assert(NEAR(kula_gini(equal, 4), 0));
    cr_assert(NEAR(kula_hhi(equal, 4), 0.25));
    const double one[] = { 0, 0, 0, 8 };
    cr_assert(NEAR(kula_gini(one, 4), 0.75)); /* 1 - 1/n */
    cr_assert(NEAR(kula_hhi(one, 4), 1));
    const double x[] = { 3, 1, 2 }; /* |3-1| + |3-2| + |1-2| = 4; 2*4 / (2*3*6) */
    cr_assert(NEAR(kula_gini(x, 3), 8.0 / 36.0));
    cr_assert(NEAR(kula_hhi(x, 3), (9.0 + 1 + 4) / 36));
    cr_assert(NEAR(kula_gini(x, 0), 0));
}

Test(analytics, sum_format)
{
    char b[64];
    cr_assert_eq(kula_sum_format(b, sizeof(b), 0, 2), 4);
    cr_assert_str_eq(b, "0.00");
    kula_sum_format(b, sizeof(b), 5, 2);
    cr_assert_str_eq(b, "0.05");
    kula_sum_format(b, sizeof(b), 123456, 2);
    cr_assert_str_eq(b, "1234.56");
    kula_sum_format(b, sizeof(b), 42, 0);
    cr_assert_str_eq(b, "42");
    /* beyond int64: 2^64 */
    kula_sum big = (kula_sum)UINT64_MAX + 1;
    kula_sum_format(b, sizeof(b), big, 3);
    cr_assert_str_eq(b, "18446744073709551.616");
    cr_assert_eq(kula_sum_format(b, 4, 123456, 2), -1);
}

/* The share of debt cleared: integers, one decimal, rounded down. */
Test(analytics, share_format)
{
    char b[16];
    cr_assert_eq(kula_share_format(b, sizeof(b), 240, 300), 4);
    cr_assert_str_eq(b, "80.0");
    kula_share_format(b, sizeof(b), 2, 3);
    cr_assert_str_eq(b, "66.6");
    kula_share_format(b, sizeof(b), 1, 16); /* 6.25 */
    cr_assert_str_eq(b, "6.2");
    kula_share_format(b, sizeof(b), 1, 3000); /* 0.0333 */
    cr_assert_str_eq(b, "0.0");
    kula_share_format(b, sizeof(b), 7, 7);
    cr_assert_str_eq(b, "100.0");
    kula_share_format(b, sizeof(b), 0, 0);
    cr_assert_str_eq(b, "-");
    /* sums beyond 64 bits: 2^90 - 1 of 2^90 */
    kula_sum whole = (kula_sum)1 << 90;
    kula_share_format(b, sizeof(b), whole - 1, whole); /* not all: not 100.0 */
    cr_assert_str_eq(b, "99.9");
    kula_share_format(b, sizeof(b), whole / 8, whole);
    cr_assert_str_eq(b, "12.5");
    cr_assert_eq(kula_share_format(b, 4, 240, 300), -1);
}

/* Counting alone (no ledger): members far apart in id make the member
 * table grow between the two sides of one flow. */
Test(analytics, flows_between_distant_member_ids)
{
    kula_analytics an;
    cr_assert_eq(kula_analytics_init(&an, KULA_PERIOD_DAY), 0);
    static const uint32_t pairs[][2] = { { 1, 500 }, { 700, 2 }, { 3, 4000 }, { 9000, 8999 },
                                         { 1, 500 } };
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        kula_tx tx;
        memset(&tx, 0, sizeof(tx));
        tx.kind = KULA_TX_TRANSFER;
        tx.from = pairs[i][0];
        tx.nonce = 1;
        tx.u.transfer.to = pairs[i][1];
        tx.u.transfer.amount = 100 + (int64_t)i;
        tx.nsigs = 1;
        tx.sigs[0].signer = tx.from;
        kula_replay_tx t;
        memset(&t, 0, sizeof(t));
        t.height = 1;
        t.time_ms = F.g.time_ms + i * LF_DAY;
        t.tx = &tx;
        cr_assert_eq(kula_analytics_add(&an, NULL, &t), 0);
    }
    cr_assert_eq(an.nmembers, 9000);
    cr_assert_eq(an.nflows, 4);
    cr_assert(kula_analytics_flow(&an, 1, 500)->value == 100 + 104);
    cr_assert_eq(kula_analytics_flow(&an, 1, 500)->txs, 2);
    cr_assert(an.members[0].given == 204);
    cr_assert(an.members[499].received == 204);
    cr_assert(an.members[699].given == 101);
    cr_assert(an.members[1].received == 101);
    cr_assert(an.members[8999].given == 103);
    cr_assert(an.members[8998].received == 103);
    cr_assert(an.volume == 100 + 101 + 102 + 103 + 104);
    cr_assert_eq(an.nperiods, 5);
    cr_assert_eq(an.periods[0].active_members, 2);
    kula_analytics_free(&an);
}
