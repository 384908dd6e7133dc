/* test_cli_words.c -- what kula words without a node: ids by prefix
 * (cli/ids.c), Shapley games from a file (cli/game.c), the remedy table
 * (cli/remedy.c) and a proposal's progress (cli/progress.c). */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../cli/game.h"
#include "../../cli/ids.h"
#include "../../cli/progress.h"
#include "../../cli/remedy.h"
#include "kula/base/error.h"

/* ---- ids by prefix ---- */

#define ID_A "d32eed46aa000000000000000000000000000000000000000000000000000001"
#define ID_B "d32eed46bb000000000000000000000000000000000000000000000000000002"

Test(ids, prefix_length)
{
    cr_assert_eq(ids_prefix_len("d32e"), 4);
    cr_assert_eq(ids_prefix_len("D32EED46"), 8);
    cr_assert_eq(ids_prefix_len(ID_A), 64);
    cr_assert_eq(ids_prefix_len("d32"), 0, "fewer than 4 digits");
    cr_assert_eq(ids_prefix_len("d32g"), 0, "not hex");
    cr_assert_eq(ids_prefix_len(ID_A "0"), 0, "more than 64");
    cr_assert_eq(ids_prefix_len(""), 0);
    cr_assert_eq(ids_prefix_len(NULL), 0);
}

static int pick(const char *text, const char *json, bool more, kula_hash *out, char *err)
{
    json_t *ids = json_loads(json, 0, NULL);
    cr_assert_not_null(ids);
    int rc = ids_pick("--proposal", "proposal", text, ids, more, out, err, 1024);
    json_decref(ids);
    return rc;
}

Test(ids, one_candidate_is_taken)
{
    kula_hash h;
    char err[1024];
    cr_assert_eq(pick("d32eed46", "[\"" ID_A "\"]", false, &h, err), 0, "%s", err);
    cr_assert_eq(h.b[0], 0xd3);
    cr_assert_eq(h.b[31], 0x01);
    cr_assert_eq(pick("D32EED46AA", "[\"" ID_A "\"]", false, &h, err), 0, "upper case: %s", err);
}

Test(ids, ambiguous_lists_the_candidates)
{
    kula_hash h;
    char err[1024];
    cr_assert_eq(pick("d32e", "[\"" ID_A "\", \"" ID_B "\"]", false, &h, err), -1);
    cr_assert(strstr(err, "--proposal d32e is ambiguous: 2 proposals start with it") != NULL,
              "%s", err);
    cr_assert(strstr(err, "\n  " ID_A) != NULL && strstr(err, "\n  " ID_B) != NULL, "%s", err);
    cr_assert_eq(pick("d32e", "[\"" ID_A "\"]", true, &h, err), -1, "one shown, more found");
    cr_assert(strstr(err, "more than 1 proposals") != NULL, "%s", err);
}

Test(ids, unknown_says_so)
{
    kula_hash h;
    char err[1024];
    cr_assert_eq(pick("abcd", "[]", false, &h, err), -1);
    cr_assert_str_eq(err, "--proposal abcd: no proposal's id starts with abcd (kula proposals "
                          "lists them)");
    cr_assert_eq(pick("abcd", "[\"" ID_A "\"]", false, &h, err), -1,
                 "a node answering an id of another prefix");
}

Test(ids, transactions_in_words)
{
    kula_hash h;
    char err[1024];
    json_t *none = json_array(), *two = json_pack("[s, s]", ID_A, ID_B);
    cr_assert_eq(ids_pick("tx", "tx", "abcd", none, false, &h, err, sizeof(err)), -1);
    cr_assert(strncmp(err, "tx abcd: no transaction's id starts with abcd (kula history MEMBER "
                           "shows the ids", 68) == 0, "%s", err);
    cr_assert_eq(ids_pick("tx", "tx", "d32e", two, false, &h, err, sizeof(err)), -1);
    cr_assert(strstr(err, "tx d32e is ambiguous: 2 transactions start with it; type more "
                          "digits:\n  " ID_A "\n  " ID_B) != NULL, "%s", err);
    json_decref(none);
    json_decref(two);
}

/* ---- Shapley games ---- */

static const char *const N3[] = { "dev", "alice", "bob" };

static int parse(const char *text, const char *const *names, unsigned n, int64_t *v, char *err)
{
    return game_parse(text, strlen(text), names, n, 2, v, err, 512);
}

