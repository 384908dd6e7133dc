/* test_codec.c -- the canonical msgpack writer and the strict, sticky reader;
 * the transaction body's two versions (proto/SPEC.md §6.1). */
#include <criterion/criterion.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kula/codec/codec.h"
#include "kula/base/error.h"
#include "kula/types/types.h"
#include "testutil.h"

/* ---- helpers ---- */

/* Asserts that b holds exactly the bytes of hex (spaces allowed). */
static void expect_hex(const kula_buf *b, const char *hex)
{
    char clean[4096];
    size_t n = 0;
    for (const char *p = hex; *p != '\0'; p++)
        if (*p != ' ')
            clean[n++] = *p;
    clean[n] = '\0';
    size_t len;
    uint8_t *want = tu_unhex(clean, &len);
    cr_assert_eq(b->err, 0, "writer error %d", b->err);
    cr_assert_eq(b->len, len, "encoding has %zu bytes, expected %zu (%s)", b->len, len, hex);
    cr_assert(memcmp(b->data, want, len) == 0, "encoding differs from %s", hex);
    free(want);
}

/* A heap copy of exactly n bytes, so that ASan sees any read past the end. */
static uint8_t *dup_exact(const void *p, size_t n)
{
    uint8_t *d = malloc(n ? n : 1);
    cr_assert_not_null(d);
    if (n)
        memcpy(d, p, n);
    return d;
}

/* Decodes hex (spaces allowed) into an exact-size heap buffer. */
static uint8_t *hx(const char *hex, size_t *len)
{
    char clean[4096];
    size_t n = 0;
    for (const char *p = hex; *p != '\0'; p++)
        if (*p != ' ')
            clean[n++] = *p;
    clean[n] = '\0';
    if (n == 0) {
        *len = 0;
        return malloc(1);
    }
    return tu_unhex(clean, len);
}

/* Reads one value of any type from hex; returns kula_reader_finish(). */
static int value_rc(const char *hex)
{
    size_t len;
    uint8_t *d = hx(hex, &len);
    kula_reader r;
    kula_reader_init(&r, d, len);
    const uint8_t *p;
    size_t n;
    kula_r_value(&r, &p, &n);
    int rc = kula_reader_finish(&r);
    free(d);
    return rc;
}

static int uint_rc(const char *hex, uint64_t *out)
{
    size_t len;
    uint8_t *d = hx(hex, &len);
    kula_reader r;
    kula_reader_init(&r, d, len);
    uint64_t v = kula_r_uint(&r, UINT64_MAX);
    if (out != NULL)
        *out = v;
    int rc = kula_reader_finish(&r);
    free(d);
    return rc;
}

static int int_rc(const char *hex, int64_t *out)
{
    size_t len;
    uint8_t *d = hx(hex, &len);
    kula_reader r;
    kula_reader_init(&r, d, len);
    int64_t v = kula_r_int(&r, INT64_MIN, INT64_MAX);
    if (out != NULL)
        *out = v;
    int rc = kula_reader_finish(&r);
    free(d);
    return rc;
}

static int str_rc(const char *hex)
{
    size_t len;
    uint8_t *d = hx(hex, &len);
    kula_reader r;
    kula_reader_init(&r, d, len);
    const char *s;
    kula_r_str(&r, &s, UINT32_MAX);
    int rc = kula_reader_finish(&r);
    free(d);
    return rc;
}

static int bin_rc(const char *hex)
{
    size_t len;
    uint8_t *d = hx(hex, &len);
    kula_reader r;
    kula_reader_init(&r, d, len);
    const uint8_t *p;
    kula_r_bin(&r, &p, UINT32_MAX);
    int rc = kula_reader_finish(&r);
    free(d);
    return rc;
}

static int array_rc(const char *hex)
{
    size_t len;
    uint8_t *d = hx(hex, &len);
    kula_reader r;
    kula_reader_init(&r, d, len);
    uint32_t n = kula_r_array(&r, UINT32_MAX);
    for (uint32_t i = 0; i < n; i++)
        (void)kula_r_uint(&r, UINT64_MAX);
    int rc = kula_reader_finish(&r);
    free(d);
    return rc;
}

/* ---- unsigned integers ---- */

static const struct {
    uint64_t v;
    const char *hex;
} uint_cases[] = {
    { 0, "00" },
    { 1, "01" },
    { 127, "7f" },
    { 128, "cc 80" },
    { 200, "cc c8" },
    { 255, "cc ff" },
    { 256, "cd 0100" },
    { 65535, "cd ffff" },
    { 65536, "ce 00010000" },
    { UINT32_MAX, "ce ffffffff" },
    { (uint64_t)UINT32_MAX + 1, "cf 0000000100000000" },
    { INT64_MAX, "cf 7fffffffffffffff" },
    { UINT64_MAX, "cf ffffffffffffffff" },
};

Test(codec, uint_boundaries_encode_and_round_trip)
{
    for (size_t i = 0; i < sizeof(uint_cases) / sizeof(uint_cases[0]); i++) {
        kula_buf b;
        kula_buf_init(&b);
        kula_writer w;
        kula_writer_init(&w, &b);
        kula_w_uint(&w, uint_cases[i].v);
        expect_hex(&b, uint_cases[i].hex);

        uint8_t *d = dup_exact(b.data, b.len);
        kula_reader r;
        kula_reader_init(&r, d, b.len);
        uint64_t got = kula_r_uint(&r, UINT64_MAX);
        cr_assert_eq(kula_reader_finish(&r), 0, "reading %s", uint_cases[i].hex);
        cr_assert_eq(got, uint_cases[i].v);

        /* The same bytes read as a signed integer, where representable. */
        kula_reader_init(&r, d, b.len);
        int64_t s = kula_r_int(&r, INT64_MIN, INT64_MAX);
        if (uint_cases[i].v <= (uint64_t)INT64_MAX) {
            cr_assert_eq(kula_reader_finish(&r), 0);
            cr_assert_eq((uint64_t)s, uint_cases[i].v);
        } else {
            cr_assert_eq(kula_reader_finish(&r), KULA_ERANGE);
            cr_assert_eq(s, 0);
        }
        free(d);
        kula_buf_free(&b);
    }
}

Test(codec, uint_max_bound)
{
    size_t len;
    uint8_t *d = hx("cd 0100", &len);
    kula_reader r;
    kula_reader_init(&r, d, len);
    cr_assert_eq(kula_r_uint(&r, 256), 256);
    cr_assert_eq(kula_reader_finish(&r), 0);
    kula_reader_init(&r, d, len);
    cr_assert_eq(kula_r_uint(&r, 255), 0);
    cr_assert_eq(kula_reader_finish(&r), KULA_ERANGE);
    free(d);
    /* A negative value is never an unsigned integer. */
    cr_assert_eq(uint_rc("ff", NULL), KULA_ERANGE);
    cr_assert_eq(uint_rc("d3 8000000000000000", NULL), KULA_ERANGE);
}

/* ---- signed integers ---- */

static const struct {
    int64_t v;
    const char *hex;
} int_cases[] = {
    { 0, "00" },
    { 127, "7f" },
    { 128, "cc 80" },
    { 200, "cc c8" },
    { 65536, "ce 00010000" },
    { INT64_MAX, "cf 7fffffffffffffff" },
    { -1, "ff" },
    { -32, "e0" },
    { -33, "d0 df" },
    { -128, "d0 80" },
    { -129, "d1 ff7f" },
    { -32768, "d1 8000" },
    { -32769, "d2 ffff7fff" },
    { INT32_MIN, "d2 80000000" },
    { (int64_t)INT32_MIN - 1, "d3 ffffffff7fffffff" },
    { INT64_MIN, "d3 8000000000000000" },
};

