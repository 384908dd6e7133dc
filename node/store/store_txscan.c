/* store_txscan.c -- the transaction index read by id prefix (txscan.h). */
#include <stdlib.h>

#include "store_internal.h"

#include "kula/base/bytes.h"
#include "kula/base/error.h"
#include "kula/store/txscan.h"

/* The entries of txrecent under the prefix, merged in id order. */
typedef struct merge {
    const recent_ent *e;
    size_t n, at;
} merge;

static int scan(kula_store *s, const uint8_t *prefix, size_t plen, kula_tx_scan_fn fn,
                void *ctx, merge *m);

int kula_store_tx_scan(kula_store *s, const uint8_t *prefix, size_t plen, kula_tx_scan_fn fn,
                       void *ctx)
{
    if (s->owner != NULL && atomic_load(&s->stopped))
        return KULA_ESTORE;
    /* txrecent first (its reads take the map lock themselves); an entry
     * moved into txindex meanwhile is then met twice, and given once */
    recent_ent *recent = NULL;
    size_t nrecent = 0;
    int rc = store_recent_prefix(s, prefix, plen, &recent, &nrecent);
    if (rc != 0)
        return rc;
    merge m = { recent, nrecent, 0 };
    if (s->owner != NULL) /* a reader: the map must not move under the scan */
        pthread_rwlock_rdlock(&s->owner->map_lock);
    rc = scan(s, prefix, plen, fn, ctx, &m);
    if (s->owner != NULL)
        pthread_rwlock_unlock(&s->owner->map_lock);
    free(recent);
    return rc;
}

/* Gives fn the recent entries before id (all when id is NULL), skipping
 * one equal to it.  Returns: 0 or fn's value. */
static int give_recent(merge *m, const kula_hash *id, kula_tx_scan_fn fn, void *ctx)
{
    for (; m->at < m->n; m->at++) {
        const recent_ent *e = &m->e[m->at];
        int c = id != NULL ? memcmp(e->id.b, id->b, KULA_HASH_LEN) : -1;
        if (c > 0)
            break;
        if (c == 0)
            continue;
        int rc = fn(ctx, &e->id, e->height, e->index);
        if (rc != 0) {
            m->at++;
            return rc;
        }
    }
    return 0;
}

static int scan(kula_store *s, const uint8_t *prefix, size_t plen, kula_tx_scan_fn fn,
                void *ctx, merge *m)
{
    /* A snapshot of its own (the environment is MDB_NOTLS), so that the
     * store's cached read transaction is left as it is. */
    MDB_txn *txn;
    int mrc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (mrc == MDB_MAP_RESIZED) {
        /* Another process grew the map: adopt its size and retry. */
        if ((mrc = store_adopt_mapsize(s)) == 0)
            mrc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    }
    if (mrc != 0)
        return store_lmdb_fail(s, mrc);
    MDB_cursor *cur;
    if ((mrc = mdb_cursor_open(txn, s->txindex, &cur)) != 0) {
        mdb_txn_abort(txn);
        return store_lmdb_fail(s, mrc);
    }
    MDB_val k = val_of(prefix, plen), v;
    mrc = mdb_cursor_get(cur, &k, &v, plen > 0 ? MDB_SET_RANGE : MDB_FIRST);
    int rc = 0;
    while (mrc == 0) {
        if (k.mv_size < plen || (plen > 0 && memcmp(k.mv_data, prefix, plen) != 0))
            break;
        if (k.mv_size != KULA_HASH_LEN || v.mv_size != 12) {
            rc = KULA_ESTORE;
            break;
        }
        kula_hash id;
        memcpy(id.b, k.mv_data, KULA_HASH_LEN);
        const uint8_t *at = v.mv_data;
        if ((rc = give_recent(m, &id, fn, ctx)) != 0 ||
            (rc = fn(ctx, &id, kula_get_be64(at), kula_get_be32(at + 8))) != 0)
            break;
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = store_lmdb_fail(s, mrc);
    if (rc == 0)
        rc = give_recent(m, NULL, fn, ctx);
    return rc;
}
