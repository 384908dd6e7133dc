/* ledgerfix.h -- a small real ledger for the audit and analytics tests: a
 * store in a mkdtemp directory, four members with deterministic keys,
 * blocks built from signed transactions with kula_chain_build_block and
 * committed with the validator's precommit (as node/daemon/node.c, produce_block),
 * and helpers that tamper with the stored bytes through LMDB directly.
 * Header only: each test file is its own program. */
#ifndef KULA_LEDGERFIX_H
#define KULA_LEDGERFIX_H

#include <criterion/criterion.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kula/chain/chain.h"
#include "kula/codec/codec.h"
#include "kula/crypto/crypto.h"
#include "kula/base/error.h"
#include "kula/types/genesis.h"
#include "kula/store/store.h"
#include "kula/types/types.h"
#include "ledgerutil.h"

#define LF_MEMBERS 4
#define LF_MAX_TXS 64
#define LF_DAY UINT64_C(86400000)

typedef struct lf {
    char dir[256];
    char ledger[300];
    kula_genesis g;
    kula_seckey sk[LF_MEMBERS + 1];
    kula_pubkey pk[LF_MEMBERS + 1];
    uint64_t nonce[LF_MEMBERS + 1];
    kula_store *store;
    kula_chain *chain;
    /* transactions waiting for the next block */
    kula_buf bytes[LF_MAX_TXS];
    kula_tx txs[LF_MAX_TXS];
    kula_pubkey vkeys[LF_MAX_TXS][KULA_MAX_PARTIES];
    bool forged[LF_MAX_TXS]; /* signature spoiled, passed off as verified */
    size_t ntx;
} lf;

static const char *const lf_names[LF_MEMBERS + 1] = { "", "Bakery", "Agency", "Logistics",
                                                      "Printer" };

__attribute__((unused)) static void lf_key(uint32_t i, kula_seckey *sk, kula_pubkey *pk)
{
    char seed[64];
    int n = snprintf(seed, sizeof(seed), "kula-test/ledgerfix/%u", i);
    kula_hash h;
    kula_hash_bytes(&h, seed, (size_t)n);
    memcpy(sk->b, h.b, KULA_SECKEY_LEN);
    cr_assert_eq(kula_key_public(pk, sk), 0);
}

__attribute__((unused)) static void lf_open(lf *f)
{
    int rc = kula_store_open(&f->store, f->ledger, 0);
    cr_assert_eq(rc, 0, "store open: %s", kula_strerror(rc));
    kula_buf canon;
    kula_buf_init(&canon);
    cr_assert_eq(kula_genesis_encode(&canon, &f->g), 0);
    rc = kula_store_bind(f->store, canon.data, canon.len, &f->g.chain_id, NULL);
    kula_buf_free(&canon);
    cr_assert_eq(rc, 0, "bind: %s", kula_strerror(rc));
    kula_error oe;
    rc = kula_chain_open(&f->chain, f->store, &f->g, &oe);
    cr_assert_eq(rc, 0, "chain open: %s", oe.what);
}

__attribute__((unused)) static void lf_close(lf *f)
{
    kula_chain_free(f->chain);
    kula_store_close(f->store);
    f->chain = NULL;
    f->store = NULL;
}

