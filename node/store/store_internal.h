/* store_internal.h -- the store's handle and what its files share: the LMDB
 * wrapper (store.c), index entries and digests (store_index.c), the
 * transaction index's recent entries (store_recent.c), reindex
 * sessions (store_reindex.c), the index scan (store_scan.c), the digests of
 * the replayed blocks (store_digest.c), the filter of state keys (bloom.c),
 * the state a reindex keeps in memory (rx_state.c) and the sort of index
 * entries (radix.c).  Private to node/store/. */
#ifndef KULA_STORE_INTERNAL_H
#define KULA_STORE_INTERNAL_H

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "kula/store/store.h"

/* A reindex commits its batch once this many bytes of keys and values have
 * been written into it (at a block boundary). */
#define RX_BATCH_BYTES (64u << 20)

/* A reindex keeps the state it writes in memory up to about this many
 * bytes (rx_state.c). */
#define RX_STATE_BYTES ((size_t)256 << 20)

/* The indexes a reindex keeps: hashes, txindex, history. */
enum { IX_HASHES, IX_TXINDEX, IX_HISTORY, IX_COUNT };

/* An order-independent digest of a set of (key, value) entries. */
typedef struct ix_sum {
    uint64_t n, a, b;
} ix_sum;

/* The keys a reindex has written to the state, which it began empty: a
 * blocked Bloom filter (one 512-bit line per key, 4 bits set), so that a
 * read of a key never written needs no LMDB lookup.  Sized for twice the
 * old state's entries at 16 bits each; once that many keys are in it, it
 * is dropped and every read goes to LMDB. */
typedef struct rx_bloom {
    uint64_t *bits;  /* NULL: no filter */
    size_t nlines;
    size_t n, cap;   /* keys that set a new bit; the most it holds */
} rx_bloom;

/* The state a reindex writes, in memory until written to LMDB sorted
 * (rx_state.c): open addressing over SipHash, the entries in mapped
 * chunks. */
struct rx_rec;
typedef struct rx_slot {
    uint64_t h;
    struct rx_rec *r;    /* NULL: a free slot */
} rx_slot;

typedef struct rx_state {
    bool on;             /* the session keeps its state here */
    bool complete;       /* LMDB's state holds no key the table lacks */
    rx_slot *slots;
    size_t mask;         /* slots - 1, a power of two minus one */
    size_t count, ndirty;
    struct rx_chunk *chunks;
    size_t mem, budget;  /* bytes mapped; written out and emptied past budget */
    unsigned char hkey[KULA_TABLE_KEY_LEN];
} rx_state;

/* The scan of the kept indexes, run on a thread of its own while the
 * blocks are replayed (the indexes do not change during the session). */
typedef struct rx_scan {
    pthread_t thread;
    bool running;
    int mrc;                /* the scan's LMDB result */
    ix_sum got[IX_COUNT];
} rx_scan;

/* The digests of the index entries the replayed blocks imply, added up on
 * a thread of their own (store_digest.c) so that the applying thread only
 * copies each block's entries into a ring of slots and goes on. */
#define RX_DIGEST_SLOTS 8
typedef struct rx_digest_slot {
    uint64_t height;
    kula_hash block_hash;
    kula_tx_entry *txs;
    uint32_t ntxs;
    size_t cap;             /* entries txs has room for */
} rx_digest_slot;

typedef struct rx_digest {
    pthread_t thread;
    bool running;
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* a slot filled, a slot freed, or stop */
    rx_digest_slot slots[RX_DIGEST_SLOTS];
    unsigned head, count;   /* the filled slots, oldest first */
    bool stop;
    ix_sum sums[IX_COUNT];  /* the thread's part, added to rx_want at the join */
} rx_digest;

/* txrecent's entries, as the store that writes it keeps them
 * (store_recent.c): in arrival order, and a hash by id over them. */
#define STORE_RECENT_MAX 65536u
typedef struct recent_ent {
    kula_hash id;
    uint64_t height;
    uint32_t index;
} recent_ent;

typedef struct store_recent {
    bool on;          /* the hash mirrors txrecent: a writable store */
    bool stale;       /* txrecent may have changed: read it again first */
    recent_ent *ents;
    size_t n, cap;
    uint32_t *slots;  /* open addressing over 2 x cap: position + 1, 0 free */
    size_t mask;
    size_t max;       /* moved into txindex at this many (0: STORE_RECENT_MAX) */
} store_recent;

