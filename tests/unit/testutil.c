/* testutil.c -- helpers shared by the unit tests. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kula/crypto/crypto.h"

char *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "testutil: cannot open %s\n", path);
        abort();
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    size_t got;
    while (buf != NULL && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
    }
    fclose(f);
    if (buf == NULL)
        abort();
    buf[n] = '\0';
    if (len != NULL)
        *len = n;
    return buf;
}

uint8_t *tu_unhex(const char *hex, size_t *len)
{
    size_t n = strlen(hex);
    if (n % 2 != 0)
        abort();
    uint8_t *out = malloc(n / 2 + 1);
    if (out == NULL || kula_hex_decode(out, n / 2, hex) != 0)
        abort();
    *len = n / 2;
    return out;
}

const char *tu_src(const char *rel)
{
    static char path[4096];
    snprintf(path, sizeof(path), "%s/%s", KULA_SOURCE_DIR, rel);
    return path;
}
