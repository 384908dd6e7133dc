/* gen_handshake.c -- writes the peer handshake vectors and fuzz seeds.
 *
 * Not part of the CMake build: proto/vectors/handshake.json is data checked
 * into the repository, and this program is how it was made.  From the
 * repository root:
 *
 *   gcc -std=c11 -O1 -Wall -Wextra -D_GNU_SOURCE -Iinclude -o /tmp/gen_handshake \
 *       tests/vectors/gen_handshake.c node/codec/codec.c node/crypto/crypto.c node/base/error.c \
 *       node/net/frame.c node/net/handshake.c \
 *       $(pkg-config --cflags --libs libsodium libsecp256k1 msgpack jansson)
 *   /tmp/gen_handshake .
 *
 * It reads the chain ids from proto/vectors/genesis.json (vectors "main" and
 * "single-validator-dev") and rewrites proto/vectors/handshake.json and
 * tests/fuzz/corpus/fuzz_{frame,handshake}/.  The output is deterministic:
 * fixed identity keys, ephemeral X25519 keys from fixed seeds
 * (crypto_kx_seed_keypair), fixed nonces and secretstream headers, and
 * BIP-340 signatures with 32 zero bytes of auxiliary randomness, so running
 * it again gives byte-identical files.
 *
 * Every value is computed twice, once by the reference handshake
 * (node/net/handshake.c, in its fixed mode) and once here directly from
 * libsodium and the signing digest of proto/SPEC.md §11.4; the two must
 * agree byte for byte.  Every invalid vector is run against a fresh
 * handshake, which must fail with exactly the error the vector names.
 * proto/SPEC.md §11.6 describes the file. */
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kula/codec/codec.h"
#include "kula/crypto/crypto.h"
#include "kula/base/error.h"
#include "kula/net/frame.h"
#include "kula/net/handshake.h"

#define VECGEN_NAME "gen_handshake"
#define VECGEN_NO_VOTES
#include "vecgen.h"
#include "net/handshake_testing.h"

static const char *root_dir;
static const uint8_t zero_aux[32];

/* ---- bytes ---- */

typedef struct bytes {
    uint8_t b[512];
    size_t n;
} bytes;

static void b_set(bytes *x, const void *p, size_t n)
{
    if (n > sizeof(x->b))
        die("bytes too long");
    memcpy(x->b, p, n);
    x->n = n;
}

static void b_add(bytes *x, const void *p, size_t n)
{
    if (x->n + n > sizeof(x->b))
        die("bytes too long");
    memcpy(x->b + x->n, p, n);
    x->n += n;
}

static void h_text(uint8_t out[32], const char *text)
{
    kula_hash h;
    kula_hash_bytes(&h, text, strlen(text));
    memcpy(out, h.b, 32);
}

/* ---- files ---- */

static void mkdirs(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                die("mkdir %s: %s", tmp, strerror(errno));
            *p = '/';
        }
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        die("mkdir %s: %s", tmp, strerror(errno));
}

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0)
        die("cannot write %s", path);
}

static void seed(const char *target, const char *name, const void *p, size_t n)
{
    char dir[4096], path[4200];
    snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s", root_dir, target);
    mkdirs(dir);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    write_file(path, p, n);
}

static void genesis_chain_id(kula_hash *out, const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/proto/vectors/genesis.json", root_dir);
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (root == NULL)
        die("%s: %s", path, jerr.text);
    json_t *valid = json_object_get(root, "valid");
    size_t i;
    json_t *v;
    json_array_foreach(valid, i, v) {
        if (strcmp(json_string_value(json_object_get(v, "name")), name) == 0) {
            if (kula_hex_decode(out->b, 32, json_string_value(json_object_get(v, "hash"))) != 0)
                die("genesis.json %s: bad hash", name);
            json_decref(root);
            return;
        }
    }
    die("genesis.json: no vector %s", name);
}

/* ---- the two sides ---- */

typedef struct side {
    const char *name;        /* "initiator" / "responder" */
    enum kula_hs_role role;
    const char *key_text;    /* the identity key is H(key_text) */
    kula_seckey sk;
    kula_pubkey pk;
    kula_hs_fixed fixed;
    uint8_t kx_pk[32], kx_sk[32];
    uint8_t rx[32], tx[32];
} side;

static side sides[2] = {
    { .name = "initiator", .role = KULA_HS_INITIATOR, .key_text = "kula vector key 1" },
    { .name = "responder", .role = KULA_HS_RESPONDER, .key_text = "kula vector key 2" },
};
#define INI (&sides[0])
#define RES (&sides[1])

static kula_hash chain_id, other_chain_id;
/* The policy of both sides: the keys of genesis "main"'s members 1..4. */
static kula_pubkey accepted[4];
/* Key 5 (not a member of "main"): a valid identity the policy refuses. */
static kula_seckey outsider_sk;
static kula_pubkey outsider_pk;

static bool policy(void *ctx, const kula_pubkey *peer)
{
    (void)ctx;
    for (size_t i = 0; i < 4; i++)
        if (memcmp(accepted[i].b, peer->b, 32) == 0)
            return true;
    return false;
}

