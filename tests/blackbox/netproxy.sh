#!/usr/bin/env bash
# netproxy.sh -- kula-netproxy, the testnet's latency proxy, on its own, on
# loopback: with --delay 100 --jitter 20 every round trip through it takes
# 160 to 240 ms (plus what a loaded machine adds), bytes keep their order
# under jitter, a receiver that stops reading makes it stop reading too (at
# most --buffer-kib held), --loss stalls chunks, --reset-every resets
# connections, bad options are named, and SIGTERM prints the totals.
#
# Usage: bash netproxy.sh PATH/kulad PATH/kula  (kula-netproxy is beside kulad)
set -euo pipefail

KULAD=${1:?usage: netproxy.sh PATH/kulad PATH/kula}
PROXY=$(dirname "$KULAD")/kula-netproxy
BB_NAME=netproxy
source "$(dirname "$0")/testnet_test.bash" # TMP, BASE (free ports), fail, pass
[[ -x $PROXY ]] || fail "no kula-netproxy beside $KULAD"
LISTEN=$BASE ECHO=$((BASE + 1))

# start_proxy ARGS...: starts the proxy on LISTEN -> ECHO, log in TMP/proxy.log
start_proxy() {
    "$PROXY" --listen "127.0.0.1:$LISTEN" --to "127.0.0.1:$ECHO" "$@" 2>"$TMP/proxy.log" &
    PROXY_PID=$!
    BB_PIDS+=("$PROXY_PID")
    for _ in $(seq 1 100); do
        grep -q relaying "$TMP/proxy.log" && return 0
        sleep 0.1
    done
    cat "$TMP/proxy.log" >&2
    fail "kula-netproxy $* did not start within 10 s"
}
# stop_proxy: SIGTERM; its totals line in TOTALS
stop_proxy() {
    kill -TERM "$PROXY_PID"
    wait "$PROXY_PID" || fail "kula-netproxy exited $? on SIGTERM"
    BB_PIDS=()
    TOTALS=$(grep "SIGTERM:" "$TMP/proxy.log") || fail "no totals on SIGTERM: $(cat "$TMP/proxy.log")"
}

# the client and an echo server (MODE echo: sends back what it reads;
# MODE sink: never reads) in one Python process
cat >"$TMP/peer.py" <<'EOF'
import socket, sys, threading, time
mode, listen, echo_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", echo_port))
srv.listen()
def serve():
    while True:
        c, _ = srv.accept()
        def echo(c):
            try:
                while mode != "sink":
                    d = c.recv(65536)
                    if not d:
                        break
                    c.sendall(d)
                time.sleep(3600)
            except OSError:
                pass
        threading.Thread(target=echo, args=(c,), daemon=True).start()
threading.Thread(target=serve, daemon=True).start()
s = socket.create_connection(("127.0.0.1", listen), timeout=30)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
if mode == "rtt":
    rtts = []
    for i in range(20):
        t = time.monotonic()
        s.sendall(b"ping %03d" % i)
        got = b""
        while len(got) < 8:
            got += s.recv(100)
        rtts.append((time.monotonic() - t) * 1000)
        assert got == b"ping %03d" % i, got
    print("%.0f %.0f %.0f" % (min(rtts), sum(rtts) / len(rtts), max(rtts)))
