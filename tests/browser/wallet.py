#!/usr/bin/python3
"""wallet.py -- the browser steps of tests/browser/wallet.sh: logs in
through `kula web --url`, and checks through the DOM the member's name and
balance in units, history (search, and a <script> memo shown as text with
no dialog), a payment, the signing of a barter written by `kula exchange`
(left with the node by `kula submit --ask-others`: a notification, her
list of transactions to sign, the same words as `kula sign`), a vote, a
notification arriving for a payment made from the CLI, and her statement
downloaded from the history page (the bytes of `kula export --member`).
Saves a screenshot of each main page."""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdp import Browser, Failed, drive  # noqa: E402

A = argparse.ArgumentParser()
A.add_argument("--kula", required=True)
A.add_argument("--datadir", required=True)
A.add_argument("--tmp", required=True)
A.add_argument("--shots", required=True)
A.add_argument("--proposal", required=True)
args = A.parse_args()
PASS = os.environ["KULA_PASSPHRASE"]
n = 0


def ok(what):
    global n
    n += 1
    print("ok browser %d - %s" % (n, what), flush=True)


def kula(*argv):
    r = subprocess.run([args.kula, "--datadir", args.datadir] + list(argv), capture_output=True,
                       text=True, timeout=120)
    if r.returncode != 0:
        raise Failed("kula %s exited %d: %s" % (" ".join(argv), r.returncode, r.stderr.strip()))
    return r.stdout


def kula_json(*argv):
    return json.loads(kula("--json", *argv))


def wait_cli(pred, what, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.2)
    raise Failed("%s: not within %d s" % (what, timeout))


def q(s):
    """A JavaScript string literal of s."""
    return json.dumps(s)


def text_of(sel):
    return "(document.querySelector(%s) || {}).textContent" % q(sel)


def fill(b, sel, value):
    b.js("(function(){const e=document.querySelector(%s); e.value=%s;"
         "e.dispatchEvent(new Event('input',{bubbles:true}));})()" % (q(sel), q(value)))


def shot(b, name):
    path = b.screenshot(os.path.join(args.shots, name + ".png"))
    print("screenshot: " + path, flush=True)


def go(b, page):
    b.js("location.hash = %s" % q("#" + page))
    b.wait("!document.getElementById('page-%s').hidden" % page, "the %s page shows" % page)


def main():
    url = kula("web", "--key", "alice", "--url").strip()
    drive(run, url)


