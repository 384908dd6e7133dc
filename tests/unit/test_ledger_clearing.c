/* test_ledger_clearing.c -- the clearing the ledger runs (proto/LEDGER.md
 * §9): asked for by a passed `clear` proposal or due at the interval of
 * parameter clearing_interval_blocks; what it takes (accepted, unpaid
 * invoices), what it changes (residuals, status), the record it writes,
 * and the encodings that keep old chain ids and state roots (SPEC §8.1,
 * §10.1). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "kula/types/records.h"
#include "ledgerutil.h"

static lu_net net;

static void setup(void) { cr_assert_eq(kula_crypto_init(), 0); }
static void teardown(void)
{
    if (net.l != NULL)
        lu_net_close(&net);
}

TestSuite(ledger_clearing, .init = setup, .fini = teardown);

#define SIGN(tx, ...) lu_sealsign(&net, (tx), LU_SIGNERS(__VA_ARGS__))

/* n members, limit 1000 (threshold 2/3: 1 proposes, 2 and 3 vote yes). */
static void open_net(uint32_t n)
{
    kula_genesis g;
    lu_genesis(&g, n, 1000, NULL);
    lu_net_open(&net, &g);
}

/* An invoice of creditor to debtor, accepted by the debtor.  Returns its id. */
static kula_hash owe(uint32_t debtor, uint32_t creditor, int64_t amount, bool accept)
{
    kula_tx tx;
    lu_tx(&net, &tx, KULA_TX_INVOICE, creditor);
    tx.u.invoice.debtor = debtor;
    tx.u.invoice.amount = amount;
    tx.u.invoice.reference = lu_text("2026-14");
    lu_ok(&net, SIGN(&tx, creditor));
    kula_hash id = tx.id;
    if (accept) {
        lu_tx(&net, &tx, KULA_TX_INVOICE_ACCEPT, debtor);
        tx.u.inv.invoice = id;
        tx.u.inv.reason = lu_text("");
        lu_ok(&net, SIGN(&tx, debtor));
    }
    return id;
}

static kula_invoice invoice(const kula_hash *id)
{
    kula_invoice v;
    int rc = kula_ledger_invoice(net.l, id, &v);
    cr_assert_eq(rc, 0, "invoice: %s", kula_errname(rc));
    return v;
}

static uint64_t clearings(void)
{
    uint64_t n;
    cr_assert_eq(kula_ledger_clearings(net.l, &n), 0);
    return n;
}

/* A, B, C = 2, 3, 4: A owes B 100, B owes C 80, C owes A 120. */
typedef struct cycle { kula_hash ab, bc, ca; } cycle;

static cycle make_cycle(void)
{
    cycle c;
    c.ab = owe(2, 3, 100, true);
    c.bc = owe(3, 4, 80, true);
    c.ca = owe(4, 2, 120, true);
    return c;
}

/* Votes yes on id with members 2 and 3. */
static void votes(const kula_hash *id)
{
    for (uint32_t v = 2; v <= 3; v++) {
        kula_tx vt;
        lu_tx(&net, &vt, KULA_TX_VOTE, v);
        vt.u.vote.proposal = *id;
        vt.u.vote.approve = true;
        lu_ok(&net, SIGN(&vt, v));
    }
}

static void pass_with_votes(const kula_action *act)
{
    kula_tx tx;
    lu_tx(&net, &tx, KULA_TX_PROPOSE, 1);
    tx.u.propose.action = *act;
    lu_ok(&net, SIGN(&tx, 1));
    votes(&tx.id);
    kula_proposal q;
    cr_assert_eq(kula_ledger_proposal(net.l, &tx.id, &q), 0);
    cr_assert_eq(q.status, KULA_PROPOSAL_PASSED, "status %u failure %d", q.status, q.failure);
}

