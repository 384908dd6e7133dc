/* vecjson.h -- decoded values as the vectors' "fields" JSON
 * (proto/vectors/README.md), shared by the generator (gen_vectors.c) and the
 * checker (tests/unit/test_vectors.c); a payload's fields are the kind
 * description's (kula/types/txkind.h) in the vectors' view of txjson.h. */
#ifndef KULA_VECJSON_H
#define KULA_VECJSON_H

#include <jansson.h>

#include "kula/types/txjson.h"
#include "kula/types/types.h"

/* Each returns a new JSON value, or NULL when out of memory.  A uint64 is
 * kula_json_u64's, a vote kula_vote_to_json's (kula/types/txjson.h). */
json_t *vj_hex(const void *p, size_t n);
json_t *vj_hash(const kula_hash *h);
/* A transaction's body: {version, kind, from, nonce, payload, memo[, expires]},
 * the payload an object of its kind's fields.  A key whose value cannot be
 * made (text that is not UTF-8) is missing. */
json_t *vj_tx(const kula_tx *tx);
json_t *vj_header(const kula_header *h);
/* A commit's height, round and block hash (its signers are listed apart). */
json_t *vj_commit(const kula_commit *c);

#endif /* KULA_VECJSON_H */
