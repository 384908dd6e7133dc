/* test_web_form.c -- what a browser sends to the web wallet
 * (node/api/web_form.c): each refusal names the field and what to do. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "api/web_form.h"
#include "kula/base/error.h"
#include "kula/crypto/crypto.h"

static void setup(void) { cr_assert_eq(kula_crypto_init(), 0); }
TestSuite(web_form, .init = setup);

/* Parses text as a form of kind.  Out: err.  Returns: the result. */
static int parse(enum kula_web_form_kind kind, const char *text, char *err)
{
    kula_web_form f;
    kula_error e = { 0 };
    int rc = kula_web_form_parse(&f, kind, (const uint8_t *)text, strlen(text), &e);
    snprintf(err, 512, "%.511s", e.what);
    kula_web_form_free(&f);
    return rc;
}

Test(web_form, login_token_whole_or_refused)
{
    char err[512];
    char ok[100];
    snprintf(ok, sizeof(ok), "{\"token\":\"%064d\"}", 7);
    cr_assert_eq(parse(KULA_WEB_FORM_LOGIN, ok, err), 0);
    cr_assert_eq(parse(KULA_WEB_FORM_LOGIN, "{\"token\":\"abc\"}", err), KULA_EINVAL);
    cr_assert(strstr(err, "cut short") != NULL, "%s", err);
    cr_assert_eq(parse(KULA_WEB_FORM_LOGIN, "{}", err), KULA_EINVAL);
    cr_assert(strstr(err, "\"token\" is missing") != NULL, "%s", err);
    cr_assert_eq(parse(KULA_WEB_FORM_LOGIN, "[1,2]", err), KULA_EINVAL);
    cr_assert(strstr(err, "not a JSON object") != NULL, "%s", err);
    cr_assert_eq(parse(KULA_WEB_FORM_LOGIN, "{\"token\":\"a\",\"token\":\"b\"}", err),
                 KULA_EINVAL, "duplicate keys are refused");
}

Test(web_form, pay_fields_checked)
{
    char err[512];
    cr_assert_eq(parse(KULA_WEB_FORM_PAY,
                       "{\"to\":\"alice\",\"amount\":\"1.00\",\"memo\":\"<b>\",\"passphrase\":\"x\"}",
                       err), 0);
    cr_assert_eq(parse(KULA_WEB_FORM_PAY, "{\"to\":\"alice\",\"amount\":\"1\",\"passphrase\":\"\"}",
                       err), KULA_EINVAL);
    cr_assert(strstr(err, "passphrase is empty") != NULL, "%s", err);
    cr_assert_eq(parse(KULA_WEB_FORM_PAY, "{\"to\":\"\",\"amount\":\"1\",\"passphrase\":\"p\"}",
                       err), KULA_EINVAL);
    cr_assert(strstr(err, "whom to pay is empty") != NULL, "%s", err);
    cr_assert_eq(parse(KULA_WEB_FORM_PAY, "{\"to\":\"a\\u0000b\",\"amount\":\"1\",\"passphrase\":\"p\"}",
                       err), KULA_EINVAL, "a NUL in a string (jansson refuses it)");
    char memo[600] = "{\"to\":\"a\",\"amount\":\"1\",\"passphrase\":\"p\",\"memo\":\"";
    memset(memo + strlen(memo), 'm', 300);
    strcat(memo, "\"}");
    cr_assert_eq(parse(KULA_WEB_FORM_PAY, memo, err), KULA_EINVAL);
    cr_assert(strstr(err, "\"memo\" is too long: at most 256 bytes") != NULL, "%s", err);
}

Test(web_form, vote_needs_a_proposal_id_and_a_choice)
{
    char err[512], body[200];
    snprintf(body, sizeof(body), "{\"proposal\":\"%064d\",\"approve\":true,\"passphrase\":\"p\"}", 1);
    cr_assert_eq(parse(KULA_WEB_FORM_VOTE, body, err), 0);
    snprintf(body, sizeof(body), "{\"proposal\":\"%064d\",\"approve\":\"yes\",\"passphrase\":\"p\"}", 1);
    cr_assert_eq(parse(KULA_WEB_FORM_VOTE, body, err), KULA_EINVAL);
    cr_assert(strstr(err, "true (yes) or false (no)") != NULL, "%s", err);
    cr_assert_eq(parse(KULA_WEB_FORM_VOTE, "{\"proposal\":\"12\",\"approve\":true}", err),
                 KULA_EINVAL);
    cr_assert(strstr(err, "64 hex digits") != NULL, "%s", err);
}

Test(web_form, an_invoice_is_accepted_or_paid)
{
    char err[512], body[200];
    snprintf(body, sizeof(body), "{\"invoice\":\"%064d\",\"action\":\"pay\",\"passphrase\":\"p\"}", 3);
    cr_assert_eq(parse(KULA_WEB_FORM_INVOICE, body, err), 0);
    snprintf(body, sizeof(body), "{\"invoice\":\"%064d\",\"action\":\"cancel\",\"passphrase\":\"p\"}", 3);
    cr_assert_eq(parse(KULA_WEB_FORM_INVOICE, body, err), KULA_EINVAL);
    cr_assert(strstr(err, "\"accept\" or \"pay\"") != NULL, "%s", err);
}

Test(web_form, a_file_must_be_a_transaction_file)
{
    char err[512];
    cr_assert_eq(parse(KULA_WEB_FORM_OPEN, "{\"file\":{\"hello\":1}}", err), KULA_EINVAL);
    cr_assert(strstr(err, "not a transaction file") != NULL, "%s", err);
    char body[400];
    snprintf(body, sizeof(body),
             "{\"file\":{\"kula_tx\":1,\"chain_id\":\"%064d\",\"tx\":\"abc\",\"required\":[]}}", 0);
    cr_assert_eq(parse(KULA_WEB_FORM_OPEN, body, err), KULA_EINVAL);
    cr_assert(strstr(err, "cut short") != NULL, "%s", err);
    snprintf(body, sizeof(body),
             "{\"file\":{\"kula_tx\":1,\"chain_id\":\"%064d\",\"tx\":\"00\",\"required\":[]}}", 0);
    cr_assert_eq(parse(KULA_WEB_FORM_OPEN, body, err), KULA_EINVAL);
    cr_assert(strstr(err, "does not decode") != NULL, "%s", err);
}
