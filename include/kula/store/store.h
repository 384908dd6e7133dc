/* store.h -- the node's LMDB store: blocks, block hashes, transaction index,
 * member history, state and metadata (proto/SPEC.md §9).
 *
 * The environment lives in one directory (DATADIR/ledger).  Named databases:
 *   blocks   u64be height            -> canonical block
 *   hashes   block hash (32)         -> u64be height
 *   txindex  tx id (32)              -> u64be height || u32be index
 *   txrecent u64be height || u32be index -> tx id (32): the transaction
 *            index's recent entries, each in exactly one of the two
 *   history  u32be member || u64be height || u32be index -> tx id, or a
 *            payment of a clearing's settlement (kula_history_entry)
 *   state    state key               -> canonical state record
 *   meta     name                    -> value ("chain_id", "genesis", "tip",
 *                                       "tip_commit", "schema")
 * "schema" is the version of this layout (KULA_STORE_SCHEMA); a store an
 * older version wrote lacks index entries this one writes, until a reindex
 * (kula_store_outdated).
 * Each committed block is one LMDB write transaction, so a crash leaves the
 * previous block or the next, never a mix.  The map grows by doubling when
 * full.  Values read from the store are copied out; nothing borrowed from
 * LMDB escapes this module. */
#ifndef KULA_STORE_H
#define KULA_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kula/base/bytes.h"
#include "kula/base/error.h"

#include "kula/codec/codec.h"
#include "kula/crypto/crypto.h"

typedef struct kula_store kula_store;

/* One state change: val == NULL deletes key. */
typedef struct kula_state_write {
    const uint8_t *key;
    size_t klen;
    const uint8_t *val;
    size_t vlen;
} kula_state_write;

/* Scratch memory of kula_state_writes_sort, kept from one call to the
 * next; zero-initialise, free with kula_wsort_free. */
typedef struct kula_wsort {
    void *buf;
    size_t cap; /* writes it has room for */
} kula_wsort;

/* The most scratch memory a sort takes per write, in bytes. */
#define KULA_WSORT_SCRATCH 80

/* Sorts w[0..n) by key in the store's order (LMDB's: bytewise, a key
 * before the longer keys it begins), stable for equal keys.
 * Returns: 0 or KULA_ENOMEM (w unchanged). */
KULA_MUST_CHECK
int kula_state_writes_sort(kula_wsort *ws, kula_state_write *w, size_t n);
void kula_wsort_free(kula_wsort *ws);

enum { KULA_STORE_RDONLY = 1 };

/* The version of the layout this module writes (SPEC §9, meta "schema"):
 * 2 since history lists the payments of clearings' settlements, 3 since
 * the transaction index has its recent entries in txrecent.  A store of
 * schema 2 is one of schema 3 whose txrecent is empty: it is given 3 when
 * opened for writing, without a reindex. */
#define KULA_STORE_SCHEMA 3

/* Opens (creating unless read-only) the store in directory `dir`.
 * Returns: 0, KULA_ENOTFOUND (read-only and absent), KULA_ESTORE. */
KULA_MUST_CHECK
int kula_store_open(kula_store **out, const char *dir, unsigned flags);
void kula_store_close(kula_store *s);

/* A read-only handle on s's environment for another thread (the node's
 * audit, node/api/audit_job.c): every read of this header works on it and
 * every write is refused.  Each read is a read transaction of its own,
 * begun and ended inside it (MDB_NOTLS lets it be on any thread), so the
 * reader pins no old pages of the file between reads and sees what s
 * commits meanwhile; s's map may grow meanwhile (it waits for the read
 * under way).  One reader is used by one thread at a time; close it
 * (kula_store_close) before s.
 * Returns: 0, KULA_ENOMEM, KULA_EINVAL (s is itself a reader). */
KULA_MUST_CHECK
int kula_store_reader_open(kula_store **out, kula_store *s);
/* Fails every later read of the reader r with KULA_ESTORE ("stopped"),
 * so that a long job reading through it ends soon.  Any thread. */
void kula_store_reader_stop(kula_store *r);
/* How block writes fare, for the node's health.  Out: *failures, block
 * writes that failed since the store opened; *last_errno, the system or
 * LMDB error of the last block write (ENOSPC: the disk is full), or 0 if it
 * succeeded (or none was made). */
