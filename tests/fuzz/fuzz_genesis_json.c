/* fuzz_genesis_json.c -- libFuzzer target for GENESIS.json parsing.
 *
 * Property: text kula_genesis_parse_json accepts gives a genesis whose
 * canonical encoding decodes (kula_genesis_decode) to the same chain id and
 * re-encodes to the same bytes; and kula_genesis_to_json of it parses back
 * to the same chain id. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kula/codec/codec.h"
#include "kula/crypto/crypto.h"
#include "kula/base/error.h"
#include "kula/types/genesis.h"

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

    kula_genesis g, d, back;
    kula_error err = { 0 };
    int rc = kula_genesis_parse_json(&g, (const char *)data, size, &err);
    if (rc != KULA_OK) {
        if (rc != KULA_EGENESIS && rc != KULA_ENOMEM)
            abort();
        if (rc == KULA_EGENESIS && strlen(err.what) == 0) /* every rejection says why */
            abort();
        return 0;
    }
    kula_buf b, b2;
    kula_buf_init(&b);
    kula_buf_init(&b2);
    if (kula_genesis_encode(&b, &g) != KULA_OK)
        abort();
    if (kula_genesis_decode(&d, b.data, b.len) != KULA_OK)
        abort();
    if (memcmp(d.chain_id.b, g.chain_id.b, KULA_HASH_LEN) != 0)
        abort();
    if (kula_genesis_encode(&b2, &d) != KULA_OK || b2.len != b.len ||
        memcmp(b2.data, b.data, b.len) != 0)
        abort();
    char *text = kula_genesis_to_json(&g);
    if (text == NULL || kula_genesis_parse_json(&back, text, strlen(text), &err) != 0)
        abort();
    if (memcmp(back.chain_id.b, g.chain_id.b, KULA_HASH_LEN) != 0)
        abort();
    free(text);
    kula_genesis_free(&back);
    kula_genesis_free(&d);
    kula_genesis_free(&g);
    kula_buf_free(&b);
    kula_buf_free(&b2);
    return 0;
}
