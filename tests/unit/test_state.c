/* test_state.c -- the state overlay: reads and writes, per-transaction
 * rollback, the sorted per-block diff, block ends with and without a base
 * reader, discarding a block, and table growth. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kula/codec/codec.h"
#include "kula/crypto/crypto.h"
#include "kula/base/error.h"
#include "kula/ledger/state.h"
#include "kula/store/store.h"

static void setup(void) { cr_assert_eq(kula_crypto_init(), 0); }

TestSuite(state, .init = setup);

/* ---- helpers ---- */

static kula_state *new_state(void)
{
    kula_state *st = NULL;
    cr_assert_eq(kula_state_new(&st, NULL, NULL), 0);
    cr_assert_not_null(st);
    return st;
}

static void put_s(kula_state *st, const char *k, const char *v)
{
    int rc = kula_state_put(st, (const uint8_t *)k, strlen(k), (const uint8_t *)v,
                            v != NULL ? strlen(v) : 0);
    cr_assert_eq(rc, 0, "put %s: %s", k, kula_errname(rc));
}

/* Requires key k to hold v (NULL: absent). */
static void expect_s(kula_state *st, const char *k, const char *v)
{
    const uint8_t *p = (const uint8_t *)"junk";
    size_t n = 99;
    int rc = kula_state_get(st, (const uint8_t *)k, strlen(k), &p, &n);
    if (v == NULL) {
        cr_assert_eq(rc, KULA_ENOTFOUND, "%s: want absent, got %s", k, kula_errname(rc));
        cr_assert_null(p);
        cr_assert_eq(n, 0);
        return;
    }
    cr_assert_eq(rc, 0, "%s: want \"%s\", got %s", k, v, kula_errname(rc));
    cr_assert(n == strlen(v) && memcmp(p, v, n) == 0, "%s: want \"%s\", got \"%.*s\"", k, v,
              (int)n, (const char *)p);
}

/* The diff rendered as "key=value;" (value "-" for a deletion), keys and
 * values printable here. */
static const char *diff_str(kula_state *st)
{
    static char out[4096];
    const kula_state_write *w;
    size_t n;
    cr_assert_eq(kula_state_diff(st, &w, &n), 0);
    size_t at = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        at += (size_t)snprintf(out + at, sizeof(out) - at, "%.*s=%.*s;", (int)w[i].klen,
                               (const char *)w[i].key, w[i].val ? (int)w[i].vlen : 1,
                               w[i].val ? (const char *)w[i].val : "-");
    return out;
}

static size_t diff_count(kula_state *st)
{
    const kula_state_write *w;
    size_t n;
    cr_assert_eq(kula_state_diff(st, &w, &n), 0);
    return n;
}

/* Bytewise key order, a prefix before its extensions: the reference. */
static int key_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    size_t n = an < bn ? an : bn;
    int c = n ? memcmp(a, b, n) : 0;
    if (c != 0)
        return c;
    return an < bn ? -1 : an > bn;
}

/* ---- a fake base reader: an in-memory committed state with counters ---- */

#define FB_MAX 64

typedef struct fake_base {
    struct {
        uint8_t key[32];
        size_t klen;
        uint8_t val[64];
        size_t vlen;
        bool present;
        unsigned reads;
    } e[FB_MAX];
    size_t n;
    unsigned calls;
    int fail_rc;           /* returned for key "bad" */
} fake_base;

static size_t fb_find(fake_base *fb, const uint8_t *key, size_t klen, bool create)
{
    for (size_t i = 0; i < fb->n; i++)
        if (fb->e[i].klen == klen && memcmp(fb->e[i].key, key, klen) == 0)
            return i;
    if (!create)
        return SIZE_MAX;
    cr_assert_lt(fb->n, FB_MAX);
    cr_assert_leq(klen, sizeof(fb->e[0].key));
    memcpy(fb->e[fb->n].key, key, klen);
    fb->e[fb->n].klen = klen;
    fb->e[fb->n].present = false;
    fb->e[fb->n].reads = 0;
    return fb->n++;
}

