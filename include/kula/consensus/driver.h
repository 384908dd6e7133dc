/* driver.h -- the consensus driver: runs the pure Tendermint machine
 * (kula/consensus/consensus.h) for a node, against its chain and mempool,
 * with every effect on the world behind a table of calls (kula_driver_io):
 * the clock, timers, signing and verifying, durable state, and the network.
 *
 * kulad drives it through a thin libuv adapter (node/daemon/engine.c); the
 * simulation (tests/sim) drives the very same code with virtual time and a
 * simulated network.  Nothing here reads a clock, a file or a socket.
 *
 * What it does, per height:
 *   - starts the machine with the validator set that signs the height (or,
 *     when this node's validator alone holds more than 2/3 of the power, with
 *     itself alone: it then proposes, votes and decides by itself, the
 *     single-validator network; its messages are not sent, nobody needs them);
 *   - checks every proposal's block against the chain before it counts;
 *     builds its own blocks from the mempool (the chain then holds the block
 *     it built or checked, "held", until it commits or abandons it);
 *   - signs what the machine asks for, saves the machine's state durably
 *     (io.save) before anything signed leaves, then sends it;
 *   - keeps every valid consensus message of the current height and sends it
 *     again on kula_driver_regossip (a peer that reconnects or restarts
 *     catches up on the round);
 *   - on a decision, commits the block with the commit the machine assembled
 *     and starts the next height block_interval_ms after the height started
 *     (io timer START), or at once when sync brought the chain further
 *     (kula_driver_on_block); a commit that fails is tried again after the
 *     block interval.
 *
 * Evidence: when it catches a validator signing two different votes for one
 * height, round and step (or a peer shows it), it sends the pair and, if this
 * node is an active member, submits an evidence transaction (kind 14); it
 * resubmits after later blocks until the record is there (a few times).
 *
 * Keys: a vote or proposal is checked with its validator's key in the
 * committed state (a block checked but not committed may rotate it), and
 * this node signs only with a validator's current key (kula_key_standing):
 * once the members remove its member or rotate its key it signs nothing
 * more.  The chain verifies a block's commit with the keys of the state
 * after the block, so a precommit for a block that rotates its signer's key,
 * made with the key it replaces, is neither made here nor counted in a
 * commit (and its signer is not punished: the vote was honest).
 *
 * Crash safety: the machine's saved state is handed to io.save after every
 * input that changed it and before any vote or proposal is sent; a driver
 * created with the last saved state (env.saved) never signs two different
 * votes for one height, round and step.  The bytes of the blocks that state
 * names (its proposal, lock and valid value) go to io.save_blocks first, so
 * a driver created with them (env.saved_blocks) can propose its locked
 * block again: without them a validator locked on a block only it had (a
 * single validator, always) would stall for good after a crash.
 *
 * Threading: one thread; every entry point runs to completion and may call
 * back into io before it returns. */
#ifndef KULA_DRIVER_H
#define KULA_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kula/base/error.h"
#include "kula/chain/chain.h"
#include "kula/chain/mempool.h"
#include "kula/consensus/consensus.h"
#include "kula/consensus/held_blocks.h"
#include "kula/crypto/crypto.h"
#include "kula/crypto/verifier.h"

typedef struct kula_driver kula_driver;

/* The two timers a driver asks for. */
enum kula_driver_timer {
    KULA_DRIVER_TIMER_ROUND = 0, /* the earliest round timeout of the machine */
    KULA_DRIVER_TIMER_START = 1, /* the start of the next height */
};

/* What a driver sends (or sends again). */
enum kula_driver_msg_type {
    KULA_DRIVER_PROPOSAL = 1, /* a: encoded proposal, b: the block */
    KULA_DRIVER_VOTE = 2,     /* a: encoded vote */
    KULA_DRIVER_EVIDENCE = 3, /* a, b: two conflicting encoded votes */
};

typedef struct kula_driver_msg {
    uint8_t type;       /* enum kula_driver_msg_type */
    uint64_t height;    /* the height it belongs to ... */
    uint32_t round;     /* ... and the round */
    const uint8_t *a;
    size_t alen;
    const uint8_t *b;   /* NULL for a vote */
    size_t blen;
    /* Set by kula_driver_regossip on a message kept for
     * KULA_DRIVER_RESEND_MS or more: the network sends it again even to the
     * peers that had it, since a peer may have had it while it could not
     * use it (a height it had not reached, a full buffer of future votes). */
    bool resend;
} kula_driver_msg;

/* How long a height's message waits before kula_driver_regossip sends it
 * again to every peer: longer than a height takes when the network is
 * well (one block interval), so a healthy network never pays for it. */
#define KULA_DRIVER_RESEND_MS 2000u

/* A block this driver committed. */
typedef struct kula_driver_commit {
    uint64_t height;
    uint32_t round;
    const uint8_t *block;  /* NULL when its bytes were not at hand */
    size_t block_len;
    const uint8_t *commit;
    size_t commit_len;
    size_t txs;            /* transactions the block held */
    uint64_t ms;           /* since the height started */
} kula_driver_commit;

