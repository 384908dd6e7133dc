/* distribution.c -- largest-remainder splits of a pool: equal, weighted and Shapley.
 *
 * Direction: called by rules_agreement.c; calls only the layers below,
 * nothing else of node/ledger/ (rules.h). */
#include "kula/ledger/distribution.h"

#include "kula/base/error.h"

/* ---- 256-bit unsigned integers, just enough for pool * weight / total ----
 *
 * pool < 2^63 and a weight (a Shapley numerator) < 2^108, so the product has
 * up to 171 bits.  Four 64-bit limbs, least significant first; schoolbook
 * multiplication and bit-by-bit long division, chosen for being obviously
 * right rather than fast (a split of 16 parties is 16 divisions). */
typedef struct u256 {
    uint64_t w[4];
} u256;

/* Returns: a * b, exactly (a 192-bit value at most). */
static u256 u256_mul(kula_u128 a, uint64_t b)
{
    const uint64_t al[2] = { (uint64_t)a, (uint64_t)(a >> 64) };
    u256 r = { { 0, 0, 0, 0 } };
    kula_u128 carry = 0;
    for (unsigned i = 0; i < 2; i++) {
        /* (2^64-1)^2 + (2^64-1) < 2^128: no overflow */
        kula_u128 t = (kula_u128)al[i] * b + carry;
        r.w[i] = (uint64_t)t;
        carry = t >> 64;
    }
    r.w[2] = (uint64_t)carry;
    return r;
}

/* Out: *q = a / d, *r = a % d.  In: d > 0. */
static void u256_divmod(u256 *q, kula_u128 *r, const u256 *a, kula_u128 d)
{
    u256 quo = { { 0, 0, 0, 0 } };
    kula_u128 rem = 0; /* invariant: rem < d */
    for (unsigned i = 256; i-- > 0;) {
        /* The true next remainder is 2*rem + bit < 2d, which can need 129
         * bits.  If it does (top bit about to be shifted out) it certainly
         * exceeds d, and the wrapped subtraction below yields the right
         * value because the true difference is < d < 2^128.  (Only divisors
         * >= 2^127 get here; today's totals stay below 2^108.) */
        unsigned carry = (unsigned)(rem >> 127);
        rem = (rem << 1) | ((a->w[i / 64] >> (i % 64)) & 1u);
        if (carry != 0 || rem >= d) {
            rem -= d;
            quo.w[i / 64] |= (uint64_t)1 << (i % 64);
        }
    }
    *q = quo;
    *r = rem;
}

/* ---- largest remainder ---- */

/* Out: shares[n].  In: w[n] with total = sum(w) > 0, n <= KULA_MAX_PARTIES,
 * parties in ascending member id order. */
static void apportion(int64_t *shares, const kula_u128 *w, size_t n, uint64_t pool,
                      kula_u128 total)
{
    uint64_t base[KULA_MAX_PARTIES];
    kula_u128 rem[KULA_MAX_PARTIES];
    uint64_t given = 0;

    for (size_t i = 0; i < n; i++) {
        u256 p = u256_mul(w[i], pool), q;
        u256_divmod(&q, &rem[i], &p, total);
        /* w[i] <= total, so q <= pool < 2^63: it is all in the low limb. */
        base[i] = q.w[0];
        given += base[i]; /* sum of floors <= pool */
    }
    /* sum(rem) = (pool - given) * total with each rem < total: left < n. */
    uint64_t left = pool - given;

    /* Rank every party by (remainder descending, member id ascending); the
     * parties are in id order, so the lower index wins a tie.  The first
     * `left` in that order get one unit more.  A party whose remainder is 0
     * (a zero weight, say) never does: the remainders sum to left * total and
     * each is < total, so when left > 0 more than `left` of them are nonzero,
     * and every nonzero remainder ranks above every zero one. */
    for (size_t i = 0; i < n; i++) {
        uint64_t rank = 0;
        for (size_t j = 0; j < n; j++)
            if (rem[j] > rem[i] || (rem[j] == rem[i] && j < i))
                rank++;
        shares[i] = (int64_t)(base[i] + (rank < left ? 1u : 0u));
    }
}

/* Returns: KULA_OK, or KULA_EINVAL unless 1 <= n <= 16, ids strictly
 *          ascending and pool >= 0. */
static int check_parties(const uint32_t *ids, size_t n, int64_t pool)
{
    if (n == 0 || n > KULA_MAX_PARTIES || pool < 0)
        return KULA_EINVAL;
    for (size_t i = 1; i < n; i++)
        if (ids[i - 1] >= ids[i])
            return KULA_EINVAL;
    return KULA_OK;
}

