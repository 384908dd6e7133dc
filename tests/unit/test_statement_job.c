/* test_statement_job.c -- a member's statement made by the node for the web
 * wallet (node/api/statement_job.c, a kind of node/api/job.c), on the
 * ledger fixture's store as a node holds it open: the bytes equal what kula
 * export --member writes (kula_statement_run on the data directory once the
 * node's store is closed) for the same period, in each format, and a block
 * committed meanwhile is not in it; a second start while one runs starts
 * nothing and another session sees only that the node is busy; a stop ends
 * the worker before its next block; another session, or the session once
 * its key is another member's, cannot fetch it; past the bound, an error in
 * words and nothing to fetch; the download's name. */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kula/audit/statement.h"
#include "jobhold.h"
#include "ledgerfix.h"

#include "api/job.h"
#include "api/statement_job.h"

static lf F;
static kula_rpc_env ENV;
static kula_job *J;

#define MINE "1111111111111111111111111111111111111111111111111111111111111111"
#define OTHER "2222222222222222222222222222222222222222222222222222222222222222"

static void setup(void) { lf_init(&F); }
static void teardown(void)
{
    kula_job_test_hook = NULL;
    kula_statement_job_max = KULA_STATEMENT_JOB_MAX;
    kula_job_free(J);
    J = NULL;
    lf_free(&F);
}

TestSuite(statement_job, .init = setup, .fini = teardown, .timeout = 120);

/* The scenario and then `more` blocks of one transfer each. */
static void chain(unsigned more)
{
    lf_scenario(&F);
    for (unsigned i = 0; i < more; i++) {
        lf_transfer(&F, 1 + i % 4, 1 + (i + 1) % 4, 10 + i, "");
        lf_block(&F, F.g.time_ms + (42 + i) * LF_DAY);
    }
}

static void serve(void)
{
    ENV = (kula_rpc_env){ .chain = F.chain, .store = F.store, .genesis = &F.g };
    cr_assert_eq(kula_job_new(&J, &ENV, &kula_statement_job), 0);
}

/* Agency's statement (member 2) of days 10 to 49 of the chain. */
static kula_statement_opts period(enum kula_statement_format format, bool journal)
{
    return (kula_statement_opts){ .format = format, .journal = journal, .member = 2,
                                  .from_ms = F.g.time_ms + 10 * LF_DAY,
                                  .to_ms = F.g.time_ms + 50 * LF_DAY };
}

/* What kula export --member writes for o: kula_statement_run on the data
 * directory (the node's store closed meanwhile: LMDB allows one
 * environment per process).  Out: *len.  Returns: malloc'd bytes. */
static char *offline(const kula_statement_opts *o, size_t *len)
{
    lf_close(&F);
    kula_archive *a;
    kula_error e;
    cr_assert_eq(kula_archive_open(&a, F.dir, &e), 0, "%s", e.what);
    char *text = NULL;
    FILE *out = open_memstream(&text, len);
    cr_assert_not_null(out);
    uint64_t rows, bad;
    cr_assert_eq(kula_statement_run(a, out, o, &rows, &e, &bad), 0, "%s", e.what);
    fclose(out);
    kula_archive_close(a);
    lf_open(&F);
    return text;
}

static void start(const kula_statement_opts *o, const char *session, bool want_started)
{
    kula_statement_ask ask;
    memset(&ask, 0, sizeof(ask));
    ask.opts = *o;
    snprintf(ask.session, sizeof(ask.session), "%s", session);
    kula_statement_job_name(ask.file, sizeof(ask.file), "Agency", "2026-01-11", "2026-02-19", o);
    bool started;
    kula_error e;
    cr_assert_eq(kula_job_start(J, &ask, sizeof(ask), &started, &e), 0, "%s", e.what);
    cr_assert_eq(started, want_started);
}

static const char *str(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }
static json_int_t num(json_t *o, const char *k) { return json_integer_value(json_object_get(o, k)); }

static json_t *session_status(void *session)
{
    return kula_statement_job_status(J, session);
}

/* The session's status until it is done (10 s at most). */
static json_t *wait_done(const char *session)
{
    return job_wait_done(session_status, (void *)session, "the statement");
}

