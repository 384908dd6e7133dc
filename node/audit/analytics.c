/* analytics.c -- ecosystem figures from a replay of the ledger (definitions
 * in include/kula/audit/analytics.h). */
#include "kula/audit/analytics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kula/base/error.h"
#include "kula/types/txkind.h"

#define DAY_MS UINT64_C(86400000)

struct kula_analytics_acc {
    /* flows by (from, to): open addressing over indexes into an->flows */
    uint32_t *slots;     /* index + 1; 0 = empty */
    size_t nslots;
    size_t flows_cap;
    size_t members_cap;
    uint64_t *last_period; /* per member: 1 + index of the last period it was active in */
    size_t periods_cap;
    kula_hash *agreements; /* ids, in opening order */
    size_t nagreements, agreements_cap;
};

const char *kula_period_name(enum kula_period_kind p)
{
    switch (p) {
    case KULA_PERIOD_DAY: return "day";
    case KULA_PERIOD_WEEK: return "week";
    case KULA_PERIOD_MONTH: return "month";
    }
    return "day";
}

int kula_analytics_init(kula_analytics *an, enum kula_period_kind period)
{
    memset(an, 0, sizeof(*an));
    an->period = period;
    an->acc = calloc(1, sizeof(*an->acc));
    return an->acc == NULL ? KULA_ENOMEM : KULA_OK;
}

void kula_analytics_free(kula_analytics *an)
{
    if (an->acc != NULL) {
        free(an->acc->slots);
        free(an->acc->last_period);
        free(an->acc->agreements);
        free(an->acc);
    }
    free(an->members);
    free(an->periods);
    free(an->flows);
    free(an->agreements);
    memset(an, 0, sizeof(*an));
}

/* ---- periods ---- */

static void period_of(enum kula_period_kind p, uint64_t ms, char *label, size_t cap,
                      uint64_t *start)
{
    uint64_t days = ms / DAY_MS;
    time_t secs;
    struct tm tm;
    switch (p) {
    case KULA_PERIOD_DAY:
        secs = (time_t)(days * 86400);
        gmtime_r(&secs, &tm);
        snprintf(label, cap, "%04u-%02u-%02u", (unsigned)(tm.tm_year + 1900) % 10000u,
                 (unsigned)(tm.tm_mon + 1) % 100u, (unsigned)tm.tm_mday % 100u);
        *start = days * DAY_MS;
        return;
    case KULA_PERIOD_WEEK: {
        /* ISO 8601: weeks start on Monday; a week belongs to the year of
         * its Thursday.  1970-01-01 was a Thursday. */
        uint64_t monday = days - (days + 3) % 7;
        secs = (time_t)((monday + 3) * 86400);
        gmtime_r(&secs, &tm);
        snprintf(label, cap, "%04u-W%02u", (unsigned)(tm.tm_year + 1900) % 10000u,
                 (unsigned)(tm.tm_yday / 7 + 1) % 100u);
        *start = monday * DAY_MS;
        return;
    }
    case KULA_PERIOD_MONTH:
        secs = (time_t)(days * 86400);
        gmtime_r(&secs, &tm);
        snprintf(label, cap, "%04u-%02u", (unsigned)(tm.tm_year + 1900) % 10000u,
                 (unsigned)(tm.tm_mon + 1) % 100u);
        *start = (days - (uint64_t)(tm.tm_mday - 1)) * DAY_MS;
        return;
    }
}

/* The period of time ms, made if absent.  The replay asks in time order, so
 * the period is the last or a new last one; a clearing's may come before
 * (kula_analytics_clearings, after the replay: acc->last_period, whose
 * indexes the insertion would shift, is no longer used then). */
