"""Lookups of one synthetic person's vehicle by two organisations, through the real gateway."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from kjoretoyregister.konfig import service
from kjoretoyregister.konfig.privileges import OPPSLAG
from portal.helpers import PortalStack

BULK = "/rest/distribusjon/kjoretoy/v2.0/bulk/kjennemerke"
OWNED_BY_PERSON = "CU11302"  # sisdinky: one person owns it
OTHER_PLATE = "CU11297"  # owned by a company, leased to someone else
SUPPLIER_ORGNR = "910000004"
PURPOSE_A, PURPOSE_B, PURPOSE_OTHER = "Parkeringsgebyr", "Borttauing", "Annet kjøretøy"


async def lookup(
    http: aiohttp.ClientSession,
    s: PortalStack,
    org: str,
    integration: str,
    password: str,
    plate: str,
    purpose: str,
) -> Any:
    token = await s.token(http)
    async with http.post(
        f"{s.gateway_url}/{org}{BULK}",
        data=orjson.dumps([{"kjennemerke": plate}]),
        headers={
            "Authorization": f"Bearer {token}",
            "IntegrasjonId": integration,
            "IntegrasjonPassord": password,
            "X-Fiks-Formaal": purpose,
            "X-Fiks-Saksreferanse": f"2026/{len(purpose)}",
            "Content-Type": "application/json",
        },
    ) as resp:
        assert resp.status == 200, await resp.text()
        return orjson.loads(await resp.read())


async def two_orgs_look_up_one_person(http: aiohttp.ClientSession, s: PortalStack) -> str:
    """Org A and org B look up the person's vehicle (and A another one); the owner's fnr."""
    with s.session_factory.begin() as db:
        other, password = service.create_integration(
            db, s.other_fiks_org_id, "Tauesystem", SUPPLIER_ORGNR
        )
        service.grant(db, other.id, s.other_fiks_org_id, OPPSLAG)
        other_id = str(other.id)
    answer = await lookup(
        http, s, s.fiks_org_id, s.integrasjon_id, s.integrasjon_passord, OWNED_BY_PERSON,
        PURPOSE_A,
    )  # fmt: skip
    await lookup(http, s, s.other_fiks_org_id, other_id, password, OWNED_BY_PERSON, PURPOSE_B)
    await lookup(
        http, s, s.fiks_org_id, s.integrasjon_id, s.integrasjon_passord, OTHER_PLATE,
        PURPOSE_OTHER,
    )  # fmt: skip
    return str(answer[0]["kjoretoy"]["eierskap"]["eier"]["person"]["fodselsnummer"])
