/* jsonrpc.c -- the node's JSON-RPC 2.0 methods: framing (requests,
 * batches, notifications, errors), what a body may cost (jsonrpc.h), and one
 * handler per method, listed in one table. */
#include "jsonrpc.h"
#include "kula/api/bulk.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_job.h"
#include "kula/base/error.h"
#include "kula/store/txscan.h"
#include "kula/types/records.h"
#include "kula/types/txjson.h"
#include "web.h"

#define REJECT_MEMORY 4096
#define LIST_MAX 1000u         /* the largest "limit" of any list */
#define UNIT_BYTES 1024u       /* an entry costs one more unit per KiB of its JSON */
#define BLOCK_TXS_UNIT 64u     /* a block read: a unit per 64 of its transactions */
#define SCAN_UNIT 64u          /* records scanned and skipped: a unit per 64 */
#define LIST_SLACK 512u        /* an answer's bytes besides its list (and the envelope) */

size_t kula_jsonrpc_work = KULA_JSONRPC_WORK;
size_t kula_jsonrpc_max_response = KULA_JSONRPC_MAX_RESPONSE;

struct kula_jsonrpc {
    kula_rpc_env *env;
    struct { kula_hash id; int reason; } rejected[REJECT_MEMORY];
    size_t nrejected, next_reject;
    /* the submits of the batch being handled, admitted together */
    struct presubmit {
        json_t *req;
        size_t at; /* its place in the batch */
        uint8_t *bytes;
        size_t len;
        uint64_t units; /* submit_units of bytes, counted once */
        int result;
        kula_hash id;
    } *pre;
    size_t npre, pre_next; /* pre_next: the first not yet passed */
    size_t at;             /* the place in the batch of the request being handled */
    /* the body being handled: the work its requests asked for (refused
     * whole above kula_jsonrpc_work), the work done so far, the bytes of
     * JSON its response holds so far */
    uint64_t asked, work;
    size_t out;
    /* the last block read, decoded: a member's history entries in one
     * block, or a block's pages, decode it once.  Dropped with the body. */
    bool cached;
    uint64_t cached_height;
    kula_buf cached_bytes;
    kula_block cached_block;
    /* the genesis as JSON, made once: it never changes */
    json_t *genesis;
    kula_web *web;      /* for web_login; NULL: none */
    kula_job *audit; /* the node's audit of its chain (audit, audit_status) */
};

int kula_jsonrpc_new(kula_jsonrpc **out, kula_rpc_env *env)
{
    kula_jsonrpc *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return KULA_ENOMEM;
    r->env = env;
    if (kula_job_new(&r->audit, env, &kula_audit_job) != 0) {
        free(r);
        return KULA_ENOMEM;
    }
    *out = r;
    return KULA_OK;
}

void kula_jsonrpc_set_web(kula_jsonrpc *r, kula_web *web) { r->web = web; }

static void drop_block(kula_jsonrpc *r)
{
    if (r->cached)
        kula_block_free(&r->cached_block);
    r->cached = false;
    kula_buf_free(&r->cached_bytes);
}

void kula_jsonrpc_free(kula_jsonrpc *r)
{
    if (r != NULL) {
        kula_job_free(r->audit);
        drop_block(r);
        json_decref(r->genesis);
    }
    free(r);
}

void kula_jsonrpc_note_rejected(kula_jsonrpc *r, const kula_hash *id, int reason)
{
    r->rejected[r->next_reject].id = *id;
    r->rejected[r->next_reject].reason = reason;
    r->next_reject = (r->next_reject + 1) % REJECT_MEMORY;
    if (r->nrejected < REJECT_MEMORY)
        r->nrejected++;
}

/* ---- errors and results ---- */

struct call;

/* What a request asks for, counted before any request of its body runs
 * (jsonrpc.h): one unit; one more per entry its "limit" allows (a block's
 * size is not known before it is read: its entries are counted as they
 * are); for a submitted transaction, submit_units. */
enum asks { ASKS_ONE, ASKS_LIMIT, ASKS_SIZE };

/* A method: its name, handler, one line of help, what it asks for; for the
 * list methods, the default of their "limit" (LIST_MAX: all of the list, as
 * far as the body's limits allow) and how to page, for the limit errors. */
typedef struct rpc_method {
    const char *name;
    int (*fn)(struct call *c);
    const char *params;
    enum asks asks;
    uint32_t limit;
    const char *less;
} rpc_method;

typedef struct call {
    kula_jsonrpc *r;
    const rpc_method *m;
    json_t *req;        /* the request object */
    json_t *params;     /* object (never NULL inside handlers) */
    bool notification;  /* no id: its result is dropped, its size not counted */
    json_t *result;     /* set on success */
    int code;           /* set on failure */
    char msg[512];
    json_t *data;       /* more members of the error's "data", or NULL */
    /* the one list of the result that add_item built and measured */
    json_t *list;
    size_t list_items, list_bytes;
} call;

static int fail(call *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(call *c, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
    va_end(ap);
    c->code = code;
    return code;
}

static int fail_kula(call *c, int err, const char *what)
{
    if (what != NULL)
        return fail(c, err, "%s: %s", what, kula_strerror(err));
    return fail(c, err, "%s", kula_strerror(err));
}

/* ---- what a body costs (jsonrpc.h) ---- */

/* The length of s in compact JSON, as jansson writes it: '"' and '\\'
 * escaped, control characters as \n or \u00XX, everything else as is. */
static size_t string_size(const char *s, size_t n)
{
    size_t size = 2 + n;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\' || ch == '\b' || ch == '\f' || ch == '\n' || ch == '\r' ||
            ch == '\t')
            size += 1;
        else if (ch < 0x20)
            size += 5;
    }
    return size;
}

/* The length of j in compact JSON (json_dumps with JSON_COMPACT), without
 * writing it; `known`, if met inside j, counts as known_size. */
static size_t json_size(const json_t *j, const json_t *known, size_t known_size)
{
    if (j == known)
        return known_size;
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        size_t size = 2, k = 0;
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)j, key, v)
            size += (k++ > 0) + string_size(key, strlen(key)) + 1 + json_size(v, known, known_size);
        return size;
    }
    case JSON_ARRAY: {
        size_t size = 2, n = json_array_size(j);
        for (size_t i = 0; i < n; i++)
            size += (i > 0) + json_size(json_array_get(j, i), known, known_size);
        return size;
    }
    case JSON_STRING:
        return string_size(json_string_value(j), json_string_length(j));
    case JSON_INTEGER: {
        char text[24];
        return (size_t)snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
    }
    case JSON_REAL: {
        char text[40];
        return (size_t)snprintf(text, sizeof(text), "%.17g", json_real_value(j)) + 2;
    }
    case JSON_TRUE:
        return 4;
    case JSON_FALSE:
        return 5;
    case JSON_NULL:
        return 4;
    }
    return 0;
}

static bool affordable(const call *c, uint64_t units)
{
    return c->r->work + units <= kula_jsonrpc_work;
}

/* Counts units of work against the body's budget.
 * Returns: 0, or KULA_ETOOBIG (c's error set) when they do not fit. */
static int spend(call *c, uint64_t units)
{
    kula_jsonrpc *r = c->r;
    if (!affordable(c, units)) {
        fail(c, KULA_ETOOBIG,
             "'%s' needs more work than is left of the limit on one request or batch (%zu units, "
             "%llu used before it): send it in a smaller batch or alone%s%s",
             c->m->name, kula_jsonrpc_work, (unsigned long long)r->work,
             c->m->less != NULL ? ", or ask for fewer entries with limit and page with " : "",
             c->m->less != NULL ? c->m->less : "");
        c->data = json_pack("{s:I, s:I}", "limit", (json_int_t)kula_jsonrpc_work, "used",
                            (json_int_t)r->work);
        return c->code;
    }
    r->work += units;
    return 0;
}

/* The answer would not fit the response limit. */
static int fail_response(call *c, size_t more)
{
    fail(c, KULA_ETOOBIG,
         "the answer to '%s' would be larger than %zu bytes, the limit on a response (%zu taken "
         "before it, %zu more asked): %s%s",
         c->m->name, kula_jsonrpc_max_response, c->r->out, c->list_bytes + more,
         c->m->less != NULL ? "ask for fewer entries with limit and page with "
                            : "send it in a smaller batch or alone",
         c->m->less != NULL ? c->m->less : "");
    c->data = json_pack("{s:I}", "limit", (json_int_t)kula_jsonrpc_max_response);
    return c->code;
}

/* The room left in the response for c's list, keeping LIST_SLACK bytes for
 * the rest of the answer. */
static size_t list_room(const call *c)
{
    size_t max = kula_jsonrpc_max_response,
           taken = c->r->out + c->list_bytes + c->list_items + LIST_SLACK;
    return taken >= max ? 0 : max - taken;
}

/* Whether an entry of `size` bytes of JSON still fits the response and the
 * work limits (for the lists that end a page early rather than fail). */
static bool item_fits(const call *c, size_t size)
{
    return (c->notification || size <= list_room(c)) && affordable(c, 1 + size / UNIT_BYTES);
}

/* Appends item (taken, may be NULL on allocation failure) of `size` bytes
 * of JSON (SIZE_MAX: not measured yet) to c's list, counting its bytes
 * against the response limit and its work (one unit, plus one per KiB).
 * Returns: 0, or an error (c's error set; item freed). */
static int add_item(call *c, json_t *list, json_t *item, size_t size)
{
    if (item == NULL)
        return fail(c, RPC_INTERNAL, "out of memory");
    if (size == SIZE_MAX)
        size = json_size(item, NULL, 0);
    if (!c->notification && size > list_room(c)) {
        json_decref(item);
        return fail_response(c, size);
    }
    if (spend(c, 1 + size / UNIT_BYTES) != 0) {
        json_decref(item);
        return c->code;
    }
    c->list = list;
    c->list_items++;
    c->list_bytes += size;
    json_array_append_new(list, item);
    return 0;
}

/* The number of transactions of an encoded block, read from its first
 * bytes only (0 if it does not decode). */
static uint32_t block_ntxs(const uint8_t *data, size_t len)
{
    kula_reader rd;
    const uint8_t *p;
    size_t n;
    kula_reader_init(&rd, data, len);
    kula_r_array_exact(&rd, 3);
    kula_r_value(&rd, &p, &n);
    uint32_t ntxs = kula_r_array(&rd, KULA_MAX_BLOCK_TXS);
    return kula_reader_ok(&rd) ? ntxs : 0;
}

/* A small block costs nothing to read beyond its entry's unit. */
static uint64_t block_units(uint32_t ntxs) { return ntxs / BLOCK_TXS_UNIT; }

/* Block `height`, decoded, from the body's one-block cache or the store.
 * Reading it costs block_units(its transactions).  With `soft`, a block the
 * body cannot afford is not read: KULA_ETOOBIG without c's error set.
 * Out: *blk, valid until the next read_block or the body's end; *len, its
 * size in bytes (may be NULL).
 * Returns: 0, KULA_ENOTFOUND, KULA_ETOOBIG, a store or codec error. */
