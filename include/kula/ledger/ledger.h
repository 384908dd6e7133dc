/* ledger.h -- the reciprocity state machine (proto/LEDGER.md).
 *
 * Pure and deterministic: the same blocks over the same genesis give the same
 * state and state roots on every machine.  No I/O (reads go through the
 * state overlay, whose base is the committed state), no clock (time comes
 * from block headers), no randomness, no floating point, no iteration over
 * unordered containers.
 *
 * Life of a block:
 *   kula_ledger_begin_block(height, time)
 *   kula_ledger_apply_tx(...)            each one atomic: all or nothing
 *   kula_ledger_end_block(&root, &diff)  diff = the store's writes
 *   kula_ledger_finish_block()           after the store committed them
 *     or kula_ledger_abort_block()       to throw the block away */
#ifndef KULA_LEDGER_H
#define KULA_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kula/base/error.h"
#include "kula/types/genesis.h"
#include "kula/types/records.h"
#include "kula/ledger/state.h"
#include "kula/types/types.h"
#include "kula/crypto/sigcache.h"
#include "kula/crypto/verifier.h"

extern const uint8_t KULA_TAG_STATE[KULA_TAG_LEN]; /* "kula/state/v1" */
extern const uint8_t KULA_TAG_SNAPSHOT[KULA_TAG_LEN]; /* "kula/snapshot/v1" */
extern const uint8_t KULA_TAG_SNAPDATA[KULA_TAG_LEN]; /* "kula/snapdata/v1" */

typedef struct kula_ledger kula_ledger;

/* Opens a ledger over the committed state read by base (NULL: in memory).
 * In: chain_id; tip, the height of the last committed block (0: none);
 *     tip_root, the state root after it (for tip 0, the genesis root).
 * Returns: 0 or KULA_ENOMEM. */
KULA_MUST_CHECK
int kula_ledger_new(kula_ledger **out, const kula_hash *chain_id, kula_state_base_fn base,
                    void *ctx, uint64_t tip, const kula_hash *tip_root);
void kula_ledger_free(kula_ledger *l);
/* Lets a ledger over a store scan the committed records (the clearing of
 * proto/LEDGER.md §9 reads every invoice); scan gets the ctx given to
 * kula_ledger_new.  A ledger with a base and no scanner fails a block that
 * clears with KULA_EINVAL. */
void kula_ledger_set_scan(kula_ledger *l, kula_state_scan_fn scan);
/* The state's entries from an arena (kula_state_use_arena): for a chain's
 * own ledger, whose every block ends or is aborted. */
void kula_ledger_use_arena(kula_ledger *l);

/* Writes the genesis state into the overlay and computes the genesis state
 * root, root_0 = H(KULA_TAG_STATE || 32 zero bytes || diff).  The ledger
 * must be new with tip 0.  Out: root; *writes and *n, the records to persist
 * (valid until the next call).  Call kula_ledger_finish_block() after
 * persisting them.  Returns: 0, KULA_EGENESIS, KULA_ENOMEM. */
KULA_MUST_CHECK
int kula_ledger_genesis(kula_ledger *l, const kula_genesis *g, kula_hash *root,
                        const kula_state_write **writes, size_t *n);

/* Starts block `height` (tip + 1) with the header's time. */
KULA_MUST_CHECK
int kula_ledger_begin_block(kula_ledger *l, uint64_t height, uint64_t time_ms);

/* How signatures are checked. */
typedef struct kula_apply_opts {
    /* Skip signature checks (replaying blocks already verified): the
     * transaction's signatures and those of the votes an evidence
     * transaction carries. */
    bool skip_sigs;
    /* Optional: verified[i] is the key that sigs[i] was already verified
     * against (by the mempool's worker threads).  A signature is checked
     * again only if the signer's current key differs. */
    const kula_pubkey *verified;
    /* Optional: a signature found here is not verified again, and one that
     * verifies is added (a proposal's check, for the mempool to find when
     * the same transaction arrives by gossip).  The verdict is the same
     * with or without it. */
    kula_sigcache *sigcache;
} kula_apply_opts;

/* What a transaction touched, for the indexes: every member whose history
 * shows it (the initiator first, no duplicates). */
typedef struct kula_tx_effects {
    uint32_t nparties;
    uint32_t parties[KULA_MAX_PARTIES + 1];
} kula_tx_effects;

