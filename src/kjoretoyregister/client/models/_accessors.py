"""
Convenience accessors mixed into the generated SVV models.

The generated classes in ``_v2`` mirror SVV's schema one to one; what people look for first
(plate, VIN, make, model, status, owner, next control) sits four or five levels deep, so these
mixins add read-only properties that walk the tree and return ``None`` where SVV left a part
out (absent field, or withheld per ``unntattOffentlighet``).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from kjoretoyregister.client.models._base import parse_date

if TYPE_CHECKING:
    from kjoretoyregister.client.models._v2 import (
        Eierforhold,
        Enhet,
        Forstegangsregistrering,
        Generelt,
        Godkjenning,
        Kjennemerke,
        Kjoretoy,
        KjoretoyIdentitet,
        KjoretoyResponse,
        Kunde,
        PeriodiskKjoretoyKontroll,
        Person,
        PersonEnhet,
        Registrering,
        Responskode,
        TekniskeData,
    )

# Each mixin re-declares, for mypy only, the generated fields it reads; at run time the
# pydantic model that inherits it provides them.

# Plate categories that identify the vehicle itself (NORMAL is SVV's deprecated name).
_VEHICLE_PLATE = {"KJORETOY", "NORMAL"}


def _generelt(kjoretoy: KjoretoyAccessors) -> Generelt | None:
    data = kjoretoy.tekniske_data
    return data.generelt if data is not None else None


class PersonEnhetAccessors:
    """Name and identifier of an eier/medeier/leasingtaker/underenhet, person or organisation."""

    if TYPE_CHECKING:
        person: Person | None
        enhet: Enhet | None

    @property
    def er_person(self) -> bool:
        """True for a person, False for an organisation (enhet)."""
        return self.person is not None

    @property
    def navn(self) -> str | None:
        """Full name as SVV spells it: «FORNAVN MELLOMNAVN ETTERNAVN», or the organisation name."""
        if self.person is not None:
            parts = (self.person.fornavn, self.person.mellomnavn, self.person.etternavn)
            return " ".join(p for p in parts if p) or None
        if self.enhet is not None:
            return self.enhet.organisasjonsnavn
        return None

    @property
    def identifikator(self) -> str | None:
        """Fødselsnummer of a person or organisasjonsnummer of an enhet, if delivered."""
        if self.person is not None:
            return self.person.fodselsnummer
        if self.enhet is not None:
            return self.enhet.organisasjonsnummer
        return None


class KjoretoyAccessors:
    """What people look for first in a v2 ``Kjoretoy``."""

    if TYPE_CHECKING:
        kjoretoy_id: KjoretoyIdentitet | None
        forstegangsregistrering: Forstegangsregistrering | None
        eierskap: Eierforhold | None
        kjennemerker: list[Kjennemerke] | None
        registrering: Registrering | None
        godkjenning: Godkjenning | None
        periodisk_kjoretoy_kontroll: PeriodiskKjoretoyKontroll | None

    @property
    def kjennemerke(self) -> str | None:
        """The vehicle's plate at the queried time, formatted as SVV sends it («CU 11297»)."""
        if self.kjoretoy_id is not None and self.kjoretoy_id.kjennemerke:
            return self.kjoretoy_id.kjennemerke
        plates = [k for k in self.kjennemerker or () if k.kjennemerke and k.til_tidspunkt is None]
        for plate in plates:
            if plate.kjennemerkekategori in _VEHICLE_PLATE:
                return plate.kjennemerke
        return plates[0].kjennemerke if plates else None

    @property
    def understellsnummer(self) -> str | None:
        """The VIN (understellsnummer)."""
        return self.kjoretoy_id.understellsnummer if self.kjoretoy_id else None

    @property
    def kuid(self) -> str | None:
        """SVV's vehicle id (kuid, 10 digits)."""
        return self.kjoretoy_id.kuid if self.kjoretoy_id else None

    @property
    def tekniske_data(self) -> TekniskeData | None:
        """``godkjenning.tekniskGodkjenning.tekniskeData``, the technical data block."""
        godkjenning = self.godkjenning
        if godkjenning is None or godkjenning.teknisk_godkjenning is None:
            return None
        return godkjenning.teknisk_godkjenning.tekniske_data

    @property
    def merke(self) -> str | None:
        """Make, e.g. «BMW» (the first ``generelt.merke``)."""
        generelt = _generelt(self)
        if generelt is None or not generelt.merke:
            return None
        return generelt.merke[0].merke

    @property
    def modell(self) -> str | None:
        """Model, i.e. the first ``generelt.handelsbetegnelse``, e.g. «330E»."""
        generelt = _generelt(self)
        if generelt is None or not generelt.handelsbetegnelse:
            return None
        return generelt.handelsbetegnelse[0]

    @property
    def status(self) -> str | None:
        """Registration status code: REGISTRERT, AVREGISTRERT, UREGISTRERT, UTFORT or VRAKET."""
        registrering = self.registrering
        if registrering is None or registrering.registreringsstatus is None:
            return None
        return registrering.registreringsstatus.kode_verdi

    @property
    def eier(self) -> PersonEnhet | None:
        """The owner (``eierskap.eier``) at the queried time."""
        return self.eierskap.eier if self.eierskap else None

    @property
    def medeier(self) -> PersonEnhet | None:
        """The co-owner (``eierskap.medeier``) at the queried time."""
        return self.eierskap.medeier if self.eierskap else None

    @property
    def leasingtaker(self) -> PersonEnhet | None:
        """The lessee (``eierskap.leasingtaker``) at the queried time."""
        return self.eierskap.leasingtaker if self.eierskap else None

    @property
    def eier_navn(self) -> str | None:
        """Owner's full name or organisation name."""
        eier = self.eier
        return eier.navn if eier is not None else None

    @property
    def eier_id(self) -> str | None:
        """Owner's fødselsnummer or organisasjonsnummer."""
        eier = self.eier
        return eier.identifikator if eier is not None else None

    @property
    def leasingtaker_navn(self) -> str | None:
        """Lessee's full name or organisation name."""
        leasingtaker = self.leasingtaker
        return leasingtaker.navn if leasingtaker is not None else None

    @property
    def leasingtaker_id(self) -> str | None:
        """Lessee's fødselsnummer or organisasjonsnummer."""
        leasingtaker = self.leasingtaker
        return leasingtaker.identifikator if leasingtaker is not None else None

    @property
    def forstegangsregistrert(self) -> date | None:
        """First registration in Norway (falls back to the first technical approval's date)."""
        first = self.forstegangsregistrering
        if first is not None and first.registrert_forstegang_norge_dato:
            return parse_date(first.registrert_forstegang_norge_dato)
        godkjenning = self.godkjenning
        if godkjenning is not None and godkjenning.forstegangs_godkjenning is not None:
            return parse_date(godkjenning.forstegangs_godkjenning.forstegang_registrert_dato)
        return None

    @property
    def neste_kontroll(self) -> date | None:
        """Deadline of the next periodic inspection (EU-kontroll); always current, not per dtg."""
        kontroll = self.periodisk_kjoretoy_kontroll
        return parse_date(kontroll.kontrollfrist) if kontroll is not None else None


