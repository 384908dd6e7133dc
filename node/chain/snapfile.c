/* snapfile.c -- copies of the state at snapshot heights, as files
 * (include/kula/chain/snapfile.h). */
#include "kula/chain/snapfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kula/ledger/ledger.h"

int kula_snapfile_path(char *out, size_t cap, const char *dir, uint64_t height)
{
    int n = snprintf(out, cap, "%s/state-%020" PRIu64 ".snap", dir, height);
    return n < 0 || (size_t)n >= cap ? KULA_EINVAL : KULA_OK;
}

/* ---- writing ---- */

typedef struct wctx {
    FILE *f;
    kula_hasher h;
    kula_buf buf;
    uint64_t size;
    int err; /* errno of a failed write */
} wctx;

static int flush(wctx *w)
{
    if (w->buf.len == 0)
        return 0;
    kula_hasher_update(&w->h, w->buf.data, w->buf.len);
    if (fwrite(w->buf.data, 1, w->buf.len, w->f) != w->buf.len) {
        w->err = errno != 0 ? errno : EIO;
        return KULA_EIO;
    }
    w->size += w->buf.len;
    kula_buf_reset(&w->buf);
    return 0;
}

static int write_record(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val,
                        size_t vlen)
{
    wctx *w = ctx;
    kula_writer wr;
    kula_writer_init(&wr, &w->buf);
    kula_w_array(&wr, 2);
    kula_w_bin(&wr, key, klen);
    kula_w_bin(&wr, val, vlen);
    if (w->buf.err != 0)
        return w->buf.err;
    return w->buf.len >= KULA_SNAPFILE_CHUNK ? flush(w) : 0;
}

int kula_snapfile_write(kula_store *s, const char *dir, uint64_t height, const kula_hash *want,
                        uint64_t *size, kula_error *e)
{
    char path[1200], tmp[1210];
    if (kula_snapfile_path(path, sizeof(path), dir, height) != 0 ||
        snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return kula_error_set(e, KULA_EINVAL, "%s: path too long", dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return kula_error_set(e, KULA_EIO, "cannot create %s: %s", dir, strerror(errno));
    wctx w = { 0 };
    kula_buf_init(&w.buf);
    kula_hasher_init(&w.h);
    kula_hasher_update(&w.h, KULA_TAG_SNAPDATA, KULA_TAG_LEN);
    if ((w.f = fopen(tmp, "wb")) == NULL)
        return kula_error_set(e, KULA_EIO, "cannot write %s: %s", tmp, strerror(errno));
    int rc = kula_store_state_scan(s, (const uint8_t *)"", 0, write_record, &w);
    if (rc == 0)
        rc = flush(&w);
    if (rc == 0 && (fflush(w.f) != 0 || fsync(fileno(w.f)) != 0)) {
        w.err = errno;
        rc = KULA_EIO;
    }
    if (fclose(w.f) != 0 && rc == 0) {
        w.err = errno;
        rc = KULA_EIO;
    }
    kula_buf_free(&w.buf);
    kula_hash got;
    kula_hasher_final(&w.h, &got);
    if (rc == 0 && memcmp(got.b, want->b, KULA_HASH_LEN) != 0)
        rc = kula_error_set(e, KULA_ESTATEROOT,
                            "the state at height %" PRIu64 " does not hash to what its root "
                            "commits to: no copy kept",
                            height);
    else if (rc == KULA_EIO)
        kula_error_set(e, rc, "cannot write %s: %s", tmp, strerror(w.err));
    else if (rc != 0)
        kula_error_set(e, rc, "cannot read the state: %s", kula_strerror(rc));
    if (rc == 0 && rename(tmp, path) != 0)
        rc = kula_error_set(e, KULA_EIO, "cannot rename %s: %s", tmp, strerror(errno));
    if (rc != 0) {
        unlink(tmp);
        return rc;
    }
    *size = w.size;
    return KULA_OK;
}

/* ---- the copies kept ---- */

static int by_height(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0; /* highest first */
}

int kula_snapfile_prune(const char *dir, unsigned keep)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return errno == ENOENT ? 0 : -1;
    uint64_t *hs = NULL;
    size_t n = 0, cap = 0;
    int deleted = 0;
    struct dirent *de;
    char path[1200];
    while ((de = readdir(d)) != NULL) {
        uint64_t h;
        char tail[16];
        if (sscanf(de->d_name, "state-%20" SCNu64 ".sna%15s", &h, tail) != 2)
            continue;
        if (strcmp(tail, "p.tmp") == 0) { /* left by a crash */
            if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) < (int)sizeof(path) &&
                unlink(path) == 0)
                deleted++;
            continue;
        }
        if (strcmp(tail, "p") != 0)
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            uint64_t *nh = realloc(hs, nc * sizeof(*nh));
            if (nh == NULL)
                break;
            hs = nh;
            cap = nc;
        }
        hs[n++] = h;
    }
    closedir(d);
    if (n > 1)
        qsort(hs, n, sizeof(*hs), by_height);
    for (size_t i = keep; i < n; i++)
        if (kula_snapfile_path(path, sizeof(path), dir, hs[i]) == 0 && unlink(path) == 0)
            deleted++;
    free(hs);
    return deleted;
}

