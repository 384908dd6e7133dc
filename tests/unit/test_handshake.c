/* test_handshake.c -- the peer handshake and session (kula/net/handshake.h, SPEC §11).
 *
 * Two in-memory peers exchange frames through real frame decoders; the
 * vectors of proto/vectors/handshake.json are reproduced byte for byte. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kula/codec/codec.h"
#include "kula/crypto/crypto.h"
#include "kula/base/error.h"
#include "kula/net/frame.h"
#include "kula/net/handshake.h"
#include "testutil.h"
#include "net/handshake_testing.h"

static void setup(void) { cr_assert_eq(kula_crypto_init(), 0); }

TestSuite(handshake, .init = setup);

/* ---- keys and policies ---- */

static void key_from_text(kula_seckey *sk, kula_pubkey *pk, const char *text)
{
    kula_hash h;
    kula_hash_bytes(&h, text, strlen(text));
    memcpy(sk->b, h.b, 32);
    cr_assert_eq(kula_key_public(pk, sk), 0);
}

static kula_hash chain_of(const char *text)
{
    kula_hash h;
    kula_hash_bytes(&h, text, strlen(text));
    return h;
}

typedef struct policy {
    kula_pubkey allowed[4];
    size_t n;
    int calls;
    kula_pubkey last;
} policy;

static bool policy_fn(void *ctx, const kula_pubkey *peer)
{
    policy *p = ctx;
    p->calls++;
    p->last = *peer;
    for (size_t i = 0; i < p->n; i++)
        if (memcmp(p->allowed[i].b, peer->b, 32) == 0)
            return true;
    return false;
}

/* ---- in-memory peers ---- */

typedef struct peer {
    kula_hs *hs;
    kula_frame_decoder dec;
    kula_buf out;   /* everything this peer has sent */
    size_t sent;    /* bytes of out delivered to the other side */
    kula_buf inbox; /* opened application messages, concatenated */
    size_t nmsgs;
    int err;        /* why this side closed the connection, or 0 */
    /* corruption in transit of what this peer sends: */
    size_t flip_at;
    uint8_t flip_mask;
} peer;

static void peer_init(peer *p, kula_hs *hs)
{
    memset(p, 0, sizeof(*p));
    p->hs = hs;
    kula_frame_decoder_init(&p->dec);
    /* As the transport will: small frames only until the handshake is done. */
    kula_frame_decoder_set_max(&p->dec, KULA_HS_MAX_FRAME);
    kula_buf_init(&p->out);
    kula_buf_init(&p->inbox);
    p->flip_at = SIZE_MAX;
}

static void peer_free(peer *p)
{
    kula_hs_free(p->hs);
    kula_frame_decoder_free(&p->dec);
    kula_buf_free(&p->out);
    kula_buf_free(&p->inbox);
}

/* One frame arrived at `to`. */
static void on_frame(peer *to, const uint8_t *f, size_t n)
{
    int rc;
    if (!kula_hs_done(to->hs)) {
        rc = kula_hs_receive(to->hs, &to->out, f, n);
        if (rc >= 0 && kula_hs_done(to->hs))
            kula_frame_decoder_set_max(&to->dec, KULA_MAX_FRAME);
    } else {
        rc = kula_hs_open(to->hs, &to->inbox, f, n);
        if (rc == 0)
            to->nmsgs++;
    }
    if (rc < 0)
        to->err = rc;
}

/* Delivers what `from` has sent and `to` has not yet read, in chunks of at
 * most `chunk` bytes (0: all at once).  Returns: true if anything moved. */
static bool deliver(peer *from, peer *to, size_t chunk)
{
    if (to->err != 0 || from->sent == from->out.len)
        return false;
    while (from->sent < from->out.len && to->err == 0) {
        size_t n = from->out.len - from->sent;
        if (chunk != 0 && n > chunk)
            n = chunk;
        uint8_t *c = malloc(n);
        cr_assert_not_null(c);
        memcpy(c, from->out.data + from->sent, n);
        if (from->flip_at >= from->sent && from->flip_at < from->sent + n)
            c[from->flip_at - from->sent] ^= from->flip_mask;
        size_t off = 0;
        while (off < n && to->err == 0) {
            size_t used, flen;
            const uint8_t *f;
            int rc = kula_frame_feed(&to->dec, &used, &f, &flen, c + off, n - off);
            if (rc < 0) {
                to->err = rc;
                break;
            }
            off += used;
            if (rc == 1)
                on_frame(to, f, flen);
        }
        free(c);
        from->sent += n;
    }
    return true;
}

static void pump(peer *a, peer *b, size_t chunk)
{
    for (int i = 0; i < 100; i++) {
        bool moved = deliver(a, b, chunk);
        moved |= deliver(b, a, chunk);
        if (!moved)
            return;
    }
    cr_assert_fail("pump did not settle");
}

static kula_hs *hs_new(enum kula_hs_role role, const kula_hash *cid, const kula_seckey *sk,
                       policy *pol)
{
    kula_hs *hs;
    cr_assert_eq(kula_hs_new(&hs, role, cid, sk, policy_fn, pol), 0);
    return hs;
}

static void start(peer *p)
{
    cr_assert_eq(kula_hs_start(p->hs, &p->out), 0);
}

/* ---- a standard pair: key 1 initiates, key 2 responds, both admit 1..3 ---- */

typedef struct pair {
    kula_seckey sk[4];
    kula_pubkey pk[4];
    kula_hash cid;
    policy pol[2];
    peer p[2]; /* p[0] initiator, p[1] responder */
} pair;

static void pair_keys(pair *x)
{
    memset(x, 0, sizeof(*x));
    for (int i = 1; i <= 3; i++) {
        char t[32];
        snprintf(t, sizeof(t), "test handshake key %d", i);
        key_from_text(&x->sk[i], &x->pk[i], t);
    }
    x->cid = chain_of("test chain");
    for (int s = 0; s < 2; s++) {
        x->pol[s].n = 3;
        for (int i = 0; i < 3; i++)
            x->pol[s].allowed[i] = x->pk[i + 1];
    }
}

