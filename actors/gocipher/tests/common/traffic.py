"""Known traffic for the Gocipher's tests, run inside a test network namespace.

tcp-server ADDR PORT REPLY CHUNK: accepts one connection, reads until the peer shuts down its
  side, then sends REPLY bytes in CHUNK-sized send calls and closes.
tcp-client ADDR PORT TOTAL CHUNK: connects, sends TOTAL bytes in CHUNK-sized send calls, shuts
  down its side and reads the reply to the end.
udp-server ADDR PORT COUNT REPLY: receives COUNT datagrams (recvfrom), answering each with a
  REPLY-byte datagram (sendto) from its unconnected socket.
udp-client ADDR PORT COUNT SIZE connected|unconnected GAP_MS: sends COUNT datagrams of SIZE
  bytes (send on a connected socket, or sendto), GAP_MS apart, and receives the replies.
udp-spray ADDR PORT COUNT: sends one 10-byte datagram to each of COUNT ports from PORT on.

Every role prints "ready" once listening (servers) and, at the end, one JSON line with the
payload bytes and calls it made: the test's truth.
"""
import json
import socket
import sys
import time

TIMEOUT = 20


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def send_all(sock, total, chunk):
    sent = calls = 0
    while sent < total:
        n = sock.send(b"x" * min(chunk, total - sent))
        sent += n
        calls += 1
    return sent, calls


def main():
    role, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    out = {"role": role}
    if role == "tcp-server":
        reply, chunk = int(sys.argv[4]), int(sys.argv[5])
        srv = socket.socket(family(addr), socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((addr, port))
        srv.listen(1)
        srv.settimeout(TIMEOUT)
        print("ready", flush=True)
        conn, _ = srv.accept()
        conn.settimeout(TIMEOUT)
        received = 0
        while True:
            data = conn.recv(65536)
            if not data:
                break
            received += len(data)
        out["received"] = received
        out["sent"], out["calls"] = send_all(conn, reply, chunk)
        conn.close()
    elif role == "tcp-client":
        total, chunk = int(sys.argv[4]), int(sys.argv[5])
        sock = socket.create_connection((addr, port), timeout=TIMEOUT)
        out["sent"], out["calls"] = send_all(sock, total, chunk)
        sock.shutdown(socket.SHUT_WR)
        received = 0
        while True:
            data = sock.recv(65536)
            if not data:
                break
            received += len(data)
        out["received"] = received
        sock.close()
    elif role == "udp-server":
        count, reply = int(sys.argv[4]), int(sys.argv[5])
        sock = socket.socket(family(addr), socket.SOCK_DGRAM)
        sock.bind((addr, port))
        sock.settimeout(TIMEOUT)
        print("ready", flush=True)
        received = sent = calls = 0
        for _ in range(count):
            data, peer = sock.recvfrom(65536)
            received += len(data)
            sent += sock.sendto(b"y" * reply, peer)
            calls += 1
        out.update(received=received, sent=sent, calls=calls)
    elif role == "udp-client":
        count, size, mode, gap = int(sys.argv[4]), int(sys.argv[5]), sys.argv[6], int(sys.argv[7])
        sock = socket.socket(family(addr), socket.SOCK_DGRAM)
        sock.settimeout(TIMEOUT)
        if mode == "connected":
            sock.connect((addr, port))
        sent = calls = received = 0
        for _ in range(count):
            if mode == "connected":
                sent += sock.send(b"x" * size)
            else:
                sent += sock.sendto(b"x" * size, (addr, port))
            calls += 1
            data = sock.recv(65536)
            received += len(data)
            if gap:
                time.sleep(gap / 1000.0)
        out.update(sent=sent, calls=calls, received=received)
    elif role == "udp-spray":
        count = int(sys.argv[4])
        sock = socket.socket(family(addr), socket.SOCK_DGRAM)
        sent = calls = 0
        for i in range(count):
            sent += sock.sendto(b"z" * 10, (addr, port + i))
            calls += 1
        out.update(sent=sent, calls=calls)
    else:
        sys.exit("unknown role " + role)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
