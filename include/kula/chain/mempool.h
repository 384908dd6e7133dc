/* mempool.h -- transactions waiting for a block.
 *
 * Bounded in count and bytes.  Each transaction is decoded once, kept by id
 * (a second copy is refused) and, if sequenced, by (sender, nonce) (a second
 * transaction with a pending nonce is refused); its signatures are verified
 * once, in parallel, against the signers' keys at admission; the block
 * builder passes those keys to the ledger, which re-verifies only if a key
 * changed since.
 *
 * With a chain to track (kula_mempool_track) the mempool keeps a *view*:
 * the committed state with every pending transaction applied in order.  A
 * transaction is admitted only if the ledger's rules accept it on that view,
 * after everything pending before it (or if it waits for an earlier nonce of
 * its sender), so a refusal comes at submission with the rule's error.  The
 * view is rebuilt after each block; what can no longer commit then leaves
 * with its reason, reported to the drop callback:
 *   - a ledger rule's error (the block that committed changed the state);
 *   - KULA_ENONCEGAP, it waited KULA_MEMPOOL_GAP_BLOCKS blocks for an
 *     earlier nonce of its sender that never came;
 *   - KULA_EPENDINGEXPIRED, it was pending KULA_MEMPOOL_TTL_BLOCKS blocks;
 *   - KULA_ENONCE, another transaction took its nonce. */
#ifndef KULA_MEMPOOL_H
#define KULA_MEMPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kula/base/error.h"
#include "kula/chain/chain.h"
#include "kula/ledger/ledger.h"
#include "kula/crypto/verifier.h"

#define KULA_MEMPOOL_MAX_TXS 100000u
#define KULA_MEMPOOL_MAX_BYTES (128u << 20)
/* A transaction whose nonce is more than this far ahead of its sender's is
 * refused (KULA_ENONCE): it could wait for ever, and a member could fill
 * every node's mempool with them. */
#define KULA_MEMPOOL_NONCE_AHEAD 4096u

/* Blocks a transaction may wait for an earlier nonce of its sender (one
 * that arrives out of order from a peer, or was never sent). */
#define KULA_MEMPOOL_GAP_BLOCKS 3u
/* Blocks a transaction may stay pending at all: an hour at the default
 * block interval. */
#define KULA_MEMPOOL_TTL_BLOCKS 3600u

typedef struct kula_mempool kula_mempool;

/* Called for each transaction that leaves the mempool without a block,
 * with the reason (a negative kula_err). */
typedef void (*kula_mempool_drop_fn)(void *ctx, const kula_hash *id, int result);

KULA_MUST_CHECK
int kula_mempool_new(kula_mempool **out, size_t max_txs, size_t max_bytes);
void kula_mempool_free(kula_mempool *mp);
/* Checks admissions against the ledger's rules on a view of chain's
 * committed state plus the pending transactions (a stored chain; with a
 * memory chain, or without this call, only signatures and nonce bounds are
 * checked).  fn (may be NULL) hears of every transaction the mempool drops
 * on its own.  chain must outlive the mempool or the next call. */
void kula_mempool_track(kula_mempool *mp, kula_chain *chain, kula_mempool_drop_fn fn, void *ctx);

size_t kula_mempool_size(const kula_mempool *mp);
size_t kula_mempool_bytes(const kula_mempool *mp);
/* True when the last admission was checked by the view of the committed
 * state, which refuses a committed transaction (LEDGER.md §2.2: its nonce is
 * spent, or its id recorded); false without kula_mempool_track on a stored
 * chain, or when the view could not be built (out of memory). */
bool kula_mempool_viewed(const kula_mempool *mp);
bool kula_mempool_contains(const kula_mempool *mp, const kula_hash *id);
/* The signatures a proposal's check verified (kula_block_keys.sigcache):
 * admission does not verify again a transaction whose signatures are all
 * there.  The mempool's, alive as long as it is. */
kula_sigcache *kula_mempool_sigcache(kula_mempool *mp);
/* tx (len bytes) is a signed transaction whose id is id.
 * Returns: the keys tx's signatures were verified with at admission (in
 *          signature order), or NULL if it is not here, was admitted
 *          unverified, or is here with other bytes.  The id names the body
 *          only: a copy with other signatures (a proposer's forgery) is
 *          another transaction, which its checker must verify.  Valid until
 *          the next add or update: for checking a proposed block without
 *          verifying again. */
const kula_pubkey *kula_mempool_keys(const kula_mempool *mp, const kula_hash *id,
                                     const uint8_t *tx, size_t len);

