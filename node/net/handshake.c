/* handshake.c -- the authenticated, encrypted peer session (proto/SPEC.md §11). */
#include "kula/net/handshake.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "kula/base/error.h"
#include "kula/net/frame.h"
#include "handshake_testing.h"

/* Exactly 16 bytes: no NUL padding, which C allows for a char array of its size. */
const uint8_t KULA_TAG_HANDSHAKE[KULA_TAG_LEN] = "kula/handshake/1";

_Static_assert(KULA_HS_KX_LEN == crypto_kx_PUBLICKEYBYTES, "X25519 public key length");
_Static_assert(crypto_kx_SECRETKEYBYTES == 32 && crypto_kx_SESSIONKEYBYTES == 32 &&
                   crypto_kx_SEEDBYTES == 32,
               "crypto_kx sizes");
_Static_assert(KULA_HS_HEADER_LEN == crypto_secretstream_xchacha20poly1305_HEADERBYTES,
               "secretstream header length");
_Static_assert(crypto_secretstream_xchacha20poly1305_KEYBYTES == crypto_kx_SESSIONKEYBYTES,
               "a kx session key is a secretstream key");
_Static_assert(KULA_HS_AUTH_SEALED_LEN == KULA_HS_AUTH_LEN + KULA_SEAL_OVERHEAD,
               "sealed AUTH length");
_Static_assert(KULA_HS_AUTH_SEALED_LEN <= KULA_HS_MAX_FRAME &&
                   KULA_HS_HELLO_LEN <= KULA_HS_MAX_FRAME,
               "handshake frames fit KULA_HS_MAX_FRAME");

enum hs_state {
    HS_NEW,          /* before kula_hs_start */
    HS_WAIT_HELLO,   /* HELLO sent; waiting for the peer's */
    HS_WAIT_HEADER,  /* header and AUTH sent; waiting for the peer's header */
    HS_WAIT_AUTH,    /* waiting for the peer's sealed AUTH */
    HS_DONE,         /* peer verified and admitted: seal and open */
    HS_FAILED,       /* err is set; secrets are wiped */
};

struct kula_hs {
    enum kula_hs_role role;
    enum hs_state state;
    int err;
    kula_hash chain_id;
    kula_hs_policy_fn policy;
    void *policy_ctx;
    bool fixed;                       /* test vectors: fixed header and zero aux */
    kula_seckey sk;                   /* identity; wiped once AUTH is signed */
    kula_pubkey pk;
    uint8_t kx_pk[crypto_kx_PUBLICKEYBYTES];
    uint8_t kx_sk[crypto_kx_SECRETKEYBYTES]; /* wiped once the session keys exist */
    uint8_t nonce[KULA_HS_NONCE_LEN];
    uint8_t header[KULA_HS_HEADER_LEN];      /* fixed mode only */
    uint8_t hello[KULA_HS_HELLO_LEN];        /* this side's HELLO */
    uint8_t rx[crypto_kx_SESSIONKEYBYTES];   /* wiped once the pull state exists */
    uint8_t tx[crypto_kx_SESSIONKEYBYTES];   /* wiped once the push state exists */
    bool has_transcript;
    kula_hash transcript;
    kula_pubkey peer;
    crypto_secretstream_xchacha20poly1305_state push, pull;
};

static const uint8_t zero_aux[32];

/* Records a final error and wipes every secret (§11.5). */
static int fail(kula_hs *hs, int err)
{
    hs->state = HS_FAILED;
    hs->err = err;
    kula_seckey_wipe(&hs->sk);
    sodium_memzero(hs->kx_sk, sizeof(hs->kx_sk));
    sodium_memzero(hs->rx, sizeof(hs->rx));
    sodium_memzero(hs->tx, sizeof(hs->tx));
    sodium_memzero(&hs->push, sizeof(hs->push));
    sodium_memzero(&hs->pull, sizeof(hs->pull));
    return err;
}

