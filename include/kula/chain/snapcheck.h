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

/* ---- what peers and the store hold for a snapshot height ---- */

struct kula_snapshot_commit;

/* Largest header and validator sets an item may carry: a header is about
 * 200 bytes; two sets of 256 validators about 25 KB. */
#define KULA_SNAP_MAX_HEADER 1024u
/* Largest commit: 256 entries of [uint32, bin64] and the fixed fields (as
 * the peer protocol's KULA_MAX_COMMIT_BYTES). */
#define KULA_SNAP_MAX_COMMIT (KULA_MAX_VALIDATORS * 80u + 128u)
#define KULA_SNAP_MAX_VALS 32768u

/* A snapshot height as a peer offers it (a SNAPSHOTS item, SPEC §12.2):
 *   [height: uint64, header: bin, commit: bin, diff_root: bin32,
 *    vals: bin, state_hash: bin32, size: uint]
 * size: the bytes of the copy of the state the sender keeps for that
 * height (0: none).  Pointers borrow from the decoded input. */
typedef struct kula_snap_item {
    uint64_t height;
    const uint8_t *header;
    size_t header_len;
    const uint8_t *commit;
    size_t commit_len;
    kula_hash diff_root;
    const uint8_t *vals;
    size_t vals_len;
    kula_hash state_hash;
    uint64_t size;
} kula_snap_item;

/* Returns: 0, KULA_EINVAL (a field out of its bounds) or KULA_ENOMEM. */
KULA_MUST_CHECK
int kula_snap_item_encode(kula_buf *out, const kula_snap_item *it);
/* Checks the structure and bounds only (height >= 1; header 1 ..
 * KULA_SNAP_MAX_HEADER, commit 1 .. KULA_SNAP_MAX_COMMIT, vals 1 ..
 * KULA_SNAP_MAX_VALS bytes); kula_snap_check_header checks the rest.
 * Returns: 0 or a codec error. */
KULA_MUST_CHECK
int kula_snap_item_decode(kula_snap_item *it, const uint8_t *data, size_t len);

/* What the store keeps for a snapshot height (kula_store_snapshot_next):
 * [diff_root, vals, state_hash], plus [header, commit] when a state sync
 * brought it.  Encodes the first form from the ledger's commitment. */
KULA_MUST_CHECK
int kula_snap_parts_encode(kula_buf *out, const struct kula_snapshot_commit *sc);
/* Encodes the second form, [diff_root, vals, state_hash, header, commit],
 * from a checked item: what the store keeps of a height a state sync
 * brought.  Returns: 0 or KULA_ENOMEM. */
KULA_MUST_CHECK
int kula_snap_stored_encode(kula_buf *out, const kula_snap_item *it);
/* Decodes either form into it (height and size are left as they were;
 * header and commit NULL in the first form).  Returns: 0 or a codec
 * error. */
KULA_MUST_CHECK
int kula_snap_parts_decode(kula_snap_item *it, const uint8_t *data, size_t len);

#endif /* KULA_SNAPCHECK_H */