struct kula_store {
    MDB_env *env;
    MDB_dbi blocks, hashes, txindex, history, state, meta;
    MDB_dbi txrecent; /* absent in an older store opened read-only */
    bool has_recent;
    /* Written by the writing store's thread after each commit; read by its
     * readers' threads: both under recent_mu (store_recent.c). */
    store_recent recent;
    pthread_mutex_t recent_mu;
    bool recent_mu_ok;
    MDB_dbi snapshots; /* SPEC §9; absent in an older store opened read-only */
    bool has_snapshots;
    /* The snapshot parts of the block about to be written (store_snap.c):
     * written with it when its height is snap_staged_h. */
    kula_buf snap_staged;
    uint64_t snap_staged_h;
    MDB_txn *rtxn;    /* cached read transaction, reset after each write */
    bool rtxn_live;
    bool rdonly;
    int last_rc;      /* the LMDB error of the public call under way */
    uint64_t write_failures; /* block writes that failed since open */
    int write_rc;     /* the last block write's error (0: it succeeded) */
    const char *last_msg; /* or a message of this module's own */
    /* The reindex session on this handle (kula_store_reindex_begin). */
    bool rx_active;
    bool rx_indexes;  /* rewriting the indexes (else verifying them) */
    bool rx_broken;   /* a write failed: the session can only be aborted */
    bool rx_full;     /* ... because the map was full (since grown) */
    MDB_txn *wtxn;    /* the open batch, or NULL */
    size_t rx_bytes;  /* written into the open batch */
    size_t rx_batch;  /* commit a batch once it holds this many */
    uint64_t rx_seed;
    ix_sum rx_want[IX_COUNT]; /* the entries the replayed blocks imply */
    rx_bloom bloom;
    rx_state rxs;
    size_t rxs_budget; /* for the next session (0: none kept in memory) */
    rx_scan scan;
    rx_digest digest;
    void *sort_buf;   /* a block's index entries, being sorted */
    size_t sort_cap;
    /* A reader (kula_store_reader_open) shares owner's environment: each of
     * its reads is a read transaction of its own, begun and aborted inside
     * the read, under owner->map_lock (read); its stop flag, once set, fails
     * every later read. */
    kula_store *owner;
    atomic_bool stopped;
    /* An owner: held for writing while the map is resized (LMDB allows no
     * transaction of the process open then), for reading by its readers'
     * reads.  Only readers' reads take it: the owner's own reads and
     * writes run on the thread that resizes. */
    pthread_rwlock_t map_lock;
    bool map_lock_ok;
};

/* An index entry to sort: key decides the order (ties: see store_index.c). */
typedef struct ix_rec {
    uint64_t key;
    uint32_t index;   /* of the transaction in the block */
    const uint8_t *id;
} ix_rec;

static inline MDB_val val_of(const void *p, size_t n)
{
    MDB_val v = { n, (void *)p };
    return v;
}

/* A 64-bit mixer (MurmurHash3's finaliser) and a keyed hash of bytes built
 * on it: fast and well spread, for the digests and the filter; not
 * cryptographic, which is why each reindex draws a random seed. */
static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x *= UINT64_C(0xc4ceb9fe1a85ec53);
    x ^= x >> 33;
    return x;
}

static inline uint64_t mix_bytes(uint64_t h, const uint8_t *p, size_t n)
{
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = mix64(h ^ w) + UINT64_C(0x9e3779b97f4a7c15);
    }
    uint64_t w = 0;
    memcpy(&w, p, n);
    return mix64(h ^ w ^ (uint64_t)n << 56);
}

/* Runs inside a write transaction.  Returns: 0 or an LMDB code. */
typedef int (*write_fn)(kula_store *s, MDB_txn *txn, void *ctx);

/* store.c */
/* Records the current schema in meta (KULA_STORE_SCHEMA): always, else
 * when none is recorded, 2, or an older one with no blocks.
 * Returns: 0 or an LMDB code. */
int store_set_schema(kula_store *s, MDB_txn *txn, bool always);
/* Records an LMDB failure.  Returns: the kula error for rc. */
int store_lmdb_fail(kula_store *s, int rc);
/* A public function that takes a kula_error starts with store_error_begin
 * (forgets the last failure) and returns through store_error_end, which
 * fills e when rc != 0: this module's own message, else LMDB's for the
 * last failure of the call, else kula_strerror(rc).  Returns: rc. */
