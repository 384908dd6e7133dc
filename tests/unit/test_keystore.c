/* test_keystore.c -- keystore sealing, opening, strict decoding and files. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kula/codec/codec.h"
#include "kula/crypto/crypto.h"
#include "kula/base/error.h"
#include "kula/crypto/keystore.h"
#include "testutil.h"
#include "crypto/keystore_testing.h"

/* The cheapest parameters the format allows, so that tests stay fast. */
static const kula_keystore_params FAST = { 1, 8192 };
static const char PASS[] = "hunter2 is not a passphrase";
static const char LABEL[] = "test key";

static void setup(void) { cr_assert_eq(kula_crypto_init(), 0); }

TestSuite(keystore, .init = setup);

static void fixed_key(kula_seckey *sk, kula_pubkey *pk)
{
    /* BIP-340 test vector index 1. */
    cr_assert_eq(kula_hex_decode(sk->b, 32, "b7e151628aed2a6abf7158809cf4f3c7"
                                            "62e7160f38b4da56a784d9045190cfef"), 0);
    cr_assert_eq(kula_key_public(pk, sk), 0);
}

static void fixed_salt_nonce(uint8_t salt[16], uint8_t nonce[24])
{
    for (int i = 0; i < 16; i++)
        salt[i] = (uint8_t)(0xa0 + i);
    for (int i = 0; i < 24; i++)
        nonce[i] = (uint8_t)(0x40 + i);
}

/* A keystore of fixed_key() under PASS, LABEL, FAST and fixed_salt_nonce(). */
static void sealed_sample(kula_buf *b)
{
    kula_seckey sk;
    kula_pubkey pk;
    uint8_t salt[16], nonce[24];
    fixed_key(&sk, &pk);
    fixed_salt_nonce(salt, nonce);
    kula_buf_init(b);
    cr_assert_eq(kula_keystore_seal_with(b, &sk, LABEL, PASS, strlen(PASS), &FAST, salt,
                                         nonce), 0);
}

static int open_buf(const uint8_t *data, size_t len, const char *pass)
{
    kula_seckey sk;
    kula_pubkey pk;
    memset(&sk, 0xaa, sizeof(sk));
    memset(&pk, 0xaa, sizeof(pk));
    int rc = kula_keystore_open(&sk, &pk, data, len, pass, strlen(pass));
    if (rc != 0) {
        /* Outputs are zeroed on every error. */
        static const uint8_t zero[32];
        cr_assert(memcmp(sk.b, zero, 32) == 0, "sk not wiped after error %d", rc);
        cr_assert(memcmp(pk.b, zero, 32) == 0, "pk not zeroed after error %d", rc);
    }
    return rc;
}

/* Everything needed to write a keystore by hand, with any values. */
typedef struct raw_ks {
    uint64_t version;
    const char *label;
    size_t label_len;
    uint8_t pk[32];
    uint64_t alg, ops, mem;
    uint8_t salt[16], nonce[24];
    uint8_t ct[48];
} raw_ks;

static void raw_head(kula_writer *w, uint32_t arity, const raw_ks *k)
{
    kula_w_array(w, arity);
    kula_w_uint(w, k->version);
    kula_w_str(w, k->label, k->label_len);
    kula_w_bin(w, k->pk, 32);
    kula_w_array(w, 3);
    kula_w_uint(w, k->alg);
    kula_w_uint(w, k->ops);
    kula_w_uint(w, k->mem);
    kula_w_bin(w, k->salt, 16);
    kula_w_bin(w, k->nonce, 24);
}

static void raw_encode(kula_buf *out, const raw_ks *k)
{
    kula_writer w;
    kula_buf_init(out);
    kula_writer_init(&w, out);
    raw_head(&w, 7, k);
    kula_w_bin(&w, k->ct, 48);
    cr_assert_eq(out->err, 0);
}

/* Encrypts plain into k->ct the way proto/KEYSTORE.md §3 says, written here
 * independently of node/crypto/keystore.c. */
