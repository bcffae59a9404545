"""The sisdinky vehicles as SVV has them: every leaf of SVV's own answer comes out unchanged.

``../shared/svv-reference/akfell-bulk-kjennemerke-sisdinky-response.json`` is SVV's answer from
its test environment for 26 sisdinky plates at dtg 2023-06-02T13:33:07+02:00 (akfell
generation). Our simulator's v2 bulk answer for the same plates, over a real socket, must hold
every one of its values at the v2 path :mod:`akfell_mapping` maps it to, at that dtg and now.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from akfell_mapping import AKFELL_ONLY, compare_item, leaves, v2_path

from kjoretoyregister.svv import sisdinky
from kjoretoyregister.svv.catalog import VARIANTS

pytestmark = pytest.mark.timeout(60)

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
    """Every akfell-only rule is needed: each leaves out some leaf of SVV's answer."""
    left_out = [
        "/".join(str(p) for p in path)
        for item in reference
        if "kjoretoydata" in item
        for path, _ in leaves(item["kjoretoydata"])
        if v2_path(path) is None
    ]
    used = {p for p in AKFELL_ONLY if any(re.match(p + "$", path) for path in left_out)}
    assert used == set(AKFELL_ONLY)
    assert len(left_out) < 200  # a few WLTP/NEDC values and one avregistrertSidenDato


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