void store_error_begin(kula_store *s);
int store_error_end(kula_store *s, int rc, kula_error *e);
/* The read and write helpers of store.c, for store_snap.c. */
int store_get_copy(kula_store *s, MDB_dbi dbi, const void *key, size_t klen, kula_buf *out);
int store_read_cursor(kula_store *s, MDB_dbi dbi, MDB_cursor **cur);
int store_cursor_done(kula_store *s, MDB_cursor *cur, int rc, int mrc);
int store_write_txn(kula_store *s, write_fn fn, void *ctx);
/* Ends the cached read snapshot so the next read sees new commits. */
void store_rtxn_release(kula_store *s);
/* Adopts the map size another process grew the file to (after
 * MDB_MAP_RESIZED), under map_lock; a reader may not (its owner's
 * transactions may be open on another thread): then EINVAL.
 * Returns: 0 or an LMDB code. */
int store_adopt_mapsize(kula_store *s);
/* Doubles the map; only safe with no transaction of ours open (the index
 * scan of a reindex is waited for).  Returns: 0 or an LMDB code. */
int store_grow_map(kula_store *s);
/* Empties the state (and the indexes if `indexes`) and forgets the tip.
 * Returns: 0 or an LMDB code. */
int store_drop_state(kula_store *s, MDB_txn *txn, bool indexes);

/* store_reindex.c */
/* Runs fn inside the reindex session's batch.  Returns: 0 or a kula error. */
int store_batch_write(kula_store *s, write_fn fn, void *ctx);
/* Accounts for a block written into the session's batch (its index entries
 * into the digests when the indexes are kept, its bytes), and commits the
 * batch once full.  Returns: 0 or a kula error. */
int store_batch_account(kula_store *s, uint64_t height, const kula_hash *block_hash,
                        bool indexes, const kula_tx_entry *txs, uint32_t ntxs,
                        const kula_state_write *writes, size_t nwrites);

/* store_index.c */
/* A payment's history value (SPEC §9): be64 clearing || invoice id ||
 * be32 debtor || be32 creditor || be64 amount. */
#define STORE_PAYMENT_LEN (8 + KULA_HASH_LEN + 4 + 4 + 8)
struct kula_settlement;
struct kula_settlement_item;
/* Out: *z, the settlement a block's writes record (its "Z" record), z->n
 * 0 when none; free with kula_settlement_free.
 * Returns: 0, ENOMEM, EINVAL (the record does not decode). */
int store_block_payments(const kula_state_write *w, size_t nw, struct kula_settlement *z);
void store_payment_value(uint8_t v[STORE_PAYMENT_LEN], uint64_t clearing,
                         const struct kula_settlement_item *it);
/* Writes a block's entries into txindex (unless !txindex: txrecent holds
 * them) and history, those of its transactions in key order, then the
 * payments of its settlement.  Returns: 0 or an LMDB code (ENOMEM, EINVAL). */
int store_put_indexes(kula_store *s, MDB_txn *txn, uint64_t height, bool txindex,
                      const kula_tx_entry *txs, uint32_t ntxs,
                      const kula_state_write *writes, size_t nwrites);
/* Adds one entry to a digest. */
void store_ix_add(ix_sum *d, uint64_t seed, const uint8_t *k, size_t kn, const uint8_t *v,
                  size_t vn);
/* Adds the index entries of a block's hash and transactions to sums. */
void store_ix_add_txs(ix_sum sums[IX_COUNT], uint64_t seed, uint64_t height,
                      const kula_hash *block_hash, const kula_tx_entry *txs, uint32_t ntxs);
/* Adds the history entries of a block's settlement payments (found in its
 * state writes) to sums. */
void store_ix_add_payments(ix_sum sums[IX_COUNT], uint64_t seed, uint64_t height,
                           uint32_t ntxs, const kula_state_write *writes, size_t nwrites);
/* Out: *d, the digest of every entry of index `which` (IX_*; the
 * transaction index's entries in txrecent with txindex's).
 * Returns: 0 or an LMDB code. */
int store_ix_sum(kula_store *s, MDB_txn *txn, int which, ix_sum *d);

