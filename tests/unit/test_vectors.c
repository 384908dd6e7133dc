/* test_vectors.c -- the protocol vectors of proto/vectors/, byte for byte.
 *
 * For each valid vector: the bytes decode, the decoded fields equal the
 * vector's "fields", re-encoding the decoded value and encoding the "fields"
 * both give the bytes back exactly, the hash (tx id, block hash, commit
 * hash, chain id) matches, and every signature's sighash is recomputed and
 * verified with the signer's public key.  For each invalid vector the decoder
 * returns exactly the named error, or, for EBADSIG, the bytes decode and the
 * signatures fail to verify under the file's chain id (while verifying over
 * the digest they were really made for, so the vector is not just noise).
 *
 * A file that is missing, has no valid or no invalid vectors, or lacks an
 * error class its structure can produce fails the test: the suite cannot pass
 * vacuously.  How the vectors were made: proto/vectors/README.md. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kula/codec/codec.h"
#include "kula/crypto/crypto.h"
#include "kula/base/error.h"
#include "kula/types/genesis.h"
#include "kula/types/txkind.h"
#include "kula/types/types.h"
#include "kula/net/wire.h"     /* wire.json */
#include "kula/types/proposal.h" /* wire.json: the PROPOSAL message */
#include "testutil.h"
#include "vecjson.h"

static void setup(void) { cr_assert_eq(kula_crypto_init(), 0); }

TestSuite(vectors, .init = setup);

/* ---- where we are, for messages ---- */

static char where[256];

static void at(const char *file, const char *name)
{
    snprintf(where, sizeof(where), "%s %s", file, name);
}

/* ---- JSON access (each failure names the vector) ---- */

static json_t *jget(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    cr_assert(v != NULL, "%s: missing \"%s\"", where, key);
    return v;
}

static const char *jstr(json_t *o, const char *key)
{
    json_t *v = jget(o, key);
    cr_assert(json_is_string(v), "%s: \"%s\" is not a string", where, key);
    return json_string_value(v);
}

static kula_text jtext(json_t *o, const char *key)
{
    json_t *v = jget(o, key);
    cr_assert(json_is_string(v), "%s: \"%s\" is not a string", where, key);
    kula_text t = { json_string_value(v), json_string_length(v) };
    return t;
}

/* A uint64: a JSON integer, or a decimal string for values above 2^63-1. */
static uint64_t ju64v(json_t *v, const char *key)
{
    if (json_is_integer(v)) {
        cr_assert(json_integer_value(v) >= 0, "%s: \"%s\" is negative", where, key);
        return (uint64_t)json_integer_value(v);
    }
    cr_assert(json_is_string(v), "%s: \"%s\" is not an integer", where, key);
    const char *s = json_string_value(v);
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    cr_assert(*s >= '0' && *s <= '9' && *end == '\0' && errno == 0,
              "%s: \"%s\" is not a decimal uint64", where, key);
    return (uint64_t)x;
}

static uint64_t ju64(json_t *o, const char *key) { return ju64v(jget(o, key), key); }

static uint32_t ju32(json_t *o, const char *key)
{
    uint64_t v = ju64(o, key);
    cr_assert(v <= UINT32_MAX, "%s: \"%s\" above 2^32-1", where, key);
    return (uint32_t)v;
}

static int64_t ji64(json_t *o, const char *key)
{
    json_t *v = jget(o, key);
    cr_assert(json_is_integer(v), "%s: \"%s\" is not an integer", where, key);
    return (int64_t)json_integer_value(v);
}

static void jhexn(json_t *o, const char *key, uint8_t *out, size_t n)
{
    cr_assert_eq(kula_hex_decode(out, n, jstr(o, key)), 0, "%s: \"%s\" is not %zu hex bytes",
                 where, key, n);
}

static kula_hash jhash(json_t *o, const char *key)
{
    kula_hash h;
    jhexn(o, key, h.b, KULA_HASH_LEN);
    return h;
}

/* Out: malloc'd bytes of the hex string o[key]. */
static uint8_t *jbytes(json_t *o, const char *key, size_t *n)
{
    return tu_unhex(jstr(o, key), n);
}

static void expect_bytes(const char *what, const uint8_t *got, size_t got_n,
                         const uint8_t *want, size_t want_n)
{
    if (got_n == want_n && (want_n == 0 || memcmp(got, want, want_n) == 0))
        return;
    char *g = malloc(2 * got_n + 1), *w = malloc(2 * want_n + 1);
    kula_hex_encode(g, got, got_n);
    kula_hex_encode(w, want, want_n);
    cr_assert_fail("%s: %s differs\n  got  %s\n  want %s", where, what, g, w);
    free(g);
    free(w);
}

static void expect_hash(const char *what, const kula_hash *got, json_t *o, const char *key)
{
    kula_hash want = jhash(o, key);
    expect_bytes(what, got->b, KULA_HASH_LEN, want.b, KULA_HASH_LEN);
}

static void expect_json(json_t *got, json_t *want)
{
    if (json_equal(got, want))
        return;
    char *g = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);
    char *w = json_dumps(want, JSON_SORT_KEYS | JSON_COMPACT);
    cr_assert_fail("%s: decoded fields differ\n  got  %s\n  want %s", where, g, w);
    free(g);
    free(w);
}

/* The numeric value of an error name ("ENONCANON"), or 1 if unknown. */
static int errcode(const char *name)
{
    for (int e = 0; e <= 200; e++)
        if (strcmp(kula_errname(-e), name) == 0)
            return -e;
    return 1;
}

/* ---- JSON of decoded values (the shape proto/vectors/README.md documents;
 * a transaction's is vj_tx, tests/vectors/vecjson.c, as the generator's) ---- */

static json_t *genesis_json(const kula_genesis *g)
{
    json_t *o = json_object(), *params = json_object(), *members = json_array();
    json_object_set_new(o, "version", json_integer(KULA_VERSION));
    json_object_set_new(o, "network", json_string(g->network));
    json_object_set_new(o, "unit", json_pack("{s:s, s:I}", "name", g->unit, "decimals",
                                             (json_int_t)g->decimals));
    json_object_set_new(o, "time_ms", kula_json_u64(g->time_ms));
    for (uint32_t id = 1; id <= kula_params_encoded_count(&g->params); id++) {
        int64_t v = 0;
        cr_assert_eq(kula_params_get(&g->params, id, &v), 0);
        json_object_set_new(params, kula_param_name(id), json_integer(v));
    }
    json_object_set_new(o, "params", params);
    for (uint32_t i = 0; i < g->nmembers; i++) {
        const kula_genesis_member *m = &g->members[i];
        json_t *x = json_object();
        json_object_set_new(x, "id", json_integer(i + 1));
        json_object_set_new(x, "pubkey", vj_hex(m->pubkey.b, KULA_PUBKEY_LEN));
        json_object_set_new(x, "name", json_string(m->name));
        json_object_set_new(x, "sector", json_string(m->sector));
        json_object_set_new(x, "credit_limit", json_integer(m->credit_limit));
        json_object_set_new(x, "voting_power", kula_json_u64(m->voting_power));
        json_array_append_new(members, x);
    }
    json_object_set_new(o, "members", members);
    return o;
}

/* ---- values from "fields" (the other direction) ---- */

static void rule_from(kula_rule *r, json_t *o, kula_buf *store)
{
    memset(r, 0, sizeof(*r));
    const char *k = jstr(o, "kind");
    int kind = -1;
    for (int i = 0; i <= KULA_RULE_SHAPLEY; i++)
        if (strcmp(k, kula_rule_kind_name((unsigned)i)) == 0)
            kind = i;
    cr_assert(kind >= 0, "%s: unknown rule %s", where, k);
    r->kind = (uint8_t)kind;
    if (kind == KULA_RULE_WEIGHTS) {
        json_t *w = jget(o, "weights");
        r->nweights = (uint32_t)json_array_size(w);
        cr_assert(r->nweights <= KULA_MAX_PARTIES);
        for (uint32_t i = 0; i < r->nweights; i++)
            r->weights[i] = (uint32_t)ju64v(json_array_get(w, i), "weights[]");
    } else if (kind == KULA_RULE_SHAPLEY) {
        json_t *v = jget(o, "values");
        kula_writer w;
        size_t start = store->len;
        kula_writer_init(&w, store);
        r->nvalues = (uint32_t)json_array_size(v);
        kula_w_array(&w, r->nvalues);
        for (uint32_t i = 0; i < r->nvalues; i++)
            kula_w_int(&w, (int64_t)json_integer_value(json_array_get(v, i)));
        cr_assert_eq(store->err, 0);
        r->values_raw = store->data + start;
        r->values_raw_len = store->len - start;
    }
}

static void fields_from(void *base, const kula_kind_desc *d, json_t *o, kula_buf *store);

static void action_from(kula_action *a, json_t *o)
{
    memset(a, 0, sizeof(*a));
    const char *k = jstr(o, "kind");
    for (uint8_t i = KULA_ACT_ADMIT; i <= KULA_ACT_KIND_MAX; i++)
        if (kula_action_kind_name(i) != NULL && strcmp(k, kula_action_kind_name(i)) == 0)
            a->kind = i;
    cr_assert(a->kind != 0, "%s: unknown action %s", where, k);
    fields_from(a, kula_action_kind_desc(a->kind), o, NULL);
}

