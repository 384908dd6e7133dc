/* verifier.c -- a small thread pool that verifies queued batches of
 * signatures (kula/crypto/verifier.h). */
#include "kula/crypto/verifier.h"

#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "kula/base/error.h"

/* Jobs handed out at a time: about 0.2 ms of work for one lock. */
#define CHUNK 4u

struct kula_verifier {
    pthread_t *threads;
    unsigned nthreads;
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    kula_verify_batch *head, *tail; /* batches with jobs not yet handed out */
    kula_verify_batch own;          /* start/wait's */
    bool stop;
};

static void unlink_batch(kula_verifier *v, kula_verify_batch *b)
{
    kula_verify_batch **p = &v->head, *prev = NULL;
    while (*p != NULL && *p != b) {
        prev = *p;
        p = &(*p)->qnext;
    }
    if (*p == NULL)
        return;
    *p = b->qnext;
    if (v->tail == b)
        v->tail = prev;
    b->qnext = NULL;
}

/* Under the lock: hands out up to CHUNK jobs of the first batch, or of
 * `only` when not NULL.  Returns: how many (0: none left), from *first. */
static size_t claim(kula_verifier *v, kula_verify_batch *only, kula_verify_batch **b,
                    size_t *first)
{
    kula_verify_batch *q = only != NULL ? only : v->head;
    if (q == NULL || q->next >= q->n)
        return 0;
    size_t k = q->n - q->next < CHUNK ? q->n - q->next : CHUNK;
    *first = q->next;
    q->next += k;
    if (q->next == q->n)
        unlink_batch(v, q); /* every job handed out */
    *b = q;
    return k;
}

/* Verifies k jobs of b from first.  The thread that verifies its last job
 * marks b finished, then calls done, both under the lock: done's wake-up
 * finds it finished, and once a waiter (kula_verifier_await) sees it
 * finished no worker touches b, or done's context, again.  A reader of
 * kula_verifier_finished may free b as soon as it is true, so done and
 * its context are read before. */
static void verify_jobs(kula_verifier *v, kula_verify_batch *b, size_t first, size_t k)
{
    for (size_t i = first; i < first + k; i++)
        b->jobs[i].ok = kula_verify(&b->jobs[i].key, b->jobs[i].digest.b, &b->jobs[i].sig);
    if (atomic_fetch_sub(&b->left, k) != k)
        return;
    pthread_mutex_lock(&v->mu);
    void (*done)(void *) = b->done;
    void *ctx = b->ctx;
    atomic_store(&b->finished, true);
    if (done != NULL)
        done(ctx);
    pthread_cond_broadcast(&v->done);
    pthread_mutex_unlock(&v->mu);
}

static void *worker(void *arg)
{
    kula_verifier *v = arg;
    pthread_mutex_lock(&v->mu);
    for (;;) {
        while (!v->stop && v->head == NULL)
            pthread_cond_wait(&v->work, &v->mu);
        if (v->stop)
            break;
        kula_verify_batch *b = NULL;
        size_t first = 0, k = claim(v, NULL, &b, &first);
        if (k == 0)
            continue; /* not reached: a queued batch has jobs to hand out */
        pthread_mutex_unlock(&v->mu);
        verify_jobs(v, b, first, k);
        pthread_mutex_lock(&v->mu);
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
    atomic_init(&v->own.left, 0);
    atomic_init(&v->own.finished, true);
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
    assert(v->head == NULL && "every queued batch finished before the verifier is freed");
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

static void batch_init(kula_verify_batch *b, kula_verify_job *jobs, size_t n,
                       void (*done)(void *), void *ctx)
{
    b->jobs = jobs;
    b->n = n;
    b->next = 0;
    atomic_init(&b->left, n);
    atomic_init(&b->finished, n == 0);
    b->done = done;
    b->ctx = ctx;
    b->qnext = NULL;
}

void kula_verifier_queue(kula_verifier *v, kula_verify_batch *b, kula_verify_job *jobs,
                         size_t n, void (*done)(void *ctx), void *ctx)
{
    batch_init(b, jobs, n, done, ctx);
    if (n == 0) {
        if (done != NULL)
            done(ctx);
        return;
    }
    pthread_mutex_lock(&v->mu);
    if (v->tail != NULL)
        v->tail->qnext = b;
    else
        v->head = b;
    v->tail = b;
    pthread_cond_broadcast(&v->work);
    pthread_mutex_unlock(&v->mu);
}

bool kula_verifier_finished(const kula_verify_batch *b) { return atomic_load(&b->finished); }

/* Waits until b is finished, verifying its jobs meanwhile if help. */
static void wait_for(kula_verifier *v, kula_verify_batch *b, bool help)
{
    pthread_mutex_lock(&v->mu);
    for (;;) {
        kula_verify_batch *cb = NULL;
        size_t first = 0, k = help ? claim(v, b, &cb, &first) : 0;
        if (k == 0)
            break;
        pthread_mutex_unlock(&v->mu);
        verify_jobs(v, b, first, k);
        pthread_mutex_lock(&v->mu);
    }
    while (!atomic_load(&b->finished))
        pthread_cond_wait(&v->done, &v->mu);
    pthread_mutex_unlock(&v->mu);
}

void kula_verifier_await(kula_verifier *v, kula_verify_batch *b) { wait_for(v, b, true); }

void kula_verifier_run(kula_verifier *v, kula_verify_job *jobs, size_t n)
{
    /* A few signatures cost less than waking the workers. */
    if (n <= 2) {
        for (size_t i = 0; i < n; i++)
            jobs[i].ok = kula_verify(&jobs[i].key, jobs[i].digest.b, &jobs[i].sig);
        return;
    }
    kula_verify_batch b;
    batch_init(&b, jobs, n, NULL, NULL);
    pthread_mutex_lock(&v->mu);
    b.qnext = v->head; /* ahead of the queue */
    v->head = &b;
    if (v->tail == NULL)
        v->tail = &b;
    pthread_cond_broadcast(&v->work);
    pthread_mutex_unlock(&v->mu);
    wait_for(v, &b, true);
}

void kula_verifier_start(kula_verifier *v, kula_verify_job *jobs, size_t n)
{
    kula_verifier_queue(v, &v->own, jobs, n, NULL, NULL);
}

/* The caller only waits: the audit keeps to the threads it asked for. */
void kula_verifier_wait(kula_verifier *v) { wait_for(v, &v->own, false); }
