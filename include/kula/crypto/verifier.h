/* verifier.h -- BIP-340 verification spread over worker threads.
 *
 * Verification is the dominant cost of ingesting transactions and of an
 * audit, and it is independent per signature, so a batch is split across
 * threads.  kula_verifier_start returns at once; the caller may do other
 * work (apply the previous batch) and then kula_verifier_wait. */
#ifndef KULA_VERIFIER_H
#define KULA_VERIFIER_H

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

/* Starts `threads` workers (0: one per online CPU).  Returns: 0 or KULA_ENOMEM. */
KULA_MUST_CHECK
int kula_verifier_new(kula_verifier **out, unsigned threads);
void kula_verifier_free(kula_verifier *v);
unsigned kula_verifier_threads(const kula_verifier *v);

/* Verifies jobs[0..n) on the workers; jobs must stay valid until
 * kula_verifier_wait returns.  One batch at a time. */
void kula_verifier_start(kula_verifier *v, kula_verify_job *jobs, size_t n);
void kula_verifier_wait(kula_verifier *v);
/* start + wait, with the calling thread helping. */
void kula_verifier_run(kula_verifier *v, kula_verify_job *jobs, size_t n);

#endif /* KULA_VERIFIER_H */
