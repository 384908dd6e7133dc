/* vecjson.c -- decoded values as the vectors' "fields" JSON. */
#include "vecjson.h"

#include <stdio.h>
#include <stdlib.h>

#include "kula/types/genesis.h"
#include "kula/types/txjson.h"
#include "kula/types/txkind.h"

json_t *vj_hex(const void *p, size_t n) { return kula_json_hex(p, n); }

json_t *vj_hash(const kula_hash *h) { return vj_hex(h->b, KULA_HASH_LEN); }

json_t *vj_u64(uint64_t v)
{
    if (v <= INT64_MAX)
        return json_integer((json_int_t)v);
    char s[24];
    snprintf(s, sizeof(s), "%llu", (unsigned long long)v);
    return json_string(s);
}

json_t *vj_text(kula_text t) { return json_stringn(t.p, t.n); }

static json_t *rule_json(const kula_rule *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "kind", json_string(kula_rule_kind_name(r->kind)));
    if (r->kind == KULA_RULE_WEIGHTS) {
        json_t *a = json_array();
        for (uint32_t i = 0; i < r->nweights; i++)
            json_array_append_new(a, json_integer(r->weights[i]));
        json_object_set_new(o, "weights", a);
    } else if (r->kind == KULA_RULE_SHAPLEY) {
        int64_t *v = calloc(r->nvalues, sizeof(*v));
        json_t *a = json_array();
        if (v != NULL && kula_rule_shapley_values(r, v) == 0) {
            for (uint32_t i = 0; i < r->nvalues; i++)
                json_array_append_new(a, json_integer(v[i]));
            json_object_set_new(o, "values", a);
        } else {
            json_decref(a);
        }
        free(v);
    }
    return o;
}

static void fields_json(json_t *o, const void *base, const kula_kind_desc *d);

/* {kind, the action's fields} */
static json_t *action_json(const kula_action *a)
{
    const kula_kind_desc *d = kula_action_kind_desc(a->kind);
    json_t *o = json_object();
    json_object_set_new(o, "kind", json_string(d != NULL ? d->name : NULL));
    if (d != NULL)
        fields_json(o, a, d);
    return o;
}

/* Sets o[f->name] (and param_name for a parameter) from base. */
static void field_json(json_t *o, const void *base, const kula_field *f)
{
    json_t *v = NULL;
    switch ((enum kula_field_type)f->type) {
    case KULA_F_U64: v = vj_u64(*KULA_CFIELD(uint64_t, base, f)); break;
    case KULA_F_RULE: v = rule_json(KULA_CFIELD(kula_rule, base, f)); break;
    case KULA_F_ACTION: v = action_json(KULA_CFIELD(kula_action, base, f)); break;
    case KULA_F_PARAM: {
        uint32_t id = *KULA_CFIELD(uint32_t, base, f);
        const char *name = kula_param_name(id);
        json_object_set_new(o, f->name, json_integer(id));
        json_object_set_new(o, "param_name", name != NULL ? json_string(name) : json_null());
        return;
    }
    case KULA_F_VOTE:
    case KULA_F_VOTE_NEXT: v = vj_vote(KULA_CFIELD(kula_vote, base, f), true); break;
    case KULA_F_MEMBER:
    case KULA_F_U32:
    case KULA_F_AMOUNT:
    case KULA_F_BOOL:
    case KULA_F_TEXT:
    case KULA_F_HASH:
    case KULA_F_OPT_HASH:
    case KULA_F_PUBKEY:
    case KULA_F_PARTIES: v = kula_field_to_json(base, f); break;
    }
    json_object_set_new(o, f->name, v);
}

static void fields_json(json_t *o, const void *base, const kula_kind_desc *d)
{
    for (uint32_t i = 0; i < d->nfields; i++)
        field_json(o, base, &d->fields[i]);
}

json_t *vj_tx(const kula_tx *tx)
{
    const kula_kind_desc *d = kula_tx_kind_desc(tx->kind);
    json_t *o = json_object(), *p = json_object();
    if (d != NULL)
        fields_json(p, tx, d);
    json_object_set_new(o, "version",
                        json_integer(tx->expires != 0 ? KULA_TX_VERSION_DATED : KULA_VERSION));
    json_object_set_new(o, "kind", json_string(d != NULL ? d->name : NULL));
    json_object_set_new(o, "from", json_integer(tx->from));
    json_object_set_new(o, "nonce", vj_u64(tx->nonce));
    json_object_set_new(o, "payload", p);
    json_object_set_new(o, "memo", vj_text(tx->memo));
    if (tx->expires != 0)
        json_object_set_new(o, "expires", vj_u64(tx->expires));
    return o;
}

json_t *vj_header(const kula_header *h)
{
    json_t *o = json_object();
    json_object_set_new(o, "version", json_integer(h->version));
    json_object_set_new(o, "chain_id", vj_hash(&h->chain_id));
    json_object_set_new(o, "height", vj_u64(h->height));
    json_object_set_new(o, "time_ms", vj_u64(h->time_ms));
    json_object_set_new(o, "prev_hash", vj_hash(&h->prev_hash));
    json_object_set_new(o, "txs_root", vj_hash(&h->txs_root));
    json_object_set_new(o, "state_root", vj_hash(&h->state_root));
    json_object_set_new(o, "proposer", json_integer(h->proposer));
    json_object_set_new(o, "last_commit_hash", vj_hash(&h->last_commit_hash));
    return o;
}

json_t *vj_vote(const kula_vote *v, bool with_sig)
{
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string(v->type == KULA_VOTE_PREVOTE ? "prevote"
                                                                          : "precommit"));
    json_object_set_new(o, "height", vj_u64(v->height));
    json_object_set_new(o, "round", json_integer(v->round));
    json_object_set_new(o, "block_hash", v->has_block ? vj_hash(&v->block_hash) : json_null());
    json_object_set_new(o, "validator", json_integer(v->validator));
    if (with_sig)
        json_object_set_new(o, "sig", vj_hex(v->sig.b, KULA_SIG_LEN));
    return o;
}

json_t *vj_commit(const kula_commit *c)
{
    json_t *o = json_object();
    json_object_set_new(o, "height", vj_u64(c->height));
    json_object_set_new(o, "round", json_integer(c->round));
    json_object_set_new(o, "block_hash", vj_hash(&c->block_hash));
    return o;
}
