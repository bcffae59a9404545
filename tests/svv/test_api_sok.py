"""The seven Kjøretøysøk endpoints over HTTP: 200 / 204 / 400, paging, schema validity."""

from __future__ import annotations

from typing import Any

import pytest

from kjoretoyregister.svv.register import Register

pytestmark = pytest.mark.timeout(60)


async def sok(client: Any, api: Any, endpoint: str, **params: Any) -> Any:
    return await client.get(api.SOK_PATH + endpoint, params=params, headers=api.SOK)


def plates(body: dict[str, Any]) -> list[str]:
    return [
        r["kjoretoy"]["kjoretoyId"]["kjennemerke"]
        for r in body["kjoretoyresponser"]
        if "kjoretoy" in r
    ]


def role_ids(kjoretoy: dict[str, Any]) -> set[str]:
    """fnr/orgnr/kundeId of eier, medeier and leasingtaker."""
    ids: set[str] = set()
    for role in ("eier", "medeier", "leasingtaker"):
        party = kjoretoy.get("eierskap", {}).get(role, {})
        ids.update(
            v
            for v in (
                party.get("person", {}).get("fodselsnummer"),
                party.get("enhet", {}).get("organisasjonsnummer"),
                party.get("kundeId"),
            )
            if v
        )
    return ids


async def ok_body(response: Any, svv_schema: Any, schema: str = "KjoretoysokResponse") -> Any:
    assert response.status == 200, await response.text()
    body = await response.json()
    svv_schema.check(body, schema)
    assert body["responskoder"] == []
    listed = body["kjoretoyresponser"] if schema == "KjoretoysokResponse" else body["kunder"]
    assert body["antallITreffliste"] == len(listed)
    assert body["antallTreffTotalt"] >= len(listed)
    return body


class TestHappyPaths:
    async def test_kjennemerke_with_wildcards(self, svv_client, svv_api, svv_schema) -> None:
        body = await ok_body(
            await sok(svv_client, svv_api, "kjennemerke", kjennemerke="CU1129?"), svv_schema
        )
        assert {"CU 11293", "CU 11297", "CU 11298"} <= set(plates(body))
        assert all(p.startswith("CU 1129") for p in plates(body))

    async def test_kjennemerke_exact(self, svv_client, svv_api, svv_schema) -> None:
        body = await ok_body(
            await sok(svv_client, svv_api, "kjennemerke", kjennemerke="cu 11297"), svv_schema
        )
        assert plates(body) == ["CU 11297"]

    async def test_understellsnummer_prefix_and_suffix(
        self, svv_client, svv_api, svv_schema
    ) -> None:
        for pattern in ("SISDINKY4572*", "*45727043", "*ISDINKY4572704*", "SISDINKY45727043"):
            body = await ok_body(
                await sok(svv_client, svv_api, "understellsnummer", understellsnummer=pattern),
                svv_schema,
            )
            assert "CU 11297" in plates(body), pattern

    async def test_understellsnummer_merkekode(self, svv_client, svv_api, svv_schema) -> None:
        body = await ok_body(
            await sok(
                svv_client, svv_api, "understellsnummer", understellsnummer="SISDINKY45727043"
            ),
            svv_schema,
        )
        merkekode = body["kjoretoyresponser"][0]["kjoretoy"]["kjoretoyId"]["merkekode"]
        same = await sok(
            svv_client,
            svv_api,
            "understellsnummer",
            understellsnummer="SISDINKY*",
            merkekode=merkekode,
        )
        body = await ok_body(same, svv_schema)
        assert "CU 11297" in plates(body)
        assert {
            r["kjoretoy"]["kjoretoyId"]["merkekode"]
            for r in body["kjoretoyresponser"]
            if "kjoretoy" in r
        } == {merkekode}

    async def test_fodselsnummer(
        self, svv_client, svv_api, svv_schema, svv_register: Register
    ) -> None:
        person = svv_register.sample_persons(1, seed=2)[0]
        fnr = person["fodselsnummer"]
        body = await ok_body(
            await sok(svv_client, svv_api, "fodselsnummer", fodselsnummer=fnr), svv_schema
        )
        for item in body["kjoretoyresponser"]:
            if "kjoretoy" in item and "eierskap" in item["kjoretoy"]:
                assert fnr in role_ids(item["kjoretoy"])

    async def test_organisasjonsnummer(self, svv_client, svv_api, svv_schema) -> None:
        # MØLLER BIL AS owns CU11297 and CU11298 in sisdinky
        body = await ok_body(
            await sok(svv_client, svv_api, "organisasjonsnummer", organisasjonsnummer="986130861"),
            svv_schema,
        )
        assert {"CU 11297", "CU 11298"} <= set(plates(body))

    async def test_kundeid(self, svv_client, svv_api, svv_schema, svv_register: Register) -> None:
        kjoretoy = svv_register.by_kjennemerke("CU11297", None)[0].kjoretoy
        kunde_id = kjoretoy["eierskap"]["eier"]["kundeId"]
        body = await ok_body(
            await sok(svv_client, svv_api, "kundeid", kundeid=kunde_id), svv_schema
        )
        assert "CU 11297" in plates(body)

    async def test_eiernavn_with_filters(self, svv_client, svv_api, svv_schema) -> None:
        body = await ok_body(
            await sok(svv_client, svv_api, "eiernavn", navn="møller bil as"), svv_schema
        )
        assert {"CU 11297", "CU 11298"} <= set(plates(body))
        only_persons = await sok(
            svv_client, svv_api, "eiernavn", navn="MØLLER BIL AS", erPerson="true"
        )
        assert only_persons.status == 204

    async def test_kunde_by_name(self, svv_client, svv_api, svv_schema) -> None:
        body = await ok_body(
            await sok(svv_client, svv_api, "kunde", eiertype="ORGANISASJON", navn="MØLLER BIL AS"),
            svv_schema,
            "KundeSokResponse",
        )
        orgs = [k["personEnhet"]["enhet"]["organisasjonsnummer"] for k in body["kunder"]]
        assert "986130861" in orgs
        assert all(k["antallKjoretoy"] >= 1 for k in body["kunder"])

    async def test_kunde_by_name_parts(self, svv_client, svv_api, svv_schema, svv_register) -> None:
        person = svv_register.sample_persons(1, seed=4)[0]
        response = await sok(
            svv_client,
            svv_api,
            "kunde",
            eiertype="PERSON",
            fornavn=person["fornavn"],
            etternavn=person["etternavn"],
        )
        body = await ok_body(response, svv_schema, "KundeSokResponse")
        assert any(
            k["personEnhet"].get("person", {}).get("etternavn") == person["etternavn"]
            for k in body["kunder"]
        )


