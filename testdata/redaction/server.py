#!/usr/bin/env python3
"""HTTP/1.1 server for the redaction capture: answers with secrets in every place they hide.

    server.py ADDR PORT

Routes:
  GET  /whoami            200 JSON naming the Basic user
  GET  /api/profile       200 JSON (Bearer JWT; ?api_key=... in the query)
  GET  /cart              200, Set-Cookie: session=... (a new session cookie)
  POST /login             JSON body in; 200 JSON with access_token and refresh_token
  POST /form              form body in; 200 JSON
  GET  /keys              chunked JSON response carrying client_secret
  GET  /token             gzip JSON response carrying refresh_token (Content-Encoding: gzip)
Every response is HTTP/1.1 keep-alive.
"""
import gzip
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

SECRETS = {
    "access": "accesstok456qwe",
    "refresh": "refreshtok789rty",
    "client": "clientsec321uio",
    "gzip_refresh": "gzrefresh555pas",
    "new_session": "newsess777dfg",
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "redact-test/1"
    sys_version = ""

    def log_message(self, fmt, *args):
        sys.stderr.write("%s\n" % (fmt % args))

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send(self, status, payload, content_type="application/json", extra=()):
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in extra:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = self.path.split("?")[0]
        if path == "/whoami":
            self.send(200, {"user": "alice", "realm": "shop"})
        elif path == "/api/profile":
            self.send(200, {"name": "Bob", "plan": "gold"})
        elif path == "/cart":
            self.send(200, {"items": 3},
                      extra=[("Set-Cookie", "session=%s; Path=/; HttpOnly" % SECRETS["new_session"])])
        elif path == "/keys":
            doc = json.dumps({"client_id": "shop-web", "client_secret": SECRETS["client"],
                              "scopes": ["read", "write"]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            # the secret value is cut by a chunk boundary
            cut = doc.index(SECRETS["client"].encode()) + 4
            for part in (doc[:cut], doc[cut:]):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        elif path == "/token":
            doc = json.dumps({"refresh_token": SECRETS["gzip_refresh"], "expires_in": 3600}).encode()
            self.send(200, gzip.compress(doc, mtime=0), extra=[("Content-Encoding", "gzip")])
        else:
            self.send(404, {"error": "not found"})

    def do_POST(self):
        data = self.body()
        if self.path == "/login":
            request = json.loads(data or b"{}")
            self.send(200, {"access_token": SECRETS["access"], "refresh_token": SECRETS["refresh"],
                            "token_type": "bearer", "user": request.get("user")})
        elif self.path == "/form":
            self.send(200, {"ok": True})
        else:
            self.send(404, {"error": "not found"})


if __name__ == "__main__":
    HTTPServer((sys.argv[1], int(sys.argv[2])), Handler).serve_forever()
