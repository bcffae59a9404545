"""Store tests run on SQLite and on the real PostgreSQL (a fresh schema per test)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kjoretoyregister.store.testing import postgres_schema, sqlite_database


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database (no migrations run) on each backend."""
    if request.param == "sqlite":
        with sqlite_database(tmp_path, migrate=False) as url:
            yield url
    else:
        with postgres_schema(request.getfixturevalue("postgres_url"), migrate=False) as url:
            yield url
