/* ledger_rules.c -- the rule of each transaction kind (proto/LEDGER.md §4-§7).
 *
 * Each rule first checks everything, then writes; a failure part-way is
 * undone anyway by the caller's rollback, but checking first keeps the
 * rules easy to read against the spec. */
#include <stdlib.h>
#include <string.h>

#include "kula/base/amount.h"
#include "kula/ledger/distribution.h"
#include "kula/base/error.h"
#include "ledger_internal.h"

/* ---- shared checks ---- */

/* §2.3: names and labels are non-empty; free text may be empty.  Neither
 * may hold control characters (other than a newline in free text), so
 * nothing on the ledger can rewrite an auditor's terminal. */
static bool text_ok(kula_text t, bool allow_empty, bool allow_newline)
{
    if (t.n == 0)
        return allow_empty;
    for (size_t i = 0; i < t.n; i++) {
        unsigned char c = (unsigned char)t.p[i];
        if ((c < 0x20 && !(allow_newline && c == '\n')) || c == 0x7f)
            return false;
    }
    return true;
}

static int active_member(kula_ledger *l, uint32_t id, kula_member *m)
{
    int rc = kula_ledger_member(l, id, m);
    if (rc != 0)
        return rc;
    return m->status == KULA_MEMBER_ACTIVE ? KULA_OK : KULA_EINACTIVE;
}

/* §3.1: a payer's balance may not go below minus its credit limit; no
 * balance may overflow.  Both members are saved. */
static int move_credit(kula_ledger *l, uint32_t payer_id, uint32_t payee_id, int64_t amount)
{
    if (amount <= 0)
        return KULA_EAMOUNT;
    kula_member payer, payee;
    int rc = kula_ledger_member(l, payer_id, &payer);
    if (rc == 0)
        rc = kula_ledger_member(l, payee_id, &payee);
    if (rc != 0)
        return rc;
    kula_amount nb, np;
    if (!kula_amount_sub(&nb, kula_amount_of(payer.balance), kula_amount_of(amount)) ||
        nb.v < -payer.credit_limit)
        return KULA_ECREDIT;
    if (!kula_amount_add(&np, kula_amount_of(payee.balance), kula_amount_of(amount)))
        return KULA_EOVERFLOW;
    payer.balance = nb.v;
    payee.balance = np.v;
    if ((rc = ledger_save_member(l, &payer)) != 0)
        return rc;
    return ledger_save_member(l, &payee);
}

/* §3.2: every completed exchange between two members allows each of them
 * one rating of the other. */
static int count_exchange(kula_ledger *l, uint32_t a, uint32_t b)
{
    kula_pair x;
    int rc = kula_ledger_pair(l, a, b, &x);
    if (rc != 0)
        return rc;
    if (x.exchanges == UINT64_MAX)
        return KULA_EOVERFLOW;
    x.exchanges++;
    return ledger_save_pair(l, a, b, &x);
}

/* §5.1: a rule must fit the agreement's parties. */
static int check_rule(const kula_rule *r, uint32_t nparties)
{
    switch ((enum kula_rule_kind)r->kind) {
    case KULA_RULE_EQUAL:
    case KULA_RULE_PRORATA:
        return KULA_OK;
    case KULA_RULE_WEIGHTS: {
        if (r->nweights != nparties)
            return KULA_ERULE;
        uint64_t sum = 0;
        for (uint32_t i = 0; i < nparties; i++)
            sum += r->weights[i];
        return sum > 0 ? KULA_OK : KULA_ERULE;
    }
    case KULA_RULE_SHAPLEY: {
        if (nparties > KULA_MAX_PARTIES || r->nvalues != (1u << nparties))
            return KULA_ERULE;
        int64_t *v = malloc(r->nvalues * sizeof(*v));
        if (v == NULL)
            return KULA_ENOMEM;
        int rc = kula_rule_shapley_values(r, v);
        if (rc == 0)
            rc = kula_shapley_validate(v, nparties);
        free(v);
        return rc == 0 ? KULA_OK : (rc == KULA_ENOMEM ? rc : KULA_ERULE);
    }
    }
    return KULA_ERULE;
}

