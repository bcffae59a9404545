"""Concurrent admin changes: unique rules hold and every writer gets a clear answer."""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from kjoretoyregister.konfig import privileges, service
from kjoretoyregister.konfig.errors import Duplicate
from kjoretoyregister.konfig.models import AdminHendelse, Integrasjon, Tilgang

from .helpers import ANNEN_ORGNR, KOMMUNE_ORGNR, LEVERANDOR_ORGNR

Factory = sessionmaker[Session]
THREADS = 6


def _race(work: Callable[[int], None]) -> tuple[int, list[BaseException]]:
    """Run ``work(i)`` in THREADS threads released together; count successes and errors."""
    barrier = threading.Barrier(THREADS)
    ok: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        barrier.wait()
        try:
            work(i)
        except BaseException as exc:
            with lock:
                errors.append(exc)
        else:
            with lock:
                ok.append(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return len(ok), errors


def _org(factory: Factory) -> str:
    with factory.begin() as session:
        org = service.create_org(session, "K", KOMMUNE_ORGNR)
        service.activate(session, org.id)
    return str(org.id)


def test_same_name_created_concurrently_only_once(session_factory: Factory) -> None:
    """Exactly one of several simultaneous creates of one name wins; the rest get Duplicate."""
    org_id = _org(session_factory)

    def create(_: int) -> None:
        with session_factory.begin() as session:
            service.create_integration(session, org_id, "Sak", LEVERANDOR_ORGNR)

    ok, errors = _race(create)
    assert ok == 1
    assert len(errors) == THREADS - 1
    assert all(isinstance(e, Duplicate) for e in errors), errors
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Integrasjon)) == 1
        logged = session.scalar(
            select(func.count())
            .select_from(AdminHendelse)
            .where(AdminHendelse.action == "integration.create")
        )
    assert logged == 1  # the losers' log rows rolled back with them


def test_distinct_creates_and_grants_concurrently_all_land(session_factory: Factory) -> None:
    org_id = _org(session_factory)

    def create_and_grant(i: int) -> None:
        with session_factory.begin() as session:
            integration, _ = service.create_integration(
                session, org_id, f"Sak {i}", LEVERANDOR_ORGNR
            )
            service.grant(session, integration.id, org_id, privileges.OPPSLAG)

    ok, errors = _race(create_and_grant)
    assert errors == []
    assert ok == THREADS
    with session_factory() as session:
        assert len(service.list_integrations(session, org_id)) == THREADS
        assert len(service.list_grants(session, fiks_org_id=org_id)) == THREADS


def test_same_grant_concurrently_only_once(session_factory: Factory) -> None:
    org_id = _org(session_factory)
    with session_factory.begin() as session:
        other = service.create_org(session, "Annen", ANNEN_ORGNR)
        service.activate(session, other.id)
        integration, _ = service.create_integration(session, org_id, "Sak", LEVERANDOR_ORGNR)

    def grant(_: int) -> None:
        with session_factory.begin() as session:
            service.grant(session, integration.id, other.id, privileges.EIERSOK)

    ok, errors = _race(grant)
    assert ok == 1
    assert all(isinstance(e, Duplicate) for e in errors), errors
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Tilgang)) == 1
