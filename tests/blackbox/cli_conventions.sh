#!/usr/bin/env bash
# cli_conventions.sh -- the conventions every kula command follows, through
# the real binary and without a node: --version, kula help [COMMAND], the
# suggestion for a mistyped command, a usage error's one line and exit code,
# errors as JSON under --json, the passphrase rules and kula keys passwd.
#
# Usage: bash cli_conventions.sh PATH/TO/kulad PATH/TO/kula
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 PATH/TO/kulad PATH/TO/kula" >&2
    exit 2
fi
KULA=$(realpath "$2")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
unset KULA_PASSPHRASE KULA_WALLET KULA_DATADIR KULA_RPC_TOKEN
W=$TMP/wallet
passed=0

fail() {
    echo "not ok $((passed + 1)) - $1" >&2
    shift
    for f in "$@"; do [ -f "$f" ] && sed 's/^/# /' "$f" >&2; done
    echo "cli_conventions: $passed passed, 1 failed" >&2
    exit 1
}
ok() { passed=$((passed + 1)); echo "ok $passed - $1"; }

# k NAME ARGS...: runs kula ARGS; NAME.out, NAME.err, $CODE.
k() {
    local name=$1
    shift
    CODE=0
    timeout 120 "$KULA" --wallet "$W" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null || CODE=$?
}
# expect NAME CODE: the exit code of the last k was CODE.
expect() {
    [ "$CODE" -eq "$2" ] || fail "kula ($1) exited $CODE (expected $2)" "$TMP/$1.out" "$TMP/$1.err"
}
# json_error FILE CODE NAME: FILE is exactly one JSON error of that code and name.
json_error() {
    python3 - "$@" <<'PY' || fail "$1 is not the JSON error $2 $3" "$1"
import json, sys
d = json.load(open(sys.argv[1]))
e = d["error"]
assert set(d) == {"error"} and set(e) == {"code", "name", "message"}, d
assert e["code"] == int(sys.argv[2]) and e["name"] == sys.argv[3], e
assert e["message"], e
PY
}

k version --version
expect version 0
grep -Eq '^kula [0-9]+\.[0-9]+\.[0-9]+ \(protocol version [0-9]+\)$' "$TMP/version.out" ||
    fail "kula --version does not say its version and protocol" "$TMP/version.out"
ok "kula --version: $(cat "$TMP/version.out")"

k help help
expect help 0
grep -q "Exit status" "$TMP/help.out" || fail "kula help has no exit-status table" "$TMP/help.out"
grep -q "^  balance" "$TMP/help.out" || fail "kula help does not list the commands" "$TMP/help.out"
k helpbal help balance
expect helpbal 0
grep -q "^Usage: kula balance" "$TMP/helpbal.out" || fail "kula help balance is not balance's help" "$TMP/helpbal.out"
k balhelp balance --help
cmp -s "$TMP/helpbal.out" "$TMP/balhelp.out" || fail "kula help balance differs from kula balance --help" "$TMP/balhelp.out"
ok "kula help, kula help balance = kula balance --help"

k typo blance
expect typo 3
grep -q "did you mean 'balance'" "$TMP/typo.err" || fail "no suggestion for 'blance'" "$TMP/typo.err"
k typohelp help statsu
expect typohelp 3
grep -q "did you mean 'status'" "$TMP/typohelp.err" || fail "no suggestion for 'help statsu'" "$TMP/typohelp.err"
ok "a mistyped command: did you mean, exit 3"

k usage keys show
expect usage 3
[ "$(wc -l <"$TMP/usage.err")" -eq 1 ] || fail "a usage error takes more than one line" "$TMP/usage.err"
grep -q "expected one NAME" "$TMP/usage.err" || fail "the usage error does not say what is missing" "$TMP/usage.err"
k missing --wallet
expect missing 3
grep -q -- "--wallet: expected a value" "$TMP/missing.err" || fail "a missing option value is not named" "$TMP/missing.err"
ok "a usage error: one line naming what is wrong, exit 3"

k jtypo --json blance
expect jtypo 3
json_error "$TMP/jtypo.out" 3 usage
k jnokey keys show nobody --json
expect jnokey 1
json_error "$TMP/jnokey.out" 1 refused
ok "errors under --json: {\"error\":{\"code\":N,\"name\":...,\"message\":...}} on stdout"

KDF=(--kdf-opslimit 1 --kdf-memlimit-mib 8)
KULA_PASSPHRASE="" k empty keys new a "${KDF[@]}"
expect empty 3
grep -q "empty" "$TMP/empty.err" || fail "an empty passphrase is not refused by name" "$TMP/empty.err"
KULA_PASSPHRASE="short" k short keys new a "${KDF[@]}"
expect short 3
grep -q "at least 8" "$TMP/short.err" || fail "a short passphrase is not refused" "$TMP/short.err"
[ ! -e "$W/a.key" ] || fail "a refused passphrase left a key file"
ok "passphrases: an empty or short new one is refused, no key written"

KULA_PASSPHRASE="old passphrase" k new keys new a "${KDF[@]}"
expect new 0
KULA_PASSPHRASE="old passphrase" k sec keys export a
expect sec 0
SECRET=$(cat "$TMP/sec.out")
printf 'new passphrase\n' >"$TMP/newpass"
printf '\n' >"$TMP/emptypass"
KULA_PASSPHRASE="old passphrase" k pwempty keys passwd a --new-passphrase-file "$TMP/emptypass"
expect pwempty 3
KULA_PASSPHRASE="wrong passphrase" k pwwrong keys passwd a --new-passphrase-file "$TMP/newpass"
expect pwwrong 1
KULA_PASSPHRASE="old passphrase" k pw keys passwd a --new-passphrase-file "$TMP/newpass"
expect pw 0
KULA_PASSPHRASE="old passphrase" k oldpw keys export a
expect oldpw 1
grep -q "wrong passphrase" "$TMP/oldpw.err" || fail "the old passphrase is not refused" "$TMP/oldpw.err"
KULA_PASSPHRASE="new passphrase" k newpw keys export a
expect newpw 0
[ "$(cat "$TMP/newpw.out")" = "$SECRET" ] || fail "the new passphrase opens another key" "$TMP/newpw.out"
python3 -c 'import sys; s = bytes.fromhex(sys.argv[1]); d = open(sys.argv[2], "rb").read(); sys.exit(s in d or sys.argv[1].encode() in d.lower())' \
    "$SECRET" "$W/a.key" || fail "the key file holds the secret key in clear"
[ "$(ls "$W")" = "a.key" ] || fail "keys passwd left other files in the wallet: $(ls "$W")"
ok "keys passwd: the old passphrase no longer opens the key, the new one does, no secret in clear"

echo "cli_conventions: $passed passed, 0 failed"
