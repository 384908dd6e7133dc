/* store_snap.c -- the store's part of snapshot heights and state sync
 * (include/kula/store/store.h, proto/SPEC.md §9 and §10.3): the parts of
 * each snapshot height's root, kept with its block; a store started from a
 * snapshot instead of the genesis; and the blocks below it, fetched later,
 * stored from the top down. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kula/base/bytes.h"
#include "kula/base/error.h"
#include "store_internal.h"

int kula_store_stage_snapshot(kula_store *s, uint64_t height, const uint8_t *parts, size_t len)
{
    kula_buf_reset(&s->snap_staged);
    kula_buf_append(&s->snap_staged, parts, len);
    if (s->snap_staged.err != 0) {
        s->snap_staged_h = 0;
        return KULA_ENOMEM;
    }
    s->snap_staged_h = height;
    return KULA_OK;
}

int kula_store_snapshot_next(kula_store *s, uint64_t from, uint64_t *height, kula_buf *out)
{
    if (!s->has_snapshots)
        return KULA_ENOTFOUND;
    MDB_cursor *cur;
    int rc = store_read_cursor(s, s->snapshots, &cur);
    if (rc != 0)
        return rc;
    uint8_t hk[8];
    kula_put_be64(hk, from);
    MDB_val k = val_of(hk, 8), v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (mrc == 0 && k.mv_size != 8)
        rc = KULA_ESTORE;
    else if (mrc == 0) {
        *height = kula_get_be64(k.mv_data);
        kula_buf_append(out, v.mv_data, v.mv_size);
        rc = out->err;
    } else if (mrc == MDB_NOTFOUND) {
        rc = KULA_ENOTFOUND;
        mrc = 0;
    }
    return store_cursor_done(s, cur, rc, mrc);
}

static int meta_u64(kula_store *s, const char *name, uint64_t *v)
{
    kula_buf b;
    kula_buf_init(&b);
    *v = 0;
    int rc = store_get_copy(s, s->meta, name, strlen(name), &b);
    if (rc == KULA_ENOTFOUND)
        rc = KULA_OK;
    else if (rc == 0 && b.len == 8)
        *v = kula_get_be64(b.data);
    else if (rc == 0)
        rc = KULA_ESTORE;
    kula_buf_free(&b);
    return rc;
}

int kula_store_base(kula_store *s, uint64_t *base, uint64_t *missing_below, kula_buf *header)
{
    int rc = meta_u64(s, "base", base);
    if (rc == 0)
        rc = meta_u64(s, "missing_below", missing_below);
    if (rc == 0 && header != NULL && *base > 0)
        rc = store_get_copy(s, s->meta, "base_header", 11, header);
    return rc == KULA_ENOTFOUND ? KULA_ESTORE : rc;
}

/* ---- starting from a snapshot ---- */

struct install_ctx {
    uint64_t height;
    const uint8_t *header, *commit;
    size_t header_len, commit_len;
    const kula_store_snap_proof *proofs;
    size_t nproofs;
    kula_store_fill_fn fill;
    void *fill_ctx;
    int fill_rc; /* a kula error of fill's own */
};

struct put_ctx {
    MDB_txn *txn;
    MDB_dbi dbi;
    int mrc; /* the LMDB code of a failed put */
};

/* Returns: 0, or KULA_ESTORE with the LMDB code in pc->mrc. */
static int put_record(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    struct put_ctx *pc = ctx;
    MDB_val k = val_of(key, klen), v = val_of(val, vlen);
    pc->mrc = mdb_put(pc->txn, pc->dbi, &k, &v, 0);
    return pc->mrc == 0 ? 0 : KULA_ESTORE;
}

static int put_meta(MDB_txn *txn, MDB_dbi meta, const char *name, const void *val, size_t len)
{
    MDB_val k = val_of(name, strlen(name)), v = val_of(val, len);
    return mdb_put(txn, meta, &k, &v, 0);
}