Test(ledger_clearing, a_clear_proposal_clears_the_cycle_by_80)
{
    open_net(4);
    lu_begin(&net);
    cycle c = make_cycle();
    lu_end(&net, NULL);
    cr_assert_eq(clearings(), 0, "no clearing without a request or an interval");
    cr_assert_eq(invoice(&c.ab).residual, 100);

    lu_begin(&net);
    pass_with_votes(&(kula_action){ .kind = KULA_ACT_CLEAR });
    cr_assert_eq(invoice(&c.ab).residual, 100, "the clearing runs after the transactions");
    lu_end(&net, NULL);

    cr_assert_eq(clearings(), 1);
    kula_invoice ab = invoice(&c.ab), bc = invoice(&c.bc), ca = invoice(&c.ca);
    cr_assert_eq(ab.residual, 20);
    cr_assert_eq(bc.residual, 0);
    cr_assert_eq(ca.residual, 40);
    cr_assert_eq(ab.status, KULA_INVOICE_ACCEPTED);
    cr_assert_eq(bc.status, KULA_INVOICE_PAID, "nothing owed: paid");
    cr_assert_eq(bc.paid, 0, "a set-off is not a payment");
    cr_assert_eq(bc.changed, 2);
    cr_assert_eq(lu_balance(&net, 2), 0, "clearing moves no credit");

    kula_clearing cl;
    cr_assert_eq(kula_ledger_clearing(net.l, 1, &cl), 0);
    cr_assert_eq(cl.number, 1);
    cr_assert_eq(cl.height, 2);
    cr_assert(cl.total_debt == 300 && cl.cleared == 240 && cl.remaining == 60);
    cr_assert_eq(cl.nitems, 3);
    for (uint32_t i = 1; i < cl.nitems; i++)
        cr_assert_lt(memcmp(cl.items[i - 1].id.b, cl.items[i].id.b, 32), 0, "ascending ids");
    for (uint32_t i = 0; i < cl.nitems; i++)
        cr_assert_eq(cl.items[i].setoff, 80);
    kula_clearing_free(&cl);
    cr_assert_eq(kula_ledger_clearing(net.l, 2, &cl), KULA_ENOTFOUND);

    /* asked again: nothing left to set off, so no record (§9.2) */
    lu_begin(&net);
    pass_with_votes(&(kula_action){ .kind = KULA_ACT_CLEAR });
    const kula_state_write *w;
    size_t n;
    kula_hash root;
    cr_assert_eq(kula_ledger_end_block(net.l, &root, &w, &n), 0);
    for (size_t i = 0; i < n; i++)
        cr_assert(w[i].key[0] != KULA_KEY_CLEAR_ASKED, "the request is never committed");
    kula_ledger_finish_block(net.l);
    cr_assert_eq(clearings(), 1);
}

Test(ledger_clearing, only_accepted_unpaid_invoices_are_cleared)
{
    open_net(4);
    lu_begin(&net);
    kula_hash ab = owe(2, 3, 100, true);
    kula_hash bc = owe(3, 4, 80, false); /* issued, not accepted */
    kula_hash ca = owe(4, 2, 120, true);
    kula_tx tx;
    lu_tx(&net, &tx, KULA_TX_INVOICE_DISPUTE, 3);
    tx.u.inv.invoice = bc;
    tx.u.inv.reason = lu_text("not delivered");
    lu_ok(&net, SIGN(&tx, 3));
    pass_with_votes(&(kula_action){ .kind = KULA_ACT_CLEAR });
    lu_end(&net, NULL);
    cr_assert_eq(clearings(), 0, "no cycle among accepted invoices: nothing to record");
    cr_assert_eq(invoice(&ab).residual, 100);
    cr_assert_eq(invoice(&ca).residual, 120);

    /* accepted now: the cycle clears at the next request */
    lu_begin(&net);
    lu_tx(&net, &tx, KULA_TX_INVOICE_ACCEPT, 3);
    tx.u.inv.invoice = bc;
    tx.u.inv.reason = lu_text("");
    lu_ok(&net, SIGN(&tx, 3));
    lu_tx(&net, &tx, KULA_TX_INVOICE_PAY, 3);
    tx.u.inv.invoice = bc;
    tx.u.inv.amount = 30;
    lu_ok(&net, SIGN(&tx, 3));
    pass_with_votes(&(kula_action){ .kind = KULA_ACT_CLEAR });
    lu_end(&net, NULL);
    cr_assert_eq(clearings(), 1);
    cr_assert_eq(invoice(&bc).residual, 0, "the part still owed (50) is set off");
    cr_assert_eq(invoice(&bc).paid, 30);
    cr_assert_eq(invoice(&ab).residual, 50);
    cr_assert_eq(invoice(&ca).residual, 70);
}

