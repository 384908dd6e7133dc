# lib.sh -- shell functions shared by testnet/up, down, check and chaos
# (sourced, not run).  See testnet/README.md.
#
# The run directory is $KULA_TESTNET_DIR, default testnet/run/ of the
# repository; testnet/up writes RUN/testnet.env, which the other tools source.

TN_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TN_DIR=${KULA_TESTNET_DIR:-$TN_ROOT/testnet/run}
mkdir -p "$(dirname "$TN_DIR")" 2>/dev/null || true
TN_DIR=$(cd "$(dirname "$TN_DIR")" 2>/dev/null && pwd)/$(basename "$TN_DIR")
TN_ME=$(basename "$0")

tn_die() { echo "$TN_ME: $*" >&2; exit 1; }
tn_say() { echo "$TN_ME: $*"; }
tn_now() { echo "${EPOCHREALTIME/,/.}"; } # seconds, with microseconds

# tn_load_env: source RUN/testnet.env (written by testnet/up) or fail.
tn_load_env() {
    [[ -f $TN_DIR/testnet.env ]] ||
        tn_die "no testnet in $TN_DIR (no testnet.env): start one with testnet/up"
    # shellcheck disable=SC1091
    source "$TN_DIR/testnet.env"
}

tn_node_dir() { echo "$TN_DIR/node$1"; }
tn_rpc_port() { echo $((BASE + 2 * $1 + 1)); }
tn_p2p_port() { echo $((BASE + 2 * $1)); }