static void ev_vote_from(kula_vote *v, json_t *f)
{
    memset(v, 0, sizeof(*v));
    const char *t = jstr(f, "type");
    cr_assert(strcmp(t, "prevote") == 0 || strcmp(t, "precommit") == 0, "%s: type %s", where, t);
    v->type = strcmp(t, "prevote") == 0 ? KULA_VOTE_PREVOTE : KULA_VOTE_PRECOMMIT;
    v->height = ju64(f, "height");
    v->round = ju32(f, "round");
    v->has_block = !json_is_null(jget(f, "block_hash"));
    if (v->has_block)
        v->block_hash = jhash(f, "block_hash");
    v->validator = ju32(f, "validator");
    jhexn(f, "sig", v->sig.b, KULA_SIG_LEN);
}

/* Sets the value f describes in base from o[f->name]. */
static void field_from(void *base, const kula_field *f, json_t *o, kula_buf *store)
{
    switch ((enum kula_field_type)f->type) {
    case KULA_F_MEMBER:
    case KULA_F_U32:
    case KULA_F_PARAM: *KULA_FIELD(uint32_t, base, f) = ju32(o, f->name); return;
    case KULA_F_U64: *KULA_FIELD(uint64_t, base, f) = ju64(o, f->name); return;
    case KULA_F_AMOUNT: *KULA_FIELD(int64_t, base, f) = ji64(o, f->name); return;
    case KULA_F_BOOL: *KULA_FIELD(bool, base, f) = json_is_true(jget(o, f->name)); return;
    case KULA_F_TEXT: *KULA_FIELD(kula_text, base, f) = jtext(o, f->name); return;
    case KULA_F_HASH: *KULA_FIELD(kula_hash, base, f) = jhash(o, f->name); return;
    case KULA_F_OPT_HASH: {
        bool has = !json_is_null(jget(o, f->name));
        *KULA_FIELD_AUX(bool, base, f) = has;
        if (has)
            *KULA_FIELD(kula_hash, base, f) = jhash(o, f->name);
        return;
    }
    case KULA_F_PUBKEY: jhexn(o, f->name, KULA_FIELD(kula_pubkey, base, f)->b, KULA_PUBKEY_LEN); return;
    case KULA_F_PARTIES: {
        json_t *a = jget(o, f->name);
        uint32_t n = (uint32_t)json_array_size(a);
        cr_assert(n <= KULA_MAX_PARTIES);
        *KULA_FIELD_AUX(uint32_t, base, f) = n;
        for (uint32_t i = 0; i < n; i++)
            KULA_FIELD(uint32_t, base, f)[i] = (uint32_t)ju64v(json_array_get(a, i), f->name);
        return;
    }
    case KULA_F_RULE: rule_from(KULA_FIELD(kula_rule, base, f), jget(o, f->name), store); return;
    case KULA_F_ACTION: action_from(KULA_FIELD(kula_action, base, f), jget(o, f->name)); return;
    case KULA_F_VOTE:
    case KULA_F_VOTE_NEXT: ev_vote_from(KULA_FIELD(kula_vote, base, f), jget(o, f->name)); return;
    }
}

static void fields_from(void *base, const kula_kind_desc *d, json_t *o, kula_buf *store)
{
    for (uint32_t i = 0; i < d->nfields; i++)
        field_from(base, &d->fields[i], o, store);
}

static void tx_from(kula_tx *tx, json_t *f, json_t *signers, kula_buf *store)
{
    memset(tx, 0, sizeof(*tx));
    const char *k = jstr(f, "kind");
    for (unsigned i = 1; i <= KULA_TX_KIND_MAX; i++)
        if (strcmp(k, kula_tx_kind_name(i)) == 0)
            tx->kind = (uint8_t)i;
    cr_assert(tx->kind != 0, "%s: unknown kind %s", where, k);
    /* SPEC §6.1: version 2 exactly when the body carries an expiry */
    uint64_t version = ju64(f, "version");
    cr_assert(version == KULA_VERSION || version == KULA_TX_VERSION_DATED,
              "%s: version %llu", where, (unsigned long long)version);
    tx->from = ju32(f, "from");
    tx->nonce = ju64(f, "nonce");
    tx->memo = jtext(f, "memo");
    if (version == KULA_TX_VERSION_DATED) {
        tx->expires = ju64(f, "expires");
        cr_assert_neq(tx->expires, 0, "%s: version 2 with expires 0", where);
    } else {
        cr_assert_null(json_object_get(f, "expires"), "%s: version 1 with an expiry", where);
    }
    fields_from(tx, kula_tx_kind_desc(tx->kind), jget(f, "payload"), store);
    tx->nsigs = (uint32_t)json_array_size(signers);
    cr_assert(tx->nsigs <= KULA_MAX_PARTIES);
    for (uint32_t i = 0; i < tx->nsigs; i++) {
        json_t *s = json_array_get(signers, i);
        tx->sigs[i].signer = ju32(s, "member");
        jhexn(s, "sig", tx->sigs[i].sig.b, KULA_SIG_LEN);
    }
}

static void header_from(kula_header *h, json_t *f)
{
    memset(h, 0, sizeof(*h));
    h->version = ju32(f, "version");
    h->chain_id = jhash(f, "chain_id");
    h->height = ju64(f, "height");
    h->time_ms = ju64(f, "time_ms");
    h->prev_hash = jhash(f, "prev_hash");
    h->txs_root = jhash(f, "txs_root");
    h->state_root = jhash(f, "state_root");
    h->proposer = ju32(f, "proposer");
    h->last_commit_hash = jhash(f, "last_commit_hash");
}

static void commit_from(kula_commit *c, json_t *f, json_t *signers)
{
    memset(c, 0, sizeof(*c));
    c->height = ju64(f, "height");
    c->round = ju32(f, "round");
    c->block_hash = jhash(f, "block_hash");
    c->nsigs = (uint32_t)json_array_size(signers);
    cr_assert(c->nsigs <= KULA_MAX_VALIDATORS);
    for (uint32_t i = 0; i < c->nsigs; i++) {
        json_t *s = json_array_get(signers, i);
        c->sigs[i].validator = ju32(s, "member");
        jhexn(s, "sig", c->sigs[i].sig.b, KULA_SIG_LEN);
    }
}

static void vote_from(kula_vote *v, json_t *f, json_t *signers)
{
    memset(v, 0, sizeof(*v));
    const char *t = jstr(f, "type");
    cr_assert(strcmp(t, "prevote") == 0 || strcmp(t, "precommit") == 0, "%s: type %s", where, t);
    v->type = strcmp(t, "prevote") == 0 ? KULA_VOTE_PREVOTE : KULA_VOTE_PRECOMMIT;
    v->height = ju64(f, "height");
    v->round = ju32(f, "round");
    v->has_block = !json_is_null(jget(f, "block_hash"));
    if (v->has_block)
        v->block_hash = jhash(f, "block_hash");
    v->validator = ju32(f, "validator");
    cr_assert_eq(json_array_size(signers), 1, "%s: a vote has one signer", where);
    jhexn(json_array_get(signers, 0), "sig", v->sig.b, KULA_SIG_LEN);
}

/* The kula_genesis of "fields"; free with kula_genesis_free. */
static void genesis_from(kula_genesis *g, json_t *f)
{
    memset(g, 0, sizeof(*g));
    cr_assert_eq(ju64(f, "version"), KULA_VERSION);
    snprintf(g->network, sizeof(g->network), "%s", jstr(f, "network"));
    json_t *unit = jget(f, "unit");
    snprintf(g->unit, sizeof(g->unit), "%s", jstr(unit, "name"));
    g->decimals = ju32(unit, "decimals");
    g->time_ms = ju64(f, "time_ms");
    json_t *params = jget(f, "params");
    /* SPEC §8.2: parameters after the ninth are there only when not 0 */
    cr_assert_geq(json_object_size(params), KULA_PARAM_COUNT_BASE, "%s: params", where);
    int64_t vals[KULA_PARAM_COUNT] = { 0 };
    for (uint32_t id = 1; id <= KULA_PARAM_COUNT; id++)
        if (id <= KULA_PARAM_COUNT_BASE || json_object_get(params, kula_param_name(id)) != NULL)
            vals[id - 1] = ji64(params, kula_param_name(id));
    cr_assert_eq(kula_params_assign(&g->params, vals), 0, "%s: params out of range", where);
    json_t *members = jget(f, "members");
    g->nmembers = (uint32_t)json_array_size(members);
    g->members = calloc(g->nmembers, sizeof(*g->members));
    for (uint32_t i = 0; i < g->nmembers; i++) {
        json_t *m = json_array_get(members, i);
        kula_genesis_member *gm = &g->members[i];
        cr_assert_eq(ju64(m, "id"), i + 1, "%s: members are numbered 1..n in order", where);
        jhexn(m, "pubkey", gm->pubkey.b, KULA_PUBKEY_LEN);
        snprintf(gm->name, sizeof(gm->name), "%s", jstr(m, "name"));
        snprintf(gm->sector, sizeof(gm->sector), "%s", jstr(m, "sector"));
        gm->credit_limit = ji64(m, "credit_limit");
        gm->voting_power = ju64(m, "voting_power");
    }
}

/* ---- the reference network: genesis.json's first vector ---- */

typedef struct network {
    kula_hash chain_id;
    uint32_t nmembers;
    kula_pubkey keys[64]; /* keys[i]: member i + 1 */
} network;

static json_t *load(const char *file)
{
    char rel[128];
    snprintf(rel, sizeof(rel), "proto/vectors/%s", file);
    const char *path = tu_src(rel);
    json_error_t err;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
    cr_assert(root != NULL, "%s: cannot load (%s, line %d): vector file missing or broken", path,
              err.text, err.line);
    cr_assert(json_is_object(root), "%s: not a JSON object", file);
    json_t *valid = json_object_get(root, "valid"), *invalid = json_object_get(root, "invalid");
    cr_assert(json_is_array(valid) && json_array_size(valid) > 0, "%s: no valid vectors", file);
    cr_assert(json_is_array(invalid) && json_array_size(invalid) > 0, "%s: no invalid vectors",
              file);
    return root;
}

