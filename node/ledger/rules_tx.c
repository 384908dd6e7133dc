/* rules_tx.c -- what every transaction must pass (proto/LEDGER.md §2), and
 * the one table from a transaction's kind to its signers and its rule.
 *
 * Direction: called by ledger.c; calls the rules of each kind (rules_*.c),
 * lrecords.c and the layers below, never ledger.c (rules.h). */
#include <string.h>

#include "kula/base/error.h"
#include "kula/crypto/crypto.h"
#include "rules.h"

/* One row per kind, at its index: who signs besides `from` (NULL: nobody;
 * SPEC §6.1) and the kind's own rule (§3-§7). */
static const struct rule_row {
    enum kula_tx_kind kind;
    rule_signers_fn *signers;
    rule_fn *apply;
} RULES[KULA_TX_KIND_MAX + 1] = {
    [KULA_TX_TRANSFER] = { KULA_TX_TRANSFER, NULL, rule_transfer },
    [KULA_TX_EXCHANGE] = { KULA_TX_EXCHANGE, signers_exchange, rule_exchange },
    [KULA_TX_REFERRAL] = { KULA_TX_REFERRAL, NULL, rule_referral },
    [KULA_TX_CONVERSION] = { KULA_TX_CONVERSION, NULL, rule_conversion },
    [KULA_TX_AGREEMENT_OPEN] = { KULA_TX_AGREEMENT_OPEN, signers_open, rule_open },
    [KULA_TX_AGREEMENT_AMEND] = { KULA_TX_AGREEMENT_AMEND, signers_agreement, rule_amend },
    [KULA_TX_CONTRIBUTE] = { KULA_TX_CONTRIBUTE, signers_contribute, rule_contribute },
    [KULA_TX_BENEFIT] = { KULA_TX_BENEFIT, NULL, rule_benefit },
    [KULA_TX_SETTLE] = { KULA_TX_SETTLE, NULL, rule_settle },
    [KULA_TX_AGREEMENT_CLOSE] = { KULA_TX_AGREEMENT_CLOSE, signers_agreement, rule_close },
    [KULA_TX_FEEDBACK] = { KULA_TX_FEEDBACK, NULL, rule_feedback },
    [KULA_TX_PROPOSE] = { KULA_TX_PROPOSE, NULL, rule_propose },
    [KULA_TX_VOTE] = { KULA_TX_VOTE, NULL, rule_vote },
    [KULA_TX_EVIDENCE] = { KULA_TX_EVIDENCE, NULL, rule_evidence },
    [KULA_TX_INVOICE] = { KULA_TX_INVOICE, NULL, rule_invoice },
    [KULA_TX_INVOICE_ACCEPT] = { KULA_TX_INVOICE_ACCEPT, NULL, rule_invoice_answer },
    [KULA_TX_INVOICE_DISPUTE] = { KULA_TX_INVOICE_DISPUTE, NULL, rule_invoice_answer },
    [KULA_TX_INVOICE_CANCEL] = { KULA_TX_INVOICE_CANCEL, NULL, rule_invoice_cancel },
    [KULA_TX_INVOICE_PAY] = { KULA_TX_INVOICE_PAY, NULL, rule_invoice_pay },
    [KULA_TX_CLEARING_SETTLE] = { KULA_TX_CLEARING_SETTLE, NULL, rule_clearing_settle },
};

/* Returns: the row of kind, or NULL for no such kind. */
static const struct rule_row *row_of(unsigned kind)
{
    if (kind > KULA_TX_KIND_MAX || RULES[kind].apply == NULL || RULES[kind].kind != kind)
        return NULL;
    return &RULES[kind];
}

int rule_signers(lrecords *rec, const kula_tx *tx, uint32_t *ids, uint32_t *n)
{
    *n = 0;
    int rc = rule_add_signer(ids, n, tx->from);
    if (rc != 0)
        return rc;
    const struct rule_row *row = row_of(tx->kind);
    if (row == NULL)
        return KULA_EINVAL;
    return row->signers != NULL ? row->signers(rec, tx, ids, n) : KULA_OK;
}

