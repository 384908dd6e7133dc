/* test_jsonrpc.c -- the node's JSON-RPC 2.0 handling, driven through
 * kula_rpc_handle as the HTTP server drives it: every example of the
 * JSON-RPC 2.0 specification's §7 (https://www.jsonrpc.org/specification,
 * request texts verbatim), notifications, named parameters, the limits on
 * a body's work and a response's size (node/api/jsonrpc.h), and that every list
 * read in pages returns each of its entries exactly once. */
#include <criterion/criterion.h>

#include <jansson.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kula/chain/chain.h"
#include "kula/chain/mempool.h"
#include "kula/api/bulk.h"
#include "kula/api/rpc.h"
#include "kula/store/store.h"
#include "kula/crypto/verifier.h"
#include "ledgerutil.h"

/* the limits, and kula_jsonrpc_work and kula_jsonrpc_max_response to lower */
#include "../../node/api/jsonrpc.h"
#include "api/rpc_testing.h"

#define NMEMBERS 20u
#define HIST_BLOCKS 4u     /* blocks of transfers from member 2 to member 3 */
#define HIST_PER_BLOCK 30u
#define NAGREEMENTS 5u
#define NPROPOSALS 6u

static char tmpdir[256];
static kula_genesis G;
static kula_store *S;
static kula_chain *C;
static kula_mempool *MP;
static kula_verifier *V;
static kula_rpc_env ENV;
static kula_rpc *RPC;
static uint64_t nonces[1002]; /* by member id */
static uint64_t now_ms;
static kula_hash proposal0; /* the proposal with votes */

