#!/usr/bin/env bash
# Record a large capture of real HTTP load for bench.sh.
#
#   record-load.sh [OUT]      default OUT: /var/tmp/spider-bench/http-load-1m.pcap
#
# nginx (config: nginx.conf.in here, rendered into a temporary folder) serves
# three static files of 100 B, 2 KB and 20 KB plus a few small dynamic
# answers in namespace spbench-srv; wrk (request mix: wrk-mix.lua here) loads
# it from namespace spbench-cli; tcpdump captures on the client-side veth.
# Rounds alternate a keep-alive phase (wrk -t2 -c64; nginx closes every
# connection after 100 requests) and a Connection: close phase (wrk -t2
# -c16: one request per connection), until the capture holds at least
# MIN_PACKETS packets (capinfos).
#
# Environment: MIN_PACKETS (1000000), ROUND_SECONDS (5), MAX_SECONDS (600,
# the whole recording is stopped after that), RATE_DELAY_MS (0: wrk as fast
# as it can; a per-request delay if tcpdump drops packets).
#
# Safety: all traffic stays in two namespaces created here (spbench-srv at
# 10.80.0.1, spbench-cli at 10.80.0.2), joined by one veth pair whose ends are
# created directly inside them; no default route, forwarding off, IPv6 off.
# The namespaces and every process started in them are removed on exit.
# Needs root, nginx, wrk, tcpdump, capinfos, ethtool, iproute2.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${1:-/var/tmp/spider-bench/http-load-1m.pcap}
MIN_PACKETS=${MIN_PACKETS:-1000000}
ROUND_SECONDS=${ROUND_SECONDS:-5}
MAX_SECONDS=${MAX_SECONDS:-600}
RATE_DELAY_MS=${RATE_DELAY_MS:-0}

SRV=spbench-srv
CLI=spbench-cli
S_IF=spb-s0
C_IF=spb-c0
S_ADDR=10.80.0.1
C_ADDR=10.80.0.2
WORK=""
CAP_PID=""
TMP_OUT=""
BG_PIDS=()
START=$SECONDS

log() { echo "[record-load] $*" >&2; }
die() { log "error: $*"; exit 1; }
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
have_ns() { ip netns list | grep -E "^$1( |$)" >/dev/null; }  # no -q: SIGPIPE under pipefail

# ------------------------------------------------------------ cleanup
kill_ns_procs() {
    # only processes inside our own namespaces, i.e. started by this script
    local ns=$1 pids pid i
    have_ns "$ns" || return 0
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    [ -n "$pids" ] || return 0
    for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
    for i in $(seq 300); do
        pids=$(ip netns pids "$ns" 2>/dev/null || true)
        [ -z "$pids" ] && return 0
        sleep 0.01
    done
    for pid in $pids; do kill -KILL "$pid" 2>/dev/null || true; done
}

ns_down() {
    local ns pid
    for ns in "$CLI" "$SRV"; do kill_ns_procs "$ns"; done
    for pid in $CAP_PID "${BG_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    CAP_PID=""; BG_PIDS=()
    for ns in "$CLI" "$SRV"; do
        if have_ns "$ns"; then ip netns del "$ns"; fi
    done
}

cleanup() {
    local rc=$?
    trap '' INT TERM   # a second signal must not cut the cleanup short
    ns_down || true
    [ -n "$TMP_OUT" ] && [ -e "$TMP_OUT" ] && rm -f "$TMP_OUT"
    [ -n "$WORK" ] && [ -d "$WORK" ] && rm -rf "$WORK"
    exit $rc
}

# ------------------------------------------------------------ namespaces
no_offload() {
    local ns=$1 ifc=$2
    nsx "$ns" ethtool -K "$ifc" tso off gso off gro off
    nsx "$ns" ethtool -K "$ifc" tx off rx off >/dev/null 2>&1 || true
}

