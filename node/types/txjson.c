/* txjson.c -- transactions and ledger records as JSON. */
#include "kula/types/txjson.h"

#include <stdio.h>
#include <stdlib.h>

#include "kula/base/error.h"
#include "kula/types/genesis.h"
#include "kula/types/txkind.h"

json_t *kula_json_hex(const uint8_t *p, size_t n)
{
    char *hex = malloc(2 * n + 1);
    if (hex == NULL)
        return NULL;
    kula_hex_encode(hex, p, n);
    json_t *s = json_string(hex);
    free(hex);
    return s;
}

static json_t *text(kula_text t) { return json_stringn(t.p, t.n); }
static json_t *hash(const kula_hash *h) { return kula_json_hex(h->b, KULA_HASH_LEN); }

json_t *kula_json_u64(uint64_t v)
{
    if (v <= INT64_MAX)
        return json_integer((json_int_t)v);
    char big[24];
    snprintf(big, sizeof(big), "%llu", (unsigned long long)v);
    return json_string(big);
}

/* The API has always shown a uint64 as a JSON integer (jansson's int64). */
static json_t *u64_json(uint64_t v, enum kula_json_view view)
{
    return view == KULA_JSON_API ? json_integer((json_int_t)v) : kula_json_u64(v);
}

static json_t *rule_json(const kula_rule *r, enum kula_json_view view)
{
    const char *name = kula_rule_kind_name(r->kind);
    json_t *o = json_object();
    json_object_set_new(o, "kind", json_string(name != NULL ? name : "?"));
    if (r->kind == KULA_RULE_WEIGHTS) {
        json_t *w = json_array();
        for (uint32_t i = 0; i < r->nweights; i++)
            json_array_append_new(w, json_integer(r->weights[i]));
        json_object_set_new(o, "weights", w);
    } else if (r->kind == KULA_RULE_SHAPLEY) {
        int64_t *v = malloc(r->nvalues * sizeof(*v));
        json_t *a = json_array();
        if (v != NULL && kula_rule_shapley_values(r, v) == 0)
            for (uint32_t i = 0; i < r->nvalues; i++)
                json_array_append_new(a, json_integer(v[i]));
        free(v);
        json_object_set_new(o, view == KULA_JSON_API ? "coalition_values" : "values", a);
    }
    return o;
}

static const char *vote_type(const kula_vote *v)
{
    return v->type == KULA_VOTE_PREVOTE ? "prevote" : "precommit";
}

static json_t *vote_block(const kula_vote *v)
{
    return v->has_block ? hash(&v->block_hash) : json_null();
}

json_t *kula_vote_to_json(const kula_vote *v, bool with_sig)
{
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string(vote_type(v)));
    json_object_set_new(o, "height", kula_json_u64(v->height));
    json_object_set_new(o, "round", json_integer(v->round));
    json_object_set_new(o, "block_hash", vote_block(v));
    json_object_set_new(o, "validator", json_integer(v->validator));
    if (with_sig)
        json_object_set_new(o, "sig", kula_json_hex(v->sig.b, KULA_SIG_LEN));
    return o;
}

/* The API shows an evidence transaction's offence, not its two votes: the
 * validator, type, height and round of vote a with block_a, then block_b
 * (null: nil), and vote b's own when they differ. */
static void offence_json(json_t *o, const kula_vote *v, const kula_vote *prev)
{
    if (prev == NULL) {
        json_object_set_new(o, "validator", json_integer(v->validator));
        json_object_set_new(o, "vote_type", json_string(vote_type(v)));
        json_object_set_new(o, "vote_height", json_integer((json_int_t)v->height));
        json_object_set_new(o, "vote_round", json_integer(v->round));
        json_object_set_new(o, "block_a", vote_block(v));
        return;
    }
    json_object_set_new(o, "block_b", vote_block(v));
    if (v->validator != prev->validator || v->type != prev->type ||
        v->height != prev->height || v->round != prev->round)
        json_object_set_new(o, "vote_b", json_pack("{s:I, s:s, s:I, s:I}", "validator",
                                                   (json_int_t)v->validator, "vote_type",
                                                   vote_type(v), "vote_height",
                                                   (json_int_t)v->height, "vote_round",
                                                   (json_int_t)v->round));
}

/* Sets in o the action's name (key "action" in the API, "kind" in the
 * vectors) and its fields. */
static void action_json(json_t *o, const kula_action *a, enum kula_json_view view)
{
    const kula_kind_desc *d = kula_action_kind_desc(a->kind);
    json_object_set_new(o, view == KULA_JSON_API ? "action" : "kind",
                        json_string(d != NULL ? d->name : "?"));
    if (d != NULL)
        kula_fields_to_json(o, a, d, view);
}

