#!/usr/bin/env bash
# soak.sh -- the web wallet left open in headless Chromium while payments
# keep coming: every page must go on updating without a reload, log no
# JavaScript error, keep its session, and hold its JS heap bounded
# (tests/browser/soak.py checks through the DOM).  At the end the session
# is ended on the node: the page must say so in words and log in again
# with a new address from `kula web --url`.
#
# Usage: bash soak.sh PATH/TO/kulad PATH/TO/kula [MINUTES]   (default 60;
#        the suite runs 2.5)
set -euo pipefail

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    echo "usage: $0 PATH/TO/kulad PATH/TO/kula [MINUTES]" >&2
    exit 2
fi
KULAD=$(realpath "$1")
KULA=$(realpath "$2")
MINUTES=${3:-60}
SECONDS_=$(awk -v m="$MINUTES" 'BEGIN { if (m + 0 <= 0) exit 1; print int(m * 60) }') ||
    { echo "$0: MINUTES must be a number above 0" >&2; exit 2; }
TEST=browser_soak
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=browser.bash
. "$HERE/browser.bash"
export KULA_PASSPHRASE="browser soak passphrase"

start_node
k_ok kdev keys import dev --dev "$GENESIS"
k_ok kalice keys new --kdf-opslimit 1 --kdf-memlimit-mib 1 alice
ALICEPK=$(sed -n 's/^public key \([0-9a-f]\{64\}\)$/\1/p' "$TMP/kalice.out")
k_ok adm propose --key dev admit --pubkey "$ALICEPK" --name alice --sector bakery --credit-limit 500
k_ok pay1 pay --key dev --to alice 1.00 --memo "<script>alert(1)</script>"
ok "alice admitted and paid"

# the load: dev pays alice and alice pays dev back, one payment about every
# 2 s, for as long as the pages are watched (bounded by the soak's time)
load() {
    local end=$(($(date +%s) + SECONDS_ + 60)) i=0
    while [ "$(date +%s)" -lt "$end" ] && [ ! -e "$TMP/stop" ]; do
        i=$((i + 1))
        if [ $((i % 2)) -eq 0 ]; then
            "$KULA" --datadir "$D" pay --key dev --to alice 0.10 --memo "load $i" --no-wait \
                >/dev/null 2>&1 || true
        else
            "$KULA" --datadir "$D" pay --key alice --to dev 0.05 --memo "back $i" --no-wait \
                >/dev/null 2>&1 || true
        fi
        sleep 2 # the load's pace, not a wait for a condition
    done
}
load &
LOADPID=$!
trap 'kill "$LOADPID" 2>/dev/null || true; cleanup' EXIT
code=0
timeout $((SECONDS_ + 300)) /usr/bin/python3 "$HERE/soak.py" --kula "$KULA" --datadir "$D" \
    --minutes "$MINUTES" || code=$?
touch "$TMP/stop"
wait "$LOADPID" || true
[ "$code" -eq 0 ] || fail "the pages did not hold for $MINUTES min (exit $code)"
ok "the pages held for $MINUTES min under load"
stop_node
echo "$TEST: $passed passed, 0 failed"
