/* test_cli.c -- the pure helpers of the kula command (cli/words.c). */
#include <criterion/criterion.h>

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