static int hs_create(kula_hs **out, enum kula_hs_role role, const kula_hash *chain_id,
                     const kula_seckey *sk, kula_hs_policy_fn policy, void *policy_ctx,
                     const kula_hs_fixed *fixed)
{
    if (out == NULL)
        return KULA_EINVAL;
    *out = NULL;
    if ((role != KULA_HS_INITIATOR && role != KULA_HS_RESPONDER) || chain_id == NULL ||
        sk == NULL || policy == NULL)
        return KULA_EINVAL;
    kula_hs *hs = calloc(1, sizeof(*hs));
    if (hs == NULL)
        return KULA_ENOMEM;
    hs->role = role;
    hs->state = HS_NEW;
    hs->chain_id = *chain_id;
    hs->policy = policy;
    hs->policy_ctx = policy_ctx;
    hs->sk = *sk;
    int rc = kula_key_public(&hs->pk, &hs->sk);
    if (rc != KULA_OK) {
        kula_hs_free(hs);
        return rc;
    }
    if (fixed != NULL) {
        hs->fixed = true;
        if (crypto_kx_seed_keypair(hs->kx_pk, hs->kx_sk, fixed->kx_seed) != 0) {
            kula_hs_free(hs);
            return KULA_ECRYPTO;
        }
        memcpy(hs->nonce, fixed->nonce, sizeof(hs->nonce));
        memcpy(hs->header, fixed->header, sizeof(hs->header));
    } else {
        if (crypto_kx_keypair(hs->kx_pk, hs->kx_sk) != 0) {
            kula_hs_free(hs);
            return KULA_ECRYPTO;
        }
        randombytes_buf(hs->nonce, sizeof(hs->nonce));
    }
    *out = hs;
    return KULA_OK;
}

int kula_hs_new(kula_hs **hs, enum kula_hs_role role, const kula_hash *chain_id,
                const kula_seckey *sk, kula_hs_policy_fn policy, void *policy_ctx)
{
    return hs_create(hs, role, chain_id, sk, policy, policy_ctx, NULL);
}

int kula_hs_new_fixed(kula_hs **hs, enum kula_hs_role role, const kula_hash *chain_id,
                      const kula_seckey *sk, kula_hs_policy_fn policy, void *policy_ctx,
                      const kula_hs_fixed *fixed)
{
    if (fixed == NULL) {
        if (hs != NULL)
            *hs = NULL;
        return KULA_EINVAL;
    }
    return hs_create(hs, role, chain_id, sk, policy, policy_ctx, fixed);
}

void kula_hs_free(kula_hs *hs)
{
    if (hs == NULL)
        return;
    sodium_memzero(hs, sizeof(*hs));
    free(hs);
}

/* ---- messages ---- */

/* §11.2: HELLO = [version: uint (1), chain_id: bin32, kx_key: bin32, nonce: bin32]. */
static void encode_hello(kula_buf *out, const kula_hs *hs)
{
    kula_writer w;
    kula_writer_init(&w, out);
    kula_w_array(&w, 4);
    kula_w_uint(&w, KULA_HS_VERSION);
    kula_w_bin(&w, hs->chain_id.b, KULA_HASH_LEN);
    kula_w_bin(&w, hs->kx_pk, sizeof(hs->kx_pk));
    kula_w_bin(&w, hs->nonce, sizeof(hs->nonce));
}

/* Decodes a HELLO.  The version comes before the arity check, as in every
 * versioned structure (§2.5), so a later version with more fields is
 * reported as EVERSION.  Returns: 0 or the first codec error. */