static void pair_new(pair *x)
{
    pair_keys(x);
    peer_init(&x->p[0], hs_new(KULA_HS_INITIATOR, &x->cid, &x->sk[1], &x->pol[0]));
    peer_init(&x->p[1], hs_new(KULA_HS_RESPONDER, &x->cid, &x->sk[2], &x->pol[1]));
}

/* Fixed ephemeral keys, nonces and headers (reproducible streams). */
static kula_hs_fixed fixed_for(int side)
{
    kula_hs_fixed f;
    char t[64];
    kula_hash h;
    snprintf(t, sizeof(t), "test kx %d", side);
    kula_hash_bytes(&h, t, strlen(t));
    memcpy(f.kx_seed, h.b, 32);
    snprintf(t, sizeof(t), "test nonce %d", side);
    kula_hash_bytes(&h, t, strlen(t));
    memcpy(f.nonce, h.b, 32);
    snprintf(t, sizeof(t), "test header %d", side);
    kula_hash_bytes(&h, t, strlen(t));
    memcpy(f.header, h.b, 24);
    return f;
}

static void pair_new_fixed(pair *x)
{
    pair_keys(x);
    kula_hs_fixed f0 = fixed_for(0), f1 = fixed_for(1);
    kula_hs *a, *b;
    cr_assert_eq(kula_hs_new_fixed(&a, KULA_HS_INITIATOR, &x->cid, &x->sk[1], policy_fn,
                                   &x->pol[0], &f0), 0);
    cr_assert_eq(kula_hs_new_fixed(&b, KULA_HS_RESPONDER, &x->cid, &x->sk[2], policy_fn,
                                   &x->pol[1], &f1), 0);
    peer_init(&x->p[0], a);
    peer_init(&x->p[1], b);
}

static void pair_free(pair *x)
{
    peer_free(&x->p[0]);
    peer_free(&x->p[1]);
}

static void expect_done(pair *x)
{
    for (int s = 0; s < 2; s++) {
        cr_assert_eq(x->p[s].err, 0, "side %d: %s", s, kula_errname(x->p[s].err));
        cr_assert(kula_hs_done(x->p[s].hs), "side %d not done", s);
        cr_assert_eq(x->pol[s].calls, 1, "policy asked once");
        cr_assert(kula_hs_wiped(x->p[s].hs));
    }
    cr_assert_eq(memcmp(kula_hs_peer_key(x->p[0].hs)->b, x->pk[2].b, 32), 0);
    cr_assert_eq(memcmp(kula_hs_peer_key(x->p[1].hs)->b, x->pk[1].b, 32), 0);
    cr_assert_eq(memcmp(kula_hs_transcript(x->p[0].hs)->b, kula_hs_transcript(x->p[1].hs)->b, 32),
                 0);
}

/* ---- full handshakes ---- */

Test(handshake, complete_then_messages_both_ways)
{
    static const size_t chunks[] = { 0, 1, 2, 3, 5, 17, 100, 4096 };
    for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
        pair x;
        pair_new(&x);
        cr_assert_not(kula_hs_wiped(x.p[0].hs));
        cr_assert_null(kula_hs_transcript(x.p[0].hs));
        cr_assert_null(kula_hs_peer_key(x.p[0].hs));
        start(&x.p[0]);
        start(&x.p[1]);
        pump(&x.p[0], &x.p[1], chunks[c]);
        expect_done(&x);
        cr_assert_eq(kula_hs_role(x.p[0].hs), KULA_HS_INITIATOR);
        cr_assert_eq(kula_hs_role(x.p[1].hs), KULA_HS_RESPONDER);
        cr_assert_eq(memcmp(kula_hs_own_key(x.p[0].hs)->b, x.pk[1].b, 32), 0);

        /* Messages both ways, interleaved, in order. */
        char want[2][4096];
        size_t wlen[2] = { 0, 0 };
        for (int i = 0; i < 20; i++) {
            int s = (i * 7) % 3 == 0;
            char m[64];
            int n = snprintf(m, sizeof(m), "message %d from side %d", i, s);
            cr_assert_eq(kula_hs_seal(x.p[s].hs, &x.p[s].out, (const uint8_t *)m, (size_t)n), 0);
            memcpy(want[1 - s] + wlen[1 - s], m, (size_t)n);
            wlen[1 - s] += (size_t)n;
            if (i % 4 == 3)
                pump(&x.p[0], &x.p[1], chunks[c]);
        }
        /* An empty message too, opened into an empty buffer. */
        size_t off = x.p[0].out.len;
        cr_assert_eq(kula_hs_seal(x.p[0].hs, &x.p[0].out, NULL, 0), 0);
        cr_assert_eq(x.p[0].out.len, off + 4 + 17);
        kula_buf empty;
        kula_buf_init(&empty);
        cr_assert_eq(kula_hs_open(x.p[1].hs, &empty, x.p[0].out.data + off + 4, 17), 0);
        cr_assert_eq(empty.len, 0);
        kula_buf_free(&empty);
        x.p[0].sent = x.p[0].out.len; /* already delivered by hand */
        cr_assert_eq(kula_hs_seal(x.p[0].hs, &x.p[0].out, NULL, 0), 0);
        pump(&x.p[0], &x.p[1], chunks[c]);
        for (int s = 0; s < 2; s++) {
            cr_assert_eq(x.p[s].err, 0, "%s", kula_errname(x.p[s].err));
            cr_assert_eq(x.p[s].inbox.len, wlen[s]);
            cr_assert_eq(memcmp(x.p[s].inbox.data, want[s], wlen[s]), 0);
        }
        cr_assert_eq(x.p[0].nmsgs + x.p[1].nmsgs, 21);
        pair_free(&x);
    }
}

Test(handshake, responder_may_start_late)
{
    /* The responder sends its HELLO only after the initiator's arrived. */
    pair x;
    pair_new(&x);
    start(&x.p[0]);
    cr_assert_eq(kula_hs_receive(x.p[1].hs, &x.p[1].out, (const uint8_t *)"x", 1), KULA_EINVAL,
                 "receive before start is the caller's bug");
    cr_assert_eq(kula_hs_error(x.p[1].hs), 0, "and changes nothing");
    start(&x.p[1]);
    pump(&x.p[0], &x.p[1], 0);
    expect_done(&x);
    pair_free(&x);
}

