/* consfile.c -- DATADIR/consensus.state and DATADIR/consensus.blocks
 * (kula/daemon/consfile.h). */
#include "kula/daemon/consfile.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kula/base/log.h"

/* The slots' magics; KULACS01 is the older single-record consensus.state. */
#define STATE_MAGIC "KULACS02"
#define OLD_STATE_MAGIC "KULACS01"
#define OLD_STATE_LEN (8 + sizeof(kula_cons_saved) + KULA_HASH_LEN)
#define BLOCKS_MAGIC "KULACB02"
#define BLOCKS_MAX_LEN (64 + KULA_HELD_BLOCKS_MAX * (KULA_HELD_BLOCK_MAX_BYTES + 64))

void kula_consfile_init(kula_consfile *c, const char *datadir)
{
    memset(c, 0, sizeof(*c));
    c->state.fd = c->blocks.fd = -1;
    snprintf(c->state_path, sizeof(c->state_path), "%s/consensus.state", datadir);
    snprintf(c->blocks_path, sizeof(c->blocks_path), "%s/consensus.blocks", datadir);
}

/* The whole of f's file into *old when it has at most most bytes (an older
 * single-record file lies at offset 0).  Returns: whether the file holds
 * anything at all. */
static bool read_whole(const kula_slotfile *f, size_t most, kula_buf *old)
{
    struct stat st;
    if (f->fd < 0 || fstat(f->fd, &st) != 0 || st.st_size == 0)
        return false;
    if ((uint64_t)st.st_size > most)
        return true;
    uint8_t chunk[65536];
    off_t off = 0;
    ssize_t got;
    while ((got = pread(f->fd, chunk, sizeof(chunk), off)) > 0) {
        kula_buf_append(old, chunk, (size_t)got);
        off += got;
    }
    return true;
}

/* Opens f and reads its record into *rec: from the newest slot, or from a
 * file of the older format, which old_ok accepts (*older then true).
 * Returns: whether a record was read. */
static bool open_record(kula_slotfile *f, const char *path, const char *magic, size_t max_len,
                        size_t old_most, bool (*old_ok)(const kula_buf *), kula_buf *rec,
                        bool *older)
{
    bool found = false;
    *older = false;
    if (kula_slotfile_open(f, path, magic, max_len, rec, &found) != 0) {
        kula_error("cannot open %s: %s (check the data directory's permissions and free "
                   "space; kulad tries again at the next write)",
                   path, strerror(errno));
        return false;
    }
    if (found)
        return true;
    if (!read_whole(f, old_most, rec))
        return false; /* a new file */
    if (rec->err == 0 && old_ok(rec)) {
        kula_info("%s is of the older single-record format: read, and written as two slots "
                  "from its next change on",
                  path);
        *older = true;
        return true;
    }
    kula_buf_reset(rec);
    kula_warn("%s is damaged or from another version: ignored", path);
    return false;
}

static bool old_state_ok(const kula_buf *b)
{
    kula_hash sum;
    if (b->len != OLD_STATE_LEN || memcmp(b->data, OLD_STATE_MAGIC, 8) != 0)
        return false;
    kula_hash_bytes(&sum, b->data, 8 + sizeof(kula_cons_saved));
    return memcmp(sum.b, b->data + 8 + sizeof(kula_cons_saved), KULA_HASH_LEN) == 0;
}

bool kula_consfile_read_state(kula_consfile *c, kula_cons_saved *s)
{
    kula_buf rec;
    kula_buf_init(&rec);
    bool older;
    bool ok = open_record(&c->state, c->state_path, STATE_MAGIC, sizeof(*s), OLD_STATE_LEN,
                          old_state_ok, &rec, &older);
    if (ok && !older && rec.len != sizeof(*s)) {
        kula_warn("%s holds a record of another size: ignored", c->state_path);
        ok = false;
    }
    if (ok)
        memcpy(s, rec.data + (older ? 8 : 0), sizeof(*s));
    kula_buf_free(&rec);
    return ok;
}

/* The older consensus.blocks is the held-blocks encoding alone. */
static bool old_blocks_ok(const kula_buf *b)
{
    kula_held_block out[KULA_HELD_BLOCKS_MAX];
    size_t n;
    return kula_held_blocks_decode(b->data, b->len, out, &n) == 0;
}

size_t kula_consfile_read_blocks(kula_consfile *c, kula_buf *file,
                                 kula_held_block b[KULA_HELD_BLOCKS_MAX])
{
    size_t n = 0;
    bool older;
    if (!open_record(&c->blocks, c->blocks_path, BLOCKS_MAGIC, BLOCKS_MAX_LEN, BLOCKS_MAX_LEN,
                     old_blocks_ok, file, &older))
        return 0;
    if (kula_held_blocks_decode(file->data, file->len, b, &n) != 0) {
        kula_warn("%s holds a record that does not decode: ignored", c->blocks_path);
        return 0;
    }
    return n;
}

/* Writes f's record, opening the file first when that failed before. */
static int write_record(kula_slotfile *f, const char *path, const char *magic, size_t max_len,
                        const void *p, size_t len)
{
    if (f->fd < 0) {
        kula_buf ignored;
        kula_buf_init(&ignored);
        bool found;
        int rc = kula_slotfile_open(f, path, magic, max_len, &ignored, &found);
        int saved = errno;
        kula_buf_free(&ignored);
        errno = saved;
        if (rc != 0)
            return -1;
    }
    return kula_slotfile_write(f, p, len);
}

int kula_consfile_write_state(kula_consfile *c, const kula_cons_saved *s)
{
    return write_record(&c->state, c->state_path, STATE_MAGIC, sizeof(*s), s, sizeof(*s));
}

int kula_consfile_write_blocks(kula_consfile *c, const kula_held_block *b, size_t n)
{
    kula_buf out;
    kula_buf_init(&out);
    int rc = kula_held_blocks_encode(&out, b, n);
    if (rc == 0)
        rc = write_record(&c->blocks, c->blocks_path, BLOCKS_MAGIC, BLOCKS_MAX_LEN, out.data,
                          out.len);
    else
        errno = rc == KULA_ENOMEM ? ENOMEM : EINVAL;
    int saved = errno;
    kula_buf_free(&out);
    errno = saved;
    return rc == 0 ? 0 : -1;
}

void kula_consfile_close(kula_consfile *c)
{
    kula_slotfile_close(&c->state);
    kula_slotfile_close(&c->blocks);
}
