/* wire.c -- the messages peers exchange after the handshake (proto/SPEC.md §12). */
#include "kula/net/wire.h"

#include <string.h>

#include "kula/base/error.h"
#include "kula/net/frame.h"

/* proto/SPEC.md §12.1: every message of valid fields fits KULA_MAX_MESSAGE,
 * so the encoder never produces a message the decoder refuses for its size.
 * The largest are BLOCK and PROPOSAL: a few header bytes, the largest block
 * and the largest commit or proposal. */
_Static_assert((uint64_t)KULA_MAX_BLOCK_BYTES + KULA_MAX_COMMIT_BYTES + 64u <= KULA_MAX_MESSAGE,
               "a BLOCK message must fit KULA_MAX_MESSAGE");
_Static_assert((uint64_t)KULA_MAX_BLOCK_BYTES + KULA_MAX_PROPOSAL_BYTES + 64u <= KULA_MAX_MESSAGE,
               "a PROPOSAL message must fit KULA_MAX_MESSAGE");
/* State sync's messages are far smaller: 16 of the largest snapshot proofs,
 * each with its bin32 header, and the largest piece of a state copy with its
 * header and three integers. */
_Static_assert((uint64_t)KULA_MAX_SNAPSHOT_ITEMS * (KULA_MAX_SNAPSHOT_ITEM_BYTES + 5u) + 64u <=
                   KULA_MAX_MESSAGE,
               "a SNAPSHOTS message must fit KULA_MAX_MESSAGE");
_Static_assert((uint64_t)KULA_SNAPSHOT_CHUNK_BYTES + 64u <= KULA_MAX_MESSAGE,
               "a CHUNK message must fit KULA_MAX_MESSAGE");
/* A TX_BATCH of KULA_TX_BATCH_BYTES and one more transaction of the largest
 * size (a sender closes a batch once it passes KULA_TX_BATCH_BYTES), each
 * with its bin32 header. */
_Static_assert((uint64_t)KULA_TX_BATCH_BYTES + KULA_MAX_TX_BYTES +
                       5u * (KULA_MAX_TX_BATCH + 1u) + 64u <= KULA_MAX_MESSAGE,
               "a TX_BATCH a sender makes must fit KULA_MAX_MESSAGE");

/* Every field that carries a nested structure: 1..max bytes. */
static bool bytes_ok(const uint8_t *p, size_t n, size_t max)
{
    return p != NULL && n >= 1 && n <= max;
}

static bool peer_ok(const kula_peer_addr *a)
{
    return (a->ip_len == 4 || a->ip_len == 16) && a->port != 0;
}

/* Returns: the number of elements of a message of this type (type included),
 *          or 0 for an unknown type. */
static uint32_t arity(uint64_t type)
{
    if (type == 0 || type > KULA_MSG_TYPE_MAX)
        return 0;
    switch ((enum kula_msg_type)type) {
    case KULA_MSG_STATUS: return 4;
    case KULA_MSG_TX: return 2;
    case KULA_MSG_PROPOSAL: return 3;
    case KULA_MSG_VOTE: return 2;
    case KULA_MSG_GET_BLOCKS: return 3;
    case KULA_MSG_BLOCK: return 4;
    case KULA_MSG_GET_PEERS: return 1;
    case KULA_MSG_PEERS: return 2;
    case KULA_MSG_EVIDENCE: return 3;
    case KULA_MSG_GET_SNAPSHOTS: return 2;
    case KULA_MSG_SNAPSHOTS: return 2;
    case KULA_MSG_GET_CHUNK: return 3;
    case KULA_MSG_CHUNK: return 5;
    case KULA_MSG_TX_BATCH: return 2;
    }
    return 0;
}

const char *kula_msg_type_name(unsigned type)
{
    if (type == 0 || type > KULA_MSG_TYPE_MAX)
        return NULL;
    switch ((enum kula_msg_type)type) {
    case KULA_MSG_STATUS: return "status";
    case KULA_MSG_TX: return "tx";
    case KULA_MSG_PROPOSAL: return "proposal";
    case KULA_MSG_VOTE: return "vote";
    case KULA_MSG_GET_BLOCKS: return "get-blocks";
    case KULA_MSG_BLOCK: return "block";
    case KULA_MSG_GET_PEERS: return "get-peers";
    case KULA_MSG_PEERS: return "peers";
    case KULA_MSG_EVIDENCE: return "evidence";
    case KULA_MSG_GET_SNAPSHOTS: return "get-snapshots";
    case KULA_MSG_SNAPSHOTS: return "snapshots";
    case KULA_MSG_GET_CHUNK: return "get-chunk";
    case KULA_MSG_CHUNK: return "chunk";
    case KULA_MSG_TX_BATCH: return "tx-batch";
    }
    return NULL;
}

