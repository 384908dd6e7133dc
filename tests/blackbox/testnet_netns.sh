#!/usr/bin/env bash
# testnet_netns.sh -- real network faults in the local testnet (issue 15,
# point 7), with the binaries under test and root: testnet/up 4 --netns
# --latency 50:10 puts each node in its own network namespace behind
# kula-netproxy; testnet/chaos --netns --faults oneway,split cuts one
# direction of a link, then splits the network 2|2, while testnet/load
# submits transactions; testnet/check must find 0 forks and every committed
# transaction on every node; testnet/down must leave no namespace, veth,
# bridge, proxy or kulad of the run.  Then what is left after a crash: an up
# whose nodes cannot start removes what it made, and testnet/down removes
# what an up killed with SIGKILL had made.
#
# Usage: bash testnet_netns.sh PATH/kulad PATH/kula  (as root)
set -euo pipefail

KULAD=${1:?usage: testnet_netns.sh PATH/kulad PATH/kula}
KULA=${2:?usage: testnet_netns.sh PATH/kulad PATH/kula}
BB_NAME=testnet_netns
source "$(dirname "$0")/testnet_test.bash" # REPO, TMP, BASE, fail, pass, cleanup
[[ $(id -u) == 0 ]] || fail "needs root (network namespaces, veth pairs, nftables): run ctest as root"
"$REPO/tests/install-deps" netns || fail "tests/install-deps netns failed"
[[ -x $(dirname "$KULAD")/kula-netproxy ]] || fail "no kula-netproxy beside $KULAD (cmake --build ... --target kula-netproxy)"
# the load generator built beside the kulad under test
[[ -x $(dirname "$KULAD")/kula-loadgen ]] && export KULA_BUILD_DIR=$(cd "$(dirname "$KULAD")" && pwd)

# wait_for SECONDS WHAT COMMAND...: runs COMMAND every 0.2 s until it succeeds
wait_for() {
    local secs=$1 what=$2 end
    shift 2
    end=$(($(date +%s) + secs))
    until "$@"; do
        (($(date +%s) < end)) || fail "$what: not within $secs s"
        sleep 0.2
    done
}

# env_get NAME: NAME's value in the run's testnet.env (not sourced, which
# would replace KULAD and KULA by those of the run)
env_get() { sed -n "s/^$1=//p" "$KULA_TESTNET_DIR/testnet.env"; }

# leftovers TAG PREFIX: the namespaces and links of the run tagged TAG, and
# the proxies listening in its subnet PREFIX
leftovers() {
    {
        ip netns list | awk '{print "namespace " $1}' | grep -F " kt-$1-" || true
        ip -o link show | awk -F': ' '{print "link " $2}' | grep -F " kt-$1" || true
        pgrep -f -- "kula-netproxy --listen ${2//./\\.}\\." | sed 's/^/kula-netproxy pid /' || true
    } | tr '\n' ' '
}

# ---- 1. up --netns ----
timeout 120 "$REPO/testnet/up" 4 --netns --latency 50:10 --port "$BASE" --kulad "$KULAD" \
    --kula "$KULA" >"$TMP/up.out" 2>&1 || { cat "$TMP/up.out" >&2; fail "testnet/up 4 --netns exited $?"; }
sed 's/^/    /' "$TMP/up.out"
source "$KULA_TESTNET_DIR/testnet.env" # N, BASE, NETNS_TAG, NET_PREFIX for tn_*
[[ $NETNS_TAG =~ ^[0-9a-f]{5}$ && $NET_PREFIX =~ ^10\.77\.[0-9]+$ ]] ||
    fail "testnet.env has no namespace tag or subnet (NETNS_TAG '$NETNS_TAG', NET_PREFIX '$NET_PREFIX')"
TAG=$NETNS_TAG
for k in 1 2 3 4; do
    pid=$(tn_node_pid "$k") || fail "node$k is not running"
    [[ $(ip netns identify "$pid") == "kt-$TAG-n$k" ]] ||
        fail "node$k (pid $pid) is not in namespace kt-$TAG-n$k but in '$(ip netns identify "$pid")'"
    ppid=$(<"$KULA_TESTNET_DIR/node$k/netproxy.pid")
    [[ $(ip netns identify "$ppid") == "kt-$TAG-n$k" ]] || fail "node$k's kula-netproxy is not in its namespace"
done
tn_port_busy "$(tn_p2p_port 1)" && fail "node1's peer port answers on this namespace's 127.0.0.1"
(($(tn_height 2) >= 2)) || fail "node2's API does not answer at $NET_PREFIX.2 through the bridge"
pass "testnet/up 4 --netns: each node and its proxy in namespace kt-$TAG-nK, APIs reached through the bridge"

# ---- 2. load during a one-way cut and a 2|2 split-brain ----
T=$(date +%s)
timeout 120 "$REPO/testnet/load" --seconds 30 >"$TMP/load.out" 2>&1 &
load_pid=$!
timeout 150 "$REPO/testnet/chaos" --netns --seconds 25 --faults oneway,split --seed 7 \
    >"$TMP/chaos.out" 2>&1 || { cat "$TMP/chaos.out" >&2; fail "testnet/chaos --netns exited $?"; }
