#!/usr/bin/env bash
# member_removed.sh -- a member removed by governance loses its live
# sessions at the block that removes it, on every node, whichever way the
# node commits that block.
#
# 1. Consensus: testnet/up 4 (validators v1..v4, businesses b1..b16), then
#    the members vote to remove v4 while v4's node runs.  At the block H
#    that passes the proposal, nodes 1-3 each log that member v4 was removed
#    at block H and close its sessions; v4's node logs, once, that its key
#    is no longer an active member's and what to do; it has block H and
#    never a block after it, and no node admits it again, while the network
#    goes on without it.
# 2. One validator producing blocks alone, followers syncing: members A
#    (the validator), B, C, D; C's node follows through A and B.  When A, B
#    and D remove C, A (producing the block) and B (applying it through
#    sync) each close C's sessions at that block, after C has fetched it:
#    C's node has exactly that block and logs the error.
#
# Usage: bash member_removed.sh PATH/kulad PATH/kula
set -euo pipefail

KULAD=${1:?usage: member_removed.sh PATH/kulad PATH/kula}
KULA=${2:?usage: member_removed.sh PATH/kulad PATH/kula}
BB_NAME=member_removed
source "$(dirname "$0")/testnet_test.bash" # REPO, TMP, BASE, fail, pass, cleanup

bb_up4

# wait_for SECONDS DESCRIPTION COMMAND...: until COMMAND succeeds, or fail
# has_peer K KEY: node K has an established session with the key
has_peer() {
    q "$1" peers --json 2>/dev/null | /usr/bin/python3 -c \
        "import json,sys; sys.exit(0 if any(p['established'] and p['key'] == '$2' for p in json.load(sys.stdin)) else 1)"
}
npeers() {
    q "$1" peers --json 2>/dev/null |
        /usr/bin/python3 -c 'import json,sys; print(sum(1 for p in json.load(sys.stdin) if p["established"]))' \
            2>/dev/null || echo -1
}
at_least() { (($(tn_height "$1") >= $2)); }

V4KEY=$(q 1 member v4 --json | jfield '["pubkey"]') || fail "kula member v4"
for k in 1 2 3; do wait_for 20 "node$k connected to v4's node" has_peer "$k" "$V4KEY"; done
pass "nodes 1-3 have a session with v4's node"

# ---- the members remove v4 ----
out=$(q 1 propose --key v1 remove --member v4 --json) || fail "propose: $out"
P=$(echo "$out" | jfield '["id"]')
# 20 active members: more than 2/3 is 14 yes votes, v1's included
for k in v2 v3 b1 b2 b3 b4 b5 b6 b7 b8 b9 b10 b11; do
    out=$(q 1 vote --key "$k" --proposal "$P" yes --no-wait --json) || fail "vote $k: $out"
done
passed_prop() { [[ $(q 1 proposal "$P" --json 2>/dev/null | jfield '["status"]' 2>/dev/null) == passed ]]; }
wait_for 30 "the proposal to remove v4 passes" passed_prop
H=$(q 1 proposal "$P" --json | jfield '["decided"]')
[[ $(q 1 member v4 --json | jfield '["status"]') == removed ]] || fail "v4 is not removed"
pass "the members' vote removes v4 at block $H"

# ---- every node closes v4's sessions at block H, saying why ----
for k in 1 2 3; do
    log=$D/node$k/kulad.log
    wait_for 20 "node$k logs that v4 was removed" grep -q "member v4 (4) was removed at block" "$log"
    grep -q "member v4 (4) was removed at block $H: it is sent nothing more" "$log" ||
        fail "node$k did not revoke v4's session at block $H: $(grep "member v4 (4) was removed" "$log" | head -1)"
    not_peer() { ! has_peer "$1" "$V4KEY"; }
    wait_for 10 "node$k closes its session with v4's node" not_peer "$k"
    grep -q "disconnected: member v4 (4) was removed at block $H" "$log" ||
        fail "node$k logs no disconnection of v4 naming the reason"
done
pass "nodes 1-3 each close v4's sessions at block $H, naming the member and why"

# ---- v4's node: told once, has block H and nothing after ----
L4=$D/node4/kulad.log
wait_for 20 "v4's node logs that its key is no longer a member's" \
    grep -q "this node's key is no longer an active member's: the members removed member v4 (4)" "$L4"
grep -q "ask the members to admit you again" "$L4" || fail "v4's node does not say what to do"
wait_for 20 "v4's node has block $H" at_least 4 "$H"
wait_for 60 "the network goes on to block $((H + 10)) without v4" at_least 1 $((H + 10))
h4=$(tn_height 4)
((h4 == H)) || fail "v4's node is at height $h4, not $H: it received blocks after its removal"
n=$(grep -c "this node's key is no longer an active member's" "$L4")
((n == 1)) || fail "v4's node logged the error $n times"
for k in 1 2 3; do
    has_peer "$k" "$V4KEY" && fail "node$k admitted v4's node again"
