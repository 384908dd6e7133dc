/* test_error.c -- the error codes' messages and the one channel for an
 * error's details (kula_error, kula_error_set). */
#include <criterion/criterion.h>
#include <string.h>

#include "kula/base/error.h"

Test(error, set_fills_code_index_and_words)
{
    kula_error e = {.code = 0, .tx_index = 7, .what = "old"};
    int rc = kula_error_set(&e, KULA_EGENESIS, "members[%d].name: %s", 2, "empty");
    cr_assert_eq(rc, KULA_EGENESIS);
    cr_assert_eq(e.code, KULA_EGENESIS);
    cr_assert_eq(e.tx_index, -1);
    cr_assert_str_eq(e.what, "members[2].name: empty");
}

Test(error, set_without_a_record_returns_the_code)
{
    cr_assert_eq(kula_error_set(NULL, KULA_ESTORE, "%s", "ignored"), KULA_ESTORE);
}

Test(error, set_cuts_long_words_to_fit)
{
    kula_error e;
    char long_text[sizeof e.what + 100];
    memset(long_text, 'x', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    cr_assert_eq(kula_error_set(&e, KULA_EINVAL, "%s", long_text), KULA_EINVAL);
    cr_assert_eq(strlen(e.what), sizeof e.what - 1);
}

Test(error, messages_and_names_come_from_one_table)
{
    cr_assert_str_eq(kula_strerror(KULA_ESTORE), "storage error");
    cr_assert_str_eq(kula_errname(KULA_ESTORE), "ESTORE");
    cr_assert_str_eq(kula_strerror(-9999), "unknown error");
    cr_assert_str_eq(kula_errname(-9999), "?");
}
