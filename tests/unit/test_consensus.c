/* test_consensus.c -- the Tendermint state machine (node/consensus/consensus.c),
 * scenario by scenario, and the proposal codec (node/types/proposal.c).
 *
 * The machine under test is driven by hand: the test plays the other
 * validators, feeding their proposals and votes, and checks which votes,
 * proposals, timeouts and decisions come out.  Signatures are not the
 * machine's business, so votes carry dummy ones. */
#include <criterion/criterion.h>
#include <string.h>

#include "kula/consensus/consensus.h"
#include "kula/base/error.h"
#include "kula/types/proposal.h"
#include "consensus/consensus_testing.h"

static const kula_cons_params P = { .timeout_propose_ms = 3000, .timeout_vote_ms = 1000,
                                    .timeout_delta_ms = 500 };

static kula_valset VS;

/* Validators 1..n with the given powers (NULL: all 1). */
static void valset(uint32_t n, const uint64_t *powers)
{
    memset(&VS, 0, sizeof(VS));
    VS.n = n;
    for (uint32_t i = 0; i < n; i++) {
        VS.v[i].id = i + 1;
        VS.v[i].power = powers ? powers[i] : 1;
        VS.total_power += VS.v[i].power;
    }
}

static kula_hash H(uint8_t x)
{
    kula_hash h;
    memset(&h, x, sizeof(h));
    return h;
}

static kula_vote V(uint8_t type, uint64_t h, uint32_t r, const kula_hash *block, uint32_t who)
{
    kula_vote v;
    memset(&v, 0, sizeof(v));
    v.type = type;
    v.height = h;
    v.round = r;
    v.has_block = block != NULL;
    if (block)
        v.block_hash = *block;
    v.validator = who;
    memset(v.sig.b, (int)who, KULA_SIG_LEN);
    return v;
}

static kula_block_proposal PR(uint64_t h, uint32_t r, int64_t pol, const kula_hash *b)
{
    kula_block_proposal p;
    memset(&p, 0, sizeof(p));
    p.height = h;
    p.round = r;
    p.pol_round = pol;
    p.block_hash = *b;
    p.proposer = kula_cons_proposer(&VS, h, r);
    return p;
}

#define MAXOUT 64
static kula_cons_out OUT[MAXOUT];
static size_t NOUT;

/* Drains c's outputs into OUT. */
static void drain(kula_cons *c)
{
    NOUT = 0;
    kula_cons_out o;
    while (kula_cons_next(c, &o)) {
        cr_assert_lt(NOUT, MAXOUT);
        OUT[NOUT++] = o;
    }
}

static const kula_cons_out *find(uint8_t kind)
{
    for (size_t i = 0; i < NOUT; i++)
        if (OUT[i].kind == kind)
            return &OUT[i];
    return NULL;
}

static size_t count(uint8_t kind)
{
    size_t n = 0;
    for (size_t i = 0; i < NOUT; i++)
        n += OUT[i].kind == kind;
    return n;
}

/* Asserts the outputs hold exactly one vote, of this type and value. */
static void expect_vote(uint8_t type, uint32_t round, const kula_hash *block)
{
    cr_assert_eq(count(KULA_CONS_OUT_VOTE), 1, "expected one vote, got %zu",
                 count(KULA_CONS_OUT_VOTE));
    const kula_vote *v = &find(KULA_CONS_OUT_VOTE)->u.vote;
    cr_assert_eq(v->type, type);
    cr_assert_eq(v->round, round);
    cr_assert_eq(v->has_block, block != NULL, "vote %s, expected %s",
                 v->has_block ? "for a block" : "nil", block ? "a block" : "nil");
    if (block)
        cr_assert_arr_eq(v->block_hash.b, block->b, KULA_HASH_LEN);
}

static kula_cons *mk(uint32_t me, uint64_t height)
{
    kula_cons *c;
    cr_assert_eq(kula_cons_new(&c, &P), 0);
    cr_assert_eq(kula_cons_start_height(c, height, &VS, true, me, NULL), 0);
    drain(c);
    return c;
}

/* Feeds a vote (and its own vote back, as the caller does). */
static int feed(kula_cons *c, kula_vote v)
{
    int rc = kula_cons_on_vote(c, &v);
    drain(c);
    return rc;
}

/* Feeds the vote c just asked for back into it, as a caller would after
 * signing it, and drains. */
static void echo(kula_cons *c, uint32_t me)
{
    const kula_cons_out *o = find(KULA_CONS_OUT_VOTE);
    cr_assert_not_null(o);
    kula_vote v = o->u.vote;
    cr_assert_eq(v.validator, me);
    feed(c, v);
}

/* ---- arithmetic ---- */

Test(consensus, thresholds)
{
    cr_assert(!kula_cons_quorum(2, 3));
    cr_assert(kula_cons_quorum(3, 4));
    cr_assert(!kula_cons_quorum(2, 4));
    cr_assert(!kula_cons_quorum(6, 9));
    cr_assert(kula_cons_quorum(7, 9));
    cr_assert(kula_cons_one_third(2, 4));
    cr_assert(!kula_cons_one_third(1, 4));
    cr_assert(!kula_cons_one_third(1, 3));
    cr_assert(kula_cons_one_third(2, 3));
    uint64_t big = UINT64_MAX;
    cr_assert(!kula_cons_quorum(big / 3 * 2, big));
    cr_assert(kula_cons_quorum(big / 3 * 2 + 1, big));
    cr_assert(kula_cons_quorum(big, big));
}

Test(consensus, proposer_round_robin)
{
    valset(4, NULL);
    cr_assert_eq(kula_cons_proposer(&VS, 1, 0), 2);
    cr_assert_eq(kula_cons_proposer(&VS, 1, 1), 3);
    cr_assert_eq(kula_cons_proposer(&VS, 1, 3), 1);
    cr_assert_eq(kula_cons_proposer(&VS, 4, 0), 1);
    cr_assert_eq(kula_cons_proposer(&VS, UINT64_MAX, UINT32_MAX),
                 VS.v[(UINT64_MAX % 4 + UINT32_MAX % 4) % 4].id);
}

