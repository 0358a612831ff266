#!/usr/bin/env python3
"""Small HTTP/1.x test server with the edge cases the captures need.

    httpd.py --listen 10.79.0.2:8080 [--listen [fd79::2]:8080] [--http10]
             [--manifest FILE] [--control DIR]

HTTP/1.1 on raw sockets (so every byte on the wire is chosen here):
keep-alive, pipelining (responses to requests already buffered are written
in one send, so they share segments), HEAD, Expect: 100-continue, 103 Early
Hints, 204, 304 (ETag / If-None-Match, Last-Modified / If-Modified-Since),
chunked responses with extensions and trailers, chunked request bodies,
gzip / deflate / br bodies, Upgrade: websocket -> 101 + WebSocket echo,
large bodies, a paced body for mid-stream captures.

--http10 serves with http.server and protocol_version "HTTP/1.0": responses
carry no Content-Length and end when the server closes the connection.

Routes (path without query):
  /empty, DELETE anything           204 No Content
  /etag/*                           200 with ETag + Last-Modified, 304 when
                                    If-None-Match / If-Modified-Since match
                                    (/etag/with-length: the 304 also carries
                                    the Content-Length a 200 would have)
  /upload, /api/*  (POST/PUT)       reads the body (after 100 Continue when
                                    asked), 201 Created + JSON
  /early-hints/*                    103 Early Hints, then 200
  /chunked/*                        chunked response with Trailer + trailers
  /echo                             reads a chunked or sized body, 200 JSON
  /assets/*  /c/*                   body compressed per Accept-Encoding
                                    (br, gzip, deflate; recorded in --manifest)
  /ws                               101 Switching Protocols when asked to
                                    upgrade to websocket, else 200
  /large                            ?size=N bytes of text, Content-Length
  /slow/*                           Content-Length body, the first 4 KB at once,
                                    the rest once CONTROL/go exists
  anything else                     200 text with Content-Length
"""
import argparse
import base64
import brotli
import gzip
import hashlib
import http.server
import json
import os
import socket
import socketserver
import sys
import threading
import time
import zlib
from urllib.parse import urlsplit, parse_qs

WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima "
         "mike november oscar papa quebec romeo sierra tango uniform victor whiskey "
         "xray yankee zulu").split()
LAST_MODIFIED = "Tue, 03 Mar 2026 10:00:00 GMT"
MANIFEST_LOCK = threading.Lock()
ARGS = None


def text_for(key, n):
    """Deterministic text of exactly n bytes for key."""
    out = []
    size = 0
    i = 0
    seed = hashlib.sha256(key.encode()).digest()
    while size < n:
        w = WORDS[(seed[i % 32] + i * 7) % len(WORDS)]
        out.append(w)
        size += len(w) + 1
        i += 1
    return (" ".join(out) + "\n").encode()[:n]


def noise_for(key, n):
    """Deterministic, poorly compressible text (base64 lines) of n bytes."""
    out = b""
    h = hashlib.sha256(key.encode()).digest()
    while len(out) < n:
        chunk = b""
        for _ in range(12):
            h = hashlib.sha256(h).digest()
            chunk += h
        out += base64.b64encode(chunk[:57 * 4])[:76] + b"\n"
    return out[:n]


def record_manifest(entry):
    if not ARGS.manifest:
        return
    with MANIFEST_LOCK:
        try:
            with open(ARGS.manifest) as f:
                m = json.load(f)
        except (FileNotFoundError, ValueError):
            m = []
        m.append(entry)
        with open(ARGS.manifest, "w") as f:
            json.dump(m, f, indent=1)


class Closed(Exception):
    pass


class Conn:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.out = []

    # -- output: queued, flushed before any blocking read and when no further
    # request head is already buffered (so pipelined responses coalesce)
    def send(self, data):
        self.out.append(data)

    def flush(self):
        if self.out:
            self.sock.sendall(b"".join(self.out))
            self.out = []

    def send_now(self, data):
        self.send(data)
        self.flush()

    def _fill(self):
        self.flush()
        d = self.sock.recv(65536)
        if not d:
            raise Closed()
        self.buf += d

    def read_until(self, sep):
        while sep not in self.buf:
            self._fill()
        i = self.buf.index(sep) + len(sep)
        d, self.buf = self.buf[:i], self.buf[i:]
        return d

    def read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def read_line(self):
        return self.read_until(b"\r\n")[:-2]

    def head_buffered(self):
        return b"\r\n\r\n" in self.buf


