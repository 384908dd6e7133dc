/* rules_governance.c -- governance and feedback (proto/LEDGER.md §6):
 * proposals, votes and their decision, ratings of trading partners.
 *
 * Direction: called by rules_tx.c (its table); calls rules_action.c (the
 * actions), rules_check.c, lrecords.c and the layers below, never ledger.c
 * (rules.h). */
#include <string.h>

#include "kula/base/error.h"
#include "kula/types/txkind.h"
#include "rules.h"

/* §6.2: decide a proposal once its outcome is certain. */
static int evaluate(const rule_ctx *ctx, kula_proposal *q)
{
    kula_globals g;
    kula_params p;
    int rc;
    if ((rc = lrec_globals(ctx->rec, &g)) != 0 || (rc = lrec_params(ctx->rec, &p)) != 0)
        return rc;
    uint64_t active = g.active_members;
    uint64_t voted = (uint64_t)q->yes + q->no;
    uint64_t open = active > voted ? active - voted : 0;
    if ((uint64_t)q->yes * p.threshold_den > active * p.threshold_num) {
        q->status = KULA_PROPOSAL_PASSED;
        q->decided = ctx->height;
        /* The action is checked again: the state may have moved on since
         * the proposal.  If it no longer holds, the proposal fails and the
         * vote still counts. */
        rc = rule_action(ctx, &q->action, false);
        if (rc == 0)
            rc = rule_action(ctx, &q->action, true);
        if (rc == KULA_ENOMEM || rc == KULA_ESTORE)
            return rc;
        if (rc != 0) {
            q->status = KULA_PROPOSAL_FAILED;
            q->failure = rc;
        }
    } else if (((uint64_t)q->yes + open) * p.threshold_den <= active * p.threshold_num) {
        q->status = KULA_PROPOSAL_REJECTED;
        q->decided = ctx->height;
    }
    return lrec_save_proposal(ctx->rec, q);
}

/* §6.1: a proposal, checked as if executed now, with the proposer's yes. */
int rule_propose(const rule_ctx *ctx, const kula_tx *tx)
{
    const kula_action *act = &tx->u.propose.action;
    int rc = rule_action(ctx, act, false);
    if (rc != 0)
        return rc;
    kula_params p;
    if ((rc = lrec_params(ctx->rec, &p)) != 0)
        return rc;
    kula_proposal q;
    memset(&q, 0, sizeof(q));
    kula_buf raw;
    kula_buf_init(&raw);
    if ((rc = kula_action_encode(&raw, act)) != 0) {
        kula_buf_free(&raw);
        return rc;
    }
    q.id = tx->id;
    q.proposer = tx->from;
    q.action = *act;
    q.action_raw = raw.data;
    q.action_raw_len = raw.len;
    q.created = ctx->height;
    q.expires = q.created + p.proposal_ttl;
    q.yes = 1; /* proposing is voting yes */
    q.status = KULA_PROPOSAL_OPEN;
    rc = lrec_save_vote(ctx->rec, &q.id, tx->from, true);
    if (rc == 0)
        rc = evaluate(ctx, &q);
    kula_buf_free(&raw);
    const kula_kind_desc *d = kula_action_kind_desc(act->kind);
    for (uint32_t i = 0; rc == 0 && d != NULL && i < d->nfields; i++)
        if (d->fields[i].role == KULA_ROLE_OTHER) /* the member the action names */
            rule_add_party(ctx->fx, act->member);
    return rc;
}

/* §6.3: one vote per member on an open proposal before its expiry. */
int rule_vote(const rule_ctx *ctx, const kula_tx *tx)
{
    kula_proposal q;
    int rc = lrec_proposal(ctx->rec, &tx->u.vote.proposal, &q);
    if (rc != 0)
        return rc;
    if (q.status != KULA_PROPOSAL_OPEN)
        return KULA_EDECIDED;
    if (ctx->height > q.expires)
        return KULA_EEXPIRED;
    bool has;
    if ((rc = lrec_has_vote(ctx->rec, &q.id, tx->from, &has)) != 0)
        return rc;
    if (has)
        return KULA_EVOTED;
    if (tx->u.vote.approve)
        q.yes++;
    else
        q.no++;
    if ((rc = lrec_save_vote(ctx->rec, &q.id, tx->from, tx->u.vote.approve)) != 0)
        return rc;
    /* q.action borrows the record; evaluate() writes other records first
     * and this one last, so the borrowed bytes stay valid throughout. */
    return evaluate(ctx, &q);
}

/* §6.5: each completed exchange of the pair allows each of them one
 * rating of the other. */
int rule_feedback(const rule_ctx *ctx, const kula_tx *tx)
{
    uint32_t about = tx->u.feedback.about;
    int rc;
    if (about == tx->from)
        return KULA_ESELF;
    if (tx->u.feedback.rating < 1 || tx->u.feedback.rating > 5)
        return KULA_ERATING;
    if (!rule_text_ok(tx->u.feedback.comment, true, true))
        return KULA_ETEXT;
    kula_member m;
    if ((rc = lrec_member(ctx->rec, about, &m)) != 0)
        return rc;
    kula_pair x;
    if ((rc = lrec_pair(ctx->rec, tx->from, about, &x)) != 0)
        return rc;
    uint64_t *given = tx->from < about ? &x.feedback_ab : &x.feedback_ba;
    if (*given >= x.exchanges)
        return KULA_ENOEXCHANGE;
    (*given)++;
    if ((rc = lrec_save_pair(ctx->rec, tx->from, about, &x)) != 0)
        return rc;
    if (m.rating_count == UINT64_MAX || m.rating_sum > UINT64_MAX - 5)
        return KULA_EOVERFLOW;
    m.rating_sum += tx->u.feedback.rating;
    m.rating_count++;
    rule_add_party(ctx->fx, about);
    return lrec_save_member(ctx->rec, &m);
}
