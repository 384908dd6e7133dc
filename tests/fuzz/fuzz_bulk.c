/* fuzz_bulk.c -- libFuzzer target for the decoder of POST /submit's body
 * (kula/api/bulk.h), bytes any client with the API's token may send.
 *
 * Properties: the decoder returns 0 or a codec error; a body it accepts
 * holds 1 .. KULA_BULK_MAX_TXS transactions, each of 1 .. KULA_MAX_TX_BYTES
 * bytes inside the input, and re-encodes to exactly the input (the
 * encoding is canonical); a refused body leaves no transaction. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kula/api/bulk.h"
#include "kula/base/error.h"
#include "kula/codec/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static kula_bulk b;
    int rc = kula_bulk_decode(&b, data, size);
    if (rc != 0) {
        if (!kula_is_codec_error(rc) || b.n != 0)
            abort();
        return 0;
    }
    if (b.n < 1 || b.n > KULA_BULK_MAX_TXS)
        abort();
    kula_buf out;
    kula_buf_init(&out);
    kula_writer w;
    kula_writer_init(&w, &out);
    kula_w_array(&w, (uint32_t)b.n);
    for (size_t i = 0; i < b.n; i++) {
        const uint8_t *p = b.txs[i];
        size_t n = b.lens[i];
        if (n < 1 || n > KULA_MAX_TX_BYTES || p < data || p + n > data + size)
            abort();
        kula_w_bin(&w, p, n);
    }
    if (out.err != 0 || out.len != size || memcmp(out.data, data, size) != 0)
        abort();
    kula_buf_free(&out);
    return 0;
}
