/* test_mempool_file.c -- the mempool across a clean restart: the file
 * (proto/SPEC.md §9.1) byte for byte, saved and loaded in arrival order,
 * refused when truncated, damaged, oversize, non-canonical or of another
 * network, and its transactions offered again to a new mempool over a
 * chain that moved on meanwhile. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kula/chain/chain.h"
#include "kula/chain/mempool.h"
#include "kula/chain/mempool_file.h"
#include "kula/store/store.h"
#include "kula/crypto/verifier.h"
#include "ledgerutil.h"
#include "testutil.h"

static char tmpdir[256];
static kula_genesis G;
static kula_store *S;
static kula_chain *C;
static kula_verifier *V;
static kula_mempool *MP;

static void setup(void)
{
    cr_assert_eq(kula_crypto_init(), 0);
    strcpy(tmpdir, "/tmp/kula-mpfile-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    lu_genesis(&G, 4, 1000, NULL);
    kula_buf canon;
    kula_buf_init(&canon);
    cr_assert_eq(kula_genesis_encode(&canon, &G), 0);
    char ledger[300];
    snprintf(ledger, sizeof(ledger), "%s/ledger", tmpdir);
    cr_assert_eq(kula_store_open(&S, ledger, 0), 0);
    cr_assert_eq(kula_store_bind(S, canon.data, canon.len, &G.chain_id, NULL), 0);
    kula_buf_free(&canon);
    kula_error oe;
    cr_assert_eq(kula_chain_open(&C, S, &G, &oe), 0, "%s", oe.what);
    cr_assert_eq(kula_verifier_new(&V, 2), 0);
    cr_assert_eq(kula_mempool_new(&MP, 1000, 1 << 22), 0);
    kula_mempool_track(MP, C, NULL, NULL);
}

static void teardown(void)
{
    kula_mempool_free(MP);
    kula_verifier_free(V);
    kula_chain_free(C);
    kula_store_close(S);
    kula_genesis_free(&G);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    (void)system(cmd);
}

TestSuite(mempool_file, .init = setup, .fini = teardown, .timeout = 120);

/* ---- transactions ---- */

#define MAXTX 64

/* Signed transactions as bytes, in the order they were made. */
typedef struct txset {
    kula_buf b[MAXTX];
    const uint8_t *p[MAXTX];
    size_t len[MAXTX];
    kula_hash id[MAXTX];
    size_t n;
} txset;

static txset *txset_new(void)
{
    txset *t = calloc(1, sizeof(*t));
    cr_assert_not_null(t);
    return t;
}

static void txset_free(txset *t)
{
    for (size_t i = 0; i < t->n; i++)
        kula_buf_free(&t->b[i]);
    free(t);
}

/* Appends a transfer signed by from.  Returns: its index. */
static size_t transfer(txset *t, uint32_t from, uint64_t nonce, uint32_t to, int64_t amount)
{
    cr_assert_lt(t->n, MAXTX);
    kula_tx tx;
    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_TRANSFER;
    tx.from = from;
    tx.nonce = nonce;
    tx.u.transfer.to = to;
    tx.u.transfer.amount = amount;
    size_t i = t->n++;
    kula_buf_init(&t->b[i]);
    lu_signed_bytes(&t->b[i], &tx, &G.chain_id, LU_SIGNERS(from));
    t->p[i] = t->b[i].data;
    t->len[i] = t->b[i].len;
    t->id[i] = tx.id;
    return i;
}

/* Admits t's transactions [from, to) to MP; all must be admitted. */
static void admit_all(const txset *t, size_t from, size_t to)
{
    int res[MAXTX];
    size_t n = to - from;
    cr_assert_eq(kula_mempool_add_batch(MP, kula_chain_ledger(C), V, t->p + from, t->len + from,
                                        n, res, NULL),
                 n);
}

/* Commits a block of validator 1 holding t's transactions which[0..n), all
 * of which must be included. */
