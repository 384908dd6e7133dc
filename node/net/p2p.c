/* p2p.c -- the node on the network (proto/SPEC.md §12): its peers, the
 * transport's callbacks, each message handed to its concept (p2p_gossip.c,
 * p2p_pex.c, p2p_sync.c, p2p_members.c), the timer, and the API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kula/base/error.h"

#include "p2p_internal.h"

#define SEEN_NODE 65536u   /* message hashes this node remembers */
#define SEEN_PEER 8192u    /* ... and remembers each peer to have */

peer *p2p_find_peer(kula_p2p *p, uint32_t id)
{
    for (peer *x = p->peers; x != NULL; x = x->next)
        if (x->id == id)
            return x;
    return NULL;
}

void p2p_send(kula_p2p *p, uint32_t id, const uint8_t *msg, size_t len)
{
    kula_result_ignored(kula_net_send(p->net, id, msg, len));
}

void p2p_send_to(kula_p2p *p, peer *x, const uint8_t *msg, size_t len)
{
    kula_hash h;
    kula_hash_bytes(&h, msg, len);
    kula_seen_add(x->known, &h);
    p2p_send(p, x->id, msg, len);
}

/* Encodes m into p->out.  Returns: 0 or the encoder's error. */
int p2p_encode(kula_p2p *p, const kula_msg *m)
{
    kula_buf_reset(&p->out);
    return kula_msg_encode(&p->out, m);
}

void p2p_send_status(kula_p2p *p, peer *x)
{
    kula_msg m = { .type = KULA_MSG_STATUS };
    m.u.status.height = kula_chain_height(p->env.chain);
    m.u.status.tip = *kula_chain_tip_hash(p->env.chain);
    m.u.status.listen_port = p->listen_port;
    if (p2p_encode(p, &m) == 0)
        p2p_send(p, x->id, p->out.data, p->out.len);
}

/* ---- the transport's callbacks ---- */

/* msg is the transport's buffer, valid during this call only: what must
 * outlive it (a transaction waiting for its batch) is copied; the rest is
 * handled, or relayed (kula_net_send copies), before returning.  Any
 * handler may close x's session (kula_net_misbehave): nothing here uses x
 * after the handler it is passed to. */
static void on_message(void *ctx, uint32_t id, const uint8_t *msg, size_t len)
{
    kula_p2p *p = ctx;
    peer *x = p2p_find_peer(p, id);
    if (x == NULL)
        return;
    kula_msg m;
    int rc = kula_msg_decode(&m, msg, len);
    if (rc != 0) {
        char why[96];
        snprintf(why, sizeof(why), "a malformed message (%s)", kula_strerror(rc));
        kula_net_misbehave(p->net, id, KULA_SCORE_MALFORMED, why);
        return;
    }
    if (x->revoked_at != 0) {
        p2p_on_revoked_msg(p, x, &m);
        return;
    }
    switch ((enum kula_msg_type)m.type) {
    case KULA_MSG_STATUS:
        x->height = m.u.status.height;
        kula_net_set_status(p->net, id, m.u.status.height, m.u.status.listen_port);
        p2p_snap_request(p);
        p2p_sync_request(p);
        return;
    case KULA_MSG_TX: {
        kula_hash h;
        if (p2p_first_seen(p, x, msg, len, &h))
            p2p_on_tx_msg(p, x, &m, msg, len, &h);
        return;
    }
    case KULA_MSG_PROPOSAL:
    case KULA_MSG_VOTE:
    case KULA_MSG_EVIDENCE:
        if (p2p_not_taken(p, x, msg, len))
            p2p_on_consensus_msg(p, id, &m, msg, len);
        return;
    case KULA_MSG_GET_BLOCKS:
        p2p_on_get_blocks(p, x, &m);
        return;
    case KULA_MSG_BLOCK:
        p2p_on_block_msg(p, x, &m);
        return;
    case KULA_MSG_GET_PEERS:
        p2p_on_get_peers(p, id);
        return;
    case KULA_MSG_PEERS:
        p2p_on_peers(p, x, &m);
        return;
    case KULA_MSG_GET_SNAPSHOTS:
        p2p_on_get_snapshots(p, x, &m);
        return;
    case KULA_MSG_SNAPSHOTS:
        p2p_on_snapshots(p, x, &m);
        return;
    case KULA_MSG_GET_CHUNK:
        p2p_on_get_chunk(p, x, &m);
        return;
    case KULA_MSG_CHUNK:
        p2p_on_chunk(p, x, &m);
        return;
    case KULA_MSG_TX_BATCH:
        p2p_on_tx_batch(p, x, &m);
        return;
    }
}

static bool admit(void *ctx, const kula_pubkey *key)
{
    kula_standing st;
    kula_member m;
    if (p2p_admitted(ctx, key, &st, &m))
        return true;
    p2p_log_refused(ctx, key, st, &m);
    return false;
}

static void on_connect(void *ctx, uint32_t id)
{
    kula_p2p *p = ctx;
    peer *x = calloc(1, sizeof(*x));
    if (x == NULL || kula_seen_new(&x->known, SEEN_PEER) != 0) {
        free(x);
        kula_net_disconnect(p->net, id, "out of memory");
        return;
    }
    x->id = id;
    x->next = p->peers;
    p->peers = x;
    /* Its height first, so that whichever side is behind asks for blocks;
     * then the addresses it knows; then, paced, the transactions it missed. */
    p2p_send_status(p, x);
    p2p_pex_ask(p, x);
    x->offering = true;
    p2p_offer_mempool(p, x);
}

