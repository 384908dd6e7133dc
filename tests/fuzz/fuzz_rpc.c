/* fuzz_rpc.c -- libFuzzer target: the node's JSON-RPC request handling.
 *
 * Runs every input as a POST body through kula_rpc_handle against a real
 * node state (a store in a temporary directory on the development genesis
 * with a few blocks), checking that the handler never crashes and always
 * answers valid JSON. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kula/chain.h"
#include "kula/crypto.h"
#include "kula/genesis.h"
#include "kula/mempool.h"
#include "kula/rpc.h"
#include "kula/store.h"
#include "kula/verifier.h"

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

static void setup(void)
{
    char dir[] = "/tmp/kula-fuzz-rpc-XXXXXX", err[256];
    kula_store *store;
    kula_chain *chain;
    kula_mempool *mp;
    kula_verifier *v;
    kula_buf canon;
    if (kula_crypto_init() != 0 || mkdtemp(dir) == NULL ||
        kula_genesis_parse_json(&genesis, genesis_json, strlen(genesis_json), err,
                                sizeof(err)) != 0 ||
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
        kula_store_bind(store, canon.data, canon.len, &genesis.chain_id) != 0 ||
        kula_chain_open(&chain, store, &genesis, err, sizeof(err)) != 0 ||
        kula_mempool_new(&mp, 1000, 1 << 20) != 0 || kula_verifier_new(&v, 1) != 0)
        abort();
    kula_buf_free(&canon);
    env = (kula_rpc_env){ .chain = chain, .store = store, .mempool = mp, .verifier = v,
                          .genesis = &genesis };
    if (kula_rpc_new_detached(&rpc, &env) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (rpc == NULL)
        setup();
    char *out = NULL;
    unsigned status = 0;
    kula_rpc_handle(rpc, data, size, &out, &status);
    if (out != NULL) {
        json_t *j = json_loads(out, 0, NULL);
        if (j == NULL)
            abort(); /* the answer must always be JSON */
        json_decref(j);
        free(out);
    }
    if (status != 200 && status != 400)
        abort();
    return 0;
}
