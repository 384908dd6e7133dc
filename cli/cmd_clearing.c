/* cmd_clearing.c -- kula clearing solve: the ledger's multilateral clearing
 * (proto/SPEC.md §14) run offline on a CSV of obligations; kula clearing
 * propose and settle, the transactions that ask for one and opt in to
 * settlement (proto/LEDGER.md §9.6).  show is a query (cmd_query.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "kula/audit/analytics.h" /* kula_sum_format, kula_share_format */
#include "kula/audit/clearing_csv.h"
#include "kula/ledger/clearing.h"
#include "txflow.h"

/* The largest input: KULA_CLEARING_MAX_OBLIGATIONS rows of 64-digit ids. */
#define MAX_INPUT_BYTES (512u << 20)

static const char clearing_usage[] =
    "Usage: kula clearing show [N] [--json]\n"
    "       kula clearing propose --key NAME [--memo TEXT]\n"
    "       kula clearing settle on|off --key NAME\n"
    "       kula clearing solve IN.csv [--out OUT.csv]\n"
    "\n"
    "show: clearing number N of the ledger (default the last): totals, each\n"
    "member before and after, each invoice's set-off (kula clearing show --help).\n"
    "propose: a governance proposal to clear now (kula clearing propose --help).\n"
    "settle: have what you still owe after each clearing paid from your credit\n"
    "(kula clearing settle --help).\n"
    "\n"
    "solve:\n"
    "Multilateral clearing of obligations, offline: the set-offs the ledger's\n"
    "clearing (proto/SPEC.md §14) makes, computed from a file, for a consortium\n"
    "to see what clearing would save and for an auditor to recompute one.\n"
    "\n"
    "Every obligation is reduced by a set-off, so that no firm's net position\n"
    "(what it is owed minus what it owes) changes and the debt that remains is\n"
    "as small as it can be.  Each set-off is between 0 and what is owed.\n"
    "\n"
    "IN.csv: the header line id,debtor,creditor,amount, then one obligation a\n"
    "line: its id (a whole number, or 64 hex digits), the member who owes and\n"
    "the member owed (whole numbers; not the same member), and what is still\n"
    "owed in minor units (cents for a unit with 2 decimals).  At most 4,000,000\n"
    "obligations.  Example:\n"
    "  id,debtor,creditor,amount\n"
    "  1,1,2,100\n"
    "  2,2,3,80\n"
    "  3,3,1,120\n"
    "\n"
    "  --out OUT.csv  write the set-off of each obligation, id,amount, in the\n"
    "                 order of IN.csv (written whole, or not at all)\n"
    "\n"
    "Prints firms, obligations, total debt, net internal debt (the sum of what\n"
    "the net creditors are owed net: no clearing can go below it), cleared,\n"
    "remaining, and the time taken; with kula --json the same as one JSON\n"
    "object (amounts as strings of minor units).  A bad row is refused naming\n"
    "the row and what to do, and nothing is written.  Progress goes to\n"
    "standard error on a terminal.\n"
    "\n"
    "Exit status: 0 ok; 1 a bad or unreadable file; 3 usage.\n";

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Reads all of path.  Out: *buf (malloc'd), *len.  Returns: 0 or an exit code. */
static int read_input(const char *path, char **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return cli_fail(CLI_REFUSED, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return cli_fail(CLI_REFUSED, "%s: not a regular file: give the obligations' CSV file", path);
    }
    if ((uint64_t)st.st_size > MAX_INPUT_BYTES) {
        fclose(f);
        return cli_fail(CLI_REFUSED, "%s: %lld bytes, more than the %u MiB of the largest "
                                     "clearing: clear a part at a time",
                        path, (long long)st.st_size, MAX_INPUT_BYTES >> 20);
    }
    *buf = malloc((size_t)st.st_size + 1);
    size_t n = *buf != NULL ? fread(*buf, 1, (size_t)st.st_size + 1, f) : 0;
    bool bad = *buf == NULL || ferror(f) || n > (size_t)st.st_size;
    fclose(f);
    if (bad) {
        free(*buf);
        return cli_fail(CLI_REFUSED, "%s: cannot be read whole (changing while read, or out "
                                     "of memory)", path);
    }
    *len = n;
    return 0;
}

/* Writes id,amount for every obligation to path through a temporary file in
 * the same folder, renamed over path only once all of it is written and
 * synced.  Returns: 0 or an exit code. */
static int write_output(const char *path, const kula_clearing_csv *in, const int64_t *setoff)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= sizeof(tmp))
        return cli_fail(CLI_USAGE, "--out: path too long");
    int fd = mkstemp(tmp);
    if (fd < 0)
        return cli_fail(CLI_REFUSED, "--out %s: cannot create a file next to it: %s", path,
                        strerror(errno));
    FILE *f = fdopen(fd, "w");
    bool ok = f != NULL && fputs("id,amount\n", f) >= 0;
    for (size_t i = 0; ok && i < in->n; i++) {
        char id[2 * KULA_HASH_LEN + 1];
        kula_clearing_csv_id(id, sizeof(id), in, i);
        ok = fprintf(f, "%s,%lld\n", id, (long long)setoff[i]) > 0;
    }
    ok = ok && fflush(f) == 0 && fsync(fd) == 0;
    int err = errno;
    if (f != NULL)
        ok = fclose(f) == 0 && ok;
    else
        close(fd);
    if (ok && rename(tmp, path) == 0)
        return 0;
    err = errno != 0 ? errno : err;
    unlink(tmp);
    return cli_fail(CLI_REFUSED, "--out %s: cannot be written (%s); nothing was written",
                    path, strerror(err));
}

