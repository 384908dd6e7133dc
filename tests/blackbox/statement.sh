#!/usr/bin/env bash
# statement.sh -- kula export's account statement and journal against a real
# kulad: payments (one memo a spreadsheet formula), a barter and an
# agreement's settlement; the statement's rows, running and opening balances
# checked against the node's balance; the journal summing to zero; the
# formula memo neutralised; the same files downloaded from the web wallet
# (made by the node, given only to the session that asked); and the CSV
# opened by LibreOffice (converted to xlsx and read back), which must see
# the same rows, numeric balances and no formula.
#
# Usage: bash statement.sh PATH/TO/kulad PATH/TO/kula
set -euo pipefail
TEST=statement
# shellcheck source=single_node.bash
. "$(dirname "${BASH_SOURCE[0]}")/single_node.bash" "$@"
export KULA_PASSPHRASE="statement passphrase"
FORMULA='=HYPERLINK("http://example.invalid/x","click")'

start_node
k_ok kdev keys import dev --dev "$GENESIS"
k_ok kalice keys new --kdf-opslimit 1 --kdf-memlimit-mib 1 alice
ALICEPK=$(sed -n 's/^public key \([0-9a-f]\{64\}\)$/\1/p' "$TMP/kalice.out")
k_ok padm --json propose --key dev admit --pubkey "$ALICEPK" --name alice --sector food \
    --credit-limit 500
ok "alice admitted"

# dev: -200.00, +25.50, +50.00 (the barter's difference), -40.00 (into the
# pool), +20.00 (its equal share): -144.50
k_ok pay1 pay --key dev --to alice 200.00 --memo "$FORMULA"
k_ok pay2 pay --key alice --to 1 25.50 --memo "rent, March"
k_ok ex exchange --key dev --with alice --gives "bread" --gives-value 80.00 \
    --receives "flour" --receives-value 30.00 --out "$TMP/ex.tx"
k_ok exs sign "$TMP/ex.tx" --key alice --yes
k_ok exc submit "$TMP/ex.tx"
k_ok open agreement open --key dev --party 1 --party alice --label stand \
    --title "Market stand" --rule equal --out "$TMP/open.tx"
AG=$(sed -n 's/^transaction \([0-9a-f]\{64\}\) written.*/\1/p' "$TMP/open.out")
k_ok opens sign "$TMP/open.tx" --key alice --yes
k_ok openc submit "$TMP/open.tx"
k_ok ben agreement benefit --key dev --id "$AG" 40.00 --description "stand sales"
k_ok set agreement settle --key alice --id "$AG"
k_ok bal --json balance 1
BAL=$(jv "$TMP/bal.out" 'd["balance"]')
[ "$BAL" -eq -14450 ] || fail "dev's balance is $BAL, not -144.50" "$TMP/bal.out"
ok "payments, a barter and a settlement committed; dev's balance -144.50"

# ---- the statement ----
k_ok st export --member 1
python3 - "$TMP/st.out" "$FORMULA" <<'PY' || fail "the statement is not what was committed" "$TMP/st.out"
import csv, io, sys
raw = open(sys.argv[1], newline="").read()
assert raw.endswith("\r\n") and "\n" not in raw.replace("\r\n", ""), "rows must end with CRLF"
rows = list(csv.DictReader(io.StringIO(raw, newline="")))
assert list(rows[0].keys()) == ["date", "tx_id", "kind", "counterparty", "description",
                                "debit", "credit", "balance", "currency"], rows[0].keys()
got = [(r["kind"], r["counterparty"], r["debit"], r["credit"], r["balance"]) for r in rows]
want = [("opening balance", "", "", "", "0.00"),
        ("transfer", "alice", "200.00", "", "-200.00"),
        ("transfer", "alice", "", "25.50", "-174.50"),
        ("exchange", "alice", "", "50.00", "-124.50"),
        ("benefit", "pool of agreement stand", "40.00", "", "-164.50"),
        ("settle", "pool of agreement stand", "", "20.00", "-144.50")]
