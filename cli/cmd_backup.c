/* cmd_backup.c -- kula backup: the node's ledger, keys and wallet copied
 * into a folder while the node runs (kula/audit/backup.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kula/audit/backup.h"

static const char backup_usage[] =
    "Usage: kula [--datadir DIR] [--wallet DIR] backup DEST\n"
    "Copy a node's data directory into the new folder DEST, while the node runs:\n"
    "  DEST/ledger/data.mdb   the ledger as of one committed block (LMDB's copy,\n"
    "                         inside one read transaction; the node goes on)\n"
    "  DEST/node.key, p2p.key, kulad.conf   those the data directory has\n"
    "  DEST/wallet/*.key      the wallet's keys, still encrypted\n"
    "  DEST/MANIFEST.json     network, height, tip hash, state root, time, version\n"
    "Run it as the user the node runs as (it reads the node's files). DEST must\n"
    "not exist; the copy is made in DEST.partial and renamed when complete.\n"
    "\n"
    "Restore into a new or empty data directory with\n"
    "  kulad --restore DEST --datadir NEWDIR\n"
    "A validator restored so signs nothing until the network has decided one\n"
    "more block without it (see kulad(8), RESTORE).\n";

int cmd_backup(cli *c)
{
    static const struct option opts[] = {
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int opt;
    optind = 0;
    while ((opt = getopt_long(c->argc, c->argv, ":h", opts, NULL)) != -1) {
        switch (opt) {
        case 'h': fputs(backup_usage, stdout); return CLI_OK;
        default: return cli_fail(CLI_USAGE, "backup: bad option '%s' (see kula backup --help)",
                                 c->argv[optind - 1]);
        }
    }
    if (c->argc - optind != 1)
        return cli_fail(CLI_USAGE, "backup: expected one DEST, the new folder to write (see "
                                   "kula backup --help)");
    const char *dest = c->argv[optind];
    kula_backup_manifest m;
    kula_error e;
    if (kula_backup_make(&m, c->datadir, c->wallet, dest, &e) != 0)
        return cli_fail(e.code == KULA_EEXIST ? CLI_USAGE : CLI_REFUSED, "backup: %s", e.what);
    char tip[2 * KULA_HASH_LEN + 1], root[2 * KULA_HASH_LEN + 1];
    kula_hex_encode(tip, m.tip.b, KULA_HASH_LEN);
    kula_hex_encode(root, m.state_root.b, KULA_HASH_LEN);
    if (c->json) {
        json_t *j = json_pack("{s:s, s:s, s:I, s:s, s:s, s:I}", "backup", dest, "network",
                              m.network, "height", (json_int_t)m.height, "tip_hash", tip,
                              "state_root", root, "wallet_keys", (json_int_t)m.keys);
        char *text = j != NULL ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
        json_decref(j);
        if (text == NULL)
            return cli_fail(CLI_REFUSED, "backup: out of memory (the backup is complete)");
        puts(text);
        free(text);
    } else {
        printf("backed up %s into %s: network %s at height %llu\n  tip %s\n  state root %s\n"
               "  %zu wallet keys\n",
               c->datadir, dest, m.network, (unsigned long long)m.height, tip, root, m.keys);
    }
    return CLI_OK;
}
