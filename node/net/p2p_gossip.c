/* p2p_gossip.c -- gossip (proto/SPEC.md §12.1): transactions gathered into
 * batches, admitted and relayed; consensus messages handed to the node once;
 * the mempool offered to a peer that connects. */
#include <stdlib.h>
#include <string.h>

#include "kula/base/error.h"

#include "p2p_internal.h"

static void send_known(kula_p2p *p, const uint8_t *msg, size_t len, const kula_hash *h,
                       uint32_t except, bool again);

/* Wraps tx in a TX message in p->out and gossips it (each send copies it). */
static void relay_tx(kula_p2p *p, const uint8_t *tx, size_t len, uint32_t except)
{
    kula_msg m = { .type = KULA_MSG_TX };
    m.u.tx.tx = tx;
    m.u.tx.len = len;
    if (p2p_encode(p, &m) == 0)
        kula_p2p_gossip(p, p->out.data, p->out.len, except);
}

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

/* Admits the gathered transactions as one batch, then relays each.  A
 * pending transaction names its sender by id, not by peer: a penalty may
 * close the sender's session (and free its peer) in the middle of the
 * batch, and a sender may have left since its transaction arrived. */
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
            if (r == 0) /* in p->seen since it arrived, this loop turn */
                send_known(p, t->msg, t->len, &t->hash, t->from, false);
            else if (r == KULA_EBADSIG)
                kula_net_misbehave(p->net, t->from, KULA_SCORE_BAD_TX,
                                   "a transaction with a bad signature");
            else if (kula_is_codec_error(r))
                kula_net_misbehave(p->net, t->from, KULA_SCORE_BAD_TX,
                                   "a transaction that does not decode");
        }
    }
    free(txs);
    free(lens);
    free(results);
    for (size_t i = 0; i < n; i++)
        free(p->batch[i].msg);
    p->nbatch = 0;
}

/* The check handle runs right after the loop has polled for I/O, so every
 * TX read in this loop turn is in the batch: their signatures are verified
 * in parallel.  It stops itself; the next TX starts it again, so an idle
 * node is not woken for it. */
static void on_check(uv_check_t *h)
{
    kula_p2p *p = h->data;
    flush_batch(p);
    uv_check_stop(&p->check);
    p->check_active = false;
}

void p2p_on_tx_msg(kula_p2p *p, peer *x, const kula_msg *m, const uint8_t *msg, size_t len,
                   const kula_hash *h)
{
    if (p->nbatch == p->capbatch) {
        size_t cap = p->capbatch ? p->capbatch * 2 : 256;
        pending_tx *nb = realloc(p->batch, cap * sizeof(*nb));
        if (nb == NULL)
            return;
        p->batch = nb;
        p->capbatch = cap;
    }
    /* msg is the transport's buffer, valid during on_message only */
    pending_tx *t = &p->batch[p->nbatch];
    t->msg = malloc(len);
    if (t->msg == NULL)
        return;
    memcpy(t->msg, msg, len);
    t->len = len;
    t->tx = t->msg + (m->u.tx.tx - msg);
    t->tx_len = m->u.tx.len;
    t->hash = *h;
    t->from = x->id;
    p->nbatch++;
    /* a big batch goes at once; the rest at the end of this loop turn */
    if (p->nbatch >= 1024)
        flush_batch(p);
    else if (!p->check_active) {
        uv_check_start(&p->check, on_check);
        p->check_active = true;
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
        return;
    }
}

void p2p_batch_free(kula_p2p *p)
{
    for (size_t i = 0; i < p->nbatch; i++)
        free(p->batch[i].msg);
    free(p->batch);
}

void kula_p2p_relay_tx(kula_p2p *p, const uint8_t *tx, size_t len)
{
    if (p != NULL)
        relay_tx(p, tx, len, 0);
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
    send_known(p, msg, len, &h, except, again);
}

/* As send_to_peers, for a message already in p->seen whose hash is h. */
static void send_known(kula_p2p *p, const uint8_t *msg, size_t len, const kula_hash *h,
                       uint32_t except, bool again)
{
    for (peer *x = p->peers; x != NULL; x = x->next)
        if (x->id != except && x->revoked_at == 0 && (again || !kula_seen_has(x->known, h))) {
            kula_seen_add(x->known, h);
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
