"""Set or clear a grant's field policy (data minimisation); logged like every admin action.

Kept apart from :mod:`konfig.service` (which it builds on) so that module stays one job per
object kind. Like the service, it never commits: the caller owns the unit of work.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from kjoretoyregister.konfig import feltpolicy, service
from kjoretoyregister.konfig.errors import NotFound
from kjoretoyregister.konfig.feltpolicy import FieldPolicy
from kjoretoyregister.konfig.models import Tilgang


def current(row: Tilgang) -> FieldPolicy | None:
    """The policy a grant row carries (None: passthrough)."""
    return feltpolicy.from_stored(row.feltpolicy, row.feltpolicy_felter)


def set_field_policy(
    session: Session,
    integrasjon_id: service.IdLike,
    fiks_org_id: service.IdLike,
    privilege: str,
    policy: FieldPolicy | None,
    *,
    actor: str = service.SYSTEM_ACTOR,
) -> Tilgang:
    """Put ``policy`` on a grant (None clears it: SVV's answer passes through unchanged).

    Takes effect on the next call: the admin-action row this writes is what the gateways'
    decision caches watch.

    Raises:
        NotFound: there is no such grant.
        InvalidInput: an unknown privilege or malformed id.
    """
    privilege = service._privilege(privilege)
    integration = service.get_integration(session, integrasjon_id)
    org = service.get_org(session, fiks_org_id)
    row = session.get(Tilgang, (integration.id, org.id, privilege))
    if row is None:
        raise NotFound(f"integration {integration.id} has no {privilege} on {org.id}")
    before = row.feltpolicy
    row.feltpolicy, row.feltpolicy_felter = policy.to_stored() if policy else (None, None)
    details: dict[str, object] = {
        "fiks_org_id": str(org.id),
        "privilege": privilege,
        "before": before,
        "after": row.feltpolicy,
    }
    if policy is not None and not policy.is_preset:
        details["felter"] = {"kjoretoy": list(policy.kjoretoy), "kunde": list(policy.kunde)}
    service._log(session, actor, "grant.feltpolicy", "integration", integration.id, details)
    session.flush()
    return row


def resolve(
    preset: str | None,
    versjon: int | None = None,
    felter: list[str] | None = None,
    kundefelter: list[str] | None = None,
) -> FieldPolicy | None:
    """The policy an admin asked for: a preset, custom lists, or nothing (clear).

    Raises:
        FeltpolicyError: both a preset and field lists, a version without a preset, an
            unknown preset/version, or an unknown field path.
    """
    if preset and (felter or kundefelter):
        raise feltpolicy.FeltpolicyError(
            "give either a preset or custom field lists (felter/kundefelter), not both"
        )
    if versjon is not None and not preset:
        raise feltpolicy.FeltpolicyError("a version needs a preset name")
    if preset:
        return feltpolicy.preset(preset.strip().lower(), versjon)
    if felter or kundefelter:
        return feltpolicy.custom(felter or [], kundefelter or [])
    return None
