/* p2p_sync.c -- catch-up sync (proto/SPEC.md §12.2): the node asks one peer
 * at a time for the blocks it lacks and applies each with its commit; it
 * serves the blocks its peers ask for, paced by their send queues.  What it
 * asked of each peer is remembered a while (kula/net/asked.h), so that an
 * answer that comes after its request was given up is dropped, not held
 * against the peer (SPEC §12.3). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kula/base/error.h"
#include "kula/base/log.h"

#include "p2p_internal.h"

/* kula/net/asked.h: late answers count for twice the time to answer */
_Static_assert(KULA_SYNC_LATE_MS == 2 * KULA_SYNC_TIMEOUT_MS, "KULA_SYNC_LATE_MS");

/* The highest peer is asked (ties: the lowest id, so that a test sees one
 * order); one request at a time, so that blocks arrive in order from one
 * source and a peer that stalls costs one timeout.  Not while stopping: the
 * transport is gone. */
void p2p_sync_request(kula_p2p *p)
{
    /* state sync holds the slot while it runs (p2p_snap.c) */
    if (p->sync_peer != 0 || p->stopping || p2p_snap_active(p))
        return;
    uint64_t mine = kula_chain_height(p->env.chain);
    peer *best = NULL;
    for (peer *x = p->peers; x != NULL; x = x->next)
        if (x->revoked_at == 0 && x->height > mine &&
            (best == NULL || x->height > best->height ||
             (x->height == best->height && x->id < best->id)))
            best = x;
    if (best == NULL) {
        p2p_backfill_request(p); /* caught up: the blocks below a snapshot, if any */
        return;
    }
    uint64_t count = best->height - mine;
    if (count > KULA_MAX_GET_BLOCKS)
        count = KULA_MAX_GET_BLOCKS;
    kula_msg m = { .type = KULA_MSG_GET_BLOCKS };
    m.u.get_blocks.from = mine + 1;
    m.u.get_blocks.count = (uint32_t)count;
    /* on a failed send best may be gone (p2p_internal.h): not touched */
    if (p2p_encode(p, &m) != 0 || kula_net_send(p->net, best->id, p->out.data, p->out.len) != 0)
        return;
    kula_asked_request(&best->asked, mine + 1, (uint32_t)count, uv_now(p->loop));
    p->sync_peer = best->id;
    p->sync_next = mine + 1;
    p->sync_end = mine + count;
    p->sync_deadline = uv_now(p->loop) + KULA_SYNC_TIMEOUT_MS;
    kula_debug("sync: asked peer %u for blocks %llu..%llu (it has %llu)", best->id,
               (unsigned long long)p->sync_next, (unsigned long long)p->sync_end,
               (unsigned long long)best->height);
}

/* The request in flight is over; its peer may be gone already. */
static void sync_end(kula_p2p *p)
{
    if (p->bf.active)
        p2p_backfill_abort(p);
    peer *x = p2p_find_peer(p, p->sync_peer);
    if (x != NULL)
        kula_asked_end(&x->asked, uv_now(p->loop));
    p->sync_peer = 0;
}