ns_up() {
    local ns
    if have_ns "$SRV" || have_ns "$CLI"; then
        die "namespace $SRV or $CLI exists: another run? (ip netns del $SRV $CLI)"
    fi
    ip netns add "$SRV"
    ip netns add "$CLI"
    for ns in "$SRV" "$CLI"; do
        nsx "$ns" sysctl -qw net.ipv4.ip_forward=0
        nsx "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
        # many short connections in the close phase: reuse TIME-WAIT ports
        nsx "$ns" sysctl -qw net.ipv4.tcp_tw_reuse=1
        nsx "$ns" sysctl -qw net.ipv4.ip_local_port_range="10000 60999"
        nsx "$ns" ip link set lo up
    done
    nsx "$SRV" sysctl -qw net.core.somaxconn=4096
    # both ends are created inside the namespaces: nothing touches the host's
    ip link add "$S_IF" netns "$SRV" type veth peer name "$C_IF" netns "$CLI"
    no_offload "$SRV" "$S_IF"
    no_offload "$CLI" "$C_IF"
    nsx "$SRV" ip addr add "$S_ADDR/30" dev "$S_IF"
    nsx "$CLI" ip addr add "$C_ADDR/30" dev "$C_IF"
    nsx "$SRV" ip link set "$S_IF" up
    nsx "$CLI" ip link set "$C_IF" up
    for ns in "$SRV" "$CLI"; do
        [ "$(nsx "$ns" sysctl -n net.ipv4.ip_forward)" = 0 ] || die "forwarding on in $ns"
        [ -z "$(nsx "$ns" ip route show default)" ] || die "default route in $ns"
    done
    local feat
    feat=$(nsx "$CLI" ethtool -k "$C_IF")
    echo "$feat" | grep -E '^tcp-segmentation-offload: off' >/dev/null || die "TSO still on: $feat"
    echo "$feat" | grep -E '^generic-receive-offload: off' >/dev/null || die "GRO still on"
}

# ------------------------------------------------------------ server
start_nginx() {
    mkdir -p "$WORK/www/s" "$WORK/nginx"
    # (no `| head -c`: with pipefail, its early exit can SIGPIPE the writer)
    local text i
    text=$(printf 'x%.0s' $(seq 1 99))
    printf '%s\n' "$text" >"$WORK/www/s/small.json"
    text=$(printf '<!doctype html>\n<title>page</title>\n'; for i in $(seq 1 120); do printf '<p>item %04d</p>\n' "$i"; done)
    printf '%s' "${text:0:2048}" >"$WORK/www/s/page.html"
    text=$(for i in $(seq 1 1000); do printf '.c%04d { margin: 0 }\n' "$i"; done)
    printf '%s' "${text:0:20480}" >"$WORK/www/s/style.css"
    [ "$(stat -c %s "$WORK/www/s/small.json")" = 100 ] || die "small.json is not 100 bytes"
    [ "$(stat -c %s "$WORK/www/s/page.html")" = 2048 ] || die "page.html is not 2048 bytes"
    [ "$(stat -c %s "$WORK/www/s/style.css")" = 20480 ] || die "style.css is not 20480 bytes"
    chmod a+x "$WORK"; chmod -R a+rX "$WORK/www"
    sed -e "s|@WORK@|$WORK|g" -e "s|@ADDR@|$S_ADDR|g" "$HERE/nginx.conf.in" >"$WORK/nginx.conf"
    nsx "$SRV" nginx -t -q -c "$WORK/nginx.conf" -p "$WORK/nginx" -e "$WORK/nginx/error.log" ||
        die "nginx config: $(cat "$WORK/nginx/error.log")"
    nsx "$SRV" nginx -c "$WORK/nginx.conf" -p "$WORK/nginx" -e "$WORK/nginx/error.log" \
        >"$WORK/nginx.out" 2>&1 &
    BG_PIDS+=($!)
    local i
    for i in $(seq 500); do
        [ -n "$(nsx "$SRV" ss -Hltn "sport = :80")" ] && return 0
        sleep 0.01
    done
    die "nginx not listening: $(cat "$WORK/nginx.out" "$WORK/nginx/error.log" 2>/dev/null)"
}

# ------------------------------------------------------------ capture
start_capture() {
    local err=$WORK/tcpdump.err i
    # not through nsx (a function would run in a subshell): `ip netns exec`
    # execs tcpdump, so $! is tcpdump's pid and it gets our SIGTERM
    ip netns exec "$CLI" tcpdump -i "$C_IF" -n -Z root --immediate-mode -U -s 0 -B 65536 \
        -w "$TMP_OUT" 2>"$err" &
    CAP_PID=$!
    for i in $(seq 1000); do
        grep -q "listening on" "$err" && [ -e "$TMP_OUT" ] && return 0
        kill -0 "$CAP_PID" 2>/dev/null || die "tcpdump failed: $(cat "$err")"
        sleep 0.01
    done
    die "tcpdump not ready: $(cat "$err")"
}

