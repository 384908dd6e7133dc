/* test_frame.c -- the length-prefixed frame decoder and encoder (kula/net/frame.h). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "kula/codec/codec.h"
#include "kula/base/error.h"
#include "kula/net/frame.h"

/* A multi-frame stream: frames of these payload lengths, each filled with a
 * pattern that depends on the frame and the position. */
static const size_t lens[] = { 1, 2, 3, 4, 5, 255, 256, 1000, 4097, 5000, 1 };
#define NFRAMES (sizeof(lens) / sizeof(lens[0]))

static uint8_t pattern(size_t frame, size_t i) { return (uint8_t)(frame * 31 + i * 7 + 1); }

static void build(kula_buf *stream, const size_t *ls, size_t n)
{
    kula_buf_init(stream);
    for (size_t f = 0; f < n; f++) {
        uint8_t *p = malloc(ls[f]);
        cr_assert_not_null(p);
        for (size_t i = 0; i < ls[f]; i++)
            p[i] = pattern(f, i);
        cr_assert_eq(kula_frame_encode(stream, p, ls[f]), 0);
        free(p);
    }
}

/* Feeds stream in chunks whose ends are cuts[0..ncuts) (ascending, then the
 * end of the stream) and checks the frames against ls. */
static void decode_with_cuts(const kula_buf *stream, const size_t *ls, size_t n,
                             const size_t *cuts, size_t ncuts)
{
    kula_frame_decoder d;
    kula_frame_decoder_init(&d);
    size_t got = 0, start = 0;
    for (size_t c = 0; c <= ncuts; c++) {
        size_t end = c < ncuts ? cuts[c] : stream->len;
        /* Each chunk is a private copy, so a frame that points into it
         * after it is gone would be caught by ASan. */
        size_t clen = end - start;
        uint8_t *chunk = malloc(clen ? clen : 1);
        cr_assert_not_null(chunk);
        memcpy(chunk, stream->data + start, clen);
        size_t off = 0;
        do {
            size_t used, flen;
            const uint8_t *f;
            int rc = kula_frame_feed(&d, &used, &f, &flen, chunk + off, clen - off);
            cr_assert_geq(rc, 0, "feed: %s", kula_errname(rc));
            cr_assert_leq(used, clen - off);
            off += used;
            if (rc == 1) {
                cr_assert_lt(got, n, "more frames than sent");
                cr_assert_eq(flen, ls[got], "frame %zu: length %zu, want %zu", got, flen,
                             ls[got]);
                for (size_t i = 0; i < flen; i++)
                    cr_assert_eq(f[i], pattern(got, i), "frame %zu byte %zu", got, i);
                got++;
            } else {
                cr_assert_eq(off, clen, "0 returned before the chunk was used up");
                cr_assert_null(f);
            }
        } while (off < clen);
        free(chunk);
        start = end;
    }
    cr_assert_eq(got, n, "%zu frames, want %zu", got, n);
    cr_assert_eq(kula_frame_decoder_pending(&d), 0);
    kula_frame_decoder_free(&d);
}

Test(frame, whole_stream_at_once)
{
    kula_buf s;
    build(&s, lens, NFRAMES);
    decode_with_cuts(&s, lens, NFRAMES, NULL, 0);
    kula_buf_free(&s);
}

Test(frame, every_single_split)
{
    kula_buf s;
    build(&s, lens, NFRAMES);
    for (size_t k = 0; k <= s.len; k++)
        decode_with_cuts(&s, lens, NFRAMES, &k, 1);
    kula_buf_free(&s);
}

Test(frame, every_pair_of_splits_small_stream)
{
    static const size_t small[] = { 1, 2, 3, 7, 1 };
    kula_buf s;
    build(&s, small, 5);
    for (size_t a = 0; a <= s.len; a++)
        for (size_t b = a; b <= s.len; b++) {
            size_t cuts[2] = { a, b };
            decode_with_cuts(&s, small, 5, cuts, 2);
        }
    kula_buf_free(&s);
}

Test(frame, fixed_chunk_sizes)
{
    kula_buf s;
    build(&s, lens, NFRAMES);
    static const size_t sizes[] = { 1, 2, 3, 4, 5, 7, 64, 4096, 4099, 65536 };
    for (size_t z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
        size_t ncuts = s.len / sizes[z];
        size_t *cuts = malloc((ncuts + 1) * sizeof(*cuts));
        cr_assert_not_null(cuts);
        for (size_t i = 0; i < ncuts; i++)
            cuts[i] = (i + 1) * sizes[z];
        decode_with_cuts(&s, lens, NFRAMES, cuts, ncuts);
        free(cuts);
    }
    kula_buf_free(&s);
}

