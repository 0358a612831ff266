#!/usr/bin/env bash
# Record HTTP test captures between two network namespaces.
#
#   record-captures.sh [SCENARIO...]     record the named scenarios (default: all)
#   record-captures.sh list              list scenario names
#   record-captures.sh pcapng            (re)make testdata/pcapng/*.pcapng for
#                                        every testdata/*.pcap
#
# Each scenario writes testdata/NAME.pcap, testdata/NAME.truth.json and
# testdata/pcapng/NAME.pcapng.  Needs root, tcpdump, tshark, editcap, capinfos,
# nginx, dnsmasq, dig, curl, ethtool, iproute2 and /usr/bin/python3 with the
# brotli module (Debian: python3-brotli).  See README.md.
#
# Safety: all traffic stays in two namespaces created here (spdr-srv,
# spdr-cli) joined by one veth pair whose ends are created directly inside
# them; forwarding is off in both; addresses are 10.79.x.x / fd79::/64.
# The namespaces and every process started in them are removed on exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TD=$(dirname "$HERE")
PY=${PY:-/usr/bin/python3}
SRV=spdr-srv
CLI=spdr-cli
SW=spdr-sw
S_IF=spdr-s0
C_IF=spdr-c0
WORK=""
declare -A CAP_PID=()
BG_PIDS=()

ALL=(http-head-1xx-204-304 http-pipelining http-chunked-trailers http-compressed
     http-upgrade-101 http10-close http-ipv6 http-vlan http-qinq http-sll
     http-midstream http-loss dns-cname)

log() { echo "[record] $*" >&2; }
die() { log "error: $*"; exit 1; }
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# ------------------------------------------------------------ namespaces
kill_ns_procs() {
    # Only processes inside our own namespaces, i.e. started by this script.
    local ns=$1 pids pid i
    ip netns list | grep -qE "^$ns( |$)" || return 0
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    [ -n "$pids" ] || return 0
    for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
    for i in $(seq 200); do
        pids=$(ip netns pids "$ns" 2>/dev/null || true)
        [ -z "$pids" ] && return 0
        sleep 0.01
    done
    for pid in $pids; do kill -KILL "$pid" 2>/dev/null || true; done
}

ns_down() {
    local pid ns
    for ns in "$SRV" "$CLI" "$SW"; do kill_ns_procs "$ns"; done
    for pid in "${CAP_PID[@]}" "${BG_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    CAP_PID=(); BG_PIDS=()
    for ns in "$SRV" "$CLI" "$SW"; do
        if ip netns list | grep -qE "^$ns( |$)"; then ip netns del "$ns"; fi
    done
}

cleanup() {
    local rc=$?
    ns_down || true
    if [ -n "$WORK" ] && [ -d "$WORK" ]; then
        if [ $rc -ne 0 ] || [ -n "${KEEP_WORK:-}" ]; then log "work files kept in $WORK"
        else rm -rf "$WORK"; fi
    fi
    exit $rc
}

no_offload() {
    # one feature at a time: some are fixed on some devices (lo: tx checksum)
    local ns=$1 ifc=$2 f
    for f in tso gso gro tx rx rxvlan txvlan tx-vlan-stag-hw-insert rx-vlan-stag-hw-parse; do
        nsx "$ns" ethtool -K "$ifc" "$f" off >/dev/null 2>&1 || true
    done
    nsx "$ns" ethtool -k "$ifc" | grep -q "^tcp-segmentation-offload: off" ||
        die "TSO still on for $ifc in $ns"
    nsx "$ns" ethtool -k "$ifc" | grep -q "^generic-segmentation-offload: off" ||
        die "GSO still on for $ifc in $ns"
}

