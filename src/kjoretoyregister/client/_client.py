"""
The async Kjøretøyregister client, ``AsyncKjoretoyregisterClient`` (``_sync`` wraps it).

Every request carries ``Authorization: Bearer <Maskinporten token>``, ``IntegrasjonId`` and
``IntegrasjonPassord`` (plus ``X-Fiks-Formaal``/``X-Fiks-Saksreferanse`` when given). A 401
«Klarte ikke å validere access_token» makes the client fetch a new token and retry once.
Bulk lists longer than the service's item limit are split into chunks; the answers come back
in request order, one ``KjoretoyResponse`` per item, misses included.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncGenerator, Mapping, Sequence
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import quote, urlencode

import aiohttp
import orjson

from kjoretoyregister.client._paging import iter_pages
from kjoretoyregister.client._params import BulkItem, Dtg, bulk_items, chunks, format_dtg, query
from kjoretoyregister.client._parsing import parse_list, parse_page
from kjoretoyregister.client._tokens import TokenProvider, fetch_token, provider_from_profile
from kjoretoyregister.client._transport import AiohttpTransport, RawResponse, Transport
from kjoretoyregister.client.errors import (
    FiksError,
    ProtocolError,
    error_from_response,
)
from kjoretoyregister.client.models import (
    KjoretoyResponse,
    KjoretoysokResponse,
    Kunde,
    KundeSokResponse,
)
from kjoretoyregister.client.profile import load_profile

__all__ = [
    "AsyncKjoretoyregisterClient",
    "TokenProvider",
    "parse_list",
    "parse_page",
    "provider_from_profile",
]

API_PATH = "rest/distribusjon/kjoretoy/v2.0"
# How the gateway says "your token is no good" (not secrets, whatever the linter guesses).
TOKEN_ERROR_MESSAGE = "Klarte ikke å validere access_token"  # noqa: S105
TOKEN_ERROR_CODE = "KJR-GW-TOKEN"  # noqa: S105
FORMAAL_HEADER = "X-Fiks-Formaal"
SAKSREFERANSE_HEADER = "X-Fiks-Saksreferanse"

Eiertype = Literal["PERSON", "ORGANISASJON", "BEGGE"]


def _is_token_rejection(error: Exception) -> bool:
    return isinstance(error, FiksError) and (
        error.error_code == TOKEN_ERROR_CODE or error.message.startswith(TOKEN_ERROR_MESSAGE)
    )


class AsyncKjoretoyregisterClient:
    """
    Call Fiks Kjøretøyregister (the gateway) for one Fiks organisation.

    Args:
        gateway_url: base URL up to and including ``/kjoretoyregister/api``.
        fiks_org_id: the organisation whose service and grants are used.
        integrasjon_id: the integration's id (a UUID).
        integrasjon_passord: the integration's password.
        token_provider: where Maskinporten tokens come from.
        transport: how requests are sent (default: aiohttp over ``session``).
        session: an aiohttp session to borrow for the default transport.
        max_bulk_items: the service's item limit per bulk request; longer lists are chunked.
        page_size: ``antall`` per page in the ``iter_sok_*`` helpers.
        max_concurrency: bulk chunks in flight at once.
        timeout_s: total timeout per request.
        formaal: purpose of the lookups (``X-Fiks-Formaal``), if the grant asks for one.
        saksreferanse: the case the lookups belong to (``X-Fiks-Saksreferanse``).
    """

    def __init__(
        self,
        *,
        gateway_url: str,
        fiks_org_id: str,
        integrasjon_id: str,
        integrasjon_passord: str,
        token_provider: TokenProvider,
        transport: Transport | None = None,
        session: aiohttp.ClientSession | None = None,
        max_bulk_items: int = 1000,
        page_size: int = 100,
        max_concurrency: int = 4,
        timeout_s: float = 30.0,
        formaal: str | None = None,
        saksreferanse: str | None = None,
    ) -> None:
        if transport is not None and session is not None:
            raise ValueError("give either transport or session, not both")
        if max_bulk_items < 1 or page_size < 1 or max_concurrency < 1:
            raise ValueError("max_bulk_items, page_size and max_concurrency must be at least 1")
        if not fiks_org_id or "/" in fiks_org_id:
            raise ValueError("fiks_org_id must be one path segment")
        self._base = f"{gateway_url.rstrip('/')}/{quote(fiks_org_id, safe='')}/{API_PATH}/"
        self._auth_headers = {
            "IntegrasjonId": integrasjon_id,
            "IntegrasjonPassord": integrasjon_passord,
        }
        if formaal is not None:
            self._auth_headers[FORMAAL_HEADER] = formaal
        if saksreferanse is not None:
            self._auth_headers[SAKSREFERANSE_HEADER] = saksreferanse
        self._tokens = token_provider
        self._transport: Transport = transport or AiohttpTransport(session, timeout_s=timeout_s)
        self._owns_transport = True
        self._timeout_s = timeout_s
        self.max_bulk_items = max_bulk_items
        self.page_size = page_size
        self._max_concurrency = max_concurrency

    @classmethod
    def from_profile(cls, path: Path | str, **options: Any) -> Self:
        """
        Build a client from the profile ``kjoretoyregister demo --profile`` writes.

        Args:
            path: the profile JSON file.
            options: any other constructor argument (``session``, ``max_bulk_items``, …);
                ``token_provider`` defaults to a Maskinporten provider for the profile's key.

        Raises:
            ProfileError: the profile is missing, not JSON or incomplete.
        """
        profile = load_profile(Path(path))
        options.setdefault("token_provider", provider_from_profile(profile))
        return cls(
            gateway_url=profile.gateway_url,
            fiks_org_id=profile.fiks_org_id,
            integrasjon_id=profile.integrasjon_id,
            integrasjon_passord=profile.integrasjon_passord.get_secret_value(),
            **options,
        )

    def with_purpose(self, formaal: str | None, saksreferanse: str | None = None) -> Self:
        """
        A client for one case: same connections, tokens and settings, other purpose headers.

        The derived client shares this one's transport; close the original (not the copy)
        when done.

        Args:
            formaal: purpose of the lookups (``X-Fiks-Formaal``); None = send none.
            saksreferanse: the case they belong to (``X-Fiks-Saksreferanse``); None = none.
        """
        derived = copy.copy(self)
        headers = {
            k: v
            for k, v in self._auth_headers.items()
            if k not in (FORMAAL_HEADER, SAKSREFERANSE_HEADER)
        }
        if formaal is not None:
            headers[FORMAAL_HEADER] = formaal
        if saksreferanse is not None:
            headers[SAKSREFERANSE_HEADER] = saksreferanse
        derived._auth_headers = headers
        derived._owns_transport = False
        return derived

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections the client owns (not a borrowed session, not a copy's)."""
        if self._owns_transport:
            await self._transport.aclose()

    # -- raw requests --------------------------------------------------------------------------

    async def _token(self) -> str:
        return await fetch_token(self._tokens, self._transport)

    async def request(
        self,
        method: str,
        endpoint: str,
        *,
        params: Mapping[str, object] | None = None,
        json_body: Any = None,
    ) -> RawResponse:
        """
        Send one request to an SVV endpoint through the gateway and return the raw answer.

        Args:
            method: ``GET`` or ``POST``.
            endpoint: the path below ``…/rest/distribusjon/kjoretoy/v2.0/``, e.g.
                ``bulk/kjennemerke`` (path segments already encoded).
            params: query parameters (unset ones dropped).
            json_body: serialised with orjson as the request body.

        Returns:
            The 2xx answer, body bytes unchanged.

        Raises:
            FiksError, SvvError, ResponseError: an error answer.
            TokenError: no token could be obtained.
            TransportError: no answer.
        """
        url = self._base + endpoint
        encoded = urlencode(query(params or {}))
        if encoded:
            url = f"{url}?{encoded}"
        body = orjson.dumps(json_body) if json_body is not None else None
        headers = {**self._auth_headers, "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            headers["Authorization"] = f"Bearer {await self._token()}"
            raw = await self._transport.send(
                method, url, headers=headers, body=body, timeout_s=self._timeout_s
            )
            if 200 <= raw.status < 300:
                return raw
            error = error_from_response(raw.status, raw.body, raw.headers)
            if attempt == 1 and raw.status == 401 and _is_token_rejection(error):
                # The token may have expired in flight or the gateway's keys rotated:
                # one fresh token is worth a retry, a second refusal is final.
                self._tokens.invalidate()
                continue
            raise error
        raise AssertionError("unreachable")  # pragma: no cover

    # -- bulk oppslag ------------------------------------------------------------------------

    async def _bulk(
        self, endpoint: str, key: str, items: str | Sequence[BulkItem], dtg: Dtg | None
    ) -> list[KjoretoyResponse]:
        body = bulk_items(key, items, dtg)
        if not body:
            return []
        limit = asyncio.Semaphore(self._max_concurrency)

        async def one(chunk: Sequence[dict[str, str]]) -> list[KjoretoyResponse]:
            async with limit:
                raw = await self.request("POST", endpoint, json_body=list(chunk))
            answers = parse_list(raw)
            if len(answers) != len(chunk):
                raise ProtocolError(f"{endpoint}: {len(chunk)} items sent, {len(answers)} answered")
            return answers

        parts = list(chunks(body, self.max_bulk_items))
        if len(parts) == 1:
            return await one(parts[0])
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(one(part)) for part in parts]
        except* Exception as failed:
            # The first chunk's failure stands for the batch (the others were cancelled);
            # callers catch our exceptions, not an ExceptionGroup.
            raise failed.exceptions[0] from None
        return [answer for task in tasks for answer in task.result()]

    async def oppslag_kjennemerke(
        self, plates: str | Sequence[BulkItem], dtg: Dtg | None = None
    ) -> list[KjoretoyResponse]:
        """
        Look vehicles up by plate (``bulk/kjennemerke``), as of ``dtg`` (default now).

        Args:
            plates: one plate, or plates and ``(plate, dtg)`` pairs; any length (chunked).
            dtg: the time for items without their own: tz-aware datetime or ISO string.

        Returns:
            One ``KjoretoyResponse`` per plate, in request order; a miss has no ``kjoretoy``
            and its ``responskoder``.
        """
        return await self._bulk("bulk/kjennemerke", "kjennemerke", plates, dtg)

    async def oppslag_kuid(
        self, kuids: str | Sequence[BulkItem], dtg: Dtg | None = None
    ) -> list[KjoretoyResponse]:
        """Look vehicles up by kuid (``bulk/kuid``); see :meth:`oppslag_kjennemerke`."""
        return await self._bulk("bulk/kuid", "kuid", kuids, dtg)

    async def oppslag_understellsnummer(
        self, understellsnummer: str, dtg: Dtg | None = None
    ) -> list[KjoretoyResponse]:
        """
        Look vehicles up by VIN (``bulk/understellsnummer/{vin}``); one VIN may match several.

        Returns:
            The matching vehicles (or one miss with its ``responskoder``).
        """
        endpoint = f"bulk/understellsnummer/{quote(understellsnummer, safe='')}"
        raw = await self.request("GET", endpoint, params={"dtg": format_dtg(dtg)})
        return parse_list(raw)

    # -- Kjøretøysøk -------------------------------------------------------------------------

    async def _sok(self, endpoint: str, params: Mapping[str, object]) -> KjoretoysokResponse:
        raw = await self.request("GET", endpoint, params=params)
        return parse_page(raw, KjoretoysokResponse)

    async def sok_kjennemerke(
        self,
        kjennemerke: str,
        *,
        ekskluder_vraket_utfort: bool | None = None,
        fra: int | None = None,
        antall: int | None = None,
    ) -> KjoretoysokResponse:
        """One page of vehicles whose plate matches (``?`` = one unknown character, ≤ 3)."""
        params = {"kjennemerke": kjennemerke, "ekskluderVraketUtfort": ekskluder_vraket_utfort}
        return await self._sok("sok/kjennemerke", {**params, "fra": fra, "antall": antall})

    async def sok_understellsnummer(
        self,
        understellsnummer: str,
        *,
        merkekode: str | None = None,
        ekskluder_vraket_utfort: bool | None = None,
        fra: int | None = None,
        antall: int | None = None,
    ) -> KjoretoysokResponse:
        """One page of vehicles whose VIN matches (``*`` wildcard at start and/or end)."""
        params = {
            "understellsnummer": understellsnummer,
            "merkekode": merkekode,
            "ekskluderVraketUtfort": ekskluder_vraket_utfort,
        }
        return await self._sok("sok/understellsnummer", {**params, "fra": fra, "antall": antall})

    async def sok_fodselsnummer(
        self,
        fodselsnummer: str,
        *,
        ekskluder_vraket_utfort: bool | None = None,
        fra: int | None = None,
        antall: int | None = None,
    ) -> KjoretoysokResponse:
        """One page of vehicles where the person is eier, medeier or leasingtaker."""
        params = {"fodselsnummer": fodselsnummer, "ekskluderVraketUtfort": ekskluder_vraket_utfort}
        return await self._sok("sok/fodselsnummer", {**params, "fra": fra, "antall": antall})

    async def sok_organisasjonsnummer(
        self,
        organisasjonsnummer: str,
        *,
        ekskluder_vraket_utfort: bool | None = None,
        fra: int | None = None,
        antall: int | None = None,
    ) -> KjoretoysokResponse:
        """One page of vehicles where the organisation is eier, medeier or leasingtaker."""
        params = {
            "organisasjonsnummer": organisasjonsnummer,
            "ekskluderVraketUtfort": ekskluder_vraket_utfort,
        }
        return await self._sok("sok/organisasjonsnummer", {**params, "fra": fra, "antall": antall})

    async def sok_kundeid(
        self,
        kundeid: str,
        *,
        ekskluder_vraket_utfort: bool | None = None,
        fra: int | None = None,
        antall: int | None = None,
    ) -> KjoretoysokResponse:
        """One page of vehicles of SVV's customer id (``kundeId``)."""
        params = {"kundeid": kundeid, "ekskluderVraketUtfort": ekskluder_vraket_utfort}
        return await self._sok("sok/kundeid", {**params, "fra": fra, "antall": antall})

    async def sok_eiernavn(
        self,
        navn: str,
        *,
        postnummer: str | None = None,
        poststed: str | None = None,
        fylke: str | None = None,
        fodselsdato: date | str | None = None,
        er_person: bool | None = None,
        fra: int | None = None,
        antall: int | None = None,
    ) -> KjoretoysokResponse:
        """One page of vehicles whose eier, medeier or leasingtaker has this full name."""
        params = _eiernavn_params(navn, postnummer, poststed, fylke, fodselsdato, er_person)
        return await self._sok("sok/eiernavn", {**params, "fra": fra, "antall": antall})

    async def sok_kunde(
        self,
        eiertype: Eiertype,
        *,
        navn: str | None = None,
        fornavn: str | None = None,
        mellomnavn: str | None = None,
        etternavn: str | None = None,
        fodselsdato: date | str | None = None,
        fonetisk: bool | None = None,
        kjonn: Literal["M", "K"] | None = None,
        fylke: str | None = None,
        kommune: str | None = None,
        postnummer: str | None = None,
        poststed: str | None = None,
        fra: int | None = None,
        antall: int | None = None,
    ) -> KundeSokResponse:
        """One page of customers (persons/organisations) with their number of vehicles."""
        params = {
            "eiertype": eiertype,
            "navn": navn,
            "fornavn": fornavn,
            "mellomnavn": mellomnavn,
            "etternavn": etternavn,
            "fodselsdato": fodselsdato,
            "fonetisk": fonetisk,
            "kjonn": kjonn,
            "fylke": fylke,
            "kommune": kommune,
            "postnummer": postnummer,
            "poststed": poststed,
            "fra": fra,
            "antall": antall,
        }
        raw = await self.request("GET", "sok/kunde", params=params)
        return parse_page(raw, KundeSokResponse)

    # -- all pages ---------------------------------------------------------------------------

    async def _iter_sok(
        self, endpoint: str, params: Mapping[str, object]
    ) -> AsyncGenerator[KjoretoyResponse, None]:
        async def fetch(fra: int, antall: int) -> KjoretoysokResponse:
            return await self._sok(endpoint, {**params, "fra": fra, "antall": antall})

        async for page in iter_pages(fetch, page_size=self.page_size):
            for hit in page.treff:
                yield hit

    def iter_sok_kjennemerke(
        self, kjennemerke: str, *, ekskluder_vraket_utfort: bool | None = None
    ) -> AsyncGenerator[KjoretoyResponse, None]:
        """Every hit of :meth:`sok_kjennemerke`, all pages."""
        params = {"kjennemerke": kjennemerke, "ekskluderVraketUtfort": ekskluder_vraket_utfort}
        return self._iter_sok("sok/kjennemerke", params)

    def iter_sok_understellsnummer(
        self,
        understellsnummer: str,
        *,
        merkekode: str | None = None,
        ekskluder_vraket_utfort: bool | None = None,
    ) -> AsyncGenerator[KjoretoyResponse, None]:
        """Every hit of :meth:`sok_understellsnummer`, all pages."""
        params = {
            "understellsnummer": understellsnummer,
            "merkekode": merkekode,
            "ekskluderVraketUtfort": ekskluder_vraket_utfort,
        }
        return self._iter_sok("sok/understellsnummer", params)

    def iter_sok_fodselsnummer(
        self, fodselsnummer: str, *, ekskluder_vraket_utfort: bool | None = None
    ) -> AsyncGenerator[KjoretoyResponse, None]:
        """Every hit of :meth:`sok_fodselsnummer`, all pages."""
        params = {"fodselsnummer": fodselsnummer, "ekskluderVraketUtfort": ekskluder_vraket_utfort}
        return self._iter_sok("sok/fodselsnummer", params)

    def iter_sok_organisasjonsnummer(
        self, organisasjonsnummer: str, *, ekskluder_vraket_utfort: bool | None = None
    ) -> AsyncGenerator[KjoretoyResponse, None]:
        """Every hit of :meth:`sok_organisasjonsnummer`, all pages."""
        params = {
            "organisasjonsnummer": organisasjonsnummer,
            "ekskluderVraketUtfort": ekskluder_vraket_utfort,
        }
        return self._iter_sok("sok/organisasjonsnummer", params)

    def iter_sok_kundeid(
        self, kundeid: str, *, ekskluder_vraket_utfort: bool | None = None
    ) -> AsyncGenerator[KjoretoyResponse, None]:
        """Every hit of :meth:`sok_kundeid`, all pages."""
        params = {"kundeid": kundeid, "ekskluderVraketUtfort": ekskluder_vraket_utfort}
        return self._iter_sok("sok/kundeid", params)

    def iter_sok_eiernavn(
        self,
        navn: str,
        *,
        postnummer: str | None = None,
        poststed: str | None = None,
        fylke: str | None = None,
        fodselsdato: date | str | None = None,
        er_person: bool | None = None,
    ) -> AsyncGenerator[KjoretoyResponse, None]:
        """Every hit of :meth:`sok_eiernavn`, all pages."""
        params = _eiernavn_params(navn, postnummer, poststed, fylke, fodselsdato, er_person)
        return self._iter_sok("sok/eiernavn", params)

    async def iter_sok_kunde(
        self, eiertype: Eiertype, **filters: Any
    ) -> AsyncGenerator[Kunde, None]:
        """Every customer of :meth:`sok_kunde` (same keyword filters), all pages."""

        async def fetch(fra: int, antall: int) -> KundeSokResponse:
            return await self.sok_kunde(eiertype, **filters, fra=fra, antall=antall)

        async for page in iter_pages(fetch, page_size=self.page_size):
            for kunde in page.treff:
                yield kunde


def _eiernavn_params(
    navn: str,
    postnummer: str | None,
    poststed: str | None,
    fylke: str | None,
    fodselsdato: date | str | None,
    er_person: bool | None,
) -> dict[str, object]:
    return {
        "navn": navn,
        "postnummer": postnummer,
        "poststed": poststed,
        "fylke": fylke,
        "fodselsdato": fodselsdato,
        "erPerson": er_person,
    }