static void commit_block(const txset *t, const size_t *which, size_t n)
{
    kula_tx txs[8];
    kula_candidate cands[8];
    cr_assert_leq(n, 8);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(kula_tx_decode(&txs[i], t->p[which[i]], t->len[which[i]]), 0);
        cands[i] = (kula_candidate){ .bytes = t->p[which[i]], .len = t->len[which[i]],
                                     .tx = &txs[i] };
    }
    kula_buf block, cbuf;
    kula_buf_init(&block);
    kula_buf_init(&cbuf);
    kula_hash hash;
    uint64_t height = kula_chain_height(C) + 1;
    cr_assert_eq(kula_chain_build_block(C, G.time_ms + height * 1000, 1, cands, n, &block, &hash),
                 0);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(cands[i].result, 0, "tx %zu: %s", which[i], kula_errname(cands[i].result));
    lu_commit_by_1(&cbuf, &G.chain_id, height, &hash);
    cr_assert_eq(kula_chain_commit_built(C, cbuf.data, cbuf.len), 0);
    kula_buf_free(&block);
    kula_buf_free(&cbuf);
}

/* ---- walking a mempool ---- */

typedef struct seen {
    size_t n;
    kula_buf b[MAXTX];
} seen;

static bool collect(void *ctx, const uint8_t *tx, size_t len)
{
    seen *s = ctx;
    cr_assert_lt(s->n, MAXTX);
    kula_buf_init(&s->b[s->n]);
    kula_buf_append(&s->b[s->n++], tx, len);
    return true;
}

/* As collect, stopping when full. */
static bool collect_some(void *ctx, const uint8_t *tx, size_t len)
{
    seen *s = ctx;
    return s->n < MAXTX && collect(ctx, tx, len);
}

static void seen_free(seen *s)
{
    for (size_t i = 0; i < s->n; i++)
        kula_buf_free(&s->b[i]);
    s->n = 0;
}

static char *path_in(const char *name)
{
    static char path[400];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    return path;
}

static bool exists(const char *name)
{
    struct stat st;
    return stat(path_in(name), &st) == 0;
}