# ns_up MODE: v4 | v6 | vlan | qinq
ns_up() {
    local mode=$1 ns
    ns_down
    local nss=("$SRV" "$CLI")
    case $mode in vlan | qinq) nss+=("$SW") ;; esac
    for ns in "${nss[@]}"; do
        ip netns add "$ns"
        nsx "$ns" sysctl -qw net.ipv4.ip_forward=0
        if [ "$mode" = v6 ]; then
            nsx "$ns" sysctl -qw net.ipv6.conf.all.forwarding=0 net.ipv6.conf.default.forwarding=0 \
                net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0 \
                net.ipv6.conf.default.router_solicitations=0 net.ipv6.conf.default.accept_ra=0
        else
            nsx "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
        fi
        nsx "$ns" ip link set lo up
    done
    # veth ends are created directly inside the namespaces: nothing is ever
    # in (or routed to) the host's namespace
    case $mode in
    v4 | v6)
        ip link add "$S_IF" netns "$SRV" type veth peer name "$C_IF" netns "$CLI"
        ;;
    vlan | qinq)
        # The kernel this was written on has no 802.1Q support (no
        # CONFIG_VLAN_8021Q: `ip link add ... type vlan` fails), so two
        # userspace relays (vlan-relay.py) in a third namespace play the
        # switch ports, joined by a trunk veth pair that carries the tags:
        #  cli spdr-c0 <-> spdr-cx [relay] spdr-ta <=> spdr-tb [relay] spdr-sx <-> spdr-s0 srv
        ip link add "$C_IF" netns "$CLI" type veth peer name spdr-cx netns "$SW"
        ip link add "$S_IF" netns "$SRV" type veth peer name spdr-sx netns "$SW"
        ip link add spdr-ta netns "$SW" type veth peer name spdr-tb netns "$SW"
        local i
        for i in spdr-cx spdr-sx spdr-ta spdr-tb; do
            no_offload "$SW" "$i"
            # room for the tags on the trunk (veth drops frames > MTU + 18)
            nsx "$SW" ip link set "$i" mtu 1600 up
        done
        ;;
    esac
    no_offload "$SRV" "$S_IF"
    no_offload "$CLI" "$C_IF"
    no_offload "$SRV" lo  # http-sll also captures lo: real sizes, real checksums
    local net=0
    case $mode in vlan) net=100 ;; qinq) net=200 ;; esac
    if [ "$mode" = v6 ]; then
        nsx "$SRV" ip addr add fd79::2/64 dev "$S_IF" nodad
        nsx "$CLI" ip addr add fd79::1/64 dev "$C_IF" nodad
    else
        nsx "$SRV" ip addr add "10.79.$net.2/24" dev "$S_IF"
        nsx "$CLI" ip addr add "10.79.$net.1/24" dev "$C_IF"
    fi
    nsx "$SRV" ip link set "$S_IF" up
    nsx "$CLI" ip link set "$C_IF" up
    if [ "$mode" = vlan ] || [ "$mode" = qinq ]; then
        local tags="8100:100"
        [ "$mode" = qinq ] && tags="88a8:200 8100:100"
        # shellcheck disable=SC2086
        spawn "$SW" relay-c "$PY" -u "$HERE/vlan-relay.py" spdr-cx spdr-ta $tags
        # shellcheck disable=SC2086
        spawn "$SW" relay-s "$PY" -u "$HERE/vlan-relay.py" spdr-sx spdr-tb $tags
        wait_grep "$WORK/relay-c.out" ready
        wait_grep "$WORK/relay-s.out" ready
    fi
    for ns in "${nss[@]}"; do
        [ "$(nsx "$ns" sysctl -n net.ipv4.ip_forward)" = 0 ] || die "forwarding on in $ns"
    done
}

# ------------------------------------------------------------ processes
spawn() {  # spawn NS LOGNAME CMD...   start a background process in a namespace
    local ns=$1 name=$2; shift 2
    # ip netns exec runs the command in place (no intermediate shell), so $!
    # is the process itself
    ip netns exec "$ns" "$@" >"$WORK/$name.out" 2>&1 &
    BG_PIDS+=($!)
}

