/* bench_clearing.c -- the clearing solver (proto/SPEC.md §14) on a CSV of
 * obligations: the time to read it and to clear it, the CPU time and the
 * peak memory of the process (VmHWM).  tests/bench/bench_clearing.py generates the
 * inputs and runs networkx on the same ones; see tests/bench/README.md.
 *
 *   bench_clearing FILE.csv [--repeat N]
 *
 * Prints one line of key=value pairs; exit status 1 if the file is refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kula/audit/analytics.h" /* kula_sum_format */
#include "kula/audit/clearing_csv.h"
#include "kula/ledger/clearing.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The process's peak resident memory in MiB (VmHWM: unlike getrusage's
 * ru_maxrss, it starts afresh at exec, so a large parent does not count). */
static double peak_mib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kib = -1;
    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "VmHWM:", 6) == 0)
            kib = atof(line + 6);
    if (f != NULL)
        fclose(f);
    return kib / 1024.0;
}

static double cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fprintf(argc < 2 ? stderr : stdout,
                "Usage: bench_clearing FILE.csv [--repeat N]\n"
                "Clears the obligations of FILE.csv (id,debtor,creditor,amount) N times\n"
                "(default 3) and prints the read time, the best solve time (wall and CPU),\n"
                "the peak memory and the totals.\n");
        return argc < 2 ? 3 : 0;
    }
    int repeat = 3;
    if (argc == 4 && strcmp(argv[2], "--repeat") == 0)
        repeat = atoi(argv[3]);
    if (repeat < 1 || (argc != 2 && argc != 4)) {
        fprintf(stderr, "bench_clearing: expected FILE.csv [--repeat N] with N >= 1\n");
        return 3;
    }
    double t0 = now_s();
    FILE *f = fopen(argv[1], "rb");
    if (f == NULL) {
        perror(argv[1]);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = size >= 0 ? malloc((size_t)size + 1) : NULL;
    if (buf == NULL || fread(buf, 1, (size_t)size, f) != (size_t)size) {
        fprintf(stderr, "%s: cannot be read\n", argv[1]);
        return 1;
    }
    fclose(f);
    kula_clearing_csv in;
    kula_error e = { 0 };
    if (kula_clearing_csv_read(&in, &e, buf, (size_t)size) != KULA_OK) {
        fprintf(stderr, "%s: %s\n", argv[1], e.what);
        return 1;
    }
    free(buf);
    double read_s = now_s() - t0;
    int64_t *setoff = malloc((in.n + 1) * sizeof(*setoff));
    kula_clearing_totals t;
    double best = 1e30, best_cpu = 1e30;
    for (int i = 0; i < repeat; i++) {
        double w0 = now_s(), c0 = cpu_s();
        if (setoff == NULL || kula_clearing_solve(setoff, &t, &e, in.obs, in.n) != KULA_OK) {
            fprintf(stderr, "%s: %s\n", argv[1], setoff == NULL ? "out of memory" : e.what);
            return 1;
        }
        double w = now_s() - w0, c = cpu_s() - c0;
        best = w < best ? w : best;
        best_cpu = c < best_cpu ? c : best_cpu;
    }
    char total[64], nid[64], cleared[64], remaining[64];
    kula_sum_format(total, sizeof(total), t.total_debt, 0);
    kula_sum_format(nid, sizeof(nid), t.net_internal_debt, 0);
    kula_sum_format(cleared, sizeof(cleared), t.cleared, 0);
    kula_sum_format(remaining, sizeof(remaining), t.remaining, 0);
    printf("obligations=%zu firms=%u read_s=%.3f solve_s=%.3f solve_cpu_s=%.3f "
           "peak_rss_mib=%.1f phases=%u total_debt=%s net_internal_debt=%s cleared=%s "
           "remaining=%s\n",
           t.obligations, t.firms, read_s, best, best_cpu, peak_mib(),
           t.phases, total, nid, cleared, remaining);
    free(setoff);
    kula_clearing_csv_free(&in);
    return 0;
}
