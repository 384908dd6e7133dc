/* codec.h -- canonical msgpack encoding (proto/SPEC.md §2).
 *
 * Every hashed or signed structure has exactly one encoding: msgpack arrays
 * with a fixed field order, integers in their smallest form (non-negative
 * values always in the unsigned formats), byte strings as `bin`, text as
 * UTF-8 `str`, no floats, no maps.
 *
 * Writing goes through msgpack-c's packer, which always picks the smallest
 * form.  Reading uses a sticky-failure cursor: the first error is remembered,
 * every later read returns a zero value and does nothing, and one check of
 * kula_reader_finish() at the end tells whether the whole input was a single
 * canonical value.  The reader never allocates; byte and text fields are
 * returned as pointers into the input. */
#ifndef KULA_CODEC_H
#define KULA_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kula/base/error.h"

/* ---- growable byte buffer ---- */

typedef struct kula_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    int err; /* sticky: KULA_ENOMEM once an allocation failed, KULA_ETOOBIG
                * once a field exceeded what msgpack can hold */
} kula_buf;

void kula_buf_init(kula_buf *b);
/* Frees the buffer's memory and resets it to empty. */
void kula_buf_free(kula_buf *b);
/* Appends n bytes.  On allocation failure sets b->err; later appends are no-ops. */
void kula_buf_append(kula_buf *b, const void *p, size_t n);
/* Makes room for n more bytes after b->len: the caller writes them at
 * b->data + b->len and adds what it wrote to b->len.  Returns: false, with
 * b->err set (or already set), when it cannot. */
bool kula_buf_reserve(kula_buf *b, size_t n);
void kula_buf_reset(kula_buf *b);
/* For a function that hashes an encoding and has no error to return (a
 * header's hash, a vote's digest): rc is the encoder's result.  When it
 * failed (out of memory: these structures are bounded, so never
 * KULA_ETOOBIG), writes what could not be encoded to stderr and aborts,
 * because the hash of a partial encoding would accept or sign the wrong
 * bytes.  Returns only when rc == 0. */
void kula_encoded_or_abort(int rc, const char *what);

/* ---- writer ---- */

typedef struct kula_writer {
    kula_buf *out;
    void *pk; /* msgpack_packer, private */
    unsigned char pk_storage[32];
} kula_writer;

/* Starts writing at the end of `out` (which the caller owns). */
void kula_writer_init(kula_writer *w, kula_buf *out);
void kula_w_array(kula_writer *w, uint32_t n);
void kula_w_uint(kula_writer *w, uint64_t v);
void kula_w_int(kula_writer *w, int64_t v);
void kula_w_bool(kula_writer *w, bool v);
void kula_w_nil(kula_writer *w);
/* In: p may be NULL when n == 0. */
void kula_w_bin(kula_writer *w, const void *p, size_t n);
/* Out: out[0..return), the header kula_w_bin writes before n bytes (for an
 * encoder that writes its bytes itself).  Returns: 2, 3 or 5. */
size_t kula_bin_header(uint8_t out[5], uint32_t n);
/* In: s must be valid UTF-8 (the caller validates text from outside). */
void kula_w_str(kula_writer *w, const char *s, size_t n);
/* Writes an already canonical encoding verbatim (a nested structure). */
void kula_w_raw(kula_writer *w, const void *p, size_t n);

/* ---- reader ---- */

typedef struct kula_reader {
    const uint8_t *p;
    const uint8_t *end;
    int err;    /* first error, sticky; 0 while all is well */
    int depth;  /* nesting guard for kula_r_skip */
} kula_reader;

void kula_reader_init(kula_reader *r, const void *data, size_t len);
/* Records err (a negative kula_err) unless an error is already recorded. */
void kula_reader_fail(kula_reader *r, int err);
/* Returns: 0 if every read succeeded and the input was consumed exactly,
 *          the first recorded error, or KULA_ETRAILING. */
KULA_MUST_CHECK
int kula_reader_finish(kula_reader *r);
static inline bool kula_reader_ok(const kula_reader *r) { return r->err == 0; }

/* Reads an array header and requires exactly n elements (else KULA_EARITY). */
void kula_r_array_exact(kula_reader *r, uint32_t n);
/* kula_r_array and kula_r_uint for every form; the inline functions below
 * take the one-byte forms, most of a transaction's, themselves and hand
 * anything else to these, with the reader untouched. */
uint32_t kula_r_array_any(kula_reader *r, uint32_t max);
uint64_t kula_r_uint_any(kula_reader *r, uint64_t max);

/* Reads an array header with at most max elements.  Returns: the count. */
static inline uint32_t kula_r_array(kula_reader *r, uint32_t max)
{
    if (r->err == 0 && r->p < r->end) {
        uint8_t t = *r->p;
        uint32_t n = t & 0x0fu;
        /* a fixarray within max, and (every element taking a byte) within
         * the input: kula_r_array_any's early bound */
        if ((t & 0xf0u) == 0x90u && n <= max && n < (size_t)(r->end - r->p)) {
            r->p++;
            return n;
        }
    }
    return kula_r_array_any(r, max);
}

/* Reads an unsigned integer no larger than max (else KULA_ERANGE). */
static inline uint64_t kula_r_uint(kula_reader *r, uint64_t max)
{
    if (r->err == 0 && r->p < r->end && *r->p <= 0x7fu && *r->p <= max)
        return *r->p++; /* a positive fixint */
    return kula_r_uint_any(r, max);
}
/* Reads a signed integer in [min, max] (else KULA_ERANGE). */
int64_t kula_r_int(kula_reader *r, int64_t min, int64_t max);
bool kula_r_bool(kula_reader *r);
/* Reads a `bin` of at most max bytes.  Out: *p points into the input. */
size_t kula_r_bin(kula_reader *r, const uint8_t **p, size_t max);
/* Reads a `bin` of exactly n bytes into out (zeroed on failure). */
void kula_r_bin_exact(kula_reader *r, uint8_t *out, size_t n);
/* Reads a `bin` that is either empty or exactly n bytes.
 * Returns: true if present (copied to out), false if empty. */
bool kula_r_bin_opt(kula_reader *r, uint8_t *out, size_t n);
/* Reads a UTF-8 `str` of at most max bytes.  Out: *p points into the input. */
size_t kula_r_str(kula_reader *r, const char **p, size_t max);
/* Reads one canonical value of any type and returns its raw encoding.
 * Out: *p, *n the bytes of that value inside the input. */
void kula_r_value(kula_reader *r, const uint8_t **p, size_t *n);

/* Returns: true if s[0..n) is well-formed UTF-8 (no overlongs, no
 *          surrogates, nothing above U+10FFFF). */
bool kula_utf8_valid(const char *s, size_t n);

#endif /* KULA_CODEC_H */
