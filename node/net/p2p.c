/* p2p.c -- the node on the network: gossip of transactions and consensus
 * messages, peer exchange, and catch-up sync (proto/SPEC.md §12). */
#include "kula/net/p2p.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kula/base/error.h"
#include "kula/base/log.h"
#include "kula/net/seen.h"
#include "kula/net/wire.h"

#define SEEN_NODE 65536u   /* message hashes this node remembers */
#define SEEN_PEER 8192u    /* ... and remembers each peer to have */
#define TICK_MS 500u
#define MAX_PEERS 256u
#define SERVE_HIGH_WATER (8u << 20) /* serve GET_BLOCKS while less is queued */

typedef struct peer {
    uint32_t id;
    kula_seen *known;      /* hashes of messages the peer sent or was sent */
    uint64_t height;
    bool asked_peers;      /* this node sent GET_PEERS */
    bool got_peers;        /* ... and PEERS came back */
    uint64_t serve_next;   /* GET_BLOCKS being served: next height */
    uint64_t serve_end;    /* ... and the last (0: none) */
    bool offering;         /* the mempool is being offered to the peer ... */
    uint64_t offer_next;   /* ... from this arrival number on */
    uint64_t revoked_at;   /* its key lost its membership at this block (0: no) */
    uint64_t revoke_deadline; /* ... and its session ends by then (monotonic ms) */
    char why[160];         /* ... because */
    struct peer *next;
} peer;

/* A transaction received from a peer, waiting for the batch. */
typedef struct pending_tx {
    uint8_t *bytes;
    size_t len;
    uint32_t from;
    kula_hash hash;
} pending_tx;

struct kula_p2p {
    uv_loop_t *loop;
    kula_net *net;
    kula_p2p_env env;
    kula_p2p_hooks hooks;
    uint16_t listen_port;
    peer *peers;
    kula_seen *seen;
    pending_tx *batch;
    size_t nbatch, capbatch;
    uv_check_t check;
    bool check_active;
    /* sync: one request in flight */
    uint32_t sync_peer;    /* 0: none */
    uint64_t sync_next, sync_end, sync_deadline;
    bool catching_up;      /* more than one block behind */
    uv_timer_t timer;
    int handles;
    bool stopping;
    kula_buf out;
};

static peer *find_peer(kula_p2p *p, uint32_t id)
{
    for (peer *x = p->peers; x != NULL; x = x->next)
        if (x->id == id)
            return x;
    return NULL;
}

static void msg_hash(kula_hash *h, const uint8_t *msg, size_t len)
{
    kula_hash_bytes(h, msg, len);
}

static void send_to(kula_p2p *p, peer *x, const uint8_t *msg, size_t len)
{
    kula_hash h;
    msg_hash(&h, msg, len);
    kula_seen_add(x->known, &h);
    kula_net_send(p->net, x->id, msg, len);
}

/* Encodes m into p->out.  Returns: 0 or the encoder's error. */
static int encode(kula_p2p *p, const kula_msg *m)
{
    kula_buf_reset(&p->out);
    return kula_msg_encode(&p->out, m);
}

static void send_status(kula_p2p *p, peer *x)
{
    kula_msg m = { .type = KULA_MSG_STATUS };
    m.u.status.height = kula_chain_height(p->env.chain);
    m.u.status.tip = *kula_chain_tip_hash(p->env.chain);
    m.u.status.listen_port = p->listen_port;
    if (encode(p, &m) == 0)
        kula_net_send(p->net, x->id, p->out.data, p->out.len);
}

/* ---- sync ---- */

