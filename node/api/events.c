/* events.c -- what concerns a member, as it happens: the event streams of
 * the web wallet (events.h). */
#include "events.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kula/base/error.h"
#include "kula/base/log.h"
#include "kula/crypto/keystore.h"
#include "kula/types/records.h"
#include "kula/types/txjson.h"

/* One open stream: what is queued for it, and whether MHD holds it
 * suspended (nothing to send). */
typedef struct stream {
    struct stream *prev, *next;
    kula_events *e;             /* NULL once the events stopped */
    struct MHD_Connection *conn;
    char sid[65];
    kula_pubkey pk;
    kula_buf q;
    size_t sent;                /* bytes of q already handed to MHD */
    bool suspended, ended;
} stream;

/* A run of the --notify command. */
typedef struct notify_job {
    struct notify_job *prev, *next;
    kula_events *e;
    uv_process_t proc;
} notify_job;

struct kula_events {
    kula_rpc_env *env;
    uv_loop_t *loop;
    char datadir[1024];
    /* --notify: the command, its runs, and the events waiting for a run */
    char notify[1024];
    notify_job *jobs;
    unsigned running;
    struct { char event[16]; char id[2 * KULA_HASH_LEN + 1]; } queue[NOTIFY_QUEUE];
    size_t qhead, qlen;
    uint64_t dropped;
    uv_timer_t tick;
    stream *streams;
    size_t nstreams;
    uint64_t height;            /* the last block looked at */
    int health;                 /* the last health state told */
    uint64_t quiet_ms;          /* since the last heartbeat */
};

static void unlink_stream(stream *s)
{
    kula_events *e = s->e;
    if (e == NULL)
        return;
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        e->streams = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    e->nstreams--;
    s->e = NULL;
}

/* Wakes a stream MHD holds suspended: it reads the queue in its next run
 * (MHD's inter-thread channel makes its epoll descriptor ready, which the
 * API's poll handle watches). */
static void wake(stream *s)
{
    if (s->suspended) {
        s->suspended = false;
        MHD_resume_connection(s->conn);
    }
}

static void push(stream *s, const char *text, size_t n)
{
    if (s->ended)
        return;
    if (s->q.len - s->sent + n > EVENTS_MAX_QUEUE) {
        kula_debug("web: an event stream fell %u bytes behind: ended", EVENTS_MAX_QUEUE);
        s->ended = true; /* the page reconnects and reloads */
    } else {
        kula_buf_append(&s->q, text, n);
    }
    wake(s);
}

/* MHD asks for the next bytes of the stream.  Nothing queued: the
 * connection is suspended (MHD allows it from this callback) until push
 * wakes it, so an idle stream costs no loop time. */
static ssize_t read_stream(void *cls, uint64_t pos, char *buf, size_t max)
{
    stream *s = cls;
    (void)pos;
    if (s->sent < s->q.len) {
        size_t n = s->q.len - s->sent < max ? s->q.len - s->sent : max;
        memcpy(buf, s->q.data + s->sent, n);
        s->sent += n;
        if (s->sent == s->q.len) {
            kula_buf_reset(&s->q);
            s->sent = 0;
        }
        return (ssize_t)n;
    }
    if (s->ended || s->e == NULL)
        return MHD_CONTENT_READER_END_OF_STREAM;
    s->suspended = true;
    MHD_suspend_connection(s->conn);
    return 0;
}

/* The connection closed (or the daemon stopped): MHD frees the response. */
static void free_stream(void *cls)
{
    stream *s = cls;
    unlink_stream(s);
    kula_buf_free(&s->q);
    free(s);
}

enum MHD_Result kula_events_stream(kula_events *e, struct MHD_Connection *conn,
                                   const kula_pubkey *pk, const char *sid)
{
    struct MHD_Response *r = NULL;
    stream *s = NULL;
    if (e->nstreams < EVENTS_MAX_STREAMS && (s = calloc(1, sizeof(*s))) != NULL)
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, read_stream, s,
                                              free_stream);
    if (r == NULL) {
        free(s);
        static const char busy[] = "{\"error\":\"too many event streams are open: close a "
                                   "tab of the wallet\"}";
        r = MHD_create_response_from_buffer(sizeof(busy) - 1, (void *)busy,
                                            MHD_RESPMEM_PERSISTENT);
        if (r == NULL)
            return MHD_NO;
        MHD_add_response_header(r, "Content-Type", "application/json");
        MHD_add_response_header(r, "Retry-After", "10");
        enum MHD_Result rc = MHD_queue_response(conn, MHD_HTTP_SERVICE_UNAVAILABLE, r);
        MHD_destroy_response(r);
        return rc;
    }
    s->e = e;
    s->conn = conn;
    s->pk = *pk;
    snprintf(s->sid, sizeof(s->sid), "%s", sid);
    kula_buf_init(&s->q);
    s->next = e->streams;
    if (e->streams != NULL)
        e->streams->prev = s;
    e->streams = s;
    e->nstreams++;
    static const char hello[] = "retry: 2000\n: kulad events\n\n";
    kula_buf_append(&s->q, hello, sizeof(hello) - 1);
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    enum MHD_Result rc = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return rc;
}

