"""Vehicle cards and tables show what a case officer looks for, and misses say why."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from kjoretoyregister.client.cards import hit_table, kunde_table, vehicle_card
from kjoretoyregister.client.models import KjoretoyResponse, Kunde

FIXTURE = Path(__file__).parent / "fixtures" / "kjoretoy_response.json"


def _text(renderable: object) -> str:
    console = Console(width=120, record=True)
    console.print(renderable)
    return console.export_text()


def _example() -> KjoretoyResponse:
    return KjoretoyResponse.model_validate(json.loads(FIXTURE.read_text("utf-8")))


def test_card_has_the_essentials() -> None:
    """Identity, make/model, class, fuel, colour, status, dates, roles with ids and addresses."""
    text = _text(vehicle_card(_example()))
    for expected in (
        "CU 12345", "SISDINKY10293847", "3378200417", "TESLA MODEL 3", "M1 (Personbil)",
        "Elektrisk", "Svart", "Registrert", "2021-03-15", "2025-03-15",
        "GRØNN VENNLIG LEASING AS (orgnr 312345674)", "Storgata 10, 0155 OSLO",
        "ROLIG BLÅBÆR (fnr 12857009566)", "Kjennemerker",
    ):  # fmt: skip
        assert expected in text, expected


def test_miss_card_names_request_and_code() -> None:
    """A miss shows what was asked for and SVV's code and text."""
    miss = KjoretoyResponse.model_validate(
        {"responskoder": [{"kode": "KJENNEMERKE_UKJENT", "beskrivelse": "Fant ikke"}]}
    )
    text = _text(vehicle_card(miss, request="ZZ99999"))
    assert "ZZ99999" in text and "KJENNEMERKE_UKJENT: Fant ikke" in text


def test_tables() -> None:
    """Hit and customer tables list one row per hit."""
    hits = _text(hit_table([_example()], title="1 av 1 treff"))
    assert "CU 12345" in hits and "1 av 1 treff" in hits
    enhet = {"organisasjonsnummer": "312345674", "organisasjonsnavn": "X AS"}
    kunde = Kunde.model_validate({"personEnhet": {"enhet": enhet}, "antallKjoretoy": 4})
    assert "X AS" in _text(kunde_table([kunde]))
