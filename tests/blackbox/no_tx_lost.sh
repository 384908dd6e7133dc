#!/usr/bin/env bash
# no_tx_lost.sh -- a member's transactions from submission to commit, on a
# real single-validator kulad (issue 10): every '--no-wait' payment from one
# key in a tight loop, from five keys in five concurrent shells and from one
# key in two shells at once (and one whose nonce another terminal's payment
# took and committed meanwhile) commits, with the payees' balances equal to the
# sums exactly; what the ledger would refuse in the block is refused at
# submission and the sender's next transaction still commits; a co-signed
# barter written before 20 other payments of its initiator still commits,
# once, and one past its expiry is refused; the node gives the next usable
# nonce.
#
# Usage: bash no_tx_lost.sh PATH/TO/kulad PATH/TO/kula
set -euo pipefail

TEST=no_tx_lost
# shellcheck source=single_node.bash
. "$(dirname "${BASH_SOURCE[0]}")/single_node.bash" "$@"
export KULA_PASSPHRASE="no tx lost"

N_LOOP=${NO_TX_LOST_LOOP:-1000}   # payments from one key in a loop
N_SHELL=${NO_TX_LOST_SHELL:-200}  # payments from each of 5 keys at once

# A network of its own, with cheap keys (every kula call unlocks one): a
# validator, a payer and its payee, five concurrent payers and their payee.
members=(--member v:ops:1 --member payer:retail --member payee:retail)
for i in 1 2 3 4 5; do members+=(--member "s$i:retail"); done
members+=(--member sink:retail --member alice:bakery --member bob:print)
"$KULA" genesis new --network no-tx-lost --out "$TMP/net" "${members[@]}" \
    --credit-limit 1000000 --block-interval-ms 500 --kdf-opslimit 1 --kdf-memlimit-mib 8 \
    >"$TMP/genesis.out" 2>&1 || fail "kula genesis new failed" "$TMP/genesis.out"
GENESIS=$TMP/net/GENESIS.json
mkdir -p "$D"
cp "$TMP/net/keys/v.key" "$D/node.key"
# kw NAME ARGS...: kula with the network's keys (as k).
kw() {
    local name=$1
    shift
    k "$name" --wallet "$TMP/net/keys" "$@"
}
kw_ok() {
    kw "$@"
    [ "$CODE" -eq 0 ] || fail "kula ${*:2} exited $CODE (expected 0)" "$TMP/$1.out" "$TMP/$1.err"
}
start_node

# balance_of MEMBER: its balance in minor units.
balance_of() {
    kw bal balance --json "$1"
    [ "$CODE" -eq 0 ] || fail "kula balance $1 exited $CODE" "$TMP/bal.err"
    jv "$TMP/bal.out" 'd["balance"]'
}

# wait_balance MEMBER WANT SECONDS: until MEMBER's balance is WANT.
wait_balance() {
    local who=$1 want=$2 tenths=$(($3 * 10)) got
    while :; do
        got=$(balance_of "$who")
        [ "$got" = "$want" ] && return 0
        running || fail "kulad stopped"
        tenths=$((tenths - 2))
        [ "$tenths" -gt 0 ] || fail "$who's balance is $got after $3 s, expected $want" "$TMP/kulad.log"
        sleep 0.2
    done
}

# pays KEY TO COUNT LOG: COUNT payments of 0.01, 0.02, ... from KEY, without
# waiting; every one must be accepted.
pays() {
    local key=$1 to=$2 count=$3 log=$4 i leaks
    for ((i = 1; i <= count; i++)); do
        # LeakSanitizer's exit scan costs ~40 ms a call under ASan: the first
        # five payments of each loop are checked, which covers the path.
        leaks=0
        ((i <= 5)) && leaks=1
        ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=$leaks timeout 60 "$KULA" --datadir "$D" --wallet "$TMP/net/keys" pay --key "$key" --to "$to" \
            "$((i / 100)).$(printf %02d $((i % 100)))" --no-wait >>"$log" 2>&1 ||
            { echo "payment $i of $key failed" >>"$log"; return 1; }
    done
}

# ---- one key, a tight loop ----

pays payer payee "$N_LOOP" "$TMP/loop.log" || fail "a --no-wait payment was refused" "$TMP/loop.log"
[ "$(grep -c 'accepted, waiting for a block' "$TMP/loop.log")" -eq "$N_LOOP" ] ||
    fail "not every payment was accepted" "$TMP/loop.log"
