/* block.c -- canonical encoding of block headers, blocks, votes and commits
 * (proto/SPEC.md §5, §7). */
#include <stdlib.h>
#include <string.h>

#include "kula/base/error.h"
#include "kula/types/types.h"

static void w_hash(kula_writer *w, const kula_hash *h) { kula_w_bin(w, h->b, KULA_HASH_LEN); }
static void r_hash(kula_reader *r, kula_hash *h) { kula_r_bin_exact(r, h->b, KULA_HASH_LEN); }

/* ---- header ---- */

int kula_header_encode(kula_buf *out, const kula_header *h)
{
    kula_writer w;
    kula_writer_init(&w, out);
    kula_w_array(&w, 9);
    kula_w_uint(&w, h->version);
    w_hash(&w, &h->chain_id);
    kula_w_uint(&w, h->height);
    kula_w_uint(&w, h->time_ms);
    w_hash(&w, &h->prev_hash);
    w_hash(&w, &h->txs_root);
    w_hash(&w, &h->state_root);
    kula_w_uint(&w, h->proposer);
    w_hash(&w, &h->last_commit_hash);
    return out->err;
}

static void r_header(kula_reader *r, kula_header *h)
{
    memset(h, 0, sizeof(*h));
    uint32_t fields = kula_r_array(r, 64);
    if (kula_reader_ok(r) && fields == 0)
        kula_reader_fail(r, KULA_EARITY);
    uint64_t version = kula_r_uint(r, UINT64_MAX);
    if (kula_reader_ok(r) && version != KULA_VERSION)
        kula_reader_fail(r, KULA_EVERSION);
    if (kula_reader_ok(r) && fields != 9)
        kula_reader_fail(r, KULA_EARITY);
    h->version = (uint32_t)version;
    r_hash(r, &h->chain_id);
    h->height = kula_r_uint(r, UINT64_MAX);
    h->time_ms = kula_r_uint(r, UINT64_MAX);
    r_hash(r, &h->prev_hash);
    r_hash(r, &h->txs_root);
    r_hash(r, &h->state_root);
    h->proposer = (uint32_t)kula_r_uint(r, UINT32_MAX);
    r_hash(r, &h->last_commit_hash);
}

int kula_header_decode(kula_header *h, const uint8_t *data, size_t len)
{
    kula_reader r;
    kula_reader_init(&r, data, len);
    r_header(&r, h);
    return kula_reader_finish(&r);
}

void kula_header_hash(kula_hash *out, const kula_header *h)
{
    kula_buf b;
    kula_buf_init(&b);
    kula_encoded_or_abort(kula_header_encode(&b, h), "a block header");
    kula_hash_bytes(out, b.data, b.len);
    kula_buf_free(&b);
}

/* ---- transactions root ---- */

void kula_txs_root(kula_hash *out, const uint8_t *const *txs, const size_t *lens, uint32_t n)
{
    if (n == 0) {
        kula_hash_bytes(out, NULL, 0);
        return;
    }
    kula_hash *level = malloc((size_t)n * sizeof(kula_hash));
    if (level == NULL) {
        /* Cannot happen for n <= KULA_MAX_BLOCK_TXS on a working system;
         * return a value no valid block can match rather than crash. */
        memset(out, 0xff, sizeof(*out));
        return;
    }
    static const uint8_t leaf_prefix = 0x00, node_prefix = 0x01;
    for (uint32_t i = 0; i < n; i++) {
        kula_hasher h;
        kula_hasher_init(&h);
        kula_hasher_update(&h, &leaf_prefix, 1);
        kula_hasher_update(&h, txs[i], lens[i]);
        kula_hasher_final(&h, &level[i]);
    }
    uint32_t m = n;
    while (m > 1) {
        uint32_t k = 0;
        for (uint32_t i = 0; i + 1 < m; i += 2) {
            kula_hasher h;
            kula_hasher_init(&h);
            kula_hasher_update(&h, &node_prefix, 1);
            kula_hasher_update(&h, level[i].b, KULA_HASH_LEN);
            kula_hasher_update(&h, level[i + 1].b, KULA_HASH_LEN);
            kula_hasher_final(&h, &level[k++]);
        }
        if (m % 2 == 1)
            level[k++] = level[m - 1];
        m = k;
    }
    *out = level[0];
    free(level);
}

/* ---- votes ---- */