Test(codec, int_boundaries_encode_and_round_trip)
{
    for (size_t i = 0; i < sizeof(int_cases) / sizeof(int_cases[0]); i++) {
        kula_buf b;
        kula_buf_init(&b);
        kula_writer w;
        kula_writer_init(&w, &b);
        kula_w_int(&w, int_cases[i].v);
        expect_hex(&b, int_cases[i].hex);

        uint8_t *d = dup_exact(b.data, b.len);
        kula_reader r;
        kula_reader_init(&r, d, b.len);
        int64_t got = kula_r_int(&r, INT64_MIN, INT64_MAX);
        cr_assert_eq(kula_reader_finish(&r), 0, "reading %s", int_cases[i].hex);
        cr_assert_eq(got, int_cases[i].v, "%s read as %lld", int_cases[i].hex, (long long)got);
        /* kula_r_value takes it whole. */
        kula_reader_init(&r, d, b.len);
        const uint8_t *p;
        size_t n;
        kula_r_value(&r, &p, &n);
        cr_assert_eq(kula_reader_finish(&r), 0);
        cr_assert_eq(p, d);
        cr_assert_eq(n, b.len);
        free(d);
        kula_buf_free(&b);
    }
}

Test(codec, int_range_bounds)
{
    size_t len;
    uint8_t *d = hx("d0 df", &len); /* -33 */
    kula_reader r;
    kula_reader_init(&r, d, len);
    cr_assert_eq(kula_r_int(&r, -33, 0), -33);
    cr_assert_eq(kula_reader_finish(&r), 0);
    kula_reader_init(&r, d, len);
    cr_assert_eq(kula_r_int(&r, -32, 0), 0);
    cr_assert_eq(kula_reader_finish(&r), KULA_ERANGE);
    free(d);
    d = hx("cc c8", &len); /* 200 */
    kula_reader_init(&r, d, len);
    cr_assert_eq(kula_r_int(&r, 0, 199), 0);
    cr_assert_eq(kula_reader_finish(&r), KULA_ERANGE);
    free(d);
    /* Above INT64_MAX does not fit a signed integer. */
    cr_assert_eq(int_rc("cf 8000000000000000", NULL), KULA_ERANGE);
}

/* ---- non-canonical forms ---- */

Test(codec, noncanonical_integers_rejected)
{
    static const char *const bad[] = {
        "cc 05",               /* uint8 holding 5 */
        "cc 7f",               /* uint8 holding 127: fits a fixint */
        "cc 00",
        "cd 00c8",             /* uint16 holding 200 */
        "cd 00ff",             /* uint16 holding 255 */
        "cd 0005",
        "ce 0000ffff",         /* uint32 holding 65535 */
        "ce 00000001",
        "cf 00000000ffffffff", /* uint64 holding 2^32-1 */
        "cf 0000000000000000",
        "d0 05",               /* int8 holding 5: non-negative in signed form */
        "d0 00",
        "d0 7f",
        "d0 ff",               /* int8 holding -1: fits a negative fixint */
        "d0 e0",               /* int8 holding -32 */
        "d1 ff9c",             /* int16 holding -100 */
        "d1 ff80",             /* int16 holding -128 */
        "d1 0005",             /* int16 holding 5 */
        "d1 7fff",
        "d2 ffff8000",         /* int32 holding -32768 */
        "d2 00000001",
        "d2 ffffffff",
        "d3 ffffffff80000000", /* int64 holding INT32_MIN */
        "d3 0000000000000001",
        "d3 7fffffffffffffff", /* INT64_MAX belongs in uint64 */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t u = 99;
        int64_t s = 99;
        cr_assert_eq(uint_rc(bad[i], &u), KULA_ENONCANON, "r_uint accepted %s", bad[i]);
        cr_assert_eq(u, 0);
        cr_assert_eq(int_rc(bad[i], &s), KULA_ENONCANON, "r_int accepted %s", bad[i]);
        cr_assert_eq(s, 0);
        cr_assert_eq(value_rc(bad[i]), KULA_ENONCANON, "r_value accepted %s", bad[i]);
    }
    /* The smallest values of each wider form are accepted. */
    static const char *const good[] = { "cc 80", "cd 0100", "ce 00010000",
                                        "cf 0000000100000000", "d0 df", "d1 ff7f",
                                        "d2 ffff7fff", "d3 ffffffff7fffffff" };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        cr_assert_eq(value_rc(good[i]), 0, "rejected canonical %s", good[i]);
}

Test(codec, noncanonical_lengths_rejected)
{
    /* str8 holding a 5-byte string */
    cr_assert_eq(str_rc("d9 05 68656c6c6f"), KULA_ENONCANON);
    cr_assert_eq(value_rc("d9 05 68656c6c6f"), KULA_ENONCANON);
    cr_assert_eq(str_rc("a5 68656c6c6f"), 0);
    /* str8 holding 0 bytes, str16 holding 5, str32 holding 5 */
    cr_assert_eq(str_rc("d9 00"), KULA_ENONCANON);
    cr_assert_eq(str_rc("da 0005 68656c6c6f"), KULA_ENONCANON);
    cr_assert_eq(str_rc("db 00000005 68656c6c6f"), KULA_ENONCANON);
    /* array16 holding 3 elements */
    cr_assert_eq(array_rc("dc 0003 010203"), KULA_ENONCANON);
    cr_assert_eq(value_rc("dc 0003 010203"), KULA_ENONCANON);
    cr_assert_eq(array_rc("93 010203"), 0);
    cr_assert_eq(array_rc("dd 00000003 010203"), KULA_ENONCANON);
    cr_assert_eq(array_rc("dc 0000"), KULA_ENONCANON);
    /* bin16 holding 10 bytes */
    cr_assert_eq(bin_rc("c5 000a 00112233445566778899"), KULA_ENONCANON);
    cr_assert_eq(value_rc("c5 000a 00112233445566778899"), KULA_ENONCANON);
    cr_assert_eq(bin_rc("c4 0a 00112233445566778899"), 0);
    cr_assert_eq(bin_rc("c6 0000000a 00112233445566778899"), KULA_ENONCANON);
    cr_assert_eq(bin_rc("c4 00"), 0); /* the empty bin is bin8 */
}

/* Builds a header + n filler bytes as hex. */
static char *hdr_plus(const char *hdr, size_t n, const char *fill)
{
    size_t cap = strlen(hdr) + 2 * n + 1;
    char *s = malloc(cap);
    cr_assert_not_null(s);
    strcpy(s, hdr);
    for (size_t i = 0; i < n; i++)
        strcat(s + strlen(s), fill);
    return s;
}

Test(codec, length_form_boundaries)
{
    /* str: fixstr up to 31, str8 from 32, str16 from 256, str32 from 65536 */
    struct { const char *hdr; size_t n; int rc; } strs[] = {
        { "bf", 31, 0 }, { "d9 1f", 31, KULA_ENONCANON }, { "d9 20", 32, 0 },
        { "d9 ff", 255, 0 }, { "da 00ff", 255, KULA_ENONCANON }, { "da 0100", 256, 0 },
    };
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        char *h = hdr_plus(strs[i].hdr, strs[i].n, "61");
        cr_assert_eq(str_rc(h), strs[i].rc, "str header %s", strs[i].hdr);
        free(h);
    }
    /* bin: bin8 up to 255, bin16 from 256, bin32 from 65536 */
    struct { const char *hdr; size_t n; int rc; } bins[] = {
        { "c4 ff", 255, 0 }, { "c5 00ff", 255, KULA_ENONCANON }, { "c5 0100", 256, 0 },
    };
    for (size_t i = 0; i < sizeof(bins) / sizeof(bins[0]); i++) {
        char *h = hdr_plus(bins[i].hdr, bins[i].n, "00");
        cr_assert_eq(bin_rc(h), bins[i].rc, "bin header %s", bins[i].hdr);
        free(h);
    }
    /* array: fixarray up to 15, array16 from 16, array32 from 65536 */
    struct { const char *hdr; size_t n; int rc; } arrs[] = {
        { "9f", 15, 0 }, { "dc 000f", 15, KULA_ENONCANON }, { "dc 0010", 16, 0 },
    };
    for (size_t i = 0; i < sizeof(arrs) / sizeof(arrs[0]); i++) {
        char *h = hdr_plus(arrs[i].hdr, arrs[i].n, "01");
        cr_assert_eq(array_rc(h), arrs[i].rc, "array header %s", arrs[i].hdr);
        free(h);
    }
}

