/* game.c -- Shapley games from a file (game.h). */
#include "game.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kula/base/amount.h"
#include "kula/base/error.h"

static int say(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int say(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return -1;
}

/* s[0..n) without the spaces around it. */
static void trim(const char **s, size_t *n)
{
    while (*n > 0 && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' || (*s)[*n - 1] == '\r'))
        (*n)--;
}

static int party_of(const char *s, size_t n, const char *const *names, unsigned count)
{
    for (unsigned k = 0; k < count; k++)
        if (strlen(names[k]) == n && memcmp(names[k], s, n) == 0)
            return (int)k;
    return -1;
}

int game_parse(const char *text, size_t len, const char *const *names, unsigned n,
               unsigned decimals, int64_t *values, char *err, size_t errcap)
{
    if (n < 2 || n > GAME_MAX_PARTIES)
        return say(err, errcap,
                   "a game has 2 to %d parties (an agreement's limit), not %u", GAME_MAX_PARTIES,
                   n);
    uint32_t full = (uint32_t)1 << n;
    bool *listed = calloc(full, sizeof(bool));
    if (listed == NULL)
        return say(err, errcap, "out of memory");
    memset(values, 0, full * sizeof(values[0]));
    int rc = 0;
    unsigned line = 0;
    for (size_t at = 0; at < len && rc == 0;) {
        const char *s = text + at;
        const char *nl = memchr(s, '\n', len - at);
        size_t ln = nl != NULL ? (size_t)(nl - s) : len - at;
        at += ln + 1;
        line++;
        trim(&s, &ln);
        if (ln == 0 || s[0] == '#')
            continue;
        const char *colon = memchr(s, ':', ln);
        if (colon == NULL) {
            rc = say(err, errcap, "line %u: '%.*s' is not 'name+name: value' (e.g. "
                                  "alice+bob: 120.00)", line, (int)(ln > 80 ? 80 : ln), s);
            break;
        }
        uint32_t mask = 0;
        const char *p = s;
        while (rc == 0 && p < colon) {
            const char *plus = memchr(p, '+', (size_t)(colon - p));
            const char *end = plus != NULL ? plus : colon;
            const char *name = p;
            size_t nn = (size_t)(end - p);
            trim(&name, &nn);
            int k = party_of(name, nn, names, n);
            if (k < 0) {
                char all[16 * 40] = "";
                for (unsigned j = 0; j < n; j++)
                    snprintf(all + strlen(all), sizeof(all) - strlen(all), "%s%.36s",
                             j > 0 ? ", " : "", names[j]);
                rc = say(err, errcap, "line %u: '%.*s' is not a party of the agreement, by "
                                      "the names the ledger gives them: %s", line,
                         (int)(nn > 80 ? 80 : nn), name, all);
            }
            else if (mask & ((uint32_t)1 << k))
                rc = say(err, errcap, "line %u: %s is named twice", line, names[k]);
            else
                mask |= (uint32_t)1 << k;
            p = end + 1;
        }
        if (rc != 0)
            break;
        const char *v = colon + 1;
        size_t vn = ln - (size_t)(v - s);
        trim(&v, &vn);
        char num[64];
        kula_amount a;
        int prc = KULA_EINVAL;
        if (vn > 0 && vn < sizeof(num)) {
            memcpy(num, v, vn);
            num[vn] = '\0';
            prc = kula_amount_parse(&a, num, decimals);
        }
        char most[48];
        kula_amount_format(most, sizeof(most), kula_amount_of(INT64_MAX), decimals);
        if (prc == KULA_EOVERFLOW)
            rc = say(err, errcap, "line %u: %.*s is too large: a value is at most %s (nothing "
                                  "is clamped)", line, (int)(vn > 40 ? 40 : vn), v, most);
        else if (prc != 0 && vn >= sizeof(num))
            rc = say(err, errcap, "line %u: the value is too long to be an amount", line);
        else if (prc != 0)
            rc = say(err, errcap, "line %u: '%.*s' is not an amount in units with at most %u "
                                  "decimals (e.g. 120.00)", line, (int)(vn > 40 ? 40 : vn), v,
                     decimals);
        else if (a.v < 0)
            rc = say(err, errcap, "line %u: a coalition's value is 0 or more", line);
        else if (mask == 0)
            rc = say(err, errcap, "line %u: no party named before ':'", line);
        else if (listed[mask])
            rc = say(err, errcap, "line %u: this coalition was listed before", line);
        else {
            listed[mask] = true;
            values[mask] = a.v;
        }
    }
    /* an unlisted coalition: the most of the coalitions inside it, which
     * are complete by then (each mask is larger than those it contains) */
    for (uint32_t m = 1; rc == 0 && m < full; m++) {
        if (listed[m])
            continue;
        int64_t best = 0;
        for (unsigned k = 0; k < n; k++)
            if ((m & ((uint32_t)1 << k)) && values[m & ~((uint32_t)1 << k)] > best)
                best = values[m & ~((uint32_t)1 << k)];
        values[m] = best;
    }
    free(listed);
    return rc;
}

int game_read(const char *path, char **text, size_t *len, char *err, size_t errcap)
{
    bool in = strcmp(path, "-") == 0;
    FILE *f = in ? stdin : fopen(path, "rb");
    if (f == NULL)
        return say(err, errcap, "--game %s: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    int rc = buf != NULL ? 0 : say(err, errcap, "out of memory");
    while (rc == 0) {
        if (n == cap) {
            char *b = 2 * cap <= GAME_MAX_BYTES ? realloc(buf, 2 * cap + 1) : NULL;
            if (b == NULL) {
                rc = say(err, errcap, "--game %s: more than %u bytes", in ? "(stdin)" : path,
                         GAME_MAX_BYTES);
                break;
            }
            buf = b;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f))
                rc = say(err, errcap, "--game %s: read error", path);
            break;
        }
    }
    if (!in)
        fclose(f);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return 0;
}
