/* chain.h -- the ledger bound to its store: genesis state, block
 * validation, block building, commit and reindex.
 *
 * Every block that enters the store passes kula_chain_apply_block (or was
 * built by kula_chain_build_block), which checks, in order: decoding, chain
 * id, height, previous hash, time, proposer, the parent's commit, the
 * transactions root, every transaction, and the state root. */
#ifndef KULA_CHAIN_H
#define KULA_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kula/base/error.h"
#include "kula/types/genesis.h"
#include "kula/ledger/ledger.h"
#include "kula/store/store.h"
#include "kula/types/types.h"

typedef struct kula_chain kula_chain;

/* Opens the chain over an open, bound store.  Records the genesis state if
 * the store has none yet.
 * Out: *out; on failure *e says which step failed (e may be NULL).
 * Returns: 0, KULA_ENOMEM, or the error of the store or the ledger. */
KULA_MUST_CHECK
int kula_chain_open(kula_chain **out, kula_store *store, const kula_genesis *g, kula_error *e);
/* Opens a chain that lives in memory only (no store): blocks applied to it
 * are checked exactly as for a stored chain and then kept only as state.
 * For auditors replaying someone else's ledger read-only.  Returns: 0 or an
 * error, described in *e (e may be NULL). */
KULA_MUST_CHECK
int kula_chain_open_memory(kula_chain **out, const kula_genesis *g, kula_error *e);
void kula_chain_free(kula_chain *c);

kula_ledger *kula_chain_ledger(kula_chain *c);
uint64_t kula_chain_height(const kula_chain *c);
/* Hash and time of the tip block (zero hash and genesis time at height 0). */
const kula_hash *kula_chain_tip_hash(const kula_chain *c);
uint64_t kula_chain_tip_time(const kula_chain *c);
/* A scratch ledger over the committed state, with block tip + 1 begun at
 * max(time_ms, the tip's time): transactions applied to it are checked by
 * every rule of the ledger and never stored (the mempool's view of what is
 * pending).  It reads the store directly, so it stays valid while the chain
 * builds or checks a block; it is stale once the chain commits one.
 * Out: *out, freed with kula_ledger_free.  Returns: 0; KULA_EINVAL, a memory
 * chain (no store to read); KULA_ENOMEM. */
KULA_MUST_CHECK
int kula_chain_new_view(kula_chain *c, uint64_t time_ms, kula_ledger **out);

enum {
    KULA_APPLY_SKIP_SIGS = 1, /* replay: signatures not checked */
    KULA_APPLY_REINDEX = 2,   /* the block is already stored */
};

/* Returns: the keys the signed transaction tx (len bytes, id id) was
 * verified with, valid until that transaction is applied, or NULL
 * (kula_mempool_keys answers this, behind a wrapper for ctx). */
typedef const kula_pubkey *(*kula_keys_fn)(void *ctx, const kula_hash *id, const uint8_t *tx,
                                           size_t len);

/* Keys already verified for a block's transactions: verified[i] holds the
 * keys for transaction i's signatures (from a parallel verifier), or is
 * NULL to verify inline; or, without verified, lookup(ctx, ...) is asked
 * for each transaction that decodes (with its id from the block's one
 * hashing).
 * sigcache (may be NULL): as kula_apply_opts.sigcache, for the signatures
 * verified inline. */
typedef struct kula_block_keys {
    const kula_pubkey *const *verified;
    uint32_t n;
    kula_keys_fn lookup;
    void *ctx;
    kula_sigcache *sigcache;
} kula_block_keys;

/* As kula_chain_apply_block, taking pre-verified keys (keys may be NULL). */
KULA_MUST_CHECK
int kula_chain_apply_block_keys(kula_chain *c, const uint8_t *block, size_t len,
                                const uint8_t *commit, size_t commit_len, unsigned flags,
                                const kula_block_keys *keys, kula_error *e);

/* Validates block (canonical bytes) as the next block and commits it with
 * the commit that finalised it (commit: canonical bytes, may be NULL only
 * with KULA_APPLY_REINDEX).  Returns: 0 or the error, described in *e. */
KULA_MUST_CHECK
int kula_chain_apply_block(kula_chain *c, const uint8_t *block, size_t len,
                           const uint8_t *commit, size_t commit_len, unsigned flags,
                           kula_error *e);

