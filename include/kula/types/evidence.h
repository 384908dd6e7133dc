/* evidence.h -- evidence transactions (kind 14, proto/SPEC.md §6.18): a
 * member's report that a validator signed two different votes for one
 * height, round and type, put on the chain by the node that caught it. */
#ifndef KULA_EVIDENCE_H
#define KULA_EVIDENCE_H

#include <stdint.h>

#include "kula/base/error.h"
#include "kula/codec/codec.h"
#include "kula/crypto/crypto.h"
#include "kula/types/types.h"

/* Builds the evidence transaction of `reporter` (nonce `nonce`, empty memo)
 * carrying the signed votes a and b, given in either order: it puts them in
 * canonical order (SPEC §6.18), seals the body into `body`, signs it with sk
 * under chain_id and writes the canonical signed transaction into `out`.
 * The votes' signatures are not checked here (the ledger checks them).
 * Out: *tx, whose body borrows `body` (which must outlive its use); out,
 *      reset first, the bytes to submit.
 * In: a, b, two votes of one validator with the same type, height and round
 *     for different blocks (a block and nil count as different).
 * Returns: 0; KULA_EEVIDENCE if the votes do not conflict so (the same vote
 *          twice included); KULA_EBADKEY for an invalid sk; KULA_ENOMEM. */
KULA_MUST_CHECK
int kula_evidence_tx(kula_tx *tx, kula_buf *body, kula_buf *out, const kula_hash *chain_id,
                     uint32_t reporter, uint64_t nonce, const kula_seckey *sk,
                     const kula_vote *a, const kula_vote *b);

/* kula_evidence_tx's first half, for a caller that signs elsewhere (the
 * consensus driver signs through its io table): *tx sealed into body, with
 * no signature yet (kula_tx_sighash, then kula_tx_add_sig).
 * Returns: 0, KULA_EEVIDENCE or KULA_ENOMEM, as kula_evidence_tx. */
KULA_MUST_CHECK
int kula_evidence_tx_unsigned(kula_tx *tx, kula_buf *body, uint32_t reporter, uint64_t nonce,
                              const kula_vote *a, const kula_vote *b);

#endif /* KULA_EVIDENCE_H */
