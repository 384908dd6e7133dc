/* txflow.c -- the steps every kula transaction command shares. */
#include "txflow.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kula/base/amount.h"
#include "kula/base/error.h"
#include "kula/types/genesis.h"
#include "kula/types/txjson.h"
#include "remedy.h"
#include "rpc_client.h"

uint64_t tx_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* "6 days 23 hours", "5 hours 2 minutes", "3 minutes", "less than a minute" */
static void span_words(char *buf, size_t cap, uint64_t ms)
{
    uint64_t min = ms / 60000, h = min / 60, d = h / 24;
    if (d > 0)
        snprintf(buf, cap, "%llu day%s %llu hour%s", (unsigned long long)d, d == 1 ? "" : "s",
                 (unsigned long long)(h % 24), h % 24 == 1 ? "" : "s");
    else if (h > 0)
        snprintf(buf, cap, "%llu hour%s %llu minute%s", (unsigned long long)h, h == 1 ? "" : "s",
                 (unsigned long long)(min % 60), min % 60 == 1 ? "" : "s");
    else if (min > 0)
        snprintf(buf, cap, "%llu minute%s", (unsigned long long)min, min == 1 ? "" : "s");
    else
        snprintf(buf, cap, "less than a minute");
}

void tx_expiry_words(char *buf, size_t cap, uint64_t expires, uint64_t now)
{
    char when[64], span[64];
    if (expires > INT64_MAX)
        snprintf(when, sizeof(when), "the far future");
    else
        cli_local_time(when, sizeof(when), (int64_t)expires, false);
    if (now <= expires) {
        span_words(span, sizeof(span), expires - now);
        snprintf(buf, cap, "valid until %s (in %s)", when, span);
    } else {
        span_words(span, sizeof(span), now - expires);
        snprintf(buf, cap, "expired on %s (%s ago)", when, span);
    }
}

int tx_parse_when(const char *s, uint64_t now, uint64_t *ms)
{
    size_t n = strlen(s);
    if (n >= 2 && n <= 10 && strspn(s, "0123456789") == n - 1) {
        uint64_t unit;
        switch (s[n - 1]) {
        case 'm': unit = 60000; break;
        case 'h': unit = 3600000; break;
        case 'd': unit = 86400000; break;
        case 'w': unit = 7 * UINT64_C(86400000); break;
        default: return -1;
        }
        uint64_t count = strtoull(s, NULL, 10); /* at most 9 digits: no overflow */
        if (count == 0)
            return -1;
        *ms = now + count * unit;
        return 0;
    }
    char full[32];
    if (n == 10) /* 2026-12-24: to its last millisecond */
        snprintf(full, sizeof(full), "%sT23:59:59Z", s);
    else if (n == 17 && s[16] == 'Z') /* 2026-12-24T18:00Z */
        snprintf(full, sizeof(full), "%.16s:00Z", s);
    else if (n == 20) /* 2026-12-24T18:00:00Z */
        snprintf(full, sizeof(full), "%s", s);
    else
        return -1;
    if (kula_parse_utc(full, ms) != 0)
        return -1;
    if (n == 10)
        *ms += 999;
    return 0;
}

int tx_common_check(const tx_opts *o)
{
    /* A transaction submitted at once is sequenced (LEDGER.md §2.2): it
     * takes the next nonce and needs no expiry. */
    if (o->expires != 0 && o->out == NULL)
        return cli_fail(CLI_USAGE, "--expires goes with --out FILE: it says how long the "
                                   "co-signers have; a transaction submitted at once needs none");
    return CLI_OK;
}

