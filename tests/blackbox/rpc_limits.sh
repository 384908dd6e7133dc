#!/usr/bin/env bash
# rpc_limits.sh -- black-box test of what one client with the API's token may
# cost a real kulad (node/api/jsonrpc.h, README.md "Limits"): on a single
# validator with a few hundred payments of history, the batch of 1000 x
# 'history {limit: 1000}' that once held the loop for half a minute is
# refused at once, and the heaviest batches the limits allow complete; all
# the while GET /health answers within a second, no block comes more than one
# interval late, and the node's memory (VmRSS) ends within 64 MiB of where
# it started.  Also the HTTP side of JSON-RPC notifications: 204 and no body.
#
# Usage: bash rpc_limits.sh PATH/TO/kulad PATH/TO/kula
set -euo pipefail

TEST=rpc_limits
# shellcheck source=single_node.bash
. "$(dirname "${BASH_SOURCE[0]}")/single_node.bash" "$@"
export KULA_PASSPHRASE="rpc limits passphrase"
# A sanitizer build keeps freed memory in a quarantine (256 MiB by default),
# which would read as growth of the node's RSS.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=8"

PAYMENTS=${RPC_LIMITS_PAYMENTS:-300}
ROUNDS=4          # of each heavy batch, at least, and until 5 blocks have passed
MAX_ROUNDS=40
SLACK_KIB=$((64 * 1024))

# ---- the node and its history ----

start_node
URL=$(sed -n 's/^url=//p' "$D/rpc.cookie")
TOKEN=$(sed -n 's/^token=//p' "$D/rpc.cookie")
[ -n "$URL" ] && [ -n "$TOKEN" ] || fail "no url or token in $D/rpc.cookie" "$D/rpc.cookie"
INTERVAL=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["params"]["block_interval_ms"])' "$GENESIS")

