/* clearing_csv.c -- obligations read from CSV for the clearing solver
 * (include/kula/audit/clearing_csv.h, proto/SPEC.md §14.5). */
#include "kula/audit/clearing_csv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kula/crypto/crypto.h"

#define HEADER "id,debtor,creditor,amount"
/* The longest field worth quoting back in a message. */
#define SHOWN 24

/* A field of the current row: text p[0..n). */
typedef struct field {
    const char *p;
    size_t n;
} field;

/* Fills e for row `row` and returns code. */
static int row_error(kula_error *e, int code, size_t row, const char *fmt, const char *name,
                     field f, const char *todo)
{
    char shown[SHOWN + 4];
    size_t k = f.n < SHOWN ? f.n : SHOWN;
    for (size_t i = 0; i < k; i++) /* what the message quotes stays printable */
        shown[i] = (f.p[i] >= 0x20 && f.p[i] < 0x7f) ? f.p[i] : '?';
    memcpy(shown + k, f.n > SHOWN ? "..." : "", f.n > SHOWN ? 4 : 1);
    char what[160];
    snprintf(what, sizeof(what), fmt, name, shown);
    kula_error_set(e, code, "row %zu: %s: %s", row, what, todo);
    if (e != NULL)
        e->tx_index = row <= INT32_MAX ? (int32_t)row : -1;
    return code;
}

/* Parses a decimal of at most `max`, digits only.
 * Returns: 0, KULA_EINVAL (not digits), KULA_EOVERFLOW (> max). */