Test(handshake, largest_message)
{
    pair x;
    pair_new(&x);
    start(&x.p[0]);
    start(&x.p[1]);
    pump(&x.p[0], &x.p[1], 0);
    expect_done(&x);
    size_t n = KULA_MAX_MESSAGE;
    uint8_t *m = malloc(n + 1);
    cr_assert_not_null(m);
    for (size_t i = 0; i <= n; i++)
        m[i] = (uint8_t)(i * 7 + 3);
    cr_assert_eq(kula_hs_seal(x.p[0].hs, &x.p[0].out, m, n + 1), KULA_ETOOBIG);
    cr_assert_eq(kula_hs_error(x.p[0].hs), 0, "an oversize seal is not final");
    cr_assert_eq(kula_hs_seal(x.p[0].hs, &x.p[0].out, m, n), 0);
    pump(&x.p[0], &x.p[1], 1 << 16);
    cr_assert_eq(x.p[1].err, 0, "%s", kula_errname(x.p[1].err));
    cr_assert_eq(x.p[1].nmsgs, 1);
    cr_assert_eq(x.p[1].inbox.len, n);
    cr_assert_eq(memcmp(x.p[1].inbox.data, m, n), 0);
    free(m);
    pair_free(&x);
}

/* ---- sealed messages: tampering, replay, reordering ---- */

/* A finished pair and two sealed frames from the initiator (payloads). */
static void two_sealed(pair *x, kula_buf *m1, kula_buf *m2)
{
    pair_new(x);
    start(&x->p[0]);
    start(&x->p[1]);
    pump(&x->p[0], &x->p[1], 0);
    expect_done(x);
    kula_buf f;
    kula_buf_init(&f);
    cr_assert_eq(kula_hs_seal(x->p[0].hs, &f, (const uint8_t *)"first", 5), 0);
    kula_buf_init(m1);
    kula_buf_append(m1, f.data + 4, f.len - 4);
    kula_buf_reset(&f);
    cr_assert_eq(kula_hs_seal(x->p[0].hs, &f, (const uint8_t *)"second", 6), 0);
    kula_buf_init(m2);
    kula_buf_append(m2, f.data + 4, f.len - 4);
    kula_buf_free(&f);
}

Test(handshake, tampered_frame_fails_every_byte)
{
    pair x;
    kula_buf m1, m2;
    two_sealed(&x, &m1, &m2);
    kula_buf_free(&m2);
    pair_free(&x);
    for (size_t i = 0; i < m1.len; i++) {
        kula_buf a, b;
        two_sealed(&x, &a, &b);
        a.data[i] ^= 0x20;
        kula_buf out;
        kula_buf_init(&out);
        cr_assert_eq(kula_hs_open(x.p[1].hs, &out, a.data, a.len), KULA_EBADSIG, "byte %zu", i);
        cr_assert_eq(out.len, 0);
        /* Final: even the genuine next frame is refused now. */
        a.data[i] ^= 0x20;
        cr_assert_eq(kula_hs_open(x.p[1].hs, &out, a.data, a.len), KULA_EBADSIG);
        cr_assert_eq(kula_hs_seal(x.p[1].hs, &out, (const uint8_t *)"x", 1), KULA_EBADSIG);
        cr_assert_eq(kula_hs_error(x.p[1].hs), KULA_EBADSIG);
        cr_assert_not(kula_hs_done(x.p[1].hs));
        kula_buf_free(&out);
        kula_buf_free(&a);
        kula_buf_free(&b);
        pair_free(&x);
    }
    kula_buf_free(&m1);
}

Test(handshake, replayed_and_reordered_frames_fail)
{
    pair x;
    kula_buf m1, m2, out;
    kula_buf_init(&out);

    two_sealed(&x, &m1, &m2);
    cr_assert_eq(kula_hs_open(x.p[1].hs, &out, m1.data, m1.len), 0);
    cr_assert_eq(out.len, 5);
    cr_assert_eq(memcmp(out.data, "first", 5), 0);
    cr_assert_eq(kula_hs_open(x.p[1].hs, &out, m1.data, m1.len), KULA_EBADSIG, "replay");
    cr_assert_eq(out.len, 5);
    kula_buf_free(&m1);
    kula_buf_free(&m2);
    pair_free(&x);

    two_sealed(&x, &m1, &m2);
    cr_assert_eq(kula_hs_open(x.p[1].hs, &out, m2.data, m2.len), KULA_EBADSIG, "reorder");
    kula_buf_free(&m1);
    kula_buf_free(&m2);
    pair_free(&x);

    /* A frame the initiator sealed, opened by the initiator itself. */
    two_sealed(&x, &m1, &m2);
    cr_assert_eq(kula_hs_open(x.p[0].hs, &out, m1.data, m1.len), KULA_EBADSIG, "reflection");
    kula_buf_free(&m1);
    kula_buf_free(&m2);
    pair_free(&x);

    /* Shorter than the overhead; a frame from another session. */
    two_sealed(&x, &m1, &m2);
    cr_assert_eq(kula_hs_open(x.p[1].hs, &out, m1.data, 16), KULA_EBADSIG);
    kula_buf_free(&m1);
    kula_buf_free(&m2);
    pair_free(&x);
    pair y;
    two_sealed(&x, &m1, &m2);
    kula_buf n1, n2;
    two_sealed(&y, &n1, &n2);
    cr_assert_eq(kula_hs_open(y.p[1].hs, &out, m1.data, m1.len), KULA_EBADSIG, "other session");
    kula_buf_free(&m1);
    kula_buf_free(&m2);
    kula_buf_free(&n1);
    kula_buf_free(&n2);
    pair_free(&x);
    pair_free(&y);
    kula_buf_free(&out);
}

/* The state of the fixed initiator's push stream after its AUTH, rebuilt
 * from its session key and header (which the test knows). */
