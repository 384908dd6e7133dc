/* fuzz_block.c -- libFuzzer target for the block decoder.
 *
 * Property: a block kula_block_decode accepts re-encodes (header, the
 * transactions' bytes, the commit) to exactly the input, its header bytes
 * are the canonical header, and its hash is the hash of those bytes.
 * kula_block_decode_txs accepts exactly the blocks kula_block_decode
 * accepts whose every transaction decodes, with the same transactions'
 * bytes and their ids. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kula/codec/codec.h"
#include "kula/crypto/crypto.h"
#include "kula/base/error.h"
#include "kula/types/types.h"

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

    kula_block blk, again;
    kula_hash *ids;
    int rc = kula_block_decode(&blk, data, size);
    int rc_txs = kula_block_decode_txs(&again, data, size, &ids);
    if (rc != KULA_OK) {
        if (!codec_err(rc) && rc != KULA_ENOMEM)
            abort();
        if (rc_txs == KULA_OK)
            abort();
        return 0;
    }
    bool all_decode = true;
    static kula_tx tx; /* 1.4 KB: not on the stack */
    for (uint32_t i = 0; i < blk.ntxs; i++) {
        if (kula_tx_decode(&tx, blk.txs[i], blk.tx_lens[i]) != KULA_OK) {
            all_decode = false;
            continue;
        }
        if (rc_txs == KULA_OK && (again.txs[i] != blk.txs[i] || again.tx_lens[i] != blk.tx_lens[i] ||
                                  memcmp(ids[i].b, tx.id.b, KULA_HASH_LEN) != 0))
            abort();
    }
    if ((rc_txs == KULA_OK) != all_decode && rc_txs != KULA_ENOMEM)
        abort();
    if (rc_txs == KULA_OK) {
        if (again.ntxs != blk.ntxs || memcmp(again.hash.b, blk.hash.b, KULA_HASH_LEN) != 0)
            abort();
        kula_block_free(&again);
        free(ids);
    }
    kula_buf b;
    kula_buf_init(&b);
    if (kula_header_encode(&b, &blk.header) != KULA_OK || b.len != blk.header_raw_len ||
        memcmp(b.data, blk.header_raw, b.len) != 0)
        abort();
    kula_hash h;
    kula_header_hash(&h, &blk.header);
    if (memcmp(h.b, blk.hash.b, KULA_HASH_LEN) != 0)
        abort();
    if (blk.has_last_commit) {
        kula_buf_reset(&b);
        if (kula_commit_encode(&b, blk.last_commit) != KULA_OK)
            abort();
        static kula_commit c; /* 17 KB: not on the stack */
        if (kula_commit_decode(&c, b.data, b.len) != KULA_OK)
            abort();
    }
    kula_buf_reset(&b);
    if (kula_block_encode(&b, &blk.header, blk.txs, blk.tx_lens, blk.ntxs,
                          blk.has_last_commit ? blk.last_commit : NULL) != KULA_OK ||
        b.len != size || memcmp(b.data, data, size) != 0)
        abort();
    kula_txs_root(&h, blk.txs, blk.tx_lens, blk.ntxs);
    kula_buf_free(&b);
    kula_block_free(&blk);
    return 0;
}
