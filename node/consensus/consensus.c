/* consensus.c -- Tendermint (arXiv:1807.04938, Algorithm 1) as a pure state
 * machine for one validator; the rules quote the paper's line numbers. */
#include <stdlib.h>
#include <string.h>

#include "kula/consensus/consensus.h"
#include "kula/base/error.h"
#include "consensus_testing.h"

/* One validator's votes of one type in one round: normally one; an
 * equivocator's conflicting votes are kept too (up to KULA_CONS_CONFLICTS
 * different values), because the paper counts every message received: the
 * second vote of an equivocator may be part of the proof of lock others
 * hold, and refusing it could stall a correct node. */
typedef struct slot {
    uint8_t n;
    bool evidenced; /* an EVIDENCE was queued for this slot */
    kula_vote v[KULA_CONS_CONFLICTS];
} slot;

/* Everything received for one round of the current height. */
typedef struct rrec {
    uint32_t round;
    slot *pv, *pc; /* one per validator index */
    bool has_prop;
    bool prop_valid;
    kula_block_proposal prop;
} rrec;

/* A message of the next height, kept until kula_cons_start_height. */
typedef struct future {
    bool is_prop;
    kula_block_proposal p;
    kula_vote v;
} future;

struct kula_cons {
    kula_cons_params p;
    bool started;
    bool decided;
    uint64_t height;
    uint32_t round;
    uint8_t step;
    kula_valset vs;
    bool is_val;
    uint32_t my_id;
    int64_t locked_round;
    kula_hash locked;
    int64_t valid_round;
    kula_hash validv;
    bool fired34, fired36, fired47; /* "for the first time" in round_p */
    kula_cons_saved signed_; /* the last vote and proposal asked for */
    rrec **rounds;           /* ascending round */
    uint32_t nrounds;
    future *fut;
    uint32_t nfut, capfut;
    uint32_t fut_count[KULA_MAX_VALIDATORS];
    kula_cons_out *q;
    size_t qhead, qlen, qcap;
    int qerr;
    kula_commit commit;
    bool break_locking;
};

/* ---- arithmetic and lookups ---- */

bool kula_cons_quorum(uint64_t power, uint64_t total)
{
    /* 3p > 2t  <=>  p > floor(2t/3), and floor(2t/3) = 2(t/3) + (2(t%3))/3. */
    uint64_t lim = (total / 3) * 2 + ((total % 3) * 2) / 3;
    return power > lim;
}

bool kula_cons_one_third(uint64_t power, uint64_t total) { return power > total / 3; }

uint32_t kula_cons_proposer(const kula_valset *vs, uint64_t height, uint32_t round)
{
    if (vs == NULL || vs->n == 0)
        return 0;
    uint64_t i = (height % vs->n + round % vs->n) % vs->n;
    return vs->v[i].id;
}

void kula_cons_params_from(kula_cons_params *cp, const kula_params *p)
{
    cp->timeout_propose_ms = p->timeout_propose_ms;
    cp->timeout_vote_ms = p->timeout_vote_ms;
    cp->timeout_delta_ms = p->timeout_delta_ms;
}

