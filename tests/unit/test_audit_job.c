/* test_audit_job.c -- the node's audit of its own chain through JSON-RPC
 * (node/api/audit_job.c, a kind of node/api/job.c; methods audit and
 * audit_status), on the ledger fixture's store as a node holds it open: a
 * start, its progress, a second start while it runs, a result equal to
 * kula audit's (kula_audit_run on the data directory once the node's store
 * is closed) and figures equal to kula report's, a flipped byte reported at
 * its block, and a stop that ends the worker before its next block. */
#include <criterion/criterion.h>

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "kula/api/rpc.h"
#include "kula/audit/analytics.h"
#include "kula/audit/audit.h"
#include "jobhold.h"
#include "ledgerfix.h"

#include "api/audit_job.h"
#include "api/rpc_testing.h"

static lf F;
static kula_rpc_env ENV;
static kula_rpc *RPC;

static void setup(void) { lf_init(&F); }
static void teardown(void)
{
    kula_job_test_hook = NULL;
    kula_rpc_free_detached(RPC);
    RPC = NULL;
    lf_free(&F);
}

TestSuite(audit_job, .init = setup, .fini = teardown, .timeout = 120);

static void serve(void)
{
    ENV = (kula_rpc_env){ .chain = F.chain, .store = F.store, .genesis = &F.g };
    cr_assert_eq(kula_rpc_new_detached(&RPC, &ENV), 0);
}

/* The result of method (no parameters); fails the test on an error. */
static json_t *call(const char *method)
{
    char body[200], *out = NULL;
    unsigned status;
    snprintf(body, sizeof(body), "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%s\"}", method);
    kula_rpc_handle(RPC, (const uint8_t *)body, strlen(body), &out, &status);
    cr_assert_not_null(out);
    json_t *j = json_loads(out, 0, NULL);
    cr_assert_not_null(j, "%s", out);
    json_t *res = json_incref(json_object_get(j, "result"));
    cr_assert_not_null(res, "%s: %s", method, out);
    free(out);
    json_decref(j);
    return res;
}

static const char *str(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }
static json_int_t num(json_t *o, const char *k) { return json_integer_value(json_object_get(o, k)); }

static json_t *audit_status(void *ctx)
{
    (void)ctx;
    return call("audit_status");
}

/* audit_status until the audit is done (10 s at most). */
static json_t *wait_done(void) { return job_wait_done(audit_status, NULL, "the audit"); }

/* The scenario and then `more` blocks of one transfer each. */
static void chain(unsigned more)
{
    lf_scenario(&F);
    for (unsigned i = 0; i < more; i++) {
        lf_transfer(&F, 1 + i % 4, 1 + (i + 1) % 4, 10 + i, "");
        lf_block(&F, F.g.time_ms + (42 + i) * LF_DAY);
    }
}

Test(audit_job, status_before_any_audit_says_none)
{
    chain(0);
    serve();
    json_t *st = call("audit_status");
    cr_assert_str_eq(str(st, "state"), "none");
    json_decref(st);
}

/* What kula audit DATADIR and kula report find on the fixture's chain now
 * (the node's store closed meanwhile: LMDB allows one environment per
 * process). */
static void offline(kula_audit_result *want, kula_analytics *an)
{
    lf_close(&F);
    kula_archive *a;
    kula_error e;
    cr_assert_eq(kula_archive_open(&a, F.dir, &e), 0, "%s", e.what);
    kula_audit_opts o = { .threads = 2 };
    cr_assert_eq(kula_audit_run(a, &o, want), 0);
    uint64_t bad;
    cr_assert_eq(kula_analytics_compute(an, a, KULA_PERIOD_DAY, &e, &bad), 0);
    kula_archive_close(a);
    lf_open(&F);
}

