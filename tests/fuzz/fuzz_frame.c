/* fuzz_frame.c -- libFuzzer target for the incremental frame decoder.
 *
 * Input: byte 0 seeds the chunking, byte 1 picks the limit (0: KULA_MAX_FRAME,
 * else 4 * byte), the rest is the stream.  The stream is fed in chunks of
 * pseudo-random sizes and the result is compared with a one-shot reference
 * parse of the same bytes:
 *   - the same frames, with the same payloads, in the same order;
 *   - the same error (ERANGE for a zero length, ETOOBIG above the limit) at
 *     the same frame, sticky afterwards, with nothing consumed;
 *   - without an error, the same number of pending bytes at the end;
 *   - 0 is returned only once the chunk is used up, and the buffer never
 *     holds more than one frame of the limit. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kula/codec/codec.h"
#include "kula/base/error.h"
#include "kula/net/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Frames tracked by the reference parse: enough for 64 KiB of 1-byte frames. */
#define MAXF 16384

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint32_t rng = (uint32_t)data[0] * 2654435761u + 1;
    uint32_t max = data[1] == 0 ? KULA_MAX_FRAME : (uint32_t)data[1] * 4;
    const uint8_t *s = data + 2;
    size_t n = size - 2;

    /* The reference: frames [off, len) and how the stream ends. */
    static size_t ref_off[MAXF], ref_len[MAXF];
    size_t nref = 0, pos = 0, ref_pending = 0;
    int ref_err = 0;
    while (nref < MAXF) {
        if (n - pos < 4) {
            ref_pending = n - pos;
            break;
        }
        uint32_t len = (uint32_t)s[pos] << 24 | (uint32_t)s[pos + 1] << 16 |
                       (uint32_t)s[pos + 2] << 8 | s[pos + 3];
        if (len == 0) {
            ref_err = KULA_ERANGE;
            break;
        }
        if (len > max) {
            ref_err = KULA_ETOOBIG;
            break;
        }
        if (n - pos - 4 < len) {
            ref_pending = n - pos;
            break;
        }
        ref_off[nref] = pos + 4;
        ref_len[nref] = len;
        nref++;
        pos += 4 + len;
    }
    if (nref == MAXF)
        return 0; /* too many to track; not interesting */

    kula_frame_decoder d;
    kula_frame_decoder_init(&d);
    kula_frame_decoder_set_max(&d, max);
    size_t got = 0, off = 0;
    int err = 0;
    while (off < n && err == 0) {
        rng = rng * 1103515245u + 12345u;
        size_t chunk = (rng >> 16) % 8 == 0 ? n - off : 1 + (rng >> 8) % 23;
        if (chunk > n - off)
            chunk = n - off;
        uint8_t *c = malloc(chunk);
        if (c == NULL)
            abort();
        memcpy(c, s + off, chunk);
        size_t coff = 0;
        while (coff < chunk) {
            size_t used, flen;
            const uint8_t *f;
            int rc = kula_frame_feed(&d, &used, &f, &flen, c + coff, chunk - coff);
            if (used > chunk - coff || d.cap > max)
                abort();
            coff += used;
            if (rc < 0) {
                err = rc;
                break;
            }
            if (rc == 0) {
                if (coff != chunk || f != NULL)
                    abort();
                break;
            }
            if (got >= nref || flen != ref_len[got] || memcmp(f, s + ref_off[got], flen) != 0)
                abort();
            got++;
        }
        free(c);
        off += chunk;
    }
    if (got != nref || err != ref_err)
        abort();
    if (err != 0) {
        size_t used = 1, flen = 1;
        const uint8_t *f = s;
        if (kula_frame_feed(&d, &used, &f, &flen, s, n) != err || used != 0 || f != NULL)
            abort();
    } else if (kula_frame_decoder_pending(&d) != ref_pending) {
        abort();
    }
    kula_frame_decoder_free(&d);

    /* The encoder gives back the frames' bytes. */
    kula_buf b;
    kula_buf_init(&b);
    for (size_t i = 0; i < nref; i++) {
        kula_buf_reset(&b);
        if (kula_frame_encode(&b, s + ref_off[i], ref_len[i]) != 0 || b.len != ref_len[i] + 4 ||
            memcmp(b.data, s + ref_off[i] - 4, b.len) != 0)
            abort();
    }
    kula_buf_free(&b);
    return 0;
}
