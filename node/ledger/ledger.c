/* ledger.c -- the state machine's framework: blocks, state root, signer
 * checks, record access.  The rules of each transaction kind are in
 * ledger_rules.c; proto/LEDGER.md states them with their reasons. */
#include "ledger_internal.h"

#include <stdlib.h>
#include <string.h>

#include "kula/ledger/distribution.h"
#include "kula/base/error.h"

const uint8_t KULA_TAG_STATE[KULA_TAG_LEN] = "kula/state/v1";

int kula_ledger_new(kula_ledger **out, const kula_hash *chain_id, kula_state_base_fn base,
                    void *ctx, uint64_t tip, const kula_hash *tip_root)
{
    kula_ledger *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return KULA_ENOMEM;
    l->mslots = calloc(LEDGER_MEMBER_SLOTS, sizeof(*l->mslots));
    if (l->mslots == NULL || kula_state_new(&l->st, base, ctx) != 0) {
        free(l->mslots);
        free(l);
        return KULA_ENOMEM;
    }
    l->chain_id = *chain_id;
    l->height = tip;
    if (tip_root != NULL)
        l->root = *tip_root;
    kula_buf_init(&l->buf);
    kula_buf_init(&l->diffbuf);
    *out = l;
    return KULA_OK;
}

void kula_ledger_free(kula_ledger *l)
{
    if (l == NULL)
        return;
    kula_state_free(l->st);
    free(l->mslots);
    free(l->mundo);
    kula_buf_free(&l->buf);
    kula_buf_free(&l->diffbuf);
    free(l);
}

uint64_t kula_ledger_height(const kula_ledger *l) { return l->height; }
const kula_hash *kula_ledger_state_root(const kula_ledger *l) { return &l->root; }
const kula_hash *kula_ledger_chain_id(const kula_ledger *l) { return &l->chain_id; }

/* ---- record access ---- */

/* Reads key; ENOTFOUND maps to `missing`.  Out: *p, *n borrowed. */
static int get_raw(kula_ledger *l, const kula_key *k, int missing, const uint8_t **p, size_t *n)
{
    int rc = kula_state_get(l->st, k->b, k->n, p, n);
    if (rc == KULA_ENOTFOUND)
        return missing;
    return rc;
}

/* A record that does not decode is a corrupted store, not a bad tx. */
static int corrupt(int rc) { return rc == 0 ? 0 : KULA_ESTORE; }

int ledger_put(kula_ledger *l, const kula_key *k, int encoded_rc)
{
    if (encoded_rc != 0)
        return encoded_rc;
    return kula_state_put(l->st, k->b, k->n, l->buf.data, l->buf.len);
}

/* ---- member records ----
 *
 * A transfer reads its sender four times (nonce, signers, rule, reload) and
 * its receiver once, and saves both; over a block, the same members come
 * back again and again.  The ledger keeps decoded members in slots (one per
 * id modulo LEDGER_MEMBER_SLOTS).  A save inside kula_ledger_apply_tx only
 * changes the slot (marking it dirty); kula_ledger_end_block encodes every
 * dirty slot into the state before the diff is taken, so each member is
 * decoded about once and encoded once per block.  A dirty slot is never
 * given to another member: that member is read from and written to the
 * state directly.  A failed transaction puts back the slots it changed
 * (mundo); a discarded block forgets them all.  Nothing but these
 * functions reads or writes member records, so the state plus the dirty
 * slots is always the ledger's current membership. */

static void mslots_forget(kula_ledger *l)
{
    for (size_t i = 0; i < LEDGER_MEMBER_SLOTS; i++)
        l->mslots[i].valid = l->mslots[i].dirty = false;
    l->nmundo = 0;
}

static ledger_mslot *mslot_of(kula_ledger *l, uint32_t id)
{
    return &l->mslots[id & (LEDGER_MEMBER_SLOTS - 1)];
}

