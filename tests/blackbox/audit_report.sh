#!/usr/bin/env bash
# audit_report.sh -- kula audit's signed report against a real kulad's
# ledger: --sign writes a report that kula audit verify accepts, naming the
# auditor and the chain; every single flipped byte of it makes verification
# fail; --genesis with the network's own genesis passes and with another
# network's fails with a message naming both.
#
# Usage: bash audit_report.sh PATH/TO/kulad PATH/TO/kula
set -euo pipefail
TEST=audit_report
# shellcheck source=single_node.bash
. "$(dirname "${BASH_SOURCE[0]}")/single_node.bash" "$@"
export KULA_PASSPHRASE="audit report passphrase"

start_node
k_ok kdev keys import dev --dev "$GENESIS"
k_ok kaud keys new --kdf-opslimit 1 --kdf-memlimit-mib 1 auditor
AUDPK=$(sed -n 's/^public key \([0-9a-f]\{64\}\)$/\1/p' "$TMP/kaud.out")
k_ok kal keys new --kdf-opslimit 1 --kdf-memlimit-mib 1 alice
k_ok padm propose --key dev admit --pubkey alice --name alice --sector food
k_ok pay pay --key dev --to alice 12.50 --memo "for the audit"
stop_node
ok "a ledger with an admission and a payment"

k_ok rep audit "$D" --sign auditor --output "$TMP/report.json"
grep -q "^audit OK" "$TMP/rep.out" || fail "kula audit --sign --output printed no result" "$TMP/rep.out"
k_ok st audit "$D" --json
python3 - "$TMP/report.json" "$TMP/st.out" "$AUDPK" <<'PY' || fail "the report does not say what the audit found" "$TMP/report.json"
import json, sys
raw = open(sys.argv[1], "rb").read()
r, a = json.loads(raw), json.loads(open(sys.argv[2]).read())
assert raw.endswith(b"\n"), "no final LF"
assert raw[:-1] == json.dumps(r, sort_keys=True, separators=(",", ":")).encode(), "not canonical"
assert r["format"] == "kula/audit-report/1" and r["ok"] is True and r["failure"] is None
assert r["chain_id"] == a["chain_id"] and r["tip_hash"] == a["tip_hash"]
assert r["state_root"] == a["state_root"] and r["tip_height"] == a["height"]
assert r["transactions"] == a["transactions"] == 2 and r["auditor"] == sys.argv[3]
assert len(r["signature"]) == 128
PY
ok "kula audit --sign: a canonical report of the chain, tip, state root and auditor"

k_ok ver audit verify "$TMP/report.json"
grep -q "^signature good: auditor $AUDPK" "$TMP/ver.out" || fail "verify does not name the auditor" "$TMP/ver.out"
grep -q "audit        OK: blocks 1-" "$TMP/ver.out" || fail "verify does not say what was audited" "$TMP/ver.out"
ok "kula audit verify: signature good, auditor and result named"

# every byte flipped in turn (one bit): verification must fail each time
LEN=$(stat -c %s "$TMP/report.json")
python3 - "$TMP/report.json" "$TMP/flipped.json" "$KULA" <<'PY' || fail "a flipped byte passed verification"
import subprocess, sys
raw = open(sys.argv[1], "rb").read()
for i in range(len(raw)):
    b = bytearray(raw)
    b[i] ^= 0x01
    open(sys.argv[2], "wb").write(b)
    p = subprocess.run([sys.argv[3], "audit", "verify", sys.argv[2]], capture_output=True,
                       timeout=20)
    assert p.returncode == 1, "byte %d flipped: exit %d" % (i, p.returncode)
    assert p.stderr.startswith(b"kula: "), p.stderr
PY
k bad audit verify "$TMP/flipped.json"
ok "each of the $LEN bytes flipped makes verify fail (last: $(cat "$TMP/bad.err"))"

# --genesis: the network's own passes, another network's fails
k_ok g1 audit "$D" --genesis "$GENESIS" --quiet
k_ok gn genesis new --network other-net --out "$TMP/other" --member shop --kdf-opslimit 1 \
    --kdf-memlimit-mib 1
k g2 audit "$D" --genesis "$TMP/other/GENESIS.json"
[ "$CODE" -eq 1 ] || fail "--genesis of another network: exit $CODE" "$TMP/g2.out" "$TMP/g2.err"
grep -q "not of the network of .*network 'kula-devnet'.*network 'other-net'" "$TMP/g2.err" ||
    fail "--genesis of another network: no clear message" "$TMP/g2.err"
[ ! -s "$TMP/g2.out" ] || fail "an audit ran on another network's ledger" "$TMP/g2.out"
ok "--genesis: its own genesis passes, another's is refused: $(cat "$TMP/g2.err")"
echo "$TEST: $passed passed, 0 failed"
