/* seen.h -- a bounded memory of recently seen hashes.
 *
 * Two generations of an exact hash set: inserts go to the current one;
 * when it holds `capacity` hashes it becomes the previous one and the
 * previous one is forgotten.  So the set remembers at least the last
 * `capacity` and at most the last 2 x `capacity` hashes inserted, in
 * constant memory (132-264 bytes a unit of capacity, all of it resident
 * from kula_seen_new on: no step when a generation is first used), with
 * no eviction bookkeeping.  Used for gossip: what
 * this node has seen, and what each peer is known to have. */
#ifndef KULA_SEEN_H
#define KULA_SEEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kula/base/error.h"
#include "kula/crypto/crypto.h"

typedef struct kula_seen kula_seen;

/* Returns: 0 or KULA_ENOMEM.  capacity >= 1. */
KULA_MUST_CHECK
int kula_seen_new(kula_seen **out, size_t capacity);
void kula_seen_free(kula_seen *s);
/* Returns: true if h was inserted recently (see above). */
bool kula_seen_has(const kula_seen *s, const kula_hash *h);
/* Remembers h.  Returns: true if it was new, false if already present. */
bool kula_seen_add(kula_seen *s, const kula_hash *h);

#endif /* KULA_SEEN_H */
