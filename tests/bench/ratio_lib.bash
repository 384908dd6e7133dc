# ratio_lib.bash -- what tests/bench/testnet_ratio and ingest_ratio share.
# Sourced, not run, after `set -euo pipefail`.  Defines die and usage (the
# script's header comment), checks of the options both take, and the run
# directory of their testnet.  The script sets port, kulad, kula, keep and
# updargs from its arguments before calling the functions.
# shellcheck disable=SC2154 # port, kulad, kula, keep: set by the script

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
me=$(basename "$0")
die() { echo "$me: $*" >&2; exit 2; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

# ratio_check_common: --port, and --kulad with --kula; sets updargs, the
# arguments testnet/up takes for the binaries (appended to what it holds).
ratio_check_common() {
    [[ $port =~ ^[0-9]+$ && $port -ge 1024 && $port -le 65000 ]] ||
        die "--port: a port base from 1024 to 65000, not '$port'"
    [[ -z $kulad && -z $kula ]] || [[ -x $kulad && -x $kula ]] ||
        die "--kulad and --kula go together, each an executable file"
    [[ -n $kulad ]] && updargs+=(--kulad "$kulad" --kula "$kula")
    return 0
}

# ratio_run_dir NAME: the testnet's directory, $keep or a fresh temporary
# one (kula-NAME.XXXXXX, left for testnet/up to create), exported as
# KULA_TESTNET_DIR and set as run; out is a temporary file for the load's
# output.  On exit the testnet is stopped, and removed unless kept.
ratio_run_dir() {
    if [[ -n $keep ]]; then
        [[ -e $keep ]] && die "--keep $keep: exists already (give a new directory)"
        run=$keep
    else
        run=$(mktemp -d "${TMPDIR:-/tmp}/kula-$1.XXXXXX")
        rmdir "$run" # testnet/up creates it
    fi
    export KULA_TESTNET_DIR=$run
    out=$(mktemp)
    trap ratio_finish EXIT
    trap 'exit 1' INT TERM
}
# shellcheck disable=SC2317 # called by the EXIT trap
ratio_finish() {
    local clean=()
    [[ -n $keep ]] || clean=(--clean)
    "$root/testnet/down" "${clean[@]}" >/dev/null 2>&1 || true
    rm -f "$out"
}
