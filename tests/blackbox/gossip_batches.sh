#!/usr/bin/env bash
# gossip_batches.sh -- transactions gossiped in batches (TX_BATCH, SPEC §12.2
# "Batches") on a network where one node does not send them: 3 validators of
# testnet/up (gossip-batches = yes), node 3 restarted with gossip-batches = no;
# testnet/load submits to all three.  Checks that every transaction commits
# on every node (testnet/check), that node 3 takes its peers' batches, and
# from the peers' message counts (the API's `peers`) that nodes 1 and 2 send
# batches (far fewer messages than transactions) while node 3 sends one TX
# per transaction.
#
# Usage: bash gossip_batches.sh PATH/kulad PATH/kula
set -euo pipefail
BB_NAME=gossip_batches
source "$(dirname "$0")/testnet_test.bash"

bb_up 3
grep -q '^gossip-batches = yes$' "$D/node1/kulad.conf" || fail "testnet/up did not turn gossip-batches on"
pass "testnet/up writes gossip-batches = yes"

# node 3 sends one TX per transaction, as a node of before TX_BATCH does
mapfile -t p3 < <(tn_node_pid 3)
left=$(tn_stop_pids 30 "${p3[@]}")
[[ -z $left ]] || fail "node 3 needed SIGKILL"
sed -i 's/^gossip-batches = yes$/gossip-batches = no/' "$D/node3/kulad.conf"
tn_start_node 3 || fail "node 3 did not start again"
# read again at each try (as arguments, the heights were read once, and a
# node 3 not yet answering when the wait began failed it after 60 s)
caught_up() {
    local h3 h1
    h3=$(tn_height 3)
    h1=$(tn_height 1)
    ((h3 >= 0 && h3 >= h1))
}
wait_for 60 "node 3 back at the tip" caught_up
pass "node 3 runs with gossip-batches = no"

bb_tool 120 load "$REPO/testnet/load" --seconds 8 --nodes 3 -q
committed=$(awk '$1 == "committed" && $2 ~ /^[0-9]+$/ { print $2; exit }' "$TMP/load.out")
[[ -n $committed && $committed -gt 1000 ]] || fail "too few transactions committed: '${committed:-?}'"
pass "load: $committed transactions committed"

# messages each node sent its peers in all (consensus messages included)
sent() { q "$1" peers --json | /usr/bin/python3 -c '
import json, sys
print(sum(p["msgs_out"] for p in json.load(sys.stdin) if p["established"]))'; }
s1=$(sent 1) s2=$(sent 2) s3=$(sent 3)
echo "    messages sent: node1 $s1, node2 $s2, node3 $s3; $committed transactions"
# node 3 took about a third of the submissions and relayed each to both
# peers as a TX; nodes 1 and 2 relayed theirs in batches
((s3 >= committed / 2)) || fail "node 3 sent $s3 messages for $committed transactions: not one TX each"
((s1 < committed / 4 && s2 < committed / 4)) ||
    fail "nodes 1 and 2 sent $s1 and $s2 messages for $committed transactions: not in batches"
pass "nodes 1 and 2 send batches, node 3 one TX per transaction"
if grep -qE 'malformed|misbehav' "$D"/node*/kulad.log; then
    grep -E 'malformed|misbehav' "$D"/node*/kulad.log | head -5 >&2
    fail "a node took its peer's messages for misbehaviour"
fi
pass "no peer scored"
bb_check_down
echo "$BB_NAME: $passed passed, 0 failed"
