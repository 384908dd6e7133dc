/* types.h -- the protocol's structures, limits and domain tags (proto/SPEC.md).
 *
 * Decoded structures borrow: text and byte fields point into the encoded
 * input they were decoded from, which must outlive them.  Fixed-size fields
 * (keys, hashes, signatures) are copied. */
#ifndef KULA_TYPES_H
#define KULA_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kula/base/error.h"
#include "kula/codec/codec.h"
#include "kula/crypto/crypto.h"

/* ---- limits (proto/SPEC.md §4) ---- */
#define KULA_VERSION 1
/* The transaction body of a dated transaction, [2, kind, from, nonce,
 * payload, memo, expires] (§6.1); undated bodies keep KULA_VERSION. */
#define KULA_TX_VERSION_DATED 2
#define KULA_MAX_TX_BYTES (1u << 20)     /* a Shapley table of 16 parties fits */
#define KULA_MAX_BLOCK_BYTES (16u << 20)
#define KULA_MAX_BLOCK_TXS 20000u
#define KULA_MAX_VALIDATORS 256u
#define KULA_MAX_MEMBERS 100000u
#define KULA_MAX_PARTIES 16u
#define KULA_MAX_MEMO 256u
#define KULA_MAX_NAME 64u
#define KULA_MAX_LABEL 32u
#define KULA_MAX_DESC 256u
#define KULA_MAX_COMMENT 140u
#define KULA_MAX_INVOICE_REF 64u /* an invoice's reference ("2026-117") */
#define KULA_MAX_NETWORK_NAME 64u
#define KULA_MAX_UNIT_NAME 16u
#define KULA_MAX_DECIMALS 18u
#define KULA_BPS_DENOM 10000u

/* ---- domain tags: exactly KULA_TAG_LEN bytes, NUL padded (§3) ---- */
extern const uint8_t KULA_TAG_TX[KULA_TAG_LEN];       /* "kula/tx/v1" */
extern const uint8_t KULA_TAG_VOTE[KULA_TAG_LEN];     /* "kula/vote/v1" */
extern const uint8_t KULA_TAG_PROPOSAL[KULA_TAG_LEN]; /* "kula/proposal/v1" */

/* ---- transactions ---- */
/* Every transaction kind once: X(ENUM, number, name).  The number is wire
 * format (proto/SPEC.md §6): never renumber, only append.  The kind's
 * payload fields are described in kula/types/txkind.h. */
#define KULA_TX_KINDS(X)                          \
    X(TRANSFER, 1, "transfer")                    \
    X(EXCHANGE, 2, "exchange")                    \
    X(REFERRAL, 3, "referral")                    \
    X(CONVERSION, 4, "conversion")                \
    X(AGREEMENT_OPEN, 5, "agreement-open")        \
    X(AGREEMENT_AMEND, 6, "agreement-amend")      \
    X(CONTRIBUTE, 7, "contribute")                \
    X(BENEFIT, 8, "benefit")                      \
    X(SETTLE, 9, "settle")                        \
    X(AGREEMENT_CLOSE, 10, "agreement-close")     \
    X(FEEDBACK, 11, "feedback")                   \
    X(PROPOSE, 12, "propose")                     \
    X(VOTE, 13, "vote")                           \
    X(EVIDENCE, 14, "evidence")                   \
    X(INVOICE, 15, "invoice")                     \
    X(INVOICE_ACCEPT, 16, "invoice-accept")       \
    X(INVOICE_DISPUTE, 17, "invoice-dispute")     \
    X(INVOICE_CANCEL, 18, "invoice-cancel")       \
    X(INVOICE_PAY, 19, "invoice-pay")            \
    X(CLEARING_SETTLE, 20, "clearing-settle")

enum kula_tx_kind {
#define KULA_X_(id, num, name) KULA_TX_##id = num,
    KULA_TX_KINDS(KULA_X_)
#undef KULA_X_
};
#define KULA_TX_KIND_MAX 20
/* The size of a table indexed by kind (entry 0 unused). */
#define KULA_TX_KIND_COUNT (KULA_TX_KIND_MAX + 1)

