/* engine.h -- consensus on the live network: drives the pure Tendermint
 * machine (kula/consensus.h) with the chain, the mempool, the clock, the
 * node's key and the peers (kula/net/p2p.h).
 *
 * Used when the validators must agree (no single key holds more than 2/3
 * of the power).  For each height it starts the machine with the validator
 * set that signs it; proposals are checked against the chain before they
 * count, own blocks are built from the mempool, votes and proposals are
 * signed and gossiped, timeouts are libuv timers, and a decision commits the
 * block with the commit the machine assembled.  The next height starts
 * block_interval_ms after a decision (the time for late precommits and new
 * transactions), or at once when sync brought the chain further.
 *
 * Every valid consensus message of the current height is kept and gossiped
 * again every second to peers not known to have it, so a peer that
 * reconnects or restarts catches up on the round.
 *
 * Evidence: when this node catches a validator signing two different votes
 * for one height, round and step (or a peer shows it), it gossips the pair
 * and, if it holds a member key, submits an evidence transaction (kind 14)
 * that records the offence on the chain; it resubmits after later blocks
 * until the record is there (at most a few times).
 *
 * Keys: a vote or proposal is checked with its validator's key in the
 * committed state (a block checked but not committed may rotate it), and
 * this node signs only with a validator's current key (kula_p2p_standing):
 * once the members remove its member or rotate its key it signs nothing
 * more.  The chain verifies a block's commit with the keys of the state
 * after the block, so a precommit for a block that rotates its signer's key,
 * made with the key it replaces, is neither made here nor counted in a
 * commit (and its signer is not punished: the vote was honest).
 *
 * Crash safety: before any vote or proposal leaves the node, the machine's
 * saved state (kula_cons_saved) is written to DATADIR/consensus.state
 * (fsync, then rename), and a restarted node resumes from it: it never signs
 * two different votes for one height, round and step. */
#ifndef KULA_ENGINE_H
#define KULA_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "kula/chain/chain.h"
#include "kula/crypto/crypto.h"
#include "kula/chain/mempool.h"
#include "kula/net/p2p.h"

typedef struct kula_engine kula_engine;

typedef struct kula_engine_env {
    uv_loop_t *loop;
    kula_chain *chain;
    kula_mempool *mempool;
    kula_verifier *verifier;
    kula_hash chain_id;
    const char *datadir;
    bool has_key;
    kula_seckey key;                 /* copied; wiped by kula_engine_stop */
    /* Called after each block this driver commits (included txs, seconds
     * spent deciding since the height started). */
    void (*on_commit)(void *ctx, uint64_t height, size_t txs, double seconds);
    /* Called for each mempool transaction the block builder dropped. */
    kula_mempool_drop_fn on_dropped;
    void *ctx;
} kula_engine_env;

/* Starts consensus at the chain's next height (resuming a saved state).
 * The p2p layer is attached later with kula_engine_attach.
 * Returns: 0, or an error with a message in err. */
int kula_engine_start(kula_engine **out, const kula_engine_env *env, char *err, size_t errlen);
/* Connects the driver to the network (p may be NULL: no peers). */
void kula_engine_attach(kula_engine *v, kula_p2p *p);
/* Stops the timers and frees v once the loop has closed them. */
void kula_engine_stop(kula_engine *v);

/* The p2p hooks (kula_p2p_hooks) of a node running consensus; ctx is the
 * kula_engine. */
void kula_engine_on_proposal(void *ctx, uint32_t peer, const uint8_t *msg, size_t msg_len,
                             const uint8_t *proposal, size_t proposal_len,
                             const uint8_t *block, size_t block_len);
void kula_engine_on_vote(void *ctx, uint32_t peer, const uint8_t *msg, size_t msg_len,
                         const uint8_t *vote, size_t vote_len);
void kula_engine_on_evidence(void *ctx, uint32_t peer, const uint8_t *msg, size_t msg_len,
                             const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len);
void kula_engine_before_apply(void *ctx);
void kula_engine_on_block(void *ctx, uint64_t height, const uint8_t *block, size_t len);

/* Whether this node votes at the current height. */
bool kula_engine_voting(const kula_engine *v);
/* Evidence seen since start (pairs of conflicting votes). */
uint64_t kula_engine_evidence(const kula_engine *v);
/* The consensus round at the current height (0 without an engine). */
uint32_t kula_engine_round(const kula_engine *v);

#endif /* KULA_ENGINE_H */
