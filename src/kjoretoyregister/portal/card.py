"""The vehicle card's content: from SVV's ``KjoretoyResponse`` to labelled rows for a template.

Pure functions; the template decides the markup. What a case officer looks for: identity,
make/model, class, fuel, status, first registration, next control, the owner, co-owner and
lessee *at the asked time* (SVV answers as of the dtg), and the plate history.

Codes are shown in words: the kodeverk's ``kodeNavn`` (or ``kodeBeskrivelse``) as SVV sends it,
«Registrert», not «Registrert (REGISTRERT)»; a code without a name is shown as sent.

For a past ``dtg`` SVV answers eierskap, registrering and kjennemerker as of that time, but
technical data and ``periodiskKjoretoyKontroll`` as of today: the card says «Slik var det …»
and labels the EU-kontroll «i dag» (:attr:`VehicleCard.as_of`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kjoretoyregister.client.display import address_text, kjennemerkekategori_text, kode_text
from kjoretoyregister.client.models import (
    Kjoretoy,
    KjoretoyResponse,
    PersonEnhet,
)

MISSING = "–"

#: How «Oppslag» finds a vehicle again, in order of preference (:attr:`VehicleCard.lookup`).
LOOKUP_KINDS = ("kjennemerke", "kuid", "understellsnummer")


@dataclass(frozen=True, slots=True)
class Party:
    """An eier, medeier, leasingtaker or underenhet."""

    role: str
    navn: str
    ident: str | None
    ident_label: str
    adresse: str | None
    periode: str | None


@dataclass(frozen=True, slots=True)
class Plate:
    """One row of the plate history."""

    kjennemerke: str
    kategori: str
    fra: str
    til: str


@dataclass(slots=True)
class VehicleCard:
    """Everything one card shows."""

    title: str
    found: bool
    status: str | None = None
    status_class: str = "ukjent"  # registrert | avregistrert | ukjent (for the CSS badge)
    rows: list[tuple[str, str]] = field(default_factory=list)
    parties: list[Party] = field(default_factory=list)
    plates: list[Plate] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)  # SVV's words for a miss, with the code
    withheld: str | None = None
    as_of: str | None = None  # «2020-01-15 kl. 12:30» when looked up at a past time
    lookup: tuple[str, str] | None = None  # (kind, value) that opens this card in «Oppslag»


def _classification(k: Kjoretoy) -> str | None:
    teknisk = k.godkjenning.teknisk_godkjenning if k.godkjenning else None
    klass = teknisk.kjoretoyklassifisering if teknisk else None
    if klass is None:
        return None
    kode = klass.teknisk_kode.kode_verdi if klass.teknisk_kode else None
    return " – ".join(p for p in (kode, klass.beskrivelse) if p) or None


def _fuel(k: Kjoretoy) -> str | None:
    drivverk = k.tekniske_data.motor_og_drivverk if k.tekniske_data else None
    names: list[str] = []
    for motor in (drivverk.motor if drivverk else None) or ():
        for drivstoff in motor.drivstoff or ():
            name = kode_text(drivstoff.drivstoff_kode)
            if name and name not in names:
                names.append(name)
    return ", ".join(names) or None


def _colour(k: Kjoretoy) -> str | None:
    karosseri = k.tekniske_data.karosseri_og_lasteplan if k.tekniske_data else None
    colours = [kode_text(f) for f in (karosseri.r_farge if karosseri else None) or ()]
    return ", ".join(c for c in colours if c) or None


def _party(role: str, enhet: PersonEnhet) -> Party:
    periode = None
    if enhet.fom_tidspunkt:
        periode = f"fra {enhet.fom_tidspunkt[:10]}"
        if enhet.til_tidspunkt:
            periode += f" til {enhet.til_tidspunkt[:10]}"
    return Party(
        role=role,
        navn=enhet.navn or MISSING,
        ident=enhet.identifikator,
        ident_label="Fødselsnummer" if enhet.er_person else "Organisasjonsnummer",
        adresse=address_text(enhet.adresse),
        periode=periode,
    )


def _lookup(k: Kjoretoy) -> tuple[str, str] | None:
    for kind, value in zip(LOOKUP_KINDS, (k.kjennemerke, k.kuid, k.understellsnummer), strict=True):
        if value:
            return kind, value
    return None


def vehicle_card(
    answer: KjoretoyResponse, *, asked: str = "", as_of: str | None = None
) -> VehicleCard:
    """The card for one answer item (a vehicle, or a miss with its response codes).

    Args:
        answer: one item of SVV's answer.
        asked: what was looked up (the title of a miss).
        as_of: the past time asked for, as shown to the person (None = now).
    """
    k = answer.kjoretoy
    if k is None:
        misses = [
            f"{r.beskrivelse} ({r.kode})" if r.beskrivelse and r.kode else r.beskrivelse or r.kode
            for r in answer.responskoder or ()
            if r.beskrivelse or r.kode
        ]
        return VehicleCard(
            title=asked or "Ikke funnet",
            found=False,
            codes=answer.koder,
            misses=[m for m in misses if m],
            as_of=as_of,
        )
    make_model = " ".join(p for p in (k.merke, k.modell) if p) or None
    registrering = k.registrering
    status_text = (
        kode_text(registrering.registreringsstatus) if registrering is not None else None
    ) or k.status
    card = VehicleCard(
        title=" · ".join(p for p in (k.kjennemerke, make_model) if p) or "Kjøretøy",
        found=True,
        status=status_text,
        status_class="registrert"
        if k.status == "REGISTRERT"
        else ("avregistrert" if k.status else "ukjent"),
        as_of=as_of,
        lookup=_lookup(k),
    )
    first = k.forstegangsregistrert
    control = k.neste_kontroll
    # SVV's EU-kontroll is always today's, whatever the dtg: say so on a card of the past.
    control_label = "Neste EU-kontroll (i dag)" if as_of else "Neste EU-kontroll"
    for label, value in (
        ("Kjennemerke", k.kjennemerke),
        ("Understellsnummer", k.understellsnummer),
        ("Kuid", k.kuid),
        ("Merke og modell", make_model),
        ("Kjøretøyklasse", _classification(k)),
        ("Drivstoff", _fuel(k)),
        ("Farge", _colour(k)),
        ("Status", status_text),
        ("Først registrert", first.isoformat() if first else None),
        (control_label, control.isoformat() if control else None),
    ):
        card.rows.append((label, value or MISSING))
    eierskap = k.eierskap
    for role, enhet in (
        ("Eier", k.eier),
        ("Medeier", k.medeier),
        ("Leasingtaker", k.leasingtaker),
        ("Underenhet", eierskap.underenhet if eierskap else None),
    ):
        if enhet is not None:
            card.parties.append(_party(role, enhet))
    for plate in k.kjennemerker or ():
        card.plates.append(
            Plate(
                kjennemerke=plate.kjennemerke or MISSING,
                kategori=kjennemerkekategori_text(plate.kjennemerkekategori) or "",
                fra=(plate.fom_tidspunkt or "")[:10],
                til=(plate.til_tidspunkt or "")[:10],
            )
        )
    withheld = k.kjoretoy_id.unntatt_offentlighet if k.kjoretoy_id else None
    if withheld:
        card.withheld = ", ".join(kode_text(w) or "" for w in withheld)
    return card
