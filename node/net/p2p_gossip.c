/* p2p_gossip.c -- gossip (proto/SPEC.md §12.1): transactions gathered into
 * batches, admitted and relayed; consensus messages handed to the node once;
 * the mempool offered to a peer that connects. */
#include <stdlib.h>
#include <string.h>

#include "kula/base/error.h"

#include "p2p_internal.h"

/* The transactions waiting in the mempool, offered to a peer that has just
 * connected: it missed their gossip (it restarted, was cut off or is new),
 * and the proposer among it may be the only node that can commit them.
 * Paced by the peer's send queue like blocks served; on_drain resumes.
 * Below SERVE_HIGH_WATER a send never overflows the transport's queue, so
 * the walk never closes o->x under itself. */
typedef struct offer_walk {
    kula_p2p *p;
    peer *x;
    bool paused;
} offer_walk;

/* tx is the mempool's, valid during the call (the walk must not change the
 * mempool: only this node's own sends happen here). */
static bool offer_one(void *ctx, const uint8_t *tx, size_t len)
{
    offer_walk *o = ctx;
    if (kula_net_queued(o->p->net, o->x->id) >= SERVE_HIGH_WATER) {
        o->paused = true;
        return false;
    }
    kula_msg m = { .type = KULA_MSG_TX };
    m.u.tx.tx = tx;
    m.u.tx.len = len;
    if (p2p_encode(o->p, &m) == 0) {
        kula_hash h;
        kula_hash_bytes(&h, o->p->out.data, o->p->out.len);
        if (!kula_seen_has(o->x->known, &h))
            p2p_send_to(o->p, o->x, o->p->out.data, o->p->out.len);
    }
    return true;
}

void p2p_offer_mempool(kula_p2p *p, peer *x)
{
    if (!x->offering || p->env.mempool == NULL)
        return;
    offer_walk o = { p, x, false };
    kula_mempool_walk(p->env.mempool, &x->offer_next, offer_one, &o);
    x->offering = o.paused; /* what arrives later is gossiped */
}

/* Grows a list of pending transactions to hold one more.  Returns: the
 * new slot, or NULL without memory. */
static pending_tx *pending_slot(pending_tx **list, size_t *n, size_t *cap)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 256;
        pending_tx *nl = realloc(*list, ncap * sizeof(*nl));
        if (nl == NULL)
            return NULL;
        *list = nl;
        *cap = ncap;
    }
    return &(*list)[*n];
}

/* The check handle runs right after the loop has polled for I/O, so every
 * transaction read in this loop turn is in the batch (their signatures are
 * verified in parallel) and every one admitted in it is relayed together.
 * It stops itself; the next transaction starts it again, so an idle node is
 * not woken for it. */
static void on_check(uv_check_t *h);

/* Nothing to do: an active idle handle only makes the loop poll without
 * blocking, so that the check runs at once after a transaction queued from
 * a timer's callback (evidence, the API's timer), not after the next event. */
static void on_idle(uv_idle_t *h) { (void)h; }

static void want_check(kula_p2p *p)
{
    if (!p->check_active) {
        uv_check_start(&p->check, on_check);
        uv_idle_start(&p->idle, on_idle);
        p->check_active = true;
    }
}

/* Sends x the transactions of p->relay it lacks (not from it, not known to
 * have them), as TX_BATCH messages of at most KULA_MAX_TX_BATCH
 * transactions and about KULA_TX_BATCH_BYTES (items: the buffer to build
 * them in), or one TX each when this node does not send batches (or there
 * is only one). */
static void relay_to(kula_p2p *p, peer *x, kula_buf *items)
{
    size_t i = 0;
    while (i < p->nrelay) {
        kula_buf_reset(items);
        uint32_t n = 0;
        size_t one = 0; /* the index of the first in this message */
        for (; i < p->nrelay && n < KULA_MAX_TX_BATCH && items->len < KULA_TX_BATCH_BYTES; i++) {
            pending_tx *t = &p->relay[i];
            if (t->from == x->id || kula_seen_has(x->known, &t->hash))
                continue;
            kula_seen_add(x->known, &t->hash);
            if (!p->env.gossip_batches) {
                p2p_send(p, x->id, t->msg, t->len);
                continue;
            }
            if (n++ == 0)
                one = i;
            kula_buf_append(items, t->msg + 2, t->len - 2); /* the TX message's bin */
        }
        if (n == 1) {
            p2p_send(p, x->id, p->relay[one].msg, p->relay[one].len);
        } else if (n > 1) {
            kula_msg m = { .type = KULA_MSG_TX_BATCH };
            m.u.tx_batch.n = n;
            m.u.tx_batch.items = items->data;
            m.u.tx_batch.len = items->len;
            if (items->err == 0 && p2p_encode(p, &m) == 0)
                p2p_send(p, x->id, p->out.data, p->out.len);
        }
    }
}