wait_listen() {  # wait_listen NS tcp|udp PORT
    local ns=$1 proto=$2 port=$3 i flag=-Hltn
    [ "$proto" = udp ] && flag=-Hlun
    for i in $(seq 500); do
        [ -n "$(nsx "$ns" ss $flag "sport = :$port")" ] && return 0
        sleep 0.01
    done
    die "nothing listening on $proto/$port in $ns"
}

wait_grep() {  # wait_grep FILE PATTERN
    local i
    for i in $(seq 500); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.01; done
    die "timeout waiting for '$2' in $1"
}

wait_file() {
    local i
    for i in $(seq 3000); do [ -e "$1" ] && return 0; sleep 0.01; done
    die "timeout waiting for $1"
}

start_httpd() {  # start_httpd NS ARGS...   (--listen ADDR:PORT ...)
    local ns=$1; shift
    spawn "$ns" "httpd-$RANDOM" "$PY" "$HERE/httpd.py" --manifest "$WORK/manifest.json" \
        --control "$WORK/ctl" "$@"
}

start_nginx() {  # start_nginx LISTEN...   (nginx in $SRV serving $WORK/www)
    local conf=$WORK/nginx.conf l
    mkdir -p "$WORK/www/catalog" "$WORK/nginx"
    printf '<!doctype html>\n<title>catalog</title>\n<h1>Catalog</h1>\n%s\n' \
        "$(seq -s ' ' 1 120)" >"$WORK/www/catalog/index.html"
    printf 'body { font-family: sans-serif; }\n%.0s' $(seq 40) >"$WORK/www/catalog/style.css"
    touch -d '2026-03-03 10:00:00 UTC' "$WORK/www/catalog/index.html" "$WORK/www/catalog/style.css"
    chmod -R a+rX "$WORK/www"
    chmod a+x "$WORK"
    {
        echo "worker_processes 1; daemon off; pid $WORK/nginx/nginx.pid;"
        echo "error_log $WORK/nginx/error.log;"
        echo "events { worker_connections 64; }"
        echo "http {"
        echo "  access_log off; server_tokens on; default_type text/plain;"
        echo "  types { text/html html; text/css css; }"
        echo "  client_body_temp_path $WORK/nginx/body; proxy_temp_path $WORK/nginx/proxy;"
        echo "  fastcgi_temp_path $WORK/nginx/fcgi; uwsgi_temp_path $WORK/nginx/uwsgi;"
        echo "  scgi_temp_path $WORK/nginx/scgi;"
        echo "  server {"
        for l in "$@"; do echo "    listen $l;"; done
        echo "    root $WORK/www;"
        echo "    location = /empty { return 204; }"
        echo "    location /upload/ { return 201 '{\"stored\": true}\n'; }"
        echo "  }"
        echo "}"
    } >"$conf"
    spawn "$SRV" nginx nginx -c "$conf" -p "$WORK/nginx" -e "$WORK/nginx/error.log"
}

start_dnsmasq() {  # start_dnsmasq LISTEN_ADDR
    printf '10.79.0.10 multi.shop.test\n10.79.0.11 multi.shop.test\nfd79::10 multi.shop.test\n' \
        >"$WORK/dns-hosts"
    spawn "$SRV" dnsmasq dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
        --no-poll --bind-interfaces --listen-address="$1" --port=53 --pid-file= \
        --user=root --group=root --log-facility=- \
        --local=/shop.test/ --local=/cdn.test/ --addn-hosts="$WORK/dns-hosts" \
        --host-record=api.shop.test,10.79.0.2,fd79::2 \
        --host-record=api6.shop.test,fd79::2 \
        --host-record=edge.cdn.test,10.79.0.30,fd79::30 \
        --cname=alias.shop.test,api.shop.test \
        --cname=www.shop.test,alias.shop.test \
        --cname=img.shop.test,edge.cdn.test
}

