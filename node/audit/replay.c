/* replay.c -- a ledger replayed from its genesis, reporting what every
 * transaction did (credit moves, fees, shares) for exports and analytics. */
#include "kula/audit/audit.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kula/base/amount.h"
#include "kula/base/error.h"
#include "kula/types/records.h"
#include "kula/types/txkind.h"

struct kula_replay {
    kula_archive *a;
    kula_ledger *l;
    uint64_t height;
    uint64_t time_ms;
    kula_hash tip_hash;
    kula_buf block;
    kula_tx *tx;
    kula_replay_fn pay_fn; /* kula_replay_on_payment */
    void *pay_ctx;
};

int kula_replay_new(kula_replay **out, kula_archive *a)
{
    kula_replay *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return KULA_ENOMEM;
    r->a = a;
    r->time_ms = kula_archive_genesis(a)->time_ms;
    kula_buf_init(&r->block);
    r->tx = malloc(sizeof(*r->tx));
    int rc = r->tx == NULL ? KULA_ENOMEM : kula_ledger_new_genesis(&r->l, kula_archive_genesis(a));
    if (rc != 0) {
        kula_replay_free(r);
        return rc;
    }
    *out = r;
    return KULA_OK;
}

void kula_replay_free(kula_replay *r)
{
    if (r == NULL)
        return;
    kula_ledger_free(r->l);
    kula_buf_free(&r->block);
    free(r->tx);
    free(r);
}

kula_ledger *kula_replay_ledger(kula_replay *r) { return r->l; }

void kula_replay_on_payment(kula_replay *r, kula_replay_fn fn, void *ctx)
{
    r->pay_fn = fn;
    r->pay_ctx = ctx;
}

/* The payments of the settlements of clearings after number `before`,
 * which block h (at time_ms, of ntxs transactions) made, to r->pay_fn; each
 * at index ntxs + its position, as in a member's history (SPEC §9). */
static int report_payments(kula_replay *r, uint64_t before, uint64_t h, uint64_t time_ms,
                           uint32_t ntxs)
{
    uint32_t at = ntxs;
    uint64_t last;
    int rc = kula_ledger_clearings(r->l, &last);
    for (uint64_t n = before + 1; rc == 0 && n <= last; n++) {
        kula_settlement z = { 0 };
        rc = kula_ledger_settlement(r->l, n, &z);
        if (rc == KULA_ENOTFOUND) {
            rc = 0;
            continue;
        }
        for (uint32_t i = 0; rc == 0 && i < z.n; i++) {
            kula_replay_tx t;
            memset(&t, 0, sizeof(t));
            t.height = h;
            t.time_ms = time_ms;
            t.index = at++;
            t.clearing = n;
            t.has_invoice = true;
            t.invoice = z.items[i].id;
            t.invoice_other = z.items[i].creditor;
            t.nmoves = 1;
            t.moves[0] = (kula_credit_move){ .payer = z.items[i].debtor,
                                             .payee = z.items[i].creditor,
                                             .amount = z.items[i].amount };
            rc = r->pay_fn(r->pay_ctx, r->l, &t);
        }
        kula_settlement_free(&z);
    }
    return rc;
}
uint64_t kula_replay_height(const kula_replay *r) { return r->height; }
uint64_t kula_replay_time(const kula_replay *r) { return r->time_ms; }

static void add_move(kula_replay_tx *t, uint32_t payer, uint32_t payee, int64_t amount)
{
    if (amount <= 0 || t->nmoves >= KULA_MAX_PARTIES)
        return;
    t->moves[t->nmoves].payer = payer;
    t->moves[t->nmoves].payee = payee;
    t->moves[t->nmoves].amount = amount;
    t->nmoves++;
}

