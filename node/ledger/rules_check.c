/* rules_check.c -- the checks every rule shares: text (proto/LEDGER.md
 * §2.4), active members (§2.1), signer sets (§2.3), the members a
 * transaction touched.
 *
 * Direction: called by the rules (rules_*.c); calls lrecords.c and the
 * layers below, never another rule nor ledger.c (rules.h). */
#include <string.h>

#include "kula/base/error.h"
#include "rules.h"

/* §2.4: names and labels are non-empty; free text may be empty.  Neither
 * may hold control characters (other than a newline in free text), so
 * nothing on the ledger can rewrite an auditor's terminal. */
bool rule_text_ok(kula_text t, bool allow_empty, bool allow_newline)
{
    if (t.n == 0)
        return allow_empty;
    for (size_t i = 0; i < t.n; i++) {
        unsigned char c = (unsigned char)t.p[i];
        if ((c < 0x20 && !(allow_newline && c == '\n')) || c == 0x7f)
            return false;
    }
    return true;
}

int rule_active_member(lrecords *rec, uint32_t id, kula_member *m)
{
    int rc = lrec_member(rec, id, m);
    if (rc != 0)
        return rc;
    return m->status == KULA_MEMBER_ACTIVE ? KULA_OK : KULA_EINACTIVE;
}

int rule_add_signer(uint32_t *ids, uint32_t *n, uint32_t id)
{
    uint32_t i = 0;
    while (i < *n && ids[i] < id)
        i++;
    if (i < *n && ids[i] == id)
        return KULA_ESELF;
    if (*n >= KULA_MAX_PARTIES)
        return KULA_ESIGNERS;
    memmove(&ids[i + 1], &ids[i], (*n - i) * sizeof(*ids));
    ids[i] = id;
    (*n)++;
    return KULA_OK;
}

void rule_add_party(kula_tx_effects *fx, uint32_t id)
{
    for (uint32_t i = 0; i < fx->nparties; i++)
        if (fx->parties[i] == id)
            return;
    if (fx->nparties < KULA_MAX_PARTIES + 1)
        fx->parties[fx->nparties++] = id;
}