static int fb_read(void *ctx, const uint8_t *key, size_t klen, kula_buf *out)
{
    fake_base *fb = ctx;
    fb->calls++;
    if (fb->fail_rc != 0 && klen == 3 && memcmp(key, "bad", 3) == 0)
        return fb->fail_rc;
    size_t i = fb_find(fb, key, klen, true);
    fb->e[i].reads++;
    if (!fb->e[i].present)
        return KULA_ENOTFOUND;
    kula_buf_append(out, fb->e[i].val, fb->e[i].vlen);
    return out->err;
}

static void fb_set(fake_base *fb, const char *k, const char *v)
{
    size_t i = fb_find(fb, (const uint8_t *)k, strlen(k), true);
    fb->e[i].present = v != NULL;
    fb->e[i].vlen = v != NULL ? strlen(v) : 0;
    if (v != NULL)
        memcpy(fb->e[i].val, v, strlen(v));
}

static unsigned fb_reads(fake_base *fb, const char *k)
{
    size_t i = fb_find(fb, (const uint8_t *)k, strlen(k), false);
    return i == SIZE_MAX ? 0 : fb->e[i].reads;
}

/* What the store does with a block's diff. */
static void fb_apply_diff(fake_base *fb, kula_state *st)
{
    const kula_state_write *w;
    size_t n;
    cr_assert_eq(kula_state_diff(st, &w, &n), 0);
    for (size_t i = 0; i < n; i++) {
        size_t j = fb_find(fb, w[i].key, w[i].klen, true);
        fb->e[j].present = w[i].val != NULL;
        fb->e[j].vlen = w[i].vlen;
        if (w[i].val != NULL) {
            cr_assert_leq(w[i].vlen, sizeof(fb->e[j].val));
            memcpy(fb->e[j].val, w[i].val, w[i].vlen);
        }
    }
}

/* ---- get / put / delete ---- */

Test(state, get_put_delete)
{
    kula_state *st = new_state();
    expect_s(st, "a", NULL);
    put_s(st, "a", "1");
    expect_s(st, "a", "1");
    put_s(st, "a", "22");
    expect_s(st, "a", "22");
    put_s(st, "b", "x");
    expect_s(st, "b", "x");
    expect_s(st, "a", "22");
    put_s(st, "a", NULL);
    expect_s(st, "a", NULL);
    expect_s(st, "b", "x");
    /* An empty value is a present value, not a deletion. */
    cr_assert_eq(kula_state_put(st, (const uint8_t *)"e", 1, (const uint8_t *)"", 0), 0);
    const uint8_t *p = NULL;
    size_t n = 5;
    cr_assert_eq(kula_state_get(st, (const uint8_t *)"e", 1, &p, &n), 0);
    cr_assert_eq(n, 0);
    cr_assert_not_null(p);
    /* Deleting a key that never existed is a no-op in the diff. */
    put_s(st, "never", NULL);
    cr_assert_str_eq(diff_str(st), "b=x;e=;");
    kula_state_free(st);
}

Test(state, binary_keys_and_values)
{
    kula_state *st = new_state();
    const uint8_t k1[] = { 0, 0, 1 }, k2[] = { 0, 0 }, v[] = { 0, 0xff, 0 };
    cr_assert_eq(kula_state_put(st, k1, 3, v, 3), 0);
    const uint8_t *p;
    size_t n;
    cr_assert_eq(kula_state_get(st, k2, 2, &p, &n), KULA_ENOTFOUND);
    cr_assert_eq(kula_state_get(st, k1, 3, &p, &n), 0);
    cr_assert(n == 3 && memcmp(p, v, 3) == 0);
    kula_state_free(st);
}

/* ---- transactions ---- */

/* A baseline block with a=1, b=2, then a block in progress with a=10. */
static kula_state *baseline(void)
{
    kula_state *st = new_state();
    put_s(st, "a", "1");
    put_s(st, "b", "2");
    kula_state_end_block(st);
    cr_assert_eq(diff_count(st), 0);
    put_s(st, "a", "10");
    return st;
}

