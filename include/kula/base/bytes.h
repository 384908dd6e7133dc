/* bytes.h -- big-endian fixed-width integers (the byte order of the
 * state's keys, proto/SPEC.md §10.1, and of the store's indexes).
 *
 * Inline: the store and the ledger write a few of these for every
 * transaction, and a call costs more than the bytes. */
#ifndef KULA_BYTES_H
#define KULA_BYTES_H

#include <stdint.h>

static inline void kula_put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static inline void kula_put_be32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static inline uint64_t kula_get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static inline uint32_t kula_get_be32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v = v << 8 | p[i];
    return v;
}

#endif /* KULA_BYTES_H */
