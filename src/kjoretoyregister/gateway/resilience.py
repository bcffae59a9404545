"""The SVV call with a circuit breaker, retries for idempotent GETs, and the deadline kept.

* Every attempt asks the :class:`~.breaker.CircuitBreaker` first (503 at once when open).
* **Only GETs are retried** (bulk/understellsnummer and the sok endpoints: reads without side
  effects). POST bulk never is: SVV may have answered (and counted) it, and re-sending 1,000
  plates doubles load exactly when SVV struggles.
* Retried: a connection that could not be made or was dropped (``UpstreamUnavailable``) and
  SVV 502/503/504. Not retried: a read timeout (it already spent its time), other statuses.
* Backoff with jitter via ``stamina`` (50 ms initial, 0.5 s max), never past the end-to-end
  deadline: stamina's own timeout is what is left of it, and each attempt gets the rest.
"""

from __future__ import annotations

import asyncio
import random
import time

import stamina

from kjoretoyregister.gateway import tracing
from kjoretoyregister.gateway.breaker import CircuitBreaker
from kjoretoyregister.gateway.errors import (
    CircuitOpen,
    GatewayError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from kjoretoyregister.gateway.forwarding import Upstream, UpstreamResponse
from kjoretoyregister.gateway.metrics import GatewayMetrics

RETRY_STATUSES = frozenset({502, 503, 504})
_FAILURE_STATUSES = frozenset({500, 502, 503, 504})


class _Retryable(Exception):
    """An SVV answer worth another try (502/503/504)."""

    def __init__(self, answer: UpstreamResponse) -> None:
        super().__init__(answer.status)
        self.answer = answer


class _ConnectFailed(Exception):
    """Wraps UpstreamUnavailable so stamina retries it (CircuitOpen is a subclass: excluded)."""

    def __init__(self, error: UpstreamUnavailable) -> None:
        super().__init__()
        self.error = error


class ResilientUpstream:
    """:meth:`forward` = :meth:`Upstream.forward` + breaker + GET retries + metrics."""

    def __init__(
        self,
        upstream: Upstream,
        breaker: CircuitBreaker,
        metrics: GatewayMetrics,
        *,
        get_retries: int = 2,
        wait_initial_s: float = 0.05,
        wait_max_s: float = 0.5,
    ) -> None:
        self.upstream = upstream
        self.breaker = breaker
        self._metrics = metrics
        self._retries = get_retries
        self._wait_initial = wait_initial_s
        self._wait_max = wait_max_s

    async def forward(
        self,
        method: str,
        path: str,
        *,
        query: str,
        body: bytes | None,
        correlation_id: str,
        deadline: float,
    ) -> UpstreamResponse:
        """Call SVV; ``deadline`` is the ``time.perf_counter()`` value the answer is due by."""
        if method != "GET" or self._retries == 0:
            return await self._attempt(method, path, query, body, correlation_id, deadline)
        if deadline - time.perf_counter() <= 0:
            raise UpstreamTimeout()
        # The first attempt runs outside stamina: its retry machinery costs ~50 µs a call,
        # which only a failed first attempt should pay.
        last: UpstreamResponse | None = None
        try:
            answer = await self._attempt(method, path, query, body, correlation_id, deadline)
        except CircuitOpen:
            raise
        except UpstreamUnavailable as exc:
            first_error: UpstreamUnavailable | None = exc
        else:
            if answer.status not in RETRY_STATUSES:
                return answer
            last, first_error = answer, None
        # Back off once before the first retry (stamina waits only between its own tries).
        pause = self._wait_initial * (1 + random.random())  # noqa: S311 - jitter, not crypto
        if deadline - time.perf_counter() <= pause:
            if last is not None:
                return last
            assert first_error is not None
            raise first_error
        await asyncio.sleep(pause)
        return await self._retry(method, path, query, body, correlation_id, deadline, last)

    async def _retry(
        self,
        method: str,
        path: str,
        query: str,
        body: bytes | None,
        correlation_id: str,
        deadline: float,
        last: UpstreamResponse | None,
    ) -> UpstreamResponse:
        try:
            async for attempt in stamina.retry_context(
                on=(_Retryable, _ConnectFailed),
                attempts=self._retries,
                timeout=max(0.001, deadline - time.perf_counter()),
                wait_initial=self._wait_initial,
                wait_max=self._wait_max,
                wait_jitter=self._wait_initial,
            ):
                with attempt:
                    self._metrics.upstream_retries.labels(self.breaker.name).inc()
                    try:
                        answer = await self._attempt(
                            method, path, query, body, correlation_id, deadline
                        )
                    except CircuitOpen:
                        if last is not None:
                            return last
                        raise
                    except UpstreamUnavailable as exc:
                        raise _ConnectFailed(exc) from exc
                    if answer.status in RETRY_STATUSES:
                        last = answer
                        raise _Retryable(answer)
                    return answer
        except _Retryable as exc:
            return exc.answer
        except _ConnectFailed as exc:
            raise exc.error from exc.__cause__
        raise AssertionError("unreachable: stamina either returns or raises")

    async def _attempt(
        self,
        method: str,
        path: str,
        query: str,
        body: bytes | None,
        correlation_id: str,
        deadline: float,
    ) -> UpstreamResponse:
        self.breaker.before()
        started = time.perf_counter()
        outcome = "error"
        try:
            with tracing.span("kjr.svv.call", **{"http.request.method": method}) as sp:
                answer = await self.upstream.forward(
                    method,
                    path,
                    query=query,
                    body=body,
                    correlation_id=correlation_id,
                    remaining_s=deadline - started,
                )
                tracing.set_attribute(sp, "http.response.status_code", answer.status)
            outcome = f"{answer.status // 100}xx"
        except GatewayError as exc:
            outcome = "timeout" if isinstance(exc, UpstreamTimeout) else "unavailable"
            self.breaker.failure()
            raise
        except BaseException:
            self.breaker.release()
            raise
        finally:
            self._metrics.upstream_duration.labels(self.breaker.name, outcome).observe(
                time.perf_counter() - started
            )
        if answer.status in _FAILURE_STATUSES:
            self.breaker.failure()
        else:
            self.breaker.success()
        return answer