Test(state, rollback_restores_exactly)
{
    kula_state *st = baseline();
    kula_state_tx_begin(st);
    put_s(st, "a", "11");     /* changed (already touched in the block) */
    put_s(st, "a", "12");     /* twice */
    put_s(st, "b", NULL);     /* deleted */
    put_s(st, "c", "3");      /* created */
    put_s(st, "d", "4");      /* created ... */
    put_s(st, "d", NULL);     /* ... then deleted */
    put_s(st, "b", "again");  /* deleted then recreated */
    expect_s(st, "a", "12");
    expect_s(st, "b", "again");
    expect_s(st, "c", "3");
    kula_state_tx_rollback(st);
    expect_s(st, "a", "10");
    expect_s(st, "b", "2");
    expect_s(st, "c", NULL);
    expect_s(st, "d", NULL);
    cr_assert_str_eq(diff_str(st), "a=10;");

    /* A deletion alone, rolled back. */
    kula_state_tx_begin(st);
    put_s(st, "b", NULL);
    expect_s(st, "b", NULL);
    kula_state_tx_rollback(st);
    expect_s(st, "b", "2");
    cr_assert_str_eq(diff_str(st), "a=10;");

    /* Rolled-back keys are not in the diff at the end of the block, and
     * the next block starts from the baseline values. */
    kula_state_end_block(st);
    expect_s(st, "a", "10");
    expect_s(st, "b", "2");
    expect_s(st, "c", NULL);
    cr_assert_eq(diff_count(st), 0);
    kula_state_free(st);
}

Test(state, commit_keeps_and_later_rollback_stops_at_it)
{
    kula_state *st = baseline();
    kula_state_tx_begin(st);
    put_s(st, "b", "20");
    put_s(st, "c", "30");
    kula_state_tx_commit(st);
    expect_s(st, "b", "20");
    expect_s(st, "c", "30");
    cr_assert_str_eq(diff_str(st), "a=10;b=20;c=30;");

    kula_state_tx_begin(st);
    put_s(st, "b", "21");
    put_s(st, "c", NULL);
    put_s(st, "z", "new");
    kula_state_tx_rollback(st);
    expect_s(st, "b", "20");
    expect_s(st, "c", "30");
    expect_s(st, "z", NULL);
    cr_assert_str_eq(diff_str(st), "a=10;b=20;c=30;");

    /* A committed change set back to the block-start value leaves the diff. */
    kula_state_tx_begin(st);
    put_s(st, "b", "2");
    kula_state_tx_commit(st);
    cr_assert_str_eq(diff_str(st), "a=10;c=30;");
    kula_state_free(st);
}

Test(state, rollback_without_changes_and_empty_tx)
{
    kula_state *st = baseline();
    kula_state_tx_begin(st);
    kula_state_tx_rollback(st);
    kula_state_tx_begin(st);
    kula_state_tx_commit(st);
    expect_s(st, "a", "10");
    cr_assert_str_eq(diff_str(st), "a=10;");
    /* Reads inside a transaction are not writes. */
    kula_state_tx_begin(st);
    expect_s(st, "b", "2");
    expect_s(st, "q", NULL);
    kula_state_tx_rollback(st);
    cr_assert_str_eq(diff_str(st), "a=10;");
    kula_state_free(st);
}

Test(state, many_transactions_in_one_block)
{
    /* Alternate commit and rollback over the same keys; the model is what
     * the committed transactions wrote. */
    kula_state *st = new_state();
    char model[10][16];
    bool have[10] = { false };
    for (int t = 0; t < 200; t++) {
        kula_state_tx_begin(st);
        char saved[10][16];
        bool saved_have[10];
        memcpy(saved, model, sizeof(model));
        memcpy(saved_have, have, sizeof(have));
        for (int j = 0; j < 3; j++) {
            int k = (t * 7 + j * 3) % 10;
            char key[8];
            snprintf(key, sizeof(key), "k%d", k);
            if ((t + j) % 4 == 0) {
                put_s(st, key, NULL);
                have[k] = false;
            } else {
                snprintf(model[k], sizeof(model[k]), "v%d.%d", t, j);
                put_s(st, key, model[k]);
                have[k] = true;
            }
        }
        if (t % 3 == 0) {
            kula_state_tx_rollback(st);
            memcpy(model, saved, sizeof(model));
            memcpy(have, saved_have, sizeof(have));
        } else {
            kula_state_tx_commit(st);
        }
        for (int k = 0; k < 10; k++) {
            char key[8];
            snprintf(key, sizeof(key), "k%d", k);
            expect_s(st, key, have[k] ? model[k] : NULL);
        }
    }
    size_t present = 0;
    for (int k = 0; k < 10; k++)
        present += have[k];
    cr_assert_eq(diff_count(st), present);
    kula_state_free(st);
}

