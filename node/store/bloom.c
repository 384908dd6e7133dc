/* bloom.c -- the reindex's filter of the state keys it has written. */
#include <stdlib.h>

#include "store_internal.h"

static uint64_t bloom_hash(uint64_t seed, const uint8_t *key, size_t klen)
{
    return mix_bytes(~seed ^ klen, key, klen);
}

static const uint64_t *bloom_line(const rx_bloom *b, uint64_t h)
{
    return b->bits + 8 * (size_t)(((h >> 32) * (uint64_t)b->nlines) >> 32);
}

bool store_bloom_maybe(const rx_bloom *b, uint64_t seed, const uint8_t *key, size_t klen)
{
    uint64_t h = bloom_hash(seed, key, klen);
    const uint64_t *line = bloom_line(b, h);
    for (int i = 0; i < 4; i++) {
        unsigned bit = (unsigned)(h >> (9 * i)) & 511;
        if ((line[bit >> 6] & (UINT64_C(1) << (bit & 63))) == 0)
            return false;
    }
    return true;
}

static void set_bits(rx_bloom *b, uint64_t h)
{
    uint64_t *line = (uint64_t *)bloom_line(b, h);
    bool added = false;
    for (int i = 0; i < 4; i++) {
        unsigned bit = (unsigned)(h >> (9 * i)) & 511;
        uint64_t m = UINT64_C(1) << (bit & 63);
        added |= (line[bit >> 6] & m) == 0;
        line[bit >> 6] |= m;
    }
    if (added && ++b->n > b->cap) {
        free(b->bits); /* too full to help: every read goes to LMDB */
        b->bits = NULL;
    }
}

void store_bloom_add(rx_bloom *b, uint64_t seed, const uint8_t *key, size_t klen)
{
    set_bits(b, bloom_hash(seed, key, klen));
}

/* As store_bloom_add for each write that sets a value, a chunk at a time:
 * the chunk's lines are fetched while its keys are hashed, so that the
 * misses (the filter is megabytes, each key a random line) overlap instead
 * of each stalling the next (perf: the filter's loads were a tenth of a
 * replay's applying thread). */
void store_bloom_add_writes(rx_bloom *b, uint64_t seed, const kula_state_write *w, size_t n)
{
    enum { CHUNK = 32 };
    uint64_t h[CHUNK];
    for (size_t at = 0; at < n && b->bits != NULL; at += CHUNK) {
        size_t m = n - at < CHUNK ? n - at : CHUNK;
        for (size_t i = 0; i < m; i++) {
            const kula_state_write *x = &w[at + i];
            h[i] = x->val != NULL ? bloom_hash(seed, x->key, x->klen) : 0;
            if (x->val != NULL)
                __builtin_prefetch(bloom_line(b, h[i]), 1);
        }
        for (size_t i = 0; i < m && b->bits != NULL; i++)
            if (w[at + i].val != NULL)
                set_bits(b, h[i]);
    }
}

/* 16 bits per key: about 0.1 % false positives with 4 bits set. */
void store_bloom_init(rx_bloom *b, size_t keys)
{
    memset(b, 0, sizeof(*b));
    b->nlines = keys / 32 + 1; /* 16 bits per key */
    if (b->nlines > UINT32_MAX)
        return;
    b->bits = calloc(b->nlines * 8, sizeof(uint64_t));
    b->cap = keys;
}