/* ---- a network of machines delivering everything at once ---- */

#define NMAX 8
typedef struct net {
    uint32_t n;
    kula_cons *c[NMAX];
    bool decided[NMAX];
    kula_hash decision[NMAX];
    uint32_t commit_sigs[NMAX];
    kula_vote q[4096];
    kula_block_proposal qp[64];
    size_t nq, nqp;
} net;

static void net_collect(net *w, uint32_t i)
{
    kula_cons_out o;
    while (kula_cons_next(w->c[i], &o)) {
        switch ((enum kula_cons_out_kind)o.kind) {
        case KULA_CONS_OUT_PROPOSE: {
            kula_hash b = o.u.propose.reuse ? o.u.propose.block_hash : H((uint8_t)(0x40 + i));
            kula_block_proposal p = PR(o.u.propose.height, o.u.propose.round,
                                       o.u.propose.pol_round, &b);
            cr_assert_eq(p.proposer, i + 1);
            w->qp[w->nqp++] = p;
            break;
        }
        case KULA_CONS_OUT_VOTE:
            memset(o.u.vote.sig.b, (int)(i + 1), KULA_SIG_LEN);
            w->q[w->nq++] = o.u.vote;
            break;
        case KULA_CONS_OUT_DECIDE: {
            w->decided[i] = true;
            w->decision[i] = o.u.decide.block_hash;
            const kula_commit *cm = o.u.decide.commit;
            w->commit_sigs[i] = cm->nsigs;
            for (uint32_t k = 1; k < cm->nsigs; k++)
                cr_assert_lt(cm->sigs[k - 1].validator, cm->sigs[k].validator);
            cr_assert_arr_eq(cm->block_hash.b, o.u.decide.block_hash.b, KULA_HASH_LEN);
            break;
        }
        case KULA_CONS_OUT_TIMEOUT:
        case KULA_CONS_OUT_EVIDENCE:
        case KULA_CONS_OUT_RECHECK:
            break;
        }
    }
}

static void net_run(net *w)
{
    for (uint32_t i = 0; i < w->n; i++)
        net_collect(w, i);
    while (w->nq > 0 || w->nqp > 0) {
        if (w->nqp > 0) {
            kula_block_proposal p = w->qp[--w->nqp];
            for (uint32_t i = 0; i < w->n; i++) {
                /* broadcast: a machine at another height or round refuses
                 * it, as a node would */
                kula_result_ignored(kula_cons_on_proposal(w->c[i], &p, true));
                net_collect(w, i);
            }
            continue;
        }
        kula_vote v = w->q[0];
        memmove(&w->q[0], &w->q[1], (w->nq - 1) * sizeof(w->q[0]));
        w->nq--;
        for (uint32_t i = 0; i < w->n; i++) {
            /* broadcast: stale votes are refused, as a node would */
            kula_result_ignored(kula_cons_on_vote(w->c[i], &v));
            net_collect(w, i);
        }
    }
}

static void net_free(net *w)
{
    for (uint32_t i = 0; i < w->n; i++)
        kula_cons_free(w->c[i]);
}

Test(consensus, happy_path_four_validators)
{
    valset(4, NULL);
    static net w;
    memset(&w, 0, sizeof(w));
    w.n = 4;
    for (uint32_t i = 0; i < 4; i++) {
        cr_assert_eq(kula_cons_new(&w.c[i], &P), 0);
        cr_assert_eq(kula_cons_start_height(w.c[i], 1, &VS, true, i + 1, NULL), 0);
    }
    net_run(&w);
    kula_hash want = H(0x41); /* validator 2's block: proposer of (1, 0) */
    for (uint32_t i = 0; i < 4; i++) {
        cr_assert(w.decided[i], "validator %u did not decide", i + 1);
        cr_assert_arr_eq(w.decision[i].b, want.b, KULA_HASH_LEN);
        cr_assert_geq(w.commit_sigs[i], 3);
        cr_assert_eq(kula_cons_round(w.c[i]), 0);
        cr_assert(kula_cons_decided(w.c[i]));
    }
    /* After the decision, votes of the height are ignored. */
    kula_vote late = V(KULA_VOTE_PREVOTE, 1, 0, &want, 1);
    cr_assert_eq(kula_cons_on_vote(w.c[0], &late), KULA_EINVAL);
    net_free(&w);
}

/* ---- one machine driven by hand ---- */

Test(consensus, proposer_timeout_nil_prevotes_round_one)
{
    valset(4, NULL);
    kula_cons *c;
    cr_assert_eq(kula_cons_new(&c, &P), 0);
    cr_assert_eq(kula_cons_start_height(c, 1, &VS, true, 1, NULL), 0);
    drain(c);
    /* Line 21: not the proposer of (1, 0), so a propose timeout. */
    const kula_cons_out *t = find(KULA_CONS_OUT_TIMEOUT);
    cr_assert_not_null(t);
    cr_assert_eq(t->u.timeout.step, KULA_CONS_STEP_PROPOSE);
    cr_assert_eq(t->u.timeout.duration_ms, 3000);
    cr_assert_eq(count(KULA_CONS_OUT_VOTE), 0);
    cr_assert_eq(kula_cons_on_timeout(c, KULA_CONS_STEP_PREVOTE, 1, 0), KULA_ERANGE);
    cr_assert_eq(kula_cons_on_timeout(c, KULA_CONS_STEP_PROPOSE, 2, 0), KULA_EHEIGHT);
    cr_assert_eq(kula_cons_on_timeout(c, KULA_CONS_STEP_PROPOSE, 1, 0), 0);
    drain(c);
    expect_vote(KULA_VOTE_PREVOTE, 0, NULL); /* line 59 */
    cr_assert_eq(kula_cons_step(c), KULA_CONS_STEP_PREVOTE);
    echo(c, 1);
    feed(c, V(KULA_VOTE_PREVOTE, 1, 0, NULL, 2));
    cr_assert_eq(count(KULA_CONS_OUT_VOTE), 0, "two nil prevotes of four are no quorum");
    feed(c, V(KULA_VOTE_PREVOTE, 1, 0, NULL, 3));
    expect_vote(KULA_VOTE_PRECOMMIT, 0, NULL); /* line 44 */
    t = find(KULA_CONS_OUT_TIMEOUT);           /* line 34 */
    cr_assert_not_null(t);
    cr_assert_eq(t->u.timeout.step, KULA_CONS_STEP_PREVOTE);
    cr_assert_eq(t->u.timeout.duration_ms, 1000);
    echo(c, 1);
    feed(c, V(KULA_VOTE_PRECOMMIT, 1, 0, NULL, 2));
    feed(c, V(KULA_VOTE_PRECOMMIT, 1, 0, NULL, 4));
    t = find(KULA_CONS_OUT_TIMEOUT); /* line 47 */
    cr_assert_not_null(t);
    cr_assert_eq(t->u.timeout.step, KULA_CONS_STEP_PRECOMMIT);
    cr_assert_eq(kula_cons_on_timeout(c, KULA_CONS_STEP_PRECOMMIT, 1, 0), 0); /* line 65 */
    drain(c);
    cr_assert_eq(kula_cons_round(c), 1);
    cr_assert_eq(kula_cons_step(c), KULA_CONS_STEP_PROPOSE);
    t = find(KULA_CONS_OUT_TIMEOUT);
    cr_assert_not_null(t);
    cr_assert_eq(t->u.timeout.round, 1);
    cr_assert_eq(t->u.timeout.duration_ms, 3500, "timeouts grow by delta per round");
    kula_cons_free(c);
}

