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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kula/base/error.h"
#include "kula/crypto/crypto.h"
#include "kula/ledger/ledger.h"
#include "kula/types/genesis.h"
#include "kula/types/types.h"
#include "ledger_scenario.h"
#include "testutil.h"

static const char *const files[] = { "transfer.json", "dated.json",      "exchange.json",
                                     "referral.json", "agreement.json",  "governance.json",
                                     "solo.json",     "evidence.json",   "invoice.json",
                                     "observers.json", "settle.json",    "snapshot.json" };
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

static void saw(void *ctx, int code)
{
    bool *seen = ctx;
    for (size_t k = 0; k < NREFUSALS; k++)
        seen[k] = seen[k] || refusals[k] == code;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s is missing", path);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    cr_assert(n >= 0);
    rewind(f);
    char *p = malloc((size_t)n + 1);
    cr_assert_not_null(p);
    cr_assert_eq(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

/* Replays one scenario (tests/vectors/ledger_scenario.c); marks seen[k]
 * for each refusals[k] it shows. */
static void check_file(const char *file, bool *seen)
{
    char rel[128], why[512];
    snprintf(rel, sizeof(rel), "proto/vectors/ledger/%s", file);
    size_t len;
    char *doc = slurp(tu_src(rel), &len);
    int v = ls_replay(doc, len, file, saw, seen, why, sizeof(why));
    cr_assert_eq(v, LS_REPLAYS, "%s", why);
    free(doc);
}

/* The replay says where a file and the ledger disagree, and what is not a
 * scenario: a state root changed, an error renamed, a step skipped. */
Test(ledger_vectors, a_changed_file_is_caught)
{
    cr_assert_eq(kula_crypto_init(), 0);
    size_t len;
    char *doc = slurp(tu_src("proto/vectors/ledger/transfer.json"), &len);
    char why[512];
    const struct {
        const char *from, *to;
        int verdict;
        const char *says;
    } cases[] = {
        { "\"error\": \"ECREDIT\"", "\"error\": \"EAMOUNT\"", LS_DIFFERS, "error EAMOUNT" },
        { "\"height\": 2,", "\"height\": 3,", LS_MALFORMED, "height 3, the next is 2" },
        { "\"structure\": \"ledger\"", "\"structure\": \"codec\"", LS_MALFORMED,
          "not a ledger scenario" },
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        char *at = strstr(doc, cases[c].from);
        cr_assert_not_null(at, "transfer.json has no %s", cases[c].from);
        size_t head = (size_t)(at - doc), from = strlen(cases[c].from), to = strlen(cases[c].to);
        char *changed = malloc(len - from + to);
        cr_assert_not_null(changed);
        memcpy(changed, doc, head);
        memcpy(changed + head, cases[c].to, to);
        memcpy(changed + head + to, at + from, len - head - from);
        int v = ls_replay(changed, len - from + to, "transfer.json", NULL, NULL, why, sizeof(why));
        cr_expect_eq(v, cases[c].verdict, "%s -> %s: verdict %d (%s)", cases[c].from, cases[c].to,
                     v, why);
        cr_expect_not_null(strstr(why, cases[c].says), "%s -> %s: \"%s\"", cases[c].from,
                           cases[c].to, why);
        free(changed);
    }
    /* a state root changed: the first step's */
    char *root = strstr(strstr(doc, "\"steps\""), "\"state_root\": \"");
    cr_assert_not_null(root);
    root += strlen("\"state_root\": \"");
    *root = *root == '0' ? '1' : '0';
    cr_expect_eq(ls_replay(doc, len, "transfer.json", NULL, NULL, why, sizeof(why)), LS_DIFFERS);
    cr_expect_not_null(strstr(why, "step 0: the state root differs"), "%s", why);
    free(doc);
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
