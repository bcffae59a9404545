"""The client against the real stack: gateway + SVV simulator + Maskinporten stand-in on loopback.

Nothing of ours is mocked: tokens come from the stand-in's token endpoint, the gateway checks
them and the Fiks headers against Konfigurasjon, and the simulator answers from a generated
register.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from kjoretoyregister.client import (
    AiohttpTransport,
    AsyncKjoretoyregisterClient,
    FiksError,
    KjoretoyregisterClient,
    KjoretoyResponse,
    RawResponse,
    SvvError,
    TokenError,
    TransportError,
)
from kjoretoyregister.client.maskinporten import MaskinportenTokenProvider
from kjoretoyregister.maskinporten.testing import mint_token, running
from stack import SUPPLIER_ORGNR, Stack

pytestmark = pytest.mark.asyncio(loop_scope="module")


def _provider(stack: Stack, **kw: Any) -> MaskinportenTokenProvider:
    options: dict[str, Any] = {
        "token_url": stack.mp_token_url,
        "issuer": stack.mp_issuer,
        "client_id": stack.client.client_id,
        "private_key": stack.client.private_key,
        "kid": stack.client.kid,
        **kw,
    }
    return MaskinportenTokenProvider(**options)


class CountingTransport(AiohttpTransport):
    """The real aiohttp transport, counting requests per path (to see chunks and pages)."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []
        self.statuses: list[int] = []

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None = None,
        timeout_s: float | None = None,
    ) -> RawResponse:
        raw = await super().send(method, url, headers=headers, body=body, timeout_s=timeout_s)
        self.paths.append(url)
        self.statuses.append(raw.status)
        return raw


def _client(
    stack: Stack, transport: AiohttpTransport | None = None, **kw: Any
) -> AsyncKjoretoyregisterClient:
    options: dict[str, Any] = {
        "gateway_url": stack.gateway_url,
        "fiks_org_id": stack.fiks_org_id,
        "integrasjon_id": stack.integrasjon_id,
        "integrasjon_passord": stack.integrasjon_passord,
        "token_provider": kw.pop("token_provider", None) or _provider(stack),
        "transport": transport or CountingTransport(),
        **kw,
    }
    return AsyncKjoretoyregisterClient(**options)


def _dump(model: KjoretoyResponse) -> Any:
    return model.model_dump(mode="json", exclude_unset=True, by_alias=True)


def _plates(stack: Stack, n: int) -> list[str]:
    assert stack.register is not None
    return stack.register.sample_kjennemerker(n, seed=3)


