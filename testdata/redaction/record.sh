#!/usr/bin/env bash
# Records testdata/redaction/secrets.pcap: HTTP/1.1 traffic full of secrets (Basic and Bearer JWT
# credentials, cookies, an API key in the query, passwords in JSON and form bodies, tokens in
# plain, chunked and gzip JSON responses) between two network namespaces, and
# secrets.truth.json: what must be masked and what must stay (actors/backend/tests/redaction.rs).
#
#   sudo testdata/redaction/record.sh
#
# Needs root, iproute2, ethtool, tcpdump, tshark, curl and /usr/bin/python3 (set PY= for another).
#
# Safety: all traffic stays in two namespaces created here (spdr-red-srv, spdr-red-cli) joined by
# one veth pair whose ends are created directly inside them (nothing in the host's namespace);
# forwarding is off in both; addresses are 10.86.0.1 (client) and 10.86.0.2 (server), /24. The
# namespaces and every process started in them are removed on exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=${PY:-/usr/bin/python3}
SRV=spdr-red-srv
CLI=spdr-red-cli
S_IF=spdr-rs0
C_IF=spdr-rc0
SRV_IP=10.86.0.2
CLI_IP=10.86.0.1
PORT=8080
WORK=$(mktemp -d /tmp/spdr-redact.XXXXXX)
CAP_PID=""

log() { echo "[record] $*" >&2; }
die() { log "error: $*"; exit 1; }
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

kill_ns_procs() {  # only processes inside our own namespaces, i.e. started here
    local ns=$1 pid i pids
    ip netns list | grep -qE "^$ns( |$)" || return 0
    for i in $(seq 200); do
        pids=$(ip netns pids "$ns" 2>/dev/null || true)
        [ -z "$pids" ] && return 0
        for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
        sleep 0.01
    done
    for pid in $(ip netns pids "$ns" 2>/dev/null || true); do kill -KILL "$pid" 2>/dev/null || true; done
}

ns_down() {
    local ns
    for ns in "$SRV" "$CLI"; do kill_ns_procs "$ns"; done
    for ns in "$SRV" "$CLI"; do
        if ip netns list | grep -qE "^$ns( |$)"; then ip netns del "$ns"; fi
    done
}

cleanup() {
    local rc=$?
    ns_down || true
    if [ $rc -ne 0 ]; then log "work files kept in $WORK"; else rm -rf "$WORK"; fi
    exit $rc
}
trap cleanup EXIT

ns_up() {
    ns_down
    local ns f
    for ns in "$SRV" "$CLI"; do
        ip netns add "$ns"
        nsx "$ns" sysctl -qw net.ipv4.ip_forward=0
        nsx "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
        nsx "$ns" ip link set lo up
    done
    ip link add "$S_IF" netns "$SRV" type veth peer name "$C_IF" netns "$CLI"
    for pair in "$SRV $S_IF" "$CLI $C_IF"; do
        set -- $pair
        for f in tso gso gro tx rx; do nsx "$1" ethtool -K "$2" "$f" off >/dev/null 2>&1 || true; done
        nsx "$1" ethtool -k "$2" | grep -q "^tcp-segmentation-offload: off" || die "TSO on for $2"
    done
    nsx "$SRV" ip addr add "$SRV_IP/24" dev "$S_IF"
    nsx "$CLI" ip addr add "$CLI_IP/24" dev "$C_IF"
    nsx "$SRV" ip link set "$S_IF" up
    nsx "$CLI" ip link set "$C_IF" up
    for ns in "$SRV" "$CLI"; do
        [ "$(nsx "$ns" sysctl -n net.ipv4.ip_forward)" = 0 ] || die "forwarding on in $ns"
    done
}

wait_for() {  # wait_for DESCRIPTION COMMAND...
    local what=$1 i; shift
    for i in $(seq 500); do "$@" && return 0; sleep 0.01; done
    die "timeout waiting for $what"
}

ns_up
# ip netns exec runs its command in place, so $! is the process itself.
ip netns exec "$SRV" "$PY" "$HERE/server.py" "$SRV_IP" "$PORT" >"$WORK/server.log" 2>&1 &
wait_for "the server" sh -c "[ -n \"\$(ip netns exec $SRV ss -Hltn 'sport = :$PORT')\" ]"

ip netns exec "$SRV" tcpdump -i "$S_IF" -w "$WORK/secrets.pcap" --immediate-mode -U -s 0 -n -Z root \
    2>"$WORK/tcpdump.err" &
CAP_PID=$!
wait_for "tcpdump" grep -q "listening on" "$WORK/tcpdump.err"

