#!/usr/bin/env bash
# check_fork.sh -- the negative control of testnet/check: on a testnet of 4
# validators, testnet/fork runs the keys of 2 of them twice on the two sides
# of a partition (each side then holds 3 of the 4 votes), both sides make
# blocks, and testnet/check must fail naming the fork and its first height.
# The test passes only when the checker catches the fork: the proof that it
# can fail.
#
# Usage: bash check_fork.sh PATH/kulad PATH/kula
set -euo pipefail

KULAD=${1:?usage: check_fork.sh PATH/kulad PATH/kula}
KULA=${2:?usage: check_fork.sh PATH/kulad PATH/kula}
BB_NAME=check_fork
source "$(dirname "$0")/testnet_test.bash" # REPO, TMP, BASE, fail, pass, cleanup

bb_up4
timeout 60 "$REPO/testnet/check" >"$TMP/check0.out" 2>&1 ||
    { cat "$TMP/check0.out" >&2; fail "testnet/check fails before the fork"; }
pass "testnet/check passes on the 4 validators: $(cat "$TMP/check0.out")"

timeout --kill-after=10 120 "$REPO/testnet/fork" --seconds 90 >"$TMP/fork.out" 2>&1 ||
    { cat "$TMP/fork.out" >&2; fail "testnet/fork exited $?"; }
line=$(tail -n 1 "$TMP/fork.out")
[[ $line =~ apart\ from\ height\ ([0-9]+) ]] || fail "testnet/fork's line names no height: $line"
apart=${BASH_REMATCH[1]}
pass "testnet/fork: $line"

rc=0
timeout 120 "$REPO/testnet/check" >"$TMP/check.out" 2>&1 || rc=$?
out=$(cat "$TMP/check.out")
((rc == 1)) || fail "testnet/check exited $rc on a forked testnet (expected 1): $out"
[[ $out =~ ^check:\ FAIL:\ [0-9]+\ fork\(s\),\ first\ at\ height\ ([0-9]+) ]] ||
    fail "testnet/check does not name a fork: $out"
first=${BASH_REMATCH[1]}
((first >= 1 && first <= apart)) ||
    fail "testnet/check names the fork at height $first, the sides are apart from $apart at the latest: $out"
[[ $out == *"6 nodes, "* ]] || fail "testnet/check did not read the 6 nodes: $out"
pass "testnet/check fails naming the fork at height $first"

timeout 60 "$REPO/testnet/down" >/dev/null || fail "testnet/down exited $?"
stray=$(tn_stray_pids | tr '\n' ' ')
[[ -z $stray ]] || fail "kulad left running after testnet/down: $stray"
pass "testnet/down stops the 6 nodes"
echo "check_fork: $passed passed, 0 failed"
