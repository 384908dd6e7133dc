#!/usr/bin/env bash
# clearing_solve.sh -- kula clearing solve through the real binary, without a
# node: the cycle 100/80/120 clears 80 on each, the summary in words and in
# JSON, an output written whole; each bad file refused with one line naming
# the row and what to do, exit status 1, and nothing written (an older
# OUT.csv left as it was, no temporary file left behind); usage errors.
#
# Usage: bash clearing_solve.sh PATH/TO/kulad PATH/TO/kula
set -euo pipefail
TEST=clearing_solve
. "$(dirname "$0")/single_node.bash" "$@"

# err NAME PATTERN WHAT: NAME.err holds a line matching PATTERN.
err() {
    grep -q -- "$2" "$TMP/$1.err" || fail "$3: no line '$2' on stderr" "$TMP/$1.out" "$TMP/$1.err"
}

cd "$TMP"
printf 'id,debtor,creditor,amount\n1,1,2,100\n2,2,3,80\n3,3,1,120\n' > cycle.csv
k_ok solve clearing solve cycle.csv --out cleared.csv
printf 'id,amount\n1,80\n2,80\n3,80\n' > want.csv
cmp -s want.csv cleared.csv || fail "the set-offs of the cycle are not 80, 80, 80" cleared.csv
says solve '^firms  *3$' "the summary's firms"
says solve '^total debt  *300 (minor units)$' "the summary's total debt"
says solve '^net internal debt  *40 ' "the summary's net internal debt"
says solve '^cleared  *240 (80.0% of the total debt)$' "the summary's cleared"
says solve '^remaining  *60$' "the summary's remaining"
says solve '^time  *[0-9.]* s' "the summary's time"
ok "the cycle 100/80/120 clears 80 on each; the summary in words"

k_ok json --json clearing solve cycle.csv
[ "$(jv "$TMP/json.out" '(d["firms"], d["obligations"], d["total_debt"], d["net_internal_debt"], d["cleared"], d["remaining"], d["out"])')" \
  = "(3, 3, '300', '40', '240', '60', None)" ] || fail "the JSON summary" "$TMP/json.out"
ok "--json: the same summary as one object, amounts as strings"

# bad FILE-TEXT PATTERN WHAT: refused, exit 1, one line, OUT.csv untouched.
n=0
bad() {
    n=$((n + 1))
    printf "$1" > "bad$n.csv"
    echo 'an older file' > old.csv
    k "bad$n" clearing solve "bad$n.csv" --out old.csv
    [ "$CODE" -eq 1 ] || fail "$3: exit status $CODE, expected 1" "$TMP/bad$n.err"
    err "bad$n" "$2" "$3"
    [ "$(wc -l < "$TMP/bad$n.err")" -eq 1 ] || fail "$3: more than one line" "$TMP/bad$n.err"
    [ "$(cat old.csv)" = 'an older file' ] || fail "$3: OUT.csv was written" old.csv
    ! ls old.csv.* >/dev/null 2>&1 || fail "$3: a temporary file was left"
}
bad 'id,debtor,creditor,amount\n1,1,2,10\n2,2,1,abc\n' \
    "bad$((n + 1)).csv: row 3: amount 'abc' is not a whole number: give minor units" "a malformed amount"
bad 'id,debtor,creditor,amount\n1,1,2,-10\n' "row 2: amount '-10' is negative: give what" "a negative amount"
bad 'id,debtor,creditor,amount\n1,1,2,9223372036854775808\n' "row 2: amount .* is too large" \
    "an overflowing amount"
bad 'id,debtor,creditor,amount\n1,1,2,10\n2,3,3,5\n' "row 3: member 3 owes itself" "a self-obligation"
bad 'id,debtor,creditor,amount\n7,1,2,10\n8,2,3,5\n7,3,1,5\n' \
    "row 4: id 7 is already the id of row 2: give each obligation its own id" "a duplicate id"
bad 'id,debtor,creditor,amount\n1,1,2\n' "row 2: expected 4 fields" "a short row"
bad 'debtor,creditor,amount\n' "row 1: expected the header 'id,debtor,creditor,amount'" "no header"
ok "bad rows refused naming the row and what to do, exit 1, nothing written"

k missing clearing solve no-such.csv --out x.csv
[ "$CODE" -eq 1 ] && [ ! -e x.csv ] || fail "a missing file: exit $CODE" "$TMP/missing.err"
err missing 'no-such.csv: No such file' "a missing file"
k usage clearing solve
[ "$CODE" -eq 3 ] || fail "no IN.csv: exit $CODE, expected 3" "$TMP/usage.err"
err usage 'expected IN.csv (see kula help clearing)' "no IN.csv"
k opt clearing solve cycle.csv --fast
[ "$CODE" -eq 3 ] || fail "an unknown option: exit $CODE, expected 3" "$TMP/opt.err"
k sub clearing shows
[ "$CODE" -eq 3 ] || fail "an unknown subcommand: exit $CODE, expected 3" "$TMP/sub.err"
k_ok help clearing solve --help
says help 'kula clearing solve IN.csv \[--out OUT.csv\]' "--help"
k_ok help2 help clearing
says help2 'kula clearing solve IN.csv' "kula help clearing"
ok "usage errors exit 3 naming what is wrong; --help and kula help clearing"

echo "$TEST: $passed passed"
