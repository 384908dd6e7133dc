/* test_log.c -- the node's log (node/base/log.c): level and subsystem names
 * parsed and written back, what each level and debug mask lets through,
 * the line's shape, a file and its reopening after a rename. */
#include <criterion/criterion.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kula/base/log.h"
#include "testutil.h"

static char dir[64];
static char path[128];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/kula-log-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/node.log", dir);
}

static void teardown(void)
{
    kula_log_set_file(NULL);
    kula_log_set_level(KULA_LOG_INFO);
    kula_log_set_debug(0);
    char p[160];
    snprintf(p, sizeof(p), "%s/node.log", dir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/node.log.1", dir);
    unlink(p);
    rmdir(dir);
}

TestSuite(log, .init = setup, .fini = teardown);

Test(log, levels_by_name)
{
    static const char *const names[] = { "debug", "info", "warn", "error" };
    for (int i = KULA_LOG_DEBUG; i <= KULA_LOG_ERROR; i++) {
        enum kula_log_level l;
        cr_assert(kula_log_level_parse(&l, names[i]));
        cr_assert_eq(l, (enum kula_log_level)i);
        cr_assert_str_eq(kula_log_level_name(l), names[i]);
    }
    enum kula_log_level l = KULA_LOG_WARN;
    cr_assert_not(kula_log_level_parse(&l, "loud"));
    cr_assert_not(kula_log_level_parse(&l, ""));
    cr_assert_not(kula_log_level_parse(&l, "INFO"));
    cr_assert_eq(l, KULA_LOG_WARN);
}

Test(log, subsystems_parsed_and_written_back)
{
    uint32_t mask;
    char why[400], out[256];
    cr_assert(kula_log_debug_parse(&mask, "net,p2p", why, sizeof(why)));
    kula_log_debug_format(out, sizeof(out), mask);
    cr_assert_str_eq(out, "net,p2p");
    cr_assert(kula_log_debug_parse(&mask, " p2p , consensus,", why, sizeof(why)));
    kula_log_debug_format(out, sizeof(out), mask);
    cr_assert_str_eq(out, "consensus,p2p"); /* in the table's order */
    cr_assert(kula_log_debug_parse(&mask, "", why, sizeof(why)));
    cr_assert_eq(mask, 0);
    kula_log_debug_format(out, sizeof(out), mask);
    cr_assert_str_eq(out, "");
    cr_assert(kula_log_debug_parse(&mask, "all", why, sizeof(why)));
    kula_log_debug_format(out, sizeof(out), mask);
    cr_assert_str_eq(out, "base,codec,crypto,types,store,ledger,chain,consensus,audit,net,p2p,"
                          "rpc,node,sim");
    cr_assert_not(kula_log_debug_parse(&mask, "net,nett", why, sizeof(why)));
    cr_assert_str_eq(why, "'nett' is not a subsystem; the subsystems are all, base, codec, "
                          "crypto, types, store, ledger, chain, consensus, audit, net, p2p, "
                          "rpc, node, sim");
    cr_assert_not(kula_log_debug_parse(&mask, "ne", why, sizeof(why)));
}

static char *slurp(const char *p)
{
    FILE *f = fopen(p, "r");
    if (f == NULL)
        return strdup("");
    fclose(f);
    return tu_read_file(p, NULL);
}

Test(log, level_and_debug_mask_choose_the_lines)
{
    cr_assert_eq(kula_log_set_file(path), 0);
    kula_log_set_level(KULA_LOG_WARN);
    uint32_t mask;
    char why[400];
    cr_assert(kula_log_debug_parse(&mask, "consensus", why, sizeof(why)));
    kula_log_set_debug(mask);
    kula_log_at("consensus", KULA_LOG_DEBUG, "consensus: kept %d", 1);
    kula_log_at("net", KULA_LOG_DEBUG, "dropped: debug of another subsystem");
    kula_log_at("consensus", KULA_LOG_INFO, "dropped: info below warn");
    kula_log_at("rpc", KULA_LOG_WARN, "kept %s", "2");
    kula_error("kept 3");
    char *text = slurp(path);
    cr_assert_null(strstr(text, "dropped"), "%s", text);
    regex_t re;
    cr_assert_eq(regcomp(&re,
                         "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
                         "debug consensus: kept 1\n"
                         "[0-9T:.-]{23}Z warn  rpc: kept 2\n"
                         "[0-9T:.-]{23}Z error node: kept 3\n$",
                         REG_EXTENDED),
                 0);
    cr_assert_eq(regexec(&re, text, 0, NULL, 0), 0, "%s", text);
    regfree(&re);
    free(text);
}

Test(log, reopen_after_a_rename)
{
    cr_assert_eq(kula_log_set_file(path), 0);
    kula_info("before");
    char moved[160];
    snprintf(moved, sizeof(moved), "%s.1", path);
    cr_assert_eq(rename(path, moved), 0);
    kula_info("still to the moved file");
    cr_assert_eq(kula_log_reopen(), 0);
    kula_info("after");
    char *old = slurp(moved), *now = slurp(path);
    cr_assert_not_null(strstr(old, "info  node: before\n"));
    cr_assert_not_null(strstr(old, "still to the moved file"));
    cr_assert_null(strstr(old, "after"), "%s", old);
    cr_assert_not_null(strstr(now, "info  node: log: reopened "), "%s", now);
    cr_assert_not_null(strstr(now, "info  node: after\n"), "%s", now);
    free(old);
    free(now);
}

Test(log, a_file_that_cannot_be_opened_changes_nothing)
{
    char bad[160];
    snprintf(bad, sizeof(bad), "%s/no/such/dir/node.log", dir);
    cr_assert_eq(kula_log_set_file(bad), -ENOENT);
    cr_assert_eq(kula_log_set_file(path), 0);
    cr_assert_eq(kula_log_set_file(bad), -ENOENT);
    kula_info("still here");
    char *text = slurp(path);
    cr_assert_not_null(strstr(text, "still here"));
    free(text);
    cr_assert_eq(kula_log_reopen(), 0);
}
