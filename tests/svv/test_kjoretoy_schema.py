"""Every Kjoretoy (and Kunde) the register builds validates against SVV's own OpenAPI schemas.

Stricter than the document: object schemas are closed (no invented fields), formats are
checked (date, date-time, int32, float), and null is refused anywhere: SVV omits absent fields.
"""

from __future__ import annotations

import copy
import random
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from openapi_schema_validator import OAS30ReadValidator, oas30_format_checker

from kjoretoyregister.svv import sisdinky
from kjoretoyregister.svv.generate import generate
from kjoretoyregister.svv.register import Register

SPEC = Path(__file__).resolve().parents[2] / ".." / "shared" / "svv-reference"
SPEC_FILE = SPEC / "kjoretoysok-v2.0-openapi.json"
DTGS = (None, datetime(2012, 6, 1, tzinfo=UTC), datetime(2020, 3, 1, tzinfo=UTC))


@pytest.fixture(scope="module")
def validators() -> dict[str, OAS30ReadValidator]:
    spec = orjson.loads(SPEC_FILE.read_bytes())
    components = copy.deepcopy(spec["components"])
    for schema in components["schemas"].values():
        if schema.get("type") == "object" and "properties" in schema:
            schema["additionalProperties"] = False
    return {
        name: OAS30ReadValidator(
            {"components": components, "$ref": f"#/components/schemas/{name}"},
            format_checker=oas30_format_checker,
        )
        for name in ("Kjoretoy", "Kunde")
    }


@pytest.fixture(scope="module")
def register_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("schema") / "register.sqlite"
    generate(path, vehicles=1000, seed=2718)
    return path


@pytest.fixture(scope="module")
def register(register_path: Path) -> Iterator[Register]:
    reg = Register(register_path)
    yield reg
    reg.close()


def _nulls(value: Any, path: str = "") -> Iterator[str]:
    if value is None:
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _nulls(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nulls(item, f"{path}[{index}]")


def _check(validator: OAS30ReadValidator, instance: Any) -> None:
    # Round-trip through JSON as a client sees it (floats stay floats, tuples become lists).
    document = orjson.loads(orjson.dumps(instance))
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]
    assert not list(_nulls(document))


def test_sisdinky_vehicles_are_schema_valid(
    register: Register, validators: dict[str, OAS30ReadValidator]
) -> None:
    plates = [v.kjennemerke for v in sisdinky.VEHICLES]
    checked = 0
    for dtg in DTGS:
        for answer in register.many_by_kjennemerke([(p, dtg) for p in plates]):
            for result in answer:
                _check(validators["Kjoretoy"], result.kjoretoy)
                checked += 1
    assert checked > len(plates)


def test_generated_vehicles_are_schema_valid(
    register: Register, register_path: Path, validators: dict[str, OAS30ReadValidator]
) -> None:
    """A sample of every kind (cars, vans, MCs, mopeds, trailers, buses) at three dtgs."""
    with sqlite3.connect(register_path) as db:
        kuids = [str(r[0]) for r in db.execute("SELECT kuid FROM kjoretoy ORDER BY kuid")]
    sample = random.Random(5).sample(kuids, 250)
    classes = set()
    for dtg in DTGS:
        for answer in register.many_by_kuid([(k, dtg) for k in sample]):
            for result in answer:
                _check(validators["Kjoretoy"], result.kjoretoy)
                if not result.hidden:
                    teknisk = result.kjoretoy["godkjenning"]["tekniskGodkjenning"]
                    classes.add(teknisk["kjoretoyklassifisering"]["tekniskKode"]["kodeVerdi"])
    assert {"M1", "N1", "L3e", "O2"} <= classes


def test_search_results_are_schema_valid(
    register: Register, validators: dict[str, OAS30ReadValidator]
) -> None:
    page = register.search_kjennemerke("CU1????", ekskluder_vraket_utfort=False, fra=1, antall=50)
    assert page.total >= 15
    for result in page.items:
        _check(validators["Kjoretoy"], result.kjoretoy)
    kunder = register.search_kunde(
        "BEGGE", navn="MØLLER BIL AS", fornavn=None, mellomnavn=None, etternavn=None,
        fodselsdato=None, fonetisk=False, kjonn=None, fylke=None, kommune=None,
        postnummer=None, poststed=None, fra=1, antall=10,
    )  # fmt: skip
    person = register.sample_persons(1, seed=1)[0]
    persons = register.search_kunde(
        "PERSON", navn=None, fornavn=person["fornavn"], mellomnavn=None,
        etternavn=person["etternavn"], fodselsdato=None, fonetisk=False, kjonn=None, fylke=None,
        kommune=None, postnummer=None, poststed=None, fra=1, antall=10,
    )  # fmt: skip
    assert kunder.total == 1 and persons.total >= 1
    for kunde in kunder.items + persons.items:
        _check(validators["Kunde"], kunde)
