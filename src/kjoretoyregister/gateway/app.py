"""The gateway application: one thin handler that runs the checks in order and forwards.

Request path (one direction)::

    match route → 1 token → 2 integration → 3 activation + privilege → purpose →
    4 body size + input → forward to SVV → audit items → await sink.record → answer

Before the integration is known (steps 1–2) errors are answered without an audit event (there
is nobody to attribute them to); from step 3 on every answer, error or not, is audited first.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiohttp
from aiohttp import web

from kjoretoyregister.audit.events import ERROR, AuditEvent, AuditItem, AuditSink, AuditUnavailable
from kjoretoyregister.config import GatewaySettings
from kjoretoyregister.gateway import checks, openapi, tracing
from kjoretoyregister.gateway.auditing import items_from_answer, request_items
from kjoretoyregister.gateway.breaker import CircuitBreaker, State
from kjoretoyregister.gateway.correlation import HEADER as REQUEST_ID_HEADER
from kjoretoyregister.gateway.correlation import correlation_id
from kjoretoyregister.gateway.errors import (
    INTERNAL_ERROR_CODE,
    AccessDenied,
    AuditUnavailableError,
    BodyTooLarge,
    ClientGone,
    GatewayError,
    Maintenance,
    NotMinimisableAnswer,
    Overloaded,
    RequestBodyTimeout,
    error_response,
    render,
)
from kjoretoyregister.gateway.forwarding import Upstream, UpstreamResponse
from kjoretoyregister.gateway.health import MAINTENANCE_RETRY_AFTER_S, Check, Health
from kjoretoyregister.gateway.metrics import GatewayMetrics
from kjoretoyregister.gateway.minimise import NotMinimisable, minimise
from kjoretoyregister.gateway.ratelimit import RateLimiter
from kjoretoyregister.gateway.resilience import ResilientUpstream
from kjoretoyregister.gateway.routes import PREFIX, Match, match
from kjoretoyregister.gateway.switches import SharedSwitches
from kjoretoyregister.gateway.tokens import TokenVerifier, VerifiedToken
from kjoretoyregister.gateway.validation import validate
from kjoretoyregister.httpserver import CHUNK_BYTES, BodyTimeout, ChunkedBody
from kjoretoyregister.konfig.authz import Decision
from kjoretoyregister.konfig.feltpolicy import FieldPolicy
from kjoretoyregister.konfig.invalidation import KonfigGeneration
from kjoretoyregister.logs import get_logger, redact_protocol_errors

UPSTREAM_KEY = web.AppKey("upstream", Upstream)
VERIFIER_KEY = web.AppKey("verifier", TokenVerifier)


@dataclass(slots=True)
class _Attribution:
    """Who is asking, known once checks 1–2 passed; what the audit event is built from."""

    fiks_org_id: str
    integrasjon_id: str
    token: VerifiedToken
    purpose: str | None = None
    case_reference: str | None = None
    items: tuple[AuditItem, ...] = field(default=())
    svv_status: int | None = None
    svvguid: str | None = None
    feltpolicy: FieldPolicy | None = None


class Gateway:
    """The handler and its collaborators (settings, authorizer, audit sink, upstream, verifier)."""

    def __init__(
        self,
        settings: GatewaySettings,
        authorizer: checks.AuthorizerLike,
        audit_sink: AuditSink,
        decision_cache_s: float = 0.0,
        readiness: Mapping[str, Check] | None = None,
        konfig_generation: KonfigGeneration | None = None,
    ) -> None:
        self.settings = settings
        self.authorizer = authorizer
        self.audit_sink = audit_sink
        self.konfig_generation = konfig_generation
        self.decisions = checks.DecisionCache(
            decision_cache_s,
            generation=konfig_generation.current if konfig_generation is not None else None,
        )
        self.upstream = Upstream(
            settings.svv_url,
            user=settings.svv_user,
            password=settings.svv_password.get_secret_value(),
            pool_size=settings.pool_size,
            connect_timeout_s=settings.connect_timeout_s,
            read_timeout_s=settings.read_timeout_s,
        )
        # Production layer (issue 9): metrics, breaker + retries, limits, health, shedding.
        self.metrics = GatewayMetrics()
        if (indexer := getattr(audit_sink, "subject_indexer", None)) is not None:
            self.metrics.watch_subject_index(indexer)
        self.breaker = CircuitBreaker(
            "svv",
            failures=settings.breaker_failures,
            cooldown_s=settings.breaker_cooldown_s,
            metrics=self.metrics,
        )
        self.resilient = ResilientUpstream(
            self.upstream, self.breaker, self.metrics, get_retries=settings.get_retries
        )
        self.ratelimiter = RateLimiter(settings, self.metrics)
        token = settings.admin_token.get_secret_value() if settings.admin_token else None
        self.switches = (
            SharedSwitches(settings.redis_url, settings.redis_prefix, poll_s=settings.switch_poll_s)
            if settings.redis_url
            else None
        )
        self.health = Health(
            {**(readiness or {}), "jwks": self._jwks_ready, "svv_breaker": self._breaker_ready},
            cache_s=settings.health_cache_s,
            maintenance=settings.maintenance,
            admin_token=token,
            metrics=self.metrics,
            shared=self.switches,
        )
        self._in_flight = 0
        self.verifier: TokenVerifier | None = None
        self._authz_executor: ThreadPoolExecutor | None = None
        # Bound once, after the CLI configured logging: the lazy proxy would rebuild the
        # logger (and its output file) on every request, even for filtered-out levels.
        self.log = get_logger("kjoretoyregister.gateway").bind()
        self._jwks_session: aiohttp.ClientSession | None = None

    async def lifecycle(self, app: web.Application) -> AsyncIterator[None]:
        """aiohttp cleanup context: open the upstream pool and the JWKS client, close them."""
        await self.upstream.start()
        # Few threads contend less for the GIL than asyncio's default pool; more than the
        # Authorizer's two concurrent Argon2 verifies, so a flood of wrong passwords can
        # never occupy every thread and stall the cached checks of everybody else.
        self._authz_executor = ThreadPoolExecutor(4, thread_name_prefix="gateway-authz")
        self._jwks_session = aiohttp.ClientSession()
        s = self.settings
        self.verifier = TokenVerifier(
            s.maskinporten_issuer,
            self._jwks_session,
            resource=s.resource,
            jwks_cache_s=s.jwks_cache_s,
            jwks_min_refetch_s=s.jwks_min_refetch_s,
            leeway_s=s.leeway_s,
        )
        app[UPSTREAM_KEY] = self.upstream
        app[VERIFIER_KEY] = self.verifier
        await self.health.start_sharing()
        watcher: asyncio.Task[None] | None = None
        if self.konfig_generation is not None and self.decisions.ttl_s:
            self.konfig_generation.listeners.append(self.metrics.authz_invalidations.inc)
            watcher = asyncio.get_running_loop().create_task(self.konfig_generation.run())
        try:
            yield
        finally:
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
            for renewal in list(self.decisions.renewals):  # before the executor goes
                renewal.cancel()
            await asyncio.gather(*self.decisions.renewals, return_exceptions=True)
            await self.upstream.close()
            await self.ratelimiter.close()
            if self.switches is not None:
                await self.switches.close()
            await self._jwks_session.close()
            self._authz_executor.shutdown(wait=True, cancel_futures=True)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """The one handler for every path."""
        started = time.perf_counter()
        cid = correlation_id(request.headers.get(REQUEST_ID_HEADER))
        raw_path = request.raw_path.partition("?")[0]
        if self._in_flight >= self.settings.max_in_flight:
            # Shed before any work: a queue that grows only turns overload into timeouts.
            self.metrics.shed.inc()
            return render(Overloaded(retry_after=1), raw_path, cid)
        self._in_flight += 1
        self.metrics.in_flight.inc()
        try:
            with tracing.span(
                "kjr.gateway.request", **{"http.request.method": request.method}
            ) as sp:
                response, route = await self._handle(request, cid, raw_path, started)
                tracing.set_attribute(sp, "http.route", route)
                tracing.set_attribute(sp, "http.response.status_code", response.status)
                return response
        finally:
            self._in_flight -= 1
            self.metrics.in_flight.dec()

    async def _handle(
        self, request: web.Request, cid: str, raw_path: str, started: float
    ) -> tuple[web.StreamResponse, str]:
        """The request path proper; returns the answer and the route template (for spans)."""
        matched: Match | None = None
        who: _Attribution | None = None
        try:
            if self.health.maintenance:
                raise Maintenance(retry_after=MAINTENANCE_RETRY_AFTER_S)
            matched = match(request.method, raw_path)
            unproven = await self._identify(request, matched)
            try:
                decision = await self._authorize(request, matched, unproven)
            except AccessDenied:
                # The integration proved itself; only its access is missing: audit the refusal.
                who = unproven
                raise
            # From here on the caller is known and every answer (even a 400) is audited. A 401
            # is not: the integration id was not proven, so there is nobody to attribute it to.
            who = unproven
            stated = checks.purpose(request.headers, required=decision.purpose_required)
            who.purpose, who.case_reference = stated.purpose, stated.case_reference
            who.feltpolicy = decision.feltpolicy
            response = await self._serve(request, matched, who, cid, started)
        except GatewayError as exc:
            response = render(exc, raw_path, cid)
            if who is not None and not isinstance(exc, AuditUnavailableError):
                response = await self._audited_error(request, matched, who, cid, started, response)
        except Exception as exc:  # a bug: answer in Fiks form, log without any request data
            self.log.error("unhandled", error=type(exc).__name__, correlation_id=cid)
            response = error_response(500, "Intern feil", raw_path, INTERNAL_ERROR_CODE, cid)
        route = matched.route.template if matched else "unmatched"
        elapsed = time.perf_counter() - started
        self.metrics.requests.labels(route, request.method, str(response.status)).inc()
        self.metrics.duration.labels(route).observe(elapsed)
        self.log.info(
            "request",
            route=route,
            status=response.status,
            latency_ms=round(elapsed * 1000, 2),
            correlation_id=cid,
        )
        return response, route

    async def _jwks_ready(self) -> None:
        if self.verifier is None:
            raise RuntimeError("gateway not started")
        await self.verifier.ensure_keys()

    async def _breaker_ready(self) -> None:
        if self.breaker.state is State.OPEN:
            raise RuntimeError("svv circuit open")

    async def _identify(self, request: web.Request, matched: Match) -> _Attribution:
        """Check 1 and the shape of check 2: a verified token and the integration headers."""
        if self.verifier is None:
            raise RuntimeError("gateway not started")
        token = checks.bearer_token(request.headers)
        verified = await self.verifier.verify(token)
        integrasjon_id, _ = checks.integration_credentials(request.headers)
        return _Attribution(matched.fiks_org_id, integrasjon_id, verified)

    async def _authorize(self, request: web.Request, matched: Match, who: _Attribution) -> Decision:
        """Checks 2 and 3 in one Konfigurasjon call."""
        _, passord = checks.integration_credentials(request.headers)
        return await checks.authorize(
            self.authorizer,
            integrasjon_id=who.integrasjon_id,
            passord=passord,
            consumer_orgnr=who.token.consumer_orgnr,
            fiks_org_id=matched.fiks_org_id,
            privilege=matched.route.privilege,
            cache=self.decisions,
            executor=self._authz_executor,
        )

    async def _serve(
        self,
        request: web.Request,
        matched: Match,
        who: _Attribution,
        cid: str,
        started: float,
    ) -> web.Response:
        """Check 4, forward, audit, answer."""
        body = await _read_body(request, self.settings.max_body_bytes)
        validated = validate(
            matched.route,
            body=body,
            path_identifier=matched.path_identifier,
            query=dict(request.query),
            query_pairs=len(request.query),
            max_items=self.settings.max_bulk_items,
        )
        try:
            await self.ratelimiter.hit(who.fiks_org_id, who.integrasjon_id, len(validated.items))
            answer = await self.resilient.forward(
                matched.route.method,
                matched.upstream_path(),
                query=request.rel_url.raw_query_string,
                body=body if body else None,
                correlation_id=cid,
                deadline=started + self.settings.deadline_s,
            )
        except GatewayError:
            who.items = request_items(matched.route, validated, ERROR)
            raise
        # Audit items come from SVV's full answer: innsyn finds everyone SVV returned, even
        # the fields the grant's policy keeps from the caller.
        who.items = items_from_answer(matched.route, validated, answer.status, answer.body)
        who.svv_status, who.svvguid = answer.status, answer.svvguid
        if who.feltpolicy is not None and answer.status == 200:
            answer = _minimised(answer, who.feltpolicy)
        await self._record(request, matched, who, cid, started, answer.status)
        return _passthrough(answer, cid)

    async def _audited_error(
        self,
        request: web.Request,
        matched: Match | None,
        who: _Attribution,
        cid: str,
        started: float,
        response: web.Response,
    ) -> web.Response:
        if matched is None:
            return response
        try:
            await self._record(request, matched, who, cid, started, response.status)
        except AuditUnavailableError as exc:
            return render(exc, request.raw_path.partition("?")[0], cid)
        return response

    async def _record(
        self,
        request: web.Request,
        matched: Match,
        who: _Attribution,
        cid: str,
        started: float,
        http_status: int,
    ) -> None:
        """Hand the event to the sink and wait: the answer goes out only after this returns."""
        event = AuditEvent(
            time=datetime.now(UTC),
            correlation_id=cid,
            fiks_org_id=who.fiks_org_id,
            integrasjon_id=who.integrasjon_id,
            consumer_orgnr=who.token.consumer_orgnr,
            supplier_orgnr=who.token.supplier_orgnr,
            client_id=who.token.client_id,
            endpoint=matched.route.template,
            method=request.method,
            items=who.items,
            svv_status=who.svv_status,
            svvguid=who.svvguid,
            latency_ms=round((time.perf_counter() - started) * 1000, 3),
            purpose=who.purpose,
            case_reference=who.case_reference,
            http_status=http_status,
            feltpolicy=who.feltpolicy.id if who.feltpolicy is not None else None,
        )
        commit_started = time.perf_counter()
        try:
            with tracing.span("kjr.audit.record"):
                await self.audit_sink.record(event)
        except AuditUnavailable as exc:
            raise AuditUnavailableError() from exc
        self.metrics.audit_commit.observe(time.perf_counter() - commit_started)


GATEWAY_KEY = web.AppKey("gateway", Gateway)


async def _read_body(request: web.Request, limit: int) -> bytes:
    """Read the body (see :func:`_read_body_unguarded`); a slow or vanished client is a 4xx."""
    try:
        return await _read_body_unguarded(request, limit)
    except BodyTimeout:
        raise RequestBodyTimeout() from None
    except ConnectionError:
        raise ClientGone() from None


async def _read_body_unguarded(request: web.Request, limit: int) -> bytes:
    """Read the body, refusing more than ``limit`` bytes (declared or streamed)."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise BodyTooLarge(f"Forespørselen er for stor: høyst {limit} byte")
    if not request.body_exists:
        return b""
    if declared is not None:
        # Known and within the limit (client_max_size is limit + 1): one read, no loop.
        return await request.read()
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(65_536)
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"Forespørselen er for stor: høyst {limit} byte")
        chunks.append(chunk)
    return b"".join(chunks)


