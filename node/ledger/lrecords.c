/* lrecords.c -- the ledger's records: typed reads and writes of the state
 * overlay, decoded members kept for the block, the undo of a failed
 * transaction.
 *
 * Direction: called by ledger.c and the rules (rules_*.c); calls only
 * state.c and the layers below.  The contract is in lrecords.h. */
#include "lrecords.h"

#include <stdlib.h>
#include <string.h>

#include "kula/base/error.h"
#include "kula/codec/codec.h"

/* Decoded member records (see "member records" below). */
#define LREC_MEMBER_SLOTS 1024 /* a power of two: slot = id % this */
typedef struct lrec_mslot {
    kula_member m;
    uint64_t txmark;  /* the transaction that last saved its undo */
    bool valid;
    bool dirty;       /* newer than the state's record */
} lrec_mslot;

typedef struct lrec_mundo {
    lrec_mslot *slot;
    lrec_mslot old;
} lrec_mundo;

struct lrecords {
    kula_state *st;       /* borrowed from the ledger */
    kula_buf buf;         /* scratch for record encodings */
    /* A valid slot holds the member's current record, which a dirty slot
     * alone holds (the state's is older); lrec_flush writes the dirty
     * ones.  mundo undoes a failed transaction's changes to the slots. */
    lrec_mslot mslots[LREC_MEMBER_SLOTS];
    /* The slots made valid since the last forget, and those made dirty
     * since the last flush, each listed once (the bit says it is listed),
     * so that a block's flush and a discard visit only those, not all
     * LREC_MEMBER_SLOTS. */
    uint16_t touched[LREC_MEMBER_SLOTS], dirtied[LREC_MEMBER_SLOTS];
    size_t ntouched, ndirtied;
    uint64_t touched_bit[LREC_MEMBER_SLOTS / 64], dirtied_bit[LREC_MEMBER_SLOTS / 64];
    lrec_mundo *mundo;
    size_t nmundo, mundo_cap;
    uint64_t txseq;       /* numbers the transactions, from 1 */
    bool mdefer;          /* inside a transaction */
};

int lrec_new(lrecords **out, kula_state *st)
{
    lrecords *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return KULA_ENOMEM;
    r->st = st;
    kula_buf_init(&r->buf);
    *out = r;
    return KULA_OK;
}

void lrec_free(lrecords *r)
{
    if (r != NULL) {
        free(r->mundo);
        kula_buf_free(&r->buf);
    }
    free(r);
}

/* Reads key; ENOTFOUND maps to `missing`.  Out: *p, *n borrowed. */
static int get_raw(lrecords *r, const kula_key *k, int missing, const uint8_t **p, size_t *n)
{
    int rc = kula_state_get(r->st, k->b, k->n, p, n);
    if (rc == KULA_ENOTFOUND)
        return missing;
    return rc;
}

/* A record that does not decode is a corrupted store, not a bad tx. */
static int corrupt(int rc) { return rc == 0 ? 0 : KULA_ESTORE; }

static int put(lrecords *r, const kula_key *k, int encoded_rc)
{
    if (encoded_rc != 0)
        return encoded_rc;
    return kula_state_put(r->st, k->b, k->n, r->buf.data, r->buf.len);
}

/* Records of one unsigned integer, [v] (SPEC §10.1: the pubkey index and
 * "D" || id); a missing one is KULA_ENOTFOUND, one above max corrupt. */
static int get_uint(lrecords *r, const kula_key *k, uint64_t max, uint64_t *v)
{
    const uint8_t *p;
    size_t n;
    int rc = get_raw(r, k, KULA_ENOTFOUND, &p, &n);
    if (rc != 0)
        return rc;
    kula_reader rd;
    kula_reader_init(&rd, p, n);
    kula_r_array_exact(&rd, 1);
    *v = kula_r_uint(&rd, max);
    return corrupt(kula_reader_finish(&rd));
}

static int put_uint(lrecords *r, const kula_key *k, uint64_t v)
{
    kula_buf_reset(&r->buf);
    kula_writer w;
    kula_writer_init(&w, &r->buf);
    kula_w_array(&w, 1);
    kula_w_uint(&w, v);
    return put(r, k, r->buf.err);
}