/* Returns: the kind's name as used in proto/SPEC.md and the CLI ("transfer"),
 *          or NULL for an unknown kind. */
const char *kula_tx_kind_name(unsigned kind);

/* Distribution rules: X(ENUM, number, name); the number is wire format. */
#define KULA_RULE_KINDS(X)        \
    X(EQUAL, 0, "equal")          \
    X(WEIGHTS, 1, "weights")      \
    X(PRORATA, 2, "pro-rata")     \
    X(SHAPLEY, 3, "shapley")

enum kula_rule_kind {
#define KULA_X_(id, num, name) KULA_RULE_##id = num,
    KULA_RULE_KINDS(KULA_X_)
#undef KULA_X_
};

/* Returns: the rule's name ("pro-rata"), or NULL for an unknown kind. */
const char *kula_rule_kind_name(unsigned kind);

/* A distribution rule.  For SHAPLEY, the 2^n coalition values are kept as
 * their canonical encoding (a msgpack array of ints); read them with
 * kula_rule_shapley_values(). */
typedef struct kula_rule {
    uint8_t kind;
    uint32_t nweights;                  /* WEIGHTS: one per party */
    uint32_t weights[KULA_MAX_PARTIES];
    uint32_t nvalues;                   /* SHAPLEY: 2^parties */
    const uint8_t *values_raw;
    size_t values_raw_len;
} kula_rule;

/* Decodes the Shapley values of rule into out (rule->nvalues entries). */
KULA_MUST_CHECK
int kula_rule_shapley_values(const kula_rule *rule, int64_t *out);

typedef struct kula_text { const char *p; size_t n; } kula_text;

/* Governance actions: X(ENUM, number, name); the number is wire format.
 * Their fields are described in kula/types/txkind.h. */
#define KULA_ACTION_KINDS(X)              \
    X(ADMIT, 1, "admit")                  \
    X(REMOVE, 2, "remove")                \
    X(CREDIT_LIMIT, 3, "credit-limit")    \
    X(PARAM, 4, "param")                  \
    X(ROTATE_KEY, 5, "rotate-key")        \
    X(CLEAR, 6, "clear")                  \
    X(ADMIT_OBSERVER, 7, "admit-observer") \
    X(REMOVE_OBSERVER, 8, "remove-observer")

enum kula_action_kind {
#define KULA_X_(id, num, name) KULA_ACT_##id = num,
    KULA_ACTION_KINDS(KULA_X_)
#undef KULA_X_
};
#define KULA_ACT_KIND_MAX 8

/* Returns: the action's name ("credit-limit"), or NULL for an unknown kind. */
const char *kula_action_kind_name(unsigned kind);

/* Parameter identifiers for KULA_ACT_PARAM, in genesis "params" order. */
enum kula_param_id {
    KULA_PARAM_DEFAULT_CREDIT_LIMIT = 1,
    KULA_PARAM_THRESHOLD_NUM = 2,
    KULA_PARAM_THRESHOLD_DEN = 3,
    KULA_PARAM_PROPOSAL_TTL = 4,
    KULA_PARAM_BLOCK_INTERVAL_MS = 5,
    KULA_PARAM_TIMEOUT_PROPOSE_MS = 6,
    KULA_PARAM_TIMEOUT_VOTE_MS = 7,
    KULA_PARAM_TIMEOUT_DELTA_MS = 8,
    KULA_PARAM_MAX_BLOCK_TXS = 9,
    KULA_PARAM_CLEARING_INTERVAL = 10,
    KULA_PARAM_SNAPSHOT_INTERVAL = 11,
};
#define KULA_PARAM_COUNT 11
/* Parameters 1..9 are always encoded; later ones only when not 0 (proto/
 * SPEC.md §8.1), so that chain ids and state roots from before they
 * existed stay the same. */
#define KULA_PARAM_COUNT_BASE 9