def _minimised(answer: UpstreamResponse, policy: FieldPolicy) -> UpstreamResponse:
    """SVV's answer cut down to the grant's field policy; withheld (502) if it cannot be."""
    try:
        body = minimise(answer.body, policy)
    except NotMinimisable:
        raise NotMinimisableAnswer() from None
    return UpstreamResponse(answer.status, body, answer.headers)


def _passthrough(answer: UpstreamResponse, cid: str) -> web.Response:
    headers = dict(answer.headers)
    headers[REQUEST_ID_HEADER] = cid
    if answer.status == 204:
        return web.Response(status=204, headers=headers)
    if len(answer.body) > CHUNK_BYTES:  # a bulk answer: see ChunkedBody
        content_type = answer.headers.get("Content-Type", "application/octet-stream")
        body = ChunkedBody(answer.body, content_type=content_type)
        return web.Response(status=answer.status, body=body, headers=headers)
    return web.Response(status=answer.status, body=answer.body, headers=headers)


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_app(
    settings: GatewaySettings,
    *,
    authorizer: checks.AuthorizerLike,
    audit_sink: AuditSink,
    mounts: Mapping[str, web.Application] | None = None,
    decision_cache_s: float = 0.0,
    readiness: Mapping[str, Check] | None = None,
    konfig_generation: KonfigGeneration | None = None,
) -> web.Application:
    """Build the gateway application.

    Args:
        settings: the ``gateway`` section of :class:`~kjoretoyregister.config.Settings`.
        authorizer: Konfigurasjon's :class:`~kjoretoyregister.konfig.authz.Authorizer` (or
            anything with the same ``acheck``).
        audit_sink: where audit events go; awaited before every audited answer.
        mounts: other applications to serve beside the API, by path prefix (e.g. the
            Konfigurasjon admin API under ``/admin/api``); they are matched before the
            catch-all that answers every unknown path with a Fiks 404.
        decision_cache_s: remember OK authorization decisions this long (0 = off: every
            request asks Konfigurasjon; see :class:`.checks.DecisionCache`).
        readiness: extra ``/health/ready`` checks by name (database, audit writer); the
            gateway adds ``jwks`` and ``svv_breaker`` itself (see :mod:`.health`).
        konfig_generation: with ``decision_cache_s`` > 0, drop cached decisions as soon as
            Konfigurasjon changes (polled; see :mod:`kjoretoyregister.konfig.invalidation`).

    Returns:
        An ``aiohttp.web.Application`` that forwards the known SVV paths under
        ``/kjoretoyregister/api/{fiksOrgId}/…``; mount other apps (admin API) beside it.
    """
    redact_protocol_errors()
    tracing.setup(settings.tracing)
    gateway = Gateway(
        settings, authorizer, audit_sink, decision_cache_s, readiness, konfig_generation
    )
    # We bound the body ourselves (Fiks error body, 413); aiohttp's own limit would answer in
    # its own format first, so keep it just above ours.
    app = web.Application(client_max_size=settings.max_body_bytes + 1)
    app.cleanup_ctx.append(gateway.lifecycle)
    app[GATEWAY_KEY] = gateway
    app.router.add_get("/health", _health)
    # Operations endpoints on the gateway's own host and port (see health.py, metrics.py).
    app.router.add_get("/health/live", gateway.health.live)
    app.router.add_get("/health/ready", gateway.health.ready_handler)
    app.router.add_get("/metrics", gateway.metrics.handle)
    app.router.add_get(PREFIX + "openapi.json", openapi.handle)
    app.router.add_route("*", "/gateway/admin/maintenance", gateway.health.maintenance_handler)
    for prefix, sub in (mounts or {}).items():
        app.add_subapp(prefix, sub)
    # Every other path goes through the handler too, so unknown paths get a Fiks 404 body.
    # [\s\S] rather than ".": a path whose decoded form holds a newline (%0A) must still reach
    # our handler and get a Fiks error body, not aiohttp's plain-text 404.
    app.router.add_route("*", "/{tail:[\\s\\S]*}", gateway.handle)
    return app
