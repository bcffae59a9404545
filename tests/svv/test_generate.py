"""`svv generate`: deterministic, realistic, and always with the sisdinky vehicles."""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kjoretoyregister.cli import app
from kjoretoyregister.svv import kodeverk, sisdinky
from kjoretoyregister.svv.addresses import POSTSTEDER
from kjoretoyregister.svv.catalog import VARIANTS
from kjoretoyregister.svv.generate import generate
from kjoretoyregister.svv.identifiers import (
    is_synthetic_fodselsnummer,
    is_valid_orgnr,
    is_valid_vin,
)
from kjoretoyregister.svv.kjoretoy import plain
from kjoretoyregister.svv.plates import EV_SERIES
from kjoretoyregister.svv.register import Register

VEHICLES = 1500
SEED = 424242


@pytest.fixture(scope="module")
def register_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("generate") / "register.sqlite"
    generate(path, vehicles=VEHICLES, seed=SEED)
    return path


@pytest.fixture(scope="module")
def db(register_file: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(f"{register_file.as_uri()}?mode=ro", uri=True)
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def register(register_file: Path) -> Iterator[Register]:
    reg = Register(register_file)
    yield reg
    reg.close()


def _dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {
            t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr)  # noqa: S608
            for t in tables
            if t not in {"meta", "sqlite_stat1"}
        }
    finally:
        conn.close()


class TestDeterminism:
    def test_same_seed_and_size_give_identical_data(self, tmp_path: Path) -> None:
        """Two runs with the same seed and size write the same rows (only meta differs)."""
        a, b, c = tmp_path / "a.sqlite", tmp_path / "b.sqlite", tmp_path / "c.sqlite"
        meta_a = generate(a, vehicles=300, seed=7)
        meta_b = generate(b, vehicles=300, seed=7)
        generate(c, vehicles=300, seed=8)
        assert _dump(a) == _dump(b)
        assert _dump(a)["kjoretoy"] != _dump(c)["kjoretoy"]
        varying = {"generated_at", "phase_seconds"}
        assert {k: v for k, v in meta_a.items() if k not in varying} == {
            k: v for k, v in meta_b.items() if k not in varying
        }

    @pytest.mark.slow
    def test_process_pool_gives_the_same_rows_as_one_process(self, tmp_path: Path) -> None:
        """Chunks are independent: made in two worker processes, the file is the same."""
        one, pool = tmp_path / "one.sqlite", tmp_path / "pool.sqlite"
        generate(one, vehicles=900, seed=99, workers=0, chunk_sizes=(200, 300))
        generate(pool, vehicles=900, seed=99, workers=2, chunk_sizes=(200, 300))
        assert _dump(one) == _dump(pool)
        assert not list(tmp_path.glob(".svv-chunks-*")), "chunk files are cleaned up"

    def test_rejects_bad_arguments(self, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match="between 0 and"):
            generate(tmp_path / "x.sqlite", vehicles=-1, seed=1)
        with pytest.raises(ValueError, match="timezone-aware"):
            generate(tmp_path / "x.sqlite", vehicles=10, seed=1, as_of=datetime(2026, 1, 1))


