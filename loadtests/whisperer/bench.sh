#!/usr/bin/env bash
# Whisperer capture benchmark: the highest packet rate with zero loss, beside tcpdump.
#
#   bench.sh [PCAP] [RATES...]     default PCAP: /var/tmp/spider-bench/slice-100k.pcap
#                                  default RATES: 50000 100000 200000 topspeed
#
# For each rate (RUNS times, default 3): tcpreplay sends PCAP from namespace swb-b onto a veth
# whose other end, veth-a, is in namespace swb-a. In swb-a run, in the same run: a backend node
# (`spider backend`, on swb-a's loopback), `spider whisperer --iface veth-a` pushing to it, and
# `tcpdump -i veth-a -w /dev/null`. After the replay the whisperer is stopped (SIGINT: it drains
# its buffer) and reports what it saw, delivered and dropped. Printed per run: the rate tcpreplay
# achieved, frames sent, whisperer seen/delivered/kernel drops/own drops, tcpdump captured and
# dropped, whisperer CPU (utime+stime of its process over the run) per 100k packets/s, and its
# peak RSS (VmHWM). A summary line per rate gives medians.
#
# WHISPERER_ARGS adds arguments to the whisperer's command line (e.g. "--buffer-bytes 33554432").
#
# Safety: both veth ends are created inside namespaces made here (10.83.250.0/24), forwarding
# off, IPv6 off, no routes out; the replayed frames never reach the host's interfaces. The
# namespaces and the processes in them are removed on exit. Needs root, tcpreplay, tcpdump,
# ethtool, iproute2, and a release build: cargo build --release -p spider.
set -euo pipefail

PCAP=${1:-/var/tmp/spider-bench/slice-100k.pcap}
shift || true
RATES=("$@")
[ ${#RATES[@]} -eq 0 ] && RATES=(50000 100000 200000 topspeed)
RUNS=${RUNS:-3}
SPIDER=${SPIDER:-${CARGO_TARGET_DIR:-/var/tmp/spider-target}/release/spider}
NS_A=swb-a-$$
NS_B=swb-b-$$
TOKEN=bench-token-0123456789abcdef
WORK=$(mktemp -d /var/tmp/spider-whisperer-bench.XXXXXX)

cleanup() {
    for pid in $(ip netns pids "$NS_A" 2>/dev/null) $(ip netns pids "$NS_B" 2>/dev/null); do
        kill "$pid" 2>/dev/null || true
    done
    sleep 0.5
    ip netns del "$NS_A" 2>/dev/null || true
    ip netns del "$NS_B" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

[ -x "$SPIDER" ] || { echo "no spider binary at $SPIDER (cargo build --release -p spider)" >&2; exit 1; }
for ns in "$NS_A" "$NS_B"; do
    ip netns add "$ns"
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv4.ip_forward=0
    ip -n "$ns" link set lo up
done
ip link add veth-a netns "$NS_A" type veth peer name veth-b netns "$NS_B"
ip -n "$NS_A" addr add 10.83.250.1/24 dev veth-a
ip -n "$NS_B" addr add 10.83.250.2/24 dev veth-b
for pair in "$NS_A veth-a" "$NS_B veth-b"; do
    set -- $pair
    ip netns exec "$1" ethtool -K "$2" tso off gso off gro off >/dev/null 2>&1 || true
    ip -n "$1" link set "$2" mtu 9000
    ip -n "$1" link set "$2" up
done

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hwm_kb() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
hz=$(getconf CLK_TCK)

echo "| rate asked | achieved pps | sent | whisperer seen | delivered | kernel drops | own drops | tcpdump captured | tcpdump dropped | cpu % per 100k pps | peak RSS MiB |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for rate in "${RATES[@]}"; do
    for run in $(seq "$RUNS"); do
        data="$WORK/data-$rate-$run"
        mkdir -p "$data"
        SPIDER_BACKEND_DATA_DIR=$data SPIDER_BACKEND_LISTEN=127.0.0.1:7070 \
            SPIDER_BACKEND_ADMIN_TOKEN=$TOKEN \
            ip netns exec "$NS_A" "$SPIDER" backend >"$WORK/backend.log" 2>&1 &
        backend=$!
        for _ in $(seq 100); do
            grep -q listening "$WORK/backend.log" && break
            sleep 0.1
        done
        ip netns exec "$NS_A" tcpdump -i veth-a -w /dev/null --immediate-mode -q \
            >"$WORK/tcpdump.log" 2>&1 &
        tcpdump=$!
        ip netns exec "$NS_A" "$SPIDER" whisperer --backend 127.0.0.1:7070 --token "$TOKEN" \
            --iface veth-a --promisc --name "bench-$rate-$run" --status-every 60 ${WHISPERER_ARGS:-} \
            >"$WORK/whisperer.log" 2>&1 &
        whisperer=$!
        for _ in $(seq 100); do
            grep -q started "$WORK/whisperer.log" && break
            sleep 0.1
        done
        wpid=$(pgrep -P "$whisperer" -f "spider whisperer" || echo "$whisperer")
        grep -q "listening on" "$WORK/tcpdump.log" || sleep 1
        cpu0=$(cpu_ticks "$wpid")
        t0=$(date +%s.%N)
        if [ "$rate" = topspeed ]; then speed=(--topspeed); else speed=(--pps="$rate"); fi
        ip netns exec "$NS_B" tcpreplay -i veth-b "${speed[@]}" "$PCAP" >"$WORK/replay.log" 2>&1
        sleep 1
        cpu1=$(cpu_ticks "$wpid")
        t1=$(date +%s.%N)
        hwm=$(hwm_kb "$wpid")
        kill -INT "$wpid" "$tcpdump" 2>/dev/null || true
        wait "$whisperer" || true
        wait "$tcpdump" || true
        kill -INT "$backend"; wait "$backend" || true
        sent=$(awk '/Actual:/ {print $2; exit}' "$WORK/replay.log")
        pps=$(awk '/Rated:/ {for (i=1;i<=NF;i++) if ($i ~ /pps/) {print int($(i-1)); exit}}' "$WORK/replay.log")
        summary=$(grep "frames seen" "$WORK/whisperer.log" || echo "")
        seen=$(echo "$summary" | sed -E 's/.*: ([0-9]+) frames seen.*/\1/')
        delivered=$(echo "$summary" | sed -E 's/.* ([0-9]+) delivered.*/\1/')
        own=$(echo "$summary" | sed -E 's/.* ([0-9]+) dropped \(buffer.*/\1/')
        kdrops=$(echo "$summary" | sed -E 's/.* ([0-9]+) by the kernel.*/\1/')
        tcap=$(awk '/packets captured/ {print $1}' "$WORK/tcpdump.log")
        tdrop=$(awk '/dropped by kernel/ {print $1}' "$WORK/tcpdump.log")
        cpu=$(awk -v a="$cpu0" -v b="$cpu1" -v hz="$hz" -v t0="$t0" -v t1="$t1" -v pps="$pps" \
            'BEGIN { p = (b - a) / hz / (t1 - t0) * 100; printf "%.1f", (pps > 0 ? p / (pps / 100000) : 0) }')
        echo "| $rate | $pps | $sent | $seen | $delivered | $kdrops | $own | $tcap | $tdrop | $cpu | $((hwm / 1024)) |"
    done
done