static void load_network(network *net)
{
    json_t *root = load("genesis.json");
    json_t *v = json_array_get(json_object_get(root, "valid"), 0);
    at("genesis.json", "valid[0]");
    cr_assert_str_eq(jstr(v, "name"), "main", "genesis.json: the first vector must be \"main\"");
    net->chain_id = jhash(v, "hash");
    json_t *members = jget(jget(v, "fields"), "members");
    net->nmembers = (uint32_t)json_array_size(members);
    cr_assert(net->nmembers <= 64);
    for (uint32_t i = 0; i < net->nmembers; i++)
        jhexn(json_array_get(members, i), "pubkey", net->keys[i].b, KULA_PUBKEY_LEN);
    json_decref(root);
}

/* ---- signatures ---- */

/* Checks one signer entry of a valid vector: the signer and signature the
 * decoder saw, the recomputed sighash, the key (a member of the reference
 * network has its genesis key) and the signature itself. */
static void check_signer(const network *net, json_t *s, uint32_t member, const kula_sig *sig,
                         const kula_hash *sighash)
{
    cr_assert_eq(ju64(s, "member"), member, "%s: signer %u, vector says %" PRIu64, where,
                 member, ju64(s, "member"));
    kula_pubkey pk;
    kula_sig want;
    jhexn(s, "pubkey", pk.b, KULA_PUBKEY_LEN);
    jhexn(s, "sig", want.b, KULA_SIG_LEN);
    expect_bytes("signature", sig->b, KULA_SIG_LEN, want.b, KULA_SIG_LEN);
    expect_hash("sighash", sighash, s, "sighash");
    if (member >= 1 && member <= net->nmembers)
        expect_bytes("signer key vs genesis", pk.b, KULA_PUBKEY_LEN, net->keys[member - 1].b,
                     KULA_PUBKEY_LEN);
    cr_assert(kula_verify(&pk, sighash->b, sig), "%s: signature of %u does not verify", where,
              member);
}

static void tag_of(uint8_t tag[KULA_TAG_LEN], const char *s)
{
    cr_assert(strlen(s) <= KULA_TAG_LEN, "%s: tag too long", where);
    memset(tag, 0, KULA_TAG_LEN);
    memcpy(tag, s, strlen(s));
}

/* For an EBADSIG signer: the signature fails over the right sighash and
 * verifies over the digest the vector says it really signed (recomputed from
 * signed_tag, signed_chain_id and the signed bytes). */
static void check_badsigner(json_t *s, const kula_hash *sighash, const uint8_t *signed_body,
                            size_t signed_len, const kula_sig *sig)
{
    kula_pubkey pk;
    jhexn(s, "pubkey", pk.b, KULA_PUBKEY_LEN);
    expect_hash("sighash", sighash, s, "sighash");
    uint8_t tag[KULA_TAG_LEN];
    tag_of(tag, jstr(s, "signed_tag"));
    kula_hash chain = jhash(s, "signed_chain_id"), digest;
    kula_signing_digest(&digest, tag, &chain, signed_body, signed_len);
    expect_hash("signed_digest", &digest, s, "signed_digest");
    cr_assert(!kula_verify(&pk, sighash->b, sig), "%s: a bad signature verifies", where);
    cr_assert(kula_verify(&pk, digest.b, sig), "%s: the signature is not even over its own "
              "signed_digest", where);
}

/* The precommit body a commit signature signs; `type` may differ for EBADSIG. */
static void commit_vote(kula_vote *v, const kula_commit *c, uint32_t i, uint8_t type)
{
    memset(v, 0, sizeof(*v));
    v->type = type;
    v->height = c->height;
    v->round = c->round;
    v->has_block = true;
    v->block_hash = c->block_hash;
    v->validator = c->sigs[i].validator;
}

static uint8_t vote_type_of(json_t *s)
{
    const char *t = jstr(s, "signed_vote_type");
    return strcmp(t, "prevote") == 0 ? KULA_VOTE_PREVOTE : KULA_VOTE_PRECOMMIT;
}

static void check_commit_sigs(const network *net, const kula_commit *c, json_t *signers,
                              bool bad)
{
    cr_assert_eq(json_array_size(signers), c->nsigs, "%s: signer count", where);
    for (uint32_t i = 0; i < c->nsigs; i++) {
        json_t *s = json_array_get(signers, i);
        kula_vote v;
        kula_hash sighash;
        commit_vote(&v, c, i, KULA_VOTE_PRECOMMIT);
        kula_vote_sighash(&sighash, &net->chain_id, &v);
        if (!bad) {
            check_signer(net, s, c->sigs[i].validator, &c->sigs[i].sig, &sighash);
            continue;
        }
        cr_assert_eq(ju64(s, "member"), c->sigs[i].validator);
        kula_buf body;
        kula_buf_init(&body);
        commit_vote(&v, c, i, vote_type_of(s));
        cr_assert_eq(kula_vote_encode_body(&body, &v), 0);
        check_badsigner(s, &sighash, body.data, body.len, &c->sigs[i].sig);
        kula_buf_free(&body);
    }
}

/* ---- per structure ---- */

typedef struct counts {
    unsigned valid, invalid;
    unsigned by_err[256]; /* by -error */
} counts;

static void tx_valid(const network *net, json_t *file, json_t *v, const uint8_t *p, size_t n)
{
    kula_tx tx, again;
    cr_assert_eq(kula_tx_decode(&tx, p, n), 0, "%s: does not decode", where);
    /* a file of one kind says which (tx_dated.json holds several) */
    if (json_object_get(file, "kind") != NULL)
        cr_assert_str_eq(kula_tx_kind_name(tx.kind), jstr(file, "kind"), "%s: kind", where);
    json_t *got = vj_tx(&tx);
    expect_json(got, jget(v, "fields"));
    json_decref(got);

    kula_buf b;
    kula_buf_init(&b);
    cr_assert_eq(kula_tx_encode(&b, &tx), 0);
    expect_bytes("re-encoding", b.data, b.len, p, n);

    kula_buf store; /* the Shapley values of the one rule a tx may have */
    kula_buf_init(&store);
    tx_from(&again, jget(v, "fields"), jget(v, "signers"), &store);
    kula_buf_reset(&b);
    cr_assert_eq(kula_tx_encode(&b, &again), 0, "%s: fields do not encode", where);
    expect_bytes("encoding of fields", b.data, b.len, p, n);

    size_t bn;
    uint8_t *body = jbytes(v, "body_hex", &bn);
    expect_bytes("body", tx.body, tx.body_len, body, bn);
    kula_hash id;
    kula_hash_bytes(&id, body, bn);
    expect_hash("tx id", &tx.id, v, "hash");
    expect_hash("BLAKE2b-256(body)", &id, v, "hash");

    kula_hash sighash;
    kula_tx_sighash(&sighash, &net->chain_id, &tx);
    json_t *signers = jget(v, "signers");
    cr_assert_eq(json_array_size(signers), tx.nsigs, "%s: signer count", where);
    for (uint32_t i = 0; i < tx.nsigs; i++)
        check_signer(net, json_array_get(signers, i), tx.sigs[i].signer, &tx.sigs[i].sig,
                     &sighash);
    if (tx.kind == KULA_TX_EVIDENCE) {
        /* The votes' own signatures, under the vote tag (SPEC §6.18). */
        json_t *vs = jget(v, "vote_signers");
        cr_assert_eq(json_array_size(vs), 2, "%s: two vote signers", where);
        const kula_vote *votes[2] = { &tx.u.evidence.a, &tx.u.evidence.b };
        for (int i = 0; i < 2; i++) {
            kula_hash vh;
            kula_vote_sighash(&vh, &net->chain_id, votes[i]);
            check_signer(net, json_array_get(vs, (size_t)i), votes[i]->validator,
                         &votes[i]->sig, &vh);
        }
    }
    free(body);
    kula_buf_free(&b);
    kula_buf_free(&store);
}

static void tx_badsig(const network *net, json_t *v, const uint8_t *p, size_t n)
{
    kula_tx tx;
    cr_assert_eq(kula_tx_decode(&tx, p, n), 0, "%s: an EBADSIG vector must decode", where);
    kula_hash sighash;
    kula_tx_sighash(&sighash, &net->chain_id, &tx);
    json_t *signers = jget(v, "signers");
    cr_assert_eq(json_array_size(signers), tx.nsigs, "%s: signer count", where);
    for (uint32_t i = 0; i < tx.nsigs; i++) {
        json_t *s = json_array_get(signers, i);
        cr_assert_eq(ju64(s, "member"), tx.sigs[i].signer);
        check_badsigner(s, &sighash, tx.body, tx.body_len, &tx.sigs[i].sig);
    }
}

static void header_valid(json_t *v, const uint8_t *p, size_t n)
{
    kula_header h, again;
    cr_assert_eq(kula_header_decode(&h, p, n), 0, "%s: does not decode", where);
    json_t *got = vj_header(&h);
    expect_json(got, jget(v, "fields"));
    json_decref(got);
    kula_buf b;
    kula_buf_init(&b);
    cr_assert_eq(kula_header_encode(&b, &h), 0);
    expect_bytes("re-encoding", b.data, b.len, p, n);
    header_from(&again, jget(v, "fields"));
    kula_buf_reset(&b);
    cr_assert_eq(kula_header_encode(&b, &again), 0);
    expect_bytes("encoding of fields", b.data, b.len, p, n);
    kula_hash hash, direct;
    kula_header_hash(&hash, &h);
    kula_hash_bytes(&direct, p, n);
    expect_hash("block hash", &hash, v, "hash");
    expect_hash("BLAKE2b-256(header)", &direct, v, "hash");
    kula_buf_free(&b);
}