static int term_ok(uint64_t term_end, uint64_t height)
{
    return term_end == 0 || term_end >= height ? KULA_OK : KULA_ETERM;
}

static int open_agreement(kula_ledger *l, const kula_hash *id, kula_agreement *a)
{
    int rc = kula_ledger_agreement(l, id, a);
    if (rc != 0)
        return rc;
    return a->status == KULA_AGREEMENT_OPEN ? KULA_OK : KULA_ECLOSED;
}

static int rule_raw(kula_buf *out, const kula_rule *r)
{
    kula_buf_reset(out);
    return kula_rule_encode(out, r);
}

/* ---- §4 mutual credit ---- */

static int apply_transfer(kula_ledger *l, const kula_tx *tx, kula_tx_effects *fx)
{
    kula_member to;
    int rc;
    if (tx->u.transfer.to == tx->from)
        return KULA_ESELF;
    if ((rc = active_member(l, tx->u.transfer.to, &to)) != 0)
        return rc;
    if ((rc = move_credit(l, tx->from, to.id, tx->u.transfer.amount)) != 0)
        return rc;
    ledger_add_party(fx, to.id);
    return count_exchange(l, tx->from, to.id);
}

static int apply_exchange(kula_ledger *l, const kula_tx *tx, kula_tx_effects *fx)
{
    uint32_t cp = tx->u.exchange.counterparty;
    int64_t gives = tx->u.exchange.gives_value, receives = tx->u.exchange.receives_value;
    kula_member other;
    int rc;
    if (cp == tx->from)
        return KULA_ESELF;
    if ((rc = active_member(l, cp, &other)) != 0)
        return rc;
    if (gives < 0 || receives < 0 || (gives == 0 && receives == 0))
        return KULA_EAMOUNT;
    if (!text_ok(tx->u.exchange.gives, gives == 0, true) ||
        !text_ok(tx->u.exchange.receives, receives == 0, true))
        return KULA_ETEXT;
    /* The side that delivered more value is owed the difference. */
    if (gives > receives)
        rc = move_credit(l, cp, tx->from, gives - receives);
    else if (receives > gives)
        rc = move_credit(l, tx->from, cp, receives - gives);
    if (rc != 0)
        return rc;
    ledger_add_party(fx, cp);
    return count_exchange(l, tx->from, cp);
}

static int apply_referral(kula_ledger *l, const kula_tx *tx, kula_tx_effects *fx)
{
    kula_member recv;
    int rc;
    uint32_t to = tx->u.referral.receiver;
    if (to == tx->from)
        return KULA_ESELF;
    if ((rc = active_member(l, to, &recv)) != 0)
        return rc;
    /* Exactly one source for the fee: stated here, or an agreement's terms. */
    if (tx->u.referral.has_agreement) {
        if (tx->u.referral.fee != 0)
            return KULA_EAMOUNT;
        kula_agreement a;
        if ((rc = open_agreement(l, &tx->u.referral.agreement, &a)) != 0)
            return rc;
        if (kula_agreement_party(&a, tx->from) < 0 || kula_agreement_party(&a, to) < 0)
            return KULA_ENOTPARTY;
        if (a.referral_fee_bps == 0)
            return KULA_ERULE;
    } else if (tx->u.referral.fee <= 0) {
        return KULA_EAMOUNT;
    }
    kula_referral r;
    memset(&r, 0, sizeof(r));
    r.id = tx->id;
    r.referrer = tx->from;
    r.receiver = to;
    r.lead = tx->u.referral.lead;
    r.fee = tx->u.referral.fee;
    r.has_agreement = tx->u.referral.has_agreement;
    r.agreement = tx->u.referral.agreement;
    r.height = ledger_block_height(l);
    ledger_add_party(fx, to);
    return ledger_save_referral(l, &r);
}

