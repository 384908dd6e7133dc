/* kula.c -- entry point of the kula command: global options and dispatch. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "txflow.h"
#include "kula/crypto/crypto.h"
#include "kula/types/types.h"

static int cmd_help(cli *c);

static const cli_command commands[] = {
    { "keys", cmd_keys, "manage the wallet's keys (new, list, show, import, export)" },
    { "genesis", cmd_genesis, "create or check a network's genesis" },
    { "pay", cmd_pay, "pay mutual credit to a member" },
    { "exchange", cmd_exchange, "record a barter (both parties sign)" },
    { "referral", cmd_referral, "refer a customer to a member" },
    { "convert", cmd_convert, "confirm a referral converted; pays the fee" },
    { "agreement", cmd_agreement, "open, amend, contribute to, pay into, settle, close, list, show" },
    { "feedback", cmd_feedback, "rate a trading partner" },
    { "invoice", cmd_invoice, "bill a member; accept, dispute, cancel, list, show invoices" },
    { "propose", cmd_propose, "propose a governance action" },
    { "vote", cmd_vote, "vote on a proposal" },
    { "sign", cmd_sign, "co-sign a transaction file" },
    { "submit", cmd_submit, "submit a fully signed transaction file" },
    /* rpc-commands (table entries) */
    { "status", cmd_status, "the node: network, height, last block, mempool, sync" },
    { "members", cmd_members, "the members with balances, credit limits, ratings" },
    { "member", cmd_member, "one member's record" },
    { "balance", cmd_balance, "a member's balance, credit limit and available credit" },
    { "history", cmd_history, "a member's transactions, newest first" },
    { "referrals", cmd_referrals, "the open referrals: id, referrer, receiver, fee, age" },
    { "proposals", cmd_proposals, "the governance proposals" },
    { "proposal", cmd_proposal, "one proposal: action, votes, decision" },
    { "tx", cmd_tx, "a transaction's status: pending, committed, rejected" },
    { "block", cmd_block, "a block's header and transactions" },
    { "peers", cmd_peers, "the node's peers" },
    { "observers", cmd_observers, "the observers the members admitted by vote" },
    { "web", cmd_web, "the address that logs a browser into the node's web wallet" },
    /* offline-commands (table entries) */
    { "audit", cmd_audit, "verify a ledger from its genesis, offline" },
    { "export", cmd_export, "the ledger's transactions as CSV or JSON lines" },
    { "report", cmd_report, "ecosystem analytics: volume, density, members, agreements" },
    { "graph", cmd_graph, "the member trade graph as Graphviz DOT" },
    { "clearing", cmd_clearing, "clearings of the ledger: show, propose; solve a CSV offline" },
    { "backup", cmd_backup, "copy the node's ledger, keys and wallet while it runs" },
    { "help", cmd_help, "this help, or a command's: kula help COMMAND" },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const cli_command *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

/* Refuses an unknown command, naming the nearest one. */
static int unknown_command(const char *name)
{
    const char *names[NCOMMANDS];
    for (size_t i = 0; i < NCOMMANDS; i++)
        names[i] = commands[i].name;
    const char *near = cli_nearest(names, NCOMMANDS, name);
    if (near != NULL)
        return cli_fail(CLI_USAGE, "unknown command '%s': did you mean '%s'? (see kula help)",
                        name, near);
    return cli_fail(CLI_USAGE, "unknown command '%s' (see kula help)", name);
}

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: kula [GLOBAL OPTIONS] COMMAND [ARGS]\n"
            "The wallet, console and audit tool of a Kula ledger.\n"
            "\n"
            "Global options:\n"
            "  --datadir DIR          the node's data directory (default $KULA_DATADIR or\n"
            "                         ./kula-data)\n"
            "  --wallet DIR           where keys are kept (default $KULA_WALLET or\n"
            "                         DATADIR/wallet)\n"
            "  --passphrase-file F    read key passphrases from F (else $KULA_PASSPHRASE,\n"
            "                         else a prompt)\n"
            "  --rpc URL              the node's API (default: from DATADIR/rpc.cookie)\n"
            "  --token T              the API token with --rpc (or $KULA_RPC_TOKEN)\n"
            "  --json                 machine-readable output\n"
            "  -h, --help             this help; 'kula COMMAND --help' for a command\n"
            "\n"
            "Commands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n"
               "Exit status (every command; the README's \"kula exit codes\"):\n"
               "  0  ok\n"
               "  1  refused: by the node or the ledger, or by a local check (a wrong\n"
               "     passphrase, a key or file that is missing or unreadable)\n"
               "  2  cannot reach the node\n"
               "  3  usage error: the line says what is wrong (an unknown option, a missing\n"
               "     argument, an amount typed wrong); see kula help COMMAND\n"
               "No other code is used.\n"
               "With --json an error is also printed on stdout as\n"
               "  {\"error\":{\"code\":N,\"name\":\"refused|unreachable|usage\",\"message\":\"...\"}}\n");
}