static int member_write(kula_ledger *l, const kula_member *m)
{
    kula_key k;
    kula_key_member(&k, m->id);
    kula_buf_reset(&l->buf);
    return ledger_put(l, &k, kula_member_encode(&l->buf, m));
}

/* Writes every dirty slot into the state.  Returns: 0 or an error. */
static int mslots_flush(kula_ledger *l)
{
    for (size_t i = 0; i < LEDGER_MEMBER_SLOTS; i++) {
        ledger_mslot *s = &l->mslots[i];
        if (s->valid && s->dirty) {
            int rc = member_write(l, &s->m);
            if (rc != 0)
                return rc;
            s->dirty = false;
        }
    }
    return KULA_OK;
}

/* Transaction scope of the slots. */
static void mslots_tx_end(kula_ledger *l, bool ok)
{
    if (!ok)
        while (l->nmundo > 0) {
            ledger_mundo *u = &l->mundo[--l->nmundo];
            *u->slot = u->old;
        }
    l->nmundo = 0;
    l->mdefer = false;
}

int kula_ledger_member(kula_ledger *l, uint32_t id, kula_member *m)
{
    ledger_mslot *s = mslot_of(l, id);
    if (s->valid && s->m.id == id) {
        *m = s->m;
        return KULA_OK;
    }
    kula_key k;
    const uint8_t *p;
    size_t n;
    kula_key_member(&k, id);
    int rc = get_raw(l, &k, KULA_EUNKNOWNMEMBER, &p, &n);
    if (rc != 0)
        return rc;
    m->id = id;
    if ((rc = corrupt(kula_member_decode(m, p, n))) != 0)
        return rc;
    if (!s->dirty) {
        /* A clean slot may change hands at any time: no undo needed. */
        s->m = *m;
        s->valid = true;
    }
    return KULA_OK;
}

int ledger_save_member(kula_ledger *l, const kula_member *m)
{
    ledger_mslot *s = mslot_of(l, m->id);
    bool mine = s->valid && s->m.id == m->id;
    if (!l->mdefer || (!mine && s->dirty)) {
        /* Outside a transaction, or the slot holds another member's
         * unwritten record: write through. */
        int rc = member_write(l, m);
        if (rc == 0 && (mine || !s->dirty)) {
            s->m = *m;
            s->valid = true;
            s->dirty = false;
        }
        return rc;
    }
    if (s->txmark != l->txseq) {
        if (l->nmundo == l->mundo_cap) {
            size_t ncap = l->mundo_cap ? l->mundo_cap * 2 : 8;
            ledger_mundo *nu = realloc(l->mundo, ncap * sizeof(*nu));
            if (nu == NULL)
                return KULA_ENOMEM;
            l->mundo = nu;
            l->mundo_cap = ncap;
        }
        l->mundo[l->nmundo].slot = s;
        l->mundo[l->nmundo].old = *s;
        l->nmundo++;
        s->txmark = l->txseq;
    }
    s->m = *m;
    s->valid = true;
    s->dirty = true;
    return KULA_OK;
}

int kula_ledger_member_by_key(kula_ledger *l, const kula_pubkey *pk, uint32_t *id)
{
    kula_key k;
    const uint8_t *p;
    size_t n;
    kula_key_pubkey(&k, pk);
    int rc = get_raw(l, &k, KULA_ENOTFOUND, &p, &n);
    if (rc != 0)
        return rc;
    kula_reader r;
    kula_reader_init(&r, p, n);
    kula_r_array_exact(&r, 1);
    *id = (uint32_t)kula_r_uint(&r, UINT32_MAX);
    return corrupt(kula_reader_finish(&r));
}

int ledger_save_pubkey(kula_ledger *l, const kula_pubkey *pk, uint32_t id)
{
    kula_key k;
    kula_key_pubkey(&k, pk);
    kula_buf_reset(&l->buf);
    kula_writer w;
    kula_writer_init(&w, &l->buf);
    kula_w_array(&w, 1);
    kula_w_uint(&w, id);
    return ledger_put(l, &k, l->buf.err);
}