wait_balance payee $((N_LOOP * (N_LOOP + 1) / 2)) 120
last=$(sed -n 's/^transaction \([0-9a-f]*\) accepted.*/\1/p' "$TMP/loop.log" | tail -n 1)
kw_ok last tx "$last" --json
[ "$(jv "$TMP/last.out" 'd["status"]')" = committed ] || fail "the last payment is not committed" "$TMP/last.out"
ok "$N_LOOP payments --no-wait from one key in a loop: all committed, payee received the sum"

# ---- five keys from five shells at once, and one key from two shells ----

pids=()
for i in 1 2 3 4 5; do
    pays "s$i" sink "$N_SHELL" "$TMP/shell$i.log" &
    pids+=($!)
done
for p in "${pids[@]}"; do
    wait "$p" || fail "a payment of a concurrent shell was refused" "$TMP"/shell*.log
done
wait_balance sink $((5 * N_SHELL * (N_SHELL + 1) / 2)) 120
ok "$N_SHELL payments --no-wait from each of 5 keys in 5 concurrent shells: all committed"

before=$(balance_of bob)
pays alice bob 40 "$TMP/twin1.log" &
p1=$!
pays alice bob 40 "$TMP/twin2.log" &
p2=$!
wait "$p1" || fail "a payment from the first of two shells sharing a key was refused" "$TMP/twin1.log"
wait "$p2" || fail "a payment from the second of two shells sharing a key was refused" "$TMP/twin2.log"
wait_balance bob $((before + 2 * 40 * 41 / 2)) 60
ok "one key in two shells at once: 80 payments, all committed"

# The race of the two shells, made certain: between the moment kula reads
# alice's next nonce and the moment its payment reaches the node, another
# terminal's payment of alice takes that nonce and commits (a proxy on the
# API runs it before forwarding the first submit).  The node refuses the
# first with ENONCE (spent); kula signs it again with the next nonce.
url=$(sed -n 's/^url=//p' "$D/rpc.cookie")
token=$(sed -n 's/^token=//p' "$D/rpc.cookie")
before=$(balance_of bob)
python3 "$ROOT/tests/blackbox/nonce_race_proxy.py" "$TMP/proxy.port" "$url" 120 -- \
    timeout 60 "$KULA" --datadir "$D" --wallet "$TMP/net/keys" pay --key alice --to bob 0.07 \
    >"$TMP/proxy.log" 2>&1 &
proxy=$!
tenths=0
while [ ! -s "$TMP/proxy.port" ] && [ "$tenths" -lt 100 ]; do
    sleep 0.1
    tenths=$((tenths + 1))
done
[ -s "$TMP/proxy.port" ] || fail "the API proxy did not start in 10 s" "$TMP/proxy.log"
timeout 60 "$KULA" --rpc "http://127.0.0.1:$(cat "$TMP/proxy.port")/" --token "$token" \
    --wallet "$TMP/net/keys" pay --key alice --to bob 0.05 --no-wait >"$TMP/race.out" 2>&1 ||
    fail "a payment whose nonce another terminal's committed payment took was refused" \
        "$TMP/race.out" "$TMP/proxy.log"
kill "$proxy" 2>/dev/null || true
wait "$proxy" 2>/dev/null || true
grep -q '^spoiler exit 0$' "$TMP/proxy.log" || fail "the other terminal's payment failed" "$TMP/proxy.log"
grep -q '^submit 1: refused: .*nonce' "$TMP/proxy.log" ||
    fail "the first submit was not refused for its nonce: the race did not happen" "$TMP/proxy.log"
grep -q '^submit 2: accepted$' "$TMP/proxy.log" || fail "the second submit was not accepted" "$TMP/proxy.log"
wait_balance bob $((before + 7 + 5)) 60
ok "a payment whose nonce another terminal's payment took and committed meanwhile: signed again, committed"

# ---- what would fail in the block is refused at submission ----

# refused_now NAME PATTERN WHAT ARGS...: kula ARGS exits 1 naming PATTERN;
# then the sender's next payment commits.
refused_now() {
    local name=$1 pattern=$2 what=$3
    shift 3
    kw "$name" "$@"
    [ "$CODE" -eq 1 ] || fail "$what: exit $CODE (expected 1)" "$TMP/$name.out" "$TMP/$name.err"
    grep -q -- "$pattern" "$TMP/$name.err" || fail "$what: the error does not say '$pattern'" "$TMP/$name.err"
}

kw_ok ag agreement open --key alice --party alice --party bob --label shop --title "Shop" \
    --rule equal --out "$TMP/ag.tx"
