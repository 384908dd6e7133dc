/* test_clearing.c -- the clearing solver (proto/SPEC.md §14) on cases worked
 * by hand, and its CSV reader on good and bad files. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kula/audit/clearing_csv.h"
#include "kula/base/error.h"
#include "kula/ledger/clearing.h"

#define P62 ((int64_t)1 << 62)

/* An obligation with a decimal id (big-endian in the last 8 bytes). */
static kula_obligation ob(uint64_t id, uint32_t debtor, uint32_t creditor, int64_t amount)
{
    kula_obligation o;
    memset(&o, 0, sizeof(o));
    for (int i = 0; i < 8; i++)
        o.id.b[KULA_HASH_LEN - 1 - i] = (uint8_t)(id >> (8 * i));
    o.debtor = debtor;
    o.creditor = creditor;
    o.amount = amount;
    return o;
}

static void solve(int64_t *setoff, kula_clearing_totals *t, const kula_obligation *obs, size_t n)
{
    kula_error e = { 0 };
    int rc = kula_clearing_solve(setoff, t, &e, obs, n);
    cr_assert_eq(rc, KULA_OK, "solve: %s (%s)", kula_strerror(rc), e.what);
}

static void expect_setoffs(const int64_t *got, const int64_t *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(got[i], want[i], "obligation %zu: set-off %lld, want %lld", i,
                     (long long)got[i], (long long)want[i]);
}

static void expect_u128(kula_u128 got, kula_u128 want, const char *what)
{
    cr_assert(got == want, "%s: got %llu:%llu, want %llu:%llu", what,
              (unsigned long long)(got >> 64), (unsigned long long)got,
              (unsigned long long)(want >> 64), (unsigned long long)want);
}

/* Small networks worked by hand: the set-offs, what remains and the net
 * internal debt. */
static const struct {
    const char *what;
    size_t n;
    struct { uint64_t id; uint32_t debtor, creditor; int64_t amount, setoff; } o[6];
    int64_t remaining, net_internal_debt;
} hand[] = {
    { "A owes B 100, B owes C 80, C owes A 120: the cycle clears 80 on each; "
      "A then owes B 20 and C owes A 40",
      3, { { 1, 1, 2, 100, 80 }, { 2, 2, 3, 80, 80 }, { 3, 3, 1, 120, 80 } }, 60, 40 },
    { "an open chain clears nothing",
      3, { { 1, 1, 2, 100, 0 }, { 2, 2, 3, 100, 0 }, { 3, 3, 4, 100, 0 } }, 300, 100 },
    { "a closed chain clears its smallest link",
      4, { { 1, 1, 2, 100, 30 }, { 2, 2, 3, 100, 30 }, { 3, 3, 4, 100, 30 }, { 4, 4, 1, 30, 30 } },
      210, 70 },
    { "1 owes 2 and 3 50 each; 2 owes 1 30, 3 owes 1 70: 1 is at 0, 2 is owed 20, 3 owes "
      "20, which can only go 3 -> 1 -> 2: the only optimum",
      4, { { 10, 1, 2, 50, 30 }, { 11, 1, 3, 50, 50 }, { 12, 2, 1, 30, 30 }, { 13, 3, 1, 70, 50 } },
      40, 20 },
    { "1 owes 2 40 (id 7) and 60 (id 5), 2 owes 1 70: 30 remains from 1 to 2; SPEC §14.2 "
      "orders parallel arcs by id, so it stays on id 5",
      3, { { 7, 1, 2, 40, 40 }, { 5, 1, 2, 60, 30 }, { 6, 2, 1, 70, 70 } }, 30, 30 },
};

Test(clearing, small_networks_worked_by_hand)
{
    for (size_t c = 0; c < sizeof(hand) / sizeof(hand[0]); c++) {
        kula_obligation obs[6];
        int64_t s[6], total = 0;
        for (size_t i = 0; i < hand[c].n; i++) {
            obs[i] = ob(hand[c].o[i].id, hand[c].o[i].debtor, hand[c].o[i].creditor,
                        hand[c].o[i].amount);
            total += hand[c].o[i].amount;
        }
        kula_clearing_totals t;
        solve(s, &t, obs, hand[c].n);
        for (size_t i = 0; i < hand[c].n; i++)
            cr_assert_eq(s[i], hand[c].o[i].setoff, "%s: obligation %zu: set-off %lld, want %lld",
                         hand[c].what, i, (long long)s[i], (long long)hand[c].o[i].setoff);
        cr_assert_eq(t.obligations, hand[c].n);
        expect_u128(t.total_debt, (kula_u128)total, hand[c].what);
        expect_u128(t.remaining, (kula_u128)hand[c].remaining, hand[c].what);
        expect_u128(t.cleared, (kula_u128)(total - hand[c].remaining), hand[c].what);
        expect_u128(t.net_internal_debt, (kula_u128)hand[c].net_internal_debt, hand[c].what);
    }
}

