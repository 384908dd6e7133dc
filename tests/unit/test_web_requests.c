/* test_web_requests.c -- transaction files left with the node for the
 * members still to sign (node/api/web_requests.c): who is asked, merging
 * the signatures of two copies, expiry, the bound, dropping. */
#include <criterion/criterion.h>
#include <string.h>

#include "api/web_form.h"
#include "api/web_requests.h"
#include "kula/base/error.h"
#include "kula/crypto/crypto.h"

static kula_seckey sk[4];
static kula_pubkey pk[4];
static const kula_hash CHAIN = { { 9 } };
static kula_web_requests q;

static void setup(void)
{
    cr_assert_eq(kula_crypto_init(), 0);
    for (int i = 1; i <= 3; i++)
        cr_assert_eq(kula_key_generate(&sk[i], &pk[i]), 0);
    memset(&q, 0, sizeof(q));
}
static void teardown(void) { kula_web_requests_free(&q); }
TestSuite(web_requests, .init = setup, .fini = teardown);

/* A file of a transfer (amount picks the transaction) that members 1..n
 * must sign, signed by those in `by` (a bit per member), expiring at
 * expires (0: never).  Parsed as the page's form would be. */
static void file_of(kula_web_form *f, int64_t amount, unsigned n, unsigned by, uint64_t expires)
{
    kula_tx tx;
    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_TRANSFER;
    tx.from = 1;
    tx.u.transfer.to = 2;
    tx.u.transfer.amount = amount;
    tx.expires = expires;
    kula_buf body, out;
    kula_buf_init(&body);
    kula_buf_init(&out);
    cr_assert_eq(kula_tx_seal(&tx, &body), 0);
    for (unsigned m = 1; m <= n; m++)
        if (by & (1u << m))
            cr_assert_eq(kula_tx_sign(&tx, &CHAIN, m, &sk[m]), 0);
    cr_assert_eq(kula_tx_encode(&out, &tx), 0);
    char hex[2 * 4096 + 1], chain[65], key[65];
    cr_assert(out.len <= 4096);
    kula_hex_encode(hex, out.data, out.len);
    kula_hex_encode(chain, CHAIN.b, KULA_HASH_LEN);
    json_t *req = json_array();
    for (unsigned m = 1; m <= n; m++) {
        kula_hex_encode(key, pk[m].b, KULA_PUBKEY_LEN);
        json_array_append_new(req, json_pack("{s:i, s:s}", "member", (int)m, "pubkey", key));
    }
    json_t *o = json_pack("{s:{s:i, s:s, s:s, s:o}}", "file", "kula_tx", 1, "chain_id", chain,
                          "tx", hex, "required", req);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    kula_error e = { 0 };
    cr_assert_eq(kula_web_form_parse(f, KULA_WEB_FORM_OPEN, (const uint8_t *)text, strlen(text),
                                     &e), 0, "%s", e.what);
    free(text);
    kula_buf_free(&body);
    kula_buf_free(&out);
}

static size_t waiting_for(uint32_t member, uint64_t now)
{
    json_t *l = kula_web_requests_for(&q, member, now);
    cr_assert_not_null(l);
    size_t n = json_array_size(l);
    json_decref(l);
    return n;
}

Test(web_requests, the_members_still_to_sign_are_asked_once)
{
    kula_web_form f;
    uint32_t asked[KULA_MAX_PARTIES], n;
    kula_error e;
    file_of(&f, 5, 3, 1u << 1, 0);
    cr_assert_eq(kula_web_requests_put(&q, &f.file, 1, 1000, asked, &n, &e), 0, "%s", e.what);
    cr_assert_eq(n, 2);
    cr_assert_eq(asked[0], 2);
    cr_assert_eq(asked[1], 3);
    cr_assert_eq(waiting_for(1, 2000), 0, "member 1 signed already");
    cr_assert_eq(waiting_for(2, 2000), 1);
    cr_assert_eq(waiting_for(3, 2000), 1);
    /* left again: nobody is asked twice */
    cr_assert_eq(kula_web_requests_put(&q, &f.file, 1, 3000, asked, &n, &e), 0);
    cr_assert_eq(n, 0);
    kula_web_form_free(&f);
}

