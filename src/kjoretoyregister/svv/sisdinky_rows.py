"""The register rows of the sisdinky vehicles (:mod:`.sisdinky`), for ``svv generate``.

They go after the generated rows, and so do the lookup entries only they use: the names of
SVV's test persons that the generator's word lists lack, SVV's næringskoder texts, and one model
variant per SVV vehicle with SVV's technical data. The generator's own lookup ids stay as they
are, so the generated part of a register does not depend on this data.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import orjson

from kjoretoyregister.svv import kodeverk, sisdinky
from kjoretoyregister.svv.addresses import POSTSTEDER, STREETS
from kjoretoyregister.svv.catalog import VARIANTS, find_variant
from kjoretoyregister.svv.identifiers import make_fodselsnummer
from kjoretoyregister.svv.persons import ETTERNAVN, FORNAVN, NAERINGSKODER, phonetic_key
from kjoretoyregister.svv.registerfile import (
    ETTERNAVN_BASE,
    KUNDE_SVALBARD,
    ORGANISASJON,
    PERSON,
    ROLLER,
    SISDINKY_KUNDE_BASE,
)

Row = tuple[Any, ...]
# kuids of the sisdinky vehicles that have no published one.
_KUID_FIRST, _KUID_STEP = 3_378_150_000, 97


@dataclass(frozen=True, slots=True)
class Lookups:
    """Lookup entries to add after the generator's: (id, …) rows per table."""

    navn: list[Row]  # (id, liste, navn)
    poststeder: list[Row]  # (id, postnummer, poststed, kommunenummer, kommunenavn, fylke)
    naeringskoder: list[Row]  # (id, kode, beskrivelse)
    modellvarianter: list[Row]  # (id, merkekode, klasse, data)


def _extra(words: tuple[str, ...], wanted: list[str]) -> list[str]:
    known = set(words)
    return list(dict.fromkeys(w for w in wanted if w not in known))


@cache
def lookups() -> Lookups:
    """The lookup rows only the sisdinky vehicles need (the same for every register)."""
    persons = sisdinky.PERSONS
    fornavn = _extra(FORNAVN, [p.fornavn for p in persons])
    etternavn = _extra(ETTERNAVN, [n for p in persons for n in (p.mellomnavn, p.etternavn) if n])
    navn: list[Row] = [(len(FORNAVN) + i + 1, "F", n) for i, n in enumerate(fornavn)]
    navn += [(ETTERNAVN_BASE + len(ETTERNAVN) + i + 1, "E", n) for i, n in enumerate(etternavn)]
    codes = [o.naeringskode for o in sisdinky.ORGS if o.naeringskode is not None]
    extra_codes = [c for c in dict.fromkeys(codes) if c not in NAERINGSKODER]
    naering: list[Row] = [(len(NAERINGSKODER) + i, *c) for i, c in enumerate(extra_codes)]
    variants: list[Row] = []
    for vehicle in sisdinky.SVV_VEHICLES:
        modell = vehicle.modell
        if modell is None:
            raise ValueError(f"{vehicle.kjennemerke}: an SVV vehicle without SVV's modell")
        data = {
            "fast": True,
            "godkjenningsundertype": modell["godkjenningsundertype"],
            "kjoretoyklassifisering": modell["kjoretoyklassifisering"],
            "tekniskeData": modell["tekniskeData"],
        }
        row = (len(VARIANTS) + len(variants), modell["merkekode"], modell["klasse"])
        variants.append((*row, orjson.dumps(data).decode()))
    return Lookups(navn, _poststeder(), naering, variants)