int kula_ledger_globals(kula_ledger *l, kula_globals *g)
{
    kula_key k;
    const uint8_t *p;
    size_t n;
    kula_key_global(&k);
    int rc = get_raw(l, &k, KULA_ESTORE, &p, &n);
    return rc != 0 ? rc : corrupt(kula_globals_decode(g, p, n));
}

int ledger_save_globals(kula_ledger *l, const kula_globals *g)
{
    kula_key k;
    kula_key_global(&k);
    kula_buf_reset(&l->buf);
    return ledger_put(l, &k, kula_globals_encode(&l->buf, g));
}

int kula_ledger_params(kula_ledger *l, kula_params *pr)
{
    kula_key k;
    const uint8_t *p;
    size_t n;
    kula_key_params(&k);
    int rc = get_raw(l, &k, KULA_ESTORE, &p, &n);
    return rc != 0 ? rc : corrupt(kula_params_decode(pr, p, n));
}

int ledger_save_params(kula_ledger *l, const kula_params *pr)
{
    kula_key k;
    kula_key_params(&k);
    kula_buf_reset(&l->buf);
    return ledger_put(l, &k, kula_params_encode(&l->buf, pr));
}

int kula_ledger_valset(kula_ledger *l, enum kula_valset_which which, kula_valset *vs)
{
    kula_key k;
    const uint8_t *p;
    size_t n;
    kula_key_valset(&k, which);
    int rc = get_raw(l, &k, KULA_ESTORE, &p, &n);
    return rc != 0 ? rc : corrupt(kula_valset_decode(vs, p, n));
}

int ledger_save_valset(kula_ledger *l, enum kula_valset_which which, const kula_valset *vs)
{
    kula_key k;
    kula_key_valset(&k, which);
    kula_buf_reset(&l->buf);
    return ledger_put(l, &k, kula_valset_encode(&l->buf, vs));
}

int kula_ledger_agreement(kula_ledger *l, const kula_hash *id, kula_agreement *a)
{
    kula_key k;
    const uint8_t *p;
    size_t n;
    kula_key_agreement(&k, id);
    int rc = get_raw(l, &k, KULA_EUNKNOWNAGREEMENT, &p, &n);
    if (rc != 0)
        return rc;
    a->id = *id;
    return corrupt(kula_agreement_decode(a, p, n));
}

int ledger_save_agreement(kula_ledger *l, const kula_agreement *a)
{
    kula_key k;
    kula_key_agreement(&k, &a->id);
    kula_buf_reset(&l->buf);
    return ledger_put(l, &k, kula_agreement_encode(&l->buf, a));
}

int kula_ledger_referral(kula_ledger *l, const kula_hash *id, kula_referral *x)
{
    kula_key k;
    const uint8_t *p;
    size_t n;
    kula_key_referral(&k, id);
    int rc = get_raw(l, &k, KULA_EUNKNOWNREFERRAL, &p, &n);
    if (rc != 0)
        return rc;
    x->id = *id;
    return corrupt(kula_referral_decode(x, p, n));
}

int ledger_save_referral(kula_ledger *l, const kula_referral *x)
{
    kula_key k;
    kula_key_referral(&k, &x->id);
    kula_buf_reset(&l->buf);
    return ledger_put(l, &k, kula_referral_encode(&l->buf, x));
}

int ledger_delete_referral(kula_ledger *l, const kula_hash *id)
{
    kula_key k;
    kula_key_referral(&k, id);
    return kula_state_put(l->st, k.b, k.n, NULL, 0);
}

int kula_ledger_pair(kula_ledger *l, uint32_t a, uint32_t b, kula_pair *x)
{
    kula_key k;
    const uint8_t *p;
    size_t n;
    kula_key_pair(&k, a, b);
    int rc = get_raw(l, &k, KULA_ENOTFOUND, &p, &n);
    if (rc == KULA_ENOTFOUND) {
        memset(x, 0, sizeof(*x));
        return KULA_OK;
    }
    return rc != 0 ? rc : corrupt(kula_pair_decode(x, p, n));
}