static kula_period_stats *current_period(kula_analytics *an, uint64_t ms)
{
    char label[16];
    uint64_t start = 0;
    period_of(an->period, ms, label, sizeof(label), &start);
    size_t at = an->nperiods;
    while (at > 0 && an->periods[at - 1].start_ms > start)
        at--;
    if (at > 0 && an->periods[at - 1].start_ms == start)
        return &an->periods[at - 1];
    struct kula_analytics_acc *acc = an->acc;
    if (an->nperiods == acc->periods_cap) {
        size_t cap = acc->periods_cap ? acc->periods_cap * 2 : 16;
        kula_period_stats *np = realloc(an->periods, cap * sizeof(*np));
        if (np == NULL)
            return NULL;
        an->periods = np;
        acc->periods_cap = cap;
    }
    memmove(&an->periods[at + 1], &an->periods[at], (an->nperiods - at) * sizeof(*an->periods));
    an->nperiods++;
    kula_period_stats *ps = &an->periods[at];
    memset(ps, 0, sizeof(*ps));
    memcpy(ps->label, label, sizeof(ps->label));
    ps->start_ms = start;
    return ps;
}

/* ---- members ---- */

static kula_member_stats *member(kula_analytics *an, uint32_t id)
{
    if (id == 0)
        return NULL;
    struct kula_analytics_acc *acc = an->acc;
    if (id > acc->members_cap) {
        size_t cap = acc->members_cap ? acc->members_cap : 64;
        while (cap < id)
            cap *= 2;
        kula_member_stats *nm = realloc(an->members, cap * sizeof(*nm));
        if (nm == NULL)
            return NULL;
        an->members = nm;
        uint64_t *lp = realloc(acc->last_period, cap * sizeof(*lp));
        if (lp == NULL)
            return NULL;
        acc->last_period = lp;
        for (size_t i = acc->members_cap; i < cap; i++) {
            memset(&nm[i], 0, sizeof(nm[i]));
            nm[i].id = (uint32_t)i + 1;
            lp[i] = 0;
        }
        acc->members_cap = cap;
    }
    if (id > an->nmembers)
        an->nmembers = id;
    return &an->members[id - 1];
}

/* ---- flows ---- */

static uint64_t flow_key(uint32_t from, uint32_t to) { return (uint64_t)from << 32 | to; }

static size_t slot_of(uint64_t key, size_t nslots)
{
    key ^= key >> 33;
    key *= UINT64_C(0xff51afd7ed558ccd);
    key ^= key >> 33;
    return (size_t)key & (nslots - 1);
}

static int rehash(kula_analytics *an, size_t nslots)
{
    uint32_t *slots = calloc(nslots, sizeof(*slots));
    if (slots == NULL)
        return KULA_ENOMEM;
    for (size_t i = 0; i < an->nflows; i++) {
        size_t s = slot_of(flow_key(an->flows[i].from, an->flows[i].to), nslots);
        while (slots[s] != 0)
            s = (s + 1) & (nslots - 1);
        slots[s] = (uint32_t)i + 1;
    }
    free(an->acc->slots);
    an->acc->slots = slots;
    an->acc->nslots = nslots;
    return KULA_OK;
}

static kula_flow *flow(kula_analytics *an, uint32_t from, uint32_t to)
{
    struct kula_analytics_acc *acc = an->acc;
    if ((an->nflows + 1) * 2 > acc->nslots && rehash(an, acc->nslots ? acc->nslots * 2 : 64) != 0)
        return NULL;
    uint64_t key = flow_key(from, to);
    size_t s = slot_of(key, acc->nslots);
    while (acc->slots[s] != 0) {
        kula_flow *f = &an->flows[acc->slots[s] - 1];
        if (f->from == from && f->to == to)
            return f;
        s = (s + 1) & (acc->nslots - 1);
    }
    if (an->nflows == acc->flows_cap) {
        size_t cap = acc->flows_cap ? acc->flows_cap * 2 : 64;
        kula_flow *nf = realloc(an->flows, cap * sizeof(*nf));
        if (nf == NULL)
            return NULL;
        an->flows = nf;
        acc->flows_cap = cap;
    }
    kula_flow *f = &an->flows[an->nflows];
    memset(f, 0, sizeof(*f));
    f->from = from;
    f->to = to;
    acc->slots[s] = (uint32_t)++an->nflows;
    return f;
}

