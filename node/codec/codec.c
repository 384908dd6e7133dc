/* codec.c -- canonical msgpack writer (msgpack-c) and strict reader. */
#include "kula/codec/codec.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kula/base/error.h"

/* proto/SPEC.md §2.4: nesting deeper than this is rejected. */
#define KULA_MAX_DEPTH 16

void kula_buf_init(kula_buf *b) { memset(b, 0, sizeof(*b)); }

void kula_buf_free(kula_buf *b)
{
    free(b->data);
    kula_buf_init(b);
}

void kula_encoded_or_abort(int rc, const char *what)
{
    if (rc == 0)
        return;
    fprintf(stderr, "kula: cannot encode %s to hash it: %s\n", what, kula_strerror(rc));
    abort();
}

void kula_buf_reset(kula_buf *b)
{
    b->len = 0;
    b->err = 0;
}

bool kula_buf_reserve(kula_buf *b, size_t n)
{
    if (b->err != 0)
        return false;
    if (n > SIZE_MAX - b->len) {
        b->err = KULA_ENOMEM;
        return false;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n)
            cap = cap > SIZE_MAX / 2 ? b->len + n : cap * 2;
        uint8_t *d = realloc(b->data, cap);
        if (d == NULL) {
            b->err = KULA_ENOMEM;
            return false;
        }
        b->data = d;
        b->cap = cap;
    }
    return true;
}

