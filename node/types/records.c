/* records.c -- keys and canonical encodings of the ledger's state records. */
#include "kula/types/records.h"

#include <stdlib.h>
#include <string.h>

#include "kula/base/error.h"
#include "kula/base/bytes.h"

/* ---- keys ---- */

static void key1(kula_key *k, uint8_t prefix)
{
    k->b[0] = prefix;
    k->n = 1;
}

static void key_hash(kula_key *k, uint8_t prefix, const kula_hash *h)
{
    k->b[0] = prefix;
    memcpy(k->b + 1, h->b, KULA_HASH_LEN);
    k->n = 1 + KULA_HASH_LEN;
}

void kula_key_global(kula_key *k) { key1(k, KULA_KEY_GLOBAL); }
void kula_key_params(kula_key *k) { key1(k, KULA_KEY_PARAMS); }

void kula_key_valset(kula_key *k, enum kula_valset_which which)
{
    k->b[0] = KULA_KEY_VALSET;
    k->b[1] = (uint8_t)which;
    k->n = 2;
}

void kula_key_member(kula_key *k, uint32_t id)
{
    k->b[0] = KULA_KEY_MEMBER;
    kula_put_be32(k->b + 1, id);
    k->n = 5;
}

void kula_key_pubkey(kula_key *k, const kula_pubkey *pk)
{
    k->b[0] = KULA_KEY_PUBKEY;
    memcpy(k->b + 1, pk->b, KULA_PUBKEY_LEN);
    k->n = 1 + KULA_PUBKEY_LEN;
}

void kula_key_agreement(kula_key *k, const kula_hash *id) { key_hash(k, KULA_KEY_AGREEMENT, id); }
void kula_key_referral(kula_key *k, const kula_hash *id) { key_hash(k, KULA_KEY_REFERRAL, id); }
void kula_key_proposal(kula_key *k, const kula_hash *id) { key_hash(k, KULA_KEY_PROPOSAL, id); }
void kula_key_done(kula_key *k, const kula_hash *tx_id) { key_hash(k, KULA_KEY_DONE, tx_id); }
void kula_key_invoice(kula_key *k, const kula_hash *id) { key_hash(k, KULA_KEY_INVOICE, id); }
void kula_key_observers(kula_key *k) { key1(k, KULA_KEY_OBSERVERS); }

void kula_key_clearing(kula_key *k, uint64_t n)
{
    k->b[0] = KULA_KEY_CLEARING;
    for (int i = 0; i < 8; i++)
        k->b[1 + i] = (uint8_t)(n >> (56 - 8 * i));
    k->n = 9;
}

void kula_key_clearings(kula_key *k) { key1(k, KULA_KEY_CLEARINGS); }

void kula_key_settles(kula_key *k, uint32_t member)
{
    k->b[0] = KULA_KEY_SETTLES;
    kula_put_be32(k->b + 1, member);
    k->n = 5;
}

void kula_key_settlement(kula_key *k, uint64_t n)
{
    kula_key_clearing(k, n);
    k->b[0] = KULA_KEY_SETTLEMENT;
}
void kula_key_clear_asked(kula_key *k) { key1(k, KULA_KEY_CLEAR_ASKED); }

void kula_key_pair(kula_key *k, uint32_t a, uint32_t b)
{
    if (a > b) {
        uint32_t t = a;
        a = b;
        b = t;
    }
    k->b[0] = KULA_KEY_PAIR;
    kula_put_be32(k->b + 1, a);
    kula_put_be32(k->b + 5, b);
    k->n = 9;
}

void kula_key_vote(kula_key *k, const kula_hash *proposal, uint32_t member)
{
    key_hash(k, KULA_KEY_VOTE, proposal);
    kula_put_be32(k->b + k->n, member);
    k->n += 4;
}

