/* test_ledger.c -- the reciprocity state machine: genesis, blocks and state
 * roots, and every transaction kind's effects and errors (proto/LEDGER.md).
 *
 * Every rejected transaction is applied through lu_reject(), which also
 * checks that the block's diff (the whole state change so far) is byte for
 * byte what it was before. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledgerutil.h"

static lu_net net;

static void setup(void) { cr_assert_eq(kula_crypto_init(), 0); }

static void teardown(void)
{
    if (net.l != NULL)
        lu_net_close(&net);
}

TestSuite(ledger, .init = setup, .fini = teardown);

/* n members with credit limit 1000, member 1 the only validator. */
static void open_net(uint32_t n)
{
    kula_genesis g;
    lu_genesis(&g, n, 1000, NULL);
    lu_net_open(&net, &g);
}

#define SIGN(tx, ...) lu_sealsign(&net, (tx), LU_SIGNERS(__VA_ARGS__))

static kula_hash hash_of(const char *s)
{
    kula_hash h;
    kula_hash_bytes(&h, s, strlen(s));
    return h;
}

/* Sum of all members' balances plus every agreement pool must be 0. */
static void check_zero_sum(void)
{
    kula_globals g = lu_globals(&net);
    int64_t sum = g.pools_total;
    for (uint32_t id = 1; id < g.next_member; id++)
        sum += lu_balance(&net, id);
    cr_assert_eq(sum, 0, "balances + pools = %lld", (long long)sum);
}

/* ---- transaction builders (fill, not signed) ---- */

static void f_transfer(kula_tx *tx, uint32_t from, uint32_t to, int64_t amount)
{
    lu_tx(&net, tx, KULA_TX_TRANSFER, from);
    tx->u.transfer.to = to;
    tx->u.transfer.amount = amount;
}

static void f_exchange(kula_tx *tx, uint32_t from, uint32_t cp, const char *gives, int64_t gv,
                       const char *receives, int64_t rv)
{
    lu_tx(&net, tx, KULA_TX_EXCHANGE, from);
    tx->u.exchange.counterparty = cp;
    tx->u.exchange.gives = lu_text(gives);
    tx->u.exchange.gives_value = gv;
    tx->u.exchange.receives = lu_text(receives);
    tx->u.exchange.receives_value = rv;
}

static void f_referral(kula_tx *tx, uint32_t from, uint32_t to, int64_t fee,
                       const kula_hash *agreement)
{
    lu_tx(&net, tx, KULA_TX_REFERRAL, from);
    tx->u.referral.receiver = to;
    tx->u.referral.lead = hash_of("lead: a customer");
    tx->u.referral.fee = fee;
    if (agreement != NULL) {
        tx->u.referral.has_agreement = true;
        tx->u.referral.agreement = *agreement;
    }
}

static void f_conversion(kula_tx *tx, uint32_t from, const kula_hash *ref, int64_t value)
{
    lu_tx(&net, tx, KULA_TX_CONVERSION, from);
    tx->u.conversion.referral = *ref;
    tx->u.conversion.value = value;
}

static kula_rule r_kind(uint8_t kind)
{
    kula_rule r;
    memset(&r, 0, sizeof(r));
    r.kind = kind;
    return r;
}

static kula_rule r_weights(const uint32_t *w, uint32_t n)
{
    kula_rule r = r_kind(KULA_RULE_WEIGHTS);
    r.nweights = n;
    memcpy(r.weights, w, n * sizeof(*w));
    return r;
}

/* The coalition values are encoded into a buffer that lives as long as net. */
static kula_rule r_shapley(const int64_t *v, uint32_t nv)
{
    kula_rule r = r_kind(KULA_RULE_SHAPLEY);
    kula_buf *b = lu_body(&net);
    kula_writer w;
    kula_writer_init(&w, b);
    kula_w_array(&w, nv);
    for (uint32_t i = 0; i < nv; i++)
        kula_w_int(&w, v[i]);
    cr_assert_eq(b->err, 0);
    r.nvalues = nv;
    r.values_raw = b->data;
    r.values_raw_len = b->len;
    return r;
}

static void f_open(kula_tx *tx, uint32_t from, const uint32_t *parties, uint32_t n,
                   kula_rule rule, uint64_t term_end, uint32_t bps)
{
    lu_tx(&net, tx, KULA_TX_AGREEMENT_OPEN, from);
    tx->u.open.label = lu_text("joint");
    tx->u.open.title = lu_text("Joint campaign");
    tx->u.open.nparties = n;
    memcpy(tx->u.open.parties, parties, n * sizeof(*parties));
    tx->u.open.rule = rule;
    tx->u.open.term_end = term_end;
    tx->u.open.referral_fee_bps = bps;
}

static void f_amend(kula_tx *tx, uint32_t from, const kula_hash *a, kula_rule rule,
                    uint64_t term_end, uint32_t bps)
{
    lu_tx(&net, tx, KULA_TX_AGREEMENT_AMEND, from);
    tx->u.amend.agreement = *a;
    tx->u.amend.title = lu_text("Amended campaign");
    tx->u.amend.rule = rule;
    tx->u.amend.term_end = term_end;
    tx->u.amend.referral_fee_bps = bps;
}

static void f_contribute(kula_tx *tx, uint32_t from, const kula_hash *a, int64_t value,
                         uint32_t ack)
{
    lu_tx(&net, tx, KULA_TX_CONTRIBUTE, from);
    tx->u.contribute.agreement = *a;
    tx->u.contribute.value = value;
    tx->u.contribute.description = lu_text("flyers, 500 copies");
    tx->u.contribute.acknowledger = ack;
}

static void f_benefit(kula_tx *tx, uint32_t from, const kula_hash *a, int64_t amount)
{
    lu_tx(&net, tx, KULA_TX_BENEFIT, from);
    tx->u.benefit.agreement = *a;
    tx->u.benefit.amount = amount;
    tx->u.benefit.description = lu_text("ticket sales");
}

static void f_agr(kula_tx *tx, uint8_t kind, uint32_t from, const kula_hash *a)
{
    lu_tx(&net, tx, kind, from);
    tx->u.settle.agreement = *a;
}

static void f_feedback(kula_tx *tx, uint32_t from, uint32_t about, uint32_t rating)
{
    lu_tx(&net, tx, KULA_TX_FEEDBACK, from);
    tx->u.feedback.about = about;
    tx->u.feedback.rating = rating;
    tx->u.feedback.comment = lu_text("on time, friendly");
}

static void f_propose(kula_tx *tx, uint32_t from, const kula_action *a)
{
    lu_tx(&net, tx, KULA_TX_PROPOSE, from);
    tx->u.propose.action = *a;
}

static void f_vote(kula_tx *tx, uint32_t from, const kula_hash *q, bool approve)
{
    lu_tx(&net, tx, KULA_TX_VOTE, from);
    tx->u.vote.proposal = *q;
    tx->u.vote.approve = approve;
}

/* ---- applied helpers ---- */

static void do_transfer(uint32_t from, uint32_t to, int64_t amount)
{
    kula_tx tx;
    f_transfer(&tx, from, to, amount);
    lu_ok(&net, SIGN(&tx, from));
}

/* Opens an agreement signed by all its parties; returns its id. */
static kula_hash do_open(uint32_t from, const uint32_t *parties, uint32_t n, kula_rule rule,
                         uint64_t term_end, uint32_t bps)
{
    kula_tx tx;
    f_open(&tx, from, parties, n, rule, term_end, bps);
    lu_seal(&net, &tx);
    for (uint32_t i = 0; i < n; i++)
        lu_sign(&net, &tx, parties[i]);
    lu_ok(&net, &tx);
    return tx.id;
}

static kula_agreement agreement(const kula_hash *id)
{
    kula_agreement a;
    int rc = kula_ledger_agreement(net.l, id, &a);
    cr_assert_eq(rc, 0, "agreement: %s", kula_errname(rc));
    return a;
}

static void do_contribute(uint32_t from, const kula_hash *a, int64_t value, uint32_t ack)
{
    kula_tx tx;
    f_contribute(&tx, from, a, value, ack);
    lu_ok(&net, SIGN(&tx, from < ack ? from : ack, from < ack ? ack : from));
}

static void do_benefit(uint32_t from, const kula_hash *a, int64_t amount)
{
    kula_tx tx;
    f_benefit(&tx, from, a, amount);
    lu_ok(&net, SIGN(&tx, from));
}

static void do_settle(uint32_t from, const kula_hash *a)
{
    kula_tx tx;
    f_agr(&tx, KULA_TX_SETTLE, from, a);
    lu_ok(&net, SIGN(&tx, from));
}

static void sign_parties(kula_tx *tx, const kula_hash *a)
{
    kula_agreement ag = agreement(a);
    lu_seal(&net, tx);
    for (uint32_t i = 0; i < ag.nparties; i++)
        lu_sign(&net, tx, ag.parties[i]);
}

static kula_hash do_propose(uint32_t from, const kula_action *a)
{
    kula_tx tx;
    f_propose(&tx, from, a);
    lu_ok(&net, SIGN(&tx, from));
    return tx.id;
}

static void do_vote(uint32_t from, const kula_hash *q, bool approve)
{
    kula_tx tx;
    f_vote(&tx, from, q, approve);
    lu_ok(&net, SIGN(&tx, from));
}

static kula_proposal proposal(const kula_hash *id)
{
    kula_proposal q;
    int rc = kula_ledger_proposal(net.l, id, &q);
    cr_assert_eq(rc, 0, "proposal: %s", kula_errname(rc));
    return q;
}

static kula_pair pair(uint32_t a, uint32_t b)
{
    kula_pair x;
    cr_assert_eq(kula_ledger_pair(net.l, a, b, &x), 0);
    return x;
}

static kula_action a_kind(uint8_t kind)
{
    kula_action a;
    memset(&a, 0, sizeof(a));
    a.kind = kind;
    return a;
}

static kula_action a_admit(const kula_pubkey *pk, uint64_t power)
{
    kula_action a = a_kind(KULA_ACT_ADMIT);
    a.pubkey = *pk;
    a.name = lu_text("New Bakery");
    a.sector = lu_text("food");
    a.credit_limit = 500;
    a.voting_power = power;
    return a;
}

static kula_action a_member(uint8_t kind, uint32_t member)
{
    kula_action a = a_kind(kind);
    a.member = member;
    return a;
}

static kula_action a_param(uint32_t id, int64_t value)
{
    kula_action a = a_kind(KULA_ACT_PARAM);
    a.param = id;
    a.value = value;
    return a;
}

/* In a 4-member network with threshold 2/3: proposed by 1, yes from 2 and 3. */
static kula_proposal pass4(const kula_action *a)
{
    kula_hash id = do_propose(1, a);
    do_vote(2, &id, true);
    do_vote(3, &id, true);
    kula_proposal q = proposal(&id);
    cr_assert_eq(q.status, KULA_PROPOSAL_PASSED, "status %u", q.status);
    return q;
}

static void pubkey_of(const char *text, kula_seckey *sk, kula_pubkey *pk)
{
    lu_key_from(sk, pk, text);
}

/* =====================================================================
 * genesis, blocks, state roots
 * ===================================================================== */

Test(ledger, genesis_state)
{
    open_net(4);
    kula_globals g = lu_globals(&net);
    cr_assert_eq(g.next_member, 5);
    cr_assert_eq(g.active_members, 4);
    cr_assert_eq(g.pools_total, 0);
    for (uint32_t id = 1; id <= 4; id++) {
        kula_member m = lu_member(&net, id);
        kula_seckey sk;
        kula_pubkey pk;
        lu_member_key(id, &sk, &pk);
        cr_assert_eq(memcmp(m.pubkey.b, pk.b, 32), 0);
        char name[32];
        snprintf(name, sizeof(name), "Business %u", id);
        cr_assert_str_eq(m.name, name);
        cr_assert_eq(m.credit_limit, 1000);
        cr_assert_eq(m.status, KULA_MEMBER_ACTIVE);
        cr_assert_eq(m.balance, 0);
        cr_assert_eq(m.nonce, 0);
        cr_assert_eq(m.joined, 0);
        cr_assert_eq(m.voting_power, id == 1 ? 1u : 0u);
        uint32_t by_key = 0;
        cr_assert_eq(kula_ledger_member_by_key(net.l, &pk, &by_key), 0);
        cr_assert_eq(by_key, id);
    }
    kula_member m;
    cr_assert_eq(kula_ledger_member(net.l, 5, &m), KULA_EUNKNOWNMEMBER);
    cr_assert_eq(kula_ledger_member(net.l, 0, &m), KULA_EUNKNOWNMEMBER);
    kula_params p;
    cr_assert_eq(kula_ledger_params(net.l, &p), 0);
    cr_assert_eq(memcmp(&p, &net.g.params, sizeof(p)), 0);
    kula_valset *vs = malloc(sizeof(*vs));
    for (int which = 0; which <= 2; which++) {
        cr_assert_eq(kula_ledger_valset(net.l, which, vs), 0);
        cr_assert_eq(vs->n, 1);
        cr_assert_eq(vs->v[0].id, 1);
        cr_assert_eq(vs->v[0].power, 1);
        cr_assert_eq(vs->total_power, 1);
    }
    free(vs);
    kula_pubkey unknown;
    kula_seckey usk;
    lu_member_key(77, &usk, &unknown);
    uint32_t id;
    cr_assert_eq(kula_ledger_member_by_key(net.l, &unknown, &id), KULA_ENOTFOUND);
}

/* root = H("kula/state/v1" || prev || [[key, value|nil], ...]) recomputed
 * here from the writes, independently of the ledger's hashing code. */
static kula_hash ref_root(const kula_hash *prev, const kula_state_write *w, size_t n)
{
    kula_buf b;
    kula_buf_init(&b);
    kula_buf_append(&b, "kula/state/v1\0\0\0", 16);
    kula_buf_append(&b, prev->b, 32);
    kula_writer wr;
    kula_writer_init(&wr, &b);
    kula_w_array(&wr, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        kula_w_array(&wr, 2);
        kula_w_bin(&wr, w[i].key, w[i].klen);
        if (w[i].val != NULL)
            kula_w_bin(&wr, w[i].val, w[i].vlen);
        else
            kula_w_nil(&wr);
    }
    kula_hash h;
    kula_hash_bytes(&h, b.data, b.len);
    kula_buf_free(&b);
    return h;
}

Test(ledger, genesis_root_and_writes)
{
    kula_genesis g;
    lu_genesis(&g, 3, 1000, NULL);
    kula_ledger *l;
    cr_assert_eq(kula_ledger_new(&l, &g.chain_id, NULL, NULL, 0, NULL), 0);
    kula_hash root;
    const kula_state_write *w;
    size_t n;
    cr_assert_eq(kula_ledger_genesis(l, &g, &root, &w, &n), 0);
    /* G, P, 3 x W, 3 x M, 3 x K */
    cr_assert_eq(n, 11);
    for (size_t i = 1; i < n; i++) {
        size_t m = w[i - 1].klen < w[i].klen ? w[i - 1].klen : w[i].klen;
        int c = memcmp(w[i - 1].key, w[i].key, m);
        cr_assert(c < 0 || (c == 0 && w[i - 1].klen < w[i].klen), "writes not sorted at %zu", i);
        cr_assert_not_null(w[i].val);
    }
    kula_hash zero;
    memset(&zero, 0, sizeof(zero));
    kula_hash want = ref_root(&zero, w, n);
    cr_assert_eq(memcmp(root.b, want.b, 32), 0, "genesis root");
    /* The member record is [pubkey, name, sector, limit, 1, power, 0, 0, 0, 0, 0]. */
    kula_member m;
    memset(&m, 0, sizeof(m));
    m.pubkey = g.members[1].pubkey;
    strcpy(m.name, g.members[1].name);
    strcpy(m.sector, g.members[1].sector);
    m.credit_limit = 1000;
    m.status = KULA_MEMBER_ACTIVE;
    kula_buf enc;
    kula_buf_init(&enc);
    cr_assert_eq(kula_member_encode(&enc, &m), 0);
    bool found = false;
    for (size_t i = 0; i < n; i++)
        if (w[i].klen == 5 && w[i].key[0] == 'M' && kula_get_be32(w[i].key + 1) == 2) {
            found = true;
            cr_assert(w[i].vlen == enc.len && memcmp(w[i].val, enc.data, enc.len) == 0);
        }
    cr_assert(found);
    kula_buf_free(&enc);
    kula_ledger_finish_block(l);
    kula_ledger_free(l);

    /* Not on a ledger past genesis. */
    cr_assert_eq(kula_ledger_new(&l, &g.chain_id, NULL, NULL, 3, &root), 0);
    cr_assert_eq(kula_ledger_genesis(l, &g, &root, &w, &n), KULA_EGENESIS);
    cr_assert_eq(kula_ledger_height(l), 3);
    kula_ledger_free(l);
    kula_genesis_free(&g);
}

/* BUG (node/ledger/ledger.c:597, kula_ledger_genesis): the header says "The ledger
 * must be new with tip 0 ... Returns: 0, KULA_EGENESIS", but only the height
 * is checked, so a second call on the same ledger rewrites the genesis
 * records over the first (with a different genesis: a mix of both) and sets
 * the pending root to H(tag || 0 || []) -- finish_block then installs that
 * wrong root. */
