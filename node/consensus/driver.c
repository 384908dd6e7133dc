/* driver.c -- the consensus driver (kula/consensus/driver.h): the Tendermint
 * machine run against the chain and the mempool, with the clock, timers,
 * keys, durable state and the network behind kula_driver_io.
 *
 * Layering: calls the machine (consensus.c), the chain and mempool below
 * it, and the io table; never the network or the event loop. */
#include "kula/consensus/driver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kula/base/error.h"
#include "kula/base/log.h"
#include "kula/chain/standing.h"
#include "consensus_testing.h"
#include "driver_evidence.h"

#define MAX_CACHE 16u      /* proposed blocks kept, current and next height */
#define MAX_KEPT 8192u     /* consensus messages of the current height ... */
#define MAX_KEPT_BYTES (64u << 20) /* ... and their bytes */
#define MAX_TIMEOUTS 64u

typedef struct blob {
    kula_hash hash;
    uint64_t height;
    uint8_t *p;
    size_t n;
} blob;

/* A message kept for regossip: a and b point into one allocation. */
typedef struct kept_msg {
    kula_driver_msg m;
    uint8_t *mem;
    uint64_t at;        /* io.now_ms when kept */
} kept_msg;

typedef struct pending {
    uint64_t due;
    uint8_t step;
    uint64_t height;
    uint32_t round;
} pending;

struct kula_driver {
    kula_driver_env env;
    kula_driver_io io;
    kula_cons *cons;
    uint32_t my_id;
    bool voting;
    bool solo;              /* this node's validator alone holds > 2/3 */
    blob cache[MAX_CACHE];
    size_t ncache;
    blob held_blocks[KULA_HELD_BLOCKS_MAX]; /* as io.save_blocks last stored them */
    size_t nheld_blocks;
    kept_msg *kept;
    size_t nkept;
    size_t kept_bytes;
    pending timeouts[MAX_TIMEOUTS];
    size_t ntimeouts;
    bool held;              /* the chain holds a checked or built block */
    kula_hash held_hash;
    kula_candidate *cands;
    size_t capcands;
    kula_cons_saved saved;  /* as io.save last stored it */
    bool has_saved;
    uint64_t height_started; /* io.now_ms */
    drv_evidence ev;        /* equivocations caught or received */
    uint64_t saves;         /* calls of io.save, for the log */
    bool commit_failing;    /* the last commit failed: said once */
    kula_ledger *view;      /* the committed state (see committed_keys) ... */
    uint64_t view_height;   /* ... at this height */
};

/* ---- the saved state: stored before any signed message leaves ---- */

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

static void retry_height(kula_driver *d);
static const blob *cached(const kula_driver *d, const kula_hash *h);

/* ---- the blocks the saved state names: stored before it ---- */

/* Adds to want[] (no duplicates) the blocks s names at its height: the
 * proposal it made this round (re-proposed after a restart), its locked
 * value (the only block it may prevote until a later proof of lock) and its
 * valid value (what it proposes in a later round). */
static void named_blocks(const kula_cons_saved *s, kula_hash *want, size_t *n)
{
    const kula_hash *h[3];
    size_t k = 0;
    if (s->has_prop && s->prop_has_hash && s->prop_height == s->height)
        h[k++] = &s->prop_hash;
    if (s->locked_round >= 0)
        h[k++] = &s->locked_hash;
    if (s->valid_round >= 0)
        h[k++] = &s->valid_hash;
    for (size_t i = 0; i < k; i++) {
        size_t j = 0;
        while (j < *n && memcmp(want[j].b, h[i]->b, KULA_HASH_LEN) != 0)
            j++;
        if (j == *n)
            want[(*n)++] = *h[i];
    }
}

/* Before s is stored: stores (io.save_blocks) the bytes of the blocks that
 * s and the state stored last name, when that set changed.  Why both: a
 * crash between this write and io.save leaves the old state, whose blocks
 * must be there too.  Why at all: a validator locked on a block (it
 * precommitted it, so it may vote for no other block until a later proof
 * of lock) must be able to propose it again after a crash; if its bytes
 * were only in memory, nobody may have them (a single validator: never),
 * and the chain stalls for good.  Crash points: before this write, nothing
 * was signed for the new state; after it and before io.save, the old state
 * holds and its blocks are stored; after io.save and before the block's
 * commit, the restart finds its lock and the bytes, proposes the block
 * again and commits it; after the commit, the chain starts the next height
 * and the stored blocks are of no use (replaced at the next change).  A
 * block not at hand (a lock from before a restart that lost it) is left
 * out.  Returns: 0, or the error of io.save_blocks. */