class TestStatusesAndPaging:
    async def test_no_hits_is_204_with_empty_body(self, svv_client, svv_api) -> None:
        response = await sok(svv_client, svv_api, "kjennemerke", kjennemerke="QQ99999")
        assert response.status == 204
        assert await response.read() == b""
        assert response.headers["Svvguid"]

    async def test_ekskluder_vraket_utfort(self, svv_client, svv_api, svv_schema) -> None:
        # CU11299 is VRAKET in sisdinky
        found = await sok(svv_client, svv_api, "kjennemerke", kjennemerke="CU11299")
        await ok_body(found, svv_schema)
        gone = await sok(
            svv_client, svv_api, "kjennemerke", kjennemerke="CU11299", ekskluderVraketUtfort="true"
        )
        assert gone.status == 204

    async def test_pages_add_up_to_the_whole(self, svv_client, svv_api, svv_schema) -> None:
        """fra is 1-based; walking pages of 3 gives the same rows as one big page."""
        whole = await ok_body(
            await sok(svv_client, svv_api, "kjennemerke", kjennemerke="CU11???", antall=100),
            svv_schema,
        )
        total = whole["antallTreffTotalt"]
        assert total > 6
        rows: list[Any] = []
        fra = 1
        while fra <= total:
            page = await ok_body(
                await sok(
                    svv_client, svv_api, "kjennemerke", kjennemerke="CU11???", fra=fra, antall=3
                ),
                svv_schema,
            )
            assert page["antallTreffTotalt"] == total
            assert page["antallITreffliste"] <= 3
            rows.extend(page["kjoretoyresponser"])
            fra += 3
        assert rows == whole["kjoretoyresponser"][:total]

    async def test_page_past_the_end_is_200_and_empty(
        self, svv_client, svv_api, svv_schema
    ) -> None:
        body = await ok_body(
            await sok(svv_client, svv_api, "kjennemerke", kjennemerke="CU11297", fra=50), svv_schema
        )
        assert (body["antallITreffliste"], body["antallTreffTotalt"]) == (0, 1)

    async def test_default_antall_applies(self, svv_client_factory, svv_api, svv_schema) -> None:
        client = await svv_client_factory(default_antall=2, max_antall=5)
        body = await ok_body(
            await sok(client, svv_api, "kjennemerke", kjennemerke="CU11???"), svv_schema
        )
        assert body["antallITreffliste"] == 2
        too_many = await sok(client, svv_api, "kjennemerke", kjennemerke="CU11???", antall=6)
        assert too_many.status == 400