/* Called by the transport before it closes the connection, also from
 * inside kula_net_disconnect and kula_net_misbehave (see p2p_internal.h);
 * not called while the transport stops (kula_p2p_stop frees the peers). */
static void on_disconnect(void *ctx, uint32_t id)
{
    kula_p2p *p = ctx;
    for (peer **q = &p->peers; *q != NULL; q = &(*q)->next)
        if ((*q)->id == id) {
            peer *x = *q;
            *q = x->next;
            kula_seen_free(x->known);
            free(x);
            break;
        }
    /* after the peer is gone, so that the request goes to another */
    p2p_snap_peer_gone(p, id);
    if (p->sync_peer == id)
        p2p_sync_done(p);
}

/* The peer's send queue fell below the transport's low water: go on with
 * what was held back for it (blocks served first: it asked for them). */
static void on_drain(void *ctx, uint32_t id)
{
    kula_p2p *p = ctx;
    peer *x = p2p_find_peer(p, id);
    if (x != NULL && x->serve_end != 0)
        p2p_serve(p, x);
    if (x != NULL)
        p2p_offer_mempool(p, x);
}

/* Every TICK_MS: the deadlines (revoked sessions, the sync request in
 * flight), a new sync request if some peer is ahead, and serving that a
 * full queue held back without a drain since. */
static void on_tick(uv_timer_t *t)
{
    kula_p2p *p = t->data;
    p2p_end_revoked(p);
    p2p_snap_check_deadline(p);
    p2p_sync_check_deadline(p);
    p2p_sync_request(p);
    for (peer *x = p->peers; x != NULL; x = x->next)
        if (x->serve_end != 0)
            p2p_serve(p, x);
}

/* ---- the API ---- */

/* p owns three handles, the timer, the check and the idle; libuv may touch
 * a handle until its close callback has run, so p is freed after the last. */
static void on_closed(uv_handle_t *h)
{
    kula_p2p *p = h->data;
    if (--p->handles == 0)
        free(p);
}

int kula_p2p_start(kula_p2p **out, uv_loop_t *loop, const kula_net_config *cfg,
                   const kula_seckey *identity, const kula_p2p_env *env,
                   const kula_p2p_hooks *hooks, kula_error *e)
{
    kula_p2p *p = calloc(1, sizeof(*p));
    if (p == NULL || kula_seen_new(&p->seen, SEEN_NODE) != 0) {
        free(p);
        return kula_error_set(e, KULA_ENOMEM, "out of memory");
    }
    p->loop = loop;
    p->env = *env;
    p->hooks = *hooks;
    kula_buf_init(&p->out);
    kula_net_callbacks cb = { .ctx = p, .admit = admit, .on_connect = on_connect,
                              .on_message = on_message, .on_disconnect = on_disconnect,
                              .on_drain = on_drain, .on_dropped = p2p_on_dropped };
    int rc = kula_net_start(&p->net, loop, cfg, &env->chain_id, identity, &cb, e);
    if (rc != 0) {
        kula_seen_free(p->seen);
        free(p);
        return rc;
    }
    p->listen_port = kula_net_listen_port(p->net);
    uv_timer_init(loop, &p->timer);
    uv_check_init(loop, &p->check);
    uv_idle_init(loop, &p->idle);
    p->timer.data = p->check.data = p->idle.data = p;
    p->handles = 3;
    uv_timer_start(&p->timer, on_tick, TICK_MS, TICK_MS);
    p2p_snap_start(p);
    *out = p;
    return KULA_OK;
}

void kula_p2p_stop(kula_p2p *p)
{
    if (p == NULL)
        return;
    /* The transport first: it calls no callback of ours from here on (no
     * on_disconnect while it stops), so the peers are freed here.  It frees
     * itself once the loop has run its close callbacks. */
    p->stopping = true;
    kula_net_stop(p->net);
    p->net = NULL;
    while (p->peers != NULL) {
        peer *x = p->peers;
        p->peers = x->next;
        kula_seen_free(x->known);
        free(x);
    }
    p2p_batch_free(p);
    p2p_snap_free(p);
    kula_seen_free(p->seen);
    kula_buf_free(&p->out);
    /* A batch not yet admitted is dropped (its senders still have it); the
     * check handle may be active: uv_close stops it. */
    uv_close((uv_handle_t *)&p->timer, on_closed);
    uv_close((uv_handle_t *)&p->check, on_closed);
    uv_close((uv_handle_t *)&p->idle, on_closed);
}

void kula_p2p_tip_changed(kula_p2p *p)
{
    if (p == NULL)
        return;
    p2p_recheck_sessions(p);
    for (peer *x = p->peers; x != NULL; x = x->next) {
        if (x->revoked_at == 0)
            p2p_send_status(p, x);
        if (x->serve_end != 0)
            p2p_serve(p, x);
    }
}

void kula_p2p_send(kula_p2p *p, uint32_t id, const uint8_t *msg, size_t len)
{
    peer *x = p != NULL ? p2p_find_peer(p, id) : NULL;
    if (x != NULL && x->revoked_at == 0)
        p2p_send_to(p, x, msg, len);
}

void kula_p2p_punish(kula_p2p *p, uint32_t peer_id, int points, const char *why)
{
    if (p != NULL)
        kula_net_misbehave(p->net, peer_id, points, why);
}

kula_net *kula_p2p_net(kula_p2p *p) { return p->net; }