def _poststeder() -> list[Row]:
    """The postal areas of SVV's addresses that the generator's list lacks."""
    known = {p.postnummer for p in POSTSTEDER}
    found: dict[str, Row] = {}
    addresses = [p.adresse for p in sisdinky.PERSONS] + [o.adresse for o in sisdinky.ORGS]
    for given in addresses:
        adresse = given or {}
        postnummer = adresse.get("postnummer")
        if postnummer is None or postnummer in known or postnummer in found:
            continue
        kommune = adresse.get("kommunenummer", "")
        found[postnummer] = (
            len(POSTSTEDER) + len(found),
            postnummer,
            adresse.get("poststed", ""),
            kommune,
            adresse.get("kommunenavn", "").upper(),
            kommune[:2],
        )
    return list(found.values())


def _fodselsnummer(person: sisdinky.SisPerson, used: set[str]) -> str:
    """A synthetic number outside the generator's individual-number ranges (so never shared)."""
    if person.fodselsnummer is not None:
        return person.fodselsnummer
    birth = person.fodselsdato
    first = 900 if 1940 <= birth.year <= 1999 else 500 if birth.year >= 2000 else 0
    for individnummer in range(first, first + 10):
        if person.kjonn is not None and (individnummer % 2 == 1) != (person.kjonn == "M"):
            continue
        number = make_fodselsnummer(birth, individnummer)
        if number is not None and number not in used:
            used.add(number)
            return number
    raise ValueError(f"no free synthetic fødselsnummer for {person.key}")


class _Places:
    """Street, number and postal-area index of a kunde (the address columns of ``kunder``)."""

    def __init__(self, extra: list[Row]) -> None:
        self.post = {p.postnummer: i for i, p in reversed(list(enumerate(POSTSTEDER)))}
        self.post.update({row[1]: row[0] for row in extra})
        self.sted = {p.poststed: i for i, p in reversed(list(enumerate(POSTSTEDER)))}
        self.street = {name: i for i, name in enumerate(STREETS)}

    def columns(self, bosted: sisdinky.Bosted | None, adresse: dict[str, Any] | None) -> Row:
        if bosted is not None:
            return self.street[bosted.gate], bosted.husnr, self.post[bosted.postnummer]
        # SVV's own address: its postal area (for searches by place), or one by the name.
        adresse = adresse or {}
        post = self.post.get(adresse.get("postnummer", ""))
        if post is None:
            post = self.sted.get(adresse.get("poststed", ""), 0)
        return 0, 0, post