/* Admits a batch of signed transactions (bytes are copied).
 * Out: results[i], 0 or why tx i was refused (a decode error, KULA_EDUPTX,
 *      KULA_ENONCEPENDING, KULA_EMEMPOOLFULL, KULA_EBADSIG, KULA_ESIGNERS,
 *      KULA_ENONCE: more than KULA_MEMPOOL_NONCE_AHEAD ahead, or an error
 *      of the signers' lookup such as KULA_EUNKNOWNMEMBER; with a view, any
 *      error of the ledger's rules, ENONCE for a spent nonce); ids[i] when
 *      it decoded (may be NULL).  The batch is checked in order: each tx
 *      after the pending ones and those before it in the batch.  Signers
 *      whose keys cannot be known yet (an agreement opened in a pending
 *      transaction) are verified by the view or the ledger later.
 * Returns: the number admitted. */
size_t kula_mempool_add_batch(kula_mempool *mp, kula_ledger *l, kula_verifier *v,
                              const uint8_t *const *txs, const size_t *lens, size_t n,
                              int *results, kula_hash *ids);

/* kula_mempool_add_batch in two steps, so that the signatures are verified
 * while the caller's thread does other work (kula_verifier_queue):
 *   - kula_mempool_prepare decodes and checks the batch against the pending
 *     transactions and l's keys, and lists the signatures to verify
 *     (kula_mempool_batch_jobs; bytes are copied, results and ids must stay
 *     valid until the admission);
 *   - once they are verified, kula_mempool_admit checks each again against
 *     what changed meanwhile (a block committed, another batch admitted)
 *     and admits it, with add_batch's results; it frees the batch.
 *   - kula_mempool_batch_free drops a prepared batch without admitting it.
 * A block may commit, and other batches may be added, between the two.
 * Returns: prepare: the batch, or NULL (out of memory: every result is
 *          KULA_ENOMEM); admit: the number admitted. */
typedef struct kula_mempool_batch kula_mempool_batch;
kula_mempool_batch *kula_mempool_prepare(kula_mempool *mp, kula_ledger *l,
                                         const uint8_t *const *txs, const size_t *lens,
                                         size_t n, int *results, kula_hash *ids);
kula_verify_job *kula_mempool_batch_jobs(kula_mempool_batch *b, size_t *n);
size_t kula_mempool_admit(kula_mempool *mp, kula_mempool_batch *b);
void kula_mempool_batch_free(kula_mempool_batch *b);

/* Checks tx against the view (the committed state with every pending
 * transaction applied) as if it were submitted now with every signature it
 * needs, without admitting it: the rules of proto/LEDGER.md, and each
 * signature it already carries under its signer's current key.  A missing
 * signature is no error: a transaction travelling among its signers is
 * checked before each of them signs.  The view is left as it was.
 * Returns: 0, the error submitting it complete would give (KULA_EDUPTX if
 *          it is pending; a rule's error; KULA_EBADSIG, KULA_ESIGNERS for a
 *          signature by a member who need not sign), or KULA_ENOTFOUND when
 *          there is no view to check against (no chain tracked). */
KULA_MUST_CHECK
int kula_mempool_check(kula_mempool *mp, const kula_tx *tx);

/* The next nonce member can use: the one after its last in l's state and
 * its pending transactions in a row.  Returns: it, or 0 for an unknown
 * member. */
uint64_t kula_mempool_next_nonce(kula_mempool *mp, kula_ledger *l, uint32_t member);

/* What a pending transaction waits for. */
typedef struct kula_pending_info {
    bool waiting;           /* not valid yet: waits for missing_nonce */
    uint64_t missing_nonce; /* the sender's nonce it waits for */
    uint64_t since;         /* the chain's height when it was admitted */
} kula_pending_info;

/* Returns: whether id is pending; if so *out says what it waits for. */
bool kula_mempool_pending(kula_mempool *mp, const kula_hash *id, kula_pending_info *out);

/* Removes the transaction with this id, if present. */
void kula_mempool_remove(kula_mempool *mp, const kula_hash *id);
/* Removes every transaction of ids[0..n) present.  The index is rebuilt
 * once, so removing a block's transactions costs the mempool's size once,
 * not once per transaction. */
void kula_mempool_remove_batch(kula_mempool *mp, const kula_hash *ids, size_t n);
/* Removes the transactions a committed block holds (canonical bytes), and
 * every other one those transactions made stale: one whose sender's nonce
 * the block has reached (another transaction took its nonce; it can never
 * be valid; reported to the drop callback as KULA_ENONCE), so that no node
 * keeps or offers it.
 * Returns: the block's transaction count (0 if it does not decode). */
size_t kula_mempool_remove_block(kula_mempool *mp, const uint8_t *block, size_t len);

/* Fills out[0..max) with candidates: with a view, the transactions valid on
 * it, in the order it applied them; without, all in arrival order.
 * Pointers stay valid until the next add or update.  Returns: the count. */
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
void kula_mempool_update(kula_mempool *mp, kula_ledger *l, const kula_candidate *cands,
                         size_t n, kula_mempool_drop_fn fn, void *ctx);

#endif /* KULA_MEMPOOL_H */
