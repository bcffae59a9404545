"""Engine and column types behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Column, MetaData, Table, insert, select
from sqlalchemy.exc import StatementError

from kjoretoyregister.store.db import (
    NAMING_CONVENTION,
    READ_ONLY,
    SQLITE_BUSY_TIMEOUT_MS,
    UTCDateTime,
    make_engine,
    make_session_factory,
)
from kjoretoyregister.store.registry import load_metadata


def test_sqlite_connections_use_wal_foreign_keys_and_busy_timeout(tmp_path: Path) -> None:
    """Concurrent readers need WAL, integrity needs FKs, writers must queue, not fail."""
    engine = make_engine(f"sqlite:///{tmp_path / 'sub' / 'x.db'}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == SQLITE_BUSY_TIMEOUT_MS
    finally:
        engine.dispose()
    assert (tmp_path / "sub" / "x.db").exists()


def test_sqlite_writers_queue_instead_of_deadlocking(tmp_path: Path) -> None:
    """Read-then-write transactions in parallel all succeed (BEGIN IMMEDIATE + busy timeout).

    With the driver's deferred BEGIN, two such transactions dead-lock on the lock upgrade and
    one fails at once with "database is locked"; here every increment must land.
    """
    engine = make_engine(f"sqlite:///{tmp_path / 'q.db'}")
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE counter (n INTEGER NOT NULL)")
            conn.exec_driver_sql("INSERT INTO counter VALUES (0)")
        errors: list[BaseException] = []

        def bump() -> None:
            try:
                for _ in range(5):
                    with engine.begin() as conn:
                        n = conn.exec_driver_sql("SELECT n FROM counter").scalar_one()
                        time.sleep(0.001)  # widen the read→write window
                        conn.exec_driver_sql("UPDATE counter SET n = ?", (n + 1,))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=bump) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert errors == []
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT n FROM counter").scalar_one() == 20
    finally:
        engine.dispose()


def test_read_only_transactions_do_not_wait_for_writers(tmp_path: Path) -> None:
    """The authorizer's deferred read must not queue behind an admin's open write."""
    url = f"sqlite:///{tmp_path / 'r.db'}"
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        writer = engine.connect()
        writer.begin()
        writer.exec_driver_sql("INSERT INTO t VALUES (2)")  # holds the write lock
        try:
            with engine.connect() as reader:
                reader.execution_options(**READ_ONLY)
                assert reader.exec_driver_sql("SELECT count(*) FROM t").scalar() == 1
        finally:
            writer.rollback()
            writer.close()
    finally:
        engine.dispose()


def test_naming_convention_names_every_constraint() -> None:
    """Autogenerate relies on stable constraint names; every konfig constraint has one."""
    metadata = load_metadata()
    assert metadata.naming_convention == NAMING_CONVENTION
    table = metadata.tables["integrasjon"]
    assert table.primary_key.name == "pk_integrasjon"
    fk_names = {fk.name for fk in table.foreign_key_constraints}
    assert fk_names == {"fk_integrasjon_fiks_org_id_fiks_organisasjon"}


def test_utc_datetime_round_trips_aware_on_both_backends(empty_db_url: str) -> None:
    """Timestamps come back as aware UTC whatever the backend; naive input is refused."""
    meta = MetaData()
    table = Table("ts_probe_" + uuid.uuid4().hex[:6], meta, Column("at", UTCDateTime()))
    engine = make_engine(empty_db_url)
    try:
        meta.create_all(engine)
        oslo = timezone(timedelta(hours=2))
        moment = datetime(2024, 5, 17, 12, 0, 0, 123456, tzinfo=oslo)
        with engine.begin() as conn:
            conn.execute(insert(table).values(at=moment))
        with engine.connect() as conn:
            value = conn.execute(select(table.c.at)).scalar_one()
        assert value == moment
        assert value.tzinfo is not None and value.utcoffset() == timedelta(0)
        with pytest.raises(StatementError, match="naive"), engine.begin() as conn:
            conn.execute(insert(table).values(at=datetime(2024, 1, 1)))
    finally:
        meta.drop_all(engine)
        engine.dispose()


def test_session_factory_keeps_objects_usable_after_commit(empty_db_url: str) -> None:
    """The edge commits and then renders what it wrote without another query."""
    engine = make_engine(empty_db_url)
    try:
        factory = make_session_factory(engine)
        meta = MetaData()
        table = Table("probe_" + uuid.uuid4().hex[:6], meta, Column("at", UTCDateTime()))
        meta.create_all(engine)
        with factory.begin() as session:
            session.execute(insert(table).values(at=datetime.now(UTC)))
        assert factory.kw["expire_on_commit"] is False
        meta.drop_all(engine)
    finally:
        engine.dispose()