int kula_snapfile_size(const char *dir, uint64_t height, uint64_t *size)
{
    char path[1200];
    struct stat st;
    if (kula_snapfile_path(path, sizeof(path), dir, height) != 0 || stat(path, &st) != 0 ||
        !S_ISREG(st.st_mode))
        return KULA_ENOTFOUND;
    *size = (uint64_t)st.st_size;
    return KULA_OK;
}

int kula_snapfile_chunk(const char *dir, uint64_t height, uint32_t index, kula_buf *out,
                        uint32_t *total)
{
    char path[1200];
    if (kula_snapfile_path(path, sizeof(path), dir, height) != 0)
        return KULA_ENOTFOUND;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return KULA_ENOTFOUND;
    struct stat st;
    int rc = fstat(fd, &st) == 0 ? KULA_OK : KULA_EIO;
    uint64_t size = rc == 0 ? (uint64_t)st.st_size : 0;
    uint64_t n = (size + KULA_SNAPFILE_CHUNK - 1) / KULA_SNAPFILE_CHUNK;
    if (rc == 0 && (n == 0 || n > UINT32_MAX || index >= n))
        rc = KULA_ENOTFOUND;
    if (rc == 0) {
        uint64_t off = (uint64_t)index * KULA_SNAPFILE_CHUNK;
        size_t want = size - off < KULA_SNAPFILE_CHUNK ? (size_t)(size - off) : KULA_SNAPFILE_CHUNK;
        uint8_t *tmp = malloc(want);
        ssize_t got = tmp == NULL ? -1 : pread(fd, tmp, want, (off_t)off);
        if (tmp == NULL)
            rc = KULA_ENOMEM;
        else if (got != (ssize_t)want)
            rc = KULA_EIO;
        else {
            kula_buf_append(out, tmp, want);
            rc = out->err;
        }
        free(tmp);
        *total = (uint32_t)n;
    }
    close(fd);
    return rc;
}

/* ---- reading a copy fetched from a peer ---- */

typedef struct rctx {
    FILE *f;
    kula_hasher h;
    uint64_t off;
} rctx;

static int rd(rctx *r, void *p, size_t n)
{
    if (n > 0 && fread(p, 1, n, r->f) != n)
        return ferror(r->f) ? KULA_EIO : KULA_ETRUNC;
    kula_hasher_update(&r->h, p, n);
    r->off += n;
    return 0;
}

/* A canonical bin of 1 .. max bytes (its shortest header).  Out: *p, a
 * buffer of *n bytes grown as needed. */
