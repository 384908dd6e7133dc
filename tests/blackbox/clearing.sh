#!/usr/bin/env bash
# clearing.sh -- the ledger's clearing through the real binaries (proto/
# LEDGER.md §9): dev, alice and bob owe each other in a cycle (dev owes
# alice 100, alice owes bob 80, bob owes dev 120, accepted invoices);
# kula clearing propose passes with the members' votes and the next block
# sets off 80 of each: kula clearing show (words and --json) and JSON-RPC
# clearing give totals 300 / 240 / 60, the residuals 20, 0, 40 and each
# member before and after; kula propose param clearing_interval_blocks then
# makes a second cycle clear on schedule; no clearing or a wrong number is
# refused saying so; kula audit replays the ledger, clearings included.
#
# Usage: bash clearing.sh PATH/TO/kulad PATH/TO/kula
set -euo pipefail
TEST=clearing
# shellcheck source=single_node.bash
. "$(dirname "${BASH_SOURCE[0]}")/single_node.bash" "$@"
export KULA_PASSPHRASE="clearing passphrase"

# shellcheck source=clearing_lib.bash
. "$(dirname "${BASH_SOURCE[0]}")/clearing_lib.bash"

start_alice_bob

# ---- nothing to show yet ----
k none clearing show
[ "$CODE" -eq 1 ] || fail "clearing show before any clearing: exit $CODE (expected 1)" "$TMP/none.err"
grep -q "no clearing yet" "$TMP/none.err" || fail "clearing show does not say there is none" "$TMP/none.err"
ok "clearing show before any clearing: exit 1, $(head -n 1 "$TMP/none.err")"
k_ok help clearing propose --help
says help "^Usage: kula clearing propose" "clearing propose --help"
k_ok help2 clearing show --help
says help2 "^Usage: kula clearing show" "clearing show --help"

# ---- the cycle, cleared on demand ----
X=$(owe ab dev alice 100.00)
Y=$(owe bc alice bob 80.00)
Z=$(owe ca bob dev 120.00)
ok "dev owes alice 100, alice owes bob 80, bob owes dev 120 (accepted invoices)"
k_ok prop clearing propose --key dev --memo "month end"
P=$(txid prop)
[ -n "$P" ] || fail "clearing propose printed no committed transaction" "$TMP/prop.out"
k_ok ptx --json tx "$P"
grep -q '"clear"' "$TMP/ptx.out" || fail "the proposal is not a clear action" "$TMP/ptx.out"
grep -q 'month end' "$TMP/ptx.out" || fail "the proposal has no memo" "$TMP/ptx.out"
pass pv "$P"
wait_clearing c1 1 60
C="$TMP/c1.out"
[ "$(jv "$C" "d['number'] == 1 and d['total_debt'] == 30000 and d['cleared'] == 24000 and d['remaining'] == 6000 and d['obligations_count'] == 3")" = True ] ||
    fail "clearing 1: not 300.00 / 240.00 / 60.00 over 3 obligations" "$C"
[ "$(jv "$C" "{o['id']: (o['setoff'], o['after']) for o in d['obligations']} == {'$X': (8000, 2000), '$Y': (8000, 0), '$Z': (8000, 4000)}")" = True ] ||
    fail "clearing 1: the set-offs are not 80.00 each, residuals 20, 0, 40" "$C"
[ "$(jv "$C" "[(m['member'], m['owed'], m['owing'], m['owed_after'], m['owing_after']) for m in d['members']] == [(1, 12000, 10000, 4000, 2000), (2, 10000, 8000, 2000, 0), (3, 8000, 12000, 0, 4000)]")" = True ] ||
    fail "clearing 1: the members before and after are wrong" "$C"
ok "clearing 1: 240.00 of 300.00 cleared, 80.00 of each invoice; residuals 20, 0, 40"
k_ok inv --json invoice show "$Z"
[ "$(jv "$TMP/inv.out" "d['residual'] == 4000")" = True ] || fail "bob's invoice does not owe 40.00 after" "$TMP/inv.out"
k_ok words clearing show
says words "^cleared      240.00 KULA" "clearing show: cleared"
says words "^remaining    60.00 KULA" "clearing show: remaining"
says words "^#2 alice .* 100.00 .* 80.00 .* 20.00 .* 0.00" "clearing show: alice before and after"
says words "^${Y:0:12} .*#2 alice .*#3 bob .*80.00 .*80.00 .*0.00" "clearing show: alice's invoice to bob"
ok "clearing show in words: totals, members by name, invoices in units"

URL=$(sed -n 's/^url=//p' "$D/rpc.cookie")
TOKEN=$(sed -n 's/^token=//p' "$D/rpc.cookie")
rpc() { curl -s -m 10 -H "Authorization: Bearer $TOKEN" --data-binary "$1" "$URL"; }
rpc '{"jsonrpc":"2.0","id":1,"method":"clearing","params":{"number":1,"limit":2}}' >"$TMP/rpc1.out"
[ "$(jv "$TMP/rpc1.out" "len(d['result']['obligations']) == 2 and d['result']['next'] == {'number': 1, 'from': 2}")" = True ] ||
    fail "JSON-RPC clearing with limit 2: not 2 obligations and a next" "$TMP/rpc1.out"
rpc '{"jsonrpc":"2.0","id":2,"method":"clearing","params":{"number":7}}' >"$TMP/rpc2.out"
grep -q "no clearing number 7" "$TMP/rpc2.out" || fail "JSON-RPC clearing 7 is not refused by name" "$TMP/rpc2.out"
k n7 clearing show 7
[ "$CODE" -eq 1 ] || fail "clearing show 7: exit $CODE (expected 1)" "$TMP/n7.err"
k n0 clearing show x
[ "$CODE" -eq 3 ] || fail "clearing show x: exit $CODE (expected 3)" "$TMP/n0.err"
ok "JSON-RPC clearing pages its obligations; clearing 7 and 'x' are refused"

# ---- a scheduled clearing ----
k_ok par propose --key dev param clearing_interval_blocks 2
pass pp "$(txid par)"
owe ab2 dev alice 10.00 >/dev/null
owe bc2 alice dev 10.00 >/dev/null
wait_clearing c2 2 60
[ "$(jv "$TMP/c2.out" "d['cleared'] >= 2000")" = True ] || fail "clearing 2 did not clear the new cycle" "$TMP/c2.out"
ok "clearing_interval_blocks 2 by governance: clearing 2 runs on schedule, clearing the new cycle"

# ---- the audit replays the ledger, recomputing both clearings ----
k_ok aud audit "$D"
grep -q "^audit OK" "$TMP/aud.out" || fail "kula audit printed no OK" "$TMP/aud.out" "$TMP/aud.err"
ok "kula audit replays the ledger, clearings recomputed: $(grep '^audit OK' "$TMP/aud.out")"

echo "$TEST: $passed passed"