Test(ledger, genesis_twice_refused)
{
    kula_genesis g;
    lu_genesis(&g, 3, 1000, NULL);
    kula_ledger *l;
    cr_assert_eq(kula_ledger_new(&l, &g.chain_id, NULL, NULL, 0, NULL), 0);
    kula_hash root, root2;
    const kula_state_write *w;
    size_t n;
    cr_assert_eq(kula_ledger_genesis(l, &g, &root, &w, &n), 0);
    kula_ledger_finish_block(l);
    int rc = kula_ledger_genesis(l, &g, &root2, &w, &n);
    kula_ledger_finish_block(l);
    bool root_kept = memcmp(kula_ledger_state_root(l)->b, root.b, 32) == 0;
    kula_ledger_free(l);
    kula_genesis_free(&g);
    cr_assert_eq(rc, KULA_EGENESIS, "second genesis on the same ledger: got %s",
                 kula_errname(rc));
    cr_assert(root_kept, "a second genesis replaced the genesis root");
}

/* A diff larger than the 64 KiB the root is hashed in: 1500 members make a
 * genesis diff of about 190 KB. */
Test(ledger, large_diff_root)
{
    kula_genesis g;
    lu_genesis(&g, 1500, 1000, NULL);
    kula_ledger *l;
    cr_assert_eq(kula_ledger_new(&l, &g.chain_id, NULL, NULL, 0, NULL), 0);
    kula_hash root;
    const kula_state_write *w;
    size_t n;
    cr_assert_eq(kula_ledger_genesis(l, &g, &root, &w, &n), 0);
    cr_assert_eq(n, 2 + 3 + 2 * 1500);
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += w[i].klen + w[i].vlen;
    cr_assert_gt(bytes, 2 * 65536);
    kula_hash zero;
    memset(&zero, 0, sizeof(zero));
    kula_hash want = ref_root(&zero, w, n);
    cr_assert_eq(memcmp(root.b, want.b, 32), 0, "root of a large diff");
    kula_ledger_finish_block(l);
    kula_ledger_free(l);
    kula_genesis_free(&g);
}

Test(ledger, block_roots_chain)
{
    open_net(3);
    /* An empty block: the validator sets rotate to the same values, so the
     * diff is empty and root_1 = H(tag || root_0 || [] ). */
    lu_begin(&net);
    kula_hash r1;
    const kula_state_write *w;
    size_t n;
    cr_assert_eq(kula_ledger_end_block(net.l, &r1, &w, &n), 0);
    cr_assert_eq(n, 0);
    kula_hash want = ref_root(&net.genesis_root, w, 0);
    cr_assert_eq(memcmp(r1.b, want.b, 32), 0);
    kula_ledger_finish_block(net.l);
    cr_assert_eq(kula_ledger_height(net.l), 1);
    cr_assert_eq(memcmp(kula_ledger_state_root(net.l)->b, r1.b, 32), 0);

    /* A block with a transfer: the diff is M1, M2 and the pair record. */
    lu_begin(&net);
    do_transfer(1, 2, 10);
    kula_hash r2;
    cr_assert_eq(kula_ledger_end_block(net.l, &r2, &w, &n), 0);
    cr_assert_eq(n, 3);
    cr_assert_eq(w[0].key[0], 'M');
    cr_assert_eq(kula_get_be32(w[0].key + 1), 1);
    cr_assert_eq(w[1].key[0], 'M');
    cr_assert_eq(kula_get_be32(w[1].key + 1), 2);
    cr_assert_eq(w[2].key[0], 'X');
    want = ref_root(&r1, w, n);
    cr_assert_eq(memcmp(r2.b, want.b, 32), 0);
    kula_ledger_finish_block(net.l);
    cr_assert_eq(kula_ledger_height(net.l), 2);
    cr_assert(memcmp(r1.b, r2.b, 32) != 0);
    cr_assert_eq(memcmp(kula_ledger_chain_id(net.l)->b, net.g.chain_id.b, 32), 0);
}

Test(ledger, block_lifecycle_errors)
{
    open_net(2);
    kula_tx tx;
    f_transfer(&tx, 1, 2, 5);
    SIGN(&tx, 1);
    cr_assert_eq(kula_ledger_apply_tx(net.l, &tx, NULL, NULL), KULA_EINVAL, "outside a block");
    kula_hash r;
    const kula_state_write *w;
    size_t n;
    cr_assert_eq(kula_ledger_end_block(net.l, &r, &w, &n), KULA_EINVAL);
    cr_assert_eq(kula_ledger_begin_block(net.l, 2, net.time_ms), KULA_EHEIGHT);
    cr_assert_eq(kula_ledger_begin_block(net.l, 0, net.time_ms), KULA_EHEIGHT);
    lu_begin(&net);
    cr_assert_eq(kula_ledger_begin_block(net.l, 1, net.time_ms), KULA_EHEIGHT, "twice");
    lu_end(&net, NULL);
}

Test(ledger, abort_block_restores_state)
{
    open_net(3);
    lu_begin(&net);
    do_transfer(1, 2, 10);
    lu_end(&net, NULL);
    kula_hash root1 = *kula_ledger_state_root(&*net.l);

    /* Block 2, aborted after end_block. */
    lu_begin(&net);
    do_transfer(2, 3, 7);
    do_transfer(1, 3, 1);
    kula_hash aborted;
    const kula_state_write *w;
    size_t n;
    cr_assert_eq(kula_ledger_end_block(net.l, &aborted, &w, &n), 0);
    kula_ledger_abort_block(net.l);
    cr_assert_eq(kula_ledger_height(net.l), 1);
    cr_assert_eq(memcmp(kula_ledger_state_root(net.l)->b, root1.b, 32), 0);
    cr_assert_eq(lu_balance(&net, 2), 10);
    cr_assert_eq(lu_balance(&net, 3), 0);
    cr_assert_eq(lu_member(&net, 2).nonce, 0);

    /* Block 2 again, with the same transactions: the same root. */
    net.time_ms -= 1000;
    lu_begin(&net);
    do_transfer(2, 3, 7);
    do_transfer(1, 3, 1);
    kula_hash again;
    lu_end(&net, &again);
    cr_assert_eq(memcmp(again.b, aborted.b, 32), 0);
    cr_assert_eq(lu_balance(&net, 3), 8);
}

Test(ledger, rejected_tx_same_root_as_without)
{
    /* Two ledgers: one block with [ok, rejected, ok], one with [ok, ok]. */
    kula_genesis g1, g2;
    lu_genesis(&g1, 3, 1000, NULL);
    lu_genesis(&g2, 3, 1000, NULL);
    lu_net other;
    lu_net_open(&other, &g2);
    open_net(3);
    kula_genesis_free(&g1);

    kula_hash roots[2];
    for (int k = 0; k < 2; k++) {
        lu_net *cur = k == 0 ? &net : &other;
        lu_begin(cur);
        kula_tx tx;
        lu_tx(cur, &tx, KULA_TX_TRANSFER, 1);
        tx.u.transfer.to = 2;
        tx.u.transfer.amount = 100;
        lu_seal(cur, &tx);
        lu_sign(cur, &tx, 1);
        lu_ok(cur, &tx);
        if (k == 0) {
            kula_tx bad;
            lu_tx(cur, &bad, KULA_TX_TRANSFER, 2);
            bad.u.transfer.to = 3;
            bad.u.transfer.amount = 5000; /* past the credit limit */
            lu_seal(cur, &bad);
            lu_sign(cur, &bad, 2);
            lu_reject(cur, &bad, KULA_ECREDIT);
        }
        lu_tx(cur, &tx, KULA_TX_TRANSFER, 2);
        tx.u.transfer.to = 3;
        tx.u.transfer.amount = 30;
        lu_seal(cur, &tx);
        lu_sign(cur, &tx, 2);
        lu_ok(cur, &tx);
        lu_end(cur, &roots[k]);
    }
    cr_assert_eq(memcmp(roots[0].b, roots[1].b, 32), 0);
    lu_net_close(&other);
}

/* =====================================================================
 * every transaction: member, nonce, signatures
 * ===================================================================== */

Test(ledger, unknown_and_inactive_initiator)
{
    open_net(4);
    lu_begin(&net);
    kula_tx tx;
    f_transfer(&tx, 9, 1, 5);
    tx.nonce = 1;
    lu_seal(&net, &tx);
    kula_seckey sk;
    kula_pubkey pk;
    lu_member_key(9, &sk, &pk);
    lu_sign_with(&net.g.chain_id, &tx, 9, &sk);
    lu_reject(&net, &tx, KULA_EUNKNOWNMEMBER);

    /* Remove member 4: it can no longer transact, nor be paid, nor sign. */
    do_transfer(4, 1, 50);
    kula_action rm = a_member(KULA_ACT_REMOVE, 4);
    pass4(&rm);
    cr_assert_eq(lu_member(&net, 4).status, KULA_MEMBER_REMOVED);
    cr_assert_eq(lu_balance(&net, 4), -50, "a removed member keeps its balance");
    f_transfer(&tx, 4, 1, 5);
    lu_reject(&net, SIGN(&tx, 4), KULA_EINACTIVE);
    f_transfer(&tx, 1, 4, 5);
    lu_reject(&net, SIGN(&tx, 1), KULA_EINACTIVE);
    f_exchange(&tx, 1, 4, "bread", 10, "", 0);
    lu_reject(&net, SIGN(&tx, 1, 4), KULA_EINACTIVE);
    f_feedback(&tx, 4, 1, 5);
    lu_reject(&net, SIGN(&tx, 4), KULA_EINACTIVE);
    check_zero_sum();
    lu_end(&net, NULL);
}

Test(ledger, nonces)
{
    open_net(2);
    lu_begin(&net);
    kula_tx tx;
    f_transfer(&tx, 1, 2, 5);
    SIGN(&tx, 1);
    cr_assert_eq(tx.nonce, 1);
    lu_ok(&net, &tx);
    cr_assert_eq(lu_member(&net, 1).nonce, 1);
    cr_assert_eq(lu_member(&net, 2).nonce, 0, "only the initiator's nonce moves");
    /* Replay of the same signed transaction. */
    lu_reject(&net, &tx, KULA_ENONCE);
    /* A gap. */
    f_transfer(&tx, 1, 2, 5);
    tx.nonce = 3;
    lu_reject(&net, SIGN(&tx, 1), KULA_ENONCE);
    /* Zero, and the current nonce. */
    tx.nonce = 0;
    lu_reject(&net, SIGN(&tx, 1), KULA_ENONCE);
    tx.nonce = 1;
    lu_reject(&net, SIGN(&tx, 1), KULA_ENONCE);
    tx.nonce = 2;
    lu_ok(&net, SIGN(&tx, 1));
    lu_end(&net, NULL);
    /* Across blocks too. */
    lu_begin(&net);
    lu_reject(&net, &tx, KULA_ENONCE);
    cr_assert_eq(lu_member(&net, 1).nonce, 2);
    cr_assert_eq(lu_balance(&net, 2), 10);
    lu_end(&net, NULL);
}

/* ---- unsequenced and dated transactions (LEDGER.md §2.2) ---- */

/* An exchange of 1 with 2, unsequenced (nonce 0) and dated: the shape of
 * every transaction the CLI writes for co-signing. */
static kula_tx *dated_exchange(kula_tx *tx, uint64_t expires)
{
    f_exchange(tx, 1, 2, "logo design", 300, "bread", 100);
    tx->nonce = 0;
    tx->expires = expires;
    return SIGN(tx, 1, 2);
}

static bool diff_has(const kula_key *k, const uint8_t *val, size_t vlen);

/* Whether the block's diff so far writes the replay record of tx id with
 * [height]. */
static bool diff_has_done(const kula_hash *id, uint64_t height)
{
    kula_key k;
    kula_key_done(&k, id);
    cr_assert_eq(k.n, 33);
    cr_assert_eq(k.b[0], 'D');
    cr_assert_eq(memcmp(k.b + 1, id->b, 32), 0);
    kula_buf v;
    kula_buf_init(&v);
    kula_writer w;
    kula_writer_init(&w, &v);
    kula_w_array(&w, 1);
    kula_w_uint(&w, height);
    cr_assert_eq(v.err, 0);
    bool has = diff_has(&k, v.data, v.len);
    kula_buf_free(&v);
    return has;
}

/* A co-signed exchange built before its initiator committed 20 other
 * transactions still commits: it holds no place in the initiator's
 * sequence.  Its id is recorded ("D" || id = [height], in the diff and so
 * in the state root), the initiator's nonce does not move, and the same
 * transaction again is EREPLAYED in the same block and in later ones. */
Test(ledger, unsequenced_commits_after_other_transactions)
{
    open_net(3);
    lu_begin(&net);
    kula_tx tx;
    dated_exchange(&tx, LU_GENESIS_TIME + 30 * 86400000ull);
    cr_assert_eq(tx.body[0], 0x97, "a body of 7 fields");
    cr_assert_eq(tx.body[1], KULA_TX_VERSION_DATED);
    for (int i = 0; i < 20; i++)
        do_transfer(1, 3, 1);
    lu_end(&net, NULL);
    lu_begin(&net);
    cr_assert_eq(lu_member(&net, 1).nonce, 20);
    uint64_t at;
    cr_assert_eq(kula_ledger_done(net.l, &tx.id, &at), KULA_ENOTFOUND);
    lu_ok(&net, &tx);
    cr_assert_eq(lu_balance(&net, 1), 200 - 20);
    cr_assert_eq(lu_balance(&net, 2), -200);
    cr_assert_eq(lu_member(&net, 1).nonce, 20, "an unsequenced tx spends no nonce");
    cr_assert_eq(pair(1, 2).exchanges, 1);
    cr_assert_eq(kula_ledger_done(net.l, &tx.id, &at), 0);
    cr_assert_eq(at, 2);
    cr_assert(diff_has_done(&tx.id, 2), "the replay record is in the block's diff");
    /* the same transaction again, in the same block */
    lu_reject(&net, &tx, KULA_EREPLAYED);
    /* the initiator's sequence goes on from where it was */
    do_transfer(1, 3, 1);
    cr_assert_eq(lu_member(&net, 1).nonce, 21);
    lu_end(&net, NULL);
    /* and in a later block */
    lu_begin(&net);
    lu_reject(&net, &tx, KULA_EREPLAYED);
    cr_assert_eq(lu_balance(&net, 2), -200);
    check_zero_sum();
    lu_end(&net, NULL);
}

/* The block's time against the expiry: a block at the expiry itself still
 * takes the transaction, a later one refuses it with ETXEXPIRED and
 * changes nothing, not even the state root. */
Test(ledger, dated_expiry)
{
    open_net(3);
    lu_begin(&net);
    do_transfer(3, 1, 5);
    lu_end(&net, NULL);
    kula_hash root1 = *kula_ledger_state_root(net.l);

    /* Block 2, one ms after the expiry: refused. */
    kula_tx tx;
    dated_exchange(&tx, net.time_ms + 3600000);
    net.time_ms = tx.expires + 1 - 1000; /* lu_begin adds 1000 ms */
    lu_begin(&net);
    cr_assert_eq(net.time_ms, tx.expires + 1);
    lu_reject(&net, &tx, KULA_ETXEXPIRED);
    kula_hash refused;
    const kula_state_write *w;
    size_t n;
    cr_assert_eq(kula_ledger_end_block(net.l, &refused, &w, &n), 0);
    kula_ledger_abort_block(net.l);
    /* ...the same root as block 2 empty */
    net.time_ms -= 1000;
    lu_begin(&net);
    kula_hash empty;
    lu_end(&net, &empty);
    cr_assert_eq(memcmp(refused.b, empty.b, 32), 0, "an expired tx changed the state root");
    cr_assert_neq(memcmp(root1.b, empty.b, 32), 0);
    cr_assert_eq(lu_balance(&net, 2), 0);
    uint64_t at;
    cr_assert_eq(kula_ledger_done(net.l, &tx.id, &at), KULA_ENOTFOUND);

    /* Block 3 exactly at the expiry: committed. */
    dated_exchange(&tx, net.time_ms + 1000);
    lu_begin(&net);
    cr_assert_eq(net.time_ms, tx.expires);
    lu_ok(&net, &tx);
    cr_assert_eq(lu_balance(&net, 2), -200);
    lu_end(&net, NULL);

    /* The expiry is checked before the nonce and the signatures: an
     * expired transaction says so, whatever else is wrong with it. */
    lu_begin(&net);
    f_transfer(&tx, 2, 1, 5);
    tx.nonce = 7;
    tx.expires = net.time_ms - 1;
    lu_reject(&net, SIGN(&tx, 3), KULA_ETXEXPIRED);
    lu_end(&net, NULL);
}

/* Nonce 0 without an expiry (a version 1 body) stays refused; a sequenced
 * transaction with an expiry follows the nonce rule, and spends its nonce
 * rather than writing a replay record. */
Test(ledger, dated_sequencing)
{
    open_net(2);
    lu_begin(&net);
    kula_tx tx;
    f_transfer(&tx, 1, 2, 5);
    tx.nonce = 0;
    lu_reject(&net, SIGN(&tx, 1), KULA_ENONCE);
    cr_assert_eq(tx.body[1], KULA_VERSION, "no expiry: a version 1 body");

    uint64_t expires = net.time_ms + 86400000;
    f_transfer(&tx, 1, 2, 5);
    tx.expires = expires;
    tx.nonce = 2;
    lu_reject(&net, SIGN(&tx, 1), KULA_ENONCE);
    tx.nonce = 1;
    lu_ok(&net, SIGN(&tx, 1));
    cr_assert_eq(lu_member(&net, 1).nonce, 1);
    uint64_t at;
    cr_assert_eq(kula_ledger_done(net.l, &tx.id, &at), KULA_ENOTFOUND,
                 "a sequenced tx is not recorded by its id");
    cr_assert(!diff_has_done(&tx.id, 1));
    lu_reject(&net, &tx, KULA_ENONCE);
    /* A member's unsequenced transactions need not wait for each other:
     * two with the same contents and different expiries are two
     * transactions (two ids). */
    kula_tx a, b;
    f_transfer(&a, 1, 2, 5);
    a.nonce = 0;
    a.expires = expires;
    f_transfer(&b, 1, 2, 5);
    b.nonce = 0;
    b.expires = expires + 1;
    SIGN(&a, 1);
    SIGN(&b, 1);
    cr_assert_neq(memcmp(a.id.b, b.id.b, 32), 0);
    lu_ok(&net, &b);
    lu_ok(&net, &a);
    cr_assert_eq(lu_balance(&net, 2), 15);
    cr_assert_eq(lu_member(&net, 1).nonce, 1);
    /* An unsequenced tx whose rule fails changes nothing: no record. */
    f_transfer(&a, 1, 2, 5000);
    a.nonce = 0;
    a.expires = expires;
    lu_reject(&net, SIGN(&a, 1), KULA_ECREDIT);
    cr_assert_eq(kula_ledger_done(net.l, &a.id, &at), KULA_ENOTFOUND);
    /* ...nor does one with a bad signature */
    f_transfer(&a, 1, 2, 6);
    a.nonce = 0;
    a.expires = expires;
    SIGN(&a, 1);
    a.sigs[0].sig.b[3] ^= 1;
    lu_reject(&net, &a, KULA_EBADSIG);
    lu_end(&net, NULL);
}

