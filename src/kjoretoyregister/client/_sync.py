"""
``KjoretoyregisterClient``: the async client driven from a private event loop thread.

Running the one async implementation on a loop of its own (instead of hand-copying every
method, httpx's 2,000-line warning) keeps the two surfaces identical, and works in programs
that already run an event loop of their own (notebooks), where ``asyncio.run`` would fail.
"""

from __future__ import annotations

import asyncio
import copy
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Coroutine, Iterator, Mapping, Sequence
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self, TypeVar

from kjoretoyregister.client._client import AsyncKjoretoyregisterClient, Eiertype
from kjoretoyregister.client._params import BulkItem, Dtg
from kjoretoyregister.client._transport import RawResponse
from kjoretoyregister.client.models import (
    KjoretoyResponse,
    KjoretoysokResponse,
    Kunde,
    KundeSokResponse,
)

__all__ = ["KjoretoyregisterClient"]

T = TypeVar("T")


class KjoretoyregisterClient:
    """
    The blocking client; same arguments and methods as :class:`AsyncKjoretoyregisterClient`.

    A ``transport`` given here is used on the private loop; an aiohttp ``session`` cannot be
    given, because a session belongs to the loop that made it.
    """

    def __init__(self, **options: Any) -> None:
        if "session" in options:
            raise ValueError("the sync client makes its own session; pass transport= instead")
        self._start(AsyncKjoretoyregisterClient(**options))

    @classmethod
    def from_profile(cls, path: Path | str, **options: Any) -> Self:
        """Build a client from a ``demo --profile`` file; see the async ``from_profile``."""
        if "session" in options:
            raise ValueError("the sync client makes its own session; pass transport= instead")
        client = cls.__new__(cls)
        client._start(AsyncKjoretoyregisterClient.from_profile(path, **options))
        return client

    def _start(self, async_client: AsyncKjoretoyregisterClient) -> None:
        self._async = async_client
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="kjoretoyregister-client", daemon=True
        )
        self._thread.start()
        self._closed = False
        self._owns_loop = True

    def with_purpose(self, formaal: str | None, saksreferanse: str | None = None) -> Self:
        """A client for one case sharing this one's loop and connections; see the async one."""
        derived = copy.copy(self)
        derived._async = self._async.with_purpose(formaal, saksreferanse)
        derived._owns_loop = False
        return derived

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._closed:
            coro.close()
            raise RuntimeError("the client is closed")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def _iterate(self, agen: AsyncGenerator[T, None]) -> Iterator[T]:
        try:
            while True:
                try:
                    item = self._run(_anext(agen))
                except StopAsyncIteration:
                    return
                yield item
        finally:
            # A caller that stops early leaves the async generator suspended; close it on
            # the loop it runs on.
            if not self._closed:
                self._run(agen.aclose())

    def close(self) -> None:
        """Close connections and stop the private loop; the client cannot be used again."""
        if self._closed:
            return
        if not self._owns_loop:
            self._closed = True  # a with_purpose copy: the original owns loop and connections
            return
        self._run(self._async.aclose())
        self._closed = True
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def max_bulk_items(self) -> int:
        """The item limit per bulk request; longer lists are chunked."""
        return self._async.max_bulk_items

    def request(
        self,
        method: str,
        endpoint: str,
        *,
        params: Mapping[str, object] | None = None,
        json_body: Any = None,
    ) -> RawResponse:
        """Send one request; see :meth:`AsyncKjoretoyregisterClient.request`."""
        return self._run(self._async.request(method, endpoint, params=params, json_body=json_body))

    def oppslag_kjennemerke(
        self, plates: str | Sequence[BulkItem], dtg: Dtg | None = None
    ) -> list[KjoretoyResponse]:
        """One ``KjoretoyResponse`` per plate, in request order (chunked as needed)."""
        return self._run(self._async.oppslag_kjennemerke(plates, dtg))

    def oppslag_kuid(
        self, kuids: str | Sequence[BulkItem], dtg: Dtg | None = None
    ) -> list[KjoretoyResponse]:
        """One ``KjoretoyResponse`` per kuid, in request order (chunked as needed)."""
        return self._run(self._async.oppslag_kuid(kuids, dtg))

    def oppslag_understellsnummer(
        self, understellsnummer: str, dtg: Dtg | None = None
    ) -> list[KjoretoyResponse]:
        """The vehicles with this VIN."""
        return self._run(self._async.oppslag_understellsnummer(understellsnummer, dtg))

    def sok_kjennemerke(
        self,
        kjennemerke: str,
        *,
        ekskluder_vraket_utfort: bool | None = None,
        fra: int | None = None,
        antall: int | None = None,
    ) -> KjoretoysokResponse:
        """One page of vehicles whose plate matches (``?`` = one unknown character, ≤ 3)."""
        return self._run(
            self._async.sok_kjennemerke(
                kjennemerke, ekskluder_vraket_utfort=ekskluder_vraket_utfort, fra=fra, antall=antall
            )
        )

    def sok_understellsnummer(
        self,
        understellsnummer: str,
        *,
        merkekode: str | None = None,
        ekskluder_vraket_utfort: bool | None = None,
        fra: int | None = None,
        antall: int | None = None,
    ) -> KjoretoysokResponse:
        """One page of vehicles whose VIN matches (``*`` wildcard at start and/or end)."""
        return self._run(
            self._async.sok_understellsnummer(
                understellsnummer,
                merkekode=merkekode,
                ekskluder_vraket_utfort=ekskluder_vraket_utfort,
                fra=fra,
                antall=antall,
            )
        )

    def sok_fodselsnummer(
        self,
        fodselsnummer: str,
        *,
        ekskluder_vraket_utfort: bool | None = None,
        fra: int | None = None,
        antall: int | None = None,
    ) -> KjoretoysokResponse:
        """One page of vehicles where the person is eier, medeier or leasingtaker."""
        return self._run(
            self._async.sok_fodselsnummer(
                fodselsnummer,
                ekskluder_vraket_utfort=ekskluder_vraket_utfort,
                fra=fra,
                antall=antall,
            )
        )

    def sok_organisasjonsnummer(
        self,
        organisasjonsnummer: str,
        *,
        ekskluder_vraket_utfort: bool | None = None,
        fra: int | None = None,
        antall: int | None = None,
    ) -> KjoretoysokResponse:
        """One page of vehicles where the organisation is eier, medeier or leasingtaker."""
        return self._run(
            self._async.sok_organisasjonsnummer(
                organisasjonsnummer,
                ekskluder_vraket_utfort=ekskluder_vraket_utfort,
                fra=fra,
                antall=antall,
            )
        )

    def sok_kundeid(
        self,
        kundeid: str,
        *,
        ekskluder_vraket_utfort: bool | None = None,
        fra: int | None = None,
        antall: int | None = None,
    ) -> KjoretoysokResponse:
        """One page of vehicles of SVV's customer id (``kundeId``)."""
        return self._run(
            self._async.sok_kundeid(
                kundeid, ekskluder_vraket_utfort=ekskluder_vraket_utfort, fra=fra, antall=antall
            )
        )

    def sok_eiernavn(
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
        return self._run(
            self._async.sok_eiernavn(
                navn,
                postnummer=postnummer,
                poststed=poststed,
                fylke=fylke,
                fodselsdato=fodselsdato,
                er_person=er_person,
                fra=fra,
                antall=antall,
            )
        )

    def sok_kunde(
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
        return self._run(
            self._async.sok_kunde(
                eiertype,
                navn=navn,
                fornavn=fornavn,
                mellomnavn=mellomnavn,
                etternavn=etternavn,
                fodselsdato=fodselsdato,
                fonetisk=fonetisk,
                kjonn=kjonn,
                fylke=fylke,
                kommune=kommune,
                postnummer=postnummer,
                poststed=poststed,
                fra=fra,
                antall=antall,
            )
        )

    def iter_sok_kjennemerke(
        self, kjennemerke: str, *, ekskluder_vraket_utfort: bool | None = None
    ) -> Iterator[KjoretoyResponse]:
        """Every hit of :meth:`sok_kjennemerke`, all pages."""
        return self._iterate(
            self._async.iter_sok_kjennemerke(
                kjennemerke, ekskluder_vraket_utfort=ekskluder_vraket_utfort
            )
        )

    def iter_sok_understellsnummer(
        self,
        understellsnummer: str,
        *,
        merkekode: str | None = None,
        ekskluder_vraket_utfort: bool | None = None,
    ) -> Iterator[KjoretoyResponse]:
        """Every hit of :meth:`sok_understellsnummer`, all pages."""
        return self._iterate(
            self._async.iter_sok_understellsnummer(
                understellsnummer,
                merkekode=merkekode,
                ekskluder_vraket_utfort=ekskluder_vraket_utfort,
            )
        )

    def iter_sok_fodselsnummer(
        self, fodselsnummer: str, *, ekskluder_vraket_utfort: bool | None = None
    ) -> Iterator[KjoretoyResponse]:
        """Every hit of :meth:`sok_fodselsnummer`, all pages."""
        return self._iterate(
            self._async.iter_sok_fodselsnummer(
                fodselsnummer, ekskluder_vraket_utfort=ekskluder_vraket_utfort
            )
        )

    def iter_sok_organisasjonsnummer(
        self, organisasjonsnummer: str, *, ekskluder_vraket_utfort: bool | None = None
    ) -> Iterator[KjoretoyResponse]:
        """Every hit of :meth:`sok_organisasjonsnummer`, all pages."""
        return self._iterate(
            self._async.iter_sok_organisasjonsnummer(
                organisasjonsnummer, ekskluder_vraket_utfort=ekskluder_vraket_utfort
            )
        )

    def iter_sok_kundeid(
        self, kundeid: str, *, ekskluder_vraket_utfort: bool | None = None
    ) -> Iterator[KjoretoyResponse]:
        """Every hit of :meth:`sok_kundeid`, all pages."""
        return self._iterate(
            self._async.iter_sok_kundeid(kundeid, ekskluder_vraket_utfort=ekskluder_vraket_utfort)
        )

    def iter_sok_eiernavn(
        self,
        navn: str,
        *,
        postnummer: str | None = None,
        poststed: str | None = None,
        fylke: str | None = None,
        fodselsdato: date | str | None = None,
        er_person: bool | None = None,
    ) -> Iterator[KjoretoyResponse]:
        """Every hit of :meth:`sok_eiernavn`, all pages."""
        return self._iterate(
            self._async.iter_sok_eiernavn(
                navn,
                postnummer=postnummer,
                poststed=poststed,
                fylke=fylke,
                fodselsdato=fodselsdato,
                er_person=er_person,
            )
        )

    def iter_sok_kunde(self, eiertype: Eiertype, **filters: Any) -> Iterator[Kunde]:
        """Every customer of :meth:`sok_kunde` (same keyword filters), all pages."""
        return self._iterate(self._async.iter_sok_kunde(eiertype, **filters))


async def _anext(agen: AsyncIterator[T]) -> T:
    return await agen.__anext__()