def rows() -> dict[str, list[Row]]:
    """Rows for kunder, kundeadresser, kjoretoy, fastdata, kjennemerker and eierskap."""
    extra = lookups()
    fornavn_id = {n: i + 1 for i, n in enumerate(FORNAVN)}
    etternavn_id = {n: ETTERNAVN_BASE + i + 1 for i, n in enumerate(ETTERNAVN)}
    for ident, liste, navn in extra.navn:
        (fornavn_id if liste == "F" else etternavn_id)[navn] = ident
    naering_id = {c: i for i, c in enumerate(NAERINGSKODER)}
    naering_id.update({(kode, tekst): i for i, kode, tekst in extra.naeringskoder})
    places = _Places(extra.poststeder)
    kunde_id: dict[str, int] = {}
    kunder: list[Row] = []
    adresser: list[Row] = []
    used: set[str] = set()
    for person in sisdinky.PERSONS:
        ident = kunde_id[person.key] = SISDINKY_KUNDE_BASE + len(kunder) + 1
        kunder.append(
            (
                ident,
                PERSON,
                int(_fodselsnummer(person, used)),
                fornavn_id[person.fornavn],
                etternavn_id[person.mellomnavn] if person.mellomnavn else None,
                etternavn_id[person.etternavn],
                None,
                None,
                *places.columns(person.bosted, person.adresse),
                KUNDE_SVALBARD if person.svalbard else 0,
                None,
            )
        )
        if person.adresse is not None:
            adresser.append((ident, _dumps(person.adresse)))
    for org in sisdinky.ORGS:
        ident = kunde_id[org.key] = SISDINKY_KUNDE_BASE + len(kunder) + 1
        kunder.append(
            (
                ident,
                ORGANISASJON,
                int(org.orgnr),
                None,
                None,
                None,
                org.navn,
                phonetic_key(org.navn),
                *places.columns(org.bosted, org.adresse),
                0,
                None if org.naeringskode is None else naering_id[org.naeringskode],
            )
        )
        if org.adresse is not None:
            adresser.append((ident, _dumps(org.adresse)))
    tables = _vehicle_rows(kunde_id, extra)
    return {"kunder": sorted(kunder), "kundeadresser": sorted(adresser), **tables}


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _vehicle_rows(kunde_id: dict[str, int], extra: Lookups) -> dict[str, list[Row]]:
    colour = {f["kodeVerdi"]: i for i, f in enumerate(kodeverk.FARGER)}
    art = {k["kodeVerdi"]: i for i, k in enumerate(kodeverk.KJORINGENS_ART)}
    fixed_variant = iter(row[0] for row in extra.modellvarianter)
    kjoretoy: list[Row] = []
    fastdata: list[Row] = []
    kjennemerker: list[Row] = []
    eierskap: list[Row] = []
    for n, vehicle in enumerate(sisdinky.VEHICLES):
        kuid = vehicle.kuid or _KUID_FIRST + _KUID_STEP * n
        if vehicle.katalog is not None:
            model = vehicle.katalog
            variant = find_variant(
                model.merke, model.handelsbetegnelse, model.klasse, model.fuel, model.year
            ).id
            farge = colour[model.farge]
        else:
            variant, farge = next(fixed_variant), 0
            fast = {
                "godkjenning": vehicle.godkjenning,
                "periodiskKjoretoyKontroll": vehicle.periodisk_kontroll,
                "kjennemerketyper": {
                    plate: kodeverk.KJENNEMERKETYPER[kode]
                    for plate, kode in vehicle.kjennemerketyper.items()
                },
                "vedtak": [
                    [p.fom, p.vedtakstidspunkt]
                    for p in vehicle.periods
                    if p.vedtakstidspunkt is not None
                ],
            }
            fastdata.append((kuid, _dumps(fast)))
        kjoretoy.append(
            (
                kuid,
                vehicle.vin,
                variant,
                farge,
                vehicle.forstereg,
                vehicle.status,
                vehicle.status_fom,
                None,
                None,
                art[vehicle.kjoringens_art],
                vehicle.skjerming,
                0,
                vehicle.imid,
            )
        )
        for i, (plate, fom) in enumerate(vehicle.plates):
            tom = vehicle.plates[i + 1][1] if i + 1 < len(vehicle.plates) else None
            kjennemerker.append((kuid, fom, plate, tom, kodeverk.KATEGORI_KJORETOY))
        for rolle, attr in enumerate(ROLLER):
            eierskap.extend(_role_intervals(kuid, rolle, attr, vehicle.periods, kunde_id))
    return {
        "kjoretoy": sorted(kjoretoy),
        "fastdata": sorted(fastdata),
        "kjennemerker": sorted(kjennemerker, key=lambda r: (r[0], r[1], r[2])),
        "eierskap": sorted(eierskap, key=lambda r: (r[0], r[1], r[2])),
    }


def _role_intervals(
    kuid: int,
    rolle: int,
    attr: str,
    periods: tuple[sisdinky.Period, ...],
    kunde_id: dict[str, int],
) -> list[Row]:
    """Merge consecutive periods with the same holder of a role into one interval."""
    found: list[Row] = []
    current: tuple[str, float] | None = None
    for period in periods:
        holder = getattr(period, attr)
        if current is not None and holder != current[0]:
            found.append((kuid, rolle, current[1], period.fom, kunde_id[current[0]]))
            current = None
        if holder is not None and current is None:
            current = (holder, period.fom)
    if current is not None:
        found.append((kuid, rolle, current[1], None, kunde_id[current[0]]))
    return found