# ------------------------------------------------------------ capture
start_capture() {  # start_capture NAME NS IFACE [tcpdump args]
    local name=$1 ns=$2 ifc=$3 i; shift 3
    local err=$WORK/$name.tcpdump.err
    rm -f "$WORK/$name.pcap"
    ip netns exec "$ns" tcpdump -i "$ifc" -w "$WORK/$name.pcap" --immediate-mode -U -s 0 -n -Z root \
        "$@" 2>"$err" &
    CAP_PID[$name]=$!
    for i in $(seq 1000); do
        grep -q "listening on" "$err" && [ -e "$WORK/$name.pcap" ] && return 0
        kill -0 "${CAP_PID[$name]}" 2>/dev/null || die "tcpdump failed: $(cat "$err")"
        sleep 0.01
    done
    die "tcpdump not ready: $(cat "$err")"
}

quiesce() {
    # wait until no TCP connection is still closing in either namespace
    # (TIME-WAIT is fine: the last ACK has been sent)
    local i
    for i in $(seq 500); do
        if [ -z "$(nsx "$CLI" ss -Htan state all | grep -vE '^(LISTEN|TIME-WAIT|CLOSED)' || true)" ] &&
           [ -z "$(nsx "$SRV" ss -Htan state all | grep -vE '^(LISTEN|TIME-WAIT|CLOSED)' || true)" ]; then
            return 0
        fi
        sleep 0.01
    done
    log "warning: connections still open at capture stop"
}

stop_capture() {  # stop_capture NAME
    local name=$1 pid=${CAP_PID[$1]}
    kill -INT "$pid"
    wait "$pid" || true
    unset "CAP_PID[$name]"
    local err=$WORK/$name.tcpdump.err
    grep -q "^0 packets dropped by kernel" "$err" || die "tcpdump dropped packets: $(cat "$err")"
    log "$name: $(grep 'packets captured' "$err")"
}

client() {  # client NS SCENARIO [args]   (foreground)
    local ns=$1 sc=$2; shift 2
    nsx "$ns" "$PY" "$HERE/client.py" "$sc" --log "$WORK/client.jsonl" --control "$WORK/ctl" "$@"
}

# finish NAME [truth.py args]: install the pcap, write truth and pcapng
finish() {
    local name=$1; shift
    install -m 0644 "$WORK/$name.pcap" "$TD/$name.pcap"
    "$PY" "$HERE/truth.py" "$TD/$name.pcap" -o "$TD/$name.truth.json" "$@"
    to_pcapng "$TD/$name.pcap"
    local size; size=$(stat -c %s "$TD/$name.pcap")
    [ "$size" -le 512000 ] || log "warning: $name.pcap is $size bytes"
    log "$name: $(capinfos -c -M "$TD/$name.pcap" | awk -F: '/Number of packets/ {gsub(/ /,"",$2); print $2}') packets, $size bytes"
}

to_pcapng() {  # nanosecond-resolution pcapng copy in testdata/pcapng/
    local pcap=$1 name tmp
    name=$(basename "$pcap" .pcap)
    mkdir -p "$TD/pcapng"
    tmp=$(mktemp /tmp/spdr-nsec.XXXXXX)
    # editcap has no resolution option: convert to nanosecond pcap first, the
    # pcapng writer then records if_tsresol=9 for the interface
    editcap -F nsecpcap "$pcap" "$tmp"
    editcap -F pcapng "$tmp" "$TD/pcapng/$name.pcapng"
    rm -f "$tmp"
    local a b res
    a=$(capinfos -c -M "$pcap" | awk -F: '/Number of packets/ {gsub(/ /,"",$2); print $2}')
    b=$(capinfos -c -M "$TD/pcapng/$name.pcapng" | awk -F: '/Number of packets/ {gsub(/ /,"",$2); print $2}')
    res=$(capinfos "$TD/pcapng/$name.pcapng" 2>/dev/null | grep -c "Time precision = nanoseconds" || true)
    [ "$a" = "$b" ] || die "$name.pcapng has $b packets, $name.pcap $a"
    [ "$res" -ge 1 ] || die "$name.pcapng is not nanosecond resolution"
}