static void version(void)
{
    printf("kula %s (protocol version %d)\n", KULA_VERSION_STRING, KULA_VERSION);
}

/* kula help [COMMAND]: the general help, or COMMAND --help. */
static int cmd_help(cli *c)
{
    if (c->argc < 2 || strcmp(c->argv[1], "help") == 0 || strcmp(c->argv[1], "--help") == 0 ||
        strcmp(c->argv[1], "-h") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (c->argc > 2)
        return cli_fail(CLI_USAGE, "help: expected at most one COMMAND (see kula help)");
    const cli_command *cmd = find_command(c->argv[1]);
    if (cmd == NULL)
        return unknown_command(c->argv[1]);
    static char help_flag[] = "--help";
    char *argv[3] = { c->argv[1], help_flag, NULL };
    c->argc = 2;
    c->argv = argv;
    return cmd->run(c);
}

int main(int argc, char **argv)
{
    static cli c;
    enum { O_DATADIR = 256, O_WALLET, O_PASSFILE, O_JSON, O_RPC, O_TOKEN, O_VERSION };
    static const struct option opts[] = {
        { "datadir", required_argument, NULL, O_DATADIR },
        { "wallet", required_argument, NULL, O_WALLET },
        { "passphrase-file", required_argument, NULL, O_PASSFILE },
        { "json", no_argument, NULL, O_JSON },
        { "rpc", required_argument, NULL, O_RPC },
        { "token", required_argument, NULL, O_TOKEN },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, O_VERSION },
        { NULL, 0, NULL, 0 },
    };
    const char *env = getenv("KULA_DATADIR");
    snprintf(c.datadir, sizeof(c.datadir), "%s", env != NULL && *env ? env : "kula-data");
    env = getenv("KULA_WALLET");
    if (env != NULL && *env)
        snprintf(c.wallet, sizeof(c.wallet), "%s", env);
    int opt;
    opterr = 0;
    /* '+': stop at the command name; its options are its own. */
    while ((opt = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
        switch (opt) {
        case O_DATADIR: snprintf(c.datadir, sizeof(c.datadir), "%s", optarg); break;
        case O_WALLET: snprintf(c.wallet, sizeof(c.wallet), "%s", optarg); break;
        case O_PASSFILE: snprintf(c.passphrase_file, sizeof(c.passphrase_file), "%s", optarg); break;
        case O_JSON: c.json = true; cli_set_json_errors(true); break;
        case O_RPC: snprintf(c.rpc_url, sizeof(c.rpc_url), "%s", optarg); break;
        case O_TOKEN: snprintf(c.token, sizeof(c.token), "%s", optarg); break;
        case 'h': usage(stdout); return CLI_OK;
        case O_VERSION: version(); return CLI_OK;
        case ':':
            return cli_fail(CLI_USAGE, "%s: expected a value after it (see kula help)",
                            argv[optind - 1]);
        default: return cli_fail(CLI_USAGE, "unknown option '%s' (see kula help)", argv[optind - 1]);
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (c.wallet[0] == '\0')
        snprintf(c.wallet, sizeof(c.wallet), "%s/wallet", c.datadir);
    if (kula_crypto_init() != 0)
        return cli_fail(CLI_REFUSED, "cannot initialise the cryptographic libraries");
    /* --json is global but welcome anywhere after the command too. */
    int kept = optind + 1;
    for (int i = optind + 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            while (i < argc)
                argv[kept++] = argv[i++];
            break;
        }
        if (strcmp(argv[i], "--json") == 0) {
            c.json = true;
            cli_set_json_errors(true);
        }
        else
            argv[kept++] = argv[i];
    }
    argc = kept;
    const cli_command *cmd = find_command(argv[optind]);
    if (cmd == NULL)
        return unknown_command(argv[optind]);
    c.argc = argc - optind;
    c.argv = argv + optind;
    return cmd->run(&c);
}
