/* test_ledger_random.c -- randomized invariants of the ledger.
 *
 * A seeded generator (xorshift64*) drives a network of 8 members through
 * hundreds of blocks of mixed valid and invalid transactions of every kind:
 * payments past the limit, wrong nonces and signers, bad signatures,
 * unsequenced (nonce 0) transactions, some expired and some replayed,
 * agreements under all four rules, referrals, feedback, governance that
 * admits and removes members, rotates keys and changes parameters.
 *
 * Checked after every transaction: a rejected one left the state exactly as
 * it was (the block's diff is byte for byte the same); nobody's balance
 * went down past its credit limit.  After every block: the balances and the
 * pools sum to 0, the pools the generator knows of sum to pools_total, the
 * member count matches the globals; every 25 blocks each agreement's
 * benefits equal its payouts plus its pool.  Determinism: a second,
 * independent run of the same seed gives the same state root at every
 * height, and (for some seeds) so does a ledger on a real LMDB store driven
 * through kula_chain, transaction results included. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kula/chain/chain.h"
#include "kula/store/store.h"
#include "ledgerutil.h"
#include "chain/chain_testing.h"

static char tmpdir[64];

static void setup(void) { cr_assert_eq(kula_crypto_init(), 0); }

static void teardown(void)
{
    if (tmpdir[0] != '\0') {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        (void)system(cmd);
    }
}

TestSuite(ledger_random, .init = setup, .fini = teardown, .timeout = 300);

#define NBLOCKS 300
#define MAX_TXS_PER_BLOCK 30
#define NMEMBERS 8
#define MAXM 128     /* member ids */
#define MEMBER_CAP 48 /* no admissions proposed beyond this id */
#define MAXK 256     /* keys ever made */
#define MAXA 4096    /* agreements */
#define MAXR 4096    /* referrals */
#define MAXP 4096    /* proposals */
#define NOBSERVERS 3 /* observer keys proposals use */

typedef struct keyent {
    kula_pubkey pk;
    kula_seckey sk;
} keyent;

typedef struct referral_info {
    kula_hash id;
    uint32_t receiver;
} referral_info;

typedef struct stats {
    unsigned ok[KULA_TX_KIND_MAX + 1];
    unsigned rejected[KULA_TX_KIND_MAX + 1];
    unsigned errors[128];         /* by -error code */
    unsigned settled_rule[4];
    unsigned passed_action[KULA_ACT_KIND_MAX + 1];
    unsigned removed, admitted, rotated;
    unsigned settlement_payments; /* LEDGER §9.6: paid at clearings */
} stats;

typedef struct world {
    kula_genesis g;
    kula_ledger *l;
    uint64_t rng;
    uint64_t height, time_ms;
    keyent keys[MAXK];
    size_t nkeys;
    unsigned keyctr;
    kula_hash agr[MAXA];
    size_t nagr;
    kula_hash hot[MAXA];          /* agreements whose pool may be non-zero */
    size_t nhot;
    referral_info ref[MAXR];
    size_t nref;
    kula_hash inv[MAXR];          /* invoices issued */
    size_t ninv;
    kula_hash prop[MAXP];
    size_t nprop;
    kula_pubkey observer[NOBSERVERS];
    bool checks;                  /* run the per-transaction checks */
    kula_buf body, vals, snap_a, snap_b;
    kula_buf replay;              /* the last unsequenced tx committed */
    int64_t limit_seen[MAXM];
    bool lowered[MAXM];
    stats st;
} world;

/* ---- rng ---- */

static uint64_t rnd64(world *w)
{
    uint64_t x = w->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    w->rng = x;
    return x * UINT64_C(2685821657736338717);
}

static uint32_t rnd(world *w, uint32_t n) { return (uint32_t)(rnd64(w) % n); }
static bool chance(world *w, unsigned percent) { return rnd(w, 100) < percent; }

/* ---- keys ---- */

static void key_add(world *w, const char *text)
{
    cr_assert_lt(w->nkeys, MAXK);
    lu_key_from(&w->keys[w->nkeys].sk, &w->keys[w->nkeys].pk, text);
    w->nkeys++;
}

static const kula_seckey *sk_of_pk(world *w, const kula_pubkey *pk)
{
    for (size_t i = 0; i < w->nkeys; i++)
        if (memcmp(w->keys[i].pk.b, pk->b, 32) == 0)
            return &w->keys[i].sk;
    return NULL;
}

/* The current secret key of member id (for an unknown member, the newest
 * key made: any key will do). */
static const kula_seckey *sk_of(world *w, uint32_t id)
{
    kula_member m;
    if (kula_ledger_member(w->l, id, &m) == 0) {
        const kula_seckey *sk = sk_of_pk(w, &m.pubkey);
        cr_assert_not_null(sk, "no secret key for member %u", id);
        return sk;
    }
    return &w->keys[w->nkeys - 1].sk;
}

/* A fresh key (and its secret) for admission or rotation. */
static kula_pubkey new_key(world *w)
{
    char text[64];
    snprintf(text, sizeof(text), "random key %u", w->keyctr++);
    key_add(w, text);
    return w->keys[w->nkeys - 1].pk;
}

/* ---- world ---- */

static void world_open(world *w, uint64_t seed, bool checks)
{
    memset(w, 0, sizeof(*w));
    w->checks = checks;
    w->rng = seed * UINT64_C(0x9e3779b97f4a7c15) + 1;
    uint64_t powers[NMEMBERS] = { 3, 1, 0, 0, 0, 0, 0, 0 };
    lu_genesis(&w->g, NMEMBERS, 3000, powers);
    w->g.params.proposal_ttl = 12;
    kula_buf b;
    kula_buf_init(&b);
    cr_assert_eq(kula_genesis_encode(&b, &w->g), 0);
    kula_hash_bytes(&w->g.chain_id, b.data, b.len);
    kula_buf_free(&b);
    for (uint32_t i = 1; i <= NMEMBERS; i++) {
        char text[32];
        snprintf(text, sizeof(text), "member %u", i);
        key_add(w, text);
    }
    key_add(w, "a stranger");
    for (uint32_t i = 0; i < NOBSERVERS; i++) {
        char text[32];
        kula_seckey sk;
        snprintf(text, sizeof(text), "observer %u", i);
        lu_key_from(&sk, &w->observer[i], text);
    }
    cr_assert_eq(kula_ledger_new(&w->l, &w->g.chain_id, NULL, NULL, 0, NULL), 0);
    kula_hash root;
    const kula_state_write *wr;
    size_t n;
    cr_assert_eq(kula_ledger_genesis(w->l, &w->g, &root, &wr, &n), 0);
    kula_ledger_finish_block(w->l);
    w->time_ms = w->g.time_ms;
    kula_buf_init(&w->body);
    kula_buf_init(&w->vals);
    kula_buf_init(&w->snap_a);
    kula_buf_init(&w->snap_b);
    kula_buf_init(&w->replay);
    for (uint32_t i = 0; i < MAXM; i++)
        w->limit_seen[i] = 3000;
}

