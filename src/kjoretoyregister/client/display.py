"""Plain-text renderings of SVV values that people read: kodeverk entries and addresses.

Shared by the CLI's vehicle cards (``client.cards``) and the portal's card (``portal.card``),
so a vehicle reads the same in the terminal and in the browser.
"""

from __future__ import annotations

from kjoretoyregister.client.models import Adresse, KodeverkType

__all__ = ["address_text", "kode_text"]


def kode_text(kode: KodeverkType | None) -> str | None:
    """«kodeNavn (kodeVerdi)», or whichever of the two SVV sent; None when absent."""
    if kode is None:
        return None
    name = kode.kode_navn or kode.kode_beskrivelse
    if name and kode.kode_verdi and name != kode.kode_verdi:
        return f"{name} ({kode.kode_verdi})"
    return name or kode.kode_verdi


def address_text(adresse: Adresse | None) -> str | None:
    """One line: address lines, «postnummer poststed», and the country when not Norway."""
    if adresse is None:
        return None
    lines = [adresse.adresselinje1, adresse.adresselinje2, adresse.adresselinje3]
    place = " ".join(p for p in (adresse.postnummer, adresse.poststed) if p)
    parts = [p for p in (*lines, place) if p]
    if adresse.land and adresse.landkode not in (None, "NOR"):
        parts.append(adresse.land)
    return ", ".join(parts) or None
