/* ledger_scenario.c -- a ledger conformance scenario replayed through the
 * reference ledger (ledger_scenario.h). */
#include "ledger_scenario.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kula/base/error.h"
#include "kula/crypto/crypto.h"
#include "kula/ledger/ledger.h"
#include "kula/types/genesis.h"
#include "kula/types/types.h"

#define MAX_HEX_BYTES (1u << 20) /* a genesis or a transaction, decoded */

typedef struct run {
    const char *name;
    char *why;
    size_t why_len;
} run;

static int say(run *r, int verdict, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(r->why, r->why_len, "%s: ", r->name);
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < r->why_len)
        vsnprintf(r->why + n, r->why_len - (size_t)n, fmt, ap);
    va_end(ap);
    return verdict;
}

static const char *text(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* o[key] as a whole number >= 0 into *v.  Returns: whether it is one. */
static bool whole(json_t *o, const char *key, uint64_t *v)
{
    json_t *j = json_object_get(o, key);
    if (!json_is_integer(j) || json_integer_value(j) < 0)
        return false;
    *v = (uint64_t)json_integer_value(j);
    return true;
}

/* o[key], an even string of hex digits, decoded into a new buffer.
 * Returns: the bytes (*n of them; free them), or NULL. */
static uint8_t *unhex(json_t *o, const char *key, size_t *n)
{
    const char *h = text(o, key);
    size_t len = h != NULL ? strlen(h) : 1;
    if (len % 2 != 0 || len / 2 > MAX_HEX_BYTES)
        return NULL;
    uint8_t *b = malloc(len / 2 + 1);
    if (b != NULL && kula_hex_decode(b, len / 2, h) != 0) {
        free(b);
        return NULL;
    }
    *n = len / 2;
    return b;
}

/* Whether o[key] is the hex of h. */
static bool same_hash(json_t *o, const char *key, const kula_hash *h)
{
    char hex[2 * KULA_HASH_LEN + 1];
    kula_hex_encode(hex, h->b, KULA_HASH_LEN);
    const char *want = text(o, key);
    return want != NULL && strcmp(hex, want) == 0;
}

/* One step at the ledger's next height.  Returns: an ls_verdict. */
static int step(run *r, kula_ledger *l, json_t *s, size_t i, kula_hash *root,
                ls_refusal_fn on_refusal, void *ctx)
{
    uint64_t height, time_ms;
    json_t *codej = json_object_get(s, "code"), *err = json_object_get(s, "error");
    json_t *txj = json_object_get(s, "tx");
    if (!json_is_object(s) || !whole(s, "height", &height) || !whole(s, "time_ms", &time_ms) ||
        !json_is_integer(codej) || json_integer_value(codej) < INT32_MIN ||
        json_integer_value(codej) > 0 || !(json_is_null(err) || json_is_string(err)) ||
        !(json_is_null(txj) || json_is_string(txj)) || text(s, "state_root") == NULL)
        return say(r, LS_MALFORMED,
                   "step %zu: needs height, time_ms, code, error, tx and state_root", i);
    int code = (int)json_integer_value(codej);
    if (height != kula_ledger_height(l) + 1)
        return say(r, LS_MALFORMED, "step %zu: height %llu, the next is %llu", i,
                   (unsigned long long)height, (unsigned long long)kula_ledger_height(l) + 1);
    int rc = kula_ledger_begin_block(l, height, time_ms);
    if (rc != 0)
        return say(r, LS_DIFFERS, "step %zu: the ledger refuses a block at height %llu, time %llu: %s",
                   i, (unsigned long long)height, (unsigned long long)time_ms, kula_errname(rc));
    if (!json_is_null(txj)) {
        size_t n;
        uint8_t *bytes = unhex(s, "tx", &n);
        kula_tx tx;
        if (bytes == NULL || kula_tx_decode(&tx, bytes, n) != 0) {
            free(bytes);
            kula_ledger_abort_block(l);
            return say(r, LS_MALFORMED, "step %zu: tx is not a canonical transaction in hex", i);
        }
        if (!same_hash(s, "tx_id", &tx.id)) {
            free(bytes);
            kula_ledger_abort_block(l);
            return say(r, LS_DIFFERS, "step %zu: tx_id is not the transaction's id", i);
        }
        rc = kula_ledger_apply_tx(l, &tx, NULL, NULL);
        free(bytes);
    }
    if (rc != code) {
        kula_ledger_abort_block(l);
        return say(r, LS_DIFFERS, "step %zu: the ledger says %s (%d), the file %d", i,
                   kula_errname(rc), rc, code);
    }
    if (code == 0) {
        const kula_state_write *w;
        size_t nw;
        if (!json_is_null(err)) {
            kula_ledger_abort_block(l);
            return say(r, LS_MALFORMED, "step %zu: code 0 with an error", i);
        }
        if ((rc = kula_ledger_end_block(l, root, &w, &nw)) != 0)
            return say(r, LS_DIFFERS, "step %zu: the block does not end: %s", i, kula_errname(rc));
        kula_ledger_finish_block(l);
    } else {
        kula_ledger_abort_block(l);
        const char *e = json_string_value(err);
        if (e == NULL || strcmp(e, kula_errname(rc)) != 0)
            return say(r, LS_DIFFERS, "step %zu: error %s, the code says %s", i,
                       e != NULL ? e : "null", kula_errname(rc));
        if (on_refusal != NULL)
            on_refusal(ctx, rc);
    }
    if (memcmp(kula_ledger_state_root(l)->b, root->b, KULA_HASH_LEN) != 0 ||
        !same_hash(s, "state_root", root))
        return say(r, LS_DIFFERS, "step %zu: the state root differs", i);
    return LS_REPLAYS;
}

static int replay_doc(run *r, json_t *doc, ls_refusal_fn on_refusal, void *ctx)
{
    json_t *gj = json_object_get(doc, "genesis"), *steps = json_object_get(doc, "steps");
    const char *structure = text(doc, "structure");
    if (structure == NULL || strcmp(structure, "ledger") != 0 || !json_is_object(gj) ||
        !json_is_array(steps) || json_array_size(steps) == 0 ||
        json_array_size(steps) > LS_MAX_STEPS)
        return say(r, LS_MALFORMED, "not a ledger scenario (structure \"ledger\", a genesis, "
                                    "1 to %u steps)", LS_MAX_STEPS);
    size_t glen;
    uint8_t *gbytes = unhex(gj, "hex", &glen);
    kula_genesis g;
    if (gbytes == NULL || kula_genesis_decode(&g, gbytes, glen) != 0) {
        free(gbytes);
        return say(r, LS_MALFORMED, "genesis.hex is not a canonical genesis in hex");
    }
    kula_hash_bytes(&g.chain_id, gbytes, glen);
    free(gbytes);
    kula_ledger *l = NULL;
    kula_hash root;
    const kula_state_write *w;
    size_t nw;
    int v;
    if (!same_hash(gj, "chain_id", &g.chain_id)) {
        v = say(r, LS_DIFFERS, "genesis.chain_id is not the hash of the genesis");
    } else if (kula_ledger_new(&l, &g.chain_id, NULL, NULL, 0, NULL) != 0 ||
               kula_ledger_genesis(l, &g, &root, &w, &nw) != 0) {
        v = say(r, LS_DIFFERS, "the ledger does not start from this genesis");
    } else {
        kula_ledger_finish_block(l);
        v = same_hash(gj, "state_root", &root)
                ? LS_REPLAYS
                : say(r, LS_DIFFERS, "genesis.state_root is not the genesis state's root");
        for (size_t i = 0; v == LS_REPLAYS && i < json_array_size(steps); i++)
            v = step(r, l, json_array_get(steps, i), i, &root, on_refusal, ctx);
    }
    kula_ledger_free(l);
    kula_genesis_free(&g);
    return v;
}

/* Parses doc.  Returns: the document (json_decref it), or NULL with the
 * verdict in *v and the reason in r. */
static json_t *parse(run *r, const char *doc, size_t len, int *v)
{
    if (len > LS_MAX_BYTES) {
        *v = say(r, LS_MALFORMED, "larger than %u bytes", LS_MAX_BYTES);
        return NULL;
    }
    json_error_t jerr;
    json_t *j = json_loadb(doc, len, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL)
        *v = say(r, LS_MALFORMED, "not JSON: %s (line %d)", jerr.text, jerr.line);
    return j;
}

static int replay_parsed(run *r, json_t *j, ls_refusal_fn on_refusal, void *ctx)
{
    r->why[0] = '\0';
    int v = json_is_object(j) ? replay_doc(r, j, on_refusal, ctx)
                              : say(r, LS_MALFORMED, "not a JSON object");
    if (v == LS_REPLAYS)
        r->why[0] = '\0';
    return v;
}

int ls_replay(const char *doc, size_t len, const char *name, ls_refusal_fn on_refusal, void *ctx,
              char *why, size_t why_len)
{
    run r = { name, why, why_len };
    int v;
    why[0] = '\0';
    json_t *j = parse(&r, doc, len, &v);
    if (j == NULL)
        return v;
    v = replay_parsed(&r, j, on_refusal, ctx);
    json_decref(j);
    return v;
}

int ls_replay_twice(const char *doc, size_t len, const char *name, char *why, char *again,
                    size_t why_len)
{
    run r = { name, why, why_len }, r2 = { name, again, why_len };
    int v;
    why[0] = again[0] = '\0';
    json_t *j = parse(&r, doc, len, &v);
    if (j == NULL) {
        snprintf(again, why_len, "%s", why);
        return v;
    }
    v = replay_parsed(&r, j, NULL, NULL);
    int w = replay_parsed(&r2, j, NULL, NULL);
    json_decref(j);
    return v == w ? v : LS_NOT_SAME;
}
