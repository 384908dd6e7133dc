/* rpc.c -- the node's API over HTTP (libmicrohttpd in the libuv loop): the
 * bearer token and its cookie file, POST / to the JSON-RPC methods
 * (jsonrpc.c), POST /submit to the bulk path (bulk.c), GET /health and GET
 * /metrics, and the web wallet's paths (web.c). */
#include "kula/api/rpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <jansson.h>
#include <microhttpd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "jsonrpc.h"
#include "kula/api/bulk.h"
#include "kula/base/error.h"
#include "kula/base/file.h"
#include "kula/base/log.h"
#include "rpc_testing.h"
#include "web.h"

/* What a client may hold.  A client without credentials can open
 * connections and send headers slowly: each request's headers must be in
 * within HEADER_DEADLINE_MS of its start (or of the previous request's end,
 * on a kept-alive connection), an authorised request's body within
 * BODY_DEADLINE_MS (4 MiB at 140 KB/s), else the connection is cut; one
 * address holds at most PER_ADDRESS_CONNECTIONS, so others always find a
 * slot among MAX_CONNECTIONS. */
#define HEADER_DEADLINE_MS 5000u
#define BODY_DEADLINE_MS 30000u
#define PER_ADDRESS_CONNECTIONS 64u
#define MAX_CONNECTIONS 512u
#define SWEEP_MS 250u
/* POST /submit requests whose signatures wait for the verifier while the
 * loop goes on (4,000 transactions); one more is verified on the loop, as
 * a JSON-RPC submit is, so a client sending faster is slowed down. */
#define BULK_WAITS_MAX 4u

/* One TCP connection of the API and its deadline. */
typedef struct conn_slot {
    struct conn_slot *prev, *next;
    int fd;
    uint64_t since_ms;  /* the current request's start, or the last one's end */
    bool headers;       /* its headers are in: the body deadline applies */
    bool cut;           /* shut down by the sweep, MHD closes it */
    bool stream;        /* the web wallet's event stream: long-lived, not swept */
} conn_slot;

/* A POST /submit suspended while its signatures are verified. */
typedef struct bulk_wait {
    struct bulk_wait *next;
    struct MHD_Connection *conn;
    struct request *q;
    kula_bulk_job *job;
    kula_verify_batch vb;
} bulk_wait;

struct kula_rpc {
    struct MHD_Daemon *mhd;
    uv_async_t verified; /* a waiting request's signatures are verified */
    bulk_wait *waits, **waits_end; /* in arrival order */
    unsigned nwaits;
    uint64_t bulk_overlapped, bulk_on_loop; /* answered POST /submit, for /metrics */
    uv_poll_t poll;
    uv_timer_t timer;
    uv_timer_t sweep;   /* cuts connections past their deadline */
    conn_slot *conns;   /* every open connection */
    uint64_t cut_total; /* connections cut since start (for the log) */
    kula_rpc_env *env;
    kula_jsonrpc *api;
    kula_web *web;      /* the web wallet (NULL when detached) */
    char token[2 * 32 + 1];
    char cookie[1100];
    int closing;
};

typedef struct request {
    kula_buf body;
    bool too_big;
    /* POST /submit, answered after its wait (bulk_wait): resumed, the
     * handler sends this */
    bool answered, stopping;
    int rc;
    kula_buf out;
    char why[256];
} request;

int kula_rpc_new_detached(kula_rpc **out, kula_rpc_env *env)
{
    kula_rpc *r = calloc(1, sizeof(*r));
    if (r == NULL || kula_jsonrpc_new(&r->api, env) != 0) {
        free(r);
        return KULA_ENOMEM;
    }
    r->env = env;
    *out = r;
    return KULA_OK;
}

void kula_rpc_free_detached(kula_rpc *r)
{
    if (r != NULL)
        kula_jsonrpc_free(r->api);
    free(r);
}

void kula_rpc_handle(kula_rpc *r, const uint8_t *body, size_t len, char **response,
                     unsigned *status)
{
    json_t *resp = kula_jsonrpc_handle(r->api, body, len, status);
    *response = resp != NULL ? json_dumps(resp, JSON_COMPACT) : NULL;
    json_decref(resp);
}

/* ---- deadlines ---- */

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static conn_slot *slot_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci != NULL ? ci->socket_context : NULL;
}

