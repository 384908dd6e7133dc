/* store.c -- LMDB persistence of blocks, indexes, state and metadata. */
#include "kula/store/store.h"

#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kula/base/error.h"

#define STORE_SCHEMA 1
#define INITIAL_MAP (64ull << 20)
#define MAX_DBS 8
/* A reindex commits its batch once this many bytes of keys and values have
 * been written into it (at a block boundary), and keeps at least
 * RX_HEADROOM of the map free before starting a batch. */
#define RX_BATCH_BYTES (64u << 20)
#define RX_HEADROOM (512ull << 20)

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

/* The scan of the kept indexes, run on a thread of its own while the
 * blocks are replayed (the indexes do not change during the session). */
typedef struct rx_scan {
    pthread_t thread;
    bool running;
    int mrc;                /* the scan's LMDB result */
    ix_sum got[IX_COUNT];
} rx_scan;

struct kula_store {
    MDB_env *env;
    MDB_dbi blocks, hashes, txindex, history, state, meta;
    MDB_txn *rtxn;    /* cached read transaction, reset after each write */
    bool rtxn_live;
    bool rdonly;
    int last_rc;      /* last LMDB error code, for kula_store_last_error */
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
    rx_scan scan;
    void *sort_buf;   /* a block's index entries, being sorted */
    size_t sort_cap;
};

static int lmdb_fail(kula_store *s, int rc)
{
    s->last_rc = rc;
    s->last_msg = NULL;
    if (rc == MDB_NOTFOUND)
        return KULA_ENOTFOUND;
    if (rc == ENOMEM)
        return KULA_ENOMEM;
    return KULA_ESTORE;
}

void kula_store_write_health(const kula_store *s, uint64_t *failures, int *last_errno)
{
    *failures = s->write_failures;
    *last_errno = s->write_rc;
}

const char *kula_store_last_error(const kula_store *s)
{
    if (s->last_msg != NULL)
        return s->last_msg;
    return s->last_rc == 0 ? "no error" : mdb_strerror(s->last_rc);
}

static MDB_val val_of(const void *p, size_t n)
{
    MDB_val v = { n, (void *)p };
    return v;
}

int kula_store_open(kula_store **out, const char *dir, unsigned flags)
{
    *out = NULL;
    kula_store *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return KULA_ENOMEM;
    s->rdonly = (flags & KULA_STORE_RDONLY) != 0;
    s->rx_batch = RX_BATCH_BYTES;
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (s->rdonly || errno != ENOENT) {
            free(s);
            return errno == ENOENT ? KULA_ENOTFOUND : KULA_ESTORE;
        }
        if (mkdir(dir, 0700) != 0) {
            free(s);
            return KULA_ESTORE;
        }
    }
    int rc = mdb_env_create(&s->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(s->env, MAX_DBS);
    if (rc == 0 && !s->rdonly)
        rc = mdb_env_set_mapsize(s->env, INITIAL_MAP);
    if (rc == 0)
        rc = mdb_env_open(s->env, dir, MDB_NOTLS | (s->rdonly ? MDB_RDONLY : 0), 0600);
    if (rc != 0) {
        int err = rc == ENOENT ? KULA_ENOTFOUND : KULA_ESTORE;
        s->last_rc = rc;
        if (s->env != NULL)
            mdb_env_close(s->env);
        free(s);
        return err;
    }
    /* A store at least as large as the initial map keeps its size. */
    MDB_envinfo info;
    if (!s->rdonly && mdb_env_info(s->env, &info) == 0 && info.me_mapsize < INITIAL_MAP)
        mdb_env_set_mapsize(s->env, INITIAL_MAP);

    MDB_txn *txn;
    rc = mdb_txn_begin(s->env, NULL, s->rdonly ? MDB_RDONLY : 0, &txn);
    if (rc == 0) {
        unsigned f = s->rdonly ? 0 : MDB_CREATE;
        struct { const char *name; MDB_dbi *dbi; } dbs[] = {
            { "blocks", &s->blocks }, { "hashes", &s->hashes }, { "txindex", &s->txindex },
            { "history", &s->history }, { "state", &s->state }, { "meta", &s->meta },
        };
        for (size_t i = 0; i < sizeof(dbs) / sizeof(dbs[0]) && rc == 0; i++)
            rc = mdb_dbi_open(txn, dbs[i].name, f, dbs[i].dbi);
        if (rc == 0 && !s->rdonly) {
            uint8_t schema[4];
            kula_put_be32(schema, STORE_SCHEMA);
            MDB_val k = val_of("schema", 6), v = val_of(schema, 4), cur;
            if (mdb_get(txn, s->meta, &k, &cur) == MDB_NOTFOUND)
                rc = mdb_put(txn, s->meta, &k, &v, 0);
        }
        if (rc == 0)
            rc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
    }
    if (rc != 0) {
        s->last_rc = rc;
        mdb_env_close(s->env);
        free(s);
        return rc == MDB_NOTFOUND ? KULA_ENOTFOUND : KULA_ESTORE;
    }
    *out = s;
    return KULA_OK;
}

void kula_store_close(kula_store *s)
{
    if (s == NULL)
        return;
    if (s->rx_active)
        kula_store_reindex_abort(s);
    if (s->rtxn != NULL)
        mdb_txn_abort(s->rtxn);
    mdb_env_close(s->env);
    free(s->sort_buf);
    free(s);
}