Test(web_requests, two_copies_signed_apart_are_merged)
{
    kula_web_form a, b;
    uint32_t asked[KULA_MAX_PARTIES], n;
    kula_error e;
    file_of(&a, 5, 3, (1u << 1) | (1u << 2), 0); /* signed by 1 and 2 */
    file_of(&b, 5, 3, (1u << 1), 0);             /* a copy signed by 1 only */
    cr_assert_eq(kula_web_requests_put(&q, &a.file, 1, 1000, asked, &n, &e), 0);
    cr_assert_eq(kula_web_requests_put(&q, &b.file, 1, 2000, asked, &n, &e), 0);
    cr_assert_eq(waiting_for(2, 3000), 0, "member 2's signature was kept");
    json_t *l = kula_web_requests_for(&q, 3, 3000);
    cr_assert_eq(json_array_size(l), 1);
    /* the file member 3 gets carries 2 signatures and parses */
    json_t *wrap = json_pack("{s:O}", "file", json_object_get(json_array_get(l, 0), "file"));
    char *text = json_dumps(wrap, JSON_COMPACT);
    kula_web_form c;
    cr_assert_eq(kula_web_form_parse(&c, KULA_WEB_FORM_OPEN, (const uint8_t *)text,
                                     strlen(text), &e), 0, "%s", e.what);
    cr_assert_eq(c.file.tx.nsigs, 2);
    kula_web_form_free(&c);
    free(text);
    json_decref(wrap);
    json_decref(l);
    kula_web_form_free(&a);
    kula_web_form_free(&b);
}

Test(web_requests, complete_or_expired_files_are_refused_and_entries_expire)
{
    kula_web_form f;
    uint32_t asked[KULA_MAX_PARTIES], n;
    kula_error e;
    file_of(&f, 5, 2, (1u << 1) | (1u << 2), 0);
    cr_assert_eq(kula_web_requests_put(&q, &f.file, 1, 1000, asked, &n, &e), KULA_EEXIST);
    cr_assert(strstr(e.what, "submit it") != NULL, "%s", e.what);
    kula_web_form_free(&f);
    file_of(&f, 6, 2, 1u << 1, 5000);
    cr_assert_eq(kula_web_requests_put(&q, &f.file, 1, 6000, asked, &n, &e), KULA_ETXEXPIRED);
    cr_assert_eq(kula_web_requests_put(&q, &f.file, 1, 1000, asked, &n, &e), 0);
    cr_assert_eq(waiting_for(2, 4999), 1);
    cr_assert_eq(waiting_for(2, 5000), 0, "forgotten when it expires");
    kula_web_form_free(&f);
    file_of(&f, 7, 2, 1u << 1, 0);
    cr_assert_eq(kula_web_requests_put(&q, &f.file, 1, 1000, asked, &n, &e), 0);
    cr_assert_eq(waiting_for(2, 1000 + KULA_WEB_REQUEST_TTL_MS - 1), 1);
    cr_assert_eq(waiting_for(2, 1000 + KULA_WEB_REQUEST_TTL_MS), 0, "at most the TTL");
    kula_web_form_free(&f);
}

Test(web_requests, bounded_the_oldest_goes_and_submitted_ones_are_dropped)
{
    kula_web_form f;
    uint32_t asked[KULA_MAX_PARTIES], n;
    kula_error e;
    kula_hash first = { { 0 } }, last = { { 0 } };
    for (unsigned i = 0; i <= KULA_WEB_REQUESTS_MAX; i++) {
        file_of(&f, 10 + i, 2, 1u << 1, 0);
        cr_assert_eq(kula_web_requests_put(&q, &f.file, 1, 1000 + i, asked, &n, &e), 0);
        if (i == 0)
            first = f.file.tx.id;
        last = f.file.tx.id;
        kula_web_form_free(&f);
    }
    json_t *l = kula_web_requests_for(&q, 2, 2000);
    cr_assert_eq(json_array_size(l), KULA_WEB_REQUESTS_MAX);
    char hex[65];
    kula_hex_encode(hex, first.b, KULA_HASH_LEN);
    for (size_t i = 0; i < json_array_size(l); i++)
        cr_assert_str_neq(json_string_value(json_object_get(json_array_get(l, i), "id")), hex,
                          "the oldest went");
    json_decref(l);
    kula_web_requests_drop(&q, &last);
    cr_assert_eq(waiting_for(2, 2000), KULA_WEB_REQUESTS_MAX - 1);
}