static int rd_bin(rctx *r, uint8_t **p, size_t *cap, size_t *n, size_t max)
{
    uint8_t t, l[4];
    int rc = rd(r, &t, 1);
    size_t len = 0;
    if (rc == 0 && t == 0xc4) {
        rc = rd(r, l, 1);
        len = l[0];
    } else if (rc == 0 && t == 0xc5) {
        rc = rd(r, l, 2);
        len = (size_t)l[0] << 8 | l[1];
        if (rc == 0 && len < 256)
            rc = KULA_ENONCANON;
    } else if (rc == 0 && t == 0xc6) {
        rc = rd(r, l, 4);
        len = (size_t)l[0] << 24 | (size_t)l[1] << 16 | (size_t)l[2] << 8 | l[3];
        if (rc == 0 && len < 65536)
            rc = KULA_ENONCANON;
    } else if (rc == 0) {
        rc = KULA_ETYPE;
    }
    if (rc == 0 && (len == 0 || len > max))
        rc = len == 0 ? KULA_ERANGE : KULA_ETOOBIG;
    if (rc == 0 && len > *cap) {
        uint8_t *np = realloc(*p, len);
        if (np == NULL)
            return KULA_ENOMEM;
        *p = np;
        *cap = len;
    }
    if (rc == 0)
        rc = rd(r, *p, len);
    *n = len;
    return rc;
}

int kula_snapfile_read(const char *path, const kula_hash *want, kula_store_put_fn put,
                       void *put_ctx, uint64_t *records, kula_error *e)
{
    rctx r = { 0 };
    *records = 0;
    if ((r.f = fopen(path, "rb")) == NULL)
        return kula_error_set(e, KULA_EIO, "cannot read %s: %s", path, strerror(errno));
    kula_hasher_init(&r.h);
    kula_hasher_update(&r.h, KULA_TAG_SNAPDATA, KULA_TAG_LEN);
    uint8_t *key = NULL, *prev = NULL, *val = NULL;
    size_t kcap = 0, pcap = 0, vcap = 0, klen = 0, plen = 0, vlen = 0;
    int rc = 0;
    for (;;) {
        int c = fgetc(r.f);
        if (c == EOF)
            break;
        uint8_t t = (uint8_t)c;
        kula_hasher_update(&r.h, &t, 1);
        r.off++;
        uint64_t at = r.off - 1;
        if (t != 0x92)
            rc = KULA_ETYPE;
        if (rc == 0)
            rc = rd_bin(&r, &key, &kcap, &klen, KULA_SNAPFILE_MAX_KEY);
        if (rc == 0)
            rc = rd_bin(&r, &val, &vcap, &vlen, KULA_SNAPFILE_MAX_VALUE);
        if (rc == 0 && *records > 0) {
            int cmp = memcmp(prev, key, plen < klen ? plen : klen);
            if (cmp > 0 || (cmp == 0 && plen >= klen))
                rc = KULA_EORDER;
        }
        if (rc != 0) {
            kula_error_set(e, rc, "%s: record %" PRIu64 " (byte %" PRIu64 "): %s", path,
                           *records + 1, at, kula_strerror(rc));
            break;
        }
        if (put != NULL && (rc = put(put_ctx, key, klen, val, vlen)) != 0) {
            kula_error_set(e, rc, "cannot store record %" PRIu64 ": %s", *records + 1,
                           kula_strerror(rc));
            break;
        }
        if (klen > pcap) {
            uint8_t *np = realloc(prev, klen);
            if (np == NULL) {
                rc = kula_error_set(e, KULA_ENOMEM, "out of memory");
                break;
            }
            prev = np;
            pcap = klen;
        }
        memcpy(prev, key, klen);
        plen = klen;
        (*records)++;
    }
    if (rc == 0 && ferror(r.f))
        rc = kula_error_set(e, KULA_EIO, "cannot read %s", path);
    fclose(r.f);
    free(key);
    free(prev);
    free(val);
    if (rc != 0)
        return rc;
    kula_hash got;
    kula_hasher_final(&r.h, &got);
    if (memcmp(got.b, want->b, KULA_HASH_LEN) != 0)
        return kula_error_set(e, KULA_ESTATEROOT,
                              "%s does not hash to the state hash its header commits to", path);
    if (*records < 2)
        return kula_error_set(e, KULA_ERANGE, "%s holds %" PRIu64 " records: a state has at "
                              "least its globals and parameters", path, *records);
    return KULA_OK;
}

int kula_snapfile_fill(void *ctx, kula_store_put_fn put, void *put_ctx)
{
    const kula_snapfile_src *src = ctx;
    uint64_t n;
    kula_error e;
    return kula_snapfile_read(src->path, &src->want, put, put_ctx, &n, &e);
}
