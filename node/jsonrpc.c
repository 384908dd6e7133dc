/* jsonrpc.c -- the node's JSON-RPC 2.0 methods: framing (requests,
 * batches, notifications, errors) and one handler per method, listed in
 * one table. */
#include "jsonrpc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kula/error.h"
#include "kula/records.h"
#include "kula/txjson.h"

#define REJECT_MEMORY 4096
#define MAX_BATCH 1000 /* requests in one batch (a batch of submits is admitted together) */

struct kula_jsonrpc {
    kula_rpc_env *env;
    struct { kula_hash id; int reason; } rejected[REJECT_MEMORY];
    size_t nrejected, next_reject;
    /* the submits of the batch being handled, admitted together */
    struct presubmit { json_t *req; uint8_t *bytes; size_t len; int result; kula_hash id; } *pre;
    size_t npre;
};

int kula_jsonrpc_new(kula_jsonrpc **out, kula_rpc_env *env)
{
    kula_jsonrpc *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return KULA_ENOMEM;
    r->env = env;
    *out = r;
    return KULA_OK;
}

void kula_jsonrpc_free(kula_jsonrpc *r) { free(r); }

void kula_jsonrpc_note_rejected(kula_jsonrpc *r, const kula_hash *id, int reason)
{
    r->rejected[r->next_reject].id = *id;
    r->rejected[r->next_reject].reason = reason;
    r->next_reject = (r->next_reject + 1) % REJECT_MEMORY;
    if (r->nrejected < REJECT_MEMORY)
        r->nrejected++;
}

/* ---- errors and results ---- */

typedef struct call {
    kula_jsonrpc *r;
    json_t *req;        /* the request object */
    json_t *params;     /* object (never NULL inside handlers) */
    json_t *result;     /* set on success */
    int code;           /* set on failure */
    char msg[256];
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

typedef struct find_name {
    const char *name;
    uint32_t id;
} find_name;

static int match_name(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    find_name *f = ctx;
    kula_member m;
    if (klen != 5)
        return 0;
    m.id = kula_get_be32(key + 1);
    if (kula_member_decode(&m, val, vlen) == 0 && strcmp(m.name, f->name) == 0) {
        f->id = m.id;
        return 1;
    }
    return 0;
}

/* A member given as its id (integer), its public key (64 hex) or its name. */
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
            find_name f = { s, 0 };
            kula_store_state_scan(c->r->env->store, &prefix, 1, match_name, &f);
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

static int m_genesis(call *c)
{
    char *text = kula_genesis_to_json(c->r->env->genesis);
    c->result = text != NULL ? json_loads(text, 0, NULL) : NULL;
    free(text);
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
        if (!json_is_string(method) || strcmp(json_string_value(method), "submit") != 0 ||
            !json_is_object(params))
            continue;
        size_t len;
        uint8_t *bytes = submit_bytes(params, &len);
        if (bytes == NULL)
            continue; /* m_submit reports it */
        r->pre[k++] = (struct presubmit){ .req = req, .bytes = bytes, .len = len };
    }
    r->npre = k;
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
    r->npre = 0;
}

static void presubmit_done(kula_jsonrpc *r)
{
    for (size_t i = 0; i < r->npre; i++)
        free(r->pre[i].bytes);
    free(r->pre);
    r->pre = NULL;
    r->npre = 0;
}

/* Answers a submit from its admission result: pending (and relayed to the
 * peers), or why not. */
static int submit_answer(call *c, int result, const kula_hash *id, const uint8_t *bytes,
                         size_t n)
{
    kula_rpc_env *env = c->r->env;
    uint64_t height;
    uint32_t index;
    bool decoded = result == 0 || !kula_is_codec_error(result);
    if (decoded && kula_store_tx_location(env->store, id, &height, &index) == 0) {
        /* Already in a block: it can only fail again (its nonce is spent, or
         * its id recorded). */
        if (result == 0)
            kula_mempool_remove(env->mempool, id);
        return fail(c, KULA_EREPLAYED, "transaction refused: already committed at height %llu",
                    (unsigned long long)height);
    }
    if (result == KULA_EDUPTX)
        return fail(c, result, "transaction refused: already pending (sent before)");
    if (result != 0)
        return fail(c, result, "transaction refused: %s", kula_strerror(result));
    kula_p2p_relay_tx(env->p2p, bytes, n); /* to the validators, through the peers */
    c->result = json_pack("{s:o, s:s}", "id", kula_json_hex(id->b, KULA_HASH_LEN), "status",
                          "pending");
    return 0;
}

