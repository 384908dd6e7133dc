/* p2p.h -- the node on the network: gossip and catch-up sync
 * (proto/SPEC.md §12), over the transport of kula/net.h.
 *
 * Transactions: a TX from a peer is remembered by the hash of its bytes;
 * one already seen is dropped before any work, so each signature is
 * verified once per node.  New ones are gathered during one loop iteration
 * and admitted to the mempool as a batch (signatures verified in parallel);
 * each admitted one is relayed to every peer not known to have it.  A peer
 * that connects is offered the whole mempool, oldest first (it missed that
 * gossip: restarted, cut off or new), paced by its send queue.
 *
 * Consensus messages (PROPOSAL, VOTE, EVIDENCE) are handed to the node's
 * hooks until the node takes one: the node relays what it takes with
 * kula_p2p_gossip, which remembers it as seen, and a copy that comes again
 * is then dropped before any work.  One the node did not take (a height it
 * has not reached yet, a full buffer of future votes) is not remembered, so
 * a copy sent again later (kula_p2p_resend) still counts; were it
 * remembered on arrival, a node that restarted in the middle of a round
 * could wait for it forever.
 *
 * Sync: every peer says its height in STATUS.  While some peer is ahead,
 * the node asks one peer at a time for the next blocks (GET_BLOCKS), applies
 * each with its commit through kula_chain_apply_block (which verifies the
 * commit against the validator set), and drops a peer whose block fails.
 * A block that answers a request given up (late: the peer or this node was
 * slow) is dropped without a penalty; one not asked of that peer is
 * penalised (kula/net/asked.h).  Serving GET_BLOCKS is paced by the peer's
 * send queue.
 *
 * Membership on live sessions (SPEC §11.4, §12.2): after every block the
 * node commits, by whatever path (kula_p2p_tip_changed, and sync after each
 * block it applies), every established peer's key is checked again: it must
 * still be a listed observer's or the current key of an active member
 * (kula_key_standing, kula/chain/standing.h).  A peer whose member was removed, or whose key was
 * rotated, by that block is sent nothing more but that block (it may ask
 * for the blocks up to it), and its session is closed as soon as its STATUS
 * says it has the block, at most KULA_P2P_REVOKE_MS later; the log names the
 * member and why. */
#ifndef KULA_P2P_H
#define KULA_P2P_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "kula/base/error.h"
#include "kula/chain/chain.h"
#include "kula/chain/standing.h"
#include "kula/chain/mempool.h"
#include "kula/net/net.h"
#include "kula/store/store.h"
#include "kula/crypto/verifier.h"
#include "kula/types/genesis.h"

/* Seconds a peer has to deliver the blocks asked of it. */
#define KULA_SYNC_TIMEOUT_MS 15000u
/* How long a peer whose key lost its membership may still fetch the block
 * that removed it (see above). */
#define KULA_P2P_REVOKE_MS 5000u
/* Misbehaviour points (the reference node's policy, SPEC §12.3). */
#define KULA_SCORE_MALFORMED 50
#define KULA_SCORE_BAD_BLOCK 100
#define KULA_SCORE_BAD_TX 10
#define KULA_SCORE_UNSOLICITED 20
#define KULA_SCORE_SLOW_SYNC 20

typedef struct kula_p2p kula_p2p;


typedef struct kula_p2p_env {
    kula_chain *chain;
    kula_store *store;
    kula_mempool *mempool;
    kula_verifier *verifier;
    kula_hash chain_id;
    /* Keys admitted besides the members': observers (auditors' and
     * non-validating nodes). */
    const kula_pubkey *observers;
    size_t nobservers;
    /* State sync (p2p_snap.c): the genesis (its validators are trusted
     * first), whether an empty chain starts from a peer's snapshot, and
     * the folder of the copies this node keeps (kula/chain/snapfile.h). */
    const kula_genesis *genesis;
    bool state_sync;
    const char *snapshot_dir;
    /* Gossip the transactions admitted in a loop turn to each peer as
     * TX_BATCH messages rather than one TX each (SPEC §12.2).  Every node
     * takes TX_BATCH; only a network whose nodes all know it (type 14) may
     * turn this on, since an older node closes the connection on it. */
    bool gossip_batches;
} kula_p2p_env;

typedef struct kula_p2p_hooks {
    void *ctx;
    /* Consensus messages, once per node; all may be NULL (ignored). */
    void (*on_proposal)(void *ctx, uint32_t peer, const uint8_t *msg, size_t msg_len,
                        const uint8_t *proposal, size_t proposal_len, const uint8_t *block,
                        size_t block_len);
    void (*on_vote)(void *ctx, uint32_t peer, const uint8_t *msg, size_t msg_len,
                    const uint8_t *vote, size_t vote_len);
    void (*on_evidence)(void *ctx, uint32_t peer, const uint8_t *msg, size_t msg_len,
                        const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len);
    /* Sync is about to apply a block: drop any block held uncommitted. */
    void (*before_apply)(void *ctx);
    /* Sync committed block `height` (canonical bytes). */
    void (*on_block)(void *ctx, uint64_t height, const uint8_t *block, size_t len);
    /* State sync started the chain from the snapshot at `height`. */
    void (*on_state_synced)(void *ctx, uint64_t height);
} kula_p2p_hooks;

/* Starts the transport and the gossip.  env and hooks are copied (the
 * objects they point to must outlive p).
 * Out: e (may be NULL), on failure one line saying what failed.
 * Returns: 0 or an error of kula_net_start. */
KULA_MUST_CHECK
int kula_p2p_start(kula_p2p **out, uv_loop_t *loop, const kula_net_config *cfg,
                   const kula_seckey *identity, const kula_p2p_env *env,
                   const kula_p2p_hooks *hooks, kula_error *e);
/* Stops; run the loop afterwards to close the transport.  NULL: no-op. */
void kula_p2p_stop(kula_p2p *p);

/* The chain's tip changed (a block committed here): tells every peer. */
void kula_p2p_tip_changed(kula_p2p *p);
/* Relays a transaction this node admitted itself (from its API), with the
 * others of this loop turn, right after it polled for I/O. */
void kula_p2p_relay_tx(kula_p2p *p, const uint8_t *tx, size_t len);
/* Sends an encoded message (kula/wire.h) to every peer not known to have
 * it, except `except` (0: none), and remembers it as seen.  For the
 * consensus messages the node checked or made. */
void kula_p2p_gossip(kula_p2p *p, const uint8_t *msg, size_t len, uint32_t except);
/* Sends an encoded message again to every peer, even those known to have
 * it, and remembers it as seen: the consensus messages of a height that
 * has not moved for KULA_DRIVER_RESEND_MS (kula/consensus/driver.h). */
void kula_p2p_resend(kula_p2p *p, const uint8_t *msg, size_t len);
/* Sends an encoded message to one peer. */
void kula_p2p_send(kula_p2p *p, uint32_t peer, const uint8_t *msg, size_t len);
/* Penalises a peer for a message the node found invalid. */
void kula_p2p_punish(kula_p2p *p, uint32_t peer, int points, const char *why);

typedef struct kula_sync_status {
    bool syncing;       /* some peer is ahead */
    uint64_t height;    /* this node's */
    uint64_t target;    /* the highest a peer said */
    uint32_t peers;     /* established */
} kula_sync_status;
void kula_p2p_sync_status(kula_p2p *p, kula_sync_status *st);
kula_net *kula_p2p_net(kula_p2p *p);

#endif /* KULA_P2P_H */
