/* mempool_file.c -- the pending transactions kept across a clean restart. */
#include "kula/chain/mempool_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kula/base/error.h"
#include "kula/base/file.h"

/* Bytes gathered before each write(2) while saving. */
#define SAVE_FLUSH_BYTES (1u << 20)

void kula_mempool_file_free(kula_mempool_file *f)
{
    if (f == NULL)
        return;
    free(f->txs);
    free(f->lens);
    free(f->data);
    memset(f, 0, sizeof(*f));
}

/* ---- encoding (proto/SPEC.md §9.1) ---- */

/* The totals a file may hold, as the decoder bounds them.  Returns: 0 or
 * KULA_ETOOBIG. */
static int check_totals(size_t n, size_t bytes)
{
    return n > KULA_MEMPOOL_MAX_TXS || bytes > KULA_MEMPOOL_MAX_BYTES ? KULA_ETOOBIG : 0;
}

static void write_header(kula_writer *w, const kula_hash *chain_id, size_t n)
{
    kula_w_array(w, 3);
    kula_w_uint(w, KULA_MEMPOOL_FILE_VERSION);
    kula_w_bin(w, chain_id->b, KULA_HASH_LEN);
    kula_w_array(w, (uint32_t)n);
}

int kula_mempool_file_encode(kula_buf *out, const kula_hash *chain_id,
                             const uint8_t *const *txs, const size_t *lens, size_t n)
{
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        if (lens[i] > KULA_MAX_TX_BYTES)
            return KULA_ETOOBIG;
        bytes += lens[i];
        if (check_totals(i + 1, bytes) != 0)
            return KULA_ETOOBIG;
    }
    size_t start = out->len;
    kula_writer w;
    kula_writer_init(&w, out);
    write_header(&w, chain_id, n);
    for (size_t i = 0; i < n; i++)
        kula_w_bin(&w, txs[i], lens[i]);
    if (out->err != 0)
        return out->err;
    kula_hash sum;
    kula_hash_bytes(&sum, out->data + start, out->len - start);
    kula_buf_append(out, sum.b, KULA_HASH_LEN);
    return out->err;
}

/* ---- decoding ---- */

int kula_mempool_file_decode(kula_mempool_file *out, const uint8_t *data, size_t len,
                             const kula_hash *chain_id)
{
    memset(out, 0, sizeof(*out));
    /* §2.5: the size limit before any other work. */
    if (len > KULA_MEMPOOL_FILE_MAX_BYTES)
        return KULA_ETOOBIG;
    if (len < KULA_HASH_LEN)
        return KULA_ETRUNC;
    size_t body = len - KULA_HASH_LEN;
    kula_reader r;
    kula_reader_init(&r, data, body);
    /* The version first, as for every versioned structure (§2.5): a newer
     * node's file, whatever its layout, is EVERSION, not a checksum error. */
    uint32_t fields = kula_r_array(&r, 64);
    if (kula_reader_ok(&r) && fields == 0)
        kula_reader_fail(&r, KULA_EARITY);
    uint64_t version = kula_r_uint(&r, UINT64_MAX);
    if (kula_reader_ok(&r) && version != KULA_MEMPOOL_FILE_VERSION)
        kula_reader_fail(&r, KULA_EVERSION);
    if (kula_reader_ok(&r) && fields != 3)
        kula_reader_fail(&r, KULA_EARITY);
    if (!kula_reader_ok(&r))
        return r.err;
    kula_hash sum;
    kula_hash_bytes(&sum, data, body);
    if (memcmp(sum.b, data + body, KULA_HASH_LEN) != 0)
        return KULA_ESTORE;

    kula_hash file_chain;
    kula_r_bin_exact(&r, file_chain.b, KULA_HASH_LEN);
    /* kula_r_array bounds the count by the bytes left, so the arrays below
     * are never larger than the input. */
    uint32_t n = kula_r_array(&r, KULA_MEMPOOL_MAX_TXS);
    if (!kula_reader_ok(&r))
        return r.err;
    out->txs = malloc((n ? n : 1) * sizeof(*out->txs));
    out->lens = malloc((n ? n : 1) * sizeof(*out->lens));
    if (out->txs == NULL || out->lens == NULL) {
        kula_mempool_file_free(out);
        return KULA_ENOMEM;
    }
    size_t bytes = 0;
    for (uint32_t i = 0; i < n && kula_reader_ok(&r); i++) {
        out->lens[i] = kula_r_bin(&r, &out->txs[i], KULA_MAX_TX_BYTES);
        bytes += out->lens[i];
        if (kula_reader_ok(&r) && check_totals(i + 1u, bytes) != 0)
            kula_reader_fail(&r, KULA_ETOOBIG);
    }
    int rc = kula_reader_finish(&r);
    if (rc == 0 && memcmp(file_chain.b, chain_id->b, KULA_HASH_LEN) != 0)
        rc = KULA_ECHAIN;
    if (rc != 0) {
        kula_mempool_file_free(out);
        if (rc == KULA_ECHAIN)
            out->chain_id = file_chain;
        return rc;
    }
    out->chain_id = file_chain;
    out->n = n;
    return 0;
}

