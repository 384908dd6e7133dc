/* test_amount.c -- checked arithmetic, formatting and parsing of amounts. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "kula/base/amount.h"
#include "kula/base/error.h"

static const int64_t SENTINEL = 0x5a5a5a5a5a5a5a5aLL;

Test(amount, add_in_range)
{
    kula_amount out = kula_amount_of(SENTINEL);
    cr_assert(kula_amount_add(&out, kula_amount_of(2), kula_amount_of(3)));
    cr_assert_eq(out.v, 5);
    cr_assert(kula_amount_add(&out, kula_amount_of(INT64_MAX - 1), kula_amount_of(1)));
    cr_assert_eq(out.v, INT64_MAX);
    cr_assert(kula_amount_add(&out, kula_amount_of(INT64_MIN + 1), kula_amount_of(-1)));
    cr_assert_eq(out.v, INT64_MIN);
    cr_assert(kula_amount_add(&out, kula_amount_of(INT64_MAX), kula_amount_of(INT64_MIN)));
    cr_assert_eq(out.v, -1);
    cr_assert(kula_amount_add(&out, kula_amount_of(-7), kula_amount_of(7)));
    cr_assert_eq(out.v, 0);
}

Test(amount, add_overflow_leaves_output)
{
    static const int64_t pairs[][2] = {
        { INT64_MAX, 1 },
        { 1, INT64_MAX },
        { INT64_MAX, INT64_MAX },
        { INT64_MIN, -1 },
        { -1, INT64_MIN },
        { INT64_MIN, INT64_MIN },
        { INT64_MAX / 2 + 1, INT64_MAX / 2 + 1 },
    };
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        kula_amount out = kula_amount_of(SENTINEL);
        cr_assert(!kula_amount_add(&out, kula_amount_of(pairs[i][0]),
                                   kula_amount_of(pairs[i][1])),
                  "%lld + %lld must overflow", (long long)pairs[i][0], (long long)pairs[i][1]);
        cr_assert_eq(out.v, SENTINEL, "output changed on overflow");
    }
}

Test(amount, sub_in_range_and_overflow)
{
    kula_amount out = kula_amount_of(SENTINEL);
    cr_assert(kula_amount_sub(&out, kula_amount_of(10), kula_amount_of(25)));
    cr_assert_eq(out.v, -15);
    cr_assert(kula_amount_sub(&out, kula_amount_of(-1), kula_amount_of(INT64_MAX)));
    cr_assert_eq(out.v, INT64_MIN);
    cr_assert(kula_amount_sub(&out, kula_amount_of(0), kula_amount_of(INT64_MAX)));
    cr_assert_eq(out.v, -INT64_MAX);
    cr_assert(kula_amount_sub(&out, kula_amount_of(-1), kula_amount_of(INT64_MIN)));
    cr_assert_eq(out.v, INT64_MAX);

    static const int64_t pairs[][2] = {
        { INT64_MIN, 1 },
        { 0, INT64_MIN },
        { INT64_MAX, -1 },
        { INT64_MAX, INT64_MIN },
        { INT64_MIN, INT64_MAX },
        { -2, INT64_MAX },
    };
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        out = kula_amount_of(SENTINEL);
        cr_assert(!kula_amount_sub(&out, kula_amount_of(pairs[i][0]),
                                   kula_amount_of(pairs[i][1])),
                  "%lld - %lld must overflow", (long long)pairs[i][0], (long long)pairs[i][1]);
        cr_assert_eq(out.v, SENTINEL, "output changed on overflow");
    }
}

Test(amount, neg)
{
    kula_amount out = kula_amount_of(SENTINEL);
    cr_assert(kula_amount_neg(&out, kula_amount_of(5)));
    cr_assert_eq(out.v, -5);
    cr_assert(kula_amount_neg(&out, kula_amount_of(0)));
    cr_assert_eq(out.v, 0);
    cr_assert(kula_amount_neg(&out, kula_amount_of(INT64_MAX)));
    cr_assert_eq(out.v, -INT64_MAX);
    cr_assert(kula_amount_neg(&out, kula_amount_of(INT64_MIN + 1)));
    cr_assert_eq(out.v, INT64_MAX);
    out = kula_amount_of(SENTINEL);
    cr_assert(!kula_amount_neg(&out, kula_amount_of(INT64_MIN)));
    cr_assert_eq(out.v, SENTINEL);
}

/* ---- format ---- */

