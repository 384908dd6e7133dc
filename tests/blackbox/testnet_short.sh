#!/usr/bin/env bash
# testnet_short.sh -- the local testnet tools end to end, with the binaries
# under test: testnet/up 4 -> a few blocks -> load (testnet/load --seconds 10
# if it exists, else a few payments with kula, their ids in committed.txt) ->
# testnet/chaos --seconds 20 -> testnet/check -> testnet/down, checking each
# exit status and that no kulad is left.  The run directory is a temporary
# one ($KULA_TESTNET_DIR), the port base a random free one below 32768.
#
# Usage: bash testnet_short.sh PATH/kulad PATH/kula
set -euo pipefail

KULAD=${1:?usage: testnet_short.sh PATH/kulad PATH/kula}
KULA=${2:?usage: testnet_short.sh PATH/kulad PATH/kula}
BB_NAME=testnet_short
source "$(dirname "$0")/testnet_test.bash" # REPO, TMP, BASE, fail, pass, cleanup
T_START=$(tn_now)
# each step with its time
pass() { passed=$((passed + 1)); echo "ok $passed - $* ($(awk -v a="$T_STEP" -v b="$(tn_now)" 'BEGIN { printf "%.1f s", b - a }'))"; }

# run SECONDS OUTFILE COMMAND...: run a tool with a bound, its output shown
# indented and kept in OUTFILE; returns its status.
run() {
    local secs=$1 out=$2 rc=0
    shift 2
    T_STEP=$(tn_now)
    timeout --kill-after=10 "$secs" "$@" >"$out" 2>&1 || rc=$?
    sed 's/^/    /' "$out"
    return $rc
}

# ---- 1. up ----
run 120 "$TMP/up.out" "$REPO/testnet/up" 4 --port "$BASE" --kulad "$KULAD" --kula "$KULA" \
    --snapshot-interval 3 ||
    fail "testnet/up exited $?"
grep -q "testnet up: 4 nodes" "$TMP/up.out" || fail "testnet/up printed no summary"
[[ -f $KULA_TESTNET_DIR/testnet.env ]] || fail "no testnet.env"
source "$KULA_TESTNET_DIR/testnet.env"
[[ $KULAD -ef $1 && $KULA -ef $2 ]] || fail "testnet.env does not name the binaries under test"
for k in 1 2 3 4; do
    [[ -s $KULA_TESTNET_DIR/node$k/kulad.pid && -f $KULA_TESTNET_DIR/node$k/kulad.conf ]] ||
        fail "node$k has no pid file or kulad.conf"
done
[[ $(stat -c %a "$KULA_TESTNET_DIR/passphrase") == 600 ]] || fail "passphrase is not mode 0600"
pass "testnet/up 4 starts 4 validators at height >= 2"

# ---- 2. a few blocks ----
T_STEP=$(tn_now)
h0=$(tn_height 1)
for ((i = 0; i < 300; i++)); do
    (($(tn_height 1) >= h0 + 3)) && break
    sleep 0.1
done
(($(tn_height 1) >= h0 + 3)) || fail "node1 did not grow 3 blocks in 30 s (height $(tn_height 1))"
pass "the network makes blocks (node1 $h0 -> $(tn_height 1))"

# ---- 3. load ----
if [[ -x $REPO/testnet/load && -z ${KULA_TESTNET_NO_LOAD:-} ]]; then
    # the load generator built beside the kulad under test, when there is one
    if [[ -x $(dirname "$1")/kula-loadgen ]]; then
        KULA_BUILD_DIR=$(cd "$(dirname "$1")" && pwd)
        export KULA_BUILD_DIR
    fi
    # --overspend 3: three transfers a node refuses at submission (ECREDIT),
    # each a nonce gap the generator must fill rather than give up the
    # member's later transactions
    run 90 "$TMP/load.out" "$REPO/testnet/load" --seconds 10 --overspend 3 ||
        fail "testnet/load exited $?"
    [[ -s $KULA_TESTNET_DIR/committed.txt ]] || fail "testnet/load wrote no committed.txt"
    /usr/bin/python3 - "$TMP/load.out" <<'PY' || fail "testnet/load did not keep the members' transactions past its refused ones"
import re, sys
out = open(sys.argv[1]).read()
m = re.search(r"rejected +(\d+) at submission; (\d+) given up after a stall \((\d+) resyncs, "
              r"\d+ times [^,]*, (\d+) nonce gaps filled\)", out)
assert m, "no 'rejected' line"
rejected, given_up, resyncs, filled = map(int, m.groups())
credit = re.search(r"ECREDIT +(\d+)", out)
assert credit and int(credit.group(1)) >= 3, "fewer than 3 ECREDIT refusals"
assert rejected >= 3 and filled >= 3, (rejected, filled)
assert given_up == 0 and resyncs == 0, (given_up, resyncs)
PY
    pass "testnet/load --seconds 10 --overspend 3 ($(wc -l <"$KULA_TESTNET_DIR/committed.txt") committed txs, the refused transfers' nonces filled)"
else
    T_STEP=$(tn_now)
    for i in 1 2 3 4 5 6; do
        out=$(timeout 30 "$KULA" --wallet "$WALLET" --passphrase-file "$PASSPHRASE_FILE" \
            --datadir "$KULA_TESTNET_DIR/node$((i % 4 + 1))" --json \
            pay --key "b$i" --to "b$((i + 1))" "$i.00" --memo "testnet_short $i") ||
            fail "kula pay b$i -> b$((i + 1)): $out"
        /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["status"]=="committed", d; print(d["id"])' \
            <<<"$out" >>"$KULA_TESTNET_DIR/committed.txt" || fail "payment $i not committed: $out"
    done
    pass "no testnet/load: 6 payments with kula through 4 nodes, ids in committed.txt"
fi

# ---- 4. chaos ----
run 150 "$TMP/chaos.out" "$REPO/testnet/chaos" --seconds 20 || fail "testnet/chaos exited $?"
grep -q "^chaos: [1-9][0-9]* faults" "$TMP/chaos.out" || fail "testnet/chaos injected no fault"
pass "testnet/chaos --seconds 20: faults healed, progress made"

# ---- 5. check ----
run 90 "$TMP/check.out" "$REPO/testnet/check" || fail "testnet/check exited $?"
grep -q "^check: 4 nodes, .* 0 forks, state roots equal, balance sum 0[^,]*, \([0-9]*\)/\1 committed txs on every node: OK" \
    "$TMP/check.out" || fail "testnet/check did not report 4 agreeing nodes with every tx committed"
pass "testnet/check: 4 nodes agree"

# ---- 6. down ----
run 60 "$TMP/down.out" "$REPO/testnet/down" || fail "testnet/down exited $?"
stray=$(tn_stray_pids | tr '\n' ' ')
[[ -z $stray ]] || fail "kulad left running after testnet/down: $stray"
ls "$KULA_TESTNET_DIR"/node*/kulad.pid >/dev/null 2>&1 && fail "pid files left after testnet/down"
[[ -d $KULA_TESTNET_DIR/node1/ledger ]] || fail "testnet/down did not keep the data"
pass "testnet/down stops every node and keeps the data"

echo "testnet_short: $passed passed, 0 failed in $(awk -v a="$T_START" -v b="$(tn_now)" 'BEGIN { printf "%.1f s", b - a }')"
