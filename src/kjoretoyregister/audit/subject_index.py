"""The pseudonym index of the audit log, kept up after the answer instead of in its commit.

"Who looked me up" and the identifier filter find entries by pseudonym. An index on
``audit_subject.pseudonym`` inside the commit every answer waits for cost a 1,000-plate
request ~38 ms on SQLite: every random pseudonym dirties a B-tree leaf of its own, and the
commit writes each of those pages (docs/performance.md, "Bulk through the gateway").

So the chained ``audit_subject`` rows carry no pseudonym index. ``audit_subject_index``
holds ``(key, entry_seq, pos, role)`` for every subject row up to ``audit_index_mark.seq``
(the key is the pseudonym's first 64 bits, :func:`~kjoretoyregister.store.db.hex64`: a row a
quarter the size of the text key's, so a step dirties about half the pages), and
:class:`SubjectIndexer` moves the mark up in small steps after commits. Readers never depend
on it being current: :func:`subject_rows` reads the index up to the mark, confirming each hit
by one primary-key probe of the chained row with the full pseudonym, *and* the chained
subjects after the mark (found by ``entry_seq``, the chained table's key prefix), in one
statement, so one snapshot. A lookup is visible to innsyn the moment its answer is sent.

Each step is one transaction: it reads and moves the mark under the database's lock (SQLite's
write lock and the host's audit-writer lock; PostgreSQL a row lock on the mark), so any number
of indexers on any number of instances index each entry once, and a crash mid-step leaves the
mark where the index is complete.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection
from typing import NamedTuple

from sqlalchemy import (
    CompoundSelect,
    Connection,
    Engine,
    Select,
    literal,
    select,
    text,
    union_all,
)

from kjoretoyregister.audit.hostlock import HostWriteLock
from kjoretoyregister.audit.models import SUBJECT_INDEX_TABLE as _INDEX
from kjoretoyregister.audit.models import SUBJECT_TABLE as _SUBJECT
from kjoretoyregister.logs import get_logger
from kjoretoyregister.store.db import hex64, hex64_sql

log = get_logger(__name__)

#: About this many subject rows per step (a step always ends at an entry's end, so a
#: 1,000-plate entry of ~5,000 subjects is one step). Writers wait for a step on SQLite: ~2,000
#: rows is a few milliseconds.
STEP_ROWS = 2_000

_MARK_SQL = "SELECT seq FROM audit_index_mark WHERE id = 1"
_HEAD_SQL = "SELECT seq FROM audit_chain_head WHERE id = 1"
_EDGE_SQL = (
    "SELECT entry_seq FROM audit_subject WHERE entry_seq > :mark AND entry_seq <= :head "
    "ORDER BY entry_seq LIMIT 1 OFFSET :rows"
)
_FILL_SQL = (
    "INSERT INTO audit_subject_index (key, entry_seq, pos, role) "
    "SELECT DISTINCT {key}, entry_seq, pos, role FROM audit_subject "
    "WHERE entry_seq > :mark AND entry_seq <= :upto "
    # In key order the B-tree takes the rows leaf by leaf (~10 % faster than DISTINCT's order).
    "ORDER BY 1 ON CONFLICT DO NOTHING"
)
_MOVE_SQL = "UPDATE audit_index_mark SET seq = :upto WHERE id = 1"
_SEED_SQL = "INSERT INTO audit_index_mark (id, seq) VALUES (1, 0)"


def subject_key(pseudonym: str) -> int:
    """The index key of a pseudonym (its first 64 bits)."""
    key = hex64(pseudonym)
    assert key is not None
    return key


def read_mark(conn: Connection) -> int:
    """The seq up to which the index is complete (0 before the first step)."""
    return int(conn.execute(text(_MARK_SQL)).scalar_one_or_none() or 0)


def subject_rows(pseudonyms: Collection[str], mark: int) -> CompoundSelect[tuple[int, int, str]]:
    """``(entry_seq, pos, role)`` of every chained subject row naming one of ``pseudonyms``.

    The index up to ``mark`` (:func:`read_mark`, read earlier in any snapshot: the index only
    grows above the mark it had), each hit confirmed by one probe of ``audit_subject``'s
    primary key with the full pseudonym (the key is only its first 64 bits), and the chained
    rows after ``mark``. The halves are disjoint, so ``UNION ALL``. The mark is a value, not a
    subquery, so the planner sees how short the tail is: as a subquery PostgreSQL guessed a
    third of the table and scanned all of it (docs/personvern.md).
    """
    wanted = sorted(pseudonyms)
    confirm = (
        select(literal(1))
        .where(
            _SUBJECT.c.entry_seq == _INDEX.c.entry_seq,
            _SUBJECT.c.pos == _INDEX.c.pos,
            _SUBJECT.c.role == _INDEX.c.role,
            _SUBJECT.c.pseudonym.in_(wanted),
        )
        .exists()
    )
    indexed = select(_INDEX.c.entry_seq, _INDEX.c.pos, _INDEX.c.role).where(
        _INDEX.c.key.in_(sorted({subject_key(p) for p in wanted})),
        _INDEX.c.entry_seq <= mark,
        confirm,
    )
    tail = select(_SUBJECT.c.entry_seq, _SUBJECT.c.pos, _SUBJECT.c.role).where(
        _SUBJECT.c.entry_seq > mark, _SUBJECT.c.pseudonym.in_(wanted)
    )
    return union_all(indexed, tail)


def entries_naming(pseudonyms: Collection[str], mark: int) -> Select[tuple[int]]:
    """The seqs of the entries naming any of ``pseudonyms`` (for ``seq IN (…)``)."""
    rows = subject_rows(pseudonyms, mark).subquery("named")
    return select(rows.c.entry_seq)


class Step(NamedTuple):
    """What one step did: how many seqs the mark moved, and how many it left before the head
    it read (more than 0 only when ``max_rows`` cut it short)."""

    moved: int
    left: int


def index_step(conn: Connection, max_rows: int = STEP_ROWS) -> int:
    """Index the next entries after the mark, in ``conn``'s write transaction.

    Returns how many seqs the mark moved (0 when the index is current). The caller commits.
    """
    return advance(conn, max_rows).moved


def advance(conn: Connection, max_rows: int = STEP_ROWS) -> Step:
    """:func:`index_step`, also saying how much of the backlog it saw the step left."""
    lock = " FOR UPDATE" if conn.dialect.name == "postgresql" else ""
    mark = conn.execute(text(_MARK_SQL + lock)).scalar_one_or_none()
    if mark is None:
        # Only a hand-edited database lacks the row the migration seeds; start from nothing.
        conn.execute(text(_SEED_SQL))
        mark = 0
    head = int(conn.execute(text(_HEAD_SQL)).scalar_one())
    if head <= mark:
        return Step(0, left=0)
    edge = conn.execute(
        text(_EDGE_SQL), {"mark": mark, "head": head, "rows": max(max_rows - 1, 0)}
    ).scalar_one_or_none()
    upto = head if edge is None else int(edge)
    fill = _FILL_SQL.format(key=hex64_sql(conn.dialect.name, "pseudonym"))
    conn.execute(text(fill), {"mark": mark, "upto": upto})
    conn.execute(text(_MOVE_SQL), {"upto": upto})
    return Step(upto - int(mark), left=head - upto)


def backlog(conn: Connection) -> int:
    """Entries after the mark (tests, benchmarks): what readers find by scanning the tail."""
    head = conn.execute(text(_HEAD_SQL)).scalar_one_or_none() or 0
    return max(int(head) - read_mark(conn), 0)


class SubjectIndexer:
    """A daemon thread that moves the index mark up to the chain head after commits.

    It looks every ``interval_s`` seconds (so entries written by other instances or the CLI
    get indexed too), and at once after :meth:`notify` of a batch of ``wake_items`` or more
    items: a bulk answer is indexed while the next request is upstream, while one-plate
    traffic is indexed in one step per interval instead of one more commit per commit.
    """

    def __init__(
        self,
        engine: Engine,
        interval_s: float = 0.5,
        *,
        step_rows: int = STEP_ROWS,
        wake_items: int = 200,
    ) -> None:
        if interval_s <= 0 or step_rows < 1 or wake_items < 1:
            raise ValueError("interval_s, step_rows and wake_items must be positive")
        self._engine = engine
        self._interval_s = interval_s
        self._step_rows = step_rows
        self._wake_items = wake_items
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # A lock of its own (its own open file): flock does not exclude a second user of one
        # open file, so sharing the writer's would let a step and a commit overlap.
        self._host_lock = HostWriteLock.for_engine(engine)
        #: Steps run and seqs indexed (tests, benchmarks, health).
        self.steps = 0
        self.indexed = 0
        #: Entries the last step left before the head it read, and steps that failed (the
        #: gateway's /metrics: a lag that grows means readers scan a growing tail).
        self.lag = 0
        self.failures = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, name="audit-subject-index", daemon=True
            )
            self._thread.start()

    def notify(self, items: int) -> None:
        """A batch of ``items`` was committed: a big one is indexed now, small ones wait for
        the interval (one step for many of them: at saturation, a step per ~200 one-plate
        commits cost the gateway a fifth of its throughput)."""
        if items >= self._wake_items:
            self._wake.set()

    def stop(self) -> None:
        """Stop the thread (what it has not indexed, readers find in the tail)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        if self._host_lock is not None:
            self._host_lock.close()

    def catch_up(self) -> int:
        """Step until the backlog seen at the start is indexed (or the indexer is stopping);
        seqs indexed.

        Only a step cut short by ``step_rows`` is followed by another at once. Entries
        committed meanwhile wait for the next interval: stepping again whenever the mark moved
        kept one-plate traffic (an entry every millisecond or two) in a step every ~2 ms, a
        transaction and the write lock each time, ~270 µs of CPU per entry on PostgreSQL.
        """
        total = 0
        while not self._stop.is_set():
            step = self._step_locked()
            total += step.moved
            if not step.left:
                break
            # Let a writer queued on the lock in before the next step takes it again.
            time.sleep(0.001)
        return total

    def step(self) -> int:
        """One step in a transaction of its own; seqs indexed."""
        return self._step_locked().moved

    def _step_locked(self) -> Step:
        if self._host_lock is None:
            step = self._step()
        else:
            with self._host_lock.held():
                step = self._step()
        self.steps += 1
        self.indexed += step.moved
        return step

    def _step(self) -> Step:
        with self._engine.begin() as conn:
            step = advance(conn, self._step_rows)
        self.lag = step.left
        return step

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._interval_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.catch_up()
            except Exception as exc:  # readers scan the tail meanwhile; try again later
                self.failures += 1
                log.warning("audit_subject_index_failed", error=type(exc).__name__)
                self._stop.wait(self._interval_s)
