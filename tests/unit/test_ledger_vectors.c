/* test_ledger_vectors.c -- replays the ledger conformance vectors
 * (proto/vectors/ledger/, README.md there) through the real ledger.
 *
 * For every scenario: the genesis decodes, hashes to its chain id and gives
 * its state root; then every step is one block at the step's height and
 * time holding at most one transaction, whose result must be exactly the
 * step's error (or none), and the state root after the block (or, for a
 * refused transaction, the root before it) must be the step's, byte for
 * byte.  Together the files must show every refusal LEDGER.md names but
 * EOVERFLOW. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kula/base/error.h"
#include "kula/crypto/crypto.h"
#include "kula/ledger/ledger.h"
#include "kula/types/genesis.h"
#include "kula/types/types.h"
#include "testutil.h"

static const char *const files[] = { "transfer.json", "dated.json",      "exchange.json",
                                     "referral.json", "agreement.json",  "governance.json",
                                     "solo.json",     "evidence.json",   "invoice.json",
                                     "observers.json", "settle.json" };
#define NFILES (sizeof(files) / sizeof(files[0]))

/* Every refusal of LEDGER.md §2-§8 (EOVERFLOW and ETOOMANYOBSERVERS aside:
 * README.md says why). */
static const int refusals[] = {
    KULA_EUNKNOWNMEMBER, KULA_EINACTIVE, KULA_ETXEXPIRED, KULA_ENONCE, KULA_EREPLAYED,
    KULA_ESIGNERS, KULA_EBADSIG, KULA_ETEXT, KULA_ECREDIT, KULA_EAMOUNT, KULA_ESELF,
    KULA_ECLOSED, KULA_EUNKNOWNAGREEMENT, KULA_ENOTPARTY, KULA_ERULE, KULA_EUNKNOWNREFERRAL,
    KULA_EORDER, KULA_ETERM, KULA_ENOCONTRIB, KULA_EEMPTYPOOL, KULA_EPOOL, KULA_EBADKEY,
    KULA_EDUPKEY, KULA_EPARAM, KULA_ELASTVALIDATOR, KULA_EUNKNOWNPROPOSAL, KULA_EDECIDED,
    KULA_EEXPIRED, KULA_EVOTED, KULA_ERATING, KULA_ENOEXCHANGE, KULA_EEVIDENCE, KULA_EHEIGHT,
    KULA_EEXIST, KULA_EUNKNOWNINVOICE, KULA_ENOTDEBTOR, KULA_ENOTISSUER, KULA_EINVOICECLOSED,
    KULA_EDISPUTED, KULA_EACCEPTED, KULA_EPARTPAID, KULA_EOVERPAY, KULA_EOBSERVERMEMBER,
    KULA_EDUPOBSERVER, KULA_EOBSERVERNAME, KULA_EUNKNOWNOBSERVER,
};
#define NREFUSALS (sizeof(refusals) / sizeof(refusals[0]))

static const char *str(json_t *o, const char *key, const char *where)
{
    const char *s = json_string_value(json_object_get(o, key));
    cr_assert_not_null(s, "%s: no \"%s\"", where, key);
    return s;
}

static uint64_t u64(json_t *o, const char *key, const char *where)
{
    json_t *v = json_object_get(o, key);
    cr_assert(json_is_integer(v) && json_integer_value(v) >= 0, "%s: no \"%s\"", where, key);
    return (uint64_t)json_integer_value(v);
}

static void expect_hash(const kula_hash *h, json_t *o, const char *key, const char *where)
{
    char hex[2 * KULA_HASH_LEN + 1];
    kula_hex_encode(hex, h->b, KULA_HASH_LEN);
    const char *want = str(o, key, where);
    cr_assert_str_eq(hex, want, "%s: %s is %s, the vector says %s", where, key, hex, want);
}

