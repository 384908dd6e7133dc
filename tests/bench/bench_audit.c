/* bench_audit.c -- benchmark of kula audit: a full audit of a stored ledger
 * (node/audit/verify.c, kula_audit_run) in signatures verified per second, next to
 * this machine's raw BIP-340 verification rate on the same verifier and the
 * same signatures, measured in the same run.  Target: audit >= 0.8 x raw.
 *
 * Setup (not timed, skipped when --dir holds a ledger already): a genesis of
 * --members members (deterministic keys, member 1 the only validator,
 * max_block_txs = --block), --txs transactions (--mix transfers: all
 * transfers; mixed: ~80% transfers, ~15% two-signature exchanges, ~5%
 * feedback) signed with the members' keys, built into blocks of --block with
 * kula_chain_build_block and committed with the validator's precommit into
 * a store in --dir (default: a new directory under /tmp).
 *
 * Timed, --repeat times, alternately (the best of each figure is reported):
 *   raw    a kula_verifier of --threads workers over one (digest, key, sig)
 *          job per transaction signature of the stored blocks, keys from the
 *          genesis: kula_verifier_start + kula_verifier_wait, the main
 *          thread idle.
 *   audit  kula_archive_open + kula_audit_run with --threads verifier
 *          threads: every block decoded and linked, every commit and
 *          transaction signature verified, every transaction applied to an
 *          in-memory chain, every state root recomputed.  Its rate is the
 *          signatures it verified (transactions' and commits') per second of
 *          its wall time, which includes opening the store.
 * Both are also given per CPU-second of the process (all threads), which
 * other load on the machine disturbs much less than wall time.
 *
 * Usage: bench_audit [--txs N] [--block K] [--members M] [--mix transfers|mixed]
 *                    [--threads T] [--repeat R] [--dir DIR] [--keep] */
#include "bench_util.h"
#include "kula/audit/audit.h"
#include "kula/crypto/verifier.h"

typedef struct opts {
    size_t txs;
    size_t block;
    uint32_t members;
    int mix;
    unsigned threads;
    unsigned repeat;
    const char *dir;
    bool keep;
} opts;

static void usage(void)
{
    fputs("usage: bench_audit [--txs N] [--block K] [--members M] [--mix transfers|mixed]\n"
          "                   [--threads T] [--repeat R] [--dir DIR] [--keep]\n"
          "  --txs N      transactions in the ledger (default 50000)\n"
          "  --block K    transactions per block, the genesis max_block_txs (default 1000)\n"
          "  --members M  genesis members (default 1000)\n"
          "  --mix        transfers (default) or mixed (transfers, exchanges, feedback)\n"
          "  --threads T  verifier threads (default 2)\n"
          "  --repeat R   repetitions; the best of each figure is reported (default 3)\n"
          "  --dir DIR    the data directory: reused if DIR/ledger exists, else built\n"
          "               there and kept (default: a new directory under /tmp, removed)\n"
          "  --keep       keep the default directory\n",
          stderr);
    exit(2);
}

static size_t parse_size(const char *s, const char *name)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v == 0)
        bu_die("%s: '%s' is not a positive integer", name, s);
    return (size_t)v;
}

static void parse_args(opts *o, int argc, char **argv)
{
    memset(o, 0, sizeof(*o));
    o->txs = 50000;
    o->block = 1000;
    o->members = 1000;
    o->mix = BU_MIX_TRANSFERS;
    o->threads = 2;
    o->repeat = 3;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--keep") == 0) {
            o->keep = true;
            continue;
        }
        if (i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        if (strcmp(a, "--txs") == 0)
            o->txs = parse_size(v, a);
        else if (strcmp(a, "--block") == 0)
            o->block = parse_size(v, a);
        else if (strcmp(a, "--members") == 0)
            o->members = (uint32_t)parse_size(v, a);
        else if (strcmp(a, "--threads") == 0)
            o->threads = (unsigned)parse_size(v, a);
        else if (strcmp(a, "--repeat") == 0)
            o->repeat = (unsigned)parse_size(v, a);
        else if (strcmp(a, "--dir") == 0)
            o->dir = v;
        else if (strcmp(a, "--mix") == 0) {
            if (strcmp(v, "transfers") == 0)
                o->mix = BU_MIX_TRANSFERS;
            else if (strcmp(v, "mixed") == 0)
                o->mix = BU_MIX_MIXED;
            else
                usage();
        } else
            usage();
    }
    if (o->members < 2 || o->members > KULA_MAX_MEMBERS)
        bu_die("--members must be in [2, %u]", KULA_MAX_MEMBERS);
    if (o->block > KULA_MAX_BLOCK_TXS)
        bu_die("--block must be at most %u", KULA_MAX_BLOCK_TXS);
}

