#!/usr/bin/env bash
# auditor.sh -- the web wallet's auditor page in a real browser: starts
# kulad on a genesis of 20 members (one named with <script> markup), makes
# them trade with each other, then drives headless Chromium
# (tests/browser/auditor.py, through the DevTools protocol) logged in by
# `kula web --url` and checks the page through the DOM, then again after one
# byte of a block was flipped in the stopped node's data (the node's audit
# must name that block).  Its screenshots go to SCREENSHOT-DIR, their paths
# printed.
#
# Usage: bash auditor.sh PATH/TO/kulad PATH/TO/kula SCREENSHOT-DIR
set -euo pipefail

if [ $# -ne 3 ]; then
    echo "usage: $0 PATH/TO/kulad PATH/TO/kula SCREENSHOT-DIR" >&2
    exit 2
fi
KULAD=$(realpath "$1")
KULA=$(realpath "$2")
SHOTS=$(mkdir -p "$3" && realpath "$3")
TEST=browser_auditor
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=browser.bash
. "$HERE/browser.bash"
export KULA_PASSPHRASE="browser auditor passphrase"

# 19 shops with keys of their own, after the development validator (member 1)
NAMES=("Bakery Rossi" "Print Shop Vega" "Café Lumen" "Garage Okafor" "Florist Kim"
    "<script>alert(1)</script>" "Bookbinder Aalto" "Tailor Haddad" "Grocer Nakamura"
    "Joinery Dubois" "Pottery Silva" "Cycle Repair Novak" "Butcher Moreau" "Laundry Chen"
    "Locksmith Berg" "Dairy Ionescu" "Plumber Kowalski" "Optician Rahman" "Tea House Mori")
mkdir -p "$D"
pubkeys=()
for i in "${!NAMES[@]}"; do
    k_ok "key$i" keys new --kdf-opslimit 1 --kdf-memlimit-mib 1 "m$i"
    pubkeys+=("$(sed -n 's/^public key \([0-9a-f]\{64\}\)$/\1/p' "$TMP/key$i.out")")
done
python3 - "$GENESIS" "${#NAMES[@]}" "${NAMES[@]}" "${pubkeys[@]}" <<'PY'
import json, sys
path, n = sys.argv[1], int(sys.argv[2])
names, keys = sys.argv[3:3 + n], sys.argv[3 + n:3 + 2 * n]
g = json.load(open(path))
for name, key in zip(names, keys):
    g["members"].append({"name": name, "sector": "shop", "pubkey": key, "credit_limit": 100000,
                         "voting_power": 0})
json.dump(g, open(path, "w"), indent=1)
PY
start_node
k_ok kdev keys import dev --dev "$GENESIS"
k_ok members --json members
[ "$(jv "$TMP/members.out" 'len(d)')" = 20 ] || fail "the genesis did not make 20 members" "$TMP/members.out"
ok "20 members from the genesis, one named <script>alert(1)</script>"

# trades: a ring of payments, chords across it, and the validator paying 5
n=${#NAMES[@]}
trades=0
for i in $(seq 0 $((n - 1))); do
    k_ok "ring$i" pay --key "m$i" --to "$((2 + (i + 1) % n))" "$((i + 1)).00" --memo "ring $i"
    trades=$((trades + 1))
done
for i in 0 3 6 9 12; do
    k_ok "chord$i" pay --key "m$i" --to "$((2 + (i + 7) % n))" "25.50" --memo "chord $i"
    trades=$((trades + 1))
done
for i in 1 4 7 10 13; do
    k_ok "dev$i" pay --key dev --to "$((2 + i))" "40.00"
    trades=$((trades + 1))
done
ok "$trades payments between members"

code=0
timeout 300 /usr/bin/python3 "$HERE/auditor.py" --kula "$KULA" --datadir "$D" \
    --shots "$SHOTS" --members 20 --pairs "$trades" || code=$?
[ "$code" -eq 0 ] || fail "the browser steps failed (exit $code)"
stop_node
ok "kulad stopped cleanly"

# One byte of the payment "ring 3" flipped in the stopped node's data ('r'
# -> 's' keeps the memo valid UTF-8: only the hashes can tell; every copy
# LMDB keeps of the page, as wallet_e2e.sh does): started again, the node's
# audit from the page must name that block and the check that failed.
H_TAMPERED=$(committed_height ring3)
FLIPPED=$(flip_bytes "$D/ledger/data.mdb" "ring 3")
[ "$FLIPPED" -ge 1 ] || fail "the memo 'ring 3' is not in $D/ledger/data.mdb"
start_node
code=0
timeout 300 /usr/bin/python3 "$HERE/auditor.py" --kula "$KULA" --datadir "$D" \
    --shots "$SHOTS" --members 20 --pairs "$trades" --tampered "$H_TAMPERED" || code=$?
[ "$code" -eq 0 ] || fail "the browser steps on the altered chain failed (exit $code)"
stop_node
ok "block $H_TAMPERED altered: the page's audit names it and the check that failed"
echo "$TEST: $passed passed, 0 failed"