/* Writes bytes as DATADIR/mempool.dat. */
static void write_file(const uint8_t *p, size_t n)
{
    FILE *f = fopen(path_in("mempool.dat"), "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(p, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
}

/* ---- the file, byte for byte ---- */

/* The development network of the shipped GENESIS.json (chain id from
 * proto/SPEC.md §8.1) and its transfer example (§6.17, 85 bytes): the
 * files of proto/SPEC.md §9.1. */
static const char devnet_chain[] =
    "f2a61e22c3da52027b5f15b2f9cf4c8737388d52d38734483d3061b5b70e8e63";
static const char spec_tx[] =
    "9296010101019202cd09c4a472656e74919201c44053a47f13a47dee7076fd81d6e17d3fa10095cad95c71c8a5"
    "3d386aa803896be04975fa594ed21f41b24fe79926554bd9808ba10dbf7fe53f78bad27700eebe21";
static const char spec_empty_file[] =
    "9301c420f2a61e22c3da52027b5f15b2f9cf4c8737388d52d38734483d3061b5b70e8e6390"
    "1bf80ea6527e16a2e01b46c411d7c7d7b3c85b6a7694d6afd94ce1947a9401d1";
static const char spec_one_checksum[] =
    "2a50801cc1bf574021f8ccdb341b3fb8ef687eceb7e959ae7e3628c2a984fc5d";

static kula_hash devnet(void)
{
    kula_hash h;
    cr_assert_eq(kula_hex_decode(h.b, KULA_HASH_LEN, devnet_chain), 0);
    return h;
}

Test(mempool_file, spec_vectors)
{
    kula_hash chain = devnet();
    kula_buf b;
    kula_buf_init(&b);
    cr_assert_eq(kula_mempool_file_encode(&b, &chain, NULL, NULL, 0), 0);
    size_t n;
    uint8_t *want = tu_unhex(spec_empty_file, &n);
    cr_assert_eq(b.len, 69);
    cr_assert_eq(b.len, n);
    cr_assert_eq(memcmp(b.data, want, n), 0, "the empty file of §9.1");
    free(want);

    size_t txlen;
    uint8_t *tx = tu_unhex(spec_tx, &txlen);
    cr_assert_eq(txlen, 85);
    const uint8_t *txs[1] = { tx };
    kula_buf_reset(&b);
    cr_assert_eq(kula_mempool_file_encode(&b, &chain, txs, &txlen, 1), 0);
    cr_assert_eq(b.len, 156);
    static const uint8_t head[] = { 0x93, 0x01, 0xc4, 0x20 };
    cr_assert_eq(memcmp(b.data, head, 4), 0);
    cr_assert_eq(memcmp(b.data + 4, chain.b, 32), 0);
    cr_assert_eq(b.data[36], 0x91);
    cr_assert_eq(b.data[37], 0xc4);
    cr_assert_eq(b.data[38], 85);
    cr_assert_eq(memcmp(b.data + 39, tx, 85), 0);
    uint8_t *sum = tu_unhex(spec_one_checksum, &n);
    cr_assert_eq(memcmp(b.data + 124, sum, 32), 0, "the checksum of §9.1");
    free(sum);

    kula_mempool_file f;
    cr_assert_eq(kula_mempool_file_decode(&f, b.data, b.len, &chain), 0);
    cr_assert_eq(f.n, 1);
    cr_assert_eq(f.lens[0], 85);
    cr_assert_eq(memcmp(f.txs[0], tx, 85), 0);
    cr_assert_eq(memcmp(f.chain_id.b, chain.b, 32), 0);
    kula_mempool_file_free(&f);
    free(tx);
    kula_buf_free(&b);
}

/* ---- save and load ---- */

/* Transactions arrive in an order that is not the nonce order (member 2's
 * nonce 2 before its nonce 1): the file keeps the arrival order, byte for
 * byte, and a new mempool fed from it walks them in that order too. */
Test(mempool_file, round_trip_keeps_order_and_bytes)
{
    txset *t = txset_new();
    transfer(t, 2, 2, 3, 7);
    transfer(t, 3, 1, 4, 11);
    transfer(t, 2, 1, 3, 5);
    uint64_t next[5] = { 0, 1, 3, 2, 1 };
    for (uint32_t k = 0; k < 30; k++) {
        uint32_t from = 1 + k % 4;
        transfer(t, from, next[from]++, from % 4 + 1, 1 + k);
    }
    admit_all(t, 0, t->n);
    seen before = { 0 };
    uint64_t cursor = 0;
    kula_mempool_walk(MP, &cursor, collect, &before);
    cr_assert_eq(before.n, t->n);

    size_t saved = 99;
    kula_error err;
    int rc = kula_mempool_file_save(MP, &saved, tmpdir, &G.chain_id, &err);
    cr_assert_eq(rc, 0, "%s", err.what);
    cr_assert_eq(saved, t->n);
    cr_assert(exists("mempool.dat"));
    cr_assert_not(exists("mempool.dat.tmp"), "the temporary file is renamed");

    kula_mempool_file f;
    rc = kula_mempool_file_load(&f, tmpdir, &G.chain_id, &err);
    cr_assert_eq(rc, 0, "%s", err.what);
    cr_assert_eq(f.n, t->n);
    for (size_t i = 0; i < f.n; i++) {
        cr_assert_eq(f.lens[i], before.b[i].len, "tx %zu", i);
        cr_assert_eq(memcmp(f.txs[i], before.b[i].data, f.lens[i]), 0, "tx %zu", i);
        cr_assert_eq(f.lens[i], t->len[i]);
        cr_assert_eq(memcmp(f.txs[i], t->p[i], t->len[i]), 0, "tx %zu out of arrival order", i);
    }

    /* The restart: a new mempool over the same chain. */
    kula_mempool_free(MP);
    cr_assert_eq(kula_mempool_new(&MP, 1000, 1 << 22), 0);
    kula_mempool_track(MP, C, NULL, NULL);
    kula_mempool_reload rep;
    cr_assert_eq(kula_mempool_file_readmit(MP, &rep, C, S, V, &f), 0);
    cr_assert_eq(rep.total, t->n);
    cr_assert_eq(rep.admitted, t->n);
    cr_assert_eq(rep.committed, 0);
    cr_assert_eq(rep.refused, 0);
    char why[128];
    kula_mempool_reload_reasons(why, sizeof(why), &rep);
    cr_assert_str_eq(why, "");
    seen after = { 0 };
    cursor = 0;
    kula_mempool_walk(MP, &cursor, collect, &after);
    cr_assert_eq(after.n, before.n);
    for (size_t i = 0; i < after.n; i++)
        cr_assert_eq(memcmp(after.b[i].data, before.b[i].data, before.b[i].len), 0, "tx %zu", i);

    /* Saved again over the old file: the same bytes. */
    size_t old_len;
    char *old = tu_read_file(path_in("mempool.dat"), &old_len);
    cr_assert_eq(kula_mempool_file_save(MP, &saved, tmpdir, &G.chain_id, &err), 0);
    size_t new_len;
    char *again = tu_read_file(path_in("mempool.dat"), &new_len);
    cr_assert_eq(new_len, old_len);
    cr_assert_eq(memcmp(again, old, old_len), 0);
    free(old);
    free(again);

    cr_assert_eq(kula_mempool_file_remove(tmpdir), 0);
    cr_assert_not(exists("mempool.dat"));
    cr_assert_eq(kula_mempool_file_remove(tmpdir), 0, "a missing file is no error");
    kula_mempool_file_free(&f);
    seen_free(&before);
    seen_free(&after);
    txset_free(t);
}

Test(mempool_file, empty_mempool)
{
    size_t saved = 99;
    kula_error err;
    cr_assert_eq(kula_mempool_file_save(MP, &saved, tmpdir, &G.chain_id, &err), 0,
                 "%s", err.what);
    cr_assert_eq(saved, 0);
    size_t len;
    char *bytes = tu_read_file(path_in("mempool.dat"), &len);
    cr_assert_eq(len, 69, "header (37 bytes) and checksum (32)");
    free(bytes);
    kula_mempool_file f;
    cr_assert_eq(kula_mempool_file_load(&f, tmpdir, &G.chain_id, &err), 0, "%s", err.what);
    cr_assert_eq(f.n, 0);
    kula_mempool_reload rep;
    cr_assert_eq(kula_mempool_file_readmit(MP, &rep, C, S, V, &f), 0);
    cr_assert_eq(rep.total, 0);
    cr_assert_eq(rep.admitted, 0);
    cr_assert_eq(kula_mempool_size(MP), 0);
    kula_mempool_file_free(&f);
}

Test(mempool_file, missing_file_and_not_a_file)
{
    kula_mempool_file f;
    kula_error err;
    cr_assert_eq(kula_mempool_file_load(&f, tmpdir, &G.chain_id, &err),
                 KULA_ENOTFOUND);
    cr_assert_eq(mkdir(path_in("mempool.dat"), 0700), 0);
    cr_assert_eq(kula_mempool_file_load(&f, tmpdir, &G.chain_id, &err), KULA_EIO);
    cr_assert(strstr(err.what, "not a regular file") != NULL, "%s", err.what);
    cr_assert_eq(f.n, 0);
    cr_assert_eq(kula_mempool_file_set_aside(tmpdir), 0);
    cr_assert(exists("mempool.dat.bad"));
    cr_assert_not(exists("mempool.dat"));
    /* A save fails cleanly where it cannot write: nothing is left behind. */
    char bad[300];
    snprintf(bad, sizeof(bad), "%s/no/such/dir", tmpdir);
    cr_assert_eq(kula_mempool_file_save(MP, NULL, bad, &G.chain_id, &err), KULA_EIO);
    cr_assert(strstr(err.what, "mempool.dat.tmp") != NULL, "%s", err.what);
}

/* ---- damaged files ---- */

/* A small file: three transactions of this network. */
static void small_file(kula_buf *out, txset *t)
{
    transfer(t, 1, 1, 2, 10);
    transfer(t, 2, 1, 3, 20);
    transfer(t, 3, 1, 4, 30);
    kula_buf_init(out);
    cr_assert_eq(kula_mempool_file_encode(out, &G.chain_id, t->p, t->len, t->n), 0);
}

Test(mempool_file, truncated_at_every_length)
{
    txset *t = txset_new();
    kula_buf b;
    small_file(&b, t);
    kula_mempool_file f;
    cr_assert_eq(kula_mempool_file_decode(&f, b.data, b.len, &G.chain_id), 0);
    cr_assert_eq(f.n, 3);
    kula_mempool_file_free(&f);
    for (size_t len = 0; len < b.len; len++) {
        /* A copy of exactly len bytes, so ASan sees any read past it. */
        uint8_t *cut = malloc(len ? len : 1);
        cr_assert_not_null(cut);
        memcpy(cut, b.data, len);
        int rc = kula_mempool_file_decode(&f, cut, len, &G.chain_id);
        cr_assert_lt(rc, 0, "a file cut to %zu of %zu bytes was accepted", len, b.len);
        if (len < KULA_HASH_LEN)
            cr_assert_eq(rc, KULA_ETRUNC, "len %zu: %s", len, kula_errname(rc));
        else if (len >= KULA_HASH_LEN + 4) /* array header, version, 2 more */
            cr_assert_eq(rc, KULA_ESTORE, "len %zu: %s", len, kula_errname(rc));
        cr_assert_eq(f.n, 0);
        cr_assert_null(f.txs);
        free(cut);
    }
    /* The same through a file, at a few lengths, with the message. */
    size_t lens[] = { 0, 10, 40, b.len / 2, b.len - 1 };
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        write_file(b.data, lens[i]);
        kula_error err;
        int rc = kula_mempool_file_load(&f, tmpdir, &G.chain_id, &err);
        cr_assert_lt(rc, 0);
        cr_assert(strstr(err.what, "mempool.dat") != NULL, "%s", err.what);
    }
    kula_buf_free(&b);
    txset_free(t);
}

