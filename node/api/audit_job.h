/* audit_job.h -- the node's audit of its own chain, run on demand (JSON-RPC
 * methods audit and audit_status, the web wallet's auditor page): a kind of
 * job (job.h), on a worker thread of its own, never on the loop.  Private
 * to node/api.
 *
 * It verifies what `kula audit` verifies (kula_audit_run, phase "verify")
 * and then counts the figures of `kula report` (kula_analytics, phase
 * "figures") over the blocks up to the tip the node had when it started.
 * Its memory is the ledger replayed in memory (as large as the node's
 * state) and, once finished, the figures (at most a few hundred KiB: see
 * audit_job.c).
 *
 * What kula_job_status adds once done:
 *   result   ok, tip_height, tip_hash, state_root, blocks, transactions,
 *            tx_signatures, commit_signatures, settlements, seconds, and
 *            failure: null or {height, check (kula_audit_check_name), error}
 *   figures  when ok: the whole ledger's figures (audit_job.c), else null.
 * Its start takes no arg. */
#ifndef KULA_AUDIT_JOB_H
#define KULA_AUDIT_JOB_H

#include "job.h"

extern const kula_job_kind kula_audit_job;

#endif /* KULA_AUDIT_JOB_H */