/* A node on a genesis of n members, in a new temporary directory. */
static void open_node(uint32_t n)
{
    strcpy(tmpdir, "/tmp/kula-jsonrpc-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    lu_genesis(&G, n, 1000000, NULL);
    kula_buf canon;
    kula_buf_init(&canon);
    cr_assert_eq(kula_genesis_encode(&canon, &G), 0);
    cr_assert_eq(kula_store_open(&S, tmpdir, 0), 0);
    cr_assert_eq(kula_store_bind(S, canon.data, canon.len, &G.chain_id, NULL), 0);
    kula_error oe;
    cr_assert_eq(kula_chain_open(&C, S, &G, &oe), 0, "chain: %s", oe.what);
    kula_buf_free(&canon);
    cr_assert_eq(kula_mempool_new(&MP, 10000, 16u << 20), 0);
    cr_assert_eq(kula_verifier_new(&V, 1), 0);
    ENV = (kula_rpc_env){ .chain = C, .store = S, .mempool = MP, .verifier = V, .genesis = &G };
    cr_assert_eq(kula_rpc_new_detached(&RPC, &ENV), 0);
    memset(nonces, 0, sizeof(nonces));
    now_ms = G.time_ms;
}

static void close_node(void)
{
    kula_rpc_free_detached(RPC);
    kula_verifier_free(V);
    kula_mempool_free(MP);
    kula_chain_free(C);
    kula_store_close(S);
    kula_genesis_free(&G);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    (void)system(cmd);
}

static void setup(void)
{
    cr_assert_eq(kula_crypto_init(), 0);
    open_node(NMEMBERS);
    kula_jsonrpc_max_response = KULA_JSONRPC_MAX_RESPONSE;
    kula_jsonrpc_work = KULA_JSONRPC_WORK;
}

static void teardown(void)
{
    close_node();
    kula_jsonrpc_max_response = KULA_JSONRPC_MAX_RESPONSE;
    kula_jsonrpc_work = KULA_JSONRPC_WORK;
}

TestSuite(jsonrpc, .init = setup, .fini = teardown, .timeout = 300);

/* ---- requests ---- */

/* Sends body; returns the parsed response, or NULL when there was none.
 * Out: *status (may be NULL). */
static json_t *rpc_status(const char *body, unsigned *status)
{
    char *out = NULL;
    unsigned st = 0;
    kula_rpc_handle(RPC, (const uint8_t *)body, strlen(body), &out, &st);
    if (status != NULL)
        *status = st;
    if (out == NULL)
        return NULL;
    cr_assert_leq(strlen(out), kula_jsonrpc_max_response + 64 * 1024,
                  "a response of %zu bytes", strlen(out));
    json_error_t e;
    json_t *j = json_loads(out, 0, &e);
    cr_assert_not_null(j, "not JSON (%s): %.200s", e.text, out);
    free(out);
    return j;
}

static json_t *rpc(const char *body) { return rpc_status(body, NULL); }

/* The result of one call of method with params (JSON text, "" for none);
 * fails the test on an error. */
static json_t *call(const char *method, const char *params)
{
    char body[2048];
    snprintf(body, sizeof(body), "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%s\"%s%s}", method,
             params[0] ? ",\"params\":" : "", params);
    json_t *resp = rpc(body);
    cr_assert_not_null(resp);
    json_t *err = json_object_get(resp, "error");
    cr_assert_null(err, "%s %s: %s", method, params,
                   json_string_value(json_object_get(err, "message")));
    json_t *res = json_incref(json_object_get(resp, "result"));
    json_decref(resp);
    return res;
}

/* The error code of a response (0: none). */
static int code_of(const json_t *resp)
{
    return (int)json_integer_value(json_object_get(json_object_get(resp, "error"), "code"));
}

static const char *message_of(const json_t *resp)
{
    const char *m = json_string_value(json_object_get(json_object_get(resp, "error"), "message"));
    return m != NULL ? m : "";
}

/* Checks one error response: its code and id (a string, "null" for null). */
static void expect_error(const json_t *resp, int code, const char *id)
{
    cr_assert(json_is_object(resp));
    cr_assert_str_eq(json_string_value(json_object_get(resp, "jsonrpc")), "2.0");
    cr_assert_null(json_object_get(resp, "result"));
    cr_assert_eq(code_of(resp), code, "code %d, want %d (%s)", code_of(resp), code,
                 message_of(resp));
    json_t *got = json_object_get(resp, "id");
    cr_assert_not_null(got, "an error response without id");
    if (strcmp(id, "null") == 0)
        cr_assert(json_is_null(got));
    else
        cr_assert_str_eq(json_string_value(got), id);
}

/* ---- a chain with history, agreements, proposals and votes ---- */

typedef struct txs {
    kula_buf bytes[64];
    kula_tx tx[64];
    kula_candidate c[64];
    size_t n;
} txs;

static void txs_add(txs *t, kula_tx *tx, const uint32_t *signers)
{
    cr_assert_lt(t->n, 64);
    kula_buf *b = &t->bytes[t->n];
    kula_buf_init(b);
    lu_signed_bytes(b, tx, &G.chain_id, signers);
    cr_assert_eq(kula_tx_decode(&t->tx[t->n], b->data, b->len), 0);
    t->c[t->n] = (kula_candidate){ b->data, b->len, &t->tx[t->n], NULL, 12345 };
    t->n++;
}

static void tx_of(kula_tx *tx, uint8_t kind, uint32_t from)
{
    memset(tx, 0, sizeof(*tx));
    tx->kind = kind;
    tx->from = from;
    tx->nonce = ++nonces[from];
}

/* Commits t's transactions as the next block (all must be included). */
static void produce(txs *t)
{
    kula_buf block, commit;
    kula_buf_init(&block);
    kula_buf_init(&commit);
    kula_hash hash;
    uint64_t height = kula_chain_height(C) + 1;
    now_ms += 1000;
    int rc = kula_chain_build_block(C, now_ms, 1, t->c, t->n, &block, &hash);
    cr_assert_eq(rc, 0, "build %llu: %s", (unsigned long long)height, kula_errname(rc));
    for (size_t i = 0; i < t->n; i++)
        cr_assert_eq(t->c[i].result, 0, "tx %zu of block %llu: %s", i,
                     (unsigned long long)height, kula_errname(t->c[i].result));
    lu_commit_by_1(&commit, &G.chain_id, height, &hash);
    cr_assert_eq(kula_chain_commit_built(C, commit.data, commit.len), 0);
    kula_buf_free(&block);
    kula_buf_free(&commit);
    for (size_t i = 0; i < t->n; i++)
        kula_buf_free(&t->bytes[i]);
    t->n = 0;
}

/* Blocks 1-4: 30 transfers each from member 2 to 3.  Block 5: agreements
 * between pairs of members 2-6.  Block 6: proposals by member 1 (a credit
 * limit each).  Block 7: 14 votes on the first proposal, which stays open
 * (12 yes of 20 members with threshold 2/3). */
static void build_chain(void)
{
    txs *t = calloc(1, sizeof(*t));
    cr_assert_not_null(t);
    kula_tx tx;
    for (uint32_t b = 0; b < HIST_BLOCKS; b++) {
        for (uint32_t i = 0; i < HIST_PER_BLOCK; i++) {
            tx_of(&tx, KULA_TX_TRANSFER, 2);
            tx.u.transfer.to = 3;
            tx.u.transfer.amount = 1 + i;
            tx.memo = lu_text("a memo \"quoted\",\n escaped \\ and unicode \xc3\xa9");
            txs_add(t, &tx, LU_SIGNERS(2));
        }
        produce(t);
    }
    static const uint32_t pairs[NAGREEMENTS][2] = { { 2, 3 }, { 2, 4 }, { 3, 4 }, { 2, 5 },
                                                   { 5, 6 } };
    for (uint32_t i = 0; i < NAGREEMENTS; i++) {
        tx_of(&tx, KULA_TX_AGREEMENT_OPEN, pairs[i][0]);
        tx.u.open.label = lu_text("joint");
        tx.u.open.title = lu_text("Joint campaign");
        tx.u.open.nparties = 2;
        tx.u.open.parties[0] = pairs[i][0];
        tx.u.open.parties[1] = pairs[i][1];
        tx.u.open.rule.kind = KULA_RULE_EQUAL;
        txs_add(t, &tx, LU_SIGNERS(pairs[i][0], pairs[i][1]));
    }
    produce(t);
    for (uint32_t i = 0; i < NPROPOSALS; i++) {
        tx_of(&tx, KULA_TX_PROPOSE, 1);
        tx.u.propose.action.kind = KULA_ACT_CREDIT_LIMIT;
        tx.u.propose.action.member = 5 + i;
        tx.u.propose.action.credit_limit = 2000 + i;
        txs_add(t, &tx, LU_SIGNERS(1));
        if (i == 0)
            proposal0 = t->tx[t->n - 1].id;
    }
    produce(t);
    for (uint32_t m = 2; m <= 15; m++) {
        tx_of(&tx, KULA_TX_VOTE, m);
        tx.u.vote.proposal = proposal0;
        tx.u.vote.approve = m <= 12;
        txs_add(t, &tx, LU_SIGNERS(m));
    }
    produce(t);
    free(t);
}

/* ---- §7 of the JSON-RPC 2.0 specification, request texts verbatim ---- */

Test(jsonrpc, spec_positional_parameters)
{
    /* "rpc call with positional parameters": no method subtract here, and
     * the method is looked up before its parameters are read */
    json_t *r = rpc("{\"jsonrpc\": \"2.0\", \"method\": \"subtract\", "
                    "\"params\": [42, 23], \"id\": 1}");
    cr_assert_eq(code_of(r), -32601, "%s", message_of(r));
    cr_assert_eq(json_integer_value(json_object_get(r, "id")), 1);
    json_decref(r);
    r = rpc("{\"jsonrpc\": \"2.0\", \"method\": \"subtract\", \"params\": [23, 42], \"id\": 2}");
    cr_assert_eq(code_of(r), -32601);
    cr_assert_eq(json_integer_value(json_object_get(r, "id")), 2);
    json_decref(r);
}

Test(jsonrpc, spec_named_parameters)
{
    json_t *r = rpc("{\"jsonrpc\": \"2.0\", \"method\": \"subtract\", \"params\": {\"subtrahend\": "
                    "23, \"minuend\": 42}, \"id\": 3}");
    cr_assert_eq(code_of(r), -32601);
    cr_assert_eq(json_integer_value(json_object_get(r, "id")), 3);
    json_decref(r);
    r = rpc("{\"jsonrpc\": \"2.0\", \"method\": \"subtract\", \"params\": {\"minuend\": 42, "
            "\"subtrahend\": 23}, \"id\": 4}");
    cr_assert_eq(code_of(r), -32601);
    cr_assert_eq(json_integer_value(json_object_get(r, "id")), 4);
    json_decref(r);
}

Test(jsonrpc, spec_notifications)
{
    unsigned st;
    cr_assert_null(rpc_status(
        "{\"jsonrpc\": \"2.0\", \"method\": \"update\", \"params\": [1,2,3,4,5]}", &st));
    cr_assert_eq(st, 200);
    cr_assert_null(rpc_status("{\"jsonrpc\": \"2.0\", \"method\": \"foobar\"}", &st));
    cr_assert_eq(st, 200);
}

Test(jsonrpc, spec_non_existent_method)
{
    json_t *r = rpc("{\"jsonrpc\": \"2.0\", \"method\": \"foobar\", \"id\": \"1\"}");
    expect_error(r, -32601, "1");
    json_decref(r);
}

Test(jsonrpc, spec_invalid_json)
{
    unsigned st;
    json_t *r = rpc_status(
        "{\"jsonrpc\": \"2.0\", \"method\": \"foobar, \"params\": \"bar\", \"baz]", &st);
    expect_error(r, -32700, "null");
    cr_assert_eq(st, 400);
    json_decref(r);
}

Test(jsonrpc, spec_invalid_request_object)
{
    unsigned st;
    json_t *r = rpc_status("{\"jsonrpc\": \"2.0\", \"method\": 1, \"params\": \"bar\"}", &st);
    expect_error(r, -32600, "null");
    cr_assert_eq(st, 400);
    json_decref(r);
}

Test(jsonrpc, spec_batch_invalid_json)
{
    json_t *r = rpc("[\n"
                    "  {\"jsonrpc\": \"2.0\", \"method\": \"sum\", \"params\": [1,2,4], "
                    "\"id\": \"1\"},\n"
                    "  {\"jsonrpc\": \"2.0\", \"method\"\n]");
    expect_error(r, -32700, "null");
    json_decref(r);
}

Test(jsonrpc, spec_empty_array)
{
    unsigned st;
    json_t *r = rpc_status("[]", &st);
    expect_error(r, -32600, "null"); /* one error, not an array */
    cr_assert_eq(st, 400);
    json_decref(r);
}

Test(jsonrpc, spec_invalid_batch_not_empty)
{
    json_t *r = rpc("[1]");
    cr_assert(json_is_array(r));
    cr_assert_eq(json_array_size(r), 1);
    expect_error(json_array_get(r, 0), -32600, "null");
    json_decref(r);
}

Test(jsonrpc, spec_invalid_batch)
{
    json_t *r = rpc("[1,2,3]");
    cr_assert(json_is_array(r));
    cr_assert_eq(json_array_size(r), 3);
    for (size_t i = 0; i < 3; i++)
        expect_error(json_array_get(r, i), -32600, "null");
    json_decref(r);
}

Test(jsonrpc, spec_batch)
{
    json_t *r = rpc(
        "[\n"
        "        {\"jsonrpc\": \"2.0\", \"method\": \"sum\", \"params\": [1,2,4], \"id\": \"1\"},\n"
        "        {\"jsonrpc\": \"2.0\", \"method\": \"notify_hello\", \"params\": [7]},\n"
        "        {\"jsonrpc\": \"2.0\", \"method\": \"subtract\", \"params\": [42,23], "
        "\"id\": \"2\"},\n"
        "        {\"foo\": \"boo\"},\n"
        "        {\"jsonrpc\": \"2.0\", \"method\": \"foo.get\", \"params\": {\"name\": "
        "\"myself\"}, \"id\": \"5\"},\n"
        "        {\"jsonrpc\": \"2.0\", \"method\": \"get_data\", \"id\": \"9\"} \n"
        "    ]");
    cr_assert(json_is_array(r));
    /* five responses: none for the notification; none of these methods
     * exists here, so -32601 where the specification has results */
    cr_assert_eq(json_array_size(r), 5, "%zu responses", json_array_size(r));
    expect_error(json_array_get(r, 0), -32601, "1");
    expect_error(json_array_get(r, 1), -32601, "2");
    expect_error(json_array_get(r, 2), -32600, "null");
    expect_error(json_array_get(r, 3), -32601, "5");
    expect_error(json_array_get(r, 4), -32601, "9");
    json_decref(r);
}

Test(jsonrpc, spec_batch_all_notifications)
{
    unsigned st;
    json_t *r = rpc_status(
        "[\n"
        "        {\"jsonrpc\": \"2.0\", \"method\": \"notify_sum\", \"params\": [1,2,4]},\n"
        "        {\"jsonrpc\": \"2.0\", \"method\": \"notify_hello\", \"params\": [7]}\n"
        "    ]",
        &st);
    cr_assert_null(r, "a batch of notifications got an answer");
    cr_assert_eq(st, 200); /* node/api/rpc.c sends 204 with no body for none */
}

/* ---- this API's side of it ---- */

Test(jsonrpc, positional_parameters_to_a_method)
{
    json_t *r = rpc("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"balance\",\"params\":[1]}");
    cr_assert_eq(code_of(r), -32602);
    cr_assert_not_null(strstr(message_of(r), "named"), "%s", message_of(r));
    json_decref(r);
    /* no parameters at all may be an empty array */
    json_decref(call("status", "[]"));
}

Test(jsonrpc, notifications_are_run_and_never_answered)
{
    /* failing ones: bad parameters, an unknown member */
    cr_assert_null(rpc("{\"jsonrpc\":\"2.0\",\"method\":\"member\",\"params\":{\"member\":[]}}"));
    cr_assert_null(rpc("{\"jsonrpc\":\"2.0\",\"method\":\"member\",\"params\":{\"member\":999}}"));
    cr_assert_null(rpc("{\"jsonrpc\":\"2.0\",\"method\":\"member\",\"params\":[1]}"));
    /* one that works is run: a submitted transaction is admitted */
    txs *t = calloc(1, sizeof(*t));
    kula_tx tx;
    tx_of(&tx, KULA_TX_TRANSFER, 2);
    tx.u.transfer.to = 3;
    tx.u.transfer.amount = 5;
    txs_add(t, &tx, LU_SIGNERS(2));
    char *hex = malloc(2 * t->bytes[0].len + 1);
    kula_hex_encode(hex, t->bytes[0].data, t->bytes[0].len);
    char *body = malloc(strlen(hex) + 200);
    sprintf(body, "{\"jsonrpc\":\"2.0\",\"method\":\"submit\",\"params\":{\"tx\":\"%s\"}}", hex);
    cr_assert_eq(kula_mempool_size(MP), 0);
    cr_assert_null(rpc(body));
    cr_assert_eq(kula_mempool_size(MP), 1);
    /* and a request with "id": null is not a notification */
    json_t *r = rpc("{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"status\"}");
    cr_assert_not_null(r);
    cr_assert(json_is_null(json_object_get(r, "id")));
    cr_assert_not_null(json_object_get(r, "result"));
    json_decref(r);
    free(body);
    free(hex);
    kula_buf_free(&t->bytes[0]);
    free(t);
}

/* ---- the limits ---- */

/* A batch of n requests, each `one` with "id": its index. */
static char *batch_of(size_t n, const char *one_fmt)
{
    size_t cap = n * (strlen(one_fmt) + 32) + 16, len = 1;
    char *b = malloc(cap);
    cr_assert_not_null(b);
    b[0] = '[';
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(b + len, cap - len, i ? ",{\"jsonrpc\":\"2.0\",\"id\":%zu,%s}"
                                                     : "{\"jsonrpc\":\"2.0\",\"id\":%zu,%s}",
                                i, one_fmt);
    b[len++] = ']';
    b[len] = '\0';
    return b;
}

Test(jsonrpc, oversize_batch_refused_before_any_work)
{
    /* a submit, then 999 x history with limit 1000: asks for ~1,000,000
     * units, refused whole; the submit must not have been admitted */
    txs *t = calloc(1, sizeof(*t));
    kula_tx tx;
    tx_of(&tx, KULA_TX_TRANSFER, 2);
    tx.u.transfer.to = 3;
    tx.u.transfer.amount = 5;
    txs_add(t, &tx, LU_SIGNERS(2));
    char *hex = malloc(2 * t->bytes[0].len + 1);
    kula_hex_encode(hex, t->bytes[0].data, t->bytes[0].len);
    char *hist = batch_of(999, "\"method\":\"history\",\"params\":{\"member\":2,\"limit\":1000}");
    char *body = malloc(strlen(hist) + strlen(hex) + 200);
    sprintf(body,
            "[{\"jsonrpc\":\"2.0\",\"id\":\"s\",\"method\":\"submit\",\"params\":"
            "{\"tx\":\"%s\"}},%s",
            hex, hist + 1);
    json_t *r = rpc(body);
    cr_assert(json_is_array(r));
    cr_assert_eq(json_array_size(r), 1000);
    for (size_t i = 0; i < json_array_size(r); i++) {
        json_t *e = json_array_get(r, i);
        cr_assert_eq(code_of(e), KULA_ETOOBIG, "response %zu: %s", i, message_of(e));
        json_t *data = json_object_get(json_object_get(e, "error"), "data");
        cr_assert_str_eq(json_string_value(json_object_get(data, "name")), "ETOOBIG");
        cr_assert_eq(json_integer_value(json_object_get(data, "limit")), KULA_JSONRPC_WORK);
        cr_assert_gt(json_integer_value(json_object_get(data, "asked")), KULA_JSONRPC_WORK);
    }
    cr_assert_not_null(strstr(message_of(json_array_get(r, 0)), "units of work"), "%s",
                       message_of(json_array_get(r, 0)));
    cr_assert_eq(kula_mempool_size(MP), 0, "a refused batch admitted its submit");
    json_decref(r);
    /* the same submit alone is admitted */
    sprintf(body,
            "{\"jsonrpc\":\"2.0\",\"id\":\"s\",\"method\":\"submit\",\"params\":{\"tx\":\"%s\"}}",
            hex);
    r = rpc(body);
    cr_assert_null(json_object_get(r, "error"), "%s", message_of(r));
    cr_assert_eq(kula_mempool_size(MP), 1);
    json_decref(r);
    /* more than 1000 requests is no batch */
    char *many = batch_of(1001, "\"method\":\"status\"");
    r = rpc(many);
    expect_error(r, -32600, "null");
    json_decref(r);
    free(many);
    free(body);
    free(hist);
    free(hex);
    kula_buf_free(&t->bytes[0]);
    free(t);
}

Test(jsonrpc, batch_within_the_work_limit_runs)
{
    build_chain();
    /* 3 x (1 + 1000) + 1 + 996 = 4000 units asked: exactly the limit */
    cr_assert_eq(KULA_JSONRPC_WORK, 4000);
    char *hist = batch_of(3, "\"method\":\"history\",\"params\":{\"member\":2,\"limit\":1000}");
    char body[4096];
    snprintf(body, sizeof(body),
             "%.*s,{\"jsonrpc\":\"2.0\",\"id\":\"m\",\"method\":\"members\","
             "\"params\":{\"limit\":996}}]",
             (int)strlen(hist) - 1, hist);
    json_t *r = rpc(body);
    cr_assert_eq(json_array_size(r), 4);
    for (size_t i = 0; i < 4; i++)
        cr_assert_null(json_object_get(json_array_get(r, i), "error"), "%zu: %s", i,
                       message_of(json_array_get(r, i)));
    json_decref(r);
    /* one unit more is refused */
    snprintf(body, sizeof(body),
             "%.*s,{\"jsonrpc\":\"2.0\",\"id\":\"m\",\"method\":\"members\","
             "\"params\":{\"limit\":997}}]",
             (int)strlen(hist) - 1, hist);
    r = rpc(body);
    cr_assert_eq(json_array_size(r), 4);
    for (size_t i = 0; i < 4; i++)
        cr_assert_eq(code_of(json_array_get(r, i)), KULA_ETOOBIG);
    json_decref(r);
    free(hist);
}

/* The size of the result of one call, in compact JSON. */
static size_t result_size(const char *method, const char *params)
{
    json_t *r = call(method, params);
    char *text = json_dumps(r, JSON_COMPACT);
    size_t size = strlen(text);
    free(text);
    json_decref(r);
    return size;
}

/* The hex of a payment of `amount` from member 2 to 3 with its next nonce. */
static char *payment_hex(int64_t amount)
{
    txs *t = calloc(1, sizeof(*t));
    cr_assert_not_null(t);
    kula_tx tx;
    tx_of(&tx, KULA_TX_TRANSFER, 2);
    tx.u.transfer.to = 3;
    tx.u.transfer.amount = amount;
    txs_add(t, &tx, LU_SIGNERS(2));
    char *hex = malloc(2 * t->bytes[0].len + 1);
    cr_assert_not_null(hex);
    kula_hex_encode(hex, t->bytes[0].data, t->bytes[0].len);
    kula_buf_free(&t->bytes[0]);
    free(t);
    return hex;
}

Test(jsonrpc, work_limit_met_while_running)
{
    /* what the answers cost beyond what was asked (the genesis's JSON, a
     * unit per KiB) spends the budget: the requests after are refused
     * before they run, but the submits admitted with the batch are answered
     * as admitted */
    json_t *g = call("genesis", "");
    char *text = json_dumps(g, JSON_COMPACT);
    size_t units = 1 + strlen(text) / 1024;
    free(text);
    json_decref(g);
    cr_assert_geq(units, 3, "a genesis of %zu units", units);
    char *a = payment_hex(1), *b = payment_hex(2);
    char *body = malloc(strlen(a) + strlen(b) + 1024);
    sprintf(body,
            "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"genesis\"},"
            "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"genesis\"},"
            "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"submit\",\"params\":{\"tx\":\"%s\"}},"
            "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"submit\",\"params\":{\"tx\":\"%s\"}},"
            "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"status\"}]",
            a, b);
    /* asked: 1 + 1 + 4 + 4 + 1 = 11; run: the two answers take 2 * units */
    kula_jsonrpc_work = 11;
    json_t *r = rpc(body);
    cr_assert_eq(json_array_size(r), 5);
    cr_assert_null(json_object_get(json_array_get(r, 0), "error"));
    for (size_t i = 2; i < 4; i++) {
        json_t *res = json_object_get(json_array_get(r, i), "result");
        cr_assert_str_eq(json_string_value(json_object_get(res, "status")), "pending", "%zu: %s",
                         i, message_of(json_array_get(r, i)));
    }
    json_t *last = json_array_get(r, 4);
    cr_assert_eq(code_of(last), KULA_ETOOBIG, "%s", message_of(last));
    json_t *data = json_object_get(json_object_get(last, "error"), "data");
    cr_assert_eq(json_integer_value(json_object_get(data, "limit")), 11);
    cr_assert_geq(json_integer_value(json_object_get(data, "used")), 11);
    cr_assert_eq(kula_mempool_size(MP), 2);
    json_decref(r);
    free(body);
    free(a);
    free(b);
}

/* A batch's submits are admitted together and each answered from its own
 * result, in order, with requests between them that are not admitted
 * (bad hex, no params) and a second copy of the first. */
Test(jsonrpc, batch_submits_answered_each_by_its_own)
{
    char *a = payment_hex(1), *b = payment_hex(2);
    char *body = malloc(2 * strlen(a) + strlen(b) + 1024);
    sprintf(body,
            "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"submit\",\"params\":{\"tx\":\"%s\"}},"
            "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"submit\",\"params\":{\"tx\":\"zz\"}},"
            "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"submit\"},"
            "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"submit\",\"params\":{\"tx\":\"%s\"}},"
            "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"submit\",\"params\":{\"tx\":\"%s\"}}]",
            a, b, a);
    json_t *r = rpc(body);
    cr_assert_eq(json_array_size(r), 5);
    for (size_t i = 0; i < 5; i++)
        cr_assert_eq(json_integer_value(json_object_get(json_array_get(r, i), "id")),
                     (json_int_t)i + 1);
    const char *ok[] = { "pending", NULL, NULL, "pending", NULL };
    for (size_t i = 0; i < 5; i++) {
        json_t *one = json_array_get(r, i);
        json_t *res = json_object_get(one, "result");
        if (ok[i] != NULL)
            cr_assert_str_eq(json_string_value(json_object_get(res, "status")), ok[i], "%zu: %s",
                             i, message_of(one));
        else
            cr_assert_null(res, "%zu is refused", i);
    }
    cr_assert_eq(code_of(json_array_get(r, 1)), RPC_INVALID_PARAMS);
    cr_assert_eq(code_of(json_array_get(r, 4)), KULA_EDUPTX, "%s",
                 message_of(json_array_get(r, 4)));
    cr_assert_eq(kula_mempool_size(MP), 2);
    json_decref(r);
    free(body);
    free(a);
    free(b);
}

/* ---- POST /submit (kula/api/bulk.h) ---- */

/* The body's decoder: what it takes, and each way a body is refused. */
Test(jsonrpc, bulk_decode_bounds)
{
    static kula_bulk b;
    static const uint8_t two[] = { 0x92, 0xc4, 0x01, 0xaa, 0xc4, 0x02, 0xbb, 0xcc };
    cr_assert_eq(kula_bulk_decode(&b, two, sizeof(two)), 0);
    cr_assert_eq(b.n, 2);
    cr_assert_eq(b.lens[0], 1);
    cr_assert_eq(b.txs[0], two + 3, "borrows from the body");
    cr_assert_eq(b.lens[1], 2);
    cr_assert_eq(b.txs[1][1], 0xcc);
    static const struct {
        const char *what;
        uint8_t body[8];
        size_t len;
        int rc;
    } bad[] = {
        { "empty body", { 0 }, 0, KULA_ETRUNC },
        { "empty array", { 0x90 }, 1, KULA_ERANGE },
        { "empty transaction", { 0x91, 0xc4, 0x00 }, 3, KULA_ERANGE },
        { "not an array", { 0xc4, 0x01, 0xaa }, 3, KULA_ETYPE },
        { "a string, not a bin", { 0x91, 0xa1, 0x61 }, 3, KULA_ETYPE },
        { "trailing byte", { 0x91, 0xc4, 0x01, 0xaa, 0x00 }, 5, KULA_ETRAILING },
        { "array16 for 1 item", { 0xdc, 0x00, 0x01, 0xc4, 0x01, 0xaa }, 6, KULA_ENONCANON },
        { "truncated", { 0x92, 0xc4, 0x01, 0xaa }, 4, KULA_ETRUNC },
        { "1001 items, from the header", { 0xdc, 0x03, 0xe9 }, 3, KULA_ETOOBIG },
        { "a transaction over its bound, from the header",
          { 0x91, 0xc6, 0x00, 0x10, 0x00, 0x01 }, 6, KULA_ETOOBIG },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(kula_bulk_decode(&b, bad[i].body, bad[i].len), bad[i].rc, "%s: %s",
                     bad[i].what, kula_strerror(kula_bulk_decode(&b, bad[i].body, bad[i].len)));
        cr_assert_eq(b.n, 0, "%s", bad[i].what);
    }
}

/* One entry of a bulk reply. */
typedef struct bulk_entry {
    int64_t code;
    bool has_id;
    kula_hash id;
    char words[256];
} bulk_entry;

static size_t bulk_reply(const kula_buf *out, bulk_entry *e, size_t max)
{
    kula_reader r;
    kula_reader_init(&r, out->data, out->len);
    uint32_t n = kula_r_array(&r, (uint32_t)max);
    for (uint32_t i = 0; i < n; i++) {
        kula_r_array_exact(&r, 3);
        e[i].code = kula_r_int(&r, INT32_MIN, INT32_MAX);
        const uint8_t *v;
        size_t vl;
        kula_r_value(&r, &v, &vl); /* nil, or a bin32 */
        e[i].has_id = kula_reader_ok(&r) && !(vl == 1 && v[0] == 0xc0);
        if (e[i].has_id) {
            cr_assert(vl == 2 + KULA_HASH_LEN && v[0] == 0xc4 && v[1] == KULA_HASH_LEN);
            memcpy(e[i].id.b, v + 2, KULA_HASH_LEN);
        }
        const char *w;
        size_t wl = kula_r_str(&r, &w, sizeof(e[i].words) - 1);
        cr_assert(kula_reader_ok(&r), "entry %u: %s", i, kula_strerror(r.err));
        memcpy(e[i].words, w, wl);
        e[i].words[wl] = '\0';
    }
    cr_assert_eq(kula_reader_finish(&r), 0);
    return n;
}

/* Admitted, a second copy, one that does not decode, another admitted:
 * each answered in order with the code and words of the JSON submit; then
 * a body over the work budget is refused whole. */
Test(jsonrpc, bulk_submit_answers_each)
{
    char *ha = payment_hex(1), *hb = payment_hex(2);
    size_t la = strlen(ha) / 2, lb = strlen(hb) / 2;
    uint8_t *a = malloc(la), *b = malloc(lb);
    cr_assert_eq(kula_hex_decode(a, la, ha), 0);
    cr_assert_eq(kula_hex_decode(b, lb, hb), 0);
    kula_tx ta, tb;
    cr_assert_eq(kula_tx_decode(&ta, a, la), 0);
    cr_assert_eq(kula_tx_decode(&tb, b, lb), 0);
    static const uint8_t junk[] = { 0x92, 0x00 };
    kula_buf body, out;
    kula_buf_init(&body);
    kula_buf_init(&out);
    kula_writer w;
    kula_writer_init(&w, &body);
    kula_w_array(&w, 4);
    kula_w_bin(&w, a, la);
    kula_w_bin(&w, a, la);
    kula_w_bin(&w, junk, sizeof(junk));
    kula_w_bin(&w, b, lb);
    char why[256] = "";
    cr_assert_eq(kula_bulk_submit(&ENV, body.data, body.len, KULA_JSONRPC_WORK, &out, why,
                                  sizeof(why)),
                 0, "%s", why);
    bulk_entry e[4];
    cr_assert_eq(bulk_reply(&out, e, 4), 4);
    cr_assert_eq(e[0].code, 0);
    cr_assert_str_eq(e[0].words, "pending");
    cr_assert(e[0].has_id && memcmp(e[0].id.b, ta.id.b, KULA_HASH_LEN) == 0);
    cr_assert_eq(e[1].code, KULA_EDUPTX, "%s", e[1].words);
    cr_assert_str_eq(e[1].words, "transaction refused: already pending (sent before)");
    cr_assert(e[1].has_id && memcmp(e[1].id.b, ta.id.b, KULA_HASH_LEN) == 0);
    cr_assert(kula_is_codec_error((int)e[2].code), "%s", e[2].words);
    cr_assert(!e[2].has_id, "no id for what does not decode");
    cr_assert(strncmp(e[2].words, "transaction refused: ", 21) == 0, "%s", e[2].words);
    cr_assert_eq(e[3].code, 0, "%s", e[3].words);
    cr_assert(e[3].has_id && memcmp(e[3].id.b, tb.id.b, KULA_HASH_LEN) == 0);
    cr_assert_eq(kula_mempool_size(MP), 2);

    /* over the budget: 4 transactions of at least 3 units, 11 allowed */
    kula_buf_reset(&out);
    cr_assert_eq(kula_bulk_submit(&ENV, body.data, body.len, 11, &out, why, sizeof(why)),
                 KULA_EINVAL);
    cr_assert(strstr(why, "send fewer") != NULL, "%s", why);
    cr_assert_eq(out.len, 0, "nothing answered");
    /* not a body: said in words, nothing admitted */
    cr_assert_eq(kula_bulk_submit(&ENV, junk, sizeof(junk), KULA_JSONRPC_WORK, &out, why,
                                  sizeof(why)),
                 KULA_EINVAL);
    cr_assert(strstr(why, "msgpack array") != NULL, "%s", why);
    cr_assert_eq(kula_mempool_size(MP), 2);
    kula_buf_free(&body);
    kula_buf_free(&out);
    free(a);
    free(b);
    free(ha);
    free(hb);
}

Test(jsonrpc, response_limit)
{
    build_chain();
    size_t whole = result_size("block", "{\"height\":1}");
    size_t part = result_size("block", "{\"height\":1,\"limit\":10}");
    cr_assert_lt(2 * part, whole + 2000, "block 1: %zu bytes, 10 of its txs %zu", whole, part);
    /* the limit counts the answer's JSON exactly (escapes included): one
     * of exactly the limit passes... */
    kula_jsonrpc_max_response = whole;
    json_decref(call("block", "{\"height\":1}"));
    /* ...and one that would be larger is refused, naming the limit and how
     * to page */
    kula_jsonrpc_max_response = whole - 1;
    json_t *r =
        rpc("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"block\",\"params\":{\"height\":1}}");
    cr_assert_eq(code_of(r), KULA_ETOOBIG, "%s", message_of(r));
    char limit[64];
    snprintf(limit, sizeof(limit), "%zu bytes", whole - 1);
    cr_assert_not_null(strstr(message_of(r), limit), "%s", message_of(r));
    cr_assert_not_null(strstr(message_of(r), "from"), "%s", message_of(r));
    json_t *data = json_object_get(json_object_get(r, "error"), "data");
    cr_assert_str_eq(json_string_value(json_object_get(data, "name")), "ETOOBIG");
    cr_assert_eq(json_integer_value(json_object_get(data, "limit")), (json_int_t)(whole - 1));
    json_decref(r);
    /* raw: the hex alone is larger */
    r = rpc("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"block\","
            "\"params\":{\"height\":1,\"limit\":1,\"raw\":true}}");
    cr_assert_eq(code_of(r), KULA_ETOOBIG, "raw: %s", message_of(r));
    json_decref(r);
    /* a batch shares the limit: of two answers that fit alone, the second
     * is refused */
    kula_jsonrpc_max_response = part + part / 2;
    r = rpc("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"block\","
            "\"params\":{\"height\":1,\"limit\":10}},"
            "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"block\","
            "\"params\":{\"height\":1,\"limit\":10}}]");
    cr_assert_eq(json_array_size(r), 2);
    cr_assert_null(json_object_get(json_array_get(r, 0), "error"), "%s",
                   message_of(json_array_get(r, 0)));
    cr_assert_eq(code_of(json_array_get(r, 1)), KULA_ETOOBIG);
    json_decref(r);
    /* history ends its page early instead, and "next" goes on */
    json_t *h = call("history", "{\"member\":2,\"limit\":1000}");
    size_t n = json_array_size(json_object_get(h, "entries"));
    cr_assert_gt(n, 0);
    cr_assert_lt(n, HIST_BLOCKS * HIST_PER_BLOCK);
    cr_assert(json_is_object(json_object_get(h, "next")));
    json_decref(h);
}

/* ---- pagination: every entry exactly once ---- */

/* Reads a whole history in pages of `limit`; returns the entries' ids in
 * order, as one JSON array. */
static json_t *history_pages(uint32_t member, unsigned limit, size_t *pages)
{
    json_t *all = json_array();
    char params[256];
    snprintf(params, sizeof(params), "{\"member\":%u,\"limit\":%u}", member, limit);
    *pages = 0;
    for (;;) {
        json_t *h = call("history", params);
        json_t *entries = json_object_get(h, "entries"), *e;
        size_t i;
        cr_assert_leq(json_array_size(entries), limit);
        json_array_foreach(entries, i, e) json_array_append(all, json_object_get(e, "id"));
        (*pages)++;
        cr_assert_lt(*pages, 1000);
        json_t *next = json_object_get(h, "next");
        if (json_is_null(next)) {
            json_decref(h);
            return all;
        }
        cr_assert_gt(json_array_size(entries), 0, "an empty page with a next");
        snprintf(params, sizeof(params),
                 "{\"member\":%u,\"limit\":%u,\"before_height\":%lld,\"before_index\":%lld}",
                 member, limit,
                 (long long)json_integer_value(json_object_get(next, "before_height")),
                 (long long)json_integer_value(json_object_get(next, "before_index")));
        json_decref(h);
    }
}

static void expect_unique(json_t *ids, const char *what)
{
    for (size_t i = 0; i < json_array_size(ids); i++)
        for (size_t k = i + 1; k < json_array_size(ids); k++)
            cr_assert(!json_equal(json_array_get(ids, i), json_array_get(ids, k)),
                      "%s: entry %zu repeated at %zu", what, i, k);
}

/* ledger_state: the tip's height, hash and state root are those of the tip
 * block's header (what kula audit compares), at the genesis and after blocks. */
static void expect_ledger_state(void)
{
    json_t *st = call("ledger_state", "");
    uint64_t h = kula_chain_height(C);
    cr_assert_eq(json_integer_value(json_object_get(st, "height")), (json_int_t)h);
    char params[64];
    snprintf(params, sizeof(params), "{\"height\":%llu,\"limit\":0}", (unsigned long long)h);
    if (h > 0) {
        json_t *b = call("block", params);
        json_t *head = json_object_get(b, "header") != NULL ? json_object_get(b, "header") : b;
        cr_assert_str_eq(json_string_value(json_object_get(st, "tip_hash")),
                         json_string_value(json_object_get(head, "hash")));
        cr_assert_str_eq(json_string_value(json_object_get(st, "state_root")),
                         json_string_value(json_object_get(head, "state_root")));
        cr_assert_eq(json_integer_value(json_object_get(st, "tip_time_ms")),
                     json_integer_value(json_object_get(head, "time_ms")));
        json_decref(b);
    }
    char chain[65];
    kula_hex_encode(chain, G.chain_id.b, KULA_HASH_LEN);
    cr_assert_str_eq(json_string_value(json_object_get(st, "chain_id")), chain);
    cr_assert_eq(strlen(json_string_value(json_object_get(st, "state_root"))), 64);
    json_decref(st);
}

Test(jsonrpc, ledger_state_is_the_tips)
{
    expect_ledger_state();
    build_chain();
    expect_ledger_state();
}

Test(jsonrpc, history_pages)
{
    build_chain();
    json_t *whole = call("history", "{\"member\":2,\"limit\":1000}");
    json_t *want = json_array(), *e;
    size_t i, pages;
    json_array_foreach(json_object_get(whole, "entries"), i, e)
        json_array_append(want, json_object_get(e, "id"));
    cr_assert(json_is_null(json_object_get(whole, "next")));
    /* transfers, agreement opens, a vote */
    cr_assert_eq(json_array_size(want), HIST_BLOCKS * HIST_PER_BLOCK + 3 + 1);
    expect_unique(want, "history");
    for (unsigned limit = 1; limit <= 31; limit += 6) {
        json_t *got = history_pages(2, limit, &pages);
        cr_assert(json_equal(got, want), "history in pages of %u differs", limit);
        cr_assert_eq(pages, (json_array_size(want) + limit - 1) / limit, "pages of %u: %zu",
                     limit, pages);
        json_decref(got);
    }
    /* exactly a page: "next" is null, not an empty page later */
    json_t *h = call("history", "{\"member\":3,\"limit\":1000}");
    size_t n3 = json_array_size(json_object_get(h, "entries"));
    json_decref(h);
    char params[64];
    snprintf(params, sizeof(params), "{\"member\":3,\"limit\":%zu}", n3);
    h = call("history", params);
    cr_assert(json_is_null(json_object_get(h, "next")));
    json_decref(h);
    /* with a small response limit the pages end early, and still hold
     * every entry once */
    kula_jsonrpc_max_response = 12000;
    json_t *got = history_pages(2, 1000, &pages);
    cr_assert(json_equal(got, want), "history in short pages differs");
    cr_assert_gt(pages, 3);
    json_decref(got);
    json_decref(want);
    json_decref(whole);
}

/* Reads a list method in pages; `cursor` names the entry's member the next
 * page starts after ("id" as integer or string).  Returns every entry. */
static json_t *list_pages(const char *method, const char *extra, unsigned limit,
                          const char *cursor)
{
    json_t *all = json_array();
    char params[512];
    snprintf(params, sizeof(params), "{%s%s\"limit\":%u}", extra, extra[0] ? "," : "", limit);
    for (int pages = 0;; pages++) {
        cr_assert_lt(pages, 1000);
        json_t *list = call(method, params);
        cr_assert(json_is_array(list), "%s: not an array", method);
        cr_assert_leq(json_array_size(list), limit);
        json_array_extend(all, list);
        if (json_array_size(list) < limit) {
            json_decref(list);
            return all;
        }
        json_t *last = json_object_get(json_array_get(list, limit - 1), cursor);
        char *c = json_dumps(last, JSON_ENCODE_ANY);
        snprintf(params, sizeof(params), "{%s%s\"limit\":%u,\"after\":%s}", extra,
                 extra[0] ? "," : "", limit, c);
        free(c);
        json_decref(list);
    }
}

static void check_list_pages(const char *method, const char *extra, const char *cursor,
                             size_t expect)
{
    char params[256];
    snprintf(params, sizeof(params), "{%s}", extra);
    json_t *want = call(method, params);
    cr_assert_eq(json_array_size(want), expect, "%s %s: %zu entries", method, extra,
                 json_array_size(want));
    for (unsigned limit = 1; limit <= expect + 1; limit++) {
        json_t *got = list_pages(method, extra, limit, cursor);
        cr_assert(json_equal(got, want), "%s %s in pages of %u differs", method, extra, limit);
        json_decref(got);
    }
    json_decref(want);
}

Test(jsonrpc, list_pages)
{
    build_chain();
    check_list_pages("members", "", "id", NMEMBERS);
    check_list_pages("agreements", "", "id", NAGREEMENTS);
    check_list_pages("agreements", "\"member\":2", "id", 3);
    check_list_pages("proposals", "", "id", NPROPOSALS);
    /* the first page of the default size holds them all */
    json_t *m = call("members", "");
    cr_assert_eq(json_array_size(m), NMEMBERS);
    json_decref(m);
    /* a bad cursor */
    json_t *r = rpc(
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"proposals\",\"params\":{\"after\":\"xyz\"}}");
    cr_assert_eq(code_of(r), -32602);
    json_decref(r);
    r = rpc("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"members\",\"params\":{\"limit\":1001}}");
    cr_assert_eq(code_of(r), -32602);
    json_decref(r);
}

Test(jsonrpc, proposal_votes_pages)
{
    build_chain();
    char hex[65], params[256];
    kula_hex_encode(hex, proposal0.b, KULA_HASH_LEN);
    snprintf(params, sizeof(params), "{\"id\":\"%s\"}", hex);
    json_t *q = call("proposal", params);
    /* what decides it: the active members and the threshold */
    json_t *d = json_object_get(q, "decision");
    cr_assert_eq(json_integer_value(json_object_get(d, "active_members")), NMEMBERS);
    cr_assert_eq(json_integer_value(json_object_get(d, "threshold_num")), G.params.threshold_num);
    cr_assert_eq(json_integer_value(json_object_get(d, "threshold_den")), G.params.threshold_den);
    json_t *want = json_incref(json_object_get(q, "votes"));
    cr_assert_str_eq(json_string_value(json_object_get(q, "status")), "open");
    cr_assert(json_is_null(json_object_get(q, "next")));
    json_decref(q);
    cr_assert_geq(json_array_size(want), 14);
    for (unsigned limit = 1; limit <= 16; limit++) {
        json_t *got = json_array();
        snprintf(params, sizeof(params), "{\"id\":\"%s\",\"limit\":%u}", hex, limit);
        for (int pages = 0;; pages++) {
            cr_assert_lt(pages, 100);
            q = call("proposal", params);
            json_t *votes = json_object_get(q, "votes");
            cr_assert_leq(json_array_size(votes), limit);
            json_array_extend(got, votes);
            json_t *next = json_object_get(q, "next");
            if (json_is_null(next)) {
                json_decref(q);
                break;
            }
            snprintf(params, sizeof(params), "{\"id\":\"%s\",\"limit\":%u,\"after\":%lld}", hex,
                     limit, (long long)json_integer_value(json_object_get(next, "after")));
            json_decref(q);
        }
        cr_assert(json_equal(got, want), "votes in pages of %u differ", limit);
        json_decref(got);
    }
    json_decref(want);
}

Test(jsonrpc, block_pages)
{
    build_chain();
    json_t *b = call("block", "{\"height\":1}");
    json_t *want = json_incref(json_object_get(b, "txs"));
    cr_assert_eq(json_array_size(want), HIST_PER_BLOCK);
    cr_assert_eq(json_integer_value(json_object_get(b, "ntxs")), HIST_PER_BLOCK);
    cr_assert(json_is_null(json_object_get(b, "next")));
    json_decref(b);
    for (unsigned limit = 1; limit <= HIST_PER_BLOCK + 1; limit += 4) {
        json_t *got = json_array();
        char params[128];
        snprintf(params, sizeof(params), "{\"height\":1,\"limit\":%u}", limit);
        for (int pages = 0;; pages++) {
            cr_assert_lt(pages, 100);
            b = call("block", params);
            json_array_extend(got, json_object_get(b, "txs"));
            json_t *next = json_object_get(b, "next");
            if (json_is_null(next)) {
                json_decref(b);
                break;
            }
            cr_assert_eq(json_integer_value(json_object_get(next, "height")), 1);
            snprintf(params, sizeof(params), "{\"height\":1,\"limit\":%u,\"from\":%lld}", limit,
                     (long long)json_integer_value(json_object_get(next, "from")));
            json_decref(b);
        }
        cr_assert(json_equal(got, want), "block txs in pages of %u differ", limit);
        json_decref(got);
    }
    json_decref(want);
}

/* "ids": each transaction's id alone, the same ids as the whole
 * transactions carry, paged the same way. */
Test(jsonrpc, block_ids_only)
{
    build_chain();
    json_t *b = call("block", "{\"height\":1}");
    json_t *full = json_object_get(b, "txs");
    cr_assert_eq(json_array_size(full), HIST_PER_BLOCK);
    json_t *got = json_array();
    char params[128] = "{\"height\":1,\"ids\":true,\"limit\":3}";
    for (int pages = 0;; pages++) {
        cr_assert_lt(pages, 100);
        json_t *p = call("block", params);
        json_t *page = json_object_get(p, "txs");
        for (size_t i = 0; i < json_array_size(page); i++) {
            cr_assert(json_is_string(json_array_get(page, i)), "an id, not an object");
            cr_assert_eq(strlen(json_string_value(json_array_get(page, i))), 2 * KULA_HASH_LEN);
        }
        json_array_extend(got, page);
        json_t *next = json_object_get(p, "next");
        if (json_is_null(next)) {
            json_decref(p);
            break;
        }
        snprintf(params, sizeof(params), "{\"height\":1,\"ids\":true,\"limit\":3,\"from\":%lld}",
                 (long long)json_integer_value(json_object_get(next, "from")));
        json_decref(p);
    }
    cr_assert_eq(json_array_size(got), HIST_PER_BLOCK);
    for (size_t i = 0; i < HIST_PER_BLOCK; i++)
        cr_assert_str_eq(json_string_value(json_array_get(got, i)),
                         json_string_value(json_object_get(json_array_get(full, i), "id")), "tx %zu",
                         i);
    json_decref(got);
    json_decref(b);
}

Test(jsonrpc, member_by_name_and_tx)
{
    build_chain();
    json_t *m = call("balance", "{\"member\":\"Business 2\"}");
    cr_assert_eq(json_integer_value(json_object_get(m, "member")), 2);
    json_decref(m);
    json_t *h = call("history", "{\"member\":\"Business 3\",\"limit\":1}");
    json_t *e = json_array_get(json_object_get(h, "entries"), 0);
    char params[128];
    snprintf(params, sizeof(params), "{\"id\":\"%s\"}",
             json_string_value(json_object_get(e, "id")));
    json_t *t = call("tx", params);
    cr_assert_str_eq(json_string_value(json_object_get(t, "status")), "committed");
    cr_assert(json_is_object(json_object_get(t, "tx")));
    json_decref(t);
    json_decref(h);
}

Test(jsonrpc, genesis_made_once_and_shared)
{
    json_t *r = rpc("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"genesis\"},"
                    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"genesis\"}]");
    cr_assert_eq(json_array_size(r), 2);
    json_t *a = json_object_get(json_array_get(r, 0), "result");
    json_t *b = json_object_get(json_array_get(r, 1), "result");
    cr_assert_str_eq(json_string_value(json_object_get(a, "network")), "kula-test");
    cr_assert(json_equal(a, b));
    json_decref(r);
    json_t *g = call("genesis", "");
    cr_assert_eq(json_array_size(json_object_get(g, "members")), NMEMBERS);
    json_decref(g);
}

Test(jsonrpc, unpaged_lists_whole_or_refused_never_cut)
{
    /* 1001 members, and a block of 1001 payments */
    close_node();
    open_node(1001);
    txs *t = calloc(1, sizeof(*t));
    cr_assert_not_null(t);
    kula_tx tx;
    kula_candidate *c = calloc(1001, sizeof(*c));
    kula_buf *bytes = calloc(1001, sizeof(*bytes));
    kula_tx *decoded = calloc(1001, sizeof(*decoded));
    cr_assert(c != NULL && bytes != NULL && decoded != NULL);
    for (uint32_t i = 0; i < 1001; i++) {
        tx_of(&tx, KULA_TX_TRANSFER, 2 + i % 900);
        tx.u.transfer.to = 1;
        tx.u.transfer.amount = 1;
        txs_add(t, &tx, LU_SIGNERS(tx.from));
        bytes[i] = t->bytes[0];
        cr_assert_eq(kula_tx_decode(&decoded[i], bytes[i].data, bytes[i].len), 0);
        c[i] = (kula_candidate){ bytes[i].data, bytes[i].len, &decoded[i], NULL, 12345 };
        t->n = 0;
    }
    kula_buf block, commit;
    kula_buf_init(&block);
    kula_buf_init(&commit);
    kula_hash hash;
    cr_assert_eq(kula_chain_build_block(C, now_ms + 1000, 1, c, 1001, &block, &hash), 0);
    for (size_t i = 0; i < 1001; i++)
        cr_assert_eq(c[i].result, 0, "tx %zu: %s", i, kula_errname(c[i].result));
    lu_commit_by_1(&commit, &G.chain_id, 1, &hash);
    cr_assert_eq(kula_chain_commit_built(C, commit.data, commit.len), 0);

    /* without a limit: all of them, as far as the limits allow */
    json_t *m = call("members", "");
    cr_assert_eq(json_array_size(m), 1001);
    json_decref(m);
    json_t *b = call("block", "{\"height\":1}");
    cr_assert_eq(json_array_size(json_object_get(b, "txs")), 1001);
    cr_assert(json_is_null(json_object_get(b, "next")));
    json_decref(b);
    /* ...and beyond them, refused with how to page, never cut */
    kula_jsonrpc_work = 1001;
    json_t *r = rpc("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"members\"}");
    cr_assert_eq(code_of(r), KULA_ETOOBIG, "%s", message_of(r));
    cr_assert_not_null(strstr(message_of(r), "after"), "%s", message_of(r));
    json_decref(r);
    r = rpc("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"block\",\"params\":{\"height\":1}}");
    cr_assert_eq(code_of(r), KULA_ETOOBIG, "%s", message_of(r));
    cr_assert_not_null(strstr(message_of(r), "from"), "%s", message_of(r));
    json_decref(r);
    /* in pages: all of them, once */
    json_t *got = list_pages("members", "", 1000, "id");
    cr_assert_eq(json_array_size(got), 1001);
    for (size_t i = 0; i < 1001; i++)
        cr_assert_eq(json_integer_value(json_object_get(json_array_get(got, i), "id")),
                     (json_int_t)(i + 1));
    json_decref(got);
    b = call("block", "{\"height\":1,\"limit\":900}");
    cr_assert_eq(json_array_size(json_object_get(b, "txs")), 900);
    cr_assert_eq(json_integer_value(json_object_get(b, "ntxs")), 1001);
    json_t *next = json_object_get(b, "next");
    cr_assert_eq(json_integer_value(json_object_get(next, "from")), 900);
    json_decref(b);
    b = call("block", "{\"height\":1,\"from\":900,\"limit\":900}");
    cr_assert_eq(json_array_size(json_object_get(b, "txs")), 101);
    cr_assert(json_is_null(json_object_get(b, "next")));
    json_decref(b);

    for (size_t i = 0; i < 1001; i++)
        kula_buf_free(&bytes[i]);
    kula_buf_free(&block);
    kula_buf_free(&commit);
    free(c);
    free(bytes);
    free(decoded);
    free(t);
}

Test(jsonrpc, submits_cost_by_signatures)
{
    /* an agreement signed by its 2 parties asks for 1 + 2 x 3 units, a
     * payment (1 signature) 1 + 3 */
    txs *t = calloc(1, sizeof(*t));
    cr_assert_not_null(t);
    kula_tx tx;
    tx_of(&tx, KULA_TX_AGREEMENT_OPEN, 2);
    tx.u.open.label = lu_text("joint");
    tx.u.open.title = lu_text("Joint campaign");
    tx.u.open.nparties = 2;
    tx.u.open.parties[0] = 2;
    tx.u.open.parties[1] = 3;
    tx.u.open.rule.kind = KULA_RULE_EQUAL;
    txs_add(t, &tx, LU_SIGNERS(2, 3));
    char *hex = malloc(2 * t->bytes[0].len + 1);
    kula_hex_encode(hex, t->bytes[0].data, t->bytes[0].len);
    char *body = malloc(strlen(hex) + 200);
    sprintf(body, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"submit\",\"params\":{\"tx\":\"%s\"}}",
            hex);
    kula_jsonrpc_work = 6;
    json_t *r = rpc(body);
    cr_assert_eq(code_of(r), KULA_ETOOBIG, "%s", message_of(r));
    json_t *data = json_object_get(json_object_get(r, "error"), "data");
    cr_assert_eq(json_integer_value(json_object_get(data, "asked")), 7);
    json_decref(r);
    cr_assert_eq(kula_mempool_size(MP), 0);
    kula_jsonrpc_work = 7;
    r = rpc(body);
    cr_assert_null(json_object_get(r, "error"), "%s", message_of(r));
    cr_assert_eq(kula_mempool_size(MP), 1);
    json_decref(r);
    free(body);
    free(hex);
    kula_buf_free(&t->bytes[0]);
    free(t);
}

/* resolve: the ids that start with a prefix of 4 to 64 hex digits, exactly
 * those of the whole list, even or odd, in either case; anything else
 * refused naming what a prefix is. */
/* One resolve against the whole list `all`. */
static void expect_resolve(const char *kind, const json_t *all, const char *prefix)
{
    char params[160];
    size_t digits = strlen(prefix);
    snprintf(params, sizeof(params), "{\"kind\":\"%s\",\"prefix\":\"%s\"}", kind, prefix);
    json_t *r = call("resolve", params);
    size_t want = 0;
    for (size_t j = 0; j < json_array_size(all); j++)
        want += strncasecmp(json_string_value(json_object_get(json_array_get(all, j), "id")),
                            prefix, digits) == 0;
    json_t *ids = json_object_get(r, "ids");
    cr_assert_eq(json_array_size(ids), want, "%s %s: %zu ids, want %zu", kind, prefix,
                 json_array_size(ids), want);
    cr_assert(json_is_false(json_object_get(r, "more")));
    for (size_t j = 0; j < json_array_size(ids); j++)
        cr_assert(strncasecmp(json_string_value(json_array_get(ids, j)), prefix, digits) == 0);
    json_decref(r);
}

static void check_resolve(const char *kind, const char *list, size_t digits)
{
    json_t *all = call(list, "");
    for (size_t i = 0; i < json_array_size(all); i++) {
        const char *id = json_string_value(json_object_get(json_array_get(all, i), "id"));
        char prefix[65];
        snprintf(prefix, sizeof(prefix), "%.*s", (int)digits, id);
        if (i % 2 == 1)
            for (char *p = prefix; *p; p++)
                *p = (char)toupper((unsigned char)*p);
        expect_resolve(kind, all, prefix);
        /* the same but the last digit: other ids, or none */
        static const char next[] = "123456789abcdef0";
        char *last = &prefix[digits - 1];
        *last = next[isdigit((unsigned char)*last) ? *last - '0' : tolower(*last) - 'a' + 10];
        expect_resolve(kind, all, prefix);
    }
    json_decref(all);
}

Test(jsonrpc, resolve_prefixes)
{
    build_chain();
    for (size_t digits = 4; digits <= 8; digits++) {
        check_resolve("proposal", "proposals", digits);
        check_resolve("agreement", "agreements", digits);
    }
    check_resolve("proposal", "proposals", 64);
    json_t *r = call("resolve", "{\"kind\":\"referral\",\"prefix\":\"abcd\"}");
    cr_assert_eq(json_array_size(json_object_get(r, "ids")), 0, "no referrals in this chain");
    json_decref(r);
    static const char *const bad[] = {
        "{\"kind\":\"proposal\",\"prefix\":\"abc\"}",
        "{\"kind\":\"proposal\",\"prefix\":\"abcg\"}",
        "{\"kind\":\"member\",\"prefix\":\"abcd\"}",
        "{\"prefix\":\"abcd\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char body[256];
        snprintf(body, sizeof(body),
                 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resolve\",\"params\":%s}", bad[i]);
        r = rpc(body);
        cr_assert_eq(code_of(r), -32602, "%s", bad[i]);
        json_decref(r);
    }
}

/* resolve of transactions: exactly the committed ones under a prefix (the
 * oracle: every block's transactions), and a pending one too. */
Test(jsonrpc, resolve_transactions)
{
    build_chain();
    json_t *all = json_array();
    json_t *st = call("status", "");
    json_int_t tip = json_integer_value(json_object_get(st, "height"));
    json_decref(st);
    for (json_int_t h = 1; h <= tip; h++) {
        char params[64];
        snprintf(params, sizeof(params), "{\"height\":%lld,\"limit\":1000}", (long long)h);
        json_t *b = call("block", params);
        size_t i;
        json_t *tx;
        json_array_foreach(json_object_get(b, "txs"), i, tx)
            json_array_append_new(all, json_pack("{s:O}", "id", json_object_get(tx, "id")));
        json_decref(b);
    }
    cr_assert_geq(json_array_size(all), 20, "a chain of %zu transactions", json_array_size(all));
    for (size_t i = 0; i < json_array_size(all); i += 3) {
        const char *id = json_string_value(json_object_get(json_array_get(all, i), "id"));
        for (size_t digits = 4; digits <= 9; digits++) {
            char prefix[65];
            snprintf(prefix, sizeof(prefix), "%.*s", (int)digits, id);
            expect_resolve("tx", all, prefix);
            prefix[digits - 1] = prefix[digits - 1] == '0' ? '1' : '0'; /* a near miss */
            expect_resolve("tx", all, prefix);
        }
        expect_resolve("tx", all, id);
    }
    /* a pending transaction is found by its prefix too */
    char *pay = payment_hex(1);
    char *body = malloc(strlen(pay) + 64);
    sprintf(body, "{\"tx\":\"%s\"}", pay);
    json_t *sub = call("submit", body);
    const char *pid = json_string_value(json_object_get(sub, "id"));
    cr_assert_not_null(pid);
    char params[128];
    snprintf(params, sizeof(params), "{\"kind\":\"tx\",\"prefix\":\"%.10s\"}", pid);
    json_t *r = call("resolve", params);
    cr_assert_eq(json_array_size(json_object_get(r, "ids")), 1, "the pending one by its prefix");
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(r, "ids"), 0)), pid);
    json_decref(r);
    json_decref(sub);
    free(body);
    free(pay);
    json_decref(all);
}

