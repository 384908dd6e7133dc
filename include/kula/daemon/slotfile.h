/* slotfile.h -- a record kept durably in a file of two alternating slots,
 * each written in place with one pwrite and one fdatasync (kulad's
 * DATADIR/consensus.state and DATADIR/consensus.blocks, SPEC §9.2).
 *
 * The file: slot 0 at offset 0, slot 1 at offset `span` (the largest slot
 * rounded up to 4096 bytes, so that the two never share a disk block).  A
 * slot is
 *
 *     magic (8 bytes) ‖ be64 sequence ‖ be64 length ‖ payload ‖ BLAKE2b-256 of all before
 *
 * A write goes to the slot that does not hold the newest valid record, with
 * the next sequence number.  Why that is crash safe: a write torn by a crash
 * or a power loss can only damage the slot being written, whose checksum
 * then fails; the other slot still holds the previous record, which the
 * reader takes.  A caller that acts on a record only after
 * kula_slotfile_write returned (a validator sends a vote only once the
 * state that records it is durable) therefore never finds, after a crash,
 * a record older than what it acted on.
 *
 * Untrusted bytes: a slot is read with its length bounded by max_len and
 * its checksum checked; a damaged slot is ignored, never trusted. */
#ifndef KULA_SLOTFILE_H
#define KULA_SLOTFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kula/base/error.h"
#include "kula/codec/codec.h"
#include "kula/crypto/crypto.h"

#define KULA_SLOT_HEADER 24u /* magic, sequence, length */

typedef struct kula_slotfile {
    int fd;               /* -1 when closed */
    uint8_t magic[8];
    size_t max_len;       /* the largest payload */
    uint64_t span;        /* offset of slot 1 */
    int newest;           /* the slot of the newest valid record, -1: none */
    uint64_t seq;         /* its sequence number */
    size_t len;           /* its payload's length ... */
    kula_hash sum;        /* ... and BLAKE2b-256 (to skip writing it again) */
    uint64_t writes;      /* records written since open, skipped ones not counted */
} kula_slotfile;

/* Whether sequence number b was written after a (modulo 2^64: b is newer
 * when it is at most 2^63 - 1 ahead of a), so the order holds across a
 * wrap of the counter. */
bool kula_slot_newer(uint64_t b, uint64_t a);

/* Opens path (creating it with mode 0600 when missing, then fsyncing its
 * directory, once per open, so that the file's name is durable before
 * anything is written into it) and reads both slots.  magic names the
 * record's kind and version.
 * Out: *found true and out (reset first) the payload of the newest valid
 * slot; *found false and out empty when no slot is valid (a new file, a
 * file of the older single-record format, or both slots damaged: the
 * caller says which in its log and may read an older format itself; the
 * next write then goes to slot 1, leaving the bytes at offset 0 intact
 * until it is durable).
 * Returns: 0, or -1 with errno (f is then closed). */
KULA_MUST_CHECK
int kula_slotfile_open(kula_slotfile *f, const char *path, const char magic[8], size_t max_len,
                       kula_buf *out, bool *found);

/* Makes the len bytes of p (len <= max_len) the file's record: nothing is
 * written when they equal the newest record; otherwise one pwrite into the
 * other slot with the next sequence number, then fdatasync.  On success the
 * record is durable.  On failure the newest record is still the previous
 * one and the next call writes the same slot again.
 * Returns: 0, or -1 with errno (EINVAL: len > max_len or f closed). */
KULA_MUST_CHECK
int kula_slotfile_write(kula_slotfile *f, const void *p, size_t len);

/* Closes the file (f may be closed already). */
void kula_slotfile_close(kula_slotfile *f);

#endif /* KULA_SLOTFILE_H */
