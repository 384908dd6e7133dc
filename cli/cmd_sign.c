/* cmd_sign.c -- multi-party signing: kula sign FILE, kula submit FILE. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kula/base/error.h"
#include "kula/crypto/keystore.h"
#include "kula/types/txjson.h"
#include "rpc_client.h"
#include "txflow.h"
#include "kula/audit/txview.h"

/* A co-signing file, loaded and checked. */
typedef struct txfile {
    json_t *root;
    kula_hash chain_id;
    uint8_t *bytes;        /* the signed tx so far */
    size_t len;
    kula_tx tx;            /* borrows bytes */
    uint32_t nreq;
    uint32_t req[KULA_MAX_PARTIES];
    kula_pubkey req_keys[KULA_MAX_PARTIES];
} txfile;

static void txfile_free(txfile *f)
{
    json_decref(f->root);
    free(f->bytes);
}

static int bad_file(const char *path, const char *why)
{
    return cli_fail(CLI_REFUSED, "%s is not a valid transaction file: %s", path, why);
}

static int txfile_load(txfile *f, const char *path)
{
    memset(f, 0, sizeof(*f));
    json_error_t jerr;
    f->root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (f->root == NULL) {
        if (access(path, R_OK) != 0)
            return cli_fail(CLI_REFUSED, "cannot read %s: %s", path, strerror(errno));
        return cli_fail(CLI_REFUSED, "%s is not a valid transaction file: line %d: %s", path,
                        jerr.line, jerr.text);
    }
    if (json_integer_value(json_object_get(f->root, "kula_tx")) != 1)
        return bad_file(path, "no \"kula_tx\": 1");
    const char *chain = json_string_value(json_object_get(f->root, "chain_id"));
    const char *hex = json_string_value(json_object_get(f->root, "tx"));
    json_t *req = json_object_get(f->root, "required");
    if (chain == NULL || kula_hex_decode(f->chain_id.b, KULA_HASH_LEN, chain) != 0)
        return bad_file(path, "bad chain_id");
    if (hex == NULL)
        return bad_file(path, "no \"tx\" string");
    if (strlen(hex) % 2 != 0)
        return bad_file(path, "\"tx\" has an odd number of hex digits (truncated?)");
    if (strlen(hex) / 2 > KULA_MAX_TX_BYTES)
        return bad_file(path, "\"tx\" is larger than a transaction can be");
    f->len = strlen(hex) / 2;
    f->bytes = malloc(f->len ? f->len : 1);
    if (f->bytes == NULL || kula_hex_decode(f->bytes, f->len, hex) != 0)
        return bad_file(path, "tx is not hex");
    int rc = kula_tx_decode(&f->tx, f->bytes, f->len);
    if (rc != 0) {
        char why[128];
        snprintf(why, sizeof(why), "tx does not decode: %s", kula_strerror(rc));
        return bad_file(path, why);
    }
    if (!json_is_array(req) || json_array_size(req) == 0 ||
        json_array_size(req) > KULA_MAX_PARTIES)
        return bad_file(path, "bad list of required signers");
    for (size_t i = 0; i < json_array_size(req); i++) {
        json_t *r = json_array_get(req, i);
        json_int_t m = json_integer_value(json_object_get(r, "member"));
        const char *pk = json_string_value(json_object_get(r, "pubkey"));
        if (m <= 0 || m > UINT32_MAX || pk == NULL ||
            kula_hex_decode(f->req_keys[i].b, KULA_PUBKEY_LEN, pk) != 0)
            return bad_file(path, "bad required signer");
        f->req[i] = (uint32_t)m;
    }
    f->nreq = (uint32_t)json_array_size(req);
    /* every signature already present must verify */
    kula_hash digest;
    kula_tx_sighash(&digest, &f->chain_id, &f->tx);
    for (uint32_t i = 0; i < f->tx.nsigs; i++) {
        int at = -1;
        for (uint32_t k = 0; k < f->nreq; k++)
            if (f->req[k] == f->tx.sigs[i].signer)
                at = (int)k;
        if (at < 0 || !kula_verify(&f->req_keys[at], digest.b, &f->tx.sigs[i].sig))
            return bad_file(path, "a signature in it does not verify");
    }
    return CLI_OK;
}

