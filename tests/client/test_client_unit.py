"""Client behaviour through its transport seam: headers, token refresh, chunking, paging, errors.

These use a recording transport (the seam the client offers for this); the same behaviours are
exercised against the real gateway stack in ``test_client_stack.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson
import pytest

from kjoretoyregister.client import (
    AsyncKjoretoyregisterClient,
    FiksError,
    KjoretoyregisterClient,
    ProtocolError,
    RawResponse,
    ResponseError,
    SvvError,
    TokenError,
)
from kjoretoyregister.client.maskinporten import MaskinportenError

ORG = "11111111-2222-3333-4444-555555555555"
INTEGRASJON = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"

Handler = Callable[[str, str, Mapping[str, str], Any], RawResponse]


class Tokens:
    """A token provider that counts fetches and invalidations."""

    def __init__(self, fail: bool = False) -> None:
        self.n = 0
        self.invalidated = 0
        self.fail = fail

    async def atoken(self, session: object = None) -> str:
        if self.fail:
            raise MaskinportenError("invalid_grant", "nope", 400)
        self.n += 1
        return f"token-{self.n}"

    def invalidate(self) -> None:
        self.invalidated += 1


class Recorder:
    """A transport that records requests and answers with a handler."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.calls: list[tuple[str, str, dict[str, str], Any]] = []

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None = None,
        timeout_s: float | None = None,
    ) -> RawResponse:
        payload = orjson.loads(body) if body else None
        self.calls.append((method, url, dict(headers), payload))
        return self.handler(method, url, headers, payload)

    async def aclose(self) -> None:
        pass


def _json(status: int, data: Any, headers: Mapping[str, str] | None = None) -> RawResponse:
    return RawResponse(status, orjson.dumps(data), dict(headers or {}))


def _echo_bulk(method: str, url: str, headers: Mapping[str, str], body: Any) -> RawResponse:
    out = []
    for item in body:
        plate = item.get("kjennemerke") or item.get("kuid")
        if plate.startswith("X"):
            out.append({"responskoder": [{"kode": "KJENNEMERKE_UKJENT", "beskrivelse": "-"}]})
        else:
            out.append({"kjoretoy": {"kjoretoyId": {"kjennemerke": plate}}, "responskoder": []})
    return _json(200, out)


def _client(
    handler: Handler, tokens: Tokens | None = None, **kw: Any
) -> tuple[AsyncKjoretoyregisterClient, Recorder]:
    rec = Recorder(handler)
    client = AsyncKjoretoyregisterClient(
        gateway_url="http://gw.test/kjoretoyregister/api/",
        fiks_org_id=ORG,
        integrasjon_id=INTEGRASJON,
        integrasjon_passord="hemmelig",
        token_provider=tokens or Tokens(),
        transport=rec,
        **kw,
    )
    return client, rec


