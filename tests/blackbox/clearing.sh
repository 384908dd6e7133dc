#!/usr/bin/env bash
# clearing.sh -- the ledger's clearing through the real binaries (proto/
# LEDGER.md §9): dev, alice and bob owe each other in a cycle (dev owes
# alice 100, alice owes bob 80, bob owes dev 120, accepted invoices);
# kula clearing propose passes with the members' votes and the next block
# sets off 80 of each: kula clearing show (words and --json) and JSON-RPC
# clearing give totals 300 / 240 / 60, the residuals 20, 0, 40 and each
# member before and after; kula propose param clearing_interval_blocks then
# makes a second cycle clear on schedule; no clearing or a wrong number is
# refused saying so; kula report gives the clearings' debt, cleared, share
# and the largest creditors and debtors after the latest (checked against
# figures worked out by hand); kula export --clearings lists each invoice's
# set-off, and kula clearing solve on the exported obligations of each
# clearing gives the same set-offs; kula audit replays the ledger, clearings
# included.
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

# report_clearing NAME DEBT CLEARED PERCENT CREDITORS DEBTORS: kula report --json
# (each --period) and in words give the clearings' debt and cleared in all
# and summed over the periods, the share (tenths of a percent, rounded
# down), and the ranks after the latest,
# as (member, amount in minor units) lists worked out by hand.
report_clearing() {
    local per
    for per in day week month; do
        k_ok "$1-$per" report "$D" --json --period "$per"
        R="$TMP/$1-$per.out"
        [ "$(jv "$R" "(d['clearing']['debt'], d['clearing']['cleared'], d['clearing']['cleared_percent']) == ('$2', '$3', '$4')")" = True ] ||
            fail "report --period $per: clearings not $2 / $3 / $4 %" "$R"
        [ "$(jv "$R" "[sum(p['clearings'] for p in d['periods']), sum(round(float(p['clearing_debt']) * 100) for p in d['periods']), sum(round(float(p['cleared']) * 100) for p in d['periods'])] == [d['clearing']['count'], round($2 * 100), round($3 * 100)] and all(p['cleared_percent'] == '%d.%d' % divmod(round(float(p['cleared']) * 100) * 1000 // round(float(p['clearing_debt']) * 100), 10) for p in d['periods'] if p['clearings'])")" = True ] ||
            fail "report --period $per: the periods' clearings do not add up to $2 / $3" "$R"
        [ "$(jv "$R" "[(x['member'], round(float(x['amount']) * 100)) for x in d['clearing']['creditors']] == $5 and [(x['member'], round(float(x['amount']) * 100)) for x in d['clearing']['debtors']] == $6")" = True ] ||
            fail "report --period $per: creditors not $5 or debtors not $6 after the latest clearing" "$R"
    done
    k_ok "$1-words" report "$D"
    says "$1-words" "debt at clearings $2 KULA, cleared $3 KULA ($4%)" "report: clearings in words"
    grep -A1 "largest creditors after it" "$TMP/$1-words.out" | grep -q "#1 .*Dev Validator .* 40.00 KULA" ||
        fail "report: Dev Validator is not the first creditor with 40.00" "$TMP/$1-words.out"
    grep -A1 "largest debtors after it" "$TMP/$1-words.out" | grep -q "#3 .*bob .* 40.00 KULA" ||
        fail "report: bob is not the first debtor with 40.00" "$TMP/$1-words.out"
}

report_clearing rep1 300.00 240.00 80.0 "[(1, 4000), (2, 2000)]" "[(3, 4000), (1, 2000)]"
k_ok exp1 export "$D" --clearings --output "$TMP/exp1.csv"
python3 - "$TMP/exp1.csv" "$X" "$Y" "$Z" <<'PY' || fail "export --clearings: clearing 1 is not 100/80/120 less 80 each" "$TMP/exp1.csv"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
got = {r["id"]: (r["clearing"], r["debtor_name"], r["creditor_name"], r["before"], r["setoff"], r["after"]) for r in rows}
want = {sys.argv[2]: ("1", "Dev Validator", "alice", "100.00", "80.00", "20.00"),
        sys.argv[3]: ("1", "alice", "bob", "80.00", "80.00", "0.00"),
        sys.argv[4]: ("1", "bob", "Dev Validator", "120.00", "80.00", "40.00")}
sys.exit(0 if len(rows) == 3 and got == want else 1)
PY
k_ok exp1j export "$D" --clearings --format jsonl
[ "$(wc -l <"$TMP/exp1j.out")" -eq 3 ] && grep -q "\"id\":\"$Y\".*\"setoff\":\"80.00\",\"after\":\"0.00\"" "$TMP/exp1j.out" ||
    fail "export --clearings --format jsonl: not 3 lines, alice's invoice 80.00 set off" "$TMP/exp1j.out"
k bad export "$D" --clearings --member alice
[ "$CODE" -eq 3 ] || fail "export --clearings --member: exit $CODE (expected 3)" "$TMP/bad.err"
ok "kula export --clearings: each invoice's before, set-off and after by name (CSV, JSON lines)"
ok "kula report: 300.00 owed at the clearing, 240.00 cleared (80.0 %); creditors dev 40, alice 20; debtors bob 40, dev 20"

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

# clearing 2 took dev->alice 20 and 10, bob->dev 40, alice->dev 10 (80.00)
# and set off the cycle dev->alice->dev, 10 each way: 20.00 (25.0 %)
report_clearing rep2 380.00 260.00 68.4 "[(1, 4000), (2, 2000)]" "[(3, 4000), (1, 2000)]"
[ "$(jv "$TMP/rep2-month.out" "d['clearing']['latest']['debt'] == '80.00' and d['clearing']['latest']['cleared'] == '20.00' and d['clearing']['latest']['cleared_percent'] == '25.0'")" = True ] ||
    fail "report: the latest clearing is not 20.00 of 80.00 (25.0 %)" "$TMP/rep2-month.out"
ok "kula report after clearing 2: 380.00 owed at clearings, 260.00 cleared (68.4 %); the latest 20.00 of 80.00"

# ---- the audit replays the ledger, recomputing both clearings ----
k_ok aud audit "$D"
grep -q "^audit OK" "$TMP/aud.out" || fail "kula audit printed no OK" "$TMP/aud.out" "$TMP/aud.err"
ok "kula audit replays the ledger, clearings recomputed: $(grep '^audit OK' "$TMP/aud.out")"

# ---- an auditor recomputes every clearing from the export ----
k_ok exp2 export "$D" --clearings --output "$TMP/exp2.csv"
python3 - "$TMP/exp2.csv" "$TMP" <<'PY' || fail "export --clearings: cannot split by clearing" "$TMP/exp2.csv"
import csv, sys
from decimal import Decimal
by = {}
for r in csv.DictReader(open(sys.argv[1], newline="")):
    by.setdefault(r["clearing"], []).append(r)
for n, rows in by.items():
    minor = lambda v: int(Decimal(v) * 100)
    with open(f"{sys.argv[2]}/in{n}.csv", "w") as f:
        f.write("id,debtor,creditor,amount\n")
        f.writelines(f"{r['id']},{r['debtor']},{r['creditor']},{minor(r['before'])}\n" for r in rows)
    with open(f"{sys.argv[2]}/want{n}.csv", "w") as f:
        f.write("id,amount\n")
        f.writelines(f"{r['id']},{minor(r['setoff'])}\n" for r in rows)
sys.exit(0 if sorted(by) == ["1", "2"] else 1)
PY
for n in 1 2; do
    k_ok "solve$n" clearing solve "$TMP/in$n.csv" --out "$TMP/out$n.csv"
    cmp -s "$TMP/want$n.csv" "$TMP/out$n.csv" ||
        fail "kula clearing solve of clearing $n's exported obligations gives other set-offs" "$TMP/want$n.csv" "$TMP/out$n.csv"
done
ok "kula clearing solve on each clearing's exported obligations gives the ledger's set-offs"

echo "$TEST: $passed passed"
