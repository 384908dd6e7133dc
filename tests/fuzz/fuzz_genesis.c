/* fuzz_genesis.c -- libFuzzer target for the canonical genesis decoder.
 *
 * Property: a genesis kula_genesis_decode accepts is canonical -- encoding it
 * gives back exactly the input -- and its chain id is BLAKE2b-256 of the
 * input, so no two byte strings stand for one network. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kula/codec/codec.h"
#include "kula/crypto/crypto.h"
#include "kula/base/error.h"
#include "kula/types/genesis.h"

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

    kula_genesis g;
    int rc = kula_genesis_decode(&g, data, size);
    if (rc != KULA_OK) {
        if (!codec_err(rc) && rc != KULA_EGENESIS && rc != KULA_ENOMEM)
            abort();
        return 0;
    }
    kula_buf b;
    kula_buf_init(&b);
    if (kula_genesis_encode(&b, &g) != KULA_OK || b.len != size ||
        memcmp(b.data, data, size) != 0)
        abort();
    kula_hash id;
    kula_hash_bytes(&id, data, size);
    if (memcmp(id.b, g.chain_id.b, KULA_HASH_LEN) != 0)
        abort();
    if (kula_genesis_validate(&g, NULL) != KULA_OK)
        abort();
    kula_buf_free(&b);
    kula_genesis_free(&g);
    return 0;
}
