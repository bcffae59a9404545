"""
SVV's answers into models: bulk arrays and search pages (a 204 is an empty answer).

Bodies are validated straight from bytes (about twice as fast as ``orjson.loads`` and then
``model_validate``, which matters for 1,000-vehicle bulk answers of ~5 MB).
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import TypeAdapter, ValidationError

from kjoretoyregister.client._transport import RawResponse
from kjoretoyregister.client.errors import ProtocolError
from kjoretoyregister.client.models import KjoretoyResponse, KjoretoysokResponse, KundeSokResponse

__all__ = ["parse_list", "parse_page"]

SokPage = TypeVar("SokPage", KjoretoysokResponse, KundeSokResponse)
_RESPONSE_LIST = TypeAdapter(list[KjoretoyResponse])


def parse_list(raw: RawResponse) -> list[KjoretoyResponse]:
    """Parse a bulk answer (JSON array of ``KjoretoyResponse``; 204/empty = none)."""
    if raw.status == 204 or not raw.body:
        return []
    try:
        return _RESPONSE_LIST.validate_json(raw.body)
    except ValidationError as exc:
        raise ProtocolError(f"expected a JSON array of KjoretoyResponse: {exc}") from exc


def parse_page(raw: RawResponse, model: type[SokPage]) -> SokPage:
    """Parse one search page; a 204 is an empty page."""
    if raw.status == 204 or not raw.body:
        # 204 = «Ingen kjøretøy funnet»: an empty page, not an error.
        return model.model_validate({"antallITreffliste": 0, "antallTreffTotalt": 0})
    try:
        return model.model_validate_json(raw.body)
    except ValidationError as exc:
        raise ProtocolError(f"unexpected {model.__name__}: {exc}") from exc