done
pass "v4's node logs the error once, stopped at block $H while the others reached $(tn_height 1), and no node admits it"

bb_check_down

# ---- 2. a validator alone and followers: the sync path ----
export KULA_PASSPHRASE=member-removed
S=$TMP/single
"$KULA" genesis new --network removed-sync --out "$S/net" --member A --member B --member C \
    --member D --block-interval-ms 200 --kdf-opslimit 1 --kdf-memlimit-mib 8 >/dev/null ||
    fail "kula genesis new"
declare -A SPID
P_A=$((BASE + 2)) P_B=$((BASE + 4)) P_C=$((BASE + 6))
start() { # start NAME PORT [ARGS...]: kulad with data in $S/NAME, log $S/NAME.log
    local name=$1 port=$2 i
    shift 2
    "$KULAD" --datadir "$S/$name" --genesis "$S/net/GENESIS.json" --listen "127.0.0.1:$port" \
        --rpc "127.0.0.1:$((port + 1))" --key "$S/net/keys/${name^^}.key" "$@" \
        >>"$S/$name.log" 2>&1 &
    SPID[$name]=$!
    BB_PIDS+=("$!")
    BB_LOGS+=("$S/$name.log")
    for ((i = 0; i < 200; i++)); do
        [[ -f "$S/$name/rpc.cookie" ]] && return 0
        kill -0 "${SPID[$name]}" 2>/dev/null || fail "kulad $name exited at start"
        sleep 0.1
    done
    fail "kulad $name wrote no cookie in 20 s"
}
s() { # s NAME ARGS...: kula against node NAME, the genesis keys as wallet
    local name=$1
    shift
    timeout 30 "$KULA" --wallet "$S/net/keys" --datadir "$S/$name" "$@"
}
sheight() { s "$1" status --json 2>/dev/null | jfield '["height"]' 2>/dev/null || echo -1; }
s_peer() { # s_peer NAME KEY: NAME has an established session with KEY
    s "$1" peers --json 2>/dev/null | /usr/bin/python3 -c \
        "import json,sys; sys.exit(0 if any(p['established'] and p['key'] == '$2' for p in json.load(sys.stdin)) else 1)"
}
start a "$P_A"
start b "$P_B" --peer "127.0.0.1:$P_A"
start c "$P_C" --peer "127.0.0.1:$P_A"
CKEY=$(s a member C --json | jfield '["pubkey"]') || fail "kula member C"
wait_for 30 "a has a session with C's node" s_peer a "$CKEY"
wait_for 30 "b has a session with C's node (peer exchange)" s_peer b "$CKEY"
pass "A produces alone; B and C follow; A and B both have a session with C's node"

out=$(s a propose --key A remove --member C --json) || fail "propose: $out"
P=$(echo "$out" | jfield '["id"]')
for k in B D; do
    out=$(s a vote --key "$k" --proposal "$P" yes --no-wait --json) || fail "vote $k: $out"
done
s_passed() { [[ $(s a proposal "$P" --json 2>/dev/null | jfield '["status"]' 2>/dev/null) == passed ]]; }
wait_for 30 "the proposal to remove C passes" s_passed
H=$(s a proposal "$P" --json | jfield '["decided"]')
for n in a b; do
    wait_for 20 "$n closes C's session" grep -q "disconnected: member C (3) was removed at block $H" "$S/$n.log"
done
grep -q "member C (3) was removed at block $H: it is sent nothing more" "$S/b.log" ||
    fail "b (following through sync) did not revoke C's session at block $H"
wait_for 20 "C's node logs that its key is no longer a member's" \
    grep -q "this node's key is no longer an active member's: the members removed member C (3)" "$S/c.log"
s_at_least() { (($(sheight "$1") >= $2)); }
wait_for 30 "A goes on to block $((H + 10))" s_at_least a $((H + 10))
hc=$(sheight c)
((hc == H)) || fail "C's node is at height $hc, not $H"
pass "A (producing) and B (syncing) close C's sessions at block $H; C's node has block $H, no later one, and logs the error"
for n in c b a; do
    kill -TERM "${SPID[$n]}"
    code=0
    wait "${SPID[$n]}" || code=$?
    [[ $code == 0 ]] || fail "kulad $n exited $code after SIGTERM"
done
BB_PIDS=()
pass "every node stops cleanly"
echo "member_removed: $passed passed, 0 failed"
