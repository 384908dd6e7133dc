/* slotfile.c -- a record kept in a file of two alternating slots
 * (kula/daemon/slotfile.h). */
#include "kula/daemon/slotfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kula/base/bytes.h"
#include "kula/base/file.h"

#define SLOT_ALIGN 4096u

bool kula_slot_newer(uint64_t b, uint64_t a)
{
    uint64_t ahead = b - a;
    return ahead != 0 && ahead < (UINT64_C(1) << 63);
}

/* Reads all n bytes at off.  Returns: 0, 1 when the file ends first, or -1
 * (errno). */
static int read_at(int fd, void *p, size_t n, uint64_t off)
{
    uint8_t *b = p;
    while (n > 0) {
        ssize_t k = pread(fd, b, n, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        if (k == 0)
            return 1;
        b += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return 0;
}

static int write_at(int fd, const void *p, size_t n, uint64_t off)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t k = pwrite(fd, b, n, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        b += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return 0;
}

/* Reads slot i into *rec (header, payload, checksum; the caller frees it).
 * Returns: 1 when it holds a valid record, 0 when not (missing, short,
 * another magic, too long, checksum wrong), -1 on a read error (errno). */
static int read_slot(const kula_slotfile *f, int i, uint8_t **rec, size_t *len, uint64_t *seq)
{
    uint8_t head[KULA_SLOT_HEADER];
    uint64_t off = (uint64_t)i * f->span;
    int rc = read_at(f->fd, head, sizeof(head), off);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    uint64_t n = kula_get_be64(head + 16);
    if (memcmp(head, f->magic, 8) != 0 || n > f->max_len)
        return 0;
    size_t total = KULA_SLOT_HEADER + (size_t)n + KULA_HASH_LEN;
    uint8_t *r = malloc(total);
    if (r == NULL)
        return -1;
    rc = read_at(f->fd, r, total, off);
    kula_hash sum;
    if (rc == 0)
        kula_hash_bytes(&sum, r, total - KULA_HASH_LEN);
    if (rc != 0 || memcmp(r, head, sizeof(head)) != 0 ||
        memcmp(sum.b, r + total - KULA_HASH_LEN, KULA_HASH_LEN) != 0) {
        int saved = errno;
        free(r);
        errno = saved;
        return rc < 0 ? -1 : 0;
    }
    *rec = r;
    *len = (size_t)n;
    *seq = kula_get_be64(head + 8);
    return 1;
}

/* Takes the newest valid slot into f and out. */
static int read_newest(kula_slotfile *f, kula_buf *out, bool *found)
{
    uint8_t *rec[2] = { NULL, NULL };
    size_t len[2] = { 0, 0 };
    uint64_t seq[2] = { 0, 0 };
    int ok[2];
    for (int i = 0; i < 2; i++) {
        ok[i] = read_slot(f, i, &rec[i], &len[i], &seq[i]);
        if (ok[i] < 0) {
            int saved = errno;
            free(rec[0]);
            errno = saved;
            return -1;
        }
    }
    int best = ok[0] ? 0 : -1;
    if (ok[1] && (best < 0 || kula_slot_newer(seq[1], seq[0])))
        best = 1;
    if (best >= 0) {
        f->newest = best;
        f->seq = seq[best];
        f->len = len[best];
        kula_hash_bytes(&f->sum, rec[best] + KULA_SLOT_HEADER, len[best]);
        kula_buf_append(out, rec[best] + KULA_SLOT_HEADER, len[best]);
    }
    free(rec[0]);
    free(rec[1]);
    *found = best >= 0;
    if (out->err != 0) {
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

int kula_slotfile_open(kula_slotfile *f, const char *path, const char magic[8], size_t max_len,
                       kula_buf *out, bool *found)
{
    memset(f, 0, sizeof(*f));
    f->fd = -1;
    f->newest = -1;
    memcpy(f->magic, magic, 8);
    f->max_len = max_len;
    uint64_t slot = KULA_SLOT_HEADER + (uint64_t)max_len + KULA_HASH_LEN;
    f->span = (slot + SLOT_ALIGN - 1) / SLOT_ALIGN * SLOT_ALIGN;
    kula_buf_reset(out);
    *found = false;
    f->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, S_IRUSR | S_IWUSR);
    /* The directory is synced at every open, not only at creation: a file
     * created by a run that crashed before its directory was synced is
     * there now but its name may not be durable yet. */
    if (f->fd < 0 || kula_sync_parent(path) != 0 || read_newest(f, out, found) != 0) {
        int saved = errno;
        kula_slotfile_close(f);
        errno = saved;
        return -1;
    }
    return 0;
}

int kula_slotfile_write(kula_slotfile *f, const void *p, size_t len)
{
    if (f->fd < 0 || len > f->max_len) {
        errno = EINVAL;
        return -1;
    }
    kula_hash sum;
    kula_hash_bytes(&sum, p, len);
    if (f->newest >= 0 && len == f->len && memcmp(sum.b, f->sum.b, KULA_HASH_LEN) == 0)
        return 0; /* the newest record already holds these bytes */
    size_t total = KULA_SLOT_HEADER + len + KULA_HASH_LEN;
    uint8_t *rec = malloc(total);
    if (rec == NULL)
        return -1;
    uint64_t seq = f->seq + 1; /* from 1 in a file with no valid slot */
    memcpy(rec, f->magic, 8);
    kula_put_be64(rec + 8, seq);
    kula_put_be64(rec + 16, len);
    memcpy(rec + KULA_SLOT_HEADER, p, len);
    kula_hash check;
    kula_hash_bytes(&check, rec, KULA_SLOT_HEADER + len);
    memcpy(rec + KULA_SLOT_HEADER + len, check.b, KULA_HASH_LEN);
    /* Never the slot of the newest record: a torn write damages only the
     * slot written, and the reader then takes the other one.  With no
     * valid slot, slot 1, so that what lies at offset 0 (an older format
     * the caller read) stays until this record is durable. */
    int slot = f->newest == 1 ? 0 : 1;
    int rc = write_at(f->fd, rec, total, (uint64_t)slot * f->span);
    int saved = errno;
    free(rec);
    if (rc == 0 && fdatasync(f->fd) != 0) {
        rc = -1;
        saved = errno;
    }
    if (rc != 0) {
        errno = saved;
        return -1;
    }
    f->newest = slot;
    f->seq = seq;
    f->len = len;
    f->sum = sum;
    f->writes++;
    return 0;
}

void kula_slotfile_close(kula_slotfile *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    f->newest = -1;
}