void kula_events_end_session(kula_events *e, const char *sid)
{
    for (stream *s = e->streams; s != NULL; s = s->next) {
        if (strcmp(s->sid, sid) == 0) {
            s->ended = true;
            wake(s);
        }
    }
}

/* ---- kulad --notify ---- */

static void run_next(kula_events *e);

static void job_closed(uv_handle_t *h) { free(h->data); }

static void job_exited(uv_process_t *p, int64_t status, int signal)
{
    notify_job *j = p->data;
    kula_events *e = j->e;
    if (status != 0 || signal != 0)
        kula_warn("notify: '%s' exited with status %lld (signal %d)", e->notify,
                  (long long)status, signal);
    if (j->prev != NULL)
        j->prev->next = j->next;
    else
        e->jobs = j->next;
    if (j->next != NULL)
        j->next->prev = j->prev;
    e->running--;
    uv_close((uv_handle_t *)p, job_closed);
    run_next(e);
}

/* Runs the command for the oldest waiting event, while fewer than
 * NOTIFY_RUNNING run.  The command is split at spaces by kulad, never by a
 * shell; an argument "%s" becomes two: the event's word and its id (hex, or
 * a health state).  Nothing of the ledger's text (names, memos) is ever
 * passed. */
static void run_next(kula_events *e)
{
    while (e->qlen > 0 && e->running < NOTIFY_RUNNING) {
        const char *event = e->queue[e->qhead].event, *id = e->queue[e->qhead].id;
        char cmd[sizeof(e->notify)];
        snprintf(cmd, sizeof(cmd), "%s", e->notify);
        char *argv[NOTIFY_MAX_ARGS + 2];
        size_t argc = 0;
        for (char *save = NULL, *a = strtok_r(cmd, " \t", &save);
             a != NULL && argc + 2 < NOTIFY_MAX_ARGS; a = strtok_r(NULL, " \t", &save)) {
            if (strcmp(a, "%s") == 0) {
                argv[argc++] = (char *)event;
                argv[argc++] = (char *)id;
            } else {
                argv[argc++] = a;
            }
        }
        argv[argc] = NULL;
        notify_job *j = calloc(1, sizeof(*j));
        if (argc == 0 || j == NULL) {
            free(j);
            return;
        }
        uv_process_options_t o;
        memset(&o, 0, sizeof(o));
        o.file = argv[0];
        o.args = argv;
        o.exit_cb = job_exited;
        j->e = e;
        j->proc.data = j;
        int rc = uv_spawn(e->loop, &j->proc, &o);
        e->qhead = (e->qhead + 1) % NOTIFY_QUEUE;
        e->qlen--;
        if (rc != 0) {
            kula_warn("notify: cannot run '%s': %s", argv[0], uv_strerror(rc));
            uv_close((uv_handle_t *)&j->proc, job_closed);
            continue;
        }
        j->next = e->jobs;
        if (e->jobs != NULL)
            e->jobs->prev = j;
        e->jobs = j;
        e->running++;
    }
}

/* Whether member id is one of this node's: the member of a key in its
 * wallet (DATADIR/wallet) or of its own key (DATADIR/node.key). */
