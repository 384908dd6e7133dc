/* store.c -- LMDB persistence of blocks, indexes, state and metadata: the
 * environment, its transactions, every read and the write of a block. */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "kula/base/error.h"

#include "store_internal.h"

#define INITIAL_MAP (64ull << 20)
#define MAX_DBS 8

int store_set_schema(kula_store *s, MDB_txn *txn, bool always)
{
    uint8_t schema[4];
    kula_put_be32(schema, KULA_STORE_SCHEMA);
    MDB_val k = val_of("schema", 6), v = val_of(schema, 4), cur, first;
    MDB_cursor *c;
    int rc = always ? MDB_NOTFOUND : mdb_get(txn, s->meta, &k, &cur);
    if (rc == 0 && cur.mv_size == 4 && kula_get_be32(cur.mv_data) == 2)
        rc = MDB_NOTFOUND; /* 2 is 3 with txrecent empty (KULA_STORE_SCHEMA) */
    if (rc == 0 && cur.mv_size == 4 && kula_get_be32(cur.mv_data) < KULA_STORE_SCHEMA &&
        (rc = mdb_cursor_open(txn, s->blocks, &c)) == 0) {
        /* an older layout without blocks has no entries to miss */
        rc = mdb_cursor_get(c, &first, &cur, MDB_FIRST);
        mdb_cursor_close(c);
    }
    if (rc == MDB_NOTFOUND)
        rc = mdb_put(txn, s->meta, &k, &v, 0);
    return rc;
}

int store_lmdb_fail(kula_store *s, int rc)
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

void store_error_begin(kula_store *s)
{
    s->last_rc = 0;
    s->last_msg = NULL;
}

int store_error_end(kula_store *s, int rc, kula_error *e)
{
    if (rc == 0)
        return rc;
    if (s->last_msg != NULL)
        return kula_error_set(e, rc, "%s", s->last_msg);
    if (s->last_rc != 0)
        return kula_error_set(e, rc, "%s", mdb_strerror(s->last_rc));
    return kula_error_set(e, rc, "%s", kula_strerror(rc));
}

int kula_store_open(kula_store **out, const char *dir, unsigned flags)
{
    *out = NULL;
    kula_store *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return KULA_ENOMEM;
    s->rdonly = (flags & KULA_STORE_RDONLY) != 0;
    s->rx_batch = RX_BATCH_BYTES;
    s->rxs_budget = RX_STATE_BYTES;
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
    /* Writers first: the node's map growth waits for one read of a
     * reader at most, however busy the reader (glibc prefers readers). */
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
#ifdef __GLIBC__
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
    s->map_lock_ok = pthread_rwlock_init(&s->map_lock, &attr) == 0;
    pthread_rwlockattr_destroy(&attr);
    if (!s->map_lock_ok) {
        free(s);
        return KULA_ENOMEM;
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
        pthread_rwlock_destroy(&s->map_lock);
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
        if (rc == 0) {
            /* added with state sync: an older store read-only has none */
            rc = mdb_dbi_open(txn, "snapshots", f, &s->snapshots);
            s->has_snapshots = rc == 0;
            if (rc == MDB_NOTFOUND && s->rdonly)
                rc = 0;
        }
        if (rc == 0) {
            /* added with txrecent (store_recent.c): the same */
            rc = mdb_dbi_open(txn, "txrecent", f, &s->txrecent);
            s->has_recent = rc == 0;
            if (rc == MDB_NOTFOUND && s->rdonly)
                rc = 0;
        }
        if (rc == 0)
            rc = store_recent_open(s, txn);
        if (rc == 0 && !s->rdonly)
            rc = store_set_schema(s, txn, false);
        if (rc == 0)
            rc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
    }
    if (rc != 0) {
        s->last_rc = rc;
        store_recent_free(s);
        mdb_env_close(s->env);
        pthread_rwlock_destroy(&s->map_lock);
        free(s);
        return rc == MDB_NOTFOUND ? KULA_ENOTFOUND : KULA_ESTORE;
    }
    *out = s;
    return KULA_OK;
}