static int store_blocks(kula_driver *d, const kula_cons_saved *s)
{
    kula_hash want[KULA_HELD_BLOCKS_MAX];
    size_t nwant = 0;
    named_blocks(s, want, &nwant);
    if (d->has_saved)
        named_blocks(&d->saved, want, &nwant);
    blob next[KULA_HELD_BLOCKS_MAX];
    size_t nnext = 0;
    bool same = true;
    for (size_t i = 0; i < nwant; i++) {
        const blob *b = cached(d, &want[i]);
        if (b == NULL)
            continue;
        next[nnext++] = *b;
        bool had = false;
        for (size_t j = 0; j < d->nheld_blocks && !had; j++)
            had = memcmp(d->held_blocks[j].hash.b, b->hash.b, KULA_HASH_LEN) == 0;
        same = same && had;
    }
    if (same && nnext == d->nheld_blocks)
        return KULA_OK;
    kula_held_block out[KULA_HELD_BLOCKS_MAX];
    for (size_t i = 0; i < nnext; i++)
        out[i] = (kula_held_block){ .hash = next[i].hash, .height = next[i].height,
                                    .p = next[i].p, .n = next[i].n };
    int rc = d->io.save_blocks(d->io.ctx, out, nnext);
    if (rc != 0)
        return rc;
    /* copies first: next[] may point into held_blocks[] */
    size_t kept = 0;
    for (size_t i = 0; i < nnext; i++) {
        uint8_t *copy = malloc(next[i].n ? next[i].n : 1);
        if (copy == NULL)
            break;
        memcpy(copy, next[i].p, next[i].n);
        next[kept] = next[i];
        next[kept++].p = copy;
    }
    for (size_t j = 0; j < d->nheld_blocks; j++)
        free(d->held_blocks[j].p);
    memcpy(d->held_blocks, next, kept * sizeof(next[0]));
    d->nheld_blocks = kept;
    return KULA_OK;
}

/* Stores the machine's saved state if it changed.  Returns: 0, or the
 * error of io.save: then nothing signed may leave the node, and the height
 * starts again from the last stored state after the block interval (as
 * after a crash: safe, and live once the storage works again). */
static int persist(kula_driver *d)
{
    kula_cons_saved s;
    memset(&s, 0, sizeof(s));
    kula_cons_saved_get(d->cons, &s);
    if (d->has_saved && saved_equal(&s, &d->saved))
        return KULA_OK;
    d->saves++;
    int rc = store_blocks(d, &s);
    if (rc == 0)
        rc = d->io.save(d->io.ctx, &s);
    if (rc == 0) {
        d->saved = s;
        d->has_saved = true;
    } else {
        retry_height(d);
    }
    return rc;
}

/* ---- blocks and messages kept ---- */

/* A block's bytes from the cache or the blocks stored with the state. */
static const blob *cached(const kula_driver *d, const kula_hash *h)
{
    for (size_t i = 0; i < d->ncache; i++)
        if (memcmp(d->cache[i].hash.b, h->b, KULA_HASH_LEN) == 0)
            return &d->cache[i];
    for (size_t i = 0; i < d->nheld_blocks; i++)
        if (memcmp(d->held_blocks[i].hash.b, h->b, KULA_HASH_LEN) == 0)
            return &d->held_blocks[i];
    return NULL;
}

static void cache_block(kula_driver *d, const kula_hash *h, uint64_t height, const uint8_t *p,
                        size_t n)
{
    if (cached(d, h) != NULL)
        return;
    if (d->ncache == MAX_CACHE) {
        free(d->cache[0].p);
        memmove(&d->cache[0], &d->cache[1], (MAX_CACHE - 1) * sizeof(d->cache[0]));
        d->ncache--;
    }
    uint8_t *copy = malloc(n ? n : 1);
    if (copy == NULL)
        return;
    memcpy(copy, p, n);
    d->cache[d->ncache++] = (blob){ .hash = *h, .height = height, .p = copy, .n = n };
}

/* Keeps a copy of m for kula_driver_regossip (when there is room).  What is
 * kept is bounded by what the machine keeps: the votes it counted (each
 * once: it refuses a duplicate) and the first proposal of each round. */
static void keep(kula_driver *d, const kula_driver_msg *m)
{
    size_t size = m->alen + m->blen;
    if (d->nkept == MAX_KEPT || d->kept_bytes + size > MAX_KEPT_BYTES)
        return;
    uint8_t *mem = malloc(size + 1);
    if (mem == NULL)
        return;
    d->kept_bytes += size;
    kept_msg *k = &d->kept[d->nkept++];
    k->mem = mem;
    k->at = d->io.now_ms(d->io.ctx);
    k->m = *m;
    k->m.resend = false;
    memcpy(mem, m->a, m->alen);
    k->m.a = mem;
    if (m->b != NULL) {
        memcpy(mem + m->alen, m->b, m->blen);
        k->m.b = mem + m->alen;
    }
}

/* Keeps m and sends it to the peers but except.  A solo validator sends
 * nothing of its own: no other validator can use it. */
static void keep_and_send(kula_driver *d, const kula_driver_msg *m, uint32_t except)
{
    if (d->solo && except == 0)
        return;
    keep(d, m);
    d->io.send(d->io.ctx, m, except);
}