void kula_key_evidence(kula_key *k, uint32_t validator, uint64_t height, uint32_t round,
                       uint8_t type)
{
    k->b[0] = KULA_KEY_EVIDENCE;
    kula_put_be32(k->b + 1, validator);
    kula_put_be64(k->b + 5, height);
    kula_put_be32(k->b + 13, round);
    k->b[17] = type;
    k->n = 18;
}

/* ---- helpers ---- */

/* A text of a record, into a C string: one holding a NUL byte is refused,
 * as it could not be encoded again the same (the ledger's rules let no
 * control character into a name or title: rules_check.c). */
static void copy_str(kula_reader *r, char *dst, size_t max)
{
    const char *p;
    size_t n = kula_r_str(r, &p, max);
    if (kula_reader_ok(r) && memchr(p, '\0', n) != NULL)
        kula_reader_fail(r, KULA_ENONCANON);
    if (kula_reader_ok(r)) {
        memcpy(dst, p, n);
        dst[n] = '\0';
    } else {
        dst[0] = '\0';
    }
}

static void w_cstr(kula_writer *w, const char *s) { kula_w_str(w, s, strlen(s)); }

/* ---- globals, params, validator sets ---- */

int kula_globals_encode(kula_buf *out, const kula_globals *g)
{
    kula_writer w;
    kula_writer_init(&w, out);
    kula_w_array(&w, 3);
    kula_w_uint(&w, g->next_member);
    kula_w_uint(&w, g->active_members);
    kula_w_int(&w, g->pools_total);
    return out->err;
}

int kula_globals_decode(kula_globals *g, const uint8_t *p, size_t n)
{
    kula_reader r;
    kula_reader_init(&r, p, n);
    kula_r_array_exact(&r, 3);
    g->next_member = (uint32_t)kula_r_uint(&r, UINT32_MAX);
    g->active_members = (uint32_t)kula_r_uint(&r, UINT32_MAX);
    g->pools_total = kula_r_int(&r, 0, INT64_MAX);
    return kula_reader_finish(&r);
}

int kula_params_encode(kula_buf *out, const kula_params *pr)
{
    kula_writer w;
    kula_writer_init(&w, out);
    uint32_t np = kula_params_encoded_count(pr);
    kula_w_array(&w, np);
    for (uint32_t id = 1; id <= np; id++) {
        int64_t v = 0;
        /* every id in 1..KULA_PARAM_COUNT exists: this cannot fail */
        kula_result_ignored(kula_params_get(pr, id, &v));
        kula_w_int(&w, v);
    }
    return out->err;
}

int kula_params_decode(kula_params *pr, const uint8_t *p, size_t n)
{
    kula_reader r;
    kula_reader_init(&r, p, n);
    uint32_t np = kula_r_array(&r, KULA_PARAM_COUNT);
    if (kula_reader_ok(&r) && np < KULA_PARAM_COUNT_BASE)
        kula_reader_fail(&r, KULA_EARITY);
    int64_t vals[KULA_PARAM_COUNT] = { 0 };
    for (uint32_t i = 0; i < np && kula_reader_ok(&r); i++)
        vals[i] = kula_r_int(&r, INT64_MIN, INT64_MAX);
    int rc = kula_reader_finish(&r);
    if (rc != 0)
        return rc;
    if (kula_params_assign(pr, vals) != 0)
        return KULA_ERANGE;
    /* SPEC §8.1: a trailing parameter is present only when not 0 */
    return kula_params_encoded_count(pr) == np ? KULA_OK : KULA_ENONCANON;
}

int kula_valset_encode(kula_buf *out, const kula_valset *vs)
{
    kula_writer w;
    kula_writer_init(&w, out);
    kula_w_array(&w, vs->n);
    for (uint32_t i = 0; i < vs->n; i++) {
        kula_w_array(&w, 2);
        kula_w_uint(&w, vs->v[i].id);
        kula_w_uint(&w, vs->v[i].power);
    }
    return out->err;
}