/* store_recent.c: the transaction index's recent entries (txrecent). */
/* Sets up the hash, filled from txrecent in a writable store.
 * Returns: 0 or an LMDB code. */
int store_recent_open(kula_store *s, MDB_txn *txn);
void store_recent_free(kula_store *s);
/* txrecent was dropped or changed outside a block's write: the hash is
 * read again before its next use. */
void store_recent_forget(kula_store *s);
/* Out: where txrecent says id was committed.
 * Returns: 0, KULA_ENOTFOUND, or a kula error. */
int store_recent_find(kula_store *s, const kula_hash *id, uint64_t *height, uint32_t *index);
/* Out: *out (free it), the *n entries of txrecent whose id starts with the
 * plen bytes of prefix, in id order.  Returns: 0 or a kula error. */
int store_recent_prefix(kula_store *s, const uint8_t *prefix, size_t plen, recent_ent **out,
                        size_t *n);
/* In block height's write transaction: appends its entries to txrecent,
 * or, when that brings it to its most, moves txrecent's and the block's
 * entries into txindex (*moved).  Call store_recent_done once the
 * transaction is committed.  Returns: 0 or an LMDB code. */
int store_recent_put(kula_store *s, MDB_txn *txn, uint64_t height, const kula_tx_entry *txs,
                     uint32_t ntxs, bool *moved);
void store_recent_done(kula_store *s, uint64_t height, const kula_tx_entry *txs, uint32_t ntxs,
                       bool moved);

/* store_scan.c: digests of the kept indexes, on a thread, into s->scan. */
void store_scan_start(kula_store *s);
/* Waits for the scan if it runs; harmless otherwise. */
void store_scan_join(kula_store *s);

/* store_digest.c: the digests of the replayed blocks' index entries into
 * s->rx_want, on a thread (without one, at once). */
void store_digest_start(kula_store *s);
/* Adds the entries of a block's hash and transactions (copied: the caller
 * may reuse txs at once). */
void store_digest_block(kula_store *s, uint64_t height, const kula_hash *block_hash,
                        const kula_tx_entry *txs, uint32_t ntxs);
/* Waits until every block handed over is added into s->rx_want, then stops
 * the thread; harmless when none runs. */
void store_digest_join(kula_store *s);

/* bloom.c */
/* Out: a filter for about `keys` keys, or none (bits NULL) if memory is short. */
void store_bloom_init(rx_bloom *b, size_t keys);
void store_bloom_add(rx_bloom *b, uint64_t seed, const uint8_t *key, size_t klen);
/* store_bloom_add of the key of each of w[0..n) that sets a value. */
void store_bloom_add_writes(rx_bloom *b, uint64_t seed, const kula_state_write *w, size_t n);
/* Returns: false when key was certainly never added. */
bool store_bloom_maybe(const rx_bloom *b, uint64_t seed, const uint8_t *key, size_t klen);

/* rx_state.c */
/* Starts an empty table that holds at most about `budget` bytes (0: none;
 * the state's writes go to LMDB). */
void store_rxs_init(rx_state *t, size_t budget);
void store_rxs_free(rx_state *t);
/* Returns: 1 and *val, *vlen (valid until the next put or flush) if the
 * table has key's value; 0 if it has key deleted; -1 if it lacks key. */
int store_rxs_get(const rx_state *t, const uint8_t *key, size_t klen, const uint8_t **val,
                  size_t *vlen);
/* Puts writes w[0..n) into s->rxs; when the table outgrows its budget
 * (or memory runs out), writes it to LMDB in txn and empties it.
 * Returns: 0 or an LMDB code (ENOMEM, EINVAL: a key or value over 4 GiB). */
int store_rxs_writes(kula_store *s, MDB_txn *txn, const kula_state_write *w, size_t n);
/* Writes s->rxs's entries that LMDB lacks into the state in txn, in key
 * order, adding their bytes to s->rx_bytes; then empties the table if
 * `empty`, else keeps its entries.  Returns: 0 or an LMDB code (ENOMEM). */
int store_rxs_flush(kula_store *s, MDB_txn *txn, bool empty);

/* radix.c: sorts recs by key, using tmp (as long).  Returns: the array
 * holding the result (recs or tmp). */
ix_rec *store_radix_sort(ix_rec *recs, ix_rec *tmp, size_t n);

#endif
