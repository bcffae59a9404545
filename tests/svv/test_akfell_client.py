"""The client's akfell calls against the simulator's akfell profile, over real sockets, with
tokens the client fetches itself from the Maskinporten stand-in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from akfell_env import AkfellEnv, akfell_env

from kjoretoyregister.client import AKFELL_SCOPE, AsyncAkfellClient, SvvError, TokenError
from kjoretoyregister.client.maskinporten import MaskinportenTokenProvider
from kjoretoyregister.client.models.akfell import (
    FodselsnummerResponse,
    KjennemerkeBulkResponse,
    KjoretoyBegrenset,
    KjoretoydataResponse,
    OrganisasjonsnummerResponse,
)
from kjoretoyregister.svv.register import Register
from kjoretoyregister.svv.sisdinky import SHARED_VIN

pytestmark = pytest.mark.timeout(120)


def _provider(env: AkfellEnv, scope: str = AKFELL_SCOPE) -> MaskinportenTokenProvider:
    return MaskinportenTokenProvider(
        token_url=env.mp_token_url,
        issuer=env.mp_issuer,
        client_id=env.client.client_id,
        private_key=env.client.private_key,
        kid=env.client.kid,
        scope=scope,
    )


@pytest.fixture
async def setup(
    svv_register: Register, tmp_path: Path
) -> AsyncIterator[tuple[AkfellEnv, AsyncAkfellClient]]:
    async with (
        akfell_env(svv_register, tmp_path, akfell_daily_quota=50) as env,
        AsyncAkfellClient(env.base, _provider(env), max_bulk_items=2) as client,
    ):
        yield env, client


async def test_bulk_calls_return_typed_models(
    setup: tuple[AkfellEnv, AsyncAkfellClient], svv_register: Register
) -> None:
    _, client = setup
    plates = svv_register.sample_kjennemerker(2, seed=21)
    answer = await client.bulk_kjennemerke([*plates, "ZZ99999", "CU11297"])  # two chunks
    assert isinstance(answer, KjennemerkeBulkResponse)
    assert [r.request.kjennemerke for r in answer.responser if r.request] == [
        *plates,
        "ZZ99999",
        "CU11297",
    ]
    assert answer.responser[2].feilmelding == "KJENNEMERKE_UKJENT"
    bmw = answer.responser[3].kjoretoydata
    assert isinstance(bmw, KjoretoyBegrenset)
    assert bmw.kjennemerke == "CU 11297" and bmw.merke == "BMW"
    assert bmw.eier_navn == "MØLLER BIL AS"
    leasing = bmw.eierskap.leasingtaker if bmw.eierskap else None
    assert leasing is not None and leasing.person is not None
    assert "fodselsnummer" not in (leasing.person.model_extra or {})
    assert answer.gjenstaende_kvote == 50 - 3

    vins = [
        r.kjoretoydata.kjoretoy_id.understellsnummer
        for r in answer.responser[:2]
        if r.kjoretoydata and r.kjoretoydata.kjoretoy_id
    ]
    by_vin = await client.bulk_understellsnummer([SHARED_VIN, *[v for v in vins if v]])
    assert len(by_vin.responser[0].kjoretoydata_liste or []) == 2

    v2_kuid = svv_register.by_kjennemerke(plates[0], None)[0].kjoretoy["kjoretoyId"]["kuid"]
    by_kuid = await client.bulk_kuid([v2_kuid, "1"])
    found = by_kuid.responser[0].kjoretoydata
    assert found is not None and found.kjoretoy_id is not None
    assert found.kjoretoy_id.understellsnummer == vins[0]
    assert by_kuid.responser[1].feilmelding == "KUID_UKJENT"


async def test_person_organisasjon_and_enkeltoppslag(
    setup: tuple[AkfellEnv, AsyncAkfellClient], svv_register: Register
) -> None:
    _, client = setup
    [person] = svv_register.sample_persons(1, seed=2)
    answer = await client.person(person["fodselsnummer"], person["etternavn"])
    assert isinstance(answer, FodselsnummerResponse) and answer.feilmelding is None
    assert answer.kjoretoydata_liste and all(
        isinstance(w.kjoretoydata, KjoretoyBegrenset) for w in answer.kjoretoydata_liste
    )
    wrong = await client.person(person["fodselsnummer"], "FEILNAVN")
    assert wrong.feilmelding == "FNR_ETTERNAVN_UKJENT"

    page = await client.organisasjon("986130861", side=0, antall=1)
    assert isinstance(page, OrganisasjonsnummerResponse) and len(page.kjoretoydata_liste) == 1

    enkelt = await client.enkeltoppslag(kjennemerke="CU11297")
    assert isinstance(enkelt, KjoretoydataResponse)
    [kjoretoy] = enkelt.kjoretoydata_liste
    assert kjoretoy.kjennemerke == "CU 11297" and not hasattr(kjoretoy, "eierskap")
    with pytest.raises(ValueError, match="exactly one"):
        await client.enkeltoppslag()


async def test_errors_map_to_the_clients_error_types(
    setup: tuple[AkfellEnv, AsyncAkfellClient],
) -> None:
    env, client = setup
    with pytest.raises(SvvError) as bad:
        await client.organisasjon("986130861", antall=5000)
    assert bad.value.status == 400 and "maks" in (bad.value.feilmelding or "")
    assert bad.value.svvguid

    # 50 a day: use them up, then the quota answer is an SvvError with Retry-After.
    plates = ["CU11297"] * 2
    with pytest.raises(SvvError) as quota:
        for _ in range(30):
            await client.bulk_kjennemerke(plates)
    assert quota.value.status == 422
    assert quota.value.retry_after is not None and int(quota.value.retry_after) > 0

    async with AsyncAkfellClient(env.base, _provider(env, scope="ks:fiks")) as wrong_scope:
        with pytest.raises(TokenError):
            await wrong_scope.bulk_kjennemerke("CU11297")  # the stand-in refuses the scope
    async with AsyncAkfellClient(env.base, None) as no_token:
        with pytest.raises(TokenError):
            await no_token.bulk_kjennemerke("CU11297")
