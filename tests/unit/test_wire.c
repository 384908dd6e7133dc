/* test_wire.c -- the peer messages (kula/net/wire.h, proto/SPEC.md §12). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "kula/codec/codec.h"
#include "kula/base/error.h"
#include "kula/net/frame.h"
#include "kula/net/wire.h"
#include "testutil.h"

/* ---- helpers ---- */

/* A byte string of n bytes with a recognizable pattern (never all zero). */
static uint8_t *pat(size_t n, uint8_t seed)
{
    uint8_t *p = malloc(n ? n : 1);
    cr_assert_not_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed + i * 13 + (i >> 8));
    return p;
}

static int dec(const kula_buf *b)
{
    kula_msg m;
    return kula_msg_decode(&m, b->data, b->len);
}

static int dec_hex(const char *hex)
{
    size_t n;
    uint8_t *p = tu_unhex(hex, &n);
    kula_msg m;
    int rc = kula_msg_decode(&m, p, n);
    free(p);
    return rc;
}

static void expect_err(const kula_buf *b, int want, const char *what)
{
    cr_assert_eq(b->err, 0);
    int rc = dec(b);
    cr_assert_eq(rc, want, "%s: decoder gives %s, want %s", what, kula_errname(rc),
                 kula_errname(want));
}

/* The encoder refuses m with EINVAL and leaves the buffer as it was. */
static void expect_einval(const kula_msg *m, const char *what)
{
    kula_buf b;
    kula_buf_init(&b);
    kula_buf_append(&b, "x", 1);
    int rc = kula_msg_encode(&b, m);
    cr_assert_eq(rc, KULA_EINVAL, "%s: encoder gives %s, want EINVAL", what, kula_errname(rc));
    cr_assert_eq(b.len, 1, "%s: the encoder wrote into the buffer", what);
    kula_buf_free(&b);
}

/* Encodes m (after one byte already in the buffer: the encoder appends),
 * checks the hex when given, decodes and re-encodes to the same bytes, and
 * checks every strict prefix (ETRUNC) and a trailing byte (ETRAILING).
 * Out: *out the decoded message (borrowing from *enc, which the caller frees). */
static void roundtrip(const kula_msg *m, const char *want_hex, kula_buf *enc, kula_msg *out)
{
    kula_buf b;
    kula_buf_init(&b);
    kula_buf_append(&b, "\xaa", 1);
    int rc = kula_msg_encode(&b, m);
    cr_assert_eq(rc, 0, "encode %s: %s", kula_msg_type_name(m->type), kula_errname(rc));
    cr_assert_eq(b.data[0], 0xaa);
    kula_buf_init(enc);
    kula_buf_append(enc, b.data + 1, b.len - 1);
    kula_buf_free(&b);
    cr_assert_eq(enc->err, 0);
    if (want_hex != NULL) {
        char *got = malloc(2 * enc->len + 1);
        kula_hex_encode(got, enc->data, enc->len);
        cr_assert_str_eq(got, want_hex);
        free(got);
    }

    rc = kula_msg_decode(out, enc->data, enc->len);
    cr_assert_eq(rc, 0, "decode %s: %s", kula_msg_type_name(m->type), kula_errname(rc));
    cr_assert_eq(out->type, m->type);
    kula_buf again;
    kula_buf_init(&again);
    cr_assert_eq(kula_msg_encode(&again, out), 0);
    cr_assert_eq(again.len, enc->len);
    cr_assert_eq(memcmp(again.data, enc->data, enc->len), 0, "re-encoding differs");
    kula_buf_free(&again);

    /* Every strict prefix, each in a buffer of exactly its length (ASan
     * catches any read past it), is truncated. */
    size_t step = enc->len > 4096 ? enc->len / 16 : 1;
    for (size_t k = 0; k < enc->len; k++) {
        /* Every prefix of small messages; of large ones, the first and last
         * 64 and 16 in between (each is a copy of up to 16 MiB). */
        if (k >= 64 && enc->len - k > 64 && k % step != 0)
            continue;
        uint8_t *p = malloc(k ? k : 1);
        cr_assert_not_null(p);
        memcpy(p, enc->data, k);
        kula_msg t;
        memset(&t, 0x5a, sizeof(t));
        rc = kula_msg_decode(&t, p, k);
        cr_assert_eq(rc, KULA_ETRUNC, "%s: prefix of %zu of %zu bytes gives %s",
                     kula_msg_type_name(m->type), k, enc->len, kula_errname(rc));
        cr_assert_eq(t.type, 0, "a failed decode leaves the message zeroed");
        free(p);
    }
    /* One byte more is trailing, whatever the byte. */
    static const uint8_t extra[] = { 0x00, 0xc0, 0x91, 0xff };
    for (size_t i = 0; i < sizeof(extra); i++) {
        uint8_t *p = malloc(enc->len + 1);
        memcpy(p, enc->data, enc->len);
        p[enc->len] = extra[i];
        kula_msg t;
        rc = kula_msg_decode(&t, p, enc->len + 1);
        cr_assert_eq(rc, KULA_ETRAILING, "%s + %02x gives %s", kula_msg_type_name(m->type),
                     extra[i], kula_errname(rc));
        free(p);
    }
}

/* A hand-written message: array of n elements, then the type. */
static void hand(kula_buf *b, kula_writer *w, uint32_t n, uint64_t type)
{
    kula_buf_init(b);
    kula_writer_init(w, b);
    kula_w_array(w, n);
    kula_w_uint(w, type);
}

static kula_msg msg(uint8_t type)
{
    kula_msg m;
    memset(&m, 0, sizeof(m));
    m.type = type;
    return m;
}

/* ---- types and names ---- */

Test(wire, type_names)
{
    static const char *const want[] = { NULL, "status", "tx", "proposal", "vote",
                                        "get-blocks", "block", "get-peers", "peers",
                                        "evidence", "get-snapshots", "snapshots",
                                        "get-chunk", "chunk", "tx-batch" };
    cr_assert_eq(KULA_MSG_TYPE_MAX, 14);
    for (unsigned t = 1; t <= KULA_MSG_TYPE_MAX; t++)
        cr_assert_str_eq(kula_msg_type_name(t), want[t]);
    cr_assert_null(kula_msg_type_name(0));
    cr_assert_null(kula_msg_type_name(KULA_MSG_TYPE_MAX + 1));
    cr_assert_null(kula_msg_type_name(255));
    cr_assert_null(kula_msg_type_name(~0u));
}