elif mode == "order":
    # numbered lines, so that no two pieces are alike: 5 MiB sent in 1 KiB pieces
    data = b"".join(b"%09d\n" % i for i in range(5 * 1024 * 1024 // 10))
    got = bytearray()
    def read():
        while len(got) < len(data):
            d = s.recv(1 << 20)
            if not d:
                break
            got.extend(d)
    r = threading.Thread(target=read)
    r.start()
    for i in range(0, len(data), 1024):
        s.sendall(data[i:i + 1024])
    r.join()
    print("in order" if bytes(got) == data else "out of order: %d bytes" % len(got))
elif mode == "sink":
    s.setblocking(False)
    sent, t = 0, time.monotonic()
    while time.monotonic() - t < 3:  # the proxy must stop taking bytes
        try:
            sent += s.send(b"x" * 65536)
        except BlockingIOError:
            time.sleep(0.05)
    print(sent)
elif mode == "reset":
    t = time.monotonic()
    try:
        while time.monotonic() - t < 20:
            s.sendall(b"x")
            s.recv(10)
        print("no reset")
    except (ConnectionResetError, BrokenPipeError):
        print("reset after %.1f s" % (time.monotonic() - t))
EOF
peer() { timeout 90 /usr/bin/python3 "$TMP/peer.py" "$1" "$LISTEN" "$ECHO"; }

# ---- 1. options ----
out=$("$PROXY" --help) || fail "--help exited $?"
grep -q -- "--delay MS" <<<"$out" || fail "--help does not describe --delay"
rc=0; out=$("$PROXY" --listen 127.0.0.1:1 --to 127.0.0.1:2 --loss 101 2>&1) || rc=$?
((rc == 2)) && grep -q -- "--loss: expected a whole number from 0 to 100, got '101'" <<<"$out" ||
    fail "--loss 101: exit $rc, '$out'"
rc=0; out=$("$PROXY" --listen 127.0.0.1:1 --to 127.0.0.1:2 --delay 10 --jitter 20 2>&1) || rc=$?
((rc == 2)) && grep -q "lower --jitter" <<<"$out" || fail "--jitter above --delay: exit $rc, '$out'"
rc=0; out=$("$PROXY" --listen nowhere --to 127.0.0.1:2 2>&1) || rc=$?
((rc == 2)) && grep -q -- "--listen: expected HOST:PORT" <<<"$out" || fail "--listen nowhere: exit $rc, '$out'"
rc=0; out=$("$PROXY" --to 127.0.0.1:2 2>&1) || rc=$?
((rc == 2)) && grep -q "give both --listen and --to" <<<"$out" || fail "no --listen: exit $rc, '$out'"
pass "--help, and bad options named with exit status 2"

# ---- 2. delay and jitter ----
start_proxy --delay 100 --jitter 20
read -r lo mean hi < <(peer rtt) || fail "the round trips through the proxy failed"
((lo >= 155)) || fail "a round trip took $lo ms: below 2 x (100 - 20) ms"
((mean <= 400)) || fail "round trips took $mean ms on average: far above 2 x 100 ms"
pass "round trips with --delay 100 --jitter 20: $lo / $mean / $hi ms (least / mean / most)"

# ---- 3. order kept under jitter ----
out=$(peer order) || fail "streaming 5 MiB through the proxy failed"
[[ $out == "in order" ]] || fail "5 MiB through the proxy: $out"
stop_proxy
pass "5 MiB in 1 KiB writes through --jitter 20 arrive in order; totals: ${TOTALS#*SIGTERM: }"

# ---- 4. bounded memory ----
start_proxy --buffer-kib 64
sent=$(peer sink) || fail "the non-reading peer failed"
stop_proxy
held=$(sed -n 's/.*at most \([0-9]*\) bytes held.*/\1/p' <<<"$TOTALS")
((held <= 64 * 1024 + 65536)) || fail "the proxy held $held bytes for a receiver that does not read (--buffer-kib 64)"
((sent < 64 * 1024 * 1024)) || fail "the sender could send $sent bytes to a receiver that does not read"
pass "a receiver that does not read: the proxy holds at most $held bytes (--buffer-kib 64 + one read), the sender stops after $sent"

# ---- 5. loss as stalls, and resets ----
start_proxy --delay 10 --loss 50 --stall-ms 150
read -r lo mean hi < <(peer rtt) || fail "round trips with --loss 50 failed"
stop_proxy
stalls=$(sed -n 's/.* \([0-9]*\) stalls.*/\1/p' <<<"$TOTALS")
((stalls > 0 && hi >= 150)) || fail "--loss 50: $stalls stalls, longest round trip $hi ms"
start_proxy --reset-every 2
out=$(peer reset) || fail "the peer failed"
[[ $out == reset* ]] || fail "--reset-every 2: $out within 20 s"
stop_proxy
pass "--loss 50 stalls chunks ($stalls stalls, longest round trip $hi ms); --reset-every 2: $out"

echo "$BB_NAME: $passed passed, 0 failed"