/* Signature jobs and the signer query do not look at the nonce. */
Test(ledger, unsequenced_signers_and_jobs)
{
    open_net(3);
    lu_begin(&net);
    kula_tx tx;
    dated_exchange(&tx, net.time_ms + 60000);
    kula_verify_job jobs[KULA_MAX_PARTIES];
    cr_assert_eq(kula_ledger_sig_jobs(net.l, &tx, jobs), 0);
    kula_hash digest;
    kula_tx_sighash(&digest, &net.g.chain_id, &tx);
    for (uint32_t k = 0; k < 2; k++) {
        cr_assert_eq(memcmp(jobs[k].digest.b, digest.b, 32), 0);
        cr_assert(kula_verify(&jobs[k].key, jobs[k].digest.b, &jobs[k].sig), "job %u", k);
    }
    uint32_t ids[KULA_MAX_PARTIES], n;
    kula_pubkey keys[KULA_MAX_PARTIES];
    cr_assert_eq(kula_ledger_signers(net.l, &tx, ids, keys, &n), 0);
    cr_assert(n == 2 && ids[0] == 1 && ids[1] == 2);
    lu_ok(&net, &tx);
    lu_end(&net, NULL);
}

Test(ledger, signer_sets)
{
    open_net(4);
    lu_begin(&net);
    kula_tx tx;
    /* No signature at all. */
    f_transfer(&tx, 1, 2, 5);
    lu_seal(&net, &tx);
    lu_reject(&net, &tx, KULA_ESIGNERS);
    /* An extra signer. */
    lu_reject(&net, SIGN(&tx, 1, 2), KULA_ESIGNERS);
    /* The wrong signer. */
    lu_reject(&net, SIGN(&tx, 2), KULA_ESIGNERS);
    /* Exchange: both must sign. */
    f_exchange(&tx, 1, 2, "design", 100, "bread", 100);
    lu_reject(&net, SIGN(&tx, 1), KULA_ESIGNERS);
    lu_reject(&net, SIGN(&tx, 2), KULA_ESIGNERS);
    lu_reject(&net, SIGN(&tx, 1, 2, 3), KULA_ESIGNERS);
    /* Signatures in the wrong order (the decoder would refuse them too). */
    SIGN(&tx, 1, 2);
    kula_tx_sig t = tx.sigs[0];
    tx.sigs[0] = tx.sigs[1];
    tx.sigs[1] = t;
    lu_reject(&net, &tx, KULA_ESIGNERS);
    lu_ok(&net, SIGN(&tx, 1, 2));
    /* Agreement open: every party. */
    f_open(&tx, 1, (uint32_t[]){ 1, 2, 3 }, 3, r_kind(KULA_RULE_EQUAL), 0, 0);
    lu_reject(&net, SIGN(&tx, 1, 2), KULA_ESIGNERS);
    lu_reject(&net, SIGN(&tx, 1, 2, 3, 4), KULA_ESIGNERS);
    lu_ok(&net, SIGN(&tx, 1, 2, 3));
    lu_end(&net, NULL);
}

Test(ledger, bad_signatures)
{
    open_net(3);
    lu_begin(&net);
    kula_tx tx;
    f_transfer(&tx, 1, 2, 5);
    lu_seal(&net, &tx);
    /* Signed by the wrong key under member 1's id. */
    kula_seckey sk2;
    kula_pubkey pk2;
    lu_member_key(2, &sk2, &pk2);
    lu_sign_with(&net.g.chain_id, &tx, 1, &sk2);
    lu_reject(&net, &tx, KULA_EBADSIG);
    /* The right key over another network's chain id. */
    kula_hash other = hash_of("another network");
    kula_seckey sk1;
    kula_pubkey pk1;
    lu_member_key(1, &sk1, &pk1);
    lu_seal(&net, &tx);
    lu_sign_with(&other, &tx, 1, &sk1);
    lu_reject(&net, &tx, KULA_EBADSIG);
    /* A flipped signature bit. */
    SIGN(&tx, 1);
    tx.sigs[0].sig.b[10] ^= 1;
    lu_reject(&net, &tx, KULA_EBADSIG);
    /* The second signature of an exchange bad, the first good. */
    f_exchange(&tx, 1, 2, "x", 5, "y", 5);
    lu_seal(&net, &tx);
    lu_sign(&net, &tx, 1);
    lu_sign_with(&net.g.chain_id, &tx, 2, &sk1);
    lu_reject(&net, &tx, KULA_EBADSIG);
    lu_ok(&net, SIGN(&tx, 1, 2));
    lu_end(&net, NULL);
}

Test(ledger, apply_opts_skip_and_preverified)
{
    open_net(2);
    lu_begin(&net);
    kula_seckey sk1, sk2;
    kula_pubkey pk1, pk2;
    lu_member_key(1, &sk1, &pk1);
    lu_member_key(2, &sk2, &pk2);
    kula_tx tx;
    f_transfer(&tx, 1, 2, 5);
    SIGN(&tx, 1);
    tx.sigs[0].sig.b[0] ^= 1; /* invalid */
    /* Pre-verified against a key that is no longer the signer's: checked. */
    kula_apply_opts stale = { .skip_sigs = false, .verified = &pk2 };
    lu_reject_l(net.l, &tx, &stale, KULA_EBADSIG, "stale key");
    lu_reject_l(net.l, &tx, NULL, KULA_EBADSIG, "no opts");
    /* Pre-verified with the current key: not checked again. */
    kula_apply_opts pre = { .skip_sigs = false, .verified = &pk1 };
    cr_assert_eq(kula_ledger_apply_tx(net.l, &tx, &pre, NULL), 0);
    /* skip_sigs: not checked, but the signer set still is. */
    f_transfer(&tx, 1, 2, 5);
    SIGN(&tx, 1);
    tx.sigs[0].sig.b[0] ^= 1;
    kula_apply_opts skip = { .skip_sigs = true };
    cr_assert_eq(kula_ledger_apply_tx(net.l, &tx, &skip, NULL), 0);
    f_transfer(&tx, 1, 2, 5);
    SIGN(&tx, 2);
    lu_reject_l(net.l, &tx, &skip, KULA_ESIGNERS, "skip_sigs, wrong signer");
    cr_assert_eq(lu_balance(&net, 2), 10);
    lu_end(&net, NULL);
}

Test(ledger, memo_text)
{
    open_net(2);
    lu_begin(&net);
    kula_tx tx;
    f_transfer(&tx, 1, 2, 5);
    tx.memo = lu_text("line one\nline two");
    lu_ok(&net, SIGN(&tx, 1));
    f_transfer(&tx, 1, 2, 5);
    tx.memo = lu_text("\x1b[2Jgotcha");
    lu_reject(&net, SIGN(&tx, 1), KULA_ETEXT);
    tx.memo = lu_text("tab\there");
    lu_reject(&net, SIGN(&tx, 1), KULA_ETEXT);
    tx.memo = lu_text("del\x7f");
    lu_reject(&net, SIGN(&tx, 1), KULA_ETEXT);
    lu_end(&net, NULL);
}

Test(ledger, signers_query)
{
    open_net(4);
    lu_begin(&net);
    kula_tx tx;
    uint32_t ids[KULA_MAX_PARTIES], n;
    kula_pubkey keys[KULA_MAX_PARTIES];
    f_exchange(&tx, 3, 1, "a", 1, "b", 1);
    cr_assert_eq(kula_ledger_signers(net.l, &tx, ids, keys, &n), 0);
    cr_assert_eq(n, 2);
    cr_assert_eq(ids[0], 1);
    cr_assert_eq(ids[1], 3);
    kula_seckey sk;
    kula_pubkey pk;
    lu_member_key(3, &sk, &pk);
    cr_assert_eq(memcmp(keys[1].b, pk.b, 32), 0);
    kula_hash a = do_open(2, (uint32_t[]){ 2, 3, 4 }, 3, r_kind(KULA_RULE_EQUAL), 0, 0);
    f_agr(&tx, KULA_TX_AGREEMENT_CLOSE, 3, &a);
    cr_assert_eq(kula_ledger_signers(net.l, &tx, ids, keys, &n), 0);
    cr_assert_eq(n, 3);
    cr_assert(ids[0] == 2 && ids[1] == 3 && ids[2] == 4);
    f_agr(&tx, KULA_TX_AGREEMENT_CLOSE, 1, &a);
    cr_assert_eq(kula_ledger_signers(net.l, &tx, ids, keys, &n), KULA_ENOTPARTY);
    kula_hash none = hash_of("no agreement");
    f_agr(&tx, KULA_TX_AGREEMENT_AMEND, 2, &none);
    cr_assert_eq(kula_ledger_signers(net.l, &tx, ids, keys, &n), KULA_EUNKNOWNAGREEMENT);
    f_transfer(&tx, 9, 1, 1);
    cr_assert_eq(kula_ledger_signers(net.l, &tx, ids, keys, &n), KULA_EUNKNOWNMEMBER);
    lu_end(&net, NULL);
}

/* The verification jobs ahead of apply: one per signature, each with the
 * signer's key and the digest it signed, so that they verify exactly when
 * the signatures are right; a signature set that is not the required one,
 * or a signer the state cannot tell yet, gives no jobs. */
Test(ledger, sig_jobs)
{
    open_net(4);
    lu_begin(&net);
    kula_tx tx;
    kula_verify_job jobs[KULA_MAX_PARTIES];
    f_exchange(&tx, 3, 1, "a", 1, "b", 1);
    SIGN(&tx, 1, 3);
    cr_assert_eq(kula_ledger_sig_jobs(net.l, &tx, jobs), 0);
    for (uint32_t k = 0; k < 2; k++) {
        kula_seckey sk;
        kula_pubkey pk;
        lu_member_key(tx.sigs[k].signer, &sk, &pk);
        cr_assert_eq(memcmp(jobs[k].key.b, pk.b, 32), 0, "job %u key", k);
        cr_assert(kula_verify(&jobs[k].key, jobs[k].digest.b, &jobs[k].sig), "job %u", k);
        cr_assert(!jobs[k].ok);
    }
    /* a signature of the wrong body fails its job, not the set-up */
    tx.sigs[1].sig.b[7] ^= 1;
    cr_assert_eq(kula_ledger_sig_jobs(net.l, &tx, jobs), 0);
    cr_assert(!kula_verify(&jobs[1].key, jobs[1].digest.b, &jobs[1].sig));
    /* only one of the two parties signed: not the required set */
    f_exchange(&tx, 3, 1, "a", 1, "b", 1);
    SIGN(&tx, 3);
    cr_assert_eq(kula_ledger_sig_jobs(net.l, &tx, jobs), KULA_ESIGNERS);
    /* a stranger signed instead of the counterparty */
    f_exchange(&tx, 3, 1, "a", 1, "b", 1);
    SIGN(&tx, 2, 3);
    cr_assert_eq(kula_ledger_sig_jobs(net.l, &tx, jobs), KULA_ESIGNERS);
    kula_hash none = hash_of("no agreement");
    f_agr(&tx, KULA_TX_AGREEMENT_AMEND, 2, &none);
    SIGN(&tx, 2);
    cr_assert_eq(kula_ledger_sig_jobs(net.l, &tx, jobs), KULA_EUNKNOWNAGREEMENT);
    lu_end(&net, NULL);
}

/* =====================================================================
 * transfers and credit
 * ===================================================================== */

Test(ledger, transfer_effects)
{
    open_net(3);
    lu_begin(&net);
    kula_tx tx;
    f_transfer(&tx, 2, 3, 250);
    SIGN(&tx, 2);
    kula_tx_effects fx;
    cr_assert_eq(kula_ledger_apply_tx(net.l, &tx, NULL, &fx), 0);
    cr_assert_eq(fx.nparties, 2);
    cr_assert_eq(fx.parties[0], 2);
    cr_assert_eq(fx.parties[1], 3);
    cr_assert_eq(lu_balance(&net, 2), -250);
    cr_assert_eq(lu_balance(&net, 3), 250);
    cr_assert_eq(lu_balance(&net, 1), 0);
    cr_assert_eq(lu_member(&net, 2).nonce, 1);
    kula_pair x = pair(3, 2);
    cr_assert_eq(x.exchanges, 1);
    cr_assert_eq(x.feedback_ab, 0);
    cr_assert_eq(pair(1, 2).exchanges, 0);
    do_transfer(3, 2, 250);
    cr_assert_eq(lu_balance(&net, 2), 0);
    cr_assert_eq(pair(2, 3).exchanges, 2);
    check_zero_sum();
    lu_end(&net, NULL);
}

Test(ledger, transfer_errors)
{
    open_net(3);
    lu_begin(&net);
    kula_tx tx;
    f_transfer(&tx, 1, 1, 5);
    lu_reject(&net, SIGN(&tx, 1), KULA_ESELF);
    f_transfer(&tx, 1, 2, 0);
    lu_reject(&net, SIGN(&tx, 1), KULA_EAMOUNT);
    f_transfer(&tx, 1, 2, -5);
    lu_reject(&net, SIGN(&tx, 1), KULA_EAMOUNT);
    f_transfer(&tx, 1, 2, INT64_MIN);
    lu_reject(&net, SIGN(&tx, 1), KULA_EAMOUNT);
    f_transfer(&tx, 1, 4, 5);
    lu_reject(&net, SIGN(&tx, 1), KULA_EUNKNOWNMEMBER);
    f_transfer(&tx, 1, 0, 5);
    lu_reject(&net, SIGN(&tx, 1), KULA_EUNKNOWNMEMBER);
    f_transfer(&tx, 1, 2, INT64_MAX);
    lu_reject(&net, SIGN(&tx, 1), KULA_ECREDIT);
    lu_end(&net, NULL);
}

Test(ledger, credit_limit_boundary)
{
    open_net(3);
    lu_begin(&net);
    kula_tx tx;
    /* One unit past the limit in one payment. */
    f_transfer(&tx, 2, 3, 1001);
    lu_reject(&net, SIGN(&tx, 2), KULA_ECREDIT);
    /* Exactly down to -limit passes ... */
    do_transfer(2, 3, 600);
    do_transfer(2, 3, 400);
    cr_assert_eq(lu_balance(&net, 2), -1000);
    /* ... and one more unit does not. */
    f_transfer(&tx, 2, 3, 1);
    lu_reject(&net, SIGN(&tx, 2), KULA_ECREDIT);
    /* Receiving restores room to pay. */
    do_transfer(1, 2, 1);
    do_transfer(2, 3, 1);
    cr_assert_eq(lu_balance(&net, 2), -1000);
    check_zero_sum();
    lu_end(&net, NULL);
}

Test(ledger, overflow_is_refused_and_rolls_back_partial_writes)
{
    /* Six members at the largest credit limit L = 2^61 - 1: four of them
     * pay member 6 their whole limit, so 6 holds 4L = 2^63 - 4, three
     * short of INT64_MAX. */
    const int64_t L = INT64_MAX / 4;
    kula_genesis g;
    lu_genesis(&g, 6, L, NULL);
    lu_net_open(&net, &g);
    lu_begin(&net);
    for (uint32_t id = 2; id <= 5; id++)
        do_transfer(id, 6, L);
    cr_assert_eq(lu_balance(&net, 6), INT64_MAX - 3);
    kula_tx tx;
    f_transfer(&tx, 1, 6, 4);
    lu_reject(&net, SIGN(&tx, 1), KULA_EOVERFLOW);
    do_transfer(1, 6, 3);
    cr_assert_eq(lu_balance(&net, 6), INT64_MAX);
    do_transfer(6, 1, 3);
    /* An agreement of 1 and 6 with 10 in its pool: settling pays party 1
     * its 5 first, then party 6's 5 overflows.  The whole settlement must
     * be undone, party 1's share included. */
    kula_hash a = do_open(1, (uint32_t[]){ 1, 6 }, 2, r_kind(KULA_RULE_EQUAL), 0, 0);
    do_benefit(1, &a, 10);
    int64_t b1 = lu_balance(&net, 1);
    f_agr(&tx, KULA_TX_SETTLE, 1, &a);
    lu_reject(&net, SIGN(&tx, 1), KULA_EOVERFLOW);
    cr_assert_eq(lu_balance(&net, 1), b1);
    cr_assert_eq(agreement(&a).pool, 10);
    cr_assert_eq(agreement(&a).received[0], 0);
    check_zero_sum();
    lu_end(&net, NULL);
}

/* =====================================================================
 * exchange (barter)
 * ===================================================================== */

