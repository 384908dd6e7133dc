/* consfile.h -- a validator's consensus files in its data directory
 * (SPEC §9.2): DATADIR/consensus.state, the machine's saved state
 * (kula_cons_saved), and DATADIR/consensus.blocks, the bytes of the blocks
 * that state names (kula/consensus/held_blocks.h).  Each is a file of two
 * alternating slots (kula/daemon/slotfile.h): a write is one pwrite and one
 * fdatasync, nothing when the record is unchanged, and a write torn by a
 * crash leaves the previous record.
 *
 * Files of the older single-record format (consensus.state "KULACS01" ‖
 * state ‖ BLAKE2b; consensus.blocks the held-blocks encoding alone, both
 * replaced whole through NAME.tmp) are read once; the first change is
 * written in slot 1, which leaves the older record at offset 0 until it is
 * durable.
 *
 * The readers log what they find wrong (a damaged file is ignored, never
 * trusted); the writers log nothing and return errno, which the caller
 * names in its message. */
#ifndef KULA_CONSFILE_H
#define KULA_CONSFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "kula/codec/codec.h"
#include "kula/consensus/consensus.h"
#include "kula/consensus/held_blocks.h"
#include "kula/daemon/slotfile.h"

typedef struct kula_consfile {
    kula_slotfile state;
    kula_slotfile blocks;
    char state_path[1100];
    char blocks_path[1100];
} kula_consfile;

/* Names the files of datadir; opens nothing. */
void kula_consfile_init(kula_consfile *c, const char *datadir);

/* Opens consensus.state (creating it when missing) and reads its newest
 * record into *s.  Returns: whether a state was read; false for a new
 * file, and for one that is damaged or of another version, or that cannot
 * be opened (said in the log; the file is then opened again at the first
 * write). */
bool kula_consfile_read_state(kula_consfile *c, kula_cons_saved *s);

/* Opens consensus.blocks and decodes its newest record into b, whose
 * pointers point into *file (initialised by the caller, freed by it).
 * Returns: the number of blocks; 0 for a new file and for one that is
 * damaged, of another version or cannot be opened (said in the log). */
size_t kula_consfile_read_blocks(kula_consfile *c, kula_buf *file,
                                 kula_held_block b[KULA_HELD_BLOCKS_MAX]);

/* Makes *s the state stored, durably, before it returns (opening the file
 * first when that failed before).  Returns: 0, or -1 with errno. */
KULA_MUST_CHECK
int kula_consfile_write_state(kula_consfile *c, const kula_cons_saved *s);

/* Makes the n blocks those stored, durably, before it returns.  Returns: 0,
 * or -1 with errno (EINVAL: too many blocks or one too large). */
KULA_MUST_CHECK
int kula_consfile_write_blocks(kula_consfile *c, const kula_held_block *b, size_t n);

/* Closes both files. */
void kula_consfile_close(kula_consfile *c);

#endif /* KULA_CONSFILE_H */