Test(frame, whole_frame_in_input_is_not_copied)
{
    uint8_t s[] = { 0, 0, 0, 3, 'a', 'b', 'c', 0, 0, 0, 1, 'd' };
    kula_frame_decoder d;
    kula_frame_decoder_init(&d);
    size_t used, flen;
    const uint8_t *f;
    cr_assert_eq(kula_frame_feed(&d, &used, &f, &flen, s, sizeof(s)), 1);
    cr_assert_eq(used, 7);
    cr_assert_eq(f, s + 4);
    cr_assert_eq(flen, 3);
    cr_assert_eq(kula_frame_feed(&d, &used, &f, &flen, s + 7, sizeof(s) - 7), 1);
    cr_assert_eq(used, 5);
    cr_assert_eq(f, s + 11);
    cr_assert_null(d.buf, "nothing was buffered");
    /* Empty and NULL input are fine. */
    cr_assert_eq(kula_frame_feed(&d, &used, &f, &flen, NULL, 0), 0);
    cr_assert_eq(used, 0);
    kula_frame_decoder_free(&d);
}

static void expect_sticky(kula_frame_decoder *d, int want)
{
    static const uint8_t good[] = { 0, 0, 0, 1, 'x' };
    for (int i = 0; i < 3; i++) {
        size_t used = 99, flen = 99;
        const uint8_t *f = good;
        cr_assert_eq(kula_frame_feed(d, &used, &f, &flen, good, sizeof(good)), want);
        cr_assert_eq(used, 0);
        cr_assert_null(f);
        cr_assert_eq(flen, 0);
    }
}

Test(frame, zero_length_rejected_and_sticky)
{
    /* A good frame, then a zero length: the first is delivered, then ERANGE. */
    uint8_t s[] = { 0, 0, 0, 1, 'a', 0, 0, 0, 0, 0, 0, 0, 1, 'b' };
    kula_frame_decoder d;
    kula_frame_decoder_init(&d);
    size_t used, flen;
    const uint8_t *f;
    cr_assert_eq(kula_frame_feed(&d, &used, &f, &flen, s, sizeof(s)), 1);
    cr_assert_eq(kula_frame_feed(&d, &used, &f, &flen, s + 5, sizeof(s) - 5), KULA_ERANGE);
    cr_assert_null(f);
    expect_sticky(&d, KULA_ERANGE);
    kula_frame_decoder_free(&d);
}

Test(frame, zero_length_byte_at_a_time)
{
    kula_frame_decoder d;
    kula_frame_decoder_init(&d);
    size_t used, flen;
    const uint8_t *f;
    uint8_t z = 0;
    for (int i = 0; i < 3; i++)
        cr_assert_eq(kula_frame_feed(&d, &used, &f, &flen, &z, 1), 0);
    /* The error comes with the fourth prefix byte, before any payload. */
    cr_assert_eq(kula_frame_feed(&d, &used, &f, &flen, &z, 1), KULA_ERANGE);
    expect_sticky(&d, KULA_ERANGE);
    kula_frame_decoder_free(&d);
}

Test(frame, oversize_rejected_and_sticky)
{
    uint32_t n = KULA_MAX_FRAME + 1;
    uint8_t s[4] = { (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n };
    kula_frame_decoder d;
    kula_frame_decoder_init(&d);
    size_t used, flen;
    const uint8_t *f;
    cr_assert_eq(kula_frame_feed(&d, &used, &f, &flen, s, 3), 0);
    cr_assert_eq(kula_frame_feed(&d, &used, &f, &flen, s + 3, 1), KULA_ETOOBIG);
    cr_assert_null(d.buf, "nothing allocated for a rejected length");
    expect_sticky(&d, KULA_ETOOBIG);
    kula_frame_decoder_free(&d);

    static const uint8_t ff[] = { 0xff, 0xff, 0xff, 0xff, 1, 2, 3 };
    kula_frame_decoder_init(&d);
    cr_assert_eq(kula_frame_feed(&d, &used, &f, &flen, ff, sizeof(ff)), KULA_ETOOBIG);
    expect_sticky(&d, KULA_ETOOBIG);
    kula_frame_decoder_free(&d);
}

Test(frame, largest_frame_accepted)
{
    size_t n = KULA_MAX_FRAME;
    kula_buf s;
    kula_buf_init(&s);
    uint8_t *p = malloc(n);
    cr_assert_not_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 13);
    cr_assert_eq(kula_frame_encode(&s, p, n), 0);
    cr_assert_eq(s.len, n + 4);
    cr_assert_eq(s.data[0], 0x01);
    cr_assert_eq(s.data[3], 0x11); /* 16 777 233 = 0x01000011 */
    kula_frame_decoder d;
    kula_frame_decoder_init(&d);
    size_t off = 0, frames = 0;
    while (off < s.len) {
        size_t used, flen, chunk = s.len - off < 65536 ? s.len - off : 65536;
        const uint8_t *f;
        int rc = kula_frame_feed(&d, &used, &f, &flen, s.data + off, chunk);
        cr_assert_geq(rc, 0);
        /* Bounded buffering: never more than the frame being read. */
        cr_assert_leq(d.cap, n);
        off += used;
        if (rc == 1) {
            cr_assert_eq(flen, n);
            cr_assert_eq(memcmp(f, p, n), 0);
            frames++;
        }
    }
    cr_assert_eq(frames, 1);
    /* The large buffer is released once the frame has been handled. */
    size_t used, flen;
    const uint8_t *f;
    cr_assert_eq(kula_frame_feed(&d, &used, &f, &flen, NULL, 0), 0);
    cr_assert_null(d.buf);
    kula_frame_decoder_free(&d);
    free(p);
    kula_buf_free(&s);
}