Test(mempool_file, flipped_byte_fails_the_checksum)
{
    txset *t = txset_new();
    kula_buf b;
    small_file(&b, t);
    kula_mempool_file f;
    for (size_t i = 0; i < b.len; i++) {
        for (unsigned bit = 0; bit < 8; bit += 7) {
            b.data[i] ^= (uint8_t)(1u << bit);
            int rc = kula_mempool_file_decode(&f, b.data, b.len, &G.chain_id);
            b.data[i] ^= (uint8_t)(1u << bit);
            cr_assert_lt(rc, 0, "byte %zu bit %u flipped: accepted", i, bit);
            /* Bytes 0 and 1 are the header and version, read first. */
            if (i >= 2)
                cr_assert_eq(rc, KULA_ESTORE, "byte %zu bit %u: %s", i, bit, kula_errname(rc));
        }
    }
    write_file(b.data, b.len);
    kula_error err;
    cr_assert_eq(kula_mempool_file_load(&f, tmpdir, &G.chain_id, &err), 0, "%s", err.what);
    kula_mempool_file_free(&f);
    b.data[b.len / 2] ^= 0x10;
    write_file(b.data, b.len);
    cr_assert_eq(kula_mempool_file_load(&f, tmpdir, &G.chain_id, &err), KULA_ESTORE);
    cr_assert(strstr(err.what, "checksum") != NULL, "%s", err.what);
    kula_buf_free(&b);
    txset_free(t);
}