/* A value flow between two members (value may be 0: they still traded). */
static int add_flow(kula_analytics *an, kula_period_stats *ps, uint32_t from, uint32_t to,
                    int64_t value)
{
    kula_flow *f = flow(an, from, to);
    /* Grow the members once, for the larger id: a second growth would
     * move the first pointer. */
    if (f == NULL || member(an, from > to ? from : to) == NULL)
        return KULA_ENOMEM;
    kula_member_stats *a = member(an, from), *b = member(an, to);
    if (a == NULL || b == NULL)
        return KULA_ENOMEM;
    kula_sum v = value > 0 ? (kula_sum)value : 0;
    f->value += v;
    f->txs++;
    a->given += v;
    b->received += v;
    ps->volume += v;
    an->volume += v;
    return KULA_OK;
}

/* Marks member id (its stats made) active in the period. */
static void active_in(kula_analytics *an, size_t period, uint32_t id)
{
    if (an->acc->last_period[id - 1] != period + 1) {
        an->acc->last_period[id - 1] = period + 1;
        an->periods[period].active_members++;
    }
}

/* Marks id active in the transaction (once) and the period. */
static int touch(kula_analytics *an, size_t period, uint32_t *seen, uint32_t *nseen, uint32_t id)
{
    for (uint32_t i = 0; i < *nseen; i++)
        if (seen[i] == id)
            return KULA_OK;
    kula_member_stats *m = member(an, id);
    if (m == NULL)
        return KULA_ENOMEM;
    seen[(*nseen)++] = id;
    m->txs++;
    active_in(an, period, id);
    return KULA_OK;
}

/* A payment of a clearing's settlement (LEDGER §9.6): an invoice paid from
 * the debtor's credit without a transaction (definitions in analytics.h). */
static int add_payment(kula_analytics *an, kula_period_stats *ps, size_t period,
                       const kula_credit_move *mv)
{
    int rc = add_flow(an, ps, mv->payer, mv->payee, mv->amount);
    if (rc != 0)
        return rc;
    ps->settled += (kula_sum)mv->amount;
    ps->payments++;
    an->settled += (kula_sum)mv->amount;
    an->payments++;
    active_in(an, period, mv->payer);
    active_in(an, period, mv->payee);
    return KULA_OK;
}

static int note_agreement(kula_analytics *an, const kula_hash *id)
{
    struct kula_analytics_acc *acc = an->acc;
    if (acc->nagreements == acc->agreements_cap) {
        size_t cap = acc->agreements_cap ? acc->agreements_cap * 2 : 16;
        kula_hash *na = realloc(acc->agreements, cap * sizeof(*na));
        if (na == NULL)
            return KULA_ENOMEM;
        acc->agreements = na;
        acc->agreements_cap = cap;
    }
    acc->agreements[acc->nagreements++] = *id;
    return KULA_OK;
}

