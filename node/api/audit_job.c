/* audit_job.c -- the node's audit of its own chain, a kind of job (job.h):
 * kula_audit_run, then the analytics of kula report, over an archive of the
 * node's own store. */
#include "audit_job.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
    kula_job *j;
    kula_analytics *an;
    uint64_t height;
} fig_ctx;

static int count_tx(void *ctx, kula_ledger *l, const kula_replay_tx *t)
{
    fig_ctx *f = ctx;
    if (kula_job_stopping(f->j))
        return KULA_ESTORE;
    if (t->height != f->height) {
        f->height = t->height;
        kula_job_progress(f->j, t->height, 0);
    }
    return kula_analytics_add(f->an, l, t);
}

/* The analytics over blocks 1..tip.  Returns: the figures, or NULL. */
static json_t *compute_figures(kula_job *j, kula_archive *a, uint64_t tip)
{
    kula_analytics an;
    kula_replay *r = NULL;
    json_t *out = NULL;
    if (kula_analytics_init(&an, KULA_PERIOD_DAY) != 0)
        return NULL;
    fig_ctx f = { j, &an, 0 };
    int rc = kula_replay_new(&r, a);
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

/* The job's run (job.h): kula_audit_run, then the figures. */
static void *run(kula_job *j, kula_archive *a, const void *arg)
{
    (void)arg;
    kula_audit_result res;
    /* One verifier thread: the node keeps the machine's other cores. */
    kula_audit_opts opts = { .threads = 1, .progress = kula_job_progress, .ctx = j,
                             .stop = kula_job_stop_flag(j) };
    int rc = kula_audit_run(a, &opts, &res);
    if (kula_job_stopping(j))
        return NULL;
    json_t *figs = json_null();
    if (rc == 0) {
        kula_job_phase(j, "figures");
        figs = compute_figures(j, a, res.tip);
        if (figs == NULL)
            figs = json_null();
    }
    return json_pack("{s:o, s:o}", "result", result_json(&res), "figures", figs);
}

static void show(json_t *status, const void *found)
{
    json_object_update(status, (json_t *)found);
}

static void drop(void *found) { json_decref(found); }

const kula_job_kind kula_audit_job = { "audit", "verify", run, show, drop };