/* An agreement of 17 parties does not decode: check and submit refuse it
 * naming the limit of 16. */
Test(jsonrpc, seventeen_parties_name_the_limit)
{
    kula_tx tx;
    tx_of(&tx, KULA_TX_AGREEMENT_OPEN, 1);
    tx.u.open.label = lu_text("big");
    tx.u.open.title = lu_text("big");
    tx.u.open.nparties = 16;
    for (uint32_t i = 0; i < 16; i++)
        tx.u.open.parties[i] = i + 1;
    tx.u.open.rule.kind = KULA_RULE_EQUAL;
    kula_buf b;
    kula_buf_init(&b);
    lu_signed_bytes(&b, &tx, &G.chain_id, LU_SIGNERS(1));
    /* the parties [1..16] (array16 of 16 fixints) become [1..17] */
    static const uint8_t p16[] = { 0xdc, 0x00, 0x10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
                                   13, 14, 15, 16 };
    uint8_t *at = memmem(b.data, b.len, p16, sizeof(p16));
    cr_assert_not_null(at, "no parties array found");
    size_t off = (size_t)(at - b.data) + sizeof(p16);
    uint8_t *bytes = malloc(b.len + 1);
    memcpy(bytes, b.data, off);
    bytes[off] = 17;
    memcpy(bytes + off + 1, b.data + off, b.len - off);
    bytes[(size_t)(at - b.data) + 2] = 0x11;
    char *hex = malloc(2 * (b.len + 1) + 1);
    kula_hex_encode(hex, bytes, b.len + 1);
    static const char *const methods[] = { "check", "submit" };
    for (int m = 0; m < 2; m++) {
        size_t cap = strlen(hex) + 128;
        char *body = malloc(cap);
        snprintf(body, cap, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%s\",\"params\":{\"tx\":\"%s\"}}",
                 methods[m], hex);
        json_t *r = rpc(body);
        cr_assert_eq(code_of(r), KULA_ETOOBIG, "%s: %s", methods[m], message_of(r));
        cr_assert(strstr(message_of(r), "at most 16 parties (an agreement's limit)") != NULL,
                  "%s: %s", methods[m], message_of(r));
        json_decref(r);
        free(body);
    }
    free(hex);
    free(bytes);
    kula_buf_free(&b);
}