Test(audit_job, start_progress_second_start_and_result_equal_kula_audit)
{
    chain(20);
    uint64_t tip = 25;
    kula_audit_result want;
    kula_analytics an;
    offline(&want, &an);
    cr_assert_eq(want.height, tip);
    serve();
    kula_job_test_hook = hold_first;
    json_t *st = call("audit");
    cr_assert(json_is_true(json_object_get(st, "started")));
    cr_assert_str_eq(str(st, "state"), "running");
    cr_assert_eq(num(st, "of"), (json_int_t)tip);
    json_decref(st);
    wait_held();
    /* a second start while it runs: its progress, no second audit */
    st = call("audit");
    cr_assert(json_is_false(json_object_get(st, "started")));
    cr_assert_str_eq(str(st, "state"), "running");
    cr_assert_str_eq(str(st, "phase"), "verify");
    cr_assert_eq(num(st, "height"), 1, "verified %lld", (long long)num(st, "height"));
    cr_assert_eq(num(st, "of"), (json_int_t)tip);
    json_decref(st);
    /* a block the node commits meanwhile is not looked at */
    lf_transfer(&F, 1, 2, 5, "");
    lf_block(&F, F.g.time_ms + 90 * LF_DAY);
    release();
    st = wait_done();
    cr_assert_eq(atomic_load(&last_height), tip);
    json_t *r = json_object_get(st, "result");
    cr_assert(json_is_true(json_object_get(r, "ok")), "%s", json_dumps(st, 0));
    cr_assert(json_is_null(json_object_get(r, "failure")));
    cr_assert_eq(num(r, "tip_height"), (json_int_t)tip);
    cr_assert_eq(num(r, "blocks"), (json_int_t)tip);
    char hex[2 * KULA_HASH_LEN + 1];
    kula_hex_encode(hex, want.tip_hash.b, KULA_HASH_LEN);
    cr_assert_str_eq(str(r, "tip_hash"), hex);
    kula_hex_encode(hex, want.state_root.b, KULA_HASH_LEN);
    cr_assert_str_eq(str(r, "state_root"), hex);
    cr_assert_eq(num(r, "transactions"), (json_int_t)want.txs);
    cr_assert_eq(num(r, "tx_signatures"), (json_int_t)want.tx_signatures);
    cr_assert_eq(num(r, "commit_signatures"), (json_int_t)want.commit_signatures);
    cr_assert_eq(num(r, "settlements"), 2);

    /* the figures are kula report's (kula_analytics over blocks 1..tip) */
    json_t *fig = json_object_get(st, "figures");
    cr_assert_eq(num(fig, "height"), (json_int_t)tip);
    cr_assert_eq(num(fig, "transactions"), (json_int_t)an.txs);
    cr_assert_eq(num(fig, "volume"), (json_int_t)an.volume);
    cr_assert_eq(num(fig, "pairs"), (json_int_t)an.pairs);
    cr_assert_eq(num(fig, "members"), (json_int_t)an.nmembers);
    json_t *days = json_object_get(fig, "days");
    cr_assert_eq(json_array_size(days), an.nperiods);
    cr_assert_str_eq(str(json_array_get(days, 0), "day"), an.periods[0].label);
    cr_assert_eq(num(json_array_get(days, 0), "volume"), (json_int_t)an.periods[0].volume);
    uint32_t top = 0;
    for (uint32_t i = 0; i < an.nmembers; i++)
        if (top == 0 || an.members[i].given > an.members[top - 1].given)
            top = i + 1;
    json_t *g0 = json_array_get(json_object_get(fig, "givers"), 0);
    cr_assert_eq(num(g0, "id"), (json_int_t)top);
    cr_assert_eq(num(g0, "value"), (json_int_t)an.members[top - 1].given);
    cr_assert_str_eq(str(g0, "name"), an.members[top - 1].name);
    json_t *pairs = json_object_get(json_object_get(fig, "graph"), "pairs");
    cr_assert_eq(json_array_size(pairs), an.pairs);
    kula_analytics_free(&an);
    json_decref(st);

    /* a new start once done audits up to the new tip */
    st = call("audit");
    cr_assert(json_is_true(json_object_get(st, "started")));
    cr_assert_eq(num(st, "of"), (json_int_t)(tip + 1));
    json_decref(st);
    st = wait_done();
    r = json_object_get(st, "result");
    cr_assert(json_is_true(json_object_get(r, "ok")));
    cr_assert_eq(num(r, "tip_height"), (json_int_t)(tip + 1));
    json_decref(st);
}

Test(audit_job, flipped_byte_is_reported_at_its_block)
{
    chain(3);
    lf_close(&F);
    lf_flip_memo(&F);
    lf_open(&F);
    serve();
    json_decref(call("audit"));
    json_t *st = wait_done();
    json_t *r = json_object_get(st, "result");
    cr_assert(json_is_false(json_object_get(r, "ok")));
    json_t *f = json_object_get(r, "failure");
    cr_assert_eq(num(f, "height"), 1);
    cr_assert_str_eq(str(f, "check"), "txs_root");
    cr_assert_str_eq(str(f, "error"), "transactions root does not match");
    cr_assert_eq(num(r, "tip_height"), 0);
    cr_assert(json_is_null(json_object_get(st, "figures")));
    json_decref(st);
}

Test(audit_job, a_stopping_node_ends_the_audit_before_its_next_block)
{
    chain(20);
    serve();
    kula_job_test_hook = hold_first;
    json_decref(call("audit"));
    wait_held();
    /* as kulad stops: the job is freed with the API; it waits for the
     * worker, which must end at once rather than verify the other blocks */
    kula_rpc_free_detached(RPC);
    RPC = NULL;
    cr_assert(saw_stop, "the worker was not told to stop");
    cr_assert_eq(atomic_load(&last_height), 1, "it went on to block %llu",
                 (unsigned long long)atomic_load(&last_height));
}
