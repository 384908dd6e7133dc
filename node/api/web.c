/* web.c -- the web wallet and console served by kulad (web.h): pages,
 * login, sessions, and the actions of a page, which sign with a key of the
 * node's wallet after the page sends its passphrase. */
#include "web.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <time.h>

#include "events.h"
#include "kula/audit/txview.h"
#include "kula/base/amount.h"
#include "kula/base/error.h"
#include "kula/base/log.h"
#include "kula/crypto/keystore.h"
#include "kula/types/txjson.h"
#include "statement_job.h"
#include "web_form.h"
#include "web_requests.h"
#include "web_session.h"

#define COOKIE "kula_session"
#define CSP                                                                               \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "           \
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "        \
    "frame-ancestors 'none'"

/* Keys being unlocked at once, off the loop (Argon2id takes 64 MiB and
 * about 0.1-1 s each with the default cost). */
#define WEB_UNLOCKS 2u

typedef struct unlock_job unlock_job;

struct kula_web {
    uv_loop_t *loop;
    unlock_job *jobs;   /* keys being unlocked, their requests suspended */
    unsigned unlocking;
    kula_jsonrpc *api;
    kula_rpc_env *env;
    kula_events *events;
    kula_web_sessions sessions;
    kula_web_requests requests; /* files waiting for signatures */
    kula_job *statement;        /* the last statement asked for (statement_job.h) */
    char wallet[1100];
    char host[80];      /* the API's address as a Host header names it */
    char localhost[80]; /* "localhost:PORT" on a loopback address, else "" */
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int kula_web_new(kula_web **out, uv_loop_t *loop, kula_jsonrpc *api, kula_rpc_env *env,
                 const char *datadir, const kula_hostport *addr)
{
    kula_web *w = calloc(1, sizeof(*w));
    if (w == NULL || kula_job_new(&w->statement, env, &kula_statement_job) != 0) {
        free(w);
        return KULA_ENOMEM;
    }
    if (kula_events_new(&w->events, loop, env, datadir) != 0) {
        kula_job_free(w->statement);
        free(w);
        return KULA_ENOMEM;
    }
    w->loop = loop;
    w->api = api;
    w->env = env;
    snprintf(w->wallet, sizeof(w->wallet), "%s/wallet", datadir);
    kula_hostport_format(w->host, sizeof(w->host), addr);
    if (kula_hostport_is_loopback(addr))
        snprintf(w->localhost, sizeof(w->localhost), "localhost:%u", (unsigned)addr->port);
    *out = w;
    return KULA_OK;
}

void kula_web_free(kula_web *w)
{
    if (w != NULL) {
        kula_job_free(w->statement); /* stops a statement being made, and joins it */
        sodium_memzero(&w->sessions, sizeof(w->sessions));
        kula_web_requests_free(&w->requests);
    }
    free(w);
}

bool kula_web_route(const char *url, const char *method)
{
    if (strcmp(url, "/") == 0)
        return strcmp(method, "POST") != 0;
    if ( strcmp(url, "/login") == 0 || strcmp(url, "/events") == 0 ||
        strncmp(url, "/web/", 5) == 0)
        return true;
    for (size_t i = 0; i < kula_web_nassets; i++)
        if (strcmp(url, kula_web_assets[i].path) == 0)
            return true;
    return false;
}

/* ---- responses ---- */

/* header (NULL: none) is one more header, with its value. */
static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, const char *type,
                               const void *body, size_t len, const char *header,
                               const char *value)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return MHD_NO;
    static const char *const headers[][2] = {
        { "Content-Security-Policy", CSP },
        { "X-Content-Type-Options", "nosniff" },
        { "Referrer-Policy", "no-referrer" },
        { "X-Frame-Options", "DENY" },
        { "Cross-Origin-Opener-Policy", "same-origin" },
        { "Cross-Origin-Resource-Policy", "same-origin" },
        { "Cache-Control", "no-store" },
    };
    MHD_add_response_header(r, "Content-Type", type);
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++)
        MHD_add_response_header(r, headers[i][0], headers[i][1]);
    if (header != NULL)
        MHD_add_response_header(r, header, value);
    enum MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result send_json(struct MHD_Connection *conn, unsigned status, json_t *j,
                                 const char *cookie)
{
    char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (text == NULL)
        return respond(conn, 500, "application/json", "{\"error\":\"out of memory\"}", 25, NULL,
                       NULL);
    enum MHD_Result rc = respond(conn, status, "application/json", text, strlen(text),
                                 cookie != NULL ? "Set-Cookie" : NULL, cookie);
    free(text);
    return rc;
}

/* {"error": message}: what the page shows, in words. */
static enum MHD_Result refuse(struct MHD_Connection *conn, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum MHD_Result refuse(struct MHD_Connection *conn, unsigned status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return send_json(conn, status, json_pack("{s:s}", "error", msg), NULL);
}

/* ---- who asks ---- */

/* The Host header must name the API's address: a page of another site
 * whose name was made to resolve to 127.0.0.1 (DNS rebinding) sends its
 * own name. */
static bool host_ok(const kula_web *w, struct MHD_Connection *conn)
{
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host");
    return h != NULL && (strcmp(h, w->host) == 0 || (w->localhost[0] && strcmp(h, w->localhost) == 0));
}

/* A POST must come from a page of this origin. */
static bool origin_ok(struct MHD_Connection *conn)
{
    const char *o = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host");
    return o != NULL && h != NULL && strncmp(o, "http://", 7) == 0 && strcmp(o + 7, h) == 0;
}

static kula_web_session *session_of(kula_web *w, struct MHD_Connection *conn)
{
    const char *id = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, COOKIE);
    return id != NULL ? kula_web_session_find(&w->sessions, id, now_ms()) : NULL;
}

