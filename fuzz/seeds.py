#!/usr/bin/env python3
"""seeds.py OUT_DIR PCAP...: fuzz seeds from real captures, one folder per target in OUT_DIR.

For decode_frames: each TCP/UDP conversation of each (Ethernet, classic pcap) capture becomes one
seed in the target's input format (link byte 0 = Ethernet, then 2-byte length + frame per frame).
For capture_file: the first 64 records of each capture as a small pcap file.
For dns_message: each DNS payload (UDP port 53 or 5353) as it is, and each conversation's messages
as one DNS-over-TCP stream (2-byte length prefixes).
For http_stream: each TCP conversation on port 80/8080 reassembled into its two streams (cut to
6 KiB each), in the target's input format, with a few settings of the seed and flags bytes.
For tls_client_hello: ClientHellos built here (no test capture has TLS): a browser-like one, in
one record and cut across records, with and without a server name.
For rest_bodies: JSON bodies of the gateway's PUT agent config and POST attachment.
For capnp_agent_messages: the files in seeds/capnp_agent_messages/ (real records serialized by
`cargo run --example capnp_seeds`).
"""
import json, os, shutil, struct, sys

HERE = os.path.dirname(os.path.abspath(__file__))


def records(path):
    data = open(path, "rb").read()
    magic = data[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    off = 24
    while off + 16 <= len(data):
        _, _, caplen, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        yield data[off:off + 16 + caplen], data[off + 16:off + 16 + caplen]
        off += 16 + caplen


def link_type(path):
    header = open(path, "rb").read(24)
    endian = "<" if header[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    return struct.unpack(endian + "I", header[20:24])[0]


def conversation(frame):
    if len(frame) < 38 or frame[12:14] != b"\x08\x00":
        return None
    ihl = (frame[14] & 0x0F) * 4
    proto = frame[23]
    ips = tuple(sorted([frame[26:30], frame[30:34]]))
    ports = frame[14 + ihl:14 + ihl + 4]
    return (proto, ips, tuple(sorted([ports[:2], ports[2:]])))


def transport(link, frame):
    """(proto, src, dst, sport, dport, transport header + payload) of an IPv4/IPv6 frame, or None."""
    if link == 1:  # Ethernet, VLAN tags skipped
        off, ethertype = 14, frame[12:14]
        while ethertype in (b"\x81\x00", b"\x88\xa8") and len(frame) >= off + 4:
            ethertype, off = frame[off + 2:off + 4], off + 4
    elif link == 113:  # Linux cooked (SLL)
        off, ethertype = 16, frame[14:16]
    elif link == 276:  # SLL2
        off, ethertype = 20, frame[0:2]
    else:
        return None
    ip = frame[off:]
    if ethertype == b"\x08\x00" and len(ip) >= 20:
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack(">H", ip[2:4])[0]
        if struct.unpack(">H", ip[6:8])[0] & 0x3FFF:
            return None  # a fragment
        proto, src, dst, rest = ip[9], ip[12:16], ip[16:20], ip[ihl:total]
    elif ethertype == b"\x86\xdd" and len(ip) >= 40:
        plen = struct.unpack(">H", ip[4:6])[0]
        proto, src, dst, rest = ip[6], ip[8:24], ip[24:40], ip[40:40 + plen]
    else:
        return None
    if len(rest) < 8:
        return None
    sport, dport = struct.unpack(">HH", rest[:4])
    return proto, src, dst, sport, dport, rest


def flows(path):
    """UDP payloads in capture order, and TCP segments per conversation."""
    link = link_type(path)
    udp, tcp = [], {}
    for _, frame in records(path):
        parsed = transport(link, frame)
        if parsed is None:
            continue
        proto, src, dst, sport, dport, rest = parsed
        if proto == 17:
            udp.append(((src, sport), (dst, dport), rest[8:]))
        elif proto == 6 and len(rest) >= 20:
            seq = struct.unpack(">I", rest[4:8])[0]
            flags = rest[13]
            payload = rest[(rest[12] >> 4) * 4:]
            key = tuple(sorted([(src, sport), (dst, dport)]))
            tcp.setdefault(key, []).append(((src, sport), seq, flags, payload))
    return udp, tcp


def streams(segments):
    """The two byte streams of a TCP conversation (client first), reassembled by sequence number:
    overlaps are dropped, holes closed up (a seed need not be exact)."""
    sides = {}
    client = None
    for sender, seq, flags, payload in segments:
        side = sides.setdefault(sender, {"isn": None, "data": {}})
        if flags & 0x02:  # SYN
            side["isn"] = seq + 1
            if not flags & 0x10 and client is None:
                client = sender
        if payload:
            side["data"].setdefault(seq, payload)
    if len(sides) == 0:
        return None
    if client is None:  # no SYN seen: the side on the higher port is the client
        client = max(sides, key=lambda s: s[1])
    out = []
    for sender in [client] + [s for s in sides if s != client]:
        side = sides[sender]
        data = side["data"]
        if not data:
            out.append(b"")
            continue
        base = side["isn"] if side["isn"] is not None else min(data)
        stream, at = bytearray(), None
        for seq in sorted(data, key=lambda s: (s - base) & 0xFFFFFFFF):
            rel = (seq - base) & 0xFFFFFFFF
            payload = data[seq]
            if at is None or rel >= at:
                stream += payload
                at = rel + len(payload)
            elif rel + len(payload) > at:
                stream += payload[at - rel:]
                at = rel + len(payload)
        out.append(bytes(stream))
    while len(out) < 2:
        out.append(b"")
    return out[0], out[1]


# --- TLS -------------------------------------------------------------------------------------

def vec(width, body):
    return len(body).to_bytes(width, "big") + body


def ext(kind, body):
    return struct.pack(">H", kind) + vec(2, body)


def client_hello(server_name, grease=True, extra=b""):
    """A ClientHello handshake message (header included) like a current browser's."""
    exts = []
    if grease:
        exts.append(ext(0x0A0A, b""))
    if server_name is not None:
        exts.append(ext(0, vec(2, b"\x00" + vec(2, server_name.encode()))))
    exts += [
        ext(23, b""),  # extended master secret
        ext(0xFF01, b"\x00"),  # renegotiation info
        ext(10, vec(2, b"\x0a\x0a\x00\x1d\x00\x17\x00\x18")),  # supported groups
        ext(11, vec(1, b"\x00")),  # ec point formats
        ext(35, b""),  # session ticket
        ext(16, vec(2, vec(1, b"h2") + vec(1, b"http/1.1"))),  # ALPN
        ext(5, b"\x01\x00\x00\x00\x00"),  # status request
        ext(13, vec(2, b"\x04\x03\x08\x04\x04\x01\x05\x03\x08\x05\x05\x01\x08\x06\x06\x01")),
        ext(18, b""),  # signed certificate timestamps
        ext(51, vec(2, b"\x00\x1d" + vec(2, bytes(range(32))))),  # key share (x25519)
        ext(45, vec(1, b"\x01")),  # psk key exchange modes
        ext(43, vec(1, b"\x0a\x0a\x03\x04\x03\x03")),  # supported versions
        ext(27, vec(1, b"\x00\x02")),  # compress certificate
    ]
    body = b"\x03\x03" + bytes(range(32)) + vec(1, bytes(range(100, 132)))
    body += vec(2, b"\x0a\x0a\x13\x01\x13\x02\x13\x03\xc0\x2b\xc0\x2f\xc0\x2c\xc0\x30")
    body += vec(1, b"\x00") + vec(2, b"".join(exts) + extra)
    return b"\x01" + len(body).to_bytes(3, "big") + body


def tls_records(message, size, version=b"\x03\x01"):
    return b"".join(b"\x16" + version + vec(2, message[i:i + size])
                    for i in range(0, len(message), size))


def tls_seeds():
    names = ["api.shop.test", "web.shop.svc.cluster.local", "xn--bcher-kva.example", "a" * 63 + ".b"]
    seeds = {}
    for i, name in enumerate(names):
        seeds[f"hello-{i}"] = tls_records(client_hello(name), 16384)
    hello = client_hello("api.shop.test")
    seeds["no-sni"] = tls_records(client_hello(None, grease=False), 16384)
    seeds["split-64"] = tls_records(hello, 64)
    seeds["split-7"] = tls_records(hello, 7, b"\x03\x03")
    seeds["tls10-then-ccs"] = tls_records(hello, 16384) + b"\x14\x03\x03\x00\x01\x01"
    seeds["padded"] = tls_records(client_hello("pad.test", extra=ext(21, bytes(300))), 16384)
    seeds["truncated"] = tls_records(hello, 16384)[:100]
    return seeds


# --- REST bodies -----------------------------------------------------------------------------

def rest_seeds():
    whisperer = {"kind": "whisperer", "capture": True, "filter": "tcp port 80 and host 10.0.0.5",
                 "snaplen": 65535, "promiscuous": False, "throughput_limit": 1048576,
                 "cpu_budget": 25.5, "skip_empty_acks": True, "retention_ttl": 3600000000000,
                 "interfaces": ["eth0", "lo"]}
    bodies = {
        "whisperer": whisperer,
        "whisperer-partial": {"kind": "whisperer", "capture": False},
        "exported": {"settings": whisperer, "generation": 4},
        "gocipher": {"kind": "gocipher", "counting": True, "bucket_seconds": 60},
        "controller": {"kind": "controller", "enrich": True, "inventory": False},
        "attach-pod": {"target": {"target": "pod", "namespace": "shop", "name": "web-1"},
                       "ttl_seconds": 600},
        "attach-workload": {"id": "dbg-1", "target": {"target": "workload", "namespace": "shop",
                                                      "kind": "Deployment", "name": "web"},
                            "image": "spider:0.1", "command": ["spider"],
                            "args": ["whisperer", "--backend", "b:7000"], "ttl_seconds": 3600},
        "attach-request": {"id": "a1", "target": {"target": "pod", "namespace": "shop",
                                                  "name": "web-1"},
                           "image": "spider:0.1", "command": [], "args": [], "ttl_seconds": None},
    }
    return {name: json.dumps(body).encode() for name, body in bodies.items()}


def write(folder, name, data):
    os.makedirs(folder, exist_ok=True)
    open(os.path.join(folder, name), "wb").write(data)


out = sys.argv[1]
for target in ["decode_frames", "capture_file", "dns_message", "http_stream"]:
    os.makedirs(f"{out}/{target}", exist_ok=True)
# (seed, flags) pairs for http_stream: small limits with small pieces, default limits with large
# pieces, a midstream start with losses, and direction ends.
HTTP_SETTINGS = [(0x11, 0x51), (0x22, 0xA0), (0x33, 0x77), (0x44, 0x39)]
for path in sys.argv[2:]:
    name = os.path.basename(path).rsplit(".", 1)[0]
    header = open(path, "rb").read(24)
    convs = {}
    recs = list(records(path))
    for _, frame in recs:
        key = conversation(frame)
        if key is not None:
            convs.setdefault(key, []).append(frame)
    for i, frames in enumerate(list(convs.values())[:20]):
        blob = b"\x00" + b"".join(struct.pack(">H", len(f)) + f for f in frames[:200])
        open(f"{out}/decode_frames/{name}-{i}", "wb").write(blob)
    open(f"{out}/capture_file/{name}", "wb").write(header + b"".join(r for r, _ in recs[:64]))

    udp, tcp = flows(path)
    dns = {}
    for i, (src, dst, payload) in enumerate(udp):
        if {src[1], dst[1]} & {53, 5353} and len(payload) >= 12:
            write(f"{out}/dns_message", f"{name}-{i}", payload)
            dns.setdefault(tuple(sorted([src, dst])), []).append(payload)
    for i, payloads in enumerate(dns.values()):
        stream = b"".join(struct.pack(">H", len(p)) + p for p in payloads[:16])
        write(f"{out}/dns_message", f"{name}-tcp-{i}", stream)

    http = 0
    for key, segments in tcp.items():
        if not {key[0][1], key[1][1]} & {80, 8080} or http >= 6:
            continue
        pair = streams(segments)
        if pair is None or not (pair[0] or pair[1]):
            continue
        client, server = pair[0][:6144], pair[1][:6144]
        for seed, flags in HTTP_SETTINGS[http % 2::2]:
            blob = bytes([seed, flags]) + struct.pack(">H", len(client)) + client + server
            write(f"{out}/http_stream", f"{name}-{http}-{flags:02x}", blob)
        http += 1

for name, data in tls_seeds().items():
    write(f"{out}/tls_client_hello", name, data)
for name, data in rest_seeds().items():
    write(f"{out}/rest_bodies", name, data)
committed = os.path.join(HERE, "seeds")
if os.path.isdir(committed):
    for target in os.listdir(committed):
        os.makedirs(f"{out}/{target}", exist_ok=True)
        for name in os.listdir(os.path.join(committed, target)):
            shutil.copy(os.path.join(committed, target, name), f"{out}/{target}/{name}")