static void setup_sides(void)
{
    genesis_chain_id(&chain_id, "main");
    genesis_chain_id(&other_chain_id, "single-validator-dev");
    for (int i = 0; i < 4; i++) {
        char t[32];
        snprintf(t, sizeof(t), "kula vector key %d", i + 1);
        kula_seckey k;
        h_text(k.b, t);
        if (kula_key_public(&accepted[i], &k) != 0)
            die("key %d", i + 1);
    }
    h_text(outsider_sk.b, "kula vector key 5");
    if (kula_key_public(&outsider_pk, &outsider_sk) != 0)
        die("key 5");
    for (int i = 0; i < 2; i++) {
        side *s = &sides[i];
        char t[64];
        h_text(s->sk.b, s->key_text);
        if (kula_key_public(&s->pk, &s->sk) != 0)
            die("%s key", s->name);
        snprintf(t, sizeof(t), "kula vector kx %s", s->name);
        h_text(s->fixed.kx_seed, t);
        snprintf(t, sizeof(t), "kula vector nonce %s", s->name);
        h_text(s->fixed.nonce, t);
        uint8_t h[32];
        snprintf(t, sizeof(t), "kula vector header %s", s->name);
        h_text(h, t);
        memcpy(s->fixed.header, h, KULA_HS_HEADER_LEN);
        if (crypto_kx_seed_keypair(s->kx_pk, s->kx_sk, s->fixed.kx_seed) != 0)
            die("kx seed");
    }
    if (crypto_kx_client_session_keys(INI->rx, INI->tx, INI->kx_pk, INI->kx_sk, RES->kx_pk) != 0 ||
        crypto_kx_server_session_keys(RES->rx, RES->tx, RES->kx_pk, RES->kx_sk, INI->kx_pk) != 0)
        die("session keys");
    if (memcmp(INI->tx, RES->rx, 32) != 0 || memcmp(INI->rx, RES->tx, 32) != 0)
        die("session keys do not pair up");
}

static kula_hs *new_hs(const side *s)
{
    kula_hs *hs;
    if (kula_hs_new_fixed(&hs, s->role, &chain_id, &s->sk, policy, NULL, &s->fixed) != 0)
        die("kula_hs_new_fixed %s", s->name);
    return hs;
}

/* Splits a stream of frames into payloads. */
static size_t split(bytes *frames, size_t max, const kula_buf *stream)
{
    kula_frame_decoder d;
    kula_frame_decoder_init(&d);
    size_t n = 0, off = 0;
    while (off < stream->len) {
        size_t used, flen;
        const uint8_t *f;
        int rc = kula_frame_feed(&d, &used, &f, &flen, stream->data + off, stream->len - off);
        if (rc < 0)
            die("split: %s", kula_errname(rc));
        off += used;
        if (rc == 1) {
            if (n == max)
                die("split: too many frames");
            b_set(&frames[n++], f, flen);
        }
    }
    if (kula_frame_decoder_pending(&d) != 0)
        die("split: partial frame");
    kula_frame_decoder_free(&d);
    return n;
}

/* Seals msg as the first message of a stream with the given key and header. */
static void seal_first(bytes *out, const uint8_t key[32], const uint8_t header[24],
                       const uint8_t *msg, size_t n, unsigned char tag)
{
    crypto_secretstream_xchacha20poly1305_state st;
    /* init_pull with a given header yields the state init_push would have
     * made with that header (see node/net/handshake.c). */
    if (crypto_secretstream_xchacha20poly1305_init_pull(&st, header, key) != 0)
        die("init");
    out->n = n + crypto_secretstream_xchacha20poly1305_ABYTES;
    if (out->n > sizeof(out->b))
        die("too long");
    if (crypto_secretstream_xchacha20poly1305_push(&st, out->b, NULL, msg, n, NULL, 0, tag) != 0)
        die("push");
}

/* Opens the first message of a stream. */
static void open_first(bytes *out, const uint8_t key[32], const uint8_t header[24],
                       const bytes *c)
{
    crypto_secretstream_xchacha20poly1305_state st;
    unsigned long long n;
    unsigned char tag;
    if (crypto_secretstream_xchacha20poly1305_init_pull(&st, header, key) != 0 ||
        crypto_secretstream_xchacha20poly1305_pull(&st, out->b, &n, &tag, c->b, c->n, NULL, 0) != 0 ||
        tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE)
        die("open_first");
    out->n = (size_t)n;
}

/* ---- encodings built here, independently of node/net/handshake.c ---- */

static void hello_bytes(bytes *out, uint64_t version, const kula_hash *cid, const uint8_t kx[32],
                        const uint8_t nonce[32])
{
    kula_buf b;
    kula_buf_init(&b);
    kula_writer w;
    kula_writer_init(&w, &b);
    kula_w_array(&w, 4);
    kula_w_uint(&w, version);
    kula_w_bin(&w, cid->b, 32);
    kula_w_bin(&w, kx, 32);
    kula_w_bin(&w, nonce, 32);
    b_set(out, b.data, b.len);
    kula_buf_free(&b);
}