/* A reader of the same environment, for another thread.  LMDB forbids
 * opening one environment twice in a process (closing the second handle
 * would drop the first's file locks), so a thread that reads beside the
 * node shares the node's: the environment is opened MDB_NOTLS, so a read
 * transaction may live on any thread, and each of the reader's reads begins
 * and ends its own.  None outlives its read, so the reader pins no old
 * pages of the node's file for longer than one read, and sees each block
 * the node commits meanwhile. */
int kula_store_reader_open(kula_store **out, kula_store *owner)
{
    *out = NULL;
    if (owner->owner != NULL)
        return KULA_EINVAL;
    kula_store *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return KULA_ENOMEM;
    s->env = owner->env;
    s->blocks = owner->blocks;
    s->hashes = owner->hashes;
    s->txindex = owner->txindex;
    s->history = owner->history;
    s->state = owner->state;
    s->meta = owner->meta;
    s->snapshots = owner->snapshots;
    s->has_snapshots = owner->has_snapshots;
    s->txrecent = owner->txrecent;
    s->has_recent = owner->has_recent;
    s->rdonly = true;
    s->rx_batch = RX_BATCH_BYTES;
    s->owner = owner;
    atomic_init(&s->stopped, false);
    *out = s;
    return KULA_OK;
}

void kula_store_reader_stop(kula_store *r)
{
    atomic_store(&r->stopped, true);
}

void kula_store_close(kula_store *s)
{
    if (s == NULL)
        return;
    if (s->owner != NULL) {
        if (s->rtxn != NULL)
            mdb_txn_abort(s->rtxn);
        free(s);
        return;
    }
    if (s->rx_active)
        kula_store_reindex_abort(s);
    if (s->rtxn != NULL)
        mdb_txn_abort(s->rtxn);
    mdb_env_close(s->env);
    if (s->map_lock_ok)
        pthread_rwlock_destroy(&s->map_lock);
    store_recent_free(s);
    free(s->sort_buf);
    kula_buf_free(&s->snap_staged);
    free(s);
}

int store_adopt_mapsize(kula_store *s)
{
    if (s->owner != NULL)
        return EINVAL;
    pthread_rwlock_wrlock(&s->map_lock);
    int rc = mdb_env_set_mapsize(s->env, 0);
    pthread_rwlock_unlock(&s->map_lock);
    return rc;
}

/* A reader's read: a transaction of its own under its owner's map lock. */
static int reader_txn(kula_store *s, MDB_txn **txn)
{
    if (atomic_load(&s->stopped)) {
        s->last_rc = 0;
        s->last_msg = "the read was stopped: the node is shutting down";
        return KULA_ESTORE;
    }
    pthread_rwlock_rdlock(&s->owner->map_lock);
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &s->rtxn);
    if (rc != 0) {
        s->rtxn = NULL;
        pthread_rwlock_unlock(&s->owner->map_lock);
        return store_lmdb_fail(s, rc);
    }
    s->rtxn_live = true;
    *txn = s->rtxn;
    return KULA_OK;
}

/* The cached read transaction, begun or renewed on demand. */
static int rtxn(kula_store *s, MDB_txn **txn)
{
    int rc;
    if (s->owner != NULL)
        return reader_txn(s, txn);
    if (s->wtxn != NULL) {
        /* A reindex batch is open: reads see what it wrote. */
        *txn = s->wtxn;
        return KULA_OK;
    }
    if (s->rtxn == NULL) {
        rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &s->rtxn);
        if (rc == MDB_MAP_RESIZED) {
            /* Another process grew the map: adopt its size and retry. */
            if ((rc = store_adopt_mapsize(s)) == 0)
                rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &s->rtxn);
        }
        if (rc != 0) {
            s->rtxn = NULL;
            return store_lmdb_fail(s, rc);
        }
    } else if (!s->rtxn_live) {
        rc = mdb_txn_renew(s->rtxn);
        if (rc == MDB_MAP_RESIZED) {
            mdb_txn_abort(s->rtxn);
            s->rtxn = NULL;
            if ((rc = store_adopt_mapsize(s)) != 0)
                return store_lmdb_fail(s, rc);
            return rtxn(s, txn);
        }
        if (rc != 0)
            return store_lmdb_fail(s, rc);
    }
    s->rtxn_live = true;
    *txn = s->rtxn;
    return KULA_OK;
}

