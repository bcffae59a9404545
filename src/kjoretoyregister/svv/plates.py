"""Kjennemerke allocation for the generator: unique plates without global coordination.

The generator makes vehicles in chunks, possibly in parallel processes, and the output must not
depend on which process ran which chunk. So each chunk owns a disjoint slice of every plate
series: numbers 10000-99999 (cars, vans, trailers) and 1000-9999 (motorcycles, mopeds) are cut
into one slice per chunk, and a chunk hands out the numbers of its slices in a scrambled order.
Personal plates come from a fixed list of words with digits, cut the same way.

Electric cars get the EV series of their registration year (EL, EK, EV, EB, EC, ED, EE, EF, EH,
EJ); when a chunk's slice of that series is used up it moves on to the next series, and in the
end to an ordinary series.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from functools import cache

from kjoretoyregister.svv.persons import VANITY_WORDS
from kjoretoyregister.svv.sisdinky import RESERVED_PLATES

# Letters of Norwegian plate series (no G, I, M, O, Q, W): E-series are electric, CU and YX
# belong to SVV's test vehicles.
_LETTERS = "ABCDEFHJKLNPRSTUVXYZ"
ORDINARY_SERIES: tuple[str, ...] = tuple(
    a + b for a in _LETTERS for b in _LETTERS if a != "E" and a + b not in {"CU", "YX"}
)
EV_SERIES: tuple[str, ...] = ("EL", "EK", "EV", "EB", "EC", "ED", "EE", "EF", "EH", "EJ")
# The first registration year from which each EV series was handed out (roughly).
_EV_FROM: tuple[int, ...] = (0, 2013, 2015, 2016, 2017, 2018, 2019, 2020, 2021, 2022)


def ev_series_index(year: int) -> int:
    """Index into :data:`EV_SERIES` of the series in use in ``year``."""
    index = 0
    for i, start in enumerate(_EV_FROM):
        if year >= start:
            index = i
    return index


@cache
def personal_plates() -> tuple[str, ...]:
    """Every personal plate text the generator may use, in a fixed order (2-7 characters)."""
    result: list[str] = []
    for digits in range(0, 4):
        suffixes = [""] if digits == 0 else [str(n) for n in range(10 ** (digits - 1), 10**digits)]
        for suffix in suffixes:
            result.extend(word + suffix for word in VANITY_WORDS if len(word) + len(suffix) <= 7)
    return tuple(p for p in result if p not in RESERVED_PLATES)


@dataclass(frozen=True, slots=True)
class _Slice:
    lo: int
    size: int
    step: int

    @classmethod
    def of(cls, first: int, count: int, chunk: int, chunks: int) -> _Slice:
        size = count // chunks
        if size < 1:
            raise ValueError("too many chunks for the plate number space")
        step = max(1, int(size * 0.618)) | 1
        while math.gcd(step, size) != 1:
            step += 2
        return cls(first + chunk * size, size, step)

    def number(self, counter: int) -> int:
        return self.lo + (counter * self.step) % self.size


class PlateAllocator:
    """Hands out the plates of one chunk; deterministic given the chunk and the random stream."""

    def __init__(self, chunk: int, chunks: int) -> None:
        self._big = _Slice.of(10000, 90000, chunk, chunks)
        self._small = _Slice.of(1000, 9000, chunk, chunks)
        self._counters: dict[str, int] = {}
        personal = personal_plates()
        per_chunk = len(personal) // chunks
        self._personal = personal[chunk * per_chunk : (chunk + 1) * per_chunk]
        self._personal_next = 0

    def _next(self, series: str, small: bool) -> str | None:
        numbers = self._small if small else self._big
        key = series + ("4" if small else "5")
        counter = self._counters.get(key, 0)
        while counter < numbers.size:
            plate = f"{series}{numbers.number(counter)}"
            counter += 1
            if plate not in RESERVED_PLATES:
                self._counters[key] = counter
                return plate
        self._counters[key] = counter
        return None

    def ordinary(self, rng: random.Random, small: bool) -> str:
        """A plate of a random ordinary series (``AB12345``, or ``AB1234`` when small)."""
        count = len(ORDINARY_SERIES)
        start = int(rng.random() * count)
        for offset in range(count):
            plate = self._next(ORDINARY_SERIES[(start + offset) % count], small)
            if plate is not None:
                return plate
        raise RuntimeError("the plate number space of this chunk is used up")

    def electric(self, rng: random.Random, year: int) -> str:
        """A plate of the EV series of ``year`` (or a later one, or an ordinary one)."""
        first = ev_series_index(year)
        for series in EV_SERIES[first:] + EV_SERIES[:first]:
            plate = self._next(series, False)
            if plate is not None:
                return plate
        return self.ordinary(rng, False)

    def personal(self) -> str | None:
        """The next personal plate of this chunk, or None when its share is used up."""
        if self._personal_next >= len(self._personal):
            return None
        plate = self._personal[self._personal_next]
        self._personal_next += 1
        return plate
