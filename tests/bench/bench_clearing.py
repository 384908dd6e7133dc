#!/usr/bin/python3
"""bench_clearing.py -- the clearing solver against networkx on the same
inputs, in the same run (tests/bench/README.md, "Clearing").

For each size (100,000 obligations among 10,000 firms; 1,000,000 among
50,000; seeded, tests/clearing/networks.py large()), writes the CSV, runs
bench_clearing on it (kula's solver: best of 3) and networkx's
min_cost_flow_cost on it in a child process bounded by --timeout, and prints
the time, the peak memory and the ratio of the times; networkx's optimum
must equal kula's remaining debt.

Usage: bench_clearing.py BENCH_CLEARING [--timeout S] [--only 100k|1m] [--keep DIR]"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clearing"))
import networks  # noqa: E402

SIZES = {"100k": (100000, 10000, 100), "1m": (1000000, 50000, 1000)}


def peak_mib():
    """This process's peak resident memory (VmHWM, counted from its exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return -1.0


def networkx_child(path):
    """Runs in the child: reads path, solves with networkx, prints key=value."""
    obs = []
    with open(path) as f:
        next(f)
        for line in f:
            i, d, c, a = line.split(",")
            obs.append((int(i), int(d), int(c), int(a)))
    t0 = time.monotonic()
    remaining = networks.networkx_remaining(obs)
    solve_s = time.monotonic() - t0
    peak = peak_mib()
    print(f"solve_s={solve_s:.3f} peak_rss_mib={peak:.1f} remaining={remaining}")


def fields(line):
    return dict(kv.split("=", 1) for kv in line.split())


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--networkx-child":
        networkx_child(sys.argv[2])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("bench", help="the bench_clearing binary (build/tests/bench_clearing)")
    ap.add_argument("--timeout", type=float, default=1200,
                    help="seconds networkx may take on one input (default 1200)")
    ap.add_argument("--only", choices=sorted(SIZES), help="one size only")
    ap.add_argument("--keep", help="write the inputs into this folder and keep them")
    args = ap.parse_args()
    work = args.keep or tempfile.mkdtemp(prefix="kula-clearing-bench-")
    os.makedirs(work, exist_ok=True)
    bad = False
    for name, (m, n, seed) in SIZES.items():
        if args.only and name != args.only:
            continue
        path = os.path.join(work, f"clearing-{name}.csv")
        networks.write_csv(path, networks.large(m, n, seed))
        k = fields(subprocess.run([args.bench, path], capture_output=True, text=True,
                                  check=True).stdout)
        print(f"{name}: {m} obligations among {n} firms (seed {seed}): total debt "
              f"{k['total_debt']}, cleared {k['cleared']}, remaining {k['remaining']} "
              f"(net internal debt {k['net_internal_debt']}), {k['phases']} phases")
        print(f"  kula     solve {float(k['solve_s']):8.3f} s (CPU {k['solve_cpu_s']} s), "
              f"read {k['read_s']} s, peak {k['peak_rss_mib']} MiB")
        try:
            p = subprocess.run([sys.executable, os.path.abspath(__file__), "--networkx-child",
                                path], capture_output=True, text=True, timeout=args.timeout,
                               check=True)
            x = fields(p.stdout)
            ratio = float(x["solve_s"]) / max(float(k["solve_s"]), 1e-9)
            print(f"  networkx solve {float(x['solve_s']):8.3f} s, peak "
                  f"{x['peak_rss_mib']} MiB (with its input)")
            print(f"  kula is {ratio:.0f} x faster than networkx")
            if x["remaining"] != k["remaining"]:
                print(f"  MISMATCH: networkx's least remaining debt is {x['remaining']}")
                bad = True
        except subprocess.TimeoutExpired:
            print(f"  networkx did not finish within {args.timeout:.0f} s (stopped): kula is "
                  f"more than {args.timeout / max(float(k['solve_s']), 1e-9):.0f} x faster")
        if not args.keep:
            os.remove(path)
    if not args.keep:
        os.rmdir(work)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