/* A network of four members, 2 decimals; member 1 is the only validator. */
__attribute__((unused)) static void lf_init(lf *f)
{
    memset(f, 0, sizeof(*f));
    cr_assert_eq(kula_crypto_init(), 0);
    snprintf(f->dir, sizeof(f->dir), "/tmp/kula-audit-XXXXXX");
    cr_assert_not_null(mkdtemp(f->dir));
    snprintf(f->ledger, sizeof(f->ledger), "%s/ledger", f->dir);
    kula_genesis *g = &f->g;
    snprintf(g->network, sizeof(g->network), "kula-test");
    snprintf(g->unit, sizeof(g->unit), "KULA");
    g->decimals = 2;
    cr_assert_eq(kula_parse_utc("2026-01-01T00:00:00Z", &g->time_ms), 0);
    g->params.default_credit_limit = 100000;
    g->params.threshold_num = 2;
    g->params.threshold_den = 3;
    g->params.proposal_ttl = 1000;
    g->params.block_interval_ms = 1000;
    g->params.timeout_propose_ms = 3000;
    g->params.timeout_vote_ms = 1000;
    g->params.timeout_delta_ms = 500;
    g->params.max_block_txs = 1000;
    g->nmembers = LF_MEMBERS;
    g->members = calloc(LF_MEMBERS, sizeof(*g->members));
    cr_assert_not_null(g->members);
    for (uint32_t i = 1; i <= LF_MEMBERS; i++) {
        kula_genesis_member *m = &g->members[i - 1];
        lf_key(i, &f->sk[i], &f->pk[i]);
        m->pubkey = f->pk[i];
        snprintf(m->name, sizeof(m->name), "%s", lf_names[i]);
        snprintf(m->sector, sizeof(m->sector), "sector-%u", i);
        m->credit_limit = 100000;
        m->voting_power = i == 1 ? 1 : 0;
    }
    kula_error err;
    cr_assert_eq(kula_genesis_validate(g, &err), 0, "%s", err.what);
    kula_buf b;
    kula_buf_init(&b);
    cr_assert_eq(kula_genesis_encode(&b, g), 0);
    kula_hash_bytes(&g->chain_id, b.data, b.len);
    kula_buf_free(&b);
    for (size_t i = 0; i < LF_MAX_TXS; i++)
        kula_buf_init(&f->bytes[i]);
    lf_open(f);
}

__attribute__((unused)) static void lf_free(lf *f)
{
    if (f->chain != NULL || f->store != NULL)
        lf_close(f);
    for (size_t i = 0; i < LF_MAX_TXS; i++)
        kula_buf_free(&f->bytes[i]);
    kula_genesis_free(&f->g);
    if (f->dir[0] != '\0' && strncmp(f->dir, "/tmp/", 5) == 0) {
        char cmd[400];
        snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", f->dir);
        (void)system(cmd);
    }
}

/* Seals tx (kind, from and payload filled in; the nonce is set here),
 * signs it by each of signers[0..n), and queues it for the next block.
 * With forge, the first signature is spoiled and the block builder is told
 * it was verified, as a faulty proposer would do.  Out: the tx id. */
__attribute__((unused)) static kula_hash lf_add(lf *f, kula_tx *tx, const uint32_t *signers,
                                                size_t n, bool forge)
{
    cr_assert_lt(f->ntx, LF_MAX_TXS);
    size_t i = f->ntx++;
    tx->nonce = ++f->nonce[tx->from];
    tx->nsigs = 0;
    kula_buf body;
    kula_buf_init(&body);
    cr_assert_eq(kula_tx_seal(tx, &body), 0);
    for (size_t s = 0; s < n; s++)
        cr_assert_eq(kula_tx_sign(tx, &f->g.chain_id, signers[s], &f->sk[signers[s]]), 0);
    if (forge)
        tx->sigs[0].sig.b[5] ^= 0x01;
    kula_buf_reset(&f->bytes[i]);
    cr_assert_eq(kula_tx_encode(&f->bytes[i], tx), 0);
    kula_buf_free(&body);
    cr_assert_eq(kula_tx_decode(&f->txs[i], f->bytes[i].data, f->bytes[i].len), 0);
    for (uint32_t s = 0; s < f->txs[i].nsigs; s++)
        f->vkeys[i][s] = f->pk[f->txs[i].sigs[s].signer];
    f->forged[i] = forge;
    return f->txs[i].id;
}

/* Builds the next block at time_ms from the queued transactions (all must
 * be included) and commits it with the validator's precommit. */
