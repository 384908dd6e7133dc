/* test_config.c -- kulad's addresses, command line and DATADIR/kulad.conf. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kula/daemon/config.h"
#include "kula/base/error.h"

/* ---- helpers ---- */

static char tmpdir[256];

static void make_tmp(void)
{
    strcpy(tmpdir, "/tmp/kula-config-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void remove_tmp(void)
{
    if (tmpdir[0] != '\0') {
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        (void)system(cmd);
    }
}

TestSuite(config, .init = make_tmp, .fini = remove_tmp);

static void write_conf(const char *dir, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/kulad.conf", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

/* Runs kula_config_load on a NULL-terminated list of arguments (after
 * "kulad"), with writable copies, as getopt may permute them. */
static int load(kula_config *cfg, char *err, size_t errlen, ...)
{
    char *argv[80];
    int argc = 0;
    argv[argc++] = strdup("kulad");
    va_list ap;
    va_start(ap, errlen);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && argc < 79)
        argv[argc++] = strdup(a);
    va_end(ap);
    argv[argc] = NULL;
    kula_error e = { 0 };
    int rc = kula_config_load(cfg, argc, argv, &e);
    snprintf(err, errlen, "%s", e.what);
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    return rc;
}

static void expect_hp(const kula_hostport *hp, const char *host, unsigned port)
{
    cr_assert_str_eq(hp->host, host);
    cr_assert_eq(hp->port, port, "port %u, expected %u", hp->port, port);
}

/* ---- addresses ---- */

Test(config, hostport_accepts)
{
    static const struct { const char *in, *host; unsigned port; const char *out; } ok[] = {
        { "127.0.0.1:7400", "127.0.0.1", 7400, "127.0.0.1:7400" },
        { "[::1]:7400", "::1", 7400, "[::1]:7400" },
        { "localhost:1", "127.0.0.1", 1, "127.0.0.1:1" },
        { "0.0.0.0:65535", "0.0.0.0", 65535, "0.0.0.0:65535" },
        { "10.1.2.3:80", "10.1.2.3", 80, "10.1.2.3:80" },
        { "[2001:db8::7]:443", "2001:db8::7", 443, "[2001:db8::7]:443" },
        { "[::]:9", "::", 9, "[::]:9" },
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        kula_hostport hp;
        cr_assert_eq(kula_hostport_parse(&hp, ok[i].in), 0, "rejected %s", ok[i].in);
        expect_hp(&hp, ok[i].host, ok[i].port);
        char buf[96];
        kula_hostport_format(buf, sizeof(buf), &hp);
        cr_assert_str_eq(buf, ok[i].out);
    }
}

Test(config, hostport_rejects)
{
    static const char *const bad[] = {
        "127.0.0.1:0",        /* port 0 */
        "127.0.0.1:65536",    /* above 65535 */
        "127.0.0.1:99999",
        "127.0.0.1:123456",
        "127.0.0.1",          /* missing port */
        "127.0.0.1:",
        "[::1]",
        "[::1]:",
        "[::1]7400",
        "localhost",
        "example.com:80",     /* names other than localhost */
        "localhost.localdomain:80",
        "LOCALHOST:80",
        "1.2.3:4",            /* not a full IPv4 address */
        "1.2.3.4.5:6",
        "256.1.1.1:80",
        "::1:7400",           /* IPv6 needs brackets */
        "[127.0.0.1]:80",     /* brackets are for IPv6 */
        "[]:80",
        "[::1:80",
        ":7400",
        "127.0.0.1:+80",
        "127.0.0.1:-1",
        "127.0.0.1:80a",
        "127.0.0.1: 80",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        kula_hostport hp;
        memset(&hp, 0x55, sizeof(hp));
        cr_assert_eq(kula_hostport_parse(&hp, bad[i]), KULA_ECONFIG, "accepted \"%s\"", bad[i]);
        cr_assert_eq(hp.port, 0, "port left set for \"%s\"", bad[i]);
        cr_assert_eq(hp.host[0], '\0');
    }
    kula_hostport hp;
    cr_assert_eq(kula_hostport_parse(&hp, NULL), KULA_ECONFIG);
    /* A host longer than the field. */
    char longv6[128];
    snprintf(longv6, sizeof(longv6), "[%s]:1",
             "0000:0000:0000:0000:0000:0000:0000:0001%aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    cr_assert_eq(kula_hostport_parse(&hp, longv6), KULA_ECONFIG);
}

/* ---- command line ---- */

Test(config, defaults)
{
    /* The default data directory is relative: run where none exists. */
    cr_assert_eq(chdir(tmpdir), 0);
    kula_config cfg;
    char err[256];
    cr_assert_eq(load(&cfg, err, sizeof(err), NULL), 0, "%s", err);
    cr_assert_str_eq(cfg.datadir, "kula-data");
    cr_assert_str_eq(cfg.genesis, "GENESIS.json");
    expect_hp(&cfg.listen, "127.0.0.1", 7400);
    expect_hp(&cfg.rpc, "127.0.0.1", 7401);
    cr_assert_eq(cfg.npeers, 0);
    cr_assert_str_eq(cfg.key_file, "kula-data/node.key");
    cr_assert_str_eq(cfg.passphrase_file, "");
    cr_assert(!cfg.reindex);
    cr_assert(!cfg.help);
    cr_assert(!cfg.version);
    cr_assert_eq(cfg.verbosity, 0);
}

Test(config, each_flag)
{
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/data", tmpdir);
    kula_config cfg;
    char err[256];
    cr_assert_eq(load(&cfg, err, sizeof(err), "--datadir", dir, "--genesis", "/g/G.json",
                      "--listen", "0.0.0.0:9000", "--rpc", "[::1]:9001", "--peer",
                      "10.0.0.1:7400", "--peer", "[2001:db8::1]:7401", "--key", "/k/v.key",
                      "--passphrase-file", "/k/pass", "--reindex", "-v", NULL),
                 0, "%s", err);
    cr_assert_str_eq(cfg.datadir, dir);
    cr_assert_str_eq(cfg.genesis, "/g/G.json");
    expect_hp(&cfg.listen, "0.0.0.0", 9000);
    expect_hp(&cfg.rpc, "::1", 9001);
    cr_assert_eq(cfg.npeers, 2);
    expect_hp(&cfg.peers[0], "10.0.0.1", 7400);
    expect_hp(&cfg.peers[1], "2001:db8::1", 7401);
    cr_assert_str_eq(cfg.key_file, "/k/v.key");
    cr_assert_str_eq(cfg.passphrase_file, "/k/pass");
    cr_assert(cfg.reindex);
    cr_assert_eq(cfg.verbosity, 1);
    cr_assert(!cfg.help);

    /* --name=value and the long form of -v. */
    cr_assert_eq(load(&cfg, err, sizeof(err), "--datadir=" "/nonexistent/kula", "--verbose",
                      "--listen=localhost:7500", NULL),
                 0, "%s", err);
    cr_assert_str_eq(cfg.datadir, "/nonexistent/kula");
    cr_assert_str_eq(cfg.key_file, "/nonexistent/kula/node.key");
    expect_hp(&cfg.listen, "127.0.0.1", 7500);
    cr_assert_eq(cfg.verbosity, 1);
}

/* gossip-batches: off by default, on from the file or the flag, and a
 * value that is neither yes nor no named with its file and line. */
Test(config, gossip_batches)
{
    kula_config cfg;
    char err[512];
    cr_assert_eq(chdir(tmpdir), 0);
    cr_assert_eq(load(&cfg, err, sizeof(err), NULL), 0, "%s", err);
    cr_assert(!cfg.gossip_batches, "off unless asked");
    cr_assert_eq(load(&cfg, err, sizeof(err), "--gossip-batches", NULL), 0, "%s", err);
    cr_assert(cfg.gossip_batches);
    write_conf(tmpdir, "gossip-batches = yes\n");
    cr_assert_eq(load(&cfg, err, sizeof(err), "--datadir", tmpdir, NULL), 0, "%s", err);
    cr_assert(cfg.gossip_batches);
    write_conf(tmpdir, "gossip-batches = no\n");
    cr_assert_eq(load(&cfg, err, sizeof(err), "--datadir", tmpdir, "--gossip-batches", NULL), 0,
                 "%s", err);
    cr_assert(cfg.gossip_batches, "the flag wins over the file");
    write_conf(tmpdir, "\ngossip-batches = often\n");
    cr_assert_neq(load(&cfg, err, sizeof(err), "--datadir", tmpdir, NULL), 0);
    cr_assert(strstr(err, "gossip-batches") != NULL || strstr(err, ":2") != NULL, "%s", err);
}

Test(config, help_and_version)
{
    /* --help does not read the config file, even a broken one. */
    write_conf(tmpdir, "this is not a setting\n");
    kula_config cfg;
    char err[256];
    cr_assert_eq(load(&cfg, err, sizeof(err), "--datadir", tmpdir, "--help", NULL), 0, "%s",
                 err);
    cr_assert(cfg.help);
    cr_assert_eq(load(&cfg, err, sizeof(err), "--datadir", tmpdir, "-h", NULL), 0, "%s", err);
    cr_assert(cfg.help);
    cr_assert_eq(load(&cfg, err, sizeof(err), "--datadir", tmpdir, "--version", NULL), 0, "%s",
                 err);
    cr_assert(cfg.version);
    cr_assert(!cfg.help);
    /* Without --help the broken file is an error. */
    cr_assert_eq(load(&cfg, err, sizeof(err), "--datadir", tmpdir, NULL), KULA_ECONFIG);
    cr_assert_not_null(strstr(kula_config_usage, "--datadir"));
    cr_assert_not_null(strstr(kula_config_usage, "--genesis"));
}

Test(config, unknown_option_and_missing_value)
{
    cr_assert_eq(chdir(tmpdir), 0);
    kula_config cfg;
    char err[256];
    cr_assert_eq(load(&cfg, err, sizeof(err), "--frobnicate", NULL), KULA_ECONFIG);
    cr_assert_not_null(strstr(err, "unknown option"), "%s", err);
    cr_assert_not_null(strstr(err, "--frobnicate"), "%s", err);
    cr_assert_null(strchr(err, '\n'));

    cr_assert_eq(load(&cfg, err, sizeof(err), "-x", NULL), KULA_ECONFIG);
    cr_assert_not_null(strstr(err, "unknown option"), "%s", err);
    cr_assert_not_null(strstr(err, "-x"), "%s", err);

    /* A flag without a value given one. */
    cr_assert_eq(load(&cfg, err, sizeof(err), "--reindex=yes", NULL), KULA_ECONFIG);
    cr_assert_not_null(strstr(err, "--reindex"), "%s", err);

    static const char *const need_value[] = { "--datadir", "--genesis", "--listen", "--rpc",
                                              "--peer", "--key", "--passphrase-file" };
    for (size_t i = 0; i < sizeof(need_value) / sizeof(need_value[0]); i++) {
        cr_assert_eq(load(&cfg, err, sizeof(err), need_value[i], NULL), KULA_ECONFIG);
        cr_assert_not_null(strstr(err, need_value[i]), "%s", err);
        cr_assert_not_null(strstr(err, "missing value"), "%s", err);
    }

    cr_assert_eq(load(&cfg, err, sizeof(err), "stray", NULL), KULA_ECONFIG);
    cr_assert_not_null(strstr(err, "stray"), "%s", err);
}

Test(config, bad_values)
{
    cr_assert_eq(chdir(tmpdir), 0);
    kula_config cfg;
    char err[256];
    cr_assert_eq(load(&cfg, err, sizeof(err), "--listen", "example.com:80", NULL),
                 KULA_ECONFIG);
    cr_assert_not_null(strstr(err, "--listen"), "%s", err);
    cr_assert_not_null(strstr(err, "example.com:80"), "%s", err);
    cr_assert_eq(load(&cfg, err, sizeof(err), "--rpc", "127.0.0.1:0", NULL), KULA_ECONFIG);
    cr_assert_not_null(strstr(err, "--rpc"), "%s", err);
    cr_assert_eq(load(&cfg, err, sizeof(err), "--peer", "1.2.3:4", NULL), KULA_ECONFIG);
    cr_assert_not_null(strstr(err, "peer"), "%s", err);
    cr_assert_eq(load(&cfg, err, sizeof(err), "--datadir", "", NULL), KULA_ECONFIG);
    cr_assert_not_null(strstr(err, "--datadir"), "%s", err);
    cr_assert_not_null(strstr(err, "empty"), "%s", err);

    char longpath[1100];
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[sizeof(longpath) - 1] = '\0';
    cr_assert_eq(load(&cfg, err, sizeof(err), "--genesis", longpath, NULL), KULA_ECONFIG);
    cr_assert_not_null(strstr(err, "--genesis"), "%s", err);
}

Test(config, too_many_peers)
{
    cr_assert_eq(chdir(tmpdir), 0);
    char *argv[2 + 2 * (KULA_MAX_PEERS_CONFIGURED + 1)];
    int argc = 0;
    argv[argc++] = strdup("kulad");
    for (int i = 0; i < KULA_MAX_PEERS_CONFIGURED + 1; i++) {
        char addr[32];
        snprintf(addr, sizeof(addr), "10.0.0.%d:7400", i + 1);
        argv[argc++] = strdup("--peer");
        argv[argc++] = strdup(addr);
    }
    argv[argc] = NULL;
    kula_config cfg;
    kula_error err;
    cr_assert_eq(kula_config_load(&cfg, argc, argv, &err), KULA_ECONFIG);
    cr_assert_not_null(strstr(err.what, "peer"), "%s", err.what);
    /* Exactly the maximum is fine. */
    cr_assert_eq(kula_config_load(&cfg, argc - 2, argv, &err), 0, "%s", err.what);
    cr_assert_eq(cfg.npeers, KULA_MAX_PEERS_CONFIGURED);
    for (int i = 0; i < argc; i++)
        free(argv[i]);
}

/* ---- DATADIR/kulad.conf ---- */

static const char CONF[] =
    "# kulad settings\n"
    "\n"
    "   # an indented comment\n"
    "genesis = /file/GENESIS.json\n"
    "listen=127.0.0.1:9100\n"
    "\trpc =  [::1]:9101  \n"
    "peer = 10.0.0.1:1\r\n"
    "   \t  \n"
    "peer = 10.0.0.2:2\n"
    "key = /file/node.key\n"
    "passphrase-file = /file/pass\n"
    "peer = localhost:3";  /* no final newline */

Test(config, file_values_used)
{
    write_conf(tmpdir, CONF);
    kula_config cfg;
    char err[512];
    cr_assert_eq(load(&cfg, err, sizeof(err), "--datadir", tmpdir, NULL), 0, "%s", err);
    cr_assert_str_eq(cfg.genesis, "/file/GENESIS.json");
    expect_hp(&cfg.listen, "127.0.0.1", 9100);
    expect_hp(&cfg.rpc, "::1", 9101);
    cr_assert_eq(cfg.npeers, 3);
    expect_hp(&cfg.peers[0], "10.0.0.1", 1);
    expect_hp(&cfg.peers[1], "10.0.0.2", 2);
    expect_hp(&cfg.peers[2], "127.0.0.1", 3);
    cr_assert_str_eq(cfg.key_file, "/file/node.key");
    cr_assert_str_eq(cfg.passphrase_file, "/file/pass");
}

Test(config, command_line_overrides_file)
{
    write_conf(tmpdir, CONF);
    kula_config cfg;
    char err[512];
    cr_assert_eq(load(&cfg, err, sizeof(err), "--datadir", tmpdir, "--genesis", "/cli/G.json",
                      "--listen", "127.0.0.1:9200", "--key", "/cli/k", "--peer", "10.9.9.9:9",
                      NULL),
                 0, "%s", err);
    cr_assert_str_eq(cfg.genesis, "/cli/G.json");
    expect_hp(&cfg.listen, "127.0.0.1", 9200);
    cr_assert_str_eq(cfg.key_file, "/cli/k");
    /* Peers from the command line replace those of the file. */
    cr_assert_eq(cfg.npeers, 1);
    expect_hp(&cfg.peers[0], "10.9.9.9", 9);
    /* Settings the command line left alone still come from the file. */
    expect_hp(&cfg.rpc, "::1", 9101);
    cr_assert_str_eq(cfg.passphrase_file, "/file/pass");

    cr_assert_eq(load(&cfg, err, sizeof(err), "--datadir", tmpdir, "--rpc", "127.0.0.1:9300",
                      "--passphrase-file", "/cli/p", NULL),
                 0, "%s", err);
    expect_hp(&cfg.rpc, "127.0.0.1", 9300);
    cr_assert_str_eq(cfg.passphrase_file, "/cli/p");
    cr_assert_eq(cfg.npeers, 3);
}

Test(config, file_comments_only)
{
    write_conf(tmpdir, "# nothing here\n\n   \n#listen = 1.2.3.4:5\n");
    kula_config cfg;
    char err[512];
    cr_assert_eq(load(&cfg, err, sizeof(err), "--datadir", tmpdir, NULL), 0, "%s", err);
    expect_hp(&cfg.listen, "127.0.0.1", 7400);
    cr_assert_eq(cfg.npeers, 0);
    cr_assert_str_eq(cfg.genesis, "GENESIS.json");
    char want[512];
    snprintf(want, sizeof(want), "%s/node.key", tmpdir);
    cr_assert_str_eq(cfg.key_file, want);
}

Test(config, file_errors_name_file_and_line)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/kulad.conf", tmpdir);
    char want[600];
    kula_config cfg;
    char err[1400];

    write_conf(tmpdir, "# settings\nlisten = 127.0.0.1:9100\ncolour = blue\n");
    cr_assert_eq(load(&cfg, err, sizeof(err), "--datadir", tmpdir, NULL), KULA_ECONFIG);
    snprintf(want, sizeof(want), "%s:3", path);
    cr_assert_not_null(strstr(err, want), "\"%s\" lacks \"%s\"", err, want);
    cr_assert_not_null(strstr(err, "colour"), "%s", err);
    cr_assert_not_null(strstr(err, "unknown setting"), "%s", err);

    /* Options spelled as on the command line are not settings. */
    write_conf(tmpdir, "--listen = 127.0.0.1:9100\n");
    cr_assert_eq(load(&cfg, err, sizeof(err), "--datadir", tmpdir, NULL), KULA_ECONFIG);
    snprintf(want, sizeof(want), "%s:1", path);
    cr_assert_not_null(strstr(err, want), "%s", err);

    write_conf(tmpdir, "\n\nlisten 127.0.0.1:9100\n");
    cr_assert_eq(load(&cfg, err, sizeof(err), "--datadir", tmpdir, NULL), KULA_ECONFIG);
    snprintf(want, sizeof(want), "%s:3", path);
    cr_assert_not_null(strstr(err, want), "%s", err);
    cr_assert_not_null(strstr(err, "name = value"), "%s", err);

    write_conf(tmpdir, "rpc = somewhere:80\n");
    cr_assert_eq(load(&cfg, err, sizeof(err), "--datadir", tmpdir, NULL), KULA_ECONFIG);
    snprintf(want, sizeof(want), "%s:1", path);
    cr_assert_not_null(strstr(err, want), "%s", err);
    cr_assert_not_null(strstr(err, "rpc"), "%s", err);
    cr_assert_not_null(strstr(err, "somewhere:80"), "%s", err);

    write_conf(tmpdir, "\ngenesis =\n");
    cr_assert_eq(load(&cfg, err, sizeof(err), "--datadir", tmpdir, NULL), KULA_ECONFIG);
    snprintf(want, sizeof(want), "%s:2", path);
    cr_assert_not_null(strstr(err, want), "%s", err);
    cr_assert_not_null(strstr(err, "genesis"), "%s", err);
}

Test(config, missing_datadir_is_not_an_error)
{
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/not-yet", tmpdir);
    kula_config cfg;
    char err[256];
    cr_assert_eq(load(&cfg, err, sizeof(err), "--datadir", dir, NULL), 0, "%s", err);
    cr_assert_str_eq(cfg.datadir, dir);
}

/* The API's token travels in plain HTTP: beyond loopback only on purpose. */
Test(config, rpc_beyond_loopback_needs_allow_remote)
{
    cr_assert_eq(chdir(tmpdir), 0);
    kula_config cfg;
    char err[512];
    cr_assert_eq(load(&cfg, err, sizeof(err), "--rpc", "0.0.0.0:7601", NULL), KULA_ECONFIG);
    cr_assert_not_null(strstr(err, "0.0.0.0:7601"), "%s", err);
    cr_assert_not_null(strstr(err, "--rpc-allow-remote"), "%s", err);
    cr_assert_eq(load(&cfg, err, sizeof(err), "--rpc", "[::]:7601", NULL), KULA_ECONFIG);
    cr_assert_eq(load(&cfg, err, sizeof(err), "--rpc", "0.0.0.0:7601", "--rpc-allow-remote",
                      NULL),
                 KULA_OK, "%s", err);
    cr_assert(cfg.rpc_allow_remote);
    /* every loopback address is local */
    cr_assert_eq(load(&cfg, err, sizeof(err), "--rpc", "127.0.0.2:7601", NULL), KULA_OK, "%s",
                 err);
    cr_assert_eq(load(&cfg, err, sizeof(err), "--rpc", "[::1]:7601", NULL), KULA_OK, "%s", err);
    cr_assert_not(cfg.rpc_allow_remote);
    kula_hostport hp;
    cr_assert_eq(kula_hostport_parse(&hp, "10.0.0.1:1"), 0);
    cr_assert_not(kula_hostport_is_loopback(&hp));
    cr_assert_eq(kula_hostport_parse(&hp, "127.255.0.9:1"), 0);
    cr_assert(kula_hostport_is_loopback(&hp));
}

/* rpc-allow-remote in kulad.conf, and a value that is not yes or no. */
Test(config, rpc_allow_remote_in_file)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/kulad.conf", tmpdir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("rpc = 0.0.0.0:7601\nrpc-allow-remote = yes\n", f);
    fclose(f);
    kula_config cfg;
    char err[512];
    cr_assert_eq(load(&cfg, err, sizeof(err), "--datadir", tmpdir, NULL), KULA_OK, "%s", err);
    cr_assert(cfg.rpc_allow_remote);
    f = fopen(path, "w");
    fputs("rpc-allow-remote = maybe\n", f);
    fclose(f);
    cr_assert_eq(load(&cfg, err, sizeof(err), "--datadir", tmpdir, NULL), KULA_ECONFIG);
    cr_assert_not_null(strstr(err, "yes or no"), "%s", err);
    unlink(path);
}
