/* frame.h -- length-prefixed frames on a byte stream (proto/SPEC.md §11.1).
 *
 * A frame is a 4-byte big-endian length n followed by n payload bytes, with
 * 1 <= n <= KULA_MAX_FRAME.  The decoder turns a byte stream, delivered in
 * chunks of any size, into whole frames.  It is pure: no sockets, no clock,
 * no global state; one decoder per connection direction.
 *
 * Decoding loop (the caller's read callback):
 *
 *     while (len > 0) {
 *         size_t used; const uint8_t *f; size_t flen;
 *         int rc = kula_frame_feed(&dec, &used, &f, &flen, data, len);
 *         if (rc < 0) { close the connection; break; }
 *         data += used; len -= used;
 *         if (rc == 1) handle(f, flen);   // f valid until the next feed
 *     }
 *
 * Because each call yields at most one frame, the caller may change the
 * limit (kula_frame_decoder_set_max) between frames, for instance to accept
 * only small frames until the handshake is done (KULA_HS_MAX_FRAME). */
#ifndef KULA_FRAME_H
#define KULA_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kula/base/error.h"
#include "kula/codec/codec.h"

/* Bytes of the length prefix. */
#define KULA_FRAME_PREFIX 4
/* Largest plaintext message a sealed frame carries: the largest block
 * (KULA_MAX_BLOCK_BYTES, 2^24) plus 64 KiB for the message around it (its
 * commit and type; proto/SPEC.md §12): 16 842 752 bytes. */
#define KULA_MAX_MESSAGE ((16u << 20) + (64u << 10))
/* What crypto_secretstream_xchacha20poly1305 adds to each message (its
 * ABYTES: 1 tag byte + 16 MAC bytes); checked against libsodium at build. */
#define KULA_SEAL_OVERHEAD 17u
/* Largest frame payload: a sealed KULA_MAX_MESSAGE, 16 842 769 bytes. */
#define KULA_MAX_FRAME (KULA_MAX_MESSAGE + KULA_SEAL_OVERHEAD)

/* The incremental decoder.  All fields are private; the struct is public so
 * a connection can embed it without an allocation. */
typedef struct kula_frame_decoder {
    uint32_t max;                  /* largest payload accepted */
    uint8_t hdr[KULA_FRAME_PREFIX]; /* the length prefix being read */
    uint8_t hdr_got;               /* bytes of hdr read so far */
    bool delivered;                /* the last call returned a buffered frame */
    uint32_t need;                 /* payload length, once hdr is complete */
    uint32_t got;                  /* payload bytes buffered */
    uint8_t *buf;                  /* payload buffer, grown as bytes arrive */
    size_t cap;
    int err;                       /* sticky: the first error */
} kula_frame_decoder;

/* Initializes d to accept payloads of 1..KULA_MAX_FRAME bytes.  Allocates
 * nothing until a frame needs buffering. */
void kula_frame_decoder_init(kula_frame_decoder *d);
/* Frees d's buffer.  d may be initialized again afterwards. */
void kula_frame_decoder_free(kula_frame_decoder *d);
/* Sets the largest payload accepted from now on (1..KULA_MAX_FRAME; larger
 * values are clamped to KULA_MAX_FRAME, 0 is treated as 1).  A length
 * prefix already read is checked against the limit it was read under. */
void kula_frame_decoder_set_max(kula_frame_decoder *d, uint32_t max);

/* Consumes bytes from data until one frame is complete or data is used up.
 * Out: *used, the bytes of data consumed (all of them unless a frame
 *      completed earlier); *frame, *frame_len, the payload of the completed
 *      frame when 1 is returned (else NULL, 0).  The payload points into
 *      data or into the decoder's buffer and is valid until the next call
 *      on d, or until data is released, whichever comes first.
 * In:  data may be NULL when len is 0.
 * Returns: 1 a frame is complete,
 *          0 all of data was consumed and no frame is complete yet,
 *          KULA_ETOOBIG a length prefix above the limit,
 *          KULA_ERANGE a length prefix of 0,
 *          KULA_ENOMEM the payload buffer could not grow.
 *          Errors are sticky: every later call returns the same error and
 *          consumes nothing.  The caller MUST close the connection. */
KULA_MUST_CHECK
int kula_frame_feed(kula_frame_decoder *d, size_t *used, const uint8_t **frame,
                    size_t *frame_len, const uint8_t *data, size_t len);

/* Returns: the bytes of an incomplete frame the decoder holds (prefix bytes
 *          included): 0 means the stream ended on a frame boundary, so an
 *          end of stream now is clean. */
size_t kula_frame_decoder_pending(const kula_frame_decoder *d);

/* Writes the 4-byte length prefix of a payload of len bytes (for writers
 * that send prefix and payload as two buffers).
 * Returns: 0, KULA_ERANGE for len 0, KULA_ETOOBIG above KULA_MAX_FRAME. */
KULA_MUST_CHECK
int kula_frame_prefix(uint8_t out[KULA_FRAME_PREFIX], size_t len);

/* Appends one frame (prefix and payload) to out.
 * Returns: 0, KULA_ERANGE for len 0, KULA_ETOOBIG above KULA_MAX_FRAME,
 *          or out->err (KULA_ENOMEM) if out could not grow. */
KULA_MUST_CHECK
int kula_frame_encode(kula_buf *out, const uint8_t *payload, size_t len);

#endif /* KULA_FRAME_H */
