/* fuzz_rpc.c -- libFuzzer target: the node's JSON-RPC request handling.
 *
 * Runs every input as a POST body through kula_rpc_handle against a real
 * node state (a store in a temporary directory on a genesis whose member is
 * the development key, with a few blocks: a second member, payments, an
 * agreement, an open proposal with a vote, so that history, block and list
 * pages have something to page), checking that the handler never crashes,
 * always answers valid JSON within the response limit (node/api/jsonrpc.h), and
 * never answers a body of notifications (JSON-RPC 2.0 §4.1, §6). */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kula/chain/chain.h"
#include "kula/crypto/crypto.h"
#include "kula/base/error.h"
#include "kula/types/genesis.h"
#include "kula/chain/mempool.h"
#include "kula/api/rpc.h"
#include "kula/store/store.h"
#include "kula/crypto/verifier.h"

#include "../../node/api/jsonrpc.h"
#include "api/rpc_testing.h"

static kula_rpc *rpc;
static kula_rpc_env env;
static kula_genesis genesis;

static const char genesis_json[] =
    "{\"network\":\"fuzz\",\"unit\":{\"name\":\"K\",\"decimals\":2},"
    "\"genesis_time\":\"2026-01-01T00:00:00Z\",\"params\":{\"default_credit_limit\":1000,"
    "\"threshold_num\":2,\"threshold_den\":3,\"proposal_ttl_blocks\":10,"
    "\"block_interval_ms\":1000,\"timeout_propose_ms\":1000,\"timeout_vote_ms\":1000,"
    "\"timeout_delta_ms\":100,\"max_block_txs\":100},\"members\":[{\"name\":\"a\","
    "\"sector\":\"s\",\"pubkey\":"
    "\"89f0ad5f04b0b0af00ce91583951e5ef3d9ece0a9f0325a13138eb29f845e93e\","
    "\"voting_power\":1}]}";

/* The development key of the genesis's member "a" (published in
 * GENESIS.json), and the key of the member "b" it admits. */
static const char dev_secret[] =
    "15f3bbfe3346d48d8a3960f649c6eef253c0e8475bf26b15a24a9b855f4afa77";
static kula_seckey keys[3];
static uint64_t nonces[3];
static uint64_t now_ms;

static void fail_setup(const char *what, int rc)
{
    fprintf(stderr, "fuzz_rpc: setup: %s: %s\n", what, kula_errname(rc));
    abort();
}

/* Appends tx, signed by `from` (and by `cosigner` if not 0), to a block's
 * candidates. */
static void add_tx(kula_buf *bytes, kula_tx *txs, kula_candidate *c, size_t *n, kula_tx *tx,
                   uint32_t cosigner)
{
    kula_buf body;
    kula_buf_init(&body);
    int rc = kula_tx_seal(tx, &body);
    if (rc == 0)
        rc = kula_tx_sign(tx, &genesis.chain_id, tx->from, &keys[tx->from]);
    if (rc == 0 && cosigner != 0)
        rc = kula_tx_sign(tx, &genesis.chain_id, cosigner, &keys[cosigner]);
    kula_buf_init(&bytes[*n]);
    if (rc == 0)
        rc = kula_tx_encode(&bytes[*n], tx);
    if (rc == 0)
        rc = kula_tx_decode(&txs[*n], bytes[*n].data, bytes[*n].len);
    if (rc != 0)
        fail_setup("transaction", rc);
    kula_buf_free(&body);
    c[*n] = (kula_candidate){ bytes[*n].data, bytes[*n].len, &txs[*n], NULL, 0 };
    (*n)++;
}

