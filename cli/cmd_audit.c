/* cmd_audit.c -- kula audit: verify a ledger from its genesis, offline. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "kula/audit/audit.h"
#include "kula/audit/report.h"
#include "kula/base/error.h"
#include "kula/types/genesis.h"

static const char audit_usage[] =
    "Usage: kula audit [DATADIR] [--json] [--quiet] [--threads N] [--genesis FILE]\n"
    "                  [--sign KEY [--output FILE]]\n"
    "       kula audit verify REPORT [--json]\n"
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
    "  --genesis FILE  first check that the ledger belongs to the network of\n"
    "               the GENESIS.json FILE (its chain id, computed from the file)\n"
    "  --sign KEY   sign the result with the wallet key KEY (BIP-340): a\n"
    "               canonical JSON report of the chain id, tip height and hash,\n"
    "               state root, what was verified, the time and KEY's public key\n"
    "               (proto/SPEC.md section 13), printed instead of the text\n"
    "  --output FILE  with --sign: write the report to FILE, print the text\n"
    "\n"
    "kula audit verify REPORT checks a report's signature and prints who\n"
    "signed what; it needs no ledger.\n"
    "\n"
    "Exit status: 0 everything holds (verify: the signature is good); 1 a check\n"
    "failed (the first failing height and what failed are printed), the ledger\n"
    "cannot be read or is another network's, or the report does not verify;\n"
    "3 usage.\n";

static void print_report(const kula_report *rep)
{
    char chain[2 * KULA_HASH_LEN + 1], tip[2 * KULA_HASH_LEN + 1], root[2 * KULA_HASH_LEN + 1];
    char who[2 * KULA_PUBKEY_LEN + 1], when[40];
    kula_hex_encode(chain, rep->chain_id.b, KULA_HASH_LEN);
    kula_hex_encode(tip, rep->tip_hash.b, KULA_HASH_LEN);
    kula_hex_encode(root, rep->state_root.b, KULA_HASH_LEN);
    kula_hex_encode(who, rep->auditor.b, KULA_PUBKEY_LEN);
    cli_local_time(when, sizeof(when), (int64_t)rep->time_ms, true); /* for a person */
    printf("signature good: auditor %s signed this report at %s\n", who, when);
    printf("  network      %s\n  chain id     %s\n", rep->network, chain);
    if (rep->ok)
        printf("  audit        OK: blocks 1-%llu verified\n", (unsigned long long)rep->tip_height);
    else
        printf("  audit        FAILED at height %llu (%s): %s\n",
               (unsigned long long)rep->failed_height, rep->failed_check, rep->error);
    printf("  block %-6llu %s\n  state root   %s\n", (unsigned long long)rep->tip_height, tip,
           root);
    printf("  verified     %llu blocks, %llu transactions, %llu transaction and %llu commit "
           "signatures, %llu settlements recomputed\n",
           (unsigned long long)rep->blocks, (unsigned long long)rep->txs,
           (unsigned long long)rep->tx_signatures, (unsigned long long)rep->commit_signatures,
           (unsigned long long)rep->settlements);
}

/* kula audit verify REPORT */
static int cmd_audit_verify(cli *c, const char *path)
{
    char *buf;
    size_t n;
    int got = cli_read_file(path, KULA_REPORT_MAX, &buf, &n);
    if (got < 0)
        return cli_fail(CLI_REFUSED, "%s: %s", path, errno ? strerror(errno) : "out of memory");
    if (got > 0) /* kula_report_verify says why */
        n = KULA_REPORT_MAX + 1;
    kula_report rep;
    char msg[512];
    int rc = kula_report_verify(&rep, buf, n, msg, sizeof(msg));
    free(buf);
    if (rc != 0)
        return cli_fail(CLI_REFUSED, "%s: %s", path, rc == KULA_ENOMEM ? "out of memory" : msg);
    if (!c->json) {
        print_report(&rep);
        return CLI_OK;
    }
    char who[2 * KULA_PUBKEY_LEN + 1], chain[2 * KULA_HASH_LEN + 1];
    kula_hex_encode(who, rep.auditor.b, KULA_PUBKEY_LEN);
    kula_hex_encode(chain, rep.chain_id.b, KULA_HASH_LEN);
    printf("{\"signature\":\"good\",\"auditor\":\"%s\",\"chain_id\":\"%s\",\"ok\":%s,"
           "\"tip_height\":%llu}\n",
           who, chain, rep.ok ? "true" : "false", (unsigned long long)rep.tip_height);
    return CLI_OK;
}

/* Writes text to path through a temporary file: all of it or nothing. */
static int write_whole(const char *path, const char *text)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
        return cli_fail(CLI_USAGE, "--output: path too long");
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return cli_fail(CLI_REFUSED, "%s: %s", tmp, strerror(errno));
    bool ok = fputs(text, f) >= 0;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        return cli_fail(CLI_REFUSED, "cannot write the report to %s: %s", path, strerror(e));
    }
    return CLI_OK;
}