static bool has_signed(const txfile *f, uint32_t member)
{
    for (uint32_t i = 0; i < f->tx.nsigs; i++)
        if (f->tx.sigs[i].signer == member)
            return true;
    return false;
}

/* The required members who have not signed yet, in words: "still to sign:
 * member 2 (alice), member 3 (bob)", or that every one has.
 * Out: buf[cap]; list (when not NULL) gets {member, name} of each. */
static void missing_words(const txfile *f, char *buf, size_t cap, json_t *list)
{
    size_t at = 0;
    buf[0] = '\0';
    for (uint32_t i = 0; i < f->nreq; i++) {
        if (has_signed(f, f->req[i]))
            continue;
        json_t *r = json_array_get(json_object_get(f->root, "required"), i);
        const char *name = json_string_value(json_object_get(r, "name"));
        if (list != NULL)
            json_array_append_new(list, json_pack("{s:I, s:s?}", "member",
                                                  (json_int_t)f->req[i], "name", name));
        if (at < cap)
            at += (size_t)snprintf(buf + at, cap - at, "%s member %u (%s)",
                                   at == 0 ? "still to sign:" : ",", f->req[i],
                                   name != NULL ? name : "?");
    }
    if (at == 0)
        snprintf(buf, cap, "every required member has signed: kula submit FILE");
}

/* LEDGER.md §2.2: no block after the expiry takes the transaction, so
 * nobody should sign or send it any more.  Returns: CLI_OK while it may
 * still commit, else CLI_REFUSED after saying so. */
static int refuse_expired(const txfile *f, const char *path)
{
    uint64_t now = tx_now_ms();
    if (f->tx.expires == 0 || now <= f->tx.expires)
        return CLI_OK;
    char words[160];
    tx_expiry_words(words, sizeof(words), f->tx.expires, now);
    return cli_fail(CLI_REFUSED, "the transaction in %s %s and can no longer be committed: "
                                 "the initiator (member %u) must write a new one",
                    path, words, f->tx.from);
}

/* How long the transaction may still commit, in words. */
static void print_validity(FILE *out, const txfile *f)
{
    if (f->tx.expires == 0) {
        /* a file of an older kula: it holds its initiator's nonce */
        fprintf(out, "no expiry: it holds member %u's nonce %llu, and is refused once member %u "
               "commits another transaction first\n",
               f->tx.from, (unsigned long long)f->tx.nonce, f->tx.from);
        return;
    }
    char words[160];
    tx_expiry_words(words, sizeof(words), f->tx.expires, tx_now_ms());
    fprintf(out, "%s\n", words);
}

/* The signer's view of the network, asked of the node: unit, names (the
 * file's signers first) and the agreement the transaction is about. */
typedef struct signview {
    cli *c;
    const txfile *f;
    txview v;
    char unit[64];
    json_t *names;     /* "id" -> name, asked once each */
    json_t *agreement; /* or NULL */
} signview;

static const char *sign_name(void *ctx, int64_t id)
{
    signview *s = ctx;
    char key[24];
    snprintf(key, sizeof(key), "%lld", (long long)id);
    json_t *name = json_object_get(s->names, key);
    if (name == NULL) {
        json_t *m = NULL;
        if (rpc_call(s->c, "member", json_pack("{s:I}", "member", (json_int_t)id), &m, NULL,
                     true) == CLI_OK)
            name = json_incref(json_object_get(m, "name"));
        json_decref(m);
        json_object_set_new(s->names, key, name != NULL ? name : json_null());
    }
    return json_string_value(name);
}