Test(ledger_clearing, scheduled_at_the_interval)
{
    open_net(4);
    lu_begin(&net); /* 1 */
    pass_with_votes(&(kula_action){ .kind = KULA_ACT_PARAM,
                                    .param = KULA_PARAM_CLEARING_INTERVAL, .value = 3 });
    kula_params p;
    cr_assert_eq(kula_ledger_params(net.l, &p), 0);
    cr_assert_eq(p.clearing_interval, 3);
    lu_end(&net, NULL);
    lu_begin(&net); /* 2 */
    cycle c = make_cycle();
    lu_end(&net, NULL);
    cr_assert_eq(clearings(), 0, "height 2 is not a multiple of 3");
    cr_assert_eq(invoice(&c.ab).residual, 100);
    lu_begin(&net); /* 3 */
    lu_end(&net, NULL);
    cr_assert_eq(clearings(), 1, "height 3 is");
    cr_assert_eq(invoice(&c.ab).residual, 20);
    kula_clearing cl;
    cr_assert_eq(kula_ledger_clearing(net.l, 1, &cl), 0);
    cr_assert_eq(cl.height, 3);
    kula_clearing_free(&cl);

    lu_begin(&net); /* 4 */
    kula_hash again = owe(3, 2, 20, true); /* B owes A 20: cycle with A->B 20 */
    lu_end(&net, NULL);
    lu_begin(&net); /* 5 */
    lu_end(&net, NULL);
    cr_assert_eq(clearings(), 1);
    lu_begin(&net); /* 6 */
    lu_end(&net, NULL);
    cr_assert_eq(clearings(), 2, "the next multiple");
    cr_assert_eq(invoice(&again).residual, 0);
    cr_assert_eq(invoice(&c.ab).residual, 0);
    cr_assert_eq(invoice(&c.ca).residual, 40, "untouched");
}

Test(ledger_clearing, param_bounds)
{
    kula_params p;
    lu_default_params(&p);
    p.clearing_interval = 0;
    cr_assert_eq(kula_params_set(&p, KULA_PARAM_CLEARING_INTERVAL, 10000000), 0);
    cr_assert_eq(kula_params_set(&p, KULA_PARAM_CLEARING_INTERVAL, 10000001), KULA_EPARAM);
    cr_assert_eq(kula_params_set(&p, KULA_PARAM_CLEARING_INTERVAL, -1), KULA_EPARAM);
    cr_assert_str_eq(kula_param_name(KULA_PARAM_CLEARING_INTERVAL), "clearing_interval_blocks");
}

/* SPEC §8.1/§10.1: 0 is left out (old encodings stay byte for byte),
 * a non-zero value is the 10th element, and a present 0 is refused. */