/* ---- the diff ---- */

Test(state, diff_sorted_bytewise_prefix_first)
{
    kula_state *st = new_state();
    /* Inserted out of order; the empty key and 0x00 / 0xff bytes included. */
    static const struct { const char *k; size_t n; } keys[] = {
        { "b", 1 }, { "ab", 2 }, { "\xff", 1 }, { "a\0", 2 }, { "", 0 },
        { "a", 1 }, { "\0", 1 }, { "abc", 3 }, { "B", 1 }, { "a\xff", 2 },
    };
    size_t nk = sizeof(keys) / sizeof(keys[0]);
    for (size_t i = 0; i < nk; i++) {
        uint8_t v = (uint8_t)i;
        cr_assert_eq(kula_state_put(st, (const uint8_t *)keys[i].k, keys[i].n, &v, 1), 0);
    }
    const kula_state_write *w;
    size_t n;
    cr_assert_eq(kula_state_diff(st, &w, &n), 0);
    cr_assert_eq(n, nk);
    /* "" < "\0" < "B" < "a" < "a\0" < "ab" < "abc" < "a\xff" < "b" < "\xff":
     * unsigned bytes, a prefix before its extensions. */
    static const struct { const char *k; size_t n; uint8_t v; } want[] = {
        { "", 0, 4 }, { "\0", 1, 6 }, { "B", 1, 8 }, { "a", 1, 5 }, { "a\0", 2, 3 },
        { "ab", 2, 1 }, { "abc", 3, 7 }, { "a\xff", 2, 9 }, { "b", 1, 0 }, { "\xff", 1, 2 },
    };
    for (size_t i = 0; i < nk; i++) {
        cr_assert_eq(w[i].klen, want[i].n, "entry %zu: key length %zu", i, w[i].klen);
        cr_assert(want[i].n == 0 || memcmp(w[i].key, want[i].k, want[i].n) == 0,
                  "entry %zu: wrong key", i);
        cr_assert_eq(w[i].vlen, 1);
        cr_assert_eq(w[i].val[0], want[i].v, "entry %zu: value %u", i, w[i].val[0]);
    }
    kula_state_free(st);
}

/* Many keys, with long shared prefixes, zero bytes and every length up to
 * 40: the diff comes out strictly ascending bytewise (the sort decides by
 * 16-byte prefixes first) and holds every key once. */
Test(state, diff_sorted_many_keys)
{
    kula_state *st = new_state();
    uint64_t x = 88172645463325252ull;
    enum { N = 5000 };
    size_t puts = 0;
    for (int i = 0; i < N; i++) {
        uint8_t key[40];
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t klen = (size_t)(x % 41);
        /* a few shapes: a shared 20-byte prefix, runs of zeros, random */
        for (size_t j = 0; j < klen; j++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            switch (i % 4) {
            case 0: key[j] = j < 20 ? 'p' : (uint8_t)(x & 3); break;
            case 1: key[j] = (uint8_t)(x % 3 == 0 ? 0 : x & 0xff); break;
            case 2: key[j] = (uint8_t)(x & 1); break;
            default: key[j] = (uint8_t)(x >> 8); break;
            }
        }
        uint8_t v = (uint8_t)i;
        cr_assert_eq(kula_state_put(st, key, klen, &v, 1), 0);
        puts++;
    }
    const kula_state_write *w;
    size_t n;
    cr_assert_eq(kula_state_diff(st, &w, &n), 0);
    cr_assert_gt(n, N / 2, "%zu distinct keys", n);
    cr_assert_eq(n, kula_state_size(st), "every key once");
    for (size_t i = 1; i < n; i++) {
        size_t m = w[i - 1].klen < w[i].klen ? w[i - 1].klen : w[i].klen;
        int c = m ? memcmp(w[i - 1].key, w[i].key, m) : 0;
        cr_assert(c < 0 || (c == 0 && w[i - 1].klen < w[i].klen),
                  "entries %zu and %zu out of order", i - 1, i);
    }
    kula_state_free(st);
}