BAD_PARAMS = [
    # missing or unknown
    ("kjennemerke", {}, "PARAMETER_MANGLER"),
    ("kjennemerke", {"kjennemerke": "  "}, "PARAMETER_MANGLER"),
    ("kjennemerke", {"kjennemerke": "CU11297", "dtg": "x"}, "UKJENT_PARAMETER"),
    ("eiernavn", {"navn": "A", "ekskluderVraketUtfort": "true"}, "UKJENT_PARAMETER"),
    # values
    ("kjennemerke", {"kjennemerke": "CU????7"}, "UGYLDIG_PARAMETER"),
    ("kjennemerke", {"kjennemerke": "CU*"}, "UGYLDIG_PARAMETER"),
    ("kjennemerke", {"kjennemerke": "CU11297", "ekskluderVraketUtfort": "ja"}, "UGYLDIG_PARAMETER"),
    ("kjennemerke", {"kjennemerke": "CU11297", "fra": "0"}, "UGYLDIG_PARAMETER"),
    ("kjennemerke", {"kjennemerke": "CU11297", "fra": "en"}, "UGYLDIG_PARAMETER"),
    ("kjennemerke", {"kjennemerke": "CU11297", "antall": "101"}, "UGYLDIG_PARAMETER"),
    ("kjennemerke", {"kjennemerke": "CU11297", "antall": "0"}, "UGYLDIG_PARAMETER"),
    ("understellsnummer", {"understellsnummer": "SIS*DINKY"}, "UGYLDIG_PARAMETER"),
    ("understellsnummer", {"understellsnummer": "*S*"}, "UGYLDIG_PARAMETER"),
    (
        "understellsnummer",
        {"understellsnummer": "SISDINKY*", "merkekode": "abc"},
        "UGYLDIG_PARAMETER",
    ),
    ("fodselsnummer", {"fodselsnummer": "1234"}, "UGYLDIG_PARAMETER"),
    ("fodselsnummer", {"fodselsnummer": "01017000000"}, "UGYLDIG_PARAMETER"),
    ("organisasjonsnummer", {"organisasjonsnummer": "98613086"}, "UGYLDIG_PARAMETER"),
    ("organisasjonsnummer", {"organisasjonsnummer": "986130862"}, "UGYLDIG_PARAMETER"),
    ("kundeid", {"kundeid": "12a"}, "UGYLDIG_PARAMETER"),
    ("eiernavn", {"navn": "A", "postnummer": "12"}, "UGYLDIG_PARAMETER"),
    ("eiernavn", {"navn": "A", "fodselsdato": "2001-13-01"}, "UGYLDIG_PARAMETER"),
    ("eiernavn", {"navn": "A", "erPerson": "kanskje"}, "UGYLDIG_PARAMETER"),
    ("kunde", {"eiertype": "ALLE", "navn": "A"}, "UGYLDIG_PARAMETER"),
    ("kunde", {"eiertype": "PERSON", "navn": "A", "kjonn": "X"}, "UGYLDIG_PARAMETER"),
    ("kunde", {"eiertype": "PERSON", "navn": "A", "fodselsdato": "19"}, "UGYLDIG_PARAMETER"),
    # combinations
    ("kunde", {"navn": "A"}, "PARAMETER_MANGLER"),
    ("kunde", {"eiertype": "PERSON"}, "PARAMETER_MANGLER"),
    (
        "kunde",
        {"eiertype": "PERSON", "navn": "A B", "fornavn": "A"},
        "UGYLDIG_PARAMETERKOMBINASJON",
    ),
    (
        "kunde",
        {"eiertype": "PERSON", "fornavn": "A", "fonetisk": "true"},
        "UGYLDIG_PARAMETERKOMBINASJON",
    ),
    (
        "kunde",
        {"eiertype": "ORGANISASJON", "navn": "A", "kjonn": "K"},
        "UGYLDIG_PARAMETERKOMBINASJON",
    ),
    ("kunde", {"eiertype": "ORGANISASJON", "etternavn": "A"}, "UGYLDIG_PARAMETERKOMBINASJON"),
]


@pytest.mark.parametrize(("endpoint", "params", "kode"), BAD_PARAMS)
async def test_parameter_errors_are_400_responskoder(
    svv_client, svv_api, svv_schema, endpoint, params, kode
) -> None:
    response = await sok(svv_client, svv_api, endpoint, **params)
    assert response.status == 400
    body = await response.json()
    schema = "KundeSokResponse" if endpoint == "kunde" else "KjoretoysokResponse"
    svv_schema.check(body, schema)
    assert set(body) == {"responskoder"}
    assert kode in [r["kode"] for r in body["responskoder"]]
    assert all(r["beskrivelse"] for r in body["responskoder"])


async def test_repeated_parameter_is_400(svv_client, svv_api) -> None:
    response = await svv_client.get(
        svv_api.SOK_PATH + "kjennemerke?kjennemerke=CU11297&kjennemerke=CU11298",
        headers=svv_api.SOK,
    )
    assert response.status == 400
    assert "flere ganger" in (await response.json())["responskoder"][0]["beskrivelse"]


async def test_unencoded_question_mark_still_works(svv_client, svv_api, svv_schema) -> None:
    """SVV asks for '?' to be URL-encoded; a raw one in the query value is read the same."""
    response = await svv_client.get(
        svv_api.SOK_PATH + "kjennemerke?kjennemerke=CU1129%3F", headers=svv_api.SOK
    )
    raw = await svv_client.get(
        svv_api.SOK_PATH + "kjennemerke?kjennemerke=CU1129?", headers=svv_api.SOK
    )
    assert (await ok_body(response, svv_schema)) == (await ok_body(raw, svv_schema))
