"""``/_sim/*``: change the fault switches of a running simulator (role ``SIMULATOR``).

- ``GET  /_sim/faults``                  → ``{"latency_ms": 0.0, "fault_rate": 0.0, "outage": false,
  "quota_exceeded": false}``
- ``POST /_sim/faults`` body ``{"outage": true, "latency_ms": 50}`` → the new state (a partial
  update; an unknown switch or a bad value is a 400 and changes nothing)
- ``POST /_sim/outage?on=1`` (``on=0`` to end it), ``POST /_sim/quota?on=1``: shortcuts.

These routes live outside SVV's base path, need Basic auth like every other route, and are not
subject to the switches themselves, so an outage can always be ended.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from kjoretoyregister.logs import get_logger
from kjoretoyregister.svv.appstate import SWITCHES, json_response
from kjoretoyregister.svv.bulk import read_json_body
from kjoretoyregister.svv.errors import BadRequest

log = get_logger(__name__)

_ON = {"1": True, "true": True, "on": True, "0": False, "false": False, "off": False}


async def get_faults(request: web.Request) -> web.Response:
    """The current switch positions."""
    return json_response(request.app[SWITCHES].as_dict())


async def post_faults(request: web.Request) -> web.Response:
    """Change some switches at once."""
    try:
        changes: Any = orjson.loads(await read_json_body(request))
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"Ugyldig JSON: {exc}") from None
    if not isinstance(changes, dict):
        raise BadRequest('Forventet et JSON-objekt, f.eks. {"outage": true}')
    return _apply(request, changes)


def _toggle(name: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        value = _ON.get(request.query.get("on", "").lower())
        if value is None:
            raise BadRequest("Oppgi on=1 eller on=0")
        return _apply(request, {name: value})

    handler.__doc__ = f"Turn '{name}' on (on=1) or off (on=0)."
    return handler


post_outage = _toggle("outage")
post_quota = _toggle("quota_exceeded")


def _apply(request: web.Request, changes: dict[str, Any]) -> web.Response:
    switches = request.app[SWITCHES]
    try:
        switches.update(changes)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    log.info("svv.switches_changed", **switches.as_dict())
    return json_response(switches.as_dict())
