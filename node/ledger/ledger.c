/* ledger.c -- the state machine's public face (include/kula/ledger/
 * ledger.h): blocks, transactions applied all or nothing, the state root,
 * genesis, queries.  proto/LEDGER.md states the rules with their reasons.
 *
 * Direction: ledger.c calls the rules (rules_tx.c, which dispatches to the
 * rule of each kind), lrecords.c and the layers below; nothing in
 * node/ledger/ calls ledger.c. */
#include "ledger_internal.h"

#include <stdlib.h>
#include <string.h>

#include "kula/base/error.h"
#include "rules.h"

const uint8_t KULA_TAG_STATE[KULA_TAG_LEN] = "kula/state/v1";
/* exactly 16 bytes each: no terminator */
const uint8_t KULA_TAG_SNAPSHOT[KULA_TAG_LEN] = { 'k', 'u', 'l', 'a', '/', 's', 'n', 'a',
                                                  'p', 's', 'h', 'o', 't', '/', 'v', '1' };
const uint8_t KULA_TAG_SNAPDATA[KULA_TAG_LEN] = { 'k', 'u', 'l', 'a', '/', 's', 'n', 'a',
                                                  'p', 'd', 'a', 't', 'a', '/', 'v', '1' };

int kula_ledger_new(kula_ledger **out, const kula_hash *chain_id, kula_state_base_fn base,
                    void *ctx, uint64_t tip, const kula_hash *tip_root)
{
    kula_ledger *l = calloc(1, sizeof(*l));
    if (l == NULL || kula_state_new(&l->st, base, ctx) != 0 || lrec_new(&l->rec, l->st) != 0) {
        kula_ledger_free(l);
        return KULA_ENOMEM;
    }
    l->chain_id = *chain_id;
    l->height = tip;
    if (tip_root != NULL)
        l->root = *tip_root;
    kula_buf_init(&l->diffbuf);
    kula_buf_init(&l->snap.vals);
    *out = l;
    return KULA_OK;
}

void kula_ledger_free(kula_ledger *l)
{
    if (l == NULL)
        return;
    lrec_free(l->rec);
    kula_state_free(l->st);
    kula_buf_free(&l->diffbuf);
    kula_buf_free(&l->snap.vals);
    free(l);
}

uint64_t kula_ledger_height(const kula_ledger *l) { return l->height; }
const kula_hash *kula_ledger_state_root(const kula_ledger *l) { return &l->root; }
const kula_hash *kula_ledger_chain_id(const kula_ledger *l) { return &l->chain_id; }

/* ---- queries: the records (lrecords.c) ---- */

int kula_ledger_member(kula_ledger *l, uint32_t id, kula_member *m)
{
    return lrec_member(l->rec, id, m);
}

int kula_ledger_member_by_key(kula_ledger *l, const kula_pubkey *pk, uint32_t *id)
{
    return lrec_member_by_key(l->rec, pk, id);
}

int kula_ledger_globals(kula_ledger *l, kula_globals *g) { return lrec_globals(l->rec, g); }
int kula_ledger_params(kula_ledger *l, kula_params *p) { return lrec_params(l->rec, p); }

int kula_ledger_valset(kula_ledger *l, enum kula_valset_which which, kula_valset *vs)
{
    return lrec_valset(l->rec, which, vs);
}

int kula_ledger_agreement(kula_ledger *l, const kula_hash *id, kula_agreement *a)
{
    return lrec_agreement(l->rec, id, a);
}

int kula_ledger_referral(kula_ledger *l, const kula_hash *id, kula_referral *r)
{
    return lrec_referral(l->rec, id, r);
}

int kula_ledger_invoice(kula_ledger *l, const kula_hash *id, kula_invoice *v)
{
    return lrec_invoice(l->rec, id, v);
}

int kula_ledger_clearings(kula_ledger *l, uint64_t *n) { return lrec_clearings(l->rec, n); }

