/* tx.c -- canonical encoding and decoding of transactions (proto/SPEC.md §6). */
#include <string.h>

#include "kula/base/error.h"
#include "kula/types/records.h"
#include "kula/types/txkind.h"
#include "kula/types/types.h"

const uint8_t KULA_TAG_TX[KULA_TAG_LEN] = "kula/tx/v1";
const uint8_t KULA_TAG_VOTE[KULA_TAG_LEN] = "kula/vote/v1";
/* Exactly 16 bytes: no NUL padding, which C allows for a char array of its size. */
const uint8_t KULA_TAG_PROPOSAL[KULA_TAG_LEN] = "kula/proposal/v1";

/* Bytewise order of two byte strings, a proper prefix first. */
static int bytes_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c != 0)
        return c;
    return an < bn ? -1 : an > bn ? 1 : 0;
}

int kula_vote_cmp(const kula_vote *a, const kula_vote *b)
{
    kula_buf x, y;
    kula_buf_init(&x);
    kula_buf_init(&y);
    /* The encoders' errors are the buffers', which are looked at next. */
    kula_result_ignored(kula_vote_encode(&x, a));
    kula_result_ignored(kula_vote_encode(&y, b));
    int c = x.err != 0 || y.err != 0 ? 0 : bytes_cmp(x.data, x.len, y.data, y.len);
    kula_buf_free(&x);
    kula_buf_free(&y);
    return c;
}

/* ---- writing ---- */

static void w_text(kula_writer *w, kula_text t) { kula_w_str(w, t.p, t.n); }
static void w_hash(kula_writer *w, const kula_hash *h) { kula_w_bin(w, h->b, KULA_HASH_LEN); }

static void w_rule(kula_writer *w, const kula_rule *r)
{
    switch ((enum kula_rule_kind)r->kind) {
    case KULA_RULE_EQUAL:
    case KULA_RULE_PRORATA:
        kula_w_array(w, 1);
        kula_w_uint(w, r->kind);
        return;
    case KULA_RULE_WEIGHTS:
        kula_w_array(w, 2);
        kula_w_uint(w, r->kind);
        kula_w_array(w, r->nweights);
        for (uint32_t i = 0; i < r->nweights; i++)
            kula_w_uint(w, r->weights[i]);
        return;
    case KULA_RULE_SHAPLEY:
        kula_w_array(w, 2);
        kula_w_uint(w, r->kind);
        kula_w_raw(w, r->values_raw, r->values_raw_len);
        return;
    }
    w->out->err = KULA_ERULE;
}

static void w_fields(kula_writer *w, const void *base, const kula_kind_desc *d);

/* §6.14: [kind, the action's fields...] */
static void w_action(kula_writer *w, const kula_action *a)
{
    const kula_kind_desc *d = kula_action_kind_desc(a->kind);
    if (d == NULL) {
        w->out->err = KULA_EINVAL;
        return;
    }
    kula_w_array(w, 1 + d->nfields);
    kula_w_uint(w, a->kind);
    w_fields(w, a, d);
}

/* Appends the value f describes in base.  prev: where the previous field's
 * encoding starts in w->out, for VOTE_NEXT. */