Test(state, diff_only_changed_since_block_start)
{
    kula_state *st = new_state();
    put_s(st, "keep", "1");
    put_s(st, "chg", "1");
    put_s(st, "del", "1");
    put_s(st, "back", "1");
    put_s(st, "delback", "1");
    kula_state_end_block(st);

    expect_s(st, "keep", "1");     /* read only */
    put_s(st, "chg", "2");
    put_s(st, "del", NULL);
    put_s(st, "back", "2");
    put_s(st, "back", "1");        /* back to the original value */
    put_s(st, "delback", NULL);
    put_s(st, "delback", "1");     /* deleted, then restored */
    put_s(st, "tmp", "x");
    put_s(st, "tmp", NULL);        /* created and deleted within the block */
    put_s(st, "same", NULL);       /* absent, deleted */
    put_s(st, "new", "n");
    cr_assert_str_eq(diff_str(st), "chg=2;del=-;new=n;");

    /* The same value written outside and inside transactions. */
    kula_state_tx_begin(st);
    put_s(st, "keep", "1");
    kula_state_tx_commit(st);
    cr_assert_str_eq(diff_str(st), "chg=2;del=-;new=n;");
    kula_state_end_block(st);
    cr_assert_str_eq(diff_str(st), "");
    expect_s(st, "chg", "2");
    expect_s(st, "del", NULL);
    expect_s(st, "new", "n");
    expect_s(st, "back", "1");
    kula_state_free(st);
}

Test(state, diff_value_length_change_same_prefix)
{
    /* "1" -> "10" differs only in length: it must be in the diff. */
    kula_state *st = new_state();
    put_s(st, "k", "1");
    kula_state_end_block(st);
    put_s(st, "k", "10");
    cr_assert_str_eq(diff_str(st), "k=10;");
    put_s(st, "k", "");
    cr_assert_str_eq(diff_str(st), "k=;");
    kula_state_free(st);
}

/* ---- end of block and discard ---- */

Test(state, end_block_in_memory_keeps_values_drops_deletions)
{
    kula_state *st = new_state();
    for (int i = 0; i < 10; i++) {
        char k[8];
        snprintf(k, sizeof(k), "k%d", i);
        put_s(st, k, "v");
    }
    kula_state_end_block(st);
    cr_assert_eq(kula_state_size(st), 10);
    for (int i = 0; i < 10; i += 2) {
        char k[8];
        snprintf(k, sizeof(k), "k%d", i);
        put_s(st, k, NULL);
    }
    cr_assert_eq(diff_count(st), 5);
    kula_state_end_block(st);
    cr_assert_eq(kula_state_size(st), 5, "deleted keys stay cached: %zu", kula_state_size(st));
    cr_assert_eq(diff_count(st), 0);
    for (int i = 0; i < 10; i++) {
        char k[8];
        snprintf(k, sizeof(k), "k%d", i);
        expect_s(st, k, i % 2 ? "v" : NULL);
    }
    kula_state_free(st);
}

Test(state, discard_throws_block_away)
{
    kula_state *st = baseline();   /* a=10 in progress over a=1, b=2 */
    put_s(st, "b", NULL);
    put_s(st, "c", "3");
    kula_state_tx_begin(st);       /* discard also ends an open transaction */
    put_s(st, "a", "99");
    put_s(st, "d", "4");
    kula_state_discard(st);
    expect_s(st, "a", "1");
    expect_s(st, "b", "2");
    expect_s(st, "c", NULL);
    expect_s(st, "d", NULL);
    cr_assert_str_eq(diff_str(st), "");
    /* The state works normally afterwards. */
    put_s(st, "a", "5");
    kula_state_tx_begin(st);
    put_s(st, "b", "6");
    kula_state_tx_rollback(st);
    cr_assert_str_eq(diff_str(st), "a=5;");
    kula_state_end_block(st);
    expect_s(st, "a", "5");
    expect_s(st, "b", "2");
    kula_state_free(st);
}

Test(state, discard_after_committed_transactions)
{
    kula_state *st = baseline();
    kula_state_tx_begin(st);
    put_s(st, "b", "7");           /* first touched inside a transaction */
    kula_state_tx_commit(st);
    put_s(st, "b", "8");
    kula_state_discard(st);
    expect_s(st, "a", "1");
    expect_s(st, "b", "2");
    cr_assert_eq(diff_count(st), 0);
    kula_state_free(st);
}