static void param_json(json_t *o, uint32_t id, enum kula_json_view view)
{
    const char *name = kula_param_name(id);
    json_object_set_new(o, "param", json_integer(id));
    if (view == KULA_JSON_API)
        json_object_set_new(o, "name", json_string(name != NULL ? name : "?"));
    else
        json_object_set_new(o, "param_name", name != NULL ? json_string(name) : json_null());
}

static json_t *parties_json(const uint32_t *p, uint32_t n)
{
    json_t *a = json_array();
    for (uint32_t i = 0; i < n; i++)
        json_array_append_new(a, json_integer(p[i]));
    return a;
}

/* Sets o's key(s) for field f of base; prev is the previous field. */
static void field_json(json_t *o, const void *base, const kula_field *f, const kula_field *prev,
                       enum kula_json_view view)
{
    json_t *v = NULL;
    switch ((enum kula_field_type)f->type) {
    case KULA_F_MEMBER:
    case KULA_F_U32: v = json_integer(*KULA_CFIELD(uint32_t, base, f)); break;
    case KULA_F_U64: v = u64_json(*KULA_CFIELD(uint64_t, base, f), view); break;
    case KULA_F_AMOUNT: v = json_integer(*KULA_CFIELD(int64_t, base, f)); break;
    case KULA_F_BOOL: v = json_boolean(*KULA_CFIELD(bool, base, f)); break;
    case KULA_F_TEXT: v = text(*KULA_CFIELD(kula_text, base, f)); break;
    case KULA_F_HASH: v = hash(KULA_CFIELD(kula_hash, base, f)); break;
    case KULA_F_OPT_HASH:
        v = *KULA_CFIELD_AUX(bool, base, f) ? hash(KULA_CFIELD(kula_hash, base, f)) : json_null();
        break;
    case KULA_F_PUBKEY: v = kula_json_hex(KULA_CFIELD(kula_pubkey, base, f)->b, KULA_PUBKEY_LEN); break;
    case KULA_F_PARTIES:
        v = parties_json(KULA_CFIELD(uint32_t, base, f), *KULA_CFIELD_AUX(uint32_t, base, f));
        break;
    case KULA_F_RULE: v = rule_json(KULA_CFIELD(kula_rule, base, f), view); break;
    case KULA_F_ACTION:
        if (view == KULA_JSON_API) { /* the action's keys join the transaction's */
            action_json(o, KULA_CFIELD(kula_action, base, f), view);
            return;
        }
        v = json_object();
        action_json(v, KULA_CFIELD(kula_action, base, f), view);
        break;
    case KULA_F_PARAM: param_json(o, *KULA_CFIELD(uint32_t, base, f), view); return;
    case KULA_F_VOTE:
    case KULA_F_VOTE_NEXT:
        if (view == KULA_JSON_VECTORS) {
            v = kula_vote_to_json(KULA_CFIELD(kula_vote, base, f), true);
            break;
        }
        offence_json(o, KULA_CFIELD(kula_vote, base, f),
                     f->type == KULA_F_VOTE_NEXT ? KULA_CFIELD(kula_vote, base, prev) : NULL);
        return;
    }
    json_object_set_new(o, f->name, v);
}

void kula_fields_to_json(json_t *o, const void *base, const kula_kind_desc *d,
                         enum kula_json_view view)
{
    for (uint32_t i = 0; i < d->nfields; i++)
        field_json(o, base, &d->fields[i], i > 0 ? &d->fields[i - 1] : NULL, view);
}

json_t *kula_action_to_json(const kula_action *a)
{
    json_t *o = json_object();
    if (o != NULL)
        action_json(o, a, KULA_JSON_API);
    return o;
}

json_t *kula_tx_to_json(const kula_tx *tx)
{
    const kula_kind_desc *d = kula_tx_kind_desc(tx->kind);
    json_t *o = json_pack("{s:o, s:s, s:I, s:I, s:o}", "id", hash(&tx->id), "kind",
                          d != NULL ? d->name : "?", "from", (json_int_t)tx->from, "nonce",
                          (json_int_t)tx->nonce, "memo", text(tx->memo));
    if (o == NULL)
        return NULL;
    if (tx->expires != 0) /* ms since the epoch; beyond int64 (no real date) as text */
        json_object_set_new(o, "expires", kula_json_u64(tx->expires));
    if (d != NULL)
        kula_fields_to_json(o, tx, d, KULA_JSON_API);
    json_t *signers = json_array();
    for (uint32_t i = 0; i < tx->nsigs; i++)
        json_array_append_new(signers, json_integer(tx->sigs[i].signer));
    json_object_set_new(o, "signers", signers);
    return o;
}

