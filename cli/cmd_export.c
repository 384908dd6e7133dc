/* cmd_export.c -- kula export: the ledger's transactions for accounting software. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kula/audit/audit.h"
#include "kula/base/error.h"
#include "kula/audit/export.h"

static const char export_usage[] =
    "Usage: kula export [DATADIR] [--format csv|jsonl] [--agreement ID] [--output FILE]\n"
    "\n"
    "Writes every committed transaction of a node's ledger (DATADIR/ledger;\n"
    "DATADIR defaults to --datadir), in chain order, one record each, read\n"
    "offline from the store (the node may be running).  Rejected transactions\n"
    "never reach the ledger, so they never appear.\n"
    "\n"
    "  --format csv    RFC 4180 CSV with a header row (the default)\n"
    "  --format jsonl  one JSON object per line\n"
    "  --agreement ID  only the agreement ID's transactions (ID: the hex id of\n"
    "                  its agreement-open): open, amendments, contributions,\n"
    "                  benefits, settlements with each party's share, close,\n"
    "                  and the referrals under it and their conversions\n"
    "  --output FILE   write to FILE instead of standard output\n"
    "\n"
    "Fields: height, time (UTC, ISO 8601), tx_id, kind, from, from_name, to,\n"
    "to_name, amount, value, value_received, agreement, shares, rating,\n"
    "description, description_received, memo.  Amounts are decimals in the\n"
    "network's unit.  'amount' is the credit the transaction moved: transfer\n"
    "amount; exchange the settled difference (negative when the counterparty\n"
    "paid); conversion the fee paid to the referrer; benefit the amount paid into\n"
    "the pool; settle the pool paid out, split in 'shares' (member:amount;...).\n"
    "include/kula/audit/export.h defines every field.\n"
    "\n"
    "Exit status: 0 ok; 1 the ledger cannot be read or replayed, or the\n"
    "agreement is unknown; 3 usage.\n";

int cmd_export(cli *c)
{
    static const struct option opts[] = {
        { "format", required_argument, NULL, 'f' },
        { "agreement", required_argument, NULL, 'a' },
        { "output", required_argument, NULL, 'o' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    kula_export_opts eo;
    memset(&eo, 0, sizeof(eo));
    eo.format = c->json ? KULA_EXPORT_JSONL : KULA_EXPORT_CSV;
    const char *output = NULL;
    int opt;
    optind = 0;
    while ((opt = getopt_long(c->argc, c->argv, ":h", opts, NULL)) != -1) {
        switch (opt) {
        case 'f':
            if (strcmp(optarg, "csv") == 0)
                eo.format = KULA_EXPORT_CSV;
            else if (strcmp(optarg, "jsonl") == 0 || strcmp(optarg, "json") == 0)
                eo.format = KULA_EXPORT_JSONL;
            else
                return cli_fail(CLI_USAGE, "--format: csv or jsonl, not '%s'", optarg);
            break;
        case 'a':
            if (kula_hex_decode(eo.agreement.b, KULA_HASH_LEN, optarg) != 0)
                return cli_fail(CLI_USAGE, "--agreement: the 64 hex digits of an agreement id");
            eo.has_agreement = true;
            break;
        case 'o': output = optarg; break;
        case 'h': fputs(export_usage, stdout); return CLI_OK;
        case ':': return cli_fail(CLI_USAGE, "%s: missing value", c->argv[optind - 1]);
        default: return cli_fail(CLI_USAGE, "export: bad option '%s' (see kula export --help)",
                                 c->argv[optind - 1]);
        }
    }
    if (c->argc - optind > 1)
        return cli_fail(CLI_USAGE, "export: expected at most one DATADIR (see kula export --help)");
    const char *dir = optind < c->argc ? c->argv[optind] : c->datadir;
    char err[512];
    kula_archive *a;
    if (kula_archive_open(&a, dir, err, sizeof(err)) != 0)
        return cli_fail(CLI_REFUSED, "%s", err);
    FILE *out = stdout;
    if (output != NULL && (out = fopen(output, "w")) == NULL) {
        int e = errno;
        kula_archive_close(a);
        return cli_fail(CLI_REFUSED, "%s: %s", output, strerror(e));
    }
    kula_error be;
    uint64_t bad = 0, rows = 0;
    int rc = kula_export_run(a, out, &eo, &rows, &be, &bad);
    kula_archive_close(a);
    if (out != stdout && fclose(out) != 0 && rc == 0)
        rc = KULA_EIO;
    if (rc != 0 && bad != 0)
        return cli_fail(CLI_REFUSED, "the ledger does not replay at height %llu: %s "
                                     "(run kula audit)",
                        (unsigned long long)bad, be.what);
    if (rc == KULA_EUNKNOWNAGREEMENT)
        return cli_fail(CLI_REFUSED, "no agreement with that id was opened in this ledger");
    if (rc == KULA_EIO)
        return cli_fail(CLI_REFUSED, "cannot write the export: %s", strerror(errno));
    if (rc != 0)
        return cli_fail(CLI_REFUSED, "export failed: %s", kula_strerror(rc));
    return CLI_OK;
}