static int parse_dec(uint64_t *out, field f, uint64_t max)
{
    if (f.n == 0)
        return KULA_EINVAL;
    for (size_t i = 0; i < f.n; i++)
        if (f.p[i] < '0' || f.p[i] > '9')
            return KULA_EINVAL;
    uint64_t v = 0;
    for (size_t i = 0; i < f.n; i++) {
        unsigned d = (unsigned)(f.p[i] - '0');
        if (v > (max - d) / 10)
            return KULA_EOVERFLOW;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static bool all_digits(field f)
{
    for (size_t i = 0; i < f.n; i++)
        if (f.p[i] < '0' || f.p[i] > '9')
            return false;
    return f.n > 0;
}

static int parse_id(kula_hash *id, bool *hex, field f)
{
    memset(id, 0, sizeof(*id));
    if (f.n == 2 * KULA_HASH_LEN) { /* 64 characters are hex, even all digits */
        char text[2 * KULA_HASH_LEN + 1];
        memcpy(text, f.p, f.n);
        text[f.n] = '\0';
        *hex = true;
        return kula_hex_decode(id->b, KULA_HASH_LEN, text) == 0 ? 0 : KULA_EINVAL;
    }
    uint64_t v;
    int rc = parse_dec(&v, f, UINT64_MAX);
    if (rc != 0)
        return rc;
    for (int i = 0; i < 8; i++)
        id->b[KULA_HASH_LEN - 1 - i] = (uint8_t)(v >> (8 * i));
    *hex = false;
    return 0;
}

/* Splits line[0..n) at commas into at most 5 fields.  Returns: the count. */
static size_t split(field *fs, const char *line, size_t n)
{
    size_t k = 0, start = 0;
    for (size_t i = 0; i <= n; i++)
        if (i == n || line[i] == ',') {
            if (k < 5)
                fs[k] = (field){ line + start, i - start };
            k++;
            start = i + 1;
        }
    return k;
}

/* Parses one data row into o.  Returns: 0 or the error (e filled). */
static int parse_row(kula_obligation *o, bool *hex, kula_error *e, size_t row, const char *line,
                     size_t n)
{
    field fs[5];
    size_t k = split(fs, line, n);
    if (k != 4) {
        char what[96];
        snprintf(what, sizeof(what), "%zu field%s", k, k == 1 ? "" : "s");
        return row_error(e, KULA_EINVAL, row, "expected 4 fields (%s), found %s", HEADER,
                         (field){ what, strlen(what) },
                         "write id,debtor,creditor,amount with commas and nothing else");
    }
    int rc = parse_id(&o->id, hex, fs[0]);
    if (rc != 0)
        return row_error(e, rc, row, "%s '%s' is not an id", "id", fs[0],
                         "give a whole number from 0 to 18446744073709551615, or 64 hex digits");
    static const char *const names[2] = { "debtor", "creditor" };
    uint32_t *who[2] = { &o->debtor, &o->creditor };
    for (int j = 0; j < 2; j++) {
        uint64_t v;
        rc = parse_dec(&v, fs[1 + j], UINT32_MAX);
        if (rc != 0)
            return row_error(e, rc, row, "%s '%s' is not a member number", names[j], fs[1 + j],
                             "give a whole number from 0 to 4294967295");
        *who[j] = (uint32_t)v;
    }
    field a = fs[3];
    if (a.n > 0 && a.p[0] == '-' && a.n > 1 && all_digits((field){ a.p + 1, a.n - 1 }))
        return row_error(e, KULA_EAMOUNT, row, "%s '%s' is negative", "amount", a,
                         "give what the debtor still owes in minor units, 0 or more");
    uint64_t v;
    rc = parse_dec(&v, a, INT64_MAX);
    if (rc == KULA_EOVERFLOW)
        return row_error(e, rc, row, "%s '%s' is too large", "amount", a,
                         "at most 9223372036854775807 minor units");
    if (rc != 0)
        return row_error(e, rc, row, "%s '%s' is not a whole number", "amount", a,
                         "give minor units (cents for a unit with 2 decimals), digits only");
    o->amount = (int64_t)v;
    if (o->debtor == o->creditor) {
        char who_s[16];
        snprintf(who_s, sizeof(who_s), "%u", o->debtor);
        return row_error(e, KULA_ESELF, row, "%s %s owes itself", "member",
                         (field){ who_s, strlen(who_s) },
                         "an obligation's debtor and creditor must be different members");
    }
    return 0;
}

int kula_clearing_csv_read(kula_clearing_csv *out, kula_error *e, const char *buf, size_t len)
{
    kula_clearing_csv in = { 0 };
    size_t cap = 0, row = 0, pos = 0;
    int rc = 0;
    while (pos < len) {
        const char *line = buf + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t n = nl != NULL ? (size_t)(nl - line) : len - pos;
        pos += n + (nl != NULL);
        if (n > 0 && line[n - 1] == '\r')
            n--;
        row++;
        if (row == 1) {
            if (n != strlen(HEADER) || memcmp(line, HEADER, n) != 0) {
                rc = row_error(e, KULA_EINVAL, 1, "expected the header '%s', found '%s'", HEADER,
                               (field){ line, n }, "start the file with that line");
                goto fail;
            }
            continue;
        }
        if (n == 0) {
            rc = row_error(e, KULA_EINVAL, row, "%s%s", "the row is empty", (field){ "", 0 },
                           "remove empty lines");
            goto fail;
        }
        if (in.n == KULA_CLEARING_MAX_OBLIGATIONS) {
            char max[16];
            snprintf(max, sizeof(max), "%u", KULA_CLEARING_MAX_OBLIGATIONS);
            rc = row_error(e, KULA_ETOOBIG, row, "%s %s obligations", "more than",
                           (field){ max, strlen(max) },
                           "one clearing takes at most that many: clear a part at a time");
            goto fail;
        }
        if (in.n == cap) {
            size_t ncap = cap == 0 ? 1024 : 2 * cap;
            kula_obligation *o = realloc(in.obs, ncap * sizeof(*o));
            if (o != NULL)
                in.obs = o;
            bool *h = realloc(in.hex, ncap * sizeof(*h));
            if (h != NULL)
                in.hex = h;
            if (o == NULL || h == NULL) {
                rc = kula_error_set(e, KULA_ENOMEM, "out of memory at row %zu", row);
                goto fail;
            }
            cap = ncap;
        }
        rc = parse_row(&in.obs[in.n], &in.hex[in.n], e, row, line, n);
        if (rc != 0)
            goto fail;
        in.n++;
    }
    if (row == 0) {
        rc = row_error(e, KULA_EINVAL, 1, "expected the header '%s', found '%s'", HEADER,
                       (field){ "", 0 }, "the file is empty");
        goto fail;
    }
    *out = in;
    return 0;
fail:
    kula_clearing_csv_free(&in);
    return rc;
}

int kula_clearing_csv_explain(kula_error *e, const kula_clearing_csv *in)
{
    if (e->tx_index < 0 || (size_t)e->tx_index >= in->n)
        return e->code;
    size_t b = (size_t)e->tx_index;
    if (e->code == KULA_EEXIST) {
        size_t a = 0;
        while (a < b && memcmp(in->obs[a].id.b, in->obs[b].id.b, KULA_HASH_LEN) != 0)
            a++;
        char id[2 * KULA_HASH_LEN + 1];
        kula_clearing_csv_id(id, sizeof(id), in, b);
        kula_error_set(e, KULA_EEXIST,
                       "row %zu: id %s is already the id of row %zu: give each obligation its own id",
                       b + 2, id, a + 2);
        e->tx_index = (int32_t)(b + 2);
        return e->code;
    }
    char what[sizeof(e->what)];
    snprintf(what, sizeof(what), "%s", e->what);
    int code = e->code;
    kula_error_set(e, code, "row %zu: %s", b + 2, what);
    e->tx_index = (int32_t)(b + 2);
    return code;
}

int kula_clearing_csv_id(char *buf, size_t cap, const kula_clearing_csv *in, size_t i)
{
    const uint8_t *b = in->obs[i].id.b;
    if (in->hex[i]) {
        if (cap < 2 * KULA_HASH_LEN + 1)
            return snprintf(buf, cap, "?");
        kula_hex_encode(buf, b, KULA_HASH_LEN);
        return 2 * KULA_HASH_LEN;
    }
    uint64_t v = 0;
    for (int k = KULA_HASH_LEN - 8; k < KULA_HASH_LEN; k++)
        v = v << 8 | b[k];
    return snprintf(buf, cap, "%llu", (unsigned long long)v);
}

void kula_clearing_csv_free(kula_clearing_csv *in)
{
    free(in->obs);
    free(in->hex);
    memset(in, 0, sizeof(*in));
}