static int read_block(call *c, uint64_t height, bool soft, const kula_block **blk, size_t *len)
{
    kula_jsonrpc *r = c->r;
    if (!r->cached || r->cached_height != height) {
        drop_block(r);
        int rc = kula_store_block(r->env->store, height, &r->cached_bytes);
        if (rc != 0)
            return rc;
        uint64_t units = block_units(block_ntxs(r->cached_bytes.data, r->cached_bytes.len));
        if (soft && !affordable(c, units))
            rc = KULA_ETOOBIG;
        else if ((rc = spend(c, units)) == 0)
            rc = kula_block_decode(&r->cached_block, r->cached_bytes.data, r->cached_bytes.len);
        if (rc != 0) {
            kula_buf_free(&r->cached_bytes);
            return rc;
        }
        r->cached = true;
        r->cached_height = height;
    }
    *blk = &r->cached_block;
    if (len != NULL)
        *len = r->cached_bytes.len;
    return 0;
}

/* ---- parameters ---- */

static int param_hash(call *c, const char *name, kula_hash *out)
{
    json_t *v = json_object_get(c->params, name);
    if (!json_is_string(v) || kula_hex_decode(out->b, KULA_HASH_LEN, json_string_value(v)) != 0)
        return fail(c, RPC_INVALID_PARAMS, "'%s' must be 64 hex digits", name);
    return 0;
}

static int param_uint(call *c, const char *name, bool required, uint64_t dflt, uint64_t max,
                      uint64_t *out)
{
    json_t *v = json_object_get(c->params, name);
    if (v == NULL && !required) {
        *out = dflt;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        (uint64_t)json_integer_value(v) > max)
        return fail(c, RPC_INVALID_PARAMS, "'%s' must be an integer from 0 to %llu", name,
                    (unsigned long long)max);
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

/* An optional 64-hex parameter.  Out: *have, whether it was given. */
static int param_opt_hash(call *c, const char *name, kula_hash *out, bool *have)
{
    *have = json_object_get(c->params, name) != NULL;
    return *have ? param_hash(c, name, out) : 0;
}

/* A list's "limit", at most LIST_MAX.  Without one, history takes 50 and
 * the other lists all of it, as far as the body's limits allow: a list too
 * long for them is refused (saying how to page), never cut, so that a client
 * that does not page cannot take a part for the whole.  Out: *all, true
 * then (and *limit UINT64_MAX). */
static int param_limit(call *c, uint64_t *limit, bool *all)
{
    *all = json_object_get(c->params, "limit") == NULL && c->m->limit == LIST_MAX;
    if (*all) {
        *limit = UINT64_MAX;
        return 0;
    }
    return param_uint(c, "limit", false, c->m->limit, LIST_MAX, limit);
}

typedef struct find_name {
    call *c;
    const char *name;
    uint32_t id;
    uint32_t scanned;
} find_name;

static int match_name(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    find_name *f = ctx;
    kula_member m;
    if (++f->scanned % SCAN_UNIT == 0 && spend(f->c, 1) != 0)
        return -1;
    if (klen != 5)
        return 0;
    m.id = kula_get_be32(key + 1);
    if (kula_member_decode(&m, val, vlen) == 0 && strcmp(m.name, f->name) == 0) {
        f->id = m.id;
        return 1;
    }
    return 0;
}

/* A member given as its id (integer), its public key (64 hex) or its name
 * (found by scanning the members: a unit of work per SCAN_UNIT). */
static int param_member(call *c, const char *name, kula_member *m)
{
    json_t *v = json_object_get(c->params, name);
    kula_ledger *l = kula_chain_ledger(c->r->env->chain);
    uint32_t id = 0;
    if (json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) <= UINT32_MAX) {
        id = (uint32_t)json_integer_value(v);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        kula_pubkey pk;
        if (strlen(s) == 64 && kula_hex_decode(pk.b, KULA_PUBKEY_LEN, s) == 0) {
            if (kula_ledger_member_by_key(l, &pk, &id) != 0)
                return fail(c, KULA_EUNKNOWNMEMBER, "no member has key %s", s);
        } else {
            uint8_t prefix = KULA_KEY_MEMBER;
            find_name f = { c, s, 0, 0 };
            if (kula_store_state_scan(c->r->env->store, &prefix, 1, match_name, &f) < 0 &&
                c->code != 0)
                return c->code; /* over the work limit */
            if (f.id == 0)
                return fail(c, KULA_EUNKNOWNMEMBER, "no member is named '%s'", s);
            id = f.id;
        }
    } else {
        return fail(c, RPC_INVALID_PARAMS,
                    "'%s' must be a member id, a public key (hex) or a name", name);
    }
    int rc = kula_ledger_member(l, id, m);
    if (rc != 0)
        return fail(c, rc, "member %u: %s", id, kula_strerror(rc));
    return 0;
}

/* ---- methods ---- */

static int m_status(call *c)
{
    kula_rpc_env *env = c->r->env;
    kula_chain *ch = env->chain;
    char chain[65], tip[65];
    kula_hex_encode(chain, env->genesis->chain_id.b, KULA_HASH_LEN);
    kula_hex_encode(tip, kula_chain_tip_hash(ch)->b, KULA_HASH_LEN);
    uint64_t height = kula_chain_height(ch);
    kula_sync_status st = { .height = height, .target = height };
    if (env->p2p != NULL)
        kula_p2p_sync_status(env->p2p, &st);
    /* "producing" only while the node is healthy: holding a validator key
     * says nothing about blocks being made */
    const char *state = env->health.state != KULA_HEALTH_OK ? kula_health_name(env->health.state)
                        : env->producing                    ? "producing"
                        : st.syncing                        ? "syncing"
                                                            : "following";
    c->result = json_pack(
        "{s:s, s:s, s:s, s:I, s:I, s:s, s:I, s:I, s:I, s:I, s:{s:s, s:I, s:I}, s:b, s:s}",
        "network", env->genesis->network, "chain_id", chain, "unit", env->genesis->unit,
        "decimals", (json_int_t)env->genesis->decimals, "height", (json_int_t)height,
        "last_block_hash", tip, "last_block_time_ms", (json_int_t)kula_chain_tip_time(ch),
        "mempool_size", (json_int_t)kula_mempool_size(env->mempool), "mempool_bytes",
        (json_int_t)kula_mempool_bytes(env->mempool), "peers", (json_int_t)st.peers, "sync",
        "state", state, "height", (json_int_t)height, "target", (json_int_t)st.target,
        "validator", env->producing, "version", KULA_VERSION_STRING);
    if (c->result != NULL)
        json_object_set_new(c->result, "health",
                            json_pack("{s:s, s:s, s:I}", "state",
                                      kula_health_name(env->health.state), "reason",
                                      env->health.reason, "last_block_age_ms",
                                      (json_int_t)env->last_block_age_ms));
    return 0;
}

/* The genesis, made into JSON once (its answer costs a unit per KiB, as
 * every answer's JSON). */
static int m_genesis(call *c)
{
    kula_jsonrpc *r = c->r;
    if (r->genesis == NULL) {
        char *text = kula_genesis_to_json(r->env->genesis);
        r->genesis = text != NULL ? json_loads(text, 0, NULL) : NULL;
        free(text);
        if (r->genesis == NULL)
            return fail(c, RPC_INTERNAL, "out of memory");
    }
    c->result = json_incref(r->genesis); /* shared: nothing changes it */
    return 0;
}

/* What an auditor compares with `kula audit`: the tip the node's ledger
 * stands on and its state root, in constant work (no replay on the loop:
 * the replay from the genesis is kula audit's, offline). */
static int m_ledger_state(call *c)
{
    kula_rpc_env *env = c->r->env;
    kula_chain *ch = env->chain;
    char chain[65], tip[65], root[65];
    kula_hex_encode(chain, env->genesis->chain_id.b, KULA_HASH_LEN);
    kula_hex_encode(tip, kula_chain_tip_hash(ch)->b, KULA_HASH_LEN);
    kula_hex_encode(root, kula_ledger_state_root(kula_chain_ledger(ch))->b, KULA_HASH_LEN);
    c->result = json_pack("{s:s, s:s, s:I, s:s, s:I, s:s, s:I}", "network",
                          env->genesis->network, "chain_id", chain, "height",
                          (json_int_t)kula_chain_height(ch), "tip_hash", tip, "tip_time_ms",
                          (json_int_t)kula_chain_tip_time(ch), "state_root", root,
                          "genesis_time_ms", (json_int_t)env->genesis->time_ms);
    return c->result != NULL ? 0 : fail(c, RPC_INTERNAL, "out of memory");
}

/* The hex of a signed transaction in params.tx, decoded (malloc'd). */
static uint8_t *submit_bytes(json_t *params, size_t *n)
{
    json_t *v = json_object_get(params, "tx");
    if (!json_is_string(v) || json_string_length(v) % 2 != 0 ||
        json_string_length(v) / 2 > KULA_MAX_TX_BYTES)
        return NULL;
    *n = json_string_length(v) / 2;
    uint8_t *bytes = malloc(*n ? *n : 1);
    if (bytes != NULL && kula_hex_decode(bytes, *n, json_string_value(v)) != 0) {
        free(bytes);
        bytes = NULL;
    }
    return bytes;
}

static bool valid_request(json_t *req);

/* Admits every well-formed submit of a batch as one mempool batch, so their
 * signatures are verified together on the verifier's threads; m_submit
 * then answers each from the result. */
static void presubmit(kula_jsonrpc *r, json_t *batch)
{
    size_t n = json_array_size(batch), k = 0;
    r->pre = calloc(n, sizeof(*r->pre));
    if (r->pre == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        json_t *req = json_array_get(batch, i);
        json_t *method = json_object_get(req, "method");
        json_t *params = json_object_get(req, "params");
        if (!valid_request(req) || strcmp(json_string_value(method), "submit") != 0 ||
            !json_is_object(params))
            continue;
        size_t len;
        uint8_t *bytes = submit_bytes(params, &len);
        if (bytes == NULL)
            continue; /* m_submit reports it */
        r->pre[k++] = (struct presubmit){
            .req = req, .at = i, .bytes = bytes, .len = len, .units = kula_submit_units(bytes, len)
        };
    }
    r->npre = k;
    r->pre_next = 0;
    if (k < 2) /* nothing to gain */
        goto done;
    const uint8_t **txs = malloc(k * sizeof(*txs));
    size_t *lens = malloc(k * sizeof(*lens));
    int *results = malloc(k * sizeof(*results));
    kula_hash *ids = calloc(k, sizeof(*ids));
    if (txs != NULL && lens != NULL && results != NULL && ids != NULL) {
        for (size_t i = 0; i < k; i++) {
            txs[i] = r->pre[i].bytes;
            lens[i] = r->pre[i].len;
        }
        kula_rpc_env *env = r->env;
        kula_mempool_add_batch(env->mempool, kula_chain_ledger(env->chain), env->verifier, txs,
                               lens, k, results, ids);
        for (size_t i = 0; i < k; i++) {
            r->pre[i].result = results[i];
            r->pre[i].id = ids[i];
        }
        free(txs);
        free(lens);
        free(results);
        free(ids);
        return;
    }
    free(txs);
    free(lens);
    free(results);
    free(ids);
done:
    for (size_t i = 0; i < k; i++)
        free(r->pre[i].bytes);
    free(r->pre);
    r->pre = NULL;
    r->npre = r->pre_next = 0;
}

