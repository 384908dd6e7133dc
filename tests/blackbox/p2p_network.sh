#!/usr/bin/env bash
# p2p_network.sh -- several real kulad processes on loopback make one network:
# a transaction submitted to one node reaches all; a node started late
# catches up; a restarted node is redialed; a peer with a key that is not a
# member's (until listed with --observer) or with another chain id is
# refused; a flood of garbage and oversize frames does not crash a node or
# stall its other peers; a restarted node is offered its peers' pending
# transactions.
#
# Usage: bash p2p_network.sh PATH/kulad PATH/kula
set -euo pipefail

BB_NAME=p2p_network
source "$(dirname "$0")/testnet_test.bash" "$@" # KULAD, KULA, REPO, TMP, BASE, fail, pass, wait_for
export KULA_PASSPHRASE=p2p-test
declare -A PID # node name -> its kulad, while it runs
BB_LOGS=("$TMP"/{a,b,c,o,y}.log)

p2p_cleanup() {
    local n
    for n in "${!PID[@]}"; do
        kill -KILL "${PID[$n]}" 2>/dev/null || true
    done
    bb_cleanup
}
trap p2p_cleanup EXIT

P_A=$BASE; P_B=$((BASE + 2)); P_C=$((BASE + 4)); P_O=$((BASE + 6)); P_Y=$((BASE + 8))

# A network of three members; A is the only validator.
"$KULA" genesis new --network p2p-test --out "$TMP/net" --member A --member B --member C \
    --block-interval-ms 200 --kdf-opslimit 1 --kdf-memlimit-mib 8 >/dev/null ||
    fail "kula genesis new"
G=$TMP/net/GENESIS.json

# start NAME PORT [ARGS...]: kulad with data in $TMP/NAME, peers on PORT,
# API on PORT+1, log in $TMP/NAME.log (appended).
start() {
    local name=$1 port=$2
    shift 2
    "$KULAD" --datadir "$TMP/$name" --listen "127.0.0.1:$port" --rpc "127.0.0.1:$((port + 1))" \
        -v "$@" >>"$TMP/$name.log" 2>&1 &
    PID[$name]=$!
    local i
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
    rm -f "$TMP/$name/rpc.cookie"
}