static void w_field(kula_writer *w, const void *base, const kula_field *f, size_t prev)
{
    kula_buf *out = w->out;
    size_t start = out->len;
    switch ((enum kula_field_type)f->type) {
    case KULA_F_MEMBER:
    case KULA_F_U32:
    case KULA_F_PARAM: kula_w_uint(w, *KULA_CFIELD(uint32_t, base, f)); return;
    case KULA_F_U64: kula_w_uint(w, *KULA_CFIELD(uint64_t, base, f)); return;
    case KULA_F_AMOUNT: kula_w_int(w, *KULA_CFIELD(int64_t, base, f)); return;
    case KULA_F_BOOL: kula_w_bool(w, *KULA_CFIELD(bool, base, f)); return;
    case KULA_F_TEXT: w_text(w, *KULA_CFIELD(kula_text, base, f)); return;
    case KULA_F_HASH: w_hash(w, KULA_CFIELD(kula_hash, base, f)); return;
    case KULA_F_OPT_HASH:
        kula_w_bin(w, KULA_CFIELD(kula_hash, base, f)->b,
                   *KULA_CFIELD_AUX(bool, base, f) ? KULA_HASH_LEN : 0);
        return;
    case KULA_F_PUBKEY: kula_w_bin(w, KULA_CFIELD(kula_pubkey, base, f)->b, KULA_PUBKEY_LEN); return;
    case KULA_F_PARTIES: {
        uint32_t n = *KULA_CFIELD_AUX(uint32_t, base, f);
        kula_w_array(w, n);
        for (uint32_t i = 0; i < n; i++)
            kula_w_uint(w, KULA_CFIELD(uint32_t, base, f)[i]);
        return;
    }
    case KULA_F_RULE: w_rule(w, KULA_CFIELD(kula_rule, base, f)); return;
    case KULA_F_ACTION: w_action(w, KULA_CFIELD(kula_action, base, f)); return;
    case KULA_F_VOTE:
        /* the error is out's, which is sticky: the caller returns out->err */
        kula_result_ignored(kula_vote_encode(out, KULA_CFIELD(kula_vote, base, f)));
        return;
    case KULA_F_VOTE_NEXT:
        /* §6.18: an encoder produces only canonical bytes, so an
         * out-of-order pair is refused. */
        kula_result_ignored(kula_vote_encode(out, KULA_CFIELD(kula_vote, base, f)));
        if (out->err == 0 &&
            bytes_cmp(out->data + prev, start - prev, out->data + start, out->len - start) >= 0)
            out->err = KULA_EORDER;
        return;
    }
}

static void w_fields(kula_writer *w, const void *base, const kula_kind_desc *d)
{
    size_t prev = w->out->len;
    for (uint32_t i = 0; i < d->nfields; i++) {
        size_t start = w->out->len;
        w_field(w, base, &d->fields[i], prev);
        prev = start;
    }
}

static void w_payload(kula_writer *w, const kula_tx *tx)
{
    const kula_kind_desc *d = kula_tx_kind_desc(tx->kind);
    if (d == NULL) {
        w->out->err = KULA_EINVAL;
        return;
    }
    kula_w_array(w, d->nfields);
    w_fields(w, tx, d);
}

int kula_tx_encode_body(kula_buf *out, const kula_tx *tx)
{
    kula_writer w;
    kula_writer_init(&w, out);
    /* §6.1: version 2 exactly when there is an expiry, so a transaction
     * has one encoding (and one id). */
    bool dated = tx->expires != 0;
    kula_w_array(&w, dated ? 7 : 6);
    kula_w_uint(&w, dated ? KULA_TX_VERSION_DATED : KULA_VERSION);
    kula_w_uint(&w, tx->kind);
    kula_w_uint(&w, tx->from);
    kula_w_uint(&w, tx->nonce);
    w_payload(&w, tx);
    w_text(&w, tx->memo);
    if (dated)
        kula_w_uint(&w, tx->expires);
    return out->err;
}

int kula_tx_encode(kula_buf *out, const kula_tx *tx)
{
    kula_writer w;
    kula_writer_init(&w, out);
    kula_w_array(&w, 2);
    int rc = kula_tx_encode_body(out, tx);
    if (rc != 0)
        return rc;
    kula_w_array(&w, tx->nsigs);
    for (uint32_t i = 0; i < tx->nsigs; i++) {
        kula_w_array(&w, 2);
        kula_w_uint(&w, tx->sigs[i].signer);
        kula_w_bin(&w, tx->sigs[i].sig.b, KULA_SIG_LEN);
    }
    return out->err;
}