static void presubmit_done(kula_jsonrpc *r)
{
    for (size_t i = 0; i < r->npre; i++)
        free(r->pre[i].bytes);
    free(r->pre);
    r->pre = NULL;
    r->npre = r->pre_next = 0;
}

/* ---- the numbers behind a refusal ---- */

/* The limits a transaction too large to decode broke, for its refusal. */
static const char *size_limits(int err)
{
    return err == KULA_ETOOBIG ? " (a transaction has at most 16 parties (an agreement's "
                                 "limit) and 16 signatures, a Shapley game of at most 16 "
                                 "parties, 2^16 coalition values, and at most 1 MiB)"
                               : "";
}

/* Who would pay how much for tx (proto/LEDGER.md §4, §5.5), read from the
 * state.  Returns: whether tx moves credit. */
static bool tx_payment(kula_ledger *l, const kula_tx *tx, uint32_t *payer, int64_t *amount)
{
    kula_referral r;
    kula_agreement a;
    *payer = tx->from;
    switch (tx->kind) {
    case KULA_TX_TRANSFER: *amount = tx->u.transfer.amount; return true;
    case KULA_TX_BENEFIT: *amount = tx->u.benefit.amount; return true;
    case KULA_TX_INVOICE_PAY: *amount = tx->u.inv.amount; return true;
    case KULA_TX_EXCHANGE: {
        /* §4.2: the side that delivered less pays the difference */
        __extension__ __int128 d = (__int128)tx->u.exchange.gives_value -
                                   tx->u.exchange.receives_value;
        if (d > 0)
            *payer = tx->u.exchange.counterparty;
        *amount = (int64_t)(d > 0 ? d : -d);
        return d != 0 && (d > 0 ? d : -d) <= INT64_MAX;
    }
    case KULA_TX_CONVERSION:
        if (kula_ledger_referral(l, &tx->u.conversion.referral, &r) != 0)
            return false;
        *amount = r.fee;
        if (r.has_agreement) {
            if (kula_ledger_agreement(l, &r.agreement, &a) != 0)
                return false;
            __extension__ unsigned __int128 f =
                (unsigned __int128)(uint64_t)tx->u.conversion.value * a.referral_fee_bps;
            *amount = (int64_t)(f / KULA_BPS_DENOM);
        }
        return true;
    default: return false;
    }
}

/* Puts the numbers behind refusal err of tx into the error's data, for a
 * client to word (kula's remedy table): for ECREDIT the payer, its
 * available credit (balance + credit limit) and the amount; for ENONCE the
 * nonce expected next; for ESIGNERS the members who must sign.  As of the
 * state of the last block. */
static void refusal_data(call *c, int err, const uint8_t *bytes, size_t n)
{
    kula_tx *tx = malloc(sizeof(*tx));
    kula_ledger *l = kula_chain_ledger(c->r->env->chain);
    kula_member m;
    if (tx == NULL || l == NULL || kula_tx_decode(tx, bytes, n) != 0) {
        free(tx);
        return;
    }
    uint32_t payer;
    int64_t amount;
    if (err == KULA_ECREDIT && tx_payment(l, tx, &payer, &amount) &&
        kula_ledger_member(l, payer, &m) == 0) {
        __extension__ __int128 avail = (__int128)m.balance + m.credit_limit;
        c->data = json_pack("{s:I, s:I, s:I, s:I, s:I}", "payer", (json_int_t)payer, "amount",
                            (json_int_t)amount, "balance", (json_int_t)m.balance, "credit_limit",
                            (json_int_t)m.credit_limit, "available",
                            (json_int_t)(avail > INT64_MAX ? INT64_MAX : avail));
    } else if (err == KULA_ENONCE && kula_ledger_member(l, tx->from, &m) == 0 &&
               m.nonce < UINT64_MAX) {
        c->data = json_pack("{s:I, s:I, s:I}", "member", (json_int_t)tx->from, "nonce",
                            (json_int_t)tx->nonce, "next_nonce", (json_int_t)(m.nonce + 1));
    } else if (err == KULA_ESIGNERS) {
        uint32_t ids[KULA_MAX_PARTIES + 1], k = 0;
        kula_pubkey *keys = malloc((KULA_MAX_PARTIES + 1) * sizeof(*keys));
        kula_referral r;
        json_t *who = json_array();
        if (tx->kind == KULA_TX_CONVERSION &&
            kula_ledger_referral(l, &tx->u.conversion.referral, &r) == 0) {
            ids[k++] = r.receiver; /* §4.4: only the referral's receiver confirms it */
        } else if (keys != NULL && kula_ledger_signers(l, tx, ids, keys, &k) != 0) {
            k = 0;
        }
        for (uint32_t i = 0; i < k && who != NULL; i++)
            json_array_append_new(who, json_integer(ids[i]));
        free(keys);
        if (who != NULL && k > 0)
            c->data = json_pack("{s:o, s:I}", "signers", who, "kind", (json_int_t)tx->kind);
        else
            json_decref(who);
    }
    free(tx);
}

/* Answers a submit from its admission result: pending (and relayed to the
 * peers), or why not. */
static int submit_answer(call *c, int result, const kula_hash *id, const uint8_t *bytes,
                         size_t n)
{
    uint64_t height = 0;
    result = kula_submit_verdict(c->r->env, result, id, bytes, n, &height);
    if (result == KULA_EREPLAYED)
        return fail(c, KULA_EREPLAYED, "transaction refused: already committed at height %llu",
                    (unsigned long long)height);
    if (result == KULA_EDUPTX)
        return fail(c, result, "transaction refused: already pending (sent before)");
    if (result != 0) {
        fail(c, result, "transaction refused: %s%s", kula_strerror(result), size_limits(result));
        refusal_data(c, result, bytes, n);
        return c->code;
    }
    c->result = json_pack("{s:o, s:s}", "id", kula_json_hex(id->b, KULA_HASH_LEN), "status",
                          "pending");
    return 0;
}

static uint64_t submit_units(json_t *params)
{
    size_t n = 0;
    uint8_t *bytes = submit_bytes(params, &n);
    uint64_t units = kula_submit_units(bytes, n);
    free(bytes);
    return units;
}

static int m_submit(call *c)
{
    /* The batch's requests are answered in order, and pre holds its
     * well-formed submits in that order: those before this one are passed
     * (answered, or not run at all), and this one is the next or is not
     * there. */
    kula_jsonrpc *r = c->r;
    while (r->pre_next < r->npre && r->pre[r->pre_next].at < r->at)
        r->pre_next++;
    if (r->pre_next < r->npre && r->pre[r->pre_next].req == c->req) {
        const struct presubmit *ps = &r->pre[r->pre_next++];
        /* admitted with its batch (within the work the batch asked for):
         * counted, never refused now */
        r->work += ps->units;
        return submit_answer(c, ps->result, &ps->id, ps->bytes, ps->len);
    }
    if (spend(c, submit_units(c->params)) != 0)
        return c->code;
    size_t n;
    uint8_t *bytes = submit_bytes(c->params, &n);
    if (bytes == NULL)
        return fail(c, RPC_INVALID_PARAMS, "'tx' must be the hex of a signed transaction");
    kula_rpc_env *env = c->r->env;
    const uint8_t *txs[1] = { bytes };
    size_t lens[1] = { n };
    int result;
    kula_hash id;
    memset(&id, 0, sizeof(id));
    kula_mempool_add_batch(env->mempool, kula_chain_ledger(env->chain), env->verifier, txs, lens,
                           1, &result, &id);
    int rc = submit_answer(c, result, &id, bytes, n);
    free(bytes);
    return rc;
}

/* Whether a transaction, signed or not yet by all, would be admitted now
 * (kula_mempool_check): kula checks what it writes and signs for others. */
static int m_check(call *c)
{
    if (spend(c, submit_units(c->params)) != 0)
        return c->code;
    size_t n;
    uint8_t *bytes = submit_bytes(c->params, &n);
    if (bytes == NULL)
        return fail(c, RPC_INVALID_PARAMS, "'tx' must be the hex of a transaction");
    kula_tx *tx = malloc(sizeof(*tx));
    int rc = tx != NULL ? kula_tx_decode(tx, bytes, n) : KULA_ENOMEM;
    if (rc == 0)
        rc = kula_mempool_check(c->r->env->mempool, tx);
    free(tx);
    if (rc == KULA_ENOTFOUND) {
        free(bytes);
        return fail(c, RPC_INTERNAL, "this node cannot check transactions (no ledger view)");
    }
    if (rc != 0) {
        fail(c, rc, "transaction would be refused: %s%s", kula_strerror(rc), size_limits(rc));
        refusal_data(c, rc, bytes, n);
        free(bytes);
        return c->code;
    }
    free(bytes);
    c->result = json_pack("{s:b}", "ok", 1);
    return 0;
}

static int m_tx(call *c)
{
    kula_hash id;
    if (param_hash(c, "id", &id) != 0)
        return c->code;
    kula_jsonrpc *r = c->r;
    uint64_t height;
    uint32_t index;
    int rc = kula_store_tx_location(r->env->store, &id, &height, &index);
    if (rc == 0) {
        const kula_block *blk;
        json_t *txj = NULL;
        rc = read_block(c, height, false, &blk, NULL);
        if (rc == KULA_ETOOBIG && c->code != 0)
            return c->code; /* over the work limit */
        if (rc == 0) {
            kula_tx tx;
            if (index < blk->ntxs &&
                kula_tx_decode(&tx, blk->txs[index], blk->tx_lens[index]) == 0)
                txj = kula_tx_to_json(&tx);
        }
        c->result = json_pack("{s:o, s:s, s:I, s:I, s:o}", "id", kula_json_hex(id.b, 32),
                              "status", "committed", "height", (json_int_t)height, "index",
                              (json_int_t)index, "tx", txj != NULL ? txj : json_null());
        return 0;
    }
    kula_pending_info pi;
    if (kula_mempool_pending(r->env->mempool, &id, &pi)) {
        /* what it waits for, in words */
        char waiting[96];
        if (pi.waiting)
            snprintf(waiting, sizeof(waiting), "its sender's transaction with nonce %llu",
                     (unsigned long long)pi.missing_nonce);
        else
            snprintf(waiting, sizeof(waiting), "a block");
        c->result = json_pack("{s:o, s:s, s:s, s:I}", "id", kula_json_hex(id.b, 32), "status",
                              "pending", "waiting_for", waiting, "since_height",
                              (json_int_t)pi.since);
        return 0;
    }
    for (size_t i = 0; i < r->nrejected; i++) {
        if (memcmp(r->rejected[i].id.b, id.b, KULA_HASH_LEN) == 0) {
            int why = r->rejected[i].reason;
            c->result = json_pack("{s:o, s:s, s:s, s:s}", "id", kula_json_hex(id.b, 32),
                                  "status", why == KULA_EPENDINGEXPIRED ? "expired" : "rejected",
                                  "reason", kula_strerror(why), "error", kula_errname(why));
            return 0;
        }
    }
    c->result = json_pack("{s:o, s:s}", "id", kula_json_hex(id.b, 32), "status", "unknown");
    return 0;
}

/* A block: its header, who signed its parent, and a page of its
 * transactions ("from", "limit"; "ntxs" counts them all, "next" asks for the
 * next page); "raw" adds the whole block's hex. */