Test(ledger, exchange_effects)
{
    open_net(3);
    lu_begin(&net);
    kula_tx tx;
    /* 1 gives 300 of design, receives 100 of bread: 2 owes 1 the 200. */
    f_exchange(&tx, 1, 2, "logo design", 300, "bread", 100);
    SIGN(&tx, 1, 2);
    kula_tx_effects fx;
    cr_assert_eq(kula_ledger_apply_tx(net.l, &tx, NULL, &fx), 0);
    cr_assert_eq(fx.nparties, 2);
    cr_assert_eq(fx.parties[0], 1);
    cr_assert_eq(fx.parties[1], 2);
    cr_assert_eq(lu_balance(&net, 1), 200);
    cr_assert_eq(lu_balance(&net, 2), -200);
    cr_assert_eq(lu_member(&net, 1).nonce, 1);
    cr_assert_eq(lu_member(&net, 2).nonce, 0, "the counterparty's nonce does not move");
    /* The other way: 3 receives more than it gives, so 3 pays 2 the 50. */
    f_exchange(&tx, 3, 2, "delivery", 50, "catering", 100);
    lu_ok(&net, SIGN(&tx, 2, 3));
    cr_assert_eq(lu_balance(&net, 3), -50);
    cr_assert_eq(lu_balance(&net, 2), -150);
    /* Equal values: no credit moves, but the exchange counts. */
    f_exchange(&tx, 1, 2, "a", 70, "b", 70);
    lu_ok(&net, SIGN(&tx, 1, 2));
    cr_assert_eq(lu_balance(&net, 1), 200);
    cr_assert_eq(pair(1, 2).exchanges, 2);
    /* A gift: one side 0 with an empty description. */
    f_exchange(&tx, 1, 3, "", 0, "advice", 20);
    lu_ok(&net, SIGN(&tx, 1, 3));
    cr_assert_eq(lu_balance(&net, 1), 180);
    cr_assert_eq(lu_balance(&net, 3), -30);
    check_zero_sum();
    lu_end(&net, NULL);
}

Test(ledger, exchange_errors)
{
    open_net(3);
    lu_begin(&net);
    kula_tx tx;
    f_exchange(&tx, 1, 2, "", 0, "", 0);
    lu_reject(&net, SIGN(&tx, 1, 2), KULA_EAMOUNT);
    f_exchange(&tx, 1, 2, "a", -1, "b", 5);
    lu_reject(&net, SIGN(&tx, 1, 2), KULA_EAMOUNT);
    f_exchange(&tx, 1, 2, "a", 5, "b", -1);
    lu_reject(&net, SIGN(&tx, 1, 2), KULA_EAMOUNT);
    f_exchange(&tx, 1, 2, "", 5, "b", 1);
    lu_reject(&net, SIGN(&tx, 1, 2), KULA_ETEXT);
    f_exchange(&tx, 1, 2, "a", 5, "", 1);
    lu_reject(&net, SIGN(&tx, 1, 2), KULA_ETEXT);
    f_exchange(&tx, 1, 2, "a\x07", 5, "b", 1);
    lu_reject(&net, SIGN(&tx, 1, 2), KULA_ETEXT);
    f_exchange(&tx, 1, 1, "a", 5, "b", 1);
    lu_reject(&net, SIGN(&tx, 1), KULA_ESELF);
    f_exchange(&tx, 1, 5, "a", 5, "b", 1);
    lu_seal(&net, &tx);
    lu_sign(&net, &tx, 1);
    kula_seckey sk;
    kula_pubkey pk;
    lu_member_key(5, &sk, &pk);
    lu_sign_with(&net.g.chain_id, &tx, 5, &sk);
    lu_reject(&net, &tx, KULA_EUNKNOWNMEMBER);
    /* The side that owes must have the credit: 2 would owe 1001. */
    f_exchange(&tx, 1, 2, "a", 1101, "b", 100);
    lu_reject(&net, SIGN(&tx, 1, 2), KULA_ECREDIT);
    f_exchange(&tx, 1, 2, "a", 1100, "b", 100);
    lu_ok(&net, SIGN(&tx, 1, 2));
    cr_assert_eq(lu_balance(&net, 2), -1000);
    lu_end(&net, NULL);
}

/* =====================================================================
 * referrals
 * ===================================================================== */

Test(ledger, referral_stated_fee)
{
    open_net(3);
    lu_begin(&net);
    kula_tx tx;
    f_referral(&tx, 1, 2, 75, NULL);
    SIGN(&tx, 1);
    kula_tx_effects fx;
    cr_assert_eq(kula_ledger_apply_tx(net.l, &tx, NULL, &fx), 0);
    cr_assert_eq(fx.nparties, 2);
    cr_assert_eq(fx.parties[1], 2);
    kula_hash ref = tx.id;
    kula_referral r;
    cr_assert_eq(kula_ledger_referral(net.l, &ref, &r), 0);
    cr_assert_eq(r.referrer, 1);
    cr_assert_eq(r.receiver, 2);
    cr_assert_eq(r.fee, 75);
    cr_assert_not(r.has_agreement);
    cr_assert_eq(r.height, 1);
    kula_hash lead = hash_of("lead: a customer");
    cr_assert_eq(memcmp(r.lead.b, lead.b, 32), 0);
    cr_assert_eq(lu_balance(&net, 1), 0, "no credit moves before conversion");
    cr_assert_eq(pair(1, 2).exchanges, 0);
    lu_end(&net, NULL);

    lu_begin(&net);
    /* Only the receiver can convert: not the referrer, not a third member. */
    f_conversion(&tx, 1, &ref, 1000);
    lu_reject(&net, SIGN(&tx, 1), KULA_ESIGNERS);
    f_conversion(&tx, 3, &ref, 1000);
    lu_reject(&net, SIGN(&tx, 3), KULA_ESIGNERS);
    f_conversion(&tx, 2, &ref, 0);
    lu_reject(&net, SIGN(&tx, 2), KULA_EAMOUNT);
    f_conversion(&tx, 2, &ref, -3);
    lu_reject(&net, SIGN(&tx, 2), KULA_EAMOUNT);
    f_conversion(&tx, 2, &ref, 1000);
    SIGN(&tx, 2);
    cr_assert_eq(kula_ledger_apply_tx(net.l, &tx, NULL, &fx), 0);
    cr_assert_eq(fx.nparties, 2);
    cr_assert_eq(fx.parties[0], 2);
    cr_assert_eq(fx.parties[1], 1);
    cr_assert_eq(lu_balance(&net, 2), -75);
    cr_assert_eq(lu_balance(&net, 1), 75);
    cr_assert_eq(pair(1, 2).exchanges, 1);
    cr_assert_eq(kula_ledger_referral(net.l, &ref, &r), KULA_EUNKNOWNREFERRAL, "deleted");
    /* Converting twice. */
    f_conversion(&tx, 2, &ref, 1000);
    lu_reject(&net, SIGN(&tx, 2), KULA_EUNKNOWNREFERRAL);
    kula_hash none = hash_of("never referred");
    f_conversion(&tx, 2, &none, 1000);
    lu_reject(&net, SIGN(&tx, 2), KULA_EUNKNOWNREFERRAL);
    check_zero_sum();
    kula_hash root;
    const kula_state_write *w;
    size_t n;
    cr_assert_eq(kula_ledger_end_block(net.l, &root, &w, &n), 0);
    bool deleted = false;
    for (size_t i = 0; i < n; i++)
        if (w[i].key[0] == 'R' && memcmp(w[i].key + 1, ref.b, 32) == 0)
            deleted = w[i].val == NULL;
    cr_assert(deleted, "the referral record's deletion is in the block's diff");
    kula_ledger_finish_block(net.l);
}

Test(ledger, referral_errors)
{
    open_net(4);
    lu_begin(&net);
    kula_hash a = do_open(1, (uint32_t[]){ 1, 2 }, 2, r_kind(KULA_RULE_EQUAL), 0, 500);
    kula_hash nofee = do_open(1, (uint32_t[]){ 1, 2 }, 2, r_kind(KULA_RULE_EQUAL), 0, 0);
    kula_tx tx;
    f_referral(&tx, 1, 1, 10, NULL);
    lu_reject(&net, SIGN(&tx, 1), KULA_ESELF);
    f_referral(&tx, 1, 2, 0, NULL);
    lu_reject(&net, SIGN(&tx, 1), KULA_EAMOUNT);
    f_referral(&tx, 1, 2, -10, NULL);
    lu_reject(&net, SIGN(&tx, 1), KULA_EAMOUNT);
    f_referral(&tx, 1, 2, 10, &a); /* a fee and an agreement: two sources */
    lu_reject(&net, SIGN(&tx, 1), KULA_EAMOUNT);
    f_referral(&tx, 1, 3, 0, &a);  /* 3 is not a party */
    lu_reject(&net, SIGN(&tx, 1), KULA_ENOTPARTY);
    f_referral(&tx, 3, 1, 0, &a);
    lu_reject(&net, SIGN(&tx, 3), KULA_ENOTPARTY);
    f_referral(&tx, 1, 2, 0, &nofee);
    lu_reject(&net, SIGN(&tx, 1), KULA_ERULE);
    kula_hash none = hash_of("no such agreement");
    f_referral(&tx, 1, 2, 0, &none);
    lu_reject(&net, SIGN(&tx, 1), KULA_EUNKNOWNAGREEMENT);
    f_referral(&tx, 1, 7, 10, NULL);
    lu_reject(&net, SIGN(&tx, 1), KULA_EUNKNOWNMEMBER);
    /* Close `nofee` (empty pool): referrals under it are refused. */
    f_agr(&tx, KULA_TX_AGREEMENT_CLOSE, 1, &nofee);
    sign_parties(&tx, &nofee);
    lu_ok(&net, &tx);
    f_referral(&tx, 1, 2, 0, &nofee);
    lu_reject(&net, SIGN(&tx, 1), KULA_ECLOSED);
    /* A conversion the receiver cannot pay. */
    f_referral(&tx, 1, 2, 1001, NULL);
    lu_ok(&net, SIGN(&tx, 1));
    kula_hash ref = tx.id;
    f_conversion(&tx, 2, &ref, 5);
    lu_reject(&net, SIGN(&tx, 2), KULA_ECREDIT);
    lu_end(&net, NULL);
}

Test(ledger, referral_fee_from_agreement_terms)
{
    open_net(3);
    lu_begin(&net);
    kula_hash a = do_open(1, (uint32_t[]){ 1, 2, 3 }, 3, r_kind(KULA_RULE_EQUAL), 0, 250);
    kula_tx tx;
    f_referral(&tx, 1, 2, 0, &a);
    lu_ok(&net, SIGN(&tx, 1));
    kula_hash ref1 = tx.id;
    kula_referral r;
    cr_assert_eq(kula_ledger_referral(net.l, &ref1, &r), 0);
    cr_assert(r.has_agreement);
    cr_assert_eq(memcmp(r.agreement.b, a.b, 32), 0);
    cr_assert_eq(r.fee, 0);
    /* floor(1999 * 250 / 10000) = floor(49.975) = 49 */
    f_conversion(&tx, 2, &ref1, 1999);
    lu_ok(&net, SIGN(&tx, 2));
    cr_assert_eq(lu_balance(&net, 1), 49);
    cr_assert_eq(lu_balance(&net, 2), -49);

    /* A sale too small for a fee: floor(39 * 250 / 10000) = 0 moves nothing,
     * but the referral is converted and the exchange counts. */
    f_referral(&tx, 3, 2, 0, &a);
    lu_ok(&net, SIGN(&tx, 3));
    kula_hash ref2 = tx.id;
    f_conversion(&tx, 2, &ref2, 39);
    lu_ok(&net, SIGN(&tx, 2));
    cr_assert_eq(lu_balance(&net, 3), 0);
    cr_assert_eq(pair(2, 3).exchanges, 1);
    cr_assert_eq(kula_ledger_referral(net.l, &ref2, &r), KULA_EUNKNOWNREFERRAL);

    /* The terms at conversion count, not those at referral: amend to 10000
     * bps (100%) before converting. */
    f_referral(&tx, 1, 3, 0, &a);
    lu_ok(&net, SIGN(&tx, 1));
    kula_hash ref3 = tx.id;
    f_amend(&tx, 2, &a, r_kind(KULA_RULE_EQUAL), 0, 10000);
    sign_parties(&tx, &a);
    lu_ok(&net, &tx);
    /* floor(333 * 10000 / 10000) = 333 */
    f_conversion(&tx, 3, &ref3, 333);
    lu_ok(&net, SIGN(&tx, 3));
    cr_assert_eq(lu_balance(&net, 1), 49 + 333);
    cr_assert_eq(lu_balance(&net, 3), -333);

    /* A large sale: floor(987654321 * 7 / 10000) = floor(691358.0247) = 691358;
     * it must not overflow on the way. */
    f_amend(&tx, 2, &a, r_kind(KULA_RULE_EQUAL), 0, 7);
    sign_parties(&tx, &a);
    lu_ok(&net, &tx);
    f_referral(&tx, 1, 2, 0, &a);
    lu_ok(&net, SIGN(&tx, 1));
    kula_hash ref4 = tx.id;
    f_conversion(&tx, 2, &ref4, 987654321);
    lu_reject(&net, SIGN(&tx, 2), KULA_ECREDIT); /* 2 has only 951 of room */
    f_conversion(&tx, 2, &ref4, 1357142); /* floor(1357142 * 7 / 10000) = 949 */
    lu_ok(&net, SIGN(&tx, 2));
    cr_assert_eq(lu_balance(&net, 2), -49 - 949);
    check_zero_sum();
    lu_end(&net, NULL);
}

Test(ledger, conversion_needs_open_agreement_and_active_referrer)
{
    open_net(4);
    lu_begin(&net);
    kula_hash a = do_open(1, (uint32_t[]){ 1, 2 }, 2, r_kind(KULA_RULE_EQUAL), 0, 100);
    kula_tx tx;
    f_referral(&tx, 1, 2, 0, &a);
    lu_ok(&net, SIGN(&tx, 1));
    kula_hash ref = tx.id;
    f_agr(&tx, KULA_TX_AGREEMENT_CLOSE, 2, &a);
    sign_parties(&tx, &a);
    lu_ok(&net, &tx);
    f_conversion(&tx, 2, &ref, 1000);
    lu_reject(&net, SIGN(&tx, 2), KULA_ECLOSED);

    /* A referrer removed before the conversion. */
    f_referral(&tx, 4, 2, 10, NULL);
    lu_ok(&net, SIGN(&tx, 4));
    kula_hash ref2 = tx.id;
    kula_action rm = a_member(KULA_ACT_REMOVE, 4);
    pass4(&rm);
    f_conversion(&tx, 2, &ref2, 1000);
    lu_reject(&net, SIGN(&tx, 2), KULA_EINACTIVE);
    lu_end(&net, NULL);
}

/* =====================================================================
 * agreements
 * ===================================================================== */

Test(ledger, agreement_open_effects)
{
    open_net(4);
    lu_begin(&net);
    lu_end(&net, NULL);
    lu_begin(&net); /* height 2 */
    kula_tx tx;
    f_open(&tx, 2, (uint32_t[]){ 1, 2, 4 }, 3, r_weights((uint32_t[]){ 1, 2, 3 }, 3), 50, 125);
    SIGN(&tx, 1, 2, 4);
    kula_tx_effects fx;
    cr_assert_eq(kula_ledger_apply_tx(net.l, &tx, NULL, &fx), 0);
    /* The initiator first, then the other parties, no duplicates. */
    cr_assert_eq(fx.nparties, 3);
    cr_assert_eq(fx.parties[0], 2);
    cr_assert_eq(fx.parties[1], 1);
    cr_assert_eq(fx.parties[2], 4);
    kula_agreement a = agreement(&tx.id);
    cr_assert_str_eq(a.label, "joint");
    cr_assert_str_eq(a.title, "Joint campaign");
    cr_assert_eq(a.nparties, 3);
    cr_assert(a.parties[0] == 1 && a.parties[1] == 2 && a.parties[2] == 4);
    cr_assert_eq(a.rule.kind, KULA_RULE_WEIGHTS);
    cr_assert_eq(a.rule.nweights, 3);
    cr_assert(a.rule.weights[0] == 1 && a.rule.weights[1] == 2 && a.rule.weights[2] == 3);
    cr_assert_eq(a.term_end, 50);
    cr_assert_eq(a.referral_fee_bps, 125);
    cr_assert_eq(a.pool, 0);
    cr_assert_eq(a.status, KULA_AGREEMENT_OPEN);
    cr_assert_eq(a.opened, 2);
    cr_assert_eq(a.benefits, 0);
    cr_assert_eq(a.settlements, 0);
    for (int i = 0; i < 3; i++)
        cr_assert(a.contributed[i] == 0 && a.received[i] == 0);
    cr_assert_eq(lu_member(&net, 2).nonce, 1);
    cr_assert_eq(lu_member(&net, 1).nonce, 0);
    lu_end(&net, NULL);
}