/* Forgets blocks, messages and timeouts of heights below h. */
static void prune(kula_driver *d, uint64_t h)
{
    size_t k = 0;
    for (size_t i = 0; i < d->ncache; i++) {
        if (d->cache[i].height >= h)
            d->cache[k++] = d->cache[i];
        else
            free(d->cache[i].p);
    }
    d->ncache = k;
    k = 0;
    for (size_t i = 0; i < d->nkept; i++) {
        if (d->kept[i].m.height >= h) {
            d->kept[k++] = d->kept[i];
        } else {
            d->kept_bytes -= d->kept[i].m.alen + d->kept[i].m.blen;
            free(d->kept[i].mem);
        }
    }
    d->nkept = k;
    k = 0;
    for (size_t i = 0; i < d->ntimeouts; i++)
        if (d->timeouts[i].height >= h)
            d->timeouts[k++] = d->timeouts[i];
    d->ntimeouts = k;
}

static void release_held(kula_driver *d)
{
    kula_chain_abandon_built(d->env.chain);
    d->held = false;
}

static bool is_held(const kula_driver *d, const kula_hash *h)
{
    return d->held && memcmp(d->held_hash.b, h->b, KULA_HASH_LEN) == 0;
}

/* ---- keys: before and after the block being decided ---- */

/* The state whose keys sign the messages of the next height to commit: the
 * committed one.  The chain's ledger also shows a block held here (checked
 * or built, not committed), which may rotate a validator's key: the votes
 * of that very block are still signed with the key it replaces.  Once the
 * block is committed, and until the next height starts, a late vote of its
 * height is checked with the keys after it: one that does not verify may
 * be an honest vote of a validator whose key the block rotated, and is
 * dropped without a penalty (kula_driver_on_vote). */
static kula_ledger *committed_keys(kula_driver *d)
{
    uint64_t h = kula_chain_height(d->env.chain);
    if (d->view != NULL && d->view_height == h)
        return d->view;
    kula_ledger_free(d->view);
    d->view = NULL;
    if (kula_chain_new_view(d->env.chain, 0, &d->view) != 0) {
        d->view = NULL; /* a chain in memory holds no block here */
        return kula_chain_ledger(d->env.chain);
    }
    d->view_height = h;
    return d->view;
}

/* True when `block` is the block held here and it rotates the key of member
 * id.  The chain verifies a block's commit with the keys of the state after
 * the block (chain.c, apply_prepared): a precommit for that block signed
 * with the key it replaces cannot count, and this node must not make one.
 * Two lookups in the state, no signature. */
static bool rotated_by_held(kula_driver *d, uint32_t id, const kula_hash *block)
{
    if (!is_held(d, block))
        return false;
    kula_member before, after;
    return kula_ledger_member(committed_keys(d), id, &before) == 0 &&
           kula_ledger_member(kula_chain_ledger(d->env.chain), id, &after) == 0 &&
           memcmp(before.pubkey.b, after.pubkey.b, KULA_PUBKEY_LEN) != 0;
}

/* True when sig over digest verifies with member id's current key. */
static bool signed_by(kula_driver *d, uint32_t id, const kula_hash *digest, const kula_sig *sig)
{
    kula_member m;
    return kula_ledger_member(committed_keys(d), id, &m) == 0 &&
           d->io.verify(d->io.ctx, &m.pubkey, digest, sig);
}

/* signed_by for the evidence's checks (ctx: the driver). */
static bool verify_member(void *ctx, uint32_t id, const kula_hash *digest, const kula_sig *sig)
{
    return signed_by(ctx, id, digest, sig);
}

/* ---- timeouts ---- */

static void arm_round_timer(kula_driver *d)
{
    if (d->ntimeouts == 0) {
        d->io.disarm(d->io.ctx, KULA_DRIVER_TIMER_ROUND);
        return;
    }
    uint64_t next = d->timeouts[0].due;
    for (size_t i = 1; i < d->ntimeouts; i++)
        if (d->timeouts[i].due < next)
            next = d->timeouts[i].due;
    uint64_t now = d->io.now_ms(d->io.ctx);
    d->io.arm(d->io.ctx, KULA_DRIVER_TIMER_ROUND, next > now ? next - now : 0);
}

static void handle_outputs(kula_driver *d);
static void start_height(kula_driver *d);

/* Delivers every timeout that is due. */
static void on_round_timer(kula_driver *d)
{
    uint64_t now = d->io.now_ms(d->io.ctx);
    for (size_t i = 0; i < d->ntimeouts;) {
        if (d->timeouts[i].due > now) {
            i++;
            continue;
        }
        pending p = d->timeouts[i];
        d->timeouts[i] = d->timeouts[--d->ntimeouts];
        if (kula_cons_on_timeout(d->cons, p.step, p.height, p.round) == 0) {
            if (persist(d) != 0)
                return;
            handle_outputs(d);
        }
    }
    arm_round_timer(d);
}

static void add_timeout(kula_driver *d, const kula_cons_out *o)
{
    if (d->ntimeouts == MAX_TIMEOUTS)
        return;
    d->timeouts[d->ntimeouts++] =
        (pending){ .due = d->io.now_ms(d->io.ctx) + o->u.timeout.duration_ms,
                   .step = o->u.timeout.step,
                   .height = o->u.timeout.height,
                   .round = o->u.timeout.round };
    arm_round_timer(d);
}

