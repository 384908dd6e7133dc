/* test_distribution.c -- largest-remainder and Shapley splits against hand-computed and published values. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <string.h>

#include "kula/ledger/distribution.h"
#include "kula/base/error.h"

/* ---- helpers ---- */

static void seq_ids(uint32_t *ids, size_t n, uint32_t first, uint32_t step)
{
    for (size_t i = 0; i < n; i++)
        ids[i] = first + (uint32_t)i * step;
}

static void expect_shares(const int64_t *got, const int64_t *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(got[i], want[i], "share %zu: got %lld, want %lld", i, (long long)got[i],
                     (long long)want[i]);
}

static void expect_u128(kula_u128 got, kula_u128 want, size_t i)
{
    cr_assert(got == want, "numerator %zu: got %016llx%016llx, want %016llx%016llx", i,
              (unsigned long long)(got >> 64), (unsigned long long)got,
              (unsigned long long)(want >> 64), (unsigned long long)want);
}

/* Independent reference for the weighted rule, in 128-bit arithmetic (pool
 * * w < 2^127 always fits) and by sorting rather than ranking. */
static void ref_weighted(int64_t *out, const uint64_t *w, size_t n, int64_t pool)
{
    kula_u128 total = 0, rem[KULA_MAX_PARTIES];
    size_t order[KULA_MAX_PARTIES];
    int64_t given = 0;
    for (size_t i = 0; i < n; i++)
        total += w[i];
    for (size_t i = 0; i < n; i++) {
        kula_u128 p = (kula_u128)(uint64_t)pool * w[i];
        out[i] = (int64_t)(p / total);
        rem[i] = p % total;
        given += out[i];
        order[i] = i;
    }
    /* insertion sort by (remainder descending, index ascending) */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0; j--) {
            size_t a = order[j - 1], b = order[j];
            if (rem[b] > rem[a] || (rem[b] == rem[a] && b < a)) {
                order[j - 1] = b;
                order[j] = a;
            }
        }
    for (int64_t k = 0; k < pool - given; k++)
        out[order[k]]++;
}

/* A second, independent multi-precision: eight 32-bit limbs. */
typedef struct big {
    uint32_t l[8];
} big;

static big big_of(kula_u128 x)
{
    big r;
    memset(&r, 0, sizeof r);
    for (int i = 0; i < 4; i++)
        r.l[i] = (uint32_t)(x >> (32 * i));
    return r;
}

static big big_mul(big a, big b)
{
    uint64_t acc[8] = { 0 };
    big r;
    for (int i = 0; i < 8; i++)
        for (int j = 0; i + j < 8; j++) {
            uint64_t t = (uint64_t)a.l[i] * b.l[j];
            /* spread over two limbs, carries resolved below */
            for (int k = i + j; k < 8 && t != 0; k++) {
                uint64_t s = acc[k] + (t & 0xffffffffu);
                acc[k] = s & 0xffffffffu;
                t = (t >> 32) + (s >> 32);
            }
        }
    for (int i = 0; i < 8; i++)
        r.l[i] = (uint32_t)acc[i];
    return r;
}

static big big_add(big a, big b)
{
    big r;
    uint64_t c = 0;
    for (int i = 0; i < 8; i++) {
        c += (uint64_t)a.l[i] + b.l[i];
        r.l[i] = (uint32_t)c;
        c >>= 32;
    }
    return r;
}

static int big_cmp(big a, big b)
{
    for (int i = 7; i >= 0; i--)
        if (a.l[i] != b.l[i])
            return a.l[i] < b.l[i] ? -1 : 1;
    return 0;
}

/* Checks that shares is THE largest-remainder split of pool by weights w
 * (which determine it uniquely): sum exact, each share floor or floor+1 of
 * pool*w_i/W, and every party given the extra unit ranks above every party
 * not given one by (remainder, then lower id = lower index). */