/* ---- reading ---- */

static kula_text r_text(kula_reader *r, size_t max)
{
    kula_text t;
    t.n = kula_r_str(r, &t.p, max);
    return t;
}

static void r_hash(kula_reader *r, kula_hash *h) { kula_r_bin_exact(r, h->b, KULA_HASH_LEN); }
static uint32_t r_member(kula_reader *r) { return (uint32_t)kula_r_uint(r, UINT32_MAX); }
/* Amounts in payloads: any int64 on the wire; the ledger checks signs. */
static int64_t r_amount(kula_reader *r) { return kula_r_int(r, INT64_MIN, INT64_MAX); }

static void r_rule(kula_reader *r, kula_rule *rule)
{
    memset(rule, 0, sizeof(*rule));
    uint32_t n = kula_r_array(r, 2);
    if (n == 0) {
        kula_reader_fail(r, KULA_EARITY);
        return;
    }
    rule->kind = (uint8_t)kula_r_uint(r, KULA_RULE_SHAPLEY);
    if (!kula_reader_ok(r))
        return;
    switch ((enum kula_rule_kind)rule->kind) {
    case KULA_RULE_EQUAL:
    case KULA_RULE_PRORATA:
        if (n != 1)
            kula_reader_fail(r, KULA_EARITY);
        return;
    case KULA_RULE_WEIGHTS:
        if (n != 2) {
            kula_reader_fail(r, KULA_EARITY);
            return;
        }
        rule->nweights = kula_r_array(r, KULA_MAX_PARTIES);
        for (uint32_t i = 0; i < rule->nweights; i++)
            rule->weights[i] = (uint32_t)kula_r_uint(r, UINT32_MAX);
        return;
    case KULA_RULE_SHAPLEY: {
        if (n != 2) {
            kula_reader_fail(r, KULA_EARITY);
            return;
        }
        const uint8_t *start = r->p;
        uint32_t nv = kula_r_array(r, 1u << KULA_MAX_PARTIES);
        /* 2^parties values, parties in 1..16 */
        if (kula_reader_ok(r) && (nv < 2 || (nv & (nv - 1)) != 0))
            kula_reader_fail(r, KULA_EARITY);
        for (uint32_t i = 0; i < nv && kula_reader_ok(r); i++)
            (void)kula_r_int(r, INT64_MIN, INT64_MAX);
        rule->nvalues = nv;
        rule->values_raw = start;
        rule->values_raw_len = (size_t)(r->p - start);
        return;
    }
    }
}

int kula_rule_shapley_values(const kula_rule *rule, int64_t *out)
{
    if (rule->kind != KULA_RULE_SHAPLEY)
        return KULA_EINVAL;
    kula_reader r;
    kula_reader_init(&r, rule->values_raw, rule->values_raw_len);
    uint32_t n = kula_r_array(&r, 1u << KULA_MAX_PARTIES);
    if (kula_reader_ok(&r) && n != rule->nvalues)
        kula_reader_fail(&r, KULA_EARITY);
    for (uint32_t i = 0; i < n && kula_reader_ok(&r); i++)
        out[i] = kula_r_int(&r, INT64_MIN, INT64_MAX);
    return kula_reader_finish(&r);
}

static void r_fields(kula_reader *r, void *base, const kula_kind_desc *d);

/* §6.14: an action kind this version does not know is KULA_ERANGE. */
static void r_action(kula_reader *r, kula_action *a)
{
    memset(a, 0, sizeof(*a));
    uint32_t n = kula_r_array(r, 6);
    if (n == 0) {
        kula_reader_fail(r, KULA_EARITY);
        return;
    }
    a->kind = (uint8_t)kula_r_uint(r, 255);
    if (!kula_reader_ok(r))
        return;
    const kula_kind_desc *d = kula_action_kind_desc(a->kind);
    if (d == NULL)
        kula_reader_fail(r, KULA_ERANGE);
    else if (n != 1 + d->nfields)
        kula_reader_fail(r, KULA_EARITY);
    else
        r_fields(r, a, d);
}