static int apply_conversion(kula_ledger *l, const kula_tx *tx, kula_tx_effects *fx)
{
    kula_referral r;
    int rc = kula_ledger_referral(l, &tx->u.conversion.referral, &r);
    if (rc != 0)
        return rc;
    /* Only the business that received the lead can confirm it converted. */
    if (r.receiver != tx->from)
        return KULA_ESIGNERS;
    int64_t value = tx->u.conversion.value;
    if (value <= 0)
        return KULA_EAMOUNT;
    int64_t fee = r.fee;
    if (r.has_agreement) {
        kula_agreement a;
        if ((rc = open_agreement(l, &r.agreement, &a)) != 0)
            return rc;
        /* floor(value * bps / 10000), exact in 128 bits */
        __extension__ unsigned __int128 f = (unsigned __int128)(uint64_t)value * a.referral_fee_bps;
        fee = (int64_t)(f / KULA_BPS_DENOM);
    }
    kula_member referrer;
    if ((rc = active_member(l, r.referrer, &referrer)) != 0)
        return rc;
    if (fee > 0 && (rc = move_credit(l, tx->from, r.referrer, fee)) != 0)
        return rc;
    if ((rc = ledger_delete_referral(l, &r.id)) != 0)
        return rc;
    ledger_add_party(fx, r.referrer);
    return count_exchange(l, tx->from, r.referrer);
}

static int apply_feedback(kula_ledger *l, const kula_tx *tx, kula_tx_effects *fx)
{
    uint32_t about = tx->u.feedback.about;
    int rc;
    if (about == tx->from)
        return KULA_ESELF;
    if (tx->u.feedback.rating < 1 || tx->u.feedback.rating > 5)
        return KULA_ERATING;
    if (!text_ok(tx->u.feedback.comment, true, true))
        return KULA_ETEXT;
    kula_member m;
    if ((rc = kula_ledger_member(l, about, &m)) != 0)
        return rc;
    kula_pair x;
    if ((rc = kula_ledger_pair(l, tx->from, about, &x)) != 0)
        return rc;
    uint64_t *given = tx->from < about ? &x.feedback_ab : &x.feedback_ba;
    if (*given >= x.exchanges)
        return KULA_ENOEXCHANGE;
    (*given)++;
    if ((rc = ledger_save_pair(l, tx->from, about, &x)) != 0)
        return rc;
    if (m.rating_count == UINT64_MAX || m.rating_sum > UINT64_MAX - 5)
        return KULA_EOVERFLOW;
    m.rating_sum += tx->u.feedback.rating;
    m.rating_count++;
    ledger_add_party(fx, about);
    return ledger_save_member(l, &m);
}

/* ---- §5 agreements ---- */

static int apply_open(kula_ledger *l, const kula_tx *tx, kula_tx_effects *fx)
{
    uint32_t n = tx->u.open.nparties;
    int rc;
    if (n < 2)
        return KULA_ENOTPARTY;
    if (!text_ok(tx->u.open.label, false, false) || !text_ok(tx->u.open.title, false, false))
        return KULA_ETEXT;
    for (uint32_t i = 0; i < n; i++) {
        kula_member m;
        if (i > 0 && tx->u.open.parties[i] <= tx->u.open.parties[i - 1])
            return KULA_EORDER;
        if ((rc = active_member(l, tx->u.open.parties[i], &m)) != 0)
            return rc;
    }
    if ((rc = check_rule(&tx->u.open.rule, n)) != 0)
        return rc;
    if ((rc = term_ok(tx->u.open.term_end, ledger_block_height(l))) != 0)
        return rc;
    kula_agreement a;
    memset(&a, 0, sizeof(a));
    a.id = tx->id;
    memcpy(a.label, tx->u.open.label.p, tx->u.open.label.n);
    memcpy(a.title, tx->u.open.title.p, tx->u.open.title.n);
    a.nparties = n;
    memcpy(a.parties, tx->u.open.parties, n * sizeof(a.parties[0]));
    kula_buf raw;
    kula_buf_init(&raw);
    if ((rc = rule_raw(&raw, &tx->u.open.rule)) == 0) {
        a.rule = tx->u.open.rule;
        a.rule_raw = raw.data;
        a.rule_raw_len = raw.len;
        a.term_end = tx->u.open.term_end;
        a.referral_fee_bps = tx->u.open.referral_fee_bps;
        a.status = KULA_AGREEMENT_OPEN;
        a.opened = ledger_block_height(l);
        rc = ledger_save_agreement(l, &a);
    }
    kula_buf_free(&raw);
    for (uint32_t i = 0; rc == 0 && i < n; i++)
        ledger_add_party(fx, a.parties[i]);
    return rc;
}