/* Locks validator 1 on block A in round 0 of height 1, then moves it to
 * round 1 with nil precommits of the others. */
static kula_cons *locked_on_a(const kula_hash *a)
{
    kula_cons *c = mk(1, 1);
    kula_block_proposal p = PR(1, 0, -1, a);
    cr_assert_eq(kula_cons_on_proposal(c, &p, true), 0);
    drain(c);
    expect_vote(KULA_VOTE_PREVOTE, 0, a); /* line 24 */
    echo(c, 1);
    feed(c, V(KULA_VOTE_PREVOTE, 1, 0, a, 2));
    feed(c, V(KULA_VOTE_PREVOTE, 1, 0, a, 3));
    expect_vote(KULA_VOTE_PRECOMMIT, 0, a); /* line 40 */
    echo(c, 1);
    kula_cons_saved s;
    kula_cons_saved_get(c, &s);
    cr_assert_eq(s.locked_round, 0);
    cr_assert_arr_eq(s.locked_hash.b, a->b, KULA_HASH_LEN);
    cr_assert_eq(s.valid_round, 0);
    feed(c, V(KULA_VOTE_PRECOMMIT, 1, 0, NULL, 2));
    feed(c, V(KULA_VOTE_PRECOMMIT, 1, 0, NULL, 3));
    cr_assert_eq(kula_cons_on_timeout(c, KULA_CONS_STEP_PRECOMMIT, 1, 0), 0);
    drain(c);
    cr_assert_eq(kula_cons_round(c), 1);
    return c;
}

Test(consensus, locked_validator_prevotes_nil_for_other_value)
{
    valset(4, NULL);
    kula_hash a = H(0xaa), b = H(0xbb);
    kula_cons *c = locked_on_a(&a);
    /* Round 1, proposer 3 proposes B with no POL: locked on A -> nil (line 26). */
    kula_block_proposal p = PR(1, 1, -1, &b);
    cr_assert_eq(kula_cons_on_proposal(c, &p, true), 0);
    drain(c);
    expect_vote(KULA_VOTE_PREVOTE, 1, NULL);
    kula_cons_free(c);

    /* The same with the lock rule broken: it prevotes B. */
    c = mk(1, 1);
    kula_cons_debug_break_locking(c, true);
    kula_cons_free(c);
    c = locked_on_a(&a);
    kula_cons_debug_break_locking(c, true);
    cr_assert_eq(kula_cons_on_proposal(c, &p, true), 0);
    drain(c);
    expect_vote(KULA_VOTE_PREVOTE, 1, &b);
    kula_cons_free(c);

    /* Re-proposing A itself: prevote A (lockedValue = v). */
    c = locked_on_a(&a);
    kula_block_proposal pa = PR(1, 1, -1, &a);
    cr_assert_eq(kula_cons_on_proposal(c, &pa, true), 0);
    drain(c);
    expect_vote(KULA_VOTE_PREVOTE, 1, &a);
    kula_cons_free(c);
}

Test(consensus, pol_round_at_or_above_lock_unlocks)
{
    valset(4, NULL);
    kula_hash a = H(0xaa), b = H(0xbb);
    kula_cons *c = locked_on_a(&a);
    /* Round 1: others prevote B (a polka the locked validator sees). */
    feed(c, V(KULA_VOTE_PREVOTE, 1, 1, &b, 2));
    feed(c, V(KULA_VOTE_PREVOTE, 1, 1, &b, 3));
    feed(c, V(KULA_VOTE_PREVOTE, 1, 1, &b, 4));
    feed(c, V(KULA_VOTE_PRECOMMIT, 1, 1, NULL, 2));
    feed(c, V(KULA_VOTE_PRECOMMIT, 1, 1, NULL, 3));
    feed(c, V(KULA_VOTE_PRECOMMIT, 1, 1, NULL, 4));
    cr_assert_eq(kula_cons_on_timeout(c, KULA_CONS_STEP_PRECOMMIT, 1, 1), 0);
    drain(c);
    cr_assert_eq(kula_cons_round(c), 2);
    /* Round 2, proposer 4 re-proposes B with pol_round 1 >= lockedRound 0:
     * line 28-30, prevote B. */
    kula_block_proposal p = PR(1, 2, 1, &b);
    cr_assert_eq(p.proposer, 4);
    cr_assert_eq(kula_cons_on_proposal(c, &p, true), 0);
    drain(c);
    expect_vote(KULA_VOTE_PREVOTE, 2, &b);
    kula_cons_free(c);
}