int ledger_save_pair(kula_ledger *l, uint32_t a, uint32_t b, const kula_pair *x)
{
    kula_key k;
    kula_key_pair(&k, a, b);
    kula_buf_reset(&l->buf);
    return ledger_put(l, &k, kula_pair_encode(&l->buf, x));
}

int kula_ledger_proposal(kula_ledger *l, const kula_hash *id, kula_proposal *q)
{
    kula_key k;
    const uint8_t *p;
    size_t n;
    kula_key_proposal(&k, id);
    int rc = get_raw(l, &k, KULA_EUNKNOWNPROPOSAL, &p, &n);
    if (rc != 0)
        return rc;
    q->id = *id;
    return corrupt(kula_proposal_decode(q, p, n));
}

int ledger_save_proposal(kula_ledger *l, const kula_proposal *q)
{
    kula_key k;
    kula_key_proposal(&k, &q->id);
    kula_buf_reset(&l->buf);
    return ledger_put(l, &k, kula_proposal_encode(&l->buf, q));
}

int ledger_has_vote(kula_ledger *l, const kula_hash *proposal, uint32_t member, bool *has)
{
    kula_key k;
    const uint8_t *p;
    size_t n;
    kula_key_vote(&k, proposal, member);
    int rc = kula_state_get(l->st, k.b, k.n, &p, &n);
    *has = rc == 0;
    return rc == KULA_ENOTFOUND ? KULA_OK : rc;
}

int ledger_save_vote(kula_ledger *l, const kula_hash *proposal, uint32_t member, bool approve)
{
    kula_key k;
    kula_key_vote(&k, proposal, member);
    kula_buf_reset(&l->buf);
    kula_writer w;
    kula_writer_init(&w, &l->buf);
    kula_w_array(&w, 1);
    kula_w_bool(&w, approve);
    return ledger_put(l, &k, l->buf.err);
}

int kula_ledger_evidence(kula_ledger *l, uint32_t validator, uint64_t height, uint32_t round,
                         uint8_t type, kula_evidence *e)
{
    kula_key k;
    const uint8_t *p;
    size_t n;
    kula_key_evidence(&k, validator, height, round, type);
    int rc = get_raw(l, &k, KULA_ENOTFOUND, &p, &n);
    if (rc != 0)
        return rc;
    e->validator = validator;
    e->height = height;
    e->round = round;
    e->type = type;
    return corrupt(kula_evidence_decode(e, p, n));
}

int ledger_save_evidence(kula_ledger *l, const kula_evidence *e)
{
    kula_key k;
    kula_key_evidence(&k, e->validator, e->height, e->round, e->type);
    kula_buf_reset(&l->buf);
    return ledger_put(l, &k, kula_evidence_encode(&l->buf, e));
}

int kula_ledger_done(kula_ledger *l, const kula_hash *tx_id, uint64_t *height)
{
    kula_key k;
    const uint8_t *p;
    size_t n;
    kula_key_done(&k, tx_id);
    int rc = get_raw(l, &k, KULA_ENOTFOUND, &p, &n);
    if (rc != 0)
        return rc;
    kula_reader r;
    kula_reader_init(&r, p, n);
    kula_r_array_exact(&r, 1);
    *height = kula_r_uint(&r, UINT64_MAX);
    return corrupt(kula_reader_finish(&r));
}

/* SPEC §10.1: "D" || id = [height], kept for ever. */
static int save_done(kula_ledger *l, const kula_hash *tx_id, uint64_t height)
{
    kula_key k;
    kula_key_done(&k, tx_id);
    kula_buf_reset(&l->buf);
    kula_writer w;
    kula_writer_init(&w, &l->buf);
    kula_w_array(&w, 1);
    kula_w_uint(&w, height);
    return ledger_put(l, &k, l->buf.err);
}

/* ---- distribution ---- */