static int m_submit(call *c)
{
    for (size_t i = 0; i < c->r->npre; i++) {
        const struct presubmit *ps = &c->r->pre[i];
        if (ps->req == c->req && ps->bytes != NULL)
            return submit_answer(c, ps->result, &ps->id, ps->bytes, ps->len);
    }
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
        kula_buf b;
        kula_buf_init(&b);
        kula_block blk;
        json_t *txj = NULL;
        if (kula_store_block(r->env->store, height, &b) == 0 &&
            kula_block_decode(&blk, b.data, b.len) == 0) {
            kula_tx tx;
            if (index < blk.ntxs && kula_tx_decode(&tx, blk.txs[index], blk.tx_lens[index]) == 0)
                txj = kula_tx_to_json(&tx);
            kula_block_free(&blk);
        }
        kula_buf_free(&b);
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

static int m_block(call *c)
{
    uint64_t height = 0;
    kula_rpc_env *env = c->r->env;
    if (param_uint(c, "height", false, kula_chain_height(env->chain), UINT64_MAX, &height) != 0)
        return c->code;
    kula_buf b;
    kula_buf_init(&b);
    int rc = kula_store_block(env->store, height, &b);
    kula_block blk;
    if (rc == 0)
        rc = kula_block_decode(&blk, b.data, b.len);
    if (rc != 0) {
        kula_buf_free(&b);
        return fail(c, rc == KULA_ENOTFOUND ? KULA_ENOTFOUND : rc, "no block at height %llu",
                    (unsigned long long)height);
    }
    json_t *o = kula_header_to_json(&blk.header, &blk.hash);
    json_t *txs = json_array();
    for (uint32_t i = 0; i < blk.ntxs; i++) {
        kula_tx tx;
        if (kula_tx_decode(&tx, blk.txs[i], blk.tx_lens[i]) == 0)
            json_array_append_new(txs, kula_tx_to_json(&tx));
    }
    json_object_set_new(o, "txs", txs);
    if (blk.has_last_commit) {
        /* who finalised the parent: the validators whose precommits it carries */
        json_t *signers = json_array();
        for (uint32_t i = 0; i < blk.last_commit->nsigs; i++)
            json_array_append_new(signers, json_integer(blk.last_commit->sigs[i].validator));
        json_object_set_new(o, "last_commit",
                            json_pack("{s:I, s:I, s:o}", "height",
                                      (json_int_t)blk.last_commit->height, "round",
                                      (json_int_t)blk.last_commit->round, "signers", signers));
    }
    json_object_set_new(o, "size", json_integer((json_int_t)b.len));
    json_t *raw = json_object_get(c->params, "raw");
    if (json_is_true(raw))
        json_object_set_new(o, "hex", kula_json_hex(b.data, b.len));
    kula_block_free(&blk);
    kula_buf_free(&b);
    c->result = o;
    return 0;
}

static int collect_member(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val,
                          size_t vlen)
{
    kula_member m;
    if (klen != 5)
        return 0;
    m.id = kula_get_be32(key + 1);
    if (kula_member_decode(&m, val, vlen) == 0)
        json_array_append_new(ctx, kula_member_to_json(&m));
    return 0;
}

static int m_members(call *c)
{
    uint8_t prefix = KULA_KEY_MEMBER;
    c->result = json_array();
    kula_store_state_scan(c->r->env->store, &prefix, 1, collect_member, c->result);
    return 0;
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
    kula_store *store;
    json_t *out;
} hist;

static int add_history(void *ctx, uint64_t height, uint32_t index, const kula_hash *id)
{
    hist *h = ctx;
    json_t *e = json_pack("{s:I, s:I, s:o}", "height", (json_int_t)height, "index",
                          (json_int_t)index, "id", kula_json_hex(id->b, KULA_HASH_LEN));
    kula_buf b;
    kula_buf_init(&b);
    kula_block blk;
    if (kula_store_block(h->store, height, &b) == 0 && kula_block_decode(&blk, b.data, b.len) == 0) {
        kula_tx tx;
        if (index < blk.ntxs && kula_tx_decode(&tx, blk.txs[index], blk.tx_lens[index]) == 0)
            json_object_set_new(e, "tx", kula_tx_to_json(&tx));
        json_object_set_new(e, "time_ms", json_integer((json_int_t)blk.header.time_ms));
        kula_block_free(&blk);
    }
    kula_buf_free(&b);
    json_array_append_new(h->out, e);
    return 0;
}

static int m_history(call *c)
{
    kula_member m;
    uint64_t limit = 0, before_h = 0, before_i = 0;
    if (param_member(c, "member", &m) != 0 ||
        param_uint(c, "limit", false, 50, 1000, &limit) != 0 ||
        param_uint(c, "before_height", false, UINT64_MAX, UINT64_MAX, &before_h) != 0 ||
        param_uint(c, "before_index", false, UINT32_MAX, UINT32_MAX, &before_i) != 0)
        return c->code;
    hist h = { c->r->env->store, json_array() };
    int rc = kula_store_history(c->r->env->store, m.id, before_h, (uint32_t)before_i, limit,
                                add_history, &h);
    if (rc != 0) {
        json_decref(h.out);
        return fail_kula(c, rc, "history");
    }
    c->result = json_pack("{s:I, s:o}", "member", (json_int_t)m.id, "entries", h.out);
    return 0;
}

static json_t *agreement_json(const kula_agreement *a)
{
    int64_t shares[KULA_MAX_PARTIES];
    bool have = a->pool > 0 && kula_ledger_distribution(a, a->pool, shares) == 0;
    return kula_agreement_to_json(a, have ? shares : NULL);
}

typedef struct agr_filter {
    uint32_t member; /* 0: all */
    json_t *out;
} agr_filter;

static int collect_agreement(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val,
                             size_t vlen)
{
    agr_filter *f = ctx;
    kula_agreement a;
    if (klen != 1 + KULA_HASH_LEN)
        return 0;
    memcpy(a.id.b, key + 1, KULA_HASH_LEN);
    if (kula_agreement_decode(&a, val, vlen) != 0)
        return 0;
    if (f->member != 0 && kula_agreement_party(&a, f->member) < 0)
        return 0;
    json_array_append_new(f->out, agreement_json(&a));
    return 0;
}

static int m_agreements(call *c)
{
    agr_filter f = { 0, json_array() };
    if (json_object_get(c->params, "member") != NULL) {
        kula_member m;
        if (param_member(c, "member", &m) != 0) {
            json_decref(f.out);
            return c->code;
        }
        f.member = m.id;
    }
    uint8_t prefix = KULA_KEY_AGREEMENT;
    kula_store_state_scan(c->r->env->store, &prefix, 1, collect_agreement, &f);
    c->result = f.out;
    return 0;
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

static int collect_proposal(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val,
                            size_t vlen)
{
    kula_proposal q;
    if (klen != 1 + KULA_HASH_LEN)
        return 0;
    memcpy(q.id.b, key + 1, KULA_HASH_LEN);
    if (kula_proposal_decode(&q, val, vlen) == 0)
        json_array_append_new(ctx, kula_proposal_to_json(&q));
    return 0;
}

static int m_proposals(call *c)
{
    uint8_t prefix = KULA_KEY_PROPOSAL;
    c->result = json_array();
    kula_store_state_scan(c->r->env->store, &prefix, 1, collect_proposal, c->result);
    return 0;
}

static int collect_vote(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val,
                        size_t vlen)
{
    if (klen != 1 + KULA_HASH_LEN + 4)
        return 0;
    kula_reader r;
    kula_reader_init(&r, val, vlen);
    kula_r_array_exact(&r, 1);
    bool approve = kula_r_bool(&r);
    if (kula_reader_finish(&r) == 0)
        json_array_append_new(ctx, json_pack("{s:I, s:b}", "member",
                                             (json_int_t)kula_get_be32(key + 1 + KULA_HASH_LEN),
                                             "approve", (int)approve));
    return 0;
}

static int m_proposal(call *c)
{
    kula_hash id;
    if (param_hash(c, "id", &id) != 0)
        return c->code;
    kula_proposal q;
    int rc = kula_ledger_proposal(kula_chain_ledger(c->r->env->chain), &id, &q);
    if (rc != 0)
        return fail_kula(c, rc, NULL);
    c->result = kula_proposal_to_json(&q);
    /* every vote, in member order: "V" || proposal id || be32(member) */
    uint8_t prefix[1 + KULA_HASH_LEN];
    prefix[0] = KULA_KEY_VOTE;
    memcpy(prefix + 1, id.b, KULA_HASH_LEN);
    json_t *votes = json_array();
    kula_store_state_scan(c->r->env->store, prefix, sizeof(prefix), collect_vote, votes);
    json_object_set_new(c->result, "votes", votes);
    return 0;
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

/* The method table: name, handler, one line of help. */
static const struct {
    const char *name;
    int (*fn)(call *c);
    const char *params;
} methods[] = {
    { "status", m_status, "" },
    { "genesis", m_genesis, "" },
    { "submit", m_submit, "tx: hex of a signed transaction" },
    { "tx", m_tx, "id" },
    { "block", m_block, "height (default: tip), raw: bool" },
    { "members", m_members, "" },
    { "member", m_member, "member: id, name or public key" },
    { "balance", m_balance, "member" },
    { "history", m_history, "member, limit (<= 1000), before_height, before_index" },
    { "agreements", m_agreements, "member (optional)" },
    { "agreement", m_agreement, "id" },
    { "proposals", m_proposals, "" },
    { "proposal", m_proposal, "id (with every member's vote)" },
    { "peers", m_peers, "" },
};

/* ---- JSON-RPC framing ---- */

json_t *kula_jsonrpc_error(json_t *id, int code, const char *msg)
{
    json_t *err = json_pack("{s:i, s:s}", "code", code, "message", msg);
    if (code < 0 && code > -1000)
        json_object_set_new(err, "data", json_pack("{s:s}", "name", kula_errname(code)));
    return json_pack("{s:s, s:o, s:O}", "jsonrpc", "2.0", "error", err,
                     "id", id != NULL ? id : json_null());
}

/* Handles one request object.  Returns the response, or NULL for a
 * notification (no id). */
static json_t *handle_one(kula_jsonrpc *r, json_t *req)
{
    json_t *id = json_object_get(req, "id");
    json_t *ver = json_object_get(req, "jsonrpc");
    json_t *method = json_object_get(req, "method");
    json_t *params = json_object_get(req, "params");
    if (!json_is_object(req) || !json_is_string(ver) ||
        strcmp(json_string_value(ver), "2.0") != 0 || !json_is_string(method) ||
        (params != NULL && !json_is_object(params) && !json_is_array(params)) ||
        (id != NULL && !json_is_string(id) && !json_is_integer(id) && !json_is_null(id)))
        return kula_jsonrpc_error(json_is_string(id) || json_is_integer(id) ? id : NULL,
                         RPC_INVALID_REQUEST, "invalid request");
    if (json_is_array(params) && json_array_size(params) > 0)
        return kula_jsonrpc_error(id, RPC_INVALID_PARAMS, "parameters must be named (an object)");
    call c = { .r = r, .req = req };
    c.params = json_is_object(params) ? params : json_object();
    const char *name = json_string_value(method);
    bool found = false;
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        if (strcmp(methods[i].name, name) == 0) {
            found = true;
            if (methods[i].fn(&c) != 0 && c.code == 0)
                c.code = RPC_INTERNAL;
            break;
        }
    }
    if (!json_is_object(params))
        json_decref(c.params);
    if (!found)
        return kula_jsonrpc_error(id, RPC_METHOD_NOT_FOUND, "method not found");
    if (id == NULL) {
        json_decref(c.result);
        return NULL;
    }
    if (c.code != 0) {
        json_decref(c.result);
        return kula_jsonrpc_error(id, c.code, c.msg);
    }
    if (c.result == NULL)
        return kula_jsonrpc_error(id, RPC_INTERNAL, "out of memory");
    return json_pack("{s:s, s:o, s:O}", "jsonrpc", "2.0", "result", c.result, "id", id);
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
    json_t *resp;
    if (json_is_array(req)) {
        size_t n = json_array_size(req);
        if (n == 0 || n > MAX_BATCH) {
            *status = 400;
            resp = kula_jsonrpc_error(NULL, RPC_INVALID_REQUEST, "a batch holds 1 to 1000 requests");
        } else {
            resp = json_array();
            presubmit(r, req);
            for (size_t i = 0; i < n; i++) {
                json_t *one = handle_one(r, json_array_get(req, i));
                if (one != NULL)
                    json_array_append_new(resp, one);
            }
            presubmit_done(r);
        }
    } else {
        resp = handle_one(r, req);
        if (resp != NULL && json_object_get(resp, "error") != NULL &&
            json_integer_value(json_object_get(json_object_get(resp, "error"), "code")) ==
                RPC_INVALID_REQUEST)
            *status = 400;
    }
    json_decref(req);
    return resp;
}

