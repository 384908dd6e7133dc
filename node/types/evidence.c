/* evidence.c -- building evidence transactions (proto/SPEC.md §6.18). */
#include "kula/types/evidence.h"

#include <string.h>

#include "kula/base/error.h"

/* Two votes of one validator, type, height and round for different blocks:
 * what the ledger accepts as evidence (proto/LEDGER.md §7.5). */
static bool conflicting(const kula_vote *a, const kula_vote *b)
{
    if (a->validator != b->validator || a->type != b->type || a->height != b->height ||
        a->round != b->round)
        return false;
    if (a->has_block != b->has_block)
        return true;
    return a->has_block && memcmp(a->block_hash.b, b->block_hash.b, KULA_HASH_LEN) != 0;
}

int kula_evidence_tx_unsigned(kula_tx *tx, kula_buf *body, uint32_t reporter, uint64_t nonce,
                              const kula_vote *a, const kula_vote *b)
{
    if (!conflicting(a, b))
        return KULA_EEVIDENCE;
    int order = kula_vote_cmp(a, b);
    if (order == 0) /* equal encodings conflict with nothing: out of memory */
        return KULA_ENOMEM;
    memset(tx, 0, sizeof(*tx));
    tx->kind = KULA_TX_EVIDENCE;
    tx->from = reporter;
    tx->nonce = nonce;
    tx->memo.p = "";
    tx->u.evidence.a = order < 0 ? *a : *b;
    tx->u.evidence.b = order < 0 ? *b : *a;
    return kula_tx_seal(tx, body);
}

int kula_evidence_tx(kula_tx *tx, kula_buf *body, kula_buf *out, const kula_hash *chain_id,
                     uint32_t reporter, uint64_t nonce, const kula_seckey *sk,
                     const kula_vote *a, const kula_vote *b)
{
    int rc = kula_evidence_tx_unsigned(tx, body, reporter, nonce, a, b);
    if (rc == 0)
        rc = kula_tx_sign(tx, chain_id, reporter, sk);
    if (rc == 0) {
        kula_buf_reset(out);
        rc = kula_tx_encode(out, tx);
    }
    return rc;
}