/* A signed vote [[type, height, round, block_hash, validator], sig], read
 * as kula_vote_decode (node/types/block.c) reads a standalone one. */
static void r_vote(kula_reader *r, kula_vote *v)
{
    memset(v, 0, sizeof(*v));
    kula_r_array_exact(r, 2);
    kula_r_array_exact(r, 5);
    v->type = (uint8_t)kula_r_uint(r, KULA_VOTE_PRECOMMIT);
    if (kula_reader_ok(r) && v->type < KULA_VOTE_PREVOTE)
        kula_reader_fail(r, KULA_ERANGE);
    v->height = kula_r_uint(r, UINT64_MAX);
    v->round = (uint32_t)kula_r_uint(r, UINT32_MAX);
    v->has_block = kula_r_bin_opt(r, v->block_hash.b, KULA_HASH_LEN);
    v->validator = r_member(r);
    kula_r_bin_exact(r, v->sig.b, KULA_SIG_LEN);
}

/* Reads the value f describes into base.  prev: where the previous field's
 * encoding starts, for VOTE_NEXT. */
static void r_field(kula_reader *r, void *base, const kula_field *f, const uint8_t *prev)
{
    const uint8_t *start = r->p;
    switch ((enum kula_field_type)f->type) {
    case KULA_F_MEMBER:
    case KULA_F_PARAM: *KULA_FIELD(uint32_t, base, f) = r_member(r); return;
    case KULA_F_U32: *KULA_FIELD(uint32_t, base, f) = (uint32_t)kula_r_uint(r, f->max); return;
    case KULA_F_U64: *KULA_FIELD(uint64_t, base, f) = kula_r_uint(r, UINT64_MAX); return;
    case KULA_F_AMOUNT: *KULA_FIELD(int64_t, base, f) = r_amount(r); return;
    case KULA_F_BOOL: *KULA_FIELD(bool, base, f) = kula_r_bool(r); return;
    case KULA_F_TEXT: *KULA_FIELD(kula_text, base, f) = r_text(r, f->max); return;
    case KULA_F_HASH: r_hash(r, KULA_FIELD(kula_hash, base, f)); return;
    case KULA_F_OPT_HASH:
        *KULA_FIELD_AUX(bool, base, f) =
            kula_r_bin_opt(r, KULA_FIELD(kula_hash, base, f)->b, KULA_HASH_LEN);
        return;
    case KULA_F_PUBKEY: kula_r_bin_exact(r, KULA_FIELD(kula_pubkey, base, f)->b, KULA_PUBKEY_LEN); return;
    case KULA_F_PARTIES: {
        uint32_t *n = KULA_FIELD_AUX(uint32_t, base, f);
        *n = kula_r_array(r, KULA_MAX_PARTIES);
        for (uint32_t i = 0; i < *n; i++)
            KULA_FIELD(uint32_t, base, f)[i] = r_member(r);
        return;
    }
    case KULA_F_RULE: r_rule(r, KULA_FIELD(kula_rule, base, f)); return;
    case KULA_F_ACTION: r_action(r, KULA_FIELD(kula_action, base, f)); return;
    case KULA_F_VOTE: r_vote(r, KULA_FIELD(kula_vote, base, f)); return;
    case KULA_F_VOTE_NEXT:
        /* §6.18: vote_a's encoding sorts strictly before vote_b's, so a
         * piece of evidence has one encoding (and the same vote twice is
         * not evidence). */
        r_vote(r, KULA_FIELD(kula_vote, base, f));
        if (kula_reader_ok(r) &&
            bytes_cmp(prev, (size_t)(start - prev), start, (size_t)(r->p - start)) >= 0)
            kula_reader_fail(r, KULA_EORDER);
        return;
    }
}

