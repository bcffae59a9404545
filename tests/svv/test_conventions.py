"""SVV's conventions in every answer, generated vehicles included (svv-api.md §4.3, §10).

- Times: Oslo offset, milliseconds with their trailing zeros dropped (``…:24.72+01:00``), none
  when they are zero; the approval's ``gyldigFraDatoTid`` is the day's midnight; the
  ``vedtakstidspunkt`` follows the last role change by a moment.
- Which fields a role holder shows: a person (eier, medeier or leasingtaker alike) has
  fødselsnummer, fornavn, etternavn, fødselsdato and an ``adressestatus``; a unit has
  organisasjonsnummer and -navn and no ``adressestatus``.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest

from kjoretoyregister.svv.register import Register

pytestmark = pytest.mark.timeout(60)

TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{0,2}[1-9])?[+-]\d\d:\d\d")
ROLES = ("eier", "medeier", "leasingtaker", "underenhet")


def _times(value: Any, key: str = "") -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in _times(v, k)]
    if isinstance(value, list):
        return [t for v in value for t in _times(v, key)]
    if isinstance(value, str) and (key.endswith("Tidspunkt") or key == "gyldigFraDatoTid"):
        return [(key, value)]
    return []


@pytest.fixture(scope="module")
def answer_plates(svv_register: Register) -> list[str]:
    return svv_register.sample_kjennemerker(150, seed=21)


async def _bulk(svv_client: Any, svv_api: Any, plates: list[str]) -> list[dict[str, Any]]:
    body = [{"kjennemerke": p} for p in plates]
    response = await svv_client.post(svv_api.BULK_KJENNEMERKE, json=body, headers=svv_api.ALL)
    assert response.status == 200
    return [item["kjoretoy"] for item in await response.json() if "kjoretoy" in item]


async def test_times_are_written_like_svvs(svv_client, svv_api, answer_plates) -> None:
    vehicles = await _bulk(svv_client, svv_api, answer_plates)
    assert len(vehicles) > 100
    times = [t for k in vehicles for t in _times(k)]
    bad = [t for t in times if not TIME.fullmatch(t[1])]
    assert not bad, bad[:5]
    events = [v for k, v in times if k in ("fomTidspunkt", "tilTidspunkt")]
    with_millis = [t for t in events if "." in t]
    assert len(with_millis) > 0.9 * len(events), "SVV's event times carry milliseconds"
    for kjoretoy in vehicles:
        for key, value in _times(kjoretoy["godkjenning"]):
            assert key != "gyldigFraDatoTid" or value[10:19] == "T00:00:00", value
        eierskap = kjoretoy.get("eierskap")
        if not eierskap:
            continue
        latest = max(
            datetime.fromisoformat(h["fomTidspunkt"]) for r, h in eierskap.items() if r in ROLES
        )
        vedtak = datetime.fromisoformat(eierskap["vedtakstidspunkt"])
        assert 0 < (vedtak - latest).total_seconds() < 1


async def test_role_holders_show_svvs_fields(svv_client, svv_api, answer_plates) -> None:
    plates = [*answer_plates, "CU11297", "CU11298", "CU11304", "CU11306"]
    seen: set[str] = set()
    for kjoretoy in await _bulk(svv_client, svv_api, plates):
        for role, holder in kjoretoy.get("eierskap", {}).items():
            if role not in ROLES:
                continue
            if "person" in holder:
                seen.add(f"{role}:person")
                person = holder["person"]
                assert {"fodselsnummer", "fornavn", "etternavn", "fodselsdato"} <= set(person)
                assert set(person) <= {
                    "fodselsnummer", "fornavn", "mellomnavn", "etternavn", "fodselsdato"
                }  # fmt: skip
                assert "adressestatus" in holder
            else:
                seen.add(f"{role}:enhet")
                assert set(holder["enhet"]) == {"organisasjonsnummer", "organisasjonsnavn"}
                assert "adressestatus" not in holder
            assert {"kundeId", "erUverifisert", "fomTidspunkt"} <= set(holder)
    assert {"eier:person", "eier:enhet", "leasingtaker:person", "leasingtaker:enhet"} <= seen
    assert "medeier:person" in seen


async def test_a_dtg_at_a_shown_time_is_exact_to_the_millisecond(
    svv_client, svv_api, svv_register: Register
) -> None:
    """A dtg equal to an eier's shown fomTidspunkt finds that eier; a millisecond earlier, the
    one before (times are kept to the millisecond, as shown)."""
    checked = 0
    for plate in svv_register.sample_kjennemerker(300, seed=4):
        found = svv_register.by_kjennemerke(plate, None)
        eier = found[0].kjoretoy.get("eierskap", {}).get("eier") if found else None
        if not eier or "." not in eier["fomTidspunkt"]:
            continue
        fom = datetime.fromisoformat(eier["fomTidspunkt"])
        earlier = (fom - timedelta(milliseconds=1)).isoformat(timespec="milliseconds")
        body = [
            {"kjennemerke": plate, "dtg": eier["fomTidspunkt"]},
            {"kjennemerke": plate, "dtg": earlier},
        ]
        response = await svv_client.post(svv_api.BULK_KJENNEMERKE, json=body, headers=svv_api.ALL)
        at, before = await response.json()
        assert at["kjoretoy"]["eierskap"]["eier"]["fomTidspunkt"] == eier["fomTidspunkt"]
        then = before.get("kjoretoy", {}).get("eierskap", {}).get("eier")
        assert then is None or then["fomTidspunkt"] != eier["fomTidspunkt"]
        checked += 1
        if checked == 20:
            break
    assert checked == 20
