/* cli.h -- shared pieces of the kula command: options, exit codes, helpers. */
#ifndef KULA_CLI_H
#define KULA_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "kula/codec/codec.h"
#include "kula/crypto/crypto.h"
#include <jansson.h>

#include "words.h"

typedef struct cli {
    char datadir[1024];
    char wallet[1100];
    char passphrase_file[1024];
    bool json;
    char rpc_url[512];   /* from --rpc or the cookie */
    char token[128];     /* from --token, $KULA_RPC_TOKEN or the cookie */
    void *http;          /* CURL handle, private to rpc_client.c */
    char last_error[512]; /* the node's message of the last refused call */
    int argc;            /* the subcommand's arguments, argv[0] = its name */
    char **argv;
} cli;

typedef struct cli_command {
    const char *name;
    int (*run)(cli *c);
    const char *summary;
} cli_command;

/* Prints "kula: <message>" to stderr and returns code.  Under --json
 * (cli_set_json_errors) it also prints one line to stdout, the one shape of
 * every error of kula:
 *   {"error":{"code":N,"name":"refused|unreachable|usage","message":"..."}}
 * where code is the exit code and name its cli_exit_name. */
int cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Turns the JSON form of cli_fail on (kula.c does it for --json). */
void cli_set_json_errors(bool on);

/* A member on the command line as the API's member parameter: a number is a
 * member id; the name of a key in the wallet stands for that key's public
 * key (so "kula balance dev" is "kula balance --key dev"); anything else
 * (a public key in hex, a member's name) is passed as a string.
 * Returns: a new json_t reference (NULL only when out of memory). */
json_t *cli_member_param(const cli *c, const char *s);

/* The shortest new passphrase (README "Passphrases"). */
#define CLI_PASSPHRASE_MIN 8

/* True if argv[1..] asks for help (-h/--help anywhere). */
bool cli_wants_help(int argc, char **argv);

/* Reads a passphrase: --passphrase-file, else $KULA_PASSPHRASE, else a prompt
 * on the terminal (twice when confirm).  An empty passphrase is refused; a
 * new one (confirm) needs CLI_PASSPHRASE_MIN characters.
 * Out: buf NUL terminated (wiped when refused).
 * Returns: 0, or an exit code after printing why. */
int cli_passphrase(const cli *c, const char *prompt, bool confirm, char *buf, size_t cap);
/* cli_passphrase from file, or from the terminal when file is NULL (never
 * $KULA_PASSPHRASE): the new passphrase of kula keys passwd. */
int cli_passphrase_from(const char *file, const char *prompt, bool confirm, char *buf, size_t cap);

/* Path of the keystore for label in the wallet.  Returns 0 or CLI_USAGE when
 * the label is not [A-Za-z0-9._-]{1,64}. */
int cli_key_path(const cli *c, const char *label, char *out, size_t cap);
/* Reads the public key of wallet key `label` (no passphrase needed).
 * Out: pk; path (may be NULL, else >= 1300 bytes) the key's file.
 * Returns: 0 or an exit code after printing why. */
int cli_key_pubkey(const cli *c, const char *label, kula_pubkey *pk, char *path);
/* Opens the keystore `label` (asks for the passphrase).  Returns 0 or an exit code. */
int cli_unlock(const cli *c, const char *label, kula_seckey *sk, kula_pubkey *pk);
/* mkdir -p with mode 0700.  Returns 0 or -1 (errno set). */
int cli_mkdirs(const char *path);
/* Reads the whole file at path, if it holds at most max bytes.
 * Out: *buf (malloc'd, the caller frees it; NUL terminated) and *n.
 * Returns: 0; -1 if it cannot be opened or read (errno set, 0 when out of
 *          memory); 1 if it holds more than max bytes. */
int cli_read_file(const char *path, size_t max, char **buf, size_t *n);

int cmd_keys(cli *c);
int cmd_genesis(cli *c);
/* rpc-commands (declarations of the commands that talk to kulad) */
/* Queries (cmd_query.c).  Each returns an exit code: CLI_OK, CLI_REFUSED if
 * the node refused (unknown member...), CLI_UNREACHABLE, CLI_USAGE. */
int cmd_status(cli *c);
int cmd_members(cli *c);
int cmd_member(cli *c);
int cmd_balance(cli *c);
int cmd_history(cli *c);
int cmd_proposals(cli *c);
int cmd_proposal(cli *c);
int cmd_tx(cli *c);
int cmd_block(cli *c);
int cmd_peers(cli *c);
int cmd_observers(cli *c);
/* kula agreement list|show, for cmd_agreement: argv[0] is "list" or "show"
 * and argv[1..argc-1] its arguments. */
int agreement_list(cli *c, int argc, char **argv);
int agreement_show(cli *c, int argc, char **argv);
/* kula invoice list|show, for cmd_invoice: argv[0] is "list" or "show". */
int invoice_list(cli *c, int argc, char **argv);
int invoice_show(cli *c, int argc, char **argv);
int clearing_show(cli *c, int argc, char **argv);
/* offline-commands (declarations of audit, export, report, graph) */
int cmd_audit(cli *c);
int cmd_export(cli *c);
int cmd_report(cli *c);
int cmd_graph(cli *c);
/* kula web: the address that logs a browser into the node's web wallet (cmd_web.c). */
int cmd_web(cli *c);
/* kula clearing solve (cmd_clearing.c) */
int cmd_clearing(cli *c);
int cmd_backup(cli *c); /* cmd_backup.c */

#endif /* KULA_CLI_H */
