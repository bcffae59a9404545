"""Konfigurasjon tests run on SQLite and on the real PostgreSQL (a fresh schema per test).

Argon2 at production cost takes ~0.1 s per hash here; most tests use the cheapest profile
(verification reads its parameters from the hash, so behaviour is the same). Tests that
measure or check the production parameters opt out with ``@pytest.mark.real_argon2``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher, profiles
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from kjoretoyregister.konfig import passwords
from kjoretoyregister.store.db import make_engine, make_session_factory
from kjoretoyregister.store.testing import postgres_schema, sqlite_database


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "real_argon2: use the production Argon2 parameters")


@pytest.fixture(autouse=True)
def _cheap_argon2(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.node.get_closest_marker("real_argon2") is None:
        cheap = PasswordHasher.from_parameters(profiles.CHEAPEST)
        monkeypatch.setattr(passwords, "_hasher", cheap)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database on each backend."""
    if request.param == "sqlite":
        with sqlite_database(tmp_path) as url:
            yield url
    else:
        with postgres_schema(request.getfixturevalue("postgres_url")) as url:
            yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)