int tx_common_opt(tx_opts *o, int opt, const char *arg)
{
    char *end;
    unsigned long v;
    uint64_t now;
    switch (opt) {
    case 'K': o->key = arg; return 1;
    case 'M': o->memo = arg; return 1;
    case 'O': o->out = arg; return 1;
    case 'E':
        now = tx_now_ms();
        if (tx_parse_when(arg, now, &o->expires) != 0) {
            cli_fail(CLI_USAGE, "--expires '%s': give a duration (90m, 36h, 7d, 2w), a UTC date "
                                "(2026-12-24, to the end of that day) or a UTC time "
                                "(2026-12-24T18:00Z)", arg);
            return -1;
        }
        if (o->expires <= now) {
            char when[64];
            cli_local_time(when, sizeof(when), (int64_t)o->expires, false);
            cli_fail(CLI_USAGE, "--expires '%s': %s is in the past; give a later date or a "
                                "duration (90m, 36h, 7d, 2w)", arg, when);
            return -1;
        }
        return 1;
    case 'W': o->no_wait = true; return 1;
    case 'T':
        v = strtoul(arg, &end, 10);
        if (*end != '\0' || v == 0 || v > 3600) {
            cli_fail(CLI_USAGE, "--timeout: seconds from 1 to 3600");
            return -1;
        }
        o->timeout = (unsigned)v;
        return 1;
    default:
        return 0;
    }
}

/* The nonce to sign with: the node's next usable one, which counts the
 * member's pending transactions (a node without it: after the last
 * committed). */
static uint64_t next_nonce_of(json_t *member)
{
    json_t *next = json_object_get(member, "next_nonce");
    if (json_is_integer(next))
        return (uint64_t)json_integer_value(next);
    return (uint64_t)json_integer_value(json_object_get(member, "nonce")) + 1;
}

int tx_begin(cli *c, const tx_opts *o, txctx *t)
{
    memset(t, 0, sizeof(*t));
    t->c = c;
    t->o = *o;
    if (t->o.timeout == 0)
        t->o.timeout = 30;
    if (o->key == NULL)
        return cli_fail(CLI_USAGE, "--key NAME is required (see kula keys list)");
    if (o->memo != NULL && strlen(o->memo) > KULA_MAX_MEMO)
        return cli_fail(CLI_USAGE, "--memo: at most %u bytes", KULA_MAX_MEMO);
    json_t *st;
    int rc = rpc_call(c, "status", NULL, &st, NULL, false);
    if (rc != CLI_OK)
        return rc;
    const char *chain = json_string_value(json_object_get(st, "chain_id"));
    if (chain == NULL || kula_hex_decode(t->chain_id.b, KULA_HASH_LEN, chain) != 0) {
        json_decref(st);
        return cli_fail(CLI_UNREACHABLE, "the node's status has no chain id");
    }
    snprintf(t->network, sizeof(t->network), "%s",
             json_string_value(json_object_get(st, "network")));
    t->decimals = (unsigned)json_integer_value(json_object_get(st, "decimals"));
    snprintf(t->unit, sizeof(t->unit), "%s", json_string_value(json_object_get(st, "unit")));
    json_decref(st);
    if (t->decimals > 18)
        return cli_fail(CLI_UNREACHABLE, "the node reports %u decimals (at most 18 expected)",
                        t->decimals);
    if ((rc = cli_unlock(c, o->key, &t->sk, &t->pk)) != 0)
        return rc;
    char hex[2 * KULA_PUBKEY_LEN + 1];
    kula_hex_encode(hex, t->pk.b, KULA_PUBKEY_LEN);
    json_t *m;
    int code;
    rc = rpc_call(c, "member", json_pack("{s:s}", "member", hex), &m, &code, true);
    if (rc == CLI_REFUSED)
        return cli_fail(CLI_REFUSED, "key '%s' (%.16s...) belongs to no member of %s yet",
                        o->key, hex, t->network);
    if (rc != CLI_OK)
        return rc;
    t->me = (uint32_t)json_integer_value(json_object_get(m, "id"));
    t->nonce = next_nonce_of(m);
    json_decref(m);
    return CLI_OK;
}

void tx_end(txctx *t)
{
    kula_seckey_wipe(&t->sk);
}

