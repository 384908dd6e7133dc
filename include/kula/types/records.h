/* records.h -- the ledger's state records, their keys and canonical
 * encodings (proto/SPEC.md §10).  The state root hashes these bytes, so
 * every field and its order is consensus-critical. */
#ifndef KULA_RECORDS_H
#define KULA_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kula/base/error.h"
#include "kula/codec/codec.h"
#include "kula/crypto/crypto.h"
#include "kula/types/genesis.h"
#include "kula/types/types.h"

/* Key prefixes (first byte of every state key). */
enum {
    KULA_KEY_GLOBAL = 'G',    /* "G"                   -> kula_globals   */
    KULA_KEY_PARAMS = 'P',    /* "P"                   -> kula_params    */
    KULA_KEY_VALSET = 'W',    /* "W" + which (1 byte)  -> validator set  */
    KULA_KEY_MEMBER = 'M',    /* "M" + be32 id         -> kula_member    */
    KULA_KEY_PUBKEY = 'K',    /* "K" + pubkey          -> [member id]    */
    KULA_KEY_AGREEMENT = 'A', /* "A" + id              -> kula_agreement */
    KULA_KEY_REFERRAL = 'R',  /* "R" + id              -> kula_referral  */
    KULA_KEY_PAIR = 'X',      /* "X" + be32 a + be32 b (a < b) -> kula_pair */
    KULA_KEY_PROPOSAL = 'Q',  /* "Q" + id              -> kula_proposal  */
    KULA_KEY_VOTE = 'V',      /* "V" + proposal id + be32 member -> [approve] */
    KULA_KEY_EVIDENCE = 'E',  /* "E" + be32 validator + be64 height + be32 round
                               * + type (1 byte)        -> kula_evidence  */
    KULA_KEY_DONE = 'D',      /* "D" + id: an unsequenced tx committed -> [height] */
    KULA_KEY_INVOICE = 'I',   /* "I" + id              -> kula_invoice   */
    KULA_KEY_OBSERVERS = 'O', /* "O"                   -> kula_observers */
    KULA_KEY_CLEARING = 'C',  /* "C" + be64 number     -> kula_clearing  */
    KULA_KEY_CLEARINGS = 'L', /* "L"                   -> [last clearing number] */
    KULA_KEY_CLEAR_ASKED = 'Y', /* "Y" -> []: a passed proposal asked for a clearing
                                 * in the block in progress; never committed */
    KULA_KEY_SETTLES = 'S',   /* "S" + be32 member     -> [height]: it settles its
                               * remainder at clearings (LEDGER §9.6) */
    KULA_KEY_SETTLEMENT = 'Z', /* "Z" + be64 number    -> kula_settlement */
};

/* Which validator set: the one that signs the next block, the one that
 * signed the last block, and the live one governance edits (it becomes
 * NEXT at the end of the block). */
enum kula_valset_which { KULA_VALSET_NEXT = 0, KULA_VALSET_LAST = 1, KULA_VALSET_LIVE = 2 };

#define KULA_KEY_MAX 41

typedef struct kula_key {
    uint8_t b[KULA_KEY_MAX];
    size_t n;
} kula_key;

void kula_key_global(kula_key *k);
void kula_key_params(kula_key *k);
void kula_key_valset(kula_key *k, enum kula_valset_which which);
void kula_key_member(kula_key *k, uint32_t id);
void kula_key_pubkey(kula_key *k, const kula_pubkey *pk);
void kula_key_agreement(kula_key *k, const kula_hash *id);
void kula_key_referral(kula_key *k, const kula_hash *id);
void kula_key_pair(kula_key *k, uint32_t a, uint32_t b); /* orders a, b itself */
void kula_key_proposal(kula_key *k, const kula_hash *id);
void kula_key_vote(kula_key *k, const kula_hash *proposal, uint32_t member);
/* The key of an offence: one validator's votes of one type at one height
 * and round (18 bytes). */
void kula_key_evidence(kula_key *k, uint32_t validator, uint64_t height, uint32_t round,
                       uint8_t type);
/* The key that records an unsequenced transaction (nonce 0) as committed,
 * so that it commits at most once (proto/LEDGER.md §2.2). */
