/* fuzz_records.c -- libFuzzer target for the decoders of the ledger's state
 * records (include/kula/types/records.h): what a node reads back from its
 * store and an auditor from a ledger someone handed over, which a damaged
 * or altered disk can make anything.
 *
 * The first byte picks the record (globals, params, member, agreement,
 * referral, pair, proposal, evidence, validator set, rule, action,
 * observers, clearing, settlement); the
 * rest is the record.  Property: a decoder returns 0 or a codec error, and
 * a record it accepts re-encodes to exactly the input (decoders accept only
 * the canonical encoding, proto/SPEC.md §2). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kula/base/error.h"
#include "kula/codec/codec.h"
#include "kula/types/records.h"

/* One record type: decode into a static struct, encode it again. */
#define RECORD(T, dec, enc)                                                                   \
    static int try_##dec(kula_buf *out, const uint8_t *p, size_t n)                           \
    {                                                                                         \
        static T r;                                                                           \
        memset(&r, 0, sizeof(r));                                                             \
        int rc = dec(&r, p, n);                                                               \
        return rc != KULA_OK ? rc : (enc(out, &r) != KULA_OK ? 1 : 0);                        \
    }
RECORD(kula_globals, kula_globals_decode, kula_globals_encode)
RECORD(kula_params, kula_params_decode, kula_params_encode)
RECORD(kula_member, kula_member_decode, kula_member_encode)
RECORD(kula_agreement, kula_agreement_decode, kula_agreement_encode)
RECORD(kula_referral, kula_referral_decode, kula_referral_encode)
RECORD(kula_pair, kula_pair_decode, kula_pair_encode)
RECORD(kula_proposal, kula_proposal_decode, kula_proposal_encode)
RECORD(kula_evidence, kula_evidence_decode, kula_evidence_encode)
RECORD(kula_valset, kula_valset_decode, kula_valset_encode)
RECORD(kula_rule, kula_rule_decode, kula_rule_encode)
RECORD(kula_action, kula_action_decode, kula_action_encode)
RECORD(kula_observers, kula_observers_decode, kula_observers_encode)

/* A record that owns its items (a clearing, a settlement): freed after the
 * round trip. */
#define RECORD_OWNING(T, dec, enc, release)                                                  \
    static int try_##dec(kula_buf *out, const uint8_t *p, size_t n)                           \
    {                                                                                         \
        T r;                                                                                  \
        memset(&r, 0, sizeof(r));                                                             \
        int rc = dec(&r, p, n);                                                               \
        if (rc != KULA_OK)                                                                    \
            return rc;                                                                        \
        rc = enc(out, &r) != KULA_OK ? 1 : 0;                                                 \
        release(&r);                                                                          \
        return rc;                                                                            \
    }
RECORD_OWNING(kula_clearing, kula_clearing_decode, kula_clearing_encode, kula_clearing_free)
RECORD_OWNING(kula_settlement, kula_settlement_decode, kula_settlement_encode,
              kula_settlement_free)

static int (*const records[])(kula_buf *, const uint8_t *, size_t) = {
    try_kula_globals_decode,  try_kula_params_decode,   try_kula_member_decode,
    try_kula_agreement_decode, try_kula_referral_decode, try_kula_pair_decode,
    try_kula_proposal_decode, try_kula_evidence_decode, try_kula_valset_decode,
    try_kula_rule_decode,     try_kula_action_decode,   try_kula_observers_decode,
    try_kula_clearing_decode, try_kula_settlement_decode,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t which = data[0] % (sizeof(records) / sizeof(records[0]));
    const uint8_t *p = size > 1 ? data + 1 : (const uint8_t *)"";
    size_t n = size - 1;
    kula_buf b;
    kula_buf_init(&b);
    int rc = records[which](&b, p, n);
    if (rc != KULA_OK && !kula_is_codec_error(rc))
        abort(); /* neither accepted nor a codec error */
    if (rc == KULA_OK && (b.len != n || memcmp(b.data, p, n) != 0)) {
        /* accepted, but not the canonical encoding */
        fprintf(stderr, "record %zu: accepted %zu bytes that encode again as %zu:\n", which, n,
                b.len);
        for (size_t i = 0; i < n || i < b.len; i++)
            fprintf(stderr, "%4zu %02x %02x%s\n", i, i < n ? p[i] : 0, i < b.len ? b.data[i] : 0,
                    i < n && i < b.len && p[i] == b.data[i] ? "" : " <");
        abort();
    }
    kula_buf_free(&b);
    return 0;
}