/* Reads n transactions' bins, each 1..KULA_MAX_TX_BYTES. */
static void r_txs(kula_reader *r, uint32_t n)
{
    for (uint32_t i = 0; i < n && kula_reader_ok(r); i++) {
        const uint8_t *p;
        size_t k = kula_r_bin(r, &p, KULA_MAX_TX_BYTES);
        if (kula_reader_ok(r) && k == 0)
            kula_reader_fail(r, KULA_ERANGE); /* a transaction is never empty */
    }
}

/* §12.1: a TX_BATCH's list: 1..KULA_MAX_TX_BATCH transactions (more is
 * ETOOBIG, from the list's header), each a `bin` of 1..KULA_MAX_TX_BYTES.
 * Out: *items, *len the bins' encoding, after the list's header.
 * Returns: the count (the reader failed if they are not that). */
static uint32_t r_batch(kula_reader *r, const uint8_t **items, size_t *len)
{
    uint32_t n = kula_r_array(r, KULA_MAX_TX_BATCH);
    if (kula_reader_ok(r) && n == 0)
        kula_reader_fail(r, KULA_ERANGE);
    const uint8_t *start = r->p;
    r_txs(r, n);
    *items = start;
    *len = kula_reader_ok(r) ? (size_t)(r->p - start) : 0;
    return n;
}

/* Whether items, len are n bins as r_batch reads them, and the message
 * they make fits KULA_MAX_MESSAGE. */
static bool batch_ok(uint32_t n, const uint8_t *items, size_t len)
{
    /* the message: fixarray, type 14, the list's header (1 or 3 bytes) */
    size_t head = 2u + (n <= 15 ? 1u : 3u);
    if (n == 0 || n > KULA_MAX_TX_BATCH || items == NULL || len > KULA_MAX_MESSAGE - head)
        return false;
    kula_reader r;
    kula_reader_init(&r, items, len);
    r_txs(&r, n); /* fewer is ETRUNC, more ETRAILING */
    return kula_reader_finish(&r) == 0;
}

bool kula_msg_batch_next(const kula_msg *m, size_t *off, const uint8_t **tx, size_t *len,
                         const uint8_t **item, size_t *item_len)
{
    if (m->type != KULA_MSG_TX_BATCH || *off >= m->u.tx_batch.len)
        return false;
    kula_reader r;
    kula_reader_init(&r, m->u.tx_batch.items + *off, m->u.tx_batch.len - *off);
    *len = kula_r_bin(&r, tx, KULA_MAX_TX_BYTES);
    if (!kula_reader_ok(&r))
        return false; /* not from the decoder: stop */
    *item = m->u.tx_batch.items + *off;
    *item_len = (size_t)(r.p - *item);
    *off += *item_len;
    return true;
}

/* ---- encoder ---- */

/* Returns: true if every field of m is within the bounds the decoder
 *          enforces (wire.h, proto/SPEC.md §12.1). */