class TestRequests:
    async def test_headers_and_url(self) -> None:
        """Each request carries the token, the Fiks integration headers and purpose headers."""
        client, rec = _client(_echo_bulk, formaal="Parkering", saksreferanse="2024/17")
        await client.oppslag_kjennemerke("CU11297")
        method, url, headers, body = rec.calls[0]
        assert method == "POST"
        assert url == (
            f"http://gw.test/kjoretoyregister/api/{ORG}/rest/distribusjon/kjoretoy/v2.0/bulk/kjennemerke"
        )
        assert headers["Authorization"] == "Bearer token-1"
        assert headers["IntegrasjonId"] == INTEGRASJON
        assert headers["IntegrasjonPassord"] == "hemmelig"
        assert headers["X-Fiks-Formaal"] == "Parkering"
        assert headers["X-Fiks-Saksreferanse"] == "2024/17"
        assert body == [{"kjennemerke": "CU11297"}]

    async def test_with_purpose_per_case(self) -> None:
        """with_purpose gives a per-case client; the original keeps its own headers."""
        client, rec = _client(_echo_bulk, formaal="Generelt")
        case = client.with_purpose("Parkeringsgebyr", "2024/99")
        await case.oppslag_kjennemerke("AA1")
        await client.oppslag_kjennemerke("AA1")
        await client.with_purpose(None).oppslag_kjennemerke("AA1")
        first, second, third = (c[2] for c in rec.calls)
        assert (first["X-Fiks-Formaal"], first["X-Fiks-Saksreferanse"]) == (
            "Parkeringsgebyr",
            "2024/99",
        )
        assert second["X-Fiks-Formaal"] == "Generelt" and "X-Fiks-Saksreferanse" not in second
        assert "X-Fiks-Formaal" not in third

    async def test_dtg_per_item_and_default(self) -> None:
        """A tz-aware dtg is sent with milliseconds and offset; per-item dtg wins."""
        client, rec = _client(_echo_bulk)
        when = datetime(2018, 11, 15, 22, 0, tzinfo=UTC)
        await client.oppslag_kjennemerke(["AA1", ("AA2", "2016-11-15T23:00:00+01:00")], dtg=when)
        assert rec.calls[0][3] == [
            {"kjennemerke": "AA1", "dtg": "2018-11-15T22:00:00.000+00:00"},
            {"kjennemerke": "AA2", "dtg": "2016-11-15T23:00:00+01:00"},
        ]

    async def test_naive_dtg_is_refused(self) -> None:
        """A naive datetime is ambiguous (Oslo or UTC?), so it is an error before any request."""
        client, rec = _client(_echo_bulk)
        with pytest.raises(ValueError, match="timezone-aware"):
            await client.oppslag_kjennemerke("AA1", dtg=datetime(2020, 1, 1))
        assert rec.calls == []

    async def test_understellsnummer_is_one_encoded_segment(self) -> None:
        """The VIN goes in the path, encoded so it can never add a path level."""
        client, rec = _client(lambda *a: _json(200, []))
        await client.oppslag_understellsnummer("../x y", dtg="2020-01-01T00:00:00+01:00")
        url = rec.calls[0][1]
        assert urlsplit(url).path.endswith("/bulk/understellsnummer/..%2Fx%20y")
        assert dict(parse_qsl(urlsplit(url).query)) == {"dtg": "2020-01-01T00:00:00+01:00"}

    async def test_sok_params_spelled_as_svv(self) -> None:
        """Booleans are true/false, unset filters are not sent, names are SVV's camelCase."""
        client, rec = _client(
            lambda *a: _json(200, {"antallTreffTotalt": 0, "kjoretoyresponser": []})
        )
        await client.sok_eiernavn(
            "OLA NORDMANN", postnummer="0150", er_person=True, fra=1, antall=10
        )
        query = dict(parse_qsl(urlsplit(rec.calls[0][1]).query))
        assert query == {
            "navn": "OLA NORDMANN",
            "postnummer": "0150",
            "erPerson": "true",
            "fra": "1",
            "antall": "10",
        }


class TestChunking:
    async def test_large_list_is_chunked_in_order(self) -> None:
        """2,500 plates with limit 1,000 → 3 requests; answers in request order, misses kept."""
        client, rec = _client(_echo_bulk, max_bulk_items=1000)
        plates = [f"X{i}" if i % 7 == 0 else f"AB{i}" for i in range(2500)]
        answers = await client.oppslag_kjennemerke(plates)
        assert [len(c[3]) for c in rec.calls] == [1000, 1000, 500]
        assert len(answers) == 2500
        for plate, answer in zip(plates, answers, strict=True):
            if plate.startswith("X"):
                assert answer.koder == ["KJENNEMERKE_UKJENT"] and not answer.funnet
            else:
                assert answer.kjoretoy is not None and answer.kjoretoy.kjennemerke == plate

    async def test_wrong_answer_count_is_a_protocol_error(self) -> None:
        """One answer per item is the contract; anything else would misalign results."""
        client, _ = _client(lambda *a: _json(200, []))
        with pytest.raises(ProtocolError):
            await client.oppslag_kjennemerke(["AA1", "AA2"])

    async def test_failing_chunk_raises_our_error(self) -> None:
        """An error in one of several chunks surfaces as our exception, not an ExceptionGroup."""
        body = {"svvguid": "g-9", "status": 500, "feilmelding": "feil"}
        client, _ = _client(lambda *a: _json(500, body), max_bulk_items=2)
        with pytest.raises(SvvError):
            await client.oppslag_kjennemerke(["A1", "A2", "A3", "A4", "A5"])


