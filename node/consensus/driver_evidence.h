/* driver_evidence.h -- the consensus driver's evidence of equivocation,
 * internal to node/consensus: two different votes that one validator signed
 * for one height, round and step, caught by the machine or sent by a peer,
 * are gossiped, and recorded on the chain by an evidence transaction
 * (proto/LEDGER.md §7.5) that this node submits, as a member, until a block
 * holds it. */
#ifndef KULA_DRIVER_EVIDENCE_H
#define KULA_DRIVER_EVIDENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kula/consensus/driver.h"

#define DRV_MAX_EVIDENCE 16u /* offences waiting to be recorded on the chain */

/* Whether sig over digest verifies with member id's current key (the
 * driver's view of the keys). */
typedef bool (*drv_signed_fn)(void *ctx, uint32_t id, const kula_hash *digest,
                              const kula_sig *sig);

typedef struct drv_evidence {
    const kula_driver_env *env; /* the driver's, for its life */
    const kula_driver_io *io;
    drv_signed_fn signed_by;
    void *ctx;
    uint64_t seen; /* offences caught or received (kula_driver_evidence) */
    struct { kula_vote a, b; int tries; } q[DRV_MAX_EVIDENCE];
    size_t n;
} drv_evidence;

/* Starts with no offence.  env and io must outlive ev. */
void drv_evidence_init(drv_evidence *ev, const kula_driver_env *env, const kula_driver_io *io,
                       drv_signed_fn signed_by, void *ctx);
/* The machine caught a and b: logs it, gossips the pair, queues it. */
void drv_evidence_caught(drv_evidence *ev, const kula_vote *a, const kula_vote *b);
/* A peer sent the pair (a, b), as canonical votes: a peer whose pair does
 * not decode, or is no conflict of valid signatures, is punished; else the
 * pair is relayed to the other peers and queued. */
void drv_evidence_received(drv_evidence *ev, uint32_t peer, const uint8_t *a, size_t a_len,
                           const uint8_t *b, size_t b_len);
/* Submits (again) an evidence transaction for each queued offence not yet
 * on the chain; forgets those recorded or tried too often. */
void drv_evidence_submit(drv_evidence *ev);

#endif /* KULA_DRIVER_EVIDENCE_H */
