"""Chaining entries onto the head and inserting them, at the level of the database driver.

The durable writer commits once per batch, and at 500 req/s most batches hold one event: a
profile of a 1-event commit on SQLite (2,000 commits) put ~60 % of its 620 µs of CPU in
SQLAlchemy building, compiling and caching the head ``SELECT``/``UPDATE`` and setting up result
objects, not in SQLite. Every statement here is a fixed string sent through the driver's own
cursor (``sqlite3`` or ``psycopg``), so a small commit costs what the database costs.

Two entry points: :func:`append` and :func:`lock_head` take a SQLAlchemy ``Connection``
already in a write transaction (CLI, retention, tests); :func:`append_driver` takes the driver
connection itself (the writer thread, which holds one for its lifetime).
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table

from kjoretoyregister.audit import chain
from kjoretoyregister.audit.models import CHECKPOINT_TABLE as _CHECKPOINT
from kjoretoyregister.audit.models import ENTRY_TABLE as _ENTRY
from kjoretoyregister.audit.models import HEAD_TABLE as _HEAD
from kjoretoyregister.audit.models import ITEM_TABLE as _ITEM
from kjoretoyregister.audit.models import SUBJECT_TABLE as _SUBJECT
from kjoretoyregister.store.db import utcnow

#: Up to this many rows a PostgreSQL batch goes as pipelined INSERTs in one round trip; above
#: it COPY's per-row cost wins (psycopg's executemany costs ~0.1 ms of Python per row).
PIPELINE_MAX_ROWS = 48

_SELECT_HEAD = f"SELECT seq, hash, base_seq, base_hash FROM {_HEAD.name} WHERE id = 1"  # noqa: S608
#: PostgreSQL: the row lock is the chain lock, held until commit. SQLite: the transaction
#: already holds the database's write lock (``BEGIN IMMEDIATE``).
_LOCK_HEAD = {"postgresql": _SELECT_HEAD + " FOR UPDATE", "sqlite": _SELECT_HEAD}
_MARK = {"postgresql": "%s", "sqlite": "?"}


@dataclass(slots=True)
class Pending:
    """An entry ready to be chained: its columns, item rows and subject rows (no seq yet)."""

    entry: dict[str, Any]
    items: list[dict[str, Any]] = field(default_factory=list)
    subjects: list[tuple[int, str, str]] = field(default_factory=list)

    @property
    def row_count(self) -> int:
        """Rows this entry inserts: itself, its items and its subjects."""
        return 1 + len(self.items) + len(self.subjects)


@dataclass(frozen=True, slots=True)
class Head:
    """The chain head row as read under the lock."""

    seq: int
    hash: str
    base_seq: int
    base_hash: str


def dialect_of(conn: Connection) -> str:
    """``sqlite`` or ``postgresql``; any other database is refused (only these are migrated)."""
    name = conn.dialect.name
    if name not in _MARK:
        raise RuntimeError(f"the audit log supports SQLite and PostgreSQL, not {name}")
    return name


def lock_head(conn: Connection) -> Head:
    """Lock and read the chain head inside the connection's (write) transaction."""
    return lock_head_driver(conn.connection.driver_connection, dialect_of(conn))


def lock_head_driver(driver: Any, dialect: str) -> Head:
    """:func:`lock_head` on a driver connection inside a write transaction."""
    cursor = driver.cursor()
    try:
        cursor.execute(_LOCK_HEAD[dialect])
        row = cursor.fetchone()
    finally:
        cursor.close()
    return head_of(row)


def head_of(row: Sequence[Any] | None) -> Head:
    """The :class:`Head` of a head row read by a script (or SQLite's equivalent)."""
    if row is None:
        raise RuntimeError("audit_chain_head has no row: run the migrations")
    return Head(int(row[0]), str(row[1]), int(row[2]), str(row[3]))


def append(conn: Connection, pending: Sequence[Pending], head: Head | None = None) -> Head:
    """Chain ``pending`` after the head and insert it; the caller commits.

    Args:
        conn: a connection inside a write transaction.
        pending: entries in the order they join the chain.
        head: the head if the caller has already locked it, else it is locked here.

    Returns:
        The new head.
    """
    return append_driver(conn.connection.driver_connection, dialect_of(conn), pending, head)


