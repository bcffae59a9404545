"""The administrator's pages (role ADMIN on the organisation).

Every change goes through Konfigurasjon's service functions (or :mod:`.roles`) inside one
transaction, with the person as the actor of the admin-action log. The audit pages are in
:mod:`.admin_audit`.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy
from sqlalchemy.orm import Session

from kjoretoyregister.konfig import feltpolicy, grant_policy, service
from kjoretoyregister.konfig.errors import KonfigError, NotFound
from kjoretoyregister.konfig.privileges import EIERSOK as EIERSOK_PRIVILEGE
from kjoretoyregister.konfig.privileges import OPPSLAG as OPPSLAG_PRIVILEGE
from kjoretoyregister.maskinporten.idporten import is_synthetic_fnr
from kjoretoyregister.portal import roles as roles_service
from kjoretoyregister.portal.lookup import PERSON_PREFIX
from kjoretoyregister.portal.models import ADMIN, ROLES
from kjoretoyregister.portal.web import (
    PORTAL_KEY,
    PageContext,
    error_page,
    page_context,
    redirect,
    render,
)

#: The form's value for "leave the custom field lists as they are".
KEEP_CUSTOM = "behold"
PRIVILEGES = {OPPSLAG_PRIVILEGE: "Oppslag", EIERSOK_PRIVILEGE: "Eiersøk"}


def _text(form: MultiDictProxy[Any], name: str, limit: int = 500) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


async def _admin(request: web.Request) -> PageContext | web.Response:
    ctx = await page_context(request)
    if ctx.actor is None:
        return redirect(request, "home")
    if ctx.org is None or ADMIN not in ctx.roles:
        return error_page(request, 403, "Du er ikke administrator for denne organisasjonen.")
    return ctx


def _actor(ctx: PageContext) -> str:
    """The admin-action log's actor: the person's name and the start of their pseudonym."""
    assert ctx.actor is not None
    return f"portal:{ctx.actor.navn} [{ctx.actor.pid_pseudonym[:16]}]"


def _reader(ctx: PageContext) -> str:
    """The audit access log's actor (the person's full pseudonym, as in lookups)."""
    assert ctx.actor is not None
    return PERSON_PREFIX + ctx.actor.pid_pseudonym


# -- overview: activation, integrations, grants ---------------------------------------------


def _overview(s: Session, org_id: str) -> dict[str, Any]:
    ov = service.org_overview(s, org_id)
    grants: dict[str, dict[str, str | None]] = {}
    for g in ov.tilganger:
        grants.setdefault(str(g.integrasjon_id), {})[g.privilegium] = g.feltpolicy
    return {
        "active": bool(ov.aktivering and ov.aktivering.aktiv),
        "integrations": [
            {
                "id": str(i.id),
                "navn": i.navn,
                "beskrivelse": i.beskrivelse,
                "autorisert_orgnr": i.autorisert_orgnr,
                "password_changed_at": i.password_changed_at,
                "grants": grants.get(str(i.id), {}),
            }
            for i in ov.integrasjoner
        ],
    }


async def overview(request: web.Request, **extra: Any) -> web.Response:
    """The organisation's service status and integrations."""
    ctx = await _admin(request)
    if isinstance(ctx, web.Response):
        return ctx
    assert ctx.org is not None
    portal = request.app[PORTAL_KEY]
    org_id = ctx.org.fiks_org_id
    data = await portal.db(lambda s: _overview(s, org_id))
    status = extra.pop("status", 200)
    return render(
        request,
        "admin.html",
        ctx,
        status=status,
        privileges=PRIVILEGES,
        presets=feltpolicy.presets(),
        **data,
        **extra,
    )


async def _change(request: web.Request, change: Any, done: str) -> web.Response:
    """Run one Konfigurasjon change for the current org and come back to the overview."""
    ctx = await _admin(request)
    if isinstance(ctx, web.Response):
        return ctx
    assert ctx.org is not None and ctx.session is not None
    portal = request.app[PORTAL_KEY]
    org_id, actor = ctx.org.fiks_org_id, _actor(ctx)
    form = await request.post()
    try:
        await portal.db(lambda s: change(s, org_id, actor, form))
    except KonfigError as exc:
        return await overview(request, status=exc.status, error=exc.message)
    ctx.session.notice = done
    return redirect(request, "admin")


