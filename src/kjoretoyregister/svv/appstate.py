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
from aiohttp.abc import AbstractStreamWriter
from aiohttp.payload import Payload

from kjoretoyregister.config import SvvSettings
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

# Answers bigger than this are written in pieces of this size (see ChunkedBody).
CHUNK_BYTES = 1 << 20


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
    if len(data) > CHUNK_BYTES:
        return web.Response(status=status, body=ChunkedBody(data, content_type=JSON))
    return web.Response(status=status, body=data, content_type=JSON)


class ChunkedBody(Payload):
    """A big ready-made body (a bulk answer is ~9.5 MB) written in views of
    :data:`CHUNK_BYTES`, with a Content-Length, as a plain body is.

    Written whole, aiohttp joins the headers to the body and asyncio copies the part the
    socket did not take at once, twice: three copies of the answer on the event loop (~3 ms
    per 9.5 MB here, measured with py-spy on the server). In pieces, only what waits for the
    socket is copied, and other requests get the loop between pieces.
    """

    _value: bytes

    def __init__(self, value: bytes, *, content_type: str) -> None:
        super().__init__(value, content_type=content_type)
        self._size = len(value)

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        return self._value.decode(encoding, errors)

    async def as_bytes(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return self._value

    async def write(self, writer: AbstractStreamWriter) -> None:
        await self.write_with_length(writer, None)

    async def write_with_length(
        self, writer: AbstractStreamWriter, content_length: int | None
    ) -> None:
        view = memoryview(self._value)
        if content_length is not None:
            view = view[:content_length]
        for start in range(0, len(view), CHUNK_BYTES):
            await writer.write(view[start : start + CHUNK_BYTES])
