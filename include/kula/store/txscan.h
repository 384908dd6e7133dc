/* txscan.h -- the store's transaction index read by id prefix, so that a
 * person may name a transaction by its first hex digits, as git does. */
#ifndef KULA_STORE_TXSCAN_H
#define KULA_STORE_TXSCAN_H

#include <stddef.h>
#include <stdint.h>

#include "kula/crypto/crypto.h"
#include "kula/store/store.h"

/* Called for each committed transaction found; returns 0 to go on, any
 * other value to stop (which kula_store_tx_scan returns). */
typedef int (*kula_tx_scan_fn)(void *ctx, const kula_hash *id, uint64_t height, uint32_t index);

/* Calls fn, in id order, for every committed transaction whose id starts
 * with the plen bytes of prefix (plen 0: all of them), with where it was
 * committed.  Reads only the index entries under the prefix, in a read
 * snapshot of its own.
 * Returns: 0, the first non-zero value fn returned, or KULA_ESTORE (an
 *          index entry that is not 32 -> 12 bytes, or LMDB failed). */
int kula_store_tx_scan(kula_store *s, const uint8_t *prefix, size_t plen, kula_tx_scan_fn fn,
                       void *ctx);

#endif /* KULA_STORE_TXSCAN_H */