class TestTokenRefresh:
    async def test_401_token_error_refreshes_once(self) -> None:
        """A 401 «Klarte ikke å validere access_token» → invalidate, new token, one retry."""
        tokens = Tokens()

        def handler(method: str, url: str, headers: Mapping[str, str], body: Any) -> RawResponse:
            if headers["Authorization"] == "Bearer token-1":
                return _json(401, {"status": 401, "errorId": "e1", "errorCode": "KJR-GW-TOKEN",
                                   "message": "Klarte ikke å validere access_token"})  # fmt: skip
            return _echo_bulk(method, url, headers, body)

        client, rec = _client(handler, tokens)
        [answer] = await client.oppslag_kjennemerke("AA1")
        assert answer.funnet
        assert tokens.invalidated == 1 and len(rec.calls) == 2

    async def test_second_401_is_final(self) -> None:
        """A token refused twice is raised as FiksError, not retried forever."""
        tokens = Tokens()
        body = {"status": 401, "errorId": "e1", "errorCode": "KJR-GW-TOKEN",
                "message": "Klarte ikke å validere access_token"}  # fmt: skip
        client, rec = _client(lambda *a: _json(401, body), tokens)
        with pytest.raises(FiksError) as info:
            await client.oppslag_kjennemerke("AA1")
        assert info.value.error_id == "e1" and len(rec.calls) == 2

    async def test_integration_401_is_not_retried(self) -> None:
        """A wrong integration password is not a token problem; no retry."""
        body = {"status": 401, "errorId": "e2", "errorCode": "KJR-GW-INTEGRASJON",
                "message": "Autentisering feilet for integrasjon med id x"}  # fmt: skip
        client, rec = _client(lambda *a: _json(401, body))
        with pytest.raises(FiksError) as info:
            await client.oppslag_kjennemerke("AA1")
        assert info.value.error_code == "KJR-GW-INTEGRASJON" and len(rec.calls) == 1

    async def test_maskinporten_failure_is_token_error(self) -> None:
        """A refused token request becomes TokenError with the cause chained."""
        client, _ = _client(_echo_bulk, Tokens(fail=True))
        with pytest.raises(TokenError) as info:
            await client.oppslag_kjennemerke("AA1")
        assert isinstance(info.value.__cause__, MaskinportenError)


class TestErrors:
    async def test_svv_error_with_svvguid(self) -> None:
        """SVV's error body passes through; svvguid and status are on the exception."""
        body = {"svvguid": "g-1", "status": 503, "feilmelding": "Tjenesten er utilgjengelig"}
        client, _ = _client(lambda *a: _json(503, body, {"Svvguid": "g-1"}))
        with pytest.raises(SvvError) as info:
            await client.sok_kjennemerke("AB1234?")
        assert (info.value.svvguid, info.value.status) == ("g-1", 503)

    async def test_svvguid_from_header_only(self) -> None:
        """A body without svvguid (quota 422, text) still yields the header's svvguid."""
        client, _ = _client(
            lambda *a: RawResponse(422, b"kvote", {"Svvguid": "g-2", "Retry-After": "3600"})
        )
        with pytest.raises(SvvError) as info:
            await client.oppslag_kjennemerke("AA1")
        assert (info.value.svvguid, info.value.retry_after) == ("g-2", "3600")

    async def test_sok_400_responskoder(self) -> None:
        """A search parameter error carries SVV's responskoder."""
        body = {"responskoder": [{"kode": "UGYLDIG_PARAMETER", "beskrivelse": "fra"}]}
        client, _ = _client(lambda *a: _json(400, body))
        with pytest.raises(SvvError) as info:
            await client.sok_kjennemerke("AB1")
        assert info.value.responskoder[0].kode == "UGYLDIG_PARAMETER"

    async def test_other_error_is_response_error(self) -> None:
        """A page from something else (e.g. a proxy) is a plain ResponseError."""
        client, _ = _client(lambda *a: RawResponse(502, b"<html>bad gateway</html>", {}))
        with pytest.raises(ResponseError) as info:
            await client.oppslag_kjennemerke("AA1")
        assert type(info.value) is ResponseError and info.value.status == 502


