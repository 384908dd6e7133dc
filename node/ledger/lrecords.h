/* lrecords.h -- the ledger's records: typed reads and writes of the state
 * (SPEC §10.1) and the undo of a failed transaction.  Private to
 * node/ledger/.
 *
 * Direction: ledger.c and the rules (rules_*.c) call this module; it calls
 * only state.c and the layers below (types, codec, base), never a rule nor
 * ledger.c.  The rules see the ledger's records through this interface
 * alone, never struct kula_ledger.
 *
 * Reads see the block in progress, including the transaction in progress.
 * A read returns 0, the error named for a missing record (missing: ...),
 * KULA_ESTORE for a record that does not decode (a corrupted store, not a
 * bad transaction), or the state's error.  A write returns 0, KULA_ENOMEM or
 * the encoder's or the state's error.  Records with borrowed parts (an
 * agreement's rule, a proposal's action) borrow the state until its next
 * write. */
#ifndef KULA_LRECORDS_H
#define KULA_LRECORDS_H

#include <stdbool.h>
#include <stdint.h>

#include "kula/ledger/state.h"
#include "kula/types/records.h"
#include "kula/types/types.h"

typedef struct lrecords lrecords;

/* Opens the records over st, which the caller owns and keeps open until
 * lrec_free.  Returns: 0 or KULA_ENOMEM. */
int lrec_new(lrecords **out, kula_state *st);
void lrec_free(lrecords *r);

/* ---- scopes ---- */

/* Starts a transaction: every write until lrec_tx_end is undone together. */
void lrec_tx_begin(lrecords *r);
/* Ends it: ok keeps its writes, !ok puts back everything it changed. */
void lrec_tx_end(lrecords *r, bool ok);
/* Writes the members decoded and changed in the block into the state, so
 * that its diff holds them.  Returns: 0 or a write's error. */
int lrec_flush(lrecords *r);
/* Throws the block in progress away (the state's and the members'). */
void lrec_discard(lrecords *r);

/* ---- members (decoded once per block; see lrecords.c) ---- */

/* missing: KULA_EUNKNOWNMEMBER. */
int lrec_member(lrecords *r, uint32_t id, kula_member *m);
int lrec_save_member(lrecords *r, const kula_member *m);
/* The member a key is bound to.  missing: KULA_ENOTFOUND. */
int lrec_member_by_key(lrecords *r, const kula_pubkey *pk, uint32_t *id);
int lrec_save_pubkey(lrecords *r, const kula_pubkey *pk, uint32_t id);

/* ---- network ---- */

/* missing (all three): KULA_ESTORE. */
int lrec_globals(lrecords *r, kula_globals *g);
int lrec_save_globals(lrecords *r, const kula_globals *g);
int lrec_params(lrecords *r, kula_params *p);
int lrec_save_params(lrecords *r, const kula_params *p);
int lrec_valset(lrecords *r, enum kula_valset_which which, kula_valset *vs);
int lrec_save_valset(lrecords *r, enum kula_valset_which which, const kula_valset *vs);

/* The observers governance admitted: a missing record reads as none, and
 * saving none deletes the record (SPEC §10.1 "O"). */
int lrec_observers(lrecords *r, kula_observers *os);
int lrec_save_observers(lrecords *r, const kula_observers *os);

/* ---- trade and agreements ---- */

/* missing: KULA_EUNKNOWNAGREEMENT. */
int lrec_agreement(lrecords *r, const kula_hash *id, kula_agreement *a);
int lrec_save_agreement(lrecords *r, const kula_agreement *a);
/* missing: KULA_EUNKNOWNREFERRAL. */
int lrec_referral(lrecords *r, const kula_hash *id, kula_referral *x);
int lrec_save_referral(lrecords *r, const kula_referral *x);
int lrec_delete_referral(lrecords *r, const kula_hash *id);
/* A pair never written reads as all zero (no exchange, no rating). */
int lrec_pair(lrecords *r, uint32_t a, uint32_t b, kula_pair *x);
int lrec_save_pair(lrecords *r, uint32_t a, uint32_t b, const kula_pair *x);

/* ---- invoices ---- */

/* missing: KULA_EUNKNOWNINVOICE. */
int lrec_invoice(lrecords *r, const kula_hash *id, kula_invoice *v);
int lrec_save_invoice(lrecords *r, const kula_invoice *v);

/* Calls fn for every invoice record (key "I" || id, encoded value), in no
 * defined order (kula_state_scan); fn must not write.  Returns: 0, fn's
 * first non-zero value or the state's error. */
int lrec_scan_invoices(lrecords *r, kula_state_fn fn, void *ctx);

/* ---- clearings (LEDGER §9) ---- */

/* Out: *n, the number of the last clearing (0: none yet). */
int lrec_clearings(lrecords *r, uint64_t *n);
/* Saves c under c->number and makes it the last. */
int lrec_save_clearing(lrecords *r, const kula_clearing *c);
/* Out: *c (kula_clearing_free it).  missing: KULA_ENOTFOUND. */
int lrec_clearing(lrecords *r, uint64_t number, kula_clearing *c);
/* Whether a passed proposal asked for a clearing in the block in progress;
 * lrec_set_clear_asked(false) deletes the record (it is never committed). */
int lrec_clear_asked(lrecords *r, bool *asked);
int lrec_set_clear_asked(lrecords *r, bool asked);

/* ---- settlement at clearings (LEDGER §9.6) ---- */

/* Out: *since, the height of the block in which member opted in to settle
 * its remainder at clearings, or 0 if it does not (no "S" record). */
int lrec_settles(lrecords *r, uint32_t member, uint64_t *since);
/* since > 0: writes "S" || be32 member = [since]; 0: deletes it. */
int lrec_set_settles(lrecords *r, uint32_t member, uint64_t since);
/* Calls fn for every "S" record, in no defined order; fn must not write. */
int lrec_scan_settles(lrecords *r, kula_state_fn fn, void *ctx);
/* Saves s under s->number ("Z" || be64 number). */
int lrec_save_settlement(lrecords *r, const kula_settlement *s);
/* Out: *s (kula_settlement_free it).  missing: KULA_ENOTFOUND. */
int lrec_settlement(lrecords *r, uint64_t number, kula_settlement *s);

/* ---- governance and evidence ---- */

/* missing: KULA_EUNKNOWNPROPOSAL. */
int lrec_proposal(lrecords *r, const kula_hash *id, kula_proposal *q);
int lrec_save_proposal(lrecords *r, const kula_proposal *q);
/* Out: *has, whether member voted on proposal. */
int lrec_has_vote(lrecords *r, const kula_hash *proposal, uint32_t member, bool *has);
int lrec_save_vote(lrecords *r, const kula_hash *proposal, uint32_t member, bool approve);
/* missing: KULA_ENOTFOUND. */
int lrec_evidence(lrecords *r, uint32_t validator, uint64_t height, uint32_t round,
                  uint8_t type, kula_evidence *e);
int lrec_save_evidence(lrecords *r, const kula_evidence *e);

/* ---- unsequenced transactions (LEDGER §2.2) ---- */

/* Out: *height, the block that committed tx_id.  missing: KULA_ENOTFOUND. */
int lrec_done(lrecords *r, const kula_hash *tx_id, uint64_t *height);
int lrec_save_done(lrecords *r, const kula_hash *tx_id, uint64_t height);

#endif
