/* p2p_snap.c -- state sync and backfill (proto/SPEC.md §10.3, §12.2).
 *
 * Serving: GET_SNAPSHOTS is answered with the snapshot heights this node
 * can prove (their header, commit and root's parts, and the size of the
 * copy of the state it keeps, 0 for none), GET_CHUNK with a piece of a
 * copy kept (kula/chain/snapfile.h).
 *
 * Fetching (a node started with state sync on an empty chain): one peer at
 * a time is asked for its snapshot heights from the genesis on; each is
 * checked as it comes (kula/chain/snapcheck.h), trust moving from the
 * genesis validators to each height's next set.  Once the peer has listed
 * them all, the highest height it keeps a copy of is fetched from it piece
 * by piece into DATADIR/snapshots/incoming.part, checked against the state
 * hash its root commits to, and installed (kula_chain_install_snapshot);
 * block sync then goes on from there.  A peer that offers something that
 * does not check is penalised and another is tried; once every peer ahead
 * of the genesis has been tried, or none has come for STATE_SYNC_WAIT_MS,
 * the node replays the chain from the genesis instead.
 *
 * Backfill: a node started from a snapshot fetches the blocks below it,
 * KULA_MAX_GET_BLOCKS at a time from the top down, when block sync has
 * nothing to ask; each request's blocks are checked from the top, each one
 * hashing to the prev_hash of the block above (the base block to its
 * header's hash), and stored.  Once block 1 is in, kula audit can verify
 * the chain from the genesis. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kula/base/error.h"
#include "kula/base/log.h"
#include "kula/chain/snapcheck.h"
#include "kula/chain/snapfile.h"

#include "p2p_internal.h"

/* How long a node that asked for state sync waits for a peer that can
 * serve it before it replays the chain from the genesis instead. */
#define STATE_SYNC_WAIT_MS 30000u
/* The largest copy of the state fetched: a peer cannot make this node
 * fill its disk with a copy it claims to be larger (the copy is checked
 * only once whole).  64 GiB is about a hundred times the state of a
 * network of 100,000 members with a year of invoices. */
#define STATE_SYNC_MAX_BYTES (UINT64_C(64) << 30)
/* What one backfill request may hold before its blocks are checked (they
 * are checked from the top, so they wait for the whole request): past it,
 * the request is dropped and the next ones ask for fewer blocks. */
#define BACKFILL_MAX_BYTES (64u << 20)

/* ---- serving ---- */

/* The item for snapshot height h from what the store keeps. */
static int item_for(kula_p2p *p, uint64_t h, const kula_buf *parts, kula_buf *block,
                    kula_buf *commit, kula_buf *out)
{
    kula_snap_item it;
    int rc = kula_snap_parts_decode(&it, parts->data, parts->len);
    if (rc != 0)
        return rc;
    kula_block b;
    bool decoded = false;
    if (it.header == NULL) {
        kula_buf_reset(block);
        kula_buf_reset(commit);
        if ((rc = kula_store_block(p->env.store, h, block)) != 0)
            return rc;
        if ((rc = kula_block_decode(&b, block->data, block->len)) != 0)
            return rc;
        decoded = true;
        it.header = b.header_raw;
        it.header_len = b.header_raw_len;
        if (h == kula_chain_height(p->env.chain)) {
            rc = kula_chain_tip_commit(p->env.chain, commit);
        } else {
            kula_buf next;
            kula_buf_init(&next);
            kula_block nb;
            rc = kula_store_block(p->env.store, h + 1, &next);
            if (rc == 0 && (rc = kula_block_decode(&nb, next.data, next.len)) == 0) {
                rc = nb.has_last_commit ? kula_commit_encode(commit, nb.last_commit)
                                        : KULA_ECOMMIT;
                kula_block_free(&nb);
            }
            kula_buf_free(&next);
        }
        it.commit = commit->data;
        it.commit_len = commit->len;
    }
    it.height = h;
    it.size = 0;
    uint64_t size;
    if (p->env.snapshot_dir != NULL && kula_snapfile_size(p->env.snapshot_dir, h, &size) == 0)
        it.size = size;
    if (rc == 0)
        rc = kula_snap_item_encode(out, &it);
    if (decoded)
        kula_block_free(&b);
    return rc;
}