Test(wire, unknown_types)
{
    cr_assert_eq(dec_hex("9100"), KULA_EVERSION, "type 0");
    cr_assert_eq(dec_hex("910f"), KULA_EVERSION, "type 15");
    cr_assert_eq(dec_hex("91ccff"), KULA_EVERSION, "type 255");
    cr_assert_eq(dec_hex("91cfffffffffffffffff"), KULA_EVERSION, "type 2^64-1");
    /* A later type with more fields: the type is checked before the count. */
    cr_assert_eq(dec_hex("930f0000"), KULA_EVERSION, "type 15 with 3 elements");
    cr_assert_eq(dec_hex("980f00000000000000"), KULA_EVERSION, "type 15 with 8 elements");
    cr_assert_eq(dec_hex("990f0000000000000000"), KULA_ETOOBIG, "9 elements");
    /* Types 10 ... 13 are known now: with a wrong count they are EARITY. */
    cr_assert_eq(dec_hex("910a"), KULA_EARITY, "type 10 alone");
    cr_assert_eq(dec_hex("930a0000"), KULA_EARITY, "type 10 with 3 elements");
    cr_assert_eq(dec_hex("910d"), KULA_EARITY, "type 13 alone");
    cr_assert_eq(dec_hex("910e"), KULA_EARITY, "type 14 alone");
    cr_assert_eq(dec_hex("91ff"), KULA_ERANGE, "type -1");
    cr_assert_eq(dec_hex("91a0"), KULA_ETYPE, "type as text");
    cr_assert_eq(dec_hex("91c0"), KULA_ETYPE, "type nil");
    cr_assert_eq(dec_hex("90"), KULA_EARITY, "no type");
    cr_assert_eq(dec_hex("07"), KULA_ETYPE, "not an array");
    cr_assert_eq(dec_hex("8107c0"), KULA_ETYPE, "a map");
    cr_assert_eq(dec_hex(""), KULA_ETRUNC, "empty input");
    kula_msg m;
    cr_assert_eq(kula_msg_decode(&m, NULL, 0), KULA_ETRUNC);

    for (unsigned t = 0; t <= 255; t += (t == 0 ? KULA_MSG_TYPE_MAX + 1 : 1)) {
        kula_msg x = msg((uint8_t)t);
        expect_einval(&x, "unknown type");
    }
}

Test(wire, noncanonical)
{
    cr_assert_eq(dec_hex("9107"), 0);
    cr_assert_eq(dec_hex("91cc07"), KULA_ENONCANON, "type as uint8");
    cr_assert_eq(dec_hex("91d007"), KULA_ENONCANON, "type as int8");
    cr_assert_eq(dec_hex("dc000107"), KULA_ENONCANON, "array16 header for 1 element");
    cr_assert_eq(dec_hex("930501cd0040"), KULA_ENONCANON, "count 64 as uint16");
    cr_assert_eq(dec_hex("9305cc0140"), KULA_ENONCANON, "from 1 as uint8");
    cr_assert_eq(dec_hex("9202c50001aa"), KULA_ENONCANON, "1-byte tx with a bin16 header");
    cr_assert_eq(dec_hex("9202c60000000155"), KULA_ENONCANON, "1-byte tx with a bin32 header");
    cr_assert_eq(dec_hex("9202a155"), KULA_ETYPE, "tx as str");
    cr_assert_eq(dec_hex("9208dc0000"), KULA_ENONCANON, "empty peer list as array16");
    cr_assert_eq(dec_hex("920891dc0002c4047f000001cd1f90"), KULA_ENONCANON,
                 "peer entry with an array16 header");
    cr_assert_eq(dec_hex("92089192c4047f000001cd0050"), KULA_ENONCANON, "port 80 as uint16");
    cr_assert_eq(dec_hex("92089192c4047f000001cd1f90"), 0, "port 8080");
}

/* Each type with one element too many and one too few. */
Test(wire, arity)
{
    static const uint32_t n[] = { 0, 4, 2, 3, 2, 3, 4, 1, 2, 3, 2, 2, 3, 5, 2 };
    cr_assert_eq(sizeof(n) / sizeof(n[0]), KULA_MSG_TYPE_MAX + 1);
    for (unsigned t = 1; t <= KULA_MSG_TYPE_MAX; t++) {
        kula_buf b;
        kula_writer w;
        hand(&b, &w, n[t] + 1, t);
        for (uint32_t i = 0; i < n[t]; i++)
            kula_w_uint(&w, 1);
        expect_err(&b, KULA_EARITY, kula_msg_type_name(t));
        kula_buf_free(&b);
        if (n[t] == 1)
            continue;
        hand(&b, &w, n[t] - 1, t);
        for (uint32_t i = 1; i < n[t] - 1; i++)
            kula_w_uint(&w, 1);
        expect_err(&b, KULA_EARITY, kula_msg_type_name(t));
        kula_buf_free(&b);
    }
}

Test(wire, oversize_input)
{
    /* A valid GET_PEERS followed by padding to one byte over the limit: the
     * size is checked before anything is read. */
    size_t n = KULA_MAX_MESSAGE + 1u;
    uint8_t *p = calloc(n, 1);
    cr_assert_not_null(p);
    p[0] = 0x91;
    p[1] = 0x07;
    kula_msg m;
    cr_assert_eq(kula_msg_decode(&m, p, n), KULA_ETOOBIG);
    cr_assert_eq(kula_msg_decode(&m, p, n - 1), KULA_ETRAILING, "at the limit: read");
    cr_assert_eq(kula_msg_decode(&m, p, SIZE_MAX), KULA_ETOOBIG);
    free(p);
}

/* ---- STATUS ---- */

Test(wire, status)
{
    kula_msg m = msg(KULA_MSG_STATUS), d;
    kula_buf e;
    roundtrip(&m, "940100c420"
                  "0000000000000000000000000000000000000000000000000000000000000000"
                  "00",
              &e, &d);
    cr_assert_eq(d.u.status.height, 0);
    cr_assert_eq(d.u.status.listen_port, 0);
    kula_buf_free(&e);

    m.u.status.height = UINT64_MAX;
    for (int i = 0; i < KULA_HASH_LEN; i++)
        m.u.status.tip.b[i] = (uint8_t)(i + 1);
    m.u.status.listen_port = 65535;
    roundtrip(&m, NULL, &e, &d);
    cr_assert_eq(d.u.status.height, UINT64_MAX);
    cr_assert_eq(memcmp(d.u.status.tip.b, m.u.status.tip.b, KULA_HASH_LEN), 0);
    cr_assert_eq(d.u.status.listen_port, 65535);
    kula_buf_free(&e);

    uint8_t tip[33] = { 0 };
    kula_buf b;
    kula_writer w;
    struct { uint64_t port; size_t tip; int want; } cases[] = {
        { 65535, 32, 0 }, { 65536, 32, KULA_ERANGE }, { 0, 31, KULA_ERANGE },
        { 0, 33, KULA_ETOOBIG }, { 0, 0, KULA_ERANGE },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        hand(&b, &w, 4, KULA_MSG_STATUS);
        kula_w_uint(&w, 7);
        kula_w_bin(&w, tip, cases[i].tip);
        kula_w_uint(&w, cases[i].port);
        expect_err(&b, cases[i].want, "status bounds");
        kula_buf_free(&b);
    }
    hand(&b, &w, 4, KULA_MSG_STATUS);
    kula_w_int(&w, -1);
    kula_w_bin(&w, tip, 32);
    kula_w_uint(&w, 1);
    expect_err(&b, KULA_ERANGE, "negative height");
    kula_buf_free(&b);
}

/* ---- messages with one or two nested structures ---- */

/* A bin field at its bounds: 1 and max bytes decode (and round-trip), 0
 * and max + 1 are refused by both sides.  setter fills m's field(s) under
 * test with (p, n), the other fields hold valid values. */
typedef void (*setter)(kula_msg *m, const uint8_t *p, size_t n);

