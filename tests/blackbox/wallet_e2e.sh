#!/usr/bin/env bash
# wallet_e2e.sh -- end-to-end test of the wallet against a real kulad: keys,
# admission by proposal and vote, payments, a three-party pro-rata agreement
# co-signed through files, benefits and settlements checked against the rule
# computed here by hand, balances, the refusals that must change nothing, an
# unreachable node and, when 'kula audit' exists, an audit of the stored chain
# before and after one byte of a block is flipped.
#
# Everything goes through 'kula --datadir DIR'; the node runs on a copy of the
# repository's development GENESIS.json on free loopback ports.
#
# Usage: bash wallet_e2e.sh PATH/TO/kulad PATH/TO/kula
set -euo pipefail

TEST=wallet_e2e
# shellcheck source=single_node.bash
. "$(dirname "${BASH_SOURCE[0]}")/single_node.bash" "$@"
export KULA_PASSPHRASE="wallet e2e passphrase"

# prorata POOL W... : the split of POOL by weights W (proto/LEDGER.md §5.1):
# floor(P * w_i / W), then one unit each to the largest remainders
# P * w_i mod W, ties to the lower member (the weights are in member order).
prorata() {
    local pool=$1
    shift
    local -a w=("$@") share rem
    local total=0 sum=0 i
    for i in "${!w[@]}"; do total=$((total + w[i])); done
    for i in "${!w[@]}"; do
        share[i]=$((pool * w[i] / total))
        rem[i]=$((pool * w[i] % total))
        sum=$((sum + share[i]))
    done
    local left=$((pool - sum)) best
    while [ "$left" -gt 0 ]; do
        best=-1
        for i in "${!w[@]}"; do
            if [ "${rem[i]}" -ge 0 ] && { [ "$best" -lt 0 ] || [ "${rem[i]}" -gt "${rem[best]}" ]; }; then
                best=$i
            fi
        done
        share[best]=$((share[best] + 1))
        rem[best]=-1
        left=$((left - 1))
    done
    echo "${share[@]}"
}

# balance MEMBER: the member's balance in minor units.
balance() {
    k bal balance --json "$1"
    [ "$CODE" -eq 0 ] || fail "kula balance --json $1 exited $CODE" "$TMP/bal.err"
    jv "$TMP/bal.out" 'd["balance"]'
}

# snapshot FILE: what a refused operation must not change.
snapshot() {
    local m
    : >"$1"
    for m in "$DEV" "$ALICE" "$BOB"; do
        k snap balance --json "$m"
        cat "$TMP/snap.out" >>"$1"
        k snap --json history "$m" --limit 1000
        cat "$TMP/snap.out" >>"$1"
    done
    k snap --json members
    cat "$TMP/snap.out" >>"$1"
    k snap agreement show "$AG" --json
    cat "$TMP/snap.out" >>"$1"
}

# refused NAME CODE PATTERN WHAT ARGS...: runs kula ARGS, which must exit
# CODE with one line on stderr matching PATTERN, and change nothing (checked
# two blocks later, so that anything the node had accepted is committed).
refused() {
    local name=$1 want=$2 pattern=$3 what=$4
    shift 4
    k "$name" "$@"
    [ "$CODE" -eq "$want" ] || fail "$what: exit $CODE (expected $want)" "$TMP/$name.out" "$TMP/$name.err"
    [ "$(wc -l <"$TMP/$name.err")" -eq 1 ] || fail "$what: expected one line on stderr" "$TMP/$name.err"
    grep -q "^kula: " "$TMP/$name.err" || fail "$what: the error does not start with 'kula: '" "$TMP/$name.err"
    grep -q -- "$pattern" "$TMP/$name.err" || fail "$what: the error does not say '$pattern'" "$TMP/$name.err"
    local h
    h=$(height)
    wait_height $((h + 2)) 10 || fail "$what: the node stopped making blocks"
    snapshot "$TMP/after.snap"
    cmp -s "$TMP/before.snap" "$TMP/after.snap" ||
        fail "$what: the ledger changed" "$TMP/before.snap" "$TMP/after.snap"
    ok "$what: exit $want, nothing changed: $(cat "$TMP/$name.err")"
}