typedef struct kula_action {
    uint8_t kind;
    uint32_t member;        /* REMOVE, CREDIT_LIMIT, ROTATE_KEY */
    kula_pubkey pubkey;     /* ADMIT, ROTATE_KEY, ADMIT_OBSERVER, REMOVE_OBSERVER */
    kula_text name, sector; /* ADMIT; name also ADMIT_OBSERVER */
    int64_t credit_limit;   /* ADMIT, CREDIT_LIMIT */
    uint64_t voting_power;  /* ADMIT */
    uint32_t param;         /* PARAM */
    int64_t value;          /* PARAM */
} kula_action;

/* A consensus vote (§7.1); also the payload of an evidence transaction. */
enum kula_vote_type { KULA_VOTE_PREVOTE = 1, KULA_VOTE_PRECOMMIT = 2 };

typedef struct kula_vote {
    uint8_t type;
    uint64_t height;
    uint32_t round;
    bool has_block;       /* false: a vote for nil */
    kula_hash block_hash;
    uint32_t validator;   /* member id */
    kula_sig sig;
} kula_vote;

typedef struct kula_tx_sig {
    uint32_t signer;
    kula_sig sig;
} kula_tx_sig;

typedef struct kula_tx {
    uint8_t kind;
    uint32_t from;   /* the initiating member; its nonce orders and dedups */
    uint64_t nonce;  /* 0: unsequenced, protected from replay by its id (expires != 0) */
    uint64_t expires; /* 0: none; else the last block time (ms) it may commit in:
                       * body version 2 (proto/SPEC.md §6.1) */
    kula_text memo;
    union {
        struct { uint32_t to; int64_t amount; } transfer;
        struct {
            uint32_t counterparty;
            kula_text gives; int64_t gives_value;       /* from -> counterparty */
            kula_text receives; int64_t receives_value; /* counterparty -> from */
        } exchange;
        struct {
            uint32_t receiver; kula_hash lead; int64_t fee;
            bool has_agreement; kula_hash agreement;
        } referral;
        struct { kula_hash referral; int64_t value; } conversion;
        struct {
            kula_text label, title;
            uint32_t nparties; uint32_t parties[KULA_MAX_PARTIES];
            kula_rule rule; uint64_t term_end; uint32_t referral_fee_bps;
        } open;
        struct {
            kula_hash agreement; kula_text title; kula_rule rule;
            uint64_t term_end; uint32_t referral_fee_bps;
        } amend;
        struct {
            kula_hash agreement; int64_t value; kula_text description;
            uint32_t acknowledger;
        } contribute;
        struct { kula_hash agreement; int64_t amount; kula_text description; } benefit;
        struct { kula_hash agreement; } settle; /* also AGREEMENT_CLOSE */
        struct { uint32_t about; uint32_t rating; kula_text comment; } feedback;
        struct { kula_action action; } propose;
        struct { kula_hash proposal; bool approve; } vote;
        /* EVIDENCE: two signed votes of one validator for one (type,
         * height, round) and different blocks; a's canonical encoding
         * sorts before b's (§6.18). */
        struct { kula_vote a, b; } evidence;
        /* INVOICE: from (the issuer) bills debtor; due in ms since the
         * Unix epoch (0: none); document, a hash of the invoice's file. */
        struct {
            uint32_t debtor; int64_t amount; uint64_t due; kula_text reference;
            bool has_document; kula_hash document;
        } invoice;
        /* INVOICE_ACCEPT, INVOICE_CANCEL; reason: INVOICE_DISPUTE only;
         * amount: INVOICE_PAY only. */
        struct { kula_hash invoice; kula_text reason; int64_t amount; } inv;
        /* CLEARING_SETTLE: opt in (true) or out of settling the remainder
         * at clearings (proto/LEDGER.md §9.6) */
        struct { bool on; } csettle;
    } u;
    uint32_t nsigs;
    kula_tx_sig sigs[KULA_MAX_PARTIES]; /* strictly ascending signer */
    /* Set by kula_tx_decode: */
    const uint8_t *body;  /* borrowed canonical body bytes */
    size_t body_len;
    kula_hash id;         /* BLAKE2b-256(body) */
} kula_tx;

