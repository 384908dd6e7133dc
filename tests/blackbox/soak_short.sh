#!/usr/bin/env bash
# soak_short.sh -- the short form of testnet/soak: 4 validators under 50
# transactions per second for 90 s, sampled every 2 s after a warm-up of
# 50 s (the heap of a fresh node fills its caches in its first 40 s or so:
# tests/bench/README.md); no node may stall, leak descriptors or grow its
# heap by more than 5 %, and testnet/check must pass.
#
# Usage: bash soak_short.sh PATH/kulad PATH/kula
set -euo pipefail

KULAD=${1:?usage: soak_short.sh PATH/kulad PATH/kula}
KULA=${2:?usage: soak_short.sh PATH/kulad PATH/kula}
BB_NAME=soak_short
source "$(dirname "$0")/testnet_test.bash" # REPO, TMP, BASE, fail, pass, cleanup
bb_up4
bb_tool 300 soak "$REPO/testnet/soak" --seconds 90 --interval 2 --warmup 50 --rate 50
[[ $LINE =~ ^soak:\ 4\ nodes,\ .*\ ([0-9]+)\ samples\ each,\ ([0-9]+)\ committed\ txs,.*testnet/check\ OK:\ OK$ ]] ||
    fail "testnet/soak's summary: $LINE"
((BASH_REMATCH[1] >= 40 && BASH_REMATCH[2] > 0)) || fail "too few samples or no committed transaction: $LINE"
[[ -s $KULA_TESTNET_DIR/soak.csv ]] || fail "no soak.csv"
pass "90 s of load on 4 validators: no stall, no descriptor leak, heap within 5 %, check OK"
echo "soak_short: $passed passed, 0 failed"
