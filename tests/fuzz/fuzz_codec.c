/* fuzz_codec.c -- libFuzzer target for the strict msgpack reader.
 *
 * Walks arbitrary bytes as a sequence of values with kula_r_value.  For each
 * value accepted:
 *   - it starts where the previous one ended and lies inside the input;
 *   - its bytes, read alone, are exactly one value of the same length;
 *   - msgpack-c, an independent implementation, unpacks it and packs it
 *     again to the very same bytes (its packer always writes the smallest
 *     form), so "canonical" means the same thing to both. */
#include <msgpack.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kula/codec/codec.h"
#include "kula/crypto/crypto.h"
#include "kula/base/error.h"

/* Returns: true if rc is one of the codec's errors (ETRUNC .. EORDER). */
static bool codec_err(int rc) { return rc <= KULA_ETRUNC && rc >= KULA_EORDER; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sbuf_write(void *ctx, const char *p, size_t n)
{
    kula_buf_append(ctx, p, n);
    return ((kula_buf *)ctx)->err;
}

static void repack_check(const uint8_t *p, size_t n)
{
    msgpack_unpacked up;
    size_t off = 0;
    msgpack_unpacked_init(&up);
    if (msgpack_unpack_next(&up, (const char *)p, n, &off) != MSGPACK_UNPACK_SUCCESS || off != n)
        abort();
    kula_buf b;
    msgpack_packer pk;
    kula_buf_init(&b);
    msgpack_packer_init(&pk, &b, sbuf_write);
    if (msgpack_pack_object(&pk, up.data) != 0 || b.len != n || memcmp(b.data, p, n) != 0)
        abort();
    kula_buf_free(&b);
    msgpack_unpacked_destroy(&up);
}

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

    kula_reader r;
    kula_reader_init(&r, data, size);
    while (r.p < r.end) {
        const uint8_t *before = r.p, *p;
        size_t n;
        kula_r_value(&r, &p, &n);
        if (!kula_reader_ok(&r)) {
            if (!codec_err(r.err) || p != NULL || n != 0)
                abort();
            break;
        }
        if (p != before || n == 0 || p + n != r.p || r.p > r.end)
            abort();
        kula_reader one;
        const uint8_t *q;
        size_t m;
        kula_reader_init(&one, p, n);
        kula_r_value(&one, &q, &m);
        if (kula_reader_finish(&one) != KULA_OK || q != p || m != n)
            abort();
        repack_check(p, n);
    }
    return 0;
}
