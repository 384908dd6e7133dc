/* rules_invoice.c -- invoices: issue, accept, dispute, cancel and pay
 * (proto/LEDGER.md §8).
 *
 * Direction: called by rules_tx.c (its table); calls rules_credit.c,
 * rules_check.c, lrecords.c and the layers below, never ledger.c
 * (rules.h). */
#include <string.h>

#include "kula/base/error.h"
#include "rules.h"

/* §8.1: the issuer (from) bills an active debtor; the invoice is owed in
 * full until paid, set off or cancelled. */
int rule_invoice(const rule_ctx *ctx, const kula_tx *tx)
{
    uint32_t debtor = tx->u.invoice.debtor;
    kula_member m;
    int rc;
    if (debtor == tx->from)
        return KULA_ESELF;
    if ((rc = rule_active_member(ctx->rec, debtor, &m)) != 0)
        return rc;
    if (tx->u.invoice.amount <= 0)
        return KULA_EAMOUNT;
    /* A reference is a name: shown on one line, never empty (and, as the
     * decoder has it, of at most KULA_MAX_INVOICE_REF bytes). */
    if (!rule_text_ok(tx->u.invoice.reference, false, false) ||
        tx->u.invoice.reference.n > KULA_MAX_INVOICE_REF)
        return KULA_ETEXT;
    kula_invoice v;
    memset(&v, 0, sizeof(v));
    v.id = tx->id;
    v.issuer = tx->from;
    v.debtor = debtor;
    v.amount = tx->u.invoice.amount;
    v.due = tx->u.invoice.due;
    memcpy(v.reference, tx->u.invoice.reference.p, tx->u.invoice.reference.n);
    v.has_document = tx->u.invoice.has_document;
    v.document = tx->u.invoice.document;
    v.status = KULA_INVOICE_ISSUED;
    v.residual = v.amount;
    v.issued = v.changed = ctx->height;
    rule_add_party(ctx->fx, debtor);
    return lrec_save_invoice(ctx->rec, &v);
}

/* The invoice a tx names, which its from must be the debtor of (debtor) or
 * the issuer of; paid and cancelled invoices are final.
 * Returns: 0, EUNKNOWNINVOICE, ENOTDEBTOR, ENOTISSUER, EINVOICECLOSED. */
static int open_invoice(const rule_ctx *ctx, const kula_tx *tx, bool debtor, kula_invoice *v)
{
    int rc = lrec_invoice(ctx->rec, &tx->u.inv.invoice, v);
    if (rc != 0)
        return rc;
    if (debtor ? v->debtor != tx->from : v->issuer != tx->from)
        return debtor ? KULA_ENOTDEBTOR : KULA_ENOTISSUER;
    if (v->status == KULA_INVOICE_PAID || v->status == KULA_INVOICE_CANCELLED)
        return KULA_EINVOICECLOSED;
    rule_add_party(ctx->fx, debtor ? v->issuer : v->debtor);
    return KULA_OK;
}

/* §8.2, §8.3: the debtor's answer: it accepts an issued or disputed
 * invoice, which is then an obligation that clearing may set off; or it
 * disputes an issued one, saying why. */
int rule_invoice_answer(const rule_ctx *ctx, const kula_tx *tx)
{
    bool dispute = tx->kind == KULA_TX_INVOICE_DISPUTE;
    size_t n = dispute ? tx->u.inv.reason.n : 0;
    kula_invoice v;
    int rc = open_invoice(ctx, tx, true, &v);
    if (rc != 0)
        return rc;
    if (v.status == KULA_INVOICE_ACCEPTED)
        return KULA_EACCEPTED;
    if (dispute && v.status == KULA_INVOICE_DISPUTED)
        return KULA_EDISPUTED;
    if (dispute && (!rule_text_ok(tx->u.inv.reason, false, true) || n > KULA_MAX_DESC))
        return KULA_ETEXT;
    v.status = dispute ? KULA_INVOICE_DISPUTED : KULA_INVOICE_ACCEPTED;
    if (n > 0)
        memcpy(v.reason, tx->u.inv.reason.p, n);
    v.reason[n] = '\0';
    v.changed = ctx->height;
    return lrec_save_invoice(ctx->rec, &v);
}

/* §8.4: the issuer withdraws an invoice of which nothing is paid or set
 * off; nothing is owed any more. */
int rule_invoice_cancel(const rule_ctx *ctx, const kula_tx *tx)
{
    kula_invoice v;
    int rc = open_invoice(ctx, tx, false, &v);
    if (rc != 0)
        return rc;
    if (v.residual != v.amount)
        return KULA_EPARTPAID;
    v.status = KULA_INVOICE_CANCELLED;
    v.residual = 0;
    v.changed = ctx->height;
    return lrec_save_invoice(ctx->rec, &v);
}

/* §8.5: the debtor pays part or all of what an undisputed invoice still
 * owes; paying an issued invoice accepts it. */
int rule_invoice_pay(const rule_ctx *ctx, const kula_tx *tx)
{
    kula_invoice v;
    int64_t amount = tx->u.inv.amount;
    int rc = open_invoice(ctx, tx, true, &v);
    if (rc != 0)
        return rc;
    if (v.status == KULA_INVOICE_DISPUTED)
        return KULA_EDISPUTED;
    if (amount <= 0)
        return KULA_EAMOUNT;
    if (amount > v.residual)
        return KULA_EOVERPAY;
    kula_member issuer;
    if ((rc = rule_active_member(ctx->rec, v.issuer, &issuer)) != 0)
        return rc;
    if ((rc = rule_move_credit(ctx->rec, tx->from, v.issuer, amount)) != 0)
        return rc;
    /* amount <= residual <= amount - paid: neither can overflow */
    v.residual -= amount;
    v.paid += amount;
    v.status = v.residual == 0 ? KULA_INVOICE_PAID : KULA_INVOICE_ACCEPTED;
    v.changed = ctx->height;
    if ((rc = lrec_save_invoice(ctx->rec, &v)) != 0)
        return rc;
    return rule_count_exchange(ctx->rec, tx->from, v.issuer);
}
