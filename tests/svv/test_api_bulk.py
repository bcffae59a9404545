"""The bulk endpoints over HTTP: bulk/kjennemerke, bulk/kuid, bulk/understellsnummer/{vin}."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest

from kjoretoyregister.svv.register import Register

pytestmark = pytest.mark.timeout(60)


def owner_id(kjoretoy: dict[str, Any]) -> str | None:
    """fnr, orgnr or kundeId of the eier, whichever the vehicle shows."""
    eier = kjoretoy.get("eierskap", {}).get("eier")
    if not eier:
        return None
    return (
        eier.get("person", {}).get("fodselsnummer")
        or eier.get("enhet", {}).get("organisasjonsnummer")
        or eier.get("kundeId")
    )


def codes(item: dict[str, Any]) -> list[str]:
    return [r["kode"] for r in item["responskoder"]]


@pytest.fixture(scope="module")
def earlier_owner(svv_register: Register) -> tuple[str, datetime, str, str]:
    """A plate whose eier changed after it was first registered: (plate, dtg, now, then)."""
    for plate in svv_register.sample_kjennemerker(500, seed=3):
        found = svv_register.by_kjennemerke(plate, None)
        if not found or found[0].hidden:
            continue
        now = found[0].kjoretoy
        fom = now.get("eierskap", {}).get("eier", {}).get("fomTidspunkt")
        if not fom:
            continue
        dtg = datetime.fromisoformat(fom) - timedelta(days=1)
        then = svv_register.by_kjennemerke(plate, dtg)
        if then and not then[0].hidden and owner_id(then[0].kjoretoy) != owner_id(now):
            return plate, dtg, str(owner_id(now)), str(owner_id(then[0].kjoretoy))
    pytest.fail("the generated register has no plate with an earlier owner")


@pytest.fixture(scope="module")
def shared_vin(svv_register: Register) -> str:
    """A VIN that two vehicles share (the generator always makes one)."""
    plates = svv_register.sample_kjennemerker(10_000, seed=1)
    vins: Counter[str] = Counter()
    for found in svv_register.many_by_kjennemerke([(p, None) for p in plates]):
        for result in found:
            vin = result.kjoretoy.get("kjoretoyId", {}).get("understellsnummer")
            if vin:
                vins[vin] += 1
    for vin, count in vins.items():
        if count > 1 or len(svv_register.by_understellsnummer(vin, None)) > 1:
            return vin
    pytest.fail("the generated register has no shared VIN")


class TestBulkKjennemerke:
    async def test_sisdinky_plate_in_any_spelling(self, svv_client, svv_api, svv_schema) -> None:
        """Plates match case- and space-insensitively and come back formatted "CU 11297"."""
        body = [{"kjennemerke": p} for p in ("CU11297", "cu 11297", "Cu11297 ")]
        response = await svv_client.post(
            svv_api.BULK_KJENNEMERKE, json=body, headers=svv_api.OPPSLAG
        )
        assert response.status == 200
        assert response.content_type == "application/json"
        answer = await response.json()
        svv_schema.check_bulk(answer)
        assert len(answer) == 3
        for item in answer:
            kjoretoy = item["kjoretoy"]
            assert item["responskoder"] == []
            assert kjoretoy["kjoretoyId"]["kjennemerke"] == "CU 11297"
            assert kjoretoy["kjoretoyId"]["understellsnummer"] == "SISDINKY45727043"
            eierskap = kjoretoy["eierskap"]
            assert eierskap["eier"]["enhet"]["organisasjonsnummer"] == "986130861"
            assert "person" in eierskap["leasingtaker"]

    async def test_request_order_misses_and_hidden(self, svv_client, svv_api, svv_schema) -> None:
        """One answer per item, in request order; a miss and a withheld vehicle are codes."""
        plates = ["CU11193", "ZZ99999", "CU11300", "CU11297", "CU11193"]
        response = await svv_client.post(
            svv_api.BULK_KJENNEMERKE,
            json=[{"kjennemerke": p} for p in plates],
            headers=svv_api.OPPSLAG,
        )
        answer = await response.json()
        svv_schema.check_bulk(answer)
        assert [codes(i) for i in answer] == [
            [],
            ["KJENNEMERKE_UKJENT"],
            ["OPPLYSNINGER_UTILGJENGELIG"],
            [],
            [],
        ]
        assert "kjoretoy" not in answer[1] and "kjoretoy" not in answer[2]
        assert [answer[i]["kjoretoy"]["kjoretoyId"]["kjennemerke"] for i in (0, 3, 4)] == [
            "CU 11193",
            "CU 11297",
            "CU 11193",
        ]
        assert all(r["beskrivelse"] for i in answer for r in i["responskoder"])

    async def test_generated_plates(self, svv_client, svv_api, svv_schema, svv_register) -> None:
        """A full-size request of generated plates: every one found, schema-valid, no nulls."""
        plates = svv_register.sample_kjennemerker(1000, seed=11)
        response = await svv_client.post(
            svv_api.BULK_KJENNEMERKE,
            json=[{"kjennemerke": p, "dtg": "2030-01-01T00:00:00.000+01:00"} for p in plates],
            headers=svv_api.OPPSLAG,
        )
        assert response.status == 200
        answer = await response.json()
        assert len(answer) == len(plates)
        # Schema checking is slow (jsonschema in Python); a sixth of them covers every kind.
        svv_schema.check_bulk(answer[::6])
        for plate, item in zip(plates, answer, strict=True):
            if codes(item) == ["OPPLYSNINGER_UTILGJENGELIG"]:
                continue
            assert codes(item) == [], plate
            shown = item["kjoretoy"]["kjoretoyId"]["kjennemerke"]
            assert shown.replace(" ", "") == plate

    async def test_past_dtg_returns_the_earlier_owner(
        self, svv_client, svv_api, svv_schema, earlier_owner
    ) -> None:
        plate, dtg, now_id, then_id = earlier_owner
        response = await svv_client.post(
            svv_api.BULK_KJENNEMERKE,
            json=[{"kjennemerke": plate}, {"kjennemerke": plate, "dtg": dtg.isoformat()}],
            headers=svv_api.OPPSLAG,
        )
        answer = await response.json()
        svv_schema.check_bulk(answer)
        assert owner_id(answer[0]["kjoretoy"]) == now_id
        assert owner_id(answer[1]["kjoretoy"]) == then_id
        assert "tilTidspunkt" in answer[1]["kjoretoy"]["eierskap"]["eier"]

    async def test_dtg_before_the_vehicle_existed_is_a_miss(self, svv_client, svv_api) -> None:
        response = await svv_client.post(
            svv_api.BULK_KJENNEMERKE,
            json=[{"kjennemerke": "CU11297", "dtg": "1900-01-01T00:00:00Z"}],
            headers=svv_api.OPPSLAG,
        )
        assert [codes(i) for i in await response.json()] == [["KJENNEMERKE_UKJENT"]]

    @pytest.mark.parametrize(
        "dtg",
        [
            "2030-11-15T23:00:00.000+01:00",
            "2030-06-02T13:33:07+02:00",
            "2030-06-02T13:33:07Z",
            "2030-06-02T13:33:07.123456-05:00",
            None,
        ],
    )
    async def test_dtg_spellings(self, svv_client, svv_api, dtg: str | None) -> None:
        response = await svv_client.post(
            svv_api.BULK_KJENNEMERKE,
            json=[{"kjennemerke": "CU11297", "dtg": dtg}],
            headers=svv_api.OPPSLAG,
        )
        assert response.status == 200
        assert codes((await response.json())[0]) == []

    async def test_empty_list(self, svv_client, svv_api) -> None:
        response = await svv_client.post(svv_api.BULK_KJENNEMERKE, json=[], headers=svv_api.OPPSLAG)
        assert (response.status, await response.json()) == (200, [])

    async def test_item_limit(self, svv_client_factory, svv_api) -> None:
        """max_bulk_items items are fine; one more is a 400 that says the limit."""
        client = await svv_client_factory(max_bulk_items=5)
        five = [{"kjennemerke": "CU11297"}] * 5
        ok = await client.post(svv_api.BULK_KJENNEMERKE, json=five, headers=svv_api.OPPSLAG)
        assert ok.status == 200
        too_many = await client.post(
            svv_api.BULK_KJENNEMERKE, json=[*five, *five[:1]], headers=svv_api.OPPSLAG
        )
        assert too_many.status == 400
        assert "maks 5" in (await too_many.json())["feilmelding"]


class TestBulkKuid:
    async def test_kuid_round_trip(self, svv_client, svv_api, svv_schema, svv_register) -> None:
        plates = svv_register.sample_kjennemerker(20, seed=5)
        vehicles = [
            found[0].kjoretoy
            for found in svv_register.many_by_kjennemerke([(p, None) for p in plates])
            if found and not found[0].hidden
        ]
        kuids = [v["kjoretoyId"]["kuid"] for v in vehicles]
        response = await svv_client.post(
            svv_api.BULK_KUID,
            json=[{"kuid": k} for k in kuids] + [{"kuid": "0000000001"}],
            headers=svv_api.OPPSLAG,
        )
        assert response.status == 200
        answer = await response.json()
        svv_schema.check_bulk(answer)
        assert [i["kjoretoy"]["kjoretoyId"]["kuid"] for i in answer[:-1]] == kuids
        assert codes(answer[-1]) == ["KUID_UKJENT"]

    async def test_bad_kuid_body(self, svv_client, svv_api) -> None:
        response = await svv_client.post(
            svv_api.BULK_KUID, json=[{"kjennemerke": "CU11297"}], headers=svv_api.OPPSLAG
        )
        assert response.status == 400
        assert "'kuid' mangler" in (await response.json())["feilmelding"]


class TestBulkUnderstellsnummer:
    async def test_sisdinky_vin(self, svv_client, svv_api, svv_schema) -> None:
        response = await svv_client.get(
            svv_api.BULK_VIN + "sisdinky45727043", headers=svv_api.OPPSLAG
        )
        assert response.status == 200
        answer = await response.json()
        svv_schema.check_bulk(answer)
        assert [i["kjoretoy"]["kjoretoyId"]["kjennemerke"] for i in answer] == ["CU 11297"]

    async def test_shared_vin_gives_two_vehicles(
        self, svv_client, svv_api, svv_schema, shared_vin
    ) -> None:
        response = await svv_client.get(svv_api.BULK_VIN + shared_vin, headers=svv_api.OPPSLAG)
        answer = await response.json()
        svv_schema.check_bulk(answer)
        assert len(answer) == 2
        kuids = {i["kjoretoy"]["kjoretoyId"]["kuid"] for i in answer if "kjoretoy" in i}
        assert len(kuids) == len([i for i in answer if "kjoretoy" in i])

    async def test_unknown_vin(self, svv_client, svv_api, svv_schema) -> None:
        response = await svv_client.get(
            svv_api.BULK_VIN + "NOSUCHVIN00000000", headers=svv_api.OPPSLAG
        )
        answer = await response.json()
        svv_schema.check_bulk(answer)
        assert [codes(i) for i in answer] == [["UNDERSTELLSNUMMER_UKJENT"]]

    async def test_dtg_query(self, svv_client, svv_api) -> None:
        early = await svv_client.get(
            svv_api.BULK_VIN + "SISDINKY45727043",
            params={"dtg": "1900-01-01T00:00:00+01:00"},
            headers=svv_api.OPPSLAG,
        )
        assert [codes(i) for i in await early.json()] == [["UNDERSTELLSNUMMER_UKJENT"]]
        bad = await svv_client.get(
            svv_api.BULK_VIN + "SISDINKY45727043",
            params={"dtg": "2020-01-01"},
            headers=svv_api.OPPSLAG,
        )
        assert bad.status == 400
        assert "tidssone" in (await bad.json())["feilmelding"]

    @pytest.mark.parametrize("suffix", ["", "%20", "?foo=1"])
    async def test_missing_vin_or_unknown_param_is_400(self, svv_client, svv_api, suffix) -> None:
        path = svv_api.BULK_VIN + suffix
        if suffix == "?foo=1":
            path = svv_api.BULK_VIN + "SISDINKY45727043" + suffix
        response = await svv_client.get(path, headers=svv_api.OPPSLAG)
        assert response.status == 400
        assert (await response.json())["feilmelding"]


@pytest.mark.parametrize("threads", [0, 1])
async def test_same_answers_with_and_without_lookup_pool(
    svv_client_factory, svv_api, svv_register, threads
) -> None:
    """lookup_threads only moves the work; small and large requests answer the same."""
    plates = svv_register.sample_kjennemerker(30, seed=8)
    pooled = await svv_client_factory()
    other = await svv_client_factory(lookup_threads=threads)
    for batch in (plates[:3], plates):
        body = [{"kjennemerke": p} for p in batch]
        a = await pooled.post(svv_api.BULK_KJENNEMERKE, json=body, headers=svv_api.OPPSLAG)
        b = await other.post(svv_api.BULK_KJENNEMERKE, json=body, headers=svv_api.OPPSLAG)
        assert await a.json() == await b.json()