Test(consensus, pol_round_below_lock_keeps_lock)
{
    valset(4, NULL);
    kula_hash a = H(0xaa), b = H(0xbb);
    /* Validator 1 sees a polka for B in round 0 but locks on A in round 1. */
    kula_cons *c = mk(1, 1);
    feed(c, V(KULA_VOTE_PREVOTE, 1, 0, &b, 2));
    feed(c, V(KULA_VOTE_PREVOTE, 1, 0, &b, 3));
    feed(c, V(KULA_VOTE_PREVOTE, 1, 0, &b, 4));
    feed(c, V(KULA_VOTE_PRECOMMIT, 1, 0, NULL, 2));
    feed(c, V(KULA_VOTE_PRECOMMIT, 1, 0, NULL, 3));
    feed(c, V(KULA_VOTE_PRECOMMIT, 1, 0, NULL, 4));
    cr_assert_eq(kula_cons_on_timeout(c, KULA_CONS_STEP_PRECOMMIT, 1, 0), 0);
    drain(c);
    kula_block_proposal p1 = PR(1, 1, -1, &a);
    cr_assert_eq(kula_cons_on_proposal(c, &p1, true), 0);
    drain(c);
    expect_vote(KULA_VOTE_PREVOTE, 1, &a);
    echo(c, 1);
    feed(c, V(KULA_VOTE_PREVOTE, 1, 1, &a, 2));
    feed(c, V(KULA_VOTE_PREVOTE, 1, 1, &a, 3));
    expect_vote(KULA_VOTE_PRECOMMIT, 1, &a); /* locked on A in round 1 */
    echo(c, 1);
    feed(c, V(KULA_VOTE_PRECOMMIT, 1, 1, NULL, 2));
    feed(c, V(KULA_VOTE_PRECOMMIT, 1, 1, NULL, 3));
    cr_assert_eq(kula_cons_on_timeout(c, KULA_CONS_STEP_PRECOMMIT, 1, 1), 0);
    drain(c);
    /* Round 2: B with pol_round 0 < lockedRound 1 -> nil (line 33). */
    kula_block_proposal p2 = PR(1, 2, 0, &b);
    cr_assert_eq(kula_cons_on_proposal(c, &p2, true), 0);
    drain(c);
    expect_vote(KULA_VOTE_PREVOTE, 2, NULL);
    kula_cons_free(c);
}

Test(consensus, invalid_block_gets_nil_prevote)
{
    valset(4, NULL);
    kula_hash a = H(0xaa);
    kula_cons *c = mk(1, 1);
    kula_block_proposal p = PR(1, 0, -1, &a);
    cr_assert_eq(kula_cons_on_proposal(c, &p, false), 0);
    drain(c);
    expect_vote(KULA_VOTE_PREVOTE, 0, NULL);
    /* And an invalid block is never decided, whatever the precommits. */
    feed(c, V(KULA_VOTE_PRECOMMIT, 1, 0, &a, 2));
    feed(c, V(KULA_VOTE_PRECOMMIT, 1, 0, &a, 3));
    feed(c, V(KULA_VOTE_PRECOMMIT, 1, 0, &a, 4));
    cr_assert_eq(count(KULA_CONS_OUT_DECIDE), 0);
    kula_cons_free(c);
}

Test(consensus, valid_value_is_reproposed)
{
    valset(4, NULL);
    kula_hash a = H(0xaa);
    /* Validator 3 proposes round 1 of height 1. */
    kula_cons *c = mk(3, 1);
    kula_block_proposal p = PR(1, 0, -1, &a);
    cr_assert_eq(kula_cons_on_proposal(c, &p, true), 0);
    drain(c);
    echo(c, 3);
    feed(c, V(KULA_VOTE_PREVOTE, 1, 0, &a, 1));
    feed(c, V(KULA_VOTE_PREVOTE, 1, 0, &a, 2));
    expect_vote(KULA_VOTE_PRECOMMIT, 0, &a);
    echo(c, 3);
    feed(c, V(KULA_VOTE_PRECOMMIT, 1, 0, NULL, 1));
    feed(c, V(KULA_VOTE_PRECOMMIT, 1, 0, NULL, 2));
    cr_assert_eq(kula_cons_on_timeout(c, KULA_CONS_STEP_PRECOMMIT, 1, 0), 0);
    drain(c);
    const kula_cons_out *o = find(KULA_CONS_OUT_PROPOSE); /* lines 15-16, 19 */
    cr_assert_not_null(o);
    cr_assert_eq(o->u.propose.round, 1);
    cr_assert(o->u.propose.reuse);
    cr_assert_eq(o->u.propose.pol_round, 0);
    cr_assert_arr_eq(o->u.propose.block_hash.b, a.b, KULA_HASH_LEN);
    cr_assert_eq(count(KULA_CONS_OUT_TIMEOUT), 0, "the proposer schedules no propose timeout");
    kula_cons_free(c);

    /* A proposer with no valid value asks for a new block. */
    cr_assert_eq(kula_cons_new(&c, &P), 0);
    cr_assert_eq(kula_cons_start_height(c, 1, &VS, true, 2, NULL), 0);
    drain(c);
    o = find(KULA_CONS_OUT_PROPOSE);
    cr_assert_not_null(o);
    cr_assert(!o->u.propose.reuse);
    cr_assert_eq(o->u.propose.pol_round, -1);
    kula_cons_free(c);
}

Test(consensus, f_plus_one_jumps_rounds)
{
    valset(4, NULL);
    kula_hash a = H(0xaa);
    kula_cons *c = mk(1, 1);
    cr_assert_eq(feed(c, V(KULA_VOTE_PREVOTE, 1, 5, &a, 2)), 0);
    cr_assert_eq(kula_cons_round(c), 0, "one validator of four is not f+1");
    cr_assert_eq(feed(c, V(KULA_VOTE_PRECOMMIT, 1, 7, NULL, 3)), 0);
    cr_assert_eq(kula_cons_round(c), 0, "messages of different rounds do not add up");
    cr_assert_eq(feed(c, V(KULA_VOTE_PRECOMMIT, 1, 5, NULL, 3)), 0);
    cr_assert_eq(kula_cons_round(c), 5, "line 55: f+1 of round 5");
    const kula_cons_out *t = find(KULA_CONS_OUT_TIMEOUT);
    cr_assert_not_null(t);
    cr_assert_eq(t->u.timeout.round, 5);
    cr_assert_eq(t->u.timeout.duration_ms, 3000 + 5 * 500);
    kula_cons_free(c);
}

