"""Authorizer.check: the three Fiks outcomes, and a cache that never outlives a change."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest
from argon2 import PasswordHasher
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from kjoretoyregister.config import KonfigSettings
from kjoretoyregister.konfig import passwords, privileges, service
from kjoretoyregister.konfig.authz import Authorizer, Decision, Outcome
from kjoretoyregister.store.db import make_engine, make_session_factory

from .helpers import ANNEN_ORGNR, LEVERANDOR_ORGNR, Setup, seed

Factory = sessionmaker[Session]


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


def _check(authz: Authorizer, setup: Setup, **overrides: str) -> Decision:
    args = {
        "integrasjon_id": setup.integration_id,
        "passord": setup.password,
        "consumer_orgnr": LEVERANDOR_ORGNR,
        "fiks_org_id": setup.org_id,
        "privilege": privileges.OPPSLAG,
    }
    args.update(overrides)
    return authz.check(**args)


def test_ok_carries_the_org_and_integration(session_factory: Factory) -> None:
    setup = seed(session_factory, purpose_required=True)
    decision = _check(Authorizer(session_factory), setup)
    assert decision == Decision(
        Outcome.OK,
        setup.integration_id,
        LEVERANDOR_ORGNR,
        setup.org_id,
        "910000004",
        purpose_required=True,
    )


@pytest.mark.parametrize(
    "overrides",
    [
        # unknown integration
        {"integrasjon_id": "00000000-0000-4000-8000-000000000000"},
        # not a UUID (never reveals which part failed)
        {"integrasjon_id": "integrasjon-1"},
        {"integrasjon_id": ""},
        # wrong password: well-formed, junk, empty, trailing space
        {"passord": "A" * 43},
        {"passord": "feil"},
        {"passord": ""},
        {"passord": "TRAILING_SPACE "},
        # token consumer is not the integration's autorisert organisasjon
        {"consumer_orgnr": ANNEN_ORGNR},
        {"consumer_orgnr": ""},
    ],
)
def test_integration_auth_failures(session_factory: Factory, overrides: dict[str, str]) -> None:
    setup = seed(session_factory)
    if overrides.get("passord") == "TRAILING_SPACE ":
        overrides = {"passord": setup.password + " "}
    decision = _check(Authorizer(session_factory), setup, **overrides)
    assert decision.outcome is Outcome.INTEGRATION_AUTH_FAILED
    assert decision.authorized_orgnr is None and decision.fiks_org_orgnr is None


@pytest.mark.parametrize(
    "overrides",
    [
        {"fiks_org_id": "00000000-0000-4000-8000-000000000000"},  # unknown org
        {"fiks_org_id": "oslo"},  # not a UUID
        {"privilege": privileges.EIERSOK},  # no grant of that privilege
        {"privilege": "KJORETOYREGISTER.UKJENT"},
    ],
)
def test_no_access(session_factory: Factory, overrides: dict[str, str]) -> None:
    setup = seed(session_factory)
    decision = _check(Authorizer(session_factory), setup, **overrides)
    assert decision.outcome is Outcome.NO_ACCESS
    assert decision.integrasjon_id == setup.integration_id


def test_no_access_on_another_org_and_after_deactivation(session_factory: Factory) -> None:
    setup = seed(session_factory)
    authz = Authorizer(session_factory)
    with session_factory.begin() as session:
        other = service.create_org(session, "Annen", ANNEN_ORGNR)
        service.activate(session, other.id)
    assert _check(authz, setup, fiks_org_id=str(other.id)).outcome is Outcome.NO_ACCESS
    assert _check(authz, setup).outcome is Outcome.OK
    with session_factory.begin() as session:
        service.deactivate(session, setup.org_id)
    assert _check(authz, setup).outcome is Outcome.NO_ACCESS
    with session_factory.begin() as session:
        service.activate(session, setup.org_id)
    assert _check(authz, setup).outcome is Outcome.OK


def test_cache_hit_does_no_argon2_verify(session_factory: Factory) -> None:
    setup = seed(session_factory)
    authz = Authorizer(session_factory)
    for _ in range(5):
        assert _check(authz, setup).outcome is Outcome.OK
    assert authz.verifications == 1


def test_password_change_and_delete_seen_by_next_check_with_warm_caches(
    session_factory: Factory,
) -> None:
    """Same process and a second Authorizer (another process sharing the database) both
    see a new password and a delete on their very next check, caches warm."""
    setup = seed(session_factory)
    here, there = Authorizer(session_factory), Authorizer(session_factory)
    for authz in (here, there):
        assert _check(authz, setup).outcome is Outcome.OK
        assert _check(authz, setup).outcome is Outcome.OK  # warm
    with session_factory.begin() as session:
        _, new = service.new_password(session, setup.integration_id)
    for authz in (here, there):
        assert _check(authz, setup).outcome is Outcome.INTEGRATION_AUTH_FAILED
        assert _check(authz, setup, passord=new).outcome is Outcome.OK
        assert _check(authz, setup, passord=new).outcome is Outcome.OK  # warm again
    with session_factory.begin() as session:
        service.delete_integration(session, setup.integration_id)
    for authz in (here, there):
        assert _check(authz, setup, passord=new).outcome is Outcome.INTEGRATION_AUTH_FAILED


def test_revoked_grant_seen_by_next_check(session_factory: Factory) -> None:
    setup = seed(session_factory)
    authz = Authorizer(session_factory)
    assert _check(authz, setup).outcome is Outcome.OK
    with session_factory.begin() as session:
        service.revoke(session, setup.integration_id, setup.org_id, privileges.OPPSLAG)
    assert _check(authz, setup).outcome is Outcome.NO_ACCESS


def test_positive_cache_expires(session_factory: Factory) -> None:
    """Unused in its last quarter, a verified entry is not renewed: it expires, and the next
    check verifies again."""
    setup = seed(session_factory)
    clock = FakeClock()
    authz = Authorizer(session_factory, cache_ttl_s=30, clock=clock)
    _check(authz, setup)
    clock.now += 22
    _check(authz, setup)
    assert authz.verifications == 1
    clock.now += 9
    assert _check(authz, setup).outcome is Outcome.OK
    assert authz.verifications == 2
    assert authz.refreshes == 0


def test_entry_in_use_is_renewed_ahead_without_making_checks_wait(
    session_factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Steady traffic: a check in the entry's last quarter answers from it at once while one
    verify renews it in the background, so no check waits when the old entry would have
    expired. Checks during the renewal start no second one."""
    setup = seed(session_factory)
    clock = FakeClock()
    authz = Authorizer(session_factory, cache_ttl_s=30, clock=clock)
    assert _check(authz, setup).outcome is Outcome.OK
    gate, started = threading.Event(), threading.Event()
    real_verify = passwords.verify_password

    def held_verify(password_hash: str, password: str) -> bool:
        started.set()
        assert gate.wait(timeout=10)
        return real_verify(password_hash, password)

    monkeypatch.setattr(passwords, "verify_password", held_verify)
    clock.now += 25
    for _ in range(5):  # the renewal is held: these must not wait for it
        assert _check(authz, setup).outcome is Outcome.OK
    assert started.wait(timeout=10)
    assert authz.refreshes == 1 and authz.verifications == 1
    gate.set()
    for _ in range(100):
        if authz.verifications == 2:
            break
        threading.Event().wait(0.05)
    assert authz.verifications == 2
    clock.now += 10  # past the first entry's expiry, inside the renewed one's life
    assert _check(authz, setup).outcome is Outcome.OK
    assert authz.verifications == 2 and authz.refreshes == 1


