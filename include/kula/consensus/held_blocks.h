/* held_blocks.h -- the bytes of the blocks a validator's saved consensus
 * state names (the block it proposed this round, its locked value, its
 * valid value), as kulad stores them next to that state (SPEC §9, file
 * DATADIR/consensus.blocks).
 *
 * Why: a validator that precommitted a block is locked on it; after a
 * crash it may vote for nothing else until a later proof of lock, and as
 * proposer it must propose that very block again.  A block whose bytes were
 * only in memory is gone after the crash: a single validator then stalls
 * for good, and with several validators the round of its turn is lost.  So
 * the driver hands these bytes to io.save_blocks, durably, before the state
 * that names them is saved and before anything signed for them leaves.
 *
 * The file: "KULACB01", then the canonical encoding (SPEC §3) of an array
 * of at most KULA_HELD_BLOCKS_MAX entries [hash (32 bytes), height, block
 * bytes (at most KULA_HELD_BLOCK_MAX_BYTES)], then BLAKE2b-256 of all that
 * precedes.  Decoding is defensive: bounded counts and sizes, a checksum,
 * canonical encodings only; a damaged file is refused, never trusted (the
 * chain checks a block again before it commits it). */
#ifndef KULA_HELD_BLOCKS_H
#define KULA_HELD_BLOCKS_H

#include <stddef.h>
#include <stdint.h>

#include "kula/base/error.h"
#include "kula/codec/codec.h"
#include "kula/crypto/crypto.h"
#include "kula/types/types.h"

/* The blocks named by two saved states (the one stored and the one about
 * to be stored): proposal, lock and valid value of each. */
#define KULA_HELD_BLOCKS_MAX 6u
/* The largest block there is (kula/types/types.h). */
#define KULA_HELD_BLOCK_MAX_BYTES KULA_MAX_BLOCK_BYTES

typedef struct kula_held_block {
    kula_hash hash;
    uint64_t height;
    const uint8_t *p;
    size_t n;
} kula_held_block;

/* Encodes the n (at most KULA_HELD_BLOCKS_MAX) blocks into out (reset
 * first).  Returns: 0, or KULA_EINVAL when there are too many or one is too
 * large. */
KULA_MUST_CHECK
int kula_held_blocks_encode(kula_buf *out, const kula_held_block *b, size_t n);

/* Decodes a file's bytes; out[i].p point into data.  Returns: 0 with *n
 * set; KULA_EVERSION (not such a file, or of another version), KULA_EIO
 * (the checksum does not match: damaged), or the codec's error (truncated,
 * not canonical, too many or too large). */
KULA_MUST_CHECK
int kula_held_blocks_decode(const uint8_t *data, size_t len,
                            kula_held_block out[KULA_HELD_BLOCKS_MAX], size_t *n);

#endif /* KULA_HELD_BLOCKS_H */