int kula_distribute_weighted(int64_t *shares, const uint32_t *ids, const uint64_t *weights,
                             size_t n, int64_t pool)
{
    kula_u128 w[KULA_MAX_PARTIES];
    kula_u128 total = 0;
    int err = check_parties(ids, n, pool);
    if (err != KULA_OK)
        return err;
    for (size_t i = 0; i < n; i++) {
        w[i] = weights[i];
        total += weights[i]; /* at most 16 * (2^64-1) < 2^68 */
    }
    if (total == 0)
        return KULA_ENOCONTRIB;
    apportion(shares, w, n, (uint64_t)pool, total);
    return KULA_OK;
}

int kula_distribute_equal(int64_t *shares, const uint32_t *ids, size_t n, int64_t pool)
{
    uint64_t ones[KULA_MAX_PARTIES];
    if (n == 0 || n > KULA_MAX_PARTIES)
        return KULA_EINVAL;
    for (size_t i = 0; i < n; i++)
        ones[i] = 1;
    return kula_distribute_weighted(shares, ids, ones, n, pool);
}

/* ---- Shapley value ---- */

int kula_shapley_validate(const int64_t *values, size_t n)
{
    if (n == 0 || n > KULA_MAX_PARTIES)
        return KULA_EINVAL;
    const uint32_t count = (uint32_t)1 << n;
    if (values[0] != 0)
        return KULA_ERULE;
    for (uint32_t s = 0; s < count; s++) {
        if (values[s] < 0)
            return KULA_ERULE;
        for (size_t k = 0; k < n; k++) {
            uint32_t bit = (uint32_t)1 << k;
            if ((s & bit) == 0 && values[s] > values[s | bit])
                return KULA_ERULE;
        }
    }
    if (values[count - 1] <= 0)
        return KULA_ERULE;
    return KULA_OK;
}

static unsigned popcount32(uint32_t x)
{
    unsigned c = 0;
    for (; x != 0; x &= x - 1)
        c++;
    return c;
}

/* Out: out[n] = n! * phi.  In: a game that passed kula_shapley_validate. */
static void shapley_numerators(kula_u128 *out, const int64_t *values, size_t n)
{
    /* coef[k] = k! (n-1-k)!, the number of orderings of the n players in
     * which exactly a given k-coalition precedes player i: at most 15!. */
    uint64_t fact[KULA_MAX_PARTIES];
    uint64_t coef[KULA_MAX_PARTIES];
    fact[0] = 1;
    for (size_t k = 1; k < n; k++)
        fact[k] = fact[k - 1] * k;
    for (size_t k = 0; k < n; k++)
        coef[k] = fact[k] * fact[n - 1 - k];

    for (size_t i = 0; i < n; i++)
        out[i] = 0;
    const uint32_t count = (uint32_t)1 << n;
    for (uint32_t s = 0; s < count; s++) {
        const unsigned k = popcount32(s);
        if (k == n)
            continue; /* the grand coalition: nobody left to join it */
        for (size_t i = 0; i < n; i++) {
            uint32_t bit = (uint32_t)1 << i;
            if ((s & bit) != 0)
                continue;
            /* Monotone and values >= 0: 0 <= marginal <= v(all) < 2^63. */
            uint64_t marginal = (uint64_t)(values[s | bit] - values[s]);
            /* Each term is < 2^104 and all are >= 0; their sum is bounded
             * by n! * v(all) < 2^108, so nothing wraps. */
            out[i] += (kula_u128)coef[k] * marginal;
        }
    }
}

int kula_shapley_numerators(kula_u128 *out, const int64_t *values, size_t n)
{
    int err = kula_shapley_validate(values, n);
    if (err != KULA_OK)
        return err;
    shapley_numerators(out, values, n);
    return KULA_OK;
}

int kula_distribute_shapley(int64_t *shares, const uint32_t *ids, const int64_t *values,
                            size_t n, int64_t pool)
{
    kula_u128 num[KULA_MAX_PARTIES];
    kula_u128 total = 0;
    int err = check_parties(ids, n, pool);
    if (err != KULA_OK)
        return err;
    err = kula_shapley_validate(values, n);
    if (err != KULA_OK)
        return err;
    shapley_numerators(num, values, n);
    for (size_t i = 0; i < n; i++)
        total += num[i];
    /* total = n! * v(all) > 0 by efficiency and validation. */
    apportion(shares, num, n, (uint64_t)pool, total);
    return KULA_OK;
}