def test_renewal_uses_the_hash_read_now(session_factory: Factory) -> None:
    """A password changed since the entry was made: the old password fails at once, as
    before; renewing ahead never keeps an old password alive."""
    setup = seed(session_factory)
    clock = FakeClock()
    authz = Authorizer(session_factory, cache_ttl_s=30, clock=clock)
    assert _check(authz, setup).outcome is Outcome.OK
    with session_factory.begin() as session:
        _, new = service.new_password(session, setup.integration_id)
    clock.now += 25
    assert _check(authz, setup).outcome is Outcome.INTEGRATION_AUTH_FAILED
    assert _check(authz, setup, passord=new).outcome is Outcome.OK
    assert authz.refreshes == 0


def test_wrong_password_flood_is_cheap(session_factory: Factory) -> None:
    """Repeated wrong passwords cost one verify per negative TTL; junk costs none."""
    setup = seed(session_factory)
    clock = FakeClock()
    authz = Authorizer(session_factory, negative_ttl_s=5, clock=clock)
    wrong = "B" * 43
    for _ in range(20):
        assert _check(authz, setup, passord=wrong).outcome is Outcome.INTEGRATION_AUTH_FAILED
    assert authz.verifications == 1
    clock.now += 6
    _check(authz, setup, passord=wrong)
    assert authz.verifications == 2
    for junk in ("kort", "x" * 500, "ikke gyldig tegn!" * 3):
        assert _check(authz, setup, passord=junk).outcome is Outcome.INTEGRATION_AUTH_FAILED
    # wrong consumer: refused before any password work
    _check(authz, setup, consumer_orgnr=ANNEN_ORGNR)
    assert authz.verifications == 2
    # and the right password still works (its own cache entry)
    assert _check(authz, setup).outcome is Outcome.OK


