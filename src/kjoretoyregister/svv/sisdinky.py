"""The synthetic vehicles of SVV's test environment ("sisdinky"), always present.

Fiks' test environment routes every call to SVV's synthetic data set. The vehicles here are read
from the package data file ``data/sisdinky.json`` and added to every register, whatever its seed
or size. That file holds two kinds of vehicles:

- **SVV's own**, as SVV answered for them on 2023-06-02 (svv-api.md §8): plate, VIN, first
  registration, status, kjoringensArt, owner, medeier and leasingtaker with SVV's names and
  addresses, the vedtakstidspunkt, the whole technical approval (make, model and variant names
  as SVV spells them, classification, fuel, weights, colours) and the EU-kontroll. They have no
  history before their real first registration and no change since: a ``dtg`` before it finds
  nothing. A ``modell`` entry carries their technical data, ``godkjenning`` the rest of SVV's
  approval. Persons have no fødselsnummer in SVV's answer; the generator makes synthetic ones
  (month + 80, valid check digits).
- **This project's own examples** (a ``katalogmodell`` entry: technical data from the
  catalogue): the two wholly withheld plates CU11300 and CU11301 (SVV shows nothing of them), the
  published identities CU10942, EC80261 and CU10001, a vehicle that changed plates
  (``KH 34512`` until 2015-04-20, ``CU 10943`` since; :data:`PLATE_CHANGE_EXAMPLE`), and a VIN
  shared by two vehicles (:data:`SHARED_VIN`, a Volvo 940 scrapped as DE 24018 and registered
  again as CU 10944).

**Earlier owners (for "a past dtg returns an earlier owner").** The example is the re-registered
Volvo 940 ``CU10944``, not an SVV vehicle: from 2014-06-02 its eier was the person VENNLIG ELG,
since 2019-02-18 KLAR LYKT. A lookup with ``dtg`` 2016-06-01 returns VENNLIG ELG as eier with
``tilTidspunkt`` 2019-02-18T10:00:00+01:00; a ``dtg`` before 2014-06-02 finds nothing. See
:data:`EARLIER_OWNER_EXAMPLE`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

from kjoretoyregister.svv import kodeverk
from kjoretoyregister.svv.registerfile import SKJERMING_HELT, SKJERMING_INGEN

Json = dict[str, Any]

SHARED_VIN = "YV1944A0WS1234567"
# (plate, dtg, the eier's name then): a past dtg that shows an earlier owner.
EARLIER_OWNER_EXAMPLE = ("CU10944", "2016-06-01T12:00:00+02:00", "VENNLIG ELG")
# (old plate, new plate, when the plate changed, Oslo local time).
PLATE_CHANGE_EXAMPLE = ("KH34512", "CU10943", "2015-04-20T09:30")

_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_STATUS = {name: number for number, name in enumerate(kodeverk.STATUS_NAMES)}
_SKJERMING = {"INGEN": SKJERMING_INGEN, "HELT": SKJERMING_HELT}
_ROLES = ("eier", "medeier", "leasingtaker", "underenhet")


def epoch(text: str) -> float:
    """Unix seconds of an ISO time with offset; whole seconds as an int, else milliseconds."""
    millis = (datetime.fromisoformat(text) - _UNIX_EPOCH) // timedelta(milliseconds=1)
    return millis // 1000 if millis % 1000 == 0 else millis / 1000


@dataclass(frozen=True, slots=True)
class Bosted:
    """An address this project made up: built like the generated ones (street, number, post)."""

    gate: str
    husnr: int  # the number with a house letter in its low 3 bits (addresses.street_address)
    postnummer: str


@dataclass(frozen=True, slots=True)
class SisPerson:
    """A synthetic person; ``fodselsnummer`` None means: make a synthetic one."""

    key: str
    fornavn: str
    etternavn: str
    fodselsdato: date
    adresse: Json | None  # SVV's address, as SVV writes it
    bosted: Bosted | None  # else one of ours
    fodselsnummer: str | None = None
    mellomnavn: str | None = None
    svalbard: bool = False
    kjonn: str | None = None  # "M"/"K" where the name says so; the third individual digit


@dataclass(frozen=True, slots=True)
class SisOrg:
    """An organisation with its organisasjonsnummer and, if SVV shows one, its næringskode."""

    key: str
    navn: str
    orgnr: str
    naeringskode: tuple[str, str] | None
    adresse: Json | None
    bosted: Bosted | None


@dataclass(frozen=True, slots=True)
class Period:
    """From ``fom`` (Unix seconds) the vehicle had these role holders (party keys)."""

    fom: float
    eier: str
    medeier: str | None = None
    leasingtaker: str | None = None
    underenhet: str | None = None
    vedtakstidspunkt: float | None = None  # SVV's, a moment after fom; else fom


@dataclass(frozen=True, slots=True)
class CatalogModel:
    """A model of the simulator's catalogue (for this project's own examples)."""

    merke: str
    handelsbetegnelse: str
    klasse: str
    fuel: str
    year: int
    farge: str


@dataclass(frozen=True, slots=True)
class SisVehicle:
    """One fixed vehicle; ``plates`` is the plate history, oldest first (plate, from)."""

    plates: tuple[tuple[str, float], ...]
    vin: str
    kjennemerketyper: dict[str, str]  # plate -> kjennemerketype other than ORDINART
    forstereg: float
    periods: tuple[Period, ...]
    kjoringens_art: str
    status: int = kodeverk.REGISTRERT
    status_fom: float | None = None
    kuid: int | None = None
    imid: str | None = None
    skjerming: int = SKJERMING_INGEN
    modell: Json | None = None  # SVV's: merkekode, klasse and the technical subtrees
    katalog: CatalogModel | None = None
    godkjenning: Json | None = None  # SVV's approval without the modell's subtrees
    periodisk_kontroll: Json | None = None  # SVV's EU-kontroll

    @property
    def kjennemerke(self) -> str:
        """The current plate, normalised."""
        return self.plates[-1][0]


def _bosted(entry: Json) -> Bosted | None:
    place = entry.get("bosted")
    if place is None:
        return None
    number = str(place["husnummer"])
    letter = number[-1] if number[-1].isalpha() else ""
    husnr = int(number.rstrip(letter)) << 3 | ("ABCDEFG".index(letter) + 1 if letter else 0)
    return Bosted(place["gate"], husnr, place["postnummer"])


def _person(key: str, entry: Json) -> SisPerson:
    return SisPerson(
        key=key,
        fornavn=entry["fornavn"],
        etternavn=entry["etternavn"],
        fodselsdato=date.fromisoformat(entry["fodselsdato"]),
        adresse=entry.get("adresse"),
        bosted=_bosted(entry),
        fodselsnummer=entry.get("fodselsnummer"),
        mellomnavn=entry.get("mellomnavn"),
        svalbard=bool(entry.get("svalbard", False)),
        kjonn=entry.get("kjonn"),
    )


def _org(key: str, entry: Json) -> SisOrg:
    naering = entry.get("naeringskode")
    return SisOrg(
        key=key,
        navn=entry["navn"],
        orgnr=entry["organisasjonsnummer"],
        naeringskode=None if naering is None else (naering[0], naering[1]),
        adresse=entry.get("adresse"),
        bosted=_bosted(entry),
    )


def _period(entry: Json) -> Period:
    vedtak = entry.get("vedtakstidspunkt")
    return Period(
        fom=epoch(entry["fom"]),
        eier=entry["eier"],
        medeier=entry.get("medeier"),
        leasingtaker=entry.get("leasingtaker"),
        underenhet=entry.get("underenhet"),
        vedtakstidspunkt=None if vedtak is None else epoch(vedtak),
    )


def _vehicle(entry: Json) -> SisVehicle:
    katalog = entry.get("katalogmodell")
    status_fom = entry.get("status_fom")
    return SisVehicle(
        plates=tuple((plate, epoch(fom)) for plate, fom, *_ in entry["kjennemerker"]),
        kjennemerketyper={plate: rest[0] for plate, _, *rest in entry["kjennemerker"] if rest},
        vin=entry["understellsnummer"],
        forstereg=epoch(entry["forstegangsregistrert"]),
        periods=tuple(_period(p) for p in entry["eierskap"]),
        kjoringens_art=entry["kjoringensArt"],
        status=_STATUS[entry["registreringsstatus"]],
        status_fom=None if status_fom is None else epoch(status_fom),
        kuid=entry.get("kuid"),
        imid=entry.get("imid"),
        skjerming=_SKJERMING[entry.get("skjerming", "INGEN")],
        modell=entry.get("modell"),
        katalog=None
        if katalog is None
        else CatalogModel(
            katalog["merke"],
            katalog["handelsbetegnelse"],
            katalog["klasse"],
            katalog["drivstoff"],
            katalog["arsmodell"],
            katalog["farge"],
        ),
        godkjenning=entry.get("godkjenning"),
        periodisk_kontroll=entry.get("periodiskKjoretoyKontroll"),
    )


@cache
def _data() -> Json:
    text = resources.files("kjoretoyregister.svv").joinpath("data/sisdinky.json").read_text()
    data: Json = json.loads(text)
    return data


PERSONS: tuple[SisPerson, ...] = tuple(_person(k, v) for k, v in _data()["personer"].items())
ORGS: tuple[SisOrg, ...] = tuple(_org(k, v) for k, v in _data()["organisasjoner"].items())
VEHICLES: tuple[SisVehicle, ...] = tuple(_vehicle(v) for v in _data()["kjoretoy"])
# SVV's own vehicles: the ones whose every value is SVV's.
SVV_VEHICLES: tuple[SisVehicle, ...] = tuple(v for v in VEHICLES if v.modell is not None)

RESERVED_PLATES: frozenset[str] = frozenset(p for v in VEHICLES for p, _ in v.plates)
