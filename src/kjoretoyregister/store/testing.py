"""Test helpers for code that uses the store: throw-away databases on both backends.

PostgreSQL tests share one database (``test``) with every other test on the machine, so each
test gets its own schema: ``CREATE SCHEMA t_<random>``, a URL whose connections set
``search_path`` to it, and ``DROP SCHEMA … CASCADE`` afterwards.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from kjoretoyregister.store.db import make_engine, upgrade


def with_search_path(url: str, schema: str) -> str:
    """``url`` with libpq ``options`` that put ``schema`` first on the search path."""
    parsed = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    return parsed.render_as_string(hide_password=False)


@contextmanager
def postgres_schema(base_url: str, *, migrate: bool = True) -> Iterator[str]:
    """A fresh schema in the database at ``base_url``; yields a URL that uses it.

    Args:
        base_url: a ``postgresql+psycopg://`` URL of an existing database.
        migrate: run the migrations up to head in the new schema first.
    """
    schema = "t_" + secrets.token_hex(6)
    admin = make_engine(base_url, poolclass=NullPool)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        url = with_search_path(base_url, schema)
        try:
            if migrate:
                upgrade(url)
            yield url
        finally:
            with admin.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        admin.dispose()


@contextmanager
def sqlite_database(directory: Path, *, migrate: bool = True) -> Iterator[str]:
    """A fresh SQLite file in ``directory``; yields its URL (the file is left for inspection)."""
    url = f"sqlite:///{directory / ('kjr-' + secrets.token_hex(4) + '.db')}"
    if migrate:
        upgrade(url)
    yield url
