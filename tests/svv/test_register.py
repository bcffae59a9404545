"""Register: bulk lookups with dtg semantics, withheld vehicles, and the seven searches."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kjoretoyregister.svv import kodeverk
from kjoretoyregister.svv.generate import generate
from kjoretoyregister.svv.kjoretoy import registrering_at
from kjoretoyregister.svv.register import Register, RegisterError, VehicleResult
from kjoretoyregister.svv.registerfile import SKJERMING_EIERSKAP, SKJERMING_HELT
from kjoretoyregister.svv.sisdinky import EARLIER_OWNER_EXAMPLE, SHARED_VIN

OSLO_SUMMER = datetime(2016, 6, 1, 12, tzinfo=UTC)
# Our own example of an earlier owner (sisdinky.EARLIER_OWNER_EXAMPLE): not an SVV vehicle.
EARLIER = EARLIER_OWNER_EXAMPLE[0]


@pytest.fixture(scope="module")
def register_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("register") / "register.sqlite"
    generate(path, vehicles=1200, seed=31337)
    return path


@pytest.fixture(scope="module")
def register(register_path: Path) -> Iterator[Register]:
    reg = Register(register_path)
    yield reg
    reg.close()


def _one(results: list[VehicleResult]) -> dict[str, Any]:
    assert len(results) == 1
    assert not results[0].hidden
    return results[0].kjoretoy


def _holder_name(holder: dict[str, Any]) -> str:
    if "enhet" in holder:
        return str(holder["enhet"]["organisasjonsnavn"])
    return f"{holder['person']['fornavn']} {holder['person']['etternavn']}"


class TestDtg:
    def test_now_gives_current_owner_and_leasingtaker(self, register: Register) -> None:
        kjoretoy = _one(register.by_kjennemerke("CU11297", None))
        eierskap = kjoretoy["eierskap"]
        assert _holder_name(eierskap["eier"]) == "MØLLER BIL AS"
        assert _holder_name(eierskap["leasingtaker"]) == "KONKURRANSEDYKTIG BUDEIE"
        assert "tilTidspunkt" not in eierskap["eier"]
        assert kjoretoy["kjoretoyId"]["kjennemerke"] == "CU 11297"

    def test_past_dtg_returns_the_earlier_owner_with_til_tidspunkt(
        self, register: Register
    ) -> None:
        """svv-api.md §3: the owner of that time, and when that ownership ended."""
        kjoretoy = _one(register.by_kjennemerke(EARLIER, OSLO_SUMMER))
        eierskap = kjoretoy["eierskap"]
        assert _holder_name(eierskap["eier"]) == "VENNLIG ELG"
        assert eierskap["eier"]["fomTidspunkt"] == "2014-06-02T10:00:00+02:00"
        assert eierskap["eier"]["tilTidspunkt"] == "2019-02-18T10:00:00+01:00"
        assert "leasingtaker" not in eierskap
        registrering = kjoretoy["registrering"]
        assert registrering["tilTidspunkt"] == "2019-02-18T10:00:00+01:00"
        # Technical data do not follow the dtg: the same subtree as now.
        now = _one(register.by_kjennemerke(EARLIER, None))
        assert kjoretoy["godkjenning"] == now["godkjenning"]
        assert kjoretoy.get("periodiskKjoretoyKontroll") == now.get("periodiskKjoretoyKontroll")

    def test_dtg_before_first_registration_finds_nothing(self, register: Register) -> None:
        before = datetime(2014, 6, 2, 7, 59, tzinfo=UTC)
        assert register.by_kjennemerke(EARLIER, before) == []
        assert register.by_kuid(str(_kuid(register, EARLIER)), before) == []
        assert _one(register.by_kjennemerke(EARLIER, datetime(2014, 6, 2, 8, 0, tzinfo=UTC)))
        # SVV's own vehicles begin at their real first registration (to the millisecond).
        first = datetime.fromisoformat("2022-11-18T11:15:24.72+01:00")
        assert register.by_kjennemerke("CU11297", first - timedelta(milliseconds=1)) == []
        assert _one(register.by_kjennemerke("CU11297", first))

    def test_plate_history(self, register: Register) -> None:
        """An old plate finds its vehicle only while it was on it; tilTidspunkt marks the end."""
        assert register.by_kjennemerke("KH34512", None) == []
        then = datetime(2012, 1, 1, tzinfo=UTC)
        old = _one(register.by_kjennemerke("KH 34512", then))
        assert old["kjoretoyId"]["kjennemerke"] == "KH 34512"
        assert old["kjennemerke"][0]["tilTidspunkt"].startswith("2015-04-20T09:30")
        assert register.by_kjennemerke("CU10943", then) == []
        now = _one(register.by_kjennemerke("cu-10943", None))
        assert [p["kjennemerke"] for p in now["kjennemerke"]] == ["CU 10943"]
        assert old["kjoretoyId"]["kuid"] == now["kjoretoyId"]["kuid"]

    def test_generated_history_at_a_past_dtg(self, register: Register, register_path: Path) -> None:
        """A generated vehicle with two eiere shows the first one, ended, at a dtg in between."""
        with sqlite3.connect(register_path) as db:
            kuid, first_tom = db.execute(
                "SELECT kuid, tom FROM eierskap WHERE rolle = 0 AND fom = "
                "(SELECT forstereg FROM kjoretoy k WHERE k.kuid = eierskap.kuid) "
                "AND tom IS NOT NULL AND kuid IN (SELECT kuid FROM kjoretoy WHERE skjerming = 0) "
                "ORDER BY kuid LIMIT 1"
            ).fetchone()
        dtg = datetime.fromtimestamp(first_tom - 86_400, UTC)
        past = _one(register.by_kuid(str(kuid), dtg))["eierskap"]["eier"]
        now = _one(register.by_kuid(str(kuid), None))["eierskap"]["eier"]
        assert "tilTidspunkt" in past and "tilTidspunkt" not in now
        assert past["kundeId"] != now["kundeId"] or past["fomTidspunkt"] != now["fomTidspunkt"]

    def test_registrering_history(self) -> None:
        """Registered at first registration and on each change of owner; deregistrations end it."""
        events = dict(
            forstereg=100, eier_starts=[100, 500], status=kodeverk.VRAKET, status_fom=900,
            avreg=(200, 300),
        )  # fmt: skip
        assert registrering_at(**events, dtg=None) == (kodeverk.VRAKET, 900, None)
        assert registrering_at(**events, dtg=150) == (kodeverk.REGISTRERT, 100, 200)
        assert registrering_at(**events, dtg=250) == (kodeverk.AVREGISTRERT, 200, 300)
        assert registrering_at(**events, dtg=350) == (kodeverk.REGISTRERT, 300, 500)
        assert registrering_at(**events, dtg=600) == (kodeverk.REGISTRERT, 500, 900)
        assert registrering_at(**events, dtg=901) == (kodeverk.VRAKET, 900, None)

    def test_statuses_of_sisdinky(self, register: Register) -> None:
        avreg = _one(register.by_kjennemerke("CU11296", None))["registrering"]
        assert avreg["registreringsstatus"]["kodeVerdi"] == "AVREGISTRERT"
        assert "registrertForstegangPaEierskap" not in avreg
        vraket = _one(register.by_kjennemerke("CU11299", None))
        assert vraket["registrering"]["registreringsstatus"]["kodeVerdi"] == "VRAKET"
        # SVV keeps the EU-kontroll of its scrapped test vehicle; we answer what SVV answers.
        assert vraket["periodiskKjoretoyKontroll"] == {"kontrollfrist": "2026-11-18"}
        assert _holder_name(vraket["eierskap"]["eier"]) == "OPPRETT AVSTAND"


def _kuid(register: Register, plate: str) -> int:
    return int(_one(register.by_kjennemerke(plate, None))["kjoretoyId"]["kuid"])


class TestWithheld:
    def test_wholly_hidden(self, register: Register) -> None:
        for plate in ("CU11300", "CU11301"):
            found = register.by_kjennemerke(plate, None)
            assert len(found) == 1 and found[0].hidden
            assert "eierskap" not in found[0].kjoretoy
            assert "godkjenning" not in found[0].kjoretoy

    def test_ownership_withheld(self, register: Register, register_path: Path) -> None:
        """EIERSKAP withheld: no eierskap, unntattOffentlighet says so, owner searches skip it."""
        with sqlite3.connect(register_path) as db:
            kuid, kunde = db.execute(
                "SELECT v.kuid, e.kunde FROM kjoretoy v JOIN eierskap e ON e.kuid = v.kuid "
                "WHERE v.skjerming = ? AND e.tom IS NULL AND e.rolle = 0 LIMIT 1",
                (SKJERMING_EIERSKAP,),
            ).fetchone()
        kjoretoy = _one(register.by_kuid(str(kuid), None))
        assert "eierskap" not in kjoretoy
        codes = [k["kodeVerdi"] for k in kjoretoy["kjoretoyId"]["unntattOffentlighet"]]
        assert codes == ["EIERSKAP"]
        assert "neringskode" not in kjoretoy["registrering"]
        page = register.search_kundeid(str(kunde), ekskluder_vraket_utfort=False, fra=1, antall=100)
        assert str(kuid) not in {r.kjoretoy["kjoretoyId"]["kuid"] for r in page.items}

    def test_hidden_vehicles_are_never_search_hits(
        self, register: Register, register_path: Path
    ) -> None:
        with sqlite3.connect(register_path) as db:
            plate = db.execute(
                "SELECT k.kjennemerke FROM kjennemerker k JOIN kjoretoy v ON v.kuid = k.kuid "
                "WHERE v.skjerming = ? AND k.tom IS NULL LIMIT 1",
                (SKJERMING_HELT,),
            ).fetchone()[0]
        page = register.search_kjennemerke(plate, ekskluder_vraket_utfort=False, fra=1, antall=10)
        assert page.total == 0


class TestBulk:
    def test_shared_vin_returns_both_vehicles(self, register: Register) -> None:
        found = register.by_understellsnummer(SHARED_VIN, None)
        assert len(found) == 2
        statuses = {f.kjoretoy["registrering"]["registreringsstatus"]["kodeVerdi"] for f in found}
        assert statuses == {"VRAKET", "REGISTRERT"}
        assert register.by_understellsnummer(SHARED_VIN.lower(), None) == found
        assert register.by_understellsnummer("NOSUCHVIN00000000", None) == []

    def test_many_in_request_order(self, register: Register) -> None:
        """One answer per item, in order; duplicates answered twice; misses are []."""
        plates = register.sample_kjennemerker(40, seed=9)
        items: list[tuple[str, datetime | None]] = [(p.lower(), None) for p in plates]
        items += [("XX00000", None), (plates[0], None), ("", None), (EARLIER, OSLO_SUMMER)]
        answers = register.many_by_kjennemerke(items)
        assert len(answers) == len(items)
        for plate, answer in zip(plates, answers, strict=False):
            assert answer[0].kjoretoy["kjoretoyId"]["kjennemerke"].replace(" ", "") == plate
        assert answers[40] == [] and answers[42] == []
        assert answers[41] == answers[0]
        assert _holder_name(answers[43][0].kjoretoy["eierskap"]["eier"]) == "VENNLIG ELG"

    def test_many_by_kuid(self, register: Register) -> None:
        kuid = str(_kuid(register, "CU11293"))
        answers = register.many_by_kuid(
            [(kuid, None), ("not-a-kuid", None), ("1234567890", None), (kuid, OSLO_SUMMER)]
        )
        assert _holder_name(answers[0][0].kjoretoy["eierskap"]["eier"]) == "MUSIKALSK FORSKJELL"
        assert answers[1] == [] and answers[2] == []
        assert answers[3] == []  # first registered 2021

    def test_threads_share_one_register(self, register: Register) -> None:
        """Each thread gets its own connection; answers are the same as on the main thread."""
        plates = register.sample_kjennemerker(200, seed=4)
        expected = register.many_by_kjennemerke([(p, None) for p in plates])
        seen: list[Any] = []

        def work() -> None:
            for _ in range(3):
                seen.append(register.many_by_kjennemerke([(p, None) for p in plates]))

        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(seen) == 12 and all(answer == expected for answer in seen)

    def test_samples_are_deterministic(self, register: Register) -> None:
        assert register.sample_kjennemerker(30, seed=1) == register.sample_kjennemerker(30, seed=1)
        assert register.sample_kjennemerker(30, seed=1) != register.sample_kjennemerker(30, seed=2)
        persons = register.sample_persons(5, seed=3)
        assert persons == register.sample_persons(5, seed=3)
        assert len(persons) == 5 and all(len(p["fodselsnummer"]) == 11 for p in persons)


def _kuids(page: Any) -> list[str]:
    return [r.kjoretoy["kjoretoyId"]["kuid"] for r in page.items]


class TestSearch:
    def test_kjennemerke_wildcards_and_paging(self, register: Register) -> None:
        page = register.search_kjennemerke(
            "CU1129?", ekskluder_vraket_utfort=False, fra=1, antall=50
        )
        plates = [r.kjoretoy["kjoretoyId"]["kjennemerke"] for r in page.items]
        assert plates == ["CU 11293", "CU 11295", "CU 11296", "CU 11297", "CU 11298", "CU 11299"]
        assert page.total == 6
        excluded = register.search_kjennemerke(
            "CU1129?", ekskluder_vraket_utfort=True, fra=1, antall=50
        )
        assert excluded.total == 5
        second = register.search_kjennemerke(
            "cu 1129?", ekskluder_vraket_utfort=False, fra=2, antall=2
        )
        assert second.total == 6 and _kuids(second) == _kuids(page)[1:3]
        beyond = register.search_kjennemerke(
            "CU1129?", ekskluder_vraket_utfort=False, fra=7, antall=5
        )
        assert beyond.total == 6 and beyond.items == []
        leading = register.search_kjennemerke(
            "?U11297", ekskluder_vraket_utfort=False, fra=1, antall=5
        )
        assert leading.total == 1
        exact = register.search_kjennemerke(
            "CU11297", ekskluder_vraket_utfort=False, fra=1, antall=5
        )
        assert exact.total == 1

    def test_understellsnummer(self, register: Register) -> None:
        exact = register.search_understellsnummer(
            "SISDINKY45727043", ekskluder_vraket_utfort=False, merkekode=None, fra=1, antall=5
        )
        assert exact.total == 1
        prefix = register.search_understellsnummer(
            "SISDINKY4*", ekskluder_vraket_utfort=False, merkekode=None, fra=1, antall=50
        )
        vins = [r.kjoretoy["kjoretoyId"]["understellsnummer"] for r in prefix.items]
        assert vins == sorted(vins) and all(v.startswith("SISDINKY4") for v in vins)
        assert "SISDINKY45727043" in vins
        suffix = register.search_understellsnummer(
            "*45727043", ekskluder_vraket_utfort=False, merkekode=None, fra=1, antall=5
        )
        assert suffix.total == 1
        infix = register.search_understellsnummer(
            "*DINKY4572*", ekskluder_vraket_utfort=False, merkekode=None, fra=1, antall=5
        )
        assert infix.total == 1
        bmw = register.search_understellsnummer(
            "SISDINKY4*", ekskluder_vraket_utfort=False, merkekode="1400", fra=1, antall=50
        )
        assert _kuids(bmw) == [str(_kuid(register, "CU11297"))]
        shared = register.search_understellsnummer(
            SHARED_VIN, ekskluder_vraket_utfort=True, merkekode=None, fra=1, antall=5
        )
        assert shared.total == 1

    def test_fodselsnummer(self, register: Register) -> None:
        person = register.sample_persons(1, seed=7)[0]
        page = register.search_fodselsnummer(
            person["fodselsnummer"], ekskluder_vraket_utfort=False, fra=1, antall=50
        )
        assert page.total >= 1 and len(page.items) == page.total
        for result in page.items:
            holders = result.kjoretoy["eierskap"]
            idents = {
                h["person"]["fodselsnummer"]
                for role, h in holders.items()
                if role in ("eier", "medeier", "leasingtaker") and "person" in h
            }
            assert person["fodselsnummer"] in idents
        leasing = register.search_fodselsnummer(
            "63888700414", ekskluder_vraket_utfort=False, fra=1, antall=5
        )
        assert _kuids(leasing) == ["3378041341"]
        assert (
            register.search_fodselsnummer("x", ekskluder_vraket_utfort=False, fra=1, antall=5).total
            == 0
        )

    def test_organisasjonsnummer_and_kundeid(self, register: Register) -> None:
        moller = register.search_organisasjonsnummer(
            "986130861", ekskluder_vraket_utfort=False, fra=1, antall=10
        )
        plates = {r.kjoretoy["kjoretoyId"]["kjennemerke"] for r in moller.items}
        assert plates == {"CU 11297", "CU 11298"}
        kunde = moller.items[0].kjoretoy["eierskap"]["eier"]["kundeId"]
        by_id = register.search_kundeid(kunde, ekskluder_vraket_utfort=False, fra=1, antall=10)
        assert by_id.total == 2
        page = register.search_kundeid(kunde, ekskluder_vraket_utfort=False, fra=2, antall=1)
        assert page.total == 2 and _kuids(page) == _kuids(by_id)[1:]

    def test_eiernavn(self, register: Register) -> None:
        def search(navn: str, **filters: Any) -> int:
            params = dict(
                postnummer=None, poststed=None, fylke=None, fodselsdato=None, er_person=None
            )
            params.update(filters)
            return register.search_eiernavn(navn, fra=1, antall=10, **params).total

        assert search("Musikalsk  Forskjell") == 1
        assert search("MUSIKALSK FORSKJELL", postnummer="7608", fylke="Trøndelag") == 1
        assert search("MUSIKALSK FORSKJELL", fylke="50", poststed="levanger") == 1
        assert search("MUSIKALSK FORSKJELL", postnummer="5003") == 0
        assert search("MUSIKALSK FORSKJELL", fodselsdato=date(1992, 5, 19)) == 1
        assert search("MUSIKALSK FORSKJELL", fodselsdato=date(1992, 5, 20)) == 0
        assert search("MUSIKALSK FORSKJELL", er_person=False) == 0
        assert search("Møller Bil AS") == 2
        assert search("MØLLER BIL AS", er_person=True) == 0
        assert search("KONKURRANSEDYKTIG BUDEIE") == 1  # a leasingtaker counts
        assert search("VENNLIG ELG") == 0  # only earlier owners: not current
        assert search("NOBODY") == 0

    def test_kunde(self, register: Register) -> None:
        def search(eiertype: Any, **params: Any) -> Any:
            args: dict[str, Any] = dict(
                navn=None, fornavn=None, mellomnavn=None, etternavn=None, fodselsdato=None,
                fonetisk=False, kjonn=None, fylke=None, kommune=None, postnummer=None,
                poststed=None, fra=1, antall=10,
            )  # fmt: skip
            args.update(params)
            return register.search_kunde(eiertype, **args)

        page = search("PERSON", navn="musikalsk forskjell")
        assert page.total == 1
        kunde = page.items[0]
        assert kunde["antallKjoretoy"] == 1
        assert kunde["personEnhet"]["person"]["fodselsdato"] == "1992-05-19"
        assert search("PERSON", navn="MUSIKALSK FORSJELL").total == 0
        assert search("PERSON", navn="MUSIKALSK FORSJELL", fonetisk=True).total == 1
        assert search("BEGGE", navn="møller bil as").total == 1
        assert search("ORGANISASJON", navn="MOLLER BIL AS", fonetisk=True).total == 1
        assert search("PERSON", fornavn="SELVHJULPEN", etternavn="KENGURU").total == 1
        assert search("PERSON", etternavn="KENGURU", fodselsdato="1960").total == 1
        assert search("PERSON", etternavn="KENGURU", fodselsdato="1961").total == 0
        assert search("PERSON", navn="HELGE KROKEN", kommune="SVALBARD").total == 1
        assert search("PERSON", navn="HELGE KROKEN", kjonn="K").total == 0
        assert search("PERSON", navn="HELGE KROKEN", kjonn="M").total == 1
        person = register.sample_persons(1, seed=11)[0]
        hits = search("PERSON", etternavn=person["etternavn"], antall=1000)
        assert hits.total >= 1
        assert person["kundeId"] in {k["personEnhet"]["kundeId"] for k in hits.items}

    def test_paging_arguments(self, register: Register) -> None:
        with pytest.raises(ValueError, match="at least 1"):
            register.search_kjennemerke("CU11297", ekskluder_vraket_utfort=False, fra=0, antall=5)


class TestOpening:
    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(RegisterError, match="no register file"):
            Register(tmp_path / "missing.sqlite")

    def test_not_a_register(self, tmp_path: Path) -> None:
        junk = tmp_path / "junk.sqlite"
        junk.write_bytes(b"this is not sqlite" * 100)
        with pytest.raises(RegisterError, match="not a register"):
            Register(junk)
        empty = tmp_path / "empty.sqlite"
        sqlite3.connect(empty).close()
        with pytest.raises(RegisterError):
            Register(empty)

    def test_wrong_schema_version(self, tmp_path: Path) -> None:
        path = tmp_path / "old.sqlite"
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
            db.execute("INSERT INTO meta VALUES ('schema_version', '999')")
        with pytest.raises(RegisterError, match="schema version 999"):
            Register(path)

    def test_closed(self, register_path: Path) -> None:
        reg = Register(register_path)
        reg.close()
        with pytest.raises(RegisterError, match="closed"):
            threading_result: list[Any] = []

            def other() -> None:
                try:
                    reg.by_kjennemerke("CU11297", None)
                except RegisterError as exc:
                    threading_result.append(exc)

            thread = threading.Thread(target=other)
            thread.start()
            thread.join()
            raise threading_result[0]