static void world_close(world *w)
{
    kula_ledger_free(w->l);
    kula_genesis_free(&w->g);
    kula_buf_free(&w->body);
    kula_buf_free(&w->vals);
    kula_buf_free(&w->snap_a);
    kula_buf_free(&w->snap_b);
    kula_buf_free(&w->replay);
}

static kula_globals globals(world *w)
{
    kula_globals g;
    cr_assert_eq(kula_ledger_globals(w->l, &g), 0);
    return g;
}

static bool is_active(world *w, uint32_t id)
{
    kula_member m;
    return kula_ledger_member(w->l, id, &m) == 0 && m.status == KULA_MEMBER_ACTIVE;
}

/* A member id: mostly an active member, sometimes any id ever used, rarely
 * one that does not exist. */
static uint32_t pick_member(world *w)
{
    uint32_t next = globals(w).next_member;
    if (chance(w, 2))
        return next + rnd(w, 3);
    for (int tries = 0; tries < 20; tries++) {
        uint32_t id = 1 + rnd(w, next - 1);
        if (chance(w, 5) || is_active(w, id))
            return id;
    }
    return 1 + rnd(w, next - 1);
}

static uint32_t pick_other(world *w, uint32_t not)
{
    uint32_t id = pick_member(w);
    if (id == not && !chance(w, 10))
        id = pick_member(w);
    return id;
}

static int64_t pick_amount(world *w, int64_t typical)
{
    switch (rnd(w, 20)) {
    case 0: return 0;
    case 1: return -1 - (int64_t)rnd(w, 100);
    case 2: return 2500 + (int64_t)rnd(w, 4000); /* often past the limit */
    case 3: return INT64_MAX - (int64_t)rnd(w, 3);
    default: return 1 + (int64_t)rnd(w, (uint32_t)typical);
    }
}

/* ---- rules ---- */

static kula_rule make_rule(world *w, uint32_t nparties)
{
    kula_rule r;
    memset(&r, 0, sizeof(r));
    r.kind = (uint8_t)rnd(w, 4);
    switch (r.kind) {
    case KULA_RULE_WEIGHTS:
        r.nweights = chance(w, 8) ? nparties + 1 : nparties;
        for (uint32_t i = 0; i < r.nweights; i++)
            r.weights[i] = chance(w, 10) ? 0 : rnd(w, 6);
        break;
    case KULA_RULE_SHAPLEY: {
        /* v(S) = sum of a_i over S, plus a synergy for |S| >= 2: monotone.
         * Sometimes the table is the wrong size or v(all) is lowered. */
        uint32_t n = chance(w, 5) ? nparties + 1 : nparties;
        uint32_t nv = 1u << n;
        int64_t a[KULA_MAX_PARTIES + 1], syn = rnd(w, 50);
        for (uint32_t i = 0; i < n; i++)
            a[i] = rnd(w, 40);
        kula_buf_reset(&w->vals);
        kula_writer wr;
        kula_writer_init(&wr, &w->vals);
        kula_w_array(&wr, nv);
        for (uint32_t s = 0; s < nv; s++) {
            int64_t v = 0;
            unsigned bits = 0;
            for (uint32_t i = 0; i < n; i++)
                if (s & (1u << i)) {
                    v += a[i];
                    bits++;
                }
            if (bits >= 2)
                v += syn;
            if (s == nv - 1 && chance(w, 8))
                v = 0; /* not monotone (or v(all) = 0) */
            kula_w_int(&wr, v);
        }
        r.nvalues = nv;
        r.values_raw = w->vals.data;
        r.values_raw_len = w->vals.len;
        break;
    }
    default:
        break;
    }
    return r;
}

/* ---- transactions ---- */

static const kula_hash *pick_agreement(world *w)
{
    static kula_hash bogus;
    if (w->nagr == 0 || chance(w, 3)) {
        kula_hash_bytes(&bogus, &w->rng, sizeof(w->rng));
        return &bogus;
    }
    /* favour recent agreements */
    size_t lo = w->nagr > 40 && chance(w, 80) ? w->nagr - 40 : 0;
    return &w->agr[lo + rnd(w, (uint32_t)(w->nagr - lo))];
}

static bool agreement_of(world *w, const kula_hash *id, kula_agreement *a)
{
    return kula_ledger_agreement(w->l, id, a) == 0;
}

static uint32_t party_of(world *w, const kula_hash *id)
{
    kula_agreement a;
    if (agreement_of(w, id, &a) && !chance(w, 8))
        return a.parties[rnd(w, a.nparties)];
    return pick_member(w);
}