new_work() {
    [ -n "$WORK" ] && rm -rf "$WORK"
    WORK=$(mktemp -d /tmp/spdr-rec.XXXXXX)
    mkdir -p "$WORK/ctl"
}

# ------------------------------------------------------------ scenarios
rec_http-head-1xx-204-304() {
    ns_up v4
    start_httpd "$SRV" --listen 10.79.0.2:8080
    start_nginx 10.79.0.2:80
    wait_listen "$SRV" tcp 8080; wait_listen "$SRV" tcp 80
    start_capture http-head-1xx-204-304 "$SRV" "$S_IF"
    client "$CLI" head-1xx
    quiesce; stop_capture http-head-1xx-204-304
    finish http-head-1xx-204-304 --client-log "$WORK/client.jsonl" --informational \
        --trust client --disagree-note "tshark mispairs two exchanges: it pairs 103 Early Hints with \
the request and leaves the final 200 unpaired; and nginx answers the Expect: 100-continue \
POST /upload/avatar with 100 then 201 before the request body has arrived (return 201 \
discards the body), so tshark dissects the request only after its response and pairs \
nothing. status is the final status; 1xx are listed in informational_responses."
}

rec_http-pipelining() {
    ns_up v4
    start_httpd "$SRV" --listen 10.79.0.2:8080
    start_nginx 10.79.0.2:80
    wait_listen "$SRV" tcp 8080; wait_listen "$SRV" tcp 80
    start_capture http-pipelining "$SRV" "$S_IF"
    client "$CLI" pipelining
    quiesce; stop_capture http-pipelining
    finish http-pipelining --client-log "$WORK/client.jsonl" --trust client --client-counts \
        --disagree-note "tshark 4.0 gets pipelining wrong: of the responses in one frame only the first \
gets http.request_in, and it does not know a pipelined response answers a HEAD, so it reads \
the next response(s) as the HEAD response's Content-Length body and misses them."
}

rec_http-chunked-trailers() {
    ns_up v4
    start_httpd "$SRV" --listen 10.79.0.2:8080
    wait_listen "$SRV" tcp 8080
    start_capture http-chunked-trailers "$SRV" "$S_IF"
    client "$CLI" chunked
    quiesce; stop_capture http-chunked-trailers
    finish http-chunked-trailers --client-log "$WORK/client.jsonl"
}

rec_http-compressed() {
    ns_up v4
    start_httpd "$SRV" --listen 10.79.0.2:8080
    wait_listen "$SRV" tcp 8080
    start_capture http-compressed "$SRV" "$S_IF"
    client "$CLI" compressed
    quiesce; stop_capture http-compressed
    finish http-compressed --client-log "$WORK/client.jsonl" --decoded-bodies "$WORK/manifest.json"
}

rec_http-upgrade-101() {
    ns_up v4
    start_httpd "$SRV" --listen 10.79.0.2:8080
    wait_listen "$SRV" tcp 8080
    start_capture http-upgrade-101 "$SRV" "$S_IF"
    client "$CLI" upgrade
    quiesce; stop_capture http-upgrade-101
    finish http-upgrade-101 --client-log "$WORK/client.jsonl"
}

rec_http10-close() {
    ns_up v4
    start_httpd "$SRV" --listen 10.79.0.2:8080 --http10
    wait_listen "$SRV" tcp 8080
    start_capture http10-close "$SRV" "$S_IF"
    client "$CLI" http10
    quiesce; stop_capture http10-close
    finish http10-close --client-log "$WORK/client.jsonl"
}

