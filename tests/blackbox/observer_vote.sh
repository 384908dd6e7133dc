#!/usr/bin/env bash
# observer_vote.sh -- an observer admitted and removed by the members' vote
# (proto/LEDGER.md §6.4, SPEC §11.4, §12.2): testnet/up 4 (validators
# v1..v4, businesses b1..b16), then a fifth kulad with a fresh identity key
# and no member key, configured with the four nodes as peers.  The members'
# nodes refuse it (each logs the key) and it logs why, in words; a proposal
# admits its key; without any change to a member's configuration nor a
# restart it connects and follows the chain to the tip; a removal proposal
# passes and the members end its sessions at that block; it follows no
# further.  testnet/check agrees on nodes 1-4 and the observer's blocks are
# theirs.
#
# Usage: bash observer_vote.sh PATH/kulad PATH/kula
set -euo pipefail

KULAD=${1:?usage: observer_vote.sh PATH/kulad PATH/kula}
KULA=${2:?usage: observer_vote.sh PATH/kulad PATH/kula}
BB_NAME=observer_vote
source "$(dirname "$0")/testnet_test.bash" # REPO, TMP, BASE, fail, pass, cleanup

bb_up4

has_peer() { # has_peer K KEY: node K has an established session with the key
    q "$1" peers --json 2>/dev/null | /usr/bin/python3 -c \
        "import json,sys; sys.exit(0 if any(p['established'] and p['key'] == '$2' for p in json.load(sys.stdin)) else 1)"
}
not_peer() { ! has_peer "$@"; }
height_at_least() { (($(tn_height "$1") >= $2)); }
status_of() { q 1 proposal "$1" --json 2>/dev/null | jfield '["status"]' 2>/dev/null; }
passed_prop() { [[ $(status_of "$1") == passed ]]; }
block_hash() { q "$1" block "$2" --json | jfield '["hash"]'; }

# pass_proposal ARGS...: v1 proposes ARGS, 13 more members vote yes (20
# active members: more than 2/3 is 14); prints the proposal's id.
pass_proposal() {
    local out p k
    out=$(q 1 propose --key v1 "$@" --json) || fail "propose $*: $out"
    p=$(echo "$out" | jfield '["id"]')
    for k in v2 v3 b1 b2 b3 b4 b5 b6 b7 b8 b9 b10 b11; do
        out=$(q 1 vote --key "$k" --proposal "$p" yes --no-wait --json) || fail "vote $k: $out"
    done
    echo "$p"
}

# ---- the observer: a fresh node, no member key ----
O=$D/node5
mkdir -p "$O"
chmod 700 "$O"
{
    echo "# an auditor's node: no key, follows the chain (written by observer_vote.sh)"
    echo "genesis = $GENESIS"
    echo "listen = 127.0.0.1:$(tn_p2p_port 5)"
    echo "rpc = 127.0.0.1:$(tn_rpc_port 5)"
    for k in 1 2 3 4; do echo "peer = 127.0.0.1:$(tn_p2p_port "$k")"; done
} >"$O/kulad.conf"
BB_LOGS+=("$O/kulad.log")
tn_start_node 5 || fail "start the observer's node"
BB_PIDS+=("$(<"$O/kulad.pid")")
OBSKEY=$(sed -n 's/.*peers know this node by the key \([0-9a-f]\{64\}\).*/\1/p' "$O/kulad.log" | tail -n 1)
[[ ${#OBSKEY} == 64 ]] || fail "the observer's node does not log its key"
pass "the observer's node runs with the fresh key ${OBSKEY:0:16}"

# ---- refused, and both sides say so ----
wait_for 30 "the observer logs why it is refused" grep -q \
    "not a member nor an admitted observer: ask the members to admit $OBSKEY" "$O/kulad.log"
for k in 1 2 3 4; do
    wait_for 30 "node$k logs the refused key" grep -q \
        "peer key $OBSKEY refused: not a member nor an admitted observer" "$D/node$k/kulad.log"
done
((${#OBSKEY} == 64)) && not_peer 1 "$OBSKEY" || fail "node1 admitted the observer before the vote"
[[ $(tn_height 5) == 0 ]] || fail "the observer got blocks before the vote"
pass "the members refuse the observer (each logs its key) and it logs: ask the members to admit $OBSKEY"

# ---- the members admit it by vote: no conf edit, no restart ----
P=$(pass_proposal admit-observer --pubkey "$OBSKEY" --name "Ledger Audit Ltd")
wait_for 60 "the proposal to admit the observer passes" passed_prop "$P"
H=$(q 1 proposal "$P" --json | jfield '["decided"]')
obs=$(q 2 observers --json) || fail "kula observers"
echo "$obs" | /usr/bin/python3 -c "
import json,sys
o = json.load(sys.stdin)
sys.exit(0 if o == [{'pubkey': '$OBSKEY', 'name': 'Ledger Audit Ltd', 'admitted': $H}] else 1)" ||
    fail "kula observers --json on node2 says $obs"
q 2 observers | grep -q "^Ledger Audit Ltd  *${OBSKEY:0:16}  *$H$" || fail "kula observers: $(q 2 observers)"
pass "the members' vote admits the observer at block $H; kula observers lists it"

for k in 1 2 3 4; do wait_for 60 "node$k admits the observer" has_peer "$k" "$OBSKEY"; done
T=$(($(tn_height 1) + 2))
wait_for 60 "the observer follows the chain to block $T" height_at_least 5 "$T"
[[ $(block_hash 5 "$T") == $(block_hash 1 "$T") ]] || fail "the observer's block $T is not node1's"
pass "without a restart the observer connects to all four and follows to block $T, node1's block"

# ---- the members remove it by vote: its sessions end at that block ----
P2=$(pass_proposal remove-observer --pubkey "$OBSKEY")
wait_for 60 "the proposal to remove the observer passes" passed_prop "$P2"
H2=$(q 1 proposal "$P2" --json | jfield '["decided"]')
for k in 1 2 3 4; do
    wait_for 30 "node$k ends the observer's session" not_peer "$k" "$OBSKEY"
    grep -q "the key ${OBSKEY:0:16} is no longer a member's nor an admitted observer's at block $H2" \
        "$D/node$k/kulad.log" || fail "node$k did not revoke the observer's session at block $H2"
done
[[ $(q 1 observers --json) == "[]" ]] || fail "kula observers still lists it: $(q 1 observers)"
wait_for 60 "the network goes on to block $((H2 + 5))" height_at_least 1 $((H2 + 5))
h5=$(tn_height 5)
((h5 <= H2)) || fail "the removed observer has block $h5, after block $H2 that removed it"
for k in 1 2 3 4; do
    not_peer "$k" "$OBSKEY" || fail "node$k admitted the removed observer again"
done
pass "removed at block $H2: the members end its sessions; it stays at block $h5 while they go on"

tn_stop_pids 15 "$(<"$O/kulad.pid")" >/dev/null
bb_check_down
echo "observer_vote: $passed passed, 0 failed"