/* MHD tells of each connection's start and end: the slot lives between.
 * The slot, not MHD, holds the deadlines, because MHD's own timeout resets
 * on every byte and so never cuts a client that trickles (slowloris).  A
 * slot that cannot be allocated is not an error: that connection is then
 * bounded by MHD's idle timeout only. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    kula_rpc *r = cls;
    conn_slot *c = *socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        c = calloc(1, sizeof(*c));
        if (c == NULL || ci == NULL) {
            free(c);
            return; /* not swept: MHD's idle timeout still closes it */
        }
        c->fd = ci->connect_fd;
        c->since_ms = mono_ms();
        c->next = r->conns;
        if (r->conns != NULL)
            r->conns->prev = c;
        r->conns = c;
        *socket_context = c;
    } else if (c != NULL) {
        if (c->prev != NULL)
            c->prev->next = c->next;
        else
            r->conns = c->next;
        if (c->next != NULL)
            c->next->prev = c->prev;
        free(c);
        *socket_context = NULL;
    }
}

/* Every SWEEP_MS: a connection past its deadline is shut down; MHD sees the
 * socket end and closes it in its next run (shutdown, not close: the
 * descriptor stays MHD's). */
static void run_mhd(kula_rpc *r);

static void on_sweep(uv_timer_t *t)
{
    kula_rpc *r = t->data;
    uint64_t now = mono_ms(), cut = 0;
    for (conn_slot *c = r->conns; c != NULL; c = c->next) {
        uint64_t limit = c->headers ? BODY_DEADLINE_MS : HEADER_DEADLINE_MS;
        if (!c->cut && !c->stream && now - c->since_ms > limit) {
            shutdown(c->fd, SHUT_RDWR);
            c->cut = true;
            cut++;
        }
    }
    if (cut > 0) {
        r->cut_total += cut;
        kula_debug("rpc: cut %llu slow connections (%llu since start)",
                   (unsigned long long)cut, (unsigned long long)r->cut_total);
        run_mhd(r);
    }
}

/* ---- HTTP ---- */

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
                             const char *body, size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", type);
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"kulad\"");
    enum MHD_Result rc = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result reply_json(struct MHD_Connection *conn, unsigned status, json_t *j)
{
    char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    enum MHD_Result rc = text != NULL
                             ? reply(conn, status, "application/json", text, strlen(text))
                             : reply(conn, MHD_HTTP_NO_CONTENT, "application/json", "", 0);
    free(text);
    return rc;
}

static enum MHD_Result reply_error(struct MHD_Connection *conn, unsigned status, int code,
                                   const char *msg)
{
    return reply_json(conn, status, kula_jsonrpc_error(NULL, code, msg));
}

static bool authorized(kula_rpc *r, struct MHD_Connection *conn)
{
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (h == NULL || strncmp(h, "Bearer ", 7) != 0 || strlen(h + 7) != strlen(r->token))
        return false;
    return sodium_memcmp(h + 7, r->token, strlen(r->token)) == 0;
}

/* 401 for a request without the token (JSON-RPC, POST /submit, GET /ids). */
static enum MHD_Result reply_unauthorized(struct MHD_Connection *conn)
{
    return reply_error(conn, MHD_HTTP_UNAUTHORIZED, RPC_INVALID_REQUEST,
                       "unauthorized: send 'Authorization: Bearer TOKEN' with the token from "
                       "DATADIR/rpc.cookie");
}

/* 200 when the node is ok, else 503 with the state and its reason, so that
 * a plain HTTP check (a load balancer, systemd, curl -f) sees the truth. */
static enum MHD_Result serve_health(kula_rpc *r, struct MHD_Connection *conn)
{
    const kula_rpc_env *env = r->env;
    /* height last: testnet/lib.sh reads it up to the closing brace */
    json_t *j = json_pack("{s:s, s:s, s:I, s:I, s:I}", "status",
                          kula_health_name(env->health.state), "reason", env->health.reason,
                          "last_block_age_ms", (json_int_t)env->last_block_age_ms, "peers",
                          (json_int_t)env->peers, "height",
                          (json_int_t)kula_chain_height(env->chain));
    return reply_json(conn, env->health.state == KULA_HEALTH_OK ? MHD_HTTP_OK
                                                                : MHD_HTTP_SERVICE_UNAVAILABLE,
                      j);
}

