# browser.bash -- sourced by every browser test after it sets TEST, KULAD and
# KULA: the single-node helpers (tests/blackbox/single_node.bash) and a
# check that headless Chromium and python3-websocket are installed.
# shellcheck source=../blackbox/single_node.bash
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../blackbox/single_node.bash"

command -v chromium >/dev/null || fail "no chromium: tests/install-deps test installs it"
/usr/bin/python3 -c 'import websocket' 2>/dev/null ||
    fail "no python3-websocket: tests/install-deps test installs it"