Test(consensus, equivocation_gives_evidence)
{
    valset(4, NULL);
    kula_hash a = H(0xaa), b = H(0xbb);
    kula_cons *c = mk(1, 1);
    cr_assert_eq(feed(c, V(KULA_VOTE_PREVOTE, 1, 0, &a, 2)), 0);
    cr_assert_eq(feed(c, V(KULA_VOTE_PREVOTE, 1, 0, &b, 2)), KULA_EVOTED);
    const kula_cons_out *e = find(KULA_CONS_OUT_EVIDENCE);
    cr_assert_not_null(e);
    cr_assert_eq(e->u.evidence.a.validator, 2);
    cr_assert_eq(e->u.evidence.b.validator, 2);
    cr_assert_arr_eq(e->u.evidence.a.block_hash.b, a.b, KULA_HASH_LEN);
    cr_assert_arr_eq(e->u.evidence.b.block_hash.b, b.b, KULA_HASH_LEN);
    /* Block vs nil is also a conflict; the evidence is given once. */
    cr_assert_eq(feed(c, V(KULA_VOTE_PREVOTE, 1, 0, NULL, 2)), KULA_EVOTED);
    cr_assert_eq(count(KULA_CONS_OUT_EVIDENCE), 0);
    /* Precommits are a separate slot. */
    cr_assert_eq(feed(c, V(KULA_VOTE_PRECOMMIT, 1, 0, &b, 2)), 0);
    cr_assert_eq(feed(c, V(KULA_VOTE_PRECOMMIT, 1, 0, NULL, 2)), KULA_EVOTED);
    cr_assert_eq(count(KULA_CONS_OUT_EVIDENCE), 1);
    /* Conflicting votes still count for their values (the paper counts
     * messages), up to KULA_CONS_CONFLICTS values: a fourth is dropped. */
    kula_hash c4 = H(0xcc);
    cr_assert_eq(feed(c, V(KULA_VOTE_PREVOTE, 1, 0, &c4, 2)), KULA_EVOTED);
    cr_assert_eq(feed(c, V(KULA_VOTE_PREVOTE, 1, 0, &c4, 3)), 0);
    cr_assert_eq(count(KULA_CONS_OUT_TIMEOUT), 0, "validator 2's fourth value is not kept");
    /* a, with 2's first vote and 1, 4, is a polka. */
    kula_block_proposal p = PR(1, 0, -1, &a);
    cr_assert_eq(kula_cons_on_proposal(c, &p, true), 0);
    drain(c);
    echo(c, 1);
    feed(c, V(KULA_VOTE_PREVOTE, 1, 0, &a, 4));
    expect_vote(KULA_VOTE_PRECOMMIT, 0, &a);
    /* A second, different proposal of the round is refused. */
    kula_block_proposal p2 = PR(1, 0, -1, &b);
    cr_assert_eq(kula_cons_on_proposal(c, &p2, true), KULA_EVOTED);
    cr_assert_eq(kula_cons_on_proposal(c, &p, true), KULA_EEXIST);
    kula_cons_free(c);
}

Test(consensus, duplicates_and_strangers_ignored)
{
    valset(4, NULL);
    kula_hash a = H(0xaa);
    kula_cons *c = mk(1, 1);
    cr_assert_eq(feed(c, V(KULA_VOTE_PREVOTE, 1, 0, &a, 2)), 0);
    cr_assert_eq(feed(c, V(KULA_VOTE_PREVOTE, 1, 0, &a, 2)), KULA_EEXIST);
    cr_assert_eq(feed(c, V(KULA_VOTE_PREVOTE, 1, 0, &a, 9)), KULA_EUNKNOWNMEMBER);
    cr_assert_eq(feed(c, V(KULA_VOTE_PREVOTE, 1, 0, &a, 0)), KULA_EUNKNOWNMEMBER);
    /* Strangers and duplicates do not count toward a quorum. */
    cr_assert_eq(feed(c, V(KULA_VOTE_PREVOTE, 1, 0, &a, 5)), KULA_EUNKNOWNMEMBER);
    cr_assert_eq(count(KULA_CONS_OUT_TIMEOUT), 0);
    kula_vote bad = V(KULA_VOTE_PREVOTE, 1, 0, &a, 3);
    bad.type = 3;
    cr_assert_eq(feed(c, bad), KULA_EINVAL);
    cr_assert_eq(feed(c, V(KULA_VOTE_PREVOTE, 7, 0, &a, 3)), KULA_EHEIGHT);
    cr_assert_eq(feed(c, V(KULA_VOTE_PREVOTE, 0, 0, &a, 3)), KULA_EHEIGHT);
    /* Rounds beyond the window are refused; the window's last is kept. */
    cr_assert_eq(feed(c, V(KULA_VOTE_PREVOTE, 1, KULA_CONS_ROUND_WINDOW + 1, &a, 3)),
                 KULA_ERANGE);
    cr_assert_eq(feed(c, V(KULA_VOTE_PREVOTE, 1, KULA_CONS_ROUND_WINDOW, &a, 3)), 0);
    /* A proposal from someone else than the round's proposer. */
    kula_block_proposal p = PR(1, 0, -1, &a);
    p.proposer = 3;
    cr_assert_eq(kula_cons_on_proposal(c, &p, true), KULA_ESIGNERS);
    p = PR(1, 1, 1, &a);
    cr_assert_eq(kula_cons_on_proposal(c, &p, true), KULA_ERANGE);
    kula_cons_free(c);
}