void p2p_on_get_snapshots(kula_p2p *p, peer *x, const kula_msg *m)
{
    kula_buf parts, block, commit, items;
    kula_buf_init(&parts);
    kula_buf_init(&block);
    kula_buf_init(&commit);
    kula_buf_init(&items);
    size_t off[KULA_MAX_SNAPSHOT_ITEMS], len[KULA_MAX_SNAPSHOT_ITEMS];
    uint32_t n = 0;
    uint64_t from = m->u.get_snapshots.from, h;
    while (n < KULA_MAX_SNAPSHOT_ITEMS) {
        kula_buf_reset(&parts);
        if (kula_store_snapshot_next(p->env.store, from, &h, &parts) != 0)
            break;
        size_t at = items.len;
        if (item_for(p, h, &parts, &block, &commit, &items) != 0 ||
            items.len - at > KULA_MAX_SNAPSHOT_ITEM_BYTES) {
            items.len = at; /* one this node cannot prove (yet): the list ends */
            break;
        }
        off[n] = at;
        len[n] = items.len - at;
        n++;
        from = h + 1;
    }
    kula_msg r = { .type = KULA_MSG_SNAPSHOTS };
    r.u.snapshots.n = n;
    for (uint32_t i = 0; i < n; i++) {
        r.u.snapshots.items[i].p = items.data + off[i];
        r.u.snapshots.items[i].len = len[i];
    }
    if (items.err == 0 && p2p_encode(p, &r) == 0)
        p2p_send(p, x->id, p->out.data, p->out.len);
    kula_debug("snapshots: peer %u asked from %llu: %u offered", x->id,
               (unsigned long long)m->u.get_snapshots.from, n);
    kula_buf_free(&parts);
    kula_buf_free(&block);
    kula_buf_free(&commit);
    kula_buf_free(&items);
}

void p2p_on_get_chunk(kula_p2p *p, peer *x, const kula_msg *m)
{
    kula_buf data;
    kula_buf_init(&data);
    uint32_t total = 0;
    kula_msg r = { .type = KULA_MSG_CHUNK };
    r.u.chunk.height = m->u.get_chunk.height;
    r.u.chunk.index = m->u.get_chunk.index;
    if (p->env.snapshot_dir != NULL &&
        kula_snapfile_chunk(p->env.snapshot_dir, m->u.get_chunk.height, m->u.get_chunk.index,
                            &data, &total) == 0) {
        r.u.chunk.total = total;
        r.u.chunk.data = data.data;
        r.u.chunk.len = data.len;
    }
    if (p2p_encode(p, &r) == 0)
        p2p_send(p, x->id, p->out.data, p->out.len);
    kula_buf_free(&data);
}

/* ---- fetching ---- */

bool p2p_snap_active(kula_p2p *p) { return p->ss.phase != SS_OFF; }

static bool tried(const kula_p2p *p, uint32_t id)
{
    for (size_t i = 0; i < p->ss.ntried && i < 16; i++)
        if (p->ss.tried[i] == id)
            return true;
    return false;
}

static void drop_part(kula_p2p *p)
{
    if (p->ss.part != NULL) {
        fclose(p->ss.part);
        p->ss.part = NULL;
    }
    if (p->ss.path[0] != '\0')
        unlink(p->ss.path);
}