int kula_ledger_distribution(const kula_agreement *a, int64_t pool, int64_t *shares)
{
    uint64_t w[KULA_MAX_PARTIES];
    switch ((enum kula_rule_kind)a->rule.kind) {
    case KULA_RULE_EQUAL:
        return kula_distribute_equal(shares, a->parties, a->nparties, pool);
    case KULA_RULE_WEIGHTS:
        if (a->rule.nweights != a->nparties)
            return KULA_ERULE;
        for (uint32_t i = 0; i < a->nparties; i++)
            w[i] = a->rule.weights[i];
        return kula_distribute_weighted(shares, a->parties, w, a->nparties, pool);
    case KULA_RULE_PRORATA:
        for (uint32_t i = 0; i < a->nparties; i++)
            w[i] = (uint64_t)a->contributed[i];
        return kula_distribute_weighted(shares, a->parties, w, a->nparties, pool);
    case KULA_RULE_SHAPLEY: {
        if (a->rule.nvalues != (1u << a->nparties))
            return KULA_ERULE;
        int64_t *v = malloc(a->rule.nvalues * sizeof(*v));
        if (v == NULL)
            return KULA_ENOMEM;
        int rc = kula_rule_shapley_values(&a->rule, v);
        if (rc == 0)
            rc = kula_distribute_shapley(shares, a->parties, v, a->nparties, pool);
        free(v);
        return rc == KULA_EINVAL ? KULA_ERULE : rc;
    }
    }
    return KULA_ERULE;
}

/* ---- signers ---- */

static int add_signer(uint32_t *ids, uint32_t *n, uint32_t id)
{
    uint32_t i = 0;
    while (i < *n && ids[i] < id)
        i++;
    if (i < *n && ids[i] == id)
        return KULA_ESELF;
    if (*n >= KULA_MAX_PARTIES)
        return KULA_ESIGNERS;
    memmove(&ids[i + 1], &ids[i], (*n - i) * sizeof(*ids));
    ids[i] = id;
    (*n)++;
    return KULA_OK;
}

/* The required signer set, ascending. */
static int signer_ids(kula_ledger *l, const kula_tx *tx, uint32_t *ids, uint32_t *n)
{
    *n = 0;
    int rc = add_signer(ids, n, tx->from);
    if (rc != 0)
        return rc;
    switch ((enum kula_tx_kind)tx->kind) {
    case KULA_TX_TRANSFER:
    case KULA_TX_REFERRAL:
    case KULA_TX_CONVERSION:
    case KULA_TX_BENEFIT:
    case KULA_TX_SETTLE:
    case KULA_TX_FEEDBACK:
    case KULA_TX_PROPOSE:
    case KULA_TX_VOTE:
    case KULA_TX_EVIDENCE:
        return KULA_OK;
    case KULA_TX_EXCHANGE:
        return add_signer(ids, n, tx->u.exchange.counterparty);
    case KULA_TX_CONTRIBUTE:
        return add_signer(ids, n, tx->u.contribute.acknowledger);
    case KULA_TX_AGREEMENT_OPEN: {
        /* Every party signs; the initiator must be one of them. */
        bool from_is_party = false;
        *n = 0;
        for (uint32_t i = 0; i < tx->u.open.nparties; i++) {
            if (tx->u.open.parties[i] == tx->from)
                from_is_party = true;
            if ((rc = add_signer(ids, n, tx->u.open.parties[i])) != 0)
                return rc == KULA_ESELF ? KULA_EORDER : rc;
        }
        return from_is_party ? KULA_OK : KULA_ENOTPARTY;
    }
    case KULA_TX_AGREEMENT_AMEND:
    case KULA_TX_AGREEMENT_CLOSE: {
        kula_agreement a;
        const kula_hash *id = tx->kind == KULA_TX_AGREEMENT_AMEND ? &tx->u.amend.agreement
                                                                  : &tx->u.settle.agreement;
        if ((rc = kula_ledger_agreement(l, id, &a)) != 0)
            return rc;
        if (kula_agreement_party(&a, tx->from) < 0)
            return KULA_ENOTPARTY;
        *n = a.nparties;
        memcpy(ids, a.parties, a.nparties * sizeof(*ids));
        return KULA_OK;
    }
    }
    return KULA_EINVAL;
}