static bool msg_valid(const kula_msg *m)
{
    if (arity(m->type) == 0)
        return false;
    switch ((enum kula_msg_type)m->type) {
    case KULA_MSG_STATUS:
        return true; /* every height, tip and uint16 port is valid */
    case KULA_MSG_TX:
        return bytes_ok(m->u.tx.tx, m->u.tx.len, KULA_MAX_TX_BYTES);
    case KULA_MSG_PROPOSAL:
        return bytes_ok(m->u.proposal.proposal, m->u.proposal.proposal_len,
                        KULA_MAX_PROPOSAL_BYTES) &&
               bytes_ok(m->u.proposal.block, m->u.proposal.block_len, KULA_MAX_BLOCK_BYTES);
    case KULA_MSG_VOTE:
        return bytes_ok(m->u.vote.vote, m->u.vote.len, KULA_MAX_VOTE_BYTES);
    case KULA_MSG_GET_BLOCKS:
        return m->u.get_blocks.from >= 1 && m->u.get_blocks.count >= 1 &&
               m->u.get_blocks.count <= KULA_MAX_GET_BLOCKS;
    case KULA_MSG_BLOCK:
        return m->u.block.height >= 1 &&
               bytes_ok(m->u.block.block, m->u.block.block_len, KULA_MAX_BLOCK_BYTES) &&
               bytes_ok(m->u.block.commit, m->u.block.commit_len, KULA_MAX_COMMIT_BYTES);
    case KULA_MSG_GET_PEERS:
        return true;
    case KULA_MSG_PEERS:
        if (m->u.peers.n > KULA_MAX_PEER_ADDRS)
            return false;
        for (uint32_t i = 0; i < m->u.peers.n; i++)
            if (!peer_ok(&m->u.peers.addrs[i]))
                return false;
        return true;
    case KULA_MSG_EVIDENCE:
        return bytes_ok(m->u.evidence.a, m->u.evidence.a_len, KULA_MAX_VOTE_BYTES) &&
               bytes_ok(m->u.evidence.b, m->u.evidence.b_len, KULA_MAX_VOTE_BYTES);
    case KULA_MSG_GET_SNAPSHOTS:
        return m->u.get_snapshots.from >= 1;
    case KULA_MSG_SNAPSHOTS:
        if (m->u.snapshots.n > KULA_MAX_SNAPSHOT_ITEMS)
            return false;
        for (uint32_t i = 0; i < m->u.snapshots.n; i++)
            if (!bytes_ok(m->u.snapshots.items[i].p, m->u.snapshots.items[i].len,
                          KULA_MAX_SNAPSHOT_ITEM_BYTES))
                return false;
        return true;
    case KULA_MSG_GET_CHUNK:
        return m->u.get_chunk.height >= 1; /* every uint32 index is valid */
    case KULA_MSG_CHUNK:
        /* raw bytes, not a structure: empty is valid (with total 0, "no copy") */
        return m->u.chunk.height >= 1 && m->u.chunk.len <= KULA_SNAPSHOT_CHUNK_BYTES &&
               (m->u.chunk.data != NULL || m->u.chunk.len == 0);
    case KULA_MSG_TX_BATCH:
        return batch_ok(m->u.tx_batch.n, m->u.tx_batch.items, m->u.tx_batch.len);
    }
    return false;
}

int kula_msg_encode(kula_buf *out, const kula_msg *m)
{
    /* Checked before anything is written: a refused message leaves out as it was. */
    if (!msg_valid(m))
        return KULA_EINVAL;
    kula_writer w;
    kula_writer_init(&w, out);
    kula_w_array(&w, arity(m->type));
    kula_w_uint(&w, m->type);
    switch ((enum kula_msg_type)m->type) {
    case KULA_MSG_STATUS:
        kula_w_uint(&w, m->u.status.height);
        kula_w_bin(&w, m->u.status.tip.b, KULA_HASH_LEN);
        kula_w_uint(&w, m->u.status.listen_port);
        break;
    case KULA_MSG_TX:
        kula_w_bin(&w, m->u.tx.tx, m->u.tx.len);
        break;
    case KULA_MSG_PROPOSAL:
        kula_w_bin(&w, m->u.proposal.proposal, m->u.proposal.proposal_len);
        kula_w_bin(&w, m->u.proposal.block, m->u.proposal.block_len);
        break;
    case KULA_MSG_VOTE:
        kula_w_bin(&w, m->u.vote.vote, m->u.vote.len);
        break;
    case KULA_MSG_GET_BLOCKS:
        kula_w_uint(&w, m->u.get_blocks.from);
        kula_w_uint(&w, m->u.get_blocks.count);
        break;
    case KULA_MSG_BLOCK:
        kula_w_uint(&w, m->u.block.height);
        kula_w_bin(&w, m->u.block.block, m->u.block.block_len);
        kula_w_bin(&w, m->u.block.commit, m->u.block.commit_len);
        break;
    case KULA_MSG_GET_PEERS:
        break;
    case KULA_MSG_PEERS:
        kula_w_array(&w, m->u.peers.n);
        for (uint32_t i = 0; i < m->u.peers.n; i++) {
            kula_w_array(&w, 2);
            kula_w_bin(&w, m->u.peers.addrs[i].ip, m->u.peers.addrs[i].ip_len);
            kula_w_uint(&w, m->u.peers.addrs[i].port);
        }
        break;
    case KULA_MSG_EVIDENCE:
        kula_w_bin(&w, m->u.evidence.a, m->u.evidence.a_len);
        kula_w_bin(&w, m->u.evidence.b, m->u.evidence.b_len);
        break;
    case KULA_MSG_GET_SNAPSHOTS:
        kula_w_uint(&w, m->u.get_snapshots.from);
        break;
    case KULA_MSG_SNAPSHOTS:
        kula_w_array(&w, m->u.snapshots.n);
        for (uint32_t i = 0; i < m->u.snapshots.n; i++)
            kula_w_bin(&w, m->u.snapshots.items[i].p, m->u.snapshots.items[i].len);
        break;
    case KULA_MSG_GET_CHUNK:
        kula_w_uint(&w, m->u.get_chunk.height);
        kula_w_uint(&w, m->u.get_chunk.index);
        break;
    case KULA_MSG_CHUNK:
        kula_w_uint(&w, m->u.chunk.height);
        kula_w_uint(&w, m->u.chunk.index);
        kula_w_uint(&w, m->u.chunk.total);
        kula_w_bin(&w, m->u.chunk.data, m->u.chunk.len);
        break;
    case KULA_MSG_TX_BATCH:
        kula_w_array(&w, m->u.tx_batch.n);
        kula_w_raw(&w, m->u.tx_batch.items, m->u.tx_batch.len);
        break;
    }
    return out->err;
}

