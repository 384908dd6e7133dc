#!/usr/bin/env bash
# install.sh -- 'cmake --install' of the build under test into staging
# folders, as a package would: DESTDIR with prefix /usr, and a prefix given
# at install time.  Checks the installed files (kulad, kula, kulad(8),
# kula(1), kulad.conf(5), the systemd unit and its user, the example
# kulad.conf, bash completion); that 'man -l' renders each page without a
# warning; that 'systemd-analyze verify' accepts the unit and it has its
# hardening; that the example kulad.conf, the man page kulad.conf(5) and
# config.c know the same settings and kulad reads the example; that kula(1)
# and the completion know every command of kula's command table; and that
# the installed kulad stops cleanly on SIGTERM, as the unit stops it.
#
# Usage: bash install.sh PATH/TO/kulad PATH/TO/kula  (kulad in the build dir)
set -euo pipefail
TEST=install
# shellcheck source=single_node.bash
. "$(dirname "${BASH_SOURCE[0]}")/single_node.bash" "$@" # KULAD, KULA from the arguments
BUILD=$(dirname "$KULAD")
[ -f "$BUILD/CMakeCache.txt" ] || fail "$BUILD (kulad's folder) is not a CMake build directory"

# ---- DESTDIR=STAGE, prefix /usr: the files a package holds ----
S=$TMP/stage
DESTDIR=$S cmake --install "$BUILD" --prefix /usr >"$TMP/install.out" 2>&1 ||
    fail "DESTDIR=$S cmake --install --prefix /usr failed" "$TMP/install.out"
want="usr/bin/kula usr/bin/kulad usr/lib/systemd/system/kulad.service
usr/lib/sysusers.d/kula.conf usr/share/bash-completion/completions/kula
usr/share/doc/kula/kulad.conf.example usr/share/man/man1/kula.1
usr/share/man/man5/kulad.conf.5 usr/share/man/man8/kulad.8"
got=$(cd "$S" && find . -type f | sed 's|^\./||' | sort)
[ "$got" = "$(echo $want | tr ' ' '\n' | sort)" ] ||
    fail "the staged files are not the expected ones: $(echo "$got" | tr '\n' ' ')"
[ -x "$S/usr/bin/kulad" ] && [ -x "$S/usr/bin/kula" ] || fail "kulad or kula is not executable"
"$S/usr/bin/kulad" --version | grep -q '^kulad [0-9]' || fail "the installed kulad has no --version"
"$S/usr/bin/kula" --version | grep -q '^kula [0-9]' || fail "the installed kula has no --version"
grep -q '^ExecStart=/usr/bin/kulad --datadir /var/lib/kula$' "$S/usr/lib/systemd/system/kulad.service" ||
    fail "the unit does not start /usr/bin/kulad" "$S/usr/lib/systemd/system/kulad.service"
grep -q '^u kula ' "$S/usr/lib/sysusers.d/kula.conf" || fail "sysusers.d makes no user kula"
ok "DESTDIR + --prefix /usr: exactly kulad, kula, 3 man pages, the unit, its user, the example, the completion"

# ---- the man pages render without a warning ----
for page in man8/kulad.8 man1/kula.1 man5/kulad.conf.5; do
    name=$(basename "$page")
    LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$S/usr/share/man/$page" >"$TMP/$name.txt" 2>"$TMP/$name.err" ||
        fail "man -l $page failed" "$TMP/$name.err"
    [ ! -s "$TMP/$name.err" ] || fail "man -l $page warns" "$TMP/$name.err"
    grep -q '^NAME' "$TMP/$name.txt" || fail "$page has no NAME section" "$TMP/$name.txt"
done
tr -s ' \n' '  ' <"$ROOT/node/daemon/kulad.8.scd" | grep -q 'signs nothing until it has caught up' ||
    fail "kulad(8) does not say why a restored validator waits"
ok "man -l renders kulad(8), kula(1) and kulad.conf(5) without a warning"

# ---- the unit: systemd-analyze verify, and its hardening ----
P=$TMP/prefix/usr
cmake --install "$BUILD" --prefix "$P" >"$TMP/install2.out" 2>&1 ||
    fail "cmake --install --prefix $P failed" "$TMP/install2.out"
UNIT=$P/lib/systemd/system/kulad.service
grep -q "^ExecStart=$P/bin/kulad " "$UNIT" || fail "the unit does not follow the install prefix" "$UNIT"
MANPATH=$P/share/man systemd-analyze verify "$UNIT" >"$TMP/verify.out" 2>&1 ||
    fail "systemd-analyze verify refuses the unit" "$TMP/verify.out"
[ ! -s "$TMP/verify.out" ] || fail "systemd-analyze verify complains" "$TMP/verify.out"
for line in User=kula ProtectSystem=strict ReadWritePaths=/var/lib/kula NoNewPrivileges=yes \
    PrivateTmp=yes Restart=on-failure KillSignal=SIGTERM; do
    grep -qx "$line" "$UNIT" || fail "the unit lacks $line" "$UNIT"