int kula_ledger_signers(kula_ledger *l, const kula_tx *tx, uint32_t *ids, kula_pubkey *keys,
                        uint32_t *n)
{
    int rc = signer_ids(l, tx, ids, n);
    for (uint32_t i = 0; rc == 0 && i < *n; i++) {
        kula_member m;
        if ((rc = kula_ledger_member(l, ids[i], &m)) == 0)
            keys[i] = m.pubkey;
    }
    return rc;
}

int kula_ledger_sig_jobs(kula_ledger *l, const kula_tx *tx, kula_verify_job *jobs)
{
    uint32_t ids[KULA_MAX_PARTIES], n;
    kula_pubkey keys[KULA_MAX_PARTIES];
    int rc = kula_ledger_signers(l, tx, ids, keys, &n);
    if (rc != 0)
        return rc;
    if (n != tx->nsigs)
        return KULA_ESIGNERS;
    for (uint32_t k = 0; k < n; k++)
        if (tx->sigs[k].signer != ids[k])
            return KULA_ESIGNERS;
    kula_hash digest;
    kula_tx_sighash(&digest, &l->chain_id, tx);
    for (uint32_t k = 0; k < n; k++)
        jobs[k] = (kula_verify_job){ .digest = digest, .key = keys[k], .sig = tx->sigs[k].sig };
    return KULA_OK;
}

/* proto/LEDGER.md §2: the signatures must be exactly those of the required
 * signers, each valid under the signer's current key, and every signer must
 * be an active member. */
static int check_signatures(kula_ledger *l, const kula_tx *tx, const kula_apply_opts *opts)
{
    uint32_t ids[KULA_MAX_PARTIES];
    uint32_t n;
    int rc = signer_ids(l, tx, ids, &n);
    if (rc != 0)
        return rc;
    if (n != tx->nsigs)
        return KULA_ESIGNERS;
    kula_hash digest;
    bool have_digest = false;
    for (uint32_t i = 0; i < n; i++) {
        if (tx->sigs[i].signer != ids[i])
            return KULA_ESIGNERS;
        kula_member m;
        if ((rc = kula_ledger_member(l, ids[i], &m)) != 0)
            return rc;
        if (m.status != KULA_MEMBER_ACTIVE)
            return KULA_EINACTIVE;
        if (opts != NULL && opts->skip_sigs)
            continue;
        if (opts != NULL && opts->verified != NULL &&
            memcmp(opts->verified[i].b, m.pubkey.b, KULA_PUBKEY_LEN) == 0)
            continue;
        if (!have_digest) {
            kula_tx_sighash(&digest, &l->chain_id, tx);
            have_digest = true;
        }
        if (!kula_verify(&m.pubkey, digest.b, &tx->sigs[i].sig))
            return KULA_EBADSIG;
    }
    return KULA_OK;
}

/* ---- transactions ---- */