int tx_member(txctx *t, const char *spec, uint32_t *id)
{
    json_t *m, *param;
    char *end;
    unsigned long v = strtoul(spec, &end, 10);
    if (*spec != '\0' && *end == '\0' && v > 0 && v <= UINT32_MAX)
        param = json_pack("{s:I}", "member", (json_int_t)v);
    else
        param = json_pack("{s:s}", "member", spec);
    int rc = rpc_call(t->c, "member", param, &m, NULL, false);
    if (rc != CLI_OK)
        return rc;
    *id = (uint32_t)json_integer_value(json_object_get(m, "id"));
    json_decref(m);
    return CLI_OK;
}

int tx_amount(txctx *t, const char *text, const char *what, int64_t *out)
{
    char msg[512];
    if (cli_amount_parse(out, what, text, t->network, t->unit, t->decimals, msg, sizeof(msg)) != 0)
        return cli_fail(CLI_USAGE, "%s", msg);
    return CLI_OK;
}

void tx_init(txctx *t, kula_tx *tx, uint8_t kind)
{
    memset(tx, 0, sizeof(*tx));
    tx->kind = kind;
    tx->from = t->me;
    tx->nonce = t->nonce;
    if (t->o.memo != NULL) {
        tx->memo.p = t->o.memo;
        tx->memo.n = strlen(t->o.memo);
    }
}

static const char *status_of(json_t *r) { return json_string_value(json_object_get(r, "status")); }

/* The node's refusal (its words, in c->last_error) with the numbers behind
 * it and what to do (remedy.h).  Out: buf[cap].  Returns: buf. */
static const char *refusal(cli *c, int code, char *buf, size_t cap)
{
    json_t *data = json_incref((json_t *)rpc_last_error_data());
    char msg[sizeof(c->last_error)], unit[64] = "", words[1600];
    json_t *st;
    unsigned decimals = 0;
    snprintf(msg, sizeof(msg), "%s", c->last_error);
    if (remedy_text(code) != NULL || data != NULL) {
        if (rpc_call(c, "status", NULL, &st, NULL, true) == CLI_OK) {
            decimals = (unsigned)json_integer_value(json_object_get(st, "decimals"));
            snprintf(unit, sizeof(unit), "%s", json_string_value(json_object_get(st, "unit")));
            json_decref(st);
        }
    }
    rpc_names nm = { c, NULL };
    txview v = { decimals <= 18 ? decimals : 0, unit, rpc_name_of, &nm, cli_local_time };
    remedy_words(words, sizeof(words), code, data, &v);
    json_decref(nm.last);
    json_decref(data);
    snprintf(buf, cap, "%s%s%s", msg, words[0] ? ". " : "", words);
    return buf;
}

/* Whether the node refused a transaction (code, and the refusal's data from
 * rpc_last_error_data) because another of the same key (another terminal)
 * took its nonce first: pending (ENONCEPENDING), the very same payment
 * (EDUPTX; EREPLAYED once committed), or another one committed already
 * (ENONCE, with the node's next nonce past this one's: spent; not one too
 * far ahead). */
static bool nonce_taken(int code)
{
    if (code == KULA_ENONCE) {
        const json_t *d = rpc_last_error_data();
        return json_integer_value(json_object_get(d, "next_nonce")) >
               json_integer_value(json_object_get(d, "nonce"));
    }
    return code == KULA_ENONCEPENDING || code == KULA_EDUPTX || code == KULA_EREPLAYED;
}

/* Submits signed bytes.  Out: id (hex) when accepted; *taken (when taken is
 * not NULL), whether it was refused for a nonce another transaction took
 * (nonce_taken): that refusal is not printed, the caller signs again.
 * Returns: an exit code. */
