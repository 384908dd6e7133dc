/* bench_replay.c -- benchmarks (b) and (c) of a ledger of --txs transactions
 * (default 1,000,000) in blocks of --block (default 10,000):
 *
 *   (b) replay: kula_chain_reindex over the stored blocks (what
 *       `kulad --reindex` runs): the state and indexes are dropped and rebuilt,
 *       every hash link, transactions root and state root checked, no
 *       signature checked.  Reported in tx/s, with the peak RSS of the
 *       process during the reindex (VmHWM, reset just before it).
 *   (c) memory: the real kulad (--kulad PATH) started on that data directory
 *       with a GENESIS.json written from the same genesis
 *       (kula_genesis_to_json); after it has run a few seconds, its
 *       anonymous memory from /proc/PID/smaps_rollup (Anonymous:, Rss:) and
 *       /proc/PID/status (RssAnon:), then SIGTERM.
 *
 * Building the ledger (not timed): a genesis of --members members
 * (deterministic keys, member 1 the only validator); a workload planned by a
 * fixed generator (--mix mixed: ~80% transfers, ~15% exchanges signed by
 * both sides, ~5% feedback on pairs that traded; --mix transfers: transfers
 * only); every transaction signed with the members' real keys (kula_sign).
 * Signing a million transactions takes a while, so the signed transactions
 * are cached in a file under /tmp/kula-bench-cache and reused by later runs.
 * The cache is not trusted: every cached transaction body must equal the
 * body the planner encodes now, and every signature is verified (on the
 * kula_verifier) before the block builder uses it; a mismatch discards the
 * cache.  Blocks are then built with kula_chain_build_block (which applies
 * every ledger rule: nonces, credit limits, signer sets) and committed with
 * the validator's precommit, as node/daemon/node.c's produce_block does.
 *
 * Usage: bench_replay [--txs N] [--block K] [--members M] [--mix mixed|transfers]
 *                     [--dir DIR] [--keep] [--kulad PATH] [--settle SECONDS]
 *                     [--no-cache] [--cold] [--ahead-min BYTES]
 *   --dir DIR   data directory to use; a complete ledger already there (same
 *               genesis, same size) is reused without rebuilding
 *   --keep      keep the data directory (a fresh one under /tmp otherwise,
 *               removed at the end)
 *   --ahead-min BYTES
 *               blocks of at least this size are prepared on the reindex's
 *               worker thread (kula_reindex_ahead_min; 0: all of them)
 *   --cold      evict the store's file from the page cache before the
 *               reindex (posix_fadvise DONTNEED), else it is warm */
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "bench_util.h"
#include "kula/crypto/verifier.h"
#include "chain/chain_testing.h"

typedef struct opts {
    size_t txs;
    size_t block;
    uint32_t members;
    int mix;
    const char *dir;
    bool keep;
    const char *kulad;
    unsigned settle;
    bool no_cache;
    bool cold;
} opts;

#define SEED UINT64_C(0x7265706c6179) /* "replay" */

static void usage(void)
{
    fputs("usage: bench_replay [--txs N] [--block K] [--members M] [--mix mixed|transfers]\n"
          "                    [--dir DIR] [--keep] [--kulad PATH] [--settle SECONDS]\n"
          "                    [--no-cache] [--cold] [--ahead-min BYTES]\n",
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
    o->txs = 1000000;
    o->block = 10000;
    o->members = 1000;
    o->mix = BU_MIX_MIXED;
    o->settle = 5;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--keep") == 0) {
            o->keep = true;
            continue;
        }
        if (strcmp(a, "--no-cache") == 0) {
            o->no_cache = true;
            continue;
        }
        if (strcmp(a, "--cold") == 0) {
            o->cold = true;
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
        else if (strcmp(a, "--mix") == 0) {
            if (strcmp(v, "mixed") == 0)
                o->mix = BU_MIX_MIXED;
            else if (strcmp(v, "transfers") == 0)
                o->mix = BU_MIX_TRANSFERS;
            else
                usage();
        } else if (strcmp(a, "--dir") == 0)
            o->dir = v;
        else if (strcmp(a, "--kulad") == 0)
            o->kulad = v;
        else if (strcmp(a, "--settle") == 0)
            o->settle = (unsigned)parse_size(v, a);
        else if (strcmp(a, "--ahead-min") == 0)
            kula_reindex_ahead_min = strcmp(v, "0") == 0 ? 0 : parse_size(v, a);
        else
            usage();
    }
    if (o->members < 2 || o->members > KULA_MAX_MEMBERS)
        bu_die("--members must be in [2, %u]", KULA_MAX_MEMBERS);
    if (o->block > KULA_MAX_BLOCK_TXS)
        bu_die("--block must be at most %u", KULA_MAX_BLOCK_TXS);
}