/* Ends the cached read snapshot so the next read sees new commits.  A
 * read-only store (an auditor beside a running node) calls this too, via
 * every public read, so it always reads the newest committed block. */
void store_rtxn_release(kula_store *s)
{
    if (s->owner != NULL) {
        if (s->rtxn != NULL) {
            mdb_txn_abort(s->rtxn);
            s->rtxn = NULL;
            s->rtxn_live = false;
            pthread_rwlock_unlock(&s->owner->map_lock);
        }
        return;
    }
    if (s->rtxn != NULL && s->rtxn_live) {
        mdb_txn_reset(s->rtxn);
        s->rtxn_live = false;
    }
}

/* Ends a public read: a read-only store drops its snapshot, so that its
 * next read sees the newest committed block. */
static void read_done(kula_store *s)
{
    if (s->rdonly)
        store_rtxn_release(s);
}

/* Opens a cursor on dbi in the read snapshot; cursor_done closes it. */
static int read_cursor(kula_store *s, MDB_dbi dbi, MDB_cursor **cur)
{
    MDB_txn *txn;
    int rc = rtxn(s, &txn);
    if (rc != 0)
        return rc;
    int mrc = mdb_cursor_open(txn, dbi, cur);
    if (mrc != 0) {
        read_done(s);
        return store_lmdb_fail(s, mrc);
    }
    return KULA_OK;
}

/* Closes a walk's cursor and ends the read.  Returns rc (the walk's
 * result), else the cursor's error mrc unless it merely ran out. */
static int cursor_done(kula_store *s, MDB_cursor *cur, int rc, int mrc)
{
    mdb_cursor_close(cur);
    read_done(s);
    if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = store_lmdb_fail(s, mrc);
    return rc;
}

static int get_copy(kula_store *s, MDB_dbi dbi, const void *key, size_t klen, kula_buf *out);

int store_get_copy(kula_store *s, MDB_dbi dbi, const void *key, size_t klen, kula_buf *out)
{
    return get_copy(s, dbi, key, klen, out);
}

int store_read_cursor(kula_store *s, MDB_dbi dbi, MDB_cursor **cur)
{
    return read_cursor(s, dbi, cur);
}

int store_cursor_done(kula_store *s, MDB_cursor *cur, int rc, int mrc)
{
    return cursor_done(s, cur, rc, mrc);
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
        rc = store_lmdb_fail(s, mrc);
    } else {
        kula_buf_append(out, v.mv_data, v.mv_size);
        rc = out->err;
    }
    read_done(s);
    return rc;
}

static int bind(kula_store *s, const uint8_t *genesis, size_t len, const kula_hash *chain_id)
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
    store_rtxn_release(s);
    MDB_txn *txn;
    int mrc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (mrc != 0)
        return store_lmdb_fail(s, mrc);
    MDB_val k1 = val_of("chain_id", 8), v1 = val_of(chain_id->b, KULA_HASH_LEN);
    MDB_val k2 = val_of("genesis", 7), v2 = val_of(genesis, len);
    mrc = mdb_put(txn, s->meta, &k1, &v1, 0);
    if (mrc == 0)
        mrc = mdb_put(txn, s->meta, &k2, &v2, 0);
    if (mrc == 0)
        mrc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    return mrc == 0 ? KULA_OK : store_lmdb_fail(s, mrc);
}

int kula_store_bind(kula_store *s, const uint8_t *genesis, size_t len, const kula_hash *chain_id,
                    kula_error *e)
{
    store_error_begin(s);
    return store_error_end(s, bind(s, genesis, len, chain_id), e);
}

int kula_store_genesis(kula_store *s, kula_buf *out)
{
    return get_copy(s, s->meta, "genesis", 7, out);
}

int store_grow_map(kula_store *s)
{
    store_scan_join(s);
    MDB_envinfo info;
    int rc = mdb_env_info(s->env, &info);
    if (rc != 0)
        return rc;
    if (s->rtxn != NULL) {
        mdb_txn_abort(s->rtxn);
        s->rtxn = NULL;
        s->rtxn_live = false;
    }
    /* The readers' reads on other threads are waited for. */
    pthread_rwlock_wrlock(&s->map_lock);
    rc = mdb_env_set_mapsize(s->env, info.me_mapsize * 2);
    pthread_rwlock_unlock(&s->map_lock);
    return rc;
}