Test(codec, large_lengths_round_trip)
{
    static const size_t sizes[] = { 0, 1, 31, 32, 255, 256, 65535, 65536, 70000 };
    uint8_t *payload = malloc(70000);
    cr_assert_not_null(payload);
    for (size_t i = 0; i < 70000; i++)
        payload[i] = (uint8_t)('a' + i % 26);
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        size_t n = sizes[k];
        kula_buf b;
        kula_buf_init(&b);
        kula_writer w;
        kula_writer_init(&w, &b);
        kula_w_str(&w, (const char *)payload, n);
        kula_w_bin(&w, payload, n);
        kula_w_array(&w, (uint32_t)n);
        for (size_t i = 0; i < n; i++)
            kula_w_uint(&w, i % 128);
        cr_assert_eq(b.err, 0);
        /* The header form follows the length. */
        uint8_t st = b.data[0];
        if (n < 32)
            cr_assert_eq(st, 0xa0 | n);
        else if (n < 256)
            cr_assert_eq(st, 0xd9);
        else if (n < 65536)
            cr_assert_eq(st, 0xda);
        else
            cr_assert_eq(st, 0xdb);

        uint8_t *d = dup_exact(b.data, b.len);
        kula_reader r;
        kula_reader_init(&r, d, b.len);
        const char *s;
        const uint8_t *p;
        cr_assert_eq(kula_r_str(&r, &s, n), n);
        cr_assert(n == 0 || memcmp(s, payload, n) == 0);
        cr_assert_eq(kula_r_bin(&r, &p, n), n);
        cr_assert(n == 0 || memcmp(p, payload, n) == 0);
        cr_assert_eq(kula_r_array(&r, (uint32_t)n), n);
        for (size_t i = 0; i < n; i++)
            cr_assert_eq(kula_r_uint(&r, 127), i % 128);
        cr_assert_eq(kula_reader_finish(&r), 0, "size %zu", n);
        /* One byte less than allowed: too big. */
        if (n > 0) {
            kula_reader_init(&r, d, b.len);
            cr_assert_eq(kula_r_str(&r, &s, n - 1), 0);
            cr_assert_null(s);
            cr_assert_eq(kula_reader_finish(&r), KULA_ETOOBIG);
        }
        free(d);
        kula_buf_free(&b);
    }
    free(payload);
}

/* ---- types never canonical in Kula ---- */

Test(codec, floats_maps_ext_rejected)
{
    static const char *const bad[] = {
        "ca 3f800000",                /* float32 1.0 */
        "cb 3ff0000000000000",        /* float64 1.0 */
        "80",                         /* empty fixmap */
        "81 01 02",                   /* fixmap {1: 2} */
        "de 0001 01 02",              /* map16 */
        "df 00000001 01 02",          /* map32 */
        "d4 01 00",                   /* fixext1 */
        "d5 01 0000",                 /* fixext2 */
        "d6 01 00000000",             /* fixext4 */
        "d7 01 0000000000000000",     /* fixext8 */
        "d8 01 00000000000000000000000000000000", /* fixext16 */
        "c7 01 01 00",                /* ext8 */
        "c8 0001 01 00",              /* ext16 */
        "c9 00000001 01 00",          /* ext32 */
        "d6 ff 00000000",             /* timestamp32 */
        "c1",                         /* never used */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(value_rc(bad[i]), KULA_ETYPE, "r_value accepted %s", bad[i]);
        cr_assert_eq(uint_rc(bad[i], NULL), KULA_ETYPE, "r_uint accepted %s", bad[i]);
        cr_assert_eq(int_rc(bad[i], NULL), KULA_ETYPE, "r_int accepted %s", bad[i]);
        cr_assert_eq(str_rc(bad[i]), KULA_ETYPE, "r_str accepted %s", bad[i]);
        cr_assert_eq(bin_rc(bad[i]), KULA_ETYPE, "r_bin accepted %s", bad[i]);
        cr_assert_eq(array_rc(bad[i]), KULA_ETYPE, "r_array accepted %s", bad[i]);
    }
    /* Inside an array too. */
    cr_assert_eq(value_rc("92 01 ca 3f800000"), KULA_ETYPE);
    cr_assert_eq(value_rc("91 80"), KULA_ETYPE);
}

Test(codec, wrong_type_for_each_reader)
{
    cr_assert_eq(uint_rc("a1 61", NULL), KULA_ETYPE);  /* str for an integer */
    cr_assert_eq(uint_rc("c0", NULL), KULA_ETYPE);     /* nil */
    cr_assert_eq(uint_rc("c3", NULL), KULA_ETYPE);     /* bool */
    cr_assert_eq(str_rc("c4 01 61"), KULA_ETYPE);      /* bin for str */
    cr_assert_eq(str_rc("01"), KULA_ETYPE);
    cr_assert_eq(bin_rc("a1 61"), KULA_ETYPE);         /* str for bin */
    cr_assert_eq(array_rc("c4 00"), KULA_ETYPE);
    size_t len;
    uint8_t *d = hx("01", &len);
    kula_reader r;
    kula_reader_init(&r, d, len);
    cr_assert_eq(kula_r_bool(&r), false);
    cr_assert_eq(kula_reader_finish(&r), KULA_ETYPE);
    free(d);
    /* nil, true and false are values. */
    cr_assert_eq(value_rc("c0"), 0);
    cr_assert_eq(value_rc("c2"), 0);
    cr_assert_eq(value_rc("c3"), 0);
}

Test(codec, bool_and_nil_round_trip)
{
    kula_buf b;
    kula_buf_init(&b);
    kula_writer w;
    kula_writer_init(&w, &b);
    kula_w_bool(&w, true);
    kula_w_bool(&w, false);
    kula_w_nil(&w);
    expect_hex(&b, "c3 c2 c0");
    kula_reader r;
    kula_reader_init(&r, b.data, b.len);
    cr_assert_eq(kula_r_bool(&r), true);
    cr_assert_eq(kula_r_bool(&r), false);
    const uint8_t *p;
    size_t n;
    kula_r_value(&r, &p, &n);
    cr_assert_eq(n, 1);
    cr_assert_eq(p[0], 0xc0);
    cr_assert_eq(kula_reader_finish(&r), 0);
    kula_buf_free(&b);
}

/* ---- truncation ---- */

/* A structure that uses every type and several header sizes. */
static void write_sample(kula_buf *b)
{
    static uint8_t big[300];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)i;
    kula_writer w;
    kula_writer_init(&w, b);
    kula_w_array(&w, 17);
    kula_w_uint(&w, 0);
    kula_w_uint(&w, 200);
    kula_w_uint(&w, 65535);
    kula_w_uint(&w, 65536);
    kula_w_uint(&w, UINT64_MAX);
    kula_w_int(&w, -1);
    kula_w_int(&w, -129);
    kula_w_int(&w, INT64_MIN);
    kula_w_bool(&w, true);
    kula_w_nil(&w);
    static const char text[] = "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80 ok";
    kula_w_str(&w, text, strlen(text));
    kula_w_str(&w, "0123456789abcdef0123456789abcdef0123456789", 42);
    kula_w_bin(&w, big, 10);
    kula_w_bin(&w, big, 300);
    kula_w_array(&w, 2);
    kula_w_array(&w, 0);
    kula_w_array(&w, 1);
    kula_w_int(&w, -33);
    kula_w_bin(&w, NULL, 0);
    kula_w_array(&w, 16);
    for (int i = 0; i < 16; i++)
        kula_w_uint(&w, (uint64_t)i);
    cr_assert_eq(b->err, 0);
}