Test(game, named_coalitions_in_units)
{
    int64_t v[8];
    char err[512];
    cr_assert_eq(parse("# a comment\n\nalice: 30\r\nbob: 10.50\n alice + bob : 60.00\n"
                       "dev+alice+bob: 90\n",
                       N3, 3, v, err),
                 0, "%s", err);
    /* bit 0 dev, bit 1 alice, bit 2 bob; unlisted: the most listed inside */
    const int64_t want[8] = { 0, 0, 3000, 3000, 1050, 1050, 6000, 9000 };
    for (int i = 0; i < 8; i++)
        cr_assert_eq(v[i], want[i], "v[%d] = %lld", i, (long long)v[i]);
}

Test(game, refusals_name_the_line)
{
    int64_t v[8];
    char err[512];
    cr_assert_eq(parse("alice: 1\ncarol: 2\n", N3, 3, v, err), -1);
    cr_assert(strstr(err, "line 2: 'carol' is not a party") != NULL, "%s", err);
    cr_assert(strstr(err, "dev, alice, bob") != NULL, "names the parties: %s", err);
    cr_assert_eq(parse("alice 1\n", N3, 3, v, err), -1);
    cr_assert(strstr(err, "line 1:") != NULL, "%s", err);
    cr_assert_eq(parse("alice: 1.234\n", N3, 3, v, err), -1, "3 decimals of 2");
    cr_assert_eq(parse("alice: -1\n", N3, 3, v, err), -1);
    cr_assert_eq(parse("alice+alice: 1\n", N3, 3, v, err), -1);
    cr_assert(strstr(err, "alice is named twice") != NULL, "%s", err);
    cr_assert_eq(parse("bob: 1\nbob: 2\n", N3, 3, v, err), -1);
    cr_assert(strstr(err, "line 2: this coalition was listed before") != NULL, "%s", err);
}

Test(game, overflow_is_refused_never_clamped)
{
    int64_t v[8];
    char err[512];
    cr_assert_eq(parse("alice: 92233720368547758.07\n", N3, 3, v, err), 0, "%s", err);
    cr_assert_eq(v[2], INT64_MAX);
    cr_assert_eq(parse("alice: 92233720368547758.08\n", N3, 3, v, err), -1);
    cr_assert(strstr(err, "too large: a value is at most 92233720368547758.07") != NULL, "%s",
              err);
    cr_assert_eq(parse("alice: 99999999999999999999999999\n", N3, 3, v, err), -1);
    cr_assert(strstr(err, "too large") != NULL, "%s", err);
}

static char names16[17][8];
static const char *n16[17];

static void make_names(unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        snprintf(names16[i], sizeof(names16[i]), "m%u", i);
        n16[i] = names16[i];
    }
}