static const char NO_SESSION[] = "you are not logged in, or your session ended: run 'kula web "
                                 "--key NAME' on the node's machine and open the address it "
                                 "prints";

/* ---- the node's JSON-RPC, from inside ---- */

/* Calls method with params (stolen) as a request of the API would.
 * Returns: its result (caller decrefs), or NULL after e (the node's words;
 *          code KULA_EINVAL, or KULA_ENOMEM). */
static json_t *call(kula_web *w, const char *method, json_t *params, kula_error *e)
{
    json_t *req = json_pack("{s:s, s:i, s:s, s:o}", "jsonrpc", "2.0", "id", 1, "method", method,
                            "params", params != NULL ? params : json_object());
    char *text = req != NULL ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (text == NULL) {
        kula_error_set(e, KULA_ENOMEM, "out of memory");
        return NULL;
    }
    unsigned status;
    json_t *resp = kula_jsonrpc_handle(w->api, (const uint8_t *)text, strlen(text), &status);
    free(text);
    json_t *result = json_incref(json_object_get(resp, "result"));
    if (result == NULL) {
        const char *msg =
            json_string_value(json_object_get(json_object_get(resp, "error"), "message"));
        kula_error_set(e, KULA_EINVAL, "%s", msg != NULL ? msg : "the node did not answer");
    }
    json_decref(resp);
    return result;
}

/* The member of the session's key.  Returns: 0, or KULA_EINACTIVE after e. */
static int my_member(kula_web *w, const kula_web_session *s, uint32_t *me, kula_error *e)
{
    if (kula_ledger_member_by_key(kula_chain_ledger(w->env->chain), &s->pk, me) != 0)
        return kula_error_set(e, KULA_EINACTIVE, "your key '%s' is not an active member's key "
                                                 "of this network: a member must propose to "
                                                 "admit it (kula propose admit)", s->key);
    return 0;
}