static int m_block(call *c)
{
    uint64_t height = 0, from = 0, limit = 0;
    bool all;
    kula_rpc_env *env = c->r->env;
    if (param_uint(c, "height", false, kula_chain_height(env->chain), UINT64_MAX, &height) != 0 ||
        param_uint(c, "from", false, 0, KULA_MAX_BLOCK_TXS, &from) != 0 ||
        param_limit(c, &limit, &all) != 0)
        return c->code;
    const kula_block *blk;
    size_t len;
    int rc = read_block(c, height, false, &blk, &len);
    if (rc == KULA_ETOOBIG && c->code != 0)
        return c->code;
    if (rc != 0)
        return fail(c, rc == KULA_ENOTFOUND ? KULA_ENOTFOUND : rc, "no block at height %llu",
                    (unsigned long long)height);
    json_t *o = kula_header_to_json(&blk->header, &blk->hash);
    if (o == NULL)
        return fail(c, RPC_INTERNAL, "out of memory");
    c->result = o;
    if (blk->has_last_commit) {
        /* who finalised the parent: the validators whose precommits it carries */
        json_t *signers = json_array();
        for (uint32_t i = 0; i < blk->last_commit->nsigs; i++)
            json_array_append_new(signers, json_integer(blk->last_commit->sigs[i].validator));
        json_object_set_new(o, "last_commit",
                            json_pack("{s:I, s:I, s:o}", "height",
                                      (json_int_t)blk->last_commit->height, "round",
                                      (json_int_t)blk->last_commit->round, "signers", signers));
    }
    json_object_set_new(o, "size", json_integer((json_int_t)len));
    json_object_set_new(o, "ntxs", json_integer((json_int_t)blk->ntxs));
    if (json_is_true(json_object_get(c->params, "raw"))) {
        /* the hex is built only if it fits: a 16 MiB block is 32 MiB of it */
        size_t size = 2 * len + 2;
        if (!c->notification &&
            (c->r->out >= kula_jsonrpc_max_response ||
             size > kula_jsonrpc_max_response - c->r->out))
            return fail_response(c, size);
        if (spend(c, size / UNIT_BYTES) != 0)
            return c->code;
        json_object_set_new(o, "hex", kula_json_hex(c->r->cached_bytes.data, len));
    }
    /* ids: each transaction's id alone, for a client that follows the
     * chain to see its own commit (a fraction of the work and bytes of the
     * whole transactions) */
    bool ids = json_is_true(json_object_get(c->params, "ids"));
    json_t *txs = json_array();
    json_object_set_new(o, "txs", txs);
    uint64_t i = from;
    for (; i < blk->ntxs && i - from < limit; i++) {
        kula_tx tx;
        bool ok = kula_tx_decode(&tx, blk->txs[i], blk->tx_lens[i]) == 0;
        json_t *txj = !ok ? json_null()
                      : ids ? kula_json_hex(tx.id.b, KULA_HASH_LEN)
                            : kula_tx_to_json(&tx);
        /* an id's size is known: 64 digits in quotes */
        if (add_item(c, txs, txj, ok && ids ? 2 * KULA_HASH_LEN + 2 : SIZE_MAX) != 0)
            return c->code;
    }
    json_object_set_new(o, "next",
                        i < blk->ntxs ? json_pack("{s:I, s:I}", "height", (json_int_t)height,
                                                  "from", (json_int_t)i)
                                      : json_null());
    return 0;
}

/* A page of a state list in key order: the records under `prefix` after
 * `after` (NULL: from the first), at most `limit` of those `keep` accepts;
 * those it skips cost a unit per SCAN_UNIT. */
typedef struct page {
    call *c;
    json_t *out;
    uint64_t limit, skipped;
    /* Returns: the record's JSON, or NULL to skip it. */
    json_t *(*keep)(struct page *p, const uint8_t *key, size_t klen, const uint8_t *val,
                    size_t vlen);
    uint32_t member;  /* agreements: only those of this member (0: all) */
    bool open_only;   /* invoices: only those still owed or in dispute */
} page;

static int page_record(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val,
                       size_t vlen)
{
    page *p = ctx;
    if (json_array_size(p->out) >= p->limit)
        return 1;
    json_t *item = p->keep(p, key, klen, val, vlen);
    if (item == NULL) {
        if (++p->skipped % SCAN_UNIT == 0 && spend(p->c, 1) != 0)
            return -1;
        return 0;
    }
    return add_item(p->c, p->out, item, SIZE_MAX) != 0 ? -1 : 0;
}

/* Fills c->result with a page of the list under prefix.  Returns: 0 or c's
 * error. */
static int list_page(call *c, page *p, uint8_t prefix, const uint8_t *after, size_t alen)
{
    p->c = c;
    p->out = c->result = json_array();
    if (p->out == NULL)
        return fail(c, RPC_INTERNAL, "out of memory");
    uint8_t start[KULA_KEY_MAX];
    start[0] = prefix;
    if (after != NULL)
        memcpy(start + 1, after, alen);
    int rc = kula_store_state_scan_after(c->r->env->store, &prefix, 1, after ? start : NULL,
                                         1 + alen, page_record, p);
    if (rc < 0 && c->code != 0)
        return c->code;
    if (rc < 0)
        return fail_kula(c, rc, c->m->name);
    return 0;
}

static json_t *member_item(page *p, const uint8_t *key, size_t klen, const uint8_t *val,
                           size_t vlen)
{
    kula_member m;
    (void)p;
    if (klen != 5)
        return NULL;
    m.id = kula_get_be32(key + 1);
    return kula_member_decode(&m, val, vlen) == 0 ? kula_member_to_json(&m) : NULL;
}

/* The members in id order: at most limit after the member `after`. */
static int m_members(call *c)
{
    uint64_t limit, after;
    bool all;
    if (param_limit(c, &limit, &all) != 0 ||
        param_uint(c, "after", false, 0, UINT32_MAX, &after) != 0)
        return c->code;
    page p = { .limit = limit, .keep = member_item };
    uint8_t key[4];
    kula_put_be32(key, (uint32_t)after);
    return list_page(c, &p, KULA_KEY_MEMBER, key, sizeof(key));
}

/* The observers the members admitted (LEDGER.md §6.4), ascending key: an
 * array of {pubkey, name, admitted (height)}. */
static int m_observers(call *c)
{
    kula_observers *os = malloc(sizeof(*os));
    if (os == NULL)
        return fail(c, RPC_INTERNAL, "out of memory");
    int rc = kula_ledger_observers(kula_chain_ledger(c->r->env->chain), os);
    if (rc != 0) {
        free(os);
        return fail(c, rc, "cannot read the observers from the ledger");
    }
    json_t *list = json_array();
    for (uint32_t i = 0; list != NULL && i < os->n; i++) {
        char hex[2 * KULA_PUBKEY_LEN + 1];
        kula_hex_encode(hex, os->v[i].pubkey.b, KULA_PUBKEY_LEN);
        json_array_append_new(list, json_pack("{s:s, s:s, s:I}", "pubkey", hex, "name",
                                              os->v[i].name, "admitted",
                                              (json_int_t)os->v[i].admitted));
    }
    free(os);
    c->result = list;
    return list != NULL ? 0 : fail(c, RPC_INTERNAL, "out of memory");
}

static int m_member(call *c)
{
    kula_member m;
    if (param_member(c, "member", &m) != 0)
        return c->code;
    c->result = kula_member_to_json(&m);
    /* the nonce a wallet signs its next transaction with: after the pending
     * ones, so that several can be sent without waiting */
    json_object_set_new(c->result, "next_nonce",
                        json_integer((json_int_t)kula_mempool_next_nonce(
                            c->r->env->mempool, kula_chain_ledger(c->r->env->chain), m.id)));
    /* LEDGER §9.6: whether its remainder is paid from credit at clearings */
    uint64_t since;
    if (kula_ledger_settles(kula_chain_ledger(c->r->env->chain), m.id, &since) == 0)
        json_object_set_new(c->result, "settles_at_clearing",
                            since != 0 ? json_pack("{s:I}", "since", (json_int_t)since)
                                       : json_null());
    kula_valset vs;
    if (kula_ledger_valset(kula_chain_ledger(c->r->env->chain), KULA_VALSET_NEXT, &vs) == 0) {
        bool val = false;
        for (uint32_t i = 0; i < vs.n; i++)
            val = val || vs.v[i].id == m.id;
        json_object_set_new(c->result, "validator", json_boolean(val));
    }
    return 0;
}

static int m_balance(call *c)
{
    kula_member m;
    if (param_member(c, "member", &m) != 0)
        return c->code;
    /* available = balance + credit limit: how much the member may still pay */
    c->result = json_pack("{s:I, s:s, s:I, s:I, s:I}", "member", (json_int_t)m.id, "name", m.name,
                          "balance", (json_int_t)m.balance, "credit_limit",
                          (json_int_t)m.credit_limit, "available",
                          (json_int_t)(m.balance + m.credit_limit));
    return 0;
}

typedef struct hist {
    call *c;
    json_t *out;
    uint64_t limit;
    bool more;           /* an entry is left after the page */
    uint64_t last_height; /* the page's last entry */
    uint32_t last_index;
} hist;

/* A payment of a clearing's settlement (proto/LEDGER.md §9.6) as a history
 * entry: no transaction, so no "id" nor "tx"; its words as in a statement
 * (node/audit/statement.c). */
static json_t *payment_json(call *c, const kula_history_entry *en)
{
    kula_invoice v;
    bool known = kula_ledger_invoice(kula_chain_ledger(c->r->env->chain), &en->id, &v) == 0;
    char id8[9], words[160];
    kula_hex_encode(id8, en->id.b, 4);
    snprintf(words, sizeof(words), "clearing %llu: invoice %s (%s) paid from credit",
             (unsigned long long)en->clearing, known ? v.reference : "?", id8);
    return json_pack("{s:I, s:I, s:s, s:I, s:o, s:s, s:I, s:I, s:I, s:s}", "height",
                     (json_int_t)en->height, "index", (json_int_t)en->index, "kind",
                     "clearing-settlement", "clearing", (json_int_t)en->clearing, "invoice",
                     kula_json_hex(en->id.b, KULA_HASH_LEN), "reference",
                     known ? v.reference : "", "from", (json_int_t)en->debtor, "to",
                     (json_int_t)en->creditor, "amount", (json_int_t)en->amount,
                     "description", words);
}

/* One entry of a history page, or the end of the page: when it is full, or
 * when the entry's block or JSON would go over the body's limits (a page
 * ends early rather than fail; "next" continues it). */
