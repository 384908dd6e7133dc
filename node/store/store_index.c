/* store_index.c -- a block's entries in the transaction index and the member
 * history, and the digests that check them after a reindex. */
#include <errno.h>
#include <stdlib.h>

#include "kula/types/records.h"
#include "store_internal.h"

/* ---- the payments of a clearing's settlement (SPEC §9) ---- */

int store_block_payments(const kula_state_write *w, size_t nw, kula_settlement *z)
{
    memset(z, 0, sizeof(*z));
    for (size_t i = 0; i < nw; i++) {
        /* proto/SPEC.md §10.1: "Z" || be64(n), written by clearing n's block */
        if (w[i].klen != 9 || w[i].key[0] != KULA_KEY_SETTLEMENT || w[i].val == NULL)
            continue;
        z->number = kula_get_be64(w[i].key + 1);
        int rc = kula_settlement_decode(z, w[i].val, w[i].vlen);
        return rc == KULA_ENOMEM ? ENOMEM : rc != 0 ? EINVAL : 0;
    }
    return 0;
}

void store_payment_value(uint8_t v[STORE_PAYMENT_LEN], uint64_t clearing,
                         const kula_settlement_item *it)
{
    kula_put_be64(v, clearing);
    memcpy(v + 8, it->id.b, KULA_HASH_LEN);
    kula_put_be32(v + 40, it->debtor);
    kula_put_be32(v + 44, it->creditor);
    kula_put_be64(v + 48, (uint64_t)it->amount);
}

/* The history key of member's entry at (height, index). */
static void history_key(uint8_t key[16], uint32_t member, uint64_t height, uint32_t index)
{
    kula_put_be32(key, member);
    kula_put_be64(key + 4, height);
    kula_put_be32(key + 12, index);
}

/* Writes the history entries of the payments of z (a block's few, rarely
 * any): the debtor's and the creditor's, after the block's ntxs. */
static int put_payments(kula_store *s, MDB_txn *txn, uint64_t height, uint32_t ntxs,
                        const kula_settlement *z)
{
    int rc = 0;
    for (uint32_t j = 0; j < z->n && rc == 0; j++) {
        uint8_t key[16], val[STORE_PAYMENT_LEN];
        store_payment_value(val, z->number, &z->items[j]);
        uint32_t side[2] = { z->items[j].debtor, z->items[j].creditor };
        for (int k = 0; k < 2 && rc == 0; k++) {
            history_key(key, side[k], height, ntxs + j);
            MDB_val mk = val_of(key, 16), mv = val_of(val, sizeof(val));
            rc = mdb_put(txn, s->history, &mk, &mv, 0);
        }
    }
    return rc;
}

/* ---- index entries, written in key order ----
 *
 * Through one cursor per database and in key order, consecutive entries
 * mostly land on the leaf page the cursor is on, which LMDB then searches
 * without descending from the root again. */

static int put_tx_indexes(kula_store *s, MDB_txn *txn, uint64_t height, bool txindex,
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
    if (txindex)
        tx = store_radix_sort(tx, tx + ntxs, ntxs);
    for (size_t i = 1; txindex && i < ntxs; i++)
        for (size_t j = i; j > 0 && tx[j].key == tx[j - 1].key &&
                           memcmp(tx[j].id, tx[j - 1].id, KULA_HASH_LEN) < 0; j--) {
            ix_rec t = tx[j];
            tx[j] = tx[j - 1];
            tx[j - 1] = t;
        }
    /* history: member, then index (the height is the block's) */
    hi = store_radix_sort(hi, hi + nhist, nhist);
    MDB_cursor *cur;
    int rc = txindex ? mdb_cursor_open(txn, s->txindex, &cur) : 0;
    if (rc != 0)
        return rc;
    for (uint32_t i = 0; txindex && i < ntxs && rc == 0; i++) {
        uint8_t loc[12];
        kula_put_be64(loc, height);
        kula_put_be32(loc + 8, tx[i].index);
        MDB_val k = val_of(tx[i].id, KULA_HASH_LEN), v = val_of(loc, 12);
        rc = mdb_cursor_put(cur, &k, &v, 0);
    }
    if (txindex)
        mdb_cursor_close(cur);
    if (rc != 0 || (rc = mdb_cursor_open(txn, s->history, &cur)) != 0)
        return rc;
    for (size_t i = 0; i < nhist && rc == 0; i++) {
        uint8_t key[16];
        history_key(key, (uint32_t)(hi[i].key >> 32), height, hi[i].index);
        MDB_val k = val_of(key, 16), v = val_of(hi[i].id, KULA_HASH_LEN);
        rc = mdb_cursor_put(cur, &k, &v, 0);
    }
    mdb_cursor_close(cur);
    return rc;
}

