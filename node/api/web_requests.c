/* web_requests.c -- transaction files waiting for signatures
 * (web_requests.h). */
#include "web_requests.h"

#include <stdlib.h>
#include <string.h>

#include "kula/codec/codec.h"

static void forget(kula_web_request *r)
{
    json_decref(r->file);
    memset(r, 0, sizeof(*r));
}

static void expire(kula_web_requests *q, uint64_t now_ms)
{
    for (size_t i = 0; i < KULA_WEB_REQUESTS_MAX; i++)
        if (q->r[i].used && now_ms >= q->r[i].expires_ms)
            forget(&q->r[i]);
}

static bool signed_by(const kula_tx *tx, uint32_t member)
{
    for (uint32_t i = 0; i < tx->nsigs; i++)
        if (tx->sigs[i].signer == member)
            return true;
    return false;
}

/* The file of t with the signatures of the entry r's file added.
 * Out: *tx (borrows *bytes, caller frees it).  Returns: the new file, or
 * NULL after e. */
static json_t *merged(const kula_web_txfile *t, const kula_web_request *r, kula_tx *tx,
                      kula_buf *bytes, kula_error *e)
{
    *tx = t->tx;
    kula_buf_init(bytes);
    if (r != NULL) {
        const char *hex = json_string_value(json_object_get(r->file, "tx"));
        size_t n = hex != NULL ? strlen(hex) / 2 : 0;
        uint8_t *old = malloc(n + 1);
        kula_tx otx;
        int rc = old != NULL && kula_hex_decode(old, n, hex) == 0 ? kula_tx_decode(&otx, old, n)
                                                                   : KULA_ENOMEM;
        for (uint32_t i = 0; rc == 0 && i < otx.nsigs; i++)
            if (!signed_by(tx, otx.sigs[i].signer))
                rc = kula_tx_add_sig(tx, otx.sigs[i].signer, &otx.sigs[i].sig);
        free(old);
        if (rc != 0) {
            kula_error_set(e, rc, "cannot merge the signatures of the file left before: %s",
                           kula_strerror(rc));
            return NULL;
        }
    }
    json_t *file = json_deep_copy(t->root);
    char *hex = NULL;
    if (file == NULL || kula_tx_encode(bytes, tx) != 0 ||
        (hex = malloc(2 * bytes->len + 1)) == NULL) {
        json_decref(file);
        kula_error_set(e, KULA_ENOMEM, "out of memory");
        return NULL;
    }
    kula_hex_encode(hex, bytes->data, bytes->len);
    json_object_set_new(file, "tx", json_string(hex));
    free(hex);
    return file;
}

int kula_web_requests_put(kula_web_requests *q, const kula_web_txfile *t, uint32_t from,
                          uint64_t now_ms, uint32_t *asked, uint32_t *nasked, kula_error *e)
{
    *nasked = 0;
    expire(q, now_ms);
    if (t->tx.expires != 0 && now_ms >= t->tx.expires)
        return kula_error_set(e, KULA_ETXEXPIRED, "this transaction expired: its initiator "
                                                  "must write a new one");
    kula_web_request *slot = NULL, *oldest = NULL;
    for (size_t i = 0; i < KULA_WEB_REQUESTS_MAX; i++) {
        kula_web_request *r = &q->r[i];
        if (r->used && memcmp(r->id.b, t->tx.id.b, KULA_HASH_LEN) == 0) {
            slot = r;
            break;
        }
        if (!r->used && (slot == NULL || slot->used))
            slot = r;
        if (r->used && (oldest == NULL || r->added_ms < oldest->added_ms))
            oldest = r;
    }
    bool same = slot != NULL && slot->used;
    kula_tx tx;
    kula_buf bytes;
    json_t *file = merged(t, same ? slot : NULL, &tx, &bytes, e);
    if (file == NULL) {
        kula_buf_free(&bytes);
        return e != NULL ? e->code : KULA_ENOMEM;
    }
    bool complete = true;
    for (uint32_t i = 0; i < t->nreq; i++)
        complete = complete && signed_by(&tx, t->req[i]);
    if (complete) {
        json_decref(file);
        kula_buf_free(&bytes);
        return kula_error_set(e, KULA_EEXIST, "every required member has signed it: submit it "
                                              "(kula submit FILE) instead");
    }
    if (slot == NULL)
        slot = oldest; /* full: the oldest goes */
    kula_web_request old = same ? *slot : (kula_web_request){ 0 };
    if (!same)
        forget(slot);
    else
        json_decref(slot->file);
    slot->used = true;
    slot->id = t->tx.id;
    slot->file = file;
    slot->added_ms = same ? old.added_ms : now_ms;
    slot->expires_ms = t->tx.expires != 0 ? t->tx.expires : now_ms + KULA_WEB_REQUEST_TTL_MS;
    slot->from = same ? old.from : from;
    slot->nreq = t->nreq;
    for (uint32_t i = 0; i < t->nreq; i++) {
        slot->req[i] = t->req[i];
        slot->has_signed[i] = signed_by(&tx, t->req[i]);
        if (!slot->has_signed[i] && !(same && old.req[i] == t->req[i] && !old.has_signed[i]))
            asked[(*nasked)++] = t->req[i];
    }
    kula_buf_free(&bytes);
    return KULA_OK;
}

void kula_web_requests_drop(kula_web_requests *q, const kula_hash *id)
{
    for (size_t i = 0; i < KULA_WEB_REQUESTS_MAX; i++)
        if (q->r[i].used && memcmp(q->r[i].id.b, id->b, KULA_HASH_LEN) == 0)
            forget(&q->r[i]);
}

json_t *kula_web_requests_for(kula_web_requests *q, uint32_t member, uint64_t now_ms)
{
    expire(q, now_ms);
    const kula_web_request *order[KULA_WEB_REQUESTS_MAX];
    size_t n = 0;
    for (size_t i = 0; i < KULA_WEB_REQUESTS_MAX; i++) {
        const kula_web_request *r = &q->r[i];
        bool waits = false;
        for (uint32_t k = 0; r->used && k < r->nreq; k++)
            waits = waits || (r->req[k] == member && !r->has_signed[k]);
        if (!waits)
            continue;
        size_t at = n++;
        while (at > 0 && order[at - 1]->added_ms > r->added_ms) { /* oldest first */
            order[at] = order[at - 1];
            at--;
        }
        order[at] = r;
    }
    json_t *list = json_array();
    for (size_t i = 0; list != NULL && i < n; i++) {
        char id[2 * KULA_HASH_LEN + 1];
        kula_hex_encode(id, order[i]->id.b, KULA_HASH_LEN);
        if (json_array_append_new(list, json_pack("{s:s, s:I, s:I, s:I, s:O}", "id", id, "from",
                                                  (json_int_t)order[i]->from, "left_ms",
                                                  (json_int_t)order[i]->added_ms, "expires_ms",
                                                  (json_int_t)order[i]->expires_ms, "file",
                                                  order[i]->file)) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    return list;
}

void kula_web_requests_free(kula_web_requests *q)
{
    for (size_t i = 0; i < KULA_WEB_REQUESTS_MAX; i++)
        if (q->r[i].used)
            forget(&q->r[i]);
}
