/* test_genesis.c -- GENESIS.json parsing and validation, the canonical form and
 * the chain id, parameter range checks and UTC times. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kula/codec/codec.h"
#include "kula/crypto/crypto.h"
#include "kula/base/error.h"
#include "kula/types/genesis.h"
#include "kula/types/types.h"
#include "testutil.h"

/* The chain id of the repository's GENESIS.json, as printed by
 * `kula genesis check GENESIS.json`.  It changes only if the file or the
 * canonical encoding (proto/SPEC.md §8.1) changes: either must be deliberate. */
static const char REPO_CHAIN_ID[] =
    "f2a61e22c3da52027b5f15b2f9cf4c8737388d52d38734483d3061b5b70e8e63";
static const char DEV_PUBKEY[] =
    "89f0ad5f04b0b0af00ce91583951e5ef3d9ece0a9f0325a13138eb29f845e93e";

static void setup(void) { cr_assert_eq(kula_crypto_init(), 0); }

TestSuite(genesis, .init = setup);

/* ---- helpers ---- */

static json_t *repo_json(void)
{
    json_error_t e;
    json_t *root = json_load_file(tu_src("GENESIS.json"), JSON_PRESERVE_ORDER, &e);
    cr_assert_not_null(root, "cannot load GENESIS.json: %s", e.text);
    return root;
}

static json_t *member0(json_t *root)
{
    return json_array_get(json_object_get(root, "members"), 0);
}

/* Parses root (dumped to text); returns the result code, err the message. */
static int parse_root(json_t *root, char *err, size_t errlen)
{
    char *text = json_dumps(root, JSON_PRESERVE_ORDER);
    cr_assert_not_null(text);
    kula_genesis g;
    kula_error e = { 0 };
    int rc = kula_genesis_parse_json(&g, text, strlen(text), &e);
    snprintf(err, errlen, "%s", e.what);
    if (rc == 0)
        kula_genesis_free(&g);
    free(text);
    json_decref(root);
    return rc;
}

/* Asserts that root is rejected with KULA_EGENESIS and a message containing
 * every one of the NULL-terminated substrings. */
static void expect_reject(json_t *root, ...)
{
    char err[512];
    int rc = parse_root(root, err, sizeof(err));
    cr_assert_eq(rc, KULA_EGENESIS, "expected KULA_EGENESIS, got %d (%s)", rc, err);
    cr_assert_eq(strchr(err, '\n'), NULL, "message is one line: %s", err);
    va_list ap;
    va_start(ap, root);
    const char *want;
    while ((want = va_arg(ap, const char *)) != NULL)
        cr_assert_not_null(strstr(err, want), "message \"%s\" lacks \"%s\"", err, want);
    va_end(ap);
}

static int parse_text(const char *text, kula_error *e)
{
    kula_genesis g;
    int rc = kula_genesis_parse_json(&g, text, strlen(text), e);
    if (rc == 0)
        kula_genesis_free(&g);
    return rc;
}

/* A second valid key pair (BIP-340 test vector index 1). */
static void other_key(kula_seckey *sk, char pkhex[65], char skhex[65])
{
    static const char hex[] = "b7e151628aed2a6abf7158809cf4f3c762e7160f38b4da56a784d9045190cfef";
    cr_assert_eq(kula_hex_decode(sk->b, 32, hex), 0);
    kula_pubkey pk;
    cr_assert_eq(kula_key_public(&pk, sk), 0);
    kula_hex_encode(pkhex, pk.b, 32);
    if (skhex != NULL)
        strcpy(skhex, hex);
}

static json_t *second_member(const char *name, const char *pkhex, json_int_t power)
{
    return json_pack("{s:s, s:s, s:s, s:I}", "name", name, "sector", "test", "pubkey", pkhex,
                     "voting_power", power);
}

/* ---- the repository's genesis ---- */

Test(genesis, repo_file_loads)
{
    kula_genesis g;
    kula_error err;
    cr_assert_eq(kula_genesis_load(&g, tu_src("GENESIS.json"), &err), 0, "%s", err.what);
    cr_assert_str_eq(g.network, "kula-devnet");
    cr_assert_str_eq(g.unit, "KULA");
    cr_assert_eq(g.decimals, 2);
    cr_assert_eq(g.time_ms, UINT64_C(1795478400) * 1000);
    cr_assert_eq(g.params.default_credit_limit, 100000);
    cr_assert_eq(g.params.threshold_num, 2);
    cr_assert_eq(g.params.threshold_den, 3);
    cr_assert_eq(g.params.proposal_ttl, 10000);
    cr_assert_eq(g.params.block_interval_ms, 1000);
    cr_assert_eq(g.params.timeout_propose_ms, 3000);
    cr_assert_eq(g.params.timeout_vote_ms, 1000);
    cr_assert_eq(g.params.timeout_delta_ms, 500);
    cr_assert_eq(g.params.max_block_txs, 10000);
    cr_assert_eq(g.nmembers, 1);
    cr_assert_str_eq(g.members[0].name, "Dev Validator");
    cr_assert_str_eq(g.members[0].sector, "development");
    cr_assert_eq(g.members[0].credit_limit, 100000);
    cr_assert_eq(g.members[0].voting_power, 1);
    char hex[65];
    kula_hex_encode(hex, g.members[0].pubkey.b, 32);
    cr_assert_str_eq(hex, DEV_PUBKEY);

    /* The development key is present and is the validator's. */
    cr_assert(g.has_dev_key);
    kula_pubkey pk;
    cr_assert_eq(kula_key_public(&pk, &g.dev_key), 0);
    cr_assert(memcmp(pk.b, g.members[0].pubkey.b, 32) == 0);

    kula_hex_encode(hex, g.chain_id.b, 32);
    cr_assert_str_eq(hex, REPO_CHAIN_ID, "chain id of GENESIS.json changed");
    kula_genesis_free(&g);
    cr_assert_null(g.members);
    cr_assert(!g.has_dev_key);
}