Test(ledger, agreement_open_errors)
{
    open_net(4);
    lu_begin(&net);
    lu_end(&net, NULL);
    lu_begin(&net); /* height 2 */
    kula_tx tx;
    kula_rule eq = r_kind(KULA_RULE_EQUAL);
    /* from not a party */
    f_open(&tx, 4, (uint32_t[]){ 1, 2 }, 2, eq, 0, 0);
    lu_reject(&net, SIGN(&tx, 1, 2), KULA_ENOTPARTY);
    lu_reject(&net, SIGN(&tx, 1, 2, 4), KULA_ENOTPARTY);
    /* fewer than two parties */
    f_open(&tx, 1, (uint32_t[]){ 1 }, 1, eq, 0, 0);
    lu_reject(&net, SIGN(&tx, 1), KULA_ENOTPARTY);
    /* parties not ascending */
    f_open(&tx, 1, (uint32_t[]){ 2, 1, 3 }, 3, eq, 0, 0);
    lu_reject(&net, SIGN(&tx, 1, 2, 3), KULA_EORDER);
    f_open(&tx, 1, (uint32_t[]){ 1, 2, 2 }, 3, eq, 0, 0);
    lu_reject(&net, SIGN(&tx, 1, 2), KULA_EORDER);
    /* empty or control-character label and title */
    f_open(&tx, 1, (uint32_t[]){ 1, 2 }, 2, eq, 0, 0);
    tx.u.open.label = lu_text("");
    lu_reject(&net, SIGN(&tx, 1, 2), KULA_ETEXT);
    f_open(&tx, 1, (uint32_t[]){ 1, 2 }, 2, eq, 0, 0);
    tx.u.open.title = lu_text("two\nlines");
    lu_reject(&net, SIGN(&tx, 1, 2), KULA_ETEXT);
    /* weights: count mismatch, all zero */
    f_open(&tx, 1, (uint32_t[]){ 1, 2, 3 }, 3, r_weights((uint32_t[]){ 1, 2 }, 2), 0, 0);
    lu_reject(&net, SIGN(&tx, 1, 2, 3), KULA_ERULE);
    f_open(&tx, 1, (uint32_t[]){ 1, 2, 3 }, 3, r_weights((uint32_t[]){ 0, 0, 0 }, 3), 0, 0);
    lu_reject(&net, SIGN(&tx, 1, 2, 3), KULA_ERULE);
    /* Shapley: a table of the wrong size (4 values for 3 parties) */
    f_open(&tx, 1, (uint32_t[]){ 1, 2, 3 }, 3, r_shapley((int64_t[]){ 0, 1, 2, 3 }, 4), 0, 0);
    lu_reject(&net, SIGN(&tx, 1, 2, 3), KULA_ERULE);
    /* Shapley: not monotone (v({1,2}) = 5 < v({1}) = 10) */
    f_open(&tx, 1, (uint32_t[]){ 1, 2 }, 2, r_shapley((int64_t[]){ 0, 10, 8, 5 }, 4), 0, 0);
    lu_reject(&net, SIGN(&tx, 1, 2), KULA_ERULE);
    /* Shapley: v(empty) != 0, a negative value, v(all) = 0 */
    f_open(&tx, 1, (uint32_t[]){ 1, 2 }, 2, r_shapley((int64_t[]){ 1, 10, 8, 20 }, 4), 0, 0);
    lu_reject(&net, SIGN(&tx, 1, 2), KULA_ERULE);
    f_open(&tx, 1, (uint32_t[]){ 1, 2 }, 2, r_shapley((int64_t[]){ 0, -1, 8, 20 }, 4), 0, 0);
    lu_reject(&net, SIGN(&tx, 1, 2), KULA_ERULE);
    f_open(&tx, 1, (uint32_t[]){ 1, 2 }, 2, r_shapley((int64_t[]){ 0, 0, 0, 0 }, 4), 0, 0);
    lu_reject(&net, SIGN(&tx, 1, 2), KULA_ERULE);
    /* a term that already ended (block 2 > term_end 1) */
    f_open(&tx, 1, (uint32_t[]){ 1, 2 }, 2, eq, 1, 0);
    lu_reject(&net, SIGN(&tx, 1, 2), KULA_ETERM);
    /* a party that is not a member */
    f_open(&tx, 1, (uint32_t[]){ 1, 6 }, 2, eq, 0, 0);
    lu_seal(&net, &tx);
    lu_sign(&net, &tx, 1);
    lu_sign(&net, &tx, 6);
    lu_reject(&net, &tx, KULA_EUNKNOWNMEMBER);
    /* term_end == the block's height is still fine */
    f_open(&tx, 1, (uint32_t[]){ 1, 2 }, 2, eq, 2, 0);
    lu_ok(&net, SIGN(&tx, 1, 2));
    lu_end(&net, NULL);
}

Test(ledger, agreement_amend)
{
    open_net(3);
    lu_begin(&net);
    kula_hash a = do_open(1, (uint32_t[]){ 1, 2, 3 }, 3, r_kind(KULA_RULE_EQUAL), 0, 0);
    kula_tx tx;
    int64_t v[8] = { 0, 10, 20, 60, 0, 10, 20, 90 };
    f_amend(&tx, 3, &a, r_shapley(v, 8), 40, 300);
    lu_reject(&net, SIGN(&tx, 1, 3), KULA_ESIGNERS);
    sign_parties(&tx, &a);
    kula_tx_effects fx;
    cr_assert_eq(kula_ledger_apply_tx(net.l, &tx, NULL, &fx), 0);
    cr_assert_eq(fx.nparties, 3);
    cr_assert_eq(fx.parties[0], 3);
    kula_agreement ag = agreement(&a);
    cr_assert_str_eq(ag.title, "Amended campaign");
    cr_assert_str_eq(ag.label, "joint", "the label does not change");
    cr_assert_eq(ag.rule.kind, KULA_RULE_SHAPLEY);
    cr_assert_eq(ag.rule.nvalues, 8);
    int64_t got[8];
    cr_assert_eq(kula_rule_shapley_values(&ag.rule, got), 0);
    cr_assert_eq(memcmp(got, v, sizeof(v)), 0);
    cr_assert_eq(ag.term_end, 40);
    cr_assert_eq(ag.referral_fee_bps, 300);
    cr_assert_eq(ag.nparties, 3);
    /* errors */
    f_amend(&tx, 1, &a, r_weights((uint32_t[]){ 1, 1 }, 2), 0, 0);
    sign_parties(&tx, &a);
    lu_reject(&net, &tx, KULA_ERULE);
    f_amend(&tx, 1, &a, r_kind(KULA_RULE_EQUAL), 0, 0);
    tx.u.amend.title = lu_text("");
    sign_parties(&tx, &a);
    lu_reject(&net, &tx, KULA_ETEXT);
    kula_hash none = hash_of("none");
    f_amend(&tx, 1, &none, r_kind(KULA_RULE_EQUAL), 0, 0);
    lu_reject(&net, SIGN(&tx, 1), KULA_EUNKNOWNAGREEMENT);
    lu_end(&net, NULL);

    lu_begin(&net);
    lu_end(&net, NULL);
    lu_begin(&net); /* height 3 */
    f_amend(&tx, 1, &a, r_kind(KULA_RULE_EQUAL), 2, 0);
    sign_parties(&tx, &a);
    lu_reject(&net, &tx, KULA_ETERM);
    lu_end(&net, NULL);
}

Test(ledger, amend_by_non_party)
{
    open_net(3);
    lu_begin(&net);
    kula_hash a = do_open(1, (uint32_t[]){ 1, 2 }, 2, r_kind(KULA_RULE_EQUAL), 0, 0);
    kula_tx tx;
    f_amend(&tx, 3, &a, r_kind(KULA_RULE_PRORATA), 0, 0);
    lu_reject(&net, SIGN(&tx, 1, 2, 3), KULA_ENOTPARTY);
    lu_reject(&net, SIGN(&tx, 1, 2), KULA_ENOTPARTY);
    lu_end(&net, NULL);
}

Test(ledger, contribute)
{
    open_net(4);
    lu_begin(&net);
    kula_hash a = do_open(1, (uint32_t[]){ 1, 2, 3 }, 3, r_kind(KULA_RULE_PRORATA), 3, 0);
    kula_tx tx;
    f_contribute(&tx, 2, &a, 40, 3);
    SIGN(&tx, 2, 3);
    kula_tx_effects fx;
    cr_assert_eq(kula_ledger_apply_tx(net.l, &tx, NULL, &fx), 0);
    cr_assert_eq(fx.nparties, 2);
    cr_assert_eq(fx.parties[0], 2);
    cr_assert_eq(fx.parties[1], 3);
    do_contribute(2, &a, 2, 1);
    do_contribute(1, &a, 7, 3);
    kula_agreement ag = agreement(&a);
    cr_assert_eq(ag.contributed[0], 7);
    cr_assert_eq(ag.contributed[1], 42);
    cr_assert_eq(ag.contributed[2], 0);
    cr_assert_eq(ag.pool, 0, "no credit moves");
    cr_assert_eq(lu_balance(&net, 2), 0);
    /* errors */
    f_contribute(&tx, 2, &a, 40, 2);
    lu_reject(&net, SIGN(&tx, 2), KULA_ESELF);
    f_contribute(&tx, 2, &a, 40, 4);
    lu_reject(&net, SIGN(&tx, 2, 4), KULA_ENOTPARTY);
    f_contribute(&tx, 4, &a, 40, 1);
    lu_reject(&net, SIGN(&tx, 1, 4), KULA_ENOTPARTY);
    f_contribute(&tx, 2, &a, 40, 3);
    lu_reject(&net, SIGN(&tx, 2), KULA_ESIGNERS);
    f_contribute(&tx, 2, &a, 0, 3);
    lu_reject(&net, SIGN(&tx, 2, 3), KULA_EAMOUNT);
    f_contribute(&tx, 2, &a, -1, 3);
    lu_reject(&net, SIGN(&tx, 2, 3), KULA_EAMOUNT);
    f_contribute(&tx, 2, &a, 5, 3);
    tx.u.contribute.description = lu_text("tab\there");
    lu_reject(&net, SIGN(&tx, 2, 3), KULA_ETEXT);
    kula_hash none = hash_of("none");
    f_contribute(&tx, 2, &none, 5, 3);
    lu_reject(&net, SIGN(&tx, 2, 3), KULA_EUNKNOWNAGREEMENT);
    lu_end(&net, NULL);
    /* The term ends at height 3: contributions in block 3 pass, in 4 not. */
    lu_begin(&net);
    lu_end(&net, NULL);
    lu_begin(&net);
    do_contribute(3, &a, 1, 1);
    lu_end(&net, NULL);
    lu_begin(&net);
    f_contribute(&tx, 3, &a, 1, 1);
    lu_reject(&net, SIGN(&tx, 1, 3), KULA_ETERM);
    /* A benefit may still be paid in after the term. */
    do_benefit(4, &a, 5);
    cr_assert_eq(agreement(&a).pool, 5);
    lu_end(&net, NULL);
}

/* BUG (node/ledger/rules_agreement.c, rule_contribute): LEDGER.md §2.4 says
 * "Names, labels and titles must be non-empty ...; descriptions and
 * comments follow the memo's rule" (the memo may be empty), and the rules'
 * own comment says "free text may be empty" -- benefit descriptions and
 * feedback comments may be empty, but a contribution's description is
 * checked with text_ok(..., false, true) and an empty one is refused with
 * ETEXT.  Fix: text_ok(tx->u.contribute.description, true, true) (or change
 * the spec). */
Test(ledger, contribute_empty_description_allowed)
{
    open_net(3);
    lu_begin(&net);
    kula_hash a = do_open(1, (uint32_t[]){ 1, 2 }, 2, r_kind(KULA_RULE_PRORATA), 0, 0);
    kula_tx tx;
    f_benefit(&tx, 3, &a, 5);
    tx.u.benefit.description = lu_text("");
    lu_ok(&net, SIGN(&tx, 3)); /* an empty benefit description is fine */
    f_contribute(&tx, 1, &a, 5, 2);
    tx.u.contribute.description = lu_text("");
    SIGN(&tx, 1, 2);
    int rc = kula_ledger_apply_tx(net.l, &tx, NULL, NULL);
    cr_assert_eq(rc, 0, "contribution with an empty description: %s", kula_errname(rc));
    cr_assert_eq(agreement(&a).contributed[0], 5);
    lu_end(&net, NULL);
}

Test(ledger, benefit)
{
    open_net(4);
    lu_begin(&net);
    kula_hash a = do_open(1, (uint32_t[]){ 1, 2 }, 2, r_kind(KULA_RULE_EQUAL), 0, 0);
    kula_tx tx;
    /* Any active member pays in: here a customer, member 4. */
    f_benefit(&tx, 4, &a, 600);
    SIGN(&tx, 4);
    kula_tx_effects fx;
    cr_assert_eq(kula_ledger_apply_tx(net.l, &tx, NULL, &fx), 0);
    cr_assert_eq(fx.nparties, 1);
    cr_assert_eq(lu_balance(&net, 4), -600);
    kula_agreement ag = agreement(&a);
    cr_assert_eq(ag.pool, 600);
    cr_assert_eq(ag.benefits, 600);
    cr_assert_eq(lu_globals(&net).pools_total, 600);
    check_zero_sum();
    do_benefit(1, &a, 30);
    ag = agreement(&a);
    cr_assert_eq(ag.pool, 630);
    cr_assert_eq(ag.benefits, 630);
    /* At the limit, not past it. */
    f_benefit(&tx, 4, &a, 401);
    lu_reject(&net, SIGN(&tx, 4), KULA_ECREDIT);
    do_benefit(4, &a, 400);
    cr_assert_eq(lu_balance(&net, 4), -1000);
    f_benefit(&tx, 3, &a, 0);
    lu_reject(&net, SIGN(&tx, 3), KULA_EAMOUNT);
    f_benefit(&tx, 3, &a, -7);
    lu_reject(&net, SIGN(&tx, 3), KULA_EAMOUNT);
    f_benefit(&tx, 3, &a, 7);
    tx.u.benefit.description = lu_text("\x1b");
    lu_reject(&net, SIGN(&tx, 3), KULA_ETEXT);
    kula_hash none = hash_of("none");
    f_benefit(&tx, 3, &none, 7);
    lu_reject(&net, SIGN(&tx, 3), KULA_EUNKNOWNAGREEMENT);
    cr_assert_eq(lu_globals(&net).pools_total, 1030);
    check_zero_sum();
    lu_end(&net, NULL);
}

/* Opens an agreement of 1, 2, 3 with `rule`, pays `pool` in from member 4
 * and settles it by member `by`.  Out: the three shares. */
static kula_hash settle_with(kula_rule rule, int64_t pool, const int64_t *contrib,
                             int64_t *shares)
{
    kula_hash a = do_open(1, (uint32_t[]){ 1, 2, 3 }, 3, rule, 0, 0);
    if (contrib != NULL)
        for (uint32_t i = 0; i < 3; i++)
            if (contrib[i] > 0)
                do_contribute(i + 1, &a, contrib[i], i == 0 ? 2 : 1);
    int64_t before[4];
    for (uint32_t i = 0; i < 4; i++)
        before[i] = lu_balance(&net, i + 1);
    int64_t total_before = lu_globals(&net).pools_total;
    do_benefit(4, &a, pool);
    cr_assert_eq(lu_globals(&net).pools_total, total_before + pool);
    kula_agreement ag = agreement(&a);
    int64_t preview[3];
    cr_assert_eq(kula_ledger_distribution(&ag, ag.pool, preview), 0);
    kula_tx tx;
    f_agr(&tx, KULA_TX_SETTLE, 2, &a);
    SIGN(&tx, 2);
    kula_tx_effects fx;
    cr_assert_eq(kula_ledger_apply_tx(net.l, &tx, NULL, &fx), 0);
    ag = agreement(&a);
    cr_assert_eq(ag.pool, 0);
    cr_assert_eq(ag.settlements, 1);
    cr_assert_eq(ag.benefits, pool);
    cr_assert_eq(lu_globals(&net).pools_total, total_before);
    int64_t sum = 0;
    for (uint32_t i = 0; i < 3; i++) {
        shares[i] = lu_balance(&net, i + 1) - before[i];
        cr_assert_eq(ag.received[i], shares[i]);
        cr_assert_eq(preview[i], shares[i], "kula_ledger_distribution agrees");
        cr_assert_geq(shares[i], 0);
        sum += shares[i];
    }
    cr_assert_eq(sum, pool, "shares sum exactly to the pool");
    cr_assert_eq(lu_balance(&net, 4), before[3] - pool);
    /* fx: the settler first, then every party that received something */
    cr_assert_eq(fx.parties[0], 2);
    uint32_t paid = 0;
    for (uint32_t i = 0; i < 3; i++)
        paid += shares[i] > 0 && i + 1 != 2;
    cr_assert_eq(fx.nparties, 1 + paid);
    check_zero_sum();
    return a;
}

Test(ledger, settle_equal)
{
    open_net(4);
    lu_begin(&net);
    int64_t s[3];
    /* 100 / 3 = 33 r 1: the lowest id gets the extra unit: 34, 33, 33 */
    settle_with(r_kind(KULA_RULE_EQUAL), 100, NULL, s);
    cr_assert(s[0] == 34 && s[1] == 33 && s[2] == 33, "%lld %lld %lld", (long long)s[0],
              (long long)s[1], (long long)s[2]);
    lu_end(&net, NULL);
}

Test(ledger, settle_weights)
{
    open_net(4);
    lu_begin(&net);
    int64_t s[3];
    /* weights 1, 2, 3 of W = 6, pool 100: quotas 16.67, 33.33, 50;
     * floors 16, 33, 50 = 99; remainders 100 mod 6 = 4, 200 mod 6 = 2,
     * 300 mod 6 = 0: the extra unit to party 1: 17, 33, 50 */
    settle_with(r_weights((uint32_t[]){ 1, 2, 3 }, 3), 100, NULL, s);
    cr_assert(s[0] == 17 && s[1] == 33 && s[2] == 50, "%lld %lld %lld", (long long)s[0],
              (long long)s[1], (long long)s[2]);
    lu_end(&net, NULL);
}

Test(ledger, settle_prorata)
{
    open_net(4);
    lu_begin(&net);
    int64_t s[3];
    /* contributions 10, 30, 0 of 40, pool 101: 101*10/40 = 25.25,
     * 101*30/40 = 75.75, 0; floors 25 + 75 = 100, remainders 10 and 30:
     * the extra unit to party 2: 25, 76, 0 */
    settle_with(r_kind(KULA_RULE_PRORATA), 101, (int64_t[]){ 10, 30, 0 }, s);
    cr_assert(s[0] == 25 && s[1] == 76 && s[2] == 0, "%lld %lld %lld", (long long)s[0],
              (long long)s[1], (long long)s[2]);
    lu_end(&net, NULL);
}

