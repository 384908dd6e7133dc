#!/usr/bin/env bash
# words.sh -- ids, refusals and progress a business can read, through the
# real kula and kulad: a vote on a proposal by an 8-digit prefix; an
# unknown prefix and a too short one refused saying so; the progress line
# after propose and after vote (proto/LEDGER.md §6.2, worded exactly); an
# agreement declared with a Shapley game from a file, then paid into and
# settled by its label, the split shown per party in units and names; 17
# parties refused naming the limit of 16; kula referrals listing the open
# referral, the referral's id in kula history, a conversion by the wrong
# member refused naming the receiver who may confirm it, and convert by
# prefix; an insufficient-credit refusal naming the payer's available
# credit and the shortfall.
#
# Usage: bash words.sh PATH/TO/kulad PATH/TO/kula
set -euo pipefail

TEST=words
# shellcheck source=single_node.bash
. "$(dirname "${BASH_SOURCE[0]}")/single_node.bash" "$@"
export KULA_PASSPHRASE="words passphrase"

# refused NAME PATTERN WHAT ARGS...: kula ARGS exits 1 (refused; with
# EXPECT=3, a bad command line) saying PATTERN.
refused() {
    local name=$1 pattern=$2 what=$3
    shift 3
    k "$name" "$@"
    [ "$CODE" -eq "${EXPECT:-1}" ] || fail "$what: exit $CODE (expected 1)" "$TMP/$name.out" "$TMP/$name.err"
    grep -q -- "$pattern" "$TMP/$name.err" || fail "$what: no '$pattern'" "$TMP/$name.err"
    ok "$what: $(head -c 400 "$TMP/$name.err")"
}

start_node
k_ok kdev keys import dev --dev "$GENESIS"
k_ok kalice keys new --kdf-opslimit 1 --kdf-memlimit-mib 1 alice
ALICEPK=$(sed -n 's/^public key \([0-9a-f]\{64\}\)$/\1/p' "$TMP/kalice.out")
k_ok kbob keys new --kdf-opslimit 1 --kdf-memlimit-mib 1 bob
BOBPK=$(sed -n 's/^public key \([0-9a-f]\{64\}\)$/\1/p' "$TMP/kbob.out")

# ---- proposals: progress words, a vote by prefix ----

k_ok adm1 propose --key dev admit --pubkey "$ALICEPK" --name alice --sector food --credit-limit 500
says adm1 "^proposal [0-9a-f]\{12\}: passed with 1 yes and 0 no$" "propose with one member"
k_ok adm2 propose --key dev admit --pubkey "$BOBPK" --name bob --sector transport \
    --credit-limit 300
# 2 active members, threshold 2/3: yes * 3 > 2 * 2 takes 2 yes votes
says adm2 "^proposal [0-9a-f]\{12\}: 1 of 2 active members voted yes, 0 no; it passes when more than 2/3 of the active members vote yes: 2 yes votes (1 more of the 1 still to vote); it is rejected after 1 more no vote$" \
    "progress after propose"
ok "after propose: $(grep '^proposal' "$TMP/adm2.out")"
PBOB=$(sed -n 's/^transaction \([0-9a-f]\{64\}\) committed.*/\1/p' "$TMP/adm2.out")
[ -n "$PBOB" ] || PBOB=$(sed -n 's/^proposal \([0-9a-f]\{12\}\):.*/\1/p' "$TMP/adm2.out")
EXPECT=3 refused short "first 4 or more hex digits" "a 3-digit prefix" vote --key alice --proposal "${PBOB:0:3}" yes
NOPE=0000
[ "${PBOB:0:4}" != 0000 ] || NOPE=ffff
refused nope "no proposal's id starts with $NOPE (kula proposals lists them)" "an unknown prefix" \
    vote --key alice --proposal "$NOPE" yes
k_ok vote vote --key alice --proposal "${PBOB:0:8}" yes
says vote "^proposal ${PBOB:0:12}: passed with 2 yes and 0 no$" "progress after vote"
ok "vote by the prefix ${PBOB:0:8}: $(grep '^proposal' "$TMP/vote.out")"
k_ok pshow proposal "${PBOB:0:6}"
says pshow "bob" "kula proposal by prefix"

# ---- an insufficient-credit refusal with its numbers ----

refused credit "#3 bob has 300.00 KULA of credit available (balance 0.00, credit limit 300.00); this needs 1000.00: 700.00 short. What to do: " \
    "pay beyond the credit limit" pay --key bob --to alice 1000

