#!/usr/bin/env bash
# validator_set.sh -- the validator set follows governance, end to end with
# real kulad processes: testnet/up 4 (validators v1..v4 of power 1 and 16
# businesses), then the members vote to admit v5 with voting power 1.  From
# the block after the vote, the consensus runs with five validators: v5's
# node (started then) proposes blocks in its turn and its precommits finalise
# blocks; with two of the five down (3 of 5 < 2/3 of the power) no block is
# committed, which four validators of the old set would still have done, and
# bringing one back restores progress.
#
# Usage: bash validator_set.sh PATH/kulad PATH/kula
set -euo pipefail

KULAD=${1:?usage: validator_set.sh PATH/kulad PATH/kula}
KULA=${2:?usage: validator_set.sh PATH/kulad PATH/kula}
BB_NAME=validator_set
source "$(dirname "$0")/testnet_test.bash" # REPO, TMP, BASE, fail, pass, cleanup
BB_LOGS+=("$TMP/v5.log")

bb_up4

height() { q 1 status --json 2>/dev/null | jfield '["height"]' 2>/dev/null || echo -1; }

# ---- governance admits v5 with voting power 1 ----
q 1 keys new v5 --kdf-opslimit 1 --kdf-memlimit-mib 8 >/dev/null || fail "kula keys new v5"
out=$(q 1 propose --key v1 admit --pubkey v5 --name v5 --sector infrastructure \
    --voting-power 1 --json) || fail "propose: $out"
P=$(echo "$out" | jfield '["id"]')
# 20 active members: more than 2/3 is 14 yes votes, v1's included
for k in v2 v3 v4 b1 b2 b3 b4 b5 b6 b7 b8 b9 b10; do
    out=$(q 1 vote --key "$k" --proposal "$P" yes --no-wait --json) || fail "vote $k: $out"
done
passed_prop() { [[ $(q 1 proposal "$P" --json 2>/dev/null | jfield '["status"]' 2>/dev/null) == passed ]]; }
for ((i = 0; i < 300; i++)); do passed_prop && break; sleep 0.1; done
passed_prop || fail "the proposal did not pass within 30 s"
m=$(q 1 member v5 --json) || fail "no member v5"
V5_ID=$(echo "$m" | jfield '["id"]')
[[ $(echo "$m" | jfield '["validator"]') == True ]] || fail "v5 is not a validator: $m"
pass "the members' vote admits v5 (member $V5_ID) with voting power 1"

# ---- v5's node joins: it proposes and signs ----
P2P=()
for k in 1 2 3 4; do P2P+=(--peer "127.0.0.1:$(tn_p2p_port "$k")"); done
"$KULAD" --datadir "$TMP/v5" --genesis "$GENESIS" --key "$D/wallet/v5.key" \
    --passphrase-file "$D/passphrase" --listen "127.0.0.1:$((BASE + 12))" \
    --rpc "127.0.0.1:$((BASE + 13))" "${P2P[@]}" >"$TMP/v5.log" 2>&1 &
V5=$!
BB_PIDS+=("$V5")
# every block from here on, until one was proposed by v5 and one carries
# v5's precommit (about one block in five is v5's turn)
proposed=0 signed=0 next=$(height)
for ((i = 0; i < 300 && (proposed == 0 || signed == 0); i++)); do
    kill -0 "$V5" 2>/dev/null || fail "v5's kulad exited"
    tip=$(height)
    for ((; next <= tip; next++)); do
        b=$(q 1 block "$next" --json) || fail "kula block $next"
        [[ $(echo "$b" | jfield '["proposer"]') == "$V5_ID" ]] && proposed=$next
        echo "$b" | jfield '.get("last_commit", {}).get("signers", [])' | grep -qw "$V5_ID" &&
            signed=$next
    done
    sleep 0.1
done
((proposed > 0)) || fail "v5 proposed no block within 30 s"
((signed > 0)) || fail "no block carries v5's precommit within 30 s"
pass "v5's node proposes in its turn (block $proposed) and its precommits finalise blocks (block $signed)"

# ---- the power that counts is the new set's ----
kill -TERM "$V5"
wait "$V5" || true
BB_PIDS=()
tn_stop_pids 15 "$(tn_node_pid 4)" >/dev/null
sleep 2 # what was in flight settles
h0=$(height)
sleep 4
h1=$(height)
((h1 <= h0 + 1)) || fail "blocks went on ($h0 -> $h1) with 3 of the 5 validators"
pass "with 3 of 5 validators up (60% of the power) no block is committed ($h0 -> $h1 in 4 s)"
tn_start_node 4 || fail "restart node 4"
for ((i = 0; i < 300; i++)); do
    (($(height) >= h1 + 3)) && break
    sleep 0.1
done
(($(height) >= h1 + 3)) || fail "no progress after node 4 came back"
pass "with 4 of 5 back, blocks are committed again"

bb_check_down
echo "validator_set: $passed passed, 0 failed"
