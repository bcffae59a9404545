"""Plain-text renderings of SVV values that people read: kodeverk entries and addresses.

Shared by the CLI's vehicle cards (``client.cards``) and the portal's card (``portal.card``),
so a vehicle reads the same in the terminal and in the browser.
"""

from __future__ import annotations

from kjoretoyregister.client.models import Adresse, KodeverkType

__all__ = ["address_text", "kjennemerkekategori_text", "kode_text"]


def kode_text(kode: KodeverkType | None) -> str | None:
    """The code's name in words («Registrert»), else its value; None when absent.

    The value (``REGISTRERT``) is for machines: a case officer reads the kodeverk name.
    """
    if kode is None:
        return None
    return kode.kode_navn or kode.kode_beskrivelse or kode.kode_verdi


# SVV's ``kjennemerkekategori`` is a bare enum of the v2 schema (no kodeverk name): in words.
_KJENNEMERKEKATEGORI = {
    "KJORETOY": "Kjøretøy",
    "NORMAL": "Kjøretøy",  # deprecated, replaced by KJORETOY
    "PERSONLIG": "Personlig",
    "PROVEKJENNEMERKE": "Prøvekjennemerke",
}


def kjennemerkekategori_text(value: str | None) -> str | None:
    """«Kjøretøy»/«Personlig» for SVV's ``kjennemerkekategori`` enum; unknown values as sent."""
    if value is None:
        return None
    return _KJENNEMERKEKATEGORI.get(value, value)


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
