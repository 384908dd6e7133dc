/* fuzz_web_form.c -- libFuzzer target: what a browser sends to the web
 * wallet (node/api/web_form.c): the login body, the pay and vote forms, a
 * transaction file to open or sign, a statement's period.  The first byte
 * chooses the form; the rest is the body.  The decoder must never crash,
 * must say why it refused (a non-empty message), and what it accepts must
 * hold what it promises: a token of 64 hex digits, a passphrase where one
 * is needed, a file whose signatures verify, a period that ends after it
 * begins. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../node/api/web_form.h"
#include "kula/crypto/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        if (kula_crypto_init() != 0)
            abort();
        ready = 1;
    }
    if (size == 0)
        return 0;
    enum kula_web_form_kind kind = (enum kula_web_form_kind)(data[0] % 8);
    kula_web_form f;
    kula_error err = { 0 };
    int rc = kula_web_form_parse(&f, kind, data + 1, size - 1, &err);
    if (rc != 0 && (err.what[0] == '\0' || err.code != rc))
        abort(); /* a refusal without words */
    if (rc == 0) {
        if (kind == KULA_WEB_FORM_LOGIN && strlen(f.token) != 64)
            abort();
        if ((kind == KULA_WEB_FORM_PAY || kind == KULA_WEB_FORM_VOTE ||
             kind == KULA_WEB_FORM_SIGN || kind == KULA_WEB_FORM_FEEDBACK ||
             kind == KULA_WEB_FORM_INVOICE) &&
            f.passphrase[0] == '\0')
            abort();
        if (kind == KULA_WEB_FORM_FEEDBACK && (f.rating < 1 || f.rating > 5))
            abort();
        if ((kind == KULA_WEB_FORM_OPEN || kind == KULA_WEB_FORM_SIGN) &&
            (!f.has_file || f.file.nreq == 0 || f.file.nreq > KULA_MAX_PARTIES))
            abort();
        if (kind == KULA_WEB_FORM_STATEMENT && f.statement.to_ms != 0 &&
            f.statement.to_ms <= f.statement.from_ms)
            abort();
    }
    kula_web_form_free(&f);
    return 0;
}
