"""``/health/live``, ``/health/ready``, maintenance mode and its admin toggle.

* ``GET /health/live`` — 200 while the process serves HTTP; nothing else is checked (a
  process manager restarts on this one, so a slow database must not fail it).
* ``GET /health/ready`` — 200 only if every readiness check passes: the database
  (Konfigurasjon), the audit writer, Maskinporten's JWKS (fetched and not older than the
  cache period), the SVV circuit breaker (not open) and not in maintenance mode. The result
  is cached for ``health_cache_s`` so a load balancer polling every instance cannot turn
  readiness into load. 503 when not ready. The body names the checks and ``ok``/``fail``
  only: no error texts, hosts or identifiers.
* Maintenance: ``settings.maintenance`` at start, toggled at runtime (on every instance when
  ``redis_url`` is set, see :mod:`.switches`) with
  ``PUT|DELETE /gateway/admin/maintenance`` and ``Authorization: Bearer <admin_token>``
  (404 when no admin token is configured). In maintenance the API answers 503
  ``KJR-GW-VEDLIKEHOLD`` with ``Retry-After`` and readiness fails, so the proxy drains it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import time
from collections.abc import Awaitable, Callable, Mapping

import orjson
from aiohttp import web
from sqlalchemy import Engine, text

from kjoretoyregister.gateway.metrics import GatewayMetrics
from kjoretoyregister.gateway.switches import MAINTENANCE, SharedSwitches, SwitchStoreUnavailable
from kjoretoyregister.headers import credentials

#: A readiness check: returns normally when healthy, raises (anything) when not.
Check = Callable[[], Awaitable[None]]

CHECK_TIMEOUT_S = 2.0
MAINTENANCE_RETRY_AFTER_S = 60


class Health:
    """Readiness checks with a short result cache, and the maintenance switch."""

    def __init__(
        self,
        checks: Mapping[str, Check],
        *,
        cache_s: float,
        maintenance: bool,
        admin_token: str | None,
        metrics: GatewayMetrics,
        clock: Callable[[], float] = time.monotonic,
        shared: SharedSwitches | None = None,
    ) -> None:
        self.checks = dict(checks)
        self._cache_s = cache_s
        self._admin_token = admin_token
        self._metrics = metrics
        self._clock = clock
        self._cached: tuple[float, bool, dict[str, str]] | None = None
        self._lock = asyncio.Lock()
        self._shared = shared
        self.maintenance = maintenance

    async def start_sharing(self) -> None:
        """With shared switches: take the cluster's value (or publish ours if we start closed),
        then follow it; call before serving."""
        if self._shared is None:
            return
        if self.maintenance:
            # Closed here anyway if Redis refuses; the watch below keeps trying to read it.
            with contextlib.suppress(SwitchStoreUnavailable):
                await self._shared.set(MAINTENANCE, True)
        elif (value := await self._shared.get(MAINTENANCE)) is not None:
            self._apply_shared(value)
        self._shared.watch(MAINTENANCE, self._apply_shared)

    def _apply_shared(self, on: bool) -> None:
        if on != self._maintenance:
            self.maintenance = on

    @property
    def maintenance(self) -> bool:
        """Whether the API is closed for maintenance."""
        return self._maintenance

    @maintenance.setter
    def maintenance(self, on: bool) -> None:
        self._maintenance = on
        self._metrics.maintenance.set(1 if on else 0)
        self._cached = None

    async def ready(self) -> tuple[bool, dict[str, str]]:
        """Run (or reuse) the checks: (all ok, name → "ok"|"fail")."""
        async with self._lock:  # one run at a time; waiters reuse its result
            now = self._clock()
            if self._cached is not None and now - self._cached[0] < self._cache_s:
                return self._cached[1], self._cached[2]
            names = list(self.checks)
            results = await asyncio.gather(
                *(_run(self.checks[n]) for n in names), return_exceptions=False
            )
            report = {n: ("ok" if ok else "fail") for n, ok in zip(names, results, strict=True)}
            report["maintenance"] = "fail" if self.maintenance else "ok"
            ok = all(v == "ok" for v in report.values())
            self._cached = (self._clock(), ok, report)
            return ok, report

    async def live(self, request: web.Request) -> web.Response:
        """``GET /health/live``."""
        return web.json_response({"status": "ok"})

    async def ready_handler(self, request: web.Request) -> web.Response:
        """``GET /health/ready``."""
        ok, report = await self.ready()
        body = {"status": "ok" if ok else "unavailable", "checks": report}
        return web.Response(
            status=200 if ok else 503, body=orjson.dumps(body), content_type="application/json"
        )

    async def maintenance_handler(self, request: web.Request) -> web.Response:
        """``PUT`` (on) / ``DELETE`` (off) / ``GET`` ``/gateway/admin/maintenance``."""
        if self._admin_token is None:
            raise web.HTTPNotFound()
        presented = credentials(request.headers, "Bearer")
        if presented is None or not hmac.compare_digest(
            presented.encode(), self._admin_token.encode()
        ):
            return web.json_response({"error": "unauthorized"}, status=401)
        if request.method in ("PUT", "DELETE"):
            on = request.method == "PUT"
            if self._shared is not None:
                try:
                    await self._shared.set(MAINTENANCE, on)
                except SwitchStoreUnavailable:
                    # Not applied here either: a switch half the cluster has is worse.
                    return web.json_response(
                        {"error": "the shared switch store (Redis) is unavailable; not changed"},
                        status=503,
                    )
            self.maintenance = on
        shared = "redis" if self._shared is not None else "this instance"
        return web.json_response({"maintenance": self.maintenance, "scope": shared})


async def _run(check: Check) -> bool:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            await check()
    except Exception:  # any failure (incl. timeout) means "not ready"; details stay out
        return False
    return True


def database_check(engine: Engine) -> Check:
    """A readiness check: ``SELECT 1`` on ``engine`` (in a thread)."""

    def _select_one() -> None:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    async def check() -> None:
        await asyncio.to_thread(_select_one)

    return check


def audit_check(sink: object) -> Check:
    """A readiness check for :class:`~kjoretoyregister.audit.writer.DurableAuditSink`.

    Ready when the sink is open, its writer task (if started) is alive, and its database
    answers. The sink has no public health API; its attributes are read defensively.
    """
    engine = getattr(sink, "_engine", None)
    database = database_check(engine) if isinstance(engine, Engine) else None

    async def check() -> None:
        if getattr(sink, "_closed", False):
            raise RuntimeError("audit sink closed")
        task = getattr(sink, "_task", None)
        if task is not None and task.done():
            raise RuntimeError("audit writer stopped")
        if database is not None:
            await database()

    return check