def run(b, url):
    # ---- login: the fragment's token for a session cookie ----
    b.navigate(url)
    b.wait("location.pathname === '/' && location.hash === ''", "the login page opens the wallet")
    b.wait(text_of("#member-name") + " === 'alice'", "the member's name")
    b.wait(text_of("#balance") + " === '13.50 KULA'", "alice's balance in units")
    assert b.js(text_of("#available")) == "513.50 KULA", b.js(text_of("#available"))
    assert b.js("document.cookie") == "", "the session cookie is HttpOnly: scripts cannot read it"
    assert url.split("#")[1] not in b.js("location.href"), "the token left the address bar"
    # a state-changing request without the page's CSRF token is refused
    st = b.js("fetch('/web/pay', {method: 'POST', credentials: 'same-origin', "
              "body: '{}'}).then(r => r.status)")
    assert st == 403, "a POST without X-CSRF-Token: HTTP %r" % st
    ok("logged in by kula web --url: alice, balance 13.50 KULA, 513.50 KULA available")
    shot(b, "account")

    # a login address works once
    b2 = Browser()
    try:
        b2.navigate(url)
        b2.wait(text_of("#login-status") + ".indexOf('used already') >= 0",
                "a second use of the login address is refused")
    finally:
        b2.close()
    ok("the login address works once")

    # ---- history, search and a memo that is a script ----
    go(b, "history")
    b.wait("document.querySelectorAll('#history-rows tr').length >= 2", "history rows")
    memos = b.js("[...document.querySelectorAll('#history-rows td.memo')].map(e => e.textContent)")
    assert "first payment" in memos, memos
    assert "<script>alert(1)</script>" in memos, memos
    assert b.js("document.querySelectorAll('#history-rows script, #latest script').length") == 0
    fill(b, "#history-search", "first")
    b.wait("document.querySelectorAll('#history-rows tr').length === 1",
           "the search keeps the one entry")
    fill(b, "#history-search", "")
    fill(b, "#history-from", "2000-01-01")
    fill(b, "#history-to", "2000-12-31")
    b.wait("document.querySelectorAll('#history-rows tr').length === 0",
           "a period without entries shows none")
    fill(b, "#history-from", "")
    fill(b, "#history-to", "")
    b.wait("document.querySelectorAll('#history-rows tr').length >= 2", "rows back")
    shot(b, "history")
    assert not b.dialogs, "a dialog opened: %r" % b.dialogs
    ok("history: search, period, and the memo <script>alert(1)</script> shown as text, no dialog")

    # ---- pay ----
    go(b, "pay")
    fill(b, "#pay-to", "Dev Validator")
    fill(b, "#pay-amount", "2.255")
    fill(b, "#pay-memo", "rye bread")
    fill(b, "#pay-pass", PASS)
    b.js("document.getElementById('pay-button').click()")
    b.wait(text_of("#pay-result") + ".indexOf('2.255') >= 0 && " + text_of("#pay-result") +
           ".indexOf('at most 2 decimals') >= 0", "2.255 refused in words")
    fill(b, "#pay-amount", "2.25")
    fill(b, "#pay-pass", "wrong passphrase")
    b.js("document.getElementById('pay-button').click()")
    b.wait(text_of("#pay-result") + ".indexOf('wrong passphrase') >= 0", "a wrong passphrase")
    fill(b, "#pay-pass", PASS)
    b.js("document.getElementById('pay-button').click()")
    b.wait(text_of("#pay-result") + ".indexOf('Paid 2.25 KULA to Dev Validator') >= 0",
           "the payment is sent")
    shot(b, "pay")
    wait_cli(lambda: kula_json("balance", "alice")["balance"] == 1125, "alice's balance 11.25")
    ok("paid 2.25 KULA to Dev Validator from the browser (2.255 and a wrong passphrase refused)")

    # ---- rate a trading partner ----
    fill(b, "#fb-about", "Dev Validator")
    fill(b, "#fb-rating", "4")
    fill(b, "#fb-comment", "good shop fitting")
    fill(b, "#fb-pass", PASS)
    b.js("document.getElementById('fb-button').click()")
    b.wait(text_of("#fb-result") + ".indexOf('Your rating 4 of 5 was sent') >= 0", "the rating")
    wait_cli(lambda: kula_json("member", "1")["rating_count"] == 1, "the rating committed")
    ok("rated Dev Validator 4 of 5 from the browser")

    # ---- the barter kula exchange wrote: pasted, it shows in words ----
    go(b, "sign")
    b.wait(text_of("#live") + " === 'live'", "the event stream is connected")
    barter_path = os.path.join(args.tmp, "barter.json")
    fill(b, "#sign-text", open(barter_path).read())
    b.js("document.getElementById('sign-show').click()")
    b.wait("!document.getElementById('sign-view').hidden", "the pasted barter in words")
    assert b.js(text_of("#sign-you")) == "#2 alice"
    fill(b, "#sign-text", "")
    # ---- dev leaves it with the node: alice is asked, and signs from her list ----
    b.js("document.getElementById('sign-view').hidden = true")
    left = kula_json("submit", barter_path, "--ask-others")
    assert left["left"] is True and left["waiting"] == 1, left
    b.wait("[...document.querySelectorAll('#notes li')].some(l => l.textContent.indexOf("
           "'Signature requested by #1 Dev Validator for transaction ') >= 0)",
           "the notification that her signature is requested")
    b.wait("document.querySelector('#sign-requests tr[data-tx] button.sign-request') !== null",
           "the barter in her list of transactions to sign")
    txid = b.js("document.querySelector('#sign-requests tr[data-tx]').dataset.tx")
    with open(os.path.join(args.tmp, "requested"), "w") as out:
        out.write(txid + "\n")
    b.js("document.querySelector('#sign-requests button.sign-request').click()")
    b.wait("!document.getElementById('sign-view').hidden", "the barter in words")
    words = b.js(text_of("#sign-words")).strip().splitlines()
    cli = open(os.path.join(args.tmp, "words.out")).read().splitlines()
    start = cli.index("") + 1
    cli_words = [l.strip() for l in cli[start:cli.index("", start)]]
    assert [w.strip() for w in words] == cli_words, (words, cli_words)
    assert b.js(text_of("#sign-you")) == "#2 alice"
    shot(b, "sign")
    fill(b, "#sign-pass", PASS)
    b.js("document.getElementById('sign-button').click()")
    b.wait(text_of("#sign-result") + ".indexOf('Signed and submitted') >= 0", "signed")
    b.wait("document.querySelector('#sign-requests tr[data-tx]') === null",
           "the signed barter leaves her list", timeout=60)
    wait_cli(lambda: kula_json("balance", "alice")["balance"] == 1125 - 4950,
             "the barter's difference 49.50 paid by alice")
    ok("the barter signed in the browser, in the words of kula sign: %s" % cli_words[-1])

    # ---- an agreement's payout table; its settlement as a notification ----
    go(b, "agreements")
    b.wait(text_of("#agreement-list") + ".indexOf('joint catering (caf)') >= 0",
           "the agreement")
    b.wait("[...document.querySelectorAll('#agreement-list tbody tr')].map(r => r.textContent)"
           ".join('|') === '#1 Dev Validator0.00 KULA0.00 KULA5.00 KULA|"
           "#2 alice0.00 KULA0.00 KULA5.00 KULA'", "the payout table: 5.00 KULA each")
    shot(b, "agreements")
    kula("agreement", "settle", "--key", "dev", "--id", "caf")
    b.wait("[...document.querySelectorAll('#notes li')].some(l => l.textContent.indexOf("
           "'An agreement of yours was settled') >= 0)", "the settlement's notification")
    b.wait(text_of("#agreement-list") + ".indexOf('settlements so far: 1') >= 0",
           "the page follows the settlement")
    ok("the agreement's payout table (5.00 KULA each of a 10.00 pool); its settlement notified")

    # ---- vote ----
    go(b, "proposals")
    fill(b, "#vote-pass", PASS)
    sel = "button.vote-yes[data-proposal=%s]" % q(args.proposal)
    b.wait("document.querySelector(%s) !== null" % q(sel), "the open proposal's vote button")
    shot(b, "proposals")
    b.js("document.querySelector(%s).click()" % q(sel))
    b.wait(text_of("#vote-result") + ".indexOf('was sent') >= 0", "the vote is sent")
    wait_cli(lambda: kula_json("proposal", args.proposal)["status"] == "passed",
             "the proposal passes with alice's vote")
    ok("voted yes on %s in the browser: it passed" % args.proposal[:8])

    # ---- a notification for a payment made from the CLI ----
    go(b, "notes")
    b.wait(text_of("#live") + " === 'live'", "the event stream is connected")
    kula("pay", "--key", "dev", "--to", "alice", "3.00", "--memo", "coffee beans", "--no-wait")
    b.wait("[...document.querySelectorAll('#notes li')].some(l => l.textContent.indexOf("
           "'Payment received: 3.00 KULA from #1 Dev Validator: coffee beans') >= 0)",
           "the notification of the CLI's payment", timeout=60)
    shot(b, "notifications")
    go(b, "account")
    b.wait(text_of("#balance") + " === '-30.25 KULA'", "the balance updated without a reload")
    ok("a payment from the CLI arrived as a notification; the balance followed (-30.25 KULA)")

    # ---- the network and the auditor ----
    go(b, "operator")
    b.wait(text_of("#op-health") + " === 'ok'", "the node's health")
    b.wait("document.querySelectorAll('#op-blocks tr').length >= 3", "the latest blocks")
    b.wait("document.querySelectorAll('#op-validators tr').length === 1 && " +
           text_of("#op-validators") + ".indexOf('precommit for height') >= 0",
           "the validator and its last vote")
    b.wait("document.querySelectorAll('#chart-height polyline').length === 1", "a chart")
    shot(b, "operator")
    go(b, "auditor")
    b.wait("document.querySelectorAll('#au-graph svg g.member').length === 2", "the trade graph")
    assert b.js(text_of("#au-sum")) == "0.00 KULA"
    # the layout of the trade graph holds 200 members, each named once
    drawn = b.js("(function(){const d=document.createElement('div');"
                 "const ns=[...Array(200).keys()].map(i=>({id:i+1,label:'#'+(i+1)+' <b>m</b>'}));"
                 "KulaCharts.graph(d, ns, [{a:1,b:2,value:5},{a:3,b:200,value:1}]);"
                 "return [d.querySelectorAll('circle').length, d.querySelectorAll('line').length,"
                 "d.querySelectorAll('b').length, d.querySelector('text').textContent];})()")
    assert drawn == [200, 2, 0, "#1 <b>m</b>"], drawn
    shot(b, "auditor")
    ok("the network console and the auditor's page (balances sum to 0.00 KULA)")

    # ---- a payment request (an invoice of dev's): accepted, then paid ----
    go(b, "invoices")
    fill(b, "#inv-pass", PASS)
    inv = "#inv-owed tr[data-reference='2026-117']"
    b.wait("document.querySelector(%s + ' button.inv-accept') !== null" % q(inv),
           "the invoice to accept")
    shot(b, "invoices")
    b.js("document.querySelector(%s + ' button.inv-accept').click()" % q(inv))
    b.wait("document.querySelector(%s + ' button.inv-pay') !== null" % q(inv),
           "accepted, the invoice can be paid", timeout=60)
    b.js("document.querySelector(%s + ' button.inv-pay').click()" % q(inv))
    b.wait("(document.querySelector(%s) || {}).textContent.indexOf('paid') >= 0" % q(inv),
           "the invoice paid", timeout=60)
    b.wait(text_of("#inv-result") + ".indexOf('Paid 7.00 KULA of invoice 2026-117') >= 0",
           "the payment's words")
    wait_cli(lambda: kula_json("balance", "alice")["balance"] == -3025 - 700,
             "alice's balance after paying 7.00")
    ok("an invoice of 7.00 KULA accepted and paid in one click each")

    # ---- her statement, made by the node and downloaded by the browser ----
    go(b, "history")
    folder = os.path.join(args.tmp, "downloads")
    os.makedirs(folder, exist_ok=True)
    b.allow_downloads(folder)
    day = lambda t: time.strftime("%Y-%m-%d", time.gmtime(t))
    first, last = day(time.time() - 2 * 86400), day(time.time() + 86400)
    fill(b, "#stmt-from", first)
    fill(b, "#stmt-to", last)
    b.js("document.getElementById('stmt-button').click()")
    b.wait(text_of("#stmt-result") + ".indexOf('Your statement is ready: statement-alice-') >= 0",
           "the node made the statement")
    name = "statement-alice-%s-%s.csv" % (first, last)
    path = os.path.join(folder, name)
    wait_cli(lambda: os.path.exists(path) and not any(f.endswith(".crdownload")
                                                      for f in os.listdir(folder)),
             "the browser downloaded %s (in the folder: %r)" % (name, os.listdir(folder)))
    shot(b, "statement")
    got = open(path, "rb").read()
    head = b"date,tx_id,kind,counterparty,description,debit,credit,balance,currency\r\n"
    assert got.startswith(head), got[:200]
    paid = [l for l in got.split(b"\r\n") if b",transfer,Dev Validator,rye bread,2.25,," in l]
    assert len(paid) == 1, got
    r = subprocess.run([args.kula, "--datadir", args.datadir, "export", "--member", "alice",
                        "--from", first, "--to", last], capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert got == r.stdout, "the download is not kula export's:\n%r\n%r" % (got, r.stdout)
    ok("downloaded %s: the header row, the 2.25 paid for rye bread, and kula export "
       "--member alice --from %s --to %s's bytes (%d)" % (name, first, last, len(got)))
    assert not b.dialogs, "a dialog opened: %r" % b.dialogs


try:
    main()
except (Failed, AssertionError) as e:
    print("browser: FAIL: %s" % (e,), file=sys.stderr)
    sys.exit(1)
print("browser: %d passed, 0 failed" % n)