Test(clearing, amounts_of_2_to_the_62_sum_beyond_64_bits)
{
    /* Ten obligations of 2^62 each way between 1 and 2, and a cycle of three:
     * the sums reach 23 * 2^62 > 2^66. */
    kula_obligation obs[23];
    for (uint64_t i = 0; i < 10; i++) {
        obs[i] = ob(i + 1, 1, 2, P62);
        obs[10 + i] = ob(i + 11, 2, 1, P62);
    }
    obs[20] = ob(21, 3, 4, P62);
    obs[21] = ob(22, 4, 5, P62);
    obs[22] = ob(23, 5, 3, P62 - 1);
    int64_t s[23];
    kula_clearing_totals t;
    solve(s, &t, obs, 23);
    for (int i = 0; i < 20; i++)
        cr_assert_eq(s[i], P62);
    expect_setoffs(s + 20, (int64_t[]){ P62 - 1, P62 - 1, P62 - 1 }, 3);
    expect_u128(t.total_debt, (kula_u128)23 * (kula_u128)P62 - 1, "total debt");
    expect_u128(t.remaining, 2, "remaining");
    expect_u128(t.net_internal_debt, 1, "net internal debt");

    /* The largest amount there is. */
    kula_obligation big[] = { ob(1, 1, 2, INT64_MAX), ob(2, 2, 1, INT64_MAX) };
    solve(s, &t, big, 2);
    expect_setoffs(s, (int64_t[]){ INT64_MAX, INT64_MAX }, 2);
}

Test(clearing, the_set_offs_do_not_depend_on_the_input_order)
{
    kula_obligation obs[] = { ob(1, 5, 9, 10), ob(2, 9, 5, 7),  ob(3, 9, 12, 4), ob(4, 12, 5, 9),
                              ob(5, 5, 12, 3), ob(6, 12, 9, 8), ob(7, 5, 9, 6),  ob(8, 9, 5, 2) };
    int64_t s[8], r[8];
    solve(s, NULL, obs, 8);
    /* every rotation and the reversal */
    for (size_t rot = 1; rot <= 8; rot++) {
        kula_obligation p[8];
        for (size_t i = 0; i < 8; i++)
            p[i] = rot == 8 ? obs[7 - i] : obs[(i + rot) % 8];
        solve(r, NULL, p, 8);
        for (size_t i = 0; i < 8; i++) {
            size_t orig = rot == 8 ? 7 - i : (i + rot) % 8;
            cr_assert_eq(r[i], s[orig], "order %zu, obligation %zu", rot, orig);
        }
    }
}

Test(clearing, nothing_and_zero_amounts)
{
    kula_clearing_totals t = { .firms = 9 };
    int64_t s[2] = { -1, -1 };
    solve(s, &t, NULL, 0);
    cr_assert_eq(t.firms, 0);
    expect_u128(t.total_debt, 0, "total debt");
    kula_obligation obs[] = { ob(1, 1, 2, 0), ob(2, 2, 1, 0) };
    solve(s, &t, obs, 2);
    expect_setoffs(s, (int64_t[]){ 0, 0 }, 2);
}

Test(clearing, bad_obligations_are_refused_naming_which)
{
    int64_t s[3] = { 7, 7, 7 };
    kula_error e = { 0 };
    kula_obligation neg[] = { ob(1, 1, 2, 5), ob(2, 2, 1, -1) };
    cr_assert_eq(kula_clearing_solve(s, NULL, &e, neg, 2), KULA_EAMOUNT);
    cr_assert_eq(e.tx_index, 1);
    kula_obligation self[] = { ob(1, 1, 2, 5), ob(2, 2, 2, 1) };
    cr_assert_eq(kula_clearing_solve(s, NULL, &e, self, 2), KULA_ESELF);
    cr_assert_eq(e.tx_index, 1);
    kula_obligation dup[] = { ob(4, 1, 2, 5), ob(3, 2, 3, 1), ob(4, 3, 1, 1) };
    cr_assert_eq(kula_clearing_solve(s, NULL, &e, dup, 3), KULA_EEXIST);
    cr_assert_eq(e.tx_index, 2, "the later of the two, got %d", e.tx_index);
    cr_assert(strstr(e.what, "obligation 2 has the id of obligation 0") != NULL, "%s", e.what);
    expect_setoffs(s, (int64_t[]){ 7, 7, 7 }, 3); /* untouched */
    cr_assert_eq(kula_clearing_solve(s, NULL, &e, dup, KULA_CLEARING_MAX_OBLIGATIONS + 1ull),
                 KULA_ETOOBIG);
}

/* ---- the CSV reader ---- */

static int read_csv(kula_clearing_csv *in, kula_error *e, const char *text)
{
    memset(e, 0, sizeof(*e));
    return kula_clearing_csv_read(in, e, text, strlen(text));
}