/* Appends the canonical body (§6.1): [1, kind, from, nonce, payload, memo]
 * when tx->expires is 0, else [2, kind, from, nonce, payload, memo,
 * expires], so every transaction has exactly one encoding. */
KULA_MUST_CHECK
int kula_tx_encode_body(kula_buf *out, const kula_tx *tx);
/* Appends the canonical signed transaction [body, signatures]. */
KULA_MUST_CHECK
int kula_tx_encode(kula_buf *out, const kula_tx *tx);
/* Decodes a signed transaction of at most KULA_MAX_TX_BYTES; sets body/id.
 * A version 1 body decodes with expires 0; a version 2 body must carry
 * expires >= 1 (ERANGE).
 * Returns: 0 or a codec error (ETRUNC, ENONCANON, ETYPE, ETRAILING, EVERSION,
 *          ETOOBIG, EUTF8, ERANGE, EARITY, EORDER). */
KULA_MUST_CHECK
int kula_tx_decode(kula_tx *tx, const uint8_t *data, size_t len);
/* As kula_tx_decode, taking the id an earlier successful kula_tx_decode of
 * the same bytes computed instead of hashing the body again (a block's
 * transactions are hashed ahead on another thread during a reindex).  The
 * caller vouches for the id; nothing checks it. */
KULA_MUST_CHECK
int kula_tx_decode_known_id(kula_tx *tx, const uint8_t *data, size_t len, const kula_hash *id);
/* As kula_tx_decode, of the transaction data starts with (len bytes are
 * there; what follows it is not read).  Out: *used, its length (0 on
 * failure).  Returns: as kula_tx_decode; ETOOBIG when *used would be over
 * KULA_MAX_TX_BYTES; never ETRAILING. */
KULA_MUST_CHECK
int kula_tx_decode_prefix(kula_tx *tx, const uint8_t *data, size_t len, size_t *used);
/* The digest each party signs: BLAKE2b-256(KULA_TAG_TX || chain id || body). */
void kula_tx_sighash(kula_hash *out, const kula_hash *chain_id, const kula_tx *tx);
/* Computes tx->id from an encoded body. */
void kula_tx_set_id(kula_tx *tx, const uint8_t *body, size_t len);
/* Encodes tx's body into body (reset first) and points tx->body/body_len at
 * it, setting tx->id: the step before signing.  body must outlive tx's use.
 * Returns: 0 or the encoder's error. */
KULA_MUST_CHECK
int kula_tx_seal(kula_tx *tx, kula_buf *body);
/* Signs the sealed tx as `signer` with sk and adds the signature.
 * Returns: 0, KULA_EINVAL if not sealed, KULA_EBADKEY, KULA_ETOOBIG. */
KULA_MUST_CHECK
int kula_tx_sign(kula_tx *tx, const kula_hash *chain_id, uint32_t signer, const kula_seckey *sk);
/* Adds (or replaces) the signature of `signer`, keeping sigs ascending.
 * Returns: 0, or KULA_ETOOBIG if KULA_MAX_PARTIES signatures are present. */
KULA_MUST_CHECK
int kula_tx_add_sig(kula_tx *tx, uint32_t signer, const kula_sig *sig);

/* ---- blocks ---- */

typedef struct kula_header {
    uint32_t version;
    kula_hash chain_id;
    uint64_t height;         /* first block is 1; genesis is height 0 */
    uint64_t time_ms;        /* proposer's clock, ms since the Unix epoch */
    kula_hash prev_hash;     /* zero at height 1 */
    kula_hash txs_root;      /* kula_txs_root of the block's transactions */
    kula_hash state_root;    /* state root after applying the block */
    uint32_t proposer;       /* member id */
    kula_hash last_commit_hash; /* hash of the parent's commit; zero at height 1 */
} kula_header;