static void initiator_stream_after_auth(crypto_secretstream_xchacha20poly1305_state *st,
                                        const kula_buf *initiator_out)
{
    kula_hs_fixed f0 = fixed_for(0), f1 = fixed_for(1);
    uint8_t pk0[32], sk0[32], pk1[32], sk1[32], rx[32], tx[32];
    cr_assert_eq(crypto_kx_seed_keypair(pk0, sk0, f0.kx_seed), 0);
    cr_assert_eq(crypto_kx_seed_keypair(pk1, sk1, f1.kx_seed), 0);
    cr_assert_eq(crypto_kx_client_session_keys(rx, tx, pk0, sk0, pk1), 0);
    cr_assert_eq(crypto_secretstream_xchacha20poly1305_init_pull(st, f0.header, tx), 0);
    /* Frames: HELLO (4 + 104), header (4 + 24), AUTH (4 + 118). */
    cr_assert_geq(initiator_out->len, 258);
    const uint8_t *auth = initiator_out->data + 4 + 104 + 4 + 24 + 4;
    uint8_t m[128];
    unsigned char tag;
    cr_assert_eq(crypto_secretstream_xchacha20poly1305_pull(st, m, NULL, &tag, auth, 118, NULL, 0),
                 0);
}

Test(handshake, secretstream_tags_other_than_message_fail)
{
    static const unsigned char tags[] = {
        crypto_secretstream_xchacha20poly1305_TAG_FINAL,
        crypto_secretstream_xchacha20poly1305_TAG_REKEY,
        crypto_secretstream_xchacha20poly1305_TAG_PUSH,
    };
    for (size_t t = 0; t < sizeof(tags); t++) {
        pair x;
        pair_new_fixed(&x);
        start(&x.p[0]);
        start(&x.p[1]);
        pump(&x.p[0], &x.p[1], 0);
        expect_done(&x);
        crypto_secretstream_xchacha20poly1305_state st;
        initiator_stream_after_auth(&st, &x.p[0].out);
        /* Check the rebuilt state first with a MESSAGE, then the tag. */
        uint8_t c[64];
        kula_buf out;
        kula_buf_init(&out);
        cr_assert_eq(crypto_secretstream_xchacha20poly1305_push(
                         &st, c, NULL, (const uint8_t *)"ok", 2, NULL, 0,
                         crypto_secretstream_xchacha20poly1305_TAG_MESSAGE), 0);
        cr_assert_eq(kula_hs_open(x.p[1].hs, &out, c, 2 + 17), 0);
        cr_assert_eq(crypto_secretstream_xchacha20poly1305_push(&st, c, NULL,
                                                                (const uint8_t *)"no", 2, NULL,
                                                                0, tags[t]), 0);
        cr_assert_eq(kula_hs_open(x.p[1].hs, &out, c, 2 + 17), KULA_ETYPE, "tag %u", tags[t]);
        cr_assert_eq(out.len, 2);
        kula_buf_free(&out);
        pair_free(&x);
    }
}

/* ---- refusals ---- */

Test(handshake, wrong_chain_id)
{
    pair x;
    pair_keys(&x);
    kula_hash other = chain_of("another chain");
    peer_init(&x.p[0], hs_new(KULA_HS_INITIATOR, &x.cid, &x.sk[1], &x.pol[0]));
    peer_init(&x.p[1], hs_new(KULA_HS_RESPONDER, &other, &x.sk[2], &x.pol[1]));
    start(&x.p[0]);
    start(&x.p[1]);
    pump(&x.p[0], &x.p[1], 0);
    for (int s = 0; s < 2; s++) {
        cr_assert_eq(x.p[s].err, KULA_ECHAIN, "side %d: %s", s, kula_errname(x.p[s].err));
        cr_assert_not(kula_hs_done(x.p[s].hs));
        cr_assert(kula_hs_wiped(x.p[s].hs));
        cr_assert_eq(x.pol[s].calls, 0);
        cr_assert_eq(x.p[s].out.len, 4 + KULA_HS_HELLO_LEN, "nothing sent after HELLO");
    }
    pair_free(&x);
}

Test(handshake, policy_refusal)
{
    /* The responder admits only key 3: the initiator (key 1) is refused. */
    pair x;
    pair_new(&x);
    x.pol[1].n = 1;
    x.pol[1].allowed[0] = x.pk[3];
    start(&x.p[0]);
    start(&x.p[1]);
    pump(&x.p[0], &x.p[1], 0);
    cr_assert_eq(x.p[1].err, KULA_EUNKNOWNMEMBER, "%s", kula_errname(x.p[1].err));
    cr_assert_eq(kula_hs_error(x.p[1].hs), KULA_EUNKNOWNMEMBER);
    cr_assert_not(kula_hs_done(x.p[1].hs));
    cr_assert_null(kula_hs_peer_key(x.p[1].hs));
    cr_assert(kula_hs_wiped(x.p[1].hs));
    cr_assert_eq(x.pol[1].calls, 1);
    cr_assert_eq(memcmp(x.pol[1].last.b, x.pk[1].b, 32), 0, "asked about the proven key");
    kula_buf out;
    kula_buf_init(&out);
    cr_assert_eq(kula_hs_seal(x.p[1].hs, &out, (const uint8_t *)"ledger", 6),
                 KULA_EUNKNOWNMEMBER, "nothing can be sent to a refused peer");
    cr_assert_eq(out.len, 0);
    kula_buf_free(&out);
    pair_free(&x);

    /* And the other way round: the initiator refuses the responder. */
    pair_new(&x);
    x.pol[0].n = 0;
    start(&x.p[0]);
    start(&x.p[1]);
    pump(&x.p[0], &x.p[1], 0);
    cr_assert_eq(x.p[0].err, KULA_EUNKNOWNMEMBER);
    cr_assert_not(kula_hs_done(x.p[0].hs));
    cr_assert_eq(memcmp(x.pol[0].last.b, x.pk[2].b, 32), 0);
    pair_free(&x);
}