/* ---- member records ----
 *
 * A transfer reads its sender four times (nonce, signers, rule, reload) and
 * its receiver once, and saves both; over a block, the same members come
 * back again and again.  The ledger keeps decoded members in slots (one per
 * id modulo LREC_MEMBER_SLOTS).  A save inside a transaction (lrec_tx_begin)
 * only changes the slot (marking it dirty); lrec_flush encodes every
 * dirty slot into the state before the diff is taken, so each member is
 * decoded about once and encoded once per block.  A dirty slot is never
 * given to another member: that member is read from and written to the
 * state directly.  A failed transaction puts back the slots it changed
 * (mundo); a discarded block forgets them all.  Nothing but these
 * functions reads or writes member records, so the state plus the dirty
 * slots is always the ledger's current membership. */

/* Lists slot s in list/bits (of n) unless it is listed already. */
static void mslot_list(lrecords *r, const lrec_mslot *s, uint16_t *list, size_t *n,
                       uint64_t *bits)
{
    size_t i = (size_t)(s - r->mslots);
    uint64_t bit = (uint64_t)1 << (i % 64);
    if ((bits[i / 64] & bit) == 0) {
        bits[i / 64] |= bit;
        list[(*n)++] = (uint16_t)i;
    }
}

/* Slot s now holds a record (valid), maybe unwritten (dirty). */
static void mslot_set(lrecords *r, lrec_mslot *s, const kula_member *m, bool dirty)
{
    s->m = *m;
    s->valid = true;
    s->dirty = dirty;
    mslot_list(r, s, r->touched, &r->ntouched, r->touched_bit);
    if (dirty)
        mslot_list(r, s, r->dirtied, &r->ndirtied, r->dirtied_bit);
}

static void mslots_forget(lrecords *r)
{
    for (size_t i = 0; i < r->ntouched; i++)
        r->mslots[r->touched[i]].valid = r->mslots[r->touched[i]].dirty = false;
    r->ntouched = r->ndirtied = 0;
    memset(r->touched_bit, 0, sizeof(r->touched_bit));
    memset(r->dirtied_bit, 0, sizeof(r->dirtied_bit));
    r->nmundo = 0;
}

static lrec_mslot *mslot_of(lrecords *r, uint32_t id)
{
    return &r->mslots[id & (LREC_MEMBER_SLOTS - 1)];
}

static int member_write(lrecords *r, const kula_member *m)
{
    kula_key k;
    kula_key_member(&k, m->id);
    kula_buf_reset(&r->buf);
    return put(r, &k, kula_member_encode(&r->buf, m));
}

int lrec_flush(lrecords *r)
{
    /* A slot dirtied and then put back by a failed transaction's undo is
     * listed but clean: nothing to write. */
    while (r->ndirtied > 0) {
        uint16_t i = r->dirtied[r->ndirtied - 1];
        lrec_mslot *s = &r->mslots[i];
        if (s->valid && s->dirty) {
            int rc = member_write(r, &s->m);
            if (rc != 0)
                return rc;
            s->dirty = false;
        }
        r->dirtied_bit[i / 64] &= ~((uint64_t)1 << (i % 64));
        r->ndirtied--;
    }
    return KULA_OK;
}

/* Transaction scope of the slots. */
static void mslots_tx_end(lrecords *r, bool ok)
{
    if (!ok)
        while (r->nmundo > 0) {
            lrec_mundo *u = &r->mundo[--r->nmundo];
            *u->slot = u->old;
        }
    r->nmundo = 0;
    r->mdefer = false;
}

int lrec_member(lrecords *r, uint32_t id, kula_member *m)
{
    lrec_mslot *s = mslot_of(r, id);
    if (s->valid && s->m.id == id) {
        *m = s->m;
        return KULA_OK;
    }
    kula_key k;
    const uint8_t *p;
    size_t n;
    kula_key_member(&k, id);
    int rc = get_raw(r, &k, KULA_EUNKNOWNMEMBER, &p, &n);
    if (rc != 0)
        return rc;
    m->id = id;
    if ((rc = corrupt(kula_member_decode(m, p, n))) != 0)
        return rc;
    if (!s->dirty) /* a clean slot may change hands at any time: no undo needed */
        mslot_set(r, s, m, false);
    return KULA_OK;
}

int lrec_save_member(lrecords *r, const kula_member *m)
{
    lrec_mslot *s = mslot_of(r, m->id);
    bool mine = s->valid && s->m.id == m->id;
    if (!r->mdefer || (!mine && s->dirty)) {
        /* Outside a transaction, or the slot holds another member's
         * unwritten record: write through. */
        int rc = member_write(r, m);
        if (rc == 0 && (mine || !s->dirty))
            mslot_set(r, s, m, false);
        return rc;
    }
    if (s->txmark != r->txseq) {
        if (r->nmundo == r->mundo_cap) {
            size_t ncap = r->mundo_cap ? r->mundo_cap * 2 : 8;
            lrec_mundo *nu = realloc(r->mundo, ncap * sizeof(*nu));
            if (nu == NULL)
                return KULA_ENOMEM;
            r->mundo = nu;
            r->mundo_cap = ncap;
        }
        r->mundo[r->nmundo].slot = s;
        r->mundo[r->nmundo].old = *s;
        r->nmundo++;
        s->txmark = r->txseq;
    }
    mslot_set(r, s, m, true);
    return KULA_OK;
}