__attribute__((unused)) static void lf_block(lf *f, uint64_t time_ms)
{
    kula_candidate cands[LF_MAX_TXS];
    for (size_t i = 0; i < f->ntx; i++) {
        cands[i].bytes = f->bytes[i].data;
        cands[i].len = f->bytes[i].len;
        cands[i].tx = &f->txs[i];
        cands[i].verified = f->forged[i] ? f->vkeys[i] : NULL;
        cands[i].result = 0;
    }
    kula_buf block;
    kula_buf_init(&block);
    kula_hash hash;
    int rc = kula_chain_build_block(f->chain, time_ms, 1, cands, f->ntx, &block, &hash);
    cr_assert_eq(rc, 0, "build: %s", kula_strerror(rc));
    for (size_t i = 0; i < f->ntx; i++)
        cr_assert_eq(cands[i].result, 0, "tx %zu refused: %s", i, kula_strerror(cands[i].result));
    uint64_t height = kula_chain_height(f->chain) + 1;
    kula_buf cbuf;
    kula_buf_init(&cbuf);
    lu_commit_one(&cbuf, &f->g.chain_id, height, 0, &hash, 1, &f->sk[1]);
    rc = kula_chain_commit_built(f->chain, cbuf.data, cbuf.len);
    cr_assert_eq(rc, 0, "commit: %s", kula_strerror(rc));
    kula_buf_free(&cbuf);
    kula_buf_free(&block);
    f->ntx = 0;
}

/* ---- transactions ---- */

static inline kula_text lf_text(const char *s)
{
    kula_text t = { s, strlen(s) };
    return t;
}

__attribute__((unused)) static kula_hash lf_transfer(lf *f, uint32_t from, uint32_t to,
                                                     int64_t amount, const char *memo)
{
    kula_tx tx;
    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_TRANSFER;
    tx.from = from;
    tx.memo = lf_text(memo);
    tx.u.transfer.to = to;
    tx.u.transfer.amount = amount;
    uint32_t s[] = { from };
    return lf_add(f, &tx, s, 1, false);
}

__attribute__((unused)) static kula_hash lf_exchange(lf *f, uint32_t from, uint32_t cp,
                                                     const char *gives, int64_t gv,
                                                     const char *receives, int64_t rv)
{
    kula_tx tx;
    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_EXCHANGE;
    tx.from = from;
    tx.memo = lf_text("");
    tx.u.exchange.counterparty = cp;
    tx.u.exchange.gives = lf_text(gives);
    tx.u.exchange.gives_value = gv;
    tx.u.exchange.receives = lf_text(receives);
    tx.u.exchange.receives_value = rv;
    uint32_t s[] = { from, cp };
    return lf_add(f, &tx, s, 2, false);
}

/* Opens an agreement among parties[0..n) (ascending), signed by all. */
__attribute__((unused)) static kula_hash lf_open_agreement(lf *f, uint32_t from,
                                                           const uint32_t *parties, uint32_t n,
                                                           uint8_t rule, const char *label,
                                                           const char *title)
{
    kula_tx tx;
    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_AGREEMENT_OPEN;
    tx.from = from;
    tx.memo = lf_text("");
    tx.u.open.label = lf_text(label);
    tx.u.open.title = lf_text(title);
    tx.u.open.nparties = n;
    memcpy(tx.u.open.parties, parties, n * sizeof(*parties));
    tx.u.open.rule.kind = rule;
    return lf_add(f, &tx, parties, n, false);
}

__attribute__((unused)) static void lf_contribute(lf *f, const kula_hash *ag, uint32_t from,
                                                  uint32_t ack, int64_t value, const char *desc)
{
    kula_tx tx;
    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_CONTRIBUTE;
    tx.from = from;
    tx.memo = lf_text("");
    tx.u.contribute.agreement = *ag;
    tx.u.contribute.value = value;
    tx.u.contribute.description = lf_text(desc);
    tx.u.contribute.acknowledger = ack;
    uint32_t s[] = { from, ack };
    lf_add(f, &tx, s, 2, false);
}