static bool key_name_ok(const char *key)
{
    size_t n = strlen(key);
    if (n == 0 || n > KULA_WEB_KEY_MAX || key[0] == '.')
        return false;
    for (const char *p = key; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
            return false;
    return true;
}

/* Reads wallet key `key`.  Out: *file (caller frees, also on failure).
 * Returns: 0, KULA_ENOTFOUND or another error, after e. */
static int load_key(const char *wallet, const char *key, kula_buf *file, kula_error *e)
{
    char path[1300];
    kula_buf_init(file);
    if (!key_name_ok(key))
        return kula_error_set(e, KULA_EINVAL, "'%s' is not a key's name (letters, digits, '-', "
                                              "'_', '.')", key);
    snprintf(path, sizeof(path), "%s/%s.key", wallet, key);
    int rc = kula_keystore_load(file, path);
    if (rc == KULA_ENOTFOUND)
        return kula_error_set(e, rc, "the node's wallet %s has no key named '%s': 'kula keys "
                                     "list' names them, 'kula keys import' adds one", wallet,
                              key);
    if (rc != 0)
        return kula_error_set(e, rc, "cannot read %s: %s", path, kula_strerror(rc));
    return 0;
}

int kula_web_login_token(kula_web *w, const char *key, char *token, kula_error *e)
{
    kula_buf file;
    int rc = load_key(w->wallet, key, &file, e);
    kula_pubkey pk;
    if (rc == 0 && (rc = kula_keystore_peek(&pk, NULL, file.data, file.len)) != 0)
        kula_error_set(e, rc, "the key '%s' is not a keystore: %s", key, kula_strerror(rc));
    kula_buf_free(&file);
    if (rc == 0 && (rc = kula_web_login_new(&w->sessions, token, key, &pk, now_ms())) != 0)
        kula_error_set(e, rc, "'%s' is not a key's name of at most %u characters", key,
                       KULA_WEB_KEY_MAX);
    if (rc == 0)
        kula_info("web: a login token was made for the wallet key '%s' (valid %u s, once)", key,
                  KULA_WEB_LOGIN_TTL_MS / 1000u);
    return rc;
}

/* Unlocks the session's key of wallet with passphrase.  Runs on a thread
 * of libuv's pool (unlock_work): it touches nothing of the node.
 * Returns: 0, or not 0 after e. */
static int unlock(const char *wallet, const kula_web_session *s, const char *passphrase,
                  kula_seckey *sk, kula_error *e)
{
    kula_buf file;
    int rc = load_key(wallet, s->key, &file, e);
    kula_pubkey pk;
    if (rc == 0) {
        rc = kula_keystore_open(sk, &pk, file.data, file.len, passphrase, strlen(passphrase));
        if (rc == KULA_EPASSPHRASE) {
            kula_error_set(e, rc, "wrong passphrase for the key '%s': nothing was signed",
                           s->key);
        } else if (rc != 0) {
            kula_error_set(e, rc, "cannot open the key '%s': %s", s->key, kula_strerror(rc));
        } else if (memcmp(pk.b, s->pk.b, KULA_PUBKEY_LEN) != 0) {
            kula_seckey_wipe(sk);
            rc = kula_error_set(e, KULA_EINVAL, "the key '%s' changed since you logged in: log "
                                                "in again", s->key);
        }
    }
    kula_buf_free(&file);
    return rc;
}

/* Gives tx the member's next nonce (after its pending ones), seals, signs
 * as me and submits it.  Out: id[65].  Returns: 0, or not 0 after e (the
 * node's refusal in its words). */
static int sign_submit(kula_web *w, kula_tx *tx, uint32_t me, const kula_seckey *sk, char *id,
                       kula_error *e)
{
    kula_buf body, out;
    kula_buf_init(&body);
    kula_buf_init(&out);
    tx->nonce = kula_mempool_next_nonce(w->env->mempool, kula_chain_ledger(w->env->chain), me);
    int rc = kula_tx_seal(tx, &body);
    if (rc == 0)
        rc = kula_tx_sign(tx, &w->env->genesis->chain_id, me, sk);
    if (rc == 0)
        rc = kula_tx_encode(&out, tx);
    json_t *res = NULL;
    if (rc != 0) {
        kula_error_set(e, rc, "cannot build the transaction: %s", kula_strerror(rc));
    } else {
        char *hex = malloc(2 * out.len + 1);
        if (hex != NULL) {
            kula_hex_encode(hex, out.data, out.len);
            res = call(w, "submit", json_pack("{s:s}", "tx", hex), e);
            free(hex);
        } else {
            kula_error_set(e, KULA_ENOMEM, "out of memory");
        }
        if (res == NULL)
            rc = KULA_EINVAL;
        else
            snprintf(id, 65, "%s", json_string_value(json_object_get(res, "id")));
    }
    json_decref(res);
    kula_buf_free(&body);
    kula_buf_free(&out);
    return rc;
}

/* ---- pages' actions ---- */

static const char *READ_METHODS[] = { "status",   "genesis",    "peers",     "member",
                                      "balance",  "history",    "members",   "agreements",
                                      "agreement", "proposals", "proposal",  "referrals",
                                      "resolve",  "block",      "tx",        "invoices",
                                      "invoice",  "ledger_state", "audit",
                                      "audit_status" };

/* POST /web/rpc: one JSON-RPC request of a method that only reads (audit
 * reads the whole ledger, on a thread of its own) (a
 * notification, without "id", gets 204). */
static enum MHD_Result web_rpc(kula_web *w, struct MHD_Connection *conn, const uint8_t *body,
                               size_t len)
{
    json_error_t jerr;
    json_t *req = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
    const char *m = json_string_value(json_object_get(req, "method"));
    bool allowed = false;
    for (size_t i = 0; m != NULL && i < sizeof(READ_METHODS) / sizeof(READ_METHODS[0]); i++)
        allowed = allowed || strcmp(m, READ_METHODS[i]) == 0;
    allowed = allowed && json_is_object(req);
    json_decref(req);
    if (!allowed)
        return refuse(conn, 400, "a page may only read through /web/rpc (one request of a "
                                 "method that reads); reload the page");
    unsigned status;
    json_t *resp = kula_jsonrpc_handle(w->api, body, len, &status);
    if (resp == NULL) /* a notification: nothing to answer */
        return respond(conn, 204, "application/json", "", 0, NULL, NULL);
    return send_json(conn, status, resp, NULL);
}

/* The session's member and the one the form names in f->to (what: the
 * field in words, for the refusal).  Out: *me, *other, name[KULA_MAX_NAME
 * + 1].  Returns: 0, or not 0 with the refusal queued in *rc. */
static int two_members(kula_web *w, struct MHD_Connection *conn, const kula_web_session *s,
                       const kula_web_form *f, const char *what, uint32_t *me, uint32_t *other,
                       char *name, enum MHD_Result *rc)
{
    kula_error err;
    if (my_member(w, s, me, &err) != 0) {
        *rc = refuse(conn, 409, "%s", err.what);
        return -1;
    }
    json_t *m = call(w, "member", json_pack("{s:s}", "member", f->to), &err);
    if (m == NULL) {
        *rc = refuse(conn, 400, "%s: %s", what, err.what);
        return -1;
    }
    *other = (uint32_t)json_integer_value(json_object_get(m, "id"));
    snprintf(name, KULA_MAX_NAME + 1, "%s", json_string_value(json_object_get(m, "name")));
    json_decref(m);
    return 0;
}

static enum MHD_Result web_pay(kula_web *w, struct MHD_Connection *conn, kula_web_session *s,
                               kula_web_form *f, const kula_seckey *sk)
{
    kula_error err;
    char toname[KULA_MAX_NAME + 1];
    uint32_t me;
    kula_tx tx;
    memset(&tx, 0, sizeof(tx));
    enum MHD_Result out;
    if (two_members(w, conn, s, f, "whom to pay", &me, &tx.u.transfer.to, toname, &out) != 0)
        return out;
    const kula_genesis *g = w->env->genesis;
    kula_amount a;
    int rc = kula_amount_parse(&a, f->amount, g->decimals);
    if (rc == KULA_EOVERFLOW)
        return refuse(conn, 400, "amount: '%s' is too large", f->amount);
    if (rc != 0)
        return refuse(conn, 400, "amount: '%s' is not an amount of %s with at most %u decimals "
                                 "(as 12.50; nothing is rounded)", f->amount, g->unit,
                      (unsigned)g->decimals);
    if (a.v <= 0)
        return refuse(conn, 400, "amount: must be more than 0");
    if (tx.u.transfer.to == me)
        return refuse(conn, 400, "you cannot pay yourself: choose another member");
    tx.kind = KULA_TX_TRANSFER;
    tx.from = me;
    tx.u.transfer.amount = a.v;
    tx.memo.p = f->memo;
    tx.memo.n = strlen(f->memo);
    char id[65] = "";
    rc = sign_submit(w, &tx, me, sk, id, &err);
    if (rc != 0)
        return refuse(conn, 409, "not paid: %s", err.what);
    char amount[48];
    txview_amount(amount, sizeof(amount), a.v, g->decimals);
    kula_info("web: '%s' paid %s %s to member %u (%s)", s->key, amount, g->unit,
              tx.u.transfer.to, id);
    return send_json(conn, 200,
                     json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", id, "status", "pending", "to",
                               toname, "amount", amount, "unit", g->unit),
                     NULL);
}

