/* fuzz_mempool_file.c -- libFuzzer target for the mempool file decoder
 * (proto/SPEC.md §9.1), the bytes a node reads back at start.
 *
 * Each input is decoded twice: as it is, and with its last 32 bytes
 * replaced by the checksum of the rest, so that mutations reach the
 * structure behind the checksum.  Properties: every input is accepted or
 * refused with an error, never a crash; what is accepted is canonical, so
 * encoding its transactions again gives back exactly the input; and the
 * same file is refused (ECHAIN) by a node of another network.  The seeds
 * are files of the development network (chain id of proto/SPEC.md §8.1). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kula/codec/codec.h"
#include "kula/crypto/crypto.h"
#include "kula/base/error.h"
#include "kula/chain/mempool_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static kula_hash devnet, other;

/* Returns: true if rc is an error the decoder may give for bad bytes. */
static bool expected_err(int rc)
{
    return kula_is_codec_error(rc) || rc == KULA_ESTORE || rc == KULA_ECHAIN;
}

static void check(const uint8_t *data, size_t size)
{
    kula_mempool_file f;
    int rc = kula_mempool_file_decode(&f, data, size, &devnet);
    if (rc != KULA_OK) {
        if (!expected_err(rc) || f.n != 0 || f.txs != NULL)
            abort();
        return;
    }
    kula_buf b;
    kula_buf_init(&b);
    if (kula_mempool_file_encode(&b, &devnet, f.txs, f.lens, f.n) != KULA_OK ||
        b.len != size || memcmp(b.data, data, size) != 0)
        abort();
    kula_buf_free(&b);
    kula_mempool_file_free(&f);
    if (kula_mempool_file_decode(&f, data, size, &other) != KULA_ECHAIN ||
        memcmp(f.chain_id.b, devnet.b, KULA_HASH_LEN) != 0 || f.txs != NULL)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        if (kula_crypto_init() != KULA_OK ||
            kula_hex_decode(devnet.b, KULA_HASH_LEN,
                            "f2a61e22c3da52027b5f15b2f9cf4c8737388d52d38734483d3061b5b70e8e63") !=
                KULA_OK)
            abort();
        kula_hash_bytes(&other, "another network", 15);
        ready = 1;
    }
    if (size == 0)
        data = (const uint8_t *)""; /* never hand the decoder a NULL pointer */
    check(data, size);
    if (size < KULA_HASH_LEN)
        return 0;
    /* A copy with a valid checksum, exactly as long as the input. */
    uint8_t *sealed = malloc(size);
    if (sealed == NULL)
        abort();
    memcpy(sealed, data, size - KULA_HASH_LEN);
    kula_hash sum;
    kula_hash_bytes(&sum, sealed, size - KULA_HASH_LEN);
    memcpy(sealed + size - KULA_HASH_LEN, sum.b, KULA_HASH_LEN);
    check(sealed, size);
    free(sealed);
    return 0;
}
