/* net.h -- peer connections over libuv TCP: listen, dial, handshake,
 * sealed frames, limits, scores and bans (proto/SPEC.md §11, §12.3).
 *
 * The transport knows nothing of what the messages mean.  It accepts and
 * dials connections, runs the handshake (kula/handshake.h) with this node's
 * identity key, asks the node's admission policy about each peer's key, and
 * then delivers every opened message to the node's on_message callback and
 * seals and queues what the node sends.  Everything runs on the loop thread.
 *
 * Fairness: each connection has its own frame decoder (bounded to one
 * frame) and its own send queue, bounded in bytes; a peer that overflows
 * its queue (it reads too slowly) is disconnected, so one peer never stalls
 * the others.  Until its handshake is done a connection may send only
 * handshake-sized frames and must finish within KULA_NET_HANDSHAKE_MS.
 *
 * Slots: inbound connections whose handshake is not done have a pool of
 * their own, KULA_NET_MAX_HANDSHAKES at once and KULA_NET_MAX_HANDSHAKES_ADDR
 * from one IP address; a connection over either limit is accepted and
 * closed at once (so the listen backlog never fills).  The max_inbound slots
 * count only peers whose handshake is done: whoever has no admitted key can
 * never take the place of a member or a listed observer.
 *
 * Scores: kula_net_misbehave adds points to the score of a peer's key,
 * remembered across its connections while the node runs.  A penalty of
 * KULA_NET_VIOLATION points or more (a protocol violation) closes the
 * connection; a score of KULA_NET_BAN_SCORE or more also bans the key for
 * KULA_NET_BAN_MS: a repeat offender is banned.  Bans are by key, not by
 * address: many honest nodes may share one address. */
#ifndef KULA_NET_H
#define KULA_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "kula/base/error.h"
#include "kula/base/hostport.h"
#include "kula/crypto/crypto.h"
#include "kula/net/wire.h"

#define KULA_NET_BAN_SCORE 100
#define KULA_NET_VIOLATION 50
#define KULA_NET_MAX_SCORED 1024u /* keys whose scores are remembered */
#define KULA_NET_BAN_MS (10u * 60u * 1000u)
#define KULA_NET_HANDSHAKE_MS 5000u
#define KULA_NET_MAX_HANDSHAKES 16u      /* inbound handshakes at once */
#define KULA_NET_MAX_HANDSHAKES_ADDR 4u  /* ... from one IP address */
#define KULA_NET_MAX_SEND_QUEUE (96u << 20) /* bytes queued to one peer */
#define KULA_NET_LOW_WATER (4u << 20)       /* see on_drain */
#define KULA_NET_BACKOFF_MIN_MS 250u
#define KULA_NET_BACKOFF_MAX_MS 30000u
#define KULA_NET_MAX_ADDRS 256u             /* addresses known for dialing */

typedef struct kula_net kula_net;

typedef struct kula_net_callbacks {
    void *ctx;
    /* The admission policy: may a peer with this identity key connect? */
    bool (*admit)(void *ctx, const kula_pubkey *key);
    /* A peer finished its handshake and is admitted. */
    void (*on_connect)(void *ctx, uint32_t peer);
    /* A sealed message from peer, opened.  msg is valid during the call. */
    void (*on_message)(void *ctx, uint32_t peer, const uint8_t *msg, size_t len);
    /* An admitted peer is gone (not called for peers that never finished
     * their handshake).  Called from the loop once the connection is closed,
     * never from inside a kula_net_* call: a caller may send to its peers in
     * a walk of its own list even when a send closes one of them (sends to
     * a closing peer fail with KULA_EIO). */
    void (*on_disconnect)(void *ctx, uint32_t peer);
    /* The peer's send queue fell below KULA_NET_LOW_WATER (may be NULL):
     * a sender holding back more data may continue. */
    void (*on_drain)(void *ctx, uint32_t peer);
    /* An outbound connection the peer closed during the handshake or before
     * its first message (may be NULL): most likely it refused this node's
     * key, self, which a refusal never says (SPEC §11.5). */
    void (*on_dropped)(void *ctx, const char *addr, const kula_pubkey *self);
} kula_net_callbacks;

typedef struct kula_net_config {
    kula_hostport listen;        /* port 0: do not listen */
    const kula_hostport *peers;  /* dialed and redialed with backoff */
    size_t npeers;
    unsigned max_inbound;        /* established inbound peers (not handshakes) */
    unsigned max_outbound;
} kula_net_config;