Test(genesis, chain_id_is_hash_of_canonical_encoding)
{
    kula_genesis g;
    kula_error err;
    cr_assert_eq(kula_genesis_load(&g, tu_src("GENESIS.json"), &err), 0);
    kula_buf b;
    kula_buf_init(&b);
    cr_assert_eq(kula_genesis_encode(&b, &g), 0);
    kula_hash h;
    kula_hash_bytes(&h, b.data, b.len);
    cr_assert(memcmp(h.b, g.chain_id.b, 32) == 0);
    /* The canonical form starts [version 1, "kula-devnet", ["KULA", 2], ...]. */
    cr_assert_eq(b.data[0], 0x96);
    cr_assert_eq(b.data[1], KULA_VERSION);
    cr_assert_eq(b.data[2], 0xa0 | 11);
    cr_assert(memcmp(b.data + 3, "kula-devnet", 11) == 0);
    cr_assert_eq(b.data[14], 0x92);
    cr_assert_eq(b.data[15], 0xa4);
    cr_assert(memcmp(b.data + 16, "KULA", 4) == 0);
    cr_assert_eq(b.data[20], 2);
    kula_buf_free(&b);
    kula_genesis_free(&g);
}

Test(genesis, encode_decode_round_trip)
{
    kula_genesis g, d;
    kula_error err;
    cr_assert_eq(kula_genesis_load(&g, tu_src("GENESIS.json"), &err), 0);
    kula_buf b;
    kula_buf_init(&b);
    cr_assert_eq(kula_genesis_encode(&b, &g), 0);
    cr_assert_eq(kula_genesis_decode(&d, b.data, b.len), 0);
    cr_assert(memcmp(d.chain_id.b, g.chain_id.b, 32) == 0);
    char hex[65];
    kula_hex_encode(hex, d.chain_id.b, 32);
    cr_assert_str_eq(hex, REPO_CHAIN_ID);
    cr_assert_str_eq(d.network, g.network);
    cr_assert_str_eq(d.unit, g.unit);
    cr_assert_eq(d.decimals, g.decimals);
    cr_assert_eq(d.time_ms, g.time_ms);
    cr_assert(memcmp(&d.params, &g.params, sizeof(d.params)) == 0);
    cr_assert_eq(d.nmembers, g.nmembers);
    cr_assert_str_eq(d.members[0].name, g.members[0].name);
    cr_assert(memcmp(d.members[0].pubkey.b, g.members[0].pubkey.b, 32) == 0);
    /* The development key is never part of the canonical form. */
    cr_assert(!d.has_dev_key);

    /* Re-encoding the decoded genesis gives the same bytes. */
    kula_buf b2;
    kula_buf_init(&b2);
    cr_assert_eq(kula_genesis_encode(&b2, &d), 0);
    cr_assert_eq(b2.len, b.len);
    cr_assert(memcmp(b2.data, b.data, b.len) == 0);
    kula_buf_free(&b2);

    /* Every truncation fails cleanly. */
    for (size_t cut = 0; cut < b.len; cut++) {
        uint8_t *t = malloc(cut ? cut : 1);
        memcpy(t, b.data, cut);
        kula_genesis x;
        cr_assert_neq(kula_genesis_decode(&x, t, cut), 0, "cut at %zu", cut);
        cr_assert_null(x.members);
        free(t);
    }
    /* Trailing bytes. */
    uint8_t zero = 0;
    kula_buf_append(&b, &zero, 1);
    kula_genesis x;
    cr_assert_eq(kula_genesis_decode(&x, b.data, b.len), KULA_ETRAILING);
    b.len--;
    /* Another version. */
    b.data[1] = 2;
    cr_assert_eq(kula_genesis_decode(&x, b.data, b.len), KULA_EVERSION);
    kula_buf_free(&b);
    kula_genesis_free(&d);
    kula_genesis_free(&g);
}