/* ---- blocks: building and checking ---- */

/* True when a candidate's refusal is for good: a future nonce may still
 * become valid, and a transaction too big for this block fits another. */
static bool refused_for_good(kula_ledger *l, const kula_candidate *c)
{
    if (c->result == 0 || c->result == KULA_ETOOBIG)
        return false;
    kula_member m;
    return !(c->result == KULA_ENONCE && kula_ledger_member(l, c->tx->from, &m) == 0 &&
             c->tx->nonce > m.nonce);
}

/* Builds a block from the mempool; drops the candidates that can never
 * become valid.  The chain holds the block afterwards. */
static int build(kula_driver *d, kula_buf *blk, kula_hash *hash)
{
    release_held(d);
    size_t want = kula_mempool_size(d->env.mempool);
    if (want > d->capcands) {
        kula_candidate *nc = realloc(d->cands, want * sizeof(*nc));
        if (nc == NULL)
            return KULA_ENOMEM;
        d->cands = nc;
        d->capcands = want;
    }
    size_t nc = kula_mempool_candidates(d->env.mempool, d->cands, want);
    int rc = kula_chain_build_block(d->env.chain, d->io.wall_ms(d->io.ctx), d->my_id, d->cands,
                                    nc, blk, hash);
    if (rc != 0)
        return rc;
    d->held = true;
    d->held_hash = *hash;
    kula_ledger *l = kula_chain_ledger(d->env.chain);
    kula_hash *drop = NULL;
    size_t ndrop = 0;
    for (size_t i = 0; i < nc; i++) {
        if (!refused_for_good(l, &d->cands[i]))
            continue;
        kula_hash *nd = realloc(drop, (ndrop + 1) * sizeof(*nd));
        if (nd == NULL)
            break;
        drop = nd;
        drop[ndrop++] = d->cands[i].tx->id;
        if (d->io.dropped != NULL)
            d->io.dropped(d->io.ctx, &d->cands[i].tx->id, d->cands[i].result);
    }
    kula_mempool_remove_batch(d->env.mempool, drop, ndrop);
    free(drop);
    return KULA_OK;
}

static const kula_pubkey *mempool_keys(void *ctx, const kula_hash *id, const uint8_t *tx,
                                       size_t len)
{
    return kula_mempool_keys(ctx, id, tx, len);
}

/* Checks blk as the next block, reusing the mempool's verification of the
 * transactions it already holds (signatures are verified once per node). */
static int check_block(kula_driver *d, const uint8_t *blk, size_t n, kula_hash *got,
                       kula_error *e)
{
    kula_block_keys keys = { .lookup = mempool_keys, .ctx = d->env.mempool,
                             .sigcache = kula_mempool_sigcache(d->env.mempool) };
    return kula_chain_check_block(d->env.chain, blk, n, &keys, got, e);
}

/* Makes the chain hold the block `want` (checking it unless it holds it
 * already).  Returns: 0, or why it cannot (with e filled in). */
static int hold(kula_driver *d, const kula_hash *want, const uint8_t *blk, size_t n,
                kula_error *e)
{
    if (is_held(d, want))
        return KULA_OK;
    release_held(d);
    if (blk == NULL) {
        snprintf(e->what, sizeof(e->what), "the block is not at hand");
        return KULA_ENOTFOUND;
    }
    kula_hash got;
    int rc = check_block(d, blk, n, &got, e);
    if (rc == 0 && memcmp(got.b, want->b, KULA_HASH_LEN) != 0) {
        release_held(d);
        snprintf(e->what, sizeof(e->what), "hash mismatch");
        return KULA_EBLOCK;
    }
    if (rc != 0)
        return rc;
    d->held = true;
    d->held_hash = got;
    return KULA_OK;
}

/* ---- the machine's outputs ---- */

static void do_propose(kula_driver *d, const kula_cons_out *o)
{
    if (!d->voting || !d->env.has_key)
        return;
    kula_buf blk;
    kula_buf_init(&blk);
    kula_hash hash;
    if (o->u.propose.reuse) {
        const blob *b = cached(d, &o->u.propose.block_hash);
        if (b == NULL) {
            kula_warn("consensus: cannot re-propose at height %llu: the block is not at hand",
                      (unsigned long long)o->u.propose.height);
            kula_buf_free(&blk);
            return;
        }
        kula_buf_append(&blk, b->p, b->n);
        hash = b->hash;
    } else {
        int rc = build(d, &blk, &hash);
        if (rc != 0) {
            kula_error("consensus: cannot build block %llu: %s",
                       (unsigned long long)o->u.propose.height, kula_strerror(rc));
            kula_buf_free(&blk);
            return;
        }
    }
    cache_block(d, &hash, o->u.propose.height, blk.data, blk.len);
    kula_block_proposal p;
    memset(&p, 0, sizeof(p));
    p.height = o->u.propose.height;
    p.round = o->u.propose.round;
    p.pol_round = o->u.propose.pol_round;
    p.block_hash = hash;
    p.proposer = d->my_id;
    kula_hash digest;
    kula_block_proposal_sighash(&digest, &d->env.chain_id, &p);
    kula_buf pb;
    kula_buf_init(&pb);
    if (d->io.sign(d->io.ctx, &digest, &p.sig) == 0 && kula_block_proposal_encode(&pb, &p) == 0) {
        /* the proposal the machine asked for, at its own height and round:
         * it takes it, and a refusal would leave nothing to undo */
        kula_result_ignored(kula_cons_on_proposal(d->cons, &p, true));
        if (persist(d) == 0) {
            kula_driver_msg m = { .type = KULA_DRIVER_PROPOSAL, .height = p.height,
                                  .round = p.round, .a = pb.data, .alen = pb.len,
                                  .b = blk.data, .blen = blk.len };
            keep_and_send(d, &m, 0);
            kula_debug("consensus: proposed block %llu round %u (%zu bytes)",
                       (unsigned long long)p.height, p.round, blk.len);
        }
    }
    kula_buf_free(&pb);
    kula_buf_free(&blk);
}