# post NAME FILE: POSTs FILE to the API; NAME.out gets the body, NAME.http
# "STATUS SECONDS" (000 when no answer within 120 s).
post() {
    curl -s -m 120 -o "$TMP/$1.out" -w '%{http_code} %{time_total}\n' \
        -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
        --data-binary @"$2" "$URL" >"$TMP/$1.http" 2>/dev/null || echo "000 0" >"$TMP/$1.http"
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$KPID/status"; }

k_ok kdev keys import dev --dev "$GENESIS"
k_ok kalice keys new --kdf-opslimit 1 --kdf-memlimit-mib 1 alice
ALICEPK=$(sed -n 's/^public key \([0-9a-f]\{64\}\)$/\1/p' "$TMP/kalice.out")
k_ok padm --json propose --key dev admit --pubkey "$ALICEPK" --name alice --sector food \
    --credit-limit 100000
k_ok malice --json member alice
ALICE=$(jv "$TMP/malice.out" 'd["id"]')
ok "alice admitted (member $ALICE)"

T0=$SECONDS
for i in $(seq 1 "$PAYMENTS"); do
    k pay pay --key alice --to 1 0.01 --memo "payment $i" --no-wait
    [ "$CODE" -eq 0 ] || fail "payment $i: kula exited $CODE" "$TMP/pay.out" "$TMP/pay.err"
done
# every payment committed: alice's history holds them all (deadline 120 s)
have=0
for _ in $(seq 1 1200); do
    k hist --json history alice --limit 1000
    if [ "$CODE" -eq 0 ]; then
        have=$(jv "$TMP/hist.out" 'len([e for e in d["entries"] if e["tx"]["kind"] == "transfer"])')
        [ "$have" -ge "$PAYMENTS" ] && break
    fi
    running || fail "kulad died"
    sleep 0.1
done
[ "$have" -ge "$PAYMENTS" ] || fail "alice's history has $have payments, not $PAYMENTS" "$TMP/hist.err"
have=$(jv "$TMP/hist.out" 'len(d["entries"])')
ok "$PAYMENTS payments committed in $((SECONDS - T0)) s; alice's history: $have entries"

# ---- JSON-RPC notifications over HTTP: 204, no body ----

printf '%s' '[{"jsonrpc":"2.0","method":"notify_sum","params":[1,2,4]},{"jsonrpc":"2.0","method":"notify_hello","params":[7]}]' >"$TMP/notes.json"
post notes "$TMP/notes.json"
read -r code _ <"$TMP/notes.http"
[ "$code" = 204 ] && [ ! -s "$TMP/notes.out" ] || fail "a batch of notifications: HTTP $code" "$TMP/notes.out"
printf '%s' '{"jsonrpc":"2.0","method":"status"}' >"$TMP/note.json"
post note "$TMP/note.json"
read -r code _ <"$TMP/note.http"
[ "$code" = 204 ] && [ ! -s "$TMP/note.out" ] || fail "a notification: HTTP $code" "$TMP/note.out"
ok "notifications: HTTP 204 with no body"

# ---- the heavy batches ----

# batch FILE N REQUEST: a batch of N copies of REQUEST (its members after "id").
batch() {
    python3 - "$@" <<'EOF'
import sys
path, n, one = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(path, "w") as f:
    f.write("[" + ",".join('{"jsonrpc":"2.0","id":%d,%s}' % (i, one) for i in range(n)) + "]")
EOF
}
batch "$TMP/heavy.json" 1000 "\"method\":\"history\",\"params\":{\"member\":$ALICE,\"limit\":1000}"
# the heaviest allowed: 3 x (1 + 1000) + (1 + 996) units = the 4000 of the limit
batch "$TMP/h3.json" 3 "\"method\":\"history\",\"params\":{\"member\":$ALICE,\"limit\":1000}"
python3 - "$TMP/h3.json" "$TMP/allowed.json" <<'EOF'
import json, sys
b = json.load(open(sys.argv[1]))
b.append({"jsonrpc": "2.0", "id": "m", "method": "members", "params": {"limit": 996}})
json.dump(b, open(sys.argv[2], "w"))
EOF
batch "$TMP/statuses.json" 1000 '"method":"status"'

# /health, polled while the batches run: each answer's time, until told to stop
health_poll() {
    local n=0
    while [ ! -e "$TMP/stop" ] && [ "$n" -lt 3000 ]; do
        curl -s -m 10 -o /dev/null -w '%{http_code} %{time_total}\n' "${URL}health" \
            >>"$TMP/health.log" 2>/dev/null || echo "000 10" >>"$TMP/health.log"
        n=$((n + 1))
    done
}

tip() { curl -s -m 10 "${URL}health" | python3 -c 'import json, sys; print(json.load(sys.stdin)["height"])'; }

RSS0=$(rss_kib)
H0=$(tip)
: >"$TMP/health.log"
health_poll &
POLLER=$!
T0=$SECONDS
r=0
while [ "$r" -lt "$ROUNDS" ] || { [ "$(tip)" -lt $((H0 + 5)) ] && [ "$r" -lt "$MAX_ROUNDS" ]; }; do
    r=$((r + 1))
    post heavy "$TMP/heavy.json"
    read -r code secs <"$TMP/heavy.http"
    [ "$code" = 200 ] || fail "the heavy batch (round $r): HTTP $code"
    python3 - "$TMP/heavy.out" <<'EOF' || fail "the heavy batch was not refused clearly" "$TMP/heavy.out"
import json, sys
r = json.load(open(sys.argv[1]))
assert isinstance(r, list) and len(r) == 1000, "%d responses" % len(r)
for e in r:
    err = e["error"]
    assert err["data"]["name"] == "ETOOBIG" and err["data"]["limit"] == 4000, err
    assert "units of work" in err["message"], err["message"]
EOF
    echo "heavy batch, round $r: refused in $secs s" >>"$TMP/times.log"

    post allowed "$TMP/allowed.json"
    read -r code secs <"$TMP/allowed.http"
    [ "$code" = 200 ] || fail "the heaviest allowed batch (round $r): HTTP $code"
    python3 - "$TMP/allowed.out" "$have" <<'EOF' || fail "the heaviest allowed batch did not complete" "$TMP/allowed.out"
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r) == 4, "%d responses" % len(r)
for e in r[:3]:
    assert "result" in e, e.get("error")
    assert len(e["result"]["entries"]) == int(sys.argv[2]), len(e["result"]["entries"])
    assert e["result"]["next"] is None