class TestOppslag:
    async def test_kjennemerke_round_trips_every_vehicle(self, stack: Stack) -> None:
        """Simulator answers for many plates parse into models that dump back to the same JSON."""
        plates = _plates(stack, 200)
        async with _client(stack) as client:
            raw = await client.request(
                "POST", "bulk/kjennemerke", json_body=[{"kjennemerke": p} for p in plates]
            )
            answers = await client.oppslag_kjennemerke(plates)
        wire = orjson.loads(raw.body)
        assert len(wire) == len(answers) == 200
        found = 0
        for item, answer in zip(wire, answers, strict=True):
            assert _dump(KjoretoyResponse.model_validate(item)) == item
            assert _dump(answer) == item
            if answer.kjoretoy is not None:
                found += 1
        assert found > 150

    async def test_accessors_match_the_register(self, stack: Stack) -> None:
        """Plate, VIN and kuid accessors agree with the register's own data."""
        assert stack.register is not None
        plates = _plates(stack, 30)
        async with _client(stack) as client:
            answers = await client.oppslag_kjennemerke(plates)
        for plate, answer in zip(plates, answers, strict=True):
            [result] = stack.register.by_kjennemerke(plate, None)
            if result.hidden:
                assert answer.koder == ["OPPLYSNINGER_UTILGJENGELIG"]
                continue
            k = answer.kjoretoy
            assert k is not None and k.kjennemerke is not None
            assert k.kjennemerke.replace(" ", "") == plate
            assert k.understellsnummer == result.kjoretoy["kjoretoyId"]["understellsnummer"]
            assert k.kuid == result.kjoretoy["kjoretoyId"]["kuid"]

    async def test_sisdinky_vehicle(self, stack: Stack) -> None:
        """CU11297 is SVV's BMW 330e owned by MØLLER BIL AS and leased to a person."""
        async with _client(stack) as client:
            [answer] = await client.oppslag_kjennemerke("CU11297")
        k = answer.kjoretoy
        assert k is not None
        assert k.kjennemerke == "CU 11297"
        assert k.understellsnummer == "SISDINKY45727043"
        assert k.merke == "BMW"
        assert k.eier_navn == "MØLLER BIL AS" and k.eier_id == "986130861"
        assert k.leasingtaker_navn and k.leasingtaker is not None and k.leasingtaker.er_person
        assert k.status == "REGISTRERT"

    async def test_kuid_and_understellsnummer(self, stack: Stack) -> None:
        """kuid and VIN lookups find the same vehicle as the plate lookup."""
        async with _client(stack) as client:
            [by_plate] = await client.oppslag_kjennemerke("CU11297")
            assert by_plate.kjoretoy is not None and by_plate.kjoretoy.kuid is not None
            [by_kuid] = await client.oppslag_kuid(by_plate.kjoretoy.kuid)
            by_vin = await client.oppslag_understellsnummer("SISDINKY45727043")
            miss = await client.oppslag_understellsnummer("SISDINKY00000000")
        assert _dump(by_kuid) == _dump(by_plate)
        assert [v.kjoretoy.kuid for v in by_vin if v.kjoretoy] == [by_plate.kjoretoy.kuid]
        assert miss[0].koder == ["UNDERSTELLSNUMMER_UKJENT"]

    async def test_past_dtg(self, stack: Stack) -> None:
        """A dtg before the first registration finds nothing; datetime and string both work."""
        async with _client(stack) as client:
            [now] = await client.oppslag_kjennemerke("CU11297")
            [long_ago] = await client.oppslag_kjennemerke(
                "CU11297", dtg=datetime(1950, 1, 1, tzinfo=UTC)
            )
            [as_text] = await client.oppslag_kjennemerke([("CU11297", "1950-01-01T00:00:00+01:00")])
        assert now.funnet
        assert not long_ago.funnet and long_ago.koder
        assert not as_text.funnet

    async def test_misses_are_kept_per_item(self, stack: Stack) -> None:
        """Unknown plates get their own KjoretoyResponse with a code, in place."""
        plates = _plates(stack, 3)
        asked = [plates[0], "ZZ99999", plates[1], "ZZ99998", plates[2]]
        async with _client(stack) as client:
            answers = await client.oppslag_kjennemerke(asked)
        assert [a.koder == ["KJENNEMERKE_UKJENT"] for a in answers] == [
            False, True, False, True, False,
        ]  # fmt: skip


class TestChunking:
    @pytest.mark.slow
    async def test_5000_plates_in_five_requests_order_kept(self, stack: Stack) -> None:
        """5,000 plates → 5 requests of 1,000 (the service's limit); answers in request order."""
        base = _plates(stack, 250)
        plates = [base[i % len(base)] if i % 10 else f"ZZ{i:05d}" for i in range(5000)]
        transport = CountingTransport()
        async with _client(stack, transport, max_bulk_items=1000) as client:
            answers = await client.oppslag_kjennemerke(plates)
        assert len(transport.paths) == 5 and all(s == 200 for s in transport.statuses)
        assert len(answers) == 5000
        for plate, answer in zip(plates, answers, strict=True):
            if plate.startswith("ZZ"):
                assert answer.koder == ["KJENNEMERKE_UKJENT"]
            elif answer.kjoretoy is not None:
                assert (answer.kjoretoy.kjennemerke or "").replace(" ", "") == plate
            else:
                assert answer.koder == ["OPPLYSNINGER_UTILGJENGELIG"]

    async def test_over_the_limit_without_chunking_is_refused(self, stack: Stack) -> None:
        """The gateway refuses 1,001 items with a Fiks 400, which is why the client chunks."""
        async with _client(stack, max_bulk_items=5000) as client:
            with pytest.raises(FiksError) as info:
                await client.oppslag_kjennemerke(_plates(stack, 1) * 1001)
        assert info.value.status == 400 and info.value.error_id