void kula_buf_append(kula_buf *b, const void *p, size_t n)
{
    if (n == 0 || !kula_buf_reserve(b, n))
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

/* ---- writer ---- */

static int buf_write(void *data, const char *p, size_t n)
{
    kula_buf *b = data;
    kula_buf_append(b, p, n);
    return b->err;
}

_Static_assert(sizeof(msgpack_packer) <= sizeof(((kula_writer *)0)->pk_storage),
               "kula_writer.pk_storage too small for msgpack_packer");

void kula_writer_init(kula_writer *w, kula_buf *out)
{
    w->out = out;
    w->pk = w->pk_storage;
    msgpack_packer_init((msgpack_packer *)w->pk, out, buf_write);
}

#define PK(w) ((msgpack_packer *)(w)->pk)

void kula_w_array(kula_writer *w, uint32_t n) { msgpack_pack_array(PK(w), n); }
void kula_w_uint(kula_writer *w, uint64_t v) { msgpack_pack_uint64(PK(w), v); }

void kula_w_int(kula_writer *w, int64_t v)
{
    /* msgpack-c writes non-negative values in the unsigned formats, as the
     * spec requires; pack_int64 picks the smallest form either way. */
    msgpack_pack_int64(PK(w), v);
}

void kula_w_bool(kula_writer *w, bool v)
{
    if (v)
        msgpack_pack_true(PK(w));
    else
        msgpack_pack_false(PK(w));
}

void kula_w_nil(kula_writer *w) { msgpack_pack_nil(PK(w)); }

void kula_w_bin(kula_writer *w, const void *p, size_t n)
{
    if (n > UINT32_MAX) {
        w->out->err = KULA_ETOOBIG;
        return;
    }
    msgpack_pack_bin(PK(w), n);
    msgpack_pack_bin_body(PK(w), p, n);
}

size_t kula_bin_header(uint8_t out[5], uint32_t n)
{
    if (n <= UINT8_MAX) {
        out[0] = 0xc4;
        out[1] = (uint8_t)n;
        return 2;
    }
    if (n <= UINT16_MAX) {
        out[0] = 0xc5;
        out[1] = (uint8_t)(n >> 8);
        out[2] = (uint8_t)n;
        return 3;
    }
    out[0] = 0xc6;
    for (int i = 0; i < 4; i++)
        out[1 + i] = (uint8_t)(n >> (24 - 8 * i));
    return 5;
}

void kula_w_str(kula_writer *w, const char *s, size_t n)
{
    if (n > UINT32_MAX) {
        w->out->err = KULA_ETOOBIG;
        return;
    }
    msgpack_pack_str(PK(w), n);
    msgpack_pack_str_body(PK(w), s, n);
}

void kula_w_raw(kula_writer *w, const void *p, size_t n) { kula_buf_append(w->out, p, n); }

/* ---- reader ---- */

void kula_reader_init(kula_reader *r, const void *data, size_t len)
{
    static const uint8_t empty[1];
    /* NULL + 0 is undefined behaviour; give empty input a real address. */
    if (data == NULL) {
        data = empty;
        len = 0;
    }
    r->p = data;
    r->end = r->p + len;
    r->err = 0;
    r->depth = 0;
}

void kula_reader_fail(kula_reader *r, int err)
{
    if (r->err == 0)
        r->err = err;
}

int kula_reader_finish(kula_reader *r)
{
    if (r->err != 0)
        return r->err;
    if (r->p != r->end)
        return KULA_ETRAILING;
    return KULA_OK;
}

static bool need(kula_reader *r, size_t n)
{
    if (r->err != 0)
        return false;
    if ((size_t)(r->end - r->p) < n) {
        r->err = KULA_ETRUNC;
        return false;
    }
    return true;
}

static uint64_t be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Reads a length-carrying header: a fix form (tag & ~fixmask) == fixbase with
 * the length in the low bits, or one of the 8/16/32-bit forms.  A form is
 * canonical only if no shorter form could hold the length. */
static bool read_len(kula_reader *r, uint8_t fixbase, uint8_t fixmask,
                     int f8, int f16, int f32, uint32_t *len)
{
    if (!need(r, 1))
        return false;
    uint8_t t = r->p[0];
    uint64_t n;
    size_t hdr;
    uint64_t minimum;
    if (fixmask != 0 && (t & (uint8_t)~fixmask) == fixbase) {
        n = t & fixmask;
        hdr = 1;
        minimum = 0;
    } else if (f8 >= 0 && t == f8) {
        if (!need(r, 2))
            return false;
        n = r->p[1];
        hdr = 2;
        minimum = fixmask != 0 ? (uint64_t)fixmask + 1 : 0;
    } else if (t == f16) {
        if (!need(r, 3))
            return false;
        n = be(r->p + 1, 2);
        hdr = 3;
        minimum = f8 >= 0 ? 0x100 : (uint64_t)fixmask + 1;
    } else if (t == f32) {
        if (!need(r, 5))
            return false;
        n = be(r->p + 1, 4);
        hdr = 5;
        minimum = 0x10000;
    } else {
        kula_reader_fail(r, KULA_ETYPE);
        return false;
    }
    if (n < minimum) {
        kula_reader_fail(r, KULA_ENONCANON);
        return false;
    }
    r->p += hdr;
    *len = (uint32_t)n;
    return true;
}

uint32_t kula_r_array_any(kula_reader *r, uint32_t max)
{
    uint32_t n = 0;
    if (!read_len(r, 0x90, 0x0f, -1, 0xdc, 0xdd, &n))
        return 0;
    if (n > max) {
        kula_reader_fail(r, KULA_ETOOBIG);
        return 0;
    }
    /* Every element takes at least one byte: a cheap early bound. */
    if (n > (size_t)(r->end - r->p)) {
        kula_reader_fail(r, KULA_ETRUNC);
        return 0;
    }
    return n;
}

void kula_r_array_exact(kula_reader *r, uint32_t n)
{
    uint32_t got = kula_r_array(r, UINT32_MAX);
    if (r->err == 0 && got != n)
        kula_reader_fail(r, KULA_EARITY);
}

/* Reads any integer.  Out: *neg tells the sign; *mag the value (two's
 * complement for negatives).  Enforces the smallest form. */
static bool read_integer(kula_reader *r, bool *neg, uint64_t *v)
{
    if (!need(r, 1))
        return false;
    uint8_t t = r->p[0];
    if (t <= 0x7f) {
        *neg = false;
        *v = t;
        r->p += 1;
        return true;
    }
    if (t >= 0xe0) {
        *neg = true;
        *v = (uint64_t)(int64_t)(int8_t)t;
        r->p += 1;
        return true;
    }
    size_t sz;
    bool is_signed;
    switch (t) {
    case 0xcc: sz = 1; is_signed = false; break;
    case 0xcd: sz = 2; is_signed = false; break;
    case 0xce: sz = 4; is_signed = false; break;
    case 0xcf: sz = 8; is_signed = false; break;
    case 0xd0: sz = 1; is_signed = true; break;
    case 0xd1: sz = 2; is_signed = true; break;
    case 0xd2: sz = 4; is_signed = true; break;
    case 0xd3: sz = 8; is_signed = true; break;
    default:
        kula_reader_fail(r, KULA_ETYPE);
        return false;
    }
    if (!need(r, 1 + sz))
        return false;
    uint64_t raw = be(r->p + 1, sz);
    if (!is_signed) {
        /* smallest unsigned form: value must not fit the next smaller one */
        uint64_t lo = sz == 1 ? 0x80 : sz == 2 ? 0x100 : sz == 4 ? 0x10000 : 0x100000000ULL;
        if (raw < lo) {
            kula_reader_fail(r, KULA_ENONCANON);
            return false;
        }
        *neg = false;
        *v = raw;
    } else {
        int64_t s;
        switch (sz) {
        case 1: s = (int8_t)raw; break;
        case 2: s = (int16_t)raw; break;
        case 4: s = (int32_t)raw; break;
        default: s = (int64_t)raw; break;
        }
        /* Signed forms are for negative values only, and each only for
         * values the next smaller signed form cannot hold. */
        int64_t lo = sz == 1 ? -32 : sz == 2 ? -128 : sz == 4 ? -32768 : -2147483648LL;
        if (s >= lo) {
            kula_reader_fail(r, KULA_ENONCANON);
            return false;
        }
        *neg = true;
        *v = (uint64_t)s;
    }
    r->p += 1 + sz;
    return true;
}

uint64_t kula_r_uint_any(kula_reader *r, uint64_t max)
{
    bool neg;
    uint64_t v;
    if (!read_integer(r, &neg, &v))
        return 0;
    if (neg || v > max) {
        kula_reader_fail(r, KULA_ERANGE);
        return 0;
    }
    return v;
}

int64_t kula_r_int(kula_reader *r, int64_t min, int64_t max)
{
    bool neg;
    uint64_t v;
    if (!read_integer(r, &neg, &v))
        return 0;
    int64_t s;
    if (neg) {
        s = (int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX) {
            kula_reader_fail(r, KULA_ERANGE);
            return 0;
        }
        s = (int64_t)v;
    }
    if (s < min || s > max) {
        kula_reader_fail(r, KULA_ERANGE);
        return 0;
    }
    return s;
}

bool kula_r_bool(kula_reader *r)
{
    if (!need(r, 1))
        return false;
    uint8_t t = *r->p;
    if (t != 0xc2 && t != 0xc3) {
        kula_reader_fail(r, KULA_ETYPE);
        return false;
    }
    r->p++;
    return t == 0xc3;
}

/* The length of a bin or str (read_len's types) of at most max bytes,
 * whose n bytes of payload are all there at r->p.  Returns false, r
 * failed, otherwise. */
static bool read_sized(kula_reader *r, uint8_t fixbase, uint8_t fixmask, int f8, int f16,
                       int f32, size_t max, uint32_t *n)
{
    if (!read_len(r, fixbase, fixmask, f8, f16, f32, n))
        return false;
    if (*n > max) {
        kula_reader_fail(r, KULA_ETOOBIG);
        return false;
    }
    return need(r, *n);
}

size_t kula_r_bin(kula_reader *r, const uint8_t **p, size_t max)
{
    uint32_t n = 0;
    *p = NULL;
    if (!read_sized(r, 0, 0, 0xc4, 0xc5, 0xc6, max, &n))
        return 0;
    *p = r->p;
    r->p += n;
    return n;
}

void kula_r_bin_exact(kula_reader *r, uint8_t *out, size_t n)
{
    const uint8_t *p;
    size_t got = kula_r_bin(r, &p, n);
    if (r->err == 0 && got != n)
        kula_reader_fail(r, KULA_ERANGE);
    if (r->err != 0) {
        memset(out, 0, n);
        return;
    }
    if (n != 0)
        memcpy(out, p, n);
}

bool kula_r_bin_opt(kula_reader *r, uint8_t *out, size_t n)
{
    const uint8_t *p;
    size_t got = kula_r_bin(r, &p, n);
    if (r->err == 0 && got != 0 && got != n)
        kula_reader_fail(r, KULA_ERANGE);
    if (r->err != 0 || got == 0) {
        memset(out, 0, n);
        return false;
    }
    memcpy(out, p, n);
    return true;
}

size_t kula_r_str(kula_reader *r, const char **p, size_t max)
{
    uint32_t n = 0;
    *p = NULL;
    if (!read_sized(r, 0xa0, 0x1f, 0xd9, 0xda, 0xdb, max, &n))
        return 0;
    if (!kula_utf8_valid((const char *)r->p, n)) {
        kula_reader_fail(r, KULA_EUTF8);
        return 0;
    }
    *p = (const char *)r->p;
    r->p += n;
    return n;
}

static void skip_value(kula_reader *r)
{
    if (!need(r, 1))
        return;
    uint8_t t = r->p[0];
    if (t <= 0x7f || t >= 0xe0 || (t >= 0xcc && t <= 0xd3)) {
        bool neg;
        uint64_t v;
        read_integer(r, &neg, &v);
    } else if (t == 0xc2 || t == 0xc3) {
        kula_r_bool(r);
    } else if (t == 0xc0) {
        r->p++;
    } else if (t == 0xc4 || t == 0xc5 || t == 0xc6) {
        const uint8_t *p;
        kula_r_bin(r, &p, UINT32_MAX);
    } else if ((t & 0xe0) == 0xa0 || t == 0xd9 || t == 0xda || t == 0xdb) {
        const char *p;
        kula_r_str(r, &p, UINT32_MAX);
    } else if ((t & 0xf0) == 0x90 || t == 0xdc || t == 0xdd) {
        if (++r->depth > KULA_MAX_DEPTH) {
            kula_reader_fail(r, KULA_ETOOBIG);
            return;
        }
        uint32_t n = kula_r_array(r, UINT32_MAX);
        for (uint32_t i = 0; i < n && r->err == 0; i++)
            skip_value(r);
        r->depth--;
    } else {
        /* maps, floats, ext: never canonical in Kula */
        kula_reader_fail(r, KULA_ETYPE);
    }
}

void kula_r_value(kula_reader *r, const uint8_t **p, size_t *n)
{
    const uint8_t *start = r->p;
    skip_value(r);
    if (r->err != 0) {
        *p = NULL;
        *n = 0;
        return;
    }
    *p = start;
    *n = (size_t)(r->p - start);
}

bool kula_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
            (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}
