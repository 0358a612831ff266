#!/usr/bin/env python3
"""Clients for record-captures.sh: one function per scenario.

    client.py SCENARIO --log LOG.jsonl [--server ADDR] [--control DIR] ...

Every exchange is appended to LOG as a JSON line {method, host, uri, status,
interim, captured, conn}: what the client actually sent and the final status
it got (null when it got none).  truth.py compares that with tshark.

Requests are written byte by byte on raw sockets (so pipelining, Expect,
chunked uploads and odd splits are exactly as intended); some scenarios also
run curl, whose exchanges are logged from `curl -w '%{json}'`.
"""
import argparse
import base64
import json
import os
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

LOG = None
CAPTURED = True


def log(method, host, uri, status, interim=(), conn=None, **extra):
    e = {"method": method, "host": host, "uri": uri, "status": status,
         "interim": list(interim), "captured": CAPTURED, "conn": conn}
    e.update(extra)
    with open(LOG, "a") as f:
        f.write(json.dumps(e) + "\n")


class Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.eof = False

    def _fill(self):
        d = self.sock.recv(65536)
        if not d:
            self.eof = True
            raise EOFError()
        self.buf += d

    def until(self, sep):
        while sep not in self.buf:
            self._fill()
        i = self.buf.index(sep) + len(sep)
        d, self.buf = self.buf[:i], self.buf[i:]
        return d

    def exact(self, n):
        while len(self.buf) < n:
            self._fill()
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def to_close(self):
        try:
            while True:
                self._fill()
        except EOFError:
            pass
        d, self.buf = self.buf, b""
        return d


def parse_headers(raw):
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    hdrs = {}
    for l in lines[1:]:
        if l:
            k, v = l.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
    return parts, hdrs


def read_response(rd, method):
    """Read one response (after any 1xx); returns (status, headers, body, interim)."""
    interim = []
    while True:
        (version, code, *_), hdrs = parse_headers(rd.until(b"\r\n\r\n"))
        code = int(code)
        if 100 <= code < 200 and code != 101:
            interim.append(code)
            continue
        break
    if method == "HEAD" or code in (101, 204, 304):
        return code, hdrs, b"", interim
    if "chunked" in hdrs.get("transfer-encoding", ""):
        body = b""
        while True:
            size = int(rd.until(b"\r\n")[:-2].split(b";")[0], 16)
            if size == 0:
                break
            body += rd.exact(size)
            rd.exact(2)
        while rd.until(b"\r\n") != b"\r\n":
            pass
        return code, hdrs, body, interim
    if "content-length" in hdrs:
        return code, hdrs, rd.exact(int(hdrs["content-length"])), interim
    return code, hdrs, rd.to_close(), interim


def request_bytes(method, host, uri, headers=(), body=None, version="HTTP/1.1",
                  chunks=None, trailers=()):
    h = ["%s %s %s" % (method, uri, version)]
    if host is not None:
        h.append("Host: %s" % host)
    h.append("User-Agent: spider-recorder/1")
    h += ["%s: %s" % kv for kv in headers]
    if chunks is not None:
        h.append("Transfer-Encoding: chunked")
        if trailers:
            h.append("Trailer: " + ", ".join(k for k, _ in trailers))
    elif body is not None:
        h.append("Content-Length: %d" % len(body))
    head = ("\r\n".join(h) + "\r\n\r\n").encode()
    return head


def connect(addr, port):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.connect((addr, port))
    return s