static void do_vote(kula_driver *d, kula_vote vote)
{
    if (!d->voting || !d->env.has_key)
        return;
    vote.validator = d->my_id;
    if (vote.type == KULA_VOTE_PRECOMMIT && vote.has_block &&
        rotated_by_held(d, d->my_id, &vote.block_hash)) {
        kula_info("consensus: block %llu rotates this node's key: it does not precommit it "
                  "with the key the block replaces",
                  (unsigned long long)vote.height);
        return;
    }
    kula_hash digest;
    kula_vote_sighash(&digest, &d->env.chain_id, &vote);
    if (d->io.sign(d->io.ctx, &digest, &vote.sig) != 0)
        return;
    /* the vote the machine asked for: it counts it like any other, and a
     * refusal (already counted) would leave nothing to undo */
    kula_result_ignored(kula_cons_on_vote(d->cons, &vote));
    if (persist(d) != 0)
        return;
    kula_buf vb;
    kula_buf_init(&vb);
    if (kula_vote_encode(&vb, &vote) == 0) {
        kula_driver_msg m = { .type = KULA_DRIVER_VOTE, .height = vote.height,
                              .round = vote.round, .a = vb.data, .alen = vb.len };
        keep_and_send(d, &m, 0);
    }
    kula_buf_free(&vb);
}

/* ---- deciding ---- */

/* The decided commit without the precommits made with a key the block
 * rotates (rotated_by_held), encoded into cm; kula_chain_commit_built then
 * says whether the rest holds 2/3. */
static int encode_commit(kula_driver *d, const kula_commit *decided, kula_buf *cm)
{
    kula_commit *commit = malloc(sizeof(*commit));
    if (commit == NULL)
        return KULA_ENOMEM;
    *commit = *decided;
    uint32_t k = 0;
    for (uint32_t i = 0; i < commit->nsigs; i++)
        if (!rotated_by_held(d, commit->sigs[i].validator, &commit->block_hash))
            commit->sigs[k++] = commit->sigs[i];
    commit->nsigs = k;
    int rc = kula_commit_encode(cm, commit);
    free(commit);
    return rc;
}

/* Starts the next height after the block interval, counted from the start
 * of this one (also after a failed commit: then the height starts again). */
static uint64_t block_interval(kula_driver *d)
{
    kula_params p;
    return kula_ledger_params(kula_chain_ledger(d->env.chain), &p) == 0 ? p.block_interval_ms
                                                                        : 1000;
}

static void schedule_next_height(kula_driver *d)
{
    uint64_t wait = block_interval(d);
    uint64_t spent = d->io.now_ms(d->io.ctx) - d->height_started;
    d->io.arm(d->io.ctx, KULA_DRIVER_TIMER_START, wait > spent ? wait - spent : 0);
}

/* Starts the current height again after the block interval. */
static void retry_height(kula_driver *d)
{
    d->io.arm(d->io.ctx, KULA_DRIVER_TIMER_START, block_interval(d));
}

static void commit_failed(kula_driver *d, uint64_t h, int rc, const kula_error *e)
{
    /* Once in a row as an error: the node's health says that it goes on. */
    if (!d->commit_failing)
        kula_error("consensus: cannot commit decided block %llu: %s %s%s",
                   (unsigned long long)h, kula_strerror(rc), e->what,
                   d->solo ? " (trying again)" : " (sync will fetch it)");
    else
        kula_debug("consensus: cannot commit decided block %llu: %s %s", (unsigned long long)h,
                   kula_strerror(rc), e->what);
    d->commit_failing = true;
    if (d->solo)
        retry_height(d);
}

