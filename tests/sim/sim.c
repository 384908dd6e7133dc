/* sim.c -- kula-sim: N validators of the real consensus machine
 * (node/consensus/consensus.c) over real chains, in one process, under a seeded
 * deterministic scheduler.
 *
 *   kula-sim --seed S            replay one seed (same output every run)
 *   kula-sim --seeds N [--from S] run N seeds, one summary line
 *   options: --validators N (4), --heights H (4), --break-locking (plant a
 *            bug: the lock rule off), --expect-violation (exit 0 only if
 *            some seed breaks agreement: checks the checker), --trace
 *
 *   100,000 seeds (tests/sim/README.md):  build/tests/kula-sim --seeds 100000
 *
 * Each node has its own in-memory chain (kula_chain_open_memory) on a
 * genesis whose validators' keys derive from the seed.  Proposers build
 * blocks of real signed transfers; every proposal is decoded, its
 * signature verified, and its block validated with kula_chain_check_block
 * before it is fed to the machine; a DECIDE commits the block with the
 * machine's commit.  Votes and proposals cross the network encoded and are
 * decoded and verified on arrival (verification results are cached across
 * nodes: each distinct signature is checked once).
 *
 * Faults, all chosen by the seed and all before the global stabilisation
 * time GST: message delay, loss, duplication (so reordering), a partition
 * that heals, a crash and restart of an honest node from its stored state
 * (committed blocks + commits, the last kula_cons_saved, and its
 * write-ahead log of the current height: the proposals' blocks and the
 * prevotes it received, the messages it signed), and one Byzantine
 * validator of less than 1/3 of the power: equivocating (two different
 * votes and proposals, one to each half of the network), always-nil, or
 * silent.  Nodes re-send their messages of the current height every second
 * (gossip) and fetch committed blocks from peers that are ahead (sync).
 *
 * Invariants, checked after every event: agreement (no two honest nodes
 * commit different blocks at one height), validity (every committed block
 * passed chain validation and its commit passes kula_commit_verify with
 * signatures), and progress (every honest node reaches the target height by
 * GST + PROGRESS_BOUND_MS of virtual time).  Virtual time only. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kula/chain/chain.h"
#include "kula/codec/codec.h"
#include "kula/consensus/consensus.h"
#include "kula/crypto/crypto.h"
#include "kula/base/error.h"
#include "kula/types/genesis.h"
#include "kula/ledger/ledger.h"
#include "kula/types/proposal.h"
#include "kula/types/types.h"

#define MAXN 16
#define MAXH 64
#define PROGRESS_BOUND_MS UINT64_C(120000) /* after GST, per run */
#define GOSSIP_MS 1000
#define TRACE_LINES 40

/* ---- PRNG: splitmix64 seeding xoshiro256** ---- */

typedef struct rng { uint64_t s[4]; } rng;

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [lo, hi]. */
static uint64_t rng_range(rng *r, uint64_t lo, uint64_t hi)
{
    return lo + rng_next(r) % (hi - lo + 1);
}

static bool rng_pct(rng *r, unsigned pct) { return rng_next(r) % 100 < pct; }

/* ---- options and the run's world ---- */

typedef struct opts {
    uint32_t n;
    uint64_t heights;
    bool break_locking;
    bool trace;
} opts;

enum byz_mode { BYZ_NONE = 0, BYZ_EQUIVOCATE = 1, BYZ_NIL = 2, BYZ_SILENT = 3 };
static const char *const byz_names[] = { "none", "equivocate", "nil", "silent" };

enum ev_kind { EV_MSG = 1, EV_TIMER, EV_GOSSIP, EV_CRASH, EV_RESTART };
enum msg_kind { M_PROPOSAL = 1, M_VOTE, M_SYNC_REQ, M_SYNC_RESP };

typedef struct event {
    uint64_t at, seq;
    uint8_t kind;
    uint32_t node;      /* receiver / owner */
    uint32_t from;
    uint32_t incarnation;
    uint8_t mkind;
    uint8_t *a; size_t alen; /* proposal / vote / block bytes (owned) */
    uint8_t *b; size_t blen; /* block / commit bytes (owned) */
    uint64_t h; uint32_t r; uint8_t step; /* timers; sync requests */
} event;

typedef struct blob { uint8_t *p; size_t n; kula_hash hash; uint64_t height; } blob;

typedef struct sent { uint8_t kind; uint8_t *a; size_t alen; uint8_t *b; size_t blen; uint64_t h; } sent;

#define OUTBOX 64
#define RECV 64
#define CACHE 32

typedef struct node {
    uint32_t id; /* member id = index + 1 */
    bool up;
    uint32_t incarnation;
    kula_chain *chain;
    kula_cons *cons;
    /* disk: survives a crash */
    blob blocks[MAXH + 1], commits[MAXH + 1]; /* committed, by height */
    uint64_t committed;
    kula_cons_saved saved;
    bool has_saved;
    blob cache[CACHE]; /* proposed blocks received (by hash) */
    uint32_t ncache;
    /* volatile */
    sent outbox[OUTBOX];
    uint32_t noutbox;
    sent recv[RECV]; /* prevotes received at this height (h: round) */
    kula_hash recv_hash[RECV];
    uint64_t recv_height[RECV];
    uint32_t nrecv;
    uint64_t last_sync_req;
} node;

typedef struct world {
    opts o;
    uint64_t seed;
    rng r;
    kula_genesis g;
    kula_seckey sk[MAXN + 1];
    kula_pubkey pk[MAXN + 1];
    node nodes[MAXN];
    uint32_t byz; /* node index, or MAXN */
    enum byz_mode mode;
    uint64_t now, seq, gst;
    unsigned loss_pct, dup_pct;
    uint64_t part_from, part_to;
    uint32_t part_mask; /* nodes on side A */
    uint32_t crash_node;
    uint64_t crash_at, restart_at;
    event *ev;
    size_t nev, capev;
    /* invariants */
    bool agreed[MAXH + 1];
    kula_hash agreed_hash[MAXH + 1];
    kula_hash verified_commits[MAXH * MAXN];
    uint32_t nverified_commits;
    /* signature cache: BLAKE2b(pk || digest || sig) of verified ones */
    kula_hash *sigcache;
    size_t nsig, capsig;
    /* figures */
    uint64_t msgs, faults, evidence, heights_committed;
    /* trace ring */
    char trace[TRACE_LINES][160];
    uint32_t ntrace;
    char failure[256];
} world;