Test(ledger_clearing, params_encode_the_interval_only_when_not_zero)
{
    kula_params p, q;
    lu_default_params(&p);
    p.clearing_interval = 0;
    kula_buf b;
    kula_buf_init(&b);
    cr_assert_eq(kula_params_encode(&b, &p), 0);
    cr_assert_eq(b.data[0], 0x99, "9 parameters");
    cr_assert_eq(kula_params_decode(&q, b.data, b.len), 0);
    cr_assert_eq(q.clearing_interval, 0);
    kula_buf_reset(&b);
    p.clearing_interval = 7;
    cr_assert_eq(kula_params_encode(&b, &p), 0);
    cr_assert_eq(b.data[0], 0x9a, "10 parameters");
    cr_assert_eq(b.data[b.len - 1], 7);
    cr_assert_eq(kula_params_decode(&q, b.data, b.len), 0);
    cr_assert_eq(q.clearing_interval, 7);
    b.data[b.len - 1] = 0;
    cr_assert_eq(kula_params_decode(&q, b.data, b.len), KULA_ENONCANON);
    kula_buf_free(&b);

    kula_genesis g;
    lu_genesis(&g, 2, 1000, NULL);
    kula_buf_init(&b);
    cr_assert_eq(kula_genesis_encode(&b, &g), 0);
    kula_genesis d;
    cr_assert_eq(kula_genesis_decode(&d, b.data, b.len), 0);
    cr_assert_eq(d.params.clearing_interval, 0);
    kula_genesis_free(&d);
    kula_buf_reset(&b);
    g.params.clearing_interval = 5;
    cr_assert_eq(kula_genesis_encode(&b, &g), 0);
    cr_assert_eq(kula_genesis_decode(&d, b.data, b.len), 0);
    cr_assert_eq(d.params.clearing_interval, 5);
    kula_genesis_free(&d);
    kula_genesis_free(&g);
    kula_buf_free(&b);
}

Test(ledger_clearing, action_clear_encodes_as_one_element)
{
    kula_action a = { .kind = KULA_ACT_CLEAR }, d;
    kula_buf b;
    kula_buf_init(&b);
    cr_assert_eq(kula_action_encode(&b, &a), 0);
    cr_assert_eq(b.len, 2);
    cr_assert_eq(b.data[0], 0x91);
    cr_assert_eq(b.data[1], 0x06);
    cr_assert_eq(kula_action_decode(&d, b.data, b.len), 0);
    cr_assert_eq(d.kind, KULA_ACT_CLEAR);
    const uint8_t extra[] = { 0x92, 0x06, 0x00 };
    cr_assert_neq(kula_action_decode(&d, extra, sizeof(extra)), 0, "no fields");
    cr_assert_str_eq(kula_action_kind_name(KULA_ACT_CLEAR), "clear");
    kula_buf_free(&b);
}

static void item(kula_clearing_item *it, uint8_t id, uint32_t d, uint32_t c, int64_t before,
                 int64_t setoff)
{
    memset(it, 0, sizeof(*it));
    it->id.b[0] = id;
    it->debtor = d;
    it->creditor = c;
    it->before = before;
    it->setoff = setoff;
}

static int roundtrip(const kula_clearing *c)
{
    kula_buf b;
    kula_buf_init(&b);
    cr_assert_eq(kula_clearing_encode(&b, c), 0);
    kula_clearing d = { .number = 9 };
    int rc = kula_clearing_decode(&d, b.data, b.len);
    if (rc == 0) {
        cr_assert_eq(d.number, 9);
        cr_assert_eq(d.nitems, c->nitems);
        cr_assert_eq(memcmp(d.items, c->items, c->nitems * sizeof(*d.items)), 0);
        kula_clearing_free(&d);
    }
    kula_buf_free(&b);
    return rc;
}

Test(ledger_clearing, clearing_record_decoder_checks_everything)
{
    kula_clearing_item it[3];
    item(&it[0], 1, 2, 3, 100, 80);
    item(&it[1], 2, 3, 4, 80, 80);
    item(&it[2], 3, 4, 2, 120, 80);
    kula_clearing c = { .height = 2, .total_debt = 300, .cleared = 240, .remaining = 60,
                        .nitems = 3, .items = it };
    cr_assert_eq(roundtrip(&c), 0);
    c.cleared = 239;
    cr_assert_eq(roundtrip(&c), KULA_ERANGE, "totals are the sums");
    c.cleared = 240;
    c.remaining = 61;
    cr_assert_eq(roundtrip(&c), KULA_ERANGE);
    c.remaining = 60;
    it[1].id.b[0] = 1;
    cr_assert_eq(roundtrip(&c), KULA_ENONCANON, "ids strictly ascend");
    it[1].id.b[0] = 2;
    it[1].creditor = 3;
    cr_assert_eq(roundtrip(&c), KULA_ENONCANON, "no self-obligation");
    it[1].creditor = 4;
    it[1].setoff = 81;
    c.cleared = 241;
    c.remaining = 59;
    cr_assert_neq(roundtrip(&c), 0, "a set-off above what was owed");
    const uint8_t big[] = { 0x95, 0x00, 0xc4, 0x10 };
    kula_clearing d = { 0 };
    cr_assert_neq(kula_clearing_decode(&d, big, sizeof(big)), 0);
}

