/* rules.h -- the rules of proto/LEDGER.md, one file per section.  Private to
 * node/ledger/.
 *
 * Direction (each file calls only those after it, never one before it):
 *   ledger.c            the public API, blocks, state root
 *   rules_tx.c          §2 every transaction; the table of kinds
 *   rules_trade.c       §4 transfers, barter, referrals
 *   rules_invoice.c     §8 invoices
 *   rules_agreement.c   §5 agreements
 *   rules_governance.c  §6 proposals, votes, feedback
 *   rules_action.c      §6.4 the actions of a proposal
 *   rules_clearing.c    §9 clearing at the end of a block
 *   rules_settle.c      §9.6 settlement of the remainder at a clearing
 *   rules_evidence.c    §7.5 evidence of equivocation
 *   rules_credit.c      §3 mutual credit
 *   rules_check.c       checks every rule shares (§2.1, §2.3, §2.4)
 *   distribution.c      splits of a pool (kula/ledger/distribution.h)
 *   lrecords.c          the records and the undo (lrecords.h)
 *   state.c             the overlay over the committed state
 * No rule sees struct kula_ledger: a rule reads and writes the state
 * through ctx->rec only, and knows of the block what ctx says.
 *
 * Every rule checks before it writes where it can; whatever it wrote before
 * failing is undone by the caller (lrec_tx_end).  A rule returns 0 or the
 * error proto/LEDGER.md names for the check that failed, or KULA_ENOMEM, or
 * a records error (lrecords.h). */
#ifndef KULA_RULES_H
#define KULA_RULES_H

#include "kula/ledger/clearing.h"
#include "kula/ledger/ledger.h"
#include "lrecords.h"

/* What a rule knows of the ledger. */
typedef struct rule_ctx {
    lrecords *rec;
    const kula_hash *chain_id;
    uint64_t height;              /* of the block being applied */
    uint64_t time;                /* its header's time (ms) */
    const kula_apply_opts *opts;  /* may be NULL */
    kula_tx_effects *fx;          /* where a rule adds the members it touched */
} rule_ctx;

/* ---- rules_tx.c: §2 ---- */

/* The members who must sign tx (§2.3, SPEC §6.1), ascending.
 * Out: ids[*n], *n <= KULA_MAX_PARTIES.  Returns: 0, KULA_EINVAL (no such
 * kind), or the signer set's error (ESELF, ESIGNERS, EORDER, ENOTPARTY, a
 * missing agreement). */
int rule_signers(lrecords *rec, const kula_tx *tx, uint32_t *ids, uint32_t *n);
/* Applies tx under §2 and then its kind's rule; ctx->fx gets the members
 * it touched, the initiator first.  The caller undoes it on error. */
int rule_apply_tx(const rule_ctx *ctx, const kula_tx *tx);

/* ---- one rule per kind (the table in rules_tx.c) ---- */

/* Extra signers of a kind, beyond `from` (already in ids). */
typedef int rule_signers_fn(lrecords *rec, const kula_tx *tx, uint32_t *ids, uint32_t *n);
typedef int rule_fn(const rule_ctx *ctx, const kula_tx *tx);

rule_fn rule_transfer, rule_exchange, rule_referral, rule_conversion;
rule_fn rule_open, rule_amend, rule_contribute, rule_benefit, rule_settle, rule_close;
rule_fn rule_feedback, rule_propose, rule_vote, rule_evidence;
rule_fn rule_invoice, rule_invoice_answer, rule_invoice_cancel, rule_invoice_pay;
rule_fn rule_clearing_settle;
rule_signers_fn signers_exchange, signers_contribute, signers_open, signers_agreement;

/* ---- rules_agreement.c: shared with §4 ---- */

/* Out: *a, agreement id.  Returns: 0, KULA_EUNKNOWNAGREEMENT, KULA_ECLOSED. */
int rule_open_agreement(lrecords *rec, const kula_hash *id, kula_agreement *a);

/* ---- rules_action.c: §6.4 ---- */

/* Checks a governance action against the current state; with execute,
 * carries it out (only after every check passed).  Returns: 0 or the
 * action's error (EBADKEY, EDUPKEY, ETEXT, EAMOUNT, EPARAM, ELASTVALIDATOR,
 * EUNKNOWNMEMBER, EINACTIVE, EOBSERVERMEMBER, EDUPOBSERVER, EOBSERVERNAME,
 * EUNKNOWNOBSERVER, ETOOMANYOBSERVERS). */
int rule_action(const rule_ctx *ctx, const kula_action *act, bool execute);

/* ---- rules_clearing.c: §9 ---- */

/* After the block's transactions: runs the clearing §9.1 calls for, if
 * any.  Returns: 0, KULA_ENOMEM or a records error. */
int rule_end_block(const rule_ctx *ctx);

/* ---- rules_settle.c: §9.6 ---- */

/* At a clearing, after its set-off: pays from their credit what opted-in
 * members still owe on obs[0..n-1] (ascending id; obs[i] still owes
 * obs[i].amount - setoff[i]).  Out: *s, the payments made, in order
 * (s->n may be 0; kula_settlement_free it; s->number is left to the
 * caller).  Returns: 0, KULA_ENOMEM or a records error. */
int rule_settle_remainder(const rule_ctx *ctx, const kula_obligation *obs, const int64_t *setoff,
                          size_t n, kula_settlement *s);

/* ---- rules_credit.c: §3 ---- */

/* §3.2: moves amount from payer to payee and saves both.
 * Returns: 0, KULA_EAMOUNT, KULA_ECREDIT, KULA_EOVERFLOW. */
int rule_move_credit(lrecords *rec, uint32_t payer, uint32_t payee, int64_t amount);
/* §3.4: counts one completed exchange of the pair a, b. */
int rule_count_exchange(lrecords *rec, uint32_t a, uint32_t b);

/* ---- rules_check.c ---- */

/* §2.4: names and labels (allow_empty false) are non-empty; no text holds
 * control characters but a newline where allow_newline. */
bool rule_text_ok(kula_text t, bool allow_empty, bool allow_newline);
/* Out: *m, member id.  Returns: 0, KULA_EUNKNOWNMEMBER, KULA_EINACTIVE. */
int rule_active_member(lrecords *rec, uint32_t id, kula_member *m);
/* Inserts id into the ascending ids[*n].  Returns: 0, KULA_ESELF (already
 * there), KULA_ESIGNERS (more than KULA_MAX_PARTIES). */
int rule_add_signer(uint32_t *ids, uint32_t *n, uint32_t id);
/* Adds id to the members fx lists, once. */
void rule_add_party(kula_tx_effects *fx, uint32_t id);

#endif
