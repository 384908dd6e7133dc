/* fuzz_commit.c -- libFuzzer target for the commit decoder.
 *
 * Property: a commit kula_commit_decode accepts re-encodes to exactly the
 * input, with strictly ascending validators. */
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
    static kula_commit c; /* 17 KB: not on the stack */
    if (!ready) {
        if (kula_crypto_init() != KULA_OK)
            abort();
        ready = 1;
    }
    if (size == 0)
        data = (const uint8_t *)"";

    int rc = kula_commit_decode(&c, data, size);
    if (rc != KULA_OK) {
        if (!codec_err(rc))
            abort();
        return 0;
    }
    if (c.nsigs == 0 || c.nsigs > KULA_MAX_VALIDATORS)
        abort();
    for (uint32_t i = 1; i < c.nsigs; i++)
        if (c.sigs[i].validator <= c.sigs[i - 1].validator)
            abort();
    kula_buf b;
    kula_buf_init(&b);
    if (kula_commit_encode(&b, &c) != KULA_OK || b.len != size || memcmp(b.data, data, size) != 0)
        abort();
    kula_buf_free(&b);
    return 0;
}