/* The peer asked failed this node: another is tried, from the proofs. */
static void give_up_peer(kula_p2p *p, const char *why)
{
    if (p->ss.peer != 0) {
        kula_warn("state sync: peer %u: %s; trying another", p->ss.peer, why);
        p->ss.tried[p->ss.ntried++ % 16] = p->ss.peer;
    }
    drop_part(p);
    p->ss.peer = 0;
    p->ss.phase = SS_PROOFS;
    p->ss.from = 1;
}

/* No snapshot to be had: replay from the genesis. */
static void fall_back(kula_p2p *p, const char *why)
{
    kula_warn("state sync: %s: replaying the chain from the genesis instead", why);
    drop_part(p);
    p->ss.phase = SS_OFF;
    p->ss.peer = 0;
    p2p_sync_request(p);
}

void p2p_snap_start(kula_p2p *p)
{
    if (!p->env.state_sync || p->env.genesis == NULL || p->env.snapshot_dir == NULL ||
        kula_chain_height(p->env.chain) != 0)
        return;
    p->ss.trusted = malloc(sizeof(*p->ss.trusted));
    if (p->ss.trusted == NULL) {
        kula_warn("state sync: out of memory: replaying the chain from the genesis");
        return;
    }
    kula_snap_trust_genesis(p->env.genesis, p->ss.trusted);
    if (snprintf(p->ss.path, sizeof(p->ss.path), "%s/incoming.part", p->env.snapshot_dir) >=
        (int)sizeof(p->ss.path)) {
        p->ss.path[0] = '\0';
        kula_warn("state sync: %s: path too long: replaying the chain from the genesis",
                  p->env.snapshot_dir);
        return;
    }
    p->ss.phase = SS_PROOFS;
    p->ss.from = 1;
    p->ss.started = uv_now(p->loop);
    kula_info("state sync: looking for a peer's snapshot, checked from the %u genesis "
              "validators on",
              p->ss.trusted->n);
}

static void send_get_snapshots(kula_p2p *p, peer *x)
{
    kula_msg m = { .type = KULA_MSG_GET_SNAPSHOTS };
    m.u.get_snapshots.from = p->ss.from;
    if (p2p_encode(p, &m) != 0 || kula_net_send(p->net, x->id, p->out.data, p->out.len) != 0)
        return;
    p->ss.peer = x->id;
    p->ss.deadline = uv_now(p->loop) + KULA_SYNC_TIMEOUT_MS;
}

static void send_get_chunk(kula_p2p *p)
{
    kula_msg m = { .type = KULA_MSG_GET_CHUNK };
    m.u.get_chunk.height = p->ss.items[p->ss.target].height;
    m.u.get_chunk.index = p->ss.next_index;
    if (p2p_encode(p, &m) == 0)
        p2p_send(p, p->ss.peer, p->out.data, p->out.len);
    p->ss.deadline = uv_now(p->loop) + KULA_SYNC_TIMEOUT_MS;
}

void p2p_snap_request(kula_p2p *p)
{
    if (p->ss.phase != SS_PROOFS || p->ss.peer != 0 || p->stopping)
        return;
    peer *best = NULL;
    size_t candidates = 0;
    for (peer *x = p->peers; x != NULL; x = x->next) {
        if (x->revoked_at != 0 || x->height == 0)
            continue;
        candidates++;
        if (!tried(p, x->id) && (best == NULL || x->height > best->height ||
                                 (x->height == best->height && x->id < best->id)))
            best = x;
    }
    if (best != NULL) {
        send_get_snapshots(p, best);
        return;
    }
    if (candidates > 0)
        fall_back(p, "no peer offered a snapshot this node could check and fetch");
    else if (uv_now(p->loop) - p->ss.started > STATE_SYNC_WAIT_MS)
        fall_back(p, "no peer ahead of the genesis answered in time");
}

/* Checks one offered item and adds it (or, for a height checked before,
 * notes the peer's copy).  Returns: 0, or why the peer is not believed. */
