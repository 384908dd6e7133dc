#!/usr/bin/env bash
# sign_screen.sh -- what a business reads before it signs, through the real
# kula and kulad: the signing screen of a barter and of an agreement in
# words, member names and units (who pays whom how much, each party's share
# of the pool under the rule); a rule that can never split a pool
# (weights:0,0,0) refused when the file is written, before anyone signs;
# amounts in units everywhere a person types one (pay, propose credit-limit,
# propose param default_credit_limit), more decimals than the network's 2
# refused, never rounded; and kula tx in the same words.
#
# Usage: bash sign_screen.sh PATH/TO/kulad PATH/TO/kula
set -euo pipefail

TEST=sign_screen
# shellcheck source=single_node.bash
. "$(dirname "${BASH_SOURCE[0]}")/single_node.bash" "$@"
export KULA_PASSPHRASE="sign screen passphrase"

start_node
k_ok kdev keys import dev --dev "$GENESIS"
k_ok kalice keys new --kdf-opslimit 1 --kdf-memlimit-mib 1 alice
ALICEPK=$(sed -n 's/^public key \([0-9a-f]\{64\}\)$/\1/p' "$TMP/kalice.out")
k_ok kbob keys new --kdf-opslimit 1 --kdf-memlimit-mib 1 bob
BOBPK=$(sed -n 's/^public key \([0-9a-f]\{64\}\)$/\1/p' "$TMP/kbob.out")
k_ok adm1 propose --key dev admit --pubkey "$ALICEPK" --name alice --sector food --credit-limit 500
k_ok pbob --json propose --key dev admit --pubkey "$BOBPK" --name bob --sector transport \
    --credit-limit 300.50
PBOB=$(jv "$TMP/pbob.out" 'd["id"]')
k_ok vote vote --key alice --proposal "$PBOB" yes
k_ok mbob --json member bob
[ "$(jv "$TMP/mbob.out" 'd["credit_limit"]')" -eq 30050 ] || fail "300.50 is not 30050 minor units" "$TMP/mbob.out"
ok "alice and bob admitted; --credit-limit 300.50 is 30050 minor units"

# ---- amounts in units, with the network's 2 decimals ----

k bad pay --key dev --to alice 12.345
[ "$CODE" -eq 3 ] || fail "pay 12.345: exit $CODE (expected 3, a bad command line)" "$TMP/bad.err"
grep -q "'12.345' has 3 decimals, but kula-devnet counts in KULA with 2 decimals" "$TMP/bad.err" ||
    fail "pay 12.345: the refusal does not name the network's decimals" "$TMP/bad.err"
ok "pay 12.345 refused: $(cat "$TMP/bad.err")"
k_ok pay --json pay --key dev --to alice 12.34
TXID=$(jv "$TMP/pay.out" 'd["id"]')
k_ok bal --json balance alice
[ "$(jv "$TMP/bal.out" 'd["balance"]')" -eq 1234 ] || fail "12.34 did not pay 1234 minor units" "$TMP/bal.out"
k_ok tx tx "$TXID"
says tx "^  #1 .* pays #2 alice 12.34 KULA$" "kula tx"
ok "pay 12.34 moved 1234 minor units; kula tx: $(grep pays "$TMP/tx.out" | sed 's/^ *//')"

k bad2 propose --key dev param default_credit_limit 2000.001
[ "$CODE" -eq 3 ] && grep -q "with 2 decimals" "$TMP/bad2.err" ||
    fail "propose param default_credit_limit 2000.001: exit $CODE" "$TMP/bad2.err"
k_ok par --json propose --key dev param default_credit_limit 2000.00
PAR=$(jv "$TMP/par.out" 'd["id"]')
k_ok parshow proposal "$PAR"
says parshow "set default_credit_limit to 2000.00" "kula proposal"
k_ok parjson --json proposal "$PAR"
[ "$(jv "$TMP/parjson.out" 'd["action"]["value"]')" -eq 200000 ] ||
    fail "default_credit_limit 2000.00 is not 200000 minor units in the API" "$TMP/parjson.out"
k_ok cl --json propose --key dev credit-limit --member bob 800
k_ok clshow proposal "$(jv "$TMP/cl.out" 'd["id"]')"
says clshow "set the credit limit of #3 bob to 800.00" "kula proposal credit-limit"
ok "propose param default_credit_limit 2000.00 is 200000 in the API, as credit-limit 800 is 800.00"

# ---- a barter: the signing screen ----

k_ok ex exchange --key dev --with alice --gives "shop fitting" --gives-value 300 \
    --receives "bread for a month" --receives-value 250.50 --out "$TMP/ex.json"