Test(genesis, decode_is_strict)
{
    kula_genesis g, d;
    kula_error err;
    cr_assert_eq(kula_genesis_load(&g, tu_src("GENESIS.json"), &err), 0);
    kula_buf b;
    kula_buf_init(&b);
    cr_assert_eq(kula_genesis_encode(&b, &g), 0);
    cr_assert_eq(b.data[2], 0xab); /* fixstr of 11: "kula-devnet" */

    /* A NUL inside a text field would cut it short: not canonical. */
    b.data[3 + 10] = '\0';
    cr_assert_eq(kula_genesis_decode(&d, b.data, b.len), KULA_ENONCANON);
    cr_assert_null(d.members);
    b.data[3 + 10] = 't';
    cr_assert_eq(kula_genesis_decode(&d, b.data, b.len), 0);
    kula_genesis_free(&d);

    /* Seven fields, version 1: wrong arity; version 2: the version speaks first. */
    kula_buf x;
    kula_buf_init(&x);
    uint8_t hdr = 0x97;
    kula_buf_append(&x, &hdr, 1);
    kula_buf_append(&x, b.data + 1, b.len - 1);
    uint8_t nil = 0xc0;
    kula_buf_append(&x, &nil, 1);
    cr_assert_eq(kula_genesis_decode(&d, x.data, x.len), KULA_EARITY);
    x.data[1] = 2;
    cr_assert_eq(kula_genesis_decode(&d, x.data, x.len), KULA_EVERSION);
    kula_buf_free(&x);
    kula_buf_free(&b);

    /* Genesis time in whole seconds only. */
    g.time_ms += 500;
    cr_assert_eq(kula_genesis_validate(&g, &err), KULA_EGENESIS);
    cr_assert_not_null(strstr(err.what, "genesis_time"), "%s", err.what);
    kula_buf_init(&b);
    cr_assert_eq(kula_genesis_encode(&b, &g), 0);
    cr_assert_eq(kula_genesis_decode(&d, b.data, b.len), KULA_EGENESIS);
    kula_buf_free(&b);
    kula_genesis_free(&g);
}

Test(genesis, decode_validates)
{
    kula_genesis g, d;
    kula_error err;
    cr_assert_eq(kula_genesis_load(&g, tu_src("GENESIS.json"), &err), 0);
    /* A structurally fine encoding of an invalid genesis: no validator. */
    g.members[0].voting_power = 0;
    kula_buf b;
    kula_buf_init(&b);
    cr_assert_eq(kula_genesis_encode(&b, &g), 0);
    cr_assert_eq(kula_genesis_decode(&d, b.data, b.len), KULA_EGENESIS);
    kula_buf_free(&b);
    kula_genesis_free(&g);
}

Test(genesis, to_json_round_trip)
{
    kula_genesis g, j;
    kula_error err;
    cr_assert_eq(kula_genesis_load(&g, tu_src("GENESIS.json"), &err), 0);
    char *text = kula_genesis_to_json(&g);
    cr_assert_not_null(text);
    cr_assert_null(strstr(text, "development_only"), "to_json must not write the dev key");
    cr_assert_null(strstr(text, "15f3bbfe"), "to_json must not write the dev key");
    cr_assert_eq(kula_genesis_parse_json(&j, text, strlen(text), &err), 0, "%s",
                 err.what);
    cr_assert(memcmp(j.chain_id.b, g.chain_id.b, 32) == 0);
    cr_assert(!j.has_dev_key);
    free(text);
    kula_genesis_free(&j);
    kula_genesis_free(&g);
}

Test(genesis, chain_id_depends_on_content)
{
    kula_genesis a, b;
    kula_error err;
    cr_assert_eq(kula_genesis_load(&a, tu_src("GENESIS.json"), &err), 0);
    json_t *root = repo_json();
    json_object_set_new(json_object_get(root, "params"), "timeout_delta_ms", json_integer(501));
    char *text = json_dumps(root, 0);
    json_decref(root);
    cr_assert_eq(kula_genesis_parse_json(&b, text, strlen(text), &err), 0, "%s", err.what);
    free(text);
    cr_assert(memcmp(a.chain_id.b, b.chain_id.b, 32) != 0);
    kula_genesis_free(&a);
    kula_genesis_free(&b);

    /* The warning text and the key order of the file do not matter. */
    root = repo_json();
    json_object_set_new(json_object_get(root, "development_only"), "warning",
                        json_string("another warning"));
    text = json_dumps(root, JSON_SORT_KEYS);
    json_decref(root);
    cr_assert_eq(kula_genesis_parse_json(&b, text, strlen(text), &err), 0, "%s", err.what);
    free(text);
    char hex[65];
    kula_hex_encode(hex, b.chain_id.b, 32);
    cr_assert_str_eq(hex, REPO_CHAIN_ID);
    kula_genesis_free(&b);
}

Test(genesis, optional_member_fields_take_defaults)
{
    json_t *root = repo_json();
    json_t *m = member0(root);
    json_object_del(m, "credit_limit");
    char *text = json_dumps(root, 0);
    kula_genesis g;
    kula_error err;
    cr_assert_eq(kula_genesis_parse_json(&g, text, strlen(text), &err), 0, "%s", err.what);
    cr_assert_eq(g.members[0].credit_limit, g.params.default_credit_limit);
    kula_genesis_free(&g);
    free(text);
    /* Without voting_power the only member is no validator. */
    json_object_del(m, "voting_power");
    expect_reject(root, "members", "validator", NULL);
}

