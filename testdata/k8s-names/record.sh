#!/usr/bin/env bash
# Record testdata/k8s-names/shop-web-db.pcap: a small HTTP exchange between the addresses of two
# pods of the Kubernetes fixtures (testdata/k8s/cluster): the client is shop/web-6b7f9c7d5-k2x8p
# (10.244.0.10), the server shop/db-0 (10.244.1.20). The Whisperer's test of names from the
# Controller (actors/whisperer/tests/names.rs) replays it and expects those pods' names.
#
#   record.sh        (root; needs ip, tcpdump, tshark, curl, ethtool, ss, /usr/bin/python3)
#
# Writes shop-web-db.pcap and shop-web-db.truth.json (tshark's view, by ../record/truth.py)
# beside this script.
#
# Safety: all traffic stays in two network namespaces created here (spdr-k8s-web, spdr-k8s-db)
# joined by one veth pair whose ends are created directly inside them; forwarding is off in
# both, IPv6 is off, and neither has a route beyond 10.244.0.0/16 on that pair. The namespaces
# and every process started in them are removed on exit, whatever happens.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=${PY:-/usr/bin/python3}
NAME=shop-web-db
WEB=spdr-k8s-web
DB=spdr-k8s-db
WEB_IF=spdr-kw0
DB_IF=spdr-kd0
WEB_IP=10.244.0.10
DB_IP=10.244.1.20
PORT=8080
WORK=""

log() { echo "[k8s-names] $*" >&2; }
die() { log "error: $*"; exit 1; }
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
has_ns() { ip netns list | grep -qE "^$1( |$)"; }

kill_ns_procs() {  # only processes inside our own namespaces, i.e. started here
    local ns=$1 pids pid
    has_ns "$ns" || return 0
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
    for _ in $(seq 200); do
        [ -z "$(ip netns pids "$ns" 2>/dev/null || true)" ] && return 0
        sleep 0.01
    done
    for pid in $(ip netns pids "$ns" 2>/dev/null || true); do kill -KILL "$pid" 2>/dev/null || true; done
}

cleanup() {
    local rc=$? ns
    for ns in "$WEB" "$DB"; do kill_ns_procs "$ns"; done
    wait 2>/dev/null || true
    for ns in "$WEB" "$DB"; do
        if has_ns "$ns"; then ip netns del "$ns"; fi
    done
    for ns in "$WEB" "$DB"; do
        if has_ns "$ns"; then log "namespace $ns is still there"; rc=1; fi
    done
    [ -n "$WORK" ] && rm -rf "$WORK"
    exit $rc
}

no_offload() {  # real frame sizes: no segmentation or checksum offload
    local ns=$1 ifc=$2 f
    for f in tso gso gro tx rx; do nsx "$ns" ethtool -K "$ifc" "$f" off >/dev/null 2>&1 || true; done
    nsx "$ns" ethtool -k "$ifc" | grep -q "^tcp-segmentation-offload: off" || die "TSO still on for $ifc"
}

main() {
    [ "$(id -u)" = 0 ] || die "run as root (network namespaces, tcpdump)"
    local tool
    for tool in ip tcpdump tshark curl ethtool ss "$PY"; do
        command -v "$tool" >/dev/null || die "$tool not found"
    done
    local ns
    for ns in "$WEB" "$DB"; do
        if has_ns "$ns"; then die "namespace $ns exists already"; fi
    done
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    WORK=$(mktemp -d /tmp/spdr-k8s-names.XXXXXX)

    for ns in "$WEB" "$DB"; do
        ip netns add "$ns"
        nsx "$ns" sysctl -qw net.ipv4.ip_forward=0
        nsx "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
        nsx "$ns" ip link set lo up
    done
    # The veth ends are created inside the namespaces: nothing is in the host's namespace.
    ip link add "$WEB_IF" netns "$WEB" type veth peer name "$DB_IF" netns "$DB"
    no_offload "$WEB" "$WEB_IF"
    no_offload "$DB" "$DB_IF"
    nsx "$WEB" ip addr add "$WEB_IP/16" dev "$WEB_IF"
    nsx "$DB" ip addr add "$DB_IP/16" dev "$DB_IF"
    nsx "$WEB" ip link set "$WEB_IF" up
    nsx "$DB" ip link set "$DB_IF" up
    for ns in "$WEB" "$DB"; do
        [ "$(nsx "$ns" sysctl -n net.ipv4.ip_forward)" = 0 ] || die "forwarding on in $ns"
    done

    mkdir -p "$WORK/www/api"
    printf '{"rows": [[1, "espresso"], [2, "lungo"]]}\n' >"$WORK/www/api/orders.json"
    # Background processes: `ip netns exec` itself (not a function, whose subshell would be
    # what $! names and would not pass a signal on).
    ip netns exec "$DB" "$PY" -m http.server "$PORT" --bind "$DB_IP" --directory "$WORK/www" \
        >"$WORK/httpd.log" 2>&1 &
    for _ in $(seq 500); do
        [ -n "$(nsx "$DB" ss -Hltn "sport = :$PORT")" ] && break
        sleep 0.01
    done
    [ -n "$(nsx "$DB" ss -Hltn "sport = :$PORT")" ] || die "the server does not listen"

    ip netns exec "$DB" tcpdump -i "$DB_IF" -w "$WORK/$NAME.pcap" --immediate-mode -U -s 0 -n -Z root \
        tcp 2>"$WORK/tcpdump.err" &
    local tcpdump=$!
    for _ in $(seq 1000); do
        grep -q "listening on" "$WORK/tcpdump.err" && [ -e "$WORK/$NAME.pcap" ] && break
        sleep 0.01
    done
    grep -q "listening on" "$WORK/tcpdump.err" || die "tcpdump not ready: $(cat "$WORK/tcpdump.err")"

    nsx "$WEB" curl -sS --max-time 5 -o /dev/null "http://$DB_IP:$PORT/api/orders.json"
    nsx "$WEB" curl -sS --max-time 5 -o /dev/null "http://$DB_IP:$PORT/api/missing"
    # every connection closed (TIME-WAIT: the last ACK went out) before the capture stops
    for _ in $(seq 500); do
        [ -z "$(nsx "$WEB" ss -Htan state all | grep -vE '^(LISTEN|TIME-WAIT|CLOSED)' || true)" ] && break
        sleep 0.01
    done
    sleep 0.2
    kill -INT "$tcpdump"
    wait "$tcpdump" || true
    grep -q "^0 packets dropped by kernel" "$WORK/tcpdump.err" ||
        die "tcpdump dropped packets: $(cat "$WORK/tcpdump.err")"
    log "$(grep 'packets captured' "$WORK/tcpdump.err")"

    install -m 0644 "$WORK/$NAME.pcap" "$HERE/$NAME.pcap"
    "$PY" "$HERE/../record/truth.py" "$HERE/$NAME.pcap" -o "$HERE/$NAME.truth.json"
    log "wrote $HERE/$NAME.pcap and $NAME.truth.json"
}

main "$@"
