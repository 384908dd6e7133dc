#!/usr/bin/env bash
# state_sync.sh -- a new node starts from a snapshot (issue 15, proto/SPEC.md
# §10.3, §12.2): testnet/up 4 (a snapshot height every 5 blocks), a few
# seconds of load, then a fifth kulad with a business's key, an empty data
# directory and state-sync = yes.  It checks the snapshot heights from the
# genesis validators on, fetches the copy of the state at the highest one
# its peer keeps, installs it at that height (no block below it applied),
# follows the chain to the tip, keeps copies of its own, fetches the blocks
# below the snapshot from the top down, and then `kula audit` of its data
# directory verifies the chain from the genesis, with node 1's state root.
# Its transactions below the snapshot are indexed only once kulad
# --reindex replays the stored blocks; restarted so, it goes on from its
# own ledger.  Then it keeps no
# copy, and a sixth node with state sync and node5 as its only peer replays
# the chain from the genesis instead, saying why.
#
# Usage: bash state_sync.sh PATH/kulad PATH/kula
set -euo pipefail

KULAD=${1:?usage: state_sync.sh PATH/kulad PATH/kula}
KULA=${2:?usage: state_sync.sh PATH/kulad PATH/kula}
BB_NAME=state_sync
source "$(dirname "$0")/testnet_test.bash" # REPO, TMP, BASE, fail, pass, cleanup

bb_up4
height_at_least() { (($(tn_height "$1") >= $2)); }
block_hash() { q "$1" block "$2" --json | jfield '["hash"]'; }

bb_tool 60 load "$REPO/testnet/load" --seconds 4 --rate 200
wait_for 60 "the network reaches block 12 (snapshot heights 5 and 10)" height_at_least 1 12
ls "$D/node1/snapshots/"state-*.snap >/dev/null 2>&1 || fail "node1 keeps no copy of the state"
grep -q "snapshot: kept the state at height 10 for peers" "$D/node1/kulad.log" ||
    fail "node1 does not log the copy at height 10"
pass "the validators keep copies of the state at snapshot heights ($(ls "$D/node1/snapshots" | tr '\n' ' '))"

# ---- a new node: a business's key, an empty ledger, state sync ----
# new_node K KEY PEER...: node K's data directory, empty, with member KEY's
# key, state sync on and these peers (node numbers)
new_node() {
    local k=$1 key=$2 dir j
    shift 2
    dir=$D/node$k
    mkdir -p "$dir"
    chmod 700 "$dir"
    cp "$WALLET/$key.key" "$dir/node.key"
    {
        echo "# a new member's node with state sync (written by state_sync.sh)"
        echo "genesis = $GENESIS"
        echo "listen = 127.0.0.1:$(tn_p2p_port "$k")"
        echo "rpc = 127.0.0.1:$(tn_rpc_port "$k")"
        echo "passphrase-file = $D/passphrase"
        for j in "$@"; do echo "peer = 127.0.0.1:$(tn_p2p_port "$j")"; done
        echo "state-sync = yes"
    } >"$dir/kulad.conf"
}
N=$D/node5
new_node 5 b1 1 2 3 4
BB_LOGS+=("$N/kulad.log")
tn_start_node 5 || fail "start node5"
BB_PIDS+=("$(<"$N/kulad.pid")")
started() { grep -q "state sync: started from the snapshot at height" "$N/kulad.log"; }
wait_for 90 "node5 starts from a snapshot" started
S=$(sed -n 's/.*state sync: started from the snapshot at height \([0-9]*\).*/\1/p' "$N/kulad.log" | head -n 1)
((S >= 10 && S % 5 == 0)) || fail "node5 started from height $S, not a snapshot height >= 10"
grep -q "snapshot heights checked from the genesis" "$N/kulad.log" || fail "node5 does not say it checked the heights"
grep -q "sync: at block 1 \|sync: asked peer [0-9]* for blocks 1\.\." "$N/kulad.log" &&
    fail "node5 replayed blocks from the genesis"
pass "node5 checked the snapshot heights from the genesis and started from height $S"

T=$(($(tn_height 1) + 2))
wait_for 90 "node5 follows to block $T" height_at_least 5 "$T"
[[ $(block_hash 5 "$T") == $(block_hash 1 "$T") ]] || fail "node5's block $T is not node1's"
pass "node5 follows the chain to block $T, node1's block"

backfilled() { grep -q "backfill: every block from the genesis is stored" "$N/kulad.log"; }
wait_for 120 "node5 stores every block below the snapshot" backfilled
for h in 1 $((S - 1)) "$S"; do
    [[ $(block_hash 5 "$h") == $(block_hash 1 "$h") ]] || fail "node5's block $h is not node1's"
