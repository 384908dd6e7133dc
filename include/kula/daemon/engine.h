/* engine.h -- consensus on the live network: the consensus driver
 * (kula/consensus/driver.h) with its io table made of libuv timers, the
 * node's key, the DATADIR/consensus.state and consensus.blocks files and
 * the peers (kula/net/p2p.h).
 *
 * kulad starts an engine when this node's validator alone holds more than
 * 2/3 of the power (the driver then decides blocks by itself) or when no
 * single validator does (the validators decide together); a node that only
 * follows fetches blocks by sync.  What the driver does, with its rules on
 * keys, evidence and crash safety, is described in driver.h.
 *
 * The saved state of the machine is written to DATADIR/consensus.state,
 * and the blocks it names to DATADIR/consensus.blocks (kula/daemon/
 * consfile.h: two slots each, one pwrite and one fdatasync a change), on
 * the loop thread, before any vote or proposal leaves the node, and read
 * back when the engine starts. */
#ifndef KULA_ENGINE_H
#define KULA_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "kula/base/error.h"
#include "kula/chain/chain.h"
#include "kula/chain/mempool.h"
#include "kula/crypto/crypto.h"
#include "kula/crypto/verifier.h"
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
 * Out: e (may be NULL), on failure one line saying what failed.
 * Returns: 0, KULA_ENOMEM, or an error of kula_driver_new. */
KULA_MUST_CHECK
int kula_engine_start(kula_engine **out, const kula_engine_env *env, kula_error *e);
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
/* The errno of the last write of DATADIR/consensus.state, else of
 * consensus.blocks, when it failed; 0 when the last write of each worked
 * (or without an engine). */
int kula_engine_save_errno(const kula_engine *v);
/* Failed writes of DATADIR/consensus.state or consensus.blocks since
 * start (0 without an engine). */
uint64_t kula_engine_save_failures(const kula_engine *v);
/* The consensus round at the current height (0 without an engine). */
uint32_t kula_engine_round(const kula_engine *v);

#endif /* KULA_ENGINE_H */
