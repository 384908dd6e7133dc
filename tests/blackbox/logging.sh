#!/usr/bin/env bash
# logging.sh -- kulad's log as an operator sets it in kulad.conf: a level,
# debug lines of chosen subsystems whatever the level, every line naming its
# subsystem, a log file reopened on SIGHUP (logrotate's way), the startup
# line saying which member the node is, and bad settings refused with a
# message that names them.
#
# Usage: bash logging.sh PATH/TO/kulad PATH/TO/kula
set -euo pipefail
TEST=logging
# shellcheck source=single_node.bash
. "$(dirname "${BASH_SOURCE[0]}")/single_node.bash" "$@" # KULAD, KULA from the arguments

LOG=$TMP/node.log
LINE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{12}Z (debug|info |warn |error) [a-z]+: '

# wait_for FILE PATTERN SECONDS: FILE gets a line matching PATTERN.
wait_for() {
    local tenths=$(($3 * 10))
    until grep -Eq -- "$2" "$1" 2>/dev/null; do
        tenths=$((tenths - 1))
        [ "$tenths" -gt 0 ] || return 1
        sleep 0.1
    done
}

# bad NAME EXPECTED ARGS...: kulad ARGS exits 2 saying EXPECTED.
bad() {
    local name=$1 want=$2
    shift 2
    local code=0
    timeout 20 "$KULAD" --datadir "$D" --genesis "$GENESIS" "$@" >"$TMP/$name.out" \
        2>"$TMP/$name.err" || code=$?
    [ "$code" -eq 2 ] || fail "kulad $* exited $code (expected 2)" "$TMP/$name.err"
    grep -q -- "$want" "$TMP/$name.err" || fail "kulad $*: no '$want'" "$TMP/$name.err"
}

# ---- bad settings: named, and what is accepted said ----
mkdir -p "$D"
bad level "'loud' is not a level: error, warn, info or debug" --log-level loud
ok "--log-level loud is refused, naming the levels"
bad subsys "'nett' is not a subsystem; the subsystems are all, " --debug net,nett
ok "--debug net,nett is refused, naming the subsystems"
printf 'debug = p2p, chainz\n' >"$D/kulad.conf"
bad confsub "kulad.conf:1: debug: 'chainz' is not a subsystem"
ok "debug = p2p, chainz in kulad.conf is refused with its line"
rm "$D/kulad.conf"
bad nofile "log-file $TMP/no/such/dir/k.log: cannot open it" --log-file "$TMP/no/such/dir/k.log"
ok "a log file in a missing folder is refused before the node starts"

# ---- info level, to a file: every line names its subsystem; who we are ----
printf 'log-level = info\nlog-file = %s\n' "$LOG" >"$D/kulad.conf"
start_node
wait_for "$LOG" 'running; stop with' 20 || fail "no 'running' line in the log file" "$LOG"
[ ! -s "$TMP/kulad.log" ] || fail "kulad wrote to stderr though log-file is set" "$TMP/kulad.log"
grep -Eq ' info  node: this node is member #1 Dev Validator \(development\), key [0-9a-f]{64}: a validator with voting power 1 of 1$' "$LOG" ||
    fail "no startup line saying which member this node is" "$LOG"
ok "the startup line names the member, its key and that it is a validator"
bad_lines=$(grep -Evc "$LINE" "$LOG" || true)
[ "$bad_lines" -eq 0 ] || fail "$bad_lines lines without time, level and subsystem" "$LOG"
grep -Eq ' info  rpc: API on ' "$LOG" || fail "no line of the rpc subsystem" "$LOG"
if grep -q ' debug ' "$LOG"; then fail "debug lines at level info" "$LOG"; fi
ok "every line has its time, level and subsystem; no debug line at level info"
stop_node

# ---- warn level with consensus debug; SIGHUP reopens the file ----
rm -f "$LOG"
printf 'log-level = warn\ndebug = consensus\nlog-file = %s\n' "$LOG" >"$D/kulad.conf"
start_node
wait_for "$LOG" ' debug consensus: committed block ' 20 ||
    fail "no debug line of consensus at level warn with debug = consensus" "$LOG"
if grep -q ' info ' "$LOG"; then fail "info lines at level warn" "$LOG"; fi
if grep -E ' debug ' "$LOG" | grep -Ev ' debug consensus: ' | grep -q .; then
    fail "debug lines of a subsystem not named by debug =" "$LOG"
fi
ok "level warn drops info; debug = consensus keeps consensus's debug lines, only those"
mv "$LOG" "$LOG.1"
kill -HUP "$KPID"
wait_for "$LOG" ' debug consensus: committed block ' 20 || fail "no new log file after SIGHUP" "$LOG" "$LOG.1"
running || fail "kulad died on SIGHUP"
before=$(wc -l <"$LOG.1")
h=$(height)
wait_height $((h + 2)) 20 || fail "no block after SIGHUP"
[ "$(wc -l <"$LOG.1")" -eq "$before" ] || fail "the moved file still grows after SIGHUP" "$LOG.1"
ok "SIGHUP reopens the log file; the moved one is left alone"
stop_node
grep -q ' info  node: stopped cleanly' "$LOG" && fail "info line at level warn" "$LOG"
[ -s "$LOG" ] || fail "the log file is empty"

# ---- -v still means debug everywhere, on stderr ----
rm -f "$D/kulad.conf"
timeout -s TERM 3 "$KULAD" --datadir "$D" --genesis "$GENESIS" --rpc "127.0.0.1:$PORT" \
    --listen "127.0.0.1:$((PORT + 1))" -v >"$TMP/v.out" 2>"$TMP/v.err" || true
grep -Eq ' debug [a-z]+: ' "$TMP/v.err" || fail "-v gives no debug line on stderr" "$TMP/v.err"
ok "-v logs debug lines on stderr"

echo "$TEST: $passed passed"