class Conn:
    n = 0

    def __init__(self, addr, port, host):
        Conn.n += 1
        self.id = "%s:%d#%d" % (addr, port, Conn.n)
        self.s = connect(addr, port)
        self.rd = Reader(self.s)
        self.host = host

    def do(self, method, uri, headers=(), body=None, expect=False, version="HTTP/1.1",
           chunks=None, trailers=(), host=Ellipsis, pause=0.0):
        """One request/response; returns (status, headers, body)."""
        host = self.host if host is Ellipsis else host
        hdrs = list(headers)
        if expect:
            hdrs.append(("Expect", "100-continue"))
        head = request_bytes(method, host, uri, hdrs, body, version, chunks, trailers)
        interim = []
        if expect:
            self.s.sendall(head)
            # wait for 100 Continue before the body; a server may instead
            # answer at once with the final status (then the body is not sent)
            raw = self.rd.until(b"\r\n\r\n")
            (_, code, *_), _h = parse_headers(raw)
            if int(code) == 100:
                interim.append(100)
                self.s.sendall(body)
            else:
                self.rd.buf = raw + self.rd.buf
        elif chunks is not None:
            self.s.sendall(head)
            for c, ext in chunks:
                time.sleep(0.01)
                self.s.sendall(b"%x%s\r\n%s\r\n" % (len(c), ext.encode(), c))
            tail = b"0\r\n" + b"".join(("%s: %s\r\n" % kv).encode() for kv in trailers) + b"\r\n"
            time.sleep(0.01)
            self.s.sendall(tail)
        else:
            self.s.sendall(head + (body or b""))
        code, rh, rb, more = read_response(self.rd, method)
        log(method, host, uri, code, interim + more, self.id)
        if pause:
            time.sleep(pause)
        return code, rh, rb

    def pipeline(self, reqs, split_at=None):
        """Write all requests (tuples method, uri, headers, body) back to back,
        then read the responses in order.  split_at: byte offset where the
        write is cut in two (with a pause) to split a request across segments."""
        data = b""
        for method, uri, headers, body in reqs:
            data += request_bytes(method, self.host, uri, headers, body) + (body or b"")
        if split_at:
            self.s.sendall(data[:split_at])
            time.sleep(0.05)
            self.s.sendall(data[split_at:])
        else:
            self.s.sendall(data)
        out = []
        for method, uri, headers, body in reqs:
            code, rh, rb, interim = read_response(self.rd, method)
            log(method, self.host, uri, code, interim, self.id, pipelined=True)
            out.append(code)
        return out

    def close(self):
        try:
            self.s.shutdown(socket.SHUT_WR)
            self.s.settimeout(3)
            while self.s.recv(65536):
                pass
        except OSError:
            pass
        self.s.close()


def curl(*args, resolve=()):
    """Run curl with -w '%{json}' and log each transfer; returns the json records."""
    common = ["-sS", "-v", "--max-time", "20", "-w", "%{json}\n"]
    for r in resolve:
        common += ["--resolve", r]
    # --next resets the options: repeat the common ones for every transfer
    cmd = ["curl"] + common
    for x in args:
        cmd.append(x)
        if x == "--next":
            cmd += common
    p = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = p.stdout.decode()
    # status lines from -v, in order: 1xx ones belong to the next final one
    finals = []
    pending = []
    for line in p.stderr.decode("latin-1").splitlines():
        if line.startswith("< HTTP/"):
            code = int(line.split()[2])
            if 100 <= code < 200 and code != 101:
                pending.append(code)
            else:
                finals.append(pending)
                pending = []
    recs = []
    for line in out.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        j = json.loads(line)
        u = urlsplit(j["url_effective"])
        uri = (u.path or "/") + ("?" + u.query if u.query else "")
        host = u.netloc
        interim = finals[len(recs)] if j["response_code"] and len(recs) < len(finals) else []
        log(j["method"], host, uri, j["response_code"] or None, interim,
            "curl:%d" % j["local_port"], via="curl")
        recs.append(j)
    return recs


def ws_frame(op, payload, mask=b"\x37\xfa\x21\x3d"):
    n = len(payload)
    if n < 126:
        hdr = bytes([0x80 | op, 0x80 | n])
    else:
        hdr = bytes([0x80 | op, 0x80 | 126]) + n.to_bytes(2, "big")
    return hdr + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(payload))


def ws_read(rd):
    b0, b1 = rd.exact(2)
    n = b1 & 0x7F
    if n == 126:
        n = int.from_bytes(rd.exact(2), "big")
    return b0 & 0x0F, rd.exact(n)


def wait_file(path, timeout=30):
    t = time.time() + timeout
    while not os.path.exists(path):
        if time.time() > t:
            raise SystemExit("timeout waiting for " + path)
        time.sleep(0.01)


# ---------------------------------------------------------------- scenarios
S4 = "10.79.0.2"