/* Runs fn inside one write transaction, growing the map and retrying when
 * it is full; in a reindex session, inside the session's batch.
 * Returns: 0 or a kula error. */
static int write_txn(kula_store *s, write_fn fn, void *ctx)
{
    if (s->rx_active)
        return store_batch_write(s, fn, ctx);
    store_rtxn_release(s);
    for (int attempt = 0; attempt < 8; attempt++) {
        MDB_txn *txn;
        int mrc = mdb_txn_begin(s->env, NULL, 0, &txn);
        if (mrc != 0)
            return store_lmdb_fail(s, mrc);
        mrc = fn(s, txn, ctx);
        if (mrc == 0)
            mrc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
        if (mrc == MDB_MAP_FULL) {
            if ((mrc = store_grow_map(s)) != 0)
                return store_lmdb_fail(s, mrc);
            continue;
        }
        return mrc == 0 ? KULA_OK : store_lmdb_fail(s, mrc);
    }
    return KULA_ESTORE;
}

int store_write_txn(kula_store *s, write_fn fn, void *ctx) { return write_txn(s, fn, ctx); }

bool kula_store_has_state(kula_store *s)
{
    kula_buf b;
    kula_buf_init(&b);
    int rc = get_copy(s, s->meta, "genesis_state", 13, &b);
    kula_buf_free(&b);
    return rc == 0;
}

/* Writes a block's state changes: into a reindex's table in memory when
 * it keeps one (rx_state.c), else into LMDB.  Returns: 0 or an LMDB code. */
static int write_state(kula_store *s, MDB_txn *txn, const kula_state_write *writes,
                       size_t nwrites)
{
    if (s->rx_active && s->rxs.on)
        return store_rxs_writes(s, txn, writes, nwrites);
    if (nwrites == 0)
        return 0;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, s->state, &cur);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < nwrites && rc == 0; i++) {
        MDB_val k = val_of(writes[i].key, writes[i].klen), v;
        if (writes[i].val == NULL) {
            rc = mdb_cursor_get(cur, &k, &v, MDB_SET);
            if (rc == 0)
                rc = mdb_cursor_del(cur, 0);
            else if (rc == MDB_NOTFOUND)
                rc = 0;
        } else {
            v = val_of(writes[i].val, writes[i].vlen);
            rc = mdb_cursor_put(cur, &k, &v, 0);
        }
    }
    mdb_cursor_close(cur);
    if (rc == 0 && s->bloom.bits != NULL)
        store_bloom_add_writes(&s->bloom, s->rx_seed, writes, nwrites);
    return rc;
}

struct init_ctx {
    const kula_state_write *writes;
    size_t n;
};

