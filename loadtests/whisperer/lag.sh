#!/usr/bin/env bash
# Capture-to-searchable lag: how long after a frame is captured (its kernel timestamp) the
# backend returns the exchange it belongs to from a query, with and without background load.
#
#   lag.sh [PCAP] [RATES...]     default PCAP: /var/tmp/spider-bench/slice-100k.pcap
#                                default RATES: 0 50000 100000 (0: markers only, no replay)
#
# Runs the `lag` example of spider-whisperer (in one process: a backend node, a Whisperer with
# default settings on veth-a, a marker HTTP server in namespace A and a client in namespace B
# sending GET /marker/N every 100 ms) while tcpreplay replays PCAP from namespace B (LOOPS
# times, default 10). Prints per rate: markers found, lag p50/p90/p99/max in ms.
#
# Safety: both veth ends are in namespaces made here (10.83.251.0/24), forwarding off, IPv6 off,
# no routes out; they are removed on exit. Needs root, tcpreplay, iproute2, ethtool, and
#   cargo build --release -p spider-whisperer --example lag
set -euo pipefail

PCAP=${1:-/var/tmp/spider-bench/slice-100k.pcap}
shift || true
RATES=("$@")
[ ${#RATES[@]} -eq 0 ] && RATES=(0 50000 100000)
LOOPS=${LOOPS:-10}
LAG=${LAG:-${CARGO_TARGET_DIR:-/var/tmp/spider-target}/release/examples/lag}
NS_A=swl-a-$$
NS_B=swl-b-$$

cleanup() {
    for pid in $(ip netns pids "$NS_A" 2>/dev/null) $(ip netns pids "$NS_B" 2>/dev/null); do
        kill "$pid" 2>/dev/null || true
    done
    ip netns del "$NS_A" 2>/dev/null || true
    ip netns del "$NS_B" 2>/dev/null || true
}
trap cleanup EXIT

[ -x "$LAG" ] || { echo "no lag binary at $LAG (cargo build --release -p spider-whisperer --example lag)" >&2; exit 1; }
for ns in "$NS_A" "$NS_B"; do
    ip netns add "$ns"
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv4.ip_forward=0
    ip -n "$ns" link set lo up
done
ip link add veth-a netns "$NS_A" type veth peer name veth-b netns "$NS_B"
ip -n "$NS_A" addr add 10.83.251.1/24 dev veth-a
ip -n "$NS_B" addr add 10.83.251.2/24 dev veth-b
for pair in "$NS_A veth-a" "$NS_B veth-b"; do
    set -- $pair
    ip netns exec "$1" ethtool -K "$2" tso off gso off gro off >/dev/null 2>&1 || true
    ip -n "$1" link set "$2" mtu 9000
    ip -n "$1" link set "$2" up
done

for rate in "${RATES[@]}"; do
    RUST_LOG=${RUST_LOG:-warn} "$LAG" "$NS_A" "$NS_B" 10.83.251.1 "$PCAP" "$rate" "$LOOPS"
done