def append_driver(
    driver: Any, dialect: str, pending: Sequence[Pending], head: Head | None = None
) -> Head:
    """:func:`append` on a driver connection (``sqlite3`` or ``psycopg``) in a transaction."""
    chained = chain_rows(pending, head or lock_head_driver(driver, dialect))
    insert_chained(driver, dialect, chained)
    return chained.head


@dataclass(frozen=True, slots=True)
class Chained:
    """Rows of a batch chained after a head, and the head they lead to."""

    entries: list[dict[str, Any]]
    items: list[dict[str, Any]]
    subjects: list[dict[str, Any]]
    head: Head

    @property
    def tables(self) -> tuple[tuple[Table, list[dict[str, Any]]], ...]:
        return ((_ENTRY, self.entries), (_ITEM, self.items), (_SUBJECT, self.subjects))

    @property
    def row_count(self) -> int:
        return len(self.entries) + len(self.items) + len(self.subjects)


def chain_rows(pending: Sequence[Pending], head: Head) -> Chained:
    """Number and hash ``pending`` after ``head``: the rows to insert, nothing sent yet."""
    seq, prev = head.seq, head.hash
    entries: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    subjects: list[dict[str, Any]] = []
    for p in pending:
        seq += 1
        digest = chain.link(prev, chain.canonical(p.entry, p.items, p.subjects))
        entries.append({**p.entry, "seq": seq, "prev_hash": prev, "hash": digest})
        items.extend({**i, "entry_seq": seq} for i in p.items)
        subjects.extend(
            {"entry_seq": seq, "pos": pos, "role": role, "pseudonym": ps}
            for pos, role, ps in p.subjects
        )
        prev = digest
    return Chained(entries, items, subjects, Head(seq, prev, head.base_seq, head.base_hash))


def insert_chained(driver: Any, dialect: str, chained: Chained) -> None:
    """Insert ``chained`` and move the head, in the caller's transaction (head locked)."""
    seq, prev = chained.head.seq, chained.head.hash
    if dialect == "postgresql":
        if chained.row_count <= PIPELINE_MAX_ROWS:
            _pg_pipelined(driver, chained.tables, seq, prev)
            return
        for table, rows in chained.tables:
            _copy(driver, table, rows)
    else:
        cursor = driver.cursor()
        try:
            for table, rows in chained.tables:
                if rows:
                    columns = list(rows[0])
                    cursor.executemany(_insert_sql(table, columns, "?"), _sqlite_rows(rows))
        finally:
            cursor.close()
    _execute(driver, _update_head_sql(dialect), (seq, prev))


#: Moves the head only from the head the writer knows, and otherwise fails the statement
#: (1 / 0 rows), which fails the whole script: nothing of it is written.
_MOVE_KNOWN_HEAD = (
    f"WITH moved AS (UPDATE {_HEAD.name} SET seq = %s, hash = %s "  # noqa: S608
    "WHERE id = 1 AND seq = %s AND hash = %s RETURNING 1) SELECT 1 / count(*) FROM moved"
)


def known_head_script(bind: Any, chained: Chained, known: Head) -> str:
    """PostgreSQL: one simple-query script that moves the head from ``known`` and inserts.

    PostgreSQL runs a multi-statement simple query as one implicit transaction (on a
    connection in autocommit): all of it commits or none of it does. Values are bound on the
    client by psycopg's own literal quoting (``bind`` is a ``ClientCursor``'s ``mogrify``
    owner), never by string formatting. Against the pipelined extended protocol (a
    Parse/Bind/Execute per row and a Python round per message) this took a one-event commit
    from ~490 to ~290 µs of CPU.

    ``chained`` must be chained after ``known``. The guarded UPDATE comes first and takes the
    head's row lock, so writers are serialised as with ``SELECT … FOR UPDATE``; if the head is
    no longer ``known`` the guard fails (division by zero) and nothing is written.
    """
    script = [
        bind.mogrify(_MOVE_KNOWN_HEAD, (chained.head.seq, chained.head.hash, known.seq, known.hash))
    ]
    for table, rows in chained.tables:
        if rows:
            columns = list(rows[0])
            row_marks = "(" + ", ".join(["%s"] * len(columns)) + ")"
            values = ", ".join([row_marks] * len(rows))
            sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES {values}"  # noqa: S608
            script.append(bind.mogrify(sql, [v for row in _tuples(rows, columns) for v in row]))
    return ";\n".join(script)


