"""Innsyn completeness, per endpoint: everyone and every vehicle an answer returned is findable.

For each of the gateway's ten endpoints the test makes one real call through the stack with the
durable audit, asks the simulator directly for the same answer, and collects from it — by
walking SVV's JSON, independently of the gateway's audit code — the owners, co-owners, lessees
and customer-search hits (fødselsnummer or organisasjonsnummer) and the returned vehicles'
plates. Innsyn by each of them must find that call; nothing is stored in clear.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, text

from kjoretoyregister.audit import query
from kjoretoyregister.audit.pseudonyms import Pseudonymizer
from kjoretoyregister.audit.writer import DurableAuditSink
from stack import Stack, ensure_register, start_stack

V2 = "/rest/distribusjon/kjoretoy/v2.0/"
ROLES = ("eier", "medeier", "leasingtaker")

# (method, path, body): every endpoint, each answered with at least one vehicle or customer.
CALLS: list[tuple[str, str, Any]] = [
    ("POST", "bulk/kjennemerke", [{"kjennemerke": "CU11302"}, {"kjennemerke": "CU11304"}]),
    ("POST", "bulk/kuid", [{"kuid": "3378150582"}]),
    ("GET", "bulk/understellsnummer/SISDINKY45727043", None),
    ("GET", "sok/kjennemerke?kjennemerke=CU11297", None),
    ("GET", "sok/understellsnummer?understellsnummer=SISDINKY45727043", None),
    ("GET", "sok/fodselsnummer?fodselsnummer=15907990181", None),  # STRAFFET VOTT, CU11302
    ("GET", "sok/organisasjonsnummer?organisasjonsnummer=986130861", None),
    ("GET", "sok/kundeid?kundeid={kundeid}", None),  # the owner's of CU11297, looked up first
    ("GET", "sok/eiernavn?navn=M%C3%98LLER%20BIL%20AS", None),
    ("GET", "sok/kunde?eiertype=ORGANISASJON&navn=M%C3%98LLER%20BIL%20AS", None),
]


@pytest.fixture(scope="module")
def register_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_register(tmp_path_factory.mktemp("register") / "register.sqlite")


@pytest.fixture
async def stack(
    tmp_path: Path, register_path: Path, engine: Engine, pz: Pseudonymizer
) -> AsyncIterator[Stack]:
    async with (
        DurableAuditSink(engine, pz) as sink,
        start_stack(tmp_path / "s", register_path=register_path, audit_sink=sink) as s,
    ):
        yield s


def _party(party: Any) -> Iterator[tuple[str, str]]:
    if not isinstance(party, dict):
        return
    fnr = (party.get("person") or {}).get("fodselsnummer")
    orgnr = (party.get("enhet") or {}).get("organisasjonsnummer")
    if fnr:
        yield "fodselsnummer", str(fnr)
    if orgnr:
        yield "organisasjonsnummer", str(orgnr)


def _vehicles(doc: Any) -> Iterator[dict[str, Any]]:
    elements = doc if isinstance(doc, list) else doc.get("kjoretoy") or doc.get("kjoretoyresponser")
    for element in elements or []:
        if isinstance(element, dict) and isinstance(element.get("kjoretoy"), dict):
            yield element["kjoretoy"]


def returned(doc: Any) -> set[tuple[str, str]]:
    """(innsyn kind, value) of every party and plate in SVV's answer."""
    out: set[tuple[str, str]] = set()
    for kjoretoy in _vehicles(doc):
        plate = (kjoretoy.get("kjoretoyId") or {}).get("kjennemerke")
        if plate:
            out.add(("kjennemerke", str(plate)))
        for role in ROLES:
            out.update(_party((kjoretoy.get("eierskap") or {}).get(role)))
    if isinstance(doc, dict):
        for hit in doc.get("kunder") or doc.get("treffListe") or []:
            out.update(_party((hit or {}).get("personEnhet")))
    return out


async def _call(stack: Stack, token: str, method: str, path: str, body: Any) -> tuple[int, bytes]:
    data = None if body is None else orjson.dumps(body)
    statuses, bodies = [], []
    for url, headers in (
        (stack.api(path), stack.headers(token)),
        (stack.svv_url + V2 + path, stack.svv_auth()),
    ):
        async with stack.http.request(
            method, url, data=data, headers={**headers, "Content-Type": "application/json"}
        ) as resp:
            statuses.append(resp.status)
            bodies.append(await resp.read())
    assert statuses == [200, 200], (path, statuses)
    assert bodies[0] == bodies[1]
    return statuses[0], bodies[1]


@pytest.mark.parametrize(("method", "path", "body"), CALLS, ids=[c[1].split("?")[0] for c in CALLS])
async def test_everyone_returned_finds_the_lookup(
    stack: Stack, engine: Engine, pz: Pseudonymizer, method: str, path: str, body: Any
) -> None:
    token = await stack.token()
    if "{kundeid}" in path:
        _, first = await _call(
            stack, token, "POST", "bulk/kjennemerke", [{"kjennemerke": "CU11297"}]
        )
        kundeid = orjson.loads(first)[0]["kjoretoy"]["eierskap"]["eier"]["kundeId"]
        path = path.format(kundeid=kundeid)
    _, direct = await _call(stack, token, method, path, body)
    wanted = returned(orjson.loads(direct))
    assert wanted, f"{path}: the answer returned nobody; pick another query"
    name = path.split("?")[0].split("/SISDINKY")[0]
    endpoint = re.compile(re.escape(V2 + name) + r"(/\{\w+\})?$")  # a path parameter as {…}
    missing = []
    for kind, value in sorted(wanted):
        rows = query.innsyn(engine, pz, kind, value, actor="test")
        if not any(endpoint.search(str(r["endpoint"])) for r in rows):
            missing.append((kind, value))
    assert not missing, f"{path}: innsyn does not find {missing}"
    with engine.connect() as conn:
        stored = set(conn.execute(text("SELECT pseudonym FROM audit_subject")).scalars())
    assert not {value for _, value in wanted} & stored  # pseudonyms only, never clear