static int apply_amend(kula_ledger *l, const kula_tx *tx, kula_tx_effects *fx)
{
    kula_agreement a;
    int rc = open_agreement(l, &tx->u.amend.agreement, &a);
    if (rc != 0)
        return rc;
    if (!text_ok(tx->u.amend.title, false, false))
        return KULA_ETEXT;
    if ((rc = check_rule(&tx->u.amend.rule, a.nparties)) != 0)
        return rc;
    if ((rc = term_ok(tx->u.amend.term_end, ledger_block_height(l))) != 0)
        return rc;
    memset(a.title, 0, sizeof(a.title));
    memcpy(a.title, tx->u.amend.title.p, tx->u.amend.title.n);
    kula_buf raw;
    kula_buf_init(&raw);
    if ((rc = rule_raw(&raw, &tx->u.amend.rule)) == 0) {
        a.rule = tx->u.amend.rule;
        a.rule_raw = raw.data;
        a.rule_raw_len = raw.len;
        a.term_end = tx->u.amend.term_end;
        a.referral_fee_bps = tx->u.amend.referral_fee_bps;
        rc = ledger_save_agreement(l, &a);
    }
    kula_buf_free(&raw);
    for (uint32_t i = 0; rc == 0 && i < a.nparties; i++)
        ledger_add_party(fx, a.parties[i]);
    return rc;
}

static int apply_contribute(kula_ledger *l, const kula_tx *tx, kula_tx_effects *fx)
{
    kula_agreement a;
    int rc = open_agreement(l, &tx->u.contribute.agreement, &a);
    if (rc != 0)
        return rc;
    int who = kula_agreement_party(&a, tx->from);
    uint32_t ack = tx->u.contribute.acknowledger;
    if (who < 0 || kula_agreement_party(&a, ack) < 0)
        return KULA_ENOTPARTY;
    if (ack == tx->from)
        return KULA_ESELF;
    if ((rc = term_ok(a.term_end, ledger_block_height(l))) != 0)
        return rc;
    if (tx->u.contribute.value <= 0)
        return KULA_EAMOUNT;
    if (!text_ok(tx->u.contribute.description, true, true))
        return KULA_ETEXT;
    kula_amount sum;
    if (!kula_amount_add(&sum, kula_amount_of(a.contributed[who]),
                         kula_amount_of(tx->u.contribute.value)))
        return KULA_EOVERFLOW;
    a.contributed[who] = sum.v;
    ledger_add_party(fx, ack);
    return ledger_save_agreement(l, &a);
}

