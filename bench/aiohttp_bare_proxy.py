"""The ceiling of the gateway's own stack: an aiohttp server that forwards with aiohttp's client.

No checks, no audit, no metrics: the request body and path go upstream with the SVV Basic
credentials, the answer comes back. ``gateway_bench.py`` runs it beside the gateway so that a
ratio to nginx can be read against what aiohttp itself reaches on this machine in the same run.

Usage: ``python bench/aiohttp_bare_proxy.py PORT UPSTREAM_BASE_URL BASIC_AUTH`` (127.0.0.1 only).
"""

from __future__ import annotations

import sys

import aiohttp
from aiohttp import web

PREFIX = "/kjoretoyregister/api/"


def main() -> None:
    port, upstream, basic = int(sys.argv[1]), sys.argv[2].rstrip("/"), sys.argv[3]
    app = web.Application()
    session_key = web.AppKey("session", aiohttp.ClientSession)

    async def lifecycle(app: web.Application):  # type: ignore[no-untyped-def]
        app[session_key] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256))
        yield
        await app[session_key].close()

    async def handle(request: web.Request) -> web.Response:
        # /kjoretoyregister/api/{fiksOrgId}/rest/… → upstream /rest/…
        tail = request.raw_path.removeprefix(PREFIX).partition("/")[2]
        body = await request.read()
        headers = {"Authorization": basic, "Content-Type": "application/json"}
        async with app[session_key].post(f"{upstream}/{tail}", data=body, headers=headers) as r:
            data = await r.read()
            return web.Response(status=r.status, body=data, content_type="application/json")

    app.cleanup_ctx.append(lifecycle)
    app.router.add_route("*", "/{tail:.*}", handle)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main()
