/* store_reindex.c -- reindex sessions: the state rebuilt from the stored
 * blocks in large batches, and the kept indexes checked. */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>

#include "kula/base/error.h"

#include "store_internal.h"
#include "store_testing.h"

/* Keep at least this much of the map free before starting a batch. */
#define RX_HEADROOM (512ull << 20)

/* ---- reindex batches ---- */

/* Opens the session's batch if none is open, first growing the map until
 * RX_HEADROOM of it lies beyond the last used page.  Returns: 0 or an
 * LMDB code. */
static int batch_begin(kula_store *s)
{
    if (s->wtxn != NULL)
        return 0;
    store_rtxn_release(s); /* an old snapshot would pin the pages the batch frees */
    MDB_envinfo info;
    MDB_stat st;
    int mrc = mdb_env_info(s->env, &info);
    if (mrc == 0)
        mrc = mdb_env_stat(s->env, &st);
    while (mrc == 0 &&
           info.me_mapsize - (info.me_last_pgno + 1) * (uint64_t)st.ms_psize < RX_HEADROOM) {
        if ((mrc = store_grow_map(s)) == 0)
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
        store_grow_map(s);
    }
    return store_lmdb_fail(s, mrc);
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
int store_batch_write(kula_store *s, write_fn fn, void *ctx)
{
    if (s->rx_broken)
        return KULA_ESTORE;
    int mrc = batch_begin(s);
    if (mrc == 0)
        mrc = fn(s, s->wtxn, ctx);
    return mrc == 0 ? KULA_OK : batch_fail(s, mrc);
}

int store_batch_account(kula_store *s, uint64_t height, const kula_hash *block_hash,
                        bool indexes, const kula_tx_entry *txs, uint32_t ntxs,
                        const kula_state_write *writes, size_t nwrites)
{
    if (!indexes) {
        store_digest_block(s, height, block_hash, txs, ntxs);
        store_ix_add_payments(s->rx_want, s->rx_seed, height, ntxs, writes, nwrites);
    }
    size_t bytes = 64;
    for (uint32_t i = 0; indexes && i < ntxs; i++)
        bytes += 44 + 48 * (size_t)txs[i].nparties;
    /* (state writes kept in memory count when written out: rx_state.c) */
    for (size_t i = 0; i < nwrites && !s->rxs.on; i++)
        bytes += writes[i].klen + writes[i].vlen + 16;
    s->rx_bytes += bytes;
    return s->rx_bytes >= s->rx_batch ? batch_commit(s) : KULA_OK;
}

/* ---- reindex sessions ---- */

static int write_rx_begin(kula_store *s, MDB_txn *txn, void *ctx)
{
    size_t *old_state = ctx;
    MDB_stat st;
    int mrc = mdb_stat(txn, s->state, &st);
    if (mrc == 0) {
        *old_state = st.ms_entries;
        mrc = store_drop_state(s, txn, s->rx_indexes);
    }
    if (mrc == 0) {
        MDB_val k = val_of("reindex", 7), v = val_of("1", 1);
        mrc = mdb_put(txn, s->meta, &k, &v, 0);
    }
    return mrc;
}

/* Ends the session, committed or not.  The scan and digest threads are
 * joined before anything they read goes away. */
static void rx_close(kula_store *s)
{
    store_scan_join(s);
    store_digest_join(s);
    free(s->bloom.bits);
    s->bloom.bits = NULL;
    store_rxs_free(&s->rxs);
    if (s->wtxn != NULL) {
        mdb_txn_abort(s->wtxn);
        s->wtxn = NULL;
    }
    s->rx_active = false;
    mdb_env_set_flags(s->env, MDB_NOMETASYNC, 0);
}

static int reindex_begin(kula_store *s, unsigned flags)
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
    int rc = mrc != 0 ? store_lmdb_fail(s, mrc)
                      : store_batch_write(s, write_rx_begin, &old_state);
    /* Committed at once: from here on the store says a reindex is due, and
     * the pages of the dropped state are free for the batches. */
    if (rc == 0)
        rc = batch_commit(s);
    if (rc != 0) {
        rx_close(s);
        return rc;
    }
    store_bloom_init(&s->bloom, 2 * old_state + (1u << 16));
    store_rxs_init(&s->rxs, s->rxs_budget);
    if (!s->rx_indexes) {
        store_scan_start(s);
        store_digest_start(s);
    }
    return KULA_OK;
}

int kula_store_reindex_begin(kula_store *s, unsigned flags, kula_error *e)
{
    store_error_begin(s);
    if (s->rdonly || s->rx_active)
        return kula_error_set(e, KULA_EINVAL, "%s", s->rdonly ? "the store is open read-only"
                                                              : "a reindex is already under way");
    return store_error_end(s, reindex_begin(s, flags), e);
}

static int reindex_end(kula_store *s, bool *indexes_ok)
{
    *indexes_ok = false;
    if (!s->rx_active)
        return KULA_EINVAL;
    if (s->rx_broken) {
        rx_close(s);
        s->last_msg = "a write of the reindex failed before its end";
        return KULA_ESTORE;
    }
    store_scan_join(s);
    store_digest_join(s);
    /* no read follows: the filter need not learn the keys written out now */
    free(s->bloom.bits);
    s->bloom.bits = NULL;
    int mrc = batch_begin(s);
    if (mrc == 0)
        mrc = store_rxs_flush(s, s->wtxn, true);
    bool ok = true;
    if (!s->rx_indexes && s->scan.mrc == 0) {
        for (int i = 0; i < IX_COUNT; i++)
            ok = ok && s->scan.got[i].n == s->rx_want[i].n &&
                 s->scan.got[i].a == s->rx_want[i].a && s->scan.got[i].b == s->rx_want[i].b;
    } else if (!s->rx_indexes) {
        /* the scan did not run or failed: scan here */
        for (int i = 0; i < IX_COUNT && ok && mrc == 0; i++) {
            ix_sum got;
            mrc = store_ix_sum(s, s->wtxn, i, &got);
            ok = mrc == 0 && got.n == s->rx_want[i].n && got.a == s->rx_want[i].a &&
                 got.b == s->rx_want[i].b;
        }
    }
    if (mrc == 0 && ok) {
        MDB_val k = val_of("reindex", 7);
        mrc = mdb_del(s->wtxn, s->meta, &k, NULL);
    }
    /* the indexes now hold every entry this version writes */
    if (mrc == 0 && ok)
        mrc = store_set_schema(s, s->wtxn, true);
    /* The marker goes with the last batch: LMDB never keeps a transaction
     * without those before it.  Then the meta page is flushed too. */
    int rc = mrc != 0 ? batch_fail(s, mrc) : KULA_OK;
    if (rc == 0)
        rc = batch_commit(s);
    if (rc == 0 && (mrc = mdb_env_set_flags(s->env, MDB_NOMETASYNC, 0)) == 0)
        mrc = mdb_env_sync(s->env, 1);
    if (rc == 0 && mrc != 0)
        rc = store_lmdb_fail(s, mrc);
    rx_close(s);
    *indexes_ok = ok;
    return rc;
}

int kula_store_reindex_end(kula_store *s, bool *indexes_ok, kula_error *e)
{
    store_error_begin(s);
    return store_error_end(s, reindex_end(s, indexes_ok), e);
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

void kula_store_set_reindex_memory(kula_store *s, size_t bytes)
{
    s->rxs_budget = bytes == SIZE_MAX ? RX_STATE_BYTES : bytes;
}
