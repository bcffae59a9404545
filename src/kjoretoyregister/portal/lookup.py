"""A person's lookup or search: authorized, validated, forwarded and audited like an API call.

This is the gateway's request path with a person in the integration's place:

    role → privilege (as a grant would) + service activated → purpose and case reference →
    the gateway's input validation → the gateway's upstream client (its SVV credentials) →
    the gateway's per-item audit → ``await sink.record(event)`` → only then the answer

The same :class:`~kjoretoyregister.gateway.routes.Route` table decides which privilege an
endpoint needs, the same :func:`~kjoretoyregister.gateway.validation.validate` decides what may
go upstream, and the same :func:`~kjoretoyregister.gateway.auditing.items_from_answer` turns
SVV's answer into audit items; the event goes to the same sink the gateway uses.

Audit attribution (until :class:`~kjoretoyregister.audit.events.AuditEvent` has an actor
field): ``integrasjon_id = "portal"``, ``client_id =
"person:<pseudonym>"`` (the keyed pseudonym of the person's fødselsnummer, never the fnr),
``consumer_orgnr`` = the organisation's orgnr, ``supplier_orgnr`` None.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import orjson

from kjoretoyregister.audit.events import ERROR, AuditEvent, AuditItem, AuditSink, AuditUnavailable
from kjoretoyregister.client.models import KjoretoyResponse, KjoretoysokResponse
from kjoretoyregister.gateway.auditing import items_from_answer, request_items
from kjoretoyregister.gateway.correlation import correlation_id
from kjoretoyregister.gateway.errors import GatewayError
from kjoretoyregister.gateway.forwarding import Upstream
from kjoretoyregister.gateway.routes import API_PATH, ROUTES, Route
from kjoretoyregister.gateway.validation import validate
from kjoretoyregister.logs import get_logger
from kjoretoyregister.portal.roles import PRIVILEGE_OF_ROLE

log = get_logger(__name__)

#: ``integrasjon_id`` of audit records made by the portal.
PORTAL_INTEGRATION = "portal"
PERSON_PREFIX = "person:"
MAX_PURPOSE = 500
MAX_CASE_REFERENCE = 200

LOOKUP_ROUTES = {
    "kjennemerke": ROUTES["bulk/kjennemerke"],
    "understellsnummer": ROUTES["bulk/understellsnummer"],
    "kuid": ROUTES["bulk/kuid"],
}
OWNER_SEARCH_ROUTE = ROUTES["sok/eiernavn"]


def person_client_id(pid_pseudonym: str) -> str:
    """What the audit record's ``client_id`` holds for a person (see the module docstring)."""
    return PERSON_PREFIX + pid_pseudonym


@dataclass(frozen=True, slots=True)
class Actor:
    """The person asking."""

    pid_pseudonym: str
    navn: str


@dataclass(frozen=True, slots=True)
class OrgContext:
    """The organisation the person acts for, and the person's roles there."""

    fiks_org_id: str
    orgnr: str
    navn: str
    active: bool
    roles: frozenset[str]

    def has_privilege(self, privilege: str) -> bool:
        """Whether one of the person's roles gives ``privilege`` (as a grant would)."""
        return any(PRIVILEGE_OF_ROLE.get(r) == privilege for r in self.roles)


@dataclass(slots=True)
class Outcome:
    """What the page shows: an HTTP status for the page, a message, and the data (if any)."""

    status: int
    message: str | None = None
    answers: list[KjoretoyResponse] = field(default_factory=list)
    total: int = 0
    correlation_id: str = ""


def _statement(value: str, what: str, limit: int) -> str:
    cleaned = " ".join(value.split())
    if not cleaned:
        raise ValueError(f"{what} må fylles ut")
    if len(cleaned) > limit or not cleaned.isprintable():
        raise ValueError(f"{what} er for lang eller har ugyldige tegn")
    return cleaned


