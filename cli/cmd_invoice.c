/* cmd_invoice.c -- kula invoice: issue, accept, dispute and cancel an
 * invoice, and kula pay --invoice (proto/LEDGER.md §8).  list and show are
 * queries of the node (cmd_query.c). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kula/types/records.h"
#include "ids.h"
#include "rpc_client.h"
#include "txflow.h"

static const char usage[] =
    "Usage: kula invoice issue --key NAME --to MEMBER AMOUNT --due DATE --ref TEXT\n"
    "                          [--doc FILE]\n"
    "       kula invoice accept --key NAME ID\n"
    "       kula invoice dispute --key NAME ID --reason TEXT\n"
    "       kula invoice cancel --key NAME ID\n"
    "       kula invoice list [--open] [MEMBER]\n"
    "       kula invoice show ID\n"
    "       kula pay --key NAME --invoice ID [AMOUNT]\n"
    "Bills a member (the debtor) AMOUNT, due on DATE (a UTC date 2026-12-31, or a\n"
    "duration from now: 30d, 2w), under your reference TEXT (at most 64 bytes, one\n"
    "line); --doc FILE records the BLAKE2b-256 hash of the invoice's document,\n"
    "which stays with you.  The debtor accepts it (it becomes an obligation) or\n"
    "disputes it, saying why; a disputed invoice can still be accepted.  The\n"
    "issuer may cancel it while nothing of it is paid.  The debtor pays it with\n"
    "kula pay --invoice, in full or in part, never more than it still owes.\n"
    "ID is the invoice's id or its first 4 or more hex digits (kula invoice list).\n"
    TX_COMMON_HELP;

typedef struct inv_args {
    const char *to, *due, *ref, *doc, *reason;
} inv_args;

static int inv_opt(void *ctx, int opt, const char *arg)
{
    inv_args *a = ctx;
    switch (opt) {
    case 't': a->to = arg; return 1;
    case 'd': a->due = arg; return 1;
    case 'r': a->ref = arg; return 1;
    case 'f': a->doc = arg; return 1;
    case 'R': a->reason = arg; return 1;
    default: return 0;
    }
}

/* The largest document --doc hashes (read whole). */
#define DOC_MAX (64u << 20)

/* Out: *h, BLAKE2b-256 of the file at path.  Returns: CLI_OK, or an exit
 * code after saying why. */
static int hash_file(const char *path, kula_hash *h)
{
    char *buf;
    size_t n;
    int got = cli_read_file(path, DOC_MAX, &buf, &n);
    if (got < 0)
        return cli_fail(CLI_USAGE, "--doc %s: %s", path, errno ? strerror(errno) : "out of memory");
    if (got > 0)
        return cli_fail(CLI_USAGE, "--doc %s: larger than 64 MiB; hash a smaller file (a PDF of "
                                   "the invoice)", path);
    kula_hash_bytes(h, buf, n);
    free(buf);
    return CLI_OK;
}

/* The arguments of invoice issue, checked before the key is unlocked.
 * Returns: CLI_OK, or an exit code after saying why. */
static int issue_args(const parsed *p, const inv_args *a)
{
    if (p->argc != 1 || a->to == NULL || a->due == NULL || a->ref == NULL)
        return cli_fail(CLI_USAGE, "invoice issue: --to MEMBER, AMOUNT, --due DATE and --ref "
                                   "TEXT are required (see kula invoice --help)");
    size_t n = strlen(a->ref);
    if (n == 0 || n > KULA_MAX_INVOICE_REF || strpbrk(a->ref, "\n\r\t") != NULL)
        return cli_fail(CLI_USAGE, "invoice issue: --ref must be 1 to %u bytes on one line",
                        KULA_MAX_INVOICE_REF);
    return CLI_OK;
}

static int issue(txctx *t, const parsed *p, const inv_args *a, kula_tx *tx)
{
    size_t n = strlen(a->ref);
    tx_init(t, tx, KULA_TX_INVOICE);
    if (tx_parse_when(a->due, tx_now_ms(), &tx->u.invoice.due) != 0)
        return cli_fail(CLI_USAGE, "invoice issue: --due '%s': give a UTC date (2026-12-31) or "
                                   "a time from now (30d, 2w)", a->due);
    tx->u.invoice.reference.p = a->ref;
    tx->u.invoice.reference.n = n;
    int rc;
    if (a->doc != NULL) {
        tx->u.invoice.has_document = true;
        if ((rc = hash_file(a->doc, &tx->u.invoice.document)) != CLI_OK)
            return rc;
    }
    if ((rc = tx_member(t, a->to, &tx->u.invoice.debtor)) != CLI_OK ||
        (rc = tx_amount(t, p->argv[0], "AMOUNT", &tx->u.invoice.amount)) != CLI_OK)
        return rc;
    if (tx->u.invoice.amount <= 0)
        return cli_fail(CLI_REFUSED, "AMOUNT must be positive");
    return tx_finish(t, tx, &t->me, 1);
}

