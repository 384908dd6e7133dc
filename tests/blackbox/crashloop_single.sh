#!/usr/bin/env bash
# crashloop_single.sh -- the short form of testnet/crashloop on a single
# validator (testnet/up 1): under load it is killed with SIGKILL 30 times
# (half of the kills aimed at a block's commit) and restarted; every restart
# must open and commit again (a single validator killed after it
# precommitted a block must propose that very block again: issue 18), its
# chain must only grow, nothing the load saw committed may be lost, and
# `kula audit` must pass.
#
# Usage: bash crashloop_single.sh PATH/kulad PATH/kula
set -euo pipefail

KULAD=${1:?usage: crashloop_single.sh PATH/kulad PATH/kula}
KULA=${2:?usage: crashloop_single.sh PATH/kulad PATH/kula}
BB_NAME=crashloop_single
source "$(dirname "$0")/testnet_test.bash" # REPO, TMP, BASE, fail, pass, cleanup
bb_up 1
bb_tool 450 crashloop "$REPO/testnet/crashloop" --kills 30 --node 1 --rate 50 --seconds 400
[[ $LINE =~ ^crashloop:\ node1\ of\ 1,\ 30\ kills\ \(([0-9]+)\ inside ]] ||
    fail "testnet/crashloop's summary does not report 30 kills: $LINE"
inside=${BASH_REMATCH[1]}
[[ $LINE == *", 30 restarts, 0 failures to open, "* && $LINE == *" 0 lost, audit OK"*": OK" ]] ||
    fail "testnet/crashloop's summary: $LINE"
pass "30 kills of a single validator under load ($inside inside a block's commit): every restart opens and commits again, nothing lost, audit passes"
echo "crashloop_single: $passed passed, 0 failed"
