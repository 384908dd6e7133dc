#!/usr/bin/env bash
# health_disk.sh -- a node whose disk fills says so: a single-validator kulad
# with its data directory on a small tmpfs that this test mounts (and
# unmounts); once a filler takes the last free byte, GET /health answers 503
# "storage-error" naming the full disk, `kula status` and /metrics say the
# same, the log has one error and one warning (not a line per block); once
# the filler is gone the node is ok again and blocks follow.
#
# Needs root (mount); without it the test says so and passes as skipped.
# Usage: bash health_disk.sh PATH/TO/kulad PATH/TO/kula
set -euo pipefail

TEST=health_disk
# shellcheck source=single_node.bash
. "$(dirname "${BASH_SOURCE[0]}")/single_node.bash" "$@"

MNT=$TMP/disk
mkdir -p "$MNT"
if [ "$(id -u)" -ne 0 ] || ! mount -t tmpfs -o size=16m tmpfs "$MNT" 2>"$TMP/mount.err"; then
    echo "$TEST: skipped: cannot mount a tmpfs here ($(cat "$TMP/mount.err" 2>/dev/null))"
    echo "$TEST: 0 passed, 0 failed, 1 skipped"
    exit 0
fi
unmount_then_cleanup() {
    if [ -n "$KPID" ]; then
        kill -KILL "$KPID" 2>/dev/null || true
        wait "$KPID" 2>/dev/null || true
        KPID=
    fi
    umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
    cleanup
}
trap unmount_then_cleanup EXIT
D=$MNT/data
start_node
URL="http://127.0.0.1:$PORT/"

# health_is STATE SECONDS: until GET /health says STATE (HTTP 200 for ok,
# 503 otherwise); its body is left in health.json.
health_is() {
    local want=$1 tenths=$(($2 * 10)) code
    while :; do
        code=$(curl -s -m 2 -o "$TMP/health.json" -w '%{http_code}' "${URL}health" || echo 000)
        if grep -q "\"status\":\"$want\"" "$TMP/health.json" 2>/dev/null; then
            if [ "$want" = ok ]; then [ "$code" = 200 ]; else [ "$code" = 503 ]; fi ||
                fail "GET /health says $want with HTTP $code" "$TMP/health.json"
            return 0
        fi
        running || fail "kulad stopped"
        tenths=$((tenths - 2))
        [ "$tenths" -gt 0 ] || fail "GET /health is not '$want' after $2 s" "$TMP/health.json"
        sleep 0.2
    done
}

health_is ok 10
ok "a fresh node is ok (HTTP 200)"

# Fill the file system to the last byte.
dd if=/dev/zero of="$MNT/filler" bs=64k 2>/dev/null || true
health_is storage-error 30
grep -q "disk is full" "$TMP/health.json" || fail "the reason does not name the full disk" "$TMP/health.json"
k st status
grep -q "health .*storage-error: the disk is full" "$TMP/st.out" || fail "kula status does not say the disk is full" "$TMP/st.out"
curl -s -m 5 "${URL}metrics" >"$TMP/metrics.txt"
grep -q '^kula_health{state="storage-error"} 1' "$TMP/metrics.txt" || fail "metrics: no storage-error state" "$TMP/metrics.txt"
grep -q '^kula_commit_failures_total [1-9]' "$TMP/metrics.txt" || fail "metrics: no commit failure counted" "$TMP/metrics.txt"
ok "a full disk: /health 503 storage-error naming the full disk, kula status and /metrics agree"

# A few more failed blocks must not add a log line each.
failures() { curl -s -m 2 "${URL}metrics" | sed -n 's/^kula_commit_failures_total //p'; }
f0=$(failures)
tenths=300
while [ "$(failures)" -lt $((f0 + 3)) ]; do
    running || fail "kulad stopped"
    tenths=$((tenths - 2))
    [ "$tenths" -gt 0 ] || fail "the node stopped trying to commit blocks" "$TMP/kulad.log"
    sleep 0.2
done
# (what fails is the block's commit, and a write of the consensus files when
# one needs a disk block it has not used yet: they are written in place,
# SPEC §9.2; each says so once)
said() { grep -Ec "$1" "$TMP/kulad.log" || true; }
n_commit=$(said "cannot commit")
n_state=$(said "cannot write .*consensus\.state")
n_blocks=$(said "cannot write .*consensus\.blocks")
[ $((n_commit + n_state + n_blocks)) -ge 1 ] && [ "$n_commit" -le 1 ] && [ "$n_state" -le 1 ] &&
    [ "$n_blocks" -le 1 ] ||
    fail "the failing writes are not logged once each" "$TMP/kulad.log"
grep -q "health: storage-error" "$TMP/kulad.log" || fail "no warning of the state change in the log" "$TMP/kulad.log"
ok "the log says it once: one error, one health warning"

before=$(height)
rm -f "$MNT/filler"
health_is ok 30
wait_height $((before + 2)) 20 || fail "no block after the disk has room again"
grep -q "health: ok again" "$TMP/kulad.log" || fail "the log does not say the node is ok again" "$TMP/kulad.log"
ok "room again: ok, blocks follow"

stop_node
echo "$TEST: $passed passed, 0 failed"