static void raw_encrypt(raw_ks *k, const uint8_t plain[32], const char *pass)
{
    uint8_t key[32];
    cr_assert_eq(crypto_pwhash(key, 32, pass, strlen(pass), k->salt, k->ops, k->mem,
                               crypto_pwhash_ALG_ARGON2ID13), 0);
    kula_buf ad;
    kula_writer w;
    kula_buf_init(&ad);
    kula_writer_init(&w, &ad);
    raw_head(&w, 6, k);
    cr_assert_eq(crypto_aead_xchacha20poly1305_ietf_encrypt(k->ct, NULL, plain, 32, ad.data,
                                                            ad.len, NULL, k->nonce, key), 0);
    kula_buf_free(&ad);
}

/* The fields of sealed_sample(), which raw_encode() turns into the same bytes. */
static void raw_sample(raw_ks *k)
{
    kula_seckey sk;
    kula_pubkey pk;
    memset(k, 0, sizeof(*k));
    fixed_key(&sk, &pk);
    k->version = 1;
    k->label = LABEL;
    k->label_len = strlen(LABEL);
    memcpy(k->pk, pk.b, 32);
    k->alg = 2;
    k->ops = FAST.opslimit;
    k->mem = FAST.memlimit;
    fixed_salt_nonce(k->salt, k->nonce);
    raw_encrypt(k, sk.b, PASS);
}

/* ---- round trip and vector ---- */

Test(keystore, round_trip)
{
    kula_seckey sk, sk2;
    kula_pubkey pk, pk2;
    cr_assert_eq(kula_key_generate(&sk, &pk), 0);

    kula_buf a, b;
    kula_buf_init(&a);
    kula_buf_init(&b);
    cr_assert_eq(kula_keystore_seal(&a, &sk, "my key ✓", PASS, strlen(PASS), &FAST), 0);
    cr_assert_eq(kula_keystore_seal(&b, &sk, "my key ✓", PASS, strlen(PASS), &FAST), 0);
    cr_assert_eq(a.len, b.len);
    cr_assert(memcmp(a.data, b.data, a.len) != 0, "salt and nonce must be fresh");

    cr_assert_eq(kula_keystore_open(&sk2, &pk2, a.data, a.len, PASS, strlen(PASS)), 0);
    cr_assert(memcmp(sk.b, sk2.b, 32) == 0);
    cr_assert(memcmp(pk.b, pk2.b, 32) == 0);
    cr_assert_eq(kula_keystore_open(&sk2, NULL, b.data, b.len, PASS, strlen(PASS)), 0);
    cr_assert(memcmp(sk.b, sk2.b, 32) == 0);

    char label[KULA_KEYSTORE_MAX_LABEL + 1];
    cr_assert_eq(kula_keystore_peek(&pk2, label, a.data, a.len), 0);
    cr_assert_str_eq(label, "my key ✓");
    cr_assert(memcmp(pk.b, pk2.b, 32) == 0);
    cr_assert_eq(kula_keystore_peek(NULL, NULL, a.data, a.len), 0);

    kula_seckey_wipe(&sk);
    kula_seckey_wipe(&sk2);
    kula_buf_free(&a);
    kula_buf_free(&b);
}

Test(keystore, empty_label_and_passphrase)
{
    kula_seckey sk, sk2;
    kula_pubkey pk;
    cr_assert_eq(kula_key_generate(&sk, &pk), 0);
    kula_buf a;
    kula_buf_init(&a);
    cr_assert_eq(kula_keystore_seal(&a, &sk, "", NULL, 0, &FAST), 0);
    char label[KULA_KEYSTORE_MAX_LABEL + 1] = "x";
    cr_assert_eq(kula_keystore_peek(NULL, label, a.data, a.len), 0);
    cr_assert_str_eq(label, "");
    cr_assert_eq(kula_keystore_open(&sk2, NULL, a.data, a.len, NULL, 0), 0);
    cr_assert(memcmp(sk.b, sk2.b, 32) == 0);
    cr_assert_eq(kula_keystore_open(&sk2, NULL, a.data, a.len, "x", 1), KULA_EPASSPHRASE);
    kula_buf_free(&a);
}