static enum MHD_Result web_vote(kula_web *w, struct MHD_Connection *conn, kula_web_session *s,
                                kula_web_form *f, const kula_seckey *sk)
{
    kula_error err;
    uint32_t me;
    if (my_member(w, s, &me, &err) != 0)
        return refuse(conn, 409, "%s", err.what);
    kula_tx tx;
    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_VOTE;
    tx.from = me;
    tx.u.vote.proposal = f->proposal;
    tx.u.vote.approve = f->approve;
    char id[65] = "";
    int rc = sign_submit(w, &tx, me, sk, id, &err);
    if (rc != 0)
        return refuse(conn, 409, "your vote was not taken: %s", err.what);
    return send_json(conn, 200, json_pack("{s:s, s:s, s:b}", "id", id, "status", "pending",
                                          "approve", (int)f->approve), NULL);
}

static enum MHD_Result web_feedback(kula_web *w, struct MHD_Connection *conn,
                                    kula_web_session *s, kula_web_form *f, const kula_seckey *sk)
{
    kula_error err;
    char name[KULA_MAX_NAME + 1];
    uint32_t me;
    kula_tx tx;
    memset(&tx, 0, sizeof(tx));
    enum MHD_Result out;
    if (two_members(w, conn, s, f, "whom you rate", &me, &tx.u.feedback.about, name, &out) != 0)
        return out;
    tx.kind = KULA_TX_FEEDBACK;
    tx.from = me;
    tx.u.feedback.rating = f->rating;
    tx.u.feedback.comment.p = f->comment;
    tx.u.feedback.comment.n = strlen(f->comment);
    char id[65] = "";
    if (sign_submit(w, &tx, me, sk, id, &err) != 0)
        return refuse(conn, 409, "your rating was not taken: %s", err.what);
    return send_json(conn, 200, json_pack("{s:s, s:s, s:i}", "id", id, "status", "pending",
                                          "rating", (int)f->rating), NULL);
}

/* A payment request (an invoice) the member owes: accepted, or paid in
 * full (what it still owes), in one click each. */
static enum MHD_Result web_invoice(kula_web *w, struct MHD_Connection *conn,
                                   kula_web_session *s, kula_web_form *f, const kula_seckey *sk)
{
    kula_error err;
    char hex[2 * KULA_HASH_LEN + 1];
    uint32_t me;
    if (my_member(w, s, &me, &err) != 0)
        return refuse(conn, 409, "%s", err.what);
    kula_hex_encode(hex, f->proposal.b, KULA_HASH_LEN);
    json_t *inv = call(w, "invoice", json_pack("{s:s}", "id", hex), &err);
    if (inv == NULL)
        return refuse(conn, 404, "the invoice: %s", err.what);
    bool mine = json_integer_value(json_object_get(inv, "debtor")) == (json_int_t)me;
    int64_t owed = (int64_t)json_integer_value(json_object_get(inv, "residual"));
    json_decref(inv);
    if (!mine)
        return refuse(conn, 403, "this invoice is not addressed to you: only its debtor accepts "
                                 "or pays it");
    kula_tx tx;
    memset(&tx, 0, sizeof(tx));
    tx.kind = f->pay ? KULA_TX_INVOICE_PAY : KULA_TX_INVOICE_ACCEPT;
    tx.from = me;
    tx.u.inv.invoice = f->proposal;
    tx.u.inv.amount = f->pay ? owed : 0;
    char id[65] = "";
    if (sign_submit(w, &tx, me, sk, id, &err) != 0)
        return refuse(conn, 409, "the invoice was not %s: %s", f->pay ? "paid" : "accepted",
                      err.what);
    char amount[48];
    txview_amount(amount, sizeof(amount), owed, w->env->genesis->decimals);
    return send_json(conn, 200, json_pack("{s:s, s:s, s:s, s:s}", "id", id, "status", "pending",
                                          "action", f->pay ? "pay" : "accept", "amount", amount),
                     NULL);
}

/* Names for txview, from the ledger. */
static const char *ledger_name(void *ctx, int64_t id)
{
    static kula_member m; /* borrowed until the next call (txview_name_fn) */
    kula_web *w = ctx;
    if (id <= 0 || id > UINT32_MAX ||
        kula_ledger_member(kula_chain_ledger(w->env->chain), (uint32_t)id, &m) != 0)
        return NULL;
    return m.name;
}

/* The file's transaction in the words of `kula sign` (txview.h), with who
 * still has to sign.  Returns: a new object, or NULL after e. */