/* The cached read transaction, begun or renewed on demand. */
static int rtxn(kula_store *s, MDB_txn **txn)
{
    int rc;
    if (s->wtxn != NULL) {
        /* A reindex batch is open: reads see what it wrote. */
        *txn = s->wtxn;
        return KULA_OK;
    }
    if (s->rtxn == NULL) {
        rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &s->rtxn);
        if (rc == MDB_MAP_RESIZED) {
            /* Another process grew the map: adopt its size and retry. */
            mdb_env_set_mapsize(s->env, 0);
            rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &s->rtxn);
        }
        if (rc != 0) {
            s->rtxn = NULL;
            return lmdb_fail(s, rc);
        }
    } else if (!s->rtxn_live) {
        rc = mdb_txn_renew(s->rtxn);
        if (rc == MDB_MAP_RESIZED) {
            mdb_txn_abort(s->rtxn);
            s->rtxn = NULL;
            mdb_env_set_mapsize(s->env, 0);
            return rtxn(s, txn);
        }
        if (rc != 0)
            return lmdb_fail(s, rc);
    }
    s->rtxn_live = true;
    *txn = s->rtxn;
    return KULA_OK;
}

/* Ends the cached read snapshot so the next read sees new commits.  A
 * read-only store (an auditor beside a running node) calls this too, via
 * every public read, so it always reads the newest committed block. */
static void rtxn_release(kula_store *s)
{
    if (s->rtxn != NULL && s->rtxn_live) {
        mdb_txn_reset(s->rtxn);
        s->rtxn_live = false;
    }
}

static int get_copy(kula_store *s, MDB_dbi dbi, const void *key, size_t klen, kula_buf *out)
{
    MDB_txn *txn;
    int rc = rtxn(s, &txn);
    if (rc != 0)
        return rc;
    MDB_val k = val_of(key, klen), v;
    int mrc = mdb_get(txn, dbi, &k, &v);
    if (mrc != 0) {
        rc = lmdb_fail(s, mrc);
    } else {
        kula_buf_append(out, v.mv_data, v.mv_size);
        rc = out->err;
    }
    if (s->rdonly)
        rtxn_release(s);
    return rc;
}

int kula_store_bind(kula_store *s, const uint8_t *genesis, size_t len, const kula_hash *chain_id)
{
    kula_buf cur;
    kula_buf_init(&cur);
    int rc = get_copy(s, s->meta, "chain_id", 8, &cur);
    if (rc == 0) {
        rc = cur.len == KULA_HASH_LEN && memcmp(cur.data, chain_id->b, KULA_HASH_LEN) == 0
                 ? KULA_OK
                 : KULA_ECHAIN;
        kula_buf_free(&cur);
        return rc;
    }
    kula_buf_free(&cur);
    if (rc != KULA_ENOTFOUND)
        return rc;
    if (s->rdonly)
        return KULA_ENOTFOUND;
    rtxn_release(s);
    MDB_txn *txn;
    int mrc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (mrc != 0)
        return lmdb_fail(s, mrc);
    MDB_val k1 = val_of("chain_id", 8), v1 = val_of(chain_id->b, KULA_HASH_LEN);
    MDB_val k2 = val_of("genesis", 7), v2 = val_of(genesis, len);
    mrc = mdb_put(txn, s->meta, &k1, &v1, 0);
    if (mrc == 0)
        mrc = mdb_put(txn, s->meta, &k2, &v2, 0);
    if (mrc == 0)
        mrc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    return mrc == 0 ? KULA_OK : lmdb_fail(s, mrc);
}

int kula_store_genesis(kula_store *s, kula_buf *out)
{
    return get_copy(s, s->meta, "genesis", 7, out);
}

static void rx_scan_join(kula_store *s);
static void bloom_add(rx_bloom *b, uint64_t seed, const uint8_t *key, size_t klen);

/* Doubles the map; only safe with no transaction of ours open (the index
 * scan of a reindex is waited for). */
static int grow_map(kula_store *s)
{
    rx_scan_join(s);
    MDB_envinfo info;
    int rc = mdb_env_info(s->env, &info);
    if (rc != 0)
        return rc;
    if (s->rtxn != NULL) {
        mdb_txn_abort(s->rtxn);
        s->rtxn = NULL;
        s->rtxn_live = false;
    }
    return mdb_env_set_mapsize(s->env, info.me_mapsize * 2);
}

/* Runs fn inside one write transaction, growing the map and retrying when
 * it is full.  Returns: 0 or a kula error. */
typedef int (*write_fn)(kula_store *s, MDB_txn *txn, void *ctx);

/* ---- reindex batches ---- */

/* Opens the session's batch if none is open, first growing the map until
 * RX_HEADROOM of it lies beyond the last used page.  Returns: 0 or an
 * LMDB code. */
static int batch_begin(kula_store *s)
{
    if (s->wtxn != NULL)
        return 0;
    rtxn_release(s); /* an old snapshot would pin the pages the batch frees */
    MDB_envinfo info;
    MDB_stat st;
    int mrc = mdb_env_info(s->env, &info);
    if (mrc == 0)
        mrc = mdb_env_stat(s->env, &st);
    while (mrc == 0 &&
           info.me_mapsize - (info.me_last_pgno + 1) * (uint64_t)st.ms_psize < RX_HEADROOM) {
        if ((mrc = grow_map(s)) == 0)
            mrc = mdb_env_info(s->env, &info);
    }
    if (mrc == 0)
        mrc = mdb_txn_begin(s->env, NULL, 0, &s->wtxn);
    if (mrc != 0)
        s->wtxn = NULL;
    s->rx_bytes = 0;
    return mrc;
}