static void expect_format(int64_t v, unsigned dec, const char *want)
{
    char buf[64];
    memset(buf, 'X', sizeof(buf));
    int n = kula_amount_format(buf, sizeof(buf), kula_amount_of(v), dec);
    cr_assert_str_eq(buf, want, "format(%lld, %u)", (long long)v, dec);
    cr_assert_eq(n, (int)strlen(want));
}

Test(amount, format_values)
{
    expect_format(0, 0, "0");
    expect_format(7, 0, "7");
    expect_format(-7, 0, "-7");
    expect_format(INT64_MAX, 0, "9223372036854775807");
    expect_format(INT64_MIN, 0, "-9223372036854775808");

    expect_format(0, 2, "0.00");
    expect_format(1, 2, "0.01");
    expect_format(-1, 2, "-0.01");
    expect_format(-50, 2, "-0.50");
    expect_format(1250, 2, "12.50");
    expect_format(-1250, 2, "-12.50");
    expect_format(100, 2, "1.00");
    expect_format(INT64_MAX, 2, "92233720368547758.07");
    expect_format(INT64_MIN, 2, "-92233720368547758.08");

    expect_format(0, 18, "0.000000000000000000");
    expect_format(1, 18, "0.000000000000000001");
    expect_format(1000000000000000000LL, 18, "1.000000000000000000");
    expect_format(-1500000000000000000LL, 18, "-1.500000000000000000");
    expect_format(INT64_MAX, 18, "9.223372036854775807");
    expect_format(INT64_MIN, 18, "-9.223372036854775808");
}

Test(amount, format_buffer_and_decimals_limits)
{
    char buf[64];
    cr_assert_eq(kula_amount_format(buf, sizeof(buf), kula_amount_of(1), 19), -1);
    cr_assert_eq(kula_amount_format(buf, 0, kula_amount_of(1), 2), -1);
    /* "-12.50" needs 7 bytes with the NUL. */
    cr_assert_eq(kula_amount_format(buf, 6, kula_amount_of(-1250), 2), -1);
    cr_assert_eq(kula_amount_format(buf, 7, kula_amount_of(-1250), 2), 6);
    cr_assert_str_eq(buf, "-12.50");
    /* The documented bound (24 + decimals) is enough for the widest value. */
    for (unsigned d = 0; d <= 18; d++) {
        char small[24 + 18];
        cr_assert_gt(kula_amount_format(small, 24 + d, kula_amount_of(INT64_MIN), d), 0,
                     "decimals %u", d);
    }
}

/* ---- parse ---- */

static void expect_parse(const char *text, unsigned dec, int64_t want)
{
    kula_amount out = kula_amount_of(SENTINEL);
    int rc = kula_amount_parse(&out, text, dec);
    cr_assert_eq(rc, 0, "parse(\"%s\", %u) = %d", text, dec, rc);
    cr_assert_eq(out.v, want, "parse(\"%s\", %u) = %lld", text, dec, (long long)out.v);
}

static void expect_parse_err(const char *text, unsigned dec, int err)
{
    kula_amount out = kula_amount_of(SENTINEL);
    int rc = kula_amount_parse(&out, text, dec);
    cr_assert_eq(rc, err, "parse(\"%s\", %u) = %d, expected %d", text, dec, rc, err);
    cr_assert_eq(out.v, SENTINEL, "output changed on error for \"%s\"", text);
}