/* Asks the node for what the screen shows, and checks that it is on the
 * file's network.  Returns: CLI_OK or an exit code after saying why. */
static int signview_load(signview *s, cli *c, const txfile *f, const json_t *txj, const char *path)
{
    memset(s, 0, sizeof(*s));
    s->c = c;
    s->f = f;
    s->names = json_object();
    json_t *st;
    int rc = rpc_call(c, "status", NULL, &st, NULL, false);
    if (rc != CLI_OK)
        return rc;
    const char *chain = json_string_value(json_object_get(st, "chain_id"));
    const char *mine = json_string_value(json_object_get(f->root, "chain_id"));
    if (chain == NULL || mine == NULL || strcmp(chain, mine) != 0)
        rc = cli_fail(CLI_REFUSED, "%s is for the network %s (chain id %.16s..), but your node "
                                   "is on %s (%.16s..): sign it with a node of its network",
                      path, json_string_value(json_object_get(f->root, "network")),
                      mine != NULL ? mine : "?",
                      json_string_value(json_object_get(st, "network")), chain ? chain : "?");
    snprintf(s->unit, sizeof(s->unit), "%s", json_string_value(json_object_get(st, "unit")));
    s->v.decimals = (unsigned)json_integer_value(json_object_get(st, "decimals"));
    s->v.unit = s->unit;
    s->v.name = sign_name;
    s->v.time = cli_local_time;
    s->v.ctx = s;
    json_decref(st);
    json_t *req = json_object_get(f->root, "required");
    for (size_t i = 0; i < json_array_size(req); i++) {
        json_t *r = json_array_get(req, i);
        char key[24];
        snprintf(key, sizeof(key), "%lld",
                 (long long)json_integer_value(json_object_get(r, "member")));
        json_object_set(s->names, key, json_object_get(r, "name"));
    }
    const char *ag = json_string_value(json_object_get(txj, "agreement"));
    if (rc == CLI_OK && ag != NULL &&
        rpc_call(c, "agreement", json_pack("{s:s}", "id", ag), &s->agreement, NULL, true) !=
            CLI_OK)
        s->agreement = NULL; /* the check below says why, if it matters */
    return rc;
}

static void signview_free(signview *s)
{
    json_decref(s->names);
    json_decref(s->agreement);
}

/* The signing screen: the transaction in words, names and units, its
 * expiry, then its fields. */
static void print_screen(FILE *out, signview *s, const json_t *txj, uint32_t me)
{
    char w[240];
    fprintf(out, "network   %s\n", json_string_value(json_object_get(s->f->root, "network")));
    fprintf(out, "you sign  as %s\n\n", txview_who(w, sizeof(w), &s->v, me));
    txview_words(out, &s->v, txj, s->agreement, "  ");
    fprintf(out, "\n");
    print_validity(out, s->f);
    fprintf(out, "amounts in %s; your node checked it: the network would take it now\n", s->unit);
    fprintf(out, "\nthe transaction's fields:\n");
    txview_fields(out, &s->v, txj, "  ");
}

static bool confirm(void)
{
    FILE *tty = fopen("/dev/tty", "r+");
    if (tty == NULL)
        return false;
    fprintf(tty, "Sign this transaction? [y/N] ");
    fflush(tty);
    char line[16] = "";
    bool yes = fgets(line, sizeof(line), tty) != NULL && (line[0] == 'y' || line[0] == 'Y');
    fclose(tty);
    return yes;
}

