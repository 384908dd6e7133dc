/* proposal.h -- the consensus block proposal message (proto/SPEC.md §7.3).
 *
 * A proposal is a validator's signed statement "in round `round` of height
 * `height` I propose the block whose hash is `block_hash`", with the round of
 * the proof of lock it relies on (`pol_round`, -1 for none).  The block
 * itself travels beside it; the proposal names it by hash. */
#ifndef KULA_PROPOSAL_H
#define KULA_PROPOSAL_H

#include <stdint.h>

#include "kula/base/error.h"
#include "kula/codec/codec.h"
#include "kula/crypto/crypto.h"
#include "kula/types/types.h"

/* The version of the proposal body. */
#define KULA_PROPOSAL_VERSION 1

typedef struct kula_block_proposal {
    uint64_t height;
    uint32_t round;
    int64_t pol_round;    /* -1: none; else 0 <= pol_round < round */
    kula_hash block_hash; /* the proposed block's hash (§5.1) */
    uint32_t proposer;    /* member id of the round's proposer */
    kula_sig sig;
} kula_block_proposal;

/* Appends the canonical body [version, height, round, pol_round, block_hash,
 * proposer].  Returns: 0, or the buffer's error.  In: p->pol_round must be
 * -1 or in [0, round) (a proposal the decoder would reject: KULA_ERANGE and
 * nothing is appended). */
KULA_MUST_CHECK
int kula_block_proposal_encode_body(kula_buf *out, const kula_block_proposal *p);
/* Appends the canonical signed proposal [body, sig].  Returns: as _encode_body. */
KULA_MUST_CHECK
int kula_block_proposal_encode(kula_buf *out, const kula_block_proposal *p);
/* Decodes a signed proposal strictly: one canonical value, exactly [body,
 * sig], body of 6 fields with version 1, pol_round -1 or below round.
 * Out: p (zeroed on failure).
 * Returns: 0 or a codec error (ETRUNC, ENONCANON, ETYPE, ETRAILING, EVERSION,
 *          ETOOBIG, ERANGE, EARITY). */
KULA_MUST_CHECK
int kula_block_proposal_decode(kula_block_proposal *p, const uint8_t *data, size_t len);
/* Out: the digest the proposer signs,
 *      BLAKE2b-256(KULA_TAG_PROPOSAL || chain id || canonical body). */
void kula_block_proposal_sighash(kula_hash *out, const kula_hash *chain_id,
                                 const kula_block_proposal *p);

#endif /* KULA_PROPOSAL_H */