int kula_valset_decode(kula_valset *vs, const uint8_t *p, size_t n)
{
    kula_reader r;
    kula_reader_init(&r, p, n);
    vs->n = kula_r_array(&r, KULA_MAX_VALIDATORS);
    vs->total_power = 0;
    for (uint32_t i = 0; i < vs->n && kula_reader_ok(&r); i++) {
        kula_r_array_exact(&r, 2);
        vs->v[i].id = (uint32_t)kula_r_uint(&r, UINT32_MAX);
        vs->v[i].power = kula_r_uint(&r, UINT64_C(1) << 48);
        if (kula_reader_ok(&r) && (vs->v[i].power == 0 ||
                                   (i > 0 && vs->v[i].id <= vs->v[i - 1].id)))
            kula_reader_fail(&r, KULA_EORDER);
        vs->total_power += vs->v[i].power;
    }
    int rc = kula_reader_finish(&r);
    if (rc != 0)
        vs->n = 0;
    return rc;
}

/* ---- observers ---- */

int kula_observers_find(const kula_observers *os, const kula_pubkey *pk)
{
    for (uint32_t i = 0; i < os->n; i++)
        if (memcmp(os->v[i].pubkey.b, pk->b, KULA_PUBKEY_LEN) == 0)
            return (int)i;
    return -1;
}

int kula_observers_encode(kula_buf *out, const kula_observers *os)
{
    kula_writer w;
    kula_writer_init(&w, out);
    kula_w_array(&w, os->n);
    for (uint32_t i = 0; i < os->n; i++) {
        kula_w_array(&w, 3);
        kula_w_bin(&w, os->v[i].pubkey.b, KULA_PUBKEY_LEN);
        w_cstr(&w, os->v[i].name);
        kula_w_uint(&w, os->v[i].admitted);
    }
    return out->err;
}

/* Strict: at most 64 entries, in strictly ascending key order (so a key
 * appears once), each name 1 to 64 bytes. */
int kula_observers_decode(kula_observers *os, const uint8_t *p, size_t n)
{
    kula_reader r;
    kula_reader_init(&r, p, n);
    memset(os, 0, sizeof(*os));
    os->n = kula_r_array(&r, KULA_MAX_LEDGER_OBSERVERS);
    for (uint32_t i = 0; i < os->n && kula_reader_ok(&r); i++) {
        kula_observer *o = &os->v[i];
        kula_r_array_exact(&r, 3);
        kula_r_bin_exact(&r, o->pubkey.b, KULA_PUBKEY_LEN);
        copy_str(&r, o->name, KULA_MAX_NAME);
        o->admitted = kula_r_uint(&r, UINT64_MAX);
        if (kula_reader_ok(&r) &&
            (o->name[0] == '\0' ||
             (i > 0 && memcmp(o[-1].pubkey.b, o->pubkey.b, KULA_PUBKEY_LEN) >= 0)))
            kula_reader_fail(&r, KULA_EORDER);
    }
    int rc = kula_reader_finish(&r);
    if (rc != 0)
        os->n = 0;
    return rc;
}

/* ---- members ---- */

int kula_member_encode(kula_buf *out, const kula_member *m)
{
    kula_writer w;
    kula_writer_init(&w, out);
    kula_w_array(&w, 11);
    kula_w_bin(&w, m->pubkey.b, KULA_PUBKEY_LEN);
    w_cstr(&w, m->name);
    w_cstr(&w, m->sector);
    kula_w_int(&w, m->credit_limit);
    kula_w_uint(&w, m->status);
    kula_w_uint(&w, m->voting_power);
    kula_w_int(&w, m->balance);
    kula_w_uint(&w, m->nonce);
    kula_w_uint(&w, m->joined);
    kula_w_uint(&w, m->rating_sum);
    kula_w_uint(&w, m->rating_count);
    return out->err;
}