Test(mempool_file, another_network)
{
    txset *t = txset_new();
    transfer(t, 1, 1, 2, 10);
    kula_hash other = devnet();
    kula_buf b;
    kula_buf_init(&b);
    cr_assert_eq(kula_mempool_file_encode(&b, &other, t->p, t->len, t->n), 0);
    kula_mempool_file f;
    cr_assert_eq(kula_mempool_file_decode(&f, b.data, b.len, &G.chain_id), KULA_ECHAIN);
    cr_assert_eq(memcmp(f.chain_id.b, other.b, 32), 0, "the file's chain id is told");
    cr_assert_eq(f.n, 0);
    cr_assert_null(f.txs);
    write_file(b.data, b.len);
    kula_error err;
    cr_assert_eq(kula_mempool_file_load(&f, tmpdir, &G.chain_id, &err), KULA_ECHAIN);
    cr_assert(strstr(err.what, "another network") != NULL, "%s", err.what);
    cr_assert(strstr(err.what, "f2a61e22c3da5202") != NULL, "%s", err.what);
    cr_assert_eq(kula_mempool_file_set_aside(tmpdir), 0);
    cr_assert(exists("mempool.dat.bad"));
    kula_buf_free(&b);
    txset_free(t);
}

/* ---- hand-made files: [1, chain id, [txs]] and a valid checksum ---- */

static void seal(kula_buf *b)
{
    kula_hash h;
    kula_hash_bytes(&h, b->data, b->len);
    kula_buf_append(b, h.b, KULA_HASH_LEN);
}

static int decode_sealed(kula_buf *b)
{
    seal(b);
    kula_mempool_file f;
    int rc = kula_mempool_file_decode(&f, b->data, b->len, &G.chain_id);
    kula_mempool_file_free(&f);
    kula_buf_reset(b);
    return rc;
}

/* Appends raw bytes given in hex. */
static void hex(kula_buf *b, const char *h)
{
    size_t n;
    uint8_t *p = tu_unhex(h, &n);
    kula_buf_append(b, p, n);
    free(p);
}

static void chain_field(kula_buf *b)
{
    hex(b, "c420");
    kula_buf_append(b, G.chain_id.b, KULA_HASH_LEN);
}

