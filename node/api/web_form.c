/* web_form.c -- what a browser sends to the web wallet, decoded
 * defensively (web_form.h). */
#include "web_form.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kula/base/error.h"

/* Fills e (kula_error_set's way) with KULA_EINVAL.  Returns: KULA_EINVAL. */
static int bad(kula_error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(kula_error *e, const char *fmt, ...)
{
    if (e != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->what, sizeof(e->what), fmt, ap);
        va_end(ap);
        e->code = KULA_EINVAL;
        e->tx_index = -1;
    }
    return KULA_EINVAL;
}

/* Copies string field `name` of o into out[cap]: it must be there (unless
 * optional), a string shorter than cap (jansson refuses a NUL in one). */
static int text(json_t *o, const char *name, bool optional, char *out, size_t cap, kula_error *e)
{
    json_t *v = json_object_get(o, name);
    out[0] = '\0';
    if (v == NULL && optional)
        return 0;
    if (!json_is_string(v))
        return bad(e, "\"%s\" is missing: fill it in", name);
    size_t n = json_string_length(v);
    if (n >= cap)
        return bad(e, "\"%s\" is too long: at most %zu bytes", name, cap - 1);
    memcpy(out, json_string_value(v), n + 1);
    return 0;
}

static int hex_field(json_t *o, const char *name, uint8_t *out, size_t n, kula_error *e)
{
    const char *s = json_string_value(json_object_get(o, name));
    if (s == NULL || strlen(s) != 2 * n || kula_hex_decode(out, n, s) != 0)
        return bad(e, "\"%s\" must be %zu hex digits", name, 2 * n);
    return 0;
}

static int txfile_parse(kula_web_txfile *t, json_t *root, kula_error *e)
{
    memset(t, 0, sizeof(*t));
    t->root = json_incref(root);
    if (!json_is_object(root) || json_integer_value(json_object_get(root, "kula_tx")) != 1)
        return bad(e, "this is not a transaction file (no \"kula_tx\": 1): open the "
                                "file that kula exchange, agreement or another command wrote "
                                "with --out");
    if (hex_field(root, "chain_id", t->chain_id.b, KULA_HASH_LEN, e) != 0)
        return KULA_EINVAL;
    const char *hex = json_string_value(json_object_get(root, "tx"));
    if (hex == NULL)
        return bad(e, "the file has no \"tx\": it is damaged, ask for it again");
    size_t hl = strlen(hex);
    if (hl % 2 != 0 || hl / 2 > KULA_MAX_TX_BYTES || hl == 0)
        return bad(e, "the file's \"tx\" is cut short or too long: ask for it again");
    t->len = hl / 2;
    t->bytes = malloc(t->len);
    if (t->bytes == NULL)
        return bad(e, "out of memory");
    if (kula_hex_decode(t->bytes, t->len, hex) != 0)
        return bad(e, "the file's \"tx\" is not hex: ask for it again");
    int rc = kula_tx_decode(&t->tx, t->bytes, t->len);
    if (rc != 0)
        return bad(e, "the file's transaction does not decode (%s): ask for it again",
                   kula_strerror(rc));
    json_t *req = json_object_get(root, "required");
    if (!json_is_array(req) || json_array_size(req) == 0 ||
        json_array_size(req) > KULA_MAX_PARTIES)
        return bad(e, "the file's list of who must sign is missing or too long");
    for (size_t i = 0; i < json_array_size(req); i++) {
        json_t *r = json_array_get(req, i);
        json_t *m = json_object_get(r, "member");
        if (!json_is_integer(m) || json_integer_value(m) <= 0 ||
            json_integer_value(m) > UINT32_MAX ||
            hex_field(r, "pubkey", t->req_keys[i].b, KULA_PUBKEY_LEN, e) != 0)
            return bad(e, "signer %zu of the file is not a member id and a public key",
                       i + 1);
        t->req[i] = (uint32_t)json_integer_value(m);
    }
    t->nreq = (uint32_t)json_array_size(req);
    /* every signature already in it must be a required signer's and verify */
    kula_hash digest;
    kula_tx_sighash(&digest, &t->chain_id, &t->tx);
    for (uint32_t i = 0; i < t->tx.nsigs; i++) {
        int at = -1;
        for (uint32_t k = 0; k < t->nreq; k++)
            if (t->req[k] == t->tx.sigs[i].signer)
                at = (int)k;
        if (at < 0 || !kula_verify(&t->req_keys[at], digest.b, &t->tx.sigs[i].sig))
            return bad(e, "a signature in the file does not verify: it was changed "
                                    "after it was signed; ask its initiator for a new one");
    }
    return 0;
}

/* A day of the statement's period, "YYYY-MM-DD" or "" (open), into day[11]
 * and *ms as kula export reads --from (end false) and --to (end true). */
static int period_day(json_t *o, const char *name, bool end, char *day, uint64_t *ms,
                      kula_error *e)
{
    json_t *v = json_object_get(o, name);
    const char *s = json_string_value(v);
    day[0] = '\0';
    *ms = 0;
    if (v == NULL || (s != NULL && s[0] == '\0'))
        return 0;
    if (s == NULL || json_string_length(v) != 10 || kula_statement_date(s, end, ms) != 0)
        return bad(e, "\"%s\" must be a day, as 2026-03-31, or empty", name);
    memcpy(day, s, 11);
    return 0;
}