AG=$(sed -n 's/^transaction \([0-9a-f]\{64\}\) written.*/\1/p' "$TMP/ag.out")
kw_ok agsign sign "$TMP/ag.tx" --key bob --yes
kw_ok agsub submit "$TMP/ag.tx"
refused_now empty "agreement pool is empty" "settling an empty pool" agreement settle --key alice --id "$AG"
refused_now over "insufficient credit" "a benefit over the credit limit" \
    agreement benefit --key alice --id "$AG" 5000000.00
kw zero agreement open --key alice --party alice --party bob --label zero --title "Zero" \
    --rule weights:0,0 --out "$TMP/zero.tx"
[ "$CODE" -eq 1 ] || fail "a rule with all weights 0 was written for signing (exit $CODE)" "$TMP/zero.out"
grep -q "invalid distribution rule" "$TMP/zero.err" ||
    fail "a rule with all weights 0 was refused without naming the rule" "$TMP/zero.err"
[ ! -e "$TMP/zero.tx" ] || fail "a refused agreement was written to a file"
kw_ok next pay --key alice --to bob 1.00
h0=$(sed -n 's/.*committed at height \([0-9][0-9]*\).*/\1/p' "$TMP/next.out")
[ -n "$h0" ] || fail "the next payment printed no height" "$TMP/next.out"
ok "an empty pool, a benefit over the limit, an all-zero rule (before anyone signs): refused at once; the next payment committed"

# ---- the nonce a wallet signs with ----

kw_ok me member alice --json
NEXT=$(jv "$TMP/me.out" 'd["next_nonce"]')
[ -n "$NEXT" ] || fail "the member has no next_nonce" "$TMP/me.out"
ok "the node gives the next usable nonce ($NEXT)"

# ---- a co-signed barter survives its initiator's other payments ----

kw_ok barter exchange --key alice --with bob --gives "Bread for a month" --gives-value 50.00 \
    --receives "Flyers" --receives-value 30.00 --out "$TMP/barter.tx"
BARTER=$(sed -n 's/^transaction \([0-9a-f]\{64\}\) written.*/\1/p' "$TMP/barter.out")
[ -n "$BARTER" ] || fail "exchange printed no transaction id" "$TMP/barter.out"
before=$(balance_of bob)
for i in $(seq 1 20); do
    kw_ok "mid$i" pay --key alice --to bob 0.01 --no-wait
done
wait_balance bob $((before + 20)) 60
kw_ok bsign sign "$TMP/barter.tx" --key bob --yes
kw_ok bsub submit "$TMP/barter.tx"
grep -q "committed at height" "$TMP/bsub.out" || fail "the barter did not commit" "$TMP/bsub.out"
kw again submit "$TMP/barter.tx"
[ "$CODE" -eq 1 ] || fail "submitting the barter again: exit $CODE (expected 1)" "$TMP/again.err"
grep -q "already committed" "$TMP/again.err" || fail "submitting it again does not say it is already committed" "$TMP/again.err"
ok "a barter signed after 20 other payments of its initiator commits, once"

# ---- a file past its expiry ----

soon=$(date -u -d '+3 seconds' +%FT%TZ)
kw_ok late exchange --key alice --with bob --gives "Cakes" --gives-value 5.00 \
    --receives "Posters" --receives-value 5.00 --expires "$soon" --out "$TMP/late.tx"
kw_ok lsign sign "$TMP/late.tx" --key bob --yes
while [ "$(date -u +%s)" -le "$(date -u -d "$soon" +%s)" ]; do sleep 0.2; done
kw lsub submit "$TMP/late.tx"
[ "$CODE" -eq 1 ] || fail "submitting an expired file: exit $CODE (expected 1)" "$TMP/lsub.out" "$TMP/lsub.err"
grep -q "expired" "$TMP/lsub.err" || fail "kula submit does not say the file expired" "$TMP/lsub.err"
# the node itself refuses it too, whatever the client checks
hex=$(jv "$TMP/late.tx" 'd["tx"]')
token=$(sed -n 's/^token=//p' "$D/rpc.cookie")
curl -s -m 10 -H "Authorization: Bearer $token" \
    --data-binary "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"submit\",\"params\":{\"tx\":\"$hex\"}}" \
    "http://127.0.0.1:$PORT/" >"$TMP/lraw.json"
grep -q '"ETXEXPIRED"' "$TMP/lraw.json" || fail "the node took an expired transaction" "$TMP/lraw.json"
ok "a file past its expiry is refused, by kula (saying it expired) and by the node (ETXEXPIRED)"

stop_node
echo "$TEST: $passed passed, 0 failed"
