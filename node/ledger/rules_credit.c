/* rules_credit.c -- mutual credit (proto/LEDGER.md §3): payments under the
 * credit limit, completed exchanges.
 *
 * Direction: called by the rules of §4; calls lrecords.c and the layers
 * below, never another rule nor ledger.c (rules.h). */
#include "kula/base/amount.h"
#include "kula/base/error.h"
#include "rules.h"

/* §3.2: a payer's balance may not go below minus its credit limit; no
 * balance may overflow.  Both members are saved. */
int rule_move_credit(lrecords *rec, uint32_t payer_id, uint32_t payee_id, int64_t amount)
{
    if (amount <= 0)
        return KULA_EAMOUNT;
    kula_member payer, payee;
    int rc = lrec_member(rec, payer_id, &payer);
    if (rc == 0)
        rc = lrec_member(rec, payee_id, &payee);
    if (rc != 0)
        return rc;
    kula_amount nb, np;
    if (!kula_amount_sub(&nb, kula_amount_of(payer.balance), kula_amount_of(amount)) ||
        nb.v < -payer.credit_limit)
        return KULA_ECREDIT;
    if (!kula_amount_add(&np, kula_amount_of(payee.balance), kula_amount_of(amount)))
        return KULA_EOVERFLOW;
    payer.balance = nb.v;
    payee.balance = np.v;
    if ((rc = lrec_save_member(rec, &payer)) != 0)
        return rc;
    return lrec_save_member(rec, &payee);
}

/* §3.4: every completed exchange between two members allows each of them
 * one rating of the other. */
int rule_count_exchange(lrecords *rec, uint32_t a, uint32_t b)
{
    kula_pair x;
    int rc = lrec_pair(rec, a, b, &x);
    if (rc != 0)
        return rc;
    if (x.exchanges == UINT64_MAX)
        return KULA_EOVERFLOW;
    x.exchanges++;
    return lrec_save_pair(rec, a, b, &x);
}
