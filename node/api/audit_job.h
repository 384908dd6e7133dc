/* audit_job.h -- the node's audit of its own chain, run on demand (JSON-RPC
 * methods audit and audit_status, the web wallet's auditor page): what
 * `kula audit` verifies (kula_audit_run) and the figures of `kula report`
 * (kula_analytics) over the whole ledger, on a worker thread of its own,
 * never on the loop.  Private to node/api.
 *
 * One job at a time per node: a start while one runs answers with the
 * running one's progress.  Bounded: it verifies the blocks up to the tip the
 * node had when it started.  It reads the node's LMDB environment through a
 * reader of the node's store (kula_store_reader_open), one short read
 * transaction per read.  Its memory is the ledger replayed in memory (as
 * large as the node's state) and, once finished, the figures (at most a
 * few hundred KiB: see audit_job.c). */
#ifndef KULA_AUDIT_JOB_H
#define KULA_AUDIT_JOB_H

#include <jansson.h>
#include <stdbool.h>

#include "kula/api/rpc.h"
#include "kula/base/error.h"

typedef struct kula_audit_job kula_audit_job;

/* Returns: 0 or KULA_ENOMEM.  env (its store and genesis) is borrowed for
 * the job's life. */
KULA_MUST_CHECK
int kula_audit_job_new(kula_audit_job **out, kula_rpc_env *env);
/* Stops a running audit (it ends within one batch of blocks: its reads fail
 * from now on) and joins its threads; then frees.  NULL is harmless. */
void kula_audit_job_free(kula_audit_job *j);

/* Starts an audit unless one runs.  Loop thread only.
 * Out: *started, whether this call started it; e (may be NULL) on failure.
 * Returns: 0; KULA_ENOMEM; an error opening the ledger (KULA_ESTORE...). */
KULA_MUST_CHECK
int kula_audit_job_start(kula_audit_job *j, bool *started, kula_error *e);

/* The job as JSON (caller decrefs; NULL when out of memory).  Loop thread.
 *   state    "none" (never started), "running", "done"
 *   phase    while running: "verify" (kula_audit_run), then "figures"
 *   height   blocks done of the phase; of: the tip it stops at
 *   result   once done: ok, tip_height, tip_hash, state_root, blocks,
 *            transactions, tx_signatures, commit_signatures, settlements,
 *            seconds, and failure: null or {height, check
 *            (kula_audit_check_name), error}
 *   figures  once done and ok: the whole ledger's figures (audit_job.c),
 *            else null. */
json_t *kula_audit_job_status(kula_audit_job *j);

/* For tests: called on the worker after each block verified (NULL: not),
 * and whether the job was asked to stop (kula_audit_job_free). */
extern void (*kula_audit_job_test_hook)(kula_audit_job *j, uint64_t height);
bool kula_audit_job_stopping(const kula_audit_job *j);

#endif /* KULA_AUDIT_JOB_H */
