#!/usr/bin/env bash
# p2p_catchup.sh -- benchmark of issue 5: a fresh node catching up with a
# ledger of 100,000 transactions over the peer protocol.
#
# bench_replay builds the ledger (100,000 signed transactions of the mixed
# workload in blocks of 1,000, cached under /tmp/kula-bench-cache) in a data
# directory; kulad A serves it.  A fresh kulad B with an empty data directory
# dials A and syncs: GET_BLOCKS in batches of 64, each block applied with
# every transaction signature and every commit verified.  Both are observers
# of each other (neither is a member of the benchmark network), so each is
# started once to make its identity key first.  Timed: from B's start until
# B's height equals A's.
#
# Usage: tests/bench/p2p_catchup.sh [BUILD_DIR] [TXS] [BLOCK]
#   BUILD_DIR  a release build (default: build); TXS default 100000;
#   BLOCK transactions per block, default 1000.
#   KULA_BENCH_PORT=P uses ports P..P+3 (default: a free random base).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build}
TXS=${2:-100000}
BLOCK=${3:-1000}
KULAD=$BUILD/kulad
KULA=$BUILD/kula
[[ -x $KULAD && -x $BUILD/tests/bench_replay ]] || { echo "build $BUILD first" >&2; exit 2; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/kula-catchup.XXXXXX")
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT

echo "building the ledger: $TXS transactions in blocks of $BLOCK (bench_replay)"
"$BUILD/tests/bench_replay" --txs "$TXS" --block "$BLOCK" --dir "$TMP/a" --keep >"$TMP/build.log" 2>&1 ||
    { tail "$TMP/build.log"; exit 1; }
G=$TMP/a/GENESIS.json

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for try in $(seq 1 20); do
    BASE=${KULA_BENCH_PORT:-$((20000 + RANDOM % 12000))}
    port_busy $BASE || port_busy $((BASE + 1)) || port_busy $((BASE + 2)) ||
        port_busy $((BASE + 3)) || break
done

# identity: start once, read the key from the log, stop
identity() {
    local dir=$1 port=$2
    "$KULAD" --datadir "$dir" --genesis "$G" --listen "127.0.0.1:$port" \
        --rpc "127.0.0.1:$((port + 1))" >"$dir.id.log" 2>&1 &
    local pid=$! i
    for i in $(seq 1 100); do grep -q "peers know this node" "$dir.id.log" && break; sleep 0.1; done
    kill -TERM $pid; wait $pid || true
    sed -n 's/.*peers know this node by the key \([0-9a-f]*\).*/\1/p' "$dir.id.log" | head -1
}
KA=$(identity "$TMP/a" $BASE)
mkdir -p "$TMP/b"
KB=$(identity "$TMP/b" $((BASE + 2)))
rm -rf "$TMP/b/ledger"

"$KULAD" --datadir "$TMP/a" --genesis "$G" --listen "127.0.0.1:$BASE" --rpc "127.0.0.1:$((BASE + 1))" \
    --observer "$KB" >"$TMP/a.log" 2>&1 &
PIDS+=($!)
disown $!
for i in $(seq 1 200); do [[ -f $TMP/a/rpc.cookie ]] && break; sleep 0.1; done
target=$("$KULA" --datadir "$TMP/a" status --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["height"])')
echo "node A serves $target blocks"

t0=$(date +%s.%N)
SECONDS=0
"$KULAD" --datadir "$TMP/b" --genesis "$G" --listen "127.0.0.1:$((BASE + 2))" \
    --rpc "127.0.0.1:$((BASE + 3))" --observer "$KA" --peer "127.0.0.1:$BASE" >"$TMP/b.log" 2>&1 &
PIDS+=($!)
disown $!
while ! grep -q "sync: caught up at block $target" "$TMP/b.log"; do
    kill -0 "${PIDS[1]}" 2>/dev/null || { tail "$TMP/b.log"; exit 1; }
    sleep 0.05
    ((SECONDS < 900)) || { echo "no catch-up in 900 s" >&2; exit 1; }
done
t1=$(date +%s.%N)
h=$("$KULA" --datadir "$TMP/b" status --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["height"])')
[[ $h -ge $target ]] || { echo "B is at $h of $target" >&2; exit 1; }
/usr/bin/python3 -c "
s = $t1 - $t0
print(f'caught up: {$target} blocks, {$TXS} transactions in {s:.2f} s '
      f'(from start, incl. open and handshake): {$target/s:.0f} blocks/s, {$TXS/s:.0f} tx/s')"