static void auth_bytes(bytes *out, const kula_pubkey *pk, const kula_sig *sig)
{
    kula_buf b;
    kula_buf_init(&b);
    kula_writer w;
    kula_writer_init(&w, &b);
    kula_w_array(&w, 2);
    kula_w_bin(&w, pk->b, 32);
    kula_w_bin(&w, sig->b, 64);
    b_set(out, b.data, b.len);
    kula_buf_free(&b);
}

/* The digest an AUTH signs (§11.4) for arbitrary tag, chain id, transcript and role. */
static void auth_digest(kula_hash *out, const uint8_t tag[16], const kula_hash *cid,
                        const kula_hash *transcript, uint8_t role)
{
    uint8_t m[33];
    memcpy(m, transcript->b, 32);
    m[32] = role;
    kula_signing_digest(out, tag, cid, m, sizeof(m));
}

static void sign(kula_sig *sig, const kula_seckey *sk, const kula_hash *digest)
{
    if (kula_sign_aux(sig, sk, digest->b, zero_aux) != 0)
        die("sign");
}

/* ---- the vector file ---- */

static json_t *valid, *invalid, *j_transcript, *j_messages, *j_streams[2];
static bytes hello[2], header[2], sealed_auth[2], auth_plain[2];
static kula_hash transcript;

static json_t *side_json(const side *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "identity_key_source", json_string(s->key_text));
    json_object_set_new(o, "secret_key", j_hex(s->sk.b, 32));
    json_object_set_new(o, "public_key", j_hex(s->pk.b, 32));
    json_object_set_new(o, "kx_seed", j_hex(s->fixed.kx_seed, 32));
    json_object_set_new(o, "kx_public_key", j_hex(s->kx_pk, 32));
    json_object_set_new(o, "kx_secret_key", j_hex(s->kx_sk, 32));
    json_object_set_new(o, "nonce", j_hex(s->fixed.nonce, 32));
    json_object_set_new(o, "header", j_hex(s->fixed.header, 24));
    json_object_set_new(o, "rx", j_hex(s->rx, 32));
    json_object_set_new(o, "tx", j_hex(s->tx, 32));
    return o;
}

/* Runs the whole handshake between two fixed sides, checks it against the
 * independent computation, and records the valid vectors. */