static int submit_once(cli *c, const uint8_t *bytes, size_t len, char id[2 * KULA_HASH_LEN + 1],
                       bool *taken)
{
    char *hex = malloc(2 * len + 1);
    if (hex == NULL)
        return cli_fail(CLI_REFUSED, "out of memory");
    kula_hex_encode(hex, bytes, len);
    json_t *r;
    int code = 0;
    if (taken != NULL)
        *taken = false;
    /* quietly first, so that the one refusal the caller retries is silent */
    int rc = rpc_call(c, "submit", json_pack("{s:s}", "tx", hex), &r, &code, true);
    free(hex);
    if (rc == CLI_REFUSED && taken != NULL && nonce_taken(code)) {
        *taken = true;
        return rc;
    }
    if (rc == CLI_REFUSED) {
        /* the node's own words, from this answer, and what to do */
        char why[2400];
        return cli_fail(CLI_REFUSED, "%s", refusal(c, code, why, sizeof(why)));
    }
    if (rc != CLI_OK)
        return rc;
    snprintf(id, 2 * KULA_HASH_LEN + 1, "%s", json_string_value(json_object_get(r, "id")));
    json_decref(r);
    return CLI_OK;
}

int tx_check(cli *c, const uint8_t *bytes, size_t len)
{
    char *hex = malloc(2 * len + 1);
    if (hex == NULL)
        return cli_fail(CLI_REFUSED, "out of memory");
    kula_hex_encode(hex, bytes, len);
    json_t *r;
    int code = 0;
    int rc = rpc_call(c, "check", json_pack("{s:s}", "tx", hex), &r, &code, true);
    free(hex);
    if (rc == CLI_OK) {
        json_decref(r);
        return CLI_OK;
    }
    if (rc != CLI_REFUSED)
        return rc;
    char why[2400];
    return cli_fail(CLI_REFUSED, "nothing was signed or written: %s",
                    refusal(c, code, why, sizeof(why)));
}

/* Waits until the transaction id is committed or rejected, or timeout
 * seconds passed; says which, in words and with --json.  Returns: CLI_OK
 * once committed, else CLI_REFUSED. */
static int wait_commit(cli *c, const char *id, unsigned timeout)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        json_t *r;
        int rc = rpc_call(c, "tx", json_pack("{s:s}", "id", id), &r, NULL, false);
        if (rc != CLI_OK)
            return rc;
        const char *s = status_of(r);
        if (s != NULL && strcmp(s, "committed") == 0) {
            json_int_t h = json_integer_value(json_object_get(r, "height"));
            if (c->json)
                printf("{\"id\":\"%s\",\"status\":\"committed\",\"height\":%lld}\n", id,
                       (long long)h);
            else
                printf("transaction %s committed at height %lld\n", id, (long long)h);
            json_decref(r);
            return CLI_OK;
        }
        if (s != NULL && (strcmp(s, "rejected") == 0 || strcmp(s, "expired") == 0)) {
            const char *reason = json_string_value(json_object_get(r, "reason"));
            if (c->json)
                printf("{\"id\":\"%s\",\"status\":\"%s\",\"reason\":\"%s\"}\n", id, s,
                       reason != NULL ? reason : "unknown");
            const char *remedy =
                remedy_text(remedy_code_of(json_string_value(json_object_get(r, "error"))));
            rc = cli_fail(CLI_REFUSED, "transaction %s %s: %s%s%s%s", id,
                          strcmp(s, "expired") == 0 ? "expired unconfirmed" : "rejected",
                          reason != NULL ? reason : "no reason given",
                          remedy != NULL ? ". What to do: " : "", remedy != NULL ? remedy : "",
                          remedy != NULL ? "." : "");
            json_decref(r);
            return rc;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec >= (time_t)timeout) {
            /* what is printed is copied before r (which s points into)
             * is released */
            bool pending = s != NULL && strcmp(s, "pending") == 0;
            const char *waiting = json_string_value(json_object_get(r, "waiting_for"));
            char what[160];
            if (pending)
                snprintf(what, sizeof(what), "still pending, waiting for %s",
                         waiting != NULL ? waiting : "a block");
            else
                snprintf(what, sizeof(what), "the node does not know it any more (%s)",
                         s != NULL ? s : "no status");
            json_decref(r);
            if (c->json)
                printf("{\"id\":\"%s\",\"status\":\"%s\"}\n", id,
                       pending ? "pending" : "unknown");
            return cli_fail(CLI_REFUSED,
                            "transaction %s not committed after %u s: %s (kula tx %s tells "
                            "later)",
                            id, timeout, what, id);
        }
        json_decref(r);
        usleep(200 * 1000);
    }
}