# ---- the node ----

start_node
k_ok st status --json
H=$(jv "$TMP/st.out" 'd["height"]')
[ "$H" -ge 1 ] || fail "kula status --json: height $H" "$TMP/st.out"
ok "kulad on 127.0.0.1:$PORT; kula status --json: height $H"

k_ok st2 status
grep -q "^network  *kula-devnet" "$TMP/st2.out" || fail "kula status shows no network" "$TMP/st2.out"
grep -q "produces blocks" "$TMP/st2.out" || fail "kula status does not say the node produces blocks" "$TMP/st2.out"
ok "kula status: network, height, producing"

# ---- keys ----

k_ok kdev keys import dev --dev "$GENESIS"
DEVPK=$(sed -n 's/^public key \([0-9a-f]\{64\}\)$/\1/p' "$TMP/kdev.out")
grep -q "\"pubkey\": \"$DEVPK\"" "$GENESIS" || fail "the imported dev key is not the genesis member's" "$TMP/kdev.out"
k_ok kalice keys new --kdf-opslimit 1 --kdf-memlimit-mib 1 alice
ALICEPK=$(sed -n 's/^public key \([0-9a-f]\{64\}\)$/\1/p' "$TMP/kalice.out")
k_ok kbob keys new --kdf-opslimit 1 --kdf-memlimit-mib 1 bob
BOBPK=$(sed -n 's/^public key \([0-9a-f]\{64\}\)$/\1/p' "$TMP/kbob.out")
[ -n "$ALICEPK" ] && [ -n "$BOBPK" ] || fail "kula keys new printed no public key" "$TMP/kalice.out" "$TMP/kbob.out"
ok "keys: dev imported, alice and bob created"

# ---- admission: dev alone passes alice; bob needs alice's vote too ----

k_ok padm --json propose --key dev admit --pubkey "$ALICEPK" --name alice --sector food \
    --credit-limit 500
[ "$(jv "$TMP/padm.out" 'd["status"]')" = committed ] || fail "propose admit alice not committed" "$TMP/padm.out"
k_ok malice --json member alice
ALICE=$(jv "$TMP/malice.out" 'd["id"]')
[ "$(jv "$TMP/malice.out" 'd["pubkey"]')" = "$ALICEPK" ] || fail "member alice has another key" "$TMP/malice.out"
[ "$(jv "$TMP/malice.out" 'd["credit_limit"]')" -eq 50000 ] || fail "alice's credit limit is not 500.00" "$TMP/malice.out"
ok "alice admitted by dev's proposal alone (member $ALICE)"

k_ok pbob --json propose --key dev admit --pubkey "$BOBPK" --name bob --sector transport \
    --credit-limit 300
PBOB=$(jv "$TMP/pbob.out" 'd["id"]')
k_ok prop1 --json proposal "$PBOB"
[ "$(jv "$TMP/prop1.out" 'd["status"]')" = open ] ||
    fail "with two members, one yes vote must not pass a proposal" "$TMP/prop1.out"
k notyet member bob
[ "$CODE" -eq 1 ] || fail "bob is a member before the vote (exit $CODE)" "$TMP/notyet.out"
k_ok vote vote --key alice --proposal "$PBOB" yes
k_ok prop2 --json proposal "$PBOB"
[ "$(jv "$TMP/prop2.out" 'd["status"]')" = passed ] || fail "the proposal did not pass with alice's vote" "$TMP/prop2.out"
k_ok mbob --json member "$BOBPK"
BOB=$(jv "$TMP/mbob.out" 'd["id"]')
[ "$(jv "$TMP/mbob.out" 'd["name"]')" = bob ] || fail "member with bob's key is not named bob" "$TMP/mbob.out"
k_ok mdev --json member "$DEVPK"
DEV=$(jv "$TMP/mdev.out" 'd["id"]')
ok "bob admitted after alice's vote (member $BOB); dev is member $DEV"

