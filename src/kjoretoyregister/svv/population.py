"""Synthetic persons and organisations for the generator, made in independent chunks.

Person *i* has a birth date and individual number that depend on *i* alone, so chunks made in
different processes never give two persons the same fødselsnummer:

- a weighted list of birth dates (1930-2008, adults in the register's year; more dates for the
  commonest car-owning ages) is walked with a stride coprime to its length, so ``i`` picks a
  date and a sequence number on that date;
- the sequence number picks a *slot* of three individual numbers that do not carry into the
  tens (e.g. 013-015). Of three such consecutive numbers at most one fails the first check
  digit and at most one the second, so one always works.

All persons get the synthetic month + 80; about 2 % are d-numbers (day + 40). Organisations get
organisasjonsnummer 3xxxxxxxx by the same slot trick on the 8-digit base.
"""

from __future__ import annotations

import bisect
import math
import random
from datetime import date
from functools import cache
from typing import Any

from kjoretoyregister.svv import persons as words
from kjoretoyregister.svv.addresses import POSTSTEDER, STREETS, SVALBARD_POST
from kjoretoyregister.svv.identifiers import make_fodselsnummer, make_orgnr
from kjoretoyregister.svv.registerfile import (
    ETTERNAVN_BASE,
    KUNDE_SVALBARD,
    KUNDE_UNNTATT,
    KUNDE_UVERIFISERT,
    ORG_BASE,
    ORGANISASJON,
    PERSON,
    PERSON_BASE,
)

_BIRTH_YEARS = ((1930, 1939, 1), (1940, 1949, 2), (1950, 1999, 3), (2000, 2008, 2))
_SLOTS_PER_DATE = 147  # 49 decades (x10-x98) × 3 slots of three numbers
FLEET_ORGS = 40  # leasing companies and dealers: the first organisations of every register
KundeRow = tuple[Any, ...]


@cache
def _birth_table() -> tuple[list[int], list[int], list[int], int]:
    ordinals: list[int] = []
    copy_index: list[int] = []
    copies: list[int] = []
    for first, last, weight in _BIRTH_YEARS:
        start, end = date(first, 1, 1).toordinal(), date(last, 12, 31).toordinal()
        for day in range(start, end + 1):
            for k in range(weight):
                ordinals.append(day)
                copy_index.append(k)
                copies.append(weight)
    size = len(ordinals)
    stride = int(size * 0.6180339887) | 1
    while math.gcd(stride, size) != 1:
        stride += 2
    return ordinals, copy_index, copies, stride