class TestSisdinky:
    @pytest.mark.parametrize("vehicle", sisdinky.VEHICLES, ids=lambda v: v.kjennemerke)
    def test_every_published_vehicle_is_there(
        self, register: Register, vehicle: sisdinky.SisVehicle
    ) -> None:
        """Same plate, VIN, make and status as SVV's test environment, whatever the seed."""
        found = register.by_kjennemerke(vehicle.kjennemerke, None)
        assert len(found) == 1
        result = found[0]
        if vehicle.skjerming:
            assert result.hidden
            return
        kjoretoy = plain(result.kjoretoy)
        assert kjoretoy["kjoretoyId"]["understellsnummer"] == vehicle.vin
        generelt = kjoretoy["godkjenning"]["tekniskGodkjenning"]["tekniskeData"]["generelt"]
        if vehicle.modell is not None:  # SVV's own technical data, as SVV spells it
            assert generelt == vehicle.modell["tekniskeData"]["generelt"]
            assert kjoretoy["kjoretoyId"]["merkekode"] == vehicle.modell["merkekode"]
        else:
            assert vehicle.katalog is not None
            assert generelt["merke"][0]["merke"] == vehicle.katalog.merke
            assert generelt["handelsbetegnelse"] == [vehicle.katalog.handelsbetegnelse]
        status = kjoretoy["registrering"]["registreringsstatus"]["kodeVerdi"]
        assert status == kodeverk.STATUS_NAMES[vehicle.status]
        if vehicle.kuid:
            assert kjoretoy["kjoretoyId"]["kuid"] == str(vehicle.kuid)

    @pytest.mark.parametrize(
        ("plate", "roles"),
        [
            ("CU10149", {"eier": "NORDBYHAGEN OG VRÅDAL"}),
            ("CU11193", {"eier": "ST. OLAVS HOSPITAL HF"}),
            ("CU11293", {"eier": "MUSIKALSK FORSKJELL"}),
            ("CU11295", {"eier": "BILIA PERSONBIL AS"}),
            ("CU11296", {"eier": "SELVHJULPEN KENGURU"}),
            ("CU11297", {"eier": "MØLLER BIL AS", "leasingtaker": "KONKURRANSEDYKTIG BUDEIE"}),
            ("CU11298", {"eier": "MØLLER BIL AS", "leasingtaker": "STATENS VEGVESEN"}),
            ("CU11299", {"eier": "OPPRETT AVSTAND"}),
            ("CU11302", {"eier": "STRAFFET VOTT"}),
            ("CU11304", {"eier": "TILFREDSSTILLENDE LINJAL", "medeier": "TØRR PRAKSIS"}),
            ("CU11305", {"eier": "LEASEPLAN NORGE AS", "leasingtaker": "GLOVARM HUMOR"}),
            (
                "CU11306",
                {"eier": "NORSK SCANIA AS", "leasingtaker": "NORSK SCANIA AS HOVEDKONTOR SKØYEN"},
            ),
            ("CU11307", {"eier": "UTTRYKKSFULL POESI"}),
            ("CU11308", {"eier": "SØR-ØST POLITIDISTRIKT"}),
            ("CU11309", {"eier": "LYSEBLÅ KURSIV TIGER AS"}),
            ("EC80287", {"eier": "RIMELIG KLAUSTROFOBI"}),
            ("YX1480", {"eier": "PRAKTISK JERNBANE"}),
            ("CU10942", {"eier": "HELGE KROKEN", "medeier": "JARLE BERGER"}),
            ("CU10001", {"eier": "LEASEPLAN NORGE AS", "leasingtaker": "LEDENDE FIRKANT"}),
        ],
    )
    def test_owner_names_and_roles(
        self, register: Register, plate: str, roles: dict[str, str]
    ) -> None:
        eierskap = register.by_kjennemerke(plate, None)[0].kjoretoy["eierskap"]
        names = {role: _name(holder) for role, holder in eierskap.items() if role in _ROLES}
        assert names == roles

    def test_published_details(self, register: Register) -> None:
        """kuid/imid of CU10942, SVALBARD address status, the published leasingtaker fnr."""
        cu10942 = register.by_kuid("3378119709", None)[0].kjoretoy
        assert cu10942["kjoretoyId"]["kjennemerke"] == "CU 10942"
        assert cu10942["kjoretoyId"]["imid"] == "4628"
        assert cu10942["kjoretoyId"]["understellsnummer"] == "TESTDIGDIR0000016"
        assert cu10942["eierskap"]["eier"]["adressestatus"]["kodeVerdi"] == "SVALBARD"
        ec80261 = register.by_kuid("3378119451", None)[0].kjoretoy
        assert ec80261["kjoretoyId"]["kjennemerke"] == "EC 80261"
        cu10001 = register.by_kuid("3378041341", None)[0].kjoretoy
        assert cu10001["kjoretoyId"]["merkekode"] == "4350"
        leasingtaker = cu10001["eierskap"]["leasingtaker"]["person"]
        assert leasingtaker["fodselsnummer"] == "63888700414"
        st_olavs = register.by_kjennemerke("CU11193", None)[0].kjoretoy["registrering"]
        assert st_olavs["neringskode"] == "86.906"

    def test_sisdinky_persons_have_synthetic_fnr(self, db: sqlite3.Connection) -> None:
        rows = db.execute(
            "SELECT ident FROM kunder WHERE type = 0 AND id >= 124000000 AND id < 125000000"
        )
        numbers = [f"{r[0]:011d}" for r in rows]
        assert len(numbers) == len(sisdinky.PERSONS)
        assert all(is_synthetic_fodselsnummer(n) for n in numbers)
        assert len(set(numbers)) == len(numbers)

    def test_only_our_own_examples_have_earlier_owners(self, register: Register) -> None:
        """SVV's vehicles keep SVV's one ownership; the earlier-owner example is ours."""
        for vehicle in sisdinky.SVV_VEHICLES:
            assert len(vehicle.periods) == 1, vehicle.kjennemerke
        plate, dtg, name = sisdinky.EARLIER_OWNER_EXAMPLE
        then = register.by_kjennemerke(plate, datetime.fromisoformat(dtg))[0].kjoretoy
        assert _name(then["eierskap"]["eier"]) == name
        now = register.by_kjennemerke(plate, None)[0].kjoretoy
        assert _name(now["eierskap"]["eier"]) != name