/* ---- building the ledger ---- */

static void build(const opts *o, const char *dir)
{
    double t0 = bu_now();
    bu_net net;
    bu_net_init(&net, o->members, 1000000000, (uint32_t)o->block);
    bu_desc *plan = bu_plan(o->members, o->txs, 42, o->mix);
    bu_txset ts;
    bu_sign_all(&net, plan, o->txs, o->threads, &ts);
    free(plan);
    kula_store *store;
    kula_chain *chain;
    bu_open_chain(&net, dir, &store, &chain);
    bu_build_blocks(&net, chain, &ts, o->block);
    printf("built %zu transactions in %llu blocks in %.1f s\n", ts.n,
           (unsigned long long)kula_chain_height(chain), bu_now() - t0);
    kula_chain_free(chain);
    kula_store_close(store);
    bu_txset_free(&ts);
    bu_net_free(&net);
}

/* ---- raw verification jobs: every transaction signature of the ledger ---- */

static kula_verify_job *ledger_jobs(kula_archive *a, size_t *njobs, size_t *ntxs)
{
    const kula_genesis *g = kula_archive_genesis(a);
    size_t cap = 1024, k = 0;
    kula_verify_job *jobs = bu_xcalloc(cap, sizeof(*jobs));
    kula_buf b;
    kula_buf_init(&b);
    kula_tx tx;
    *ntxs = 0;
    for (uint64_t h = 1; h <= kula_archive_tip(a); h++) {
        kula_buf_reset(&b);
        kula_block blk;
        if (kula_archive_block(a, h, &b) != 0 || kula_block_decode(&blk, b.data, b.len) != 0)
            bu_die("block %llu cannot be read", (unsigned long long)h);
        for (uint32_t i = 0; i < blk.ntxs; i++) {
            if (kula_tx_decode(&tx, blk.txs[i], blk.tx_lens[i]) != 0)
                bu_die("block %llu: transaction %u does not decode", (unsigned long long)h, i);
            kula_hash digest;
            kula_tx_sighash(&digest, &g->chain_id, &tx);
            for (uint32_t s = 0; s < tx.nsigs; s++) {
                uint32_t signer = tx.sigs[s].signer;
                if (signer < 1 || signer > g->nmembers)
                    bu_die("signer %u is not a genesis member", signer);
                if (k == cap) {
                    cap *= 2;
                    jobs = realloc(jobs, cap * sizeof(*jobs));
                    if (jobs == NULL)
                        bu_die("out of memory");
                }
                jobs[k].digest = digest;
                jobs[k].key = g->members[signer - 1].pubkey;
                jobs[k].sig = tx.sigs[s].sig;
                jobs[k].ok = false;
                k++;
            }
            (*ntxs)++;
        }
        kula_block_free(&blk);
    }
    kula_buf_free(&b);
    *njobs = k;
    return jobs;
}