static int decode_hello(kula_hash *chain_id, uint8_t kx_pk[KULA_HS_KX_LEN],
                        const uint8_t *p, size_t n)
{
    kula_reader r;
    kula_reader_init(&r, p, n);
    uint32_t fields = kula_r_array(&r, 64);
    if (kula_reader_ok(&r) && fields == 0)
        kula_reader_fail(&r, KULA_EARITY);
    uint64_t version = kula_r_uint(&r, UINT64_MAX);
    if (kula_reader_ok(&r) && version != KULA_HS_VERSION)
        kula_reader_fail(&r, KULA_EVERSION);
    if (kula_reader_ok(&r) && fields != 4)
        kula_reader_fail(&r, KULA_EARITY);
    kula_r_bin_exact(&r, chain_id->b, KULA_HASH_LEN);
    kula_r_bin_exact(&r, kx_pk, KULA_HS_KX_LEN);
    uint8_t nonce[KULA_HS_NONCE_LEN];
    kula_r_bin_exact(&r, nonce, sizeof(nonce));
    return kula_reader_finish(&r);
}

/* §11.4: the digest an AUTH signs,
 *   H("kula/handshake/1" || chain_id || transcript || role byte). */
static void auth_digest(kula_hash *out, const kula_hash *chain_id, const kula_hash *transcript,
                        enum kula_hs_role signer)
{
    uint8_t bytes[KULA_HASH_LEN + 1];
    memcpy(bytes, transcript->b, KULA_HASH_LEN);
    bytes[KULA_HASH_LEN] = signer == KULA_HS_INITIATOR ? 0x00 : 0x01;
    kula_signing_digest(out, KULA_TAG_HANDSHAKE, chain_id, bytes, sizeof(bytes));
}

/* Appends a frame of len bytes to out and returns where its payload goes
 * (to be written in place), or NULL if out could not grow.  src is any
 * len readable bytes, copied only to make room. */
static uint8_t *frame_room(kula_buf *out, const uint8_t *src, size_t len, size_t extra)
{
    uint8_t pre[KULA_FRAME_PREFIX];
    if (kula_frame_prefix(pre, len + extra) != KULA_OK)
        return NULL;
    static const uint8_t zeros[KULA_SEAL_OVERHEAD];
    size_t off = out->len;
    kula_buf_append(out, pre, sizeof(pre));
    kula_buf_append(out, src, len);
    kula_buf_append(out, zeros, extra <= sizeof(zeros) ? extra : sizeof(zeros));
    if (out->err != 0)
        return NULL;
    return out->data + off + KULA_FRAME_PREFIX;
}

/* Appends the sealed frame of msg[0..len) to out (push state advances). */
static int seal_frame(kula_hs *hs, kula_buf *out, const uint8_t *msg, size_t len)
{
    size_t off = out->len;
    uint8_t *c = frame_room(out, msg, len, KULA_SEAL_OVERHEAD);
    if (c == NULL) {
        if (out->err == 0)
            return KULA_ETOOBIG;
        return KULA_ENOMEM;
    }
    unsigned long long clen = 0;
    if (crypto_secretstream_xchacha20poly1305_push(&hs->push, c, &clen, msg, len, NULL, 0,
                                                   crypto_secretstream_xchacha20poly1305_TAG_MESSAGE) != 0) {
        out->len = off;
        return KULA_ECRYPTO;
    }
    return KULA_OK;
}

/* Opens one sealed frame into m (room for len - KULA_SEAL_OVERHEAD bytes).
 * Returns: 0, KULA_EBADSIG (does not authenticate), KULA_ETYPE (tag not MESSAGE). */
static int open_frame(kula_hs *hs, uint8_t *m, size_t *mlen, const uint8_t *c, size_t len)
{
    if (len < KULA_SEAL_OVERHEAD)
        return KULA_EBADSIG;
    unsigned long long n = 0;
    unsigned char tag = 0;
    if (crypto_secretstream_xchacha20poly1305_pull(&hs->pull, m, &n, &tag, c, len, NULL, 0) != 0)
        return KULA_EBADSIG;
    /* §11.3: every message is sealed with tag MESSAGE; FINAL, PUSH and
     * REKEY never occur on the wire. */
    if (tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE)
        return KULA_ETYPE;
    *mlen = (size_t)n;
    return KULA_OK;
}