static int take_item(kula_p2p *p, peer *x, const uint8_t *bytes, size_t len, char *why,
                     size_t cap)
{
    kula_snap_item it;
    int rc = kula_snap_item_decode(&it, bytes, len);
    if (rc != 0) {
        snprintf(why, cap, "an offered snapshot height does not decode (%s)",
                 kula_strerror(rc));
        return rc;
    }
    kula_header h;
    if (it.height < p->ss.from || kula_header_decode(&h, it.header, it.header_len) != 0) {
        snprintf(why, cap, "snapshot height %" PRIu64 " out of order or its header is bad",
                 it.height);
        return KULA_EORDER;
    }
    kula_hash hash;
    kula_header_hash(&hash, &h);
    /* a height checked already (from another peer): the same block only */
    for (size_t i = 0; i < p->ss.n; i++) {
        if (p->ss.items[i].height != it.height)
            continue;
        if (memcmp(p->ss.items[i].block_hash.b, hash.b, KULA_HASH_LEN) != 0) {
            snprintf(why, cap, "another block at snapshot height %" PRIu64, it.height);
            return KULA_ECOMMIT;
        }
        p->ss.items[i].from = x->id;
        p->ss.items[i].size = it.size;
        p->ss.from = it.height + 1;
        return 0;
    }
    if (p->ss.n > 0 && it.height <= p->ss.items[p->ss.n - 1].height) {
        snprintf(why, cap, "snapshot height %" PRIu64 " is below one checked already",
                 it.height);
        return KULA_EORDER;
    }
    kula_keyed_valset *next = malloc(sizeof(*next));
    kula_error e;
    uint64_t got;
    rc = next == NULL ? kula_error_set(&e, KULA_ENOMEM, "out of memory")
                      : kula_snap_check_header(&p->env.genesis->chain_id, p->ss.trusted,
                                               it.header, it.header_len, it.commit,
                                               it.commit_len, &it.diff_root, it.vals,
                                               it.vals_len, &it.state_hash, &got, next, &e);
    if (rc != 0) {
        snprintf(why, cap, "%s", e.what);
        free(next);
        return rc;
    }
    if (p->ss.n == p->ss.cap) {
        size_t nc = p->ss.cap ? p->ss.cap * 2 : 16;
        ss_item *ni = realloc(p->ss.items, nc * sizeof(*ni));
        if (ni == NULL) {
            free(next);
            snprintf(why, cap, "out of memory");
            return KULA_ENOMEM;
        }
        p->ss.items = ni;
        p->ss.cap = nc;
    }
    uint8_t *copy = malloc(len);
    if (copy == NULL) {
        free(next);
        snprintf(why, cap, "out of memory");
        return KULA_ENOMEM;
    }
    memcpy(copy, bytes, len);
    p->ss.items[p->ss.n++] = (ss_item){ it.height, hash, copy, len, x->id, it.size };
    *p->ss.trusted = *next;
    free(next);
    p->ss.from = it.height + 1;
    return 0;
}

/* The peer has listed its heights: fetch the highest it keeps a copy of. */
static void choose_target(kula_p2p *p)
{
    for (size_t i = p->ss.n; i-- > 0;) {
        const ss_item *it = &p->ss.items[i];
        if (it->from != p->ss.peer || it->size == 0 || it->size > STATE_SYNC_MAX_BYTES)
            continue;
        uint64_t total = (it->size + KULA_SNAPFILE_CHUNK - 1) / KULA_SNAPFILE_CHUNK;
        if (total > UINT32_MAX)
            break;
        if (mkdir(p->env.snapshot_dir, 0700) != 0 && errno != EEXIST) {
            fall_back(p, "cannot create the snapshots folder");
            return;
        }
        if ((p->ss.part = fopen(p->ss.path, "wb")) == NULL) {
            kula_warn("state sync: cannot write %s: %s", p->ss.path, strerror(errno));
            fall_back(p, "cannot keep the copy fetched");
            return;
        }
        p->ss.phase = SS_CHUNKS;
        p->ss.target = i;
        p->ss.next_index = 0;
        p->ss.total = (uint32_t)total;
        kula_info("state sync: fetching the state at height %" PRIu64 " from peer %u (%" PRIu64
                  " bytes, %u pieces)",
                  it->height, p->ss.peer, it->size, p->ss.total);
        send_get_chunk(p);
        return;
    }
    give_up_peer(p, "it keeps no copy of a snapshot height this node checked");
    p2p_snap_request(p);
}

