/* bench_clearing_block.c -- what the clearing inside a block (proto/LEDGER.md
 * §9, node/ledger/rules_clearing.c) adds to that block's commit.
 *
 * Setup, not timed: a genesis of --members members (bench_util.h) with the
 * clearing interval --interval; --obligations invoices, each issued by one
 * member to another and accepted by the debtor (signed with the members'
 * keys, built and committed in blocks of --block with kula_chain_build_block
 * and the validator's precommit, into a real LMDB store), then empty blocks
 * up to height interval - 2.  That store is copied aside.
 *
 * The network (seeded): 70% of the invoices between two members drawn
 * uniformly, 30% inside circles of 20 neighbouring members (suppliers
 * trading with each other, many short cycles); amounts 1 to 1,000,000 minor
 * units.
 *
 * Timed, --repeat times on a fresh copy of that store each time: block
 * interval - 1 (empty, no clearing), then block interval (empty, the
 * clearing of every open obligation), each built (kula_chain_build_block:
 * the ledger's end of block, where the clearing runs) and committed
 * (kula_chain_commit_built: LMDB), as the single-validator node does
 * (produce_block).  Then kula_clearing_solve alone on the obligations the
 * clearing took (read back from its record), its set-offs compared with the
 * record's.  Printed: per repetition and median / max, the added time
 * (with - without), the solver's share, and the peak RSS during the clearing
 * block (VmHWM, reset just before it).
 *
 * Usage: bench_clearing_block [--members M] [--obligations N] [--block K]
 *        [--interval I] [--repeat R] [--seed S] [--dir DIR] [--keep]
 * With --dir, the ledger in DIR/base is kept and reused by the next run with
 * the same options (the copy DIR/run is removed unless --keep). */
#include "bench_util.h"
#include "kula/ledger/clearing.h"

typedef struct opts {
    uint32_t members;
    size_t obligations, block;
    uint64_t interval, seed;
    unsigned repeat;
    const char *dir;
    bool keep;
} opts;

static void parse_args(opts *o, int argc, char **argv)
{
    *o = (opts){ .members = 10000, .obligations = 100000, .block = 10000, .interval = 1000,
                 .seed = 14, .repeat = 5 };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--keep") == 0) {
            o->keep = true;
            continue;
        }
        if (i + 1 >= argc)
            bu_die("%s needs a value (see the header of bench_clearing_block.c)", a);
        const char *v = argv[++i];
        unsigned long long n = strtoull(v, NULL, 10);
        if (strcmp(a, "--members") == 0)
            o->members = (uint32_t)n;
        else if (strcmp(a, "--obligations") == 0)
            o->obligations = (size_t)n;
        else if (strcmp(a, "--block") == 0)
            o->block = (size_t)n;
        else if (strcmp(a, "--interval") == 0)
            o->interval = n;
        else if (strcmp(a, "--repeat") == 0)
            o->repeat = (unsigned)n;
        else if (strcmp(a, "--seed") == 0)
            o->seed = n;
        else if (strcmp(a, "--dir") == 0)
            o->dir = v;
        else
            bu_die("unknown option %s (see the header of bench_clearing_block.c)", a);
    }
    if (o->members < 40 || o->obligations == 0 || o->block == 0 || o->repeat == 0)
        bu_die("need --members >= 40, --obligations, --block and --repeat >= 1");
    size_t blocks = 2 * ((o->obligations + o->block - 1) / o->block);
    if (o->interval < blocks + 3)
        bu_die("--interval %llu is too small: building takes %zu blocks, the interval must "
               "exceed it by 3", (unsigned long long)o->interval, blocks);
}

