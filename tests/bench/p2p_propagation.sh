#!/usr/bin/env bash
# p2p_propagation.sh -- benchmark of issue 5: how long a transaction takes to
# reach every node of an 8-node network on loopback.
#
# Eight real kulad processes, each run by a member of a fresh network (node 1
# is its only validator, blocks every 100 ms).  Node k dials node k-1 and one
# earlier node chosen by a fixed seed, and no other (--max-outbound 2), so
# the graph stays sparse and a transaction crosses several hops.  For each sample a payment is signed
# offline (kula pay --out), submitted to a node picked by the seed, and every
# node's API is polled (tx method, about every 0.5 ms per node, in parallel)
# until it reports the transaction pending or committed.  Reported: the time
# from submission until the last of the 8 nodes has it (p50, p90, p99, max),
# and the mean time to the first and the fourth node.
#
# Usage: tests/bench/p2p_propagation.sh [BUILD_DIR] [SAMPLES]
#   BUILD_DIR  a release build (default: build); SAMPLES default 200.
#   KULA_BENCH_PORT=P uses ports P..P+17 (default: a free random base).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build}
SAMPLES=${2:-200}
KULAD=$BUILD/kulad
KULA=$BUILD/kula
[[ -x $KULAD && -x $KULA ]] || { echo "no kulad/kula in $BUILD (build first)" >&2; exit 2; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/kula-prop.XXXXXX")
export KULA_PASSPHRASE=bench-passphrase
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    sleep 1
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for try in $(seq 1 20); do
    BASE=${KULA_BENCH_PORT:-$((20000 + RANDOM % 12000))}
    busy=0
    for i in $(seq 0 17); do port_busy $((BASE + i)) && busy=1; done
    [[ $busy == 0 ]] && break
done

members=()
for k in 1 2 3 4 5 6 7 8; do members+=(--member "n$k:general:$([[ $k == 1 ]] && echo 1 || echo 0)"); done
"$KULA" genesis new --network prop-bench --out "$TMP/net" "${members[@]}" \
    --block-interval-ms 100 --kdf-opslimit 1 --kdf-memlimit-mib 8 >/dev/null

RANDOM=42
for k in 1 2 3 4 5 6 7 8; do
    port=$((BASE + 2 * k))
    peers=()
    if ((k > 1)); then
        peers+=(--peer "127.0.0.1:$((BASE + 2 * (k - 1)))")
        j=$((1 + RANDOM % (k - 1)))
        ((j != k - 1)) && peers+=(--peer "127.0.0.1:$((BASE + 2 * j))")
    fi
    "$KULAD" --datadir "$TMP/n$k" --genesis "$TMP/net/GENESIS.json" \
        --key "$TMP/net/keys/n$k.key" --listen "127.0.0.1:$port" --rpc "127.0.0.1:$((port + 1))" \
        --max-outbound 2 "${peers[@]}" >"$TMP/n$k.log" 2>&1 &
    PIDS+=($!)
    disown $!
done
mkdir -p "$TMP/wallet"
cp "$TMP/net/keys/n2.key" "$TMP/wallet/"
for k in 1 2 3 4 5 6 7 8; do
    for i in $(seq 1 100); do [[ -f $TMP/n$k/rpc.cookie ]] && break; sleep 0.1; done
done
sleep 3 # connections and first blocks

/usr/bin/python3 - "$TMP" "$KULA" "$SAMPLES" <<'EOF'
import json, random, subprocess, sys, threading, time, urllib.request

tmp, kula, samples = sys.argv[1], sys.argv[2], int(sys.argv[3])
nodes = []
for k in range(1, 9):
    c = dict(l.strip().split("=", 1) for l in open(f"{tmp}/n{k}/rpc.cookie") if "=" in l)
    nodes.append((c["url"], c["token"]))

def call(i, method, params):
    url, token = nodes[i]
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    req = urllib.request.Request(url, body, {"Authorization": "Bearer " + token,
                                             "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)

peers = [len([p for p in call(i, "peers", {})["result"] if p["established"]]) for i in range(8)]
print(f"8 nodes, established peers per node: {peers}")
rng = random.Random(7)
to_all, to_first, to_fourth = [], [], []
for s in range(samples):
    out = f"{tmp}/tx.json"
    subprocess.run([kula, "--datadir", f"{tmp}/n2", "--wallet", f"{tmp}/wallet", "pay",
                    "--key", "n2", "--to", "1", "0.01", "--out", out],
                   check=True, stdout=subprocess.DEVNULL)
    tx = json.load(open(out))
    hextx = tx.get("tx") or tx.get("hex")
    if hextx is None:
        sys.exit(f"no tx hex in {out}: {list(tx)}")
    src = rng.randrange(8)
    seen = [None] * 8
    txid = [None]
    start = threading.Event()

    def poll(i):
        start.wait()
        while seen[i] is None:
            try:
                st = call(i, "tx", {"id": txid[0]}).get("result", {}).get("status")
            except Exception:
                st = None
            if st in ("pending", "committed"):
                seen[i] = time.perf_counter()
                return
            time.sleep(0.0005)

    t0 = time.perf_counter()
    r = call(src, "submit", {"tx": hextx})
    if "error" in r:
        sys.exit(f"submit failed: {r['error']}")
    txid[0] = r["result"]["id"]
    seen[src] = time.perf_counter()
    threads = [threading.Thread(target=poll, args=(i,)) for i in range(8) if i != src]
    for t in threads:
        t.start()
    start.set()
    for t in threads:
        t.join(30)
    if any(x is None for x in seen):
        sys.exit(f"sample {s}: the transaction did not reach every node in 30 s")
    d = sorted((x - t0) * 1000 for x in seen)
    to_first.append(d[1])
    to_fourth.append(d[3])
    to_all.append(d[7])
    # its block before the next sample (the nonce goes on)
    for _ in range(300):
        if call(0, "tx", {"id": txid[0]})["result"]["status"] == "committed":
            break
        time.sleep(0.02)

def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]

print(f"samples {len(to_all)}; submit to all 8 nodes: p50 {pct(to_all,50):.2f} ms, "
      f"p90 {pct(to_all,90):.2f} ms, p99 {pct(to_all,99):.2f} ms, max {max(to_all):.2f} ms")
print(f"mean to the first other node {sum(to_first)/len(to_first):.2f} ms, "
      f"to the fourth node {sum(to_fourth)/len(to_fourth):.2f} ms "
      f"(polling resolution ~1 ms; includes the submitting API call)")
EOF