static void r_fields(kula_reader *r, void *base, const kula_kind_desc *d)
{
    const uint8_t *prev = r->p;
    for (uint32_t i = 0; i < d->nfields; i++) {
        const uint8_t *start = r->p;
        r_field(r, base, &d->fields[i], prev);
        prev = start;
    }
}

static void r_payload(kula_reader *r, kula_tx *tx)
{
    uint32_t n = kula_r_array(r, 8);
    if (!kula_reader_ok(r))
        return;
    const kula_kind_desc *d = kula_tx_kind_desc(tx->kind);
    if (d == NULL || n != d->nfields)
        kula_reader_fail(r, KULA_EARITY);
    else
        r_fields(r, tx, d);
}

void kula_tx_set_id(kula_tx *tx, const uint8_t *body, size_t len)
{
    tx->body = body;
    tx->body_len = len;
    kula_hash_bytes(&tx->id, body, len);
}

/* id: the body's hash if already known, or NULL to compute it.  used:
 * NULL, the transaction is all of data; else it is data's first value,
 * whose length *used receives. */
static int tx_decode(kula_tx *tx, const uint8_t *data, size_t len, const kula_hash *id,
                     size_t *used)
{
    memset(tx, 0, sizeof(*tx));
    if (used == NULL && len > KULA_MAX_TX_BYTES)
        return KULA_ETOOBIG;
    kula_reader r;
    kula_reader_init(&r, data, len);
    kula_r_array_exact(&r, 2);
    const uint8_t *body = r.p;
    /* The version comes before the arity check, so a structure of a later
     * version with more fields is reported as EVERSION. */
    uint32_t fields = kula_r_array(&r, 64);
    if (kula_reader_ok(&r) && fields == 0)
        kula_reader_fail(&r, KULA_EARITY);
    uint64_t version = kula_r_uint(&r, UINT64_MAX);
    if (kula_reader_ok(&r) && version != KULA_VERSION && version != KULA_TX_VERSION_DATED)
        kula_reader_fail(&r, KULA_EVERSION);
    bool dated = version == KULA_TX_VERSION_DATED;
    if (kula_reader_ok(&r) && fields != (dated ? 7u : 6u))
        kula_reader_fail(&r, KULA_EARITY);
    tx->kind = (uint8_t)kula_r_uint(&r, UINT8_MAX);
    if (kula_reader_ok(&r) && kula_tx_kind_name(tx->kind) == NULL)
        kula_reader_fail(&r, KULA_ERANGE);
    tx->from = r_member(&r);
    tx->nonce = kula_r_uint(&r, UINT64_MAX);
    r_payload(&r, tx);
    tx->memo = r_text(&r, KULA_MAX_MEMO);
    if (dated) {
        /* §6.1: no expiry is written as version 1, never as 0, so that a
         * transaction has one encoding. */
        tx->expires = kula_r_uint(&r, UINT64_MAX);
        if (kula_reader_ok(&r) && tx->expires == 0)
            kula_reader_fail(&r, KULA_ERANGE);
    }
    const uint8_t *body_end = r.p;
    tx->nsigs = kula_r_array(&r, KULA_MAX_PARTIES);
    if (kula_reader_ok(&r) && tx->nsigs == 0)
        kula_reader_fail(&r, KULA_EARITY);
    for (uint32_t i = 0; i < tx->nsigs && kula_reader_ok(&r); i++) {
        kula_r_array_exact(&r, 2);
        tx->sigs[i].signer = r_member(&r);
        kula_r_bin_exact(&r, tx->sigs[i].sig.b, KULA_SIG_LEN);
        /* §6.1: signatures strictly ascending by signer, so a signed
         * transaction has one encoding. */
        if (i > 0 && kula_reader_ok(&r) && tx->sigs[i].signer <= tx->sigs[i - 1].signer)
            kula_reader_fail(&r, KULA_EORDER);
    }
    int rc = used == NULL ? kula_reader_finish(&r) : r.err;
    if (rc == 0 && used != NULL && (size_t)(r.p - data) > KULA_MAX_TX_BYTES)
        rc = KULA_ETOOBIG;
    if (rc != 0) {
        memset(tx, 0, sizeof(*tx));
        return rc;
    }
    if (used != NULL)
        *used = (size_t)(r.p - data);
    if (id == NULL) {
        kula_tx_set_id(tx, body, (size_t)(body_end - body));
    } else {
        tx->body = body;
        tx->body_len = (size_t)(body_end - body);
        tx->id = *id;
    }
    return KULA_OK;
}

