/* engine.c -- consensus on the live network: the Tendermint machine
 * driven by the chain, the mempool, the clock, the key and the peers. */
#include "kula/daemon/engine.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kula/consensus/consensus.h"
#include "kula/base/error.h"
#include "kula/types/evidence.h"
#include "kula/base/log.h"
#include "kula/net/wire.h"

#define MAX_CACHE 16u      /* proposed blocks kept, current and next height */
#define MAX_KEPT 8192u     /* consensus messages of the current height */
#define MAX_TIMEOUTS 64u
#define GOSSIP_MS 1000u
#define SAVED_MAGIC "KULACS01"
#define MAX_EVIDENCE 16u   /* offences waiting to be recorded on the chain */
#define EVIDENCE_TRIES 8

typedef struct blob {
    kula_hash hash;
    uint64_t height;
    uint8_t *p;
    size_t n;
} blob;

typedef struct kept_msg {
    uint64_t height;
    uint8_t *p;
    size_t n;
} kept_msg;

typedef struct pending {
    uint64_t due;
    uint8_t step;
    uint64_t height;
    uint32_t round;
} pending;

struct kula_engine {
    kula_engine_env env;
    kula_p2p *p2p;
    kula_cons *cons;
    kula_pubkey pubkey;
    uint32_t my_id;
    bool voting;
    blob cache[MAX_CACHE];
    size_t ncache;
    kept_msg *kept;
    size_t nkept;
    pending timeouts[MAX_TIMEOUTS];
    size_t ntimeouts;
    uv_timer_t cons_timer, start_timer, gossip_timer;
    int handles;
    bool held;              /* the chain holds a checked or built block */
    kula_hash held_hash;
    kula_candidate *cands;
    size_t capcands;
    kula_cons_saved saved;  /* as last written */
    bool has_saved;
    char saved_path[1100];
    double height_started;  /* monotonic seconds */
    uint64_t evidence;
    struct { kula_vote a, b; int tries; } evq[MAX_EVIDENCE];
    size_t nevq;
    uint64_t saves;         /* writes of the saved state, for the log */
    kula_ledger *view;      /* the committed state (see committed_keys) ... */
    uint64_t view_height;   /* ... at this height */
    kula_buf buf;
};

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static double mono_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the saved state: written before any signed message leaves ---- */

