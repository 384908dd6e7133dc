/* txjson.c -- transactions and ledger records as JSON. */
#include "kula/types/txjson.h"

#include <stdio.h>
#include <stdlib.h>

#include "kula/base/error.h"

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

static json_t *rule_json(const kula_rule *r)
{
    static const char *const names[] = { "equal", "weights", "pro-rata", "shapley" };
    json_t *o = json_object();
    json_object_set_new(o, "kind", json_string(r->kind <= 3 ? names[r->kind] : "?"));
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
        json_object_set_new(o, "coalition_values", a);
    }
    return o;
}

json_t *kula_action_to_json(const kula_action *a)
{
    switch ((enum kula_action_kind)a->kind) {
    case KULA_ACT_ADMIT:
        return json_pack("{s:s, s:o, s:o, s:o, s:I, s:I}", "action", "admit", "pubkey",
                         kula_json_hex(a->pubkey.b, KULA_PUBKEY_LEN), "name", text(a->name),
                         "sector", text(a->sector), "credit_limit", (json_int_t)a->credit_limit,
                         "voting_power", (json_int_t)a->voting_power);
    case KULA_ACT_REMOVE:
        return json_pack("{s:s, s:I}", "action", "remove", "member", (json_int_t)a->member);
    case KULA_ACT_CREDIT_LIMIT:
        return json_pack("{s:s, s:I, s:I}", "action", "credit-limit", "member",
                         (json_int_t)a->member, "credit_limit", (json_int_t)a->credit_limit);
    case KULA_ACT_PARAM: {
        const char *name = kula_param_name(a->param);
        return json_pack("{s:s, s:I, s:s, s:I}", "action", "param", "param", (json_int_t)a->param,
                         "name", name != NULL ? name : "?", "value", (json_int_t)a->value);
    }
    case KULA_ACT_ROTATE_KEY:
        return json_pack("{s:s, s:I, s:o}", "action", "rotate-key", "member",
                         (json_int_t)a->member, "pubkey",
                         kula_json_hex(a->pubkey.b, KULA_PUBKEY_LEN));
    }
    return json_pack("{s:s}", "action", "?");
}

static json_t *vote_block(const kula_vote *v)
{
    return v->has_block ? hash(&v->block_hash) : json_null();
}