Test(consensus, byzantine_round_spam_is_bounded)
{
    valset(4, NULL);
    kula_hash a = H(0xaa);
    kula_cons *c = mk(1, 1);
    uint32_t accepted = 0;
    for (uint32_t r = 0; r < 100000; r++)
        accepted += feed(c, V(KULA_VOTE_PREVOTE, 1, r, &a, 4)) == 0;
    cr_assert_eq(accepted, KULA_CONS_ROUND_WINDOW + 1);
    cr_assert_eq(kula_cons_round(c), 0);
    /* Walk the machine through many rounds by timeouts while validator 4
     * spams every round: memory stays bounded (ASan would see a leak or
     * overflow), and old rounds are dropped. */
    for (uint32_t r = 0; r < 200; r++) {
        cr_assert_eq(kula_cons_round(c), r);
        for (uint32_t k = r; k <= r + KULA_CONS_ROUND_WINDOW; k++)
            feed(c, V(KULA_VOTE_PRECOMMIT, 1, k, NULL, 4));
        feed(c, V(KULA_VOTE_PRECOMMIT, 1, r, NULL, 2));
        feed(c, V(KULA_VOTE_PRECOMMIT, 1, r, NULL, 3));
        cr_assert_eq(kula_cons_on_timeout(c, KULA_CONS_STEP_PRECOMMIT, 1, r), 0);
        drain(c);
    }
    kula_cons_free(c);
}

Test(consensus, next_height_buffered_and_replayed)
{
    valset(4, NULL);
    kula_hash a = H(0xaa);
    kula_cons *c = mk(1, 1);
    /* Height 2 messages arrive early. */
    cr_assert_eq(feed(c, V(KULA_VOTE_PRECOMMIT, 2, 0, NULL, 2)), 0);
    cr_assert_eq(feed(c, V(KULA_VOTE_PRECOMMIT, 2, 0, NULL, 3)), 0);
    cr_assert_eq(feed(c, V(KULA_VOTE_PRECOMMIT, 2, 0, NULL, 4)), 0);
    kula_block_proposal p = PR(2, 0, -1, &a);
    cr_assert_eq(p.proposer, 3);
    cr_assert_eq(kula_cons_on_proposal(c, &p, true), 0);
    cr_assert_eq(feed(c, V(KULA_VOTE_PRECOMMIT, 3, 0, NULL, 4)), KULA_EHEIGHT);
    /* The buffer is bounded per validator. */
    int rc = 0;
    for (uint32_t r = 1; r < 100 && rc == 0; r++)
        rc = feed(c, V(KULA_VOTE_PREVOTE, 2, r, NULL, 4));
    cr_assert_eq(rc, KULA_ETOOBIG);
    cr_assert_eq(count(KULA_CONS_OUT_TIMEOUT), 0, "nothing of height 2 is processed yet");
    cr_assert_eq(kula_cons_start_height(c, 2, &VS, true, 1, NULL), 0);
    drain(c);
    /* Replayed: three precommits of round 0 -> line 47's timeout. */
    bool precommit_timeout = false;
    for (size_t i = 0; i < NOUT; i++)
        if (OUT[i].kind == KULA_CONS_OUT_TIMEOUT &&
            OUT[i].u.timeout.step == KULA_CONS_STEP_PRECOMMIT && OUT[i].u.timeout.height == 2)
            precommit_timeout = true;
    cr_assert(precommit_timeout);
    const kula_cons_out *o = find(KULA_CONS_OUT_RECHECK);
    cr_assert_not_null(o, "the early proposal is handed back for validation");
    cr_assert_arr_eq(o->u.recheck.block_hash.b, a.b, KULA_HASH_LEN);
    cr_assert_eq(kula_cons_on_proposal(c, &o->u.recheck, true), 0);
    drain(c);
    expect_vote(KULA_VOTE_PREVOTE, 0, &a);
    kula_cons_free(c);
}

Test(consensus, saved_state_prevents_double_signing)
{
    valset(4, NULL);
    kula_hash a = H(0xaa), b = H(0xbb);
    kula_cons *c = mk(1, 1);
    kula_block_proposal p = PR(1, 0, -1, &a);
    cr_assert_eq(kula_cons_on_proposal(c, &p, true), 0);
    drain(c);
    expect_vote(KULA_VOTE_PREVOTE, 0, &a);
    kula_cons_saved s;
    kula_cons_saved_get(c, &s); /* persisted before the vote left */
    kula_cons_free(c);
    cr_assert(s.has_prevote && !s.has_precommit);
    cr_assert_eq(s.step, KULA_CONS_STEP_PREVOTE);

    /* Restart: the same vote again (identical, not an equivocation). */
    cr_assert_eq(kula_cons_new(&c, &P), 0);
    cr_assert_eq(kula_cons_start_height(c, 1, &VS, true, 1, &s), 0);
    drain(c);
    expect_vote(KULA_VOTE_PREVOTE, 0, &a);
    /* A different proposal of that round (a Byzantine proposer's second
     * one, which this fresh machine has not seen) gets no prevote. */
    kula_block_proposal pb = PR(1, 0, -1, &b);
    cr_assert_eq(kula_cons_on_proposal(c, &pb, true), 0);
    drain(c);
    cr_assert_eq(count(KULA_CONS_OUT_VOTE), 0);
    cr_assert_eq(kula_cons_on_timeout(c, KULA_CONS_STEP_PROPOSE, 1, 0), KULA_ERANGE);
    kula_cons_free(c);

    /* Even a saved state whose step was lost (an older copy) cannot make
     * it sign anything else at or below the last vote. */
    s.step = KULA_CONS_STEP_PROPOSE;
    s.has_prevote = false; /* last signed: precommit A of (1, 0) only */
    s.has_precommit = true;
    s.precommit_height = 1;
    s.precommit_round = 0;
    s.precommit_has_block = true;
    s.precommit_hash = a;
    cr_assert_eq(kula_cons_new(&c, &P), 0);
    cr_assert_eq(kula_cons_start_height(c, 1, &VS, true, 1, &s), 0);
    drain(c);
    cr_assert_eq(kula_cons_on_proposal(c, &pb, true), 0);
    drain(c);
    cr_assert_eq(count(KULA_CONS_OUT_VOTE), 0, "no prevote at or below the last precommit");
    feed(c, V(KULA_VOTE_PREVOTE, 1, 0, &b, 2));
    feed(c, V(KULA_VOTE_PREVOTE, 1, 0, &b, 3));
    feed(c, V(KULA_VOTE_PREVOTE, 1, 0, &b, 4));
    cr_assert_eq(count(KULA_CONS_OUT_VOTE), 0, "no precommit B after precommit A");
    /* A later round is fine. */
    feed(c, V(KULA_VOTE_PRECOMMIT, 1, 0, NULL, 2));
    feed(c, V(KULA_VOTE_PRECOMMIT, 1, 0, NULL, 3));
    cr_assert_eq(kula_cons_on_timeout(c, KULA_CONS_STEP_PRECOMMIT, 1, 0), 0);
    cr_assert_eq(kula_cons_on_timeout(c, KULA_CONS_STEP_PROPOSE, 1, 1), 0);
    drain(c);
    expect_vote(KULA_VOTE_PREVOTE, 1, NULL);
    kula_cons_free(c);

    /* A saved state from a higher height is refused. */
    s.height = 5;
    cr_assert_eq(kula_cons_new(&c, &P), 0);
    cr_assert_eq(kula_cons_start_height(c, 1, &VS, true, 1, &s), KULA_EINVAL);
    kula_cons_free(c);
}

