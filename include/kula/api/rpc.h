/* rpc.h -- the node's local API: JSON-RPC 2.0 over HTTP, signed
 * transactions in bulk (POST /submit, kula/api/bulk.h), /health, /metrics.
 *
 * HTTP parsing is libmicrohttpd's; it runs inside the node's libuv loop
 * (through its epoll descriptor), so every handler runs on the loop thread
 * and reads the chain between blocks, never during one.
 *
 * Authentication: POST / and POST /submit need "Authorization: Bearer
 * TOKEN", where TOKEN is random per start and written with the API's URL to
 * DATADIR/rpc.cookie (mode 0600) as two lines "url=http://HOST:PORT/" and "token=HEX".
 * GET /health and GET /metrics (Prometheus text) need no token: the API
 * listens on loopback by default.  Requests over 4 MiB get 413; more than
 * 64 connections wait; idle connections close after 15 s.
 * The methods and their parameters are listed in jsonrpc.c's method table and in
 * README.md.  GET / and the paths node/api/web.h lists serve the web wallet
 * (its pages, its session-authenticated actions and event stream). */
#ifndef KULA_RPC_H
#define KULA_RPC_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "kula/base/error.h"
#include "kula/chain/chain.h"
#include "kula/base/hostport.h"
#include "kula/types/genesis.h"
#include "kula/api/health.h"
#include "kula/chain/mempool.h"
#include "kula/net/p2p.h"
#include "kula/store/store.h"
#include "kula/crypto/verifier.h"

#define KULA_RPC_MAX_BODY (4u << 20)
#define KULA_RPC_MAX_PEERS 512u

/* What the API serves, owned by the node. */
typedef struct kula_rpc_env {
    kula_chain *chain;
    kula_store *store;
    kula_mempool *mempool;
    kula_verifier *verifier;
    const kula_genesis *genesis;
    kula_p2p *p2p;                  /* NULL: no network (tests) */
    bool producing;                 /* this node finalises blocks */
    /* metrics, kept up to date by the node */
    uint64_t committed_txs;         /* since start */
    uint64_t committed_blocks;      /* since start */
    double last_commit_seconds;     /* build + sign + store of the last block */
    double tx_rate;                 /* committed tx/s over the last minute */
    kula_health health;             /* the node's state, every second */
    uint64_t last_block_age_ms;     /* since the last new block (or start) */
    uint64_t commit_failures;       /* writes of blocks or consensus state that failed */
    uint32_t round;                 /* the consensus round at the current height */
    uint32_t peers;                 /* established peer sessions */
    const char *notify;             /* kulad --notify CMD, or NULL (node/api/events.h) */
} kula_rpc_env;

typedef struct kula_rpc kula_rpc;

/* Starts the API on addr inside loop and writes the cookie file.
 * Out: e (may be NULL), on failure one line saying what failed.
 * Returns: 0; KULA_EIO (the address is in use or not local, or the cookie
 *          cannot be written); KULA_ENOMEM. */
KULA_MUST_CHECK
int kula_rpc_start(kula_rpc **out, uv_loop_t *loop, const kula_hostport *addr,
                   const char *datadir, kula_rpc_env *env, kula_error *e);
/* Stops the API and removes the cookie; the uv handles close through the
 * loop (run it once more after this). */
void kula_rpc_stop(kula_rpc *r);
/* Handles one POST body (a JSON-RPC request or batch) as the server does.
 * Out: *response, malloc'd JSON text (NULL when every request was a
 *      notification); *status, the HTTP status the server would send. */
void kula_rpc_handle(kula_rpc *r, const uint8_t *body, size_t len, char **response,
                     unsigned *status);
/* Records why a transaction was dropped from the mempool, so that `tx`
 * can report it (a bounded memory of recent rejections). */
void kula_rpc_note_rejected(kula_rpc *r, const kula_hash *id, int reason);

#endif /* KULA_RPC_H */
