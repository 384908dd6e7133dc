# tnlib.py -- Python functions shared by testnet/crashloop and testnet/soak
# (imported, not run): a node's API and metrics, its process, and the load.
# Standard library only; see testnet/README.md.
import http.client
import json
import os
import signal
import subprocess
import time


class Testnet:
    """The testnet of a run directory written by testnet/up (testnet.env)."""

    def __init__(self, run_dir, root):
        self.run, self.root = run_dir, root
        env = {}
        with open(os.path.join(run_dir, "testnet.env")) as f:
            for line in f:
                if "=" in line and not line.startswith("#"):
                    k, v = line.rstrip("\n").split("=", 1)
                    env[k] = v.strip("'\"")
        self.n, self.base = int(env["N"]), int(env["BASE"])
        self.load = None

    def node_dir(self, k):
        return os.path.join(self.run, "node%d" % k)

    def rpc_port(self, k):
        return self.base + 2 * k + 1

    def health(self, k, timeout=2.0):
        """Node k's height from GET /health, or None when it does not answer."""
        try:
            c = http.client.HTTPConnection("127.0.0.1", self.rpc_port(k), timeout=timeout)
            c.request("GET", "/health")
            body = c.getresponse().read()
            c.close()
            return json.loads(body)["height"]
        except (OSError, ValueError, KeyError, http.client.HTTPException):
            return None

    def metrics(self, k, timeout=2.0):
        """Node k's GET /metrics as {name: value} (labelled lines left out),
        or None when it does not answer."""
        try:
            c = http.client.HTTPConnection("127.0.0.1", self.rpc_port(k), timeout=timeout)
            c.request("GET", "/metrics")
            text = c.getresponse().read().decode()
            c.close()
        except (OSError, UnicodeDecodeError, http.client.HTTPException):
            return None
        out = {}
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 2 and not line.startswith("#") and "{" not in parts[0]:
                try:
                    out[parts[0]] = float(parts[1])
                except ValueError:
                    pass
        return out

    def token(self, k):
        with open(os.path.join(self.node_dir(k), "rpc.cookie")) as f:
            for line in f:
                if line.startswith("token="):
                    return line.strip()[6:]
        raise OSError("no token in node%d's rpc.cookie" % k)

    def post(self, k, body, timeout=30):
        """One JSON-RPC request or batch to node k; raises OSError."""
        c = http.client.HTTPConnection("127.0.0.1", self.rpc_port(k), timeout=timeout)
        try:
            c.request("POST", "/", body=json.dumps(body),
                      headers={"Authorization": "Bearer " + self.token(k),
                               "Content-Type": "application/json"})
            r = c.getresponse()
            data = r.read()
        except http.client.HTTPException as e:
            raise OSError(str(e))
        finally:
            c.close()
        if r.status != 200:
            raise OSError("HTTP %d from node%d" % (r.status, k))
        return json.loads(data)

    def rpc(self, k, method, params=None, timeout=30):
        resp = self.post(k, {"jsonrpc": "2.0", "id": 1, "method": method,
                             "params": params or {}}, timeout)
        if "error" in resp:
            raise OSError("%s: %s" % (method, resp["error"].get("message")))
        return resp["result"]

    def missing(self, k, ids):
        """The ids of ids that node k does not hold as committed."""
        out = []
        for i in range(0, len(ids), 100):
            chunk = ids[i:i + 100]
            resp = self.post(k, [{"jsonrpc": "2.0", "id": j, "method": "tx", "params": {"id": x}}
                                 for j, x in enumerate(chunk)], timeout=120)
            by = {r.get("id"): r for r in resp}
            out += [x for j, x in enumerate(chunk)
                    if by.get(j, {}).get("result", {}).get("status") != "committed"]
        return out

    def committed_ids(self):
        """The ids of RUN/committed.txt (written by testnet/load), in order."""
        path = os.path.join(self.run, "committed.txt")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return list(dict.fromkeys(l.strip() for l in f if l.strip() and not l.startswith("#")))

    def node_pid(self, k):
        """Node k's pid from its pid file, when that process runs."""
        try:
            with open(os.path.join(self.node_dir(k), "kulad.pid")) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return None
        return pid if alive(pid) else None

    def log_tail(self, k, lines=8):
        try:
            with open(os.path.join(self.node_dir(k), "kulad.log"), "rb") as f:
                return b"".join(f.readlines()[-lines:]).decode(errors="replace")
        except OSError:
            return ""

    def start_load(self, rate, seed, log_name, seconds=86400):
        """testnet/load at rate tx/s in its own session (its output in
        RUN/log_name); waits (120 s at most) until node 1 counts committed
        transactions.  Returns None, or why the load did not start."""
        out = open(os.path.join(self.run, log_name), "w")
        self.load = subprocess.Popen(
            [os.path.join(self.root, "testnet", "load"), "--seconds", str(seconds), "--rate",
             str(rate), "--seed", str(seed), "-q"], stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
        out.close()
        deadline = time.monotonic() + 120
        while True:
            m = self.metrics(1) or {}
            if m.get("kula_committed_transactions_total", 0) > 0:
                return None
            if self.load.poll() is not None or time.monotonic() > deadline:
                self.stop_load()
                return "the load committed nothing within 120 s (see %s/%s)" % (self.run, log_name)
            time.sleep(0.1)

    def stop_load(self):
        """SIGINT to the load (it writes committed.txt and its report)."""
        if self.load is not None and self.load.poll() is None:
            os.killpg(self.load.pid, signal.SIGINT)
            try:
                self.load.wait(90)
            except subprocess.TimeoutExpired:
                os.killpg(self.load.pid, signal.SIGKILL)
                self.load.wait()


def alive(pid):
    """pid is a live process (not a zombie)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def median(xs):
    s = sorted(xs)
    if not s:
        return 0
    m = len(s) // 2
    return s[m] if len(s) % 2 else (s[m - 1] + s[m]) / 2