int kula_tx_decode(kula_tx *tx, const uint8_t *data, size_t len)
{
    return tx_decode(tx, data, len, NULL, NULL);
}

int kula_tx_decode_known_id(kula_tx *tx, const uint8_t *data, size_t len, const kula_hash *id)
{
    return tx_decode(tx, data, len, id, NULL);
}

int kula_tx_decode_prefix(kula_tx *tx, const uint8_t *data, size_t len, size_t *used)
{
    *used = 0;
    return tx_decode(tx, data, len, NULL, used);
}

void kula_tx_sighash(kula_hash *out, const kula_hash *chain_id, const kula_tx *tx)
{
    kula_signing_digest(out, KULA_TAG_TX, chain_id, tx->body, tx->body_len);
}

int kula_tx_add_sig(kula_tx *tx, uint32_t signer, const kula_sig *sig)
{
    uint32_t i = 0;
    while (i < tx->nsigs && tx->sigs[i].signer < signer)
        i++;
    if (i < tx->nsigs && tx->sigs[i].signer == signer) {
        tx->sigs[i].sig = *sig;
        return KULA_OK;
    }
    if (tx->nsigs >= KULA_MAX_PARTIES)
        return KULA_ETOOBIG;
    memmove(&tx->sigs[i + 1], &tx->sigs[i], (tx->nsigs - i) * sizeof(tx->sigs[0]));
    tx->sigs[i].signer = signer;
    tx->sigs[i].sig = *sig;
    tx->nsigs++;
    return KULA_OK;
}

/* ---- standalone rule and action encodings (records.h) ---- */

int kula_rule_encode(kula_buf *out, const kula_rule *r)
{
    kula_writer w;
    kula_writer_init(&w, out);
    w_rule(&w, r);
    return out->err;
}

int kula_rule_decode(kula_rule *rule, const uint8_t *p, size_t n)
{
    kula_reader r;
    kula_reader_init(&r, p, n);
    r_rule(&r, rule);
    return kula_reader_finish(&r);
}

int kula_action_encode(kula_buf *out, const kula_action *a)
{
    kula_writer w;
    kula_writer_init(&w, out);
    w_action(&w, a);
    return out->err;
}

int kula_action_decode(kula_action *a, const uint8_t *p, size_t n)
{
    kula_reader r;
    kula_reader_init(&r, p, n);
    r_action(&r, a);
    return kula_reader_finish(&r);
}

/* ---- building ---- */

int kula_tx_seal(kula_tx *tx, kula_buf *body)
{
    kula_buf_reset(body);
    int rc = kula_tx_encode_body(body, tx);
    if (rc != 0)
        return rc;
    kula_tx_set_id(tx, body->data, body->len);
    return KULA_OK;
}

int kula_tx_sign(kula_tx *tx, const kula_hash *chain_id, uint32_t signer, const kula_seckey *sk)
{
    if (tx->body == NULL)
        return KULA_EINVAL;
    kula_hash digest;
    kula_tx_sighash(&digest, chain_id, tx);
    kula_sig sig;
    int rc = kula_sign(&sig, sk, digest.b);
    if (rc != 0)
        return rc;
    return kula_tx_add_sig(tx, signer, &sig);
}
