#!/usr/bin/env bash
# rpc_api.sh -- black-box test of kulad's HTTP/JSON-RPC edge cases: missing or
# wrong token, malformed, invalid, oversize and batch requests, unknown
# paths and methods, /health and /metrics, idle and concurrent connections.
#
#   bash rpc_api.sh PATH/TO/kulad PATH/TO/kula
set -euo pipefail

kulad=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
pid=""
cleanup() {
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
  jobs -p | xargs -r kill 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

passed=0
fail() { echo "rpc_api: FAILED: $*" >&2; echo "--- kulad log" >&2; tail -20 "$work/log" >&2 || true; exit 1; }
ok() { passed=$((passed + 1)); }

# A free loopback port pair.
for _ in $(seq 1 20); do
  port=$((20000 + RANDOM % 20000))
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
done
url="http://127.0.0.1:$port/"

"$kulad" --datadir "$work/d" --genesis "$root/GENESIS.json" --rpc "127.0.0.1:$port" \
  --listen "127.0.0.1:$((port + 1))" >"$work/log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  [ -s "$work/d/rpc.cookie" ] && break
  sleep 0.1
done
[ -s "$work/d/rpc.cookie" ] || fail "no cookie file"
token=$(sed -n 's/^token=//p' "$work/d/rpc.cookie")
[ "$(stat -c %a "$work/d/rpc.cookie")" = 600 ] || fail "cookie is not mode 0600"; ok
grep -q "^url=$url\$" "$work/d/rpc.cookie" || fail "cookie lacks the url"; ok

# req BODY [CURL ARGS...] -> prints "STATUS BODY"
req() {
  local body=$1; shift
  curl -s -m 10 -o "$work/out" -w '%{http_code}' "$@" --data-binary "$body" "$url" || echo 000
  printf ' '; cat "$work/out" 2>/dev/null || true
}
auth=(-H "Authorization: Bearer $token")

r=$(req '{"jsonrpc":"2.0","id":1,"method":"status"}' "${auth[@]}")
[[ $r == 200* && $r == *'"height":'* ]] || fail "status: $r"; ok
r=$(req '{"jsonrpc":"2.0","id":1,"method":"status"}')
[[ $r == 401* && $r == *'-32600'* ]] || fail "no token: $r"; ok
# A token one hex digit off the real one (never equal to it).
if [[ $token == *0 ]]; then wrong=${token%?}1; else wrong=${token%?}0; fi
r=$(req '{"jsonrpc":"2.0","id":1,"method":"status"}' -H "Authorization: Bearer $wrong")
[[ $r == 401* ]] || fail "wrong token: $r"; ok
r=$(req '{"jsonrpc":"2.0","id":1,"method":' "${auth[@]}")
[[ $r == 400* && $r == *'-32700'* ]] || fail "malformed: $r"; ok
r=$(req '{"jsonrpc":"2.0","id":1}' "${auth[@]}")
[[ $r == 400* && $r == *'-32600'* ]] || fail "no method: $r"; ok
r=$(req '{"jsonrpc":"1.0","id":1,"method":"status"}' "${auth[@]}")
[[ $r == 400* && $r == *'-32600'* ]] || fail "wrong version: $r"; ok
r=$(req '{"jsonrpc":"2.0","id":1,"method":"nosuch"}' "${auth[@]}")
[[ $r == 200* && $r == *'-32601'* ]] || fail "unknown method: $r"; ok
r=$(req '{"jsonrpc":"2.0","id":1,"method":"member","params":{"member":[]}}' "${auth[@]}")
[[ $r == *'-32602'* ]] || fail "bad params: $r"; ok
r=$(req '{"jsonrpc":"2.0","id":1,"method":"member","params":{"member":999}}' "${auth[@]}")
[[ $r == *'"EUNKNOWNMEMBER"'* ]] || fail "unknown member: $r"; ok
r=$(req '{"jsonrpc":"2.0","id":7,"method":"submit","params":{"tx":"9200"}}' "${auth[@]}")
[[ $r == *'"error"'* && $r == *'"id":7'* ]] || fail "garbage tx: $r"; ok
# POST /submit, the bulk path (kula/api/bulk.h): msgpack in and out, read
# here with python3-msgpack, an encoder and decoder independent of kulad's.
sub() { # FILE [CURL ARGS...] -> "STATUS"; the reply in $work/out
  local f=$1; shift
  curl -s -m 10 -o "$work/out" -w '%{http_code}' "$@" --data-binary "@$f" "${url}submit" || echo 000
}
/usr/bin/python3 -c 'import msgpack,sys; sys.stdout.buffer.write(msgpack.packb([b"\x92\x00", b"\x01"], use_bin_type=True))' >"$work/bulk"
r=$(sub "$work/bulk" -H 'Content-Type: application/msgpack')
[[ $r == 401 ]] || fail "bulk without a token: $r"; ok
r=$(sub "$work/bulk" "${auth[@]}" -H 'Content-Type: application/json')
[[ $r == 415 ]] && grep -q 'application/msgpack' "$work/out" || fail "bulk as JSON: $r $(cat "$work/out")"; ok
printf 'not msgpack' >"$work/junk"
r=$(sub "$work/junk" "${auth[@]}" -H 'Content-Type: application/msgpack')
[[ $r == 400 ]] && grep -q 'msgpack array of 1 to 1000 signed transactions' "$work/out" ||
  fail "bulk junk: $r $(cat "$work/out")"; ok
/usr/bin/python3 -c 'import msgpack,sys; sys.stdout.buffer.write(msgpack.packb([b"\x01"] * 1001, use_bin_type=True))' >"$work/many"
r=$(sub "$work/many" "${auth[@]}" -H 'Content-Type: application/msgpack')
[[ $r == 400 ]] || fail "bulk of 1001: $r $(cat "$work/out")"; ok
r=$(sub "$work/bulk" "${auth[@]}" -H 'Content-Type: application/msgpack; charset=binary')
[[ $r == 200 ]] || fail "bulk: $r $(cat "$work/out")"
/usr/bin/python3 - "$work/out" <<'PY' || fail "bulk reply: $(od -c "$work/out" | head -5)"
import msgpack, sys
reply = msgpack.unpackb(open(sys.argv[1], "rb").read(), raw=False)
assert isinstance(reply, list) and len(reply) == 2, reply
for code, txid, words in reply:
    # neither decodes: a codec error, no id, and a sentence saying so
    assert code < 0 and txid is None and words.startswith("transaction refused: "), (code, txid, words)
PY
ok
# GET /ids, the bulk path's way to follow the chain: the token, then the
# committed blocks' transaction ids in msgpack (python3-msgpack reads it).
# This node validates nothing, so its answer is its tip, 0, alone; blocks
# with transactions are read by test_jsonrpc (jsonrpc/ids_reply_matches_
# block_ids) and by kula-loadgen in ingest_ratio.sh.
code=$(curl -s -m 10 -o "$work/out" -w '%{http_code}' "${url}ids?from=1")
[[ $code == 401 ]] || fail "ids without a token: $code"; ok
code=$(curl -s -m 10 -o "$work/out" -w '%{http_code}' "${auth[@]}" "${url}ids?from=0")
[[ $code == 400 ]] && grep -q "'from' must be a block height" "$work/out" ||
  fail "ids from=0: $code $(cat "$work/out")"; ok
code=$(curl -s -m 10 -o "$work/out" -w '%{http_code}' "${auth[@]}" "${url}ids?from=1&blocks=65")
[[ $code == 400 ]] && grep -q "'blocks' must be a whole number from 1 to 64" "$work/out" ||
  fail "ids blocks=65: $code $(cat "$work/out")"; ok
code=$(curl -s -m 10 -o "$work/out" -w '%{http_code}' "${auth[@]}" "${url}ids?from=1&blocks=2")
[[ $code == 200 ]] || fail "ids: $code $(cat "$work/out")"
/usr/bin/python3 - "$work/out" <<'PY' || fail "ids reply: $(od -c "$work/out" | head -5)"
import msgpack, sys
tip, blocks = msgpack.unpackb(open(sys.argv[1], "rb").read(), raw=False)
assert tip == 0 and blocks == [], (tip, blocks)
PY
ok
r=$(req '[{"jsonrpc":"2.0","id":1,"method":"status"},{"jsonrpc":"2.0","id":2,"method":"members"},{"jsonrpc":"2.0","method":"status"}]' "${auth[@]}")
[[ $r == 200* && $r == *'"id":1'* && $r == *'"id":2'* ]] || fail "batch: $r"; ok
r=$(req '[]' "${auth[@]}")
[[ $r == 400* ]] || fail "empty batch: $r"; ok
head -c $((5 * 1024 * 1024)) /dev/zero | tr '\0' ' ' >"$work/big"
code=$(curl -s -m 20 -o /dev/null -w '%{http_code}' "${auth[@]}" --data-binary @"$work/big" "$url" || true)
[ "$code" = 413 ] || fail "oversize gave $code"; ok
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "${url}nosuch")
[ "$code" = 404 ] || fail "unknown path gave $code"; ok
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -X PUT "$url")
[ "$code" = 405 ] || fail "PUT gave $code"; ok
curl -s -m 5 "${url}health" | grep -q '"status":"ok"' || fail "health"; ok
curl -s -m 5 "${url}metrics" | grep -q '^kula_height [0-9]' || fail "metrics"; ok
curl -s -m 5 "${url}metrics" | grep -q '^kula_commit_latency_seconds ' || fail "metrics latency"; ok

