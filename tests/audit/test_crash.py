"""kill -9 under load: every record() that returned is in the database, and the chain verifies.

On SQLite the WAL checkpointer runs every 50 ms meanwhile, so the kill can land mid-checkpoint.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

from sqlalchemy import Engine, text

from kjoretoyregister.audit.verify import verify

from .conftest import SECRET

WRITER = textwrap.dedent(
    """
    import asyncio, sys, uuid
    from datetime import UTC, datetime
    from kjoretoyregister.audit.events import AuditEvent, AuditItem
    from kjoretoyregister.audit.pseudonyms import Pseudonymizer
    from kjoretoyregister.audit.writer import DurableAuditSink
    from kjoretoyregister.store.db import make_engine

    async def caller(sink):
        while True:
            cid = uuid.uuid4().hex
            await sink.record(AuditEvent(
                time=datetime.now(UTC), correlation_id=cid, fiks_org_id="org",
                integrasjon_id="int", consumer_orgnr="987654325", supplier_orgnr=None,
                client_id="c", endpoint="/bulk/kjennemerke", method="POST",
                items=(AuditItem("kjennemerke", "CU11297", None, "found"),), svv_status=200,
                svvguid=None, latency_ms=1.0, purpose=None, case_reference=None, http_status=200))
            # Acknowledged: what a gateway would now answer with 200.
            sys.stdout.write(cid + "\\n")
            sys.stdout.flush()

    async def main():
        sink = DurableAuditSink(make_engine(sys.argv[1]), Pseudonymizer(sys.argv[2].encode()),
                                batch_max=32, wal_checkpoint_interval_s=0.05)
        await asyncio.gather(*(caller(sink) for _ in range(32)))

    asyncio.run(main())
    """
)


def test_acknowledged_records_survive_kill_9(engine: Engine, db_url: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, db_url, SECRET],
        stdout=subprocess.PIPE,
        text=True,
    )
    acked: list[str] = []
    try:
        assert proc.stdout is not None
        while len(acked) < 400:
            line = proc.stdout.readline()
            assert line, "writer process ended early"
            acked.append(line.strip())
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
    with engine.connect() as conn:
        stored = {r[0] for r in conn.execute(text("SELECT correlation_id FROM audit_entry"))}
    missing = [c for c in acked if c not in stored]
    assert missing == []
    assert verify(engine).ok
