/* fuzz_slotfile.c -- libFuzzer target for the two-slot file reader
 * (kula/daemon/slotfile.h, proto/SPEC.md §9.2): the bytes a validator finds
 * in DATADIR/consensus.state and DATADIR/consensus.blocks at start, which a
 * damaged disk or a crash may have left in any state.
 *
 * Each input is a file's content (slot 1 at offset 4096, the span for a
 * payload of at most MAX_LEN bytes), opened twice: as it is, and with the
 * checksum of each slot whose header names a length that fits made right,
 * so that mutations reach the sequence numbers and the choice between two
 * valid slots.  Properties, whatever the file held before:
 *   - opening never fails on a file that can be read, and what it finds is
 *     at most MAX_LEN bytes;
 *   - a record written is what the next open finds (a payload drawn from the
 *     input, empty and MAX_LEN long included);
 *   - a second record whose slot is then torn (a byte of it flipped, as a
 *     crash in the middle of its pwrite may leave it) gives back the first;
 *   - writing the newest record again changes no byte of the file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kula/base/bytes.h"
#include "kula/codec/codec.h"
#include "kula/crypto/crypto.h"
#include "kula/daemon/slotfile.h"

#define MAX_LEN 100u
#define SPAN 4096u /* KULA_SLOT_HEADER + MAX_LEN + the checksum, rounded up to 4096 */
#define MAGIC "KULAFZ1\n"

#define CHECK(c)                                                                              \
    do {                                                                                      \
        if (!(c)) {                                                                           \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);              \
            abort();                                                                          \
        }                                                                                     \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];
static char path[96];

static void remove_dir(void)
{
    unlink(path);
    rmdir(dir);
}

static void put_file(const uint8_t *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK(n == 0 || write(fd, p, n) == (ssize_t)n);
    close(fd);
}

static uint8_t *get_file(size_t *n)
{
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    CHECK(fseek(f, 0, SEEK_END) == 0);
    long len = ftell(f);
    CHECK(len >= 0);
    rewind(f);
    uint8_t *p = malloc((size_t)len + 1);
    CHECK(p != NULL);
    CHECK(fread(p, 1, (size_t)len, f) == (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return p;
}

static void open_file(kula_slotfile *f, kula_buf *out, bool *found)
{
    CHECK(kula_slotfile_open(f, path, MAGIC, MAX_LEN, out, found) == 0);
    CHECK(*found || out->len == 0);
    CHECK(out->len <= MAX_LEN);
}

static bool same(const kula_buf *b, const uint8_t *p, size_t n)
{
    return b->len == n && (n == 0 || memcmp(b->data, p, n) == 0);
}

static void check(const uint8_t *file, size_t size, const uint8_t *payload, size_t plen)
{
    kula_slotfile f;
    kula_buf out;
    kula_buf_init(&out);
    bool found;
    put_file(file, size);
    open_file(&f, &out, &found);

    /* a record written is what the next open finds */
    CHECK(kula_slotfile_write(&f, payload, plen) == 0);
    int first = f.newest;
    kula_slotfile_close(&f);
    open_file(&f, &out, &found);
    CHECK(found && same(&out, payload, plen));

    /* the same record again writes nothing */
    size_t n0, n1;
    uint8_t *before = get_file(&n0);
    CHECK(kula_slotfile_write(&f, payload, plen) == 0);
    uint8_t *after = get_file(&n1);
    CHECK(n0 == n1 && (n0 == 0 || memcmp(before, after, n0) == 0));
    free(before);
    free(after);

    /* a second record, its slot torn: the first comes back */
    uint8_t other[MAX_LEN + 1];
    size_t olen = plen < MAX_LEN ? plen + 1 : plen - 1;
    for (size_t i = 0; i < olen; i++)
        other[i] = (uint8_t)(i < plen ? payload[i] ^ 0x5a : 0x5a);
    CHECK(kula_slotfile_write(&f, other, olen) == 0);
    CHECK(f.newest == 1 - first);
    kula_slotfile_close(&f);
    size_t n;
    uint8_t *now = get_file(&n);
    size_t torn = (size_t)(1 - first) * SPAN + (plen * 7 + 3) % (KULA_SLOT_HEADER + olen + KULA_HASH_LEN);
    CHECK(torn < n);
    now[torn] ^= 0x01;
    put_file(now, n);
    free(now);
    open_file(&f, &out, &found);
    CHECK(found && same(&out, payload, plen));
    kula_slotfile_close(&f);
    kula_buf_free(&out);
}

/* The input with each slot's checksum made right where its header's length
 * fits inside the input. */
static uint8_t *fixed_copy(const uint8_t *data, size_t size)
{
    uint8_t *p = malloc(size > 0 ? size : 1);
    CHECK(p != NULL);
    memcpy(p, data, size);
    for (size_t off = 0; off < 2 * SPAN && off + KULA_SLOT_HEADER <= size; off += SPAN) {
        uint64_t len = kula_get_be64(p + off + 16);
        if (len > MAX_LEN || off + KULA_SLOT_HEADER + len + KULA_HASH_LEN > size)
            continue;
        memcpy(p + off, MAGIC, 8);
        kula_hash sum;
        kula_hash_bytes(&sum, p + off, KULA_SLOT_HEADER + (size_t)len);
        memcpy(p + off + KULA_SLOT_HEADER + len, sum.b, KULA_HASH_LEN);
    }
    return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (dir[0] == '\0') {
        /* in memory where there is a tmpfs: each input opens, syncs and
         * writes the file a dozen times */
        struct stat st;
        const char *tmp = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
        snprintf(dir, sizeof(dir), "%s/kula-fuzz-slot-XXXXXX", tmp);
        CHECK(mkdtemp(dir) != NULL);
        snprintf(path, sizeof(path), "%s/slots", dir);
        atexit(remove_dir);
    }
    if (size > 3 * SPAN)
        return 0;
    /* the payload: the input's first byte says how long, the bytes after
     * the second slot (or the input's own) say what */
    size_t plen = size > 0 ? data[0] % (MAX_LEN + 1) : 0;
    uint8_t payload[MAX_LEN];
    for (size_t i = 0; i < plen; i++)
        payload[i] = size > 0 ? data[(i * 31 + 1) % size] : 0;
    check(data, size, payload, plen);
    uint8_t *fixed = fixed_copy(data, size);
    check(fixed, size, payload, plen);
    free(fixed);
    return 0;
}
