#!/usr/bin/env python3
"""Make http-loss.pcap: delete chosen frames from a complete capture (capture
loss, not network loss: TCP delivered them, the capture just lacks them) and
write the truth of what the clients did.

    lossify.py FULL.pcap OUT.pcap CLIENT_LOG TRUTH.json

Deleted (found with tshark on the complete capture, by request URI):
  * a data segment in the middle of the Content-Length body of
    /large?... (connection A; the next requests on A must still parse),
  * the segment holding the request head of /loss/b2 (connection B: its
    response is still in the capture, with no request to pair with),
  * the segment holding the whole response to /loss/c2 (connection C: the
    request stays, status null).
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import truth as T  # noqa: E402


def tcp_of(layers):
    t = T.as_list(layers.get("tcp"))
    return t[0] if t else None


def main():
    full, out, client_log, truth_path = sys.argv[1:5]
    pk = T.tshark_packets(full, [])
    res, _interim, requests, _bodies, _ = T.analyse(pk)
    client = T.read_client_log(client_log)
    only_t, only_c = T.diff(res["http_exchanges"], client)
    if only_t or only_c:
        sys.exit("lossify: tshark and the client disagree on the complete capture: %s %s"
                 % (only_t, only_c))

    frames = {int(l["frame"]["frame.number"]): l for l in pk}

    def req_frame(prefix):
        m = [r for r in requests if (r["uri"] or "").startswith(prefix)]
        assert len(m) == 1, (prefix, m)
        return m[0]["frame"]

    def data_frames(stream, sport, after):
        outl = []
        for n in sorted(frames):
            t = tcp_of(frames[n])
            if n > after and t and int(t.get("tcp.stream", -1)) == stream \
                    and t.get("tcp.srcport") == str(sport) and int(t.get("tcp.len", 0)) > 0:
                outl.append(n)
        return outl

    def stream_of(n):
        return int(tcp_of(frames[n])["tcp.stream"])

    deleted = []
    # A: a middle segment of the /large body
    fa = req_frame("/large")
    sa = stream_of(fa)
    body_frames = []
    fa_next = req_frame("/loss/a/after-hole")
    for n in data_frames(sa, 8080, fa):
        if n < fa_next:
            body_frames.append(n)
    assert len(body_frames) > 10, body_frames
    mid = body_frames[len(body_frames) // 2]
    deleted.append((mid, "A", "segment %d of %d of the /large response (inside the "
                    "Content-Length body)" % (body_frames.index(mid) + 1, len(body_frames))))
    # B: the request head of /loss/b2
    fb = req_frame("/loss/b2")
    tb = tcp_of(frames[fb])
    head_len = int(tb["tcp.len"])
    deleted.append((fb, "B", "the segment holding the whole request head of /loss/b2 "
                    "(%d bytes)" % head_len))
    # C: the response to /loss/c2 (head and body in one segment)
    fc = req_frame("/loss/c2")
    resp = data_frames(stream_of(fc), 8080, fc)[0]
    fc3 = req_frame("/loss/c3")
    assert resp < fc3
    assert len([n for n in data_frames(stream_of(fc), 8080, fc) if n < fc3]) == 1
    deleted.append((resp, "C", "the segment holding the whole response to /loss/c2 "
                    "(head and body)"))

    subprocess.run(["editcap", full, out] + [str(n) for n, _, _ in deleted], check=True,
                   stderr=subprocess.DEVNULL)

    # truth: what the clients did, minus what the capture cannot show
    ex = []
    for e in client:
        if e["uri"].startswith("/loss/b2"):
            continue  # request head not in the capture
        e = dict(e)
        if e["uri"].startswith("/loss/c2"):
            e["status"] = None  # response head not in the capture
        ex.append(e)
    lossy, _, _, _, _ = T.analyse(T.tshark_packets(out, []))
    only_t, only_c = T.diff(lossy["http_exchanges"], T.sort_exchanges(ex))
    tshark_says = "tshark on this file agrees" if not (only_t or only_c) else (
        "tshark on this file finds %d requests / %d responses and differs: only tshark: %s; "
        "only truth: %s" % (lossy["http_requests"], lossy["http_responses"],
                            "; ".join(only_t) or "none", "; ".join(only_c) or "none"))
    truth = dict(lossy)
    truth["http_exchanges"] = T.sort_exchanges(ex)
    truth["http_requests"] = res["http_requests"] - 1
    truth["http_responses"] = res["http_responses"] - 1
    truth["expected_gaps"] = len({c for _, c, _ in deleted})
    truth["deleted_frames"] = [
        {"frame_in_complete_capture": n, "connection": c, "what": w} for n, c, w in deleted]
    truth["note"] = (
        "Capture loss made with editcap: frames %s of the complete recording were deleted "
        "(TCP delivered them; see deleted_frames). http_exchanges are what the clients did, "
        "minus /loss/b2 whose request head is missing (its 200 response is in the capture "
        "with no request), with status null for /loss/c2 whose response is missing; "
        "http_requests/http_responses count the heads present in this file. A parser must "
        "resync after each hole: /loss/a/after-hole, /loss/b3, /loss/c3 parse normally. "
        "%s." % (", ".join(str(n) for n, _, _ in deleted), tshark_says))
    with open(truth_path, "w") as f:
        f.write(json.dumps(truth, indent=1, ensure_ascii=False) + "\n")
    print(tshark_says, file=sys.stderr)


if __name__ == "__main__":
    main()