/* ---- the signed-transaction cache ---- */

static const char CACHE_MAGIC[8] = { 'K', 'U', 'L', 'A', 'B', 'T', 'X', '1' };

static void cache_path(char *out, size_t cap, const bu_net *net, const opts *o)
{
    char hex[2 * KULA_HASH_LEN + 1];
    kula_hex_encode(hex, net->g.chain_id.b, KULA_HASH_LEN);
    snprintf(out, cap, "/tmp/kula-bench-cache/replay-%.16s-%s-%zu.txs", hex,
             o->mix == BU_MIX_MIXED ? "mixed" : "transfers", o->txs);
}

typedef struct cache_hdr {
    char magic[8];
    uint8_t chain_id[KULA_HASH_LEN];
    uint64_t n, seed;
    uint32_t mix, members;
} cache_hdr;

static bool write_all(FILE *f, kula_hasher *h, const void *p, size_t n)
{
    kula_hasher_update(h, p, n);
    return fwrite(p, 1, n, f) == n;
}

static void cache_save(const char *path, const bu_net *net, const opts *o, const bu_txset *ts)
{
    mkdir("/tmp/kula-bench-cache", 0700);
    char tmp[1300];
    snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (f == NULL) {
        fprintf(stderr, "warning: cannot write the cache %s: %s\n", tmp, strerror(errno));
        return;
    }
    cache_hdr h;
    memset(&h, 0, sizeof(h));
    memcpy(h.magic, CACHE_MAGIC, sizeof(h.magic));
    memcpy(h.chain_id, net->g.chain_id.b, KULA_HASH_LEN);
    h.n = ts->n;
    h.seed = SEED;
    h.mix = (uint32_t)o->mix;
    h.members = net->nmembers;
    kula_hasher hs;
    kula_hasher_init(&hs);
    bool ok = write_all(f, &hs, &h, sizeof(h));
    uint32_t *lens = bu_xcalloc(ts->n, sizeof(*lens));
    for (size_t i = 0; i < ts->n; i++)
        lens[i] = (uint32_t)ts->lens[i];
    ok = ok && write_all(f, &hs, lens, ts->n * sizeof(*lens));
    free(lens);
    for (size_t i = 0; ok && i < ts->n; i++)
        ok = write_all(f, &hs, ts->txs[i], ts->lens[i]);
    kula_hash digest;
    kula_hasher_final(&hs, &digest);
    ok = ok && fwrite(digest.b, 1, KULA_HASH_LEN, f) == KULA_HASH_LEN;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        fprintf(stderr, "warning: cannot write the cache %s\n", path);
        unlink(tmp);
        return;
    }
    printf("  cached the signed transactions in %s\n", path);
}

/* Loads the cache if it exists and is intact.  Returns: true and *ts.
 * (Its contents are checked against the plan and verified by the caller.) */
