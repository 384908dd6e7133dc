/* test_mempool_view.c -- the mempool's view over a stored chain: admission
 * checked by the ledger's rules after the pending transactions, nonces that
 * arrive out of order, candidates in the view's order, and what leaves
 * after a block (with its reason). */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kula/chain/chain.h"
#include "kula/chain/mempool.h"
#include "kula/store/store.h"
#include "kula/crypto/verifier.h"
#include "ledgerutil.h"

static char tmpdir[256];
static kula_genesis G;
static kula_store *S;
static kula_chain *C;
static kula_verifier *V;
static kula_mempool *MP;

static unsigned ndropped;
static kula_hash dropped_id[16];
static int dropped_why[16];

static void on_drop(void *ctx, const kula_hash *id, int why)
{
    cr_assert_lt(ndropped, 16);
    dropped_id[ndropped] = *id;
    dropped_why[ndropped++] = why;
}

static void setup(void)
{
    cr_assert_eq(kula_crypto_init(), 0);
    strcpy(tmpdir, "/tmp/kula-mpview-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    lu_genesis(&G, 4, 1000, NULL);
    kula_buf canon;
    kula_buf_init(&canon);
    cr_assert_eq(kula_genesis_encode(&canon, &G), 0);
    kula_hash_bytes(&G.chain_id, canon.data, canon.len);
    cr_assert_eq(kula_store_open(&S, tmpdir, 0), 0);
    cr_assert_eq(kula_store_bind(S, canon.data, canon.len, &G.chain_id, NULL), 0);
    kula_buf_free(&canon);
    kula_error oe;
    cr_assert_eq(kula_chain_open(&C, S, &G, &oe), 0, "%s", oe.what);
    cr_assert_eq(kula_verifier_new(&V, 2), 0);
    cr_assert_eq(kula_mempool_new(&MP, 1000, 1 << 22), 0);
    kula_mempool_track(MP, C, on_drop, NULL);
    ndropped = 0;
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

TestSuite(mempool_view, .init = setup, .fini = teardown, .timeout = 120);

/* A signed transfer's bytes (out is initialised here). */
static kula_hash transfer(kula_buf *out, uint32_t from, uint64_t nonce, uint32_t to,
                          int64_t amount)
{
    kula_tx tx;
    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_TRANSFER;
    tx.from = from;
    tx.nonce = nonce;
    tx.u.transfer.to = to;
    tx.u.transfer.amount = amount;
    kula_buf_init(out);
    lu_signed_bytes(out, &tx, &G.chain_id, LU_SIGNERS(from));
    return tx.id;
}

/* Admits one transaction.  Returns: its result. */
static int admit(const kula_buf *b)
{
    const uint8_t *p[1] = { b->data };
    size_t len[1] = { b->len };
    int res;
    kula_mempool_add_batch(MP, kula_chain_ledger(C), V, p, len, 1, &res, NULL);
    return res;
}

static int pay(uint32_t from, uint64_t nonce, uint32_t to, int64_t amount, kula_hash *id)
{
    kula_buf b;
    kula_hash h = transfer(&b, from, nonce, to, amount);
    if (id != NULL)
        *id = h;
    int rc = admit(&b);
    kula_buf_free(&b);
    return rc;
}

/* Commits a block of validator 1 from cands (NULL: the mempool's
 * candidates), removes it from the mempool as a node does.  Returns: the
 * number of transactions it holds. */
static size_t commit(kula_candidate *cands, size_t n)
{
    kula_candidate own[64];
    if (cands == NULL) {
        n = kula_mempool_candidates(MP, own, 64);
        cands = own;
    }
    kula_buf block, cbuf;
    kula_buf_init(&block);
    kula_buf_init(&cbuf);
    kula_hash hash;
    uint64_t height = kula_chain_height(C) + 1;
    cr_assert_eq(kula_chain_build_block(C, G.time_ms + height * 1000, 1, cands, n, &block, &hash),
                 0);
    lu_commit_by_1(&cbuf, &G.chain_id, height, &hash);
    cr_assert_eq(kula_chain_commit_built(C, cbuf.data, cbuf.len), 0);
    size_t txs = kula_mempool_remove_block(MP, block.data, block.len);
    kula_buf_free(&block);
    kula_buf_free(&cbuf);
    return txs;
}

static int64_t balance(uint32_t id)
{
    kula_member m;
    cr_assert_eq(kula_ledger_member(kula_chain_ledger(C), id, &m), 0);
    return m.balance;
}

/* A payment over the credit left after the pending ones is refused at
 * once; one covered by a pending incoming payment is admitted. */
Test(mempool_view, rules_checked_after_the_pending)
{
    cr_assert_eq(pay(2, 1, 3, 600, NULL), 0);
    cr_assert_eq(pay(2, 2, 3, 600, NULL), KULA_ECREDIT, "1,200 over a limit of 1,000");
    cr_assert_eq(pay(4, 1, 2, 500, NULL), 0);
    cr_assert_eq(pay(2, 2, 3, 600, NULL), 0, "-600 + 500 - 600 = -700");
    cr_assert_eq(pay(2, 3, 2, 1, NULL), KULA_ESELF);
    cr_assert_eq(pay(2, 1, 3, 1, NULL), KULA_ENONCEPENDING);
    cr_assert_eq(commit(NULL, 0), 3);
    cr_assert_eq(balance(2), -700);
    cr_assert_eq(balance(3), 1200);
    cr_assert_eq(kula_mempool_size(MP), 0);
    cr_assert_eq(ndropped, 0);
    /* a spent nonce is refused as such */
    cr_assert_eq(pay(2, 2, 3, 1, NULL), KULA_ENONCE);
}

/* A committed transaction sent again, the same bytes, is refused by the
 * view: sequenced, its nonce is spent (ENONCE); unsequenced and dated, its
 * id is recorded (EREPLAYED).  The API's verdict relies on it
 * (kula_submit_verdict reads the store only when kula_mempool_viewed is
 * false). */
Test(mempool_view, committed_tx_sent_again_is_refused)
{
    kula_buf seq, dated;
    transfer(&seq, 2, 1, 3, 10);
    kula_tx tx;
    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_TRANSFER;
    tx.from = 4;
    tx.nonce = 0;
    tx.expires = 4102444800000ull; /* 2100-01-01 */
    tx.u.transfer.to = 3;
    tx.u.transfer.amount = 5;
    kula_buf_init(&dated);
    lu_signed_bytes(&dated, &tx, &G.chain_id, LU_SIGNERS(4));
    cr_assert_eq(admit(&seq), 0);
    cr_assert_eq(admit(&dated), 0);
    cr_assert(kula_mempool_viewed(MP));
    cr_assert_eq(commit(NULL, 0), 2);
    cr_assert_eq(kula_mempool_size(MP), 0);
    cr_assert_eq(admit(&seq), KULA_ENONCE);
    cr_assert_eq(admit(&dated), KULA_EREPLAYED);
    cr_assert(kula_mempool_viewed(MP));
    cr_assert_eq(kula_mempool_size(MP), 0);
    kula_buf_free(&seq);
    kula_buf_free(&dated);
}

/* Nonces that arrive out of order wait, then become candidates in nonce
 * order; what a pending transaction waits for is told. */
Test(mempool_view, nonce_gap_waits_then_fills)
{
    kula_hash id3, id2;
    cr_assert_eq(pay(2, 3, 3, 1, &id3), 0);
    cr_assert_eq(pay(2, 2, 3, 1, &id2), 0);
    kula_pending_info pi;
    cr_assert(kula_mempool_pending(MP, &id3, &pi));
    cr_assert(pi.waiting);
    cr_assert_eq(pi.missing_nonce, 1);
    kula_candidate c[8];
    cr_assert_eq(kula_mempool_candidates(MP, c, 8), 0, "nothing valid yet");
    cr_assert_eq(kula_mempool_next_nonce(MP, kula_chain_ledger(C), 2), 1);
    cr_assert_eq(pay(2, 1, 3, 1, NULL), 0);
    cr_assert(kula_mempool_pending(MP, &id3, &pi));
    cr_assert_not(pi.waiting);
    size_t n = kula_mempool_candidates(MP, c, 8);
    cr_assert_eq(n, 3);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(c[i].tx->nonce, i + 1, "candidates in nonce order");
    cr_assert_eq(kula_mempool_next_nonce(MP, kula_chain_ledger(C), 2), 4);
    cr_assert_eq(commit(NULL, 0), 3);
    cr_assert_eq(balance(3), 3);
}

/* A transaction whose earlier nonce never comes leaves after
 * KULA_MEMPOOL_GAP_BLOCKS blocks with ENONCEGAP; the sender's next one
 * (signed with the nonce the node gives) commits. */
Test(mempool_view, gap_that_never_fills_is_rejected)
{
    kula_hash id;
    cr_assert_eq(pay(3, 2, 1, 5, &id), 0);
    for (unsigned i = 0; i < KULA_MEMPOOL_GAP_BLOCKS; i++) {
        commit(NULL, 0);
        kula_candidate c[2];
        kula_mempool_candidates(MP, c, 2); /* makes the view current */
    }
    cr_assert_eq(ndropped, 1);
    cr_assert_eq(memcmp(dropped_id[0].b, id.b, 32), 0);
    cr_assert_eq(dropped_why[0], KULA_ENONCEGAP);
    cr_assert_not(kula_mempool_contains(MP, &id));
    uint64_t next = kula_mempool_next_nonce(MP, kula_chain_ledger(C), 3);
    cr_assert_eq(next, 1);
    cr_assert_eq(pay(3, next, 1, 5, NULL), 0);
    cr_assert_eq(commit(NULL, 0), 1);
    cr_assert_eq(balance(1), 5);
}

/* A block proposed elsewhere takes a pending transaction's nonce: the
 * pending one leaves with ENONCE, its sender's later one is re-checked on
 * the new state and stays valid. */
Test(mempool_view, block_from_elsewhere_makes_a_pending_one_stale)
{
    kula_hash mine, later;
    cr_assert_eq(pay(2, 1, 3, 10, &mine), 0);
    cr_assert_eq(pay(2, 2, 4, 10, &later), 0);
    kula_buf other;
    transfer(&other, 2, 1, 4, 20); /* the other node's nonce 1 of member 2 */
    kula_tx tx;
    cr_assert_eq(kula_tx_decode(&tx, other.data, other.len), 0);
    kula_candidate c = { other.data, other.len, &tx, NULL, 0 };
    cr_assert_eq(commit(&c, 1), 1);
    kula_buf_free(&other);
    cr_assert_not(kula_mempool_contains(MP, &mine));
    cr_assert_eq(ndropped, 1);
    cr_assert_eq(dropped_why[0], KULA_ENONCE);
    kula_pending_info pi;
    cr_assert(kula_mempool_pending(MP, &later, &pi));
    cr_assert_not(pi.waiting, "nonce 2 is next after the block's nonce 1");
    cr_assert_eq(commit(NULL, 0), 1);
    cr_assert_eq(balance(4), 30);
}

/* Admission in two steps (kula_mempool_prepare, the signatures verified
 * meanwhile, kula_mempool_admit) with a block committed in between: the
 * admission sees it.  A transaction the block holds is refused as spent;
 * one checked under the keys of the older state is verified again by the
 * view (a bad signature stays refused); the others are admitted, dated
 * from the new height. */
Test(mempool_view, admit_sees_a_block_committed_meanwhile)
{
    kula_buf a, b, bad;
    transfer(&a, 2, 1, 3, 10);   /* committed meanwhile by another node */
    kula_hash bid = transfer(&b, 4, 1, 3, 10);
    transfer(&bad, 3, 1, 1, 5);
    bad.data[bad.len - 1] ^= 1;  /* the signature's last byte */
    const uint8_t *p[3] = { a.data, b.data, bad.data };
    size_t len[3] = { a.len, b.len, bad.len };
    int res[3];
    kula_mempool_batch *pb = kula_mempool_prepare(MP, kula_chain_ledger(C), p, len, 3, res, NULL);
    cr_assert_not_null(pb);
    size_t nj;
    kula_verify_job *jobs = kula_mempool_batch_jobs(pb, &nj);
    cr_assert_eq(nj, 3);
    kula_verifier_run(V, jobs, nj);
    cr_assert_not(jobs[2].ok);
    kula_tx tx;
    cr_assert_eq(kula_tx_decode(&tx, a.data, a.len), 0);
    kula_candidate c = { a.data, a.len, &tx, NULL, 0 };
    cr_assert_eq(commit(&c, 1), 1);
    cr_assert_eq(kula_mempool_admit(MP, pb), 1);
    cr_assert_eq(res[0], KULA_ENONCE, "its nonce is spent by the block");
    cr_assert_eq(res[1], 0);
    cr_assert_eq(res[2], KULA_EBADSIG, "verified again by the view, still bad");
    cr_assert(kula_mempool_contains(MP, &bid));
    cr_assert_eq(kula_mempool_size(MP), 1);
    cr_assert_eq(commit(NULL, 0), 1);
    cr_assert_eq(balance(3), 10 + 10);
    kula_buf_free(&a);
    kula_buf_free(&b);
    kula_buf_free(&bad);
}

/* Checks tx as signed by the 0-terminated signers, through its bytes. */
static int check(kula_tx *tx, const uint32_t *signers)
{
    kula_buf b;
    kula_buf_init(&b);
    lu_signed_bytes(&b, tx, &G.chain_id, signers);
    kula_tx *d = malloc(sizeof(*d));
    cr_assert_eq(kula_tx_decode(d, b.data, b.len), 0);
    int rc = kula_mempool_check(MP, d);
    free(d);
    kula_buf_free(&b);
    return rc;
}

/* An agreement written by its first party is checked before the others
 * sign: a rule that can never split a pool is refused at once; a good one
 * passes and leaves the view as it was, so checking it twice passes twice;
 * a signature that does not verify, or a pending transaction, is refused. */
Test(mempool_view, check_without_admitting)
{
    kula_tx tx;
    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_AGREEMENT_OPEN;
    tx.from = 2;
    tx.expires = UINT64_C(4102444800000); /* 2100: a file travelling among signers */
    tx.u.open.nparties = 3;
    tx.u.open.parties[0] = 2;
    tx.u.open.parties[1] = 3;
    tx.u.open.parties[2] = 4;
    tx.u.open.label = (kula_text){ "caf", 3 };
    tx.u.open.title = (kula_text){ "coffee", 6 };
    tx.u.open.rule.kind = KULA_RULE_WEIGHTS;
    tx.u.open.rule.nweights = 3;
    cr_assert_eq(check(&tx, LU_SIGNERS(2)), KULA_ERULE, "weights 0,0,0 split nothing");
    tx.u.open.rule.weights[0] = 1;
    cr_assert_eq(check(&tx, LU_SIGNERS(2)), 0);
    cr_assert_eq(check(&tx, LU_SIGNERS(2, 3)), 0, "the view was left as it was");
    cr_assert_eq(kula_mempool_size(MP), 0, "nothing admitted");
    /* a signature by the wrong key */
    kula_buf b;
    kula_buf_init(&b);
    lu_signed_bytes(&b, &tx, &G.chain_id, LU_SIGNERS(2));
    kula_tx *d = malloc(sizeof(*d));
    cr_assert_eq(kula_tx_decode(d, b.data, b.len), 0);
    d->sigs[0].sig.b[0] ^= 1;
    cr_assert_eq(kula_mempool_check(MP, d), KULA_EBADSIG);
    free(d);
    kula_buf_free(&b);
    /* pending credit counts; a pending transaction is told as such */
    kula_hash id;
    cr_assert_eq(pay(2, 1, 3, 900, &id), 0);
    kula_tx p;
    memset(&p, 0, sizeof(p));
    p.kind = KULA_TX_TRANSFER;
    p.from = 2;
    p.nonce = 2;
    p.u.transfer.to = 3;
    p.u.transfer.amount = 200;
    cr_assert_eq(check(&p, LU_SIGNERS(2)), KULA_ECREDIT, "900 + 200 over 1,000");
    p.u.transfer.amount = 100;
    cr_assert_eq(check(&p, LU_SIGNERS(2)), 0);
    cr_assert_eq(pay(2, 2, 3, 100, NULL), 0, "the check took no nonce");
    p.nonce = 1;
    p.u.transfer.amount = 900;
    cr_assert_eq(check(&p, LU_SIGNERS(2)), KULA_EDUPTX);
}