static void fill_action(world *w, kula_action *act)
{
    memset(act, 0, sizeof(*act));
    uint32_t next = globals(w).next_member;
    switch (rnd(w, 14)) {
    case 0:
    case 1:
        act->kind = KULA_ACT_ADMIT;
        if (next >= MEMBER_CAP || chance(w, 10)) {
            /* an existing key: EDUPKEY */
            act->pubkey = w->keys[rnd(w, (uint32_t)w->nkeys)].pk;
        } else {
            act->pubkey = new_key(w);
        }
        act->name = lu_text("Newcomer");
        act->sector = lu_text(chance(w, 5) ? "" : "trade");
        act->credit_limit = chance(w, 5) ? -1 : (int64_t)rnd(w, 4000);
        act->voting_power = chance(w, 20) ? 1 + rnd(w, 3) : 0;
        break;
    case 2:
        act->kind = KULA_ACT_REMOVE;
        act->member = pick_member(w);
        break;
    case 3:
    case 4:
        act->kind = KULA_ACT_CREDIT_LIMIT;
        act->member = pick_member(w);
        act->credit_limit = chance(w, 5) ? -5 : (int64_t)rnd(w, 6000);
        break;
    case 5:
    case 6:
    case 7: {
        act->kind = KULA_ACT_PARAM;
        act->param = chance(w, 5) ? KULA_PARAM_COUNT + 1 : 1 + rnd(w, KULA_PARAM_COUNT);
        static const int64_t values[KULA_PARAM_COUNT + 1][3] = {
            [KULA_PARAM_DEFAULT_CREDIT_LIMIT] = { 0, 5000, -1 },
            [KULA_PARAM_THRESHOLD_NUM] = { 2, 3, 1 },
            [KULA_PARAM_THRESHOLD_DEN] = { 3, 4, 7 },
            [KULA_PARAM_PROPOSAL_TTL] = { 3, 12, 0 },
            [KULA_PARAM_BLOCK_INTERVAL_MS] = { 500, 2000, 5 },
            [KULA_PARAM_TIMEOUT_PROPOSE_MS] = { 100, 4000, 9 },
            [KULA_PARAM_TIMEOUT_VOTE_MS] = { 100, 4000, 700000 },
            [KULA_PARAM_TIMEOUT_DELTA_MS] = { 0, 100, -3 },
            /* never below the generator's block size: the chain's block
             * builder enforces it, the bare ledger does not */
            [KULA_PARAM_MAX_BLOCK_TXS] = { 100, 20000, 20001 },
            [KULA_PARAM_CLEARING_INTERVAL] = { 0, 4, -1 },
        };
        act->value = act->param <= KULA_PARAM_COUNT ? values[act->param][rnd(w, 3)] : 1;
        break;
    }
    case 10:
        act->kind = KULA_ACT_CLEAR;
        break;
    case 11:
        /* sometimes a member's key (refused), else one of a few observer
         * keys, so that admitting the same observer twice happens too */
        act->kind = KULA_ACT_ADMIT_OBSERVER;
        act->pubkey = chance(w, 15) ? w->keys[rnd(w, (uint32_t)w->nkeys)].pk
                                   : w->observer[rnd(w, NOBSERVERS)];
        {
            /* each key its own name, now and then one another key has */
            static const char *const names[NOBSERVERS] = { "Auditor", "Tax office", "Bank" };
            act->name = lu_text(names[rnd(w, NOBSERVERS)]);
            for (uint32_t i = 0; i < NOBSERVERS && !chance(w, 5); i++)
                if (memcmp(act->pubkey.b, w->observer[i].b, 32) == 0)
                    act->name = lu_text(names[i]);
        }
        break;
    case 12:
    case 13: {
        /* mostly an admitted observer, sometimes any of the keys */
        act->kind = KULA_ACT_REMOVE_OBSERVER;
        act->pubkey = w->observer[rnd(w, NOBSERVERS)];
        kula_observers os;
        cr_assert_eq(kula_ledger_observers(w->l, &os), 0);
        if (os.n > 0 && !chance(w, 20))
            act->pubkey = os.v[rnd(w, os.n)].pubkey;
        break;
    }
    default:
        act->kind = KULA_ACT_ROTATE_KEY;
        act->member = pick_member(w);
        act->pubkey = chance(w, 10) ? w->keys[rnd(w, (uint32_t)w->nkeys)].pk : new_key(w);
        break;
    }
}

