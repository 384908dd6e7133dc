/* consensus.h -- the Tendermint consensus algorithm as a pure state machine
 * (DESIGN layer 5; proto/SPEC.md §7.4).
 *
 * Buchman, Kwon, Milosevic, "The latest gossip on BFT consensus"
 * (arXiv:1807.04938), Algorithm 1, for one validator.  Pure: no I/O, no
 * clock, no randomness, no floating point, no signing or verifying.  The
 * caller verifies every signature before it feeds a message in, validates
 * every proposed block against its chain, signs what the machine asks it to
 * sign, schedules the timeouts it asks for, and moves to the next height
 * after a decision.
 *
 * Driving it (one validator):
 *
 *   kula_cons_new(&c, &params)
 *   kula_cons_start_height(c, h, valset, is_validator, my_id, saved)
 *   loop:
 *     feed one input: kula_cons_on_proposal / _on_vote / _on_timeout
 *     kula_cons_saved(c, &s); persist s durably        (before releasing!)
 *     while (kula_cons_next(c, &out)) act on out:
 *       PROPOSE  build a block (or fetch the block out.u.propose.block_hash),
 *                sign the proposal, feed it back with on_proposal, persist
 *                kula_cons_saved again, then broadcast it with the block;
 *       VOTE     sign out.u.vote, feed it back with on_vote, broadcast it;
 *       TIMEOUT  call on_timeout(step, height, round) after duration_ms;
 *       DECIDE   commit the block with *out.u.decide.commit, then
 *                kula_cons_start_height(c, h + 1, ...);
 *       EVIDENCE keep or publish the two conflicting signed votes;
 *       RECHECK  a buffered proposal of the new height: validate its block
 *                and feed it with on_proposal.
 *
 * Crash safety: the machine never asks for two different votes of one
 * (height, round, type), nor for two proposals of one (height, round), and
 * it records the last of each it asked for in kula_cons_saved.  A caller
 * that persists the saved state after every input, before releasing any
 * VOTE or PROPOSE to the network, and restarts with it, never equivocates.
 *
 * Memory bounds (a Byzantine validator cannot make the machine grow past
 * them): messages of the current height are kept for rounds up to the
 * current round + KULA_CONS_ROUND_WINDOW (later ones are refused); per round
 * at most one proposal, and one prevote and one precommit per validator --
 * an equivocator's conflicting votes are kept and counted for their values
 * as the paper counts every message, up to KULA_CONS_CONFLICTS values per
 * validator, round and type; at
 * most KULA_CONS_MAX_ROUNDS rounds are kept, the lowest ones that are not
 * the current, locked or valid round (or a later one) being dropped first;
 * messages for the next height are buffered, at most
 * KULA_CONS_FUTURE_PER_VALIDATOR per validator of the current set, and
 * replayed by kula_cons_start_height.  Worst case, with 256 validators:
 * about 64 rounds x 2 x 256 x 3 votes of ~120 bytes = 12 MB. */
#ifndef KULA_CONSENSUS_H
#define KULA_CONSENSUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kula/base/error.h"
#include "kula/types/genesis.h"
#include "kula/types/proposal.h"
#include "kula/types/records.h"
#include "kula/types/types.h"

#define KULA_CONS_ROUND_WINDOW 16u
#define KULA_CONS_MAX_ROUNDS 64u
#define KULA_CONS_FUTURE_PER_VALIDATOR 8u
#define KULA_CONS_CONFLICTS 3u

typedef struct kula_cons kula_cons;

/* Steps of a round (the paper's step_p). */
enum kula_cons_step {
    KULA_CONS_STEP_PROPOSE = 1,
    KULA_CONS_STEP_PREVOTE = 2,
    KULA_CONS_STEP_PRECOMMIT = 3,
};

/* The round timeouts: timeout_step(r) = base + r * delta ms, with base
 * timeout_propose_ms for the propose step and timeout_vote_ms for prevote
 * and precommit (genesis parameters, SPEC §8.2). */
typedef struct kula_cons_params {
    uint32_t timeout_propose_ms;
    uint32_t timeout_vote_ms;
    uint32_t timeout_delta_ms;
} kula_cons_params;

