/* bulk.h -- POST /submit: signed transactions in bulk, as msgpack, for
 * programs that submit many (a point of sale's back office, an importer, the
 * load generator).  The JSON-RPC method `submit` is the path people and
 * scripts use; this one carries the same transactions without JSON or hex,
 * and is admitted, checked and answered by the same rules (README.md, "The
 * API").
 *
 *   request:  Content-Type: application/msgpack, the bearer token, and a
 *             body that is one canonical msgpack array of 1 ..
 *             KULA_BULK_MAX_TXS `bin`, each a signed transaction (§6.1) of
 *             1 .. KULA_MAX_TX_BYTES bytes, nothing after it;
 *   reply:    200, Content-Type: application/msgpack, one array with an
 *             entry per transaction, in order:
 *                 [code: int, id: bin32 | nil, words: str]
 *             code 0 and words "pending": admitted, gossiped to the
 *             validators; otherwise code is the kula_err value the JSON-RPC
 *             `submit` would answer (error.h, stable) and words say why in
 *             a sentence; id is nil for a transaction that does not decode.
 *             A body that is not such an array, or asks for more work than
 *             one JSON-RPC body may (jsonrpc.h), is refused whole, nothing
 *             admitted: 400 with a JSON error naming what is wrong.
 *   in flight: the API suspends a request while its signatures are
 *             verified (kula_bulk_begin, kula_bulk_end), so requests on
 *             several connections overlap, and the order in which they are
 *             admitted is not promised: what must be admitted first goes
 *             earlier in the same request, or in one already answered (a
 *             sender's later nonce that arrives first waits in the mempool
 *             for the earlier one).
 *
 * GET /ids?from=H[&blocks=N], for the same programs following their
 * transactions into blocks (the JSON-RPC `block` with `ids` gives the
 * same in JSON and hex):
 *   request:  the bearer token; from a height (1 or more), blocks how many
 *             from there (1 .. KULA_IDS_MAX_BLOCKS, default
 *             KULA_IDS_DEFAULT_BLOCKS), each a decimal number;
 *   reply:    200, Content-Type: application/msgpack:
 *                 [tip: int, [[height: int, [id: bin32, ...]], ...]]
 *             the committed blocks from `from` up, in order, each with its
 *             transactions' ids in block order; fewer than asked at the
 *             tip, before a block that would take the bytes read past
 *             KULA_IDS_MAX_BYTES (the first is always read, up to
 *             KULA_MAX_BLOCK_BYTES), or before a block the store could not
 *             read (logged): ask again from the height after the last;
 *             none when from is past the tip (the tip is then the answer).
 *             A parameter that is not such a number is refused: 400 with
 *             a JSON error naming it; 404 when from is below the blocks a
 *             node started from a snapshot holds (the error names the
 *             lowest); 500 when not even the first block could be read. */
#ifndef KULA_BULK_H
#define KULA_BULK_H

#include <stddef.h>
#include <stdint.h>

#include "kula/api/rpc.h"
#include "kula/codec/codec.h"
#include "kula/crypto/crypto.h"

#define KULA_BULK_MAX_TXS 1000u

/* A decoded request body: the transactions borrow from the body. */
typedef struct kula_bulk {
    size_t n;
    const uint8_t *txs[KULA_BULK_MAX_TXS];
    size_t lens[KULA_BULK_MAX_TXS];
} kula_bulk;

/* Reads a request body (above).  Out: *out, borrowing from body.
 * Returns: 0; KULA_ETOOBIG (more than KULA_BULK_MAX_TXS transactions, or one
 *          over KULA_MAX_TX_BYTES, from the headers, before the bytes are
 *          read); KULA_ERANGE (an empty array or an empty transaction); or
 *          another codec error (ETRUNC, ETYPE, ENONCANON, ETRAILING).  The
 *          transactions themselves are checked by admission, not here. */
KULA_MUST_CHECK
int kula_bulk_decode(kula_bulk *out, const uint8_t *body, size_t len);

