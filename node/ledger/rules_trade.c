/* rules_trade.c -- transfers, barter and referrals (proto/LEDGER.md §4).
 *
 * Direction: called by rules_tx.c (its table); calls rules_agreement.c (an
 * agreement's referral terms), rules_credit.c, rules_check.c, lrecords.c
 * and the layers below, never ledger.c (rules.h). */
#include <string.h>

#include "kula/base/error.h"
#include "rules.h"

/* §4.2: the counterparty signs a barter too. */
int signers_exchange(lrecords *rec, const kula_tx *tx, uint32_t *ids, uint32_t *n)
{
    (void)rec;
    return rule_add_signer(ids, n, tx->u.exchange.counterparty);
}

/* §4.1: `amount` moves from `from` to an active `to` under §3.2. */
int rule_transfer(const rule_ctx *ctx, const kula_tx *tx)
{
    kula_member to;
    int rc;
    if (tx->u.transfer.to == tx->from)
        return KULA_ESELF;
    if ((rc = rule_active_member(ctx->rec, tx->u.transfer.to, &to)) != 0)
        return rc;
    if ((rc = rule_move_credit(ctx->rec, tx->from, to.id, tx->u.transfer.amount)) != 0)
        return rc;
    rule_add_party(ctx->fx, to.id);
    return rule_count_exchange(ctx->rec, tx->from, to.id);
}

/* §4.2: a barter; the side that delivered more is paid the difference. */
int rule_exchange(const rule_ctx *ctx, const kula_tx *tx)
{
    uint32_t cp = tx->u.exchange.counterparty;
    int64_t gives = tx->u.exchange.gives_value, receives = tx->u.exchange.receives_value;
    kula_member other;
    int rc;
    if (cp == tx->from)
        return KULA_ESELF;
    if ((rc = rule_active_member(ctx->rec, cp, &other)) != 0)
        return rc;
    if (gives < 0 || receives < 0 || (gives == 0 && receives == 0))
        return KULA_EAMOUNT;
    if (!rule_text_ok(tx->u.exchange.gives, gives == 0, true) ||
        !rule_text_ok(tx->u.exchange.receives, receives == 0, true))
        return KULA_ETEXT;
    /* The side that delivered more value is owed the difference. */
    if (gives > receives)
        rc = rule_move_credit(ctx->rec, cp, tx->from, gives - receives);
    else if (receives > gives)
        rc = rule_move_credit(ctx->rec, tx->from, cp, receives - gives);
    if (rc != 0)
        return rc;
    rule_add_party(ctx->fx, cp);
    return rule_count_exchange(ctx->rec, tx->from, cp);
}

/* §4.3: a referral, its fee stated or an open agreement's. */
int rule_referral(const rule_ctx *ctx, const kula_tx *tx)
{
    kula_member recv;
    int rc;
    uint32_t to = tx->u.referral.receiver;
    if (to == tx->from)
        return KULA_ESELF;
    if ((rc = rule_active_member(ctx->rec, to, &recv)) != 0)
        return rc;
    /* Exactly one source for the fee: stated here, or an agreement's terms. */
    if (tx->u.referral.has_agreement) {
        if (tx->u.referral.fee != 0)
            return KULA_EAMOUNT;
        kula_agreement a;
        if ((rc = rule_open_agreement(ctx->rec, &tx->u.referral.agreement, &a)) != 0)
            return rc;
        if (kula_agreement_party(&a, tx->from) < 0 || kula_agreement_party(&a, to) < 0)
            return KULA_ENOTPARTY;
        if (a.referral_fee_bps == 0)
            return KULA_ERULE;
    } else if (tx->u.referral.fee <= 0) {
        return KULA_EAMOUNT;
    }
    kula_referral r;
    memset(&r, 0, sizeof(r));
    r.id = tx->id;
    r.referrer = tx->from;
    r.receiver = to;
    r.lead = tx->u.referral.lead;
    r.fee = tx->u.referral.fee;
    r.has_agreement = tx->u.referral.has_agreement;
    r.agreement = tx->u.referral.agreement;
    r.height = ctx->height;
    rule_add_party(ctx->fx, to);
    return lrec_save_referral(ctx->rec, &r);
}

/* §4.4: the receiver confirms a referral converted and pays its fee. */
int rule_conversion(const rule_ctx *ctx, const kula_tx *tx)
{
    kula_referral r;
    int rc = lrec_referral(ctx->rec, &tx->u.conversion.referral, &r);
    if (rc != 0)
        return rc;
    /* Only the business that received the lead can confirm it converted. */
    if (r.receiver != tx->from)
        return KULA_ESIGNERS;
    int64_t value = tx->u.conversion.value;
    if (value <= 0)
        return KULA_EAMOUNT;
    int64_t fee = r.fee;
    if (r.has_agreement) {
        kula_agreement a;
        if ((rc = rule_open_agreement(ctx->rec, &r.agreement, &a)) != 0)
            return rc;
        /* floor(value * bps / 10000), exact in 128 bits */
        __extension__ unsigned __int128 f = (unsigned __int128)(uint64_t)value * a.referral_fee_bps;
        fee = (int64_t)(f / KULA_BPS_DENOM);
    }
    kula_member referrer;
    if ((rc = rule_active_member(ctx->rec, r.referrer, &referrer)) != 0)
        return rc;
    if (fee > 0 && (rc = rule_move_credit(ctx->rec, tx->from, r.referrer, fee)) != 0)
        return rc;
    if ((rc = lrec_delete_referral(ctx->rec, &r.id)) != 0)
        return rc;
    rule_add_party(ctx->fx, r.referrer);
    return rule_count_exchange(ctx->rec, tx->from, r.referrer);
}