static json_t *file_view(kula_web *w, const kula_web_txfile *t, uint32_t me, kula_error *e)
{
    const kula_genesis *g = w->env->genesis;
    if (memcmp(t->chain_id.b, g->chain_id.b, KULA_HASH_LEN) != 0) {
        kula_error_set(e, KULA_ECHAIN, "this file is for another network (%s), not %s: sign it "
                                       "with a node of its network",
                       json_string_value(json_object_get(t->root, "network")), g->network);
        return NULL;
    }
    txview v = { g->decimals <= 18 ? g->decimals : 0, g->unit, ledger_name, w, NULL };
    json_t *txj = kula_tx_to_json(&t->tx);
    const char *ag = json_string_value(json_object_get(txj, "agreement"));
    kula_error ignored;
    json_t *agreement =
        ag != NULL ? call(w, "agreement", json_pack("{s:s}", "id", ag), &ignored) : NULL;
    char *words = NULL, *fields = NULL;
    size_t wl = 0, fl = 0;
    FILE *fw = open_memstream(&words, &wl), *ff = open_memstream(&fields, &fl);
    if (fw != NULL)
        txview_words(fw, &v, txj, agreement, "");
    if (ff != NULL)
        txview_fields(ff, &v, txj, "");
    if (fw != NULL)
        fclose(fw);
    if (ff != NULL)
        fclose(ff);
    char who[240];
    json_t *missing = json_array();
    bool mine = false;
    for (uint32_t i = 0; i < t->nreq; i++) {
        mine = mine || t->req[i] == me;
        if (!kula_web_txfile_signed_by(t, t->req[i]))
            json_array_append_new(missing, json_string(txview_who(who, sizeof(who), &v, t->req[i])));
    }
    char you[240];
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:b, s:b, s:I, s:O}", "network", g->network,
                          "you", txview_who(you, sizeof(you), &v, me), "words",
                          words != NULL ? words : "", "fields", fields != NULL ? fields : "",
                          "missing", missing, "required", (int)mine, "signed",
                          (int)kula_web_txfile_signed_by(t, me), "expires_ms",
                          (json_int_t)t->tx.expires, "tx", txj);
    free(words);
    free(fields);
    json_decref(txj);
    json_decref(agreement);
    if (o == NULL)
        kula_error_set(e, KULA_ENOMEM, "out of memory");
    return o;
}

/* The node's check of the file's transaction (method check): what the
 * ledger would refuse is signed by nobody.  Returns: 0, or not 0 after e. */
static int file_check(kula_web *w, const kula_web_txfile *t, kula_error *e)
{
    char *hex = malloc(2 * t->len + 1);
    if (hex == NULL)
        return kula_error_set(e, KULA_ENOMEM, "out of memory");
    kula_hex_encode(hex, t->bytes, t->len);
    json_t *ok = call(w, "check", json_pack("{s:s}", "tx", hex), e);
    free(hex);
    int rc = ok != NULL ? 0 : KULA_EINVAL;
    json_decref(ok);
    return rc;
}

static enum MHD_Result web_open(kula_web *w, struct MHD_Connection *conn, kula_web_session *s,
                                kula_web_form *f)
{
    kula_error err;
    uint32_t me;
    if (my_member(w, s, &me, &err) != 0)
        return refuse(conn, 409, "%s", err.what);
    json_t *view = file_view(w, &f->file, me, &err);
    if (view == NULL)
        return refuse(conn, 400, "%s", err.what);
    if (file_check(w, &f->file, &err) != 0)
        json_object_set_new(view, "refused", json_string(err.what));
    return send_json(conn, 200, view, NULL);
}

/* Leaves t with the node for the members still to sign it, and tells them
 * (event "signature").  Returns: 0, or not 0 after e. */
static int leave(kula_web *w, const kula_web_txfile *t, uint32_t from, kula_error *e)
{
    uint32_t asked[KULA_MAX_PARTIES], nasked;
    int rc = kula_web_requests_put(&w->requests, t, from, (uint64_t)time(NULL) * 1000u, asked,
                                   &nasked, e);
    if (rc != 0)
        return rc;
    char id[2 * KULA_HASH_LEN + 1];
    kula_hex_encode(id, t->tx.id.b, KULA_HASH_LEN);
    for (uint32_t i = 0; i < nasked; i++)
        kula_events_signature(w->events, asked[i], id, from);
    kula_info("web: transaction %.12s... waits for the signature of %u more member(s) here", id,
              nasked);
    return 0;
}

static enum MHD_Result web_sign(kula_web *w, struct MHD_Connection *conn, kula_web_session *s,
                                kula_web_form *f, const kula_seckey *sk)
{
    kula_error err;
    uint32_t me;
    kula_web_txfile *t = &f->file;
    if (my_member(w, s, &me, &err) != 0)
        return refuse(conn, 409, "%s", err.what);
    json_t *view = file_view(w, t, me, &err);
    if (view == NULL)
        return refuse(conn, 400, "%s", err.what);
    json_decref(view);
    int at = -1;
    for (uint32_t i = 0; i < t->nreq; i++)
        if (t->req[i] == me && memcmp(t->req_keys[i].b, s->pk.b, KULA_PUBKEY_LEN) == 0)
            at = (int)i;
    if (at < 0)
        return refuse(conn, 403, "your key '%s' is not one of those who must sign this "
                                 "transaction: nothing was signed", s->key);
    if (t->tx.expires != 0 && (uint64_t)time(NULL) * 1000u > t->tx.expires)
        return refuse(conn, 409, "this transaction expired and can no longer be committed: its "
                                 "initiator must write a new one");
    if (file_check(w, t, &err) != 0)
        return refuse(conn, 409, "nothing was signed: %s", err.what);
    kula_buf out;
    kula_buf_init(&out);
    int rc = kula_web_txfile_signed_by(t, me) ? 0 : kula_tx_sign(&t->tx, &t->chain_id, me, sk);
    if (rc == 0)
        rc = kula_tx_encode(&out, &t->tx);
    if (rc != 0) {
        kula_buf_free(&out);
        return refuse(conn, 500, "cannot sign: %s", kula_strerror(rc));
    }
    char *hex = malloc(2 * out.len + 1);
    if (hex == NULL) {
        kula_buf_free(&out);
        return refuse(conn, 500, "out of memory");
    }
    kula_hex_encode(hex, out.data, out.len);
    kula_buf_free(&out);
    json_object_set_new(t->root, "tx", json_string(hex));
    bool complete = true;
    for (uint32_t i = 0; i < t->nreq; i++)
        complete = complete && (t->req[i] == me || kula_web_txfile_signed_by(t, t->req[i]));
    json_t *answer;
    if (complete) {
        json_t *res = call(w, "submit", json_pack("{s:s}", "tx", hex), &err);
        answer = res != NULL ? json_pack("{s:b, s:O, s:s}", "submitted", 1, "id",
                                         json_object_get(res, "id"), "status", "pending")
                             : json_pack("{s:b, s:s, s:O}", "submitted", 0, "error", err.what,
                                         "file", t->root);
        if (res != NULL)
            kula_web_requests_drop(&w->requests, &t->tx.id);
        json_decref(res);
    } else {
        /* the others find it in their list on this node */
        int left = leave(w, t, me, &err);
        answer = json_pack("{s:b, s:O, s:b, s:s}", "submitted", 0, "file", t->root, "left",
                           left == 0, "error", left == 0 ? "" : err.what);
    }
    free(hex);
    kula_info("web: '%s' signed a transaction file as member %u", s->key, me);
    return send_json(conn, 200, answer, NULL);
}

