/* fuzz_wire.c -- libFuzzer target for the peer message decoder (kula/net/wire.h).
 *
 * Properties: the decoder returns 0 or a codec error (EVERSION for an
 * unknown type); a message it accepts has a known type, fields within the
 * bounds of proto/SPEC.md §12.1 (a TX_BATCH's transactions read back one by
 * one, as many as it says), byte fields that point into the input, and
 * re-encodes to exactly the input; a failed decode leaves the message
 * zeroed. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kula/codec/codec.h"
#include "kula/base/error.h"
#include "kula/net/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Returns: true if rc is one of the codec's errors (ETRUNC .. EORDER). */
static bool codec_err(int rc) { return rc <= KULA_ETRUNC && rc >= KULA_EORDER; }

/* p[0..n) lies inside the input, and is not empty. */
static void inside(const uint8_t *p, size_t n, const uint8_t *data, size_t size)
{
    if (p == NULL || n == 0 || p < data || n > size || p - data > (ptrdiff_t)(size - n))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        data = (const uint8_t *)"";
    kula_msg m;
    memset(&m, 0xa5, sizeof(m));
    int rc = kula_msg_decode(&m, data, size);
    if (rc != KULA_OK) {
        if (!codec_err(rc))
            abort();
        static const kula_msg zero;
        if (memcmp(&m, &zero, sizeof(m)) != 0)
            abort();
        return 0;
    }
    if (kula_msg_type_name(m.type) == NULL)
        abort();
    switch ((enum kula_msg_type)m.type) {
    case KULA_MSG_STATUS:
    case KULA_MSG_GET_PEERS:
        break;
    case KULA_MSG_TX:
        inside(m.u.tx.tx, m.u.tx.len, data, size);
        if (m.u.tx.len > KULA_MAX_TX_BYTES)
            abort();
        break;
    case KULA_MSG_PROPOSAL:
        inside(m.u.proposal.proposal, m.u.proposal.proposal_len, data, size);
        inside(m.u.proposal.block, m.u.proposal.block_len, data, size);
        if (m.u.proposal.proposal_len > KULA_MAX_PROPOSAL_BYTES)
            abort();
        break;
    case KULA_MSG_VOTE:
        inside(m.u.vote.vote, m.u.vote.len, data, size);
        if (m.u.vote.len > KULA_MAX_VOTE_BYTES)
            abort();
        break;
    case KULA_MSG_GET_BLOCKS:
        if (m.u.get_blocks.from == 0 || m.u.get_blocks.count == 0 ||
            m.u.get_blocks.count > KULA_MAX_GET_BLOCKS)
            abort();
        break;
    case KULA_MSG_BLOCK:
        inside(m.u.block.block, m.u.block.block_len, data, size);
        inside(m.u.block.commit, m.u.block.commit_len, data, size);
        if (m.u.block.height == 0 || m.u.block.commit_len > KULA_MAX_COMMIT_BYTES)
            abort();
        break;
    case KULA_MSG_PEERS:
        if (m.u.peers.n > KULA_MAX_PEER_ADDRS)
            abort();
        for (uint32_t i = 0; i < m.u.peers.n; i++)
            if ((m.u.peers.addrs[i].ip_len != 4 && m.u.peers.addrs[i].ip_len != 16) ||
                m.u.peers.addrs[i].port == 0)
                abort();
        break;
    case KULA_MSG_EVIDENCE:
        inside(m.u.evidence.a, m.u.evidence.a_len, data, size);
        inside(m.u.evidence.b, m.u.evidence.b_len, data, size);
        if (m.u.evidence.a_len > KULA_MAX_VOTE_BYTES || m.u.evidence.b_len > KULA_MAX_VOTE_BYTES)
            abort();
        break;
    case KULA_MSG_GET_SNAPSHOTS:
        if (m.u.get_snapshots.from == 0)
            abort();
        break;
    case KULA_MSG_SNAPSHOTS:
        if (m.u.snapshots.n > KULA_MAX_SNAPSHOT_ITEMS)
            abort();
        for (uint32_t i = 0; i < m.u.snapshots.n; i++) {
            inside(m.u.snapshots.items[i].p, m.u.snapshots.items[i].len, data, size);
            if (m.u.snapshots.items[i].len > KULA_MAX_SNAPSHOT_ITEM_BYTES)
                abort();
        }
        break;
    case KULA_MSG_GET_CHUNK:
        if (m.u.get_chunk.height == 0)
            abort();
        break;
    case KULA_MSG_CHUNK:
        /* raw bytes: may be empty, and then point at most just past the input */
        if (m.u.chunk.height == 0 || m.u.chunk.len > KULA_SNAPSHOT_CHUNK_BYTES)
            abort();
        if (m.u.chunk.len != 0)
            inside(m.u.chunk.data, m.u.chunk.len, data, size);
        else if (m.u.chunk.data != NULL &&
                 (m.u.chunk.data < data || m.u.chunk.data > data + size))
            abort();
        break;
    case KULA_MSG_TX_BATCH: {
        /* n transactions, each inside the input and within its bound, and
         * the items are exactly them */
        if (m.u.tx_batch.n == 0 || m.u.tx_batch.n > KULA_MAX_TX_BATCH)
            abort();
        inside(m.u.tx_batch.items, m.u.tx_batch.len, data, size);
        size_t off = 0, len, ilen, total = 0;
        uint32_t n = 0;
        const uint8_t *tx, *item;
        while (kula_msg_batch_next(&m, &off, &tx, &len, &item, &ilen)) {
            inside(tx, len, data, size);
            if (len > KULA_MAX_TX_BYTES || tx + len != item + ilen)
                abort();
            total += ilen;
            n++;
        }
        if (n != m.u.tx_batch.n || total != m.u.tx_batch.len)
            abort();
        break;
    }
    }
    kula_buf b;
    kula_buf_init(&b);
    if (kula_msg_encode(&b, &m) != KULA_OK || b.len != size || memcmp(b.data, data, size) != 0)
        abort();
    kula_buf_free(&b);
    return 0;
}