/* Replays one scenario; marks seen[k] for each refusals[k] it shows. */
static void check_file(const char *file, bool *seen)
{
    char rel[128], where[200];
    snprintf(rel, sizeof(rel), "proto/vectors/ledger/%s", file);
    json_error_t jerr;
    json_t *doc = json_load_file(tu_src(rel), JSON_REJECT_DUPLICATES, &jerr);
    cr_assert_not_null(doc, "%s: %s (line %d)", rel, jerr.text, jerr.line);
    cr_assert_str_eq(str(doc, "structure", file), "ledger");

    json_t *gj = json_object_get(doc, "genesis");
    size_t glen;
    uint8_t *gbytes = tu_unhex(str(gj, "hex", file), &glen);
    kula_genesis g;
    cr_assert_eq(kula_genesis_decode(&g, gbytes, glen), 0, "%s: genesis does not decode", file);
    kula_hash_bytes(&g.chain_id, gbytes, glen);
    expect_hash(&g.chain_id, gj, "chain_id", file);
    kula_ledger *l;
    kula_hash root;
    const kula_state_write *w;
    size_t nw;
    cr_assert_eq(kula_ledger_new(&l, &g.chain_id, NULL, NULL, 0, NULL), 0);
    cr_assert_eq(kula_ledger_genesis(l, &g, &root, &w, &nw), 0);
    kula_ledger_finish_block(l);
    expect_hash(&root, gj, "state_root", file);

    json_t *steps = json_object_get(doc, "steps");
    cr_assert(json_array_size(steps) > 0, "%s: no steps", file);
    size_t i;
    json_t *s;
    json_array_foreach(steps, i, s) {
        snprintf(where, sizeof(where), "%s step %zu (%s)", file, i,
                 str(s, "description", file));
        uint64_t height = u64(s, "height", where);
        cr_assert_eq(height, kula_ledger_height(l) + 1, "%s: height %llu", where,
                     (unsigned long long)height);
        cr_assert_eq(kula_ledger_begin_block(l, height, u64(s, "time_ms", where)), 0);
        int rc = 0;
        json_t *txj = json_object_get(s, "tx");
        uint8_t *bytes = NULL;
        if (!json_is_null(txj)) {
            size_t n;
            bytes = tu_unhex(str(s, "tx", where), &n);
            kula_tx tx;
            cr_assert_eq(kula_tx_decode(&tx, bytes, n), 0, "%s: tx does not decode", where);
            expect_hash(&tx.id, s, "tx_id", where);
            rc = kula_ledger_apply_tx(l, &tx, NULL, NULL);
        }
        json_t *codej = json_object_get(s, "code"), *err = json_object_get(s, "error");
        cr_assert(json_is_integer(codej), "%s: no \"code\"", where);
        int code = (int)json_integer_value(codej);
        cr_assert_eq(rc, code, "%s: the ledger says %s (%d), the vector %s (%d)", where,
                     kula_errname(rc), rc, json_is_null(err) ? "OK" : json_string_value(err),
                     code);
        if (code == 0) {
            cr_assert(json_is_null(err), "%s: code 0 with an error", where);
            cr_assert_eq(kula_ledger_end_block(l, &root, &w, &nw), 0);
            kula_ledger_finish_block(l);
        } else {
            cr_assert_str_eq(str(s, "error", where), kula_errname(rc), "%s", where);
            kula_ledger_abort_block(l);
            for (size_t k = 0; k < NREFUSALS; k++)
                seen[k] = seen[k] || refusals[k] == rc;
        }
        cr_assert_eq(memcmp(kula_ledger_state_root(l)->b, root.b, KULA_HASH_LEN), 0);
        expect_hash(&root, s, "state_root", where);
        free(bytes);
    }
    kula_ledger_free(l);
    kula_genesis_free(&g);
    free(gbytes);
    json_decref(doc);
}

Test(ledger_vectors, replay_every_scenario)
{
    cr_assert_eq(kula_crypto_init(), 0);
    bool seen[NREFUSALS] = { false };
    for (size_t f = 0; f < NFILES; f++)
        check_file(files[f], seen);
    for (size_t k = 0; k < NREFUSALS; k++)
        cr_expect(seen[k], "no vector shows %s", kula_errname(refusals[k]));
}

/* A scenario file nobody replays would be a vector that cannot fail. */
Test(ledger_vectors, every_file_is_replayed)
{
    DIR *d = opendir(tu_src("proto/vectors/ledger"));
    cr_assert_not_null(d, "proto/vectors/ledger is missing");
    struct dirent *e;
    size_t n = 0;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        bool known = false;
        for (size_t f = 0; f < NFILES; f++)
            known = known || strcmp(e->d_name, files[f]) == 0;
        cr_expect(known, "%s: not in test_ledger_vectors.c's list", e->d_name);
        n++;
    }
    closedir(d);
    cr_assert_eq(n, NFILES);
}
