/* words.c -- pure helpers of the kula command: exit-code names, "did you mean",
 * amounts as people type them, times as people read them. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "words.h"
#include "kula/base/amount.h"
#include "kula/base/error.h"

const char *cli_exit_name(int code)
{
    switch (code) {
    case CLI_OK: return "ok";
    case CLI_REFUSED: return "refused";
    case CLI_UNREACHABLE: return "unreachable";
    case CLI_USAGE: return "usage";
    }
    return "error";
}

size_t cli_edit_distance(const char *a, const char *b)
{
    enum { MAX = 64 };
    size_t na = strlen(a), nb = strlen(b);
    if (na > MAX || nb > MAX)
        return 1000;
    size_t row[MAX + 1];
    for (size_t j = 0; j <= nb; j++)
        row[j] = j;
    for (size_t i = 1; i <= na; i++) {
        size_t diag = row[0]; /* the cell (i-1, j-1) */
        row[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[nb];
}

const char *cli_nearest(const char *const *names, size_t n, const char *word)
{
    const char *best = NULL;
    size_t best_d = 3; /* at most 2 edits */
    size_t len = strlen(word);
    for (size_t i = 0; i < n; i++) {
        size_t d = cli_edit_distance(names[i], word);
        if (d < best_d && d < len) {
            best = names[i];
            best_d = d;
        }
    }
    return best;
}

int cli_amount_parse(int64_t *minor, const char *what, const char *text, const char *network,
                     const char *unit, unsigned decimals, char *msg, size_t cap)
{
    kula_amount a;
    int rc = kula_amount_parse(&a, text, decimals);
    if (rc == 0) {
        *minor = a.v;
        return 0;
    }
    /* Well formed but finer than the unit: say so rather than "not an amount". */
    const char *point = strchr(text, '.');
    size_t frac = point != NULL ? strspn(point + 1, "0123456789") : 0;
    if (rc == KULA_EINVAL && point != NULL && frac > decimals && point[1 + frac] == '\0' &&
        frac <= 18 && kula_amount_parse(&a, text, (unsigned)frac) == 0)
        snprintf(msg, cap,
                 "%s: '%s' has %zu decimals, but %s counts in %s with %u decimals: give at "
                 "most %u (nothing is rounded)",
                 what, text, frac, network, unit, decimals, decimals);
    else
        snprintf(msg, cap, "%s: '%s' is not an amount in %s (a number such as 12.50, at most %u "
                           "decimals)%s",
                 what, text, unit, decimals, rc == KULA_EOVERFLOW ? ": too large" : "");
    return -1;
}

const char *cli_local_time(char *buf, size_t cap, int64_t ms, bool seconds)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char day[32];
    if (ms < 0 || localtime_r(&t, &tm) == NULL ||
        strftime(day, sizeof(day), seconds ? "%Y-%m-%d %H:%M:%S" : "%Y-%m-%d %H:%M", &tm) == 0) {
        snprintf(buf, cap, "?");
        return buf;
    }
    long off = tm.tm_gmtoff / 60; /* minutes east of UTC (glibc, BSD) */
    snprintf(buf, cap, "%s %c%02ld:%02ld", day, off < 0 ? '-' : '+', (off < 0 ? -off : off) / 60,
             (off < 0 ? -off : off) % 60);
    return buf;
}
