#!/usr/bin/python3
"""soak.py -- the browser side of tests/browser/soak.sh: logs alice in with
`kula web --url` and keeps the wallet open for --minutes without a reload,
going through its pages.  Every CHECK_S seconds it checks through the DOM
that the page it shows updated since its last visit (account: the latest
entries; history: its rows; notifications: their count; network: the
height and health), that no JavaScript error or failed request was logged
(Runtime.exceptionThrown, console and log errors), that the session holds
(the page never says it ended), and samples the JS heap after a garbage
collection (Runtime.getHeapUsage).

The heap bound: what the page keeps is bounded by design (200
notifications, 120 samples per chart, one page of 100 history rows, the
member list), so once warm (the first full round of pages) the heap after a
collection may not exceed the warm heap by more than HEAP_SLACK (2 MiB, or
50 % of it): a leak of one notification or one history row per payment
would pass that within the hour.

Then the session is ended on the node (a logout from the page's origin,
as a session that expires ends): the page must say so in words, offer to
log in again, and log in again with a new address from `kula web --url`.
Prints the figures as `soak: ...` lines."""
import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdp import Browser, Failed  # noqa: E402

A = argparse.ArgumentParser()
A.add_argument("--kula", required=True)
A.add_argument("--datadir", required=True)
A.add_argument("--minutes", type=float, default=60)
args = A.parse_args()
CHECK_S = 15
PAGES = ["account", "history", "notes", "operator"]
MIB = 1024 * 1024


def kula(*argv):
    r = subprocess.run([args.kula, "--datadir", args.datadir] + list(argv), capture_output=True,
                       text=True, timeout=120)
    if r.returncode != 0:
        raise Failed("kula %s exited %d: %s" % (" ".join(argv), r.returncode, r.stderr.strip()))
    return r.stdout


def text_of(sel):
    return "(document.querySelector(%r) || {}).textContent" % sel


# what shows that a page updated: a value that changes as payments commit
STATE = {
    "account": "[...document.querySelectorAll('#latest tr')].map(r => r.textContent).join('|')"
               " + '/' + " + text_of("#balance"),
    "history": "document.querySelectorAll('#history-rows tr').length + '/' + "
               "(document.querySelector('#history-rows tr') || {}).textContent",
    "notes": "document.getElementById('note-count').textContent",
    "operator": text_of("#op-height") + " + '/' + " + text_of("#op-health"),
}


def heap(b):
    b.send("HeapProfiler.collectGarbage")
    return b.send("Runtime.getHeapUsage")["usedSize"]


def main():
    b = Browser()
    try:
        run(b)
    finally:
        if b.errors:
            print("browser errors:\n  " + "\n  ".join(b.errors[-20:]), file=sys.stderr)
        b.close()


def run(b):
    b.send("HeapProfiler.enable")
    b.navigate(kula("web", "--key", "alice", "--url").strip())
    b.wait(text_of("#member-name") + " === 'alice'", "logged in: the member's name")
    b.wait(text_of("#live") + " === 'live'", "the event stream is connected")
    start = time.time()
    end = start + args.minutes * 60
    last = {}
    visits = {p: 0 for p in PAGES}
    updated = {p: 0 for p in PAGES}
    samples = []
    warm = None
    i = 0
    while time.time() < end:
        page = PAGES[i % len(PAGES)]
        b.js("location.hash = '#%s'" % page)
        b.wait("!document.getElementById('page-%s').hidden" % page, "the %s page shows" % page)
        # the page refreshes on each committed block with transactions: a new
        # state is there within CHECK_S (payments come every 2 s)
        before = last.get(page)
        deadline = time.time() + CHECK_S
        now = b.js(STATE[page])
        while now == before and time.time() < deadline:
            time.sleep(0.5)
            now = b.js(STATE[page])
        visits[page] += 1
        if before is not None:
            if now == before:
                raise Failed("the %s page did not update in %d s (still %r) at %.1f min"
                             % (page, CHECK_S, now, (time.time() - start) / 60))
            updated[page] += 1
        last[page] = now
        if page == "operator" and b.js(text_of("#op-health")) != "ok":
            raise Failed("the node's health shows %r" % b.js(text_of("#op-health")))
        if b.js("document.getElementById('relogin').hidden") is not True:
            raise Failed("the session ended at %.1f min: %s" % ((time.time() - start) / 60,
                         b.js(text_of("#error"))))
        if b.errors:
            raise Failed("a JavaScript error or failed request: %s" % b.errors[0])
        i += 1
        if i % len(PAGES) == 0:
            used = heap(b)
            samples.append(used)
            if warm is None:
                warm = used
            slack = max(2 * MIB, warm // 2)
            if used > warm + slack:
                raise Failed("the JS heap grew from %.2f MiB to %.2f MiB (bound %.2f MiB)"
                             % (warm / MIB, used / MIB, (warm + slack) / MIB))
        time.sleep(max(0.0, deadline - time.time()))  # one page each CHECK_S
    notes = b.js("document.querySelectorAll('#notes li').length")
    print("soak: %.1f min, %d page visits, every revisit updated: %s" %
          ((time.time() - start) / 60, sum(visits.values()),
           ", ".join("%s %d/%d" % (p, updated[p], max(visits[p] - 1, 0)) for p in PAGES)))
    print("soak: JS heap after GC: warm %.2f MiB, max %.2f MiB, last %.2f MiB (%d samples); "
          "notifications shown %d (kept <= 200), JS errors 0"
          % (warm / MIB, max(samples) / MIB, samples[-1] / MIB, len(samples), notes))
    if notes > 200:
        raise Failed("%d notifications kept: the page keeps at most 200" % notes)

    # ---- the session ends: the page says so and logs in again ----
    b.js("fetch('/web/session', {credentials: 'same-origin'}).then(r => r.json()).then(s => "
         "fetch('/web/logout', {method: 'POST', credentials: 'same-origin', headers: "
         "{'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf}, body: '{}'}))"
         ".then(r => r.status)")
    b.wait("!document.getElementById('relogin').hidden", "the page offers to log in again",
           timeout=30)
    msg = b.js(text_of("#error"))
    assert "your session ended" in msg and "kula web" in msg, msg
    assert b.js(text_of("#live")) == "logged out"
    b.js("document.getElementById('relogin-url').value = 'http://evil.example/login#' + "
         "'0'.repeat(64); document.getElementById('relogin-button').click()")
    b.wait(text_of("#relogin-result") + ".indexOf('not a login address of this node') >= 0",
           "another site's address refused")
    url = kula("web", "--key", "alice", "--url").strip()
    b.js("document.getElementById('relogin-url').value = %r; "
         "document.getElementById('relogin-button').click()" % url)
    b.wait("location.pathname === '/' && document.getElementById('relogin').hidden && " +
           text_of("#member-name") + " === 'alice'", "logged in again", timeout=30)
    b.wait(text_of("#live") + " === 'live'", "the event stream again")
    print("soak: the session's end shown in words (%r...), logged in again" % msg[:60])
    b.errors = [e for e in b.errors if "/web/" not in e and "/events" not in e]
    if b.errors:
        raise Failed("a JavaScript error: %s" % b.errors[0])


try:
    main()
except (Failed, AssertionError) as e:
    print("soak: FAIL: %s" % (e,), file=sys.stderr)
    sys.exit(1)
print("soak: passed")