static void trace(world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void trace(world *w, const char *fmt, ...)
{
    char line[160];
    va_list ap;
    va_start(ap, fmt);
    int k = snprintf(line, sizeof(line), "t=%" PRIu64 " ", w->now);
    vsnprintf(line + k, sizeof(line) - (size_t)k, fmt, ap);
    va_end(ap);
    if (w->o.trace)
        printf("  %s\n", line);
    memcpy(w->trace[w->ntrace % TRACE_LINES], line, sizeof(line));
    w->ntrace++;
}

static void fail(world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(world *w, const char *fmt, ...)
{
    if (w->failure[0] != '\0')
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->failure, sizeof(w->failure), fmt, ap);
    va_end(ap);
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "kula-sim: %s: %s\n", what, kula_strerror(rc));
    exit(2);
}

static uint8_t *dup_bytes(const void *p, size_t n)
{
    uint8_t *d = malloc(n ? n : 1);
    if (d == NULL)
        die("malloc", KULA_ENOMEM);
    if (n)
        memcpy(d, p, n);
    return d;
}

static void hex8(char *out, const kula_hash *h) { kula_hex_encode(out, h->b, 4); }

/* ---- event queue: a binary heap on (at, seq) ---- */

static bool ev_less(const event *a, const event *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void ev_push(world *w, event e)
{
    e.seq = w->seq++;
    if (w->nev == w->capev) {
        w->capev = w->capev ? w->capev * 2 : 256;
        w->ev = realloc(w->ev, w->capev * sizeof(*w->ev));
        if (w->ev == NULL)
            die("malloc", KULA_ENOMEM);
    }
    size_t i = w->nev++;
    w->ev[i] = e;
    while (i > 0 && ev_less(&w->ev[i], &w->ev[(i - 1) / 2])) {
        event t = w->ev[i];
        w->ev[i] = w->ev[(i - 1) / 2];
        w->ev[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static event ev_pop(world *w)
{
    event top = w->ev[0];
    w->ev[0] = w->ev[--w->nev];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < w->nev && ev_less(&w->ev[l], &w->ev[m]))
            m = l;
        if (r < w->nev && ev_less(&w->ev[r], &w->ev[m]))
            m = r;
        if (m == i)
            break;
        event t = w->ev[i];
        w->ev[i] = w->ev[m];
        w->ev[m] = t;
        i = m;
    }
    return top;
}

/* ---- signatures (deterministic: BIP-340 with zero aux) and the cache ---- */

static const uint8_t zero_aux[32];

static void sign_digest(world *w, uint32_t id, const kula_hash *d, kula_sig *sig)
{
    int rc = kula_sign_aux(sig, &w->sk[id], d->b, zero_aux);
    if (rc != 0)
        die("sign", rc);
}

static bool verify_cached(world *w, uint32_t id, const kula_hash *d, const kula_sig *sig)
{
    if (id < 1 || id > w->g.nmembers)
        return false;
    kula_hasher hs;
    kula_hash key;
    kula_hasher_init(&hs);
    kula_hasher_update(&hs, w->pk[id].b, KULA_PUBKEY_LEN);
    kula_hasher_update(&hs, d->b, KULA_HASH_LEN);
    kula_hasher_update(&hs, sig->b, KULA_SIG_LEN);
    kula_hasher_final(&hs, &key);
    for (size_t i = 0; i < w->nsig; i++)
        if (memcmp(w->sigcache[i].b, key.b, KULA_HASH_LEN) == 0)
            return true;
    if (!kula_verify(&w->pk[id], d->b, sig))
        return false;
    if (w->nsig == w->capsig) {
        w->capsig = w->capsig ? w->capsig * 2 : 256;
        w->sigcache = realloc(w->sigcache, w->capsig * sizeof(*w->sigcache));
        if (w->sigcache == NULL)
            die("malloc", KULA_ENOMEM);
    }
    w->sigcache[w->nsig++] = key;
    return true;
}

/* ---- network ---- */

static bool partitioned(const world *w, uint32_t a, uint32_t b)
{
    if (w->now < w->part_from || w->now >= w->part_to)
        return false;
    return ((w->part_mask >> a) & 1) != ((w->part_mask >> b) & 1);
}

/* Sends a message (bytes copied) from node `from` to node `to`, with the
 * network's delay, loss and duplication. */
static void send_to(world *w, uint32_t from, uint32_t to, uint8_t mkind, const uint8_t *a,
                    size_t alen, const uint8_t *b, size_t blen, uint64_t h)
{
    bool before = w->now < w->gst;
    int copies = 1;
    if (from != to && before) {
        if (partitioned(w, from, to) || rng_pct(&w->r, w->loss_pct)) {
            w->faults++;
            copies = 0;
        } else if (rng_pct(&w->r, w->dup_pct)) {
            w->faults++;
            copies = 2;
        }
    }
    for (int k = 0; k < copies; k++) {
        event e;
        memset(&e, 0, sizeof(e));
        e.kind = EV_MSG;
        e.at = w->now + (from == to ? 0 : before ? rng_range(&w->r, 1, 300) : rng_range(&w->r, 1, 50));
        e.node = to;
        e.from = from;
        e.mkind = mkind;
        e.a = dup_bytes(a, alen);
        e.alen = alen;
        if (b != NULL) {
            e.b = dup_bytes(b, blen);
            e.blen = blen;
        }
        e.h = h;
        ev_push(w, e);
        w->msgs++;
    }
}

/* Which peers get a message from a Byzantine equivocator's version `side`. */
static bool byz_side(const world *w, uint32_t to) { return (to % 2) == 0 || to == w->byz; }

static void broadcast(world *w, uint32_t from, uint8_t mkind, const uint8_t *a, size_t alen,
                      const uint8_t *b, size_t blen, int side)
{
    for (uint32_t to = 0; to < w->o.n; to++) {
        if (side >= 0 && byz_side(w, to) != (side == 0))
            continue;
        send_to(w, from, to, mkind, a, alen, b, blen, 0);
    }
}

static void remember(node *nd, uint8_t kind, const uint8_t *a, size_t alen, const uint8_t *b,
                     size_t blen, uint64_t h)
{
    if (nd->noutbox == OUTBOX) {
        free(nd->outbox[0].a);
        free(nd->outbox[0].b);
        memmove(&nd->outbox[0], &nd->outbox[1], (OUTBOX - 1) * sizeof(nd->outbox[0]));
        nd->noutbox--;
    }
    sent *s = &nd->outbox[nd->noutbox++];
    s->kind = kind;
    s->a = dup_bytes(a, alen);
    s->alen = alen;
    s->b = b ? dup_bytes(b, blen) : NULL;
    s->blen = blen;
    s->h = h;
}

/* Drops the node's own messages below height h. */
static void prune_outbox(node *nd, uint64_t h)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < nd->noutbox; i++) {
        if (nd->outbox[i].h < h) {
            free(nd->outbox[i].a);
            free(nd->outbox[i].b);
            continue;
        }
        nd->outbox[k++] = nd->outbox[i];
    }
    nd->noutbox = k;
}