static void run_valid(void)
{
    kula_hs *hs[2] = { new_hs(INI), new_hs(RES) };
    kula_buf wire[2]; /* wire[i]: what side i sends */
    kula_buf_init(&wire[0]);
    kula_buf_init(&wire[1]);
    for (int i = 0; i < 2; i++)
        if (kula_hs_start(hs[i], &wire[i]) != 0)
            die("start");
    /* Pump until both are done: each side consumes the other's frames. */
    size_t read[2] = { 0, 0 };
    kula_frame_decoder dec[2];
    kula_frame_decoder_init(&dec[0]);
    kula_frame_decoder_init(&dec[1]);
    for (int round = 0; round < 8 && !(kula_hs_done(hs[0]) && kula_hs_done(hs[1])); round++) {
        for (int i = 0; i < 2; i++) {
            kula_buf *in = &wire[1 - i];
            while (read[i] < in->len && !kula_hs_done(hs[i])) {
                size_t used, flen;
                const uint8_t *f;
                int rc = kula_frame_feed(&dec[i], &used, &f, &flen, in->data + read[i],
                                         in->len - read[i]);
                if (rc < 0)
                    die("feed");
                read[i] += used;
                if (rc == 1) {
                    bytes copy;
                    b_set(&copy, f, flen);
                    rc = kula_hs_receive(hs[i], &wire[i], copy.b, copy.n);
                    if (rc < 0)
                        die("%s: receive: %s", sides[i].name, kula_errname(rc));
                }
            }
        }
    }
    if (!kula_hs_done(hs[0]) || !kula_hs_done(hs[1]))
        die("handshake did not complete");
    if (!kula_hs_wiped(hs[0]) || !kula_hs_wiped(hs[1]))
        die("secrets not wiped");
    if (memcmp(kula_hs_peer_key(hs[0])->b, RES->pk.b, 32) != 0 ||
        memcmp(kula_hs_peer_key(hs[1])->b, INI->pk.b, 32) != 0)
        die("peer keys");

    /* Each side's stream: HELLO, header, sealed AUTH. */
    for (int i = 0; i < 2; i++) {
        bytes f[4];
        if (split(f, 4, &wire[i]) != 3)
            die("%s sent %zu frames", sides[i].name, split(f, 4, &wire[i]));
        hello[i] = f[0];
        header[i] = f[1];
        sealed_auth[i] = f[2];
    }

    /* Independently: HELLOs, transcript, headers, AUTH. */
    for (int i = 0; i < 2; i++) {
        bytes h;
        hello_bytes(&h, 1, &chain_id, sides[i].kx_pk, sides[i].fixed.nonce);
        if (h.n != hello[i].n || memcmp(h.b, hello[i].b, h.n) != 0 || h.n != KULA_HS_HELLO_LEN)
            die("%s HELLO differs", sides[i].name);
        if (header[i].n != 24 || memcmp(header[i].b, sides[i].fixed.header, 24) != 0)
            die("%s header differs", sides[i].name);
    }
    bytes both;
    b_set(&both, hello[0].b, hello[0].n);
    b_add(&both, hello[1].b, hello[1].n);
    kula_hash_bytes(&transcript, both.b, both.n);
    if (memcmp(kula_hs_transcript(hs[0])->b, transcript.b, 32) != 0 ||
        memcmp(kula_hs_transcript(hs[1])->b, transcript.b, 32) != 0)
        die("transcript differs");
    for (int i = 0; i < 2; i++) {
        kula_hash d;
        auth_digest(&d, KULA_TAG_HANDSHAKE, &chain_id, &transcript, (uint8_t)i);
        kula_sig sig;
        sign(&sig, &sides[i].sk, &d);
        auth_bytes(&auth_plain[i], &sides[i].pk, &sig);
        bytes opened;
        open_first(&opened, sides[i].tx, sides[i].fixed.header, &sealed_auth[i]);
        if (opened.n != auth_plain[i].n || memcmp(opened.b, auth_plain[i].b, opened.n) != 0)
            die("%s AUTH differs", sides[i].name);
        bytes resealed;
        seal_first(&resealed, sides[i].tx, sides[i].fixed.header, auth_plain[i].b,
                   auth_plain[i].n, crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
        if (resealed.n != sealed_auth[i].n || memcmp(resealed.b, sealed_auth[i].b, resealed.n))
            die("%s sealed AUTH differs", sides[i].name);
    }

    j_transcript = j_hex(transcript.b, 32);
    for (int i = 0; i < 2; i++) {
        char name[32];
        snprintf(name, sizeof(name), "hello-%s", sides[i].name);
        json_t *v = json_object();
        json_object_set_new(v, "name", json_string(name));
        json_object_set_new(v, "from", json_string(sides[i].name));
        json_object_set_new(v, "message", json_string("hello"));
        json_t *fields = json_object();
        json_object_set_new(fields, "version", json_integer(1));
        json_object_set_new(fields, "chain_id", j_hex(chain_id.b, 32));
        json_object_set_new(fields, "kx_public_key", j_hex(sides[i].kx_pk, 32));
        json_object_set_new(fields, "nonce", j_hex(sides[i].fixed.nonce, 32));
        json_object_set_new(v, "fields", fields);
        json_object_set_new(v, "hex", j_hex(hello[i].b, hello[i].n));
        json_array_append_new(valid, v);
    }
    for (int i = 0; i < 2; i++) {
        char name[32];
        snprintf(name, sizeof(name), "auth-%s", sides[i].name);
        json_t *v = json_object();
        json_object_set_new(v, "name", json_string(name));
        json_object_set_new(v, "from", json_string(sides[i].name));
        json_object_set_new(v, "message", json_string("auth"));
        json_t *fields = json_object();
        json_object_set_new(fields, "identity", j_hex(sides[i].pk.b, 32));
        json_object_set_new(fields, "sig", j_hex(auth_plain[i].b + 37, 64));
        json_object_set_new(v, "fields", fields);
        uint8_t signed_bytes[33];
        memcpy(signed_bytes, transcript.b, 32);
        signed_bytes[32] = (uint8_t)i;
        json_object_set_new(v, "signed_bytes", j_hex(signed_bytes, 33));
        kula_hash d;
        auth_digest(&d, KULA_TAG_HANDSHAKE, &chain_id, &transcript, (uint8_t)i);
        json_object_set_new(v, "sighash", j_hex(d.b, 32));
        json_object_set_new(v, "hex", j_hex(auth_plain[i].b, auth_plain[i].n));
        json_object_set_new(v, "sealed_hex", j_hex(sealed_auth[i].b, sealed_auth[i].n));
        json_array_append_new(valid, v);
    }

    /* Sealed application messages after the handshake, in this order. */
    static const struct { int from; const char *text; } msgs[] = {
        { 0, "kula ping 1" }, { 1, "kula pong 1" }, { 0, "kula ping 2" },
    };
    json_t *jm = json_array();
    for (size_t k = 0; k < sizeof(msgs) / sizeof(msgs[0]); k++) {
        int i = msgs[k].from;
        size_t off = wire[i].len;
        if (kula_hs_seal(hs[i], &wire[i], (const uint8_t *)msgs[k].text, strlen(msgs[k].text)) != 0)
            die("seal");
        kula_buf out;
        kula_buf_init(&out);
        if (kula_hs_open(hs[1 - i], &out, wire[i].data + off + 4, wire[i].len - off - 4) != 0 ||
            out.len != strlen(msgs[k].text) || memcmp(out.data, msgs[k].text, out.len) != 0)
            die("open");
        kula_buf_free(&out);
        json_t *m = json_object();
        json_object_set_new(m, "from", json_string(sides[i].name));
        json_object_set_new(m, "plaintext_hex", j_hex(msgs[k].text, strlen(msgs[k].text)));
        json_object_set_new(m, "sealed_hex", j_hex(wire[i].data + off + 4, wire[i].len - off - 4));
        json_array_append_new(jm, m);
    }
    j_messages = jm;
    j_streams[0] = j_hex(wire[0].data, wire[0].len);
    j_streams[1] = j_hex(wire[1].data, wire[1].len);

    /* Fuzz seeds: the streams as the frame decoder sees them. */
    for (int i = 0; i < 2; i++) {
        bytes s;
        s.n = 0;
        uint8_t ctl[2] = { (uint8_t)(7 + i), 0 }; /* chunking, limit (fuzz_frame.c) */
        b_add(&s, ctl, 2);
        b_add(&s, wire[i].data, wire[i].len);
        seed("fuzz_frame", i == 0 ? "initiator-stream" : "responder-stream", s.b, s.n);
    }
    kula_buf_free(&wire[0]);
    kula_buf_free(&wire[1]);
    kula_frame_decoder_free(&dec[0]);
    kula_frame_decoder_free(&dec[1]);
    kula_hs_free(hs[0]);
    kula_hs_free(hs[1]);
}

/* ---- invalid vectors ---- */

/* Runs frames[0..n) into a fresh fixed `target` and returns the first error
 * (0 if none), requiring every earlier frame to be accepted. */
static int run_target(const side *target, const bytes *frames, size_t n)
{
    kula_hs *hs = new_hs(target);
    kula_buf out;
    kula_buf_init(&out);
    if (kula_hs_start(hs, &out) != 0)
        die("start");
    int rc = 0;
    for (size_t i = 0; i < n && rc >= 0; i++)
        rc = kula_hs_receive(hs, &out, frames[i].b, frames[i].n);
    if (rc > 0)
        rc = 0;
    if (rc < 0 && (kula_hs_done(hs) || !kula_hs_wiped(hs) || kula_hs_error(hs) != rc))
        die("failed handshake is not clean");
    if (rc == 0 && !kula_hs_done(hs))
        rc = 1; /* neither failed nor done */
    kula_buf_free(&out);
    kula_hs_free(hs);
    return rc;
}

static json_t *add_invalid(const char *name, const side *target, const char *message,
                           const bytes *payload, int want, const char *why)
{
    /* The frames before the one under test: the peer's valid HELLO, header. */
    const side *peer = target == INI ? RES : INI;
    int p = peer == INI ? 0 : 1;
    bytes frames[3];
    size_t n = 0;
    if (strcmp(message, "hello") != 0) {
        frames[n++] = hello[p];
        if (strcmp(message, "auth") == 0)
            frames[n++] = header[p];
    }
    frames[n++] = *payload;
    int rc = run_target(target, frames, n);
    if (rc != want)
        die("invalid %s: got %s, want %s", name, kula_errname(rc), kula_errname(want));
    json_t *v = json_object();
    json_object_set_new(v, "name", json_string(name));
    json_object_set_new(v, "target", json_string(target->name));
    json_object_set_new(v, "message", json_string(message));
    json_object_set_new(v, "hex", j_hex(payload->b, payload->n));
    json_object_set_new(v, "error", json_string(kula_errname(want)));
    json_object_set_new(v, "why", json_string(why));
    json_array_append_new(invalid, v);
    return v;
}

static void hello_invalid(const char *name, const side *target, const bytes *b, int want,
                          const char *why)
{
    add_invalid(name, target, "hello", b, want, why);
}

/* An AUTH plaintext sealed as the peer's first message, then fed to target. */
static json_t *auth_invalid(const char *name, const side *target, const bytes *plain,
                            unsigned char tag, int want, const char *why)
{
    const side *peer = target == INI ? RES : INI;
    bytes c;
    seal_first(&c, peer->tx, peer->fixed.header, plain->b, plain->n, tag);
    json_t *v = add_invalid(name, target, "auth", &c, want, why);
    json_object_set_new(v, "auth_hex", j_hex(plain->b, plain->n));
    json_object_set_new(v, "stream_tag", json_integer(tag));
    return v;
}

/* An AUTH whose signature was made over something else: records what. */
static void auth_badsig(const char *name, const side *target, const kula_seckey *signer_sk,
                        const kula_pubkey *identity, const uint8_t tag[16],
                        const kula_hash *cid, const kula_hash *tr, uint8_t role,
                        const char *why)
{
    const side *peer = target == INI ? RES : INI;
    kula_hash d, want_d;
    auth_digest(&d, tag, cid, tr, role);
    auth_digest(&want_d, KULA_TAG_HANDSHAKE, &chain_id, &transcript,
                (uint8_t)(peer->role == KULA_HS_INITIATOR ? 0 : 1));
    kula_sig sig;
    sign(&sig, signer_sk, &d);
    bytes plain;
    auth_bytes(&plain, identity, &sig);
    json_t *v = auth_invalid(name, target, &plain, crypto_secretstream_xchacha20poly1305_TAG_MESSAGE,
                             KULA_EBADSIG, why);
    json_object_set_new(v, "sighash", j_hex(want_d.b, 32));
    char t[17] = { 0 };
    memcpy(t, tag, 16);
    json_object_set_new(v, "signed_tag", json_string(t));
    json_object_set_new(v, "signed_chain_id", j_hex(cid->b, 32));
    json_object_set_new(v, "signed_transcript", j_hex(tr->b, 32));
    json_object_set_new(v, "signed_role", json_integer(role));
    json_object_set_new(v, "signed_digest", j_hex(d.b, 32));
}

static void run_invalid(void)
{
    const bytes *h = &hello[0]; /* the initiator's HELLO, fed to the responder */
    bytes b;

    /* ---- HELLO ---- */
    hello_bytes(&b, 1, &other_chain_id, INI->kx_pk, INI->fixed.nonce);
    hello_invalid("hello-wrong-chain-id", RES, &b, KULA_ECHAIN,
                  "chain id of genesis single-validator-dev, not main");
    hello_bytes(&b, 1, &other_chain_id, RES->kx_pk, RES->fixed.nonce);
    hello_invalid("hello-wrong-chain-id-to-initiator", INI, &b, KULA_ECHAIN,
                  "the responder's HELLO for another network");
    hello_bytes(&b, 2, &chain_id, INI->kx_pk, INI->fixed.nonce);
    hello_invalid("hello-version-2", RES, &b, KULA_EVERSION, "version 2");
    b_set(&b, "\x95\x02", 2);
    b_add(&b, h->b + 2, h->n - 2);
    b_add(&b, "\xc4\x00", 2);
    hello_invalid("hello-version-2-extra-field", RES, &b, KULA_EVERSION,
                  "a future version with a fifth field: the version is checked before the arity");
    hello_bytes(&b, 0, &chain_id, INI->kx_pk, INI->fixed.nonce);
    hello_invalid("hello-version-0", RES, &b, KULA_EVERSION, "version 0");
    b = *h;
    b_add(&b, "\x00", 1);
    hello_invalid("hello-trailing-byte", RES, &b, KULA_ETRAILING, "a byte after the HELLO");
    b_set(&b, h->b, h->n - 1);
    hello_invalid("hello-truncated", RES, &b, KULA_ETRUNC, "the last byte of the nonce missing");
    b_set(&b, "\x94\xcc\x01", 3);
    b_add(&b, h->b + 2, h->n - 2);
    hello_invalid("hello-noncanonical-version", RES, &b, KULA_ENONCANON,
                  "version 1 as uint 8 (cc 01)");
    b_set(&b, "\x95\x01", 2);
    b_add(&b, h->b + 2, h->n - 2);
    b_add(&b, "\xc4\x00", 2);
    hello_invalid("hello-arity-5", RES, &b, KULA_EARITY, "version 1 with a fifth field");
    b_set(&b, "\x93", 1);
    b_add(&b, h->b + 1, h->n - 1 - 34);
    hello_invalid("hello-arity-3", RES, &b, KULA_EARITY, "no nonce");
    b_set(&b, "\x90", 1);
    hello_invalid("hello-empty-array", RES, &b, KULA_EARITY, "an empty array");
    b_set(&b, "\x80", 1);
    hello_invalid("hello-map", RES, &b, KULA_ETYPE, "a map, not an array");
    b_set(&b, h->b, 2);
    b_add(&b, "\xd9\x20", 2);
    b_add(&b, "0123456789abcdef0123456789abcdef", 32);
    b_add(&b, h->b + 36, h->n - 36);
    hello_invalid("hello-chain-id-as-str", RES, &b, KULA_ETYPE, "the chain id as str");
    b_set(&b, h->b, 36);
    b_add(&b, "\xc4\x1f", 2);
    b_add(&b, h->b + 38, 31);
    b_add(&b, h->b + 70, 34);
    hello_invalid("hello-short-kx-key", RES, &b, KULA_ERANGE, "a 31-byte ephemeral key");
    b_set(&b, h->b, 70);
    b_add(&b, "\xc4\x21", 2);
    b_add(&b, h->b + 72, 32);
    b_add(&b, "\x00", 1);
    hello_invalid("hello-long-nonce", RES, &b, KULA_ETOOBIG, "a 33-byte nonce");
    uint8_t zero32[32] = { 0 };
    hello_bytes(&b, 1, &chain_id, zero32, INI->fixed.nonce);
    hello_invalid("hello-zero-kx-key", RES, &b, KULA_ECRYPTO,
                  "an ephemeral key of small order (0): no session key");
    hello_invalid("hello-reflected", RES, &hello[1], KULA_ECRYPTO,
                  "the responder's own HELLO sent back to it: its own ephemeral key");

    /* ---- header ---- */
    b_set(&b, header[0].b, 23);
    add_invalid("header-short", RES, "header", &b, KULA_ETRUNC, "23 bytes, not 24");
    b = header[0];
    b_add(&b, "\x00", 1);
    add_invalid("header-long", RES, "header", &b, KULA_ETRAILING, "25 bytes, not 24");

    /* ---- AUTH ---- */
    auth_badsig("auth-role-swapped", RES, &INI->sk, &INI->pk, KULA_TAG_HANDSHAKE, &chain_id,
                &transcript, 1,
                "the initiator's AUTH signed with the responder's role byte 01: a reflected AUTH");
    auth_badsig("auth-role-swapped-to-initiator", INI, &RES->sk, &RES->pk, KULA_TAG_HANDSHAKE,
                &chain_id, &transcript, 0, "the responder's AUTH signed with role byte 00");
    auth_badsig("auth-reflected", RES, &RES->sk, &RES->pk, KULA_TAG_HANDSHAKE, &chain_id,
                &transcript, 1,
                "the responder's own AUTH content, sealed as the initiator's: signed with role 01");
    auth_badsig("auth-wrong-chain-id", RES, &INI->sk, &INI->pk, KULA_TAG_HANDSHAKE,
                &other_chain_id, &transcript, 0,
                "signed over the chain id of genesis single-validator-dev");
    auth_badsig("auth-wrong-tag", RES, &INI->sk, &INI->pk, (const uint8_t *)"kula/tx/v1\0\0\0\0\0",
                &chain_id, &transcript, 0, "signed with the transaction tag kula/tx/v1");
    kula_hash swapped;
    {
        bytes sw;
        b_set(&sw, hello[1].b, hello[1].n);
        b_add(&sw, hello[0].b, hello[0].n);
        kula_hash_bytes(&swapped, sw.b, sw.n);
    }
    auth_badsig("auth-wrong-transcript", RES, &INI->sk, &INI->pk, KULA_TAG_HANDSHAKE, &chain_id,
                &swapped, 0, "signed over H(responder HELLO || initiator HELLO)");
    auth_badsig("auth-other-signer", RES, &RES->sk, &INI->pk, KULA_TAG_HANDSHAKE, &chain_id,
                &transcript, 0, "the initiator's identity with a signature by key 2");

    kula_hash d;
    kula_sig sig;
    auth_digest(&d, KULA_TAG_HANDSHAKE, &chain_id, &transcript, 0);
    sign(&sig, &outsider_sk, &d);
    auth_bytes(&b, &outsider_pk, &sig);
    auth_invalid("auth-refused-by-policy", RES, &b,
                 crypto_secretstream_xchacha20poly1305_TAG_MESSAGE, KULA_EUNKNOWNMEMBER,
                 "a valid AUTH by key 5, which is not a member of genesis main: the policy "
                 "refuses it");
    kula_pubkey bad;
    memset(bad.b, 0xff, 32);
    if (kula_pubkey_valid(&bad))
        die("ff..ff is a valid key?");
    auth_bytes(&b, &bad, &sig);
    auth_invalid("auth-invalid-key", RES, &b, crypto_secretstream_xchacha20poly1305_TAG_MESSAGE,
                 KULA_EBADKEY, "identity ff..ff is not an x coordinate on the curve");
    b = auth_plain[0];
    b_add(&b, "\x00", 1);
    auth_invalid("auth-trailing-byte", RES, &b, crypto_secretstream_xchacha20poly1305_TAG_MESSAGE,
                 KULA_ETRAILING, "a byte after the AUTH");
    b_set(&b, "\x93", 1);
    b_add(&b, auth_plain[0].b + 1, auth_plain[0].n - 1);
    b_add(&b, "\xc4\x00", 2);
    auth_invalid("auth-arity-3", RES, &b, crypto_secretstream_xchacha20poly1305_TAG_MESSAGE,
                 KULA_EARITY, "a third field");
    b_set(&b, auth_plain[0].b, 35);
    b_add(&b, "\xc4\x3f", 2);
    b_add(&b, auth_plain[0].b + 37, 63);
    auth_invalid("auth-short-sig", RES, &b, crypto_secretstream_xchacha20poly1305_TAG_MESSAGE,
                 KULA_ERANGE, "a 63-byte signature");
    auth_invalid("auth-tag-final", RES, &auth_plain[0],
                 crypto_secretstream_xchacha20poly1305_TAG_FINAL, KULA_ETYPE,
                 "the valid AUTH sealed with secretstream tag FINAL instead of MESSAGE");
    auth_invalid("auth-tag-rekey", RES, &auth_plain[0],
                 crypto_secretstream_xchacha20poly1305_TAG_REKEY, KULA_ETYPE,
                 "the valid AUTH sealed with secretstream tag REKEY");
    b = sealed_auth[0];
    b.b[b.n - 1] ^= 1;
    add_invalid("auth-tampered", RES, "auth", &b, KULA_EBADSIG,
                "the initiator's sealed AUTH with the last MAC bit flipped");
    b = sealed_auth[0];
    b.b[10] ^= 0x80;
    add_invalid("auth-tampered-body", RES, "auth", &b, KULA_EBADSIG,
                "the initiator's sealed AUTH with a ciphertext bit flipped");
    b_set(&b, sealed_auth[0].b, 16);
    add_invalid("auth-too-short", RES, "auth", &b, KULA_EBADSIG,
                "16 bytes: shorter than the secretstream overhead");
    add_invalid("auth-reflected-ciphertext", RES, "auth", &sealed_auth[1], KULA_EBADSIG,
                "the responder's own sealed AUTH sent back to it: sealed with the other key");
    memset(b.b, 0, 300);
    b.n = 257;
    add_invalid("auth-oversize", RES, "auth", &b, KULA_ETOOBIG,
                "257 bytes: above KULA_HS_MAX_FRAME");
}

/* ---- fuzz seeds for fuzz_handshake (format: tests/fuzz/fuzz_handshake.c) ---- */

static void frame16(bytes *s, const void *p, size_t n)
{
    uint8_t l[2] = { (uint8_t)(n >> 8), (uint8_t)n };
    b_add(s, l, 2);
    b_add(s, p, n);
}

static void write_seeds(void)
{
    for (int t = 0; t < 2; t++) {
        int p = 1 - t; /* the peer of target t */
        bytes s;
        /* mode 0: raw frames into target t */
        uint8_t ctl = (uint8_t)(t << 1);
        b_set(&s, &ctl, 1);
        frame16(&s, hello[p].b, hello[p].n);
        frame16(&s, header[p].b, header[p].n);
        frame16(&s, sealed_auth[p].b, sealed_auth[p].n);
        seed("fuzz_handshake", t == 0 ? "raw-to-initiator" : "raw-to-responder", s.b, s.n);
        b_set(&s, &ctl, 1);
        frame16(&s, hello[p].b, hello[p].n);
        seed("fuzz_handshake", t == 0 ? "hello-to-initiator" : "hello-to-responder", s.b, s.n);
        /* mode 1: the harness plays the peer; frames are AUTH plaintext, then messages */
        ctl = (uint8_t)(t << 1 | 1);
        b_set(&s, &ctl, 1);
        frame16(&s, auth_plain[p].b, auth_plain[p].n);
        frame16(&s, "\x00kula ping", 10);
        frame16(&s, "\x03kula final", 11);
        seed("fuzz_handshake", t == 0 ? "peer-to-initiator" : "peer-to-responder", s.b, s.n);
    }
    /* fuzz_frame: limits and bad lengths */
    seed("fuzz_frame", "zero-length", "\x00\x00\x00\x00\x00\x00", 6);
    seed("fuzz_frame", "oversize", "\x01\x00\xff\xff\xff\xff", 6);
    seed("fuzz_frame", "small-limit", "\x03\x02\x00\x00\x00\x08\x01\x02\x03\x04\x05\x06\x07\x08"
                                      "\x00\x00\x00\x09\x01\x02\x03\x04\x05\x06\x07\x08\x09", 27);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_handshake REPO-ROOT\n");
        return 2;
    }
    root_dir = argv[1];
    if (kula_crypto_init() != 0)
        die("crypto init");
    setup_sides();

    valid = json_array();
    invalid = json_array();
    run_valid();
    run_invalid();
    write_seeds();

    json_t *root = json_object();
    json_object_set_new(root, "structure", json_string("handshake"));
    json_object_set_new(root, "description",
        json_string("Peer handshake (SPEC §11): a complete deterministic exchange between an "
                    "initiator and a responder with fixed identity keys, ephemeral X25519 keys "
                    "from fixed seeds (crypto_kx_seed_keypair), fixed nonces, fixed "
                    "secretstream headers and AUTH signatures with zero auxiliary randomness; "
                    "then invalid HELLO, header and AUTH frames, each fed to a fresh side "
                    "after the valid frames before it, with the error the reference reports."));
    json_object_set_new(root, "generator", json_string("tests/vectors/gen_handshake.c"));
    json_object_set_new(root, "chain_id", j_hex(chain_id.b, 32));
    json_object_set_new(root, "other_chain_id", j_hex(other_chain_id.b, 32));
    json_object_set_new(root, "tag", j_hex(KULA_TAG_HANDSHAKE, 16));
    json_t *acc = json_array();
    for (int i = 0; i < 4; i++)
        json_array_append_new(acc, j_hex(accepted[i].b, 32));
    json_object_set_new(root, "accepted_keys", acc);
    json_object_set_new(root, "initiator", side_json(INI));
    json_object_set_new(root, "responder", side_json(RES));
    json_object_set_new(root, "transcript", j_transcript);
    json_object_set_new(root, "initiator_stream", j_streams[0]);
    json_object_set_new(root, "responder_stream", j_streams[1]);
    json_object_set(root, "valid", valid);
    json_object_set_new(root, "messages", j_messages);
    json_object_set(root, "invalid", invalid);

    char path[4096];
    snprintf(path, sizeof(path), "%s/proto/vectors/handshake.json", root_dir);
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (text == NULL)
        die("json_dumps");
    size_t n = strlen(text);
    text = realloc(text, n + 2);
    text[n] = '\n';
    write_file(path, text, n + 1);
    printf("handshake.json %zu valid %zu invalid\n", json_array_size(valid),
           json_array_size(invalid));
    free(text);
    json_decref(valid);
    json_decref(invalid);
    json_decref(root);
    return 0;
}
