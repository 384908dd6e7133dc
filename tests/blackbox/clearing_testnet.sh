#!/usr/bin/env bash
# clearing_testnet.sh -- multilateral clearing on a 4-validator testnet with
# 16 businesses (testnet/up 4): b1 owes b2 100, b2 owes b3 80, b3 owes b1
# 120 (invoices issued and accepted); kula clearing propose passes with the
# members' votes and every node's kula clearing show --json reports
# clearing 1: 240.00 cleared, 80.00 of each invoice, residuals 20, 0, 40.
# Then governance sets clearing_interval_blocks and a second cycle is
# cleared by the scheduled clearing on every node; kula audit replays node
# 1's ledger (recomputing both clearings); testnet/check agrees.
#
# Usage: bash clearing_testnet.sh PATH/kulad PATH/kula
set -euo pipefail

KULAD=${1:?usage: clearing_testnet.sh PATH/kulad PATH/kula}
KULA=${2:?usage: clearing_testnet.sh PATH/kulad PATH/kula}
BB_NAME=clearing_testnet
source "$(dirname "$0")/testnet_test.bash" # REPO, TMP, BASE, fail, pass, cleanup

bb_up4

# owe DEBTOR CREDITOR AMOUNT: CREDITOR bills DEBTOR, who accepts; prints the id.
owe() {
    local out id
    out=$(q 1 invoice issue --key "$2" --to "$1" "$3" --due 30d --ref "$1-$2" --json) ||
        fail "invoice issue $2 -> $1: $out"
    id=$(echo "$out" | jfield '["id"]') || fail "invoice issue printed no id: $out"
    out=$(q 1 invoice accept --key "$1" "$id" --json) || fail "invoice accept by $1: $out"
    echo "$id"
}

# vote_through ID: 20 active members: more than 2/3 is 14 yes votes.
vote_through() {
    local k out
    for k in v2 v3 v4 b4 b5 b6 b7 b8 b9 b10 b11 b12 b13; do
        out=$(q 1 vote --key "$k" --proposal "$1" yes --no-wait --json) || fail "vote $k: $out"
    done
    passed_prop() { [[ $(q 1 proposal "$1" --json 2>/dev/null | jfield '["status"]' 2>/dev/null) == passed ]]; }
    wait_for 60 "proposal ${1:0:12} passes" passed_prop "$1"
}

# has_clearing K N: node K has clearing N (its JSON in TMP/cK-N.json).
has_clearing() { q "$1" clearing show "$2" --json >"$TMP/c$1-$2.json" 2>/dev/null; }

X=$(owe b1 b2 100.00)
Y=$(owe b2 b3 80.00)
Z=$(owe b3 b1 120.00)
pass "b1 owes b2 100, b2 owes b3 80, b3 owes b1 120 (accepted invoices)"

out=$(q 1 clearing propose --key v1 --memo "month end" --json) || fail "clearing propose: $out"
P=$(echo "$out" | jfield '["id"]')
vote_through "$P"
pass "kula clearing propose passes with the members' votes"

for k in 1 2 3 4; do
    wait_for 60 "node$k has clearing 1" has_clearing "$k" 1
    [[ $(/usr/bin/python3 -c "import json; d=json.load(open('$TMP/c$k-1.json')); print(d['number'] == 1 and d['cleared'] == 24000 and d['total_debt'] == 30000 and {o['id']: (o['setoff'], o['after']) for o in d['obligations']} == {'$X': (8000, 2000), '$Y': (8000, 0), '$Z': (8000, 4000)})") == True ]] ||
        fail "node$k: clearing 1 is not 240.00 cleared, 80.00 each, residuals 20, 0, 40: $(cat "$TMP/c$k-1.json")"
    cmp -s "$TMP/c1-1.json" "$TMP/c$k-1.json" || fail "node$k's clearing 1 differs from node1's"
done
pass "every node: clearing 1 cleared 240.00 (80.00 of each invoice), residuals 20, 0, 40"

# ---- a scheduled clearing ----
out=$(q 1 propose --key v1 param clearing_interval_blocks 3 --json) || fail "propose param: $out"
vote_through "$(echo "$out" | jfield '["id"]')"
pass "governance sets clearing_interval_blocks to 3"
owe b5 b6 50.00 >/dev/null
owe b6 b5 30.00 >/dev/null
for k in 1 2 3 4; do
    wait_for 60 "node$k has clearing 2 (scheduled)" has_clearing "$k" 2
    [[ $(/usr/bin/python3 -c "import json; d=json.load(open('$TMP/c$k-2.json')); print(d['cleared'] >= 6000)") == True ]] ||
        fail "node$k: the scheduled clearing 2 did not clear b5 and b6's 30.00 each way: $(cat "$TMP/c$k-2.json")"
done
pass "every node: the scheduled clearing 2 sets off b5 and b6's invoices"

timeout 300 "$KULA" audit "$D/node1" >"$TMP/audit.out" 2>&1 || { cat "$TMP/audit.out" >&2; fail "kula audit of node1"; }
grep -q "^audit OK" "$TMP/audit.out" || { cat "$TMP/audit.out" >&2; fail "kula audit printed no OK"; }
pass "kula audit replays node1's ledger, clearings included: $(grep '^audit OK' "$TMP/audit.out")"

bb_check_down
echo "$BB_NAME: $passed passed"