def parse_head(raw):
    lines = raw.decode("latin-1").split("\r\n")
    method, target, version = lines[0].split(" ", 2)
    headers = []
    for l in lines[1:]:
        if not l:
            continue
        k, v = l.split(":", 1)
        headers.append((k.strip(), v.strip()))
    return method, target, version, headers


def hget(headers, name, default=None):
    for k, v in headers:
        if k.lower() == name.lower():
            return v
    return default


def status_line(code, reason):
    return ("HTTP/1.1 %d %s\r\n" % (code, reason)).encode()


def head_bytes(code, reason, headers):
    h = status_line(code, reason)
    for k, v in headers:
        h += ("%s: %s\r\n" % (k, v)).encode()
    return h + b"\r\n"


def std_headers(ctype=None):
    h = [("Server", "spider-testd/1"),
         ("Date", time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime()))]
    if ctype:
        h.append(("Content-Type", ctype))
    return h


def read_body(conn, headers):
    te = (hget(headers, "Transfer-Encoding") or "").lower()
    if "chunked" in te:
        body = b""
        trailers = []
        while True:
            line = conn.read_line().decode("latin-1")
            size = int(line.split(";", 1)[0].strip(), 16)
            if size == 0:
                break
            body += conn.read_exact(size)
            conn.read_exact(2)
        while True:
            line = conn.read_line()
            if not line:
                break
            trailers.append(line.decode("latin-1"))
        return body, trailers
    n = int(hget(headers, "Content-Length", "0"))
    return conn.read_exact(n), []


