"""Data minimisation per grant, through the real stack: each preset, custom lists, fail-closed.

The oracle is independent of :mod:`gateway.minimise`: every leaf (path, value) of the direct
simulator answer is listed, and the gateway's answer must hold exactly the leaves whose path
the policy allows — same values, nothing more, nothing less.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import pytest_asyncio

from kjoretoyregister.konfig import feltpolicy, grant_policy
from kjoretoyregister.konfig.feltpolicy import FieldPolicy
from kjoretoyregister.konfig.privileges import EIERSOK, OPPSLAG
from stack import CaptureUpstream, Stack, start_stack

pytestmark = pytest.mark.asyncio(loop_scope="module")

V2 = "/rest/distribusjon/kjoretoy/v2.0/"
PLATES = ["CU11297", "CU11302", "CU11304"]  # sisdinky: leasingtaker, person owner, medeier
LESSEE_ORGNR = "986130861"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared(
    tmp_path_factory: pytest.TempPathFactory, register_path: Path
) -> AsyncIterator[tuple[Stack, str]]:
    async with start_stack(tmp_path_factory.mktemp("felt"), register_path=register_path) as s:
        yield s, await s.token()


@pytest_asyncio.fixture(loop_scope="module")
async def env(shared: tuple[Stack, str]) -> AsyncIterator[tuple[Stack, str]]:
    stack, _ = shared
    stack.memory_audit.events.clear()
    yield shared
    for privilege in (OPPSLAG, EIERSOK):
        _set(stack, privilege, None)


def _set(stack: Stack, privilege: str, policy: FieldPolicy | None) -> None:
    with stack.session_factory.begin() as s:
        grant_policy.set_field_policy(s, stack.integrasjon_id, stack.fiks_org_id, privilege, policy)


async def _call(
    stack: Stack, token: str, method: str, tail: str, body: Any = None
) -> tuple[tuple[int, bytes], tuple[int, bytes]]:
    """(gateway answer, the simulator's direct answer) for the same request."""
    data = None if body is None else orjson.dumps(body)
    out = []
    for url, headers in (
        (stack.api(tail), stack.headers(token)),
        (stack.svv_url + V2 + tail, stack.svv_auth()),
    ):
        async with stack.http.request(
            method, url, data=data, headers={**headers, "Content-Type": "application/json"}
        ) as resp:
            out.append((resp.status, await resp.read()))
    return out[0], out[1]


def _leaves(
    value: Any, path: tuple[str, ...] = (), where: tuple[Any, ...] = ()
) -> Iterator[tuple[str, tuple[Any, ...], Any]]:
    """(dotted schema path, exact location, value) of every leaf; empty containers have none."""
    if isinstance(value, dict):
        for key, sub in value.items():
            yield from _leaves(sub, (*path, key), (*where, key))
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            yield from _leaves(sub, path, (*where, i))
    else:
        yield ".".join(path), where, value


def _allowed(path: str, allow: tuple[str, ...]) -> bool:
    return any(path == a or path.startswith(a + ".") for a in allow)


def _assert_record(got: dict[str, Any], full: dict[str, Any], allow: tuple[str, ...]) -> None:
    expected = {(w, v) for p, w, v in _leaves(full) if _allowed(p, allow)}
    actual = {(w, v) for _, w, v in _leaves(got)}
    assert actual == expected


def _kjoretoy_records(doc: Any) -> list[dict[str, Any]]:
    if isinstance(doc, list):
        return [r.get("kjoretoy") or {} for r in doc]
    return [r.get("kjoretoy") or {} for r in doc.get("kjoretoy", doc.get("kjoretoyresponser", []))]


@pytest.mark.parametrize("name", [p.id.split("@")[0] for p in feltpolicy.presets()])
async def test_each_preset_on_bulk(env: tuple[Stack, str], name: str) -> None:
    stack, token = env
    policy = feltpolicy.preset(name)
    _set(stack, OPPSLAG, policy)
    request = [{"kjennemerke": p} for p in PLATES]
    (status, body), (direct_status, direct) = await _call(
        stack, token, "POST", "bulk/kjennemerke", request
    )
    assert status == direct_status == 200
    got, full = orjson.loads(body), orjson.loads(direct)
    assert len(got) == len(full) == len(PLATES)
    for g, f in zip(got, full, strict=True):
        assert g.get("responskoder") == f.get("responskoder")  # wrapper scalars pass through
        _assert_record(g.get("kjoretoy") or {}, f.get("kjoretoy") or {}, policy.kjoretoy)
    assert any(g.get("kjoretoy") for g in got)  # every preset lets something through
    (event,) = stack.memory_audit.events
    assert event.feltpolicy == policy.id
    # Innsyn still sees whom SVV returned, not only what the caller was shown.
    full_text = direct.decode()
    returned = {i for item in event.items for i in item.returned_identities}
    assert returned and all(r in full_text for r in returned if r.isdigit())


async def test_parkering_hides_fnr_birth_date_and_technical_data(env: tuple[Stack, str]) -> None:
    stack, token = env
    _set(stack, OPPSLAG, feltpolicy.preset("parkering"))
    (status, body), (_, direct) = await _call(
        stack, token, "POST", "bulk/kjennemerke", [{"kjennemerke": p} for p in PLATES]
    )
    assert status == 200
    for word in (b"fodselsnummer", b"godkjenning"):
        assert word in direct  # the simulator sends them…
    for word in (b"fodselsnummer", b"fodselsdato", b"godkjenning", b"tekniskeData"):
        assert word not in body  # …and the caller never sees them
    owners = [r["eierskap"]["eier"] for r in _kjoretoy_records(orjson.loads(body))]
    assert all("adresse" in o for o in owners)
    assert any(o.get("person", {}).get("etternavn") for o in owners)


async def test_teknisk_has_no_persons(env: tuple[Stack, str]) -> None:
    stack, token = env
    _set(stack, OPPSLAG, feltpolicy.preset("teknisk"))
    (status, body), _ = await _call(stack, token, "GET", "sok/kjennemerke?kjennemerke=CU11297")
    assert status == 200
    records = _kjoretoy_records(orjson.loads(body))
    assert records and all("eierskap" not in r and r["kjoretoyId"] for r in records)
    assert b"fodselsnummer" not in body and b"organisasjonsnummer" not in body


async def test_customer_search_pruned_by_kunde_list(env: tuple[Stack, str]) -> None:
    stack, token = env
    policy = feltpolicy.preset("parkering")
    _set(stack, EIERSOK, policy)
    tail = f"sok/organisasjonsnummer?organisasjonsnummer={LESSEE_ORGNR}"
    (status, body), (_, direct) = await _call(stack, token, "GET", tail)
    assert status == 200
    got, full = orjson.loads(body), orjson.loads(direct)
    assert got.get("antallTreffTotalt") == full.get("antallTreffTotalt")
    for g, f in zip(_kjoretoy_records(got), _kjoretoy_records(full), strict=True):
        _assert_record(g, f, policy.kjoretoy)
    kunde_tail = "sok/kunde?eiertype=ORGANISASJON&navn=M%C3%98LLER%20BIL%20AS"
    (status, body), (_, direct) = await _call(stack, token, "GET", kunde_tail)
    assert status == 200
    got, full = orjson.loads(body), orjson.loads(direct)
    key = "kunder" if "kunder" in full else "treffListe"
    assert full[key] and len(got[key]) == len(full[key])
    for g, f in zip(got[key], full[key], strict=True):
        _assert_record(g, f, policy.kunde)
    assert b"organisasjonsnummer" in direct and b"kundeid" not in body.lower()


async def test_custom_policy_then_cleared(env: tuple[Stack, str]) -> None:
    stack, token = env
    policy = feltpolicy.custom(["kjoretoyId.kjennemerke", "registrering.registreringsstatus"], [])
    _set(stack, OPPSLAG, policy)
    request = [{"kjennemerke": "CU11297"}]
    (_, body), (_, direct) = await _call(stack, token, "POST", "bulk/kjennemerke", request)
    (record,) = _kjoretoy_records(orjson.loads(body))
    assert set(record) == {"kjoretoyId", "registrering"}
    assert set(record["kjoretoyId"]) == {"kjennemerke"}
    assert stack.memory_audit.events[-1].feltpolicy == policy.id
    assert policy.id.startswith("egendefinert@")
    _set(stack, OPPSLAG, None)  # takes effect on the very next call
    (_, body), (_, direct) = await _call(stack, token, "POST", "bulk/kjennemerke", request)
    assert body == direct
    assert stack.memory_audit.events[-1].feltpolicy is None


async def test_no_policy_is_byte_for_byte(env: tuple[Stack, str]) -> None:
    stack, token = env
    (status, body), (_, direct) = await _call(
        stack, token, "POST", "bulk/kjennemerke", [{"kjennemerke": p} for p in PLATES]
    )
    assert status == 200 and body == direct


async def test_answer_not_in_svv_shape_is_withheld_and_audited(tmp_path: Path) -> None:
    capture = CaptureUpstream(b'"not an SVV answer"')
    async with start_stack(tmp_path / "stack", upstream=capture.app()) as stack:
        _set(stack, OPPSLAG, feltpolicy.preset("parkering"))
        token = await stack.token()
        async with stack.http.post(
            stack.api("bulk/kjennemerke"),
            json=[{"kjennemerke": "CU11297"}],
            headers=stack.headers(token),
        ) as resp:
            status, error = resp.status, await resp.json()
        assert status == 502
        assert error["errorCode"] == "KJR-GW-FELTPOLICY"
        assert b"not an SVV answer" not in orjson.dumps(error)
        (event,) = stack.memory_audit.events
        assert event.http_status == 502 and event.feltpolicy == "parkering@1"