int lrec_member_by_key(lrecords *r, const kula_pubkey *pk, uint32_t *id)
{
    kula_key k;
    uint64_t v;
    kula_key_pubkey(&k, pk);
    int rc = get_uint(r, &k, UINT32_MAX, &v);
    if (rc == 0)
        *id = (uint32_t)v;
    return rc;
}

int lrec_save_pubkey(lrecords *r, const kula_pubkey *pk, uint32_t id)
{
    kula_key k;
    kula_key_pubkey(&k, pk);
    return put_uint(r, &k, id);
}

int lrec_globals(lrecords *r, kula_globals *g)
{
    kula_key k;
    const uint8_t *p;
    size_t n;
    kula_key_global(&k);
    int rc = get_raw(r, &k, KULA_ESTORE, &p, &n);
    return rc != 0 ? rc : corrupt(kula_globals_decode(g, p, n));
}

int lrec_save_globals(lrecords *r, const kula_globals *g)
{
    kula_key k;
    kula_key_global(&k);
    kula_buf_reset(&r->buf);
    return put(r, &k, kula_globals_encode(&r->buf, g));
}

int lrec_params(lrecords *r, kula_params *pr)
{
    kula_key k;
    const uint8_t *p;
    size_t n;
    kula_key_params(&k);
    int rc = get_raw(r, &k, KULA_ESTORE, &p, &n);
    return rc != 0 ? rc : corrupt(kula_params_decode(pr, p, n));
}

int lrec_save_params(lrecords *r, const kula_params *pr)
{
    kula_key k;
    kula_key_params(&k);
    kula_buf_reset(&r->buf);
    return put(r, &k, kula_params_encode(&r->buf, pr));
}

int lrec_valset(lrecords *r, enum kula_valset_which which, kula_valset *vs)
{
    kula_key k;
    const uint8_t *p;
    size_t n;
    kula_key_valset(&k, which);
    int rc = get_raw(r, &k, KULA_ESTORE, &p, &n);
    return rc != 0 ? rc : corrupt(kula_valset_decode(vs, p, n));
}

int lrec_save_valset(lrecords *r, enum kula_valset_which which, const kula_valset *vs)
{
    kula_key k;
    kula_key_valset(&k, which);
    kula_buf_reset(&r->buf);
    return put(r, &k, kula_valset_encode(&r->buf, vs));
}

/* Records keyed by a hash id (SPEC §10.1) are read and written alike: the
 * key from the id, the id kept in the decoded record (it is not encoded),
 * a missing record reported as the kind's own error.  One row a kind
 * defines lrec_NAME and lrec_save_NAME, declared one by one in lrecords.h;
 * NAME names the key (kula_key_NAME), the type (kula_NAME) and its codec. */
#define LREC_BY_ID(X)                      \
    X(agreement, KULA_EUNKNOWNAGREEMENT)   \
    X(referral, KULA_EUNKNOWNREFERRAL)     \
    X(invoice, KULA_EUNKNOWNINVOICE)       \
    X(proposal, KULA_EUNKNOWNPROPOSAL)

