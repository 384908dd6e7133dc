/* test_txview.c -- kula's formatter of a transaction for people (node/audit/txview.c):
 * the words, names and units kula tx and kula sign show. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kula/audit/txview.h"

static const char *names(void *ctx, int64_t id)
{
    (void)ctx;
    static const char *const n[] = { NULL, "Dev", "Alice Bakery", "Bob\x1b[2J" };
    return id >= 1 && id <= 3 ? n[id] : NULL;
}

static const txview V = { 2, "KULA", names, NULL, NULL };

/* The words for tx (JSON text) and agreement (JSON text or NULL). */
static char *words(const char *tx, const char *agreement)
{
    json_error_t e;
    json_t *t = json_loads(tx, 0, &e);
    cr_assert_not_null(t, "%s", e.text);
    json_t *a = agreement != NULL ? json_loads(agreement, 0, &e) : NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    txview_words(f, &V, t, a, "");
    fclose(f);
    json_decref(t);
    json_decref(a);
    return buf;
}

static void has(const char *text, const char *line)
{
    cr_assert_not_null(strstr(text, line), "no '%s' in:\n%s", line, text);
}

/* Times on screens are local: the expected strings are in UTC. */
static void in_utc(void)
{
    setenv("TZ", "UTC", 1);
    tzset();
}
TestSuite(txview, .init = in_utc);

Test(txview, amounts_in_units)
{
    char b[64];
    cr_assert_str_eq(txview_amount(b, sizeof(b), 1250, 2), "12.50");
    cr_assert_str_eq(txview_amount(b, sizeof(b), -5, 2), "-0.05");
    cr_assert_str_eq(txview_amount(b, sizeof(b), 1250, 0), "1250");
    cr_assert_str_eq(txview_amount(b, sizeof(b), INT64_MIN, 2), "-92233720368547758.08");
}

Test(txview, names_are_cleaned)
{
    char b[240];
    cr_assert_str_eq(txview_who(b, sizeof(b), &V, 2), "#2 Alice Bakery");
    cr_assert_str_eq(txview_who(b, sizeof(b), &V, 3), "#3 Bob?[2J", "no escape reaches a terminal");
    cr_assert_str_eq(txview_who(b, sizeof(b), &V, 9), "#9");
}

Test(txview, who_pays_whom_how_much)
{
    char *w = words("{\"kind\":\"transfer\",\"from\":1,\"to\":2,\"amount\":5000}", NULL);
    has(w, "#1 Dev pays #2 Alice Bakery 50.00 KULA\n");
    free(w);
    w = words("{\"kind\":\"exchange\",\"from\":1,\"counterparty\":2,\"gives\":\"shelves\","
              "\"gives_value\":30000,\"receives\":\"bread\",\"receives_value\":25050}", NULL);
    has(w, "#1 Dev delivers \"shelves\", worth 300.00 KULA\n");
    has(w, "#2 Alice Bakery delivers \"bread\", worth 250.50 KULA\n");
    has(w, "#2 Alice Bakery pays #1 Dev the difference, 49.50 KULA\n");
    free(w);
}

Test(txview, shares_under_weights)
{
    char *w = words("{\"kind\":\"agreement-open\",\"from\":1,\"label\":\"caf\",\"title\":\"t\","
                    "\"parties\":[1,2,3],\"rule\":{\"kind\":\"weights\",\"weights\":[1,1,1]},"
                    "\"term_end\":0,\"referral_fee_bps\":250}", NULL);
    has(w, "among: #1 Dev, #2 Alice Bakery, #3 Bob?[2J\n");
    has(w, "each party's share of every 100 KULA paid into the pool:\n");
    /* 100.00 in thirds: the leftover unit goes to the lowest member id */
    has(w, "  #1 Dev                            33.34\n");
    has(w, "  #2 Alice Bakery                   33.33\n");
    has(w, "referrals under it: a fee of 2.50% of the sale\n");
    free(w);
    w = words("{\"kind\":\"agreement-open\",\"from\":1,\"parties\":[1,2,3],"
              "\"rule\":{\"kind\":\"weights\",\"weights\":[0,0,0]}}", NULL);
    has(w, "this rule cannot split any pool: the network refuses it\n");
    free(w);
}

/* A Shapley game: v({1}) = 10, v({2}) = 0, v({1,2}) = 30: phi = (20, 10). */
Test(txview, shares_under_shapley)
{
    char *w = words("{\"kind\":\"agreement-open\",\"from\":1,\"parties\":[1,2],"
                    "\"rule\":{\"kind\":\"shapley\",\"coalition_values\":[0,10,0,30]}}", NULL);
    has(w, "  #1 Dev                            66.67\n");
    has(w, "  #2 Alice Bakery                   33.33\n");
    free(w);
}