Test(keystore, vector)
{
    json_error_t jerr;
    json_t *v = json_load_file(tu_src("proto/vectors/keystore.json"), 0, &jerr);
    cr_assert_not_null(v, "keystore.json: %s", jerr.text);
    const char *sk_hex = json_string_value(json_object_get(v, "secret_key"));
    const char *pk_hex = json_string_value(json_object_get(v, "public_key"));
    const char *pass = json_string_value(json_object_get(v, "passphrase"));
    const char *label = json_string_value(json_object_get(v, "label"));
    const char *salt_hex = json_string_value(json_object_get(v, "salt"));
    const char *nonce_hex = json_string_value(json_object_get(v, "nonce"));
    const char *file_hex = json_string_value(json_object_get(v, "file_hex"));
    json_t *ops = json_object_get(v, "opslimit"), *mem = json_object_get(v, "memlimit");
    cr_assert(sk_hex && pk_hex && pass && label && salt_hex && nonce_hex && file_hex &&
              json_is_integer(ops) && json_is_integer(mem));

    kula_seckey sk, sk2;
    kula_pubkey pk, pk2;
    uint8_t salt[16], nonce[24];
    cr_assert_eq(kula_hex_decode(sk.b, 32, sk_hex), 0);
    cr_assert_eq(kula_hex_decode(pk.b, 32, pk_hex), 0);
    cr_assert_eq(kula_hex_decode(salt, 16, salt_hex), 0);
    cr_assert_eq(kula_hex_decode(nonce, 24, nonce_hex), 0);
    size_t want_len;
    uint8_t *want = tu_unhex(file_hex, &want_len);
    kula_keystore_params params = { (uint64_t)json_integer_value(ops),
                                    (uint64_t)json_integer_value(mem) };

    kula_buf got;
    kula_buf_init(&got);
    cr_assert_eq(kula_keystore_seal_with(&got, &sk, label, pass, strlen(pass), &params, salt,
                                         nonce), 0);
    cr_assert_eq(got.len, want_len);
    cr_assert(memcmp(got.data, want, want_len) == 0, "sealed bytes differ from the vector");

    cr_assert_eq(kula_keystore_open(&sk2, &pk2, want, want_len, pass, strlen(pass)), 0);
    cr_assert(memcmp(sk.b, sk2.b, 32) == 0);
    cr_assert(memcmp(pk.b, pk2.b, 32) == 0);
    char got_label[KULA_KEYSTORE_MAX_LABEL + 1];
    cr_assert_eq(kula_keystore_peek(&pk2, got_label, want, want_len), 0);
    cr_assert_str_eq(got_label, label);
    cr_assert(memcmp(pk.b, pk2.b, 32) == 0);

    /* The hex in proto/KEYSTORE.md §6 is the same file. */
    char *md = tu_read_file(tu_src("proto/KEYSTORE.md"), NULL);
    char *hex = malloc(strlen(md) + 1);
    size_t n = 0;
    const char *p = strstr(md, "The file, 187 bytes:");
    cr_assert_not_null(p);
    p = strstr(p, "```\n");
    cr_assert_not_null(p);
    for (p += 4; strncmp(p, "```", 3) != 0 && *p != '\0'; p++)
        if (*p != '\n')
            hex[n++] = *p;
    hex[n] = '\0';
    cr_assert_str_eq(hex, file_hex);

    free(hex);
    free(md);
    free(want);
    kula_buf_free(&got);
    json_decref(v);
}

/* ---- rejection ---- */