/* Drops the kept prevotes below height h. */
static void prune_recv(node *nd, uint64_t h)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < nd->nrecv; i++) {
        if (nd->recv_height[i] < h) {
            free(nd->recv[i].a);
            continue;
        }
        nd->recv[k] = nd->recv[i];
        nd->recv_hash[k] = nd->recv_hash[i];
        nd->recv_height[k] = nd->recv_height[i];
        k++;
    }
    nd->nrecv = k;
}

/* Keeps a prevote for a block received at this height, to relay it as part
 * of a proof of lock (Tendermint's gossip of POL prevotes). */
static void keep_prevote(node *nd, const kula_vote *v, const uint8_t *a, size_t alen)
{
    if (v->type != KULA_VOTE_PREVOTE || !v->has_block || nd->nrecv == RECV)
        return;
    sent *s = &nd->recv[nd->nrecv];
    s->kind = M_VOTE;
    s->a = dup_bytes(a, alen);
    s->alen = alen;
    s->b = NULL;
    s->blen = 0;
    s->h = v->round;
    nd->recv_height[nd->nrecv] = v->height;
    nd->recv_hash[nd->nrecv++] = v->block_hash;
}

/* ---- blocks ---- */

static void cache_block(node *nd, const kula_hash *h, uint64_t height, const uint8_t *p, size_t n)
{
    for (uint32_t i = 0; i < nd->ncache; i++)
        if (memcmp(nd->cache[i].hash.b, h->b, KULA_HASH_LEN) == 0)
            return;
    if (nd->ncache == CACHE) {
        free(nd->cache[0].p);
        memmove(&nd->cache[0], &nd->cache[1], (CACHE - 1) * sizeof(nd->cache[0]));
        nd->ncache--;
    }
    blob *b = &nd->cache[nd->ncache++];
    b->p = dup_bytes(p, n);
    b->n = n;
    b->hash = *h;
    b->height = height;
}

static const blob *cached(const node *nd, const kula_hash *h)
{
    for (uint32_t i = 0; i < nd->ncache; i++)
        if (memcmp(nd->cache[i].hash.b, h->b, KULA_HASH_LEN) == 0)
            return &nd->cache[i];
    return NULL;
}

/* Validates block bytes as nd's next block.  Returns: true if valid and its
 * hash is want. */
static bool check_block(node *nd, const uint8_t *p, size_t n, const kula_hash *want)
{
    kula_chain_abandon_built(nd->chain);
    kula_hash h;
    kula_block_error e;
    int rc = kula_chain_check_block(nd->chain, p, n, NULL, &h, &e);
    kula_chain_abandon_built(nd->chain);
    return rc == 0 && memcmp(h.b, want->b, KULA_HASH_LEN) == 0;
}

/* Builds a block proposed by nd with a few signed transfers from nd's
 * member; variant changes its time, so an equivocator gets two blocks. */
static int build_block(world *w, node *nd, int variant, kula_buf *out, kula_hash *hash)
{
    kula_ledger *l = kula_chain_ledger(nd->chain);
    kula_member m;
    int rc = kula_ledger_member(l, nd->id, &m);
    if (rc != 0)
        return rc;
    uint32_t ntx = (uint32_t)rng_range(&w->r, 0, 3);
    kula_buf bytes[3], body;
    kula_tx txs[3];
    kula_candidate cands[3];
    kula_buf_init(&body);
    for (uint32_t i = 0; i < ntx; i++) {
        kula_buf_init(&bytes[i]);
        kula_tx tx;
        memset(&tx, 0, sizeof(tx));
        tx.kind = KULA_TX_TRANSFER;
        tx.from = nd->id;
        tx.nonce = m.nonce + 1 + i;
        tx.u.transfer.to = nd->id % w->o.n + 1;
        tx.u.transfer.amount = (int64_t)rng_range(&w->r, 1, 100);
        kula_buf_reset(&body);
        if ((rc = kula_tx_seal(&tx, &body)) != 0)
            die("seal", rc);
        kula_hash d;
        kula_sig sig;
        kula_tx_sighash(&d, &w->g.chain_id, &tx);
        sign_digest(w, nd->id, &d, &sig);
        kula_tx_add_sig(&tx, nd->id, &sig);
        if ((rc = kula_tx_encode(&bytes[i], &tx)) != 0)
            die("tx encode", rc);
        if ((rc = kula_tx_decode(&txs[i], bytes[i].data, bytes[i].len)) != 0)
            die("tx decode", rc);
        cands[i].bytes = bytes[i].data;
        cands[i].len = bytes[i].len;
        cands[i].tx = &txs[i];
        cands[i].verified = NULL;
        cands[i].result = 0;
    }
    kula_chain_abandon_built(nd->chain);
    uint64_t t = w->g.time_ms + w->now + (uint64_t)variant;
    rc = kula_chain_build_block(nd->chain, t, nd->id, cands, ntx, out, hash);
    kula_chain_abandon_built(nd->chain);
    for (uint32_t i = 0; i < ntx; i++)
        kula_buf_free(&bytes[i]);
    kula_buf_free(&body);
    return rc;
}

