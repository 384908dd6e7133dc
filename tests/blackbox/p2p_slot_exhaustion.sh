#!/usr/bin/env bash
# p2p_slot_exhaustion.sh -- unauthenticated connections cannot keep a member
# out: a bounded attacker on 127.0.0.2 (no key needed) holds 60 TCP
# connections to a validator's peer port that never finish the handshake,
# reopening each as it closes (at most 200 a second, for at most 40 s),
# while a member's node is started and stopped 4 times.  Every time, the
# validator admits the member within 15 s, although its --max-inbound is 4:
# handshakes have their own pool (16 at once, 4 per address, 5 s each;
# net.h) and never take an authenticated peer's slot.  The attacker sees at
# most 4 of its connections held at once, the others closed at once, and
# the held ones closed at the handshake deadline; the validator logs it.
#
# Usage: bash p2p_slot_exhaustion.sh PATH/kulad PATH/kula
set -euo pipefail

KULAD=${1:?usage: p2p_slot_exhaustion.sh PATH/kulad PATH/kula}
KULA=${2:?usage: p2p_slot_exhaustion.sh PATH/kulad PATH/kula}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/kula-slots.XXXXXX")
export KULA_PASSPHRASE=slots-test
declare -A PID
ATTACKER=""
passed=0

cleanup() {
    local n
    [[ -n $ATTACKER ]] && kill -KILL "$ATTACKER" 2>/dev/null
    for n in "${!PID[@]}"; do kill -KILL "${PID[$n]}" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap "exit 143" TERM
trap "exit 130" INT

fail() {
    echo "p2p_slot_exhaustion: FAIL: $*" >&2
    for log in "$TMP"/*.log "$TMP"/attack.out; do
        [[ -f "$log" ]] || continue
        echo "---- $log (last 25 lines)" >&2
        tail -n 25 "$log" >&2
    done
    echo "p2p_slot_exhaustion: $passed passed, 1 failed"
    exit 1
}
pass() { passed=$((passed + 1)); echo "ok $passed - $*"; }
now() { echo "${EPOCHREALTIME/,/.}"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for try in $(seq 1 20); do
    BASE=$((20000 + RANDOM % 12000)) # below the ephemeral range (32768-)
    BASE=$((BASE - BASE % 16))
    busy=0
    for i in 0 1 2 3; do port_busy $((BASE + i)) && busy=1; done
    [[ $busy == 0 ]] && break
done
P_A=$BASE
P_B=$((BASE + 2))

"$KULA" genesis new --network slots-test --out "$TMP/net" --member A --member B \
    --block-interval-ms 200 --kdf-opslimit 1 --kdf-memlimit-mib 8 >/dev/null ||
    fail "kula genesis new"
G=$TMP/net/GENESIS.json

start() { # start NAME PORT [ARGS...]: as p2p_network.sh
    local name=$1 port=$2 i
    shift 2
    rm -f "$TMP/$name/rpc.cookie"
    "$KULAD" --datadir "$TMP/$name" --genesis "$G" --listen "127.0.0.1:$port" \
        --rpc "127.0.0.1:$((port + 1))" -v "$@" >>"$TMP/$name.log" 2>&1 &
    PID[$name]=$!
    for ((i = 0; i < 200; i++)); do
        [[ -f "$TMP/$name/rpc.cookie" ]] && return 0
        kill -0 "${PID[$name]}" 2>/dev/null || fail "kulad $name exited at start"
        sleep 0.1
    done
    fail "kulad $name wrote no cookie in 20 s"
}
stop() {
    local name=$1 i code=0
    kill -TERM "${PID[$name]}"
    for ((i = 0; i < 150; i++)); do
        kill -0 "${PID[$name]}" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "${PID[$name]}" 2>/dev/null && fail "kulad $name did not stop in 15 s"
    wait "${PID[$name]}" || code=$?
    unset "PID[$name]"
    [[ $code == 0 ]] || fail "kulad $name exited $code after SIGTERM"
}
q() { local name=$1; shift; timeout 20 "$KULA" --datadir "$TMP/$name" "$@"; }
jfield() { /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
# peers_where NAME PYTHON-CONDITION-ON-p: how many of NAME's connections match
peers_where() {
    q "$1" peers --json 2>/dev/null |
        /usr/bin/python3 -c "import json,sys; print(sum(1 for p in json.load(sys.stdin) if $2))" \
            2>/dev/null || echo -1
}

# ---- the validator: 4 inbound slots, it dials nobody ----
start a "$P_A" --key "$TMP/net/keys/A.key" --max-inbound 4 --max-outbound 0
BKEY=$(q a member B --json | jfield '["pubkey"]') || fail "kula member B"
[[ ${#BKEY} == 64 ]] || fail "no key for member B"
pass "validator a listens on 127.0.0.1:$P_A with --max-inbound 4"

# ---- the attacker: 60 connections from 127.0.0.2, reopened as they close ----
cat >"$TMP/attack.py" <<'PYEOF'
import json, selectors, signal, socket, sys, time

host, port, n, secs, src = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
RATE = 200        # connections opened per second, at most
HELD = 2.0        # a connection open this long is one the node holds
stop = False

def on_term(*_):
    global stop
    stop = True

signal.signal(signal.SIGTERM, on_term)
sel = selectors.DefaultSelector()
opened = {}       # socket -> when it was opened
st = dict(connects=0, closed_at_once=0, closed_at_deadline=0, closed_other=0, max_held=0,
          longest=0.0)
recent = []       # times of the last connects (rate limit)
t_end = time.monotonic() + secs
said = 0.0
while not stop and time.monotonic() < t_end:
    now = time.monotonic()
    recent = [t for t in recent if now - t < 1.0]
    while len(opened) < n and len(recent) < RATE:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((src, 0))
        s.setblocking(False)
        try:
            s.connect((host, port))
        except BlockingIOError:
            pass
        except OSError:
            s.close()
            break
        opened[s] = now
        recent.append(now)
        sel.register(s, selectors.EVENT_READ)
        st["connects"] += 1
    for key, _ in sel.select(timeout=0.02):
        s = key.fileobj
        try:
            data = s.recv(4096)   # the node's HELLO, never answered
        except OSError:
            data = b""
        if data:
            continue
        life = time.monotonic() - opened.pop(s)
        sel.unregister(s)
        s.close()
        st["longest"] = max(st["longest"], life)
        if life < 1.0:
            st["closed_at_once"] += 1
        elif 4.0 <= life <= 8.0:
            st["closed_at_deadline"] += 1
        else:
            st["closed_other"] += 1
    now = time.monotonic()
    st["max_held"] = max(st["max_held"], sum(1 for t in opened.values() if now - t > HELD))
    if now - said >= 0.5:  # progress, for the test to wait on
        said = now
        print(json.dumps(st), flush=True)
for s in opened:
    s.close()
st["longest"] = round(st["longest"], 2)
print(json.dumps(st), flush=True)
PYEOF
/usr/bin/python3 "$TMP/attack.py" 127.0.0.1 "$P_A" 60 40 127.0.0.2 >"$TMP/attack.out" 2>&1 &
ATTACKER=$!
for ((i = 0; i < 100; i++)); do
    grep -q "handshake pool:" "$TMP/a.log" && break
    kill -0 "$ATTACKER" 2>/dev/null || fail "the attacker exited"
    sleep 0.1
done
grep -q "handshake pool:" "$TMP/a.log" || fail "a does not log the connections it closed at once"
pass "the attacker holds 60 connections from 127.0.0.2; a closes those over the pool's limits at once"

# the attacker's latest counts (it prints them twice a second)
attack() { tail -n 1 "$TMP/attack.out" | jfield "[\"$1\"]" 2>/dev/null || echo 0; }

# ---- the member's node connects, 4 times, while the attack goes on ----
# Attempt k starts once the node has closed k - 1 rounds of the attacker's
# held handshakes at their deadline (5 s each): the attempts span the attack.
for attempt in 1 2 3 4; do
    for ((i = 0; i < 150; i++)); do
        (($(attack closed_at_deadline) >= 4 * (attempt - 1))) && break
        kill -0 "$ATTACKER" 2>/dev/null || fail "the attacker ended before attempt $attempt"
        sleep 0.1
    done
    (($(attack closed_at_deadline) >= 4 * (attempt - 1))) ||
        fail "a did not close the held handshakes at their deadline: $(tail -n 1 "$TMP/attack.out")"
    t0=$(now)
    start b "$P_B" --key "$TMP/net/keys/B.key" --peer "127.0.0.1:$P_A"
    admitted=0
    for ((i = 0; i < 150; i++)); do
        kill -0 "$ATTACKER" 2>/dev/null || fail "the attacker ended before attempt $attempt"
        if [[ $(peers_where a "p['established'] and p['key'] == '$BKEY'") == 1 ]]; then
            admitted=1
            break
        fi
        sleep 0.1
    done
    ((admitted)) || fail "attempt $attempt: a did not admit member B within 15 s under the attack"
    held=$(peers_where a "not p['established'] and p['addr'].startswith('127.0.0.2:')")
    ((held >= 0 && held <= 4)) || fail "a holds $held handshakes from 127.0.0.2 (at most 4)"
    pass "attempt $attempt: member B admitted in $(since "$t0") s ($held handshakes of 127.0.0.2 held)"
    stop b
done

kill -TERM "$ATTACKER"
timeout 20 tail --pid="$ATTACKER" -f /dev/null || true
wait "$ATTACKER" || fail "the attacker failed: $(cat "$TMP/attack.out")"
ATTACKER=""
STATS=$(tail -n 1 "$TMP/attack.out")
s() { echo "$STATS" | jfield "[\"$1\"]"; }
(($(s connects) >= 60)) || fail "the attacker made only $(s connects) connections: $STATS"
(($(s max_held) <= 4)) || fail "a held more than 4 of the attacker's connections at once: $STATS"
(($(s closed_at_once) >= 1)) || fail "no connection over the limit was closed at once: $STATS"
(($(s closed_at_deadline) >= 1)) || fail "no held handshake was closed at the deadline: $STATS"
(($(s closed_other) == 0)) || fail "a held handshake outlived the deadline: $STATS"
pass "the attacker: $STATS"

kill -0 "${PID[a]}" 2>/dev/null || fail "a died"
stop a
pass "a stops cleanly"
echo "p2p_slot_exhaustion: $passed passed, 0 failed"
