"""
Readable rich renderings of SVV answers: a vehicle card, a hit table, a customer table.

Used by ``kjoretoyregister oppslag``/``sok``; pure functions from models to rich renderables,
so they can be printed to a terminal or captured in tests.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich import box
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from kjoretoyregister.client.display import address_text, kjennemerkekategori_text, kode_text
from kjoretoyregister.client.models import (
    Kjoretoy,
    KjoretoyResponse,
    Kunde,
    PersonEnhet,
)

__all__ = ["hit_table", "kunde_table", "vehicle_card", "vehicle_cards"]

_MISSING = "–"


def _role(enhet: PersonEnhet) -> str:
    """Name, identifier and address of one eier/medeier/leasingtaker/underenhet."""
    ident = enhet.identifikator
    label = "fnr" if enhet.er_person else "orgnr"
    text = enhet.navn or _MISSING
    if ident:
        text += f" ({label} {ident})"
    elif enhet.person is not None and enhet.person.fodselsdato:
        text += f" (født {enhet.person.fodselsdato})"
    address = address_text(enhet.adresse)
    if address:
        text += f"\n{address}"
    if enhet.fom_tidspunkt:
        text += f"\nfra {enhet.fom_tidspunkt[:10]}"
        if enhet.til_tidspunkt:
            text += f" til {enhet.til_tidspunkt[:10]}"
    return text


def _classification(kjoretoy: Kjoretoy) -> str | None:
    godkjenning = kjoretoy.godkjenning
    teknisk = godkjenning.teknisk_godkjenning if godkjenning else None
    klassifisering = teknisk.kjoretoyklassifisering if teknisk else None
    if klassifisering is None:
        return None
    kode = klassifisering.teknisk_kode.kode_verdi if klassifisering.teknisk_kode else None
    beskrivelse = klassifisering.beskrivelse
    return " ".join(p for p in (kode, f"({beskrivelse})" if beskrivelse else None) if p) or None


def _fuel(kjoretoy: Kjoretoy) -> str | None:
    data = kjoretoy.tekniske_data
    drivverk = data.motor_og_drivverk if data else None
    names: list[str] = []
    for motor in (drivverk.motor if drivverk else None) or ():
        for drivstoff in motor.drivstoff or ():
            name = kode_text(drivstoff.drivstoff_kode)
            if name and name not in names:
                names.append(name)
    return ", ".join(names) or None


def _colour(kjoretoy: Kjoretoy) -> str | None:
    data = kjoretoy.tekniske_data
    karosseri = data.karosseri_og_lasteplan if data else None
    colours = [kode_text(f) for f in (karosseri.r_farge if karosseri else None) or ()]
    return ", ".join(c for c in colours if c) or None


def _plates(kjoretoy: Kjoretoy) -> str | None:
    lines = []
    for plate in kjoretoy.kjennemerker or ():
        span = f"{(plate.fom_tidspunkt or '')[:10]} – {(plate.til_tidspunkt or '')[:10]}".strip()
        kind = kjennemerkekategori_text(plate.kjennemerkekategori) or ""
        lines.append(f"{plate.kjennemerke or _MISSING}  {kind}  {span}".rstrip())
    return "\n".join(lines) or None


def _make_model(kjoretoy: Kjoretoy) -> str | None:
    return " ".join(p for p in (kjoretoy.merke, kjoretoy.modell) if p) or None


def vehicle_card(
    answer: KjoretoyResponse, *, request: str | None = None, as_of: str | None = None
) -> RenderableType:
    """
    A panel with what a case officer looks for: identity, make, status, dates, roles, plates.

    Args:
        answer: one item of an oppslag/søk answer (a vehicle or a miss).
        request: what was asked for (shown on a miss).
        as_of: the ``dtg`` asked for, if any: the card says it shows the vehicle as it was
            then, and marks the EU-kontroll (which SVV gives as of today) as today's.
    """
    kjoretoy = answer.kjoretoy
    if kjoretoy is None:
        codes = ", ".join(
            f"{k.kode}: {k.beskrivelse}" if k.beskrivelse else str(k.kode)
            for k in answer.responskoder or ()
        )
        title = f"{request} – ikke funnet" if request else "Ikke funnet"
        return Panel(
            Text(codes or "Ingen kjøretøy"), title=title, border_style="yellow", expand=False
        )
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    status = kjoretoy.status
    registrering = kjoretoy.registrering
    status_text = (
        kode_text(registrering.registreringsstatus) if registrering is not None else None
    ) or status
    rows: list[tuple[str, str | None]] = [
        ("Kjennemerke", kjoretoy.kjennemerke),
        ("Understellsnummer", kjoretoy.understellsnummer),
        ("Kuid", kjoretoy.kuid),
        ("Merke/modell", _make_model(kjoretoy)),
        ("Kjøretøyklasse", _classification(kjoretoy)),
        ("Drivstoff", _fuel(kjoretoy)),
        ("Farge", _colour(kjoretoy)),
        ("Status", status_text),
        ("Først registrert", str(kjoretoy.forstegangsregistrert or "") or None),
        (
            "Neste EU-kontroll" + (" (per i dag)" if as_of else ""),
            str(kjoretoy.neste_kontroll or "") or None,
        ),
    ]
    eierskap = kjoretoy.eierskap
    for label, enhet in (
        ("Eier", kjoretoy.eier),
        ("Medeier", kjoretoy.medeier),
        ("Leasingtaker", kjoretoy.leasingtaker),
        ("Underenhet", eierskap.underenhet if eierskap else None),
    ):
        if enhet is not None:
            rows.append((label, _role(enhet)))
    rows.append(("Kjennemerker", _plates(kjoretoy)))
    withheld = kjoretoy.kjoretoy_id.unntatt_offentlighet if kjoretoy.kjoretoy_id else None
    if withheld:
        rows.append(("Unntatt offentlighet", ", ".join(kode_text(k) or "" for k in withheld)))
    for label, value in rows:
        grid.add_row(label, value or _MISSING)
    border = "green" if status == "REGISTRERT" else "red" if status else "blue"
    title = " · ".join(p for p in (kjoretoy.kjennemerke, _make_model(kjoretoy)) if p)
    subtitle = f"Slik var det {as_of}" if as_of else None
    return Panel(
        grid, title=title or "Kjøretøy", subtitle=subtitle, border_style=border, expand=False
    )


def vehicle_cards(
    answers: Iterable[KjoretoyResponse], requests: Iterable[str], *, as_of: str | None = None
) -> Group:
    """One card per answer, each labelled with what was asked for (and the ``dtg``, if any)."""
    return Group(
        *(vehicle_card(a, request=r, as_of=as_of) for a, r in zip(answers, requests, strict=False))
    )


def hit_table(hits: Iterable[KjoretoyResponse], *, title: str | None = None) -> Table:
    """A compact table of search hits: plate, VIN, make/model, status, owner, lessee."""
    table = Table(title=title, box=box.SIMPLE_HEAVY)
    # Identifiers never wrap (a broken plate or VIN is misread); names may.
    table.add_column("Kjennemerke", no_wrap=True)
    table.add_column("Understellsnummer", no_wrap=True)
    table.add_column("Merke/modell")
    table.add_column("Status", min_width=len("AVREGISTRERT"))
    table.add_column("Eier")
    table.add_column("Leasingtaker")
    for hit in hits:
        k = hit.kjoretoy
        if k is None:
            table.add_row(_MISSING, _MISSING, ", ".join(hit.koder) or _MISSING, "", "", "")
            continue
        table.add_row(
            k.kjennemerke or _MISSING,
            k.understellsnummer or _MISSING,
            _make_model(k) or _MISSING,
            (kode_text(k.registrering.registreringsstatus) if k.registrering else None)
            or k.status
            or _MISSING,
            k.eier_navn or _MISSING,
            k.leasingtaker_navn or "",
        )
    return table


def kunde_table(kunder: Iterable[Kunde], *, title: str | None = None) -> Table:
    """Customers of a Kundesøk: name, identifier, address, number of vehicles."""
    table = Table(title=title, box=box.SIMPLE_HEAVY)
    for column in ("Navn", "Id", "Adresse", "Kjøretøy"):
        table.add_column(column)
    for kunde in kunder:
        enhet = kunde.person_enhet
        table.add_row(
            (enhet.navn if enhet else None) or _MISSING,
            (enhet.identifikator if enhet else None) or _MISSING,
            (address_text(enhet.adresse) if enhet else None) or "",
            str(kunde.antall_kjoretoy if kunde.antall_kjoretoy is not None else ""),
        )
    return table