_ROLES = ("eier", "medeier", "leasingtaker", "underenhet")


def _name(holder: dict[str, Any]) -> str:
    if "enhet" in holder:
        return str(holder["enhet"]["organisasjonsnavn"])
    person = holder["person"]
    return " ".join(
        p for p in (person["fornavn"], person.get("mellomnavn"), person["etternavn"]) if p
    )


class TestRealism:
    def test_identifiers_are_valid(self, db: sqlite3.Connection) -> None:
        """Every generated VIN, fødselsnummer and organisasjonsnummer is well-formed."""
        vins = [r[0] for r in db.execute("SELECT vin FROM kjoretoy WHERE kuid < 3378000000")]
        assert len(vins) == VEHICLES and all(is_valid_vin(v) for v in vins)
        persons = [f"{r[0]:011d}" for r in db.execute("SELECT ident FROM kunder WHERE type = 0")]
        assert all(is_synthetic_fodselsnummer(n) for n in persons)
        assert len(set(persons)) == len(persons)
        orgs = [f"{r[0]:09d}" for r in db.execute("SELECT ident FROM kunder WHERE type = 1")]
        assert all(is_valid_orgnr(n) for n in orgs)
        assert len(set(orgs)) == len(orgs)
        assert any(int(n[0:2]) > 40 for n in persons), "some d-numbers"

    def test_plate_formats(self, db: sqlite3.Connection) -> None:
        """AB 12345 for cars and trailers, the EV series for electric cars, AB 1234 for MCs."""
        rows = db.execute(
            "SELECT k.kjennemerke, k.kategori, v.variant FROM kjennemerker k "
            "JOIN kjoretoy v ON v.kuid = k.kuid WHERE v.kuid < 3378000000"
        ).fetchall()
        plates = [r[0] for r in rows]
        assert len(set(plates)) == len(plates)
        for plate, kategori, variant in rows:
            v = VARIANTS[variant]
            if kategori == kodeverk.KATEGORI_PERSONLIG:
                assert 2 <= len(plate) <= 7
            elif v.small_plate:
                assert re.fullmatch(r"[A-Z]{2}\d{4}", plate), plate
            elif v.electric_plate:
                assert re.fullmatch(r"[A-Z]{2}\d{5}", plate) and plate[:2] in EV_SERIES, plate
            else:
                assert re.fullmatch(r"[A-Z]{2}\d{5}", plate) and plate[0] != "E", plate

    def test_statuses_fuels_and_history_look_like_norway(self, db: sqlite3.Connection) -> None:
        status = Counter(r[0] for r in db.execute("SELECT status FROM kjoretoy"))
        total = sum(status.values())
        assert 0.5 < status[kodeverk.REGISTRERT] / total < 0.8
        assert 0.1 < status[kodeverk.VRAKET] / total < 0.4
        assert status[kodeverk.AVREGISTRERT] > 0 and status[kodeverk.UTFORT] > 0
        recent = [
            VARIANTS[r[0]].fuel
            for r in db.execute(
                # generated vehicles only (the sisdinky ones have variants of their own)
                "SELECT variant FROM kjoretoy WHERE forstereg >= ? AND kuid < 3378000000",
                (int(datetime(2022, 1, 1, tzinfo=UTC).timestamp()),),
            )
            if VARIANTS[r[0]].model.klasse == "M1"
        ]
        assert Counter(recent)["E"] / len(recent) > 0.6, "most new cars are electric"
        owners = Counter(
            r[0] for r in db.execute("SELECT count(*) FROM eierskap WHERE rolle = 0 GROUP BY kuid")
        )
        several = sum(n for count, n in owners.items() if count >= 2)
        assert several / sum(owners.values()) > 0.3, "many vehicles had 2-4 owners"
        assert db.execute("SELECT count(*) FROM eierskap WHERE rolle = 1").fetchone()[0] > 0
        assert db.execute("SELECT count(*) FROM eierskap WHERE rolle = 2").fetchone()[0] > 0
        assert db.execute("SELECT count(*) FROM eierskap WHERE rolle = 3").fetchone()[0] > 0
        changed = db.execute("SELECT count(*) FROM kjennemerker WHERE tom IS NOT NULL").fetchone()
        assert changed[0] > 0, "some vehicles changed plates"
        hidden = db.execute("SELECT count(*) FROM kjoretoy WHERE skjerming > 0").fetchone()[0]
        assert hidden >= 2

    def test_addresses_use_real_postal_areas(self, db: sqlite3.Connection) -> None:
        real = {(p.postnummer, p.poststed, p.kommunenummer, p.kommunenavn) for p in POSTSTEDER}
        stored = set(
            db.execute(
                "SELECT postnummer, poststed, kommunenummer, kommunenavn FROM poststeder "
                "WHERE id < ?",  # after them: those of SVV's own addresses
                (len(POSTSTEDER),),
            )
        )
        assert stored == real
        assert len(real) >= 150
        used = {r[0] for r in db.execute("SELECT DISTINCT post FROM kunder")}
        assert len(used) > 100


