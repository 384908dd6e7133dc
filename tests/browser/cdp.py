"""cdp.py -- a small driver of headless Chromium through the DevTools
protocol (Debian's chromium and python3-websocket, nothing else), for the
browser tests of the web wallet.

Chromium is started on a fresh profile with its DevTools endpoint on a free
loopback port (it writes the port to DevToolsActivePort); the driver talks
to one page over a WebSocket.  Every wait is on a condition in the page,
polled until a deadline: nothing here sleeps for a fixed time and hopes.
"""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket


class Failed(Exception):
    pass


class Browser:
    def __init__(self, timeout=60):
        self.profile = tempfile.mkdtemp(prefix="kula-chromium.")
        args = ["chromium", "--headless=new", "--disable-gpu", "--no-first-run",
                "--no-default-browser-check", "--disable-extensions", "--disable-sync",
                "--disable-background-networking", "--disable-component-update",
                "--disable-default-apps", "--password-store=basic", "--mute-audio",
                "--window-size=1200,900", "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0", "--user-data-dir=" + self.profile]
        if os.geteuid() == 0:
            args.append("--no-sandbox")  # Chromium refuses root with its sandbox
        args.append("about:blank")
        self.log = open(os.path.join(self.profile, "chromium.log"), "w")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.time() + timeout
        port = None
        while time.time() < deadline and port is None:
            if self.proc.poll() is not None:
                raise Failed("chromium exited at start (%s)" % self.proc.returncode)
            try:
                port = int(open(port_file).read().split()[0])
            except (OSError, ValueError, IndexError):
                time.sleep(0.05)
        if port is None:
            raise Failed("chromium opened no DevTools port within %d s" % timeout)
        page = None
        while time.time() < deadline and page is None:
            try:
                targets = json.load(urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port))
                page = next((t for t in targets if t.get("type") == "page"), None)
            except OSError:
                pass
            if page is None:
                time.sleep(0.05)
        if page is None:
            raise Failed("chromium has no page within %d s" % timeout)
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=timeout,
                                              suppress_origin=True)
        self.next_id = 0
        self.events = []
        self.dialogs = []
        self.console = []
        self.errors = []  # uncaught exceptions and console/log errors
        self.send("Page.enable")
        self.send("Runtime.enable")
        self.send("Log.enable")

    def close(self):
        try:
            self.ws.close()
        except Exception:
            pass
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    def _note(self, msg):
        method = msg.get("method")
        if method == "Page.javascriptDialogOpening":
            self.dialogs.append(msg["params"].get("message"))
            # close it, so that the page goes on and the test can say so
            self.ws.send(json.dumps({"id": 10 ** 9 + len(self.dialogs),
                                     "method": "Page.handleJavaScriptDialog",
                                     "params": {"accept": False}}))
        elif method == "Runtime.consoleAPICalled" or method == "Log.entryAdded":
            self.console.append(json.dumps(msg["params"])[:400])
            level = msg["params"].get("type") or msg["params"].get("entry", {}).get("level")
            if level == "error":
                self.errors.append(json.dumps(msg["params"])[:400])
        elif method == "Runtime.exceptionThrown":
            self.errors.append(json.dumps(msg["params"])[:400])
        elif method is not None:
            self.events.append(method)

    def send(self, method, **params):
        self.next_id += 1
        mine = self.next_id
        self.ws.send(json.dumps({"id": mine, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == mine:
                if "error" in msg:
                    raise Failed("%s: %s" % (method, msg["error"].get("message")))
                return msg.get("result", {})
            self._note(msg)

    def js(self, expr):
        """The value of a JavaScript expression in the page (JSON-able)."""
        r = self.send("Runtime.evaluate", expression=expr, returnByValue=True,
                      awaitPromise=True)
        if "exceptionDetails" in r:
            raise Failed("script failed: %s: %s" % (expr[:120],
                         r["exceptionDetails"].get("exception", {}).get("description")))
        return r.get("result", {}).get("value")

    def wait(self, expr, what, timeout=30):
        """Waits until expr is truthy in the page; fails naming `what`."""
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            try:
                last = self.js(expr)
            except Failed as e:
                last = str(e)
            if last:
                return last
            time.sleep(0.1)
        raise Failed("%s: not within %d s (last: %r)" % (what, timeout, last))

    def navigate(self, url):
        self.send("Page.navigate", url=url)

    def allow_downloads(self, folder):
        """Files the page downloads go to folder, under the names the
        server gives them (Content-Disposition)."""
        try:
            self.send("Browser.setDownloadBehavior", behavior="allow", downloadPath=folder)
        except Failed:
            self.send("Page.setDownloadBehavior", behavior="allow", downloadPath=folder)

    def screenshot(self, path):
        data = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        with open(path, "wb") as f:
            f.write(base64.b64decode(data["data"]))
        return path


def drive(steps, *args):
    """Runs steps(browser, *args) in a fresh headless Chromium; prints the
    page's last console lines to stderr when it logged any, and closes it."""
    b = Browser()
    try:
        steps(b, *args)
    finally:
        if b.console:
            print("browser console:\n  " + "\n  ".join(b.console[-20:]), file=sys.stderr)
        b.close()