Test(amount, parse_values)
{
    expect_parse("0", 0, 0);
    expect_parse("12", 0, 12);
    expect_parse("-12", 0, -12);
    expect_parse("9223372036854775807", 0, INT64_MAX);
    expect_parse("-9223372036854775808", 0, INT64_MIN);

    expect_parse("12", 2, 1200);
    expect_parse("12.5", 2, 1250);
    expect_parse("12.50", 2, 1250);
    expect_parse("-0.01", 2, -1);
    expect_parse("0.01", 2, 1);
    expect_parse("-12.5", 2, -1250);
    expect_parse("-0", 2, 0);
    expect_parse("92233720368547758.07", 2, INT64_MAX);
    expect_parse("-92233720368547758.08", 2, INT64_MIN);

    expect_parse("1", 18, 1000000000000000000LL);
    expect_parse("0.000000000000000001", 18, 1);
    expect_parse("9.223372036854775807", 18, INT64_MAX);
    expect_parse("-9.223372036854775808", 18, INT64_MIN);
}

Test(amount, parse_errors)
{
    expect_parse_err("", 2, KULA_EINVAL);
    expect_parse_err("-", 2, KULA_EINVAL);
    expect_parse_err("1.", 2, KULA_EINVAL);
    expect_parse_err(".5", 2, KULA_EINVAL);
    expect_parse_err("-.5", 2, KULA_EINVAL);
    expect_parse_err("1.234", 2, KULA_EINVAL);
    expect_parse_err("1.5", 0, KULA_EINVAL);
    expect_parse_err("1.0", 0, KULA_EINVAL);
    expect_parse_err("1e5", 2, KULA_EINVAL);
    expect_parse_err("1E5", 0, KULA_EINVAL);
    expect_parse_err("+1", 2, KULA_EINVAL);
    expect_parse_err(" 1", 2, KULA_EINVAL);
    expect_parse_err("1 ", 2, KULA_EINVAL);
    expect_parse_err("1,000", 2, KULA_EINVAL);
    expect_parse_err("1.2.3", 2, KULA_EINVAL);
    expect_parse_err("--1", 2, KULA_EINVAL);
    expect_parse_err("0x10", 2, KULA_EINVAL);
    expect_parse_err("abc", 2, KULA_EINVAL);
    expect_parse_err("1", 19, KULA_EINVAL);
    kula_amount out = kula_amount_of(SENTINEL);
    cr_assert_eq(kula_amount_parse(&out, NULL, 2), KULA_EINVAL);
    cr_assert_eq(out.v, SENTINEL);
}

Test(amount, parse_overflow)
{
    expect_parse_err("9223372036854775808", 0, KULA_EOVERFLOW);
    expect_parse_err("-9223372036854775809", 0, KULA_EOVERFLOW);
    expect_parse_err("18446744073709551616", 0, KULA_EOVERFLOW);
    expect_parse_err("99999999999999999999999999", 0, KULA_EOVERFLOW);
    expect_parse_err("92233720368547758.08", 2, KULA_EOVERFLOW);
    expect_parse_err("-92233720368547758.09", 2, KULA_EOVERFLOW);
    expect_parse_err("92233720368547759", 2, KULA_EOVERFLOW);
    expect_parse_err("10", 18, KULA_EOVERFLOW);
    expect_parse_err("9.223372036854775808", 18, KULA_EOVERFLOW);
    /* Scaling by the missing decimals overflows too. */
    expect_parse_err("184467440737095517", 2, KULA_EOVERFLOW);
}

Test(amount, format_parse_round_trip)
{
    static const int64_t values[] = { 0, 1, -1, 9, 10, 99, 100, -100, 123456789,
                                      -987654321, INT64_MAX, INT64_MIN, INT64_MAX - 1,
                                      INT64_MIN + 1 };
    static const unsigned decs[] = { 0, 1, 2, 3, 8, 17, 18 };
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        for (size_t k = 0; k < sizeof(decs) / sizeof(decs[0]); k++) {
            char buf[64];
            cr_assert_gt(kula_amount_format(buf, sizeof(buf), kula_amount_of(values[i]),
                                            decs[k]), 0);
            kula_amount back;
            cr_assert_eq(kula_amount_parse(&back, buf, decs[k]), 0, "parse \"%s\"", buf);
            cr_assert_eq(back.v, values[i], "\"%s\" with %u decimals", buf, decs[k]);
        }
    }
}