rec_http-ipv6() {
    ns_up v6
    start_httpd "$SRV" --listen "[fd79::2]:8080"
    start_nginx "[fd79::2]:80"
    start_dnsmasq fd79::2
    wait_listen "$SRV" tcp 8080; wait_listen "$SRV" tcp 80; wait_listen "$SRV" udp 53
    start_capture http-ipv6 "$SRV" "$S_IF"
    nsx "$CLI" dig @fd79::2 +tries=1 +time=3 +noall +answer AAAA api6.shop.test >&2
    nsx "$CLI" dig @fd79::2 +tries=1 +time=3 +noall +answer AAAA www.shop.test >&2
    nsx "$CLI" dig @fd79::2 +tries=1 +time=3 +noall +answer A api.shop.test >&2
    client "$CLI" ipv6
    quiesce; stop_capture http-ipv6
    finish http-ipv6 --client-log "$WORK/client.jsonl" --informational
}

rec_http-vlan() {
    ns_up vlan
    start_httpd "$SRV" --listen 10.79.100.2:8080
    start_nginx 10.79.100.2:80
    wait_listen "$SRV" tcp 8080; wait_listen "$SRV" tcp 80
    start_capture http-vlan "$SW" spdr-tb
    client "$CLI" vlan --server 10.79.100.2 --tag 100
    quiesce; stop_capture http-vlan
    finish http-vlan --client-log "$WORK/client.jsonl"
    tshark -r "$TD/http-vlan.pcap" -Y "vlan.id == 100" 2>/dev/null | grep -q . ||
        die "http-vlan.pcap has no 802.1Q tags"
}

rec_http-qinq() {
    ns_up qinq
    start_httpd "$SRV" --listen 10.79.200.2:8080
    start_nginx 10.79.200.2:80
    wait_listen "$SRV" tcp 8080; wait_listen "$SRV" tcp 80
    start_capture http-qinq "$SW" spdr-tb
    client "$CLI" vlan --server 10.79.200.2 --tag 200.100
    quiesce; stop_capture http-qinq
    finish http-qinq --client-log "$WORK/client.jsonl"
    tshark -r "$TD/http-qinq.pcap" -Y "eth.type == 0x88a8 && ieee8021ad.id == 200 && vlan.id == 100" 2>/dev/null |
        grep -q . || die "http-qinq.pcap has no 802.1ad+802.1Q tags"
}

rec_http-sll() {
    # one run, two simultaneous captures on "any": LINUX_SLL and LINUX_SLL2
    ns_up v4
    start_httpd "$SRV" --listen 10.79.0.2:8080 --listen 127.0.0.1:8080
    start_nginx 10.79.0.2:80
    wait_listen "$SRV" tcp 8080; wait_listen "$SRV" tcp 80
    start_capture http-sll "$SRV" any -y LINUX_SLL
    start_capture http-sll2 "$SRV" any -y LINUX_SLL2
    client "$CLI" sll-remote
    client "$SRV" sll-local
    quiesce; stop_capture http-sll; stop_capture http-sll2
    finish http-sll --client-log "$WORK/client.jsonl"
    finish http-sll2 --client-log "$WORK/client.jsonl"
}

rec_http-midstream() {
    ns_up v4
    start_httpd "$SRV" --listen 10.79.0.2:8080
    wait_listen "$SRV" tcp 8080
    # the client opens its connections and makes the first requests, then
    # waits for ctl/go; the capture starts in between
    ip netns exec "$CLI" "$PY" "$HERE/client.py" midstream --log "$WORK/client.jsonl" \
        --control "$WORK/ctl" >"$WORK/midstream-client.out" 2>&1 &
    local cpid=$!
    wait_file "$WORK/ctl/phase1"
    start_capture http-midstream "$SRV" "$S_IF"
    touch "$WORK/ctl/go"
    wait "$cpid" || die "midstream client failed: $(cat "$WORK/midstream-client.out")"
    quiesce; stop_capture http-midstream
    finish http-midstream --client-log "$WORK/client.jsonl" --trust client --client-counts \
        --note "Both long-lived connections began before the capture (no SYN); the exchanges \
made before it are not in http_exchanges. On the dl.shop.test connection the capture starts \
inside the Content-Length body of /slow/export.txt, whose request and response head were \
sent before it; /after/slow follows on the same connection." \
        --disagree-note "tshark treats the body tail of /slow/export.txt as the start of a PDU \
it never completes and then shows the response to /after/slow as a Continuation, so it \
leaves /after/slow unpaired and misses that response head."
}