/* invoices: all, a member's (as issuer or debtor), only the open ones, in
 * id order; invoice: one, with what is still owed; resolve finds it by a
 * prefix; a bad 'open' and an unknown invoice are named. */
Test(jsonrpc, invoices_by_member_and_open)
{
    txs *t = calloc(1, sizeof(*t));
    cr_assert_not_null(t);
    kula_tx tx;
    kula_hash ids[3];
    static const uint32_t parties[3][2] = { { 2, 3 }, { 3, 4 }, { 4, 2 } };
    for (int i = 0; i < 3; i++) {
        tx_of(&tx, KULA_TX_INVOICE, parties[i][0]);
        tx.u.invoice.debtor = parties[i][1];
        tx.u.invoice.amount = 1000 * (i + 1);
        tx.u.invoice.due = 5;
        tx.u.invoice.reference = lu_text("R-1");
        txs_add(t, &tx, LU_SIGNERS(parties[i][0]));
        ids[i] = t->tx[t->n - 1].id;
    }
    produce(t);
    tx_of(&tx, KULA_TX_INVOICE_PAY, 3); /* 3 pays 2's invoice in full */
    tx.u.inv.invoice = ids[0];
    tx.u.inv.amount = 1000;
    txs_add(t, &tx, LU_SIGNERS(3));
    tx_of(&tx, KULA_TX_INVOICE_PAY, 4); /* 4 pays part of 3's */
    tx.u.inv.invoice = ids[1];
    tx.u.inv.amount = 500;
    txs_add(t, &tx, LU_SIGNERS(4));
    produce(t);
    free(t);

    json_t *all = call("invoices", "{}");
    cr_assert_eq(json_array_size(all), 3);
    for (size_t i = 1; i < 3; i++)
        cr_assert_lt(strcmp(json_string_value(json_object_get(json_array_get(all, i - 1), "id")),
                            json_string_value(json_object_get(json_array_get(all, i), "id"))),
                     0, "in id order");
    json_decref(all);
    json_t *of2 = call("invoices", "{\"member\":2}");
    cr_assert_eq(json_array_size(of2), 2, "2 issued one and owes one");
    json_decref(of2);
    json_t *open = call("invoices", "{\"open\":true}");
    cr_assert_eq(json_array_size(open), 2, "the paid one is not open");
    json_decref(open);
    json_t *open3 = call("invoices", "{\"member\":3,\"open\":true}");
    cr_assert_eq(json_array_size(open3), 1);
    json_t *v = json_array_get(open3, 0);
    cr_assert_str_eq(json_string_value(json_object_get(v, "status")), "accepted");
    cr_assert_eq(json_integer_value(json_object_get(v, "residual")), 1500);
    cr_assert_eq(json_integer_value(json_object_get(v, "paid")), 500);
    cr_assert_eq(json_integer_value(json_object_get(v, "issuer")), 3);
    json_decref(open3);

    char hex[2 * KULA_HASH_LEN + 1], params[128];
    kula_hex_encode(hex, ids[0].b, KULA_HASH_LEN);
    snprintf(params, sizeof(params), "{\"id\":\"%s\"}", hex);
    json_t *one = call("invoice", params);
    cr_assert_str_eq(json_string_value(json_object_get(one, "status")), "paid");
    cr_assert_eq(json_integer_value(json_object_get(one, "residual")), 0);
    cr_assert_str_eq(json_string_value(json_object_get(one, "reference")), "R-1");
    json_decref(one);
    snprintf(params, sizeof(params), "{\"kind\":\"invoice\",\"prefix\":\"%.8s\"}", hex);
    json_t *r = call("resolve", params);
    cr_assert_eq(json_array_size(json_object_get(r, "ids")), 1);
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(r, "ids"), 0)), hex);
    json_decref(r);

    r = rpc("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"invoices\",\"params\":{\"open\":1}}");
    cr_assert_eq(code_of(r), -32602);
    cr_assert(strstr(message_of(r), "'open'") != NULL, "%s", message_of(r));
    json_decref(r);
    r = rpc("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"invoice\",\"params\":{\"id\":"
            "\"00000000000000000000000000000000000000000000000000000000000000ff\"}}");
    cr_assert_eq(code_of(r), KULA_EUNKNOWNINVOICE, "%s", message_of(r));
    json_decref(r);
}