/* ---- invariants ---- */

static void record_commit(world *w, node *nd, uint64_t h, const kula_hash *hash,
                          const uint8_t *block, size_t blen, const uint8_t *cm, size_t cmlen)
{
    uint32_t i = nd->id - 1;
    bool honest = i != w->byz;
    char hx[9];
    hex8(hx, hash);
    trace(w, "node %u commits height %" PRIu64 " block %s", nd->id, h, hx);
    if (h > MAXH)
        die("height", KULA_ERANGE);
    nd->blocks[h].p = dup_bytes(block, blen);
    nd->blocks[h].n = blen;
    nd->blocks[h].hash = *hash;
    nd->commits[h].p = dup_bytes(cm, cmlen);
    nd->commits[h].n = cmlen;
    nd->committed = h;
    if (!honest)
        return;
    w->heights_committed++;
    /* Agreement. */
    if (!w->agreed[h]) {
        w->agreed[h] = true;
        w->agreed_hash[h] = *hash;
    } else if (memcmp(w->agreed_hash[h].b, hash->b, KULA_HASH_LEN) != 0) {
        char a[9];
        hex8(a, &w->agreed_hash[h]);
        fail(w, "AGREEMENT: node %u committed %s at height %" PRIu64
             ", another honest node committed %s", nd->id, hx, h, a);
    }
    /* Validity: the commit verifies against the set that signed it. */
    kula_hash ch;
    kula_hash_bytes(&ch, cm, cmlen);
    for (uint32_t k = 0; k < w->nverified_commits; k++)
        if (memcmp(w->verified_commits[k].b, ch.b, KULA_HASH_LEN) == 0)
            return;
    kula_commit *c = malloc(sizeof(*c));
    kula_valset *vs = malloc(sizeof(*vs));
    if (c == NULL || vs == NULL)
        die("malloc", KULA_ENOMEM);
    kula_ledger *l = kula_chain_ledger(nd->chain);
    int rc = kula_commit_decode(c, cm, cmlen);
    if (rc == 0)
        rc = kula_ledger_valset(l, KULA_VALSET_LAST, vs);
    if (rc == 0)
        rc = kula_commit_verify(c, &w->g.chain_id, vs, l, h, hash, true);
    if (rc != 0)
        fail(w, "VALIDITY: node %u's commit of height %" PRIu64 " does not verify: %s", nd->id, h,
             kula_errname(rc));
    else if (w->nverified_commits < MAXH * MAXN)
        w->verified_commits[w->nverified_commits++] = ch;
    free(c);
    free(vs);
}

/* ---- driving one node's machine ---- */

static void start_height(world *w, node *nd, const kula_cons_saved *saved);
static void handle_outputs(world *w, node *nd);

static void persist(node *nd)
{
    kula_cons_saved_get(nd->cons, &nd->saved);
    nd->has_saved = true;
}

static void send_vote(world *w, node *nd, const kula_vote *v, int side)
{
    kula_buf b;
    kula_buf_init(&b);
    kula_vote_encode(&b, v);
    broadcast(w, nd->id - 1, M_VOTE, b.data, b.len, NULL, 0, side);
    if (side <= 0)
        remember(nd, M_VOTE, b.data, b.len, NULL, 0, v->height);
    kula_buf_free(&b);
}

static void send_proposal(world *w, node *nd, const kula_block_proposal *p, const kula_buf *blk,
                          int side)
{
    kula_buf b;
    kula_buf_init(&b);
    kula_block_proposal_encode(&b, p);
    broadcast(w, nd->id - 1, M_PROPOSAL, b.data, b.len, blk->data, blk->len, side);
    if (side <= 0)
        remember(nd, M_PROPOSAL, b.data, b.len, blk->data, blk->len, p->height);
    kula_buf_free(&b);
}

static void sign_vote(world *w, kula_vote *v)
{
    kula_hash d;
    kula_vote_sighash(&d, &w->g.chain_id, v);
    sign_digest(w, v->validator, &d, &v->sig);
}

static void do_propose(world *w, node *nd, const kula_cons_out *o)
{
    uint32_t i = nd->id - 1;
    bool byz = i == w->byz;
    kula_buf blk;
    kula_buf_init(&blk);
    kula_hash hash;
    if (o->u.propose.reuse) {
        const blob *b = cached(nd, &o->u.propose.block_hash);
        if (b == NULL) {
            trace(w, "node %u cannot re-propose: block unknown", nd->id);
            kula_buf_free(&blk);
            return;
        }
        kula_buf_append(&blk, b->p, b->n);
        hash = b->hash;
    } else {
        int rc = build_block(w, nd, 0, &blk, &hash);
        if (rc != 0) {
            trace(w, "node %u cannot build: %s", nd->id, kula_errname(rc));
            kula_buf_free(&blk);
            return;
        }
    }
    cache_block(nd, &hash, o->u.propose.height, blk.data, blk.len);
    kula_block_proposal p;
    memset(&p, 0, sizeof(p));
    p.height = o->u.propose.height;
    p.round = o->u.propose.round;
    p.pol_round = o->u.propose.pol_round;
    p.block_hash = hash;
    p.proposer = nd->id;
    kula_hash d;
    kula_block_proposal_sighash(&d, &w->g.chain_id, &p);
    sign_digest(w, nd->id, &d, &p.sig);
    char hx[9];
    hex8(hx, &hash);
    trace(w, "node %u proposes h=%" PRIu64 " r=%u pol=%" PRId64 " %s", nd->id, p.height, p.round,
          p.pol_round, hx);
    /* Feed it back and persist before it leaves. */
    (void)kula_cons_on_proposal(nd->cons, &p, true);
    persist(nd);
    if (byz && w->mode == BYZ_SILENT) {
        kula_buf_free(&blk);
        return;
    }
    if (byz && w->mode == BYZ_EQUIVOCATE) {
        kula_buf blk2;
        kula_buf_init(&blk2);
        kula_hash h2;
        if (build_block(w, nd, 1, &blk2, &h2) == 0) {
            kula_block_proposal p2 = p;
            p2.block_hash = h2;
            p2.pol_round = -1;
            kula_block_proposal_sighash(&d, &w->g.chain_id, &p2);
            sign_digest(w, nd->id, &d, &p2.sig);
            send_proposal(w, nd, &p, &blk, 0);
            send_proposal(w, nd, &p2, &blk2, 1);
            w->faults++;
            kula_buf_free(&blk2);
            kula_buf_free(&blk);
            return;
        }
        kula_buf_free(&blk2);
    }
    send_proposal(w, nd, &p, &blk, -1);
    kula_buf_free(&blk);
}