/* An amendment to pro rata, with the agreement's contributions and pool. */
Test(txview, shares_of_the_pool_now)
{
    const char *ag = "{\"pool\":1000,\"rule\":{\"kind\":\"equal\"},\"parties\":["
                     "{\"member\":1,\"contributed\":300},{\"member\":2,\"contributed\":100}]}";
    char *w = words("{\"kind\":\"agreement-amend\",\"from\":1,\"agreement\":\"ab\",\"title\":\"t\","
                    "\"rule\":{\"kind\":\"pro-rata\"}}", ag);
    has(w, "and of the pool now (10.00):\n");
    has(w, "  #1 Dev                            75.00  7.50\n");
    has(w, "  #2 Alice Bakery                   25.00  2.50\n");
    free(w);
    w = words("{\"kind\":\"agreement-amend\",\"from\":1,\"agreement\":\"ab\",\"title\":\"t\","
              "\"rule\":{\"kind\":\"pro-rata\"}}", NULL);
    has(w, "in proportion to its acknowledged contributions (none yet)\n");
    free(w);
    w = words("{\"kind\":\"settle\",\"from\":2,\"agreement\":\"ab\"}", ag);
    has(w, "  #1 Dev                            50.00  5.00\n");
    free(w);
}

Test(txview, governance_amounts_in_units)
{
    char *w = words("{\"kind\":\"propose\",\"from\":1,\"action\":\"param\","
                    "\"name\":\"default_credit_limit\",\"value\":200000}", NULL);
    has(w, "set the parameter default_credit_limit to 2000.00 KULA\n");
    free(w);
    w = words("{\"kind\":\"propose\",\"from\":1,\"action\":\"param\","
              "\"name\":\"max_block_txs\",\"value\":500}", NULL);
    has(w, "set the parameter max_block_txs to 500\n");
    free(w);
    w = words("{\"kind\":\"propose\",\"from\":1,\"action\":\"credit-limit\",\"member\":2,"
              "\"credit_limit\":80000}", NULL);
    has(w, "set the credit limit of #2 Alice Bakery to 800.00 KULA\n");
    free(w);
}

/* Every invoice kind in words: who bills whom how much, due when; who
 * accepts, disputes (why), cancels, pays how much of which invoice. */
Test(txview, invoices_in_words)
{
    char *w = words("{\"kind\":\"invoice\",\"from\":1,\"debtor\":3,\"amount\":12000,"
                    "\"due\":1798761599999,\"reference\":\"2026-117\",\"document\":\"ab12\"}",
                    NULL);
    has(w, "#1 Dev bills #3 Bob?[2J 120.00 KULA under reference \"2026-117\", due "
           "2026-12-31 23:59:59 UTC\n");
    has(w, "its document's BLAKE2b-256 is ab12\n");
    has(w, "no credit moves until the debtor pays it\n");
    free(w);
    static const char inv[] = "\"invoice\":\"f2668c2c9936dfa9ef12abe816364da27f0ff71278028918\"";
    w = words("{\"kind\":\"invoice-accept\",\"from\":2,\"invoice\":\"f2668c2c9936dfa9\"}", NULL);
    has(w, "#2 Alice Bakery accepts invoice f2668c2c9936..: it owes it from now on\n");
    free(w);
    w = words("{\"kind\":\"invoice-dispute\",\"from\":2,\"invoice\":\"f2668c2c9936dfa9\","
              "\"reason\":\"late\\u001b\"}", NULL);
    has(w, "#2 Alice Bakery disputes invoice f2668c2c9936..: \"late?\"\n");
    free(w);
    w = words("{\"kind\":\"invoice-cancel\",\"from\":1,\"invoice\":\"f2668c2c9936dfa9\"}", NULL);
    has(w, "#1 Dev cancels its invoice f2668c2c9936..: nothing is owed on it any more\n");
    free(w);
    char tx[256];
    snprintf(tx, sizeof(tx), "{\"kind\":\"invoice-pay\",\"from\":2,%s,\"amount\":4550}", inv);
    w = words(tx, NULL);
    has(w, "#2 Alice Bakery pays 45.50 KULA of invoice f2668c2c9936.. to its issuer\n");
    free(w);
}

/* An invoice's fields as kula tx lists them: the debtor by name, the due
 * date as a UTC time (none for 0), the amount in units. */
Test(txview, invoice_fields)
{
    json_t *t = json_loads("{\"kind\":\"invoice\",\"debtor\":3,\"amount\":12000,"
                           "\"due\":1798761599999}", 0, NULL);
    cr_assert_not_null(t);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    txview_fields(f, &V, t, "");
    json_object_set_new(t, "due", json_integer(0));
    txview_fields(f, &V, t, "");
    fclose(f);
    json_decref(t);
    has(buf, "debtor           #3 Bob?[2J\n");
    has(buf, "amount           120.00\n");
    has(buf, "due              2026-12-31 23:59:59 UTC\n");
    has(buf, "due              none\n");
    free(buf);
}