Test(mempool_file, oversize_count_and_transactions)
{
    kula_buf b;
    kula_buf_init(&b);
    /* KULA_MEMPOOL_MAX_TXS + 1 = 100001 = 0x000186a1 entries announced */
    hex(&b, "9301");
    chain_field(&b);
    hex(&b, "dd000186a1");
    cr_assert_eq(decode_sealed(&b), KULA_ETOOBIG);
    /* exactly KULA_MEMPOOL_MAX_TXS announced, with nothing behind: truncated */
    hex(&b, "9301");
    chain_field(&b);
    hex(&b, "dd000186a0");
    cr_assert_eq(decode_sealed(&b), KULA_ETRUNC);
    /* a transaction of KULA_MAX_TX_BYTES + 1 bytes (its header alone) */
    hex(&b, "9301");
    chain_field(&b);
    hex(&b, "91c600100001");
    cr_assert_eq(decode_sealed(&b), KULA_ETOOBIG);
    /* one of exactly KULA_MAX_TX_BYTES is read */
    hex(&b, "9301");
    chain_field(&b);
    hex(&b, "91c600100000");
    uint8_t *zeros = calloc(1, KULA_MAX_TX_BYTES);
    cr_assert_not_null(zeros);
    kula_buf_append(&b, zeros, KULA_MAX_TX_BYTES);
    cr_assert_eq(decode_sealed(&b), 0);
    /* a file longer than any the limits allow is refused unread (data
     * holds 1 MiB: reading further would be caught by ASan) */
    kula_mempool_file f;
    cr_assert_eq(kula_mempool_file_decode(&f, zeros, KULA_MEMPOOL_FILE_MAX_BYTES + 1,
                                          &G.chain_id),
                 KULA_ETOOBIG);
    free(zeros);
    kula_buf_free(&b);

    /* The encoder refuses what the decoder would: a transaction over the
     * limit, more than KULA_MEMPOOL_MAX_BYTES in all (judged from the
     * lengths, before any byte is read). */
    static const uint8_t one[1];
    const uint8_t **txs = malloc(200 * sizeof(*txs));
    size_t *lens = malloc(200 * sizeof(*lens));
    cr_assert_not_null(txs);
    cr_assert_not_null(lens);
    for (size_t i = 0; i < 200; i++) {
        txs[i] = one;
        lens[i] = KULA_MAX_TX_BYTES;
    }
    kula_buf_init(&b);
    size_t big = KULA_MAX_TX_BYTES + 1;
    cr_assert_eq(kula_mempool_file_encode(&b, &G.chain_id, txs, &big, 1), KULA_ETOOBIG);
    cr_assert_eq(KULA_MEMPOOL_MAX_BYTES / KULA_MAX_TX_BYTES, 128);
    cr_assert_eq(kula_mempool_file_encode(&b, &G.chain_id, txs, lens, 129), KULA_ETOOBIG);
    cr_assert_eq(b.len, 0, "nothing written");
    kula_buf_free(&b);
    free(txs);
    free(lens);
}

