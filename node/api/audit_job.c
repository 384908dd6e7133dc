/* audit_job.c -- the node's audit of its own chain on a worker thread
 * (audit_job.h): kula_audit_run, then the analytics of kula report, over
 * an archive of the node's own store. */
#include "audit_job.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kula/audit/analytics.h"
#include "kula/audit/audit.h"
#include "kula/types/txjson.h"

/* What the figures hold, so that their JSON stays small whatever the
 * ledger (about 300 KiB at most, the graph's flows the most of it): the
 * last FIG_DAYS days with transactions, the FIG_TOP largest givers and
 * members with the most partners, and the graph of the first FIG_GRAPH
 * members (the page draws no more). */
#define FIG_DAYS 60u
#define FIG_TOP 15u
#define FIG_GRAPH 200u

enum job_state { JOB_NONE, JOB_RUNNING, JOB_DONE };

struct kula_audit_job {
    kula_rpc_env *env;
    pthread_mutex_t mu;
    /* under mu: */
    enum job_state state;
    bool figures_phase;
    uint64_t done, tip;
    json_t *result;        /* set by the worker when done; then the loop's */
    /* the loop's: */
    bool thread_live;      /* started and not yet joined */
    pthread_t thread;
    kula_archive *archive; /* closed by the loop once the thread is joined */
    kula_store *reader;    /* the archive's store, to stop its reads */
    atomic_bool stop;
};

int kula_audit_job_new(kula_audit_job **out, kula_rpc_env *env)
{
    kula_audit_job *j = calloc(1, sizeof(*j));
    if (j == NULL || pthread_mutex_init(&j->mu, NULL) != 0) {
        free(j);
        return KULA_ENOMEM;
    }
    j->env = env;
    atomic_init(&j->stop, false);
    *out = j;
    return KULA_OK;
}

/* Waits for a finished (or stopping) worker and closes its archive. */
static void job_join(kula_audit_job *j)
{
    if (j->thread_live) {
        pthread_join(j->thread, NULL);
        j->thread_live = false;
    }
    kula_archive_close(j->archive);
    j->archive = NULL;
    j->reader = NULL;
}

void kula_audit_job_free(kula_audit_job *j)
{
    if (j == NULL)
        return;
    atomic_store(&j->stop, true);
    if (j->reader != NULL)
        kula_store_reader_stop(j->reader);
    job_join(j);
    json_decref(j->result);
    pthread_mutex_destroy(&j->mu);
    free(j);
}

void (*kula_audit_job_test_hook)(kula_audit_job *j, uint64_t height);

bool kula_audit_job_stopping(const kula_audit_job *j) { return atomic_load(&j->stop); }

static void progress(void *ctx, uint64_t done, uint64_t total)
{
    kula_audit_job *j = ctx;
    (void)total;
    pthread_mutex_lock(&j->mu);
    j->done = done;
    pthread_mutex_unlock(&j->mu);
    if (kula_audit_job_test_hook != NULL)
        kula_audit_job_test_hook(j, done);
}

/* ---- the figures ---- */

/* Sums as JSON integers in the unit's smallest part; a sum beyond 2^63
 * (no real ledger comes near) saturates. */