/* ---- rejected files, each naming the field ---- */

Test(genesis, missing_fields)
{
    static const char *const top[] = { "network", "unit", "genesis_time", "params", "members" };
    for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++) {
        json_t *root = repo_json();
        json_object_del(root, top[i]);
        expect_reject(root, top[i], "missing", NULL);
    }
    json_t *root = repo_json();
    json_object_del(json_object_get(root, "unit"), "decimals");
    expect_reject(root, "unit.decimals", "missing", NULL);
    root = repo_json();
    json_object_del(json_object_get(root, "params"), "max_block_txs");
    expect_reject(root, "params.max_block_txs", "missing", NULL);
    root = repo_json();
    json_object_del(member0(root), "pubkey");
    expect_reject(root, "members[0].pubkey", "missing", NULL);
    root = repo_json();
    json_object_del(member0(root), "name");
    expect_reject(root, "members[0].name", "missing", NULL);
    root = repo_json();
    json_object_del(json_object_get(root, "development_only"), "validator_secret_key");
    expect_reject(root, "development_only.validator_secret_key", "missing", NULL);
}

Test(genesis, unknown_fields)
{
    json_t *root = repo_json();
    json_object_set_new(root, "colour", json_string("blue"));
    expect_reject(root, "colour", "unknown field", NULL);
    root = repo_json();
    json_object_set_new(member0(root), "email", json_string("x@example.org"));
    expect_reject(root, "members[0].email", "unknown field", NULL);
    root = repo_json();
    json_object_set_new(json_object_get(root, "params"), "block_size", json_integer(1));
    expect_reject(root, "params.block_size", "unknown field", NULL);
    root = repo_json();
    json_object_set_new(json_object_get(root, "unit"), "symbol", json_string("K"));
    expect_reject(root, "unit.symbol", "unknown field", NULL);
    root = repo_json();
    json_object_set_new(json_object_get(root, "development_only"), "extra", json_true());
    expect_reject(root, "development_only.extra", "unknown field", NULL);
}

Test(genesis, bad_pubkeys)
{
    json_t *root = repo_json();
    json_object_set_new(member0(root), "pubkey", json_string("xyz"));
    expect_reject(root, "members[0].pubkey", "64 hex", NULL);
    root = repo_json();
    /* 63 digits */
    json_object_set_new(member0(root), "pubkey", json_string(DEV_PUBKEY + 1));
    expect_reject(root, "members[0].pubkey", "64 hex", NULL);
    root = repo_json();
    char g64[65];
    memset(g64, 'g', 64);
    g64[64] = '\0';
    json_object_set_new(member0(root), "pubkey", json_string(g64));
    expect_reject(root, "members[0].pubkey", "64 hex", NULL);

    /* 64 hex digits of 'f': x >= p, not an x-only key. */
    char f64[65];
    memset(f64, 'f', 64);
    f64[64] = '\0';
    kula_pubkey bad;
    cr_assert_eq(kula_hex_decode(bad.b, 32, f64), 0);
    cr_assert(!kula_pubkey_valid(&bad), "the test's premise: ff..ff is not on the curve");
    root = repo_json();
    json_object_set_new(member0(root), "pubkey", json_string(f64));
    expect_reject(root, "members[0].pubkey", "not a valid BIP-340 public key", NULL);

    /* x = 5 has no point on secp256k1 (5^3 + 7 = 132 is not a square mod p). */
    char x5[65];
    memset(x5, '0', 64);
    x5[63] = '5';
    x5[64] = '\0';
    cr_assert_eq(kula_hex_decode(bad.b, 32, x5), 0);
    if (!kula_pubkey_valid(&bad)) {
        root = repo_json();
        json_object_set_new(member0(root), "pubkey", json_string(x5));
        expect_reject(root, "members[0].pubkey", "not a valid", NULL);
    }
}