/* §2.3: the signatures must be exactly those of the required signers, each
 * valid under the signer's current key, and every signer must be an active
 * member. */
static int check_signatures(const rule_ctx *ctx, const kula_tx *tx)
{
    const kula_apply_opts *opts = ctx->opts;
    uint32_t ids[KULA_MAX_PARTIES];
    uint32_t n;
    int rc = rule_signers(ctx->rec, tx, ids, &n);
    if (rc != 0)
        return rc;
    if (n != tx->nsigs)
        return KULA_ESIGNERS;
    kula_hash digest;
    bool have_digest = false;
    for (uint32_t i = 0; i < n; i++) {
        if (tx->sigs[i].signer != ids[i])
            return KULA_ESIGNERS;
        kula_member m;
        if ((rc = lrec_member(ctx->rec, ids[i], &m)) != 0)
            return rc;
        if (m.status != KULA_MEMBER_ACTIVE)
            return KULA_EINACTIVE;
        if (opts != NULL && opts->skip_sigs)
            continue;
        if (opts != NULL && opts->verified != NULL &&
            memcmp(opts->verified[i].b, m.pubkey.b, KULA_PUBKEY_LEN) == 0)
            continue;
        if (!have_digest) {
            kula_tx_sighash(&digest, ctx->chain_id, tx);
            have_digest = true;
        }
        kula_sigcache *sc = opts != NULL ? opts->sigcache : NULL;
        if (sc != NULL && kula_sigcache_has(sc, &m.pubkey, digest.b, &tx->sigs[i].sig))
            continue;
        if (!kula_verify(&m.pubkey, digest.b, &tx->sigs[i].sig))
            return KULA_EBADSIG;
        if (sc != NULL)
            kula_sigcache_add(sc, &m.pubkey, digest.b, &tx->sigs[i].sig);
    }
    return KULA_OK;
}

/* §2.2: the block's time is the ledger's only clock; a dated transaction
 * commits in no block after its expiry.  A sequenced transaction takes the
 * member's next nonce, so it commits once and in the member's order; an
 * unsequenced one (nonce 0) must be dated and commits once because its id
 * is recorded. */
static int check_sequence(const rule_ctx *ctx, const kula_tx *tx, const kula_member *from)
{
    if (tx->expires != 0 && ctx->time > tx->expires)
        return KULA_ETXEXPIRED;
    if (tx->nonce != 0)
        return from->nonce == UINT64_MAX || tx->nonce != from->nonce + 1 ? KULA_ENONCE : KULA_OK;
    if (tx->expires == 0)
        return KULA_ENONCE;
    uint64_t at;
    int rc = lrec_done(ctx->rec, &tx->id, &at);
    if (rc == 0)
        return KULA_EREPLAYED;
    return rc == KULA_ENOTFOUND ? KULA_OK : rc;
}

/* §2.2: on success the nonce is spent, or the unsequenced tx recorded. */
static int record_sequence(const rule_ctx *ctx, const kula_tx *tx)
{
    if (tx->nonce == 0)
        return lrec_save_done(ctx->rec, &tx->id, ctx->height);
    /* The rule may have changed the member (its balance): reload. */
    kula_member from;
    int rc = lrec_member(ctx->rec, tx->from, &from);
    if (rc != 0)
        return rc;
    from.nonce = tx->nonce;
    return lrec_save_member(ctx->rec, &from);
}

int rule_apply_tx(const rule_ctx *ctx, const kula_tx *tx)
{
    /* §2.1: the initiator is an active member. */
    kula_member from;
    int rc = rule_active_member(ctx->rec, tx->from, &from);
    if (rc == 0)
        rc = check_sequence(ctx, tx, &from);
    if (rc == 0)
        rc = check_signatures(ctx, tx);
    if (rc != 0)
        return rc;
    ctx->fx->nparties = 1;
    ctx->fx->parties[0] = tx->from;
    /* §2.4 */
    if (!rule_text_ok(tx->memo, true, true))
        return KULA_ETEXT;
    /* §2.5: the kind's own rule; check_signatures found its row. */
    if ((rc = row_of(tx->kind)->apply(ctx, tx)) != 0)
        return rc;
    return record_sequence(ctx, tx);
}
