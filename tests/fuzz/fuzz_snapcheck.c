/* fuzz_snapcheck.c -- libFuzzer target for the validator sets of a snapshot
 * height (kula_snap_vals_decode, proto/SPEC.md §10.3): what a
 * state-syncing node reads from a peer to learn whom to trust.
 *
 * Properties: the decoder returns 0 or a codec error; sets it accepts hold
 * 1 .. 256 validators, strictly ascending, each of power 1 .. 2^48, and
 * encode back to exactly the input (only the canonical form is taken).
 * The input then goes, whole, to the decoder of an offered snapshot
 * height (kula_snap_item_decode: an item it accepts encodes back to the
 * input) and of the store's parts, and as a header to
 * kula_snap_check_header with fixed parts and a fixed commit, which must
 * refuse it with an error and never read past it. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kula/base/error.h"
#include "kula/chain/snapcheck.h"
#include "kula/codec/codec.h"
#include "kula/crypto/crypto.h"

static bool codec_err(int rc) { return rc <= KULA_ETRUNC && rc >= KULA_EORDER; }

static void encode_set(kula_writer *w, const kula_keyed_valset *vs)
{
    kula_w_array(w, vs->n);
    for (uint32_t i = 0; i < vs->n; i++) {
        kula_w_array(w, 3);
        kula_w_uint(w, vs->v[i].id);
        kula_w_uint(w, vs->v[i].power);
        kula_w_bin(w, vs->v[i].key.b, KULA_PUBKEY_LEN);
    }
}

static void check_set(const kula_keyed_valset *vs)
{
    if (vs->n == 0 || vs->n > KULA_MAX_VALIDATORS)
        abort();
    uint64_t total = 0;
    for (uint32_t i = 0; i < vs->n; i++) {
        if (vs->v[i].power == 0 || vs->v[i].power > (UINT64_C(1) << 48))
            abort();
        if (i > 0 && vs->v[i].id <= vs->v[i - 1].id)
            abort();
        total += vs->v[i].power;
    }
    if (total != vs->total_power)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    static kula_keyed_valset last, next, trusted;
    if (!ready) {
        if (kula_crypto_init() != KULA_OK)
            abort();
        ready = 1;
    }
    if (size == 0)
        data = (const uint8_t *)"";

    int rc = kula_snap_vals_decode(data, size, &last, &next);
    if (rc != KULA_OK) {
        if (!codec_err(rc))
            abort();
    } else {
        check_set(&last);
        check_set(&next);
        kula_buf b;
        kula_buf_init(&b);
        kula_writer w;
        kula_writer_init(&w, &b);
        kula_w_array(&w, 2);
        encode_set(&w, &last);
        encode_set(&w, &next);
        if (b.err != 0 || b.len != size || memcmp(b.data, data, size) != 0)
            abort();
        kula_buf_free(&b);
    }

    /* the input as an offered snapshot height, and as the store's parts */
    kula_snap_item it;
    rc = kula_snap_item_decode(&it, data, size);
    if (rc != KULA_OK && !codec_err(rc))
        abort();
    if (rc == KULA_OK) {
        if (it.height == 0 || it.header_len == 0 || it.commit_len == 0 || it.vals_len == 0)
            abort();
        kula_buf b;
        kula_buf_init(&b);
        if (kula_snap_item_encode(&b, &it) != KULA_OK || b.len != size ||
            memcmp(b.data, data, size) != 0)
            abort();
        kula_buf_free(&b);
    }
    rc = kula_snap_parts_decode(&it, data, size);
    if (rc != KULA_OK && !codec_err(rc))
        abort();
    if (rc == KULA_OK && (it.vals_len == 0 || (it.header == NULL) != (it.commit == NULL)))
        abort();

    /* the input as a header: it is refused, whatever it holds */
    kula_hash chain, parts;
    memset(chain.b, 0x11, sizeof(chain.b));
    memset(parts.b, 0x22, sizeof(parts.b));
    memset(&trusted, 0, sizeof(trusted));
    trusted.n = 1;
    trusted.v[0].id = 1;
    trusted.v[0].power = 1;
    trusted.total_power = 1;
    static const uint8_t vals[] = { 0x92, 0x91, 0x93, 0x01, 0x01, 0xc4, 0x20, 0x01, 0x02 };
    uint64_t height = 0;
    kula_error e;
    rc = kula_snap_check_header(&chain, &trusted, data, size, data, size, &parts, vals,
                                sizeof(vals), &parts, &height, &next, &e);
    if (rc == KULA_OK || height != 0)
        abort();
    return 0;
}
