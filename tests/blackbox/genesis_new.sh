#!/usr/bin/env bash
# genesis_new.sh -- kula genesis new as a consortium's operator uses it,
# through the real kula and kulad: members named with spaces, accents and
# ':' ("Boulangerie Dupont", "café", "Chez: Nous"), one bringing its own
# public key (NAME:SECTOR:POWER:PUBKEY) so that the operator never holds its
# secret, the credit limit in units (2000.00); bad members, keys, duplicates
# and amounts refused in one line naming the member, exit 3, nothing
# written; --json is one JSON document; and a kulad started on the genesis
# written produces blocks, shows the members by their names, and takes a
# payment signed with the member's own key.
#
# Usage: bash genesis_new.sh PATH/TO/kulad PATH/TO/kula
set -euo pipefail

TEST=genesis_new
# shellcheck source=single_node.bash
. "$(dirname "${BASH_SOURCE[0]}")/single_node.bash" "$@"
export KULA_PASSPHRASE="genesis passphrase"
KDF=(--kdf-opslimit 1 --kdf-memlimit-mib 8)

# The member who brings its own key makes it in a wallet of its own.
k_ok own --wallet "$TMP/chez-wallet" keys new chez "${KDF[@]}"
PK=$(sed -n 's/^public key \([0-9a-f]\{64\}\)$/\1/p' "$TMP/own.out")
[ -n "$PK" ] || fail "kula keys new printed no public key" "$TMP/own.out"

# ---- refusals: one line naming the member, exit 3, nothing written ----

# refused NAME PATTERN WHAT --member...: genesis new exits 3 saying PATTERN.
refused() {
    local name=$1 pattern=$2 what=$3
    shift 3
    k "$name" genesis new --network acme --out "$TMP/bad" "${KDF[@]}" "$@"
    [ "$CODE" -eq 3 ] || fail "$what: exit $CODE (expected 3)" "$TMP/$name.out" "$TMP/$name.err"
    [ "$(wc -l <"$TMP/$name.err")" -eq 1 ] || fail "$what: not one line" "$TMP/$name.err"
    grep -q -- "$pattern" "$TMP/$name.err" || fail "$what: no '$pattern'" "$TMP/$name.err"
    [ ! -e "$TMP/bad" ] || fail "$what: $TMP/bad was written"
    ok "$what: $(cat "$TMP/$name.err")"
}
refused badkey "--member 'Chez: Nous:food:0:${PK:0:62}': PUBKEY '${PK:0:62}' is not a public key" \
    "a public key of 62 digits" --member bakery --member "Chez: Nous:food:0:${PK:0:62}"
refused offcurve "--member 'x:food:0:$(printf '0%.0s' {1..64})': PUBKEY" "a public key off the curve" \
    --member bakery --member "x:food:0:$(printf '0%.0s' {1..64})"
refused short "--member 'x:food:$PK': a PUBKEY comes after SECTOR and POWER" \
    "a public key without POWER" --member bakery --member "x:food:$PK"
refused dupkey "--member 'other:food:0:$PK': its PUBKEY is already member 2's (--member 'Chez: Nous:food:0:$PK')" \
    "the same public key twice" --member bakery --member "Chez: Nous:food:0:$PK" --member "other:food:0:$PK"
refused dupname "--member 'café:bar': the name 'café' is already member 1's" \
    "the same name twice" --member "café:food" --member "café:bar"
refused control "--member 'tab$(printf '\t')name': NAME holds a control character" \
    "a name with a tab" --member "$(printf 'tab\tname')"
refused long "--member '$(printf 'é%.0s' {1..33})': NAME is too long (1 to 64 bytes" \
    "a name of 66 bytes" --member "$(printf 'é%.0s' {1..33})"
refused decimals "--credit-limit: '2000.005' has 3 decimals, but acme counts in KULA with 2 decimals" \
    "a credit limit of 3 decimals" --member bakery --credit-limit 2000.005
refused comma "--credit-limit: '2000,00' is not an amount in KULA" \
    "a credit limit with a comma" --member bakery --credit-limit 2000,00
refused power "--member 'x:food:281474976710657': POWER 281474976710657 is over 2^48" \
    "a power over 2^48" --member "x:food:281474976710657"
