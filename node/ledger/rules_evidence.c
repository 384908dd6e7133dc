/* rules_evidence.c -- evidence of a validator's equivocation
 * (proto/LEDGER.md §7.5).
 *
 * Direction: called by rules_tx.c (its table); calls rules_check.c,
 * lrecords.c and the layers below, never ledger.c (rules.h). */
#include <string.h>

#include "kula/base/error.h"
#include "kula/crypto/crypto.h"
#include "rules.h"

/* §7.5: two signed votes of one validator for one (type, height, round)
 * and different blocks prove that it equivocated; the offence is recorded
 * once.  Nothing else changes: what to do about it is for the members to
 * decide (a remove proposal, a lower voting power). */
int rule_evidence(const rule_ctx *ctx, const kula_tx *tx)
{
    const kula_vote *a = &tx->u.evidence.a, *b = &tx->u.evidence.b;
    int rc;
    if (a->validator != b->validator || a->type != b->type || a->height != b->height ||
        a->round != b->round)
        return KULA_EEVIDENCE;
    /* Different blocks: two hashes, or a hash and nil. */
    if (a->has_block == b->has_block &&
        (!a->has_block || memcmp(a->block_hash.b, b->block_hash.b, KULA_HASH_LEN) == 0))
        return KULA_EEVIDENCE;
    /* A vote above the height being decided cannot have counted for
     * anything yet; the block's own height can (an earlier round). */
    if (a->height > ctx->height)
        return KULA_EHEIGHT;
    kula_member accused;
    if ((rc = lrec_member(ctx->rec, a->validator, &accused)) != 0)
        return rc;
    kula_evidence e;
    rc = lrec_evidence(ctx->rec, a->validator, a->height, a->round, a->type, &e);
    if (rc == 0)
        return KULA_EEXIST;
    if (rc != KULA_ENOTFOUND)
        return rc;
    /* Two BIP-340 verifications against the accused's current key, like
     * the transaction's own signatures skipped on a verified replay. */
    if (ctx->opts == NULL || !ctx->opts->skip_sigs) {
        kula_hash da, db;
        kula_vote_sighash(&da, ctx->chain_id, a);
        kula_vote_sighash(&db, ctx->chain_id, b);
        if (!kula_verify(&accused.pubkey, da.b, &a->sig) ||
            !kula_verify(&accused.pubkey, db.b, &b->sig))
            return KULA_EBADSIG;
    }
    e.validator = a->validator;
    e.height = a->height;
    e.round = a->round;
    e.type = a->type;
    e.reporter = tx->from;
    e.recorded = ctx->height;
    rule_add_party(ctx->fx, accused.id);
    return lrec_save_evidence(ctx->rec, &e);
}
