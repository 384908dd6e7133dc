# testnet_test.bash -- what the black-box tests that run a local testnet
# (testnet/up) share.  Sourced, not run; ctest runs only blackbox/*.sh.
#
# The caller sets BB_NAME (its name in messages) before sourcing, and may
# append to BB_PIDS (its own kulad processes, killed at exit) and BB_LOGS
# (more logs to show on failure).  This sets REPO, TMP (removed at exit),
# KULA_TESTNET_DIR (TMP/run: testnet/down and a kill of every stray kulad of
# it at exit), BASE (a port base below the ephemeral range with BASE ..
# BASE + 13 free on 127.0.0.1) and passed, and defines fail, pass,
# wait_for and bb_check_down.

# A script that leaves KULAD unset passes its arguments instead:
#   source testnet_test.bash "$@"    (PATH/kulad PATH/kula)
if [[ -z ${KULAD:-} ]]; then
    KULAD=${1:?usage: $0 PATH/kulad PATH/kula}
    KULA=${2:?usage: $0 PATH/kulad PATH/kula}
fi
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/kula-$BB_NAME.XXXXXX")
export KULA_TESTNET_DIR=$TMP/run
unset KULA_BIN_DIR
source "$REPO/testnet/lib.sh" # tn_stray_pids, tn_port_busy, tn_start_node, ...
TN_ME=$BB_NAME
passed=0
BB_PIDS=()
BB_LOGS=()

bb_cleanup() {
    local left p
    for p in "${BB_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    if [[ -d $KULA_TESTNET_DIR ]]; then
        timeout 40 "$REPO/testnet/down" >/dev/null 2>&1 || true
        mapfile -t left < <(tn_stray_pids)
        for p in "${left[@]}"; do kill -CONT "$p" 2>/dev/null; kill -KILL "$p" 2>/dev/null || true; done
    fi
    rm -rf "$TMP"
}
trap bb_cleanup EXIT
trap "exit 143" TERM
trap "exit 130" INT

fail() {
    echo "$BB_NAME: FAIL: $*" >&2
    for log in "$KULA_TESTNET_DIR"/node*/kulad.log "${BB_LOGS[@]}"; do
        [[ -f $log ]] || continue
        echo "---- $log (last 15 lines)" >&2
        tail -n 15 "$log" >&2
    done
    echo "$BB_NAME: $passed passed, 1 failed"
    exit 1
}
pass() { passed=$((passed + 1)); echo "ok $passed - $*"; }
bb_check_down() { # testnet/check agrees, then testnet/down stops every node
    timeout 120 "$REPO/testnet/check" >"$TMP/check.log" 2>&1 || { cat "$TMP/check.log" >&2; fail "testnet/check"; }
    pass "testnet/check: $(tail -n 1 "$TMP/check.log")"
    timeout 60 "$REPO/testnet/down" >/dev/null 2>&1 || fail "testnet/down"
    pass "testnet/down"
}
wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...: until COMMAND succeeds, or fail
    local secs=$1 what=$2 i
    shift 2
    for ((i = 0; i < secs * 10; i++)); do
        "$@" && return 0
        sleep 0.1
    done
    fail "$what (within $secs s)"
}

for _ in $(seq 1 20); do
    BASE=$((20000 + RANDOM % 12000)) # below the ephemeral range (32768-)
    BASE=$((BASE - BASE % 16))
    busy=0
    for i in $(seq 0 13); do tn_port_busy $((BASE + i)) && busy=1; done
    [[ $busy == 0 ]] && break
done

# bb_up N (bb_up4: 4): testnet/up N with the binaries under test (KULAD,
# KULA); sets D, the run directory, and loads its testnet.env (GENESIS,
# WALLET, ...); testnet/load will use the kula-loadgen built beside KULAD
# (bb_loadgen).  Every fifth block is a snapshot height (proto/SPEC.md
# §10.3), so that every black-box testnet has its validators agree on roots
# that hash the whole state and the validator sets.
bb_up() {
    bb_loadgen
    timeout 120 "$REPO/testnet/up" "$1" --port "$BASE" --kulad "$KULAD" --kula "$KULA" \
        --snapshot-interval 5 >"$TMP/up.log" 2>&1 || { cat "$TMP/up.log" >&2; fail "testnet/up $1"; }
    D=$KULA_TESTNET_DIR
    tn_load_env
    pass "testnet/up $1"
}
bb_up4() { bb_up 4; }

# bb_loadgen: testnet/load uses the kula-loadgen built beside the kulad
# under test, when there is one (KULA_BUILD_DIR).
bb_loadgen() {
    if [[ -x $(dirname "$KULAD")/kula-loadgen ]]; then
        KULA_BUILD_DIR=$(cd "$(dirname "$KULAD")" && pwd)
        export KULA_BUILD_DIR
    fi
}

# bb_tool SECONDS NAME COMMAND...: runs a testnet tool for at most SECONDS,
# shows its output indented (kept in TMP/NAME.out) and fails unless it exits
# 0; LINE is then its last line (the tools' summary).
bb_tool() {
    local secs=$1 name=$2 rc=0
    shift 2
    timeout --kill-after=10 "$secs" "$@" >"$TMP/$name.out" 2>&1 || rc=$?
    sed 's/^/    /' "$TMP/$name.out"
    ((rc == 0)) || fail "$(basename "$1") exited $rc"
    LINE=$(tail -n 1 "$TMP/$name.out")
}

# q K ARGS...: kula with the testnet's wallet against node K (60 s at most).
q() {
    local k=$1
    shift
    timeout 60 "$KULA" --wallet "$D/wallet" --passphrase-file "$D/passphrase" \
        --datadir "$D/node$k" "$@"
}

# jfield EXPR: the Python expression EXPR (such as '["height"]') of the JSON
# on standard input.
jfield() { /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