static int write_init_state(kula_store *s, MDB_txn *txn, void *ctx)
{
    const struct init_ctx *c = ctx;
    int mrc = write_state(s, txn, c->writes, c->n);
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

bool kula_store_outdated(kula_store *s)
{
    kula_buf b;
    kula_buf_init(&b);
    int rc = get_copy(s, s->meta, "schema", 6, &b);
    bool old = rc == 0 && b.len == 4 && kula_get_be32(b.data) < KULA_STORE_SCHEMA;
    kula_buf_free(&b);
    return old;
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
    read_done(s);
    return mrc == 0 ? KULA_OK : store_lmdb_fail(s, mrc);
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
    int rc = store_recent_find(s, txid, height, index);
    if (rc != KULA_ENOTFOUND)
        return rc;
    kula_buf b;
    kula_buf_init(&b);
    rc = get_copy(s, s->txindex, txid->b, KULA_HASH_LEN, &b);
    if (rc == 0 && b.len != 12)
        rc = KULA_ESTORE;
    if (rc == 0) {
        *height = kula_get_be64(b.data);
        *index = kula_get_be32(b.data + 8);
    }
    kula_buf_free(&b);
    return rc;
}

/* Fills e from a history value: a transaction id, or a payment
 * (STORE_PAYMENT_LEN bytes).  Returns: 0 or KULA_ESTORE (neither). */
static int history_value(kula_history_entry *e, const uint8_t *v, size_t n)
{
    if (n == KULA_HASH_LEN) {
        memcpy(e->id.b, v, KULA_HASH_LEN);
        return KULA_OK;
    }
    if (n != STORE_PAYMENT_LEN || kula_get_be64(v + 48) == 0 || kula_get_be64(v + 48) > INT64_MAX)
        return KULA_ESTORE;
    e->payment = true;
    e->clearing = kula_get_be64(v);
    memcpy(e->id.b, v + 8, KULA_HASH_LEN);
    e->debtor = kula_get_be32(v + 40);
    e->creditor = kula_get_be32(v + 44);
    e->amount = (int64_t)kula_get_be64(v + 48);
    return KULA_OK;
}

int kula_store_history(kula_store *s, uint32_t member, uint64_t before_height,
                       uint32_t before_index, size_t limit, kula_history_fn fn, void *ctx)
{
    MDB_cursor *cur;
    int rc = read_cursor(s, s->history, &cur);
    if (rc != 0)
        return rc;
    /* Position after the newest entry before (before_height, before_index),
     * then walk backwards while the key still belongs to member. */
    uint8_t key[16];
    kula_put_be32(key, member);
    kula_put_be64(key + 4, before_height);
    kula_put_be32(key + 12, before_index);
    MDB_val k = val_of(key, sizeof(key)), v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
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
        kula_history_entry en = { .height = kula_get_be64(kp + 4),
                                  .index = kula_get_be32(kp + 12) };
        if (en.height < before_height ||
            (en.height == before_height && en.index < before_index)) {
            if ((rc = history_value(&en, v.mv_data, v.mv_size)) != 0 ||
                (rc = fn(ctx, &en)) != 0)
                break;
            n++;
        }
        mrc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
    }
    return cursor_done(s, cur, rc, mrc);
}

int kula_store_state_get(kula_store *s, const uint8_t *key, size_t klen, kula_buf *out)
{
    if (s->rx_active && s->rxs.on) {
        const uint8_t *v;
        size_t vn;
        int got = store_rxs_get(&s->rxs, key, klen, &v, &vn);
        if (got > 0) {
            kula_buf_append(out, v, vn);
            return out->err;
        }
        if (got == 0 || s->rxs.complete)
            return KULA_ENOTFOUND;
    }
    if (s->rx_active && s->bloom.bits != NULL &&
        !store_bloom_maybe(&s->bloom, s->rx_seed, key, klen))
        return KULA_ENOTFOUND; /* never written since the reindex emptied the state */
    return get_copy(s, s->state, key, klen, out);
}

static int write_rxs_kept(kula_store *s, MDB_txn *txn, void *ctx)
{
    (void)ctx;
    return store_rxs_flush(s, txn, false);
}

/* The state entries under prefix from key start on (slen 0: from the
 * first), without start itself when `after` is set. */
static int state_scan(kula_store *s, const uint8_t *prefix, size_t plen, const uint8_t *start,
                      size_t slen, bool after, kula_state_fn fn, void *ctx)
{
    MDB_cursor *cur;
    int rc = 0;
    /* a reindex's state in memory goes to LMDB first (kept in memory too) */
    if (s->rx_active && s->rxs.ndirty > 0)
        rc = store_batch_write(s, write_rxs_kept, NULL);
    if (rc == 0)
        rc = read_cursor(s, s->state, &cur);
    if (rc != 0)
        return rc;
    MDB_val k = val_of(start, slen), v;
    int mrc = slen > 0 ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)
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
    return cursor_done(s, cur, rc, mrc);
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

/* Writes everything a block changes: the block itself unless NULL (a
 * reindex), the index entries if `indexes`, the transaction index's through
 * txrecent if `recent` (*moved: see store_recent_put). */