def sc_head_1xx(a):
    api = "api.shop.test:8080"
    c = Conn(S4, 8080, api)
    c.do("HEAD", "/etag/profile?id=42")
    c.do("POST", "/upload?name=report%202026.csv&overwrite=1",
         [("Content-Type", "text/csv")], body=b"id,qty\n" + b"7,1\n" * 750, expect=True)
    _, h, _ = c.do("GET", "/etag/profile?id=42")
    etag = h["etag"]
    c.do("GET", "/etag/profile?id=42", [("If-None-Match", etag)])
    c.do("GET", "/etag/profile?id=42&v=2", [("If-Modified-Since", h["last-modified"])])
    _, h2, _ = c.do("HEAD", "/etag/with-length")
    c.do("GET", "/etag/with-length", [("If-None-Match", '"nomatch", ' + h2["etag"])])
    c.do("DELETE", "/api/v1/cart/items/42?reason=user%20request")
    c.do("GET", "/empty?probe=1")
    c.do("GET", "/early-hints/home?lang=pt-BR")
    c.do("PUT", "/api/v1/profile/ana%20maria", [("Content-Type", "application/json")],
         body=b'{"name": "Ana Maria", "city": "S\xc3\xa3o Paulo"}', expect=True)
    c.do("HEAD", "/large?size=50000")
    c.do("GET", "/health?full=true")
    c.close()
    # nginx on :80, one keep-alive connection
    st = "static.shop.test"
    n = Conn(S4, 80, st)
    n.do("HEAD", "/catalog/index.html")
    _, h, _ = n.do("GET", "/catalog/index.html?utm_source=mail%20list")
    n.do("GET", "/catalog/index.html", [("If-None-Match", h["etag"])])
    n.do("GET", "/catalog/index.html?ims=1", [("If-Modified-Since", h["last-modified"])])
    n.do("HEAD", "/catalog/missing%20page.html?x=1")
    n.do("GET", "/empty?reason=none")
    n.do("POST", "/upload/avatar?user=7", [("Content-Type", "image/png")],
         body=bytes(range(256)) * 8, expect=True)
    n.do("GET", "/catalog/style.css?v=1.2.3")
    n.close()
    # curl: it adds Expect: 100-continue itself for bodies over 1 KB, -I is HEAD;
    # --next transfers reuse the connection
    r = ["api.shop.test:8080:10.79.0.2"]
    body = os.path.join(a.control, "form.txt")
    with open(body, "w") as f:
        f.write("comment=" + "x" * 2000)
    curl("-o", "/dev/null", "-H", "Expect: 100-continue", "--data-binary", "@" + body,
         "http://api.shop.test:8080/api/v1/comments?thread=9&draft=false",
         "--next", "-o", "/dev/null", "-I", "http://api.shop.test:8080/etag/avatar.png?size=64",
         "--next", "-o", "/dev/null", "-X", "DELETE",
         "http://api.shop.test:8080/api/v1/comments/9?hard=1",
         resolve=r)


def sc_pipelining(a):
    api = "api.shop.test:8080"
    c = Conn(S4, 8080, api)
    c.pipeline([
        ("GET", "/api/v1/items?page=1", [], None),
        ("GET", "/api/v1/items?page=2&sort=-price", [("Accept", "application/json")], None),
        ("HEAD", "/etag/logo.png", [], None),
        ("GET", "/search?q=caf%C3%A9%20au%20lait&lang=fr", [], None),
        ("DELETE", "/api/v1/items/9", [], None),
        ("GET", "/etag/logo.png?rev=3", [], None),
    ])
    body = b'{"item": 9, "qty": 2, "note": "pipelined"}'
    c.pipeline([
        ("POST", "/api/v1/orders?src=pipeline", [("Content-Type", "application/json")], body),
        ("GET", "/api/v1/orders/7", [], None),
        ("GET", "/chunked/feed?since=10", [], None),
        ("GET", "/empty?after=chunked", [], None),
    ])
    # a write cut in the middle of the second request's header block
    c.pipeline([
        ("GET", "/api/v1/users/1?fields=name%2Cemail", [], None),
        ("GET", "/api/v1/users/2?fields=name%2Cemail", [("Accept-Language", "pt-BR")], None),
        ("GET", "/api/v1/users/3", [], None),
    ], split_at=150)
    c.pipeline([
        ("GET", "/api/v1/ping?seq=1", [], None),
        ("GET", "/api/v1/ping?seq=2", [("Connection", "close")], None),
    ])
    c.close()
    n = Conn(S4, 80, "static.shop.test")
    n.pipeline([
        ("GET", "/catalog/index.html", [], None),
        ("HEAD", "/catalog/style.css?v=1.2.3", [], None),
        ("GET", "/catalog/no%20such%20file.html", [], None),
        ("GET", "/catalog/style.css?v=1.2.3", [], None),
    ])
    n.close()