static bool cache_load(const char *path, const bu_net *net, const opts *o, bu_txset *ts)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return false;
    struct stat st;
    cache_hdr h;
    bool ok = fstat(fileno(f), &st) == 0 && fread(&h, 1, sizeof(h), f) == sizeof(h) &&
              memcmp(h.magic, CACHE_MAGIC, sizeof(h.magic)) == 0 &&
              memcmp(h.chain_id, net->g.chain_id.b, KULA_HASH_LEN) == 0 && h.n == o->txs &&
              h.seed == SEED && h.mix == (uint32_t)o->mix && h.members == net->nmembers;
    size_t fixed = sizeof(h) + o->txs * sizeof(uint32_t) + KULA_HASH_LEN;
    if (!ok || (size_t)st.st_size < fixed) {
        fclose(f);
        fprintf(stderr, "note: %s is not a cache of this workload; regenerating\n", path);
        return false;
    }
    memset(ts, 0, sizeof(*ts));
    ts->n = o->txs;
    ts->data_len = (size_t)st.st_size - fixed;
    uint32_t *lens = bu_xcalloc(ts->n, sizeof(*lens));
    ts->data = bu_xmalloc(ts->data_len);
    ts->lens = bu_xcalloc(ts->n, sizeof(*ts->lens));
    ts->off = bu_xcalloc(ts->n, sizeof(*ts->off));
    kula_hash want, got;
    ok = fread(lens, sizeof(*lens), ts->n, f) == ts->n &&
         fread(ts->data, 1, ts->data_len, f) == ts->data_len &&
         fread(want.b, 1, KULA_HASH_LEN, f) == KULA_HASH_LEN;
    fclose(f);
    size_t pos = 0;
    for (size_t i = 0; ok && i < ts->n; i++) {
        ts->lens[i] = lens[i];
        ts->off[i] = pos;
        pos += lens[i];
    }
    ok = ok && pos == ts->data_len;
    if (ok) {
        kula_hasher hs;
        kula_hasher_init(&hs);
        kula_hasher_update(&hs, &h, sizeof(h));
        kula_hasher_update(&hs, lens, ts->n * sizeof(*lens));
        kula_hasher_update(&hs, ts->data, ts->data_len);
        kula_hasher_final(&hs, &got);
        ok = memcmp(want.b, got.b, KULA_HASH_LEN) == 0;
    }
    free(lens);
    if (!ok) {
        fprintf(stderr, "note: %s is damaged; regenerating\n", path);
        bu_txset_free(ts);
        return false;
    }
    bu_txset_index(ts);
    return true;
}

/* Every cached transaction must be the planned one: the same body bytes
 * and the planned signers.  (Signatures are verified separately.) */
static bool cache_matches_plan(const bu_txset *ts, const bu_desc *plan)
{
    kula_buf body;
    kula_buf_init(&body);
    bool ok = true;
    for (size_t i = 0; ok && i < ts->n; i++) {
        kula_tx tx;
        if (kula_tx_decode(&tx, ts->txs[i], ts->lens[i]) != 0) {
            fprintf(stderr, "note: cached tx %zu does not decode\n", i);
            ok = false;
            break;
        }
        bu_encode_body(&body, &plan[i]);
        if (tx.body_len != body.len || memcmp(tx.body, body.data, body.len) != 0) {
            fprintf(stderr, "note: cached tx %zu is not the planned transaction\n", i);
            ok = false;
            break;
        }
        uint32_t want = plan[i].kind == KULA_TX_EXCHANGE ? 2 : 1;
        if (tx.nsigs != want) {
            fprintf(stderr, "note: cached tx %zu has %u signatures\n", i, tx.nsigs);
            ok = false;
        }
    }
    kula_buf_free(&body);
    return ok;
}

/* ---- building the ledger ---- */

static void verify_all(const bu_net *net, const bu_txset *ts)
{
    size_t njobs;
    kula_verify_job *jobs = bu_make_jobs(net, ts, &njobs);
    kula_verifier *v;
    if (kula_verifier_new(&v, 0) != 0)
        bu_die("kula_verifier_new");
    double t0 = bu_now();
    kula_verifier_run(v, jobs, njobs);
    double el = bu_now() - t0;
    for (size_t i = 0; i < njobs; i++)
        if (!jobs[i].ok)
            bu_die("signature %zu of the workload does not verify", i);
    printf("  verified all %zu signatures in %.1f s (%.0f/s, %u threads)\n", njobs, el,
           (double)njobs / el, kula_verifier_threads(v));
    kula_verifier_free(v);
    free(jobs);
}

/* Builds and commits the blocks; every candidate must be included. */
static void build_ledger(const bu_net *net, const opts *o, const bu_txset *ts, kula_chain *chain)
{
    double t0 = bu_now();
    bu_build_blocks(net, chain, ts, o->block);
    double el = bu_now() - t0;
    printf("  built and committed %llu blocks in %.1f s (%.0f tx/s)\n",
           (unsigned long long)kula_chain_height(chain), el, (double)ts->n / el);
}

static bool dir_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Counts the transactions in stored blocks 1..tip. Out: *root, the tip's state root. */
static size_t count_txs(kula_store *store, uint64_t tip, kula_hash *root)
{
    size_t n = 0;
    kula_buf b;
    kula_buf_init(&b);
    for (uint64_t h = 1; h <= tip; h++) {
        kula_block blk;
        kula_buf_reset(&b);
        if (kula_store_block(store, h, &b) != 0 || kula_block_decode(&blk, b.data, b.len) != 0)
            bu_die("block %llu is unreadable", (unsigned long long)h);
        n += blk.ntxs;
        if (h == tip)
            *root = blk.header.state_root;
        kula_block_free(&blk);
    }
    kula_buf_free(&b);
    return n;
}