/* A validator that crashed after voting in round 0 and restarted in round
 * 1 signs its round-0 votes again: a peer still waiting in round 0 for 2f+1
 * precommits (no timeout runs before them) would otherwise wait for ever,
 * since no copy of those votes survived the crash (seed 17392 of kula-sim). */
Test(consensus, restart_resends_votes_of_an_earlier_round)
{
    valset(4, NULL);
    kula_hash a = H(0xaa);
    kula_cons *c = locked_on_a(&a);
    kula_cons_saved s;
    kula_cons_saved_get(c, &s);
    kula_cons_free(c);
    cr_assert_eq(s.round, 1);
    cr_assert_eq(kula_cons_new(&c, &P), 0);
    cr_assert_eq(kula_cons_start_height(c, 1, &VS, true, 1, &s), 0);
    drain(c);
    cr_assert_eq(count(KULA_CONS_OUT_VOTE), 2);
    bool prevote = false, precommit = false;
    for (size_t i = 0; i < NOUT; i++) {
        if (OUT[i].kind != KULA_CONS_OUT_VOTE)
            continue;
        const kula_vote *v = &OUT[i].u.vote;
        cr_assert_eq(v->round, 0);
        cr_assert(v->has_block);
        cr_assert_arr_eq(v->block_hash.b, a.b, KULA_HASH_LEN);
        prevote |= v->type == KULA_VOTE_PREVOTE;
        precommit |= v->type == KULA_VOTE_PRECOMMIT;
    }
    cr_assert(prevote && precommit);
    kula_cons_saved s2;
    kula_cons_saved_get(c, &s2);
    cr_assert_eq(s2.precommit_round, 0, "what was signed does not change");
    kula_cons_free(c);
}

Test(consensus, proposer_never_proposes_twice)
{
    valset(4, NULL);
    kula_hash a = H(0xaa);
    kula_cons *c;
    cr_assert_eq(kula_cons_new(&c, &P), 0);
    cr_assert_eq(kula_cons_start_height(c, 1, &VS, true, 2, NULL), 0);
    drain(c);
    cr_assert_not_null(find(KULA_CONS_OUT_PROPOSE));
    kula_cons_saved s;
    kula_cons_saved_get(c, &s);
    cr_assert(s.has_prop && !s.prop_has_hash);
    kula_cons_free(c);
    /* Crashed before the built block's proposal came back: it may have been
     * signed, so round 0 is not proposed again. */
    cr_assert_eq(kula_cons_new(&c, &P), 0);
    cr_assert_eq(kula_cons_start_height(c, 1, &VS, true, 2, &s), 0);
    drain(c);
    cr_assert_null(find(KULA_CONS_OUT_PROPOSE));
    /* ... but the round still times out (else a single validator, the
     * proposer of every round, would wait for good: crashloop_single) */
    const kula_cons_out *t = find(KULA_CONS_OUT_TIMEOUT);
    cr_assert_not_null(t);
    cr_assert_eq(t->u.timeout.step, KULA_CONS_STEP_PROPOSE);
    cr_assert_eq(t->u.timeout.height, 1);
    cr_assert_eq(t->u.timeout.round, 0);
    kula_cons_free(c);
    /* With the proposal recorded, the same block is proposed again. */
    cr_assert_eq(kula_cons_new(&c, &P), 0);
    cr_assert_eq(kula_cons_start_height(c, 1, &VS, true, 2, NULL), 0);
    drain(c);
    kula_block_proposal p = PR(1, 0, -1, &a);
    cr_assert_eq(kula_cons_on_proposal(c, &p, true), 0);
    kula_cons_saved_get(c, &s);
    cr_assert(s.prop_has_hash);
    kula_cons_free(c);
    cr_assert_eq(kula_cons_new(&c, &P), 0);
    cr_assert_eq(kula_cons_start_height(c, 1, &VS, true, 2, &s), 0);
    drain(c);
    const kula_cons_out *o = find(KULA_CONS_OUT_PROPOSE);
    cr_assert_not_null(o);
    cr_assert(o->u.propose.reuse);
    cr_assert_arr_eq(o->u.propose.block_hash.b, a.b, KULA_HASH_LEN);
    kula_cons_free(c);
}

