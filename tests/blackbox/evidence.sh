#!/usr/bin/env bash
# evidence.sh -- a validator's key run on two nodes at once (the classic way
# an honest operator double-signs: a restored backup, a failover gone
# wrong) is caught and recorded on the chain, end to end with real kulad
# processes: testnet/up 4, then a fifth kulad with validator 4's key.  When
# validator 4 is to propose, its two instances propose two different blocks
# and each prevotes its own; the other validators see two prevotes of
# validator 4 for one height and round, gossip the EVIDENCE and submit an
# evidence transaction, which the chain records (kula history shows it on
# every node) while it keeps committing blocks.
#
# Usage: bash evidence.sh PATH/kulad PATH/kula
set -euo pipefail

KULAD=${1:?usage: evidence.sh PATH/kulad PATH/kula}
KULA=${2:?usage: evidence.sh PATH/kulad PATH/kula}
BB_NAME=evidence
source "$(dirname "$0")/testnet_test.bash" # REPO, TMP, BASE, fail, pass, cleanup
BB_LOGS+=("$TMP/twin.log")

timeout 120 "$REPO/testnet/up" 4 --port "$BASE" --kulad "$KULAD" --kula "$KULA" \
    >"$TMP/up.log" 2>&1 || { cat "$TMP/up.log" >&2; fail "testnet/up 4"; }
pass "testnet/up 4"

q() { # q K ARGS...: kula against node K
    local k=$1
    shift
    timeout 20 "$KULA" --datadir "$KULA_TESTNET_DIR/node$k" "$@"
}
height() { q "$1" status --json 2>/dev/null | jfield '["height"]' 2>/dev/null || echo -1; }

# The transport keeps one connection per key, so the twin needs peers that
# do not also hear the original node 4: node 3 talks to the twin, nodes 1
# and 2 to node 4 (restarted without each other in their configs, their
# outbound slots full so peer exchange adds no link between them).
D=$KULA_TESTNET_DIR
tn_load_env
for k in 3 4; do
    pid=$(tn_node_pid "$k") || fail "node $k is not running"
    tn_stop_pids 15 "$pid" >/dev/null
done
sed -i "/^peer = 127.0.0.1:$(tn_p2p_port 4)\$/d" "$D/node3/kulad.conf"
sed -i "/^peer = 127.0.0.1:$(tn_p2p_port 3)\$/d" "$D/node4/kulad.conf"
tn_start_node 3 --max-outbound 2 || fail "restart node 3"
tn_start_node 4 --max-outbound 2 || fail "restart node 4"
conf=$D/node4/kulad.conf
key=$(sed -n 's/^key = //p' "$conf")
pass_file=$(sed -n 's/^passphrase-file = //p' "$conf")
genesis=$(sed -n 's/^genesis = //p' "$conf")
"$KULAD" --datadir "$TMP/twin" --genesis "$genesis" --key "$key" --passphrase-file "$pass_file" \
    --listen "127.0.0.1:$((BASE + 10))" --rpc "127.0.0.1:$((BASE + 11))" \
    --peer "127.0.0.1:$(tn_p2p_port 3)" --max-outbound 1 --max-inbound 0 \
    >"$TMP/twin.log" 2>&1 &
TWIN=$!
BB_PIDS+=("$TWIN")
pass "a second kulad runs with validator 4's key"

# Within a minute validator 4 has proposed several times, twice each time.
recorded() { q 1 history 4 --json 2>/dev/null | grep -q '"evidence"'; }
for ((i = 0; i < 600; i++)); do
    recorded && break
    kill -0 "$TWIN" 2>/dev/null || fail "the twin exited"
    sleep 0.1
done
recorded || fail "no evidence transaction on node 1's chain within 60 s"
line=$(grep -h "signed two different" "$KULA_TESTNET_DIR"/node[123]/kulad.log | head -n 1) ||
    fail "no honest validator logged the equivocation"
echo "    ${line#* * }"
q 1 history 4 --limit 3 | sed 's/^/    /'
pass "the equivocation is detected and an evidence transaction is committed"

# Each node's chain holds it once the node has caught up: wait on that
# (60 s: a loaded machine), not on a height.
for k in 2 3 4; do
    for ((i = 0; i < 600; i++)); do
        q "$k" history 4 --json 2>/dev/null | grep -q '"evidence"' && break
        sleep 0.1
    done
    q "$k" history 4 --json 2>/dev/null | grep -q '"evidence"' ||
        fail "node $k's chain does not hold the evidence within 60 s (height $(height "$k") of $(height 1))"
done
pass "every node's chain holds the evidence"

kill -TERM "$TWIN"
wait "$TWIN" || true
BB_PIDS=()
h=$(height 1)
for ((i = 0; i < 200; i++)); do
    [[ $(height 1) -ge $((h + 3)) ]] && break
    sleep 0.1
done
[[ $(height 1) -ge $((h + 3)) ]] || fail "the network stopped committing blocks"
timeout 120 "$REPO/testnet/check" >"$TMP/check.log" 2>&1 || { cat "$TMP/check.log" >&2; fail "testnet/check"; }
pass "the network goes on; testnet/check: $(tail -n 1 "$TMP/check.log")"

timeout 60 "$REPO/testnet/down" >/dev/null 2>&1 || fail "testnet/down"
pass "testnet/down"
echo "evidence: $passed passed, 0 failed"