static void do_vote(world *w, node *nd, kula_vote v)
{
    uint32_t i = nd->id - 1;
    bool byz = i == w->byz;
    if (byz && w->mode == BYZ_NIL) {
        v.has_block = false;
        memset(&v.block_hash, 0, sizeof(v.block_hash));
    }
    sign_vote(w, &v);
    (void)kula_cons_on_vote(nd->cons, &v);
    persist(nd);
    if (byz && w->mode == BYZ_SILENT)
        return;
    if (byz && w->mode == BYZ_EQUIVOCATE) {
        kula_vote v2 = v;
        if (v.has_block) {
            v2.has_block = false;
            memset(&v2.block_hash, 0, sizeof(v2.block_hash));
        } else {
            v2.has_block = true;
            /* The other block of the round, if it has one. */
            v2.block_hash = nd->ncache ? nd->cache[nd->ncache - 1].hash : v2.block_hash;
            v2.block_hash.b[0] ^= nd->ncache ? 0 : 1;
        }
        sign_vote(w, &v2);
        send_vote(w, nd, &v, 0);
        send_vote(w, nd, &v2, 1);
        w->faults++;
        return;
    }
    send_vote(w, nd, &v, -1);
}

static void do_decide(world *w, node *nd, const kula_cons_out *o)
{
    const blob *b = cached(nd, &o->u.decide.block_hash);
    char hx[9];
    hex8(hx, &o->u.decide.block_hash);
    if (b == NULL) {
        fail(w, "INTERNAL: node %u decided block %s it never validated", nd->id, hx);
        return;
    }
    kula_buf cm;
    kula_buf_init(&cm);
    kula_commit_encode(&cm, o->u.decide.commit);
    kula_chain_abandon_built(nd->chain);
    kula_hash h;
    kula_block_error e;
    int rc = kula_chain_check_block(nd->chain, b->p, b->n, NULL, &h, &e);
    if (rc == 0)
        rc = kula_chain_commit_built(nd->chain, cm.data, cm.len);
    if (rc != 0) {
        fail(w, "VALIDITY: node %u decided block %s at height %" PRIu64
             " that the chain refuses: %s (%s)", nd->id, hx, o->u.decide.height,
             kula_errname(rc), e.what);
        kula_buf_free(&cm);
        return;
    }
    uint8_t *bp = dup_bytes(b->p, b->n);
    size_t bn = b->n;
    record_commit(w, nd, o->u.decide.height, &o->u.decide.block_hash, bp, bn, cm.data, cm.len);
    free(bp);
    kula_buf_free(&cm);
    start_height(w, nd, NULL);
}

/* Feeds a validated proposal (block bytes at hand) to nd's machine. */
static void feed_proposal(world *w, node *nd, const kula_block_proposal *p, const uint8_t *blk,
                          size_t blen)
{
    uint64_t hc = kula_cons_height(nd->cons);
    bool valid = false;
    if (p->height == hc && !kula_cons_decided(nd->cons))
        valid = check_block(nd, blk, blen, &p->block_hash);
    if (p->height == hc || p->height == hc + 1)
        cache_block(nd, &p->block_hash, p->height, blk, blen);
    (void)kula_cons_on_proposal(nd->cons, p, valid);
    persist(nd);
}

static void handle_outputs(world *w, node *nd)
{
    kula_cons_out o;
    while (nd->up && kula_cons_next(nd->cons, &o)) {
        switch ((enum kula_cons_out_kind)o.kind) {
        case KULA_CONS_OUT_PROPOSE:
            do_propose(w, nd, &o);
            break;
        case KULA_CONS_OUT_VOTE:
            do_vote(w, nd, o.u.vote);
            break;
        case KULA_CONS_OUT_TIMEOUT: {
            event e;
            memset(&e, 0, sizeof(e));
            e.kind = EV_TIMER;
            e.at = w->now + o.u.timeout.duration_ms;
            e.node = nd->id - 1;
            e.incarnation = nd->incarnation;
            e.h = o.u.timeout.height;
            e.r = o.u.timeout.round;
            e.step = o.u.timeout.step;
            ev_push(w, e);
            break;
        }
        case KULA_CONS_OUT_DECIDE:
            do_decide(w, nd, &o);
            return; /* start_height cleared the queue and handled its own */
        case KULA_CONS_OUT_EVIDENCE:
            w->evidence++;
            trace(w, "node %u: evidence against validator %u", nd->id, o.u.evidence.a.validator);
            break;
        case KULA_CONS_OUT_RECHECK: {
            const blob *b = cached(nd, &o.u.recheck.block_hash);
            if (b != NULL) {
                uint8_t *bp = dup_bytes(b->p, b->n);
                size_t bn = b->n;
                feed_proposal(w, nd, &o.u.recheck, bp, bn);
                free(bp);
            }
            break;
        }
        }
    }
}

static void valset_of(node *nd, kula_valset *vs)
{
    int rc = kula_ledger_valset(kula_chain_ledger(nd->chain), KULA_VALSET_NEXT, vs);
    if (rc != 0)
        die("valset", rc);
}

static void start_height(world *w, node *nd, const kula_cons_saved *saved)
{
    static kula_valset vs;
    valset_of(nd, &vs);
    uint64_t h = kula_chain_height(nd->chain) + 1;
    prune_outbox(nd, h);
    prune_recv(nd, h);
    int rc = kula_cons_start_height(nd->cons, h, &vs, true, nd->id, saved);
    if (rc != 0)
        die("start_height", rc);
    persist(nd);
    handle_outputs(w, nd);
}

/* ---- node life ---- */

