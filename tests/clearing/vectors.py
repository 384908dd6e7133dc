#!/usr/bin/python3
"""vectors.py -- the clearing vectors (proto/vectors/clearing/, SPEC §14.6):
for each NAME.in.csv, kula clearing solve and reference.py (the spec's
algorithm written again) must both give NAME.out.csv byte for byte, and the
set-offs must reach networkx's optimum.

Usage: vectors.py KULA DIR"""
import os
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import networks  # noqa: E402
import reference  # noqa: E402


def read_obligations(path):
    """Returns: [(id as an integer, debtor, creditor, amount)], [id as written]."""
    with open(path) as f:
        lines = f.read().splitlines()
    assert lines[0] == networks.HEADER.strip()
    obs, written = [], []
    for line in lines[1:]:
        i, d, c, a = line.split(",")
        obs.append((int(i, 16) if len(i) == 64 else int(i), int(d), int(c), int(a)))
        written.append(i.lower())
    return obs, written


def main():
    kula, folder = sys.argv[1], sys.argv[2]
    names = sorted(f[: -len(".in.csv")] for f in os.listdir(folder) if f.endswith(".in.csv"))
    failed = 0
    with tempfile.TemporaryDirectory() as work:
        for name in names:
            src = os.path.join(folder, name + ".in.csv")
            with open(os.path.join(folder, name + ".out.csv"), "rb") as f:
                want = f.read()
            out = os.path.join(work, name + ".out.csv")
            p = subprocess.run([kula, "clearing", "solve", src, "--out", out],
                               capture_output=True, text=True, timeout=120)
            problems = []
            if p.returncode != 0:
                problems.append(f"kula exited {p.returncode}: {p.stderr.strip()}")
            else:
                with open(out, "rb") as f:
                    if f.read() != want:
                        problems.append("kula's set-offs differ from the vector")
            obs, written = read_obligations(src)
            ref = reference.solve(obs)
            text = "id,amount\n" + "".join(f"{i},{s}\n" for i, s in zip(written, ref))
            if text.encode() != want:
                problems.append("reference.py's set-offs differ from the vector")
            remaining = sum(o[3] for o in obs) - sum(ref)
            if obs and remaining != networks.networkx_remaining(obs):
                problems.append("the set-offs do not reach networkx's optimum")
            print(f"{name}: {'; '.join(problems) if problems else 'ok'}")
            failed += bool(problems)
    if not names:
        print(f"no vectors in {folder}")
        sys.exit(1)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