/* ---- settlement of the remainder (LEDGER §9.6) ---- */

static kula_tx settle_tx(uint32_t member, bool on)
{
    kula_tx tx;
    lu_tx(&net, &tx, KULA_TX_CLEARING_SETTLE, member);
    tx.u.csettle.on = on;
    SIGN(&tx, member);
    return tx;
}

static void settle(uint32_t member, bool on)
{
    kula_tx tx = settle_tx(member, on);
    lu_ok(&net, &tx);
}

static uint64_t settles_since(uint32_t member)
{
    uint64_t since;
    cr_assert_eq(kula_ledger_settles(net.l, member, &since), 0);
    return since;
}

static void clear_now(void)
{
    pass_with_votes(&(kula_action){ .kind = KULA_ACT_CLEAR });
}

Test(ledger_clearing, settle_opt_in_and_out)
{
    open_net(4);
    lu_begin(&net); /* 1 */
    cr_assert_eq(settles_since(2), 0);
    kula_tx out = settle_tx(2, false);
    lu_reject(&net, &out, KULA_ENOTSETTLES);
    settle(2, true);
    cr_assert_eq(settles_since(2), 1, "in since block 1");
    kula_tx again = settle_tx(2, true);
    lu_reject(&net, &again, KULA_ESETTLES);
    lu_end(&net, NULL);
    lu_begin(&net); /* 2 */
    again = settle_tx(2, true);
    lu_reject(&net, &again, KULA_ESETTLES);
    cr_assert_eq(settles_since(2), 1, "a refused opt-in keeps the first height");
    settle(2, false);
    cr_assert_eq(settles_since(2), 0);
    out = settle_tx(2, false);
    lu_reject(&net, &out, KULA_ENOTSETTLES);
    settle(3, true);
    lu_end(&net, NULL);
    cr_assert_eq(settles_since(3), 2);
    cr_assert_eq(settles_since(2), 0);
}

/* After the cycle's set-off (A owes B 20, C owes A 40), A opted in pays B
 * its 20 from credit: a payment, so `paid` and the pair's exchanges rise. */
Test(ledger_clearing, settle_pays_what_is_left_after_the_set_off)
{
    open_net(4);
    lu_begin(&net);
    cycle c = make_cycle();
    settle(2, true);
    lu_end(&net, NULL);
    kula_pair before;
    cr_assert_eq(kula_ledger_pair(net.l, 2, 3, &before), 0);
    lu_begin(&net);
    clear_now();
    lu_end(&net, NULL);
    cr_assert_eq(clearings(), 1);
    kula_invoice ab = invoice(&c.ab), ca = invoice(&c.ca);
    cr_assert_eq(ab.residual, 0);
    cr_assert_eq(ab.paid, 20, "the 20 left after the set-off of 80 is paid");
    cr_assert_eq(ab.status, KULA_INVOICE_PAID);
    cr_assert_eq(ab.changed, 2);
    cr_assert_eq(ca.residual, 40, "C did not opt in");
    cr_assert_eq(lu_balance(&net, 2), -20);
    cr_assert_eq(lu_balance(&net, 3), 20);
    kula_pair after;
    cr_assert_eq(kula_ledger_pair(net.l, 2, 3, &after), 0);
    cr_assert_eq(after.exchanges, before.exchanges + 1, "as an invoice pay counts one");
    kula_clearing cl;
    cr_assert_eq(kula_ledger_clearing(net.l, 1, &cl), 0);
    cr_assert(cl.cleared == 240 && cl.remaining == 60, "the set-off is unchanged");
    kula_clearing_free(&cl);
    kula_settlement z = { 0 };
    cr_assert_eq(kula_ledger_settlement(net.l, 1, &z), 0);
    cr_assert_eq(z.number, 1);
    cr_assert_eq(z.n, 1);
    cr_assert_eq(memcmp(z.items[0].id.b, c.ab.b, 32), 0);
    cr_assert(z.items[0].debtor == 2 && z.items[0].creditor == 3 && z.items[0].amount == 20);
    kula_settlement_free(&z);
}