/* Applies one decoded transaction.  Atomic: on any error the state is as it
 * was.  Out: fx (may be NULL).  Returns: 0, or the rule's error (ETXEXPIRED,
 * ENONCE, EREPLAYED, ECREDIT, ESIGNERS, EBADSIG, ...; proto/LEDGER.md lists
 * which rule gives which), or ENOMEM / a store error. */
KULA_MUST_CHECK
int kula_ledger_apply_tx(kula_ledger *l, const kula_tx *tx, const kula_apply_opts *opts,
                         kula_tx_effects *fx);

/* Ends the block: moves the validator sets on, computes the state root
 * root_h = H(KULA_TAG_STATE || root_{h-1} || diff_h) where diff_h is the
 * canonical array of [key (bin), value (bin) or nil] of every record whose
 * value changed in the block, sorted by key.
 * Out: root; *writes and *n the same diff for the store (valid until
 * finish/abort).  Returns: 0 or KULA_ENOMEM. */
KULA_MUST_CHECK
int kula_ledger_end_block(kula_ledger *l, kula_hash *root, const kula_state_write **writes,
                          size_t *n);
/* The block's writes are persisted: they become the committed state. */
void kula_ledger_finish_block(kula_ledger *l);

/* What a block at a snapshot height (proto/SPEC.md §10.3: the parameter
 * snapshot_interval_blocks N > 0 in force at the end of the block, and N
 * divides the height) commits to beyond its diff.  Its state root is then
 *   root_h = H(KULA_TAG_SNAPSHOT || diff_root || H(vals) || state_hash)
 * where diff_root is the root of §10.2, vals the canonical
 *   [last, next], each [[member: uint32, power: uint, pubkey: bin32], ...]
 * (the set that signs block h, the set that signs block h + 1, with each
 * member's key after the block) and state_hash = H(KULA_TAG_SNAPDATA ||
 * every record of the state after the block as the canonical [key: bin,
 * value: bin], ascending key).  A node that has checked a header's
 * state_root this way from its parts knows both validator sets; one that
 * also hashes a snapshot's records to state_hash knows the whole state. */
typedef struct kula_snapshot_commit {
    uint64_t height;
    kula_hash diff_root;
    kula_hash state_hash;
    kula_buf vals; /* the canonical vals */
} kula_snapshot_commit;

/* After kula_ledger_end_block and until the next kula_ledger_begin_block:
 * the snapshot commitment of the block, or NULL when the block is not at a
 * snapshot height. */
const kula_snapshot_commit *kula_ledger_snapshot(const kula_ledger *l);

/* root = H(KULA_TAG_SNAPSHOT || diff_root || H(vals) || state_hash): what a
 * state-syncing node checks a header's state_root against. */
void kula_snapshot_root(const kula_hash *diff_root, const uint8_t *vals, size_t vals_len,
                        const kula_hash *state_hash, kula_hash *root);

/* A ledger in memory holding g's genesis state as committed, ready for
 * block 1: what a replay and an in-memory chain start from.
 * Returns: 0, KULA_EGENESIS, KULA_ENOMEM (then *out is NULL). */
KULA_MUST_CHECK
int kula_ledger_new_genesis(kula_ledger **out, const kula_genesis *g);
/* Throws the block in progress away (state as after the last finished block). */
void kula_ledger_abort_block(kula_ledger *l);

/* Height and state root of the last finished block. */
uint64_t kula_ledger_height(const kula_ledger *l);
const kula_hash *kula_ledger_state_root(const kula_ledger *l);
const kula_hash *kula_ledger_chain_id(const kula_ledger *l);

/* ---- queries (see the state including the block in progress) ---- */
KULA_MUST_CHECK
int kula_ledger_member(kula_ledger *l, uint32_t id, kula_member *m);
/* Returns: 0 and *id, or KULA_ENOTFOUND. */
KULA_MUST_CHECK
int kula_ledger_member_by_key(kula_ledger *l, const kula_pubkey *pk, uint32_t *id);
KULA_MUST_CHECK
int kula_ledger_globals(kula_ledger *l, kula_globals *g);
KULA_MUST_CHECK
int kula_ledger_params(kula_ledger *l, kula_params *p);
KULA_MUST_CHECK
int kula_ledger_valset(kula_ledger *l, enum kula_valset_which which, kula_valset *vs);
/* The agreement's record; its rule_raw/values borrow the overlay until the
 * next write. */
