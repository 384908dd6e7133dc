/* txflow.h -- building, signing and submitting transactions from kula. */
#ifndef KULA_TXFLOW_H
#define KULA_TXFLOW_H

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>

#include "cli.h"
#include "kula/types/types.h"

/* Options every transaction command shares. */
typedef struct tx_opts {
    const char *key;     /* --key: the initiator's wallet key */
    const char *memo;    /* --memo */
    const char *out;     /* --out FILE: write for co-signers */
    uint64_t expires;    /* --expires, with --out: the last block time (ms since
                          * the epoch) it may commit in; 0: TX_VALIDITY_MS
                          * after it is written */
    bool no_wait;        /* --no-wait */
    unsigned timeout;    /* --timeout seconds */
} tx_opts;

/* How long a transaction written for co-signers stays valid by default. */
#define TX_VALIDITY_MS (7 * UINT64_C(86400000))

/* The signer's view of the network. */
typedef struct txctx {
    cli *c;
    tx_opts o;
    kula_hash chain_id;
    char network[80];
    unsigned decimals;
    char unit[64];       /* the unit's name, for messages */
    kula_seckey sk;
    kula_pubkey pk;
    uint32_t me;
    uint64_t nonce;      /* the member's last nonce */
} txctx;

/* Parses a common option if opt is one (returns 1), else 0; -1 on error. */
int tx_common_opt(tx_opts *o, int opt, const char *arg);
/* The checks of the common options together, once all are parsed.
 * Returns: CLI_OK, or an exit code after saying why. */
int tx_common_check(const tx_opts *o);
/* The getopt long options for the common ones (ids 'K','M','O','E','W','T'). */
#define TX_COMMON_OPTIONS                                                        \
    { "key", required_argument, NULL, 'K' }, { "memo", required_argument, NULL, 'M' }, \
    { "out", required_argument, NULL, 'O' }, { "expires", required_argument, NULL, 'E' }, \
    { "no-wait", no_argument, NULL, 'W' }, { "timeout", required_argument, NULL, 'T' }
#define TX_COMMON_HELP                                                                \
    "Common options: --key NAME (required: the wallet key that initiates),\n"         \
    "  --memo TEXT, --out FILE (write for co-signers instead of submitting),\n"      \
    "  --expires WHEN (with --out: until when it may commit, default 7d; a\n"        \
    "  duration 90m, 36h, 7d, 2w, or a UTC date 2026-12-24 (to the end of that\n"   \
    "  day) or time 2026-12-24T18:00Z),\n"                                          \
    "  --no-wait (return once accepted), --timeout SECONDS (default 30).\n"           \
    "MEMBER is an id, a name or a public key (hex); AMOUNT is in units (12.50).\n"

/* A shared frame for commands: parse common + own options, then run. */
typedef struct parsed {
    tx_opts o;
    int argc;
    char **argv;   /* positional arguments */
} parsed;

/* A command's own option: returns 1 handled, 0 unknown, negative: an exit
 * code (negated). */
typedef int (*own_opt_fn)(void *ctx, int opt, const char *arg);
/* Parses argv (argv[0] the command's name) with opts: the common options
 * and own's; prints usage for --help.  Out: *p, the options and the
 * positional arguments.  Returns: -1 to go on, else an exit code (CLI_OK
 * after --help). */
int tx_parse(int argc, char **argv, const struct option *opts, own_opt_fn own, void *ctx,
             const char *usage, parsed *p);
/* Returns: -1 when p has exactly n positional arguments, else CLI_USAGE
 *          after printing usage to stderr. */
int tx_need_args(const parsed *p, int n, const char *usage);

/* A time as --expires and --due take it: a duration from now (90m, 36h,
 * 7d, 2w) or a UTC date (to the end of that day) or time (2026-12-24T18:00Z).
 * Out: *ms.  Returns: 0, or -1 if malformed. */
int tx_parse_when(const char *s, uint64_t now, uint64_t *ms);

/* The time now, ms since the Unix epoch. */
uint64_t tx_now_ms(void);
/* The expiry in words for a person: "valid until 2026-12-11 17:19 UTC (in
 * 6 days 23 hours)" or "expired on 2026-12-11 17:19 UTC (2 hours ago)".
 * Out: buf, always terminated. */
void tx_expiry_words(char *buf, size_t cap, uint64_t expires, uint64_t now);

/* Connects, unlocks the key, finds its member and nonce.  Returns 0 or an
 * exit code.  Call tx_end afterwards in every case. */
int tx_begin(cli *c, const tx_opts *o, txctx *t);
void tx_end(txctx *t);
int tx_member(txctx *t, const char *spec, uint32_t *id);
/* Parses an amount in the network's unit ("12.50") into minor units.  More
 * decimals than the unit has are refused, never rounded.
 * Returns: CLI_OK, or CLI_USAGE after saying why (what names it): a bad amount
 * is a bad command line (README "kula exit codes"). */
int tx_amount(txctx *t, const char *text, const char *what, int64_t *out);
/* Fills the common header of tx: from, nonce, memo. */
void tx_init(txctx *t, kula_tx *tx, uint8_t kind);
/* Signs tx as the initiator; submits it if required (ascending member ids)
 * holds only the initiator, else writes --out for the co-signers.
 * Returns an exit code. */
int tx_finish(txctx *t, kula_tx *tx, const uint32_t *required, uint32_t nrequired);
/* Asks the node whether the transaction in bytes, its signatures complete
 * or not yet, would be admitted now (method "check"): what the ledger
 * would refuse is refused before anyone signs it.  Returns: CLI_OK, or an
 * exit code after saying why in the ledger's words. */
int tx_check(cli *c, const uint8_t *bytes, size_t len);
/* Submits a complete signed transaction and waits as opts say. */
int tx_submit_bytes(cli *c, const uint8_t *bytes, size_t len, bool no_wait, unsigned timeout);

int cmd_pay(cli *c);
int cmd_exchange(cli *c);
int cmd_referral(cli *c);
int cmd_convert(cli *c);
int cmd_agreement(cli *c);
int cmd_feedback(cli *c);
int cmd_propose(cli *c);
int cmd_vote(cli *c);
/* kula invoice issue|accept|dispute|cancel|list|show (cmd_invoice.c). */
int cmd_invoice(cli *c);
/* kula pay --invoice ID [AMOUNT], parsed by cmd_pay: pays AMOUNT, or all
 * the invoice still owes, of invoice `id` (cmd_invoice.c). */
int invoice_pay(cli *c, const parsed *p, const char *id);
int cmd_sign(cli *c);
/* agreement list/show live with the queries (cmd_query.c). */
int agreement_list(cli *c, int argc, char **argv);
int agreement_show(cli *c, int argc, char **argv);
/* kula referrals: the open referrals (cmd_query.c). */
int cmd_referrals(cli *c);
int cmd_submit(cli *c);

#endif