/* ---- (c) kulad ---- */

static unsigned free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    unsigned port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    if (port == 0)
        bu_die("cannot find a free loopback port");
    return port;
}

static bool file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return false;
    char line[1024];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f) != NULL)
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

typedef struct kulad_mem {
    long anon_kib, rss_kib; /* smaps_rollup */
    long rss_anon_kib, rss_file_kib, hwm_kib; /* status */
} kulad_mem;

static void write_genesis_json(const bu_net *net, const char *path)
{
    char *json = kula_genesis_to_json(&net->g);
    if (json == NULL)
        bu_die("kula_genesis_to_json");
    /* kulad computes the chain id from this file: it must be ours. */
    kula_genesis back;
    kula_error err;
    if (kula_genesis_parse_json(&back, json, strlen(json), &err) != 0)
        bu_die("the genesis JSON does not parse back: %s", err.what);
    if (memcmp(back.chain_id.b, net->g.chain_id.b, KULA_HASH_LEN) != 0)
        bu_die("the genesis JSON gives another chain id");
    kula_genesis_free(&back);
    FILE *f = fopen(path, "w");
    if (f == NULL || fputs(json, f) < 0 || fclose(f) != 0)
        bu_die("cannot write %s", path);
    free(json);
}

static int run_kulad(const opts *o, const bu_net *net, const char *dir, kulad_mem *mem)
{
    char genesis[1100], log[1100], listen[64], rpc[64];
    snprintf(genesis, sizeof(genesis), "%s/GENESIS.json", dir); /* written by main */
    snprintf(log, sizeof(log), "%s/kulad.log", dir);
    (void)net;
    snprintf(listen, sizeof(listen), "127.0.0.1:%u", free_port());
    snprintf(rpc, sizeof(rpc), "127.0.0.1:%u", free_port());
    pid_t pid = fork();
    if (pid < 0)
        bu_die("fork: %s", strerror(errno));
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execl(o->kulad, o->kulad, "--datadir", dir, "--genesis", genesis, "--listen", listen,
              "--rpc", rpc, (char *)NULL);
        fprintf(stderr, "exec %s: %s\n", o->kulad, strerror(errno));
        _exit(127);
    }
    /* Wait until it runs (at most 60 s), then let it settle. */
    double t0 = bu_now();
    int status;
    while (!file_contains(log, "running")) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            bu_die("kulad exited before running (status %d); see %s", status, log);
        if (bu_now() - t0 > 60) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            bu_die("kulad did not start within 60 s; see %s", log);
        }
        usleep(50000);
    }
    double ready = bu_now() - t0;
    sleep(o->settle);
    if (waitpid(pid, &status, WNOHANG) == pid)
        bu_die("kulad exited while settling; see %s", log);
    char path[64];
    snprintf(path, sizeof(path), "/proc/%ld/smaps_rollup", (long)pid);
    mem->anon_kib = bu_proc_kib(path, "Anonymous");
    mem->rss_kib = bu_proc_kib(path, "Rss");
    snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    mem->rss_anon_kib = bu_proc_kib(path, "RssAnon");
    mem->rss_file_kib = bu_proc_kib(path, "RssFile");
    mem->hwm_kib = bu_proc_kib(path, "VmHWM");
    printf("  kulad pid %ld ready after %.1f s, measured after %u s more\n", (long)pid, ready,
           o->settle);
    kill(pid, SIGTERM);
    for (int i = 0; i < 200; i++) { /* 10 s */
        if (waitpid(pid, &status, WNOHANG) == pid) {
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                fprintf(stderr, "warning: kulad exited with status %d after SIGTERM; see %s\n",
                        status, log);
            return 0;
        }
        usleep(50000);
    }
    fprintf(stderr, "warning: kulad ignored SIGTERM for 10 s; killing it\n");
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return 0;
}

/* ---- main ---- */


/* Bytes this process has passed to write(2)/pwrite(2) so far ("wchar"):
 * what LMDB writes, page by page.  (write_bytes over-counts on kernels
 * whose page cache dirties whole large folios.) */
static long long io_written(void)
{
    FILE *f = fopen("/proc/self/io", "r");
    if (f == NULL)
        return -1;
    char line[128];
    long long v = -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "wchar:", 6) == 0)
            v = atoll(line + 6);
    fclose(f);
    return v;
}