/* --genesis FILE: the ledger must be that network's. */
static int check_genesis(const kula_archive *a, const char *path)
{
    kula_genesis g;
    char err[512];
    if (kula_genesis_load(&g, path, err, sizeof(err)) != 0)
        return cli_fail(CLI_USAGE, "--genesis %s: %s", path, err);
    const kula_genesis *mine = kula_archive_genesis(a);
    int rc = CLI_OK;
    if (memcmp(g.chain_id.b, mine->chain_id.b, KULA_HASH_LEN) != 0) {
        char want[2 * KULA_HASH_LEN + 1], have[2 * KULA_HASH_LEN + 1];
        kula_hex_encode(want, g.chain_id.b, KULA_HASH_LEN);
        kula_hex_encode(have, mine->chain_id.b, KULA_HASH_LEN);
        rc = cli_fail(CLI_REFUSED,
                      "this ledger is not of the network of %s: the ledger is network '%s' "
                      "(chain id %s), the file network '%s' (chain id %s)",
                      path, mine->network, have, g.network, want);
    }
    kula_genesis_free(&g);
    return rc;
}

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
        { "genesis", required_argument, NULL, 'g' },
        { "sign", required_argument, NULL, 's' },
        { "output", required_argument, NULL, 'o' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    bool json = c->json, quiet = false;
    unsigned threads = 0;
    const char *genesis = NULL, *sign = NULL, *output = NULL;
    if (c->argc >= 2 && strcmp(c->argv[1], "verify") == 0) {
        if (c->argc == 3 && strcmp(c->argv[2], "--help") != 0)
            return cmd_audit_verify(c, c->argv[2]);
        if (c->argc == 3) {
            fputs(audit_usage, stdout);
            return CLI_OK;
        }
        return cli_fail(CLI_USAGE, "audit verify: expected one REPORT file (see kula audit "
                                   "--help)");
    }
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
        case 'g': genesis = optarg; break;
        case 's': sign = optarg; break;
        case 'o': output = optarg; break;
        case 'h': fputs(audit_usage, stdout); return CLI_OK;
        case ':': return cli_fail(CLI_USAGE, "%s: missing value", c->argv[optind - 1]);
        default: return cli_fail(CLI_USAGE, "audit: bad option '%s' (see kula audit --help)",
                                 c->argv[optind - 1]);
        }
    }
    if (c->argc - optind > 1)
        return cli_fail(CLI_USAGE, "audit: expected at most one DATADIR (see kula audit --help)");
    if (output != NULL && sign == NULL)
        return cli_fail(CLI_USAGE, "--output writes a signed report: it needs --sign KEY");
    const char *dir = optind < c->argc ? c->argv[optind] : c->datadir;
    char err[512];
    kula_archive *a;
    if (kula_archive_open(&a, dir, err, sizeof(err)) != 0)
        return cli_fail(CLI_REFUSED, "%s", err);
    if (genesis != NULL) {
        int grc = check_genesis(a, genesis);
        if (grc != CLI_OK) {
            kula_archive_close(a);
            return grc;
        }
    }
    /* the key is unlocked before the audit: a wrong passphrase costs nothing */
    kula_seckey sk;
    kula_pubkey pk;
    if (sign != NULL) {
        int urc = cli_unlock(c, sign, &sk, &pk);
        if (urc != 0) {
            kula_archive_close(a);
            return urc;
        }
    }
    progress p = { .on = !quiet && isatty(STDERR_FILENO), .t0 = now_s() };
    kula_audit_opts ao = { .threads = threads, .progress = show_progress, .ctx = &p };
    kula_audit_result r;
    kula_audit_run(a, &ao, &r);
    clear_progress(&p);
    int rc = 0;
    if (sign != NULL) {
        kula_report rep;
        kula_report_of(&rep, kula_archive_genesis(a), &r, (uint64_t)time(NULL) * 1000, &pk);
        char *text = NULL;
        int src = kula_report_sign(&text, &rep, &sk, NULL);
        kula_seckey_wipe(&sk);
        if (src != 0) {
            kula_archive_close(a);
            return cli_fail(CLI_REFUSED, "cannot sign the report: %s", kula_strerror(src));
        }
        if (output != NULL)
            rc = write_whole(output, text);
        else
            fputs(text, stdout);
        free(text);
        if (rc == 0 && output != NULL)
            rc = json ? print_json(a, &r) : (print_text(a, &r), 0);
    } else {
        rc = json ? print_json(a, &r) : (print_text(a, &r), 0);
    }
    kula_archive_close(a);
    if (rc != 0)
        return rc;
    return r.ok ? CLI_OK : CLI_REFUSED;
}
