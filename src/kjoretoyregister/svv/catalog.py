"""The model catalogue: variants (model × engine × emission era) and their technical data.

A *variant* is what one row of ``modellvarianter`` in the register file describes: make, model,
class, engine and fuel, and the era that fixes euroKlasse and measuring method. Its
``godkjenning.tekniskGodkjenning`` subtree (``kjoretoyklassifisering`` and ``tekniskeData``
without the colour) is built by :mod:`.teknisk` once per variant at generation time and stored
as JSON; the register assembles each vehicle around it.

:class:`VariantPicker` chooses a variant for a class and first-registration year with roughly
Norwegian fuel shares: diesel before 2015, electric dominating new cars from 2020.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from kjoretoyregister.svv.catalog_data import MODELS
from kjoretoyregister.svv.identifiers import VIN_ALPHABET

FIRST_YEAR = 1975
LAST_YEAR = 2026

_ENGINE = re.compile(r"([BDHPE])(\d+)([AM])(\d+)?(?:@(\d{4})-(\d{4}))?")


@dataclass(frozen=True, slots=True)
class Engine:
    """One engine option of a model; fuel B/D/H/P/E as in :mod:`.catalog_data`."""

    fuel: str
    kw: int
    gear: str
    ccm: int | None
    years: tuple[int, int] | None


@dataclass(frozen=True, slots=True)
class Model:
    """One line of the model table."""

    merke: str
    merkekode: str
    fabrikant: str
    wmi: str
    land: str
    klasse: str
    karosseri: str | None
    handelsbetegnelse: str
    typebetegnelse: str
    years: tuple[int, int]
    popularity: float
    doors: int
    seats: int
    dims: tuple[int, int, int]
    egenvekt: int
    nyttelast: int
    tow: tuple[int, int]
    dekk: str
    engines: tuple[Engine, ...]


@dataclass(frozen=True, slots=True)
class Variant:
    """A model with one engine in one emission era: the unit the register stores per vehicle."""

    id: int
    model: Model
    engine: Engine | None
    years: tuple[int, int]
    euro: str | None
    wltp: bool

    @property
    def fuel(self) -> str:
        """B, D, H, P, E, or ``-`` for a trailer."""
        return self.engine.fuel if self.engine else "-"

    @property
    def electric_plate(self) -> bool:
        """Electric cars, vans and buses get plates from the EV series (EL, EK, EV …)."""
        return self.fuel == "E" and self.model.klasse in {"M1", "N1", "N1G", "M2"}

    @property
    def small_plate(self) -> bool:
        """Motorcycles and mopeds have two letters and four digits."""
        return self.model.klasse in {"L1e", "L3e"}


def _parse_models() -> tuple[Model, ...]:
    models = []
    for line in MODELS.strip().splitlines():
        f = line.split("|")
        engines: list[Engine] = []
        if f[18] != "-":
            for token in f[18].split(";"):
                m = _ENGINE.fullmatch(token)
                if m is None:
                    raise ValueError(f"bad engine {token!r} in {f[7]}")
                years = (int(m.group(5)), int(m.group(6))) if m.group(5) else None
                ccm = int(m.group(4)) if m.group(4) else None
                engines.append(Engine(m.group(1), int(m.group(2)), m.group(3), ccm, years))
        if len(f[3]) != 3 or any(c not in VIN_ALPHABET for c in f[3]):
            raise ValueError(f"bad WMI {f[3]!r} in {f[7]}")
        first, last = (int(y) for y in f[9].split("-"))
        length, width, height = (int(x) for x in f[13].split(","))
        tow_braked, tow_unbraked = (int(x) for x in f[16].split(","))
        models.append(
            Model(
                merke=f[0],
                merkekode=f[1],
                fabrikant=f[2],
                wmi=f[3],
                land=f[4],
                klasse=f[5],
                karosseri=None if f[6] == "-" else f[6],
                handelsbetegnelse=f[7],
                typebetegnelse=f[8],
                years=(first, last),
                popularity=float(f[10]),
                doors=int(f[11]),
                seats=int(f[12]),
                dims=(length, width, height),
                egenvekt=int(f[14]),
                nyttelast=int(f[15]),
                tow=(tow_braked, tow_unbraked),
                dekk=f[17],
                engines=tuple(engines),
            )
        )
    return tuple(models)


MODELS_PARSED: tuple[Model, ...] = _parse_models()

# Emission eras: (first year, euroKlasse) for combustion cars and vans; a variant never spans two.
_CAR_ERAS = (
    (FIRST_YEAR, None),
    (1993, "1L"),
    (1997, "2L"),
    (2001, "3L"),
    (2006, "4L"),
    (2011, "5L"),
    (2016, "6L"),
    (2018, "6L"),  # same class, but WLTP replaces NEDC
)
_L_ERAS = ((FIRST_YEAR, None), (2017, "MC4"), (2021, "MC5"))
_EV_ERAS = ((FIRST_YEAR, None), (2018, None))
_TRAILER_ERAS = ((FIRST_YEAR, None),)


def _eras(model: Model, engine: Engine | None) -> tuple[tuple[int, str | None], ...]:
    if engine is None:
        return _TRAILER_ERAS
    if engine.fuel == "E":
        return _EV_ERAS
    if model.klasse in {"L1e", "L3e"}:
        return _L_ERAS
    return _CAR_ERAS


def _build_variants() -> tuple[Variant, ...]:
    variants: list[Variant] = []
    for model in MODELS_PARSED:
        options: tuple[Engine | None, ...] = model.engines or (None,)
        for engine in options:
            lo, hi = model.years
            if engine is not None and engine.years is not None:
                lo, hi = max(lo, engine.years[0]), min(hi, engine.years[1])
            eras = _eras(model, engine)
            for index, (start, euro) in enumerate(eras):
                end = eras[index + 1][0] - 1 if index + 1 < len(eras) else LAST_YEAR
                first, last = max(lo, start), min(hi, end)
                if first > last:
                    continue
                variants.append(
                    Variant(
                        id=len(variants),
                        model=model,
                        engine=engine,
                        years=(first, last),
                        euro=euro,
                        wltp=first >= 2018,
                    )
                )
    return tuple(variants)


VARIANTS: tuple[Variant, ...] = _build_variants()

# Class shares of the whole fleet (all statuses) and colour shares; both rough.
CLASS_SHARES: tuple[tuple[str, float], ...] = (
    ("M1", 64.0),
    ("N1", 9.0),
    ("N1G", 0.6),
    ("M1BOBIL", 1.0),
    ("M2", 0.3),
    ("L3e", 6.0),
    ("L1e", 4.0),
    ("O1", 8.0),
    ("O2", 7.1),
)
COLOUR_SHARES: tuple[float, ...] = (25, 1, 12, 2, 20, 18, 6, 2, 12, 1, 1)  # order of FARGER


def _fuel_shares(klasse: str, year: int) -> dict[str, float]:
    if klasse in {"O1", "O2"}:
        return {"-": 1.0}
    if klasse in {"M2", "M1BOBIL"}:
        return {"D": 1.0}
    if klasse == "L3e":
        return {"B": 0.97, "E": 0.03} if year >= 2019 else {"B": 1.0}
    if klasse == "L1e":
        if year >= 2022:
            return {"B": 0.4, "E": 0.6}
        return {"B": 0.6, "E": 0.4} if year >= 2017 else {"B": 1.0}
    if klasse in {"N1", "N1G"}:
        if year >= 2022:
            return {"D": 0.6, "E": 0.38, "P": 0.02}
        return {"D": 0.85, "E": 0.15} if year >= 2019 else {"D": 0.97, "B": 0.03}
    # M1: Norway's new-car mix by year, roughly.
    table = (
        (2005, {"B": 0.7, "D": 0.3}),
        (2010, {"B": 0.45, "D": 0.55}),
        (2011, {"B": 0.38, "D": 0.56, "E": 0.03, "H": 0.03}),
        (2014, {"B": 0.3, "D": 0.45, "E": 0.15, "H": 0.06, "P": 0.04}),
        (2016, {"B": 0.2, "D": 0.33, "E": 0.25, "H": 0.1, "P": 0.12}),
        (2018, {"B": 0.15, "D": 0.2, "E": 0.35, "H": 0.1, "P": 0.2}),
        (2020, {"B": 0.08, "D": 0.1, "E": 0.55, "H": 0.1, "P": 0.17}),
        (2022, {"B": 0.04, "D": 0.04, "E": 0.72, "H": 0.07, "P": 0.13}),
        (LAST_YEAR, {"B": 0.01, "D": 0.02, "E": 0.9, "H": 0.04, "P": 0.03}),
    )
    for until, shares in table:
        if year <= until:
            return shares
    return table[-1][1]


class VariantPicker:
    """Weighted choice of a variant for (class, year), with Norwegian-like fuel shares."""

    def __init__(self) -> None:
        self._tables: dict[tuple[str, int], tuple[list[int], list[float]]] = {}
        self.class_years: dict[str, tuple[int, int]] = {}
        for klasse, _ in CLASS_SHARES:
            spans = [v.years for v in VARIANTS if v.model.klasse == klasse]
            self.class_years[klasse] = (min(s[0] for s in spans), max(s[1] for s in spans))

    def table(self, klasse: str, year: int) -> tuple[list[int], list[float]]:
        """Variant ids and cumulative weights for a class and year (cached)."""
        key = (klasse, year)
        cached = self._tables.get(key)
        if cached is not None:
            return cached
        active = [
            v for v in VARIANTS if v.model.klasse == klasse and v.years[0] <= year <= v.years[1]
        ]
        ids: list[int] = []
        cum: list[float] = []
        total = 0.0
        for fuel, share in _fuel_shares(klasse, year).items():
            offering = [v for v in active if v.fuel == fuel]
            if not offering:
                continue
            per_model: dict[int, int] = {}
            for v in offering:
                per_model[id(v.model)] = per_model.get(id(v.model), 0) + 1
            popularity = sum({id(v.model): v.model.popularity for v in offering}.values())
            for v in offering:
                total += share * v.model.popularity / popularity / per_model[id(v.model)]
                ids.append(v.id)
                cum.append(total)
        if not ids:
            raise ValueError(f"no variant of class {klasse} in {year}")
        self._tables[key] = (ids, cum)
        return ids, cum

    def pick(self, klasse: str, year: int, u: float) -> int:
        """The variant id for a uniform random number ``u`` in [0, 1)."""
        ids, cum = self.table(klasse, year)
        return ids[min(bisect.bisect_right(cum, u * cum[-1]), len(ids) - 1)]


# --- VIN ---------------------------------------------------------------------------------------


def vin_prefix(variant: Variant) -> str:
    """WMI + VDS (positions 1-9) for a variant; position 9 is ``0`` where a check digit goes."""
    model = variant.model
    letters = [c for c in model.typebetegnelse.upper() + model.handelsbetegnelse.upper()]
    code = "".join(c for c in letters if c in VIN_ALPHABET)[:3].ljust(3, "Z")
    engine_char = VIN_ALPHABET[(variant.engine.kw if variant.engine else 0) % 33]
    if model.wmi[0] in "12345JKL":
        # North American and Asian makers fill positions 4-8 and put a check digit at 9.
        return f"{model.wmi}{code}{engine_char}{model.land[-1]}0"
    return f"{model.wmi}ZZZ{code[:2]}{engine_char}"


def uses_check_digit(variant: Variant) -> bool:
    """True when VIN position 9 is a check digit (non-European makers)."""
    return variant.model.wmi[0] in "12345JKL"


def find_variant(merke: str, handelsbetegnelse: str, klasse: str, fuel: str, year: int) -> Variant:
    """The variant of a named model (for the fixed sisdinky vehicles); ValueError if none."""
    candidates = [
        v
        for v in VARIANTS
        if v.model.merke == merke
        and v.model.handelsbetegnelse == handelsbetegnelse
        and v.model.klasse == klasse
        and v.fuel == fuel
        and v.years[0] <= year <= v.years[1]
    ]
    if not candidates:
        raise ValueError(f"no variant {merke} {handelsbetegnelse} {klasse} {fuel} {year}")
    return candidates[0]
