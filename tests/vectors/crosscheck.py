#!/usr/bin/python3
"""crosscheck.py -- the vectors' canonical bytes against an independent msgpack.

Every valid vector's "hex" (and "body_hex") in proto/vectors/*.json is
unpacked with Debian's python3-msgpack and packed again; the result must be
the original bytes exactly.  msgpack-python always packs in the smallest
form, bytes as bin and text as str, which is what Kula's canonical encoding
requires (proto/SPEC.md section 2), so any difference is a vector that is not
canonical -- or a disagreement between the two implementations.

    /usr/bin/python3 tests/vectors/crosscheck.py [VECTOR-DIR]

Run it with /usr/bin/python3: a python3 found first on PATH (pyenv, venv)
may not have msgpack.  Exit status: 0 if N > 0 encodings were checked and
all matched, 1 otherwise, 2 if msgpack is missing.
"""
import glob
import json
import os
import sys

try:
    import msgpack
except ImportError:
    print("crosscheck: python3-msgpack is not installed (apt-get install python3-msgpack)",
          file=sys.stderr)
    sys.exit(2)


def check(data):
    """Returns None if data round-trips exactly, else a description."""
    try:
        obj = msgpack.unpackb(data, raw=False, strict_map_key=True, use_list=True)
    except Exception as e:  # any unpack error is a failure of the vector
        return "does not unpack: %s" % e
    again = msgpack.packb(obj, use_bin_type=True)
    if again != data:
        return "repacks as %s" % again.hex()
    return None


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    vdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "proto",
                                                               "vectors")
    passed = failed = 0
    for path in sorted(glob.glob(os.path.join(vdir, "*.json"))):
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        if not isinstance(doc, dict) or "structure" not in doc:
            continue  # not a protocol structure file (e.g. keystore.json)
        for vec in doc.get("valid", []):
            for key in ("hex", "body_hex"):
                if key not in vec:
                    continue
                why = check(bytes.fromhex(vec[key]))
                if why is None:
                    passed += 1
                else:
                    failed += 1
                    print("crosscheck: FAIL %s %s %s: %s" % (os.path.basename(path),
                                                           vec.get("name"), key, why))
    print("crosscheck: %d passed, %d failed" % (passed, failed))
    return 0 if passed > 0 and failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
