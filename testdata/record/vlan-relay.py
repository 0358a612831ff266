#!/usr/bin/env python3
"""Userspace VLAN "switch port": relays Ethernet frames between an access
interface (untagged) and a trunk interface (tagged), pushing the tags on the
way to the trunk and popping them on the way back.

    vlan-relay.py ACCESS_IF TRUNK_IF TAG [TAG...]

TAG is TPID:VID with TPID 8100 (802.1Q) or 88a8 (802.1ad), outermost first,
e.g. `88a8:200 8100:100` for QinQ.  Frames arriving on the trunk whose tags
differ are dropped.  Prints "ready" once both sockets are bound.

record-captures.sh uses it because the kernel it was written on has no
802.1Q support (CONFIG_VLAN_8021Q unset: `ip link add ... type vlan` fails),
so the tags are put on the wire here instead; the TCP/IP traffic inside is
still the kernel's, between two namespaces.
"""
import os
import select
import socket
import struct
import sys

ETH_P_ALL = 3
PACKET_OUTGOING = 4


SOL_PACKET = 263
PACKET_AUXDATA = 8
TP_STATUS_VLAN_VALID = 0x10
TP_STATUS_VLAN_TPID_VALID = 0x40


def sock(ifname):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((ifname, 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    return s


def recv_frame(s):
    """One frame with its outer VLAN tag back in the bytes: the receive path
    moves the outer tag of an incoming frame into metadata (auxdata)."""
    data, anc, _flags, addr = s.recvmsg(65535, socket.CMSG_SPACE(20))
    for level, typ, val in anc:
        if level == SOL_PACKET and typ == PACKET_AUXDATA and len(val) >= 20:
            status, _l, _sl, _mac, _net, tci, tpid = struct.unpack("IIIHHHH", val[:20])
            if status & TP_STATUS_VLAN_VALID:
                if not status & TP_STATUS_VLAN_TPID_VALID:
                    tpid = 0x8100
                data = data[:12] + struct.pack("!HH", tpid, tci) + data[12:]
    return data, addr


def main():
    access, trunk = sys.argv[1], sys.argv[2]
    tags = []
    for t in sys.argv[3:]:
        tpid, vid = t.split(":")
        tags.append(struct.pack("!HH", int(tpid, 16), int(vid)))
    tag_bytes = b"".join(tags)
    a, t = sock(access), sock(trunk)
    print("ready", flush=True)
    while True:
        r, _, _ = select.select([a, t], [], [])
        for s in r:
            data, addr = recv_frame(s)
            if addr[2] == PACKET_OUTGOING:
                continue  # our own transmissions
            if s is a:
                t.send(data[:12] + tag_bytes + data[12:])
            else:
                if data[12:12 + len(tag_bytes)] != tag_bytes:
                    continue
                a.send(data[:12] + data[12 + len(tag_bytes):])


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        os._exit(0)
