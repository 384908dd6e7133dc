#!/usr/bin/env bash
# sync_late_blocks.sh -- a slow peer's late answer is not misbehaviour
# (SPEC §12.2, §12.3; issue 18): node 4 of a 4-validator testnet talks only
# to node 1.  Node 4 is stopped (SIGSTOP) until it is 8 blocks behind, then
# node 1 is stopped and node 4 continued: node 4 asks node 1 for the blocks,
# gets no answer within 15 s, gives the request up (20 points: node 1 was
# really stalled) and asks node 1 again.  Node 1 is continued and answers
# both requests.  One answer is in order, the other late: node 4 must drop
# it without a penalty (the old rule gave 20 points a block, a ban after 4),
# catch up, and never ban node 1.  Then node 4 is stopped for 17 s with a
# request to node 1 out: on waking it must not count that time against
# node 1 ("did not deliver").  The flood case (unasked blocks still
# punished) is the unit test test_asked.
#
# Usage: bash sync_late_blocks.sh PATH/kulad PATH/kula
set -euo pipefail

KULAD=${1:?usage: sync_late_blocks.sh PATH/kulad PATH/kula}
KULA=${2:?usage: sync_late_blocks.sh PATH/kulad PATH/kula}
BB_NAME=sync_late_blocks
source "$(dirname "$0")/testnet_test.bash" # REPO, TMP, BASE, fail, pass, cleanup

bb_up4
log4=$D/node4/kulad.log
pid() { tn_node_pid "$1"; }
height() { tn_height "$1"; }

# node 4: one peer (node 1), none inbound, sync and score lines in its log
tn_stop_pids 20 "$(pid 4)" >/dev/null
conf=$D/node4/kulad.conf
grep -v '^peer *=' "$conf" >"$TMP/conf4"
{
    cat "$TMP/conf4"
    echo "peer = 127.0.0.1:$(tn_p2p_port 1)"
    echo "max-inbound = 0"
    echo "max-outbound = 1"
    echo "debug = p2p,net"
} >"$conf"
tn_start_node 4 || fail "node4 did not restart"
level() { (($(height 4) >= $(height 1) - 1 && $(height 4) > 0)); }
wait_for 60 "node4 at node1's height" level
pass "node4 follows with node1 as its only peer"

# node 4 falls 8 blocks behind
h4=$(height 4)
kill -STOP "$(pid 4)"
behind() { (($(height 1) >= h4 + 8)); }
wait_for 60 "nodes 1-3 at node4's height + 8" behind
# node 1 stalls; node 4 runs again and asks it
n0=$(wc -l <"$log4")
kill -STOP "$(pid 1)"
kill -CONT "$(pid 4)"
asked() { tail -n +"$((n0 + 1))" "$log4" | grep -q "sync: asked peer [0-9]* for blocks"; }
wait_for 30 "node4 asks node1 for blocks" asked
gave_up() { tail -n +"$((n0 + 1))" "$log4" | grep -q "did not deliver the blocks asked for"; }
wait_for 60 "node4 gives up its request to node1 (15 s)" gave_up
again() { (($(tail -n +"$((n0 + 1))" "$log4" | grep -c "sync: asked peer [0-9]* for blocks") >= 2)); }
wait_for 30 "node4 asks node1 again" again
pass "node4 gave its request to the stalled node1 up and asked again"
# node 1 answers both: the first answer is late
kill -CONT "$(pid 1)"
since() { tail -n +"$((n0 + 1))" "$log4"; }
punished() { since | grep -E "not asked|banned" >"$TMP/bad.txt"; }
caught_up() { (($(height 4) >= h4 + 8)); }
settled() { punished || caught_up; }
wait_for 60 "node4 catches up (or punishes node1)" settled
punished && fail "node4 punished node1 for its late answer: $(head -n 3 "$TMP/bad.txt")"
dropped() { since | grep -q "answers a request given up or came twice: dropped"; }
wait_for 30 "node4 drops node1's late answer" dropped
punished && fail "node4 punished node1 for its late answer: $(head -n 3 "$TMP/bad.txt")"
pass "node4 dropped node1's late answer without a penalty and caught up"
# the network goes on with node 4
h=$(height 1)
more() { (($(height 4) >= h + 3)); }
wait_for 60 "node4 follows 3 more blocks" more
pass "node4 follows node1 again"

# Node 4 itself stalls with a request out: stopped past the 15 s timeout
# while node 1's answer waits in its socket.  Time it did not run is not
# node 1's: no "did not deliver", no penalty (the old deadline counted it).
h4=$(height 4)
kill -STOP "$(pid 4)"
wait_for 60 "nodes 1-3 at node4's height + 8" behind
n0=$(wc -l <"$log4")
kill -STOP "$(pid 1)"
kill -CONT "$(pid 4)"
wait_for 30 "node4 asks node1 for blocks" asked
kill -STOP "$(pid 4)"
kill -CONT "$(pid 1)"
sleep 17 # the fault: node 4 stopped for longer than the 15 s answer timeout
kill -CONT "$(pid 4)"
stalled_punished() { since | grep -E "did not deliver|not asked|banned" >"$TMP/bad.txt"; }
settled2() { stalled_punished || caught_up; }
wait_for 60 "node4 catches up again (or punishes node1)" settled2
stalled_punished && fail "node4 punished node1 for its own stall: $(head -n 3 "$TMP/bad.txt")"
pass "node4, stopped 17 s with a request out, caught up without punishing node1"
bb_check_down
echo "$BB_NAME: $passed passed"
