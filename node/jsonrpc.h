/* jsonrpc.h -- the JSON-RPC 2.0 side of the node's API (node/jsonrpc.c),
 * apart from its HTTP transport (node/rpc.c).  Private to node/. */
#ifndef KULA_JSONRPC_H
#define KULA_JSONRPC_H

#include <jansson.h>

#include "kula/rpc.h"

/* JSON-RPC 2.0 error codes; application errors are kula_err values. */
enum {
    RPC_PARSE_ERROR = -32700,
    RPC_INVALID_REQUEST = -32600,
    RPC_METHOD_NOT_FOUND = -32601,
    RPC_INVALID_PARAMS = -32602,
    RPC_INTERNAL = -32603,
};

typedef struct kula_jsonrpc kula_jsonrpc;

/* Returns: 0 or KULA_ENOMEM.  env is borrowed for the object's life. */
int kula_jsonrpc_new(kula_jsonrpc **out, kula_rpc_env *env);
void kula_jsonrpc_free(kula_jsonrpc *r);

/* Handles one POST body: a request or a batch.  Runs on the loop thread.
 * Out: *status, the HTTP status to send.  Returns: the response (caller
 * decrefs), or NULL when every request was a notification. */
json_t *kula_jsonrpc_handle(kula_jsonrpc *r, const uint8_t *body, size_t len, unsigned *status);

/* A JSON-RPC error response object for id (NULL: null), with the error's
 * symbolic name in data when code is a kula_err. */
json_t *kula_jsonrpc_error(json_t *id, int code, const char *msg);

/* Remembers why a transaction left the mempool (a bounded ring), for `tx`. */
void kula_jsonrpc_note_rejected(kula_jsonrpc *r, const kula_hash *id, int reason);

#endif /* KULA_JSONRPC_H */