/* Commits the candidates as the next block, finalised by member 1. */
static void produce(kula_chain *chain, kula_buf *bytes, kula_tx *txs, kula_candidate *c, size_t n)
{
    kula_buf block, commit;
    kula_buf_init(&block);
    kula_buf_init(&commit);
    kula_hash hash;
    uint64_t height = kula_chain_height(chain) + 1;
    now_ms += 1000;
    int rc = kula_chain_build_block(chain, now_ms, 1, c, n, &block, &hash);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = c[i].result;
    kula_vote v = { .type = KULA_VOTE_PRECOMMIT, .height = height, .round = 0,
                    .has_block = true, .block_hash = hash, .validator = 1 };
    kula_hash d;
    kula_vote_sighash(&d, &genesis.chain_id, &v);
    static kula_commit cm;
    memset(&cm, 0, sizeof(cm));
    cm.height = height;
    cm.block_hash = hash;
    cm.nsigs = 1;
    cm.sigs[0].validator = 1;
    if (rc == 0)
        rc = kula_sign(&cm.sigs[0].sig, &keys[1], d.b);
    if (rc == 0)
        rc = kula_commit_encode(&commit, &cm);
    if (rc == 0)
        rc = kula_chain_commit_built(chain, commit.data, commit.len);
    if (rc != 0)
        fail_setup("block", rc);
    kula_buf_free(&block);
    kula_buf_free(&commit);
    for (size_t i = 0; i < n; i++)
        kula_buf_free(&bytes[i]);
}

static void tx_of(kula_tx *tx, uint8_t kind, uint32_t from)
{
    memset(tx, 0, sizeof(*tx));
    tx->kind = kind;
    tx->from = from;
    tx->nonce = ++nonces[from];
}

/* Block 1 admits member 2; block 2 has payments both ways and an
 * agreement; block 3 a proposal that stays open (one yes of two). */
static void build_chain(kula_chain *chain)
{
    static kula_buf bytes[16];
    static kula_tx txs[16];
    static kula_candidate c[16];
    size_t n = 0;
    kula_pubkey pk;
    kula_tx tx;
    now_ms = genesis.time_ms;
    if (kula_hex_decode(keys[1].b, KULA_SECKEY_LEN, dev_secret) != 0)
        abort();
    memset(keys[2].b, 0x42, KULA_SECKEY_LEN);
    if (kula_key_public(&pk, &keys[2]) != 0)
        abort();
    tx_of(&tx, KULA_TX_PROPOSE, 1);
    tx.u.propose.action.kind = KULA_ACT_ADMIT;
    tx.u.propose.action.pubkey = pk;
    tx.u.propose.action.name = (kula_text){ "b", 1 };
    tx.u.propose.action.sector = (kula_text){ "s", 1 };
    tx.u.propose.action.credit_limit = 1000;
    add_tx(bytes, txs, c, &n, &tx, 0);
    produce(chain, bytes, txs, c, n);
    n = 0;
    for (uint32_t i = 0; i < 6; i++) {
        tx_of(&tx, KULA_TX_TRANSFER, 1 + i % 2);
        tx.u.transfer.to = 2 - i % 2;
        tx.u.transfer.amount = 1 + i;
        tx.memo = (kula_text){ "a \"memo\"\n", strlen("a \"memo\"\n") };
        add_tx(bytes, txs, c, &n, &tx, 0);
    }
    tx_of(&tx, KULA_TX_AGREEMENT_OPEN, 1);
    tx.u.open.label = (kula_text){ "joint", 5 };
    tx.u.open.title = (kula_text){ "Joint", 5 };
    tx.u.open.nparties = 2;
    tx.u.open.parties[0] = 1;
    tx.u.open.parties[1] = 2;
    tx.u.open.rule.kind = KULA_RULE_EQUAL;
    add_tx(bytes, txs, c, &n, &tx, 2);
    produce(chain, bytes, txs, c, n);
    n = 0;
    tx_of(&tx, KULA_TX_PROPOSE, 1);
    tx.u.propose.action.kind = KULA_ACT_CREDIT_LIMIT;
    tx.u.propose.action.member = 2;
    tx.u.propose.action.credit_limit = 2000;
    add_tx(bytes, txs, c, &n, &tx, 0);
    produce(chain, bytes, txs, c, n);
}