static void sync_request(kula_p2p *p)
{
    if (p->sync_peer != 0 || p->stopping)
        return;
    uint64_t mine = kula_chain_height(p->env.chain);
    peer *best = NULL;
    for (peer *x = p->peers; x != NULL; x = x->next)
        if (x->revoked_at == 0 && x->height > mine &&
            (best == NULL || x->height > best->height ||
             (x->height == best->height && x->id < best->id)))
            best = x;
    if (best == NULL)
        return;
    uint64_t count = best->height - mine;
    if (count > KULA_MAX_GET_BLOCKS)
        count = KULA_MAX_GET_BLOCKS;
    kula_msg m = { .type = KULA_MSG_GET_BLOCKS };
    m.u.get_blocks.from = mine + 1;
    m.u.get_blocks.count = (uint32_t)count;
    if (encode(p, &m) != 0 || kula_net_send(p->net, best->id, p->out.data, p->out.len) != 0)
        return;
    p->sync_peer = best->id;
    p->sync_next = mine + 1;
    p->sync_end = mine + count;
    p->sync_deadline = uv_now(p->loop) + KULA_SYNC_TIMEOUT_MS;
    kula_debug("sync: asked peer %u for blocks %llu..%llu (it has %llu)", best->id,
               (unsigned long long)p->sync_next, (unsigned long long)p->sync_end,
               (unsigned long long)best->height);
}

static void sync_done(kula_p2p *p)
{
    p->sync_peer = 0;
    sync_request(p);
}

/* ---- membership on live sessions ---- */

static void serve(kula_p2p *p, peer *x);

kula_standing kula_p2p_standing(kula_ledger *l, const kula_pubkey *key, kula_member *out)
{
    uint32_t id;
    kula_member m;
    if (kula_ledger_member_by_key(l, key, &id) != 0 || kula_ledger_member(l, id, &m) != 0)
        return KULA_STANDING_UNKNOWN;
    if (out != NULL)
        *out = m;
    /* A key stays bound to its member after a rotation or a removal
     * (proto/LEDGER.md), so that it can never be admitted under another
     * identity: only the member's current key is the member's. */
    if (m.status != KULA_MEMBER_ACTIVE)
        return KULA_STANDING_REMOVED;
    if (memcmp(m.pubkey.b, key->b, KULA_PUBKEY_LEN) != 0)
        return KULA_STANDING_ROTATED;
    return KULA_STANDING_MEMBER;
}

static bool is_observer(const kula_p2p *p, const kula_pubkey *key)
{
    for (size_t i = 0; i < p->env.nobservers; i++)
        if (memcmp(p->env.observers[i].b, key->b, KULA_PUBKEY_LEN) == 0)
            return true;
    return false;
}

/* proto/SPEC.md §11.4: "a node MUST refuse every identity that is neither
 * the key of a member of the network in its current state nor an observer
 * key listed in its configuration". */
static bool admitted(kula_p2p *p, const kula_pubkey *key, kula_standing *st, kula_member *m)
{
    *st = kula_p2p_standing(kula_chain_ledger(p->env.chain), key, m);
    return *st == KULA_STANDING_MEMBER || is_observer(p, key);
}

/* Why a key that was admitted no longer is, at block h. */
static void revoke_reason(char *out, size_t len, kula_standing st, const kula_member *m,
                          const kula_pubkey *key, uint64_t h)
{
    char hex[2 * KULA_PUBKEY_LEN + 1];
    kula_hex_encode(hex, key->b, KULA_PUBKEY_LEN);
    switch (st) {
    case KULA_STANDING_REMOVED:
        snprintf(out, len, "member %s (%u) was removed at block %llu", m->name, m->id,
                 (unsigned long long)h);
        return;
    case KULA_STANDING_ROTATED:
        snprintf(out, len, "the key %.16s of member %s (%u) was rotated at block %llu", hex,
                 m->name, m->id, (unsigned long long)h);
        return;
    case KULA_STANDING_UNKNOWN:
    case KULA_STANDING_MEMBER:
        break;
    }
    snprintf(out, len, "the key %.16s is no longer a member's at block %llu", hex,
             (unsigned long long)h);
}