int store_put_indexes(kula_store *s, MDB_txn *txn, uint64_t height, bool txindex,
                      const kula_tx_entry *txs, uint32_t ntxs,
                      const kula_state_write *writes, size_t nwrites)
{
    kula_settlement z;
    int rc = put_tx_indexes(s, txn, height, txindex, txs, ntxs);
    if (rc == 0)
        rc = store_block_payments(writes, nwrites, &z);
    if (rc == 0) {
        rc = put_payments(s, txn, height, ntxs, &z);
        kula_settlement_free(&z);
    }
    return rc;
}

/* ---- index digests (a reindex that keeps the indexes checks them) ---- */

/* Adds one entry to a digest: a keyed hash of it, summed (so the order of
 * the entries does not matter) in two independent ways, and counted. */
void store_ix_add(ix_sum *d, uint64_t seed, const uint8_t *k, size_t kn, const uint8_t *v,
                  size_t vn)
{
    uint64_t h = mix_bytes(mix_bytes(seed ^ kn, k, kn), v, vn);
    d->n++;
    d->a += h;
    d->b += mix64(h ^ seed);
}

/* The entries of a block's hash and transactions in the indexes, as
 * write_block_txn (store.c) and store_put_indexes write them. */
void store_ix_add_txs(ix_sum sums[IX_COUNT], uint64_t seed, uint64_t height,
                      const kula_hash *block_hash, const kula_tx_entry *txs, uint32_t ntxs)
{
    uint8_t hk[8];
    kula_put_be64(hk, height);
    store_ix_add(&sums[IX_HASHES], seed, block_hash->b, KULA_HASH_LEN, hk, 8);
    for (uint32_t i = 0; i < ntxs; i++) {
        uint8_t key[16];
        memcpy(key + 4, hk, 8);
        kula_put_be32(key + 12, i);
        store_ix_add(&sums[IX_TXINDEX], seed, txs[i].id.b, KULA_HASH_LEN, key + 4, 12);
        for (uint32_t p = 0; p < txs[i].nparties; p++) {
            kula_put_be32(key, txs[i].parties[p]);
            store_ix_add(&sums[IX_HISTORY], seed, key, 16, txs[i].id.b, KULA_HASH_LEN);
        }
    }
}

/* The history entries of a block's settlement payments, as
 * store_put_indexes writes them.  A settlement record that does not decode
 * adds nothing: the digests then differ and the indexes are rewritten,
 * which fails on it. */
void store_ix_add_payments(ix_sum sums[IX_COUNT], uint64_t seed, uint64_t height,
                           uint32_t ntxs, const kula_state_write *writes, size_t nwrites)
{
    kula_settlement z;
    if (store_block_payments(writes, nwrites, &z) != 0)
        return;
    for (uint32_t j = 0; j < z.n; j++) {
        uint8_t key[16], val[STORE_PAYMENT_LEN];
        store_payment_value(val, z.number, &z.items[j]);
        history_key(key, z.items[j].debtor, height, ntxs + j);
        store_ix_add(&sums[IX_HISTORY], seed, key, 16, val, sizeof(val));
        history_key(key, z.items[j].creditor, height, ntxs + j);
        store_ix_add(&sums[IX_HISTORY], seed, key, 16, val, sizeof(val));
    }
    kula_settlement_free(&z);
}

/* Adds every entry of dbi to *d, keyed as txindex's when `swap` (txrecent
 * holds them value first).  Returns: 0 or an LMDB code. */
static int sum_db(kula_store *s, MDB_txn *txn, MDB_dbi dbi, bool swap, ix_sum *d)
{
    MDB_cursor *cur;
    int mrc = mdb_cursor_open(txn, dbi, &cur);
    if (mrc != 0)
        return mrc;
    MDB_val k, v;
    mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (mrc == 0) {
        const MDB_val *a = swap ? &v : &k, *b = swap ? &k : &v;
        store_ix_add(d, s->rx_seed, a->mv_data, a->mv_size, b->mv_data, b->mv_size);
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return mrc == MDB_NOTFOUND ? 0 : mrc;
}

int store_ix_sum(kula_store *s, MDB_txn *txn, int which, ix_sum *d)
{
    MDB_dbi dbis[IX_COUNT] = { s->hashes, s->txindex, s->history };
    memset(d, 0, sizeof(*d));
    int mrc = sum_db(s, txn, dbis[which], false, d);
    /* the transaction index is txindex and txrecent (store_recent.c) */
    if (mrc == 0 && which == IX_TXINDEX && s->has_recent)
        mrc = sum_db(s, txn, s->txrecent, true, d);
    return mrc;
}