/* Reads the sample field by field; returns kula_reader_finish(). */
static int read_sample(const uint8_t *d, size_t len)
{
    kula_reader r;
    kula_reader_init(&r, d, len);
    const char *s;
    const uint8_t *p;
    uint8_t ten[10];
    uint8_t empty[4];
    kula_r_array_exact(&r, 17);
    (void)kula_r_uint(&r, UINT64_MAX);
    (void)kula_r_uint(&r, UINT64_MAX);
    (void)kula_r_uint(&r, UINT64_MAX);
    (void)kula_r_uint(&r, UINT64_MAX);
    (void)kula_r_uint(&r, UINT64_MAX);
    (void)kula_r_int(&r, INT64_MIN, INT64_MAX);
    (void)kula_r_int(&r, INT64_MIN, INT64_MAX);
    (void)kula_r_int(&r, INT64_MIN, INT64_MAX);
    (void)kula_r_bool(&r);
    size_t vn;
    kula_r_value(&r, &p, &vn);
    (void)kula_r_str(&r, &s, 100);
    (void)kula_r_str(&r, &s, 100);
    kula_r_bin_exact(&r, ten, 10);
    (void)kula_r_bin(&r, &p, 1000);
    kula_r_array_exact(&r, 2);
    kula_r_array_exact(&r, 0);
    kula_r_array_exact(&r, 1);
    (void)kula_r_int(&r, INT64_MIN, INT64_MAX);
    (void)kula_r_bin_opt(&r, empty, sizeof(empty));
    uint32_t n = kula_r_array(&r, 16);
    for (uint32_t i = 0; i < n; i++)
        (void)kula_r_uint(&r, 15);
    return kula_reader_finish(&r);
}

Test(codec, truncation_at_every_cut)
{
    kula_buf b;
    kula_buf_init(&b);
    write_sample(&b);
    cr_assert_eq(read_sample(b.data, b.len), 0, "the full sample must read back");
    for (size_t cut = 0; cut < b.len; cut++) {
        uint8_t *d = dup_exact(b.data, cut);
        cr_assert_eq(read_sample(d, cut), KULA_ETRUNC, "typed read, cut at %zu of %zu", cut,
                     b.len);
        kula_reader r;
        kula_reader_init(&r, d, cut);
        const uint8_t *p = (const uint8_t *)"x";
        size_t n = 99;
        kula_r_value(&r, &p, &n);
        cr_assert_eq(kula_reader_finish(&r), KULA_ETRUNC, "r_value, cut at %zu", cut);
        cr_assert_null(p);
        cr_assert_eq(n, 0);
        free(d);
    }
    kula_buf_free(&b);
}

Test(codec, truncation_of_each_boundary_encoding)
{
    for (size_t i = 0; i < sizeof(uint_cases) / sizeof(uint_cases[0]); i++) {
        size_t len;
        uint8_t *full = hx(uint_cases[i].hex, &len);
        for (size_t cut = 0; cut < len; cut++) {
            uint8_t *d = dup_exact(full, cut);
            kula_reader r;
            kula_reader_init(&r, d, cut);
            cr_assert_eq(kula_r_uint(&r, UINT64_MAX), 0);
            cr_assert_eq(kula_reader_finish(&r), KULA_ETRUNC, "%s cut at %zu",
                         uint_cases[i].hex, cut);
            free(d);
        }
        free(full);
    }
    for (size_t i = 0; i < sizeof(int_cases) / sizeof(int_cases[0]); i++) {
        size_t len;
        uint8_t *full = hx(int_cases[i].hex, &len);
        for (size_t cut = 0; cut < len; cut++) {
            uint8_t *d = dup_exact(full, cut);
            kula_reader r;
            kula_reader_init(&r, d, cut);
            cr_assert_eq(kula_r_int(&r, INT64_MIN, INT64_MAX), 0);
            cr_assert_eq(kula_reader_finish(&r), KULA_ETRUNC, "%s cut at %zu",
                         int_cases[i].hex, cut);
            free(d);
        }
        free(full);
    }
    /* Headers whose length field itself is cut. */
    static const char *const cut_headers[] = { "d9", "da 01", "db 0000", "c4", "c5 01",
                                               "c6 000001", "dc 00", "dd 000000" };
    for (size_t i = 0; i < sizeof(cut_headers) / sizeof(cut_headers[0]); i++)
        cr_assert_eq(value_rc(cut_headers[i]), KULA_ETRUNC, "%s", cut_headers[i]);
    /* Empty input. */
    kula_reader r;
    kula_reader_init(&r, NULL, 0);
    cr_assert_eq(kula_r_bool(&r), false);
    cr_assert_eq(kula_reader_finish(&r), KULA_ETRUNC);
}

Test(codec, trailing_bytes)
{
    cr_assert_eq(value_rc("01 02"), KULA_ETRAILING);
    cr_assert_eq(uint_rc("cc c8 00", NULL), KULA_ETRAILING);
    cr_assert_eq(str_rc("a1 61 61"), KULA_ETRAILING);
    cr_assert_eq(value_rc("92 01 02 03"), KULA_ETRAILING);
    kula_buf b;
    kula_buf_init(&b);
    write_sample(&b);
    uint8_t zero = 0;
    kula_buf_append(&b, &zero, 1);
    cr_assert_eq(read_sample(b.data, b.len), KULA_ETRAILING);
    kula_buf_free(&b);
    /* An error recorded earlier wins over trailing bytes. */
    cr_assert_eq(uint_rc("cc 05 00", NULL), KULA_ENONCANON);
}

/* ---- UTF-8 ---- */

