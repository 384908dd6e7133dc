/* frame.c -- length-prefixed frames on a byte stream (proto/SPEC.md §11.1). */
#include "kula/net/frame.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "kula/base/error.h"

_Static_assert(KULA_SEAL_OVERHEAD == crypto_secretstream_xchacha20poly1305_ABYTES,
               "KULA_SEAL_OVERHEAD must be secretstream's ABYTES");
_Static_assert(KULA_MAX_FRAME < UINT32_MAX, "a frame length fits the 4-byte prefix");

/* A buffer larger than this is released once its frame has been handled, so
 * an idle connection does not keep a 16 MiB buffer from one large frame. */
#define KEEP_CAP (64u << 10)
/* The buffer grows with the bytes that arrive, not with the length a peer
 * announces: a peer that announces 16 MiB and sends nothing costs nothing. */
#define MIN_CAP 4096u

static void reset_frame(kula_frame_decoder *d)
{
    d->hdr_got = 0;
    d->need = 0;
    d->got = 0;
    d->delivered = false;
    if (d->cap > KEEP_CAP) {
        free(d->buf);
        d->buf = NULL;
        d->cap = 0;
    }
}

void kula_frame_decoder_init(kula_frame_decoder *d)
{
    memset(d, 0, sizeof(*d));
    d->max = KULA_MAX_FRAME;
}

void kula_frame_decoder_free(kula_frame_decoder *d)
{
    free(d->buf);
    memset(d, 0, sizeof(*d));
}

void kula_frame_decoder_set_max(kula_frame_decoder *d, uint32_t max)
{
    if (max == 0)
        max = 1;
    if (max > KULA_MAX_FRAME)
        max = KULA_MAX_FRAME;
    d->max = max;
}

static int fail(kula_frame_decoder *d, int err)
{
    d->err = err;
    return err;
}

/* Makes room for d->got + n payload bytes (never more than d->need). */
static bool grow(kula_frame_decoder *d, size_t n)
{
    size_t want = (size_t)d->got + n;
    if (want <= d->cap)
        return true;
    size_t cap = d->cap * 2;
    if (cap < MIN_CAP)
        cap = MIN_CAP;
    if (cap < want)
        cap = want;
    if (cap > d->need)
        cap = d->need;
    uint8_t *p = realloc(d->buf, cap);
    if (p == NULL)
        return false;
    d->buf = p;
    d->cap = cap;
    return true;
}

int kula_frame_feed(kula_frame_decoder *d, size_t *used, const uint8_t **frame,
                    size_t *frame_len, const uint8_t *data, size_t len)
{
    *used = 0;
    *frame = NULL;
    *frame_len = 0;
    if (d->err != 0)
        return d->err;
    if (d->delivered)
        reset_frame(d);

    size_t i = 0;
    while (d->hdr_got < KULA_FRAME_PREFIX) {
        if (i == len) {
            *used = i;
            return 0;
        }
        d->hdr[d->hdr_got++] = data[i++];
    }
    if (d->need == 0) {
        /* §11.1: the length is 1 .. the limit; anything else closes the
         * connection, checked as soon as the prefix is complete. */
        uint32_t n = (uint32_t)d->hdr[0] << 24 | (uint32_t)d->hdr[1] << 16 |
                     (uint32_t)d->hdr[2] << 8 | d->hdr[3];
        *used = i;
        if (n == 0)
            return fail(d, KULA_ERANGE);
        if (n > d->max)
            return fail(d, KULA_ETOOBIG);
        d->need = n;
    }

    size_t avail = len - i;
    if (d->got == 0 && avail >= d->need) {
        /* The whole payload is in data: hand it out without copying. */
        *frame = data + i;
        *frame_len = d->need;
        *used = i + d->need;
        d->hdr_got = 0;
        d->need = 0;
        return 1;
    }
    size_t take = d->need - d->got;
    if (take > avail)
        take = avail;
    if (!grow(d, take)) {
        *used = i;
        return fail(d, KULA_ENOMEM);
    }
    if (take > 0)
        memcpy(d->buf + d->got, data + i, take);
    d->got += (uint32_t)take;
    *used = i + take;
    if (d->got < d->need)
        return 0;
    *frame = d->buf;
    *frame_len = d->need;
    d->delivered = true;
    return 1;
}

size_t kula_frame_decoder_pending(const kula_frame_decoder *d)
{
    if (d->delivered)
        return 0;
    return (size_t)d->hdr_got + d->got;
}

int kula_frame_prefix(uint8_t out[KULA_FRAME_PREFIX], size_t len)
{
    if (len == 0)
        return KULA_ERANGE;
    if (len > KULA_MAX_FRAME)
        return KULA_ETOOBIG;
    out[0] = (uint8_t)(len >> 24);
    out[1] = (uint8_t)(len >> 16);
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
    return KULA_OK;
}

int kula_frame_encode(kula_buf *out, const uint8_t *payload, size_t len)
{
    uint8_t pre[KULA_FRAME_PREFIX];
    int rc = kula_frame_prefix(pre, len);
    if (rc != KULA_OK)
        return rc;
    kula_buf_append(out, pre, sizeof(pre));
    kula_buf_append(out, payload, len);
    return out->err;
}
