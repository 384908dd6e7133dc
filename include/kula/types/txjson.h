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
/* An invoice: id, issuer, debtor, amount, residual, paid, set_off (amount
 * less paid less residual, for a cancelled one 0), due (ms, 0: none),
 * reference, document (hex or null), status ("issued"...), reason (while
 * disputed), issued and changed (heights). */
json_t *kula_invoice_to_json(const kula_invoice *v);
json_t *kula_action_to_json(const kula_action *a);
json_t *kula_header_to_json(const kula_header *h, const kula_hash *hash);
/* Two views of the same fields: the node's API (kula_tx_to_json), and the
 * protocol vectors' "fields" (proto/vectors/README.md), which differ in a
 * uint64 above 2^63-1 (API: wrapped; vectors: decimal text), a Shapley
 * rule's values key, an action (API: its keys join the transaction's as
 * "action", name...; vectors: a nested object with "kind", "param_name"),
 * and an evidence's votes (API: the offence; vectors: both votes whole). */
enum kula_json_view { KULA_JSON_API, KULA_JSON_VECTORS };

/* Sets in o the keys of the fields d describes in base (a kula_tx for a
 * transaction kind, a kula_action for an action kind), as view shows them. */
void kula_fields_to_json(json_t *o, const void *base, const kula_kind_desc *d,
                         enum kula_json_view view);
/* Returns: a new JSON object of a vote as the vectors show it (type, height,
 *          round, block_hash or null, validator; with_sig: and sig), or NULL. */
json_t *kula_vote_to_json(const kula_vote *v, bool with_sig);
/* Returns: a new JSON integer, or above INT64_MAX a decimal string, or NULL. */
json_t *kula_json_u64(uint64_t v);
/* A new JSON string of the hex of n bytes. */
json_t *kula_json_hex(const uint8_t *p, size_t n);

#endif /* KULA_TXJSON_H */
