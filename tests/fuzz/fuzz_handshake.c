/* fuzz_handshake.c -- libFuzzer target for the peer handshake and session.
 *
 * Input: byte 0 = mode | target << 1; the rest is a list of frames, each a
 * 2-byte big-endian length and that many bytes (the last may be short).
 * The target (0 initiator, 1 responder) is a fixed-mode kula_hs with the
 * keys of proto/vectors/handshake.json (tests/vectors/gen_handshake.c), so
 * the seeds can hold a valid exchange.
 *
 *   mode 0: every frame goes to the target as it is: kula_hs_receive until
 *           done, then kula_hs_open.
 *   mode 1: the harness plays the peer: it sends a valid HELLO and header
 *           itself, seals the first frame as the peer's AUTH, and after
 *           that seals each frame with the secretstream tag its first byte
 *           names (low 2 bits: MESSAGE, PUSH, REKEY, FINAL), or, with bit 2
 *           set, passes it unsealed.
 *
 * Properties: nothing crashes; an error is final, sticky and leaves the
 * secrets wiped; the target completes only if the frames it accepted hold a
 * HELLO for the right chain, a header and a sealed AUTH that the harness,
 * recomputing everything from libsodium and the keys, finds valid and
 * signed by an admitted key over the right transcript and role; after
 * completion, a frame sealed by the peer's stream opens to its plaintext
 * (MESSAGE) or fails with ETYPE, an unsealed frame never opens, and what
 * the target seals, the peer opens. */
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kula/codec/codec.h"
#include "kula/crypto/crypto.h"
#include "kula/base/error.h"
#include "kula/net/frame.h"
#include "kula/net/handshake.h"
#include "net/handshake_testing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct side {
    enum kula_hs_role role;
    kula_seckey sk;
    kula_pubkey pk;
    kula_hs_fixed fixed;
    uint8_t kx_pk[32], kx_sk[32], rx[32], tx[32];
} side;

static side sides[2];
static kula_hash chain_id;
static kula_pubkey accepted[4];

static void h_text(uint8_t out[32], const char *t)
{
    kula_hash h;
    kula_hash_bytes(&h, t, strlen(t));
    memcpy(out, h.b, 32);
}

static bool policy(void *ctx, const kula_pubkey *peer)
{
    (void)ctx;
    for (int i = 0; i < 4; i++)
        if (memcmp(accepted[i].b, peer->b, 32) == 0)
            return true;
    return false;
}

static void init_once(void)
{
    static bool ready;
    if (ready)
        return;
    if (kula_crypto_init() != 0)
        abort();
    /* The chain id of genesis vector "main" (proto/vectors/genesis.json). */
    if (kula_hex_decode(chain_id.b, 32,
                        "629c97897006da792113bd4305ded41b33c4f34d891945b2016242f610b4bf65") != 0)
        abort();
    for (int i = 0; i < 4; i++) {
        char t[32] = "kula vector key 0";
        t[16] = (char)('1' + i);
        kula_seckey k;
        h_text(k.b, t);
        if (kula_key_public(&accepted[i], &k) != 0)
            abort();
    }
    static const char *names[2] = { "initiator", "responder" };
    for (int i = 0; i < 2; i++) {
        side *s = &sides[i];
        char t[64];
        s->role = i == 0 ? KULA_HS_INITIATOR : KULA_HS_RESPONDER;
        h_text(s->sk.b, i == 0 ? "kula vector key 1" : "kula vector key 2");
        if (kula_key_public(&s->pk, &s->sk) != 0)
            abort();
        strcpy(t, "kula vector kx ");
        strcat(t, names[i]);
        h_text(s->fixed.kx_seed, t);
        strcpy(t, "kula vector nonce ");
        strcat(t, names[i]);
        h_text(s->fixed.nonce, t);
        uint8_t h[32];
        strcpy(t, "kula vector header ");
        strcat(t, names[i]);
        h_text(h, t);
        memcpy(s->fixed.header, h, 24);
        if (crypto_kx_seed_keypair(s->kx_pk, s->kx_sk, s->fixed.kx_seed) != 0)
            abort();
    }
    if (crypto_kx_client_session_keys(sides[0].rx, sides[0].tx, sides[0].kx_pk, sides[0].kx_sk,
                                      sides[1].kx_pk) != 0 ||
        crypto_kx_server_session_keys(sides[1].rx, sides[1].tx, sides[1].kx_pk, sides[1].kx_sk,
                                      sides[0].kx_pk) != 0)
        abort();
    ready = true;
}