# ---- a Shapley game from a file; an agreement by its label ----

k_ok m1 --json member 1
DEVNAME=$(jv "$TMP/m1.out" 'd["name"]')
cat >"$TMP/game.txt" <<GAME
# the bakery, the mill and the carrier
alice: 30
bob: 10.50
alice+bob: 60.00
$DEVNAME + alice + bob: 90
GAME
k_ok ag agreement open --key dev --party 1 --party alice --party bob --label bread \
    --title "bread round" --game "$TMP/game.txt" --out "$TMP/ag.json"
k_ok sa sign "$TMP/ag.json" --key alice --yes
k_ok sb sign "$TMP/ag.json" --key bob --yes
k_ok sub submit "$TMP/ag.json"
k_ok agj --json agreement show bread
VALS=$(jv "$TMP/agj.out" 'd["rule"]["coalition_values"]')
# bitmask over dev(1), alice(2), bob(4): unlisted dev=0, dev+alice=30, dev+bob=10.50
[ "$VALS" = "0 0 3000 3000 1050 1050 6000 9000" ] || fail "the game's values: '$VALS'" "$TMP/agj.out"
ok "--game FILE: values by coalition $VALS (unlisted: the most of the listed inside)"
printf 'alice: 1\nalice+bob: 92233720368547758.08\n' >"$TMP/big.txt"
EXPECT=3 refused big "is too large: a value is at most 92233720368547758.07" "a value over 64 bits" agreement open --key dev --party 1 --party alice \
    --party bob --label big --title big --game "$TMP/big.txt" --out "$TMP/big.json"
[ ! -e "$TMP/big.json" ] || fail "an oversize game wrote a file"
args=()
for i in $(seq 1 17); do args+=(--party "$i"); done
EXPECT=3 refused p17 "an agreement has at most 16 parties (proto/LEDGER.md §5), not 17" "17 parties" \
    agreement open --key dev "${args[@]}" --label l --title t --rule equal --out "$TMP/p17.json"

# a label of hex digits that starts no agreement's id is a label
k_ok cafe agreement open --key dev --party 1 --party alice --label cafe --title "coffee corner" \
    --rule equal --out "$TMP/cafe.json"
k_ok scafe sign "$TMP/cafe.json" --key alice --yes
k_ok subcafe submit "$TMP/cafe.json"
k_ok showcafe agreement show cafe
says showcafe "coffee corner" "agreement show by the label cafe"
ok "agreement show cafe: the label, though it reads as hex"

k_ok ben agreement benefit --key alice --id bread 50
k_ok settle agreement settle --key dev --id bread
says settle "^the pool of bread is split, in KULA:$" "settle: the split"
sed 's/^/# /' "$TMP/settle.out"
# Shapley numerators: dev 3*... computed by the ledger; the three sum to 50.00
SUM=$(sed -n 's/^  #[0-9] .* \([0-9]*\.[0-9][0-9]\)$/\1/p' "$TMP/settle.out" | paste -sd+ - | bc)
[ "$SUM" = "50.00" ] || fail "settle: the split sums to '$SUM', not 50.00" "$TMP/settle.out"
says settle "^  #2 alice  *[0-9]*\.[0-9][0-9]$" "settle: alice's share"
ok "settle by label: $(sed -n 's/^  //p' "$TMP/settle.out" | paste -sd'|' -)"

# ---- referrals: listed, in history, converted by prefix ----

k_ok ref referral --key dev --to alice --lead "CRM-42" --fee 5
k_ok refs referrals
says refs "^[0-9a-f]\{12\}  #1 .* #2 alice .* 5.00  [0-9]* blocks" "kula referrals"
RID=$(awk 'NR==2 {print $1}' "$TMP/refs.out")
ok "kula referrals: $(sed -n 2p "$TMP/refs.out")"
k_ok hist history --key dev --limit 3
says hist "referral ${RID:0:12}\.\. (lead [0-9a-f]*\.\.), fee 5.00" "history shows the referral's id"
refused wrong "Only the referral's receiver may confirm it: #2 alice" "convert by the referrer" \
    convert --key bob --referral "${RID:0:6}" --value 100
k_ok conv convert --key alice --referral "${RID:0:6}" --value 100
k_ok refs2 referrals --member alice
says refs2 "^no open referrals$" "the converted referral is gone"
ok "convert --referral ${RID:0:6} (a prefix from kula referrals) paid the fee"

stop_node
echo "$TEST: $passed passed, 0 failed"
