/* rules_action.c -- the actions a proposal carries out (proto/LEDGER.md
 * §6.4): admit, remove, credit limit, parameter, rotate key, admit and
 * remove an observer.  Each is
 * checked against the current state and, with execute, carried out only
 * after every check passed.
 *
 * Direction: called by rules_governance.c; calls rules_check.c,
 * lrecords.c and the layers below, never ledger.c (rules.h). */
#include <string.h>

#include "kula/base/error.h"
#include "kula/crypto/crypto.h"
#include "rules.h"

/* §6.4: a member's key must be valid, never used by a member before, and
 * not an admitted observer's. */
static int fresh_key(lrecords *rec, const kula_pubkey *pk)
{
    uint32_t owner;
    if (!kula_pubkey_valid(pk))
        return KULA_EBADKEY;
    int rc = lrec_member_by_key(rec, pk, &owner);
    if (rc == 0)
        return KULA_EDUPKEY;
    if (rc != KULA_ENOTFOUND)
        return rc;
    kula_observers os;
    if ((rc = lrec_observers(rec, &os)) != 0)
        return rc;
    return kula_observers_find(&os, pk) >= 0 ? KULA_EDUPOBSERVER : KULA_OK;
}

static bool credit_limit_ok(int64_t limit) { return limit >= 0 && limit <= INT64_MAX / 4; }

static int valset_find(const kula_valset *vs, uint32_t id)
{
    for (uint32_t i = 0; i < vs->n; i++)
        if (vs->v[i].id == id)
            return (int)i;
    return -1;
}

/* The new member gets the next id and, with voting power, joins the live
 * validator set. */
static int admit_execute(const rule_ctx *ctx, const kula_action *act, kula_globals *g,
                         kula_valset *vs)
{
    int rc;
    kula_member m;
    memset(&m, 0, sizeof(m));
    m.id = g->next_member++;
    m.pubkey = act->pubkey;
    memcpy(m.name, act->name.p, act->name.n);
    memcpy(m.sector, act->sector.p, act->sector.n);
    m.credit_limit = act->credit_limit;
    m.status = KULA_MEMBER_ACTIVE;
    m.voting_power = act->voting_power;
    m.joined = ctx->height;
    g->active_members++;
    if (act->voting_power > 0) {
        /* new ids are the largest, so appending keeps the set sorted */
        vs->v[vs->n].id = m.id;
        vs->v[vs->n].power = act->voting_power;
        vs->total_power += act->voting_power;
        vs->n++;
        if ((rc = lrec_save_valset(ctx->rec, KULA_VALSET_LIVE, vs)) != 0)
            return rc;
    }
    if ((rc = lrec_save_member(ctx->rec, &m)) != 0 || (rc = lrec_save_globals(ctx->rec, g)) != 0)
        return rc;
    return lrec_save_pubkey(ctx->rec, &m.pubkey, m.id);
}

static int admit(const rule_ctx *ctx, const kula_action *act, bool execute)
{
    int rc = fresh_key(ctx->rec, &act->pubkey);
    if (rc != 0)
        return rc;
    if (!rule_text_ok(act->name, false, false) || !rule_text_ok(act->sector, false, false))
        return KULA_ETEXT;
    if (!credit_limit_ok(act->credit_limit))
        return KULA_EAMOUNT;
    if (act->voting_power > (UINT64_C(1) << 48))
        return KULA_EPARAM;
    kula_globals g;
    if ((rc = lrec_globals(ctx->rec, &g)) != 0)
        return rc;
    if (g.next_member == UINT32_MAX || g.active_members >= KULA_MAX_MEMBERS)
        return KULA_EPARAM;
    kula_valset vs;
    if ((rc = lrec_valset(ctx->rec, KULA_VALSET_LIVE, &vs)) != 0)
        return rc;
    if (act->voting_power > 0 && vs.n >= KULA_MAX_VALIDATORS)
        return KULA_EPARAM;
    return execute ? admit_execute(ctx, act, &g, &vs) : KULA_OK;
}

/* A removed member leaves the validator set, which keeps at least one. */
static int remove_member(const rule_ctx *ctx, const kula_action *act, bool execute)
{
    kula_member m;
    kula_valset vs;
    int rc = rule_active_member(ctx->rec, act->member, &m);
    if (rc != 0 || (rc = lrec_valset(ctx->rec, KULA_VALSET_LIVE, &vs)) != 0)
        return rc;
    int at = valset_find(&vs, m.id);
    if (at >= 0 && vs.n == 1)
        return KULA_ELASTVALIDATOR;
    if (!execute)
        return KULA_OK;
    if (at >= 0) {
        vs.total_power -= vs.v[at].power;
        memmove(&vs.v[at], &vs.v[at + 1], (vs.n - (uint32_t)at - 1) * sizeof(vs.v[0]));
        vs.n--;
        if ((rc = lrec_save_valset(ctx->rec, KULA_VALSET_LIVE, &vs)) != 0)
            return rc;
    }
    kula_globals g;
    if ((rc = lrec_globals(ctx->rec, &g)) != 0)
        return rc;
    g.active_members--;
    m.status = KULA_MEMBER_REMOVED;
    if ((rc = lrec_save_globals(ctx->rec, &g)) != 0)
        return rc;
    return lrec_save_member(ctx->rec, &m);
}