int kula_member_decode(kula_member *m, const uint8_t *p, size_t n)
{
    uint32_t id = m->id;
    memset(m, 0, sizeof(*m));
    m->id = id;
    kula_reader r;
    kula_reader_init(&r, p, n);
    kula_r_array_exact(&r, 11);
    kula_r_bin_exact(&r, m->pubkey.b, KULA_PUBKEY_LEN);
    copy_str(&r, m->name, KULA_MAX_NAME);
    copy_str(&r, m->sector, KULA_MAX_NAME);
    m->credit_limit = kula_r_int(&r, 0, INT64_MAX);
    m->status = (uint32_t)kula_r_uint(&r, KULA_MEMBER_REMOVED);
    m->voting_power = kula_r_uint(&r, UINT64_C(1) << 48);
    m->balance = kula_r_int(&r, INT64_MIN, INT64_MAX);
    m->nonce = kula_r_uint(&r, UINT64_MAX);
    m->joined = kula_r_uint(&r, UINT64_MAX);
    m->rating_sum = kula_r_uint(&r, UINT64_MAX);
    m->rating_count = kula_r_uint(&r, UINT64_MAX);
    if (kula_reader_ok(&r) && m->status == 0)
        kula_reader_fail(&r, KULA_ERANGE);
    return kula_reader_finish(&r);
}

/* ---- agreements ---- */

int kula_agreement_encode(kula_buf *out, const kula_agreement *a)
{
    kula_writer w;
    kula_writer_init(&w, out);
    kula_w_array(&w, 13);
    w_cstr(&w, a->label);
    w_cstr(&w, a->title);
    kula_w_array(&w, a->nparties);
    for (uint32_t i = 0; i < a->nparties; i++)
        kula_w_uint(&w, a->parties[i]);
    kula_w_raw(&w, a->rule_raw, a->rule_raw_len);
    kula_w_uint(&w, a->term_end);
    kula_w_uint(&w, a->referral_fee_bps);
    kula_w_int(&w, a->pool);
    kula_w_uint(&w, a->status);
    kula_w_array(&w, a->nparties);
    for (uint32_t i = 0; i < a->nparties; i++)
        kula_w_int(&w, a->contributed[i]);
    kula_w_array(&w, a->nparties);
    for (uint32_t i = 0; i < a->nparties; i++)
        kula_w_int(&w, a->received[i]);
    kula_w_int(&w, a->benefits);
    kula_w_uint(&w, a->opened);
    kula_w_uint(&w, a->settlements);
    return out->err;
}

int kula_agreement_decode(kula_agreement *a, const uint8_t *p, size_t n)
{
    kula_hash id = a->id;
    memset(a, 0, sizeof(*a));
    a->id = id;
    kula_reader r;
    kula_reader_init(&r, p, n);
    kula_r_array_exact(&r, 13);
    copy_str(&r, a->label, KULA_MAX_LABEL);
    copy_str(&r, a->title, KULA_MAX_NAME);
    a->nparties = kula_r_array(&r, KULA_MAX_PARTIES);
    for (uint32_t i = 0; i < a->nparties; i++)
        a->parties[i] = (uint32_t)kula_r_uint(&r, UINT32_MAX);
    const uint8_t *rp;
    size_t rn;
    kula_r_value(&r, &rp, &rn);
    if (kula_reader_ok(&r)) {
        int rc = kula_rule_decode(&a->rule, rp, rn);
        if (rc != 0)
            kula_reader_fail(&r, rc);
        a->rule_raw = rp;
        a->rule_raw_len = rn;
    }
    a->term_end = kula_r_uint(&r, UINT64_MAX);
    a->referral_fee_bps = (uint32_t)kula_r_uint(&r, KULA_BPS_DENOM);
    a->pool = kula_r_int(&r, 0, INT64_MAX);
    a->status = (uint32_t)kula_r_uint(&r, KULA_AGREEMENT_CLOSED);
    if (kula_reader_ok(&r) && kula_r_array(&r, KULA_MAX_PARTIES) != a->nparties)
        kula_reader_fail(&r, KULA_EARITY);
    for (uint32_t i = 0; i < a->nparties; i++)
        a->contributed[i] = kula_r_int(&r, 0, INT64_MAX);
    if (kula_reader_ok(&r) && kula_r_array(&r, KULA_MAX_PARTIES) != a->nparties)
        kula_reader_fail(&r, KULA_EARITY);
    for (uint32_t i = 0; i < a->nparties; i++)
        a->received[i] = kula_r_int(&r, 0, INT64_MAX);
    a->benefits = kula_r_int(&r, 0, INT64_MAX);
    a->opened = kula_r_uint(&r, UINT64_MAX);
    a->settlements = kula_r_uint(&r, UINT64_MAX);
    if (kula_reader_ok(&r) && a->status == 0)
        kula_reader_fail(&r, KULA_ERANGE);
    return kula_reader_finish(&r);
}