static bool ours(kula_events *e, uint32_t member)
{
    kula_ledger *l = kula_chain_ledger(e->env->chain);
    char path[1400];
    bool found = false;
    DIR *d = NULL;
    snprintf(path, sizeof(path), "%s/wallet", e->datadir);
    d = opendir(path);
    struct dirent *de = NULL;
    for (int first = 1; !found; first = 0) {
        if (first) {
            snprintf(path, sizeof(path), "%s/node.key", e->datadir);
        } else {
            if (d == NULL || (de = readdir(d)) == NULL)
                break;
            size_t n = strlen(de->d_name);
            if (n <= 4 || strcmp(de->d_name + n - 4, ".key") != 0)
                continue;
            snprintf(path, sizeof(path), "%s/wallet/%s", e->datadir, de->d_name);
        }
        kula_buf b;
        kula_buf_init(&b);
        kula_pubkey pk;
        uint32_t id;
        found = kula_keystore_load(&b, path) == 0 &&
                kula_keystore_peek(&pk, NULL, b.data, b.len) == 0 &&
                kula_ledger_member_by_key(l, &pk, &id) == 0 && id == member;
        kula_buf_free(&b);
    }
    if (d != NULL)
        closedir(d);
    return found;
}

/* Queues a run of --notify for event (of member `to`, 0: everyone). */
static void notify(kula_events *e, uint32_t to, const char *event, const char *id)
{
    if (e->notify[0] == '\0' || (to != 0 && !ours(e, to)))
        return;
    if (e->qlen == NOTIFY_QUEUE) {
        if (e->dropped++ % 100 == 0)
            kula_warn("notify: %u events wait for '%s' already: %llu dropped", NOTIFY_QUEUE,
                      e->notify, (unsigned long long)e->dropped);
        return;
    }
    size_t at = (e->qhead + e->qlen) % NOTIFY_QUEUE;
    snprintf(e->queue[at].event, sizeof(e->queue[at].event), "%s", event);
    snprintf(e->queue[at].id, sizeof(e->queue[at].id), "%s", id);
    e->qlen++;
    run_next(e);
}

/* ---- events ---- */

/* Sends event `name` with data to the streams of member `to` (0: all). */
static void emit(kula_events *e, uint32_t to, const char *name, json_t *data)
{
    char *text = data != NULL ? json_dumps(data, JSON_COMPACT) : NULL;
    json_decref(data);
    if (text == NULL)
        return;
    kula_buf msg;
    kula_buf_init(&msg);
    kula_buf_append(&msg, "event: ", 7);
    kula_buf_append(&msg, name, strlen(name));
    kula_buf_append(&msg, "\ndata: ", 7);
    kula_buf_append(&msg, text, strlen(text));
    kula_buf_append(&msg, "\n\n", 2);
    free(text);
    kula_ledger *l = kula_chain_ledger(e->env->chain);
    for (stream *s = e->streams; s != NULL && msg.err == 0; s = s->next) {
        uint32_t id = 0;
        if (to == 0 || (kula_ledger_member_by_key(l, &s->pk, &id) == 0 && id == to))
            push(s, (const char *)msg.data, msg.len);
    }
    kula_buf_free(&msg);
}

static json_t *text_json(const kula_text *t)
{
    json_t *j = json_stringn(t->p != NULL ? t->p : "", t->n);
    return j != NULL ? j : json_string("");
}

static json_t *member_json(kula_ledger *l, uint32_t id)
{
    kula_member m;
    return json_pack("{s:I, s:s}", "id", (json_int_t)id, "name",
                     kula_ledger_member(l, id, &m) == 0 ? m.name : "");
}

void kula_events_signature(kula_events *e, uint32_t to, const char *id, uint32_t from)
{
    kula_ledger *l = kula_chain_ledger(e->env->chain);
    emit(e, to, "signature", json_pack("{s:s, s:o}", "id", id, "from", member_json(l, from)));
    notify(e, to, "signature", id);
}

