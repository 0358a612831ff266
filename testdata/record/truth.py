#!/usr/bin/env python3
"""Ground truth for a capture, as tshark dissects it.

    truth.py CAPTURE [--h2c-port N] [--client-log LOG.jsonl] [--trust client]
             [--decoded-bodies MANIFEST.json] [--note TEXT] [--extra JSON]

Prints a JSON document in the shape of testdata/*.truth.json:

  http_exchanges       one entry per HTTP/1.x request head tshark found:
                       {method, host, uri, status}; status is the final
                       response status (1xx interim responses other than 101
                       are skipped, see informational_responses), null when
                       no response was paired.  Pairing uses tshark's
                       http.request_in of each response (in order, so several
                       requests in one frame — pipelining — pair in order).
                       Sorted by (host, uri, method, status).
  http_requests        number of HTTP request heads tshark found
  http_responses       number of HTTP response heads tshark found (1xx count)
  http2_header_frames  frames holding an HTTP/2 HEADERS frame (h2c ports
                       given by --h2c-port are decoded as HTTP/2)
  dns_answers          one entry per DNS response to an A query: {name, a}
                       (a = the A records joined by ",", "" if none), plus
                       "cname" (the CNAME targets, joined by ",") when there
                       are any
  dns_aaaa_answers     (only when there are AAAA queries) likewise {name,
                       aaaa[, cname]} per response to an AAAA query
  dns_other_answers    (only when present) other query types
  tls_sni              sorted distinct SNI of TLS ClientHellos
  tcp_sessions         distinct tcp.stream values
  ip_pair_frame_bytes  sum of frame.len per (IP src, IP dst) of the outer IP
                       header, IPv4 and IPv6 (--pairs ipv4: IPv4 only, which is
                       how http-basic/http-impaired were made: their two ICMPv6
                       router solicitations are not counted)

Optional inputs:
  --informational  add informational_responses: the 1xx (other than 101)
                 responses, as {method, host, uri, status} of their request
                 (from the client log when given).
  --client-log   JSON lines written by client.py ({method, host, uri, status,
                 captured}); entries with "captured": false (sent before the
                 capture started) are ignored.  The exchanges are compared
                 with tshark's; a mismatch is reported on stderr and, with
                 --trust client, the client's exchanges (and request/response
                 counts) replace tshark's and a "note" says so.
  --decoded-bodies  manifest written by the test server ({uri, ...,
                 sha256, length, text}); copied under "decoded_bodies" after
                 checking each against tshark's decoded http.file_data.
  --extra        a JSON object merged into the output (e.g. expected_gaps).
"""
import argparse
import collections
import hashlib
import json
import subprocess
import sys


def tshark_packets(pcap, h2c_ports, extra_opts=()):
    cmd = ["tshark", "-r", pcap, "-T", "json", "--no-duplicate-keys",
           "-J", "frame ip ipv6 tcp udp http http2 dns tls"]
    for p in h2c_ports:
        cmd += ["-d", "tcp.port==%d,http2" % p]
    cmd += list(extra_opts)
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL).stdout
    return [p["_source"]["layers"] for p in json.loads(out or b"[]")]


def as_list(v):
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def find(obj, key):
    """All values of `key` anywhere below obj (depth first, document order)."""
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == key:
                out.extend(as_list(v))
            else:
                out.extend(find(v, key))
    elif isinstance(obj, list):
        for v in obj:
            out.extend(find(v, key))
    return out


def first(obj, key, default=None):
    v = find(obj, key)
    return v[0] if v else default


def http_pdus(layers):
    """HTTP/1.x PDUs of a frame (several when pipelined)."""
    return [p for p in as_list(layers.get("http")) if isinstance(p, dict)]