int kula_web_sign_request(kula_web *w, const json_t *params, uint32_t *waiting, kula_error *e)
{
    char *text = json_dumps(params, JSON_COMPACT);
    if (text == NULL)
        return kula_error_set(e, KULA_ENOMEM, "out of memory");
    kula_web_form f;
    int rc = kula_web_form_parse(&f, KULA_WEB_FORM_OPEN, (const uint8_t *)text, strlen(text), e);
    free(text);
    json_t *view = NULL;
    uint32_t from = f.file.tx.from; /* its initiator leaves it */
    if (rc == 0 && (view = file_view(w, &f.file, from, e)) == NULL)
        rc = e != NULL ? e->code : KULA_EINVAL;
    json_decref(view);
    if (rc == 0 && file_check(w, &f.file, e) != 0)
        rc = KULA_EINVAL;
    if (rc == 0)
        rc = leave(w, &f.file, from, e);
    *waiting = 0;
    for (uint32_t i = 0; rc == 0 && i < f.file.nreq; i++)
        *waiting += !kula_web_txfile_signed_by(&f.file, f.file.req[i]);
    kula_web_form_free(&f);
    return rc;
}

/* ---- the statement: made on a job's thread, downloaded by its session ---- */

/* day[11]: the UTC day of ms, "YYYY-MM-DD". */
static void utc_day(char *day, uint64_t ms)
{
    char iso[32];
    kula_format_utc(iso, sizeof(iso), ms);
    memcpy(day, iso, 10);
    day[10] = '\0';
}

/* POST /web/statement: starts the statement of the session's member for
 * the form's period and format (statement_job.h); one at a time per node. */
static enum MHD_Result web_statement(kula_web *w, struct MHD_Connection *conn,
                                     kula_web_session *s, kula_web_form *f)
{
    kula_error err;
    uint32_t me;
    kula_member m;
    if (my_member(w, s, &me, &err) != 0)
        return refuse(conn, 409, "%s", err.what);
    if (kula_ledger_member(kula_chain_ledger(w->env->chain), me, &m) != 0)
        return refuse(conn, 409, "member %u is not in the node's ledger: reload the page", me);
    if (kula_job_running(w->statement))
        return refuse(conn, 409, "the node is making another statement (one at a time): "
                                 "busy, try again in a moment");
    kula_statement_ask ask;
    memset(&ask, 0, sizeof(ask));
    ask.opts = f->statement;
    ask.opts.member = me;
    memcpy(ask.session, s->id, sizeof(ask.session));
    /* the name says the period: an open one from the genesis, or up to today */
    char from[11], to[11];
    utc_day(from, w->env->genesis->time_ms);
    utc_day(to, (uint64_t)time(NULL) * 1000u);
    kula_statement_job_name(ask.file, sizeof(ask.file), m.name, f->from[0] ? f->from : from,
                            f->until[0] ? f->until : to, &ask.opts);
    bool started;
    int rc = kula_job_start(w->statement, &ask, sizeof(ask), &started, &err);
    sodium_memzero(ask.session, sizeof(ask.session));
    if (rc != 0)
        return refuse(conn, 500, "the statement was not started: %s", err.what);
    kula_info("web: '%s' asked for the statement of member %u", s->key, me);
    json_t *st = kula_statement_job_status(w->statement, s->id);
    return st != NULL ? send_json(conn, 202, st, NULL) : refuse(conn, 500, "out of memory");
}

/* GET /web/statement/file: the session's finished statement, as a file. */
static enum MHD_Result statement_file(kula_web *w, struct MHD_Connection *conn,
                                      const kula_web_session *s)
{
    kula_error err;
    uint32_t me;
    const char *data;
    size_t len;
    const kula_statement_ask *ask;
    if (my_member(w, s, &me, &err) != 0)
        return refuse(conn, 409, "%s", err.what);
    if (kula_statement_job_file(w->statement, s->id, me, &data, &len, &ask) != 0)
        return refuse(conn, 404, "there is no statement of yours to download: choose the "
                                 "period and press Download statement, then wait "
                                 "until the page says it is ready");
    /* RFC 6266: an ASCII name for every browser, the UTF-8 one for those
     * that read filename* (RFC 8187) */
    char ascii[KULA_STATEMENT_FILE_MAX], utf8[3 * KULA_STATEMENT_FILE_MAX], cd[1024];
    size_t n = 0;
    for (const char *p = ask->file; *p; p++) {
        unsigned char c = (unsigned char)*p;
        ascii[p - ask->file] = c < 0x80 ? (char)c : '_';
        n += (size_t)snprintf(utf8 + n, sizeof(utf8) - n, c < 0x80 ? "%c" : "%%%02X", c);
    }
    ascii[strlen(ask->file)] = '\0';
    snprintf(cd, sizeof(cd), "attachment; filename=\"%s\"; filename*=UTF-8''%s", ascii, utf8);
    const char *type = ask->opts.format == KULA_STATEMENT_JSONL ? "application/jsonl; charset=utf-8"
                                                                : "text/csv; charset=utf-8";
    kula_info("web: '%s' downloaded %s (%zu bytes)", s->key, ask->file, len);
    return respond(conn, 200, type, data, len, "Content-Disposition", cd);
}

