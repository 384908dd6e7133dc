#!/usr/bin/python3
"""nonce_race_proxy.py -- a JSON-RPC proxy that lets another payment take a nonce first.

    nonce_race_proxy.py PORTFILE UPSTREAM SECONDS -- COMMAND...

Listens on a free port of 127.0.0.1 (written to PORTFILE once it listens)
and forwards every request to UPSTREAM (the node's API, a loopback
http:// URL) as it came, headers and body.  Before forwarding the first
request that calls "submit", it runs COMMAND to its end: another terminal's
payment of the same key, sent to the node directly, that waits for its
block.  So the proxied client's transaction reaches the node after
another transaction has taken its nonce and committed.  Prints one line per
submit forwarded ("submit N: accepted" or "submit N: refused: MESSAGE")
and "spoiler exit CODE" for COMMAND, and stops after SECONDS.
"""
import http.server
import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request


def calls_submit(body):
    try:
        req = json.loads(body)
    except ValueError:
        return False
    reqs = req if isinstance(req, list) else [req]
    return any(isinstance(r, dict) and r.get("method") == "submit" for r in reqs)


def outcome(body):
    try:
        resp = json.loads(body)
    except ValueError:
        return "no JSON answer"
    resps = resp if isinstance(resp, list) else [resp]
    for r in resps:
        if isinstance(r, dict) and "error" in r:
            return "refused: %s" % r["error"].get("message", "?")
    return "accepted"


def main():
    if len(sys.argv) < 6 or sys.argv[4] != "--":
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    portfile, upstream, seconds, command = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[5:]
    host = urllib.parse.urlsplit(upstream).hostname
    if host is None or not host.startswith("127.") or not 0 < seconds <= 600:
        print("nonce_race_proxy: a loopback upstream, for at most 600 s", file=sys.stderr)
        return 2
    state = {"spoiled": False, "submits": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            submit = calls_submit(body)
            if submit and not state["spoiled"]:
                state["spoiled"] = True
                try:
                    code = subprocess.run(command, timeout=120).returncode
                except subprocess.TimeoutExpired:
                    code = "timeout"
                print("spoiler exit %s" % code, flush=True)
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() in ("authorization", "content-type")}
            req = urllib.request.Request(upstream + self.path.lstrip("/"), data=body,
                                         headers=headers, method="POST")
            try:
                with urllib.request.urlopen(req, timeout=60) as r:
                    status, answer = r.status, r.read()
            except urllib.error.HTTPError as e:
                status, answer = e.code, e.read()
            if submit:
                state["submits"] += 1
                print("submit %d: %s" % (state["submits"], outcome(answer)), flush=True)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, fmt, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.rename(portfile + ".tmp", portfile)
    threading.Timer(seconds, server.shutdown).start()
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