/* Returns: the index of validator id in c->vs, or -1. */
static int vindex(const kula_valset *vs, uint32_t id)
{
    uint32_t lo = 0, hi = vs->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (vs->v[mid].id == id)
            return (int)mid;
        if (vs->v[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static bool hash_eq(const kula_hash *a, const kula_hash *b)
{
    return memcmp(a->b, b->b, KULA_HASH_LEN) == 0;
}

/* timeout_step(r) = base + r * delta (SPEC §7.4). */
static uint64_t timeout_ms(const kula_cons *c, uint8_t step, uint32_t r)
{
    uint64_t base = step == KULA_CONS_STEP_PROPOSE ? c->p.timeout_propose_ms : c->p.timeout_vote_ms;
    return base + (uint64_t)r * c->p.timeout_delta_ms;
}

/* ---- output queue ---- */

static void push(kula_cons *c, const kula_cons_out *o)
{
    if (c->qhead > 0 && c->qhead == c->qlen) {
        c->qhead = c->qlen = 0;
    }
    if (c->qlen == c->qcap) {
        size_t ncap = c->qcap ? c->qcap * 2 : 16;
        kula_cons_out *nq = realloc(c->q, ncap * sizeof(*nq));
        if (nq == NULL) {
            c->qerr = KULA_ENOMEM;
            return;
        }
        c->q = nq;
        c->qcap = ncap;
    }
    c->q[c->qlen++] = *o;
}

bool kula_cons_next(kula_cons *c, kula_cons_out *out)
{
    if (c->qhead == c->qlen) {
        c->qhead = c->qlen = 0;
        return false;
    }
    *out = c->q[c->qhead++];
    return true;
}

static void schedule(kula_cons *c, uint8_t step)
{
    kula_cons_out o;
    memset(&o, 0, sizeof(o));
    o.kind = KULA_CONS_OUT_TIMEOUT;
    o.u.timeout.step = step;
    o.u.timeout.height = c->height;
    o.u.timeout.round = c->round;
    o.u.timeout.duration_ms = timeout_ms(c, step, c->round);
    push(c, &o);
}

/* ---- never sign twice ---- */

/* Orders (height, round, type) lexicographically. */
static int cmp_hrt(uint64_t h1, uint32_t r1, uint8_t t1, uint64_t h2, uint32_t r2, uint8_t t2)
{
    if (h1 != h2)
        return h1 < h2 ? -1 : 1;
    if (r1 != r2)
        return r1 < r2 ? -1 : 1;
    if (t1 != t2)
        return t1 < t2 ? -1 : 1;
    return 0;
}

/* The record of the last vote of one type asked for. */
typedef struct lastvote {
    bool *has;
    uint64_t *height;
    uint32_t *round;
    bool *has_block;
    kula_hash *hash;
} lastvote;

static lastvote last_of(kula_cons_saved *s, uint8_t type)
{
    lastvote l;
    if (type == KULA_VOTE_PREVOTE) {
        l = (lastvote){ &s->has_prevote, &s->prevote_height, &s->prevote_round,
                        &s->prevote_has_block, &s->prevote_hash };
    } else {
        l = (lastvote){ &s->has_precommit, &s->precommit_height, &s->precommit_round,
                        &s->precommit_has_block, &s->precommit_hash };
    }
    return l;
}

/* Returns: true if a vote of type for block (NULL: nil) at c's height and
 * round can be signed without equivocating, given what was signed. */
static bool can_sign(kula_cons *c, uint8_t type, const kula_hash *block)
{
    kula_cons_saved *s = &c->signed_;
    lastvote l = last_of(s, type);
    if (*l.has) {
        int d = cmp_hrt(c->height, c->round, 0, *l.height, *l.round, 0);
        if (d < 0)
            return false;
        if (d == 0) /* the same vote again (a restart), or nothing */
            return *l.has_block == (block != NULL) && (block == NULL || hash_eq(block, l.hash));
    }
    if (type == KULA_VOTE_PREVOTE && s->has_precommit &&
        cmp_hrt(c->height, c->round, 0, s->precommit_height, s->precommit_round, 0) <= 0)
        return false;
    if (type == KULA_VOTE_PRECOMMIT && s->has_prevote &&
        cmp_hrt(c->height, c->round, 0, s->prevote_height, s->prevote_round, 0) < 0)
        return false;
    return true;
}

/* Asks the caller to sign a vote of c's height and round, unless that could
 * equivocate (can_sign), and records it as signed. */
static void emit_vote(kula_cons *c, uint8_t type, const kula_hash *block_in)
{
    if (!c->is_val)
        return;
    kula_hash copy; /* block_in may point into c->signed_ */
    const kula_hash *block = NULL;
    if (block_in != NULL) {
        copy = *block_in;
        block = &copy;
    }
    if (!can_sign(c, type, block))
        return;
    lastvote l = last_of(&c->signed_, type);
    *l.has = true;
    *l.height = c->height;
    *l.round = c->round;
    *l.has_block = block != NULL;
    memset(l.hash, 0, sizeof(*l.hash));
    if (block != NULL)
        *l.hash = *block;
    kula_cons_out o;
    memset(&o, 0, sizeof(o));
    o.kind = KULA_CONS_OUT_VOTE;
    o.u.vote.type = type;
    o.u.vote.height = c->height;
    o.u.vote.round = c->round;
    o.u.vote.has_block = block != NULL;
    if (block != NULL)
        o.u.vote.block_hash = *block;
    o.u.vote.validator = c->my_id;
    push(c, &o);
}

/* Asks again for the last vote of type signed before a restart when it is
 * of this height and an earlier round: a peer still in that round may wait
 * for it (it may never have left, and no copy of it survived the crash:
 * without it, two honest peers can wait in that round for ever).  It is
 * the same vote, so no equivocation; what was signed does not change. */
static void resend_earlier(kula_cons *c, uint8_t type)
{
    lastvote l = last_of(&c->signed_, type);
    if (!c->is_val || !*l.has || *l.height != c->height || *l.round >= c->round)
        return;
    kula_cons_out o;
    memset(&o, 0, sizeof(o));
    o.kind = KULA_CONS_OUT_VOTE;
    o.u.vote.type = type;
    o.u.vote.height = c->height;
    o.u.vote.round = *l.round;
    o.u.vote.has_block = *l.has_block;
    if (*l.has_block)
        o.u.vote.block_hash = *l.hash;
    o.u.vote.validator = c->my_id;
    push(c, &o);
}

/* ---- rounds ---- */

static void rrec_free(rrec *r)
{
    if (r == NULL)
        return;
    free(r->pv);
    free(r->pc);
    free(r);
}

static rrec *find_round(const kula_cons *c, uint32_t round)
{
    uint32_t lo = 0, hi = c->nrounds;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (c->rounds[mid]->round == round)
            return c->rounds[mid];
        if (c->rounds[mid]->round < round)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static bool protected_round(const kula_cons *c, uint32_t r)
{
    return r >= c->round || (int64_t)r == c->locked_round || (int64_t)r == c->valid_round;
}

/* Returns: the record of round (created if needed), or NULL with *err. */
static rrec *get_round(kula_cons *c, uint32_t round, int *err)
{
    rrec *r = find_round(c, round);
    if (r != NULL)
        return r;
    if (c->nrounds == KULA_CONS_MAX_ROUNDS) {
        /* Drop the lowest unprotected round, if it is below this one. */
        uint32_t victim = c->nrounds;
        for (uint32_t i = 0; i < c->nrounds; i++)
            if (!protected_round(c, c->rounds[i]->round)) {
                victim = i;
                break;
            }
        if (victim == c->nrounds || c->rounds[victim]->round > round) {
            *err = KULA_ERANGE;
            return NULL;
        }
        rrec_free(c->rounds[victim]);
        memmove(&c->rounds[victim], &c->rounds[victim + 1],
                (c->nrounds - victim - 1) * sizeof(c->rounds[0]));
        c->nrounds--;
    }
    r = calloc(1, sizeof(*r));
    if (r != NULL) {
        r->pv = calloc(c->vs.n, sizeof(slot));
        r->pc = calloc(c->vs.n, sizeof(slot));
    }
    if (r == NULL || r->pv == NULL || r->pc == NULL) {
        rrec_free(r);
        *err = KULA_ENOMEM;
        return NULL;
    }
    r->round = round;
    uint32_t at = 0;
    while (at < c->nrounds && c->rounds[at]->round < round)
        at++;
    memmove(&c->rounds[at + 1], &c->rounds[at], (c->nrounds - at) * sizeof(c->rounds[0]));
    c->rounds[at] = r;
    c->nrounds++;
    return r;
}

static void clear_rounds(kula_cons *c)
{
    for (uint32_t i = 0; i < c->nrounds; i++)
        rrec_free(c->rounds[i]);
    c->nrounds = 0;
}

static bool vote_is(const kula_vote *v, const kula_hash *block)
{
    return block == NULL ? !v->has_block : v->has_block && hash_eq(block, &v->block_hash);
}

/* Voting power of the validators with a vote in s[] for block (NULL: nil;
 * any: any vote), each counted once. */
static uint64_t power_for(const kula_cons *c, const slot *s, const kula_hash *block, bool any)
{
    uint64_t p = 0;
    for (uint32_t i = 0; i < c->vs.n; i++) {
        bool match = any && s[i].n > 0;
        for (uint8_t k = 0; k < s[i].n && !match; k++)
            match = vote_is(&s[i].v[k], block);
        if (match)
            p += c->vs.v[i].power;
    }
    return p;
}

/* Power of the distinct validators with any message in round r (line 55). */
static uint64_t senders_power(const kula_cons *c, const rrec *r)
{
    uint64_t p = 0;
    int pi = r->has_prop ? vindex(&c->vs, r->prop.proposer) : -1;
    for (uint32_t i = 0; i < c->vs.n; i++)
        if (r->pv[i].n > 0 || r->pc[i].n > 0 || (int)i == pi)
            p += c->vs.v[i].power;
    return p;
}

static bool quorum(const kula_cons *c, uint64_t p) { return kula_cons_quorum(p, c->vs.total_power); }

/* ---- StartRound (lines 11-21) ---- */

static void start_round(kula_cons *c, uint32_t r)
{
    c->round = r;                    /* line 12 */
    c->step = KULA_CONS_STEP_PROPOSE; /* line 13 */
    c->fired34 = c->fired36 = c->fired47 = false;
    if (c->is_val && kula_cons_proposer(&c->vs, c->height, r) == c->my_id) { /* line 14 */
        kula_cons_saved *s = &c->signed_;
        kula_cons_out o;
        memset(&o, 0, sizeof(o));
        o.kind = KULA_CONS_OUT_PROPOSE;
        o.u.propose.height = c->height;
        o.u.propose.round = r;
        int d = s->has_prop ? cmp_hrt(c->height, r, 0, s->prop_height, s->prop_round, 0) : 1;
        if (d == 0 && s->prop_has_hash) {
            /* Proposed this round before a restart: the same proposal again. */
            o.u.propose.pol_round = s->prop_pol_round;
            o.u.propose.reuse = true;
            o.u.propose.block_hash = s->prop_hash;
            push(c, &o);
        } else if (d > 0) {
            if (c->valid_round >= 0) { /* lines 15-16: proposal <- validValue */
                o.u.propose.reuse = true;
                o.u.propose.block_hash = c->validv;
            }
            o.u.propose.pol_round = c->valid_round; /* line 19: validRound_p */
            s->has_prop = true;
            s->prop_height = c->height;
            s->prop_round = r;
            s->prop_has_hash = o.u.propose.reuse;
            s->prop_hash = o.u.propose.block_hash;
            s->prop_pol_round = o.u.propose.pol_round;
            push(c, &o);
        } else {
            /* A proposal of this round may have been signed before a
             * restart, and we do not know which: propose nothing, and wait
             * for the propose timeout as a validator that is not the
             * proposer does (line 21), so that the round moves on; without
             * it a single validator waits for a proposal that never comes. */
            schedule(c, KULA_CONS_STEP_PROPOSE);
        }
    } else {
        schedule(c, KULA_CONS_STEP_PROPOSE); /* line 21 */
    }
}

/* ---- the rules ---- */

static void decide(kula_cons *c, const rrec *r)
{
    kula_commit *cm = &c->commit;
    memset(cm, 0, sizeof(*cm));
    cm->height = c->height;
    cm->round = r->round;
    cm->block_hash = r->prop.block_hash;
    for (uint32_t i = 0; i < c->vs.n; i++) {
        const slot *s = &r->pc[i];
        for (uint8_t k = 0; k < s->n; k++)
            if (s->v[k].has_block && hash_eq(&s->v[k].block_hash, &r->prop.block_hash)) {
                cm->sigs[cm->nsigs].validator = s->v[k].validator;
                cm->sigs[cm->nsigs].sig = s->v[k].sig;
                cm->nsigs++;
                break;
            }
    }
    c->decided = true; /* line 51: decision_p[h_p] = v */
    kula_cons_out o;
    memset(&o, 0, sizeof(o));
    o.kind = KULA_CONS_OUT_DECIDE;
    o.u.decide.height = c->height;
    o.u.decide.round = r->round;
    o.u.decide.block_hash = r->prop.block_hash;
    o.u.decide.commit = cm;
    push(c, &o);
    /* Lines 52-54 (h_p + 1, reset, StartRound(0)) are the caller's
     * kula_cons_start_height, after it has committed the block. */
}

/* Applies every rule whose condition holds, until none does. */
static void process(kula_cons *c)
{
    for (int guard = 0; guard < 1000 && !c->decided; guard++) {
        /* Line 49: upon <PROPOSAL, h_p, r, v, *> from proposer(h_p, r) AND
         * 2f+1 <PRECOMMIT, h_p, r, id(v)> while decision_p[h_p] = nil:
         * if valid(v), decide v.  Any round r. */
        for (uint32_t i = 0; i < c->nrounds; i++) {
            const rrec *r = c->rounds[i];
            if (r->has_prop && r->prop_valid &&
                quorum(c, power_for(c, r->pc, &r->prop.block_hash, false))) {
                decide(c, r);
                return;
            }
        }
        rrec *cur = find_round(c, c->round);
        const kula_block_proposal *prop = cur != NULL && cur->has_prop ? &cur->prop : NULL;
        bool valid = prop != NULL && cur->prop_valid;

        /* Line 22: upon <PROPOSAL, h_p, round_p, v, -1> from proposer while
         * step_p = propose: prevote id(v) if valid(v) and (lockedRound_p =
         * -1 or lockedValue_p = v) (line 23), else nil (line 26); step_p <-
         * prevote (line 27). */
        if (c->step == KULA_CONS_STEP_PROPOSE && prop != NULL && prop->pol_round == -1) {
            bool yes = valid && (c->break_locking || c->locked_round == -1 ||
                                 hash_eq(&c->locked, &prop->block_hash));
            emit_vote(c, KULA_VOTE_PREVOTE, yes ? &prop->block_hash : NULL);
            c->step = KULA_CONS_STEP_PREVOTE;
            continue;
        }
        /* Line 28: upon <PROPOSAL, h_p, round_p, v, vr> from proposer AND
         * 2f+1 <PREVOTE, h_p, vr, id(v)> while step_p = propose and
         * (vr >= 0 and vr < round_p): prevote id(v) if valid(v) and
         * (lockedRound_p <= vr or lockedValue_p = v) (line 30), else nil
         * (line 33); step_p <- prevote (line 34). */
        if (c->step == KULA_CONS_STEP_PROPOSE && prop != NULL && prop->pol_round >= 0 &&
            prop->pol_round < (int64_t)c->round) {
            const rrec *vr = find_round(c, (uint32_t)prop->pol_round);
            if (vr != NULL && quorum(c, power_for(c, vr->pv, &prop->block_hash, false))) {
                bool yes = valid && (c->break_locking || c->locked_round <= prop->pol_round ||
                                     hash_eq(&c->locked, &prop->block_hash));
                emit_vote(c, KULA_VOTE_PREVOTE, yes ? &prop->block_hash : NULL);
                c->step = KULA_CONS_STEP_PREVOTE;
                continue;
            }
        }
        /* Line 34: upon 2f+1 <PREVOTE, h_p, round_p, *> while step_p =
         * prevote for the first time: schedule OnTimeoutPrevote. */
        if (c->step == KULA_CONS_STEP_PREVOTE && !c->fired34 && cur != NULL &&
            quorum(c, power_for(c, cur->pv, NULL, true))) {
            c->fired34 = true;
            schedule(c, KULA_CONS_STEP_PREVOTE);
        }
        /* Line 36: upon <PROPOSAL, h_p, round_p, v, *> from proposer AND
         * 2f+1 <PREVOTE, h_p, round_p, id(v)> while valid(v) and step_p >=
         * prevote for the first time. */
        if (c->step >= KULA_CONS_STEP_PREVOTE && !c->fired36 && valid &&
            quorum(c, power_for(c, cur->pv, &prop->block_hash, false))) {
            c->fired36 = true;
            if (c->step == KULA_CONS_STEP_PREVOTE) { /* line 37 */
                c->locked = prop->block_hash;     /* line 38 */
                c->locked_round = c->round;       /* line 39 */
                emit_vote(c, KULA_VOTE_PRECOMMIT, &prop->block_hash); /* line 40 */
                c->step = KULA_CONS_STEP_PRECOMMIT;                   /* line 41 */
            }
            c->validv = prop->block_hash;  /* line 42 */
            c->valid_round = c->round;     /* line 43 */
            continue;
        }
        /* Line 44: upon 2f+1 <PREVOTE, h_p, round_p, nil> while step_p =
         * prevote: precommit nil (line 45); step_p <- precommit (line 46). */
        if (c->step == KULA_CONS_STEP_PREVOTE && cur != NULL &&
            quorum(c, power_for(c, cur->pv, NULL, false))) {
            emit_vote(c, KULA_VOTE_PRECOMMIT, NULL);
            c->step = KULA_CONS_STEP_PRECOMMIT;
            continue;
        }
        /* Line 47: upon 2f+1 <PRECOMMIT, h_p, round_p, *> for the first
         * time: schedule OnTimeoutPrecommit. */
        if (!c->fired47 && cur != NULL && quorum(c, power_for(c, cur->pc, NULL, true))) {
            c->fired47 = true;
            schedule(c, KULA_CONS_STEP_PRECOMMIT);
        }
        /* Line 55: upon f+1 <*, h_p, round, *, *> with round > round_p:
         * StartRound(round).  The highest such round is taken. */
        uint32_t jump = 0;
        bool do_jump = false;
        for (uint32_t i = 0; i < c->nrounds; i++) {
            const rrec *r = c->rounds[i];
            if (r->round > c->round &&
                kula_cons_one_third(senders_power(c, r), c->vs.total_power)) {
                jump = r->round;
                do_jump = true;
            }
        }
        if (do_jump) {
            start_round(c, jump);
            continue;
        }
        break;
    }
}

/* ---- inputs ---- */

static int buffer_future(kula_cons *c, uint32_t sender, const kula_block_proposal *p,
                         const kula_vote *v)
{
    int i = vindex(&c->vs, sender);
    if (i < 0)
        return KULA_EUNKNOWNMEMBER;
    if (c->fut_count[i] >= KULA_CONS_FUTURE_PER_VALIDATOR)
        return KULA_ETOOBIG;
    if (c->nfut == c->capfut) {
        uint32_t ncap = c->capfut ? c->capfut * 2 : 16;
        future *nf = realloc(c->fut, ncap * sizeof(*nf));
        if (nf == NULL)
            return KULA_ENOMEM;
        c->fut = nf;
        c->capfut = ncap;
    }
    future *f = &c->fut[c->nfut++];
    memset(f, 0, sizeof(*f));
    f->is_prop = p != NULL;
    if (p != NULL)
        f->p = *p;
    else
        f->v = *v;
    c->fut_count[i]++;
    return KULA_OK;
}

/* Returns: 0 if the message is of the current height and may be processed,
 * else why not (after buffering height + 1). */
static int admit_height(kula_cons *c, uint64_t height, uint32_t sender,
                        const kula_block_proposal *p, const kula_vote *v, bool *buffered)
{
    *buffered = false;
    if (!c->started)
        return KULA_EINVAL;
    if (c->height < UINT64_MAX && height == c->height + 1) {
        int rc = buffer_future(c, sender, p, v);
        *buffered = rc == 0;
        return rc;
    }
    if (height != c->height)
        return KULA_EHEIGHT;
    if (c->decided)
        return KULA_EINVAL;
    return KULA_OK;
}

static bool in_window(const kula_cons *c, uint32_t round)
{
    return (uint64_t)round <= (uint64_t)c->round + KULA_CONS_ROUND_WINDOW;
}

int kula_cons_on_proposal(kula_cons *c, const kula_block_proposal *p, bool valid)
{
    if (c == NULL || p == NULL)
        return KULA_EINVAL;
    bool buffered;
    int rc = admit_height(c, p->height, p->proposer, p, NULL, &buffered);
    if (rc != 0 || buffered)
        return rc;
    if (p->proposer != kula_cons_proposer(&c->vs, c->height, p->round))
        return KULA_ESIGNERS;
    if (!(p->pol_round == -1 || (p->pol_round >= 0 && p->pol_round < (int64_t)p->round)))
        return KULA_ERANGE;
    if (!in_window(c, p->round))
        return KULA_ERANGE;
    rrec *r = get_round(c, p->round, &rc);
    if (r == NULL)
        return rc;
    if (r->has_prop) {
        if (hash_eq(&r->prop.block_hash, &p->block_hash) && r->prop.pol_round == p->pol_round)
            return KULA_EEXIST;
        return KULA_EVOTED;
    }
    r->has_prop = true;
    r->prop_valid = valid;
    r->prop = *p;
    kula_cons_saved *s = &c->signed_;
    if (c->is_val && p->proposer == c->my_id && s->has_prop && s->prop_height == p->height &&
        s->prop_round == p->round && !s->prop_has_hash) {
        s->prop_has_hash = true;
        s->prop_hash = p->block_hash;
        s->prop_pol_round = p->pol_round;
    }
    process(c);
    return c->qerr;
}

int kula_cons_on_vote(kula_cons *c, const kula_vote *v)
{
    if (c == NULL || v == NULL)
        return KULA_EINVAL;
    if (v->type != KULA_VOTE_PREVOTE && v->type != KULA_VOTE_PRECOMMIT)
        return KULA_EINVAL;
    bool buffered;
    int rc = admit_height(c, v->height, v->validator, NULL, v, &buffered);
    if (rc != 0 || buffered)
        return rc;
    int i = vindex(&c->vs, v->validator);
    if (i < 0)
        return KULA_EUNKNOWNMEMBER;
    if (!in_window(c, v->round))
        return KULA_ERANGE;
    rrec *r = get_round(c, v->round, &rc);
    if (r == NULL)
        return rc;
    slot *s = v->type == KULA_VOTE_PREVOTE ? &r->pv[i] : &r->pc[i];
    for (uint8_t k = 0; k < s->n; k++)
        if (vote_is(&s->v[k], v->has_block ? &v->block_hash : NULL))
            return KULA_EEXIST;
    if (s->n > 0) {
        /* Equivocation: evidence once, and the vote is still counted for
         * its value (within the bound). */
        if (!s->evidenced) {
            s->evidenced = true;
            kula_cons_out o;
            memset(&o, 0, sizeof(o));
            o.kind = KULA_CONS_OUT_EVIDENCE;
            o.u.evidence.a = s->v[0];
            o.u.evidence.b = *v;
            push(c, &o);
        }
        if (s->n == KULA_CONS_CONFLICTS)
            return c->qerr ? c->qerr : KULA_EVOTED;
    }
    bool conflict = s->n > 0;
    s->v[s->n++] = *v;
    process(c);
    return c->qerr ? c->qerr : conflict ? KULA_EVOTED : KULA_OK;
}

int kula_cons_on_timeout(kula_cons *c, uint8_t step, uint64_t height, uint32_t round)
{
    if (c == NULL || !c->started)
        return KULA_EINVAL;
    if (step < KULA_CONS_STEP_PROPOSE || step > KULA_CONS_STEP_PRECOMMIT)
        return KULA_EINVAL;
    if (height != c->height)
        return KULA_EHEIGHT;
    if (c->decided || round != c->round)
        return KULA_ERANGE;
    switch ((enum kula_cons_step)step) {
    case KULA_CONS_STEP_PROPOSE:
        /* Line 57: OnTimeoutPropose(h_p, round_p): if step_p = propose,
         * prevote nil (line 59); step_p <- prevote (line 60). */
        if (c->step != KULA_CONS_STEP_PROPOSE)
            return KULA_ERANGE;
        emit_vote(c, KULA_VOTE_PREVOTE, NULL);
        c->step = KULA_CONS_STEP_PREVOTE;
        break;
    case KULA_CONS_STEP_PREVOTE:
        /* Line 61: OnTimeoutPrevote(h_p, round_p): if step_p = prevote,
         * precommit nil (line 63); step_p <- precommit (line 64). */
        if (c->step != KULA_CONS_STEP_PREVOTE)
            return KULA_ERANGE;
        emit_vote(c, KULA_VOTE_PRECOMMIT, NULL);
        c->step = KULA_CONS_STEP_PRECOMMIT;
        break;
    case KULA_CONS_STEP_PRECOMMIT:
        /* Line 65: OnTimeoutPrecommit(h_p, round_p): StartRound(round_p + 1)
         * (line 67), whatever the step. */
        if (c->round == UINT32_MAX)
            return KULA_ERANGE;
        start_round(c, c->round + 1);
        break;
    }
    process(c);
    return c->qerr;
}

/* ---- life cycle ---- */

int kula_cons_new(kula_cons **out, const kula_cons_params *p)
{
    if (out == NULL || p == NULL)
        return KULA_EINVAL;
    kula_cons *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return KULA_ENOMEM;
    c->p = *p;
    c->rounds = calloc(KULA_CONS_MAX_ROUNDS + 1, sizeof(*c->rounds));
    if (c->rounds == NULL) {
        free(c);
        return KULA_ENOMEM;
    }
    c->locked_round = c->valid_round = -1;
    c->signed_.locked_round = c->signed_.valid_round = -1;
    *out = c;
    return KULA_OK;
}

void kula_cons_free(kula_cons *c)
{
    if (c == NULL)
        return;
    clear_rounds(c);
    free(c->rounds);
    free(c->fut);
    free(c->q);
    free(c);
}

static bool valset_ok(const kula_valset *vs)
{
    if (vs == NULL || vs->n == 0 || vs->n > KULA_MAX_VALIDATORS)
        return false;
    uint64_t sum = 0;
    for (uint32_t i = 0; i < vs->n; i++) {
        if (vs->v[i].power == 0 || (i > 0 && vs->v[i].id <= vs->v[i - 1].id))
            return false;
        if (sum + vs->v[i].power < sum)
            return false;
        sum += vs->v[i].power;
    }
    return sum == vs->total_power;
}

int kula_cons_start_height(kula_cons *c, uint64_t height, const kula_valset *vs,
                           bool is_validator, uint32_t my_id, const kula_cons_saved *saved)
{
    if (c == NULL || !valset_ok(vs))
        return KULA_EINVAL;
    if (is_validator && vindex(vs, my_id) < 0)
        return KULA_EINVAL;
    if (saved != NULL && saved->height > height)
        return KULA_EINVAL;
    /* The messages buffered for this height, taken before the reset. */
    future *fut = c->fut;
    uint32_t nfut = c->nfut;
    bool replay = c->started && c->height < UINT64_MAX && height == c->height + 1;
    c->fut = NULL;
    c->nfut = c->capfut = 0;
    memset(c->fut_count, 0, sizeof(c->fut_count));

    clear_rounds(c);
    c->qhead = c->qlen = 0;
    c->qerr = 0;
    c->vs = *vs;
    c->is_val = is_validator;
    c->my_id = is_validator ? my_id : 0;
    c->started = true;
    c->decided = false;
    c->height = height;
    /* Lines 53-54: reset lock and valid value for the new height. */
    c->locked_round = c->valid_round = -1;
    memset(&c->locked, 0, sizeof(c->locked));
    memset(&c->validv, 0, sizeof(c->validv));
    uint8_t step = KULA_CONS_STEP_PROPOSE;
    uint32_t round = 0;
    if (saved != NULL) {
        /* What was signed binds whatever the height. */
        kula_cons_saved *s = &c->signed_;
        s->has_prevote = saved->has_prevote;
        s->prevote_height = saved->prevote_height;
        s->prevote_round = saved->prevote_round;
        s->prevote_has_block = saved->prevote_has_block;
        s->prevote_hash = saved->prevote_hash;
        s->has_precommit = saved->has_precommit;
        s->precommit_height = saved->precommit_height;
        s->precommit_round = saved->precommit_round;
        s->precommit_has_block = saved->precommit_has_block;
        s->precommit_hash = saved->precommit_hash;
        s->has_prop = saved->has_prop;
        s->prop_height = saved->prop_height;
        s->prop_round = saved->prop_round;
        s->prop_has_hash = saved->prop_has_hash;
        s->prop_hash = saved->prop_hash;
        s->prop_pol_round = saved->prop_pol_round;
        if (saved->height == height) {
            round = saved->round;
            if (saved->step >= KULA_CONS_STEP_PROPOSE && saved->step <= KULA_CONS_STEP_PRECOMMIT)
                step = saved->step;
            if (saved->locked_round >= 0 && saved->locked_round <= (int64_t)round) {
                c->locked_round = saved->locked_round;
                c->locked = saved->locked_hash;
            }
            if (saved->valid_round >= 0 && saved->valid_round <= (int64_t)round) {
                c->valid_round = saved->valid_round;
                c->validv = saved->valid_hash;
            }
        }
    }
    start_round(c, round); /* line 54: StartRound(0), or the saved round */
    if (step > KULA_CONS_STEP_PROPOSE) {
        c->step = step;
        /* Re-send the votes of this round signed before the restart (they
         * may never have left): identical, so no equivocation. */
        const kula_cons_saved *s = &c->signed_;
        if (s->has_prevote && s->prevote_height == height && s->prevote_round == round)
            emit_vote(c, KULA_VOTE_PREVOTE, s->prevote_has_block ? &s->prevote_hash : NULL);
        if (step == KULA_CONS_STEP_PRECOMMIT && s->has_precommit &&
            s->precommit_height == height && s->precommit_round == round)
            emit_vote(c, KULA_VOTE_PRECOMMIT,
                      s->precommit_has_block ? &s->precommit_hash : NULL);
    }
    if (saved != NULL && saved->height == height) {
        resend_earlier(c, KULA_VOTE_PREVOTE);
        resend_earlier(c, KULA_VOTE_PRECOMMIT);
    }
    for (uint32_t i = 0; replay && i < nfut && !c->decided; i++) {
        if (fut[i].is_prop) {
            /* Its block could not be validated before this height: the
             * caller validates it now and feeds it back. */
            kula_cons_out o;
            memset(&o, 0, sizeof(o));
            o.kind = KULA_CONS_OUT_RECHECK;
            o.u.recheck = fut[i].p;
            push(c, &o);
        } else {
            /* A vote held for later that is now stale or invalid is
             * dropped, as it would have been on arrival. */
            kula_result_ignored(kula_cons_on_vote(c, &fut[i].v));
        }
    }
    free(fut);
    process(c);
    return c->qerr;
}

void kula_cons_saved_get(const kula_cons *c, kula_cons_saved *s)
{
    *s = c->signed_;
    s->height = c->height;
    s->round = c->round;
    s->step = c->step;
    s->locked_round = c->locked_round;
    s->locked_hash = c->locked;
    s->valid_round = c->valid_round;
    s->valid_hash = c->validv;
}

uint64_t kula_cons_height(const kula_cons *c) { return c->height; }
uint32_t kula_cons_round(const kula_cons *c) { return c->round; }
uint8_t kula_cons_step(const kula_cons *c) { return c->step; }
bool kula_cons_decided(const kula_cons *c) { return c->decided; }
void kula_cons_debug_break_locking(kula_cons *c, bool on) { c->break_locking = on; }