/* ---- actions that sign: the key is unlocked off the loop ---- */

typedef enum MHD_Result (*signed_action)(kula_web *, struct MHD_Connection *,
                                         kula_web_session *, kula_web_form *,
                                         const kula_seckey *);
typedef enum MHD_Result (*keyless_action)(kula_web *, struct MHD_Connection *,
                                          kula_web_session *, kula_web_form *);

/* A key being unlocked on a thread of libuv's pool while MHD holds its
 * request suspended; the action runs on the loop once it is. */
struct unlock_job {
    uv_work_t work;
    unlock_job *prev, *next;
    kula_web *w;                 /* NULL once the web wallet stopped */
    struct MHD_Connection *conn;
    char wallet[1100];
    kula_web_session s;          /* a copy: the session may end meanwhile */
    kula_web_form f;             /* owned */
    signed_action fn;
    kula_seckey sk;
    int rc;
    kula_error err;
};

static void unlock_work(uv_work_t *req)
{
    unlock_job *j = req->data;
    j->rc = unlock(j->wallet, &j->s, j->f.passphrase, &j->sk, &j->err);
}

static void forget_job(unlock_job *j)
{
    kula_web *w = j->w;
    if (j->prev != NULL)
        j->prev->next = j->next;
    else
        w->jobs = j->next;
    if (j->next != NULL)
        j->next->prev = j->prev;
    w->unlocking--;
    j->w = NULL;
}

/* Back on the loop: the action answers (MHD allows a response to be
 * queued on a suspended connection), then MHD sends it once resumed. */
static void unlock_done(uv_work_t *req, int status)
{
    unlock_job *j = req->data;
    if (j->w != NULL) {
        kula_web *w = j->w;
        forget_job(j);
        if (status != 0)
            refuse(j->conn, 503, "the node is stopping: nothing was signed");
        else if (j->rc != 0)
            refuse(j->conn, 403, "%s", j->err.what);
        else
            j->fn(w, j->conn, &j->s, &j->f, &j->sk);
        MHD_resume_connection(j->conn);
    }
    kula_seckey_wipe(&j->sk);
    kula_web_form_free(&j->f);
    sodium_memzero(&j->s, sizeof(j->s));
    free(j);
}

/* Suspends the request and unlocks the session's key on libuv's pool, then
 * runs fn.  f is taken over. */
static enum MHD_Result with_key(kula_web *w, struct MHD_Connection *conn, kula_web_session *s,
                                kula_web_form *f, signed_action fn)
{
    unlock_job *j = w->unlocking < WEB_UNLOCKS ? calloc(1, sizeof(*j)) : NULL;
    if (j == NULL) {
        kula_web_form_free(f);
        return refuse(conn, 503, "the node is unlocking other keys: try again in a moment");
    }
    j->w = w;
    j->conn = conn;
    snprintf(j->wallet, sizeof(j->wallet), "%s", w->wallet);
    j->s = *s;
    j->f = *f;
    j->fn = fn;
    j->work.data = j;
    if (uv_queue_work(w->loop, &j->work, unlock_work, unlock_done) != 0) {
        kula_web_form_free(&j->f);
        free(j);
        return refuse(conn, 500, "cannot unlock the key now: try again");
    }
    j->next = w->jobs;
    if (w->jobs != NULL)
        w->jobs->prev = j;
    w->jobs = j;
    w->unlocking++;
    MHD_suspend_connection(conn);
    return MHD_YES;
}

void kula_web_stop(kula_web *w)
{
    if (w == NULL)
        return;
    kula_events_stop(w->events);
    /* keys still being unlocked: their requests are answered now, and the
     * jobs forget w (they end on the pool and free themselves) */
    while (w->jobs != NULL) {
        unlock_job *j = w->jobs;
        forget_job(j);
        refuse(j->conn, 503, "the node is stopping: nothing was signed");
        MHD_resume_connection(j->conn);
    }
}

/* ---- HTTP ---- */

static const kula_web_asset *asset(const char *url)
{
    const char *want = strcmp(url, "/") == 0 ? "/index.html"
                       : strcmp(url, "/login") == 0 ? "/login.html"
                                                    : url;
    for (size_t i = 0; i < kula_web_nassets; i++)
        if (strcmp(want, kula_web_assets[i].path) == 0)
            return &kula_web_assets[i];
    return NULL;
}