def max_persons() -> int:
    """How many persons the birth-date × slot space holds."""
    ordinals, _, copies, _ = _birth_table()
    return len(ordinals) * (_SLOTS_PER_DATE // max(copies))


def person_slot(index: int) -> tuple[int, int]:
    """(birth date ordinal, slot number on that date) of person ``index``; injective."""
    ordinals, copy_index, copies, stride = _birth_table()
    size = len(ordinals)
    position = (index * stride) % size
    slot = (index // size) * copies[position] + copy_index[position]
    if slot >= _SLOTS_PER_DATE:
        raise ValueError("more persons than the fødselsnummer space of the generator holds")
    return ordinals[position], slot


def birth_table() -> tuple[list[int], int]:
    """(birth date ordinals, stride): person ``i`` is born on ``ordinals[i * stride % len]``."""
    ordinals, _, _, stride = _birth_table()
    return ordinals, stride


def birth_ordinal(index: int) -> int:
    """The birth date (ordinal) of person ``index``, cheap: the generator checks owners' age."""
    ordinals, _, _, stride = _birth_table()
    return ordinals[(index * stride) % len(ordinals)]


def person_fodselsnummer(index: int, d_number: bool) -> str:
    """The synthetic fødselsnummer (or d-number) of person ``index``."""
    ordinal, slot = person_slot(index)
    birth = date.fromordinal(ordinal)
    base = 500 if birth.year >= 2000 else 0
    first = base + 10 + 10 * (slot // 3) + 3 * (slot % 3)
    for individnummer in range(first, first + 3):
        number = make_fodselsnummer(birth, individnummer, d_number=d_number)
        if number is not None:
            return number
    raise AssertionError("a slot of three individual numbers always has a valid one")


def org_number(index: int) -> str:
    """The synthetic organisasjonsnummer (starting with 3) of organisation ``index``."""
    first = 30_000_000 + 10 * (index // 3) + 3 * (index % 3)
    for base in range(first, first + 3):
        number = make_orgnr(base)
        if number is not None:
            return number
    raise AssertionError("a slot of three bases always has a valid organisasjonsnummer")


def org_trade(index: int) -> tuple[str, int]:
    """(trade word, næringskode index) of organisation ``index``; no randomness needed."""
    if index < FLEET_ORGS:
        return words.ORG_FLEET_TRADES[index % len(words.ORG_FLEET_TRADES)]
    return words.ORG_TRADES[(index * 7) % len(words.ORG_TRADES)]


TAXI_NAERING = next(n for w, n in words.ORG_TRADES if w == "TAXI")


@cache
def _post_cum() -> list[float]:
    total = 0.0
    cum = []
    for poststed in POSTSTEDER:
        total += poststed.weight
        cum.append(total)
    return cum


def _address(rng: random.Random) -> tuple[int, int, int]:
    cum = _post_cum()
    post = min(bisect.bisect_right(cum, rng.random() * cum[-1]), len(cum) - 1)
    street = rng.randrange(len(STREETS))
    house = 1 + int(rng.random() ** 2 * 120)
    letter = rng.randrange(1, 5) if rng.random() < 0.08 else 0
    return street, (house << 3) | letter, post


def persons_chunk(seed: int, chunk: int, start: int, count: int) -> list[KundeRow]:
    """``kunder`` rows for persons ``start`` … ``start + count - 1``."""
    rng = random.Random(f"{seed}/personer/{chunk}")  # noqa: S311 - synthetic data
    n_fornavn, n_etternavn = words.SAMPLED_FORNAVN, words.SAMPLED_ETTERNAVN
    rows: list[KundeRow] = []
    for index in range(start, start + count):
        fnr = person_fodselsnummer(index, d_number=rng.random() < 0.02)
        fornavn = 1 + rng.randrange(n_fornavn)
        etternavn = ETTERNAVN_BASE + 1 + rng.randrange(n_etternavn)
        mellomnavn = (
            ETTERNAVN_BASE + 1 + rng.randrange(n_etternavn) if rng.random() < 0.08 else None
        )
        street, house, post = _address(rng)
        flags = KUNDE_SVALBARD if post == SVALBARD_POST else 0
        u = rng.random()
        if u < 0.003:
            flags |= KUNDE_UVERIFISERT
        elif u < 0.0035:
            flags |= KUNDE_UNNTATT
        rows.append(
            (
                PERSON_BASE + index,
                PERSON,
                int(fnr),
                fornavn,
                mellomnavn,
                etternavn,
                None,
                None,
                street,
                house,
                post,
                flags,
                None,
            )
        )
    return rows


def _org_name(rng: random.Random, index: int) -> str:
    trade, _ = org_trade(index)
    adjective = words.FORNAVN[rng.randrange(words.SAMPLED_FORNAVN)]
    noun = words.ETTERNAVN[rng.randrange(words.SAMPLED_ETTERNAVN)]
    forms, weights = zip(*words.ORG_FORMS, strict=True)
    form = "AS" if index < FLEET_ORGS else rng.choices(forms, weights)[0]
    if index >= FLEET_ORGS and rng.random() < 0.45:
        second = words.FORNAVN[rng.randrange(words.SAMPLED_FORNAVN)]
        return f"{adjective} {second} {noun} {form}"
    return f"{adjective} {noun} {trade} {form}"


def orgs_chunk(seed: int, chunk: int, start: int, count: int) -> list[KundeRow]:
    """``kunder`` rows for organisations ``start`` … ``start + count - 1``."""
    rng = random.Random(f"{seed}/organisasjoner/{chunk}")  # noqa: S311 - synthetic data
    rows: list[KundeRow] = []
    for index in range(start, start + count):
        name = _org_name(rng, index)
        street, house, post = _address(rng)
        flags = KUNDE_UVERIFISERT if rng.random() < 0.002 else 0
        rows.append(
            (
                ORG_BASE + index,
                ORGANISASJON,
                int(org_number(index)),
                None,
                None,
                None,
                name,
                words.phonetic_key(name),
                street,
                house,
                post,
                flags,
                org_trade(index)[1],
            )
        )
    return rows