static int by_hash(const void *a, const void *b) { return memcmp(a, b, 32); }

/* An open chain, no cycle: A (2) owes B (3) 600, C (4) 600 and D (1) 50,
 * B owes C 200; A opted in, credit limit 1000.  Nothing is set off; A pays
 * in ascending invoice id until its credit runs out (one payment is partial
 * or skipped, whatever the ids); the clearing still gets number 1. */
Test(ledger_clearing, settle_stops_at_the_credit_limit_in_id_order)
{
    open_net(4);
    lu_begin(&net);
    kula_hash ids[3] = { owe(2, 3, 600, true), owe(2, 4, 600, true), owe(2, 1, 50, true) };
    kula_hash bc = owe(3, 4, 200, true);
    settle(2, true);
    lu_end(&net, NULL);
    lu_begin(&net);
    clear_now();
    lu_end(&net, NULL);
    cr_assert_eq(clearings(), 1, "nothing set off, something paid: a number");
    kula_clearing cl;
    cr_assert_eq(kula_ledger_clearing(net.l, 1, &cl), 0);
    cr_assert(cl.cleared == 0 && cl.total_debt == 1450 && cl.nitems == 4);
    kula_clearing_free(&cl);
    cr_assert_eq(invoice(&bc).residual, 200, "B did not opt in");
    qsort(ids, 3, sizeof(ids[0]), by_hash);
    kula_settlement z = { 0 };
    cr_assert_eq(kula_ledger_settlement(net.l, 1, &z), 0);
    int64_t room = 1000;
    uint32_t k = 0;
    for (int i = 0; i < 3; i++) {
        kula_invoice v = invoice(&ids[i]);
        int64_t pay = v.amount < room ? v.amount : room;
        room -= pay;
        cr_assert_eq(v.paid, pay, "invoice %d of %lld: paid %lld, want %lld", i,
                     (long long)v.amount, (long long)v.paid, (long long)pay);
        cr_assert_eq(v.residual, v.amount - pay);
        if (pay == 0)
            continue;
        cr_assert_lt(k, z.n);
        cr_assert_eq(memcmp(z.items[k].id.b, ids[i].b, 32), 0, "payments in id order");
        cr_assert_eq(z.items[k].amount, pay);
        k++;
    }
    cr_assert_eq(k, z.n, "the record lists exactly the payments");
    cr_assert_eq(lu_balance(&net, 2), -1000, "A's credit is used to its limit");
    cr_assert_eq(lu_balance(&net, 3) + lu_balance(&net, 4) + lu_balance(&net, 1), 1000);
    kula_settlement_free(&z);
}

/* A removed issuer is skipped (the next obligation is still paid), and a
 * removed member that had opted in pays nothing. */
Test(ledger_clearing, settle_skips_removed_members)
{
    open_net(4);
    lu_begin(&net);
    kula_hash to_c = owe(2, 4, 100, true), to_b = owe(2, 3, 100, true);
    kula_hash c_owes = owe(4, 3, 70, true);
    settle(2, true);
    settle(4, true);
    lu_end(&net, NULL);
    lu_begin(&net);
    pass_with_votes(&(kula_action){ .kind = KULA_ACT_REMOVE, .member = 4 });
    clear_now();
    lu_end(&net, NULL);
    cr_assert_eq(lu_member(&net, 4).status, KULA_MEMBER_REMOVED);
    cr_assert_eq(invoice(&to_c).residual, 100, "no credit to a removed issuer");
    cr_assert_eq(invoice(&to_b).residual, 0, "the next obligation is still paid");
    cr_assert_eq(invoice(&c_owes).residual, 70, "a removed member pays nothing");
    cr_assert_eq(lu_balance(&net, 2), -100);
    kula_settlement z = { 0 };
    cr_assert_eq(kula_ledger_settlement(net.l, 1, &z), 0);
    cr_assert_eq(z.n, 1);
    kula_settlement_free(&z);
}