Test(ledger, settle_shapley)
{
    open_net(4);
    lu_begin(&net);
    int64_t s[3];
    /* Parties 1, 2, 3 are bits 0, 1, 2.  v(1) = 10, v(2) = 20, v(3) = 0,
     * v(12) = 60, v(13) = 10, v(23) = 20, v(123) = 90.  With weights
     * |S|!(2-|S|)! = 2, 1, 1, 2:
     *   3! phi_1 = 2*10 + (60-20) + (10-0) + 2*(90-20) = 210
     *   3! phi_2 = 2*20 + (60-10) + (20-0) + 2*(90-10) = 270
     *   3! phi_3 = 2*0  + (10-10) + (20-20) + 2*(90-60) = 60   (sum 540 = 6*90)
     * pool 100: 100*210/540 = 38 r 480, 100*270/540 = 50 r 0,
     * 100*60/540 = 11 r 60; 99 given, the extra unit to party 1: 39, 50, 11 */
    int64_t v[8] = { 0, 10, 20, 60, 0, 10, 20, 90 };
    settle_with(r_shapley(v, 8), 100, NULL, s);
    cr_assert(s[0] == 39 && s[1] == 50 && s[2] == 11, "%lld %lld %lld", (long long)s[0],
              (long long)s[1], (long long)s[2]);
    lu_end(&net, NULL);
}

Test(ledger, settle_errors_and_close)
{
    open_net(4);
    lu_begin(&net);
    kula_hash a = do_open(1, (uint32_t[]){ 1, 2, 3 }, 3, r_kind(KULA_RULE_PRORATA), 0, 0);
    kula_tx tx;
    f_agr(&tx, KULA_TX_SETTLE, 1, &a);
    lu_reject(&net, SIGN(&tx, 1), KULA_EEMPTYPOOL);
    do_benefit(4, &a, 90);
    /* pro rata with no contribution recorded */
    f_agr(&tx, KULA_TX_SETTLE, 1, &a);
    lu_reject(&net, SIGN(&tx, 1), KULA_ENOCONTRIB);
    /* only a party settles */
    f_agr(&tx, KULA_TX_SETTLE, 4, &a);
    lu_reject(&net, SIGN(&tx, 4), KULA_ENOTPARTY);
    kula_hash none = hash_of("none");
    f_agr(&tx, KULA_TX_SETTLE, 1, &none);
    lu_reject(&net, SIGN(&tx, 1), KULA_EUNKNOWNAGREEMENT);
    /* close with credit in the pool */
    f_agr(&tx, KULA_TX_AGREEMENT_CLOSE, 1, &a);
    sign_parties(&tx, &a);
    lu_reject(&net, &tx, KULA_EPOOL);
    f_agr(&tx, KULA_TX_AGREEMENT_CLOSE, 1, &a);
    lu_reject(&net, SIGN(&tx, 1, 2), KULA_ESIGNERS);
    f_agr(&tx, KULA_TX_AGREEMENT_CLOSE, 4, &a);
    lu_reject(&net, SIGN(&tx, 1, 2, 3, 4), KULA_ENOTPARTY);
    do_contribute(3, &a, 1, 1);
    do_settle(1, &a);
    cr_assert_eq(lu_balance(&net, 3), 90, "sole contributor takes it all");
    /* now it closes */
    f_agr(&tx, KULA_TX_AGREEMENT_CLOSE, 2, &a);
    sign_parties(&tx, &a);
    kula_tx_effects fx;
    cr_assert_eq(kula_ledger_apply_tx(net.l, &tx, NULL, &fx), 0);
    cr_assert_eq(fx.nparties, 3);
    cr_assert_eq(fx.parties[0], 2);
    kula_agreement ag = agreement(&a);
    cr_assert_eq(ag.status, KULA_AGREEMENT_CLOSED);
    cr_assert_eq(ag.received[2], 90);
    /* a closed agreement accepts nothing more */
    f_agr(&tx, KULA_TX_AGREEMENT_CLOSE, 2, &a);
    sign_parties(&tx, &a);
    lu_reject(&net, &tx, KULA_ECLOSED);
    f_agr(&tx, KULA_TX_SETTLE, 2, &a);
    lu_reject(&net, SIGN(&tx, 2), KULA_ECLOSED);
    f_benefit(&tx, 4, &a, 5);
    lu_reject(&net, SIGN(&tx, 4), KULA_ECLOSED);
    f_contribute(&tx, 1, &a, 5, 2);
    lu_reject(&net, SIGN(&tx, 1, 2), KULA_ECLOSED);
    f_amend(&tx, 1, &a, r_kind(KULA_RULE_EQUAL), 0, 0);
    sign_parties(&tx, &a);
    lu_reject(&net, &tx, KULA_ECLOSED);
    check_zero_sum();
    lu_end(&net, NULL);
}

Test(ledger, settle_pays_removed_party_and_repeats)
{
    open_net(4);
    lu_begin(&net);
    kula_hash a = do_open(2, (uint32_t[]){ 2, 3, 4 }, 3, r_kind(KULA_RULE_EQUAL), 0, 0);
    kula_action rm = a_member(KULA_ACT_REMOVE, 4);
    pass4(&rm);
    do_benefit(1, &a, 10);
    do_settle(3, &a);
    /* 10 / 3 = 3 r 1: 4, 3, 3 -- the removed member 4 is paid too */
    cr_assert_eq(lu_balance(&net, 2), 4);
    cr_assert_eq(lu_balance(&net, 3), 3);
    cr_assert_eq(lu_balance(&net, 4), 3);
    do_benefit(1, &a, 2);
    do_settle(2, &a);
    /* 2 / 3: 1, 1, 0 */
    kula_agreement ag = agreement(&a);
    cr_assert_eq(ag.settlements, 2);
    cr_assert_eq(ag.received[0], 5);
    cr_assert_eq(ag.received[1], 4);
    cr_assert_eq(ag.received[2], 3);
    cr_assert_eq(ag.benefits, 12);
    check_zero_sum();
    lu_end(&net, NULL);
}

/* =====================================================================
 * feedback
 * ===================================================================== */

Test(ledger, feedback)
{
    open_net(3);
    lu_begin(&net);
    kula_tx tx;
    /* no exchange yet */
    f_feedback(&tx, 1, 2, 4);
    lu_reject(&net, SIGN(&tx, 1), KULA_ENOEXCHANGE);
    do_transfer(1, 2, 10);
    f_feedback(&tx, 1, 2, 4);
    SIGN(&tx, 1);
    kula_tx_effects fx;
    cr_assert_eq(kula_ledger_apply_tx(net.l, &tx, NULL, &fx), 0);
    cr_assert_eq(fx.nparties, 2);
    cr_assert_eq(fx.parties[1], 2);
    kula_member m = lu_member(&net, 2);
    cr_assert_eq(m.rating_sum, 4);
    cr_assert_eq(m.rating_count, 1);
    kula_pair x = pair(1, 2);
    cr_assert_eq(x.exchanges, 1);
    cr_assert_eq(x.feedback_ab, 1);
    cr_assert_eq(x.feedback_ba, 0);
    /* a second rating after one exchange */
    f_feedback(&tx, 1, 2, 5);
    lu_reject(&net, SIGN(&tx, 1), KULA_ENOEXCHANGE);
    /* the other side still has its own */
    f_feedback(&tx, 2, 1, 5);
    lu_ok(&net, SIGN(&tx, 2));
    cr_assert_eq(pair(2, 1).feedback_ba, 1);
    cr_assert_eq(lu_member(&net, 1).rating_sum, 5);
    f_feedback(&tx, 2, 1, 5);
    lu_reject(&net, SIGN(&tx, 2), KULA_ENOEXCHANGE);
    /* another exchange allows another rating each */
    do_transfer(2, 1, 3);
    f_feedback(&tx, 1, 2, 1);
    lu_ok(&net, SIGN(&tx, 1));
    m = lu_member(&net, 2);
    cr_assert_eq(m.rating_sum, 5);
    cr_assert_eq(m.rating_count, 2);
    /* errors */
    f_feedback(&tx, 1, 2, 0);
    lu_reject(&net, SIGN(&tx, 1), KULA_ERATING);
    f_feedback(&tx, 1, 2, 6);
    lu_reject(&net, SIGN(&tx, 1), KULA_ERATING);
    f_feedback(&tx, 1, 1, 3);
    lu_reject(&net, SIGN(&tx, 1), KULA_ESELF);
    f_feedback(&tx, 2, 1, 3);
    tx.u.feedback.comment = lu_text("bad\x01");
    lu_reject(&net, SIGN(&tx, 2), KULA_ETEXT);
    f_feedback(&tx, 1, 9, 3);
    lu_reject(&net, SIGN(&tx, 1), KULA_EUNKNOWNMEMBER);
    f_feedback(&tx, 1, 3, 3);
    lu_reject(&net, SIGN(&tx, 1), KULA_ENOEXCHANGE);
    lu_end(&net, NULL);
}

Test(ledger, exchanges_from_barter_and_conversion_allow_feedback)
{
    open_net(3);
    lu_begin(&net);
    kula_tx tx;
    f_exchange(&tx, 1, 3, "a", 5, "b", 5);
    lu_ok(&net, SIGN(&tx, 1, 3));
    f_feedback(&tx, 3, 1, 2);
    lu_ok(&net, SIGN(&tx, 3));
    f_referral(&tx, 2, 3, 5, NULL);
    lu_ok(&net, SIGN(&tx, 2));
    f_feedback(&tx, 2, 3, 2);
    lu_reject(&net, SIGN(&tx, 2), KULA_ENOEXCHANGE); /* a referral alone is no exchange */
    lu_end(&net, NULL);
}

/* =====================================================================
 * governance
 * ===================================================================== */

Test(ledger, governance_threshold_four_members)
{
    open_net(4);
    lu_begin(&net);
    kula_action act = a_member(KULA_ACT_CREDIT_LIMIT, 2);
    act.credit_limit = 5000;
    kula_tx tx;
    f_propose(&tx, 1, &act);
    SIGN(&tx, 1);
    kula_tx_effects fx;
    cr_assert_eq(kula_ledger_apply_tx(net.l, &tx, NULL, &fx), 0);
    cr_assert_eq(fx.nparties, 2);
    cr_assert_eq(fx.parties[1], 2);
    kula_hash id = tx.id;
    kula_proposal q = proposal(&id);
    cr_assert_eq(q.proposer, 1);
    cr_assert_eq(q.yes, 1);
    cr_assert_eq(q.no, 0);
    cr_assert_eq(q.status, KULA_PROPOSAL_OPEN);
    cr_assert_eq(q.created, 1);
    cr_assert_eq(q.expires, 1 + 5);
    cr_assert_eq(q.action.kind, KULA_ACT_CREDIT_LIMIT);
    cr_assert_eq(q.action.member, 2);
    cr_assert_eq(q.action.credit_limit, 5000);
    /* 2 yes of 4 at 2/3: 2*3 = 6 <= 8, not enough */
    do_vote(2, &id, true);
    /* the votes are recorded: "V" || proposal || be32(member) -> [approve] */
    for (uint32_t m = 1; m <= 4; m++) {
        kula_key k;
        kula_key_vote(&k, &id, m);
        const uint8_t *v;
        size_t vn;
        int vrc = kula_state_get(net.l->st, k.b, k.n, &v, &vn);
        if (m <= 2) {
            cr_assert_eq(vrc, 0, "vote of %u missing", m);
            cr_assert(vn == 2 && v[0] == 0x91 && v[1] == 0xc3, "vote of %u is not [true]", m);
        } else {
            cr_assert_eq(vrc, KULA_ENOTFOUND, "member %u has not voted", m);
        }
    }
    q = proposal(&id);
    cr_assert_eq(q.yes, 2);
    cr_assert_eq(q.status, KULA_PROPOSAL_OPEN);
    cr_assert_eq(lu_member(&net, 2).credit_limit, 1000);
    lu_end(&net, NULL);
    lu_begin(&net);
    /* the third yes: 9 > 8, passes and executes */
    do_vote(3, &id, true);
    q = proposal(&id);
    cr_assert_eq(q.yes, 3);
    cr_assert_eq(q.status, KULA_PROPOSAL_PASSED);
    cr_assert_eq(q.decided, 2);
    cr_assert_eq(q.failure, 0);
    cr_assert_eq(lu_member(&net, 2).credit_limit, 5000);
    /* decided: no more votes */
    f_vote(&tx, 4, &id, true);
    lu_reject(&net, SIGN(&tx, 4), KULA_EDECIDED);
    /* the new limit works */
    do_transfer(2, 3, 4000);
    cr_assert_eq(lu_balance(&net, 2), -4000);
    lu_end(&net, NULL);
}

Test(ledger, governance_rejection_and_votes)
{
    open_net(4);
    lu_begin(&net);
    kula_action act = a_param(KULA_PARAM_PROPOSAL_TTL, 20);
    kula_hash id = do_propose(2, &act);
    kula_tx tx;
    /* the proposer already voted */
    f_vote(&tx, 2, &id, true);
    lu_reject(&net, SIGN(&tx, 2), KULA_EVOTED);
    /* one no: yes 1 + 2 open = 3, 9 > 8: still passable */
    do_vote(3, &id, false);
    {
        kula_key k;
        kula_key_vote(&k, &id, 3);
        const uint8_t *v;
        size_t vn;
        cr_assert_eq(kula_state_get(net.l->st, k.b, k.n, &v, &vn), 0);
        cr_assert(vn == 2 && v[0] == 0x91 && v[1] == 0xc2, "a no vote is [false]");
    }
    kula_proposal q = proposal(&id);
    cr_assert_eq(q.no, 1);
    cr_assert_eq(q.status, KULA_PROPOSAL_OPEN);
    f_vote(&tx, 3, &id, true);
    lu_reject(&net, SIGN(&tx, 3), KULA_EVOTED);
    /* two no: yes 1 + 1 open = 2, 6 <= 8: rejected at once */
    do_vote(4, &id, false);
    q = proposal(&id);
    cr_assert_eq(q.no, 2);
    cr_assert_eq(q.status, KULA_PROPOSAL_REJECTED);
    cr_assert_eq(q.decided, 1);
    kula_params p;
    cr_assert_eq(kula_ledger_params(net.l, &p), 0);
    cr_assert_eq(p.proposal_ttl, 5, "a rejected action is not executed");
    f_vote(&tx, 1, &id, true);
    lu_reject(&net, SIGN(&tx, 1), KULA_EDECIDED);
    kula_hash none = hash_of("no proposal");
    f_vote(&tx, 1, &none, true);
    lu_reject(&net, SIGN(&tx, 1), KULA_EUNKNOWNPROPOSAL);
    lu_end(&net, NULL);
}

Test(ledger, governance_rejection_at_the_boundary)
{
    /* 3 members at 2/3: passing needs yes * 3 > 6, i.e. all 3.  After one
     * no, at most 2 yes remain possible: (1 + 1) * 3 = 6 <= 6, rejected at
     * once -- exactly on the boundary of the rule. */
    open_net(3);
    lu_begin(&net);
    kula_action act = a_param(KULA_PARAM_PROPOSAL_TTL, 30);
    kula_hash id = do_propose(1, &act);
    cr_assert_eq(proposal(&id).status, KULA_PROPOSAL_OPEN);
    do_vote(2, &id, false);
    kula_proposal q = proposal(&id);
    cr_assert_eq(q.status, KULA_PROPOSAL_REJECTED);
    cr_assert_eq(q.yes, 1);
    cr_assert_eq(q.no, 1);
    /* and with all yes it passes */
    kula_hash id2 = do_propose(2, &act);
    do_vote(3, &id2, true);
    cr_assert_eq(proposal(&id2).status, KULA_PROPOSAL_OPEN);
    do_vote(1, &id2, true);
    cr_assert_eq(proposal(&id2).status, KULA_PROPOSAL_PASSED);
    lu_end(&net, NULL);
}

Test(ledger, governance_expiry)
{
    open_net(4);
    lu_begin(&net); /* height 1; ttl 5: votes up to height 6 */
    kula_action act = a_param(KULA_PARAM_MAX_BLOCK_TXS, 500);
    kula_hash early = do_propose(1, &act);
    kula_hash late = do_propose(2, &act);
    lu_end(&net, NULL);
    for (int h = 2; h <= 5; h++) {
        lu_begin(&net);
        lu_end(&net, NULL);
    }
    lu_begin(&net); /* height 6 = expires: still open for votes */
    do_vote(3, &early, false);
    cr_assert_eq(proposal(&early).status, KULA_PROPOSAL_OPEN);
    lu_end(&net, NULL);
    lu_begin(&net); /* height 7: expired */
    kula_tx tx;
    f_vote(&tx, 3, &late, true);
    lu_reject(&net, SIGN(&tx, 3), KULA_EEXPIRED);
    f_vote(&tx, 4, &early, true);
    lu_reject(&net, SIGN(&tx, 4), KULA_EEXPIRED);
    lu_end(&net, NULL);
}

Test(ledger, governance_single_member_passes_at_once)
{
    open_net(1);
    lu_begin(&net);
    kula_action act = a_param(KULA_PARAM_THRESHOLD_NUM, 3);
    act.value = 3;
    /* 3/3 is not a valid threshold (must be below 1) */
    kula_tx tx;
    f_propose(&tx, 1, &act);
    lu_reject(&net, SIGN(&tx, 1), KULA_EPARAM);
    act = a_param(KULA_PARAM_BLOCK_INTERVAL_MS, 2500);
    kula_hash id = do_propose(1, &act);
    kula_proposal q = proposal(&id);
    cr_assert_eq(q.status, KULA_PROPOSAL_PASSED);
    cr_assert_eq(q.yes, 1);
    cr_assert_eq(q.decided, 1);
    kula_params p;
    cr_assert_eq(kula_ledger_params(net.l, &p), 0);
    cr_assert_eq(p.block_interval_ms, 2500);
    lu_end(&net, NULL);
}