static const char *sum_s(char *b, size_t cap, kula_u128 v)
{
    if (kula_sum_format(b, cap, v, 0) < 0)
        snprintf(b, cap, "?");
    return b;
}

static void print_summary(const cli *c, const kula_clearing_totals *t, const char *out,
                          double seconds, double solve_seconds)
{
    char a[64], b[64], d[64], r[64];
    sum_s(a, sizeof(a), t->total_debt);
    sum_s(b, sizeof(b), t->net_internal_debt);
    sum_s(d, sizeof(d), t->cleared);
    sum_s(r, sizeof(r), t->remaining);
    if (c->json) {
        json_t *o = json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:f, s:f, s:o}",
                              "firms", (json_int_t)t->firms,
                              "obligations", (json_int_t)t->obligations,
                              "total_debt", a, "net_internal_debt", b, "cleared", d,
                              "remaining", r, "seconds", seconds, "solve_seconds",
                              solve_seconds, "out",
                              out != NULL ? json_string(out) : json_null());
        char *text = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
        if (text != NULL)
            printf("%s\n", text);
        free(text);
        json_decref(o);
        return;
    }
    char share[16] = "0.0";
    if (t->total_debt != 0 && kula_share_format(share, sizeof(share), t->cleared,
                                                t->total_debt) < 0)
        snprintf(share, sizeof(share), "?");
    printf("firms               %u\n", t->firms);
    printf("obligations         %zu\n", t->obligations);
    printf("total debt          %s (minor units)\n", a);
    printf("net internal debt   %s (no clearing leaves less)\n", b);
    printf("cleared             %s (%s%% of the total debt)\n", d, share);
    printf("remaining           %s\n", r);
    printf("time                %.3f s (the solver %.3f s)\n", seconds, solve_seconds);
    if (out != NULL)
        printf("wrote %s: the set-off of each obligation (id,amount)\n", out);
}

static int clearing_solve(cli *c, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        fputs(clearing_usage, stdout);
        return CLI_OK;
    }
    const char *path = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--out") == 0 && i + 1 < argc)
            out = argv[++i];
        else if (strncmp(a, "--out=", 6) == 0)
            out = a + 6;
        else if (strcmp(a, "--out") == 0)
            return cli_fail(CLI_USAGE, "clearing solve: --out needs a file (see kula help clearing)");
        else if (a[0] == '-' && a[1] != '\0')
            return cli_fail(CLI_USAGE, "clearing solve: unknown option '%s' (see kula help clearing)", a);
        else if (path == NULL)
            path = a;
        else
            return cli_fail(CLI_USAGE, "clearing solve: expected one IN.csv, got '%s' too "
                                       "(see kula help clearing)", a);
    }
    if (path == NULL)
        return cli_fail(CLI_USAGE, "clearing solve: expected IN.csv (see kula help clearing)");
    if (out != NULL && *out == '\0')
        return cli_fail(CLI_USAGE, "clearing solve: --out needs a file (see kula help clearing)");
    bool tty = isatty(STDERR_FILENO);
    double t0 = now_s();

    char *buf = NULL;
    size_t len = 0;
    int rc = read_input(path, &buf, &len);
    if (rc != 0)
        return rc;
    kula_clearing_csv in;
    kula_error e = { 0 };
    rc = kula_clearing_csv_read(&in, &e, buf, len);
    free(buf);
    if (rc != 0)
        return cli_fail(CLI_REFUSED, "%s: %s", path, rc == KULA_ENOMEM ? "out of memory" : e.what);
    if (tty && in.n >= 100000)
        fprintf(stderr, "read %zu obligations from %s; clearing...\n", in.n, path);

    int64_t *setoff = malloc((in.n + 1) * sizeof(*setoff));
    kula_clearing_totals t;
    double t1 = now_s();
    rc = setoff == NULL ? KULA_ENOMEM : kula_clearing_solve(setoff, &t, &e, in.obs, in.n);
    double solve_seconds = now_s() - t1;
    if (rc != 0) {
        if (rc != KULA_ENOMEM)
            kula_clearing_csv_explain(&e, &in);
        free(setoff);
        kula_clearing_csv_free(&in);
        return cli_fail(CLI_REFUSED, "%s: %s", path, rc == KULA_ENOMEM ? "out of memory" : e.what);
    }
    if (tty && in.n >= 100000)
        fprintf(stderr, "cleared in %.3f s (%u phases)%s\n", solve_seconds, t.phases,
                out != NULL ? "; writing the set-offs..." : "");
    if (out != NULL)
        rc = write_output(out, &in, setoff);
    free(setoff);
    kula_clearing_csv_free(&in);
    if (rc != 0)
        return rc;
    print_summary(c, &t, out, now_s() - t0, solve_seconds);
    return CLI_OK;
}

