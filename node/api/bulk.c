/* bulk.c -- POST /submit: signed transactions in bulk, as msgpack
 * (kula/api/bulk.h), and the verdict on a submitted transaction that the
 * JSON-RPC `submit` shares; GET /ids: the committed blocks' transaction
 * ids, as msgpack. */
#include "kula/api/bulk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kula/base/error.h"
#include "kula/base/log.h"

int kula_bulk_decode(kula_bulk *out, const uint8_t *body, size_t len)
{
    out->n = 0;
    kula_reader r;
    kula_reader_init(&r, body, len);
    uint32_t n = kula_r_array(&r, KULA_BULK_MAX_TXS);
    if (kula_reader_ok(&r) && n == 0)
        kula_reader_fail(&r, KULA_ERANGE);
    for (uint32_t i = 0; i < n && kula_reader_ok(&r); i++) {
        out->lens[i] = kula_r_bin(&r, &out->txs[i], KULA_MAX_TX_BYTES);
        if (kula_reader_ok(&r) && out->lens[i] == 0)
            kula_reader_fail(&r, KULA_ERANGE);
    }
    int rc = kula_reader_finish(&r);
    out->n = rc == 0 ? n : 0;
    return rc;
}

/* The number of signatures of an encoded signed transaction, [body,
 * [[signer, sig]...]], read without decoding the body (0 if it is not one). */
static uint32_t tx_signatures(const uint8_t *data, size_t len)
{
    kula_reader rd;
    const uint8_t *p;
    size_t n;
    kula_reader_init(&rd, data, len);
    kula_r_array_exact(&rd, 2);
    kula_r_value(&rd, &p, &n);
    uint32_t nsigs = kula_r_array(&rd, KULA_MAX_PARTIES);
    return kula_reader_ok(&rd) ? nsigs : 0;
}

uint64_t kula_submit_units(const uint8_t *tx, size_t len)
{
    uint64_t units =
        tx != NULL ? len / KULA_SUBMIT_BYTES + KULA_SUBMIT_SIG_UNITS * tx_signatures(tx, len) : 0;
    return units > KULA_SUBMIT_MIN_UNITS ? units : KULA_SUBMIT_MIN_UNITS;
}

int kula_submit_verdict(kula_rpc_env *env, int result, const kula_hash *id, const uint8_t *tx,
                        size_t len, uint64_t *height)
{
    /* Admitted by the view of the committed state, it is in no block
     * (kula_mempool_viewed); refused, or admitted without the view, it may
     * be: then say where, not only why. */
    uint32_t index;
    bool decoded = result == 0 || !kula_is_codec_error(result);
    bool viewed = result == 0 && kula_mempool_viewed(env->mempool);
    if (decoded && !viewed && kula_store_tx_location(env->store, id, height, &index) == 0) {
        if (result == 0)
            kula_mempool_remove(env->mempool, id);
        return KULA_EREPLAYED;
    }
    if (result == 0)
        kula_p2p_relay_tx(env->p2p, tx, len); /* to the validators, through the peers */
    return result;
}

/* One entry of the reply: [code, id | nil, words]. */
static void put_entry(kula_writer *w, int code, const kula_hash *id, uint64_t height)
{
    char words[256];
    if (code == 0)
        snprintf(words, sizeof(words), "pending");
    else if (code == KULA_EREPLAYED)
        snprintf(words, sizeof(words), "transaction refused: already committed at height %llu",
                 (unsigned long long)height);
    else if (code == KULA_EDUPTX)
        snprintf(words, sizeof(words), "transaction refused: already pending (sent before)");
    else
        snprintf(words, sizeof(words), "transaction refused: %s", kula_strerror(code));
    kula_w_array(w, 3);
    kula_w_int(w, code);
    if (id != NULL)
        kula_w_bin(w, id->b, KULA_HASH_LEN);
    else
        kula_w_nil(w);
    kula_w_str(w, words, strlen(words));
}