json_t *kula_tx_to_json(const kula_tx *tx)
{
    const char *kind = kula_tx_kind_name(tx->kind);
    json_t *o = json_pack("{s:o, s:s, s:I, s:I, s:o}", "id", hash(&tx->id), "kind",
                          kind != NULL ? kind : "?", "from", (json_int_t)tx->from, "nonce",
                          (json_int_t)tx->nonce, "memo", text(tx->memo));
    if (o == NULL)
        return NULL;
    if (tx->expires != 0) {
        /* ms since the epoch; beyond int64 (no real date) as decimal text */
        char big[24];
        snprintf(big, sizeof(big), "%llu", (unsigned long long)tx->expires);
        json_object_set_new(o, "expires", tx->expires <= INT64_MAX
                                              ? json_integer((json_int_t)tx->expires)
                                              : json_string(big));
    }
    json_t *f = json_object();
    switch ((enum kula_tx_kind)tx->kind) {
    case KULA_TX_TRANSFER:
        json_object_set_new(f, "to", json_integer(tx->u.transfer.to));
        json_object_set_new(f, "amount", json_integer(tx->u.transfer.amount));
        break;
    case KULA_TX_EXCHANGE:
        json_object_set_new(f, "counterparty", json_integer(tx->u.exchange.counterparty));
        json_object_set_new(f, "gives", text(tx->u.exchange.gives));
        json_object_set_new(f, "gives_value", json_integer(tx->u.exchange.gives_value));
        json_object_set_new(f, "receives", text(tx->u.exchange.receives));
        json_object_set_new(f, "receives_value", json_integer(tx->u.exchange.receives_value));
        break;
    case KULA_TX_REFERRAL:
        json_object_set_new(f, "receiver", json_integer(tx->u.referral.receiver));
        json_object_set_new(f, "lead", hash(&tx->u.referral.lead));
        json_object_set_new(f, "fee", json_integer(tx->u.referral.fee));
        json_object_set_new(f, "agreement", tx->u.referral.has_agreement
                                                ? hash(&tx->u.referral.agreement)
                                                : json_null());
        break;
    case KULA_TX_CONVERSION:
        json_object_set_new(f, "referral", hash(&tx->u.conversion.referral));
        json_object_set_new(f, "value", json_integer(tx->u.conversion.value));
        break;
    case KULA_TX_AGREEMENT_OPEN: {
        json_t *p = json_array();
        for (uint32_t i = 0; i < tx->u.open.nparties; i++)
            json_array_append_new(p, json_integer(tx->u.open.parties[i]));
        json_object_set_new(f, "label", text(tx->u.open.label));
        json_object_set_new(f, "title", text(tx->u.open.title));
        json_object_set_new(f, "parties", p);
        json_object_set_new(f, "rule", rule_json(&tx->u.open.rule));
        json_object_set_new(f, "term_end", json_integer((json_int_t)tx->u.open.term_end));
        json_object_set_new(f, "referral_fee_bps", json_integer(tx->u.open.referral_fee_bps));
        break;
    }
    case KULA_TX_AGREEMENT_AMEND:
        json_object_set_new(f, "agreement", hash(&tx->u.amend.agreement));
        json_object_set_new(f, "title", text(tx->u.amend.title));
        json_object_set_new(f, "rule", rule_json(&tx->u.amend.rule));
        json_object_set_new(f, "term_end", json_integer((json_int_t)tx->u.amend.term_end));
        json_object_set_new(f, "referral_fee_bps", json_integer(tx->u.amend.referral_fee_bps));
        break;
    case KULA_TX_CONTRIBUTE:
        json_object_set_new(f, "agreement", hash(&tx->u.contribute.agreement));
        json_object_set_new(f, "value", json_integer(tx->u.contribute.value));
        json_object_set_new(f, "description", text(tx->u.contribute.description));
        json_object_set_new(f, "acknowledger", json_integer(tx->u.contribute.acknowledger));
        break;
    case KULA_TX_BENEFIT:
        json_object_set_new(f, "agreement", hash(&tx->u.benefit.agreement));
        json_object_set_new(f, "amount", json_integer(tx->u.benefit.amount));
        json_object_set_new(f, "description", text(tx->u.benefit.description));
        break;
    case KULA_TX_SETTLE:
    case KULA_TX_AGREEMENT_CLOSE:
        json_object_set_new(f, "agreement", hash(&tx->u.settle.agreement));
        break;
    case KULA_TX_FEEDBACK:
        json_object_set_new(f, "about", json_integer(tx->u.feedback.about));
        json_object_set_new(f, "rating", json_integer(tx->u.feedback.rating));
        json_object_set_new(f, "comment", text(tx->u.feedback.comment));
        break;
    case KULA_TX_PROPOSE:
        json_decref(f);
        f = kula_action_to_json(&tx->u.propose.action);
        break;
    case KULA_TX_VOTE:
        json_object_set_new(f, "proposal", hash(&tx->u.vote.proposal));
        json_object_set_new(f, "approve", json_boolean(tx->u.vote.approve));
        break;
    case KULA_TX_EVIDENCE: {
        /* The offence; block_a/block_b are the two votes' blocks (null: nil). */
        const kula_vote *a = &tx->u.evidence.a, *b = &tx->u.evidence.b;
        json_object_set_new(f, "validator", json_integer(a->validator));
        json_object_set_new(f, "vote_type", json_string(a->type == KULA_VOTE_PREVOTE
                                                            ? "prevote"
                                                            : "precommit"));
        json_object_set_new(f, "vote_height", json_integer((json_int_t)a->height));
        json_object_set_new(f, "vote_round", json_integer(a->round));
        json_object_set_new(f, "block_a", vote_block(a));
        json_object_set_new(f, "block_b", vote_block(b));
        if (b->validator != a->validator || b->type != a->type || b->height != a->height ||
            b->round != a->round)
            json_object_set_new(f, "vote_b", json_pack("{s:I, s:s, s:I, s:I}", "validator",
                                                       (json_int_t)b->validator, "vote_type",
                                                       b->type == KULA_VOTE_PREVOTE
                                                           ? "prevote"
                                                           : "precommit",
                                                       "vote_height", (json_int_t)b->height,
                                                       "vote_round", (json_int_t)b->round));
        break;
    }
    }
    json_object_update(o, f);
    json_decref(f);
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
                          "rule", rule_json(&a->rule), "term_end", (json_int_t)a->term_end,
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

json_t *kula_header_to_json(const kula_header *h, const kula_hash *block_hash)
{
    return json_pack("{s:o, s:I, s:I, s:o, s:o, s:o, s:I, s:o, s:o}", "hash", hash(block_hash),
                     "height", (json_int_t)h->height, "time_ms", (json_int_t)h->time_ms,
                     "prev_hash", hash(&h->prev_hash), "txs_root", hash(&h->txs_root),
                     "state_root", hash(&h->state_root), "proposer", (json_int_t)h->proposer,
                     "last_commit_hash", hash(&h->last_commit_hash), "chain_id",
                     hash(&h->chain_id));
}