__attribute__((unused)) static void lf_benefit(lf *f, const kula_hash *ag, uint32_t from,
                                               int64_t amount)
{
    kula_tx tx;
    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_BENEFIT;
    tx.from = from;
    tx.memo = lf_text("");
    tx.u.benefit.agreement = *ag;
    tx.u.benefit.amount = amount;
    tx.u.benefit.description = lf_text("ticket sales");
    uint32_t s[] = { from };
    lf_add(f, &tx, s, 1, false);
}

/* SETTLE or AGREEMENT_CLOSE, signed by signers[0..n). */
__attribute__((unused)) static void lf_settle(lf *f, const kula_hash *ag, uint8_t kind,
                                              uint32_t from, const uint32_t *signers, size_t n)
{
    kula_tx tx;
    memset(&tx, 0, sizeof(tx));
    tx.kind = kind;
    tx.from = from;
    tx.memo = lf_text("");
    tx.u.settle.agreement = *ag;
    lf_add(f, &tx, signers, n, false);
}

__attribute__((unused)) static void lf_feedback(lf *f, uint32_t from, uint32_t about,
                                                uint32_t rating)
{
    kula_tx tx;
    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_FEEDBACK;
    tx.from = from;
    tx.memo = lf_text("");
    tx.u.feedback.about = about;
    tx.u.feedback.rating = rating;
    tx.u.feedback.comment = lf_text("as agreed");
    uint32_t s[] = { from };
    lf_add(f, &tx, s, 1, false);
}

/* The memo of the first transfer: a comma, quotes and a newline. */
#define LF_MEMO "invoice 1, \"net 30\"\nthanks"

/* The scenario of the tests (amounts in minor units, 2 decimals):
 *   block 1 (Jan 5):  transfer 1->2 1000 (memo LF_MEMO);
 *                     exchange 2<->3: 2 gives 5000, receives 3000
 *   block 2 (Jan 20): agreement "fair" of {1,2,3}, pro rata;
 *                     contributions 1: 6000 (ack 2), 2: 3000 (ack 3), 3: 1000 (ack 1)
 *   block 3 (Feb 3):  benefit 4 -> pool 10000; settle by 1 (6000/3000/1000);
 *                     feedback 1 on 2: 5; 3 on 2: 3
 *   block 4 (Feb 10): benefit 4 999, benefit 1 1; settle by 2 (600/300/100);
 *                     transfer 3->4 500 (memo "a,b")
 *   block 5 (Feb 11): agreement close (1, 2, 3)
 * 15 transactions, 23 signatures, 2 settlements. */
__attribute__((unused)) static kula_hash lf_scenario(lf *f)
{
    uint64_t t0 = f->g.time_ms;
    static const uint32_t parties[] = { 1, 2, 3 };
    lf_transfer(f, 1, 2, 1000, LF_MEMO);
    lf_exchange(f, 2, 3, "logo design", 5000, "delivery, March", 3000);
    lf_block(f, t0 + 4 * LF_DAY);
    kula_hash ag = lf_open_agreement(f, 1, parties, 3, KULA_RULE_PRORATA, "fair",
                                     "Joint stand at the fair");
    lf_contribute(f, &ag, 1, 2, 6000, "stand and furniture");
    lf_contribute(f, &ag, 2, 3, 3000, "posters");
    lf_contribute(f, &ag, 3, 1, 1000, "transport");
    lf_block(f, t0 + 19 * LF_DAY);
    lf_benefit(f, &ag, 4, 10000);
    uint32_t one[] = { 1 }, two[] = { 2 };
    lf_settle(f, &ag, KULA_TX_SETTLE, 1, one, 1);
    lf_feedback(f, 1, 2, 5);
    lf_feedback(f, 3, 2, 3);
    lf_block(f, t0 + 33 * LF_DAY);
    lf_benefit(f, &ag, 4, 999);
    lf_benefit(f, &ag, 1, 1);
    lf_settle(f, &ag, KULA_TX_SETTLE, 2, two, 1);
    lf_transfer(f, 3, 4, 500, "a,b");
    lf_block(f, t0 + 40 * LF_DAY);
    lf_settle(f, &ag, KULA_TX_AGREEMENT_CLOSE, 1, parties, 3);
    lf_block(f, t0 + 41 * LF_DAY);
    return ag;
}