#define LREC_DEFINE_BY_ID(name, missing)                              \
    int lrec_##name(lrecords *r, const kula_hash *id, kula_##name *x) \
    {                                                                 \
        kula_key k;                                                   \
        const uint8_t *p;                                             \
        size_t n;                                                     \
        kula_key_##name(&k, id);                                      \
        int rc = get_raw(r, &k, missing, &p, &n);                     \
        if (rc != 0)                                                  \
            return rc;                                                \
        x->id = *id;                                                  \
        return corrupt(kula_##name##_decode(x, p, n));                \
    }                                                                 \
                                                                      \
    int lrec_save_##name(lrecords *r, const kula_##name *x)           \
    {                                                                 \
        kula_key k;                                                   \
        kula_key_##name(&k, &x->id);                                  \
        kula_buf_reset(&r->buf);                                      \
        return put(r, &k, kula_##name##_encode(&r->buf, x));          \
    }

LREC_BY_ID(LREC_DEFINE_BY_ID)

int lrec_delete_referral(lrecords *r, const kula_hash *id)
{
    kula_key k;
    kula_key_referral(&k, id);
    return kula_state_put(r->st, k.b, k.n, NULL, 0);
}

int lrec_observers(lrecords *r, kula_observers *os)
{
    kula_key k;
    const uint8_t *p;
    size_t n;
    kula_key_observers(&k);
    int rc = get_raw(r, &k, KULA_ENOTFOUND, &p, &n);
    if (rc == KULA_ENOTFOUND) {
        os->n = 0;
        return KULA_OK;
    }
    return rc != 0 ? rc : corrupt(kula_observers_decode(os, p, n));
}

int lrec_save_observers(lrecords *r, const kula_observers *os)
{
    kula_key k;
    kula_key_observers(&k);
    if (os->n == 0)
        return kula_state_put(r->st, k.b, k.n, NULL, 0);
    kula_buf_reset(&r->buf);
    return put(r, &k, kula_observers_encode(&r->buf, os));
}

int lrec_pair(lrecords *r, uint32_t a, uint32_t b, kula_pair *x)
{
    kula_key k;
    const uint8_t *p;
    size_t n;
    kula_key_pair(&k, a, b);
    int rc = get_raw(r, &k, KULA_ENOTFOUND, &p, &n);
    if (rc == KULA_ENOTFOUND) {
        memset(x, 0, sizeof(*x));
        return KULA_OK;
    }
    return rc != 0 ? rc : corrupt(kula_pair_decode(x, p, n));
}

int lrec_save_pair(lrecords *r, uint32_t a, uint32_t b, const kula_pair *x)
{
    kula_key k;
    kula_key_pair(&k, a, b);
    kula_buf_reset(&r->buf);
    return put(r, &k, kula_pair_encode(&r->buf, x));
}

int lrec_has_vote(lrecords *r, const kula_hash *proposal, uint32_t member, bool *has)
{
    kula_key k;
    const uint8_t *p;
    size_t n;
    kula_key_vote(&k, proposal, member);
    int rc = kula_state_get(r->st, k.b, k.n, &p, &n);
    *has = rc == 0;
    return rc == KULA_ENOTFOUND ? KULA_OK : rc;
}

int lrec_save_vote(lrecords *r, const kula_hash *proposal, uint32_t member, bool approve)
{
    kula_key k;
    kula_key_vote(&k, proposal, member);
    kula_buf_reset(&r->buf);
    kula_writer w;
    kula_writer_init(&w, &r->buf);
    kula_w_array(&w, 1);
    kula_w_bool(&w, approve);
    return put(r, &k, r->buf.err);
}

int lrec_evidence(lrecords *r, uint32_t validator, uint64_t height, uint32_t round,
                         uint8_t type, kula_evidence *e)
{
    kula_key k;
    const uint8_t *p;
    size_t n;
    kula_key_evidence(&k, validator, height, round, type);
    int rc = get_raw(r, &k, KULA_ENOTFOUND, &p, &n);
    if (rc != 0)
        return rc;
    e->validator = validator;
    e->height = height;
    e->round = round;
    e->type = type;
    return corrupt(kula_evidence_decode(e, p, n));
}

int lrec_save_evidence(lrecords *r, const kula_evidence *e)
{
    kula_key k;
    kula_key_evidence(&k, e->validator, e->height, e->round, e->type);
    kula_buf_reset(&r->buf);
    return put(r, &k, kula_evidence_encode(&r->buf, e));
}

int lrec_done(lrecords *r, const kula_hash *tx_id, uint64_t *height)
{
    kula_key k;
    kula_key_done(&k, tx_id);
    return get_uint(r, &k, UINT64_MAX, height);
}

/* SPEC §10.1: "D" || id = [height], kept for ever. */
int lrec_save_done(lrecords *r, const kula_hash *tx_id, uint64_t height)
{
    kula_key k;
    kula_key_done(&k, tx_id);
    return put_uint(r, &k, height);
}

/* ---- scopes ---- */

void lrec_tx_begin(lrecords *r)
{
    kula_state_tx_begin(r->st);
    r->txseq++;
    r->mdefer = true;
}

void lrec_tx_end(lrecords *r, bool ok)
{
    mslots_tx_end(r, ok);
    if (ok)
        kula_state_tx_commit(r->st);
    else
        kula_state_tx_rollback(r->st);
}

void lrec_discard(lrecords *r)
{
    kula_state_discard(r->st);
    mslots_forget(r);
}

/* ---- invoices in bulk, clearings (LEDGER §9, SPEC §10.1) ---- */

int lrec_scan_invoices(lrecords *r, kula_state_fn fn, void *ctx)
{
    const uint8_t prefix = KULA_KEY_INVOICE;
    return kula_state_scan(r->st, &prefix, 1, fn, ctx);
}

/* "L" = [n] */
int lrec_clearings(lrecords *r, uint64_t *n)
{
    kula_key k;
    const uint8_t *p;
    size_t len;
    kula_key_clearings(&k);
    int rc = get_raw(r, &k, KULA_ENOTFOUND, &p, &len);
    *n = 0;
    if (rc == KULA_ENOTFOUND)
        return KULA_OK;
    if (rc != 0)
        return rc;
    kula_reader rd;
    kula_reader_init(&rd, p, len);
    kula_r_array_exact(&rd, 1);
    *n = kula_r_uint(&rd, UINT64_MAX);
    return corrupt(kula_reader_finish(&rd));
}

int lrec_save_clearing(lrecords *r, const kula_clearing *c)
{
    kula_key k;
    kula_key_clearing(&k, c->number);
    kula_buf_reset(&r->buf);
    int rc = put(r, &k, kula_clearing_encode(&r->buf, c));
    if (rc != 0)
        return rc;
    kula_key_clearings(&k);
    kula_buf_reset(&r->buf);
    kula_writer w;
    kula_writer_init(&w, &r->buf);
    kula_w_array(&w, 1);
    kula_w_uint(&w, c->number);
    return put(r, &k, r->buf.err);
}

int lrec_clearing(lrecords *r, uint64_t number, kula_clearing *c)
{
    kula_key k;
    const uint8_t *p;
    size_t n;
    kula_key_clearing(&k, number);
    int rc = get_raw(r, &k, KULA_ENOTFOUND, &p, &n);
    if (rc != 0)
        return rc;
    c->number = number;
    rc = kula_clearing_decode(c, p, n);
    return rc == KULA_ENOMEM ? rc : corrupt(rc);
}

int lrec_clear_asked(lrecords *r, bool *asked)
{
    kula_key k;
    const uint8_t *p;
    size_t n;
    kula_key_clear_asked(&k);
    int rc = get_raw(r, &k, KULA_ENOTFOUND, &p, &n);
    *asked = rc == 0;
    return rc == KULA_ENOTFOUND ? KULA_OK : rc;
}

/* "Y" = [] while asked; deleted when the clearing ran. */
int lrec_set_clear_asked(lrecords *r, bool asked)
{
    kula_key k;
    kula_key_clear_asked(&k);
    static const uint8_t empty_array = 0x90;
    return kula_state_put(r->st, k.b, k.n, asked ? &empty_array : NULL, asked ? 1 : 0);
}

/* ---- settlement at clearings (LEDGER §9.6) ---- */

/* "S" || be32 member = [height] while it settles. */
int lrec_settles(lrecords *r, uint32_t member, uint64_t *since)
{
    kula_key k;
    kula_key_settles(&k, member);
    int rc = get_uint(r, &k, UINT64_MAX, since);
    if (rc == KULA_ENOTFOUND) {
        *since = 0;
        return KULA_OK;
    }
    return rc;
}

int lrec_set_settles(lrecords *r, uint32_t member, uint64_t since)
{
    kula_key k;
    kula_key_settles(&k, member);
    if (since == 0)
        return kula_state_put(r->st, k.b, k.n, NULL, 0);
    return put_uint(r, &k, since);
}

int lrec_scan_settles(lrecords *r, kula_state_fn fn, void *ctx)
{
    const uint8_t prefix = KULA_KEY_SETTLES;
    return kula_state_scan(r->st, &prefix, 1, fn, ctx);
}

int lrec_save_settlement(lrecords *r, const kula_settlement *s)
{
    kula_key k;
    kula_key_settlement(&k, s->number);
    kula_buf_reset(&r->buf);
    return put(r, &k, kula_settlement_encode(&r->buf, s));
}

int lrec_settlement(lrecords *r, uint64_t number, kula_settlement *s)
{
    kula_key k;
    const uint8_t *p;
    size_t n;
    kula_key_settlement(&k, number);
    int rc = get_raw(r, &k, KULA_ENOTFOUND, &p, &n);
    if (rc != 0)
        return rc;
    s->number = number;
    rc = kula_settlement_decode(s, p, n);
    return rc == KULA_ENOMEM ? rc : corrupt(rc);
}