/* Checks every established peer's key against the state after block h,
 * the tip (p2p.h): a peer no longer admitted is sent nothing more but the
 * blocks up to h, and its session ends once it has h, or at its deadline.
 * Cheap enough to run after every block without looking at what it changed:
 * two look-ups in the state per peer, about 0.3 us each, 70-90 us for 256
 * peers (tests/bench/bench_recheck.c). */
static void recheck_sessions(kula_p2p *p)
{
    uint64_t h = kula_chain_height(p->env.chain);
    uint32_t now_gone[MAX_PEERS];
    size_t ngone = 0;
    for (peer *x = p->peers; x != NULL; x = x->next) {
        const kula_pubkey *key = kula_net_peer_key(p->net, x->id);
        kula_standing st;
        kula_member m;
        if (x->revoked_at != 0 || key == NULL || admitted(p, key, &st, &m))
            continue;
        x->revoked_at = h;
        x->revoke_deadline = uv_now(p->loop) + KULA_P2P_REVOKE_MS;
        revoke_reason(x->why, sizeof(x->why), st, &m, key, h);
        x->offering = false;
        if (x->serve_end > h)
            x->serve_end = h;
        if (p->sync_peer == x->id)
            p->sync_peer = 0; /* asked again of another peer (on_tick) */
        kula_info("peer %u: %s: it is sent nothing more but the blocks up to %llu, and its "
                  "session ends",
                  x->id, x->why, (unsigned long long)h);
        if (x->height >= h) {
            if (ngone < MAX_PEERS)
                now_gone[ngone++] = x->id;
        } else {
            send_status(p, x); /* it learns that block h is here to fetch */
        }
    }
    /* on_disconnect frees the peer: not while walking the list */
    for (size_t i = 0; i < ngone; i++) {
        peer *x = find_peer(p, now_gone[i]);
        if (x != NULL)
            kula_net_disconnect(p->net, x->id, x->why);
    }
}

/* What a peer whose key lost its membership may still do: say its height
 * (its session ends once it has the block that revoked it) and fetch the
 * blocks up to that one (serve clamps them).  The rest is ignored. */
static void on_revoked_msg(kula_p2p *p, peer *x, const kula_msg *m)
{
    switch ((enum kula_msg_type)m->type) {
    case KULA_MSG_STATUS:
        x->height = m->u.status.height;
        if (x->height >= x->revoked_at)
            kula_net_disconnect(p->net, x->id, x->why);
        return;
    case KULA_MSG_GET_BLOCKS:
        x->serve_next = m->u.get_blocks.from;
        x->serve_end = m->u.get_blocks.from + m->u.get_blocks.count - 1;
        if (x->serve_end > x->revoked_at)
            x->serve_end = x->revoked_at;
        if (x->serve_next <= x->serve_end)
            serve(p, x);
        else
            x->serve_end = 0;
        return;
    case KULA_MSG_TX:
    case KULA_MSG_PROPOSAL:
    case KULA_MSG_VOTE:
    case KULA_MSG_BLOCK:
    case KULA_MSG_GET_PEERS:
    case KULA_MSG_PEERS:
    case KULA_MSG_EVIDENCE:
        return;
    }
}

/* Verifies the signatures of a block's transactions on the verifier's
 * threads, with the signers' keys of the state before the block.  Out:
 * keys, per transaction its verified keys or NULL (the ledger then checks
 * inline: a signer set the state cannot tell yet, or a failed signature, so
 * that apply reports the right error).  Returns: 0 or KULA_ENOMEM. */
