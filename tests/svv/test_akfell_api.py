"""The simulator's akfell profile over real sockets, with real Maskinporten tokens.

The simulator runs with ``api="both"`` so that each akfell answer can be checked against the
v2 answer for the same register (the v2 routes are tested on their own elsewhere).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from akfell_env import (
    BULK,
    ENKELTOPPSLAG,
    ORGANISASJON,
    ORGNR,
    PERSON,
    SCOPE,
    AkfellEnv,
    akfell_env,
)

from conftest import basic_auth
from kjoretoyregister.maskinporten.state import MaskinportenState
from kjoretoyregister.maskinporten.testing import mint_token
from kjoretoyregister.svv.akfell.mapping import is_v2_only, leaves
from kjoretoyregister.svv.register import Register
from kjoretoyregister.svv.sisdinky import EARLIER_OWNER_EXAMPLE, SHARED_VIN

pytestmark = pytest.mark.timeout(120)

V2_OPPSLAG = "/ws/no/vegvesen/kjoretoy/felles/v2/rest/distribusjon/kjoretoy/v2.0/"
FIKS = basic_auth("fiks", "fiks-passord")  # all roles
ADMIN = basic_auth("admin", "admin-passord")


@pytest.fixture
async def env(svv_register: Register, tmp_path: Path) -> AsyncIterator[AkfellEnv]:
    async with akfell_env(svv_register, tmp_path) as e:
        yield e


async def _post(env: AkfellEnv, tail: str, body: Any, **headers: str) -> tuple[int, Any]:
    response = await env.sim.post(
        BULK + tail,
        data=orjson.dumps(body),
        headers={**await env.headers(), **headers, "Content-Type": "application/json"},
    )
    raw = await response.read()
    return response.status, orjson.loads(raw) if raw.startswith((b"{", b"[")) else raw


async def _get(env: AkfellEnv, path: str, params: dict[str, str]) -> tuple[int, Any]:
    response = await env.sim.get(path, params=params, headers=await env.headers())
    return response.status, await response.json()


async def _v2_bulk(env: AkfellEnv, plates: list[str], dtg: str | None = None) -> list[Any]:
    body = [{"kjennemerke": p, **({"dtg": dtg} if dtg else {})} for p in plates]
    response = await env.sim.post(V2_OPPSLAG + "bulk/kjennemerke", json=body, headers=FIKS)
    assert response.status == 200
    answer: list[Any] = await response.json()
    return answer


def _no_v2_only_fields(kjoretoydata: dict[str, Any]) -> None:
    extra = [path for path, _ in leaves(kjoretoydata) if is_v2_only(path)]
    assert not extra, extra[:5]


# -- bulk -------------------------------------------------------------------------------------


async def test_bulk_kjennemerke_wrapper_and_misses(env: AkfellEnv, svv_register: Register) -> None:
    """One element per item in request order, the request echoed; misses are feilmelding."""
    plates = svv_register.sample_kjennemerker(3, seed=5)
    body = [
        {"kjennemerke": plates[0]},
        {"kjennemerke": "ZZ99999"},
        {"kjennemerke": plates[1].lower(), "dtg": "2099-01-01T00:00:00+01:00"},
        {"kjennemerke": "CU11300"},
        {"kjennemerke": plates[2]},
    ]
    status, answer = await _post(env, "kjennemerke", body)
    assert status == 200
    assert set(answer) == {"gjenstaendeKvote", "responser"}
    assert [item["request"] for item in answer["responser"]] == body
    first, unknown, lower, hidden, last = answer["responser"]
    assert unknown == {"request": body[1], "feilmelding": "KJENNEMERKE_UKJENT"}
    assert hidden == {"request": body[3], "feilmelding": "OPPLYSNINGER_UTILGJENGELIG"}
    v2 = await _v2_bulk(env, [plates[0], plates[1], plates[2]])
    for item, v2_item in zip([first, lower, last], v2, strict=True):
        kjoretoy = item["kjoretoydata"]
        assert kjoretoy["kjoretoyId"] == {
            "kjennemerke": v2_item["kjoretoy"]["kjoretoyId"]["kjennemerke"],
            "understellsnummer": v2_item["kjoretoy"]["kjoretoyId"]["understellsnummer"],
        }
        _no_v2_only_fields(kjoretoy)
    assert answer["gjenstaendeKvote"] == 5000 - 3


async def test_bulk_kuid_finds_the_vehicle_of_its_kuid(
    env: AkfellEnv, svv_register: Register
) -> None:
    plates = svv_register.sample_kjennemerker(2, seed=9)
    v2 = await _v2_bulk(env, plates)
    kuids = [item["kjoretoy"]["kjoretoyId"]["kuid"] for item in v2]
    body = [{"kuid": kuids[0]}, {"kuid": "1"}, {"kuid": kuids[1], "dtg": "2000-01-01T00:00:00Z"}]
    status, answer = await _post(env, "kuid", body)
    assert status == 200
    found, unknown, too_early = answer["responser"]
    assert (
        found["kjoretoydata"]["kjoretoyId"]["understellsnummer"]
        == (v2[0]["kjoretoy"]["kjoretoyId"]["understellsnummer"])
    )
    assert unknown["feilmelding"] == "KUID_UKJENT"
    first_registered = v2[1]["kjoretoy"]["forstegangsregistrering"]["registrertForstegangNorgeDato"]
    if first_registered > "2000-01-01":
        assert too_early["feilmelding"] == "KUID_UKJENT"
    else:
        assert "kjoretoydata" in too_early


async def test_bulk_understellsnummer_lists_every_vehicle_of_a_vin(env: AkfellEnv) -> None:
    body = [{"understellsnummer": SHARED_VIN}, {"understellsnummer": "NOSUCHVIN00000000"}]
    status, answer = await _post(env, "understellsnummer", body)
    assert status == 200
    shared, unknown = answer["responser"]
    assert shared["request"] == body[0]
    assert len(shared["kjoretoydataListe"]) == 2
    for entry in shared["kjoretoydataListe"]:
        assert entry["kjoretoydata"]["kjoretoyId"]["understellsnummer"] == SHARED_VIN
        _no_v2_only_fields(entry["kjoretoydata"])
    assert unknown == {"request": body[1], "feilmelding": "UNDERSTELLSNUMMER_UKJENT"}


async def test_too_many_elements_is_400_saying_the_maximum(
    svv_register: Register, tmp_path: Path
) -> None:
    async with akfell_env(svv_register, tmp_path, max_bulk_items=3) as env:
        status, answer = await _post(env, "kjennemerke", [{"kjennemerke": "CU11297"}] * 4)
        assert status == 400
        assert "maks 3" in answer["feilmelding"]
        status, answer = await _post(env, "kjennemerke", [{"kjennemerke": "CU11297"}] * 3)
        assert status == 200 and len(answer["responser"]) == 3


async def test_bad_bodies_are_400_not_500(env: AkfellEnv) -> None:
    for body in ({"kjennemerke": "CU11297"}, [{"kjennemerke": 5}], [{"dtg": "x"}]):
        status, answer = await _post(env, "kjennemerke", body)
        assert status == 400, body
        assert answer["feilmelding"]
    response = await env.sim.post(
        BULK + "kjennemerke",
        data=b"[{",
        headers={**await env.headers(), "Content-Type": "application/json"},
    )
    assert response.status == 400


# -- person and organisasjon -------------------------------------------------------------------


async def test_person_finds_the_vehicles_v2_search_finds(
    env: AkfellEnv, svv_register: Register
) -> None:
    [person] = svv_register.sample_persons(1, seed=3)
    response = await env.sim.get(
        V2_OPPSLAG + "sok/fodselsnummer",
        params={"fodselsnummer": person["fodselsnummer"], "antall": "100"},
        headers=FIKS,
    )
    v2 = await response.json()
    expected = {r["kjoretoy"]["kjoretoyId"]["kjennemerke"] for r in v2["kjoretoyresponser"]}
    params = {"fodselsnummer": person["fodselsnummer"], "etternavn": person["etternavn"].lower()}
    status, answer = await _get(env, PERSON, params)
    assert status == 200
    assert answer["request"] == params
    found = {e["kjoretoydata"]["kjoretoyId"]["kjennemerke"] for e in answer["kjoretoydataListe"]}
    assert found == expected and found
    for entry in answer["kjoretoydataListe"]:
        _no_v2_only_fields(entry["kjoretoydata"])
    assert person["fodselsnummer"] not in orjson.dumps(answer["kjoretoydataListe"]).decode()
    assert answer["gjenstaendeKvote"] == 5000 - len(found)

    status, wrong = await _get(env, PERSON, {**params, "etternavn": "FEILNAVN"})
    assert status == 200
    assert wrong["feilmelding"] == "FNR_ETTERNAVN_UKJENT" and "kjoretoydataListe" not in wrong


async def test_person_at_a_past_dtg_finds_the_earlier_owner(env: AkfellEnv) -> None:
    plate, dtg, name = EARLIER_OWNER_EXAMPLE
    [v2] = await _v2_bulk(env, [plate], dtg)
    eier = v2["kjoretoy"]["eierskap"]["eier"]["person"]
    assert f"{eier['fornavn']} {eier['etternavn']}" == name
    params = {"fodselsnummer": eier["fodselsnummer"], "etternavn": eier["etternavn"]}
    _, then = await _get(env, PERSON, {**params, "dtg": dtg})
    plates = [e["kjoretoydata"]["kjoretoyId"]["kjennemerke"] for e in then["kjoretoydataListe"]]
    assert plate in [p.replace(" ", "") for p in plates]
    _, now = await _get(env, PERSON, params)
    now_plates = [e["kjoretoydata"]["kjoretoyId"]["kjennemerke"] for e in now["kjoretoydataListe"]]
    assert plate not in [p.replace(" ", "") for p in now_plates]


async def test_person_400s(svv_register: Register, tmp_path: Path) -> None:
    async with akfell_env(svv_register, tmp_path, akfell_max_treff=1) as env:
        owner = None
        for person in svv_register.sample_persons(80, seed=4):
            response = await env.sim.get(
                V2_OPPSLAG + "sok/fodselsnummer",
                params={"fodselsnummer": person["fodselsnummer"]},
                headers=FIKS,
            )
            if response.status == 200 and (await response.json())["antallTreffTotalt"] >= 2:
                owner = person
                break
        assert owner is not None, "no person with two vehicles in the test register"
        status, answer = await _get(
            env, PERSON, {"fodselsnummer": owner["fodselsnummer"], "etternavn": owner["etternavn"]}
        )
        assert status == 400 and "maks 1" in answer["feilmelding"]
        for params, needle in (
            ({"fodselsnummer": "123", "etternavn": "X"}, "11 siffer"),
            ({"fodselsnummer": "63888700414"}, "etternavn"),
            ({"fodselsnummer": "63888700414", "etternavn": "X", "dtg": "i går"}, "dtg"),
            ({"fodselsnummer": "63888700414", "etternavn": "X", "navn": "Y"}, "tillatt"),
        ):
            status, answer = await _get(env, PERSON, params)
            assert status == 400, params
            assert needle in answer["feilmelding"]


async def test_organisasjon_pages_its_eier_and_medeier_vehicles(env: AkfellEnv) -> None:
    orgnr = "986130861"  # MØLLER BIL AS: eier of SVV's CU11297 and CU11298 (and maybe ours)
    response = await env.sim.get(
        V2_OPPSLAG + "sok/organisasjonsnummer",
        params={"organisasjonsnummer": orgnr, "antall": "100"},
        headers=FIKS,
    )
    v2 = await response.json()
    expected = {
        r["kjoretoy"]["kjoretoyId"]["kjennemerke"]
        for r in v2["kjoretoyresponser"]
        if any(
            r["kjoretoy"]["eierskap"].get(role, {}).get("enhet", {}).get("organisasjonsnummer")
            == orgnr
            for role in ("eier", "medeier")
        )
    }
    assert {"CU 11297", "CU 11298"} <= expected
    status, whole = await _get(env, ORGANISASJON, {"organisasjonsnummer": orgnr})
    assert status == 200
    plates = [e["kjoretoydata"]["kjoretoyId"]["kjennemerke"] for e in whole["kjoretoydataListe"]]
    assert set(plates) == expected
    pages = []
    for side in range(len(plates) + 1):
        _, page = await _get(
            env, ORGANISASJON, {"organisasjonsnummer": orgnr, "side": str(side), "antall": "1"}
        )
        assert page["request"] == {"organisasjonsnummer": orgnr, "side": side, "antall": 1}
        pages += [e["kjoretoydata"]["kjoretoyId"]["kjennemerke"] for e in page["kjoretoydataListe"]]
    assert pages == plates
    status, too_many = await _get(
        env, ORGANISASJON, {"organisasjonsnummer": orgnr, "antall": "1001"}
    )
    assert status == 400 and "maks 1000" in too_many["feilmelding"]
    status, unknown = await _get(env, ORGANISASJON, {"organisasjonsnummer": "999999999"})
    assert status == 200 and unknown["feilmelding"] == "ORGANISASJONSNUMMER_UKJENT"
    status, bad = await _get(env, ORGANISASJON, {"organisasjonsnummer": "98613086"})
    assert status == 400 and "9 siffer" in bad["feilmelding"]


# -- enkeltoppslag -----------------------------------------------------------------------------


async def test_enkeltoppslag_has_no_owner_data(env: AkfellEnv) -> None:
    [v2] = await _v2_bulk(env, ["CU11297"])
    status, answer = await _get(env, ENKELTOPPSLAG, {"kjennemerke": "CU11297"})
    assert status == 200
    [kjoretoy] = answer["kjoretoydataListe"]
    assert "eierskap" not in kjoretoy
    assert kjoretoy["kjoretoyId"]["kjennemerke"] == "CU 11297"
    raw = orjson.dumps(answer).decode()
    eierskap = v2["kjoretoy"]["eierskap"]
    for role in eierskap.values():
        if isinstance(role, dict):
            for value in [*role.get("person", {}).values(), *role.get("enhet", {}).values()]:
                if len(str(value)) > 4:
                    assert str(value) not in raw
    vin = kjoretoy["kjoretoyId"]["understellsnummer"]
    _, by_vin = await _get(env, ENKELTOPPSLAG, {"understellsnummer": vin})
    assert by_vin == answer
    _, unknown = await _get(env, ENKELTOPPSLAG, {"kjennemerke": "ZZ99999"})
    assert unknown == {"feilmelding": "KJENNEMERKE_UKJENT", "kjoretoydataListe": []}
    for params in ({}, {"kjennemerke": "CU11297", "understellsnummer": vin}, {"kjennemerke": "C"}):
        status, error = await _get(env, ENKELTOPPSLAG, params)
        assert status == 400 and error["feilmelding"]


async def test_enkeltoppslag_accepts_an_api_key(svv_register: Register, tmp_path: Path) -> None:
    key = "en-lang-test-apinokkel"
    async with akfell_env(svv_register, tmp_path, akfell_api_keys=[key]) as env:
        for header in (f"Apikey {key}", key):
            response = await env.sim.get(
                ENKELTOPPSLAG,
                params={"kjennemerke": "CU11297"},
                headers={"SVV-Authorization": header},
            )
            assert response.status == 200
        response = await env.sim.get(
            ENKELTOPPSLAG,
            params={"kjennemerke": "CU11297"},
            headers={"SVV-Authorization": "Apikey feil"},
        )
        assert response.status == 401
        assert "SVV-Authorization" in (await response.json())["feilmelding"]
        # The key opens the enkeltoppslag only, not the owner data.
        response = await env.sim.post(
            BULK + "kjennemerke",
            json=[{"kjennemerke": "CU11297"}],
            headers={"SVV-Authorization": f"Apikey {key}"},
        )
        assert response.status == 401


# -- quota ------------------------------------------------------------------------------------


async def test_daily_quota_is_422_with_retry_after_and_a_plain_body(
    svv_register: Register, tmp_path: Path
) -> None:
    async with akfell_env(svv_register, tmp_path, akfell_daily_quota=3) as env:
        status, first = await _post(
            env,
            "kjennemerke",
            [{"kjennemerke": "CU11297"}, {"kjennemerke": "ZZ99999"}, {"kjennemerke": "CU11298"}],
        )
        assert status == 200 and first["gjenstaendeKvote"] == 1
        response = await env.sim.post(
            BULK + "kjennemerke",
            json=[{"kjennemerke": "CU11297"}, {"kjennemerke": "CU11298"}],
            headers=await env.headers(),
        )
        assert response.status == 422
        assert response.content_type == "text/plain"
        text = await response.text()
        assert "kvote" in text and not text.startswith("{")
        retry = int(response.headers["Retry-After"])
        assert 0 < retry <= 25 * 3600
        # What is left can still be used; the quota is per client.
        status, last = await _post(env, "kjennemerke", [{"kjennemerke": "CU11297"}])
        assert status == 200 and last["gjenstaendeKvote"] == 0
        other = mint_token_for(env)
        response = await env.sim.post(
            BULK + "kjennemerke",
            json=[{"kjennemerke": "CU11297"}],
            headers={"Authorization": f"Bearer {other}"},
        )
        assert response.status == 200
        assert (await response.json())["gjenstaendeKvote"] == 2


def mint_token_for(env: AkfellEnv) -> str:
    """A token for another client id, signed by the stand-in's key."""
    return mint_token(
        env.mp_state, issuer=env.mp_issuer, orgnr=ORGNR, scope=SCOPE, client_id="en-annen-klient"
    )


