/* verifier.c -- a small thread pool that verifies batches of signatures. */
#include "kula/crypto/verifier.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "kula/base/error.h"

struct kula_verifier {
    pthread_t *threads;
    unsigned nthreads;
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    kula_verify_job *jobs;
    size_t njobs;
    atomic_size_t next;      /* next job index to claim */
    unsigned busy;           /* workers still on the current batch */
    uint64_t batch;          /* batch counter, so workers see each once */
    bool stop;
};

/* Claims jobs until none are left. */
static void drain(kula_verifier *v)
{
    for (;;) {
        size_t i = atomic_fetch_add(&v->next, 1);
        if (i >= v->njobs)
            return;
        kula_verify_job *j = &v->jobs[i];
        j->ok = kula_verify(&j->key, j->digest.b, &j->sig);
    }
}

static void *worker(void *arg)
{
    kula_verifier *v = arg;
    uint64_t seen = 0;
    pthread_mutex_lock(&v->mu);
    for (;;) {
        while (!v->stop && v->batch == seen)
            pthread_cond_wait(&v->work, &v->mu);
        if (v->stop)
            break;
        seen = v->batch;
        pthread_mutex_unlock(&v->mu);
        drain(v);
        pthread_mutex_lock(&v->mu);
        if (--v->busy == 0)
            pthread_cond_broadcast(&v->done);
    }
    pthread_mutex_unlock(&v->mu);
    return NULL;
}

int kula_verifier_new(kula_verifier **out, unsigned threads)
{
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (unsigned)n : 1;
    }
    kula_verifier *v = calloc(1, sizeof(*v));
    if (v == NULL)
        return KULA_ENOMEM;
    v->threads = calloc(threads, sizeof(*v->threads));
    if (v->threads == NULL) {
        free(v);
        return KULA_ENOMEM;
    }
    pthread_mutex_init(&v->mu, NULL);
    pthread_cond_init(&v->work, NULL);
    pthread_cond_init(&v->done, NULL);
    atomic_init(&v->next, 0);
    for (unsigned i = 0; i < threads; i++) {
        if (pthread_create(&v->threads[i], NULL, worker, v) != 0)
            break;
        v->nthreads++;
    }
    if (v->nthreads == 0) {
        kula_verifier_free(v);
        return KULA_ENOMEM;
    }
    *out = v;
    return KULA_OK;
}

void kula_verifier_free(kula_verifier *v)
{
    if (v == NULL)
        return;
    pthread_mutex_lock(&v->mu);
    v->stop = true;
    pthread_cond_broadcast(&v->work);
    pthread_mutex_unlock(&v->mu);
    for (unsigned i = 0; i < v->nthreads; i++)
        pthread_join(v->threads[i], NULL);
    pthread_mutex_destroy(&v->mu);
    pthread_cond_destroy(&v->work);
    pthread_cond_destroy(&v->done);
    free(v->threads);
    free(v);
}

unsigned kula_verifier_threads(const kula_verifier *v) { return v->nthreads; }

void kula_verifier_start(kula_verifier *v, kula_verify_job *jobs, size_t n)
{
    pthread_mutex_lock(&v->mu);
    v->jobs = jobs;
    v->njobs = n;
    atomic_store(&v->next, 0);
    v->busy = v->nthreads;
    v->batch++;
    pthread_cond_broadcast(&v->work);
    pthread_mutex_unlock(&v->mu);
}

void kula_verifier_wait(kula_verifier *v)
{
    pthread_mutex_lock(&v->mu);
    while (v->busy > 0)
        pthread_cond_wait(&v->done, &v->mu);
    v->jobs = NULL;
    v->njobs = 0;
    pthread_mutex_unlock(&v->mu);
}

void kula_verifier_run(kula_verifier *v, kula_verify_job *jobs, size_t n)
{
    /* A few signatures cost less than waking the workers. */
    if (n <= 2) {
        for (size_t i = 0; i < n; i++)
            jobs[i].ok = kula_verify(&jobs[i].key, jobs[i].digest.b, &jobs[i].sig);
        return;
    }
    kula_verifier_start(v, jobs, n);
    drain(v);
    kula_verifier_wait(v);
}