static int verify_block(kula_p2p *p, const uint8_t *block, size_t len, kula_pubkey **store,
                        const kula_pubkey ***verified, uint32_t *n)
{
    *store = NULL;
    *verified = NULL;
    *n = 0;
    kula_block b;
    if (kula_block_decode(&b, block, len) != 0)
        return KULA_OK; /* apply reports it */
    kula_ledger *l = kula_chain_ledger(p->env.chain);
    size_t cap = (size_t)b.ntxs * KULA_MAX_PARTIES;
    kula_pubkey *keys = malloc((cap ? cap : 1) * sizeof(*keys));
    const kula_pubkey **per = calloc(b.ntxs ? b.ntxs : 1, sizeof(*per));
    kula_verify_job *jobs = malloc((cap ? cap : 1) * sizeof(*jobs));
    uint32_t *first = malloc((b.ntxs ? b.ntxs : 1) * sizeof(*first));
    uint8_t *first_n = calloc(b.ntxs ? b.ntxs : 1, 1);
    if (keys == NULL || per == NULL || jobs == NULL || first == NULL || first_n == NULL) {
        free(first_n);
        free(keys);
        free(per);
        free(jobs);
        free(first);
        kula_block_free(&b);
        return KULA_ENOMEM;
    }
    size_t njobs = 0;
    for (uint32_t i = 0; i < b.ntxs; i++) {
        kula_tx tx;
        first[i] = 0;
        if (kula_tx_decode(&tx, b.txs[i], b.tx_lens[i]) != 0 ||
            kula_ledger_sig_jobs(l, &tx, &jobs[njobs]) != 0)
            continue;
        first[i] = (uint32_t)njobs;
        first_n[i] = (uint8_t)tx.nsigs;
        for (uint32_t k = 0; k < tx.nsigs; k++)
            keys[(size_t)i * KULA_MAX_PARTIES + k] = jobs[njobs + k].key;
        njobs += tx.nsigs;
        per[i] = keys + (size_t)i * KULA_MAX_PARTIES;
    }
    if (njobs > 0)
        kula_verifier_run(p->env.verifier, jobs, njobs);
    /* a transaction with any failed signature is checked inline */
    for (uint32_t i = 0; i < b.ntxs; i++) {
        if (per[i] == NULL)
            continue;
        for (uint32_t k = 0; k < first_n[i]; k++)
            if (!jobs[first[i] + k].ok)
                per[i] = NULL;
    }
    free(jobs);
    free(first);
    free(first_n);
    *store = keys;
    *verified = per;
    *n = b.ntxs;
    kula_block_free(&b);
    return KULA_OK;
}

static void on_block_msg(kula_p2p *p, peer *x, const kula_msg *m)
{
    uint64_t h = m->u.block.height;
    if (p->sync_peer != x->id || h != p->sync_next) {
        kula_net_misbehave(p->net, x->id, KULA_SCORE_UNSOLICITED, "a block not asked for");
        return;
    }
    p->sync_next++;
    p->sync_deadline = uv_now(p->loop) + KULA_SYNC_TIMEOUT_MS;
    if (h <= kula_chain_height(p->env.chain)) {
        /* committed meanwhile by consensus */
    } else if (h != kula_chain_height(p->env.chain) + 1) {
        p->sync_peer = 0; /* a gap: start again from the tip */
        sync_request(p);
        return;
    } else {
        if (p->hooks.before_apply != NULL)
            p->hooks.before_apply(p->hooks.ctx);
        kula_block_error e;
        kula_pubkey *keys;
        const kula_pubkey **verified;
        uint32_t nv;
        int rc = verify_block(p, m->u.block.block, m->u.block.block_len, &keys, &verified, &nv);
        kula_block_keys bk = { .verified = verified, .n = nv };
        if (rc == 0)
            rc = kula_chain_apply_block_keys(p->env.chain, m->u.block.block,
                                             m->u.block.block_len, m->u.block.commit,
                                             m->u.block.commit_len, 0, &bk, &e);
        else
            snprintf(e.what, sizeof(e.what), "%s", kula_strerror(rc));
        free(keys);
        free(verified);
        if (rc != 0) {
            char why[220];
            snprintf(why, sizeof(why), "block %llu is invalid: %s", (unsigned long long)h,
                     e.what);
            p->sync_peer = 0;
            kula_net_misbehave(p->net, x->id, KULA_SCORE_BAD_BLOCK, why);
            sync_request(p);
            return;
        }
        kula_mempool_remove_block(p->env.mempool, m->u.block.block, m->u.block.block_len);
        if (p->hooks.on_block != NULL)
            p->hooks.on_block(p->hooks.ctx, h, m->u.block.block, m->u.block.block_len);
        recheck_sessions(p); /* at this very block; x itself may be gone */
        uint64_t target = 0;
        for (peer *y = p->peers; y != NULL; y = y->next)
            if (y->revoked_at == 0 && y->height > target)
                target = y->height;
        /* Following block by block is quiet; catching up says how far. */
        if (target > h) {
            if (!p->catching_up || h % 1000 == 0)
                kula_info("sync: at block %llu of %llu", (unsigned long long)h,
                          (unsigned long long)target);
            p->catching_up = true;
        } else {
            if (p->catching_up)
                kula_info("sync: caught up at block %llu", (unsigned long long)h);
            else
                kula_debug("sync: block %llu", (unsigned long long)h);
            p->catching_up = false;
        }
    }
    if (p->sync_next > p->sync_end) {
        kula_p2p_tip_changed(p);
        sync_done(p);
    }
}

