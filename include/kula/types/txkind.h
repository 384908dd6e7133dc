/* txkind.h -- one description of each transaction kind's payload and each
 * governance action's fields (proto/SPEC.md §6), walked by the encoder,
 * the decoder, the JSON of the API and of the vectors, and the audit.
 *
 * A payload is the msgpack array of its fields in the order described;
 * adding a kind is one line in KULA_TX_KINDS (types.h) and one list of
 * fields in node/types/txkind.c. */
#ifndef KULA_TXKIND_H
#define KULA_TXKIND_H

#include <stddef.h>
#include <stdint.h>

#include "kula/types/types.h"

/* What a field holds, and so how it is encoded (SPEC §6) and shown. */
enum kula_field_type {
    KULA_F_MEMBER,    /* uint32_t member id: uint */
    KULA_F_U32,       /* uint32_t: uint of at most max */
    KULA_F_U64,       /* uint64_t: uint */
    KULA_F_AMOUNT,    /* int64_t minor units: int (the ledger checks signs) */
    KULA_F_BOOL,      /* bool */
    KULA_F_TEXT,      /* kula_text: str of at most max bytes of UTF-8 */
    KULA_F_HASH,      /* kula_hash: bin 32 */
    KULA_F_OPT_HASH,  /* kula_hash and the bool at aux: bin 32, or bin 0 when false */
    KULA_F_PUBKEY,    /* kula_pubkey: bin 32 */
    KULA_F_PARTIES,   /* uint32_t[] and its uint32_t count at aux: [member...] */
    KULA_F_RULE,      /* kula_rule (§6.6) */
    KULA_F_ACTION,    /* kula_action: [kind, its fields...] */
    KULA_F_PARAM,     /* uint32_t parameter id (enum kula_param_id): uint */
    KULA_F_VOTE,      /* kula_vote: a signed vote (§7.1) */
    KULA_F_VOTE_NEXT, /* kula_vote whose encoding sorts strictly after the
                       * previous field's (§6.18), else KULA_EORDER */
};

/* What a field means beyond its type, for readers that follow members and
 * agreements without knowing every kind. */
enum kula_field_role {
    KULA_ROLE_NONE,
    KULA_ROLE_OTHER,     /* the member on the other side of the initiator */
    KULA_ROLE_AGREEMENT, /* the agreement the transaction concerns */
    KULA_ROLE_INVOICE,   /* the invoice the transaction concerns */
};

typedef struct kula_field {
    const char *name; /* the JSON key (proto/vectors/README.md, the API) */
    uint8_t type;     /* enum kula_field_type */
    uint8_t role;     /* enum kula_field_role */
    uint32_t max;     /* TEXT: bytes; U32: the largest value */
    size_t off;       /* of the value, in kula_tx (payloads) or kula_action */
    size_t aux;       /* OPT_HASH: of its bool; PARTIES: of its count */
} kula_field;

typedef struct kula_kind_desc {
    const char *name;         /* NULL: no such kind */
    uint32_t nfields;         /* the payload's (an action's: after its kind) */
    const kula_field *fields;
} kula_kind_desc;

/* Returns: the description of transaction kind `kind`, or NULL if unknown.
 *          Static storage. */
const kula_kind_desc *kula_tx_kind_desc(unsigned kind);
/* Returns: the description of action kind `kind`, or NULL if unknown. */
const kula_kind_desc *kula_action_kind_desc(unsigned kind);

/* The value field f describes in base (a kula_tx or a kula_action). */
#define KULA_FIELD(T, base, f) ((T *)(void *)((char *)(base) + (f)->off))
#define KULA_FIELD_AUX(T, base, f) ((T *)(void *)((char *)(base) + (f)->aux))
#define KULA_CFIELD(T, base, f) ((const T *)(const void *)((const char *)(base) + (f)->off))
#define KULA_CFIELD_AUX(T, base, f) \
    ((const T *)(const void *)((const char *)(base) + (f)->aux))

/* Returns: the member tx names on the other side of its initiator (the
 *          recipient, counterparty, acknowledger...), or 0 if its kind
 *          names none. */
uint32_t kula_tx_other(const kula_tx *tx);
/* Returns: the agreement tx concerns: its own id for an agreement-open,
 *          the one it names otherwise, or NULL if none.  Points into tx. */
const kula_hash *kula_tx_agreement(const kula_tx *tx);

/* Returns: the invoice tx concerns: its own id for an invoice, the one it
 *          names for the other invoice kinds, or NULL.  Points into tx. */
const kula_hash *kula_tx_invoice(const kula_tx *tx);

#endif /* KULA_TXKIND_H */