int kula_ledger_clearing(kula_ledger *l, uint64_t number, kula_clearing *c)
{
    return lrec_clearing(l->rec, number, c);
}

int kula_ledger_settlement(kula_ledger *l, uint64_t number, kula_settlement *s)
{
    return lrec_settlement(l->rec, number, s);
}

int kula_ledger_settles(kula_ledger *l, uint32_t member, uint64_t *since)
{
    return lrec_settles(l->rec, member, since);
}

void kula_ledger_set_scan(kula_ledger *l, kula_state_scan_fn scan)
{
    kula_state_set_scan(l->st, scan);
}

void kula_ledger_use_arena(kula_ledger *l) { kula_state_use_arena(l->st); }

int kula_ledger_proposal(kula_ledger *l, const kula_hash *id, kula_proposal *q)
{
    return lrec_proposal(l->rec, id, q);
}

int kula_ledger_pair(kula_ledger *l, uint32_t a, uint32_t b, kula_pair *x)
{
    return lrec_pair(l->rec, a, b, x);
}

int kula_ledger_observers(kula_ledger *l, kula_observers *os)
{
    return lrec_observers(l->rec, os);
}

int kula_ledger_evidence(kula_ledger *l, uint32_t validator, uint64_t height, uint32_t round,
                         uint8_t type, kula_evidence *e)
{
    return lrec_evidence(l->rec, validator, height, round, type, e);
}

int kula_ledger_done(kula_ledger *l, const kula_hash *tx_id, uint64_t *height)
{
    return lrec_done(l->rec, tx_id, height);
}

/* ---- signers (rules_tx.c) ---- */

