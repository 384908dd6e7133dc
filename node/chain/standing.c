/* standing.c -- where a key stands in a ledger's state (SPEC §11.4). */
#include "kula/chain/standing.h"

#include <string.h>

kula_standing kula_key_standing(kula_ledger *l, const kula_pubkey *key, kula_member *out)
{
    uint32_t id;
    kula_member m;
    if (kula_ledger_member_by_key(l, key, &id) != 0 || kula_ledger_member(l, id, &m) != 0) {
        /* no member ever held it: an observer's, or nobody's */
        kula_observers os;
        int at = kula_ledger_observers(l, &os) == 0 ? kula_observers_find(&os, key) : -1;
        if (at < 0)
            return KULA_STANDING_UNKNOWN;
        if (out != NULL) {
            memset(out, 0, sizeof(*out));
            out->pubkey = *key;
            memcpy(out->name, os.v[at].name, sizeof(out->name));
        }
        return KULA_STANDING_OBSERVER;
    }
    if (out != NULL)
        *out = m;
    /* A key stays bound to its member after a rotation or a removal
     * (proto/LEDGER.md), so that it can never be admitted under another
     * identity: only the member's current key is the member's. */
    if (m.status != KULA_MEMBER_ACTIVE)
        return KULA_STANDING_REMOVED;
    if (memcmp(m.pubkey.b, key->b, KULA_PUBKEY_LEN) != 0)
        return KULA_STANDING_ROTATED;
    return KULA_STANDING_MEMBER;
}