# An idle connection and a connection that sends half a request must not
# stall other clients.
exec 5<>"/dev/tcp/127.0.0.1/$port"
exec 6<>"/dev/tcp/127.0.0.1/$port"
printf 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"jsonrpc"' >&6
start=$(date +%s%N)
r=$(req '{"jsonrpc":"2.0","id":1,"method":"status"}' "${auth[@]}")
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
[[ $r == 200* ]] || fail "status beside idle clients: $r"
[ "$elapsed" -lt 2000 ] || fail "status took ${elapsed} ms beside idle clients"; ok
exec 5>&- 6>&-

# 64 concurrent requests from one address (its share of the connections,
# node/api/rpc.c PER_ADDRESS_CONNECTIONS): all answered, node still healthy.
for i in $(seq 1 64); do
  curl -s -m 20 -o /dev/null -w '%{http_code}\n' "${auth[@]}" \
    --data-binary '{"jsonrpc":"2.0","id":1,"method":"members"}' "$url" >>"$work/codes" &
done
wait $(jobs -p | grep -v "^$pid\$") 2>/dev/null || true
[ "$(grep -c '^200$' "$work/codes")" = 64 ] || fail "concurrent: $(sort "$work/codes" | uniq -c)"; ok
kill -0 "$pid" || fail "kulad died"; ok

kill -TERM "$pid"
for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
rc=0; wait "$pid" || rc=$?
pid=""
[ "$rc" = 0 ] || fail "exit status $rc after SIGTERM"; ok
[ ! -e "$work/d/rpc.cookie" ] || fail "cookie left behind"; ok
echo "rpc_api: $passed passed, 0 failed"