static const char propose_usage[] =
    "Usage: kula clearing propose --key NAME [--memo TEXT]\n"
    "Proposes a clearing of the accepted, unpaid invoices (governance action\n"
    "clear, proto/LEDGER.md §9): once the members vote it through (kula vote),\n"
    "the ledger sets off what it can at the next block; kula clearing show shows\n"
    "it.  The same as kula propose --key NAME clear.\n" TX_COMMON_HELP;

/* kula clearing propose ARGS: kula propose ARGS clear. */
static int clearing_propose(cli *c, int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(propose_usage, stdout);
            return CLI_OK;
        }
    char **av = calloc((size_t)argc + 2, sizeof(*av));
    if (av == NULL)
        return cli_fail(CLI_REFUSED, "clearing propose: out of memory");
    av[0] = "propose";
    for (int i = 1; i < argc; i++)
        av[i] = argv[i];
    av[argc] = "clear";
    int oargc = c->argc;
    char **oargv = c->argv;
    c->argc = argc + 1;
    c->argv = av;
    int rc = cmd_propose(c);
    c->argc = oargc;
    c->argv = oargv;
    free(av);
    return rc;
}

static const char settle_usage[] =
    "Usage: kula clearing settle on|off --key NAME\n"
    "on: from the next clearing on, what the member of key NAME still owes on\n"
    "accepted invoices once the clearing has set off what it can is paid to the\n"
    "members it owes, from its credit, as far as its credit limit allows: the\n"
    "oldest invoice id first, in full or in part.  Your balance goes down by what\n"
    "is paid (it may go below zero, down to minus your credit limit), and your\n"
    "suppliers are paid at once instead of waiting.  kula clearing show lists\n"
    "what each clearing paid; kula member shows whether you are in.\n"
    "off: stop; what you owe stays owed until you pay it (kula pay --invoice).\n"
    "Turning it on when it is on, or off when it is off, is refused.\n"
    "(transaction clearing-settle, proto/LEDGER.md §9.6)\n" TX_COMMON_HELP;

/* kula clearing settle on|off: a clearing-settle transaction. */
static int clearing_settle(cli *c, int argc, char **argv)
{
    static const struct option opts[] = { TX_COMMON_OPTIONS, { NULL, 0, NULL, 0 } };
    parsed p;
    int rc = tx_parse(argc, argv, opts, NULL, NULL, settle_usage, &p);
    if (rc >= 0)
        return rc;
    bool on = p.argc == 1 && strcmp(p.argv[0], "on") == 0;
    if (p.argc != 1 || (!on && strcmp(p.argv[0], "off") != 0))
        return cli_fail(CLI_USAGE, "clearing settle: expected on or off (see kula clearing "
                                   "settle --help)");
    txctx t;
    kula_tx tx;
    if ((rc = tx_begin(c, &p.o, &t)) == CLI_OK) {
        tx_init(&t, &tx, KULA_TX_CLEARING_SETTLE);
        tx.u.csettle.on = on;
        rc = tx_finish(&t, &tx, &t.me, 1);
    }
    tx_end(&t);
    return rc;
}

int cmd_clearing(cli *c)
{
    if (c->argc < 2 || strcmp(c->argv[1], "--help") == 0 || strcmp(c->argv[1], "-h") == 0) {
        if (c->argc < 2) {
            fputs(clearing_usage, stderr);
            return CLI_USAGE;
        }
        fputs(clearing_usage, stdout);
        return CLI_OK;
    }
    if (strcmp(c->argv[1], "solve") == 0)
        return clearing_solve(c, c->argc - 1, c->argv + 1);
    if (strcmp(c->argv[1], "show") == 0)
        return clearing_show(c, c->argc - 1, c->argv + 1);
    if (strcmp(c->argv[1], "propose") == 0)
        return clearing_propose(c, c->argc - 1, c->argv + 1);
    if (strcmp(c->argv[1], "settle") == 0)
        return clearing_settle(c, c->argc - 1, c->argv + 1);
    return cli_fail(CLI_USAGE, "clearing: unknown subcommand '%s': there are show, propose, "
                               "settle and solve "
                               "(see kula help clearing)", c->argv[1]);
}
