/* radix.c -- the sort of a block's index entries by their 64-bit keys. */
#include "store_internal.h"

/* Least significant byte first, skipping the bytes every key shares. */
ix_rec *store_radix_sort(ix_rec *recs, ix_rec *tmp, size_t n)
{
    for (int shift = 0; shift < 64; shift += 8) {
        size_t count[257] = { 0 };
        for (size_t i = 0; i < n; i++)
            count[((recs[i].key >> shift) & 0xff) + 1]++;
        if (n == 0 || count[((recs[0].key >> shift) & 0xff) + 1] == n)
            continue;
        for (int d = 0; d < 256; d++)
            count[d + 1] += count[d];
        for (size_t i = 0; i < n; i++)
            tmp[count[(recs[i].key >> shift) & 0xff]++] = recs[i];
        ix_rec *t = recs;
        recs = tmp;
        tmp = t;
    }
    return recs;
}