void p2p_sync_done(kula_p2p *p)
{
    sync_end(p);
    p2p_sync_request(p);
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

/* Verifies a block's signatures on the verifier's threads, then applies it
 * with its commit.  Out: *e when it fails.  Returns: 0 or an error. */
static int apply_block(kula_p2p *p, const kula_msg *m, kula_error *e)
{
    kula_pubkey *keys;
    const kula_pubkey **verified;
    uint32_t nv;
    int rc = verify_block(p, m->u.block.block, m->u.block.block_len, &keys, &verified, &nv);
    kula_block_keys bk = { .verified = verified, .n = nv };
    if (rc == 0)
        rc = kula_chain_apply_block_keys(p->env.chain, m->u.block.block, m->u.block.block_len,
                                         m->u.block.commit, m->u.block.commit_len, 0, &bk, e);
    else
        snprintf(e->what, sizeof(e->what), "%s", kula_strerror(rc));
    free(keys);
    free(verified);
    return rc;
}

/* Following block by block is quiet; catching up says how far. */
static void log_progress(kula_p2p *p, uint64_t h)
{
    uint64_t target = 0;
    for (peer *y = p->peers; y != NULL; y = y->next)
        if (y->revoked_at == 0 && y->height > target)
            target = y->height;
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

/* A block of the request in flight, or a late one of a request given up
 * (dropped), or one not asked for.  x may be gone after the penalty and
 * after the sessions are checked: only its id is used, and before. */
void p2p_on_block_msg(kula_p2p *p, peer *x, const kula_msg *m)
{
    uint64_t h = m->u.block.height;
    if (!kula_asked_block(&x->asked, h, uv_now(p->loop))) {
        char why[96];
        snprintf(why, sizeof(why), "block %llu, not asked of it in the last %u s or sent twice",
                 (unsigned long long)h, KULA_SYNC_LATE_MS / 1000);
        kula_net_misbehave(p->net, x->id, KULA_SCORE_UNSOLICITED, why);
        return;
    }
    if (p->bf.active) {
        p2p_backfill_on_block(p, x, m);
        return;
    }
    if (p->sync_peer != x->id || h != p->sync_next) {
        kula_debug("sync: block %llu from peer %u answers a request given up or came twice: "
                   "dropped", (unsigned long long)h, x->id);
        return;
    }
    p->sync_next++;
    p->sync_deadline = uv_now(p->loop) + KULA_SYNC_TIMEOUT_MS;
    /* h <= the tip: committed meanwhile by consensus */
    if (h > kula_chain_height(p->env.chain)) {
        if (h != kula_chain_height(p->env.chain) + 1) {
            p2p_sync_done(p); /* a gap: start again from the tip */
            return;
        }
        if (p->hooks.before_apply != NULL)
            p->hooks.before_apply(p->hooks.ctx);
        kula_error e;
        if (apply_block(p, m, &e) != 0) {
            char why[sizeof e.what + 40];
            snprintf(why, sizeof(why), "block %llu is invalid: %s", (unsigned long long)h,
                     e.what);
            sync_end(p);
            kula_net_misbehave(p->net, x->id, KULA_SCORE_BAD_BLOCK, why);
            p2p_sync_request(p);
            return;
        }
        /* The order matters: the mempool drops what the block committed
         * before the node hears of the block, and the sessions are checked
         * at this very block before anything more is sent to anyone. */
        kula_mempool_remove_block(p->env.mempool, m->u.block.block, m->u.block.block_len);
        if (p->hooks.on_block != NULL)
            p->hooks.on_block(p->hooks.ctx, h, m->u.block.block, m->u.block.block_len);
        p2p_recheck_sessions(p);
        log_progress(p, h);
    }
    if (p->sync_next > p->sync_end) {
        kula_p2p_tip_changed(p);
        p2p_sync_done(p);
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

/* Sends the blocks x asked for while its queue has room; on_drain and the
 * tick resume.  The store copies each block out of LMDB, so nothing sent
 * borrows from a read transaction. */
void p2p_serve(kula_p2p *p, peer *x)
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
        int rc = kula_store_block(p->env.store, h, &block);
        if (rc == 0)
            rc = commit_for(p, h, &commit);
        if (rc == KULA_ENOTFOUND) {
            /* started from a snapshot: the blocks below it are not here (yet) */
            kula_debug("cannot serve block %llu: not stored (this node started from a "
                       "snapshot)",
                       (unsigned long long)h);
            x->serve_end = 0;
            break;
        }
        if (rc != 0) {
            kula_error("cannot read block %llu to serve it", (unsigned long long)h);
            break;
        }
        kula_msg m = { .type = KULA_MSG_BLOCK };
        m.u.block.height = h;
        m.u.block.block = block.data;
        m.u.block.block_len = block.len;
        m.u.block.commit = commit.data;
        m.u.block.commit_len = commit.len;
        if (p2p_encode(p, &m) != 0 || kula_net_send(p->net, x->id, p->out.data, p->out.len) != 0)
            break;
    }
    if (x->serve_next > x->serve_end || x->serve_next > tip)
        x->serve_end = 0;
    kula_buf_free(&block);
    kula_buf_free(&commit);
}

void p2p_on_get_blocks(kula_p2p *p, peer *x, const kula_msg *m)
{
    x->serve_next = m->u.get_blocks.from;
    x->serve_end = m->u.get_blocks.from + m->u.get_blocks.count - 1;
    p2p_serve(p, x);
}

void p2p_sync_check_deadline(kula_p2p *p)
{
    /* Time this node did not run (stopped, swapped out, starved of CPU) is
     * not the peer's: a tick that comes more than a period late moves the
     * deadline by its delay. */
    uint64_t now = uv_now(p->loop);
    if (p->tick_ms != 0 && now - p->tick_ms > 2 * TICK_MS)
        p->sync_deadline += now - p->tick_ms - TICK_MS;
    p->tick_ms = now;
    if (p->sync_peer != 0 && now > p->sync_deadline) {
        kula_net_misbehave(p->net, p->sync_peer, KULA_SCORE_SLOW_SYNC,
                           "did not deliver the blocks asked for");
        p2p_sync_done(p);
    }
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