static json_t *jsum(kula_sum v)
{
    return json_integer(v > (kula_sum)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

static json_t *member_ref(const kula_member_stats *m)
{
    return json_pack("{s:I, s:s}", "id", (json_int_t)m->id, "name", m->name);
}

/* The n members with the largest key (given, or partners), ties by id. */
static json_t *top_members(const kula_analytics *an, bool by_given)
{
    json_t *list = json_array();
    bool *taken = calloc(an->nmembers + 1u, 1);
    if (list == NULL || taken == NULL) {
        free(taken);
        json_decref(list);
        return NULL;
    }
    for (unsigned k = 0; k < FIG_TOP; k++) {
        const kula_member_stats *best = NULL;
        for (uint32_t i = 0; i < an->nmembers; i++) {
            const kula_member_stats *m = &an->members[i];
            kula_sum key = by_given ? m->given : m->partners;
            if (taken[i] || key == 0)
                continue;
            if (best == NULL || key > (by_given ? best->given : best->partners))
                best = m;
        }
        if (best == NULL)
            break;
        taken[best->id - 1] = true;
        json_t *x = member_ref(best);
        json_object_set_new(x, "value", by_given ? jsum(best->given) : json_integer(best->partners));
        json_array_append_new(list, x);
    }
    free(taken);
    return list;
}

/* The graph of the first FIG_GRAPH members: each pair that traded once,
 * with the value that flowed both ways. */
static json_t *graph(const kula_analytics *an)
{
    uint32_t n = an->nmembers < FIG_GRAPH ? an->nmembers : FIG_GRAPH;
    json_t *nodes = json_array(), *edges = json_array();
    for (uint32_t i = 0; i < n; i++)
        json_array_append_new(nodes, member_ref(&an->members[i]));
    for (size_t i = 0; i < an->nflows; i++) {
        const kula_flow *f = &an->flows[i];
        if (f->from > n || f->to > n || f->from == f->to)
            continue;
        const kula_flow *back = kula_analytics_flow(an, f->to, f->from);
        if (f->from > f->to && back != NULL)
            continue; /* counted with its pair */
        kula_sum v = f->value + (back != NULL ? back->value : 0);
        json_array_append_new(edges, json_pack("{s:I, s:I, s:o}", "a", (json_int_t)f->from, "b",
                                               (json_int_t)f->to, "value", jsum(v)));
    }
    return json_pack("{s:o, s:o}", "members", nodes, "pairs", edges);
}

static json_t *figures(const kula_analytics *an)
{
    json_t *days = json_array();
    size_t from = an->nperiods > FIG_DAYS ? an->nperiods - FIG_DAYS : 0;
    for (size_t i = from; i < an->nperiods; i++) {
        const kula_period_stats *p = &an->periods[i];
        json_array_append_new(days, json_pack("{s:s, s:I, s:o}", "day", p->label, "transactions",
                                              (json_int_t)p->txs, "volume", jsum(p->volume)));
    }
    return json_pack("{s:I, s:I, s:o, s:I, s:I, s:f, s:I, s:o, s:o, s:o, s:o}", "height",
                     (json_int_t)an->height, "transactions", (json_int_t)an->txs, "volume",
                     jsum(an->volume), "members", (json_int_t)an->nmembers, "pairs",
                     (json_int_t)an->pairs, "density", an->density, "days_with_transactions",
                     (json_int_t)an->nperiods, "days", days, "givers", top_members(an, true),
                     "partners", top_members(an, false), "graph", graph(an));
}

typedef struct fig_ctx {
    kula_audit_job *j;
    kula_analytics *an;
    uint64_t height;
} fig_ctx;

static int count_tx(void *ctx, kula_ledger *l, const kula_replay_tx *t)
{
    fig_ctx *f = ctx;
    if (atomic_load(&f->j->stop))
        return KULA_ESTORE;
    if (t->height != f->height) {
        f->height = t->height;
        progress(f->j, t->height, 0);
    }
    return kula_analytics_add(f->an, l, t);
}

/* The analytics over blocks 1..tip.  Returns: the figures, or NULL. */
static json_t *compute_figures(kula_audit_job *j, uint64_t tip)
{
    kula_analytics an;
    kula_replay *r = NULL;
    json_t *out = NULL;
    if (kula_analytics_init(&an, KULA_PERIOD_DAY) != 0)
        return NULL;
    fig_ctx f = { j, &an, 0 };
    int rc = kula_replay_new(&r, j->archive);
    if (rc == 0) {
        kula_replay_on_payment(r, count_tx, &f); /* clearings' payments (LEDGER §9.6) */
        rc = kula_replay_run(r, tip, count_tx, &f, NULL, NULL);
    }
    if (rc == 0)
        rc = kula_analytics_finish(&an, kula_replay_ledger(r), kula_replay_height(r));
    if (rc == 0)
        out = figures(&an);
    kula_replay_free(r);
    kula_analytics_free(&an);
    return out;
}

/* ---- the worker ---- */

static json_t *result_json(const kula_audit_result *res)
{
    char tip[2 * KULA_HASH_LEN + 1], root[2 * KULA_HASH_LEN + 1];
    kula_hex_encode(tip, res->tip_hash.b, KULA_HASH_LEN);
    kula_hex_encode(root, res->state_root.b, KULA_HASH_LEN);
    json_t *failure = res->ok ? json_null()
                              : json_pack("{s:I, s:s, s:s}", "height",
                                          (json_int_t)res->failed_height, "check",
                                          kula_audit_check_name(res->check), "error",
                                          res->error.what);
    return json_pack("{s:b, s:I, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:f, s:o}", "ok", res->ok,
                     "tip_height", (json_int_t)res->height, "tip_hash", tip, "state_root", root,
                     "blocks", (json_int_t)res->blocks, "transactions", (json_int_t)res->txs,
                     "tx_signatures", (json_int_t)res->tx_signatures, "commit_signatures",
                     (json_int_t)res->commit_signatures, "settlements",
                     (json_int_t)res->settlements, "seconds", res->seconds, "failure", failure);
}

static void *worker(void *arg)
{
    kula_audit_job *j = arg;
    /* Below the loop and consensus: the verifier thread kula_audit_run
     * starts inherits this nice value (Linux: per thread). */
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10) != 0) {
        /* not fatal: the audit then competes at the node's priority */
    }
    kula_audit_result res;
    /* One verifier thread: the node keeps the machine's other cores. */
    kula_audit_opts opts = { .threads = 1, .progress = progress, .ctx = j, .stop = &j->stop };
    int rc = kula_audit_run(j->archive, &opts, &res);
    json_t *out = NULL;
    if (!atomic_load(&j->stop)) {
        json_t *figs = json_null();
        if (rc == 0) {
            pthread_mutex_lock(&j->mu);
            j->figures_phase = true;
            j->done = 0;
            pthread_mutex_unlock(&j->mu);
            figs = compute_figures(j, res.tip);
            if (figs == NULL)
                figs = json_null();
        }
        out = json_pack("{s:o, s:o}", "result", result_json(&res), "figures", figs);
    }
    pthread_mutex_lock(&j->mu);
    j->result = out;
    j->state = JOB_DONE;
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

int kula_audit_job_start(kula_audit_job *j, bool *started, kula_error *e)
{
    *started = false;
    pthread_mutex_lock(&j->mu);
    bool running = j->state == JOB_RUNNING;
    pthread_mutex_unlock(&j->mu);
    if (running)
        return KULA_OK;
    job_join(j); /* the last one, finished */
    kula_store *reader;
    int rc = kula_store_reader_open(&reader, j->env->store);
    if (rc != 0)
        return kula_error_set(e, rc, "cannot read the node's ledger: %s", kula_strerror(rc));
    /* The archive fixes the tip the audit stops at: the node's now. */
    rc = kula_archive_open_store(&j->archive, reader, "the node's ledger", e);
    if (rc != 0)
        return rc;
    j->reader = reader;
    pthread_mutex_lock(&j->mu);
    json_decref(j->result);
    j->result = NULL;
    j->state = JOB_RUNNING;
    j->figures_phase = false;
    j->done = 0;
    j->tip = kula_archive_tip(j->archive);
    pthread_mutex_unlock(&j->mu);
    if (pthread_create(&j->thread, NULL, worker, j) != 0) {
        pthread_mutex_lock(&j->mu);
        j->state = JOB_NONE;
        pthread_mutex_unlock(&j->mu);
        job_join(j);
        return kula_error_set(e, KULA_ENOMEM, "cannot start the audit's thread");
    }
    j->thread_live = true;
    *started = true;
    return KULA_OK;
}

json_t *kula_audit_job_status(kula_audit_job *j)
{
    static const char *const states[] = { "none", "running", "done" };
    pthread_mutex_lock(&j->mu);
    json_t *o = json_pack("{s:s, s:I, s:I}", "state", states[j->state], "height",
                          (json_int_t)j->done, "of", (json_int_t)j->tip);
    if (o != NULL && j->state == JOB_RUNNING)
        json_object_set_new(o, "phase", json_string(j->figures_phase ? "figures" : "verify"));
    if (o != NULL && j->state == JOB_DONE && j->result != NULL)
        json_object_update(o, j->result);
    pthread_mutex_unlock(&j->mu);
    return o;
}
