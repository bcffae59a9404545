"""
Every error the client raises, one module for the whole client boundary.

Hierarchy::

    KjoretoyregisterError        base: catch this to catch everything the client raises
    ├── TransportError           no HTTP answer: connection refused/reset, DNS, timeout
    ├── TokenError               no Maskinporten token (wraps the provider's MaskinportenError)
    ├── ProtocolError            a success answer that is not the JSON the endpoint promises
    └── ResponseError            an HTTP error answer: status, raw body, headers
        ├── FiksError            the gateway said no: the Fiks error body (errorId, errorCode, …)
        └── SvvError             SVV said no, passed through by the gateway: svvguid, status

A per-item miss in a bulk lookup (``responskoder`` inside a 200) is *not* an error: it stays
with its item in the returned list, so one unknown plate does not fail a batch of 1,000.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from kjoretoyregister.client.models import Responskode

SVVGUID_HEADER = "Svvguid"
REQUEST_ID_HEADER = "X-Request-ID"


class KjoretoyregisterError(Exception):
    """Base of every error the client raises."""


class TransportError(KjoretoyregisterError):
    """The request got no HTTP answer: connection refused or reset, name lookup, timeout."""


class TokenError(KjoretoyregisterError):
    """No access token could be obtained from Maskinporten (the cause is chained)."""


class ProtocolError(KjoretoyregisterError):
    """A 2xx answer whose body is not the JSON the endpoint promises."""


class ResponseError(KjoretoyregisterError):
    """
    An HTTP error answer that is neither a Fiks nor an SVV error body (e.g. a proxy's page).

    Attributes:
        status: the HTTP status.
        body: the body exactly as received.
        headers: the response headers.
        request_id: the gateway's correlation id (``X-Request-ID``), if any.
    """

    def __init__(self, message: str, *, status: int, body: bytes, headers: Mapping[str, str]):
        super().__init__(message)
        self.status = status
        self.body = body
        self.headers = dict(headers)
        self.request_id = _header(headers, REQUEST_ID_HEADER)


class FiksError(ResponseError):
    """
    The gateway refused or failed the request and said why in a Fiks error body.

    Attributes:
        error_id: ``errorId``, the id to quote to KS support (also the correlation id).
        error_code: ``errorCode``, e.g. ``KJR-GW-TOKEN``; its middle part says where the
            fault arose (GW gateway, MP Maskinporten, SVV upstream).
        message: the Norwegian ``message``.
        path: the request ``path``.
        error: the HTTP reason phrase (``error``).
        timestamp: ``timestamp`` as sent.
    """

    def __init__(
        self, body_json: Mapping[str, Any], *, status: int, body: bytes, headers: Mapping[str, str]
    ):
        self.error_id: str | None = _str(body_json.get("errorId"))
        self.error_code: str | None = _str(body_json.get("errorCode"))
        self.message: str = _str(body_json.get("message")) or ""
        self.path: str | None = _str(body_json.get("path"))
        self.error: str | None = _str(body_json.get("error"))
        self.timestamp: str | None = _str(body_json.get("timestamp"))
        text = f"{status} {self.error_code or ''}: {self.message} (errorId {self.error_id})"
        super().__init__(text, status=status, body=body, headers=headers)


class SvvError(ResponseError):
    """
    SVV answered with an error, and the gateway passed it through unchanged.

    Attributes:
        svvguid: SVV's support correlation id (body ``svvguid`` or the ``Svvguid`` header).
        feilmelding: SVV's message, if the body has one.
        responskoder: functional codes of a search parameter error (a 400 from ``sok/*``).
        retry_after: the ``Retry-After`` header of a quota answer (422), if any.
    """

    def __init__(
        self,
        body_json: Mapping[str, Any] | None,
        *,
        status: int,
        body: bytes,
        headers: Mapping[str, str],
    ):
        data = body_json or {}
        self.svvguid: str | None = _str(data.get("svvguid")) or _header(headers, SVVGUID_HEADER)
        self.feilmelding: str | None = _str(data.get("feilmelding"))
        raw_codes = data.get("responskoder")
        self.responskoder: list[Responskode] = (
            [Responskode.model_validate(c) for c in raw_codes if isinstance(c, dict)]
            if isinstance(raw_codes, list)
            else []
        )
        self.retry_after: str | None = _header(headers, "Retry-After")
        detail = self.feilmelding or ", ".join(
            f"{c.kode}: {c.beskrivelse}" for c in self.responskoder
        )
        text = f"SVV {status}: {detail or 'feil'} (svvguid {self.svvguid})"
        super().__init__(text, status=status, body=body, headers=headers)


def error_from_response(status: int, body: bytes, headers: Mapping[str, str]) -> ResponseError:
    """
    Classify an error answer: Fiks error body, SVV error, or neither.

    A Fiks body has ``errorCode``/``errorId``; an SVV answer has an ``svvguid`` (body or
    header) or, for a search parameter error, ``responskoder``.
    """
    data = _json_object(body)
    if data is not None and ("errorCode" in data or "errorId" in data):
        return FiksError(data, status=status, body=body, headers=headers)
    if (data is not None and ("svvguid" in data or "responskoder" in data)) or _header(
        headers, SVVGUID_HEADER
    ):
        return SvvError(data, status=status, body=body, headers=headers)
    return ResponseError(f"HTTP {status}", status=status, body=body, headers=headers)


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # aiohttp gives a case-insensitive mapping, a plain dict may not be.
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), None)


def _str(value: object) -> str | None:
    return None if value is None else str(value)