/* The plan: n invoices (issue, then accept), nonces counted per member. */
static bu_desc *plan_invoices(const opts *o, const bu_net *net, kula_hash *ids)
{
    size_t n = o->obligations;
    bu_desc *d = bu_xcalloc(2 * n, sizeof(*d));
    uint64_t *nonce = bu_xcalloc(o->members + 1, sizeof(*nonce));
    uint64_t s = o->seed;
    kula_buf body;
    kula_buf_init(&body);
    for (size_t i = 0; i < n; i++) {
        uint32_t issuer = 1 + bu_below(&s, o->members), debtor;
        if (bu_below(&s, 10) < 7) {
            do
                debtor = 1 + bu_below(&s, o->members);
            while (debtor == issuer);
        } else { /* a circle of 20: members 20c+1 .. 20c+20 */
            uint32_t base = (issuer - 1) / 20 * 20, size = o->members - base < 20
                                                           ? o->members - base : 20;
            if (size < 2)
                size = 2, base = o->members - 2;
            do
                debtor = base + 1 + bu_below(&s, size);
            while (debtor == issuer);
        }
        bu_desc *x = &d[i];
        x->kind = KULA_TX_INVOICE;
        x->from = issuer;
        x->to = debtor;
        x->a = 1 + (int64_t)bu_below(&s, 1000000);
        x->nonce = ++nonce[issuer];
        kula_tx tx;
        bu_fill_tx(&tx, x);
        if (kula_tx_seal(&tx, &body) != 0)
            bu_die("kula_tx_seal");
        ids[i] = tx.id;
    }
    for (size_t i = 0; i < n; i++) {
        bu_desc *x = &d[n + i];
        x->kind = KULA_TX_INVOICE_ACCEPT;
        x->from = d[i].to;
        x->invoice = &ids[i];
        x->nonce = ++nonce[x->from];
    }
    kula_buf_free(&body);
    free(nonce);
    (void)net;
    return d;
}

/* Seconds a block took: wall time of its build and its commit, CPU of both. */
typedef struct timing {
    double build, commit, cpu;
} timing;

static void empty_block(const bu_net *net, kula_chain *chain, timing *t)
{
    kula_buf block;
    kula_buf_init(&block);
    uint64_t h = kula_chain_height(chain) + 1;
    kula_hash hash;
    double c0 = bu_cpu_now(), t0 = bu_now();
    int rc = kula_chain_build_block(chain, bu_block_time(net, h), net->validator, NULL, 0,
                                    &block, &hash);
    double t1 = bu_now();
    if (rc == 0)
        rc = bu_commit_built(net, chain, &hash);
    double t2 = bu_now(), c2 = bu_cpu_now();
    if (rc != 0)
        bu_die("block %llu: %s", (unsigned long long)h, kula_strerror(rc));
    if (t != NULL)
        *t = (timing){ t1 - t0, t2 - t1, c2 - c0 };
    kula_buf_free(&block);
}

static void close_chain(kula_chain *chain, kula_store *store)
{
    kula_chain_free(chain);
    kula_store_close(store);
}

/* rm -r to, then cp -a from to (both ours, under the data directory), synced. */
static void copy_store(const char *from, const char *to)
{
    char cmd[4600];
    /* synced, so that the first block's fdatasync does not write the copy */
    snprintf(cmd, sizeof(cmd), "rm -rf -- '%s' && cp -a -- '%s' '%s' && sync -- '%s'/ledger/*",
             to, from, to, to);
    if (system(cmd) != 0)
        bu_die("%s failed", cmd);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double maxof(const double *v, unsigned n)
{
    double m = v[0];
    for (unsigned i = 1; i < n; i++)
        m = v[i] > m ? v[i] : m;
    return m;
}

/* The solver alone on clearing 1's obligations; checks its set-offs. */
static double solve_alone(kula_chain *chain, const opts *o, kula_clearing *c, double *cpu)
{
    kula_ledger *l = kula_chain_ledger(chain);
    uint64_t last;
    if (kula_ledger_clearings(l, &last) != 0 || last != 1)
        bu_die("the clearing block recorded no clearing");
    if (kula_ledger_clearing(l, 1, c) != 0)
        bu_die("cannot read clearing 1");
    if (c->nitems != o->obligations)
        bu_die("the clearing took %u obligations, not %zu", c->nitems, o->obligations);
    kula_obligation *obs = bu_xcalloc(c->nitems, sizeof(*obs));
    int64_t *setoff = bu_xcalloc(c->nitems, sizeof(*setoff));
    for (uint32_t i = 0; i < c->nitems; i++)
        obs[i] = (kula_obligation){ c->items[i].id, c->items[i].debtor, c->items[i].creditor,
                                    c->items[i].before };
    kula_clearing_totals t;
    double c0 = bu_cpu_now(), t0 = bu_now();
    if (kula_clearing_solve(setoff, &t, NULL, obs, c->nitems) != 0)
        bu_die("kula_clearing_solve");
    double el = bu_now() - t0;
    *cpu = bu_cpu_now() - c0;
    for (uint32_t i = 0; i < c->nitems; i++)
        if (setoff[i] != c->items[i].setoff)
            bu_die("the solver's set-off of obligation %u differs from the block's", i);
    if (t.cleared != c->cleared)
        bu_die("the solver's total differs from the block's");
    free(obs);
    free(setoff);
    return el;
}

static void u128_str(char *out, size_t cap, kula_clearing_sum v)
{
    char tmp[48];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v > 0);
    size_t k = 0;
    while (n > 0 && k + 1 < cap)
        out[k++] = tmp[--n];
    out[k] = '\0';
}

