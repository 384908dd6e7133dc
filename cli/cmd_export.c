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
#include "kula/audit/statement.h"
#include "kula/types/genesis.h"

static const char export_usage[] =
    "Usage: kula export [DATADIR] [--format csv|jsonl|journal] [--member M]\n"
    "                   [--from DATE] [--to DATE] [--local] [--agreement ID]\n"
    "                   [--output FILE]\n"
    "       kula export [DATADIR] --clearings [--format csv|jsonl] [--output FILE]\n"
    "\n"
    "Reads a node's ledger (DATADIR/ledger; DATADIR defaults to --datadir)\n"
    "offline from the store (the node may be running).  Rejected transactions\n"
    "never reach the ledger, so they never appear.\n"
    "\n"
    "With --member: M's account statement, one row per posting: date,\n"
    "tx_id, kind, counterparty, description, debit (paid out), credit\n"
    "(received), balance (after the posting), currency; first an opening\n"
    "balance row at --from.\n"
    "With --format journal: the double-entry journal, two postings per\n"
    "movement of credit (the payee's account debited, the payer's credited;\n"
    "accounts member:NAME and pool:LABEL), every movement summing to zero;\n"
    "with --member only M's movements.\n"
    "With --clearings: every obligation of every clearing, one record each:\n"
    "clearing (its number), height, time, id (the invoice), debtor,\n"
    "debtor_name, creditor, creditor_name, before, setoff, after; id, debtor,\n"
    "creditor and before (in minor units) are what kula clearing solve reads,\n"
    "so an auditor can recompute each clearing.\n"
    "Otherwise: every committed transaction, one record each (fields below),\n"
    "and every payment a clearing made from a member's credit (kula clearing\n"
    "settle on), after its block's transactions: kind clearing-settlement, no\n"
    "tx_id, from the debtor to the invoice's issuer, as in the statement.\n"
    "\n"
    "  --member M      a member's id or name\n"
    "  --from DATE     postings from DATE on (YYYY-MM-DD, or\n"
    "                  YYYY-MM-DDTHH:MM:SSZ; UTC)\n"
    "  --to DATE       postings before DATE (a day: up to its end)\n"
    "  --local         dates in the local time zone instead of UTC\n"
    "  --format csv    RFC 4180 CSV with a header row (the default)\n"
    "  --format jsonl  one JSON object per line, amounts in minor units for a\n"
    "                  statement or journal\n"
    "  --format journal  the journal as CSV (--format jsonl --journal: as JSON)\n"
    "  --agreement ID  only the agreement ID's transactions (ID: the hex id of\n"
    "                  its agreement-open), in the transaction listing\n"
    "  --output FILE   write to FILE instead of standard output\n"
    "\n"
    "CSV cells a spreadsheet would evaluate (starting with =, +, -, @, tab,\n"
    "CR) get a leading single quote.  Amounts are decimals in the network's\n"
    "unit.  Transaction listing fields: height, time (UTC, ISO 8601), tx_id,\n"
    "kind, from, from_name, to, to_name, amount, value, value_received,\n"
    "agreement, shares, rating, description, description_received, memo\n"
    "(include/kula/audit/export.h and statement.h define every field).\n"
    "\n"
    "Exit status: 0 ok; 1 the ledger cannot be read or replayed, or the\n"
    "member or agreement is unknown; 3 usage.\n";

static int export_failed(int rc, uint64_t bad, const kula_error *be)
{
    if (rc != 0 && bad != 0)
        return cli_fail(CLI_REFUSED, "the ledger does not replay at height %llu: %s "
                                     "(run kula audit)",
                        (unsigned long long)bad, be->what);
    if (rc == KULA_EUNKNOWNAGREEMENT)
        return cli_fail(CLI_REFUSED, "no agreement with that id was opened in this ledger");
    if (rc == KULA_EIO)
        return cli_fail(CLI_REFUSED, "cannot write the export: %s", strerror(errno));
    if (rc != 0)
        return cli_fail(CLI_REFUSED, "export failed: %s", kula_strerror(rc));
    return CLI_OK;
}