static void check_lr(const int64_t *shares, const kula_u128 *w, size_t n, int64_t pool)
{
    kula_u128 total = 0;
    int64_t sum = 0;
    int bumped[KULA_MAX_PARTIES];
    big pw[KULA_MAX_PARTIES];
    for (size_t i = 0; i < n; i++)
        total += w[i];
    big bw = big_of(total);
    for (size_t i = 0; i < n; i++) {
        cr_assert_geq(shares[i], 0);
        sum += shares[i];
        pw[i] = big_mul(big_of((uint64_t)pool), big_of(w[i]));
        big sw = big_mul(big_of((uint64_t)shares[i]), bw);
        bumped[i] = big_cmp(sw, pw[i]) > 0;
        if (bumped[i]) /* (share-1)*W <= pool*w */
            cr_assert_leq(big_cmp(big_mul(big_of((uint64_t)shares[i] - 1), bw), pw[i]), 0,
                          "party %zu more than one unit above its quota", i);
        else /* pool*w < (share+1)*W */
            cr_assert_lt(big_cmp(pw[i], big_add(sw, bw)), 0,
                         "party %zu more than one unit below its quota", i);
    }
    cr_assert_eq(sum, pool, "shares sum to %lld, pool %lld", (long long)sum, (long long)pool);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            if (!bumped[i] || bumped[j])
                continue;
            /* r_i = pool*w_i - (s_i-1)*W vs r_j = pool*w_j - s_j*W */
            big a = big_add(pw[i], big_mul(big_of((uint64_t)shares[j]), bw));
            big b = big_add(pw[j], big_mul(big_of((uint64_t)shares[i] - 1), bw));
            int c = big_cmp(a, b);
            cr_assert(c > 0 || (c == 0 && i < j),
                      "party %zu got the extra unit ahead of party %zu", i, j);
        }
}

/* Shapley numerators by brute force over all n! orderings (small n). */
static void perm_rec(uint8_t *order, size_t depth, size_t n, uint32_t used,
                     const int64_t *v, kula_u128 *acc)
{
    if (depth == n) {
        uint32_t mask = 0;
        for (size_t k = 0; k < n; k++) {
            uint32_t bit = (uint32_t)1 << order[k];
            acc[order[k]] += (kula_u128)(v[mask | bit] - v[mask]);
            mask |= bit;
        }
        return;
    }
    for (size_t i = 0; i < n; i++)
        if ((used >> i & 1u) == 0) {
            order[depth] = (uint8_t)i;
            perm_rec(order, depth + 1, n, used | (uint32_t)1 << i, v, acc);
        }
}

static void brute_numerators(kula_u128 *acc, const int64_t *v, size_t n)
{
    uint8_t order[KULA_MAX_PARTIES];
    for (size_t i = 0; i < n; i++)
        acc[i] = 0;
    perm_rec(order, 0, n, 0, v, acc);
}

static kula_u128 factorial(size_t n)
{
    kula_u128 f = 1;
    for (size_t k = 2; k <= n; k++)
        f *= k;
    return f;
}