k_ok props proposals
[ "$(grep -c passed "$TMP/props.out")" -eq 2 ] || fail "kula proposals does not list two passed proposals" "$TMP/props.out"
k_ok mems members
grep -q " alice " "$TMP/mems.out" && grep -q " bob " "$TMP/mems.out" ||
    fail "kula members does not list alice and bob" "$TMP/mems.out"
ok "kula proposals and kula members"

# ---- payments ----

MARKER="e2e-audit-marker-q7Zk"
k_ok pay1 pay --key dev --to alice 200.00 --memo "$MARKER"
H_PAY=$(committed_height pay1)
TX_PAY=$(sed -n 's/^transaction \([0-9a-f]\{64\}\) committed.*/\1/p' "$TMP/pay1.out")
k_ok pay2 --json pay --key dev --to "$BOBPK" 150
[ "$(jv "$TMP/pay2.out" 'd["status"]')" = committed ] || fail "pay to bob: not committed" "$TMP/pay2.out"
[ "$(balance "$DEV")" -eq -35000 ] || fail "dev's balance is not -350.00" "$TMP/bal.out"
[ "$(balance alice)" -eq 20000 ] || fail "alice's balance is not 200.00" "$TMP/bal.out"
[ "$(balance "$BOB")" -eq 15000 ] || fail "bob's balance is not 150.00" "$TMP/bal.out"
ok "dev paid alice 200.00 (height $H_PAY) and bob 150.00"

k_ok txq tx "$TX_PAY"
grep -q "committed at height $H_PAY" "$TMP/txq.out" || fail "kula tx does not say where the payment is" "$TMP/txq.out"
k_ok hist --json history alice --limit 5
[ "$(jv "$TMP/hist.out" 'd["entries"][0]["id"]')" = "$TX_PAY" ] ||
    fail "the payment is not the newest entry of alice's history" "$TMP/hist.out"
k_ok histk history --key alice
grep -q "transfer .*+200.00  $MARKER" "$TMP/histk.out" || fail "kula history --key alice does not show the payment" "$TMP/histk.out"
ok "kula tx, kula history (--json, --key)"

# ---- a three-party agreement, pro rata ----

k_ok open agreement open --key dev --party "$DEVPK" --party alice --party "$BOB" --label jv \
    --title "Joint venture" --rule pro-rata --out "$TMP/open.tx"
AG=$(sed -n 's/^transaction \([0-9a-f]\{64\}\) written.*/\1/p' "$TMP/open.out")
[ -n "$AG" ] || fail "agreement open printed no transaction id" "$TMP/open.out"
k early submit "$TMP/open.tx"
[ "$CODE" -eq 1 ] || fail "submitting an agreement only dev signed: exit $CODE (expected 1)" "$TMP/early.out" "$TMP/early.err"
k_ok sign1 sign "$TMP/open.tx" --key alice --yes
k_ok sign2 sign "$TMP/open.tx" --key bob --yes
k_ok subopen submit "$TMP/open.tx"
committed_height subopen >/dev/null
k_ok ag0 agreement show "$AG" --json
[ "$(jv "$TMP/ag0.out" '[p["member"] for p in d["parties"]]')" = "$DEV $ALICE $BOB" ] ||
    fail "the agreement's parties are not dev, alice, bob" "$TMP/ag0.out"
[ "$(jv "$TMP/ag0.out" 'd["rule"]["kind"]')" = pro-rata ] || fail "the rule is not pro-rata" "$TMP/ag0.out"
ok "agreement $AG opened: refused with one signature, committed with all three"