Test(mempool_file, non_canonical_refused)
{
    kula_buf b;
    kula_buf_init(&b);
    /* the reference: [1, chain id, [h'01']] */
    hex(&b, "9301");
    chain_field(&b);
    hex(&b, "91c40101");
    cr_assert_eq(decode_sealed(&b), 0);
    /* the outer array with a 16-bit header */
    hex(&b, "dc000301");
    chain_field(&b);
    hex(&b, "91c40101");
    cr_assert_eq(decode_sealed(&b), KULA_ENONCANON);
    /* the version as uint 8 */
    hex(&b, "93cc01");
    chain_field(&b);
    hex(&b, "91c40101");
    cr_assert_eq(decode_sealed(&b), KULA_ENONCANON);
    /* the list with a 16-bit header */
    hex(&b, "9301");
    chain_field(&b);
    hex(&b, "dc0001c40101");
    cr_assert_eq(decode_sealed(&b), KULA_ENONCANON);
    /* a transaction with a 16-bit length */
    hex(&b, "9301");
    chain_field(&b);
    hex(&b, "91c5000101");
    cr_assert_eq(decode_sealed(&b), KULA_ENONCANON);
    /* the chain id as text */
    hex(&b, "9301d920");
    kula_buf_append(&b, "0123456789abcdef0123456789abcdef", 32);
    hex(&b, "91c40101");
    cr_assert_eq(decode_sealed(&b), KULA_ETYPE);
    /* a chain id of 31 bytes */
    hex(&b, "9301c41f");
    kula_buf_append(&b, G.chain_id.b, 31);
    hex(&b, "91c40101");
    cr_assert_eq(decode_sealed(&b), KULA_ERANGE);
    /* a transaction as an array, not bytes */
    hex(&b, "9301");
    chain_field(&b);
    hex(&b, "919101");
    cr_assert_eq(decode_sealed(&b), KULA_ETYPE);
    /* a map */
    hex(&b, "9301");
    chain_field(&b);
    hex(&b, "80");
    cr_assert_eq(decode_sealed(&b), KULA_ETYPE);
    /* a fourth field; two fields */
    hex(&b, "9401");
    chain_field(&b);
    hex(&b, "90c0");
    cr_assert_eq(decode_sealed(&b), KULA_EARITY);
    hex(&b, "9201");
    chain_field(&b);
    cr_assert_eq(decode_sealed(&b), KULA_EARITY);
    /* a byte between the structure and the checksum */
    hex(&b, "9301");
    chain_field(&b);
    hex(&b, "90ff");
    cr_assert_eq(decode_sealed(&b), KULA_ETRAILING);
    /* a newer version, with fields this one does not know: EVERSION,
     * whatever its checksum */
    hex(&b, "940201020304");
    cr_assert_eq(decode_sealed(&b), KULA_EVERSION);
    hex(&b, "9302");
    chain_field(&b);
    hex(&b, "90");
    for (int i = 0; i < 32; i++)
        kula_buf_append(&b, "x", 1);
    kula_mempool_file f;
    cr_assert_eq(kula_mempool_file_decode(&f, b.data, b.len, &G.chain_id), KULA_EVERSION);
    kula_buf_free(&b);
}

/* ---- re-admission ---- */

/* Saved: A 2->3 600 (1), B 2->3 300 (2), C 4->1 10 (1), D 3->1 5 (1),
 * H0 1->2 100 (1), H 1->2 800 (2).  Committed meanwhile: A and C, and E 2->4
 * (2) and H1 1->3 950 (1), which take the nonces of B and H0.  Offered
 * again: A and C are already committed; B and H0 refused (ENONCE); H, now
 * next, exceeds member 1's credit (ECREDIT); D is pending again. */
Test(mempool_file, readmission_refuses_the_committed_and_invalid)
{
    txset *t = txset_new();
    size_t A = transfer(t, 2, 1, 3, 600), B = transfer(t, 2, 2, 3, 300);
    size_t C4 = transfer(t, 4, 1, 1, 10), D = transfer(t, 3, 1, 1, 5);
    size_t H0 = transfer(t, 1, 1, 2, 100), H = transfer(t, 1, 2, 2, 800);
    admit_all(t, 0, t->n);
    kula_error err;
    size_t saved;
    cr_assert_eq(kula_mempool_file_save(MP, &saved, tmpdir, &G.chain_id, &err), 0,
                 "%s", err.what);
    cr_assert_eq(saved, 6);
    kula_mempool_free(MP);
    MP = NULL;

    size_t E = transfer(t, 2, 2, 4, 300), H1 = transfer(t, 1, 1, 3, 950);
    size_t block[] = { A, C4, E, H1 };
    commit_block(t, block, 4);
    uint64_t height;
    uint32_t index;
    cr_assert_eq(kula_store_tx_location(S, &t->id[A], &height, &index), 0);

    cr_assert_eq(kula_mempool_new(&MP, 1000, 1 << 22), 0);
    kula_mempool_track(MP, C, NULL, NULL);
    kula_mempool_file f;
    cr_assert_eq(kula_mempool_file_load(&f, tmpdir, &G.chain_id, &err), 0, "%s", err.what);
    kula_mempool_reload rep;
    cr_assert_eq(kula_mempool_file_readmit(MP, &rep, C, S, V, &f), 0);
    cr_assert_eq(rep.total, 6);
    cr_assert_eq(rep.admitted, 1);
    cr_assert_eq(rep.committed, 2);
    cr_assert_eq(rep.refused, 3);
    cr_assert_eq(rep.by_reason[-KULA_ENONCE], 2, "B and H0: %zu", rep.by_reason[-KULA_ENONCE]);
    cr_assert_eq(rep.by_reason[-KULA_ECREDIT], 1);
    char why[128];
    kula_mempool_reload_reasons(why, sizeof(why), &rep);
    cr_assert_str_eq(why, "2 wrong nonce, 1 insufficient credit");
    char tiny[8];
    kula_mempool_reload_reasons(tiny, sizeof(tiny), &rep);
    cr_assert_str_eq(tiny, "2 wrong");
    cr_assert_eq(kula_mempool_size(MP), 1);
    cr_assert(kula_mempool_contains(MP, &t->id[D]));
    size_t gone[] = { A, B, C4, H0, H };
    for (size_t i = 0; i < 5; i++)
        cr_assert_not(kula_mempool_contains(MP, &t->id[gone[i]]), "tx %zu pending", gone[i]);
    kula_mempool_file_free(&f);

    /* Without a store, nothing is counted as committed. */
    kula_mempool_free(MP);
    cr_assert_eq(kula_mempool_new(&MP, 1000, 1 << 22), 0);
    kula_mempool_track(MP, C, NULL, NULL);
    cr_assert_eq(kula_mempool_file_load(&f, tmpdir, &G.chain_id, &err), 0, "%s", err.what);
    cr_assert_eq(kula_mempool_file_readmit(MP, &rep, C, NULL, V, &f), 0);
    cr_assert_eq(rep.admitted, 1);
    cr_assert_eq(rep.committed, 0);
    cr_assert_eq(rep.refused, 5);
    kula_mempool_file_free(&f);
    txset_free(t);
}