void kula_key_done(kula_key *k, const kula_hash *tx_id);
/* The key of an invoice: "I" || the id of the transaction that issued it. */
void kula_key_invoice(kula_key *k, const kula_hash *id);
void kula_key_observers(kula_key *k);

/* The key of clearing number n (1, 2, ...): "C" || be64 n. */
void kula_key_clearing(kula_key *k, uint64_t n);
void kula_key_clearings(kula_key *k);
void kula_key_clear_asked(kula_key *k);
/* The key of a member's opt-in to settlement: "S" || be32 member. */
void kula_key_settles(kula_key *k, uint32_t member);
/* The key of clearing n's settlement: "Z" || be64 n. */
void kula_key_settlement(kula_key *k, uint64_t n);

typedef struct kula_globals {
    uint32_t next_member;     /* id the next admitted member gets */
    uint32_t active_members;
    int64_t pools_total;      /* sum of all agreement pools */
} kula_globals;

enum kula_member_status { KULA_MEMBER_ACTIVE = 1, KULA_MEMBER_REMOVED = 2 };

typedef struct kula_member {
    uint32_t id;              /* from the key, not encoded */
    kula_pubkey pubkey;
    char name[KULA_MAX_NAME + 1];
    char sector[KULA_MAX_NAME + 1];
    int64_t credit_limit;
    uint32_t status;
    uint64_t voting_power;
    int64_t balance;
    uint64_t nonce;
    uint64_t joined;          /* height of admission (0: genesis) */
    uint64_t rating_sum;
    uint64_t rating_count;
} kula_member;

enum kula_agreement_status { KULA_AGREEMENT_OPEN = 1, KULA_AGREEMENT_CLOSED = 2 };

typedef struct kula_agreement {
    kula_hash id;             /* from the key */
    char label[KULA_MAX_LABEL + 1];
    char title[KULA_MAX_NAME + 1];
    uint32_t nparties;
    uint32_t parties[KULA_MAX_PARTIES];
    kula_rule rule;           /* SHAPLEY values borrow from the record bytes */
    const uint8_t *rule_raw;  /* canonical rule encoding, borrowed */
    size_t rule_raw_len;
    uint64_t term_end;        /* 0: open-ended */
    uint32_t referral_fee_bps;
    int64_t pool;
    uint32_t status;
    int64_t contributed[KULA_MAX_PARTIES]; /* acknowledged contributions */
    int64_t received[KULA_MAX_PARTIES];    /* paid out by settlements */
    int64_t benefits;         /* total paid into the pool */
    uint64_t opened;          /* height */
    uint64_t settlements;
} kula_agreement;

typedef struct kula_referral {
    kula_hash id;
    uint32_t referrer, receiver;
    kula_hash lead;
    int64_t fee;
    bool has_agreement;
    kula_hash agreement;
    uint64_t height;
} kula_referral;

typedef struct kula_pair {
    uint64_t exchanges;       /* completed exchanges between a and b */
    uint64_t feedback_ab;     /* ratings a gave b */
    uint64_t feedback_ba;     /* ratings b gave a */
} kula_pair;

enum kula_proposal_status {
    KULA_PROPOSAL_OPEN = 1,
    KULA_PROPOSAL_PASSED = 2,
    KULA_PROPOSAL_REJECTED = 3,
    KULA_PROPOSAL_FAILED = 4, /* passed, but its action was no longer valid */
};

typedef struct kula_proposal {
    kula_hash id;
    uint32_t proposer;
    kula_action action;       /* text fields borrow from the record bytes */
    const uint8_t *action_raw;
    size_t action_raw_len;
    uint64_t created, expires; /* heights; votes after expires are refused */
    uint32_t yes, no;
    uint32_t status;
    uint64_t decided;         /* height of the decision, 0 while open */
    int32_t failure;          /* kula_err of a FAILED action */
} kula_proposal;

/* Recorded evidence of equivocation (proto/LEDGER.md §7.5).  The offence
 * is the key; the record says who reported it and when. */
typedef struct kula_evidence {
    uint32_t validator;       /* from the key, not encoded */
    uint64_t height;          /* from the key */
    uint32_t round;           /* from the key */
    uint8_t type;             /* from the key: kula_vote_type */
    uint32_t reporter;        /* the member who reported it (the tx's from) */
    uint64_t recorded;        /* height of the block that recorded it */
} kula_evidence;