static enum MHD_Result serve_metrics(kula_rpc *r, struct MHD_Connection *conn)
{
    kula_rpc_env *env = r->env;
    char text[4096];
    int n = snprintf(
        text, sizeof(text),
        "# HELP kula_build_info The running kulad.\n"
        "# TYPE kula_build_info gauge\nkula_build_info{version=\"%s\"} 1\n"
        "# HELP kula_health The node's state (1 for the current one).\n"
        "# TYPE kula_health gauge\n"
        "kula_health{state=\"ok\"} %d\nkula_health{state=\"storage-error\"} %d\n"
        "kula_health{state=\"not-a-member\"} %d\nkula_health{state=\"isolated\"} %d\n"
        "kula_health{state=\"stalled\"} %d\nkula_health{state=\"syncing\"} %d\n"
        "# HELP kula_height Height of the last committed block.\n"
        "# TYPE kula_height gauge\nkula_height %llu\n"
        "# HELP kula_round Consensus round at the current height.\n"
        "# TYPE kula_round gauge\nkula_round %u\n"
        "# HELP kula_last_block_age_seconds Time since the last new block (or start).\n"
        "# TYPE kula_last_block_age_seconds gauge\nkula_last_block_age_seconds %.3f\n"
        "# HELP kula_peers Established peer sessions.\n"
        "# TYPE kula_peers gauge\nkula_peers %u\n"
        "# HELP kula_commit_failures_total Writes of blocks or of the consensus state that "
        "failed since start.\n"
        "# TYPE kula_commit_failures_total counter\nkula_commit_failures_total %llu\n"
        "# HELP kula_mempool_size Transactions waiting for a block.\n"
        "# TYPE kula_mempool_size gauge\nkula_mempool_size %zu\n"
        "# HELP kula_mempool_bytes Bytes of transactions waiting for a block.\n"
        "# TYPE kula_mempool_bytes gauge\nkula_mempool_bytes %zu\n"
        "# HELP kula_committed_transactions_total Transactions committed since start.\n"
        "# TYPE kula_committed_transactions_total counter\n"
        "kula_committed_transactions_total %llu\n"
        "# HELP kula_committed_blocks_total Blocks committed since start.\n"
        "# TYPE kula_committed_blocks_total counter\nkula_committed_blocks_total %llu\n"
        "# HELP kula_committed_tx_per_second Committed transactions per second over the last "
        "minute.\n"
        "# TYPE kula_committed_tx_per_second gauge\nkula_committed_tx_per_second %.3f\n"
        "# HELP kula_commit_latency_seconds Time to build, sign and store the last block.\n"
        "# TYPE kula_commit_latency_seconds gauge\nkula_commit_latency_seconds %.6f\n"
        "# HELP kula_api_submit_requests_total POST /submit requests answered since start, "
        "by where their signatures were verified: on the worker threads while the node went "
        "on (overlapped), or with the node waiting (on-loop).\n"
        "# TYPE kula_api_submit_requests_total counter\n"
        "kula_api_submit_requests_total{verified=\"overlapped\"} %llu\n"
        "kula_api_submit_requests_total{verified=\"on-loop\"} %llu\n",
        KULA_VERSION_STRING, env->health.state == KULA_HEALTH_OK,
        env->health.state == KULA_HEALTH_STORAGE, env->health.state == KULA_HEALTH_NOT_MEMBER,
        env->health.state == KULA_HEALTH_ISOLATED, env->health.state == KULA_HEALTH_STALLED,
        env->health.state == KULA_HEALTH_SYNCING,
        (unsigned long long)kula_chain_height(env->chain), env->round,
        (double)env->last_block_age_ms / 1000.0, env->peers,
        (unsigned long long)env->commit_failures, kula_mempool_size(env->mempool),
        kula_mempool_bytes(env->mempool), (unsigned long long)env->committed_txs,
        (unsigned long long)env->committed_blocks, env->tx_rate, env->last_commit_seconds,
        (unsigned long long)r->bulk_overlapped, (unsigned long long)r->bulk_on_loop);
    return reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4", text, (size_t)n);
}

/* Whether the request says its body is msgpack (parameters after ';'
 * allowed, the type's case ignored). */
