/* node.h -- a running kulad: genesis, store, ledger, block production and
 * the event loop, wired together. */
#ifndef KULA_NODE_H
#define KULA_NODE_H

#include "kula/daemon/config.h"

/* Runs the node described by cfg until SIGINT or SIGTERM.
 * Returns: the process exit status: 0 after a clean shutdown, 1 on a runtime
 *          failure, 2 for a bad genesis or setting (a message was logged). */
int kula_node_run(const kula_config *cfg);

#endif /* KULA_NODE_H */