/* A failed write leaves the batch unusable: the session is broken. */
static int batch_fail(kula_store *s, int mrc)
{
    if (s->wtxn != NULL) {
        mdb_txn_abort(s->wtxn);
        s->wtxn = NULL;
    }
    s->rx_broken = true;
    if (mrc == MDB_MAP_FULL) {
        s->rx_full = true;
        grow_map(s);
    }
    return lmdb_fail(s, mrc);
}

static int batch_commit(kula_store *s)
{
    if (s->wtxn == NULL)
        return KULA_OK;
    int mrc = mdb_txn_commit(s->wtxn);
    s->wtxn = NULL;
    return mrc == 0 ? KULA_OK : batch_fail(s, mrc);
}

/* Runs fn inside the session's batch.  Returns: 0 or a kula error. */
static int batch_write(kula_store *s, write_fn fn, void *ctx)
{
    if (s->rx_broken)
        return KULA_ESTORE;
    int mrc = batch_begin(s);
    if (mrc == 0)
        mrc = fn(s, s->wtxn, ctx);
    return mrc == 0 ? KULA_OK : batch_fail(s, mrc);
}

static int write_txn(kula_store *s, write_fn fn, void *ctx)
{
    if (s->rx_active)
        return batch_write(s, fn, ctx);
    rtxn_release(s);
    for (int attempt = 0; attempt < 8; attempt++) {
        MDB_txn *txn;
        int mrc = mdb_txn_begin(s->env, NULL, 0, &txn);
        if (mrc != 0)
            return lmdb_fail(s, mrc);
        mrc = fn(s, txn, ctx);
        if (mrc == 0)
            mrc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
        if (mrc == MDB_MAP_FULL) {
            if ((mrc = grow_map(s)) != 0)
                return lmdb_fail(s, mrc);
            continue;
        }
        return mrc == 0 ? KULA_OK : lmdb_fail(s, mrc);
    }
    return KULA_ESTORE;
}

bool kula_store_has_state(kula_store *s)
{
    kula_buf b;
    kula_buf_init(&b);
    int rc = get_copy(s, s->meta, "genesis_state", 13, &b);
    kula_buf_free(&b);
    return rc == 0;
}

struct init_ctx {
    const kula_state_write *writes;
    size_t n;
};

static int write_init_state(kula_store *s, MDB_txn *txn, void *ctx)
{
    const struct init_ctx *c = ctx;
    int mrc = 0;
    for (size_t i = 0; i < c->n && mrc == 0; i++) {
        MDB_val k = val_of(c->writes[i].key, c->writes[i].klen);
        MDB_val v = val_of(c->writes[i].val, c->writes[i].vlen);
        mrc = c->writes[i].val != NULL ? mdb_put(txn, s->state, &k, &v, 0) : 0;
        if (mrc == 0 && c->writes[i].val != NULL && s->bloom.bits != NULL)
            bloom_add(&s->bloom, s->rx_seed, c->writes[i].key, c->writes[i].klen);
    }
    if (mrc == 0) {
        MDB_val k = val_of("genesis_state", 13), v = val_of("1", 1);
        mrc = mdb_put(txn, s->meta, &k, &v, 0);
    }
    return mrc;
}

int kula_store_init_state(kula_store *s, const kula_state_write *writes, size_t nwrites)
{
    if (s->rdonly)
        return KULA_ESTORE;
    uint64_t tip;
    int rc = kula_store_tip(s, &tip);
    if (rc != 0)
        return rc;
    if (tip != 0 || kula_store_has_state(s))
        return KULA_EHEIGHT;
    struct init_ctx c = { writes, nwrites };
    return write_txn(s, write_init_state, &c);
}

bool kula_store_reindex_pending(kula_store *s)
{
    kula_buf b;
    kula_buf_init(&b);
    int rc = get_copy(s, s->meta, "reindex", 7, &b);
    kula_buf_free(&b);
    return rc == 0;
}

int kula_store_tip(kula_store *s, uint64_t *height)
{
    uint8_t b[8];
    kula_buf buf = { 0 };
    *height = 0;
    if (!s->rx_active && kula_store_reindex_pending(s)) {
        s->last_rc = 0;
        s->last_msg = "a reindex did not finish: the state is incomplete until one does";
        return KULA_ESTORE;
    }
    int rc = get_copy(s, s->meta, "tip", 3, &buf);
    if (rc == KULA_ENOTFOUND)
        rc = KULA_OK;
    else if (rc == 0 && buf.len == 8) {
        memcpy(b, buf.data, 8);
        *height = kula_get_be64(b);
    } else if (rc == 0)
        rc = KULA_ESTORE;
    kula_buf_free(&buf);
    return rc;
}

int kula_store_last_block(kula_store *s, uint64_t *height)
{
    MDB_txn *txn;
    int rc = rtxn(s, &txn);
    if (rc != 0)
        return rc;
    MDB_cursor *cur;
    int mrc = mdb_cursor_open(txn, s->blocks, &cur);
    *height = 0;
    if (mrc == 0) {
        MDB_val k, v;
        mrc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
        if (mrc == 0 && k.mv_size == 8)
            *height = kula_get_be64(k.mv_data);
        if (mrc == MDB_NOTFOUND)
            mrc = 0;
        mdb_cursor_close(cur);
    }
    if (s->rdonly)
        rtxn_release(s);
    return mrc == 0 ? KULA_OK : lmdb_fail(s, mrc);
}

int kula_store_block(kula_store *s, uint64_t height, kula_buf *out)
{
    uint8_t k[8];
    kula_put_be64(k, height);
    return get_copy(s, s->blocks, k, 8, out);
}

