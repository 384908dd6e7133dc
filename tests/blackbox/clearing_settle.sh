#!/usr/bin/env bash
# clearing_settle.sh -- settlement of the remainder at a clearing through the
# real binaries (proto/LEDGER.md §9.6): an open chain, no cycle: alice owes
# bob 300.00, bob owes dev 900.00 (accepted invoices); alice and bob opt in
# with kula clearing settle on (credit limit 500.00 each; opting in twice,
# or out while out, is refused saying so).  After a clear, nothing is set
# off, and in ascending member order alice pays bob her 300.00 in full
# (balance -300.00), then bob pays dev 800.00 of his 900.00: his 300.00
# received plus his 500.00 of credit (balance -500.00), 100.00 still owed.
# kula clearing show (words and --json), JSON-RPC clearing, kula member,
# kula invoice show and bob's statement (kula export --member) agree; kula
# audit replays it; opting out is shown.
#
# Usage: bash clearing_settle.sh PATH/TO/kulad PATH/TO/kula
set -euo pipefail
TEST=clearing_settle
# shellcheck source=single_node.bash
. "$(dirname "${BASH_SOURCE[0]}")/single_node.bash" "$@"
export KULA_PASSPHRASE="clearing settle passphrase"
# shellcheck source=clearing_lib.bash
. "$(dirname "${BASH_SOURCE[0]}")/clearing_lib.bash"

start_alice_bob

# ---- opting in and out ----
k_ok help clearing settle --help
says help "^Usage: kula clearing settle on|off --key NAME" "clearing settle --help"
says help "credit limit" "clearing settle --help says the credit limit bounds it"
k bad clearing settle maybe --key alice
[ "$CODE" -eq 3 ] || fail "clearing settle maybe: exit $CODE (expected 3)" "$TMP/bad.err"
k off0 clearing settle off --key alice
[ "$CODE" -eq 1 ] || fail "clearing settle off while off: exit $CODE (expected 1)" "$TMP/off0.err"
grep -q "does not settle its remainder" "$TMP/off0.err" ||
    fail "opting out while out is not refused by name" "$TMP/off0.err"
k_ok on1 clearing settle on --key alice --memo "pay suppliers at once"
k on2 clearing settle on --key alice
[ "$CODE" -eq 1 ] || fail "clearing settle on twice: exit $CODE (expected 1)" "$TMP/on2.err"
grep -q "already settles its remainder" "$TMP/on2.err" ||
    fail "opting in twice is not refused by name" "$TMP/on2.err"
k_ok on3 --json clearing settle on --key bob
k_ok ma --json member alice
[ "$(jv "$TMP/ma.out" "d['settles_at_clearing']['since'] > 0")" = True ] ||
    fail "member alice: no settles_at_clearing" "$TMP/ma.out"
k_ok mw member alice
says mw "^at clearings  pays what it still owes from its credit" "kula member alice"
k_ok md --json member dev
[ "$(jv "$TMP/md.out" "d['settles_at_clearing'] is None")" = True ] ||
    fail "member dev: settles_at_clearing is not null" "$TMP/md.out"
ok "alice and bob opt in; twice, or out while out, is refused (exit 1, named); kula member shows it"

# ---- an open chain, cleared: nothing set off, the remainders paid ----
X=$(owe ab alice bob 300.00)
Y=$(owe bd bob dev 900.00)
ok "alice owes bob 300.00, bob owes dev 900.00 (no cycle)"
k_ok prop clearing propose --key dev
pass pv "$(txid prop)"
wait_clearing c1 1 60
C="$TMP/c1.out"
[ "$(jv "$C" "d['cleared'] == 0 and d['total_debt'] == 120000 and d['settled'] == 110000 and d['payments_count'] == 2 and d['still_owed'] == 10000")" = True ] ||
    fail "clearing 1: not 0 cleared, 1100.00 paid of 1200.00, 100.00 still owed" "$C"
[ "$(jv "$C" "{o['id']: (o['setoff'], o['settled'], o['after']) for o in d['obligations']} == {'$X': (0, 30000, 0), '$Y': (0, 80000, 10000)}")" = True ] ||
    fail "clearing 1: alice's 300.00 not paid in full, or bob's not 800.00 of 900.00" "$C"
