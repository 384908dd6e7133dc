#!/usr/bin/env bash
# rpc_slowloris.sh -- a client without credentials cannot take the API away:
# while 500 connections from 127.0.0.2 send their headers one byte a second
# for 60 s (slowloris.py, reopening what the node closes), a legitimate
# client on 127.0.0.1 gets at least 99 % of its health checks answered within
# 1 s, and the first check after the attacker left is answered within 1 s.
#
# Usage: bash rpc_slowloris.sh PATH/TO/kulad PATH/TO/kula
# RPC_SLOWLORIS_SECONDS (default 60) and RPC_SLOWLORIS_CONNECTIONS (500).
set -euo pipefail

TEST=rpc_slowloris
# shellcheck source=single_node.bash
. "$(dirname "${BASH_SOURCE[0]}")/single_node.bash" "$@"
SECONDS_ATTACK=${RPC_SLOWLORIS_SECONDS:-60}
CONNS=${RPC_SLOWLORIS_CONNECTIONS:-500}

start_node
URL="http://127.0.0.1:$PORT/health"

/usr/bin/python3 "$ROOT/tests/blackbox/slowloris.py" 127.0.0.1 "$PORT" 127.0.0.2 "$CONNS" \
    "$SECONDS_ATTACK" >"$TMP/attack.out" 2>&1 &
APID=$!
# wait until the attack holds connections (the node's log is quiet about it)
for _ in $(seq 1 50); do
    [ "$(ss -Htn state established "( dport = :$PORT )" 2>/dev/null | grep -c 127.0.0.2)" -gt 10 ] && break
    sleep 0.1
done

total=0 good=0
while kill -0 "$APID" 2>/dev/null; do
    code=$(curl -s -m 1 -o /dev/null -w '%{http_code}' "$URL" || true)
    total=$((total + 1))
    [ "$code" = 200 ] && good=$((good + 1))
    running || fail "kulad stopped during the attack"
    sleep 0.2
done
wait "$APID" || fail "the attacker failed" "$TMP/attack.out"
t0=$(date +%s%N)
code=$(curl -s -m 1 -o /dev/null -w '%{http_code}' "$URL" || true)
t1=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$code" = 200 ] || fail "the first health check after the attack got '$code'" "$TMP/attack.out"
[ "$total" -ge 10 ] || fail "only $total health checks were made" "$TMP/attack.out"
[ $((good * 100)) -ge $((total * 99)) ] ||
    fail "$good of $total health checks answered within 1 s during the attack" "$TMP/attack.out"
ok "$(cat "$TMP/attack.out"); $good of $total health checks answered within 1 s"
ok "after the attacker left, the next check was answered in $t1 ms"
stop_node
echo "$TEST: $passed passed, 0 failed"
