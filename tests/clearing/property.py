#!/usr/bin/python3
"""property.py -- kula clearing solve on many seeded random networks
(cycles, hubs, long chains, parallel obligations, amounts up to 2^62),
each checked against the properties of proto/SPEC.md §14:

  - every set-off is within [0, amount];
  - every firm's net position is unchanged;
  - the total cleared equals networkx's optimum (min_cost_flow_cost), an
    independent solver;
  - the summary's totals add up;
  - the same obligations in another order give the same set-off for each
    obligation, byte for byte, and so do two runs;
  - the set-offs are those of reference.py, the spec's algorithm written
    again from the spec alone.

Usage: property.py KULA [SEEDS [FIRST]]   (default 250 seeds from 1)"""
import json
import os
import random
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import networks  # noqa: E402
import reference  # noqa: E402


def solve(kula, obs, work, tag):
    """Runs kula clearing solve on obs.  Returns: ({id: set-off}, summary, out bytes)."""
    src = os.path.join(work, f"in-{tag}.csv")
    dst = os.path.join(work, f"out-{tag}.csv")
    networks.write_csv(src, obs)
    p = subprocess.run([kula, "--json", "clearing", "solve", src, "--out", dst],
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise AssertionError(f"kula exited {p.returncode}: {p.stderr.strip()}")
    summary = json.loads(p.stdout)
    with open(dst, "rb") as f:
        data = f.read()
    lines = data.decode().splitlines()
    assert lines[0] == "id,amount", lines[0]
    setoff = {}
    for line in lines[1:]:
        i, a = line.split(",")
        setoff[int(i)] = int(a)
    assert [int(line.split(",")[0]) for line in lines[1:]] == [o[0] for o in obs], \
        "the output is not in the input's order"
    return setoff, summary, data


def check(kula, seed, work):
    shape, obs = networks.network(seed)
    setoff, summary, _ = solve(kula, obs, work, "a")
    amounts = [o[3] for o in obs]
    offs = [setoff[o[0]] for o in obs]
    for o, s in zip(obs, offs):
        assert 0 <= s <= o[3], f"obligation {o[0]}: set-off {s} outside [0, {o[3]}]"
    before = networks.net_positions(obs, amounts)
    after = networks.net_positions(obs, [a - s for a, s in zip(amounts, offs)])
    assert before == after, "a net position changed"
    total = sum(amounts)
    cleared = sum(offs)
    optimum = total - networks.networkx_remaining(obs)
    assert cleared == optimum, f"cleared {cleared}, networkx's optimum {optimum}"
    nid = sum(v for v in before.values() if v > 0)
    want = {"firms": len(before), "obligations": len(obs), "total_debt": str(total),
            "net_internal_debt": str(nid), "cleared": str(cleared),
            "remaining": str(total - cleared)}
    got = {k: summary[k] for k in want}
    assert got == want, f"summary {got}, expected {want}"
    # Another order of the same obligations, run again: the same set-offs.
    shuffled = obs[:]
    random.Random(seed).shuffle(shuffled)
    again, _, _ = solve(kula, shuffled, work, "b")
    assert again == setoff, "a second run, in another input order, gave other set-offs"
    ref = reference.solve(obs)
    assert ref == offs, "the set-offs differ from reference.py's (the spec's algorithm)"
    return shape, total, cleared


def main():
    kula = sys.argv[1]
    seeds = int(sys.argv[2]) if len(sys.argv) > 2 else 250
    first = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    failed = 0
    shapes = {}
    with tempfile.TemporaryDirectory() as work:
        for seed in range(first, first + seeds):
            try:
                shape, total, cleared = check(kula, seed, work)
                n, t, c = shapes.get(shape, (0, 0, 0))
                shapes[shape] = (n + 1, t + total, c + cleared)
            except AssertionError as e:
                failed += 1
                print(f"seed {seed} ({networks.network(seed)[0]}): {e}")
    for shape, (n, t, c) in sorted(shapes.items()):
        print(f"{shape:9} {n:4} networks passed, {c * 100 // max(t, 1)}% of their debt cleared")
    if failed:
        print(f"{failed} of {seeds} networks failed (rerun one: property.py KULA 1 SEED)")
        sys.exit(1)
    print(f"all {seeds} networks: set-offs within bounds, net positions unchanged, "
          f"networkx's optimum reached, the same set-offs in any order and in reference.py")


if __name__ == "__main__":
    main()