static void vote_valid(const network *net, json_t *v, const uint8_t *p, size_t n)
{
    kula_vote vote, again;
    cr_assert_eq(kula_vote_decode(&vote, p, n), 0, "%s: does not decode", where);
    json_t *got = kula_vote_to_json(&vote, false);
    expect_json(got, jget(v, "fields"));
    json_decref(got);
    kula_buf b;
    kula_buf_init(&b);
    cr_assert_eq(kula_vote_encode(&b, &vote), 0);
    expect_bytes("re-encoding", b.data, b.len, p, n);
    vote_from(&again, jget(v, "fields"), jget(v, "signers"));
    kula_buf_reset(&b);
    cr_assert_eq(kula_vote_encode(&b, &again), 0);
    expect_bytes("encoding of fields", b.data, b.len, p, n);
    size_t bn;
    uint8_t *body = jbytes(v, "body_hex", &bn);
    kula_buf_reset(&b);
    cr_assert_eq(kula_vote_encode_body(&b, &vote), 0);
    expect_bytes("body", b.data, b.len, body, bn);
    kula_hash sighash, direct;
    kula_vote_sighash(&sighash, &net->chain_id, &vote);
    kula_signing_digest(&direct, KULA_TAG_VOTE, &net->chain_id, body, bn);
    expect_bytes("sighash over body_hex", direct.b, KULA_HASH_LEN, sighash.b, KULA_HASH_LEN);
    check_signer(net, json_array_get(jget(v, "signers"), 0), vote.validator, &vote.sig,
                 &sighash);
    free(body);
    kula_buf_free(&b);
}

static void vote_badsig(const network *net, json_t *v, const uint8_t *p, size_t n)
{
    kula_vote vote;
    cr_assert_eq(kula_vote_decode(&vote, p, n), 0, "%s: an EBADSIG vector must decode", where);
    kula_hash sighash;
    kula_vote_sighash(&sighash, &net->chain_id, &vote);
    json_t *s = json_array_get(jget(v, "signers"), 0);
    cr_assert(s != NULL);
    kula_vote as = vote;
    as.type = vote_type_of(s);
    kula_buf body;
    kula_buf_init(&body);
    cr_assert_eq(kula_vote_encode_body(&body, &as), 0);
    check_badsigner(s, &sighash, body.data, body.len, &vote.sig);
    kula_buf_free(&body);
}

static kula_commit commit_a, commit_b;

static void commit_valid(const network *net, json_t *v, const uint8_t *p, size_t n)
{
    cr_assert_eq(kula_commit_decode(&commit_a, p, n), 0, "%s: does not decode", where);
    json_t *got = vj_commit(&commit_a);
    expect_json(got, jget(v, "fields"));
    json_decref(got);
    kula_buf b;
    kula_buf_init(&b);
    cr_assert_eq(kula_commit_encode(&b, &commit_a), 0);
    expect_bytes("re-encoding", b.data, b.len, p, n);
    commit_from(&commit_b, jget(v, "fields"), jget(v, "signers"));
    kula_buf_reset(&b);
    cr_assert_eq(kula_commit_encode(&b, &commit_b), 0);
    expect_bytes("encoding of fields", b.data, b.len, p, n);
    kula_hash hash, direct;
    kula_commit_hash(&hash, &commit_a);
    kula_hash_bytes(&direct, p, n);
    expect_hash("commit hash", &hash, v, "hash");
    expect_hash("BLAKE2b-256(commit)", &direct, v, "hash");
    check_commit_sigs(net, &commit_a, jget(v, "signers"), false);
    kula_buf_free(&b);
}

static void commit_badsig(const network *net, json_t *v, const uint8_t *p, size_t n)
{
    cr_assert_eq(kula_commit_decode(&commit_a, p, n), 0, "%s: an EBADSIG vector must decode",
                 where);
    check_commit_sigs(net, &commit_a, jget(v, "signers"), true);
}

/* kula_block_decode_txs reads blk's bytes p as kula_block_decode did, with
 * each transaction's id; kula_tx_decode_prefix finds each transaction's
 * end with bytes after it; a block with a value that is no transaction
 * decodes only the walking way. */
static void check_decode_txs(const kula_block *blk, const uint8_t *p, size_t n)
{
    kula_block b2;
    kula_hash *ids;
    cr_assert_eq(kula_block_decode_txs(&b2, p, n, &ids), 0, "%s: decode_txs", where);
    cr_assert_eq(b2.ntxs, blk->ntxs);
    cr_assert_eq(b2.ntxs == 0, ids == NULL);
    cr_assert_arr_eq(b2.hash.b, blk->hash.b, KULA_HASH_LEN);
    cr_assert_eq(b2.header_raw, blk->header_raw);
    cr_assert_eq(b2.header_raw_len, blk->header_raw_len);
    cr_assert_eq(b2.has_last_commit, blk->has_last_commit);
    for (uint32_t i = 0; i < blk->ntxs; i++) {
        cr_assert_eq(b2.txs[i], blk->txs[i], "%s: tx %u", where, i);
        cr_assert_eq(b2.tx_lens[i], blk->tx_lens[i], "%s: tx %u", where, i);
        kula_tx tx;
        cr_assert_eq(kula_tx_decode(&tx, blk->txs[i], blk->tx_lens[i]), 0);
        cr_assert_arr_eq(ids[i].b, tx.id.b, KULA_HASH_LEN, "%s: id of tx %u", where, i);
        /* the transaction, then the bytes that follow it in the block */
        size_t used = 1;
        size_t rest = n - (size_t)(blk->txs[i] - p);
        cr_assert_eq(kula_tx_decode_prefix(&tx, blk->txs[i], rest, &used), 0);
        cr_assert_eq(used, blk->tx_lens[i]);
        cr_assert_arr_eq(tx.id.b, ids[i].b, KULA_HASH_LEN);
        cr_assert_neq(kula_tx_decode_prefix(&tx, blk->txs[i], blk->tx_lens[i] - 1, &used), 0);
        cr_assert_eq(used, 0);
    }
    free(ids);
    kula_block_free(&b2);

    /* the same header with a transaction that is a value but no transaction */
    kula_buf b;
    kula_buf_init(&b);
    const uint8_t one = 0x01;
    const uint8_t *tp[1] = { &one };
    size_t tl[1] = { 1 };
    cr_assert_eq(kula_block_encode(&b, &blk->header, tp, tl, 1, NULL), 0);
    cr_assert_eq(kula_block_decode(&b2, b.data, b.len), 0);
    kula_block_free(&b2);
    cr_assert_neq(kula_block_decode_txs(&b2, b.data, b.len, &ids), 0);
    cr_assert_null(ids);
    cr_assert_null(b2.txs);
    kula_buf_free(&b);
}

static void block_valid(const network *net, json_t *v, const uint8_t *p, size_t n)
{
    kula_block blk;
    cr_assert_eq(kula_block_decode(&blk, p, n), 0, "%s: does not decode", where);
    json_t *f = jget(v, "fields");
    json_t *got = json_object(), *txs = json_array();
    json_object_set_new(got, "header", vj_header(&blk.header));
    for (uint32_t i = 0; i < blk.ntxs; i++)
        json_array_append_new(txs, vj_hex(blk.txs[i], blk.tx_lens[i]));
    json_object_set_new(got, "txs", txs);
    json_object_set_new(got, "last_commit",
                        blk.has_last_commit ? vj_commit(blk.last_commit) : json_null());
    expect_json(got, f);
    json_decref(got);

    kula_buf b;
    kula_buf_init(&b);
    cr_assert_eq(kula_block_encode(&b, &blk.header, blk.txs, blk.tx_lens, blk.ntxs,
                                   blk.has_last_commit ? blk.last_commit : NULL),
                 0);
    expect_bytes("re-encoding", b.data, b.len, p, n);

    /* From the fields: header, the transactions' bytes, the commit. */
    kula_header h;
    header_from(&h, jget(f, "header"));
    json_t *ftxs = jget(f, "txs");
    uint32_t ntxs = (uint32_t)json_array_size(ftxs);
    const uint8_t **tp = calloc(ntxs + 1, sizeof(*tp));
    size_t *tl = calloc(ntxs + 1, sizeof(*tl));
    for (uint32_t i = 0; i < ntxs; i++) {
        tp[i] = tu_unhex(json_string_value(json_array_get(ftxs, i)), &tl[i]);
        kula_tx tx;
        cr_assert_eq(kula_tx_decode(&tx, tp[i], tl[i]), 0, "%s: tx %u does not decode", where,
                     i);
    }
    bool has_commit = !json_is_null(jget(f, "last_commit"));
    if (has_commit)
        commit_from(&commit_b, jget(f, "last_commit"), jget(v, "signers"));
    kula_buf_reset(&b);
    cr_assert_eq(kula_block_encode(&b, &h, tp, tl, ntxs, has_commit ? &commit_b : NULL), 0);
    expect_bytes("encoding of fields", b.data, b.len, p, n);

    kula_hash hash, root, zero = { { 0 } };
    kula_header_hash(&hash, &blk.header);
    expect_hash("block hash", &hash, v, "hash");
    expect_hash("kula_block_decode's hash", &blk.hash, v, "hash");
    kula_txs_root(&root, blk.txs, blk.tx_lens, blk.ntxs);
    expect_bytes("txs_root", blk.header.txs_root.b, KULA_HASH_LEN, root.b, KULA_HASH_LEN);
    if (blk.has_last_commit) {
        kula_hash ch;
        kula_commit_hash(&ch, blk.last_commit);
        expect_bytes("last_commit_hash", blk.header.last_commit_hash.b, KULA_HASH_LEN, ch.b,
                     KULA_HASH_LEN);
        check_commit_sigs(net, blk.last_commit, jget(v, "signers"), false);
    } else {
        expect_bytes("last_commit_hash", blk.header.last_commit_hash.b, KULA_HASH_LEN, zero.b,
                     KULA_HASH_LEN);
        cr_assert_eq(json_array_size(jget(v, "signers")), 0);
    }
    check_decode_txs(&blk, p, n);
    for (uint32_t i = 0; i < ntxs; i++)
        free((void *)tp[i]);
    free(tp);
    free(tl);
    kula_buf_free(&b);
    kula_block_free(&blk);
}