/* Fills tx (kind, from, nonce, payload) at random. */
static void gen_tx(world *w, kula_tx *tx)
{
    memset(tx, 0, sizeof(*tx));
    static const uint8_t kinds[] = {
        KULA_TX_TRANSFER, KULA_TX_TRANSFER, KULA_TX_TRANSFER, KULA_TX_EXCHANGE,
        KULA_TX_EXCHANGE, KULA_TX_REFERRAL, KULA_TX_CONVERSION, KULA_TX_CONVERSION,
        KULA_TX_AGREEMENT_OPEN, KULA_TX_AGREEMENT_OPEN, KULA_TX_AGREEMENT_AMEND,
        KULA_TX_CONTRIBUTE, KULA_TX_CONTRIBUTE, KULA_TX_BENEFIT, KULA_TX_BENEFIT,
        KULA_TX_SETTLE, KULA_TX_SETTLE, KULA_TX_AGREEMENT_CLOSE, KULA_TX_FEEDBACK,
        KULA_TX_FEEDBACK, KULA_TX_PROPOSE, KULA_TX_PROPOSE, KULA_TX_VOTE, KULA_TX_VOTE,
        KULA_TX_VOTE, KULA_TX_VOTE, KULA_TX_VOTE, KULA_TX_VOTE, KULA_TX_VOTE,
        KULA_TX_EVIDENCE, KULA_TX_INVOICE, KULA_TX_INVOICE, KULA_TX_INVOICE_ACCEPT,
        KULA_TX_INVOICE_DISPUTE, KULA_TX_INVOICE_CANCEL, KULA_TX_INVOICE_PAY,
        KULA_TX_INVOICE_PAY, KULA_TX_PROPOSE, KULA_TX_VOTE, KULA_TX_VOTE,
        KULA_TX_CLEARING_SETTLE,
    };
    tx->kind = kinds[rnd(w, sizeof(kinds))];
    tx->from = pick_member(w);
    switch ((enum kula_tx_kind)tx->kind) {
    case KULA_TX_TRANSFER:
        tx->u.transfer.to = pick_other(w, tx->from);
        tx->u.transfer.amount = pick_amount(w, 600);
        break;
    case KULA_TX_EXCHANGE:
        tx->u.exchange.counterparty = pick_other(w, tx->from);
        tx->u.exchange.gives_value = chance(w, 20) ? 0 : pick_amount(w, 800);
        tx->u.exchange.receives_value = chance(w, 20) ? 0 : pick_amount(w, 800);
        tx->u.exchange.gives =
            lu_text(tx->u.exchange.gives_value == 0 && chance(w, 80) ? "" : "web design");
        tx->u.exchange.receives =
            lu_text(chance(w, 3) ? "bad\x01" : tx->u.exchange.receives_value == 0 ? "" : "bread");
        break;
    case KULA_TX_REFERRAL:
        tx->u.referral.receiver = pick_other(w, tx->from);
        kula_hash_bytes(&tx->u.referral.lead, &w->rng, sizeof(w->rng));
        if (chance(w, 35)) {
            const kula_hash *a = pick_agreement(w);
            tx->u.referral.has_agreement = true;
            tx->u.referral.agreement = *a;
            kula_agreement ag;
            if (agreement_of(w, a, &ag) && chance(w, 80)) {
                tx->from = ag.parties[rnd(w, ag.nparties)];
                tx->u.referral.receiver = ag.parties[rnd(w, ag.nparties)];
            }
            tx->u.referral.fee = chance(w, 10) ? 5 : 0;
        } else {
            tx->u.referral.fee = pick_amount(w, 200);
        }
        break;
    case KULA_TX_CONVERSION:
        if (w->nref > 0 && !chance(w, 5)) {
            referral_info *r = &w->ref[w->nref > 30 && chance(w, 80)
                                           ? w->nref - 30 + rnd(w, 30)
                                           : rnd(w, (uint32_t)w->nref)];
            tx->u.conversion.referral = r->id;
            if (!chance(w, 10))
                tx->from = r->receiver;
        } else {
            kula_hash_bytes(&tx->u.conversion.referral, &w->rng, 8);
        }
        tx->u.conversion.value = pick_amount(w, 3000);
        break;
    case KULA_TX_AGREEMENT_OPEN: {
        uint32_t next = globals(w).next_member;
        uint32_t n = chance(w, 4) ? 1 : 2 + rnd(w, 4);
        uint32_t *p = tx->u.open.parties;
        uint32_t k = 0;
        for (int tries = 0; k < n && tries < 50; tries++) {
            uint32_t id = chance(w, 3) ? next : 1 + rnd(w, next - 1);
            bool dup = false;
            for (uint32_t j = 0; j < k; j++)
                dup |= p[j] == id;
            if ((!dup || chance(w, 3)) && (chance(w, 10) || id >= next || is_active(w, id)))
                p[k++] = id;
        }
        /* ascending, except sometimes */
        for (uint32_t i = 1; i < k; i++)
            for (uint32_t j = i; j > 0 && p[j - 1] > p[j]; j--) {
                uint32_t t = p[j];
                p[j] = p[j - 1];
                p[j - 1] = t;
            }
        if (k >= 2 && chance(w, 4)) {
            uint32_t t = p[0];
            p[0] = p[1];
            p[1] = t;
        }
        tx->u.open.nparties = k;
        if (k > 0 && !chance(w, 4))
            tx->from = p[rnd(w, k)];
        tx->u.open.label = lu_text(chance(w, 3) ? "" : "venture");
        tx->u.open.title = lu_text("Joint venture");
        tx->u.open.rule = make_rule(w, k);
        tx->u.open.term_end = chance(w, 60) ? 0 : w->height + rnd(w, 15) - (chance(w, 5) ? 2 : 0);
        tx->u.open.referral_fee_bps = chance(w, 30) ? 0 : rnd(w, KULA_BPS_DENOM + 1);
        break;
    }
    case KULA_TX_AGREEMENT_AMEND: {
        const kula_hash *a = pick_agreement(w);
        tx->u.amend.agreement = *a;
        tx->from = party_of(w, a);
        kula_agreement ag;
        uint32_t n = agreement_of(w, a, &ag) ? ag.nparties : 2;
        tx->u.amend.title = lu_text(chance(w, 4) ? "" : "Amended");
        tx->u.amend.rule = make_rule(w, n);
        tx->u.amend.term_end = chance(w, 60) ? 0 : w->height + rnd(w, 20) - (chance(w, 5) ? 2 : 0);
        tx->u.amend.referral_fee_bps = rnd(w, KULA_BPS_DENOM + 1);
        break;
    }
    case KULA_TX_CONTRIBUTE: {
        const kula_hash *a = pick_agreement(w);
        tx->u.contribute.agreement = *a;
        tx->from = party_of(w, a);
        tx->u.contribute.acknowledger = party_of(w, a);
        tx->u.contribute.value = pick_amount(w, 300);
        tx->u.contribute.description = lu_text(chance(w, 3) ? "" : "three days of work");
        break;
    }
    case KULA_TX_BENEFIT:
        tx->u.benefit.agreement = *pick_agreement(w);
        tx->u.benefit.amount = pick_amount(w, 900);
        tx->u.benefit.description = lu_text("sales");
        break;
    case KULA_TX_SETTLE:
    case KULA_TX_AGREEMENT_CLOSE: {
        const kula_hash *a = pick_agreement(w);
        tx->u.settle.agreement = *a;
        tx->from = party_of(w, a);
        break;
    }
    case KULA_TX_FEEDBACK:
        tx->u.feedback.about = pick_other(w, tx->from);
        tx->u.feedback.rating = rnd(w, 7);
        tx->u.feedback.comment = lu_text(chance(w, 3) ? "\x1b" : "good partner");
        break;
    case KULA_TX_PROPOSE:
        fill_action(w, &tx->u.propose.action);
        break;
    case KULA_TX_VOTE:
        if (w->nprop > 0 && !chance(w, 3)) {
            size_t lo = w->nprop > 3 && chance(w, 75)   ? w->nprop - 3
                        : w->nprop > 12 && chance(w, 85) ? w->nprop - 12
                                                         : 0;
            tx->u.vote.proposal = w->prop[lo + rnd(w, (uint32_t)(w->nprop - lo))];
        } else {
            kula_hash_bytes(&tx->u.vote.proposal, &w->rng, 8);
        }
        tx->u.vote.approve = chance(w, 85);
        break;
    case KULA_TX_CLEARING_SETTLE:
        tx->u.csettle.on = chance(w, 60); /* in or out, either may be refused */
        break;
    case KULA_TX_INVOICE:
        tx->u.invoice.debtor = pick_other(w, tx->from);
        tx->u.invoice.amount = pick_amount(w, 700);
        tx->u.invoice.due = w->time_ms + rnd(w, 100000);
        tx->u.invoice.reference = lu_text(chance(w, 3) ? "" : chance(w, 3) ? "2026\n1" : "2026-1");
        tx->u.invoice.has_document = chance(w, 50);
        if (tx->u.invoice.has_document)
            kula_hash_bytes(&tx->u.invoice.document, &w->rng, sizeof(w->rng));
        break;
    case KULA_TX_INVOICE_ACCEPT:
    case KULA_TX_INVOICE_DISPUTE:
    case KULA_TX_INVOICE_CANCEL:
    case KULA_TX_INVOICE_PAY: {
        /* Mostly a recent invoice, by its debtor (its issuer to cancel). */
        kula_invoice v;
        if (w->ninv > 0 && !chance(w, 5)) {
            size_t lo = w->ninv > 20 && chance(w, 80) ? w->ninv - 20 : 0;
            tx->u.inv.invoice = w->inv[lo + rnd(w, (uint32_t)(w->ninv - lo))];
        } else {
            kula_hash_bytes(&tx->u.inv.invoice, &w->rng, 8);
        }
        if (kula_ledger_invoice(w->l, &tx->u.inv.invoice, &v) == 0 && !chance(w, 10)) {
            tx->from = tx->kind == KULA_TX_INVOICE_CANCEL ? v.issuer : v.debtor;
            tx->u.inv.amount = chance(w, 50)      ? v.residual
                               : v.amount < 100000 ? pick_amount(w, v.amount + 1)
                                                   : pick_amount(w, 700);
        } else {
            tx->u.inv.amount = pick_amount(w, 300);
        }
        if (tx->kind == KULA_TX_INVOICE_DISPUTE)
            tx->u.inv.reason = lu_text(chance(w, 5) ? "" : "the bread was late");
        break;
    }
    case KULA_TX_EVIDENCE: {
        /* Mostly a real conflict of a genesis validator at a past height;
         * sometimes votes that do not conflict, of the future, of a
         * non-member or with a spoiled signature; often an offence
         * already recorded. */
        kula_vote *v[2] = { &tx->u.evidence.a, &tx->u.evidence.b };
        uint32_t who = chance(w, 85) ? 1 + rnd(w, 2) : pick_member(w);
        uint8_t type = (uint8_t)(1 + rnd(w, 2));
        uint64_t height = 1 + rnd64(w) % w->height + (chance(w, 4) ? w->height : 0);
        uint32_t round = rnd(w, 3);
        for (int i = 0; i < 2; i++) {
            v[i]->type = type;
            v[i]->height = height;
            v[i]->round = round;
            v[i]->validator = who;
            v[i]->has_block = i == 0 || chance(w, 70);
            if (v[i]->has_block)
                kula_hash_bytes(&v[i]->block_hash, &w->rng, sizeof(w->rng));
        }
        if (chance(w, 5))
            v[1]->round++;
        if (chance(w, 3)) {
            v[1]->has_block = true;
            v[1]->block_hash = v[0]->block_hash;
        }
        /* Signed with the generator's randomness, not fresh randomness:
         * the votes are in the body, and an unsequenced tx's id (the
         * body's hash) is in the state, which both runs of a seed must
         * reach alike.  (Two equal votes still get two signatures.) */
        for (int i = 0; i < 2; i++) {
            kula_hash d;
            uint64_t aux[4] = { rnd64(w), rnd64(w), rnd64(w), rnd64(w) };
            kula_vote_sighash(&d, &w->g.chain_id, v[i]);
            cr_assert_eq(kula_sign_aux(&v[i]->sig, sk_of(w, who), d.b, (const uint8_t *)aux),
                         0);
        }
        if (chance(w, 4))
            v[rnd(w, 2)]->sig.b[7] ^= 1;
        if (kula_vote_cmp(v[0], v[1]) > 0) {
            kula_vote t = *v[0];
            *v[0] = *v[1];
            *v[1] = t;
        }
        break;
    }
    }
    if (chance(w, 3))
        tx->memo = lu_text("\x07 bell");
    /* nonce: usually right; sometimes unsequenced (0) with an expiry that
     * is usually ahead of the block's time (w->time_ms) */
    kula_member m;
    uint64_t cur = kula_ledger_member(w->l, tx->from, &m) == 0 ? m.nonce : 0;
    switch (rnd(w, 40)) {
    case 0: tx->nonce = cur; break;
    case 1: tx->nonce = cur + 2; break;
    case 2:
    case 3:
    case 4:
        tx->nonce = 0;
        switch (rnd(w, 8)) {
        case 0: tx->expires = 0; break;                              /* ENONCE */
        case 1: tx->expires = w->time_ms - 1 - rnd(w, 5000); break;  /* ETXEXPIRED */
        default: tx->expires = w->time_ms + rnd(w, 4) * rnd(w, 5000); break;
        }
        break;
    default:
        tx->nonce = cur + 1;
        if (chance(w, 5))
            tx->expires = w->time_ms + rnd(w, 2) * rnd(w, 5000);
        break;
    }
}

