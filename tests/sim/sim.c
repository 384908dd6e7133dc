/* sim.c -- kula-sim: N validators, each kulad's own consensus driver
 * (node/consensus/driver.c, which runs node/consensus/consensus.c) over a
 * real in-memory chain and mempool, in one process, under a seeded
 * deterministic scheduler.
 *
 *   kula-sim --seed S            replay one seed (same output every run)
 *   kula-sim --seeds N [--from S] run N seeds, one summary line
 *   options: --validators N (4; 1 to 16: with 1, no partition and no
 *            Byzantine node), --heights H (4; 1 to 64), --break-locking (plant a
 *            bug: the lock rule off), --forge (the Byzantine node, where
 *            the seed has one, forges instead: its proposals carry an
 *            honest node's transfer with a signature that does not verify,
 *            and every transfer is gossiped to every node), --expect-violation (exit 0 only if
 *            some seed breaks agreement: checks the checker), --trace
 *
 *   100,000 seeds (tests/sim/README.md):  build/tests/kula-sim --seeds 100000
 *
 * This file is only the world: the driver's io table (kula_driver_io) made
 * of virtual time, an event queue for timers and messages, deterministic
 * signatures (BIP-340 with zero aux) and a signature cache shared by the
 * nodes (each distinct signature is checked once).  Everything kulad does
 * with a proposal, a vote, a timeout or a decision is the driver's code.
 * Each node's member keeps a few signed transfers in its mempool, so the
 * blocks the drivers build carry real transactions; a node drops messages
 * it has seen, as kulad's p2p layer does.
 *
 * Faults, all chosen by the seed and all before the global stabilisation
 * time GST: message delay, loss, duplication (so reordering), a partition
 * that heals, a crash and restart of an honest node from what kulad keeps
 * on disk (committed blocks and commits, and the last saved consensus
 * state: nothing else), and one Byzantine validator of less than 1/3 of the
 * power whose outgoing messages are rewritten: equivocating (two different
 * votes and proposals, one to each half of the network, the second block
 * built on a chain of its own), always-nil, or silent.  Nodes send the
 * consensus messages of their current height again every second (the
 * driver's regossip) and fetch committed blocks from peers that are ahead
 * (sync).
 *
 * Invariants, checked after every event: agreement (no two honest nodes
 * commit different blocks at one height), validity (every committed block
 * passed chain validation, every signature of its transactions verifies,
 * and its commit passes kula_commit_verify with signatures), progress (every honest node reaches the target height by
 * GST + PROGRESS_BOUND_MS of virtual time), and no honest node punishes
 * another.  Virtual time only. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kula/chain/chain.h"
#include "kula/codec/codec.h"
#include "kula/chain/mempool.h"
#include "kula/consensus/consensus.h"
#include "kula/consensus/driver.h"
#include "kula/crypto/crypto.h"
#include "kula/base/error.h"
#include "kula/base/log.h"
#include "kula/types/genesis.h"
#include "kula/ledger/ledger.h"
#include "kula/types/proposal.h"
#include "kula/types/types.h"
#include "consensus/consensus_testing.h"

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
    bool forge;
    bool trace;
} opts;

enum byz_mode { BYZ_NONE = 0, BYZ_EQUIVOCATE = 1, BYZ_NIL = 2, BYZ_SILENT = 3, BYZ_FORGE = 4 };
static const char *const byz_names[] = { "none", "equivocate", "nil", "silent", "forge" };

enum ev_kind { EV_MSG = 1, EV_TIMER, EV_GOSSIP, EV_CRASH, EV_RESTART };
enum msg_kind { M_PROPOSAL = 1, M_VOTE, M_EVIDENCE, M_TX, M_SYNC_REQ, M_SYNC_RESP };

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

typedef struct blob { uint8_t *p; size_t n; kula_hash hash; } blob;

#define SEEN 4096 /* slots of a node's seen filter: direct-mapped, may forget */

struct world;

/* One validator: kulad's consensus driver (node/consensus/driver.c) on an
 * in-memory chain and mempool, its io table made of this file's virtual
 * clock, event queue and network. */
