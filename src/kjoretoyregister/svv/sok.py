"""Kjøretøysøk v2.0 routes: the seven ``GET sok/*`` searches (svv-api.md §2.2, §4.2).

- 200: ``KjoretoysokResponse`` ``{"responskoder": [], "antallITreffliste": n,
  "antallTreffTotalt": t, "kjoretoyresponser": [KjoretoyResponse…]}`` (``sok/kunde``:
  ``KundeSokResponse`` with ``kunder``). A page past the end of a non-empty result is a 200
  with an empty list, so a pager learns ``antallTreffTotalt`` and stops.
- 204 with an empty body: no hits at all.
- 400: the same schema holding only ``responskoder`` (see :mod:`.sokquery` for the codes).

The writeOnly properties of the spec (``kjoretoy`` and ``treffListe``) are never sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

import orjson
from aiohttp import web
from multidict import MultiMapping

from kjoretoyregister.svv.appstate import SOK_LIMITS, json_response, lookup
from kjoretoyregister.svv.bulkrender import kjoretoy_response
from kjoretoyregister.svv.register import Page, Register, VehicleResult
from kjoretoyregister.svv.sokquery import SokLimits, SokParameterError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
T = TypeVar("T")


class _Query(Protocol[T]):
    def run(self, register: Register) -> Page[T]: ...


Q = TypeVar("Q", bound=_Query[Any])


def vehicle_search(parse: Callable[[MultiMapping[str], SokLimits], Q]) -> Handler:
    """A route answering ``KjoretoysokResponse`` for one ``parse_*`` of :mod:`.sokparams`."""

    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            query = parse(request.query, request.app[SOK_LIMITS])
        except SokParameterError as exc:
            return json_response({"responskoder": exc.responskoder}, status=400)

        def work(register: Register) -> bytes | None:
            page: Page[VehicleResult] = query.run(register)
            if page.total == 0:
                return None
            return orjson.dumps(
                {
                    "responskoder": [],
                    "antallITreffliste": len(page.items),
                    "antallTreffTotalt": page.total,
                    "kjoretoyresponser": [kjoretoy_response(r) for r in page.items],
                }
            )

        body = await lookup(request.app, work)
        return web.Response(status=204) if body is None else json_response(body)

    handler.__doc__ = f"GET sok/… answered with KjoretoysokResponse ({parse.__name__})."
    return handler


def kunde_search(parse: Callable[[MultiMapping[str], SokLimits], Q]) -> Handler:
    """The ``sok/kunde`` route: ``KundeSokResponse`` with ``kunder`` (persons and units)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            query = parse(request.query, request.app[SOK_LIMITS])
        except SokParameterError as exc:
            return json_response({"responskoder": exc.responskoder}, status=400)

        def work(register: Register) -> bytes | None:
            page: Page[dict[str, Any]] = query.run(register)
            if page.total == 0:
                return None
            return orjson.dumps(
                {
                    "responskoder": [],
                    "antallITreffliste": len(page.items),
                    "antallTreffTotalt": page.total,
                    "kunder": page.items,
                }
            )

        body = await lookup(request.app, work)
        return web.Response(status=204) if body is None else json_response(body)

    return handler
