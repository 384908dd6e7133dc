/* rules_agreement.c -- agreements (proto/LEDGER.md §5): their rules of
 * distribution, open, amend, contribute, benefit, settle, close.
 *
 * Direction: called by rules_tx.c (its table) and rules_trade.c; calls
 * distribution.c, rules_check.c, lrecords.c and the layers below, never
 * ledger.c (rules.h). */
#include <stdlib.h>
#include <string.h>

#include "kula/base/amount.h"
#include "kula/base/error.h"
#include "kula/ledger/distribution.h"
#include "rules.h"

/* §5.1: a rule must fit the agreement's parties. */
static int check_rule(const kula_rule *r, uint32_t nparties)
{
    switch ((enum kula_rule_kind)r->kind) {
    case KULA_RULE_EQUAL:
    case KULA_RULE_PRORATA:
        return KULA_OK;
    case KULA_RULE_WEIGHTS: {
        if (r->nweights != nparties)
            return KULA_ERULE;
        uint64_t sum = 0;
        for (uint32_t i = 0; i < nparties; i++)
            sum += r->weights[i];
        return sum > 0 ? KULA_OK : KULA_ERULE;
    }
    case KULA_RULE_SHAPLEY: {
        if (nparties > KULA_MAX_PARTIES || r->nvalues != (1u << nparties))
            return KULA_ERULE;
        int64_t *v = malloc(r->nvalues * sizeof(*v));
        if (v == NULL)
            return KULA_ENOMEM;
        int rc = kula_rule_shapley_values(r, v);
        if (rc == 0)
            rc = kula_shapley_validate(v, nparties);
        free(v);
        return rc == 0 ? KULA_OK : (rc == KULA_ENOMEM ? rc : KULA_ERULE);
    }
    }
    return KULA_ERULE;
}

static int term_ok(uint64_t term_end, uint64_t height)
{
    return term_end == 0 || term_end >= height ? KULA_OK : KULA_ETERM;
}

int rule_open_agreement(lrecords *rec, const kula_hash *id, kula_agreement *a)
{
    int rc = lrec_agreement(rec, id, a);
    if (rc != 0)
        return rc;
    return a->status == KULA_AGREEMENT_OPEN ? KULA_OK : KULA_ECLOSED;
}

static int encode_rule(kula_buf *out, const kula_rule *r)
{
    kula_buf_reset(out);
    return kula_rule_encode(out, r);
}

/* §5.1: the split of a pool by the agreement's rule (kula/ledger/ledger.h). */
int kula_ledger_distribution(const kula_agreement *a, int64_t pool, int64_t *shares)
{
    uint64_t w[KULA_MAX_PARTIES];
    switch ((enum kula_rule_kind)a->rule.kind) {
    case KULA_RULE_EQUAL:
        return kula_distribute_equal(shares, a->parties, a->nparties, pool);
    case KULA_RULE_WEIGHTS:
        if (a->rule.nweights != a->nparties)
            return KULA_ERULE;
        for (uint32_t i = 0; i < a->nparties; i++)
            w[i] = a->rule.weights[i];
        return kula_distribute_weighted(shares, a->parties, w, a->nparties, pool);
    case KULA_RULE_PRORATA:
        for (uint32_t i = 0; i < a->nparties; i++)
            w[i] = (uint64_t)a->contributed[i];
        return kula_distribute_weighted(shares, a->parties, w, a->nparties, pool);
    case KULA_RULE_SHAPLEY: {
        if (a->rule.nvalues != (1u << a->nparties))
            return KULA_ERULE;
        int64_t *v = malloc(a->rule.nvalues * sizeof(*v));
        if (v == NULL)
            return KULA_ENOMEM;
        int rc = kula_rule_shapley_values(&a->rule, v);
        if (rc == 0)
            rc = kula_distribute_shapley(shares, a->parties, v, a->nparties, pool);
        free(v);
        return rc == KULA_EINVAL ? KULA_ERULE : rc;
    }
    }
    return KULA_ERULE;
}

/* §5.2: every party signs an opening; the initiator must be one of them. */
int signers_open(lrecords *rec, const kula_tx *tx, uint32_t *ids, uint32_t *n)
{
    bool from_is_party = false;
    (void)rec;
    *n = 0;
    for (uint32_t i = 0; i < tx->u.open.nparties; i++) {
        if (tx->u.open.parties[i] == tx->from)
            from_is_party = true;
        int rc = rule_add_signer(ids, n, tx->u.open.parties[i]);
        if (rc != 0)
            return rc == KULA_ESELF ? KULA_EORDER : rc;
    }
    return from_is_party ? KULA_OK : KULA_ENOTPARTY;
}

/* §5.3, §5.7: every party signs an amendment or a closing; the initiator
 * must be one of them. */
