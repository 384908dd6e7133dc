/* test_backup.c -- a data directory's backup and restore
 * (node/audit/backup.c) on a small real ledger: the round trip with its
 * manifest and the files it carries and leaves out; a destination that
 * exists, a data directory that is not empty, a folder that is no backup
 * and a manifest that does not match its ledger are refused, leaving
 * nothing behind. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kula/audit/audit.h"
#include "kula/audit/backup.h"
#include "ledgerfix.h"

static lf F;
static char out[300]; /* a folder for backups and restores, under F.dir */

static void setup(void)
{
    lf_init(&F);
    snprintf(out, sizeof(out), "%s/out", F.dir);
    cr_assert_eq(mkdir(out, 0700), 0);
}

static void teardown(void)
{
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", out);
    cr_assert_eq(system(cmd), 0);
    lf_free(&F);
}

TestSuite(backup, .init = setup, .fini = teardown, .timeout = 120);

static void put(const char *dir, const char *name, const char *text)
{
    char p[600];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f, "%s", p);
    fputs(text, f);
    fclose(f);
}

static bool has(const char *dir, const char *name)
{
    char p[600];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

static char *at(const char *name)
{
    static char p[4][600];
    static int i;
    i = (i + 1) % 4;
    snprintf(p[i], sizeof(p[i]), "%s/%s", out, name);
    return p[i];
}

/* Files beside the ledger of lf_scenario's 5 blocks, the store closed (LMDB
 * may not be opened twice in one process; kulad's is another process). */
static void datadir(void)
{
    lf_close(&F);
    put(F.dir, "node.key", "the member's key\n");
    put(F.dir, "kulad.conf", "log-level = info\n");
    put(F.dir, "consensus.state", "newer than any backup\n");
    put(F.dir, "rpc.cookie", "rewritten at start\n");
    char w[400];
    snprintf(w, sizeof(w), "%s/wallet", F.dir);
    cr_assert_eq(mkdir(w, 0700), 0);
    put(w, "alice.key", "alice\n");
    put(w, "bob.key", "bob\n");
    put(w, "notes.txt", "not a key\n");
}

Test(backup, round_trip_with_its_manifest)
{
    lf_scenario(&F);
    kula_hash tip = *kula_chain_tip_hash(F.chain);
    kula_hash root = *kula_ledger_state_root(kula_chain_ledger(F.chain));
    datadir();
    kula_backup_manifest m;
    kula_error e;
    cr_assert_eq(kula_backup_make(&m, F.dir, NULL, at("bk"), &e), 0, "%s", e.what);
    cr_assert_eq(m.height, 5);
    cr_assert_eq(memcmp(m.tip.b, tip.b, KULA_HASH_LEN), 0);
    cr_assert_eq(memcmp(m.state_root.b, root.b, KULA_HASH_LEN), 0);
    cr_assert_eq(memcmp(m.chain_id.b, F.g.chain_id.b, KULA_HASH_LEN), 0);
    cr_assert_str_eq(m.network, "kula-test");
    cr_assert_eq(m.keys, 2);
    const char *bk = at("bk");
    cr_assert(has(bk, "MANIFEST.json") && has(bk, "ledger/data.mdb") && has(bk, "node.key") &&
              has(bk, "kulad.conf") && has(bk, "wallet/alice.key") && has(bk, "wallet/bob.key"));
    cr_assert_not(has(bk, "consensus.state") || has(bk, "rpc.cookie") ||
                  has(bk, "wallet/notes.txt") || has(bk, "ledger/lock.mdb"));
    cr_assert_not(has(out, "bk.partial"));
    json_error_t je;
    json_t *j = json_load_file(at("bk/MANIFEST.json"), 0, &je);
    cr_assert_not_null(j);
    cr_assert_eq(json_integer_value(json_object_get(j, "height")), 5);
    cr_assert_str_eq(json_string_value(json_object_get(j, "version")), KULA_VERSION_STRING);
    char hex[65];
    kula_hex_encode(hex, tip.b, KULA_HASH_LEN);
    cr_assert_str_eq(json_string_value(json_object_get(j, "tip_hash")), hex);
    json_decref(j);

    kula_backup_manifest r;
    cr_assert_not(kula_backup_restored(at("new")));
    cr_assert_eq(kula_backup_restore(&r, at("bk"), at("new"), &e), 0, "%s", e.what);
    cr_assert_eq(r.height, 5);
    cr_assert_eq(r.keys, 2);
    cr_assert(kula_backup_restored(at("new")));
    cr_assert(has(at("new"), "node.key") && has(at("new"), "kulad.conf") &&
              has(at("new"), "wallet/bob.key"));
    cr_assert_not(has(at("new"), "consensus.state"));
    kula_archive *a;
    char err[256];
    cr_assert_eq(kula_archive_open(&a, at("new"), err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(kula_archive_tip(a), 5);
    kula_archive_close(a);
}

Test(backup, an_existing_destination_is_refused)
{
    lf_scenario(&F);
    datadir();
    kula_backup_manifest m;
    kula_error e;
    cr_assert_eq(mkdir(at("bk"), 0700), 0);
    cr_assert_eq(kula_backup_make(&m, F.dir, NULL, at("bk"), &e), KULA_EEXIST);
    cr_assert_not_null(strstr(e.what, "already exists: give a new folder"), "%s", e.what);
    cr_assert_eq(mkdir(at("b2.partial"), 0700), 0);
    cr_assert_eq(kula_backup_make(&m, F.dir, NULL, at("b2"), &e), KULA_EEXIST);
    cr_assert_not_null(strstr(e.what, "did not finish: remove it"), "%s", e.what);
    cr_assert_not(has(out, "b2"));
}

Test(backup, no_ledger_no_backup)
{
    kula_backup_manifest m;
    kula_error e;
    cr_assert_eq(kula_backup_make(&m, out, NULL, at("bk"), &e), KULA_ENOTFOUND);
    cr_assert_not_null(strstr(e.what, "holds no ledger"), "%s", e.what);
    cr_assert_not(has(out, "bk") || has(out, "bk.partial"));
}

Test(backup, restore_never_overwrites)
{
    lf_scenario(&F);
    datadir();
    kula_backup_manifest m;
    kula_error e;
    cr_assert_eq(kula_backup_make(&m, F.dir, NULL, at("bk"), &e), 0, "%s", e.what);
    cr_assert_eq(mkdir(at("busy"), 0700), 0);
    put(at("busy"), "keep", "x");
    cr_assert_eq(kula_backup_restore(&m, at("bk"), at("busy"), &e), KULA_EEXIST);
    cr_assert_not_null(strstr(e.what, "is not empty (it holds keep)"), "%s", e.what);
    cr_assert(has(at("busy"), "keep"));
    cr_assert_not(has(at("busy"), "ledger") || has(at("busy"), "restored"));
    /* an empty folder is fine */
    cr_assert_eq(mkdir(at("empty"), 0700), 0);
    cr_assert_eq(kula_backup_restore(&m, at("bk"), at("empty"), &e), 0, "%s", e.what);
}

Test(backup, not_a_backup)
{
    kula_backup_manifest m;
    kula_error e;
    cr_assert_eq(kula_backup_restore(&m, out, at("new"), &e), KULA_ENOTFOUND);
    cr_assert_not_null(strstr(e.what, "is not a backup: no MANIFEST.json"), "%s", e.what);
    put(out, "MANIFEST.json", "{\"format\": 1, \"network\": 7}");
    cr_assert_eq(kula_backup_restore(&m, out, at("new"), &e), KULA_EINVAL);
    cr_assert_not_null(strstr(e.what, "is missing or not of its type"), "%s", e.what);
    put(out, "MANIFEST.json", "{\"format\": 2}");
    cr_assert_eq(kula_backup_restore(&m, out, at("new"), &e), KULA_EINVAL);
    cr_assert_not_null(strstr(e.what, "made by another version"), "%s", e.what);
    put(out, "MANIFEST.json", "[1, 2");
    cr_assert_eq(kula_backup_restore(&m, out, at("new"), &e), KULA_EINVAL);
    cr_assert_not(has(out, "new"));
}

Test(backup, a_manifest_that_does_not_match_is_refused_leaving_nothing)
{
    lf_scenario(&F);
    datadir();
    kula_backup_manifest m;
    kula_error e;
    cr_assert_eq(kula_backup_make(&m, F.dir, NULL, at("bk"), &e), 0, "%s", e.what);
    json_error_t je;
    json_t *j = json_load_file(at("bk/MANIFEST.json"), 0, &je);
    cr_assert_not_null(j);
    json_object_set_new(j, "height", json_integer(4));
    cr_assert_eq(json_dump_file(j, at("bk/MANIFEST.json"), 0), 0);
    json_decref(j);
    cr_assert_eq(kula_backup_restore(&m, at("bk"), at("new"), &e), KULA_EINVAL);
    cr_assert_not_null(strstr(e.what, "is not the one its manifest describes (height 4 there, "
                                      "5 in the ledger)"),
                       "%s", e.what);
    cr_assert_not(has(out, "new"));
}
