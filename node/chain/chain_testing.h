/* chain_testing.h -- the chain's tuning knob that only tests and benchmarks
 * turn.  Not part of the public API (include/kula/) */
#ifndef KULA_CHAIN_TESTING_H
#define KULA_CHAIN_TESTING_H

#include <stddef.h>

/* During a reindex, a stored block of at least this many bytes (default
 * 8 KiB, about fifty transactions) is decoded and hashed on a worker
 * thread while the block before it is applied; a smaller one is prepared
 * on the caller's thread, as waking a thread would cost more.  Only tests
 * and benchmarks change it (0: every block goes to the worker). */
extern size_t kula_reindex_ahead_min;

#endif /* KULA_CHAIN_TESTING_H */
