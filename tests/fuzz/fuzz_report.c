/* fuzz_report.c -- libFuzzer target for the reader of signed audit reports
 * (kula_report_verify, behind `kula audit verify REPORT`): a report is a
 * file an auditor hands to anyone, so its reader takes any bytes.
 *
 * Property: it returns 0, KULA_EINVAL or KULA_EBADSIG (never a crash, never
 * a read past the input), with a message on failure; a report it accepts
 * has a canonical document whose digest it can compute again. */
#include <stdlib.h>
#include <string.h>

#include "kula/audit/report.h"
#include "kula/base/error.h"
#include "kula/crypto/crypto.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* libFuzzer calls it once, before the first input. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (kula_crypto_init() != KULA_OK)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* exactly size bytes, so that a read past them is caught */
    char *text = malloc(size ? size : 1);
    if (text == NULL)
        abort();
    memcpy(text, data, size);
    kula_report rep;
    kula_error e;
    e.what[0] = '\0';
    int rc = kula_report_verify(&rep, text, size, &e);
    if (rc != KULA_OK && rc != KULA_EINVAL && rc != KULA_EBADSIG && rc != KULA_ENOMEM)
        abort();
    if (rc != KULA_OK && rc != KULA_ENOMEM && e.what[0] == '\0')
        abort(); /* a refusal says why */
    if (rc == KULA_OK) {
        char *doc = NULL;
        kula_hash digest;
        if (kula_report_digest(&doc, &digest, &rep) != KULA_OK || doc == NULL)
            abort();
        free(doc);
    }
    free(text);
    return 0;
}