Test(handshake, reflection)
{
    /* A side's own HELLO sent back to it. */
    pair x;
    pair_new(&x);
    start(&x.p[1]);
    cr_assert_eq(kula_hs_receive(x.p[1].hs, &x.p[1].out, x.p[1].out.data + 4, KULA_HS_HELLO_LEN),
                 KULA_ECRYPTO);
    cr_assert(kula_hs_wiped(x.p[1].hs));
    pair_free(&x);

    /* A side's own sealed AUTH sent back to it, after a genuine HELLO and header. */
    for (int s = 0; s < 2; s++) {
        pair_new(&x);
        start(&x.p[0]);
        start(&x.p[1]);
        peer *me = &x.p[s], *other = &x.p[1 - s];
        size_t hello_end = me->out.len;
        cr_assert_geq(kula_hs_receive(me->hs, &me->out, other->out.data + 4, KULA_HS_HELLO_LEN), 0);
        cr_assert_geq(kula_hs_receive(other->hs, &other->out, me->out.data + 4, KULA_HS_HELLO_LEN),
                      0);
        const uint8_t *other_header = other->out.data + 4 + KULA_HS_HELLO_LEN + 4;
        cr_assert_eq(kula_hs_receive(me->hs, &me->out, other_header, KULA_HS_HEADER_LEN), 0);
        const uint8_t *my_auth = me->out.data + hello_end + 4 + KULA_HS_HEADER_LEN + 4;
        cr_assert_eq(kula_hs_receive(me->hs, &me->out, my_auth, KULA_HS_AUTH_SEALED_LEN),
                     KULA_EBADSIG, "side %d", s);
        cr_assert_not(kula_hs_done(me->hs));
        cr_assert(kula_hs_wiped(me->hs));
        pair_free(&x);
    }
}

/* Every byte of both handshake streams (prefixes included), flipped in
 * transit one at a time: the side that receives the corrupted stream never
 * completes, the handshake as a whole never completes, nothing crashes. */
Test(handshake, every_byte_flipped)
{
    /* The reference run: the streams' length. */
    pair x;
    pair_new_fixed(&x);
    start(&x.p[0]);
    start(&x.p[1]);
    pump(&x.p[0], &x.p[1], 0);
    expect_done(&x);
    size_t len[2] = { x.p[0].out.len, x.p[1].out.len };
    cr_assert_eq(len[0], 4 + KULA_HS_HELLO_LEN + 4 + KULA_HS_HEADER_LEN + 4 +
                             KULA_HS_AUTH_SEALED_LEN);
    cr_assert_eq(len[1], len[0]);
    pair_free(&x);

    static const uint8_t masks[] = { 0x01, 0x80 };
    size_t runs = 0;
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i < len[s]; i++)
            for (size_t m = 0; m < sizeof(masks); m++) {
                pair_new_fixed(&x);
                x.p[s].flip_at = i;
                x.p[s].flip_mask = masks[m];
                start(&x.p[0]);
                start(&x.p[1]);
                pump(&x.p[0], &x.p[1], (i % 3) * 7); /* vary the chunking too */
                peer *rcv = &x.p[1 - s];
                cr_assert_not(kula_hs_done(rcv->hs), "side %d byte %zu mask %02x: completed", s,
                              i, masks[m]);
                cr_assert_not(kula_hs_done(x.p[0].hs) && kula_hs_done(x.p[1].hs));
                for (int k = 0; k < 2; k++)
                    if (kula_hs_error(x.p[k].hs) != 0)
                        cr_assert(kula_hs_wiped(x.p[k].hs));
                pair_free(&x);
                runs++;
            }
    cr_assert_eq(runs, 4 * len[0]);
}

/* ---- misuse and secrets ---- */

Test(handshake, misuse)
{
    pair x;
    pair_keys(&x);
    kula_hs *hs = (kula_hs *)1;
    kula_seckey zero;
    memset(&zero, 0, sizeof(zero));
    cr_assert_eq(kula_hs_new(&hs, KULA_HS_INITIATOR, &x.cid, &zero, policy_fn, NULL),
                 KULA_EBADKEY);
    cr_assert_null(hs);
    cr_assert_eq(kula_hs_new(&hs, KULA_HS_INITIATOR, &x.cid, &x.sk[1], NULL, NULL), KULA_EINVAL);
    cr_assert_eq(kula_hs_new(&hs, (enum kula_hs_role)7, &x.cid, &x.sk[1], policy_fn, NULL),
                 KULA_EINVAL);
    cr_assert_eq(kula_hs_new(&hs, KULA_HS_INITIATOR, NULL, &x.sk[1], policy_fn, NULL),
                 KULA_EINVAL);
    cr_assert_eq(kula_hs_new_fixed(&hs, KULA_HS_INITIATOR, &x.cid, &x.sk[1], policy_fn, NULL,
                                   NULL), KULA_EINVAL);
    kula_hs_free(NULL);

    pair_new(&x);
    kula_buf out;
    kula_buf_init(&out);
    cr_assert_eq(kula_hs_seal(x.p[0].hs, &out, (const uint8_t *)"x", 1), KULA_EINVAL);
    cr_assert_eq(kula_hs_open(x.p[0].hs, &out, (const uint8_t *)"x", 1), KULA_EINVAL);
    start(&x.p[0]);
    cr_assert_eq(kula_hs_start(x.p[0].hs, &out), KULA_EINVAL, "start twice");
    cr_assert_eq(out.len, 0);
    start(&x.p[1]);
    pump(&x.p[0], &x.p[1], 0);
    expect_done(&x);
    cr_assert_eq(kula_hs_receive(x.p[0].hs, &out, (const uint8_t *)"x", 1), KULA_EINVAL,
                 "receive after done");
    cr_assert(kula_hs_done(x.p[0].hs), "still done");
    cr_assert_eq(kula_hs_seal(x.p[0].hs, &out, NULL, 1), KULA_EINVAL);
    cr_assert_eq(kula_hs_error(x.p[0].hs), 0);
    kula_buf_free(&out);
    pair_free(&x);
}

