# single_node.bash -- what the black-box tests of one kulad share: a
# temporary folder with a copy of the development GENESIS.json, running kula
# with a time limit, reading its JSON, starting and stopping the node on free
# loopback ports, and the ok/fail report.  Sourced (not run) after setting
# TEST (the name in the report), KULAD and KULA (absolute paths).
# shellcheck shell=bash
# A script that leaves KULAD unset passes its arguments instead:
#   . single_node.bash "$@"    (PATH/TO/kulad PATH/TO/kula)
if [ -z "${KULAD:-}" ]; then
    if [ $# -ne 2 ]; then
        echo "usage: $0 PATH/TO/kulad PATH/TO/kula" >&2
        exit 2
    fi
    KULAD=$(realpath "$1")
    KULA=$(realpath "$2")
fi
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TMP=$(mktemp -d "/tmp/$TEST.XXXXXX")
D=$TMP/data
cp "$ROOT/GENESIS.json" "$TMP/GENESIS.json"
GENESIS=$TMP/GENESIS.json

KPID=
cleanup() {
    if [ -n "$KPID" ]; then
        kill -KILL "$KPID" 2>/dev/null || true
        wait "$KPID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT

passed=0
# fail MESSAGE [FILE...]: prints why, shows the files, and stops.
fail() {
    local msg=$1
    shift
    echo "$TEST: FAIL: $msg" >&2
    local f
    for f in "$@"; do
        if [ -f "$f" ]; then
            echo "---- $f" >&2
            sed 's/^/    /' "$f" | head -n 60 >&2
        fi
    done
    if [ -f "$TMP/kulad.log" ]; then
        echo "---- kulad.log (last lines)" >&2
        tail -n 15 "$TMP/kulad.log" | sed 's/^/    /' >&2
    fi
    echo "$TEST: $passed passed, 1 failed" >&2
    exit 1
}
ok() {
    passed=$((passed + 1))
    echo "ok $passed - $1"
}


# ---- helpers ----

# k NAME ARGS...: runs 'kula --datadir D ARGS' with a time limit; its output
# goes to NAME.out and NAME.err; sets CODE (never fails).
k() {
    local name=$1
    shift
    CODE=0
    timeout 120 "$KULA" --datadir "$D" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" || CODE=$?
}

# k_ok NAME ARGS...: as k, and stops unless kula exited 0.
k_ok() {
    k "$@"
    [ "$CODE" -eq 0 ] || fail "kula ${*:2} exited $CODE (expected 0)" "$TMP/$1.out" "$TMP/$1.err"
}

# says NAME PATTERN WHAT: NAME.out holds a line matching PATTERN.
says() {
    grep -q -- "$2" "$TMP/$1.out" || fail "$3: no line '$2'" "$TMP/$1.out" "$TMP/$1.err"
}

# jv FILE EXPR: prints the Python expression EXPR over d, the JSON in FILE.
jv() {
    python3 - "$@" <<'EOF' || fail "cannot read '$2' from $1" "$1"
import json, sys
d = json.load(open(sys.argv[1]))
v = eval(sys.argv[2], {"d": d, "sum": sum, "len": len, "all": all})
print(" ".join(str(x) for x in v) if isinstance(v, list) else v)
EOF
}

# committed_height NAME: the N of "committed at height N" in NAME.out.
committed_height() {
    local h
    h=$(sed -n 's/.*committed at height \([0-9][0-9]*\).*/\1/p' "$TMP/$1.out" | head -n 1)
    [ -n "$h" ] || fail "kula printed no 'committed at height N'" "$TMP/$1.out" "$TMP/$1.err"
    echo "$h"
}

running() {
    [ -n "$KPID" ] && kill -0 "$KPID" 2>/dev/null || return 1
    local state
    state=$(awk '{print $3}' "/proc/$KPID/stat" 2>/dev/null || echo X)
    [ "$state" != Z ] && [ "$state" != X ]
}

# height: the node's height, or -1 when it does not answer.
height() {
    local h
    h=$(timeout 10 "$KULA" --datadir "$D" status --json 2>/dev/null |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["height"])' 2>/dev/null) || h=-1
    echo "${h:--1}"
}

# wait_height N SECONDS: waits until the node is at height N or more.
wait_height() {
    local want=$1 tenths=$(($2 * 10))
    while [ "$(height)" -lt "$want" ]; do
        running || return 1
        tenths=$((tenths - 1))
        [ "$tenths" -gt 0 ] || return 1
        sleep 0.1
    done
}

# flip_bytes FILE MARKER: flips the lowest bit of the first byte of every
# copy of MARKER in FILE (a stopped node's data.mdb: LMDB may keep old
# copies of a page; those are harmless); prints how many it flipped.
flip_bytes() {
    python3 - "$1" "$2" <<'PY'
import sys
path, marker = sys.argv[1], sys.argv[2].encode()
data = bytearray(open(path, "rb").read())
n, at = 0, data.find(marker)
while at >= 0:
    data[at] ^= 0x01
    n += 1
    at = data.find(marker, at + 1)
open(path, "wb").write(data)
print(n)
PY
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start_node: starts kulad on free ports; waits (<= 20 s) for its cookie and
# its first block.
start_node() {
    local try
    for try in 1 2 3 4 5 6 7 8; do
        PORT=$((17000 + RANDOM % 20000))
        if port_busy "$PORT" || port_busy $((PORT + 1)); then
            continue
        fi
        "$KULAD" --datadir "$D" --genesis "$GENESIS" --rpc "127.0.0.1:$PORT" \
            --listen "127.0.0.1:$((PORT + 1))" >"$TMP/kulad.out" 2>"$TMP/kulad.log" &
        KPID=$!
        local tenths=200
        while [ ! -f "$D/rpc.cookie" ] && running && [ "$tenths" -gt 0 ]; do
            tenths=$((tenths - 1))
            sleep 0.1
        done
        if running; then
            [ -f "$D/rpc.cookie" ] || fail "kulad wrote no $D/rpc.cookie within 20 s"
            wait_height 1 20 || fail "kulad did not reach height 1 within 20 s"
            return 0
        fi
        wait "$KPID" 2>/dev/null || true
        KPID=
        # Someone took the port between the check and the bind: try another.
        grep -q "in use" "$TMP/kulad.log" || fail "kulad exited at start" "$TMP/kulad.log"
    done
    fail "no free pair of loopback ports after 8 tries"
}

# stop_node: SIGTERM; kulad must exit 0 within 10 s.
stop_node() {
    kill -TERM "$KPID"
    local tenths=100
    while running; do
        tenths=$((tenths - 1))
        [ "$tenths" -gt 0 ] || fail "kulad did not stop within 10 s of SIGTERM"
        sleep 0.1
    done
    local code=0
    wait "$KPID" || code=$?
    KPID=
    [ "$code" -eq 0 ] || fail "kulad exited $code after SIGTERM (expected 0)"
}

cd "$TMP"
# Nothing from the caller's environment chooses the node, wallet or passphrase.
unset KULA_DATADIR KULA_WALLET KULA_RPC_TOKEN