int kula_agreement_party(const kula_agreement *a, uint32_t member)
{
    for (uint32_t i = 0; i < a->nparties; i++)
        if (a->parties[i] == member)
            return (int)i;
    return -1;
}

/* ---- referrals, pairs ---- */

int kula_referral_encode(kula_buf *out, const kula_referral *x)
{
    kula_writer w;
    kula_writer_init(&w, out);
    kula_w_array(&w, 6);
    kula_w_uint(&w, x->referrer);
    kula_w_uint(&w, x->receiver);
    kula_w_bin(&w, x->lead.b, KULA_HASH_LEN);
    kula_w_int(&w, x->fee);
    kula_w_bin(&w, x->agreement.b, x->has_agreement ? KULA_HASH_LEN : 0);
    kula_w_uint(&w, x->height);
    return out->err;
}

int kula_referral_decode(kula_referral *x, const uint8_t *p, size_t n)
{
    kula_hash id = x->id;
    memset(x, 0, sizeof(*x));
    x->id = id;
    kula_reader r;
    kula_reader_init(&r, p, n);
    kula_r_array_exact(&r, 6);
    x->referrer = (uint32_t)kula_r_uint(&r, UINT32_MAX);
    x->receiver = (uint32_t)kula_r_uint(&r, UINT32_MAX);
    kula_r_bin_exact(&r, x->lead.b, KULA_HASH_LEN);
    x->fee = kula_r_int(&r, 0, INT64_MAX);
    x->has_agreement = kula_r_bin_opt(&r, x->agreement.b, KULA_HASH_LEN);
    x->height = kula_r_uint(&r, UINT64_MAX);
    return kula_reader_finish(&r);
}

/* ---- invoices ---- */

const char *kula_invoice_status_name(uint32_t status)
{
    static const char *const names[] = {
        [KULA_INVOICE_ISSUED] = "issued",     [KULA_INVOICE_ACCEPTED] = "accepted",
        [KULA_INVOICE_DISPUTED] = "disputed", [KULA_INVOICE_PAID] = "paid",
        [KULA_INVOICE_CANCELLED] = "cancelled",
    };
    return status < sizeof(names) / sizeof(names[0]) ? names[status] : NULL;
}

/* SPEC §10.1: invoice = [issuer, debtor, amount, due, reference, document,
 * status, residual, paid, issued, changed, reason] */
int kula_invoice_encode(kula_buf *out, const kula_invoice *v)
{
    kula_writer w;
    kula_writer_init(&w, out);
    kula_w_array(&w, 12);
    kula_w_uint(&w, v->issuer);
    kula_w_uint(&w, v->debtor);
    kula_w_int(&w, v->amount);
    kula_w_uint(&w, v->due);
    w_cstr(&w, v->reference);
    kula_w_bin(&w, v->document.b, v->has_document ? KULA_HASH_LEN : 0);
    kula_w_uint(&w, v->status);
    kula_w_int(&w, v->residual);
    kula_w_int(&w, v->paid);
    kula_w_uint(&w, v->issued);
    kula_w_uint(&w, v->changed);
    w_cstr(&w, v->reason);
    return out->err;
}