done
ok "systemd-analyze verify accepts the unit; dedicated user, ProtectSystem=strict, ReadWritePaths, NoNewPrivileges, PrivateTmp, Restart=on-failure, SIGTERM"

# ---- kulad.conf: config.c, the example and kulad.conf(5) know the same settings ----
EX=$S/usr/share/doc/kula/kulad.conf.example
from_code=$(sed -n '/^static int load_file/,/^}/p' "$ROOT/node/daemon/config.c" |
    grep -o 'strcmp(name, "[a-z-]*")' | sed 's/.*"\(.*\)")/\1/' | sort -u)
[ -n "$from_code" ] || fail "no setting found in config.c's load_file"
from_example=$(sed -n 's/^#\([a-z][a-z-]*\) = .*/\1/p' "$EX" | sort -u)
from_man=$(sed -n 's/^\*\([a-z][a-z-]*\)\* = .*/\1/p' "$ROOT/node/daemon/kulad.conf.5.scd" | sort -u)
[ "$from_example" = "$from_code" ] ||
    fail "the example's settings ($(echo $from_example)) are not config.c's ($(echo $from_code))"
[ "$from_man" = "$from_code" ] ||
    fail "kulad.conf(5)'s settings ($(echo $from_man)) are not config.c's ($(echo $from_code))"
mkdir -p "$D"
sed 's/^#\([a-z][a-z-]* = \)/\1/' "$EX" >"$D/kulad.conf"
"$S/usr/bin/kulad" --datadir "$D" --check-config >"$TMP/check.out" 2>"$TMP/check.err" ||
    fail "kulad --check-config refuses the example with every setting set" "$TMP/check.err" "$D/kulad.conf"
for name in $from_code; do
    grep -q "^$name = " "$TMP/check.out" || fail "kulad --check-config does not show $name" "$TMP/check.out"
done
grep -q '^debug = net,p2p$' "$TMP/check.out" || fail "the example's debug = net,p2p is not in force" "$TMP/check.out"
echo 'colour = blue' >>"$D/kulad.conf"
code=0
"$S/usr/bin/kulad" --datadir "$D" --check-config >/dev/null 2>"$TMP/bad.err" || code=$?
[ "$code" -eq 2 ] && grep -q "kulad.conf:[0-9]*: unknown setting 'colour'" "$TMP/bad.err" ||
    fail "an unknown setting is not refused with its line (exit $code)" "$TMP/bad.err"
ok "config.c, the example and kulad.conf(5) list the same $(echo $from_code | wc -w) settings; kulad reads the example with all of them set"

# ---- kula's command table: in kula(1) and in the completion ----
table=$(grep -o '^    { "[a-z-]*", cmd_' "$ROOT/cli/kula.c" | sed 's/.*"\(.*\)".*/\1/' | sort)
[ -n "$table" ] || fail "no command found in cli/kula.c's table"
for c in $table; do
    grep -qx "\*$c\*" "$ROOT/cli/kula.1.scd" || fail "kula(1) does not describe the command $c"
done
completed=$(bash -c '. "$1"; _kula_commands "$2"' _ "$S/usr/share/bash-completion/completions/kula" \
    "$S/usr/bin/kula" | sort)
[ "$completed" = "$table" ] ||
    fail "the completion offers ($(echo $completed)), the table has ($(echo $table))"
got=$(bash -c '. "$1"; COMP_WORDS=("$2" --datadir x ba); COMP_CWORD=3; _kula; echo "${COMPREPLY[*]}"' _ \
    "$S/usr/share/bash-completion/completions/kula" "$S/usr/bin/kula")
[ "$got" = "balance backup" ] || fail "kula --datadir x ba<TAB> offers '$got'"
got=$(bash -c '. "$1"; COMP_WORDS=("$2" pay --n); COMP_CWORD=2; _kula; echo "${COMPREPLY[*]}"' _ \
    "$S/usr/share/bash-completion/completions/kula" "$S/usr/bin/kula")
[ "$got" = "--no-wait" ] || fail "kula pay --n<TAB> offers '$got'"
ok "kula(1) and the completion know each of the $(echo $table | wc -w) commands of kula's table"

# ---- the installed kulad stops cleanly on SIGTERM (the unit's KillSignal) ----
rm -f "$D/kulad.conf"
KULAD=$S/usr/bin/kulad
start_node
stop_node
grep -q 'stopped cleanly' "$TMP/kulad.log" || fail "no 'stopped cleanly' after SIGTERM" "$TMP/kulad.log"
ok "the installed kulad exits 0 on SIGTERM after a clean shutdown"

echo "$TEST: $passed passed"