Test(keystore, wrong_passphrase)
{
    kula_buf b;
    sealed_sample(&b);
    cr_assert_eq(open_buf(b.data, b.len, PASS), 0);
    cr_assert_eq(open_buf(b.data, b.len, "hunter2 is not a passphrasE"), KULA_EPASSPHRASE);
    cr_assert_eq(open_buf(b.data, b.len, "hunter2 is not a passphrase "), KULA_EPASSPHRASE);
    cr_assert_eq(open_buf(b.data, b.len, ""), KULA_EPASSPHRASE);
    /* The passphrase is bytes: a prefix is a different passphrase. */
    kula_seckey sk;
    cr_assert_eq(kula_keystore_open(&sk, NULL, b.data, b.len, PASS, strlen(PASS) - 1),
                 KULA_EPASSPHRASE);
    kula_buf_free(&b);
}

static size_t find(const kula_buf *b, const void *needle, size_t n)
{
    for (size_t i = 0; i + n <= b->len; i++)
        if (memcmp(b->data + i, needle, n) == 0)
            return i;
    cr_assert_fail("needle not found");
    return 0;
}

Test(keystore, every_byte_flipped)
{
    kula_buf b;
    sealed_sample(&b);
    uint8_t salt[16], nonce[24];
    fixed_salt_nonce(salt, nonce);
    size_t label_at = find(&b, LABEL, strlen(LABEL));
    size_t salt_at = find(&b, salt, 16), nonce_at = find(&b, nonce, 24);
    size_t ct_at = b.len - 48;

    static const uint8_t masks[] = { 0x01, 0x80, 0xff };
    uint8_t *m = malloc(b.len);
    for (size_t i = 0; i < b.len; i++) {
        for (size_t k = 0; k < sizeof(masks); k++) {
            memcpy(m, b.data, b.len);
            m[i] ^= masks[k];
            int rc = open_buf(m, b.len, PASS);
            cr_assert(rc < 0, "byte %zu ^ %02x: open succeeded", i, masks[k]);
            bool authenticated_only = (i >= salt_at && i < salt_at + 16) ||
                                      (i >= nonce_at && i < nonce_at + 24) || i >= ct_at;
            /* A label byte ^ 0x01 stays printable ASCII: only the tag can tell. */
            bool label_byte = i >= label_at && i < label_at + strlen(LABEL);
            if (authenticated_only || (label_byte && masks[k] == 0x01))
                cr_assert_eq(rc, KULA_EPASSPHRASE, "byte %zu ^ %02x: %s", i, masks[k],
                             kula_errname(rc));
            else
                cr_assert(rc == KULA_EPASSPHRASE || rc == KULA_EKEYSTORE ||
                          rc == KULA_EVERSION, "byte %zu ^ %02x: %s", i, masks[k],
                          kula_errname(rc));
        }
    }
    free(m);
    kula_buf_free(&b);
}

Test(keystore, truncated)
{
    kula_buf b;
    sealed_sample(&b);
    uint8_t *m = malloc(b.len);
    memcpy(m, b.data, b.len);
    for (size_t n = 0; n < b.len; n++) {
        /* A fresh allocation of exactly n bytes: ASan catches any overread. */
        uint8_t *t = malloc(n ? n : 1);
        memcpy(t, m, n);
        cr_assert_eq(kula_keystore_peek(NULL, NULL, t, n), KULA_EKEYSTORE, "len %zu", n);
        cr_assert_eq(open_buf(t, n, PASS), KULA_EKEYSTORE, "len %zu", n);
        free(t);
    }
    cr_assert_eq(kula_keystore_peek(NULL, NULL, NULL, 0), KULA_EKEYSTORE);
    free(m);
    kula_buf_free(&b);
}

Test(keystore, trailing_byte)
{
    kula_buf b;
    sealed_sample(&b);
    static const uint8_t extra[] = { 0x00, 0x0a, 0xc0 };
    for (size_t k = 0; k < sizeof(extra); k++) {
        kula_buf t;
        kula_buf_init(&t);
        kula_buf_append(&t, b.data, b.len);
        kula_buf_append(&t, &extra[k], 1);
        cr_assert_eq(kula_keystore_peek(NULL, NULL, t.data, t.len), KULA_EKEYSTORE);
        cr_assert_eq(open_buf(t.data, t.len, PASS), KULA_EKEYSTORE);
        kula_buf_free(&t);
    }
    kula_buf_free(&b);
}