int kula_analytics_add(kula_analytics *an, kula_ledger *l, const kula_replay_tx *t)
{
    (void)l;
    const kula_tx *tx = t->tx;
    kula_period_stats *ps = current_period(an, t->time_ms);
    if (ps == NULL)
        return KULA_ENOMEM;
    size_t period = (size_t)(ps - an->periods);
    if (tx == NULL)
        return add_payment(an, ps, period, &t->moves[0]);
    if (an->txs == 0)
        an->first_ms = t->time_ms;
    an->last_ms = t->time_ms;
    an->txs++;
    ps->txs++;
    int rc = KULA_OK;
    kula_member_stats *m;
    /* Value given and received, and flows between members: who gains what
     * is each kind's meaning, not its fields, so it stays a switch. */
    switch ((enum kula_tx_kind)tx->kind) {
    case KULA_TX_TRANSFER:
        rc = add_flow(an, ps, tx->from, tx->u.transfer.to, tx->u.transfer.amount);
        break;
    case KULA_TX_EXCHANGE: {
        int64_t g = tx->u.exchange.gives_value, r = tx->u.exchange.receives_value;
        uint32_t cp = tx->u.exchange.counterparty;
        /* Each side hands over max(g, r): its goods plus any credit owed. */
        rc = add_flow(an, ps, tx->from, cp, g > r ? g : r);
        if (rc == 0)
            rc = add_flow(an, ps, cp, tx->from, g > r ? g : r);
        break;
    }
    case KULA_TX_CONVERSION:
        rc = add_flow(an, ps, tx->from, t->referrer, t->fee);
        break;
    case KULA_TX_INVOICE_PAY:
        rc = add_flow(an, ps, tx->from, t->invoice_other, tx->u.inv.amount);
        break;
    case KULA_TX_BENEFIT:
        if ((m = member(an, tx->from)) == NULL)
            return KULA_ENOMEM;
        m->given += (kula_sum)tx->u.benefit.amount;
        ps->benefits += (kula_sum)tx->u.benefit.amount;
        an->benefits += (kula_sum)tx->u.benefit.amount;
        break;
    case KULA_TX_SETTLE:
        for (uint32_t i = 0; i < t->nshares; i++) {
            if (t->shares[i] <= 0)
                continue;
            if ((m = member(an, t->share_party[i])) == NULL)
                return KULA_ENOMEM;
            m->received += (kula_sum)t->shares[i];
            m->benefits += (kula_sum)t->shares[i];
            ps->distributed += (kula_sum)t->shares[i];
            an->distributed += (kula_sum)t->shares[i];
        }
        break;
    case KULA_TX_CONTRIBUTE:
        if ((m = member(an, tx->from)) == NULL)
            return KULA_ENOMEM;
        m->contributed += (kula_sum)tx->u.contribute.value;
        break;
    case KULA_TX_AGREEMENT_OPEN:
        rc = note_agreement(an, &tx->id);
        break;
    case KULA_TX_REFERRAL:
    case KULA_TX_AGREEMENT_AMEND:
    case KULA_TX_AGREEMENT_CLOSE:
    case KULA_TX_FEEDBACK:
    case KULA_TX_PROPOSE:
    case KULA_TX_VOTE:
    case KULA_TX_EVIDENCE:
    case KULA_TX_INVOICE:
    case KULA_TX_INVOICE_ACCEPT:
    case KULA_TX_INVOICE_DISPUTE:
    case KULA_TX_INVOICE_CANCEL:
    case KULA_TX_CLEARING_SETTLE:
        break;
    }
    if (rc != 0)
        return rc;
    /* Active members: initiator, signers, counterparties, recipients. */
    uint32_t seen[3 * KULA_MAX_PARTIES + 4], nseen = 0;
    rc = touch(an, period, seen, &nseen, tx->from);
    for (uint32_t i = 0; rc == 0 && i < tx->nsigs; i++)
        rc = touch(an, period, seen, &nseen, tx->sigs[i].signer);
    /* The member on the other side: the one the kind names (txkind.h; an
     * evidence's accused did not trade), for a conversion the referrer, for
     * an invoice's transactions the invoice's other party. */
    uint32_t other = tx->kind == KULA_TX_CONVERSION ? t->referrer
                     : t->has_invoice                ? t->invoice_other
                                                     : kula_tx_other(tx);
    if (rc == 0 && other != 0)
        rc = touch(an, period, seen, &nseen, other);
    for (uint32_t i = 0; rc == 0 && i < t->nshares; i++)
        if (t->shares[i] > 0)
            rc = touch(an, period, seen, &nseen, t->share_party[i]);
    return rc;
}

/* ---- finishing ---- */

static int cmp_flow(const void *pa, const void *pb)
{
    const kula_flow *a = pa, *b = pb;
    uint64_t ka = flow_key(a->from, a->to), kb = flow_key(b->from, b->to);
    return ka < kb ? -1 : ka > kb;
}

static int cmp_u64(const void *pa, const void *pb)
{
    uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    return a < b ? -1 : a > b;
}

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return a < b ? -1 : a > b;
}