int kula_invoice_decode(kula_invoice *v, const uint8_t *p, size_t n)
{
    kula_hash id = v->id;
    memset(v, 0, sizeof(*v));
    v->id = id;
    kula_reader r;
    kula_reader_init(&r, p, n);
    kula_r_array_exact(&r, 12);
    v->issuer = (uint32_t)kula_r_uint(&r, UINT32_MAX);
    v->debtor = (uint32_t)kula_r_uint(&r, UINT32_MAX);
    v->amount = kula_r_int(&r, 1, INT64_MAX);
    v->due = kula_r_uint(&r, UINT64_MAX);
    copy_str(&r, v->reference, KULA_MAX_INVOICE_REF);
    v->has_document = kula_r_bin_opt(&r, v->document.b, KULA_HASH_LEN);
    v->status = (uint32_t)kula_r_uint(&r, KULA_INVOICE_CANCELLED);
    v->residual = kula_r_int(&r, 0, INT64_MAX);
    v->paid = kula_r_int(&r, 0, INT64_MAX);
    v->issued = kula_r_uint(&r, UINT64_MAX);
    v->changed = kula_r_uint(&r, UINT64_MAX);
    copy_str(&r, v->reason, KULA_MAX_DESC);
    /* residual + paid <= amount: nothing is owed or paid beyond the bill */
    if (kula_reader_ok(&r) &&
        (v->status == 0 || v->residual > v->amount || v->paid > v->amount - v->residual))
        kula_reader_fail(&r, KULA_ERANGE);
    return kula_reader_finish(&r);
}

int kula_pair_encode(kula_buf *out, const kula_pair *x)
{
    kula_writer w;
    kula_writer_init(&w, out);
    kula_w_array(&w, 3);
    kula_w_uint(&w, x->exchanges);
    kula_w_uint(&w, x->feedback_ab);
    kula_w_uint(&w, x->feedback_ba);
    return out->err;
}

int kula_pair_decode(kula_pair *x, const uint8_t *p, size_t n)
{
    kula_reader r;
    kula_reader_init(&r, p, n);
    kula_r_array_exact(&r, 3);
    x->exchanges = kula_r_uint(&r, UINT64_MAX);
    x->feedback_ab = kula_r_uint(&r, UINT64_MAX);
    x->feedback_ba = kula_r_uint(&r, UINT64_MAX);
    return kula_reader_finish(&r);
}

/* ---- proposals ---- */

int kula_proposal_encode(kula_buf *out, const kula_proposal *q)
{
    kula_writer w;
    kula_writer_init(&w, out);
    kula_w_array(&w, 9);
    kula_w_uint(&w, q->proposer);
    kula_w_raw(&w, q->action_raw, q->action_raw_len);
    kula_w_uint(&w, q->created);
    kula_w_uint(&w, q->expires);
    kula_w_uint(&w, q->yes);
    kula_w_uint(&w, q->no);
    kula_w_uint(&w, q->status);
    kula_w_uint(&w, q->decided);
    kula_w_int(&w, q->failure);
    return out->err;
}

int kula_proposal_decode(kula_proposal *q, const uint8_t *p, size_t n)
{
    kula_hash id = q->id;
    memset(q, 0, sizeof(*q));
    q->id = id;
    kula_reader r;
    kula_reader_init(&r, p, n);
    kula_r_array_exact(&r, 9);
    q->proposer = (uint32_t)kula_r_uint(&r, UINT32_MAX);
    const uint8_t *ap;
    size_t an;
    kula_r_value(&r, &ap, &an);
    if (kula_reader_ok(&r)) {
        int rc = kula_action_decode(&q->action, ap, an);
        if (rc != 0)
            kula_reader_fail(&r, rc);
        q->action_raw = ap;
        q->action_raw_len = an;
    }
    q->created = kula_r_uint(&r, UINT64_MAX);
    q->expires = kula_r_uint(&r, UINT64_MAX);
    q->yes = (uint32_t)kula_r_uint(&r, UINT32_MAX);
    q->no = (uint32_t)kula_r_uint(&r, UINT32_MAX);
    q->status = (uint32_t)kula_r_uint(&r, KULA_PROPOSAL_FAILED);
    q->decided = kula_r_uint(&r, UINT64_MAX);
    q->failure = (int32_t)kula_r_int(&r, INT32_MIN, 0);
    if (kula_reader_ok(&r) && q->status == 0)
        kula_reader_fail(&r, KULA_ERANGE);
    return kula_reader_finish(&r);
}