Test(codec, utf8_validation)
{
    static const struct { const char *hex; bool ok; const char *what; } cases[] = {
        { "", true, "empty" },
        { "41", true, "ASCII" },
        { "7f", true, "DEL is valid UTF-8" },
        { "c2 80", true, "U+0080" },
        { "df bf", true, "U+07FF" },
        { "e0 a0 80", true, "U+0800" },
        { "e2 82 ac", true, "euro sign" },
        { "ed 9f bf", true, "U+D7FF" },
        { "ee 80 80", true, "U+E000" },
        { "ef bf bf", true, "U+FFFF" },
        { "f0 90 80 80", true, "U+10000" },
        { "f0 9f 98 80", true, "emoji" },
        { "f4 8f bf bf", true, "U+10FFFF" },
        { "c0 80", false, "overlong NUL" },
        { "c1 bf", false, "overlong 2-byte" },
        { "e0 80 80", false, "overlong 3-byte" },
        { "e0 9f bf", false, "overlong U+07FF" },
        { "f0 80 80 80", false, "overlong 4-byte" },
        { "f0 8f bf bf", false, "overlong U+FFFF" },
        { "ed a0 80", false, "surrogate U+D800" },
        { "ed bf bf", false, "surrogate U+DFFF" },
        { "ed b0 80", false, "low surrogate" },
        { "f4 90 80 80", false, "U+110000" },
        { "f5 80 80 80", false, "lead byte f5" },
        { "f7 bf bf bf", false, "U+1FFFFF" },
        { "f8 88 80 80 80", false, "5-byte form" },
        { "ff", false, "byte ff" },
        { "fe", false, "byte fe" },
        { "80", false, "lone continuation" },
        { "41 bf", false, "continuation after ASCII" },
        { "c2", false, "truncated 2-byte" },
        { "e2 82", false, "truncated 3-byte" },
        { "f0 9f 98", false, "truncated 4-byte" },
        { "e2 82 41", false, "bad continuation" },
        { "c2 c2 80", false, "lead where continuation expected" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n;
        uint8_t *s = hx(cases[i].hex, &n);
        cr_assert_eq(kula_utf8_valid((const char *)s, n), cases[i].ok, "kula_utf8_valid: %s",
                     cases[i].what);
        /* The same bytes as a msgpack str. */
        kula_buf b;
        kula_buf_init(&b);
        kula_writer w;
        kula_writer_init(&w, &b);
        kula_w_str(&w, (const char *)s, n);
        uint8_t *d = dup_exact(b.data, b.len);
        kula_reader r;
        kula_reader_init(&r, d, b.len);
        const char *p;
        size_t got = kula_r_str(&r, &p, 100);
        if (cases[i].ok) {
            cr_assert_eq(kula_reader_finish(&r), 0, "r_str: %s", cases[i].what);
            cr_assert_eq(got, n);
        } else {
            cr_assert_eq(kula_reader_finish(&r), KULA_EUTF8, "r_str: %s", cases[i].what);
            cr_assert_eq(got, 0);
            cr_assert_null(p);
            /* kula_r_value checks text too. */
            kula_reader_init(&r, d, b.len);
            const uint8_t *vp;
            size_t vn;
            kula_r_value(&r, &vp, &vn);
            cr_assert_eq(kula_reader_finish(&r), KULA_EUTF8, "r_value: %s", cases[i].what);
        }
        free(d);
        kula_buf_free(&b);
        free(s);
    }
}

/* ---- arrays ---- */

Test(codec, array_count_beyond_input_rejected_early)
{
    /* array32 claiming 4 billion elements with one byte behind it */
    size_t len;
    uint8_t *d = hx("dd ffffffff 01", &len);
    kula_reader r;
    kula_reader_init(&r, d, len);
    cr_assert_eq(kula_r_array(&r, UINT32_MAX), 0);
    cr_assert_eq(r.err, KULA_ETRUNC);
    free(d);

    /* fixarray of 3 with only 2 bytes: rejected at the header */
    d = hx("93 01 02", &len);
    kula_reader_init(&r, d, len);
    cr_assert_eq(kula_r_array(&r, UINT32_MAX), 0);
    cr_assert_eq(r.err, KULA_ETRUNC);
    free(d);
    d = hx("93 01 02 03", &len);
    kula_reader_init(&r, d, len);
    cr_assert_eq(kula_r_array(&r, UINT32_MAX), 3);
    cr_assert_eq(r.err, 0);
    free(d);

    /* array16 of 65535 with 10 bytes left */
    d = hx("dc ffff 00000000000000000000", &len);
    kula_reader_init(&r, d, len);
    cr_assert_eq(kula_r_array(&r, UINT32_MAX), 0);
    cr_assert_eq(r.err, KULA_ETRUNC);
    free(d);
    cr_assert_eq(value_rc("dd ffffffff 01"), KULA_ETRUNC);

    /* More than the caller's maximum: too big, before looking at the data. */
    d = hx("93 01 02 03", &len);
    kula_reader_init(&r, d, len);
    cr_assert_eq(kula_r_array(&r, 2), 0);
    cr_assert_eq(r.err, KULA_ETOOBIG);
    free(d);

    /* Exact arity. */
    d = hx("92 01 02", &len);
    kula_reader_init(&r, d, len);
    kula_r_array_exact(&r, 3);
    cr_assert_eq(r.err, KULA_EARITY);
    free(d);
}

/* n nested arrays: [[[...[]...]]] */
static uint8_t *nested(size_t n, size_t *len)
{
    uint8_t *d = malloc(n);
    cr_assert_not_null(d);
    for (size_t i = 0; i + 1 < n; i++)
        d[i] = 0x91;
    d[n - 1] = 0x90;
    *len = n;
    return d;
}

Test(codec, value_nesting_depth)
{
    size_t len;
    uint8_t *d = nested(16, &len);
    kula_reader r;
    kula_reader_init(&r, d, len);
    const uint8_t *p;
    size_t n;
    kula_r_value(&r, &p, &n);
    cr_assert_eq(kula_reader_finish(&r), 0, "depth 16 must be accepted");
    cr_assert_eq(n, 16);
    free(d);

    d = nested(17, &len);
    kula_reader_init(&r, d, len);
    kula_r_value(&r, &p, &n);
    cr_assert_eq(kula_reader_finish(&r), KULA_ETOOBIG, "depth 17 must be rejected");
    cr_assert_null(p);
    free(d);

    /* Very deep input is rejected without exhausting the stack. */
    d = nested(1000000, &len);
    kula_reader_init(&r, d, len);
    kula_r_value(&r, &p, &n);
    cr_assert_eq(kula_reader_finish(&r), KULA_ETOOBIG);
    free(d);

    /* The depth counter unwinds: several depth-16 values in a row. */
    d = malloc(16 * 4);
    for (int k = 0; k < 4; k++) {
        for (int i = 0; i < 15; i++)
            d[k * 16 + i] = 0x91;
        d[k * 16 + 15] = 0x90;
    }
    kula_reader_init(&r, d, 64);
    for (int k = 0; k < 4; k++) {
        kula_r_value(&r, &p, &n);
        cr_assert_eq(r.err, 0, "value %d", k);
        cr_assert_eq(n, 16);
    }
    cr_assert_eq(kula_reader_finish(&r), 0);
    free(d);

    /* Wide but shallow is fine: 16 siblings each 15 deep inside one array. */
    size_t wl = 3 + 16 * 15;
    d = malloc(wl);
    d[0] = 0xdc;
    d[1] = 0x00;
    d[2] = 0x10;
    for (int k = 0; k < 16; k++) {
        for (int i = 0; i < 14; i++)
            d[3 + k * 15 + i] = 0x91;
        d[3 + k * 15 + 14] = 0x90;
    }
    kula_reader_init(&r, d, wl);
    kula_r_value(&r, &p, &n);
    cr_assert_eq(kula_reader_finish(&r), 0);
    cr_assert_eq(n, wl);
    free(d);
}

Test(codec, value_returns_raw_span)
{
    size_t len;
    uint8_t *d = hx("01 93 cc c8 a1 61 91 c3 ff", &len);
    kula_reader r;
    kula_reader_init(&r, d, len);
    cr_assert_eq(kula_r_uint(&r, 10), 1);
    const uint8_t *p;
    size_t n;
    kula_r_value(&r, &p, &n);
    cr_assert_eq(p, d + 1);
    cr_assert_eq(n, 7);
    cr_assert_eq(kula_r_int(&r, -1, -1), -1);
    cr_assert_eq(kula_reader_finish(&r), 0);

    /* kula_w_raw splices it back verbatim. */
    kula_buf b;
    kula_buf_init(&b);
    kula_writer w;
    kula_writer_init(&w, &b);
    kula_w_array(&w, 2);
    kula_w_raw(&w, p, n);
    kula_w_uint(&w, 5);
    expect_hex(&b, "92 93 cc c8 a1 61 91 c3 05");
    kula_buf_free(&b);
    free(d);
}

/* ---- bin helpers ---- */

Test(codec, bin_exact_and_opt)
{
    size_t len;
    uint8_t out[4];
    kula_reader r;
    uint8_t *d = hx("c4 04 01020304", &len);
    kula_reader_init(&r, d, len);
    kula_r_bin_exact(&r, out, 4);
    cr_assert_eq(kula_reader_finish(&r), 0);
    cr_assert_eq(out[0], 1);
    cr_assert_eq(out[3], 4);
    free(d);

    d = hx("c4 03 010203", &len);
    memset(out, 0xaa, sizeof(out));
    kula_reader_init(&r, d, len);
    kula_r_bin_exact(&r, out, 4);
    cr_assert_eq(kula_reader_finish(&r), KULA_ERANGE);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(out[i], 0, "output zeroed on failure");
    free(d);

    d = hx("c4 00", &len);
    memset(out, 0xaa, sizeof(out));
    kula_reader_init(&r, d, len);
    cr_assert_eq(kula_r_bin_opt(&r, out, 4), false);
    cr_assert_eq(kula_reader_finish(&r), 0);
    cr_assert_eq(out[0], 0);
    free(d);

    d = hx("c4 04 05060708", &len);
    kula_reader_init(&r, d, len);
    cr_assert_eq(kula_r_bin_opt(&r, out, 4), true);
    cr_assert_eq(out[0], 5);
    cr_assert_eq(kula_reader_finish(&r), 0);
    free(d);

    d = hx("c4 02 0506", &len);
    kula_reader_init(&r, d, len);
    cr_assert_eq(kula_r_bin_opt(&r, out, 4), false);
    cr_assert_eq(kula_reader_finish(&r), KULA_ERANGE);
    free(d);
}

/* ---- sticky failure ---- */

Test(codec, sticky_failure)
{
    /* A non-canonical integer followed by perfectly valid values. */
    size_t len;
    uint8_t *d = hx("cc 05 01 c3 a1 61 c4 01 aa 91 01 02", &len);
    kula_reader r;
    kula_reader_init(&r, d, len);
    cr_assert_eq(kula_r_uint(&r, UINT64_MAX), 0);
    cr_assert_eq(r.err, KULA_ENONCANON);
    const uint8_t *pos = r.p;
    cr_assert_eq(pos, d, "the cursor does not move past a failed read");

    cr_assert_eq(kula_r_uint(&r, UINT64_MAX), 0);
    cr_assert_eq(kula_r_int(&r, INT64_MIN, INT64_MAX), 0);
    cr_assert_eq(kula_r_bool(&r), false);
    const char *s = "x";
    cr_assert_eq(kula_r_str(&r, &s, 10), 0);
    cr_assert_null(s);
    const uint8_t *p = (const uint8_t *)"x";
    cr_assert_eq(kula_r_bin(&r, &p, 10), 0);
    cr_assert_null(p);
    uint8_t one[1] = { 0x77 };
    kula_r_bin_exact(&r, one, 1);
    cr_assert_eq(one[0], 0);
    one[0] = 0x77;
    cr_assert_eq(kula_r_bin_opt(&r, one, 1), false);
    cr_assert_eq(one[0], 0);
    cr_assert_eq(kula_r_array(&r, 10), 0);
    kula_r_array_exact(&r, 2);
    size_t n = 5;
    p = (const uint8_t *)"x";
    kula_r_value(&r, &p, &n);
    cr_assert_null(p);
    cr_assert_eq(n, 0);
    cr_assert_eq(r.p, pos, "no read after the error moves the cursor");

    /* Later failures do not replace the first. */
    kula_reader_fail(&r, KULA_ETYPE);
    cr_assert_eq(r.err, KULA_ENONCANON);
    cr_assert(!kula_reader_ok(&r));
    cr_assert_eq(kula_reader_finish(&r), KULA_ENONCANON);
    free(d);

    /* A failure recorded by the caller is sticky too. */
    d = hx("01 02", &len);
    kula_reader_init(&r, d, len);
    cr_assert(kula_reader_ok(&r));
    kula_reader_fail(&r, KULA_EVERSION);
    cr_assert_eq(kula_r_uint(&r, 10), 0);
    cr_assert_eq(kula_reader_finish(&r), KULA_EVERSION);
    free(d);

    /* The first of two different errors is kept: ETRUNC, then nothing. */
    d = hx("cd 01", &len);
    kula_reader_init(&r, d, len);
    cr_assert_eq(kula_r_uint(&r, UINT64_MAX), 0);
    kula_reader_fail(&r, KULA_ERANGE);
    cr_assert_eq(kula_reader_finish(&r), KULA_ETRUNC);
    free(d);
}

/* ---- cross-check with msgpack-c ---- */

/* The bytes msgpack-c's own packer writes for one call. */
#define MP_BYTES(sbuf, call)                                                                  \
    do {                                                                                      \
        msgpack_sbuffer_init(&(sbuf));                                                        \
        msgpack_packer pk_;                                                                   \
        msgpack_packer_init(&pk_, &(sbuf), msgpack_sbuffer_write);                            \
        msgpack_packer *pk = &pk_;                                                            \
        call;                                                                                 \
    } while (0)

Test(codec, writer_matches_msgpack_c_examples)
{
    kula_buf b;
    kula_writer w;

    kula_buf_init(&b);
    kula_writer_init(&w, &b);
    kula_w_uint(&w, 200);
    expect_hex(&b, "cc c8");
    kula_buf_free(&b);

    kula_buf_init(&b);
    kula_writer_init(&w, &b);
    kula_w_int(&w, 200);
    expect_hex(&b, "cc c8");
    kula_buf_free(&b);

    kula_buf_init(&b);
    kula_writer_init(&w, &b);
    kula_w_int(&w, -1);
    expect_hex(&b, "ff");
    kula_buf_free(&b);

    char s32[33] = "0123456789abcdef0123456789abcdef";
    kula_buf_init(&b);
    kula_writer_init(&w, &b);
    kula_w_str(&w, s32, 32);
    expect_hex(&b, "d9 20 30313233343536373839616263646566"
                   "30313233343536373839616263646566");
    kula_buf_free(&b);

    kula_buf_init(&b);
    kula_writer_init(&w, &b);
    kula_w_bin(&w, NULL, 0);
    kula_w_str(&w, "", 0);
    kula_w_array(&w, 0);
    kula_w_array(&w, 15);
    kula_w_array(&w, 16);
    kula_w_array(&w, 65535);
    kula_w_array(&w, 65536);
    expect_hex(&b, "c4 00 a0 90 9f dc0010 dcffff dd00010000");
    kula_buf_free(&b);
}

Test(codec, writer_agrees_with_msgpack_c_packer)
{
    static const int64_t ints[] = { 0, 1, 31, 127, 128, 200, 255, 256, 65535, 65536,
                                    INT32_MAX, (int64_t)UINT32_MAX, (int64_t)UINT32_MAX + 1,
                                    INT64_MAX, -1, -31, -32, -33, -127, -128, -129, -255,
                                    -32767, -32768, -32769, INT32_MIN, (int64_t)INT32_MIN - 1,
                                    INT64_MIN + 1, INT64_MIN };
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        msgpack_sbuffer sb;
        MP_BYTES(sb, msgpack_pack_int64(pk, ints[i]));
        kula_buf b;
        kula_buf_init(&b);
        kula_writer w;
        kula_writer_init(&w, &b);
        kula_w_int(&w, ints[i]);
        cr_assert_eq(b.len, sb.size, "length for %lld", (long long)ints[i]);
        cr_assert(memcmp(b.data, sb.data, sb.size) == 0, "bytes for %lld", (long long)ints[i]);

        /* msgpack-c reads our bytes back as the same number. */
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        size_t off = 0;
        cr_assert_eq(msgpack_unpack_next(&u, (const char *)b.data, b.len, &off),
                     MSGPACK_UNPACK_SUCCESS);
        cr_assert_eq(off, b.len);
        if (ints[i] >= 0) {
            cr_assert_eq(u.data.type, MSGPACK_OBJECT_POSITIVE_INTEGER);
            cr_assert_eq(u.data.via.u64, (uint64_t)ints[i]);
        } else {
            cr_assert_eq(u.data.type, MSGPACK_OBJECT_NEGATIVE_INTEGER);
            cr_assert_eq(u.data.via.i64, ints[i]);
        }
        msgpack_unpacked_destroy(&u);
        msgpack_sbuffer_destroy(&sb);
        kula_buf_free(&b);
    }
    static const size_t lens[] = { 0, 5, 31, 32, 255, 256, 65535, 65536 };
    char *text = malloc(65536);
    memset(text, 'z', 65536);
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        msgpack_sbuffer sb;
        MP_BYTES(sb, (msgpack_pack_str(pk, lens[i]), msgpack_pack_str_body(pk, text, lens[i]),
                      msgpack_pack_bin(pk, lens[i]), msgpack_pack_bin_body(pk, text, lens[i]),
                      msgpack_pack_array(pk, lens[i])));
        kula_buf b;
        kula_buf_init(&b);
        kula_writer w;
        kula_writer_init(&w, &b);
        kula_w_str(&w, text, lens[i]);
        kula_w_bin(&w, text, lens[i]);
        kula_w_array(&w, (uint32_t)lens[i]);
        cr_assert_eq(b.len, sb.size, "length %zu", lens[i]);
        cr_assert(memcmp(b.data, sb.data, sb.size) == 0, "bytes for length %zu", lens[i]);
        msgpack_sbuffer_destroy(&sb);
        kula_buf_free(&b);
    }
    free(text);
}

