/* txjson.h -- transactions and ledger records as JSON (jansson), for the
 * node's API, the CLI and exports.  Amounts are integers of minor units;
 * ids, hashes and keys are lowercase hex. */
#ifndef KULA_TXJSON_H
#define KULA_TXJSON_H

#include <jansson.h>

#include "kula/types/records.h"
#include "kula/types/txkind.h"
#include "kula/types/types.h"

/* Returns: a new JSON object describing tx (kind, from, nonce, memo,
 *          expires in ms when it has one, the kind's fields, signers), or
 *          NULL on allocation failure. */
json_t *kula_tx_to_json(const kula_tx *tx);
json_t *kula_member_to_json(const kula_member *m);
/* With shares (may be NULL): the current pool's computed distribution. */
json_t *kula_agreement_to_json(const kula_agreement *a, const int64_t *shares);
json_t *kula_proposal_to_json(const kula_proposal *q);
json_t *kula_action_to_json(const kula_action *a);
json_t *kula_header_to_json(const kula_header *h, const kula_hash *hash);
/* Returns: a new JSON value of the field f describes in base (a kula_tx or
 *          a kula_action) when its type shows one way in every view:
 *          member, u32, amount, bool, text, hash (null when absent), pubkey,
 *          parties; NULL for the others (u64, rule, action, param, votes),
 *          whose JSON each view decides, or on allocation failure. */
json_t *kula_field_to_json(const void *base, const kula_field *f);
/* A new JSON string of the hex of n bytes. */
json_t *kula_json_hex(const uint8_t *p, size_t n);

#endif /* KULA_TXJSON_H */