Test(genesis, duplicate_members)
{
    /* The same key twice. */
    json_t *root = repo_json();
    json_array_append_new(json_object_get(root, "members"),
                          second_member("Other", DEV_PUBKEY, 0));
    expect_reject(root, "members[1].pubkey", "duplicate", NULL);

    /* The same name twice. */
    kula_seckey sk;
    char pk[65];
    other_key(&sk, pk, NULL);
    root = repo_json();
    json_array_append_new(json_object_get(root, "members"),
                          second_member("Dev Validator", pk, 0));
    expect_reject(root, "members[1].name", "duplicate", NULL);

    /* Among several members the later one of the first pair is named. */
    char pks[3][65];
    for (int i = 0; i < 3; i++) {
        kula_seckey k;
        memset(k.b, 0, sizeof(k.b));
        k.b[31] = (uint8_t)(i + 1);
        kula_pubkey p;
        cr_assert_eq(kula_key_public(&p, &k), 0);
        kula_hex_encode(pks[i], p.b, 32);
    }
    root = repo_json();
    json_t *ms = json_object_get(root, "members");
    json_array_append_new(ms, second_member("m1", pks[0], 0));
    json_array_append_new(ms, second_member("m2", pks[1], 0));
    json_array_append_new(ms, second_member("m1", pks[2], 0));
    expect_reject(root, "members[3].name: duplicate of members[1]", NULL);
    root = repo_json();
    ms = json_object_get(root, "members");
    json_array_append_new(ms, second_member("m1", pks[0], 0));
    json_array_append_new(ms, second_member("m2", pks[1], 0));
    json_array_append_new(ms, second_member("m3", pks[2], 0));
    json_array_append_new(ms, second_member("m4", pks[1], 0));
    expect_reject(root, "members[4].pubkey: duplicate of members[2]", NULL);

    /* A distinct second member is fine. */
    root = repo_json();
    json_array_append_new(json_object_get(root, "members"), second_member("Other", pk, 0));
    char err[256];
    cr_assert_eq(parse_root(root, err, sizeof(err)), 0, "%s", err);
}

Test(genesis, validator_rules)
{
    json_t *root = repo_json();
    json_object_set_new(member0(root), "voting_power", json_integer(0));
    expect_reject(root, "members", "voting_power", "validator", NULL);

    root = repo_json();
    json_object_set_new(root, "members", json_array());
    expect_reject(root, "members", "at least one", NULL);

    root = repo_json();
    json_object_set_new(member0(root), "voting_power", json_integer((json_int_t)1 << 49));
    expect_reject(root, "members[0].voting_power", NULL);
}

Test(genesis, threshold_and_param_ranges)
{
    json_t *root = repo_json();
    json_t *p = json_object_get(root, "params");
    json_object_set_new(p, "threshold_num", json_integer(1));
    json_object_set_new(p, "threshold_den", json_integer(3));
    expect_reject(root, "params", "threshold", "1/3", NULL);

    root = repo_json();
    p = json_object_get(root, "params");
    json_object_set_new(p, "threshold_num", json_integer(3));
    json_object_set_new(p, "threshold_den", json_integer(3));
    expect_reject(root, "params", "threshold", "3/3", NULL);

    /* Exactly one half is allowed. */
    root = repo_json();
    p = json_object_get(root, "params");
    json_object_set_new(p, "threshold_num", json_integer(1));
    json_object_set_new(p, "threshold_den", json_integer(2));
    char err[256];
    cr_assert_eq(parse_root(root, err, sizeof(err)), 0, "%s", err);

    static const struct { const char *name; json_int_t v; } out[] = {
        { "block_interval_ms", 9 },        { "block_interval_ms", 600001 },
        { "default_credit_limit", -1 },    { "threshold_num", 0 },
        { "threshold_den", 1 },            { "proposal_ttl_blocks", 0 },
        { "timeout_propose_ms", 5 },       { "timeout_vote_ms", 700000 },
        { "timeout_delta_ms", -1 },        { "max_block_txs", 0 },
        { "max_block_txs", KULA_MAX_BLOCK_TXS + 1 },
    };
    for (size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++) {
        root = repo_json();
        json_object_set_new(json_object_get(root, "params"), out[i].name,
                            json_integer(out[i].v));
        char want[64];
        snprintf(want, sizeof(want), "params.%s", out[i].name);
        expect_reject(root, want, "outside", NULL);
    }
    root = repo_json();
    json_object_set_new(json_object_get(root, "unit"), "decimals", json_integer(19));
    expect_reject(root, "unit.decimals", NULL);
    root = repo_json();
    json_object_set_new(member0(root), "credit_limit", json_integer(-5));
    expect_reject(root, "members[0].credit_limit", NULL);
}

Test(genesis, bad_genesis_time)
{
    static const char *const bad[] = { "2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z",
                                       "2026-11-24 00:00:00Z", "2026-11-24T00:00:00",
                                       "2026-11-24T00:00:00+00:00", "yesterday", "" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *root = repo_json();
        json_object_set_new(root, "genesis_time", json_string(bad[i]));
        expect_reject(root, "genesis_time", NULL);
    }
}