/* Relays what this loop turn admitted (p->relay) to every live peer. */
static void flush_relay(kula_p2p *p)
{
    if (p->nrelay == 0)
        return;
    kula_buf items;
    kula_buf_init(&items);
    for (peer *x = p->peers; x != NULL; x = x->next)
        if (x->revoked_at == 0)
            relay_to(p, x, &items);
    kula_buf_free(&items);
    for (size_t i = 0; i < p->nrelay; i++)
        free(p->relay[i].msg);
    p->nrelay = 0;
}

/* Admits the gathered transactions as one batch; those admitted join the
 * relay.  A pending transaction names its sender by id, not by peer: a
 * penalty may close the sender's session (and free its peer) in the middle
 * of the batch, and a sender may have left since its transaction arrived. */
static void flush_batch(kula_p2p *p)
{
    size_t n = p->nbatch;
    if (n == 0)
        return;
    const uint8_t **txs = malloc(n * sizeof(*txs));
    size_t *lens = malloc(n * sizeof(*lens));
    int *results = malloc(n * sizeof(*results));
    if (txs != NULL && lens != NULL && results != NULL) {
        for (size_t i = 0; i < n; i++) {
            txs[i] = p->batch[i].tx;
            lens[i] = p->batch[i].tx_len;
        }
        kula_mempool_add_batch(p->env.mempool, kula_chain_ledger(p->env.chain),
                               p->env.verifier, txs, lens, n, results, NULL);
        for (size_t i = 0; i < n; i++) {
            pending_tx *t = &p->batch[i];
            int r = results[i];
            /* Only what is the sender's fault counts against it: a refusal
             * by this node's state (an unknown member, a signer set, a
             * nonce) may only mean the sender's state is ahead. */
            if (r == 0) { /* in p->seen since it arrived, this loop turn */
                pending_tx *q = pending_slot(&p->relay, &p->nrelay, &p->caprelay);
                if (q != NULL) {
                    *q = *t; /* the relay takes its bytes */
                    t->msg = NULL;
                    p->nrelay++;
                }
            } else if (r == KULA_EBADSIG) {
                kula_net_misbehave(p->net, t->from, KULA_SCORE_BAD_TX,
                                   "a transaction with a bad signature");
            } else if (kula_is_codec_error(r)) {
                kula_net_misbehave(p->net, t->from, KULA_SCORE_BAD_TX,
                                   "a transaction that does not decode");
            }
        }
    }
    free(txs);
    free(lens);
    free(results);
    for (size_t i = 0; i < n; i++)
        free(p->batch[i].msg);
    p->nbatch = 0;
    if (p->nrelay > 0)
        want_check(p);
}

static void on_check(uv_check_t *h)
{
    kula_p2p *p = h->data;
    flush_batch(p);
    flush_relay(p);
    uv_check_stop(&p->check);
    uv_idle_stop(&p->idle);
    p->check_active = false;
}

/* Adds a transaction from peer `from` to the batch, as the TX message it
 * is or would be: 92 02 and its bin (item).  Returns: false without memory. */
static bool pend(kula_p2p *p, uint32_t from, const uint8_t *item, size_t item_len,
                 size_t tx_off, size_t tx_len, const kula_hash *h)
{
    pending_tx *t = pending_slot(&p->batch, &p->nbatch, &p->capbatch);
    if (t == NULL || (t->msg = malloc(item_len + 2)) == NULL)
        return false;
    t->msg[0] = 0x92;
    t->msg[1] = KULA_MSG_TX;
    memcpy(t->msg + 2, item, item_len);
    t->len = item_len + 2;
    t->tx = t->msg + 2 + tx_off;
    t->tx_len = tx_len;
    t->hash = *h;
    t->from = from;
    p->nbatch++;
    /* a big batch goes at once; the rest at the end of this loop turn */
    if (p->nbatch >= KULA_MAX_TX_BATCH)
        flush_batch(p);
    else
        want_check(p);
    return true;
}

void p2p_on_tx_msg(kula_p2p *p, peer *x, const kula_msg *m, const uint8_t *msg, size_t len,
                   const kula_hash *h)
{
    /* msg is the transport's buffer, valid during on_message only; a TX
     * message is 92 02 and the transaction's bin (the decoder takes only
     * the canonical form) */
    (void)pend(p, x->id, msg + 2, len - 2, (size_t)(m->u.tx.tx - (msg + 2)), m->u.tx.len, h);
}

void p2p_on_tx_batch(kula_p2p *p, peer *x, const kula_msg *m)
{
    uint32_t from = x->id;
    size_t off = 0, len, item_len;
    const uint8_t *tx, *item;
    while (kula_msg_batch_next(m, &off, &tx, &len, &item, &item_len)) {
        /* each is remembered by the hash of the TX message it would be, so
         * that it is the same transaction however it travels */
        kula_hash h;
        kula_hasher hs;
        static const uint8_t head[2] = { 0x92, KULA_MSG_TX };
        kula_hasher_init(&hs);
        kula_hasher_update(&hs, head, sizeof(head));
        kula_hasher_update(&hs, item, item_len);
        kula_hasher_final(&hs, &h);
        /* x may be gone after a flush (a penalty): look it up again */
        peer *y = p2p_find_peer(p, from);
        if (y != NULL)
            kula_seen_add(y->known, &h);
        if (kula_seen_add(p->seen, &h))
            (void)pend(p, from, item, item_len, (size_t)(tx - item), len, &h);
    }
}