static int credit_limit(const rule_ctx *ctx, const kula_action *act, bool execute)
{
    kula_member m;
    int rc = lrec_member(ctx->rec, act->member, &m);
    if (rc != 0)
        return rc;
    if (!credit_limit_ok(act->credit_limit))
        return KULA_EAMOUNT;
    if (!execute)
        return KULA_OK;
    m.credit_limit = act->credit_limit;
    return lrec_save_member(ctx->rec, &m);
}

static int param(const rule_ctx *ctx, const kula_action *act, bool execute)
{
    kula_params p;
    int rc = lrec_params(ctx->rec, &p);
    if (rc != 0)
        return rc;
    if (kula_params_set(&p, act->param, act->value) != 0)
        return KULA_EPARAM;
    return execute ? lrec_save_params(ctx->rec, &p) : KULA_OK;
}

static int rotate_key(const rule_ctx *ctx, const kula_action *act, bool execute)
{
    kula_member m;
    int rc = rule_active_member(ctx->rec, act->member, &m);
    if (rc != 0 || (rc = fresh_key(ctx->rec, &act->pubkey)) != 0)
        return rc;
    if (!execute)
        return KULA_OK;
    /* The old key stays bound to the member, so it can never be
     * admitted again under another identity. */
    m.pubkey = act->pubkey;
    if ((rc = lrec_save_member(ctx->rec, &m)) != 0)
        return rc;
    return lrec_save_pubkey(ctx->rec, &act->pubkey, m.id);
}

/* §6.4 admit observer: a valid key that no member ever held and no
 * observer holds, a name no other observer has, at most 64 observers.  The
 * list stays in ascending key order. */
static int admit_observer(const rule_ctx *ctx, const kula_action *act, bool execute)
{
    uint32_t owner;
    if (!kula_pubkey_valid(&act->pubkey))
        return KULA_EBADKEY;
    int rc = lrec_member_by_key(ctx->rec, &act->pubkey, &owner);
    if (rc == 0)
        return KULA_EOBSERVERMEMBER;
    if (rc != KULA_ENOTFOUND)
        return rc;
    if (!rule_text_ok(act->name, false, false))
        return KULA_ETEXT;
    kula_observers os;
    if ((rc = lrec_observers(ctx->rec, &os)) != 0)
        return rc;
    if (kula_observers_find(&os, &act->pubkey) >= 0)
        return KULA_EDUPOBSERVER;
    uint32_t at = 0;
    for (uint32_t i = 0; i < os.n; i++) {
        if (strlen(os.v[i].name) == act->name.n &&
            memcmp(os.v[i].name, act->name.p, act->name.n) == 0)
            return KULA_EOBSERVERNAME;
        if (memcmp(os.v[i].pubkey.b, act->pubkey.b, KULA_PUBKEY_LEN) < 0)
            at = i + 1;
    }
    if (os.n >= KULA_MAX_LEDGER_OBSERVERS)
        return KULA_ETOOMANYOBSERVERS;
    if (!execute)
        return KULA_OK;
    memmove(&os.v[at + 1], &os.v[at], (os.n - at) * sizeof(os.v[0]));
    memset(&os.v[at], 0, sizeof(os.v[at]));
    os.v[at].pubkey = act->pubkey;
    memcpy(os.v[at].name, act->name.p, act->name.n);
    os.v[at].admitted = ctx->height;
    os.n++;
    return lrec_save_observers(ctx->rec, &os);
}

/* §6.4 remove observer: the key must be an admitted observer's. */
static int remove_observer(const rule_ctx *ctx, const kula_action *act, bool execute)
{
    kula_observers os;
    int rc = lrec_observers(ctx->rec, &os);
    if (rc != 0)
        return rc;
    int at = kula_observers_find(&os, &act->pubkey);
    if (at < 0)
        return KULA_EUNKNOWNOBSERVER;
    if (!execute)
        return KULA_OK;
    memmove(&os.v[at], &os.v[at + 1], (os.n - (uint32_t)at - 1) * sizeof(os.v[0]));
    os.n--;
    return lrec_save_observers(ctx->rec, &os);
}

/* §6.4: asks for a clearing at the end of this block (§9.1). */
static int clear_now(const rule_ctx *ctx, bool execute)
{
    return execute ? lrec_set_clear_asked(ctx->rec, true) : KULA_OK;
}

int rule_action(const rule_ctx *ctx, const kula_action *act, bool execute)
{
    switch ((enum kula_action_kind)act->kind) {
    case KULA_ACT_ADMIT: return admit(ctx, act, execute);
    case KULA_ACT_REMOVE: return remove_member(ctx, act, execute);
    case KULA_ACT_CREDIT_LIMIT: return credit_limit(ctx, act, execute);
    case KULA_ACT_PARAM: return param(ctx, act, execute);
    case KULA_ACT_ROTATE_KEY: return rotate_key(ctx, act, execute);
    case KULA_ACT_CLEAR: return clear_now(ctx, execute);
    case KULA_ACT_ADMIT_OBSERVER: return admit_observer(ctx, act, execute);
    case KULA_ACT_REMOVE_OBSERVER: return remove_observer(ctx, act, execute);
    }
    return KULA_EINVAL;
}
