/* test_invoice.c -- invoices on the ledger (proto/LEDGER.md §8): issue,
 * accept, dispute, cancel and pay, every refusal, the record's encoding,
 * and a block thrown away taking its invoices with it.
 *
 * Every refused transaction goes through lu_reject(), which also checks
 * that the block's diff is byte for byte what it was before. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "ledgerutil.h"

static lu_net net;

static void setup(void) { cr_assert_eq(kula_crypto_init(), 0); }
static void teardown(void)
{
    if (net.l != NULL)
        lu_net_close(&net);
}

TestSuite(invoice, .init = setup, .fini = teardown);

/* n members with credit limit 1000, member 1 the only validator. */
static void open_net(uint32_t n)
{
    kula_genesis g;
    lu_genesis(&g, n, 1000, NULL);
    lu_net_open(&net, &g);
}

#define SIGN(tx, ...) lu_sealsign(&net, (tx), LU_SIGNERS(__VA_ARGS__))

static void f_invoice(kula_tx *tx, uint32_t issuer, uint32_t debtor, int64_t amount,
                      const char *ref)
{
    lu_tx(&net, tx, KULA_TX_INVOICE, issuer);
    tx->u.invoice.debtor = debtor;
    tx->u.invoice.amount = amount;
    tx->u.invoice.due = UINT64_C(1767225600000); /* 2026-01-01 */
    tx->u.invoice.reference = lu_text(ref);
}

/* accept, dispute, cancel or pay (amount) of invoice id, from `from` */
static void f_inv(kula_tx *tx, uint8_t kind, uint32_t from, const kula_hash *id, int64_t amount)
{
    lu_tx(&net, tx, kind, from);
    tx->u.inv.invoice = *id;
    tx->u.inv.amount = kind == KULA_TX_INVOICE_PAY ? amount : 0;
    tx->u.inv.reason = lu_text(kind == KULA_TX_INVOICE_DISPUTE ? "not delivered" : "");
}

static kula_invoice invoice(const kula_hash *id)
{
    kula_invoice v;
    int rc = kula_ledger_invoice(net.l, id, &v);
    cr_assert_eq(rc, 0, "invoice: %s", kula_errname(rc));
    return v;
}

/* Issues an invoice of issuer to debtor and returns its id. */
static kula_hash issue(uint32_t issuer, uint32_t debtor, int64_t amount)
{
    kula_tx tx;
    f_invoice(&tx, issuer, debtor, amount, "2026-117");
    lu_ok(&net, SIGN(&tx, issuer));
    return tx.id;
}

static void ok(uint8_t kind, uint32_t from, const kula_hash *id, int64_t amount)
{
    kula_tx tx;
    f_inv(&tx, kind, from, id, amount);
    lu_ok(&net, SIGN(&tx, from));
}

static void refused(uint8_t kind, uint32_t from, const kula_hash *id, int64_t amount, int want,
                    const char *where)
{
    kula_tx tx;
    f_inv(&tx, kind, from, id, amount);
    lu_reject_l(net.l, SIGN(&tx, from), NULL, want, where);
}

Test(invoice, issue_records_what_is_owed)
{
    open_net(3);
    lu_begin(&net);
    kula_tx tx;
    f_invoice(&tx, 1, 2, 1250, "2026-117");
    tx.u.invoice.has_document = true;
    kula_hash_bytes(&tx.u.invoice.document, "invoice.pdf", 11);
    SIGN(&tx, 1);
    kula_tx_effects fx;
    cr_assert_eq(kula_ledger_apply_tx(net.l, &tx, NULL, &fx), 0);
    cr_assert_eq(fx.nparties, 2);
    cr_assert_eq(fx.parties[1], 2, "the debtor is touched");
    kula_invoice v = invoice(&tx.id);
    cr_assert_eq(v.issuer, 1);
    cr_assert_eq(v.debtor, 2);
    cr_assert_eq(v.amount, 1250);
    cr_assert_eq(v.residual, 1250);
    cr_assert_eq(v.paid, 0);
    cr_assert_eq(v.status, KULA_INVOICE_ISSUED);
    cr_assert_eq(v.due, UINT64_C(1767225600000));
    cr_assert_str_eq(v.reference, "2026-117");
    cr_assert(v.has_document);
    cr_assert_eq(memcmp(v.document.b, tx.u.invoice.document.b, 32), 0);
    cr_assert_eq(v.issued, 1);
    cr_assert_eq(lu_balance(&net, 1), 0, "issuing moves no credit");
    cr_assert_eq(lu_balance(&net, 2), 0);
    lu_end(&net, NULL);
}