typedef struct kula_commit_sig {
    uint32_t validator;
    kula_sig sig;
} kula_commit_sig;

/* Precommits for one block by more than 2/3 of the voting power. */
typedef struct kula_commit {
    uint64_t height;
    uint32_t round;
    kula_hash block_hash;
    uint32_t nsigs;
    kula_commit_sig sigs[KULA_MAX_VALIDATORS]; /* strictly ascending validator */
} kula_commit;

typedef struct kula_block {
    kula_header header;
    const uint8_t *header_raw; size_t header_raw_len;  /* borrowed */
    uint32_t ntxs;
    const uint8_t **txs; size_t *tx_lens;  /* owned arrays of borrowed slices */
    bool has_last_commit;
    kula_commit *last_commit;              /* owned, when has_last_commit */
    kula_hash hash;                        /* kula_header_hash */
} kula_block;

KULA_MUST_CHECK
int kula_header_encode(kula_buf *out, const kula_header *h);
KULA_MUST_CHECK
int kula_header_decode(kula_header *h, const uint8_t *data, size_t len);
/* Out: the block hash, BLAKE2b-256 of the canonical header. */
void kula_header_hash(kula_hash *out, const kula_header *h);

/* Merkle root over the signed transactions' bytes (§5.3):
 * leaf = H(0x00 || tx), node = H(0x01 || left || right), an odd node is
 * promoted unchanged, and the empty root is H() of no bytes. */
void kula_txs_root(kula_hash *out, const uint8_t *const *txs, const size_t *lens, uint32_t n);

/* Appends [header, [tx...], commit-or-nil]. txs are canonical signed txs. */
KULA_MUST_CHECK
int kula_block_encode(kula_buf *out, const kula_header *h, const uint8_t *const *txs,
                      const size_t *lens, uint32_t ntxs, const kula_commit *last_commit);
/* Decodes a block; allocates the tx slice arrays and commit (free with
 * kula_block_free).  Each tx is checked to be one canonical value of at most
 * KULA_MAX_TX_BYTES; full tx decoding is the ledger's job. */
KULA_MUST_CHECK
int kula_block_decode(kula_block *b, const uint8_t *data, size_t len);
/* As kula_block_decode, with each transaction decoded in full
 * (kula_tx_decode_prefix) where kula_block_decode walks it as a value: a
 * transaction that decodes is one canonical value, so one reading does
 * both.  Out: *ids, b->ntxs transaction ids (free(); NULL when there are
 * none).  Returns: 0; or, with *b and *ids empty, not 0 when the block
 * or one of its transactions does not decode (kula_block_decode then tells
 * whether the block itself does). */
KULA_MUST_CHECK
int kula_block_decode_txs(kula_block *b, const uint8_t *data, size_t len, kula_hash **ids);
void kula_block_free(kula_block *b);

KULA_MUST_CHECK
int kula_vote_encode_body(kula_buf *out, const kula_vote *v);
KULA_MUST_CHECK
int kula_vote_encode(kula_buf *out, const kula_vote *v);
KULA_MUST_CHECK
int kula_vote_decode(kula_vote *v, const uint8_t *data, size_t len);
void kula_vote_sighash(kula_hash *out, const kula_hash *chain_id, const kula_vote *v);
/* Bytewise order of the canonical encodings of two signed votes, the order
 * of an evidence transaction's votes (§6.18).
 * Returns: < 0, 0 or > 0 as a's encoding sorts before, equals or sorts
 *          after b's (0 also if either cannot be encoded: out of memory). */
int kula_vote_cmp(const kula_vote *a, const kula_vote *b);

KULA_MUST_CHECK
int kula_commit_encode(kula_buf *out, const kula_commit *c);
KULA_MUST_CHECK
int kula_commit_decode(kula_commit *c, const uint8_t *data, size_t len);
void kula_commit_hash(kula_hash *out, const kula_commit *c);

#endif /* KULA_TYPES_H */
