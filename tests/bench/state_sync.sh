#!/usr/bin/env bash
# state_sync.sh -- how long a new node takes to join a network with a
# long history: by state sync against a full catch-up, in one run (issue
# 15: under 10 % of the time).
#
#   tests/bench/state_sync.sh [--txs N] [--snapshot-interval B] [--rounds R]
#                             [--port BASE] [--kulad PATH --kula PATH]
#
# Starts testnet/up 4 (blocks every 250 ms, a snapshot height every B
# blocks, default 100), loads it with testnet/load until N transactions
# (default 200000) are committed, and waits for the load to drain.  Then,
# R times (default 2), one node after the other on the idle network, a new
# member's node with an empty data directory is started and timed until it
# reaches node1's height at its start: with state-sync = yes, then without
# (the full catch-up, every block applied and checked).  The state-synced
# node of the last round is then left to fetch the blocks below its
# snapshot, and `kula audit` of its data directory must verify the chain
# from the genesis.  Prints each time, and one line:
#   state sync S s, full catch-up F s, ratio S/F (target < 0.10), audit OK
# with the means over the rounds.  The testnet is removed at the end.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)

TXS=200000 SNAP=100 ROUNDS=2 BASE=29400 KULAD="" KULA=""
while (($# > 0)); do
    case $1 in
    --txs) TXS=$2; shift 2 ;;
    --snapshot-interval) SNAP=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --port) BASE=$2; shift 2 ;;
    --kulad) KULAD=$2; shift 2 ;;
    --kula) KULA=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "state_sync.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done
[[ -n $KULAD ]] || KULAD=$REPO/build/kulad
[[ -n $KULA ]] || KULA=$REPO/build/kula
[[ -x $KULAD && -x $KULA ]] || { echo "state_sync.sh: no $KULAD or $KULA (build first, or --kulad/--kula)" >&2; exit 2; }
KULAD=$(cd "$(dirname "$KULAD")" && pwd)/$(basename "$KULAD")
KULA=$(cd "$(dirname "$KULA")" && pwd)/$(basename "$KULA")

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kula-bench-statesync.XXXXXX")
export KULA_TESTNET_DIR=$WORK/run KULA_BUILD_DIR=$(dirname "$KULAD")
source "$REPO/testnet/lib.sh"
TN_ME=state_sync.sh
PIDS=()
calc() { awk "BEGIN { print $* }"; }
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    timeout 60 "$REPO/testnet/down" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

"$REPO/testnet/up" 4 --port "$BASE" --snapshot-interval "$SNAP" --kulad "$KULAD" --kula "$KULA" \
    >"$WORK/up.log" 2>&1 || { cat "$WORK/up.log"; exit 1; }
tn_load_env
D=$KULA_TESTNET_DIR

# ---- the history: N committed transactions ----
total=0 round=0
t_load=$(tn_now)
while ((total < TXS)); do
    round=$((round + 1))
    "$REPO/testnet/load" --seconds 20 --out "$D/committed-$round.txt" -q >"$WORK/load-$round.log" 2>&1 ||
        { tail -n 5 "$WORK/load-$round.log"; exit 1; }
    total=$(cat "$D"/committed-*.txt | wc -l)
    echo "state_sync.sh: $total transactions committed"
done
H=$(tn_height 1)
echo "state_sync.sh: history of $total transactions in $H blocks ($(printf '%.0f' "$(calc "$(tn_now) - $t_load")") s of load); node1's state copies: $(ls "$D/node1/snapshots" | tr '\n' ' ')"

