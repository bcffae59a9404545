"""The SVV simulator's HTTP app: routes, middleware order, and a run function.

A request passes, outermost first:

1. ``_errors``: gives the request its ``svvguid`` (the client's ``Svvguid`` header if it sent
   a sane one, else a new UUID), puts it on every response, and renders every non-functional
   error (our :class:`~.errors.SvvError` s, aiohttp's 404/405/413, unexpected exceptions as
   500) as the svvguid body;
2. ``_faults``: the outage, latency and fault-rate switches (not on ``/_sim``);
3. ``_auth``: HTTP Basic against the configured users, then the role the route needs; on the
   akfell routes a Maskinporten bearer token instead (:mod:`.akfell.auth`);
4. the route: :mod:`.bulk`, :mod:`.sok`, :mod:`.akfell.routes` or :mod:`.admin`.

``settings.api`` chooses the API generation: ``v2`` (the default: the v2 routes below
:data:`BASE_PATH`), ``akfell`` (SVV's current akfell-datautlevering routes at the root, see
:mod:`.akfell`) or ``both``. The ``/_sim`` switches are always there (HTTP Basic).

Unknown paths and wrong methods are answered (404/405) before authentication: they reveal
nothing but the public API's shape.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

import aiohttp
from aiohttp import web

from kjoretoyregister import httpserver
from kjoretoyregister.accesstoken import JwtVerifier
from kjoretoyregister.config import SvvSettings
from kjoretoyregister.logs import get_logger, redact_protocol_errors
from kjoretoyregister.svv import admin, bulk, sokparams
from kjoretoyregister.svv.akfell import auth as akfell_auth
from kjoretoyregister.svv.akfell import routes as akfell
from kjoretoyregister.svv.akfell.quota import DailyQuota
from kjoretoyregister.svv.appstate import (
    EXECUTOR,
    PROCESSES,
    REGISTER,
    RNG,
    SETTINGS,
    SOK_LIMITS,
    SWITCHES,
    USERS,
)
from kjoretoyregister.svv.auth import KJORETOYOPPSLAG, KJORETOYSOK, SIMULATOR, Users
from kjoretoyregister.svv.errors import (
    SVVGUID_HEADER,
    Forbidden,
    SvvError,
    Unauthorized,
    error_response,
    new_svvguid,
)
from kjoretoyregister.svv.faults import FaultSwitches
from kjoretoyregister.svv.lookup_processes import LookupProcesses, auto_processes
from kjoretoyregister.svv.register import Register
from kjoretoyregister.svv.sok import kunde_search, vehicle_search
from kjoretoyregister.svv.sokquery import SokLimits

BASE_PATH = "/ws/no/vegvesen/kjoretoy/felles/v2"
V2 = BASE_PATH + "/rest/distribusjon/kjoretoy/v2.0"
ADMIN_PREFIX = "/_sim/"
# Route markers: these routes take a Maskinporten token (or an enkeltoppslag key), not Basic.
AKFELL = "AKFELL"
AKFELL_ENKELTOPPSLAG = "AKFELL_ENKELTOPPSLAG"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ROUTE_ROLES = web.AppKey("route_roles", dict[web.AbstractRoute, str])
SVVGUID = web.RequestKey("svvguid", str)

_SANE_GUID = re.compile(r"[A-Za-z0-9._-]{8,64}")

log = get_logger(__name__)


def create_app(register: Register, settings: SvvSettings) -> web.Application:
    """Build the simulator app on an open register (the caller keeps owning and closes it).

    Args:
        register: the synthetic register to answer from.
        settings: the ``svv`` section of the settings (users, limits, switches, threads).

    Raises:
        ValueError: a user entry is malformed, or ``default_antall`` > ``max_antall``.
    """
    users = Users.from_specs(u.get_secret_value() for u in settings.users)
    redact_protocol_errors()
    limits = SokLimits(default_antall=settings.default_antall, max_antall=settings.max_antall)
    app = web.Application(
        middlewares=[_errors, _faults, _auth], client_max_size=settings.max_body_bytes
    )
    app[REGISTER] = register
    app[SETTINGS] = settings
    app[USERS] = users
    app[SOK_LIMITS] = limits
    app[SWITCHES] = FaultSwitches.from_settings(settings)
    # Only for the fault-rate draw; nothing secret depends on it.
    app[RNG] = random.Random()  # noqa: S311
    roles: dict[web.AbstractRoute, str] = {}
    app[ROUTE_ROLES] = roles
    if settings.lookup_threads > 0:
        # Threads start on first use, so an app that never serves leaks nothing.
        executor = ThreadPoolExecutor(settings.lookup_threads, thread_name_prefix="svv-lookup")
        app[EXECUTOR] = executor

        async def _stop_executor(_: web.Application) -> None:
            executor.shutdown(wait=True, cancel_futures=True)

        app.on_cleanup.append(_stop_executor)

    workers = auto_processes(settings.lookup_processes, int(register.meta.get("vehicles", 0)))
    if workers > 0:
        # Processes start with the app (not here), so an app that never serves leaks nothing.
        processes = LookupProcesses(register.path, workers)
        app[PROCESSES] = processes
        app.cleanup_ctx.append(_lookup_processes(processes))

    def add(method: str, path: str, handler: Handler, role: str) -> None:
        route = app.router.add_route(method, path, handler)
        roles[route] = role

    if settings.api in ("v2", "both"):
        add("POST", V2 + "/bulk/kjennemerke", bulk.bulk_kjennemerke, KJORETOYOPPSLAG)
        add("POST", V2 + "/bulk/kuid", bulk.bulk_kuid, KJORETOYOPPSLAG)
        vin_route = V2 + "/bulk/understellsnummer"
        add("GET", vin_route + "/{understellsnummer}", bulk.bulk_understellsnummer, KJORETOYOPPSLAG)
        # Without a VIN the route above cannot match; answer 400 rather than a puzzling 404.
        add("GET", vin_route, bulk.bulk_understellsnummer, KJORETOYOPPSLAG)
        add("GET", vin_route + "/", bulk.bulk_understellsnummer, KJORETOYOPPSLAG)

        sok = V2 + "/sok/"
        add("GET", sok + "kjennemerke", vehicle_search(sokparams.parse_kjennemerke), KJORETOYSOK)
        add(
            "GET",
            sok + "understellsnummer",
            vehicle_search(sokparams.parse_understellsnummer),
            KJORETOYSOK,
        )
        add(
            "GET", sok + "fodselsnummer", vehicle_search(sokparams.parse_fodselsnummer), KJORETOYSOK
        )
        add(
            "GET",
            sok + "organisasjonsnummer",
            vehicle_search(sokparams.parse_organisasjonsnummer),
            KJORETOYSOK,
        )
        add("GET", sok + "kundeid", vehicle_search(sokparams.parse_kundeid), KJORETOYSOK)
        add("GET", sok + "eiernavn", vehicle_search(sokparams.parse_eiernavn), KJORETOYSOK)
        add("GET", sok + "kunde", kunde_search(sokparams.parse_kunde), KJORETOYSOK)

    if settings.api in ("akfell", "both"):
        _add_akfell(app, settings)
        for method, path, handler, open_api in akfell.ROUTES:
            add(method, path, handler, AKFELL_ENKELTOPPSLAG if open_api else AKFELL)

    add("GET", ADMIN_PREFIX + "faults", admin.get_faults, SIMULATOR)
    add("POST", ADMIN_PREFIX + "faults", admin.post_faults, SIMULATOR)
    add("POST", ADMIN_PREFIX + "outage", admin.post_outage, SIMULATOR)
    add("POST", ADMIN_PREFIX + "quota", admin.post_quota, SIMULATOR)
    return app


def _add_akfell(app: web.Application, settings: SvvSettings) -> None:
    """The akfell state: quotas, and a token verifier with its own HTTP session."""
    app[akfell.QUOTA] = DailyQuota(settings.akfell_daily_quota)
    app[akfell.ENKELTOPPSLAG_QUOTA] = DailyQuota(akfell.ENKELTOPPSLAG_CALLS_PER_DAY)

    async def verifier(app: web.Application) -> AsyncIterator[None]:
        async with aiohttp.ClientSession() as session:
            app[akfell_auth.VERIFIER] = JwtVerifier(
                settings.akfell_issuer,
                session,
                jwks_url=settings.akfell_jwks_url,
                leeway_s=settings.akfell_leeway_s,
                jwks_min_refetch_s=5,
            )
            yield

    app.cleanup_ctx.append(verifier)


def _lookup_processes(
    processes: LookupProcesses,
) -> Callable[[web.Application], AsyncIterator[None]]:
    """Start the lookup processes before the server listens; stop them on shutdown."""

    async def context(_: web.Application) -> AsyncIterator[None]:
        try:
            pids = await processes.start()
        except BaseException:
            processes.close()
            raise
        log.info("svv.lookup_processes_started", workers=len(pids))
        yield
        processes.close()

    return context


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    given = request.headers.get(SVVGUID_HEADER, "")
    svvguid = given if _SANE_GUID.fullmatch(given) else new_svvguid()
    request[SVVGUID] = svvguid
    started = time.perf_counter()
    try:
        response = await handler(request)
    except SvvError as exc:
        response = error_response(exc.status, exc.feilmelding, svvguid, headers=exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = None
        if exc.status == 413:
            limit = request.app[SETTINGS].max_body_bytes
            message = f"Forespørselen er for stor (maks {limit} byte)"
        extra = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
        response = error_response(exc.status, message, svvguid, headers=extra)
    except Exception:
        # A bug, not bad input: log it with the id the client sees, answer 500, keep serving.
        log.exception("svv.unhandled_error", svvguid=svvguid, path_template=_template(request))
        response = error_response(500, None, svvguid)
    response.headers[SVVGUID_HEADER] = svvguid
    log.debug(
        "svv.request",
        method=request.method,
        route=_template(request),
        status=response.status,
        ms=round((time.perf_counter() - started) * 1000, 2),
        svvguid=svvguid,
    )
    return response


@web.middleware
async def _faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith(ADMIN_PREFIX):
        await request.app[SWITCHES].apply(request.app[RNG])
    return await handler(request)


@web.middleware
async def _auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    match = request.match_info
    if match.http_exception is not None:
        return await handler(request)  # raises the 404/405
    settings = request.app[SETTINGS]
    role = request.app[ROUTE_ROLES].get(match.route)
    if role in (AKFELL, AKFELL_ENKELTOPPSLAG):
        verifier = request.app[akfell_auth.VERIFIER]
        if role == AKFELL:
            client = await akfell_auth.bearer_client(request, verifier, settings)
        else:
            client = await akfell_auth.enkeltoppslag_client(request, verifier, settings)
        request[akfell.CLIENT] = client
        return await handler(request)
    user = request.app[USERS].authenticate(request.headers.get("Authorization"))
    if user is None:
        realm = settings.realm.replace('"', "'")
        raise Unauthorized(
            "Mangler eller ugyldig brukernavn/passord (HTTP Basic)",
            headers={"WWW-Authenticate": f'Basic realm="{realm}", charset="UTF-8"'},
        )
    if role is not None and role not in user.roles:
        raise Forbidden(f"Brukeren mangler rollen {role} som tjenesten krever")
    return await handler(request)


def _template(request: web.Request) -> str:
    """The route template (never the concrete path: it may hold a VIN)."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "(no route)"


