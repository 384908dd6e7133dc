#!/usr/bin/env bash
# invoices.sh -- invoices through the real binaries (proto/LEDGER.md §8):
# dev bills alice, alice accepts, pays part, then the rest without an
# amount; a second invoice is disputed (and cannot be paid), then cancelled;
# an overpayment, a stranger's acceptance and a cancel after a payment are
# refused with their remedy; ids are taken by prefix; kula invoice list and
# show, both parties' history, kula tx's words, the JSON-RPC methods
# invoices and invoice, and the statement's rows say what happened.
#
# Usage: bash invoices.sh PATH/TO/kulad PATH/TO/kula
set -euo pipefail
TEST=invoices
# shellcheck source=single_node.bash
. "$(dirname "${BASH_SOURCE[0]}")/single_node.bash" "$@"
export KULA_PASSPHRASE="invoices passphrase"

# refused NAME WANT PATTERN WHAT ARGS...: kula exits WANT, saying PATTERN.
refused() {
    local name=$1 want=$2 pattern=$3 what=$4
    shift 4
    k "$name" "$@"
    [ "$CODE" -eq "$want" ] || fail "$what: exit $CODE (expected $want)" "$TMP/$name.out" "$TMP/$name.err"
    grep -q -- "$pattern" "$TMP/$name.err" || fail "$what: the error does not say '$pattern'" "$TMP/$name.err"
    ok "$what: exit $want, $(head -n 1 "$TMP/$name.err")"
}

# invoice NAME ID EXPR: kula --json invoice show ID, and EXPR over it holds.
invoice_is() {
    k_ok "$1" --json invoice show "$2"
    [ "$(jv "$TMP/$1.out" "$3")" = True ] || fail "invoice $2: not $3" "$TMP/$1.out"
}

start_node
k_ok kdev keys import dev --dev "$GENESIS"
k_ok kalice keys new --kdf-opslimit 1 --kdf-memlimit-mib 1 alice
ALICEPK=$(sed -n 's/^public key \([0-9a-f]\{64\}\)$/\1/p' "$TMP/kalice.out")
k_ok padm --json propose --key dev admit --pubkey "$ALICEPK" --name alice --sector food \
    --credit-limit 500
k_ok kmal keys new --kdf-opslimit 1 --kdf-memlimit-mib 1 mallory
ok "alice admitted (mallory's key is no member's)"

# ---- issue ----
echo "Invoice 2026-117: 50 loaves" >"$TMP/inv.pdf"
DOC=$(python3 -c 'import hashlib,sys; print(hashlib.blake2b(open(sys.argv[1],"rb").read(), digest_size=32).hexdigest())' "$TMP/inv.pdf")
k_ok i1 invoice issue --key dev --to alice 120.00 --due 2026-12-31 --ref 2026-117 \
    --doc "$TMP/inv.pdf" --memo "bread, November"
A=$(sed -n 's/^transaction \([0-9a-f]\{64\}\) committed.*/\1/p' "$TMP/i1.out")
[ -n "$A" ] || fail "invoice issue printed no committed transaction" "$TMP/i1.out"
invoice_is show1 "${A:0:8}" "d['status'] == 'issued' and d['amount'] == 12000 and d['residual'] == 12000 and d['debtor'] == 2 and d['issuer'] == 1 and d['reference'] == '2026-117' and d['document'] == '$DOC' and d['due'] == 1798761599999"
ok "dev bills alice 120.00, due 2026-12-31, with the document's hash; shown by an 8-digit prefix"

refused usage1 3 "are required" "invoice issue without --due" invoice issue --key dev --to alice 5 --ref x
refused usage2 3 "give a UTC date" "invoice issue with a due date that is no date" \
    invoice issue --key dev --to alice 5 --due tomorrow-ish --ref x
refused self 1 "cannot transact with itself" "an invoice to oneself" \
    invoice issue --key dev --to 1 5.00 --due 30d --ref self

# ---- accept, pay in part, pay the rest ----
refused stranger 1 "" "mallory (no member) accepts" invoice accept --key mallory "${A:0:8}"
k_ok acc invoice accept --key alice "${A:0:10}"
invoice_is show2 "$A" "d['status'] == 'accepted'"
ok "alice accepts invoice ${A:0:10}.."
refused twice 1 "already accepted" "alice accepts it twice" invoice accept --key alice "$A"
k_ok p1 pay --key alice --invoice "${A:0:8}" 45.50
invoice_is show3 "$A" "d['status'] == 'accepted' and d['paid'] == 4550 and d['residual'] == 7450"
ok "alice pays 45.50 of it: 74.50 still owed"
refused over 1 "exceeds what the invoice still owes" "alice pays 74.51 of 74.50" \
    pay --key alice --invoice "$A" 74.51
grep -q "pay at most what it still owes" "$TMP/over.err" || fail "the overpayment's refusal has no remedy" "$TMP/over.err"
refused canc1 1 "partly paid" "dev cancels it after a payment" invoice cancel --key dev "$A"
k_ok p2 pay --key alice --invoice "$A"
invoice_is show4 "$A" "d['status'] == 'paid' and d['paid'] == 12000 and d['residual'] == 0"
ok "alice pays the rest without an amount: 74.50, paid"
k_ok bal --json balance alice
[ "$(jv "$TMP/bal.out" 'd["balance"]')" -eq -12000 ] || fail "alice's balance is not -120.00" "$TMP/bal.out"
refused paid 1 "nothing more\|already paid" "paying a paid invoice" pay --key alice --invoice "$A"
ok "alice's balance is -120.00"