/* clearing: none yet is ENOTFOUND; after a passed clear proposal on the
 * cycle 2 owes 3 100, 3 owes 4 80, 4 owes 2 120: clearing 1 with its
 * totals, each member before and after, its obligations paged by limit
 * and from (next names the clearing); an unknown number is named. */
Test(jsonrpc, clearing_totals_members_and_pages)
{
    json_t *r = rpc("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"clearing\"}");
    cr_assert_eq(code_of(r), KULA_ENOTFOUND, "%s", message_of(r));
    cr_assert(strstr(message_of(r), "no clearing yet") != NULL, "%s", message_of(r));
    json_decref(r);

    txs *t = calloc(1, sizeof(*t));
    cr_assert_not_null(t);
    kula_tx tx;
    kula_hash ids[3];
    static const uint32_t owes[3][3] = { { 2, 3, 100 }, { 3, 4, 80 }, { 4, 2, 120 } };
    for (int i = 0; i < 3; i++) {
        tx_of(&tx, KULA_TX_INVOICE, owes[i][1]); /* the creditor bills the debtor */
        tx.u.invoice.debtor = owes[i][0];
        tx.u.invoice.amount = owes[i][2];
        tx.u.invoice.due = 5;
        tx.u.invoice.reference = lu_text("C-1");
        txs_add(t, &tx, LU_SIGNERS(owes[i][1]));
        ids[i] = t->tx[t->n - 1].id;
    }
    produce(t);
    for (int i = 0; i < 3; i++) {
        tx_of(&tx, KULA_TX_INVOICE_ACCEPT, owes[i][0]);
        tx.u.inv.invoice = ids[i];
        txs_add(t, &tx, LU_SIGNERS(owes[i][0]));
    }
    tx_of(&tx, KULA_TX_PROPOSE, 1);
    tx.u.propose.action.kind = KULA_ACT_CLEAR;
    txs_add(t, &tx, LU_SIGNERS(1));
    kula_hash prop = t->tx[t->n - 1].id;
    produce(t);
    for (uint32_t m = 2; m <= 14; m++) { /* 14 yes of 20 with 1's: passed */
        tx_of(&tx, KULA_TX_VOTE, m);
        tx.u.vote.proposal = prop;
        tx.u.vote.approve = true;
        txs_add(t, &tx, LU_SIGNERS(m));
    }
    produce(t);
    produce(t);
    free(t);

    json_t *c = call("clearing", "{}");
    cr_assert_eq(json_integer_value(json_object_get(c, "number")), 1);
    cr_assert_eq(json_integer_value(json_object_get(c, "total_debt")), 300);
    cr_assert_eq(json_integer_value(json_object_get(c, "cleared")), 240);
    cr_assert_eq(json_integer_value(json_object_get(c, "remaining")), 60);
    cr_assert_eq(json_integer_value(json_object_get(c, "obligations_count")), 3);
    cr_assert(json_is_null(json_object_get(c, "next")));
    /* member 2: owed 120, owes 100; after 40 and 20 */
    static const int64_t want[3][5] = { { 2, 120, 100, 40, 20 }, { 3, 100, 80, 20, 0 },
                                        { 4, 80, 120, 0, 40 } };
    static const char *const fields[5] = { "member", "owed", "owing", "owed_after",
                                           "owing_after" };
    json_t *ms = json_object_get(c, "members");
    cr_assert_eq(json_array_size(ms), 3);
    for (size_t i = 0; i < 3; i++)
        for (size_t f = 0; f < 5; f++)
            cr_assert_eq(json_integer_value(json_object_get(json_array_get(ms, i), fields[f])),
                         want[i][f], "member %zu %s", i, fields[f]);
    json_t *obs = json_object_get(c, "obligations");
    cr_assert_eq(json_array_size(obs), 3);
    for (size_t i = 0; i < 3; i++) {
        json_t *o = json_array_get(obs, i);
        int64_t before = json_integer_value(json_object_get(o, "before"));
        cr_assert_eq(json_integer_value(json_object_get(o, "setoff")), 80);
        cr_assert_eq(json_integer_value(json_object_get(o, "after")), before - 80);
    }
    json_decref(c);

    json_t *p = call("clearing", "{\"number\":1,\"limit\":2}");
    cr_assert_eq(json_array_size(json_object_get(p, "obligations")), 2);
    json_t *next = json_object_get(p, "next");
    cr_assert_eq(json_integer_value(json_object_get(next, "number")), 1);
    cr_assert_eq(json_integer_value(json_object_get(next, "from")), 2);
    json_decref(p);
    p = call("clearing", "{\"number\":1,\"from\":2}");
    cr_assert_eq(json_array_size(json_object_get(p, "obligations")), 1);
    json_decref(p);

    r = rpc("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"clearing\",\"params\":{\"number\":2}}");
    cr_assert_eq(code_of(r), KULA_ENOTFOUND, "%s", message_of(r));
    cr_assert(strstr(message_of(r), "no clearing number 2") != NULL, "%s", message_of(r));
    json_decref(r);
}