static int apply_inner(kula_ledger *l, const kula_tx *tx, const kula_apply_opts *opts,
                       kula_tx_effects *fx)
{
    kula_member from;
    int rc = kula_ledger_member(l, tx->from, &from);
    if (rc != 0)
        return rc;
    if (from.status != KULA_MEMBER_ACTIVE)
        return KULA_EINACTIVE;
    /* §2.2: the block's time is the ledger's only clock; a dated
     * transaction commits in no block after its expiry. */
    if (tx->expires != 0 && l->btime > tx->expires)
        return KULA_ETXEXPIRED;
    /* §2.2: a sequenced transaction takes the member's next nonce, so it
     * commits once and in the member's order; an unsequenced one (nonce 0)
     * must be dated and commits once because its id is recorded. */
    bool unsequenced = tx->nonce == 0;
    if (unsequenced) {
        uint64_t at;
        if (tx->expires == 0)
            return KULA_ENONCE;
        rc = kula_ledger_done(l, &tx->id, &at);
        if (rc == 0)
            return KULA_EREPLAYED;
        if (rc != KULA_ENOTFOUND)
            return rc;
    } else if (from.nonce == UINT64_MAX || tx->nonce != from.nonce + 1) {
        return KULA_ENONCE;
    }
    if ((rc = check_signatures(l, tx, opts)) != 0)
        return rc;
    fx->nparties = 1;
    fx->parties[0] = tx->from;
    if ((rc = ledger_apply_rule(l, tx, opts, fx)) != 0)
        return rc;
    if (unsequenced)
        return save_done(l, &tx->id, l->bheight);
    /* The rule may have changed the member (its balance): reload. */
    if ((rc = kula_ledger_member(l, tx->from, &from)) != 0)
        return rc;
    from.nonce = tx->nonce;
    return ledger_save_member(l, &from);
}

int kula_ledger_apply_tx(kula_ledger *l, const kula_tx *tx, const kula_apply_opts *opts,
                         kula_tx_effects *fx)
{
    if (!l->in_block)
        return KULA_EINVAL;
    kula_tx_effects local;
    if (fx == NULL)
        fx = &local;
    fx->nparties = 0;
    kula_state_tx_begin(l->st);
    l->txseq++;
    l->mdefer = true;
    int rc = apply_inner(l, tx, opts, fx);
    mslots_tx_end(l, rc == 0);
    if (rc != 0) {
        kula_state_tx_rollback(l->st);
        fx->nparties = 0;
    } else {
        kula_state_tx_commit(l->st);
    }
    return rc;
}

void ledger_add_party(kula_tx_effects *fx, uint32_t id)
{
    for (uint32_t i = 0; i < fx->nparties; i++)
        if (fx->parties[i] == id)
            return;
    if (fx->nparties < KULA_MAX_PARTIES + 1)
        fx->parties[fx->nparties++] = id;
}

/* ---- blocks ---- */

int kula_ledger_begin_block(kula_ledger *l, uint64_t height, uint64_t time_ms)
{
    if (l->in_block || height != l->height + 1)
        return KULA_EHEIGHT;
    l->in_block = true;
    l->bheight = height;
    l->btime = time_ms;
    return KULA_OK;
}

/* root = H(KULA_TAG_STATE || prev || canonical diff) */
static int hash_diff(kula_ledger *l, const kula_hash *prev, const kula_state_write *w, size_t n,
                     kula_hash *root)
{
    kula_buf_reset(&l->diffbuf);
    kula_writer wr;
    kula_writer_init(&wr, &l->diffbuf);
    kula_hasher h;
    kula_hasher_init(&h);
    kula_hasher_update(&h, KULA_TAG_STATE, KULA_TAG_LEN);
    kula_hasher_update(&h, prev->b, KULA_HASH_LEN);
    if (n > UINT32_MAX)
        return KULA_ETOOBIG;
    kula_w_array(&wr, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        kula_w_array(&wr, 2);
        kula_w_bin(&wr, w[i].key, w[i].klen);
        if (w[i].val != NULL)
            kula_w_bin(&wr, w[i].val, w[i].vlen);
        else
            kula_w_nil(&wr);
        /* Stream the encoding through the hash in pieces. */
        if (l->diffbuf.len >= 65536) {
            if (l->diffbuf.err != 0)
                return l->diffbuf.err;
            kula_hasher_update(&h, l->diffbuf.data, l->diffbuf.len);
            kula_buf_reset(&l->diffbuf);
        }
    }
    if (l->diffbuf.err != 0)
        return l->diffbuf.err;
    kula_hasher_update(&h, l->diffbuf.data, l->diffbuf.len);
    kula_hasher_final(&h, root);
    return KULA_OK;
}