def test_concurrent_cold_checks_share_one_verify(
    session_factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = seed(session_factory)
    authz = Authorizer(session_factory)
    gate = threading.Event()
    real_verify = passwords.verify_password

    def slow_verify(password_hash: str, password: str) -> bool:
        gate.wait(timeout=5)  # hold the first verify until everyone is waiting
        return real_verify(password_hash, password)

    monkeypatch.setattr(passwords, "verify_password", slow_verify)
    results: list[Outcome] = []
    threads = [
        threading.Thread(target=lambda: results.append(_check(authz, setup).outcome))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    threading.Timer(0.3, gate.set).start()
    for t in threads:
        t.join(timeout=30)
    assert results == [Outcome.OK] * 8
    assert authz.verifications == 1


def test_cache_is_bounded(session_factory: Factory) -> None:
    setup = seed(session_factory)
    authz = Authorizer(session_factory, max_entries=3)
    for i in range(10):
        _check(authz, setup, passord=f"{i:0>43}")
    assert len(authz._cache) <= 3
    assert _check(authz, setup).outcome is Outcome.OK


def test_constructor_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="TTL"):
        Authorizer(sessionmaker(), cache_ttl_s=-1)
    with pytest.raises(ValueError, match="at least 1"):
        Authorizer(sessionmaker(), max_concurrent_verifies=0)


async def test_acheck_runs_off_the_event_loop(session_factory: Factory) -> None:
    setup = seed(session_factory)
    decision = await Authorizer(session_factory).acheck(
        integrasjon_id=setup.integration_id,
        passord=setup.password,
        consumer_orgnr=LEVERANDOR_ORGNR,
        fiks_org_id=setup.org_id,
        privilege=privileges.OPPSLAG,
    )
    assert decision.outcome is Outcome.OK


def test_session_path_when_the_factory_has_no_engine_bind(session_factory: Factory) -> None:
    """A factory bound some other way (no Engine in its kw) falls back to a session per check."""
    setup = seed(session_factory)
    authz = Authorizer(session_factory)
    authz._engine = None
    assert _check(authz, setup).outcome is Outcome.OK


def test_dropped_connection_is_retried_once(db_url: str) -> None:
    """A pooled connection the server killed costs a retry, not a failed request."""
    if not db_url.startswith("postgresql"):
        pytest.skip("server-side disconnects are a PostgreSQL matter")
    engine = make_engine(db_url, pool_pre_ping=False)  # no ping: the retry must do the work
    try:
        factory = make_session_factory(engine)
        setup = seed(factory)
        authz = Authorizer(factory)
        assert _check(authz, setup).outcome is Outcome.OK
        with engine.connect() as conn:
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        killer = make_engine(db_url, poolclass=NullPool)
        with killer.connect() as conn:
            conn.exec_driver_sql("SELECT pg_terminate_backend(%(pid)s)", {"pid": pid})
        killer.dispose()
        assert _check(authz, setup).outcome is Outcome.OK
    finally:
        engine.dispose()


def test_from_settings_uses_the_konfig_section(session_factory: Factory) -> None:
    settings = KonfigSettings(
        auth_cache_ttl_s=7, auth_negative_ttl_s=0, auth_cache_secret=SecretStr("s" * 32)
    )
    authz = Authorizer.from_settings(session_factory, settings)
    assert authz._ttl == 7 and authz._negative_ttl == 0 and authz._secret == b"s" * 32
    setup = seed(session_factory)
    for _ in range(3):
        _check(authz, setup, passord="C" * 43)
    assert authz.verifications == 3  # negative caching switched off


@pytest.mark.real_argon2
def test_production_hashes_are_argon2id_with_default_cost(session_factory: Factory) -> None:
    """argon2-cffi defaults (RFC 9106 low-memory: t=3, m=64 MiB, p=4) on the real path."""
    setup = seed(session_factory)
    with session_factory() as session:
        stored = service.get_integration(session, setup.integration_id).password_hash
    assert stored is not None
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert not PasswordHasher().check_needs_rehash(stored)