int main(int argc, char **argv)
{
    opts o;
    parse_args(&o, argc, argv);
    if (kula_crypto_init() != 0)
        bu_die("kula_crypto_init");
    char dir[1024];
    bool made = false;
    if (o.dir != NULL) {
        snprintf(dir, sizeof(dir), "%s", o.dir);
        mkdir(dir, 0700);
    } else {
        snprintf(dir, sizeof(dir), "/tmp/kula-bench-audit-XXXXXX");
        if (mkdtemp(dir) == NULL)
            bu_die("mkdtemp: %s", strerror(errno));
        made = true;
    }
    char ledger[1100];
    snprintf(ledger, sizeof(ledger), "%s/ledger/data.mdb", dir);
    struct stat st;
    if (stat(ledger, &st) == 0)
        printf("reusing the ledger in %s\n", dir);
    else
        build(&o, dir);

    kula_archive *a;
    kula_error err;
    if (kula_archive_open(&a, dir, &err) != 0)
        bu_die("%s", err.what);
    size_t njobs, ntxs;
    kula_verify_job *jobs = ledger_jobs(a, &njobs, &ntxs);
    uint64_t tip = kula_archive_tip(a);
    kula_archive_close(a);
    printf("ledger %s: %zu transactions, %zu transaction signatures, %llu blocks; "
           "%u verifier threads; %ld online CPUs\n",
           dir, ntxs, njobs, (unsigned long long)tip, o.threads, sysconf(_SC_NPROCESSORS_ONLN));

    kula_verifier *v;
    if (kula_verifier_new(&v, o.threads) != 0)
        bu_die("kula_verifier_new");
    double best_raw = 0, best_audit = 0, best_audit_tx = 0, best_secs = 0;
    double best_raw_cpu = 0, best_audit_cpu = 0;
    kula_audit_result r;
    for (unsigned rep = 0; rep < o.repeat; rep++) {
        for (size_t i = 0; i < njobs; i++)
            jobs[i].ok = false;
        double t0 = bu_now(), c0 = bu_cpu_now();
        kula_verifier_start(v, jobs, njobs);
        kula_verifier_wait(v);
        double raw = (double)njobs / (bu_now() - t0);
        double raw_cpu = (double)njobs / (bu_cpu_now() - c0);
        for (size_t i = 0; i < njobs; i++)
            if (!jobs[i].ok)
                bu_die("raw: signature %zu does not verify", i);

        t0 = bu_now();
        c0 = bu_cpu_now();
        if (kula_archive_open(&a, dir, &err) != 0)
            bu_die("%s", err.what);
        kula_audit_opts ao = { .threads = o.threads };
        int rc = kula_audit_run(a, &ao, &r);
        kula_archive_close(a);
        double secs = bu_now() - t0, cpu = bu_cpu_now() - c0;
        if (rc != 0 || !r.ok)
            bu_die("audit FAILED at height %llu: %s", (unsigned long long)r.failed_height,
                   r.error.what);
        double sigs = (double)(r.tx_signatures + r.commit_signatures) / secs;
        double sigs_cpu = (double)(r.tx_signatures + r.commit_signatures) / cpu;
        printf("  round %u: raw %.0f sig/s; audit %.3f s, %.0f tx/s, %.0f sig/s; ratio %.3f "
               "(per CPU-second: raw %.0f, audit %.0f sig, ratio %.3f)\n",
               rep + 1, raw, secs, (double)r.txs / secs, sigs, sigs / raw, raw_cpu, sigs_cpu,
               sigs_cpu / raw_cpu);
        if (raw > best_raw)
            best_raw = raw;
        if (raw_cpu > best_raw_cpu)
            best_raw_cpu = raw_cpu;
        if (sigs_cpu > best_audit_cpu)
            best_audit_cpu = sigs_cpu;
        if (sigs > best_audit) {
            best_audit = sigs;
            best_audit_tx = (double)r.txs / secs;
            best_secs = secs;
        }
    }
    kula_verifier_free(v);
    free(jobs);
    printf("raw verify  (%u threads): %.0f signatures/s\n", o.threads, best_raw);
    printf("audit       (%u threads): %.0f signatures/s, %.0f tx/s (%llu blocks, %llu txs, "
           "%llu + %llu signatures in %.3f s)\n",
           o.threads, best_audit, best_audit_tx, (unsigned long long)r.blocks,
           (unsigned long long)r.txs, (unsigned long long)r.tx_signatures,
           (unsigned long long)r.commit_signatures, best_secs);
    printf("ratio audit/raw: %.3f (target >= 0.8)\n", best_audit / best_raw);
    printf("per CPU-second (independent of other load): raw %.0f, audit %.0f signatures, "
           "ratio %.3f\n",
           best_raw_cpu, best_audit_cpu, best_audit_cpu / best_raw_cpu);
    if (made && !o.keep)
        bu_rmtree(dir);
    else
        printf("(ledger kept in %s)\n", dir);
    return 0;
}