def analyse(packets, pairs="all"):
    requests = []   # dicts with frame, method, host, uri
    responses = []  # dicts with frame, code, request_in
    bodies = []     # (frame, request_in, file_data) of responses
    h2_frames = 0
    dns = []
    dns6 = []
    dns_other = []
    sni = set()
    streams = set()
    pair_bytes = collections.OrderedDict()
    for layers in packets:
        fr = layers["frame"]
        num = int(fr["frame.number"])
        flen = int(fr["frame.len"])
        ip = as_list(layers.get("ip"))
        ip6 = as_list(layers.get("ipv6"))
        if ip:
            key = (ip[0].get("ip.src"), ip[0].get("ip.dst"))
        elif ip6 and pairs == "all":
            key = (ip6[0].get("ipv6.src"), ip6[0].get("ipv6.dst"))
        else:
            key = None
        if key:
            pair_bytes[key] = pair_bytes.get(key, 0) + flen
        tcp = as_list(layers.get("tcp"))
        if tcp and "tcp.stream" in tcp[0]:
            streams.add(int(tcp[0]["tcp.stream"]))
        for pdu in http_pdus(layers):
            if pdu.get("http.request") == "1" or first(pdu, "http.request.method"):
                requests.append({
                    "frame": num,
                    "method": first(pdu, "http.request.method"),
                    "host": first(pdu, "http.host"),
                    "uri": first(pdu, "http.request.uri"),
                })
            elif pdu.get("http.response") == "1" or first(pdu, "http.response.code"):
                rin = first(pdu, "http.request_in")
                code = first(pdu, "http.response.code")
                responses.append({
                    "frame": num,
                    "code": int(code) if code is not None else None,
                    "request_in": int(rin) if rin is not None else None,
                })
                fd = first(pdu, "http.file_data")
                bodies.append((num, int(rin) if rin else None, fd))
        for h2 in as_list(layers.get("http2")):
            if "1" in [str(t) for t in find(h2, "http2.type")]:
                h2_frames += 1
                break
        for d in as_list(layers.get("dns")):
            if first(d, "dns.flags.response") != "1":
                continue
            qname = first(d, "dns.qry.name", "")
            qtype = str(first(d, "dns.qry.type", "1"))
            ans = d.get("Answers", {})
            a_rr = ",".join(find(ans, "dns.a"))
            aaaa_rr = ",".join(find(ans, "dns.aaaa"))
            cname = ",".join(find(ans, "dns.cname"))
            if qtype == "1":
                e = {"name": qname, "a": a_rr}
                if cname:
                    e["cname"] = cname
                dns.append(e)
            elif qtype == "28":
                e = {"name": qname, "aaaa": aaaa_rr}
                if cname:
                    e["cname"] = cname
                dns6.append(e)
            else:
                dns_other.append({"name": qname, "qtype": qtype, "a": a_rr,
                                  "aaaa": aaaa_rr, "cname": cname})
        for t in as_list(layers.get("tls")):
            for s in find(t, "tls.handshake.extensions_server_name"):
                sni.add(s)

    # Pair: responses in capture order, grouped by the request frame they name.
    by_frame = collections.defaultdict(list)
    for r in requests:
        by_frame[r["frame"]].append(r)
    cursor = collections.defaultdict(int)
    interim = []
    for resp in responses:
        rf = resp["request_in"]
        if rf is None or rf not in by_frame:
            continue
        reqs = by_frame[rf]
        i = cursor[rf]
        if i >= len(reqs):
            continue
        code = resp["code"]
        if code is not None and 100 <= code < 200 and code != 101:
            interim.append({"method": reqs[i]["method"], "host": reqs[i]["host"],
                            "uri": reqs[i]["uri"], "status": code})
            continue
        reqs[i]["status"] = code
        cursor[rf] = i + 1
    exchanges = [{"method": r["method"], "host": r["host"], "uri": r["uri"],
                  "status": r.get("status")} for r in requests]
    return {
        "http_exchanges": sort_exchanges(exchanges),
        "http_requests": len(requests),
        "http_responses": len(responses),
        "http2_header_frames": h2_frames,
        "dns_answers": sorted(dns, key=lambda e: (e["name"], e["a"], e.get("cname", ""))),
        "tls_sni": sorted(sni),
        "tcp_sessions": len(streams),
        "ip_pair_frame_bytes": [{"src": s, "dst": d, "bytes": b}
                                for (s, d), b in sorted(pair_bytes.items())],
    }, sort_exchanges(interim), requests, bodies, {
        "dns_aaaa_answers": sorted(dns6, key=lambda e: (e["name"], e["aaaa"], e.get("cname", ""))),
        "dns_other_answers": sorted(dns_other, key=lambda e: (e["name"], e["qtype"])),
    }


def ex_key(e):
    return (e["host"] or "", e["uri"] or "", e["method"] or "",
            -1 if e["status"] is None else e["status"])


def sort_exchanges(ex):
    return sorted(ex, key=ex_key)


def read_client_log(path, with_interim=False):
    out = []
    interim = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            e = json.loads(line)
            if not e.get("captured", True):
                continue
            x = {"method": e["method"], "host": e["host"], "uri": e["uri"],
                 "status": e["status"]}
            out.append(x)
            for code in e.get("interim") or []:
                interim.append(dict(x, status=code))
    if with_interim:
        return sort_exchanges(out), sort_exchanges(interim)
    return sort_exchanges(out)


