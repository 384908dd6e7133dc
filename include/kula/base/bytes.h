/* bytes.h -- big-endian fixed-width integers (the byte order of the
 * state's keys, proto/SPEC.md §10.1, and of the store's indexes). */
#ifndef KULA_BYTES_H
#define KULA_BYTES_H

#include <stdint.h>

void kula_put_be64(uint8_t *p, uint64_t v);
void kula_put_be32(uint8_t *p, uint32_t v);
uint64_t kula_get_be64(const uint8_t *p);
uint32_t kula_get_be32(const uint8_t *p);

#endif /* KULA_BYTES_H */