void p2p_on_snapshots(kula_p2p *p, peer *x, const kula_msg *m)
{
    if (p->ss.phase != SS_PROOFS || p->ss.peer != x->id) {
        kula_debug("state sync: snapshot heights from peer %u not asked for: dropped", x->id);
        return;
    }
    char why[1500];
    for (uint32_t i = 0; i < m->u.snapshots.n; i++) {
        int rc = take_item(p, x, m->u.snapshots.items[i].p, m->u.snapshots.items[i].len, why,
                           sizeof(why));
        if (rc == KULA_ENOMEM) {
            fall_back(p, why);
            return;
        }
        if (rc != 0) {
            uint32_t id = x->id;
            give_up_peer(p, why);
            kula_net_misbehave(p->net, id, KULA_SCORE_BAD_BLOCK, why);
            p2p_snap_request(p);
            return;
        }
    }
    if (m->u.snapshots.n == KULA_MAX_SNAPSHOT_ITEMS) {
        send_get_snapshots(p, x); /* more from ss.from */
        return;
    }
    if (p->ss.n > 0)
        kula_info("state sync: %zu snapshot heights checked from the genesis, the last %" PRIu64,
                  p->ss.n, p->ss.items[p->ss.n - 1].height);
    choose_target(p);
}

/* The whole copy is in: check it, install it, follow the chain from it. */
static void install(kula_p2p *p, peer *x)
{
    const ss_item *target = &p->ss.items[p->ss.target];
    kula_snap_item it;
    kula_error e;
    if (kula_snap_item_decode(&it, target->bytes, target->len) != 0) {
        fall_back(p, "a checked item no longer decodes");
        return;
    }
    /* the heights checked, as the store keeps those a sync brought */
    size_t n = p->ss.target + 1;
    kula_store_snap_proof *proofs = calloc(n, sizeof(*proofs));
    kula_buf *vals = calloc(n, sizeof(*vals));
    int rc = proofs == NULL || vals == NULL ? KULA_ENOMEM : 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        kula_snap_item pi;
        if ((rc = kula_snap_item_decode(&pi, p->ss.items[i].bytes, p->ss.items[i].len)) != 0)
            break;
        kula_buf_init(&vals[i]);
        rc = kula_snap_stored_encode(&vals[i], &pi);
        proofs[i] = (kula_store_snap_proof){ pi.height, vals[i].data, vals[i].len };
    }
    kula_snapfile_src src = { p->ss.path, it.state_hash };
    uint64_t t0 = uv_now(p->loop);
    if (rc == 0)
        rc = kula_chain_install_snapshot(p->env.chain, &it, proofs, n, kula_snapfile_fill, &src,
                                         &e);
    else
        kula_error_set(&e, rc, "out of memory");
    for (size_t i = 0; vals != NULL && i < n; i++)
        kula_buf_free(&vals[i]);
    free(vals);
    free(proofs);
    drop_part(p);
    /* The copy is read once, into the install's write transaction, which
     * every check of kula_snapfile_read aborts: the peer's fault when the
     * bytes are not records or not the state hash, this node's else. */
    if (rc == KULA_ESTATEROOT || (rc <= KULA_ETRUNC && rc >= KULA_EORDER)) {
        uint32_t id = x->id;
        char why[sizeof e.what + 64];
        snprintf(why, sizeof(why), "the copy of the state it sent: %s", e.what);
        give_up_peer(p, why);
        kula_net_misbehave(p->net, id, KULA_SCORE_BAD_BLOCK, why);
        p2p_snap_request(p);
        return;
    }
    if (rc != 0) {
        kula_error("state sync: cannot start from the snapshot at height %" PRIu64 ": %s",
                   it.height, e.what);
        fall_back(p, "the snapshot could not be installed");
        return;
    }
    uv_update_time(p->loop);
    kula_info("state sync: started from the snapshot at height %" PRIu64 " (checked and "
              "installed in %" PRIu64 " ms); the blocks below it are fetched next",
              it.height, uv_now(p->loop) - t0);
    p->bf.none = false; /* there are blocks below it now */
    p->ss.phase = SS_OFF;
    p->ss.peer = 0;
    for (size_t i = 0; i < p->ss.n; i++)
        free(p->ss.items[i].bytes);
    p->ss.n = 0;
    if (p->hooks.on_state_synced != NULL)
        p->hooks.on_state_synced(p->hooks.ctx, it.height);
    kula_p2p_tip_changed(p);
    p2p_sync_request(p);
}