struct kula_bulk_job {
    kula_bulk b;
    int results[KULA_BULK_MAX_TXS];
    kula_hash ids[KULA_BULK_MAX_TXS];
    kula_mempool_batch *batch; /* NULL: out of memory, every result says so */
};

void kula_bulk_job_free(kula_bulk_job *job)
{
    if (job != NULL)
        kula_mempool_batch_free(job->batch);
    free(job);
}

int kula_bulk_begin(kula_rpc_env *env, const uint8_t *body, size_t len, uint64_t work,
                    kula_bulk_job **job, char *why, size_t whylen)
{
    *job = NULL;
    kula_bulk_job *j = calloc(1, sizeof(*j)); /* zeroed ids, should memory run out */
    if (j == NULL) {
        snprintf(why, whylen, "out of memory");
        return KULA_ENOMEM;
    }
    int rc = kula_bulk_decode(&j->b, body, len);
    if (rc != 0) {
        snprintf(why, whylen,
                 "the body is not a msgpack array of 1 to %u signed transactions (bin, each at "
                 "most %u bytes): %s",
                 KULA_BULK_MAX_TXS, (unsigned)KULA_MAX_TX_BYTES, kula_strerror(rc));
        free(j);
        return KULA_EINVAL;
    }
    /* the work asked for, before any of it runs, as for a JSON-RPC body */
    uint64_t asked = 0;
    for (size_t i = 0; i < j->b.n; i++)
        asked += kula_submit_units(j->b.txs[i], j->b.lens[i]);
    if (asked > work) {
        snprintf(why, whylen,
                 "%zu transactions ask for %llu units of work, more than a body may (%llu): "
                 "send fewer in each request",
                 j->b.n, (unsigned long long)asked, (unsigned long long)work);
        free(j);
        return KULA_EINVAL;
    }
    j->batch = kula_mempool_prepare(env->mempool, kula_chain_ledger(env->chain), j->b.txs,
                                    j->b.lens, j->b.n, j->results, j->ids);
    *job = j;
    return KULA_OK;
}

kula_verify_job *kula_bulk_jobs(kula_bulk_job *job, size_t *n)
{
    if (job->batch == NULL) {
        *n = 0;
        return NULL;
    }
    return kula_mempool_batch_jobs(job->batch, n);
}

int kula_bulk_end(kula_rpc_env *env, kula_bulk_job *job, kula_buf *out, char *why,
                  size_t whylen)
{
    if (job->batch != NULL)
        kula_mempool_admit(env->mempool, job->batch);
    job->batch = NULL;
    kula_writer w;
    kula_writer_init(&w, out);
    kula_w_array(&w, (uint32_t)job->b.n);
    for (size_t i = 0; i < job->b.n; i++) {
        uint64_t height = 0;
        int code = kula_submit_verdict(env, job->results[i], &job->ids[i], job->b.txs[i],
                                       job->b.lens[i], &height);
        bool decoded = job->results[i] == 0 || !kula_is_codec_error(job->results[i]);
        put_entry(&w, code, decoded ? &job->ids[i] : NULL, height);
    }
    kula_bulk_job_free(job);
    int rc = out->err;
    if (rc != 0)
        snprintf(why, whylen, "out of memory");
    return rc;
}

int kula_bulk_submit(kula_rpc_env *env, const uint8_t *body, size_t len, uint64_t work,
                     kula_buf *out, char *why, size_t whylen)
{
    kula_bulk_job *job;
    int rc = kula_bulk_begin(env, body, len, work, &job, why, whylen);
    if (rc != 0)
        return rc;
    size_t n;
    kula_verify_job *jobs = kula_bulk_jobs(job, &n);
    if (n > 0)
        kula_verifier_run(env->verifier, jobs, n);
    return kula_bulk_end(env, job, out, why, whylen);
}

/* ---- GET /ids ---- */