Test(genesis, wrong_types)
{
    json_t *root = repo_json();
    json_object_set_new(json_object_get(root, "params"), "threshold_num", json_string("2"));
    expect_reject(root, "params.threshold_num", "integer", NULL);
    root = repo_json();
    json_object_set_new(json_object_get(root, "params"), "block_interval_ms", json_real(1000.0));
    expect_reject(root, "params.block_interval_ms", "integer", NULL);
    root = repo_json();
    json_object_set_new(member0(root), "voting_power", json_string("1"));
    expect_reject(root, "members[0].voting_power", "integer", NULL);
    root = repo_json();
    json_object_set_new(json_object_get(root, "unit"), "decimals", json_true());
    expect_reject(root, "unit.decimals", "integer", NULL);
    root = repo_json();
    json_object_set_new(root, "network", json_integer(5));
    expect_reject(root, "network", "string", NULL);
    root = repo_json();
    json_object_set_new(member0(root), "name", json_null());
    expect_reject(root, "members[0].name", "string", NULL);
    root = repo_json();
    json_object_set_new(root, "members", json_object());
    expect_reject(root, "members", "array", NULL);
    root = repo_json();
    json_array_set_new(json_object_get(root, "members"), 0, json_string("me"));
    expect_reject(root, "members[0]", "object", NULL);
    root = repo_json();
    json_object_set_new(root, "unit", json_string("KULA"));
    expect_reject(root, "unit", "object", NULL);
    root = repo_json();
    json_object_set_new(root, "params", json_array());
    expect_reject(root, "params", "object", NULL);
    expect_reject(json_array(), "top level", "object", NULL);
}

Test(genesis, text_fields)
{
    json_t *root = repo_json();
    json_object_set_new(root, "network", json_string(""));
    expect_reject(root, "network", NULL);
    root = repo_json();
    json_object_set_new(member0(root), "name", json_string("tab\there"));
    expect_reject(root, "members[0].name", NULL);
    root = repo_json();
    char longname[80];
    memset(longname, 'n', 79);
    longname[79] = '\0';
    json_object_set_new(member0(root), "name", json_string(longname));
    expect_reject(root, "members[0].name", NULL);
    /* An embedded NUL never reaches the genesis: the JSON parser refuses it. */
    root = repo_json();
    json_object_set_new(member0(root), "sector", json_stringn("a\0b", 3));
    expect_reject(root, "line 1", NULL);
}

Test(genesis, invalid_json_reports_position)
{
    kula_error e;
    cr_assert_eq(parse_text("{ \"network\": ", &e), KULA_EGENESIS);
    cr_assert_not_null(strstr(e.what, "line 1"), "%s", e.what);
    cr_assert_not_null(strstr(e.what, "column"), "%s", e.what);

    cr_assert_eq(parse_text("{\n  \"network\": \"x\",\n  \"unit\": ,\n}", &e),
                 KULA_EGENESIS);
    cr_assert_not_null(strstr(e.what, "line 3"), "%s", e.what);
    cr_assert_not_null(strstr(e.what, "column"), "%s", e.what);

    cr_assert_eq(parse_text("", &e), KULA_EGENESIS);
    cr_assert_not_null(strstr(e.what, "line"), "%s", e.what);

    /* Duplicate keys are not silently merged. */
    cr_assert_eq(parse_text("{\"network\": \"a\", \"network\": \"b\"}", &e),
                 KULA_EGENESIS);
    cr_assert_not_null(strstr(e.what, "line 1"), "%s", e.what);
    cr_assert_not_null(strstr(e.what, "network"), "%s", e.what);
}

Test(genesis, dev_key_rules)
{
    /* A valid key that belongs to no member. */
    kula_seckey sk;
    char pk[65], skhex[65];
    other_key(&sk, pk, skhex);
    json_t *root = repo_json();
    json_object_set_new(json_object_get(root, "development_only"), "validator_secret_key",
                        json_string(skhex));
    expect_reject(root, "development_only.validator_secret_key", "no validator", NULL);

    /* A key of a member that is no validator. */
    root = repo_json();
    json_object_set_new(json_object_get(root, "development_only"), "validator_secret_key",
                        json_string(skhex));
    json_array_append_new(json_object_get(root, "members"), second_member("Other", pk, 0));
    expect_reject(root, "development_only.validator_secret_key", "no validator", NULL);

    /* ... and of one that is. */
    root = repo_json();
    json_object_set_new(json_object_get(root, "development_only"), "validator_secret_key",
                        json_string(skhex));
    json_array_append_new(json_object_get(root, "members"), second_member("Other", pk, 3));
    kula_error err;
    cr_assert_eq(parse_root(root, err.what, sizeof(err.what)), 0, "%s", err.what);

    /* The warning, when present, is text. */
    root = repo_json();
    json_object_set_new(json_object_get(root, "development_only"), "warning", json_integer(1));
    expect_reject(root, "development_only.warning", "string", NULL);

    /* Not hex; zero (not a valid secret key). */
    root = repo_json();
    json_object_set_new(json_object_get(root, "development_only"), "validator_secret_key",
                        json_string("nothex"));
    expect_reject(root, "development_only.validator_secret_key", "64 hex", NULL);
    char zero[65];
    memset(zero, '0', 64);
    zero[64] = '\0';
    root = repo_json();
    json_object_set_new(json_object_get(root, "development_only"), "validator_secret_key",
                        json_string(zero));
    expect_reject(root, "development_only.validator_secret_key", "not a valid key", NULL);

    /* Without a development section there is no dev key, same chain id. */
    root = repo_json();
    json_object_del(root, "development_only");
    char *text = json_dumps(root, 0);
    json_decref(root);
    kula_genesis g;
    cr_assert_eq(kula_genesis_parse_json(&g, text, strlen(text), &err), 0, "%s", err.what);
    free(text);
    cr_assert(!g.has_dev_key);
    char hex[65];
    kula_hex_encode(hex, g.chain_id.b, 32);
    cr_assert_str_eq(hex, REPO_CHAIN_ID);
    kula_genesis_free(&g);
}