def handle_request(conn, method, target, version, headers):
    """Returns False when the connection must close after this response."""
    url = urlsplit(target)
    path = url.path
    q = parse_qs(url.query)
    keep = version == "HTTP/1.1" and (hget(headers, "Connection", "").lower() != "close")
    if version == "HTTP/1.0" and hget(headers, "Connection", "").lower() == "keep-alive":
        keep = True
    conn_hdr = [] if keep else [("Connection", "close")]
    if version == "HTTP/1.0" and keep:
        conn_hdr = [("Connection", "keep-alive")]

    has_body = hget(headers, "Content-Length") or hget(headers, "Transfer-Encoding")
    expect = (hget(headers, "Expect") or "").lower() == "100-continue"

    # -- WebSocket upgrade
    if path == "/ws" and "websocket" in (hget(headers, "Upgrade") or "").lower() \
            and path == "/ws" and not q.get("refuse"):
        key = hget(headers, "Sec-WebSocket-Key", "")
        accept = base64.b64encode(hashlib.sha1(
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        conn.send_now(head_bytes(101, "Switching Protocols", [
            ("Upgrade", "websocket"), ("Connection", "Upgrade"),
            ("Sec-WebSocket-Accept", accept)]))
        websocket_echo(conn)
        return False

    if expect and has_body:
        conn.send_now(b"HTTP/1.1 100 Continue\r\n\r\n")
    body, trailers = read_body(conn, headers) if has_body else (b"", [])

    if path.startswith("/early-hints"):
        conn.send_now(head_bytes(103, "Early Hints", [
            ("Link", "</assets/app.css>; rel=preload; as=style"),
            ("Link", "</assets/app.js>; rel=preload; as=script")]))
        time.sleep(0.01)

    if path == "/empty" or method == "DELETE":
        conn.send(head_bytes(204, "No Content", std_headers() + conn_hdr))
        return keep

    if method in ("POST", "PUT", "PATCH"):
        if path == "/echo":
            doc = {"received": len(body), "sha256": hashlib.sha256(body).hexdigest(),
                   "trailers": trailers,
                   "chunked": "chunked" in (hget(headers, "Transfer-Encoding") or "")}
            code, reason = 200, "OK"
        else:
            doc = {"id": 7, "path": path, "received": len(body)}
            code, reason = 201, "Created"
        out = (json.dumps(doc) + "\n").encode()
        h = std_headers("application/json") + [("Content-Length", str(len(out)))]
        if code == 201:
            h.append(("Location", path.rstrip("/") + "/7"))
        conn.send(head_bytes(code, reason, h + conn_hdr) + out)
        return keep

    if path == "/ws":
        # Upgrade refused (or not asked for): an ordinary response, the
        # connection stays HTTP.
        out = b"websocket upgrade not done\n"
        conn.send(head_bytes(200, "OK", std_headers("text/plain") + [
            ("Content-Length", str(len(out)))] + conn_hdr) + (b"" if method == "HEAD" else out))
        return keep

    if path.startswith("/chunked"):
        send_chunked(conn, path, method, conn_hdr)
        return keep

    if path.startswith("/assets/") or path.startswith("/c/"):
        send_compressed(conn, target, path, method, headers, conn_hdr)
        return keep

    if path.startswith("/slow/"):
        size = int(q.get("size", ["40000"])[0])
        out = text_for(path, size)
        conn.send_now(head_bytes(200, "OK", std_headers("text/plain") + [
            ("Content-Length", str(size))] + conn_hdr) + out[:4096])
        go = os.path.join(ARGS.control or "/nonexistent", "go")
        for _ in range(3000):
            if os.path.exists(go):
                break
            time.sleep(0.01)
        for i in range(4096, size, 8192):
            conn.send_now(out[i:i + 8192])
            time.sleep(0.02)
        return keep

    if path == "/large":
        size = int(q.get("size", ["65536"])[0])
        out = text_for(target, size)
    else:
        out = text_for(path, 200 + (sum(path.encode()) % 700))
    etag = '"%s"' % hashlib.sha1(out).hexdigest()[:16]
    h = std_headers("text/plain; charset=utf-8")
    if path.startswith("/etag/"):
        h += [("ETag", etag), ("Last-Modified", LAST_MODIFIED),
              ("Cache-Control", "max-age=0, must-revalidate")]
        inm = hget(headers, "If-None-Match")
        ims = hget(headers, "If-Modified-Since")
        if (inm and etag in [t.strip() for t in inm.split(",")]) or (not inm and ims == LAST_MODIFIED):
            h304 = [x for x in h if x[0] != "Content-Type"]
            if path == "/etag/with-length":
                h304.append(("Content-Length", str(len(out))))
            conn.send(head_bytes(304, "Not Modified", h304 + conn_hdr))
            return keep
    conn.send(head_bytes(200, "OK", h + [("Content-Length", str(len(out)))] + conn_hdr)
              + (b"" if method == "HEAD" else out))
    return keep


def send_chunked(conn, path, method, conn_hdr):
    body = text_for(path, 4500 if "big" in path else 700)
    h = std_headers("text/plain; charset=utf-8") + [("Transfer-Encoding", "chunked")]
    trailers = [("X-Content-SHA256", hashlib.sha256(body).hexdigest()),
                ("Server-Timing", "render;dur=12.5")]
    if "empty" in path:
        body = b""
    if "no-trailers" not in path:
        h.append(("Trailer", "X-Content-SHA256, Server-Timing"))
    conn.send_now(head_bytes(200, "OK", h + conn_hdr))
    if method == "HEAD":
        return
    # chunk sizes: small, with an extension, one spanning several segments
    sizes = [16, 100, 3000, len(body)] if "big" in path else [16, 100, 1000]
    pos = 0
    n = 0
    for s in sizes:
        piece = body[pos:pos + s]
        if not piece:
            break
        ext = ';part="%d"' % n if n == 1 else ""
        fmt = "%X" if n % 2 else "%x"
        conn.send_now((fmt % len(piece)).encode() + ext.encode() + b"\r\n" + piece + b"\r\n")
        time.sleep(0.005)
        pos += len(piece)
        n += 1
    tail = b"0\r\n"
    if "no-trailers" not in path:
        for k, v in trailers:
            tail += ("%s: %s\r\n" % (k, v)).encode()
    conn.send(tail + b"\r\n")


def send_compressed(conn, target, path, method, headers, conn_hdr):
    if "bundle" in path:
        # /assets/bundle*: poorly compressible, the encoded body spans many segments
        plain = noise_for(path, 16000)
    else:
        plain = text_for(path, 3000 + (sum(path.encode()) % 2000))
    accepted = [a.split(";")[0].strip().lower()
                for a in (hget(headers, "Accept-Encoding") or "").split(",") if a.strip()]
    enc = next((e for e in accepted if e in ("br", "gzip", "deflate", "identity")), "identity")
    if enc == "gzip":
        data = gzip.compress(plain, mtime=0)
    elif enc == "deflate":
        data = zlib.compress(plain)
    elif enc == "br":
        data = brotli.compress(plain)
    else:
        data = plain
    chunked = "chunked" in path
    h = std_headers("text/plain; charset=utf-8") + [("Vary", "Accept-Encoding")]
    if enc != "identity":
        h.append(("Content-Encoding", enc))
    if chunked:
        h.append(("Transfer-Encoding", "chunked"))
    else:
        h.append(("Content-Length", str(len(data))))
    if method == "HEAD":
        conn.send(head_bytes(200, "OK", h + conn_hdr))
        return
    record_manifest({"uri": target, "content_encoding": enc,
                     "transfer_encoding": "chunked" if chunked else "identity",
                     "encoded_length": len(data), "length": len(plain),
                     "sha256": hashlib.sha256(plain).hexdigest(),
                     "text_prefix": plain[:40].decode()})
    if chunked:
        conn.send_now(head_bytes(200, "OK", h + conn_hdr))
        half = len(data) // 2
        for piece in (data[:half], data[half:]):
            conn.send_now(b"%x\r\n" % len(piece) + piece + b"\r\n")
            time.sleep(0.005)
        conn.send(b"0\r\n\r\n")
    else:
        conn.send(head_bytes(200, "OK", h + conn_hdr) + data)


def websocket_echo(conn):
    """Echo WebSocket frames back unmasked until a close frame."""
    while True:
        b0, b1 = conn.read_exact(2)
        op = b0 & 0x0F
        n = b1 & 0x7F
        if n == 126:
            n = int.from_bytes(conn.read_exact(2), "big")
        elif n == 127:
            n = int.from_bytes(conn.read_exact(8), "big")
        mask = conn.read_exact(4) if b1 & 0x80 else b"\0\0\0\0"
        data = bytes(c ^ mask[i % 4] for i, c in enumerate(conn.read_exact(n)))
        if n < 126:
            hdr = bytes([0x80 | op, n])
        else:
            hdr = bytes([0x80 | op, 126]) + n.to_bytes(2, "big")
        conn.send_now(hdr + data)
        if op == 8:
            return


def serve_conn(sock):
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn = Conn(sock)
    try:
        while True:
            raw = conn.read_until(b"\r\n\r\n")
            method, target, version, headers = parse_head(raw)
            keep = handle_request(conn, method, target, version, headers)
            if not keep:
                conn.flush()
                break
            if not conn.head_buffered():
                conn.flush()
    except (Closed, ConnectionError):
        pass
    finally:
        try:
            conn.flush()
            sock.shutdown(socket.SHUT_WR)
            # drain so the close is an orderly FIN, not an RST
            sock.settimeout(2)
            while sock.recv(65536):
                pass
        except OSError:
            pass
        sock.close()


def listen(addr):
    host, port = addr.rsplit(":", 1)
    host = host.strip("[]")
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((host, int(port)))
    s.listen(64)
    return s


def accept_loop(s):
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve_conn, args=(c,), daemon=True).start()


class Http10Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    server_version = "spider-testd-http10/1"
    sys_version = ""

    def log_message(self, *a):
        pass

    def do_GET(self, head=False):
        path = urlsplit(self.path).path
        size = 20000 if path.startswith("/big") else 300 + len(self.path) * 3
        body = text_for(path, size)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        if path.startswith("/sized"):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            # several writes so a close-delimited body spans segments
            for i in range(0, len(body), 6000):
                self.wfile.write(body[i:i + 6000])
                self.wfile.flush()

    def do_HEAD(self):
        self.do_GET(head=True)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        data = self.rfile.read(n)
        out = ("got %d bytes\n" % len(data)).encode()
        self.send_response(201)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(out)


class Http10Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", action="append", required=True)
    ap.add_argument("--http10", action="store_true")
    ap.add_argument("--manifest")
    ap.add_argument("--control")
    ARGS = ap.parse_args()
    if ARGS.http10:
        host, port = ARGS.listen[0].rsplit(":", 1)
        Http10Server((host.strip("[]"), int(port)), Http10Handler).serve_forever()
        return
    socks = [listen(a) for a in ARGS.listen]
    for s in socks[1:]:
        threading.Thread(target=accept_loop, args=(s,), daemon=True).start()
    accept_loop(socks[0])


if __name__ == "__main__":
    main()
