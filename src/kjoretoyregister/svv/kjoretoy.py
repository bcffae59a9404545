"""Build v2 ``Kjoretoy`` JSON objects from register rows, as of a point in time (dtg).

Only eierskap, registrering and kjennemerke follow the dtg (svv-api.md §3); technical data and
periodiskKjoretoyKontroll are always current. A role, plate or registration that was valid at
the dtg but has ended since carries ``tilTidspunkt``. Absent fields are left out, never null.

The big technical subtree is built once per (variant, colour) and shared between vehicles;
nothing here mutates a shared dict. For catalogue variants it is held as pre-serialised JSON
(``orjson.Fragment``): it is some 300 objects and 6 kB per vehicle, and a bulk answer then
copies its bytes instead of encoding them again for every vehicle. Code that reads
``tekniskeData`` in-process parses it first (:func:`plain`); SVV's own (sisdinky) vehicles keep
plain dicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import orjson

from kjoretoyregister.svv import kodeverk
from kjoretoyregister.svv.addresses import street_address
from kjoretoyregister.svv.identifiers import fodselsdato_from_fodselsnummer, format_kjennemerke
from kjoretoyregister.svv.registerfile import (
    EIER,
    FLAGG_BRUKTIMPORT,
    KUNDE_SVALBARD,
    KUNDE_UNNTATT,
    KUNDE_UVERIFISERT,
    PERSON,
    ROLLER,
    SKJERMING_EIERSKAP,
)
from kjoretoyregister.svv.tidspunkt import (
    OSLO,
    format_date,
    format_time,
    periodisk_kontroll,
    registrering_at,
    start_of_day,
    valid_at,
)

__all__ = [
    "OSLO",
    "KjoretoyBuilder",
    "Lookups",
    "Party",
    "Variant",
    "format_date",
    "format_time",
    "plain",
    "registrering_at",
    "valid_at",
]

Json = dict[str, Any]
# Row shapes as selected by the register (column order of registerfile, see register.py).
VehicleRow = tuple[Any, ...]  # kuid, vin, variant, farge, forstereg, status, status_fom,
#                               avreg_fom, avreg_tom, art, skjerming, flagg, imid
PlateRow = tuple[Any, ...]  # kuid, fom, kjennemerke, tom, kategori
RoleRow = tuple[Any, ...]  # kuid, rolle, fom, tom, kunde
KundeRow = tuple[Any, ...]  # id, type, ident, fornavn, mellomnavn, etternavn, orgnavn,
#                             fonetisk, gate, husnr, post, flagg, naering

# Shared kodeverk objects, as module globals for the hot path.
_KJORETOY = kodeverk.KATEGORI_KJORETOY
_KATEGORIER = kodeverk.KJENNEMERKEKATEGORI
_ORDINART = kodeverk.KJENNEMERKETYPE_ORDINART
_STATUS = kodeverk.REGISTRERINGSSTATUS
_ART = kodeverk.KJORINGENS_ART
_FORTOLLING_FROM = "2019-01-01"  # first registrations with customs data in the approval
_IMPORT_COUNTRIES = (
    ("Tyskland", "DEU"),
    ("Sverige", "SWE"),
    ("Danmark", "DNK"),
    ("Nederland", "NLD"),
    ("Belgia", "BEL"),
)


@dataclass(frozen=True, slots=True)
class Variant:
    """A model variant as stored in the register file."""

    merkekode: str
    klasse: str
    undertype: Json
    klassifisering: Json
    tekniske_data: Json
    fixed: bool = False  # a sisdinky vehicle's own: SVV's data, colour included
    krav: list[Json] = field(default_factory=list)  # of the approval (catalogue variants)
    merknader: list[Json] = field(default_factory=list)  # kjoretoymerknad (catalogue variants)


@dataclass(frozen=True, slots=True)
class Party:
    """A role holder: its ``PersonEnhet`` (without fom/til) and, for units, its næringskode."""

    enhet: Json
    naering: tuple[str, str] | None


@dataclass(frozen=True, slots=True)
class Lookups:
    """The small tables of a register file, loaded once."""

    navn: dict[int, str]
    gater: list[str]
    poststeder: list[tuple[str, str, str, str, str]]  # postnr, sted, kommunenr, kommune, fylke
    fylker: dict[str, str]
    naering: list[tuple[str, str]]
    farger: list[Json]
    variants: list[Variant]
    as_of: int
    adresser: dict[int, Json]  # kundeId -> SVV's own Adresse (sisdinky kunder)
    fastdata: dict[int, Json]  # kuid -> SVV's own values of a sisdinky vehicle


class KjoretoyBuilder:
    """Turns rows into ``Kjoretoy`` objects; caches per-variant subtrees (thread-safe enough:
    a lost race only builds the same value twice)."""

    def __init__(self, lookups: Lookups) -> None:
        self.lookups = lookups
        self._teknisk: dict[tuple[int, int], Any] = {}
        # The part of an address that depends on the postal area only.
        self._post_parts: list[Json] = [
            {
                "postnummer": postnummer,
                "poststed": poststed,
                "kommunenummer": kommunenummer,
                "kommunenavn": kommunenavn,
                "land": "Norge",
                "landkode": "NOR",
            }
            for postnummer, poststed, kommunenummer, kommunenavn, _ in lookups.poststeder
        ]

    def tekniske_data(self, variant: int, farge: int) -> Any:
        """The shared ``tekniskeData`` of a variant painted ``farge``: SVV's own dict for a
        sisdinky variant, else the catalogue variant's as an ``orjson.Fragment``."""
        key = (variant, farge)
        cached = self._teknisk.get(key)
        if cached is not None:
            return cached
        base = self.lookups.variants[variant].tekniske_data
        if self.lookups.variants[variant].fixed:
            return base
        karosseri = {**base["karosseriOgLasteplan"], "rFarge": [self.lookups.farger[farge]]}
        data = orjson.Fragment(orjson.dumps({**base, "karosseriOgLasteplan": karosseri}))
        return self._teknisk.setdefault(key, data)

    def party(self, row: KundeRow) -> Party:
        """The kunde as a role holder (its PersonEnhet is shared by all its roles)."""
        naering = row[12]
        return Party(
            self.person_enhet(row), None if naering is None else self.lookups.naering[naering]
        )

    def person_enhet(self, row: KundeRow) -> Json:
        """The ``PersonEnhet`` of a kunde, without fom/til."""
        (
            kunde_id,
            kind,
            ident,
            fornavn,
            mellomnavn,
            etternavn,
            orgnavn,
            _,
            gate,
            husnr,
            post,
            flagg,
            _,
        ) = row
        result: Json
        if kind == PERSON:
            fnr = f"{ident:011d}"
            person: Json = {"fodselsnummer": fnr, "fornavn": self.lookups.navn[fornavn]}
            if mellomnavn:
                person["mellomnavn"] = self.lookups.navn[mellomnavn]
            person["etternavn"] = self.lookups.navn[etternavn]
            born = _fodselsdato(fnr)
            if born is not None:
                person["fodselsdato"] = born
            result = {"person": person}
        else:
            result = {
                "enhet": {"organisasjonsnummer": f"{ident:09d}", "organisasjonsnavn": orgnavn}
            }
        if flagg & KUNDE_UNNTATT:
            result["erUnntattOffentlighet"] = True
        else:
            fixed = self.lookups.adresser.get(kunde_id)
            result["adresse"] = self.adresse(gate, husnr, post) if fixed is None else fixed
        if kind == PERSON:
            result["adressestatus"] = kodeverk.ADRESSESTATUS[
                kodeverk.SVALBARD if flagg & KUNDE_SVALBARD else kodeverk.BOSATT
            ]
        result["erUverifisert"] = bool(flagg & KUNDE_UVERIFISERT)
        result["kundeId"] = str(kunde_id)
        return result

    def adresse(self, gate: int, husnr: int, post: int) -> Json:
        """A Norwegian postal address."""
        line = street_address(self.lookups.gater[gate], husnr)
        return {"adresselinje1": line, **self._post_parts[post]}

    def hidden(self, vehicle: VehicleRow, plates: list[PlateRow], dtg: float | None) -> Json:
        """What is left of a wholly withheld vehicle (the bulk answer shows none of it)."""
        plate = _current_plate(plates, dtg)
        ident: Json = {}
        if plate is not None:
            ident["kjennemerke"] = format_kjennemerke(plate)
        ident["unntattOffentlighet"] = [kodeverk.EIERSKAP, kodeverk.TEKNISK_DATA]
        return {"kjoretoyId": ident}

    def build(
        self,
        vehicle: VehicleRow,
        plates: list[PlateRow],
        roles: list[RoleRow],
        parties: dict[int, Party],
        dtg: float | None,
    ) -> Json | None:
        """The ``Kjoretoy`` as of ``dtg`` (None = now); None before its first registration.

        ``parties`` maps kunde ids to :meth:`party` results for at least the role holders
        valid at ``dtg``.
        """
        (
            kuid,
            vin,
            variant_id,
            farge,
            forstereg,
            status,
            status_fom,
            avreg_fom,
            avreg_tom,
            art,
            skjerming,
            flagg,
            imid,
        ) = vehicle
        if dtg is not None and dtg < forstereg:
            return None
        variant = self.lookups.variants[variant_id]
        if dtg is None:
            valid_plates = [row for row in plates if row[3] is None]
            valid_roles = [row for row in roles if row[3] is None]
        else:
            valid_plates = [r for r in plates if r[1] <= dtg and (r[3] is None or dtg < r[3])]
            valid_roles = [r for r in roles if r[2] <= dtg and (r[3] is None or dtg < r[3])]
        withheld = skjerming == SKJERMING_EIERSKAP

        # Plates valid at the dtg; the vehicle's own (KJORETOY) plate names it in kjoretoyId.
        fast = self.lookups.fastdata.get(kuid)
        types: Json = {} if fast is None else fast["kjennemerketyper"]
        kjennemerke: list[Json] = []
        own_plate = personal_plate = None
        for row in valid_plates:
            text = format_kjennemerke(row[2])
            if row[4] == _KJORETOY:
                own_plate = own_plate or text
            else:
                personal_plate = text
            item: Json = {
                "kjennemerke": text,
                "kjennemerkekategori": _KATEGORIER[row[4]],
                "kjennemerketype": types.get(row[2], _ORDINART),
                "fomTidspunkt": format_time(row[1]),
            }
            if row[3] is not None:
                item["tilTidspunkt"] = format_time(row[3])
            kjennemerke.append(item)
        ident: Json = {"kuid": str(kuid)}
        if own_plate or personal_plate:
            ident["kjennemerke"] = own_plate or personal_plate
        ident["understellsnummer"] = vin
        ident["merkekode"] = variant.merkekode
        if imid:
            ident["imid"] = imid
        ident["kjoretoyErKryssbyttet"] = False
        ident["kryssbytter"] = []
        ident["unntattOffentlighet"] = [kodeverk.EIERSKAP] if withheld else []
        first = format_time(forstereg)
        result: Json = {
            "kjoretoyId": ident,
            "forstegangsregistrering": {"registrertForstegangNorgeDato": first[:10]},
        }

        # Roles come in primary-key order (rolle, fom): the eier, if any, first.
        eier_row = valid_roles[0] if valid_roles and valid_roles[0][1] == EIER else None
        if valid_roles and not withheld:
            eierskap: Json = {}
            latest: float = 0
            for _, rolle, fom, tom, kunde in valid_roles:
                latest = max(latest, fom)
                if tom is None:
                    holder = {**parties[kunde].enhet, "fomTidspunkt": format_time(fom)}
                else:
                    holder = {
                        **parties[kunde].enhet,
                        "fomTidspunkt": format_time(fom),
                        "tilTidspunkt": format_time(tom),
                    }
                eierskap[ROLLER[rolle]] = holder
            eierskap["vedtakstidspunkt"] = format_time(_vedtak(fast, latest))
            result["eierskap"] = eierskap
        result["kjennemerke"] = kjennemerke

        eier_starts = [r[2] for r in roles if r[1] == EIER]  # primary-key order: sorted
        avreg = (avreg_fom, avreg_tom) if avreg_fom is not None else None
        reg_status, reg_fom, reg_tom = registrering_at(
            forstereg, eier_starts, status, status_fom, avreg, dtg
        )
        registrering: Json = {"fomTidspunkt": format_time(reg_fom)}
        if reg_tom is not None:
            registrering["tilTidspunkt"] = format_time(reg_tom)
        registrering["registreringsstatus"] = _STATUS[reg_status]
        registrering["kjoringensArt"] = _ART[art]
        if eier_row is not None:
            if reg_status == kodeverk.REGISTRERT:
                registrering["registrertForstegangPaEierskap"] = format_time(eier_row[2])
            naering = None if withheld else parties[eier_row[4]].naering
            if naering is not None:
                registrering["neringskode"], registrering["neringskodeBeskrivelse"] = naering
        result["registrering"] = registrering

        if fast is not None:
            # SVV's own values: its approval around the variant's subtrees, its EU-kontroll.
            result["godkjenning"] = self._fixed_godkjenning(fast, variant, variant_id)
            result["periodiskKjoretoyKontroll"] = fast["periodiskKjoretoyKontroll"]
            return result
        result["godkjenning"] = self._godkjenning(kuid, variant, variant_id, farge, flagg, first)
        pkk = periodisk_kontroll(variant.klasse, status, forstereg, kuid, self.lookups.as_of)
        if pkk is not None:
            result["periodiskKjoretoyKontroll"] = pkk
        return result

    def _fixed_godkjenning(self, fast: Json, variant: Variant, variant_id: int) -> Json:
        godkjenning: Json = fast["godkjenning"]
        teknisk = {
            **godkjenning["tekniskGodkjenning"],
            "godkjenningsundertype": variant.undertype,
            "kjoretoyklassifisering": variant.klassifisering,
            "tekniskeData": self.tekniske_data(variant_id, 0),
        }
        return {**godkjenning, "tekniskGodkjenning": teknisk}

    def _godkjenning(
        self, kuid: int, variant: Variant, variant_id: int, farge: int, flagg: int, first: str
    ) -> Json:
        godkjenning_id = str(5_000_000 + (kuid * 7919) % 4_000_000)
        day = first[:10]
        valid_from = start_of_day(day)  # SVV: the approval holds from midnight, no millis
        forstegang: Json
        if day >= _FORTOLLING_FROM:
            # Customs clearance as Tolletaten reports it to SVV for vehicles cleared lately.
            forstegang = {
                "forstegangRegistrertDato": day,
                "fortollingOgMva": {
                    "beskrivelse": "Utfyllende beskrivelse",
                    "fortollingsreferanse": str(kuid * 2_654_435_761 % 10**19),
                    "linje": 1,
                },
                "godkjenningsId": godkjenning_id,
                "godkjenningsundertype": variant.undertype,
                "gyldigFraDato": day,
                "gyldigFraDatoTid": valid_from,
                "unntak": [],
            }
        else:
            forstegang = {
                "forstegangRegistrertDato": day,
                "godkjenningsId": godkjenning_id,
                "godkjenningsundertype": variant.undertype,
                "gyldigFraDato": day,
                "gyldigFraDatoTid": valid_from,
                "unntak": [],
            }
        if flagg & FLAGG_BRUKTIMPORT:
            land, kode = _IMPORT_COUNTRIES[kuid % len(_IMPORT_COUNTRIES)]
            forstegang["bruktimport"] = {
                "importland": {"landNavn": land, "landkode": kode},
                "kilometerstand": 8_000 + (kuid * 31) % 140_000,
            }
        return {
            "forstegangsGodkjenning": forstegang,
            "kjoretoymerknad": variant.merknader,
            "registreringsbegrensninger": {"registreringsbegrensning": []},
            "tekniskGodkjenning": {
                "godkjenningsId": godkjenning_id,
                "godkjenningsundertype": variant.undertype,
                "gyldigFraDato": day,
                "gyldigFraDatoTid": valid_from,
                "kjoretoyklassifisering": variant.klassifisering,
                "krav": variant.krav,
                "tekniskeData": self.tekniske_data(variant_id, farge),
                "unntak": [],
            },
            "tilleggsgodkjenninger": [],
        }