/* Seals and signs tx: the required signers, sometimes one missing, one
 * extra, or one signing with a wrong key. */
static void sign_tx(world *w, kula_tx *tx)
{
    cr_assert_eq(kula_tx_seal(tx, &w->body), 0);
    tx->nsigs = 0;
    uint32_t ids[KULA_MAX_PARTIES + 1], n = 0;
    kula_pubkey keys[KULA_MAX_PARTIES];
    if (kula_ledger_signers(w->l, tx, ids, keys, &n) != 0) {
        ids[0] = tx->from;
        n = 1;
    }
    if (n > 1 && chance(w, 3)) {
        uint32_t k = rnd(w, n); /* drop one */
        ids[k] = ids[n - 1];
        n--;
    }
    if (n < KULA_MAX_PARTIES && chance(w, 2))
        ids[n++] = pick_member(w); /* add one (maybe a duplicate) */
    uint32_t wrong = chance(w, 3) ? rnd(w, n) : UINT32_MAX;
    for (uint32_t i = 0; i < n; i++) {
        const kula_seckey *sk = i == wrong ? &w->keys[rnd(w, (uint32_t)w->nkeys)].sk
                                           : sk_of(w, ids[i]);
        cr_assert_eq(kula_tx_sign(tx, &w->g.chain_id, ids[i], sk), 0);
    }
}

/* ---- applying, with the per-transaction checks ---- */

static void diff_snapshot(world *w, kula_buf *out) { lu_diff_snapshot(w->l, out); }

static void balances(world *w, int64_t *bal, int64_t *lim, uint32_t *n)
{
    kula_globals g = globals(w);
    *n = g.next_member;
    cr_assert_lt(g.next_member, MAXM);
    for (uint32_t id = 1; id < g.next_member; id++) {
        kula_member m;
        cr_assert_eq(kula_ledger_member(w->l, id, &m), 0);
        bal[id] = m.balance;
        lim[id] = m.credit_limit;
    }
}

static void note_success(world *w, const kula_tx *tx)
{
    if (tx->nonce == 0) {
        kula_buf_reset(&w->replay);
        cr_assert_eq(kula_tx_encode(&w->replay, tx), 0);
    }
    switch ((enum kula_tx_kind)tx->kind) {
    case KULA_TX_AGREEMENT_OPEN:
        cr_assert_lt(w->nagr, MAXA);
        w->agr[w->nagr++] = tx->id;
        break;
    case KULA_TX_BENEFIT: {
        bool known = false;
        for (size_t i = 0; i < w->nhot; i++)
            known |= memcmp(w->hot[i].b, tx->u.benefit.agreement.b, 32) == 0;
        if (!known) {
            cr_assert_lt(w->nhot, MAXA);
            w->hot[w->nhot++] = tx->u.benefit.agreement;
        }
        break;
    }
    case KULA_TX_REFERRAL:
        cr_assert_lt(w->nref, MAXR);
        w->ref[w->nref].id = tx->id;
        w->ref[w->nref++].receiver = tx->u.referral.receiver;
        break;
    case KULA_TX_INVOICE:
        cr_assert_lt(w->ninv, MAXR);
        w->inv[w->ninv++] = tx->id;
        break;
    case KULA_TX_PROPOSE:
        cr_assert_lt(w->nprop, MAXP);
        w->prop[w->nprop++] = tx->id;
        break;
    case KULA_TX_SETTLE: {
        kula_agreement a;
        cr_assert_eq(kula_ledger_agreement(w->l, &tx->u.settle.agreement, &a), 0);
        w->st.settled_rule[a.rule.kind]++;
        break;
    }
    default:
        break;
    }
    if (tx->kind == KULA_TX_PROPOSE || tx->kind == KULA_TX_VOTE) {
        const kula_hash *id = tx->kind == KULA_TX_PROPOSE ? &tx->id : &tx->u.vote.proposal;
        kula_proposal q;
        cr_assert_eq(kula_ledger_proposal(w->l, id, &q), 0);
        if (q.status == KULA_PROPOSAL_PASSED && q.decided == w->height) {
            w->st.passed_action[q.action.kind]++;
            w->st.admitted += q.action.kind == KULA_ACT_ADMIT;
            w->st.removed += q.action.kind == KULA_ACT_REMOVE;
            w->st.rotated += q.action.kind == KULA_ACT_ROTATE_KEY;
        }
    }
}