static bool is_msgpack(struct MHD_Connection *conn)
{
    const char *t = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    static const char want[] = "application/msgpack";
    return t != NULL && strncasecmp(t, want, sizeof(want) - 1) == 0 &&
           (t[sizeof(want) - 1] == '\0' || t[sizeof(want) - 1] == ';' ||
            t[sizeof(want) - 1] == ' ');
}

/* GET /ids (kula/api/bulk.h): the committed blocks' transaction ids. */
static enum MHD_Result serve_ids(kula_rpc *r, struct MHD_Connection *conn)
{
    if (!authorized(r, conn))
        return reply_unauthorized(conn);
    char why[160];
    uint64_t from;
    uint32_t blocks;
    if (kula_ids_args(MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "from"),
                      MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "blocks"), &from,
                      &blocks, why, sizeof(why)) != 0)
        return reply_error(conn, MHD_HTTP_BAD_REQUEST, RPC_INVALID_PARAMS, why);
    kula_buf out;
    kula_buf_init(&out);
    uint64_t below = 0;
    int rc = kula_ids_reply(r->env, from, blocks, &out, &below);
    if (rc == KULA_ENOTFOUND) {
        snprintf(why, sizeof(why),
                 "this node started from a snapshot and holds blocks from height %llu: ask "
                 "from there",
                 (unsigned long long)below);
        kula_buf_free(&out);
        return reply_error(conn, MHD_HTTP_NOT_FOUND, RPC_INVALID_PARAMS, why);
    }
    enum MHD_Result res =
        rc == 0 ? reply(conn, MHD_HTTP_OK, "application/msgpack", (const char *)out.data, out.len)
                : reply_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, RPC_INTERNAL,
                              rc == KULA_ENOMEM ? "out of memory"
                                                : "the block could not be read (the node's "
                                                  "log says why)");
    kula_buf_free(&out);
    return res;
}

/* POST /submit's reply: msgpack, or 400 and why. */
static enum MHD_Result bulk_reply(struct MHD_Connection *conn, const request *q)
{
    if (q->stopping)
        return reply_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, RPC_INTERNAL,
                           "the node is stopping: nothing of this request was admitted (send "
                           "it again when the node is back)");
    if (q->rc == 0)
        return reply(conn, MHD_HTTP_OK, "application/msgpack", (const char *)q->out.data,
                     q->out.len);
    return reply_error(conn,
                       q->rc == KULA_ENOMEM ? MHD_HTTP_INTERNAL_SERVER_ERROR
                                            : MHD_HTTP_BAD_REQUEST,
                       q->rc == KULA_ENOMEM ? RPC_INTERNAL : RPC_INVALID_REQUEST, q->why);
}

static void bulk_verified(void *ctx) { uv_async_send(&((kula_rpc *)ctx)->verified); }

/* Takes the first waiting request off the list. */
static bulk_wait *waits_pop(kula_rpc *r)
{
    bulk_wait *w = r->waits;
    r->waits = w->next;
    if (r->waits == NULL)
        r->waits_end = &r->waits;
    r->nwaits--;
    return w;
}

/* Admits and answers the waiting requests in arrival order: those whose
 * signatures are verified, up to the first still being verified, or, with
 * block, every one (waiting for each, and helping).  Returns: whether any
 * was answered (MHD then has connections to resume). */
static bool answer_waits(kula_rpc *r, bool block)
{
    bool any = false;
    while (r->waits != NULL && (block || kula_verifier_finished(&r->waits->vb))) {
        bulk_wait *w = waits_pop(r);
        kula_verifier_await(r->env->verifier, &w->vb);
        w->q->rc = kula_bulk_end(r->env, w->job, &w->q->out, w->q->why, sizeof(w->q->why));
        w->q->answered = true;
        MHD_resume_connection(w->conn);
        free(w);
        r->bulk_overlapped++;
        any = true;
    }
    return any;
}

/* The verifier finished a batch (bulk_verified). */
static void on_verified(uv_async_t *a)
{
    kula_rpc *r = a->data;
    if (answer_waits(r, false))
        run_mhd(r);
}

