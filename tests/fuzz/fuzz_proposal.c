/* fuzz_proposal.c -- libFuzzer target for the consensus proposal decoder.
 *
 * Property: a proposal kula_block_proposal_decode accepts has pol_round -1
 * or below round, re-encodes to exactly the input, and its body encoding is
 * the input's first element. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kula/codec/codec.h"
#include "kula/crypto/crypto.h"
#include "kula/base/error.h"
#include "kula/types/proposal.h"

/* Returns: true if rc is one of the codec's errors (ETRUNC .. EORDER). */
static bool codec_err(int rc) { return rc <= KULA_ETRUNC && rc >= KULA_EORDER; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        if (kula_crypto_init() != KULA_OK)
            abort();
        ready = 1;
    }
    if (size == 0)
        data = (const uint8_t *)"";

    kula_block_proposal p;
    int rc = kula_block_proposal_decode(&p, data, size);
    if (rc != KULA_OK) {
        if (!codec_err(rc))
            abort();
        return 0;
    }
    if (!(p.pol_round == -1 || (p.pol_round >= 0 && p.pol_round < (int64_t)p.round)))
        abort();
    kula_buf b;
    kula_buf_init(&b);
    if (kula_block_proposal_encode(&b, &p) != KULA_OK || b.len != size ||
        memcmp(b.data, data, size) != 0)
        abort();
    kula_buf_reset(&b);
    /* [body, sig]: the body starts after the one-byte array header. */
    if (kula_block_proposal_encode_body(&b, &p) != KULA_OK || b.len + 1 > size ||
        memcmp(b.data, data + 1, b.len) != 0)
        abort();
    kula_hash h;
    kula_block_proposal_sighash(&h, NULL, &p);
    kula_buf_free(&b);
    return 0;
}