def _owned(s: Session, org_id: str, integrasjon_id: str) -> uuid.UUID:
    """The integration's id if it belongs to this org (an admin manages only their own)."""
    integ = service.get_integration(s, integrasjon_id)
    if str(integ.fiks_org_id) != org_id or integ.deleted_at is not None:
        raise NotFound("Fant ikke integrasjonen")
    return integ.id


async def activate(request: web.Request) -> web.Response:
    """Activate Kjøretøyregister for the organisation."""

    def change(s: Session, org_id: str, actor: str, form: Any) -> None:
        service.activate(s, org_id, actor=actor)

    return await _change(request, change, "Tjenesten er aktivert.")


async def create_integration(request: web.Request) -> web.Response:
    """Create an integration; its password is shown once, on this response only."""
    ctx = await _admin(request)
    if isinstance(ctx, web.Response):
        return ctx
    assert ctx.org is not None
    portal = request.app[PORTAL_KEY]
    form = await request.post()
    navn, orgnr = _text(form, "navn", 200), _text(form, "autorisert_orgnr", 20)
    beskrivelse = _text(form, "beskrivelse", 2000)
    wanted = [p for p in PRIVILEGES if form.get(f"priv_{p}") == "on"]
    purpose_required = form.get("krev_formaal") == "on"
    org_id, actor = ctx.org.fiks_org_id, _actor(ctx)

    def change(s: Session) -> tuple[str, str, str]:
        integ, password = service.create_integration(
            s, org_id, navn, orgnr.replace(" ", ""), beskrivelse, actor=actor
        )
        for privilege in wanted:
            service.grant(
                s, integ.id, org_id, privilege, purpose_required=purpose_required, actor=actor
            )
        return str(integ.id), integ.navn, password

    try:
        integrasjon_id, name, password = await portal.db(change)
    except KonfigError as exc:
        return await overview(request, status=exc.status, error=exc.message)
    return render(
        request,
        "password.html",
        ctx,
        integrasjon_id=integrasjon_id,
        navn=name,
        password=password,
        created=True,
    )


async def new_password(request: web.Request) -> web.Response:
    """Generate a new password (the old one stops working now); shown once."""
    ctx = await _admin(request)
    if isinstance(ctx, web.Response):
        return ctx
    assert ctx.org is not None
    portal = request.app[PORTAL_KEY]
    org_id, actor = ctx.org.fiks_org_id, _actor(ctx)
    integrasjon_id = request.match_info["id"]

    def change(s: Session) -> tuple[str, str]:
        integ, password = service.new_password(s, _owned(s, org_id, integrasjon_id), actor=actor)
        return integ.navn, password

    try:
        name, password = await portal.db(change)
    except KonfigError as exc:
        return await overview(request, status=exc.status, error=exc.message)
    return render(
        request,
        "password.html",
        ctx,
        integrasjon_id=integrasjon_id,
        navn=name,
        password=password,
        created=False,
    )


async def delete_integration(request: web.Request) -> web.Response:
    """Delete an integration: every call with it fails from now on."""
    integrasjon_id = request.match_info["id"]

    def change(s: Session, org_id: str, actor: str, form: Any) -> None:
        service.delete_integration(s, _owned(s, org_id, integrasjon_id), actor=actor)

    return await _change(request, change, "Integrasjonen er slettet.")


async def grant(request: web.Request) -> web.Response:
    """Grant or revoke one privilege for one of the organisation's integrations."""
    integrasjon_id = request.match_info["id"]

    def change(s: Session, org_id: str, actor: str, form: Any) -> None:
        privilege = str(form.get("privilegium", ""))
        integ = _owned(s, org_id, integrasjon_id)
        if form.get("handling") == "fjern":
            service.revoke(s, integ, org_id, privilege, actor=actor)
        else:
            service.grant(s, integ, org_id, privilege, actor=actor)

    return await _change(request, change, "Tilgangen er endret.")