/* ---- decoder ---- */

/* Reads a `bin` carrying a nested structure: 1..max bytes.  Longer is
 * ETOOBIG (the reader, before reading the bytes); empty is ERANGE. */
static size_t r_nested(kula_reader *r, const uint8_t **p, size_t max)
{
    size_t n = kula_r_bin(r, p, max);
    if (kula_reader_ok(r) && n == 0)
        kula_reader_fail(r, KULA_ERANGE);
    return n;
}

static void r_peers(kula_reader *r, kula_msg *m)
{
    uint32_t n = kula_r_array(r, KULA_MAX_PEER_ADDRS);
    for (uint32_t i = 0; i < n && kula_reader_ok(r); i++) {
        kula_peer_addr *a = &m->u.peers.addrs[i];
        kula_r_array_exact(r, 2);
        const uint8_t *ip;
        size_t len = kula_r_bin(r, &ip, sizeof(a->ip));
        /* §12.1: an IPv4 (4 bytes) or IPv6 (16 bytes) address */
        if (kula_reader_ok(r) && len != 4 && len != 16)
            kula_reader_fail(r, KULA_ERANGE);
        if (kula_reader_ok(r)) {
            a->ip_len = (uint8_t)len;
            memcpy(a->ip, ip, len);
        }
        a->port = (uint16_t)kula_r_uint(r, UINT16_MAX);
        /* §12.1: a listening port is 1..65535 */
        if (kula_reader_ok(r) && a->port == 0)
            kula_reader_fail(r, KULA_ERANGE);
    }
    m->u.peers.n = n;
}

/* §12.1: at most KULA_MAX_SNAPSHOT_ITEMS items (more is ETOOBIG, from the
 * list's header), each a snapshot proof of 1..KULA_MAX_SNAPSHOT_ITEM_BYTES. */
static void r_snapshots(kula_reader *r, kula_msg *m)
{
    uint32_t n = kula_r_array(r, KULA_MAX_SNAPSHOT_ITEMS);
    for (uint32_t i = 0; i < n && kula_reader_ok(r); i++)
        m->u.snapshots.items[i].len =
            r_nested(r, &m->u.snapshots.items[i].p, KULA_MAX_SNAPSHOT_ITEM_BYTES);
    m->u.snapshots.n = n;
}

