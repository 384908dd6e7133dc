/* snapfile.h -- copies of the state at snapshot heights, as files
 * (proto/SPEC.md §10.3, §12.2): what a node keeps for its peers and what a
 * state-syncing node fetches.
 *
 * A copy is DIR/state-HEIGHT.snap (HEIGHT in 20 digits, so that names sort
 * by height): every record of the state after block HEIGHT as the
 * canonical [key: bin, value: bin], in ascending key order, one after the
 * other with nothing around them, so that
 *     BLAKE2b-256("kula/snapdata/v1" || the file's bytes)
 * is the state hash that block's root commits to.  It is written to a
 * temporary name, synced and renamed, so a crash leaves no half copy.
 * Peers fetch it in pieces of KULA_SNAPFILE_CHUNK bytes. */
#ifndef KULA_SNAPFILE_H
#define KULA_SNAPFILE_H

#include <stddef.h>
#include <stdint.h>

#include "kula/base/error.h"
#include "kula/codec/codec.h"
#include "kula/crypto/crypto.h"
#include "kula/store/store.h"

#define KULA_SNAPFILE_CHUNK (1u << 20)
/* The largest key and value a copy may hold (a clearing record of the
 * most obligations is the largest value, about 160 MB). */
#define KULA_SNAPFILE_MAX_KEY 256u
#define KULA_SNAPFILE_MAX_VALUE (256u << 20)

/* Out: path of the copy of `height` in dir.  Returns: 0 or KULA_EINVAL
 * (too long). */
KULA_MUST_CHECK
int kula_snapfile_path(char *out, size_t cap, const char *dir, uint64_t height);

/* Writes the copy of the store's committed state (at `height`, its tip)
 * into dir (created if missing), and checks that it hashes to want.
 * Out: *size, its bytes.  Returns: 0, KULA_ESTATEROOT (the state does not
 * hash to want: nothing is kept), KULA_EIO or the store's error, with e. */
KULA_MUST_CHECK
int kula_snapfile_write(kula_store *s, const char *dir, uint64_t height, const kula_hash *want,
                        uint64_t *size, kula_error *e);
/* Deletes the copies in dir but the `keep` highest (and any temporary
 * file left by a crash).  Returns: the number deleted, or -1 (dir
 * unreadable). */
int kula_snapfile_prune(const char *dir, unsigned keep);
/* Out: *size of the copy of height in dir.  Returns: 0 or KULA_ENOTFOUND. */
KULA_MUST_CHECK
int kula_snapfile_size(const char *dir, uint64_t height, uint64_t *size);
/* Out: piece `index` of the copy appended to out, *total the number of
 * pieces.  Returns: 0, KULA_ENOTFOUND (no copy, or no such piece),
 * KULA_EIO. */
KULA_MUST_CHECK
int kula_snapfile_chunk(const char *dir, uint64_t height, uint32_t index, kula_buf *out,
                        uint32_t *total);

/* Reads the copy at path record by record, checking that it is what the
 * format says: each record a canonical [key (1 .. KULA_SNAPFILE_MAX_KEY
 * bytes), value (1 .. KULA_SNAPFILE_MAX_VALUE)], keys strictly ascending,
 * and that the whole hashes to want.  put (may be NULL) gets each record
 * as it is read.
 * Out: *records, how many.  Returns: 0, KULA_ESTATEROOT (another hash),
 * a codec error (the bytes are not records as above), KULA_EIO, or what
 * put returned; e says which and where. */
KULA_MUST_CHECK
int kula_snapfile_read(const char *path, const kula_hash *want, kula_store_put_fn put,
                       void *put_ctx, uint64_t *records, kula_error *e);

/* A copy in a file as the records kula_store_install_snapshot writes: a
 * kula_store_fill_fn whose ctx is a kula_snapfile_src.  It reads the copy
 * with every check of kula_snapfile_read, want included, so a copy that
 * fails them installs nothing. */
typedef struct kula_snapfile_src {
    const char *path;
    kula_hash want;
} kula_snapfile_src;
KULA_MUST_CHECK
int kula_snapfile_fill(void *ctx, kula_store_put_fn put, void *put_ctx);

#endif /* KULA_SNAPFILE_H */