/* Applies tx; a rejected tx must leave the state as it was, and no member's
 * balance may go down below -credit_limit.  Returns: the result. */
static int apply_checked(world *w, const kula_tx *tx)
{
    if (!w->checks) {
        int rc = kula_ledger_apply_tx(w->l, tx, NULL, NULL);
        if (rc == 0)
            note_success(w, tx);
        return rc;
    }
    int64_t bal0[MAXM], lim0[MAXM], bal1[MAXM], lim1[MAXM];
    uint32_t n0, n1;
    balances(w, bal0, lim0, &n0);
    diff_snapshot(w, &w->snap_a);
    kula_tx_effects fx;
    int rc = kula_ledger_apply_tx(w->l, tx, NULL, &fx);
    if (rc != 0) {
        diff_snapshot(w, &w->snap_b);
        cr_assert(w->snap_a.len == w->snap_b.len &&
                      (w->snap_a.len == 0 ||
                       memcmp(w->snap_a.data, w->snap_b.data, w->snap_a.len) == 0),
                  "rejected %s (%s) changed the state at height %llu",
                  kula_tx_kind_name(tx->kind), kula_errname(rc), (unsigned long long)w->height);
        cr_assert_eq(fx.nparties, 0);
        w->st.rejected[tx->kind]++;
        cr_assert(-rc > 0 && -rc < 128);
        w->st.errors[-rc]++;
        return rc;
    }
    w->st.ok[tx->kind]++;
    cr_assert_geq(fx.nparties, 1);
    cr_assert_eq(fx.parties[0], tx->from);
    balances(w, bal1, lim1, &n1);
    cr_assert_geq(n1, n0);
    for (uint32_t id = 1; id < n0; id++) {
        if (bal1[id] < bal0[id])
            cr_assert_geq(bal1[id], -lim1[id],
                          "%s took member %u to %lld, past its limit %lld",
                          kula_tx_kind_name(tx->kind), id, (long long)bal1[id],
                          (long long)lim1[id]);
        if (lim1[id] < lim0[id])
            w->lowered[id] = true;
    }
    note_success(w, tx);
    return rc;
}

/* ---- per-block invariants ---- */

static void check_block(world *w, bool full)
{
    kula_globals g = globals(w);
    int64_t sum = 0;
    uint32_t active = 0;
    for (uint32_t id = 1; id < g.next_member; id++) {
        kula_member m;
        cr_assert_eq(kula_ledger_member(w->l, id, &m), 0);
        sum += m.balance;
        if (m.status == KULA_MEMBER_ACTIVE) {
            active++;
            /* below -limit only after governance lowered the limit */
            cr_assert(m.balance >= -m.credit_limit || w->lowered[id],
                      "member %u at %lld below -%lld", id, (long long)m.balance,
                      (long long)m.credit_limit);
        }
    }
    kula_member none;
    cr_assert_eq(kula_ledger_member(w->l, g.next_member, &none), KULA_EUNKNOWNMEMBER);
    cr_assert_eq(active, g.active_members);
    cr_assert_geq(g.pools_total, 0);
    cr_assert_eq(sum + g.pools_total, 0, "height %llu: balances %lld + pools %lld != 0",
                 (unsigned long long)w->height, (long long)sum, (long long)g.pools_total);
    /* the pools the generator knows of */
    int64_t pools = 0;
    size_t k = 0;
    for (size_t i = 0; i < w->nhot; i++) {
        kula_agreement a;
        cr_assert_eq(kula_ledger_agreement(w->l, &w->hot[i], &a), 0);
        pools += a.pool;
        if (a.pool != 0)
            w->hot[k++] = w->hot[i];
    }
    w->nhot = k;
    cr_assert_eq(pools, g.pools_total, "known pools %lld, pools_total %lld", (long long)pools,
                 (long long)g.pools_total);
    if (!full)
        return;
    pools = 0;
    for (size_t i = 0; i < w->nagr; i++) {
        kula_agreement a;
        cr_assert_eq(kula_ledger_agreement(w->l, &w->agr[i], &a), 0);
        int64_t paid = 0;
        for (uint32_t j = 0; j < a.nparties; j++)
            paid += a.received[j];
        cr_assert_eq(a.benefits, paid + a.pool, "agreement benefits != payouts + pool");
        if (a.status == KULA_AGREEMENT_CLOSED)
            cr_assert_eq(a.pool, 0);
        pools += a.pool;
    }
    cr_assert_eq(pools, g.pools_total);
}

/* ---- one block ---- */

/* Generates and applies one block; out: the txs' bytes and results when
 * `out` is given (for the chain replay).  Returns the root. */
typedef struct block_out {
    kula_buf bytes[MAX_TXS_PER_BLOCK];
    int result[MAX_TXS_PER_BLOCK];
    uint32_t n;
} block_out;

static kula_hash run_block(world *w, block_out *out)
{
    w->height++;
    w->time_ms += 1000;
    cr_assert_eq(kula_ledger_begin_block(w->l, w->height, w->time_ms), 0);
    uint32_t ntx = rnd(w, MAX_TXS_PER_BLOCK + 1);
    if (out != NULL)
        out->n = ntx;
    for (uint32_t i = 0; i < ntx; i++) {
        kula_tx tx;
        bool replayed = w->replay.len > 0 && chance(w, 2);
        if (replayed) {
            /* an unsequenced tx already committed, sent again: its copy
             * lives in w->replay, which only a success rewrites */
            cr_assert_eq(kula_tx_decode(&tx, w->replay.data, w->replay.len), 0);
        } else {
            gen_tx(w, &tx);
            sign_tx(w, &tx);
        }
        int rc = apply_checked(w, &tx);
        if (replayed)
            cr_assert(rc == KULA_EREPLAYED || rc == KULA_ETXEXPIRED || rc == KULA_EINACTIVE,
                      "a committed unsequenced tx again: %s", kula_errname(rc));
        if (out != NULL) {
            kula_buf_reset(&out->bytes[i]);
            cr_assert_eq(kula_tx_encode(&out->bytes[i], &tx), 0);
            out->result[i] = rc;
        }
    }
    kula_hash root;
    const kula_state_write *wr;
    size_t n;
    uint64_t before, after;
    cr_assert_eq(kula_ledger_clearings(w->l, &before), 0);
    cr_assert_eq(kula_ledger_end_block(w->l, &root, &wr, &n), 0);
    kula_ledger_finish_block(w->l);
    cr_assert_eq(kula_ledger_clearings(w->l, &after), 0);
    for (uint64_t c = before + 1; c <= after; c++) {
        /* LEDGER §9.6: every payment left its invoice within its amount */
        kula_settlement z = { 0 };
        int zrc = kula_ledger_settlement(w->l, c, &z);
        cr_assert(zrc == 0 || zrc == KULA_ENOTFOUND, "settlement %llu: %s",
                  (unsigned long long)c, kula_errname(zrc));
        for (uint32_t i = 0; i < z.n; i++) {
            kula_invoice v;
            cr_assert_eq(kula_ledger_invoice(w->l, &z.items[i].id, &v), 0);
            cr_assert(v.paid >= z.items[i].amount && v.residual >= 0 &&
                      v.paid + v.residual <= v.amount && v.debtor == z.items[i].debtor);
        }
        w->st.settlement_payments += z.n;
        kula_settlement_free(&z);
    }
    if (w->checks)
        check_block(w, w->height % 25 == 0 || w->height == NBLOCKS);
    return root;
}