Test(handshake, secrets_wiped)
{
    pair x;
    pair_new(&x);
    peer *a = &x.p[0], *b = &x.p[1];
    cr_assert_not(kula_hs_wiped(a->hs), "holds its keys before the handshake");
    start(a);
    start(b);
    cr_assert_not(kula_hs_wiped(a->hs));
    /* After the peer's HELLO: identity and ephemeral secrets and the tx key
     * are gone, the rx key waits for the peer's header. */
    cr_assert(deliver(b, a, 0));
    cr_assert_eq(a->err, 0);
    cr_assert_eq(a->out.len, 3 * 4 + KULA_HS_HELLO_LEN + KULA_HS_HEADER_LEN +
                                 KULA_HS_AUTH_SEALED_LEN, "HELLO, header, AUTH sent");
    cr_assert_not(kula_hs_wiped(a->hs));
    cr_assert_not_null(kula_hs_transcript(a->hs));
    pump(a, b, 0);
    expect_done(&x); /* includes kula_hs_wiped on both */
    pair_free(&x);

    /* After any failure. */
    pair_new(&x);
    start(&x.p[1]);
    cr_assert_eq(kula_hs_receive(x.p[1].hs, &x.p[1].out, (const uint8_t *)"\x90", 1),
                 KULA_EARITY);
    cr_assert(kula_hs_wiped(x.p[1].hs));
    cr_assert_eq(kula_hs_receive(x.p[1].hs, &x.p[1].out, (const uint8_t *)"\x90", 1), KULA_EARITY,
                 "sticky");
    cr_assert_eq(kula_hs_start(x.p[1].hs, &x.p[1].out), KULA_EARITY);
    pair_free(&x);
}

/* ---- proto/vectors/handshake.json, byte for byte ---- */

static json_t *jget(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    cr_assert_not_null(v, "missing \"%s\"", key);
    return v;
}

static const char *jstr(json_t *o, const char *key)
{
    json_t *v = jget(o, key);
    cr_assert(json_is_string(v), "\"%s\" is not a string", key);
    return json_string_value(v);
}

static void jbytes(uint8_t *out, size_t n, json_t *o, const char *key)
{
    cr_assert_eq(kula_hex_decode(out, n, jstr(o, key)), 0, "\"%s\": not %zu bytes of hex", key, n);
}

/* Returns: malloc'd bytes of a hex field.  Out: *n. */
static uint8_t *jhex(json_t *o, const char *key, size_t *n)
{
    return tu_unhex(jstr(o, key), n);
}

static void expect_hex(const char *what, const uint8_t *p, size_t n, json_t *o, const char *key)
{
    size_t wn;
    uint8_t *w = jhex(o, key, &wn);
    cr_assert_eq(n, wn, "%s: %zu bytes, vector has %zu", what, n, wn);
    cr_assert_eq(memcmp(p, w, n), 0, "%s differs from the vector", what);
    free(w);
}

typedef struct vside {
    enum kula_hs_role role;
    kula_seckey sk;
    kula_pubkey pk;
    kula_hs_fixed fixed;
    uint8_t kx_pk[32], kx_sk[32], rx[32], tx[32];
} vside;

static void load_side(vside *s, json_t *o, enum kula_hs_role role)
{
    s->role = role;
    jbytes(s->sk.b, 32, o, "secret_key");
    /* The key is H(identity_key_source), like every vector key. */
    kula_hash h;
    const char *src = jstr(o, "identity_key_source");
    kula_hash_bytes(&h, src, strlen(src));
    cr_assert_eq(memcmp(h.b, s->sk.b, 32), 0);
    cr_assert_eq(kula_key_public(&s->pk, &s->sk), 0);
    uint8_t pk[32];
    jbytes(pk, 32, o, "public_key");
    cr_assert_eq(memcmp(pk, s->pk.b, 32), 0);
    jbytes(s->fixed.kx_seed, 32, o, "kx_seed");
    jbytes(s->fixed.nonce, 32, o, "nonce");
    jbytes(s->fixed.header, 24, o, "header");
    cr_assert_eq(crypto_kx_seed_keypair(s->kx_pk, s->kx_sk, s->fixed.kx_seed), 0);
    expect_hex("kx public key", s->kx_pk, 32, o, "kx_public_key");
    expect_hex("kx secret key", s->kx_sk, 32, o, "kx_secret_key");
}

static json_t *vroot;
static vside vs[2];
static kula_hash vchain;
static policy vpol;

static kula_hs *vside_hs(const vside *s)
{
    kula_hs *hs;
    cr_assert_eq(kula_hs_new_fixed(&hs, s->role, &vchain, &s->sk, policy_fn, &vpol, &s->fixed), 0);
    return hs;
}

static void load_vectors(void)
{
    json_error_t jerr;
    vroot = json_load_file(tu_src("proto/vectors/handshake.json"), 0, &jerr);
    cr_assert_not_null(vroot, "handshake.json: %s", jerr.text);
    cr_assert_str_eq(jstr(vroot, "structure"), "handshake");
    jbytes(vchain.b, 32, vroot, "chain_id");
    /* The chain id is that of genesis vector "main". */
    json_t *g = json_load_file(tu_src("proto/vectors/genesis.json"), 0, &jerr);
    cr_assert_not_null(g, "genesis.json: %s", jerr.text);
    json_t *main0 = json_array_get(jget(g, "valid"), 0);
    cr_assert_str_eq(jstr(main0, "name"), "main");
    cr_assert_str_eq(jstr(main0, "hash"), jstr(vroot, "chain_id"));
    json_decref(g);
    expect_hex("tag", KULA_TAG_HANDSHAKE, 16, vroot, "tag");
    cr_assert_eq(memcmp(KULA_TAG_HANDSHAKE, "kula/handshake/1", 16), 0);
    load_side(&vs[0], jget(vroot, "initiator"), KULA_HS_INITIATOR);
    load_side(&vs[1], jget(vroot, "responder"), KULA_HS_RESPONDER);
    /* Session keys (§11.3). */
    cr_assert_eq(crypto_kx_client_session_keys(vs[0].rx, vs[0].tx, vs[0].kx_pk, vs[0].kx_sk,
                                               vs[1].kx_pk), 0);
    cr_assert_eq(crypto_kx_server_session_keys(vs[1].rx, vs[1].tx, vs[1].kx_pk, vs[1].kx_sk,
                                               vs[0].kx_pk), 0);
    for (int i = 0; i < 2; i++) {
        json_t *o = jget(vroot, i == 0 ? "initiator" : "responder");
        expect_hex("rx", vs[i].rx, 32, o, "rx");
        expect_hex("tx", vs[i].tx, 32, o, "tx");
    }
    cr_assert_eq(memcmp(vs[0].tx, vs[1].rx, 32), 0);
    json_t *acc = jget(vroot, "accepted_keys");
    memset(&vpol, 0, sizeof(vpol));
    vpol.n = json_array_size(acc);
    cr_assert(vpol.n > 0 && vpol.n <= 4);
    for (size_t i = 0; i < vpol.n; i++)
        cr_assert_eq(kula_hex_decode(vpol.allowed[i].b, 32, json_string_value(json_array_get(acc, i))),
                     0);
}