static int accepted(cli *c, const char *id, bool no_wait, unsigned timeout)
{
    if (!no_wait)
        return wait_commit(c, id, timeout);
    if (c->json)
        printf("{\"id\":\"%s\",\"status\":\"pending\"}\n", id);
    else
        printf("transaction %s accepted, waiting for a block\n", id);
    return CLI_OK;
}

int tx_submit_bytes(cli *c, const uint8_t *bytes, size_t len, bool no_wait, unsigned timeout)
{
    char id[2 * KULA_HASH_LEN + 1];
    int rc = submit_once(c, bytes, len, id, NULL);
    return rc != CLI_OK ? rc : accepted(c, id, no_wait, timeout);
}

/* Signs tx alone with the next nonce and submits it.  Another transaction
 * of the same key sent at the same moment (another terminal) may take that
 * nonce first: the node refuses this one (ENONCEPENDING, or EDUPTX when the
 * other is the very same payment, which this process never sent before,
 * or EREPLAYED when that one is committed already, or ENONCE when another
 * payment took the nonce and is committed already), and it is signed again
 * with the next free nonce, a bounded number of times. */
static int submit_sequenced(txctx *t, kula_tx *tx)
{
    kula_buf body, signed_tx;
    kula_buf_init(&body);
    kula_buf_init(&signed_tx);
    char id[2 * KULA_HASH_LEN + 1];
    int rc = CLI_REFUSED;
    for (unsigned attempt = 0;; attempt++) {
        kula_buf_reset(&signed_tx);
        tx->nsigs = 0;
        int k = kula_tx_seal(tx, &body);
        if (k == 0)
            k = kula_tx_sign(tx, &t->chain_id, t->me, &t->sk);
        if (k == 0)
            k = kula_tx_encode(&signed_tx, tx);
        if (k != 0) {
            rc = cli_fail(CLI_REFUSED, "cannot build the transaction: %s", kula_strerror(k));
            break;
        }
        bool taken = false;
        rc = submit_once(t->c, signed_tx.data, signed_tx.len, id, attempt < 100 ? &taken : NULL);
        if (!taken)
            break;
        json_t *m;
        char hex[2 * KULA_PUBKEY_LEN + 1];
        kula_hex_encode(hex, t->pk.b, KULA_PUBKEY_LEN);
        if ((rc = rpc_call(t->c, "member", json_pack("{s:s}", "member", hex), &m, NULL,
                           false)) != CLI_OK)
            break;
        uint64_t next = next_nonce_of(m);
        json_decref(m);
        tx->nonce = next > tx->nonce ? next : tx->nonce + 1;
    }
    kula_buf_free(&body);
    kula_buf_free(&signed_tx);
    if (rc != CLI_OK)
        return rc;
    return accepted(t->c, id, t->o.no_wait, t->o.timeout);
}

/* The co-signing file: JSON with the network, the partly signed tx and the
 * members who must sign, with their keys so that signing needs no node.
 * "expires" repeats the tx's expiry for people; the signed body is what
 * counts. */