/* The statement of o made by the job equals kula export's, byte for byte. */
static void same_as_export(const kula_statement_opts *o)
{
    size_t want_len;
    /* the job's reader goes before the node's store closes */
    kula_job_free(J);
    J = NULL;
    char *want = offline(o, &want_len);
    serve();
    start(o, MINE, true);
    json_t *st = wait_done(MINE);
    cr_assert_null(json_object_get(st, "error"), "%s", str(st, "error"));
    cr_assert_eq(num(st, "bytes"), (json_int_t)want_len);
    json_decref(st);
    const char *data;
    size_t len;
    const kula_statement_ask *ask;
    cr_assert_eq(kula_statement_job_file(J, MINE, 2, &data, &len, &ask), 0);
    cr_assert_eq(len, want_len);
    cr_assert(memcmp(data, want, len) == 0, "the node's statement:\n%.*s\nkula export's:\n%s",
              (int)len, data, want);
    free(want);
}

Test(statement_job, equals_kula_export_in_each_format_up_to_the_tip_at_its_start)
{
    chain(20);
    kula_statement_opts csv = period(KULA_STATEMENT_CSV, false);
    csv.to_ms = 0; /* up to the tip */
    size_t want_len;
    char *want = offline(&csv, &want_len);
    cr_assert(strstr(want, "opening balance") != NULL && strstr(want, "\r\n2026-") != NULL,
              "the period has postings: %s", want);
    serve();
    kula_job_test_hook = hold_first;
    start(&csv, MINE, true);
    wait_held();
    json_t *st = kula_statement_job_status(J, MINE);
    cr_assert_str_eq(str(st, "state"), "running");
    cr_assert_eq(num(st, "of"), 25);
    cr_assert_str_eq(str(st, "file"), "statement-Agency-2026-01-11-2026-02-19.csv");
    json_decref(st);
    /* a block the node commits meanwhile, with a posting of Agency's in the
     * period, is not looked at */
    lf_transfer(&F, 1, 2, 77, "late");
    lf_block(&F, F.g.time_ms + 90 * LF_DAY);
    release();
    st = wait_done(MINE);
    cr_assert_eq(atomic_load(&last_height), 25);
    json_decref(st);
    const char *data;
    size_t len;
    const kula_statement_ask *ask;
    cr_assert_eq(kula_statement_job_file(J, MINE, 2, &data, &len, &ask), 0);
    cr_assert_eq(len, want_len, "%.*s", (int)len, data);
    cr_assert(memcmp(data, want, len) == 0);
    cr_assert(memmem(data, len, "late", 4) == NULL);
    free(want);
    kula_job_test_hook = NULL;

    /* the new block in the next one; and the other formats and periods */
    same_as_export(&csv);
    cr_assert_eq(kula_statement_job_file(J, MINE, 2, &data, &len, &ask), 0);
    cr_assert(memmem(data, len, "late", 4) != NULL);
    csv = period(KULA_STATEMENT_CSV, false);
    same_as_export(&csv);
    kula_statement_opts journal = period(KULA_STATEMENT_CSV, true);
    same_as_export(&journal);
    kula_statement_opts jsonl = period(KULA_STATEMENT_JSONL, false);
    same_as_export(&jsonl);
    kula_statement_opts all = { .member = 2 };
    same_as_export(&all);
}

/* A chain of 25 blocks, and the job making Agency's statement held at its
 * first block.  Returns: its options. */
static kula_statement_opts held_statement(void)
{
    chain(20);
    serve();
    kula_job_test_hook = hold_first;
    kula_statement_opts o = period(KULA_STATEMENT_CSV, false);
    start(&o, MINE, true);
    wait_held();
    return o;
}

Test(statement_job, a_second_start_while_one_runs_starts_nothing)
{
    kula_statement_opts o = held_statement();
    kula_statement_opts other = o;
    other.member = 3;
    start(&other, OTHER, false);
    /* the one that runs is still the first session's */
    json_t *st = kula_statement_job_status(J, MINE);
    cr_assert_str_eq(str(st, "state"), "running");
    json_decref(st);
    st = kula_statement_job_status(J, OTHER);
    cr_assert_str_eq(str(st, "state"), "none");
    cr_assert(json_is_true(json_object_get(st, "busy")));
    cr_assert_null(json_object_get(st, "file"));
    json_decref(st);
    release();
    json_decref(wait_done(MINE));
    st = kula_statement_job_status(J, OTHER);
    cr_assert_null(json_object_get(st, "busy"));
    json_decref(st);
}