async def test_quota_switch_gives_422_too(env: AkfellEnv) -> None:
    response = await env.sim.post(
        "/_sim/quota",
        params={"on": "1"},
        headers=ADMIN,
    )
    assert response.status == 200
    response = await env.sim.get(
        ORGANISASJON, params={"organisasjonsnummer": ORGNR}, headers=await env.headers()
    )
    assert response.status == 422 and "Retry-After" in response.headers


# -- authentication ---------------------------------------------------------------------------


async def test_tokens_401_and_403_say_what_is_valid(env: AkfellEnv, tmp_path: Path) -> None:
    body = [{"kjennemerke": "CU11297"}]
    url = BULK + "kjennemerke"
    response = await env.sim.post(url, json=body)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    message = (await response.json())["feilmelding"]
    assert SCOPE in message and env.mp_issuer in message

    basic = await env.sim.post(url, json=body, headers=FIKS)
    assert basic.status == 401

    garbage = await env.sim.post(url, json=body, headers={"Authorization": "Bearer abc.def.ghi"})
    assert garbage.status == 401

    fiks_token = await env.token(env.fiks_client, scope="ks:fiks")
    wrong_scope = await env.sim.post(
        url, json=body, headers={"Authorization": f"Bearer {fiks_token}"}
    )
    assert wrong_scope.status == 403
    assert SCOPE in (await wrong_scope.json())["feilmelding"]

    expired = mint_token(
        env.mp_state, issuer=env.mp_issuer, orgnr=ORGNR, scope=SCOPE, iat=1_600_000_000
    )
    response = await env.sim.post(url, json=body, headers={"Authorization": f"Bearer {expired}"})
    assert response.status == 401 and "expired" in (await response.json())["feilmelding"]

    foreign_state = MaskinportenState.open(tmp_path / "foreign")
    foreign = mint_token(foreign_state, issuer=env.mp_issuer, orgnr=ORGNR, scope=SCOPE)
    response = await env.sim.post(url, json=body, headers={"Authorization": f"Bearer {foreign}"})
    assert response.status == 401

    other_issuer = mint_token(
        env.mp_state, issuer="https://maskinporten.no/", orgnr=ORGNR, scope=SCOPE
    )
    response = await env.sim.post(
        url, json=body, headers={"Authorization": f"Bearer {other_issuer}"}
    )
    assert response.status == 401 and "issuer" in (await response.json())["feilmelding"]

    good = await env.sim.post(url, json=body, headers=await env.headers())
    assert good.status == 200