static void block_badsig(const network *net, json_t *v, const uint8_t *p, size_t n)
{
    kula_block blk;
    cr_assert_eq(kula_block_decode(&blk, p, n), 0, "%s: an EBADSIG vector must decode", where);
    cr_assert(blk.has_last_commit, "%s: EBADSIG block without a commit", where);
    check_commit_sigs(net, blk.last_commit, jget(v, "signers"), true);
    kula_block_free(&blk);
}

static void genesis_valid(json_t *v, const uint8_t *p, size_t n)
{
    kula_genesis g, again, fromjson, back;
    cr_assert_eq(kula_genesis_decode(&g, p, n), 0, "%s: does not decode", where);
    json_t *got = genesis_json(&g);
    expect_json(got, jget(v, "fields"));
    json_decref(got);
    expect_hash("chain id", &g.chain_id, v, "hash");
    kula_hash direct;
    kula_hash_bytes(&direct, p, n);
    expect_hash("BLAKE2b-256(genesis)", &direct, v, "hash");

    kula_buf b;
    kula_buf_init(&b);
    cr_assert_eq(kula_genesis_encode(&b, &g), 0);
    expect_bytes("re-encoding", b.data, b.len, p, n);
    genesis_from(&again, jget(v, "fields"));
    kula_buf_reset(&b);
    cr_assert_eq(kula_genesis_encode(&b, &again), 0);
    expect_bytes("encoding of fields", b.data, b.len, p, n);

    /* GENESIS.json gives the same canonical bytes and chain id. */
    char *text = json_dumps(jget(v, "json"), JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    kula_error err;
    cr_assert_eq(kula_genesis_parse_json(&fromjson, text, strlen(text), &err), 0,
                 "%s: GENESIS.json rejected: %s", where, err.what);
    kula_buf_reset(&b);
    cr_assert_eq(kula_genesis_encode(&b, &fromjson), 0);
    expect_bytes("canonical form of GENESIS.json", b.data, b.len, p, n);
    expect_hash("chain id of GENESIS.json", &fromjson.chain_id, v, "hash");
    cr_assert_eq(fromjson.has_dev_key,
                 json_object_get(jget(v, "json"), "development_only") != NULL);
    free(text);

    /* And kula_genesis_to_json writes JSON that parses back to it. */
    text = kula_genesis_to_json(&g);
    cr_assert(text != NULL);
    cr_assert_eq(kula_genesis_parse_json(&back, text, strlen(text), &err), 0,
                 "%s: kula_genesis_to_json output rejected: %s", where, err.what);
    expect_hash("chain id after to_json", &back.chain_id, v, "hash");
    free(text);
    kula_genesis_free(&back);
    kula_genesis_free(&fromjson);
    kula_genesis_free(&again);
    kula_genesis_free(&g);
    kula_buf_free(&b);
}

/* ---- proposal.json (SPEC §7.3) ---- */

static json_t *proposal_json(const kula_block_proposal *q)
{
    json_t *o = json_object();
    json_object_set_new(o, "version", json_integer(KULA_PROPOSAL_VERSION));
    json_object_set_new(o, "height", kula_json_u64(q->height));
    json_object_set_new(o, "round", json_integer(q->round));
    json_object_set_new(o, "pol_round", json_integer(q->pol_round));
    json_object_set_new(o, "block_hash", vj_hash(&q->block_hash));
    json_object_set_new(o, "proposer", json_integer(q->proposer));
    return o;
}

static void proposal_from(kula_block_proposal *q, json_t *f, json_t *signers)
{
    memset(q, 0, sizeof(*q));
    cr_assert_eq(ju64(f, "version"), KULA_PROPOSAL_VERSION);
    q->height = ju64(f, "height");
    q->round = ju32(f, "round");
    q->pol_round = ji64(f, "pol_round");
    q->block_hash = jhash(f, "block_hash");
    q->proposer = ju32(f, "proposer");
    cr_assert_eq(json_array_size(signers), 1, "%s: a proposal has one signer", where);
    jhexn(json_array_get(signers, 0), "sig", q->sig.b, KULA_SIG_LEN);
}

static void proposal_valid(const network *net, json_t *v, const uint8_t *p, size_t n)
{
    kula_block_proposal q, again;
    cr_assert_eq(kula_block_proposal_decode(&q, p, n), 0, "%s: does not decode", where);
    json_t *got = proposal_json(&q);
    expect_json(got, jget(v, "fields"));
    json_decref(got);
    kula_buf b;
    kula_buf_init(&b);
    cr_assert_eq(kula_block_proposal_encode(&b, &q), 0);
    expect_bytes("re-encoding", b.data, b.len, p, n);
    proposal_from(&again, jget(v, "fields"), jget(v, "signers"));
    kula_buf_reset(&b);
    cr_assert_eq(kula_block_proposal_encode(&b, &again), 0);
    expect_bytes("encoding of fields", b.data, b.len, p, n);
    size_t bn;
    uint8_t *body = jbytes(v, "body_hex", &bn);
    kula_buf_reset(&b);
    cr_assert_eq(kula_block_proposal_encode_body(&b, &q), 0);
    expect_bytes("body", b.data, b.len, body, bn);
    kula_hash sighash, direct;
    kula_block_proposal_sighash(&sighash, &net->chain_id, &q);
    kula_signing_digest(&direct, KULA_TAG_PROPOSAL, &net->chain_id, body, bn);
    expect_bytes("sighash over body_hex", direct.b, KULA_HASH_LEN, sighash.b, KULA_HASH_LEN);
    check_signer(net, json_array_get(jget(v, "signers"), 0), q.proposer, &q.sig, &sighash);
    free(body);
    kula_buf_free(&b);
}

static void proposal_badsig(const network *net, json_t *v, const uint8_t *p, size_t n)
{
    kula_block_proposal q;
    cr_assert_eq(kula_block_proposal_decode(&q, p, n), 0, "%s: an EBADSIG vector must decode",
                 where);
    kula_hash sighash;
    kula_block_proposal_sighash(&sighash, &net->chain_id, &q);
    json_t *s = json_array_get(jget(v, "signers"), 0);
    cr_assert(s != NULL);
    kula_buf body;
    kula_buf_init(&body);
    cr_assert_eq(kula_block_proposal_encode_body(&body, &q), 0);
    check_badsigner(s, &sighash, body.data, body.len, &q.sig);
    kula_buf_free(&body);
}

/* Returns: what the structure's decoder says about p. */
static int decode_as(const char *structure, const uint8_t *p, size_t n)
{
    int rc;
    if (strcmp(structure, "tx") == 0) {
        kula_tx tx;
        rc = kula_tx_decode(&tx, p, n);
    } else if (strcmp(structure, "header") == 0) {
        kula_header h;
        rc = kula_header_decode(&h, p, n);
    } else if (strcmp(structure, "proposal") == 0) {
        kula_block_proposal q;
        rc = kula_block_proposal_decode(&q, p, n);
    } else if (strcmp(structure, "vote") == 0) {
        kula_vote v;
        rc = kula_vote_decode(&v, p, n);
    } else if (strcmp(structure, "commit") == 0) {
        rc = kula_commit_decode(&commit_a, p, n);
    } else if (strcmp(structure, "block") == 0) {
        kula_block b;
        rc = kula_block_decode(&b, p, n);
        if (rc == 0)
            kula_block_free(&b);
        /* what the walk refuses, decoding each transaction refuses too */
        kula_hash *ids;
        if (rc != 0)
            cr_assert_neq(kula_block_decode_txs(&b, p, n, &ids), 0, "%s: decode_txs", where);
        else if (kula_block_decode_txs(&b, p, n, &ids) == 0)
            kula_block_free(&b);
        free(ids);
    } else {
        cr_assert_str_eq(structure, "genesis");
        kula_genesis g;
        rc = kula_genesis_decode(&g, p, n);
        if (rc == 0)
            kula_genesis_free(&g);
    }
    return rc;
}

/* Error classes each structure's invalid vectors must include. */
static const struct {
    const char *structure;
    const char *errors[10];
} required[] = {
    { "genesis", { "ENONCANON", "ETRAILING", "ETOOBIG", "EVERSION", "EARITY", "EUTF8",
                   "ETRUNC", "EGENESIS" } },
    { "tx", { "ENONCANON", "ETRAILING", "ETOOBIG", "EVERSION", "EARITY", "EUTF8", "EORDER",
              "EBADSIG" } },
    { "header", { "ENONCANON", "ETRAILING", "ETOOBIG", "EVERSION", "EARITY", "ETRUNC" } },
    { "block", { "ENONCANON", "ETRAILING", "ETOOBIG", "EVERSION", "EARITY", "EUTF8", "EORDER",
                 "EBADSIG" } },
    /* Votes and commits have no version field and no text. */
    { "vote", { "ENONCANON", "ETRAILING", "ETOOBIG", "EARITY", "EBADSIG", "ETRUNC" } },
    { "proposal", { "ENONCANON", "ETRAILING", "ETOOBIG", "EVERSION", "EARITY", "ERANGE",
                    "EBADSIG", "ETRUNC" } },
    { "commit", { "ENONCANON", "ETRAILING", "ETOOBIG", "EARITY", "EORDER", "EBADSIG" } },
};

static void run_file(const char *file, const char *want_structure)
{
    network net;
    load_network(&net);
    json_t *root = load(file);
    counts c;
    memset(&c, 0, sizeof(c));
    at(file, "");
    const char *structure = jstr(root, "structure");
    cr_assert_str_eq(structure, want_structure, "%s: structure", file);
    expect_hash("file chain_id", &net.chain_id, root, "chain_id");

    json_t *valid = json_object_get(root, "valid"), *v;
    size_t i;
    json_array_foreach(valid, i, v) {
        at(file, jstr(v, "name"));
        size_t n;
        uint8_t *p = jbytes(v, "hex", &n);
        if (strcmp(structure, "tx") == 0)
            tx_valid(&net, root, v, p, n);
        else if (strcmp(structure, "header") == 0)
            header_valid(v, p, n);
        else if (strcmp(structure, "proposal") == 0)
            proposal_valid(&net, v, p, n);
        else if (strcmp(structure, "vote") == 0)
            vote_valid(&net, v, p, n);
        else if (strcmp(structure, "commit") == 0)
            commit_valid(&net, v, p, n);
        else if (strcmp(structure, "block") == 0)
            block_valid(&net, v, p, n);
        else
            genesis_valid(v, p, n);
        free(p);
        c.valid++;
    }

    json_t *invalid = json_object_get(root, "invalid");
    json_array_foreach(invalid, i, v) {
        at(file, jstr(v, "name"));
        const char *ename = jstr(v, "error");
        int want = errcode(ename);
        cr_assert(want < 0, "%s: \"%s\" is not a kula error name", where, ename);
        jstr(v, "why");
        if (json_object_get(v, "json_text") != NULL) {
            const char *text = jstr(v, "json_text");
            kula_genesis g;
            int rc = kula_genesis_parse_json(&g, text, strlen(text), NULL);
            if (rc == 0)
                kula_genesis_free(&g);
            cr_assert_eq(rc, want, "%s: kula_genesis_parse_json gives %s, want %s", where,
                         kula_errname(rc), ename);
        } else {
            size_t n;
            uint8_t *p = jbytes(v, "hex", &n);
            if (want == KULA_EBADSIG) {
                if (strcmp(structure, "tx") == 0)
                    tx_badsig(&net, v, p, n);
                else if (strcmp(structure, "proposal") == 0)
                    proposal_badsig(&net, v, p, n);
                else if (strcmp(structure, "vote") == 0)
                    vote_badsig(&net, v, p, n);
                else if (strcmp(structure, "commit") == 0)
                    commit_badsig(&net, v, p, n);
                else if (strcmp(structure, "block") == 0)
                    block_badsig(&net, v, p, n);
                else
                    cr_assert_fail("%s: EBADSIG for an unsigned structure", where);
            } else {
                int rc = decode_as(structure, p, n);
                cr_assert_eq(rc, want, "%s: decoder gives %s, want %s", where, kula_errname(rc),
                             ename);
            }
            free(p);
        }
        c.invalid++;
        c.by_err[-want]++;
    }

    for (size_t k = 0; k < sizeof(required) / sizeof(required[0]); k++) {
        if (strcmp(required[k].structure, structure) != 0)
            continue;
        for (size_t e = 0; e < 10 && required[k].errors[e] != NULL; e++)
            cr_assert(c.by_err[-errcode(required[k].errors[e])] > 0,
                      "%s: no invalid vector for %s", file, required[k].errors[e]);
    }
    cr_assert(c.valid > 0 && c.invalid > 0);
    fprintf(stderr, "%s: %u valid, %u invalid vectors checked\n", file, c.valid, c.invalid);
    json_decref(root);
}

/* ---- one test per file ---- */

static const char *const tx_files[] = {
    "tx_transfer.json", "tx_exchange.json", "tx_referral.json", "tx_conversion.json",
    "tx_agreement_open.json", "tx_agreement_amend.json", "tx_contribute.json",
    "tx_benefit.json", "tx_settle.json", "tx_agreement_close.json", "tx_feedback.json",
    "tx_propose.json", "tx_vote.json", "tx_evidence.json", "tx_invoice.json",
    "tx_invoice_accept.json", "tx_invoice_dispute.json", "tx_invoice_cancel.json",
    "tx_invoice_pay.json", "tx_clearing_settle.json",
};

Test(vectors, genesis) { run_file("genesis.json", "genesis"); }
Test(vectors, tx_transfer) { run_file("tx_transfer.json", "tx"); }
Test(vectors, tx_exchange) { run_file("tx_exchange.json", "tx"); }
Test(vectors, tx_referral) { run_file("tx_referral.json", "tx"); }
Test(vectors, tx_conversion) { run_file("tx_conversion.json", "tx"); }
Test(vectors, tx_agreement_open) { run_file("tx_agreement_open.json", "tx"); }
Test(vectors, tx_agreement_amend) { run_file("tx_agreement_amend.json", "tx"); }
Test(vectors, tx_contribute) { run_file("tx_contribute.json", "tx"); }
Test(vectors, tx_benefit) { run_file("tx_benefit.json", "tx"); }
Test(vectors, tx_settle) { run_file("tx_settle.json", "tx"); }
Test(vectors, tx_agreement_close) { run_file("tx_agreement_close.json", "tx"); }
Test(vectors, tx_feedback) { run_file("tx_feedback.json", "tx"); }
Test(vectors, tx_propose) { run_file("tx_propose.json", "tx"); }
Test(vectors, tx_vote) { run_file("tx_vote.json", "tx"); }
Test(vectors, tx_evidence) { run_file("tx_evidence.json", "tx"); }
Test(vectors, tx_invoice) { run_file("tx_invoice.json", "tx"); }
Test(vectors, tx_invoice_accept) { run_file("tx_invoice_accept.json", "tx"); }
Test(vectors, tx_invoice_dispute) { run_file("tx_invoice_dispute.json", "tx"); }
Test(vectors, tx_invoice_cancel) { run_file("tx_invoice_cancel.json", "tx"); }
Test(vectors, tx_invoice_pay) { run_file("tx_invoice_pay.json", "tx"); }
Test(vectors, tx_clearing_settle) { run_file("tx_clearing_settle.json", "tx"); }
Test(vectors, tx_dated) { run_file("tx_dated.json", "tx"); }
Test(vectors, header) { run_file("header.json", "header"); }
Test(vectors, block) { run_file("block.json", "block"); }
Test(vectors, vote) { run_file("vote.json", "vote"); }
Test(vectors, proposal) { run_file("proposal.json", "proposal"); }
Test(vectors, commit) { run_file("commit.json", "commit"); }

/* Every transaction kind has its file, every propose action kind and every
 * distribution rule a valid vector; and no protocol vector file in
 * proto/vectors/ goes unchecked. */
Test(vectors, coverage)
{
    bool kinds[KULA_TX_KIND_MAX + 1] = { false };
    for (size_t i = 0; i < sizeof(tx_files) / sizeof(tx_files[0]); i++) {
        json_t *root = load(tx_files[i]);
        at(tx_files[i], "");
        const char *kind = jstr(root, "kind");
        for (unsigned k = 1; k <= KULA_TX_KIND_MAX; k++)
            if (strcmp(kind, kula_tx_kind_name(k)) == 0)
                kinds[k] = true;
        if (strcmp(kind, "propose") == 0 || strcmp(kind, "agreement-open") == 0) {
            bool seen[16] = { false };
            json_t *v;
            size_t j;
            json_array_foreach(json_object_get(root, "valid"), j, v) {
                at(tx_files[i], jstr(v, "name"));
                size_t n;
                uint8_t *p = jbytes(v, "hex", &n);
                kula_tx tx;
                cr_assert_eq(kula_tx_decode(&tx, p, n), 0);
                if (tx.kind == KULA_TX_PROPOSE)
                    seen[tx.u.propose.action.kind & 15] = true;
                else
                    seen[tx.u.open.rule.kind & 15] = true;
                if (tx.kind == KULA_TX_AGREEMENT_OPEN && tx.u.open.rule.kind == KULA_RULE_SHAPLEY)
                    cr_assert(tx.u.open.nparties == 3 && tx.u.open.rule.nvalues == 8,
                              "%s: the Shapley vector has 3 parties and 8 values", where);
                free(p);
            }
            unsigned lo = strcmp(kind, "propose") == 0 ? KULA_ACT_ADMIT : KULA_RULE_EQUAL;
            unsigned hi = strcmp(kind, "propose") == 0 ? KULA_ACT_KIND_MAX : KULA_RULE_SHAPLEY;
            for (unsigned k = lo; k <= hi; k++)
                cr_assert(seen[k] || (strcmp(kind, "propose") == 0 && !kula_action_kind_name(k)),
                          "%s: no valid vector of kind %u", tx_files[i], k);
        }
        json_decref(root);
    }
    for (unsigned k = 1; k <= KULA_TX_KIND_MAX; k++)
        cr_assert(kinds[k], "no vector file for transaction kind %s", kula_tx_kind_name(k));

    /* Every *.json with a "structure" must be one of ours (keystore.json and
     * other formats' vectors have none and are checked elsewhere). */
    static const char *const others[] = { "genesis.json", "header.json", "block.json",
                                          "vote.json", "commit.json", "proposal.json",
                                          "tx_dated.json" /* transactions of several kinds */ };
    /* Vector files with a "structure" that another test reads byte for byte. */
    static const char *const elsewhere[] = { "handshake.json" /* test_handshake.c */,
                                             "wire.json" /* Test(vectors, wire) */ };
    DIR *d = opendir(tu_src("proto/vectors"));
    cr_assert(d != NULL, "proto/vectors is missing");
    struct dirent *e;
    unsigned ours = 0;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        char rel[512];
        snprintf(rel, sizeof(rel), "proto/vectors/%s", e->d_name);
        json_t *root = json_load_file(tu_src(rel), 0, NULL);
        cr_assert(root != NULL, "%s is not JSON", e->d_name);
        bool checked_elsewhere = false;
        for (size_t i = 0; i < sizeof(elsewhere) / sizeof(elsewhere[0]); i++)
            checked_elsewhere = checked_elsewhere || strcmp(e->d_name, elsewhere[i]) == 0;
        if (json_object_get(root, "structure") != NULL && !checked_elsewhere) {
            bool known = false;
            for (size_t i = 0; i < sizeof(tx_files) / sizeof(tx_files[0]); i++)
                known = known || strcmp(e->d_name, tx_files[i]) == 0;
            for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
                known = known || strcmp(e->d_name, others[i]) == 0;
            cr_assert(known, "%s: a vector file no test reads (add it to test_vectors.c)",
                      e->d_name);
            ours++;
        }
        json_decref(root);
    }
    closedir(d);
    cr_assert_eq(ours,
                 sizeof(tx_files) / sizeof(tx_files[0]) + sizeof(others) / sizeof(others[0]),
                 "expected every protocol vector file in proto/vectors");
}