# A JWT (HS256) whose sub is bob; its signature is a secret like the rest of it.
JWT=$("$PY" - <<'EOF'
import base64, hashlib, hmac, json
part = lambda d: base64.urlsafe_b64encode(json.dumps(d, separators=(",", ":")).encode()).rstrip(b"=")
signing = part({"alg": "HS256", "typ": "JWT"}) + b"." + part({"sub": "bob", "name": "Bob", "iat": 1700000000})
sig = base64.urlsafe_b64encode(hmac.new(b"redaction-test-key", signing, hashlib.sha256).digest()).rstrip(b"=")
print((signing + b"." + sig).decode())
EOF
)
BASE=http://$SRV_IP:$PORT
curlc() { nsx "$CLI" curl -sS -o /dev/null --max-time 10 "$@"; }
# One connection, three requests: Basic, Bearer JWT + API key in the query, a cookie.
curlc -u alice:s3cret "$BASE/whoami" \
    --next -o /dev/null -H "Authorization: Bearer $JWT" "$BASE/api/profile?page=2&api_key=apikey789xyz" \
    --next -o /dev/null -b "session=abc1sess2cookie3; theme=dark" "$BASE/cart"
curlc --json '{"user": "alice", "password": "hunter2pw9", "remember": true}' "$BASE/login"
curlc -d 'user=alice&password=formpw4321&remember=1' "$BASE/form"
curlc "$BASE/keys" --next -o /dev/null --compressed "$BASE/token"

for i in $(seq 500); do
    [ -z "$(nsx "$CLI" ss -Htan state all | grep -vE '^(LISTEN|TIME-WAIT|CLOSED)' || true)" ] && break
    sleep 0.01
done
kill -INT "$CAP_PID"
wait "$CAP_PID" || true
grep -q "^0 packets dropped by kernel" "$WORK/tcpdump.err" || die "tcpdump dropped packets"
install -m 0644 "$WORK/secrets.pcap" "$HERE/secrets.pcap"

# The truth: the exchanges as tshark reads them, and the secrets as they are on the wire.
"$PY" - "$HERE/secrets.pcap" "$JWT" >"$WORK/truth.json" <<'EOF'
import json, subprocess, sys
pcap, jwt = sys.argv[1], sys.argv[2]
fields = ["http.request.method", "http.request.uri", "http.response.code", "http.response_for.uri"]
out = subprocess.run(["tshark", "-r", pcap, "-Y", "http", "-T", "fields"]
                     + [a for f in fields for a in ("-e", f)],
                     check=True, capture_output=True, text=True).stdout
requests, statuses = [], {}
for line in out.splitlines():
    method, uri, code, answered = (line.split("\t") + [""] * 4)[:4]
    if method:
        requests.append((method, uri))
    elif code:
        statuses[answered.split("10.86.0.2:8080", 1)[-1]] = int(code)
raw = open(pcap, "rb").read()
on_the_wire = ["YWxpY2U6czNjcmV0", jwt, jwt.rsplit(".", 1)[1], "apikey789xyz",
               "abc1sess2cookie3", "hunter2pw9", "formpw4321", "accesstok456qwe",
               "refreshtok789rty", "ntsec321uio", "newsess777dfg"]
missing = [s for s in on_the_wire if s.encode() not in raw]
assert not missing, f"not in the capture: {missing}"
json.dump({
    "note": "secrets.pcap holds every secret below as captured; stored, none may be found. "
            "s3cret is Basic-encoded on the wire (YWxpY2U6czNjcmV0); clientsec321uio is cut by "
            "a chunk boundary (clie|ntsec321uio); gzrefresh555pas is only inside the gzip body "
            "of /token.",
    "http_exchanges": [{"method": m, "uri": u, "status": statuses.get(u)} for m, u in requests],
    "secrets_on_the_wire": on_the_wire,
    "secrets_decoded": ["s3cret", "clientsec321uio", "gzrefresh555pas"],
    "searchable_secrets": ["YWxpY2U6czNjcmV0", "apikey789xyz", "abc1sess2cookie3", "hunter2pw9",
                           "formpw4321", "accesstok456qwe", "refreshtok789rty",
                           "clientsec321uio", "gzrefresh555pas", "newsess777dfg"],
    "identities": {"/whoami": "Basic alice:****", "/api/profile": "Bearer <jwt sub=bob> ****"},
    "kept": ["page=2", "\"user\": \"alice\"", "token_type", "shop-web", "expires_in",
             "remember=1", "session=****; theme=****", "session=****; Path=/; HttpOnly"],
}, sys.stdout, indent=1)
print()
EOF
install -m 0644 "$WORK/truth.json" "$HERE/secrets.truth.json"
log "secrets.pcap: $(capinfos -c -M "$HERE/secrets.pcap" | awk -F: '/Number of packets/ {gsub(/ /,"",$2); print $2}') packets"