static int apply_benefit(kula_ledger *l, const kula_tx *tx, kula_tx_effects *fx)
{
    kula_agreement a;
    int rc = open_agreement(l, &tx->u.benefit.agreement, &a);
    if (rc != 0)
        return rc;
    int64_t amount = tx->u.benefit.amount;
    if (amount <= 0)
        return KULA_EAMOUNT;
    if (!text_ok(tx->u.benefit.description, true, true))
        return KULA_ETEXT;
    kula_member payer;
    kula_globals g;
    if ((rc = kula_ledger_member(l, tx->from, &payer)) != 0 ||
        (rc = kula_ledger_globals(l, &g)) != 0)
        return rc;
    kula_amount nb, pool, benefits, total;
    if (!kula_amount_sub(&nb, kula_amount_of(payer.balance), kula_amount_of(amount)) ||
        nb.v < -payer.credit_limit)
        return KULA_ECREDIT;
    if (!kula_amount_add(&pool, kula_amount_of(a.pool), kula_amount_of(amount)) ||
        !kula_amount_add(&benefits, kula_amount_of(a.benefits), kula_amount_of(amount)) ||
        !kula_amount_add(&total, kula_amount_of(g.pools_total), kula_amount_of(amount)))
        return KULA_EOVERFLOW;
    payer.balance = nb.v;
    a.pool = pool.v;
    a.benefits = benefits.v;
    g.pools_total = total.v;
    if ((rc = ledger_save_member(l, &payer)) != 0 || (rc = ledger_save_globals(l, &g)) != 0)
        return rc;
    (void)fx;
    return ledger_save_agreement(l, &a);
}

static int apply_settle(kula_ledger *l, const kula_tx *tx, kula_tx_effects *fx)
{
    kula_agreement a;
    int rc = open_agreement(l, &tx->u.settle.agreement, &a);
    if (rc != 0)
        return rc;
    if (kula_agreement_party(&a, tx->from) < 0)
        return KULA_ENOTPARTY;
    if (a.pool == 0)
        return KULA_EEMPTYPOOL;
    int64_t shares[KULA_MAX_PARTIES];
    if ((rc = kula_ledger_distribution(&a, a.pool, shares)) != 0)
        return rc;
    for (uint32_t i = 0; i < a.nparties; i++) {
        if (shares[i] == 0)
            continue;
        kula_member m;
        kula_amount nb, got;
        if ((rc = kula_ledger_member(l, a.parties[i], &m)) != 0)
            return rc;
        if (!kula_amount_add(&nb, kula_amount_of(m.balance), kula_amount_of(shares[i])) ||
            !kula_amount_add(&got, kula_amount_of(a.received[i]), kula_amount_of(shares[i])))
            return KULA_EOVERFLOW;
        m.balance = nb.v;
        a.received[i] = got.v;
        if ((rc = ledger_save_member(l, &m)) != 0)
            return rc;
        ledger_add_party(fx, m.id);
    }
    kula_globals g;
    if ((rc = kula_ledger_globals(l, &g)) != 0)
        return rc;
    g.pools_total -= a.pool; /* cannot underflow: it includes this pool */
    a.pool = 0;
    a.settlements++;
    if ((rc = ledger_save_globals(l, &g)) != 0)
        return rc;
    return ledger_save_agreement(l, &a);
}

static int apply_close(kula_ledger *l, const kula_tx *tx, kula_tx_effects *fx)
{
    kula_agreement a;
    int rc = open_agreement(l, &tx->u.settle.agreement, &a);
    if (rc != 0)
        return rc;
    /* Closing with credit still in the pool would strand it. */
    if (a.pool != 0)
        return KULA_EPOOL;
    a.status = KULA_AGREEMENT_CLOSED;
    for (uint32_t i = 0; i < a.nparties; i++)
        ledger_add_party(fx, a.parties[i]);
    return ledger_save_agreement(l, &a);
}

/* ---- §6 governance ---- */

static int valset_find(const kula_valset *vs, uint32_t id)
{
    for (uint32_t i = 0; i < vs->n; i++)
        if (vs->v[i].id == id)
            return (int)i;
    return -1;
}

/* Checks an action against the current state.  With execute, carries it
 * out (only after every check passed). */