def plain(kjoretoy: Json) -> Json:
    """A ``Kjoretoy`` as plain JSON values (pre-serialised parts parsed), for reading in-process."""
    result: Json = orjson.loads(orjson.dumps(kjoretoy))
    return result


def _vedtak(fast: Json | None, latest: float) -> float:
    """The vedtakstidspunkt of roles that began at ``latest``: a moment later, as at SVV (its
    own where known, else 20 to 330 ms later)."""
    if fast is not None:
        for fom, vedtak in fast["vedtak"]:
            if round(fom * 1000) == round(latest * 1000):
                return float(vedtak)
    return latest + (20 + round(latest * 1000) % 311) / 1000


def _fodselsdato(fnr: str) -> str | None:
    """The ISO birth date of a fødselsnummer, cached by date digits and century range."""
    ind = fnr[6:9]
    representative = (
        "000" if ind < "500" else "500" if ind < "750" else "750" if ind < "900" else "900"
    )
    return _birth_iso(fnr[:6], representative)


@lru_cache(maxsize=131_072)
def _birth_iso(date_digits: str, individnummer: str) -> str | None:
    # The century follows from the range the individual number is in, not its exact value.
    born = fodselsdato_from_fodselsnummer(f"{date_digits}{individnummer}00")
    return None if born is None else born.isoformat()


def _current_plate(plates: list[PlateRow], dtg: float | None) -> str | None:
    """The vehicle's own (KJORETOY) plate at ``dtg``, else a personal one."""
    personal = None
    for row in plates:
        if valid_at(row[1], row[3], dtg):
            if row[4] == kodeverk.KATEGORI_KJORETOY:
                return str(row[2])
            personal = str(row[2])
    return personal
