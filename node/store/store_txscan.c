/* store_txscan.c -- the transaction index read by id prefix (txscan.h). */
#include "store_internal.h"

#include "kula/base/bytes.h"
#include "kula/base/error.h"
#include "kula/store/txscan.h"

static int scan(kula_store *s, const uint8_t *prefix, size_t plen, kula_tx_scan_fn fn,
                void *ctx);

int kula_store_tx_scan(kula_store *s, const uint8_t *prefix, size_t plen, kula_tx_scan_fn fn,
                       void *ctx)
{
    if (s->owner != NULL && atomic_load(&s->stopped))
        return KULA_ESTORE;
    if (s->owner != NULL) /* a reader: the map must not move under the scan */
        pthread_rwlock_rdlock(&s->owner->map_lock);
    int rc = scan(s, prefix, plen, fn, ctx);
    if (s->owner != NULL)
        pthread_rwlock_unlock(&s->owner->map_lock);
    return rc;
}

static int scan(kula_store *s, const uint8_t *prefix, size_t plen, kula_tx_scan_fn fn, void *ctx)
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
        if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
            break;
        if (k.mv_size != KULA_HASH_LEN || v.mv_size != 12) {
            rc = KULA_ESTORE;
            break;
        }
        kula_hash id;
        memcpy(id.b, k.mv_data, KULA_HASH_LEN);
        const uint8_t *at = v.mv_data;
        if ((rc = fn(ctx, &id, kula_get_be64(at), kula_get_be32(at + 8))) != 0)
            break;
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = store_lmdb_fail(s, mrc);
    return rc;
}
