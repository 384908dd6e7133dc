/* test_cli.c -- the pure helpers of the kula command (cli/words.c). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "../../cli/words.h"

Test(cli, edit_distance)
{
    cr_assert_eq(cli_edit_distance("", ""), 0);
    cr_assert_eq(cli_edit_distance("balance", "balance"), 0);
    cr_assert_eq(cli_edit_distance("blance", "balance"), 1);   /* a letter left out */
    cr_assert_eq(cli_edit_distance("balanec", "balance"), 2);  /* two swapped: 2 edits */
    cr_assert_eq(cli_edit_distance("kitten", "sitting"), 3);
    cr_assert_eq(cli_edit_distance("", "pay"), 3);
    cr_assert_eq(cli_edit_distance("pay", ""), 3);
    char longer[80];
    memset(longer, 'a', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    cr_assert_eq(cli_edit_distance(longer, "a"), 1000);
}

Test(cli, nearest)
{
    static const char *const names[] = { "status", "members", "member", "balance", "pay", "peers" };
    size_t n = sizeof(names) / sizeof(names[0]);
    cr_assert_str_eq(cli_nearest(names, n, "blance"), "balance");
    cr_assert_str_eq(cli_nearest(names, n, "statsu"), "status");
    cr_assert_str_eq(cli_nearest(names, n, "membr"), "member");
    cr_assert_null(cli_nearest(names, n, "xyzzy"));
    cr_assert_null(cli_nearest(names, n, "qq")); /* 2 edits from "pay" but only 2 letters */
}

Test(cli, exit_names)
{
    cr_assert_str_eq(cli_exit_name(CLI_OK), "ok");
    cr_assert_str_eq(cli_exit_name(CLI_REFUSED), "refused");
    cr_assert_str_eq(cli_exit_name(CLI_UNREACHABLE), "unreachable");
    cr_assert_str_eq(cli_exit_name(CLI_USAGE), "usage");
    cr_assert_str_eq(cli_exit_name(42), "error");
    /* The documented numbers (README "kula exit codes", kula help). */
    cr_assert_eq(CLI_OK, 0);
    cr_assert_eq(CLI_REFUSED, 1);
    cr_assert_eq(CLI_UNREACHABLE, 2);
    cr_assert_eq(CLI_USAGE, 3);
}

/* ---- amounts as people type them (cli_amount_parse) ---- */

Test(cli, amounts_in_units)
{
    int64_t v = -1;
    char msg[512];
    cr_assert_eq(cli_amount_parse(&v, "--credit-limit", "2000", "acme", "KULA", 2, msg, sizeof(msg)), 0);
    cr_assert_eq(v, 200000);
    cr_assert_eq(cli_amount_parse(&v, "--credit-limit", "2000.00", "acme", "KULA", 2, msg, sizeof(msg)), 0);
    cr_assert_eq(v, 200000);
    cr_assert_eq(cli_amount_parse(&v, "AMOUNT", "12.5", "acme", "KULA", 2, msg, sizeof(msg)), 0);
    cr_assert_eq(v, 1250);
    cr_assert_eq(cli_amount_parse(&v, "AMOUNT", "7", "acme", "EUR", 0, msg, sizeof(msg)), 0);
    cr_assert_eq(v, 7);
    /* More decimals than the unit has: refused, naming both, never rounded. */
    cr_assert_eq(cli_amount_parse(&v, "--credit-limit", "12.345", "acme", "KULA", 2, msg, sizeof(msg)), -1);
    cr_assert_str_eq(msg, "--credit-limit: '12.345' has 3 decimals, but acme counts in KULA with 2 "
                          "decimals: give at most 2 (nothing is rounded)");
    cr_assert_eq(cli_amount_parse(&v, "AMOUNT", "12,50", "acme", "KULA", 2, msg, sizeof(msg)), -1);
    cr_assert_str_eq(msg, "AMOUNT: '12,50' is not an amount in KULA (a number such as 12.50, at "
                          "most 2 decimals)");
    cr_assert_eq(cli_amount_parse(&v, "AMOUNT", "99999999999999999999", "acme", "KULA", 2, msg,
                                  sizeof(msg)), -1);
    cr_assert(strstr(msg, "too large") != NULL, "%s", msg);
    cr_assert_eq(cli_amount_parse(&v, "AMOUNT", "", "acme", "KULA", 2, msg, sizeof(msg)), -1);
}