int main(int argc, char **argv)
{
    opts o;
    parse_args(&o, argc, argv);
    long ncpu = bu_start();

    bu_net net;
    bu_net_init(&net, o.members, INT64_C(1000000000), (uint32_t)o.block);
    net.g.params.clearing_interval = o.interval;
    bu_net_seal(&net);

    char dir[1024], base[1100], run[1100];
    if (o.dir != NULL) {
        snprintf(dir, sizeof(dir), "%s", o.dir);
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            bu_die("cannot create %s: %s", dir, strerror(errno));
    } else {
        snprintf(dir, sizeof(dir), "/tmp/kula-bench-clearing-block-XXXXXX");
        if (mkdtemp(dir) == NULL)
            bu_die("mkdtemp: %s", strerror(errno));
    }
    snprintf(base, sizeof(base), "%s/base", dir);
    snprintf(run, sizeof(run), "%s/run", dir);
    printf("clearing in a block: %zu obligations among %u members, interval %llu, "
           "data directory %s, %ld CPUs\n",
           o.obligations, o.members, (unsigned long long)o.interval, dir, ncpu);

    /* ---- the ledger before the clearing: reuse or build ---- */
    if (mkdir(base, 0700) != 0 && errno != EEXIST)
        bu_die("cannot create %s: %s", base, strerror(errno));
    kula_store *store;
    kula_chain *chain;
    bu_open_chain(&net, base, &store, &chain); /* refuses another network's store */
    uint64_t ready = o.interval - 2;
    if (kula_chain_height(chain) == ready) {
        printf("  reusing the ledger in %s (height %llu)\n", base, (unsigned long long)ready);
    } else if (kula_chain_height(chain) != 0) {
        bu_die("%s holds a ledger of height %llu: remove it or use another --dir", base,
               (unsigned long long)kula_chain_height(chain));
    } else {
        double t0 = bu_now();
        kula_hash *ids = bu_xcalloc(o.obligations, sizeof(*ids));
        bu_desc *plan = plan_invoices(&o, &net, ids);
        bu_txset ts;
        bu_sign_all(&net, plan, 2 * o.obligations, (unsigned)(ncpu > 0 ? ncpu : 1), &ts);
        printf("  signed %zu transactions in %.1f s\n", ts.n, bu_now() - t0);
        free(plan);
        free(ids);
        t0 = bu_now();
        bu_build_blocks(&net, chain, &ts, o.block);
        bu_txset_free(&ts);
        while (kula_chain_height(chain) < ready)
            empty_block(&net, chain, NULL);
        uint64_t n;
        if (kula_ledger_clearings(kula_chain_ledger(chain), &n) != 0 || n != 0)
            bu_die("a clearing ran while the ledger was built");
        printf("  built and committed %llu blocks in %.1f s\n",
               (unsigned long long)kula_chain_height(chain), bu_now() - t0);
    }
    close_chain(chain, store);

    /* ---- timed: without, then with the clearing, on a fresh copy each time ---- */
    enum { ADDED, ADDED_CPU, SOLVE, SOLVE_CPU, WITH, WITHOUT, NFIG };
    double *fig[NFIG];
    for (int f = 0; f < NFIG; f++)
        fig[f] = bu_xcalloc(o.repeat, sizeof(double));
    long hwm_kib = 0, before_kib = 0;
    kula_clearing c = { 0 };
    for (unsigned r = 0; r < o.repeat; r++) {
        copy_store(base, run);
        bu_open_chain(&net, run, &store, &chain);
        if (kula_chain_height(chain) != ready)
            bu_die("the copy in %s is at height %llu", run,
                   (unsigned long long)kula_chain_height(chain));
        timing t0, t1;
        empty_block(&net, chain, &t0);
        long rss = bu_proc_kib("/proc/self/status", "VmRSS");
        bu_reset_peak_rss();
        empty_block(&net, chain, &t1);
        long hwm = bu_proc_kib("/proc/self/status", "VmHWM");
        if (hwm - rss > hwm_kib - before_kib) {
            hwm_kib = hwm;
            before_kib = rss;
        }
        kula_clearing_free(&c);
        memset(&c, 0, sizeof(c));
        fig[SOLVE][r] = solve_alone(chain, &o, &c, &fig[SOLVE_CPU][r]);
        fig[WITHOUT][r] = t0.build + t0.commit;
        fig[WITH][r] = t1.build + t1.commit;
        fig[ADDED][r] = fig[WITH][r] - fig[WITHOUT][r];
        fig[ADDED_CPU][r] = t1.cpu - t0.cpu;
        printf("  run %u: without clearing %.3f s (build %.3f, commit %.3f; CPU %.3f); with "
               "%.3f s (build %.3f, commit %.3f; CPU %.3f); added %.3f s (CPU %.3f); solver "
               "alone %.3f s (CPU %.3f)\n",
               r + 1, fig[WITHOUT][r], t0.build, t0.commit, t0.cpu, fig[WITH][r], t1.build,
               t1.commit, t1.cpu, fig[ADDED][r], fig[ADDED_CPU][r], fig[SOLVE][r],
               fig[SOLVE_CPU][r]);
        close_chain(chain, store);
    }
    char total[48], cleared[48];
    u128_str(total, sizeof(total), c.total_debt);
    u128_str(cleared, sizeof(cleared), c.cleared);
    uint32_t with_setoff = 0;
    for (uint32_t i = 0; i < c.nitems; i++)
        with_setoff += c.items[i].setoff > 0;
    printf("clearing: %u obligations (%u with a set-off), total debt %s, cleared %s (minor "
           "units)\n",
           c.nitems, with_setoff, total, cleared);
    unsigned n = o.repeat;
    double add_max = maxof(fig[ADDED], n);
    printf("block commit: without clearing median %.3f s; with clearing median %.3f s, "
           "max %.3f s\n",
           median(fig[WITHOUT], n), median(fig[WITH], n), maxof(fig[WITH], n));
    printf("added by the clearing: median %.3f s, max %.3f s (CPU median %.3f s, max %.3f s); "
           "the solver's share: median %.3f s, max %.3f s (CPU median %.3f s) (%u runs)\n",
           median(fig[ADDED], n), add_max, median(fig[ADDED_CPU], n), maxof(fig[ADDED_CPU], n),
           median(fig[SOLVE], n), maxof(fig[SOLVE], n), median(fig[SOLVE_CPU], n), n);
    printf("memory: peak RSS during the clearing block %.1f MiB (VmHWM; %.1f MiB before it, "
           "the LMDB map's pages included)\n",
           bu_mib(hwm_kib), bu_mib(before_kib));
    printf("target: added < 1 s: %s\n", add_max < 1.0 ? "met" : "MISSED");
    kula_clearing_free(&c);
    for (int f = 0; f < NFIG; f++)
        free(fig[f]);
    bu_net_free(&net);
    if (o.keep)
        ;
    else if (o.dir == NULL)
        bu_rmtree(dir);
    else
        bu_rmtree(run); /* a --dir keeps its base ledger for the next run */
    return 0;
}
