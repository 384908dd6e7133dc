#!/usr/bin/env bash
# local_time.sh -- times a person reads are in their time zone, with the
# offset shown, through the real kula and kulad: the same payment's line in
# kula history under TZ=UTC and TZ=Europe/Ljubljana (CET, +01:00 in
# December; CEST, +02:00 in summer) names the same instant, which is the
# time_ms of kula --json history (kept in UTC, whatever TZ says); kula block
# and kula status likewise.  (sign_screen.sh reads the expiry's offset.)
#
# Usage: bash local_time.sh PATH/TO/kulad PATH/TO/kula
set -euo pipefail

TEST=local_time
# shellcheck source=single_node.bash
. "$(dirname "${BASH_SOURCE[0]}")/single_node.bash" "$@"
export KULA_PASSPHRASE="local time passphrase"

k_ok kalice keys new alice --kdf-opslimit 1 --kdf-memlimit-mib 8
k_ok kdev keys import dev --dev "$GENESIS"
start_node
k_ok admit propose --key dev admit --pubkey alice --name alice --sector bakery
k_ok pay --json pay --key dev --to alice 0.01 --memo "a first payment"
H=$(jv "$TMP/pay.out" 'd["height"]')

# same_instant ZONE FILE PATTERN UTC_MS [SECONDS]: the first time in FILE on a
# line matching PATTERN, read in ZONE, is UTC_MS (to the minute, or the
# second), and is written with ZONE's offset at that instant.
same_instant() {
    python3 - "$@" <<'PY' || fail "the time in $2 is not $4 ms in $1" "$2"
import datetime, re, sys, zoneinfo
zone, path, pattern, ms = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
seconds = len(sys.argv) > 5
line = next(l for l in open(path) if re.search(pattern, l))
m = re.search(r"(\d{4}-\d\d-\d\d \d\d:\d\d(?::\d\d)?) ([+-]\d\d):(\d\d)", line)
assert m, "no local time with its offset in: " + line
when = datetime.datetime.fromisoformat(m.group(1) + m.group(2) + ":" + m.group(3))
truth = datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc)
truth = truth.replace(microsecond=0) if seconds else truth.replace(second=0, microsecond=0)
assert when == truth, (when, truth)
local = truth.astimezone(zoneinfo.ZoneInfo(zone))
assert when.utcoffset() == local.utcoffset(), (when, local)
assert m.group(1).startswith(local.strftime("%Y-%m-%d %H:%M")), (m.group(1), local)
PY
}

k_ok hj --json history 1 --limit 1
MS=$(jv "$TMP/hj.out" 'd["entries"][0]["time_ms"]')
[ "$(jv "$TMP/hj.out" 'd["entries"][0]["height"]')" = "$H" ] || fail "history's newest entry is not the payment" "$TMP/hj.out"
TZ=UTC k_ok hutc history 1 --limit 1
TZ=Europe/Ljubljana k_ok hlj history 1 --limit 1
same_instant UTC "$TMP/hutc.out" "^$H:" "$MS"
same_instant Europe/Ljubljana "$TMP/hlj.out" "^$H:" "$MS"
grep -q "^$H:[0-9]* *20[0-9-]* [0-9:]* +00:00 " "$TMP/hutc.out" || fail "TZ=UTC: no +00:00" "$TMP/hutc.out"
case "$(TZ=Europe/Ljubljana date -d "@$((MS / 1000))" +%z)" in
+0100) grep -q " +01:00 " "$TMP/hlj.out" || fail "TZ=Europe/Ljubljana: no +01:00" "$TMP/hlj.out" ;;
+0200) grep -q " +02:00 " "$TMP/hlj.out" || fail "TZ=Europe/Ljubljana: no +02:00" "$TMP/hlj.out" ;;
*) fail "Europe/Ljubljana is neither +01:00 nor +02:00: is tzdata installed (tests/install-deps)?" ;;
esac
TZ=Europe/Ljubljana k_ok hlj2 --json history 1 --limit 1
cmp -s "$TMP/hj.out" "$TMP/hlj2.out" || fail "kula --json history depends on TZ" "$TMP/hj.out" "$TMP/hlj2.out"
ok "history, TZ=UTC:              $(grep "^$H:" "$TMP/hutc.out" | cut -c1-60)"
ok "history, TZ=Europe/Ljubljana: $(grep "^$H:" "$TMP/hlj.out" | cut -c1-60); --json the same time_ms"

k_ok bj --json block "$H"
BMS=$(jv "$TMP/bj.out" 'd["time_ms"]')
TZ=Europe/Ljubljana k_ok blj block "$H"
same_instant Europe/Ljubljana "$TMP/blj.out" "^time " "$BMS" seconds
TZ=UTC k_ok butc block "$H"
same_instant UTC "$TMP/butc.out" "^time " "$BMS" seconds
ok "block $H, TZ=Europe/Ljubljana: $(grep '^time ' "$TMP/blj.out")"

k_ok sj --json status
SMS=$(jv "$TMP/sj.out" 'd["last_block_time_ms"]')
TZ=Europe/Ljubljana k_ok slj status
grep -q " at 20[0-9-]* [0-9:]* +0[12]:00$" "$TMP/slj.out" || fail "status: no local time" "$TMP/slj.out"
ok "status, TZ=Europe/Ljubljana: $(grep ' at 20' "$TMP/slj.out" | sed 's/^ *//') (last block $SMS ms)"

stop_node
echo "$TEST: $passed passed, 0 failed"