/* The commit this node holds for block h: the next block's last_commit, or
 * the tip's own. */
static int commit_for(kula_p2p *p, uint64_t h, kula_buf *out)
{
    if (h == kula_chain_height(p->env.chain))
        return kula_chain_tip_commit(p->env.chain, out);
    kula_buf next;
    kula_buf_init(&next);
    int rc = kula_store_block(p->env.store, h + 1, &next);
    kula_block b;
    if (rc == 0 && (rc = kula_block_decode(&b, next.data, next.len)) == 0) {
        rc = b.has_last_commit ? kula_commit_encode(out, b.last_commit) : KULA_ECOMMIT;
        kula_block_free(&b);
    }
    kula_buf_free(&next);
    return rc;
}

/* Sends the blocks x asked for while its queue has room. */
static void serve(kula_p2p *p, peer *x)
{
    kula_buf block, commit;
    kula_buf_init(&block);
    kula_buf_init(&commit);
    uint64_t tip = kula_chain_height(p->env.chain);
    while (x->serve_end != 0 && x->serve_next <= x->serve_end && x->serve_next <= tip &&
           kula_net_queued(p->net, x->id) < SERVE_HIGH_WATER) {
        uint64_t h = x->serve_next++;
        kula_buf_reset(&block);
        kula_buf_reset(&commit);
        if (kula_store_block(p->env.store, h, &block) != 0 || commit_for(p, h, &commit) != 0) {
            kula_error("cannot read block %llu to serve it", (unsigned long long)h);
            break;
        }
        kula_msg m = { .type = KULA_MSG_BLOCK };
        m.u.block.height = h;
        m.u.block.block = block.data;
        m.u.block.block_len = block.len;
        m.u.block.commit = commit.data;
        m.u.block.commit_len = commit.len;
        if (encode(p, &m) != 0 || kula_net_send(p->net, x->id, p->out.data, p->out.len) != 0)
            break;
    }
    if (x->serve_next > x->serve_end || x->serve_next > tip)
        x->serve_end = 0;
    kula_buf_free(&block);
    kula_buf_free(&commit);
}

/* ---- transactions ---- */

static void relay_tx(kula_p2p *p, const uint8_t *tx, size_t len, uint32_t except)
{
    kula_msg m = { .type = KULA_MSG_TX };
    m.u.tx.tx = tx;
    m.u.tx.len = len;
    if (encode(p, &m) == 0)
        kula_p2p_gossip(p, p->out.data, p->out.len, except);
}

/* The transactions waiting in the mempool, offered to a peer that has just
 * connected: it missed their gossip (it restarted, was cut off or is new),
 * and the proposer among it may be the only node that can commit them.
 * Paced by the peer's send queue like blocks served; on_drain resumes. */
