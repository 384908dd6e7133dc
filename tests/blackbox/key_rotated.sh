#!/usr/bin/env bash
# key_rotated.sh -- a validator whose key the members rotate while its node
# still runs on the old key: testnet/up 4 (validators v1..v4, businesses
# b1..b16), then the members vote to rotate v4's key to a new one.  From the
# block H that passes the proposal, v4's node (old key) logs, once, that its
# key is no longer an active member's and to restart with the new key, and
# stops signing (it says it is no validator); nodes 1-3 close its sessions
# at block H naming the member and why, and never punish or ban it for a bad
# signature; the network goes on with 3 of 4 validators.  Restarted on the
# old key, the node says so at start; restarted with the new key, it is
# admitted again and its precommits finalise blocks.
#
# Usage: bash key_rotated.sh PATH/kulad PATH/kula
set -euo pipefail

KULAD=${1:?usage: key_rotated.sh PATH/kulad PATH/kula}
KULA=${2:?usage: key_rotated.sh PATH/kulad PATH/kula}
BB_NAME=key_rotated
source "$(dirname "$0")/testnet_test.bash" # REPO, TMP, BASE, fail, pass, cleanup

bb_up4

has_peer() { # has_peer K KEY: node K has an established session with the key
    q "$1" peers --json 2>/dev/null | /usr/bin/python3 -c \
        "import json,sys; sys.exit(0 if any(p['established'] and p['key'] == '$2' for p in json.load(sys.stdin)) else 1)"
}
not_peer() { ! has_peer "$@"; }
at_least() { (($(tn_height "$1") >= $2)); }
is_validator() { [[ $(q "$1" status --json 2>/dev/null | jfield '["validator"]' 2>/dev/null) == "$2" ]]; }
# signed_after K FROM: a block of node K above FROM carries v4's precommit
signed_after() {
    local tip h
    tip=$(tn_height "$1")
    for ((h = $2 + 1; h <= tip; h++)); do
        q "$1" block "$h" --json 2>/dev/null |
            jfield '.get("last_commit", {}).get("signers", [])' 2>/dev/null | grep -qw 4 && return 0
    done
    return 1
}
# no_bad_signatures: no node punished a peer for a bad signature
no_bad_signatures() {
    local k
    for k in 1 2 3 4; do
        if grep -q "bad signature\|banned" "$D/node$k/kulad.log"; then
            grep "bad signature\|banned" "$D/node$k/kulad.log" | head -3 >&2
            return 1
        fi
    done
}

OLDKEY=$(q 1 member v4 --json | jfield '["pubkey"]') || fail "kula member v4"
for k in 1 2 3; do wait_for 20 "node$k connected to v4's node" has_peer "$k" "$OLDKEY"; done
wait_for 20 "v4's node says it is a validator" is_validator 4 True
pass "v4's node (old key) is a validator with a session to nodes 1-3"

# ---- the members rotate v4's key ----
q 1 keys new v4new --kdf-opslimit 1 --kdf-memlimit-mib 8 >/dev/null || fail "kula keys new v4new"
out=$(q 1 propose --key v1 rotate-key --member v4 --pubkey v4new --json) || fail "propose: $out"
P=$(echo "$out" | jfield '["id"]')
# 20 active members: more than 2/3 is 14 yes votes, v1's included
for k in v2 v3 b1 b2 b3 b4 b5 b6 b7 b8 b9 b10 b11; do
    out=$(q 1 vote --key "$k" --proposal "$P" yes --no-wait --json) || fail "vote $k: $out"
done
passed_prop() { [[ $(q 1 proposal "$P" --json 2>/dev/null | jfield '["status"]' 2>/dev/null) == passed ]]; }
wait_for 30 "the proposal to rotate v4's key passes" passed_prop
H=$(q 1 proposal "$P" --json | jfield '["decided"]')
NEWKEY=$(q 1 member v4 --json | jfield '["pubkey"]')
[[ $NEWKEY != "$OLDKEY" ]] || fail "v4's key did not change"
pass "the members' vote rotates v4's key at block $H"

# ---- v4's node on the old key: told once, signs nothing ----
L4=$D/node4/kulad.log
wait_for 20 "v4's node logs that its key is no longer a member's" \
    grep -q "this node's key is no longer an active member's: the members rotated the key of member v4 (4) to ${NEWKEY:0:16}" "$L4"
grep -q "restart it with the new key" "$L4" || fail "v4's node does not say what to do"
wait_for 20 "v4's node says it is no validator" is_validator 4 False
pass "v4's node logs the error and stops signing"

# ---- nodes 1-3 close its sessions at block H and never punish it ----
for k in 1 2 3; do
    log=$D/node$k/kulad.log
    wait_for 20 "node$k closes its session with v4's old key" not_peer "$k" "$OLDKEY"
    grep -q "the key ${OLDKEY:0:16} of member v4 (4) was rotated at block $H: it is sent nothing more" "$log" ||
        fail "node$k did not revoke the old key's session at block $H"
done
wait_for 60 "the network goes on to block $((H + 10)) with 3 of 4 validators" at_least 1 $((H + 10))
no_bad_signatures || fail "a node punished a peer for a bad signature"
n=$(grep -c "this node's key is no longer an active member's" "$L4")
((n == 1)) || fail "v4's node logged the error $n times"
pass "nodes 1-3 close the old key's sessions at block $H; blocks go on ($(tn_height 1)); no bad signature, no ban"

# ---- restarted on the old key, it says so at once ----
tn_stop_pids 15 "$(tn_node_pid 4)" >/dev/null
tn_start_node 4 || fail "restart node 4 on the old key"
grep -q "the members rotated the key of member v4 (4) to ${NEWKEY:0:16} by block" "$L4" ||
    fail "v4's node, restarted on the old key, does not say that its key was rotated"
is_validator 4 False || fail "v4's node, restarted on the old key, says it is a validator"
pass "restarted on the old key, v4's node says at start that its key was rotated, and signs nothing"

# ---- restarted with the new key, v4's node signs again ----
tn_stop_pids 15 "$(tn_node_pid 4)" >/dev/null
tn_start_node 4 --key "$D/wallet/v4new.key" || fail "restart node 4 with the new key"
for k in 1 2 3; do wait_for 30 "node$k admits v4's new key" has_peer "$k" "$NEWKEY"; done
from=$(tn_height 1)
wait_for 60 "a block carries the precommit of v4's new key" signed_after 1 "$from"
no_bad_signatures || fail "a node punished a peer for a bad signature"
pass "restarted with the new key, v4's node is admitted and its precommits finalise blocks again"

bb_check_down
echo "key_rotated: $passed passed, 0 failed"