/* ---- tampering, through LMDB directly (the fixture's store closed) ---- */

typedef struct lf_env {
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
} lf_env;

__attribute__((unused)) static void lf_env_open(const lf *f, lf_env *e, const char *db)
{
    cr_assert_eq(mdb_env_create(&e->env), 0);
    cr_assert_eq(mdb_env_set_maxdbs(e->env, 8), 0);
    cr_assert_eq(mdb_env_open(e->env, f->ledger, 0, 0600), 0);
    cr_assert_eq(mdb_txn_begin(e->env, NULL, 0, &e->txn), 0);
    cr_assert_eq(mdb_dbi_open(e->txn, db, 0, &e->dbi), 0);
}

__attribute__((unused)) static void lf_env_close(lf_env *e)
{
    cr_assert_eq(mdb_txn_commit(e->txn), 0);
    mdb_env_close(e->env);
}

/* Reads value `key` of database db into a malloc'd copy. */
__attribute__((unused)) static uint8_t *lf_get(lf_env *e, const void *key, size_t klen,
                                               size_t *len)
{
    MDB_val k = { klen, (void *)key }, v;
    cr_assert_eq(mdb_get(e->txn, e->dbi, &k, &v), 0);
    uint8_t *copy = malloc(v.mv_size);
    cr_assert_not_null(copy);
    memcpy(copy, v.mv_data, v.mv_size);
    *len = v.mv_size;
    return copy;
}

__attribute__((unused)) static void lf_put(lf_env *e, const void *key, size_t klen,
                                           const uint8_t *val, size_t len)
{
    MDB_val k = { klen, (void *)key }, v = { len, (void *)val };
    cr_assert_eq(mdb_put(e->txn, e->dbi, &k, &v, 0), 0);
}

/* Flips bit `mask` of byte `at` of the stored block at height (the store
 * must be closed).  at < 0 counts from the end. */
__attribute__((unused)) static void lf_flip_block(const lf *f, uint64_t height, long at,
                                                  uint8_t mask)
{
    lf_env e;
    lf_env_open(f, &e, "blocks");
    uint8_t key[8];
    kula_put_be64(key, height);
    size_t len;
    uint8_t *b = lf_get(&e, key, sizeof(key), &len);
    size_t pos = at >= 0 ? (size_t)at : len - (size_t)(-at);
    cr_assert_lt(pos, len);
    b[pos] ^= mask;
    lf_put(&e, key, sizeof(key), b, len);
    free(b);
    lf_env_close(&e);
}

/* Reads the stored block at height (malloc'd; the store must be closed). */
__attribute__((unused)) static uint8_t *lf_read_block(const lf *f, uint64_t height, size_t *len)
{
    lf_env e;
    lf_env_open(f, &e, "blocks");
    uint8_t key[8];
    kula_put_be64(key, height);
    uint8_t *b = lf_get(&e, key, sizeof(key), len);
    lf_env_close(&e);
    return b;
}

/* Position of needle in hay, or -1. */
__attribute__((unused)) static long lf_find(const uint8_t *hay, size_t n, const void *needle,
                                            size_t m)
{
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(hay + i, needle, m) == 0)
            return (long)i;
    return -1;
}

/* Flips 'i' -> 'j' in the first "invoice" of block 1 (lf_scenario's memo),
 * which keeps the text valid UTF-8: only the hashes can tell.  The store
 * must be closed. */
__attribute__((unused)) static void lf_flip_memo(const lf *f)
{
    size_t len;
    uint8_t *b = lf_read_block(f, 1, &len);
    long at = lf_find(b, len, "invoice", 7);
    free(b);
    cr_assert_geq(at, 0);
    lf_flip_block(f, 1, at, 0x03);
}

#endif /* KULA_LEDGERFIX_H */
