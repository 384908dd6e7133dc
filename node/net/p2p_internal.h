/* p2p_internal.h -- the node on the network, shared by its files: the peer
 * and session core (p2p.c), membership on live sessions (p2p_members.c),
 * gossip of transactions and consensus messages (p2p_gossip.c), peer
 * exchange (p2p_pex.c) and catch-up sync (p2p_sync.c).  Private to
 * node/net/.
 *
 * Everything runs on the loop thread.  Two rules of the transport
 * (kula/net/net.h) shape the code of every file:
 *   - kula_net_send seals a copy of the message: the caller's buffer (most
 *     often p->out) may be reused as soon as it returns;
 *   - on_disconnect, which unlinks and frees a peer, comes from the loop
 *     once the connection is closed, never from inside kula_net_send,
 *     kula_net_disconnect or kula_net_misbehave: a peer pointer stays valid
 *     across those calls, so a walk of p->peers may send to each peer and
 *     close sessions as it goes (a peer being closed takes no more sends).
 *     What this node sends in bulk (blocks served, the mempool offered)
 *     stops at SERVE_HIGH_WATER queued, far below the transport's limit.
 */
#ifndef KULA_P2P_INTERNAL_H
#define KULA_P2P_INTERNAL_H

#include "kula/net/asked.h"
#include "kula/net/p2p.h"
#include "kula/net/seen.h"
#include "kula/net/wire.h"
#include <stdio.h>

#define MAX_PEERS 256u
#define SERVE_HIGH_WATER (8u << 20) /* serve GET_BLOCKS while less is queued */
#define TICK_MS 500u /* the timer: deadlines, sync requests, serving */

typedef struct peer {
    uint32_t id;
    kula_seen *known;      /* hashes of messages the peer sent or was sent */
    uint64_t height;
    bool asked_peers;      /* this node sent GET_PEERS */
    bool got_peers;        /* ... and PEERS came back */
    uint64_t serve_next;   /* GET_BLOCKS being served: next height */
    uint64_t serve_end;    /* ... and the last (0: none) */
    kula_asked asked;      /* blocks this node asked of it recently */
    bool offering;         /* the mempool is being offered to the peer ... */
    uint64_t offer_next;   /* ... from this arrival number on */
    uint64_t revoked_at;   /* its key lost its membership at this block (0: no) */
    uint64_t revoke_deadline; /* ... and its session ends by then (monotonic ms) */
    char why[160];         /* ... because */
    struct peer *next;
} peer;

/* State sync (p2p_snap.c): a snapshot height this node checked. */
typedef struct ss_item {
    uint64_t height;
    kula_hash block_hash;  /* of its header */
    uint8_t *bytes;        /* the item as its peer sent it (kula_snap_item) */
    size_t len;
    uint32_t from;         /* the peer that offered it last */
    uint64_t size;         /* ... and the size of its copy there (0: none) */
} ss_item;

enum ss_phase { SS_OFF, SS_PROOFS, SS_CHUNKS };

typedef struct ss_state {
    enum ss_phase phase;
    uint32_t peer;         /* the peer asked (0: none) */
    uint64_t deadline;
    uint64_t started;      /* loop time state sync began */
    uint64_t from;         /* the next GET_SNAPSHOTS from */
    struct kula_keyed_valset *trusted; /* next set of the last height checked */
    ss_item *items;        /* checked, ascending height */
    size_t n, cap;
    uint32_t tried[16];    /* peers that failed this node (ring) */
    size_t ntried;
    size_t target;         /* SS_CHUNKS: the item fetched */
    uint32_t next_index, total;
    FILE *part;            /* the copy being fetched */
    char path[1200];
} ss_state;

/* Backfill (p2p_snap.c): the blocks below a snapshot the node started from,
 * fetched from the top down in requests of up to KULA_MAX_GET_BLOCKS. */
typedef struct bf_state {
    bool active;           /* a request is out (on the sync slot) */
    bool none;             /* no block is missing below a snapshot */
    uint64_t from, top;    /* the heights asked for */
    uint8_t **blocks;      /* [top - from + 1], as they come */
    size_t *lens;
    uint64_t got;
    uint64_t bytes;        /* held by this request */
    uint64_t count_limit;  /* most blocks a request asks for (0: 64) */
} bf_state;

/* A transaction received from a peer (from: its id) or submitted here
 * (from 0), waiting to be admitted or relayed: as the TX message it came in
 * or would be (msg, len: 92 02 and the transaction's bin), the transaction
 * inside it (tx, tx_len) and the message's hash, the key of the seen sets,
 * so that relaying it neither encodes nor hashes it again. */
typedef struct pending_tx {
    uint8_t *msg;
    size_t len;
    const uint8_t *tx; /* inside msg */
    size_t tx_len;
    uint32_t from;
    kula_hash hash;
} pending_tx;

struct kula_p2p {
    uv_loop_t *loop;
    kula_net *net;
    kula_p2p_env env;
    kula_p2p_hooks hooks;
    uint16_t listen_port;
    peer *peers;
    kula_seen *seen;
    pending_tx *batch;     /* received this loop turn, to admit */
    size_t nbatch, capbatch;
    pending_tx *relay;     /* admitted this loop turn, to gossip */
    size_t nrelay, caprelay;
    uv_check_t check;
    uv_idle_t idle;        /* active with the check: the loop's next poll does not block */
    bool check_active;
    /* sync: one request in flight */
    uint32_t sync_peer;    /* 0: none */
    uint64_t sync_next, sync_end, sync_deadline;
    bool catching_up;      /* more than one block behind */
    uint64_t tick_ms;      /* when the timer last ran (0: not yet) */
    uv_timer_t timer;
    int handles;
    bool stopping;
    kula_buf out;
    uint64_t dropped_said_ms; /* when p2p_on_dropped last logged, 0 never */
    ss_state ss;
    bf_state bf;
};