static void node_boot(world *w, node *nd)
{
    char err[256];
    int rc = kula_chain_open_memory(&nd->chain, &w->g, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "kula-sim: chain: %s\n", err);
        exit(2);
    }
    /* Replay the committed blocks from "disk" (verified when committed). */
    for (uint64_t h = 1; h <= nd->committed; h++) {
        kula_block_error e;
        rc = kula_chain_apply_block(nd->chain, nd->blocks[h].p, nd->blocks[h].n,
                                    nd->commits[h].p, nd->commits[h].n, KULA_APPLY_SKIP_SIGS, &e);
        if (rc != 0)
            die("replay", rc);
    }
    kula_cons_params cp;
    kula_cons_params_from(&cp, &w->g.params);
    if ((rc = kula_cons_new(&nd->cons, &cp)) != 0)
        die("cons", rc);
    if (w->o.break_locking)
        kula_cons_debug_break_locking(nd->cons, true);
    nd->up = true;
    nd->incarnation++;
    nd->last_sync_req = 0;
    kula_cons_saved s = nd->saved;
    start_height(w, nd, nd->has_saved ? &s : NULL);
    event e;
    memset(&e, 0, sizeof(e));
    e.kind = EV_GOSSIP;
    e.at = w->now + GOSSIP_MS;
    e.node = nd->id - 1;
    e.incarnation = nd->incarnation;
    ev_push(w, e);
}

static void node_down(node *nd)
{
    kula_cons_free(nd->cons);
    kula_chain_free(nd->chain);
    nd->cons = NULL;
    nd->chain = NULL;
    nd->up = false;
    /* The outbox (own signed messages) and the prevotes received are the
     * node's write-ahead log: they survive the crash. */
}

static void sync_request(world *w, node *nd, uint32_t peer)
{
    if (nd->last_sync_req != 0 && w->now < nd->last_sync_req + 200)
        return;
    nd->last_sync_req = w->now;
    uint64_t want = kula_chain_height(nd->chain) + 1;
    send_to(w, nd->id - 1, peer, M_SYNC_REQ, (const uint8_t *)"", 0, NULL, 0, want);
}

static void deliver(world *w, event *e)
{
    node *nd = &w->nodes[e->node];
    if (!nd->up)
        return;
    uint64_t hc = kula_cons_height(nd->cons);
    switch ((enum msg_kind)e->mkind) {
    case M_VOTE: {
        kula_vote v;
        if (kula_vote_decode(&v, e->a, e->alen) != 0)
            return;
        if (v.height > hc && e->from != e->node)
            sync_request(w, nd, e->from);
        if (v.height < hc || v.height > hc + 1)
            return;
        kula_hash d;
        kula_vote_sighash(&d, &w->g.chain_id, &v);
        if (!verify_cached(w, v.validator, &d, &v.sig))
            return;
        /* An equivocator's second vote still counts (EVOTED), so it is
         * part of any proof of lock this node relays. */
        int vrc = kula_cons_on_vote(nd->cons, &v);
        if (vrc == 0 || vrc == KULA_EVOTED)
            keep_prevote(nd, &v, e->a, e->alen);
        persist(nd);
        break;
    }
    case M_PROPOSAL: {
        kula_block_proposal p;
        if (kula_block_proposal_decode(&p, e->a, e->alen) != 0)
            return;
        if (p.height > hc && e->from != e->node)
            sync_request(w, nd, e->from);
        if (p.height < hc || p.height > hc + 1)
            return;
        kula_hash d;
        kula_block_proposal_sighash(&d, &w->g.chain_id, &p);
        if (!verify_cached(w, p.proposer, &d, &p.sig))
            return;
        feed_proposal(w, nd, &p, e->b, e->blen);
        break;
    }
    case M_SYNC_REQ:
        if (e->h >= 1 && e->h <= nd->committed && e->from != e->node)
            send_to(w, e->node, e->from, M_SYNC_RESP, nd->blocks[e->h].p, nd->blocks[e->h].n,
                    nd->commits[e->h].p, nd->commits[e->h].n, e->h);
        return;
    case M_SYNC_RESP: {
        if (e->h != kula_chain_height(nd->chain) + 1)
            return;
        kula_chain_abandon_built(nd->chain);
        kula_block_error be;
        int rc = kula_chain_apply_block(nd->chain, e->a, e->alen, e->b, e->blen, 0, &be);
        if (rc != 0) {
            trace(w, "node %u refuses synced block %" PRIu64 ": %s", nd->id, e->h, be.what);
            return;
        }
        kula_block blk;
        if (kula_block_decode(&blk, e->a, e->alen) != 0)
            die("synced block", KULA_EBLOCK);
        kula_hash hash = blk.hash;
        kula_block_free(&blk);
        trace(w, "node %u syncs height %" PRIu64 " from node %u", nd->id, e->h, e->from + 1);
        record_commit(w, nd, e->h, &hash, e->a, e->alen, e->b, e->blen);
        start_height(w, nd, NULL);
        return;
    }
    }
    handle_outputs(w, nd);
}

static void gossip(world *w, node *nd)
{
    uint64_t hc = kula_cons_height(nd->cons);
    for (uint32_t i = 0; i < nd->noutbox; i++) {
        const sent *s = &nd->outbox[i];
        if (s->h != hc)
            continue;
        broadcast(w, nd->id - 1, s->kind, s->a, s->alen, s->b, s->blen, -1);
    }
    /* Relay the proof of lock of the valid value: the prevotes of
     * validRound for it. */
    kula_cons_saved sv;
    kula_cons_saved_get(nd->cons, &sv);
    for (uint32_t i = 0; sv.valid_round >= 0 && i < nd->nrecv; i++)
        if (nd->recv_height[i] == hc && nd->recv[i].h == (uint64_t)sv.valid_round &&
            memcmp(nd->recv_hash[i].b, sv.valid_hash.b, KULA_HASH_LEN) == 0)
            broadcast(w, nd->id - 1, M_VOTE, nd->recv[i].a, nd->recv[i].alen, NULL, 0, -1);
}

/* ---- one run ---- */