/* ---- base reader ---- */

Test(state, base_read_once_per_key_per_block)
{
    fake_base fb;
    memset(&fb, 0, sizeof(fb));
    fb_set(&fb, "a", "base-a");
    fb_set(&fb, "b", "base-b");
    kula_state *st = NULL;
    cr_assert_eq(kula_state_new(&st, fb_read, &fb), 0);

    for (int i = 0; i < 5; i++) {
        expect_s(st, "a", "base-a");
        expect_s(st, "missing", NULL);
    }
    cr_assert_eq(fb_reads(&fb, "a"), 1);
    cr_assert_eq(fb_reads(&fb, "missing"), 1, "a missing key is cached too");
    put_s(st, "b", "new-b");       /* a write loads the old value once ... */
    expect_s(st, "b", "new-b");    /* ... and reads then see the overlay */
    kula_state_tx_begin(st);
    put_s(st, "b", "tx-b");
    kula_state_tx_rollback(st);
    expect_s(st, "b", "new-b");
    cr_assert_eq(fb_reads(&fb, "b"), 1);
    put_s(st, "c", "new-c");
    cr_assert_str_eq(diff_str(st), "b=new-b;c=new-c;");
    cr_assert_eq(fb.calls, 4);

    /* End of block: the store takes the diff, the cache is dropped and the
     * next block reads through again, once per key. */
    fb_apply_diff(&fb, st);
    kula_state_end_block(st);
    cr_assert_eq(kula_state_size(st), 0);
    cr_assert_str_eq(diff_str(st), "");
    expect_s(st, "b", "new-b");
    expect_s(st, "b", "new-b");
    expect_s(st, "c", "new-c");
    expect_s(st, "a", "base-a");
    cr_assert_eq(fb_reads(&fb, "b"), 2);
    cr_assert_eq(fb_reads(&fb, "a"), 2);

    /* A deletion against the base shows in the diff as nil. */
    put_s(st, "a", NULL);
    cr_assert_str_eq(diff_str(st), "a=-;");
    fb_apply_diff(&fb, st);
    kula_state_end_block(st);
    expect_s(st, "a", NULL);
    cr_assert_eq(fb_reads(&fb, "a"), 3);
    kula_state_free(st);
}

Test(state, base_discard_keeps_committed_values)
{
    fake_base fb;
    memset(&fb, 0, sizeof(fb));
    fb_set(&fb, "a", "1");
    kula_state *st = NULL;
    cr_assert_eq(kula_state_new(&st, fb_read, &fb), 0);
    put_s(st, "a", "2");
    put_s(st, "b", "3");
    kula_state_discard(st);
    expect_s(st, "a", "1");
    expect_s(st, "b", NULL);
    cr_assert_eq(diff_count(st), 0);
    cr_assert_eq(fb_reads(&fb, "a"), 1, "discard keeps the base's values cached");
    kula_state_free(st);
}

Test(state, base_errors_propagate)
{
    fake_base fb;
    memset(&fb, 0, sizeof(fb));
    fb.fail_rc = KULA_ESTORE;
    kula_state *st = NULL;
    cr_assert_eq(kula_state_new(&st, fb_read, &fb), 0);
    const uint8_t *p;
    size_t n;
    cr_assert_eq(kula_state_get(st, (const uint8_t *)"bad", 3, &p, &n), KULA_ESTORE);
    cr_assert_eq(kula_state_put(st, (const uint8_t *)"bad", 3, (const uint8_t *)"x", 1),
                 KULA_ESTORE);
    cr_assert_eq(kula_state_size(st), 0, "a failed read must not be cached");
    cr_assert_eq(diff_count(st), 0);
    /* Once the base recovers the key reads normally. */
    fb.fail_rc = 0;
    cr_assert_eq(kula_state_get(st, (const uint8_t *)"bad", 3, &p, &n), KULA_ENOTFOUND);
    kula_state_free(st);
}

/* ---- growth ---- */