done
pass "node5 fetched blocks 1..$S from the top down: blocks 1, $((S - 1)) and $S are node1's"

# its own copies for the next new node
kept() { grep -q "snapshot: kept the state at height" "$N/kulad.log"; }
wait_for 60 "node5 keeps a copy of its own" kept
pass "node5 keeps copies of the state for others: $(grep -o 'snapshot: kept the state at height [0-9]*' "$N/kulad.log" | tail -n 1)"

# ---- kula audit verifies it from the genesis ----
"$KULA" audit "$N" --json >"$TMP/audit5.json" 2>"$TMP/audit5.err" || {
    cat "$TMP/audit5.err" >&2
    fail "kula audit of node5's ledger failed" "$TMP/audit5.json"
}
/usr/bin/python3 - "$TMP/audit5.json" <<'PY' || fail "kula audit of node5's ledger" "$TMP/audit5.json"
import json, sys
a = json.load(open(sys.argv[1]))
assert a["ok"] is True, a
PY
pass "kula audit of node5's data directory verifies every block from the genesis: OK"

# ---- the index of the transactions below the snapshot: a reindex ----
# The blocks below the snapshot are stored, not applied: node5 has no index
# entry for their transactions until kulad --reindex replays them.
tx_height() { q "$1" tx "$2" --json 2>/dev/null | jfield '.get("height")' 2>/dev/null; }
OLD=$(head -n 1 "$D/committed.txt")
HOLD=$(tx_height 1 "$OLD")
((HOLD > 0 && HOLD <= S)) || fail "the first loaded transaction is at height '$HOLD', not below the snapshot $S"
[[ $(tx_height 5 "$OLD") == "$HOLD" ]] && fail "node5 indexed a transaction below its snapshot without a reindex"

# ---- restarted with --reindex, it goes on from its own ledger ----
tn_stop_pids 20 "$(<"$N/kulad.pid")" >/dev/null
n0=$(wc -l <"$N/kulad.log")
tn_start_node 5 --reindex || fail "restart node5 with --reindex"
BB_PIDS+=("$(<"$N/kulad.pid")")
[[ $(tx_height 5 "$OLD") == "$HOLD" ]] || fail "after kulad --reindex node5 does not find transaction $OLD at height $HOLD"
pass "after kulad --reindex, node5 finds a transaction of block $HOLD, below its snapshot, as node1 does"
T=$(($(tn_height 1) + 2))
wait_for 60 "node5 follows again to block $T" height_at_least 5 "$T"
tail -n +"$((n0 + 1))" "$N/kulad.log" | grep -q "state sync: not needed, the ledger is at height" ||
    fail "node5 did not say state sync is not needed on its restart"
pass "restarted, node5 goes on from its own ledger to block $T"

# ---- no peer with a copy: the node replays from the genesis instead ----
# node5 keeps no copy any more (snapshots-kept = 0); node6, state sync on,
# has node5 as its only peer: node5 proves its snapshot heights but offers
# no copy, so node6 says so and replays the chain from node5's blocks
# (which node5 fetched below its own snapshot).
tn_stop_pids 20 "$(<"$N/kulad.pid")" >/dev/null
echo "snapshots-kept = 0" >>"$N/kulad.conf"
rm -f "$N"/snapshots/state-*.snap
tn_start_node 5 || fail "restart node5 without copies"
BB_PIDS+=("$(<"$N/kulad.pid")")
M=$D/node6
new_node 6 b2 5
printf 'max-outbound = 1\nmax-inbound = 0\n' >>"$M/kulad.conf"
BB_LOGS+=("$M/kulad.log")
tn_start_node 6 || fail "start node6"
BB_PIDS+=("$(<"$M/kulad.pid")")
fell_back() { grep -q "state sync: no peer offered a snapshot this node could check and fetch: replaying the chain from the genesis instead" "$M/kulad.log"; }
wait_for 60 "node6 falls back to replaying the chain" fell_back
T=$(($(tn_height 1) + 1))
wait_for 120 "node6 replays to block $T" height_at_least 6 "$T"
grep -q "state sync: started from the snapshot" "$M/kulad.log" && fail "node6 started from a snapshot"
[[ $(block_hash 6 "$T") == $(block_hash 1 "$T") ]] || fail "node6's block $T is not node1's"
pass "with no copy to fetch, node6 says so and replays the chain from the genesis to block $T"

bb_tool 120 check "$REPO/testnet/check"
pass "testnet/check agrees on nodes 1-4"