static void make_world(world *w, uint64_t seed, const opts *o)
{
    memset(w, 0, sizeof(*w));
    w->o = *o;
    w->seed = seed;
    rng_seed(&w->r, seed);
    uint32_t n = o->n;
    kula_genesis *g = &w->g;
    snprintf(g->network, sizeof(g->network), "kula-sim");
    snprintf(g->unit, sizeof(g->unit), "KULA");
    g->decimals = 2;
    g->time_ms = UINT64_C(1767225600000); /* 2026-01-01 */
    g->params.default_credit_limit = 100000;
    g->params.threshold_num = 2;
    g->params.threshold_den = 3;
    g->params.proposal_ttl = 1000;
    g->params.block_interval_ms = 1000;
    g->params.timeout_propose_ms = 1000;
    g->params.timeout_vote_ms = 500;
    g->params.timeout_delta_ms = 250;
    g->params.max_block_txs = 100;
    g->nmembers = n;
    g->members = calloc(n, sizeof(*g->members));
    if (g->members == NULL)
        die("malloc", KULA_ENOMEM);
    bool unequal = rng_pct(&w->r, 50);
    uint64_t total = 0;
    for (uint32_t i = 1; i <= n; i++) {
        char s[64];
        int k = snprintf(s, sizeof(s), "kula-sim/%" PRIu64 "/%u", seed, i);
        kula_hash h;
        kula_hash_bytes(&h, s, (size_t)k);
        memcpy(w->sk[i].b, h.b, KULA_SECKEY_LEN);
        if (kula_key_public(&w->pk[i], &w->sk[i]) != 0)
            die("key", KULA_EBADKEY);
        kula_genesis_member *m = &g->members[i - 1];
        m->pubkey = w->pk[i];
        snprintf(m->name, sizeof(m->name), "validator-%u", i);
        snprintf(m->sector, sizeof(m->sector), "sim");
        m->credit_limit = 100000;
        m->voting_power = unequal ? rng_range(&w->r, 1, 4) : 1;
        total += m->voting_power;
    }
    /* The Byzantine validator: less than 1/3 of the power, or none. */
    w->mode = (enum byz_mode)rng_range(&w->r, 0, 3);
    w->byz = MAXN;
    if (w->mode != BYZ_NONE) {
        uint32_t cand = (uint32_t)rng_range(&w->r, 0, n - 1);
        if (g->members[cand].voting_power * 3 >= total) {
            /* Make it small enough: power 1 and the others at least 1. */
            total -= g->members[cand].voting_power - 1;
            g->members[cand].voting_power = 1;
        }
        if (3 < total)
            w->byz = cand;
        else
            w->mode = BYZ_NONE;
    }
    char err[256];
    if (kula_genesis_validate(g, err, sizeof(err)) != 0) {
        fprintf(stderr, "kula-sim: genesis: %s\n", err);
        exit(2);
    }
    kula_buf b;
    kula_buf_init(&b);
    kula_genesis_encode(&b, g);
    kula_hash_bytes(&g->chain_id, b.data, b.len);
    kula_buf_free(&b);
    /* Faults before GST. */
    w->gst = rng_range(&w->r, 0, 20000);
    w->loss_pct = (unsigned)rng_range(&w->r, 0, 20);
    w->dup_pct = (unsigned)rng_range(&w->r, 0, 10);
    if (rng_pct(&w->r, 50) && w->gst > 1000) {
        w->part_from = rng_range(&w->r, 0, w->gst / 2);
        w->part_to = rng_range(&w->r, w->part_from, w->gst);
        w->part_mask = (uint32_t)rng_range(&w->r, 1, (UINT64_C(1) << n) - 2);
    }
    w->crash_node = MAXN;
    if (rng_pct(&w->r, 50) && w->gst > 1000) {
        uint32_t cn = (uint32_t)rng_range(&w->r, 0, n - 1);
        if (cn != w->byz) {
            w->crash_node = cn;
            w->crash_at = rng_range(&w->r, 0, w->gst / 2);
            w->restart_at = rng_range(&w->r, w->crash_at + 1, w->gst);
        }
    }
    for (uint32_t i = 0; i < n; i++)
        w->nodes[i].id = i + 1;
}

static void free_world(world *w)
{
    for (uint32_t i = 0; i < w->o.n; i++) {
        node *nd = &w->nodes[i];
        if (nd->up)
            node_down(nd);
        for (uint64_t h = 0; h <= MAXH; h++) {
            free(nd->blocks[h].p);
            free(nd->commits[h].p);
        }
        for (uint32_t k = 0; k < nd->ncache; k++)
            free(nd->cache[k].p);
    }
    for (size_t i = 0; i < w->nev; i++) {
        free(w->ev[i].a);
        free(w->ev[i].b);
    }
    free(w->ev);
    free(w->sigcache);
    for (uint32_t i = 0; i < w->o.n; i++) {
        prune_recv(&w->nodes[i], UINT64_MAX);
        prune_outbox(&w->nodes[i], UINT64_MAX);
    }
    kula_genesis_free(&w->g);
}

static bool all_done(const world *w)
{
    for (uint32_t i = 0; i < w->o.n; i++)
        if (i != w->byz && w->nodes[i].committed < w->o.heights)
            return false;
    return true;
}