/* The events of one committed block's transactions. */
static void scan_block(kula_events *e, uint64_t height)
{
    kula_buf raw;
    kula_buf_init(&raw);
    kula_block b;
    if (kula_store_block(e->env->store, height, &raw) != 0 ||
        kula_block_decode(&b, raw.data, raw.len) != 0) {
        kula_buf_free(&raw);
        return;
    }
    kula_ledger *l = kula_chain_ledger(e->env->chain);
    for (uint32_t i = 0; i < b.ntxs; i++) {
        kula_tx tx;
        if (kula_tx_decode(&tx, b.txs[i], b.tx_lens[i]) != 0)
            continue;
        char id[2 * KULA_HASH_LEN + 1];
        kula_hex_encode(id, tx.id.b, KULA_HASH_LEN);
        switch (tx.kind) {
        case KULA_TX_TRANSFER:
            emit(e, tx.u.transfer.to, "payment",
                 json_pack("{s:s, s:I, s:o, s:I, s:o}", "id", id, "height", (json_int_t)height,
                           "from", member_json(l, tx.from), "amount",
                           (json_int_t)tx.u.transfer.amount, "memo", text_json(&tx.memo)));
            notify(e, tx.u.transfer.to, "payment", id);
            break;
        case KULA_TX_INVOICE:
            emit(e, tx.u.invoice.debtor, "invoice",
                 json_pack("{s:s, s:I, s:o, s:I}", "id", id, "height", (json_int_t)height,
                           "from", member_json(l, tx.from), "amount",
                           (json_int_t)tx.u.invoice.amount));
            notify(e, tx.u.invoice.debtor, "invoice", id);
            break;
        case KULA_TX_PROPOSE:
            emit(e, 0, "proposal",
                 json_pack("{s:s, s:I, s:o}", "id", id, "height", (json_int_t)height, "from",
                           member_json(l, tx.from)));
            notify(e, 0, "proposal", id);
            break;
        case KULA_TX_SETTLE: {
            kula_agreement a;
            char ag[2 * KULA_HASH_LEN + 1];
            kula_hex_encode(ag, tx.u.settle.agreement.b, KULA_HASH_LEN);
            if (kula_ledger_agreement(l, &tx.u.settle.agreement, &a) != 0)
                break;
            for (uint32_t k = 0; k < a.nparties; k++) {
                emit(e, a.parties[k], "settled",
                     json_pack("{s:s, s:s, s:I}", "id", id, "agreement", ag, "height",
                               (json_int_t)height));
                notify(e, a.parties[k], "settled", id);
            }
            break;
        }
        default:
            break;
        }
    }
    emit(e, 0, "block", json_pack("{s:I, s:I}", "height", (json_int_t)height, "txs",
                                  (json_int_t)b.ntxs));
    kula_block_free(&b);
    kula_buf_free(&raw);
}

static void on_tick(uv_timer_t *t)
{
    kula_events *e = t->data;
    uint64_t h = kula_chain_height(e->env->chain);
    if (e->streams == NULL && e->notify[0] == '\0')
        e->height = h; /* nobody listens: nothing to read */
    for (unsigned n = 0; e->height < h && n < EVENTS_BLOCKS_PER_TICK; n++)
        scan_block(e, ++e->height);
    if ((int)e->env->health.state != e->health) {
        e->health = (int)e->env->health.state;
        emit(e, 0, "health",
             json_pack("{s:s, s:s}", "state", kula_health_name(e->env->health.state), "reason",
                       e->env->health.reason));
        notify(e, 0, "health", kula_health_name(e->env->health.state));
    }
    e->quiet_ms += EVENTS_TICK_MS;
    if (e->quiet_ms >= EVENTS_HEARTBEAT_MS) {
        e->quiet_ms = 0;
        for (stream *s = e->streams; s != NULL; s = s->next)
            push(s, ": heartbeat\n\n", 13);
    }
}

int kula_events_new(kula_events **out, uv_loop_t *loop, kula_rpc_env *env,
                    const char *datadir)
{
    kula_events *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return KULA_ENOMEM;
    e->env = env;
    e->loop = loop;
    snprintf(e->datadir, sizeof(e->datadir), "%s", datadir);
    if (env->notify != NULL)
        snprintf(e->notify, sizeof(e->notify), "%s", env->notify);
    e->height = kula_chain_height(env->chain);
    e->health = (int)env->health.state;
    uv_timer_init(loop, &e->tick);
    e->tick.data = e;
    uv_timer_start(&e->tick, on_tick, EVENTS_TICK_MS, EVENTS_TICK_MS);
    *out = e;
    return KULA_OK;
}

static void free_events(uv_handle_t *h) { free(h->data); }

void kula_events_stop(kula_events *e)
{
    if (e == NULL)
        return;
    /* the streams outlive e until MHD closes them: they forget it */
    while (e->streams != NULL) {
        stream *s = e->streams;
        unlink_stream(s);
        s->ended = true;
        wake(s);
    }
    /* runs of --notify still going are left to finish on their own */
    for (notify_job *j = e->jobs; j != NULL; j = j->next)
        uv_close((uv_handle_t *)&j->proc, job_closed);
    e->jobs = NULL;
    uv_timer_stop(&e->tick);
    uv_close((uv_handle_t *)&e->tick, free_events);
}