int cmd_sign(cli *c)
{
    static const char usage[] =
        "Usage: kula sign FILE --key NAME [--yes]\n"
        "Shows what the transaction in FILE commits you to, in words, member names and\n"
        "the network's unit: who pays whom how much, what each party commits to, each\n"
        "party's share under an agreement's rule, and until when it is valid.  Your\n"
        "node checks it against the ledger's rules and what is pending first: a\n"
        "transaction the network would refuse is not signed, nor one that expired.\n"
        "Then it asks for confirmation (unless --yes) and adds your signature to FILE.\n"
        "With --json, standard output is one JSON document once signed: network,\n"
        "chain_id, file, signed_as, still_to_sign and the transaction (amounts in minor\n"
        "units); without --yes the screen in words is shown on standard error first.\n";
    static const struct option opts[] = { { "key", required_argument, NULL, 'K' },
                                          { "yes", no_argument, NULL, 'y' },
                                          { NULL, 0, NULL, 0 } };
    if (cli_wants_help(c->argc, c->argv)) {
        fputs(usage, stdout);
        return CLI_OK;
    }
    const char *key = NULL;
    bool yes = false;
    int opt;
    optind = 0;
    while ((opt = getopt_long(c->argc, c->argv, ":", opts, NULL)) != -1) {
        if (opt == 'K')
            key = optarg;
        else if (opt == 'y')
            yes = true;
        else
            return cli_fail(CLI_USAGE, "sign: bad option '%s' (see kula sign --help)",
                            c->argv[optind - 1]);
    }
    if (c->argc - optind != 1 || key == NULL) {
        fputs(usage, stderr);
        return CLI_USAGE;
    }
    const char *path = c->argv[optind];
    txfile f;
    int rc = txfile_load(&f, path);
    if (rc == CLI_OK)
        rc = refuse_expired(&f, path);
    if (rc != CLI_OK) {
        txfile_free(&f);
        return rc;
    }
    kula_seckey sk;
    kula_pubkey pk;
    if ((rc = cli_unlock(c, key, &sk, &pk)) != 0) {
        txfile_free(&f);
        return rc;
    }
    int at = -1;
    for (uint32_t i = 0; i < f.nreq; i++)
        if (memcmp(f.req_keys[i].b, pk.b, KULA_PUBKEY_LEN) == 0)
            at = (int)i;
    if (at < 0) {
        rc = cli_fail(CLI_REFUSED, "key '%s' is not one of the required signers of %s", key,
                      path);
    } else {
        json_t *txj = kula_tx_to_json(&f.tx);
        signview sv;
        rc = signview_load(&sv, c, &f, txj, path);
        if (rc == CLI_OK)
            rc = tx_check(c, f.bytes, f.len); /* before anyone signs */
        /* Under --json stdout gets one document, after signing; a person
         * asked to confirm still reads the screen, on stderr. */
        if (rc == CLI_OK && (!c->json || !yes))
            print_screen(c->json ? stderr : stdout, &sv, txj, f.req[at]);
        json_decref(txj);
        signview_free(&sv);
        fflush(stdout);
        if (rc == CLI_OK && !yes && !isatty(STDIN_FILENO) && !isatty(STDOUT_FILENO))
            rc = cli_fail(CLI_USAGE, "not on a terminal: add --yes to sign without asking");
        else if (rc == CLI_OK && !yes && !confirm())
            rc = cli_fail(CLI_REFUSED, "not signed");
    }
    kula_buf out;
    kula_buf_init(&out);
    if (rc == CLI_OK && (rc = kula_tx_sign(&f.tx, &f.chain_id, f.req[at], &sk)) == 0 &&
        (rc = kula_tx_encode(&out, &f.tx)) == 0) {
        json_object_set_new(f.root, "tx", kula_json_hex(out.data, out.len));
        char tmp[1200];
        snprintf(tmp, sizeof(tmp), "%s.tmp", path);
        if (json_dump_file(f.root, tmp, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0 ||
            rename(tmp, path) != 0) {
            unlink(tmp);
            rc = cli_fail(CLI_REFUSED, "cannot write %s: %s", path, strerror(errno));
        } else if (c->json) {
            char words[1024];
            json_t *missing = json_array();
            missing_words(&f, words, sizeof(words), missing);
            cli_print_json(json_pack("{s:O, s:O, s:s, s:I, s:o, s:o}", "network",
                                     json_object_get(f.root, "network"), "chain_id",
                                     json_object_get(f.root, "chain_id"), "file", path,
                                     "signed_as", (json_int_t)f.req[at], "still_to_sign",
                                     missing, "tx", kula_tx_to_json(&f.tx)));
        } else {
            char words[1024];
            missing_words(&f, words, sizeof(words), NULL);
            printf("signed as member %u\n%s\n", f.req[at], words);
        }
    } else if (rc < 0) {
        rc = cli_fail(CLI_REFUSED, "cannot sign: %s", kula_strerror(rc));
    }
    kula_seckey_wipe(&sk);
    kula_buf_free(&out);
    txfile_free(&f);
    return rc;
}

int cmd_submit(cli *c)
{
    static const char usage[] =
        "Usage: kula submit FILE [--no-wait] [--timeout SECONDS] [--ask-others]\n"
        "Submits the transaction in FILE once every required member has signed it,\n"
        "before it expires.\n"
        "With --ask-others, a FILE that still lacks signatures is left with the node\n"
        "instead: each member still to sign is told (the web wallet's notification,\n"
        "kulad --notify's \"signature\" event) and signs it in the web wallet's\n"
        "\"To sign\" page; the last signature submits it.  The node keeps it in memory\n"
        "until then, until it expires, or at most 7 days.\n";
    static const struct option opts[] = { { "no-wait", no_argument, NULL, 'W' },
                                          { "timeout", required_argument, NULL, 'T' },
                                          { "ask-others", no_argument, NULL, 'A' },
                                          { NULL, 0, NULL, 0 } };
    if (cli_wants_help(c->argc, c->argv)) {
        fputs(usage, stdout);
        return CLI_OK;
    }
    tx_opts o = { 0 };
    bool ask = false;
    int opt;
    optind = 0;
    while ((opt = getopt_long(c->argc, c->argv, ":", opts, NULL)) != -1) {
        if (opt == 'A') {
            ask = true;
            continue;
        }
        int r = tx_common_opt(&o, opt, optarg);
        if (r < 0)
            return CLI_USAGE;
        if (r == 0)
            return cli_fail(CLI_USAGE, "submit: bad option '%s' (see kula submit --help)",
                            c->argv[optind - 1]);
    }
    if (c->argc - optind != 1) {
        fputs(usage, stderr);
        return CLI_USAGE;
    }
    const char *path = c->argv[optind];
    txfile f;
    int rc = txfile_load(&f, path);
    if (rc == CLI_OK)
        rc = refuse_expired(&f, path); /* no node asked */
    if (rc == CLI_OK) {
        bool complete = true;
        for (uint32_t i = 0; i < f.nreq; i++)
            complete = complete && has_signed(&f, f.req[i]);
        json_t *res = NULL;
        if (!complete && ask) {
            rc = rpc_call(c, "sign_request", json_pack("{s:O}", "file", f.root), &res, NULL,
                          false);
            if (rc == CLI_OK && c->json)
                cli_print_json(json_pack("{s:s, s:b, s:O}", "file", path, "left", 1, "waiting",
                                         json_object_get(res, "waiting")));
            else if (rc == CLI_OK)
                printf("left with the node: %d signature(s) missing; the members still to sign "
                       "find it in the web wallet's \"To sign\" page\n",
                       (int)json_integer_value(json_object_get(res, "waiting")));
            json_decref(res);
        } else if (!complete) {
            char words[1024];
            missing_words(&f, words, sizeof(words), NULL);
            rc = cli_fail(CLI_REFUSED, "%s is not signed by every required member yet: %s "
                                       "(--ask-others leaves it with the node for them)",
                          path, words);
        } else {
            rc = tx_submit_bytes(c, f.bytes, f.len, o.no_wait, o.timeout ? o.timeout : 30);
        }
    }
    txfile_free(&f);
    return rc;
}
