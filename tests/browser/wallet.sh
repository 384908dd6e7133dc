#!/usr/bin/env bash
# wallet.sh -- the web wallet in a real browser: starts kulad, makes alice a
# member with a history (a memo that is a <script>), a barter written by
# `kula exchange` for her to sign and a proposal for her to vote on, then
# drives headless Chromium (tests/browser/wallet.py, through the DevTools
# protocol) logged in by `kula web --url`.  Screenshots of the main pages go
# to SCREENSHOT-DIR, their paths printed.
#
# Usage: bash wallet.sh PATH/TO/kulad PATH/TO/kula SCREENSHOT-DIR
set -euo pipefail

if [ $# -ne 3 ]; then
    echo "usage: $0 PATH/TO/kulad PATH/TO/kula SCREENSHOT-DIR" >&2
    exit 2
fi
KULAD=$(realpath "$1")
KULA=$(realpath "$2")
SHOTS=$(mkdir -p "$3" && realpath "$3")
TEST=browser_wallet
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=browser.bash
. "$HERE/browser.bash"
export KULA_PASSPHRASE="browser wallet passphrase"

# kulad --notify, from kulad.conf: a script that writes its arguments down
cat >"$TMP/notified.sh" <<EOS
#!/bin/sh
echo "\$@" >>"$TMP/notified"
EOS
chmod +x "$TMP/notified.sh"
mkdir -p "$D"
echo "notify = $TMP/notified.sh %s" >"$D/kulad.conf"
# notified LINE: waits (<= 30 s) until the script was run with LINE.
notified() {
    local tenths=300
    until grep -qx "$1" "$TMP/notified" 2>/dev/null; do
        tenths=$((tenths - 1))
        [ "$tenths" -gt 0 ] || fail "kulad --notify did not run for '$1' within 30 s" "$TMP/notified"
        sleep 0.1
    done
}

start_node
k_ok kdev keys import dev --dev "$GENESIS"
k_ok kalice keys new --kdf-opslimit 1 --kdf-memlimit-mib 1 alice
ALICEPK=$(sed -n 's/^public key \([0-9a-f]\{64\}\)$/\1/p' "$TMP/kalice.out")
k_ok adm propose --key dev admit --pubkey "$ALICEPK" --name alice --sector bakery --credit-limit 500
k_ok pay1 --json pay --key dev --to alice 12.50 --memo "first payment"
PAY1=$(jv "$TMP/pay1.out" 'd["id"]')
k_ok pay2 pay --key dev --to alice 1.00 --memo "<script>alert(1)</script>"
ok "alice admitted and paid 12.50 and 1.00 (a memo that is a script)"
notified "payment $PAY1"
ok "kulad's notify (kulad.conf) ran: $(grep -x "payment $PAY1" "$TMP/notified")"

k_ok ex exchange --key dev --with alice --gives "shop fitting" --gives-value 300 \
    --receives "bread for a month" --receives-value 250.50 --out "$TMP/barter.json"
# what `kula sign` shows alice, from a copy (the browser signs the original)
cp "$TMP/barter.json" "$TMP/barter-copy.json"
k_ok words sign "$TMP/barter-copy.json" --key alice --yes
k_ok inv invoice issue --key dev --to alice 7.00 --due 30d --ref "2026-117"
k_ok prop --json propose --key dev param default_credit_limit 2000.00
PROP=$(jv "$TMP/prop.out" 'd["id"]')
# an agreement of dev and alice with 10.00 in its pool, shared 1:1
k_ok ag agreement open --key dev --party 1 --party alice --label caf --title "joint catering" \
    --rule weights:1,1 --out "$TMP/ag.json"
k_ok agsign sign "$TMP/ag.json" --key alice --yes
k_ok agsub submit "$TMP/ag.json"
k_ok agpool agreement benefit --key dev --id caf 10.00 --description "a wedding"
ok "a barter for alice to sign and a proposal $PROP for her to vote on"
notified "proposal $PROP"
ok "kulad's notify ran for the proposal: proposal ${PROP:0:8}…"

k web_bad web --key nobody --url
[ "$CODE" -eq 1 ] && grep -q "has no key named 'nobody'" "$TMP/web_bad.err" ||
    fail "kula web --key nobody: exit $CODE" "$TMP/web_bad.err"
k_ok web_url web --key alice --url
grep -qE '^http://127\.0\.0\.1:[0-9]+/login#[0-9a-f]{64}$' "$TMP/web_url.out" ||
    fail "kula web --url printed no loopback login address" "$TMP/web_url.out"
ok "kula web --url: $(sed 's/#.*/#…/' "$TMP/web_url.out")"

# what a page of another site, or a client without a session, gets
API=$(sed 's|/login#.*||' "$TMP/web_url.out")
HOSTPORT=${API#http://}
curl -sS -D "$TMP/h.txt" -o /dev/null "$API/" || fail "GET / failed"
for h in "Content-Security-Policy: default-src 'self'; script-src 'self'" \
    "X-Content-Type-Options: nosniff" "Referrer-Policy: no-referrer" "frame-ancestors 'none'"; do
    grep -qi -- "$h" "$TMP/h.txt" || fail "GET / lacks the header '$h'" "$TMP/h.txt"
done
grep -qi "unsafe-inline" "$TMP/h.txt" && fail "the CSP allows inline script" "$TMP/h.txt"
st=$(curl -s -o "$TMP/r.txt" -w '%{http_code}' -H "Origin: $API" -d '{}' "$API/web/pay")
[ "$st" = 401 ] && grep -q "not logged in" "$TMP/r.txt" || fail "pay without a session: $st" "$TMP/r.txt"
st=$(curl -s -o "$TMP/r.txt" -w '%{http_code}' -H "Origin: http://evil.example" \
    -d '{"token":"00"}' "$API/web/login")
[ "$st" = 403 ] || fail "a login from another origin: HTTP $st" "$TMP/r.txt"
st=$(curl -s -o "$TMP/r.txt" -w '%{http_code}' -H "Host: evil.example:${HOSTPORT#*:}" "$API/")
[ "$st" = 421 ] || fail "a page asked for under another host name (DNS rebinding): HTTP $st" "$TMP/r.txt"
st=$(curl -s -o "$TMP/r.txt" -w '%{http_code}' "$API/events")
[ "$st" = 401 ] || fail "the event stream without a session: HTTP $st" "$TMP/r.txt"
ok "strict headers (CSP 'self' without inline script); no session, another origin or host refused"

code=0
timeout 300 /usr/bin/python3 "$HERE/wallet.py" --kula "$KULA" --datadir "$D" --tmp "$TMP" \
    --shots "$SHOTS" --proposal "$PROP" || code=$?
[ "$code" -eq 0 ] || fail "the browser steps failed (exit $code)"
notified "signature $(cat "$TMP/requested")"
ok "kulad's notify ran for the signature requested of alice: signature $(cut -c1-12 "$TMP/requested")…"
grep -q "web: the wallet key 'alice' logged in" "$TMP/kulad.log" || fail "kulad did not log the login"
if grep -qE '[0-9a-f]{64}' <(grep "web:" "$TMP/kulad.log" | grep -v "signed\|paid"); then
    fail "a token or session id reached kulad's log" "$TMP/kulad.log"
fi
ok "no login token or session id in kulad's log"
stop_node
ok "kulad stopped cleanly with the browser's event stream open"
echo "$TEST: $passed passed, 0 failed"