int kula_msg_decode(kula_msg *m, const uint8_t *data, size_t len)
{
    memset(m, 0, sizeof(*m));
    /* §12.1: size limit before any other work */
    if (len > KULA_MAX_MESSAGE)
        return KULA_ETOOBIG;
    kula_reader r;
    kula_reader_init(&r, data, len);
    /* No message has more than 5 elements; 8 leaves room for later types
     * while bounding what is read before the type is known. */
    uint32_t fields = kula_r_array(&r, 8);
    if (kula_reader_ok(&r) && fields == 0)
        kula_reader_fail(&r, KULA_EARITY);
    uint64_t type = kula_r_uint(&r, UINT64_MAX);
    /* §12.1: the type is checked before the element count, like a version */
    uint32_t want = arity(type);
    if (kula_reader_ok(&r) && want == 0)
        kula_reader_fail(&r, KULA_EVERSION);
    if (kula_reader_ok(&r) && fields != want)
        kula_reader_fail(&r, KULA_EARITY);
    if (!kula_reader_ok(&r))
        return r.err;
    m->type = (uint8_t)type;
    switch ((enum kula_msg_type)type) {
    case KULA_MSG_STATUS:
        m->u.status.height = kula_r_uint(&r, UINT64_MAX);
        kula_r_bin_exact(&r, m->u.status.tip.b, KULA_HASH_LEN);
        m->u.status.listen_port = (uint16_t)kula_r_uint(&r, UINT16_MAX);
        break;
    case KULA_MSG_TX:
        m->u.tx.len = r_nested(&r, &m->u.tx.tx, KULA_MAX_TX_BYTES);
        break;
    case KULA_MSG_PROPOSAL:
        m->u.proposal.proposal_len =
            r_nested(&r, &m->u.proposal.proposal, KULA_MAX_PROPOSAL_BYTES);
        m->u.proposal.block_len = r_nested(&r, &m->u.proposal.block, KULA_MAX_BLOCK_BYTES);
        break;
    case KULA_MSG_VOTE:
        m->u.vote.len = r_nested(&r, &m->u.vote.vote, KULA_MAX_VOTE_BYTES);
        break;
    case KULA_MSG_GET_BLOCKS:
        m->u.get_blocks.from = kula_r_uint(&r, UINT64_MAX);
        if (kula_reader_ok(&r) && m->u.get_blocks.from == 0)
            kula_reader_fail(&r, KULA_ERANGE); /* §12.1: the genesis is no block */
        m->u.get_blocks.count = (uint32_t)kula_r_uint(&r, KULA_MAX_GET_BLOCKS);
        if (kula_reader_ok(&r) && m->u.get_blocks.count == 0)
            kula_reader_fail(&r, KULA_ERANGE);
        break;
    case KULA_MSG_BLOCK:
        m->u.block.height = kula_r_uint(&r, UINT64_MAX);
        if (kula_reader_ok(&r) && m->u.block.height == 0)
            kula_reader_fail(&r, KULA_ERANGE);
        m->u.block.block_len = r_nested(&r, &m->u.block.block, KULA_MAX_BLOCK_BYTES);
        m->u.block.commit_len = r_nested(&r, &m->u.block.commit, KULA_MAX_COMMIT_BYTES);
        break;
    case KULA_MSG_GET_PEERS:
        break;
    case KULA_MSG_PEERS:
        r_peers(&r, m);
        break;
    case KULA_MSG_EVIDENCE:
        m->u.evidence.a_len = r_nested(&r, &m->u.evidence.a, KULA_MAX_VOTE_BYTES);
        m->u.evidence.b_len = r_nested(&r, &m->u.evidence.b, KULA_MAX_VOTE_BYTES);
        break;
    case KULA_MSG_GET_SNAPSHOTS:
        m->u.get_snapshots.from = kula_r_uint(&r, UINT64_MAX);
        if (kula_reader_ok(&r) && m->u.get_snapshots.from == 0)
            kula_reader_fail(&r, KULA_ERANGE); /* §12.1: the genesis is no snapshot */
        break;
    case KULA_MSG_SNAPSHOTS:
        r_snapshots(&r, m);
        break;
    case KULA_MSG_GET_CHUNK:
        m->u.get_chunk.height = kula_r_uint(&r, UINT64_MAX);
        if (kula_reader_ok(&r) && m->u.get_chunk.height == 0)
            kula_reader_fail(&r, KULA_ERANGE);
        m->u.get_chunk.index = (uint32_t)kula_r_uint(&r, UINT32_MAX);
        break;
    case KULA_MSG_CHUNK:
        m->u.chunk.height = kula_r_uint(&r, UINT64_MAX);
        if (kula_reader_ok(&r) && m->u.chunk.height == 0)
            kula_reader_fail(&r, KULA_ERANGE);
        m->u.chunk.index = (uint32_t)kula_r_uint(&r, UINT32_MAX);
        m->u.chunk.total = (uint32_t)kula_r_uint(&r, UINT32_MAX);
        /* raw bytes, not a structure: may be empty */
        m->u.chunk.len = kula_r_bin(&r, &m->u.chunk.data, KULA_SNAPSHOT_CHUNK_BYTES);
        break;
    case KULA_MSG_TX_BATCH:
        m->u.tx_batch.n = r_batch(&r, &m->u.tx_batch.items, &m->u.tx_batch.len);
        break;
    }
    int rc = kula_reader_finish(&r);
    if (rc != 0)
        memset(m, 0, sizeof(*m));
    return rc;
}
