#!/usr/bin/env bash
# node_audit.sh -- a running kulad audits its own chain (JSON-RPC audit,
# audit_status) on a worker thread while its loop keeps answering: on a
# ledger of TXS signed transactions built by bench_replay (large enough
# that the audit takes seconds), GET /health and the method status must
# each be answered within 1 s all through the audit; a second start while it
# runs answers with its progress; the result's tip hash and state root are
# those of `kula audit DATADIR` on the same chain; and a SIGTERM during an
# audit stops the node cleanly (exit 0) within 10 s.
#
# Usage: node_audit.sh PATH/TO/kulad PATH/TO/kula [PATH/TO/bench_replay [TXS]]
#   bench_replay: by default the build's (tests/bench_replay beside kulad).
set -euo pipefail
TEST=node_audit
KULAD=$(realpath "$1")
KULA=$(realpath "$2")
BENCH=$(realpath "${3:-$(dirname "$KULAD")/tests/bench_replay}")
TXS=${4:-40000}
. "$(dirname "$0")/single_node.bash"

timeout 600 "$BENCH" --txs "$TXS" --block 500 --dir "$TMP/a" --keep >"$TMP/bench.log" 2>&1 ||
    fail "bench_replay could not build the ledger" "$TMP/bench.log"
D=$TMP/a
GENESIS=$TMP/a/GENESIS.json
start_node
H=$(height)
[ "$H" -ge 2 ] || fail "the node is at height $H, not the ledger's"
ok "kulad serves bench_replay's ledger of $TXS transactions ($H blocks)"

# kula audit DATADIR beside the running node (a process of its own); the
# node makes no blocks (its validator's key is not here), so the tip stays.
k_ok offline audit "$D" --json
ok "kula audit DATADIR: $(jv offline.out 'd["tip_hash"][:16]') at height $(jv offline.out 'd["height"]')"

/usr/bin/python3 - "$D/rpc.cookie" "$TMP/offline.out" "$H" <<'PY' || fail "the node's audit" "$TMP/kulad.log"
import json, sys, time, urllib.request

cookie = dict(l.strip().split("=", 1) for l in open(sys.argv[1]) if "=" in l)
url, token = cookie["url"], cookie["token"]
want = json.load(open(sys.argv[2]))
tip = int(sys.argv[3])

def rpc(method):
    req = urllib.request.Request(url, data=json.dumps(
        {"jsonrpc": "2.0", "id": 1, "method": method}).encode(),
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        j = json.load(r)
    if "error" in j:
        raise SystemExit(f"{method}: {j['error']}")
    return j["result"]

def timed(f):
    t = time.monotonic()
    f()
    return time.monotonic() - t

def health():
    # answered, whatever it says (503 here: the node has no peer)
    try:
        with urllib.request.urlopen(url + "health", timeout=10) as r:
            r.read()
    except urllib.error.HTTPError as e:
        e.read()

def check(cond, msg):
    if not cond:
        raise SystemExit(msg)

# without the token: refused
try:
    urllib.request.urlopen(urllib.request.Request(url, data=b'{"jsonrpc":"2.0","id":1,"method":"audit"}',
                                                  headers={"Content-Type": "application/json"}), timeout=10)
    raise SystemExit("audit answered without the token")
except urllib.error.HTTPError as e:
    check(e.code == 401, f"audit without the token: HTTP {e.code}, not 401")
print("ok - audit without the token: 401")

st = rpc("audit")
check(st["started"] is True and st["state"] == "running", f"audit: {str(st)[:300]}")
check(st["of"] == tip, f"the audit stops at {st['of']}, not the node's tip {tip}")
worst, answers, seconds_running, second = 0.0, 0, 0.0, None
t0 = time.monotonic()
while True:
    worst = max(worst, timed(health), timed(lambda: rpc("status")))
    answers += 1
    st = rpc("audit_status")
    if st["state"] != "running":
        break
    seconds_running = time.monotonic() - t0
    if second is None and st["height"] > 0:
        second = rpc("audit")
    check(seconds_running < 300, "the audit took more than 300 s")
    time.sleep(0.1)
check(st["state"] == "done", f"audit_status: {st['state']}")
check(second is not None and second["started"] is False and second["state"] == "running",
      f"a second start while one ran: {str(second)[:300]}")
print(f"ok - a second start while it ran answered with its progress "
      f"({second['height']} of {second['of']} blocks)")
check(seconds_running >= 1.0,
      f"the audit took {seconds_running:.2f} s: too little to show the loop answering; use more TXS")
check(worst < 1.0, f"the loop took {worst:.2f} s to answer /health or status during the audit")
print(f"ok - during the {seconds_running:.1f} s audit, /health and status answered {answers} times each, "
      f"the slowest in {worst * 1000:.0f} ms")
r = st["result"]
check(r["ok"] is True, f"the node's audit failed: {r['failure']}")
for k in ("tip_hash", "state_root", "blocks", "transactions", "tx_signatures", "commit_signatures"):
    check(r[k] == want[k], f"{k}: the node's audit says {r[k]}, kula audit DATADIR {want[k]}")
check(r["tip_height"] == want["height"], f"tip_height {r['tip_height']} vs {want['height']}")
print(f"ok - the node's audit reached kula audit's tip hash and state root at height {r['tip_height']}")
f = st["figures"]
check(f and f["transactions"] == want["transactions"] and f["height"] == tip, f"figures: {f and f['height']}")
print(f"ok - figures over the whole ledger: {f['transactions']} transactions, {f['pairs']} pairs")
# one more, left running for the stop below
st = rpc("audit")
check(st["started"] is True, f"a new audit once done: {str(st)[:300]}")
PY
passed=$((passed + 5))

# SIGTERM while an audit runs: the node stops it and exits 0 within 10 s
stop_node
grep -q "stopped cleanly" "$TMP/kulad.log" || fail "kulad did not stop cleanly" "$TMP/kulad.log"
ok "SIGTERM during an audit: kulad stopped cleanly, exit 0"

echo "$TEST: $passed passed, 0 failed"