/* ---- wire.json: peer messages (SPEC §12) ----
 *
 * Each valid message decodes, its fields are the vector's, it re-encodes to
 * its bytes, the fields encode to the same bytes, and every structure it
 * carries is accepted by that structure's own decoder.  Each invalid one
 * gives exactly its error. */

static json_t *wire_json(const kula_msg *m)
{
    json_t *o = json_object();
    const char *name = kula_msg_type_name(m->type);
    cr_assert(name != NULL, "%s: decoded an unknown type %u", where, m->type);
    json_object_set_new(o, "type", json_string(name));
    switch ((enum kula_msg_type)m->type) {
    case KULA_MSG_STATUS:
        json_object_set_new(o, "height", kula_json_u64(m->u.status.height));
        json_object_set_new(o, "tip", vj_hash(&m->u.status.tip));
        json_object_set_new(o, "listen_port", json_integer(m->u.status.listen_port));
        break;
    case KULA_MSG_TX:
        json_object_set_new(o, "tx", vj_hex(m->u.tx.tx, m->u.tx.len));
        break;
    case KULA_MSG_PROPOSAL:
        json_object_set_new(o, "proposal",
                            vj_hex(m->u.proposal.proposal, m->u.proposal.proposal_len));
        json_object_set_new(o, "block", vj_hex(m->u.proposal.block, m->u.proposal.block_len));
        break;
    case KULA_MSG_VOTE:
        json_object_set_new(o, "vote", vj_hex(m->u.vote.vote, m->u.vote.len));
        break;
    case KULA_MSG_GET_BLOCKS:
        json_object_set_new(o, "from", kula_json_u64(m->u.get_blocks.from));
        json_object_set_new(o, "count", json_integer(m->u.get_blocks.count));
        break;
    case KULA_MSG_BLOCK:
        json_object_set_new(o, "height", kula_json_u64(m->u.block.height));
        json_object_set_new(o, "block", vj_hex(m->u.block.block, m->u.block.block_len));
        json_object_set_new(o, "commit", vj_hex(m->u.block.commit, m->u.block.commit_len));
        break;
    case KULA_MSG_GET_PEERS:
        break;
    case KULA_MSG_PEERS: {
        json_t *a = json_array();
        for (uint32_t i = 0; i < m->u.peers.n; i++) {
            json_t *e = json_object();
            json_object_set_new(e, "ip", vj_hex(m->u.peers.addrs[i].ip,
                                               m->u.peers.addrs[i].ip_len));
            json_object_set_new(e, "port", json_integer(m->u.peers.addrs[i].port));
            json_array_append_new(a, e);
        }
        json_object_set_new(o, "addrs", a);
        break;
    }
    case KULA_MSG_EVIDENCE:
        json_object_set_new(o, "vote_a", vj_hex(m->u.evidence.a, m->u.evidence.a_len));
        json_object_set_new(o, "vote_b", vj_hex(m->u.evidence.b, m->u.evidence.b_len));
        break;
    case KULA_MSG_GET_SNAPSHOTS:
        json_object_set_new(o, "from", kula_json_u64(m->u.get_snapshots.from));
        break;
    case KULA_MSG_SNAPSHOTS: {
        json_t *a = json_array();
        for (uint32_t i = 0; i < m->u.snapshots.n; i++)
            json_array_append_new(a, vj_hex(m->u.snapshots.items[i].p,
                                             m->u.snapshots.items[i].len));
        json_object_set_new(o, "items", a);
        break;
    }
    case KULA_MSG_GET_CHUNK:
        json_object_set_new(o, "height", kula_json_u64(m->u.get_chunk.height));
        json_object_set_new(o, "index", json_integer(m->u.get_chunk.index));
        break;
    case KULA_MSG_CHUNK:
        json_object_set_new(o, "height", kula_json_u64(m->u.chunk.height));
        json_object_set_new(o, "index", json_integer(m->u.chunk.index));
        json_object_set_new(o, "total", json_integer(m->u.chunk.total));
        json_object_set_new(o, "data", vj_hex(m->u.chunk.data, m->u.chunk.len));
        break;
    case KULA_MSG_TX_BATCH: {
        json_t *a = json_array();
        size_t off = 0, len, ilen;
        const uint8_t *tx, *item;
        while (kula_msg_batch_next(m, &off, &tx, &len, &item, &ilen))
            json_array_append_new(a, vj_hex(tx, len));
        cr_assert_eq(json_array_size(a), m->u.tx_batch.n, "%s: the batch's count", where);
        json_object_set_new(o, "txs", a);
        break;
    }
    }
    return o;
}

