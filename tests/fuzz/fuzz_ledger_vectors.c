/* fuzz_ledger_vectors.c -- libFuzzer target for the ledger conformance
 * scenarios' reader (tests/vectors/ledger_scenario.h), which an independent
 * implementation's author or an auditor hands the reference: any bytes get
 * a verdict (malformed, replays, differs) with a reason, never a crash, and
 * the same verdict and reason when replayed again (the ledger is
 * deterministic).  Seeds: the files of proto/vectors/ledger/. */
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
    int v = ls_replay((const char *)data, size, "input", NULL, NULL, why, sizeof(why));
    if (v != LS_MALFORMED && v != LS_REPLAYS && v != LS_DIFFERS)
        abort();
    if ((v == LS_REPLAYS) != (why[0] == '\0'))
        abort();
    int w = ls_replay((const char *)data, size, "input", NULL, NULL, again, sizeof(again));
    if (w != v || strcmp(why, again) != 0) {
        fprintf(stderr, "replayed twice: %d \"%s\", then %d \"%s\"\n", v, why, w, again);
        abort();
    }
    return 0;
}