/* ---- files ---- */

/* Out: DATADIR/mempool.dat followed by suffix.  Returns: 0, or KULA_EINVAL
 * if it does not fit. */
static int file_path(char *out, size_t cap, const char *datadir, const char *suffix)
{
    int k = snprintf(out, cap, "%s/%s%s", datadir, KULA_MEMPOOL_FILE_NAME, suffix);
    return k < 0 || (size_t)k >= cap ? KULA_EINVAL : 0;
}

/* What the two walks of a save share: the first counts, the second writes
 * through buf to fd, hashing what it writes. */
typedef struct saver {
    size_t n, bytes;  /* transactions visited, their bytes */
    bool too_big;     /* one above KULA_MAX_TX_BYTES */
    int fd;
    kula_buf buf;
    kula_writer w;
    kula_hasher h;
    int err;          /* 0, KULA_EIO (errno in sys_errno) or KULA_ENOMEM */
    int sys_errno;
} saver;

static bool count_tx(void *ctx, const uint8_t *tx, size_t len)
{
    saver *s = ctx;
    (void)tx;
    s->n++;
    s->bytes += len;
    if (len > KULA_MAX_TX_BYTES)
        s->too_big = true;
    return true;
}

/* Hashes and writes what buf holds.  Returns: false once anything failed. */
static bool flush(saver *s)
{
    if (s->err == 0 && s->buf.err != 0)
        s->err = s->buf.err;
    if (s->err != 0)
        return false;
    kula_hasher_update(&s->h, s->buf.data, s->buf.len);
    if (kula_write_all(s->fd, s->buf.data, s->buf.len) != 0) {
        s->err = KULA_EIO;
        s->sys_errno = errno;
        return false;
    }
    kula_buf_reset(&s->buf);
    return true;
}

static bool write_tx(void *ctx, const uint8_t *tx, size_t len)
{
    saver *s = ctx;
    kula_w_bin(&s->w, tx, len);
    s->n++;
    return s->buf.len < SAVE_FLUSH_BYTES || flush(s);
}