static void bin_bounds(uint8_t type, setter set, size_t max)
{
    uint8_t *p = pat(max + 1, 0x31);
    kula_msg m = msg(type), d;
    kula_buf e;
    size_t ok[] = { 1, max };
    for (size_t i = 0; i < 2; i++) {
        set(&m, p, ok[i]);
        roundtrip(&m, NULL, &e, &d);
        kula_buf_free(&e);
    }
    set(&m, p, 0);
    expect_einval(&m, "empty");
    set(&m, NULL, 1);
    expect_einval(&m, "NULL");
    set(&m, p, max + 1);
    expect_einval(&m, "one byte over");

    /* The decoder: the field under test is the message's last, so a bad
     * message is a valid one's bytes up to that field, then the bad bin. */
    set(&m, p, 1);
    kula_buf good;
    kula_buf_init(&good);
    cr_assert_eq(kula_msg_encode(&good, &m), 0);
    size_t head = good.len - 3; /* c4 01 xx */
    cr_assert_eq(good.data[head], 0xc4);
    size_t bad[] = { 0, max + 1 };
    int want[] = { KULA_ERANGE, KULA_ETOOBIG };
    for (size_t i = 0; i < 2; i++) {
        kula_buf b;
        kula_buf_init(&b);
        kula_buf_append(&b, good.data, head);
        kula_writer w;
        kula_writer_init(&w, &b);
        kula_w_bin(&w, p, bad[i]);
        expect_err(&b, want[i], kula_msg_type_name(type));
        kula_buf_free(&b);
    }
    /* ETOOBIG before the bytes are there: the header alone is enough. */
    {
        kula_buf b;
        kula_buf_init(&b);
        kula_buf_append(&b, good.data, head);
        uint8_t hdr[5] = { 0xc6, (uint8_t)((max + 1) >> 24), (uint8_t)((max + 1) >> 16),
                           (uint8_t)((max + 1) >> 8), (uint8_t)(max + 1) };
        size_t hl = 5;
        if (max + 1 <= 0xff) {
            hdr[0] = 0xc4;
            hdr[1] = (uint8_t)(max + 1);
            hl = 2;
        } else if (max + 1 <= 0xffff) {
            hdr[0] = 0xc5;
            hdr[1] = (uint8_t)((max + 1) >> 8);
            hdr[2] = (uint8_t)(max + 1);
            hl = 3;
        }
        kula_buf_append(&b, hdr, hl);
        expect_err(&b, KULA_ETOOBIG, "header only");
        kula_buf_free(&b);
    }
    kula_buf_free(&good);
    free(p);
}

static const uint8_t one[1] = { 0x42 };

static void set_tx(kula_msg *m, const uint8_t *p, size_t n)
{
    m->u.tx.tx = p;
    m->u.tx.len = n;
}
static void set_vote(kula_msg *m, const uint8_t *p, size_t n)
{
    m->u.vote.vote = p;
    m->u.vote.len = n;
}
static void set_prop_block(kula_msg *m, const uint8_t *p, size_t n)
{
    m->u.proposal.proposal = one;
    m->u.proposal.proposal_len = 1;
    m->u.proposal.block = p;
    m->u.proposal.block_len = n;
}
static void set_block_commit(kula_msg *m, const uint8_t *p, size_t n)
{
    m->u.block.height = 1;
    m->u.block.block = one;
    m->u.block.block_len = 1;
    m->u.block.commit = p;
    m->u.block.commit_len = n;
}
static void set_evidence_b(kula_msg *m, const uint8_t *p, size_t n)
{
    m->u.evidence.a = one;
    m->u.evidence.a_len = 1;
    m->u.evidence.b = p;
    m->u.evidence.b_len = n;
}

Test(wire, tx)
{
    kula_msg m = msg(KULA_MSG_TX), d;
    kula_buf e;
    set_tx(&m, one, 1);
    roundtrip(&m, "9202c40142", &e, &d);
    cr_assert_eq(d.u.tx.len, 1);
    cr_assert_eq(d.u.tx.tx, e.data + 4, "the decoder borrows from its input");
    kula_buf_free(&e);
    bin_bounds(KULA_MSG_TX, set_tx, KULA_MAX_TX_BYTES);
    cr_assert_eq(dec_hex("9202c0"), KULA_ETYPE, "tx nil");
    cr_assert_eq(dec_hex("920291c40142"), KULA_ETYPE, "tx not wrapped in bin");
}

/* TX_BATCH: a list of 1 .. KULA_MAX_TX_BATCH transactions' bins, read
 * back one by one; the encoder refuses what the decoder would. */