/* ---- input frames ---- */

typedef struct frames {
    const uint8_t *p;
    size_t left;
} frames;

static bool next_frame(frames *f, const uint8_t **p, size_t *n)
{
    if (f->left < 2)
        return false;
    size_t len = (size_t)f->p[0] << 8 | f->p[1];
    f->p += 2;
    f->left -= 2;
    if (len > f->left)
        len = f->left;
    *p = f->p;
    *n = len;
    f->p += len;
    f->left -= len;
    return true;
}

/* ---- the independent check of a completed handshake ---- */

typedef struct accepted_frames {
    uint8_t own_hello[KULA_HS_HELLO_LEN];
    uint8_t hello[KULA_HS_HELLO_LEN];
    size_t hello_len;
    uint8_t header[KULA_HS_HEADER_LEN];
    size_t header_len;
    uint8_t auth[KULA_HS_MAX_FRAME];
    size_t auth_len;
} accepted_frames;

/* abort()s unless the frames the target accepted make a valid handshake
 * that ends with the identity the target reports. */
static void check_done(const side *t, kula_hs *hs, const accepted_frames *a)
{
    if (a->hello_len != KULA_HS_HELLO_LEN || a->header_len != KULA_HS_HEADER_LEN)
        abort();
    kula_reader r;
    kula_reader_init(&r, a->hello, a->hello_len);
    kula_r_array_exact(&r, 4);
    if (kula_r_uint(&r, 1) != 1)
        abort();
    kula_hash cid;
    uint8_t peer_kx[32], nonce[32];
    kula_r_bin_exact(&r, cid.b, 32);
    kula_r_bin_exact(&r, peer_kx, 32);
    kula_r_bin_exact(&r, nonce, 32);
    if (kula_reader_finish(&r) != 0 || memcmp(cid.b, chain_id.b, 32) != 0)
        abort();
    uint8_t rx[32], tx[32];
    int kx = t->role == KULA_HS_INITIATOR
                 ? crypto_kx_client_session_keys(rx, tx, t->kx_pk, t->kx_sk, peer_kx)
                 : crypto_kx_server_session_keys(rx, tx, t->kx_pk, t->kx_sk, peer_kx);
    if (kx != 0)
        abort();
    kula_hasher h;
    kula_hash tr;
    kula_hasher_init(&h);
    if (t->role == KULA_HS_INITIATOR) {
        kula_hasher_update(&h, a->own_hello, KULA_HS_HELLO_LEN);
        kula_hasher_update(&h, a->hello, KULA_HS_HELLO_LEN);
    } else {
        kula_hasher_update(&h, a->hello, KULA_HS_HELLO_LEN);
        kula_hasher_update(&h, a->own_hello, KULA_HS_HELLO_LEN);
    }
    kula_hasher_final(&h, &tr);
    if (memcmp(kula_hs_transcript(hs)->b, tr.b, 32) != 0)
        abort();
    crypto_secretstream_xchacha20poly1305_state st;
    uint8_t m[KULA_HS_MAX_FRAME];
    unsigned long long mlen;
    unsigned char tag;
    if (crypto_secretstream_xchacha20poly1305_init_pull(&st, a->header, rx) != 0 ||
        crypto_secretstream_xchacha20poly1305_pull(&st, m, &mlen, &tag, a->auth, a->auth_len,
                                                   NULL, 0) != 0 ||
        tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE)
        abort();
    kula_reader_init(&r, m, (size_t)mlen);
    kula_r_array_exact(&r, 2);
    kula_pubkey id;
    kula_sig sig;
    kula_r_bin_exact(&r, id.b, 32);
    kula_r_bin_exact(&r, sig.b, 64);
    if (kula_reader_finish(&r) != 0)
        abort();
    uint8_t signed_bytes[33];
    memcpy(signed_bytes, tr.b, 32);
    signed_bytes[32] = t->role == KULA_HS_INITIATOR ? 1 : 0; /* the peer's role */
    kula_hash d;
    kula_signing_digest(&d, KULA_TAG_HANDSHAKE, &chain_id, signed_bytes, 33);
    if (!kula_verify(&id, d.b, &sig) || !policy(NULL, &id) ||
        memcmp(kula_hs_peer_key(hs)->b, id.b, 32) != 0)
        abort();
}

