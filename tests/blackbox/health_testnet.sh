#!/usr/bin/env bash
# health_testnet.sh -- health that matches reality on a 4-validator testnet
# (testnet/up 4): every node ok with the real peer count in /metrics; with 2
# of 4 validators stopped no block can be made and node 1 says "stalled"
# (GET /health 503, kula status, /metrics, one warning in its log); with a
# third stopped it has no peer and says "isolated"; restarted, it is ok
# again; the members vote v4 out and v4's node says "not-a-member".
#
# Usage: bash health_testnet.sh PATH/kulad PATH/kula
set -euo pipefail

KULAD=${1:?usage: health_testnet.sh PATH/kulad PATH/kula}
KULA=${2:?usage: health_testnet.sh PATH/kulad PATH/kula}
BB_NAME=health_testnet
source "$(dirname "$0")/testnet_test.bash" # REPO, TMP, BASE, fail, pass, cleanup

timeout 120 "$REPO/testnet/up" 4 --port "$BASE" --kulad "$KULAD" --kula "$KULA" \
    >"$TMP/up.log" 2>&1 || { cat "$TMP/up.log" >&2; fail "testnet/up 4"; }
D=$KULA_TESTNET_DIR
tn_load_env

url() { echo "http://127.0.0.1:$(tn_rpc_port "$1")/"; }
# health_is K STATE SECONDS: until node K's GET /health says STATE, with
# HTTP 200 for ok and 503 for any other state; the body in TMP/healthK.json.
health_is() {
    local k=$1 want=$2 deadline=$(($(date +%s) + $3)) code
    while :; do
        code=$(curl -s -m 2 -o "$TMP/health$k.json" -w '%{http_code}' "$(url "$k")health" || true)
        if grep -q "\"status\":\"$want\"" "$TMP/health$k.json" 2>/dev/null; then
            if [[ $want == ok ]]; then [[ $code == 200 ]]; else [[ $code == 503 ]]; fi ||
                fail "node$k: GET /health says $want with HTTP $code"
            return 0
        fi
        (($(date +%s) < deadline)) || fail "node$k: GET /health is not '$want' after $3 s: $(cat "$TMP/health$k.json" 2>/dev/null)"
        sleep 0.2
    done
}
metric() { curl -s -m 5 "$(url "$1")metrics" | sed -n "s/^$2 //p"; }
stop() { tn_stop_pids 20 "$(tn_node_pid "$1")" >/dev/null; }

for k in 1 2 3 4; do health_is "$k" ok 30; done
peers_rpc=$(q 1 peers --json | /usr/bin/python3 -c 'import json,sys; print(sum(1 for p in json.load(sys.stdin) if p.get("key")))')
for ((i = 0; i < 100; i++)); do
    [[ $(metric 1 kula_peers) == 3 ]] && break
    sleep 0.1
done
[[ $(metric 1 kula_peers) == 3 && $peers_rpc == 3 ]] ||
    fail "node1: kula_peers $(metric 1 kula_peers), kula peers shows $peers_rpc, expected 3"
pass "4 nodes ok (HTTP 200); /metrics counts node1's 3 peers as kula peers does"

# ---- 2 of 4 stopped: no block can be made ----
stop 3
stop 4
health_is 1 stalled 60
grep -q "no block for" "$TMP/health1.json" || fail "the stalled reason does not say since when"
q 1 status >"$TMP/status1.txt" || fail "kula status on node1"
grep -q "^health *stalled: no block for" "$TMP/status1.txt" || fail "kula status does not say stalled: $(cat "$TMP/status1.txt")"
grep -q "producing" "$TMP/status1.txt" && fail "kula status still says producing: $(cat "$TMP/status1.txt")"
[[ $(metric 1 'kula_health{state="stalled"}') == 1 ]] || fail "node1's metrics do not say stalled"
[[ $(metric 1 kula_peers) == 1 ]] || fail "node1: kula_peers $(metric 1 kula_peers) with one peer left"
grep -q "health: stalled" "$D/node1/kulad.log" || fail "node1's log has no warning of the stall"
pass "2 of 4 validators stopped: node1 says stalled (503, kula status, metrics, log), 1 peer"

# ---- a third: no peer left ----
stop 2
health_is 1 isolated 30
pass "3 of 4 stopped: node1 says isolated"

# ---- back ----
for k in 2 3 4; do tn_start_node "$k" || fail "restart node$k"; done
for k in 1 2 3 4; do health_is "$k" ok 60; done
grep -q "health: ok again" "$D/node1/kulad.log" || fail "node1's log does not say it is ok again"
pass "restarted: every node ok again, and node1's log says so"

# ---- the members remove v4 ----
out=$(q 1 propose --key v1 remove --member v4 --json) || fail "propose remove v4: $out"
P=$(echo "$out" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
# 20 members: more than 2/3 is 14 yes votes, v1's included
for key in v2 v3 b1 b2 b3 b4 b5 b6 b7 b8 b9 b10 b11; do
    out=$(q 1 vote --key "$key" --proposal "$P" yes --no-wait --json) || fail "vote $key: $out"
done
health_is 4 not-a-member 60
grep -q "removed" "$TMP/health4.json" || fail "node4's reason does not say its member was removed"
health_is 1 ok 30
pass "v4 voted out: its node says not-a-member (removed); node1 stays ok"
echo "$BB_NAME: $passed passed, 0 failed"