double kula_gini(const double *x, size_t n)
{
    if (n == 0)
        return 0;
    double *s = malloc(n * sizeof(*s));
    if (s == NULL)
        return 0;
    memcpy(s, x, n * sizeof(*s));
    qsort(s, n, sizeof(*s), cmp_double);
    /* With x ascending: G = sum_i (2i - n - 1) x_i / (n sum x), i = 1..n,
     * which equals sum_i sum_j |x_i - x_j| / (2 n sum x). */
    double sum = 0, weighted = 0;
    for (size_t i = 0; i < n; i++) {
        sum += s[i];
        weighted += (2.0 * (double)(i + 1) - (double)n - 1.0) * s[i];
    }
    free(s);
    return sum > 0 ? weighted / ((double)n * sum) : 0;
}

double kula_hhi(const double *x, size_t n)
{
    double sum = 0, h = 0;
    for (size_t i = 0; i < n; i++)
        sum += x[i];
    if (sum <= 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        h += (x[i] / sum) * (x[i] / sum);
    return h;
}

static int finish_agreements(kula_analytics *an, kula_ledger *l)
{
    struct kula_analytics_acc *acc = an->acc;
    if (acc->nagreements == 0)
        return KULA_OK;
    an->agreements = calloc(acc->nagreements, sizeof(*an->agreements));
    if (an->agreements == NULL)
        return KULA_ENOMEM;
    for (size_t k = 0; k < acc->nagreements; k++) {
        kula_agreement a;
        int rc = kula_ledger_agreement(l, &acc->agreements[k], &a);
        if (rc != 0)
            return rc;
        kula_agreement_stats *s = &an->agreements[an->nagreements++];
        s->id = a.id;
        memcpy(s->label, a.label, sizeof(s->label));
        memcpy(s->title, a.title, sizeof(s->title));
        s->status = a.status;
        s->rule = a.rule.kind;
        s->opened = a.opened;
        s->settlements = a.settlements;
        s->benefits = a.benefits;
        s->pool = a.pool;
        s->nparties = a.nparties;
        double csum = 0, rsum = 0;
        for (uint32_t i = 0; i < a.nparties; i++) {
            s->parties[i] = a.parties[i];
            s->contributed[i] = a.contributed[i];
            s->received[i] = a.received[i];
            csum += (double)a.contributed[i];
            rsum += (double)a.received[i];
            kula_member_stats *m = member(an, a.parties[i]);
            if (m == NULL)
                return KULA_ENOMEM;
            m->in_agreement = true;
        }
        for (uint32_t i = 0; i < a.nparties; i++) {
            s->contribution_share[i] = csum > 0 ? (double)a.contributed[i] / csum : -1;
            s->benefit_share[i] = rsum > 0 ? (double)a.received[i] / rsum : -1;
        }
    }
    return KULA_OK;
}

int kula_analytics_finish(kula_analytics *an, kula_ledger *l, uint64_t height)
{
    an->height = height;
    kula_globals g;
    int rc = kula_ledger_globals(l, &g);
    if (rc != 0)
        return rc;
    /* Every member ever admitted, from the final state. */
    for (uint32_t id = 1; id < g.next_member; id++) {
        kula_member rec;
        kula_member_stats *m = member(an, id);
        if (m == NULL)
            return KULA_ENOMEM;
        if ((rc = kula_ledger_member(l, id, &rec)) != 0)
            return rc;
        memcpy(m->name, rec.name, sizeof(m->name));
        memcpy(m->sector, rec.sector, sizeof(m->sector));
        m->status = rec.status;
        m->balance = rec.balance;
        m->rating_sum = rec.rating_sum;
        m->rating_count = rec.rating_count;
        m->rating = rec.rating_count > 0 ? (double)rec.rating_sum / (double)rec.rating_count : 0;
    }
    if ((rc = finish_agreements(an, l)) != 0)
        return rc;
    if (an->nflows > 0)
        qsort(an->flows, an->nflows, sizeof(*an->flows), cmp_flow);
    if (an->acc->slots != NULL) /* indexes changed: rebuild the lookup */
        if ((rc = rehash(an, an->acc->nslots)) != 0)
            return rc;
    /* Trading pairs: flows in either direction, counted once. */
    uint64_t *pairs = malloc((an->nflows ? an->nflows : 1) * sizeof(*pairs));
    if (pairs == NULL)
        return KULA_ENOMEM;
    for (size_t i = 0; i < an->nflows; i++) {
        uint32_t a = an->flows[i].from, b = an->flows[i].to;
        pairs[i] = a < b ? flow_key(a, b) : flow_key(b, a);
    }
    qsort(pairs, an->nflows, sizeof(*pairs), cmp_u64);
    an->pairs = 0;
    for (size_t i = 0; i < an->nflows; i++) {
        if (i > 0 && pairs[i] == pairs[i - 1])
            continue;
        an->pairs++;
        an->members[(pairs[i] >> 32) - 1].partners++;
        an->members[(pairs[i] & 0xffffffffu) - 1].partners++;
    }
    free(pairs);
    double n = an->nmembers;
    an->density = an->nmembers >= 2 ? (double)an->pairs / (n * (n - 1) / 2) : 0;
    /* Concentration of benefits over the members in agreements. */
    double *x = malloc((an->nmembers ? an->nmembers : 1) * sizeof(*x));
    if (x == NULL)
        return KULA_ENOMEM;
    size_t k = 0;
    for (uint32_t i = 0; i < an->nmembers; i++)
        if (an->members[i].in_agreement)
            x[k++] = (double)an->members[i].benefits;
    an->benefit_members = (uint32_t)k;
    an->gini = kula_gini(x, k);
    an->hhi = kula_hhi(x, k);
    free(x);
    return KULA_OK;
}

const kula_flow *kula_analytics_flow(const kula_analytics *an, uint32_t from, uint32_t to)
{
    const struct kula_analytics_acc *acc = an->acc;
    if (acc == NULL || acc->nslots == 0)
        return NULL;
    uint64_t key = flow_key(from, to);
    size_t s = slot_of(key, acc->nslots);
    while (acc->slots[s] != 0) {
        const kula_flow *f = &an->flows[acc->slots[s] - 1];
        if (f->from == from && f->to == to)
            return f;
        s = (s + 1) & (acc->nslots - 1);
    }
    return NULL;
}

/* ---- clearings ---- */

/* Inserts (member, amount) into the ranking top[0..*n), largest first, ties
 * by the lower id (members come in ascending id, so a tie stays behind). */
static void rank(kula_debt_rank *top, uint32_t *n, uint32_t member, kula_sum amount)
{
    if (amount == 0)
        return;
    uint32_t at = *n;
    while (at > 0 && top[at - 1].amount < amount)
        at--;
    if (at >= KULA_ANALYTICS_TOP)
        return;
    uint32_t last = *n < KULA_ANALYTICS_TOP ? *n : KULA_ANALYTICS_TOP - 1;
    memmove(&top[at + 1], &top[at], (last - at) * sizeof(*top));
    top[at] = (kula_debt_rank){ member, amount };
    if (*n < KULA_ANALYTICS_TOP)
        (*n)++;
}

/* Creditors and debtors after clearing c: what its obligations still owe. */
static int rank_after(kula_analytics *an, const kula_clearing *c)
{
    kula_clearing_stats *cs = &an->clearing;
    kula_sum *owed = calloc((size_t)an->nmembers + 1, sizeof(*owed));
    kula_sum *owing = calloc((size_t)an->nmembers + 1, sizeof(*owing));
    if (owed == NULL || owing == NULL) {
        free(owed);
        free(owing);
        return KULA_ENOMEM;
    }
    for (uint32_t i = 0; i < c->nitems; i++) {
        const kula_clearing_item *it = &c->items[i];
        if (it->creditor == 0 || it->creditor > an->nmembers || it->debtor == 0 ||
            it->debtor > an->nmembers) {
            free(owed);
            free(owing);
            return KULA_ESTORE; /* a member the ledger never admitted */
        }
        owed[it->creditor] += (kula_sum)(it->before - it->setoff);
        owing[it->debtor] += (kula_sum)(it->before - it->setoff);
    }
    cs->ncreditors = cs->ndebtors = 0;
    for (uint32_t id = 1; id <= an->nmembers; id++) {
        rank(cs->creditors, &cs->ncreditors, id, owed[id]);
        rank(cs->debtors, &cs->ndebtors, id, owing[id]);
    }
    free(owed);
    free(owing);
    return KULA_OK;
}

int kula_analytics_clearings(kula_analytics *an, kula_ledger *l, kula_archive *a)
{
    kula_clearing_stats *cs = &an->clearing;
    uint64_t n;
    int rc = kula_ledger_clearings(l, &n);
    for (uint64_t k = 1; rc == 0 && k <= n; k++) {
        kula_clearing c;
        if ((rc = kula_ledger_clearing(l, k, &c)) != 0)
            break;
        uint64_t ms;
        if ((rc = kula_archive_block_time(a, c.height, &ms)) == 0) {
            kula_period_stats *ps = current_period(an, ms);
            if (ps == NULL)
                rc = KULA_ENOMEM;
            else {
                ps->clearings++;
                ps->clearing_debt += c.total_debt;
                ps->cleared += c.cleared;
                cs->count++;
                cs->debt += c.total_debt;
                cs->cleared += c.cleared;
                cs->last = k;
                cs->last_height = c.height;
                cs->last_ms = ms;
                cs->last_debt = c.total_debt;
                cs->last_cleared = c.cleared;
                cs->last_remaining = c.remaining;
                if (k == n)
                    rc = rank_after(an, &c);
            }
        }
        kula_clearing_free(&c);
    }
    return rc;
}

int kula_share_format(char *buf, size_t len, kula_sum part, kula_sum whole)
{
    int n;
    if (whole == 0) {
        n = snprintf(buf, len, "-");
    } else {
        /* tenths of a percent, rounded down: 100.0 only when all of it */
        kula_sum t = part * 1000 / whole;
        n = snprintf(buf, len, "%llu.%u", (unsigned long long)(t / 10), (unsigned)(t % 10));
    }
    return n < 0 || (size_t)n >= len ? -1 : n;
}

static int add_cb(void *ctx, kula_ledger *l, const kula_replay_tx *t)
{
    return kula_analytics_add(ctx, l, t);
}

int kula_analytics_compute(kula_analytics *an, kula_archive *a, enum kula_period_kind period,
                           kula_error *e, uint64_t *bad_height)
{
    int rc = kula_analytics_init(an, period);
    if (rc != 0)
        return rc;
    kula_replay *r;
    if ((rc = kula_replay_new(&r, a)) != 0)
        return rc;
    kula_replay_on_payment(r, add_cb, an); /* LEDGER §9.6 */
    rc = kula_replay_run(r, kula_archive_tip(a), add_cb, an, e, bad_height);
    if (rc == 0)
        rc = kula_analytics_finish(an, kula_replay_ledger(r), kula_replay_height(r));
    if (rc == 0)
        rc = kula_analytics_clearings(an, kula_replay_ledger(r), a);
    kula_replay_free(r);
    return rc;
}

int kula_sum_format(char *buf, size_t len, kula_sum v, unsigned decimals)
{
    char digits[64];
    size_t n = 0;
    if (decimals > 18)
        return -1;
    do {
        digits[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v > 0);
    while (n <= decimals) /* at least one digit before the point */
        digits[n++] = '0';
    size_t out = n + (decimals > 0 ? 1 : 0);
    if (out + 1 > len)
        return -1;
    size_t p = 0;
    for (size_t i = n; i > 0; i--) {
        if (decimals > 0 && i == decimals)
            buf[p++] = '.';
        buf[p++] = digits[i - 1];
    }
    buf[p] = '\0';
    return (int)p;
}