/* p2p.c */
peer *p2p_find_peer(kula_p2p *p, uint32_t id);
/* Encodes m into p->out.  Returns: 0 or the encoder's error. */
int p2p_encode(kula_p2p *p, const kula_msg *m);
/* Queues msg to peer id.  A send that fails needs nothing more from the
 * caller: the peer is gone, or the transport has closed its session (a
 * queue over its limit, out of memory), and sync and gossip start over
 * when it connects again. */
void p2p_send(kula_p2p *p, uint32_t id, const uint8_t *msg, size_t len);
/* Sends msg to x and remembers that x has it. */
void p2p_send_to(kula_p2p *p, peer *x, const uint8_t *msg, size_t len);
void p2p_send_status(kula_p2p *p, peer *x);

/* p2p_members.c */
/* Whether key may hold a session now.  Out: its standing and member. */
bool p2p_admitted(kula_p2p *p, const kula_pubkey *key, kula_standing *st, kula_member *m);
/* Logs (info) that key, of standing st (m as p2p_admitted gave it), was
 * refused a session, with the member's name if it was one's. */
void p2p_log_refused(kula_p2p *p, const kula_pubkey *key, kula_standing st,
                     const kula_member *m);
/* The transport's on_dropped: a peer closed this node's connection at once;
 * when this node's own key self is neither a member's nor an admitted
 * observer's in its state, says so (warn, at most once a minute). */
void p2p_on_dropped(void *ctx, const char *addr, const kula_pubkey *self);
/* Checks every established peer's key against the state at the tip. */
void p2p_recheck_sessions(kula_p2p *p);
/* A message from a peer whose key lost its membership. */
void p2p_on_revoked_msg(kula_p2p *p, peer *x, const kula_msg *m);
/* Ends the sessions whose revocation deadline has passed. */
void p2p_end_revoked(kula_p2p *p);

/* p2p_gossip.c */
/* Whether a gossiped message is new to this node; x has it either way.
 * Out: *h, the message's hash. */
bool p2p_first_seen(kula_p2p *p, peer *x, const uint8_t *msg, size_t len, kula_hash *h);
bool p2p_not_taken(kula_p2p *p, peer *x, const uint8_t *msg, size_t len);
/* A TX message new to this node (msg, len: the whole message; h: its hash). */
void p2p_on_tx_msg(kula_p2p *p, peer *x, const kula_msg *m, const uint8_t *msg, size_t len,
                   const kula_hash *h);
/* A TX_BATCH: each of its transactions new to this node joins the batch as
 * a TX message would (x has each, whether new or not). */
void p2p_on_tx_batch(kula_p2p *p, peer *x, const kula_msg *m);
/* PROPOSAL, VOTE, EVIDENCE: to the node's hooks (msg: the whole message). */
void p2p_on_consensus_msg(kula_p2p *p, uint32_t id, const kula_msg *m, const uint8_t *msg,
                          size_t len);
/* Goes on offering the mempool to x if it is being offered. */
void p2p_offer_mempool(kula_p2p *p, peer *x);
/* Frees the transactions gathered and not yet admitted. */
void p2p_batch_free(kula_p2p *p);

/* p2p_pex.c */
void p2p_pex_ask(kula_p2p *p, peer *x);
void p2p_on_get_peers(kula_p2p *p, uint32_t id);
void p2p_on_peers(kula_p2p *p, peer *x, const kula_msg *m);

/* p2p_sync.c */
/* Asks the highest peer for the next blocks, unless a request is out. */
void p2p_sync_request(kula_p2p *p);
/* The request in flight is over (done, failed or its peer gone). */
void p2p_sync_done(kula_p2p *p);
/* Gives up a request that took too long. */
void p2p_sync_check_deadline(kula_p2p *p);
void p2p_on_block_msg(kula_p2p *p, peer *x, const kula_msg *m);
void p2p_on_get_blocks(kula_p2p *p, peer *x, const kula_msg *m);
/* Sends the blocks x asked for while its queue has room. */
void p2p_serve(kula_p2p *p, peer *x);

/* p2p_snap.c */
/* Starts state sync if the node was asked to and its chain is empty. */
void p2p_snap_start(kula_p2p *p);
/* Whether state sync holds the sync slot (block sync waits). */
bool p2p_snap_active(kula_p2p *p);
/* Asks a peer for what state sync needs next, unless a request is out. */
void p2p_snap_request(kula_p2p *p);
/* Gives up a state sync or backfill request that took too long. */
void p2p_snap_check_deadline(kula_p2p *p);
/* A peer is gone. */
void p2p_snap_peer_gone(kula_p2p *p, uint32_t id);
void p2p_on_get_snapshots(kula_p2p *p, peer *x, const kula_msg *m);
void p2p_on_snapshots(kula_p2p *p, peer *x, const kula_msg *m);
void p2p_on_get_chunk(kula_p2p *p, peer *x, const kula_msg *m);
void p2p_on_chunk(kula_p2p *p, peer *x, const kula_msg *m);
/* Backfill: asks for the next blocks below the base when nothing else is
 * asked.  Returns: true if a request is out (the sync slot is taken). */
bool p2p_backfill_request(kula_p2p *p);
/* Drops the backfill request in flight and what came of it. */
void p2p_backfill_abort(kula_p2p *p);
/* A BLOCK of the backfill request in flight. */
void p2p_backfill_on_block(kula_p2p *p, peer *x, const kula_msg *m);
/* Frees what state sync and backfill hold. */
void p2p_snap_free(kula_p2p *p);

#endif
