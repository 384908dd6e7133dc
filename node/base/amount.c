/* amount.c -- checked arithmetic, formatting and parsing of amounts. */
#include "kula/base/amount.h"

#include <stdio.h>
#include <string.h>

#include "kula/base/error.h"

bool kula_amount_add(kula_amount *out, kula_amount a, kula_amount b)
{
    int64_t r;
    if (__builtin_add_overflow(a.v, b.v, &r))
        return false;
    out->v = r;
    return true;
}

bool kula_amount_sub(kula_amount *out, kula_amount a, kula_amount b)
{
    int64_t r;
    if (__builtin_sub_overflow(a.v, b.v, &r))
        return false;
    out->v = r;
    return true;
}

bool kula_amount_neg(kula_amount *out, kula_amount a)
{
    if (a.v == INT64_MIN)
        return false;
    out->v = -a.v;
    return true;
}

int kula_amount_format(char *buf, size_t len, kula_amount a, unsigned decimals)
{
    if (decimals > 18 || len == 0)
        return -1;
    /* Work on the magnitude as unsigned so INT64_MIN formats correctly. */
    uint64_t mag = a.v < 0 ? (uint64_t)0 - (uint64_t)a.v : (uint64_t)a.v;
    uint64_t scale = 1;
    for (unsigned i = 0; i < decimals; i++)
        scale *= 10;
    int n;
    if (decimals == 0)
        n = snprintf(buf, len, "%s%llu", a.v < 0 ? "-" : "",
                     (unsigned long long)mag);
    else
        n = snprintf(buf, len, "%s%llu.%0*llu", a.v < 0 ? "-" : "",
                     (unsigned long long)(mag / scale), (int)decimals,
                     (unsigned long long)(mag % scale));
    if (n < 0 || (size_t)n >= len)
        return -1;
    return n;
}

int kula_amount_parse(kula_amount *out, const char *text, unsigned decimals)
{
    if (text == NULL || decimals > 18)
        return KULA_EINVAL;
    const char *p = text;
    bool neg = false;
    if (*p == '-') {
        neg = true;
        p++;
    }
    if (*p < '0' || *p > '9')
        return KULA_EINVAL;
    uint64_t mag = 0;
    unsigned frac = 0;
    bool seen_point = false;
    for (; *p != '\0'; p++) {
        if (*p == '.') {
            if (seen_point || p[1] == '\0')
                return KULA_EINVAL;
            seen_point = true;
            continue;
        }
        if (*p < '0' || *p > '9')
            return KULA_EINVAL;
        if (seen_point && ++frac > decimals)
            return KULA_EINVAL;
        if (__builtin_mul_overflow(mag, 10, &mag) ||
            __builtin_add_overflow(mag, (uint64_t)(*p - '0'), &mag))
            return KULA_EOVERFLOW;
    }
    for (; frac < decimals; frac++)
        if (__builtin_mul_overflow(mag, 10, &mag))
            return KULA_EOVERFLOW;
    if (neg) {
        if (mag > (uint64_t)INT64_MAX + 1)
            return KULA_EOVERFLOW;
        out->v = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
    } else {
        if (mag > (uint64_t)INT64_MAX)
            return KULA_EOVERFLOW;
        out->v = (int64_t)mag;
    }
    return KULA_OK;
}