static int add_history(void *ctx, const kula_history_entry *en)
{
    hist *h = ctx;
    call *c = h->c;
    uint64_t height = en->height;
    uint32_t index = en->index;
    size_t n = json_array_size(h->out);
    if (n == h->limit) {
        h->more = true;
        return 1;
    }
    json_t *e = en->payment ? payment_json(c, en)
                            : json_pack("{s:I, s:I, s:o}", "height", (json_int_t)height, "index",
                                        (json_int_t)index, "id",
                                        kula_json_hex(en->id.b, KULA_HASH_LEN));
    if (e == NULL)
        return fail(c, RPC_INTERNAL, "out of memory");
    const kula_block *blk;
    int rc = read_block(c, height, n > 0, &blk, NULL);
    if (rc == KULA_ETOOBIG && n > 0 && c->code == 0) {
        json_decref(e); /* its block is more than the body can still afford */
        h->more = true;
        return 1;
    }
    if (rc == KULA_ETOOBIG && c->code != 0) {
        json_decref(e);
        return rc;
    }
    if (rc == 0) {
        kula_tx tx;
        if (!en->payment && index < blk->ntxs &&
            kula_tx_decode(&tx, blk->txs[index], blk->tx_lens[index]) == 0)
            json_object_set_new(e, "tx", kula_tx_to_json(&tx));
        json_object_set_new(e, "time_ms", json_integer((json_int_t)blk->header.time_ms));
    }
    size_t size = json_size(e, NULL, 0);
    if (n > 0 && !item_fits(c, size)) {
        json_decref(e);
        h->more = true;
        return 1;
    }
    if (add_item(c, h->out, e, size) != 0)
        return c->code;
    h->last_height = height;
    h->last_index = index;
    return 0;
}

/* A member's history, newest first: at most limit entries before
 * (before_height, before_index); "next" holds the before_height and
 * before_index of the next page, or null after the oldest entry. */
static int m_history(call *c)
{
    kula_member m;
    uint64_t limit = 0, before_h = 0, before_i = 0;
    bool all; /* never: history's default is 50 */
    if (param_member(c, "member", &m) != 0 || param_limit(c, &limit, &all) != 0 ||
        param_uint(c, "before_height", false, UINT64_MAX, UINT64_MAX, &before_h) != 0 ||
        param_uint(c, "before_index", false, UINT32_MAX, UINT32_MAX, &before_i) != 0)
        return c->code;
    hist h = { c, json_array(), limit, false, 0, 0 };
    if (h.out == NULL)
        return fail(c, RPC_INTERNAL, "out of memory");
    c->result = json_pack("{s:I, s:o}", "member", (json_int_t)m.id, "entries", h.out);
    if (c->result == NULL)
        return fail(c, RPC_INTERNAL, "out of memory");
    /* one entry more than the page, to know whether another page follows */
    int rc = kula_store_history(c->r->env->store, m.id, before_h, (uint32_t)before_i, limit + 1,
                                add_history, &h);
    if (rc < 0 && c->code != 0)
        return c->code;
    if (rc < 0)
        return fail_kula(c, rc, "history");
    json_t *next = json_null();
    if (h.more && json_array_size(h.out) > 0)
        next = json_pack("{s:I, s:I}", "before_height", (json_int_t)h.last_height,
                         "before_index", (json_int_t)h.last_index);
    else if (h.more) /* limit 0: the same place again */
        next = json_object_get(c->params, "before_height") != NULL
                   ? json_pack("{s:I, s:I}", "before_height", (json_int_t)before_h,
                               "before_index", (json_int_t)before_i)
                   : json_object();
    json_object_set_new(c->result, "next", next);
    return 0;
}

static json_t *agreement_json(const kula_agreement *a)
{
    int64_t shares[KULA_MAX_PARTIES];
    bool have = a->pool > 0 && kula_ledger_distribution(a, a->pool, shares) == 0;
    return kula_agreement_to_json(a, have ? shares : NULL);
}

static json_t *agreement_item(page *p, const uint8_t *key, size_t klen, const uint8_t *val,
                              size_t vlen)
{
    kula_agreement a;
    if (klen != 1 + KULA_HASH_LEN)
        return NULL;
    memcpy(a.id.b, key + 1, KULA_HASH_LEN);
    if (kula_agreement_decode(&a, val, vlen) != 0)
        return NULL;
    if (p->member != 0 && kula_agreement_party(&a, p->member) < 0)
        return NULL;
    return agreement_json(&a);
}

/* A page of the records under prefix (agreements, referrals) in id order:
 * all, or those of `member`; at most limit after the id `after`. */
static int member_list(call *c, page *p, uint8_t prefix, const char *what)
{
    kula_hash after;
    bool have_after, all;
    if (param_limit(c, &p->limit, &all) != 0 ||
        param_opt_hash(c, "after", &after, &have_after) != 0)
        return c->code;
    if (json_object_get(c->params, "member") != NULL) {
        kula_member m;
        if (param_member(c, "member", &m) != 0)
            return c->code;
        p->member = m.id;
    }
    if (list_page(c, p, prefix, have_after ? after.b : NULL, KULA_HASH_LEN) != 0 &&
        p->member != 0 && p->skipped >= SCAN_UNIT) {
        /* the work went into skipping other members' records */
        snprintf(c->msg + strlen(c->msg), sizeof(c->msg) - strlen(c->msg),
                 "; %llu %s of others were skipped: list them without 'member' (in "
                 "pages) and filter",
                 (unsigned long long)p->skipped, what);
    }
    return c->code;
}

/* The agreements (all, or those `member` is a party to). */
static int m_agreements(call *c)
{
    page p = { .keep = agreement_item };
    return member_list(c, &p, KULA_KEY_AGREEMENT, "agreements");
}

static int m_agreement(call *c)
{
    kula_hash id;
    if (param_hash(c, "id", &id) != 0)
        return c->code;
    kula_agreement a;
    int rc = kula_ledger_agreement(kula_chain_ledger(c->r->env->chain), &id, &a);
    if (rc != 0)
        return fail_kula(c, rc, NULL);
    c->result = agreement_json(&a);
    return 0;
}

static json_t *proposal_item(page *p, const uint8_t *key, size_t klen, const uint8_t *val,
                             size_t vlen)
{
    kula_proposal q;
    (void)p;
    if (klen != 1 + KULA_HASH_LEN)
        return NULL;
    memcpy(q.id.b, key + 1, KULA_HASH_LEN);
    return kula_proposal_decode(&q, val, vlen) == 0 ? kula_proposal_to_json(&q) : NULL;
}

/* The proposals in id order: at most limit after the proposal `after`. */
static int m_proposals(call *c)
{
    page p = { .keep = proposal_item };
    kula_hash after;
    bool have_after, all;
    if (param_limit(c, &p.limit, &all) != 0 ||
        param_opt_hash(c, "after", &after, &have_after) != 0)
        return c->code;
    return list_page(c, &p, KULA_KEY_PROPOSAL, have_after ? after.b : NULL, KULA_HASH_LEN);
}

/* A vote: "V" || proposal id || be32(member) -> [approve]. */
static json_t *vote_item(page *p, const uint8_t *key, size_t klen, const uint8_t *val,
                         size_t vlen)
{
    (void)p;
    if (klen != 1 + KULA_HASH_LEN + 4)
        return NULL;
    kula_reader r;
    kula_reader_init(&r, val, vlen);
    kula_r_array_exact(&r, 1);
    bool approve = kula_r_bool(&r);
    if (kula_reader_finish(&r) != 0)
        return NULL;
    return json_pack("{s:I, s:b}", "member", (json_int_t)kula_get_be32(key + 1 + KULA_HASH_LEN),
                     "approve", (int)approve);
}

/* A proposal with its votes in member order: at most limit after the
 * member `after`; "next" holds the "after" of the next page, or null. */
static int m_proposal(call *c)
{
    kula_hash id;
    uint64_t limit, after;
    bool all;
    if (param_hash(c, "id", &id) != 0 || param_limit(c, &limit, &all) != 0 ||
        param_uint(c, "after", false, 0, UINT32_MAX, &after) != 0)
        return c->code;
    kula_proposal q;
    int rc = kula_ledger_proposal(kula_chain_ledger(c->r->env->chain), &id, &q);
    if (rc != 0)
        return fail_kula(c, rc, NULL);
    c->result = kula_proposal_to_json(&q);
    /* what decides it now (proto/LEDGER.md §6.2): the active members and
     * the threshold, as the ledger counts them after every vote */
    kula_globals g;
    kula_params prm;
    kula_ledger *l = kula_chain_ledger(c->r->env->chain);
    if (c->result != NULL && kula_ledger_globals(l, &g) == 0 && kula_ledger_params(l, &prm) == 0)
        json_object_set_new(c->result, "decision",
                            json_pack("{s:I, s:I, s:I}", "active_members",
                                      (json_int_t)g.active_members, "threshold_num",
                                      (json_int_t)prm.threshold_num, "threshold_den",
                                      (json_int_t)prm.threshold_den));
    json_t *votes = json_array();
    if (c->result == NULL || votes == NULL) {
        json_decref(votes);
        return fail(c, RPC_INTERNAL, "out of memory");
    }
    json_object_set_new(c->result, "votes", votes);
    /* every vote under "V" || proposal id, one more than the page */
    page p = { .c = c, .out = votes, .limit = all ? limit : limit + 1, .keep = vote_item };
    uint8_t prefix[1 + KULA_HASH_LEN], start[1 + KULA_HASH_LEN + 4];
    prefix[0] = KULA_KEY_VOTE;
    memcpy(prefix + 1, id.b, KULA_HASH_LEN);
    memcpy(start, prefix, sizeof(prefix));
    kula_put_be32(start + sizeof(prefix), (uint32_t)after);
    rc = kula_store_state_scan_after(c->r->env->store, prefix, sizeof(prefix), start,
                                     sizeof(start), page_record, &p);
    if (rc < 0 && c->code != 0)
        return c->code;
    if (rc < 0)
        return fail_kula(c, rc, "votes");
    json_t *next = json_null();
    if (!all && json_array_size(votes) > limit) {
        /* the extra vote shows that another page follows: drop it */
        c->list_items--;
        c->list_bytes -= json_size(json_array_get(votes, limit), NULL, 0);
        json_array_remove(votes, limit);
        next = limit > 0 ? json_pack("{s:O}", "after",
                                     json_object_get(json_array_get(votes, limit - 1), "member"))
                         : json_pack("{s:I}", "after", (json_int_t)after);
    }
    json_object_set_new(c->result, "next", next);
    return 0;
}

/* An open referral (converted ones are deleted). */
static json_t *referral_item(page *p, const uint8_t *key, size_t klen, const uint8_t *val,
                             size_t vlen)
{
    kula_referral x;
    if (klen != 1 + KULA_HASH_LEN)
        return NULL;
    memcpy(x.id.b, key + 1, KULA_HASH_LEN);
    if (kula_referral_decode(&x, val, vlen) != 0)
        return NULL;
    if (p->member != 0 && x.referrer != p->member && x.receiver != p->member)
        return NULL;
    return json_pack("{s:o, s:I, s:I, s:I, s:o, s:I}", "id",
                     kula_json_hex(x.id.b, KULA_HASH_LEN), "referrer", (json_int_t)x.referrer,
                     "receiver", (json_int_t)x.receiver, "fee", (json_int_t)x.fee, "agreement",
                     x.has_agreement ? kula_json_hex(x.agreement.b, KULA_HASH_LEN) : json_null(),
                     "height", (json_int_t)x.height);
}

/* The open referrals (all, or those `member` made or received). */
static int m_referrals(call *c)
{
    page p = { .keep = referral_item };
    return member_list(c, &p, KULA_KEY_REFERRAL, "referrals");
}