class TestCli:
    def test_generate_command(self, tmp_path: Path) -> None:
        out = tmp_path / "cli.sqlite"
        result = CliRunner().invoke(
            app,
            ["svv", "generate", "--vehicles", "100", "--seed", "3", "--out", str(out), "--quiet"],
        )
        assert result.exit_code == 0, result.output
        assert "100 vehicles" in result.output
        reg = Register(out)
        try:
            assert reg.meta["vehicles"] == 100 and reg.meta["seed"] == 3
        finally:
            reg.close()

    def test_missing_folder_is_refused_not_created(self, tmp_path: Path) -> None:
        """--out in a folder that does not exist: one error line, exit 2, nothing created."""
        out = tmp_path / "nonexistent" / "dir" / "x.sqlite"
        result = CliRunner().invoke(
            app, ["svv", "generate", "--vehicles", "10", "--out", str(out), "--quiet"]
        )
        assert result.exit_code == 2, result.output
        assert result.output.startswith("error: folder ") and str(out.parent) in result.output
        assert len(result.output.strip().splitlines()) == 1
        assert not (tmp_path / "nonexistent").exists()

    def test_progress_bar(self, tmp_path: Path) -> None:
        """The rich progress display runs (and the file is complete afterwards)."""
        meta = generate(tmp_path / "p.sqlite", vehicles=50, seed=1, progress=True)
        assert meta["sisdinky"] == len(sisdinky.VEHICLES)