Test(state, hundred_thousand_keys)
{
    enum { N = 100000 };
    kula_state *st = new_state();
    uint8_t key[5] = { 'M' }, val[8];
    /* Insert in a scrambled order (i * 7919 mod N is a permutation). */
    for (uint32_t j = 0; j < N; j++) {
        uint32_t i = (uint32_t)(((uint64_t)j * 7919u) % N);
        kula_put_be32(key + 1, i);
        kula_put_be64(val, (uint64_t)i * 3 + 1);
        cr_assert_eq(kula_state_put(st, key, 5, val, 8), 0);
    }
    cr_assert_eq(kula_state_size(st), N);
    const kula_state_write *w;
    size_t n;
    cr_assert_eq(kula_state_diff(st, &w, &n), 0);
    cr_assert_eq(n, N);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(w[i].klen, 5);
        if (kula_get_be32(w[i].key + 1) != i || kula_get_be64(w[i].val) != i * 3 + 1)
            cr_assert_fail("diff entry %zu holds key %u", i, kula_get_be32(w[i].key + 1));
        if (i > 0 && key_cmp(w[i - 1].key, w[i - 1].klen, w[i].key, w[i].klen) >= 0)
            cr_assert_fail("diff not sorted at %zu", i);
    }
    kula_state_end_block(st);
    /* Every key readable after growth; change every third one. */
    for (uint32_t i = 0; i < N; i++) {
        kula_put_be32(key + 1, i);
        const uint8_t *p;
        size_t pn;
        if (kula_state_get(st, key, 5, &p, &pn) != 0 || pn != 8 ||
            kula_get_be64(p) != (uint64_t)i * 3 + 1)
            cr_assert_fail("key %u lost after growth", i);
        if (i % 3 == 0) {
            kula_put_be64(val, i);
            cr_assert_eq(kula_state_put(st, key, 5, i % 2 ? NULL : val, 8), 0);
        }
    }
    cr_assert_eq(kula_state_diff(st, &w, &n), 0);
    cr_assert_eq(n, (N + 2) / 3);
    for (size_t i = 0; i < n; i++) {
        uint32_t k = kula_get_be32(w[i].key + 1);
        cr_assert_eq(k, i * 3);
        cr_assert_eq(w[i].val == NULL, k % 2 == 1);
    }
    kula_state_free(st);
}

/* ---- the arena (kula_state_use_arena) ---- */

/* fb_read, with the keys "k" || be32 absent and not recorded (there are
 * more of them than fake_base holds). */
static int fb_read_many(void *ctx, const uint8_t *key, size_t klen, kula_buf *out)
{
    if (klen == 5 && key[0] == 'k') {
        ((fake_base *)ctx)->calls++;
        return KULA_ENOTFOUND;
    }
    return fb_read(ctx, key, klen, out);
}

/* Reads key k of st.  Out: v (NUL-terminated, "-" when absent). */
static void get_any(kula_state *st, const char *k, char *v, size_t cap)
{
    const uint8_t *p;
    size_t n;
    int rc = kula_state_get(st, (const uint8_t *)k, strlen(k), &p, &n);
    cr_assert(rc == 0 || rc == KULA_ENOTFOUND);
    if (rc != 0) {
        snprintf(v, cap, "-");
        return;
    }
    cr_assert_lt(n, cap);
    memcpy(v, p, n);
    v[n] = '\0';
}

/* A state over a base with the arena and one without, given the same
 * random reads, writes, transactions (kept or rolled back), ends of block
 * and discards, read the same values, give the same diffs and leave their
 * bases the same. */