#: Server-side chaining keeps the head it locked in two transaction-local settings: a script
#: of simple queries cannot pass values from one statement to the next any other way.
_SEQ_SETTING, _HASH_SETTING = "kjr.audit_seq", "kjr.audit_hash"
_BASE_SEQ = f"current_setting('{_SEQ_SETTING}')::bigint"
_LAST_HASH = f"current_setting('{_HASH_SETTING}')"
#: chain.link in SQL: SHA-256 over the previous hash, a newline and the canonical bytes.
_LINK_SQL = f"encode(sha256(convert_to({_LAST_HASH} || chr(10), 'UTF8') || %s), 'hex')"


@dataclass(frozen=True, slots=True)
class ServerChained:
    """A one-message PostgreSQL script that chains a batch onto whatever head it locks."""

    script: str
    #: ``chain.canonical`` of each entry, in chain order: what the server hashes, and what
    #: the writer re-hashes from the head the server reports, to check it agrees.
    contents: list[bytes]


def server_chained_script(bind: Any, pending: Sequence[Pending]) -> ServerChained:
    """PostgreSQL: one simple-query script that locks the head, chains and inserts ``pending``
    after it, and moves it, with no round trip while the head is locked.

    For a writer that does not know the head (another writer moved it): locking it in one
    message and sending the rows in a second held the lock across a round trip and a wait for
    a busy event loop, so two writers queued behind each other (docs/performance.md). Here the
    server numbers the entries from the locked head and hashes each as :func:`chain.link`
    does (``sha256(prev || "\\n" || canonical)``, the canonical bytes computed here, sent as
    ``bytea``); the statements run in order as one implicit transaction (autocommit
    connection), so all of it commits or none of it does. The results are: the head as locked,
    the settings, one per entry, the inserts, then the new head (``seq``, ``hash``), which
    the caller checks against :func:`chain.link` over ``contents`` from the locked head.
    Values are bound on the client with psycopg's literal quoting, as in
    :func:`known_head_script`.
    """
    script = [
        _LOCK_HEAD["postgresql"],
        # A statement of its own, after the lock: its snapshot sees the head as locked.
        f"SELECT set_config('{_SEQ_SETTING}', seq::text, true), "  # noqa: S608
        f"set_config('{_HASH_SETTING}', hash, true) FROM {_HEAD.name} WHERE id = 1",
    ]
    contents: list[bytes] = []
    items: list[tuple[int, dict[str, Any]]] = []
    subjects: list[tuple[int, tuple[int, str, str]]] = []
    for n, p in enumerate(pending, start=1):
        content = chain.canonical(p.entry, p.items, p.subjects)
        contents.append(content)
        columns = list(p.entry)
        marks = ", ".join(["%s"] * len(columns))
        sql = (
            f"WITH e AS (INSERT INTO {_ENTRY.name} ({', '.join(columns)}, seq, prev_hash, hash) "  # noqa: S608
            f"VALUES ({marks}, {_BASE_SEQ} + {n}, {_LAST_HASH}, {_LINK_SQL}) RETURNING hash) "
            f"SELECT set_config('{_HASH_SETTING}', hash, true) FROM e"
        )
        script.append(bind.mogrify(sql, [*(p.entry[c] for c in columns), content]))
        items.extend((n, i) for i in p.items)
        subjects.extend((n, s) for s in p.subjects)
    if items:
        columns = list(items[0][1])
        row = "(" + ", ".join(["%s"] * len(columns)) + ", {} + {})"
        values = ", ".join(row.format(_BASE_SEQ, n) for n, _ in items)
        sql = f"INSERT INTO {_ITEM.name} ({', '.join(columns)}, entry_seq) VALUES {values}"  # noqa: S608
        script.append(bind.mogrify(sql, [i[c] for _, i in items for c in columns]))
    if subjects:
        values = ", ".join(f"({_BASE_SEQ} + {n}, %s, %s, %s)" for n, _ in subjects)
        sql = f"INSERT INTO {_SUBJECT.name} (entry_seq, pos, role, pseudonym) VALUES {values}"  # noqa: S608
        script.append(bind.mogrify(sql, [v for _, s in subjects for v in s]))
    script.append(
        f"UPDATE {_HEAD.name} SET seq = {_BASE_SEQ} + {len(pending)}, hash = {_LAST_HASH} "  # noqa: S608
        "WHERE id = 1 RETURNING seq, hash"
    )
    return ServerChained(";\n".join(script), contents)