Test(invoice, issue_refusals)
{
    open_net(3);
    lu_begin(&net);
    kula_tx tx;
    f_invoice(&tx, 1, 1, 100, "self");
    lu_reject(&net, SIGN(&tx, 1), KULA_ESELF);
    f_invoice(&tx, 1, 9, 100, "nobody");
    lu_reject(&net, SIGN(&tx, 1), KULA_EUNKNOWNMEMBER);
    f_invoice(&tx, 1, 2, 0, "zero");
    lu_reject(&net, SIGN(&tx, 1), KULA_EAMOUNT);
    f_invoice(&tx, 1, 2, -5, "negative");
    lu_reject(&net, SIGN(&tx, 1), KULA_EAMOUNT);
    f_invoice(&tx, 1, 2, 100, "");
    lu_reject(&net, SIGN(&tx, 1), KULA_ETEXT);
    f_invoice(&tx, 1, 2, 100, "two\nlines");
    lu_reject(&net, SIGN(&tx, 1), KULA_ETEXT);
    /* the debtor does not sign an invoice */
    f_invoice(&tx, 1, 2, 100, "2026-1");
    lu_reject(&net, SIGN(&tx, 1, 2), KULA_ESIGNERS);
    lu_end(&net, NULL);
}

Test(invoice, accept_then_pay_in_parts)
{
    open_net(3);
    lu_begin(&net);
    kula_hash id = issue(1, 2, 1000);
    ok(KULA_TX_INVOICE_ACCEPT, 2, &id, 0);
    cr_assert_eq(invoice(&id).status, KULA_INVOICE_ACCEPTED);
    refused(KULA_TX_INVOICE_ACCEPT, 2, &id, 0, KULA_EACCEPTED, "accepted twice");
    refused(KULA_TX_INVOICE_DISPUTE, 2, &id, 0, KULA_EACCEPTED, "disputed once accepted");
    ok(KULA_TX_INVOICE_PAY, 2, &id, 300);
    kula_invoice v = invoice(&id);
    cr_assert_eq(v.residual, 700);
    cr_assert_eq(v.paid, 300);
    cr_assert_eq(v.status, KULA_INVOICE_ACCEPTED);
    cr_assert_eq(lu_balance(&net, 2), -300);
    cr_assert_eq(lu_balance(&net, 1), 300);
    refused(KULA_TX_INVOICE_PAY, 2, &id, 701, KULA_EOVERPAY, "more than it owes");
    refused(KULA_TX_INVOICE_PAY, 2, &id, 0, KULA_EAMOUNT, "zero");
    refused(KULA_TX_INVOICE_PAY, 2, &id, -1, KULA_EAMOUNT, "negative");
    refused(KULA_TX_INVOICE_PAY, 3, &id, 100, KULA_ENOTDEBTOR, "a third member pays");
    refused(KULA_TX_INVOICE_PAY, 1, &id, 100, KULA_ENOTDEBTOR, "the issuer pays");
    refused(KULA_TX_INVOICE_CANCEL, 1, &id, 0, KULA_EPARTPAID, "cancel after a payment");
    ok(KULA_TX_INVOICE_PAY, 2, &id, 700);
    v = invoice(&id);
    cr_assert_eq(v.residual, 0);
    cr_assert_eq(v.paid, 1000);
    cr_assert_eq(v.status, KULA_INVOICE_PAID);
    cr_assert_eq(lu_balance(&net, 2), -1000);
    refused(KULA_TX_INVOICE_PAY, 2, &id, 1, KULA_EINVOICECLOSED, "pay a paid invoice");
    refused(KULA_TX_INVOICE_ACCEPT, 2, &id, 0, KULA_EINVOICECLOSED, "accept a paid invoice");
    refused(KULA_TX_INVOICE_CANCEL, 1, &id, 0, KULA_EINVOICECLOSED, "cancel a paid invoice");
    kula_pair x;
    cr_assert_eq(kula_ledger_pair(net.l, 1, 2, &x), 0);
    cr_assert_eq(x.exchanges, 2, "each payment is a completed exchange");
    lu_end(&net, NULL);
}

Test(invoice, paying_an_issued_invoice_accepts_it)
{
    open_net(3);
    lu_begin(&net);
    kula_hash id = issue(1, 2, 500);
    ok(KULA_TX_INVOICE_PAY, 2, &id, 200);
    cr_assert_eq(invoice(&id).status, KULA_INVOICE_ACCEPTED);
    lu_end(&net, NULL);
}