Test(state, arena_behaves_as_malloc)
{
    fake_base fa, fm;
    memset(&fa, 0, sizeof(fa));
    memset(&fm, 0, sizeof(fm));
    for (int i = 0; i < 10; i++) {
        char k[8], v[16];
        snprintf(k, sizeof(k), "k%d", i);
        snprintf(v, sizeof(v), "base%d", i);
        fb_set(&fa, k, v);
        fb_set(&fm, k, v);
    }
    kula_state *a = NULL, *m = NULL;
    cr_assert_eq(kula_state_new(&a, fb_read, &fa), 0);
    cr_assert_eq(kula_state_new(&m, fb_read, &fm), 0);
    kula_state_use_arena(a);
    uint64_t x = 12345;
    int ends = 0, discards = 0;
    for (int step = 0; step < 20000; step++) {
        x = x * 6364136223846793005u + 1442695040888963407u;
        unsigned r = (unsigned)(x >> 33);
        char k[8], v[40];
        snprintf(k, sizeof(k), "k%u", r % 20);
        switch (r % 16) {
        case 0: case 1: case 2: case 3: case 4: {
            char va[40], vm[40];
            get_any(a, k, va, sizeof(va));
            get_any(m, k, vm, sizeof(vm));
            cr_assert_str_eq(va, vm, "step %d key %s", step, k);
            break;
        }
        case 5: case 6: case 7: case 8: case 9:
            /* values of many lengths, so the arena's chunks fill */
            snprintf(v, sizeof(v), "%u-%.*s", r, (int)(r % 24), "abcdefghijklmnopqrstuvwx");
            put_s(a, k, v);
            put_s(m, k, v);
            break;
        case 10:
            put_s(a, k, NULL);
            put_s(m, k, NULL);
            break;
        case 11:
            kula_state_tx_begin(a);
            kula_state_tx_begin(m);
            break;
        case 12:
            kula_state_tx_rollback(a);
            kula_state_tx_rollback(m);
            break;
        case 13:
            kula_state_tx_commit(a);
            kula_state_tx_commit(m);
            break;
        case 14:
        {
            char da[4096];
            snprintf(da, sizeof(da), "%s", diff_str(a)); /* diff_str's buffer is static */
            cr_assert_str_eq(da, diff_str(m), "step %d", step);
        }
            fb_apply_diff(&fa, a);
            fb_apply_diff(&fm, m);
            kula_state_end_block(a);
            kula_state_end_block(m);
            ends++;
            break;
        default:
            kula_state_discard(a);
            kula_state_discard(m);
            discards++;
            break;
        }
    }
    cr_assert_gt(ends, 500);
    cr_assert_gt(discards, 50);
    cr_assert_eq(fa.n, fm.n);
    for (size_t i = 0; i < fa.n; i++) {
        cr_assert_eq(fa.e[i].klen, fm.e[i].klen);
        cr_assert_arr_eq(fa.e[i].key, fm.e[i].key, fa.e[i].klen);
        cr_assert_eq(fa.e[i].present, fm.e[i].present, "key %zu", i);
        cr_assert_eq(fa.e[i].vlen, fm.e[i].vlen);
        cr_assert_arr_eq(fa.e[i].val, fm.e[i].val, fa.e[i].vlen);
    }
    kula_state_free(a);
    kula_state_free(m);
}

/* Values larger than a chunk, and many blocks' worth of writes: the arena
 * reuses its chunks and gives each value room of its own. */
Test(state, arena_large_values_and_many_blocks)
{
    fake_base fb;
    memset(&fb, 0, sizeof(fb));
    kula_state *st = NULL;
    cr_assert_eq(kula_state_new(&st, fb_read_many, &fb), 0);
    kula_state_use_arena(st);
    size_t big = 300 * 1024;
    uint8_t *val = malloc(big);
    cr_assert_not_null(val);
    for (size_t i = 0; i < big; i++)
        val[i] = (uint8_t)(i * 7);
    for (int block = 0; block < 50; block++) {
        uint8_t key[5] = { 'k' }; /* fb_read_many's absent keys */
        for (uint32_t i = 0; i < 5000; i++) {
            kula_put_be32(key + 1, i);
            cr_assert_eq(kula_state_put(st, key, 5, (const uint8_t *)"0123456789", 10), 0);
        }
        cr_assert_eq(kula_state_put(st, (const uint8_t *)"big", 3, val, big), 0);
        const uint8_t *p;
        size_t n;
        cr_assert_eq(kula_state_get(st, (const uint8_t *)"big", 3, &p, &n), 0);
        cr_assert_eq(n, big);
        cr_assert_arr_eq(p, val, big);
        kula_put_be32(key + 1, 4999);
        cr_assert_eq(kula_state_get(st, key, 5, &p, &n), 0);
        cr_assert_arr_eq(p, "0123456789", 10);
        kula_state_discard(st); /* nothing reaches the fake base: it holds 64 keys */
        cr_assert_eq(kula_state_size(st), 0);
    }
    free(val);
    kula_state_free(st);
}
