/* held_blocks.c -- the file of the blocks a saved consensus state names
 * (kula/consensus/held_blocks.h): encoding and defensive decoding, no I/O. */
#include "kula/consensus/held_blocks.h"

#include <string.h>

#define MAGIC "KULACB01"
#define MAGIC_LEN 8u

int kula_held_blocks_encode(kula_buf *out, const kula_held_block *b, size_t n)
{
    if (n > KULA_HELD_BLOCKS_MAX)
        return KULA_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (b[i].n > KULA_HELD_BLOCK_MAX_BYTES)
            return KULA_EINVAL;
    kula_buf_reset(out);
    kula_buf_append(out, MAGIC, MAGIC_LEN);
    kula_writer w;
    kula_writer_init(&w, out);
    kula_w_array(&w, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        kula_w_array(&w, 3);
        kula_w_bin(&w, b[i].hash.b, KULA_HASH_LEN);
        kula_w_uint(&w, b[i].height);
        kula_w_bin(&w, b[i].p, b[i].n);
    }
    kula_hash sum;
    kula_hash_bytes(&sum, out->data, out->len);
    kula_buf_append(out, sum.b, KULA_HASH_LEN);
    return KULA_OK;
}

int kula_held_blocks_decode(const uint8_t *data, size_t len,
                            kula_held_block out[KULA_HELD_BLOCKS_MAX], size_t *n)
{
    *n = 0;
    if (len < MAGIC_LEN + KULA_HASH_LEN || memcmp(data, MAGIC, MAGIC_LEN) != 0)
        return KULA_EVERSION;
    size_t body = len - KULA_HASH_LEN;
    kula_hash sum;
    kula_hash_bytes(&sum, data, body);
    if (memcmp(sum.b, data + body, KULA_HASH_LEN) != 0)
        return KULA_EIO;
    kula_reader r;
    kula_reader_init(&r, data + MAGIC_LEN, body - MAGIC_LEN);
    uint32_t count = kula_r_array(&r, KULA_HELD_BLOCKS_MAX);
    for (uint32_t i = 0; i < count && kula_reader_ok(&r); i++) {
        kula_r_array_exact(&r, 3);
        kula_r_bin_exact(&r, out[i].hash.b, KULA_HASH_LEN);
        out[i].height = kula_r_uint(&r, UINT64_MAX);
        out[i].n = kula_r_bin(&r, &out[i].p, KULA_HELD_BLOCK_MAX_BYTES);
    }
    int rc = kula_reader_finish(&r);
    if (rc == 0)
        *n = count;
    return rc;
}