/* An invoice's states (proto/LEDGER.md §8): issued, then accepted or
 * disputed by the debtor; paid once nothing is owed; cancelled by the
 * issuer while nothing is paid.  Paid and cancelled are final. */
enum kula_invoice_status {
    KULA_INVOICE_ISSUED = 1,
    KULA_INVOICE_ACCEPTED = 2,
    KULA_INVOICE_DISPUTED = 3,
    KULA_INVOICE_PAID = 4,
    KULA_INVOICE_CANCELLED = 5,
};

/* Returns: the status's word ("accepted"), or NULL for an unknown one. */
const char *kula_invoice_status_name(uint32_t status);

/* An invoice (proto/LEDGER.md §8).  Its id is the id of the transaction
 * that issued it.  residual is what the debtor still owes: the amount less
 * what was paid and what a clearing set off (amount - paid - residual). */
typedef struct kula_invoice {
    kula_hash id;             /* from the key */
    uint32_t issuer, debtor;  /* the creditor, and who owes */
    int64_t amount;           /* > 0 */
    uint64_t due;             /* ms since the Unix epoch; 0: none */
    char reference[KULA_MAX_INVOICE_REF + 1];
    bool has_document;
    kula_hash document;       /* a hash of the invoice's document */
    uint32_t status;          /* enum kula_invoice_status */
    int64_t residual;         /* 0 <= residual <= amount - paid */
    int64_t paid;             /* the sum of its payments */
    uint64_t issued;          /* height of the block that issued it */
    uint64_t changed;         /* height of its last change of status or amounts */
    char reason[KULA_MAX_DESC + 1]; /* the debtor's reason for a dispute, else empty */
} kula_invoice;

/* One obligation of a clearing (proto/LEDGER.md §9): the accepted invoice
 * id owed `before` by debtor to creditor; the clearing set off `setoff`. */
typedef struct kula_clearing_item {
    kula_hash id;
    uint32_t debtor, creditor;
    int64_t before;           /* > 0 */
    int64_t setoff;           /* 0 <= setoff <= before */
} kula_clearing_item;

#define KULA_MAX_CLEARING_ITEMS 4000000u

/* A clearing (proto/LEDGER.md §9, SPEC §10.1): every obligation it took,
 * ascending by id, and its totals in minor units. */
__extension__ typedef unsigned __int128 kula_clearing_sum;
typedef struct kula_clearing {
    uint64_t number;          /* from the key */
    uint64_t height;          /* the block that ran it */
    kula_clearing_sum total_debt, cleared, remaining;
    uint32_t nitems;
    kula_clearing_item *items; /* decode: malloc'd, freed by kula_clearing_free */
} kula_clearing;

/* Frees what kula_clearing_decode allocated (c itself is the caller's). */
void kula_clearing_free(kula_clearing *c);

/* One payment of a settlement (proto/LEDGER.md §9.6): after the set-off,
 * debtor paid `amount` of invoice id to creditor from its credit. */
typedef struct kula_settlement_item {
    kula_hash id;
    uint32_t debtor, creditor;
    int64_t amount;           /* > 0 */
} kula_settlement_item;

/* The payments of clearing `number` (SPEC §10.1 "Z"), in the order they
 * were made: ascending debtor, then ascending invoice id. */
typedef struct kula_settlement {
    uint64_t number;          /* from the key */
    uint32_t n;               /* >= 1 */
    kula_settlement_item *items; /* decode: malloc'd, kula_settlement_free */
} kula_settlement;

void kula_settlement_free(kula_settlement *s);

typedef struct kula_validator {
    uint32_t id;
    uint64_t power;
} kula_validator;

typedef struct kula_valset {
    uint32_t n;
    kula_validator v[KULA_MAX_VALIDATORS]; /* ascending id */
    uint64_t total_power;
} kula_valset;

/* The observers governance admitted (SPEC §10.1 "O", LEDGER.md §6.4):
 * keys that may follow the chain without being members'. */
#define KULA_MAX_LEDGER_OBSERVERS 64

typedef struct kula_observer {
    kula_pubkey pubkey;
    char name[KULA_MAX_NAME + 1];
    uint64_t admitted; /* height of the block that admitted it */
} kula_observer;

typedef struct kula_observers {
    uint32_t n;
    kula_observer v[KULA_MAX_LEDGER_OBSERVERS]; /* ascending pubkey, bytewise */
} kula_observers;

