"""Cost of ``Authorizer.check`` on SQLite and PostgreSQL: cold (Argon2 verify) and cached.

Run: ``.venv/bin/python bench/konfig_authz.py [--postgres URL] [--n 2000]``. Uses production
Argon2 parameters; the PostgreSQL run uses a throw-away schema. Loopback only, ~10 s.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from kjoretoyregister.konfig import privileges, service
from kjoretoyregister.konfig.authz import Authorizer, Outcome
from kjoretoyregister.store.db import make_engine, make_session_factory
from kjoretoyregister.store.testing import postgres_schema, sqlite_database


def _ms(values: list[float]) -> str:
    values = sorted(values)
    p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
    return (
        f"mean {statistics.fmean(values) * 1e3:.3f} ms  p50 {values[len(values) // 2] * 1e3:.3f}"
        f" ms  p99 {p99 * 1e3:.3f} ms"
    )


def run(url: str, label: str, n: int) -> None:
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with factory.begin() as session:
        org = service.create_org(session, "Benchkommune", "910000004")
        service.activate(session, org.id)
        integration, password = service.create_integration(session, org.id, "Bench", "910000012")
        service.grant(session, integration.id, org.id, privileges.OPPSLAG)
    args = {
        "integrasjon_id": str(integration.id),
        "passord": password,
        "consumer_orgnr": "910000012",
        "fiks_org_id": str(org.id),
        "privilege": privileges.OPPSLAG,
    }
    cold = []
    for _ in range(5):
        authz = Authorizer(factory)
        t = time.perf_counter()
        assert authz.check(**args).outcome is Outcome.OK
        cold.append(time.perf_counter() - t)
    authz = Authorizer(factory)
    authz.check(**args)
    hits = []
    for _ in range(n):
        t = time.perf_counter()
        authz.check(**args)
        hits.append(time.perf_counter() - t)
    assert authz.verifications == 1
    wrong = dict(args, passord="W" * 43)
    authz.check(**wrong)
    neg = []
    for _ in range(n // 4):
        t = time.perf_counter()
        authz.check(**wrong)
        neg.append(time.perf_counter() - t)
    print(f"{label:10s} cold (query + Argon2id verify): {_ms(cold)}")
    print(f"{label:10s} cache hit (one query):          {_ms(hits)}")
    print(f"{label:10s} wrong password, cached:         {_ms(neg)}")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--n", type=int, default=2000)
    ns = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, sqlite_database(Path(tmp)) as url:
        run(url, "sqlite", ns.n)
    try:
        with postgres_schema(ns.postgres) as url:
            run(url, "postgresql", ns.n)
    except Exception as exc:  # bench: report and go on
        print(f"postgresql skipped: {exc.__class__.__name__}: {exc}")


if __name__ == "__main__":
    main()
