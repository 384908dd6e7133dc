/* rpc_client.h -- kula's client of the node's JSON-RPC API. */
#ifndef KULA_RPC_CLIENT_H
#define KULA_RPC_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "cli.h"

/* Finds the node: --rpc URL with --token (or $KULA_RPC_TOKEN), else
 * DATADIR/rpc.cookie.  Returns: 0, or an exit code after printing why. */
int rpc_connect(cli *c);

/* Calls method with params (stolen; may be NULL).  Out: *result (caller
 * decrefs) on success.  Returns: CLI_OK; CLI_UNREACHABLE if the node cannot
 * be reached; CLI_REFUSED if it answered with an error (printed, unless
 * quiet, as "kula: MESSAGE"); *err_code gets the JSON-RPC error code
 * (may be NULL). */
int rpc_call(cli *c, const char *method, json_t *params, json_t **result, int *err_code,
             bool quiet);

/* The "data" of the last error answer rpc_call received (NULL: none);
 * borrowed until the next call. */
const json_t *rpc_last_error_data(void);

/* A member's name for txview (txview_name_fn): ctx is an rpc_names. */
typedef struct rpc_names {
    cli *c;
    json_t *last;  /* the last answer: release it with json_decref */
} rpc_names;
const char *rpc_name_of(void *ctx, int64_t id);

/* Prints a JSON value (pretty) to stdout and releases it. */
void cli_print_json(json_t *j);

#endif