Test(ledger, governance_param_changes)
{
    open_net(4);
    lu_begin(&net);
    kula_action act = a_param(KULA_PARAM_THRESHOLD_NUM, 3);
    kula_action den = a_param(KULA_PARAM_THRESHOLD_DEN, 4);
    pass4(&den);  /* 2/4 */
    pass4(&act);  /* 3/4: now 3 yes of 4 do not pass: 9 > 12 is false */
    kula_params p;
    cr_assert_eq(kula_ledger_params(net.l, &p), 0);
    cr_assert_eq(p.threshold_num, 3);
    cr_assert_eq(p.threshold_den, 4);
    kula_action ttl = a_param(KULA_PARAM_PROPOSAL_TTL, 9);
    kula_hash id = do_propose(1, &ttl);
    do_vote(2, &id, true);
    do_vote(3, &id, true);
    cr_assert_eq(proposal(&id).status, KULA_PROPOSAL_OPEN);
    do_vote(4, &id, true);
    cr_assert_eq(proposal(&id).status, KULA_PROPOSAL_PASSED);
    cr_assert_eq(kula_ledger_params(net.l, &p), 0);
    cr_assert_eq(p.proposal_ttl, 9);
    /* invalid parameters are refused at proposal */
    kula_tx tx;
    kula_action bad[] = {
        a_param(0, 1), a_param(KULA_PARAM_COUNT + 1, 1),
        a_param(KULA_PARAM_PROPOSAL_TTL, 0), a_param(KULA_PARAM_MAX_BLOCK_TXS, 20001),
        a_param(KULA_PARAM_THRESHOLD_NUM, 1), /* 1/4 is below one half */
        a_param(KULA_PARAM_DEFAULT_CREDIT_LIMIT, -1),
        a_param(KULA_PARAM_BLOCK_INTERVAL_MS, (int64_t)1 << 40),
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        f_propose(&tx, 1, &bad[i]);
        lu_reject(&net, SIGN(&tx, 1), KULA_EPARAM);
    }
    lu_end(&net, NULL);
}

Test(ledger, governance_admit)
{
    open_net(4);
    lu_begin(&net);
    lu_end(&net, NULL);
    lu_begin(&net); /* height 2 */
    kula_seckey sk5;
    kula_pubkey pk5;
    lu_member_key(5, &sk5, &pk5);
    kula_action act = a_admit(&pk5, 0);
    kula_tx tx;
    f_propose(&tx, 1, &act);
    SIGN(&tx, 1);
    kula_tx_effects fx;
    cr_assert_eq(kula_ledger_apply_tx(net.l, &tx, NULL, &fx), 0);
    cr_assert_eq(fx.nparties, 1, "an admission names no existing member");
    kula_hash id = tx.id;
    cr_assert_eq(lu_globals(&net).next_member, 5);
    do_vote(2, &id, true);
    do_vote(3, &id, true);
    cr_assert_eq(proposal(&id).status, KULA_PROPOSAL_PASSED);
    kula_globals g = lu_globals(&net);
    cr_assert_eq(g.next_member, 6);
    cr_assert_eq(g.active_members, 5);
    kula_member m = lu_member(&net, 5);
    cr_assert_eq(memcmp(m.pubkey.b, pk5.b, 32), 0);
    cr_assert_str_eq(m.name, "New Bakery");
    cr_assert_str_eq(m.sector, "food");
    cr_assert_eq(m.credit_limit, 500);
    cr_assert_eq(m.status, KULA_MEMBER_ACTIVE);
    cr_assert_eq(m.joined, 2);
    cr_assert_eq(m.balance, 0);
    cr_assert_eq(m.nonce, 0);
    uint32_t who;
    cr_assert_eq(kula_ledger_member_by_key(net.l, &pk5, &who), 0);
    cr_assert_eq(who, 5);
    /* the new member transacts with its key, within its own limit */
    f_transfer(&tx, 5, 1, 501);
    lu_reject(&net, SIGN(&tx, 5), KULA_ECREDIT);
    do_transfer(5, 1, 500);
    /* and now 5 members: 2/3 needs 4 yes (3*3 = 9 <= 10) */
    kula_seckey sk6;
    kula_pubkey pk6;
    lu_member_key(6, &sk6, &pk6);
    kula_action act6 = a_admit(&pk6, 0);
    kula_hash id6 = do_propose(5, &act6);
    do_vote(1, &id6, true);
    do_vote(2, &id6, true);
    cr_assert_eq(proposal(&id6).status, KULA_PROPOSAL_OPEN);
    do_vote(3, &id6, true);
    cr_assert_eq(proposal(&id6).status, KULA_PROPOSAL_PASSED);
    cr_assert_eq(lu_member(&net, 6).joined, 2);
    check_zero_sum();
    lu_end(&net, NULL);
}

Test(ledger, governance_admit_validator_joins_sets_in_order)
{
    open_net(4);
    lu_begin(&net);
    kula_seckey sk5;
    kula_pubkey pk5;
    lu_member_key(5, &sk5, &pk5);
    kula_action act = a_admit(&pk5, 7);
    pass4(&act);
    kula_valset *vs = malloc(sizeof(*vs));
    cr_assert_eq(kula_ledger_valset(net.l, KULA_VALSET_LIVE, vs), 0);
    cr_assert_eq(vs->n, 2);
    cr_assert_eq(vs->v[1].id, 5);
    cr_assert_eq(vs->v[1].power, 7);
    cr_assert_eq(vs->total_power, 8);
    cr_assert_eq(kula_ledger_valset(net.l, KULA_VALSET_NEXT, vs), 0);
    cr_assert_eq(vs->n, 1, "the next set changes only at the end of the block");
    lu_end(&net, NULL);
    cr_assert_eq(kula_ledger_valset(net.l, KULA_VALSET_NEXT, vs), 0);
    cr_assert_eq(vs->n, 2);
    cr_assert_eq(kula_ledger_valset(net.l, KULA_VALSET_LAST, vs), 0);
    cr_assert_eq(vs->n, 1, "block 1 was signed by the old set");
    lu_begin(&net);
    lu_end(&net, NULL);
    cr_assert_eq(kula_ledger_valset(net.l, KULA_VALSET_LAST, vs), 0);
    cr_assert_eq(vs->n, 2);
    cr_assert_eq(vs->total_power, 8);
    free(vs);
}

Test(ledger, governance_admit_errors)
{
    open_net(4);
    lu_begin(&net);
    kula_tx tx;
    kula_seckey sk;
    kula_pubkey pk1, pk9;
    lu_member_key(1, &sk, &pk1);
    lu_member_key(9, &sk, &pk9);
    kula_action act = a_admit(&pk1, 0);
    f_propose(&tx, 2, &act);
    lu_reject(&net, SIGN(&tx, 2), KULA_EDUPKEY);
    kula_pubkey bad;
    memset(bad.b, 0xff, 32); /* x >= p: not on the curve */
    act = a_admit(&bad, 0);
    f_propose(&tx, 2, &act);
    lu_reject(&net, SIGN(&tx, 2), KULA_EBADKEY);
    act = a_admit(&pk9, 0);
    act.name = lu_text("");
    f_propose(&tx, 2, &act);
    lu_reject(&net, SIGN(&tx, 2), KULA_ETEXT);
    act = a_admit(&pk9, 0);
    act.sector = lu_text("a\tb");
    f_propose(&tx, 2, &act);
    lu_reject(&net, SIGN(&tx, 2), KULA_ETEXT);
    act = a_admit(&pk9, 0);
    act.credit_limit = -1;
    f_propose(&tx, 2, &act);
    lu_reject(&net, SIGN(&tx, 2), KULA_EAMOUNT);
    act.credit_limit = INT64_MAX / 4 + 1;
    f_propose(&tx, 2, &act);
    lu_reject(&net, SIGN(&tx, 2), KULA_EAMOUNT);
    act = a_admit(&pk9, (UINT64_C(1) << 48) + 1);
    f_propose(&tx, 2, &act);
    lu_reject(&net, SIGN(&tx, 2), KULA_EPARAM);
    /* the limits themselves are fine */
    act = a_admit(&pk9, UINT64_C(1) << 48);
    act.credit_limit = INT64_MAX / 4;
    do_propose(2, &act);
    lu_end(&net, NULL);
}

Test(ledger, governance_passed_but_failed)
{
    /* Two proposals admit the same key; the second passes after the first
     * and fails with EDUPKEY, and its votes still count. */
    open_net(4);
    lu_begin(&net);
    kula_seckey sk;
    kula_pubkey pk;
    lu_member_key(5, &sk, &pk);
    kula_action act = a_admit(&pk, 0);
    kula_hash first = do_propose(1, &act);
    kula_hash second = do_propose(2, &act);
    do_vote(2, &first, true);
    do_vote(3, &first, true);
    cr_assert_eq(proposal(&first).status, KULA_PROPOSAL_PASSED);
    /* now 5 members are active: 4 yes are needed (3*3 = 9 <= 10) */
    do_vote(1, &second, true);
    do_vote(3, &second, true);
    cr_assert_eq(proposal(&second).status, KULA_PROPOSAL_OPEN);
    do_vote(4, &second, true);
    kula_proposal q = proposal(&second);
    cr_assert_eq(q.status, KULA_PROPOSAL_FAILED);
    cr_assert_eq(q.failure, KULA_EDUPKEY);
    cr_assert_eq(q.yes, 4);
    cr_assert_eq(q.decided, 1);
    cr_assert_eq(lu_globals(&net).next_member, 6, "admitted once");
    cr_assert_eq(lu_globals(&net).active_members, 5);
    cr_assert_eq(lu_member(&net, 4).nonce, 1, "the deciding vote is applied");
    lu_end(&net, NULL);
}

Test(ledger, governance_remove)
{
    uint64_t powers[4] = { 1, 1, 0, 0 };
    kula_genesis g;
    lu_genesis(&g, 4, 1000, powers);
    lu_net_open(&net, &g);
    lu_begin(&net);
    do_transfer(2, 3, 100);
    kula_action act = a_member(KULA_ACT_REMOVE, 2);
    kula_tx tx;
    f_propose(&tx, 1, &act);
    SIGN(&tx, 1);
    kula_tx_effects fx;
    cr_assert_eq(kula_ledger_apply_tx(net.l, &tx, NULL, &fx), 0);
    cr_assert_eq(fx.nparties, 2);
    cr_assert_eq(fx.parties[1], 2);
    kula_hash id = tx.id;
    do_vote(3, &id, true);
    do_vote(4, &id, true);
    cr_assert_eq(proposal(&id).status, KULA_PROPOSAL_PASSED);
    kula_member m = lu_member(&net, 2);
    cr_assert_eq(m.status, KULA_MEMBER_REMOVED);
    cr_assert_eq(m.balance, -100);
    kula_globals gl = lu_globals(&net);
    cr_assert_eq(gl.active_members, 3);
    cr_assert_eq(gl.next_member, 5);
    kula_valset *vs = malloc(sizeof(*vs));
    cr_assert_eq(kula_ledger_valset(net.l, KULA_VALSET_LIVE, vs), 0);
    cr_assert_eq(vs->n, 1);
    cr_assert_eq(vs->v[0].id, 1);
    cr_assert_eq(vs->total_power, 1);
    free(vs);
    /* the key stays bound to the removed member */
    uint32_t who;
    cr_assert_eq(kula_ledger_member_by_key(net.l, &m.pubkey, &who), 0);
    cr_assert_eq(who, 2);
    kula_action re = a_admit(&m.pubkey, 0);
    f_propose(&tx, 1, &re);
    lu_reject(&net, SIGN(&tx, 1), KULA_EDUPKEY);
    /* removing again, or an unknown member */
    f_propose(&tx, 1, &act);
    lu_reject(&net, SIGN(&tx, 1), KULA_EINACTIVE);
    act = a_member(KULA_ACT_REMOVE, 12);
    f_propose(&tx, 1, &act);
    lu_reject(&net, SIGN(&tx, 1), KULA_EUNKNOWNMEMBER);
    /* removed members cannot act or vote */
    f_transfer(&tx, 2, 1, 1);
    lu_reject(&net, SIGN(&tx, 2), KULA_EINACTIVE);
    act = a_param(KULA_PARAM_MAX_BLOCK_TXS, 99);
    kula_hash q = do_propose(1, &act);
    f_vote(&tx, 2, &q, true);
    lu_reject(&net, SIGN(&tx, 2), KULA_EINACTIVE);
    /* 3 active members at 2/3: 2 yes are not enough (6 > 6 is false), 3 are */
    do_vote(3, &q, true);
    cr_assert_eq(proposal(&q).status, KULA_PROPOSAL_OPEN);
    do_vote(4, &q, true);
    cr_assert_eq(proposal(&q).status, KULA_PROPOSAL_PASSED);
    check_zero_sum();
    lu_end(&net, NULL);
}

Test(ledger, governance_last_validator)
{
    open_net(4);
    lu_begin(&net);
    kula_action act = a_member(KULA_ACT_REMOVE, 1);
    kula_tx tx;
    f_propose(&tx, 2, &act);
    lu_reject(&net, SIGN(&tx, 2), KULA_ELASTVALIDATOR);
    /* once another validator is in the live set, it can go */
    kula_seckey sk;
    kula_pubkey pk;
    lu_member_key(5, &sk, &pk);
    kula_action adm = a_admit(&pk, 3);
    pass4(&adm);
    kula_hash id = do_propose(2, &act);
    do_vote(3, &id, true);
    do_vote(4, &id, true);
    cr_assert_eq(proposal(&id).status, KULA_PROPOSAL_OPEN, "5 active: 3 yes of 5 not enough");
    do_vote(5, &id, true);
    cr_assert_eq(proposal(&id).status, KULA_PROPOSAL_PASSED);
    cr_assert_eq(lu_member(&net, 1).status, KULA_MEMBER_REMOVED);
    kula_action rm5 = a_member(KULA_ACT_REMOVE, 5);
    f_propose(&tx, 2, &rm5);
    lu_reject(&net, SIGN(&tx, 2), KULA_ELASTVALIDATOR);
    lu_end(&net, NULL);
}

Test(ledger, governance_credit_limit)
{
    open_net(4);
    lu_begin(&net);
    do_transfer(3, 1, 800);
    kula_action act = a_member(KULA_ACT_CREDIT_LIMIT, 3);
    act.credit_limit = 500;
    pass4(&act);
    kula_member m = lu_member(&net, 3);
    cr_assert_eq(m.credit_limit, 500);
    cr_assert_eq(m.balance, -800, "a balance below the new limit stays");
    kula_tx tx;
    f_transfer(&tx, 3, 1, 1);
    lu_reject(&net, SIGN(&tx, 3), KULA_ECREDIT);
    do_transfer(2, 3, 301);
    do_transfer(3, 1, 1);
    cr_assert_eq(lu_balance(&net, 3), -500);
    act.credit_limit = -5;
    f_propose(&tx, 1, &act);
    lu_reject(&net, SIGN(&tx, 1), KULA_EAMOUNT);
    act = a_member(KULA_ACT_CREDIT_LIMIT, 44);
    f_propose(&tx, 1, &act);
    lu_reject(&net, SIGN(&tx, 1), KULA_EUNKNOWNMEMBER);
    lu_end(&net, NULL);
}

Test(ledger, governance_rotate_key)
{
    open_net(4);
    lu_begin(&net);
    do_transfer(2, 3, 10);
    kula_seckey oldsk, newsk;
    kula_pubkey oldpk, newpk;
    lu_member_key(2, &oldsk, &oldpk);
    pubkey_of("rotated key of member 2", &newsk, &newpk);
    kula_action act = a_member(KULA_ACT_ROTATE_KEY, 2);
    act.pubkey = newpk;
    /* passed by the votes of 3 and 4, so member 2's nonce stays 1 */
    kula_hash id = do_propose(1, &act);
    do_vote(3, &id, true);
    do_vote(4, &id, true);
    cr_assert_eq(proposal(&id).status, KULA_PROPOSAL_PASSED);
    kula_member m = lu_member(&net, 2);
    cr_assert_eq(memcmp(m.pubkey.b, newpk.b, 32), 0);
    cr_assert_eq(m.balance, -10, "balance kept");
    cr_assert_eq(m.nonce, 1, "nonce kept");
    cr_assert_eq(m.status, KULA_MEMBER_ACTIVE);
    uint32_t who;
    cr_assert_eq(kula_ledger_member_by_key(net.l, &newpk, &who), 0);
    cr_assert_eq(who, 2);
    cr_assert_eq(kula_ledger_member_by_key(net.l, &oldpk, &who), 0);
    cr_assert_eq(who, 2, "the old key stays bound to member 2");
    /* the old key signs nothing more */
    kula_tx tx;
    f_transfer(&tx, 2, 3, 5);
    lu_reject(&net, SIGN(&tx, 2), KULA_EBADSIG);
    f_exchange(&tx, 1, 2, "a", 5, "b", 5);
    lu_reject(&net, SIGN(&tx, 1, 2), KULA_EBADSIG);
    /* the new one does, under the same id and nonce sequence */
    f_transfer(&tx, 2, 3, 5);
    lu_seal(&net, &tx);
    lu_sign_with(&net.g.chain_id, &tx, 2, &newsk);
    lu_ok(&net, &tx);
    cr_assert_eq(lu_member(&net, 2).nonce, 2);
    cr_assert_eq(lu_balance(&net, 2), -15);
    /* the old key can never be bound again */
    kula_action again = a_member(KULA_ACT_ROTATE_KEY, 3);
    again.pubkey = oldpk;
    f_propose(&tx, 1, &again);
    lu_reject(&net, SIGN(&tx, 1), KULA_EDUPKEY);
    kula_action adm = a_admit(&oldpk, 0);
    f_propose(&tx, 1, &adm);
    lu_reject(&net, SIGN(&tx, 1), KULA_EDUPKEY);
    /* another member's key, an invalid key, a removed or unknown member */
    kula_seckey sk4;
    kula_pubkey pk4;
    lu_member_key(4, &sk4, &pk4);
    again.pubkey = pk4;
    f_propose(&tx, 1, &again);
    lu_reject(&net, SIGN(&tx, 1), KULA_EDUPKEY);
    memset(again.pubkey.b, 0xff, 32);
    f_propose(&tx, 1, &again);
    lu_reject(&net, SIGN(&tx, 1), KULA_EBADKEY);
    kula_seckey fsk;
    kula_pubkey fpk;
    pubkey_of("fresh", &fsk, &fpk);
    again = a_member(KULA_ACT_ROTATE_KEY, 77);
    again.pubkey = fpk;
    f_propose(&tx, 1, &again);
    lu_reject(&net, SIGN(&tx, 1), KULA_EUNKNOWNMEMBER);
    lu_end(&net, NULL);
}