Test(codec, reader_rejects_msgpack_c_fixed_width_forms)
{
    /* msgpack-c's pack_fix_* write a chosen width; only the smallest is canonical. */
    msgpack_sbuffer sb;
    MP_BYTES(sb, msgpack_pack_fix_uint8(pk, 5));
    kula_reader r;
    kula_reader_init(&r, sb.data, sb.size);
    (void)kula_r_uint(&r, UINT64_MAX);
    cr_assert_eq(kula_reader_finish(&r), KULA_ENONCANON);
    msgpack_sbuffer_destroy(&sb);

    MP_BYTES(sb, msgpack_pack_fix_int8(pk, 5));
    kula_reader_init(&r, sb.data, sb.size);
    (void)kula_r_int(&r, INT64_MIN, INT64_MAX);
    cr_assert_eq(kula_reader_finish(&r), KULA_ENONCANON);
    msgpack_sbuffer_destroy(&sb);

    MP_BYTES(sb, msgpack_pack_fix_int16(pk, -100));
    kula_reader_init(&r, sb.data, sb.size);
    (void)kula_r_int(&r, INT64_MIN, INT64_MAX);
    cr_assert_eq(kula_reader_finish(&r), KULA_ENONCANON);
    msgpack_sbuffer_destroy(&sb);

    MP_BYTES(sb, msgpack_pack_fix_uint64(pk, 70000));
    kula_reader_init(&r, sb.data, sb.size);
    (void)kula_r_uint(&r, UINT64_MAX);
    cr_assert_eq(kula_reader_finish(&r), KULA_ENONCANON);
    msgpack_sbuffer_destroy(&sb);

    /* msgpack-c's float and map are not Kula values. */
    MP_BYTES(sb, msgpack_pack_double(pk, 1.5));
    kula_reader_init(&r, sb.data, sb.size);
    const uint8_t *p;
    size_t n;
    kula_r_value(&r, &p, &n);
    cr_assert_eq(kula_reader_finish(&r), KULA_ETYPE);
    msgpack_sbuffer_destroy(&sb);

    MP_BYTES(sb, msgpack_pack_map(pk, 0));
    kula_reader_init(&r, sb.data, sb.size);
    kula_r_value(&r, &p, &n);
    cr_assert_eq(kula_reader_finish(&r), KULA_ETYPE);
    msgpack_sbuffer_destroy(&sb);
}