static int write_install(kula_store *s, MDB_txn *txn, void *ctx)
{
    struct install_ctx *c = ctx;
    int mrc = mdb_drop(txn, s->state, 0);
    if (mrc == 0)
        mrc = mdb_drop(txn, s->snapshots, 0);
    if (mrc != 0)
        return mrc;
    struct put_ctx pc = { txn, s->state, 0 };
    c->fill_rc = 0;
    int rc = c->fill(c->fill_ctx, put_record, &pc);
    if (pc.mrc != 0)
        return pc.mrc; /* MDB_MAP_FULL: write_txn grows the map, fills again */
    if (rc != 0) {     /* the records are bad: abort, and say why */
        c->fill_rc = rc;
        return EIO;
    }
    pc.dbi = s->snapshots;
    for (size_t i = 0; i < c->nproofs; i++) {
        uint8_t hk[8];
        kula_put_be64(hk, c->proofs[i].height);
        if (put_record(&pc, hk, 8, c->proofs[i].value, c->proofs[i].len) != 0)
            return pc.mrc;
    }
    uint8_t h[8], below[8];
    kula_put_be64(h, c->height);
    kula_put_be64(below, c->height + 1);
    if ((mrc = put_meta(txn, s->meta, "tip", h, 8)) == 0 &&
        (mrc = put_meta(txn, s->meta, "tip_commit", c->commit, c->commit_len)) == 0 &&
        (mrc = put_meta(txn, s->meta, "base", h, 8)) == 0 &&
        (mrc = put_meta(txn, s->meta, "base_header", c->header, c->header_len)) == 0 &&
        (mrc = put_meta(txn, s->meta, "missing_below", below, 8)) == 0)
        mrc = put_meta(txn, s->meta, "genesis_state", "1", 1);
    return mrc;
}

int kula_store_install_snapshot(kula_store *s, uint64_t height, const uint8_t *header,
                                size_t header_len, const uint8_t *commit, size_t commit_len,
                                const kula_store_snap_proof *proofs, size_t nproofs,
                                kula_store_fill_fn fill, void *ctx, kula_error *e)
{
    store_error_begin(s);
    if (s->rdonly || !s->has_snapshots)
        return kula_error_set(e, KULA_ESTORE, "the store is open read-only");
    uint64_t tip, last;
    int rc = kula_store_tip(s, &tip);
    if (rc == 0)
        rc = kula_store_last_block(s, &last);
    if (rc != 0)
        return store_error_end(s, rc, e);
    if (tip != 0 || last != 0)
        return kula_error_set(e, KULA_EHEIGHT,
                              "the ledger already holds blocks (up to %llu): a snapshot starts "
                              "only an empty one",
                              (unsigned long long)(tip > last ? tip : last));
    struct install_ctx c = { height, header, commit, header_len, commit_len, proofs, nproofs,
                             fill, ctx, 0 };
    rc = store_write_txn(s, write_install, &c);
    if (c.fill_rc != 0)
        return kula_error_set(e, c.fill_rc, "the snapshot's records: %s",
                              kula_strerror(c.fill_rc));
    return store_error_end(s, rc, e);
}

/* ---- the blocks below the base ---- */

struct old_block {
    uint64_t height;
    const kula_hash *hash;
    const uint8_t *block;
    size_t len;
};

static int write_old_block(kula_store *s, MDB_txn *txn, void *ctx)
{
    const struct old_block *o = ctx;
    uint8_t hk[8];
    kula_put_be64(hk, o->height);
    MDB_val k = val_of(hk, 8), v = val_of(o->block, o->len);
    int mrc = mdb_put(txn, s->blocks, &k, &v, MDB_NOOVERWRITE);
    if (mrc == 0) {
        k = val_of(o->hash->b, KULA_HASH_LEN);
        v = val_of(hk, 8);
        mrc = mdb_put(txn, s->hashes, &k, &v, 0);
    }
    if (mrc != 0)
        return mrc;
    MDB_val mk = val_of("missing_below", 13);
    if (o->height == 1)
        return mdb_del(txn, s->meta, &mk, NULL);
    return put_meta(txn, s->meta, "missing_below", hk, 8);
}

int kula_store_put_old_block(kula_store *s, uint64_t height, const kula_hash *block_hash,
                             const uint8_t *block, size_t len, kula_error *e)
{
    store_error_begin(s);
    if (s->rdonly)
        return kula_error_set(e, KULA_ESTORE, "the store is open read-only");
    uint64_t base, below;
    int rc = kula_store_base(s, &base, &below, NULL);
    if (rc != 0)
        return store_error_end(s, rc, e);
    if (below < 2 || height != below - 1)
        return kula_error_set(e, KULA_EHEIGHT,
                              "block %llu is not the next one missing below the snapshot "
                              "(%llu)",
                              (unsigned long long)height,
                              (unsigned long long)(below > 0 ? below - 1 : 0));
    struct old_block o = { height, block_hash, block, len };
    return store_error_end(s, store_write_txn(s, write_old_block, &o), e);
}
