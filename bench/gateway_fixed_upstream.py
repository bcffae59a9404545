"""A fixed-response upstream for the gateway benchmark: any path, any method → the same JSON.

Usage: ``python bench/gateway_fixed_upstream.py PORT`` (127.0.0.1 only). The body is a
3,000-byte JSON array shaped like one SVV ``KjoretoyResponse``, so the gateway's audit parsing
does the same work as on a real answer.
"""

from __future__ import annotations

import sys

import orjson
from aiohttp import web


def body(size: int = 3000) -> bytes:
    """A KjoretoyResponse array padded to about ``size`` bytes."""
    item = {
        "kjoretoy": {
            "kjoretoyId": {"kjennemerke": "CU 11297", "understellsnummer": "SISDINKY45727043"},
            "eierskap": {
                "eier": {"enhet": {"organisasjonsnummer": "986130861", "organisasjonsnavn": "X"}},
                "leasingtaker": {"person": {"fodselsnummer": "01818012345"}},
            },
            "merknad": "",
        },
        "responskoder": [],
    }
    raw = orjson.dumps([item])
    item["kjoretoy"]["merknad"] = "x" * max(0, size - len(raw))  # type: ignore[index]
    return orjson.dumps([item])


BODY = body()


async def handle(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(body=BODY, content_type="application/json")


def main() -> None:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)


if __name__ == "__main__":
    main()