typedef struct offer_walk {
    kula_p2p *p;
    peer *x;
    bool paused;
} offer_walk;

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
    if (encode(o->p, &m) == 0) {
        kula_hash h;
        msg_hash(&h, o->p->out.data, o->p->out.len);
        if (!kula_seen_has(o->x->known, &h))
            send_to(o->p, o->x, o->p->out.data, o->p->out.len);
    }
    return true;
}

static void offer_mempool(kula_p2p *p, peer *x)
{
    if (!x->offering || p->env.mempool == NULL)
        return;
    offer_walk o = { p, x, false };
    kula_mempool_walk(p->env.mempool, &x->offer_next, offer_one, &o);
    x->offering = o.paused; /* what arrives later is gossiped */
}

/* Admits the gathered transactions as one batch, then relays each. */
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
            txs[i] = p->batch[i].bytes;
            lens[i] = p->batch[i].len;
        }
        kula_mempool_add_batch(p->env.mempool, kula_chain_ledger(p->env.chain),
                               p->env.verifier, txs, lens, n, results, NULL);
        for (size_t i = 0; i < n; i++) {
            pending_tx *t = &p->batch[i];
            int r = results[i];
            /* Only what is the sender's fault counts against it: a refusal
             * by this node's state (an unknown member, a signer set, a
             * nonce) may only mean the sender's state is ahead. */
            if (r == 0)
                relay_tx(p, t->bytes, t->len, t->from);
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
        free(p->batch[i].bytes);
    p->nbatch = 0;
}

static void on_check(uv_check_t *h)
{
    kula_p2p *p = h->data;
    flush_batch(p);
    uv_check_stop(&p->check);
    p->check_active = false;
}

static void on_tx_msg(kula_p2p *p, peer *x, const kula_msg *m)
{
    if (p->nbatch == p->capbatch) {
        size_t cap = p->capbatch ? p->capbatch * 2 : 256;
        pending_tx *nb = realloc(p->batch, cap * sizeof(*nb));
        if (nb == NULL)
            return;
        p->batch = nb;
        p->capbatch = cap;
    }
    pending_tx *t = &p->batch[p->nbatch];
    t->bytes = malloc(m->u.tx.len);
    if (t->bytes == NULL)
        return;
    memcpy(t->bytes, m->u.tx.tx, m->u.tx.len);
    t->len = m->u.tx.len;
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

/* ---- messages ---- */

static void on_message(void *ctx, uint32_t id, const uint8_t *msg, size_t len)
{
    kula_p2p *p = ctx;
    peer *x = find_peer(p, id);
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
        on_revoked_msg(p, x, &m);
        return;
    }
    /* Gossiped messages: once per node, and the sender has it. */
    bool gossip = m.type == KULA_MSG_TX || m.type == KULA_MSG_VOTE ||
                  m.type == KULA_MSG_PROPOSAL || m.type == KULA_MSG_EVIDENCE;
    if (gossip) {
        kula_hash h;
        msg_hash(&h, msg, len);
        kula_seen_add(x->known, &h);
        if (!kula_seen_add(p->seen, &h))
            return;
    }
    switch ((enum kula_msg_type)m.type) {
    case KULA_MSG_STATUS:
        x->height = m.u.status.height;
        kula_net_set_status(p->net, id, m.u.status.height, m.u.status.listen_port);
        sync_request(p);
        break;
    case KULA_MSG_TX:
        on_tx_msg(p, x, &m);
        break;
    case KULA_MSG_PROPOSAL:
        if (p->hooks.on_proposal != NULL)
            p->hooks.on_proposal(p->hooks.ctx, id, msg, len, m.u.proposal.proposal,
                                 m.u.proposal.proposal_len, m.u.proposal.block,
                                 m.u.proposal.block_len);
        break;
    case KULA_MSG_VOTE:
        if (p->hooks.on_vote != NULL)
            p->hooks.on_vote(p->hooks.ctx, id, msg, len, m.u.vote.vote, m.u.vote.len);
        break;
    case KULA_MSG_EVIDENCE:
        if (p->hooks.on_evidence != NULL)
            p->hooks.on_evidence(p->hooks.ctx, id, msg, len, m.u.evidence.a,
                                 m.u.evidence.a_len, m.u.evidence.b, m.u.evidence.b_len);
        break;
    case KULA_MSG_GET_BLOCKS:
        x->serve_next = m.u.get_blocks.from;
        x->serve_end = m.u.get_blocks.from + m.u.get_blocks.count - 1;
        serve(p, x);
        break;
    case KULA_MSG_BLOCK:
        on_block_msg(p, x, &m);
        break;
    case KULA_MSG_GET_PEERS: {
        kula_msg r = { .type = KULA_MSG_PEERS };
        r.u.peers.n = (uint32_t)kula_net_listen_addrs(p->net, r.u.peers.addrs,
                                                      KULA_MAX_PEER_ADDRS);
        if (encode(p, &r) == 0)
            kula_net_send(p->net, id, p->out.data, p->out.len);
        break;
    }
    case KULA_MSG_PEERS:
        if (!x->asked_peers || x->got_peers) {
            kula_net_misbehave(p->net, id, KULA_SCORE_UNSOLICITED, "peers not asked for");
            break;
        }
        x->got_peers = true;
        for (uint32_t i = 0; i < m.u.peers.n; i++)
            kula_net_add_addr(p->net, &m.u.peers.addrs[i]);
        break;
    }
}

