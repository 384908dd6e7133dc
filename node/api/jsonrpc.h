/* jsonrpc.h -- the JSON-RPC 2.0 side of the node's API (node/api/jsonrpc.c),
 * apart from its HTTP transport (node/api/rpc.c).  Private to node/. */
#ifndef KULA_JSONRPC_H
#define KULA_JSONRPC_H

#include <jansson.h>

#include "kula/api/rpc.h"

/* JSON-RPC 2.0 error codes; application errors are kula_err values. */
enum {
    RPC_PARSE_ERROR = -32700,
    RPC_INVALID_REQUEST = -32600,
    RPC_METHOD_NOT_FOUND = -32601,
    RPC_INVALID_PARAMS = -32602,
    RPC_INTERNAL = -32603,
};

/* What one POST body (a request or a batch) may cost, so that no client with
 * the token holds the loop or the node's memory (README.md "Limits"):
 *
 *   - at most KULA_JSONRPC_MAX_BATCH requests;
 *   - at most kula_jsonrpc_work units of work, a unit being about 10 us of
 *     the loop.  A request is one unit; a list entry (a history entry,
 *     member, agreement, proposal, vote, a block's transaction) one, plus
 *     one per KiB of its JSON; a submitted transaction 3 per signature and
 *     one per 256 bytes (at least 3); reading a block one per 64 of its
 *     transactions; records scanned and skipped (a member found by name,
 *     agreements filtered by member) one per 64.  Before any request runs,
 *     the body is refused whole if what its requests ask for (a list by its
 *     limit, 1000 without one; a submit by its size) exceeds the budget;
 *     while they run, what they read is counted too, and a request that
 *     would go over it is refused (a history page ends early instead, with
 *     "next" to go on).  A list asked for without a limit is given whole or
 *     refused, never cut;
 *   - a response of at most kula_jsonrpc_max_response bytes of JSON: a
 *     request whose answer would be larger is refused, its error naming the
 *     limit and how to page (a history page ends early instead).
 *
 * Measured in a release build on a 2-core machine, the worst bodies these
 * allow take 35-50 ms of the loop, up to 65 ms while the machine is busy
 * with other work (README.md "Limits"). */
#define KULA_JSONRPC_MAX_BATCH 1000u
#define KULA_JSONRPC_WORK 4000u
#define KULA_JSONRPC_MAX_RESPONSE (4u << 20)
/* KULA_JSONRPC_WORK and KULA_JSONRPC_MAX_RESPONSE, which tests lower to
 * reach the limits with little data. */
extern size_t kula_jsonrpc_work;
extern size_t kula_jsonrpc_max_response;

typedef struct kula_jsonrpc kula_jsonrpc;

/* Returns: 0 or KULA_ENOMEM.  env is borrowed for the object's life. */
int kula_jsonrpc_new(kula_jsonrpc **out, kula_rpc_env *env);
void kula_jsonrpc_free(kula_jsonrpc *r);

/* Handles one POST body: a request or a batch.  Runs on the loop thread.
 * A notification (a request without "id") is run and never answered, even
 * when it fails (JSON-RPC 2.0 §4.1).
 * Out: *status, the HTTP status to send.  Returns: the response (caller
 * decrefs), or NULL when there is nothing to answer (every request was a
 * notification): the server then sends 204 with no body. */
json_t *kula_jsonrpc_handle(kula_jsonrpc *r, const uint8_t *body, size_t len, unsigned *status);

/* A JSON-RPC error response object for id (NULL: null), with the error's
 * symbolic name in data when code is a kula_err. */
json_t *kula_jsonrpc_error(json_t *id, int code, const char *msg);

/* The web wallet whose login tokens method web_login makes (borrowed;
 * without one, web_login says the node serves no web wallet). */
struct kula_web;
void kula_jsonrpc_set_web(kula_jsonrpc *r, struct kula_web *web);

/* Remembers why a transaction left the mempool (a bounded ring), for `tx`. */
void kula_jsonrpc_note_rejected(kula_jsonrpc *r, const kula_hash *id, int reason);

#endif /* KULA_JSONRPC_H */