/* Ends the block; requires that its writes, which the state root hashes
 * (SPEC §10.2), hold key k.  Returns: the root. */
static kula_hash end_writing(const kula_key *k)
{
    kula_hash r;
    const kula_state_write *w;
    size_t n;
    cr_assert_eq(kula_ledger_end_block(net.l, &r, &w, &n), 0);
    bool found = false;
    for (size_t i = 0; i < n; i++)
        found |= w[i].klen == k->n && memcmp(w[i].key, k->b, k->n) == 0 && w[i].val != NULL;
    cr_assert(found, "the block writes key '%c'...", k->b[0]);
    kula_ledger_finish_block(net.l);
    return r;
}

/* The chain of settle_pays_what_is_left_after_the_set_off.  Out: the root
 * after each block. */
static void settle_run(kula_hash roots[2])
{
    kula_key k;
    open_net(4);
    lu_begin(&net);
    make_cycle();
    settle(2, true);
    kula_key_settles(&k, 2);
    roots[0] = end_writing(&k);
    lu_begin(&net);
    clear_now();
    kula_key_settlement(&k, 1);
    roots[1] = end_writing(&k);
    lu_net_close(&net);
    net.l = NULL;
}

Test(ledger_clearing, settle_is_in_the_state_root_and_replays)
{
    kula_hash a[2], b[2];
    settle_run(a);
    settle_run(b);
    cr_assert_eq(memcmp(a, b, sizeof(a)), 0, "the same chain gives the same roots");
}

Test(ledger_clearing, settlement_record_decoder_checks_everything)
{
    kula_settlement_item it[2];
    memset(it, 0, sizeof(it));
    it[0] = (kula_settlement_item){ .debtor = 2, .creditor = 3, .amount = 20 };
    it[0].id.b[0] = 9;
    it[1] = (kula_settlement_item){ .debtor = 4, .creditor = 2, .amount = 5 };
    it[1].id.b[0] = 1; /* a later debtor may have a lower id */
    kula_settlement s = { .n = 2, .items = it };
    kula_buf b;
    kula_buf_init(&b);
    cr_assert_eq(kula_settlement_encode(&b, &s), 0);
    kula_settlement d = { .number = 7 };
    cr_assert_eq(kula_settlement_decode(&d, b.data, b.len), 0);
    cr_assert(d.number == 7 && d.n == 2 && memcmp(d.items, it, sizeof(it)) == 0);
    kula_settlement_free(&d);
    it[1].debtor = 2;
    kula_buf_reset(&b);
    cr_assert_eq(kula_settlement_encode(&b, &s), 0);
    cr_assert_eq(kula_settlement_decode(&d, b.data, b.len), KULA_ENONCANON,
                 "same debtor: ids must ascend");
    it[1].debtor = 4;
    it[1].creditor = 4;
    kula_buf_reset(&b);
    cr_assert_eq(kula_settlement_encode(&b, &s), 0);
    cr_assert_eq(kula_settlement_decode(&d, b.data, b.len), KULA_ENONCANON, "self-payment");
    it[1].creditor = 2;
    it[1].amount = 0;
    kula_buf_reset(&b);
    cr_assert_eq(kula_settlement_encode(&b, &s), 0);
    cr_assert_neq(kula_settlement_decode(&d, b.data, b.len), 0, "an amount of 0");
    const uint8_t empty[] = { 0x90 }, big[] = { 0xdd, 0x00, 0x0f, 0x00, 0x00 };
    cr_assert_eq(kula_settlement_decode(&d, empty, 1), KULA_ERANGE, "no payment");
    cr_assert_neq(kula_settlement_decode(&d, big, sizeof(big)), 0, "a count past the input");
    cr_assert_null(d.items);
    kula_buf_free(&b);
}