Test(genesis, load_errors)
{
    kula_genesis g;
    kula_error err;
    cr_assert_eq(kula_genesis_load(&g, "/nonexistent/GENESIS.json", &err),
                 KULA_EGENESIS);
    cr_assert_not_null(strstr(err.what, "cannot open"), "%s", err.what);
    cr_assert_null(g.members);
}

/* ---- parameters ---- */

static kula_params repo_params(void)
{
    kula_genesis g;
    kula_error err;
    cr_assert_eq(kula_genesis_load(&g, tu_src("GENESIS.json"), &err), 0);
    kula_params p = g.params;
    kula_genesis_free(&g);
    return p;
}

static void expect_set_fails(uint32_t id, int64_t v)
{
    kula_params p = repo_params(), before = p;
    cr_assert_eq(kula_params_set(&p, id, v), KULA_EPARAM, "param %u = %lld accepted", id,
                 (long long)v);
    cr_assert(memcmp(&p, &before, sizeof(p)) == 0, "params changed by a failed set");
}

static void expect_set_ok(uint32_t id, int64_t v)
{
    kula_params p = repo_params();
    cr_assert_eq(kula_params_set(&p, id, v), 0, "param %u = %lld rejected", id, (long long)v);
    int64_t got = -12345;
    cr_assert_eq(kula_params_get(&p, id, &got), 0);
    cr_assert_eq(got, v);
}

Test(genesis, params_set_ranges)
{
    expect_set_ok(KULA_PARAM_DEFAULT_CREDIT_LIMIT, 0);
    expect_set_ok(KULA_PARAM_DEFAULT_CREDIT_LIMIT, INT64_MAX / 4);
    expect_set_fails(KULA_PARAM_DEFAULT_CREDIT_LIMIT, INT64_MAX / 4 + 1);
    expect_set_fails(KULA_PARAM_DEFAULT_CREDIT_LIMIT, -1);

    /* threshold 2/3 in the repo genesis: num in [2, 2], as 1/3 and 3/3 are not allowed */
    expect_set_fails(KULA_PARAM_THRESHOLD_NUM, 1);
    expect_set_fails(KULA_PARAM_THRESHOLD_NUM, 3);
    expect_set_fails(KULA_PARAM_THRESHOLD_NUM, 0);
    expect_set_ok(KULA_PARAM_THRESHOLD_NUM, 2);
    expect_set_ok(KULA_PARAM_THRESHOLD_DEN, 4);   /* 2/4 = one half */
    expect_set_fails(KULA_PARAM_THRESHOLD_DEN, 5); /* 2/5 < 1/2 */
    expect_set_fails(KULA_PARAM_THRESHOLD_DEN, 2); /* 2/2 = 1 */
    expect_set_fails(KULA_PARAM_THRESHOLD_DEN, 1001);
    /* Truncation to 32 bits would turn this into 3. */
    expect_set_fails(KULA_PARAM_THRESHOLD_DEN, (INT64_C(1) << 32) + 3);

    expect_set_ok(KULA_PARAM_PROPOSAL_TTL, 1);
    expect_set_ok(KULA_PARAM_PROPOSAL_TTL, 10000000);
    expect_set_fails(KULA_PARAM_PROPOSAL_TTL, 0);
    expect_set_fails(KULA_PARAM_PROPOSAL_TTL, 10000001);

    expect_set_ok(KULA_PARAM_BLOCK_INTERVAL_MS, 10);
    expect_set_ok(KULA_PARAM_BLOCK_INTERVAL_MS, 600000);
    expect_set_fails(KULA_PARAM_BLOCK_INTERVAL_MS, 9);
    expect_set_fails(KULA_PARAM_BLOCK_INTERVAL_MS, 600001);
    expect_set_fails(KULA_PARAM_TIMEOUT_PROPOSE_MS, 9);
    expect_set_fails(KULA_PARAM_TIMEOUT_VOTE_MS, 600001);
    expect_set_ok(KULA_PARAM_TIMEOUT_DELTA_MS, 0);
    expect_set_fails(KULA_PARAM_TIMEOUT_DELTA_MS, -1);
    expect_set_ok(KULA_PARAM_MAX_BLOCK_TXS, KULA_MAX_BLOCK_TXS);
    expect_set_fails(KULA_PARAM_MAX_BLOCK_TXS, KULA_MAX_BLOCK_TXS + 1);
    expect_set_fails(KULA_PARAM_MAX_BLOCK_TXS, 0);

    /* Unknown ids. */
    expect_set_fails(0, 1);
    expect_set_fails(KULA_PARAM_COUNT + 1, 1);
    kula_params p = repo_params();
    int64_t v = 77;
    cr_assert_eq(kula_params_get(&p, 0, &v), KULA_EPARAM);
    cr_assert_eq(kula_params_get(&p, KULA_PARAM_COUNT + 1, &v), KULA_EPARAM);
}

