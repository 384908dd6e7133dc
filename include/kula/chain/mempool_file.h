/* mempool_file.h -- the pending transactions kept across a clean restart
 * (DATADIR/mempool.dat, proto/SPEC.md §9.1).
 *
 * At a clean shutdown the node writes every pending transaction, in arrival
 * order, to DATADIR/mempool.dat; at the next start it reads them back and
 * offers each to the mempool again, exactly as a new submission, so those
 * committed meanwhile or no longer valid are refused with their reason.
 *
 * The file is untrusted bytes (it may be truncated, damaged, or copied from
 * another network's node): the decoder bounds every size and count before it
 * allocates, checks the checksum and the chain id, and returns an error for
 * anything else than a file this module wrote for this network.  It checks
 * the file, not the transactions in it: those are judged by the mempool when
 * they are offered again, so one a newer ledger refuses costs only itself. */
#ifndef KULA_MEMPOOL_FILE_H
#define KULA_MEMPOOL_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "kula/base/error.h"
#include "kula/chain/chain.h"
#include "kula/codec/codec.h"
#include "kula/crypto/crypto.h"
#include "kula/chain/mempool.h"
#include "kula/store/store.h"
#include "kula/types/types.h"
#include "kula/crypto/verifier.h"

#define KULA_MEMPOOL_FILE_NAME "mempool.dat"
#define KULA_MEMPOOL_FILE_VERSION 1u

/* The largest file the decoder reads: KULA_MEMPOOL_MAX_BYTES of transactions
 * plus the encoding around them.  The header takes at most 41 bytes (array 1,
 * version 1, chain id 34, list header 5), each transaction's bin header at
 * most 5, and the checksum 32. */
#define KULA_MEMPOOL_FILE_MAX_BYTES \
    ((size_t)KULA_MEMPOOL_MAX_BYTES + 5u * (size_t)KULA_MEMPOOL_MAX_TXS + 41u + KULA_HASH_LEN)

/* Transactions offered to the mempool per kula_mempool_add_batch call. */
#define KULA_MEMPOOL_FILE_CHUNK 1024u

/* A decoded mempool file.  txs[i] (lens[i] bytes) is the i-th transaction in
 * arrival order; the pointers borrow from the decoded input (or from data,
 * the file's bytes, which kula_mempool_file_load owns here). */
typedef struct kula_mempool_file {
    kula_hash chain_id; /* the network of the node that wrote it */
    size_t n;
    const uint8_t **txs;
    size_t *lens;
    uint8_t *data; /* owned: the file's bytes, or NULL */
} kula_mempool_file;

/* Frees what a decode or load allocated and empties f (NULL is a no-op). */
void kula_mempool_file_free(kula_mempool_file *f);

/* Appends the file for txs[0..n) (signed transactions, in arrival order) of
 * the network chain_id: the canonical [1, chain_id, [tx, ...]] followed by
 * the BLAKE2b-256 of those bytes.
 * Returns: 0; KULA_ETOOBIG, more than KULA_MEMPOOL_MAX_TXS transactions, one
 *          longer than KULA_MAX_TX_BYTES, or more than KULA_MEMPOOL_MAX_BYTES
 *          in all (the decoder would refuse the file); KULA_ENOMEM (out->err).
 * In: txs may be NULL when n == 0. */
KULA_MUST_CHECK
int kula_mempool_file_encode(kula_buf *out, const kula_hash *chain_id,
                             const uint8_t *const *txs, const size_t *lens, size_t n);

/* Decodes a mempool file held in memory.
 * Out: *out (emptied first): the transactions, pointing into data, which
 *      must outlive it; free it with kula_mempool_file_free.  On
 *      KULA_ECHAIN, out->chain_id is the file's and nothing is allocated; on
 *      any other error *out is empty.
 * Returns: 0, or the first failure, checked in this order:
 *          KULA_ETOOBIG, len above KULA_MEMPOOL_FILE_MAX_BYTES (nothing read);
 *          KULA_ETRUNC, shorter than the checksum;
 *          a codec error of the header (KULA_ETYPE, KULA_ENONCANON, ...), and
 *          KULA_EVERSION for a version other than 1 (a newer node's file);
 *          KULA_ESTORE, the checksum does not match: the file is damaged;
 *          a codec error of the rest: KULA_ETOOBIG for more than
 *          KULA_MEMPOOL_MAX_TXS transactions, one above KULA_MAX_TX_BYTES or
 *          more than KULA_MEMPOOL_MAX_BYTES in all, KULA_ETRAILING for bytes
 *          between the structure and the checksum;
 *          KULA_ECHAIN, written by a node of another network;
 *          KULA_ENOMEM.
 * In: data may be NULL when len == 0; chain_id, this node's. */
