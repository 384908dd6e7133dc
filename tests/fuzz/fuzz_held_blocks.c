/* fuzz_held_blocks.c -- libFuzzer target for the held-blocks file decoder
 * (kula/consensus/held_blocks.h, proto/SPEC.md §9.2), the bytes a validator
 * reads back at start.
 *
 * Each input is decoded twice: as it is, and with its last 32 bytes
 * replaced by the checksum of the rest, so that mutations reach the
 * structure behind the checksum.  Properties: every input is accepted or
 * refused with an error, never a crash; what is refused yields no blocks;
 * what is accepted is canonical, so encoding its blocks again gives back
 * exactly the input. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kula/base/error.h"
#include "kula/codec/codec.h"
#include "kula/consensus/held_blocks.h"
#include "kula/crypto/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const uint8_t *data, size_t size)
{
    kula_held_block b[KULA_HELD_BLOCKS_MAX];
    size_t n = 99;
    int rc = kula_held_blocks_decode(data, size, b, &n);
    if (rc != KULA_OK) {
        if (n != 0 || !(kula_is_codec_error(rc) || rc == KULA_EVERSION || rc == KULA_EIO))
            abort();
        return;
    }
    if (n > KULA_HELD_BLOCKS_MAX)
        abort();
    kula_buf out;
    kula_buf_init(&out);
    if (kula_held_blocks_encode(&out, b, n) != 0 || out.len != size ||
        memcmp(out.data, data, size) != 0)
        abort();
    kula_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check(data, size);
    if (size >= KULA_HASH_LEN && size < (1u << 20)) {
        uint8_t *fixed = malloc(size);
        if (fixed == NULL)
            return 0;
        memcpy(fixed, data, size);
        kula_hash sum;
        kula_hash_bytes(&sum, fixed, size - KULA_HASH_LEN);
        memcpy(fixed + size - KULA_HASH_LEN, sum.b, KULA_HASH_LEN);
        check(fixed, size);
        free(fixed);
    }
    return 0;
}
