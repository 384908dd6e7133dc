/* wire.h -- the messages peers exchange after the handshake (proto/SPEC.md §12).
 *
 * Each message travels sealed in one frame (§11).  It is canonical msgpack:
 * an array whose first element is the message type; nested protocol
 * structures (transactions, votes, proposals, blocks, commits, snapshot
 * proofs) are carried as `bin` holding their own canonical encoding, decoded
 * by their own strict decoders when used.  The decoder is pure and borrows:
 * byte fields point into the input.
 *
 * An unknown type, a malformed or non-canonical message, or a field over its
 * bound is a protocol violation: the transport drops the peer and lowers its
 * score (§12.3). */
#ifndef KULA_WIRE_H
#define KULA_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kula/base/error.h"
#include "kula/codec/codec.h"
#include "kula/crypto/crypto.h"
#include "kula/types/types.h"

enum kula_msg_type {
    KULA_MSG_STATUS = 1,         /* [1, height, tip_hash, listen_port] */
    KULA_MSG_TX = 2,             /* [2, tx] */
    KULA_MSG_PROPOSAL = 3,       /* [3, proposal, block] */
    KULA_MSG_VOTE = 4,           /* [4, vote] */
    KULA_MSG_GET_BLOCKS = 5,     /* [5, from_height, count] */
    KULA_MSG_BLOCK = 6,          /* [6, height, block, commit] */
    KULA_MSG_GET_PEERS = 7,      /* [7] */
    KULA_MSG_PEERS = 8,          /* [8, [[ip, port], ...]] */
    KULA_MSG_EVIDENCE = 9,       /* [9, vote_a, vote_b] */
    KULA_MSG_GET_SNAPSHOTS = 10, /* [10, from_height] */
    KULA_MSG_SNAPSHOTS = 11,     /* [11, [item, ...]] */
    KULA_MSG_GET_CHUNK = 12,     /* [12, height, index] */
    KULA_MSG_CHUNK = 13,         /* [13, height, index, total, data] */
    KULA_MSG_TX_BATCH = 14,      /* [14, [tx, ...]] */
};
#define KULA_MSG_TYPE_MAX 14

/* Most blocks one GET_BLOCKS may ask for. */
#define KULA_MAX_GET_BLOCKS 64u
/* Most addresses in one PEERS message. */
#define KULA_MAX_PEER_ADDRS 32u
/* Largest commit: 256 entries of [uint32, bin64] and the fixed fields. */
#define KULA_MAX_COMMIT_BYTES (KULA_MAX_VALIDATORS * 80u + 128u)
/* Largest vote and proposal encodings accepted (both are ~150 bytes). */
#define KULA_MAX_VOTE_BYTES 256u
#define KULA_MAX_PROPOSAL_BYTES 512u
/* Most items in one SNAPSHOTS message, and the largest item (a snapshot
 * proof, §10.3, §12.2). */
#define KULA_MAX_SNAPSHOT_ITEMS 16u
#define KULA_MAX_SNAPSHOT_ITEM_BYTES 65536u
/* Largest piece of a state copy in one CHUNK message (1 MiB). */
#define KULA_SNAPSHOT_CHUNK_BYTES (1u << 20)
/* Most transactions in one TX_BATCH.  The message as a whole is bounded by
 * KULA_MAX_MESSAGE like every other; a sender keeps a batch to about
 * KULA_TX_BATCH_BYTES of transactions. */
#define KULA_MAX_TX_BATCH 1024u
#define KULA_TX_BATCH_BYTES (1u << 20)

/* A peer's address as it travels in PEERS: an IPv4 (4 bytes) or IPv6 (16
 * bytes) address and a TCP port (1..65535). */
typedef struct kula_peer_addr {
    uint8_t ip_len; /* 4 or 16 */
    uint8_t ip[16];
    uint16_t port;
} kula_peer_addr;