/* ---- kula genesis new --member (cli/cmd_genesis_members.c) ---- */

#include "../../cli/cmd_genesis.h"

/* A valid BIP-340 public key: the generator's x coordinate. */
#define G_X "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"

/* kula_pubkey_valid needs libsecp256k1's context, as kula's main makes it. */
static void crypto_setup(void)
{
    cr_assert_eq(kula_crypto_init(), 0);
}

static genesis_member_spec parse_ok(const char *spec)
{
    genesis_member_spec m;
    char err[512] = "";
    cr_assert_eq(genesis_member_parse(&m, spec, err, sizeof(err)), 0, "%s: %s", spec, err);
    return m;
}

static void parse_refused(const char *spec, const char *words)
{
    genesis_member_spec m;
    char err[512] = "";
    cr_assert_eq(genesis_member_parse(&m, spec, err, sizeof(err)), -1, "%s was taken", spec);
    cr_assert(strstr(err, words) != NULL, "%s: '%s' does not say '%s'", spec, err, words);
    char named[600];
    snprintf(named, sizeof(named), "--member '%s'", spec);
    cr_assert(strncmp(err, named, strlen(named)) == 0, "'%s' does not name the member", err);
}

Test(cli, genesis_member_forms, .init = crypto_setup)
{
    /* power -1: not given; read from the right, so a NAME keeps its ':'
     * when SECTOR is given */
    static const struct {
        const char *spec, *name, *sector;
        long long power;
        bool pubkey;
    } forms[] = {
        { "bakery", "bakery", "general", -1, false },
        { "Boulangerie Dupont:food", "Boulangerie Dupont", "food", -1, false },
        { "café:restauration:0", "café", "restauration", 0, false },
        { "Chez: Nous:food:3:" G_X, "Chez: Nous", "food", 3, true },
        { "Chez: Nous:food", "Chez: Nous", "food", -1, false },
        { "a:b:c:d", "a:b:c", "d", -1, false },
        { "Ateliers 1:2:bois:1", "Ateliers 1:2", "bois", 1, false },
        { "x::5", "x", "general", 5, false }, /* an empty SECTOR is general */
    };
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        genesis_member_spec m = parse_ok(forms[i].spec);
        cr_assert_str_eq(m.name, forms[i].name, "%s", forms[i].spec);
        cr_assert_str_eq(m.sector, forms[i].sector, "%s", forms[i].spec);
        cr_assert_eq(m.has_power, forms[i].power >= 0, "%s", forms[i].spec);
        cr_assert(forms[i].power < 0 || m.power == (uint64_t)forms[i].power, "%s", forms[i].spec);
        cr_assert_eq(m.has_pubkey, forms[i].pubkey, "%s", forms[i].spec);
    }
    genesis_member_spec m = parse_ok("Chez: Nous:food:3:" G_X);
    cr_assert(m.pubkey.b[0] == 0x79 && m.pubkey.b[31] == 0x98);
    /* 64 bytes exactly, in two-byte letters: 32 of é. */
    char name[80] = "";
    for (int i = 0; i < 32; i++)
        strcat(name, "é");
    m = parse_ok(name);
    cr_assert_eq(strlen(m.name), 64);
}