/* ---- the state machine ---- */

int kula_hs_start(kula_hs *hs, kula_buf *out)
{
    if (hs->state == HS_FAILED)
        return hs->err;
    if (hs->state != HS_NEW)
        return KULA_EINVAL;
    kula_buf msg;
    kula_buf_init(&msg);
    encode_hello(&msg, hs);
    if (msg.err != 0 || msg.len != KULA_HS_HELLO_LEN) {
        kula_buf_free(&msg);
        return fail(hs, KULA_ENOMEM);
    }
    memcpy(hs->hello, msg.data, KULA_HS_HELLO_LEN);
    kula_buf_free(&msg);
    if (kula_frame_encode(out, hs->hello, KULA_HS_HELLO_LEN) != KULA_OK)
        return fail(hs, KULA_ENOMEM);
    hs->state = HS_WAIT_HELLO;
    return KULA_OK;
}

/* The peer's HELLO: check it, derive the session keys and the transcript,
 * and send this side's header and AUTH (§11.2 - §11.4). */
static int on_hello(kula_hs *hs, kula_buf *out, const uint8_t *p, size_t n)
{
    kula_hash chain_id;
    uint8_t peer_kx[KULA_HS_KX_LEN];
    int rc = decode_hello(&chain_id, peer_kx, p, n);
    if (rc != KULA_OK)
        return fail(hs, rc);
    /* §11.2: a HELLO for another network ends the handshake. */
    if (sodium_memcmp(chain_id.b, hs->chain_id.b, KULA_HASH_LEN) != 0)
        return fail(hs, KULA_ECHAIN);
    /* §11.3: this side's own key reflected back is refused; keys of small
     * order make crypto_kx fail. */
    if (sodium_memcmp(peer_kx, hs->kx_pk, KULA_HS_KX_LEN) == 0)
        return fail(hs, KULA_ECRYPTO);
    int kx;
    if (hs->role == KULA_HS_INITIATOR)
        kx = crypto_kx_client_session_keys(hs->rx, hs->tx, hs->kx_pk, hs->kx_sk, peer_kx);
    else
        kx = crypto_kx_server_session_keys(hs->rx, hs->tx, hs->kx_pk, hs->kx_sk, peer_kx);
    sodium_memzero(hs->kx_sk, sizeof(hs->kx_sk));
    if (kx != 0)
        return fail(hs, KULA_ECRYPTO);

    /* transcript = H(initiator HELLO || responder HELLO) */
    kula_hasher h;
    kula_hasher_init(&h);
    if (hs->role == KULA_HS_INITIATOR) {
        kula_hasher_update(&h, hs->hello, KULA_HS_HELLO_LEN);
        kula_hasher_update(&h, p, n);
    } else {
        kula_hasher_update(&h, p, n);
        kula_hasher_update(&h, hs->hello, KULA_HS_HELLO_LEN);
    }
    kula_hasher_final(&h, &hs->transcript);
    hs->has_transcript = true;

    /* The push state.  In fixed mode the header is given: secretstream's
     * init_push is "random header, then the same derivation init_pull does
     * from a header", so init_pull with the fixed header and the tx key
     * gives exactly the push state a random header would have given. */
    uint8_t header[KULA_HS_HEADER_LEN];
    if (hs->fixed) {
        memcpy(header, hs->header, sizeof(header));
        rc = crypto_secretstream_xchacha20poly1305_init_pull(&hs->push, header, hs->tx);
    } else {
        rc = crypto_secretstream_xchacha20poly1305_init_push(&hs->push, header, hs->tx);
    }
    sodium_memzero(hs->tx, sizeof(hs->tx));
    if (rc != 0)
        return fail(hs, KULA_ECRYPTO);

    /* AUTH = [identity: bin32, sig: bin64], signed over this side's role. */
    kula_hash digest;
    auth_digest(&digest, &hs->chain_id, &hs->transcript, hs->role);
    kula_sig sig;
    rc = hs->fixed ? kula_sign_aux(&sig, &hs->sk, digest.b, zero_aux)
                   : kula_sign(&sig, &hs->sk, digest.b);
    kula_seckey_wipe(&hs->sk);
    if (rc != KULA_OK)
        return fail(hs, rc);
    uint8_t auth[KULA_HS_AUTH_LEN];
    kula_buf msg;
    kula_buf_init(&msg);
    kula_writer w;
    kula_writer_init(&w, &msg);
    kula_w_array(&w, 2);
    kula_w_bin(&w, hs->pk.b, KULA_PUBKEY_LEN);
    kula_w_bin(&w, sig.b, KULA_SIG_LEN);
    bool ok = msg.err == 0 && msg.len == KULA_HS_AUTH_LEN;
    if (ok)
        memcpy(auth, msg.data, KULA_HS_AUTH_LEN);
    kula_buf_free(&msg);
    if (!ok)
        return fail(hs, KULA_ENOMEM);

    if (kula_frame_encode(out, header, sizeof(header)) != KULA_OK)
        return fail(hs, KULA_ENOMEM);
    rc = seal_frame(hs, out, auth, sizeof(auth));
    if (rc != KULA_OK)
        return fail(hs, rc);
    hs->state = HS_WAIT_HEADER;
    return 2;
}