/* What `kula peers` shows of one connection. */
typedef struct kula_net_peer_info {
    uint32_t id;
    char addr[72];          /* remote "ip:port" */
    bool outbound;
    bool established;       /* handshake done */
    kula_pubkey key;        /* when established */
    uint64_t height;        /* from its last STATUS */
    uint16_t listen_port;   /* from its last STATUS, 0 unknown */
    int score;
    uint64_t connected_ms;  /* monotonic ms when established */
    uint64_t bytes_in, bytes_out, msgs_in, msgs_out;
    uint64_t writes_out;    /* writes handed to the socket: the messages sealed
                               in one turn of the loop go as one write */
    size_t queued;          /* bytes waiting to be written */
} kula_net_peer_info;

/* Counts of connections, now and since the start (kula_net_get_stats). */
typedef struct kula_net_stats {
    unsigned handshakes;     /* inbound connections in their handshake now */
    unsigned inbound;        /* established inbound peers now */
    unsigned outbound;       /* outbound connections now (dialing, handshake or
                              * established) */
    uint64_t refused_pool;   /* closed at once: the handshake pool was full */
    uint64_t refused_addr;   /* closed at once: too many from one address */
    uint64_t refused_slots;  /* admitted, then closed: no inbound slot free */
    uint64_t timed_out;      /* handshakes over KULA_NET_HANDSHAKE_MS */
} kula_net_stats;

/* Starts listening (unless cfg->listen.port is 0) and dialing cfg->peers.
 * identity is copied; callbacks are copied.  chain_id is the network's.
 * Out: e (may be NULL), on failure one line saying what failed.
 * Returns: 0; KULA_EIO (cannot listen: the address is in use...);
 *          KULA_EBADKEY (identity is not a valid key); KULA_ENOMEM. */
KULA_MUST_CHECK
int kula_net_start(kula_net **out, uv_loop_t *loop, const kula_net_config *cfg,
                   const kula_hash *chain_id, const kula_seckey *identity,
                   const kula_net_callbacks *cb, kula_error *e);
/* Closes every connection and handle; the memory is freed once the loop has
 * run the close callbacks (run the loop after this).  NULL is a no-op. */
void kula_net_stop(kula_net *n);

/* Seals msg and queues it to an established peer.  The messages queued to a
 * peer in one turn of the loop are handed to its socket together, as one
 * write, before the loop next waits for events (no added delay).
 * Returns: 0; KULA_ENOTFOUND, no such established peer; KULA_ETOOBIG, a
 *          message over KULA_MAX_MESSAGE; KULA_ENOMEM.  A peer whose queue
 *          would pass KULA_NET_MAX_SEND_QUEUE is disconnected (KULA_EIO). */
KULA_MUST_CHECK
int kula_net_send(kula_net *n, uint32_t peer, const uint8_t *msg, size_t len);
/* Adds points to the score of peer's key (see above): at KULA_NET_VIOLATION
 * points or more at once the peer is disconnected, at a score of
 * KULA_NET_BAN_SCORE its key is banned too.  why is logged. */
void kula_net_misbehave(kula_net *n, uint32_t peer, int points, const char *why);
/* Disconnects peer (no penalty). */
void kula_net_disconnect(kula_net *n, uint32_t peer, const char *why);

/* Records what a peer's STATUS said (for listings and peer exchange). */
void kula_net_set_status(kula_net *n, uint32_t peer, uint64_t height, uint16_t listen_port);
/* Adds an address learnt from PEERS to those dialed while outbound slots
 * are free (bounded by KULA_NET_MAX_ADDRS; duplicates and this node's own
 * listen address are ignored). */
void kula_net_add_addr(kula_net *n, const kula_peer_addr *a);
/* Fills out with the addresses established peers listen on (their remote
 * ip and STATUS listen port).  Returns: the count (at most max). */
size_t kula_net_listen_addrs(kula_net *n, kula_peer_addr *out, size_t max);

/* Fills out with the counts above. */
void kula_net_get_stats(kula_net *n, kula_net_stats *out);

/* Established peer ids, ascending.  Returns: the count (at most max). */
size_t kula_net_established(kula_net *n, uint32_t *ids, size_t max);
/* Fills out with every connection.  Returns: the count (at most max). */
size_t kula_net_peers(kula_net *n, kula_net_peer_info *out, size_t max);
/* Returns: the bytes queued to peer (0 for an unknown peer). */
size_t kula_net_queued(kula_net *n, uint32_t peer);
/* Returns: the established peer's key, or NULL. */
const kula_pubkey *kula_net_peer_key(kula_net *n, uint32_t peer);
/* The port actually listened on (after binding port 0 in tests), or 0. */
uint16_t kula_net_listen_port(const kula_net *n);

#endif /* KULA_NET_H */
