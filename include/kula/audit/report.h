/* report.h -- a signed audit report: what kula audit verified, as a
 * canonical JSON document signed by the auditor's key (proto/SPEC.md §13).
 *
 * The document is one JSON object with exactly these keys:
 *   format             "kula/audit-report/1"
 *   network            the genesis's network name
 *   chain_id           the chain id: the hash of the canonical genesis (hex)
 *   ok                 true when every check held up to the tip
 *   tip_height         the last block that passed every check
 *   tip_hash           its hash (hex)
 *   state_root         the state root after it (hex)
 *   checks             what was verified, names in a fixed order (below)
 *   blocks, transactions, tx_signatures, commit_signatures, settlements
 *                      the counts verified
 *   failure            null, or {"height", "check", "error"} of the first
 *                      failure (kula_audit_check_name())
 *   time               when the audit ran, UTC "YYYY-MM-DDTHH:MM:SSZ"
 *   auditor            the auditor's BIP-340 public key (hex)
 *   signature          BIP-340 signature (hex) of
 *                      H("kula/audit/v1" NUL-padded to 16 bytes || chain id
 *                        || the canonical document without "signature")
 * Canonical form: keys sorted by their bytes, no whitespace, integers in
 * decimal, strings with JSON's short escapes (\" \\ \b \f \n \r \t) and
 * \uXXXX (upper-case hex) for other control characters and all non-ASCII;
 * the file is the canonical document and one LF. */
#ifndef KULA_REPORT_H
#define KULA_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kula/base/error.h"
#include "kula/audit/audit.h"
#include "kula/crypto/crypto.h"
#include "kula/types/types.h"

/* The longest report file read (bytes). */
#define KULA_REPORT_MAX 65536

typedef struct kula_report {
    char network[KULA_MAX_NETWORK_NAME + 1];
    kula_hash chain_id;
    bool ok;
    uint64_t tip_height;
    kula_hash tip_hash;
    kula_hash state_root;
    uint64_t blocks, txs, tx_signatures, commit_signatures, settlements;
    bool failed;               /* then: */
    uint64_t failed_height;
    char failed_check[32];     /* kula_audit_check_name() */
    char error[256];
    uint64_t time_ms;          /* whole seconds */
    kula_pubkey auditor;
} kula_report;

/* The report of an audit result (r) of a ledger of genesis g, made at time_ms
 * by auditor. */
void kula_report_of(kula_report *rep, const kula_genesis *g, const kula_audit_result *r,
                    uint64_t time_ms, const kula_pubkey *auditor);

/* Signs rep with sk (whose public key must be rep->auditor); aux: BIP-340's
 * auxiliary randomness (NULL: fresh; 32 zero bytes for test vectors).
 * Out: *text, the report file (malloc'd, NUL terminated; free it).
 * Returns: 0, KULA_EBADKEY (sk is not rep->auditor's key), KULA_ENOMEM,
 *          KULA_ECRYPTO. */
KULA_MUST_CHECK
int kula_report_sign(char **text, const kula_report *rep, const kula_seckey *sk,
                     const uint8_t *aux);

/* Out: *doc (doc may be NULL), the canonical document without the signature
 * (malloc'd; free it), and digest, what the signature signs.
 * Returns: 0 or KULA_ENOMEM. */
KULA_MUST_CHECK
int kula_report_digest(char **doc, kula_hash *digest, const kula_report *rep);

/* Reads a report file: it must be a canonical document with every key above
 * of the right type, and its signature must verify with its auditor key.
 * Out: *rep; e (may be NULL), on failure one line saying what is wrong.
 * Returns: 0; KULA_EINVAL (not a report, or not canonical: altered);
 *          KULA_EBADSIG (the signature does not verify); KULA_ENOMEM. */
KULA_MUST_CHECK
int kula_report_verify(kula_report *rep, const char *text, size_t len, kula_error *e);

#endif /* KULA_REPORT_H */