/* POST /submit (kula/api/bulk.h).  The request is checked and its
 * transactions decoded here; their signatures are queued on the verifier
 * and the request waits, suspended, while the loop goes on (blocks commit,
 * other requests are read); on_verified admits them and answers.  Past
 * BULK_WAITS_MAX waiting (or with no signature left to verify), the loop
 * answers the waiting ones first, then this one: in arrival order. */
static enum MHD_Result serve_bulk(kula_rpc *r, struct MHD_Connection *conn, request *q)
{
    if (q->answered) /* resumed by on_verified, or by kula_rpc_stop */
        return bulk_reply(conn, q);
    kula_bulk_job *job;
    q->rc = kula_bulk_begin(r->env, q->body.data, q->body.len, kula_jsonrpc_work, &job, q->why,
                            sizeof(q->why));
    if (q->rc != 0)
        return bulk_reply(conn, q);
    size_t n;
    kula_verify_job *jobs = kula_bulk_jobs(job, &n);
    bulk_wait *w = n > 0 && r->nwaits < BULK_WAITS_MAX ? calloc(1, sizeof(*w)) : NULL;
    if (w == NULL) {
        answer_waits(r, true); /* resumed: MHD sends their replies next */
        if (n > 0)
            kula_verifier_run(r->env->verifier, jobs, n);
        q->rc = kula_bulk_end(r->env, job, &q->out, q->why, sizeof(q->why));
        r->bulk_on_loop++;
        return bulk_reply(conn, q);
    }
    w->conn = conn;
    w->q = q;
    w->job = job;
    *r->waits_end = w;
    r->waits_end = &w->next;
    r->nwaits++;
    MHD_suspend_connection(conn);
    kula_verifier_queue(r->env->verifier, &w->vb, jobs, n, bulk_verified, r);
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **con_cls)
{
    kula_rpc *r = cls;
    (void)version;
    conn_slot *slot = slot_of(conn);
    if (slot != NULL && !slot->headers) {
        slot->headers = true; /* the body's deadline starts */
        slot->since_ms = mono_ms();
    }
    /* the web wallet's paths (web.h): its own pages and checks */
    bool web = r->web != NULL && kula_web_route(url, method);
    if (web && strcmp(method, "GET") == 0) {
        bool stream = false;
        enum MHD_Result rc = kula_web_get(r->web, conn, url, &stream);
        if (slot != NULL)
            slot->stream = stream;
        return rc;
    }
    if (strcmp(method, "GET") == 0) {
        if (strcmp(url, "/health") == 0)
            return serve_health(r, conn);
        if (strcmp(url, "/metrics") == 0)
            return serve_metrics(r, conn);
        if (strcmp(url, "/ids") == 0)
            return serve_ids(r, conn);
        return reply_error(conn, MHD_HTTP_NOT_FOUND, RPC_INVALID_REQUEST,
                           "not found: use POST / (JSON-RPC), GET /health, GET /metrics, "
                           "GET /ids or the web wallet at GET /");
    }
    if (strcmp(method, "POST") != 0)
        return reply_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED, RPC_INVALID_REQUEST,
                           "method not allowed");
    request *q = *con_cls;
    if (q == NULL) {
        /* First call: headers only.  Refuse early what cannot succeed, so
         * that a client without the token never makes the node hold a
         * body for it.  The web wallet checks its session, CSRF token
         * and Origin here. */
        enum MHD_Result rc;
        if (web && !kula_web_admit(r->web, conn, url, &rc))
            return rc;
        if (!web && strcmp(url, "/") != 0 && strcmp(url, "/submit") != 0)
            return reply_error(conn, MHD_HTTP_NOT_FOUND, RPC_INVALID_REQUEST,
                               "not found: POST / takes JSON-RPC, POST /submit signed "
                               "transactions in bulk (msgpack)");
        if (!web && !authorized(r, conn))
            return reply_unauthorized(conn);
        if (!web && strcmp(url, "/submit") == 0 && !is_msgpack(conn))
            return reply_error(conn, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, RPC_INVALID_REQUEST,
                               "POST /submit takes 'Content-Type: application/msgpack': a "
                               "msgpack array of signed transactions, each a bin (for JSON, "
                               "use POST / and the method submit)");
        q = calloc(1, sizeof(*q));
        if (q == NULL)
            return MHD_NO;
        kula_buf_init(&q->body);
        kula_buf_init(&q->out);
        *con_cls = q;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        /* MHD hands the body in pieces; one past the limit marks the
         * request refused but keeps reading (and dropping) the rest, since
         * a reply sent mid-body would be read as garbage by the client. */
        if (q->body.len + *upload_size > (web ? KULA_WEB_MAX_BODY : KULA_RPC_MAX_BODY))
            q->too_big = true;
        else
            kula_buf_append(&q->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (q->too_big)
        return reply_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, RPC_INVALID_REQUEST,
                           web ? "the form is larger than the web wallet reads"
                               : "request larger than 4 MiB");
    if (q->body.err != 0)
        return reply_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, RPC_INTERNAL, "out of memory");
    if (web)
        return kula_web_post(r->web, conn, url, q->body.data, q->body.len);
    if (strcmp(url, "/submit") == 0)
        return serve_bulk(r, conn, q);
    unsigned status;
    json_t *resp = kula_jsonrpc_handle(r->api, q->body.data, q->body.len, &status);
    return reply_json(conn, status, resp);
}