class TestSok:
    async def test_every_sok_endpoint(self, stack: Stack) -> None:
        """Each Kjøretøysøk endpoint answers through the client with parsed hits."""
        assert stack.register is not None
        async with _client(stack) as client:
            [answer] = await client.oppslag_kjennemerke("CU11297")
            k = answer.kjoretoy
            assert k is not None and k.eier is not None and k.leasingtaker is not None
            plate = await client.sok_kjennemerke("CU1129?")
            vin = await client.sok_understellsnummer("SISDINKY4572*")
            org = await client.sok_organisasjonsnummer("986130861")
            assert k.leasingtaker.person is not None
            fnr = k.leasingtaker.person.fodselsnummer
            assert fnr is not None
            person = await client.sok_fodselsnummer(fnr)
            kundeid = await client.sok_kundeid(k.eier.kunde_id or "0")
            navn = await client.sok_eiernavn("MØLLER BIL AS", er_person=False)
            kunde = await client.sok_kunde("ORGANISASJON", navn="MØLLER BIL AS")
        assert "CU 11297" in {h.kjoretoy.kjennemerke for h in plate.treff if h.kjoretoy}
        assert [h.kjoretoy.understellsnummer for h in vin.treff if h.kjoretoy] == [
            "SISDINKY45727043"
        ]
        for page in (org, person, kundeid, navn):
            assert "SISDINKY45727043" in {
                h.kjoretoy.understellsnummer for h in page.treff if h.kjoretoy
            }
            assert (page.antall_treff_totalt or 0) >= len(page.treff) >= 1
        assert any(
            kk.person_enhet and kk.person_enhet.navn == "MØLLER BIL AS" for kk in kunde.treff
        )

    async def test_no_hits_is_empty(self, stack: Stack) -> None:
        """A search without hits (SVV's 204) is an empty page and an empty iteration."""
        async with _client(stack) as client:
            page = await client.sok_organisasjonsnummer("999999999")
            rows = [h async for h in client.iter_sok_eiernavn("INGEN SLIK PERSON FINNES")]
        assert page.treff == [] and page.antall_treff_totalt == 0
        assert rows == []

    async def test_paging_across_all_pages(self, stack: Stack) -> None:
        """iter_sok_* fetches every page (fra advances) and yields each hit exactly once."""
        assert stack.register is not None
        owners: Counter[str] = Counter()
        for plate in _plates(stack, 250):
            for result in stack.register.by_kjennemerke(plate, None):
                eier = result.kjoretoy.get("eierskap", {}).get("eier", {})
                orgnr = eier.get("enhet", {}).get("organisasjonsnummer")
                if orgnr:
                    owners[orgnr] += 1
        orgnr, _ = owners.most_common(1)[0]
        expected = stack.register.search_organisasjonsnummer(
            orgnr, ekskluder_vraket_utfort=False, fra=1, antall=100_000
        )
        assert expected.total >= 3, "the generated register should have a fleet owner"
        transport = CountingTransport()
        async with _client(stack, transport, page_size=2) as client:
            hits = [h async for h in client.iter_sok_organisasjonsnummer(orgnr)]
            name_hits = [h async for h in client.iter_sok_eiernavn("MØLLER BIL AS")]
        kuids = [h.kjoretoy.kuid for h in hits if h.kjoretoy]
        assert len(kuids) == expected.total == len(set(kuids))
        assert len(transport.paths) >= (expected.total + 1) // 2
        assert len(name_hits) >= 2

    async def test_bad_search_parameter(self, stack: Stack) -> None:
        """A malformed parameter is refused by the gateway as a Fiks 400 (errorId kept)."""
        async with _client(stack) as client:
            with pytest.raises(FiksError) as info:
                await client.sok_fodselsnummer("123")
        assert info.value.status == 400 and info.value.error_code


class TestTokens:
    async def test_expired_token_is_refreshed_once(self, stack: Stack) -> None:
        """An expired token gets the gateway's 401; the client fetches a new one and retries."""
        stale = mint_token(
            stack.mp_state,
            issuer=stack.mp_issuer,
            orgnr=SUPPLIER_ORGNR,
            client_id=stack.client.client_id,
            iat=int(time.time()) - 3600,
        )

        class FirstStale:
            """Hands out the expired token until told it is bad, then the real provider's."""

            def __init__(self) -> None:
                self.real = _provider(stack)
                self.stale: str | None = stale
                self.invalidated = 0

            async def atoken(self, session: Any = None) -> str:
                return self.stale or await self.real.atoken(session)

            def invalidate(self) -> None:
                self.invalidated += 1
                self.stale = None
                self.real.invalidate()

        provider = FirstStale()
        transport = CountingTransport()
        async with _client(stack, transport, token_provider=provider) as client:
            [answer] = await client.oppslag_kjennemerke("CU11297")
        assert answer.funnet
        assert provider.invalidated == 1
        assert transport.statuses == [401, 200]

    async def test_short_lived_tokens_are_renewed(self, stack: Stack) -> None:
        """With 2 s tokens the provider fetches a new one before expiry; calls keep working."""
        async with running(stack.mp_state, token_lifetime_s=2, issuer=stack.mp_issuer) as mp:
            provider = _provider(stack, token_url=mp.token_url, refresh_margin_s=1.0)
            async with _client(stack, token_provider=provider) as client:
                first = await provider.atoken()
                await client.oppslag_kjennemerke("CU11297")
                await asyncio.sleep(2.2)
                [answer] = await client.oppslag_kjennemerke("CU11297")
                second = await provider.atoken()
        assert answer.funnet
        assert first != second

    async def test_wrong_key_is_token_error(self, stack: Stack) -> None:
        """A client key Maskinporten does not know gives TokenError, before any API call."""
        from kjoretoyregister.maskinporten.testing import new_rsa_key

        provider = _provider(stack, private_key=new_rsa_key())
        transport = CountingTransport()
        async with _client(stack, transport, token_provider=provider) as client:
            with pytest.raises(TokenError):
                await client.oppslag_kjennemerke("CU11297")
        assert transport.paths == []


