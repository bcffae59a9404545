"""What every simulator route needs from its app: typed keys, register access, JSON answers.

Register lookups are synchronous SQLite calls. With ``lookup_threads`` > 0 they run in a small
thread pool: SQLite releases the GIL while it searches, so concurrent requests overlap and the
event loop stays free to accept connections and answer cheap requests (auth failures, 404s).
With ``lookup_threads = 0`` they run on the loop itself, which is somewhat faster for one
request at a time but makes every other request wait behind a big one. ``bench/svv_bulk.py``
measures both (its one-plate probe shows the waiting).

Small bulk lookups (up to :data:`INLINE_MAX_ITEMS` identifiers, a few indexed reads) always run
inline: the thread hop would cost more than the work, and they must not queue behind
thousand-plate requests that fill the pool.

With lookup processes (``lookup_processes``, on by default for big registers) the large
v2 bulk requests are split over them instead (:mod:`.lookup_processes`).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import orjson
from aiohttp import web

from kjoretoyregister.config import SvvSettings
from kjoretoyregister.httpserver import CHUNK_BYTES, ChunkedBody
from kjoretoyregister.svv.auth import Users
from kjoretoyregister.svv.faults import FaultSwitches
from kjoretoyregister.svv.gcpause import gc_paused
from kjoretoyregister.svv.lookup_processes import LookupProcesses
from kjoretoyregister.svv.register import Register
from kjoretoyregister.svv.sokquery import SokLimits

T = TypeVar("T")

REGISTER = web.AppKey("register", Register)
SETTINGS = web.AppKey("settings", SvvSettings)
USERS = web.AppKey("users", Users)
SWITCHES = web.AppKey("switches", FaultSwitches)
SOK_LIMITS = web.AppKey("sok_limits", SokLimits)
RNG = web.AppKey("rng", random.Random)
EXECUTOR = web.AppKey("executor", ThreadPoolExecutor)
PROCESSES = web.AppKey("processes", LookupProcesses)

JSON = "application/json"

INLINE_MAX_ITEMS = 10


async def lookup(
    app: web.Application, work: Callable[[Register], T], *, items: int | None = None
) -> T:
    """Run ``work(register)`` in the lookup pool, or inline when there is none.

    Args:
        app: the simulator app.
        work: the register calls and rendering, run as one unit.
        items: for bulk lookups, how many identifiers; a few run inline (see above).
    """
    register = app[REGISTER]
    executor = app.get(EXECUTOR)
    if executor is None or (items is not None and items <= INLINE_MAX_ITEMS):
        return work(register)
    return await asyncio.get_running_loop().run_in_executor(executor, _paused, work, register)


def _paused(work: Callable[[Register], T], register: Register) -> T:
    # The answer's objects live until it is encoded, which is part of ``work``: keep the
    # collector off until then (see gcpause).
    with gc_paused():
        return work(register)


def json_response(body: Any, *, status: int = 200) -> web.Response:
    """An ``application/json`` answer; ``body`` may be ready-made JSON bytes."""
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    if len(data) > CHUNK_BYTES:  # a bulk answer (see ChunkedBody)
        return web.Response(status=status, body=ChunkedBody(data, content_type=JSON))
    return web.Response(status=status, body=data, content_type=JSON)