# tn_is_node_pid PID DIR: PID is a live (not zombie) kulad running on DIR.
tn_is_node_pid() {
    local pid=$1 dir=$2 state cmd
    [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || return 1
    state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
    [[ $state != Z && -n $state ]] || return 1
    cmd=$(tr "\0" "\n" 2>/dev/null <"/proc/$pid/cmdline") || return 1
    [[ $(head -n 1 <<<"$cmd") == *kulad* ]] || return 1
    grep -qxF -- "$dir" <<<"$cmd"
}

# tn_node_pid K: prints the pid of node K if it is running (from its pid file).
tn_node_pid() {
    local dir pid
    dir=$(tn_node_dir "$1")
    [[ -f $dir/kulad.pid ]] || return 1
    pid=$(<"$dir/kulad.pid")
    tn_is_node_pid "$pid" "$dir" || return 1
    echo "$pid"
}

# tn_stray_pids: every live kulad whose --datadir is a node of this run
# directory, whether or not a pid file names it.
tn_stray_pids() {
    local f p a args
    for f in /proc/[0-9]*/cmdline; do
        p=${f#/proc/}
        p=${p%/cmdline}
        args=()
        mapfile -d "" -t args 2>/dev/null <"$f" || continue
        [[ ${args[0]:-} == *kulad* ]] || continue
        for a in "${args[@]:1}"; do
            if [[ $a == "$TN_DIR"/node* && ${a#"$TN_DIR"/node} =~ ^[0-9]+/?$ ]]; then
                [[ $(awk '{print $3}' "/proc/$p/stat" 2>/dev/null) == Z ]] || echo "$p"
                break
            fi
        done
    done
}

# tn_start_node K [KULAD ARGS...]: starts node K in its own session (so a
# Ctrl-C in the terminal does not reach it, and it is never a child of the
# caller), log appended to nodeK/kulad.log, pid in nodeK/kulad.pid.  Waits
# (bounded) until it has written its pid and a fresh rpc.cookie.
tn_start_node() {
    local k=$1 dir pid i
    shift
    dir=$(tn_node_dir "$k")
    rm -f "$dir/kulad.pid" "$dir/rpc.cookie"
    echo "==== $(date -u +%FT%TZ) $TN_ME: start $*" >>"$dir/kulad.log"
    setsid -f sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$dir/kulad.pid" \
        $(tn_netns_exec "$k") "$KULAD" --datadir "$dir" "$@" </dev/null >>"$dir/kulad.log" 2>&1
    for ((i = 0; i < 300; i++)); do
        if [[ -s $dir/kulad.pid ]]; then
            pid=$(<"$dir/kulad.pid")
            [[ -f $dir/rpc.cookie ]] && return 0
            if ((i > 5)) && ! tn_is_node_pid "$pid" "$dir"; then
                echo "$TN_ME: node$k (kulad) exited at start; last lines of $dir/kulad.log:" >&2
                tail -n 5 "$dir/kulad.log" >&2
                return 1
            fi
        fi
        sleep 0.1
    done
    echo "$TN_ME: node$k wrote no rpc.cookie within 30 s (see $dir/kulad.log)" >&2
    return 1
}

# tn_stop_pids SECONDS PID...: SIGCONT (a paused node cannot act on SIGTERM)
# and SIGTERM each, wait up to SECONDS for all, then SIGKILL what is left.
# Prints the pids that needed SIGKILL.  Returns 0.
tn_stop_pids() {
    local secs=$1 p i left
    shift
    (($# > 0)) || return 0
    for p in "$@"; do kill -CONT "$p" 2>/dev/null || true; done
    for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; done
    for ((i = 0; i < secs * 10; i++)); do
        left=()
        for p in "$@"; do
            [[ -d /proc/$p && $(awk '{print $3}' "/proc/$p/stat" 2>/dev/null) != Z ]] && left+=("$p")
        done
        ((${#left[@]} == 0)) && return 0
        sleep 0.1
    done
    for p in "${left[@]}"; do
        kill -KILL "$p" 2>/dev/null || true
        echo "$p"
    done
    sleep 0.2
    return 0
}

# tn_height K [TIMEOUT]: node K's height from GET /health (no token, no
# process started), or -1 if it does not answer within TIMEOUT s (default 2;
# a paused node accepts the connection but never answers).
tn_height() {
    local port fd line body="" t=${2:-2}
    port=$(tn_rpc_port "$1")
    if ! { exec {fd}<>"/dev/tcp/$(tn_rpc_host "$1")/$port"; } 2>/dev/null; then
        echo -1
        return 0
    fi
    { printf 'GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&"$fd"; } 2>/dev/null || true
    while IFS= read -r -t "$t" -u "$fd" line || [[ -n $line ]]; do
        body+=$line
        [[ $body =~ \"height\":[0-9]+\} ]] && break
        line=""
    done
    exec {fd}>&-
    if [[ $body =~ \"height\":([0-9]+) ]]; then echo "${BASH_REMATCH[1]}"; else echo -1; fi
}

# tn_port_busy PORT: something listens on 127.0.0.1:PORT.
tn_port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---- network namespaces (testnet/up --netns; see testnet/README.md) ----
# testnet.env then sets NETNS_TAG (a tag of the run) and NET_PREFIX (10.77.S):
# node K runs in the namespace kt-TAG-nK at NET_PREFIX.K, joined by a veth
# pair (kt-TAG-vK outside, kt-TAG-pK inside) to the bridge kt-TAG
# (NET_PREFIX.254, in the root namespace, so that the tools reach each node's
# API).  Everything is written to RUN/netns.state before it is made, so that
# testnet/down removes it even after a crash.

# tn_netns K: the namespace of node K (nothing without --netns).
tn_netns() { if [[ -n ${NETNS_TAG:-} ]]; then echo "kt-$NETNS_TAG-n$1"; fi; }

# tn_netns_exec K: the words that run a command in node K's namespace (none
# without --netns); used unquoted, as namespace names have no blanks.
tn_netns_exec() { if [[ -n ${NETNS_TAG:-} ]]; then echo "ip netns exec kt-$NETNS_TAG-n$1"; fi; }

# tn_rpc_host K: the address of node K's API.
tn_rpc_host() { if [[ -n ${NETNS_TAG:-} ]]; then echo "$NET_PREFIX.$1"; else echo 127.0.0.1; fi; }

# tn_netns_record KIND NAME: adds "KIND NAME" to RUN/netns.state, before the
# thing is made (KIND: bridge, netns, veth, or proxy with its pid file).
tn_netns_record() { echo "$1 $2" >>"$TN_DIR/netns.state"; }

# tn_is_proxy_pid PID: PID is a live kula-netproxy.
tn_is_proxy_pid() {
    [[ $1 =~ ^[0-9]+$ && -r /proc/$1/cmdline ]] || return 1
    [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]] || return 1
    [[ $(tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | head -n 1) == *kula-netproxy ]]
}

# tn_netns_teardown: stops the proxies and removes every namespace, veth and
# bridge that RUN/netns.state lists, last made first (what is already gone is
# skipped), then the state file.  When something could not be removed it
# prints what, keeps the state file and returns 1.  Needs root.
tn_netns_teardown() {
    local f=$TN_DIR/netns.state kind name pid left=() lines=() i
    [[ -f $f ]] || return 0
    mapfile -t lines <"$f"
    for ((i = ${#lines[@]} - 1; i >= 0; i--)); do
        read -r kind name <<<"${lines[i]}"
        case $kind in
        proxy)
            pid=$(cat "$name" 2>/dev/null) || continue
            if tn_is_proxy_pid "$pid"; then tn_stop_pids 5 "$pid" >/dev/null; fi
            rm -f "$name"
            ;;
        netns) ip netns del "$name" 2>/dev/null || true ;;
        veth | bridge) ip link del "$name" 2>/dev/null || true ;;
        esac
    done
    for ((i = 0; i < ${#lines[@]}; i++)); do
        read -r kind name <<<"${lines[i]}"
        case $kind in
        proxy) if pid=$(cat "$name" 2>/dev/null) && tn_is_proxy_pid "$pid"; then left+=("kula-netproxy pid $pid"); fi ;;
        netns) if [[ -e /run/netns/$name ]]; then left+=("namespace $name"); fi ;;
        veth | bridge) if [[ -e /sys/class/net/$name ]]; then left+=("$kind $name"); fi ;;
        esac
    done
    if ((${#left[@]} > 0)); then
        echo "${left[*]}"
        return 1
    fi
    rm -f "$f"
}

# tn_nft K [RULES]: replaces the table 'kula_chaos' of node K's namespace by
# one holding RULES (nft syntax: the chains of the table); without RULES the
# table is removed, which heals every link that testnet/chaos cut there.
tn_nft() {
    local ns
    ns=$(tn_netns "$1")
    [[ -n $ns ]] || return 1
    ip netns exec "$ns" nft delete table inet kula_chaos 2>/dev/null || true
    [[ -n ${2:-} ]] || return 0
    printf 'table inet kula_chaos {\n%s\n}\n' "$2" | ip netns exec "$ns" nft -f -
}

# tn_start_proxy K: starts node K's kula-netproxy in its namespace, in front
# of its peer port (NET_PREFIX.K:P -> 127.0.0.1:P), with the latency of
# testnet.env; pid in nodeK/netproxy.pid, log appended to nodeK/netproxy.log.
tn_start_proxy() {
    local k=$1 dir port i pid
    dir=$(tn_node_dir "$k")
    port=$(tn_p2p_port "$k")
    rm -f "$dir/netproxy.pid"
    : >>"$dir/netproxy.log"
    local before
    before=$(grep -c relaying "$dir/netproxy.log" || true)
    tn_netns_record proxy "$dir/netproxy.pid"
    setsid -f sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$dir/netproxy.pid" \
        ip netns exec "$(tn_netns "$k")" "$NETPROXY" --listen "$NET_PREFIX.$k:$port" \
        --to "127.0.0.1:$port" --delay "$LATENCY_MS" --jitter "$JITTER_MS" \
        --loss "$LOSS_PCT" </dev/null >>"$dir/netproxy.log" 2>&1
    for ((i = 0; i < 100; i++)); do
        if [[ -s $dir/netproxy.pid ]]; then
            pid=$(<"$dir/netproxy.pid")
            if (($(grep -c relaying "$dir/netproxy.log" || true) > before)) && tn_is_proxy_pid "$pid"; then
                return 0
            fi
            if ((i > 5)) && ! tn_is_proxy_pid "$pid"; then
                echo "$TN_ME: node$k's kula-netproxy exited at start:" >&2
                tail -n 3 "$dir/netproxy.log" >&2
                return 1
            fi
        fi
        sleep 0.1
    done
    echo "$TN_ME: node$k's kula-netproxy did not start within 10 s (see $dir/netproxy.log)" >&2
    return 1
}