class TestErrors:
    async def test_wrong_password_is_fiks_401(self, stack: Stack) -> None:
        """Wrong IntegrasjonPassord → FiksError 401 with errorId; no token retry."""
        transport = CountingTransport()
        async with _client(stack, transport, integrasjon_passord="feil") as client:
            with pytest.raises(FiksError) as info:
                await client.oppslag_kjennemerke("CU11297")
        assert info.value.status == 401 and info.value.error_id
        assert "Autentisering feilet" in info.value.message
        assert len(transport.paths) == 1

    async def test_no_grant_is_fiks_403(self, stack: Stack) -> None:
        """An organisation the integration has no grant on → FiksError 403."""
        async with _client(stack, fiks_org_id=stack.other_fiks_org_id) as client:
            with pytest.raises(FiksError) as info:
                await client.sok_eiernavn("MØLLER BIL AS")
        assert info.value.status == 403

    async def test_svv_outage_is_svv_error_with_svvguid(self, faults: Stack) -> None:
        """SVV's 503 passes through the gateway; svvguid is on the SvvError."""
        stack = faults
        await stack.sim_faults(outage=True)
        async with _client(stack) as client:
            with pytest.raises(SvvError) as info:
                await client.oppslag_kjennemerke("CU11297")
        assert info.value.status == 503 and info.value.svvguid

    async def test_svv_quota_is_svv_error_with_retry_after(self, faults: Stack) -> None:
        """SVV's 422 quota answer keeps its Retry-After and svvguid."""
        stack = faults
        await stack.sim_faults(quota_exceeded=True)
        async with _client(stack) as client:
            with pytest.raises(SvvError) as info:
                await client.oppslag_kjennemerke("CU11297")
        assert info.value.status == 422 and info.value.retry_after

    async def test_gateway_down_is_transport_error(self, stack: Stack) -> None:
        """Nothing listening → TransportError (the token still came from Maskinporten)."""
        async with _client(stack, gateway_url="http://127.0.0.1:9/kjoretoyregister/api") as c:
            with pytest.raises(TransportError):
                await c.oppslag_kjennemerke("CU11297")


class TestSyncAndProfile:
    async def test_sync_client_from_profile(self, stack: Stack, profile_path: Path) -> None:
        """The blocking client, built from a profile file, works against the stack."""

        def work() -> tuple[list[KjoretoyResponse], list[KjoretoyResponse]]:
            with KjoretoyregisterClient.from_profile(profile_path, page_size=3) as client:
                answers = client.oppslag_kjennemerke(["CU11297", "ZZ11111"])
                hits = list(client.iter_sok_organisasjonsnummer("986130861"))
            return answers, hits

        answers, hits = await asyncio.to_thread(work)
        assert [a.funnet for a in answers] == [True, False]
        assert "SISDINKY45727043" in {h.kjoretoy.understellsnummer for h in hits if h.kjoretoy}

    async def test_purpose_headers_reach_the_audit(self, stack: Stack) -> None:
        """formaal/saksreferanse are sent as the gateway's purpose headers and audited."""
        async with _client(stack, formaal="Parkeringsgebyr", saksreferanse="2024/123") as client:
            await client.oppslag_kjennemerke("CU11297")
        event = stack.memory_audit.events[-1]
        assert (event.purpose, event.case_reference) == ("Parkeringsgebyr", "2024/123")