# contribute NAME KEY VALUE ACK DESCRIPTION ACKKEY
contribute() {
    k_ok "$1" agreement contribute --key "$2" --id "$AG" --value "$3" --ack "$4" \
        --description "$5" --out "$TMP/$1.tx"
    k_ok "$1s" sign "$TMP/$1.tx" --key "$6" --yes
    k_ok "$1c" submit "$TMP/$1.tx"
}
contribute c1 dev 30.00 alice "design work" alice
contribute c2 alice 50 "$BOB" "kitchen time" bob
contribute c3 bob 20.01 "$DEV" "two trucks" dev
W=(3000 5000 2001)
k_ok ag1 agreement show "$AG" --json
[ "$(jv "$TMP/ag1.out" '[p["contributed"] for p in d["parties"]]')" = "${W[*]}" ] ||
    fail "contributions are not 30.00, 50.00, 20.01" "$TMP/ag1.out"
ok "three contributions, each acknowledged by another party"

k_ok b1 agreement benefit --key dev --id "$AG" 100.00 --description "sales"
k_ok b2 agreement benefit --key bob --id "$AG" 33.33
P1=13333
read -r -a S1 <<<"$(prorata $P1 "${W[@]}")"
k_ok ag2 agreement show "$AG" --json
[ "$(jv "$TMP/ag2.out" 'd["pool"]')" -eq $P1 ] || fail "the pool is not 133.33" "$TMP/ag2.out"
[ "$(jv "$TMP/ag2.out" '[p["share_of_pool"] for p in d["parties"]]')" = "${S1[*]}" ] ||
    fail "shares of the pool are not ${S1[*]} (pro rata by hand)" "$TMP/ag2.out"
ok "benefits 100.00 + 33.33 in the pool; the node's shares are ${S1[*]} as by hand"

k_ok set1 agreement settle --key alice --id "$AG"
k_ok ag3 agreement show "$AG" --json
[ "$(jv "$TMP/ag3.out" '[p["received"] for p in d["parties"]]')" = "${S1[*]}" ] ||
    fail "received amounts are not ${S1[*]}" "$TMP/ag3.out"
[ "$(jv "$TMP/ag3.out" 'sum(p["received"] for p in d["parties"])')" -eq $P1 ] ||
    fail "the shares do not sum to the pool" "$TMP/ag3.out"
[ "$(jv "$TMP/ag3.out" 'd["pool"]')" -eq 0 ] || fail "the pool is not empty after settling" "$TMP/ag3.out"
ok "settled: received ${S1[*]}, summing exactly to $P1"

# A second round: a pool the weights do not divide, settled by another party.
k_ok b3 agreement benefit --key alice --id "$AG" 7.77
P2=777
read -r -a S2 <<<"$(prorata $P2 "${W[@]}")"
k_ok set2 agreement settle --key bob --id "$AG"
k_ok ag4 agreement show "$AG" --json
R=("$((S1[0] + S2[0]))" "$((S1[1] + S2[1]))" "$((S1[2] + S2[2]))")
[ "$(jv "$TMP/ag4.out" '[p["received"] for p in d["parties"]]')" = "${R[*]}" ] ||
    fail "received amounts after two settlements are not ${R[*]}" "$TMP/ag4.out"
[ "$(jv "$TMP/ag4.out" 'sum(p["received"] for p in d["parties"]) == d["benefits"]')" = True ] ||
    fail "received amounts do not sum to the benefits paid in" "$TMP/ag4.out"
[ "$(jv "$TMP/ag4.out" 'd["settlements"]')" -eq 2 ] || fail "not two settlements" "$TMP/ag4.out"
ok "second settlement of 7.77: shares ${S2[*]}; received ${R[*]} = all benefits"

k_ok agtext agreement show "$AG"
grep -q "^rule  *pro-rata" "$TMP/agtext.out" || fail "kula agreement show gives no rule" "$TMP/agtext.out"
grep -q "50.00%" "$TMP/agtext.out" || fail "kula agreement show gives no percentages" "$TMP/agtext.out"
k_ok aglist agreement list --member bob
grep -q "^$AG " "$TMP/aglist.out" || fail "kula agreement list --member bob misses the agreement" "$TMP/aglist.out"
ok "kula agreement show and list"

