"""
A client for SVV's akfell API (akfell-datautlevering), directly, with its own Maskinporten token.

Unlike :class:`~kjoretoyregister.client.AsyncKjoretoyregisterClient` (Fiks' gateway, scope
``ks:fiks``), this calls SVV's current API generation, or the simulator's ``--api akfell``
profile, with a Maskinporten token for scope ``svv:kjoretoy/kjoretoyopplysninger``::

    provider = MaskinportenTokenProvider(token_url=…, issuer=…, client_id=…, private_key=…,
                                         kid=…, scope=AKFELL_SCOPE)
    async with AsyncAkfellClient("http://127.0.0.1:8081", provider) as akfell:
        svar = await akfell.bulk_kjennemerke(["CU11297"])
        print(svar.gjenstaende_kvote, svar.responser[0].kjoretoydata.eier_navn)

Every call answers a typed model (:mod:`kjoretoyregister.client.models.akfell`); a per-item
miss is a ``feilmelding`` in it, not an exception. Error answers raise the client's usual
errors: ``SvvError`` (svvguid; a 422 quota answer has ``retry_after``), ``ResponseError``,
``TokenError`` (no token), ``TransportError`` (no answer), ``ProtocolError`` (a 2xx that is
not the promised JSON). A 401 makes the client fetch a new token and retry once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import urlencode

import aiohttp
import orjson
from pydantic import BaseModel, ValidationError

from kjoretoyregister.client._params import BulkItem, Dtg, bulk_items, chunks, format_dtg, query
from kjoretoyregister.client._tokens import TokenProvider, fetch_token
from kjoretoyregister.client._transport import AiohttpTransport, RawResponse, Transport
from kjoretoyregister.client.errors import ProtocolError, TokenError, error_from_response
from kjoretoyregister.client.models.akfell import (
    FodselsnummerResponse,
    KjennemerkeBulkResponse,
    KjoretoydataResponse,
    KuidBulkResponse,
    OrganisasjonsnummerResponse,
    UnderstellsnummerBulkResponse,
)

__all__ = ["AKFELL_SCOPE", "AsyncAkfellClient"]

AKFELL_SCOPE = "svv:kjoretoy/kjoretoyopplysninger"
API_KEY_HEADER = "SVV-Authorization"

Model = TypeVar("Model", bound=BaseModel)
Bulk = TypeVar("Bulk", KjennemerkeBulkResponse, KuidBulkResponse, UnderstellsnummerBulkResponse)


def _parse(raw: RawResponse, model: type[Model]) -> Model:
    try:
        return model.model_validate_json(raw.body)
    except ValidationError as exc:
        raise ProtocolError(f"unexpected {model.__name__}: {exc}") from exc


class AsyncAkfellClient:
    """
    Call SVV's akfell API.

    Args:
        base_url: the API root, e.g. ``https://akfell-datautlevering.atlas.vegvesen.no`` or the
            simulator's ``http://127.0.0.1:8081``.
        token_provider: Maskinporten tokens with :data:`AKFELL_SCOPE` (None: enkeltoppslag
            with ``api_key`` only).
        api_key: the enkeltoppslag API key, sent as ``SVV-Authorization: Apikey <key>``.
        transport, session: as for the Fiks client (give at most one).
        max_bulk_items: longer bulk lists are sent in several requests, answers in order.
        timeout_s: total timeout per request.
    """

    def __init__(
        self,
        base_url: str,
        token_provider: TokenProvider | None,
        *,
        api_key: str | None = None,
        transport: Transport | None = None,
        session: aiohttp.ClientSession | None = None,
        max_bulk_items: int = 1000,
        timeout_s: float = 30.0,
    ) -> None:
        if transport is not None and session is not None:
            raise ValueError("give either transport or session, not both")
        if max_bulk_items < 1:
            raise ValueError("max_bulk_items must be at least 1")
        self._base = base_url.rstrip("/")
        self._tokens = token_provider
        self._api_key = api_key
        self._transport: Transport = transport or AiohttpTransport(session, timeout_s=timeout_s)
        self._timeout_s = timeout_s
        self.max_bulk_items = max_bulk_items

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
        """Close the connections the client owns (not a borrowed session)."""
        await self._transport.aclose()

    async def _token(self) -> str:
        if self._tokens is None:
            raise TokenError("no token provider: this call needs a Maskinporten token")
        return await fetch_token(self._tokens, self._transport)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, object] | None = None,
        json_body: Any = None,
        api_key_ok: bool = False,
    ) -> RawResponse:
        """
        Send one request (``path`` below the base URL) and return the 2xx answer.

        Raises:
            SvvError, ResponseError: an error answer.
            TokenError: no token could be obtained.
            TransportError: no answer.
        """
        url = self._base + path
        encoded = urlencode(query(params or {}))
        if encoded:
            url = f"{url}?{encoded}"
        body = orjson.dumps(json_body) if json_body is not None else None
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        use_key = api_key_ok and self._api_key is not None
        if use_key:
            headers[API_KEY_HEADER] = f"Apikey {self._api_key}"
        for attempt in (1, 2):
            if not use_key:
                headers["Authorization"] = f"Bearer {await self._token()}"
            raw = await self._transport.send(
                method, url, headers=headers, body=body, timeout_s=self._timeout_s
            )
            if 200 <= raw.status < 300:
                return raw
            if attempt == 1 and raw.status == 401 and not use_key and self._tokens is not None:
                self._tokens.invalidate()  # expired in flight, or keys rotated: one retry
                continue
            raise error_from_response(raw.status, raw.body, raw.headers)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _bulk(self, tail: str, body: list[dict[str, str]], model: type[Bulk]) -> Bulk:
        answer: Bulk | None = None
        for chunk in chunks(body, self.max_bulk_items) if body else [[]]:
            raw = await self.request("POST", f"/kjoretoyoppslag/bulk/{tail}", json_body=chunk)
            part = _parse(raw, model)
            if len(part.responser) != len(chunk):
                raise ProtocolError(
                    f"{tail}: {len(chunk)} items sent, {len(part.responser)} answered"
                )
            if answer is None:
                answer = part
            else:
                answer.responser.extend(part.responser)
                answer.gjenstaende_kvote = part.gjenstaende_kvote
        assert answer is not None
        return answer

    async def bulk_kjennemerke(
        self, plates: str | Sequence[BulkItem], dtg: Dtg | None = None
    ) -> KjennemerkeBulkResponse:
        """``POST kjoretoyoppslag/bulk/kjennemerke``: one ``responser`` element per plate."""
        return await self._bulk(
            "kjennemerke", bulk_items("kjennemerke", plates, dtg), KjennemerkeBulkResponse
        )

    async def bulk_kuid(
        self, kuids: str | Sequence[BulkItem], dtg: Dtg | None = None
    ) -> KuidBulkResponse:
        """``POST kjoretoyoppslag/bulk/kuid``: one ``responser`` element per kuid."""
        return await self._bulk("kuid", bulk_items("kuid", kuids, dtg), KuidBulkResponse)

    async def bulk_understellsnummer(
        self, vins: str | Sequence[str]
    ) -> UnderstellsnummerBulkResponse:
        """``POST kjoretoyoppslag/bulk/understellsnummer`` (no dtg): each element lists every
        vehicle with that VIN."""
        items = [vins] if isinstance(vins, str) else list(vins)
        body = [{"understellsnummer": vin} for vin in items]
        return await self._bulk("understellsnummer", body, UnderstellsnummerBulkResponse)

    async def person(
        self, fodselsnummer: str, etternavn: str, dtg: Dtg | None = None
    ) -> FodselsnummerResponse:
        """``GET kjoretoyoppslag/person``: vehicles where the person is eier, medeier or
        leasingtaker (``etternavn`` as in the Folkeregister)."""
        params = {"fodselsnummer": fodselsnummer, "etternavn": etternavn, "dtg": format_dtg(dtg)}
        raw = await self.request("GET", "/kjoretoyoppslag/person", params=params)
        return _parse(raw, FodselsnummerResponse)

    async def organisasjon(
        self,
        organisasjonsnummer: str,
        dtg: Dtg | None = None,
        *,
        side: int | None = None,
        antall: int | None = None,
    ) -> OrganisasjonsnummerResponse:
        """``GET kjoretoyoppslag/organisasjon``: one page (``side`` from 0) of the vehicles
        where the organisation is eier or medeier."""
        params = {
            "organisasjonsnummer": organisasjonsnummer,
            "dtg": format_dtg(dtg),
            "side": side,
            "antall": antall,
        }
        raw = await self.request("GET", "/kjoretoyoppslag/organisasjon", params=params)
        return _parse(raw, OrganisasjonsnummerResponse)

    async def enkeltoppslag(
        self, *, kjennemerke: str | None = None, understellsnummer: str | None = None
    ) -> KjoretoydataResponse:
        """``GET enkeltoppslag/kjoretoydata`` by exactly one of plate or VIN (no owner data)."""
        if (kjennemerke is None) == (understellsnummer is None):
            raise ValueError("give exactly one of kjennemerke and understellsnummer")
        params = {"kjennemerke": kjennemerke, "understellsnummer": understellsnummer}
        raw = await self.request(
            "GET", "/enkeltoppslag/kjoretoydata", params=params, api_key_ok=True
        )
        return _parse(raw, KjoretoydataResponse)
