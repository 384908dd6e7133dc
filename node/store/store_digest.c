/* store_digest.c -- the digests of the index entries a reindex's blocks
 * imply, added up on a thread of their own.
 *
 * A reindex that keeps the indexes checks them at its end against what the
 * replayed blocks imply (store_ix_sum, store_scan.c).  Adding a block's
 * entries into the digests is pure arithmetic on its transactions' ids and
 * parties, so the applying thread, the replay's critical path, only copies
 * them into a slot of a small ring; this thread empties the ring.  The
 * sums are order-independent, so the thread's part is added to
 * s->rx_want at the join. */
#include <stdlib.h>

#include "store_internal.h"

static void *digest_main(void *arg)
{
    kula_store *s = arg;
    rx_digest *d = &s->digest;
    pthread_mutex_lock(&d->mu);
    for (;;) {
        while (d->count == 0 && !d->stop)
            pthread_cond_wait(&d->cv, &d->mu);
        if (d->count == 0)
            break; /* stopped, and every block handed over is added */
        /* The slot at head is this thread's until count drops. */
        rx_digest_slot *slot = &d->slots[d->head];
        pthread_mutex_unlock(&d->mu);
        store_ix_add_txs(d->sums, s->rx_seed, slot->height, &slot->block_hash, slot->txs,
                         slot->ntxs);
        pthread_mutex_lock(&d->mu);
        d->head = (d->head + 1) % RX_DIGEST_SLOTS;
        d->count--;
        pthread_cond_broadcast(&d->cv);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

void store_digest_start(kula_store *s)
{
    rx_digest *d = &s->digest;
    memset(d, 0, sizeof(*d));
    if (pthread_mutex_init(&d->mu, NULL) != 0)
        return;
    if (pthread_cond_init(&d->cv, NULL) != 0) {
        pthread_mutex_destroy(&d->mu);
        return;
    }
    if (pthread_create(&d->thread, NULL, digest_main, s) == 0) {
        d->running = true;
    } else {
        pthread_cond_destroy(&d->cv);
        pthread_mutex_destroy(&d->mu);
    }
}

void store_digest_block(kula_store *s, uint64_t height, const kula_hash *block_hash,
                        const kula_tx_entry *txs, uint32_t ntxs)
{
    rx_digest *d = &s->digest;
    if (!d->running) {
        store_ix_add_txs(s->rx_want, s->rx_seed, height, block_hash, txs, ntxs);
        return;
    }
    pthread_mutex_lock(&d->mu);
    while (d->count == RX_DIGEST_SLOTS)
        pthread_cond_wait(&d->cv, &d->mu);
    /* The slot after the filled ones is the caller's until count grows. */
    rx_digest_slot *slot = &d->slots[(d->head + d->count) % RX_DIGEST_SLOTS];
    pthread_mutex_unlock(&d->mu);
    if (ntxs > slot->cap) {
        kula_tx_entry *grown = realloc(slot->txs, ntxs * sizeof(*grown));
        if (grown == NULL) { /* out of memory: add it here, as without a thread */
            store_ix_add_txs(s->rx_want, s->rx_seed, height, block_hash, txs, ntxs);
            return;
        }
        slot->txs = grown;
        slot->cap = ntxs;
    }
    slot->height = height;
    slot->block_hash = *block_hash;
    slot->ntxs = ntxs;
    if (ntxs > 0)
        memcpy(slot->txs, txs, ntxs * sizeof(*txs));
    pthread_mutex_lock(&d->mu);
    d->count++;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

void store_digest_join(kula_store *s)
{
    rx_digest *d = &s->digest;
    if (!d->running)
        return;
    pthread_mutex_lock(&d->mu);
    d->stop = true;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    pthread_join(d->thread, NULL);
    d->running = false;
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    for (int i = 0; i < IX_COUNT; i++) {
        s->rx_want[i].n += d->sums[i].n;
        s->rx_want[i].a += d->sums[i].a;
        s->rx_want[i].b += d->sums[i].b;
    }
    for (unsigned i = 0; i < RX_DIGEST_SLOTS; i++)
        free(d->slots[i].txs);
    memset(d, 0, sizeof(*d));
}
