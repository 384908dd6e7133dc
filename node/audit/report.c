/* report.c -- the signed audit report: its canonical JSON document, the
 * auditor's signature and its verification (format in
 * include/kula/audit/report.h and proto/SPEC.md §13). */
#include "kula/audit/report.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kula/base/error.h"
#include "kula/types/genesis.h"

static const uint8_t TAG_AUDIT[KULA_TAG_LEN] = "kula/audit/v1";
static const char FORMAT[] = "kula/audit-report/1";
/* What kula_audit_run verifies (audit.h), in this order. */
static const char *const CHECKS[] = {
    "block links", "transactions roots", "commits", "transaction signatures",
    "ledger rules", "state roots", "distributions",
};
#define NCHECKS (sizeof(CHECKS) / sizeof(CHECKS[0]))
#define DUMP_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII)

void kula_report_of(kula_report *rep, const kula_genesis *g, const kula_audit_result *r,
                    uint64_t time_ms, const kula_pubkey *auditor)
{
    memset(rep, 0, sizeof(*rep));
    snprintf(rep->network, sizeof(rep->network), "%s", g->network);
    rep->chain_id = g->chain_id;
    rep->ok = r->ok;
    rep->tip_height = r->height;
    rep->tip_hash = r->tip_hash;
    rep->state_root = r->state_root;
    rep->blocks = r->blocks;
    rep->txs = r->txs;
    rep->tx_signatures = r->tx_signatures;
    rep->commit_signatures = r->commit_signatures;
    rep->settlements = r->settlements;
    rep->failed = !r->ok;
    if (rep->failed) {
        rep->failed_height = r->failed_height;
        snprintf(rep->failed_check, sizeof(rep->failed_check), "%s",
                 kula_audit_check_name(r->check));
        snprintf(rep->error, sizeof(rep->error), "%.*s", (int)sizeof(rep->error) - 1,
                 r->error.what);
    }
    rep->time_ms = time_ms / 1000 * 1000;
    rep->auditor = *auditor;
}

static json_t *hex(const uint8_t *b, size_t n)
{
    char s[2 * 64 + 1];
    kula_hex_encode(s, b, n);
    return json_string(s);
}

/* The document without its signature. */
static json_t *document(const kula_report *rep)
{
    char when[32];
    json_t *o = json_object(), *checks = json_array(), *failure = json_null();
    for (size_t i = 0; i < NCHECKS; i++)
        json_array_append_new(checks, json_string(CHECKS[i]));
    if (rep->failed)
        failure = json_pack("{s:I,s:s,s:s}", "height", (json_int_t)rep->failed_height, "check",
                            rep->failed_check, "error", rep->error);
    kula_format_utc(when, sizeof(when), rep->time_ms);
    json_object_set_new(o, "format", json_string(FORMAT));
    json_object_set_new(o, "network", json_string(rep->network));
    json_object_set_new(o, "chain_id", hex(rep->chain_id.b, KULA_HASH_LEN));
    json_object_set_new(o, "ok", json_boolean(rep->ok));
    json_object_set_new(o, "tip_height", json_integer((json_int_t)rep->tip_height));
    json_object_set_new(o, "tip_hash", hex(rep->tip_hash.b, KULA_HASH_LEN));
    json_object_set_new(o, "state_root", hex(rep->state_root.b, KULA_HASH_LEN));
    json_object_set_new(o, "checks", checks);
    json_object_set_new(o, "blocks", json_integer((json_int_t)rep->blocks));
    json_object_set_new(o, "transactions", json_integer((json_int_t)rep->txs));
    json_object_set_new(o, "tx_signatures", json_integer((json_int_t)rep->tx_signatures));
    json_object_set_new(o, "commit_signatures",
                        json_integer((json_int_t)rep->commit_signatures));
    json_object_set_new(o, "settlements", json_integer((json_int_t)rep->settlements));
    json_object_set_new(o, "failure", failure);
    json_object_set_new(o, "time", json_string(when));
    json_object_set_new(o, "auditor", hex(rep->auditor.b, KULA_PUBKEY_LEN));
    return o;
}

int kula_report_digest(char **doc, kula_hash *digest, const kula_report *rep)
{
    json_t *o = document(rep);
    char *s = o != NULL ? json_dumps(o, DUMP_FLAGS) : NULL;
    json_decref(o);
    if (s == NULL)
        return KULA_ENOMEM;
    kula_signing_digest(digest, TAG_AUDIT, &rep->chain_id, s, strlen(s));
    if (doc != NULL)
        *doc = s;
    else
        free(s);
    return KULA_OK;
}

int kula_report_sign(char **text, const kula_report *rep, const kula_seckey *sk,
                     const uint8_t *aux)
{
    kula_pubkey pk;
    if (kula_key_public(&pk, sk) != 0 || memcmp(pk.b, rep->auditor.b, KULA_PUBKEY_LEN) != 0)
        return KULA_EBADKEY;
    kula_hash digest;
    int rc = kula_report_digest(NULL, &digest, rep);
    if (rc != 0)
        return rc;
    kula_sig sig;
    rc = aux != NULL ? kula_sign_aux(&sig, sk, digest.b, aux) : kula_sign(&sig, sk, digest.b);
    if (rc != 0)
        return rc;
    json_t *o = document(rep);
    if (o == NULL)
        return KULA_ENOMEM;
    json_object_set_new(o, "signature", hex(sig.b, KULA_SIG_LEN));
    char *s = json_dumps(o, DUMP_FLAGS);
    json_decref(o);
    if (s == NULL)
        return KULA_ENOMEM;
    size_t n = strlen(s);
    char *t = realloc(s, n + 2);
    if (t == NULL) {
        free(s);
        return KULA_ENOMEM;
    }
    t[n] = '\n';
    t[n + 1] = '\0';
    *text = t;
    return KULA_OK;
}