static int run_action(kula_ledger *l, const kula_action *act, bool execute)
{
    int rc;
    kula_member m;
    uint32_t owner;
    switch ((enum kula_action_kind)act->kind) {
    case KULA_ACT_ADMIT: {
        if (!kula_pubkey_valid(&act->pubkey))
            return KULA_EBADKEY;
        rc = kula_ledger_member_by_key(l, &act->pubkey, &owner);
        if (rc == 0)
            return KULA_EDUPKEY;
        if (rc != KULA_ENOTFOUND)
            return rc;
        if (!text_ok(act->name, false, false) || !text_ok(act->sector, false, false))
            return KULA_ETEXT;
        if (act->credit_limit < 0 || act->credit_limit > INT64_MAX / 4)
            return KULA_EAMOUNT;
        if (act->voting_power > (UINT64_C(1) << 48))
            return KULA_EPARAM;
        kula_globals g;
        if ((rc = kula_ledger_globals(l, &g)) != 0)
            return rc;
        if (g.next_member == UINT32_MAX || g.active_members >= KULA_MAX_MEMBERS)
            return KULA_EPARAM;
        kula_valset vs;
        if ((rc = kula_ledger_valset(l, KULA_VALSET_LIVE, &vs)) != 0)
            return rc;
        if (act->voting_power > 0 && vs.n >= KULA_MAX_VALIDATORS)
            return KULA_EPARAM;
        if (!execute)
            return KULA_OK;
        memset(&m, 0, sizeof(m));
        m.id = g.next_member++;
        m.pubkey = act->pubkey;
        memcpy(m.name, act->name.p, act->name.n);
        memcpy(m.sector, act->sector.p, act->sector.n);
        m.credit_limit = act->credit_limit;
        m.status = KULA_MEMBER_ACTIVE;
        m.voting_power = act->voting_power;
        m.joined = ledger_block_height(l);
        g.active_members++;
        if (act->voting_power > 0) {
            /* new ids are the largest, so appending keeps the set sorted */
            vs.v[vs.n].id = m.id;
            vs.v[vs.n].power = act->voting_power;
            vs.total_power += act->voting_power;
            vs.n++;
            if ((rc = ledger_save_valset(l, KULA_VALSET_LIVE, &vs)) != 0)
                return rc;
        }
        if ((rc = ledger_save_member(l, &m)) != 0 || (rc = ledger_save_globals(l, &g)) != 0)
            return rc;
        return ledger_save_pubkey(l, &m.pubkey, m.id);
    }
    case KULA_ACT_REMOVE: {
        if ((rc = active_member(l, act->member, &m)) != 0)
            return rc;
        kula_valset vs;
        if ((rc = kula_ledger_valset(l, KULA_VALSET_LIVE, &vs)) != 0)
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
            if ((rc = ledger_save_valset(l, KULA_VALSET_LIVE, &vs)) != 0)
                return rc;
        }
        kula_globals g;
        if ((rc = kula_ledger_globals(l, &g)) != 0)
            return rc;
        g.active_members--;
        m.status = KULA_MEMBER_REMOVED;
        if ((rc = ledger_save_globals(l, &g)) != 0)
            return rc;
        return ledger_save_member(l, &m);
    }
    case KULA_ACT_CREDIT_LIMIT:
        if ((rc = kula_ledger_member(l, act->member, &m)) != 0)
            return rc;
        if (act->credit_limit < 0 || act->credit_limit > INT64_MAX / 4)
            return KULA_EAMOUNT;
        if (!execute)
            return KULA_OK;
        m.credit_limit = act->credit_limit;
        return ledger_save_member(l, &m);
    case KULA_ACT_PARAM: {
        kula_params p;
        if ((rc = kula_ledger_params(l, &p)) != 0)
            return rc;
        if (kula_params_set(&p, act->param, act->value) != 0)
            return KULA_EPARAM;
        return execute ? ledger_save_params(l, &p) : KULA_OK;
    }
    case KULA_ACT_ROTATE_KEY:
        if ((rc = active_member(l, act->member, &m)) != 0)
            return rc;
        if (!kula_pubkey_valid(&act->pubkey))
            return KULA_EBADKEY;
        rc = kula_ledger_member_by_key(l, &act->pubkey, &owner);
        if (rc == 0)
            return KULA_EDUPKEY;
        if (rc != KULA_ENOTFOUND)
            return rc;
        if (!execute)
            return KULA_OK;
        /* The old key stays bound to the member, so it can never be
         * admitted again under another identity. */
        m.pubkey = act->pubkey;
        if ((rc = ledger_save_member(l, &m)) != 0)
            return rc;
        return ledger_save_pubkey(l, &act->pubkey, m.id);
    }
    return KULA_EINVAL;
}

