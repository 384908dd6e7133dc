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

void store_bloom_add(rx_bloom *b, uint64_t seed, const uint8_t *key, size_t klen)
{
    uint64_t h = bloom_hash(seed, key, klen);
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