static void w_vote_body(kula_writer *w, const kula_vote *v)
{
    kula_w_array(w, 5);
    kula_w_uint(w, v->type);
    kula_w_uint(w, v->height);
    kula_w_uint(w, v->round);
    kula_w_bin(w, v->block_hash.b, v->has_block ? KULA_HASH_LEN : 0);
    kula_w_uint(w, v->validator);
}

int kula_vote_encode_body(kula_buf *out, const kula_vote *v)
{
    kula_writer w;
    kula_writer_init(&w, out);
    w_vote_body(&w, v);
    return out->err;
}

int kula_vote_encode(kula_buf *out, const kula_vote *v)
{
    kula_writer w;
    kula_writer_init(&w, out);
    kula_w_array(&w, 2);
    w_vote_body(&w, v);
    kula_w_bin(&w, v->sig.b, KULA_SIG_LEN);
    return out->err;
}

int kula_vote_decode(kula_vote *v, const uint8_t *data, size_t len)
{
    memset(v, 0, sizeof(*v));
    kula_reader r;
    kula_reader_init(&r, data, len);
    kula_r_array_exact(&r, 2);
    kula_r_array_exact(&r, 5);
    v->type = (uint8_t)kula_r_uint(&r, KULA_VOTE_PRECOMMIT);
    if (kula_reader_ok(&r) && v->type < KULA_VOTE_PREVOTE)
        kula_reader_fail(&r, KULA_ERANGE);
    v->height = kula_r_uint(&r, UINT64_MAX);
    v->round = (uint32_t)kula_r_uint(&r, UINT32_MAX);
    v->has_block = kula_r_bin_opt(&r, v->block_hash.b, KULA_HASH_LEN);
    v->validator = (uint32_t)kula_r_uint(&r, UINT32_MAX);
    kula_r_bin_exact(&r, v->sig.b, KULA_SIG_LEN);
    int rc = kula_reader_finish(&r);
    if (rc != 0)
        memset(v, 0, sizeof(*v));
    return rc;
}

void kula_vote_sighash(kula_hash *out, const kula_hash *chain_id, const kula_vote *v)
{
    kula_buf b;
    kula_buf_init(&b);
    kula_encoded_or_abort(kula_vote_encode_body(&b, v), "a vote");
    kula_signing_digest(out, KULA_TAG_VOTE, chain_id, b.data, b.len);
    kula_buf_free(&b);
}

/* ---- commits ---- */

int kula_commit_encode(kula_buf *out, const kula_commit *c)
{
    kula_writer w;
    kula_writer_init(&w, out);
    kula_w_array(&w, 4);
    kula_w_uint(&w, c->height);
    kula_w_uint(&w, c->round);
    w_hash(&w, &c->block_hash);
    kula_w_array(&w, c->nsigs);
    for (uint32_t i = 0; i < c->nsigs; i++) {
        kula_w_array(&w, 2);
        kula_w_uint(&w, c->sigs[i].validator);
        kula_w_bin(&w, c->sigs[i].sig.b, KULA_SIG_LEN);
    }
    return out->err;
}

static void r_commit(kula_reader *r, kula_commit *c)
{
    c->height = 0;
    c->round = 0;
    c->nsigs = 0;
    kula_r_array_exact(r, 4);
    c->height = kula_r_uint(r, UINT64_MAX);
    c->round = (uint32_t)kula_r_uint(r, UINT32_MAX);
    r_hash(r, &c->block_hash);
    c->nsigs = kula_r_array(r, KULA_MAX_VALIDATORS);
    if (kula_reader_ok(r) && c->nsigs == 0)
        kula_reader_fail(r, KULA_EARITY);
    for (uint32_t i = 0; i < c->nsigs && kula_reader_ok(r); i++) {
        kula_r_array_exact(r, 2);
        c->sigs[i].validator = (uint32_t)kula_r_uint(r, UINT32_MAX);
        kula_r_bin_exact(r, c->sigs[i].sig.b, KULA_SIG_LEN);
        if (i > 0 && kula_reader_ok(r) && c->sigs[i].validator <= c->sigs[i - 1].validator)
            kula_reader_fail(r, KULA_EORDER);
    }
    if (!kula_reader_ok(r))
        c->nsigs = 0;
}

int kula_commit_decode(kula_commit *c, const uint8_t *data, size_t len)
{
    kula_reader r;
    kula_reader_init(&r, data, len);
    r_commit(&r, c);
    return kula_reader_finish(&r);
}