static void seal_first(uint8_t *c, const uint8_t key[32], const uint8_t header[24],
                       const uint8_t *m, size_t n, unsigned char tag)
{
    crypto_secretstream_xchacha20poly1305_state st;
    cr_assert_eq(crypto_secretstream_xchacha20poly1305_init_pull(&st, header, key), 0);
    cr_assert_eq(crypto_secretstream_xchacha20poly1305_push(&st, c, NULL, m, n, NULL, 0, tag), 0);
}

Test(handshake, vectors_valid)
{
    load_vectors();
    peer p[2];
    peer_init(&p[0], vside_hs(&vs[0]));
    peer_init(&p[1], vside_hs(&vs[1]));
    start(&p[0]);
    start(&p[1]);
    pump(&p[0], &p[1], 0);
    for (int s = 0; s < 2; s++) {
        cr_assert_eq(p[s].err, 0, "%s", kula_errname(p[s].err));
        cr_assert(kula_hs_done(p[s].hs));
        expect_hex("transcript", kula_hs_transcript(p[s].hs)->b, 32, vroot, "transcript");
    }
    cr_assert_eq(memcmp(kula_hs_peer_key(p[0].hs)->b, vs[1].pk.b, 32), 0);
    cr_assert_eq(memcmp(kula_hs_peer_key(p[1].hs)->b, vs[0].pk.b, 32), 0);

    /* The transcript from the HELLOs. */
    json_t *valid = jget(vroot, "valid");
    cr_assert_eq(json_array_size(valid), 4);
    size_t n0, n1;
    uint8_t *h0 = jhex(json_array_get(valid, 0), "hex", &n0);
    uint8_t *h1 = jhex(json_array_get(valid, 1), "hex", &n1);
    uint8_t both[2 * KULA_HS_HELLO_LEN];
    cr_assert_eq(n0, KULA_HS_HELLO_LEN);
    cr_assert_eq(n1, KULA_HS_HELLO_LEN);
    memcpy(both, h0, n0);
    memcpy(both + n0, h1, n1);
    kula_hash tr;
    kula_hash_bytes(&tr, both, sizeof(both));
    expect_hex("H(HELLO_i || HELLO_r)", tr.b, 32, vroot, "transcript");
    free(h0);
    free(h1);

    size_t i;
    json_t *v;
    json_array_foreach(valid, i, v) {
        const char *from = jstr(v, "from");
        int s = strcmp(from, "initiator") == 0 ? 0 : 1;
        cr_assert(s == 0 || strcmp(from, "responder") == 0);
        json_t *fields = jget(v, "fields");
        kula_buf b;
        kula_buf_init(&b);
        kula_writer w;
        kula_writer_init(&w, &b);
        if (strcmp(jstr(v, "message"), "hello") == 0) {
            cr_assert_eq(json_integer_value(jget(fields, "version")), 1);
            uint8_t cid[32], kx[32], nonce[32];
            jbytes(cid, 32, fields, "chain_id");
            jbytes(kx, 32, fields, "kx_public_key");
            jbytes(nonce, 32, fields, "nonce");
            cr_assert_eq(memcmp(cid, vchain.b, 32), 0);
            cr_assert_eq(memcmp(kx, vs[s].kx_pk, 32), 0);
            cr_assert_eq(memcmp(nonce, vs[s].fixed.nonce, 32), 0);
            kula_w_array(&w, 4);
            kula_w_uint(&w, 1);
            kula_w_bin(&w, cid, 32);
            kula_w_bin(&w, kx, 32);
            kula_w_bin(&w, nonce, 32);
            expect_hex("HELLO", b.data, b.len, v, "hex");
            /* and what the handshake sent, after the 4-byte prefix */
            expect_hex("HELLO sent", p[s].out.data + 4, KULA_HS_HELLO_LEN, v, "hex");
        } else {
            cr_assert_str_eq(jstr(v, "message"), "auth");
            kula_pubkey id;
            kula_sig sig;
            jbytes(id.b, 32, fields, "identity");
            jbytes(sig.b, 64, fields, "sig");
            cr_assert_eq(memcmp(id.b, vs[s].pk.b, 32), 0);
            uint8_t signed_bytes[33];
            memcpy(signed_bytes, tr.b, 32);
            signed_bytes[32] = (uint8_t)s;
            expect_hex("signed bytes", signed_bytes, 33, v, "signed_bytes");
            kula_hash d;
            kula_signing_digest(&d, KULA_TAG_HANDSHAKE, &vchain, signed_bytes, 33);
            expect_hex("sighash", d.b, 32, v, "sighash");
            cr_assert(kula_verify(&id, d.b, &sig));
            kula_sig again;
            static const uint8_t zero_aux[32];
            cr_assert_eq(kula_sign_aux(&again, &vs[s].sk, d.b, zero_aux), 0);
            cr_assert_eq(memcmp(again.b, sig.b, 64), 0, "zero-aux signature reproduces");
            kula_w_array(&w, 2);
            kula_w_bin(&w, id.b, 32);
            kula_w_bin(&w, sig.b, 64);
            expect_hex("AUTH", b.data, b.len, v, "hex");
            uint8_t c[KULA_HS_AUTH_SEALED_LEN];
            seal_first(c, vs[s].tx, vs[s].fixed.header, b.data, b.len,
                       crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
            expect_hex("sealed AUTH", c, sizeof(c), v, "sealed_hex");
        }
        kula_buf_free(&b);
    }

    /* Application messages, then the two whole streams. */
    json_t *msgs = jget(vroot, "messages");
    cr_assert_gt(json_array_size(msgs), 0);
    size_t want_msgs[2] = { 0, 0 };
    json_array_foreach(msgs, i, v) {
        int s = strcmp(jstr(v, "from"), "initiator") == 0 ? 0 : 1;
        size_t n;
        uint8_t *m = jhex(v, "plaintext_hex", &n);
        size_t off = p[s].out.len;
        cr_assert_eq(kula_hs_seal(p[s].hs, &p[s].out, m, n), 0);
        expect_hex("sealed message", p[s].out.data + off + 4, p[s].out.len - off - 4, v,
                   "sealed_hex");
        size_t before = p[1 - s].inbox.len;
        pump(&p[0], &p[1], 0);
        cr_assert_eq(p[1 - s].inbox.len, before + n);
        cr_assert_eq(memcmp(p[1 - s].inbox.data + before, m, n), 0);
        want_msgs[1 - s]++;
        free(m);
    }
    cr_assert_eq(p[0].nmsgs, want_msgs[0]);
    cr_assert_eq(p[1].nmsgs, want_msgs[1]);
    expect_hex("initiator stream", p[0].out.data, p[0].out.len, vroot, "initiator_stream");
    expect_hex("responder stream", p[1].out.data, p[1].out.len, vroot, "responder_stream");
    peer_free(&p[0]);
    peer_free(&p[1]);
    json_decref(vroot);
}

static int err_by_name(const char *name)
{
    for (int e = 0; e >= -100; e--)
        if (strcmp(kula_errname(e), name) == 0)
            return e;
    cr_assert_fail("unknown error name %s", name);
    return 1;
}

Test(handshake, vectors_invalid)
{
    load_vectors();
    json_t *valid = jget(vroot, "valid");
    size_t hello_n[2];
    uint8_t *hello[2] = { jhex(json_array_get(valid, 0), "hex", &hello_n[0]),
                          jhex(json_array_get(valid, 1), "hex", &hello_n[1]) };
    json_t *invalid = jget(vroot, "invalid");
    static const char *need[] = { "ECHAIN", "EVERSION", "ETRAILING", "ETRUNC", "ENONCANON",
                                  "ETYPE", "ERANGE", "ETOOBIG", "EARITY", "ECRYPTO",
                                  "EBADSIG", "EBADKEY", "EUNKNOWNMEMBER" };
    bool seen[sizeof(need) / sizeof(need[0])] = { false };
    size_t i;
    json_t *v;
    json_array_foreach(invalid, i, v) {
        const char *name = jstr(v, "name");
        int t = strcmp(jstr(v, "target"), "initiator") == 0 ? 0 : 1;
        int p = 1 - t;
        const char *message = jstr(v, "message");
        int want = err_by_name(jstr(v, "error"));
        for (size_t k = 0; k < sizeof(need) / sizeof(need[0]); k++)
            if (strcmp(need[k], jstr(v, "error")) == 0)
                seen[k] = true;
        size_t n;
        uint8_t *payload = jhex(v, "hex", &n);
        if (json_object_get(v, "auth_hex") != NULL) {
            size_t an;
            uint8_t *a = jhex(v, "auth_hex", &an);
            uint8_t *c = malloc(an + 17);
            cr_assert_not_null(c);
            seal_first(c, vs[p].tx, vs[p].fixed.header, a, an,
                       (unsigned char)json_integer_value(jget(v, "stream_tag")));
            cr_assert_eq(n, an + 17, "%s", name);
            cr_assert_eq(memcmp(c, payload, n), 0, "%s: sealed AUTH differs", name);
            free(c);
            if (want == KULA_EBADSIG) {
                /* The signature is genuine, over another digest. */
                kula_pubkey id;
                kula_sig sig;
                cr_assert_eq(an, KULA_HS_AUTH_LEN);
                memcpy(id.b, a + 3, 32);
                memcpy(sig.b, a + 37, 64);
                const char *tag = jstr(v, "signed_tag");
                uint8_t tag16[16] = { 0 };
                memcpy(tag16, tag, strlen(tag) < 16 ? strlen(tag) : 16);
                kula_hash cid, str_, d;
                jbytes(cid.b, 32, v, "signed_chain_id");
                jbytes(str_.b, 32, v, "signed_transcript");
                uint8_t sb[33];
                memcpy(sb, str_.b, 32);
                sb[32] = (uint8_t)json_integer_value(jget(v, "signed_role"));
                kula_signing_digest(&d, tag16, &cid, sb, 33);
                expect_hex("signed digest", d.b, 32, v, "signed_digest");
                kula_hash want_d;
                jbytes(want_d.b, 32, v, "sighash");
                cr_assert_not(kula_verify(&id, want_d.b, &sig), "%s verifies", name);
                bool genuine = false;
                for (int k = 0; k < 2; k++)
                    genuine |= kula_verify(&vs[k].pk, d.b, &sig);
                cr_assert(genuine, "%s: not a signature by either side over signed_digest", name);
            }
            free(a);
        }

        kula_hs *hs = vside_hs(&vs[t]);
        kula_buf out;
        kula_buf_init(&out);
        cr_assert_eq(kula_hs_start(hs, &out), 0);
        int rc = 0;
        if (strcmp(message, "hello") != 0) {
            rc = kula_hs_receive(hs, &out, hello[p], hello_n[p]);
            cr_assert_eq(rc, 2, "%s: peer HELLO", name);
            if (strcmp(message, "auth") == 0)
                cr_assert_eq(kula_hs_receive(hs, &out, vs[p].fixed.header, 24), 0, "%s", name);
            else
                cr_assert_str_eq(message, "header");
        }
        rc = kula_hs_receive(hs, &out, payload, n);
        cr_assert_eq(rc, want, "%s: got %s, want %s", name, kula_errname(rc), kula_errname(want));
        cr_assert_not(kula_hs_done(hs));
        cr_assert(kula_hs_wiped(hs));
        cr_assert_eq(kula_hs_error(hs), want);
        kula_buf_free(&out);
        kula_hs_free(hs);
        free(payload);
    }
    for (size_t k = 0; k < sizeof(need) / sizeof(need[0]); k++)
        cr_assert(seen[k], "no invalid vector for %s", need[k]);
    free(hello[0]);
    free(hello[1]);
    json_decref(vroot);
}