/* What submitting a signed transaction costs in units of the API's work
 * budget (jsonrpc.h): one per KULA_SUBMIT_BYTES and KULA_SUBMIT_SIG_UNITS
 * per signature (the loop waits for their check), at least
 * KULA_SUBMIT_MIN_UNITS (the signatures are counted from the encoding's
 * header; a transaction that does not decode that far costs the least). */
#define KULA_SUBMIT_BYTES 256u
#define KULA_SUBMIT_SIG_UNITS 3u
#define KULA_SUBMIT_MIN_UNITS 3u
uint64_t kula_submit_units(const uint8_t *tx, size_t len);

/* The verdict on a transaction after its admission answered result (0 or
 * why kula_mempool_add_batch refused it): a transaction already in a block
 * is KULA_EREPLAYED (and, if it was just admitted, leaves the mempool);
 * one admitted is gossiped to the peers.  The store's transaction index is
 * read only when the mempool's view did not check the admission
 * (kula_mempool_viewed), since the view refuses a committed transaction.
 * Out: *height, with KULA_EREPLAYED, the block's.
 * Returns: 0 (pending), KULA_EREPLAYED, or result. */
int kula_submit_verdict(kula_rpc_env *env, int result, const kula_hash *id, const uint8_t *tx,
                        size_t len, uint64_t *height);

/* Handles a request body on the loop thread: decodes it, admits its
 * transactions as one batch (their signatures verified together) and
 * appends the reply (above) to out.
 * Out: why, on a refusal, a sentence for the client.
 * Returns: 0; KULA_EINVAL (the body is not a request, or asks for more
 *          than `work` units: nothing admitted); KULA_ENOMEM. */
KULA_MUST_CHECK
int kula_bulk_submit(kula_rpc_env *env, const uint8_t *body, size_t len, uint64_t work,
                     kula_buf *out, char *why, size_t whylen);

/* kula_bulk_submit in two steps, so that the loop is free while the
 * signatures are verified (the API suspends the request meanwhile):
 *   - kula_bulk_begin decodes the body and prepares its admission
 *     (kula_mempool_prepare); body must stay valid until the end;
 *   - the caller has kula_bulk_jobs verified (kula_verifier_queue);
 *   - kula_bulk_end admits the batch, gives the verdicts and appends the
 *     reply to out, as kula_bulk_submit does, and frees the job;
 *   - kula_bulk_job_free drops a begun job without admitting anything.
 * Returns: begin: as kula_bulk_submit (*job set on 0); end: 0 or
 *          KULA_ENOMEM (why set). */
typedef struct kula_bulk_job kula_bulk_job;
KULA_MUST_CHECK
int kula_bulk_begin(kula_rpc_env *env, const uint8_t *body, size_t len, uint64_t work,
                    kula_bulk_job **job, char *why, size_t whylen);
kula_verify_job *kula_bulk_jobs(kula_bulk_job *job, size_t *n);
KULA_MUST_CHECK
int kula_bulk_end(kula_rpc_env *env, kula_bulk_job *job, kula_buf *out, char *why, size_t whylen);
void kula_bulk_job_free(kula_bulk_job *job);

#define KULA_IDS_MAX_BLOCKS 64u
#define KULA_IDS_DEFAULT_BLOCKS 16u
#define KULA_IDS_MAX_BYTES (8u << 20) /* of blocks read for one reply, past the first */

/* Reads GET /ids's parameters (above; NULL: absent).  Out: *from, *blocks.
 * Returns: 0, or KULA_EINVAL with why naming the parameter and what it
 *          takes. */
KULA_MUST_CHECK
int kula_ids_args(const char *from, const char *blocks, uint64_t *from_height,
                  uint32_t *nblocks, char *why, size_t whylen);

/* Appends GET /ids's reply for blocks from `from` (above) to out.
 * Out: *missing_below, with KULA_ENOTFOUND, the lowest height stored.
 * Returns: 0, KULA_ENOTFOUND (from is below the stored blocks), KULA_ENOMEM,
 *          or the store's error reading the first block. */
KULA_MUST_CHECK
int kula_ids_reply(kula_rpc_env *env, uint64_t from, uint32_t blocks, kula_buf *out,
                   uint64_t *missing_below);

#endif /* KULA_BULK_H */
