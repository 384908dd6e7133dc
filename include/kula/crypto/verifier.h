/* verifier.h -- BIP-340 verification spread over worker threads.
 *
 * Verification is the dominant cost of ingesting transactions and of an
 * audit, and it is independent per signature, so a batch is split across
 * threads.  Batches wait in one queue and the workers take their jobs in
 * order, a few at a time:
 *   - kula_verifier_run: the caller's batch goes to the front (a proposal's
 *     check or a block in sync must not wait behind bulk submissions), the
 *     calling thread helps with it, and it returns when all are verified;
 *   - kula_verifier_queue: the batch goes to the back and the call returns
 *     at once; kula_verifier_finished tells any thread when all its jobs
 *     are verified, and its `done` runs just after it reads as finished, on
 *     the worker that verified the last job, under the verifier's lock (so
 *     it must only signal: uv_async_send);
 *   - kula_verifier_start / kula_verifier_wait: one batch of the verifier's
 *     own at a time, the caller free in between (the audit applies the
 *     previous batch meanwhile). */
#ifndef KULA_VERIFIER_H
#define KULA_VERIFIER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "kula/base/error.h"
#include "kula/crypto/crypto.h"

typedef struct kula_verify_job {
    kula_hash digest;
    kula_pubkey key;
    kula_sig sig;
    bool ok;          /* out */
} kula_verify_job;

typedef struct kula_verifier kula_verifier;

/* A batch in the queue.  Owned by the caller, who must keep it and its
 * jobs valid until it is finished; the fields are the verifier's. */
typedef struct kula_verify_batch {
    kula_verify_job *jobs;
    size_t n;
    size_t next;                  /* the next job to hand out (under the lock) */
    atomic_size_t left;           /* jobs not yet verified */
    atomic_bool finished;         /* all verified, and done called */
    void (*done)(void *ctx);
    void *ctx;
    struct kula_verify_batch *qnext;
} kula_verify_batch;

/* Starts `threads` workers (0: one per online CPU).  Returns: 0 or KULA_ENOMEM. */
KULA_MUST_CHECK
int kula_verifier_new(kula_verifier **out, unsigned threads);
/* Stops the workers; every queued batch must be finished first. */
void kula_verifier_free(kula_verifier *v);
unsigned kula_verifier_threads(const kula_verifier *v);

/* Verifies jobs[0..n) ahead of the queued batches, the calling thread
 * helping; returns when all are verified. */
void kula_verifier_run(kula_verifier *v, kula_verify_job *jobs, size_t n);

/* Queues jobs[0..n) behind the others in b and returns; done(ctx) (may be
 * NULL) runs once on a worker thread when the last is verified, or in this
 * call when n is 0. */
void kula_verifier_queue(kula_verifier *v, kula_verify_batch *b, kula_verify_job *jobs,
                         size_t n, void (*done)(void *ctx), void *ctx);
/* Whether every job of a queued batch is verified (its results readable). */
bool kula_verifier_finished(const kula_verify_batch *b);
/* Waits until b is finished (the calling thread helps with its jobs). */
void kula_verifier_await(kula_verifier *v, kula_verify_batch *b);

/* Queues jobs[0..n) as the verifier's own batch; kula_verifier_wait waits
 * for it.  One such batch at a time. */
void kula_verifier_start(kula_verifier *v, kula_verify_job *jobs, size_t n);
void kula_verifier_wait(kula_verifier *v);

#endif /* KULA_VERIFIER_H */
