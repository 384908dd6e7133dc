/* clearing.h -- multilateral clearing of obligations (MTCS), proto/SPEC.md §14.
 *
 * Firms owe each other: each obligation is an arc from a debtor to a
 * creditor with a residual amount.  A firm's net position is what it is owed
 * minus what it owes.  Clearing reduces each obligation by a set-off in
 * [0, residual] so that no firm's net position changes and the debt that
 * remains is as small as it can be: a minimum-cost flow of the remaining
 * debt from the net debtors to the net creditors, one unit of cost per unit
 * of debt on each obligation.  Total debt minus that minimum is the amount
 * cleared.
 *
 * Many set-offs reach the same minimum; the algorithm of SPEC §14, with every
 * tie-break fixed, picks one, so every node and every auditor computes the
 * same set-off for each obligation, byte for byte, not only the same total.
 * The result depends on the obligations as a set, never on their input
 * order.  Pure integer arithmetic: no I/O, clock, randomness, floating point
 * or unordered iteration; sums that can exceed 64 bits are 128 bits wide. */
#ifndef KULA_CLEARING_H
#define KULA_CLEARING_H

#include <stddef.h>
#include <stdint.h>

#include "kula/base/amount.h" /* KULA_MUST_CHECK */
#include "kula/base/error.h"
#include "kula/crypto/crypto.h"
#include "kula/ledger/distribution.h" /* kula_u128 */

/* The most obligations one clearing takes (a member id is 32 bits, an
 * obligation's place in the solver's arrays 31). */
#define KULA_CLEARING_MAX_OBLIGATIONS 4000000u

/* One obligation: debtor owes creditor `amount` minor units.  The id is the
 * obligation's 32-byte id (an invoice's id, as every other id of the ledger);
 * ids are compared as 32-byte big-endian numbers. */
typedef struct kula_obligation {
    kula_hash id;
    uint32_t debtor;
    uint32_t creditor;
    int64_t amount; /* residual, >= 0 */
} kula_obligation;

/* What a clearing did, in minor units (SPEC §14.1). */
typedef struct kula_clearing_totals {
    uint32_t firms;              /* distinct members among debtors and creditors */
    size_t obligations;
    kula_u128 total_debt;        /* sum of the amounts */
    kula_u128 net_internal_debt; /* sum of the positive net positions */
    kula_u128 cleared;           /* sum of the set-offs */
    kula_u128 remaining;         /* total_debt - cleared, the minimum possible */
    uint32_t phases;             /* shortest-path phases the solver ran */
} kula_clearing_totals;

/* Clears obligations obs[0..n-1] by SPEC §14.
 * Out: setoff[n]: setoff[i] is the set-off of obs[i], in [0, obs[i].amount];
 *      totals (may be NULL).  Both untouched when it fails.
 *      e (may be NULL): on failure, which obligation is wrong and why, with
 *      e->tx_index its index in obs (or -1).
 * In:  obs[n], in any order; n may be 0.
 * Returns: KULA_OK;
 *          KULA_EAMOUNT when an amount is negative;
 *          KULA_ESELF when an obligation's debtor is its creditor;
 *          KULA_EEXIST when two obligations have the same id;
 *          KULA_ETOOBIG when n > KULA_CLEARING_MAX_OBLIGATIONS;
 *          KULA_ENOMEM. */
KULA_MUST_CHECK int kula_clearing_solve(int64_t *setoff, kula_clearing_totals *totals,
                                        kula_error *e, const kula_obligation *obs, size_t n);

#endif /* KULA_CLEARING_H */