def sc_chunked(a):
    c = Conn(S4, 8080, "api.shop.test:8080")
    c.do("GET", "/chunked/news?page=1&lang=en")
    c.do("GET", "/chunked/big/report.txt?fmt=plain&range=2026%2D01")
    c.do("GET", "/chunked/empty?x=%2F")
    c.do("GET", "/chunked/no-trailers/list?limit=3")
    c.do("HEAD", "/chunked/news?page=1&lang=en")
    c.do("POST", "/echo?mode=chunked&id=1", [("Content-Type", "text/plain")],
         chunks=[(b"first chunk of the upload\n", ""), (b"x" * 1800, ""),
                 (b"last piece\n", ";note=end")],
         trailers=[("X-Request-Checksum", "crc32=1f2e3d4c")])
    c.do("PUT", "/echo?mode=chunked&id=2", [("Content-Type", "application/octet-stream")],
         chunks=[(bytes(range(256)) * 12, ""), (b"\r\n0\r\n\r\n", "")])
    c.do("GET", "/health")
    c.close()
    up = os.path.join(a.control, "upload.txt")
    with open(up, "w") as f:
        f.write("".join("line %d of the chunked upload\n" % i for i in range(1, 120)))
    curl("-o", "/dev/null", "-H", "Transfer-Encoding: chunked", "-H", "Content-Type: text/plain",
         "--data-binary", "@" + up, "http://api.shop.test:8080/echo?via=curl&enc=chunked",
         "--next", "-o", "/dev/null", "http://api.shop.test:8080/chunked/big/export.csv?page=2",
         resolve=["api.shop.test:8080:10.79.0.2"])


def sc_compressed(a):
    c = Conn(S4, 8080, "cdn.shop.test:8080")
    c.do("GET", "/assets/app.js?v=3", [("Accept-Encoding", "gzip")])
    c.do("GET", "/assets/app.css?v=3", [("Accept-Encoding", "deflate")])
    c.do("GET", "/assets/data.json?v=3&lang=en%2Dus", [("Accept-Encoding", "br")])
    c.do("GET", "/c/chunked/feed.txt?page=1", [("Accept-Encoding", "gzip")])
    c.do("GET", "/c/chunked/feed-br.txt?page=1", [("Accept-Encoding", "br;q=1.0, gzip;q=0.5")])
    c.do("GET", "/assets/plain.txt", [("Accept-Encoding", "identity")])
    c.do("HEAD", "/assets/app.js?v=3", [("Accept-Encoding", "gzip")])
    c.do("GET", "/c/chunked/feed-deflate.txt?page=2", [("Accept-Encoding", "deflate")])
    c.do("GET", "/assets/bundle.js?v=3&min=0", [("Accept-Encoding", "gzip, deflate")])
    c.do("GET", "/assets/bundle.js?v=3&min=1", [("Accept-Encoding", "br")])
    c.do("GET", "/c/chunked/bundle.txt", [("Accept-Encoding", "deflate")])
    c.close()
    curl("-o", "/dev/null", "--compressed", "http://cdn.shop.test:8080/assets/readme%20first.txt",
         "--next", "-o", "/dev/null", "-H", "Accept-Encoding: br",
         "http://cdn.shop.test:8080/assets/fonts.css?family=Open+Sans",
         resolve=["cdn.shop.test:8080:10.79.0.2"])