Test(invoice, payment_under_the_credit_limit)
{
    open_net(3);
    lu_begin(&net);
    kula_hash id = issue(1, 2, 1500);
    ok(KULA_TX_INVOICE_ACCEPT, 2, &id, 0);
    refused(KULA_TX_INVOICE_PAY, 2, &id, 1001, KULA_ECREDIT, "past the credit limit of 1000");
    ok(KULA_TX_INVOICE_PAY, 2, &id, 1000);
    cr_assert_eq(invoice(&id).residual, 500);
    lu_end(&net, NULL);
}

Test(invoice, dispute_then_accept_or_cancel)
{
    open_net(3);
    lu_begin(&net);
    kula_hash a = issue(1, 2, 400), b = issue(1, 2, 600);
    refused(KULA_TX_INVOICE_DISPUTE, 1, &a, 0, KULA_ENOTDEBTOR, "the issuer disputes");
    refused(KULA_TX_INVOICE_ACCEPT, 3, &a, 0, KULA_ENOTDEBTOR, "a third member accepts");
    kula_tx tx;
    f_inv(&tx, KULA_TX_INVOICE_DISPUTE, 2, &a, 0);
    tx.u.inv.reason = lu_text("");
    lu_reject(&net, SIGN(&tx, 2), KULA_ETEXT);
    f_inv(&tx, KULA_TX_INVOICE_DISPUTE, 2, &a, 0);
    tx.u.inv.reason = lu_text("bell\x07");
    lu_reject(&net, SIGN(&tx, 2), KULA_ETEXT);
    ok(KULA_TX_INVOICE_DISPUTE, 2, &a, 0);
    kula_invoice v = invoice(&a);
    cr_assert_eq(v.status, KULA_INVOICE_DISPUTED);
    cr_assert_str_eq(v.reason, "not delivered");
    refused(KULA_TX_INVOICE_DISPUTE, 2, &a, 0, KULA_EDISPUTED, "disputed twice");
    refused(KULA_TX_INVOICE_PAY, 2, &a, 100, KULA_EDISPUTED, "pay a disputed invoice");
    /* the parties agree after all: the debtor accepts, the reason goes */
    ok(KULA_TX_INVOICE_ACCEPT, 2, &a, 0);
    v = invoice(&a);
    cr_assert_eq(v.status, KULA_INVOICE_ACCEPTED);
    cr_assert_str_eq(v.reason, "");
    /* the other is withdrawn by its issuer, only by its issuer */
    ok(KULA_TX_INVOICE_DISPUTE, 2, &b, 0);
    refused(KULA_TX_INVOICE_CANCEL, 2, &b, 0, KULA_ENOTISSUER, "the debtor cancels");
    refused(KULA_TX_INVOICE_CANCEL, 3, &b, 0, KULA_ENOTISSUER, "a third member cancels");
    ok(KULA_TX_INVOICE_CANCEL, 1, &b, 0);
    v = invoice(&b);
    cr_assert_eq(v.status, KULA_INVOICE_CANCELLED);
    cr_assert_eq(v.residual, 0, "a cancelled invoice owes nothing");
    refused(KULA_TX_INVOICE_PAY, 2, &b, 100, KULA_EINVOICECLOSED, "pay a cancelled invoice");
    refused(KULA_TX_INVOICE_ACCEPT, 2, &b, 0, KULA_EINVOICECLOSED, "accept a cancelled one");
    refused(KULA_TX_INVOICE_DISPUTE, 2, &b, 0, KULA_EINVOICECLOSED, "dispute a cancelled one");
    refused(KULA_TX_INVOICE_CANCEL, 1, &b, 0, KULA_EINVOICECLOSED, "cancelled twice");
    cr_assert_eq(lu_balance(&net, 1), 0);
    lu_end(&net, NULL);
}