/* A decimal number of 1 to 20 digits, nothing else, at most max. */
static bool read_number(const char *v, uint64_t max, uint64_t *out)
{
    size_t n = strlen(v);
    if (n == 0 || n > 20 || strspn(v, "0123456789") != n)
        return false;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(v[i] - '0');
        if (x > (UINT64_MAX - d) / 10)
            return false;
        x = x * 10 + d;
    }
    *out = x;
    return x <= max;
}

int kula_ids_args(const char *from, const char *blocks, uint64_t *from_height,
                  uint32_t *nblocks, char *why, size_t whylen)
{
    uint64_t h = 0, b = KULA_IDS_DEFAULT_BLOCKS;
    if (from == NULL || !read_number(from, UINT64_MAX, &h) || h == 0) {
        snprintf(why, whylen, "'from' must be a block height, a whole number from 1 (as in "
                              "/ids?from=1)");
        return KULA_EINVAL;
    }
    if (blocks != NULL && (!read_number(blocks, KULA_IDS_MAX_BLOCKS, &b) || b == 0)) {
        snprintf(why, whylen, "'blocks' must be a whole number from 1 to %u",
                 KULA_IDS_MAX_BLOCKS);
        return KULA_EINVAL;
    }
    *from_height = h;
    *nblocks = (uint32_t)b;
    return KULA_OK;
}

int kula_ids_reply(kula_rpc_env *env, uint64_t from, uint32_t blocks, kula_buf *out,
                   uint64_t *missing_below)
{
    uint64_t tip = kula_chain_height(env->chain);
    uint64_t last = tip; /* none when from is past it */
    if (from <= tip && tip - from >= blocks)
        last = from + blocks - 1;
    *missing_below = 0;
    kula_buf raw;
    kula_buf_init(&raw);
    kula_buf items; /* the blocks' entries, counted as they are read */
    kula_buf_init(&items);
    kula_writer w;
    kula_writer_init(&w, &items);
    uint32_t n = 0;
    size_t read = 0;
    int rc = 0;
    for (uint64_t h = from; h <= last; h++) {
        kula_block b;
        kula_hash *ids = NULL;
        kula_buf_reset(&raw);
        if ((rc = kula_store_block(env->store, h, &raw)) != 0)
            break;
        if (n > 0 && raw.len > KULA_IDS_MAX_BYTES - read)
            break; /* past the bound: the next reply begins with it */
        if ((rc = kula_block_decode_txs(&b, raw.data, raw.len, &ids)) != 0)
            break;
        read += raw.len;
        kula_w_array(&w, 2);
        kula_w_uint(&w, h);
        kula_w_array(&w, b.ntxs);
        for (uint32_t i = 0; i < b.ntxs; i++)
            kula_w_bin(&w, ids[i].b, KULA_HASH_LEN);
        free(ids);
        kula_block_free(&b);
        n++;
    }
    uint64_t base = 0, below = 0;
    if (rc == KULA_ENOTFOUND && n == 0 &&
        kula_store_base(env->store, &base, &below, NULL) == 0 && from < below) {
        *missing_below = below; /* a node started from a snapshot */
        kula_buf_free(&raw);
        kula_buf_free(&items);
        return KULA_ENOTFOUND;
    }
    if (rc != 0 && rc != KULA_ENOMEM)
        kula_warn("GET /ids: block %llu of %llu..%llu could not be read: %s",
                  (unsigned long long)(from + n), (unsigned long long)from,
                  (unsigned long long)last, kula_strerror(rc));
    if (n > 0 || rc == 0) { /* what was read before a fault is answered */
        kula_writer_init(&w, out);
        kula_w_array(&w, 2);
        kula_w_uint(&w, tip);
        kula_w_array(&w, n);
        kula_buf_append(out, items.data, items.len);
        rc = out->err != 0 || items.err != 0 ? KULA_ENOMEM : 0;
    }
    kula_buf_free(&raw);
    kula_buf_free(&items);
    return rc;
}