/* Returns: the index of pk in os, or -1. */
int kula_observers_find(const kula_observers *os, const kula_pubkey *pk);

/* Each encoder appends the canonical record; each decoder validates it
 * strictly (records come from the store, which a corrupted disk can alter)
 * and returns 0 or a codec error.  Decoded text is copied into the struct,
 * except where the struct says it borrows. */
KULA_MUST_CHECK
int kula_globals_encode(kula_buf *out, const kula_globals *g);
KULA_MUST_CHECK
int kula_globals_decode(kula_globals *g, const uint8_t *p, size_t n);
KULA_MUST_CHECK
int kula_params_encode(kula_buf *out, const kula_params *pr);
KULA_MUST_CHECK
int kula_params_decode(kula_params *pr, const uint8_t *p, size_t n);
KULA_MUST_CHECK
int kula_member_encode(kula_buf *out, const kula_member *m);
KULA_MUST_CHECK
int kula_member_decode(kula_member *m, const uint8_t *p, size_t n);
KULA_MUST_CHECK
int kula_agreement_encode(kula_buf *out, const kula_agreement *a);
KULA_MUST_CHECK
int kula_agreement_decode(kula_agreement *a, const uint8_t *p, size_t n);
KULA_MUST_CHECK
int kula_referral_encode(kula_buf *out, const kula_referral *r);
KULA_MUST_CHECK
int kula_referral_decode(kula_referral *r, const uint8_t *p, size_t n);
KULA_MUST_CHECK
int kula_pair_encode(kula_buf *out, const kula_pair *x);
KULA_MUST_CHECK
int kula_pair_decode(kula_pair *x, const uint8_t *p, size_t n);
KULA_MUST_CHECK
int kula_proposal_encode(kula_buf *out, const kula_proposal *q);
KULA_MUST_CHECK
int kula_proposal_decode(kula_proposal *q, const uint8_t *p, size_t n);
KULA_MUST_CHECK
int kula_evidence_encode(kula_buf *out, const kula_evidence *e);
KULA_MUST_CHECK
int kula_evidence_decode(kula_evidence *e, const uint8_t *p, size_t n);
KULA_MUST_CHECK
int kula_invoice_encode(kula_buf *out, const kula_invoice *v);
KULA_MUST_CHECK
int kula_invoice_decode(kula_invoice *v, const uint8_t *p, size_t n);
KULA_MUST_CHECK
int kula_clearing_encode(kula_buf *out, const kula_clearing *c);
/* Checks the items ascend by id, each set-off is in [0, before], no debtor
 * is its creditor, and the totals are the sums. */
KULA_MUST_CHECK
int kula_clearing_decode(kula_clearing *c, const uint8_t *p, size_t n);
KULA_MUST_CHECK
int kula_settlement_encode(kula_buf *out, const kula_settlement *s);
/* Checks there is at least one payment, each amount > 0, no debtor is its
 * creditor and the payments strictly ascend by (debtor, invoice id). */
KULA_MUST_CHECK
int kula_settlement_decode(kula_settlement *s, const uint8_t *p, size_t n);
KULA_MUST_CHECK
int kula_valset_encode(kula_buf *out, const kula_valset *vs);
KULA_MUST_CHECK
int kula_valset_decode(kula_valset *vs, const uint8_t *p, size_t n);

KULA_MUST_CHECK
int kula_observers_encode(kula_buf *out, const kula_observers *os);
KULA_MUST_CHECK
int kula_observers_decode(kula_observers *os, const uint8_t *p, size_t n);

/* Encodes a rule / action alone (the forms used inside transactions). */
KULA_MUST_CHECK
int kula_rule_encode(kula_buf *out, const kula_rule *r);
KULA_MUST_CHECK
int kula_action_encode(kula_buf *out, const kula_action *a);
/* Decodes a standalone canonical rule / action. */
KULA_MUST_CHECK
int kula_rule_decode(kula_rule *r, const uint8_t *p, size_t n);
KULA_MUST_CHECK
int kula_action_decode(kula_action *a, const uint8_t *p, size_t n);

/* Returns: the index of member in the agreement's parties, or -1. */
int kula_agreement_party(const kula_agreement *a, uint32_t member);

#endif /* KULA_RECORDS_H */