/* An error must be final, sticky and leave nothing secret behind. */
static void check_failed(kula_hs *hs, int rc)
{
    kula_buf out;
    kula_buf_init(&out);
    if (kula_hs_done(hs) || kula_hs_error(hs) != rc || !kula_hs_wiped(hs) ||
        kula_hs_receive(hs, &out, (const uint8_t *)"x", 1) != rc ||
        kula_hs_seal(hs, &out, (const uint8_t *)"x", 1) != rc || out.len != 0)
        abort();
    kula_buf_free(&out);
}

/* Records an accepted handshake frame by the stage it was accepted in. */
static void record(accepted_frames *a, int stage, const uint8_t *p, size_t n)
{
    if (stage == 0 && n == KULA_HS_HELLO_LEN) {
        memcpy(a->hello, p, n);
        a->hello_len = n;
    } else if (stage == 1 && n == KULA_HS_HEADER_LEN) {
        memcpy(a->header, p, n);
        a->header_len = n;
    } else if (stage == 2 && n <= KULA_HS_MAX_FRAME) {
        memcpy(a->auth, p, n);
        a->auth_len = n;
    } else {
        abort(); /* accepted something no stage accepts */
    }
}

static void run_raw(const side *t, kula_hs *hs, accepted_frames *a, frames *in)
{
    kula_buf out, msg;
    kula_buf_init(&out);
    kula_buf_init(&msg);
    int stage = 0;
    const uint8_t *p;
    size_t n;
    while (next_frame(in, &p, &n)) {
        int rc;
        if (!kula_hs_done(hs)) {
            rc = kula_hs_receive(hs, &out, p, n);
            if (rc >= 0) {
                record(a, stage, p, n);
                stage++;
                if (kula_hs_done(hs))
                    check_done(t, hs, a);
                else if (stage > 2)
                    abort();
            }
        } else {
            rc = kula_hs_open(hs, &msg, p, n);
        }
        if (rc < 0) {
            check_failed(hs, rc);
            break;
        }
    }
    kula_buf_free(&out);
    kula_buf_free(&msg);
}