/* ---- evidence ---- */

int kula_evidence_encode(kula_buf *out, const kula_evidence *e)
{
    kula_writer w;
    kula_writer_init(&w, out);
    kula_w_array(&w, 2);
    kula_w_uint(&w, e->reporter);
    kula_w_uint(&w, e->recorded);
    return out->err;
}

/* Keeps the offence fields (they come from the key). */
int kula_evidence_decode(kula_evidence *e, const uint8_t *p, size_t n)
{
    kula_reader r;
    kula_reader_init(&r, p, n);
    kula_r_array_exact(&r, 2);
    e->reporter = (uint32_t)kula_r_uint(&r, UINT32_MAX);
    e->recorded = kula_r_uint(&r, UINT64_MAX);
    return kula_reader_finish(&r);
}

/* ---- clearings ---- */

static void w_sum(kula_writer *w, kula_clearing_sum v)
{
    uint8_t b[16];
    for (int i = 0; i < 16; i++)
        b[i] = (uint8_t)(v >> (120 - 8 * i));
    kula_w_bin(w, b, sizeof(b));
}

static kula_clearing_sum r_sum(kula_reader *r)
{
    uint8_t b[16] = { 0 };
    kula_r_bin_exact(r, b, sizeof(b));
    kula_clearing_sum v = 0;
    for (int i = 0; i < 16; i++)
        v = (v << 8) | b[i];
    return v;
}

int kula_clearing_encode(kula_buf *out, const kula_clearing *c)
{
    kula_writer w;
    kula_writer_init(&w, out);
    kula_w_array(&w, 5);
    kula_w_uint(&w, c->height);
    w_sum(&w, c->total_debt);
    w_sum(&w, c->cleared);
    w_sum(&w, c->remaining);
    kula_w_array(&w, c->nitems);
    for (uint32_t i = 0; i < c->nitems; i++) {
        const kula_clearing_item *it = &c->items[i];
        kula_w_array(&w, 5);
        kula_w_bin(&w, it->id.b, KULA_HASH_LEN);
        kula_w_uint(&w, it->debtor);
        kula_w_uint(&w, it->creditor);
        kula_w_int(&w, it->before);
        kula_w_int(&w, it->setoff);
    }
    return out->err;
}

void kula_clearing_free(kula_clearing *c)
{
    free(c->items);
    c->items = NULL;
    c->nitems = 0;
}

int kula_clearing_decode(kula_clearing *c, const uint8_t *p, size_t n)
{
    uint64_t number = c->number;
    memset(c, 0, sizeof(*c));
    c->number = number;
    kula_reader r;
    kula_reader_init(&r, p, n);
    kula_r_array_exact(&r, 5);
    c->height = kula_r_uint(&r, UINT64_MAX);
    c->total_debt = r_sum(&r);
    c->cleared = r_sum(&r);
    c->remaining = r_sum(&r);
    uint32_t ni = kula_r_array(&r, KULA_MAX_CLEARING_ITEMS);
    /* each item takes at least 40 bytes: no allocation beyond the input */
    if (kula_reader_ok(&r) && (size_t)ni > n / 40)
        kula_reader_fail(&r, KULA_ETRUNC);
    if (kula_reader_ok(&r) && ni > 0 && (c->items = calloc(ni, sizeof(*c->items))) == NULL)
        kula_reader_fail(&r, KULA_ENOMEM);
    kula_clearing_sum total = 0, cleared = 0;
    for (uint32_t i = 0; i < ni && kula_reader_ok(&r); i++) {
        kula_clearing_item *it = &c->items[i];
        kula_r_array_exact(&r, 5);
        kula_r_bin_exact(&r, it->id.b, KULA_HASH_LEN);
        it->debtor = (uint32_t)kula_r_uint(&r, UINT32_MAX);
        it->creditor = (uint32_t)kula_r_uint(&r, UINT32_MAX);
        it->before = kula_r_int(&r, 1, INT64_MAX);
        it->setoff = kula_r_int(&r, 0, it->before);
        if (kula_reader_ok(&r) &&
            (it->debtor == it->creditor ||
             (i > 0 && memcmp(c->items[i - 1].id.b, it->id.b, KULA_HASH_LEN) >= 0)))
            kula_reader_fail(&r, KULA_ENONCANON);
        total += (kula_clearing_sum)it->before;
        cleared += (kula_clearing_sum)it->setoff;
    }
    c->nitems = ni;
    if (kula_reader_ok(&r) && (total != c->total_debt || cleared != c->cleared ||
                               c->remaining != total - cleared))
        kula_reader_fail(&r, KULA_ERANGE);
    int rc = kula_reader_finish(&r);
    if (rc != 0)
        kula_clearing_free(c);
    return rc;
}