static bool admit(void *ctx, const kula_pubkey *key)
{
    kula_standing st;
    kula_member m;
    return admitted(ctx, key, &st, &m);
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
    send_status(p, x);
    kula_msg m = { .type = KULA_MSG_GET_PEERS };
    if (encode(p, &m) == 0 && kula_net_send(p->net, id, p->out.data, p->out.len) == 0)
        x->asked_peers = true;
    x->offering = true;
    offer_mempool(p, x);
}

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
    if (p->sync_peer == id)
        sync_done(p);
}

static void on_drain(void *ctx, uint32_t id)
{
    kula_p2p *p = ctx;
    peer *x = find_peer(p, id);
    if (x != NULL && x->serve_end != 0)
        serve(p, x);
    if (x != NULL)
        offer_mempool(p, x);
}

static void on_tick(uv_timer_t *t)
{
    kula_p2p *p = t->data;
    /* Sessions whose key lost its membership end by their deadline; not
     * while walking the list, which on_disconnect edits. */
    uint32_t gone[MAX_PEERS];
    size_t ngone = 0;
    for (peer *x = p->peers; x != NULL && ngone < MAX_PEERS; x = x->next)
        if (x->revoked_at != 0 && uv_now(p->loop) >= x->revoke_deadline)
            gone[ngone++] = x->id;
    for (size_t i = 0; i < ngone; i++) {
        peer *x = find_peer(p, gone[i]);
        if (x != NULL)
            kula_net_disconnect(p->net, x->id, x->why);
    }
    if (p->sync_peer != 0 && uv_now(p->loop) > p->sync_deadline) {
        kula_net_misbehave(p->net, p->sync_peer, KULA_SCORE_SLOW_SYNC,
                           "did not deliver the blocks asked for");
        sync_done(p);
    }
    sync_request(p);
    for (peer *x = p->peers; x != NULL; x = x->next)
        if (x->serve_end != 0)
            serve(p, x);
}

/* ---- the API ---- */

static void on_closed(uv_handle_t *h)
{
    kula_p2p *p = h->data;
    if (--p->handles == 0)
        free(p);
}