/* A request ended (answered, or its connection closed).  The connection
 * may carry another request (keep-alive): its header deadline starts now,
 * so an idle keep-alive connection is cut like a slow one. */
static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    request *q = *con_cls;
    (void)cls;
    (void)toe;
    conn_slot *slot = slot_of(conn);
    if (slot != NULL) {
        slot->headers = false; /* the next request's headers: from now */
        slot->stream = false;
        slot->since_ms = mono_ms();
    }
    if (q != NULL) {
        kula_buf_free(&q->body);
        kula_buf_free(&q->out);
        free(q);
        *con_cls = NULL;
    }
}

/* ---- libuv integration ---- */

static void on_timer(uv_timer_t *t) { run_mhd(t->data); }

static void on_poll(uv_poll_t *p, int status, int events)
{
    (void)status;
    (void)events;
    run_mhd(p->data);
}

/* MHD runs inside the node's loop ("external select" through its epoll
 * descriptor, watched by r->poll): every readiness and every MHD timeout
 * calls MHD_run on the loop thread, so the handlers above and jsonrpc.c
 * see the chain and mempool with no lock.  The timer is re-armed each run
 * to MHD's next deadline, capped at a minute (a stale deadline just causes
 * one extra run). */
static void run_mhd(kula_rpc *r)
{
    MHD_run(r->mhd);
    MHD_UNSIGNED_LONG_LONG ms;
    if (MHD_get_timeout(r->mhd, &ms) == MHD_YES)
        uv_timer_start(&r->timer, on_timer, ms > 60000 ? 60000 : ms, 0);
    else
        uv_timer_start(&r->timer, on_timer, 1000, 0);
}

static void log_mhd(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    kula_debug("rpc: %s", msg);
}

static int write_cookie(kula_rpc *r, const kula_hostport *addr)
{
    char url[128];
    kula_hostport_format(url, sizeof(url), addr);
    char text[256];
    int n = snprintf(text, sizeof(text), "url=http://%s/\ntoken=%s\n", url, r->token);
    return kula_file_replace(r->cookie, text, (size_t)n);
}

