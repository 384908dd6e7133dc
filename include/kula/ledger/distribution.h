/* distribution.h -- splitting an agreement's pool among its parties (consensus rules).
 *
 * The rule: shares are whole minor units, never negative, and always sum
 * exactly to the pool.  Each party's exact quota pool * w_i / W (W the sum of
 * the weights) is a rational number; every party first gets its floor, and
 * the few units left over (fewer than the number of parties) go one each to
 * the parties with the largest remainders -- the largest-remainder (Hamilton)
 * method.  So no party is ever more than one unit away from its exact quota,
 * and no party with a zero quota gets anything.  Equal remainders are broken
 * by the lower member id, never by input order, memory or platform: every
 * node must compute the same table, bit for bit.
 *
 * Everything here is pure integer arithmetic (products up to 2^171 are done
 * in exact 256-bit arithmetic), with no allocation, I/O or floating point.
 * Parties are given as their member ids in strictly ascending order, at most
 * KULA_MAX_PARTIES of them; pointers must be valid for n entries (2^n for a
 * coalition game) and are never NULL.  On any error return the outputs are
 * left untouched. */
#ifndef KULA_DISTRIBUTION_H
#define KULA_DISTRIBUTION_H

#include <stddef.h>
#include <stdint.h>

#include "kula/base/error.h"

/* The same token sequence as in kula/types.h, so both may be included. */
#define KULA_MAX_PARTIES 16u

/* Exact Shapley numerators need more than 64 bits (up to 16! * 2^63 < 2^108). */
__extension__ typedef unsigned __int128 kula_u128;

/* Largest-remainder apportionment of pool in proportion to weights.
 * base_i = floor(pool*w_i/W), W = sum of weights; the pool - sum(base)
 * leftover units go one each to the parties with the largest remainders
 * (pool*w_i mod W), ties broken by the lower member id.
 * Out: shares[n], each >= 0, summing exactly to pool.
 * In:  ids[n] (strictly ascending), weights[n] (any values), n, pool.
 * Returns: KULA_OK; KULA_EINVAL if n==0, n>16, ids not strictly ascending,
 *          pool<0; KULA_ENOCONTRIB if all weights are 0. */
KULA_MUST_CHECK
int kula_distribute_weighted(int64_t *shares, const uint32_t *ids, const uint64_t *weights,
                             size_t n, int64_t pool);

/* Equal split: weights all 1, so every party gets pool/n and the first
 * pool%n parties by member id get one unit more.
 * Out: shares[n].  In: ids[n] (strictly ascending), n, pool.
 * Returns: KULA_OK; KULA_EINVAL if n==0, n>16, ids not strictly ascending,
 *          pool<0. */
KULA_MUST_CHECK
int kula_distribute_equal(int64_t *shares, const uint32_t *ids, size_t n, int64_t pool);

/* Validates a declared coalition game: values has 2^n entries indexed by
 * bitmask over the parties in ascending id order (bit k set <=> k-th party
 * in the coalition); values[0] must be 0, every value must be >= 0, the game
 * must be monotone (v(S) <= v(T) whenever S is a subset of T; it is enough
 * to check S vs S|bit for every S and bit), and v(all) > 0.
 * In: values[2^n], n.
 * Returns: KULA_OK or KULA_ERULE (KULA_EINVAL for n==0 or n>16). */
KULA_MUST_CHECK
int kula_shapley_validate(const int64_t *values, size_t n);

/* Exact Shapley numerators: out[i] = n! * phi_i
 *   = sum over S not containing i of |S|!(n-1-|S|)! (v(S+i) - v(S)).
 * Every term is >= 0 in a valid game and out[i] <= n! * v(all) < 2^108, so
 * the sums are exact; they add up to n! * v(all) (efficiency).
 * Out: out[n].  In: values[2^n], n.
 * Returns: as kula_shapley_validate. */
KULA_MUST_CHECK
int kula_shapley_numerators(kula_u128 *out, const int64_t *values, size_t n);

/* Shapley split of pool: largest remainder over the Shapley numerators
 * (pool*num_i / sum(num)), which is exact rational arithmetic with 256-bit
 * intermediate products.
 * Out: shares[n].  In: ids[n] (strictly ascending), values[2^n], n, pool.
 * Returns: KULA_OK; KULA_EINVAL for n==0, n>16, ids not strictly ascending,
 *          pool<0; otherwise KULA_ERULE for an invalid game. */
KULA_MUST_CHECK
int kula_distribute_shapley(int64_t *shares, const uint32_t *ids, const int64_t *values,
                            size_t n, int64_t pool);

#endif /* KULA_DISTRIBUTION_H */