Test(invoice, unknown_invoice_and_removed_issuer)
{
    open_net(3);
    lu_begin(&net);
    kula_hash none;
    kula_hash_bytes(&none, "no such invoice", 15);
    refused(KULA_TX_INVOICE_ACCEPT, 2, &none, 0, KULA_EUNKNOWNINVOICE, "accept");
    refused(KULA_TX_INVOICE_DISPUTE, 2, &none, 0, KULA_EUNKNOWNINVOICE, "dispute");
    refused(KULA_TX_INVOICE_CANCEL, 1, &none, 0, KULA_EUNKNOWNINVOICE, "cancel");
    refused(KULA_TX_INVOICE_PAY, 2, &none, 5, KULA_EUNKNOWNINVOICE, "pay");
    /* a payment to an issuer governance removed is refused, as a transfer is */
    kula_hash id = issue(3, 2, 100);
    kula_tx tx;
    lu_tx(&net, &tx, KULA_TX_PROPOSE, 1);
    tx.u.propose.action.kind = KULA_ACT_REMOVE;
    tx.u.propose.action.member = 3;
    lu_ok(&net, SIGN(&tx, 1));
    kula_hash prop = tx.id;
    for (uint32_t voter = 2; voter <= 3; voter++) {
        lu_tx(&net, &tx, KULA_TX_VOTE, voter);
        tx.u.vote.proposal = prop;
        tx.u.vote.approve = true;
        lu_ok(&net, SIGN(&tx, voter));
    }
    cr_assert_eq(lu_member(&net, 3).status, KULA_MEMBER_REMOVED);
    refused(KULA_TX_INVOICE_PAY, 2, &id, 50, KULA_EINACTIVE, "pay a removed issuer");
    lu_end(&net, NULL);
}

/* The record's bytes (SPEC §10.1) come back the same, and a record that
 * claims more paid and owed than billed is refused. */
Test(invoice, record_encoding)
{
    kula_invoice v, w;
    memset(&v, 0, sizeof(v));
    v.issuer = 1;
    v.debtor = 2;
    v.amount = 1000;
    v.due = 5;
    strcpy(v.reference, "2026-117");
    v.status = KULA_INVOICE_ACCEPTED;
    v.residual = 600;
    v.paid = 400;
    v.issued = 3;
    v.changed = 4;
    kula_buf b;
    kula_buf_init(&b);
    cr_assert_eq(kula_invoice_encode(&b, &v), 0);
    memset(&w, 0, sizeof(w));
    cr_assert_eq(kula_invoice_decode(&w, b.data, b.len), 0);
    cr_assert_eq(w.residual, 600);
    cr_assert_eq(w.paid, 400);
    cr_assert_str_eq(w.reference, "2026-117");
    cr_assert_not(w.has_document);
    v.paid = 401;
    kula_buf_reset(&b);
    cr_assert_eq(kula_invoice_encode(&b, &v), 0);
    cr_assert_eq(kula_invoice_decode(&w, b.data, b.len), KULA_ERANGE);
    v.paid = 400;
    v.status = 6;
    kula_buf_reset(&b);
    cr_assert_eq(kula_invoice_encode(&b, &v), 0);
    cr_assert_eq(kula_invoice_decode(&w, b.data, b.len), KULA_ERANGE);
    kula_buf_free(&b);
    cr_assert_str_eq(kula_invoice_status_name(KULA_INVOICE_DISPUTED), "disputed");
    cr_assert_null(kula_invoice_status_name(0));
}

/* A block thrown away (a round that did not decide it) takes its invoices
 * and payments with it; the state root is the one before. */
Test(invoice, aborted_block_undoes_everything)
{
    open_net(3);
    lu_begin(&net);
    kula_hash id = issue(1, 2, 800);
    lu_end(&net, NULL);
    kula_hash before = *kula_ledger_state_root(net.l);
    lu_begin(&net);
    ok(KULA_TX_INVOICE_PAY, 2, &id, 300);
    kula_hash other = issue(2, 3, 50);
    cr_assert_eq(invoice(&id).residual, 500);
    kula_ledger_abort_block(net.l);
    net.time_ms -= 1000;
    kula_invoice v;
    cr_assert_eq(kula_ledger_invoice(net.l, &other, &v), KULA_EUNKNOWNINVOICE);
    v = invoice(&id);
    cr_assert_eq(v.residual, 800);
    cr_assert_eq(v.status, KULA_INVOICE_ISSUED);
    cr_assert_eq(lu_balance(&net, 2), 0);
    cr_assert_eq(memcmp(kula_ledger_state_root(net.l)->b, before.b, 32), 0);
    /* and the invoice is in the state root: the same block with and
     * without an invoice reach different roots */
    kula_hash with;
    lu_begin(&net);
    ok(KULA_TX_INVOICE_ACCEPT, 2, &id, 0);
    lu_end(&net, &with);
    cr_assert_neq(memcmp(with.b, before.b, 32), 0);
}