int kula_ledger_signers(kula_ledger *l, const kula_tx *tx, uint32_t *ids, kula_pubkey *keys,
                        uint32_t *n)
{
    int rc = rule_signers(l->rec, tx, ids, n);
    for (uint32_t i = 0; rc == 0 && i < *n; i++) {
        kula_member m;
        if ((rc = lrec_member(l->rec, ids[i], &m)) == 0)
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

/* ---- transactions ---- */

int kula_ledger_apply_tx(kula_ledger *l, const kula_tx *tx, const kula_apply_opts *opts,
                         kula_tx_effects *fx)
{
    if (!l->in_block)
        return KULA_EINVAL;
    kula_tx_effects local;
    rule_ctx ctx = { .rec = l->rec, .chain_id = &l->chain_id, .height = l->bheight,
                     .time = l->btime, .opts = opts, .fx = fx != NULL ? fx : &local };
    ctx.fx->nparties = 0;
    lrec_tx_begin(l->rec);
    int rc = rule_apply_tx(&ctx, tx);
    lrec_tx_end(l->rec, rc == 0);
    if (rc != 0)
        ctx.fx->nparties = 0;
    return rc;
}

/* ---- blocks ---- */

int kula_ledger_begin_block(kula_ledger *l, uint64_t height, uint64_t time_ms)
{
    if (l->in_block || height != l->height + 1)
        return KULA_EHEIGHT;
    l->in_block = true;
    l->snap_at = false;
    l->bheight = height;
    l->btime = time_ms;
    return KULA_OK;
}

/* Appends [key, value or nil] to b, the canonical encoding (proto/SPEC.md
 * §2) written byte by byte: the state root hashes it for every write of
 * every block.  Returns: 0, KULA_ETOOBIG or KULA_ENOMEM. */
static int put_write(kula_buf *b, const kula_state_write *w)
{
    if (w->klen > UINT32_MAX || w->vlen > UINT32_MAX)
        return KULA_ETOOBIG;
    if (!kula_buf_reserve(b, 1 + 5 + w->klen + 5 + w->vlen))
        return b->err;
    uint8_t *p = b->data + b->len;
    *p++ = 0x92; /* an array of 2 */
    p += kula_bin_header(p, (uint32_t)w->klen);
    memcpy(p, w->key, w->klen);
    p += w->klen;
    if (w->val != NULL) {
        p += kula_bin_header(p, (uint32_t)w->vlen);
        if (w->vlen > 0)
            memcpy(p, w->val, w->vlen);
        p += w->vlen;
    } else {
        *p++ = 0xc0; /* nil */
    }
    b->len = (size_t)(p - b->data);
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
        int rc = put_write(&l->diffbuf, &w[i]);
        if (rc != 0)
            return rc;
        /* Stream the encoding through the hash in pieces. */
        if (l->diffbuf.len >= 65536) {
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

/* §7.3: validator set changes made in block h sign from block h+1 on. */
static int rotate_valsets(kula_ledger *l)
{
    kula_valset *next = malloc(sizeof(*next)), *live = malloc(sizeof(*live));
    int rc = next == NULL || live == NULL ? KULA_ENOMEM : 0;
    if (rc == 0)
        rc = lrec_valset(l->rec, KULA_VALSET_NEXT, next);
    if (rc == 0)
        rc = lrec_valset(l->rec, KULA_VALSET_LIVE, live);
    if (rc == 0)
        rc = lrec_save_valset(l->rec, KULA_VALSET_LAST, next);
    if (rc == 0)
        rc = lrec_save_valset(l->rec, KULA_VALSET_NEXT, live);
    free(next);
    free(live);
    return rc;
}

/* ---- the snapshot commitment (SPEC §10.3) ---- */

/* vals: [last, next], each [[member, power, pubkey], ...] */
static int encode_vals(kula_ledger *l, kula_buf *out)
{
    kula_valset *vs = malloc(sizeof(*vs));
    if (vs == NULL)
        return KULA_ENOMEM;
    kula_buf_reset(out);
    kula_writer w;
    kula_writer_init(&w, out);
    kula_w_array(&w, 2);
    static const enum kula_valset_which order[2] = { KULA_VALSET_LAST, KULA_VALSET_NEXT };
    int rc = 0;
    for (int s = 0; rc == 0 && s < 2; s++) {
        if ((rc = lrec_valset(l->rec, order[s], vs)) != 0)
            break;
        kula_w_array(&w, vs->n);
        for (uint32_t i = 0; rc == 0 && i < vs->n; i++) {
            kula_member m;
            if ((rc = lrec_member(l->rec, vs->v[i].id, &m)) != 0)
                break;
            kula_w_array(&w, 3);
            kula_w_uint(&w, vs->v[i].id);
            kula_w_uint(&w, vs->v[i].power);
            kula_w_bin(&w, m.pubkey.b, KULA_PUBKEY_LEN);
        }
    }
    free(vs);
    return rc != 0 ? rc : out->err;
}

typedef struct snap_hash {
    kula_hasher h;
    kula_buf *buf;
} snap_hash;

/* One record as the canonical [key, value], streamed through the hash. */
static int hash_record(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    snap_hash *sh = ctx;
    kula_writer w;
    kula_writer_init(&w, sh->buf);
    kula_w_array(&w, 2);
    kula_w_bin(&w, key, klen);
    kula_w_bin(&w, val, vlen);
    if (sh->buf->len >= 65536) {
        if (sh->buf->err != 0)
            return sh->buf->err;
        kula_hasher_update(&sh->h, sh->buf->data, sh->buf->len);
        kula_buf_reset(sh->buf);
    }
    return 0;
}

void kula_snapshot_root(const kula_hash *diff_root, const uint8_t *vals, size_t vals_len,
                        const kula_hash *state_hash, kula_hash *root)
{
    kula_hash vh;
    kula_hash_bytes(&vh, vals, vals_len);
    kula_hasher h;
    kula_hasher_init(&h);
    kula_hasher_update(&h, KULA_TAG_SNAPSHOT, KULA_TAG_LEN);
    kula_hasher_update(&h, diff_root->b, KULA_HASH_LEN);
    kula_hasher_update(&h, vh.b, KULA_HASH_LEN);
    kula_hasher_update(&h, state_hash->b, KULA_HASH_LEN);
    kula_hasher_final(&h, root);
}

/* At a snapshot height, folds the whole state and the validator sets into
 * pending_root (which holds the diff's root on entry). */
static int snapshot_commit(kula_ledger *l)
{
    kula_params p;
    int rc = lrec_params(l->rec, &p);
    if (rc != 0)
        return rc;
    if (p.snapshot_interval == 0 || l->bheight % p.snapshot_interval != 0)
        return KULA_OK;
    kula_snapshot_commit *sc = &l->snap;
    sc->height = l->bheight;
    sc->diff_root = l->pending_root;
    if ((rc = encode_vals(l, &sc->vals)) != 0)
        return rc;
    snap_hash sh = { .buf = &l->diffbuf };
    kula_buf_reset(&l->diffbuf);
    kula_hasher_init(&sh.h);
    kula_hasher_update(&sh.h, KULA_TAG_SNAPDATA, KULA_TAG_LEN);
    if ((rc = kula_state_walk(l->st, hash_record, &sh)) != 0)
        return rc;
    if (l->diffbuf.err != 0)
        return l->diffbuf.err;
    kula_hasher_update(&sh.h, l->diffbuf.data, l->diffbuf.len);
    kula_hasher_final(&sh.h, &sc->state_hash);
    kula_snapshot_root(&sc->diff_root, sc->vals.data, sc->vals.len, &sc->state_hash,
                       &l->pending_root);
    l->snap_at = true;
    return KULA_OK;
}

int kula_ledger_end_block(kula_ledger *l, kula_hash *root, const kula_state_write **writes,
                          size_t *n)
{
    if (!l->in_block)
        return KULA_EINVAL;
    kula_tx_effects fx;
    rule_ctx ctx = { .rec = l->rec, .chain_id = &l->chain_id, .height = l->bheight,
                     .time = l->btime, .opts = NULL, .fx = &fx };
    int rc = rule_end_block(&ctx);
    if (rc == 0)
        rc = lrec_flush(l->rec);
    if (rc == 0)
        rc = rotate_valsets(l);
    if (rc == 0)
        rc = kula_state_diff(l->st, writes, n);
    if (rc == 0)
        rc = hash_diff(l, &l->root, *writes, *n, &l->pending_root);
    if (rc == 0)
        rc = snapshot_commit(l);
    if (rc != 0)
        return rc;
    *root = l->pending_root;
    return KULA_OK;
}

const kula_snapshot_commit *kula_ledger_snapshot(const kula_ledger *l)
{
    return l->snap_at ? &l->snap : NULL;
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
    lrec_discard(l->rec);
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
    int rc = lrec_save_params(l->rec, &g->params);
    kula_globals gl = { g->nmembers + 1, g->nmembers, 0 };
    if (rc == 0)
        rc = lrec_save_globals(l->rec, &gl);
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
        rc = lrec_save_member(l->rec, &m);
        if (rc == 0)
            rc = lrec_save_pubkey(l->rec, &gm->pubkey, m.id);
        if (rc == 0 && gm->voting_power > 0) {
            vs->v[vs->n].id = m.id;
            vs->v[vs->n].power = gm->voting_power;
            vs->total_power += gm->voting_power;
            vs->n++;
        }
    }
    for (int which = KULA_VALSET_NEXT; rc == 0 && which <= KULA_VALSET_LIVE; which++)
        rc = lrec_save_valset(l->rec, (enum kula_valset_which)which, vs);
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

int kula_ledger_new_genesis(kula_ledger **out, const kula_genesis *g)
{
    kula_hash root;
    const kula_state_write *w;
    size_t n;
    int rc = kula_ledger_new(out, &g->chain_id, NULL, NULL, 0, NULL);
    if (rc == 0)
        rc = kula_ledger_genesis(*out, g, &root, &w, &n);
    if (rc != 0) {
        kula_ledger_free(*out);
        *out = NULL;
        return rc;
    }
    kula_ledger_finish_block(*out);
    return KULA_OK;
}

