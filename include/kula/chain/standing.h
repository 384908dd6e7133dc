/* standing.h -- where a key stands in a ledger's state: the admission rule
 * of SPEC §11.4 for members (observers are a node's configuration, not the
 * state's).  The network admits peers by it (kula/net/p2p.h) and a node
 * signs blocks and votes only with a key that stands as a member's
 * (kula/consensus/driver.h). */
#ifndef KULA_STANDING_H
#define KULA_STANDING_H

#include "kula/ledger/ledger.h"
#include "kula/types/types.h"

typedef enum kula_standing {
    KULA_STANDING_MEMBER = 0, /* the current key of an active member */
    KULA_STANDING_ROTATED,    /* an active member's former key: the members rotated it */
    KULA_STANDING_REMOVED,    /* a key of a member the members removed */
    KULA_STANDING_UNKNOWN,    /* no member's key, or the state cannot be read */
} kula_standing;

/* Looks key up in l's state (including a block in progress).  Out: *m, the
 * member the key is bound to (for every standing but UNKNOWN; may be NULL).
 * Returns: the standing. */
kula_standing kula_key_standing(kula_ledger *l, const kula_pubkey *key, kula_member *m);

#endif /* KULA_STANDING_H */