int kula_store_tip_commit(kula_store *s, kula_buf *out)
{
    return get_copy(s, s->meta, "tip_commit", 10, out);
}

int kula_store_block_height(kula_store *s, const kula_hash *block_hash, uint64_t *height)
{
    kula_buf b;
    kula_buf_init(&b);
    int rc = get_copy(s, s->hashes, block_hash->b, KULA_HASH_LEN, &b);
    if (rc == 0 && b.len != 8)
        rc = KULA_ESTORE;
    if (rc == 0)
        *height = kula_get_be64(b.data);
    kula_buf_free(&b);
    return rc;
}

int kula_store_tx_location(kula_store *s, const kula_hash *txid, uint64_t *height,
                           uint32_t *index)
{
    kula_buf b;
    kula_buf_init(&b);
    int rc = get_copy(s, s->txindex, txid->b, KULA_HASH_LEN, &b);
    if (rc == 0 && b.len != 12)
        rc = KULA_ESTORE;
    if (rc == 0) {
        *height = kula_get_be64(b.data);
        *index = kula_get_be32(b.data + 8);
    }
    kula_buf_free(&b);
    return rc;
}

int kula_store_history(kula_store *s, uint32_t member, uint64_t before_height,
                       uint32_t before_index, size_t limit, kula_history_fn fn, void *ctx)
{
    MDB_txn *txn;
    int rc = rtxn(s, &txn);
    if (rc != 0)
        return rc;
    MDB_cursor *cur;
    int mrc = mdb_cursor_open(txn, s->history, &cur);
    if (mrc != 0) {
        if (s->rdonly)
            rtxn_release(s);
        return lmdb_fail(s, mrc);
    }
    /* Position after the newest entry before (before_height, before_index),
     * then walk backwards while the key still belongs to member. */
    uint8_t key[16];
    kula_put_be32(key, member);
    kula_put_be64(key + 4, before_height);
    kula_put_be32(key + 12, before_index);
    MDB_val k = val_of(key, sizeof(key)), v;
    mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (mrc == MDB_NOTFOUND)
        mrc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    else if (mrc == 0)
        mrc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
    size_t n = 0;
    rc = 0;
    while (mrc == 0 && n < limit) {
        if (k.mv_size != 16 || kula_get_be32(k.mv_data) != member)
            break;
        const uint8_t *kp = k.mv_data;
        uint64_t h = kula_get_be64(kp + 4);
        uint32_t idx = kula_get_be32(kp + 12);
        if (h < before_height || (h == before_height && idx < before_index)) {
            kula_hash id;
            if (v.mv_size != KULA_HASH_LEN) {
                rc = KULA_ESTORE;
                break;
            }
            memcpy(id.b, v.mv_data, KULA_HASH_LEN);
            if ((rc = fn(ctx, h, idx, &id)) != 0)
                break;
            n++;
        }
        mrc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
    }
    mdb_cursor_close(cur);
    if (s->rdonly)
        rtxn_release(s);
    if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = lmdb_fail(s, mrc);
    return rc;
}

static bool bloom_maybe(const rx_bloom *b, uint64_t seed, const uint8_t *key, size_t klen);

int kula_store_state_get(kula_store *s, const uint8_t *key, size_t klen, kula_buf *out)
{
    if (s->rx_active && s->bloom.bits != NULL && !bloom_maybe(&s->bloom, s->rx_seed, key, klen))
        return KULA_ENOTFOUND; /* never written since the reindex emptied the state */
    return get_copy(s, s->state, key, klen, out);
}

/* The state entries under prefix from key start on (slen 0: from the
 * first), without start itself when `after` is set. */
static int state_scan(kula_store *s, const uint8_t *prefix, size_t plen, const uint8_t *start,
                      size_t slen, bool after, kula_state_fn fn, void *ctx)
{
    MDB_txn *txn;
    int rc = rtxn(s, &txn);
    if (rc != 0)
        return rc;
    MDB_cursor *cur;
    int mrc = mdb_cursor_open(txn, s->state, &cur);
    if (mrc != 0) {
        if (s->rdonly)
            rtxn_release(s);
        return lmdb_fail(s, mrc);
    }
    MDB_val k = val_of(start, slen), v;
    mrc = slen > 0 ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)
                   : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    if (mrc == 0 && after && k.mv_size == slen && memcmp(k.mv_data, start, slen) == 0)
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    rc = 0;
    while (mrc == 0) {
        if (plen > 0 && (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0))
            break;
        if ((rc = fn(ctx, k.mv_data, k.mv_size, v.mv_data, v.mv_size)) != 0)
            break;
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (s->rdonly)
        rtxn_release(s);
    if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = lmdb_fail(s, mrc);
    return rc;
}

int kula_store_state_scan(kula_store *s, const uint8_t *prefix, size_t plen, kula_state_fn fn,
                          void *ctx)
{
    return state_scan(s, prefix, plen, prefix, plen, false, fn, ctx);
}

int kula_store_state_scan_after(kula_store *s, const uint8_t *prefix, size_t plen,
                                const uint8_t *after, size_t alen, kula_state_fn fn, void *ctx)
{
    if (after == NULL || alen < plen || memcmp(after, prefix, plen) != 0)
        return state_scan(s, prefix, plen, prefix, plen, false, fn, ctx);
    return state_scan(s, prefix, plen, after, alen, true, fn, ctx);
}

