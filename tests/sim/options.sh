#!/usr/bin/env bash
# options.sh KULA_SIM -- kula-sim's numeric options: a value out of range,
# negative, too large for its type or not a number is refused with a message
# naming the option and exit status 2 (never a crash, never a wrapped value);
# the smallest networks run.
set -u
sim=$1
fails=0
bad() { # bad WORD ARGS...: must exit 2 with a message that holds WORD
    local want=$1 err rc
    shift
    err=$("$sim" "$@" 2>&1 >/dev/null)
    rc=$?
    if [[ $rc -ne 2 || $err != *"kula-sim: $want"* ]]; then
        echo "FAIL: kula-sim $* exited $rc: $err"
        fails=$((fails + 1))
    fi
}
for v in 0 -1 17 4294967297 18446744073709551617 1x '' ' 4'; do
    bad "--validators '$v'" --seeds 1 --validators "$v"
done
for v in 0 65 -3 18446744073709551616 x; do bad "--heights '$v'" --seeds 1 --heights "$v"; done
for v in 0 -1 18446744073709551616 1e3; do bad "--seeds '$v'" --from 1 --seeds "$v"; done
for v in -1 99999999999999999999 +5; do bad "--seed '$v'" --seeds 1 --seed "$v"; done
for v in -1 abc; do bad "--from '$v'" --seeds 1 --from "$v"; done
# seeds past the last one
bad "--seeds 2 --from 18446744073709551615" --from 18446744073709551615 --seeds 2
# one and two validators (a solo validator holds > 2/3 in some seeds)
for n in 1 2; do
    out=$("$sim" --seeds 100 --validators "$n" 2>&1)
    rc=$?
    if [[ $rc -ne 0 || $out != *"100 seeds from 1, 0 failed"* ]]; then
        echo "FAIL: kula-sim --seeds 100 --validators $n exited $rc: $out"
        fails=$((fails + 1))
    fi
done
out=$("$sim" --seeds 1 --from 18446744073709551615 2>&1) ||
    { echo "FAIL: the last seed: $out"; fails=$((fails + 1)); }
[[ $fails -eq 0 ]] && echo "options: ok"
exit $((fails > 0))