# ---- dispute, then cancel ----
k_ok i2 invoice issue --key dev --to alice 30.00 --due 14d --ref 2026-118
B=$(sed -n 's/^transaction \([0-9a-f]\{64\}\) committed.*/\1/p' "$TMP/i2.out")
refused noreason 3 "reason" "a dispute without --reason" invoice dispute --key alice "$B"
k_ok d1 invoice dispute --key alice "${B:0:8}" --reason "only 40 of the 50 loaves arrived"
invoice_is show5 "$B" "d['status'] == 'disputed' and d['reason'] == 'only 40 of the 50 loaves arrived'"
ok "alice disputes invoice ${B:0:8}.. saying why"
refused pdisp 1 "is disputed" "alice pays a disputed invoice" pay --key alice --invoice "$B" 1.00
refused cdebtor 1 "issuer" "alice cancels dev's invoice" invoice cancel --key alice "$B"
k_ok c1 invoice cancel --key dev "$B"
invoice_is show6 "$B" "d['status'] == 'cancelled' and d['residual'] == 0"
ok "dev cancels the disputed invoice"
refused ccanc 1 "already paid or cancelled" "alice accepts a cancelled invoice" invoice accept --key alice "$B"

# ---- list, show, history, tx, RPC, statement ----
k_ok l1 invoice list
says l1 "^${A:0:12} .*120.00 .*0.00 .*2026-12-31 .*paid .*2026-117" "invoice list shows the paid invoice"
says l1 "^${B:0:12} .*cancelled .*2026-118" "invoice list shows the cancelled invoice"
k_ok i3 invoice issue --key alice --to 1 7.25 --due 2027-01-15 --ref A-1
C=$(sed -n 's/^transaction \([0-9a-f]\{64\}\) committed.*/\1/p' "$TMP/i3.out")
k_ok l2 --json invoice list --open alice
[ "$(jv "$TMP/l2.out" '[v["id"] for v in d]')" = "$C" ] || fail "invoice list --open alice is not the one open invoice" "$TMP/l2.out"
k_ok s1 invoice show "${A:0:8}"
says s1 "^issuer .*Dev Validator" "invoice show names the issuer"
says s1 "^still owed   0.00 KULA" "invoice show says what is still owed"
says s1 "^document     BLAKE2b-256 $DOC" "invoice show gives the document's hash"
ok "invoice list (all, --open MEMBER) and show"

k_ok hal history alice
says hal "invoice 2026-117 .* received of 120.00, due 2026-12-31" "alice's history: the invoice"
says hal "invoice 2026-117 .* payment" "alice's history: a payment"
says hal "invoice 2026-118 .* disputed: only 40" "alice's history: the dispute"
k_ok hdev history dev
says hdev "invoice 2026-117 .* issued of 120.00" "dev's history: the invoice it issued"
says hdev "invoice 2026-118 .* cancelled" "dev's history: the cancellation"
says hdev "invoice A-1 .* received of 7.25" "dev's history: the invoice it received"
ok "both parties' history shows the invoices, payments, dispute and cancel"

P1=$(sed -n 's/^transaction \([0-9a-f]\{64\}\) committed.*/\1/p' "$TMP/p1.out")
k_ok tx1 tx "$P1"
says tx1 "pays 45.50 KULA of invoice ${A:0:12}.. to its issuer" "kula tx words an invoice payment"
k_ok tx2 tx "$A"
says tx2 "bills #2 alice 120.00 KULA under reference \"2026-117\", due 2026-12-31" "kula tx words an invoice"
ok "kula tx words invoices and payments"

k_ok st export --member alice
grep -q "invoice-pay,Dev Validator,invoice 2026-117 (${A:0:8}),45.50,,-45.50,KULA" "$TMP/st.out" ||
    fail "alice's statement has no row of the 45.50 payment" "$TMP/st.out"
grep -q "invoice-pay,Dev Validator,invoice 2026-117 (${A:0:8}),74.50,,-120.00,KULA" "$TMP/st.out" ||
    fail "alice's statement has no row of the 74.50 payment" "$TMP/st.out"
ok "alice's statement: both payments, named by the invoice, balance -120.00"

# the methods themselves, with the node's token (the cookie)
URL=$(sed -n 's/^url=//p' "$D/rpc.cookie")
TOKEN=$(sed -n 's/^token=//p' "$D/rpc.cookie")
rpc() {
    curl -s -m 10 -H "Authorization: Bearer $TOKEN" --data-binary "$1" "$URL"
}
rpc '{"jsonrpc":"2.0","id":1,"method":"invoices","params":{"member":"alice","open":false}}' >"$TMP/rpc1.out" ||
    fail "JSON-RPC invoices failed" "$TMP/rpc1.out"
[ "$(jv "$TMP/rpc1.out" 'len(d["result"])')" -eq 3 ] || fail "JSON-RPC invoices of alice: not 3" "$TMP/rpc1.out"
rpc '{"jsonrpc":"2.0","id":2,"method":"invoice","params":{"id":"'"$B"'"}}' >"$TMP/rpc2.out" ||
    fail "JSON-RPC invoice failed" "$TMP/rpc2.out"
[ "$(jv "$TMP/rpc2.out" 'd["result"]["status"]')" = cancelled ] || fail "JSON-RPC invoice: not cancelled" "$TMP/rpc2.out"
rpc '{"jsonrpc":"2.0","id":3,"method":"invoices","params":{"open":"yes"}}' >"$TMP/rpc3.out" ||
    fail "JSON-RPC invoices with a bad 'open'" "$TMP/rpc3.out"
grep -q "'open' must be true or false" "$TMP/rpc3.out" || fail "a bad 'open' is not named" "$TMP/rpc3.out"
ok "JSON-RPC invoices (by member) and invoice; a bad 'open' is refused by name"

echo "$TEST: $passed passed"
