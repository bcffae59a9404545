"""The sisdinky vehicles as SVV has them: every leaf of SVV's own answer comes out unchanged.

``../shared/svv-reference/akfell-bulk-kjennemerke-sisdinky-response.json`` is SVV's answer from
its test environment for 26 sisdinky plates at dtg 2023-06-02T13:33:07+02:00 (akfell
generation). Our simulator's v2 bulk answer for the same plates, over a real socket, must hold
every one of its values at the v2 path :mod:`kjoretoyregister.svv.akfell.mapping` maps it to,
at that dtg and now; and the akfell profile's answer, over real sockets with a real Maskinporten
token, must *be* SVV's answer (only ``gjenstaendeKvote`` may differ).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from akfell_env import akfell_env

from kjoretoyregister.svv import sisdinky
from kjoretoyregister.svv.akfell.mapping import (
    AKFELL_ONLY,
    V2_ONLY,
    is_v2_only,
    leaves,
    matches,
    v2_path,
)
from kjoretoyregister.svv.catalog import VARIANTS
from kjoretoyregister.svv.register import Register

pytestmark = pytest.mark.timeout(60)

_MISSING = object()

REFERENCE = (
    Path(__file__).resolve().parents[2]
    / ".."
    / "shared"
    / "svv-reference"
    / "akfell-bulk-kjennemerke-sisdinky-response.json"
)
DTG = "2023-06-02T13:33:07+02:00"


@pytest.fixture(scope="module")
def reference() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = orjson.loads(REFERENCE.read_bytes())["responser"]
    assert len(items) == 26
    return items


async def _bulk(client: Any, api: Any, body: list[dict[str, Any]]) -> list[dict[str, Any]]:
    response = await client.post(api.BULK_KJENNEMERKE, json=body, headers=api.OPPSLAG)
    assert response.status == 200
    answer: list[dict[str, Any]] = await response.json()
    assert len(answer) == len(body)
    return answer


@pytest.mark.parametrize("dtg", [DTG, None], ids=["svv-dtg", "now"])
async def test_every_leaf_of_svvs_answer_is_ours(
    svv_client, svv_api, svv_schema, reference, dtg: str | None
) -> None:
    """Identity, dates, names, classification, fuel, weights, colours, owners, status,
    EU-kontroll: no value of SVV's answer differs in ours (all differences are listed)."""
    body = [
        {"kjennemerke": item["request"]["kjennemerke"], **({"dtg": dtg} if dtg else {})}
        for item in reference
    ]
    answer = await _bulk(svv_client, svv_api, body)
    svv_schema.check_bulk(answer)
    differences: list[str] = []
    compared = 0
    for akfell_item, v2_item in zip(reference, answer, strict=True):
        count, found = compare_item(akfell_item, v2_item)
        compared += count
        plate = akfell_item["request"]["kjennemerke"]
        differences += [f"{plate}: {d}" for d in found]
    assert compared > 6000
    assert not differences, f"{len(differences)} of {compared} leaves differ:\n" + "\n".join(
        differences
    )


def test_the_mapping_leaves_out_only_fields_v2_does_not_have(reference) -> None:
    """The akfell-only rules leave out a few leaves of SVV's answer (each kind of rule is
    needed), and no leaf of it is one the mapping calls v2-only."""
    paths = [
        path
        for item in reference
        if "kjoretoydata" in item
        for path, _ in leaves(item["kjoretoydata"])
    ]
    left_out = [path for path in paths if v2_path(path) is None]
    assert any(path[-1] == "avregistrertSidenDato" for path in left_out)
    assert any(path[-1] == "veilastkoeffisientf0" for path in left_out)
    assert all(any(matches(p, path) for p in AKFELL_ONLY) for path in left_out)
    assert len(left_out) < 200  # a few WLTP/NEDC values and one avregistrertSidenDato
    assert not [path for path in paths if is_v2_only(path)]
    assert V2_ONLY


async def test_the_akfell_answer_is_svvs_answer(
    svv_register: Register, tmp_path: Path, reference
) -> None:
    """``POST /kjoretoyoppslag/bulk/kjennemerke`` with the request of the reference's README
    (the 26 plates at dtg 2023-06-02T13:33:07+02:00) answers exactly SVV's file: every key and
    value of every element, in order; only ``gjenstaendeKvote`` is our own."""
    svv_answer = orjson.loads(REFERENCE.read_bytes())
    body = [item["request"] for item in reference]
    assert all(r["dtg"] == DTG for r in body)
    async with akfell_env(svv_register, tmp_path, api="akfell") as env:
        response = await env.sim.post(
            "/kjoretoyoppslag/bulk/kjennemerke", json=body, headers=await env.headers()
        )
        assert response.status == 200
        ours = await response.json()
    assert set(ours) == set(svv_answer) == {"gjenstaendeKvote", "responser"}
    assert isinstance(ours["gjenstaendeKvote"], int)
    for svv_item, our_item in zip(svv_answer["responser"], ours["responser"], strict=True):
        assert our_item == svv_item, svv_item["request"]["kjennemerke"]
    assert ours["responser"] == svv_answer["responser"]