/* §6.2: decide a proposal once its outcome is certain. */
static int evaluate(kula_ledger *l, kula_proposal *q)
{
    kula_globals g;
    kula_params p;
    int rc;
    if ((rc = kula_ledger_globals(l, &g)) != 0 || (rc = kula_ledger_params(l, &p)) != 0)
        return rc;
    uint64_t active = g.active_members;
    uint64_t voted = (uint64_t)q->yes + q->no;
    uint64_t open = active > voted ? active - voted : 0;
    if ((uint64_t)q->yes * p.threshold_den > active * p.threshold_num) {
        q->status = KULA_PROPOSAL_PASSED;
        q->decided = ledger_block_height(l);
        /* The action is checked again: the state may have moved on since
         * the proposal.  If it no longer holds, the proposal fails and the
         * vote still counts. */
        rc = run_action(l, &q->action, false);
        if (rc == 0)
            rc = run_action(l, &q->action, true);
        if (rc == KULA_ENOMEM || rc == KULA_ESTORE)
            return rc;
        if (rc != 0) {
            q->status = KULA_PROPOSAL_FAILED;
            q->failure = rc;
        }
    } else if (((uint64_t)q->yes + open) * p.threshold_den <= active * p.threshold_num) {
        q->status = KULA_PROPOSAL_REJECTED;
        q->decided = ledger_block_height(l);
    }
    return ledger_save_proposal(l, q);
}

static int apply_propose(kula_ledger *l, const kula_tx *tx, kula_tx_effects *fx)
{
    const kula_action *act = &tx->u.propose.action;
    int rc = run_action(l, act, false);
    if (rc != 0)
        return rc;
    kula_params p;
    if ((rc = kula_ledger_params(l, &p)) != 0)
        return rc;
    kula_proposal q;
    memset(&q, 0, sizeof(q));
    kula_buf raw;
    kula_buf_init(&raw);
    if ((rc = kula_action_encode(&raw, act)) != 0) {
        kula_buf_free(&raw);
        return rc;
    }
    q.id = tx->id;
    q.proposer = tx->from;
    q.action = *act;
    q.action_raw = raw.data;
    q.action_raw_len = raw.len;
    q.created = ledger_block_height(l);
    q.expires = q.created + p.proposal_ttl;
    q.yes = 1; /* proposing is voting yes */
    q.status = KULA_PROPOSAL_OPEN;
    rc = ledger_save_vote(l, &q.id, tx->from, true);
    if (rc == 0)
        rc = evaluate(l, &q);
    kula_buf_free(&raw);
    if (rc == 0 && act->kind != KULA_ACT_ADMIT && act->kind != KULA_ACT_PARAM)
        ledger_add_party(fx, act->member);
    return rc;
}

static int apply_vote(kula_ledger *l, const kula_tx *tx, kula_tx_effects *fx)
{
    kula_proposal q;
    int rc = kula_ledger_proposal(l, &tx->u.vote.proposal, &q);
    if (rc != 0)
        return rc;
    if (q.status != KULA_PROPOSAL_OPEN)
        return KULA_EDECIDED;
    if (ledger_block_height(l) > q.expires)
        return KULA_EEXPIRED;
    bool has;
    if ((rc = ledger_has_vote(l, &q.id, tx->from, &has)) != 0)
        return rc;
    if (has)
        return KULA_EVOTED;
    if (tx->u.vote.approve)
        q.yes++;
    else
        q.no++;
    if ((rc = ledger_save_vote(l, &q.id, tx->from, tx->u.vote.approve)) != 0)
        return rc;
    (void)fx;
    /* q.action borrows the record; evaluate() writes other records first
     * and this one last, so the borrowed bytes stay valid throughout. */
    return evaluate(l, &q);
}

