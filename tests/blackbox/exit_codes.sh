#!/usr/bin/env bash
# exit_codes.sh -- kula's exit codes against their documented table, through
# the real binary: README's "kula exit codes" and kula help list the same
# codes (0 ok, 1 refused, 2 unreachable, 3 usage, no other); every command
# of kula help answers --help with 0 and its usage, an unknown option with
# 3 and one line pointing at its help; every command that needs the node
# exits 2 without one; a missing key or file is 1; and under --json each
# error is exactly one JSON document on stdout whose code is the exit code
# and whose name is the table's.
#
# Usage: bash exit_codes.sh PATH/TO/kulad PATH/TO/kula
set -euo pipefail

TEST=exit_codes
# shellcheck source=single_node.bash
. "$(dirname "${BASH_SOURCE[0]}")/single_node.bash" "$@"
export KULA_PASSPHRASE="exit codes passphrase"
W=$TMP/wallet

# The table: README's rows and kula help's lines give the same codes.
"$KULA" help >"$TMP/help.out"
python3 - "$ROOT/README.md" "$TMP/help.out" >"$TMP/table" <<'PY' || fail "README and kula help disagree" "$TMP/help.out"
import re, sys
readme = open(sys.argv[1]).read()
part = readme[readme.index("kula exit codes"):]
rows = re.findall(r"^\| (\d+) +\| `(\w+)` +\|", part, re.M)
table = {int(c): n for c, n in rows}
assert table == {0: "ok", 1: "refused", 2: "unreachable", 3: "usage"}, table
help_text = open(sys.argv[2]).read()
block = help_text[help_text.index("Exit status"):]
codes = {int(c) for c in re.findall(r"^  (\d)  ", block, re.M)}
assert codes == set(table), (codes, table)
assert "No other code is used." in block, block
for c, n in sorted(table.items()):
    print(c, n)
PY
ok "README and kula help list the same codes: $(paste -sd' ' "$TMP/table")"

COMMANDS=$(awk '/^Commands:/ {f = 1; next} /^$/ {f = 0} f {print $1}' "$TMP/help.out")
[ "$(echo "$COMMANDS" | wc -l)" -ge 20 ] || fail "kula help lists few commands" "$TMP/help.out"

# run NAME WANT ARGS...: kula --json ARGS exits WANT; an error is one line
# on stderr and exactly one JSON document on stdout with that code and the
# table's name for it.
run() {
    local name=$1 want=$2
    shift 2
    CODE=0
    timeout 60 "$KULA" --datadir "$TMP/nodata" --wallet "$W" --json "$@" \
        >"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null || CODE=$?
    [ "$CODE" -eq "$want" ] || fail "kula $*: exit $CODE (expected $want)" "$TMP/$name.out" "$TMP/$name.err"
    [ "$want" -eq 0 ] && return 0
    [ "$(wc -l <"$TMP/$name.err")" -eq 1 ] || fail "kula $*: not one line on stderr" "$TMP/$name.err"
    python3 - "$TMP/$name.out" "$want" "$TMP/table" <<'PY' || fail "kula $*: not one JSON error" "$TMP/$name.out"
import json, sys
d = json.loads(open(sys.argv[1]).read())  # one document, nothing else
names = dict(l.split() for l in open(sys.argv[3]))
e = d["error"]
assert set(d) == {"error"} and e["code"] == int(sys.argv[2]), d
assert e["name"] == names[sys.argv[2]], (e, names)
PY
}

n=0
for cmd in $COMMANDS; do
    CODE=0
    "$KULA" "$cmd" --help >"$TMP/h.out" 2>"$TMP/h.err" </dev/null || CODE=$?
    [ "$CODE" -eq 0 ] || fail "kula $cmd --help: exit $CODE" "$TMP/h.out" "$TMP/h.err"
    grep -q "^Usage: kula" "$TMP/h.out" || fail "kula $cmd --help: no usage on stdout" "$TMP/h.out"
    run "bad-$cmd" 3 "$cmd" --no-such-option
    grep -q -- "--no-such-option" "$TMP/bad-$cmd.err" || fail "kula $cmd: the bad option is not named" "$TMP/bad-$cmd.err"
    grep -q "kula help\|--help" "$TMP/bad-$cmd.err" || fail "kula $cmd: no pointer to the help" "$TMP/bad-$cmd.err"
    n=$((n + 1))
done
ok "all $n commands: --help exits 0 with the usage; an unknown option exits 3 in one line naming it"

k_ok key --wallet "$W" keys new k --kdf-opslimit 1 --kdf-memlimit-mib 8
# Every command that needs the node, given what it needs but no node: 2.
while IFS= read -r line; do
    # shellcheck disable=SC2086
    run unreach 2 $line
    grep -q "cannot reach the node" "$TMP/unreach.err" || fail "kula $line: no 'cannot reach'" "$TMP/unreach.err"
done <<'EOF_CMDS'
status
members
member 1
balance 1
history 1
referrals
proposals
proposal abcd
tx abcd
block
peers
pay --key k --to 2 1.00
exchange --key k --with 2 --gives-value 1 --receives-value 1 --out x.json
referral --key k --to 2 --lead shop --fee 1
convert --key k --referral abcd --value 1
feedback --key k --about 2 --rating 5
propose --key k admit --pubkey k --name shop --sector food
vote --key k --proposal abcd yes
agreement list
agreement show abcd
agreement settle --key k --id abcd
EOF_CMDS
CODE=0
timeout 60 "$KULA" --rpc http://127.0.0.1:1/ --token t --json status >"$TMP/port.out" 2>"$TMP/port.err" || CODE=$?
[ "$CODE" -eq 2 ] || fail "kula status against a closed port: exit $CODE" "$TMP/port.err"
ok "every command that needs the node exits 2 without one (and against a closed port)"

# Problems on this machine: 1, naming the key or file.
run nokey 1 keys show nobody
grep -q "nobody" "$TMP/nokey.err" || fail "the missing key is not named" "$TMP/nokey.err"
run nofile 1 sign "$TMP/none.json" --key k
grep -q "$TMP/none.json" "$TMP/nofile.err" || fail "the missing file is not named" "$TMP/nofile.err"
run nosub 1 submit "$TMP/none.json"
run nogen 1 genesis check "$TMP/none.json"
for cmd in audit export report graph; do
    run "no$cmd" 1 "$cmd" "$TMP/no-such-ledger"
    grep -q "$TMP/no-such-ledger" "$TMP/no$cmd.err" || fail "$cmd: the missing folder is not named" "$TMP/no$cmd.err"
done
KULA_PASSPHRASE="not the passphrase" run wrongpass 1 keys export k
ok "a missing key, file or ledger, a wrong passphrase: exit 1, named"

# Usage errors besides options: a missing argument, an amount typed wrong.
run noarg 3 keys show
run nomember 3 genesis new --network n --out "$TMP/g"
run amount 3 genesis new --network n --out "$TMP/g" --member shop --credit-limit 12,50
grep -q "'12,50' is not an amount" "$TMP/amount.err" || fail "the amount is not named" "$TMP/amount.err"
run sub 3 agreement setle
grep -q "did you mean 'settle'" "$TMP/sub.err" || fail "no suggestion for 'setle'" "$TMP/sub.err"
[ ! -e "$TMP/g" ] || fail "a refused genesis new wrote $TMP/g"
ok "a missing argument, an amount typed wrong, a mistyped subcommand: exit 3"

echo "$TEST: $passed passed, 0 failed"