sed 's/^/    /' "$TMP/chaos.out"
wait "$load_pid" || { cat "$TMP/load.out" >&2; fail "testnet/load exited with an error"; }
sed 's/^/    /' "$TMP/load.out" | tail -n 4
grep -q '^ *[0-9.]*s  oneway .* recovered in' "$TMP/chaos.out" || fail "no one-way cut injected and healed"
grep -q '^ *[0-9.]*s  split .* recovered in' "$TMP/chaos.out" || fail "no split-brain injected and healed"
# while the halves cannot reach each other no block can be committed (at most
# the one being decided at the cut): proof that the cut is real
while read -r a b; do
    ((b - a <= 1)) || fail "the chain grew from $a to $b during a 2|2 split: the links were not cut"
done < <(sed -n 's/.*network height \([0-9]*\) at the cut, \([0-9]*\) at the heal.*/\1 \2/p' "$TMP/chaos.out")
for k in 1 2 3 4; do
    ip netns exec "kt-$TAG-n$k" nft list table inet kula_chaos >/dev/null 2>&1 &&
        fail "node$k's cut rules are still there after chaos"
done
[[ -s $KULA_TESTNET_DIR/committed.txt ]] || fail "testnet/load committed nothing"
pass "one-way cut and 2|2 split healed under load in $(($(date +%s) - T)) s ($(wc -l <"$KULA_TESTNET_DIR/committed.txt") committed txs)"

# ---- 3. check ----
timeout 90 "$REPO/testnet/check" >"$TMP/check.out" 2>&1 || { cat "$TMP/check.out" >&2; fail "testnet/check exited $?"; }
sed 's/^/    /' "$TMP/check.out"
grep -q "^check: 4 nodes, .* 0 forks, state roots equal, balance sum 0[^,]*, \([0-9]*\)/\1 committed txs on every node: OK" \
    "$TMP/check.out" || fail "testnet/check did not find 4 agreeing nodes with every committed tx"
pass "testnet/check: 0 forks, 0 lost committed transactions"

# ---- 4. down ----
timeout 60 "$REPO/testnet/down" >"$TMP/down.out" 2>&1 || { cat "$TMP/down.out" >&2; fail "testnet/down exited $?"; }
sed 's/^/    /' "$TMP/down.out"
left=$(leftovers "$TAG" "$NET_PREFIX")
[[ -z $left ]] || fail "left after testnet/down: $left"
[[ -z $(tn_stray_pids) ]] || fail "kulad left after testnet/down"
[[ ! -e $KULA_TESTNET_DIR/netns.state ]] || fail "netns.state left after testnet/down"
pass "testnet/down removes the namespaces, veth pairs, bridge and proxies of kt-$TAG"

# ---- 5. an up that fails removes what it made ----
mkdir -p "$TMP/bad"
printf '#!/bin/sh\necho "this kulad cannot start" >&2\nexit 1\n' >"$TMP/bad/kulad"
chmod +x "$TMP/bad/kulad"
ln -s "$(cd "$(dirname "$KULAD")" && pwd)/kula-netproxy" "$TMP/bad/kula-netproxy"
rc=0
timeout 120 "$REPO/testnet/up" 4 --netns --port "$BASE" --kulad "$TMP/bad/kulad" --kula "$KULA" \
    >"$TMP/up-bad.out" 2>&1 || rc=$?
((rc != 0)) || fail "testnet/up --netns with a kulad that cannot start exited 0"
grep -q "node1 did not start" "$TMP/up-bad.out" || { cat "$TMP/up-bad.out" >&2; fail "testnet/up did not say which node did not start"; }
NETNS_TAG=$(env_get NETNS_TAG) NET_PREFIX=$(env_get NET_PREFIX)
left=$(leftovers "$NETNS_TAG" "$NET_PREFIX")
[[ -z $left ]] || fail "left after a failed testnet/up --netns: $left"
pass "a failed testnet/up --netns removes what it made (kt-$NETNS_TAG)"

# ---- 6. after a crash of up, down removes what it made ----
"$REPO/testnet/up" 4 --netns --port "$BASE" --kulad "$KULAD" --kula "$KULA" >"$TMP/up-killed.out" 2>&1 &
up_pid=$!
BB_PIDS+=("$up_pid")
wait_for 60 "testnet/up starting the proxies" grep -qs '^proxy ' "$KULA_TESTNET_DIR/netns.state"
kill -KILL "$up_pid"
wait "$up_pid" 2>/dev/null || true
BB_PIDS=() # (bb_cleanup's kill of a pid that is gone would fail the test)
TAG=$(sed -n 's/^bridge kt-//p' "$KULA_TESTNET_DIR/netns.state")
NET_PREFIX=$(env_get NET_PREFIX)
[[ -n $TAG && -n $(leftovers "$TAG" "$NET_PREFIX") ]] || fail "nothing to clean up after killing testnet/up"
timeout 60 "$REPO/testnet/down" >"$TMP/down2.out" 2>&1 || { cat "$TMP/down2.out" >&2; fail "testnet/down after a killed up exited $?"; }
left=$(leftovers "$TAG" "$NET_PREFIX")
[[ -z $left ]] || fail "left after testnet/down of a killed up: $left"
[[ -z $(tn_stray_pids) ]] || fail "kulad left after testnet/down of a killed up"
pass "testnet/down removes what a testnet/up killed with SIGKILL had made (kt-$TAG)"

echo "$BB_NAME: $passed passed, 0 failed"