/* More transactions than one batch: offered in chunks, in order (each
 * member's nonces follow each other across the chunks), all admitted. */
Test(mempool_file, readmission_in_chunks)
{
    size_t n = KULA_MEMPOOL_FILE_CHUNK + 300;
    kula_buf *bufs = calloc(n, sizeof(*bufs));
    const uint8_t **txs = calloc(n, sizeof(*txs));
    size_t *lens = calloc(n, sizeof(*lens));
    cr_assert(bufs != NULL && txs != NULL && lens != NULL);
    for (size_t i = 0; i < n; i++) {
        kula_tx tx;
        memset(&tx, 0, sizeof(tx));
        tx.kind = KULA_TX_TRANSFER;
        tx.from = 1 + (uint32_t)(i % 4);
        tx.nonce = i / 4 + 1;
        tx.u.transfer.to = tx.from % 4 + 1;
        tx.u.transfer.amount = 1;
        kula_buf body;
        kula_buf_init(&body);
        cr_assert_eq(kula_tx_seal(&tx, &body), 0);
        kula_seckey sk;
        kula_pubkey pk;
        lu_member_key(tx.from, &sk, &pk);
        cr_assert_eq(kula_tx_sign(&tx, &G.chain_id, tx.from, &sk), 0);
        kula_buf_init(&bufs[i]);
        cr_assert_eq(kula_tx_encode(&bufs[i], &tx), 0);
        kula_buf_free(&body);
        txs[i] = bufs[i].data;
        lens[i] = bufs[i].len;
    }
    kula_mempool_free(MP);
    cr_assert_eq(kula_mempool_new(&MP, 5000, 1 << 24), 0);
    kula_mempool_track(MP, C, NULL, NULL);
    kula_buf file;
    kula_buf_init(&file);
    cr_assert_eq(kula_mempool_file_encode(&file, &G.chain_id, txs, lens, n), 0);
    kula_mempool_file f;
    cr_assert_eq(kula_mempool_file_decode(&f, file.data, file.len, &G.chain_id), 0);
    kula_mempool_reload rep;
    cr_assert_eq(kula_mempool_file_readmit(MP, &rep, C, S, V, &f), 0);
    cr_assert_eq(rep.total, n);
    cr_assert_eq(rep.admitted, n, "admitted %zu of %zu", rep.admitted, n);
    seen *w = calloc(1, sizeof(*w));
    cr_assert_not_null(w);
    uint64_t cursor = 0;
    /* the first MAXTX, in the file's order */
    kula_mempool_walk(MP, &cursor, collect_some, w);
    cr_assert_eq(w->n, MAXTX);
    for (size_t i = 0; i < w->n; i++)
        cr_assert_eq(memcmp(w->b[i].data, txs[i], lens[i]), 0, "tx %zu", i);
    seen_free(w);
    free(w);
    kula_mempool_file_free(&f);
    kula_buf_free(&file);
    for (size_t i = 0; i < n; i++)
        kula_buf_free(&bufs[i]);
    free(bufs);
    free(txs);
    free(lens);
}