json_t *kula_member_to_json(const kula_member *m)
{
    json_t *o = json_pack("{s:I, s:s, s:s, s:o, s:s, s:I, s:I, s:I, s:I, s:I}", "id",
                          (json_int_t)m->id, "name", m->name, "sector", m->sector, "pubkey",
                          kula_json_hex(m->pubkey.b, KULA_PUBKEY_LEN), "status",
                          m->status == KULA_MEMBER_ACTIVE ? "active" : "removed", "balance",
                          (json_int_t)m->balance, "credit_limit", (json_int_t)m->credit_limit,
                          "nonce", (json_int_t)m->nonce, "voting_power",
                          (json_int_t)m->voting_power, "joined", (json_int_t)m->joined);
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "rating_count", json_integer((json_int_t)m->rating_count));
    json_object_set_new(o, "rating_sum", json_integer((json_int_t)m->rating_sum));
    return o;
}

json_t *kula_agreement_to_json(const kula_agreement *a, const int64_t *shares)
{
    json_t *parties = json_array();
    for (uint32_t i = 0; i < a->nparties; i++) {
        json_t *p = json_pack("{s:I, s:I, s:I}", "member", (json_int_t)a->parties[i],
                              "contributed", (json_int_t)a->contributed[i], "received",
                              (json_int_t)a->received[i]);
        if (shares != NULL)
            json_object_set_new(p, "share_of_pool", json_integer(shares[i]));
        json_array_append_new(parties, p);
    }
    json_t *o = json_pack("{s:o, s:s, s:s, s:o, s:o, s:I, s:I, s:I, s:s, s:I, s:I, s:I}", "id",
                          hash(&a->id), "label", a->label, "title", a->title, "parties", parties,
                          "rule", rule_json(&a->rule, KULA_JSON_API), "term_end", (json_int_t)a->term_end,
                          "referral_fee_bps", (json_int_t)a->referral_fee_bps, "pool",
                          (json_int_t)a->pool, "status",
                          a->status == KULA_AGREEMENT_OPEN ? "open" : "closed", "benefits",
                          (json_int_t)a->benefits, "opened", (json_int_t)a->opened,
                          "settlements", (json_int_t)a->settlements);
    return o;
}

json_t *kula_proposal_to_json(const kula_proposal *q)
{
    static const char *const status[] = { "?", "open", "passed", "rejected", "failed" };
    json_t *o = json_pack("{s:o, s:I, s:o, s:I, s:I, s:I, s:I, s:s, s:I}", "id", hash(&q->id),
                          "proposer", (json_int_t)q->proposer, "action",
                          kula_action_to_json(&q->action), "created", (json_int_t)q->created,
                          "expires", (json_int_t)q->expires, "yes", (json_int_t)q->yes, "no",
                          (json_int_t)q->no, "status", status[q->status <= 4 ? q->status : 0],
                          "decided", (json_int_t)q->decided);
    if (o != NULL && q->failure != 0)
        json_object_set_new(o, "failure", json_string(kula_strerror(q->failure)));
    return o;
}

json_t *kula_invoice_to_json(const kula_invoice *v)
{
    const char *status = kula_invoice_status_name(v->status);
    int64_t set_off = v->status == KULA_INVOICE_CANCELLED ? 0 : v->amount - v->paid - v->residual;
    json_t *o = json_pack("{s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:s, s:o, s:s, s:I, s:I}",
                          "id", hash(&v->id), "issuer", (json_int_t)v->issuer, "debtor",
                          (json_int_t)v->debtor, "amount", (json_int_t)v->amount, "residual",
                          (json_int_t)v->residual, "paid", (json_int_t)v->paid, "set_off",
                          (json_int_t)set_off, "due", kula_json_u64(v->due), "reference",
                          v->reference, "document",
                          v->has_document ? hash(&v->document) : json_null(), "status",
                          status != NULL ? status : "?", "issued", (json_int_t)v->issued,
                          "changed", (json_int_t)v->changed);
    if (o != NULL && v->status == KULA_INVOICE_DISPUTED)
        json_object_set_new(o, "reason", json_string(v->reason));
    return o;
}

json_t *kula_header_to_json(const kula_header *h, const kula_hash *block_hash)
{
    return json_pack("{s:o, s:I, s:I, s:o, s:o, s:o, s:I, s:o, s:o}", "hash", hash(block_hash),
                     "height", (json_int_t)h->height, "time_ms", (json_int_t)h->time_ms,
                     "prev_hash", hash(&h->prev_hash), "txs_root", hash(&h->txs_root),
                     "state_root", hash(&h->state_root), "proposer", (json_int_t)h->proposer,
                     "last_commit_hash", hash(&h->last_commit_hash), "chain_id",
                     hash(&h->chain_id));
}