/* Bytes the message built from fields borrows (at most one per SNAPSHOTS
 * item, two for the other types); freed by wire_free. */
typedef struct wire_owned {
    uint8_t *p[KULA_MAX_SNAPSHOT_ITEMS];
} wire_owned;

static const uint8_t *wire_jbytes(wire_owned *w, int i, json_t *f, const char *key, size_t *n)
{
    w->p[i] = jbytes(f, key, n);
    return w->p[i];
}

static void wire_free(wire_owned *w)
{
    for (size_t i = 0; i < KULA_MAX_SNAPSHOT_ITEMS; i++)
        free(w->p[i]);
}

/* The message the vector's fields describe. */
static void wire_from(kula_msg *m, wire_owned *w, json_t *f)
{
    memset(m, 0, sizeof(*m));
    memset(w, 0, sizeof(*w));
    const char *name = jstr(f, "type");
    for (unsigned t = 1; t <= KULA_MSG_TYPE_MAX; t++)
        if (strcmp(name, kula_msg_type_name(t)) == 0)
            m->type = (uint8_t)t;
    cr_assert(m->type != 0, "%s: unknown type \"%s\"", where, name);
    switch ((enum kula_msg_type)m->type) {
    case KULA_MSG_STATUS:
        m->u.status.height = ju64(f, "height");
        m->u.status.tip = jhash(f, "tip");
        uint32_t lport = ju32(f, "listen_port");
        cr_assert_leq(lport, 65535, "%s: listen_port", where);
        m->u.status.listen_port = (uint16_t)lport;
        break;
    case KULA_MSG_TX:
        m->u.tx.tx = wire_jbytes(w, 0, f, "tx", &m->u.tx.len);
        break;
    case KULA_MSG_PROPOSAL:
        m->u.proposal.proposal = wire_jbytes(w, 0, f, "proposal", &m->u.proposal.proposal_len);
        m->u.proposal.block = wire_jbytes(w, 1, f, "block", &m->u.proposal.block_len);
        break;
    case KULA_MSG_VOTE:
        m->u.vote.vote = wire_jbytes(w, 0, f, "vote", &m->u.vote.len);
        break;
    case KULA_MSG_GET_BLOCKS:
        m->u.get_blocks.from = ju64(f, "from");
        m->u.get_blocks.count = ju32(f, "count");
        break;
    case KULA_MSG_BLOCK:
        m->u.block.height = ju64(f, "height");
        m->u.block.block = wire_jbytes(w, 0, f, "block", &m->u.block.block_len);
        m->u.block.commit = wire_jbytes(w, 1, f, "commit", &m->u.block.commit_len);
        break;
    case KULA_MSG_GET_PEERS:
        break;
    case KULA_MSG_PEERS: {
        json_t *a = jget(f, "addrs"), *e;
        size_t i;
        cr_assert_leq(json_array_size(a), KULA_MAX_PEER_ADDRS, "%s: addrs", where);
        json_array_foreach(a, i, e) {
            kula_peer_addr *x = &m->u.peers.addrs[i];
            size_t n;
            uint8_t *ip = jbytes(e, "ip", &n);
            cr_assert(n == 4 || n == 16, "%s: ip of %zu bytes", where, n);
            memcpy(x->ip, ip, n);
            x->ip_len = (uint8_t)n;
            free(ip);
            uint32_t port = ju32(e, "port");
            cr_assert_leq(port, 65535, "%s: port", where);
            x->port = (uint16_t)port;
        }
        m->u.peers.n = (uint32_t)json_array_size(a);
        break;
    }
    case KULA_MSG_EVIDENCE:
        m->u.evidence.a = wire_jbytes(w, 0, f, "vote_a", &m->u.evidence.a_len);
        m->u.evidence.b = wire_jbytes(w, 1, f, "vote_b", &m->u.evidence.b_len);
        break;
    case KULA_MSG_GET_SNAPSHOTS:
        m->u.get_snapshots.from = ju64(f, "from");
        break;
    case KULA_MSG_SNAPSHOTS: {
        json_t *a = jget(f, "items"), *e;
        size_t i;
        cr_assert(json_is_array(a), "%s: items is not an array", where);
        cr_assert_leq(json_array_size(a), KULA_MAX_SNAPSHOT_ITEMS, "%s: items", where);
        json_array_foreach(a, i, e) {
            cr_assert(json_is_string(e), "%s: item %zu is not hex", where, i);
            w->p[i] = tu_unhex(json_string_value(e), &m->u.snapshots.items[i].len);
            m->u.snapshots.items[i].p = w->p[i];
        }
        m->u.snapshots.n = (uint32_t)json_array_size(a);
        break;
    }
    case KULA_MSG_GET_CHUNK:
        m->u.get_chunk.height = ju64(f, "height");
        m->u.get_chunk.index = ju32(f, "index");
        break;
    case KULA_MSG_CHUNK:
        m->u.chunk.height = ju64(f, "height");
        m->u.chunk.index = ju32(f, "index");
        m->u.chunk.total = ju32(f, "total");
        m->u.chunk.data = wire_jbytes(w, 0, f, "data", &m->u.chunk.len);
        break;
    case KULA_MSG_TX_BATCH: {
        /* the transactions as the bins the message carries, one after the other */
        json_t *a = jget(f, "txs"), *e;
        size_t i;
        cr_assert(json_is_array(a), "%s: txs is not an array", where);
        kula_buf items;
        kula_buf_init(&items);
        kula_writer wr;
        kula_writer_init(&wr, &items);
        json_array_foreach(a, i, e) {
            cr_assert(json_is_string(e), "%s: tx %zu is not hex", where, i);
            size_t n;
            uint8_t *tx = tu_unhex(json_string_value(e), &n);
            kula_w_bin(&wr, tx, n);
            free(tx);
        }
        cr_assert_eq(items.err, 0);
        w->p[0] = items.data; /* freed by wire_free */
        m->u.tx_batch.items = items.data;
        m->u.tx_batch.len = items.len;
        m->u.tx_batch.n = (uint32_t)json_array_size(a);
        break;
    }
    }
}

