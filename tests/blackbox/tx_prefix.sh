#!/usr/bin/env bash
# tx_prefix.sh -- kula tx by a unique prefix of the id, as git takes a
# commit, through the real kula, kulad and kula-loadgen: a committed
# transaction by its first 8 digits; a prefix that two ids share refused
# listing both; a prefix no id has said so; too short a prefix a usage
# error (exit 3); a transaction just submitted by its prefix.
#
# Usage: bash tx_prefix.sh PATH/TO/kulad PATH/TO/kula
set -euo pipefail

TEST=tx_prefix
# shellcheck source=single_node.bash
. "$(dirname "${BASH_SOURCE[0]}")/single_node.bash" "$@"
export KULA_PASSPHRASE="tx prefix passphrase"
LOADGEN=$(dirname "$KULAD")/kula-loadgen
[ -x "$LOADGEN" ] || fail "no $LOADGEN beside kulad (it is built with kulad)"

# A network of 1 validator and 8 businesses, laid out as kula-loadgen reads
# a testnet: DIR/genesis (GENESIS.json, keys/), DIR/node1, DIR/passphrase.
N=$TMP/net
k_ok gen genesis new --network tx-prefix --out "$N/genesis" --kdf-opslimit 1 --kdf-memlimit-mib 8 \
    --member v:validator:1 --member b1:bakery:0 --member b2:cafe:0 --member b3:logistics:0 \
    --member b4:marketing:0 --member b5:printing:0 --member b6:legal:0 --member b7:design:0 \
    --member b8:florist:0 --credit-limit 1000000 --block-interval-ms 200
printf '%s\n' "$KULA_PASSPHRASE" >"$N/passphrase"
GENESIS=$N/genesis/GENESIS.json
D=$N/node1
mkdir -p "$D"
cp "$N/genesis/keys/v.key" "$D/node.key"
start_node

# ~1,000 transactions: among as many ids, some share their first 4 digits.
timeout 120 "$LOADGEN" --dir "$N" --nodes 1 --seconds 4 --rate 300 --seed 7 -q \
    --out "$TMP/committed.txt" >"$TMP/load.out" 2>&1 || fail "kula-loadgen" "$TMP/load.out"
read -r SHARED A B < <(python3 - "$TMP/committed.txt" <<'PY'
import sys, collections
ids = [l.split()[0] for l in open(sys.argv[1]) if len(l.split()[0]) == 64]
by = collections.defaultdict(list)
for i in ids:
    by[i[:4]].append(i)
two = sorted(p for p, v in by.items() if len(v) == 2)
print(two[0], *sorted(by[two[0]]) if two else "none")
PY
) || fail "no pair of ids shares 4 digits among $(wc -l <"$TMP/committed.txt") committed" "$TMP/committed.txt"
[ "$SHARED" != none ] || fail "no pair of ids shares 4 digits" "$TMP/committed.txt"

k_ok one tx "${A:0:8}"
says one "^transaction  $A$" "kula tx ${A:0:8}"
says one "^status       committed at height" "kula tx ${A:0:8}"
ok "kula tx ${A:0:8}: $(sed -n 2p "$TMP/one.out")"

k amb tx "$SHARED"
[ "$CODE" -eq 1 ] || fail "kula tx $SHARED (two ids): exit $CODE (expected 1)" "$TMP/amb.out" "$TMP/amb.err"
grep -q "^kula: tx $SHARED is ambiguous: 2 transactions start with it; type more digits:$" "$TMP/amb.err" ||
    fail "the ambiguous prefix is not said so" "$TMP/amb.err"
grep -q "^  $A$" "$TMP/amb.err" && grep -q "^  $B$" "$TMP/amb.err" ||
    fail "the ambiguous prefix does not list both ids" "$TMP/amb.err"
ok "kula tx $SHARED: ambiguous, both listed"

NONE=$(python3 - "$TMP/committed.txt" <<'PY'
import sys
have = {l[:6] for l in open(sys.argv[1])}
print(next(f"{i:06x}" for i in range(1 << 24) if f"{i:06x}" not in have))
PY
)
k unknown tx "$NONE"
[ "$CODE" -eq 1 ] || fail "kula tx $NONE (no id): exit $CODE (expected 1)" "$TMP/unknown.err"
grep -q "^kula: tx $NONE: no transaction's id starts with $NONE (kula history MEMBER shows" "$TMP/unknown.err" ||
    fail "an unknown prefix is not said so" "$TMP/unknown.err"
ok "kula tx $NONE: $(cat "$TMP/unknown.err")"

k short tx "${A:0:3}"
[ "$CODE" -eq 3 ] || fail "kula tx ${A:0:3}: exit $CODE (expected 3)" "$TMP/short.err"
grep -q "first 4 or more hex digits" "$TMP/short.err" || fail "a 3-digit prefix" "$TMP/short.err"
ok "kula tx ${A:0:3}: $(cat "$TMP/short.err")"

# Just submitted: found by its prefix whether still pending or committed.
k_ok pend --json --wallet "$N/genesis/keys" pay --key b1 --to b2 1.00 --no-wait
P=$(jv "$TMP/pend.out" 'd["id"]')
k_ok pendtx tx "${P:0:10}"
says pendtx "^transaction  $P$" "kula tx of a new transaction by its prefix"
ok "kula tx ${P:0:10} just after submitting: $(sed -n 2p "$TMP/pendtx.out")"

stop_node
echo "$TEST: $passed passed, 0 failed"