int kula_mempool_file_save(const kula_mempool *mp, size_t *saved, const char *datadir,
                           const kula_hash *chain_id, kula_error *e)
{
    if (saved != NULL)
        *saved = 0;
    char path[1100], tmp[1100];
    if (file_path(path, sizeof(path), datadir, "") != 0 ||
        file_path(tmp, sizeof(tmp), datadir, ".tmp") != 0)
        return kula_error_set(e, KULA_EINVAL, "data directory name too long");
    /* The count heads the list, so the first walk counts (the mempool does
     * not change between the two: nothing else runs meanwhile). */
    saver s;
    memset(&s, 0, sizeof(s));
    uint64_t cursor = 0;
    kula_mempool_walk(mp, &cursor, count_tx, &s);
    if (s.too_big || check_totals(s.n, s.bytes) != 0)
        return kula_error_set(e, KULA_ETOOBIG, "%zu transactions of %zu bytes do not fit in %s",
                              s.n, s.bytes, path);
    size_t want = s.n;
    s.n = 0;
    s.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (s.fd < 0)
        return kula_error_set(e, KULA_EIO, "cannot create %s: %s", tmp, strerror(errno));
    kula_buf_init(&s.buf);
    kula_writer_init(&s.w, &s.buf);
    kula_hasher_init(&s.h);
    write_header(&s.w, chain_id, want);
    cursor = 0;
    kula_mempool_walk(mp, &cursor, write_tx, &s);
    if (flush(&s) && s.n != want) {
        s.err = KULA_EINVAL; /* the mempool changed under the walk */
        kula_error_set(e, s.err, "the mempool changed while %s was written", tmp);
    }
    if (s.err == 0) {
        kula_hash sum;
        kula_hasher_final(&s.h, &sum);
        if (kula_write_all(s.fd, sum.b, KULA_HASH_LEN) != 0 || fsync(s.fd) != 0) {
            s.err = KULA_EIO;
            s.sys_errno = errno;
        }
    }
    kula_buf_free(&s.buf);
    if (close(s.fd) != 0 && s.err == 0) {
        s.err = KULA_EIO;
        s.sys_errno = errno;
    }
    if (s.err == KULA_EIO)
        kula_error_set(e, s.err, "cannot write %s: %s", tmp, strerror(s.sys_errno));
    else if (s.err == KULA_ENOMEM)
        kula_error_set(e, s.err, "out of memory writing %s", tmp);
    if (s.err == 0 && rename(tmp, path) != 0) {
        s.err = KULA_EIO;
        kula_error_set(e, s.err, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    }
    if (s.err != 0) {
        unlink(tmp);
        return s.err;
    }
    if (kula_sync_dir(datadir) != 0)
        return kula_error_set(e, KULA_EIO, "cannot sync the directory %s: %s", datadir,
                              strerror(errno));
    if (saved != NULL)
        *saved = want;
    return 0;
}

int kula_mempool_file_load(kula_mempool_file *out, const char *datadir,
                           const kula_hash *chain_id, kula_error *e)
{
    memset(out, 0, sizeof(*out));
    char path[1100];
    if (file_path(path, sizeof(path), datadir, "") != 0)
        return kula_error_set(e, KULA_EINVAL, "data directory name too long");
    /* O_NONBLOCK: a FIFO in its place must not hang the start. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int sys = errno;
        return kula_error_set(e, sys == ENOENT ? KULA_ENOTFOUND : KULA_EIO, "cannot open %s: %s",
                              path, strerror(sys));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return kula_error_set(e, KULA_EIO, "%s is not a regular file", path);
    }
    if ((uint64_t)st.st_size > KULA_MEMPOOL_FILE_MAX_BYTES) {
        close(fd);
        return kula_error_set(e, KULA_ETOOBIG,
                              "%s is %llu bytes, more than a mempool file can hold (%zu)", path,
                              (unsigned long long)st.st_size, (size_t)KULA_MEMPOOL_FILE_MAX_BYTES);
    }
    /* One byte more than fstat said: a file that grew meanwhile is noticed. */
    size_t cap = (size_t)st.st_size + 1, n = 0;
    uint8_t *data = malloc(cap);
    int rc = data == NULL ? KULA_ENOMEM : 0;
    while (rc == 0 && n < cap) {
        ssize_t k = read(fd, data + n, cap - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            rc = kula_error_set(e, KULA_EIO, "cannot read %s: %s", path, strerror(errno));
        } else if (k == 0) {
            break;
        } else {
            n += (size_t)k;
        }
    }
    close(fd);
    if (rc == 0 && n == cap) {
        rc = kula_error_set(e, KULA_EIO, "%s changed while it was read", path);
    }
    if (rc == KULA_ENOMEM)
        kula_error_set(e, rc, "out of memory reading %s", path);
    if (rc == 0)
        rc = kula_mempool_file_decode(out, data, n, chain_id);
    if (rc == 0) {
        out->data = data;
        return 0;
    }
    free(data);
    char mine[2 * KULA_HASH_LEN + 1], theirs[2 * KULA_HASH_LEN + 1];
    switch (rc) {
    case KULA_ECHAIN:
        kula_hex_encode(theirs, out->chain_id.b, KULA_HASH_LEN);
        kula_hex_encode(mine, chain_id->b, KULA_HASH_LEN);
        kula_error_set(e, rc,
                       "%s belongs to another network (chain id %.16s, not this node's %.16s)",
                       path, theirs, mine);
        break;
    case KULA_ESTORE:
        kula_error_set(e, rc, "%s is damaged (its checksum does not match)", path);
        break;
    case KULA_EVERSION:
        kula_error_set(e, rc, "%s was written by a newer kulad (unknown version)", path);
        break;
    case KULA_EIO:
    case KULA_ENOMEM:
        break; /* said above */
    default:
        kula_error_set(e, rc, "%s is not a valid mempool file: %s", path, kula_strerror(rc));
        break;
    }
    return rc;
}

/* ---- re-admission ---- */

static bool is_zero(const kula_hash *h)
{
    static const kula_hash zero;
    return memcmp(h->b, zero.b, KULA_HASH_LEN) == 0;
}

int kula_mempool_file_readmit(kula_mempool *mp, kula_mempool_reload *report, kula_chain *chain,
                              kula_store *store, kula_verifier *v, const kula_mempool_file *f)
{
    memset(report, 0, sizeof(*report));
    report->total = f->n;
    if (f->n == 0)
        return 0;
    size_t chunk = KULA_MEMPOOL_FILE_CHUNK;
    int *results = malloc(chunk * sizeof(*results));
    kula_hash *ids = malloc(chunk * sizeof(*ids));
    if (results == NULL || ids == NULL) {
        free(results);
        free(ids);
        return KULA_ENOMEM;
    }
    for (size_t at = 0; at < f->n; at += chunk) {
        size_t k = f->n - at < chunk ? f->n - at : chunk;
        /* ids[i] is set only for a transaction that decoded. */
        memset(ids, 0, k * sizeof(*ids));
        kula_mempool_add_batch(mp, kula_chain_ledger(chain), v, f->txs + at, f->lens + at, k,
                               results, ids);
        for (size_t i = 0; i < k; i++) {
            uint64_t height;
            uint32_t index;
            if (store != NULL && !is_zero(&ids[i]) &&
                kula_store_tx_location(store, &ids[i], &height, &index) == 0) {
                /* In a block already: refused for its spent nonce, or (an
                 * unsequenced one) taken out again, as the API does. */
                if (results[i] == 0)
                    kula_mempool_remove(mp, &ids[i]);
                report->committed++;
            } else if (results[i] == 0) {
                report->admitted++;
            } else {
                report->refused++;
                int slot = -results[i];
                report->by_reason[slot > 0 && slot < KULA_MEMPOOL_RELOAD_REASONS ? slot : 0]++;
            }
        }
    }
    free(results);
    free(ids);
    return 0;
}

void kula_mempool_reload_reasons(char *out, size_t outlen, const kula_mempool_reload *report)
{
    if (outlen == 0)
        return;
    out[0] = '\0';
    bool done[KULA_MEMPOOL_RELOAD_REASONS] = { false };
    size_t used = 0;
    for (;;) {
        int best = -1;
        for (int i = 0; i < KULA_MEMPOOL_RELOAD_REASONS; i++)
            if (!done[i] && report->by_reason[i] > 0 &&
                (best < 0 || report->by_reason[i] > report->by_reason[best]))
                best = i;
        if (best < 0 || used >= outlen)
            return;
        done[best] = true;
        int k = snprintf(out + used, outlen - used, "%s%zu %s", used > 0 ? ", " : "",
                         report->by_reason[best], best > 0 ? kula_strerror(-best) : "other errors");
        if (k < 0)
            return;
        used += (size_t)k;
    }
}

int kula_mempool_file_remove(const char *datadir)
{
    char path[1100];
    if (file_path(path, sizeof(path), datadir, "") != 0)
        return KULA_EINVAL;
    return unlink(path) == 0 || errno == ENOENT ? 0 : KULA_EIO;
}

int kula_mempool_file_set_aside(const char *datadir)
{
    char path[1100], bad[1100];
    if (file_path(path, sizeof(path), datadir, "") != 0 ||
        file_path(bad, sizeof(bad), datadir, ".bad") != 0)
        return KULA_EINVAL;
    return rename(path, bad) == 0 ? 0 : KULA_EIO;
}
