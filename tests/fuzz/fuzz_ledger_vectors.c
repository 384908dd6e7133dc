/* fuzz_ledger_vectors.c -- libFuzzer target for the ledger conformance
 * scenarios' reader (tests/vectors/ledger_scenario.h), which an independent
 * implementation's author or an auditor hands the reference: any bytes get
 * a verdict (malformed, replays, differs) with a reason, never a crash, and
 * the same verdict and reason when the parsed document is replayed again
 * from a new ledger (the ledger is deterministic).  Seeds: the files of
 * proto/vectors/ledger/. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kula/crypto/crypto.h"
#include "ledger_scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        if (kula_crypto_init() != 0)
            abort();
        ready = 1;
    }
    char why[512], again[512];
    int v = ls_replay_twice((const char *)data, size, "input", why, again, sizeof(why));
    if (v != LS_MALFORMED && v != LS_REPLAYS && v != LS_DIFFERS) {
        fprintf(stderr, "replayed twice: verdicts differ: \"%s\", then \"%s\"\n", why, again);
        abort();
    }
    if ((v == LS_REPLAYS) != (why[0] == '\0'))
        abort();
    if (strcmp(why, again) != 0) {
        fprintf(stderr, "replayed twice: \"%s\", then \"%s\"\n", why, again);
        abort();
    }
    return 0;
}
