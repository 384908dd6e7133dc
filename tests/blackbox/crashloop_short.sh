#!/usr/bin/env bash
# crashloop_short.sh -- the short form of testnet/crashloop: on a testnet of
# 4 validators (testnet/up 4) under load, node 2 is killed with SIGKILL 20
# times (half of the kills aimed at a block's commit) and restarted; every
# restart must open, its chain must only grow, nothing the load saw
# committed may be lost, `kula audit` and testnet/check must pass, and at
# least one kill must have landed inside a block's commit; testnet/load gives
# no CPU figure (once "-0%") for the node that was restarted.
#
# Usage: bash crashloop_short.sh PATH/kulad PATH/kula
set -euo pipefail

KULAD=${1:?usage: crashloop_short.sh PATH/kulad PATH/kula}
KULA=${2:?usage: crashloop_short.sh PATH/kulad PATH/kula}
BB_NAME=crashloop_short
source "$(dirname "$0")/testnet_test.bash" # REPO, TMP, BASE, fail, pass, cleanup
bb_up4
bb_tool 400 crashloop "$REPO/testnet/crashloop" --kills 20 --node 2 --rate 50
[[ $LINE =~ ^crashloop:\ node2\ of\ 4,\ 20\ kills\ \(([0-9]+)\ inside ]] ||
    fail "testnet/crashloop's summary does not report 20 kills: $LINE"
((BASH_REMATCH[1] >= 1)) || fail "no kill landed inside a block's commit: $LINE"
[[ $LINE == *", 20 restarts, 0 failures to open, "* && $LINE == *" 0 lost, audit OK, testnet/check OK, "*": OK" ]] ||
    fail "testnet/crashloop's summary: $LINE"
pass "20 kills of node2 under load (${BASH_REMATCH[1]} inside a block's commit): every restart opens, nothing lost, audit and check pass"
# testnet/load's CPU figures: node 2, restarted, has none (it printed "-0%"
# and negative CPU per transaction, from a pid that was gone)
load=$D/crashloop-load.log
cpu=$(grep -h "kulad CPU during the run" "$load" || true)
[[ -n $cpu ]] || fail "testnet/load printed no kulad CPU line (see $load)"
[[ $cpu != *" -"* && $cpu != *"node2 "* ]] || fail "testnet/load's CPU line: $cpu"
grep -q "(node2 exited or was restarted during the run: its CPU is not known)" "$load" ||
    fail "testnet/load does not say node2's CPU is not known: $(grep -A2 'kulad CPU' "$load")"
if grep -E "^  node [0-9]+ [a-z]+ cpu -|^  node 2 " "$load"; then
    fail "testnet/load gave a CPU per transaction of a negative figure or of the restarted node2"
fi
pass "testnet/load: no CPU figure for the restarted node2, none negative ($cpu)"
echo "crashloop_short: $passed passed, 0 failed"