void p2p_on_chunk(kula_p2p *p, peer *x, const kula_msg *m)
{
    if (p->ss.phase != SS_CHUNKS || p->ss.peer != x->id ||
        m->u.chunk.height != p->ss.items[p->ss.target].height ||
        m->u.chunk.index != p->ss.next_index) {
        kula_debug("state sync: a piece from peer %u not asked for: dropped", x->id);
        return;
    }
    const ss_item *it = &p->ss.items[p->ss.target];
    uint64_t off = (uint64_t)p->ss.next_index * KULA_SNAPFILE_CHUNK;
    uint64_t want = it->size - off < KULA_SNAPFILE_CHUNK ? it->size - off : KULA_SNAPFILE_CHUNK;
    if (m->u.chunk.total == 0) {
        give_up_peer(p, "it no longer keeps that copy");
        p2p_snap_request(p);
        return;
    }
    if (m->u.chunk.total != p->ss.total || m->u.chunk.len != want) {
        uint32_t id = x->id;
        give_up_peer(p, "a piece of the copy is not of the size it announced");
        kula_net_misbehave(p->net, id, KULA_SCORE_BAD_BLOCK, "a piece of a copy of the state of "
                                                              "the wrong size");
        p2p_snap_request(p);
        return;
    }
    if (fwrite(m->u.chunk.data, 1, m->u.chunk.len, p->ss.part) != m->u.chunk.len) {
        fall_back(p, "cannot write the copy fetched");
        return;
    }
    p->ss.next_index++;
    if (p->ss.next_index % 64 == 0)
        kula_info("state sync: %u of %u pieces", p->ss.next_index, p->ss.total);
    if (p->ss.next_index < p->ss.total) {
        send_get_chunk(p);
        return;
    }
    if (fflush(p->ss.part) != 0 || fclose(p->ss.part) != 0) {
        p->ss.part = NULL;
        fall_back(p, "cannot write the copy fetched");
        return;
    }
    p->ss.part = NULL;
    install(p, x);
}

/* ---- backfill ---- */

void p2p_backfill_abort(kula_p2p *p)
{
    if (p->bf.blocks != NULL)
        for (uint64_t i = 0; i <= p->bf.top - p->bf.from; i++)
            free(p->bf.blocks[i]);
    free(p->bf.blocks);
    free(p->bf.lens);
    p->bf.blocks = NULL;
    p->bf.lens = NULL;
    p->bf.active = false;
    p->bf.got = 0;
    p->bf.bytes = 0;
}

