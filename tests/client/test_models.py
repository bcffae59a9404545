"""The v2 models parse SVV's JSON without loss and expose the fields people look for first."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from kjoretoyregister.client import models
from kjoretoyregister.client.models import (
    Kjoretoy,
    KjoretoyResponse,
    KjoretoysokResponse,
    KundeSokResponse,
    PersonEnhet,
)

FIXTURES = Path(__file__).parent / "fixtures"
SPEC = (
    Path(__file__).resolve().parents[2]
    / ".."
    / "shared"
    / "svv-reference"
    / "kjoretoysok-v2.0-openapi.json"
)


def _example() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "kjoretoy_response.json").read_text("utf-8"))
    return data


def _dump(model: models.SvvModel) -> Any:
    return model.model_dump(mode="json", exclude_unset=True, by_alias=True)


class TestSchemas:
    def test_every_openapi_schema_has_a_model(self) -> None:
        """All 77 schemas of SVV's spec are modelled, each property aliased as SVV names it."""
        if not SPEC.is_file():
            pytest.skip("shared/svv-reference not present")
        schemas = json.loads(SPEC.read_text("utf-8"))["components"]["schemas"]
        assert len(schemas) == 77
        for name, schema in schemas.items():
            model = getattr(models, name)
            aliases = {f.alias or attr for attr, f in model.model_fields.items()}
            assert aliases == set(schema.get("properties", {})), name

    def test_generated_module_is_current(self) -> None:
        """The committed _v2 module is exactly what the generator makes from the spec."""
        if not SPEC.is_file():
            pytest.skip("shared/svv-reference not present")
        import subprocess
        import sys

        root = Path(__file__).resolve().parents[2]
        done = subprocess.run(
            [sys.executable, "scripts/gen_client_models.py", "--check"],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr


class TestRoundTrip:
    def test_example_round_trips(self) -> None:
        """A full KjoretoyResponse dumps back to exactly the JSON it was parsed from."""
        raw = _example()
        assert _dump(KjoretoyResponse.model_validate(raw)) == raw

    def test_unknown_fields_are_kept_at_every_level(self) -> None:
        """SVV may add fields; they survive parsing and dumping, nested ones included."""
        raw = _example()
        raw["nyttToppfelt"] = {"a": [1, 2]}
        raw["kjoretoy"]["kjoretoyId"]["nyId"] = "x"
        raw["kjoretoy"]["registrering"]["avregistrertSidenDato"] = "2024-01-01T00:00:00+01:00"
        raw["kjoretoy"]["eierskap"]["eier"]["enhet"]["ekstra"] = None
        raw["kjoretoy"]["kjennemerke"][0]["nyKode"] = {"kodeVerdi": "X"}
        parsed = KjoretoyResponse.model_validate(raw)
        assert _dump(parsed) == raw
        assert parsed.model_extra == {"nyttToppfelt": {"a": [1, 2]}}
        assert parsed.kjoretoy is not None and parsed.kjoretoy.registrering is not None
        assert parsed.kjoretoy.registrering.model_extra == {
            "avregistrertSidenDato": "2024-01-01T00:00:00+01:00"
        }

    def test_timestamps_keep_their_exact_text(self) -> None:
        """Fraction digits and offsets are not re-formatted (0-3 digits all occur)."""
        raw = _example()
        for stamp in (
            "2022-11-25T16:32:09.12+01:00",
            "2021-04-21T14:02:32+02:00",
            "2021-01-01T00:00:00Z",
        ):
            raw["kjoretoy"]["eierskap"]["vedtakstidspunkt"] = stamp
            assert _dump(KjoretoyResponse.model_validate(raw)) == raw

    def test_explicit_null_is_kept(self) -> None:
        """A field SVV sends as null comes back as null, not dropped."""
        raw = _example()
        raw["kjoretoy"]["eierskap"]["medeier"] = None
        assert _dump(KjoretoyResponse.model_validate(raw)) == raw

    def test_sok_and_kunde_responses_round_trip(self) -> None:
        """The search wrappers round-trip too, and `treff` reads either list name."""
        one = _example()
        sok = {
            "responskoder": [],
            "antallITreffliste": 1,
            "antallTreffTotalt": 3,
            "kjoretoyresponser": [one],
        }
        parsed = KjoretoysokResponse.model_validate(sok)
        assert _dump(parsed) == sok
        assert len(parsed.treff) == 1
        person = one["kjoretoy"]["eierskap"]["leasingtaker"]
        kunde = {
            "antallITreffliste": 1,
            "antallTreffTotalt": 1,
            "kunder": [{"personEnhet": person, "antallKjoretoy": 2}],
        }
        parsed_kunde = KundeSokResponse.model_validate(kunde)
        assert _dump(parsed_kunde) == kunde
        assert parsed_kunde.treff[0].antall_kjoretoy == 2

    def test_populate_by_name(self) -> None:
        """Models can be built with the Python names too (populate_by_name)."""
        kjoretoy = Kjoretoy.model_validate({"kjoretoy_id": {"kuid": "1"}})
        assert kjoretoy.kuid == "1"
        assert _dump(kjoretoy) == {"kjoretoyId": {"kuid": "1"}}


class TestAccessors:
    def test_example_accessors(self) -> None:
        """The accessors read plate, VIN, make, model, status, roles and dates."""
        kjoretoy = KjoretoyResponse.model_validate(_example()).kjoretoy
        assert kjoretoy is not None
        assert kjoretoy.kjennemerke == "CU 12345"
        assert kjoretoy.understellsnummer == "SISDINKY10293847"
        assert kjoretoy.kuid == "3378200417"
        assert kjoretoy.merke == "TESLA"
        assert kjoretoy.modell == "MODEL 3"
        assert kjoretoy.status == "REGISTRERT"
        assert kjoretoy.eier_navn == "GRØNN VENNLIG LEASING AS"
        assert kjoretoy.eier_id == "312345674"
        assert kjoretoy.leasingtaker_navn == "ROLIG BLÅBÆR"
        assert kjoretoy.leasingtaker_id == "12857009566"
        assert kjoretoy.forstegangsregistrert == date(2021, 3, 15)
        assert kjoretoy.neste_kontroll == date(2025, 3, 15)
        assert kjoretoy.kjennemerker is not None and len(kjoretoy.kjennemerker) == 1

    def test_empty_vehicle_gives_none(self) -> None:
        """Withheld or absent parts give None, never an exception."""
        kjoretoy = Kjoretoy.model_validate({})
        for name in (
            "kjennemerke", "understellsnummer", "kuid", "merke", "modell", "status",
            "eier_navn", "eier_id", "leasingtaker_navn", "leasingtaker_id",
            "forstegangsregistrert", "neste_kontroll",
        ):  # fmt: skip
            assert getattr(kjoretoy, name) is None, name

    def test_plate_falls_back_to_current_vehicle_plate(self) -> None:
        """Without kjoretoyId.kjennemerke, the current KJORETOY plate wins over ended ones."""
        kjoretoy = Kjoretoy.model_validate(
            {
                "kjennemerke": [
                    {
                        "kjennemerke": "AB 1",
                        "kjennemerkekategori": "KJORETOY",
                        "tilTidspunkt": "2020-01-01T00:00:00+01:00",
                    },
                    {"kjennemerke": "MITTNAVN", "kjennemerkekategori": "PERSONLIG"},
                    {"kjennemerke": "AB 2", "kjennemerkekategori": "KJORETOY"},
                ]
            }
        )
        assert kjoretoy.kjennemerke == "AB 2"

    def test_person_name_joins_parts(self) -> None:
        """A person's name is fornavn, mellomnavn and etternavn; an enhet's is its name."""
        person = PersonEnhet.model_validate(
            {"person": {"fornavn": "A", "mellomnavn": "B", "etternavn": "C", "fodselsnummer": "1"}}
        )
        assert (person.navn, person.identifikator, person.er_person) == ("A B C", "1", True)
        enhet = PersonEnhet.model_validate({"enhet": {"organisasjonsnavn": "X AS"}})
        assert (enhet.navn, enhet.identifikator, enhet.er_person) == ("X AS", None, False)

    def test_miss_has_codes(self) -> None:
        """A per-item miss has no vehicle and its responskoder codes."""
        miss = KjoretoyResponse.model_validate(
            {"responskoder": [{"kode": "KJENNEMERKE_UKJENT", "beskrivelse": "ukjent"}]}
        )
        assert not miss.funnet
        assert miss.koder == ["KJENNEMERKE_UKJENT"]

    def test_deep_copy_keeps_extras(self) -> None:
        """Copies keep unknown fields too (model_copy is how callers derive variants)."""
        raw = _example()
        raw["x"] = 1
        parsed = KjoretoyResponse.model_validate(raw)
        assert _dump(copy.deepcopy(parsed)) == raw