void kula_commit_hash(kula_hash *out, const kula_commit *c)
{
    kula_buf b;
    kula_buf_init(&b);
    kula_encoded_or_abort(kula_commit_encode(&b, c), "a commit");
    kula_hash_bytes(out, b.data, b.len);
    kula_buf_free(&b);
}

/* ---- blocks ---- */

int kula_block_encode(kula_buf *out, const kula_header *h, const uint8_t *const *txs,
                      const size_t *lens, uint32_t ntxs, const kula_commit *last_commit)
{
    kula_writer w;
    kula_writer_init(&w, out);
    kula_w_array(&w, 3);
    /* The parts' errors are out's, which is sticky: returned at the end. */
    kula_result_ignored(kula_header_encode(out, h));
    kula_w_array(&w, ntxs);
    for (uint32_t i = 0; i < ntxs; i++)
        kula_w_raw(&w, txs[i], lens[i]);
    if (last_commit != NULL)
        kula_result_ignored(kula_commit_encode(out, last_commit));
    else
        kula_w_nil(&w);
    return out->err;
}

void kula_block_free(kula_block *b)
{
    free(b->txs);
    free(b->tx_lens);
    free(b->last_commit);
    memset(b, 0, sizeof(*b));
}

/* kula_block_decode; with tx (scratch) and ids, kula_block_decode_txs. */
static int block_decode(kula_block *b, const uint8_t *data, size_t len, kula_tx *tx,
                        kula_hash **ids)
{
    memset(b, 0, sizeof(*b));
    if (len > KULA_MAX_BLOCK_BYTES)
        return KULA_ETOOBIG;
    kula_reader r;
    kula_reader_init(&r, data, len);
    kula_r_array_exact(&r, 3);
    const uint8_t *hstart = r.p;
    r_header(&r, &b->header);
    b->header_raw = hstart;
    b->header_raw_len = (size_t)(r.p - hstart);
    b->ntxs = kula_r_array(&r, KULA_MAX_BLOCK_TXS);
    if (kula_reader_ok(&r) && b->ntxs > 0) {
        b->txs = calloc(b->ntxs, sizeof(*b->txs));
        b->tx_lens = calloc(b->ntxs, sizeof(*b->tx_lens));
        if (b->txs == NULL || b->tx_lens == NULL ||
            (ids != NULL && (*ids = calloc(b->ntxs, sizeof(**ids))) == NULL))
            kula_reader_fail(&r, KULA_ENOMEM);
    }
    for (uint32_t i = 0; i < b->ntxs && kula_reader_ok(&r); i++) {
        if (tx == NULL) {
            kula_r_value(&r, &b->txs[i], &b->tx_lens[i]);
            if (kula_reader_ok(&r) && b->tx_lens[i] > KULA_MAX_TX_BYTES)
                kula_reader_fail(&r, KULA_ETOOBIG);
            continue;
        }
        int rc = kula_tx_decode_prefix(tx, r.p, (size_t)(r.end - r.p), &b->tx_lens[i]);
        if (rc != 0) {
            kula_reader_fail(&r, rc);
            break;
        }
        b->txs[i] = r.p;
        r.p += b->tx_lens[i];
        (*ids)[i] = tx->id;
    }
    if (kula_reader_ok(&r)) {
        if (r.p < r.end && *r.p == 0xc0) {
            r.p++;
        } else {
            b->last_commit = malloc(sizeof(*b->last_commit));
            if (b->last_commit == NULL)
                kula_reader_fail(&r, KULA_ENOMEM);
            else
                r_commit(&r, b->last_commit);
            b->has_last_commit = true;
        }
    }
    int rc = kula_reader_finish(&r);
    if (rc != 0) {
        kula_block_free(b);
        if (ids != NULL) {
            free(*ids);
            *ids = NULL;
        }
        return rc;
    }
    kula_hash_bytes(&b->hash, b->header_raw, b->header_raw_len);
    return KULA_OK;
}

int kula_block_decode(kula_block *b, const uint8_t *data, size_t len)
{
    return block_decode(b, data, len, NULL, NULL);
}

int kula_block_decode_txs(kula_block *b, const uint8_t *data, size_t len, kula_hash **ids)
{
    *ids = NULL;
    kula_tx *tx = malloc(sizeof(*tx)); /* 1.4 KB: not on a worker's stack */
    if (tx == NULL) {
        memset(b, 0, sizeof(*b));
        return KULA_ENOMEM;
    }
    int rc = block_decode(b, data, len, tx, ids);
    free(tx);
    return rc;
}