/* The structures a valid message carries are valid themselves. */
static void wire_nested(const kula_msg *m)
{
    kula_tx tx;
    kula_vote va, vb;
    kula_block blk;
    kula_block_proposal prop;
    switch ((enum kula_msg_type)m->type) {
    case KULA_MSG_STATUS:
    case KULA_MSG_GET_BLOCKS:
    case KULA_MSG_GET_PEERS:
    case KULA_MSG_PEERS:
    case KULA_MSG_GET_SNAPSHOTS:
    case KULA_MSG_GET_CHUNK:
    case KULA_MSG_CHUNK: /* raw bytes of a state copy */
        break;
    case KULA_MSG_SNAPSHOTS:
        /* A snapshot proof's layout is SPEC §12.2's, not yet written: the
         * vectors' items are placeholders, checked as bytes only. */
        break;
    case KULA_MSG_TX:
        cr_assert_eq(kula_tx_decode(&tx, m->u.tx.tx, m->u.tx.len), 0, "%s: tx", where);
        break;
    case KULA_MSG_TX_BATCH: {
        size_t off = 0, len, ilen;
        const uint8_t *t, *item;
        while (kula_msg_batch_next(m, &off, &t, &len, &item, &ilen))
            cr_assert_eq(kula_tx_decode(&tx, t, len), 0, "%s: a tx of the batch", where);
        break;
    }
    case KULA_MSG_PROPOSAL:
        cr_assert_eq(kula_block_proposal_decode(&prop, m->u.proposal.proposal,
                                                m->u.proposal.proposal_len), 0,
                     "%s: proposal", where);
        cr_assert_eq(kula_block_decode(&blk, m->u.proposal.block, m->u.proposal.block_len), 0,
                     "%s: block", where);
        cr_assert_eq(memcmp(blk.hash.b, prop.block_hash.b, KULA_HASH_LEN), 0,
                     "%s: the proposal names another block", where);
        cr_assert_eq(blk.header.height, prop.height, "%s: proposal height", where);
        kula_block_free(&blk);
        break;
    case KULA_MSG_VOTE:
        cr_assert_eq(kula_vote_decode(&va, m->u.vote.vote, m->u.vote.len), 0, "%s: vote", where);
        break;
    case KULA_MSG_BLOCK:
        cr_assert_eq(kula_block_decode(&blk, m->u.block.block, m->u.block.block_len), 0,
                     "%s: block", where);
        cr_assert_eq(kula_commit_decode(&commit_a, m->u.block.commit, m->u.block.commit_len), 0,
                     "%s: commit", where);
        cr_assert_eq(blk.header.height, m->u.block.height, "%s: block height", where);
        cr_assert_eq(commit_a.height, m->u.block.height, "%s: commit height", where);
        cr_assert_eq(memcmp(commit_a.block_hash.b, blk.hash.b, KULA_HASH_LEN), 0,
                     "%s: the commit is for another block", where);
        kula_block_free(&blk);
        break;
    case KULA_MSG_EVIDENCE:
        cr_assert_eq(kula_vote_decode(&va, m->u.evidence.a, m->u.evidence.a_len), 0,
                     "%s: vote_a", where);
        cr_assert_eq(kula_vote_decode(&vb, m->u.evidence.b, m->u.evidence.b_len), 0,
                     "%s: vote_b", where);
        cr_assert(va.validator == vb.validator && va.type == vb.type &&
                      va.height == vb.height && va.round == vb.round &&
                      (va.has_block != vb.has_block ||
                       memcmp(va.block_hash.b, vb.block_hash.b, KULA_HASH_LEN) != 0),
                  "%s: the votes do not conflict", where);
        break;
    }
}

Test(vectors, wire)
{
    static const char *const file = "wire.json";
    network net;
    load_network(&net);
    json_t *root = load(file);
    at(file, "");
    cr_assert_str_eq(jstr(root, "structure"), "message", "%s: structure", file);
    expect_hash("file chain_id", &net.chain_id, root, "chain_id");
    counts c;
    memset(&c, 0, sizeof(c));
    bool seen[KULA_MSG_TYPE_MAX + 1] = { false };

    json_t *v;
    size_t i;
    json_array_foreach(json_object_get(root, "valid"), i, v) {
        at(file, jstr(v, "name"));
        size_t n;
        uint8_t *p = jbytes(v, "hex", &n);
        kula_msg m, f;
        wire_owned w;
        int rc = kula_msg_decode(&m, p, n);
        cr_assert_eq(rc, 0, "%s: does not decode (%s)", where, kula_errname(rc));
        seen[m.type] = true;
        json_t *got = wire_json(&m);
        expect_json(got, jget(v, "fields"));
        json_decref(got);
        kula_buf b;
        kula_buf_init(&b);
        cr_assert_eq(kula_msg_encode(&b, &m), 0, "%s: does not re-encode", where);
        expect_bytes("re-encoding", b.data, b.len, p, n);
        wire_from(&f, &w, jget(v, "fields"));
        kula_buf_reset(&b);
        cr_assert_eq(kula_msg_encode(&b, &f), 0, "%s: fields do not encode", where);
        expect_bytes("encoding of fields", b.data, b.len, p, n);
        wire_nested(&m);
        wire_free(&w);
        kula_buf_free(&b);
        free(p);
        c.valid++;
    }
    json_array_foreach(json_object_get(root, "invalid"), i, v) {
        at(file, jstr(v, "name"));
        const char *ename = jstr(v, "error");
        int want = errcode(ename);
        cr_assert(want < 0, "%s: \"%s\" is not a kula error name", where, ename);
        jstr(v, "why");
        size_t n;
        uint8_t *p = jbytes(v, "hex", &n);
        kula_msg m;
        int rc = kula_msg_decode(&m, p, n);
        cr_assert_eq(rc, want, "%s: decoder gives %s, want %s", where, kula_errname(rc), ename);
        free(p);
        c.invalid++;
        c.by_err[-want]++;
    }
    for (unsigned t = 1; t <= KULA_MSG_TYPE_MAX; t++)
        cr_assert(seen[t], "%s: no valid vector of type %s", file, kula_msg_type_name(t));
    static const char *const errs[] = { "ENONCANON", "ETRAILING", "ETOOBIG", "EVERSION",
                                        "EARITY", "ERANGE", "ETRUNC", "ETYPE" };
    for (size_t k = 0; k < sizeof(errs) / sizeof(errs[0]); k++)
        cr_assert(c.by_err[-errcode(errs[k])] > 0, "%s: no invalid vector for %s", file,
                  errs[k]);
    fprintf(stderr, "%s: %u valid, %u invalid vectors checked\n", file, c.valid, c.invalid);
    json_decref(root);
}

/* ---- end of wire.json ---- */
