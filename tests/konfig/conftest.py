"""Konfigurasjon tests run on SQLite and on the real PostgreSQL (a fresh schema per test).

Argon2 at production cost takes ~0.1 s per hash here; most tests use the cheapest profile
(verification reads its parameters from the hash, so behaviour is the same). Tests that
measure or check the production parameters opt out with ``@pytest.mark.real_argon2``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from argon2 import PasswordHasher, profiles
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from kjoretoyregister.konfig import passwords
from kjoretoyregister.store.db import make_engine, make_session_factory, upgrade
from kjoretoyregister.store.testing import postgres_schema


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "real_argon2: use the production Argon2 parameters")


@pytest.fixture(autouse=True)
def _cheap_argon2(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.node.get_closest_marker("real_argon2") is None:
        cheap = PasswordHasher.from_parameters(profiles.CHEAPEST)
        monkeypatch.setattr(passwords, "_hasher", cheap)


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per session; each test gets a copy (ms instead of 0.1 s)."""
    path = tmp_path_factory.mktemp("konfig-template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="module")
def _pg_schema_pool() -> Iterator[tuple[dict[str, str], ExitStack]]:
    """One migrated PostgreSQL schema per test module, emptied after each test."""
    with ExitStack() as stack:
        yield {}, stack


def _empty_all_tables(url: str) -> None:
    engine = make_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("SET LOCAL lock_timeout = '10s'")
            # Test clean-up only: replica mode skips the append-only (and FK) triggers.
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            tables = [
                name
                for (name,) in conn.exec_driver_sql(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                    " AND tablename <> 'alembic_version'"
                )
            ]
            # DELETE, not TRUNCATE: on a handful of rows it is ~10x cheaper (no new files).
            for table in tables:
                conn.exec_driver_sql(f'DELETE FROM "{table}"')  # noqa: S608 - from pg_tables
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    _sqlite_template: Path,
    _pg_schema_pool: tuple[dict[str, str], ExitStack],
) -> Iterator[str]:
    """A migrated, empty database on each backend.

    SQLite: a copy of a migrated template file. PostgreSQL: a schema of this module's own
    (``store.testing.postgres_schema``), truncated after each test, so tests never see each
    other's rows nor collide with other tests using the same database.
    """
    if request.param == "sqlite":
        path = tmp_path / "konfig.db"
        shutil.copyfile(_sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    base = request.getfixturevalue("postgres_url")
    pool, stack = _pg_schema_pool
    if base not in pool:
        pool[base] = stack.enter_context(postgres_schema(base))
    yield pool[base]
    _empty_all_tables(pool[base])


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)