class TestPaging:
    async def test_iterates_all_pages(self) -> None:
        """fra advances by the rows received until antallTreffTotalt; page size is antall."""
        total = 23

        def handler(method: str, url: str, headers: Mapping[str, str], body: Any) -> RawResponse:
            q = dict(parse_qsl(urlsplit(url).query))
            fra, antall = int(q["fra"]), int(q["antall"])
            rows = [
                {"kjoretoy": {"kjoretoyId": {"kuid": str(i)}}}
                for i in range(fra, min(fra + antall, total + 1))
            ]
            return _json(
                200,
                {
                    "antallTreffTotalt": total,
                    "antallITreffliste": len(rows),
                    "kjoretoyresponser": rows,
                },
            )

        client, rec = _client(handler, page_size=10)
        hits = [h async for h in client.iter_sok_eiernavn("OLA NORDMANN")]
        assert [h.kjoretoy.kuid for h in hits if h.kjoretoy] == [str(i) for i in range(1, 24)]
        assert len(rec.calls) == 3

    async def test_204_is_no_hits(self) -> None:
        """204 «Ingen kjøretøy funnet» is an empty page, not an error."""
        client, _ = _client(lambda *a: RawResponse(204, b"", {}))
        page = await client.sok_fodselsnummer("01018012345")
        assert page.treff == [] and page.antall_treff_totalt == 0
        assert [h async for h in client.iter_sok_fodselsnummer("01018012345")] == []


class TestSyncClient:
    def test_same_behaviour_on_private_loop(self) -> None:
        """The sync client runs the async one; chunking and paging behave the same."""
        rec = Recorder(_echo_bulk)
        with KjoretoyregisterClient(
            gateway_url="http://gw.test/kjoretoyregister/api",
            fiks_org_id=ORG,
            integrasjon_id=INTEGRASJON,
            integrasjon_passord="p",
            token_provider=Tokens(),
            transport=rec,
            max_bulk_items=2,
        ) as client:
            answers = client.oppslag_kjennemerke(["A1", "X2", "A3"])
        assert [a.funnet for a in answers] == [True, False, True]
        assert len(rec.calls) == 2

    def test_with_purpose_shares_the_loop(self) -> None:
        """Closing a per-case copy leaves the original usable; it carries its own headers."""
        rec = Recorder(_echo_bulk)
        with KjoretoyregisterClient(
            gateway_url="http://gw.test/kjoretoyregister/api",
            fiks_org_id=ORG,
            integrasjon_id=INTEGRASJON,
            integrasjon_passord="p",
            token_provider=Tokens(),
            transport=rec,
        ) as client:
            with client.with_purpose("Sak", "1/2") as case:
                case.oppslag_kjennemerke("A1")
            client.oppslag_kjennemerke("A1")
        assert rec.calls[0][2]["X-Fiks-Formaal"] == "Sak"
        assert "X-Fiks-Formaal" not in rec.calls[1][2]

    def test_closed_client_refuses(self) -> None:
        """Using a closed client is a clear error, not a hang."""
        client = KjoretoyregisterClient(
            gateway_url="http://gw.test/kjoretoyregister/api",
            fiks_org_id=ORG,
            integrasjon_id=INTEGRASJON,
            integrasjon_passord="p",
            token_provider=Tokens(),
            transport=Recorder(_echo_bulk),
        )
        client.close()
        with pytest.raises(RuntimeError):
            client.oppslag_kjennemerke("A1")
