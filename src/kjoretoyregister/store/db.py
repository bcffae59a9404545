"""Engine, session factory, the one declarative ``Base`` and programmatic Alembic upgrades.

SQLite (the default, a file in ``data_dir``) and PostgreSQL (``postgresql+psycopg://…``) are both
first-class. Nothing here runs at import time: callers build an engine from a URL they got
from settings, and own the unit of work (``with factory.begin() as session: …``).

SQLite transactions: the stdlib driver would only send ``BEGIN`` before the first write, so
two writers that both read first dead-lock on the lock upgrade and one fails at once with
"database is locked" (the busy timeout does not help there). We therefore send our own
``BEGIN IMMEDIATE`` for every transaction, which takes the write lock up front and makes
writers queue behind the busy timeout instead. Read-only paths that must not queue behind
writers (the gateway's authorization check) ask for a deferred transaction with
``connection.execution_options(**READ_ONLY)`` — in WAL mode readers never block.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    Engine,
    Integer,
    MetaData,
    TypeDecorator,
    Uuid,
    create_engine,
    event,
)
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

#: Constraint names Alembic can rely on (autogenerate and later ALTERs need stable names).
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Milliseconds a SQLite connection waits for another writer before "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 10_000

#: Execution option for a read-only SQLite transaction (deferred ``BEGIN``); a no-op elsewhere.
READ_ONLY: dict[str, Any] = {"kjr_sqlite_begin": "DEFERRED"}

#: A 64-bit auto-increment key type that is still SQLite's rowid alias (BIGINT is not).
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp that always comes back as an aware UTC ``datetime``.

    PostgreSQL stores ``timestamptz`` natively; SQLite has no time zone support and would
    hand back naive values, so we normalise to UTC on the way in and re-attach UTC on the way
    out. Naive datetimes are refused: they are always a bug here.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    """The current time as an aware UTC datetime (what every timestamp column stores)."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """The one declarative base of the project; every table of every part hangs off it.

    Columns are declared with ``Mapped[...]``. ``datetime`` maps to :class:`UTCDateTime`
    (aware UTC on both backends), ``uuid.UUID`` to the native UUID type on PostgreSQL and
    ``CHAR(32)`` on SQLite, ``dict[str, Any]`` to JSON.
    """

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        datetime: UTCDateTime(),
        uuid.UUID: Uuid(),
        dict[str, Any]: JSON(),
    }


def is_sqlite(url: str) -> bool:
    """Whether a SQLAlchemy URL names a SQLite database."""
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Build an engine for ``url`` with the project's connection settings.

    SQLite: the parent directory of the file is created, every connection runs WAL mode,
    ``foreign_keys=ON`` and a busy timeout, and transactions begin ``IMMEDIATE`` (see the
    module docstring). PostgreSQL: pooled connections with a pre-ping, so a restarted server
    costs one failed checkout instead of an error.

    Args:
        url: SQLAlchemy URL (``sqlite:///path`` or ``postgresql+psycopg://…``).
        kwargs: passed on to :func:`sqlalchemy.create_engine` (e.g. ``echo=True``).

    Returns:
        The engine; dispose it when done.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def hex64(value: str | None) -> int | None:
    """The first 16 hex digits of ``value`` as a signed 64-bit integer (two's complement).

    SQLite has it as ``kjr_hex64(x)`` on every connection of :func:`make_engine`; the same in
    PostgreSQL is :data:`HEX64_PG`. Compact keys for hashes (audit/subject_index.py).
    """
    if value is None:
        return None
    return int.from_bytes(bytes.fromhex(value[:16]), "big", signed=True)


#: :func:`hex64` in PostgreSQL, with ``{}`` for the column.
HEX64_PG = "('x' || substr({}, 1, 16))::bit(64)::bigint"


def hex64_sql(dialect: str, column: str) -> str:
    """SQL for :func:`hex64` of ``column`` on ``dialect``."""
    return HEX64_PG.format(column) if dialect == "postgresql" else f"kjr_hex64({column})"


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver; "begin" below sends BEGIN itself.
        dbapi_connection.isolation_level = None
        dbapi_connection.create_function("kjr_hex64", 1, hex64, deterministic=True)
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            _ensure_wal(cursor)
            cursor.execute("PRAGMA foreign_keys=ON")
            # WAL makes NORMAL durable against application crashes; FULL adds an fsync per
            # commit that only protects against power loss on the host.
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("kjr_sqlite_begin", "IMMEDIATE")
        if mode not in {"IMMEDIATE", "DEFERRED", "EXCLUSIVE"}:
            raise ValueError(f"unknown SQLite begin mode {mode!r}")
        connection.exec_driver_sql(f"BEGIN {mode}")


def _ensure_wal(cursor: Any) -> None:
    """Switch the file to WAL (persistent) unless it already is.

    Changing the journal mode needs an exclusive lock and SQLite answers "database is locked"
    at once, without the busy handler, when another connection holds a write lock. WAL is
    stored in the file, so only the first connection to a new file switches it; a loser of
    that race retries until it sees WAL.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        cursor.execute("PRAGMA journal_mode")
        if str(cursor.fetchone()[0]).lower() == "wal":
            return
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory bound to ``engine``; objects stay usable after commit.

    ``expire_on_commit=False`` lets the edge commit and then render what it wrote without
    another round trip. The edge owns the unit of work: ``with factory.begin() as s: …``
    commits on success and rolls back on any exception.
    """
    return sessionmaker(bind=engine, expire_on_commit=False)


def migrations_location() -> str:
    """The Alembic script location inside the installed package."""
    return str(resources.files("kjoretoyregister.store") / "migrations")


def alembic_config(url: str | None = None) -> Any:
    """An Alembic ``Config`` for the packaged migrations (no ``alembic.ini`` needed).

    Args:
        url: database URL; ``upgrade`` passes an open connection instead, so this is only
            needed for commands that connect on their own.
    """
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", migrations_location())
    # Date-prefixed file names keep `ls versions/` in creation order (style anchor 18).
    cfg.set_main_option(
        "file_template",
        "%%(year)d_%%(month).2d_%%(day).2d_%%(hour).2d%%(minute).2d-%%(rev)s_%%(slug)s",
    )
    cfg.set_section_option("post_write_hooks", "hooks", "ruff_format, ruff_fix")
    # `python -m ruff` of the running interpreter, so the hooks work without ruff on PATH.
    for name, options in (
        ("ruff_format", "format REVISION_SCRIPT_FILENAME"),
        ("ruff_fix", "check --fix REVISION_SCRIPT_FILENAME"),
    ):
        cfg.set_section_option("post_write_hooks", f"{name}.type", "module")
        cfg.set_section_option("post_write_hooks", f"{name}.module", "ruff")
        cfg.set_section_option("post_write_hooks", f"{name}.options", options)
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Run the packaged Alembic migrations on ``url`` up to ``revision`` (default: head).

    Safe to call on every start: an up-to-date database costs one query. Concurrent callers
    on SQLite queue on the write lock; on PostgreSQL DDL is transactional, and a transaction
    level advisory lock serialises concurrent upgraders.
    """
    from alembic import command

    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql("SELECT pg_advisory_xact_lock(4242004)")
            cfg = alembic_config()
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)
    finally:
        engine.dispose()


def current_revision(url: str) -> str | None:
    """The revision the database at ``url`` is at, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str:
    """The newest revision of the packaged migrations (there must be exactly one head)."""
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"migrations must have exactly one head, found {heads}")
    return heads[0]
