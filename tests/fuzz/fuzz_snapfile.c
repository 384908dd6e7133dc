/* fuzz_snapfile.c -- libFuzzer target for the reader of a copy of the
 * state a peer sent (kula_snapfile_read, include/kula/chain/snapfile.h):
 * the bytes a state-syncing node installs as its whole state once they
 * hash to what a header commits to.
 *
 * The input is the file.  Properties: the reader returns an error (the
 * state hash it is given is fixed, so no input can match it) without
 * crashing or reading past the file, and every record it gave before
 * stopping was well formed: a key of 1 .. KULA_SNAPFILE_MAX_KEY bytes, a
 * value of at least 1, keys strictly ascending. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create */
#endif
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kula/base/error.h"
#include "kula/chain/snapfile.h"
#include "kula/crypto/crypto.h"

typedef struct seen {
    uint8_t prev[KULA_SNAPFILE_MAX_KEY];
    size_t plen;
    uint64_t n;
} seen;

static int put(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    seen *s = ctx;
    (void)val;
    if (klen == 0 || klen > KULA_SNAPFILE_MAX_KEY || vlen == 0)
        abort();
    if (s->n > 0) {
        int c = memcmp(s->prev, key, s->plen < klen ? s->plen : klen);
        if (c > 0 || (c == 0 && s->plen >= klen))
            abort();
    }
    memcpy(s->prev, key, klen);
    s->plen = klen;
    s->n++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        if (kula_crypto_init() != KULA_OK)
            abort();
        fd = memfd_create("fuzz_snapfile", 0);
        if (fd < 0)
            abort();
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();
    kula_hash want;
    memset(want.b, 0x5a, sizeof(want.b));
    seen s = { .n = 0 };
    uint64_t records = 0;
    kula_error e;
    int rc = kula_snapfile_read(path, &want, put, &s, &records, &e);
    if (rc == KULA_OK || records != s.n)
        abort();
    return 0;
}
