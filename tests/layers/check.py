#!/usr/bin/python3
"""check.py -- the layers of node/ are real: no file reaches a layer above
its own, by an #include or by a call.

    /usr/bin/python3 tests/layers/check.py REPO [BUILD-DIR]

The order of the layers is the one line of tests/layers/ORDER.  Checked:
  1. every node/LAYER/*.[ch] and include/kula/LAYER/*.h includes only
     headers of its layer or of a layer below ("kula/LAYER/x.h");
  2. with BUILD-DIR: every kula_ symbol an object file of a layer uses is
     defined in an object file of that layer or of one below (nm);
  3. README.md's layer table lists exactly the files of each folder.
Exit status 0 when all hold; otherwise one line per violation, and 1.
"""
import glob
import os
import re
import subprocess
import sys


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__.strip().splitlines()[3].strip(), file=sys.stderr)
        return 2
    repo = sys.argv[1]
    build = sys.argv[2] if len(sys.argv) == 3 else None
    order = open(os.path.join(repo, "tests/layers/ORDER")).read().split()
    rank = {l: i for i, l in enumerate(order)}
    bad = []
    checked = 0
    inc = re.compile(r'^\s*#\s*include\s+"kula/([a-z_]+)/([a-z_]+\.h)"', re.M)
    for layer in order:
        files = glob.glob(os.path.join(repo, "node", layer, "*.[ch]")) + \
            glob.glob(os.path.join(repo, "include/kula", layer, "*.h"))
        for f in sorted(files):
            text = open(f).read()
            for m in inc.finditer(text):
                checked += 1
                other = m.group(1)
                if other not in rank:
                    bad.append("%s: includes kula/%s/%s, a folder that is no layer"
                               % (os.path.relpath(f, repo), other, m.group(2)))
                elif rank[other] > rank[layer]:
                    bad.append("%s (layer %s) includes kula/%s/%s, of the layer %s above it"
                               % (os.path.relpath(f, repo), layer, other, m.group(2), other))
    for f in glob.glob(os.path.join(repo, "node", "*")):
        if os.path.isfile(f):
            bad.append("%s: a source outside every layer's folder" % os.path.relpath(f, repo))
    if build is not None:
        defined, uses = {}, []
        for layer in order:
            objs = glob.glob(os.path.join(build, "CMakeFiles", "kula_%s.dir" % layer, "**", "*.o"),
                             recursive=True)
            if not objs:
                bad.append("no object files of the layer %s under %s" % (layer, build))
            for o in objs:
                out = subprocess.run(["nm", "-P", o], capture_output=True, text=True).stdout
                for line in out.splitlines():
                    parts = line.split()
                    if len(parts) < 2 or not parts[0].startswith("kula_"):
                        continue
                    if parts[1] == "U":
                        uses.append((layer, os.path.basename(o), parts[0]))
                    elif parts[1] in "TDBRC":
                        defined[parts[0]] = layer
        for layer, obj, sym in uses:
            checked += 1
            if sym in defined and rank[defined[sym]] > rank[layer]:
                bad.append("%s (layer %s) calls %s of the layer %s above it"
                           % (obj, layer, sym, defined[sym]))
    readme = open(os.path.join(repo, "README.md")).read()
    for layer in order:
        row = re.search(r"^\| %s \| ([^|]*) \|" % re.escape(layer), readme, re.M)
        files = sorted(os.path.basename(f) for f in glob.glob(os.path.join(repo, "node", layer, "*.c")))
        listed = sorted(re.findall(r"`([a-z0-9_]+\.c)`", row.group(1))) if row else None
        if listed != files:
            bad.append("README.md's layer table, row %s: lists %s, the folder holds %s"
                       % (layer, listed, files))
    for b in bad:
        print("layers: " + b)
    print("layers: %d layers, %d includes and calls checked, %d violations"
          % (len(order), checked, len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