KULA_MUST_CHECK
int kula_ledger_agreement(kula_ledger *l, const kula_hash *id, kula_agreement *a);
KULA_MUST_CHECK
int kula_ledger_referral(kula_ledger *l, const kula_hash *id, kula_referral *r);
/* Out: *n, the number of the last clearing (proto/LEDGER.md §9); 0: none. */
KULA_MUST_CHECK
int kula_ledger_clearings(kula_ledger *l, uint64_t *n);
/* Out: *c, clearing number (kula_clearing_free it).
 * Returns: 0, KULA_ENOTFOUND, KULA_ENOMEM, KULA_ESTORE. */
KULA_MUST_CHECK
int kula_ledger_clearing(kula_ledger *l, uint64_t number, kula_clearing *c);

/* Out: *s, the payments clearing `number` made from opted-in members'
 * credit (proto/LEDGER.md §9.6; kula_settlement_free it).
 * Returns: 0, KULA_ENOTFOUND (the clearing paid nothing), KULA_ESTORE. */
KULA_MUST_CHECK
int kula_ledger_settlement(kula_ledger *l, uint64_t number, kula_settlement *s);
/* Out: *since, the height at which member opted in to settle its remainder
 * at clearings (proto/LEDGER.md §9.6), or 0 if it does not. */
KULA_MUST_CHECK
int kula_ledger_settles(kula_ledger *l, uint32_t member, uint64_t *since);
/* The invoice issued by transaction id (proto/LEDGER.md §8).
 * Returns: 0, KULA_EUNKNOWNINVOICE, or KULA_ESTORE (a corrupted record). */
KULA_MUST_CHECK
int kula_ledger_invoice(kula_ledger *l, const kula_hash *id, kula_invoice *v);
KULA_MUST_CHECK
int kula_ledger_proposal(kula_ledger *l, const kula_hash *id, kula_proposal *q);
KULA_MUST_CHECK
int kula_ledger_pair(kula_ledger *l, uint32_t a, uint32_t b, kula_pair *x);
/* The observers governance admitted (none: os->n == 0), ascending key.
 * Returns: 0 or KULA_ESTORE (a corrupted record). */
KULA_MUST_CHECK
int kula_ledger_observers(kula_ledger *l, kula_observers *os);
/* The recorded evidence that `validator` signed two different votes of
 * `type` (kula_vote_type) at `height` and `round` (proto/LEDGER.md §7.5).
 * Out: *e, offence and record.  Returns: 0, KULA_ENOTFOUND (none recorded),
 *      or KULA_ESTORE (a corrupted record). */
KULA_MUST_CHECK
int kula_ledger_evidence(kula_ledger *l, uint32_t validator, uint64_t height, uint32_t round,
                         uint8_t type, kula_evidence *e);

/* Whether the unsequenced transaction tx_id (nonce 0, proto/LEDGER.md §2.2)
 * is committed.  Sequenced transactions are not recorded here (their
 * nonce is spent instead).  Out: *height, the block that committed it.
 * Returns: 0; KULA_ENOTFOUND, not committed; KULA_ESTORE, a corrupted
 *          record; or the store's error. */
KULA_MUST_CHECK
int kula_ledger_done(kula_ledger *l, const kula_hash *tx_id, uint64_t *height);

/* Computes what settling the agreement's pool now would pay each party.
 * Out: shares[a->nparties].  Returns: 0, KULA_ENOCONTRIB, KULA_ERULE. */
KULA_MUST_CHECK
int kula_ledger_distribution(const kula_agreement *a, int64_t pool, int64_t *shares);

/* The members who must sign tx and their current keys, in ascending member
 * order (the order of tx->sigs).  Used to verify signatures ahead of apply.
 * Returns: 0, or the error apply would give for the signer set. */
KULA_MUST_CHECK
int kula_ledger_signers(kula_ledger *l, const kula_tx *tx, uint32_t *ids, kula_pubkey *keys,
                        uint32_t *n);

/* The jobs that verify tx's signatures ahead of apply (on a kula_verifier):
 * jobs[k] pairs tx->sigs[k] with the digest it signs and the key the state
 * holds for its signer.  Out: jobs[0..tx->nsigs) (ok left false).
 * Returns: 0; KULA_ESIGNERS, the signatures are not by exactly the members
 *          who must sign; or kula_ledger_signers' error (nothing to verify
 *          ahead: apply verifies, and reports, inline). */
KULA_MUST_CHECK
int kula_ledger_sig_jobs(kula_ledger *l, const kula_tx *tx, kula_verify_job *jobs);

#endif /* KULA_LEDGER_H */