/* The peer's secretstream header (§11.3). */
static int on_header(kula_hs *hs, const uint8_t *p, size_t n)
{
    if (n < KULA_HS_HEADER_LEN)
        return fail(hs, KULA_ETRUNC);
    if (n > KULA_HS_HEADER_LEN)
        return fail(hs, KULA_ETRAILING);
    int rc = crypto_secretstream_xchacha20poly1305_init_pull(&hs->pull, p, hs->rx);
    sodium_memzero(hs->rx, sizeof(hs->rx));
    if (rc != 0)
        return fail(hs, KULA_ECRYPTO);
    hs->state = HS_WAIT_AUTH;
    return 0;
}

/* The peer's sealed AUTH (§11.4): decrypt, decode, verify, admit. */
static int on_auth(kula_hs *hs, const uint8_t *p, size_t n)
{
    if (n > KULA_HS_MAX_FRAME)
        return fail(hs, KULA_ETOOBIG);
    uint8_t m[KULA_HS_MAX_FRAME];
    size_t mlen = 0;
    int rc = open_frame(hs, m, &mlen, p, n);
    if (rc != KULA_OK)
        return fail(hs, rc);
    kula_reader r;
    kula_reader_init(&r, m, mlen);
    kula_r_array_exact(&r, 2);
    kula_pubkey peer;
    kula_sig sig;
    kula_r_bin_exact(&r, peer.b, KULA_PUBKEY_LEN);
    kula_r_bin_exact(&r, sig.b, KULA_SIG_LEN);
    rc = kula_reader_finish(&r);
    sodium_memzero(m, sizeof(m));
    if (rc != KULA_OK)
        return fail(hs, rc);
    if (!kula_pubkey_valid(&peer))
        return fail(hs, KULA_EBADKEY);
    /* The peer signed with its own role byte: a reflected AUTH (this side's
     * own, whose role byte is ours) does not verify. */
    enum kula_hs_role peer_role =
        hs->role == KULA_HS_INITIATOR ? KULA_HS_RESPONDER : KULA_HS_INITIATOR;
    kula_hash digest;
    auth_digest(&digest, &hs->chain_id, &hs->transcript, peer_role);
    if (!kula_verify(&peer, digest.b, &sig))
        return fail(hs, KULA_EBADSIG);
    /* §11.4: admission is decided only for a proven identity, and before
     * the handshake completes. */
    if (!hs->policy(hs->policy_ctx, &peer))
        return fail(hs, KULA_EUNKNOWNMEMBER);
    hs->peer = peer;
    hs->state = HS_DONE;
    return 0;
}

