#!/usr/bin/env bash
# backup_restore.sh -- a running validator backed up, lost, restored:
# testnet/up 4, then 'kula backup' of node 4 while it commits blocks (a
# manifest that matches the copied ledger); node 4 killed -9 and its data
# directory wiped once the network has gone on, so the lost node signed
# votes the backup does not know; 'kulad --restore' refuses a non-empty
# directory and fills an empty one; restarted, node 4 logs no error, signs
# nothing until it has caught up and the network has decided one more
# block without it (so it cannot vote twice at a height it voted at
# before), then its precommits finalise blocks again; no node sees
# evidence of equivocation and testnet/check agrees.
#
# Usage: bash backup_restore.sh PATH/kulad PATH/kula
set -euo pipefail
BB_NAME=backup_restore
source "$(dirname "$0")/testnet_test.bash" "$@" # KULAD, KULA, REPO, TMP, BASE, fail, pass, wait_for

bb_up4

at_least() { (($(tn_height "$1") >= $2)); }
# commit_has K H V: the commit of block H (in block H+1) has V's precommit
commit_has() {
    q "$1" block $(($2 + 1)) --json 2>/dev/null |
        jfield '.get("last_commit", {}).get("signers", [])' 2>/dev/null | grep -qw "$3"
}
signed_after() { # signed_after K FROM: a commit above FROM has v4's precommit
    local tip h
    tip=$(tn_height "$1")
    for ((h = $2 + 1; h < tip; h++)); do commit_has "$1" "$h" 4 && return 0; done
    return 1
}
N4=$D/node4
L4=$D/node4.log # node 4's log outlives the wipe of its data directory

# ---- a backup of node 4 while it runs ----
wait_for 30 "the network reaches height 5" at_least 4 5
out=$("$KULA" --datadir "$N4" --json backup "$TMP/bk" 2>"$TMP/backup.err") ||
    fail "kula backup: $(cat "$TMP/backup.err")"
BH=$(echo "$out" | jfield '["height"]')
[[ -f $TMP/bk/MANIFEST.json && -f $TMP/bk/ledger/data.mdb && -f $TMP/bk/kulad.conf ]] ||
    fail "the backup lacks MANIFEST.json, ledger/data.mdb or kulad.conf: $(ls -R "$TMP/bk")"
[[ ! -e $TMP/bk/consensus.state ]] || fail "the backup holds consensus.state"
python3 - "$TMP/bk/MANIFEST.json" "$BH" <<'EOF' || fail "the manifest lacks a field"
import json, sys
m = json.load(open(sys.argv[1]))
for f in ("network", "chain_id", "height", "tip_hash", "state_root", "time", "version"):
    assert f in m, f
assert m["height"] == int(sys.argv[2]) and m["height"] >= 5, m
EOF
# the tip hash of the manifest is the network's block at that height
tip=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tip_hash"])' "$TMP/bk/MANIFEST.json")
net=$(q 1 block "$BH" --json | jfield '["hash"]')
[[ $tip == "$net" ]] || fail "the manifest's tip $tip is not block $BH's hash $net"
pass "kula backup of running node 4 at height $BH: ledger, kulad.conf, a manifest naming block $BH's hash"
out=$("$KULA" --datadir "$N4" backup "$TMP/bk" 2>&1) && fail "a second backup into the same folder was accepted"
grep -q "already exists: give a new folder" <<<"$out" || fail "backup into an existing folder: $out"
pass "a backup into an existing folder is refused, naming it"

# ---- node 4 lost after voting past the backup, its directory wiped ----
wait_for 30 "the network goes 3 blocks past the backup" at_least 4 $((BH + 3))
kill -KILL "$(tn_node_pid 4)"
LOST=$(tn_height 1)
cp "$N4/kulad.log" "$L4"
rm -rf "$N4"
wait_for 30 "the network goes on with 3 of 4 validators" at_least 1 $((LOST + 3))
pass "node 4 killed -9 at about height $LOST and its data directory wiped; the network goes on"

# ---- restore: never over a data directory, into an empty one ----
mkdir -p "$TMP/busy" && echo x >"$TMP/busy/keep"
code=0
"$KULAD" --restore "$TMP/bk" --datadir "$TMP/busy" >"$TMP/busy.out" 2>"$TMP/busy.err" || code=$?
((code == 2)) || fail "restore into a non-empty directory exited $code (expected 2)"
grep -q "is not empty (it holds keep): a restore never overwrites" "$TMP/busy.err" ||
    fail "restore into a non-empty directory: $(cat "$TMP/busy.err")"
[[ $(ls "$TMP/busy") == keep ]] || fail "the refused restore changed the directory"
pass "kulad --restore refuses a non-empty data directory and leaves it as it was"
"$KULAD" --restore "$TMP/bk" --datadir "$N4" >"$TMP/restore.out" 2>"$TMP/restore.err" ||
    fail "kulad --restore: $(cat "$TMP/restore.err")"
grep -q "restored $TMP/bk into $N4: network .*, height $BH," "$TMP/restore.out" ||
    fail "kulad --restore did not say what it restored" "$TMP/restore.out"
pass "kulad --restore fills the empty data directory of node 4 (height $BH)"

# ---- restarted: holds, catches up, signs again ----
echo "==== restarted from the backup" >>"$L4"
tn_start_node 4 || fail "start the restored node 4"
BB_LOGS+=("$N4/kulad.log")
caught() { grep -q "restored: caught up with the peers at height" "$N4/kulad.log"; }
wait_for 60 "the restored node catches up with its peers" caught
T=$(sed -n 's/.*restored: caught up with the peers at height \([0-9]*\);.*/\1/p' "$N4/kulad.log")
((T >= LOST)) || fail "caught up at $T, below the height $LOST the network had when node 4 was lost"
resumed() { grep -q "restored: this validator signs again from height" "$N4/kulad.log"; }
wait_for 60 "the restored node signs again" resumed
R=$(sed -n 's/.*restored: this validator signs again from height \([0-9]*\).*/\1/p' "$N4/kulad.log")
((R >= T + 2)) || fail "the restored node signs again from height $R, not above $((T + 1)) where it may have voted"
wait_for 30 "block $((T + 2)) exists" at_least 1 $((T + 2))
if commit_has 1 $((T + 1)) 4; then fail "the restored node precommitted at height $((T + 1)), where it may have voted before"; fi
from=$(tn_height 1)
wait_for 60 "a block after the restore carries node 4's precommit" signed_after 1 "$from"
pass "the restored node catches up to $T, signs nothing at $((T + 1)), then its precommits finalise blocks"
if grep -q " error " "$N4/kulad.log"; then
    fail "the restored node logged an error: $(grep ' error ' "$N4/kulad.log" | head -3)"
fi
[[ ! -e $N4/restored ]] || fail "the marker $N4/restored is left after signing resumed"
for k in 1 2 3 4; do
    if grep -q "signed two different" "$D/node$k/kulad.log"; then
        fail "node$k saw an equivocation: $(grep 'signed two different' "$D/node$k/kulad.log" | head -2)"
    fi
done
pass "no error logged by the restored node; no equivocation seen by any node"

bb_check_down
echo "backup_restore: $passed passed, 0 failed"
