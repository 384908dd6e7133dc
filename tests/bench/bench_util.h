/* bench_util.h -- shared setup for the ledger benchmarks (bench_*.c): a
 * genesis built in code with deterministic member keys, a real store in a
 * directory, deterministic workloads of signed transactions, one-signature
 * block commits as the single-validator node makes them (node/daemon/node.c,
 * produce_block).  Header only: each benchmark is one translation unit. */
#ifndef KULA_BENCH_UTIL_H
#define KULA_BENCH_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kula/chain/chain.h"
#include "kula/codec/codec.h"
#include "kula/crypto/crypto.h"
#include "kula/base/error.h"
#include "kula/types/genesis.h"
#include "kula/ledger/ledger.h"
#include "kula/types/records.h"
#include "kula/store/store.h"
#include "kula/types/types.h"
#include "kula/crypto/verifier.h"

#define BU_UNUSED __attribute__((unused))

/* ---- small helpers ---- */

BU_UNUSED static void bu_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
BU_UNUSED static void bu_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("FAIL: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

BU_UNUSED static double bu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

BU_UNUSED static double bu_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

BU_UNUSED static void *bu_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        bu_die("out of memory (%zu bytes)", n);
    return p;
}

BU_UNUSED static void *bu_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL)
        bu_die("out of memory (%zu x %zu bytes)", n, size);
    return p;
}

/* The start of every benchmark: stdout line-buffered (progress shows at
 * once when piped), the crypto library ready.  Returns: the online CPUs. */
BU_UNUSED static long bu_start(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (kula_crypto_init() != 0)
        bu_die("kula_crypto_init");
    return sysconf(_SC_NPROCESSORS_ONLN);
}