struct kula_snap_item;
/* Starts this empty chain (height 0, over a store, nothing built) from a
 * snapshot the caller has checked (kula/chain/snapcheck.h): target is the
 * header, commit and parts of its height, whose state fill gives record by
 * record and whose state hash the caller has verified; proofs are the
 * snapshot heights checked on the way, kept to be offered to others.  The
 * store records it all in one write transaction
 * (kula_store_install_snapshot); the chain's tip is then target's height.
 * Returns: 0 or the error, described in *e. */
KULA_MUST_CHECK
int kula_chain_install_snapshot(kula_chain *c, const struct kula_snap_item *target,
                                const kula_store_snap_proof *proofs, size_t nproofs,
                                kula_store_fill_fn fill, void *ctx, kula_error *e);

/* Verifies a commit for (height, block_hash) against a validator set:
 * signatures strictly ascending by validator, each of a validator of the set
 * over the precommit [2, height, round, block_hash, validator], together
 * holding more than 2/3 of the set's voting power.  Returns: 0 or KULA_ECOMMIT. */
KULA_MUST_CHECK
int kula_commit_verify(const kula_commit *commit, const kula_hash *chain_id,
                       const kula_valset *vs, kula_ledger *l, uint64_t height,
                       const kula_hash *block_hash, bool check_sigs);

/* A candidate transaction for a new block. */
typedef struct kula_candidate {
    const uint8_t *bytes;           /* canonical signed tx */
    size_t len;
    const kula_tx *tx;              /* decoded */
    const kula_pubkey *verified;    /* keys its sigs were verified with, or NULL */
    int result;                     /* out: 0 included, else why not */
} kula_candidate;

/* Builds the next block from candidates (in order; each either included or
 * given its error in result), proposed by `proposer` at time_ms (raised to
 * the tip's time if earlier).  The block is applied to the ledger but not
 * committed: call kula_chain_commit_built with its commit, or
 * kula_chain_abandon_built.  Out: block (canonical bytes appended), hash.
 * Returns: 0 or an error. */
KULA_MUST_CHECK
int kula_chain_build_block(kula_chain *c, uint64_t time_ms, uint32_t proposer,
                           kula_candidate *cands, size_t ncands, kula_buf *block,
                           kula_hash *hash);
/* Commits the block held by kula_chain_build_block or kula_chain_check_block
 * with its commit (canonical bytes), which must be for that block and height
 * and signed by validators holding more than 2/3 of the power of the set
 * that was to sign it (signatures are not re-checked: the caller assembled
 * the commit from votes it verified).  Works on stored and memory chains.
 * Returns: 0; KULA_EINVAL, nothing held; KULA_ECOMMIT, a commit that does
 *          not decode or finalise the block; a store error.  On any error
 *          the held block is abandoned. */
KULA_MUST_CHECK
int kula_chain_commit_built(kula_chain *c, const uint8_t *commit, size_t commit_len);
void kula_chain_abandon_built(kula_chain *c);

/* Validates a proposed block as the next block exactly as
 * kula_chain_apply_block does (signatures included, keys may be NULL), but
 * without a commit of its own: on success the block is held applied but not
 * committed, like a built one, until kula_chain_commit_built or
 * kula_chain_abandon_built.  Out: *hash (may be NULL), the block's hash.
 * Returns: 0, KULA_EINVAL (a block is already held), or the block's error,
 *          described in *e. */
KULA_MUST_CHECK
int kula_chain_check_block(kula_chain *c, const uint8_t *block, size_t len,
                           const kula_block_keys *keys, kula_hash *hash, kula_error *e);
/* True while a built or checked block is held. */
bool kula_chain_holding(const kula_chain *c);

/* Appends the commit this chain holds for its tip: the one it was committed
 * with (another node may hold a different valid commit for the same block;
 * the next block carries the one that counts, proto/SPEC.md §7.2).
 * Returns: 0, KULA_ENOTFOUND at height 0, KULA_ENOMEM. */
KULA_MUST_CHECK
int kula_chain_tip_commit(const kula_chain *c, kula_buf *out);

/* Rebuilds the state from the stored blocks, checking every hash link, tx
 * root and state root (signatures are not re-checked).  progress (may be
 * NULL) is called every `every` blocks.  Returns: 0, or the first failure in
 * *e with its height in *bad_height. */
typedef void (*kula_progress_fn)(void *ctx, uint64_t done, uint64_t total);
KULA_MUST_CHECK
int kula_chain_reindex(kula_store *store, const kula_genesis *g, kula_progress_fn progress,
                       void *ctx, uint64_t *bad_height, kula_error *e);

#endif /* KULA_CHAIN_H */