typedef struct node {
    struct world *w;
    uint32_t id; /* member id = index + 1; also its peer id */
    bool up;
    uint32_t incarnation;
    kula_chain *chain;
    kula_mempool *mempool;
    kula_driver *drv;
    uint32_t timer_gen[2]; /* an armed timer's event carries its generation */
    /* disk: survives a crash (as kulad's store and consensus.state) */
    blob blocks[MAXH + 1], commits[MAXH + 1]; /* committed, by height */
    uint64_t committed;
    kula_cons_saved saved;
    bool has_saved;
    kula_buf held_file; /* as kulad's consensus.blocks (io.save_blocks) */
    uint64_t last_sync_req;
    kula_hash seen[SEEN]; /* messages received, by digest (kulad's seen filter) */
    /* a Byzantine equivocator's second chain, to build its second blocks,
     * and the second proposal it last sent (so that it sends the same again) */
    kula_chain *shadow;
    kula_buf eq_prop, eq_block;
    uint64_t eq_height;
    uint32_t eq_round;
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
    uint32_t solo; /* the node index holding > 2/3 of the power alone, or MAXN */
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

static bool verify_cached(world *w, const kula_pubkey *pk, const kula_hash *d, const kula_sig *sig)
{
    kula_hasher hs;
    kula_hash key;
    kula_hasher_init(&hs);
    kula_hasher_update(&hs, pk->b, KULA_PUBKEY_LEN);
    kula_hasher_update(&hs, d->b, KULA_HASH_LEN);
    kula_hasher_update(&hs, sig->b, KULA_SIG_LEN);
    kula_hasher_final(&hs, &key);
    for (size_t i = 0; i < w->nsig; i++)
        if (memcmp(w->sigcache[i].b, key.b, KULA_HASH_LEN) == 0)
            return true;
    if (!kula_verify(pk, d->b, sig))
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
    /* Validity: every signature of every transaction verifies (the
     * members' keys never change here). */
    kula_block b;
    if (kula_block_decode(&b, block, blen) != 0) {
        fail(w, "VALIDITY: node %u committed a block that does not decode at height %" PRIu64,
             nd->id, h);
        return;
    }
    for (uint32_t t = 0; t < b.ntxs; t++) {
        kula_tx tx;
        kula_hash d;
        bool ok = kula_tx_decode(&tx, b.txs[t], b.tx_lens[t]) == 0;
        if (ok)
            kula_tx_sighash(&d, &w->g.chain_id, &tx);
        for (uint32_t k = 0; ok && k < tx.nsigs; k++)
            ok = tx.sigs[k].signer >= 1 && tx.sigs[k].signer <= w->o.n &&
                 verify_cached(w, &w->pk[tx.sigs[k].signer], &d, &tx.sigs[k].sig);
        if (!ok)
            fail(w, "VALIDITY: node %u committed transaction %u of height %" PRIu64
                 " with a signature that does not verify", nd->id, t, h);
    }
    kula_block_free(&b);
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

/* ---- transactions: what a business's client would submit ---- */

/* Keeps 0 to 3 (by the seed) of nd's member's own transfers waiting in its
 * mempool, so that its blocks carry real signed transactions. */
static void top_up(world *w, node *nd)
{
    uint32_t want = (uint32_t)rng_range(&w->r, 0, 3);
    kula_ledger *l = kula_chain_ledger(nd->chain);
    kula_buf body, bytes;
    kula_buf_init(&body);
    kula_buf_init(&bytes);
    while (kula_mempool_size(nd->mempool) < want) {
        kula_tx tx;
        memset(&tx, 0, sizeof(tx));
        tx.kind = KULA_TX_TRANSFER;
        tx.from = nd->id;
        tx.nonce = kula_mempool_next_nonce(nd->mempool, l, nd->id);
        tx.u.transfer.to = nd->id % w->o.n + 1;
        tx.u.transfer.amount = (int64_t)rng_range(&w->r, 1, 100);
        kula_buf_reset(&body);
        kula_buf_reset(&bytes);
        int rc = kula_tx_seal(&tx, &body);
        kula_hash d;
        kula_sig sig;
        kula_tx_sighash(&d, &w->g.chain_id, &tx);
        sign_digest(w, nd->id, &d, &sig);
        if (rc == 0)
            rc = kula_tx_add_sig(&tx, nd->id, &sig);
        if (rc == 0)
            rc = kula_tx_encode(&bytes, &tx);
        if (rc != 0)
            die("tx", rc);
        const uint8_t *p = bytes.data;
        size_t n = bytes.len;
        int result;
        kula_mempool_add_batch(nd->mempool, l, NULL, &p, &n, 1, &result, NULL);
        if (result != 0) {
            trace(w, "node %u: own transfer refused: %s", nd->id, kula_errname(result));
            break;
        }
        if (w->o.forge) /* gossiped, as kulad does: every node holds it */
            for (uint32_t to = 0; to < w->o.n; to++)
                if (to != nd->id - 1)
                    send_to(w, nd->id - 1, to, M_TX, p, n, NULL, 0, 0);
    }
    kula_buf_free(&body);
    kula_buf_free(&bytes);
}

/* ---- a node's io table: virtual time, the event queue, the network ---- */

static uint64_t io_now_ms(void *ctx)
{
    node *nd = ctx;
    return nd->w->now;
}

static uint64_t io_wall_ms(void *ctx)
{
    node *nd = ctx;
    return nd->w->g.time_ms + nd->w->now;
}

/* A timer is an event carrying its generation: arming again or disarming
 * makes the earlier event stale. */
static void io_arm(void *ctx, enum kula_driver_timer t, uint64_t delay_ms)
{
    node *nd = ctx;
    event e;
    memset(&e, 0, sizeof(e));
    e.kind = EV_TIMER;
    e.at = nd->w->now + delay_ms;
    e.node = nd->id - 1;
    e.incarnation = nd->incarnation;
    e.step = (uint8_t)t;
    e.r = ++nd->timer_gen[t];
    ev_push(nd->w, e);
}

static void io_disarm(void *ctx, enum kula_driver_timer t)
{
    node *nd = ctx;
    nd->timer_gen[t]++;
}

static int io_sign(void *ctx, const kula_hash *digest, kula_sig *sig)
{
    node *nd = ctx;
    sign_digest(nd->w, nd->id, digest, sig);
    return 0;
}

static bool io_verify(void *ctx, const kula_pubkey *pk, const kula_hash *digest,
                      const kula_sig *sig)
{
    node *nd = ctx;
    return verify_cached(nd->w, pk, digest, sig);
}

static int io_save(void *ctx, const kula_cons_saved *st)
{
    node *nd = ctx;
    nd->saved = *st;
    nd->has_saved = true;
    return 0;
}

static int io_save_blocks(void *ctx, const kula_held_block *b, size_t n)
{
    node *nd = ctx;
    return kula_held_blocks_encode(&nd->held_file, b, n);
}

/* Sends m from nd to the other nodes but peer `except`; with side 0 or 1,
 * to one half of the network only (an equivocator's two versions). */
/* nd's seen-filter slot for a message, and the message's digest in h. */
static kula_hash *seen_slot(node *nd, uint8_t mkind, const uint8_t *a, size_t alen,
                            const uint8_t *b, size_t blen, kula_hash *h)
{
    kula_hasher hs;
    kula_hasher_init(&hs);
    kula_hasher_update(&hs, &mkind, 1);
    kula_hasher_update(&hs, a, alen);
    if (b != NULL)
        kula_hasher_update(&hs, b, blen);
    kula_hasher_final(&hs, h);
    return &nd->seen[(h->b[0] | (uint32_t)h->b[1] << 8) % SEEN];
}

/* Remembers a message nd sends: a consensus message counts as seen once
 * the node takes it, which is when it relays it (kula/net/p2p.h). */
static void seen_add(node *nd, uint8_t mkind, const uint8_t *a, size_t alen, const uint8_t *b,
                     size_t blen)
{
    kula_hash h;
    kula_hash *slot = seen_slot(nd, mkind, a, alen, b, blen, &h);
    *slot = h;
}

/* True when nd has seen this message (it is then dropped, as kulad's p2p
 * layer drops it, net/seen.c): a transaction once received, a consensus
 * message once taken (seen_add).  A slot forgets on a collision: a message
 * then comes through twice, which the driver must bear anyway. */
static bool seen_before(node *nd, const event *e)
{
    if (e->mkind != M_VOTE && e->mkind != M_PROPOSAL && e->mkind != M_EVIDENCE &&
        e->mkind != M_TX)
        return false;
    kula_hash h;
    kula_hash *slot = seen_slot(nd, e->mkind, e->a, e->alen, e->b, e->blen, &h);
    if (memcmp(slot->b, h.b, KULA_HASH_LEN) == 0)
        return true;
    if (e->mkind == M_TX)
        *slot = h;
    return false;
}

static uint8_t msg_kind(const kula_driver_msg *m)
{
    return m->type == KULA_DRIVER_PROPOSAL ? M_PROPOSAL
           : m->type == KULA_DRIVER_VOTE   ? M_VOTE
                                           : M_EVIDENCE;
}

static void send_msg(world *w, node *nd, const kula_driver_msg *m, uint32_t except, int side)
{
    uint8_t kind = msg_kind(m);
    for (uint32_t to = 0; to < w->o.n; to++) {
        if (to == nd->id - 1 || to + 1 == except)
            continue;
        if (side >= 0 && byz_side(w, to) != (side == 0))
            continue;
        send_to(w, nd->id - 1, to, kind, m->a, m->alen, m->b, m->blen, 0);
    }
}

/* Sends a vote, signed again by its validator after `change`. */
static void send_vote(world *w, node *nd, kula_vote v, int side)
{
    kula_hash d;
    kula_vote_sighash(&d, &w->g.chain_id, &v);
    sign_digest(w, v.validator, &d, &v.sig);
    kula_buf b;
    kula_buf_init(&b);
    if (kula_vote_encode(&b, &v) != 0)
        die("vote encode", KULA_ENOMEM);
    kula_driver_msg m = { .type = KULA_DRIVER_VOTE, .height = v.height, .round = v.round,
                          .a = b.data,
                          .alen = b.len };
    send_msg(w, nd, &m, 0, side);
    kula_buf_free(&b);
}

/* The same vote for the other value: nil for a block, a block for nil. */
static kula_vote flipped(kula_vote v)
{
    v.has_block = !v.has_block;
    v.block_hash.b[0] ^= 1;
    if (!v.has_block)
        memset(&v.block_hash, 0, sizeof(v.block_hash));
    return v;
}

/* Brings the Byzantine node's second chain up to its committed height.
 * Returns: whether a block of `height` can be built on it. */
static bool shadow_before(node *nd, uint64_t height)
{
    kula_error e;
    for (uint64_t h = kula_chain_height(nd->shadow) + 1; h <= nd->committed; h++)
        if (kula_chain_apply_block(nd->shadow, nd->blocks[h].p, nd->blocks[h].n,
                                   nd->commits[h].p, nd->commits[h].n, KULA_APPLY_SKIP_SIGS,
                                   &e) != 0)
            die("shadow replay", KULA_EBLOCK);
    return kula_chain_height(nd->shadow) + 1 == height;
}

/* The equivocator's second proposal for p's height and round, into
 * nd->eq_prop and nd->eq_block: a block of its own built on its second
 * chain (kept at its committed height), the same one each time it is sent.
 * Returns: false if it has none to offer. */
static bool second_proposal(world *w, node *nd, const kula_block_proposal *p)
{
    if (nd->eq_prop.len > 0 && nd->eq_height == p->height && nd->eq_round == p->round)
        return true;
    if (!shadow_before(nd, p->height))
        return false;
    kula_block_proposal p2 = *p;
    kula_buf_reset(&nd->eq_block);
    kula_buf_reset(&nd->eq_prop);
    int rc = kula_chain_build_block(nd->shadow, w->g.time_ms + w->now + 1, nd->id, NULL, 0,
                                    &nd->eq_block, &p2.block_hash);
    kula_chain_abandon_built(nd->shadow);
    if (rc != 0)
        return false;
    p2.pol_round = -1;
    kula_hash d;
    kula_block_proposal_sighash(&d, &w->g.chain_id, &p2);
    sign_digest(w, nd->id, &d, &p2.sig);
    if (kula_block_proposal_encode(&nd->eq_prop, &p2) != 0)
        die("proposal encode", KULA_ENOMEM);
    nd->eq_height = p->height;
    nd->eq_round = p->round;
    return true;
}

/* The forger's proposal for p's height and round: a block of its own,
 * built on its second chain, holding an honest node's pending transfer
 * (which, under --forge, every node holds: top_up relays them) with a
 * signature that does not verify, the rest of the block right (the
 * builder is told the keys were verified).  An honest node must verify
 * that signature although its mempool verified the genuine one (the id
 * names the body only) and refuse the block.  Returns: false if no honest
 * node has a transfer pending, or the block cannot be built. */
static bool forged_proposal(world *w, node *nd, const kula_block_proposal *p)
{
    if (!shadow_before(nd, p->height))
        return false;
    kula_candidate victim = { 0 };
    for (uint32_t j = 0; j < w->o.n && victim.bytes == NULL; j++)
        if (j != w->byz && w->nodes[j].up)
            (void)kula_mempool_candidates(w->nodes[j].mempool, &victim, 1);
    if (victim.bytes == NULL)
        return false;
    uint8_t *copy = malloc(victim.len);
    if (copy == NULL)
        die("malloc", KULA_ENOMEM);
    memcpy(copy, victim.bytes, victim.len);
    copy[victim.len - 1] ^= 0x01; /* the last signature's last byte */
    kula_tx tx;
    bool ok = kula_tx_decode(&tx, copy, victim.len) == 0 && tx.nsigs == 1 &&
              tx.sigs[0].signer >= 1 && tx.sigs[0].signer <= w->o.n;
    kula_candidate forged = { .bytes = copy, .len = victim.len, .tx = &tx,
                              .verified = ok ? &w->pk[tx.sigs[0].signer] : NULL };
    kula_block_proposal p2 = *p;
    kula_buf blk, prop;
    kula_buf_init(&blk);
    kula_buf_init(&prop);
    ok = ok && kula_chain_build_block(nd->shadow, w->g.time_ms + w->now + 1, nd->id, &forged, 1,
                                      &blk, &p2.block_hash) == 0;
    kula_chain_abandon_built(nd->shadow);
    ok = ok && forged.result == 0;
    if (ok) {
        p2.pol_round = -1;
        kula_hash d;
        kula_block_proposal_sighash(&d, &w->g.chain_id, &p2);
        sign_digest(w, nd->id, &d, &p2.sig);
        ok = kula_block_proposal_encode(&prop, &p2) == 0;
    }
    if (ok) {
        kula_driver_msg m2 = { .type = KULA_DRIVER_PROPOSAL, .height = p->height,
                               .round = p->round, .a = prop.data, .alen = prop.len,
                               .b = blk.data, .blen = blk.len };
        trace(w, "node %u: proposes height %" PRIu64 " round %u with member %u's transfer, "
              "its signature forged", nd->id, p->height, p->round, tx.from);
        send_msg(w, nd, &m2, 0, -1);
    }
    free(copy);
    kula_buf_free(&blk);
    kula_buf_free(&prop);
    return ok;
}

/* The Byzantine validator's hand on what its node sends: its own votes
 * and proposals are dropped (silent), turned into nil votes (nil), or sent
 * in two conflicting versions, one to each half of the network
 * (equivocate).  Its driver runs unchanged and never knows. */
static void byz_send(world *w, node *nd, const kula_driver_msg *m, uint32_t except)
{
    kula_vote v;
    kula_block_proposal p;
    bool vote = m->type == KULA_DRIVER_VOTE && kula_vote_decode(&v, m->a, m->alen) == 0 &&
                v.validator == nd->id;
    bool prop = m->type == KULA_DRIVER_PROPOSAL &&
                kula_block_proposal_decode(&p, m->a, m->alen) == 0 && p.proposer == nd->id;
    if (except != 0 || (!vote && !prop)) {
        send_msg(w, nd, m, except, -1);
        return;
    }
    w->faults++;
    if (w->mode == BYZ_SILENT)
        return;
    if (w->mode == BYZ_FORGE) {
        if (!prop || !forged_proposal(w, nd, &p))
            send_msg(w, nd, m, 0, -1); /* its votes, and a block with nothing to forge */
        return;
    }
    if (w->mode == BYZ_NIL) {
        if (vote && v.has_block)
            send_vote(w, nd, flipped(v), -1);
        else
            send_msg(w, nd, m, 0, -1);
        return;
    }
    if (vote) {
        send_msg(w, nd, m, 0, 0);
        send_vote(w, nd, flipped(v), 1);
    } else if (second_proposal(w, nd, &p)) {
        send_msg(w, nd, m, 0, 0);
        kula_driver_msg m2 = { .type = KULA_DRIVER_PROPOSAL, .height = p.height, .round = p.round,
                               .a = nd->eq_prop.data, .alen = nd->eq_prop.len,
                               .b = nd->eq_block.data, .blen = nd->eq_block.len };
        send_msg(w, nd, &m2, 0, 1);
    } else {
        send_msg(w, nd, m, 0, -1);
    }
}

static void io_send(void *ctx, const kula_driver_msg *m, uint32_t except)
{
    node *nd = ctx;
    world *w = nd->w;
    if (m->type == KULA_DRIVER_EVIDENCE && except == 0) {
        w->evidence++;
        trace(w, "node %u: evidence", nd->id);
    }
    seen_add(nd, msg_kind(m), m->a, m->alen, m->b, m->blen);
    if (nd->id - 1 == w->byz)
        byz_send(w, nd, m, except);
    else
        send_msg(w, nd, m, except, -1);
}

static void io_relay_tx(void *ctx, const uint8_t *tx, size_t len)
{
    node *nd = ctx;
    for (uint32_t to = 0; to < nd->w->o.n; to++)
        if (to != nd->id - 1)
            send_to(nd->w, nd->id - 1, to, M_TX, tx, len, NULL, 0, 0);
}

/* Honest nodes send nothing punishable: a punishment of one is a bug. */
static void io_punish(void *ctx, uint32_t peer, const char *why)
{
    node *nd = ctx;
    if (peer - 1 != nd->w->byz)
        fail(nd->w, "INTERNAL: node %u punished honest node %u for %s", nd->id, peer, why);
}

static void io_committed(void *ctx, const kula_driver_commit *c)
{
    node *nd = ctx;
    world *w = nd->w;
    kula_block blk;
    if (c->block == NULL || kula_block_decode(&blk, c->block, c->block_len) != 0) {
        fail(w, "INTERNAL: node %u committed block %" PRIu64 " without its bytes", nd->id,
             c->height);
        return;
    }
    kula_hash hash = blk.hash;
    kula_block_free(&blk);
    record_commit(w, nd, c->height, &hash, c->block, c->block_len, c->commit, c->commit_len);
    top_up(w, nd);
}

/* ---- node life ---- */

static void node_boot(world *w, node *nd)
{
    kula_error oe;
    int rc = kula_chain_open_memory(&nd->chain, &w->g, &oe);
    if (rc != 0) {
        fprintf(stderr, "kula-sim: chain: %s\n", oe.what);
        exit(2);
    }
    /* Replay the committed blocks from "disk" (verified when committed). */
    for (uint64_t h = 1; h <= nd->committed; h++) {
        kula_error e;
        rc = kula_chain_apply_block(nd->chain, nd->blocks[h].p, nd->blocks[h].n,
                                    nd->commits[h].p, nd->commits[h].n, KULA_APPLY_SKIP_SIGS, &e);
        if (rc != 0)
            die("replay", rc);
    }
    if ((rc = kula_mempool_new(&nd->mempool, 1000, 1u << 22)) != 0)
        die("mempool", rc);
    kula_held_block held[KULA_HELD_BLOCKS_MAX];
    size_t nheld = 0;
    if (nd->held_file.len > 0 &&
        (rc = kula_held_blocks_decode(nd->held_file.data, nd->held_file.len, held, &nheld)) != 0)
        die("held blocks", rc);
    kula_driver_env env = {
        .chain = nd->chain, .mempool = nd->mempool, .chain_id = w->g.chain_id,
        .has_key = true, .pubkey = w->pk[nd->id], .saved = nd->has_saved ? &nd->saved : NULL,
        .saved_blocks = held, .nsaved_blocks = nheld,
        .io = { .ctx = nd, .now_ms = io_now_ms, .wall_ms = io_wall_ms, .arm = io_arm,
                .disarm = io_disarm, .sign = io_sign, .verify = io_verify, .save = io_save,
                .save_blocks = io_save_blocks, .send = io_send, .relay_tx = io_relay_tx, .punish = io_punish,
                .committed = io_committed },
    };
    if ((rc = kula_driver_new(&nd->drv, &env)) != 0)
        die("driver", rc);
    if (w->o.break_locking)
        kula_cons_debug_break_locking(kula_driver_machine(nd->drv), true);
    nd->up = true;
    nd->incarnation++;
    nd->last_sync_req = 0;
    top_up(w, nd);
    kula_driver_start(nd->drv);
    event e;
    memset(&e, 0, sizeof(e));
    e.kind = EV_GOSSIP;
    e.at = w->now + GOSSIP_MS;
    e.node = nd->id - 1;
    e.incarnation = nd->incarnation;
    ev_push(w, e);
}

/* A crash: what is not on "disk" (blocks, commits, the saved state) is
 * lost, as in kulad. */
static void node_down(node *nd)
{
    kula_driver_free(nd->drv);
    kula_mempool_free(nd->mempool);
    kula_chain_free(nd->chain);
    nd->drv = NULL;
    nd->mempool = NULL;
    nd->chain = NULL;
    nd->up = false;
    memset(nd->seen, 0, sizeof(nd->seen));
}

static void sync_request(world *w, node *nd, uint32_t peer)
{
    if (nd->last_sync_req != 0 && w->now < nd->last_sync_req + 200)
        return;
    nd->last_sync_req = w->now;
    uint64_t want = kula_chain_height(nd->chain) + 1;
    send_to(w, nd->id - 1, peer, M_SYNC_REQ, (const uint8_t *)"", 0, NULL, 0, want);
}

/* A solo validator (> 2/3 of the power alone, possible with 2 validators)
 * sends no consensus message of its own (the driver's keep_and_send): its
 * peers learn its height only from its STATUS, which kulad sends at every
 * block.  Each second a node behind an up solo validator it is not cut off
 * from asks it for blocks.  Only then: for the other validators, a message
 * of a later height stands in for STATUS (deliver), and the seeds without a
 * solo validator run as before. */
static void solo_status(world *w, node *nd)
{
    uint32_t j = w->solo;
    if (j == MAXN || j == nd->id - 1 || !w->nodes[j].up || partitioned(w, j, nd->id - 1))
        return;
    if (w->nodes[j].committed > kula_chain_height(nd->chain))
        sync_request(w, nd, j);
}

/* Applies a block fetched by sync, as kulad's p2p layer does. */
static void apply_synced(world *w, node *nd, event *e)
{
    if (e->h != kula_chain_height(nd->chain) + 1)
        return;
    kula_driver_before_apply(nd->drv);
    kula_error be;
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
    kula_driver_on_block(nd->drv, e->h, e->a, e->alen);
    top_up(w, nd);
}

/* The height a consensus message is for (0 if it does not decode). */
static uint64_t msg_height(const event *e)
{
    kula_vote v;
    kula_block_proposal p;
    if (e->mkind == M_VOTE && kula_vote_decode(&v, e->a, e->alen) == 0)
        return v.height;
    if (e->mkind == M_PROPOSAL && kula_block_proposal_decode(&p, e->a, e->alen) == 0)
        return p.height;
    return 0;
}

static void deliver(world *w, event *e)
{
    node *nd = &w->nodes[e->node];
    if (!nd->up)
        return;
    /* A peer ahead is asked for blocks (kulad learns it from the peers'
     * status messages: here any message of a later height tells it). */
    if (msg_height(e) > kula_cons_height(kula_driver_machine(nd->drv)))
        sync_request(w, nd, e->from);
    if (seen_before(nd, e))
        return;
    uint32_t peer = e->from + 1;
    switch ((enum msg_kind)e->mkind) {
    case M_VOTE:
        kula_driver_on_vote(nd->drv, peer, e->a, e->alen);
        return;
    case M_PROPOSAL:
        kula_driver_on_proposal(nd->drv, peer, e->a, e->alen, e->b, e->blen);
        return;
    case M_EVIDENCE:
        kula_driver_on_evidence(nd->drv, peer, e->a, e->alen, e->b, e->blen);
        return;
    case M_TX: {
        const uint8_t *p = e->a;
        size_t n = e->alen;
        int result;
        kula_mempool_add_batch(nd->mempool, kula_chain_ledger(nd->chain), NULL, &p, &n, 1,
                               &result, NULL);
        return;
    }
    case M_SYNC_REQ:
        if (e->h >= 1 && e->h <= nd->committed)
            send_to(w, e->node, e->from, M_SYNC_RESP, nd->blocks[e->h].p, nd->blocks[e->h].n,
                    nd->commits[e->h].p, nd->commits[e->h].n, e->h);
        return;
    case M_SYNC_RESP:
        apply_synced(w, nd, e);
        return;
    }
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
    /* every fourth height folds the whole state into the root (SPEC
     * §10.3): the validators must agree on it too */
    g->params.snapshot_interval = 4;
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
    if (w->o.forge && w->mode != BYZ_NONE)
        w->mode = BYZ_FORGE; /* the same draws: the seed's other faults stay */
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
    w->solo = MAXN;
    for (uint32_t i = 0; i < n; i++)
        if (g->members[i].voting_power * 3 > total * 2)
            w->solo = i;
    kula_error err;
    kula_error oe;
    if (kula_genesis_validate(g, &err) != 0) {
        fprintf(stderr, "kula-sim: genesis: %s\n", err.what);
        exit(2);
    }
    kula_buf b;
    kula_buf_init(&b);
    if (kula_genesis_encode(&b, g) != 0) {
        fprintf(stderr, "kula-sim: genesis: out of memory encoding it\n");
        exit(2);
    }
    kula_hash_bytes(&g->chain_id, b.data, b.len);
    kula_buf_free(&b);
    /* Faults before GST. */
    w->gst = rng_range(&w->r, 0, 20000);
    w->loss_pct = (unsigned)rng_range(&w->r, 0, 20);
    w->dup_pct = (unsigned)rng_range(&w->r, 0, 10);
    /* a partition needs two sides: none with one validator */
    if (rng_pct(&w->r, 50) && w->gst > 1000 && n >= 2) {
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
    for (uint32_t i = 0; i < n; i++) {
        w->nodes[i].w = w;
        w->nodes[i].id = i + 1;
        kula_buf_init(&w->nodes[i].eq_prop);
        kula_buf_init(&w->nodes[i].held_file);
        kula_buf_init(&w->nodes[i].eq_block);
    }
    if ((w->mode == BYZ_EQUIVOCATE || w->mode == BYZ_FORGE) &&
        kula_chain_open_memory(&w->nodes[w->byz].shadow, g, &oe) != 0) {
        fprintf(stderr, "kula-sim: chain: %s\n", oe.what);
        exit(2);
    }
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
        kula_chain_free(nd->shadow);
        kula_buf_free(&nd->eq_prop);
        kula_buf_free(&nd->held_file);
        kula_buf_free(&nd->eq_block);
    }
    for (size_t i = 0; i < w->nev; i++) {
        free(w->ev[i].a);
        free(w->ev[i].b);
    }
    free(w->ev);
    free(w->sigcache);
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
            if (nd->up && e.incarnation == nd->incarnation && e.r == nd->timer_gen[e.step])
                kula_driver_on_timer(nd->drv, (enum kula_driver_timer)e.step);
            break;
        case EV_GOSSIP:
            if (nd->up && e.incarnation == nd->incarnation) {
                kula_driver_regossip(nd->drv);
                solo_status(w, nd);
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
                node *nd = &w->nodes[i];
                if (!nd->up) {
                    printf("  node %u: down\n", nd->id);
                    continue;
                }
                kula_cons_saved sv;
                kula_cons_saved_get(kula_driver_machine(nd->drv), &sv);
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
                    "[--heights H] [--break-locking] [--forge] [--expect-violation] [--trace]\n"
                    "  --validators 1 to %u (default 4), --heights 1 to %u (default 4)\n",
            (unsigned)MAXN, (unsigned)MAXH);
    exit(2);
}

/* The value v of option opt: a whole number in decimal digits from lo to
 * hi; otherwise says so and exits 2 (no wrap-around, no sign, no junk). */
static uint64_t number(const char *opt, const char *v, uint64_t lo, uint64_t hi)
{
    char *end = NULL;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (v[0] < '0' || v[0] > '9' || *end != '\0' || errno == ERANGE || x < lo || x > hi) {
        fprintf(stderr, "kula-sim: %s '%s': give a whole number from %" PRIu64 " to %" PRIu64
                        "\n", opt, v, lo, hi);
        exit(2);
    }
    return (uint64_t)x;
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
            seed = number(a, v, 0, UINT64_MAX);
            one = true;
            i++;
        } else if (strcmp(a, "--seeds") == 0 && v) {
            nseeds = number(a, v, 1, UINT64_MAX);
            i++;
        } else if (strcmp(a, "--from") == 0 && v) {
            from = number(a, v, 0, UINT64_MAX);
            i++;
        } else if (strcmp(a, "--validators") == 0 && v) {
            o.n = (uint32_t)number(a, v, 1, MAXN);
            i++;
        } else if (strcmp(a, "--heights") == 0 && v) {
            o.heights = number(a, v, 1, MAXH);
            i++;
        } else if (strcmp(a, "--break-locking") == 0) {
            o.break_locking = true;
        } else if (strcmp(a, "--forge") == 0) {
            o.forge = true;
        } else if (strcmp(a, "--expect-violation") == 0) {
            expect_violation = true;
        } else if (strcmp(a, "--trace") == 0) {
            o.trace = true;
        } else {
            usage();
        }
    }
    if (!one && nseeds == 0)
        usage();
    if (!one && nseeds - 1 > UINT64_MAX - from) {
        fprintf(stderr, "kula-sim: --seeds %" PRIu64 " --from %" PRIu64
                        " goes past the last seed %" PRIu64 ": give fewer seeds or a lower --from\n",
                nseeds, from, UINT64_MAX);
        exit(2);
    }
    if (kula_crypto_init() != 0)
        die("crypto", KULA_ECRYPTO);
    /* The drivers' log lines only with --trace: the run's own trace says
     * what happened. */
    kula_log_set_level(o.trace ? KULA_LOG_DEBUG : (enum kula_log_level)(KULA_LOG_ERROR + 1));
    static world w;
    if (one) {
        int rc = run(seed, &o, &w, true);
        free_world(&w);
        return rc;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t failed = 0, agreement = 0, heights = 0, msgs = 0, faults = 0, evidence = 0;
    for (uint64_t k = 0; k < nseeds; k++) {
        uint64_t s = from + k;
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
           o.break_locking ? " [--break-locking]" : o.forge ? " [--forge]" : "");
    if (expect_violation)
        return agreement > 0 ? 0 : 1;
    return failed ? 1 : 0;
}