int cmd_export(cli *c)
{
    static const struct option opts[] = {
        { "format", required_argument, NULL, 'f' },
        { "agreement", required_argument, NULL, 'a' },
        { "member", required_argument, NULL, 'm' },
        { "from", required_argument, NULL, 'F' },
        { "to", required_argument, NULL, 'T' },
        { "local", no_argument, NULL, 'l' },
        { "journal", no_argument, NULL, 'J' },
        { "output", required_argument, NULL, 'o' },
        { "clearings", no_argument, NULL, 'C' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    kula_export_opts eo;
    memset(&eo, 0, sizeof(eo));
    kula_statement_opts so;
    memset(&so, 0, sizeof(so));
    eo.format = c->json ? KULA_EXPORT_JSONL : KULA_EXPORT_CSV;
    const char *output = NULL, *member = NULL;
    bool period = false, clearings = false;
    int opt;
    optind = 0;
    while ((opt = getopt_long(c->argc, c->argv, ":h", opts, NULL)) != -1) {
        switch (opt) {
        case 'f':
            if (strcmp(optarg, "csv") == 0)
                eo.format = KULA_EXPORT_CSV;
            else if (strcmp(optarg, "jsonl") == 0 || strcmp(optarg, "json") == 0)
                eo.format = KULA_EXPORT_JSONL;
            else if (strcmp(optarg, "journal") == 0)
                so.journal = true;
            else
                return cli_fail(CLI_USAGE, "--format: csv, jsonl or journal, not '%s'", optarg);
            break;
        case 'J': so.journal = true; break;
        case 'a':
            if (kula_hex_decode(eo.agreement.b, KULA_HASH_LEN, optarg) != 0)
                return cli_fail(CLI_USAGE, "--agreement: the 64 hex digits of an agreement id");
            eo.has_agreement = true;
            break;
        case 'm': member = optarg; break;
        case 'F':
        case 'T':
            if (kula_statement_date(optarg, opt == 'T', opt == 'F' ? &so.from_ms : &so.to_ms) != 0)
                return cli_fail(CLI_USAGE, "--%s: a date YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ "
                                           "(UTC), not '%s'",
                                opt == 'F' ? "from" : "to", optarg);
            period = true;
            break;
        case 'l': so.local = true; break;
        case 'o': output = optarg; break;
        case 'C': clearings = true; break;
        case 'h': fputs(export_usage, stdout); return CLI_OK;
        case ':': return cli_fail(CLI_USAGE, "%s: missing value", c->argv[optind - 1]);
        default: return cli_fail(CLI_USAGE, "export: bad option '%s' (see kula export --help)",
                                 c->argv[optind - 1]);
        }
    }
    if (c->argc - optind > 1)
        return cli_fail(CLI_USAGE, "export: expected at most one DATADIR (see kula export --help)");
    bool books = member != NULL || so.journal;
    if (clearings && (books || eo.has_agreement || period || so.local))
        return cli_fail(CLI_USAGE, "--clearings lists every clearing's obligations; it does "
                                   "not go with --member, --agreement, --from, --to, --local "
                                   "or --format journal");
    if (!books && (period || so.local))
        return cli_fail(CLI_USAGE, "--from, --to and --local apply to a statement (--member M) "
                                   "or the journal (--format journal)");
    if (books && eo.has_agreement)
        return cli_fail(CLI_USAGE, "--agreement lists an agreement's transactions; it does "
                                   "not go with --member or --format journal");
    if (so.to_ms != 0 && so.to_ms <= so.from_ms)
        return cli_fail(CLI_USAGE, "--to must be after --from");
    so.format = eo.format == KULA_EXPORT_JSONL ? KULA_STATEMENT_JSONL : KULA_STATEMENT_CSV;
    const char *dir = optind < c->argc ? c->argv[optind] : c->datadir;
    kula_error err;
    kula_archive *a;
    if (kula_archive_open(&a, dir, &err) != 0)
        return cli_fail(CLI_REFUSED, "%s", err.what);
    if (member != NULL) {
        int rc = kula_statement_member(a, member, &so.member);
        if (rc != 0) {
            kula_archive_close(a);
            return rc == KULA_ENOTFOUND
                       ? cli_fail(CLI_REFUSED, "--member: no member '%s' in this ledger (an id "
                                               "or a name; kula members lists them)",
                                  member)
                       : export_failed(rc, 0, NULL);
        }
    }
    FILE *out = stdout;
    if (output != NULL && (out = fopen(output, "w")) == NULL) {
        int e = errno;
        kula_archive_close(a);
        return cli_fail(CLI_REFUSED, "%s: %s", output, strerror(e));
    }
    kula_error be;
    uint64_t bad = 0, rows = 0;
    int rc = clearings ? kula_export_clearings(a, out, eo.format, &rows, &be, &bad)
             : books   ? kula_statement_run(a, out, &so, &rows, &be, &bad)
                       : kula_export_run(a, out, &eo, &rows, &be, &bad);
    kula_archive_close(a);
    if (out != stdout && fclose(out) != 0 && rc == 0)
        rc = KULA_EIO;
    return export_failed(rc, bad, &be);
}