class KjoretoyResponseAccessors:
    """One vehicle, or a per-item miss with its ``responskoder``."""

    if TYPE_CHECKING:
        kjoretoy: Kjoretoy | None
        responskoder: list[Responskode] | None

    @property
    def funnet(self) -> bool:
        """True when SVV delivered a vehicle for this item."""
        return self.kjoretoy is not None

    @property
    def koder(self) -> list[str]:
        """The ``responskoder`` codes, e.g. ``["KJENNEMERKE_UKJENT"]`` for a miss."""
        return [k.kode for k in self.responskoder or () if k.kode]


class KjoretoysokResponseAccessors:
    """One page of a Kjøretøysøk answer."""

    if TYPE_CHECKING:
        kjoretoyresponser: list[KjoretoyResponse] | None
        kjoretoy: list[KjoretoyResponse] | None

    @property
    def treff(self) -> list[KjoretoyResponse]:
        """The vehicles on this page (``kjoretoyresponser``, or the older ``kjoretoy`` list)."""
        return list(self.kjoretoyresponser or self.kjoretoy or [])


class KundeSokResponseAccessors:
    """One page of a Kundesøk answer."""

    if TYPE_CHECKING:
        kunder: list[Kunde] | None
        treff_liste: list[Kunde] | None

    @property
    def treff(self) -> list[Kunde]:
        """The customers on this page (``kunder``, or the older ``treffListe``)."""
        return list(self.kunder or self.treff_liste or [])
