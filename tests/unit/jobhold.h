/* jobhold.h -- a test hook of node/api/job.c (kula_job_test_hook) that
 * holds a job's worker at its first report of progress until the test
 * releases it or the job is asked to stop, and notes the heights it
 * reported; and a wait for a job to be done: the tests of the audit and
 * the statement jobs.  Header only: each test file is its own program. */
#ifndef KULA_JOBHOLD_H
#define KULA_JOBHOLD_H

#include <criterion/criterion.h>

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "api/job.h"

static pthread_mutex_t hmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hcv = PTHREAD_COND_INITIALIZER;
static bool held, release_it, saw_stop;
static atomic_uint_fast64_t first_height, last_height;

__attribute__((unused)) static void hold_first(kula_job *j, uint64_t height)
{
    atomic_store(&last_height, height);
    pthread_mutex_lock(&hmu);
    if (!held) {
        held = true;
        atomic_store(&first_height, height);
        pthread_cond_broadcast(&hcv);
        /* until the test releases it or the job is stopped (10 s at most) */
        for (int i = 0; i < 1000 && !release_it && !kula_job_stopping(j); i++) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 10000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&hcv, &hmu, &ts);
        }
        saw_stop = kula_job_stopping(j);
    }
    pthread_mutex_unlock(&hmu);
}

/* Waits (10 s at most) until the worker is held. */
__attribute__((unused)) static void wait_held(void)
{
    pthread_mutex_lock(&hmu);
    for (int i = 0; i < 1000 && !held; i++) {
        pthread_mutex_unlock(&hmu);
        nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
        pthread_mutex_lock(&hmu);
    }
    bool h = held;
    pthread_mutex_unlock(&hmu);
    cr_assert(h, "the job never reported its first block");
}

__attribute__((unused)) static void release(void)
{
    pthread_mutex_lock(&hmu);
    release_it = true;
    pthread_cond_broadcast(&hcv);
    pthread_mutex_unlock(&hmu);
}

/* Polls status(ctx), a job's status object (a new reference), until its
 * state is "done" (10 s at most; what: the job, in the failure).
 * Returns: that status (caller decrefs). */
__attribute__((unused)) static json_t *job_wait_done(json_t *(*status)(void *ctx), void *ctx,
                                                     const char *what)
{
    for (int i = 0; i < 2000; i++) {
        json_t *st = status(ctx);
        cr_assert_not_null(st);
        if (strcmp(json_string_value(json_object_get(st, "state")), "done") == 0)
            return st;
        json_decref(st);
        nanosleep(&(struct timespec){ 0, 5000000 }, NULL);
    }
    cr_assert_fail("%s was not done in 10 s", what);
    return NULL;
}

#endif /* KULA_JOBHOLD_H */