async def test_v2_stays_the_default_and_akfell_alone_has_no_v2(
    svv_register: Register, tmp_path: Path
) -> None:
    async with akfell_env(svv_register, tmp_path, api="v2") as env:
        response = await env.sim.post(BULK + "kjennemerke", json=[], headers=await env.headers())
        assert response.status == 404
    async with akfell_env(svv_register, tmp_path / "2", api="akfell") as env:
        response = await env.sim.post(V2_OPPSLAG + "bulk/kjennemerke", json=[], headers=FIKS)
        assert response.status == 404
        status, answer = await _post(env, "kjennemerke", [])
        assert status == 200 and answer == {"gjenstaendeKvote": 5000, "responser": []}


async def test_logs_carry_no_plates_names_or_fnr(
    env: AkfellEnv, svv_register: Register, capsys: pytest.CaptureFixture[str]
) -> None:
    import structlog

    from kjoretoyregister.logs import configure_logging

    saved = structlog.get_config()
    configure_logging("DEBUG", json=True)
    try:
        [person] = svv_register.sample_persons(1, seed=11)
        capsys.readouterr()
        await _post(env, "kjennemerke", [{"kjennemerke": "CU11297"}])
        await _get(
            env,
            PERSON,
            {"fodselsnummer": person["fodselsnummer"], "etternavn": person["etternavn"]},
        )
        await _get(env, ENKELTOPPSLAG, {"understellsnummer": "SISDINKY45727043"})
        out = "".join(capsys.readouterr())
    finally:
        structlog.configure(**saved)
    assert "/kjoretoyoppslag/person" in out  # the request log is there, by route template
    for secret in ("CU11297", person["fodselsnummer"], person["etternavn"], "SISDINKY45727043"):
        assert secret not in out


async def test_audience_must_be_absent_unspecified_or_the_configured_resource(
    svv_register: Register, tmp_path: Path
) -> None:
    resource = "https://akfell-datautlevering.atlas.vegvesen.no/kjoretoyoppslag/bulk/kjennemerke"
    async with akfell_env(svv_register, tmp_path, akfell_audience=resource) as env:
        for aud, expected in ((resource, 200), ("unspecified", 200), ("https://annen.no", 401)):
            token = mint_token(
                env.mp_state, issuer=env.mp_issuer, orgnr=ORGNR, scope=SCOPE, aud=aud
            )
            response = await env.sim.post(
                BULK + "kjennemerke", json=[], headers={"Authorization": f"Bearer {token}"}
            )
            assert response.status == expected, aud
