/* wsort.c -- state writes sorted in the store's key order: a block's diff
 * (the ledger, before its state root) and the reindex's state written out
 * of memory (rx_state.c). */
#include <stdlib.h>
#include <string.h>

#include "kula/store/store.h"

typedef struct sort_item {
    uint64_t p0, p1;
    const kula_state_write *w;
} sort_item;

_Static_assert(2 * sizeof(sort_item) + sizeof(kula_state_write) <= KULA_WSORT_SCRATCH,
               "the scratch store.h promises");

static int cmp_write(const kula_state_write *x, const kula_state_write *y)
{
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->key, y->key, n);
    if (c != 0)
        return c;
    return x->klen < y->klen ? -1 : x->klen > y->klen;
}

/* Each key's first 16 bytes (zero-padded) as two big-endian integers
 * decide almost every comparison; equal prefixes fall back to the bytewise
 * comparison.  Where padded prefixes differ, their order is the keys'
 * bytewise order (a zero pad only ever stands where the shorter key has
 * ended, which sorts it first). */
static uint64_t be_padded(const uint8_t *k, size_t klen, size_t off)
{
    uint64_t v = 0;
    for (size_t i = 0; i < 8; i++)
        v = v << 8 | (off + i < klen ? k[off + i] : 0);
    return v;
}

static bool item_less(const sort_item *a, const sort_item *b)
{
    if (a->p0 != b->p0)
        return a->p0 < b->p0;
    if (a->p1 != b->p1)
        return a->p1 < b->p1;
    return cmp_write(a->w, b->w) < 0;
}

/* Bottom-up merge sort of n items, tmp holding n more.  Returns the array
 * that holds the result (items or tmp). */
static sort_item *sort_items(sort_item *items, sort_item *tmp, size_t n)
{
    /* runs of 8 by insertion, then merges */
    for (size_t lo = 0; lo < n; lo += 8) {
        size_t hi = lo + 8 < n ? lo + 8 : n;
        for (size_t i = lo + 1; i < hi; i++) {
            sort_item x = items[i];
            size_t j = i;
            while (j > lo && item_less(&x, &items[j - 1])) {
                items[j] = items[j - 1];
                j--;
            }
            items[j] = x;
        }
    }
    sort_item *src = items, *dst = tmp;
    for (size_t width = 8; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                dst[k++] = item_less(&src[j], &src[i]) ? src[j++] : src[i++];
            while (i < mid)
                dst[k++] = src[i++];
            while (j < hi)
                dst[k++] = src[j++];
        }
        sort_item *t = src;
        src = dst;
        dst = t;
    }
    return src;
}

int kula_state_writes_sort(kula_wsort *ws, kula_state_write *w, size_t n)
{
    if (n < 2)
        return KULA_OK;
    if (n > ws->cap) {
        if (n > SIZE_MAX / (2 * sizeof(sort_item) + sizeof(kula_state_write)))
            return KULA_ENOMEM;
        void *nb = realloc(ws->buf, n * (2 * sizeof(sort_item) + sizeof(kula_state_write)));
        if (nb == NULL)
            return KULA_ENOMEM;
        ws->buf = nb;
        ws->cap = n;
    }
    sort_item *items = ws->buf;
    kula_state_write *out = (kula_state_write *)(items + 2 * n);
    for (size_t i = 0; i < n; i++) {
        items[i].p0 = be_padded(w[i].key, w[i].klen, 0);
        items[i].p1 = be_padded(w[i].key, w[i].klen, 8);
        items[i].w = &w[i];
    }
    const sort_item *sorted = sort_items(items, items + n, n);
    for (size_t i = 0; i < n; i++)
        out[i] = *sorted[i].w;
    memcpy(w, out, n * sizeof(*w));
    return KULA_OK;
}

void kula_wsort_free(kula_wsort *ws)
{
    free(ws->buf);
    ws->buf = NULL;
    ws->cap = 0;
}