Test(cli, genesis_member_refused, .init = crypto_setup)
{
    parse_refused("", "NAME is empty");
    parse_refused(":food", "NAME is empty");
    parse_refused("tab\there:food", "control character");
    parse_refused("line\nfeed", "control character");
    parse_refused("c1\xc2\x85here", "control character"); /* U+0085, a C1 control */
    parse_refused("bad\xff" "utf8", "not valid UTF-8");
    parse_refused("x:sec\ttor", "SECTOR holds a control character");
    char name[80] = "";
    for (int i = 0; i < 32; i++)
        strcat(name, "é");
    strcat(name, "x"); /* 65 bytes */
    parse_refused(name, "NAME is too long");
    parse_refused("x:food:281474976710657", "POWER 281474976710657 is over 2^48");
    parse_refused("x:food:1:1234abcd", "is not a public key");
    parse_refused("x:food:1:" G_X "00", "is not a public key");
    /* Hex, but not on the curve (x = 0 is no point's). */
    parse_refused("x:food:1:0000000000000000000000000000000000000000000000000000000000000000",
                  "is not a public key");
    /* A PUBKEY outside the long form is refused, not taken as a SECTOR. */
    parse_refused("x:" G_X, "a PUBKEY comes after SECTOR and POWER");
    parse_refused("x:food:" G_X, "a PUBKEY comes after SECTOR and POWER");
    parse_refused("x:food:yes:" G_X, "a PUBKEY comes after SECTOR and POWER");
}

Test(cli, genesis_key_labels)
{
    char l[KULA_KEYSTORE_MAX_LABEL + 1];
    genesis_key_label(l, "bakery");
    cr_assert_str_eq(l, "bakery");
    genesis_key_label(l, "Boulangerie Dupont");
    cr_assert_str_eq(l, "Boulangerie-Dupont");
    genesis_key_label(l, "café");
    cr_assert_str_eq(l, "cafe");
    genesis_key_label(l, "Ærø Øl & Søn");
    cr_assert_str_eq(l, "Aro-Ol-Son");
    genesis_key_label(l, "  Chez: Nous!  ");
    cr_assert_str_eq(l, "Chez-Nous");
    genesis_key_label(l, "日本");
    cr_assert_str_eq(l, "member");
    genesis_key_label(l, ".hidden");
    cr_assert_str_eq(l, "_hidden");
    genesis_key_label(l, "a_b.c");
    cr_assert_str_eq(l, "a_b.c");
    char name[200];
    memset(name, 'x', 150);
    name[150] = '\0';
    genesis_key_label(l, name);
    cr_assert_eq(strlen(l), KULA_KEYSTORE_MAX_LABEL);
}

/* ---- times in the reader's time zone (cli_local_time) ---- */

#include <stdlib.h>
#include <time.h>

static void in_tz(const char *tz)
{
    setenv("TZ", tz, 1);
    tzset();
}

Test(cli, local_time)
{
    char b[40];
    const int64_t dec5 = INT64_C(1796459640000); /* 2026-12-05 08:34:00 UTC */
    const int64_t jul1 = INT64_C(1782895263000); /* 2026-07-01 08:41:03 UTC */
    in_tz("UTC");
    cr_assert_str_eq(cli_local_time(b, sizeof(b), dec5, false), "2026-12-05 08:34 +00:00");
    cr_assert_str_eq(cli_local_time(b, sizeof(b), jul1, true), "2026-07-01 08:41:03 +00:00");
    in_tz("Europe/Ljubljana"); /* CET in winter, CEST in summer */
    cr_assert_str_eq(cli_local_time(b, sizeof(b), dec5, false), "2026-12-05 09:34 +01:00");
    cr_assert_str_eq(cli_local_time(b, sizeof(b), jul1, true), "2026-07-01 10:41:03 +02:00");
    in_tz("America/St_Johns"); /* west of UTC, and by half an hour */
    cr_assert_str_eq(cli_local_time(b, sizeof(b), dec5, false), "2026-12-05 05:04 -03:30");
    in_tz("Asia/Kolkata");
    cr_assert_str_eq(cli_local_time(b, sizeof(b), 0, true), "1970-01-01 05:30:00 +05:30");
    cr_assert_str_eq(cli_local_time(b, sizeof(b), -1000, true), "?");
    in_tz("UTC");
}