static bool get_hex(json_t *o, const char *key, uint8_t *out, size_t n)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL && strlen(s) == 2 * n && kula_hex_decode(out, n, s) == 0;
}

static bool get_u64(json_t *o, const char *key, uint64_t *v)
{
    json_t *j = json_object_get(o, key);
    if (!json_is_integer(j) || json_integer_value(j) < 0)
        return false;
    *v = (uint64_t)json_integer_value(j);
    return true;
}

static bool get_str(json_t *o, const char *key, char *out, size_t cap)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (s == NULL || strlen(s) >= cap)
        return false;
    memcpy(out, s, strlen(s) + 1);
    return true;
}

/* Fills rep from the parsed document; NULL or the first key that is wrong. */
static const char *fields(json_t *o, kula_report *rep, kula_sig *sig)
{
    char when[32];
    json_t *failure = json_object_get(o, "failure");
    if (!json_is_string(json_object_get(o, "format")) ||
        strcmp(json_string_value(json_object_get(o, "format")), FORMAT) != 0)
        return "format";
    if (!get_str(o, "network", rep->network, sizeof(rep->network)))
        return "network";
    if (!get_hex(o, "chain_id", rep->chain_id.b, KULA_HASH_LEN))
        return "chain_id";
    if (!json_is_boolean(json_object_get(o, "ok")))
        return "ok";
    rep->ok = json_is_true(json_object_get(o, "ok"));
    if (!get_u64(o, "tip_height", &rep->tip_height))
        return "tip_height";
    if (!get_hex(o, "tip_hash", rep->tip_hash.b, KULA_HASH_LEN))
        return "tip_hash";
    if (!get_hex(o, "state_root", rep->state_root.b, KULA_HASH_LEN))
        return "state_root";
    if (!get_u64(o, "blocks", &rep->blocks))
        return "blocks";
    if (!get_u64(o, "transactions", &rep->txs))
        return "transactions";
    if (!get_u64(o, "tx_signatures", &rep->tx_signatures))
        return "tx_signatures";
    if (!get_u64(o, "commit_signatures", &rep->commit_signatures))
        return "commit_signatures";
    if (!get_u64(o, "settlements", &rep->settlements))
        return "settlements";
    rep->failed = !json_is_null(failure);
    if (rep->failed &&
        (!get_u64(failure, "height", &rep->failed_height) ||
         !get_str(failure, "check", rep->failed_check, sizeof(rep->failed_check)) ||
         !get_str(failure, "error", rep->error, sizeof(rep->error)) || json_object_size(failure) != 3))
        return "failure";
    if (rep->failed == rep->ok)
        return "failure";
    if (!get_str(o, "time", when, sizeof(when)) || kula_parse_utc(when, &rep->time_ms) != 0)
        return "time";
    if (!get_hex(o, "auditor", rep->auditor.b, KULA_PUBKEY_LEN))
        return "auditor";
    if (!get_hex(o, "signature", sig->b, KULA_SIG_LEN))
        return "signature";
    json_t *checks = json_object_get(o, "checks");
    if (json_array_size(checks) != NCHECKS)
        return "checks";
    for (size_t i = 0; i < NCHECKS; i++)
        if (!json_is_string(json_array_get(checks, i)) ||
            strcmp(json_string_value(json_array_get(checks, i)), CHECKS[i]) != 0)
            return "checks";
    if (json_object_size(o) != 17)
        return "keys";
    return NULL;
}

int kula_report_verify(kula_report *rep, const char *text, size_t len, kula_error *e)
{
    memset(rep, 0, sizeof(*rep));
    if (len > KULA_REPORT_MAX)
        return kula_error_set(e, KULA_EINVAL, "not an audit report: longer than %d bytes",
                              KULA_REPORT_MAX);
    json_error_t je;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (o == NULL || !json_is_object(o)) {
        json_decref(o);
        return kula_error_set(e, KULA_EINVAL, "not an audit report: %s",
                              o == NULL ? je.text : "not a JSON object");
    }
    kula_sig sig;
    const char *wrong = fields(o, rep, &sig);
    char *canon = wrong == NULL ? json_dumps(o, DUMP_FLAGS) : NULL;
    json_decref(o);
    if (wrong != NULL)
        return kula_error_set(e, KULA_EINVAL, "not an audit report: '%s' is missing or wrong",
                              wrong);
    if (canon == NULL)
        return kula_error_set(e, KULA_ENOMEM, "out of memory reading the report");
    /* the file is exactly the canonical document and a LF: any other byte
     * is an alteration */
    size_t n = strlen(canon);
    bool same = len == n + 1 && memcmp(text, canon, n) == 0 && text[n] == '\n';
    free(canon);
    if (!same)
        return kula_error_set(e, KULA_EINVAL,
                              "the report is altered: it is not in its canonical form");
    kula_hash digest;
    int rc = kula_report_digest(NULL, &digest, rep);
    if (rc != 0)
        return kula_error_set(e, rc, "cannot compute the report's digest: %s", kula_strerror(rc));
    if (!kula_verify(&rep->auditor, digest.b, &sig))
        return kula_error_set(e, KULA_EBADSIG,
                              "the signature does not verify: the report was altered or not "
                              "signed by its auditor key");
    return KULA_OK;
}
