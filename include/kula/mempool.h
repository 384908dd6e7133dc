/* mempool.h -- transactions waiting for a block.
 *
 * Bounded in count and bytes.  Each transaction is decoded once, kept by id
 * (a second copy is refused), and its signatures are verified once, in
 * parallel, against the signers' keys at admission; the block builder passes
 * those keys to the ledger, which re-verifies only if a key changed since. */
#ifndef KULA_MEMPOOL_H
#define KULA_MEMPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kula/chain.h"
#include "kula/ledger.h"
#include "kula/verifier.h"

#define KULA_MEMPOOL_MAX_TXS 100000u
#define KULA_MEMPOOL_MAX_BYTES (128u << 20)
/* A transaction whose nonce is more than this far ahead of its sender's is
 * refused (KULA_ENONCE): it could wait for ever, and a member could fill
 * every node's mempool with them. */
#define KULA_MEMPOOL_NONCE_AHEAD 4096u

typedef struct kula_mempool kula_mempool;

int kula_mempool_new(kula_mempool **out, size_t max_txs, size_t max_bytes);
void kula_mempool_free(kula_mempool *mp);
size_t kula_mempool_size(const kula_mempool *mp);
size_t kula_mempool_bytes(const kula_mempool *mp);
bool kula_mempool_contains(const kula_mempool *mp, const kula_hash *id);
/* Returns: the keys the transaction's signatures were verified with at
 *          admission (in signature order), or NULL if it is not here or
 *          was admitted unverified.  Valid until the next add or update:
 *          for checking a proposed block without verifying again. */
const kula_pubkey *kula_mempool_keys(const kula_mempool *mp, const kula_hash *id);

/* Admits a batch of signed transactions (bytes are copied).
 * Out: results[i], 0 or why tx i was refused (a decode error, KULA_EDUPTX,
 *      KULA_EMEMPOOLFULL, KULA_EBADSIG, KULA_ESIGNERS, KULA_ENONCE: more
 *      than KULA_MEMPOOL_NONCE_AHEAD ahead, or an error of the signers'
 *      lookup such as KULA_EUNKNOWNMEMBER); ids[i] when it decoded
 *      (may be NULL).  Signers whose keys cannot be known yet (an agreement
 *      opened in a pending transaction) are verified by the ledger later.
 * Returns: the number admitted. */
size_t kula_mempool_add_batch(kula_mempool *mp, kula_ledger *l, kula_verifier *v,
                              const uint8_t *const *txs, const size_t *lens, size_t n,
                              int *results, kula_hash *ids);

/* Removes the transaction with this id, if present. */
void kula_mempool_remove(kula_mempool *mp, const kula_hash *id);
/* Removes every transaction of ids[0..n) present.  The index is rebuilt
 * once, so removing a block's transactions costs the mempool's size once,
 * not once per transaction. */
void kula_mempool_remove_batch(kula_mempool *mp, const kula_hash *ids, size_t n);
/* Removes the transactions a committed block holds (canonical bytes), and
 * every other one those transactions made stale: one whose sender's nonce
 * the block has reached (another transaction took its nonce; it can never
 * be valid), so that no node keeps or offers it.
 * Returns: the block's transaction count (0 if it does not decode). */
size_t kula_mempool_remove_block(kula_mempool *mp, const uint8_t *block, size_t len);

/* Fills out[0..max) with candidates in arrival order.  Pointers stay valid
 * until the next add or update.  Returns: the count. */
size_t kula_mempool_candidates(kula_mempool *mp, kula_candidate *out, size_t max);

/* Visits the transactions in arrival order, starting at the arrival number
 * *cursor (0: the oldest), until fn returns false for one (which is not
 * counted: the walk resumes at it) or none are left.  Out: *cursor, where
 * the next walk resumes; later arrivals come after it.  Returns: the count
 * visited.  fn must not change the mempool. */
typedef bool (*kula_mempool_walk_fn)(void *ctx, const uint8_t *tx, size_t len);
size_t kula_mempool_walk(const kula_mempool *mp, uint64_t *cursor, kula_mempool_walk_fn fn,
                         void *ctx);

/* After a block was built from cands: drops those included and those that
 * failed for a reason time cannot cure (everything but a nonce still in
 * the future of l's state, or a full block).  Calls fn (may be NULL) for each dropped one with its result. */
typedef void (*kula_mempool_drop_fn)(void *ctx, const kula_hash *id, int result);
void kula_mempool_update(kula_mempool *mp, kula_ledger *l, const kula_candidate *cands,
                         size_t n, kula_mempool_drop_fn fn, void *ctx);

#endif /* KULA_MEMPOOL_H */