Test(wire, tx_batch)
{
    static const uint8_t items[] = { 0xc4, 0x01, 0x42, 0xc4, 0x02, 0x43, 0x44 };
    kula_msg m = msg(KULA_MSG_TX_BATCH), d;
    m.u.tx_batch.n = 2;
    m.u.tx_batch.items = items;
    m.u.tx_batch.len = sizeof(items);
    kula_buf e;
    roundtrip(&m, "920e92c40142c4024344", &e, &d);
    cr_assert_eq(d.u.tx_batch.n, 2);
    cr_assert_eq(d.u.tx_batch.items, e.data + 3, "the decoder borrows from its input");
    size_t off = 0, len, ilen;
    const uint8_t *tx, *item;
    cr_assert(kula_msg_batch_next(&d, &off, &tx, &len, &item, &ilen));
    cr_assert(len == 1 && tx[0] == 0x42 && item == e.data + 3 && ilen == 3);
    cr_assert(kula_msg_batch_next(&d, &off, &tx, &len, &item, &ilen));
    cr_assert(len == 2 && tx[0] == 0x43 && tx[1] == 0x44 && ilen == 4);
    cr_assert(!kula_msg_batch_next(&d, &off, &tx, &len, &item, &ilen), "two, no more");
    kula_buf_free(&e);
    off = 0;
    kula_msg other = msg(KULA_MSG_TX);
    cr_assert(!kula_msg_batch_next(&other, &off, &tx, &len, &item, &ilen), "not a batch");

    /* the largest count: 1024 one-byte transactions; one more is refused */
    uint8_t *many = malloc(3u * (KULA_MAX_TX_BATCH + 1));
    for (uint32_t i = 0; i <= KULA_MAX_TX_BATCH; i++) {
        many[3 * i] = 0xc4;
        many[3 * i + 1] = 0x01;
        many[3 * i + 2] = (uint8_t)i;
    }
    m.u.tx_batch.n = KULA_MAX_TX_BATCH;
    m.u.tx_batch.items = many;
    m.u.tx_batch.len = 3u * KULA_MAX_TX_BATCH;
    roundtrip(&m, NULL, &e, &d);
    cr_assert_eq(d.u.tx_batch.n, KULA_MAX_TX_BATCH);
    kula_buf_free(&e);
    kula_buf b;
    kula_buf_init(&b);
    m.u.tx_batch.n = KULA_MAX_TX_BATCH + 1;
    m.u.tx_batch.len = 3u * (KULA_MAX_TX_BATCH + 1);
    cr_assert_eq(kula_msg_encode(&b, &m), KULA_EINVAL, "1025 transactions");
    /* what the encoder refuses: no transaction, a count that is not the
     * items', an empty or unfinished item, trailing bytes */
    static const struct {
        const char *what;
        uint32_t n;
        const char *hex;
    } bad[] = {
        { "no transaction", 0, "" },
        { "a count above the items", 3, "c40142c4024344" },
        { "a count below the items", 1, "c40142c4024344" },
        { "an empty transaction", 1, "c400" },
        { "an item cut short", 1, "c402aa" },
        { "a byte after the items", 1, "c40142c0" },
        { "an item that is no bin", 1, "a142" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t n;
        uint8_t *p = tu_unhex(bad[i].hex, &n);
        m.u.tx_batch.n = bad[i].n;
        m.u.tx_batch.items = p;
        m.u.tx_batch.len = n;
        cr_assert_eq(kula_msg_encode(&b, &m), KULA_EINVAL, "%s", bad[i].what);
        cr_assert_eq(b.len, 0, "%s: nothing written", bad[i].what);
        free(p);
    }
    kula_buf_free(&b);
    free(many);
    /* the decoder's side of the same */
    cr_assert_eq(dec_hex("920e90"), KULA_ERANGE, "no transaction");
    cr_assert_eq(dec_hex("920e91c400"), KULA_ERANGE, "an empty transaction");
    cr_assert_eq(dec_hex("920edc0401"), KULA_ETOOBIG, "1025, from the header");
    cr_assert_eq(dec_hex("920e91c600100001"), KULA_ETOOBIG, "a transaction over its bound");
    cr_assert_eq(dec_hex("920ec40142"), KULA_ETYPE, "a bin, not a list");
}

Test(wire, vote)
{
    kula_msg m = msg(KULA_MSG_VOTE), d;
    kula_buf e;
    set_vote(&m, one, 1);
    roundtrip(&m, "9204c40142", &e, &d);
    kula_buf_free(&e);
    bin_bounds(KULA_MSG_VOTE, set_vote, KULA_MAX_VOTE_BYTES);
}

Test(wire, proposal)
{
    uint8_t *pp = pat(KULA_MAX_PROPOSAL_BYTES + 1, 7);
    kula_msg m = msg(KULA_MSG_PROPOSAL), d;
    kula_buf e;
    m.u.proposal.proposal = pp;
    m.u.proposal.proposal_len = 2;
    m.u.proposal.block = one;
    m.u.proposal.block_len = 1;
    roundtrip(&m, "9303c4020714c40142", &e, &d);
    cr_assert_eq(d.u.proposal.proposal_len, 2);
    cr_assert_eq(d.u.proposal.block_len, 1);
    kula_buf_free(&e);
    bin_bounds(KULA_MSG_PROPOSAL, set_prop_block, KULA_MAX_BLOCK_BYTES);

    /* The proposal field, first of two: bounds by hand. */
    m.u.proposal.proposal_len = KULA_MAX_PROPOSAL_BYTES;
    roundtrip(&m, NULL, &e, &d);
    kula_buf_free(&e);
    m.u.proposal.proposal_len = KULA_MAX_PROPOSAL_BYTES + 1;
    expect_einval(&m, "proposal 513 bytes");
    m.u.proposal.proposal_len = 0;
    expect_einval(&m, "empty proposal");
    kula_buf b;
    kula_writer w;
    hand(&b, &w, 3, KULA_MSG_PROPOSAL);
    kula_w_bin(&w, pp, KULA_MAX_PROPOSAL_BYTES + 1);
    kula_w_bin(&w, one, 1);
    expect_err(&b, KULA_ETOOBIG, "proposal 513 bytes");
    kula_buf_free(&b);
    hand(&b, &w, 3, KULA_MSG_PROPOSAL);
    kula_w_bin(&w, pp, 0);
    kula_w_bin(&w, one, 1);
    expect_err(&b, KULA_ERANGE, "empty proposal");
    kula_buf_free(&b);
    free(pp);
}

Test(wire, evidence)
{
    uint8_t *pa = pat(KULA_MAX_VOTE_BYTES + 1, 9);
    kula_msg m = msg(KULA_MSG_EVIDENCE), d;
    kula_buf e;
    m.u.evidence.a = pa;
    m.u.evidence.a_len = KULA_MAX_VOTE_BYTES;
    m.u.evidence.b = one;
    m.u.evidence.b_len = 1;
    roundtrip(&m, NULL, &e, &d);
    cr_assert_eq(d.u.evidence.a_len, KULA_MAX_VOTE_BYTES);
    cr_assert_eq(memcmp(d.u.evidence.a, pa, KULA_MAX_VOTE_BYTES), 0);
    kula_buf_free(&e);
    m.u.evidence.a_len = KULA_MAX_VOTE_BYTES + 1;
    expect_einval(&m, "vote_a 257 bytes");
    m.u.evidence.a_len = 0;
    expect_einval(&m, "empty vote_a");
    bin_bounds(KULA_MSG_EVIDENCE, set_evidence_b, KULA_MAX_VOTE_BYTES);
    kula_buf b;
    kula_writer w;
    hand(&b, &w, 3, KULA_MSG_EVIDENCE);
    kula_w_bin(&w, pa, KULA_MAX_VOTE_BYTES + 1);
    kula_w_bin(&w, one, 1);
    expect_err(&b, KULA_ETOOBIG, "vote_a 257 bytes");
    kula_buf_free(&b);
    hand(&b, &w, 3, KULA_MSG_EVIDENCE);
    kula_w_bin(&w, pa, 0);
    kula_w_bin(&w, one, 1);
    expect_err(&b, KULA_ERANGE, "empty vote_a");
    kula_buf_free(&b);
    free(pa);
}

Test(wire, block)
{
    kula_msg m = msg(KULA_MSG_BLOCK), d;
    kula_buf e;
    set_block_commit(&m, one, 1);
    roundtrip(&m, "940601c40142c40142", &e, &d);
    cr_assert_eq(d.u.block.height, 1);
    kula_buf_free(&e);
    m.u.block.height = UINT64_MAX;
    roundtrip(&m, NULL, &e, &d);
    cr_assert_eq(d.u.block.height, UINT64_MAX);
    kula_buf_free(&e);
    m.u.block.height = 0;
    expect_einval(&m, "height 0");
    cr_assert_eq(dec_hex("940600c40142c40142"), KULA_ERANGE, "height 0");
    cr_assert_eq(dec_hex("9406ffc40142c40142"), KULA_ERANGE, "height -1");
    cr_assert_eq(dec_hex("940601c400c40142"), KULA_ERANGE, "empty block");
    cr_assert_eq(dec_hex("940601c40142c400"), KULA_ERANGE, "empty commit");
    cr_assert_eq(dec_hex("940601c40142"), KULA_ETRUNC, "3 elements announced 4");
    cr_assert_eq(dec_hex("940601c40142c0"), KULA_ETYPE, "commit nil");
    bin_bounds(KULA_MSG_BLOCK, set_block_commit, KULA_MAX_COMMIT_BYTES);

    /* The block, the middle field: the largest block fits, one more byte not. */
    uint8_t *big = pat(KULA_MAX_BLOCK_BYTES + 1, 3);
    set_block_commit(&m, one, 1);
    m.u.block.block = big;
    m.u.block.block_len = KULA_MAX_BLOCK_BYTES;
    kula_buf b;
    kula_buf_init(&b);
    cr_assert_eq(kula_msg_encode(&b, &m), 0);
    cr_assert_leq(b.len, KULA_MAX_MESSAGE);
    cr_assert_eq(kula_msg_decode(&d, b.data, b.len), 0);
    cr_assert_eq(d.u.block.block_len, KULA_MAX_BLOCK_BYTES);
    kula_buf_free(&b);
    m.u.block.block_len = KULA_MAX_BLOCK_BYTES + 1;
    expect_einval(&m, "block over the limit");
    kula_writer w;
    hand(&b, &w, 4, KULA_MSG_BLOCK);
    kula_w_uint(&w, 1);
    kula_w_bin(&w, big, KULA_MAX_BLOCK_BYTES + 1);
    kula_w_bin(&w, one, 1);
    expect_err(&b, KULA_ETOOBIG, "block over the limit");
    kula_buf_free(&b);
    free(big);
}

Test(wire, largest_messages_fit)
{
    /* The largest BLOCK and PROPOSAL messages fit KULA_MAX_MESSAGE. */
    uint8_t *big = pat(KULA_MAX_BLOCK_BYTES, 5);
    uint8_t *c = pat(KULA_MAX_COMMIT_BYTES, 6);
    kula_msg m = msg(KULA_MSG_BLOCK), d;
    m.u.block.height = UINT64_MAX;
    m.u.block.block = big;
    m.u.block.block_len = KULA_MAX_BLOCK_BYTES;
    m.u.block.commit = c;
    m.u.block.commit_len = KULA_MAX_COMMIT_BYTES;
    kula_buf b;
    kula_buf_init(&b);
    cr_assert_eq(kula_msg_encode(&b, &m), 0);
    cr_assert_leq(b.len, KULA_MAX_MESSAGE);
    cr_assert_eq(kula_msg_decode(&d, b.data, b.len), 0);
    kula_buf_reset(&b);
    m = msg(KULA_MSG_PROPOSAL);
    m.u.proposal.proposal = c;
    m.u.proposal.proposal_len = KULA_MAX_PROPOSAL_BYTES;
    m.u.proposal.block = big;
    m.u.proposal.block_len = KULA_MAX_BLOCK_BYTES;
    cr_assert_eq(kula_msg_encode(&b, &m), 0);
    cr_assert_leq(b.len, KULA_MAX_MESSAGE);
    cr_assert_eq(kula_msg_decode(&d, b.data, b.len), 0);
    /* State sync's largest: 16 items of 64 KiB, and a piece of 1 MiB. */
    kula_buf_reset(&b);
    m = msg(KULA_MSG_SNAPSHOTS);
    m.u.snapshots.n = KULA_MAX_SNAPSHOT_ITEMS;
    for (uint32_t i = 0; i < KULA_MAX_SNAPSHOT_ITEMS; i++) {
        m.u.snapshots.items[i].p = big + i;
        m.u.snapshots.items[i].len = KULA_MAX_SNAPSHOT_ITEM_BYTES;
    }
    cr_assert_eq(kula_msg_encode(&b, &m), 0);
    cr_assert_leq(b.len, KULA_MAX_MESSAGE);
    cr_assert_eq(kula_msg_decode(&d, b.data, b.len), 0);
    cr_assert_eq(d.u.snapshots.n, KULA_MAX_SNAPSHOT_ITEMS);
    kula_buf_reset(&b);
    m = msg(KULA_MSG_CHUNK);
    m.u.chunk.height = UINT64_MAX;
    m.u.chunk.index = UINT32_MAX;
    m.u.chunk.total = UINT32_MAX;
    m.u.chunk.data = big;
    m.u.chunk.len = KULA_SNAPSHOT_CHUNK_BYTES;
    cr_assert_eq(kula_msg_encode(&b, &m), 0);
    cr_assert_leq(b.len, KULA_MAX_MESSAGE);
    cr_assert_eq(kula_msg_decode(&d, b.data, b.len), 0);
    cr_assert_eq(d.u.chunk.len, KULA_SNAPSHOT_CHUNK_BYTES);
    kula_buf_free(&b);
    free(big);
    free(c);
}

/* ---- GET_BLOCKS, GET_PEERS ---- */

Test(wire, get_blocks)
{
    kula_msg m = msg(KULA_MSG_GET_BLOCKS), d;
    kula_buf e;
    m.u.get_blocks.from = 1;
    m.u.get_blocks.count = 1;
    roundtrip(&m, "93050101", &e, &d);
    kula_buf_free(&e);
    m.u.get_blocks.from = UINT64_MAX;
    m.u.get_blocks.count = KULA_MAX_GET_BLOCKS;
    roundtrip(&m, "9305cfffffffffffffffff40", &e, &d);
    cr_assert_eq(d.u.get_blocks.from, UINT64_MAX);
    cr_assert_eq(d.u.get_blocks.count, 64);
    kula_buf_free(&e);

    m.u.get_blocks.count = 0;
    expect_einval(&m, "count 0");
    m.u.get_blocks.count = KULA_MAX_GET_BLOCKS + 1;
    expect_einval(&m, "count 65");
    m.u.get_blocks.count = 1;
    m.u.get_blocks.from = 0;
    expect_einval(&m, "from 0");

    cr_assert_eq(dec_hex("93050100"), KULA_ERANGE, "count 0");
    cr_assert_eq(dec_hex("93050141"), KULA_ERANGE, "count 65");
    cr_assert_eq(dec_hex("930501ceffffffff"), KULA_ERANGE, "count 2^32-1");
    cr_assert_eq(dec_hex("930501ff"), KULA_ERANGE, "count -1");
    cr_assert_eq(dec_hex("93050001"), KULA_ERANGE, "from 0");
    cr_assert_eq(dec_hex("9305c40101"), KULA_ETYPE, "from as bin");
}

Test(wire, get_peers)
{
    kula_msg m = msg(KULA_MSG_GET_PEERS), d;
    kula_buf e;
    roundtrip(&m, "9107", &e, &d);
    cr_assert_eq(d.type, KULA_MSG_GET_PEERS);
    kula_buf_free(&e);
    cr_assert_eq(dec_hex("920700"), KULA_EARITY);
}

/* ---- PEERS ---- */

static void add_peer(kula_msg *m, uint8_t ip_len, uint16_t port)
{
    kula_peer_addr *a = &m->u.peers.addrs[m->u.peers.n++];
    a->ip_len = ip_len;
    for (uint8_t i = 0; i < ip_len; i++)
        a->ip[i] = (uint8_t)(m->u.peers.n * 16 + i);
    a->port = port;
}

Test(wire, peers)
{
    kula_msg m = msg(KULA_MSG_PEERS), d;
    kula_buf e;
    roundtrip(&m, "920890", &e, &d);
    cr_assert_eq(d.u.peers.n, 0);
    kula_buf_free(&e);

    add_peer(&m, 4, 1);
    m.u.peers.addrs[0].ip[0] = 127;
    m.u.peers.addrs[0].ip[1] = 0;
    m.u.peers.addrs[0].ip[2] = 0;
    m.u.peers.addrs[0].ip[3] = 1;
    add_peer(&m, 16, 65535);
    roundtrip(&m, "92089292c4047f00000101"
                  "92c410202122232425262728292a2b2c2d2e2fcdffff",
              &e, &d);
    cr_assert_eq(d.u.peers.n, 2);
    cr_assert_eq(d.u.peers.addrs[0].ip_len, 4);
    cr_assert_eq(d.u.peers.addrs[0].port, 1);
    cr_assert_eq(d.u.peers.addrs[1].ip_len, 16);
    cr_assert_eq(memcmp(d.u.peers.addrs[1].ip, m.u.peers.addrs[1].ip, 16), 0);
    cr_assert_eq(d.u.peers.addrs[1].port, 65535);
    kula_buf_free(&e);

    while (m.u.peers.n < KULA_MAX_PEER_ADDRS)
        add_peer(&m, m.u.peers.n % 2 ? 16 : 4, (uint16_t)(1000 + m.u.peers.n));
    roundtrip(&m, NULL, &e, &d);
    cr_assert_eq(d.u.peers.n, KULA_MAX_PEER_ADDRS);
    kula_buf_free(&e);

    /* The encoder refuses what the decoder would. */
    kula_msg x = m;
    x.u.peers.n = KULA_MAX_PEER_ADDRS + 1;
    expect_einval(&x, "33 addresses");
    static const uint8_t bad_len[] = { 0, 1, 3, 5, 15, 17, 255 };
    for (size_t i = 0; i < sizeof(bad_len); i++) {
        x = m;
        x.u.peers.addrs[7].ip_len = bad_len[i];
        expect_einval(&x, "ip length");
    }
    x = m;
    x.u.peers.addrs[31].port = 0;
    expect_einval(&x, "port 0");

    /* The decoder. */
    uint8_t ip[17] = { 10, 0, 0, 1 };
    struct { size_t ip; uint64_t port; int want; } cases[] = {
        { 4, 1, 0 }, { 16, 65535, 0 }, { 0, 80, KULA_ERANGE }, { 3, 80, KULA_ERANGE },
        { 5, 80, KULA_ERANGE }, { 15, 80, KULA_ERANGE }, { 17, 80, KULA_ETOOBIG },
        { 4, 0, KULA_ERANGE }, { 4, 65536, KULA_ERANGE },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kula_buf b;
        kula_writer w;
        hand(&b, &w, 2, KULA_MSG_PEERS);
        kula_w_array(&w, 2);
        kula_w_array(&w, 2);
        kula_w_bin(&w, ip, 4);
        kula_w_uint(&w, 80);
        kula_w_array(&w, 2);
        kula_w_bin(&w, ip, cases[i].ip);
        kula_w_uint(&w, cases[i].port);
        expect_err(&b, cases[i].want, "peer address");
        kula_buf_free(&b);
    }
    cr_assert_eq(dec_hex("92089193c4047f00000101c0"), KULA_EARITY, "entry of 3");
    cr_assert_eq(dec_hex("92089191c4047f000001"), KULA_EARITY, "entry of 1");
    cr_assert_eq(dec_hex("92089192a47f00000101"), KULA_ETYPE, "ip as str");
    cr_assert_eq(dec_hex("920892c4047f00000101"), KULA_ETYPE, "entry not an array");
    cr_assert_eq(dec_hex("92089192c4047f000001ff"), KULA_ERANGE, "port -1");
    cr_assert_eq(dec_hex("9208c0"), KULA_ETYPE, "list nil");
    /* 33 entries: refused at the header, before any entry is read. */
    cr_assert_eq(dec_hex("9208dc0021"), KULA_ETOOBIG, "33 addresses");
    cr_assert_eq(dec_hex("9208dd00000021"), KULA_ENONCANON, "array32 header");
    kula_buf b;
    kula_buf_init(&b);
    cr_assert_eq(kula_msg_encode(&b, &m), 0);
    /* 32 entries then a 33rd, with the header patched to 33 (dc 00 20 -> 21). */
    cr_assert_eq(b.data[2], 0xdc);
    cr_assert_eq(b.data[4], 0x20);
    b.data[4] = 0x21;
    kula_buf_append(&b, "\x92\xc4\x04\x01\x02\x03\x04\x01", 8);
    expect_err(&b, KULA_ETOOBIG, "33 addresses in full");
    kula_buf_free(&b);
}

/* ---- state sync: GET_SNAPSHOTS, SNAPSHOTS, GET_CHUNK, CHUNK ---- */

Test(wire, get_snapshots)
{
    kula_msg m = msg(KULA_MSG_GET_SNAPSHOTS), d;
    kula_buf e;
    m.u.get_snapshots.from = 1;
    roundtrip(&m, "920a01", &e, &d);
    cr_assert_eq(d.u.get_snapshots.from, 1);
    kula_buf_free(&e);
    m.u.get_snapshots.from = 1000;
    roundtrip(&m, "920acd03e8", &e, &d);
    kula_buf_free(&e);
    m.u.get_snapshots.from = UINT64_MAX;
    roundtrip(&m, "920acfffffffffffffffff", &e, &d);
    cr_assert_eq(d.u.get_snapshots.from, UINT64_MAX);
    kula_buf_free(&e);

    m.u.get_snapshots.from = 0;
    expect_einval(&m, "from 0");

    cr_assert_eq(dec_hex("920a00"), KULA_ERANGE, "from 0");
    cr_assert_eq(dec_hex("920aff"), KULA_ERANGE, "from -1");
    cr_assert_eq(dec_hex("920ad0ff"), KULA_ENONCANON, "from -1 as int8");
    cr_assert_eq(dec_hex("920acc01"), KULA_ENONCANON, "from 1 as uint8");
    cr_assert_eq(dec_hex("920ac40101"), KULA_ETYPE, "from as bin");
    cr_assert_eq(dec_hex("920ac0"), KULA_ETYPE, "from nil");
    cr_assert_eq(dec_hex("930a0101"), KULA_EARITY, "a second field");
}

static void set_snapshot_last(kula_msg *m, const uint8_t *p, size_t n)
{
    m->u.snapshots.n = 2;
    m->u.snapshots.items[0].p = one;
    m->u.snapshots.items[0].len = 1;
    m->u.snapshots.items[1].p = p;
    m->u.snapshots.items[1].len = n;
}

Test(wire, snapshots)
{
    kula_msg m = msg(KULA_MSG_SNAPSHOTS), d;
    kula_buf e;
    roundtrip(&m, "920b90", &e, &d);
    cr_assert_eq(d.u.snapshots.n, 0);
    kula_buf_free(&e);

    static const uint8_t two[2] = { 0x02, 0x03 };
    m.u.snapshots.n = 2;
    m.u.snapshots.items[0].p = one;
    m.u.snapshots.items[0].len = 1;
    m.u.snapshots.items[1].p = two;
    m.u.snapshots.items[1].len = 2;
    roundtrip(&m, "920b92c40142c4020203", &e, &d);
    cr_assert_eq(d.u.snapshots.n, 2);
    cr_assert_eq(d.u.snapshots.items[0].len, 1);
    cr_assert_eq(d.u.snapshots.items[0].p, e.data + 5, "the decoder borrows from its input");
    cr_assert_eq(d.u.snapshots.items[1].len, 2);
    cr_assert_eq(memcmp(d.u.snapshots.items[1].p, two, 2), 0);
    kula_buf_free(&e);

    /* 16 items (the limit), of 1 ... 16 bytes. */
    uint8_t *p = pat(KULA_MAX_SNAPSHOT_ITEM_BYTES + 1, 0x21);
    m.u.snapshots.n = KULA_MAX_SNAPSHOT_ITEMS;
    for (uint32_t i = 0; i < KULA_MAX_SNAPSHOT_ITEMS; i++) {
        m.u.snapshots.items[i].p = p + i;
        m.u.snapshots.items[i].len = i + 1;
    }
    roundtrip(&m, NULL, &e, &d);
    cr_assert_eq(d.u.snapshots.n, KULA_MAX_SNAPSHOT_ITEMS);
    for (uint32_t i = 0; i < KULA_MAX_SNAPSHOT_ITEMS; i++) {
        cr_assert_eq(d.u.snapshots.items[i].len, i + 1);
        cr_assert_eq(memcmp(d.u.snapshots.items[i].p, p + i, i + 1), 0);
    }
    kula_buf_free(&e);

    /* Each item 1 ... 64 KiB, last or not; the encoder refuses what the
     * decoder would. */
    bin_bounds(KULA_MSG_SNAPSHOTS, set_snapshot_last, KULA_MAX_SNAPSHOT_ITEM_BYTES);
    kula_msg x = m;
    x.u.snapshots.n = KULA_MAX_SNAPSHOT_ITEMS + 1;
    expect_einval(&x, "17 items");
    x.u.snapshots.n = UINT32_MAX;
    expect_einval(&x, "2^32-1 items");
    x = m;
    x.u.snapshots.items[3].len = 0;
    expect_einval(&x, "an empty item");
    x = m;
    x.u.snapshots.items[15].p = NULL;
    expect_einval(&x, "a NULL item");
    x = m;
    x.u.snapshots.items[0].len = KULA_MAX_SNAPSHOT_ITEM_BYTES + 1;
    expect_einval(&x, "an item of 65,537 bytes");
    x.u.snapshots.items[0].len = KULA_MAX_SNAPSHOT_ITEM_BYTES;
    roundtrip(&x, NULL, &e, &d);
    cr_assert_eq(d.u.snapshots.items[0].len, KULA_MAX_SNAPSHOT_ITEM_BYTES);
    kula_buf_free(&e);

    /* The decoder. */
    cr_assert_eq(dec_hex("920b91c400"), KULA_ERANGE, "an empty item");
    cr_assert_eq(dec_hex("920b92c400c40142"), KULA_ERANGE, "an empty first item");
    cr_assert_eq(dec_hex("920b92c40142c50000"), KULA_ENONCANON, "an empty item as bin16");
    cr_assert_eq(dec_hex("920b91c6000100015555"), KULA_ETOOBIG,
                 "an item header of 65,537 bytes, bytes left out");
    cr_assert_eq(dec_hex("920b92c40142c60001000155"), KULA_ETOOBIG,
                 "a second item header of 65,537 bytes, bytes left out");
    cr_assert_eq(dec_hex("920b91c50001aa"), KULA_ENONCANON, "a 1-byte item as bin16");
    cr_assert_eq(dec_hex("920b91a155"), KULA_ETYPE, "an item as str");
    cr_assert_eq(dec_hex("920b91c0"), KULA_ETYPE, "an item nil");
    cr_assert_eq(dec_hex("920b9191c40142"), KULA_ETYPE, "an item as an array");
    cr_assert_eq(dec_hex("920bc0"), KULA_ETYPE, "the list nil");
    cr_assert_eq(dec_hex("920bc40142"), KULA_ETYPE, "one item not in a list");
    cr_assert_eq(dec_hex("920b92c40142"), KULA_ETRUNC, "2 items announced, 1 there");
    cr_assert_eq(dec_hex("930b90c0"), KULA_EARITY, "a second field");
    cr_assert_eq(dec_hex("920bdc0000"), KULA_ENONCANON, "an empty list as array16");
    /* 17 items: refused at the header, before any item is read. */
    cr_assert_eq(dec_hex("920bdc0011"), KULA_ETOOBIG, "17 items");
    cr_assert_eq(dec_hex("920bdd00000011"), KULA_ENONCANON, "17 items with an array32 header");
    cr_assert_eq(dec_hex("920bdcffff"), KULA_ETOOBIG, "65,535 items");
    m.u.snapshots.n = KULA_MAX_SNAPSHOT_ITEMS;
    for (uint32_t i = 0; i < KULA_MAX_SNAPSHOT_ITEMS; i++) {
        m.u.snapshots.items[i].p = one;
        m.u.snapshots.items[i].len = 1;
    }
    kula_buf b;
    kula_buf_init(&b);
    cr_assert_eq(kula_msg_encode(&b, &m), 0);
    /* 16 items then a 17th, with the header patched to 17 (dc 00 10 -> 11). */
    cr_assert_eq(b.data[2], 0xdc);
    cr_assert_eq(b.data[4], 0x10);
    b.data[4] = 0x11;
    kula_buf_append(&b, "\xc4\x01\x42", 3);
    expect_err(&b, KULA_ETOOBIG, "17 items in full");
    kula_buf_free(&b);
    free(p);
}

Test(wire, get_chunk)
{
    kula_msg m = msg(KULA_MSG_GET_CHUNK), d;
    kula_buf e;
    m.u.get_chunk.height = 1;
    roundtrip(&m, "930c0100", &e, &d);
    cr_assert_eq(d.u.get_chunk.height, 1);
    cr_assert_eq(d.u.get_chunk.index, 0);
    kula_buf_free(&e);
    m.u.get_chunk.height = UINT64_MAX;
    m.u.get_chunk.index = UINT32_MAX;
    roundtrip(&m, "930ccfffffffffffffffffceffffffff", &e, &d);
    cr_assert_eq(d.u.get_chunk.height, UINT64_MAX);
    cr_assert_eq(d.u.get_chunk.index, UINT32_MAX);
    kula_buf_free(&e);

    m.u.get_chunk.height = 0;
    expect_einval(&m, "height 0");

    cr_assert_eq(dec_hex("930c0000"), KULA_ERANGE, "height 0");
    cr_assert_eq(dec_hex("930cff00"), KULA_ERANGE, "height -1");
    cr_assert_eq(dec_hex("930c01cf0000000100000000"), KULA_ERANGE, "index 2^32");
    cr_assert_eq(dec_hex("930c01cfffffffffffffffff"), KULA_ERANGE, "index 2^64-1");
    cr_assert_eq(dec_hex("930c01ff"), KULA_ERANGE, "index -1");
    cr_assert_eq(dec_hex("930c01cc05"), KULA_ENONCANON, "index 5 as uint8");
    cr_assert_eq(dec_hex("930c01cd00ff"), KULA_ENONCANON, "index 255 as uint16");
    cr_assert_eq(dec_hex("930c01c0"), KULA_ETYPE, "index nil");
    cr_assert_eq(dec_hex("930cc001"), KULA_ETYPE, "height nil");
    cr_assert_eq(dec_hex("920c01"), KULA_EARITY, "no index");
}

Test(wire, chunk)
{
    kula_msg m = msg(KULA_MSG_CHUNK), d;
    kula_buf e;
    /* "I do not keep that snapshot": total 0 and no data. */
    m.u.chunk.height = 1000;
    roundtrip(&m, "950dcd03e80000c400", &e, &d);
    cr_assert_eq(d.u.chunk.height, 1000);
    cr_assert_eq(d.u.chunk.index, 0);
    cr_assert_eq(d.u.chunk.total, 0);
    cr_assert_eq(d.u.chunk.len, 0);
    kula_buf_free(&e);

    static const uint8_t three[3] = { 0x01, 0x02, 0x03 };
    m.u.chunk.index = 2;
    m.u.chunk.total = 3;
    m.u.chunk.data = three;
    m.u.chunk.len = 3;
    roundtrip(&m, "950dcd03e80203c403010203", &e, &d);
    cr_assert_eq(d.u.chunk.index, 2);
    cr_assert_eq(d.u.chunk.total, 3);
    cr_assert_eq(d.u.chunk.len, 3);
    cr_assert_eq(d.u.chunk.data, e.data + 9, "the decoder borrows from its input");
    kula_buf_free(&e);

    /* The largest values and data of 1 MiB. */
    uint8_t *p = pat(KULA_SNAPSHOT_CHUNK_BYTES + 1, 0x44);
    m.u.chunk.height = UINT64_MAX;
    m.u.chunk.index = UINT32_MAX;
    m.u.chunk.total = UINT32_MAX;
    m.u.chunk.data = p;
    m.u.chunk.len = KULA_SNAPSHOT_CHUNK_BYTES;
    roundtrip(&m, NULL, &e, &d);
    cr_assert_eq(d.u.chunk.height, UINT64_MAX);
    cr_assert_eq(d.u.chunk.index, UINT32_MAX);
    cr_assert_eq(d.u.chunk.total, UINT32_MAX);
    cr_assert_eq(d.u.chunk.len, KULA_SNAPSHOT_CHUNK_BYTES);
    cr_assert_eq(memcmp(d.u.chunk.data, p, KULA_SNAPSHOT_CHUNK_BYTES), 0);
    kula_buf_free(&e);
    /* Empty data may come without a pointer. */
    m.u.chunk.data = NULL;
    m.u.chunk.len = 0;
    roundtrip(&m, NULL, &e, &d);
    cr_assert_eq(d.u.chunk.len, 0);
    kula_buf_free(&e);

    /* The encoder refuses what the decoder would. */
    kula_msg x = m;
    x.u.chunk.data = p;
    x.u.chunk.len = KULA_SNAPSHOT_CHUNK_BYTES + 1;
    expect_einval(&x, "data of 1 MiB + 1");
    x.u.chunk.data = NULL;
    x.u.chunk.len = 1;
    expect_einval(&x, "NULL data of 1 byte");
    x = m;
    x.u.chunk.height = 0;
    expect_einval(&x, "height 0");

    /* The decoder. */
    cr_assert_eq(dec_hex("950d000000c400"), KULA_ERANGE, "height 0");
    cr_assert_eq(dec_hex("950dff0000c400"), KULA_ERANGE, "height -1");
    cr_assert_eq(dec_hex("950d01cf000000010000000000c400"), KULA_ERANGE, "index 2^32");
    cr_assert_eq(dec_hex("950d0100cf0000000100000000c400"), KULA_ERANGE, "total 2^32");
    cr_assert_eq(dec_hex("950d0100ffc400"), KULA_ERANGE, "total -1");
    cr_assert_eq(dec_hex("950d0100cc01c400"), KULA_ENONCANON, "total 1 as uint8");
    cr_assert_eq(dec_hex("950d010000c50000"), KULA_ENONCANON, "empty data as bin16");
    cr_assert_eq(dec_hex("950d010000c0"), KULA_ETYPE, "data nil");
    cr_assert_eq(dec_hex("950d010000a0"), KULA_ETYPE, "data as str");
    cr_assert_eq(dec_hex("950d010000c40342"), KULA_ETRUNC, "3 bytes announced, 1 there");
    cr_assert_eq(dec_hex("940d010000"), KULA_EARITY, "no data");
    /* Over the limit: decided from the header, before the bytes. */
    cr_assert_eq(dec_hex("950d010000c600100001"), KULA_ETOOBIG, "data header of 1 MiB + 1");
    cr_assert_eq(dec_hex("950d010000c6ffffffff"), KULA_ETOOBIG, "data header of 4 GiB - 1");
    kula_buf b;
    kula_writer w;
    hand(&b, &w, 5, KULA_MSG_CHUNK);
    kula_w_uint(&w, 1);
    kula_w_uint(&w, 0);
    kula_w_uint(&w, 1);
    kula_w_bin(&w, p, KULA_SNAPSHOT_CHUNK_BYTES + 1);
    expect_err(&b, KULA_ETOOBIG, "data of 1 MiB + 1 in full");
    kula_buf_free(&b);
    free(p);
}

/* A failed decode leaves nothing behind; a successful one overwrites all. */
Test(wire, failed_decode_zeroes)
{
    kula_msg m;
    memset(&m, 0x77, sizeof(m));
    size_t n;
    uint8_t *p = tu_unhex("92089192c4047f00000100", &n);
    cr_assert_eq(kula_msg_decode(&m, p, n), KULA_ERANGE);
    kula_msg zero;
    memset(&zero, 0, sizeof(zero));
    cr_assert_eq(memcmp(&m, &zero, sizeof(m)), 0);
    free(p);
}

/* Every single-byte change of a valid message either fails or decodes to
 * a message that re-encodes to exactly the changed bytes. */
Test(wire, byte_flips)
{
    static const char *const hex[] = {
        "940164c420000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1fcd1f90",
        "9202c403010203", "9303c4020102c40103", "9204c4020102", "9305cd01001f",
        "940602c40103c40104", "9107",
        ("92089292c4047f00000101"
         "92c410000102030405060708090a0b0c0d0e0fcd2710"),
        "9309c40101c40102",
        "920acd03e8", "920b92c40101c4020203", "920b90", "930ccd03e802",
        "950dcd03e80203c403010203", "950dcd03e80000c400",
    };
    for (size_t h = 0; h < sizeof(hex) / sizeof(hex[0]); h++) {
        size_t n;
        uint8_t *p = tu_unhex(hex[h], &n);
        kula_msg m;
        cr_assert_eq(kula_msg_decode(&m, p, n), 0, "vector %zu", h);
        for (size_t i = 0; i < n; i++) {
            for (unsigned v = 0; v < 256; v++) {
                uint8_t *q = malloc(n);
                memcpy(q, p, n);
                q[i] = (uint8_t)v;
                if (kula_msg_decode(&m, q, n) == 0) {
                    kula_buf b;
                    kula_buf_init(&b);
                    cr_assert_eq(kula_msg_encode(&b, &m), 0);
                    cr_assert(b.len == n && memcmp(b.data, q, n) == 0,
                              "vector %zu byte %zu = %02x decodes but does not re-encode", h,
                              i, v);
                    kula_buf_free(&b);
                }
                free(q);
            }
        }
        free(p);
    }
}