# ---- balances ----

EDEV=$((-35000 - 10000 + R[0]))
EALICE=$((20000 - 777 + R[1]))
EBOB=$((15000 - 3333 + R[2]))
[ "$(balance "$DEV")" -eq "$EDEV" ] || fail "dev's balance is not $EDEV" "$TMP/bal.out"
[ "$(balance alice)" -eq "$EALICE" ] || fail "alice's balance is not $EALICE" "$TMP/bal.out"
[ "$(balance "$BOB")" -eq "$EBOB" ] || fail "bob's balance is not $EBOB" "$TMP/bal.out"
[ $((EDEV + EALICE + EBOB)) -eq 0 ] || fail "balances do not sum to zero"
k_ok balkey balance --key alice --json
[ "$(jv "$TMP/balkey.out" 'd["balance"]')" -eq "$EALICE" ] || fail "kula balance --key alice differs" "$TMP/balkey.out"
ok "balances dev $EDEV, alice $EALICE, bob $EBOB: as computed, summing to 0"
# A wallet key's name stands for its member where a member is expected.
k_ok baldev balance dev --json
[ "$(jv "$TMP/baldev.out" 'd["balance"]')" -eq "$EDEV" ] || fail "kula balance dev differs from dev's balance" "$TMP/baldev.out"
ok "kula balance dev: the member of wallet key dev"
# A refusal of the node under --json: one error object on stdout.
k jsonerr --json balance nosuchmember
[ "$CODE" -eq 1 ] || fail "balance of an unknown member exited $CODE (expected 1)" "$TMP/jsonerr.err"
[ "$(jv "$TMP/jsonerr.out" '[d["error"]["code"], d["error"]["name"]]')" = "1 refused" ] ||
    fail "no JSON error with code 1 'refused'" "$TMP/jsonerr.out"
ok "a node's refusal under --json is {\"error\":{\"code\":1,\"name\":\"refused\",...}}"

# ---- refusals change nothing ----

snapshot "$TMP/before.snap"
AVAIL=$(jv "$TMP/balkey.out" 'd["available"]')
OVER=$(python3 -c "print('%d.%02d' % divmod($AVAIL + 1, 100))")

# (a temporary assignment in front of a shell function reaches its commands)
KULA_PASSPHRASE=wrong refused wrongpass 1 "wrong passphrase" "wrong passphrase" \
    pay --key alice --to bob 1.00
refused nosuch 1 "nosuch" "unknown member" pay --key alice --to nosuch 1.00
refused credit 1 "insufficient credit" "insufficient credit ($OVER, 0.01 above alice's available)" \
    pay --key alice --to bob "$OVER"
refused neg 1 "positive" "negative amount" pay --key alice --to bob -5
refused decimals 3 "1.234" "amount with 3 decimals" pay --key alice --to bob 1.234
refused abc 3 "abc" "amount that is not a number" pay --key alice --to bob abc

printf 'garbage\n' >"$TMP/garbage.tx"
refused garbage 1 "garbage.tx" "transaction file of garbage" submit "$TMP/garbage.tx"
k_ok good pay --key alice --to bob 1.00 --memo "never submitted" --out "$TMP/good.tx"
python3 - "$TMP/good.tx" "$TMP/odd.tx" "$TMP/short.tx" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
tx = d["tx"]
d["tx"] = tx[:-7]    # odd number of hex digits
json.dump(d, open(sys.argv[2], "w"))
d["tx"] = tx[:-20]   # whole bytes, but the transaction stops short
json.dump(d, open(sys.argv[3], "w"))
PY
refused odd 1 "odd.tx" "transaction file with truncated hex (odd length)" submit "$TMP/odd.tx"
refused short 1 "short.tx" "transaction file with a truncated transaction" submit "$TMP/short.tx"
head -c 120 "$TMP/good.tx" >"$TMP/cut.tx"
refused cut 1 "cut.tx" "transaction file cut short" submit "$TMP/cut.tx"
k_ok close agreement close --key dev --id "$AG" --out "$TMP/close.tx"
refused unsigned 1 "close.tx" "agreement close signed by one of three" submit "$TMP/close.tx"

