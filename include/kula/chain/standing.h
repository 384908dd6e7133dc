/* standing.h -- where a key stands in a ledger's state: the admission rule
 * of SPEC §11.4 for members and for the observers governance admitted
 * (observers listed in a node's configuration are that node's, not the
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
    KULA_STANDING_UNKNOWN,    /* no member's nor observer's key, or the state cannot be read */
    KULA_STANDING_OBSERVER,   /* an observer's key the members admitted (LEDGER.md §6.4) */
} kula_standing;

/* Looks key up in l's state (including a block in progress).  Out: *m, the
 * member the key is bound to (for MEMBER, ROTATED, REMOVED; may be NULL);
 * for OBSERVER, m->name is the observer's name and m->id 0.
 * Returns: the standing. */
kula_standing kula_key_standing(kula_ledger *l, const kula_pubkey *key, kula_member *m);

#endif /* KULA_STANDING_H */