void kula_store_write_health(const kula_store *s, uint64_t *failures, int *last_errno);

/* The functions below that write take a kula_error *e (may be NULL): on
 * failure it holds what failed, in LMDB's words ("MDB_MAP_FULL: Environment
 * mapsize limit reached") or this module's, for a log line. */

/* Binds the store to a genesis.  On an empty store records the genesis and
 * chain id; otherwise checks that the stored chain id equals chain_id.
 * Returns: 0, KULA_ECHAIN (a different network's data), KULA_ENOTFOUND (a
 *          read-only store that was never bound), KULA_ESTORE. */
KULA_MUST_CHECK
int kula_store_bind(kula_store *s, const uint8_t *genesis, size_t len, const kula_hash *chain_id,
                    kula_error *e);
/* Out: the stored canonical genesis.  Returns: 0, KULA_ENOTFOUND, KULA_ESTORE. */
KULA_MUST_CHECK
int kula_store_genesis(kula_store *s, kula_buf *out);

/* Records the genesis state (tip stays 0).  Refused once any block is
 * committed.  Returns: 0, KULA_EHEIGHT, KULA_ESTORE. */
KULA_MUST_CHECK
int kula_store_init_state(kula_store *s, const kula_state_write *writes, size_t nwrites);
/* Returns: true once the genesis state has been recorded. */
bool kula_store_has_state(kula_store *s);

/* Out: *height of the last committed block (0 when none). */
KULA_MUST_CHECK
int kula_store_tip(kula_store *s, uint64_t *height);
/* Out: the block at height appended to out.  Returns: 0, KULA_ENOTFOUND. */
KULA_MUST_CHECK
int kula_store_block(kula_store *s, uint64_t height, kula_buf *out);
/* Out: the commit that finalised the tip block (appended to out). */
KULA_MUST_CHECK
int kula_store_tip_commit(kula_store *s, kula_buf *out);
KULA_MUST_CHECK
int kula_store_block_height(kula_store *s, const kula_hash *block_hash, uint64_t *height);
KULA_MUST_CHECK
int kula_store_tx_location(kula_store *s, const kula_hash *txid, uint64_t *height,
                           uint32_t *index);

/* One entry of a member's history (SPEC §9): a transaction, or a payment of
 * the settlement of a clearing (proto/LEDGER.md §9.6), which is no
 * transaction.  A payment is in the debtor's and the creditor's history at
 * the block of its clearing, after the block's transactions: its index is
 * the block's number of transactions plus its position in the clearing's
 * "Z" record, from which the store derives it when the block is written. */
typedef struct kula_history_entry {
    uint64_t height;
    uint32_t index;
    bool payment;              /* else a transaction */
    kula_hash id;              /* the transaction; a payment: the invoice paid */
    uint64_t clearing;         /* a payment: the clearing's number, */
    uint32_t debtor, creditor; /* who paid whom */
    int64_t amount;            /* and how much (> 0) */
} kula_history_entry;

/* History of a member, newest first.  Calls fn for at most `limit` entries
 * older than (before_height, before_index) (use UINT64_MAX to start at the
 * tip); the entry is fn's only during the call.
 * Returns: 0, KULA_ESTORE (an entry of neither form), or the first non-zero
 * value fn returned. */
typedef int (*kula_history_fn)(void *ctx, const kula_history_entry *e);
KULA_MUST_CHECK
int kula_store_history(kula_store *s, uint32_t member, uint64_t before_height,
                       uint32_t before_index, size_t limit, kula_history_fn fn, void *ctx);

/* State reads see the last committed block.
 * Out: value appended to out.  Returns: 0, KULA_ENOTFOUND, KULA_ESTORE. */
KULA_MUST_CHECK
int kula_store_state_get(kula_store *s, const uint8_t *key, size_t klen, kula_buf *out);
/* Calls fn for every state entry whose key starts with prefix, in key order.
 * Returns: 0, or the first non-zero value fn returned. */
typedef int (*kula_state_fn)(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val,
                             size_t vlen);
KULA_MUST_CHECK
int kula_store_state_scan(kula_store *s, const uint8_t *prefix, size_t plen, kula_state_fn fn,
                          void *ctx);
/* As kula_store_state_scan, for the keys that sort after `after` (a full
 * key under prefix, which need not exist; NULL, or a key not under prefix:
 * from the first), so that a list can be read in pages, each starting after
 * the last key of the one before.
 * Returns: 0, or the first non-zero value fn returned. */