/* Sampled by the reindex's progress callback (every 1% of the blocks). */
typedef struct mem_sampler {
    long max_anon_kib, max_file_kib;
} mem_sampler;

static void sample_memory(void *ctx, uint64_t done, uint64_t total)
{
    mem_sampler *m = ctx;
    long a = bu_proc_kib("/proc/self/status", "RssAnon");
    long f = bu_proc_kib("/proc/self/status", "RssFile");
    if (a > m->max_anon_kib)
        m->max_anon_kib = a;
    if (f > m->max_file_kib)
        m->max_file_kib = f;
    (void)done;
    (void)total;
}

int main(int argc, char **argv)
{
    opts o;
    parse_args(&o, argc, argv);
    long ncpu = bu_start();

    bu_net net;
    bu_net_init(&net, o.members, INT64_C(1000000000), (uint32_t)o.block);
    uint64_t want_blocks = (o.txs + o.block - 1) / o.block;

    char dir[1024];
    bool made_dir = false;
    if (o.dir != NULL) {
        snprintf(dir, sizeof(dir), "%s", o.dir);
        if (!dir_exists(dir) && mkdir(dir, 0700) != 0)
            bu_die("cannot create %s: %s", dir, strerror(errno));
    } else {
        snprintf(dir, sizeof(dir), "/tmp/kula-bench-replay-XXXXXX");
        if (mkdtemp(dir) == NULL)
            bu_die("mkdtemp: %s", strerror(errno));
        made_dir = true;
    }
    printf("replay benchmark: %zu txs (%s), blocks of %zu, %u members, data directory %s, "
           "%ld CPUs\n",
           o.txs, o.mix == BU_MIX_MIXED ? "mixed kinds" : "transfers", o.block, o.members, dir,
           ncpu);

    /* ---- the ledger: reuse or build ---- */
    kula_store *store;
    kula_chain *chain;
    bu_open_chain(&net, dir, &store, &chain); /* refuses another network's store */
    uint64_t tip = kula_chain_height(chain);
    if (tip == want_blocks) {
        printf("  reusing the ledger in %s (height %llu)\n", dir, (unsigned long long)tip);
    } else if (tip != 0) {
        bu_die("%s holds a ledger of height %llu, not %llu: remove it or use another --dir",
               dir, (unsigned long long)tip, (unsigned long long)want_blocks);
    } else {
        double s0 = bu_now();
        bu_desc *plan = bu_plan(o.members, o.txs, SEED, o.mix);
        bu_txset ts;
        char cpath[1200];
        cache_path(cpath, sizeof(cpath), &net, &o);
        bool cached = !o.no_cache && cache_load(cpath, &net, &o, &ts);
        if (cached && !cache_matches_plan(&ts, plan)) {
            fprintf(stderr, "note: discarding the cache %s\n", cpath);
            bu_txset_free(&ts);
            cached = false;
        }
        if (cached) {
            printf("  loaded %zu signed transactions from %s\n", ts.n, cpath);
        } else {
            double t0 = bu_now();
            bu_sign_all(&net, plan, o.txs, (unsigned)(ncpu > 0 ? ncpu : 1), &ts);
            printf("  signed %zu transactions in %.1f s\n", ts.n, bu_now() - t0);
            if (!o.no_cache)
                cache_save(cpath, &net, &o, &ts);
        }
        verify_all(&net, &ts);
        free(plan);
        build_ledger(&net, &o, &ts, chain);
        printf("  ledger ready in %.1f s (%.1f MiB of signed transactions)\n", bu_now() - s0,
               (double)ts.data_len / 1048576.0);
        bu_txset_free(&ts);
        tip = kula_chain_height(chain);
    }
    kula_hash tip_root;
    size_t ntxs = count_txs(store, tip, &tip_root);
    if (ntxs != o.txs)
        bu_die("the stored blocks hold %zu transactions, expected %zu", ntxs, o.txs);
    if (memcmp(kula_ledger_state_root(kula_chain_ledger(chain))->b, tip_root.b, KULA_HASH_LEN) != 0)
        bu_die("the ledger's state root is not the tip block's");
    kula_chain_free(chain);
    kula_store_close(store);
    /* The node's view of this network, for kulad (and for runs by hand). */
    char genesis_path[1100];
    snprintf(genesis_path, sizeof(genesis_path), "%s/GENESIS.json", dir);
    write_genesis_json(&net, genesis_path);

    char datafile[1100];
    snprintf(datafile, sizeof(datafile), "%s/ledger/data.mdb", dir);
    struct stat dst;
    if (stat(datafile, &dst) != 0)
        bu_die("%s: %s", datafile, strerror(errno));
    if (o.cold) {
        int fd = open(datafile, O_RDONLY);
        if (fd < 0 || fdatasync(fd) != 0 || posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) != 0)
            bu_die("cannot evict %s from the page cache", datafile);
        close(fd);
    }

    /* ---- (b) replay ---- */
    malloc_trim(0);
    long base_kib = bu_proc_kib("/proc/self/status", "VmRSS");
    bu_reset_peak_rss();
    char lpath[1100];
    snprintf(lpath, sizeof(lpath), "%s/ledger", dir);
    if (kula_store_open(&store, lpath, 0) != 0)
        bu_die("cannot reopen the store");
    uint64_t bad;
    kula_error e;
    long long w0 = io_written();
    double t0 = bu_now(), c0 = bu_cpu_now();
    mem_sampler ms = { 0, 0 };
    int rc = kula_chain_reindex(store, &net.g, sample_memory, &ms, &bad, &e);
    double el = bu_now() - t0, cpu = bu_cpu_now() - c0;
    if (rc != 0)
        bu_die("reindex failed at height %llu: %s", (unsigned long long)bad, e.what);
    long long written = io_written() - w0;
    long hwm_kib = bu_proc_kib("/proc/self/status", "VmHWM");
    long anon_kib = bu_proc_kib("/proc/self/status", "RssAnon");
    /* The rebuilt state must end where the blocks say. */
    uint64_t rtip;
    if (kula_store_tip(store, &rtip) != 0 || rtip != tip)
        bu_die("after the reindex the tip is %llu, expected %llu", (unsigned long long)rtip,
               (unsigned long long)tip);
    kula_chain *c2;
    kula_error oe;
    if (kula_chain_open(&c2, store, &net.g, &oe) != 0)
        bu_die("reopen after reindex: %s", oe.what);
    if (memcmp(kula_ledger_state_root(kula_chain_ledger(c2))->b, tip_root.b, KULA_HASH_LEN) != 0)
        bu_die("after the reindex the state root is not the tip block's");
    kula_chain_free(c2);
    kula_store_close(store);
    double rate = (double)ntxs / el;
    printf("replay: %zu txs (%llu blocks) reindexed in %.2f s = %.0f tx/s (CPU %.2f s; %s page "
           "cache; store %.0f MiB; %.0f MiB written); target >= 500000 tx/s: %s\n",
           ntxs, (unsigned long long)tip, el, rate, cpu, o.cold ? "cold" : "warm",
           (double)dst.st_size / 1048576.0, (double)written / 1048576.0,
           rate >= 500000 ? "met" : "MISSED");
    printf("replay memory: peak RSS during the reindex %.1f MiB (VmHWM; %.1f MiB before it); "
           "sampled every 1%% of the blocks: RssAnon up to %.1f MiB, RssFile (LMDB map) up to "
           "%.1f MiB; RssAnon after %.1f MiB\n",
           bu_mib(hwm_kib), bu_mib(base_kib), bu_mib(ms.max_anon_kib), bu_mib(ms.max_file_kib),
           bu_mib(anon_kib));

    /* ---- (c) kulad ---- */
    if (o.kulad != NULL) {
        kulad_mem m;
        run_kulad(&o, &net, dir, &m);
        printf("kulad memory: Anonymous %.1f MiB, Rss %.1f MiB (smaps_rollup); RssAnon %.1f MiB, "
               "RssFile %.1f MiB, VmHWM %.1f MiB (status); target anonymous <= 100 MiB: %s\n",
               bu_mib(m.anon_kib), bu_mib(m.rss_kib), bu_mib(m.rss_anon_kib),
               bu_mib(m.rss_file_kib), bu_mib(m.hwm_kib),
               m.anon_kib >= 0 && m.anon_kib <= 100 * 1024 && m.rss_anon_kib <= 100 * 1024
                   ? "met"
                   : "MISSED");
    } else {
        printf("kulad memory: not measured (pass --kulad PATH)\n");
    }

    if (made_dir && !o.keep)
        bu_rmtree(dir);
    else
        printf("data directory kept: %s\n", dir);
    bu_net_free(&net);
    return 0;
}