static int write_block_txn(kula_store *s, MDB_txn *txn, uint64_t height,
                           const kula_hash *block_hash, const uint8_t *block, size_t block_len,
                           bool indexes, bool recent, bool *moved,
                           const kula_tx_entry *txs, uint32_t ntxs,
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
    if (indexes && recent && (rc = store_recent_put(s, txn, height, txs, ntxs, moved)) != 0)
        return rc;
    if (indexes &&
        (rc = store_put_indexes(s, txn, height, !recent, txs, ntxs, writes, nwrites)) != 0)
        return rc;
    if ((rc = write_state(s, txn, writes, nwrites)) != 0)
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
    if (s->snap_staged_h == height && s->has_snapshots) {
        k = val_of(hk, 8);
        v = val_of(s->snap_staged.data, s->snap_staged.len);
        if ((rc = mdb_put(txn, s->snapshots, &k, &v, 0)) != 0)
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
    bool recent;
    bool moved;
    const kula_tx_entry *txs;
    uint32_t ntxs;
    const kula_state_write *writes;
    size_t nwrites;
    const uint8_t *commit;
    size_t commit_len;
};

static int write_block_cb(kula_store *s, MDB_txn *txn, void *ctx)
{
    struct block_ctx *c = ctx;
    return write_block_txn(s, txn, c->height, c->block_hash, c->block, c->block_len,
                           c->indexes, c->recent, &c->moved, c->txs, c->ntxs, c->writes,
                           c->nwrites, c->commit, c->commit_len);
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
    /* a reindex writes txindex directly (store_recent.c) */
    bool recent = !s->rx_active && s->recent.on;
    struct block_ctx c = { height, block_hash, block, block_len, indexes, recent, false,
                           txs,    ntxs,       writes, nwrites,  commit,  commit_len };
    rc = write_txn(s, write_block_cb, &c);
    if (rc == 0 && recent)
        store_recent_done(s, height, txs, ntxs, c.moved);
    if (s->snap_staged_h == height)
        s->snap_staged_h = 0; /* written, or the block failed: staged again */
    /* for the node's health: a failing disk shows as a state, not a log line */
    s->write_rc = rc == 0 ? 0 : s->last_rc != 0 ? s->last_rc : EIO;
    if (rc != 0)
        s->write_failures++;
    if (rc != 0 || !s->rx_active)
        return rc;
    /* In a reindex batch: account for the block, commit the batch when full. */
    return store_batch_account(s, height, block_hash, indexes, txs, ntxs, writes, nwrites);
}

int kula_store_commit_block(kula_store *s, uint64_t height, const kula_hash *block_hash,
                            const uint8_t *block, size_t block_len,
                            const kula_tx_entry *txs, uint32_t ntxs,
                            const kula_state_write *writes, size_t nwrites,
                            const uint8_t *commit, size_t commit_len, kula_error *e)
{
    store_error_begin(s);
    return store_error_end(s, commit_common(s, height, block_hash, block, block_len, txs, ntxs,
                                            writes, nwrites, commit, commit_len),
                           e);
}

int kula_store_reindex_block(kula_store *s, uint64_t height, const kula_hash *block_hash,
                             const kula_tx_entry *txs, uint32_t ntxs,
                             const kula_state_write *writes, size_t nwrites, kula_error *e)
{
    store_error_begin(s);
    return store_error_end(
        s, commit_common(s, height, block_hash, NULL, 0, txs, ntxs, writes, nwrites, NULL, 0), e);
}

int store_drop_state(kula_store *s, MDB_txn *txn, bool indexes)
{
    MDB_dbi dbis[] = { s->state, s->hashes, s->txindex, s->history, s->txrecent };
    int mrc = 0;
    for (size_t i = 0; i < (indexes ? 5u : 1u) && mrc == 0; i++)
        mrc = mdb_drop(txn, dbis[i], 0);
    if (indexes)
        store_recent_forget(s);
    /* the snapshot parts come from replaying the blocks, as the state */
    if (mrc == 0 && s->has_snapshots)
        mrc = mdb_drop(txn, s->snapshots, 0);
    const char *names[] = { "tip", "genesis_state" };
    for (size_t i = 0; i < 2 && mrc == 0; i++) {
        MDB_val k = val_of(names[i], strlen(names[i]));
        mrc = mdb_del(txn, s->meta, &k, NULL);
        if (mrc == MDB_NOTFOUND)
            mrc = 0;
    }
    return mrc;
}

static int write_reset(kula_store *s, MDB_txn *txn, void *ctx)
{
    (void)ctx;
    return store_drop_state(s, txn, true);
}

int kula_store_reset_state(kula_store *s, kula_error *e)
{
    store_error_begin(s);
    if (s->rdonly)
        return kula_error_set(e, KULA_ESTORE, "the store is open read-only");
    return store_error_end(s, write_txn(s, write_reset, NULL), e);
}

