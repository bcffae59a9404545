"""Synthetic vehicles with their history, made in independent chunks for the generator.

For each vehicle: a class (car, van, motorcycle, trailer …) by fleet share, a first-registration
year, a catalogue variant for that class and year (fuel mix by year), a status by age
(REGISTRERT, AVREGISTRERT, VRAKET, UTFORT), 1-5 successive eiere (persons or organisations, with
medeier, leasingtaker and underenhet where they fit), one or two plates, sometimes a personal
plate, sometimes a temporary deregistration, and rarely withheld data (unntattOffentlighet).

Rows are plain tuples in the column order of :mod:`.registerfile`, sorted so that the primary
keys only grow (cheap appends into SQLite's B-trees).
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from kjoretoyregister.svv import kodeverk
from kjoretoyregister.svv.catalog import (
    CLASS_SHARES,
    COLOUR_SHARES,
    VARIANTS,
    VariantPicker,
    uses_check_digit,
    vin_prefix,
)
from kjoretoyregister.svv.identifiers import vin_check_digit, vin_year_code
from kjoretoyregister.svv.plates import PlateAllocator
from kjoretoyregister.svv.population import (
    FLEET_ORGS,
    TAXI_NAERING,
    birth_table,
    org_trade,
)
from kjoretoyregister.svv.registerfile import (
    EIER,
    FLAGG_BRUKTIMPORT,
    KUID_BASE,
    KUID_STRIDE,
    LEASINGTAKER,
    MEDEIER,
    ORG_BASE,
    PERSON_BASE,
    SKJERMING_EIERSKAP,
    SKJERMING_HELT,
    SKJERMING_INGEN,
    UNDERENHET,
)

DAY = 86_400
YEAR = 365 * DAY
_EPOCH_ORDINAL = datetime(1970, 1, 1, tzinfo=UTC).toordinal()
_PERSONAL_FROM = int(datetime(2017, 6, 1, tzinfo=UTC).timestamp())
_ORG_SHARE = {
    "M1": 0.10,
    "N1": 0.55,
    "N1G": 0.45,
    "M2": 0.9,
    "M1BOBIL": 0.08,
    "L3e": 0.03,
    "L1e": 0.05,
    "O1": 0.15,
    "O2": 0.12,
}
_SEASONAL = {"L3e", "L1e", "M1BOBIL", "O2"}
_LONG_LIVED = {"L3e", "L1e", "O1", "O2", "M1BOBIL"}
_PLANT = "ABCDEFGHJK"

Row = tuple[Any, ...]
# Module globals: read in the hot loop, cheaper than attribute lookups on kodeverk.
_REG, _AVREG = kodeverk.REGISTRERT, kodeverk.AVREGISTRERT
_ART_EGEN, _ART_DROSJE_EIER = kodeverk.ART_EGENTRANSPORT, kodeverk.ART_DROSJE_EIER
_ART_DROSJE_LEASING = kodeverk.ART_DROSJE_LEASING
_KJORETOY, _PERSONLIG = kodeverk.KATEGORI_KJORETOY, kodeverk.KATEGORI_PERSONLIG


@dataclass(frozen=True, slots=True)
class FleetPlan:
    """What every vehicle chunk needs to know about the whole register."""

    seed: int
    vehicles: int
    persons: int
    orgs: int
    as_of: int
    chunks: int


@dataclass(slots=True)
class FleetRows:
    """The rows one chunk adds to ``kjoretoy``, ``kjennemerker`` and ``eierskap``."""

    kjoretoy: list[Row]
    kjennemerker: list[Row]
    eierskap: list[Row]


def kuid_of(index: int) -> int:
    """The kuid of generated vehicle ``index`` (10 digits; the row id of ``kjoretoy``)."""
    return KUID_BASE + KUID_STRIDE * index


_YEAR_STARTS = [int(datetime(y, 1, 1, tzinfo=UTC).timestamp()) for y in range(1970, 2101)]


def _year_start(year: int) -> int:
    return _YEAR_STARTS[year - 1970]


def _year_of(when: int) -> int:
    return 1969 + bisect.bisect_right(_YEAR_STARTS, when)


def _year_weight(year: int) -> float:
    if year < 1990:
        return 0.25
    if year < 2000:
        return 0.55
    if year < 2010:
        return 1.0
    return 1.25 if year < 2020 else 1.15


@cache
def _tables(as_of: int) -> tuple[VariantPicker, dict[str, tuple[list[int], list[float]]]]:
    picker = VariantPicker()
    as_of_year = datetime.fromtimestamp(as_of, UTC).year
    years: dict[str, tuple[list[int], list[float]]] = {}
    for klasse, _ in CLASS_SHARES:
        lo, hi = picker.class_years[klasse]
        ys, cum, total = [], [], 0.0
        for year in range(lo, min(hi, as_of_year) + 1):
            weight = _year_weight(year)
            if year == as_of_year:
                weight *= (as_of - _year_start(year)) / YEAR
            total += weight
            ys.append(year)
            cum.append(total)
        years[klasse] = (ys, cum)
    return picker, years


def _cum(weights: list[float]) -> list[float]:
    total, cum = 0.0, []
    for w in weights:
        total += w
        cum.append(total)
    return cum


_CLASSES = [k for k, _ in CLASS_SHARES]
_CLASS_CUM = _cum([w for _, w in CLASS_SHARES])
_COLOUR_CUM = _cum([float(w) for w in COLOUR_SHARES])


def _pick(cum: list[float], u: float) -> int:
    return min(bisect.bisect_right(cum, u * cum[-1]), len(cum) - 1)


@cache
def _vin_parts(variant: int) -> tuple[str, bool]:
    v = VARIANTS[variant]
    return vin_prefix(v), uses_check_digit(v)


def vin_of(index: int, variant: int, year: int) -> str:
    """The VIN of generated vehicle ``index``: unique, because positions 11-17 encode the index."""
    prefix, check = _vin_parts(variant)
    scrambled = (index * 7_654_321 + 1_234_567) % 10_000_000
    vin = (
        f"{prefix}{vin_year_code(year)}{_PLANT[scrambled // 1_000_000]}{scrambled % 1_000_000:06d}"
    )
    if check:
        vin = vin[:8] + vin_check_digit(vin) + vin[9:]
    return vin


class _Chunk:
    """The state of one chunk while it is generated (random stream, plates, owners)."""

    def __init__(self, plan: FleetPlan, chunk: int) -> None:
        self.plan = plan
        self.rng = random.Random(f"{plan.seed}/kjoretoy/{chunk}")  # noqa: S311 - synthetic data
        self.plates = PlateAllocator(chunk, plan.chunks)
        self.picker, self.years = _tables(plan.as_of)
        self.random = self.rng.random
        self.births, self.stride = birth_table()
        self.births_size = len(self.births)

    def person(self, fom: int) -> int:
        """A person of age at least 18 at ``fom`` (a few tries; the population is mostly adult)."""
        random, persons = self.random, self.plan.persons
        births, stride, size = self.births, self.stride, self.births_size
        latest_birth = (fom - 18 * YEAR) // DAY + _EPOCH_ORDINAL
        index = int(random() * persons)
        for _ in range(4):
            if births[(index * stride) % size] <= latest_birth:
                break
            index = int(random() * persons)
        return PERSON_BASE + index

    def org(self) -> int:
        lo = FLEET_ORGS if self.plan.orgs > FLEET_ORGS else 0
        return ORG_BASE + lo + int(self.rng.random() * (self.plan.orgs - lo))

    def fleet_org(self) -> int:
        return ORG_BASE + int(self.rng.random() * min(FLEET_ORGS, self.plan.orgs))


def _is_taxi(kunde: int) -> bool:
    return kunde >= ORG_BASE and org_trade(kunde - ORG_BASE)[1] == TAXI_NAERING


def _status(u: float, klasse: str, age: int) -> int:
    if age >= 25:
        scrapped = 0.7
    elif age >= 20:
        scrapped = 0.55
    elif age >= 15:
        scrapped = 0.35
    elif age >= 10:
        scrapped = 0.15
    elif age >= 5:
        scrapped = 0.04
    else:
        scrapped = 0.01
    if klasse in _LONG_LIVED:
        scrapped *= 0.6
    exported = 0.05 if 2 <= age <= 15 else 0.01
    dereg = 0.08 + (0.08 if klasse in _SEASONAL else 0.0)
    if u < scrapped:
        return kodeverk.VRAKET
    if u < scrapped + exported:
        return kodeverk.UTFORT
    if u < scrapped + exported + dereg:
        return kodeverk.AVREGISTRERT
    return kodeverk.REGISTRERT


def fleet_chunk(plan: FleetPlan, chunk: int, start: int, count: int) -> FleetRows:
    """The rows of generated vehicles ``start`` … ``start + count - 1`` (chunk ``chunk``)."""
    state = _Chunk(plan, chunk)
    rng = state.rng
    random = rng.random
    as_of = plan.as_of
    as_of_year = _year_of(as_of)
    pick_variant = state.picker.pick
    person, org = state.person, state.org
    kjoretoy: list[Row] = []
    kjennemerker: list[Row] = []
    eierskap: list[Row] = []
    for index in range(start, start + count):
        kuid = KUID_BASE + KUID_STRIDE * index
        klasse = _CLASSES[_pick(_CLASS_CUM, random())]
        years, year_cum = state.years[klasse]
        year = years[_pick(year_cum, random())]
        variant = pick_variant(klasse, year, random())
        year_start = _YEAR_STARTS[year - 1970]
        latest = min(year_start + YEAR, as_of - 10 * DAY)
        t0 = year_start + int(random() * max(DAY, latest - year_start - 8 * 3600))
        t0 = t0 - t0 % DAY + 6 * 3600 + int(random() * 8 * 3600)
        status = _status(random(), klasse, as_of_year - year)
        if as_of - t0 < 90 * DAY:
            status = _REG
        status_fom: int | None = None
        life_end = as_of
        if status == _AVREG:
            status_fom = as_of - int(random() * min(3 * YEAR, max(DAY, as_of - t0 - 60 * DAY)))
            life_end = status_fom
        elif status != _REG:
            status_fom = t0 + int((as_of - t0) * (0.45 + 0.5 * random()))
            life_end = status_fom
        if status_fom is not None and status_fom <= t0 + 30 * DAY:
            status_fom = life_end = t0 + 30 * DAY

        # Owners: successive eier periods, about one change every nine years of use.
        span = life_end - t0 - 40 * DAY
        starts = [t0]
        if span > 0:
            n = int((life_end - t0) / YEAR * 0.11 + random())
            u = random()
            n = min(4, max(0, n + (1 if u < 0.15 else -1 if u < 0.3 else 0)))
            if n:
                starts.extend(sorted({t0 + 20 * DAY + int(random() * span) for _ in range(n)}))
        ends: list[int | None] = [*starts[1:], None]
        leasing = year >= 2012 and (klasse == "M1" or klasse == "N1") and random() < 0.2
        art = _ART_EGEN
        eiere: list[Row] = []
        others: list[list[Row]] = [[], [], [], []]
        org_share = _ORG_SHARE[klasse]
        for k, fom in enumerate(starts):
            tom = ends[k]
            if k == 0 and leasing:
                eier = state.fleet_org()
                taker = person(fom) if random() < 0.85 else org()
                eiere.append((kuid, EIER, fom, tom, eier))
                others[LEASINGTAKER].append((kuid, LEASINGTAKER, fom, tom, taker))
                art = _ART_DROSJE_LEASING if _is_taxi(taker) else _ART_EGEN
            elif random() < org_share:
                eier = org()
                eiere.append((kuid, EIER, fom, tom, eier))
                if random() < 0.12:
                    others[UNDERENHET].append((kuid, UNDERENHET, fom, tom, org()))
                art = _ART_DROSJE_EIER if _is_taxi(eier) else _ART_EGEN
            else:
                eiere.append((kuid, EIER, fom, tom, person(fom)))
                if random() < 0.08:
                    others[MEDEIER].append((kuid, MEDEIER, fom, tom, person(fom)))
                art = _ART_EGEN
        # Primary key order (kuid, rolle, fom): eiere first, then each other role.
        eierskap.extend(eiere)
        for rows in others:
            if rows:
                eierskap.extend(rows)

        # One temporary deregistration inside one owner period, for some.
        avreg_fom: int | None = None
        avreg_tom: int | None = None
        if random() < (0.25 if klasse in _SEASONAL else 0.05):
            k = int(random() * len(starts))
            period_end = ends[k]
            end = life_end if period_end is None else period_end
            length = end - starts[k]
            if length > 400 * DAY:
                a = starts[k] + 30 * DAY + int(random() * (length - 300 * DAY))
                b = a + (90 + int(random() * 150)) * DAY
                if b < end - 10 * DAY:
                    avreg_fom, avreg_tom = a, b

        # Plates: the first one, sometimes a change at an owner change, rarely a personal one.
        vdata = VARIANTS[variant]
        electric, small = vdata.electric_plate, vdata.small_plate
        first_plate = (
            state.plates.electric(rng, year) if electric else state.plates.ordinary(rng, small)
        )
        if len(starts) > 1 and random() < (0.12 if year < 2000 else 0.03):
            tc = starts[1 + int(random() * (len(starts) - 1))]
            second = (
                state.plates.electric(rng, _year_of(tc))
                if electric
                else state.plates.ordinary(rng, small)
            )
            kjennemerker.append((kuid, t0, first_plate, tc, _KJORETOY))
            kjennemerker.append((kuid, tc, second, None, _KJORETOY))
        elif klasse == "M1" and random() < 0.006:
            k = int(random() * len(starts))
            p_from = max(starts[k], _PERSONAL_FROM) + int(random() * 120 * DAY)
            p_to = ends[k]
            personal = None
            if p_from < (life_end if p_to is None else p_to) - DAY:
                personal = state.plates.personal()
            kjennemerker.append((kuid, t0, first_plate, None, _KJORETOY))
            if personal is not None:
                kjennemerker.append((kuid, p_from, personal, p_to, _PERSONLIG))
        else:
            kjennemerker.append((kuid, t0, first_plate, None, _KJORETOY))

        u = random()
        skjerming = (
            SKJERMING_HELT if u < 0.001 else SKJERMING_EIERSKAP if u < 0.003 else SKJERMING_INGEN
        )
        flags = FLAGG_BRUKTIMPORT if klasse == "M1" and year >= 1995 and random() < 0.1 else 0
        colour = _pick(_COLOUR_CUM, random())
        kjoretoy.append(
            (
                kuid,
                vin_of(index, variant, year),
                variant,
                colour,
                t0,
                status,
                status_fom,
                avreg_fom,
                avreg_tom,
                art,
                skjerming,
                flags,
                None,
            )
        )
    # SVV's times carry milliseconds: give every time its own, in one place at the end.
    return FleetRows(
        [(*r[:4], _millis(r[4]), r[5], _millis(r[6]), _millis(r[7]), _millis(r[8]), *r[9:])
         for r in kjoretoy],
        [(r[0], _millis(r[1]), r[2], _millis(r[3]), r[4]) for r in kjennemerker],
        [(r[0], r[1], _millis(r[2]), _millis(r[3]), r[4]) for r in eierskap],
    )  # fmt: skip


def _millis(t: int | None) -> float | None:
    """``t`` (whole seconds) plus a millisecond part that follows from ``t`` alone: equal times
    stay equal (a plate change at an owner change), distinct ones keep their order, and the
    random streams, hence all other data, are the same as without it."""
    if t is None:
        return None
    return (t * 1000 + t * 7919 % 1000) / 1000  # the double nearest to the decimal value
