#!/usr/bin/env bash
# ingest_ratio.sh -- tests/bench/ingest_ratio end to end, small: one
# validator (testnet/up 1) takes 3,000 transactions that the load generator
# signed ahead (kula-loadgen --presign); the script's one line must name the
# rate, the raw verify rate, their ratio and check OK (testnet/check on a
# one-node testnet), and every presigned transaction must be committed.
# Then 4,000 with eight requests in flight, so that several wait for the
# verifier at once.  Bad input is refused with words and status 2: the
# script's --txs out of range, and --presign with --inflight in the load
# generator.
#
# Usage: bash ingest_ratio.sh PATH/kulad PATH/kula
set -euo pipefail
BB_NAME=ingest_ratio
source "$(dirname "$0")/testnet_test.bash"
bb_loadgen

rc=0
"$REPO/tests/bench/ingest_ratio" --txs 5 >"$TMP/bad.out" 2>&1 || rc=$?
[[ $rc == 2 ]] || fail "ingest_ratio --txs 5 exited $rc, not 2"
grep -q -- "--txs: a whole number of transactions from 1000 to 1000000, not '5'" "$TMP/bad.out" ||
    fail "ingest_ratio --txs 5 said: $(cat "$TMP/bad.out")"
pass "ingest_ratio refuses --txs 5 with words"

if [[ -n ${KULA_BUILD_DIR:-} ]]; then
    rc=0
    "$KULA_BUILD_DIR/kula-loadgen" --presign 100 --inflight 50 >"$TMP/bad2.out" 2>&1 || rc=$?
    [[ $rc == 2 ]] || fail "kula-loadgen --presign 100 --inflight 50 exited $rc, not 2"
    grep -q "leave out --inflight, --ahead and --rate" "$TMP/bad2.out" ||
        fail "kula-loadgen --presign --inflight said: $(cat "$TMP/bad2.out")"
    pass "kula-loadgen refuses --presign with --inflight"
    rc=0
    "$KULA_BUILD_DIR/kula-loadgen" --crypto-threads 2 >"$TMP/bad3.out" 2>&1 || rc=$?
    [[ $rc == 2 ]] && grep -q -- "--crypto-threads N goes with --crypto-rate S" "$TMP/bad3.out" ||
        fail "kula-loadgen --crypto-threads alone: exit $rc, said: $(cat "$TMP/bad3.out")"
    pass "kula-loadgen refuses --crypto-threads without --crypto-rate"
fi

bb_tool 300 ingest "$REPO/tests/bench/ingest_ratio" --txs 3000 --port "$BASE" \
    --kulad "$KULAD" --kula "$KULA" --keep "$TMP/ingest"
re='^ingest: ([0-9]+) tx/s in kulad \(3000 presigned, 1000 a request, [0-9.]+ signatures each\), raw 2-thread verify ([0-9]+) tx/s \(([0-9]+) signatures a second on 2 threads at once\), ratio ([0-9.]+) \([0-9.]+ against 2 x one thread, [0-9]+ a CPU-second\), kulad cpu/tx/verify [0-9.]+, check OK$'
[[ $LINE =~ $re ]] || fail "unexpected line: $LINE"
((BASH_REMATCH[1] > 0 && BASH_REMATCH[2] > 0 && BASH_REMATCH[3] > 0)) || fail "a rate of 0 in: $LINE"
grep -q "3000 of 3000 presigned transactions committed" "$TMP/ingest.out" ||
    fail "not every presigned transaction was committed"
grep -q "check: 1 node, .*3000/3000 committed txs on every node: OK" "$TMP/ingest.out" ||
    fail "testnet/check did not find the 3000 on the node"
pass "ingest_ratio: ${BASH_REMATCH[1]} tx/s, ratio ${BASH_REMATCH[4]}, every transaction committed"

mapfile -t left < <(pgrep -f -- "--datadir $TMP/ingest/" || true)
((${#left[@]} == 0)) || fail "ingest_ratio left kulad running: ${left[*]}"
pass "ingest_ratio stopped its node"

# Eight requests of 250 in flight, into a node of the test's own: it
# verifies up to four while its loop goes on (node/api/rpc.c
# BULK_WAITS_MAX), the others on the loop after answering those; every
# transaction must be admitted once and committed, and /metrics must count
# requests of both kinds.
bb_up 1
bb_tool 300 load8 "$REPO/testnet/load" --presign 4000 --batch 250 --requests 8 --nodes 1 \
    --seconds 120 -q
grep -q "4000 of 4000 presigned transactions committed" "$TMP/load8.out" ||
    fail "eight requests in flight: not every presigned transaction was committed"
grep -q " 0 errors; 0 EMEMPOOLFULL" "$TMP/load8.out" ||
    fail "eight requests in flight: $(grep http "$TMP/load8.out")"
curl -s -m 5 "http://127.0.0.1:$(tn_rpc_port 1)/metrics" >"$TMP/metrics.txt"
over=$(awk '$1 == "kula_api_submit_requests_total{verified=\"overlapped\"}" { print $2 }' "$TMP/metrics.txt")
onloop=$(awk '$1 == "kula_api_submit_requests_total{verified=\"on-loop\"}" { print $2 }' "$TMP/metrics.txt")
[[ -n $over && -n $onloop ]] || fail "no kula_api_submit_requests_total in /metrics"
((over > 0 && over + onloop >= 16)) ||
    fail "eight requests in flight: $over overlapped, $onloop on the loop"
pass "--requests 8: 4000 committed, no request failed; $over requests overlapped, $onloop on the loop"
bb_check_down

echo "$BB_NAME: $passed passed"
