"""Big bulk lookups split over worker processes, so that one request uses every core.

A 1,000-plate answer from a Norway-scale register is some 100 ms of Python (assembling ~50,000
objects and encoding 9.5 MB) under one GIL: threads overlap only the SQLite reads. Here the
items are cut into one contiguous slice per worker process; each process has the register
open itself (read-only, sharing the OS page cache), renders its slice's JSON array, and the
slices are spliced in request order. The event loop only waits, so small requests stay quick
meanwhile.

The answer comes back through a buffer the worker and the server share (a file in
``/dev/shm``, mapped by both and unlinked at once), not through the pipe: measured here, a
multiprocessing pipe moves 9.5 MB in ~37 ms, as long as rendering half of it; the pipe only
carries the request and the answer's length. Each worker serves one slice at a time.

Workers are started with ``spawn`` (the server has threads, which ``fork`` would copy in an
undefined state) before the server listens, so the first request pays no start-up. Like any
``spawn`` user, a script that embeds the simulator must guard its entry point with
``if __name__ == "__main__":``. A worker that died is started again and its slice tried once
more (lookups only read); only if that fails too is the request a 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import mmap
import multiprocessing
import os
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from kjoretoyregister.logs import get_logger
from kjoretoyregister.svv.bulkrender import BulkKind, Items, render_bulk_keeping
from kjoretoyregister.svv.errors import Outage
from kjoretoyregister.svv.gcpause import gc_paused
from kjoretoyregister.svv.register import Register, RegisterError

log = get_logger(__name__)

# Below this many items the hand-over (pickling, a second JSON splice) costs more than the
# second core gives back; such requests stay in the server process.
MIN_ITEMS = 200
# A register this large gets lookup processes unless the settings say otherwise.
AUTO_MIN_VEHICLES = 500_000

# Bytes of answer a worker can hand back through its shared buffer; a bigger slice (more than
# max_bulk_items' default per worker) goes through the pipe instead. Pages are only used as
# they are written.
BUFFER_BYTES = 64 * 1024 * 1024


def auto_processes(configured: int | None, vehicles: int) -> int:
    """How many lookup processes to run: ``configured``, or with None one per core for a
    register of at least :data:`AUTO_MIN_VEHICLES` vehicles (none for a small one, where a
    request is quick anyway and start-up would dominate)."""
    if configured is not None:
        return configured
    cores = os.cpu_count() or 1
    return cores if vehicles >= AUTO_MIN_VEHICLES and cores > 1 else 0


def splice(parts: list[bytes]) -> bytes:
    """JSON arrays concatenated into one array, in order (``[a,b]`` + ``[c]`` → ``[a,b,c]``).

    One copy of the answer: the parts' insides are views, joined once (slicing them and adding
    the brackets with ``+`` copied all 9.5 MB four times, ~4 ms a request on the event loop).
    """
    pieces: list[bytes | memoryview] = [b"["]
    for part in parts:
        if len(part) > 2:
            if len(pieces) > 1:
                pieces.append(b",")
            pieces.append(memoryview(part)[1:-1])
    pieces.append(b"]")
    return b"".join(pieces)


class WorkerDied(Exception):
    """The worker process went away (killed, crashed) while or before it served a slice."""


def _serve(path: str, conn: Connection, buffer_path: str, size: int) -> None:
    """A worker process: open the register, then render slices until told to stop."""
    try:
        register = Register(Path(path))
    except RegisterError as exc:  # the server sees the pipe close and answers 503
        sys.stderr.write(f"svv lookup process: cannot open the register: {exc}\n")
        return
    with open(buffer_path, "r+b") as file:
        buffer = mmap.mmap(file.fileno(), size)
    conn.send(os.getpid())
    while True:
        try:
            message = conn.recv()
        except EOFError:  # the server is gone
            return
        if message is None:
            return
        kind, items = message
        with gc_paused():
            body, results = render_bulk_keeping(register, kind, items)
            if len(body) <= size:
                buffer[: len(body)] = body
                conn.send(len(body))
            else:
                conn.send(body)
            # Freed while the server sends the answer, not before it has it.
            del body, results


def _buffer_dir() -> str:
    shm = "/dev/shm"  # noqa: S108 - a private file, created 0600 by mkstemp and unlinked at once
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else tempfile.gettempdir()


class _Worker:
    """One worker process, its pipe and the buffer it writes answers into (blocking calls)."""

    def __init__(self, path: Path, size: int) -> None:
        self.path, self.size = path, size
        # Held for a whole exchange, in the thread that makes it: a request that is cancelled
        # while its thread still waits for the worker must not let another one use the pipe
        # and the buffer meanwhile.
        self.lock = threading.Lock()
        self.process: BaseProcess | None = None
        self.conn: Connection | None = None
        self.buffer: mmap.mmap | None = None
        self.pid = 0

    def start(self) -> int:
        context = multiprocessing.get_context("spawn")
        fd, name = tempfile.mkstemp(prefix="kjr-svv-lookup-", dir=_buffer_dir())
        try:
            os.ftruncate(fd, self.size)
            self.buffer = mmap.mmap(fd, self.size)
            ours, theirs = context.Pipe()
            self.process = context.Process(
                target=_serve,
                args=(str(self.path), theirs, name, self.size),
                name="svv-lookup",
                daemon=True,  # never outlives the server
            )
            self.process.start()
            theirs.close()
            try:
                self.pid = int(ours.recv())  # once the worker has the register and buffer open
            except EOFError:
                ours.close()
                raise WorkerDied("a lookup process stopped while starting") from None
            self.conn = ours
        finally:
            os.close(fd)
            os.unlink(name)
        return self.pid

    def render(self, kind: BulkKind, items: list[tuple[Any, Any]]) -> bytes:
        """The slice's JSON array. A worker found dead, or dying on the slice, is started
        again and the slice tried once more (a lookup only reads); a second death raises."""
        with self.lock:
            try:
                return self._render_once(kind, items)
            except WorkerDied:
                return self._render_once(kind, items)

    def _render_once(self, kind: BulkKind, items: list[tuple[Any, Any]]) -> bytes:
        if self.conn is None or self.process is None or not self.process.is_alive():
            self.stop()
            try:
                self.start()
            except OSError as exc:  # no room for the buffer, no processes left, …
                raise WorkerDied(f"cannot start a lookup process ({exc})") from None
        assert self.conn is not None and self.buffer is not None
        try:
            self.conn.send((kind, items))
            reply = self.conn.recv()
        except (EOFError, OSError):
            self.stop()
            raise WorkerDied("a lookup process stopped") from None
        if isinstance(reply, bytes):
            return reply
        return self.buffer[:reply]

    def stop(self) -> None:
        if self.conn is not None:  # (called with the lock held, or at shutdown)
            with contextlib.suppress(OSError):  # already gone
                self.conn.send(None)
            self.conn.close()
            self.conn = None
        if self.process is not None:
            self.process.join(timeout=5)
            if self.process.is_alive():
                self.process.kill()
                self.process.join(timeout=5)
            self.process = None
        if self.buffer is not None:
            self.buffer.close()
            self.buffer = None


class LookupProcesses:
    """``workers`` processes, each with ``path`` open as its own :class:`Register`."""

    def __init__(
        self,
        path: Path,
        workers: int,
        *,
        min_items: int = MIN_ITEMS,
        buffer_bytes: int = BUFFER_BYTES,
    ) -> None:
        if workers < 1:
            raise ValueError("LookupProcesses needs at least one worker")
        self.path = path
        self.workers = workers
        self.min_items = min_items
        self.requests = 0  # answered by the workers (tests check which path a request took)
        self._workers = [_Worker(path, buffer_bytes) for _ in range(workers)]
        # The blocking pipe exchanges run in these threads (each worker serves one at a time,
        # see _Worker.lock); twice as many as workers, so that a cancelled request still
        # waiting for its worker does not hold up the others' slices.
        self._threads = ThreadPoolExecutor(2 * workers, thread_name_prefix="svv-lookup-ipc")

    @property
    def pids(self) -> list[int]:
        """The workers' process ids (0 for one not started)."""
        return [worker.pid for worker in self._workers]

    async def start(self) -> list[int]:
        """Start every worker and wait until each has the register open; their pids."""
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(self._threads, w.start) for w in self._workers))
        return self.pids

    async def render(self, kind: BulkKind, items: Items) -> bytes:
        """The answer for ``items``, rendered in slices by the workers, in request order.

        Raises:
            Outage: a worker died twice on its slice, or could not be started again.
        """
        size = -(-len(items) // self.workers)
        slices = [list(items[i : i + size]) for i in range(0, len(items), size)]
        try:
            parts = await asyncio.gather(
                *(self._render_slice(index, kind, part) for index, part in enumerate(slices))
            )
        except WorkerDied:
            log.warning("svv.lookup_process_died", workers=self.workers)
            raise Outage("Oppslaget ble avbrutt (en oppslagsprosess stoppet); prøv igjen") from None
        self.requests += 1
        return splice(parts)

    async def _render_slice(self, index: int, kind: BulkKind, items: list[Any]) -> bytes:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, self._workers[index].render, kind, items)

    def close(self) -> None:
        """Stop the workers (each finishes the slice it is on)."""
        self._threads.shutdown(wait=True, cancel_futures=True)  # exchanges under way finish
        for worker in self._workers:
            with worker.lock:
                worker.stop()