Test(genesis, params_names_and_validate)
{
    cr_assert_str_eq(kula_param_name(KULA_PARAM_DEFAULT_CREDIT_LIMIT), "default_credit_limit");
    cr_assert_str_eq(kula_param_name(KULA_PARAM_PROPOSAL_TTL), "proposal_ttl_blocks");
    cr_assert_str_eq(kula_param_name(KULA_PARAM_MAX_BLOCK_TXS), "max_block_txs");
    cr_assert_null(kula_param_name(0));
    cr_assert_null(kula_param_name(KULA_PARAM_COUNT + 1));

    kula_params p = repo_params();
    kula_error err;
    cr_assert_eq(kula_params_validate(&p, &err), 0);
    p.timeout_vote_ms = 5;
    cr_assert_eq(kula_params_validate(&p, &err), KULA_EPARAM);
    cr_assert_not_null(strstr(err.what, "timeout_vote_ms"), "%s", err.what);
    p = repo_params();
    p.threshold_num = 1;
    cr_assert_eq(kula_params_validate(&p, &err), KULA_EPARAM);
    cr_assert_not_null(strstr(err.what, "1/3"), "%s", err.what);
    cr_assert_eq(kula_params_validate(&p, NULL), KULA_EPARAM);
}

Test(genesis, params_assign)
{
    kula_params p = repo_params(), before = p;
    int64_t vals[KULA_PARAM_COUNT] = { 5, 3, 4, 100, 500, 2000, 500, 100, 50 };
    cr_assert_eq(kula_params_assign(&p, vals), 0);
    for (uint32_t id = 1; id <= KULA_PARAM_COUNT; id++) {
        int64_t v;
        cr_assert_eq(kula_params_get(&p, id, &v), 0);
        cr_assert_eq(v, vals[id - 1], "param %u", id);
    }
    p = before;
    vals[1] = 1; /* 1/4 */
    cr_assert_eq(kula_params_assign(&p, vals), KULA_EPARAM);
    cr_assert(memcmp(&p, &before, sizeof(p)) == 0);
    vals[1] = 3;
    vals[4] = 1; /* block interval */
    cr_assert_eq(kula_params_assign(&p, vals), KULA_EPARAM);
    cr_assert(memcmp(&p, &before, sizeof(p)) == 0);
}

/* ---- UTC times ---- */

Test(genesis, utc_parse_and_format)
{
    static const struct { const char *s; uint64_t secs; } ok[] = {
        { "1970-01-01T00:00:00Z", 0 },
        { "1970-01-01T00:00:01Z", 1 },
        { "2000-02-29T12:34:56Z", 951827696 },
        { "2026-11-24T00:00:00Z", 1795478400 },
        { "2099-12-31T23:59:59Z", 4102444799 },
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        uint64_t ms = 1;
        cr_assert_eq(kula_parse_utc(ok[i].s, &ms), 0, "%s", ok[i].s);
        cr_assert_eq(ms, ok[i].secs * 1000, "%s", ok[i].s);
        char buf[32];
        kula_format_utc(buf, sizeof(buf), ms);
        cr_assert_str_eq(buf, ok[i].s);
        /* Milliseconds are dropped when formatting. */
        kula_format_utc(buf, sizeof(buf), ms + 999);
        cr_assert_str_eq(buf, ok[i].s);
    }
    static const char *const bad[] = {
        "2026-02-30T00:00:00Z", "2023-02-29T00:00:00Z", "2026-04-31T00:00:00Z",
        "2026-00-10T00:00:00Z", "2026-13-10T00:00:00Z", "2026-01-00T00:00:00Z",
        "2026-01-32T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T23:60:00Z",
        "2026-01-01T23:59:60Z", "1969-12-31T23:59:59Z", "2026-01-01T00:00:00",
        "2026-01-01 00:00:00Z", "2026-01-01T00:00:00z", "2026-01-01T00:00:00ZZ",
        "2026-1-01T00:00:00Z",  "26-01-01T00:00:00Z",   "2026-01-01T00:00:00.000Z",
        "",                     "Z",
        /* Each digit position holds a digit: no signs, no spaces. */
        "2026-+1-01T00:00:00Z", "2026- 1-01T00:00:00Z", "2026-01-01T00:00:-0Z",
        "+026-01-01T00:00:00Z", " 2026-01-01T00:00:0Z", "2026-01-01T0 :00:00Z",
        "2026/01/01T00:00:00Z", "2026-01-01t00:00:00Z",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t ms = 42;
        cr_assert_eq(kula_parse_utc(bad[i], &ms), KULA_EINVAL, "accepted \"%s\"", bad[i]);
        cr_assert_eq(ms, 42, "output changed for \"%s\"", bad[i]);
    }
    uint64_t ms;
    cr_assert_eq(kula_parse_utc(NULL, &ms), KULA_EINVAL);
}