static void committed(kula_driver *d, const kula_cons_out *o, const blob *b, const kula_buf *cm)
{
    uint64_t h = o->u.decide.height;
    d->commit_failing = false;
    size_t txs = b != NULL ? kula_mempool_remove_block(d->env.mempool, b->p, b->n) : 0;
    drv_evidence_submit(&d->ev);
    uint64_t took = d->io.now_ms(d->io.ctx) - d->height_started;
    if (d->io.committed != NULL) {
        kula_driver_commit c = { .height = h, .round = o->u.decide.round,
                                 .block = b ? b->p : NULL, .block_len = b ? b->n : 0,
                                 .commit = cm->data, .commit_len = cm->len, .txs = txs,
                                 .ms = took };
        d->io.committed(d->io.ctx, &c);
    }
    if (txs > 0 || h % 100 == 0 || h == 1)
        kula_info("committed block %llu (%zu txs, round %u, %llu ms; %llu state saves)",
                  (unsigned long long)h, txs, o->u.decide.round, (unsigned long long)took,
                  (unsigned long long)d->saves);
    else
        kula_debug("committed block %llu (empty, round %u)", (unsigned long long)h,
                   o->u.decide.round);
}

static void do_decide(kula_driver *d, const kula_cons_out *o)
{
    uint64_t h = o->u.decide.height;
    kula_chain *c = d->env.chain;
    if (kula_chain_height(c) >= h)
        return; /* sync brought it first */
    const blob *b = cached(d, &o->u.decide.block_hash);
    kula_error e;
    memset(&e, 0, sizeof(e));
    int rc = hold(d, &o->u.decide.block_hash, b ? b->p : NULL, b ? b->n : 0, &e);
    kula_buf cm;
    kula_buf_init(&cm);
    if (rc == 0)
        rc = encode_commit(d, o->u.decide.commit, &cm);
    if (rc == 0)
        rc = kula_chain_commit_built(c, cm.data, cm.len);
    else
        release_held(d);
    d->held = false;
    if (rc != 0)
        commit_failed(d, h, rc, &e);
    else {
        committed(d, o, b, &cm);
        schedule_next_height(d);
    }
    kula_buf_free(&cm);
}

/* True when a proposal for height h and round r is kept already. */
static bool proposal_kept(const kula_driver *d, uint64_t h, uint32_t r)
{
    for (size_t i = 0; i < d->nkept; i++)
        if (d->kept[i].m.type == KULA_DRIVER_PROPOSAL && d->kept[i].m.height == h &&
            d->kept[i].m.round == r)
            return true;
    return false;
}

/* Validates a proposal's block (when it is for the current height) and
 * feeds the proposal to the machine. */
static void feed_proposal(kula_driver *d, const kula_block_proposal *p, const uint8_t *blk,
                          size_t n)
{
    uint64_t hc = kula_cons_height(d->cons);
    bool valid = false;
    if (p->height == hc && !kula_cons_decided(d->cons)) {
        kula_error e;
        memset(&e, 0, sizeof(e));
        valid = hold(d, &p->block_hash, blk, n, &e) == 0;
        if (!valid)
            kula_warn("consensus: proposal of block %llu round %u by %u is invalid: %s",
                      (unsigned long long)p->height, p->round, p->proposer, e.what);
    }
    if (p->height == hc || p->height == hc + 1)
        cache_block(d, &p->block_hash, p->height, blk, n);
    if (kula_cons_on_proposal(d->cons, p, valid) == 0 && persist(d) != 0)
        return;
    handle_outputs(d);
}

/* A proposal the machine buffered for this height: its block is checked
 * now.  The cached bytes are copied: checking may evict them. */
static void recheck(kula_driver *d, const kula_block_proposal *p)
{
    const blob *b = cached(d, &p->block_hash);
    if (b == NULL)
        return;
    uint8_t *copy = malloc(b->n ? b->n : 1);
    if (copy == NULL)
        return;
    size_t n = b->n;
    memcpy(copy, b->p, n);
    feed_proposal(d, p, copy, n);
    free(copy);
}

/* Acts on everything the machine asks for, in order.  Re-entrant: feeding
 * a proposal back (recheck) drains the same queue. */
static void handle_outputs(kula_driver *d)
{
    kula_cons_out o;
    while (kula_cons_next(d->cons, &o)) {
        switch ((enum kula_cons_out_kind)o.kind) {
        case KULA_CONS_OUT_PROPOSE:
            do_propose(d, &o);
            break;
        case KULA_CONS_OUT_VOTE:
            do_vote(d, o.u.vote);
            break;
        case KULA_CONS_OUT_TIMEOUT:
            add_timeout(d, &o);
            break;
        case KULA_CONS_OUT_DECIDE:
            do_decide(d, &o);
            break;
        case KULA_CONS_OUT_EVIDENCE:
            drv_evidence_caught(&d->ev, &o.u.evidence.a, &o.u.evidence.b);
            break;
        case KULA_CONS_OUT_RECHECK:
            recheck(d, &o.u.recheck);
            break;
        }
    }
}

/* The validator set to run the machine with at the chain's next height:
 * this node alone when its validator holds more than 2/3 of the power
 * (the machine then decides with its own votes, and the chain accepts the
 * commit: one signature of more than 2/3), else the whole set.  Sets
 * d->voting, d->my_id and d->solo. */