/* accept, dispute or cancel of the invoice ID */
static int answer(txctx *t, uint8_t kind, const parsed *p, const inv_args *a, kula_tx *tx)
{
    if (p->argc != 1)
        return cli_fail(CLI_USAGE, "invoice %s: expected one invoice ID (see kula invoice "
                                   "--help)", kula_tx_kind_name(kind) + 8);
    tx_init(t, tx, kind);
    if (kind == KULA_TX_INVOICE_DISPUTE) {
        size_t n = a->reason != NULL ? strlen(a->reason) : 0;
        if (n == 0 || n > KULA_MAX_DESC)
            return cli_fail(CLI_USAGE, "invoice dispute: --reason TEXT is required, at most %u "
                                       "bytes: say what is wrong with the invoice", KULA_MAX_DESC);
        tx->u.inv.reason.p = a->reason;
        tx->u.inv.reason.n = n;
    }
    int rc = ids_resolve(t->c, "ID", "invoice", p->argv[0], 0, &tx->u.inv.invoice);
    return rc != CLI_OK ? rc : tx_finish(t, tx, &t->me, 1);
}

int cmd_invoice(cli *c)
{
    static const struct option opts[] = {
        TX_COMMON_OPTIONS, { "to", required_argument, NULL, 't' },
        { "due", required_argument, NULL, 'd' }, { "ref", required_argument, NULL, 'r' },
        { "doc", required_argument, NULL, 'f' }, { "reason", required_argument, NULL, 'R' },
        { NULL, 0, NULL, 0 }
    };
    static const struct {
        const char *name;
        uint8_t kind;
    } subs[] = {
        { "issue", KULA_TX_INVOICE }, { "accept", KULA_TX_INVOICE_ACCEPT },
        { "dispute", KULA_TX_INVOICE_DISPUTE }, { "cancel", KULA_TX_INVOICE_CANCEL },
    };
    const char *sub = c->argc >= 2 ? c->argv[1] : "";
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
        fputs(usage, stdout);
        return CLI_OK;
    }
    if (strcmp(sub, "list") == 0)
        return invoice_list(c, c->argc - 1, c->argv + 1);
    if (strcmp(sub, "show") == 0)
        return invoice_show(c, c->argc - 1, c->argv + 1);
    size_t k = 0;
    while (k < sizeof(subs) / sizeof(subs[0]) && strcmp(subs[k].name, sub) != 0)
        k++;
    if (k == sizeof(subs) / sizeof(subs[0]))
        return cli_fail(CLI_USAGE, "invoice: expected issue, accept, dispute, cancel, list or "
                                   "show%s%s (see kula invoice --help)",
                        *sub ? ", not " : "", sub);
    inv_args a = { 0 };
    parsed p;
    int rc = tx_parse(c->argc - 1, c->argv + 1, opts, inv_opt, &a, usage, &p);
    if (rc >= 0)
        return rc;
    if (subs[k].kind != KULA_TX_INVOICE && (a.to || a.due || a.ref || a.doc))
        return cli_fail(CLI_USAGE, "invoice %s: --to, --due, --ref and --doc belong to "
                                   "invoice issue", sub);
    if (subs[k].kind != KULA_TX_INVOICE_DISPUTE && a.reason != NULL)
        return cli_fail(CLI_USAGE, "invoice %s: --reason belongs to invoice dispute", sub);
    if (subs[k].kind == KULA_TX_INVOICE && (rc = issue_args(&p, &a)) != CLI_OK)
        return rc;
    txctx t;
    kula_tx tx;
    if ((rc = tx_begin(c, &p.o, &t)) == CLI_OK)
        rc = subs[k].kind == KULA_TX_INVOICE ? issue(&t, &p, &a, &tx)
                                            : answer(&t, subs[k].kind, &p, &a, &tx);
    tx_end(&t);
    return rc;
}

int invoice_pay(cli *c, const parsed *p, const char *id)
{
    txctx t;
    kula_tx tx;
    int rc = tx_begin(c, &p->o, &t);
    if (rc == CLI_OK) {
        tx_init(&t, &tx, KULA_TX_INVOICE_PAY);
        rc = ids_resolve(c, "--invoice", "invoice", id, 0, &tx.u.inv.invoice);
    }
    if (rc == CLI_OK && p->argc == 1) {
        rc = tx_amount(&t, p->argv[0], "AMOUNT", &tx.u.inv.amount);
        if (rc == CLI_OK && tx.u.inv.amount <= 0)
            rc = cli_fail(CLI_REFUSED, "AMOUNT must be positive");
    } else if (rc == CLI_OK) {
        /* all it still owes, as the node knows it now */
        char hex[2 * KULA_HASH_LEN + 1];
        json_t *v = NULL;
        kula_hex_encode(hex, tx.u.inv.invoice.b, KULA_HASH_LEN);
        rc = rpc_call(c, "invoice", json_pack("{s:s}", "id", hex), &v, NULL, false);
        tx.u.inv.amount = (int64_t)json_integer_value(json_object_get(v, "residual"));
        const char *status = json_string_value(json_object_get(v, "status"));
        if (rc == CLI_OK && tx.u.inv.amount <= 0)
            rc = cli_fail(CLI_REFUSED, "invoice %.12s.. is %s: it owes nothing more (kula "
                                       "invoice show %.12s)", hex, status ? status : "settled",
                          hex);
        json_decref(v);
    }
    if (rc == CLI_OK)
        rc = tx_finish(&t, &tx, &t.me, 1);
    tx_end(&t);
    return rc;
}