bool p2p_backfill_request(kula_p2p *p)
{
    if (p->bf.active)
        return true;
    uint64_t base, below;
    if (p->bf.none || p->ss.phase != SS_OFF || p->stopping ||
        kula_store_base(p->env.store, &base, &below, NULL) != 0)
        return false;
    if (below < 2) {
        p->bf.none = true; /* nothing missing: not asked of the store again */
        return false;
    }
    uint64_t top = below - 1;
    peer *best = NULL;
    for (peer *x = p->peers; x != NULL; x = x->next)
        if (x->revoked_at == 0 && x->height >= top &&
            (best == NULL || x->height > best->height ||
             (x->height == best->height && x->id < best->id)))
            best = x;
    if (best == NULL)
        return false;
    uint64_t most = p->bf.count_limit > 0 ? p->bf.count_limit : KULA_MAX_GET_BLOCKS;
    uint64_t from = top > most ? top - most + 1 : 1;
    uint64_t n = top - from + 1;
    p->bf.blocks = calloc(n, sizeof(*p->bf.blocks));
    p->bf.lens = calloc(n, sizeof(*p->bf.lens));
    if (p->bf.blocks == NULL || p->bf.lens == NULL) {
        p2p_backfill_abort(p);
        return false;
    }
    kula_msg m = { .type = KULA_MSG_GET_BLOCKS };
    m.u.get_blocks.from = from;
    m.u.get_blocks.count = (uint32_t)n;
    if (p2p_encode(p, &m) != 0 || kula_net_send(p->net, best->id, p->out.data, p->out.len) != 0) {
        p2p_backfill_abort(p);
        return false;
    }
    kula_asked_request(&best->asked, from, (uint32_t)n, uv_now(p->loop));
    p->bf.active = true;
    p->bf.from = from;
    p->bf.top = top;
    p->sync_peer = best->id;
    p->sync_next = from;
    p->sync_end = top;
    p->sync_deadline = uv_now(p->loop) + KULA_SYNC_TIMEOUT_MS;
    kula_debug("backfill: asked peer %u for blocks %llu..%llu", best->id,
               (unsigned long long)from, (unsigned long long)top);
    return true;
}

/* The request's blocks are all in: check them from the top, store them. */
static int bf_store(kula_p2p *p, char *why, size_t cap)
{
    uint64_t base, below;
    kula_buf above;
    kula_buf_init(&above);
    int rc = kula_store_base(p->env.store, &base, &below, &above);
    kula_hash expect;
    if (rc == 0 && below == base + 1) {
        kula_header h;
        if ((rc = kula_header_decode(&h, above.data, above.len)) == 0)
            kula_header_hash(&expect, &h);
    } else if (rc == 0) {
        kula_buf_reset(&above);
        kula_block b;
        if ((rc = kula_store_block(p->env.store, below, &above)) == 0 &&
            (rc = kula_block_decode(&b, above.data, above.len)) == 0) {
            expect = b.header.prev_hash;
            kula_block_free(&b);
        }
    }
    kula_buf_free(&above);
    if (rc != 0) {
        snprintf(why, cap, "-");
        return rc;
    }
    for (uint64_t h = p->bf.top; rc == 0 && h >= p->bf.from; h--) {
        uint64_t i = h - p->bf.from;
        kula_block b;
        if (kula_block_decode(&b, p->bf.blocks[i], p->bf.lens[i]) != 0) {
            snprintf(why, cap, "block %" PRIu64 " does not decode", h);
            return KULA_EBLOCK;
        }
        if (b.header.height != h || memcmp(b.hash.b, expect.b, KULA_HASH_LEN) != 0) {
            kula_block_free(&b);
            snprintf(why, cap, "block %" PRIu64 " is not the one the chain above it names", h);
            return KULA_EPREVHASH;
        }
        kula_error e;
        rc = kula_store_put_old_block(p->env.store, h, &b.hash, p->bf.blocks[i], p->bf.lens[i],
                                      &e);
        expect = b.header.prev_hash;
        kula_block_free(&b);
        if (rc != 0) {
            kula_error("backfill: cannot store block %" PRIu64 ": %s", h, e.what);
            snprintf(why, cap, "-");
            return rc;
        }
        if (h == 1)
            break;
    }
    return KULA_OK;
}