static int height_valset(kula_driver *d, kula_valset *vs)
{
    kula_ledger *l = kula_chain_ledger(d->env.chain);
    int rc = kula_ledger_valset(l, KULA_VALSET_NEXT, vs);
    if (rc != 0)
        return rc;
    /* This node votes only with a validator's current key: a key the members
     * rotated or removed signs nothing more (its signatures would not
     * verify, and peers would punish them). */
    d->voting = d->solo = false;
    kula_member mine;
    if (!d->env.has_key || kula_key_standing(l, &d->env.pubkey, &mine) != KULA_STANDING_MEMBER)
        return KULA_OK;
    d->my_id = mine.id;
    for (uint32_t i = 0; i < vs->n; i++) {
        if (vs->v[i].id != d->my_id)
            continue;
        d->voting = true;
        d->solo = vs->v[i].power * 3 > vs->total_power * 2;
        if (d->solo) {
            vs->v[0] = vs->v[i];
            vs->n = 1;
            vs->total_power = vs->v[0].power;
        }
        break;
    }
    return KULA_OK;
}

static void start_height(kula_driver *d)
{
    d->io.disarm(d->io.ctx, KULA_DRIVER_TIMER_START);
    uint64_t h = kula_chain_height(d->env.chain) + 1;
    release_held(d);
    prune(d, h);
    kula_valset *vs = malloc(sizeof(*vs));
    int rc = vs == NULL ? KULA_ENOMEM : height_valset(d, vs);
    if (rc == 0)
        rc = kula_cons_start_height(d->cons, h, vs, d->voting, d->voting ? d->my_id : 0,
                                    d->has_saved ? &d->saved : NULL);
    free(vs);
    if (rc != 0) {
        kula_error("consensus: cannot start height %llu: %s", (unsigned long long)h,
                   kula_strerror(rc));
        return;
    }
    d->height_started = d->io.now_ms(d->io.ctx);
    if (persist(d) != 0)
        return;
    handle_outputs(d);
}

/* ---- messages from peers ---- */

void kula_driver_on_proposal(kula_driver *d, uint32_t peer, const uint8_t *proposal,
                             size_t proposal_len, const uint8_t *block, size_t block_len)
{
    kula_block_proposal p;
    if (kula_block_proposal_decode(&p, proposal, proposal_len) != 0) {
        d->io.punish(d->io.ctx, peer, "a malformed proposal");
        return;
    }
    uint64_t hc = kula_cons_height(d->cons);
    if (p.height < hc || p.height > hc + 1)
        return;
    kula_hash digest;
    kula_block_proposal_sighash(&digest, &d->env.chain_id, &p);
    if (!signed_by(d, p.proposer, &digest, &p.sig)) {
        if (p.height > kula_chain_height(d->env.chain))
            d->io.punish(d->io.ctx, peer, "a proposal with a bad signature");
        /* else of the height just committed (committed_keys): dropped */
        return;
    }
    /* The block must be the one proposed, whatever its validity.  Its
     * header may name another proposer: a proposer re-proposes the valid
     * value of an earlier round, a block another validator built (the
     * paper's lines 15-16); the chain checks that it names a validator. */
    kula_block b;
    if (kula_block_decode(&b, block, block_len) != 0) {
        d->io.punish(d->io.ctx, peer, "a proposal with a malformed block");
        return;
    }
    bool same = memcmp(b.hash.b, p.block_hash.b, KULA_HASH_LEN) == 0;
    kula_block_free(&b);
    if (!same) {
        d->io.punish(d->io.ctx, peer, "a proposal with another block");
        return;
    }
    /* Sent on at once, before its block is checked, so that it spreads at
     * the speed of the network; but only the first proposal of a round: a
     * duplicate, or a Byzantine proposer's second one, goes no further (the
     * machine keeps one per round too). */
    if (!proposal_kept(d, p.height, p.round)) {
        kula_driver_msg m = { .type = KULA_DRIVER_PROPOSAL, .height = p.height,
                              .round = p.round, .a = proposal, .alen = proposal_len,
                              .b = block, .blen = block_len };
        keep_and_send(d, &m, peer);
    }
    feed_proposal(d, &p, block, block_len);
}

void kula_driver_on_vote(kula_driver *d, uint32_t peer, const uint8_t *vote, size_t vote_len)
{
    kula_vote vt;
    if (kula_vote_decode(&vt, vote, vote_len) != 0) {
        d->io.punish(d->io.ctx, peer, "a malformed vote");
        return;
    }
    uint64_t hc = kula_cons_height(d->cons);
    if (vt.height < hc || vt.height > hc + 1)
        return;
    kula_hash digest;
    kula_vote_sighash(&digest, &d->env.chain_id, &vt);
    if (!signed_by(d, vt.validator, &digest, &vt.sig)) {
        if (vt.height > kula_chain_height(d->env.chain))
            d->io.punish(d->io.ctx, peer, "a vote with a bad signature");
        /* else of the height just committed (committed_keys): dropped */
        return;
    }
    if (vt.type == KULA_VOTE_PRECOMMIT && vt.has_block && vt.height == hc &&
        rotated_by_held(d, vt.validator, &vt.block_hash)) {
        kula_debug("consensus: the precommit of validator %u for block %llu is signed with the "
                   "key the block rotates: it does not count",
                   vt.validator, (unsigned long long)vt.height);
        return; /* honest, but no commit may hold it */
    }
    /* Kept and relayed when the machine counts it: an equivocator's second
     * vote too (KULA_EVOTED), since a proof of lock may need it. */
    int rc = kula_cons_on_vote(d->cons, &vt);
    if (rc == 0 || rc == KULA_EVOTED) {
        kula_driver_msg m = { .type = KULA_DRIVER_VOTE, .height = vt.height,
                              .round = vt.round, .a = vote, .alen = vote_len };
        keep_and_send(d, &m, peer);
    }
    if ((rc == 0 || rc == KULA_EVOTED) && persist(d) != 0)
        return;
    handle_outputs(d);
}