Test(codec, buf_append_and_reset)
{
    kula_buf b;
    kula_buf_init(&b);
    cr_assert_eq(b.len, 0);
    for (int i = 0; i < 1000; i++)
        kula_buf_append(&b, "abc", 3);
    cr_assert_eq(b.len, 3000);
    cr_assert_eq(b.err, 0);
    cr_assert_geq(b.cap, b.len);
    cr_assert(memcmp(b.data + 2997, "abc", 3) == 0);
    kula_buf_reset(&b);
    cr_assert_eq(b.len, 0);
    kula_buf_append(&b, "z", 1);
    cr_assert_eq(b.len, 1);
    cr_assert_eq(b.data[0], 'z');
    /* A sticky error makes appends no-ops. */
    b.err = KULA_ENOMEM;
    kula_buf_append(&b, "y", 1);
    cr_assert_eq(b.len, 1);
    kula_buf_free(&b);
    cr_assert_null(b.data);
    cr_assert_eq(b.len, 0);
}

/* ---- transaction bodies: version 1, and version 2 with an expiry ---- */

/* A transfer from 1 to 2 of 1500, memo "m", at `nonce`, with `expires`. */
static void tx_transfer(kula_tx *tx, uint64_t nonce, uint64_t expires)
{
    memset(tx, 0, sizeof(*tx));
    tx->kind = KULA_TX_TRANSFER;
    tx->from = 1;
    tx->nonce = nonce;
    tx->expires = expires;
    tx->memo.p = "m";
    tx->memo.n = 1;
    tx->u.transfer.to = 2;
    tx->u.transfer.amount = 1500;
    tx->nsigs = 1;
    tx->sigs[0].signer = 1;
    memset(tx->sigs[0].sig.b, 0x5a, KULA_SIG_LEN);
}

/* Encodes tx, checks the body's header, decodes and re-encodes it.
 * Out: *back, the decoded transaction, borrowing *bytes (caller frees). */
static void tx_round_trip(const kula_tx *tx, const char *body_head, kula_buf *bytes,
                          kula_tx *back)
{
    kula_buf_init(bytes);
    cr_assert_eq(kula_tx_encode(bytes, tx), 0);
    kula_buf head;
    kula_buf_init(&head);
    kula_buf_append(&head, bytes->data + 1, 2); /* after the outer array's header */
    expect_hex(&head, body_head);
    kula_buf_free(&head);
    uint8_t *exact = dup_exact(bytes->data, bytes->len);
    cr_assert_eq(kula_tx_decode(back, exact, bytes->len), 0);
    cr_assert_eq(back->nonce, tx->nonce);
    cr_assert_eq(back->expires, tx->expires);
    kula_buf again;
    kula_buf_init(&again);
    cr_assert_eq(kula_tx_encode(&again, back), 0);
    cr_assert(again.len == bytes->len && memcmp(again.data, bytes->data, again.len) == 0,
              "the decoded transaction re-encodes differently");
    kula_buf body;
    kula_buf_init(&body);
    cr_assert_eq(kula_tx_encode_body(&body, tx), 0);
    cr_assert(back->body_len == body.len && memcmp(back->body, body.data, body.len) == 0);
    kula_hash id;
    kula_hash_bytes(&id, body.data, body.len);
    cr_assert_eq(memcmp(id.b, back->id.b, KULA_HASH_LEN), 0, "the id is H(body)");
    kula_buf_free(&body);
    kula_buf_free(&again);
    /* back borrows the copy: point it at *bytes, which has the same bytes */
    cr_assert_eq(kula_tx_decode(back, bytes->data, bytes->len), 0);
    free(exact);
}

Test(codec, tx_body_versions_round_trip)
{
    kula_tx tx, back1, back2;
    kula_buf b1, b2;
    /* no expiry: version 1, six fields, exactly as before */
    tx_transfer(&tx, 5, 0);
    tx_round_trip(&tx, "96 01", &b1, &back1);
    /* an expiry: version 2, the expiry as the seventh field */
    tx_transfer(&tx, 5, UINT64_C(1736294400000));
    tx_round_trip(&tx, "97 02", &b2, &back2);
    cr_assert_eq(b2.len, b1.len + 9, "the expiry is a uint64 (cf + 8 bytes) after the memo");
    static const uint8_t expires[9] = { 0xcf, 0, 0, 0x01, 0x94, 0x43, 0x36, 0x00, 0x00 };
    cr_assert_eq(memcmp(back2.body + back2.body_len - 9, expires, 9), 0);
    cr_assert_neq(memcmp(back1.id.b, back2.id.b, KULA_HASH_LEN), 0, "another body, another id");
    kula_buf_free(&b1);
    kula_buf_free(&b2);
    /* unsequenced (nonce 0): the codec takes it, the ledger judges it */
    tx_transfer(&tx, 0, 1);
    tx_round_trip(&tx, "97 02", &b1, &back1);
    cr_assert_eq(back1.body[back1.body_len - 1], 0x01, "expires 1 as positive fixint");
    kula_buf_free(&b1);
    tx_transfer(&tx, 0, UINT64_MAX);
    tx_round_trip(&tx, "97 02", &b1, &back1);
    kula_buf_free(&b1);
    tx_transfer(&tx, 0, 0);
    tx_round_trip(&tx, "96 01", &b1, &back1);
    kula_buf_free(&b1);
}

