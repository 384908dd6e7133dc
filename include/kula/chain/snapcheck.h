/* snapcheck.h -- trusting a header at a snapshot height without the blocks
 * before it (proto/SPEC.md §10.3): the light check a state-syncing node
 * makes before it takes a peer's copy of the state.
 *
 * A node starts from the genesis validators with their genesis keys and
 * walks headers at snapshot heights in ascending order.  Each header comes
 * with a commit for it and the parts of its root (the diff root, the
 * canonical validator sets [last, next] with their keys, the state hash).
 * kula_snap_check_header takes the header when
 *   - it is of this chain, and its commit is for it at its height;
 *   - its state_root is H(kula/snapshot/v1 || diff root || H(vals) ||
 *     state hash), so the sets and the state hash are the ones the
 *     validators committed to;
 *   - the commit holds valid precommit signatures of validators of the
 *     trusted set (the next set of the header taken before) with more than
 *     1/3 of its power: if fewer than 1/3 of them are faulty, at least one
 *     honest validator signed the header;
 *   - and valid signatures of its own last set (the set that signs it) with
 *     more than 2/3 of that set's power, as any commit needs.
 * Then its next set is the trusted set for the following header, and its
 * state hash is what a copy of the state at that height must hash to.
 * Pure: no I/O, no clock. */
#ifndef KULA_SNAPCHECK_H
#define KULA_SNAPCHECK_H

#include <stddef.h>
#include <stdint.h>

#include "kula/base/error.h"
#include "kula/crypto/crypto.h"
#include "kula/types/genesis.h"
#include "kula/types/types.h"

/* A validator set with the keys its members sign with. */
typedef struct kula_keyed_valset {
    uint32_t n; /* 1 .. KULA_MAX_VALIDATORS, ascending id */
    struct {
        uint32_t id;
        uint64_t power;
        kula_pubkey key;
    } v[KULA_MAX_VALIDATORS];
    uint64_t total_power;
} kula_keyed_valset;

/* The genesis validators (voting power > 0) with their genesis keys: what a
 * node trusts before any header. */
void kula_snap_trust_genesis(const kula_genesis *g, kula_keyed_valset *out);

/* Decodes the canonical vals of SPEC §10.3, [last, next], each 1 ..
 * KULA_MAX_VALIDATORS entries [member, power (1 .. 2^48), pubkey (32
 * bytes)] strictly ascending by member.  Returns: 0 or the codec's error
 * (KULA_EORDER for an order that is not strictly ascending). */
KULA_MUST_CHECK
int kula_snap_vals_decode(const uint8_t *vals, size_t len, kula_keyed_valset *last,
                          kula_keyed_valset *next);

/* Checks one header at a snapshot height (the list above).  header and
 * commit are canonical encodings.  Out: *height, the header's; next, the
 * set to trust for the following header; e (may be NULL): on failure one
 * line saying what does not hold; *height and next are written only on
 * success.
 * Returns: 0, KULA_ECHAIN (another network), KULA_ESTATEROOT (the parts do
 * not give the header's root), KULA_ECOMMIT (the commit is not for this
 * header, or the signatures fall short), a codec error, or KULA_ENOMEM. */
KULA_MUST_CHECK
int kula_snap_check_header(const kula_hash *chain_id, const kula_keyed_valset *trusted,
                           const uint8_t *header, size_t header_len, const uint8_t *commit,
                           size_t commit_len, const kula_hash *diff_root, const uint8_t *vals,
                           size_t vals_len, const kula_hash *state_hash, uint64_t *height,
                           kula_keyed_valset *next, kula_error *e);

#endif /* KULA_SNAPCHECK_H */
