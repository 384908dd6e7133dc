/* ledger_internal.h -- what ledger.c shares with ledger_rules.c. */
#ifndef KULA_LEDGER_INTERNAL_H
#define KULA_LEDGER_INTERNAL_H

#include "kula/ledger/ledger.h"

/* Decoded member records the ledger holds (see ledger.c). */
#define LEDGER_MEMBER_SLOTS 1024 /* a power of two: slot = id % this */
typedef struct ledger_mslot {
    kula_member m;
    uint64_t txmark;  /* the transaction that last saved its undo */
    bool valid;
    bool dirty;       /* newer than the state's record */
} ledger_mslot;

typedef struct ledger_mundo {
    ledger_mslot *slot;
    ledger_mslot old;
} ledger_mundo;

struct kula_ledger {
    kula_state *st;
    kula_hash chain_id;
    uint64_t height;      /* last finished block */
    kula_hash root;       /* state root after it */
    bool in_block;
    bool genesis_done;    /* kula_ledger_genesis ran */
    uint64_t bheight, btime;
    kula_hash pending_root;
    kula_buf buf;         /* scratch for record encodings */
    kula_buf diffbuf;     /* scratch for the state root */
    /* Member records, decoded once and encoded at the block's end: a valid
     * slot holds the member's current record, which a dirty slot alone
     * holds (the state's is older); kula_ledger_end_block writes the dirty
     * ones.  mundo undoes a failed transaction's changes to the slots. */
    ledger_mslot *mslots;
    ledger_mundo *mundo;
    size_t nmundo, mundo_cap;
    uint64_t txseq;       /* numbers the transactions, from 1 */
    bool mdefer;          /* inside kula_ledger_apply_tx */
};

int ledger_put(kula_ledger *l, const kula_key *k, int encoded_rc);
int ledger_save_member(kula_ledger *l, const kula_member *m);
int ledger_save_pubkey(kula_ledger *l, const kula_pubkey *pk, uint32_t id);
int ledger_save_globals(kula_ledger *l, const kula_globals *g);
int ledger_save_params(kula_ledger *l, const kula_params *pr);
int ledger_save_valset(kula_ledger *l, enum kula_valset_which which, const kula_valset *vs);
int ledger_save_agreement(kula_ledger *l, const kula_agreement *a);
int ledger_save_referral(kula_ledger *l, const kula_referral *x);
int ledger_delete_referral(kula_ledger *l, const kula_hash *id);
int ledger_save_pair(kula_ledger *l, uint32_t a, uint32_t b, const kula_pair *x);
int ledger_save_proposal(kula_ledger *l, const kula_proposal *q);
int ledger_has_vote(kula_ledger *l, const kula_hash *proposal, uint32_t member, bool *has);
int ledger_save_vote(kula_ledger *l, const kula_hash *proposal, uint32_t member, bool approve);
int ledger_save_evidence(kula_ledger *l, const kula_evidence *e);
void ledger_add_party(kula_tx_effects *fx, uint32_t id);
uint64_t ledger_block_height(const kula_ledger *l);

/* Applies the kind-specific rule of tx (ledger_rules.c).  Signatures, the
 * initiator's status, the expiry and the nonce (or the replay record of an
 * unsequenced tx) are already checked.  opts (may be NULL)
 * says whether signatures inside the payload (evidence votes) are checked. */
int ledger_apply_rule(kula_ledger *l, const kula_tx *tx, const kula_apply_opts *opts,
                      kula_tx_effects *fx);

#endif