Test(keystore, version)
{
    kula_buf b;
    sealed_sample(&b);
    cr_assert_eq(b.data[0], 0x97);
    cr_assert_eq(b.data[1], 0x01);

    /* Non-canonical 1: uint8 form of a fixint. */
    kula_buf t;
    kula_buf_init(&t);
    kula_buf_append(&t, "\x97\xcc\x01", 3);
    kula_buf_append(&t, b.data + 2, b.len - 2);
    cr_assert_eq(kula_keystore_peek(NULL, NULL, t.data, t.len), KULA_EKEYSTORE);
    cr_assert_eq(open_buf(t.data, t.len, PASS), KULA_EKEYSTORE);
    /* Non-canonical array header: array16 holding 7. */
    kula_buf_reset(&t);
    kula_buf_append(&t, "\xdc\x00\x07", 3);
    kula_buf_append(&t, b.data + 1, b.len - 1);
    cr_assert_eq(open_buf(t.data, t.len, PASS), KULA_EKEYSTORE);
    /* Version as a signed or non-integer value. */
    kula_buf_reset(&t);
    kula_buf_append(&t, "\x97\xc3", 2);
    kula_buf_append(&t, b.data + 2, b.len - 2);
    cr_assert_eq(open_buf(t.data, t.len, PASS), KULA_EKEYSTORE);

    /* Unknown versions, whatever follows. */
    uint8_t *m = malloc(b.len);
    memcpy(m, b.data, b.len);
    m[1] = 0x02;
    cr_assert_eq(kula_keystore_peek(NULL, NULL, m, b.len), KULA_EVERSION);
    cr_assert_eq(open_buf(m, b.len, PASS), KULA_EVERSION);
    m[1] = 0x00;
    cr_assert_eq(open_buf(m, b.len, PASS), KULA_EVERSION);
    cr_assert_eq(open_buf((const uint8_t *)"\x91\x02", 2, PASS), KULA_EVERSION);
    cr_assert_eq(open_buf((const uint8_t *)"\x92\xcd\x01\x00\xc0", 5, PASS), KULA_EVERSION);
    /* Version 1 with the wrong number of fields. */
    cr_assert_eq(open_buf((const uint8_t *)"\x91\x01", 2, PASS), KULA_EKEYSTORE);
    m[0] = 0x98;
    m[1] = 0x01;
    cr_assert_eq(open_buf(m, b.len, PASS), KULA_EKEYSTORE);
    /* Not an array at all. */
    cr_assert_eq(open_buf((const uint8_t *)"\x01", 1, PASS), KULA_EKEYSTORE);
    cr_assert_eq(open_buf((const uint8_t *)"\x81\x01\x01", 3, PASS), KULA_EKEYSTORE);

    free(m);
    kula_buf_free(&t);
    kula_buf_free(&b);
}