enum MHD_Result kula_web_get(kula_web *w, struct MHD_Connection *conn, const char *url,
                             bool *stream)
{
    *stream = false;
    if (!host_ok(w, conn))
        return refuse(conn, 421, "open the wallet at http://%s/ (the address 'kula web' prints)",
                      w->host);
    const kula_web_asset *a = asset(url);
    if (a != NULL)
        return respond(conn, 200, a->type, a->data, a->len, NULL, NULL);
    kula_web_session *s = session_of(w, conn);
    if (strcmp(url, "/web/session") == 0) {
        if (s == NULL)
            return refuse(conn, 401, "%s", NO_SESSION);
        char pk[2 * KULA_PUBKEY_LEN + 1];
        kula_hex_encode(pk, s->pk.b, KULA_PUBKEY_LEN);
        const kula_genesis *g = w->env->genesis;
        return send_json(conn, 200,
                         json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:I}", "key", s->key, "pubkey",
                                   pk, "csrf", s->csrf, "network", g->network, "unit", g->unit,
                                   "decimals", (int)g->decimals, "expires_in_ms",
                                   (json_int_t)kula_web_session_left_ms(s, now_ms())),
                         NULL);
    }
    if (strcmp(url, "/web/requests") == 0) {
        kula_error err;
        uint32_t me;
        if (s == NULL)
            return refuse(conn, 401, "%s", NO_SESSION);
        if (my_member(w, s, &me, &err) != 0)
            return refuse(conn, 409, "%s", err.what);
        json_t *list = kula_web_requests_for(&w->requests, me, (uint64_t)time(NULL) * 1000u);
        return list != NULL ? send_json(conn, 200, list, NULL)
                            : refuse(conn, 500, "out of memory");
    }
    if (strcmp(url, "/web/statement") == 0 || strcmp(url, "/web/statement/file") == 0) {
        if (s == NULL)
            return refuse(conn, 401, "%s", NO_SESSION);
        if (url[14] == '/')
            return statement_file(w, conn, s);
        json_t *st = kula_statement_job_status(w->statement, s->id);
        return st != NULL ? send_json(conn, 200, st, NULL) : refuse(conn, 500, "out of memory");
    }
    if (strcmp(url, "/events") == 0) {
        if (s == NULL)
            return refuse(conn, 401, "%s", NO_SESSION);
        *stream = true;
        return kula_events_stream(w->events, conn, &s->pk, s->id);
    }
    return refuse(conn, 404, "no page %s here: the wallet is at /", url);
}

bool kula_web_admit(kula_web *w, struct MHD_Connection *conn, const char *url,
                    enum MHD_Result *rc)
{
    if (!host_ok(w, conn)) {
        *rc = refuse(conn, 421, "open the wallet at http://%s/", w->host);
        return false;
    }
    if (!origin_ok(conn)) {
        *rc = refuse(conn, 403, "a request from another site or without Origin: refused");
        return false;
    }
    if (strcmp(url, "/web/login") == 0)
        return true;
    kula_web_session *s = session_of(w, conn);
    if (s == NULL) {
        *rc = refuse(conn, 401, "%s", NO_SESSION);
        return false;
    }
    const char *csrf = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-CSRF-Token");
    if (!kula_web_csrf_ok(s, csrf)) {
        *rc = refuse(conn, 403, "this request lacks the page's CSRF token: reload the page");
        return false;
    }
    return true;
}

enum MHD_Result kula_web_post(kula_web *w, struct MHD_Connection *conn, const char *url,
                              const uint8_t *body, size_t len)
{
    kula_error err;
    kula_web_form f;
    enum MHD_Result rc;
    if (strcmp(url, "/web/login") == 0) {
        if (kula_web_form_parse(&f, KULA_WEB_FORM_LOGIN, body, len, &err) != 0) {
            rc = refuse(conn, 400, "%s", err.what);
        } else {
            kula_web_session *s = kula_web_login_use(&w->sessions, f.token, now_ms());
            if (s == NULL) {
                rc = refuse(conn, 401, "this login link was used already or is older than %u "
                                       "s: run 'kula web' again for a new one",
                            KULA_WEB_LOGIN_TTL_MS / 1000u);
            } else {
                char cookie[256];
                snprintf(cookie, sizeof(cookie),
                         COOKIE "=%s; HttpOnly; SameSite=Strict; Path=/; Max-Age=%u", s->id,
                         KULA_WEB_SESSION_MAX_MS / 1000u);
                kula_info("web: the wallet key '%s' logged in", s->key);
                rc = send_json(conn, 200, json_pack("{s:s}", "key", s->key), cookie);
            }
        }
        kula_web_form_free(&f);
        return rc;
    }
    kula_web_session *s = session_of(w, conn);
    if (s == NULL)
        return refuse(conn, 401, "%s", NO_SESSION);
    if (strcmp(url, "/web/logout") == 0) {
        kula_events_end_session(w->events, s->id);
        kula_web_session_end(s);
        return send_json(conn, 200, json_pack("{s:b}", "ok", 1),
                         COOKIE "=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    }
    if (strcmp(url, "/web/rpc") == 0)
        return web_rpc(w, conn, body, len);
    static const struct {
        const char *url;
        enum kula_web_form_kind kind;
        signed_action fn;   /* with the session's key unlocked, */
        keyless_action act; /* or without it */
    } actions[] = {
        { "/web/pay", KULA_WEB_FORM_PAY, web_pay, NULL },
        { "/web/vote", KULA_WEB_FORM_VOTE, web_vote, NULL },
        { "/web/sign", KULA_WEB_FORM_SIGN, web_sign, NULL },
        { "/web/feedback", KULA_WEB_FORM_FEEDBACK, web_feedback, NULL },
        { "/web/invoice", KULA_WEB_FORM_INVOICE, web_invoice, NULL },
        { "/web/open", KULA_WEB_FORM_OPEN, NULL, web_open },
        { "/web/statement", KULA_WEB_FORM_STATEMENT, NULL, web_statement },
    };
    for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
        if (strcmp(url, actions[i].url) != 0)
            continue;
        if (kula_web_form_parse(&f, actions[i].kind, body, len, &err) != 0) {
            kula_web_form_free(&f);
            return refuse(conn, 400, "%s", err.what);
        }
        if (actions[i].fn != NULL)
            return with_key(w, conn, s, &f, actions[i].fn);
        rc = actions[i].act(w, conn, s, &f);
        kula_web_form_free(&f);
        return rc;
    }
    return refuse(conn, 404, "no action %s here", url);
}