/* ---- tests ---- */

static void merge_stats(stats *total, const stats *s)
{
    for (int k = 0; k <= KULA_TX_KIND_MAX; k++) {
        total->ok[k] += s->ok[k];
        total->rejected[k] += s->rejected[k];
    }
    for (int e = 0; e < 128; e++)
        total->errors[e] += s->errors[e];
    for (int r = 0; r < 4; r++)
        total->settled_rule[r] += s->settled_rule[r];
    for (int a = 0; a <= KULA_ACT_KIND_MAX; a++)
        total->passed_action[a] += s->passed_action[a];
    total->admitted += s->admitted;
    total->removed += s->removed;
    total->rotated += s->rotated;
    total->settlement_payments += s->settlement_payments;
}

/* The generator must not be vacuous: every kind applied and refused, every
 * rule settled, every governance action passed, many distinct errors. */
static void check_coverage(const stats *t)
{
    for (int k = 1; k <= KULA_TX_KIND_MAX; k++) {
        cr_assert_gt(t->ok[k], 0, "no %s ever applied", kula_tx_kind_name(k));
        cr_assert_gt(t->rejected[k], 0, "no %s ever refused", kula_tx_kind_name(k));
    }
    for (int r = 0; r < 4; r++)
        cr_assert_gt(t->settled_rule[r], 0, "rule %d never settled", r);
    for (int a = 1; a <= KULA_ACT_KIND_MAX; a++)
        cr_assert_gt(t->passed_action[a], 0, "action %d never passed", a);
    cr_assert_gt(t->settlement_payments, 0, "no clearing ever settled a remainder");
    static const int must[] = {
        KULA_EUNKNOWNMEMBER, KULA_EINACTIVE, KULA_ENONCE, KULA_ESIGNERS, KULA_EBADSIG,
        KULA_ECREDIT, KULA_EAMOUNT, KULA_ESELF, KULA_EUNKNOWNAGREEMENT, KULA_ENOTPARTY,
        KULA_ECLOSED, KULA_EPOOL, KULA_ERULE, KULA_EUNKNOWNREFERRAL, KULA_ENOEXCHANGE,
        KULA_EUNKNOWNPROPOSAL, KULA_EVOTED, KULA_EPARAM, KULA_EDUPKEY, KULA_ETERM,
        KULA_EDECIDED, KULA_EEMPTYPOOL, KULA_ERATING, KULA_ETEXT, KULA_EORDER, KULA_EEXPIRED,
        KULA_ETXEXPIRED, KULA_EREPLAYED, KULA_EUNKNOWNINVOICE, KULA_ENOTDEBTOR,
        KULA_ENOTISSUER, KULA_EINVOICECLOSED, KULA_EDISPUTED, KULA_EACCEPTED, KULA_EPARTPAID,
        KULA_EOVERPAY, KULA_EOBSERVERMEMBER, KULA_EDUPOBSERVER, KULA_EUNKNOWNOBSERVER,
        KULA_ESETTLES, KULA_ENOTSETTLES,
    };
    for (size_t i = 0; i < sizeof(must) / sizeof(must[0]); i++)
        cr_assert_gt(t->errors[-must[i]], 0, "%s never produced", kula_errname(must[i]));
}

/* Runs seeds [first, first + n): each twice, in independent worlds, block by
 * block; the roots must agree at every height. */
static void run_seeds(uint64_t first, uint64_t n)
{
    stats total;
    memset(&total, 0, sizeof(total));
    world *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
    cr_assert(a != NULL && b != NULL);
    for (uint64_t seed = first; seed < first + n; seed++) {
        world_open(a, seed, true);
        world_open(b, seed, false);
        cr_assert_eq(memcmp(kula_ledger_state_root(a->l)->b, kula_ledger_state_root(b->l)->b, 32),
                     0);
        for (int h = 1; h <= NBLOCKS; h++) {
            kula_hash ra = run_block(a, NULL);
            kula_hash rb = run_block(b, NULL);
            cr_assert_eq(memcmp(ra.b, rb.b, 32), 0, "seed %llu: roots differ at height %d",
                         (unsigned long long)seed, h);
        }
        merge_stats(&total, &a->st);
        world_close(a);
        world_close(b);
    }
    free(a);
    free(b);
    if (getenv("KULA_RANDOM_STATS") != NULL) {
        for (int k = 1; k <= KULA_TX_KIND_MAX; k++)
            fprintf(stderr, "%-16s ok %5u rejected %5u\n", kula_tx_kind_name(k), total.ok[k],
                    total.rejected[k]);
        for (int e = 1; e < 128; e++)
            if (total.errors[e])
                fprintf(stderr, "  %-18s %u\n", kula_errname(-e), total.errors[e]);
        fprintf(stderr, "settled %u %u %u %u passed", total.settled_rule[0],
                total.settled_rule[1], total.settled_rule[2], total.settled_rule[3]);
        for (int k = 1; k <= KULA_ACT_KIND_MAX; k++)
            fprintf(stderr, " %u", total.passed_action[k]);
        fputc('\n', stderr);
    }
    check_coverage(&total);
}

Test(ledger_random, seeds_1_to_5) { run_seeds(1, 5); }
Test(ledger_random, seeds_6_to_10) { run_seeds(6, 5); }
Test(ledger_random, seeds_11_to_15) { run_seeds(11, 5); }
Test(ledger_random, seeds_16_to_20) { run_seeds(16, 5); }

/* A different seed in two worlds must (almost surely) diverge: the root
 * comparison above is not vacuous. */
Test(ledger_random, different_seeds_diverge)
{
    world *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
    world_open(a, 101, false);
    world_open(b, 102, false);
    bool differ = false;
    for (int h = 1; h <= 20; h++) {
        kula_hash ra = run_block(a, NULL);
        kula_hash rb = run_block(b, NULL);
        differ |= memcmp(ra.b, rb.b, 32) != 0;
    }
    cr_assert(differ);
    world_close(a);
    world_close(b);
    free(a);
    free(b);
}

/* ---- the same blocks through kula_chain on a real LMDB store ---- */

/* The commit of block `height`: a precommit of every validator of the set
 * that signed it (LAST after the block, in w's state), each with its
 * current key, so that it holds whatever governance did to the set. */