quiesce() {
    # wait until no connection is still open or closing (TIME-WAIT is fine)
    local i
    for i in $(seq 1000); do
        if [ -z "$(nsx "$CLI" ss -Htn state all | grep -vE '^(LISTEN|TIME-WAIT|CLOSED)' || true)" ]; then
            return 0
        fi
        sleep 0.01
    done
    log "warning: connections still open"
}

stop_capture() {
    kill -TERM "$CAP_PID"
    wait "$CAP_PID" || true
    CAP_PID=""
    local err=$WORK/tcpdump.err
    log "tcpdump: $(grep -E 'captured|received|dropped' "$err" | tr '\n' ';')"
    grep -qE "^0 packets dropped by kernel" "$err" ||
        log "warning: tcpdump dropped packets (the capture has holes; try RATE_DELAY_MS=1)"
}

packets() {  # packets FILE: packet count (capinfos; tolerant of a record being written)
    { capinfos -c -M "$1" 2>/dev/null || true; } |
        awk -F: '/Number of packets/ {gsub(/ /,"",$2); print $2}'
}

# ------------------------------------------------------------ load
wrk_round() {  # wrk_round PHASE
    local phase=$1 left args
    left=$((MAX_SECONDS - (SECONDS - START)))
    [ "$left" -gt 5 ] || die "out of time (MAX_SECONDS=$MAX_SECONDS)"
    local dur=$ROUND_SECONDS
    [ "$dur" -lt "$((left - 5))" ] || dur=$((left - 5))
    case $phase in
    keepalive) args=(-t2 -c64) ;;
    close)     args=(-t2 -c16 -H "Connection: close") ;;
    esac
    log "round $ROUND: $phase, wrk ${args[*]} -d${dur}s"
    # in the background + wait: a signal then interrupts the wait and the
    # trap runs at once (bash defers traps while a foreground child runs)
    ip netns exec "$CLI" timeout --signal=INT --kill-after=5 $((dur + 30)) \
        wrk "${args[@]}" -d"${dur}s" --timeout 5s --latency -s "$WORK/wrk-mix.lua" \
        "http://$S_ADDR/" >"$WORK/wrk.out" 2>&1 &
    wait $! || die "wrk failed: $(cat "$WORK/wrk.out")"
    grep -E 'Requests/sec|requests in|Non-2xx|Socket errors|^ +(50|99)%' "$WORK/wrk.out" | sed 's/^/    /' >&2
}

main() {
    [ "$(id -u)" = 0 ] || die "run as root (network namespaces, tcpdump)"
    local s
    for s in nginx wrk tcpdump capinfos ethtool ip ss timeout; do
        command -v "$s" >/dev/null || die "$s not found (apt-get install nginx wrk tcpdump wireshark-common ethtool iproute2)"
    done
    mkdir -p "$(dirname "$OUT")"
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    WORK=$(mktemp -d /tmp/spbench-rec.XXXXXX)
    TMP_OUT=$(mktemp "$(dirname "$OUT")/.record-load.XXXXXX.pcap")
    cp "$HERE/wrk-mix.lua" "$WORK/wrk-mix.lua"
    if [ "$RATE_DELAY_MS" != 0 ]; then
        printf 'function delay() return %s end\n' "$RATE_DELAY_MS" >>"$WORK/wrk-mix.lua"
    fi
    ns_up
    start_nginx
    start_capture
    ROUND=0
    local n=0
    while :; do
        ROUND=$((ROUND + 1))
        if [ $((ROUND % 2)) = 1 ]; then wrk_round keepalive; else wrk_round close; fi
        quiesce
        n=$(packets "$TMP_OUT")
        log "capture: ${n:-?} packets after $((SECONDS - START)) s"
        [ -n "$n" ] && [ "$n" -ge "$MIN_PACKETS" ] && [ "$ROUND" -ge 2 ] && break
    done
    stop_capture
    n=$(packets "$TMP_OUT")
    [ -n "$n" ] && [ "$n" -ge "$MIN_PACKETS" ] || die "capture has ${n:-no} packets"
    chmod 0644 "$TMP_OUT"
    mv -f "$TMP_OUT" "$OUT"
    TMP_OUT=""
    log "wrote $OUT: $n packets, $(stat -c %s "$OUT") bytes, $((SECONDS - START)) s"
}

main "$@"