def diff(a, b):
    ca = collections.Counter(json.dumps(e, sort_keys=True) for e in a)
    cb = collections.Counter(json.dumps(e, sort_keys=True) for e in b)
    return sorted((ca - cb).elements()), sorted((cb - ca).elements())


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pcap")
    ap.add_argument("--h2c-port", type=int, action="append", default=[])
    ap.add_argument("--client-log")
    ap.add_argument("--trust", choices=["tshark", "client"], default="tshark")
    ap.add_argument("--client-counts", action="store_true",
                    help="with --trust client, http_requests/http_responses from the client "
                         "log too (default: tshark's head counts)")
    ap.add_argument("--decoded-bodies")
    ap.add_argument("--note", help="a note always written")
    ap.add_argument("--disagree-note",
                    help="with --trust client: a note written only when tshark and the "
                         "clients disagree (explaining why)")
    ap.add_argument("--extra", help="JSON object merged into the output")
    ap.add_argument("--informational", action="store_true",
                    help="add informational_responses (1xx other than 101)")
    ap.add_argument("--pairs", choices=["all", "ipv4"], default="all",
                    help="ip_pair_frame_bytes over IPv4 and IPv6 frames (default) or IPv4 "
                         "only (how the first five truth files were made)")
    ap.add_argument("-o", "--output")
    a = ap.parse_args()

    truth, interim, requests, bodies, more_dns = analyse(
        tshark_packets(a.pcap, a.h2c_port), a.pairs)
    for k, v in more_dns.items():
        if v:  # only when present, so the first five files keep their shape
            truth[k] = v
    notes = []
    rc = 0
    if a.client_log:
        client, client_interim = read_client_log(a.client_log, with_interim=True)
        only_tshark, only_client = diff(truth["http_exchanges"], client)
        # which 1xx preceded which final response is known to the client;
        # tshark leaves 100 Continue unpaired when the request has a body
        interim = client_interim
        if only_tshark or only_client:
            print("truth.py: %s: tshark and the clients disagree" % a.pcap, file=sys.stderr)
            for e in only_tshark:
                print("  tshark only: " + e, file=sys.stderr)
            for e in only_client:
                print("  client only: " + e, file=sys.stderr)
            if a.trust == "client":
                if a.disagree_note:
                    notes.append(a.disagree_note)
                n_req = len(client)
                n_resp = sum(1 for e in client if e["status"] is not None) + len(client_interim)
                notes.append(
                    "http_exchanges are what the clients did (client log), not tshark's "
                    "pairing; http_requests/http_responses are %s: tshark found %d requests / "
                    "%d responses (%s); tshark says: %s; the clients saw: %s" % (
                        "the clients' (1xx included)" if a.client_counts
                        else "tshark's heads (1xx included)",
                        truth["http_requests"], truth["http_responses"],
                        "same counts" if (n_req, n_resp) == (truth["http_requests"],
                                                             truth["http_responses"])
                        else "the clients: %d / %d" % (n_req, n_resp),
                        "; ".join(only_tshark) or "nothing else",
                        "; ".join(only_client) or "nothing else"))
                truth["http_exchanges"] = client
                if a.client_counts:
                    truth["http_requests"] = n_req
                    truth["http_responses"] = n_resp
            else:
                rc = 3
    if a.informational:
        truth["informational_responses"] = interim
    if a.decoded_bodies:
        with open(a.decoded_bodies) as f:
            manifest = json.load(f)
        seen = {}
        for frame, _rin, fd in bodies:
            if fd is None:
                continue
            data = fd.encode("utf-8", "surrogateescape") if isinstance(fd, str) else b""
            seen.setdefault(hashlib.sha256(data).hexdigest(), frame)
        out = []
        for m in sorted(manifest, key=lambda m: m["uri"]):
            ok = m["sha256"] in seen
            if not ok:
                print("truth.py: tshark did not decode %s to the served content" % m["uri"],
                      file=sys.stderr)
            m = dict(m)
            m["tshark_decoded_match"] = ok
            out.append(m)
        truth["decoded_bodies"] = out
    if a.extra:
        truth.update(json.loads(a.extra))
    if a.note:
        notes.insert(0, a.note)
    if notes:
        truth["note"] = " | ".join(notes)
    text = json.dumps(truth, indent=1, ensure_ascii=False) + "\n"
    if a.output:
        with open(a.output, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return rc


if __name__ == "__main__":
    sys.exit(main())
