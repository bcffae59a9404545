"""
Iterate every page of a Kjøretøysøk/Kundesøk answer.

SVV pages with ``fra`` (the first row wanted, 1-based) and ``antall`` (rows wanted). The next
page starts after the rows already received, until ``antallTreffTotalt`` rows are in; a 204
(no hits) is an empty first page. A page with no rows also ends the walk, so a register that
shrinks between pages cannot make the loop spin.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sized
from typing import Protocol, TypeVar

__all__ = ["Page", "iter_pages"]


class Page(Protocol):
    """What a search answer offers for paging (``KjoretoysokResponse``, ``KundeSokResponse``)."""

    @property
    def antall_treff_totalt(self) -> int | None:
        """Total hits, all pages."""
        ...

    @property
    def treff(self) -> Sized:
        """The rows of this page."""
        ...


P = TypeVar("P", bound=Page)


async def iter_pages(
    fetch: Callable[[int, int], Awaitable[P]], *, page_size: int = 100
) -> AsyncIterator[P]:
    """
    Yield page after page until every hit has been fetched.

    Args:
        fetch: ``fetch(fra, antall)`` returns one page (an empty one for a 204).
        page_size: ``antall`` per request; at most the service's maximum.

    Yields:
        Each page, in order.
    """
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    fra = 1
    while True:
        page = await fetch(fra, page_size)
        rows = len(page.treff)
        yield page
        total = page.antall_treff_totalt or 0
        fra += rows
        if rows == 0 or fra > total:
            return
