#!/usr/bin/env bash
# node_blocks.sh -- a real kulad on the default GENESIS.json produces blocks,
# stops cleanly on SIGTERM, resumes at its stored height after a restart,
# and a --reindex rebuilds exactly the state it had.
#
# Usage: bash node_blocks.sh PATH/kulad PATH/kula
set -euo pipefail

KULAD=${1:?usage: node_blocks.sh PATH/kulad PATH/kula}
KULA=${2:?usage: node_blocks.sh PATH/kulad PATH/kula}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
GENESIS=$REPO/GENESIS.json

TMP=$(mktemp -d "${TMPDIR:-/tmp}/kula-node-blocks.XXXXXX")
DATA=$TMP/data
PID=
passed=0

cleanup() {
    if [[ -n "$PID" ]] && kill -0 "$PID" 2>/dev/null; then
        kill -KILL "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT

fail() {
    echo "node_blocks: FAIL: $*" >&2
    for log in "$TMP"/*.log; do
        [[ -f "$log" ]] || continue
        echo "---- $log (last 20 lines)" >&2
        tail -n 20 "$log" >&2
    done
    echo "node_blocks: $passed passed, 1 failed"
    exit 1
}

pass() {
    passed=$((passed + 1))
    echo "ok $passed - $*"
}

# start LOG [ARGS...]: starts kulad in the background, logging to LOG.
start() {
    local log=$1
    shift
    "$KULAD" --datadir "$DATA" --genesis "$GENESIS" -v "$@" >"$log" 2>&1 &
    PID=$!
}

# stop: SIGTERM, then the exit status must be 0 (within 15 s).
stop() {
    kill -TERM "$PID"
    local i
    for ((i = 0; i < 150; i++)); do
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$PID" 2>/dev/null && fail "kulad did not stop within 15 s of SIGTERM"
    local rc=0
    wait "$PID" || rc=$?
    PID=
    [[ $rc -eq 0 ]] || fail "kulad exited with status $rc after SIGTERM"
}

# wait_for LOG REGEX: polls LOG (at most 15 s) for a line matching REGEX.
wait_for() {
    local log=$1 re=$2 i
    for ((i = 0; i < 150; i++)); do
        grep -Eq -- "$re" "$log" 2>/dev/null && return 0
        kill -0 "$PID" 2>/dev/null || fail "kulad exited while waiting for '$re'"
        sleep 0.1
    done
    fail "no line matching '$re' in $log within 15 s"
}

# highest committed block in LOG (0 if none)
last_block() {
    { grep -Eo 'committed block [0-9]+' "$1" || true; } | awk '{ if ($3 > m) m = $3 } END { print m + 0 }'
}

# wait_block LOG N: waits until LOG shows a committed block >= N.
wait_block() {
    local log=$1 want=$2 i
    for ((i = 0; i < 150; i++)); do
        (($(last_block "$log") >= want)) && return 0
        kill -0 "$PID" 2>/dev/null || fail "kulad exited while waiting for block $want"
        sleep 0.1
    done
    fail "no 'committed block $want' (or later) in $log within 15 s"
}

# the "ledger height N, state root R" start line of LOG: prints "N R"
start_line() {
    sed -nE 's/.*ledger height ([0-9]+), state root ([0-9a-f]+).*/\1 \2/p' "$1" | tail -n 1
}

[[ -x "$KULAD" ]] || fail "$KULAD is not executable"
[[ -x "$KULA" ]] || fail "$KULA is not executable"
[[ -f "$GENESIS" ]] || fail "no $GENESIS"

# ---- 1. a fresh node produces blocks and stops cleanly ----
start "$TMP/run1.log"
wait_for "$TMP/run1.log" 'ledger height 0,'
pass "fresh node starts at height 0"
wait_block "$TMP/run1.log" 3
pass "fresh node committed block $(last_block "$TMP/run1.log")"
stop
grep -q 'stopped cleanly' "$TMP/run1.log" || fail "no 'stopped cleanly' in run1.log"
pass "SIGTERM: exit status 0, stopped cleanly"
h1=$(last_block "$TMP/run1.log")

# ---- 2. a restart resumes at the stored height and goes on ----
start "$TMP/run2.log"
wait_for "$TMP/run2.log" 'ledger height [0-9]+,'
read -r h2 root2 <<<"$(start_line "$TMP/run2.log")"
((h2 >= 3)) || fail "restart at height $h2, expected >= 3"
((h2 == h1)) || fail "restart at height $h2, but the last committed block was $h1"
pass "restart resumes at the stored height $h2"
wait_block "$TMP/run2.log" $((h2 + 2))
pass "restarted node goes on to block $(last_block "$TMP/run2.log")"
stop
pass "second SIGTERM: exit status 0"

# ---- 3. the state root at the current height, as a normal start reports
# it (stopped before it can produce a block; retried if it did) ----
ref_h= ref_root=
for attempt in 1 2 3; do
    start "$TMP/run3.log"
    wait_for "$TMP/run3.log" 'ledger height [0-9]+,'
    stop
    if (($(last_block "$TMP/run3.log") == 0)); then
        read -r ref_h ref_root <<<"$(start_line "$TMP/run3.log")"
        break
    fi
done
[[ -n "$ref_h" ]] || fail "could not stop kulad before its first block in 3 attempts"
((ref_h >= h2 + 2)) || fail "stored height $ref_h, expected >= $((h2 + 2))"
pass "plain start reports height $ref_h, state root $ref_root"

# ---- 4. --reindex rebuilds the same state ----
start "$TMP/run4.log" --reindex
wait_for "$TMP/run4.log" 'ledger height [0-9]+,'
grep -q 'reindex: every hash link, transactions root and state root checked' "$TMP/run4.log" ||
    fail "reindex did not report every root checked"
grep -Eq "reindex: $ref_h/$ref_h blocks" "$TMP/run4.log" ||
    fail "reindex progress did not reach $ref_h/$ref_h"
pass "reindex checked every root of $ref_h blocks"
read -r h4 root4 <<<"$(start_line "$TMP/run4.log")"
((h4 == ref_h)) || fail "after reindex at height $h4, expected $ref_h"
[[ "$root4" == "$ref_root" ]] || fail "state root after reindex $root4, before $ref_root"
pass "state root after reindex equals the one before: $root4"
wait_block "$TMP/run4.log" $((ref_h + 1))
pass "node goes on after reindex to block $(last_block "$TMP/run4.log")"
stop
pass "third SIGTERM: exit status 0"

echo "node_blocks: $passed passed, 0 failed"