void kula_driver_on_evidence(kula_driver *d, uint32_t peer, const uint8_t *a, size_t a_len,
                             const uint8_t *b, size_t b_len)
{
    drv_evidence_received(&d->ev, peer, a, a_len, b, b_len);
}

void kula_driver_before_apply(kula_driver *d) { release_held(d); }

void kula_driver_on_block(kula_driver *d, uint64_t height, const uint8_t *block, size_t len)
{
    (void)height;
    kula_mempool_remove_block(d->env.mempool, block, len);
    if (kula_chain_height(d->env.chain) >= kula_cons_height(d->cons))
        start_height(d);
}

/* ---- timers ---- */

void kula_driver_on_timer(kula_driver *d, enum kula_driver_timer t)
{
    if (t == KULA_DRIVER_TIMER_ROUND)
        on_round_timer(d);
    else
        start_height(d);
}

void kula_driver_regossip(kula_driver *d)
{
    uint64_t hc = kula_cons_height(d->cons);
    uint64_t now = d->io.now_ms(d->io.ctx);
    for (size_t i = 0; i < d->nkept; i++) {
        if (d->kept[i].m.height < hc)
            continue;
        kula_driver_msg m = d->kept[i].m;
        m.resend = now - d->kept[i].at >= KULA_DRIVER_RESEND_MS;
        d->io.send(d->io.ctx, &m, 0);
    }
}

/* ---- life ---- */

int kula_driver_new(kula_driver **out, const kula_driver_env *env)
{
    *out = NULL;
    kula_driver *d = calloc(1, sizeof(*d));
    if (d == NULL || (d->kept = calloc(MAX_KEPT, sizeof(*d->kept))) == NULL) {
        free(d);
        return KULA_ENOMEM;
    }
    d->env = *env;
    d->io = env->io;
    d->env.saved = NULL;
    drv_evidence_init(&d->ev, &d->env, &d->io, verify_member, d);
    d->env.saved_blocks = NULL;
    d->env.nsaved_blocks = 0;
    if (env->saved != NULL) {
        d->saved = *env->saved;
        d->has_saved = true;
    }
    kula_params p;
    kula_cons_params cp;
    int rc = kula_ledger_params(kula_chain_ledger(env->chain), &p);
    if (rc == 0) {
        kula_cons_params_from(&cp, &p);
        rc = kula_cons_new(&d->cons, &cp);
    }
    if (rc != 0) {
        free(d->kept);
        free(d);
        return rc;
    }
    /* the blocks stored with the saved state: a lock from before a crash
     * can be proposed again (store_blocks) */
    for (size_t i = 0; env->saved != NULL && i < env->nsaved_blocks && i < KULA_HELD_BLOCKS_MAX;
         i++) {
        const kula_held_block *b = &env->saved_blocks[i];
        uint8_t *copy = malloc(b->n ? b->n : 1);
        if (copy == NULL)
            break;
        memcpy(copy, b->p, b->n);
        d->held_blocks[d->nheld_blocks++] =
            (blob){ .hash = b->hash, .height = b->height, .p = copy, .n = b->n };
    }
    *out = d;
    return KULA_OK;
}

void kula_driver_start(kula_driver *d) { start_height(d); }

void kula_driver_free(kula_driver *d)
{
    if (d == NULL)
        return;
    release_held(d);
    for (size_t i = 0; i < d->ncache; i++)
        free(d->cache[i].p);
    for (size_t i = 0; i < d->nheld_blocks; i++)
        free(d->held_blocks[i].p);
    for (size_t i = 0; i < d->nkept; i++)
        free(d->kept[i].mem);
    free(d->kept);
    free(d->cands);
    kula_ledger_free(d->view);
    kula_cons_free(d->cons);
    free(d);
}

bool kula_driver_voting(const kula_driver *d) { return d != NULL && d->voting; }
uint64_t kula_driver_evidence(const kula_driver *d) { return d != NULL ? d->ev.seen : 0; }
uint32_t kula_driver_round(const kula_driver *d)
{
    return d != NULL && d->cons != NULL ? kula_cons_round(d->cons) : 0;
}
kula_cons *kula_driver_machine(kula_driver *d) { return d->cons; }
