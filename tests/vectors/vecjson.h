/* vecjson.h -- decoded values as the vectors' "fields" JSON
 * (proto/vectors/README.md), shared by the generator (gen_vectors.c) and the
 * checker (tests/unit/test_vectors.c) so both walk the one description of
 * each transaction kind (kula/types/txkind.h). */
#ifndef KULA_VECJSON_H
#define KULA_VECJSON_H

#include <jansson.h>

#include "kula/types/types.h"

/* Each returns a new JSON value, or NULL when out of memory (vj_text also
 * when t is not valid UTF-8). */
json_t *vj_hex(const void *p, size_t n);
json_t *vj_hash(const kula_hash *h);
/* An integer, or above INT64_MAX (beyond jansson) a decimal string. */
json_t *vj_u64(uint64_t v);
json_t *vj_text(kula_text t);
/* A transaction's body: {version, kind, from, nonce, payload, memo[, expires]},
 * the payload an object of its kind's fields.  A key whose value cannot be
 * made (text that is not UTF-8) is missing. */
json_t *vj_tx(const kula_tx *tx);
json_t *vj_header(const kula_header *h);
/* A vote's fields; with_sig: and its signature, as an evidence carries it. */
json_t *vj_vote(const kula_vote *v, bool with_sig);
/* A commit's height, round and block hash (its signers are listed apart). */
json_t *vj_commit(const kula_commit *c);

#endif /* KULA_VECJSON_H */