static int write_saved(kula_engine *v, const kula_cons_saved *s)
{
    uint8_t rec[8 + sizeof(*s) + KULA_HASH_LEN];
    memcpy(rec, SAVED_MAGIC, 8);
    memcpy(rec + 8, s, sizeof(*s));
    kula_hash sum;
    kula_hash_bytes(&sum, rec, 8 + sizeof(*s));
    memcpy(rec + 8 + sizeof(*s), sum.b, KULA_HASH_LEN);
    char tmp[1200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", v->saved_path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && write(fd, rec, sizeof(rec)) == (ssize_t)sizeof(rec) && fsync(fd) == 0;
    if (fd >= 0)
        close(fd);
    if (!ok || rename(tmp, v->saved_path) != 0) {
        kula_error("cannot write %s: %s", v->saved_path, strerror(errno));
        unlink(tmp);
        return KULA_EIO;
    }
    return KULA_OK;
}

static bool read_saved(kula_engine *v, kula_cons_saved *s)
{
    uint8_t rec[8 + sizeof(*s) + KULA_HASH_LEN + 1];
    FILE *f = fopen(v->saved_path, "rb");
    if (f == NULL)
        return false;
    size_t got = fread(rec, 1, sizeof(rec), f);
    fclose(f);
    kula_hash sum;
    kula_hash_bytes(&sum, rec, 8 + sizeof(*s));
    if (got != sizeof(rec) - 1 || memcmp(rec, SAVED_MAGIC, 8) != 0 ||
        memcmp(sum.b, rec + 8 + sizeof(*s), KULA_HASH_LEN) != 0) {
        kula_warn("%s is damaged or from another version: ignored", v->saved_path);
        return false;
    }
    memcpy(s, rec + 8, sizeof(*s));
    return true;
}

/* Field by field: padding bytes are not part of the state. */
static bool saved_equal(const kula_cons_saved *a, const kula_cons_saved *b)
{
#define SAME(f) (a->f == b->f)
#define SAME_HASH(f) (memcmp(a->f.b, b->f.b, KULA_HASH_LEN) == 0)
    return SAME(height) && SAME(round) && SAME(step) && SAME(locked_round) &&
           SAME_HASH(locked_hash) && SAME(valid_round) && SAME_HASH(valid_hash) &&
           SAME(has_prevote) && SAME(prevote_height) && SAME(prevote_round) &&
           SAME(prevote_has_block) && SAME_HASH(prevote_hash) && SAME(has_precommit) &&
           SAME(precommit_height) && SAME(precommit_round) && SAME(precommit_has_block) &&
           SAME_HASH(precommit_hash) && SAME(has_prop) && SAME(prop_height) &&
           SAME(prop_round) && SAME(prop_has_hash) && SAME_HASH(prop_hash) &&
           SAME(prop_pol_round);
#undef SAME
#undef SAME_HASH
}

/* Persists the machine's saved state if it changed.  Returns: 0, or
 * KULA_EIO: then nothing signed may leave the node. */
static int persist(kula_engine *v)
{
    kula_cons_saved s;
    memset(&s, 0, sizeof(s));
    kula_cons_saved_get(v->cons, &s);
    if (v->has_saved && saved_equal(&s, &v->saved))
        return KULA_OK;
    v->saves++;
    int rc = write_saved(v, &s);
    if (rc == 0) {
        v->saved = s;
        v->has_saved = true;
    }
    return rc;
}

/* ---- blocks and messages kept ---- */

static const blob *cached(const kula_engine *v, const kula_hash *h)
{
    for (size_t i = 0; i < v->ncache; i++)
        if (memcmp(v->cache[i].hash.b, h->b, KULA_HASH_LEN) == 0)
            return &v->cache[i];
    return NULL;
}

static void cache_block(kula_engine *v, const kula_hash *h, uint64_t height, const uint8_t *p,
                        size_t n)
{
    if (cached(v, h) != NULL)
        return;
    if (v->ncache == MAX_CACHE) {
        free(v->cache[0].p);
        memmove(&v->cache[0], &v->cache[1], (MAX_CACHE - 1) * sizeof(v->cache[0]));
        v->ncache--;
    }
    uint8_t *copy = malloc(n);
    if (copy == NULL)
        return;
    memcpy(copy, p, n);
    v->cache[v->ncache++] = (blob){ .hash = *h, .height = height, .p = copy, .n = n };
}

/* Keeps a message for re-gossip and sends it to peers that lack it. */
static void keep_and_gossip(kula_engine *v, uint64_t height, const uint8_t *msg, size_t len,
                            uint32_t except)
{
    if (v->nkept < MAX_KEPT) {
        uint8_t *copy = malloc(len);
        if (copy != NULL) {
            memcpy(copy, msg, len);
            v->kept[v->nkept++] = (kept_msg){ .height = height, .p = copy, .n = len };
        }
    }
    kula_p2p_gossip(v->p2p, msg, len, except);
}

/* Forgets blocks and messages of heights below h. */
static void prune(kula_engine *v, uint64_t h)
{
    size_t k = 0;
    for (size_t i = 0; i < v->ncache; i++) {
        if (v->cache[i].height >= h)
            v->cache[k++] = v->cache[i];
        else
            free(v->cache[i].p);
    }
    v->ncache = k;
    k = 0;
    for (size_t i = 0; i < v->nkept; i++) {
        if (v->kept[i].height >= h)
            v->kept[k++] = v->kept[i];
        else
            free(v->kept[i].p);
    }
    v->nkept = k;
    k = 0;
    for (size_t i = 0; i < v->ntimeouts; i++)
        if (v->timeouts[i].height >= h)
            v->timeouts[k++] = v->timeouts[i];
    v->ntimeouts = k;
}

static void release_held(kula_engine *v)
{
    kula_chain_abandon_built(v->env.chain);
    v->held = false;
}

/* ---- keys: before and after the block being decided ---- */

/* The state whose keys sign the messages of the next height to commit: the
 * committed one.  The chain's ledger also shows a block held here (checked
 * or built, not committed), which may rotate a validator's key: the votes
 * of that very block are still signed with the key it replaces.  Once the
 * block is committed, and until the next height starts, a late vote of its
 * height is checked with the keys after it: one that does not verify may
 * be an honest vote of a validator whose key the block rotated, and is
 * dropped without a penalty (kula_engine_on_vote). */
static kula_ledger *committed_keys(kula_engine *v)
{
    uint64_t h = kula_chain_height(v->env.chain);
    if (v->view != NULL && v->view_height == h)
        return v->view;
    kula_ledger_free(v->view);
    v->view = NULL;
    if (kula_chain_new_view(v->env.chain, 0, &v->view) != 0) {
        v->view = NULL; /* a chain in memory holds no block here */
        return kula_chain_ledger(v->env.chain);
    }
    v->view_height = h;
    return v->view;
}

/* True when `block` is the block held here and it rotates the key of member
 * id.  The chain verifies a block's commit with the keys of the state after
 * the block (chain.c, apply_prepared): a precommit for that block signed
 * with the key it replaces cannot count, and this node must not make one.
 * Two lookups in the state, no signature. */
static bool rotated_by_held(kula_engine *v, uint32_t id, const kula_hash *block)
{
    if (!v->held || memcmp(v->held_hash.b, block->b, KULA_HASH_LEN) != 0)
        return false;
    kula_member before, after;
    return kula_ledger_member(committed_keys(v), id, &before) == 0 &&
           kula_ledger_member(kula_chain_ledger(v->env.chain), id, &after) == 0 &&
           memcmp(before.pubkey.b, after.pubkey.b, KULA_PUBKEY_LEN) != 0;
}

/* ---- the machine's outputs ---- */

static void handle_outputs(kula_engine *v);
static void start_height(kula_engine *v);
static int check_block(kula_engine *v, const uint8_t *blk, size_t n, kula_hash *got,
                       kula_block_error *e);
static void on_cons_timer(uv_timer_t *t);

static void arm_timer(kula_engine *v)
{
    if (v->ntimeouts == 0) {
        uv_timer_stop(&v->cons_timer);
        return;
    }
    uint64_t next = v->timeouts[0].due;
    for (size_t i = 1; i < v->ntimeouts; i++)
        if (v->timeouts[i].due < next)
            next = v->timeouts[i].due;
    uint64_t now = uv_now(v->env.loop);
    uv_timer_start(&v->cons_timer, on_cons_timer, next > now ? next - now : 0, 0);
}

/* Delivers every timeout that is due. */
static void on_cons_timer(uv_timer_t *t)
{
    kula_engine *v = t->data;
    uint64_t now = uv_now(v->env.loop);
    for (size_t i = 0; i < v->ntimeouts;) {
        if (v->timeouts[i].due > now) {
            i++;
            continue;
        }
        pending p = v->timeouts[i];
        v->timeouts[i] = v->timeouts[--v->ntimeouts];
        if (kula_cons_on_timeout(v->cons, p.step, p.height, p.round) == 0) {
            if (persist(v) != 0)
                return;
            handle_outputs(v);
        }
    }
    arm_timer(v);
}

static int sign_digest(kula_engine *v, const kula_hash *d, kula_sig *sig)
{
    return kula_sign(sig, &v->env.key, d->b);
}

/* Builds a block from the mempool; drops the candidates that can never
 * become valid.  The chain holds the block afterwards. */
static int build(kula_engine *v, kula_buf *blk, kula_hash *hash)
{
    release_held(v);
    size_t want = kula_mempool_size(v->env.mempool);
    if (want > v->capcands) {
        kula_candidate *nc = realloc(v->cands, want * sizeof(*nc));
        if (nc == NULL)
            return KULA_ENOMEM;
        v->cands = nc;
        v->capcands = want;
    }
    size_t nc = kula_mempool_candidates(v->env.mempool, v->cands, want);
    int rc = kula_chain_build_block(v->env.chain, wall_ms(), v->my_id, v->cands, nc, blk, hash);
    if (rc != 0)
        return rc;
    v->held = true;
    v->held_hash = *hash;
    kula_ledger *l = kula_chain_ledger(v->env.chain);
    kula_hash *drop = NULL;
    size_t ndrop = 0;
    for (size_t i = 0; i < nc; i++) {
        int r = v->cands[i].result;
        if (r == 0 || r == KULA_ETOOBIG)
            continue;
        if (r == KULA_ENONCE) {
            kula_member m;
            if (kula_ledger_member(l, v->cands[i].tx->from, &m) == 0 &&
                v->cands[i].tx->nonce > m.nonce)
                continue; /* a future nonce may become valid */
        }
        kula_hash *nd = realloc(drop, (ndrop + 1) * sizeof(*nd));
        if (nd == NULL)
            break;
        drop = nd;
        drop[ndrop++] = v->cands[i].tx->id;
        if (v->env.on_dropped != NULL)
            v->env.on_dropped(v->env.ctx, &v->cands[i].tx->id, r);
    }
    kula_mempool_remove_batch(v->env.mempool, drop, ndrop);
    free(drop);
    return KULA_OK;
}

static void do_propose(kula_engine *v, const kula_cons_out *o)
{
    if (!v->voting || !v->env.has_key)
        return;
    kula_buf blk;
    kula_buf_init(&blk);
    kula_hash hash;
    if (o->u.propose.reuse) {
        const blob *b = cached(v, &o->u.propose.block_hash);
        if (b == NULL) {
            kula_warn("consensus: cannot re-propose at height %llu: the block is not at hand",
                      (unsigned long long)o->u.propose.height);
            kula_buf_free(&blk);
            return;
        }
        kula_buf_append(&blk, b->p, b->n);
        hash = b->hash;
    } else {
        int rc = build(v, &blk, &hash);
        if (rc != 0) {
            kula_error("consensus: cannot build block %llu: %s",
                       (unsigned long long)o->u.propose.height, kula_strerror(rc));
            kula_buf_free(&blk);
            return;
        }
    }
    cache_block(v, &hash, o->u.propose.height, blk.data, blk.len);
    kula_block_proposal p;
    memset(&p, 0, sizeof(p));
    p.height = o->u.propose.height;
    p.round = o->u.propose.round;
    p.pol_round = o->u.propose.pol_round;
    p.block_hash = hash;
    p.proposer = v->my_id;
    kula_hash d;
    kula_block_proposal_sighash(&d, &v->env.chain_id, &p);
    kula_buf pb;
    kula_buf_init(&pb);
    if (sign_digest(v, &d, &p.sig) == 0 && kula_block_proposal_encode(&pb, &p) == 0) {
        (void)kula_cons_on_proposal(v->cons, &p, true);
        if (persist(v) == 0) {
            kula_msg m = { .type = KULA_MSG_PROPOSAL };
            m.u.proposal.proposal = pb.data;
            m.u.proposal.proposal_len = pb.len;
            m.u.proposal.block = blk.data;
            m.u.proposal.block_len = blk.len;
            kula_buf_reset(&v->buf);
            if (kula_msg_encode(&v->buf, &m) == 0)
                keep_and_gossip(v, p.height, v->buf.data, v->buf.len, 0);
            kula_debug("consensus: proposed block %llu round %u (%zu bytes)",
                       (unsigned long long)p.height, p.round, blk.len);
        }
    }
    kula_buf_free(&pb);
    kula_buf_free(&blk);
}

static void do_vote(kula_engine *v, kula_vote vote)
{
    if (!v->voting || !v->env.has_key)
        return;
    vote.validator = v->my_id;
    if (vote.type == KULA_VOTE_PRECOMMIT && vote.has_block &&
        rotated_by_held(v, v->my_id, &vote.block_hash)) {
        kula_info("consensus: block %llu rotates this node's key: it does not precommit it "
                  "with the key the block replaces",
                  (unsigned long long)vote.height);
        return;
    }
    kula_hash d;
    kula_vote_sighash(&d, &v->env.chain_id, &vote);
    if (sign_digest(v, &d, &vote.sig) != 0)
        return;
    (void)kula_cons_on_vote(v->cons, &vote);
    if (persist(v) != 0)
        return;
    kula_buf vb;
    kula_buf_init(&vb);
    if (kula_vote_encode(&vb, &vote) == 0) {
        kula_msg m = { .type = KULA_MSG_VOTE };
        m.u.vote.vote = vb.data;
        m.u.vote.len = vb.len;
        kula_buf_reset(&v->buf);
        if (kula_msg_encode(&v->buf, &m) == 0)
            keep_and_gossip(v, vote.height, v->buf.data, v->buf.len, 0);
    }
    kula_buf_free(&vb);
}

/* ---- evidence on the chain ---- */

/* Submits (again) an evidence transaction for each offence not yet recorded;
 * forgets those recorded or tried too often. */
static void submit_evidence(kula_engine *v)
{
    kula_ledger *l = kula_chain_ledger(v->env.chain);
    kula_member mine;
    if (!v->env.has_key || kula_p2p_standing(l, &v->pubkey, &mine) != KULA_STANDING_MEMBER)
        return; /* only a member's current key signs for it */
    uint32_t me = mine.id;
    size_t k = 0;
    for (size_t i = 0; i < v->nevq; i++) {
        const kula_vote *a = &v->evq[i].a;
        kula_evidence rec;
        if (kula_ledger_evidence(l, a->validator, a->height, a->round, a->type, &rec) == 0) {
            kula_info("consensus: the equivocation of validator %u at height %llu is on the "
                      "chain (block %llu)",
                      a->validator, (unsigned long long)a->height,
                      (unsigned long long)rec.recorded);
            continue;
        }
        if (v->evq[i].tries >= EVIDENCE_TRIES)
            continue;
        v->evq[i].tries++;
        v->evq[k++] = v->evq[i];
        uint64_t nonce = kula_mempool_next_nonce(v->env.mempool, l, me);
        if (nonce == 0)
            continue;
        kula_tx tx;
        kula_buf body, out;
        kula_buf_init(&body);
        kula_buf_init(&out);
        int rc = kula_evidence_tx(&tx, &body, &out, &v->env.chain_id, me, nonce,
                                  &v->env.key, a, &v->evq[i].b);
        if (rc == 0) {
            const uint8_t *txs[1] = { out.data };
            size_t lens[1] = { out.len };
            int result;
            kula_mempool_add_batch(v->env.mempool, l, v->env.verifier, txs, lens, 1, &result,
                                   NULL);
            if (result == 0)
                kula_p2p_relay_tx(v->p2p, out.data, out.len);
            else if (result != KULA_EDUPTX)
                kula_debug("consensus: evidence transaction refused: %s",
                           kula_strerror(result));
        }
        kula_buf_free(&body);
        kula_buf_free(&out);
    }
    v->nevq = k;
}

static void queue_evidence(kula_engine *v, const kula_vote *a, const kula_vote *b)
{
    v->evidence++;
    for (size_t i = 0; i < v->nevq; i++)
        if (v->evq[i].a.validator == a->validator && v->evq[i].a.height == a->height &&
            v->evq[i].a.round == a->round && v->evq[i].a.type == a->type)
            return;
    if (v->nevq == MAX_EVIDENCE)
        return;
    v->evq[v->nevq].a = *a;
    v->evq[v->nevq].b = *b;
    v->evq[v->nevq].tries = 0;
    v->nevq++;
    submit_evidence(v);
}

static void on_start_timer(uv_timer_t *t)
{
    start_height(t->data);
}

static void do_decide(kula_engine *v, const kula_cons_out *o)
{
    uint64_t h = o->u.decide.height;
    kula_chain *c = v->env.chain;
    if (kula_chain_height(c) >= h)
        return; /* sync brought it first */
    kula_buf cm;
    kula_buf_init(&cm);
    const blob *b = cached(v, &o->u.decide.block_hash);
    kula_block_error e;
    memset(&e, 0, sizeof(e));
    int rc = KULA_OK;
    if (!(v->held && memcmp(v->held_hash.b, o->u.decide.block_hash.b, KULA_HASH_LEN) == 0)) {
        release_held(v);
        kula_hash got;
        rc = b == NULL ? KULA_ENOTFOUND : check_block(v, b->p, b->n, &got, &e);
        v->held = rc == 0;
        v->held_hash = o->u.decide.block_hash;
    }
    /* A precommit made with a key the block rotates does not count in its
     * commit (rotated_by_held); commit_built then says whether the rest
     * holds 2/3. */
    kula_commit *commit = rc == 0 ? malloc(sizeof(*commit)) : NULL;
    if (rc == 0 && commit == NULL)
        rc = KULA_ENOMEM;
    if (rc == 0) {
        *commit = *o->u.decide.commit;
        uint32_t k = 0;
        for (uint32_t i = 0; i < commit->nsigs; i++)
            if (!rotated_by_held(v, commit->sigs[i].validator, &commit->block_hash))
                commit->sigs[k++] = commit->sigs[i];
        commit->nsigs = k;
        rc = kula_commit_encode(&cm, commit);
    }
    free(commit);
    if (rc == 0)
        rc = kula_chain_commit_built(c, cm.data, cm.len);
    else
        release_held(v);
    v->held = false;
    kula_buf_free(&cm);
    if (rc != 0) {
        kula_error("consensus: cannot commit decided block %llu: %s %s (sync will fetch it)",
                   (unsigned long long)h, kula_strerror(rc), e.what);
        return;
    }
    size_t txs = b != NULL ? kula_mempool_remove_block(v->env.mempool, b->p, b->n) : 0;
    if (v->nevq > 0)
        submit_evidence(v);
    double took = mono_seconds() - v->height_started;
    if (v->env.on_commit != NULL)
        v->env.on_commit(v->env.ctx, h, txs, took);
    kula_p2p_tip_changed(v->p2p);
    if (txs > 0 || h % 100 == 0)
        kula_info("committed block %llu (%zu txs, round %u, %.0f ms; %llu state saves)",
                  (unsigned long long)h, txs, o->u.decide.round, took * 1000,
                  (unsigned long long)v->saves);
    else
        kula_debug("committed block %llu (empty, round %u)", (unsigned long long)h,
                   o->u.decide.round);
    /* The next height starts after the block interval. */
    kula_params p;
    uint64_t wait = kula_ledger_params(kula_chain_ledger(c), &p) == 0 ? p.block_interval_ms : 1000;
    uint64_t spent = (uint64_t)(took * 1000);
    uv_timer_start(&v->start_timer, on_start_timer, wait > spent ? wait - spent : 0, 0);
}

/* Checks blk as the next block, reusing the mempool's verification of the
 * transactions it already holds (signatures are verified once per node). */
static int check_block(kula_engine *v, const uint8_t *blk, size_t n, kula_hash *got,
                       kula_block_error *e)
{
    kula_block b;
    const kula_pubkey **verified = NULL;
    uint32_t nv = 0;
    if (kula_block_decode(&b, blk, n) == 0) {
        verified = calloc(b.ntxs ? b.ntxs : 1, sizeof(*verified));
        if (verified != NULL) {
            nv = b.ntxs;
            for (uint32_t i = 0; i < b.ntxs; i++) {
                kula_tx tx;
                if (kula_tx_decode(&tx, b.txs[i], b.tx_lens[i]) == 0)
                    verified[i] = kula_mempool_keys(v->env.mempool, &tx.id);
            }
        }
        kula_block_free(&b);
    }
    kula_block_keys keys = { .verified = verified, .n = nv };
    int rc = kula_chain_check_block(v->env.chain, blk, n, verified ? &keys : NULL, got, e);
    free(verified);
    return rc;
}

/* Validates a proposal's block (when it is for the current height) and
 * feeds the proposal to the machine. */
static void feed_proposal(kula_engine *v, const kula_block_proposal *p, const uint8_t *blk,
                          size_t n)
{
    uint64_t hc = kula_cons_height(v->cons);
    bool valid = false;
    if (p->height == hc && !kula_cons_decided(v->cons)) {
        if (v->held && memcmp(v->held_hash.b, p->block_hash.b, KULA_HASH_LEN) == 0) {
            valid = true;
        } else {
            release_held(v);
            kula_hash got;
            kula_block_error e;
            int rc = check_block(v, blk, n, &got, &e);
            if (rc == 0 && memcmp(got.b, p->block_hash.b, KULA_HASH_LEN) == 0) {
                valid = true;
                v->held = true;
                v->held_hash = got;
            } else {
                if (rc == 0)
                    release_held(v);
                kula_warn("consensus: proposal of block %llu round %u by %u is invalid: %s",
                          (unsigned long long)p->height, p->round, p->proposer,
                          rc ? e.what : "hash mismatch");
            }
        }
    }
    if (p->height == hc || p->height == hc + 1)
        cache_block(v, &p->block_hash, p->height, blk, n);
    if (kula_cons_on_proposal(v->cons, p, valid) == 0 && persist(v) != 0)
        return;
    handle_outputs(v);
}

static void handle_outputs(kula_engine *v)
{
    kula_cons_out o;
    while (kula_cons_next(v->cons, &o)) {
        switch ((enum kula_cons_out_kind)o.kind) {
        case KULA_CONS_OUT_PROPOSE:
            do_propose(v, &o);
            break;
        case KULA_CONS_OUT_VOTE:
            do_vote(v, o.u.vote);
            break;
        case KULA_CONS_OUT_TIMEOUT:
            if (v->ntimeouts < MAX_TIMEOUTS) {
                v->timeouts[v->ntimeouts++] =
                    (pending){ .due = uv_now(v->env.loop) + o.u.timeout.duration_ms,
                               .step = o.u.timeout.step,
                               .height = o.u.timeout.height,
                               .round = o.u.timeout.round };
                arm_timer(v);
            }
            break;
        case KULA_CONS_OUT_DECIDE:
            do_decide(v, &o);
            break;
        case KULA_CONS_OUT_EVIDENCE: {
            kula_warn("consensus: validator %u signed two different %s votes at height %llu "
                      "round %u (evidence gossiped)",
                      o.u.evidence.a.validator,
                      o.u.evidence.a.type == KULA_VOTE_PREVOTE ? "prevote" : "precommit",
                      (unsigned long long)o.u.evidence.a.height, o.u.evidence.a.round);
            kula_buf a, b;
            kula_buf_init(&a);
            kula_buf_init(&b);
            if (kula_vote_encode(&a, &o.u.evidence.a) == 0 &&
                kula_vote_encode(&b, &o.u.evidence.b) == 0) {
                kula_msg m = { .type = KULA_MSG_EVIDENCE };
                m.u.evidence.a = a.data;
                m.u.evidence.a_len = a.len;
                m.u.evidence.b = b.data;
                m.u.evidence.b_len = b.len;
                kula_buf_reset(&v->buf);
                if (kula_msg_encode(&v->buf, &m) == 0)
                    kula_p2p_gossip(v->p2p, v->buf.data, v->buf.len, 0);
            }
            kula_buf_free(&a);
            kula_buf_free(&b);
            queue_evidence(v, &o.u.evidence.a, &o.u.evidence.b);
            break;
        }
        case KULA_CONS_OUT_RECHECK: {
            const blob *b = cached(v, &o.u.recheck.block_hash);
            if (b != NULL) {
                uint8_t *copy = malloc(b->n);
                if (copy != NULL) {
                    size_t n = b->n;
                    memcpy(copy, b->p, n);
                    kula_block_proposal p = o.u.recheck;
                    feed_proposal(v, &p, copy, n);
                    free(copy);
                }
            }
            break;
        }
        }
    }
}

static void start_height(kula_engine *v)
{
    uv_timer_stop(&v->start_timer);
    kula_chain *c = v->env.chain;
    uint64_t h = kula_chain_height(c) + 1;
    release_held(v);
    prune(v, h);
    kula_valset *vs = malloc(sizeof(*vs));
    if (vs == NULL || kula_ledger_valset(kula_chain_ledger(c), KULA_VALSET_NEXT, vs) != 0) {
        free(vs);
        kula_error("consensus: cannot read the validator set");
        return;
    }
    /* This node votes only with a validator's current key: a key the members
     * rotated or removed signs nothing more (its signatures would not
     * verify, and peers would punish them). */
    v->voting = false;
    kula_member mine;
    if (v->env.has_key &&
        kula_p2p_standing(kula_chain_ledger(c), &v->pubkey, &mine) == KULA_STANDING_MEMBER) {
        v->my_id = mine.id;
        for (uint32_t i = 0; i < vs->n; i++)
            if (vs->v[i].id == v->my_id)
                v->voting = true;
    }
    int rc = kula_cons_start_height(v->cons, h, vs, v->voting, v->voting ? v->my_id : 0,
                                    v->has_saved ? &v->saved : NULL);
    free(vs);
    if (rc != 0) {
        kula_error("consensus: cannot start height %llu: %s", (unsigned long long)h,
                   kula_strerror(rc));
        return;
    }
    v->height_started = mono_seconds();
    if (persist(v) != 0)
        return;
    handle_outputs(v);
}

static void on_gossip(uv_timer_t *t)
{
    kula_engine *v = t->data;
    uint64_t hc = kula_cons_height(v->cons);
    for (size_t i = 0; i < v->nkept; i++)
        if (v->kept[i].height >= hc)
            kula_p2p_gossip(v->p2p, v->kept[i].p, v->kept[i].n, 0);
}

/* ---- messages from peers ---- */

/* True when sig over d verifies with member id's current key. */
static bool signed_by(kula_engine *v, uint32_t id, const kula_hash *d, const kula_sig *sig)
{
    kula_member m;
    return kula_ledger_member(committed_keys(v), id, &m) == 0 &&
           kula_verify(&m.pubkey, d->b, sig);
}

void kula_engine_on_proposal(void *ctx, uint32_t peer, const uint8_t *msg, size_t msg_len,
                             const uint8_t *proposal, size_t proposal_len,
                             const uint8_t *block, size_t block_len)
{
    kula_engine *v = ctx;
    kula_block_proposal p;
    if (kula_block_proposal_decode(&p, proposal, proposal_len) != 0) {
        kula_p2p_punish(v->p2p, peer, KULA_SCORE_MALFORMED, "a malformed proposal");
        return;
    }
    uint64_t hc = kula_cons_height(v->cons);
    if (p.height < hc || p.height > hc + 1)
        return;
    kula_hash d;
    kula_block_proposal_sighash(&d, &v->env.chain_id, &p);
    if (!signed_by(v, p.proposer, &d, &p.sig)) {
        if (p.height > kula_chain_height(v->env.chain))
            kula_p2p_punish(v->p2p, peer, KULA_SCORE_MALFORMED,
                            "a proposal with a bad signature");
        /* else of the height just committed (committed_keys): dropped */
        return;
    }
    /* The block must be the one proposed, whatever its validity. */
    kula_block b;
    if (kula_block_decode(&b, block, block_len) != 0) {
        kula_p2p_punish(v->p2p, peer, KULA_SCORE_MALFORMED, "a proposal with a malformed block");
        return;
    }
    /* ... and name its proposer (the chain checks only that it is a
     * validator: a network with one dominant validator has no rounds). */
    bool same = memcmp(b.hash.b, p.block_hash.b, KULA_HASH_LEN) == 0 &&
                b.header.proposer == p.proposer;
    kula_block_free(&b);
    if (!same) {
        kula_p2p_punish(v->p2p, peer, KULA_SCORE_MALFORMED, "a proposal with another block");
        return;
    }
    keep_and_gossip(v, p.height, msg, msg_len, peer);
    feed_proposal(v, &p, block, block_len);
}

void kula_engine_on_vote(void *ctx, uint32_t peer, const uint8_t *msg, size_t msg_len,
                         const uint8_t *vote, size_t vote_len)
{
    kula_engine *v = ctx;
    kula_vote vt;
    if (kula_vote_decode(&vt, vote, vote_len) != 0) {
        kula_p2p_punish(v->p2p, peer, KULA_SCORE_MALFORMED, "a malformed vote");
        return;
    }
    uint64_t hc = kula_cons_height(v->cons);
    if (vt.height < hc || vt.height > hc + 1)
        return;
    kula_hash d;
    kula_vote_sighash(&d, &v->env.chain_id, &vt);
    if (!signed_by(v, vt.validator, &d, &vt.sig)) {
        if (vt.height > kula_chain_height(v->env.chain))
            kula_p2p_punish(v->p2p, peer, KULA_SCORE_MALFORMED, "a vote with a bad signature");
        /* else of the height just committed (committed_keys): dropped */
        return;
    }
    if (vt.type == KULA_VOTE_PRECOMMIT && vt.has_block && vt.height == hc &&
        rotated_by_held(v, vt.validator, &vt.block_hash)) {
        kula_debug("consensus: the precommit of validator %u for block %llu is signed with the "
                   "key the block rotates: it does not count",
                   vt.validator, (unsigned long long)vt.height);
        return; /* honest, but no commit may hold it */
    }
    keep_and_gossip(v, vt.height, msg, msg_len, peer);
    int rc = kula_cons_on_vote(v->cons, &vt);
    if ((rc == 0 || rc == KULA_EVOTED) && persist(v) != 0)
        return;
    handle_outputs(v);
}

void kula_engine_on_evidence(void *ctx, uint32_t peer, const uint8_t *msg, size_t msg_len,
                             const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    kula_engine *v = ctx;
    kula_vote x, y;
    if (kula_vote_decode(&x, a, a_len) != 0 || kula_vote_decode(&y, b, b_len) != 0) {
        kula_p2p_punish(v->p2p, peer, KULA_SCORE_MALFORMED, "malformed evidence");
        return;
    }
    kula_hash dx, dy;
    kula_vote_sighash(&dx, &v->env.chain_id, &x);
    kula_vote_sighash(&dy, &v->env.chain_id, &y);
    bool conflict = x.validator == y.validator && x.type == y.type && x.height == y.height &&
                    x.round == y.round &&
                    (x.has_block != y.has_block ||
                     memcmp(x.block_hash.b, y.block_hash.b, KULA_HASH_LEN) != 0);
    if (!conflict || !signed_by(v, x.validator, &dx, &x.sig) ||
        !signed_by(v, y.validator, &dy, &y.sig)) {
        kula_p2p_punish(v->p2p, peer, KULA_SCORE_MALFORMED, "false evidence");
        return;
    }
    kula_warn("consensus: evidence from a peer: validator %u signed two different votes at "
              "height %llu round %u",
              x.validator, (unsigned long long)x.height, x.round);
    kula_p2p_gossip(v->p2p, msg, msg_len, peer);
    queue_evidence(v, &x, &y);
}

void kula_engine_before_apply(void *ctx)
{
    release_held(ctx);
}

void kula_engine_on_block(void *ctx, uint64_t height, const uint8_t *block, size_t len)
{
    kula_engine *v = ctx;
    kula_mempool_remove_block(v->env.mempool, block, len);
    if (kula_chain_height(v->env.chain) >= kula_cons_height(v->cons))
        start_height(v);
}

/* ---- life ---- */

int kula_engine_start(kula_engine **out, const kula_engine_env *env, char *err, size_t errlen)
{
    kula_engine *v = calloc(1, sizeof(*v));
    if (v == NULL || (v->kept = calloc(MAX_KEPT, sizeof(*v->kept))) == NULL) {
        free(v);
        snprintf(err, errlen, "out of memory");
        return KULA_ENOMEM;
    }
    v->env = *env;
    kula_buf_init(&v->buf);
    if (env->has_key)
        kula_key_public(&v->pubkey, &env->key);
    snprintf(v->saved_path, sizeof(v->saved_path), "%s/consensus.state", env->datadir);
    v->has_saved = read_saved(v, &v->saved);
    kula_params p;
    kula_cons_params cp;
    int rc = kula_ledger_params(kula_chain_ledger(env->chain), &p);
    if (rc == 0) {
        kula_cons_params_from(&cp, &p);
        rc = kula_cons_new(&v->cons, &cp);
    }
    if (rc != 0) {
        snprintf(err, errlen, "cannot start consensus: %s", kula_strerror(rc));
        free(v->kept);
        free(v);
        return rc;
    }
    uv_timer_init(env->loop, &v->cons_timer);
    uv_timer_init(env->loop, &v->start_timer);
    uv_timer_init(env->loop, &v->gossip_timer);
    v->cons_timer.data = v->start_timer.data = v->gossip_timer.data = v;
    v->handles = 3;
    uv_timer_start(&v->gossip_timer, on_gossip, GOSSIP_MS, GOSSIP_MS);
    *out = v;
    return KULA_OK;
}

void kula_engine_attach(kula_engine *v, kula_p2p *p)
{
    v->p2p = p;
    start_height(v);
}

static void on_closed(uv_handle_t *h)
{
    kula_engine *v = h->data;
    if (--v->handles > 0)
        return;
    for (size_t i = 0; i < v->ncache; i++)
        free(v->cache[i].p);
    for (size_t i = 0; i < v->nkept; i++)
        free(v->kept[i].p);
    free(v->kept);
    free(v->cands);
    kula_ledger_free(v->view);
    kula_buf_free(&v->buf);
    kula_cons_free(v->cons);
    kula_seckey_wipe(&v->env.key);
    free(v);
}

void kula_engine_stop(kula_engine *v)
{
    if (v == NULL)
        return;
    release_held(v);
    v->p2p = NULL;
    uv_close((uv_handle_t *)&v->cons_timer, on_closed);
    uv_close((uv_handle_t *)&v->start_timer, on_closed);
    uv_close((uv_handle_t *)&v->gossip_timer, on_closed);
}

bool kula_engine_voting(const kula_engine *v) { return v != NULL && v->voting; }
uint64_t kula_engine_evidence(const kula_engine *v) { return v != NULL ? v->evidence : 0; }
uint32_t kula_engine_round(const kula_engine *v)
{
    return v != NULL && v->cons != NULL ? kula_cons_round(v->cons) : 0;
}