Test(clearing_csv, reads_decimal_and_hex_ids_and_crlf)
{
    const char *text = "id,debtor,creditor,amount\r\n"
                       "18446744073709551615,1,2,100\r\n"
                       "00000000000000000000000000000000000000000000000000000000000000aB,2,3,80\n"
                       "0,3,1,9223372036854775807";
    kula_clearing_csv in;
    kula_error e;
    cr_assert_eq(read_csv(&in, &e, text), KULA_OK, "%s", e.what);
    cr_assert_eq(in.n, 3);
    cr_assert_eq(in.obs[0].debtor, 1);
    cr_assert_eq(in.obs[1].creditor, 3);
    cr_assert_eq(in.obs[2].amount, INT64_MAX);
    cr_assert_eq(in.obs[1].id.b[31], 0xab);
    char id[65];
    kula_clearing_csv_id(id, sizeof(id), &in, 0);
    cr_assert_str_eq(id, "18446744073709551615");
    kula_clearing_csv_id(id, sizeof(id), &in, 1);
    cr_assert_str_eq(id, "00000000000000000000000000000000000000000000000000000000000000ab");
    kula_clearing_csv_free(&in);
}

/* Each bad file and the words its one line must hold. */
static const struct {
    const char *text;
    int code;
    const char *words;
} bad[] = {
    { "", KULA_EINVAL, "row 1: expected the header 'id,debtor,creditor,amount'" },
    { "id;debtor;creditor;amount\n", KULA_EINVAL, "row 1: expected the header" },
    { "id,debtor,creditor,amount\n1,1,2\n", KULA_EINVAL, "row 2: expected 4 fields" },
    { "id,debtor,creditor,amount\n1,1,2,3,4\n", KULA_EINVAL, "found 5 fields" },
    { "id,debtor,creditor,amount\n1,1,2,3\n\n2,1,2,3\n", KULA_EINVAL, "row 3: the row is empty" },
    { "id,debtor,creditor,amount\n1,1,2,3\n2,1,2,-5\n", KULA_EAMOUNT,
      "row 3: amount '-5' is negative: give what the debtor still owes" },
    { "id,debtor,creditor,amount\n1,1,2,9223372036854775808\n", KULA_EOVERFLOW,
      "row 2: amount '9223372036854775808' is too large" },
    { "id,debtor,creditor,amount\n1,1,2,1.50\n", KULA_EINVAL,
      "amount '1.50' is not a whole number: give minor units" },
    { "id,debtor,creditor,amount\n1,4,4,10\n", KULA_ESELF, "row 2: member 4 owes itself" },
    { "id,debtor,creditor,amount\n1,4294967296,4,10\n", KULA_EOVERFLOW,
      "debtor '4294967296' is not a member number" },
    { "id,debtor,creditor,amount\n1,1, 2,10\n", KULA_EINVAL, "creditor ' 2' is not a member" },
    { "id,debtor,creditor,amount\n18446744073709551616,1,2,10\n", KULA_EOVERFLOW,
      "id '18446744073709551616' is not an id" },
    { "id,debtor,creditor,amount\nxyz,1,2,10\n", KULA_EINVAL, "id 'xyz' is not an id" },
    { "id,debtor,creditor,amount\n1,1,2,\x01\xff\n", KULA_EINVAL, "amount '?" "?' is not" },
};

Test(clearing_csv, every_bad_row_is_named_with_what_to_do)
{
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        kula_clearing_csv in = { 0 };
        kula_error e;
        int rc = read_csv(&in, &e, bad[i].text);
        cr_assert_eq(rc, bad[i].code, "case %zu: %s, want %s (%s)", i, kula_errname(rc),
                     kula_errname(bad[i].code), e.what);
        cr_assert(strstr(e.what, bad[i].words) != NULL, "case %zu: '%s' lacks '%s'", i, e.what,
                  bad[i].words);
        cr_assert(strchr(e.what, '\n') == NULL);
        cr_assert_null(in.obs);
    }
}

Test(clearing_csv, a_duplicate_id_is_named_with_both_rows)
{
    const char *text = "id,debtor,creditor,amount\n5,1,2,3\n6,2,3,3\n5,3,1,3\n";
    kula_clearing_csv in;
    kula_error e;
    cr_assert_eq(read_csv(&in, &e, text), KULA_OK);
    int64_t s[3];
    cr_assert_eq(kula_clearing_solve(s, NULL, &e, in.obs, in.n), KULA_EEXIST);
    cr_assert_eq(kula_clearing_csv_explain(&e, &in), KULA_EEXIST);
    cr_assert_str_eq(e.what, "row 4: id 5 is already the id of row 2: give each obligation "
                             "its own id");
    kula_clearing_csv_free(&in);
}

Test(clearing_csv, too_many_rows_are_refused_at_the_first_one_over)
{
    const char *head = "id,debtor,creditor,amount\n";
    size_t rows = KULA_CLEARING_MAX_OBLIGATIONS + 1, len = strlen(head) + rows * 8;
    char *text = malloc(len + 1);
    cr_assert_not_null(text);
    memcpy(text, head, strlen(head));
    for (size_t i = 0; i < rows; i++)
        memcpy(text + strlen(head) + 8 * i, "1,1,2,1\n", 8);
    kula_clearing_csv in = { 0 };
    kula_error e = { 0 };
    cr_assert_eq(kula_clearing_csv_read(&in, &e, text, len), KULA_ETOOBIG);
    cr_assert(strstr(e.what, "row 4000002: more than 4000000 obligations") != NULL, "%s", e.what);
    free(text);
}
