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
# kula invoice show and bob's statement (kula export --member) agree, and
# so do the history of each side, kula export (CSV, JSON lines) and kula
# report; kula audit replays it; opting out is shown.
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

jv_lines() { # jv_lines FILE: the clearing-settlement records of a JSON lines export
    python3 -c 'import json, sys
print([(r["clearing"], r["tx_id"], r["from"], r["to"], r["amount"]) for r in map(json.loads, open(sys.argv[1])) if r["kind"] == "clearing-settlement"])' "$1"
}
k_ok st export --member bob
grep -q ",,clearing-settlement,alice,clearing 1: invoice ab (${X:0:8}) paid from credit,,300.00,300.00,KULA" "$TMP/st.out" ||
    fail "bob's statement has no row of alice's 300.00" "$TMP/st.out"
grep -q ",,clearing-settlement,Dev Validator,clearing 1: invoice bd (${Y:0:8}) paid from credit,800.00,,-500.00,KULA" "$TMP/st.out" ||
    fail "bob's statement has no row of his 800.00 to dev, ending at -500.00" "$TMP/st.out"
k_ok jr export --format journal
grep -q ",,clearing-settlement,member:bob,clearing 1: invoice bd (${Y:0:8}) paid from credit,,800.00,KULA" "$TMP/jr.out" ||
    fail "the journal does not credit bob 800.00 for the settlement" "$TMP/jr.out"
ok "bob's statement lists both settlement payments and ends at his balance, -500.00; so does the journal"

# ---- history and export list the payments, on both sides ----
pays() { # pays NAME MEMBER: the clearing-settlement entries of MEMBER's history
    k_ok "$1" --json history "$2"
    jv "$TMP/$1.out" "str([(e['from'], e['to'], e['amount'], e['clearing'], 'id' in e or 'tx' in e) for e in d['entries'] if e.get('kind') == 'clearing-settlement'])"
}
[ "$(pays hb bob)" = "[(3, 1, 80000, 1, False), (2, 3, 30000, 1, False)]" ] ||
    fail "bob's history does not list his 800.00 to dev, then alice's 300.00 to him" "$TMP/hb.out"
[ "$(pays ha alice)" = "[(2, 3, 30000, 1, False)]" ] ||
    fail "alice's history does not list her 300.00 to bob" "$TMP/ha.out"
[ "$(pays hd 1)" = "[(3, 1, 80000, 1, False)]" ] ||
    fail "dev's history does not list bob's 800.00" "$TMP/hd.out"
[ "$(jv "$TMP/hb.out" "[e for e in d['entries'] if e.get('kind') == 'clearing-settlement'][0]['height'] == d['entries'][0]['height'] and d['entries'][0].get('kind') == 'clearing-settlement'")" = True ] ||
    fail "bob's newest entries are not the clearing's payments (after its block's transactions)" "$TMP/hb.out"
k_ok hw history bob
says hw "clearing-settlement .*#1 Dev Validator .*-800.00  clearing 1: invoice bd (${Y:0:8}) paid from credit" \
    "kula history bob: his payment to dev"
says hw "clearing-settlement .*#2 alice .*+300.00  clearing 1: invoice ab (${X:0:8}) paid from credit" \
    "kula history bob: alice's payment to him"
ok "kula history (and RPC history) lists each payment on both sides, in words, after the block's transactions"

k_ok ex export
grep -q ",,clearing-settlement,3,bob,1,Dev Validator,800.00,900.00,,,,,clearing 1: invoice bd (${Y:0:8}) paid from credit,," "$TMP/ex.out" ||
    fail "kula export has no record of bob's 800.00 to dev" "$TMP/ex.out"
grep -q ",,clearing-settlement,2,alice,3,bob,300.00,300.00,,,,,clearing 1: invoice ab (${X:0:8}) paid from credit,," "$TMP/ex.out" ||
    fail "kula export has no record of alice's 300.00 to bob" "$TMP/ex.out"
k_ok exj export --format jsonl
[ "$(jv_lines "$TMP/exj.out")" = "[(1, '', 2, 3, '300.00'), (1, '', 3, 1, '800.00')]" ] ||
    fail "kula export --format jsonl: the payments are not two clearing-settlement records" "$TMP/exj.out"
k_ok rep --json report "$D"
[ "$(jv "$TMP/rep.out" "str((d['settled'], d['settlement_payments'], [p['settled'] for p in d['periods'] if p['settlement_payments']]))")" = "('1100.00', 2, ['1100.00'])" ] ||
    fail "kula report does not count 1100.00 paid at the clearing" "$TMP/rep.out"
ok "kula export lists both payments (CSV and JSON lines); kula report counts them as paid at clearings"

# ---- the audit replays it; opting out ----
k_ok aud audit "$D"
grep -q "^audit OK" "$TMP/aud.out" || fail "kula audit printed no OK" "$TMP/aud.out" "$TMP/aud.err"
k_ok off clearing settle off --key bob
k_ok mb member bob
says mb "^at clearings  leaves what it still owes owed" "kula member bob after opting out"
ok "kula audit replays the settlement; bob opts out and kula member says so"

# ---- a ledger an older kulad wrote: the payments come with a reindex ----
# What store schema 1 wrote: history without the payments' entries (values
# of 56 bytes, SPEC §9), "schema" 1.  kulad reindexes it once at start.
stop_node
mdb_dump -a "$D/ledger" >"$TMP/dump.txt"
python3 - "$TMP/dump.txt" >"$TMP/old.txt" <<'PY'
import sys
lines, out, db, i = open(sys.argv[1]).read().split("\n"), [], None, 0
while i < len(lines):
    l = lines[i]
    if l.startswith("db_pagesize="):  # mdb_dump writes it, mdb_load ignores it
        i += 1
        continue
    if l.startswith("database="):
        db = l[len("database="):]
    if l.startswith(" ") and i + 1 < len(lines) and lines[i + 1].startswith(" "):
        k, v = l, lines[i + 1]
        i += 2
        if db == "history" and len(v.strip()) != 64:
            continue
        if db == "meta" and k.strip() == "schema".encode().hex():
            v = " 00000001"
        out += [k, v]
        continue
    out.append(l)
    i += 1
print("\n".join(out), end="")
PY
rm -rf "$D/ledger.old"
mkdir "$D/ledger.old"
mdb_load -f "$TMP/old.txt" "$D/ledger.old" || fail "mdb_load of the old ledger failed"
rm -rf "$D/ledger"
mv "$D/ledger.old" "$D/ledger"
[ "$(mdb_dump -s history "$D/ledger" | awk 'length($0) > 100' | wc -l)" -eq 0 ] ||
    fail "the old ledger still has the payments' history entries"
start_node
grep -q "an older kulad wrote this ledger's indexes" "$TMP/kulad.log" ||
    fail "kulad did not say it rebuilds an old ledger's indexes" "$TMP/kulad.log"
[ "$(pays hb2 bob)" = "[(3, 1, 80000, 1, False), (2, 3, 30000, 1, False)]" ] ||
    fail "after the reindex, bob's history does not list both payments" "$TMP/hb2.out"
stop_node
start_node
! grep -q "an older kulad wrote" "$TMP/kulad.log" ||
    fail "kulad reindexed again at the next start" "$TMP/kulad.log"
ok "an old ledger (schema 1, no payments in history) is reindexed once at start and lists them"

echo "$TEST: $passed passed"