def _lookup(value: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        if isinstance(part, int):
            if not isinstance(value, list) or part >= len(value):
                return _MISSING
        elif not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _same(expected: Any, actual: Any) -> bool:
    """Equal JSON leaves of the same JSON type (1 is not 1.0, nor True)."""
    return type(expected) is type(actual) and expected == actual


def compare_item(akfell_item: dict[str, Any], v2_item: dict[str, Any]) -> tuple[int, list[str]]:
    """(number of akfell leaves compared, differences) for one akfell ``responser`` element."""
    if "feilmelding" in akfell_item:
        kode = akfell_item["feilmelding"]
        codes = [r.get("kode") for r in v2_item.get("responskoder", [])]
        ok = kode in codes and "kjoretoy" not in v2_item
        return 1, [] if ok else [f"feilmelding: akfell {kode!r}, v2 responskoder {codes}"]
    differences: list[str] = []
    count = 0
    kjoretoy = v2_item.get("kjoretoy", {})
    for path, expected in leaves(akfell_item["kjoretoydata"]):
        target = v2_path(path)
        if target is None:
            continue
        count += 1
        actual = _lookup(kjoretoy, target)
        if not _same(expected, actual):
            shown = "(absent)" if actual is _MISSING else repr(actual)
            differences.append(f"{'/'.join(map(str, target))}: SVV {expected!r}, ours {shown}")
    return count, differences


async def test_no_history_before_the_real_first_registration(
    svv_client, svv_api, reference
) -> None:
    """A moment before SVV's first registration the plate finds nothing (as SVV answers), at
    it the vehicle is there with the owner SVV shows."""
    visible = [item for item in reference if "kjoretoydata" in item]
    before, at = [], []
    for item in visible:
        plate = item["request"]["kjennemerke"]
        first = datetime.fromisoformat(item["kjoretoydata"]["kjennemerke"][0]["fomTidspunkt"])
        before.append({"kjennemerke": plate, "dtg": (first - timedelta(seconds=1)).isoformat()})
        at.append({"kjennemerke": plate, "dtg": first.isoformat()})
    for item in await _bulk(svv_client, svv_api, before):
        assert "kjoretoy" not in item
        assert [r["kode"] for r in item["responskoder"]] == ["KJENNEMERKE_UKJENT"]
    for akfell_item, item in zip(visible, await _bulk(svv_client, svv_api, at), strict=True):
        eierskap = item["kjoretoy"]["eierskap"]
        assert (
            eierskap["eier"]["fomTidspunkt"]
            == (akfell_item["kjoretoydata"]["eierskap"]["eier"]["fomTidspunkt"])
        )
        assert all("tilTidspunkt" not in holder for holder in eierskap.values() if holder)


def test_svvs_vehicles_have_one_ownership_only() -> None:
    """No invented earlier owners on SVV's vehicles; the earlier-owner example is our own."""
    svv_plates = {v.kjennemerke for v in sisdinky.SVV_VEHICLES}
    assert len(svv_plates) == 24
    for vehicle in sisdinky.SVV_VEHICLES:
        assert len(vehicle.periods) == 1, vehicle.kjennemerke
        assert vehicle.periods[0].fom == vehicle.forstereg == vehicle.plates[0][1]
    plate, _, _ = sisdinky.EARLIER_OWNER_EXAMPLE
    assert plate not in svv_plates


async def test_svv_conventions_timestamps_and_person_fields(svv_client, svv_api, reference) -> None:
    """Times with milliseconds (trailing zeros dropped) and offset; persons of every role carry
    SVV's name and birth date fields, and a synthetic fødselsnummer (month + 80)."""
    answer = await _bulk(svv_client, svv_api, [{"kjennemerke": "CU11297", "dtg": DTG}])
    kjoretoy = answer[0]["kjoretoy"]
    assert kjoretoy["kjennemerke"][0]["fomTidspunkt"] == "2022-11-18T11:15:24.72+01:00"
    assert kjoretoy["eierskap"]["vedtakstidspunkt"] == "2022-11-18T11:15:24.752+01:00"
    person = kjoretoy["eierskap"]["leasingtaker"]["person"]
    assert {"fornavn", "etternavn", "fodselsdato", "fodselsnummer"} <= set(person)
    assert int(person["fodselsnummer"][2:4]) > 80
    generelt = kjoretoy["godkjenning"]["tekniskGodkjenning"]["tekniskeData"]["generelt"]
    assert generelt["handelsbetegnelse"] == ["330e xDrive"]  # SVV's mixed case, kept


def test_the_catalogue_uses_svvs_merkekoder() -> None:
    """A generated BMW has SVV's BMW code (1400), not one of our own: a search by merkekode
    finds SVV's vehicles and ours alike."""
    catalogue = {v.model.merke: v.model.merkekode for v in VARIANTS}
    checked = 0
    for vehicle in sisdinky.SVV_VEHICLES:
        assert vehicle.modell is not None
        merke = vehicle.modell["tekniskeData"]["generelt"]["merke"][0]
        if merke["merke"] in catalogue:
            assert catalogue[merke["merke"]] == merke["merkeKode"], merke
            checked += 1
    assert checked >= 20