/* The sender has the message whether or not this node had: it is added to
 * x->known first, so that it is never sent back to x. */
bool p2p_first_seen(kula_p2p *p, peer *x, const uint8_t *msg, size_t len, kula_hash *h)
{
    kula_hash_bytes(h, msg, len);
    kula_seen_add(x->known, h);
    return kula_seen_add(p->seen, h);
}

/* As p2p_first_seen, but remembers nothing in p->seen: a consensus message
 * is remembered there when the node takes it and relays it (p2p.h). */
bool p2p_not_taken(kula_p2p *p, peer *x, const uint8_t *msg, size_t len)
{
    kula_hash h;
    kula_hash_bytes(&h, msg, len);
    kula_seen_add(x->known, &h);
    return !kula_seen_has(p->seen, &h);
}

void p2p_on_consensus_msg(kula_p2p *p, uint32_t id, const kula_msg *m, const uint8_t *msg,
                          size_t len)
{
    const kula_p2p_hooks *k = &p->hooks;
    switch ((enum kula_msg_type)m->type) {
    case KULA_MSG_PROPOSAL:
        if (k->on_proposal != NULL)
            k->on_proposal(k->ctx, id, msg, len, m->u.proposal.proposal,
                           m->u.proposal.proposal_len, m->u.proposal.block,
                           m->u.proposal.block_len);
        return;
    case KULA_MSG_VOTE:
        if (k->on_vote != NULL)
            k->on_vote(k->ctx, id, msg, len, m->u.vote.vote, m->u.vote.len);
        return;
    case KULA_MSG_EVIDENCE:
        if (k->on_evidence != NULL)
            k->on_evidence(k->ctx, id, msg, len, m->u.evidence.a, m->u.evidence.a_len,
                           m->u.evidence.b, m->u.evidence.b_len);
        return;
    case KULA_MSG_STATUS:
    case KULA_MSG_TX:
    case KULA_MSG_GET_BLOCKS:
    case KULA_MSG_BLOCK:
    case KULA_MSG_GET_PEERS:
    case KULA_MSG_PEERS:
    case KULA_MSG_GET_SNAPSHOTS:
    case KULA_MSG_SNAPSHOTS:
    case KULA_MSG_GET_CHUNK:
    case KULA_MSG_CHUNK:
    case KULA_MSG_TX_BATCH:
        return;
    }
}

void p2p_batch_free(kula_p2p *p)
{
    for (size_t i = 0; i < p->nbatch; i++)
        free(p->batch[i].msg);
    free(p->batch);
    for (size_t i = 0; i < p->nrelay; i++)
        free(p->relay[i].msg);
    free(p->relay);
}

void kula_p2p_relay_tx(kula_p2p *p, const uint8_t *tx, size_t len)
{
    if (p == NULL)
        return;
    kula_msg m = { .type = KULA_MSG_TX };
    m.u.tx.tx = tx;
    m.u.tx.len = len;
    pending_tx *t = pending_slot(&p->relay, &p->nrelay, &p->caprelay);
    if (t == NULL || p2p_encode(p, &m) != 0 || (t->msg = malloc(p->out.len)) == NULL)
        return;
    memcpy(t->msg, p->out.data, p->out.len);
    t->len = p->out.len;
    t->tx = t->msg + (t->len - len);
    t->tx_len = len;
    kula_hash_bytes(&t->hash, t->msg, t->len);
    kula_seen_add(p->seen, &t->hash);
    t->from = 0;
    p->nrelay++;
    want_check(p); /* relayed with the rest of this loop turn's */
}

/* Sends msg to every live peer but except: only to those not known to
 * have it, unless again. */
static void send_to_peers(kula_p2p *p, const uint8_t *msg, size_t len, uint32_t except,
                          bool again)
{
    if (p == NULL)
        return;
    kula_hash h;
    kula_hash_bytes(&h, msg, len);
    kula_seen_add(p->seen, &h);
    for (peer *x = p->peers; x != NULL; x = x->next)
        if (x->id != except && x->revoked_at == 0 && (again || !kula_seen_has(x->known, &h))) {
            kula_seen_add(x->known, &h);
            p2p_send(p, x->id, msg, len);
        }
}

void kula_p2p_gossip(kula_p2p *p, const uint8_t *msg, size_t len, uint32_t except)
{
    send_to_peers(p, msg, len, except, false);
}

void kula_p2p_resend(kula_p2p *p, const uint8_t *msg, size_t len)
{
    send_to_peers(p, msg, len, 0, true);
}
