/* fuzz_tx.c -- libFuzzer target for the transaction decoder.
 *
 * Property: whatever kula_tx_decode accepts is canonical, so encoding the
 * decoded transaction gives back exactly the input (one transaction, one
 * encoding), and its id is BLAKE2b-256 of its body.  kula_tx_decode_prefix
 * of the input accepts it exactly when kula_tx_decode does and reads all
 * of it; with bytes after it, the same (never reading them). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kula/codec/codec.h"
#include "kula/crypto/crypto.h"
#include "kula/base/error.h"
#include "kula/types/types.h"

/* Returns: true if rc is one of the codec's errors (ETRUNC .. EORDER). */
static bool codec_err(int rc) { return rc <= KULA_ETRUNC && rc >= KULA_EORDER; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        if (kula_crypto_init() != KULA_OK)
            abort();
        ready = 1;
    }
    if (size == 0)
        data = (const uint8_t *)""; /* never hand the codec a NULL pointer */

    static kula_tx tx, pre; /* 1.4 KB each: not on the stack */
    int rc = kula_tx_decode(&tx, data, size);
    size_t used;
    int rc_pre = kula_tx_decode_prefix(&pre, data, size, &used);
    if (rc_pre == KULA_OK && used == size && rc != KULA_OK)
        abort(); /* the prefix decoder took all of it: so must the other */
    if (rc != KULA_OK) {
        if (!codec_err(rc))
            abort();
        return 0;
    }
    if (rc_pre != KULA_OK || used != size || memcmp(pre.id.b, tx.id.b, KULA_HASH_LEN) != 0)
        abort();
    /* the same bytes with one more after them */
    uint8_t *more = malloc(size + 1);
    if (more == NULL)
        abort();
    memcpy(more, data, size);
    more[size] = 0xc0;
    if (kula_tx_decode_prefix(&pre, more, size + 1, &used) != KULA_OK || used != size ||
        memcmp(pre.id.b, tx.id.b, KULA_HASH_LEN) != 0)
        abort();
    free(more);
    kula_buf b;
    kula_buf_init(&b);
    if (kula_tx_encode(&b, &tx) != KULA_OK || b.len != size || memcmp(b.data, data, size) != 0)
        abort();
    kula_buf_reset(&b);
    if (kula_tx_encode_body(&b, &tx) != KULA_OK || b.len != tx.body_len ||
        memcmp(b.data, tx.body, b.len) != 0)
        abort();
    kula_hash id;
    kula_hash_bytes(&id, tx.body, tx.body_len);
    if (memcmp(id.b, tx.id.b, KULA_HASH_LEN) != 0)
        abort();
    if (tx.kind == KULA_TX_AGREEMENT_OPEN || tx.kind == KULA_TX_AGREEMENT_AMEND) {
        const kula_rule *r = tx.kind == KULA_TX_AGREEMENT_OPEN ? &tx.u.open.rule
                                                               : &tx.u.amend.rule;
        if (r->kind == KULA_RULE_SHAPLEY) {
            int64_t *v = malloc(r->nvalues * sizeof(*v));
            if (v == NULL || kula_rule_shapley_values(r, v) != KULA_OK)
                abort();
            free(v);
        }
    }
    kula_buf_free(&b);
    return 0;
}