int kula_rpc_start(kula_rpc **out, uv_loop_t *loop, const kula_hostport *addr,
                   const char *datadir, kula_rpc_env *env, kula_error *e)
{
    kula_rpc *r = calloc(1, sizeof(*r));
    if (r == NULL || kula_jsonrpc_new(&r->api, env) != 0) {
        free(r);
        return kula_error_set(e, KULA_ENOMEM, "out of memory");
    }
    r->env = env;
    uint8_t secret[32];
    randombytes_buf(secret, sizeof(secret));
    kula_hex_encode(r->token, secret, sizeof(secret));
    sodium_memzero(secret, sizeof(secret));
    snprintf(r->cookie, sizeof(r->cookie), "%s/rpc.cookie", datadir);

    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    /* suspend/resume: the web wallet's event streams wait suspended */
    unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
    if (strchr(addr->host, ':') != NULL) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(addr->port);
        inet_pton(AF_INET6, addr->host, &a6->sin6_addr);
        flags |= MHD_USE_IPv6;
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
        a4->sin_family = AF_INET;
        a4->sin_port = htons(addr->port);
        inet_pton(AF_INET, addr->host, &a4->sin_addr);
    }
    r->mhd = MHD_start_daemon(flags, addr->port, NULL, NULL, on_request, r,
                              MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
                              MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                              (unsigned)PER_ADDRESS_CONNECTIONS,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)15,
                              MHD_OPTION_NOTIFY_CONNECTION, on_connection, r,
                              MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
                              MHD_OPTION_NOTIFY_COMPLETED, on_completed, r,
                              MHD_OPTION_EXTERNAL_LOGGER, log_mhd, r, MHD_OPTION_END);
    char where[128];
    kula_hostport_format(where, sizeof(where), addr);
    if (r->mhd == NULL) {
        kula_error_set(e, KULA_EIO, "cannot serve the API on %s (address in use or not local?)",
                       where);
        kula_jsonrpc_free(r->api);
        free(r);
        return KULA_EIO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(r->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    if (info == NULL || write_cookie(r, addr) != 0) {
        kula_error_set(e, KULA_EIO, "cannot set up the API (cookie %s: %s)", r->cookie,
                       strerror(errno));
        MHD_stop_daemon(r->mhd);
        kula_jsonrpc_free(r->api);
        free(r);
        return KULA_EIO;
    }
    if (kula_web_new(&r->web, loop, r->api, env, datadir, addr) != 0) {
        kula_error_set(e, KULA_ENOMEM, "cannot set up the API's web wallet: out of memory");
        unlink(r->cookie);
        MHD_stop_daemon(r->mhd);
        kula_jsonrpc_free(r->api);
        free(r);
        return KULA_ENOMEM;
    }
    kula_jsonrpc_set_web(r->api, r->web);
    uv_poll_init(loop, &r->poll, info->epoll_fd);
    uv_timer_init(loop, &r->timer);
    uv_timer_init(loop, &r->sweep);
    uv_async_init(loop, &r->verified, on_verified);
    r->waits_end = &r->waits;
    r->poll.data = r->timer.data = r->sweep.data = r->verified.data = r;
    uv_timer_start(&r->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
    uv_poll_start(&r->poll, UV_READABLE, on_poll);
    run_mhd(r);
    kula_info("API on http://%s/ (token in %s)", where, r->cookie);
    if (!kula_hostport_is_loopback(addr))
        kula_warn("the API is exposed beyond this machine on %s (--rpc-allow-remote): JSON-RPC "
                  "needs the token, which travels in plain HTTP (put TLS in front); GET /health "
                  "and GET /metrics answer anyone who reaches the address",
                  where);
    *out = r;
    return KULA_OK;
}

/* r owns four handles; it is freed when the last has finished closing
 * (libuv gives no order between them). */
static void free_on_close(uv_handle_t *h)
{
    kula_rpc *r = h->data;
    if (--r->closing == 0) {
        kula_web_free(r->web);
        kula_jsonrpc_free(r->api);
        free(r);
    }
}

void kula_rpc_stop(kula_rpc *r)
{
    if (r == NULL)
        return;
    unlink(r->cookie);
    /* Stop watching the epoll descriptor before MHD closes it: a poll handle
     * on a closed descriptor is undefined in libuv. */
    uv_poll_stop(&r->poll);
    uv_timer_stop(&r->timer);
    /* the event streams end (resumed), MHD closes them as it stops */
    kula_web_stop(r->web);
    /* requests waiting for the verifier: admitted nothing, answered so */
    while (r->waits != NULL) {
        bulk_wait *w = waits_pop(r);
        kula_verifier_await(r->env->verifier, &w->vb);
        kula_bulk_job_free(w->job);
        w->q->answered = w->q->stopping = true;
        MHD_resume_connection(w->conn);
        free(w);
    }
    MHD_run(r->mhd);
    MHD_stop_daemon(r->mhd);
    r->mhd = NULL;
    r->closing = 4;
    uv_close((uv_handle_t *)&r->poll, free_on_close);
    uv_close((uv_handle_t *)&r->timer, free_on_close);
    uv_close((uv_handle_t *)&r->sweep, free_on_close);
    uv_close((uv_handle_t *)&r->verified, free_on_close);
}

void kula_rpc_note_rejected(kula_rpc *r, const kula_hash *id, int reason)
{
    if (r != NULL)
        kula_jsonrpc_note_rejected(r->api, id, reason);
}