/* Applies one transaction, describing its effects in t. */
static int replay_tx(kula_ledger *l, const kula_tx *tx, kula_replay_tx *t)
{
    int rc;
    const kula_hash *ag = kula_tx_agreement(tx);
    if (ag != NULL) {
        t->has_agreement = true;
        t->agreement = *ag;
    }
    kula_agreement before;
    kula_member referrer_before;
    referrer_before.balance = 0;
    if (tx->kind == KULA_TX_SETTLE &&
        (rc = kula_ledger_agreement(l, &tx->u.settle.agreement, &before)) != 0)
        return rc;
    if (tx->kind == KULA_TX_CONVERSION) {
        kula_referral ref;
        if ((rc = kula_ledger_referral(l, &tx->u.conversion.referral, &ref)) != 0)
            return rc;
        t->referrer = ref.referrer;
        if (ref.has_agreement) {
            t->has_agreement = true;
            t->agreement = ref.agreement;
        }
        if ((rc = kula_ledger_member(l, ref.referrer, &referrer_before)) != 0)
            return rc;
    }
    const kula_hash *inv = kula_tx_invoice(tx);
    if (inv != NULL) {
        t->has_invoice = true;
        t->invoice = *inv;
        kula_invoice v;
        if (tx->kind == KULA_TX_INVOICE)
            t->invoice_other = tx->u.invoice.debtor;
        else if ((rc = kula_ledger_invoice(l, inv, &v)) != 0)
            return rc;
        else
            t->invoice_other = tx->from == v.issuer ? v.debtor : v.issuer;
    }
    kula_apply_opts opts = { .skip_sigs = true };
    if ((rc = kula_ledger_apply_tx(l, tx, &opts, NULL)) != 0)
        return rc;
    int64_t g, r;
    /* Who pays whom is each kind's meaning (LEDGER.md), not its fields. */
    switch ((enum kula_tx_kind)tx->kind) {
    case KULA_TX_TRANSFER:
        add_move(t, tx->from, tx->u.transfer.to, tx->u.transfer.amount);
        break;
    case KULA_TX_EXCHANGE:
        g = tx->u.exchange.gives_value;
        r = tx->u.exchange.receives_value;
        if (g > r)
            add_move(t, tx->u.exchange.counterparty, tx->from, g - r);
        else if (r > g)
            add_move(t, tx->from, tx->u.exchange.counterparty, r - g);
        break;
    case KULA_TX_CONVERSION: {
        kula_member after;
        if ((rc = kula_ledger_member(l, t->referrer, &after)) != 0)
            return rc;
        kula_amount fee;
        if (!kula_amount_sub(&fee, kula_amount_of(after.balance),
                             kula_amount_of(referrer_before.balance)))
            return KULA_EOVERFLOW;
        t->fee = fee.v;
        add_move(t, tx->from, t->referrer, fee.v);
        break;
    }
    case KULA_TX_BENEFIT:
        add_move(t, tx->from, 0, tx->u.benefit.amount);
        break;
    case KULA_TX_SETTLE: {
        kula_agreement after;
        if ((rc = kula_ledger_agreement(l, &tx->u.settle.agreement, &after)) != 0)
            return rc;
        t->nshares = after.nparties;
        for (uint32_t i = 0; i < after.nparties; i++) {
            kula_amount d;
            if (!kula_amount_sub(&d, kula_amount_of(after.received[i]),
                                 kula_amount_of(before.received[i])))
                return KULA_EOVERFLOW;
            t->share_party[i] = after.parties[i];
            t->shares[i] = d.v;
            add_move(t, 0, after.parties[i], d.v);
        }
        break;
    }
    case KULA_TX_INVOICE_PAY:
        add_move(t, tx->from, t->invoice_other, tx->u.inv.amount);
        break;
    case KULA_TX_INVOICE:
    case KULA_TX_INVOICE_ACCEPT:
    case KULA_TX_INVOICE_DISPUTE:
    case KULA_TX_INVOICE_CANCEL:
    case KULA_TX_CLEARING_SETTLE: /* its payments are at the clearing */
    case KULA_TX_REFERRAL:
    case KULA_TX_AGREEMENT_OPEN:
    case KULA_TX_AGREEMENT_AMEND:
    case KULA_TX_CONTRIBUTE:
    case KULA_TX_AGREEMENT_CLOSE:
    case KULA_TX_FEEDBACK:
    case KULA_TX_PROPOSE:
    case KULA_TX_VOTE:
    case KULA_TX_EVIDENCE:
        break;
    }
    return KULA_OK;
}

static int replay_fail(kula_error *e, int code, int32_t tx, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int replay_fail(kula_error *e, int code, int32_t tx, const char *fmt, ...)
{
    if (e != NULL) {
        e->code = code;
        e->tx_index = tx;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->what, sizeof(e->what), fmt, ap);
        va_end(ap);
    }
    return code;
}