/* Checks numerators and the split of pool for a game with known n!*phi. */
static void expect_game(const int64_t *v, size_t n, const kula_u128 *want, int64_t pool,
                        const int64_t *want_shares)
{
    kula_u128 num[KULA_MAX_PARTIES];
    int64_t shares[KULA_MAX_PARTIES];
    uint32_t ids[KULA_MAX_PARTIES];
    seq_ids(ids, n, 1, 1);
    cr_assert_eq(kula_shapley_validate(v, n), KULA_OK);
    cr_assert_eq(kula_shapley_numerators(num, v, n), KULA_OK);
    for (size_t i = 0; i < n; i++)
        expect_u128(num[i], want[i], i);
    cr_assert_eq(kula_distribute_shapley(shares, ids, v, n, pool), KULA_OK);
    if (want_shares != NULL)
        expect_shares(shares, want_shares, n);
    check_lr(shares, num, n, pool);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t xorshift(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

/* A random monotone game: each coalition is worth at least the best of its
 * subsets one player smaller, plus a random (often zero) increment. */
static void random_game(int64_t *v, size_t n, uint64_t max_inc)
{
    uint32_t count = (uint32_t)1 << n;
    v[0] = 0;
    for (uint32_t s = 1; s < count; s++) {
        int64_t m = 0;
        for (size_t k = 0; k < n; k++)
            if (s >> k & 1u && v[s ^ (uint32_t)1 << k] > m)
                m = v[s ^ (uint32_t)1 << k];
        uint64_t inc = (xorshift() % 3 == 0) ? 0 : xorshift() % (max_inc + 1);
        v[s] = m + (int64_t)inc;
    }
    if (v[count - 1] == 0)
        v[count - 1] = 1;
}

/* ---- equal ---- */

Test(distribution, equal_100_among_3)
{
    const uint32_t ids[3] = { 1, 2, 3 };
    const int64_t want[3] = { 34, 33, 33 };
    int64_t s[3];
    cr_assert_eq(kula_distribute_equal(s, ids, 3, 100), KULA_OK);
    expect_shares(s, want, 3);
}

Test(distribution, equal_extra_units_to_lowest_ids)
{
    /* 10 among 4: 2 each, 2 left over, to the two lowest ids */
    const uint32_t ids[4] = { 3, 7, 9, 4000000000u };
    const int64_t want[4] = { 3, 3, 2, 2 };
    int64_t s[4];
    cr_assert_eq(kula_distribute_equal(s, ids, 4, 10), KULA_OK);
    expect_shares(s, want, 4);
}

Test(distribution, equal_16_parties)
{
    /* 1000 = 16 * 62 + 8 */
    uint32_t ids[16];
    int64_t s[16];
    seq_ids(ids, 16, 10, 3);
    cr_assert_eq(kula_distribute_equal(s, ids, 16, 1000), KULA_OK);
    for (size_t i = 0; i < 16; i++)
        cr_assert_eq(s[i], i < 8 ? 63 : 62);
}

Test(distribution, equal_int64_max)
{
    /* 2^63 - 1 = 3 * 3074457345618258602 + 1 */
    const uint32_t ids[3] = { 1, 2, 3 };
    const int64_t want[3] = { 3074457345618258603, 3074457345618258602, 3074457345618258602 };
    int64_t s[3];
    cr_assert_eq(kula_distribute_equal(s, ids, 3, INT64_MAX), KULA_OK);
    expect_shares(s, want, 3);
}

/* ---- weighted ---- */

Test(distribution, weighted_two_to_one)
{
    /* 100 * 2/3 = 66.67, 100 * 1/3 = 33.33: the larger remainder (2/3) wins */
    const uint32_t ids[2] = { 5, 6 };
    const uint64_t w[2] = { 2, 1 };
    const int64_t want[2] = { 67, 33 };
    int64_t s[2];
    cr_assert_eq(kula_distribute_weighted(s, ids, w, 2, 100), KULA_OK);
    expect_shares(s, want, 2);
}

Test(distribution, weighted_remainder_beats_id)
{
    /* quotas 1.25, 1.25, 2.5: the one leftover unit goes to the largest
     * remainder (the highest id), not to the lowest id */
    const uint32_t ids[3] = { 1, 2, 3 };
    const uint64_t w[3] = { 1, 1, 2 };
    const int64_t want[3] = { 1, 1, 3 };
    int64_t s[3];
    cr_assert_eq(kula_distribute_weighted(s, ids, w, 3, 5), KULA_OK);
    expect_shares(s, want, 3);
}

Test(distribution, weighted_tie_to_lower_id)
{
    /* quotas 0.5, 1, 0.5: the remainders of the first and last tie */
    const uint32_t ids[3] = { 20, 30, 40 };
    const uint64_t w[3] = { 1, 2, 1 };
    const int64_t want[3] = { 1, 1, 0 };
    int64_t s[3];
    cr_assert_eq(kula_distribute_weighted(s, ids, w, 3, 2), KULA_OK);
    expect_shares(s, want, 3);
}

Test(distribution, weighted_zero_weight_gets_nothing)
{
    /* quotas 0, 1.5, 1.5 */
    const uint32_t ids[3] = { 1, 2, 3 };
    const uint64_t w[3] = { 0, 1, 1 };
    const int64_t want[3] = { 0, 2, 1 };
    int64_t s[3];
    cr_assert_eq(kula_distribute_weighted(s, ids, w, 3, 3), KULA_OK);
    expect_shares(s, want, 3);
}

Test(distribution, weighted_pool_zero)
{
    const uint32_t ids[3] = { 1, 2, 3 };
    const uint64_t w[3] = { 5, 0, 7 };
    int64_t s[3] = { -1, -1, -1 };
    cr_assert_eq(kula_distribute_weighted(s, ids, w, 3, 0), KULA_OK);
    for (size_t i = 0; i < 3; i++)
        cr_assert_eq(s[i], 0);
}

Test(distribution, weighted_int64_max_big_weights)
{
    /* W = 2^64, P = 2^63 - 1: P*(2^64-1)/2^64 = P - P/2^64 -> floor P-1 with
     * remainder 2^64 - P = 2^63 + 1; P*1/2^64 -> 0 with remainder 2^63 - 1.
     * The first remainder is larger: (P, 0). */
    const uint32_t ids[2] = { 1, 2 };
    const uint64_t w[2] = { UINT64_MAX, 1 };
    const int64_t want[2] = { INT64_MAX, 0 };
    int64_t s[2];
    cr_assert_eq(kula_distribute_weighted(s, ids, w, 2, INT64_MAX), KULA_OK);
    expect_shares(s, want, 2);

    /* 16 huge weights: compare with the 128-bit reference */
    uint32_t ids16[16];
    uint64_t w16[16];
    int64_t s16[16], r16[16];
    seq_ids(ids16, 16, 1, 1);
    for (size_t i = 0; i < 16; i++)
        w16[i] = UINT64_MAX - i * 0x0123456789abcdefu;
    cr_assert_eq(kula_distribute_weighted(s16, ids16, w16, 16, INT64_MAX), KULA_OK);
    ref_weighted(r16, w16, 16, INT64_MAX);
    expect_shares(s16, r16, 16);
}

Test(distribution, weighted_16_parties)
{
    /* weights 1..16 (W = 136), pool 1000; computed independently with exact
     * rationals */
    uint32_t ids[16];
    uint64_t w[16];
    int64_t s[16];
    const int64_t want[16] = { 7, 15, 22, 29, 37, 44, 51, 59, 66, 74, 81, 88, 96, 103, 110, 118 };
    seq_ids(ids, 16, 100, 7);
    for (size_t i = 0; i < 16; i++)
        w[i] = i + 1;
    cr_assert_eq(kula_distribute_weighted(s, ids, w, 16, 1000), KULA_OK);
    expect_shares(s, want, 16);
}

Test(distribution, single_party)
{
    const uint32_t id = 42;
    const uint64_t w = 3;
    const int64_t v[2] = { 0, 5 };
    kula_u128 num;
    int64_t s;
    cr_assert_eq(kula_distribute_equal(&s, &id, 1, 12345), KULA_OK);
    cr_assert_eq(s, 12345);
    cr_assert_eq(kula_distribute_weighted(&s, &id, &w, 1, INT64_MAX), KULA_OK);
    cr_assert_eq(s, INT64_MAX);
    cr_assert_eq(kula_shapley_numerators(&num, v, 1), KULA_OK);
    expect_u128(num, 5, 0);
    cr_assert_eq(kula_distribute_shapley(&s, &id, v, 1, 77), KULA_OK);
    cr_assert_eq(s, 77);
}

Test(distribution, errors)
{
    uint32_t ids[17];
    uint64_t w[17];
    int64_t s[17];
    seq_ids(ids, 17, 1, 1);
    for (size_t i = 0; i < 17; i++) {
        w[i] = 1;
        s[i] = -7;
    }
    cr_assert_eq(kula_distribute_weighted(s, ids, w, 0, 10), KULA_EINVAL);
    cr_assert_eq(kula_distribute_weighted(s, ids, w, 17, 10), KULA_EINVAL);
    cr_assert_eq(kula_distribute_equal(s, ids, 0, 10), KULA_EINVAL);
    cr_assert_eq(kula_distribute_equal(s, ids, 17, 10), KULA_EINVAL);
    cr_assert_eq(kula_distribute_weighted(s, ids, w, 3, -1), KULA_EINVAL);
    cr_assert_eq(kula_distribute_equal(s, ids, 3, INT64_MIN), KULA_EINVAL);

    const uint32_t unsorted[3] = { 1, 3, 2 };
    const uint32_t dup[3] = { 1, 2, 2 };
    cr_assert_eq(kula_distribute_weighted(s, unsorted, w, 3, 10), KULA_EINVAL);
    cr_assert_eq(kula_distribute_equal(s, dup, 3, 10), KULA_EINVAL);

    const uint64_t zero[3] = { 0, 0, 0 };
    cr_assert_eq(kula_distribute_weighted(s, ids, zero, 3, 10), KULA_ENOCONTRIB);
    cr_assert_eq(kula_distribute_weighted(s, ids, zero, 3, 0), KULA_ENOCONTRIB);
    /* invalid arguments are reported before missing contributions */
    cr_assert_eq(kula_distribute_weighted(s, unsorted, zero, 3, 10), KULA_EINVAL);

    for (size_t i = 0; i < 17; i++)
        cr_assert_eq(s[i], -7, "output written on error");
}

/* ---- Shapley: published values ---- */

Test(shapley, glove_game)
{
    /* Wikipedia, "Shapley value", section "Glove game": players 1 and 2 hold
     * right-hand gloves, player 3 a left-hand glove; v(S) = 1 for {1,3},
     * {2,3}, {1,2,3}, else 0.  phi = (1/6, 1/6, 2/3), so 3!*phi = (1,1,4).
     * (The same game: Osborne & Rubinstein, A Course in Game Theory, 1994.) */
    const int64_t v[8] = { 0, 0, 0, 0, 0, 1, 1, 1 };
    const kula_u128 want[3] = { 1, 1, 4 };
    const int64_t s600[3] = { 100, 100, 400 };
    /* 5 * (1,1,4)/6 = 0.83, 0.83, 3.33: two leftover units to remainders 5/6 */
    const int64_t s5[3] = { 1, 1, 3 };
    /* 1 * (1,1,4)/6: the only unit to the left glove (remainder 4/6) */
    const int64_t s1[3] = { 0, 0, 1 };
    expect_game(v, 3, want, 600, s600);
    expect_game(v, 3, want, 5, s5);
    expect_game(v, 3, want, 1, s1);
}

/* v for Wikipedia's business example: owner is party 0. */
static void business_game(int64_t *v, size_t n, int64_t p)
{
    for (uint32_t s = 0; s < (uint32_t)1 << n; s++) {
        int64_t size = 0;
        for (size_t k = 0; k < n; k++)
            size += s >> k & 1u;
        v[s] = (s & 1u) ? (size - 1) * p : 0;
    }
}

Test(shapley, business_example)
{
    /* Wikipedia, "Shapley value", section "Business example": an owner o and
     * m workers each adding p; v(S) = (|S|-1)p if o in S, else 0.  The
     * Shapley value is mp/2 for the owner and p/2 for each worker. */
    int64_t v3[8], v4[16];
    business_game(v3, 3, 10); /* m = 2: phi = (10, 5, 5), 3!*phi = (60,30,30) */
    const kula_u128 want3[3] = { 60, 30, 30 };
    const int64_t s3[3] = { 50, 25, 25 };
    expect_game(v3, 3, want3, 100, s3);

    business_game(v4, 4, 10); /* m = 3: phi = (15, 5, 5, 5), times 4! */
    const kula_u128 want4[4] = { 360, 120, 120, 120 };
    /* 7 * (1/2, 1/6, 1/6, 1/6) = 3.5, 1.17, 1.17, 1.17 */
    const int64_t s4[4] = { 4, 1, 1, 1 };
    expect_game(v4, 4, want4, 7, s4);
}

Test(shapley, airport_game)
{
    /* Wikipedia, "Airport problem", example: runway costs 8, 11, 13, 18 for
     * aircraft A..D, c(S) = max cost in S; Shapley value (2, 3, 4, 9) by the
     * rule of Littlechild & Owen, "A simple expression for the Shapley value
     * in a special case", Management Science 20(3):370-372, 1973.
     * 4! * phi = (48, 72, 96, 216). */
    const int64_t c[4] = { 8, 11, 13, 18 };
    int64_t v[16];
    for (uint32_t s = 0; s < 16; s++) {
        v[s] = 0;
        for (size_t k = 0; k < 4; k++)
            if (s >> k & 1u && c[k] > v[s])
                v[s] = c[k];
    }
    const kula_u128 want[4] = { 48, 72, 96, 216 };
    const int64_t s18[4] = { 2, 3, 4, 9 };
    /* 100/18 * (2,3,4,9) = 11.11, 16.67, 22.22, 50: one unit left, to B */
    const int64_t s100[4] = { 11, 17, 22, 50 };
    expect_game(v, 4, want, 18, s18);
    expect_game(v, 4, want, 100, s100);
}

Test(shapley, airport_closed_form_16)
{
    /* Littlechild & Owen (1973): with costs c_1 <= ... <= c_n,
     * phi_i = sum_{j<=i} (c_j - c_{j-1}) / (n - j + 1), c_0 = 0.  So
     * n! * phi_i = sum_{j<=i} (c_j - c_{j-1}) * n! / (n - j + 1), exactly.
     * Sixteen parties, pseudo-random increasing costs. */
    const size_t n = 16;
    static int64_t v[1 << 16];
    int64_t c[16];
    kula_u128 want[16];
    rng_state = 12345;
    c[0] = (int64_t)(xorshift() % 1000000007u);
    for (size_t i = 1; i < n; i++)
        c[i] = c[i - 1] + (int64_t)(xorshift() % 1000000007u);
    for (uint32_t s = 0; s < (uint32_t)1 << n; s++) {
        v[s] = 0;
        for (size_t k = 0; k < n; k++)
            if (s >> k & 1u && c[k] > v[s])
                v[s] = c[k];
    }
    kula_u128 acc = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t prev = i == 0 ? 0 : c[i - 1];
        acc += (kula_u128)(uint64_t)(c[i] - prev) * (factorial(n) / (n - i));
        want[i] = acc;
    }
    expect_game(v, n, want, INT64_MAX, NULL);
}

Test(shapley, shapley_shubik_weighted_majority)
{
    /* Wikipedia, "Shapley-Shubik power index", example: A, B, C, D with 3, 2,
     * 1, 1 votes and quota 4.  A's power is 1/2, B's, C's and D's 1/6 each:
     * 4! * phi = (12, 4, 4, 4). */
    const int64_t votes[4] = { 3, 2, 1, 1 };
    int64_t v[16];
    for (uint32_t s = 0; s < 16; s++) {
        int64_t sum = 0;
        for (size_t k = 0; k < 4; k++)
            sum += (s >> k & 1u) ? votes[k] : 0;
        v[s] = sum >= 4 ? 1 : 0;
    }
    const kula_u128 want[4] = { 12, 4, 4, 4 };
    const int64_t s600[4] = { 300, 100, 100, 100 };
    /* 4 * (1/2, 1/6, 1/6, 1/6) = 2, 0.67, 0.67, 0.67: tie, lowest ids win */
    const int64_t s4[4] = { 2, 1, 1, 0 };
    expect_game(v, 4, want, 600, s600);
    expect_game(v, 4, want, 4, s4);
}

Test(shapley, un_security_council)
{
    /* The UN Security Council as the weighted game [39; 7,7,7,7,7,1,...,1]
     * (five permanent members, ten elected; Wolfram Demonstrations, "Power
     * Voting Systems Like the United Nations Security Council", M. Brodie
     * 2011).  Shapley-Shubik power of an elected member: 84 * 6! * 8! / 15!
     * = 4/2145, so a permanent member has (1 - 40/2145)/5 = 421/2145
     * (gonitsora.com, "Is it me, or is 'Veto' starting to sound really
     * good").  15! = 1307674368000. */
    const size_t n = 15;
    static int64_t v[1 << 15];
    for (uint32_t s = 0; s < (uint32_t)1 << n; s++) {
        int64_t sum = 0;
        for (size_t k = 0; k < n; k++)
            sum += (s >> k & 1u) ? (k < 5 ? 7 : 1) : 0;
        v[s] = sum >= 39 ? 1 : 0;
    }
    kula_u128 want[15];
    for (size_t i = 0; i < n; i++)
        want[i] = i < 5 ? (kula_u128)1307674368000u / 2145 * 421 : (kula_u128)1307674368000u / 2145 * 4;
    /* 10^6 * 421/2145 = 196270.40, 10^6 * 4/2145 = 1864.80: 999990 in floors,
     * the ten leftover units to the elected members' larger remainders. */
    int64_t want_s[15];
    for (size_t i = 0; i < n; i++)
        want_s[i] = i < 5 ? 196270 : 1865;
    expect_game(v, n, want, 1000000, want_s);
}

Test(shapley, symmetric_game)
{
    /* A symmetric game (v depends on |S| only) gives equal shares: the
     * symmetry axiom (Shapley, "A value for n-person games", 1953). */
    int64_t v[32];
    for (uint32_t s = 0; s < 32; s++) {
        int64_t k = 0;
        for (size_t b = 0; b < 5; b++)
            k += s >> b & 1u;
        v[s] = k * k * 1000;
    }
    /* 5! * 25000 / 5 each */
    const kula_u128 want[5] = { 600000, 600000, 600000, 600000, 600000 };
    const int64_t s7[5] = { 2, 2, 1, 1, 1 };
    expect_game(v, 5, want, 7, s7);
}

Test(shapley, additive_game_large_values)
{
    /* An additive game v(S) = sum of a_i over S has phi_i = a_i (the dummy
     * and additivity axioms, Shapley 1953).  With 16 parties and values near
     * 2^59 the products pool * num_i reach 2^166, and the split must equal
     * the weighted split by the a_i. */
    const size_t n = 16;
    static int64_t v[1 << 16];
    uint64_t a[16];
    uint32_t ids[16];
    int64_t s[16], r[16];
    kula_u128 want[16];
    rng_state = 777;
    for (size_t i = 0; i < n; i++) {
        a[i] = xorshift() >> 5; /* < 2^59, sum < 2^63 */
        want[i] = factorial(n) * a[i];
    }
    for (uint32_t m = 0; m < (uint32_t)1 << n; m++) {
        uint64_t sum = 0;
        for (size_t k = 0; k < n; k++)
            sum += (m >> k & 1u) ? a[k] : 0;
        v[m] = (int64_t)sum;
    }
    expect_game(v, n, want, INT64_MAX, NULL);
    seq_ids(ids, n, 1000, 1000);
    for (int64_t pool = INT64_MAX; pool > 0; pool /= 3) {
        cr_assert_eq(kula_distribute_shapley(s, ids, v, n, pool), KULA_OK);
        cr_assert_eq(kula_distribute_weighted(r, ids, a, n, pool), KULA_OK);
        expect_shares(s, r, n);
        ref_weighted(r, a, n, pool);
        expect_shares(s, r, n);
    }
}

Test(shapley, invalid_games)
{
    const uint32_t ids[2] = { 1, 2 };
    kula_u128 num[2] = { 99, 99 };
    int64_t s[2] = { -7, -7 };
    const int64_t ok[4] = { 0, 1, 1, 3 };
    const int64_t empty_nonzero[4] = { 1, 1, 1, 3 };
    const int64_t negative[4] = { 0, -1, 1, 3 };
    const int64_t nonmonotone[4] = { 0, 5, 1, 3 };
    const int64_t zero_total[4] = { 0, 0, 0, 0 };
    const int64_t v1[2] = { 0, 0 };

    cr_assert_eq(kula_shapley_validate(ok, 2), KULA_OK);
    cr_assert_eq(kula_shapley_validate(empty_nonzero, 2), KULA_ERULE);
    cr_assert_eq(kula_shapley_validate(negative, 2), KULA_ERULE);
    cr_assert_eq(kula_shapley_validate(nonmonotone, 2), KULA_ERULE);
    cr_assert_eq(kula_shapley_validate(zero_total, 2), KULA_ERULE);
    cr_assert_eq(kula_shapley_validate(v1, 1), KULA_ERULE);
    cr_assert_eq(kula_shapley_validate(ok, 0), KULA_EINVAL);
    cr_assert_eq(kula_shapley_validate(ok, 17), KULA_EINVAL);

    cr_assert_eq(kula_shapley_numerators(num, nonmonotone, 2), KULA_ERULE);
    cr_assert_eq(kula_shapley_numerators(num, ok, 0), KULA_EINVAL);
    cr_assert_eq(kula_distribute_shapley(s, ids, negative, 2, 10), KULA_ERULE);
    cr_assert_eq(kula_distribute_shapley(s, ids, zero_total, 2, 10), KULA_ERULE);
    cr_assert_eq(kula_distribute_shapley(s, ids, ok, 2, -1), KULA_EINVAL);
    const uint32_t unsorted[2] = { 2, 1 };
    cr_assert_eq(kula_distribute_shapley(s, unsorted, ok, 2, 10), KULA_EINVAL);
    cr_assert_eq(kula_distribute_shapley(s, ids, ok, 17, 10), KULA_EINVAL);
    cr_assert(num[0] == 99 && num[1] == 99 && s[0] == -7 && s[1] == -7,
              "output written on error");
}

/* ---- properties ---- */

Test(properties, random_weighted)
{
    rng_state = 0x2545f4914f6cdd1du;
    for (int it = 0; it < 2000; it++) {
        size_t n = 1 + xorshift() % KULA_MAX_PARTIES;
        uint32_t ids[KULA_MAX_PARTIES];
        uint64_t w[KULA_MAX_PARTIES];
        kula_u128 w128[KULA_MAX_PARTIES];
        int64_t s[KULA_MAX_PARTIES], s2[KULA_MAX_PARTIES], r[KULA_MAX_PARTIES];
        uint32_t id = (uint32_t)(xorshift() % 1000);
        unsigned wbits = 1 + (unsigned)(xorshift() % 64);
        unsigned pbits = (unsigned)(xorshift() % 64);
        int any = 0;
        for (size_t i = 0; i < n; i++) {
            id += 1 + (uint32_t)(xorshift() % 50);
            ids[i] = id;
            w[i] = (xorshift() % 4 == 0) ? 0 : xorshift() >> (64 - wbits);
            w128[i] = w[i];
            any |= w[i] != 0;
        }
        int64_t pool = (int64_t)(xorshift() >> 1 >> (63 - pbits));
        int rc = kula_distribute_weighted(s, ids, w, n, pool);
        if (!any) {
            cr_assert_eq(rc, KULA_ENOCONTRIB);
            continue;
        }
        cr_assert_eq(rc, KULA_OK);
        check_lr(s, w128, n, pool);
        ref_weighted(r, w, n, pool);
        expect_shares(s, r, n);
        cr_assert_eq(kula_distribute_weighted(s2, ids, w, n, pool), KULA_OK);
        cr_assert_eq(memcmp(s, s2, n * sizeof s[0]), 0, "not deterministic");
        for (size_t i = 0; i < n; i++)
            if (w[i] == 0)
                cr_assert_eq(s[i], 0);
    }
}

Test(properties, random_shapley)
{
    static int64_t v[1 << 10], v2[1 << 10], vsum[1 << 10];
    rng_state = 0xd1b54a32d192ed03u;
    for (int it = 0; it < 2000; it++) {
        size_t n = 1 + xorshift() % 10;
        uint32_t count = (uint32_t)1 << n;
        uint32_t ids[KULA_MAX_PARTIES];
        kula_u128 num[KULA_MAX_PARTIES], num2[KULA_MAX_PARTIES], numsum[KULA_MAX_PARTIES];
        int64_t s[KULA_MAX_PARTIES], s2[KULA_MAX_PARTIES];
        /* increments small enough that v + v2 cannot overflow */
        uint64_t max_inc = ((uint64_t)INT64_MAX / 2 / (n + 1)) >> (xorshift() % 63);
        random_game(v, n, max_inc);
        random_game(v2, n, max_inc);
        for (uint32_t m = 0; m < count; m++)
            vsum[m] = v[m] + v2[m];
        seq_ids(ids, n, 1 + (uint32_t)(xorshift() % 100), 1 + (uint32_t)(xorshift() % 100));
        int64_t pool = (int64_t)(xorshift() >> 1 >> (xorshift() % 63));

        cr_assert_eq(kula_shapley_numerators(num, v, n), KULA_OK);
        /* efficiency: sum num_i = n! v(N) */
        kula_u128 total = 0;
        for (size_t i = 0; i < n; i++)
            total += num[i];
        cr_assert(total == factorial(n) * (kula_u128)v[count - 1], "efficiency");
        /* against all n! orderings */
        if (n <= 6) {
            kula_u128 brute[KULA_MAX_PARTIES];
            brute_numerators(brute, v, n);
            for (size_t i = 0; i < n; i++)
                expect_u128(num[i], brute[i], i);
        }
        /* additivity */
        cr_assert_eq(kula_shapley_numerators(num2, v2, n), KULA_OK);
        cr_assert_eq(kula_shapley_numerators(numsum, vsum, n), KULA_OK);
        for (size_t i = 0; i < n; i++)
            expect_u128(numsum[i], num[i] + num2[i], i);

        cr_assert_eq(kula_distribute_shapley(s, ids, v, n, pool), KULA_OK);
        check_lr(s, num, n, pool);
        cr_assert_eq(kula_distribute_shapley(s2, ids, v, n, pool), KULA_OK);
        cr_assert_eq(memcmp(s, s2, n * sizeof s[0]), 0, "not deterministic");
    }
}

Test(properties, shapley_16_random_game)
{
    static int64_t v[1 << 16];
    uint32_t ids[16];
    int64_t s[16];
    kula_u128 num[16];
    rng_state = 0xfeedfacecafebeefu;
    random_game(v, 16, (uint64_t)INT64_MAX / 17);
    seq_ids(ids, 16, 1, 1);
    cr_assert_eq(kula_distribute_shapley(s, ids, v, 16, INT64_MAX), KULA_OK);
    cr_assert_eq(kula_shapley_numerators(num, v, 16), KULA_OK);
    kula_u128 total = 0;
    for (size_t i = 0; i < 16; i++)
        total += num[i];
    cr_assert(total == factorial(16) * (kula_u128)v[0xffff], "efficiency");
    check_lr(s, num, 16, INT64_MAX);
}