Test(ledger, governance_vote_by_later_admitted_member)
{
    open_net(4);
    lu_begin(&net);
    kula_action ttl = a_param(KULA_PARAM_PROPOSAL_TTL, 100);
    kula_hash id = do_propose(1, &ttl);
    kula_seckey sk;
    kula_pubkey pk;
    lu_member_key(5, &sk, &pk);
    kula_action adm = a_admit(&pk, 0);
    pass4(&adm);
    do_vote(5, &id, false);
    kula_proposal q = proposal(&id);
    cr_assert_eq(q.no, 1);
    cr_assert_eq(q.status, KULA_PROPOSAL_OPEN);
    lu_end(&net, NULL);
}

/* =====================================================================
 * evidence of equivocation (LEDGER.md §7.5)
 * ===================================================================== */

/* A vote of `validator` for the block named `block` (NULL: nil), signed
 * under the network's chain id with the key "member N". */
static kula_vote ev_vote(uint32_t validator, uint8_t type, uint64_t height, uint32_t round,
                         const char *block)
{
    kula_vote v;
    memset(&v, 0, sizeof(v));
    v.type = type;
    v.height = height;
    v.round = round;
    v.has_block = block != NULL;
    if (block != NULL)
        v.block_hash = hash_of(block);
    v.validator = validator;
    kula_seckey sk;
    kula_pubkey pk;
    lu_member_key(validator, &sk, &pk);
    kula_hash d;
    kula_vote_sighash(&d, &net.g.chain_id, &v);
    cr_assert_eq(kula_sign(&v.sig, &sk, d.b), 0);
    return v;
}

/* An evidence transaction from `from`, the votes in canonical order. */
static void f_evidence(kula_tx *tx, uint32_t from, const kula_vote *a, const kula_vote *b)
{
    lu_tx(&net, tx, KULA_TX_EVIDENCE, from);
    bool swap = kula_vote_cmp(a, b) > 0;
    tx->u.evidence.a = swap ? *b : *a;
    tx->u.evidence.b = swap ? *a : *b;
}

static kula_tx *ev_signed(kula_tx *tx, uint32_t from, kula_vote a, kula_vote b)
{
    f_evidence(tx, from, &a, &b);
    return SIGN(tx, from);
}

/* Three members, members 1 and 2 validators; block 1 holds a transfer. */
static void open_ev_net(void)
{
    kula_genesis g;
    lu_genesis(&g, 3, 1000, (const uint64_t[]){ 1, 1, 0 });
    lu_net_open(&net, &g);
    lu_begin(&net);
    do_transfer(3, 1, 5);
    lu_end(&net, NULL);
}

/* Whether the block's diff so far writes `key` with exactly `val`. */
static bool diff_has(const kula_key *k, const uint8_t *val, size_t vlen)
{
    const kula_state_write *w;
    size_t n;
    cr_assert_eq(kula_state_diff(net.l->st, &w, &n), 0);
    for (size_t i = 0; i < n; i++)
        if (w[i].klen == k->n && memcmp(w[i].key, k->b, k->n) == 0)
            return w[i].val != NULL && w[i].vlen == vlen && memcmp(w[i].val, val, vlen) == 0;
    return false;
}

Test(ledger, evidence_recorded)
{
    open_ev_net();
    lu_begin(&net); /* block 2 */
    kula_tx tx;
    ev_signed(&tx, 3, ev_vote(1, KULA_VOTE_PRECOMMIT, 1, 0, "block A"),
              ev_vote(1, KULA_VOTE_PRECOMMIT, 1, 0, NULL));
    kula_tx_effects fx;
    cr_assert_eq(kula_ledger_apply_tx(net.l, &tx, NULL, &fx), 0);
    /* the reporter first, then the accused (its history shows the report) */
    cr_assert_eq(fx.nparties, 2);
    cr_assert_eq(fx.parties[0], 3);
    cr_assert_eq(fx.parties[1], 1);
    kula_evidence e;
    cr_assert_eq(kula_ledger_evidence(net.l, 1, 1, 0, KULA_VOTE_PRECOMMIT, &e), 0);
    cr_assert_eq(e.reporter, 3);
    cr_assert_eq(e.recorded, 2);
    cr_assert_eq(e.validator, 1);
    cr_assert_eq(e.height, 1);
    cr_assert_eq(e.type, KULA_VOTE_PRECOMMIT);
    cr_assert_eq(kula_ledger_evidence(net.l, 1, 1, 0, KULA_VOTE_PREVOTE, &e), KULA_ENOTFOUND);
    cr_assert_eq(kula_ledger_evidence(net.l, 1, 1, 1, KULA_VOTE_PRECOMMIT, &e), KULA_ENOTFOUND);
    /* SPEC §10.1: "E" || be32 1 || be64 1 || be32 0 || 02 -> [3, 2], in the
     * diff, so in the state root. */
    static const uint8_t key[18] = { 'E', 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 2 };
    kula_key k;
    kula_key_evidence(&k, 1, 1, 0, KULA_VOTE_PRECOMMIT);
    cr_assert_eq(k.n, sizeof(key));
    cr_assert_eq(memcmp(k.b, key, sizeof(key)), 0);
    cr_assert(diff_has(&k, (const uint8_t[]){ 0x92, 0x03, 0x02 }, 3));
    /* No punishment: the accused's record is untouched but for nothing. */
    kula_member m = lu_member(&net, 1);
    cr_assert_eq(m.status, KULA_MEMBER_ACTIVE);
    cr_assert_eq(m.voting_power, 1);
    kula_valset vs;
    cr_assert_eq(kula_ledger_valset(net.l, KULA_VALSET_LIVE, &vs), 0);
    cr_assert_eq(vs.n, 2);
    /* Another offence of the same validator: another round, another type,
     * at the height of this very block (an earlier round of it). */
    ev_signed(&tx, 2, ev_vote(1, KULA_VOTE_PREVOTE, 2, 0, "block B"),
              ev_vote(1, KULA_VOTE_PREVOTE, 2, 0, "block C"));
    lu_ok(&net, &tx);
    ev_signed(&tx, 2, ev_vote(1, KULA_VOTE_PRECOMMIT, 1, 1, "block B"),
              ev_vote(1, KULA_VOTE_PRECOMMIT, 1, 1, "block C"));
    lu_ok(&net, &tx);
    kula_hash with;
    lu_end(&net, &with);

    /* The same chain without the evidence ends in another root. */
    lu_net_close(&net);
    open_ev_net();
    lu_begin(&net);
    lu_end(&net, NULL);
    cr_assert_neq(memcmp(with.b, kula_ledger_state_root(net.l)->b, 32), 0);
}

Test(ledger, evidence_refusals)
{
    open_ev_net();
    lu_begin(&net); /* block 2 */
    kula_tx tx;
    kula_vote a = ev_vote(2, KULA_VOTE_PREVOTE, 1, 0, "block A");
    kula_vote b = ev_vote(2, KULA_VOTE_PREVOTE, 1, 0, "block B");

    /* The same vote twice is no evidence, and has no encoding: the votes
     * must be strictly ascending (SPEC §6.18). */
    f_evidence(&tx, 3, &a, &a);
    cr_assert_eq(kula_tx_seal(&tx, lu_body(&net)), KULA_EORDER);
    {
        kula_buf raw, one;
        kula_buf_init(&raw);
        kula_buf_init(&one);
        cr_assert_eq(kula_vote_encode(&one, &a), 0);
        kula_writer w;
        kula_writer_init(&w, &raw);
        kula_w_array(&w, 2);
        kula_w_array(&w, 6);
        kula_w_uint(&w, 1);
        kula_w_uint(&w, KULA_TX_EVIDENCE);
        kula_w_uint(&w, 3);
        kula_w_uint(&w, lu_next_nonce(&net, 3));
        kula_w_array(&w, 2);
        kula_w_raw(&w, one.data, one.len);
        kula_w_raw(&w, one.data, one.len);
        kula_w_str(&w, "", 0);
        kula_w_array(&w, 1);
        kula_w_array(&w, 2);
        kula_w_uint(&w, 3);
        kula_w_bin(&w, a.sig.b, KULA_SIG_LEN);
        cr_assert_eq(raw.err, 0);
        kula_tx dec;
        cr_assert_eq(kula_tx_decode(&dec, raw.data, raw.len), KULA_EORDER);
        kula_buf_free(&raw);
        kula_buf_free(&one);
    }
    /* The same vote signed twice (two valid signatures): no conflict. */
    lu_reject(&net, ev_signed(&tx, 3, a, ev_vote(2, KULA_VOTE_PREVOTE, 1, 0, "block A")),
              KULA_EEVIDENCE);
    /* Two nil votes. */
    lu_reject(&net, ev_signed(&tx, 3, ev_vote(2, KULA_VOTE_PREVOTE, 1, 0, NULL),
                              ev_vote(2, KULA_VOTE_PREVOTE, 1, 0, NULL)),
              KULA_EEVIDENCE);
    /* Different validators, heights, rounds, types. */
    lu_reject(&net, ev_signed(&tx, 3, a, ev_vote(1, KULA_VOTE_PREVOTE, 1, 0, "block B")),
              KULA_EEVIDENCE);
    lu_reject(&net, ev_signed(&tx, 3, a, ev_vote(2, KULA_VOTE_PREVOTE, 2, 0, "block B")),
              KULA_EEVIDENCE);
    lu_reject(&net, ev_signed(&tx, 3, a, ev_vote(2, KULA_VOTE_PREVOTE, 1, 1, "block B")),
              KULA_EEVIDENCE);
    lu_reject(&net, ev_signed(&tx, 3, a, ev_vote(2, KULA_VOTE_PRECOMMIT, 1, 0, "block B")),
              KULA_EEVIDENCE);
    /* A bad signature on either vote; a vote signed for another network;
     * a vote signed by another member's key. */
    kula_vote bad = b;
    bad.sig.b[5] ^= 1;
    lu_reject(&net, ev_signed(&tx, 3, a, bad), KULA_EBADSIG);
    bad = a;
    bad.sig.b[60] ^= 0x80;
    lu_reject(&net, ev_signed(&tx, 3, bad, b), KULA_EBADSIG);
    {
        kula_hash other = hash_of("another network"), d;
        kula_seckey sk;
        kula_pubkey pk;
        lu_member_key(2, &sk, &pk);
        bad = b;
        kula_vote_sighash(&d, &other, &bad);
        cr_assert_eq(kula_sign(&bad.sig, &sk, d.b), 0);
        lu_reject(&net, ev_signed(&tx, 3, a, bad), KULA_EBADSIG);
        lu_member_key(3, &sk, &pk);
        bad = b;
        kula_vote_sighash(&d, &net.g.chain_id, &bad);
        cr_assert_eq(kula_sign(&bad.sig, &sk, d.b), 0);
        lu_reject(&net, ev_signed(&tx, 3, a, bad), KULA_EBADSIG);
    }
    /* An accused who is no member. */
    lu_reject(&net, ev_signed(&tx, 3, ev_vote(7, KULA_VOTE_PREVOTE, 1, 0, "block A"),
                              ev_vote(7, KULA_VOTE_PREVOTE, 1, 0, "block B")),
              KULA_EUNKNOWNMEMBER);
    /* Evidence of the future: height 3 while block 2 is applied. */
    lu_reject(&net, ev_signed(&tx, 3, ev_vote(2, KULA_VOTE_PREVOTE, 3, 0, "block A"),
                              ev_vote(2, KULA_VOTE_PREVOTE, 3, 0, "block B")),
              KULA_EHEIGHT);
    /* Signed by `from` only: not also by the accused. */
    f_evidence(&tx, 3, &a, &b);
    lu_reject(&net, SIGN(&tx, 2, 3), KULA_ESIGNERS);
    /* The first report is recorded... */
    lu_ok(&net, ev_signed(&tx, 3, a, b));
    /* ...and the offence once: not again, by anyone, with any pair of its
     * votes, in this block or a later one. */
    lu_reject(&net, ev_signed(&tx, 3, a, b), KULA_EEXIST);
    lu_reject(&net, ev_signed(&tx, 1, a, ev_vote(2, KULA_VOTE_PREVOTE, 1, 0, NULL)),
              KULA_EEXIST);
    lu_end(&net, NULL);
    lu_begin(&net);
    lu_reject(&net, ev_signed(&tx, 1, b, ev_vote(2, KULA_VOTE_PREVOTE, 1, 0, "block C")),
              KULA_EEXIST);
    kula_evidence e;
    cr_assert_eq(kula_ledger_evidence(net.l, 2, 1, 0, KULA_VOTE_PREVOTE, &e), 0);
    cr_assert_eq(e.reporter, 3);
    cr_assert_eq(e.recorded, 2);
    /* The memo follows the rule of every transaction. */
    kula_vote pa = ev_vote(2, KULA_VOTE_PRECOMMIT, 1, 0, "block A");
    kula_vote pb = ev_vote(2, KULA_VOTE_PRECOMMIT, 1, 0, NULL);
    f_evidence(&tx, 1, &pa, &pb);
    tx.memo = lu_text("\x1b[2J");
    lu_reject(&net, SIGN(&tx, 1), KULA_ETEXT);
    lu_end(&net, NULL);
}

/* A replay with skip_sigs (blocks already verified) skips the votes'
 * signatures like the transactions' and ends in the same root. */
Test(ledger, evidence_replay_skip_sigs)
{
    open_ev_net();
    lu_begin(&net);
    kula_tx t1, t2;
    ev_signed(&t1, 3, ev_vote(1, KULA_VOTE_PRECOMMIT, 1, 0, "block A"),
              ev_vote(1, KULA_VOTE_PRECOMMIT, 1, 0, NULL));
    ev_signed(&t2, 1, ev_vote(2, KULA_VOTE_PREVOTE, 2, 3, "block B"),
              ev_vote(2, KULA_VOTE_PREVOTE, 2, 3, "block C"));
    lu_ok(&net, &t1);
    lu_ok(&net, &t2);
    kula_hash full;
    lu_end(&net, &full);
    kula_buf b1, b2;
    kula_buf_init(&b1);
    kula_buf_init(&b2);
    cr_assert_eq(kula_tx_encode(&b1, &t1), 0);
    cr_assert_eq(kula_tx_encode(&b2, &t2), 0);

    /* A second ledger of the same network replays the block from bytes. */
    kula_genesis g;
    lu_genesis(&g, 3, 1000, (const uint64_t[]){ 1, 1, 0 });
    lu_net replay;
    lu_net_open(&replay, &g);
    lu_begin(&replay);
    kula_tx x;
    f_transfer(&x, 3, 1, 5);
    x.nonce = 1;
    lu_seal(&replay, &x);
    lu_sign(&replay, &x, 3);
    kula_apply_opts skip = { .skip_sigs = true };
    cr_assert_eq(kula_ledger_apply_tx(replay.l, &x, &skip, NULL), 0);
    lu_end(&replay, NULL);
    lu_begin(&replay);
    kula_tx d1, d2;
    cr_assert_eq(kula_tx_decode(&d1, b1.data, b1.len), 0);
    cr_assert_eq(kula_tx_decode(&d2, b2.data, b2.len), 0);
    cr_assert_eq(kula_ledger_apply_tx(replay.l, &d1, &skip, NULL), 0);
    cr_assert_eq(kula_ledger_apply_tx(replay.l, &d2, &skip, NULL), 0);
    kula_hash again;
    lu_end(&replay, &again);
    cr_assert_eq(memcmp(full.b, again.b, 32), 0);

    /* skip_sigs does skip them: a spoiled vote signature passes a replay
     * (consistently with the transaction's own signatures), never a check. */
    lu_begin(&replay);
    kula_tx s;
    kula_vote va = ev_vote(1, KULA_VOTE_PREVOTE, 1, 0, "block A");
    kula_vote vb = ev_vote(1, KULA_VOTE_PREVOTE, 1, 0, "block B");
    vb.sig.b[0] ^= 1;
    f_evidence(&s, 3, &va, &vb); /* net and replay share the genesis */
    s.nonce = 3;
    lu_seal(&replay, &s);
    lu_sign(&replay, &s, 3);
    lu_reject_l(replay.l, &s, NULL, KULA_EBADSIG, "checked");
    cr_assert_eq(kula_ledger_apply_tx(replay.l, &s, &skip, NULL), 0);
    lu_end(&replay, NULL);
    lu_net_close(&replay);
    kula_buf_free(&b1);
    kula_buf_free(&b2);
}