# ---- the new nodes ----
# new_node K KEY SYNC: an empty data directory for member KEY's node K
new_node() {
    local k=$1 key=$2 sync=$3 dir
    dir=$(tn_node_dir "$k")
    rm -rf "$dir"
    mkdir -p "$dir"
    chmod 700 "$dir"
    cp "$WALLET/$key.key" "$dir/node.key"
    {
        echo "genesis = $GENESIS"
        echo "listen = 127.0.0.1:$(tn_p2p_port "$k")"
        echo "rpc = 127.0.0.1:$(tn_rpc_port "$k")"
        echo "passphrase-file = $D/passphrase"
        for j in 1 2 3 4; do echo "peer = 127.0.0.1:$(tn_p2p_port "$j")"; done
        echo "state-sync = $sync"
    } >"$dir/kulad.conf"
}

# timed K: starts node K and prints the seconds until it reaches node1's
# height at its start (at most 1800 s)
timed() {
    local k=$1 target t0 h
    target=$(tn_height 1)
    t0=$(tn_now)
    tn_start_node "$k" >&2 || exit 1
    PIDS+=("$(<"$(tn_node_dir "$k")/kulad.pid")")
    while :; do
        h=$(tn_height "$k" 2>/dev/null || echo 0)
        ((h >= target)) && break
        if [[ $(calc "((($(tn_now)) - $t0) > 1800)") == 1 ]]; then
            echo "state_sync.sh: node$k at $h of $target after 1800 s" >&2
            exit 1
        fi
        sleep 0.05
    done
    calc "$(tn_now) - $t0"
}

stop_node() { tn_stop_pids 30 "$(<"$(tn_node_dir "$1")/kulad.pid")" >/dev/null; }

sum_s=0 sum_f=0
for ((r = 1; r <= ROUNDS; r++)); do
    # the full catch-up first, so that the last state-synced node can go on
    # fetching the blocks below its snapshot without slowing anything timed
    new_node 6 b2 no
    f=$(timed 6)
    stop_node 6
    new_node 5 b1 yes
    s=$(timed 5)
    from=$(sed -n 's/.*state sync: started from the snapshot at height \([0-9]*\).*/\1/p' "$(tn_node_dir 5)/kulad.log" | head -n 1)
    [[ -n $from ]] || { echo "state_sync.sh: node5 did not start from a snapshot"; tail -n 20 "$(tn_node_dir 5)/kulad.log"; exit 1; }
    ((r < ROUNDS)) && stop_node 5
    printf 'state_sync.sh: round %d: state sync %.2f s (from the snapshot at height %s), full catch-up %.2f s (%s blocks)\n' \
        "$r" "$s" "$from" "$f" "$(tn_height 1)"
    sum_s=$(calc "$sum_s + $s")
    sum_f=$(calc "$sum_f + $f")
done

# ---- the last state-synced node fetches the blocks below, then audits ----
log5=$(tn_node_dir 5)/kulad.log
t0=$(tn_now)
for ((i = 0; i < 36000; i++)); do
    grep -q "backfill: every block from the genesis is stored" "$log5" && break
    sleep 0.05
done
grep -q "backfill: every block from the genesis is stored" "$log5" || { echo "state_sync.sh: node5 did not fetch the blocks below its snapshot"; exit 1; }
bf=$(calc "$(tn_now) - $t0")
t0=$(tn_now)
"$KULA" audit "$(tn_node_dir 5)" >"$WORK/audit.txt" 2>&1 || { cat "$WORK/audit.txt"; exit 1; }
au=$(calc "$(tn_now) - $t0")
grep -q "^audit OK" "$WORK/audit.txt" || { cat "$WORK/audit.txt"; exit 1; }
printf 'state_sync.sh: node5 fetched the blocks below its snapshot in %.1f s more; kula audit of its data directory: %s (%.1f s)\n' \
    "$bf" "$(head -n 1 "$WORK/audit.txt")" "$au"
printf 'state sync %.2f s, full catch-up %.2f s, ratio %.3f (target < 0.10), %d transactions, audit OK\n' \
    "$(calc "$sum_s / $ROUNDS")" "$(calc "$sum_f / $ROUNDS")" \
    "$(calc "$sum_s / $sum_f")" "$total"