int kula_p2p_start(kula_p2p **out, uv_loop_t *loop, const kula_net_config *cfg,
                   const kula_seckey *identity, const kula_p2p_env *env,
                   const kula_p2p_hooks *hooks, char *err, size_t errlen)
{
    kula_p2p *p = calloc(1, sizeof(*p));
    if (p == NULL || kula_seen_new(&p->seen, SEEN_NODE) != 0) {
        free(p);
        snprintf(err, errlen, "out of memory");
        return KULA_ENOMEM;
    }
    p->loop = loop;
    p->env = *env;
    p->hooks = *hooks;
    kula_buf_init(&p->out);
    kula_net_callbacks cb = { .ctx = p, .admit = admit, .on_connect = on_connect,
                              .on_message = on_message, .on_disconnect = on_disconnect,
                              .on_drain = on_drain };
    int rc = kula_net_start(&p->net, loop, cfg, &env->chain_id, identity, &cb, err, errlen);
    if (rc != 0) {
        kula_seen_free(p->seen);
        free(p);
        return rc;
    }
    p->listen_port = kula_net_listen_port(p->net);
    uv_timer_init(loop, &p->timer);
    uv_check_init(loop, &p->check);
    p->timer.data = p->check.data = p;
    p->handles = 2;
    uv_timer_start(&p->timer, on_tick, TICK_MS, TICK_MS);
    *out = p;
    return KULA_OK;
}

void kula_p2p_stop(kula_p2p *p)
{
    if (p == NULL)
        return;
    p->stopping = true;
    kula_net_stop(p->net);
    p->net = NULL;
    while (p->peers != NULL) {
        peer *x = p->peers;
        p->peers = x->next;
        kula_seen_free(x->known);
        free(x);
    }
    for (size_t i = 0; i < p->nbatch; i++)
        free(p->batch[i].bytes);
    free(p->batch);
    kula_seen_free(p->seen);
    kula_buf_free(&p->out);
    uv_close((uv_handle_t *)&p->timer, on_closed);
    uv_close((uv_handle_t *)&p->check, on_closed);
}

void kula_p2p_tip_changed(kula_p2p *p)
{
    if (p == NULL)
        return;
    recheck_sessions(p);
    for (peer *x = p->peers; x != NULL; x = x->next) {
        if (x->revoked_at == 0)
            send_status(p, x);
        if (x->serve_end != 0)
            serve(p, x);
    }
}

void kula_p2p_relay_tx(kula_p2p *p, const uint8_t *tx, size_t len)
{
    if (p != NULL)
        relay_tx(p, tx, len, 0);
}

void kula_p2p_gossip(kula_p2p *p, const uint8_t *msg, size_t len, uint32_t except)
{
    if (p == NULL)
        return;
    kula_hash h;
    msg_hash(&h, msg, len);
    kula_seen_add(p->seen, &h);
    for (peer *x = p->peers; x != NULL; x = x->next)
        if (x->id != except && x->revoked_at == 0 && !kula_seen_has(x->known, &h)) {
            kula_seen_add(x->known, &h);
            kula_net_send(p->net, x->id, msg, len);
        }
}

void kula_p2p_send(kula_p2p *p, uint32_t id, const uint8_t *msg, size_t len)
{
    peer *x = p != NULL ? find_peer(p, id) : NULL;
    if (x != NULL && x->revoked_at == 0)
        send_to(p, x, msg, len);
}

void kula_p2p_punish(kula_p2p *p, uint32_t peer_id, int points, const char *why)
{
    if (p != NULL)
        kula_net_misbehave(p->net, peer_id, points, why);
}

void kula_p2p_sync_status(kula_p2p *p, kula_sync_status *st)
{
    memset(st, 0, sizeof(*st));
    st->height = kula_chain_height(p->env.chain);
    st->target = st->height;
    for (peer *x = p->peers; x != NULL; x = x->next) {
        if (x->revoked_at != 0)
            continue;
        st->peers++;
        if (x->height > st->target)
            st->target = x->height;
    }
    st->syncing = st->target > st->height;
}

kula_net *kula_p2p_net(kula_p2p *p) { return p->net; }