assert got == want, got
assert rows[1]["description"] == "'" + sys.argv[2], rows[1]["description"]
assert ('"\'' + sys.argv[2].replace('"', '""') + '"') in raw, "the formula is not quoted"
assert rows[2]["description"] == "rent, March"
assert all(r["currency"] == "KULA" for r in rows)
assert all(r["date"].endswith("Z") and len(r["date"]) == 20 for r in rows)
PY
ok "statement: opening row and five postings, running balance to -144.50, formula neutralised"

# ---- a period after every posting: the opening balance carries them ----
TOMORROW=$(date -u -d tomorrow +%Y-%m-%d)
k_ok st2 export --member 1 --from "$TOMORROW"
[ "$(wc -l <"$TMP/st2.out")" -eq 2 ] || fail "a period without postings has more than one row" "$TMP/st2.out"
grep -q "^${TOMORROW}T00:00:00Z,,opening balance,,,,,-144.50,KULA"$'\r'"\$" "$TMP/st2.out" ||
    fail "the opening balance at $TOMORROW is not -144.50" "$TMP/st2.out"
ok "statement from $TOMORROW: the opening balance is -144.50"

# ---- --local: dates in the local zone, with its offset ----
CODE=0
TZ=UTC-3 timeout 120 "$KULA" --datadir "$D" export --member 1 --local >"$TMP/loc.out" 2>"$TMP/loc.err" || CODE=$?
[ "$CODE" -eq 0 ] || fail "export --local exited $CODE" "$TMP/loc.err"
python3 - "$TMP/st.out" "$TMP/loc.out" <<'PY' || fail "--local dates are not the UTC ones at +03:00" "$TMP/loc.out"
import csv, io, sys
from datetime import datetime
utc = list(csv.DictReader(open(sys.argv[1], newline="")))
loc = list(csv.DictReader(open(sys.argv[2], newline="")))
assert len(utc) == len(loc)
for u, l in zip(utc, loc):
    assert l["date"].endswith("+03:00"), l["date"]
    a = datetime.fromisoformat(u["date"].replace("Z", "+00:00"))
    assert a == datetime.fromisoformat(l["date"]), (u["date"], l["date"])
PY
ok "export --local: the same instants in the local zone, offset +03:00"

# ---- the journal ----
k_ok jn export --format journal
python3 - "$TMP/jn.out" <<'PY' || fail "the journal does not balance" "$TMP/jn.out"
import csv, io, sys
from decimal import Decimal
rows = list(csv.DictReader(io.StringIO(open(sys.argv[1], newline="").read(), newline="")))
assert len(rows) == 2 * 6, len(rows)  # 2 transfers, barter, benefit, 2 shares
d = lambda s: Decimal(s or "0")
assert sum(d(r["debit"]) - d(r["credit"]) for r in rows) == 0
for a, b in zip(rows[0::2], rows[1::2]):
    assert a["tx_id"] == b["tx_id"] and d(a["debit"]) == d(b["credit"]) > 0, (a, b)
assert {r["account"] for r in rows} == {"member:Dev Validator", "member:alice", "pool:stand"}
PY
ok "journal: 12 postings, each movement and the whole sum to zero"

k_ok jl --json export --member alice
python3 - "$TMP/jl.out" <<'PY' || fail "the JSON statement's balances do not add up" "$TMP/jl.out"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
bal = rows[0]["balance"]
for r in rows[1:]:
    bal += r["credit"] - r["debit"]
    assert r["balance"] == bal and isinstance(r["counterparty"], int), r
assert bal == 14450, bal
PY
ok "JSON lines statement of alice: minor units, ending at 144.50"

k bad export --member nobody
[ "$CODE" -eq 1 ] && grep -q "no member 'nobody'" "$TMP/bad.err" ||
    fail "an unknown member: exit $CODE" "$TMP/bad.err"
k bad2 export --member 1 --from 2026-13-40
[ "$CODE" -eq 3 ] && grep -q -- "--from: a date" "$TMP/bad2.err" ||
    fail "a bad date: exit $CODE" "$TMP/bad2.err"
ok "an unknown member and a bad date are refused with a message"