/* An invoice, of `member` (as issuer or debtor) if one is asked for. */
static json_t *invoice_item(page *p, const uint8_t *key, size_t klen, const uint8_t *val,
                            size_t vlen)
{
    kula_invoice v;
    if (klen != 1 + KULA_HASH_LEN)
        return NULL;
    memcpy(v.id.b, key + 1, KULA_HASH_LEN);
    if (kula_invoice_decode(&v, val, vlen) != 0)
        return NULL;
    if (p->member != 0 && v.issuer != p->member && v.debtor != p->member)
        return NULL;
    if (p->open_only && (v.status == KULA_INVOICE_PAID || v.status == KULA_INVOICE_CANCELLED))
        return NULL;
    return kula_invoice_to_json(&v);
}

/* The invoices (all, or those `member` issued or owes; with open, only
 * those neither paid nor cancelled), in id order. */
static int m_invoices(call *c)
{
    page p = { .keep = invoice_item };
    json_t *open = json_object_get(c->params, "open");
    if (open != NULL && !json_is_boolean(open))
        return fail(c, RPC_INVALID_PARAMS, "'open' must be true or false");
    p.open_only = json_is_true(open);
    return member_list(c, &p, KULA_KEY_INVOICE, "invoices");
}

static int m_invoice(call *c)
{
    kula_hash id;
    if (param_hash(c, "id", &id) != 0)
        return c->code;
    kula_invoice v;
    int rc = kula_ledger_invoice(kula_chain_ledger(c->r->env->chain), &id, &v);
    if (rc != 0)
        return fail_kula(c, rc, NULL);
    c->result = kula_invoice_to_json(&v);
    return c->result != NULL ? 0 : fail(c, RPC_INTERNAL, "out of memory");
}

/* ---- clearing: a clearing of the ledger (proto/LEDGER.md §9) ---- */

/* A sum of minor units: an integer when it fits JSON's, else its digits. */
static json_t *sum_json(kula_clearing_sum v)
{
    if (v <= (kula_clearing_sum)INT64_MAX)
        return json_integer((json_int_t)v);
    char d[40], *p = d + sizeof(d) - 1;
    *p = '\0';
    do {
        *--p = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v != 0);
    return json_string(p);
}

/* What one member of a clearing was owed and owed others, before and after. */
typedef struct clearing_member {
    uint32_t id;
    kula_clearing_sum owed, owing, owed_after, owing_after;
} clearing_member;