typedef struct kula_msg {
    uint8_t type; /* enum kula_msg_type */
    union {
        struct {
            uint64_t height;      /* the sender's committed height */
            kula_hash tip;        /* its tip block hash (zero at height 0) */
            uint16_t listen_port; /* where it accepts peers, 0: nowhere */
        } status;
        struct { const uint8_t *tx; size_t len; } tx;
        struct {
            const uint8_t *proposal; size_t proposal_len;
            const uint8_t *block; size_t block_len;
        } proposal;
        struct { const uint8_t *vote; size_t len; } vote;
        struct { uint64_t from; uint32_t count; } get_blocks; /* count 1..64 */
        struct {
            uint64_t height;
            const uint8_t *block; size_t block_len;
            const uint8_t *commit; size_t commit_len;
        } block;
        struct { uint32_t n; kula_peer_addr addrs[KULA_MAX_PEER_ADDRS]; } peers;
        struct {
            const uint8_t *a; size_t a_len;
            const uint8_t *b; size_t b_len;
        } evidence;
        struct { uint64_t from; } get_snapshots; /* from >= 1 */
        struct {
            uint32_t n; /* 0..KULA_MAX_SNAPSHOT_ITEMS */
            struct { const uint8_t *p; size_t len; } items[KULA_MAX_SNAPSHOT_ITEMS];
        } snapshots;
        struct { uint64_t height; uint32_t index; } get_chunk; /* height >= 1 */
        struct {
            uint64_t height; /* >= 1 */
            uint32_t index;
            uint32_t total; /* 0 with no data: the sender keeps no such copy */
            const uint8_t *data; size_t len; /* 0..KULA_SNAPSHOT_CHUNK_BYTES */
        } chunk;
        /* n (1..KULA_MAX_TX_BATCH) transactions, as the encoding of n
         * `bin` one after the other (items, len): kula_msg_batch_next reads
         * them in turn.  A TX message of one of them is 92 02 followed by
         * its item's bytes. */
        struct { uint32_t n; const uint8_t *items; size_t len; } tx_batch;
    } u;
} kula_msg;

/* Appends the canonical encoding of m.
 * Returns: 0, KULA_EINVAL (unknown type, a field out of its bounds), or
 *          out->err. */
KULA_MUST_CHECK
int kula_msg_encode(kula_buf *out, const kula_msg *m);

/* Decodes one message of at most KULA_MAX_MESSAGE bytes.  Checks the
 * message's own structure and bounds only (each nested structure is checked
 * by its own decoder when used): tx at most KULA_MAX_TX_BYTES, block at most
 * KULA_MAX_BLOCK_BYTES, commit at most KULA_MAX_COMMIT_BYTES, vote at most
 * KULA_MAX_VOTE_BYTES, proposal at most KULA_MAX_PROPOSAL_BYTES, each
 * non-empty; get_blocks count 1..KULA_MAX_GET_BLOCKS and from >= 1; block
 * height >= 1; peers at most KULA_MAX_PEER_ADDRS entries, each a 4- or
 * 16-byte ip and a port 1..65535; status listen_port 0..65535;
 * get_snapshots from >= 1; snapshots at most KULA_MAX_SNAPSHOT_ITEMS items,
 * each 1..KULA_MAX_SNAPSHOT_ITEM_BYTES; get_chunk and chunk height >= 1;
 * chunk data 0..KULA_SNAPSHOT_CHUNK_BYTES (raw bytes, so it may be empty);
 * tx_batch 1..KULA_MAX_TX_BATCH transactions, each 1..KULA_MAX_TX_BYTES.
 * Out: *m, borrowing from data.
 * Returns: 0; KULA_EVERSION, an unknown type; or a codec error (ETRUNC,
 *          ENONCANON, ETYPE, ETRAILING, ETOOBIG, ERANGE, EARITY). */
KULA_MUST_CHECK
int kula_msg_decode(kula_msg *m, const uint8_t *data, size_t len);

/* Steps through a TX_BATCH's transactions: *off starts at 0.
 * Out: *tx, *len the next transaction (pointing into m's items), *item,
 *      *item_len its `bin` encoding (header included).
 * Returns: false after the last (or for a message that is no TX_BATCH). */
bool kula_msg_batch_next(const kula_msg *m, size_t *off, const uint8_t **tx, size_t *len,
                         const uint8_t **item, size_t *item_len);

/* Returns: the type's name ("status", "tx", ...) or NULL. */
const char *kula_msg_type_name(unsigned type);

#endif /* KULA_WIRE_H */