# ---- the web wallet's "Download statement": the node makes the same files ----
# web_login NAME KEY: a web session of wallet key KEY through curl (what the
# page does): cookie jar NAME.jar, CSRF token in NAME.csrf; sets API.
web_login() {
    k_ok "$1-url" web --key "$2" --url
    local url token
    url=$(cat "$TMP/$1-url.out")
    API=${url%%/login#*}
    token=${url##*#}
    curl -sS -c "$TMP/$1.jar" -H "Origin: $API" -d "{\"token\":\"$token\"}" "$API/web/login" \
        >"$TMP/$1.login" || fail "the login of $2 failed" "$TMP/$1.login"
    curl -sS -b "$TMP/$1.jar" "$API/web/session" >"$TMP/$1.session"
    jv "$TMP/$1.session" 'd["csrf"]' >"$TMP/$1.csrf"
}
# web_statement SESSION NAME BODY: asks for a statement (POST /web/statement,
# BODY its JSON), waits (<= 60 s) until the node made it, and downloads it:
# the file in NAME.file, its headers in NAME.head.
web_statement() {
    local st
    st=$(curl -sS -o "$TMP/$2.start" -w '%{http_code}' -b "$TMP/$1.jar" -H "Origin: $API" \
        -H "X-CSRF-Token: $(cat "$TMP/$1.csrf")" -d "$3" "$API/web/statement")
    [ "$st" = 202 ] || fail "POST /web/statement $3: HTTP $st" "$TMP/$2.start"
    local tenths=600
    until curl -sS -b "$TMP/$1.jar" "$API/web/statement" >"$TMP/$2.status" &&
        grep -q '"state":"done"' "$TMP/$2.status"; do
        tenths=$((tenths - 1))
        [ "$tenths" -gt 0 ] || fail "the node did not make the statement within 60 s" "$TMP/$2.status"
        sleep 0.1
    done
    grep -q '"rows"' "$TMP/$2.status" || fail "the node made no statement" "$TMP/$2.status"
    st=$(curl -sS -D "$TMP/$2.head" -o "$TMP/$2.file" -w '%{http_code}' -b "$TMP/$1.jar" \
        "$API/web/statement/file")
    [ "$st" = 200 ] || fail "GET /web/statement/file: HTTP $st" "$TMP/$2.file"
}
web_login wdev dev
web_login walice alice
st=$(curl -sS -o "$TMP/nocsrf.out" -w '%{http_code}' -b "$TMP/wdev.jar" -H "Origin: $API" \
    -d '{}' "$API/web/statement")
[ "$st" = 403 ] && grep -q "CSRF token" "$TMP/nocsrf.out" ||
    fail "a statement asked for without the page's CSRF token: HTTP $st" "$TMP/nocsrf.out"
st=$(curl -sS -o "$TMP/badp.out" -w '%{http_code}' -b "$TMP/wdev.jar" -H "Origin: $API" \
    -H "X-CSRF-Token: $(cat "$TMP/wdev.csrf")" -d '{"from":"2026-03-01","to":"2026-02-01"}' \
    "$API/web/statement")
[ "$st" = 400 ] && grep -q "the period ends before it begins" "$TMP/badp.out" ||
    fail "a period that ends before it begins: HTTP $st" "$TMP/badp.out"
ok "the web statement: without the CSRF token 403, a period backwards refused in words"

TODAY=$(date -u +%Y-%m-%d)
GDAY=$(jv "$GENESIS" 'd["genesis_time"][:10]')
web_statement wdev wst '{}'
cmp "$TMP/st.out" "$TMP/wst.file" || fail "the web statement is not kula export --member 1's" "$TMP/wst.file"
grep -qi '^Content-Type: text/csv; charset=utf-8' "$TMP/wst.head" &&
    grep -qi "^Content-Disposition: attachment; filename=\"statement-Dev-Validator-$GDAY-$TODAY.csv\"" \
        "$TMP/wst.head" || fail "the download's headers" "$TMP/wst.head"
ok "web statement of dev: kula export --member 1's bytes, statement-Dev-Validator-$GDAY-$TODAY.csv"

# alice's session cannot fetch dev's statement, nor learn of it
st=$(curl -sS -o "$TMP/steal.out" -w '%{http_code}' -b "$TMP/walice.jar" "$API/web/statement/file")
[ "$st" = 404 ] && grep -q "no statement of yours" "$TMP/steal.out" ||
    fail "alice's session fetched dev's statement: HTTP $st" "$TMP/steal.out"
curl -sS -b "$TMP/walice.jar" "$API/web/statement" >"$TMP/steal.status"
[ "$(cat "$TMP/steal.status")" = '{"state":"none"}' ] ||
    fail "alice's session learns of dev's statement" "$TMP/steal.status"
st=$(curl -sS -o "$TMP/nos.out" -w '%{http_code}' "$API/web/statement/file")
[ "$st" = 401 ] || fail "the statement without a session: HTTP $st" "$TMP/nos.out"
ok "another member's session gets 404 and {\"state\":\"none\"}; no session 401"

k_ok jn2 export --member 1 --format journal --from "$TODAY" --to "$TODAY"
web_statement wdev wjn "{\"from\":\"$TODAY\",\"to\":\"$TODAY\",\"format\":\"journal\"}"
cmp "$TMP/jn2.out" "$TMP/wjn.file" || fail "the web journal is not kula export's" "$TMP/wjn.file"
grep -qi "filename=\"journal-Dev-Validator-$TODAY-$TODAY.csv\"" "$TMP/wjn.head" ||
    fail "the journal's name" "$TMP/wjn.head"
k_ok jl2 export --member alice --format jsonl --from "$GDAY"
web_statement walice wjl "{\"from\":\"$GDAY\",\"format\":\"jsonl\"}"
cmp "$TMP/jl2.out" "$TMP/wjl.file" || fail "alice's web JSON lines are not kula export's" "$TMP/wjl.file"
grep -qi '^Content-Type: application/jsonl; charset=utf-8' "$TMP/wjl.head" ||
    fail "the JSON lines' type" "$TMP/wjl.head"
ok "web journal of dev ($TODAY) and JSON lines of alice: kula export's bytes"

# ---- LibreOffice reads the statement ----
command -v soffice >/dev/null || fail "soffice is missing: run tests/install-deps test"
mkdir -p "$TMP/lo" "$TMP/home"
cp "$TMP/st.out" "$TMP/lo/statement.csv"
HOME=$TMP/home timeout 180 soffice --headless --norestore \
    "-env:UserInstallation=file://$TMP/home/lo" --infilter="CSV:44,34,76,1" \
    --convert-to xlsx --outdir "$TMP/lo" "$TMP/lo/statement.csv" >"$TMP/lo.out" 2>&1 ||
    fail "soffice could not convert the statement" "$TMP/lo.out"
python3 - "$TMP/lo/statement.xlsx" <<'PY' || fail "LibreOffice read another statement" "$TMP/lo.out"
import re, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
sheet = z.read("xl/worksheets/sheet1.xml").decode()
strings = re.findall(r"<si>(.*?)</si>", z.read("xl/sharedStrings.xml").decode(), re.S)
strings = [re.sub(r"<[^>]+>", "", s) for s in strings]
assert "<f>" not in sheet and "<f " not in sheet, "a cell became a formula"
rows = re.findall(r'<row [^>]*r="(\d+)"[^>]*>(.*?)</row>', sheet, re.S)
assert len(rows) == 7, len(rows)
bal = []
for _, body in rows[1:]:
    c = re.search(r'<c r="H\d+"([^>]*)>(?:<v>([^<]*)</v>)?', body)
    assert c and re.sub(r't="n"', "", c.group(1)).find('t="') < 0, \
        "the balance is not a number: %s" % body
    bal.append(round(float(c.group(2)), 2))
assert bal == [0.0, -200.0, -174.5, -124.5, -164.5, -144.5], bal
memo = [s for s in strings if "HYPERLINK" in s]
assert memo and all(not s.startswith("=") for s in memo), memo
PY
ok "LibreOffice reads 7 rows, numeric balances 0 to -144.50, the formula as text"

stop_node
echo "$TEST: $passed passed, 0 failed"
