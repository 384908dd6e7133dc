/* fuzz_vote.c -- libFuzzer target for the consensus vote decoder.
 *
 * Property: a vote kula_vote_decode accepts re-encodes to exactly the input,
 * and its body encoding is the input's first element. */
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
        data = (const uint8_t *)"";

    kula_vote v;
    int rc = kula_vote_decode(&v, data, size);
    if (rc != KULA_OK) {
        if (!codec_err(rc))
            abort();
        return 0;
    }
    if (v.type != KULA_VOTE_PREVOTE && v.type != KULA_VOTE_PRECOMMIT)
        abort();
    kula_buf b;
    kula_buf_init(&b);
    if (kula_vote_encode(&b, &v) != KULA_OK || b.len != size || memcmp(b.data, data, size) != 0)
        abort();
    kula_buf_reset(&b);
    /* [body, sig]: the body starts after the one-byte array header. */
    if (kula_vote_encode_body(&b, &v) != KULA_OK || b.len + 1 > size ||
        memcmp(b.data, data + 1, b.len) != 0)
        abort();
    kula_hash h;
    kula_vote_sighash(&h, NULL, &v);
    kula_buf_free(&b);
    return 0;
}
