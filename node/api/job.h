/* job.h -- a long read of the node's own ledger on a worker thread of its
 * own, never on the loop: the node's audit of its chain (audit_job.h,
 * JSON-RPC audit and audit_status) and a member's account statement for
 * the web wallet (statement_job.h).  Private to node/api.
 *
 * A job is of one kind (kula_job_kind: what the worker does, and what it
 * found).  One job at a time per kula_job: a start while one runs starts
 * nothing.  Bounded: the worker reads the blocks up to the tip the node had
 * when the job started, through a reader of the node's store
 * (kula_store_reader_open; one short read transaction per read), at nice 10
 * below the loop and consensus.  kula_job_free stops a running job (its
 * reads fail from then on: it ends within one block) and joins it. */
#ifndef KULA_JOB_H
#define KULA_JOB_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kula/api/rpc.h"
#include "kula/audit/audit.h"
#include "kula/base/error.h"

typedef struct kula_job kula_job;

typedef struct kula_job_kind {
    const char *name;   /* "audit": in messages ("cannot start the audit's thread") */
    const char *phase;  /* the status's first phase while running ("verify"), or NULL */
    /* On the worker: the job's work over archive a (blocks 1 to its tip),
     * with the start's arg (kula_job_start's copy).  Reports progress with
     * kula_job_progress; once kula_job_stopping is true it should end soon
     * (its reads fail too).
     * Returns: what it found (the kind's, freed by drop), or NULL when it
     *          was stopped. */
    void *(*run)(kula_job *j, kula_archive *a, const void *arg);
    /* On the loop: adds what the job found to its status object. */
    void (*show)(json_t *status, const void *found);
    void (*drop)(void *found); /* NULL-safe */
} kula_job_kind;

/* Returns: 0 or KULA_ENOMEM.  env (its store and genesis) is borrowed for
 * the job's life; kind is static. */
KULA_MUST_CHECK
int kula_job_new(kula_job **out, kula_rpc_env *env, const kula_job_kind *kind);
/* Stops a running job and joins its thread; then frees.  NULL is harmless. */
void kula_job_free(kula_job *j);

/* Starts the job with a copy of arg (arg_len bytes, may be 0) unless one
 * runs; what the last one found is dropped.  Loop thread only.
 * Out: *started, whether this call started it; e (may be NULL) on failure.
 * Returns: 0; KULA_ENOMEM; an error opening the ledger (KULA_ESTORE...). */
KULA_MUST_CHECK
int kula_job_start(kula_job *j, const void *arg, size_t arg_len, bool *started, kula_error *e);

/* The job as JSON (caller decrefs; NULL when out of memory).  Loop thread.
 *   state    "none" (never started), "running", "done"
 *   phase    while running, when the kind has phases: the current one
 *   height   blocks done of the phase; of: the tip it stops at
 * and once done, what the kind's show adds (nothing when it was stopped). */
json_t *kula_job_status(kula_job *j);

/* Whether a job runs now.  Loop thread. */
bool kula_job_running(kula_job *j);
/* The arg of the running or last job (NULL before any); what the finished
 * one found (NULL while it runs, before any, or when it was stopped).
 * Loop thread; borrowed until the next start. */
const void *kula_job_arg(kula_job *j);
const void *kula_job_found(kula_job *j);

/* For the kind's run, on the worker: blocks done (a kula_progress_fn, ctx
 * the job; total is ignored: the tip is the job's), and a new phase (its
 * blocks done start again from 0). */
void kula_job_progress(void *j, uint64_t done, uint64_t total);
void kula_job_phase(kula_job *j, const char *phase);
/* Whether the job was asked to stop (kula_job_free); any thread. */
bool kula_job_stopping(const kula_job *j);
/* The job's stop flag, for a library's own stop option (kula_audit_opts). */
const atomic_bool *kula_job_stop_flag(const kula_job *j);

/* For tests: called on the worker at each kula_job_progress (NULL: not). */
extern void (*kula_job_test_hook)(kula_job *j, uint64_t height);

#endif /* KULA_JOB_H */
