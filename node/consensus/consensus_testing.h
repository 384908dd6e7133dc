/* consensus_testing.h -- what only the tests and the simulation reach inside
 * the consensus layer.  Not part of the public API (include/kula/) */
#ifndef KULA_CONSENSUS_TESTING_H
#define KULA_CONSENSUS_TESTING_H

#include <stdbool.h>

#include "kula/consensus/consensus.h"
#include "kula/consensus/driver.h"

/* Testing aid for the simulation's planted-bug check: disables the lock
 * rule (lines 22 and 28 prevote for any valid proposal).  Never set it in a
 * node. */
void kula_cons_debug_break_locking(kula_cons *c, bool on);

/* The machine, for the simulation's checks. */
kula_cons *kula_driver_machine(kula_driver *d);

#endif /* KULA_CONSENSUS_TESTING_H */