KULA_MUST_CHECK
int kula_store_state_scan_after(kula_store *s, const uint8_t *prefix, size_t plen,
                                const uint8_t *after, size_t alen, kula_state_fn fn, void *ctx);

/* Per-transaction entries of a block for the indexes.  The history entries
 * of the payments of the block's clearing's settlement are not given: the
 * store reads them from the block's writes (its "Z" record, SPEC §10.1). */
typedef struct kula_tx_entry {
    kula_hash id;
    uint32_t parties[17];  /* members whose history shows this tx */
    uint32_t nparties;
} kula_tx_entry;

/* Commits block `height` (tip + 1) in one write transaction: the block, its
 * hash, the tx index and history, the state writes, the tip and the commit
 * that finalised it.  Returns: 0, KULA_EHEIGHT (not tip + 1), KULA_ESTORE. */
KULA_MUST_CHECK
int kula_store_commit_block(kula_store *s, uint64_t height, const kula_hash *block_hash,
                            const uint8_t *block, size_t block_len,
                            const kula_tx_entry *txs, uint32_t ntxs,
                            const kula_state_write *writes, size_t nwrites,
                            const uint8_t *commit, size_t commit_len, kula_error *e);

/* Deletes all state, indexes and the tip, keeping blocks, genesis and chain
 * id (for --reindex).  Returns: 0 or KULA_ESTORE. */
KULA_MUST_CHECK
int kula_store_reset_state(kula_store *s, kula_error *e);
/* Replaces the state and indexes for an already stored block during reindex
 * (same as commit_block but the block is not written again). */
KULA_MUST_CHECK
int kula_store_reindex_block(kula_store *s, uint64_t height, const kula_hash *block_hash,
                             const kula_tx_entry *txs, uint32_t ntxs,
                             const kula_state_write *writes, size_t nwrites, kula_error *e);

/* Reindex sessions (kula_chain_reindex).  kula_store_reindex_begin records
 * the marker "reindex" in meta and drops the state, "tip" and
 * "genesis_state"; with KULA_REINDEX_INDEXES it also drops hashes, txindex
 * and history, else it keeps them.  Until kula_store_reindex_end or _abort,
 * kula_store_init_state and kula_store_reindex_block on this handle write
 * into batches: one LMDB write transaction spanning many blocks, committed
 * every ~64 MiB of writes at a block boundary, without flushing LMDB's meta
 * page (a crash may lose whole batches, never mix them), and every read of
 * this handle sees them.  The state they write is kept in memory, up to
 * about 256 MiB, and written to LMDB in key order: at the end of the
 * session, before a scan of the state, and whenever it outgrows that
 * memory (which is then emptied and given back).  Blocks' index entries
 * are written only with KULA_REINDEX_INDEXES; otherwise they are summed
 * into a digest.
 *
 * While the marker is present and no session runs on the handle,
 * kula_store_tip (hence kula_chain_open and every commit) fails with
 * KULA_ESTORE: an interrupted or failed reindex leaves a partial state that
 * nothing may use; a reindex must run again.
 *
 * Returns: 0, KULA_EINVAL (read-only store or a session already open),
 *          KULA_ESTORE. */
enum { KULA_REINDEX_INDEXES = 1 };
KULA_MUST_CHECK
int kula_store_reindex_begin(kula_store *s, unsigned flags, kula_error *e);
/* Ends a session: without KULA_REINDEX_INDEXES, checks that hashes, txindex
 * and history hold exactly the entries the reindexed blocks imply (their
 * number, and two order-independent sums of a keyed hash of every entry).  Removes
 * the marker unless that check failed, commits and flushes.
 * Out: *indexes_ok, false when the kept indexes differ from the blocks (the
 * marker stays: reindex again with KULA_REINDEX_INDEXES).
 * Returns: 0, KULA_EINVAL (no session), KULA_ESTORE (the session is lost). */
KULA_MUST_CHECK
int kula_store_reindex_end(kula_store *s, bool *indexes_ok, kula_error *e);
/* Ends a session, dropping the open batch; the marker stays.
 * Returns: true when the session failed only because the map was full (the
 * map is now larger: a new session may succeed). */