int signers_agreement(lrecords *rec, const kula_tx *tx, uint32_t *ids, uint32_t *n)
{
    kula_agreement a;
    const kula_hash *id = tx->kind == KULA_TX_AGREEMENT_AMEND ? &tx->u.amend.agreement
                                                              : &tx->u.settle.agreement;
    int rc = lrec_agreement(rec, id, &a);
    if (rc != 0)
        return rc;
    if (kula_agreement_party(&a, tx->from) < 0)
        return KULA_ENOTPARTY;
    *n = a.nparties;
    memcpy(ids, a.parties, a.nparties * sizeof(*ids));
    return KULA_OK;
}

/* §5.4: an acknowledging party signs a contribution too. */
int signers_contribute(lrecords *rec, const kula_tx *tx, uint32_t *ids, uint32_t *n)
{
    (void)rec;
    return rule_add_signer(ids, n, tx->u.contribute.acknowledger);
}

/* §5.2: an agreement among 2 to 16 active parties, each of whom signs. */
int rule_open(const rule_ctx *ctx, const kula_tx *tx)
{
    uint32_t n = tx->u.open.nparties;
    int rc;
    if (n < 2)
        return KULA_ENOTPARTY;
    if (!rule_text_ok(tx->u.open.label, false, false) ||
        !rule_text_ok(tx->u.open.title, false, false))
        return KULA_ETEXT;
    for (uint32_t i = 0; i < n; i++) {
        kula_member m;
        if (i > 0 && tx->u.open.parties[i] <= tx->u.open.parties[i - 1])
            return KULA_EORDER;
        if ((rc = rule_active_member(ctx->rec, tx->u.open.parties[i], &m)) != 0)
            return rc;
    }
    if ((rc = check_rule(&tx->u.open.rule, n)) != 0)
        return rc;
    if ((rc = term_ok(tx->u.open.term_end, ctx->height)) != 0)
        return rc;
    kula_agreement a;
    memset(&a, 0, sizeof(a));
    a.id = tx->id;
    memcpy(a.label, tx->u.open.label.p, tx->u.open.label.n);
    memcpy(a.title, tx->u.open.title.p, tx->u.open.title.n);
    a.nparties = n;
    memcpy(a.parties, tx->u.open.parties, n * sizeof(a.parties[0]));
    kula_buf raw;
    kula_buf_init(&raw);
    if ((rc = encode_rule(&raw, &tx->u.open.rule)) == 0) {
        a.rule = tx->u.open.rule;
        a.rule_raw = raw.data;
        a.rule_raw_len = raw.len;
        a.term_end = tx->u.open.term_end;
        a.referral_fee_bps = tx->u.open.referral_fee_bps;
        a.status = KULA_AGREEMENT_OPEN;
        a.opened = ctx->height;
        rc = lrec_save_agreement(ctx->rec, &a);
    }
    kula_buf_free(&raw);
    for (uint32_t i = 0; rc == 0 && i < n; i++)
        rule_add_party(ctx->fx, a.parties[i]);
    return rc;
}

/* §5.3: new title, rule, term and referral terms; the same parties. */
int rule_amend(const rule_ctx *ctx, const kula_tx *tx)
{
    kula_agreement a;
    int rc = rule_open_agreement(ctx->rec, &tx->u.amend.agreement, &a);
    if (rc != 0)
        return rc;
    if (!rule_text_ok(tx->u.amend.title, false, false))
        return KULA_ETEXT;
    if ((rc = check_rule(&tx->u.amend.rule, a.nparties)) != 0)
        return rc;
    if ((rc = term_ok(tx->u.amend.term_end, ctx->height)) != 0)
        return rc;
    memset(a.title, 0, sizeof(a.title));
    memcpy(a.title, tx->u.amend.title.p, tx->u.amend.title.n);
    kula_buf raw;
    kula_buf_init(&raw);
    if ((rc = encode_rule(&raw, &tx->u.amend.rule)) == 0) {
        a.rule = tx->u.amend.rule;
        a.rule_raw = raw.data;
        a.rule_raw_len = raw.len;
        a.term_end = tx->u.amend.term_end;
        a.referral_fee_bps = tx->u.amend.referral_fee_bps;
        rc = lrec_save_agreement(ctx->rec, &a);
    }
    kula_buf_free(&raw);
    for (uint32_t i = 0; rc == 0 && i < a.nparties; i++)
        rule_add_party(ctx->fx, a.parties[i]);
    return rc;
}