assert "result" in r[3], r[3].get("error")
EOF
    echo "heaviest allowed batch, round $r: $secs s" >>"$TMP/times.log"

    post statuses "$TMP/statuses.json"
    read -r code secs <"$TMP/statuses.http"
    [ "$code" = 200 ] || fail "1000 x status (round $r): HTTP $code"
    echo "1000 x status, round $r: $secs s" >>"$TMP/times.log"
done
# two clients at once, each with the heaviest allowed batch
clients=()
for c in 1 2; do
    (for r in $(seq 1 $ROUNDS); do post "par$c" "$TMP/allowed.json"; done) &
    clients+=($!)
done
wait "${clients[@]}"
for c in 1 2; do
    read -r code secs <"$TMP/par$c.http"
    [ "$code" = 200 ] || fail "client $c: HTTP $code"
done
HEAVY_SECONDS=$((SECONDS - T0))
# one more block after the heavy part, so that its last interval is seen
H1=$(tip)
wait_height $((H1 + 1)) 20 || fail "no block after the heavy batches"
touch "$TMP/stop"
wait "$POLLER" 2>/dev/null || true
ok "heavy batches refused, the heaviest allowed completed ($HEAVY_SECONDS s in all)"
sed 's/^/    /' "$TMP/times.log"

# ---- what the node did meanwhile ----

python3 - "$TMP/health.log" <<'EOF' || fail "/health did not keep answering within 1 s" "$TMP/health.log"
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
assert len(rows) >= 5, "only %d polls" % len(rows)
bad = [r for r in rows if r[0] != "200" or float(r[1]) >= 1.0]
assert not bad, "%d of %d polls slow or failed, e.g. %s" % (len(bad), len(rows), bad[:5])
print("    /health: %d polls, slowest %.3f s" % (len(rows), max(float(r[1]) for r in rows)))
EOF
ok "/health answered every poll within 1 s"

# the blocks made meanwhile: none more than one interval late
H2=$(tip)
python3 - "$TMP/blocks.json" "$H0" "$H2" <<'EOF'
import json, sys
path, lo, hi = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
json.dump([{"jsonrpc": "2.0", "id": h, "method": "block", "params": {"height": h, "limit": 0}}
           for h in range(lo, hi + 1)], open(path, "w"))
EOF
post blocks "$TMP/blocks.json"
python3 - "$TMP/blocks.out" "$INTERVAL" "$HEAVY_SECONDS" <<'EOF' || fail "a block came late" "$TMP/blocks.out"
import json, sys
r = json.load(open(sys.argv[1]))
interval, seconds = int(sys.argv[2]), int(sys.argv[3])
times = [e["result"]["time_ms"] for e in sorted(r, key=lambda e: e["id"])]
gaps = [b - a for a, b in zip(times, times[1:])]
assert gaps, "no block during the heavy batches"
late = [g for g in gaps if g > 2 * interval]
print("    blocks: %d, gaps %d..%d ms" % (len(times), min(gaps), max(gaps)))
assert not late, "gaps over %d ms: %s" % (2 * interval, late)
EOF
ok "blocks $H0..$H2: none more than one interval ($INTERVAL ms) late"

# memory: back within 64 MiB of where it was (deadline 10 s)
RSS1=$(rss_kib)
for _ in $(seq 1 100); do
    [ "$RSS1" -le $((RSS0 + SLACK_KIB)) ] && break
    sleep 0.1
    RSS1=$(rss_kib)
done
[ "$RSS1" -le $((RSS0 + SLACK_KIB)) ] ||
    fail "VmRSS $RSS0 KiB before the heavy batches, $RSS1 KiB after (more than 64 MiB more)"
ok "VmRSS $RSS0 KiB before the heavy batches, $RSS1 KiB after"

stop_node
echo "$TEST: $passed passed, 0 failed"