refused snapint "--snapshot-interval: 0 to 10000000 blocks (0: never)" \
    "a snapshot interval that is not a number of blocks" --member bakery --snapshot-interval 10k

# ---- the genesis of a real network ----

k_ok gen --json genesis new --network "Coopérative du Marché" --out "$TMP/acme" "${KDF[@]}" \
    --member "Boulangerie Dupont:boulangerie" --member "café:restauration:0" \
    --member "Chez: Nous:food:0:$PK" --credit-limit 2000
python3 - "$TMP/gen.out" "$TMP/acme" "$PK" <<'PY' || fail "genesis new --json" "$TMP/gen.out"
import json, sys
d = json.loads(open(sys.argv[1]).read())  # exactly one JSON document
m = d["members"]
assert [x["name"] for x in m] == ["Boulangerie Dupont", "café", "Chez: Nous"], m
assert m[0]["key_file"] == sys.argv[2] + "/keys/Boulangerie-Dupont.key", m[0]
assert m[1]["key_file"] == sys.argv[2] + "/keys/cafe.key", m[1]
assert m[2]["key_file"] is None and m[2]["pubkey"] == sys.argv[3], m[2]
assert [x["voting_power"] for x in m] == [1, 0, 0], m
g = json.load(open(sys.argv[2] + "/GENESIS.json"))
assert g["network"] == "Coopérative du Marché", g["network"]
assert [x["credit_limit"] for x in g["members"]] == [200000] * 3, g["members"]
assert g["members"][2]["pubkey"] == sys.argv[3], g["members"][2]
assert g["params"]["snapshot_interval_blocks"] == 1000, g["params"]  # the default
PY
[ "$(ls "$TMP/acme/keys")" = "$(printf 'Boulangerie-Dupont.key\ncafe.key')" ] ||
    fail "the keys made are not one per member without its own key: $(ls "$TMP/acme/keys")"
ok "genesis new: three members named in words, keys for two, none for the one with its own key"
k_ok never genesis new --network n --out "$TMP/n" "${KDF[@]}" --member bakery --snapshot-interval 0
python3 -c 'import json, sys; p = json.load(open(sys.argv[1]))["params"]
assert "snapshot_interval_blocks" not in p, p' "$TMP/n/GENESIS.json" ||
    fail "--snapshot-interval 0 writes the parameter" "$TMP/n/GENESIS.json"
ok "genesis new: snapshot heights every 1000 blocks by default, none with --snapshot-interval 0"

k_ok text genesis new --network t --out "$TMP/t" "${KDF[@]}" --member "Boulangerie Dupont" \
    --member "Chez: Nous:food:0:$PK" --credit-limit 2000.50
says text "^wrote $TMP/t/GENESIS.json: network t, 2 members, a credit limit of 2000.50 KULA each$" "genesis new's first line"
says text "^  #1 Boulangerie Dupont (general), validator (power 1): new key $TMP/t/keys/Boulangerie-Dupont.key$" "member 1's line"
says text "^  #2 Chez: Nous (food), member: its own key ${PK:0:16}..$" "the member with its own key"
ok "genesis new in words: $(head -n 1 "$TMP/text.out")"

# ---- kulad on it ----

GENESIS=$TMP/acme/GENESIS.json
mkdir -p "$D"
cp "$TMP/acme/keys/Boulangerie-Dupont.key" "$D/node.key"
start_node
k_ok check genesis check "$GENESIS"
k_ok members --json members
python3 - "$TMP/members.out" <<'PY' || fail "the node's members" "$TMP/members.out"
import json, sys
m = json.load(open(sys.argv[1]))
assert [x["name"] for x in m] == ["Boulangerie Dupont", "café", "Chez: Nous"], m
assert all(x["credit_limit"] == 200000 for x in m), m
PY
k_ok bal balance "Chez: Nous"
says bal "2000.00" "the balance of the member with its own key"
ok "kulad runs the genesis written: height $(height), members by name, credit limit 2000.00"
k_ok pay --wallet "$TMP/chez-wallet" pay --key chez --to café 12.50 --memo "pain au chocolat"
k_ok balcafe balance café
says balcafe "12.50" "café's balance after the payment"
ok "the member with its own key pays café 12.50, signed with the key only it holds"

echo "$TEST: $passed passed, 0 failed"