/* The world, as the driver sees it.  Every call is made on the driver's
 * thread, from inside one of the kula_driver_* entry points; none may call
 * back into the driver (schedule instead).  Pointers are valid during the
 * call only. */
typedef struct kula_driver_io {
    void *ctx;
    /* Milliseconds of a monotonic clock (timeouts, the block interval). */
    uint64_t (*now_ms)(void *ctx);
    /* Milliseconds since the epoch (a block's time). */
    uint64_t (*wall_ms)(void *ctx);
    /* Calls kula_driver_on_timer(d, t) after delay_ms (replacing an earlier
     * request for t), or forgets t. */
    void (*arm)(void *ctx, enum kula_driver_timer t, uint64_t delay_ms);
    void (*disarm)(void *ctx, enum kula_driver_timer t);
    /* Signs a 32-byte digest with this node's key.  Returns: 0 or an error. */
    int (*sign)(void *ctx, const kula_hash *digest, kula_sig *sig);
    /* Whether sig over digest verifies with pk. */
    bool (*verify)(void *ctx, const kula_pubkey *pk, const kula_hash *digest,
                   const kula_sig *sig);
    /* Stores s durably before it returns.  Returns: 0, or an error: then
     * nothing signed leaves the node. */
    int (*save)(void *ctx, const kula_cons_saved *s);
    /* Stores durably, before it returns, the bytes of the blocks the saved
     * state names (kula/consensus/held_blocks.h), replacing those stored
     * before; called before io.save whenever that set changes, and the
     * set then covers both the state stored and the one about to be: a
     * crash at any point leaves the stored state's blocks stored.  Returns:
     * 0, or an error: then nothing signed leaves the node. */
    int (*save_blocks)(void *ctx, const kula_held_block *b, size_t n);
    /* Sends m to every peer but except (0: to all). */
    void (*send)(void *ctx, const kula_driver_msg *m, uint32_t except);
    /* Relays a transaction this driver added to the mempool (evidence). */
    void (*relay_tx)(void *ctx, const uint8_t *tx, size_t len);
    /* Peer sent something no honest node sends. */
    void (*punish)(void *ctx, uint32_t peer, const char *why);
    /* A block was committed (may be NULL). */
    void (*committed)(void *ctx, const kula_driver_commit *c);
    /* The block builder dropped a mempool transaction for good (may be
     * NULL). */
    kula_mempool_drop_fn dropped;
} kula_driver_io;

typedef struct kula_driver_env {
    kula_chain *chain;
    kula_mempool *mempool;
    kula_verifier *verifier;        /* for evidence transactions; may be NULL */
    kula_hash chain_id;
    bool has_key;                   /* io.sign signs for pubkey */
    kula_pubkey pubkey;
    const kula_cons_saved *saved;   /* the last state io.save stored, or NULL */
    const kula_held_block *saved_blocks; /* the last blocks io.save_blocks */
    size_t nsaved_blocks;                /* stored (with saved) */
    kula_driver_io io;
} kula_driver_env;

/* Makes a driver (copies env and *env->saved).  It does nothing until
 * kula_driver_start.  Returns: 0, KULA_ENOMEM, or the error reading the
 * chain's parameters. */
KULA_MUST_CHECK
int kula_driver_new(kula_driver **out, const kula_driver_env *env);
/* Starts consensus at the chain's next height. */
void kula_driver_start(kula_driver *d);
/* Abandons a held block and frees d (NULL: nothing).  The io's timers are
 * the caller's to cancel. */
void kula_driver_free(kula_driver *d);

/* Timer t, armed by io.arm, is due. */
void kula_driver_on_timer(kula_driver *d, enum kula_driver_timer t);
/* Sends again the kept messages of the current height (every second);
 * those kept KULA_DRIVER_RESEND_MS or longer go with resend set. */
void kula_driver_regossip(kula_driver *d);

/* Messages from peer (a nonzero id for io.punish and io.send's except). */
void kula_driver_on_proposal(kula_driver *d, uint32_t peer, const uint8_t *proposal,
                             size_t proposal_len, const uint8_t *block, size_t block_len);
void kula_driver_on_vote(kula_driver *d, uint32_t peer, const uint8_t *vote, size_t vote_len);
void kula_driver_on_evidence(kula_driver *d, uint32_t peer, const uint8_t *a, size_t a_len,
                             const uint8_t *b, size_t b_len);

/* Sync: call before the chain applies a block it fetched (the driver lets
 * go of a held block), and after (the driver moves to the next height). */
void kula_driver_before_apply(kula_driver *d);
void kula_driver_on_block(kula_driver *d, uint64_t height, const uint8_t *block, size_t len);

/* Whether this node votes at the current height. */
bool kula_driver_voting(const kula_driver *d);
/* Evidence seen since start (pairs of conflicting votes). */
uint64_t kula_driver_evidence(const kula_driver *d);
/* The consensus round at the current height (0 for NULL). */
uint32_t kula_driver_round(const kula_driver *d);

#endif /* KULA_DRIVER_H */
