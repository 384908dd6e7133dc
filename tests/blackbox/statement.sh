#!/usr/bin/env bash
# statement.sh -- kula export's account statement and journal against a real
# kulad: payments (one memo a spreadsheet formula), a barter and an
# agreement's settlement; the statement's rows, running and opening balances
# checked against the node's balance; the journal summing to zero; the
# formula memo neutralised; and the CSV opened by LibreOffice (converted to
# xlsx and read back), which must see the same rows, numeric balances and no
# formula.
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