static int replay_block(kula_replay *r, uint64_t h, kula_replay_fn fn, void *ctx,
                        kula_error *e)
{
    kula_buf_reset(&r->block);
    int rc = kula_archive_block(r->a, h, &r->block);
    if (rc != 0)
        return replay_fail(e, rc, -1, "block %llu cannot be read from the store: %s",
                           (unsigned long long)h, kula_strerror(rc));
    kula_block b;
    if ((rc = kula_block_decode(&b, r->block.data, r->block.len)) != 0)
        return replay_fail(e, rc, -1, "block does not decode: %s", kula_strerror(rc));
    const kula_header *hd = &b.header;
    if (memcmp(hd->chain_id.b, kula_archive_genesis(r->a)->chain_id.b, KULA_HASH_LEN) != 0)
        rc = replay_fail(e, KULA_ECHAIN, -1, "block is for another chain");
    else if (hd->height != h)
        rc = replay_fail(e, KULA_EHEIGHT, -1, "height %llu, expected %llu",
                         (unsigned long long)hd->height, (unsigned long long)h);
    else if (memcmp(hd->prev_hash.b, r->tip_hash.b, KULA_HASH_LEN) != 0)
        rc = replay_fail(e, KULA_EPREVHASH, -1, "previous block hash does not match the chain");
    if (rc == 0) {
        kula_hash root;
        kula_txs_root(&root, b.txs, b.tx_lens, b.ntxs);
        if (memcmp(root.b, hd->txs_root.b, KULA_HASH_LEN) != 0)
            rc = replay_fail(e, KULA_ETXROOT, -1, "transactions root does not match");
    }
    uint64_t clearings = 0;
    if (rc == 0 && r->pay_fn != NULL)
        rc = kula_ledger_clearings(r->l, &clearings);
    if (rc == 0)
        rc = kula_ledger_begin_block(r->l, h, hd->time_ms);
    if (rc != 0) {
        kula_block_free(&b);
        return rc;
    }
    for (uint32_t i = 0; i < b.ntxs; i++) {
        kula_replay_tx t;
        memset(&t, 0, sizeof(t));
        rc = kula_tx_decode(r->tx, b.txs[i], b.tx_lens[i]);
        if (rc == 0)
            rc = replay_tx(r->l, r->tx, &t);
        if (rc != 0) {
            replay_fail(e, rc, (int32_t)i, "transaction %u: %s", i, kula_strerror(rc));
            break;
        }
        t.height = h;
        t.time_ms = hd->time_ms;
        t.index = i;
        t.tx = r->tx;
        t.raw = b.txs[i];
        t.raw_len = b.tx_lens[i];
        if (fn != NULL && (rc = fn(ctx, r->l, &t)) != 0)
            break;
    }
    kula_hash root;
    const kula_state_write *w;
    size_t nw;
    if (rc == 0 && (rc = kula_ledger_end_block(r->l, &root, &w, &nw)) != 0)
        replay_fail(e, rc, -1, "%s", kula_strerror(rc));
    if (rc == 0 && memcmp(root.b, hd->state_root.b, KULA_HASH_LEN) != 0)
        rc = replay_fail(e, KULA_ESTATEROOT, -1, "state root does not match the replay");
    if (rc != 0) {
        kula_ledger_abort_block(r->l);
    } else {
        kula_ledger_finish_block(r->l);
        r->height = h;
        r->time_ms = hd->time_ms;
        r->tip_hash = b.hash;
        if (r->pay_fn != NULL)
            rc = report_payments(r, clearings, h, hd->time_ms, b.ntxs);
    }
    kula_block_free(&b);
    return rc;
}

int kula_replay_run(kula_replay *r, uint64_t to, kula_replay_fn fn, void *ctx,
                    kula_error *e, uint64_t *bad_height)
{
    if (e != NULL)
        memset(e, 0, sizeof(*e));
    if (bad_height != NULL)
        *bad_height = 0;
    if (to > kula_archive_tip(r->a))
        to = kula_archive_tip(r->a);
    for (uint64_t h = r->height + 1; h <= to; h++) {
        int rc = replay_block(r, h, fn, ctx, e);
        if (rc != 0) {
            if (bad_height != NULL)
                *bad_height = h;
            return rc;
        }
    }
    return KULA_OK;
}

const char *kula_replay_tx_kind(const kula_replay_tx *t)
{
    return t->tx != NULL ? kula_tx_kind_name(t->tx->kind) : "clearing-settlement";
}

const char *kula_replay_tx_id(const kula_replay_tx *t, char hex[2 * KULA_HASH_LEN + 1])
{
    hex[0] = '\0';
    if (t->tx != NULL)
        kula_hex_encode(hex, t->tx->id.b, KULA_HASH_LEN);
    return hex;
}
