/* store_testing.h -- the store's reindex batch size, a knob only tests turn.
 * Not part of the public API (include/kula/) */
#ifndef KULA_STORE_TESTING_H
#define KULA_STORE_TESTING_H

#include <stddef.h>

#include "kula/store/store.h"

/* Sets the size at which a reindex commits its batch (bytes of keys and
 * values written; 0: the default, 64 MiB).  For tests: 1 commits every
 * block. */
void kula_store_set_reindex_batch(kula_store *s, size_t bytes);

#endif /* KULA_STORE_TESTING_H */
