/* state.h -- the ledger's working state: an overlay of key/value records
 * over the last committed state, with per-transaction rollback and a sorted
 * per-block diff.
 *
 * Keys and values are byte strings (proto/SPEC.md §10 lists the layout).
 * Reads fall through to a base reader (the LMDB store, or nothing) and are
 * cached.  kula_state_diff() returns every key whose value at the end of the
 * block differs from its value at the start, sorted by key: that set is both
 * what the store writes and what the state root hashes, so it never depends
 * on hash-table order.  Not thread safe. */
#ifndef KULA_STATE_H
#define KULA_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kula/base/error.h"
#include "kula/codec/codec.h"
#include "kula/store/store.h"

typedef struct kula_state kula_state;

/* Base reader: appends the committed value of key to out.
 * Returns: 0, KULA_ENOTFOUND, or another error (propagated). */
typedef int (*kula_state_base_fn)(void *ctx, const uint8_t *key, size_t klen, kula_buf *out);

/* Creates an empty overlay over base (NULL: no base; everything lives in
 * memory, as in tests and simulations).  Returns: 0 or KULA_ENOMEM. */
KULA_MUST_CHECK
int kula_state_new(kula_state **out, kula_state_base_fn base, void *ctx);
void kula_state_free(kula_state *st);

/* Out: *val, *vlen, valid until the next put, rollback, end of block or
 * discard.
 * Returns: 0, KULA_ENOTFOUND, KULA_ENOMEM or the base reader's error. */
KULA_MUST_CHECK
int kula_state_get(kula_state *st, const uint8_t *key, size_t klen, const uint8_t **val,
                   size_t *vlen);
/* Sets key to val (val == NULL deletes).  Returns: 0 or KULA_ENOMEM. */
KULA_MUST_CHECK
int kula_state_put(kula_state *st, const uint8_t *key, size_t klen, const uint8_t *val,
                   size_t vlen);

/* Base scanner: calls fn for every committed entry whose key starts with
 * prefix (as kula_store_state_scan).  Returns: 0 or the first non-zero
 * value of fn, or its own error. */
typedef int (*kula_state_scan_fn)(void *ctx, const uint8_t *prefix, size_t plen, kula_state_fn fn,
                                  void *fnctx);
/* Lets kula_state_scan see the committed entries of the base (same ctx as
 * the base reader).  Without it, a state with a base cannot scan. */
void kula_state_set_scan(kula_state *st, kula_state_scan_fn scan);
/* Calls fn(ctx, key, klen, val, vlen) once for every present key that
 * starts with prefix, as of now (the block in progress included), in no
 * defined order: a caller that needs an order sorts what it collects.  fn
 * must not write to st.  Cost: the entries in memory plus the base's
 * entries under prefix.
 * Returns: 0, the first non-zero value of fn, KULA_EINVAL (a base without a
 * scanner) or the scanner's error. */
KULA_MUST_CHECK
int kula_state_scan(kula_state *st, const uint8_t *prefix, size_t plen, kula_state_fn fn,
                    void *ctx);
/* Calls fn once for every present key of the whole state, as of now (the
 * block in progress included), in ascending bytewise key order (a key
 * before every longer key it is a prefix of; LMDB's order): what the
 * snapshot commitment hashes (proto/SPEC.md §10.3).  fn must not write to
 * st.  Cost: every committed entry of the base, read in order, merged with
 * the entries in memory, which are sorted first.
 * Returns: 0, the first non-zero value of fn, KULA_ENOMEM, KULA_EINVAL (a
 * base without a scanner) or the scanner's error. */
KULA_MUST_CHECK
int kula_state_walk(kula_state *st, kula_state_fn fn, void *ctx);

/* Transaction scope: writes after kula_state_tx_begin are undone by
 * kula_state_tx_rollback and kept by kula_state_tx_commit. */
void kula_state_tx_begin(kula_state *st);
void kula_state_tx_rollback(kula_state *st);
void kula_state_tx_commit(kula_state *st);

/* The block's changes so far, sorted by key (bytewise; a prefix sorts
 * first).  Out: *writes points to an array owned by st, valid until the next
 * call into st.  Returns: 0 or KULA_ENOMEM. */
KULA_MUST_CHECK
int kula_state_diff(kula_state *st, const kula_state_write **writes, size_t *n);

/* Ends the block: the current values become the new baseline.  With a base
 * reader the cache is dropped (the base now holds the block); without one,
 * the values stay in memory.  Also used to discard a block: see
 * kula_state_discard. */
void kula_state_end_block(kula_state *st);
/* Throws away every change since the last kula_state_end_block. */
void kula_state_discard(kula_state *st);

/* Number of cached entries (for tests and memory accounting). */
size_t kula_state_size(const kula_state *st);

/* For a state over a base whose blocks each end soon, and that nothing
 * else writes (a chain's own ledger, not a mempool's view): its entries,
 * keys and values come from an arena that kula_state_end_block and
 * kula_state_discard free in one piece, not one by one; a value that is
 * replaced is freed only then, and a discard drops the cache too.  Call it
 * before the first read; without a base it does nothing. */
void kula_state_use_arena(kula_state *st);

#endif /* KULA_STATE_H */