static int by_member(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static int by_settlement_order(const void *key, const void *elem)
{
    const kula_clearing_item *it = key;
    const kula_settlement_item *z = elem;
    if (it->debtor != z->debtor)
        return it->debtor < z->debtor ? -1 : 1;
    return memcmp(it->id.b, z->id.b, KULA_HASH_LEN);
}

/* What the clearing's settlement (LEDGER §9.6) paid of obligation it: its
 * payments ascend by debtor, then id. */
static int64_t settled_of(const kula_settlement *z, const kula_clearing_item *it)
{
    const kula_settlement_item *p =
        z->n > 0 ? bsearch(it, z->items, z->n, sizeof(*z->items), by_settlement_order) : NULL;
    return p != NULL ? p->amount : 0;
}

/* The members of c, ascending by id, with their totals; "after" is after
 * the set-off and the settlement z.
 * Returns: the array (*n entries), or NULL (out of memory or work: c's error set). */
static json_t *clearing_members(call *c, const kula_clearing *k, const kula_settlement *z)
{
    size_t n = 2u * (size_t)k->nitems;
    if (spend(c, 1 + n / SCAN_UNIT) != 0)
        return NULL;
    uint32_t *ids = malloc((n + 1) * sizeof(*ids));
    clearing_member *m = malloc((n + 1) * sizeof(*m));
    json_t *out = json_array();
    if (ids == NULL || m == NULL || out == NULL)
        goto oom;
    for (uint32_t i = 0; i < k->nitems; i++) {
        ids[2 * i] = k->items[i].debtor;
        ids[2 * i + 1] = k->items[i].creditor;
    }
    qsort(ids, n, sizeof(*ids), by_member);
    size_t nm = 0;
    for (size_t i = 0; i < n; i++)
        if (nm == 0 || m[nm - 1].id != ids[i])
            m[nm++] = (clearing_member){ .id = ids[i] };
    for (uint32_t i = 0; i < k->nitems; i++) {
        const kula_clearing_item *it = &k->items[i];
        clearing_member *d = bsearch(&it->debtor, m, nm, sizeof(*m), by_member);
        clearing_member *r = bsearch(&it->creditor, m, nm, sizeof(*m), by_member);
        int64_t after = it->before - it->setoff - settled_of(z, it);
        d->owing += (kula_clearing_sum)it->before;
        d->owing_after += (kula_clearing_sum)after;
        r->owed += (kula_clearing_sum)it->before;
        r->owed_after += (kula_clearing_sum)after;
    }
    for (size_t i = 0; i < nm; i++) {
        json_t *x = json_pack("{s:I, s:o, s:o, s:o, s:o}", "member", (json_int_t)m[i].id, "owed",
                              sum_json(m[i].owed), "owing", sum_json(m[i].owing), "owed_after",
                              sum_json(m[i].owed_after), "owing_after",
                              sum_json(m[i].owing_after));
        if (x == NULL || json_array_append_new(out, x) != 0)
            goto oom;
    }
    free(ids);
    free(m);
    return out;
oom:
    free(ids);
    free(m);
    json_decref(out);
    fail(c, RPC_INTERNAL, "out of memory");
    return NULL;
}

/* {number (default the last), limit, from} -> the clearing: its totals,
 * what its settlement paid from credit (LEDGER §9.6), each member's
 * position before and after, and its obligations from the index "from" on,
 * each with its set-off and what was paid of it. */
static int m_clearing(call *c)
{
    kula_ledger *l = kula_chain_ledger(c->r->env->chain);
    uint64_t last, number, from, limit;
    bool all;
    int rc = kula_ledger_clearings(l, &last);
    if (rc != 0)
        return fail_kula(c, rc, "clearings");
    if (param_uint(c, "number", false, last, UINT64_MAX >> 1, &number) != 0 ||
        param_uint(c, "from", false, 0, UINT32_MAX, &from) != 0 || param_limit(c, &limit, &all) != 0)
        return c->code;
    if (last == 0)
        return fail(c, KULA_ENOTFOUND, "there has been no clearing yet: a passed 'clear' "
                                       "proposal or the clearing_interval_blocks parameter runs one");
    if (number == 0 || number > last)
        return fail(c, KULA_ENOTFOUND, "there is no clearing number %llu: the clearings are "
                                       "numbered 1 to %llu",
                    (unsigned long long)number, (unsigned long long)last);
    kula_clearing k;
    rc = kula_ledger_clearing(l, number, &k);
    if (rc != 0)
        return fail_kula(c, rc, "clearing");
    kula_settlement z = { 0 };
    rc = kula_ledger_settlement(l, number, &z);
    if (rc != 0 && rc != KULA_ENOTFOUND) {
        kula_clearing_free(&k);
        return fail_kula(c, rc, "settlement");
    }
    kula_clearing_sum settled = 0;
    for (uint32_t j = 0; j < z.n; j++)
        settled += (kula_clearing_sum)z.items[j].amount;
    json_t *obs = json_array();
    c->result = json_pack("{s:I, s:I, s:o, s:o, s:o, s:o, s:I, s:o, s:I}", "number",
                          (json_int_t)number, "height", (json_int_t)k.height, "total_debt",
                          sum_json(k.total_debt), "cleared", sum_json(k.cleared), "remaining",
                          sum_json(k.remaining), "settled", sum_json(settled), "payments_count",
                          (json_int_t)z.n, "still_owed", sum_json(k.remaining - settled),
                          "obligations_count", (json_int_t)k.nitems);
    json_t *members = c->result != NULL && obs != NULL ? clearing_members(c, &k, &z) : NULL;
    if (members == NULL) {
        json_decref(obs);
        kula_clearing_free(&k);
        kula_settlement_free(&z);
        return c->result == NULL || obs == NULL ? fail(c, RPC_INTERNAL, "out of memory")
                                                : c->code;
    }
    json_object_set_new(c->result, "members", members);
    json_object_set_new(c->result, "obligations", obs);
    uint64_t i = from;
    for (; i < k.nitems && (all || i - from < limit); i++) {
        const kula_clearing_item *it = &k.items[i];
        int64_t paid = settled_of(&z, it);
        json_t *x = json_pack("{s:o, s:I, s:I, s:I, s:I, s:I, s:I}", "id",
                              kula_json_hex(it->id.b, KULA_HASH_LEN), "debtor",
                              (json_int_t)it->debtor, "creditor", (json_int_t)it->creditor,
                              "before", (json_int_t)it->before, "setoff", (json_int_t)it->setoff,
                              "settled", (json_int_t)paid, "after",
                              (json_int_t)(it->before - it->setoff - paid));
        if (add_item(c, obs, x, SIZE_MAX) != 0) {
            kula_clearing_free(&k);
            kula_settlement_free(&z);
            return c->code;
        }
    }
    json_object_set_new(c->result, "next", i < k.nitems ? json_pack("{s:I, s:I}", "number",
                                                                  (json_int_t)number, "from",
                                                                  (json_int_t)i)
                                                        : json_null());
    kula_clearing_free(&k);
    kula_settlement_free(&z);
    return 0;
}

/* resolve: the records of a kind whose id starts with a hex prefix. */
#define RESOLVE_MAX 8u /* candidates listed for an ambiguous prefix */

static const struct {
    const char *kind;
    uint8_t key; /* of the state's records; 0: transactions (resolve_tx) */
} resolvable[] = {
    { "tx", 0 },
    { "agreement", KULA_KEY_AGREEMENT },
    { "proposal", KULA_KEY_PROPOSAL },
    { "referral", KULA_KEY_REFERRAL },
    { "invoice", KULA_KEY_INVOICE },
};

typedef struct resolve_scan {
    call *c;
    json_t *ids;
    uint8_t prefix[KULA_HASH_LEN]; /* the whole bytes of the prefix */
    int odd_nibble;  /* the last digit of an odd prefix, else -1 */
    size_t at;       /* its byte in the id; also how many whole bytes */
    uint64_t skipped;
    bool more;
} resolve_scan;

/* Takes id when it starts with the prefix and is not taken yet; past
 * RESOLVE_MAX ids, only notes that there are more.
 * Returns: 0 (go on), 1 (enough: stop), -1 (out of memory or work). */
static int resolve_take(resolve_scan *s, const uint8_t *id)
{
    if (memcmp(id, s->prefix, s->at) != 0 ||
        (s->odd_nibble >= 0 && (id[s->at] >> 4) != s->odd_nibble)) {
        if (++s->skipped % SCAN_UNIT == 0 && spend(s->c, 1) != 0)
            return -1;
        return 0;
    }
    char hex[2 * KULA_HASH_LEN + 1];
    kula_hex_encode(hex, id, KULA_HASH_LEN);
    size_t i;
    json_t *x;
    json_array_foreach(s->ids, i, x)
        if (strcmp(json_string_value(x), hex) == 0)
            return 0; /* committed and still remembered as refused earlier */
    if (json_array_size(s->ids) >= RESOLVE_MAX) {
        s->more = true;
        return 1;
    }
    return json_array_append_new(s->ids, json_string(hex)) != 0 ? -1 : 0;
}

static int resolve_record(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val,
                          size_t vlen)
{
    resolve_scan *s = ctx;
    (void)val;
    (void)vlen;
    if (klen != 1 + KULA_HASH_LEN)
        return 0;
    if (s->odd_nibble >= 0 && (key[1 + s->at] >> 4) > s->odd_nibble)
        return 1; /* keys are in order: none further matches */
    return resolve_take(s, key + 1);
}

static int resolve_committed(void *ctx, const kula_hash *id, uint64_t height, uint32_t index)
{
    resolve_scan *s = ctx;
    (void)height;
    (void)index;
    if (s->odd_nibble >= 0 && (id->b[s->at] >> 4) > s->odd_nibble)
        return 1; /* ids are in order: none further matches */
    return resolve_take(s, id->b);
}

/* A pending transaction's id is hashed from its bytes: a unit of work per
 * SCAN_UNIT of them, as for the records skipped (resolve_take). */
static bool resolve_pending(void *ctx, const uint8_t *bytes, size_t len)
{
    resolve_scan *s = ctx;
    kula_tx tx;
    return kula_tx_decode(&tx, bytes, len) != 0 || resolve_take(s, tx.id.b) == 0;
}

/* The transactions under the prefix: committed (the store's index), then
 * pending, then refused of late (what kula_jsonrpc_note_rejected keeps),
 * as m_tx finds them. */
static int resolve_tx(call *c, resolve_scan *s)
{
    kula_jsonrpc *r = c->r;
    int rc = kula_store_tx_scan(r->env->store, s->prefix, s->at, resolve_committed, s);
    if (rc < 0)
        return rc;
    if (!s->more && r->env->mempool != NULL) {
        uint64_t cursor = 0;
        kula_mempool_walk(r->env->mempool, &cursor, resolve_pending, s);
        if (c->code != 0)
            return -1; /* over the work limit */
    }
    for (size_t i = 0; !s->more && i < r->nrejected; i++)
        if (resolve_take(s, r->rejected[i].id.b) < 0)
            return -1;
    return 0;
}

/* {kind, prefix} -> {"ids": the ids of at most RESOLVE_MAX records of kind
 * (or transactions) whose id starts with prefix (4 to 64 hex digits),
 * "more": whether there are others}.  Reads only the keys under the prefix
 * (and, for transactions, the pending ones). */
static int m_resolve(call *c)
{
    const char *kind = json_string_value(json_object_get(c->params, "kind"));
    const char *hex = json_string_value(json_object_get(c->params, "prefix"));
    uint8_t prefix[1 + KULA_HASH_LEN];
    size_t k = 0;
    for (; kind != NULL && k < sizeof(resolvable) / sizeof(resolvable[0]); k++)
        if (strcmp(resolvable[k].kind, kind) == 0)
            break;
    if (kind == NULL || k == sizeof(resolvable) / sizeof(resolvable[0]))
        return fail(c, RPC_INVALID_PARAMS,
                    "'kind' must be agreement, proposal, referral, invoice or tx");
    size_t n = hex != NULL ? strlen(hex) : 0;
    bool ok = n >= 4 && n <= 2 * KULA_HASH_LEN;
    for (size_t i = 0; ok && i < n; i++)
        ok = isxdigit((unsigned char)hex[i]) != 0;
    if (!ok)
        return fail(c, RPC_INVALID_PARAMS, "'prefix' must be 4 to 64 hex digits");
    prefix[0] = resolvable[k].key;
    char two[3] = { 0 };
    for (size_t i = 0; i < n / 2; i++) {
        memcpy(two, hex + 2 * i, 2);
        prefix[1 + i] = (uint8_t)strtoul(two, NULL, 16);
    }
    resolve_scan s = { .c = c, .ids = json_array(), .odd_nibble = -1, .at = n / 2 };
    memcpy(s.prefix, prefix + 1, n / 2);
    if (n % 2 != 0) {
        two[0] = hex[n - 1];
        two[1] = '\0';
        s.odd_nibble = (int)strtoul(two, NULL, 16);
    }
    if (s.ids == NULL)
        return fail(c, RPC_INTERNAL, "out of memory");
    int rc = resolvable[k].key == 0
                 ? resolve_tx(c, &s)
                 : kula_store_state_scan(c->r->env->store, prefix, 1 + n / 2, resolve_record, &s);
    if (rc < 0) {
        json_decref(s.ids);
        return c->code != 0 ? c->code : fail_kula(c, rc, "resolve");
    }
    c->result = json_pack("{s:o, s:b}", "ids", s.ids, "more", (int)s.more);
    return c->result != NULL ? 0 : fail(c, RPC_INTERNAL, "out of memory");
}

static int m_peers(call *c)
{
    c->result = json_array();
    kula_p2p *p = c->r->env->p2p;
    if (p == NULL)
        return 0;
    kula_net_peer_info *info = malloc(KULA_RPC_MAX_PEERS * sizeof(*info));
    if (info == NULL)
        return fail(c, RPC_INTERNAL, "out of memory");
    size_t n = kula_net_peers(kula_p2p_net(p), info, KULA_RPC_MAX_PEERS);
    for (size_t i = 0; i < n; i++) {
        const kula_net_peer_info *x = &info[i];
        json_t *o = json_pack("{s:I, s:s, s:s, s:b, s:I, s:i, s:I, s:I, s:I, s:I, s:I}", "id",
                              (json_int_t)x->id, "addr", x->addr, "direction",
                              x->outbound ? "outbound" : "inbound", "established",
                              x->established, "height", (json_int_t)x->height, "score", x->score,
                              "bytes_in", (json_int_t)x->bytes_in, "bytes_out",
                              (json_int_t)x->bytes_out, "msgs_in", (json_int_t)x->msgs_in,
                              "msgs_out", (json_int_t)x->msgs_out, "queued",
                              (json_int_t)x->queued);
        if (o == NULL)
            continue;
        json_object_set_new(o, "key", x->established ? kula_json_hex(x->key.b, KULA_PUBKEY_LEN)
                                                     : json_null());
        json_array_append_new(c->result, o);
    }
    free(info);
    return 0;
}

/* {key: a wallet key's name} -> a one-time login token for the web wallet
 * (web.h), which `kula web` puts in the fragment of the URL it prints. */
static int m_web_login(call *c)
{
    const char *key = json_string_value(json_object_get(c->params, "key"));
    if (key == NULL)
        return fail(c, RPC_INVALID_PARAMS, "key: the name of a key of the node's wallet "
                                           "(DATADIR/wallet), as a string");
    if (c->r->web == NULL)
        return fail(c, KULA_ENOTFOUND, "this node serves no web wallet");
    char token[KULA_WEB_TOKEN_HEX + 1];
    kula_error e;
    int rc = kula_web_login_token(c->r->web, key, token, &e);
    if (rc != 0)
        return fail(c, rc, "%s", e.what);
    c->result = json_pack("{s:s, s:s, s:i}", "token", token, "path", "/login", "expires_in_s",
                          (int)(KULA_WEB_LOGIN_TTL_MS / 1000u));
    return c->result != NULL ? 0 : fail(c, RPC_INTERNAL, "out of memory");
}

/* {file: a transaction file} -> {id, waiting}: the file is left with the
 * node for the members still to sign it (web.h, kula_web_sign_request). */
static int m_sign_request(call *c)
{
    if (c->r->web == NULL)
        return fail(c, KULA_ENOTFOUND, "this node serves no web wallet: its members cannot "
                                       "sign there; hand them the file instead");
    uint32_t waiting;
    kula_error e;
    int rc = kula_web_sign_request(c->r->web, c->params, &waiting, &e);
    if (rc != 0)
        return fail(c, rc, "%s", e.what);
    c->result = json_pack("{s:i}", "waiting", (int)waiting);
    return c->result != NULL ? 0 : fail(c, RPC_INTERNAL, "out of memory");
}

/* {} -> the audit job (audit_job.h), started now unless one runs; "started"
 * says whether this request started it. */
static int m_audit(call *c)
{
    bool started;
    kula_error e;
    int rc = kula_job_start(c->r->audit, NULL, 0, &started, &e);
    if (rc != 0)
        return fail(c, rc, "%s", e.what);
    c->result = kula_job_status(c->r->audit);
    if (c->result == NULL)
        return fail(c, RPC_INTERNAL, "out of memory");
    json_object_set_new(c->result, "started", json_boolean(started));
    return 0;
}

/* {} -> the audit job: its progress, or its result and figures. */
static int m_audit_status(call *c)
{
    c->result = kula_job_status(c->r->audit);
    return c->result != NULL ? 0 : fail(c, RPC_INTERNAL, "out of memory");
}

/* The method table (struct rpc_method).  A list's "less" names its cursor. */
static const rpc_method methods[] = {
    { "status", m_status, "", ASKS_ONE, 0, NULL },
    { "genesis", m_genesis, "", ASKS_ONE, 0, NULL },
    { "submit", m_submit, "tx: hex of a signed transaction", ASKS_SIZE, 0, NULL },
    { "check", m_check,
      "tx: hex of a transaction, its signatures complete or not: would it be admitted now?",
      ASKS_SIZE, 0, NULL },
    { "tx", m_tx, "id", ASKS_ONE, 0, NULL },
    { "block", m_block,
      "height (default: tip), raw: bool, ids: bool (each transaction's id only), limit "
      "(transactions, <= 1000, default all), from (the first transaction's index)",
      ASKS_ONE, LIST_MAX, "from (its \"next\"; raw only for blocks of less than half the limit)" },
    { "members", m_members, "limit (<= 1000, default all), after (a member id)", ASKS_LIMIT,
      LIST_MAX, "after (the last member's id)" },
    { "member", m_member, "member: id, name or public key", ASKS_ONE, 0, NULL },
    { "observers", m_observers, "", ASKS_ONE, 0, NULL },
    { "balance", m_balance, "member", ASKS_ONE, 0, NULL },
    { "history", m_history,
      "member, limit (<= 1000, default 50), before_height, before_index (from \"next\")",
      ASKS_LIMIT, 50, "before_height and before_index (its \"next\")" },
    { "agreements", m_agreements,
      "member (optional), limit (<= 1000, default all), after (an agreement id)", ASKS_LIMIT,
      LIST_MAX, "after (the last agreement's id)" },
    { "agreement", m_agreement, "id", ASKS_ONE, 0, NULL },
    { "proposals", m_proposals, "limit (<= 1000, default all), after (a proposal id)",
      ASKS_LIMIT, LIST_MAX, "after (the last proposal's id)" },
    { "proposal", m_proposal,
      "id, limit (votes, <= 1000, default all), after (a member id, from \"next\")", ASKS_LIMIT,
      LIST_MAX, "after (its \"next\")" },
    { "referrals", m_referrals,
      "member (optional: referrer or receiver), limit (<= 1000, default all), after (a "
      "referral id)",
      ASKS_LIMIT, LIST_MAX, "after (the last referral's id)" },
    { "resolve", m_resolve,
      "kind (agreement, proposal, referral, invoice or tx), prefix (4 to 64 hex digits of an "
      "id): at most 8 ids that start with it, and \"more\"",
      ASKS_ONE, 0, NULL },
    { "invoices", m_invoices,
      "member (optional: issuer or debtor), open (optional: true for those neither paid nor "
      "cancelled), limit (<= 1000, default all), after (an invoice id)",
      ASKS_LIMIT, LIST_MAX, "after (the last invoice's id)" },
    { "invoice", m_invoice, "id", ASKS_ONE, 0, NULL },
    { "clearing", m_clearing,
      "number (default the last clearing), limit (obligations, <= 1000, default all), from (the "
      "first obligation's index)",
      ASKS_LIMIT, LIST_MAX, "from (its \"next\")" },
    { "peers", m_peers, "", ASKS_ONE, 0, NULL },
    { "web_login", m_web_login,
      "key: a key of the node's wallet: a one-time login token for the web wallet (60 s)",
      ASKS_ONE, 0, NULL },
    { "sign_request", m_sign_request,
      "file: a transaction file still lacking signatures, left with the node for the members "
      "still to sign it (web wallet, event \"signature\")",
      ASKS_SIZE, 0, NULL },
    { "ledger_state", m_ledger_state,
      "the tip's height and hash and the state root after it (what kula audit reports)",
      ASKS_ONE, 0, NULL },
    { "audit", m_audit,
      "starts the node's audit of its own chain from the genesis up to its tip now (what kula "
      "audit verifies, and kula report's figures), on a thread of its own; while one runs, "
      "answers with its progress (as audit_status)",
      ASKS_ONE, 0, NULL },
    { "audit_status", m_audit_status,
      "the audit's state (none, running, done), blocks verified of the tip it stops at; once "
      "done its result (tip hash and state root reached, or the height and check that failed) "
      "and the whole ledger's figures",
      ASKS_ONE, 0, NULL },
};

static const rpc_method *find_method(const char *name)
{
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (strcmp(methods[i].name, name) == 0)
            return &methods[i];
    return NULL;
}

/* The work a request asks for, before it runs: one unit, and for a list
 * one per entry its limit allows, for a submit its signatures and size. */
static uint64_t asked_work(const rpc_method *m, json_t *params)
{
    json_t *v = json_object_get(params, "limit");
    bool given = json_is_integer(v) && json_integer_value(v) >= 0 &&
                 json_integer_value(v) <= LIST_MAX;
    switch (m->asks) {
    case ASKS_ONE:
        return 1;
    case ASKS_LIMIT:
        return 1 + (given ? (uint64_t)json_integer_value(v) : m->limit);
    case ASKS_SIZE:
        return 1 + submit_units(params);
    }
    return 1;
}

/* ---- JSON-RPC framing ---- */

/* An error response for id (NULL: null), with the error's symbolic name in
 * data when code is a kula_err, and the members of extra (taken, may be
 * NULL). */
static json_t *error_response(json_t *id, int code, const char *msg, json_t *extra)
{
    json_t *err = json_pack("{s:i, s:s}", "code", code, "message", msg);
    if (code < 0 && code > -1000) {
        json_t *data = json_pack("{s:s}", "name", kula_errname(code));
        if (extra != NULL)
            json_object_update(data, extra);
        json_object_set_new(err, "data", data);
    }
    json_decref(extra);
    return json_pack("{s:s, s:o, s:O}", "jsonrpc", "2.0", "error", err,
                     "id", id != NULL ? id : json_null());
}

json_t *kula_jsonrpc_error(json_t *id, int code, const char *msg)
{
    return error_response(id, code, msg, NULL);
}

/* Counts a response into the body's, which always takes an error. */
static json_t *counted(kula_jsonrpc *r, json_t *resp)
{
    r->out += json_size(resp, NULL, 0) + 1;
    return resp;
}

/* JSON-RPC 2.0 §4: a request is an object with "jsonrpc": "2.0", a string
 * "method", "params" absent or structured (object or array), and "id"
 * absent (a notification), a string, a number or null. */
static bool valid_request(json_t *req)
{
    json_t *id = json_object_get(req, "id");
    json_t *ver = json_object_get(req, "jsonrpc");
    json_t *params = json_object_get(req, "params");
    return json_is_object(req) && json_is_string(ver) &&
           strcmp(json_string_value(ver), "2.0") == 0 &&
           json_is_string(json_object_get(req, "method")) &&
           (params == NULL || json_is_object(params) || json_is_array(params)) &&
           (id == NULL || json_is_string(id) || json_is_integer(id) || json_is_null(id));
}

/* Whether req is a submit admitted with its batch (presubmit): it is
 * answered from the mempool's verdict, never refused afterwards. */
static bool admitted(const kula_jsonrpc *r, const json_t *req)
{
    for (size_t i = 0; i < r->npre; i++)
        if (r->pre[i].req == req && r->pre[i].bytes != NULL)
            return true;
    return false;
}

/* Handles one request object.  Returns the response, or NULL for a
 * notification: JSON-RPC 2.0 §4.1, "The Server MUST NOT reply to a
 * Notification, including those that are within a batch request" -- not
 * even with an error. */
static json_t *handle_one(kula_jsonrpc *r, json_t *req)
{
    json_t *id = json_object_get(req, "id");
    if (!valid_request(req))
        return counted(r, kula_jsonrpc_error(json_is_string(id) || json_is_integer(id) ? id : NULL,
                                             RPC_INVALID_REQUEST, "invalid request"));
    bool notification = id == NULL;
    json_t *params = json_object_get(req, "params");
    const char *name = json_string_value(json_object_get(req, "method"));
    /* the method first: a method that does not exist is -32601 whatever
     * its parameters */
    const rpc_method *m = find_method(name);
    char msg[400];
    if (m == NULL) {
        if (notification)
            return NULL;
        snprintf(msg, sizeof(msg),
                 "method not found: '%.64s' (the methods are listed in README.md)", name);
        return counted(r, kula_jsonrpc_error(id, RPC_METHOD_NOT_FOUND, msg));
    }
    if (json_is_array(params) && json_array_size(params) > 0) {
        if (notification)
            return NULL;
        snprintf(msg, sizeof(msg),
                 "'%s' takes named parameters: params must be an object (such as "
                 "{\"member\": 1}), not an array",
                 m->name);
        return counted(r, kula_jsonrpc_error(id, RPC_INVALID_PARAMS, msg));
    }
    if (r->asked > kula_jsonrpc_work) {
        /* refused before any request of the body ran */
        if (notification)
            return NULL;
        snprintf(msg, sizeof(msg),
                 "this batch asks for %llu units of work, more than the %zu allowed for one "
                 "request or batch (a request is 1, a list 1 more per entry its limit allows, a "
                 "submit %u per signature and 1 per %u bytes): send fewer requests, or ask for "
                 "fewer entries",
                 (unsigned long long)r->asked, kula_jsonrpc_work, KULA_SUBMIT_SIG_UNITS,
                 KULA_SUBMIT_BYTES);
        return counted(r, error_response(id, KULA_ETOOBIG, msg,
                                         json_pack("{s:I, s:I}", "limit",
                                                   (json_int_t)kula_jsonrpc_work, "asked",
                                                   (json_int_t)r->asked)));
    }
    call c = { .r = r, .m = m, .req = req, .notification = notification };
    c.params = json_is_object(params) ? params : json_object();
    if (c.params == NULL) {
        fail(&c, RPC_INTERNAL, "out of memory");
    } else if (!admitted(r, req) && r->work >= kula_jsonrpc_work) {
        spend(&c, 1); /* what ran before it took the body's work */
    } else if (!admitted(r, req) && !notification && r->out >= kula_jsonrpc_max_response) {
        fail_response(&c, 0); /* what ran before it filled the response */
    } else {
        /* a unit for the request itself, within what the body asked for;
         * lists and reads count theirs as they go */
        r->work++;
        if (m->fn(&c) != 0 && c.code == 0)
            c.code = RPC_INTERNAL;
    }
    if (c.params != params)
        json_decref(c.params);
    if (notification) {
        json_decref(c.result);
        json_decref(c.data);
        return NULL;
    }
    if (c.code == 0 && c.result == NULL)
        fail(&c, RPC_INTERNAL, "out of memory");
    json_t *resp = NULL;
    if (c.code == 0) {
        /* the answer's size: a list counted by add_item, the rest now */
        size_t list_size = 2 + c.list_bytes + (c.list_items > 0 ? c.list_items - 1 : 0);
        size_t size = json_size(c.result, c.list, list_size);
        if (size > kula_jsonrpc_max_response || kula_jsonrpc_max_response - size < r->out) {
            json_decref(c.result);
            c.list_bytes = c.list_items = 0;
            fail_response(&c, size);
        } else {
            resp = json_pack("{s:s, s:o, s:O}", "jsonrpc", "2.0", "result", c.result, "id", id);
            r->out += size + 48; /* and the envelope */
            /* an answer's JSON outside its list (a large agreement, say) costs
             * a unit per KiB too, counted after the fact against the rest */
            r->work += (size - (c.list != NULL ? list_size : 0)) / UNIT_BYTES;
            if (resp == NULL)
                fail(&c, RPC_INTERNAL, "out of memory");
        }
    } else {
        json_decref(c.result);
    }
    if (resp == NULL)
        resp = counted(r, error_response(id, c.code, c.msg, c.data));
    return resp;
}

json_t *kula_jsonrpc_handle(kula_jsonrpc *r, const uint8_t *body, size_t len, unsigned *status)
{
    json_error_t jerr;
    json_t *req = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
    *status = 200;
    if (req == NULL) {
        *status = 400;
        return kula_jsonrpc_error(NULL, RPC_PARSE_ERROR, "parse error");
    }
    /* JSON-RPC 2.0 §6: a batch is an array "with at least one value",
     * else the answer is "a single Response object" */
    bool batch = json_is_array(req);
    size_t n = batch ? json_array_size(req) : 1;
    if (batch && (n == 0 || n > KULA_JSONRPC_MAX_BATCH)) {
        *status = 400;
        json_decref(req);
        return kula_jsonrpc_error(NULL, RPC_INVALID_REQUEST,
                                  n == 0 ? "invalid request: an empty batch"
                                         : "invalid request: a batch holds 1 to 1000 requests");
    }
    /* what the body asks for, before any of it runs */
    r->asked = r->work = 0;
    r->out = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *one = batch ? json_array_get(req, i) : req;
        json_t *params = json_object_get(one, "params");
        const rpc_method *m = valid_request(one)
                              ? find_method(json_string_value(json_object_get(one, "method")))
                              : NULL;
        r->asked += m != NULL && !json_is_array(params) ? asked_work(m, params) : 1;
    }
    json_t *resp;
    if (batch) {
        resp = json_array();
        if (r->asked <= kula_jsonrpc_work)
            presubmit(r, req);
        for (size_t i = 0; i < n && resp != NULL; i++) {
            r->at = i;
            json_t *one = handle_one(r, json_array_get(req, i));
            if (one != NULL)
                json_array_append_new(resp, one);
        }
        presubmit_done(r);
        if (json_array_size(resp) == 0) {
            /* JSON-RPC 2.0 §6: "If there are no Response objects contained
             * within the Response array as it is to be sent to the client,
             * the server MUST NOT return an empty Array and should return
             * nothing at all." */
            json_decref(resp);
            resp = NULL;
        }
    } else {
        resp = handle_one(r, req);
        if (resp != NULL && json_object_get(resp, "error") != NULL &&
            json_integer_value(json_object_get(json_object_get(resp, "error"), "code")) ==
                RPC_INVALID_REQUEST)
            *status = 400;
    }
    drop_block(r);
    json_decref(req);
    return resp;
}
