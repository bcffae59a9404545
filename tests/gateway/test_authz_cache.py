"""The decision cache with Konfigurasjon invalidation: fast hits, changes seen at once here."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from kjoretoyregister.gateway import checks
from kjoretoyregister.gateway.errors import AccessDenied, IntegrationAuthFailed
from kjoretoyregister.konfig import service
from kjoretoyregister.konfig.authz import Authorizer, Outcome
from kjoretoyregister.konfig.invalidation import KonfigGeneration
from kjoretoyregister.konfig.privileges import OPPSLAG
from kjoretoyregister.store.db import make_engine, make_session_factory
from stack import SUPPLIER_ORGNR, seed_konfig


class CountingAuthorizer(Authorizer):
    calls = 0

    def check(self, **kwargs: str) -> object:  # type: ignore[override]
        type(self).calls += 1
        return super().check(**kwargs)  # type: ignore[arg-type]


async def test_cached_decisions_die_with_a_local_change(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    ids = seed_konfig(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    generation = KonfigGeneration(engine, poll_s=60)
    generation.poll_once()
    cache = checks.DecisionCache(30, generation=generation.current)
    authorizer = CountingAuthorizer(factory)
    args = {
        "integrasjon_id": ids["integrasjon_id"],
        "consumer_orgnr": SUPPLIER_ORGNR,
        "fiks_org_id": ids["fiks_org_id"],
        "privilege": OPPSLAG,
        "cache": cache,
    }
    pw = ids["integrasjon_passord"]
    for _ in range(5):
        decision = await checks.authorize(authorizer, passord=pw, **args)  # type: ignore[arg-type]
        assert decision.outcome is Outcome.OK
    assert CountingAuthorizer.calls == 1  # four answers from memory, no thread, no query

    with factory.begin() as s:  # a revoke in this process: the very next check sees it
        service.revoke(s, ids["integrasjon_id"], ids["fiks_org_id"], OPPSLAG)
    try:
        await checks.authorize(authorizer, passord=pw, **args)  # type: ignore[arg-type]
        raise AssertionError("revoked grant still passed")
    except AccessDenied:
        pass
    with factory.begin() as s:
        service.grant(s, ids["integrasjon_id"], ids["fiks_org_id"], OPPSLAG)
        _, new_pw = service.new_password(s, ids["integrasjon_id"])
    try:
        await checks.authorize(authorizer, passord=pw, **args)  # type: ignore[arg-type]
        raise AssertionError("old password still passed")
    except IntegrationAuthFailed:
        pass
    ok = await checks.authorize(authorizer, passord=new_pw, **args)  # type: ignore[arg-type]
    assert ok.outcome is Outcome.OK
    engine.dispose()


def test_remote_generation_changes_with_every_admin_action(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    ids = seed_konfig(url)
    engine = make_engine(url)
    generation = KonfigGeneration(engine, poll_s=60)
    assert generation.poll_once() is True
    assert generation.poll_once() is False
    # Another process's change is only visible through the database: simulate it with a
    # separate engine (the local hook would also fire here, so compare the remote part).
    other = make_engine(url)
    before = generation.current()[1:]
    with make_session_factory(other).begin() as s:
        service.new_password(s, ids["integrasjon_id"])
    assert generation.poll_once() is True
    assert generation.current()[1:] != before
    other.dispose()
    engine.dispose()


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_decision_in_use_is_renewed_ahead_and_a_refusal_drops_it(
    tmp_path: Path,
) -> None:
    """Steady traffic: a hit in the entry's last quarter answers at once and starts one
    background check that renews it, so no request meets an expired entry. When that check
    is refused (the grant was revoked without a generation to say so), the entry goes at
    once instead of living to its expiry."""
    url = f"sqlite:///{tmp_path / 'k.db'}"
    ids = seed_konfig(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    clock = _Clock()
    cache = checks.DecisionCache(30, clock=clock)
    authorizer = CountingAuthorizer(factory)
    CountingAuthorizer.calls = 0
    args = {
        "integrasjon_id": ids["integrasjon_id"],
        "passord": ids["integrasjon_passord"],
        "consumer_orgnr": SUPPLIER_ORGNR,
        "fiks_org_id": ids["fiks_org_id"],
        "privilege": OPPSLAG,
        "cache": cache,
    }
    try:
        await checks.authorize(authorizer, **args)  # type: ignore[arg-type]
        clock.now += 20  # more than a quarter left: a plain hit
        await checks.authorize(authorizer, **args)  # type: ignore[arg-type]
        assert CountingAuthorizer.calls == 1 and not cache.renewals
        clock.now += 5  # last quarter: answered from memory, one renewal for many hits
        for _ in range(5):
            ok = await checks.authorize(authorizer, **args)  # type: ignore[arg-type]
            assert ok.outcome is Outcome.OK
        assert len(cache.renewals) == 1
        await asyncio.gather(*cache.renewals)
        assert CountingAuthorizer.calls == 2
        clock.now += 10  # past the first entry's expiry: the renewed one answers
        await checks.authorize(authorizer, **args)  # type: ignore[arg-type]
        assert CountingAuthorizer.calls == 2

        with factory.begin() as s:
            service.revoke(s, ids["integrasjon_id"], ids["fiks_org_id"], OPPSLAG)
        clock.now += 15  # the renewed entry's last quarter: its renewal is refused
        await checks.authorize(authorizer, **args)  # type: ignore[arg-type]
        await asyncio.gather(*cache.renewals)
        with pytest.raises(AccessDenied):
            await checks.authorize(authorizer, **args)  # type: ignore[arg-type]
    finally:
        engine.dispose()