static void run_peer(const side *t, const side *peer, kula_hs *hs, accepted_frames *a, frames *in)
{
    kula_buf out, msg, hello;
    kula_buf_init(&out);
    kula_buf_init(&msg);
    kula_buf_init(&hello);
    kula_writer w;
    kula_writer_init(&w, &hello);
    kula_w_array(&w, 4);
    kula_w_uint(&w, 1);
    kula_w_bin(&w, chain_id.b, 32);
    kula_w_bin(&w, peer->kx_pk, 32);
    kula_w_bin(&w, peer->fixed.nonce, 32);
    if (hello.err != 0 || kula_hs_receive(hs, &out, hello.data, hello.len) != 2)
        abort();
    record(a, 0, hello.data, hello.len);
    if (kula_hs_receive(hs, &out, peer->fixed.header, KULA_HS_HEADER_LEN) != 0)
        abort();
    record(a, 1, peer->fixed.header, KULA_HS_HEADER_LEN);
    /* The peer's push stream (init_pull from a given header = init_push
     * with that header), and its pull stream of the target's messages. */
    crypto_secretstream_xchacha20poly1305_state push, pull;
    if (crypto_secretstream_xchacha20poly1305_init_pull(&push, peer->fixed.header, peer->tx) != 0 ||
        crypto_secretstream_xchacha20poly1305_init_pull(&pull, t->fixed.header, peer->rx) != 0)
        abort();
    /* The target's own sealed AUTH comes first on its stream (out holds
     * its header frame and its AUTH frame). */
    {
        size_t off = 4 + KULA_HS_HEADER_LEN + 4;
        uint8_t m[KULA_HS_AUTH_LEN];
        if (out.len != off + KULA_HS_AUTH_SEALED_LEN ||
            crypto_secretstream_xchacha20poly1305_pull(&pull, m, NULL, NULL, out.data + off,
                                                       KULA_HS_AUTH_SEALED_LEN, NULL, 0) != 0)
            abort();
    }
    static const unsigned char tags[4] = {
        crypto_secretstream_xchacha20poly1305_TAG_MESSAGE,
        crypto_secretstream_xchacha20poly1305_TAG_PUSH,
        crypto_secretstream_xchacha20poly1305_TAG_REKEY,
        crypto_secretstream_xchacha20poly1305_TAG_FINAL,
    };
    const uint8_t *p;
    size_t n;
    bool first = true;
    while (next_frame(in, &p, &n)) {
        uint8_t *c = malloc(n + 17);
        if (c == NULL)
            abort();
        int rc;
        if (first) {
            crypto_secretstream_xchacha20poly1305_push(&push, c, NULL, p, n, NULL, 0, tags[0]);
            rc = kula_hs_receive(hs, &out, c, n + 17);
            if (rc >= 0) {
                record(a, 2, c, n + 17);
                if (!kula_hs_done(hs))
                    abort();
                check_done(t, hs, a);
            }
            first = false;
        } else if (n > 0 && (p[0] & 4)) {
            rc = kula_hs_open(hs, &msg, p + 1, n - 1);
            if (rc == 0)
                abort(); /* a forgery opened */
        } else {
            unsigned char tag = tags[n > 0 ? p[0] & 3 : 0];
            const uint8_t *m = n > 0 ? p + 1 : p;
            size_t mlen = n > 0 ? n - 1 : 0;
            crypto_secretstream_xchacha20poly1305_push(&push, c, NULL, m, mlen, NULL, 0, tag);
            size_t before = msg.len;
            rc = kula_hs_open(hs, &msg, c, mlen + 17);
            if (tag == tags[0]) {
                if (rc != 0 || msg.len != before + mlen ||
                    (mlen > 0 && memcmp(msg.data + before, m, mlen) != 0))
                    abort();
                /* and the other way: the target seals, the peer opens */
                size_t off = out.len;
                uint8_t back[64];
                size_t bl = mlen < sizeof(back) ? mlen : sizeof(back);
                unsigned char bt;
                unsigned long long got;
                if (kula_hs_seal(hs, &out, m, bl) != 0 ||
                    crypto_secretstream_xchacha20poly1305_pull(&pull, back, &got, &bt,
                                                               out.data + off + 4,
                                                               out.len - off - 4, NULL, 0) != 0 ||
                    got != bl || memcmp(back, m, bl) != 0 || bt != tags[0])
                    abort();
            } else if (rc != KULA_ETYPE) {
                abort();
            }
        }
        free(c);
        if (rc < 0) {
            check_failed(hs, rc);
            break;
        }
    }
    kula_buf_free(&out);
    kula_buf_free(&msg);
    kula_buf_free(&hello);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_once();
    if (size < 1)
        return 0;
    int mode = data[0] & 1, ti = (data[0] >> 1) & 1;
    const side *t = &sides[ti], *peer = &sides[1 - ti];
    kula_hs *hs;
    if (kula_hs_new_fixed(&hs, t->role, &chain_id, &t->sk, policy, NULL, &t->fixed) != 0)
        abort();
    accepted_frames a;
    memset(&a, 0, sizeof(a));
    kula_buf out;
    kula_buf_init(&out);
    if (kula_hs_start(hs, &out) != 0 || out.len != 4 + KULA_HS_HELLO_LEN)
        abort();
    memcpy(a.own_hello, out.data + 4, KULA_HS_HELLO_LEN);
    kula_buf_free(&out);
    frames in = { data + 1, size - 1 };
    if (mode == 0)
        run_raw(t, hs, &a, &in);
    else
        run_peer(t, peer, hs, &a, &in);
    kula_hs_free(hs);
    return 0;
}