static int write_tx_file(txctx *t, const char *path, const kula_tx *tx,
                         const kula_buf *signed_tx, const uint32_t *required, uint32_t n)
{
    json_t *req = json_array();
    for (uint32_t i = 0; i < n; i++) {
        json_t *m;
        int rc = rpc_call(t->c, "member", json_pack("{s:I}", "member", (json_int_t)required[i]),
                          &m, NULL, false);
        if (rc != CLI_OK) {
            json_decref(req);
            return rc;
        }
        json_array_append_new(req, json_pack("{s:I, s:O, s:O}", "member",
                                             (json_int_t)required[i], "name",
                                             json_object_get(m, "name"), "pubkey",
                                             json_object_get(m, "pubkey")));
        json_decref(m);
    }
    char expires[32];
    kula_format_utc(expires, sizeof(expires), tx->expires);
    json_t *f = json_pack("{s:i, s:s, s:o, s:s, s:o, s:o}", "kula_tx", 1, "network", t->network,
                          "chain_id", kula_json_hex(t->chain_id.b, KULA_HASH_LEN), "expires",
                          expires, "tx", kula_json_hex(signed_tx->data, signed_tx->len),
                          "required", req);
    char tmp[1200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int rc = json_dump_file(f, tmp, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(f);
    if (rc != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return cli_fail(CLI_REFUSED, "cannot write %s: %s", path, strerror(errno));
    }
    return CLI_OK;
}

int tx_finish(txctx *t, kula_tx *tx, const uint32_t *required, uint32_t n)
{
    int rc = tx_common_check(&t->o);
    if (rc != CLI_OK)
        return rc;
    if (t->o.out != NULL) {
        /* LEDGER.md §2.2: a file travels among the signers for days, while
         * the initiator goes on transacting; holding its next nonce it
         * would go stale.  Unsequenced and dated, it commits once and not
         * after its expiry. */
        tx->nonce = 0;
        tx->expires = t->o.expires != 0 ? t->o.expires : tx_now_ms() + TX_VALIDITY_MS;
    }
    kula_buf body, signed_tx;
    kula_buf_init(&body);
    kula_buf_init(&signed_tx);
    rc = kula_tx_seal(tx, &body);
    if (rc == 0)
        rc = kula_tx_sign(tx, &t->chain_id, t->me, &t->sk);
    if (rc == 0)
        rc = kula_tx_encode(&signed_tx, tx);
    if (rc != 0) {
        kula_buf_free(&body);
        kula_buf_free(&signed_tx);
        return cli_fail(CLI_REFUSED, "cannot build the transaction: %s", kula_strerror(rc));
    }
    bool alone = n == 1 && required[0] == t->me;
    if (alone && t->o.out == NULL) {
        rc = submit_sequenced(t, tx);
    } else if (t->o.out == NULL) {
        rc = cli_fail(CLI_USAGE, "this transaction needs the signatures of %u members: write it "
                                 "for them with --out FILE, then 'kula sign FILE' and "
                                 "'kula submit FILE'", n);
    } else if ((rc = tx_check(t->c, signed_tx.data, signed_tx.len)) == CLI_OK) {
        rc = write_tx_file(t, t->o.out, tx, &signed_tx, required, n);
        if (rc == CLI_OK) {
            char id[65], valid[160];
            kula_hex_encode(id, tx->id.b, KULA_HASH_LEN);
            tx_expiry_words(valid, sizeof(valid), tx->expires, tx_now_ms());
            printf("transaction %s written to %s, signed by member %u\n", id, t->o.out, t->me);
            printf("%s: it commits in no block after that\n", valid);
            if (alone) {
                printf("it is complete: kula submit %s\n", t->o.out);
            } else {
                printf("still to sign:");
                for (uint32_t i = 0; i < n; i++)
                    if (required[i] != t->me)
                        printf(" %u", required[i]);
                printf("  (kula sign %s --key NAME; then kula submit %s)\n", t->o.out,
                       t->o.out);
            }
        }
    }
    kula_buf_free(&body);
    kula_buf_free(&signed_tx);
    return rc;
}
