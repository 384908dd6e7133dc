/* rpc_testing.h -- the API without its HTTP server, for the unit tests and
 * the fuzz target.  Not part of the public API (include/kula/) */
#ifndef KULA_RPC_TESTING_H
#define KULA_RPC_TESTING_H

#include "kula/api/rpc.h"

/* An API object without an HTTP server, for tests and fuzzing: requests go
 * straight to kula_rpc_handle.  Free with kula_rpc_free_detached. */
int kula_rpc_new_detached(kula_rpc **out, kula_rpc_env *env);
void kula_rpc_free_detached(kula_rpc *r);

#endif /* KULA_RPC_TESTING_H */