/* Out: cp, the consensus timeouts of network parameters p. */
void kula_cons_params_from(kula_cons_params *cp, const kula_params *p);

/* What must survive a crash: persist it after every input, before any VOTE
 * or PROPOSE output of that input reaches the network.  Plain data; a
 * zeroed struct with has_* false means "nothing saved". */
typedef struct kula_cons_saved {
    uint64_t height;
    uint32_t round;
    uint8_t step;                 /* enum kula_cons_step */
    int64_t locked_round;         /* -1: none */
    kula_hash locked_hash;
    int64_t valid_round;          /* -1: none */
    kula_hash valid_hash;
    /* The last prevote and the last precommit the machine asked to sign.
     * Per type, (height, round) only grow, and a vote is asked for again at
     * the same (height, round) only if identical; a prevote is never asked
     * for at or below the (height, round) of the last precommit. */
    bool has_prevote;
    uint64_t prevote_height;
    uint32_t prevote_round;
    bool prevote_has_block;
    kula_hash prevote_hash;
    bool has_precommit;
    uint64_t precommit_height;
    uint32_t precommit_round;
    bool precommit_has_block;
    kula_hash precommit_hash;
    /* The last proposal asked for: (height, round) only grow.  prop_has_hash
     * is false until the caller's own signed proposal came back through
     * on_proposal: after a restart such a round is not proposed again. */
    bool has_prop;
    uint64_t prop_height;
    uint32_t prop_round;
    bool prop_has_hash;
    kula_hash prop_hash;
    int64_t prop_pol_round;
} kula_cons_saved;

enum kula_cons_out_kind {
    KULA_CONS_OUT_PROPOSE = 1,
    KULA_CONS_OUT_VOTE = 2,
    KULA_CONS_OUT_TIMEOUT = 3,
    KULA_CONS_OUT_DECIDE = 4,
    KULA_CONS_OUT_EVIDENCE = 5,
    KULA_CONS_OUT_RECHECK = 6,
};

typedef struct kula_cons_out {
    uint8_t kind; /* enum kula_cons_out_kind */
    union {
        /* Propose in (height, round) with pol_round (-1: none).  reuse:
         * re-propose the block whose hash is block_hash (the paper's
         * validValue, or the block proposed before a restart); otherwise
         * build a new block. */
        struct {
            uint64_t height;
            uint32_t round;
            int64_t pol_round;
            bool reuse;
            kula_hash block_hash;
        } propose;
        /* Sign this vote (validator = my_id, sig zero), broadcast it and
         * feed it back with kula_cons_on_vote. */
        kula_vote vote;
        /* Call kula_cons_on_timeout(step, height, round) after duration_ms. */
        struct {
            uint8_t step;
            uint64_t height;
            uint32_t round;
            uint64_t duration_ms;
        } timeout;
        /* The block block_hash is decided at height in round.  commit holds
         * the stored precommits for it, signers strictly ascending; it is
         * owned by the machine and valid until the next
         * kula_cons_start_height or kula_cons_free. */
        struct {
            uint64_t height;
            uint32_t round;
            kula_hash block_hash;
            const kula_commit *commit;
        } decide;
        /* Two signed votes of one validator, same type, height and round,
         * for different blocks (or a block and nil). */
        struct {
            kula_vote a, b;
        } evidence;
        /* A proposal of this height that arrived before it started (its
         * block could not be validated then): validate the block now and
         * feed the proposal back with kula_cons_on_proposal. */
        kula_block_proposal recheck;
    } u;
} kula_cons_out;

/* Out: *out, a machine that waits for kula_cons_start_height.
 * Returns: 0, KULA_EINVAL (out or p NULL), KULA_ENOMEM. */
KULA_MUST_CHECK
int kula_cons_new(kula_cons **out, const kula_cons_params *p);
/* Frees c and everything it owns (c may be NULL). */
void kula_cons_free(kula_cons *c);

