/* cmd_audit.c -- kula audit: verify a ledger from its genesis, offline. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "kula/audit/audit.h"
#include "kula/base/error.h"

static const char audit_usage[] =
    "Usage: kula audit [DATADIR] [--json] [--quiet] [--threads N]\n"
    "\n"
    "Verifies a node's ledger (DATADIR/ledger; DATADIR defaults to --datadir)\n"
    "from its genesis, without the node and without changing it: it may run\n"
    "while the node runs, and checks the blocks up to the tip found at start.\n"
    "\n"
    "  - every block: chain id, height, the previous block's hash, time,\n"
    "    proposer, transactions root;\n"
    "  - every commit (the one each block carries for its parent, and the\n"
    "    stored commit of the newest block): precommit signatures of more than\n"
    "    2/3 of the voting power of the validator set of that height;\n"
    "  - every transaction signature (in parallel), signer set and rule;\n"
    "  - every state root, by replaying the ledger in memory;\n"
    "  - every settlement's distribution, recomputed independently.\n"
    "\n"
    "  --json       print one JSON object with the result and the counts\n"
    "  --quiet      no progress line (it is shown only on a terminal anyway)\n"
    "  --threads N  signature verification threads (default: one per CPU, >= 2)\n"
    "\n"
    "Exit status: 0 everything holds; 1 a check failed (the first failing\n"
    "height and what failed are printed) or the ledger cannot be read; 3 usage.\n";

typedef struct progress {
    bool on;
    double last;
    double t0;
    int width;
} progress;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void show_progress(void *ctx, uint64_t done, uint64_t total)
{
    progress *p = ctx;
    double t = now_s();
    if (!p->on || (t - p->last < 0.1 && done != total))
        return;
    p->last = t;
    unsigned pct = total ? (unsigned)(done * 100 / total) : 100;
    char line[128];
    int n = snprintf(line, sizeof(line), "audit: block %llu/%llu (%u%%)",
                     (unsigned long long)done, (unsigned long long)total, pct);
    if (t - p->t0 > 1)
        n += snprintf(line + n, sizeof(line) - (size_t)n, ", %.0f blocks/s",
                      (double)done / (t - p->t0));
    fprintf(stderr, "\r%-*s", p->width > n ? p->width : n, line);
    p->width = n;
    fflush(stderr);
}

static void clear_progress(progress *p)
{
    if (p->on && p->width > 0) {
        fprintf(stderr, "\r%*s\r", p->width, "");
        fflush(stderr);
    }
}

static json_t *hex_json(const uint8_t *b, size_t n)
{
    char hex[2 * 64 + 1];
    kula_hex_encode(hex, b, n);
    return json_string(hex);
}

static int print_json(const kula_archive *a, const kula_audit_result *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "ok", json_boolean(r->ok));
    json_object_set_new(o, "network", json_string(kula_archive_genesis(a)->network));
    json_object_set_new(o, "chain_id", hex_json(kula_archive_genesis(a)->chain_id.b, KULA_HASH_LEN));
    json_object_set_new(o, "ledger", json_string(kula_archive_path(a)));
    json_object_set_new(o, "tip", json_integer((json_int_t)r->tip));
    json_object_set_new(o, "height", json_integer((json_int_t)r->height));
    if (r->ok) {
        json_object_set_new(o, "failed_height", json_null());
        json_object_set_new(o, "check", json_null());
        json_object_set_new(o, "error", json_null());
        json_object_set_new(o, "error_code", json_null());
        json_object_set_new(o, "tx_index", json_null());
    } else {
        json_object_set_new(o, "failed_height", json_integer((json_int_t)r->failed_height));
        json_object_set_new(o, "check", json_string(kula_audit_check_name(r->check)));
        json_object_set_new(o, "error", json_string(r->error.what));
        json_object_set_new(o, "error_code", json_string(kula_errname(r->error.code)));
        json_object_set_new(o, "tx_index", r->error.tx_index >= 0
                                               ? json_integer(r->error.tx_index)
                                               : json_null());
    }
    json_object_set_new(o, "blocks", json_integer((json_int_t)r->blocks));
    json_object_set_new(o, "transactions", json_integer((json_int_t)r->txs));
    json_object_set_new(o, "signatures",
                        json_integer((json_int_t)(r->tx_signatures + r->commit_signatures)));
    json_object_set_new(o, "tx_signatures", json_integer((json_int_t)r->tx_signatures));
    json_object_set_new(o, "commit_signatures", json_integer((json_int_t)r->commit_signatures));
    json_object_set_new(o, "settlements", json_integer((json_int_t)r->settlements));
    json_object_set_new(o, "seconds", json_real(r->seconds));
    double secs = r->seconds > 0 ? r->seconds : 1e-9;
    json_object_set_new(o, "tx_per_second", json_real((double)r->txs / secs));
    json_object_set_new(o, "signatures_per_second",
                        json_real((double)(r->tx_signatures + r->commit_signatures) / secs));
    json_object_set_new(o, "threads", json_integer(r->threads));
    json_object_set_new(o, "tip_hash", hex_json(r->tip_hash.b, KULA_HASH_LEN));
    json_object_set_new(o, "state_root", hex_json(r->state_root.b, KULA_HASH_LEN));
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    json_decref(o);
    if (s == NULL)
        return cli_fail(CLI_REFUSED, "out of memory");
    puts(s);
    free(s);
    return 0;
}

static void print_text(const kula_archive *a, const kula_audit_result *r)
{
    const kula_genesis *g = kula_archive_genesis(a);
    char chain[2 * KULA_HASH_LEN + 1], tip[2 * KULA_HASH_LEN + 1], root[2 * KULA_HASH_LEN + 1];
    kula_hex_encode(chain, g->chain_id.b, KULA_HASH_LEN);
    kula_hex_encode(tip, r->tip_hash.b, KULA_HASH_LEN);
    kula_hex_encode(root, r->state_root.b, KULA_HASH_LEN);
    double secs = r->seconds > 0 ? r->seconds : 1e-9;
    if (r->ok)
        printf("audit OK: network %s, blocks 1-%llu verified\n", g->network,
               (unsigned long long)r->height);
    else
        printf("audit FAILED at height %llu: %s\n", (unsigned long long)r->failed_height,
               r->error.what);
    printf("  chain id     %s\n", chain);
    if (!r->ok)
        printf("  check        %s (%s); blocks 1-%llu of %llu held\n",
               kula_audit_check_name(r->check), kula_errname(r->error.code),
               (unsigned long long)r->height, (unsigned long long)r->tip);
    printf("  block %-6llu %s\n  state root   %s\n", (unsigned long long)r->height, tip, root);
    printf("  verified     %llu blocks, %llu transactions, %llu signatures (%llu of "
           "transactions, %llu of commits), %llu settlements recomputed\n",
           (unsigned long long)r->blocks, (unsigned long long)r->txs,
           (unsigned long long)(r->tx_signatures + r->commit_signatures),
           (unsigned long long)r->tx_signatures, (unsigned long long)r->commit_signatures,
           (unsigned long long)r->settlements);
    printf("  time         %.3f s: %.0f transactions/s, %.0f signatures/s on %u threads\n",
           r->seconds, (double)r->txs / secs,
           (double)(r->tx_signatures + r->commit_signatures) / secs, r->threads);
}

int cmd_audit(cli *c)
{
    static const struct option opts[] = {
        { "json", no_argument, NULL, 'j' },
        { "quiet", no_argument, NULL, 'q' },
        { "threads", required_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    bool json = c->json, quiet = false;
    unsigned threads = 0;
    int opt;
    optind = 0;
    while ((opt = getopt_long(c->argc, c->argv, ":hqj", opts, NULL)) != -1) {
        char *end;
        unsigned long v;
        switch (opt) {
        case 'j': json = true; break;
        case 'q': quiet = true; break;
        case 't':
            v = strtoul(optarg, &end, 10);
            if (*end || v < 1 || v > 256)
                return cli_fail(CLI_USAGE, "--threads: a number from 1 to 256");
            threads = (unsigned)v;
            break;
        case 'h': fputs(audit_usage, stdout); return CLI_OK;
        case ':': return cli_fail(CLI_USAGE, "%s: missing value", c->argv[optind - 1]);
        default: return cli_fail(CLI_USAGE, "audit: bad option '%s' (see kula audit --help)",
                                 c->argv[optind - 1]);
        }
    }
    if (c->argc - optind > 1)
        return cli_fail(CLI_USAGE, "audit: expected at most one DATADIR (see kula audit --help)");
    const char *dir = optind < c->argc ? c->argv[optind] : c->datadir;
    char err[512];
    kula_archive *a;
    if (kula_archive_open(&a, dir, err, sizeof(err)) != 0)
        return cli_fail(CLI_REFUSED, "%s", err);
    progress p = { .on = !quiet && isatty(STDERR_FILENO), .t0 = now_s() };
    kula_audit_opts ao = { .threads = threads, .progress = show_progress, .ctx = &p };
    kula_audit_result r;
    kula_audit_run(a, &ao, &r);
    clear_progress(&p);
    int rc = json ? print_json(a, &r) : (print_text(a, &r), 0);
    kula_archive_close(a);
    if (rc != 0)
        return rc;
    return r.ok ? CLI_OK : CLI_REFUSED;
}