class PortalGateway:
    """Makes persons' calls the gateway's way.

    Args:
        upstream: the gateway's :class:`Upstream` (SVV base URL and the gateway's credentials).
        audit_sink: the gateway's sink; awaited before any answer is shown.
        deadline_s: end-to-end deadline per call.
    """

    def __init__(self, upstream: Upstream, audit_sink: AuditSink, *, deadline_s: float) -> None:
        self.upstream = upstream
        self.audit_sink = audit_sink
        self.deadline_s = deadline_s

    async def lookup(
        self,
        actor: Actor,
        org: OrgContext,
        *,
        kind: str,
        value: str,
        dtg: str | None,
        purpose: str,
        case_reference: str,
    ) -> Outcome:
        """One vehicle by kjennemerke, understellsnummer or kuid, as of ``dtg`` (None = now)."""
        route = LOOKUP_ROUTES.get(kind)
        if route is None:
            return Outcome(400, "Velg hva du søker på")
        value = value.strip()
        if kind == "kjennemerke":
            value = value.replace(" ", "").replace("-", "").upper()
        elif kind == "understellsnummer":
            value = value.replace(" ", "").upper()
        body = b""
        path_identifier = None
        query: dict[str, str] = {}
        if route.name == "bulk/understellsnummer":
            path_identifier = value
            if dtg:
                query["dtg"] = dtg
        else:
            item: dict[str, Any] = {kind: value}
            if dtg:
                item["dtg"] = dtg
            body = orjson.dumps([item])
        status, raw, cid = await self._call(
            actor, org, route, body, path_identifier, query, purpose, case_reference
        )
        outcome = Outcome(status, correlation_id=cid)
        if status == 200:
            try:
                data = orjson.loads(raw)
                outcome.answers = [KjoretoyResponse.model_validate(e) for e in data]
            except (orjson.JSONDecodeError, TypeError, ValueError):
                return Outcome(502, "Svaret fra Statens vegvesen kunne ikke leses", [], 0, cid)
            if not any(a.kjoretoy for a in outcome.answers):
                outcome.message = "Fant ikke noe kjøretøy" + (" på det tidspunktet" if dtg else "")
        elif status == 204:
            outcome.message = "Fant ikke noe kjøretøy"
        elif outcome.message is None:
            outcome.message = self._message(status, raw)
        return outcome

    async def owner_search(
        self,
        actor: Actor,
        org: OrgContext,
        *,
        navn: str,
        postnummer: str | None,
        page: int,
        per_page: int,
        purpose: str,
        case_reference: str,
    ) -> Outcome:
        """Vehicles whose eier/medeier/leasingtaker has this name (one page)."""
        query = {"navn": " ".join(navn.split())}
        if postnummer:
            query["postnummer"] = postnummer.strip()
        query["fra"] = str((max(page, 1) - 1) * per_page + 1)
        query["antall"] = str(per_page)
        status, raw, cid = await self._call(
            actor, org, OWNER_SEARCH_ROUTE, b"", None, query, purpose, case_reference
        )
        outcome = Outcome(status, correlation_id=cid)
        if status == 200:
            try:
                page_data = KjoretoysokResponse.model_validate(orjson.loads(raw))
            except (orjson.JSONDecodeError, TypeError, ValueError):
                return Outcome(502, "Svaret fra Statens vegvesen kunne ikke leses", [], 0, cid)
            outcome.answers = page_data.treff
            outcome.total = page_data.antall_treff_totalt or len(outcome.answers)
            if not outcome.answers:
                outcome.message = "Ingen treff"
        elif status == 204:
            outcome.message = "Ingen treff"
        else:
            outcome.message = self._message(status, raw)
        return outcome

    @staticmethod
    def _message(status: int, raw: bytes) -> str:
        if status in (400, 422):
            try:
                data = orjson.loads(raw)
                text = (
                    data.get("message") or data.get("feilmelding")
                    if isinstance(data, dict)
                    else None
                )
            except orjson.JSONDecodeError:
                text = None
            return f"Forespørselen ble avvist: {text}" if text else "Forespørselen ble avvist"
        if status == 403:
            return "Du har ikke tilgang til dette for denne organisasjonen"
        if status == 503:
            return "Tjenesten er midlertidig utilgjengelig. Prøv igjen senere."
        return f"Statens vegvesen svarte med feil ({status}). Prøv igjen senere."

    async def _call(
        self,
        actor: Actor,
        org: OrgContext,
        route: Route,
        body: bytes,
        path_identifier: str | None,
        query: dict[str, str],
        purpose: str,
        case_reference: str,
    ) -> tuple[int, bytes, str]:
        """Authorize, validate, forward, audit. Returns (status, body, correlation id).

        Gateway-made refusals come back as (status, Fiks-style message JSON, cid).
        """
        started = time.perf_counter()
        cid = correlation_id(None)
        state = _Audit(route.template, route.method)

        async def refuse(status: int, message: str) -> tuple[int, bytes, str]:
            status = await self._record(actor, org, state, cid, started, status)
            return status, orjson.dumps({"message": message}), cid

        if not org.active or not org.has_privilege(route.privilege):
            return await refuse(403, "Ingen tilgang")
        try:
            state.purpose = _statement(purpose, "Formål", MAX_PURPOSE)
            state.case_reference = _statement(case_reference, "Saksreferanse", MAX_CASE_REFERENCE)
        except ValueError as exc:
            # Nothing was asked of SVV; like the gateway's 400 for a missing purpose.
            return await refuse(400, str(exc))
        try:
            validated = validate(
                route,
                body=body,
                path_identifier=path_identifier,
                query=query,
                query_pairs=len(query),
                max_items=1,
            )
        except GatewayError as exc:
            return await refuse(exc.status, exc.message)
        upstream_path = f"/{API_PATH}/{route.name}"
        if path_identifier is not None:
            upstream_path += "/" + quote(path_identifier, safe="")
        try:
            answer = await self.upstream.forward(
                route.method,
                upstream_path,
                query=urlencode(query, quote_via=quote) if query else "",
                body=body or None,
                correlation_id=cid,
                remaining_s=self.deadline_s - (time.perf_counter() - started),
            )
        except GatewayError as exc:
            state.items = request_items(route, validated, ERROR)
            return await refuse(exc.status, exc.message)
        state.items = items_from_answer(route, validated, answer.status, answer.body)
        state.svv_status, state.svvguid = answer.status, answer.svvguid
        status = await self._record(actor, org, state, cid, started, answer.status)
        if status == 503 and answer.status != 503:
            return status, orjson.dumps({"message": "audit"}), cid
        return answer.status, answer.body, cid

    async def _record(
        self,
        actor: Actor,
        org: OrgContext,
        state: _Audit,
        cid: str,
        started: float,
        http_status: int,
    ) -> int:
        """Record the event; 503 if the audit log cannot take it (then no data is shown)."""
        event = AuditEvent(
            time=datetime.now(UTC),
            correlation_id=cid,
            fiks_org_id=org.fiks_org_id,
            integrasjon_id=PORTAL_INTEGRATION,
            consumer_orgnr=org.orgnr,
            supplier_orgnr=None,
            client_id=person_client_id(actor.pid_pseudonym),
            endpoint=state.endpoint,
            method=state.method,
            items=state.items,
            svv_status=state.svv_status,
            svvguid=state.svvguid,
            latency_ms=round((time.perf_counter() - started) * 1000, 3),
            purpose=state.purpose,
            case_reference=state.case_reference,
            http_status=http_status,
        )
        try:
            await self.audit_sink.record(event)
        except AuditUnavailable:
            log.error("portal_audit_unavailable", correlation_id=cid)
            return 503
        log.info("portal_call", route=state.endpoint, status=http_status, correlation_id=cid)
        return http_status


@dataclass(slots=True)
class _Audit:
    endpoint: str
    method: str
    purpose: str | None = None
    case_reference: str | None = None
    items: tuple[AuditItem, ...] = ()
    svv_status: int | None = None
    svvguid: str | None = None
