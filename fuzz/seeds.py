#!/usr/bin/env python3
"""seeds.py OUT_DIR PCAP...: fuzz seeds from real captures.

For decode_frames: each TCP/UDP conversation of each (Ethernet, classic pcap) capture becomes one
seed in the target's input format (link byte 0 = Ethernet, then 2-byte length + frame per frame).
For capture_file: the first 64 records of each capture as a small pcap file.
"""
import os, struct, sys

def records(path):
    data = open(path, "rb").read()
    magic = data[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    off = 24
    while off + 16 <= len(data):
        _, _, caplen, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        yield data[off:off + 16 + caplen], data[off + 16:off + 16 + caplen]
        off += 16 + caplen

def conversation(frame):
    if len(frame) < 38 or frame[12:14] != b"\x08\x00":
        return None
    ihl = (frame[14] & 0x0F) * 4
    proto = frame[23]
    ips = tuple(sorted([frame[26:30], frame[30:34]]))
    ports = frame[14 + ihl:14 + ihl + 4]
    return (proto, ips, tuple(sorted([ports[:2], ports[2:]])))

out = sys.argv[1]
os.makedirs(f"{out}/decode_frames", exist_ok=True)
os.makedirs(f"{out}/capture_file", exist_ok=True)
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