rec_http-loss() {
    ns_up v4
    start_httpd "$SRV" --listen 10.79.0.2:8080
    wait_listen "$SRV" tcp 8080
    start_capture http-loss-full "$SRV" "$S_IF"
    client "$CLI" loss
    quiesce; stop_capture http-loss-full
    "$PY" "$HERE/lossify.py" "$WORK/http-loss-full.pcap" "$WORK/http-loss.pcap" \
        "$WORK/client.jsonl" "$WORK/http-loss.truth.json"
    install -m 0644 "$WORK/http-loss.pcap" "$TD/http-loss.pcap"
    install -m 0644 "$WORK/http-loss.truth.json" "$TD/http-loss.truth.json"
    to_pcapng "$TD/http-loss.pcap"
    log "http-loss: $(capinfos -c -M "$TD/http-loss.pcap" | awk -F: '/Number of packets/ {gsub(/ /,"",$2); print $2}') packets (3 deleted)"
}

rec_dns-cname() {
    ns_up v4
    start_dnsmasq 10.79.0.2
    start_httpd "$SRV" --listen 10.79.0.2:8080
    wait_listen "$SRV" udp 53; wait_listen "$SRV" tcp 53; wait_listen "$SRV" tcp 8080
    start_capture dns-cname "$SRV" "$S_IF"
    local q
    for q in "A www.shop.test" "AAAA www.shop.test" "A alias.shop.test" "AAAA api.shop.test" \
             "A multi.shop.test" "AAAA img.shop.test" "A img.shop.test" "A nosuch.shop.test" \
             "AAAA nosuch.shop.test"; do
        # shellcheck disable=SC2086
        nsx "$CLI" dig @10.79.0.2 +tries=1 +time=3 +noall +answer $q >&2
    done
    nsx "$CLI" dig @10.79.0.2 +tcp +tries=1 +time=3 +noall +answer A www.shop.test >&2
    client "$CLI" dns-http
    quiesce; stop_capture dns-cname
    finish dns-cname --client-log "$WORK/client.jsonl"
}

pcapng_all() {
    local p
    for p in "$TD"/*.pcap; do
        to_pcapng "$p"
        log "pcapng/$(basename "$p" .pcap).pcapng: $(capinfos -c -M "$TD/pcapng/$(basename "$p" .pcap).pcapng" | awk -F: '/Number of packets/ {gsub(/ /,"",$2); print $2}') packets"
    done
}

main() {
    [ "$(id -u)" = 0 ] || die "run as root (network namespaces, tcpdump)"
    local s names=()
    if [ $# -eq 0 ] || [ "$1" = all ]; then names=("${ALL[@]}"); else names=("$@"); fi
    if [ "${names[0]}" = list ]; then printf '%s\n' "${ALL[@]}" pcapng; exit 0; fi
    for s in tcpdump tshark editcap capinfos nginx dnsmasq dig curl ethtool ip ss; do
        command -v "$s" >/dev/null || die "$s not found"
    done
    "$PY" -c 'import brotli' 2>/dev/null || die "$PY lacks brotli (apt-get install python3-brotli)"
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    for s in "${names[@]}"; do
        case $s in
        pcapng) pcapng_all; continue ;;
        http-sll2) s=http-sll ;;
        esac
        declare -F "rec_$s" >/dev/null || die "unknown scenario $s (try: list)"
        log "=== $s"
        new_work
        "rec_$s"
        ns_down
    done
}

main "$@"