[ "$(jv "$C" "[(m['member'], m['owing_after'], m['owed_after']) for m in d['members']] == [(1, 0, 10000), (2, 0, 0), (3, 10000, 0)]")" = True ] ||
    fail "clearing 1: the members after are wrong" "$C"
ok "clearing 1: nothing set off; alice paid 300.00 in full, bob 800.00 of 900.00"

bal() { # bal NAME MEMBER: prints MEMBER's balance in minor units
    k_ok "$1" --json balance "$2"
    jv "$TMP/$1.out" "d['balance']"
}
[ "$(bal ba alice)" = -30000 ] || fail "alice's balance is not -300.00" "$TMP/ba.out"
[ "$(bal bb bob)" = -50000 ] || fail "bob's balance is not -500.00, his credit limit" "$TMP/bb.out"
[ "$(bal bd 1)" = 80000 ] || fail "dev's balance is not 800.00" "$TMP/bd.out"
k_ok ix --json invoice show "$X"
[ "$(jv "$TMP/ix.out" "d['status'] == 'paid' and d['paid'] == 30000 and d['residual'] == 0")" = True ] ||
    fail "alice's invoice is not paid by the clearing" "$TMP/ix.out"
k_ok iy --json invoice show "$Y"
[ "$(jv "$TMP/iy.out" "d['status'] == 'accepted' and d['paid'] == 80000 and d['residual'] == 10000")" = True ] ||
    fail "bob's invoice does not owe 100.00 after paying 800.00" "$TMP/iy.out"
ok "balances move exactly: alice -300.00, bob -500.00 (his limit), dev +800.00; invoices agree"

k_ok words clearing show
says words "^paid         1100.00 KULA from the credit" "clearing show: paid"
says words "^still owed   100.00 KULA" "clearing show: still owed"
says words "^${Y:0:12} .*#3 bob .*#1 Dev Validator .*900.00 .*0.00 .*800.00 .*100.00" \
    "clearing show: bob's invoice to dev"
URL=$(sed -n 's/^url=//p' "$D/rpc.cookie")
TOKEN=$(sed -n 's/^token=//p' "$D/rpc.cookie")
curl -s -m 10 -H "Authorization: Bearer $TOKEN" --data-binary \
    '{"jsonrpc":"2.0","id":1,"method":"clearing","params":{"number":1}}' "$URL" >"$TMP/rpc.out"
[ "$(jv "$TMP/rpc.out" "d['result']['settled'] == 110000")" = True ] ||
    fail "JSON-RPC clearing: no settled 1100.00" "$TMP/rpc.out"
ok "kula clearing show and JSON-RPC clearing show what was paid and what is still owed"

k_ok st export --member bob
grep -q ",,clearing-settlement,alice,clearing 1: invoice ab (${X:0:8}) paid from credit,,300.00,300.00,KULA" "$TMP/st.out" ||
    fail "bob's statement has no row of alice's 300.00" "$TMP/st.out"
grep -q ",,clearing-settlement,Dev Validator,clearing 1: invoice bd (${Y:0:8}) paid from credit,800.00,,-500.00,KULA" "$TMP/st.out" ||
    fail "bob's statement has no row of his 800.00 to dev, ending at -500.00" "$TMP/st.out"
k_ok jr export --format journal
grep -q ",,clearing-settlement,member:bob,clearing 1: invoice bd (${Y:0:8}) paid from credit,,800.00,KULA" "$TMP/jr.out" ||
    fail "the journal does not credit bob 800.00 for the settlement" "$TMP/jr.out"
ok "bob's statement lists both settlement payments and ends at his balance, -500.00; so does the journal"

# ---- the audit replays it; opting out ----
k_ok aud audit "$D"
grep -q "^audit OK" "$TMP/aud.out" || fail "kula audit printed no OK" "$TMP/aud.out" "$TMP/aud.err"
k_ok off clearing settle off --key bob
k_ok mb member bob
says mb "^at clearings  leaves what it still owes owed" "kula member bob after opting out"
ok "kula audit replays the settlement; bob opts out and kula member says so"

echo "$TEST: $passed passed"