/* §3.3: validator set changes made in block h sign from block h+1 on. */
static int rotate_valsets(kula_ledger *l)
{
    kula_valset *next = malloc(sizeof(*next)), *live = malloc(sizeof(*live));
    int rc = next == NULL || live == NULL ? KULA_ENOMEM : 0;
    if (rc == 0)
        rc = kula_ledger_valset(l, KULA_VALSET_NEXT, next);
    if (rc == 0)
        rc = kula_ledger_valset(l, KULA_VALSET_LIVE, live);
    if (rc == 0)
        rc = ledger_save_valset(l, KULA_VALSET_LAST, next);
    if (rc == 0)
        rc = ledger_save_valset(l, KULA_VALSET_NEXT, live);
    free(next);
    free(live);
    return rc;
}

int kula_ledger_end_block(kula_ledger *l, kula_hash *root, const kula_state_write **writes,
                          size_t *n)
{
    if (!l->in_block)
        return KULA_EINVAL;
    int rc = mslots_flush(l);
    if (rc == 0)
        rc = rotate_valsets(l);
    if (rc == 0)
        rc = kula_state_diff(l->st, writes, n);
    if (rc == 0)
        rc = hash_diff(l, &l->root, *writes, *n, &l->pending_root);
    if (rc != 0)
        return rc;
    *root = l->pending_root;
    return KULA_OK;
}

void kula_ledger_finish_block(kula_ledger *l)
{
    kula_state_end_block(l->st);
    if (l->in_block) {
        l->height = l->bheight;
        l->in_block = false;
    }
    l->root = l->pending_root;
}

void kula_ledger_abort_block(kula_ledger *l)
{
    kula_state_discard(l->st);
    mslots_forget(l);
    l->in_block = false;
}

/* ---- genesis ---- */

int kula_ledger_genesis(kula_ledger *l, const kula_genesis *g, kula_hash *root,
                        const kula_state_write **writes, size_t *n)
{
    if (l->height != 0 || l->in_block || l->genesis_done)
        return KULA_EGENESIS;
    l->genesis_done = true;
    kula_valset *vs = calloc(1, sizeof(*vs));
    if (vs == NULL)
        return KULA_ENOMEM;
    int rc = ledger_save_params(l, &g->params);
    kula_globals gl = { g->nmembers + 1, g->nmembers, 0 };
    if (rc == 0)
        rc = ledger_save_globals(l, &gl);
    for (uint32_t i = 0; rc == 0 && i < g->nmembers; i++) {
        const kula_genesis_member *gm = &g->members[i];
        kula_member m;
        memset(&m, 0, sizeof(m));
        m.id = i + 1;
        m.pubkey = gm->pubkey;
        memcpy(m.name, gm->name, sizeof(m.name));
        memcpy(m.sector, gm->sector, sizeof(m.sector));
        m.credit_limit = gm->credit_limit;
        m.status = KULA_MEMBER_ACTIVE;
        m.voting_power = gm->voting_power;
        rc = ledger_save_member(l, &m);
        if (rc == 0)
            rc = ledger_save_pubkey(l, &gm->pubkey, m.id);
        if (rc == 0 && gm->voting_power > 0) {
            vs->v[vs->n].id = m.id;
            vs->v[vs->n].power = gm->voting_power;
            vs->total_power += gm->voting_power;
            vs->n++;
        }
    }
    for (int which = KULA_VALSET_NEXT; rc == 0 && which <= KULA_VALSET_LIVE; which++)
        rc = ledger_save_valset(l, (enum kula_valset_which)which, vs);
    free(vs);
    if (rc == 0)
        rc = kula_state_diff(l->st, writes, n);
    kula_hash zero;
    memset(&zero, 0, sizeof(zero));
    if (rc == 0)
        rc = hash_diff(l, &zero, *writes, *n, &l->pending_root);
    if (rc != 0)
        return rc;
    *root = l->pending_root;
    return KULA_OK;
}

/* Block context for the rules. */
uint64_t ledger_block_height(const kula_ledger *l) { return l->bheight; }