# At the limit: bob may pay exactly what is available, not 0.01 more.
k_ok bbob balance --json "$BOB"
BAVAIL=$(jv "$TMP/bbob.out" 'd["available"]')
k_ok all pay --key bob --to "$DEV" "$(python3 -c "print('%d.%02d' % divmod($BAVAIL, 100))")"
k_ok bbob2 balance --json "$BOB"
[ "$(jv "$TMP/bbob2.out" 'd["balance"] == -d["credit_limit"] and d["available"] == 0')" = True ] ||
    fail "bob is not exactly at his credit limit" "$TMP/bbob2.out"
snapshot "$TMP/before.snap"
refused limit 1 "insufficient credit" "0.01 beyond the credit limit" pay --key bob --to "$DEV" 0.01
ok "a payment of exactly the available credit passes"

# ---- the node stops: unreachable, then audit ----

cp "$D/rpc.cookie" "$TMP/stale.cookie"
stop_node
[ ! -f "$D/rpc.cookie" ] || fail "kulad left its cookie behind after SIGTERM"
ok "kulad stops on SIGTERM with exit 0"

unreachable() { # NAME WHAT ARGS...
    local name=$1 what=$2
    shift 2
    k "$name" "$@"
    [ "$CODE" -eq 2 ] || fail "$what: exit $CODE (expected 2)" "$TMP/$name.out" "$TMP/$name.err"
    [ "$(wc -l <"$TMP/$name.err")" -eq 1 ] || fail "$what: expected one line on stderr" "$TMP/$name.err"
    grep -q "^kula: cannot reach the node" "$TMP/$name.err" ||
        fail "$what: the error does not say the node cannot be reached" "$TMP/$name.err"
    ok "$what: exit 2: $(cat "$TMP/$name.err")"
}
unreachable down1 "kula balance, node not running" balance --json alice
unreachable down2 "kula pay, node not running" pay --key alice --to bob 1.00
cp "$TMP/stale.cookie" "$D/rpc.cookie"
unreachable down3 "kula status, stale cookie of a stopped node" status
rm -f "$D/rpc.cookie"

CODE=0
timeout 20 "$KULA" audit --help >"$TMP/ahelp.out" 2>&1 || CODE=$?
if [ "$CODE" -eq 0 ]; then
    k audit1 audit "$D"
    [ "$CODE" -eq 0 ] || fail "kula audit of the intact chain exited $CODE" "$TMP/audit1.out" "$TMP/audit1.err"
    ok "kula audit DATADIR passes on the stopped node's chain"

    cp -a "$D" "$TMP/tampered"
    # Flip one bit of the payment's memo in every copy LMDB keeps of the
    # block's page (old copies in free pages are harmless).  'e' -> 'd' keeps
    # the text valid, so only the hashes can tell.
    FLIPPED=$(flip_bytes "$TMP/tampered/ledger/data.mdb" "$MARKER")
    [ "$FLIPPED" -ge 1 ] || fail "the memo '$MARKER' is not in $TMP/tampered/ledger/data.mdb"
    k audit2 audit "$TMP/tampered"
    [ "$CODE" -ne 0 ] || fail "kula audit of a chain with a flipped byte exited 0" "$TMP/audit2.out" "$TMP/audit2.err"
    cat "$TMP/audit2.out" "$TMP/audit2.err" >"$TMP/audit2.all"
    grep -Eq "(height|block) $H_PAY([^0-9]|\$)" "$TMP/audit2.all" ||
        fail "kula audit does not name height $H_PAY, the altered block" "$TMP/audit2.all"
    ok "kula audit after one flipped byte in block $H_PAY: exit $CODE, names height $H_PAY"
else
    echo "# kula audit is not available (exit $CODE): audit checks skipped"
fi

echo "wallet_e2e: $passed passed, 0 failed"
