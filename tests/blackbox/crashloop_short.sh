#!/usr/bin/env bash
# crashloop_short.sh -- the short form of testnet/crashloop: on a testnet of
# 4 validators (testnet/up 4) under load, node 2 is killed with SIGKILL 20
# times (half of the kills aimed at a block's commit) and restarted; every
# restart must open, its chain must only grow, nothing the load saw
# committed may be lost, `kula audit` and testnet/check must pass, and at
# least one kill must have landed inside a block's commit.
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
echo "crashloop_short: $passed passed, 0 failed"