/* ---- §7 validators ---- */

/* §7.5: two signed votes of one validator for one (type, height, round)
 * and different blocks prove that it equivocated; the offence is recorded
 * once.  Nothing else changes: what to do about it is for the members to
 * decide (a remove proposal, a lower voting power). */
static int apply_evidence(kula_ledger *l, const kula_tx *tx, const kula_apply_opts *opts,
                          kula_tx_effects *fx)
{
    const kula_vote *a = &tx->u.evidence.a, *b = &tx->u.evidence.b;
    int rc;
    if (a->validator != b->validator || a->type != b->type || a->height != b->height ||
        a->round != b->round)
        return KULA_EEVIDENCE;
    /* Different blocks: two hashes, or a hash and nil. */
    if (a->has_block == b->has_block &&
        (!a->has_block || memcmp(a->block_hash.b, b->block_hash.b, KULA_HASH_LEN) == 0))
        return KULA_EEVIDENCE;
    /* A vote above the height being decided cannot have counted for
     * anything yet; the block's own height can (an earlier round). */
    if (a->height > ledger_block_height(l))
        return KULA_EHEIGHT;
    kula_member accused;
    if ((rc = kula_ledger_member(l, a->validator, &accused)) != 0)
        return rc;
    kula_evidence e;
    rc = kula_ledger_evidence(l, a->validator, a->height, a->round, a->type, &e);
    if (rc == 0)
        return KULA_EEXIST;
    if (rc != KULA_ENOTFOUND)
        return rc;
    /* Two BIP-340 verifications against the accused's current key, like
     * the transaction's own signatures skipped on a verified replay. */
    if (opts == NULL || !opts->skip_sigs) {
        kula_hash da, db;
        kula_vote_sighash(&da, kula_ledger_chain_id(l), a);
        kula_vote_sighash(&db, kula_ledger_chain_id(l), b);
        if (!kula_verify(&accused.pubkey, da.b, &a->sig) ||
            !kula_verify(&accused.pubkey, db.b, &b->sig))
            return KULA_EBADSIG;
    }
    e.validator = a->validator;
    e.height = a->height;
    e.round = a->round;
    e.type = a->type;
    e.reporter = tx->from;
    e.recorded = ledger_block_height(l);
    ledger_add_party(fx, accused.id);
    return ledger_save_evidence(l, &e);
}

int ledger_apply_rule(kula_ledger *l, const kula_tx *tx, const kula_apply_opts *opts,
                      kula_tx_effects *fx)
{
    if (!text_ok(tx->memo, true, true))
        return KULA_ETEXT;
    switch ((enum kula_tx_kind)tx->kind) {
    case KULA_TX_TRANSFER: return apply_transfer(l, tx, fx);
    case KULA_TX_EXCHANGE: return apply_exchange(l, tx, fx);
    case KULA_TX_REFERRAL: return apply_referral(l, tx, fx);
    case KULA_TX_CONVERSION: return apply_conversion(l, tx, fx);
    case KULA_TX_AGREEMENT_OPEN: return apply_open(l, tx, fx);
    case KULA_TX_AGREEMENT_AMEND: return apply_amend(l, tx, fx);
    case KULA_TX_CONTRIBUTE: return apply_contribute(l, tx, fx);
    case KULA_TX_BENEFIT: return apply_benefit(l, tx, fx);
    case KULA_TX_SETTLE: return apply_settle(l, tx, fx);
    case KULA_TX_AGREEMENT_CLOSE: return apply_close(l, tx, fx);
    case KULA_TX_FEEDBACK: return apply_feedback(l, tx, fx);
    case KULA_TX_PROPOSE: return apply_propose(l, tx, fx);
    case KULA_TX_VOTE: return apply_vote(l, tx, fx);
    case KULA_TX_EVIDENCE: return apply_evidence(l, tx, opts, fx);
    }
    return KULA_EINVAL;
}