def sc_upgrade(a):
    host = "ws.shop.test:8080"
    c = Conn(S4, 8080, host)
    key = base64.b64encode(b"spider-ws-key-01").decode()
    code, h, _ = c.do("GET", "/ws?room=lobby%201&token=abc", [
        ("Upgrade", "websocket"), ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", "13"),
        ("Origin", "http://ws.shop.test:8080")])
    assert code == 101, code
    msgs = [(1, b"hello"),
            (1, b"GET /not-http HTTP/1.1\r\nHost: ws.shop.test\r\n\r\n"),
            (1, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
            (2, bytes((i * 37) & 0xFF for i in range(300)))]
    for op, payload in msgs:
        c.s.sendall(ws_frame(op, payload))
        rop, data = ws_read(c.rd)
        assert data == payload
        time.sleep(0.01)
    c.s.sendall(ws_frame(8, b"\x03\xe8bye"))
    ws_read(c.rd)
    c.close()
    # Upgrade asked but refused: stays HTTP on the same connection
    d = Conn(S4, 8080, host)
    d.do("GET", "/ws?refuse=1", [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                                 ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", "13")])
    d.do("GET", "/after-refused-upgrade?ok=1")
    d.close()
    e = Conn(S4, 8080, "api.shop.test:8080")
    e.do("GET", "/api/v1/rooms?active=true&sort=name")
    e.do("POST", "/api/v1/rooms", [("Content-Type", "application/json")], body=b'{"name":"lobby 2"}')
    e.close()


def sc_http10(a):
    host = "legacy.shop.test:8080"

    def one(method, uri, version="HTTP/1.0", headers=(), body=None, h=host):
        c = Conn(S4, 8080, h)
        c.do(method, uri, headers, body=body, version=version, host=h)
        c.close()

    one("GET", "/docs/intro.html?lang=en")
    one("GET", "/big/archive.txt?part=1&fmt=raw")
    one("HEAD", "/docs/intro.html")
    one("POST", "/form?x=%41%42", headers=[("Content-Type", "application/x-www-form-urlencoded")],
        body=b"name=Ana+Maria&city=S%C3%A3o+Paulo")
    one("GET", "/sized/page?len=known")
    one("GET", "/docs/faq%3F.html", version="HTTP/1.1")
    one("GET", "/docs/no-host.html", h=None)
    curl("-0", "-o", "/dev/null", "http://legacy.shop.test:8080/docs/curl%20page.html?v=1.0",
         resolve=["legacy.shop.test:8080:10.79.0.2"])


def sc_ipv6(a):
    s6 = "fd79::2"
    c = Conn(s6, 8080, "api6.shop.test:8080")
    c.do("GET", "/api/v1/items?page=1&q=%E2%82%AC")
    c.do("HEAD", "/etag/logo.png")
    _, h, _ = c.do("GET", "/etag/logo.png")
    c.do("GET", "/etag/logo.png", [("If-None-Match", h["etag"])])
    c.do("POST", "/upload?name=v6%20file.bin", body=b"\x00\x01" * 800, expect=True)
    c.do("GET", "/chunked/news?page=2")
    c.do("DELETE", "/api/v1/items/3")
    c.do("GET", "/api/v1/ping?seq=1")
    c.close()
    d = Conn(s6, 8080, "[fd79::2]:8080")
    d.do("GET", "/literal/host?addr=%5Bfd79%3A%3A2%5D")
    d.do("GET", "/assets/app.js?v=6", [("Accept-Encoding", "gzip")])
    d.close()
    curl("-g", "-o", "/dev/null", "http://[fd79::2]:8080/curl/v6?x=1",
         "--next", "-g", "-o", "/dev/null", "-I", "http://[fd79::2]:8080/curl/v6?x=2")
    n = Conn(s6, 80, "static6.shop.test")
    n.do("GET", "/catalog/index.html")
    n.do("HEAD", "/catalog/style.css?v=1.2.3")
    n.close()


def sc_vlan(a):
    for addr, tag in ((a.server, a.tag),):
        c = Conn(addr, 8080, "vlan%s.shop.test:8080" % tag.replace(".", "-"))
        c.do("GET", "/api/v1/items?vlan=%s&page=1" % tag)
        c.do("HEAD", "/etag/logo.png?vlan=%s" % tag)
        c.do("POST", "/api/v1/orders?vlan=%s" % tag, [("Content-Type", "application/json")],
             body=b'{"item": 1}')
        c.do("GET", "/chunked/big/report.txt?vlan=%s" % tag)
        c.do("GET", "/api/v1/ping?seq=1&vlan=%s" % tag)
        c.do("DELETE", "/api/v1/items/3?vlan=%s" % tag)
        c.close()
        d = Conn(addr, 80, "static.shop.test")
        d.do("GET", "/catalog/index.html?vlan=%s" % tag)
        d.close()


def sc_sll_remote(a):
    c = Conn(S4, 8080, "api.shop.test:8080")
    c.do("GET", "/api/v1/items?page=1&via=veth")
    c.do("POST", "/api/v1/orders?via=veth", body=b'{"item": 5}')
    c.do("GET", "/chunked/news?page=1")
    c.do("HEAD", "/etag/logo.png")
    c.close()
    n = Conn(S4, 80, "static.shop.test")
    n.do("GET", "/catalog/index.html?via=veth")
    n.close()


def sc_sll_local(a):
    c = Conn("127.0.0.1", 8080, "localhost:8080")
    c.do("GET", "/internal/metrics?fmt=prom&via=lo")
    c.do("GET", "/empty?via=lo")
    c.close()


def sc_midstream(a):
    global CAPTURED
    ctl = a.control
    c = Conn(S4, 8080, "api.shop.test:8080")
    s = Conn(S4, 8080, "dl.shop.test:8080")
    CAPTURED = False
    c.do("GET", "/api/v1/session?step=1")
    c.do("POST", "/api/v1/cart?step=2", body=b'{"item": 1}')
    c.do("GET", "/api/v1/cart?step=3")
    # /slow: the head and the first 4 KB arrive before the capture, the rest
    # (released by CONTROL/go) inside it
    s.s.sendall(request_bytes("GET", s.host, "/slow/export.txt?size=40000"))
    (_, code, *_), hdrs = parse_headers(s.rd.until(b"\r\n\r\n"))
    got = s.rd.exact(4096)
    open(os.path.join(ctl, "phase1"), "w").close()
    wait_file(os.path.join(ctl, "go"))
    CAPTURED = True
    c.do("GET", "/api/v1/cart?step=4&coupon=SPRING%2026")
    c.do("PUT", "/api/v1/cart/items/1?step=5", body=b'{"qty": 3}')
    c.do("GET", "/chunked/news?step=6")
    c.do("DELETE", "/api/v1/cart/items/1?step=7")
    rest = s.rd.exact(int(hdrs["content-length"]) - len(got))
    CAPTURED = False
    log("GET", s.host, "/slow/export.txt?size=40000", int(code), [], s.id,
        note="request and response head before the capture; body tail inside it")
    CAPTURED = True
    s.do("GET", "/after/slow?ok=1")
    c.close()
    s.close()
    # and one fully captured connection
    d = Conn(S4, 8080, "api.shop.test:8080")
    d.do("GET", "/api/v1/session?fresh=1")
    d.close()


def sc_loss(a):
    c = Conn(S4, 8080, "dl.shop.test:8080")
    c.do("GET", "/large?size=60000&file=big%20file.txt")
    c.do("GET", "/loss/a/after-hole?n=1")
    c.do("GET", "/loss/a/health")
    c.close()
    b = Conn(S4, 8080, "api.shop.test:8080")
    b.do("GET", "/loss/b1?step=1", pause=0.02)
    b.do("GET", "/loss/b2?drop=request-head", pause=0.02)
    b.do("GET", "/loss/b3?step=3")
    b.close()
    d = Conn(S4, 8080, "api.shop.test:8080")
    d.do("GET", "/loss/c1?step=1", pause=0.02)
    d.do("GET", "/loss/c2?drop=response-head", pause=0.02)
    d.do("GET", "/loss/c3?step=3")
    d.close()
    e = Conn(S4, 8080, "api.shop.test:8080")
    e.do("GET", "/loss/d1?intact=1")
    e.do("POST", "/loss/d2?intact=1", body=b'{"x": 1}')
    e.close()


def sc_dns_http(a):
    curl("-o", "/dev/null", "http://www.shop.test:8080/api/v1/items?via=cname",
         "--next", "-o", "/dev/null", "http://api.shop.test:8080/health",
         resolve=["www.shop.test:8080:10.79.0.2", "api.shop.test:8080:10.79.0.2"])


SCENARIOS = {
    "head-1xx": sc_head_1xx, "pipelining": sc_pipelining, "chunked": sc_chunked,
    "compressed": sc_compressed, "upgrade": sc_upgrade, "http10": sc_http10,
    "ipv6": sc_ipv6, "vlan": sc_vlan, "sll-remote": sc_sll_remote,
    "sll-local": sc_sll_local, "midstream": sc_midstream, "loss": sc_loss,
    "dns-http": sc_dns_http,
}


def main():
    global LOG
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario", choices=sorted(SCENARIOS))
    ap.add_argument("--log", required=True)
    ap.add_argument("--control", default="/tmp")
    ap.add_argument("--server", default=S4)
    ap.add_argument("--tag", default="")
    a = ap.parse_args()
    LOG = a.log
    SCENARIOS[a.scenario](a)


if __name__ == "__main__":
    main()
