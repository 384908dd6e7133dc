/* vecjson.c -- decoded values as the vectors' "fields" JSON. */
#include "vecjson.h"

#include "kula/types/txjson.h"
#include "kula/types/txkind.h"

json_t *vj_hex(const void *p, size_t n) { return kula_json_hex(p, n); }

json_t *vj_hash(const kula_hash *h) { return vj_hex(h->b, KULA_HASH_LEN); }

json_t *vj_tx(const kula_tx *tx)
{
    const kula_kind_desc *d = kula_tx_kind_desc(tx->kind);
    json_t *o = json_object(), *p = json_object();
    if (d != NULL)
        kula_fields_to_json(p, tx, d, KULA_JSON_VECTORS);
    json_object_set_new(o, "version",
                        json_integer(tx->expires != 0 ? KULA_TX_VERSION_DATED : KULA_VERSION));
    json_object_set_new(o, "kind", json_string(d != NULL ? d->name : NULL));
    json_object_set_new(o, "from", json_integer(tx->from));
    json_object_set_new(o, "nonce", kula_json_u64(tx->nonce));
    json_object_set_new(o, "payload", p);
    json_object_set_new(o, "memo", json_stringn(tx->memo.p, tx->memo.n));
    if (tx->expires != 0)
        json_object_set_new(o, "expires", kula_json_u64(tx->expires));
    return o;
}

json_t *vj_header(const kula_header *h)
{
    json_t *o = json_object();
    json_object_set_new(o, "version", json_integer(h->version));
    json_object_set_new(o, "chain_id", vj_hash(&h->chain_id));
    json_object_set_new(o, "height", kula_json_u64(h->height));
    json_object_set_new(o, "time_ms", kula_json_u64(h->time_ms));
    json_object_set_new(o, "prev_hash", vj_hash(&h->prev_hash));
    json_object_set_new(o, "txs_root", vj_hash(&h->txs_root));
    json_object_set_new(o, "state_root", vj_hash(&h->state_root));
    json_object_set_new(o, "proposer", json_integer(h->proposer));
    json_object_set_new(o, "last_commit_hash", vj_hash(&h->last_commit_hash));
    return o;
}

json_t *vj_commit(const kula_commit *c)
{
    json_t *o = json_object();
    json_object_set_new(o, "height", kula_json_u64(c->height));
    json_object_set_new(o, "round", json_integer(c->round));
    json_object_set_new(o, "block_hash", vj_hash(&c->block_hash));
    return o;
}
