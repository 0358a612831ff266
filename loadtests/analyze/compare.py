#!/usr/bin/env python3
"""Compare the HTTP requests spider, tshark and httpry found in one capture.

    compare.py SPIDER_NDJSON TSHARK_TSV HTTPRY_OUT [--examples N]

SPIDER_NDJSON: `spider analyze FILE --format ndjson`
TSHARK_TSV:    `tshark -r FILE -Y http.request -T fields -e http.request.method
                -e http.host -e http.request.uri`
HTTPRY_OUT:    `httpry -r FILE` (tab-separated; direction '>' is a request)

Prints the request counts, then compares the (method, host, uri) multisets of
spider against each of the other two and prints up to N examples of each
difference, plus spider's exchange states, missing statuses and warnings.
"""
import argparse
import json
import sys
from collections import Counter


def spider_requests(path):
    reqs, states, warnings = Counter(), Counter(), Counter()
    no_status = 0
    examples_no_status = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.startswith('{"kind":"http"'):
                continue
            r = json.loads(line)
            reqs[(r.get("method"), r.get("host"), r.get("uri"))] += 1
            states[r.get("state")] += 1
            for w in r.get("warnings") or []:
                warnings[w if isinstance(w, str) else json.dumps(w, sort_keys=True)[:120]] += 1
            if r.get("status") is None:
                no_status += 1
                if len(examples_no_status) < 5:
                    examples_no_status.append(
                        (r.get("session_id"), r.get("index"), r.get("method"), r.get("uri"),
                         r.get("state")))
    return reqs, states, warnings, no_status, examples_no_status


def tshark_requests(path):
    reqs = Counter()
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            parts += [""] * (3 - len(parts))
            # several requests in one frame: tshark joins each field with ','
            ms, hs, us = parts[0].split(","), parts[1].split(","), parts[2].split(",")
            if len(ms) > 1 and len(ms) == len(hs) == len(us):
                for m, h, u in zip(ms, hs, us):
                    reqs[(m, h or None, u)] += 1
            else:
                reqs[(parts[0], parts[1] or None, parts[2])] += 1
    return reqs


def httpry_requests(path):
    reqs = Counter()
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) >= 7 and p[3] == ">":
                reqs[(p[4], None if p[5] == "-" else p[5], p[6])] += 1
    return reqs


def diff(name_a, a, name_b, b, n):
    only_a, only_b = a - b, b - a
    print(f"  {name_a} - {name_b}: {sum(only_a.values())} requests "
          f"({len(only_a)} distinct)")
    for k, c in only_a.most_common(n):
        print(f"      {c:6d} x {k}")
    print(f"  {name_b} - {name_a}: {sum(only_b.values())} requests "
          f"({len(only_b)} distinct)")
    for k, c in only_b.most_common(n):
        print(f"      {c:6d} x {k}")
    return sum(only_a.values()) + sum(only_b.values())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("spider")
    ap.add_argument("tshark")
    ap.add_argument("httpry")
    ap.add_argument("--examples", type=int, default=8)
    a = ap.parse_args()
    sp, states, warnings, no_status, ex_no_status = spider_requests(a.spider)
    ts = tshark_requests(a.tshark)
    hr = httpry_requests(a.httpry)
    print(f"requests: spider {sum(sp.values())}, tshark {sum(ts.values())}, "
          f"httpry {sum(hr.values())}")
    print("(method, host, uri) multisets:")
    d1 = diff("spider", sp, "tshark", ts, a.examples)
    d2 = diff("spider", sp, "httpry", hr, a.examples)
    print("spider exchange states: " + ", ".join(f"{k}={v}" for k, v in states.most_common()))
    print(f"spider exchanges without a status: {no_status}")
    for e in ex_no_status:
        print(f"      session {e[0]} #{e[1]}: {e[2]} {e[3]} state={e[4]}")
    if warnings:
        print("spider warnings:")
        for w, c in warnings.most_common(a.examples):
            print(f"      {c:6d} x {w}")
    return 0 if d1 == 0 and d2 == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