q() { # q NAME ARGS...: kula against node NAME
    local name=$1
    shift
    timeout 20 "$KULA" --datadir "$TMP/$name" "$@"
}
jfield() { /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
height() { q "$1" status --json 2>/dev/null | jfield '["height"]' 2>/dev/null || echo -1; }
npeers() {
    q "$1" peers --json 2>/dev/null |
        /usr/bin/python3 -c 'import json,sys; print(sum(1 for p in json.load(sys.stdin) if p["established"]))' \
            2>/dev/null || echo 0
}
at_least() { [[ $(height "$1") -ge $2 ]]; }
peers_at_least() { [[ $(npeers "$1") -ge $2 ]]; }
same_height_as() { # same_height_as X Y: X has reached Y's height
    local hy
    hy=$(height "$2")
    [[ $hy -ge 1 && $(height "$1") -ge $hy ]]
}

# ---- 1. two nodes connect; the follower follows ----
start a "$P_A" --genesis "$G" --key "$TMP/net/keys/A.key"
start b "$P_B" --genesis "$G" --key "$TMP/net/keys/B.key" --peer "127.0.0.1:$P_A"
wait_for 20 "b connected to a" peers_at_least b 1
wait_for 20 "b follows a to height 5" at_least b 5
pass "a member's node connects to the validator and follows its blocks"

# ---- 2. a transaction submitted to b reaches a, which commits it ----
mkdir -p "$TMP/b/wallet" "$TMP/c/wallet"
cp "$TMP/net/keys/B.key" "$TMP/b/wallet/B.key"
out=$(q b pay --key B --to 1 5.00 --json) || fail "pay through b: $out"
TX=$(echo "$out" | jfield '["id"]')
q a tx "$TX" --json | grep -q '"committed"' || fail "tx $TX not committed on a"
[[ $(q a balance 1 --json | jfield '["balance"]') == 500 ]] || fail "a: balance of A is not 5.00"
pass "a transaction submitted to a follower is relayed to the validator and committed"

# ---- 3. a node started late catches up, and has the transaction ----
wait_for 30 "a reaches height 40" at_least a 40
start c "$P_C" --genesis "$G" --key "$TMP/net/keys/C.key" --peer "127.0.0.1:$P_B"
wait_for 40 "c catches up with a" same_height_as c a
q c tx "$TX" --json | grep -q '"committed"' || fail "c does not have tx $TX"
grep -q "sync: caught up" "$TMP/c.log" || fail "c did not log its catch-up"
pass "a node started late (via a follower) catches up and has every transaction"

# ---- 4. peer exchange: c learnt a's address from b and connected to it ----
wait_for 20 "c connected to 2 peers" peers_at_least c 2
pass "peer exchange: c dials a, learnt from b"

# ---- 5. a key that is not a member's is refused until it is an observer ----
start o "$P_O" --genesis "$G" --peer "127.0.0.1:$P_A"
OKEY=$(sed -n 's/.*peers know this node by the key \([0-9a-f]*\).*/\1/p' "$TMP/o.log" | head -1)
[[ ${#OKEY} == 64 ]] || fail "o did not log its identity key"
wait_for 20 "a refuses o" grep -q "refused" "$TMP/a.log"
sleep 1
[[ $(npeers o) == 0 ]] || fail "o is connected although no member admits it"
ho=$(height o)
[[ $ho == 0 ]] || fail "o received blocks although refused (height $ho)"
pass "a peer whose key is neither a member's nor an observer's is refused before any data"

# ---- 6. a restarted validator admits the observer; every peer redials it ----
hb=$(height a)
stop a
start a "$P_A" --genesis "$G" --key "$TMP/net/keys/A.key" --observer "$OKEY"
wait_for 40 "o (observer) catches up" at_least o "$hb"
wait_for 30 "b redials the restarted a" peers_at_least b 2
pass "an observer key is admitted; a restarted node is redialed by its peers"

# ---- 7. another chain id is refused ----
start y "$P_Y" --genesis "$REPO/GENESIS.json" --peer "127.0.0.1:$P_A"
wait_for 20 "a refuses the other chain" grep -q "refused.*another chain\|another network\|ECHAIN\|chain id" "$TMP/a.log"
[[ $(npeers y) == 0 ]] || fail "y (another network) got a connection"
stop y
pass "a node of another network (chain id) is refused"

# ---- 8. garbage and oversize frames do not crash a or stall b ----
h0=$(height b)
flood() {
    local i pids=()
    for i in $(seq 1 20); do
        (exec 3<>"/dev/tcp/127.0.0.1/$P_A" && head -c 200000 /dev/urandom >&3) 2>/dev/null &
        pids+=($!)
        # a length prefix far above the limit, then junk
        (exec 3<>"/dev/tcp/127.0.0.1/$P_A" && printf '\xff\xff\xff\xf0' >&3 &&
            head -c 1000 /dev/urandom >&3) 2>/dev/null &
        pids+=($!)
        # a HELLO-sized frame of junk
        (exec 3<>"/dev/tcp/127.0.0.1/$P_A" && printf '\x00\x00\x00\x68' >&3 &&
            head -c 104 /dev/urandom >&3) 2>/dev/null &
        pids+=($!)
    done
    for i in "${pids[@]}"; do timeout 20 tail --pid="$i" -f /dev/null || true; done
}
flood
flood
kill -0 "${PID[a]}" 2>/dev/null || fail "a died under the garbage flood"
wait_for 20 "b keeps following a after the flood" at_least b $((h0 + 10))
[[ $(npeers b) -ge 2 ]] || fail "b lost its peers in the flood"
out=$(q b pay --key B --to 3 1.00 --json) || fail "pay after the flood: $out"
pass "120 garbage connections: a survives, b keeps following and transacting"

# ---- 9. kula peers ----
q a peers >"$TMP/peers.txt" || fail "kula peers"
grep -q "inbound" "$TMP/peers.txt" || fail "kula peers shows no inbound peer"
grep -q "${OKEY:0:16}" "$TMP/peers.txt" || fail "kula peers does not show the observer's key"
q a status | grep -q "peers        [3-9]" || fail "kula status does not count the peers"
pass "kula peers lists address, key, direction, height and score"

# ---- 10. a transaction pending while the validator was down reaches it ----
# b and c hold it in their mempools; gossip happened while a was away, so
# only the mempool offered to a peer that connects brings it to a.
stop a
out=$(q b pay --key B --to 3 0.25 --no-wait --json) || fail "pay while a is down: $out"
TX2=$(echo "$out" | jfield '["id"]')
start a "$P_A" --genesis "$G" --key "$TMP/net/keys/A.key" --observer "$OKEY"
committed_on_a() { q a tx "$TX2" --json 2>/dev/null | grep -q '"committed"'; }
wait_for 30 "the transaction submitted while a was down is committed" committed_on_a
pass "a restarted validator is offered the transactions waiting in its peers' mempools"

for n in o c b a; do stop "$n"; done
pass "every node stops cleanly"
echo "p2p_network: $passed passed, 0 failed"