Test(statement_job, a_stopping_node_ends_the_statement_before_its_next_block)
{
    (void)held_statement();
    /* as kulad stops: the job is freed with the web wallet; it waits for
     * the worker, which must end at once rather than replay the others */
    kula_job_free(J);
    J = NULL;
    cr_assert(saw_stop, "the worker was not told to stop");
    cr_assert_eq(atomic_load(&last_height), atomic_load(&first_height),
                 "it went on from block %llu to block %llu",
                 (unsigned long long)atomic_load(&first_height),
                 (unsigned long long)atomic_load(&last_height));
}

Test(statement_job, only_the_session_that_asked_for_its_member_fetches_it)
{
    chain(3);
    serve();
    kula_statement_opts o = period(KULA_STATEMENT_CSV, false);
    start(&o, MINE, true);
    json_decref(wait_done(MINE));
    const char *data;
    size_t len;
    const kula_statement_ask *ask;
    cr_assert_eq(kula_statement_job_file(J, OTHER, 2, &data, &len, &ask), KULA_ENOTFOUND,
                 "another session fetched it");
    cr_assert_eq(kula_statement_job_file(J, OTHER, 3, &data, &len, &ask), KULA_ENOTFOUND,
                 "another member's session fetched it");
    cr_assert_eq(kula_statement_job_file(J, MINE, 3, &data, &len, &ask), KULA_ENOTFOUND,
                 "the session fetched it once its key was another member's");
    cr_assert_eq(kula_statement_job_file(J, "", 2, &data, &len, &ask), KULA_ENOTFOUND);
    cr_assert_eq(kula_statement_job_file(J, MINE "0", 2, &data, &len, &ask), KULA_ENOTFOUND);
    json_t *st = kula_statement_job_status(J, OTHER);
    cr_assert_str_eq(str(st, "state"), "none");
    cr_assert_eq(json_object_size(st), 1, "another session learns nothing: %s",
                 json_dumps(st, 0));
    json_decref(st);
    cr_assert_eq(kula_statement_job_file(J, MINE, 2, &data, &len, &ask), 0);
    cr_assert_eq(ask->opts.member, 2);
}

Test(statement_job, past_the_bound_an_error_in_words_and_nothing_to_fetch)
{
    chain(3);
    serve();
    kula_statement_job_max = 200;
    kula_statement_opts o = { .member = 2 };
    start(&o, MINE, true);
    json_t *st = wait_done(MINE);
    cr_assert_not_null(str(st, "error"), "no error: %s", json_dumps(st, 0));
    cr_assert(strstr(str(st, "error"), "larger than 200 bytes") != NULL, "%s", str(st, "error"));
    cr_assert(strstr(str(st, "error"), "choose a shorter period") != NULL);
    cr_assert_null(json_object_get(st, "bytes"));
    json_decref(st);
    const char *data;
    size_t len;
    const kula_statement_ask *ask;
    cr_assert_eq(kula_statement_job_file(J, MINE, 2, &data, &len, &ask), KULA_ENOTFOUND);
}

Test(statement_job, the_download_is_named_after_the_member_and_period)
{
    char name[KULA_STATEMENT_FILE_MAX];
    kula_statement_opts o = { .member = 1 };
    kula_statement_job_name(name, sizeof(name), "Agence Café \"x\"/../;", "2026-01-01",
                            "2026-03-31", &o);
    cr_assert_str_eq(name, "statement-Agence-Café--x--..---2026-01-01-2026-03-31.csv");
    o.journal = true;
    kula_statement_job_name(name, sizeof(name), "alice", "2026-01-01", "2026-03-31", &o);
    cr_assert_str_eq(name, "journal-alice-2026-01-01-2026-03-31.csv");
    o.journal = false;
    o.format = KULA_STATEMENT_JSONL;
    kula_statement_job_name(name, sizeof(name), "alice", "2026-01-01", "2026-03-31", &o);
    cr_assert_str_eq(name, "statement-alice-2026-01-01-2026-03-31.jsonl");
}
