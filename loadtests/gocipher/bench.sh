#!/usr/bin/env bash
# Gocipher overhead benchmark: requests per second of wrk against nginx with and without a
# Gocipher counting nginx's sockets, in the same run, alternating rounds; and the CPU the Gocipher
# uses at that load (its process, and its kernel programs).
#
#   bench.sh                  ROUNDS (default 5) pairs of ROUND_SECONDS (default 10) rounds
#
# nginx (one worker on CPU 1, nginx.conf.in here, a 100-byte file) runs in namespace
# gcb-srv-PID (10.84.250.1) inside a cgroup made here; wrk (-t1 -c32 on CPU 0, keep-alive,
# WRK_ARGS to change) loads it from namespace gcb-cli-PID (10.84.250.2). Each pair of rounds runs once without and once with
# `spider gocipher --cgroup CGROUP` (alternating which comes first), the Gocipher sending to a
# `spider backend` on the host's loopback. Per round: requests/s; with the Gocipher, its process
# CPU (utime+stime over the round) in percent of one core. A last round with the Gocipher and
# kernel.bpf_stats_enabled measures the run time of its kernel programs (bpftool prog show), per
# program too (the statistics slow the programs down: that round's requests/s is not compared).
# The summary gives medians and the ratio with/without.
#
# Safety: the veth ends are created inside the two namespaces made here (10.84.250.0/24),
# forwarding off, no routes out. The namespaces, the cgroup and every process started here are
# removed on exit. Needs root, nginx, wrk, bpftool, iproute2, python3, and a release build:
# cargo build --release -p spider.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROUNDS=${ROUNDS:-5}
ROUND_SECONDS=${ROUND_SECONDS:-10}
WRK_ARGS=${WRK_ARGS:--t1 -c32}
SPIDER=${SPIDER:-${CARGO_TARGET_DIR:-/var/tmp/spider-target}/release/spider}
SRV=gcb-srv-$$
CLI=gcb-cli-$$
ADDR=10.84.250.1
TOKEN=bench-token-0123456789abcdef
WORK=$(mktemp -d /var/tmp/spider-gocipher-bench.XXXXXX)
CGROOT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
CG=$CGROOT/spider-gocipher-bench-$$
BACKEND_PID=""
GOCIPHER_PID=""
BPF_STATS_WAS=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null || echo 0)

log() { echo "[gocipher-bench] $*" >&2; }