/* GET /ids's parameters: decimal numbers, from at least 1, blocks 1..64;
 * anything else refused with words naming the parameter. */
Test(jsonrpc, ids_args)
{
    uint64_t from = 0;
    uint32_t blocks = 0;
    char why[160];
    cr_assert_eq(kula_ids_args("7", NULL, &from, &blocks, why, sizeof(why)), 0);
    cr_assert_eq(from, 7);
    cr_assert_eq(blocks, KULA_IDS_DEFAULT_BLOCKS);
    cr_assert_eq(kula_ids_args("18446744073709551615", "64", &from, &blocks, why, sizeof(why)),
                 0);
    cr_assert_eq(from, UINT64_MAX);
    cr_assert_eq(blocks, 64);
    static const struct { const char *from, *blocks, *names; } bad[] = {
        { NULL, "3", "'from'" },   { "", NULL, "'from'" },  { "0", NULL, "'from'" },
        { "-1", NULL, "'from'" },  { "+1", NULL, "'from'" }, { "1x", NULL, "'from'" },
        { " 1", NULL, "'from'" },  { "18446744073709551616", NULL, "'from'" },
        { "1", "0", "'blocks'" },  { "1", "65", "'blocks'" }, { "1", "", "'blocks'" },
        { "1", "1e3", "'blocks'" }, { "1", "99999999999999999999999", "'blocks'" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why[0] = '\0';
        cr_assert_eq(kula_ids_args(bad[i].from, bad[i].blocks, &from, &blocks, why, sizeof(why)),
                     KULA_EINVAL, "case %zu", i);
        cr_assert(strstr(why, bad[i].names) != NULL, "case %zu: %s", i, why);
    }
}

/* GET /ids's reply against the JSON-RPC `block` with `ids`, block by
 * block: the same heights, the same ids in the same order; capped at the
 * tip, and only the tip past it. */
Test(jsonrpc, ids_reply_matches_block_ids)
{
    kula_buf out;
    kula_buf_init(&out);
    uint64_t below = 99;
    /* no block yet: the tip (0) alone */
    cr_assert_eq(kula_ids_reply(&ENV, 1, 16, &out, &below), 0);
    cr_assert_eq(below, 0);
    static const uint8_t nothing[] = { 0x92, 0x00, 0x90 };
    cr_assert_eq(out.len, sizeof(nothing));
    cr_assert_eq(memcmp(out.data, nothing, sizeof(nothing)), 0);
    build_chain();
    uint64_t tip = kula_chain_height(C);
    cr_assert_geq(tip, 5);
    kula_buf_reset(&out);
    cr_assert_eq(kula_ids_reply(&ENV, 2, 64, &out, &below), 0);
    kula_reader r;
    kula_reader_init(&r, out.data, out.len);
    kula_r_array_exact(&r, 2);
    cr_assert_eq(kula_r_uint(&r, UINT64_MAX), tip);
    uint32_t nb = kula_r_array(&r, 64);
    cr_assert_eq(nb, tip - 1, "heights 2 to the tip");
    size_t total = 0;
    for (uint32_t b = 0; b < nb; b++) {
        kula_r_array_exact(&r, 2);
        uint64_t h = kula_r_uint(&r, UINT64_MAX);
        cr_assert_eq(h, 2 + b);
        char params[64];
        snprintf(params, sizeof(params), "{\"height\":%llu,\"ids\":true}", (unsigned long long)h);
        json_t *resp = call("block", params);
        json_t *ids = json_object_get(resp, "txs");
        uint32_t n = kula_r_array(&r, KULA_MAX_BLOCK_TXS);
        cr_assert_eq(n, json_array_size(ids), "height %llu", (unsigned long long)h);
        for (uint32_t i = 0; i < n; i++) {
            const uint8_t *p;
            cr_assert_eq(kula_r_bin(&r, &p, KULA_HASH_LEN), KULA_HASH_LEN);
            char hex[2 * KULA_HASH_LEN + 1];
            kula_hex_encode(hex, p, KULA_HASH_LEN);
            cr_assert_str_eq(hex, json_string_value(json_array_get(ids, i)));
        }
        total += n;
        json_decref(resp);
    }
    cr_assert_eq(kula_reader_finish(&r), 0);
    cr_assert_gt(total, 100);
    /* two blocks asked: two given */
    kula_buf_reset(&out);
    cr_assert_eq(kula_ids_reply(&ENV, 1, 2, &out, &below), 0);
    kula_reader_init(&r, out.data, out.len);
    kula_r_array_exact(&r, 2);
    kula_r_uint(&r, UINT64_MAX);
    cr_assert_eq(kula_r_array(&r, 64), 2);
    /* just past the tip, and far past it (no overflow at the top): the
     * tip alone */
    uint64_t past[2] = { tip + 1, UINT64_MAX };
    for (int k = 0; k < 2; k++) {
        kula_buf_reset(&out);
        cr_assert_eq(kula_ids_reply(&ENV, past[k], 64, &out, &below), 0);
        kula_reader_init(&r, out.data, out.len);
        kula_r_array_exact(&r, 2);
        cr_assert_eq(kula_r_uint(&r, UINT64_MAX), tip);
        cr_assert_eq(kula_r_array(&r, 64), 0);
        cr_assert_eq(kula_reader_finish(&r), 0);
    }
    kula_buf_free(&out);
}
