#!/usr/bin/env python3
"""crosscheck_report.py -- the signed audit report vector recomputed from
proto/SPEC.md section 13 with the Python standard library alone: each file
is the canonical form of its document and a LF, and the digest is
BLAKE2b-256("kula/audit/v1" NUL-padded || chain id || canonical document
without the signature).  (BIP-340 itself is checked by the C test suite.)

Usage: crosscheck_report.py proto/vectors/audit_report.json"""
import hashlib
import json
import re
import sys


def canonical(d):
    s = json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return re.sub(r"\\u([0-9a-f]{4})", lambda m: "\\u" + m.group(1).upper(), s)


def main():
    v = json.load(open(sys.argv[1], encoding="utf-8"))
    passed = failed = 0
    for x in v["valid"]:
        d = json.loads(x["file"])
        ok = x["file"] == canonical(d) + "\n"
        chain = bytes.fromhex(d["chain_id"])
        del d["signature"]
        doc = canonical(d)
        ok = ok and doc == x["unsigned_document"]
        tag = b"kula/audit/v1".ljust(16, b"\0")
        digest = hashlib.blake2b(tag + chain + doc.encode(), digest_size=32).hexdigest()
        ok = ok and digest == x["digest"]
        print(("ok " if ok else "FAIL ") + x["name"])
        passed, failed = passed + ok, failed + (not ok)
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed or not passed else 0)


main()