cleanup() {
    trap '' INT TERM
    [ -n "$GOCIPHER_PID" ] && kill -INT "$GOCIPHER_PID" 2>/dev/null && wait "$GOCIPHER_PID" 2>/dev/null
    for ns in "$SRV" "$CLI"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
    done
    [ -n "$BACKEND_PID" ] && kill -INT "$BACKEND_PID" 2>/dev/null && wait "$BACKEND_PID" 2>/dev/null
    sleep 0.3
    ip netns del "$SRV" 2>/dev/null || true
    ip netns del "$CLI" 2>/dev/null || true
    rmdir "$CG" 2>/dev/null || true
    sysctl -qw kernel.bpf_stats_enabled="$BPF_STATS_WAS" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

[ -x "$SPIDER" ] || { log "no spider binary at $SPIDER (cargo build --release -p spider)"; exit 1; }
[ -n "$CGROOT" ] || { log "no cgroup v2 hierarchy mounted"; exit 1; }
for tool in nginx wrk bpftool python3; do
    command -v "$tool" >/dev/null || { log "$tool is missing"; exit 1; }
done

# ---------------------------------------------------------------- namespaces, nginx, backend
for ns in "$SRV" "$CLI"; do
    ip netns add "$ns"
    ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=0
    ip -n "$ns" link set lo up
done
ip link add gcb-s netns "$SRV" type veth peer name gcb-c netns "$CLI"
ip -n "$SRV" addr add "$ADDR/24" dev gcb-s
ip -n "$CLI" addr add 10.84.250.2/24 dev gcb-c
ip -n "$SRV" link set gcb-s up
ip -n "$CLI" link set gcb-c up

mkdir -p "$WORK/www" "$CG"
head -c 100 /dev/zero | tr '\0' 'x' > "$WORK/www/small"
sed -e "s|@WORK@|$WORK|g" -e "s|@ADDR@|$ADDR|g" "$HERE/nginx.conf.in" > "$WORK/nginx.conf"
# nginx (master and worker) in the counted cgroup.
sh -c 'echo $$ > "$1/cgroup.procs" && exec taskset -c 1 ip netns exec "$2" nginx -c "$3"' sh "$CG" "$SRV" "$WORK/nginx.conf" &
cat > "$WORK/backend.toml" <<TOML
data_dir = "$WORK/data"
listen = "127.0.0.1:0"
admin_token = "$TOKEN"
local_shards = 1
TOML
"$SPIDER" backend --config "$WORK/backend.toml" 2> "$WORK/backend.log" &
BACKEND_PID=$!
for _ in $(seq 200); do
    grep -q "listening on" "$WORK/backend.log" 2>/dev/null && break
    sleep 0.05
done
BACKEND_ADDR=$(sed -n 's/.*listening on \([0-9.:]*\).*/\1/p' "$WORK/backend.log" | head -1)
[ -n "$BACKEND_ADDR" ] || { log "the backend did not start"; cat "$WORK/backend.log" >&2; exit 1; }
for _ in $(seq 200); do
    ip netns exec "$CLI" bash -c "exec 3<>/dev/tcp/$ADDR/80" 2>/dev/null && break
    sleep 0.05
done

# ---------------------------------------------------------------- rounds
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# Sum of run_time_ns of the Gocipher's programs (by name: run no other Gocipher meanwhile); the
# per-program figures go to file $1.
bpf_ns() {
    bpftool prog show -j | python3 -c '
import json, sys
names = ("sock_send_length", "sock_recv_length", "inet_sock_set_state", "sendmsg4", "sendmsg6",
         "recvmsg4", "recvmsg6", "sock_create", "post_bind4", "post_bind6", "skb_ingress",
         "skb_egress")
total = 0
with open(sys.argv[1], "w") as out:
    for p in json.load(sys.stdin):
        if p.get("name") in names and p.get("run_time_ns"):
            total += p["run_time_ns"]
            out.write("%s %d %d\n" % (p["name"], p["run_time_ns"], p.get("run_cnt", 0)))
print(total)' "$1"
}
# Per program over a round: calls per second and ns per call (from two bpf_ns snapshots).
bpf_breakdown() {
    python3 - "$1" "$2" "$3" <<'PY'
import sys
def load(path):
    out = {}
    for line in open(path):
        name, ns, cnt = line.split()
        a = out.setdefault(name, [0, 0])
        a[0] += int(ns); a[1] += int(cnt)
    return out
before, after, secs = load(sys.argv[1]), load(sys.argv[2]), float(sys.argv[3])
for name in sorted(after):
    ns = after[name][0] - before.get(name, [0, 0])[0]
    cnt = after[name][1] - before.get(name, [0, 0])[1]
    if cnt:
        print(f"    {name:22} {cnt / secs:10.0f} calls/s {ns / cnt:7.0f} ns/call")
PY
}
wrk_rps() {
    ip netns exec "$CLI" taskset -c 0 wrk $WRK_ARGS -d"${ROUND_SECONDS}s" "http://$ADDR/small" \
        | awk '/^Requests\/sec:/ { print $2 }'
}
start_gocipher() {
    "$SPIDER" gocipher --backend "$BACKEND_ADDR" --token "$TOKEN" --cgroup "$CG" \
        --name bench --status-every 3600 2> "$WORK/gocipher.log" &
    GOCIPHER_PID=$!
    for _ in $(seq 400); do
        grep -q "counting the sockets" "$WORK/gocipher.log" 2>/dev/null && return 0
        kill -0 "$GOCIPHER_PID" 2>/dev/null || break
        sleep 0.05
    done
    log "the gocipher did not start"; cat "$WORK/gocipher.log" >&2; exit 1
}
stop_gocipher() {
    kill -INT "$GOCIPHER_PID"; wait "$GOCIPHER_PID" || true; GOCIPHER_PID=""
}

TICK=$(getconf CLK_TCK)
RESULTS=$WORK/results
: > "$RESULTS"
wrk_rps > /dev/null   # warm-up
for round in $(seq "$ROUNDS"); do
    if [ $((round % 2)) -eq 1 ]; then order="off on"; else order="on off"; fi
    for mode in $order; do
        if [ "$mode" = on ]; then
            start_gocipher
            t0=$(cpu_ticks "$GOCIPHER_PID"); s0=$(date +%s%N)
            rps=$(wrk_rps)
            t1=$(cpu_ticks "$GOCIPHER_PID"); s1=$(date +%s%N)
            stop_gocipher
            cpu=$(python3 -c "print(f'{100.0 * ($t1 - $t0) / $TICK / (($s1 - $s0) / 1e9):.2f}')")
            echo "on $rps $cpu" >> "$RESULTS"
            log "round $round with the gocipher: $rps requests/s, gocipher process ${cpu}% CPU"
        else
            rps=$(wrk_rps)
            echo "off $rps" >> "$RESULTS"
            log "round $round without:         $rps requests/s"
        fi
    done
done

# The kernel programs' own time, in a separate round: the statistics cost time themselves.
sysctl -qw kernel.bpf_stats_enabled=1
start_gocipher
b0=$(bpf_ns "$WORK/bpf0"); s0=$(date +%s%N)
rps=$(wrk_rps)
b1=$(bpf_ns "$WORK/bpf1"); s1=$(date +%s%N)
stop_gocipher
sysctl -qw kernel.bpf_stats_enabled="$BPF_STATS_WAS"
bpf=$(python3 -c "print(f'{100.0 * ($b1 - $b0) / ($s1 - $s0):.2f}')")
echo "bpf $rps $bpf" >> "$RESULTS"
log "statistics round: $rps requests/s, kernel programs ${bpf}% of one core"
bpf_breakdown "$WORK/bpf0" "$WORK/bpf1" "$(( (s1 - s0) / 1000000000 ))" >&2

python3 - "$RESULTS" <<'PY'
import statistics, sys
off, on, cpu, bpf = [], [], [], []
for line in open(sys.argv[1]):
    f = line.split()
    if f[0] == "off":
        off.append(float(f[1]))
    elif f[0] == "on":
        on.append(float(f[1])); cpu.append(float(f[2]))
    else:
        bpf.append(float(f[2]))
m_off, m_on = statistics.median(off), statistics.median(on)
print(f"without gocipher: median {m_off:.0f} requests/s  (rounds: {', '.join(f'{x:.0f}' for x in off)})")
print(f"with gocipher:    median {m_on:.0f} requests/s  (rounds: {', '.join(f'{x:.0f}' for x in on)})")
print(f"ratio with/without: {100 * m_on / m_off:.1f}%")
print(f"gocipher process CPU: median {statistics.median(cpu):.2f}% of one core")
print(f"gocipher kernel programs: {bpf[0]:.2f}% of one core (statistics round)")
PY