/* Whether j is a request without "id" (a notification, never answered). */
static bool is_notification(json_t *j)
{
    json_t *ver = json_object_get(j, "jsonrpc"), *params = json_object_get(j, "params");
    return json_is_object(j) && json_object_get(j, "id") == NULL && json_is_string(ver) &&
           strcmp(json_string_value(ver), "2.0") == 0 &&
           json_is_string(json_object_get(j, "method")) &&
           (params == NULL || json_is_object(params) || json_is_array(params));
}

/* Whether body is a request or a batch of only notifications. */
static bool only_notifications(const uint8_t *data, size_t size)
{
    json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    bool all = is_notification(j);
    size_t n = json_array_size(j);
    if (json_is_array(j) && n > 0 && n <= KULA_JSONRPC_MAX_BATCH) {
        all = true;
        for (size_t i = 0; i < n; i++)
            all = all && is_notification(json_array_get(j, i));
    }
    json_decref(j);
    return all;
}

static void setup(void)
{
    char dir[] = "/tmp/kula-fuzz-rpc-XXXXXX";
    kula_store *store;
    kula_chain *chain;
    kula_mempool *mp;
    kula_verifier *v;
    kula_buf canon;
    if (kula_crypto_init() != 0 || mkdtemp(dir) == NULL ||
        kula_genesis_parse_json(&genesis, genesis_json, strlen(genesis_json), NULL) != 0 ||
        kula_store_open(&store, dir, 0) != 0)
        abort();
    /* The store keeps its files open: remove their names at once, so that
     * no run (libFuzzer ends by exit or by a signal) leaves them in /tmp. */
    char path[sizeof(dir) + 16];
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/lock.mdb", dir);
    unlink(path);
    rmdir(dir);
    kula_buf_init(&canon);
    if (kula_genesis_encode(&canon, &genesis) != 0 ||
        kula_store_bind(store, canon.data, canon.len, &genesis.chain_id, NULL) != 0 ||
        kula_chain_open(&chain, store, &genesis, NULL) != 0 ||
        kula_mempool_new(&mp, 1000, 1 << 20) != 0 || kula_verifier_new(&v, 1) != 0)
        abort();
    kula_buf_free(&canon);
    build_chain(chain);
    env = (kula_rpc_env){ .chain = chain, .store = store, .mempool = mp, .verifier = v,
                          .genesis = &genesis };
    if (kula_rpc_new_detached(&rpc, &env) != 0)
        abort();
}

/* An input that asked for the node's audit started it on a worker thread
 * (node/api/audit_job.c): wait until it ends, so that each input's memory
 * is its own when libFuzzer counts it (an audit still running when the
 * input returned was reported as a leak) and the next input finds no job
 * running.  Bounded: the chain holds a few blocks. */
static void wait_for_audit(const uint8_t *data, size_t size)
{
    if (memmem(data, size, "audit", 5) == NULL)
        return;
    static const char ask[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"audit_status\"}";
    for (int i = 0; i < 10000; i++) {
        char *out = NULL;
        unsigned status = 0;
        kula_rpc_handle(rpc, (const uint8_t *)ask, sizeof(ask) - 1, &out, &status);
        bool running = out == NULL || strstr(out, "\"state\":\"running\"") != NULL;
        free(out);
        if (!running)
            return;
        usleep(1000);
    }
    abort(); /* an audit of a few blocks that runs for over 10 s */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (rpc == NULL)
        setup();
    char *out = NULL;
    unsigned status = 0;
    kula_rpc_handle(rpc, data, size, &out, &status);
    if ((out == NULL) != only_notifications(data, size))
        abort(); /* notifications, and only they, go unanswered */
    if (out != NULL) {
        json_t *j = json_loads(out, 0, NULL);
        if (j == NULL)
            abort(); /* the answer must always be JSON */
        json_decref(j);
        /* within the limit, but for the errors that always go out */
        if (strlen(out) > KULA_JSONRPC_MAX_RESPONSE + KULA_JSONRPC_MAX_BATCH * 1024u)
            abort();
        free(out);
    }
    if (status != 200 && status != 400)
        abort();
    wait_for_audit(data, size);
    return 0;
}