/* A signed transfer whose body has `fields` fields: version, the five of
 * version 1 after it, then `expires` for each field beyond six.  Out:
 * *expires_out, the decoded expiry.  Returns: the decoder's result. */
static int decode_body_shape(uint64_t version, uint32_t fields, uint64_t expires,
                             uint64_t *expires_out)
{
    kula_buf b;
    kula_buf_init(&b);
    kula_writer w;
    kula_writer_init(&w, &b);
    kula_w_array(&w, 2);
    kula_w_array(&w, fields);
    kula_w_uint(&w, version);
    kula_w_uint(&w, KULA_TX_TRANSFER);
    kula_w_uint(&w, 1);
    kula_w_uint(&w, 5);
    kula_w_array(&w, 2);
    kula_w_uint(&w, 2);
    kula_w_int(&w, 1500);
    kula_w_str(&w, "m", 1);
    for (uint32_t i = 6; i < fields; i++)
        kula_w_uint(&w, expires);
    kula_w_array(&w, 1);
    kula_w_array(&w, 2);
    kula_w_uint(&w, 1);
    uint8_t sig[KULA_SIG_LEN] = { 0 };
    kula_w_bin(&w, sig, sizeof(sig));
    cr_assert_eq(b.err, 0);
    uint8_t *exact = dup_exact(b.data, b.len);
    kula_tx tx;
    int rc = kula_tx_decode(&tx, exact, b.len);
    *expires_out = tx.expires;
    free(exact);
    kula_buf_free(&b);
    return rc;
}

Test(codec, tx_body_version_refusals)
{
    uint64_t e;
    cr_assert_eq(decode_body_shape(1, 6, 0, &e), 0);
    cr_assert_eq(e, 0, "version 1 decodes without an expiry");
    cr_assert_eq(decode_body_shape(2, 7, 42, &e), 0);
    cr_assert_eq(e, 42);
    /* version 2 must carry an expiry, and it must not be 0: "none" is
     * version 1, so a transaction has one encoding */
    cr_assert_eq(decode_body_shape(2, 7, 0, &e), KULA_ERANGE);
    cr_assert_eq(e, 0, "a refused transaction is zeroed");
    cr_assert_eq(decode_body_shape(2, 6, 0, &e), KULA_EARITY);
    cr_assert_eq(decode_body_shape(2, 8, 42, &e), KULA_EARITY);
    cr_assert_eq(decode_body_shape(1, 7, 42, &e), KULA_EARITY);
    cr_assert_eq(decode_body_shape(1, 5, 0, &e), KULA_EARITY);
    /* an unknown version is named as such, whatever its field count */
    cr_assert_eq(decode_body_shape(3, 7, 42, &e), KULA_EVERSION);
    cr_assert_eq(decode_body_shape(3, 8, 42, &e), KULA_EVERSION);
    cr_assert_eq(decode_body_shape(0, 6, 0, &e), KULA_EVERSION);
    cr_assert_eq(decode_body_shape(UINT64_MAX, 6, 0, &e), KULA_EVERSION);
}

/* kula_bin_header is the header kula_w_bin writes, at every form's edges. */
Test(codec, bin_header_matches_the_writer)
{
    static const uint32_t sizes[] = { 0, 1, 255, 256, 65535, 65536, 70000 };
    uint8_t *payload = calloc(1, 70000);
    cr_assert_not_null(payload);
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        kula_buf b;
        kula_buf_init(&b);
        kula_writer w;
        kula_writer_init(&w, &b);
        kula_w_bin(&w, payload, sizes[k]);
        cr_assert_eq(b.err, 0);
        uint8_t h[5];
        size_t n = kula_bin_header(h, sizes[k]);
        cr_assert_eq(b.len, n + sizes[k], "size %u", sizes[k]);
        cr_assert_arr_eq(b.data, h, n, "size %u", sizes[k]);
        kula_buf_free(&b);
    }
    free(payload);
}

/* kula_buf_reserve makes room without changing the length, and fails
 * sticky as kula_buf_append does. */
Test(codec, buf_reserve)
{
    kula_buf b;
    kula_buf_init(&b);
    kula_buf_append(&b, "ab", 2);
    cr_assert(kula_buf_reserve(&b, 1000));
    cr_assert_eq(b.len, 2);
    cr_assert_geq(b.cap, 1002);
    memcpy(b.data + b.len, "cd", 2);
    b.len += 2;
    cr_assert_arr_eq(b.data, "abcd", 4);
    cr_assert_not(kula_buf_reserve(&b, SIZE_MAX));
    cr_assert_eq(b.err, KULA_ENOMEM);
    cr_assert_not(kula_buf_reserve(&b, 1));
    kula_buf_free(&b);
}

/* Two readers over the same input, both failed already if `failed`. */
static void reader_pair(kula_reader *a, kula_reader *b, const uint8_t *in, size_t len,
                        bool failed)
{
    kula_reader_init(a, in, len);
    kula_reader_init(b, in, len);
    if (failed) {
        kula_reader_fail(a, KULA_ETYPE);
        kula_reader_fail(b, KULA_ETYPE);
    }
}

/* The inline kula_r_array and kula_r_uint take the one-byte forms
 * themselves and hand the rest to kula_r_array_any and kula_r_uint_any.
 * For every first byte, every length of input after it (0 to 17 bytes, so
 * that a fixarray's early bound is met and missed), bounds at the forms'
 * edges, and a reader already failed or not: both give the same value,
 * error and position. */
Test(codec, inline_readers_agree_with_the_full_ones)
{
    uint8_t in[18];
    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (uint8_t)(0x01 + i); /* positive fixints: elements of a byte */
    const uint64_t umax[] = { 0, 1, 0x7e, 0x7f, 0x80, 0xff, UINT64_MAX };
    const uint32_t amax[] = { 0, 1, 7, 14, 15, 16, UINT32_MAX };
    size_t checked = 0;
    for (unsigned t = 0; t <= 0xff; t++) {
        in[0] = (uint8_t)t;
        for (size_t len = 0; len <= sizeof(in); len++) {
            for (int failed = 0; failed <= 1; failed++) {
                for (size_t m = 0; m < sizeof(umax) / sizeof(umax[0]); m++) {
                    kula_reader a, b;
                    reader_pair(&a, &b, in, len, failed);
                    uint64_t va = kula_r_uint(&a, umax[m]), vb = kula_r_uint_any(&b, umax[m]);
                    cr_assert(va == vb && a.err == b.err && a.p == b.p,
                              "uint: byte 0x%02x, %zu bytes, max %llu, failed %d", t, len,
                              (unsigned long long)umax[m], failed);
                    reader_pair(&a, &b, in, len, failed);
                    uint32_t na = kula_r_array(&a, amax[m]), nb = kula_r_array_any(&b, amax[m]);
                    cr_assert(na == nb && a.err == b.err && a.p == b.p,
                              "array: byte 0x%02x, %zu bytes, max %u, failed %d", t, len,
                              amax[m], failed);
                    checked++;
                }
            }
        }
    }
    cr_assert_eq(checked, 256u * 19u * 2u * 7u);
}