/* ---- settlements (LEDGER §9.6) ---- */

int kula_settlement_encode(kula_buf *out, const kula_settlement *s)
{
    kula_writer w;
    kula_writer_init(&w, out);
    kula_w_array(&w, s->n);
    for (uint32_t i = 0; i < s->n; i++) {
        const kula_settlement_item *it = &s->items[i];
        kula_w_array(&w, 4);
        kula_w_bin(&w, it->id.b, KULA_HASH_LEN);
        kula_w_uint(&w, it->debtor);
        kula_w_uint(&w, it->creditor);
        kula_w_int(&w, it->amount);
    }
    return out->err;
}

void kula_settlement_free(kula_settlement *s)
{
    free(s->items);
    s->items = NULL;
    s->n = 0;
}

/* Whether a, then b, is the order of §9.6: ascending debtor, then id. */
static bool settles_before(const kula_settlement_item *a, const kula_settlement_item *b)
{
    if (a->debtor != b->debtor)
        return a->debtor < b->debtor;
    return memcmp(a->id.b, b->id.b, KULA_HASH_LEN) < 0;
}

int kula_settlement_decode(kula_settlement *s, const uint8_t *p, size_t n)
{
    uint64_t number = s->number;
    memset(s, 0, sizeof(*s));
    s->number = number;
    kula_reader r;
    kula_reader_init(&r, p, n);
    uint32_t ni = kula_r_array(&r, KULA_MAX_CLEARING_ITEMS);
    if (kula_reader_ok(&r) && ni == 0)
        kula_reader_fail(&r, KULA_ERANGE);
    /* each item takes at least 38 bytes: no allocation beyond the input */
    if (kula_reader_ok(&r) && (size_t)ni > n / 38)
        kula_reader_fail(&r, KULA_ETRUNC);
    if (kula_reader_ok(&r) && (s->items = calloc(ni, sizeof(*s->items))) == NULL)
        kula_reader_fail(&r, KULA_ENOMEM);
    for (uint32_t i = 0; i < ni && kula_reader_ok(&r); i++) {
        kula_settlement_item *it = &s->items[i];
        kula_r_array_exact(&r, 4);
        kula_r_bin_exact(&r, it->id.b, KULA_HASH_LEN);
        it->debtor = (uint32_t)kula_r_uint(&r, UINT32_MAX);
        it->creditor = (uint32_t)kula_r_uint(&r, UINT32_MAX);
        it->amount = kula_r_int(&r, 1, INT64_MAX);
        if (kula_reader_ok(&r) &&
            (it->debtor == it->creditor || (i > 0 && !settles_before(&s->items[i - 1], it))))
            kula_reader_fail(&r, KULA_ENONCANON);
    }
    s->n = ni;
    int rc = kula_reader_finish(&r);
    if (rc != 0)
        kula_settlement_free(s);
    return rc;
}
