#!/usr/bin/env bash
# testnet_no_tx_lost.sh -- on a 4-validator testnet (testnet/up 4), 100
# transactions sent with --no-wait to different nodes all commit: 87
# payments from five businesses, each one's consecutive payments going to
# different nodes, and 13 votes on one proposal, each to the next node.
# Every id kula printed must be committed on node 1, the payee's balance
# must be the sum exactly, and testnet/check must agree.
#
# Usage: bash testnet_no_tx_lost.sh PATH/kulad PATH/kula
set -euo pipefail

KULAD=${1:?usage: testnet_no_tx_lost.sh PATH/kulad PATH/kula}
KULA=${2:?usage: testnet_no_tx_lost.sh PATH/kulad PATH/kula}
BB_NAME=testnet_no_tx_lost
source "$(dirname "$0")/testnet_test.bash" # REPO, TMP, BASE, fail, pass, cleanup

bb_up4

balance() { q 1 balance "$1" --json | jfield '["balance"]'; }

# ---- 87 payments and 13 votes, each to another node ----
before=$(balance b16)
out=$(q 1 propose --key v1 param block_interval_ms 1000 --json) || fail "propose: $out"
P=$(echo "$out" | jfield '["id"]')
: >"$TMP/ids"
sum=0 sent=0
for ((i = 0; i < 87; i++)); do
    node=$((i % 4 + 1)) key=b$((i % 5 + 1)) cents=$((i + 1))
    out=$(q "$node" pay --key "$key" --to b16 "0.$(printf %02d $((cents % 100)))" --no-wait \
        --json) || fail "payment $i ($key via node $node): $out"
    echo "$out" | jfield '["id"]' >>"$TMP/ids"
    sum=$((sum + cents % 100))
    sent=$((sent + 1))
done
for ((i = 0; i < 13; i++)); do
    node=$((i % 4 + 1)) key=b$((i + 1))
    out=$(q "$node" vote --key "$key" --proposal "$P" yes --no-wait --json) ||
        fail "vote of $key via node $node: $out"
    echo "$out" | jfield '["id"]' >>"$TMP/ids"
    sent=$((sent + 1))
done
[[ $(wc -l <"$TMP/ids") == 100 ]] || fail "kula printed $(wc -l <"$TMP/ids") ids, not 100"
pass "100 transactions accepted with --no-wait by 4 different nodes"

# ---- all of them commit ----
committed() {
    local id n=0
    while read -r id; do
        [[ $(q 1 tx "$id" --json 2>/dev/null | jfield '["status"]' 2>/dev/null) == committed ]] &&
            n=$((n + 1))
    done <"$TMP/ids"
    echo "$n"
}
deadline=$(($(date +%s) + 120))
while :; do
    n=$(committed)
    ((n == 100)) && break
    (($(date +%s) < deadline)) || fail "$n of 100 committed after 120 s"
    sleep 1
done
got=$(balance b16)
((got == before + sum)) || fail "b16's balance is $got, expected $((before + sum))"
[[ $(q 1 proposal "$P" --json | jfield '["status"]') == passed ]] || fail "the proposal did not pass"
pass "all 100 committed; the payee received exactly the sum; the votes passed the proposal"

timeout 90 "$REPO/testnet/check" >"$TMP/check.out" 2>&1 || { cat "$TMP/check.out" >&2; fail "testnet/check exited $?"; }
grep -q "0 forks" "$TMP/check.out" || fail "testnet/check did not report 0 forks"
pass "testnet/check: the nodes agree"
echo "$BB_NAME: $passed passed, 0 failed"
