/* store_testing.h -- the store's reindex batch size and memory, and
 * txrecent's bound: knobs only tests and benchmarks turn.
 * Not part of the public API (include/kula/) */
#ifndef KULA_STORE_TESTING_H
#define KULA_STORE_TESTING_H

#include <stddef.h>

#include "kula/store/store.h"

/* Sets the size at which a reindex commits its batch (bytes of keys and
 * values written; 0: the default, 64 MiB).  For tests: 1 commits every
 * block. */
void kula_store_set_reindex_batch(kula_store *s, size_t bytes);

/* Sets how many bytes of the state the next reindex keeps in memory before
 * it writes them to LMDB and empties its table (SIZE_MAX: the default,
 * 256 MiB; 0: none, every write and read goes to LMDB).  For tests: a few
 * KiB write the table out many times. */
void kula_store_set_reindex_memory(kula_store *s, size_t bytes);

/* Sets how many entries txrecent holds before a block moves them into
 * txindex (0: the default, 65,536).  For tests: a few blocks' worth. */
void kula_store_set_recent_max(kula_store *s, size_t n);

#endif /* KULA_STORE_TESTING_H */