Test(consensus, unequal_voting_power)
{
    uint64_t pw[4] = { 10, 1, 1, 1 }; /* total 13: quorum > 26/3, f+1 > 13/3 */
    valset(4, pw);
    kula_hash a = H(0xaa);
    kula_cons *c = mk(2, 1);
    kula_block_proposal p = PR(1, 0, -1, &a);
    /* Validator 2 proposes (1, 0); it feeds its own proposal back. */
    cr_assert_eq(kula_cons_on_proposal(c, &p, true), 0);
    drain(c);
    echo(c, 2);
    /* Three small validators are not a quorum (3 of 13) ... */
    feed(c, V(KULA_VOTE_PRECOMMIT, 1, 0, &a, 2));
    feed(c, V(KULA_VOTE_PRECOMMIT, 1, 0, &a, 3));
    feed(c, V(KULA_VOTE_PRECOMMIT, 1, 0, &a, 4));
    cr_assert_eq(count(KULA_CONS_OUT_DECIDE), 0);
    /* ... but with validator 1 (10 of 13) they are. */
    feed(c, V(KULA_VOTE_PRECOMMIT, 1, 0, &a, 1));
    const kula_cons_out *d = find(KULA_CONS_OUT_DECIDE);
    cr_assert_not_null(d);
    cr_assert_eq(d->u.decide.commit->nsigs, 4);
    for (uint32_t i = 0; i < 4; i++)
        cr_assert_eq(d->u.decide.commit->sigs[i].validator, i + 1);
    kula_cons_free(c);

    /* Validator 1 alone is more than 1/3: it moves others to its round. */
    c = mk(3, 1);
    feed(c, V(KULA_VOTE_PREVOTE, 1, 4, NULL, 1));
    cr_assert_eq(kula_cons_round(c), 4);
    kula_cons_free(c);
    /* Validator 1 alone decides with its precommit. */
    c = mk(3, 1);
    cr_assert_eq(kula_cons_on_proposal(c, &p, true), 0);
    feed(c, V(KULA_VOTE_PRECOMMIT, 1, 0, &a, 1));
    cr_assert_not_null(find(KULA_CONS_OUT_DECIDE));
    kula_cons_free(c);
}

Test(consensus, bad_arguments)
{
    valset(4, NULL);
    kula_cons *c;
    cr_assert_eq(kula_cons_new(&c, &P), 0);
    kula_vote v = V(KULA_VOTE_PREVOTE, 1, 0, NULL, 2);
    cr_assert_eq(kula_cons_on_vote(c, &v), KULA_EINVAL, "before start_height");
    cr_assert_eq(kula_cons_on_timeout(c, 1, 1, 0), KULA_EINVAL);
    cr_assert_eq(kula_cons_start_height(c, 1, &VS, true, 9, NULL), KULA_EINVAL);
    kula_valset bad = VS;
    bad.total_power = 5;
    cr_assert_eq(kula_cons_start_height(c, 1, &bad, true, 1, NULL), KULA_EINVAL);
    bad = VS;
    bad.v[1].id = 1;
    cr_assert_eq(kula_cons_start_height(c, 1, &bad, true, 1, NULL), KULA_EINVAL);
    bad.n = 0;
    cr_assert_eq(kula_cons_start_height(c, 1, &bad, true, 1, NULL), KULA_EINVAL);
    /* An observer follows but never votes. */
    cr_assert_eq(kula_cons_start_height(c, 1, &VS, false, 0, NULL), 0);
    drain(c);
    cr_assert_eq(kula_cons_on_timeout(c, KULA_CONS_STEP_PROPOSE, 1, 0), 0);
    drain(c);
    cr_assert_eq(count(KULA_CONS_OUT_VOTE), 0);
    cr_assert_eq(kula_cons_on_timeout(c, 9, 1, 0), KULA_EINVAL);
    kula_cons_free(c);
    kula_cons_free(NULL);
}

/* ---- the proposal codec ---- */

Test(consensus, proposal_codec)
{
    kula_block_proposal p, q;
    memset(&p, 0, sizeof(p));
    p.height = 7;
    p.round = 3;
    p.pol_round = -1;
    p.block_hash = H(0x11);
    p.proposer = 2;
    memset(p.sig.b, 0x22, KULA_SIG_LEN);
    kula_buf b;
    kula_buf_init(&b);
    cr_assert_eq(kula_block_proposal_encode(&b, &p), 0);
    /* [[1, 7, 3, -1, bin32, 2], bin64] */
    cr_assert_eq(b.data[0], 0x92);
    cr_assert_eq(b.data[1], 0x96);
    cr_assert_eq(b.data[2], 0x01);
    cr_assert_eq(b.data[5], 0xff, "pol_round -1 is the negative fixint ff");
    cr_assert_eq(kula_block_proposal_decode(&q, b.data, b.len), 0);
    cr_assert_eq(memcmp(&p, &q, sizeof(p)), 0);
    cr_assert_eq(kula_block_proposal_decode(&q, b.data, b.len - 1), KULA_ETRUNC);
    kula_buf_append(&b, "", 1);
    cr_assert_eq(kula_block_proposal_decode(&q, b.data, b.len), KULA_ETRAILING);
    kula_buf_reset(&b);
    p.pol_round = 3; /* not below round */
    cr_assert_eq(kula_block_proposal_encode(&b, &p), KULA_ERANGE);
    cr_assert_eq(b.len, 0);
    p.pol_round = 2;
    cr_assert_eq(kula_block_proposal_encode(&b, &p), 0);
    cr_assert_eq(kula_block_proposal_decode(&q, b.data, b.len), 0);
    cr_assert_eq(q.pol_round, 2);
    b.data[5] = 0x03; /* pol_round 3 = round */
    cr_assert_eq(kula_block_proposal_decode(&q, b.data, b.len), KULA_ERANGE);
    b.data[5] = 0xfe; /* -2 */
    cr_assert_eq(kula_block_proposal_decode(&q, b.data, b.len), KULA_ERANGE);
    b.data[5] = 0x02;
    b.data[2] = 0x02; /* version 2 */
    cr_assert_eq(kula_block_proposal_decode(&q, b.data, b.len), KULA_EVERSION);
    kula_hash d1, d2, chain = H(0x99);
    b.data[2] = 0x01;
    cr_assert_eq(kula_block_proposal_decode(&q, b.data, b.len), 0);
    kula_block_proposal_sighash(&d1, &chain, &q);
    q.round++;
    kula_block_proposal_sighash(&d2, &chain, &q);
    cr_assert(memcmp(d1.b, d2.b, KULA_HASH_LEN) != 0);
    kula_buf_free(&b);
}