/* ---- index digests (a reindex that keeps the indexes checks them) ---- */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x *= UINT64_C(0xc4ceb9fe1a85ec53);
    x ^= x >> 33;
    return x;
}

static uint64_t mix_bytes(uint64_t h, const uint8_t *p, size_t n)
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

/* Adds one entry to a digest: a keyed hash of it, summed (so the order of
 * the entries does not matter) in two independent ways, and counted. */
static void ix_add(ix_sum *d, uint64_t seed, const uint8_t *k, size_t kn, const uint8_t *v,
                   size_t vn)
{
    uint64_t h = mix_bytes(mix_bytes(seed ^ kn, k, kn), v, vn);
    d->n++;
    d->a += h;
    d->b += mix64(h ^ seed);
}

/* The entries of a block in the indexes, as write_block_txn writes them. */
static void ix_add_block(kula_store *s, uint64_t height, const kula_hash *block_hash,
                         const kula_tx_entry *txs, uint32_t ntxs)
{
    uint8_t hk[8];
    kula_put_be64(hk, height);
    ix_add(&s->rx_want[IX_HASHES], s->rx_seed, block_hash->b, KULA_HASH_LEN, hk, 8);
    for (uint32_t i = 0; i < ntxs; i++) {
        uint8_t key[16];
        memcpy(key + 4, hk, 8);
        kula_put_be32(key + 12, i);
        ix_add(&s->rx_want[IX_TXINDEX], s->rx_seed, txs[i].id.b, KULA_HASH_LEN, key + 4, 12);
        for (uint32_t p = 0; p < txs[i].nparties; p++) {
            kula_put_be32(key, txs[i].parties[p]);
            ix_add(&s->rx_want[IX_HISTORY], s->rx_seed, key, 16, txs[i].id.b, KULA_HASH_LEN);
        }
    }
}