Test(frame, buffer_grows_with_data_not_announcement)
{
    /* A peer announces the largest frame and sends 10 bytes. */
    uint8_t s[14] = { 0x01, 0x00, 0x00, 0x11 };
    kula_frame_decoder d;
    kula_frame_decoder_init(&d);
    size_t used, flen;
    const uint8_t *f;
    cr_assert_eq(kula_frame_feed(&d, &used, &f, &flen, s, sizeof(s)), 0);
    cr_assert_eq(used, sizeof(s));
    cr_assert_leq(d.cap, 4096);
    cr_assert_eq(kula_frame_decoder_pending(&d), 14);
    kula_frame_decoder_free(&d);
}

Test(frame, pending)
{
    uint8_t s[] = { 0, 0, 0, 2, 'a', 'b' };
    kula_frame_decoder d;
    kula_frame_decoder_init(&d);
    size_t used, flen;
    const uint8_t *f;
    cr_assert_eq(kula_frame_decoder_pending(&d), 0);
    for (size_t i = 0; i < 5; i++) {
        cr_assert_eq(kula_frame_feed(&d, &used, &f, &flen, s + i, 1), 0);
        cr_assert_eq(kula_frame_decoder_pending(&d), i + 1);
    }
    cr_assert_eq(kula_frame_feed(&d, &used, &f, &flen, s + 5, 1), 1);
    cr_assert_eq(kula_frame_decoder_pending(&d), 0, "a stream ending here ends cleanly");
    cr_assert_eq(flen, 2);
    cr_assert_eq(memcmp(f, "ab", 2), 0);
    kula_frame_decoder_free(&d);
}

Test(frame, set_max)
{
    kula_frame_decoder d;
    kula_frame_decoder_init(&d);
    kula_frame_decoder_set_max(&d, 8);
    uint8_t ok[] = { 0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8 };
    uint8_t big[] = { 0, 0, 0, 9 };
    size_t used, flen;
    const uint8_t *f;
    cr_assert_eq(kula_frame_feed(&d, &used, &f, &flen, ok, sizeof(ok)), 1);
    cr_assert_eq(kula_frame_feed(&d, &used, &f, &flen, big, sizeof(big)), KULA_ETOOBIG);
    kula_frame_decoder_free(&d);

    /* Raising the limit between frames takes effect for the next prefix. */
    kula_frame_decoder_init(&d);
    kula_frame_decoder_set_max(&d, 8);
    uint8_t two[] = { 0, 0, 0, 1, 'a', 0, 0, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
    cr_assert_eq(kula_frame_feed(&d, &used, &f, &flen, two, sizeof(two)), 1);
    kula_frame_decoder_set_max(&d, KULA_MAX_FRAME);
    cr_assert_eq(kula_frame_feed(&d, &used, &f, &flen, two + used, sizeof(two) - used), 1);
    cr_assert_eq(flen, 9);
    kula_frame_decoder_free(&d);

    /* Out-of-range limits are clamped. */
    kula_frame_decoder_init(&d);
    kula_frame_decoder_set_max(&d, 0);
    cr_assert_eq(d.max, 1);
    kula_frame_decoder_set_max(&d, UINT32_MAX);
    cr_assert_eq(d.max, KULA_MAX_FRAME);
    kula_frame_decoder_free(&d);
}

Test(frame, encoder_limits)
{
    uint8_t pre[4];
    cr_assert_eq(kula_frame_prefix(pre, 0), KULA_ERANGE);
    cr_assert_eq(kula_frame_prefix(pre, (size_t)KULA_MAX_FRAME + 1), KULA_ETOOBIG);
    cr_assert_eq(kula_frame_prefix(pre, 0x00fedcba), 0);
    cr_assert_eq(pre[0], 0x00);
    cr_assert_eq(pre[1], 0xfe);
    cr_assert_eq(pre[2], 0xdc);
    cr_assert_eq(pre[3], 0xba);
    cr_assert_eq(kula_frame_prefix(pre, KULA_MAX_FRAME), 0);
    kula_buf b;
    kula_buf_init(&b);
    cr_assert_eq(kula_frame_encode(&b, (const uint8_t *)"", 0), KULA_ERANGE);
    cr_assert_eq(b.len, 0, "nothing appended on error");
    cr_assert_eq(kula_frame_encode(&b, (const uint8_t *)"hi", 2), 0);
    cr_assert_eq(b.len, 6);
    cr_assert_eq(memcmp(b.data, "\x00\x00\x00\x02hi", 6), 0);
    kula_buf_free(&b);
    cr_assert_eq(KULA_MAX_FRAME, 16777216u + 65536u + 17u);
}