/* Runs one seed.  Returns: 0 if every invariant held, 1 otherwise. */
static int run(uint64_t seed, const opts *o, world *w, bool print)
{
    make_world(w, seed, o);
    if (print) {
        printf("seed %" PRIu64 ": %u validators, powers", seed, o->n);
        for (uint32_t i = 0; i < o->n; i++)
            printf(" %" PRIu64, w->g.members[i].voting_power);
        printf("; byzantine %s", byz_names[w->mode]);
        if (w->byz != MAXN)
            printf(" (node %u)", w->byz + 1);
        printf("; GST %" PRIu64 " ms, loss %u%%, dup %u%%", w->gst, w->loss_pct, w->dup_pct);
        if (w->part_to > w->part_from)
            printf(", partition %" PRIu64 "-%" PRIu64 " ms", w->part_from, w->part_to);
        if (w->crash_node != MAXN)
            printf(", node %u down %" PRIu64 "-%" PRIu64 " ms", w->crash_node + 1, w->crash_at,
                   w->restart_at);
        printf("\n");
    }
    if (w->crash_node != MAXN) {
        event e;
        memset(&e, 0, sizeof(e));
        e.kind = EV_CRASH;
        e.at = w->crash_at;
        e.node = w->crash_node;
        ev_push(w, e);
        e.kind = EV_RESTART;
        e.at = w->restart_at;
        ev_push(w, e);
    }
    for (uint32_t i = 0; i < o->n; i++)
        node_boot(w, &w->nodes[i]);
    uint64_t deadline = w->gst + PROGRESS_BOUND_MS;
    while (w->failure[0] == '\0' && !all_done(w)) {
        if (w->nev == 0) {
            fail(w, "PROGRESS: no events left");
            break;
        }
        event e = ev_pop(w);
        w->now = e.at;
        if (w->now > deadline) {
            fail(w, "PROGRESS: honest nodes not at height %" PRIu64 " by GST + %" PRIu64 " ms",
                 o->heights, PROGRESS_BOUND_MS);
            free(e.a);
            free(e.b);
            break;
        }
        node *nd = &w->nodes[e.node];
        switch ((enum ev_kind)e.kind) {
        case EV_MSG:
            deliver(w, &e);
            break;
        case EV_TIMER:
            if (nd->up && e.incarnation == nd->incarnation) {
                (void)kula_cons_on_timeout(nd->cons, e.step, e.h, e.r);
                persist(nd);
                handle_outputs(w, nd);
            }
            break;
        case EV_GOSSIP:
            if (nd->up && e.incarnation == nd->incarnation) {
                gossip(w, nd);
                e.at = w->now + GOSSIP_MS;
                e.a = e.b = NULL;
                ev_push(w, e);
            }
            break;
        case EV_CRASH:
            trace(w, "node %u crashes", nd->id);
            w->faults++;
            node_down(nd);
            break;
        case EV_RESTART:
            trace(w, "node %u restarts at height %" PRIu64 ", saved round %u step %u", nd->id,
                  nd->committed + 1, nd->saved.round, nd->saved.step);
            node_boot(w, nd);
            break;
        }
        free(e.a);
        free(e.b);
    }
    int rc = w->failure[0] != '\0';
    if (print || rc) {
        if (rc) {
            printf("FAIL seed %" PRIu64 ": %s\n", seed, w->failure);
            uint32_t from = w->ntrace > TRACE_LINES ? w->ntrace - TRACE_LINES : 0;
            for (uint32_t k = from; k < w->ntrace; k++)
                printf("  %s\n", w->trace[k % TRACE_LINES]);
            for (uint32_t i = 0; i < o->n; i++) {
                const node *nd = &w->nodes[i];
                if (!nd->up) {
                    printf("  node %u: down\n", nd->id);
                    continue;
                }
                kula_cons_saved sv;
                kula_cons_saved_get(nd->cons, &sv);
                printf("  node %u: height %" PRIu64 " round %u step %u locked %" PRId64
                       " valid %" PRId64 "%s\n", nd->id, sv.height, sv.round, sv.step,
                       sv.locked_round, sv.valid_round, i == w->byz ? " (byzantine)" : "");
            }
        } else {
            printf("ok: %" PRIu64 " heights by every honest node at t=%" PRIu64
                   " ms, %" PRIu64 " messages, %" PRIu64 " faults, %" PRIu64 " evidence\n",
                   o->heights, w->now, w->msgs, w->faults, w->evidence);
        }
    }
    return rc;
}

static void usage(void)
{
    fprintf(stderr, "usage: kula-sim (--seed S | --seeds N [--from S]) [--validators N] "
                    "[--heights H] [--break-locking] [--expect-violation] [--trace]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    opts o = { .n = 4, .heights = 4 };
    uint64_t seed = 0, nseeds = 0, from = 1;
    bool one = false, expect_violation = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--seed") == 0 && v) {
            seed = strtoull(v, NULL, 10);
            one = true;
            i++;
        } else if (strcmp(a, "--seeds") == 0 && v) {
            nseeds = strtoull(v, NULL, 10);
            i++;
        } else if (strcmp(a, "--from") == 0 && v) {
            from = strtoull(v, NULL, 10);
            i++;
        } else if (strcmp(a, "--validators") == 0 && v) {
            o.n = (uint32_t)strtoul(v, NULL, 10);
            i++;
        } else if (strcmp(a, "--heights") == 0 && v) {
            o.heights = strtoull(v, NULL, 10);
            i++;
        } else if (strcmp(a, "--break-locking") == 0) {
            o.break_locking = true;
        } else if (strcmp(a, "--expect-violation") == 0) {
            expect_violation = true;
        } else if (strcmp(a, "--trace") == 0) {
            o.trace = true;
        } else {
            usage();
        }
    }
    if ((!one && nseeds == 0) || o.n < 1 || o.n > MAXN || o.heights < 1 || o.heights > MAXH)
        usage();
    if (kula_crypto_init() != 0)
        die("crypto", KULA_ECRYPTO);
    static world w;
    if (one) {
        int rc = run(seed, &o, &w, true);
        free_world(&w);
        return rc;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t failed = 0, agreement = 0, heights = 0, msgs = 0, faults = 0, evidence = 0;
    for (uint64_t s = from; s < from + nseeds; s++) {
        int rc = run(s, &o, &w, false);
        failed += rc != 0;
        agreement += rc != 0 && strncmp(w.failure, "AGREEMENT", 9) == 0;
        heights += w.heights_committed;
        msgs += w.msgs;
        faults += w.faults;
        evidence += w.evidence;
        free_world(&w);
        if (expect_violation && agreement > 0)
            break;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("kula-sim: %" PRIu64 " seeds from %" PRIu64 ", %" PRIu64 " failed (%" PRIu64
           " agreement); %" PRIu64 " heights committed, %" PRIu64 " messages, %" PRIu64
           " faults injected, %" PRIu64 " evidence; %.1f s%s\n",
           nseeds, from, failed, agreement, heights, msgs, faults, evidence, secs,
           o.break_locking ? " [--break-locking]" : "");
    if (expect_violation)
        return agreement > 0 ? 0 : 1;
    return failed ? 1 : 0;
}