k_ok sign sign "$TMP/ex.json" --key alice --yes
says sign "^you sign  as #2 alice$" "sign: who signs"
says sign "^  #1 .* delivers \"shop fitting\", worth 300.00 KULA$" "sign: what dev gives"
says sign "^  #2 alice delivers \"bread for a month\", worth 250.50 KULA$" "sign: what alice gives"
says sign "^  #2 alice pays #1 .* the difference, 49.50 KULA$" "sign: who pays whom how much"
says sign "^valid until 20[0-9-]* [0-9:]* [+-][0-9][0-9]:[0-9][0-9] (in 6 days 23 hours)$" "sign: the expiry"
ok "sign, barter: $(sed -n 's/^  //p' "$TMP/sign.out" | head -3 | paste -sd'|' -)"
k_ok signjson --json sign "$TMP/ex.json" --key dev --yes
# Under --json, stdout is exactly one JSON document (once a plain "signed as"
# line followed it): what was signed, by whom, and who is still to sign.
python3 - "$TMP/signjson.out" "$TMP/ex.json" <<'PY' || fail "sign --json: not one JSON document" "$TMP/signjson.out"
import json, sys
d = json.loads(open(sys.argv[1]).read())  # raises on anything besides one document
assert d["signed_as"] == 1 and d["still_to_sign"] == [] and d["file"] == sys.argv[2], d
assert d["tx"]["gives_value"] == 30000, d["tx"]
PY
ok "sign --json: one JSON document, the machine form (minor units), nobody still to sign"

# ---- an agreement: shares under the rule, and a rule that splits nothing ----

k zero agreement open --key dev --party 1 --party alice --party bob --label zero \
    --title "never pays" --rule weights:0,0,0 --out "$TMP/zero.json"
[ "$CODE" -eq 1 ] || fail "weights:0,0,0: exit $CODE (expected 1)" "$TMP/zero.out" "$TMP/zero.err"
grep -q "invalid distribution rule. What to do: a rule must be able to split a pool" "$TMP/zero.err" ||
    fail "weights:0,0,0: the refusal does not give the reason" "$TMP/zero.err"
[ ! -e "$TMP/zero.json" ] || fail "weights:0,0,0: a file was written for the co-signers"
ok "weights:0,0,0 refused before anyone signs: $(cat "$TMP/zero.err")"

k_ok ag agreement open --key dev --party 1 --party alice --party bob --label caf \
    --title "joint catering" --rule weights:2,1,1 --out "$TMP/ag.json"
k_ok sag sign "$TMP/ag.json" --key bob --yes
says sag "opens the agreement caf, \"joint catering\", among: #1 .*, #2 alice, #3 bob$" "sign: parties"
says sag "^  each party's share of every 100 KULA paid into the pool:$" "sign: shares"
says sag "^    #1 .* 50.00$" "sign: dev's share"
says sag "^    #2 alice  *25.00$" "sign: alice's share"
says sag "^    #3 bob  *25.00$" "sign: bob's share"
says sag "^  term: open-ended" "sign: term"
ok "sign, agreement: shares 50.00/25.00/25.00 of every 100 KULA"
sed 's/^/# /' "$TMP/sag.out"

# ---- a file the ledger would refuse by now is not signed ----

k_ok ex2 exchange --key dev --with bob --gives "two deliveries" --gives-value 200 \
    --receives "nothing yet" --receives-value 0 --out "$TMP/ex2.json"
k_ok bobpays pay --key bob --to alice 150
cp "$TMP/ex2.json" "$TMP/ex2.before"
k late sign "$TMP/ex2.json" --key bob --yes
[ "$CODE" -eq 1 ] || fail "sign of a barter bob can no longer pay: exit $CODE" "$TMP/late.out" "$TMP/late.err"
grep -q "insufficient credit" "$TMP/late.err" || fail "sign: the refusal does not say why" "$TMP/late.err"
cmp -s "$TMP/ex2.json" "$TMP/ex2.before" || fail "sign refused, yet the file changed"
ok "sign refuses what the ledger would refuse now: $(cat "$TMP/late.err")"
k latej --json sign "$TMP/ex2.json" --key bob --yes
[ "$CODE" -eq 1 ] || fail "sign --json of the same barter: exit $CODE" "$TMP/latej.out" "$TMP/latej.err"
python3 - "$TMP/latej.out" <<'PY' || fail "sign --json refused: not one JSON error" "$TMP/latej.out"
import json, sys
d = json.loads(open(sys.argv[1]).read())
assert set(d) == {"error"} and d["error"]["code"] == 1, d
assert "insufficient credit" in d["error"]["message"], d
PY
ok "sign --json refused: one JSON document, the error"

stop_node
echo "$TEST: $passed passed, 0 failed"