def chained_head(locked: Head, contents: Sequence[bytes]) -> Head:
    """The head ``contents`` lead to when chained after ``locked`` (what the server must
    report after a :func:`server_chained_script`)."""
    prev = locked.hash
    for content in contents:
        prev = chain.link(prev, content)
    return Head(locked.seq + len(contents), prev, locked.base_seq, locked.base_hash)


def _update_head_sql(dialect: str) -> str:
    mark = _MARK[dialect]
    return f"UPDATE {_HEAD.name} SET seq = {mark}, hash = {mark} WHERE id = 1"  # noqa: S608


def _execute(driver: Any, sql: str, params: Sequence[Any]) -> None:
    cursor = driver.cursor()
    try:
        cursor.execute(sql, params)
    finally:
        cursor.close()


def _pg_pipelined(
    driver: Any,
    tables: Sequence[tuple[Table, list[dict[str, Any]]]],
    seq: int,
    prev: str,
) -> None:
    # Three COPYs and the head UPDATE were eight round trips (~0.15 ms each on loopback) while
    # the head row was locked, so a small batch cost ~2 ms before its commit and two instances
    # queued on the lock. In one pipeline they are one round trip.
    cursor = driver.cursor()
    try:
        with driver.pipeline():
            for table, rows in tables:
                if not rows:
                    continue
                columns = list(rows[0])
                cursor.executemany(_insert_sql(table, columns, "%s"), _tuples(rows, columns))
            cursor.execute(_update_head_sql("postgresql"), (seq, prev))
    finally:
        cursor.close()


def _insert_sql(table: Table, columns: list[str], mark: str) -> str:
    return (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "  # noqa: S608 - names are ours
        f"VALUES ({', '.join([mark] * len(columns))})"
    )


def _tuples(rows: list[dict[str, Any]], columns: list[str]) -> list[Any]:
    pick = operator.itemgetter(*columns)  # rows are built alike: same keys, same order
    return [pick(row) for row in rows] if len(columns) > 1 else [(pick(r),) for r in rows]


def _sqlite_rows(rows: list[dict[str, Any]]) -> list[Any]:
    """Rows as tuples, timestamps in the text form SQLAlchemy stores on SQLite."""
    columns = list(rows[0])
    values = _tuples(rows, columns)
    when = [i for i, c in enumerate(columns) if isinstance(rows[0][c], datetime)]
    if not when:
        return values
    out = []
    for value in values:
        as_list = list(value)
        for i in when:
            as_list[i] = sqlite_time(as_list[i])
        out.append(tuple(as_list))
    return out


def _copy(driver: Any, table: Table, rows: list[dict[str, Any]]) -> None:
    # COPY sends all rows in one stream: psycopg's pipelined executemany still costs a Python
    # round of ~0.1 ms per row, which made large PostgreSQL batches twice as slow as SQLite's.
    if not rows:
        return
    columns = list(rows[0])
    cursor = driver.cursor()
    try:
        with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[c] for c in columns])
    finally:
        cursor.close()


def sqlite_time(value: datetime) -> str:
    """SQLAlchemy's SQLite DATETIME storage format, in UTC (what ``UTCDateTime`` binds)."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def write_checkpoint(conn: Connection, head: Head, reason: str) -> dict[str, Any]:
    """Insert a checkpoint of ``head`` (read under the lock) and return it as exported."""
    driver = conn.connection.driver_connection
    return write_checkpoint_driver(driver, dialect_of(conn), head, reason)


def write_checkpoint_driver(driver: Any, dialect: str, head: Head, reason: str) -> dict[str, Any]:
    """:func:`write_checkpoint` on a driver connection in a transaction."""
    created = utcnow()
    row = {
        "created": created,
        "seq": head.seq,
        "hash": head.hash,
        "entry_count": head.seq - head.base_seq,
        "base_seq": head.base_seq,
        "base_hash": head.base_hash,
        "reason": reason,
    }
    columns = list(row)
    values = _sqlite_rows([row])[0] if dialect == "sqlite" else tuple(row.values())
    _execute(driver, _insert_sql(_CHECKPOINT, columns, _MARK[dialect]), values)
    return {**row, "created": chain.format_time(created)}