Test(keystore, raw_builder_matches_seal)
{
    kula_buf a, b;
    raw_ks k;
    sealed_sample(&a);
    raw_sample(&k);
    raw_encode(&b, &k);
    cr_assert_eq(a.len, b.len);
    cr_assert(memcmp(a.data, b.data, a.len) == 0);
    kula_buf_free(&a);
    kula_buf_free(&b);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

Test(keystore, hostile_kdf_params)
{
    struct { uint64_t alg, ops, mem; } bad[] = {
        { 2, 16, (1ull << 30) + 1024 }, /* just above 1 GiB */
        { 2, 16, 1ull << 40 },
        { 2, 1, UINT64_MAX },
        { 2, 17, 8192 },
        { 2, UINT64_MAX, 8192 },
        { 2, 0, 8192 },
        { 2, 1, 8191 },
        { 2, 1, 0 },
        { 1, 1, 8192 },                 /* Argon2i, not defined */
        { 3, 1, 8192 },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        raw_ks k;
        raw_sample(&k);
        k.alg = bad[i].alg;
        k.ops = bad[i].ops;
        k.mem = bad[i].mem;
        kula_buf b;
        raw_encode(&b, &k);
        double t0 = now();
        cr_assert_eq(kula_keystore_peek(NULL, NULL, b.data, b.len), KULA_EKEYSTORE, "case %zu", i);
        cr_assert_eq(open_buf(b.data, b.len, PASS), KULA_EKEYSTORE, "case %zu", i);
        /* Argon2id with 16 passes over 1 GiB takes many seconds: it never ran. */
        cr_assert_lt(now() - t0, 0.5, "case %zu", i);
        kula_buf_free(&b);
    }

    /* The bounds themselves are accepted (cheap corners only). */
    raw_ks k;
    raw_sample(&k);
    k.ops = 16;
    raw_encrypt(&k, (const uint8_t[32]){ 0 }, PASS);
    kula_buf b;
    raw_encode(&b, &k);
    cr_assert_eq(kula_keystore_peek(NULL, NULL, b.data, b.len), 0);
    kula_buf_free(&b);
}

Test(keystore, fields)
{
    raw_ks k;
    kula_buf b;

    /* Label: 64 bytes is fine, 65 is not, no NUL, valid UTF-8 only. */
    char label[80];
    memset(label, 'x', sizeof(label));
    raw_sample(&k);
    k.label = label;
    k.label_len = 64;
    raw_encode(&b, &k);
    cr_assert_eq(kula_keystore_peek(NULL, NULL, b.data, b.len), 0);
    kula_buf_free(&b);
    k.label_len = 65;
    raw_encode(&b, &k);
    cr_assert_eq(kula_keystore_peek(NULL, NULL, b.data, b.len), KULA_EKEYSTORE);
    kula_buf_free(&b);
    k.label = "ab\0cd";
    k.label_len = 5;
    raw_encode(&b, &k);
    cr_assert_eq(kula_keystore_peek(NULL, NULL, b.data, b.len), KULA_EKEYSTORE);
    kula_buf_free(&b);
    k.label = "ab\xc0\x80";
    k.label_len = 4;
    raw_encode(&b, &k);
    cr_assert_eq(kula_keystore_peek(NULL, NULL, b.data, b.len), KULA_EKEYSTORE);
    kula_buf_free(&b);

    /* peek zeroes its outputs on error, even when the public key decoded. */
    raw_sample(&k);
    k.alg = 7;
    raw_encode(&b, &k);
    kula_pubkey pk;
    char got[KULA_KEYSTORE_MAX_LABEL + 1] = "junk";
    static const uint8_t zero[32];
    memset(&pk, 0xaa, sizeof(pk));
    cr_assert_eq(kula_keystore_peek(&pk, got, b.data, b.len), KULA_EKEYSTORE);
    cr_assert(memcmp(pk.b, zero, 32) == 0);
    cr_assert_str_eq(got, "");
    kula_buf_free(&b);

    /* Public key not on the curve. */
    raw_sample(&k);
    memset(k.pk, 0xff, 32);
    raw_encode(&b, &k);
    cr_assert_eq(kula_keystore_peek(NULL, NULL, b.data, b.len), KULA_EKEYSTORE);
    kula_buf_free(&b);

    /* Wrong lengths and types. */
    raw_sample(&k);
    raw_encode(&b, &k);
    size_t salt_at = find(&b, k.salt, 16);
    b.data[salt_at - 1] = 15; /* bin 15, then one byte too many for the rest */
    cr_assert_eq(kula_keystore_peek(NULL, NULL, b.data, b.len), KULA_EKEYSTORE);
    b.data[salt_at - 1] = 16;
    b.data[salt_at - 2] = 0xa0 | 0x10; /* a str where a bin belongs (fixstr 16) */
    memmove(b.data + salt_at - 1, b.data + salt_at, b.len - salt_at);
    b.len--;
    cr_assert_eq(kula_keystore_peek(NULL, NULL, b.data, b.len), KULA_EKEYSTORE);
    kula_buf_free(&b);
}

Test(keystore, key_check_after_decryption)
{
    raw_ks k;
    kula_buf b;
    kula_seckey other;
    kula_pubkey other_pk;
    cr_assert_eq(kula_key_generate(&other, &other_pk), 0);

    /* Authenticated, but the secret key belongs to another public key. */
    raw_sample(&k);
    raw_encrypt(&k, other.b, PASS);
    raw_encode(&b, &k);
    cr_assert_eq(kula_keystore_peek(NULL, NULL, b.data, b.len), 0);
    cr_assert_eq(open_buf(b.data, b.len, PASS), KULA_EKEYSTORE);
    kula_buf_free(&b);

    /* Authenticated, but the secret key is zero or above the group order. */
    uint8_t plain[32] = { 0 };
    raw_encrypt(&k, plain, PASS);
    raw_encode(&b, &k);
    cr_assert_eq(open_buf(b.data, b.len, PASS), KULA_EKEYSTORE);
    kula_buf_free(&b);
    memset(plain, 0xff, 32);
    raw_encrypt(&k, plain, PASS);
    raw_encode(&b, &k);
    cr_assert_eq(open_buf(b.data, b.len, PASS), KULA_EKEYSTORE);
    kula_buf_free(&b);

    /* Header fields are authenticated: changing the label or swapping in
     * another valid public key after sealing fails the tag, before the key
     * check could run. */
    raw_sample(&k);
    k.label = "another label";
    k.label_len = strlen(k.label);
    raw_encode(&b, &k);
    cr_assert_eq(open_buf(b.data, b.len, PASS), KULA_EPASSPHRASE);
    kula_buf_free(&b);
    raw_sample(&k);
    memcpy(k.pk, other_pk.b, 32);
    raw_encode(&b, &k);
    cr_assert_eq(open_buf(b.data, b.len, PASS), KULA_EPASSPHRASE);
    kula_buf_free(&b);
    kula_seckey_wipe(&other);
}

Test(keystore, seal_rejects_bad_input)
{
    kula_seckey sk;
    kula_pubkey pk;
    fixed_key(&sk, &pk);
    kula_buf b;
    kula_buf_init(&b);
    char label[66];
    memset(label, 'x', 65);
    label[65] = '\0';
    cr_assert_eq(kula_keystore_seal(&b, &sk, label, PASS, strlen(PASS), &FAST), KULA_EINVAL);
    label[64] = '\0';
    cr_assert_eq(kula_keystore_seal(&b, &sk, label, PASS, strlen(PASS), &FAST), 0);
    size_t len = b.len;
    cr_assert_eq(kula_keystore_seal(&b, &sk, "\xff", PASS, strlen(PASS), &FAST), KULA_EINVAL);
    cr_assert_eq(b.len, len, "out unchanged on error");

    kula_keystore_params p = { 0, 8192 };
    cr_assert_eq(kula_keystore_seal(&b, &sk, "", PASS, 1, &p), KULA_EINVAL);
    p = (kula_keystore_params){ 17, 8192 };
    cr_assert_eq(kula_keystore_seal(&b, &sk, "", PASS, 1, &p), KULA_EINVAL);
    p = (kula_keystore_params){ 1, 8191 };
    cr_assert_eq(kula_keystore_seal(&b, &sk, "", PASS, 1, &p), KULA_EINVAL);
    p = (kula_keystore_params){ 1, (1ull << 30) + 1 };
    cr_assert_eq(kula_keystore_seal(&b, &sk, "", PASS, 1, &p), KULA_EINVAL);

    kula_seckey zero = { { 0 } };
    cr_assert_eq(kula_keystore_seal(&b, &zero, "", PASS, 1, &FAST), KULA_EBADKEY);
    cr_assert_eq(kula_keystore_seal(&b, &sk, "", NULL, 1, &FAST), KULA_EINVAL);
    cr_assert_eq(b.len, len);

    /* The defaults are inside the bounds. */
    cr_assert_eq(KULA_KEYSTORE_DEFAULT.opslimit, 3);
    cr_assert_eq(KULA_KEYSTORE_DEFAULT.memlimit, 64u << 20);
    kula_buf_free(&b);
}

/* ---- files ---- */

static char *temp_dir(void)
{
    char tmpl[] = "/tmp/kula-keystore-XXXXXX";
    char *d = mkdtemp(tmpl);
    cr_assert_not_null(d);
    return strdup(d);
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

Test(keystore, save_and_load)
{
    char *dir = temp_dir();
    char path[512], path2[512];
    snprintf(path, sizeof(path), "%s/key.kula", dir);
    snprintf(path2, sizeof(path2), "%s/other.kula", dir);
    kula_buf b, other;
    sealed_sample(&b);
    kula_buf_init(&other);
    kula_buf_append(&other, "different", 9);

    mode_t old = umask(0); /* the mode must not depend on the umask */
    cr_assert_eq(kula_keystore_save(path, &b), 0);
    umask(old);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0600, "mode %o", (unsigned)(st.st_mode & 07777));
    cr_assert_eq(count_entries(dir), 1, "temporary file left behind");

    /* Never overwrites, and leaves the existing file as it was. */
    cr_assert_eq(kula_keystore_save(path, &other), KULA_EEXIST);
    cr_assert_eq(count_entries(dir), 1);
    kula_buf got;
    kula_buf_init(&got);
    cr_assert_eq(kula_keystore_load(&got, path), 0);
    cr_assert_eq(got.len, b.len);
    cr_assert(memcmp(got.data, b.data, b.len) == 0);
    cr_assert_eq(open_buf(got.data, got.len, PASS), 0);

    /* Nor through a dangling symlink. */
    char target[512];
    snprintf(target, sizeof(target), "%s/nowhere", dir);
    cr_assert_eq(symlink(target, path2), 0);
    cr_assert_eq(kula_keystore_save(path2, &b), KULA_EEXIST);
    cr_assert_eq(access(target, F_OK), -1);
    unlink(path2);

    /* Bad destinations and contents. */
    char bad[600];
    snprintf(bad, sizeof(bad), "%s/no/such/dir/key.kula", dir);
    cr_assert_eq(kula_keystore_save(bad, &b), KULA_EIO);
    kula_buf empty;
    kula_buf_init(&empty);
    cr_assert_eq(kula_keystore_save(path2, &empty), KULA_EINVAL);

    unlink(path);
    rmdir(dir);
    free(dir);
    kula_buf_free(&b);
    kula_buf_free(&other);
    kula_buf_free(&got);
}

Test(keystore, load_errors)
{
    char *dir = temp_dir();
    char path[512];
    kula_buf got;
    kula_buf_init(&got);

    snprintf(path, sizeof(path), "%s/missing.kula", dir);
    cr_assert_eq(kula_keystore_load(&got, path), KULA_ENOTFOUND);

    /* Too large. */
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    for (int i = 0; i < KULA_KEYSTORE_MAX_FILE + 1; i++)
        fputc(0x90, f);
    fclose(f);
    cr_assert_eq(kula_keystore_load(&got, path), KULA_EKEYSTORE);
    cr_assert_eq(got.len, 0);
    unlink(path);

    /* Exactly the limit is loaded (and then fails to open). */
    f = fopen(path, "wb");
    for (int i = 0; i < KULA_KEYSTORE_MAX_FILE; i++)
        fputc(0x90, f);
    fclose(f);
    cr_assert_eq(kula_keystore_load(&got, path), 0);
    cr_assert_eq(got.len, KULA_KEYSTORE_MAX_FILE);
    cr_assert_eq(open_buf(got.data, got.len, PASS), KULA_EKEYSTORE);
    unlink(path);

    /* Not regular files: a directory, and a FIFO (which must not block). */
    cr_assert_eq(kula_keystore_load(&got, dir), KULA_EKEYSTORE);
    cr_assert_eq(mkfifo(path, 0600), 0);
    cr_assert_eq(kula_keystore_load(&got, path), KULA_EKEYSTORE);
    unlink(path);

    rmdir(dir);
    free(dir);
    kula_buf_free(&got);
}
