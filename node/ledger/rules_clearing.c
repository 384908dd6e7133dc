/* rules_clearing.c -- the clearing the ledger runs at the end of a block
 * (proto/LEDGER.md §9): every accepted, unpaid obligation, ascending by id,
 * cleared by the solver of SPEC §14 (clearing.c); each invoice's residual
 * reduced by its set-off; the clearing recorded under its number.
 *
 * Direction: called by ledger.c (kula_ledger_end_block) and rules_action.c
 * (the clear action asks for it); calls clearing.c, lrecords.c and the
 * layers below, never ledger.c (rules.h). */
#include <stdlib.h>
#include <string.h>

#include "kula/base/error.h"
#include "kula/ledger/clearing.h"
#include "rules.h"

typedef struct open_list {
    kula_obligation *obs;
    size_t n, cap;
} open_list;

/* Keeps an invoice that is an obligation now: accepted, residual > 0. */
static int collect(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    open_list *ol = ctx;
    kula_invoice v;
    if (klen != 1 + KULA_HASH_LEN)
        return KULA_ESTORE;
    memcpy(v.id.b, key + 1, KULA_HASH_LEN);
    if (kula_invoice_decode(&v, val, vlen) != 0)
        return KULA_ESTORE;
    if (v.status != KULA_INVOICE_ACCEPTED || v.residual <= 0)
        return 0;
    if (ol->n == ol->cap) {
        size_t ncap = ol->cap ? ol->cap * 2 : 256;
        kula_obligation *no = realloc(ol->obs, ncap * sizeof(*no));
        if (no == NULL)
            return KULA_ENOMEM;
        ol->obs = no;
        ol->cap = ncap;
    }
    ol->obs[ol->n++] = (kula_obligation){ v.id, v.debtor, v.issuer, v.residual };
    return 0;
}

static int by_id(const void *a, const void *b)
{
    return memcmp(((const kula_obligation *)a)->id.b, ((const kula_obligation *)b)->id.b,
                  KULA_HASH_LEN);
}

/* §9.2: each set-off reduces its invoice's residual; nothing owed: paid. */
static int apply_setoffs(const rule_ctx *ctx, const kula_clearing *c)
{
    for (uint32_t i = 0; i < c->nitems; i++) {
        const kula_clearing_item *it = &c->items[i];
        if (it->setoff == 0)
            continue;
        kula_invoice v;
        int rc = lrec_invoice(ctx->rec, &it->id, &v);
        if (rc != 0)
            return rc;
        v.residual -= it->setoff; /* setoff <= residual (SPEC §14) */
        v.status = v.residual == 0 ? KULA_INVOICE_PAID : KULA_INVOICE_ACCEPTED;
        v.changed = ctx->height;
        if ((rc = lrec_save_invoice(ctx->rec, &v)) != 0)
            return rc;
    }
    return KULA_OK;
}

/* §9.2: clears obs[0..n-1] (ascending by id) as clearing number `number`.
 * Writes nothing when nothing can be set off. */
static int clear(const rule_ctx *ctx, const kula_obligation *obs, size_t n, uint64_t number)
{
    kula_clearing c = { .number = number, .height = ctx->height };
    kula_clearing_totals t;
    int64_t *setoff = malloc((n ? n : 1) * sizeof(*setoff));
    c.items = malloc((n ? n : 1) * sizeof(*c.items));
    int rc = setoff == NULL || c.items == NULL ? KULA_ENOMEM : 0;
    if (rc == 0)
        rc = kula_clearing_solve(setoff, &t, NULL, obs, n);
    if (rc == 0 && t.cleared > 0) {
        c.nitems = (uint32_t)n;
        for (size_t i = 0; i < n; i++)
            c.items[i] = (kula_clearing_item){ obs[i].id, obs[i].debtor, obs[i].creditor,
                                               obs[i].amount, setoff[i] };
        c.total_debt = t.total_debt;
        c.cleared = t.cleared;
        c.remaining = t.remaining;
        rc = apply_setoffs(ctx, &c);
        if (rc == 0)
            rc = lrec_save_clearing(ctx->rec, &c);
    }
    free(setoff);
    free(c.items);
    return rc;
}

int rule_end_block(const rule_ctx *ctx)
{
    kula_params p;
    bool asked;
    int rc;
    if ((rc = lrec_params(ctx->rec, &p)) != 0 || (rc = lrec_clear_asked(ctx->rec, &asked)) != 0)
        return rc;
    if (asked && (rc = lrec_set_clear_asked(ctx->rec, false)) != 0)
        return rc;
    /* §9.1: asked for in this block, or a multiple of the interval */
    if (!asked && (p.clearing_interval == 0 || ctx->height % p.clearing_interval != 0))
        return KULA_OK;
    uint64_t last;
    if ((rc = lrec_clearings(ctx->rec, &last)) != 0)
        return rc;
    open_list ol = { 0 };
    rc = lrec_scan_invoices(ctx->rec, collect, &ol);
    if (rc == 0) {
        if (ol.n > 1)
            qsort(ol.obs, ol.n, sizeof(*ol.obs), by_id);
        /* §9.1: the lowest ids, when there are more than one clearing takes */
        size_t n = ol.n < KULA_CLEARING_MAX_OBLIGATIONS ? ol.n : KULA_CLEARING_MAX_OBLIGATIONS;
        rc = clear(ctx, ol.obs, n, last + 1);
    }
    free(ol.obs);
    return rc;
}