/* splitmix64: a fixed, portable generator so every run builds the same workload. */
BU_UNUSED static uint64_t bu_rand(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Uniform in [0, n). */
BU_UNUSED static uint32_t bu_below(uint64_t *s, uint32_t n)
{
    return (uint32_t)(bu_rand(s) % n);
}

/* Reads one "Key:   123 kB" line of a /proc file; -1 if absent. */
BU_UNUSED static long bu_proc_kib(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    char line[256];
    long v = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            v = strtol(line + kl + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}

/* Resets VmHWM to the current RSS ("5" to clear_refs, Linux >= 4.0), so that
 * the peak that follows is of what comes next. */
BU_UNUSED static void bu_reset_peak_rss(void)
{
    int fd = open("/proc/self/clear_refs", O_WRONLY);
    if (fd < 0 || write(fd, "5", 1) != 1)
        fprintf(stderr, "warning: cannot reset the peak RSS; VmHWM includes the setup\n");
    if (fd >= 0)
        close(fd);
}

BU_UNUSED static double bu_mib(long kib) { return kib < 0 ? -1.0 : (double)kib / 1024.0; }

/* rm -r of a directory tree we created (only plain files and directories). */
BU_UNUSED static void bu_rmtree(const char *dir)
{
    if (dir == NULL || strncmp(dir, "/tmp/", 5) != 0)
        return; /* never outside /tmp */
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", dir);
}

/* ---- keys and genesis ---- */

/* Member i's key (i from 1): BLAKE2b-256("kula-bench/member-key" || be32 i),
 * re-hashed in the (2^-128) case it is not a valid secret key. */
BU_UNUSED static void bu_member_key(uint32_t i, kula_seckey *sk, kula_pubkey *pk)
{
    uint8_t seed[64];
    size_t n = (size_t)snprintf((char *)seed, sizeof(seed), "kula-bench/member-key");
    kula_put_be32(seed + n, i);
    kula_hash h;
    kula_hash_bytes(&h, seed, n + 4);
    for (;;) {
        memcpy(sk->b, h.b, KULA_SECKEY_LEN);
        if (kula_key_public(pk, sk) == 0)
            return;
        kula_hash_bytes(&h, h.b, KULA_HASH_LEN);
    }
}

typedef struct bu_net {
    kula_genesis g;
    uint32_t nmembers;
    kula_seckey *sk; /* sk[id], id 1..nmembers (sk[0] unused) */
    kula_pubkey *pk;
    uint32_t validator; /* member id of the only validator */
} bu_net;

BU_UNUSED static void bu_net_seal(bu_net *net);

/* A network of nmembers members with deterministic keys; member 1 is the
 * only validator.  Every member gets credit_limit.  The chain id is the
 * BLAKE2b-256 of the canonical genesis, as kula_genesis_parse_json computes. */
BU_UNUSED static void bu_net_init(bu_net *net, uint32_t nmembers, int64_t credit_limit,
                                  uint32_t max_block_txs)
{
    memset(net, 0, sizeof(*net));
    kula_genesis *g = &net->g;
    snprintf(g->network, sizeof(g->network), "kula-bench");
    snprintf(g->unit, sizeof(g->unit), "KULA");
    g->decimals = 2;
    if (kula_parse_utc("2026-01-01T00:00:00Z", &g->time_ms) != 0)
        bu_die("kula_parse_utc");
    g->params.default_credit_limit = credit_limit;
    g->params.threshold_num = 2;
    g->params.threshold_den = 3;
    g->params.proposal_ttl = 10000;
    g->params.block_interval_ms = 1000;
    g->params.timeout_propose_ms = 3000;
    g->params.timeout_vote_ms = 1000;
    g->params.timeout_delta_ms = 500;
    g->params.max_block_txs = max_block_txs;
    g->nmembers = nmembers;
    g->members = bu_xcalloc(nmembers, sizeof(*g->members));
    net->nmembers = nmembers;
    net->sk = bu_xcalloc(nmembers + 1, sizeof(*net->sk));
    net->pk = bu_xcalloc(nmembers + 1, sizeof(*net->pk));
    for (uint32_t id = 1; id <= nmembers; id++) {
        kula_genesis_member *m = &g->members[id - 1];
        bu_member_key(id, &net->sk[id], &net->pk[id]);
        m->pubkey = net->pk[id];
        snprintf(m->name, sizeof(m->name), "Bench Member %u", id);
        snprintf(m->sector, sizeof(m->sector), "sector-%u", id % 17);
        m->credit_limit = credit_limit;
        m->voting_power = id == 1 ? 1 : 0;
    }
    net->validator = 1;
    bu_net_seal(net);
}

/* (Re)computes the chain id after the genesis was made or changed (a
 * benchmark may set a parameter after bu_net_init): validates it, then
 * hashes its canonical encoding, checked to decode to the same network. */
BU_UNUSED static void bu_net_seal(bu_net *net)
{
    kula_genesis *g = &net->g;
    kula_error err;
    if (kula_genesis_validate(g, &err) != 0)
        bu_die("genesis: %s", err.what);
    kula_buf b;
    kula_buf_init(&b);
    if (kula_genesis_encode(&b, g) != 0)
        bu_die("genesis encode");
    kula_hash_bytes(&g->chain_id, b.data, b.len);
    /* The canonical form must decode to the same network (as the node reads it). */
    kula_genesis back;
    if (kula_genesis_decode(&back, b.data, b.len) != 0 ||
        memcmp(back.chain_id.b, g->chain_id.b, KULA_HASH_LEN) != 0)
        bu_die("genesis does not round-trip through its canonical encoding");
    kula_genesis_free(&back);
    kula_buf_free(&b);
}

BU_UNUSED static void bu_net_free(bu_net *net)
{
    for (uint32_t i = 0; i <= net->nmembers; i++)
        kula_seckey_wipe(&net->sk[i]);
    free(net->sk);
    free(net->pk);
    kula_genesis_free(&net->g);
}

/* Opens DIR/ledger (creating it), binds it to the genesis and opens the chain. */
BU_UNUSED static void bu_open_chain(const bu_net *net, const char *datadir, kula_store **store,
                                    kula_chain **chain)
{
    char path[1100];
    snprintf(path, sizeof(path), "%s/ledger", datadir);
    int rc = kula_store_open(store, path, 0);
    if (rc != 0)
        bu_die("kula_store_open %s: %s", path, kula_strerror(rc));
    kula_buf canon;
    kula_buf_init(&canon);
    kula_error be = { 0 };
    rc = kula_genesis_encode(&canon, &net->g);
    if (rc == 0)
        rc = kula_store_bind(*store, canon.data, canon.len, &net->g.chain_id, &be);
    kula_buf_free(&canon);
    if (rc != 0)
        bu_die("kula_store_bind: %s (%s)", kula_strerror(rc), be.what);
    kula_error oe;
    if (chain != NULL && (rc = kula_chain_open(chain, *store, &net->g, &oe)) != 0)
        bu_die("kula_chain_open: %s", oe.what);
}

/* Signs and commits the block just built (node/daemon/node.c, produce_block):
 * one precommit by the validator over [2, height, 0, hash, validator]. */
BU_UNUSED static int bu_commit_built(const bu_net *net, kula_chain *chain, const kula_hash *hash)
{
    uint64_t height = kula_chain_height(chain) + 1;
    kula_vote v = { .type = KULA_VOTE_PRECOMMIT, .height = height, .round = 0,
                    .has_block = true, .block_hash = *hash, .validator = net->validator };
    kula_hash digest;
    kula_vote_sighash(&digest, &net->g.chain_id, &v);
    kula_commit *cm = bu_xcalloc(1, sizeof(*cm));
    kula_buf cbuf;
    kula_buf_init(&cbuf);
    int rc = kula_sign(&cm->sigs[0].sig, &net->sk[net->validator], digest.b);
    if (rc == 0) {
        cm->height = height;
        cm->block_hash = *hash;
        cm->nsigs = 1;
        cm->sigs[0].validator = net->validator;
        rc = kula_commit_encode(&cbuf, cm);
    }
    if (rc == 0)
        rc = kula_chain_commit_built(chain, cbuf.data, cbuf.len);
    else
        kula_chain_abandon_built(chain);
    free(cm);
    kula_buf_free(&cbuf);
    return rc;
}

/* Time of block `height`: one second per block after genesis. */
BU_UNUSED static uint64_t bu_block_time(const bu_net *net, uint64_t height)
{
    return net->g.time_ms + height * 1000;
}

/* ---- workloads ---- */

enum { BU_MIX_TRANSFERS = 0, BU_MIX_MIXED = 1 };

/* One transaction to sign, chosen by bu_plan. */
typedef struct bu_desc {
    uint8_t kind;      /* TRANSFER, EXCHANGE or FEEDBACK */
    uint8_t rating;    /* FEEDBACK */
    uint16_t memo;     /* index into bu_memos */
    uint32_t from, to; /* to: payee, counterparty or rated member */
    uint64_t nonce;
    int64_t a, b;      /* TRANSFER: amount; EXCHANGE: gives, receives value;
                        * INVOICE: a, the amount owed by `to` */
    const kula_hash *invoice; /* INVOICE_ACCEPT: the invoice accepted */
} bu_desc;

static const char *const bu_memos[] = { "", "invoice 2026-0117", "", "thanks!", "",
                                        "weekly delivery", "", "repair of the oven" };
#define BU_NMEMOS (sizeof(bu_memos) / sizeof(bu_memos[0]))

/* Plans n transactions among members 1..nmembers: nonces count up by one
 * per sender, amounts 1..1000 minor units (far within the credit limits).
 * BU_MIX_MIXED: ~80% transfers, ~15% exchanges (two signatures), ~5%
 * feedback on a pair that already traded (the rule requires it). */
BU_UNUSED static bu_desc *bu_plan(uint32_t nmembers, size_t n, uint64_t seed, int mix)
{
    bu_desc *d = bu_xcalloc(n, sizeof(*d));
    uint64_t *nonce = bu_xcalloc(nmembers + 1, sizeof(*nonce));
    /* Ratings owed: each exchange (a transfer counts as one too) allows one
     * rating each way; keep a ring of (rater, about) allowances. */
    enum { RING = 4096 };
    uint32_t ring_r[RING], ring_a[RING];
    size_t rhead = 0, rlen = 0;
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) {
        uint32_t roll = mix == BU_MIX_MIXED ? bu_below(&s, 100) : 0;
        bu_desc *x = &d[i];
        x->memo = (uint16_t)bu_below(&s, BU_NMEMOS);
        if (roll >= 95 && rlen > 0) {
            size_t k = (rhead + RING - rlen) % RING; /* oldest */
            rlen--;
            x->kind = KULA_TX_FEEDBACK;
            x->from = ring_r[k];
            x->to = ring_a[k];
            x->rating = (uint8_t)(1 + bu_below(&s, 5));
        } else {
            x->from = 1 + bu_below(&s, nmembers);
            do
                x->to = 1 + bu_below(&s, nmembers);
            while (x->to == x->from);
            if (roll >= 80) {
                x->kind = KULA_TX_EXCHANGE;
                x->a = 1 + bu_below(&s, 1000);
                x->b = bu_below(&s, 1000); /* 0: a gift of goods, paid in credit */
            } else {
                x->kind = KULA_TX_TRANSFER;
                x->a = 1 + bu_below(&s, 1000);
            }
            if (mix == BU_MIX_MIXED) {
                ring_r[rhead] = x->to;
                ring_a[rhead] = x->from;
                rhead = (rhead + 1) % RING;
                if (rlen < RING)
                    rlen++;
            }
        }
        x->nonce = ++nonce[x->from];
    }
    free(nonce);
    return d;
}

/* Fills tx (unsigned, unsealed) from a plan entry. */
BU_UNUSED static void bu_fill_tx(kula_tx *tx, const bu_desc *x)
{
    memset(tx, 0, sizeof(*tx));
    tx->kind = x->kind;
    tx->from = x->from;
    tx->nonce = x->nonce;
    tx->memo.p = bu_memos[x->memo];
    tx->memo.n = strlen(bu_memos[x->memo]);
    switch (x->kind) {
    case KULA_TX_TRANSFER:
        tx->u.transfer.to = x->to;
        tx->u.transfer.amount = x->a;
        break;
    case KULA_TX_EXCHANGE:
        tx->u.exchange.counterparty = x->to;
        tx->u.exchange.gives.p = "catering for 12";
        tx->u.exchange.gives.n = strlen(tx->u.exchange.gives.p);
        tx->u.exchange.gives_value = x->a;
        tx->u.exchange.receives.p = x->b > 0 ? "bookkeeping, March" : "";
        tx->u.exchange.receives.n = strlen(tx->u.exchange.receives.p);
        tx->u.exchange.receives_value = x->b;
        break;
    case KULA_TX_INVOICE:
        tx->u.invoice.debtor = x->to;
        tx->u.invoice.amount = x->a;
        tx->u.invoice.reference.p = "2026-117";
        tx->u.invoice.reference.n = strlen(tx->u.invoice.reference.p);
        break;
    case KULA_TX_INVOICE_ACCEPT:
        tx->u.inv.invoice = *x->invoice;
        break;
    case KULA_TX_FEEDBACK:
        tx->u.feedback.about = x->to;
        tx->u.feedback.rating = x->rating;
        tx->u.feedback.comment.p = x->rating >= 4 ? "on time, as agreed" : "late delivery";
        tx->u.feedback.comment.n = strlen(tx->u.feedback.comment.p);
        break;
    default:
        bu_die("bu_fill_tx: kind %u", x->kind);
    }
}

/* Encodes the unsigned body of plan entry x into body (reset first). */
BU_UNUSED static void bu_encode_body(kula_buf *body, const bu_desc *x)
{
    kula_tx tx;
    bu_fill_tx(&tx, x);
    if (kula_tx_seal(&tx, body) != 0)
        bu_die("kula_tx_seal");
}

/* A batch of signed transactions: txs[i] points into data, lens[i] bytes. */
typedef struct bu_txset {
    size_t n;
    uint8_t *data;
    size_t data_len;
    size_t *off;
    size_t *lens;
    const uint8_t **txs;
} bu_txset;

BU_UNUSED static void bu_txset_index(bu_txset *ts)
{
    ts->txs = bu_xcalloc(ts->n, sizeof(*ts->txs));
    for (size_t i = 0; i < ts->n; i++) {
        if (ts->off[i] + ts->lens[i] > ts->data_len)
            bu_die("transaction %zu lies outside its buffer", i);
        ts->txs[i] = ts->data + ts->off[i];
    }
}

BU_UNUSED static void bu_txset_free(bu_txset *ts)
{
    free(ts->data);
    free(ts->off);
    free(ts->lens);
    free(ts->txs);
    memset(ts, 0, sizeof(*ts));
}

typedef struct bu_sign_job {
    const bu_net *net;
    const bu_desc *d;
    size_t lo, hi;
    kula_buf out;  /* concatenated signed transactions */
    size_t *lens;  /* lens[i - lo] */
    int rc;
} bu_sign_job;

static void *bu_sign_worker(void *arg)
{
    bu_sign_job *j = arg;
    kula_buf body;
    kula_buf_init(&body);
    kula_buf_init(&j->out);
    for (size_t i = j->lo; i < j->hi && j->rc == 0; i++) {
        kula_tx tx;
        bu_fill_tx(&tx, &j->d[i]);
        int rc = kula_tx_seal(&tx, &body);
        if (rc == 0)
            rc = kula_tx_sign(&tx, &j->net->g.chain_id, tx.from, &j->net->sk[tx.from]);
        if (rc == 0 && tx.kind == KULA_TX_EXCHANGE)
            rc = kula_tx_sign(&tx, &j->net->g.chain_id, tx.u.exchange.counterparty,
                              &j->net->sk[tx.u.exchange.counterparty]);
        size_t before = j->out.len;
        if (rc == 0)
            rc = kula_tx_encode(&j->out, &tx);
        j->lens[i - j->lo] = j->out.len - before;
        j->rc = rc;
    }
    kula_buf_free(&body);
    return NULL;
}

/* Signs every planned transaction with the members' real keys (kula_sign,
 * fresh auxiliary randomness) on `threads` threads. */
BU_UNUSED static void bu_sign_all(const bu_net *net, const bu_desc *d, size_t n, unsigned threads,
                                  bu_txset *ts)
{
    if (threads < 1)
        threads = 1;
    bu_sign_job *jobs = bu_xcalloc(threads, sizeof(*jobs));
    pthread_t *th = bu_xcalloc(threads, sizeof(*th));
    memset(ts, 0, sizeof(*ts));
    ts->n = n;
    ts->lens = bu_xcalloc(n, sizeof(*ts->lens));
    ts->off = bu_xcalloc(n, sizeof(*ts->off));
    for (unsigned t = 0; t < threads; t++) {
        jobs[t].net = net;
        jobs[t].d = d;
        jobs[t].lo = n * t / threads;
        jobs[t].hi = n * (t + 1) / threads;
        jobs[t].lens = ts->lens + jobs[t].lo;
        if (pthread_create(&th[t], NULL, bu_sign_worker, &jobs[t]) != 0)
            bu_die("pthread_create");
    }
    size_t total = 0;
    for (unsigned t = 0; t < threads; t++) {
        pthread_join(th[t], NULL);
        if (jobs[t].rc != 0 || jobs[t].out.err != 0)
            bu_die("signing failed: %s", kula_strerror(jobs[t].rc ? jobs[t].rc : jobs[t].out.err));
        total += jobs[t].out.len;
    }
    ts->data = bu_xmalloc(total);
    ts->data_len = total;
    size_t pos = 0;
    for (unsigned t = 0; t < threads; t++) {
        memcpy(ts->data + pos, jobs[t].out.data, jobs[t].out.len);
        for (size_t i = jobs[t].lo; i < jobs[t].hi; i++) {
            ts->off[i] = pos;
            pos += ts->lens[i];
        }
        kula_buf_free(&jobs[t].out);
    }
    free(jobs);
    free(th);
    bu_txset_index(ts);
}

/* Builds ts into blocks of at most k transactions (kula_chain_build_block,
 * the signers' genesis keys given as verified: the caller signed them) and
 * commits each with the validator's precommit.  Dies if a transaction is
 * refused. */
BU_UNUSED static void bu_build_blocks(const bu_net *net, kula_chain *chain, const bu_txset *ts,
                                      size_t k)
{
    kula_tx *txs = bu_xcalloc(k, sizeof(*txs));
    kula_candidate *cands = bu_xcalloc(k, sizeof(*cands));
    kula_pubkey(*keys)[KULA_MAX_PARTIES] = bu_xcalloc(k, sizeof(*keys));
    kula_buf block;
    kula_buf_init(&block);
    for (size_t off = 0; off < ts->n; off += k) {
        size_t nb = ts->n - off < k ? ts->n - off : k;
        for (size_t i = 0; i < nb; i++) {
            if (kula_tx_decode(&txs[i], ts->txs[off + i], ts->lens[off + i]) != 0)
                bu_die("tx %zu does not decode", off + i);
            for (uint32_t s = 0; s < txs[i].nsigs; s++)
                keys[i][s] = net->pk[txs[i].sigs[s].signer];
            cands[i] = (kula_candidate){ .bytes = ts->txs[off + i], .len = ts->lens[off + i],
                                         .tx = &txs[i], .verified = keys[i], .result = -1 };
        }
        uint64_t height = kula_chain_height(chain) + 1;
        kula_hash hash;
        kula_buf_reset(&block);
        int rc = kula_chain_build_block(chain, bu_block_time(net, height), net->validator, cands,
                                        nb, &block, &hash);
        if (rc != 0)
            bu_die("kula_chain_build_block %llu: %s", (unsigned long long)height,
                   kula_strerror(rc));
        for (size_t i = 0; i < nb; i++)
            if (cands[i].result != 0)
                bu_die("block %llu refused tx %zu (%s): %s", (unsigned long long)height, off + i,
                       kula_tx_kind_name(txs[i].kind), kula_strerror(cands[i].result));
        if ((rc = bu_commit_built(net, chain, &hash)) != 0)
            bu_die("commit of block %llu: %s", (unsigned long long)height, kula_strerror(rc));
    }
    kula_buf_free(&block);
    free(txs);
    free(cands);
    free(keys);
}

/* Verification jobs for every signature of every transaction in ts (one
 * per signer, against the signer's genesis key).  Out: *njobs. */
BU_UNUSED static kula_verify_job *bu_make_jobs(const bu_net *net, const bu_txset *ts,
                                                size_t *njobs)
{
    size_t cap = ts->n + ts->n / 4 + 16, k = 0;
    kula_verify_job *jobs = bu_xcalloc(cap, sizeof(*jobs));
    for (size_t i = 0; i < ts->n; i++) {
        kula_tx tx;
        int rc = kula_tx_decode(&tx, ts->txs[i], ts->lens[i]);
        if (rc != 0)
            bu_die("transaction %zu does not decode: %s", i, kula_strerror(rc));
        kula_hash digest;
        kula_tx_sighash(&digest, &net->g.chain_id, &tx);
        for (uint32_t s = 0; s < tx.nsigs; s++) {
            if (k == cap) {
                cap *= 2;
                kula_verify_job *nj = realloc(jobs, cap * sizeof(*nj));
                if (nj == NULL)
                    bu_die("out of memory");
                jobs = nj;
            }
            uint32_t signer = tx.sigs[s].signer;
            if (signer < 1 || signer > net->nmembers)
                bu_die("transaction %zu: signer %u is not a member", i, signer);
            jobs[k].digest = digest;
            jobs[k].key = net->pk[signer];
            jobs[k].sig = tx.sigs[s].sig;
            jobs[k].ok = false;
            k++;
        }
    }
    *njobs = k;
    return jobs;
}

#endif /* KULA_BENCH_UTIL_H */