bool kula_store_reindex_abort(kula_store *s);
/* Returns: true while a reindex has begun and not successfully ended. */
bool kula_store_reindex_pending(kula_store *s);
/* Returns: true when the store holds blocks whose index entries an older
 * version wrote (meta "schema" below KULA_STORE_SCHEMA: schema 1 has no
 * history entries for the payments of clearings' settlements).  A reindex
 * (kula_chain_reindex) finds the missing entries, rewrites the indexes and
 * records the current schema; until then the old entries still serve. */
bool kula_store_outdated(kula_store *s);

/* Out: the highest stored block height (may exceed the tip during reindex). */
KULA_MUST_CHECK
int kula_store_last_block(kula_store *s, uint64_t *height);

/* ---- snapshot heights and state sync (SPEC §9, §10.3) ---- */

/* Keeps the parts of block height's snapshot commitment (parts: the
 * canonical [diff_root, vals, state_hash]) to be written with the block,
 * in the same write transaction, by the next kula_store_commit_block or
 * kula_store_reindex_block of that height.  Returns: 0 or KULA_ENOMEM. */
KULA_MUST_CHECK
int kula_store_stage_snapshot(kula_store *s, uint64_t height, const uint8_t *parts, size_t len);

/* Out: *height, the first snapshot height at or above from; its stored
 * value appended to out: [diff_root, vals, state_hash], or [diff_root,
 * vals, state_hash, header, commit] for a height a state sync brought
 * (the store has no block there).
 * Returns: 0, KULA_ENOTFOUND (none), KULA_ESTORE. */
KULA_MUST_CHECK
int kula_store_snapshot_next(kula_store *s, uint64_t from, uint64_t *height, kula_buf *out);

/* Out: *base, the height of the snapshot this store started from (0: it
 * holds every block from the genesis); *missing_below, the lowest block
 * height stored since (blocks 1 .. missing_below - 1 are not; 0 when none
 * is missing); header (may be NULL): the base block's header appended.
 * Returns: 0 or KULA_ESTORE. */
KULA_MUST_CHECK
int kula_store_base(kula_store *s, uint64_t *base, uint64_t *missing_below, kula_buf *header);

/* What kula_store_install_snapshot writes: each record of the state, in
 * any order, through put, which returns 0 or a kula error that fill
 * returns as it is. */
typedef int (*kula_store_put_fn)(void *put_ctx, const uint8_t *key, size_t klen,
                                 const uint8_t *val, size_t vlen);
/* Gives every record to put; may run more than once (the map grew), each
 * time from the first record.  Returns: 0, or what put returned, or an
 * error of its own (a kula error). */
typedef int (*kula_store_fill_fn)(void *ctx, kula_store_put_fn put, void *put_ctx);
/* One snapshot height's stored value (kula_store_snapshot_next's form
 * with header and commit) that the state sync checked. */
typedef struct kula_store_snap_proof {
    uint64_t height;
    const uint8_t *value;
    size_t len;
} kula_store_snap_proof;
/* Starts the store from a snapshot: in one write transaction the state
 * becomes fill's records, the tip `height` with its header and commit,
 * the proofs become the store's snapshot heights, and meta records the
 * base (SPEC §9: "base", "base_header", "missing_below" = height + 1).
 * Only a store without blocks may be started so.
 * Returns: 0, KULA_EHEIGHT (the store has blocks), KULA_ESTORE, or fill's
 * error. */
KULA_MUST_CHECK
int kula_store_install_snapshot(kula_store *s, uint64_t height, const uint8_t *header,
                                size_t header_len, const uint8_t *commit, size_t commit_len,
                                const kula_store_snap_proof *proofs, size_t nproofs,
                                kula_store_fill_fn fill, void *ctx, kula_error *e);
/* Stores block `height` of a store started from a snapshot, below what it
 * holds: height must be missing_below - 1; the caller has checked that
 * its hash is block_hash, the prev_hash of the block above it.  Writes the
 * block and its hash; missing_below becomes height (at 1, nothing is
 * missing).  Returns: 0, KULA_EHEIGHT, KULA_ESTORE. */
KULA_MUST_CHECK
int kula_store_put_old_block(kula_store *s, uint64_t height, const kula_hash *block_hash,
                             const uint8_t *block, size_t len, kula_error *e);

/* Big-endian helpers shared with the ledger's key layout. */

#endif /* KULA_STORE_H */
