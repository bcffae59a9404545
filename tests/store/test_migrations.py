"""Migrations are the only way the schema changes, and they produce exactly the models."""

from __future__ import annotations

import threading
from importlib import resources

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from kjoretoyregister.store.db import (
    alembic_config,
    current_revision,
    head_revision,
    make_engine,
    upgrade,
)
from kjoretoyregister.store.registry import load_metadata

KONFIG_TABLES = {
    "fiks_organisasjon",
    "tjeneste_aktivering",
    "integrasjon",
    "tilgang",
    "admin_hendelse",
}


def _diff(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, load_metadata()))
    finally:
        engine.dispose()


def test_upgrade_from_empty_matches_the_models(empty_db_url: str) -> None:
    """Autogenerate finds nothing to do after `upgrade`: migrations and models agree."""
    assert current_revision(empty_db_url) is None
    upgrade(empty_db_url)
    assert current_revision(empty_db_url) == head_revision()
    assert _diff(empty_db_url) == []
    engine = make_engine(empty_db_url)
    try:
        assert set(inspect(engine).get_table_names()) >= KONFIG_TABLES
    finally:
        engine.dispose()


def test_upgrade_is_idempotent(empty_db_url: str) -> None:
    """Every CLI start may call `upgrade`; a second run changes nothing."""
    upgrade(empty_db_url)
    upgrade(empty_db_url)
    assert current_revision(empty_db_url) == head_revision()


def test_downgrade_to_base_and_up_again(empty_db_url: str) -> None:
    """The downgrade path works, so a bad release can be rolled back."""
    upgrade(empty_db_url)
    cfg = alembic_config(empty_db_url)
    command.downgrade(cfg, "base")
    assert current_revision(empty_db_url) is None
    engine = make_engine(empty_db_url)
    try:
        assert not KONFIG_TABLES & set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    upgrade(empty_db_url)
    assert _diff(empty_db_url) == []


def test_concurrent_upgrades_do_not_collide(empty_db_url: str) -> None:
    """Two processes starting at once both run `upgrade`; one migrates, the other waits."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            upgrade(empty_db_url)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert current_revision(empty_db_url) == head_revision()


def test_single_head_and_migrations_ship_in_the_package() -> None:
    """The scripts are package data (found via importlib.resources) with one linear head."""
    location = resources.files("kjoretoyregister.store") / "migrations"
    assert (location / "env.py").is_file()
    assert (location / "script.py.mako").is_file()
    versions = [p.name for p in (location / "versions").iterdir() if p.name.endswith(".py")]
    assert versions, "no migration scripts found"
    # Date-prefixed names (style anchor 18): YYYY_MM_DD_HHMM-<rev>_<slug>.py
    assert all(name[:4].isdigit() and name[4] == "_" for name in versions)
    assert head_revision()