/* Starts height `height` at round 0 (the paper's StartRound(0)), or, with a
 * saved state of this height, resumes its round, step, lock and valid value.
 * Messages buffered for this height are replayed (their outputs queued).
 * The queue of outputs is cleared first.
 * In: vs, the validator set that decides this height (copied; n >= 1,
 *     ascending ids, total_power the sum of the powers, > 0); is_validator,
 *     my_id: whether this machine votes and with which id (a non-validator
 *     only follows and decides); saved: NULL, or the state persisted before
 *     a restart (its last signed vote and proposal are honoured whatever
 *     its height).
 * Returns: 0, KULA_EINVAL (bad valset, my_id not in vs while is_validator,
 *          saved from a higher height), KULA_ENOMEM. */
KULA_MUST_CHECK
int kula_cons_start_height(kula_cons *c, uint64_t height, const kula_valset *vs,
                           bool is_validator, uint32_t my_id, const kula_cons_saved *saved);

/* A proposal whose signature by p->proposer the caller has verified.
 * In: valid, whether the proposed block is valid as the next block of the
 *     caller's chain (the paper's valid(v)); ignored for a proposal of
 *     height + 1, which is buffered and handed back as a RECHECK output by
 *     kula_cons_start_height.
 * Returns: 0 (accepted), or why it was ignored: KULA_EHEIGHT (not this
 *          height; height + 1 is buffered and returns 0, or KULA_ETOOBIG when
 *          the buffer is full), KULA_EINVAL (before start_height, or after
 *          the decision of this height), KULA_ESIGNERS (not the round's
 *          proposer), KULA_ERANGE (round beyond the window, bad pol_round),
 *          KULA_EEXIST (already have it), KULA_EVOTED (a different proposal
 *          of that round is kept), KULA_ENOMEM. */
KULA_MUST_CHECK
int kula_cons_on_proposal(kula_cons *c, const kula_block_proposal *p, bool valid);

/* A vote whose signature the caller has verified.
 * Returns: 0, or why it was ignored: KULA_EHEIGHT, KULA_ETOOBIG, KULA_EINVAL
 *          (as on_proposal; also a vote type other than 1 or 2),
 *          KULA_EUNKNOWNMEMBER (not a validator of the height), KULA_ERANGE
 *          (round beyond the window), KULA_EEXIST (this vote is known),
 *          KULA_EVOTED (the validator voted differently in that round and
 *          step: an EVIDENCE output is queued the first time; the vote is
 *          still counted for its value unless KULA_CONS_CONFLICTS values of
 *          that validator are already kept), KULA_ENOMEM. */
KULA_MUST_CHECK
int kula_cons_on_vote(kula_cons *c, const kula_vote *v);

/* A timeout the machine asked for has expired.
 * Returns: 0 (acted), KULA_EHEIGHT (another height), KULA_ERANGE (stale:
 *          another round or step), KULA_EINVAL (bad step, or no height). */
KULA_MUST_CHECK
int kula_cons_on_timeout(kula_cons *c, uint8_t step, uint64_t height, uint32_t round);

/* Pops the oldest output.  Returns: true and *out, or false if none. */
bool kula_cons_next(kula_cons *c, kula_cons_out *out);

/* Out: s, the state to persist now (see above). */
void kula_cons_saved_get(const kula_cons *c, kula_cons_saved *s);

/* Current position.  Returns: the height (0 before start), round, step. */
uint64_t kula_cons_height(const kula_cons *c);
uint32_t kula_cons_round(const kula_cons *c);
uint8_t kula_cons_step(const kula_cons *c);
/* Returns: true once this height is decided (until the next start_height). */
bool kula_cons_decided(const kula_cons *c);

/* The proposer of (height, round): vs->v[(height + round) mod n].id, a
 * round robin over the validators in ascending id order (SPEC §7.3).
 * Returns: its member id, or 0 if vs is empty. */
uint32_t kula_cons_proposer(const kula_valset *vs, uint64_t height, uint32_t round);

/* Returns: true if power is more than 2/3 of total (3 p > 2 t), computed
 *          without overflow. */
bool kula_cons_quorum(uint64_t power, uint64_t total);
/* Returns: true if power is more than 1/3 of total (3 p > t). */
bool kula_cons_one_third(uint64_t power, uint64_t total);

#endif /* KULA_CONSENSUS_H */