void p2p_backfill_on_block(kula_p2p *p, peer *x, const kula_msg *m)
{
    uint64_t h = m->u.block.height;
    if (p->sync_peer != x->id || h < p->bf.from || h > p->bf.top ||
        p->bf.blocks[h - p->bf.from] != NULL) {
        kula_debug("backfill: block %llu from peer %u answers a request given up or came "
                   "twice: dropped",
                   (unsigned long long)h, x->id);
        return;
    }
    uint8_t *copy = malloc(m->u.block.block_len);
    if (copy == NULL) {
        p2p_backfill_abort(p);
        p2p_sync_done(p);
        return;
    }
    memcpy(copy, m->u.block.block, m->u.block.block_len);
    p->bf.blocks[h - p->bf.from] = copy;
    p->bf.lens[h - p->bf.from] = m->u.block.block_len;
    p->bf.got++;
    p->bf.bytes += m->u.block.block_len;
    if (p->bf.bytes > BACKFILL_MAX_BYTES) {
        uint64_t n = p->bf.top - p->bf.from + 1;
        p->bf.count_limit = n / 4 > 0 ? n / 4 : 1;
        kula_info("backfill: blocks %" PRIu64 "..%" PRIu64 " hold more than %u MiB: asking "
                  "for %" PRIu64 " at a time",
                  p->bf.from, p->bf.top, BACKFILL_MAX_BYTES >> 20, p->bf.count_limit);
        p2p_backfill_abort(p);
        p2p_sync_done(p);
        return;
    }
    p->sync_deadline = uv_now(p->loop) + KULA_SYNC_TIMEOUT_MS;
    if (p->bf.got < p->bf.top - p->bf.from + 1)
        return;
    char why[160];
    int rc = bf_store(p, why, sizeof(why));
    uint64_t from = p->bf.from;
    p2p_backfill_abort(p);
    if (rc != 0 && why[0] != '-') {
        uint32_t id = x->id;
        p2p_sync_done(p);
        kula_net_misbehave(p->net, id, KULA_SCORE_BAD_BLOCK, why);
        return;
    }
    if (rc == 0 && from == 1)
        kula_info("backfill: every block from the genesis is stored: kula audit can verify the "
                  "chain from its start");
    else if (rc == 0 && from % 1024 < KULA_MAX_GET_BLOCKS)
        kula_info("backfill: blocks stored down to %" PRIu64, from);
    p2p_sync_done(p);
}

/* ---- deadlines and peers ---- */

void p2p_snap_check_deadline(kula_p2p *p)
{
    if (p->ss.phase == SS_OFF || p->ss.peer == 0)
        return;
    if (uv_now(p->loop) > p->ss.deadline) {
        uint32_t id = p->ss.peer;
        give_up_peer(p, "it did not answer in time");
        kula_net_misbehave(p->net, id, KULA_SCORE_SLOW_SYNC,
                           "did not deliver the snapshot asked for");
    }
    p2p_snap_request(p);
}

void p2p_snap_peer_gone(kula_p2p *p, uint32_t id)
{
    if (p->ss.phase != SS_OFF && p->ss.peer == id) {
        give_up_peer(p, "it left");
        p2p_snap_request(p);
    }
    if (p->bf.active && p->sync_peer == id)
        p2p_backfill_abort(p);
}

void p2p_snap_free(kula_p2p *p)
{
    drop_part(p);
    for (size_t i = 0; i < p->ss.n; i++)
        free(p->ss.items[i].bytes);
    free(p->ss.items);
    free(p->ss.trusted);
    p->ss.items = NULL;
    p->ss.trusted = NULL;
    p->ss.n = p->ss.cap = 0;
    p2p_backfill_abort(p);
}