/* Out: *same, whether database dbi holds exactly the entries of want. */
static int ix_check(kula_store *s, MDB_txn *txn, MDB_dbi dbi, const ix_sum *want, bool *same)
{
    MDB_stat st;
    int mrc = mdb_stat(txn, dbi, &st);
    if (mrc != 0)
        return mrc;
    *same = false;
    if (st.ms_entries != want->n)
        return 0;
    MDB_cursor *cur;
    if ((mrc = mdb_cursor_open(txn, dbi, &cur)) != 0)
        return mrc;
    ix_sum got = { 0, 0, 0 };
    MDB_val k, v;
    mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (mrc == 0) {
        ix_add(&got, s->rx_seed, k.mv_data, k.mv_size, v.mv_data, v.mv_size);
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (mrc != MDB_NOTFOUND)
        return mrc;
    *same = got.n == want->n && got.a == want->a && got.b == want->b;
    return 0;
}

/* ---- the reindex's filter of state keys ---- */

static uint64_t bloom_hash(uint64_t seed, const uint8_t *key, size_t klen)
{
    return mix_bytes(~seed ^ klen, key, klen);
}

static const uint64_t *bloom_line(const rx_bloom *b, uint64_t h)
{
    return b->bits + 8 * (size_t)(((h >> 32) * (uint64_t)b->nlines) >> 32);
}

static bool bloom_maybe(const rx_bloom *b, uint64_t seed, const uint8_t *key, size_t klen)
{
    uint64_t h = bloom_hash(seed, key, klen);
    const uint64_t *line = bloom_line(b, h);
    for (int i = 0; i < 4; i++) {
        unsigned bit = (unsigned)(h >> (9 * i)) & 511;
        if ((line[bit >> 6] & (UINT64_C(1) << (bit & 63))) == 0)
            return false;
    }
    return true;
}

static void bloom_add(rx_bloom *b, uint64_t seed, const uint8_t *key, size_t klen)
{
    uint64_t h = bloom_hash(seed, key, klen);
    uint64_t *line = (uint64_t *)bloom_line(b, h);
    bool added = false;
    for (int i = 0; i < 4; i++) {
        unsigned bit = (unsigned)(h >> (9 * i)) & 511;
        uint64_t m = UINT64_C(1) << (bit & 63);
        added |= (line[bit >> 6] & m) == 0;
        line[bit >> 6] |= m;
    }
    if (added && ++b->n > b->cap) {
        free(b->bits); /* too full to help: every read goes to LMDB */
        b->bits = NULL;
    }
}

/* Out: a filter for about `keys` keys, or none if memory is short. */
static void bloom_init(rx_bloom *b, size_t keys)
{
    memset(b, 0, sizeof(*b));
    b->nlines = keys / 32 + 1; /* 16 bits per key */
    if (b->nlines > UINT32_MAX)
        return;
    b->bits = calloc(b->nlines * 8, sizeof(uint64_t));
    b->cap = keys;
}

/* ---- the scan of the kept indexes ---- */

static void *scan_main(void *arg)
{
    kula_store *s = arg;
    MDB_txn *txn = NULL;
    int mrc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (mrc != 0)
        txn = NULL;
    MDB_dbi dbis[IX_COUNT] = { s->hashes, s->txindex, s->history };
    for (int i = 0; i < IX_COUNT && mrc == 0; i++) {
        MDB_cursor *cur;
        if ((mrc = mdb_cursor_open(txn, dbis[i], &cur)) != 0)
            break;
        MDB_val k, v;
        mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        while (mrc == 0) {
            ix_add(&s->scan.got[i], s->rx_seed, k.mv_data, k.mv_size, v.mv_data, v.mv_size);
            mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
        mdb_cursor_close(cur);
        if (mrc == MDB_NOTFOUND)
            mrc = 0;
    }
    if (txn != NULL)
        mdb_txn_abort(txn);
    s->scan.mrc = mrc;
    return NULL;
}

static void rx_scan_start(kula_store *s)
{
    memset(&s->scan, 0, sizeof(s->scan));
    s->scan.mrc = -1; /* not run: the session end scans itself */
    if (pthread_create(&s->scan.thread, NULL, scan_main, s) == 0)
        s->scan.running = true;
}

static void rx_scan_join(kula_store *s)
{
    if (s->scan.running) {
        pthread_join(s->scan.thread, NULL);
        s->scan.running = false;
    }
}

/* ---- index entries, written in key order ----
 *
 * Through one cursor per database and in key order, consecutive entries
 * mostly land on the leaf page the cursor is on, which LMDB then searches
 * without descending from the root again. */

/* An entry to sort: key decides the order (ties: the ids, see below). */
typedef struct ix_rec {
    uint64_t key;
    uint32_t index;   /* of the transaction in the block */
    const uint8_t *id;
} ix_rec;

/* Sorts recs by key: least significant byte first, skipping the bytes
 * every key shares.  Returns the array holding the result (recs or tmp). */
static ix_rec *radix_sort(ix_rec *recs, ix_rec *tmp, size_t n)
{
    for (int shift = 0; shift < 64; shift += 8) {
        size_t count[257] = { 0 };
        for (size_t i = 0; i < n; i++)
            count[((recs[i].key >> shift) & 0xff) + 1]++;
        if (n == 0 || count[((recs[0].key >> shift) & 0xff) + 1] == n)
            continue;
        for (int d = 0; d < 256; d++)
            count[d + 1] += count[d];
        for (size_t i = 0; i < n; i++)
            tmp[count[(recs[i].key >> shift) & 0xff]++] = recs[i];
        ix_rec *t = recs;
        recs = tmp;
        tmp = t;
    }
    return recs;
}

static int put_indexes(kula_store *s, MDB_txn *txn, uint64_t height,
                       const kula_tx_entry *txs, uint32_t ntxs)
{
    if (ntxs == 0)
        return 0;
    size_t nhist = 0;
    for (uint32_t i = 0; i < ntxs; i++)
        nhist += txs[i].nparties;
    size_t need = 2 * (ntxs + nhist) * sizeof(ix_rec);
    if (need > s->sort_cap) {
        void *nb = realloc(s->sort_buf, need);
        if (nb == NULL)
            return ENOMEM;
        s->sort_buf = nb;
        s->sort_cap = need;
    }
    /* tx index: by id, whose first 8 bytes (big-endian) almost always
     * decide; equal prefixes are put in id order after the sort */
    ix_rec *tx = s->sort_buf, *hi = tx + 2 * (size_t)ntxs;
    size_t h = 0;
    for (uint32_t i = 0; i < ntxs; i++) {
        tx[i] = (ix_rec){ kula_get_be64(txs[i].id.b), i, txs[i].id.b };
        for (uint32_t p = 0; p < txs[i].nparties; p++)
            hi[h++] = (ix_rec){ (uint64_t)txs[i].parties[p] << 32 | i, i, txs[i].id.b };
    }
    tx = radix_sort(tx, tx + ntxs, ntxs);
    for (size_t i = 1; i < ntxs; i++)
        for (size_t j = i; j > 0 && tx[j].key == tx[j - 1].key &&
                           memcmp(tx[j].id, tx[j - 1].id, KULA_HASH_LEN) < 0; j--) {
            ix_rec t = tx[j];
            tx[j] = tx[j - 1];
            tx[j - 1] = t;
        }
    /* history: member, then index (the height is the block's) */
    hi = radix_sort(hi, hi + nhist, nhist);
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, s->txindex, &cur);
    if (rc != 0)
        return rc;
    for (uint32_t i = 0; i < ntxs && rc == 0; i++) {
        uint8_t loc[12];
        kula_put_be64(loc, height);
        kula_put_be32(loc + 8, tx[i].index);
        MDB_val k = val_of(tx[i].id, KULA_HASH_LEN), v = val_of(loc, 12);
        rc = mdb_cursor_put(cur, &k, &v, 0);
    }
    mdb_cursor_close(cur);
    if (rc != 0 || (rc = mdb_cursor_open(txn, s->history, &cur)) != 0)
        return rc;
    for (size_t i = 0; i < nhist && rc == 0; i++) {
        uint8_t key[16];
        kula_put_be32(key, (uint32_t)(hi[i].key >> 32));
        kula_put_be64(key + 4, height);
        kula_put_be32(key + 12, hi[i].index);
        MDB_val k = val_of(key, 16), v = val_of(hi[i].id, KULA_HASH_LEN);
        rc = mdb_cursor_put(cur, &k, &v, 0);
    }
    mdb_cursor_close(cur);
    return rc;
}

/* Writes everything a block changes: the block itself unless NULL (a
 * reindex), the index entries if `indexes`. */
static int write_block_txn(kula_store *s, MDB_txn *txn, uint64_t height,
                           const kula_hash *block_hash, const uint8_t *block, size_t block_len,
                           bool indexes, const kula_tx_entry *txs, uint32_t ntxs,
                           const kula_state_write *writes, size_t nwrites,
                           const uint8_t *commit, size_t commit_len)
{
    uint8_t hk[8];
    kula_put_be64(hk, height);
    MDB_val k, v;
    int rc = 0;
    if (block != NULL) {
        k = val_of(hk, 8);
        v = val_of(block, block_len);
        if ((rc = mdb_put(txn, s->blocks, &k, &v, MDB_NOOVERWRITE)) != 0)
            return rc;
    }
    if (indexes) {
        k = val_of(block_hash->b, KULA_HASH_LEN);
        v = val_of(hk, 8);
        if ((rc = mdb_put(txn, s->hashes, &k, &v, 0)) != 0)
            return rc;
    }
    if (indexes && (rc = put_indexes(s, txn, height, txs, ntxs)) != 0)
        return rc;
    MDB_cursor *cur;
    if (nwrites > 0 && (rc = mdb_cursor_open(txn, s->state, &cur)) != 0)
        return rc;
    for (size_t i = 0; i < nwrites; i++) {
        k = val_of(writes[i].key, writes[i].klen);
        if (writes[i].val == NULL) {
            rc = mdb_cursor_get(cur, &k, &v, MDB_SET);
            if (rc == 0)
                rc = mdb_cursor_del(cur, 0);
            else if (rc == MDB_NOTFOUND)
                rc = 0;
        } else {
            v = val_of(writes[i].val, writes[i].vlen);
            rc = mdb_cursor_put(cur, &k, &v, 0);
            if (s->bloom.bits != NULL)
                bloom_add(&s->bloom, s->rx_seed, writes[i].key, writes[i].klen);
        }
        if (rc != 0)
            break;
    }
    if (nwrites > 0)
        mdb_cursor_close(cur);
    if (rc != 0)
        return rc;
    k = val_of("tip", 3);
    v = val_of(hk, 8);
    if ((rc = mdb_put(txn, s->meta, &k, &v, 0)) != 0)
        return rc;
    if (commit != NULL) {
        k = val_of("tip_commit", 10);
        v = val_of(commit, commit_len);
        if ((rc = mdb_put(txn, s->meta, &k, &v, 0)) != 0)
            return rc;
    }
    return 0;
}

struct block_ctx {
    uint64_t height;
    const kula_hash *block_hash;
    const uint8_t *block;
    size_t block_len;
    bool indexes;
    const kula_tx_entry *txs;
    uint32_t ntxs;
    const kula_state_write *writes;
    size_t nwrites;
    const uint8_t *commit;
    size_t commit_len;
};

static int write_block_cb(kula_store *s, MDB_txn *txn, void *ctx)
{
    const struct block_ctx *c = ctx;
    return write_block_txn(s, txn, c->height, c->block_hash, c->block, c->block_len,
                           c->indexes, c->txs, c->ntxs, c->writes, c->nwrites, c->commit,
                           c->commit_len);
}

static int commit_common(kula_store *s, uint64_t height, const kula_hash *block_hash,
                         const uint8_t *block, size_t block_len, const kula_tx_entry *txs,
                         uint32_t ntxs, const kula_state_write *writes, size_t nwrites,
                         const uint8_t *commit, size_t commit_len)
{
    if (s->rdonly)
        return KULA_ESTORE;
    uint64_t tip;
    int rc = kula_store_tip(s, &tip);
    if (rc != 0)
        return rc;
    if (height != tip + 1)
        return KULA_EHEIGHT;
    bool indexes = !s->rx_active || s->rx_indexes;
    struct block_ctx c = { height, block_hash, block, block_len, indexes, txs, ntxs, writes,
                           nwrites, commit, commit_len };
    rc = write_txn(s, write_block_cb, &c);
    /* for the node's health: a failing disk shows as a state, not a log line */
    s->write_rc = rc == 0 ? 0 : s->last_rc != 0 ? s->last_rc : EIO;
    if (rc != 0)
        s->write_failures++;
    if (rc != 0 || !s->rx_active)
        return rc;
    /* In a reindex batch: account for the block, commit the batch when full. */
    if (!indexes)
        ix_add_block(s, height, block_hash, txs, ntxs);
    size_t bytes = 64;
    for (uint32_t i = 0; indexes && i < ntxs; i++)
        bytes += 44 + 48 * (size_t)txs[i].nparties;
    for (size_t i = 0; i < nwrites; i++)
        bytes += writes[i].klen + writes[i].vlen + 16;
    s->rx_bytes += bytes;
    return s->rx_bytes >= s->rx_batch ? batch_commit(s) : KULA_OK;
}

int kula_store_commit_block(kula_store *s, uint64_t height, const kula_hash *block_hash,
                            const uint8_t *block, size_t block_len,
                            const kula_tx_entry *txs, uint32_t ntxs,
                            const kula_state_write *writes, size_t nwrites,
                            const uint8_t *commit, size_t commit_len)
{
    return commit_common(s, height, block_hash, block, block_len, txs, ntxs, writes, nwrites,
                         commit, commit_len);
}

int kula_store_reindex_block(kula_store *s, uint64_t height, const kula_hash *block_hash,
                             const kula_tx_entry *txs, uint32_t ntxs,
                             const kula_state_write *writes, size_t nwrites)
{
    return commit_common(s, height, block_hash, NULL, 0, txs, ntxs, writes, nwrites, NULL, 0);
}

static int write_reset(kula_store *s, MDB_txn *txn, void *ctx)
{
    (void)ctx;
    MDB_dbi dbis[] = { s->hashes, s->txindex, s->history, s->state };
    int mrc = 0;
    for (size_t i = 0; i < sizeof(dbis) / sizeof(dbis[0]) && mrc == 0; i++)
        mrc = mdb_drop(txn, dbis[i], 0);
    const char *names[] = { "tip", "genesis_state" };
    for (size_t i = 0; i < 2 && mrc == 0; i++) {
        MDB_val k = val_of(names[i], strlen(names[i]));
        mrc = mdb_del(txn, s->meta, &k, NULL);
        if (mrc == MDB_NOTFOUND)
            mrc = 0;
    }
    return mrc;
}

int kula_store_reset_state(kula_store *s)
{
    if (s->rdonly)
        return KULA_ESTORE;
    return write_txn(s, write_reset, NULL);
}

/* ---- reindex sessions ---- */

static int write_rx_begin(kula_store *s, MDB_txn *txn, void *ctx)
{
    size_t *old_state = ctx;
    MDB_stat st;
    MDB_dbi all[] = { s->state, s->hashes, s->txindex, s->history };
    size_t ndrop = s->rx_indexes ? 4 : 1;
    int mrc = mdb_stat(txn, s->state, &st);
    if (mrc == 0)
        *old_state = st.ms_entries;
    for (size_t i = 0; i < ndrop && mrc == 0; i++)
        mrc = mdb_drop(txn, all[i], 0);
    const char *names[] = { "tip", "genesis_state" };
    for (size_t i = 0; i < 2 && mrc == 0; i++) {
        MDB_val k = val_of(names[i], strlen(names[i]));
        mrc = mdb_del(txn, s->meta, &k, NULL);
        if (mrc == MDB_NOTFOUND)
            mrc = 0;
    }
    if (mrc == 0) {
        MDB_val k = val_of("reindex", 7), v = val_of("1", 1);
        mrc = mdb_put(txn, s->meta, &k, &v, 0);
    }
    return mrc;
}

static void rx_close(kula_store *s)
{
    rx_scan_join(s);
    free(s->bloom.bits);
    s->bloom.bits = NULL;
    if (s->wtxn != NULL) {
        mdb_txn_abort(s->wtxn);
        s->wtxn = NULL;
    }
    s->rx_active = false;
    mdb_env_set_flags(s->env, MDB_NOMETASYNC, 0);
}

int kula_store_reindex_begin(kula_store *s, unsigned flags)
{
    if (s->rdonly || s->rx_active)
        return KULA_EINVAL;
    s->rx_active = true;
    s->rx_indexes = (flags & KULA_REINDEX_INDEXES) != 0;
    s->rx_broken = false;
    s->rx_full = false;
    memset(s->rx_want, 0, sizeof(s->rx_want));
    randombytes_buf(&s->rx_seed, sizeof(s->rx_seed));
    /* Batches are committed without flushing the meta page: a crash may
     * lose the last batches but never mixes pages of two (LMDB keeps its
     * integrity), and the marker makes the next start redo the reindex. */
    int mrc = mdb_env_set_flags(s->env, MDB_NOMETASYNC, 1);
    size_t old_state = 0;
    int rc = mrc != 0 ? lmdb_fail(s, mrc) : batch_write(s, write_rx_begin, &old_state);
    /* Committed at once: from here on the store says a reindex is due, and
     * the pages of the dropped state are free for the batches. */
    if (rc == 0)
        rc = batch_commit(s);
    if (rc != 0) {
        rx_close(s);
        return rc;
    }
    bloom_init(&s->bloom, 2 * old_state + (1u << 16));
    if (!s->rx_indexes)
        rx_scan_start(s);
    return KULA_OK;
}

int kula_store_reindex_end(kula_store *s, bool *indexes_ok)
{
    *indexes_ok = false;
    if (!s->rx_active)
        return KULA_EINVAL;
    if (s->rx_broken) {
        rx_close(s);
        return KULA_ESTORE;
    }
    rx_scan_join(s);
    int mrc = batch_begin(s);
    bool ok = true;
    if (!s->rx_indexes && s->scan.mrc == 0) {
        for (int i = 0; i < IX_COUNT; i++)
            ok = ok && s->scan.got[i].n == s->rx_want[i].n &&
                 s->scan.got[i].a == s->rx_want[i].a && s->scan.got[i].b == s->rx_want[i].b;
    } else if (!s->rx_indexes) {
        /* the scan did not run or failed: scan here */
        MDB_dbi dbis[IX_COUNT] = { s->hashes, s->txindex, s->history };
        for (int i = 0; i < IX_COUNT && ok && mrc == 0; i++)
            mrc = ix_check(s, s->wtxn, dbis[i], &s->rx_want[i], &ok);
    }
    if (mrc == 0 && ok) {
        MDB_val k = val_of("reindex", 7);
        mrc = mdb_del(s->wtxn, s->meta, &k, NULL);
    }
    /* The marker goes with the last batch: LMDB never keeps a transaction
     * without those before it.  Then the meta page is flushed too. */
    int rc = mrc != 0 ? batch_fail(s, mrc) : KULA_OK;
    if (rc == 0)
        rc = batch_commit(s);
    if (rc == 0 && (mrc = mdb_env_set_flags(s->env, MDB_NOMETASYNC, 0)) == 0)
        mrc = mdb_env_sync(s->env, 1);
    if (rc == 0 && mrc != 0)
        rc = lmdb_fail(s, mrc);
    rx_close(s);
    *indexes_ok = ok;
    return rc;
}

bool kula_store_reindex_abort(kula_store *s)
{
    bool full = s->rx_active && s->rx_full;
    if (s->rx_active)
        rx_close(s);
    return full;
}

void kula_store_set_reindex_batch(kula_store *s, size_t bytes)
{
    s->rx_batch = bytes > 0 ? bytes : RX_BATCH_BYTES;
}
