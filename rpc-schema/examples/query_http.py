#!/usr/bin/env python3
"""query_http.py ADDR TOKEN WHISPERER [QUERY]: Spider's query API from Python, with pycapnp.

The usage example of the Cap'n Proto API for integrations (`pip install pycapnp`): it logs in with a
token, then pages through the HTTP exchanges a Whisperer captured, newest first, optionally filtered
with a query in Spider's query language, and prints one JSON object per exchange.
"""
import asyncio
import json
import os
import sys

import capnp

SCHEMA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "schema")
capnp.remove_import_hook()
auth_schema = capnp.load(os.path.join(SCHEMA_DIR, "auth.capnp"), imports=[SCHEMA_DIR])

NEWEST = 2**63 - 1


async def main(addr, token, whisperer, query_text):
    host, port = addr.rsplit(":", 1)
    stream = await capnp.AsyncIoStream.create_connection(host=host, port=int(port))
    client = capnp.TwoPartyClient(stream)
    auth = client.bootstrap().cast_as(auth_schema.Auth)
    session = (await auth.login(credential={"adminToken": token})).session
    query = (await session.query()).query

    cursor = None
    while True:
        request = {
            "range": {"from": 0, "to": NEWEST},
            "whisperers": [whisperer],
            "limit": 50,
        }
        if query_text:
            request["q"] = query_text
        if cursor is not None:
            request["cursor"] = cursor
        page = (await query.http(query=request)).page
        for item in page.items:
            status = item.status.value if item.status.which() == "value" else None
            print(json.dumps({
                "method": item.method,
                "host": item.host if item._has("host") else None,
                "uri": item.uri,
                "status": status,
                "session_id": item.sessionId,
            }))
        if not page._has("next"):
            break
        cursor = page.next


if __name__ == "__main__":
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    asyncio.run(capnp.run(main(*sys.argv[1:4], sys.argv[4] if len(sys.argv) == 5 else None)))