/* §5.4: a contribution, acknowledged by another party; no credit moves. */
int rule_contribute(const rule_ctx *ctx, const kula_tx *tx)
{
    kula_agreement a;
    int rc = rule_open_agreement(ctx->rec, &tx->u.contribute.agreement, &a);
    if (rc != 0)
        return rc;
    int who = kula_agreement_party(&a, tx->from);
    uint32_t ack = tx->u.contribute.acknowledger;
    if (who < 0 || kula_agreement_party(&a, ack) < 0)
        return KULA_ENOTPARTY;
    if (ack == tx->from)
        return KULA_ESELF;
    if ((rc = term_ok(a.term_end, ctx->height)) != 0)
        return rc;
    if (tx->u.contribute.value <= 0)
        return KULA_EAMOUNT;
    if (!rule_text_ok(tx->u.contribute.description, true, true))
        return KULA_ETEXT;
    kula_amount sum;
    if (!kula_amount_add(&sum, kula_amount_of(a.contributed[who]),
                         kula_amount_of(tx->u.contribute.value)))
        return KULA_EOVERFLOW;
    a.contributed[who] = sum.v;
    rule_add_party(ctx->fx, ack);
    return lrec_save_agreement(ctx->rec, &a);
}

/* §5.5: `amount` from `from` into the agreement's pool under §3.2. */
int rule_benefit(const rule_ctx *ctx, const kula_tx *tx)
{
    kula_agreement a;
    int rc = rule_open_agreement(ctx->rec, &tx->u.benefit.agreement, &a);
    if (rc != 0)
        return rc;
    int64_t amount = tx->u.benefit.amount;
    if (amount <= 0)
        return KULA_EAMOUNT;
    if (!rule_text_ok(tx->u.benefit.description, true, true))
        return KULA_ETEXT;
    kula_member payer;
    kula_globals g;
    if ((rc = lrec_member(ctx->rec, tx->from, &payer)) != 0 ||
        (rc = lrec_globals(ctx->rec, &g)) != 0)
        return rc;
    kula_amount nb, pool, benefits, total;
    if (!kula_amount_sub(&nb, kula_amount_of(payer.balance), kula_amount_of(amount)) ||
        nb.v < -payer.credit_limit)
        return KULA_ECREDIT;
    if (!kula_amount_add(&pool, kula_amount_of(a.pool), kula_amount_of(amount)) ||
        !kula_amount_add(&benefits, kula_amount_of(a.benefits), kula_amount_of(amount)) ||
        !kula_amount_add(&total, kula_amount_of(g.pools_total), kula_amount_of(amount)))
        return KULA_EOVERFLOW;
    payer.balance = nb.v;
    a.pool = pool.v;
    a.benefits = benefits.v;
    g.pools_total = total.v;
    if ((rc = lrec_save_member(ctx->rec, &payer)) != 0 ||
        (rc = lrec_save_globals(ctx->rec, &g)) != 0)
        return rc;
    return lrec_save_agreement(ctx->rec, &a);
}

/* §5.6: the pool is paid out to the parties by the rule (§5.1). */
int rule_settle(const rule_ctx *ctx, const kula_tx *tx)
{
    kula_agreement a;
    int rc = rule_open_agreement(ctx->rec, &tx->u.settle.agreement, &a);
    if (rc != 0)
        return rc;
    if (kula_agreement_party(&a, tx->from) < 0)
        return KULA_ENOTPARTY;
    if (a.pool == 0)
        return KULA_EEMPTYPOOL;
    int64_t shares[KULA_MAX_PARTIES];
    if ((rc = kula_ledger_distribution(&a, a.pool, shares)) != 0)
        return rc;
    for (uint32_t i = 0; i < a.nparties; i++) {
        if (shares[i] == 0)
            continue;
        kula_member m;
        kula_amount nb, got;
        if ((rc = lrec_member(ctx->rec, a.parties[i], &m)) != 0)
            return rc;
        if (!kula_amount_add(&nb, kula_amount_of(m.balance), kula_amount_of(shares[i])) ||
            !kula_amount_add(&got, kula_amount_of(a.received[i]), kula_amount_of(shares[i])))
            return KULA_EOVERFLOW;
        m.balance = nb.v;
        a.received[i] = got.v;
        if ((rc = lrec_save_member(ctx->rec, &m)) != 0)
            return rc;
        rule_add_party(ctx->fx, m.id);
    }
    kula_globals g;
    if ((rc = lrec_globals(ctx->rec, &g)) != 0)
        return rc;
    g.pools_total -= a.pool; /* cannot underflow: it includes this pool */
    a.pool = 0;
    a.settlements++;
    if ((rc = lrec_save_globals(ctx->rec, &g)) != 0)
        return rc;
    return lrec_save_agreement(ctx->rec, &a);
}

/* §5.7: only an empty pool closes; a closed agreement takes nothing more. */
int rule_close(const rule_ctx *ctx, const kula_tx *tx)
{
    kula_agreement a;
    int rc = rule_open_agreement(ctx->rec, &tx->u.settle.agreement, &a);
    if (rc != 0)
        return rc;
    /* Closing with credit still in the pool would strand it. */
    if (a.pool != 0)
        return KULA_EPOOL;
    a.status = KULA_AGREEMENT_CLOSED;
    for (uint32_t i = 0; i < a.nparties; i++)
        rule_add_party(ctx->fx, a.parties[i]);
    return lrec_save_agreement(ctx->rec, &a);
}