async def field_policy(request: web.Request) -> web.Response:
    """Put a preset field policy on one grant, or remove it (SVV's answer unchanged).

    Custom field lists are set with the admin CLI or API; the form leaves them as they are
    unless the administrator picks a preset or "no policy".
    """
    integrasjon_id = request.match_info["id"]

    def change(s: Session, org_id: str, actor: str, form: Any) -> None:
        privilege = str(form.get("privilegium", ""))
        chosen = str(form.get("feltpolicy", "")).strip()
        if chosen == KEEP_CUSTOM:
            return
        policy = feltpolicy.parse_id(chosen) if chosen else None
        integ = _owned(s, org_id, integrasjon_id)
        grant_policy.set_field_policy(s, integ, org_id, privilege, policy, actor=actor)

    return await _change(request, change, "Feltpolicyen er endret.")


# -- person roles ---------------------------------------------------------------------------


async def person_roles(request: web.Request, **extra: Any) -> web.Response:
    """Who has which role on this organisation."""
    ctx = await _admin(request)
    if isinstance(ctx, web.Response):
        return ctx
    assert ctx.org is not None
    portal = request.app[PORTAL_KEY]
    org_id = ctx.org.fiks_org_id

    def read(s: Session) -> list[dict[str, Any]]:
        people: dict[str, dict[str, Any]] = {}
        for row in roles_service.list_roles(s, org_id):
            entry = people.setdefault(
                row.pid_pseudonym, {"key": row.pid_pseudonym, "navn": row.navn, "roles": []}
            )
            entry["roles"].append(row.rolle)
        return sorted(people.values(), key=lambda p: p["navn"])

    people = await portal.db(read)
    status = extra.pop("status", 200)
    return render(request, "roller.html", ctx, status=status, people=people, **extra)


async def person_role_change(request: web.Request) -> web.Response:
    """Add a role (by fødselsnummer and name) or remove one (by the stored key)."""
    ctx = await _admin(request)
    if isinstance(ctx, web.Response):
        return ctx
    assert ctx.org is not None and ctx.session is not None and ctx.actor is not None
    portal = request.app[PORTAL_KEY]
    form = await request.post()
    org_id, actor = ctx.org.fiks_org_id, _actor(ctx)
    rolle = _text(form, "rolle", 16)
    if form.get("handling") == "fjern":
        key = _text(form, "person", 64)
        if key == ctx.actor.pid_pseudonym and rolle == ADMIN:
            return await person_roles(
                request, status=409, error="Du kan ikke fjerne din egen administratorrolle."
            )

        def change(s: Session) -> None:
            roles_service.remove_role(
                s, pid_pseudonym=key, fiks_org_id=org_id, rolle=rolle, actor=actor
            )

        done = "Rollen er fjernet."
    else:
        fnr = _text(form, "fodselsnummer", 20).replace(" ", "")
        navn = _text(form, "navn", 200)
        if not is_synthetic_fnr(fnr):
            return await person_roles(
                request,
                status=400,
                error="Ugyldig fødselsnummer (kun syntetiske testpersoner i dette miljøet).",
            )
        key = roles_service.person_key(portal.pseudonymizer, fnr)

        def change(s: Session) -> None:
            roles_service.add_role(
                s, pid_pseudonym=key, navn=navn, fiks_org_id=org_id, rolle=rolle, actor=actor
            )

        done = "Rollen er lagt til."
    try:
        await portal.db(change)
    except KonfigError as exc:
        return await person_roles(request, status=exc.status, error=exc.message)
    ctx.session.notice = done
    return redirect(request, "admin_roles")


__all__ = [
    "ROLES",
    "activate",
    "create_integration",
    "delete_integration",
    "field_policy",
    "grant",
    "new_password",
    "overview",
    "person_role_change",
    "person_roles",
]