static void commit_for(world *w, uint64_t height, const kula_hash *hash, kula_buf *out)
{
    kula_vote v = { .type = KULA_VOTE_PRECOMMIT, .height = height, .round = 0,
                    .has_block = true, .block_hash = *hash };
    kula_commit *cm = calloc(1, sizeof(*cm));
    kula_valset *vs = malloc(sizeof(*vs));
    cr_assert(cm != NULL && vs != NULL);
    cr_assert_eq(kula_ledger_valset(w->l, KULA_VALSET_LAST, vs), 0);
    cm->height = height;
    cm->block_hash = *hash;
    for (uint32_t i = 0; i < vs->n; i++) {
        kula_hash d;
        v.validator = vs->v[i].id;
        kula_vote_sighash(&d, &w->g.chain_id, &v);
        cm->sigs[i].validator = vs->v[i].id;
        cr_assert_eq(kula_sign(&cm->sigs[i].sig, sk_of(w, vs->v[i].id), d.b), 0);
    }
    cm->nsigs = vs->n;
    kula_buf_reset(out);
    cr_assert_eq(kula_commit_encode(out, cm), 0);
    free(vs);
    free(cm);
}

static void chain_run(uint64_t seed, int nblocks)
{
    strcpy(tmpdir, "/tmp/kula-random-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    char path[96];
    snprintf(path, sizeof(path), "%s/ledger", tmpdir);
    world *w = malloc(sizeof(*w));
    world_open(w, seed, true);
    kula_store *s;
    cr_assert_eq(kula_store_open(&s, path, 0), 0);
    kula_buf canon;
    kula_buf_init(&canon);
    cr_assert_eq(kula_genesis_encode(&canon, &w->g), 0);
    cr_assert_eq(kula_store_bind(s, canon.data, canon.len, &w->g.chain_id, NULL), 0);
    kula_chain *c;
    kula_error oe;
    cr_assert_eq(kula_chain_open(&c, s, &w->g, &oe), 0, "%s", oe.what);
    cr_assert_eq(memcmp(kula_ledger_state_root(kula_chain_ledger(c))->b,
                        kula_ledger_state_root(w->l)->b, 32),
                 0, "genesis roots");
    block_out *out = calloc(1, sizeof(*out));
    for (int i = 0; i < MAX_TXS_PER_BLOCK; i++)
        kula_buf_init(&out->bytes[i]);
    kula_tx *txs = calloc(MAX_TXS_PER_BLOCK, sizeof(*txs));
    kula_candidate cands[MAX_TXS_PER_BLOCK];
    kula_buf block, commit;
    kula_buf_init(&block);
    kula_buf_init(&commit);
    size_t decoded = 0, included = 0;
    for (int h = 1; h <= nblocks; h++) {
        kula_hash root = run_block(w, out);
        /* Transactions the decoder refuses (a rating of 6, a Shapley table
         * of one value, ...) never reach a block; the bare ledger must have
         * refused them too. */
        uint32_t nc = 0, from[MAX_TXS_PER_BLOCK];
        for (uint32_t i = 0; i < out->n; i++) {
            if (kula_tx_decode(&txs[nc], out->bytes[i].data, out->bytes[i].len) != 0) {
                cr_assert_neq(out->result[i], 0, "an undecodable tx was applied");
                continue;
            }
            cands[nc] = (kula_candidate){ out->bytes[i].data, out->bytes[i].len, &txs[nc],
                                          NULL, 999 };
            from[nc++] = i;
        }
        decoded += nc;
        kula_hash hash;
        kula_buf_reset(&block);
        /* governance may remove member 1 or take its power: the proposer is
         * a validator of the set that signs this block, as a node's is */
        kula_valset *vs = malloc(sizeof(*vs));
        cr_assert(vs != NULL);
        cr_assert_eq(kula_ledger_valset(kula_chain_ledger(c), KULA_VALSET_NEXT, vs), 0);
        cr_assert_gt(vs->n, 0);
        uint32_t proposer = vs->v[0].id;
        free(vs);
        int rc = kula_chain_build_block(c, w->time_ms, proposer, cands, nc, &block, &hash);
        cr_assert_eq(rc, 0, "build %d: %s", h, kula_errname(rc));
        for (uint32_t i = 0; i < nc; i++) {
            cr_assert_eq(cands[i].result, out->result[from[i]],
                         "seed %llu height %d tx %u (%s): chain %s, memory %s",
                         (unsigned long long)seed, h, from[i], kula_tx_kind_name(txs[i].kind),
                         kula_errname(cands[i].result), kula_errname(out->result[from[i]]));
            included += cands[i].result == 0;
        }
        commit_for(w, (uint64_t)h, &hash, &commit);
        cr_assert_eq(kula_chain_commit_built(c, commit.data, commit.len), 0);
        kula_block b;
        cr_assert_eq(kula_block_decode(&b, block.data, block.len), 0);
        cr_assert_eq(memcmp(b.header.state_root.b, root.b, 32), 0,
                     "seed %llu: LMDB-backed root differs at height %d",
                     (unsigned long long)seed, h);
        kula_block_free(&b);
        cr_assert_eq(memcmp(kula_ledger_state_root(kula_chain_ledger(c))->b, root.b, 32), 0);
    }
    cr_assert_gt(included, (size_t)nblocks, "the chain saw too few valid transactions");
    cr_assert_gt(decoded, included);
    kula_chain_free(c);
    /* and a reindex agrees, with these small blocks prepared inline (the
     * default) and on the worker thread */
    size_t mins[] = { kula_reindex_ahead_min, 0 };
    for (int i = 0; i < 2; i++) {
        kula_reindex_ahead_min = mins[i];
        uint64_t bad;
        kula_error e;
        int rc = kula_chain_reindex(s, &w->g, NULL, NULL, &bad, &e);
        cr_assert_eq(rc, 0, "reindex: %s at %llu", e.what, (unsigned long long)bad);
        cr_assert_eq(kula_chain_open(&c, s, &w->g, &oe), 0);
        cr_assert_eq(kula_chain_height(c), (uint64_t)nblocks);
        cr_assert_eq(memcmp(kula_ledger_state_root(kula_chain_ledger(c))->b,
                            kula_ledger_state_root(w->l)->b, 32),
                     0);
        kula_chain_free(c);
    }
    kula_reindex_ahead_min = mins[0];
    kula_store_close(s);
    for (int i = 0; i < MAX_TXS_PER_BLOCK; i++)
        kula_buf_free(&out->bytes[i]);
    free(out);
    free(txs);
    kula_buf_free(&block);
    kula_buf_free(&commit);
    kula_buf_free(&canon);
    world_close(w);
    free(w);
}

Test(ledger_random, lmdb_chain_same_roots_seed_3) { chain_run(3, NBLOCKS); }
Test(ledger_random, lmdb_chain_same_roots_seed_17) { chain_run(17, NBLOCKS); }