static int statement_form(kula_web_form *f, json_t *o, kula_error *e)
{
    kula_statement_opts *so = &f->statement;
    const char *fmt = json_string_value(json_object_get(o, "format"));
    if (json_object_get(o, "format") == NULL || (fmt != NULL && strcmp(fmt, "csv") == 0))
        so->format = KULA_STATEMENT_CSV;
    else if (fmt != NULL && strcmp(fmt, "journal") == 0)
        so->journal = true;
    else if (fmt != NULL && strcmp(fmt, "jsonl") == 0)
        so->format = KULA_STATEMENT_JSONL;
    else
        return bad(e, "\"format\" must be \"csv\", \"journal\" or \"jsonl\"");
    if (period_day(o, "from", false, f->from, &so->from_ms, e) != 0 ||
        period_day(o, "to", true, f->until, &so->to_ms, e) != 0)
        return KULA_EINVAL;
    if (so->to_ms != 0 && so->to_ms <= so->from_ms)
        return bad(e, "the period ends before it begins: choose a \"to\" day on or after "
                      "the \"from\" day");
    return 0;
}

bool kula_web_txfile_signed_by(const kula_web_txfile *t, uint32_t member)
{
    for (uint32_t i = 0; i < t->tx.nsigs; i++)
        if (t->tx.sigs[i].signer == member)
            return true;
    return false;
}

int kula_web_form_parse(kula_web_form *f, enum kula_web_form_kind kind, const uint8_t *body,
                        size_t len, kula_error *e)
{
    memset(f, 0, sizeof(*f));
    f->kind = kind;
    if (len > KULA_WEB_MAX_BODY)
        return bad(e, "the form is larger than %u bytes", KULA_WEB_MAX_BODY);
    json_error_t jerr;
    json_t *o = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(o)) {
        json_decref(o);
        return bad(e, "the form is not a JSON object: reload the page");
    }
    int rc = 0;
    switch (kind) {
    case KULA_WEB_FORM_LOGIN:
        rc = text(o, "token", false, f->token, sizeof(f->token), e);
        if (rc == 0 && strlen(f->token) != KULA_WEB_TOKEN_HEX)
            rc = bad(e, "the login link is cut short: copy the whole line that "
                                  "'kula web' printed, or run it again");
        break;
    case KULA_WEB_FORM_PAY:
        if ((rc = text(o, "to", false, f->to, sizeof(f->to), e)) == 0 &&
            (rc = text(o, "amount", false, f->amount, sizeof(f->amount), e)) == 0 &&
            (rc = text(o, "memo", true, f->memo, sizeof(f->memo), e)) == 0)
            rc = text(o, "passphrase", false, f->passphrase, sizeof(f->passphrase), e);
        if (rc == 0 && f->to[0] == '\0')
            rc = bad(e, "whom to pay is empty: give a member's name or number");
        break;
    case KULA_WEB_FORM_VOTE:
        if ((rc = hex_field(o, "proposal", f->proposal.b, KULA_HASH_LEN, e)) == 0 &&
            !json_is_boolean(json_object_get(o, "approve")))
            rc = bad(e, "\"approve\" must be true (yes) or false (no)");
        f->approve = json_is_true(json_object_get(o, "approve"));
        if (rc == 0)
            rc = text(o, "passphrase", false, f->passphrase, sizeof(f->passphrase), e);
        break;
    case KULA_WEB_FORM_FEEDBACK: {
        json_t *r = json_object_get(o, "rating");
        if ((rc = text(o, "about", false, f->to, sizeof(f->to), e)) == 0 &&
            (rc = text(o, "comment", true, f->comment, sizeof(f->comment), e)) == 0 &&
            (!json_is_integer(r) || json_integer_value(r) < 1 || json_integer_value(r) > 5))
            rc = bad(e, "\"rating\" must be a whole number from 1 to 5");
        f->rating = rc == 0 ? (unsigned)json_integer_value(r) : 0;
        if (rc == 0)
            rc = text(o, "passphrase", false, f->passphrase, sizeof(f->passphrase), e);
        if (rc == 0 && f->to[0] == '\0')
            rc = bad(e, "whom you rate is empty: give a member's name or number");
        break;
    }
    case KULA_WEB_FORM_INVOICE: {
        const char *act = json_string_value(json_object_get(o, "action"));
        if ((rc = hex_field(o, "invoice", f->proposal.b, KULA_HASH_LEN, e)) == 0 &&
            (act == NULL || (strcmp(act, "accept") != 0 && strcmp(act, "pay") != 0)))
            rc = bad(e, "\"action\" must be \"accept\" or \"pay\"");
        f->pay = rc == 0 && strcmp(act, "pay") == 0;
        if (rc == 0)
            rc = text(o, "passphrase", false, f->passphrase, sizeof(f->passphrase), e);
        break;
    }
    case KULA_WEB_FORM_STATEMENT:
        rc = statement_form(f, o, e);
        break;
    case KULA_WEB_FORM_OPEN:
    case KULA_WEB_FORM_SIGN:
        f->has_file = true;
        rc = txfile_parse(&f->file, json_object_get(o, "file"), e);
        if (rc == 0 && kind == KULA_WEB_FORM_SIGN)
            rc = text(o, "passphrase", false, f->passphrase, sizeof(f->passphrase), e);
        break;
    }
    if (rc == 0 && kind != KULA_WEB_FORM_LOGIN && kind != KULA_WEB_FORM_OPEN &&
        kind != KULA_WEB_FORM_STATEMENT && f->passphrase[0] == '\0')
        rc = bad(e, "the passphrase is empty: type the passphrase of your wallet key");
    json_decref(o);
    return rc;
}

void kula_web_form_free(kula_web_form *f)
{
    sodium_memzero(f->passphrase, sizeof(f->passphrase));
    if (f->has_file) {
        json_decref(f->file.root);
        free(f->file.bytes);
    }
    f->has_file = false;
}