KULA_MUST_CHECK
int kula_mempool_file_decode(kula_mempool_file *out, const uint8_t *data, size_t len,
                             const kula_hash *chain_id);

/* Writes the mempool's transactions, in arrival order (kula_mempool_walk),
 * to DATADIR/mempool.dat: first to mempool.dat.tmp, which is synced, then
 * renamed over mempool.dat, and the directory synced, so the real name
 * never holds a partial file.  The mempool must not change meanwhile.
 * Out: *saved (may be NULL), the number written; e (may be NULL), on
 *      failure one line naming the file and what failed.
 * Returns: 0; KULA_ETOOBIG (as kula_mempool_file_encode); KULA_EIO, the file
 *          could not be written (mempool.dat.tmp is removed, mempool.dat left
 *          as it was) or the directory not synced; KULA_EINVAL, the mempool
 *          changed under the walk or datadir is too long; KULA_ENOMEM. */
KULA_MUST_CHECK
int kula_mempool_file_save(const kula_mempool *mp, size_t *saved, const char *datadir,
                           const kula_hash *chain_id, kula_error *e);

/* Reads and decodes DATADIR/mempool.dat (at most KULA_MEMPOOL_FILE_MAX_BYTES
 * are read, whatever the file's size).
 * Out: *out, owning the file's bytes (free with kula_mempool_file_free);
 *      e (may be NULL), on failure one line for the log naming the file.
 * Returns: 0; KULA_ENOTFOUND, there is no file; KULA_EIO, it cannot be read
 *          or is not a regular file; any error of kula_mempool_file_decode;
 *          KULA_EINVAL, datadir is too long. */
KULA_MUST_CHECK
int kula_mempool_file_load(kula_mempool_file *out, const char *datadir,
                           const kula_hash *chain_id, kula_error *e);

/* Why reloaded transactions were not admitted: by_reason[-e] counts those
 * refused with error e (an error beyond the table counts in by_reason[0]). */
#define KULA_MEMPOOL_RELOAD_REASONS 128
typedef struct kula_mempool_reload {
    size_t total;     /* transactions in the file */
    size_t admitted;  /* pending again */
    size_t committed; /* already in a block (by the store's index) */
    size_t refused;   /* not admitted for another reason */
    size_t by_reason[KULA_MEMPOOL_RELOAD_REASONS];
} kula_mempool_reload;

/* Offers f's transactions to the mempool, in order, in batches of
 * KULA_MEMPOOL_FILE_CHUNK, with kula_mempool_add_batch against chain's
 * ledger: each is checked as a new submission (signatures, nonces, the
 * ledger's rules).  One the store's transaction index holds is counted as
 * already committed (and removed again if the mempool admitted it, as the
 * API does for a submission).
 * Out: *report.
 * In: store, chain's store (may be NULL: nothing is counted as committed).
 * Returns: 0 (a refused transaction is no failure), or KULA_ENOMEM. */
KULA_MUST_CHECK
int kula_mempool_file_readmit(kula_mempool *mp, kula_mempool_reload *report, kula_chain *chain,
                              kula_store *store, kula_verifier *v, const kula_mempool_file *f);

/* Describes report's refusals for a log line: "2 insufficient credit, 1
 * wrong nonce", most frequent first ("" when none); cut to outlen bytes. */
void kula_mempool_reload_reasons(char *out, size_t outlen, const kula_mempool_reload *report);

/* Removes DATADIR/mempool.dat once its transactions are pending again, so a
 * later crash cannot offer them again (a missing file is no error).
 * Returns: 0, KULA_EIO (errno says why) or KULA_EINVAL (datadir too long). */
KULA_MUST_CHECK
int kula_mempool_file_remove(const char *datadir);

/* Renames a file that could not be loaded to DATADIR/mempool.dat.bad (over
 * an older one), kept for whoever wants to look at it.
 * Returns: 0, KULA_EIO (errno says why) or KULA_EINVAL (datadir too long). */
KULA_MUST_CHECK
int kula_mempool_file_set_aside(const char *datadir);

#endif /* KULA_MEMPOOL_FILE_H */