int kula_hs_receive(kula_hs *hs, kula_buf *out, const uint8_t *payload, size_t len)
{
    if (payload == NULL && len > 0)
        return KULA_EINVAL;
    if (payload == NULL)
        payload = (const uint8_t *)"";
    switch (hs->state) {
    case HS_NEW:
        return KULA_EINVAL;
    case HS_WAIT_HELLO:
        return on_hello(hs, out, payload, len);
    case HS_WAIT_HEADER:
        return on_header(hs, payload, len);
    case HS_WAIT_AUTH:
        return on_auth(hs, payload, len);
    case HS_DONE:
        return KULA_EINVAL;
    case HS_FAILED:
        return hs->err;
    }
    return KULA_EINVAL;
}

/* ---- after the handshake ---- */

int kula_hs_seal(kula_hs *hs, kula_buf *out, const uint8_t *msg, size_t len)
{
    if (hs->state == HS_FAILED)
        return hs->err;
    if (hs->state != HS_DONE || (msg == NULL && len > 0))
        return KULA_EINVAL;
    if (len > KULA_MAX_MESSAGE)
        return KULA_ETOOBIG;
    if (msg == NULL)
        msg = (const uint8_t *)"";
    int rc = seal_frame(hs, out, msg, len);
    if (rc != KULA_OK)
        return fail(hs, rc);
    return KULA_OK;
}

int kula_hs_open(kula_hs *hs, kula_buf *out, const uint8_t *frame, size_t len)
{
    if (hs->state == HS_FAILED)
        return hs->err;
    if (hs->state != HS_DONE || frame == NULL)
        return KULA_EINVAL;
    if (len > KULA_MAX_FRAME)
        return fail(hs, KULA_ETOOBIG);
    if (len < KULA_SEAL_OVERHEAD)
        return fail(hs, KULA_EBADSIG);
    /* Make room for the message in out, then open in place. */
    size_t off = out->len;
    size_t mlen = len - KULA_SEAL_OVERHEAD;
    kula_buf_append(out, frame, mlen);
    if (out->err != 0)
        return fail(hs, KULA_ENOMEM);
    size_t got = 0;
    uint8_t none; /* an empty message into an empty out: out->data may be NULL */
    uint8_t *m = mlen > 0 ? out->data + off : &none;
    int rc = open_frame(hs, m, &got, frame, len);
    if (rc != KULA_OK) {
        if (mlen > 0)
            sodium_memzero(m, mlen);
        out->len = off;
        return fail(hs, rc);
    }
    out->len = off + got;
    return KULA_OK;
}

/* ---- accessors ---- */

bool kula_hs_done(const kula_hs *hs) { return hs->state == HS_DONE; }
int kula_hs_error(const kula_hs *hs) { return hs->err; }
enum kula_hs_role kula_hs_role(const kula_hs *hs) { return hs->role; }

const kula_pubkey *kula_hs_peer_key(const kula_hs *hs)
{
    return hs->state == HS_DONE ? &hs->peer : NULL;
}

const kula_pubkey *kula_hs_own_key(const kula_hs *hs) { return &hs->pk; }

const kula_hash *kula_hs_transcript(const kula_hs *hs)
{
    return hs->has_transcript ? &hs->transcript : NULL;
}

bool kula_hs_wiped(const kula_hs *hs)
{
    return sodium_is_zero(hs->sk.b, sizeof(hs->sk.b)) &&
           sodium_is_zero(hs->kx_sk, sizeof(hs->kx_sk)) &&
           sodium_is_zero(hs->rx, sizeof(hs->rx)) && sodium_is_zero(hs->tx, sizeof(hs->tx));
}
