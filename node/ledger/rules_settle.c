/* rules_settle.c -- settlement of the remainder at a clearing
 * (proto/LEDGER.md §9.6): a member opts in or out (kind 20), and at every
 * clearing, after the set-off, what an opted-in member still owes on the
 * obligations the clearing took is paid from its credit, within its limit.
 *
 * Direction: called by rules_tx.c (its table) and rules_clearing.c (at a
 * clearing); calls rules_credit.c, rules_check.c, lrecords.c and the layers
 * below, never ledger.c (rules.h). */
#include <stdlib.h>
#include <string.h>

#include "kula/base/error.h"
#include "rules.h"

/* §9.6: opting in when in (ESETTLES) or out when out (ENOTSETTLES) is
 * refused; in writes "S" || be32(from) = [height], out deletes it. */
int rule_clearing_settle(const rule_ctx *ctx, const kula_tx *tx)
{
    uint64_t since;
    int rc = lrec_settles(ctx->rec, tx->from, &since);
    if (rc != 0)
        return rc;
    bool on = tx->u.csettle.on;
    if (on && since != 0)
        return KULA_ESETTLES;
    if (!on && since == 0)
        return KULA_ENOTSETTLES;
    return lrec_set_settles(ctx->rec, tx->from, on ? ctx->height : 0);
}

typedef struct id_list {
    uint32_t *v;
    size_t n, cap;
} id_list;

static int push_id(id_list *l, uint32_t id)
{
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 64;
        uint32_t *nv = realloc(l->v, ncap * sizeof(*nv));
        if (nv == NULL)
            return KULA_ENOMEM;
        l->v = nv;
        l->cap = ncap;
    }
    l->v[l->n++] = id;
    return KULA_OK;
}

/* Keeps the member of an "S" record. */
static int collect_member(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val,
                          size_t vlen)
{
    (void)val;
    (void)vlen;
    if (klen != 5)
        return KULA_ESTORE;
    uint32_t id = (uint32_t)key[1] << 24 | (uint32_t)key[2] << 16 | (uint32_t)key[3] << 8 | key[4];
    return push_id(ctx, id);
}

static int by_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* An obligation still owed after the set-off: its index in the clearing's
 * list (ascending id, so index order is id order) and its debtor. */
typedef struct owed {
    uint32_t debtor;
    uint32_t i;
} owed;

/* §9.6 order: ascending debtor, then ascending invoice id. */
static int by_debtor_id(const void *a, const void *b)
{
    const owed *x = a, *y = b;
    if (x->debtor != y->debtor)
        return (x->debtor > y->debtor) - (x->debtor < y->debtor);
    return (x->i > y->i) - (x->i < y->i);
}

/* The most debtor can pay of `residual` to creditor now: within its credit
 * limit (§3.2) and without overflowing the creditor's balance. */
static int64_t payable(const kula_member *debtor, const kula_member *creditor, int64_t residual)
{
    __int128 most = (__int128)debtor->balance + debtor->credit_limit;
    __int128 room = (__int128)INT64_MAX - creditor->balance;
    if (room < most)
        most = room;
    return most < residual ? (int64_t)(most > 0 ? most : 0) : residual;
}

/* §9.6: pays what the invoice of o still owes, within the debtor's credit,
 * as an invoice pay of that amount would; a skipped payment adds nothing.
 * Out: s->items[s->n++] when it paid. */
static int pay_one(const rule_ctx *ctx, const kula_obligation *o, int64_t residual,
                   kula_settlement *s)
{
    kula_member debtor, creditor;
    int rc = lrec_member(ctx->rec, o->debtor, &debtor);
    if (rc == 0)
        rc = lrec_member(ctx->rec, o->creditor, &creditor);
    if (rc != 0)
        return rc;
    if (debtor.status != KULA_MEMBER_ACTIVE || creditor.status != KULA_MEMBER_ACTIVE)
        return KULA_OK;
    int64_t amount = payable(&debtor, &creditor, residual);
    if (amount <= 0)
        return KULA_OK;
    if ((rc = rule_move_credit(ctx->rec, o->debtor, o->creditor, amount)) != 0)
        return rc;
    kula_invoice v;
    if ((rc = lrec_invoice(ctx->rec, &o->id, &v)) != 0)
        return rc;
    v.residual -= amount; /* amount <= residual, which is v.residual */
    v.paid += amount;
    v.status = v.residual == 0 ? KULA_INVOICE_PAID : KULA_INVOICE_ACCEPTED;
    v.changed = ctx->height;
    if ((rc = lrec_save_invoice(ctx->rec, &v)) != 0)
        return rc;
    /* A pair that has counted 2^64 - 1 exchanges keeps that count: a
     * clearing never fails over a counter. */
    rc = rule_count_exchange(ctx->rec, o->debtor, o->creditor);
    if (rc != 0 && rc != KULA_EOVERFLOW)
        return rc;
    s->items[s->n++] = (kula_settlement_item){ o->id, o->debtor, o->creditor, amount };
    return KULA_OK;
}

int rule_settle_remainder(const rule_ctx *ctx, const kula_obligation *obs, const int64_t *setoff,
                          size_t n, kula_settlement *s)
{
    id_list in = { 0 };
    owed *list = NULL;
    size_t nl = 0;
    s->n = 0;
    s->items = NULL;
    int rc = lrec_scan_settles(ctx->rec, collect_member, &in);
    if (rc == 0 && in.n > 0 && n > 0) {
        qsort(in.v, in.n, sizeof(*in.v), by_u32);
        list = malloc(n * sizeof(*list));
        rc = list == NULL ? KULA_ENOMEM : 0;
    }
    for (size_t i = 0; rc == 0 && list != NULL && i < n; i++)
        if (obs[i].amount > setoff[i] &&
            bsearch(&obs[i].debtor, in.v, in.n, sizeof(*in.v), by_u32) != NULL)
            list[nl++] = (owed){ obs[i].debtor, (uint32_t)i };
    if (rc == 0 && nl > 0) {
        qsort(list, nl, sizeof(*list), by_debtor_id);
        s->items = malloc(nl * sizeof(*s->items));
        rc = s->items == NULL ? KULA_ENOMEM : 0;
    }
    for (size_t k = 0; rc == 0 && k < nl; k++) {
        const kula_obligation *o = &obs[list[k].i];
        rc = pay_one(ctx, o, o->amount - setoff[list[k].i], s);
    }
    free(list);
    free(in.v);
    if (rc != 0)
        kula_settlement_free(s);
    return rc;
}