def base_paths(api: str) -> list[str]:
    """Where the chosen API generation(s) live: v2 below BASE_PATH, akfell at the root."""
    paths = [BASE_PATH] if api in ("v2", "both") else []
    return paths + (["/ (akfell: /kjoretoyoppslag, /enkeltoppslag)"] if api != "v2" else [])


def run(
    settings: SvvSettings,
    *,
    print_fn: Callable[[str], None] = print,
    edge: httpserver.EdgeLimits | None = None,
) -> None:
    """Open ``settings.data`` and serve until interrupted (used by ``svv serve``).

    Raises:
        RegisterError: the data file is missing or not a register.
        ValueError: ``settings.data`` is unset, or a user entry is malformed.
        httpserver.BindError: the port could not be bound.
    """
    if settings.data is None:
        raise ValueError("no register file: give --data FILE (or set KJR_SVV__DATA)")
    register = Register(settings.data)
    try:
        app = create_app(register, settings)
        httpserver.run(
            app,
            host=settings.host,
            port=settings.port,
            edge=edge,
            ready=lambda port: print_fn(
                f"SVV simulator ({settings.api}) on "
                + " and ".join(
                    f"http://{settings.host}:{port}{base}" for base in base_paths(settings.api)
                )
                + f" ({register.meta.get('vehicles', '?')} vehicles; Ctrl+C to stop)"
            ),
        )
    finally:
        register.close()