Test(game, sixteen_parties_from_a_file_seventeen_refused)
{
    make_names(17);
    /* every single party 1.00, the grand coalition 100.00, written to a
     * file and read back as kula --game FILE does */
    char path[] = "/tmp/kula_game_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    for (unsigned i = 0; i < 16; i++)
        fprintf(f, "%s: 1.00\n", n16[i]);
    for (unsigned i = 0; i < 16; i++)
        fprintf(f, "%s%s", i > 0 ? "+" : "", n16[i]);
    fprintf(f, ": 100.00\n");
    fclose(f);
    char *text, err[512];
    size_t len;
    cr_assert_eq(game_read(path, &text, &len, err, sizeof(err)), 0, "%s", err);
    unlink(path);
    int64_t *v = malloc(sizeof(int64_t) << 17);
    cr_assert_eq(game_parse(text, len, n16, 16, 2, v, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(v[0], 0);
    cr_assert_eq(v[1], 100);
    cr_assert_eq(v[0x0003], 100, "an unlisted pair: the most inside it");
    cr_assert_eq(v[0xffff], 10000);
    cr_assert_eq(game_parse(text, len, n16, 17, 2, v, err, sizeof(err)), -1);
    cr_assert(strstr(err, "2 to 16 parties (an agreement's limit), not 17") != NULL, "%s", err);
    free(v);
    free(text);
}

Test(game, a_missing_file_says_so)
{
    char *text, err[512];
    size_t len;
    cr_assert_eq(game_read("/nonexistent/game.txt", &text, &len, err, sizeof(err)), -1);
    cr_assert(strstr(err, "--game /nonexistent/game.txt: No such file") != NULL, "%s", err);
}

/* ---- the remedy table ---- */

static const char *names(void *ctx, int64_t id)
{
    (void)ctx;
    return id == 2 ? "alice" : id == 3 ? "bob" : NULL;
}

static const txview V = { 2, "KULA", names, NULL, NULL };

static const char *words(int code, const char *data)
{
    static char buf[2048];
    json_t *d = data != NULL ? json_loads(data, 0, NULL) : NULL;
    remedy_words(buf, sizeof(buf), code, d, &V);
    json_decref(d);
    return buf;
}

Test(remedy, every_ledger_rule_has_one)
{
    for (int code = -50; code >= -75; code--)
        cr_assert_not_null(remedy_text(code), "%s has no remedy", kula_errname(code));
    for (int code = -89; code >= -94; code--)
        cr_assert_not_null(remedy_text(code), "%s has no remedy", kula_errname(code));
    cr_assert_null(remedy_text(KULA_ETRUNC), "a codec error is no rule");
    cr_assert_eq(remedy_code_of("ENONCEGAP"), KULA_ENONCEGAP);
    cr_assert_eq(remedy_code_of("NOSUCH"), 0);
    cr_assert_eq(remedy_code_of(NULL), 0);
    cr_assert_str_eq(words(KULA_ETRUNC, NULL), "");
}

Test(remedy, credit_names_the_payer_available_and_shortfall)
{
    cr_assert_str_eq(words(KULA_ECREDIT, "{\"payer\": 3, \"amount\": 100000, \"balance\": -5000, "
                                         "\"credit_limit\": 30000, \"available\": 25000}"),
                     "#3 bob has 250.00 KULA of credit available (balance -50.00, credit limit "
                     "300.00); this needs 1000.00: 750.00 short. What to do: receive payments "
                     "first, pay a smaller amount, or ask the network for a higher credit limit "
                     "(kula propose credit-limit).");
    cr_assert(strncmp(words(KULA_ECREDIT, NULL), "What to do: receive", 19) == 0,
              "without numbers, the remedy alone");
}

Test(remedy, nonce_and_signers)
{
    cr_assert(strstr(words(KULA_ENONCE, "{\"member\": 2, \"nonce\": 9, \"next_nonce\": 7}"),
                     "expects transaction number 7 of #2 alice next; this one is number 9. "
                     "What to do: kula numbers your transactions itself") != NULL,
              "%s", words(KULA_ENONCE, NULL));
    cr_assert(strstr(words(KULA_ESIGNERS, "{\"signers\": [2], \"kind\": 4}"),
                     "Only the referral's receiver may confirm it: #2 alice") != NULL);
    cr_assert(strstr(words(KULA_ESIGNERS, "{\"signers\": [2, 3], \"kind\": 2}"),
                     "It must be signed by exactly: #2 alice, #3 bob. ") != NULL);
}

/* ---- a proposal's progress (proto/LEDGER.md §6.2) ---- */

static const char *progress(const char *p)
{
    static char buf[600];
    json_t *j = json_loads(p, 0, NULL);
    cr_assert_not_null(j);
    progress_words(buf, sizeof(buf), j);
    json_decref(j);
    return buf;
}

Test(progress, open_counts_the_votes_to_pass_and_to_reject)
{
    /* A = 3, 2/3: passes when yes * 3 > 6, at 3 yes; rejected after 1 no */
    cr_assert_str_eq(
        progress("{\"status\": \"open\", \"yes\": 1, \"no\": 0, \"decision\": "
                 "{\"active_members\": 3, \"threshold_num\": 2, \"threshold_den\": 3}}"),
        "1 of 3 active members voted yes, 0 no; it passes when more than 2/3 of the active "
        "members vote yes: 3 yes votes (2 more of the 2 still to vote); it is rejected after 1 "
        "more no vote");
    /* A = 10, 1/2: 6 yes; with 2 yes and 1 no, rejected after 4 more no */
    cr_assert_str_eq(
        progress("{\"status\": \"open\", \"yes\": 2, \"no\": 1, \"decision\": "
                 "{\"active_members\": 10, \"threshold_num\": 1, \"threshold_den\": 2}}"),
        "2 of 10 active members voted yes, 1 no; it passes when more than 1/2 of the active "
        "members vote yes: 6 yes votes (4 more of the 7 still to vote); it is rejected after 4 "
        "more no votes");
}

Test(progress, decided)
{
    cr_assert_str_eq(progress("{\"status\": \"passed\", \"yes\": 2, \"no\": 0}"),
                     "passed with 2 yes and 0 no");
    cr_assert_str_eq(progress("{\"status\": \"failed\", \"yes\": 2, \"no\": 0, \"failure\": "
                              "\"key already belongs to a member\"}"),
                     "failed with 2 yes and 0 no (executing it failed: key already belongs to "
                     "a member)");
}
