/* job.c -- a long read of the node's own ledger on a worker thread (job.h):
 * the thread, its archive of the node's store, its progress and its stop. */
#include "job.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

enum job_state { JOB_NONE, JOB_RUNNING, JOB_DONE };

struct kula_job {
    kula_rpc_env *env;
    const kula_job_kind *kind;
    pthread_mutex_t mu;
    /* under mu: */
    enum job_state state;
    const char *phase;
    uint64_t done, tip;
    void *found;           /* set by the worker when done; then the loop's */
    /* the loop's (the worker reads arg, which does not change while it runs): */
    void *arg;
    bool thread_live;      /* started and not yet joined */
    pthread_t thread;
    kula_archive *archive; /* closed by the loop once the thread is joined */
    kula_store *reader;    /* the archive's store, to stop its reads */
    atomic_bool stop;
};

void (*kula_job_test_hook)(kula_job *j, uint64_t height);

int kula_job_new(kula_job **out, kula_rpc_env *env, const kula_job_kind *kind)
{
    kula_job *j = calloc(1, sizeof(*j));
    if (j == NULL || pthread_mutex_init(&j->mu, NULL) != 0) {
        free(j);
        return KULA_ENOMEM;
    }
    j->env = env;
    j->kind = kind;
    atomic_init(&j->stop, false);
    *out = j;
    return KULA_OK;
}

/* Waits for a finished (or stopping) worker and closes its archive. */
static void job_join(kula_job *j)
{
    if (j->thread_live) {
        pthread_join(j->thread, NULL);
        j->thread_live = false;
    }
    kula_archive_close(j->archive);
    j->archive = NULL;
    j->reader = NULL;
}

void kula_job_free(kula_job *j)
{
    if (j == NULL)
        return;
    atomic_store(&j->stop, true);
    if (j->reader != NULL)
        kula_store_reader_stop(j->reader);
    job_join(j);
    j->kind->drop(j->found);
    free(j->arg);
    pthread_mutex_destroy(&j->mu);
    free(j);
}

bool kula_job_stopping(const kula_job *j) { return atomic_load(&j->stop); }

const atomic_bool *kula_job_stop_flag(const kula_job *j) { return &j->stop; }

void kula_job_progress(void *ctx, uint64_t done, uint64_t total)
{
    kula_job *j = ctx;
    (void)total;
    pthread_mutex_lock(&j->mu);
    j->done = done;
    pthread_mutex_unlock(&j->mu);
    if (kula_job_test_hook != NULL)
        kula_job_test_hook(j, done);
}

void kula_job_phase(kula_job *j, const char *phase)
{
    pthread_mutex_lock(&j->mu);
    j->phase = phase;
    j->done = 0;
    pthread_mutex_unlock(&j->mu);
}

static void *worker(void *arg)
{
    kula_job *j = arg;
    /* Below the loop and consensus: threads the job starts (the audit's
     * verifier) inherit this nice value (Linux: per thread). */
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10) != 0) {
        /* not fatal: the job then competes at the node's priority */
    }
    void *found = j->kind->run(j, j->archive, j->arg);
    if (atomic_load(&j->stop)) {
        j->kind->drop(found);
        found = NULL;
    }
    pthread_mutex_lock(&j->mu);
    j->found = found;
    j->state = JOB_DONE;
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

bool kula_job_running(kula_job *j)
{
    pthread_mutex_lock(&j->mu);
    bool running = j->state == JOB_RUNNING;
    pthread_mutex_unlock(&j->mu);
    return running;
}

int kula_job_start(kula_job *j, const void *arg, size_t arg_len, bool *started, kula_error *e)
{
    *started = false;
    if (kula_job_running(j))
        return KULA_OK;
    job_join(j); /* the last one, finished */
    void *copy = malloc(arg_len > 0 ? arg_len : 1);
    if (copy == NULL)
        return kula_error_set(e, KULA_ENOMEM, "out of memory");
    if (arg_len > 0)
        memcpy(copy, arg, arg_len);
    kula_store *reader;
    int rc = kula_store_reader_open(&reader, j->env->store);
    if (rc != 0) {
        free(copy);
        return kula_error_set(e, rc, "cannot read the node's ledger: %s", kula_strerror(rc));
    }
    /* The archive fixes the tip the job stops at: the node's now. */
    rc = kula_archive_open_store(&j->archive, reader, "the node's ledger", e);
    if (rc != 0) {
        free(copy);
        return rc;
    }
    j->reader = reader;
    free(j->arg);
    j->arg = copy;
    pthread_mutex_lock(&j->mu);
    j->kind->drop(j->found);
    j->found = NULL;
    j->state = JOB_RUNNING;
    j->phase = j->kind->phase;
    j->done = 0;
    j->tip = kula_archive_tip(j->archive);
    pthread_mutex_unlock(&j->mu);
    if (pthread_create(&j->thread, NULL, worker, j) != 0) {
        pthread_mutex_lock(&j->mu);
        j->state = JOB_NONE;
        pthread_mutex_unlock(&j->mu);
        job_join(j);
        return kula_error_set(e, KULA_ENOMEM, "cannot start the %s's thread", j->kind->name);
    }
    j->thread_live = true;
    *started = true;
    return KULA_OK;
}

json_t *kula_job_status(kula_job *j)
{
    static const char *const states[] = { "none", "running", "done" };
    pthread_mutex_lock(&j->mu);
    json_t *o = json_pack("{s:s, s:I, s:I}", "state", states[j->state], "height",
                          (json_int_t)j->done, "of", (json_int_t)j->tip);
    if (o != NULL && j->state == JOB_RUNNING && j->phase != NULL)
        json_object_set_new(o, "phase", json_string(j->phase));
    if (o != NULL && j->state == JOB_DONE && j->found != NULL)
        j->kind->show(o, j->found);
    pthread_mutex_unlock(&j->mu);
    return o;
}

const void *kula_job_arg(kula_job *j) { return j->arg; }

const void *kula_job_found(kula_job *j)
{
    pthread_mutex_lock(&j->mu);
    const void *found = j->state == JOB_DONE ? j->found : NULL;
    pthread_mutex_unlock(&j->mu);
    return found;
}
