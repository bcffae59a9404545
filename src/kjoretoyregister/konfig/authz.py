"""The gateway's authorization check: integration credentials + org + privilege → decision.

One call answers «may integration X, with password P, presented by a token whose consumer is
C, use privilege Y on Fiks organisation Z?» with the three Fiks outcomes (fiks-platform.md
§0, §1.5):

* ``INTEGRATION_AUTH_FAILED`` (401) — the id is not a UUID, the integration does not exist or
  was deleted, the password is wrong, or C is not its *autorisert organisasjon*. Which one
  is never said.
* ``NO_ACCESS`` (403) — authenticated, but Z is unknown or not a UUID, the service is not
  activated for Z, or there is no grant of Y on Z.
* ``OK``.

Cost. Every check runs one indexed query (primary-key look-ups joined in one statement), so a
password change, a delete, a deactivation or a revoked grant committed by any process is
seen by the very next check. The expensive part, the Argon2id verify, is cached: the cache
key is an HMAC (server secret) over the integration id, the presented password and the
*stored hash*. A new password means a new stored hash, hence a new key, so an old cached
"verified" can never match again; a delete removes the row, so the query fails first. The
cache never holds a password or anything that verifies one without the secret.

Floods of wrong passwords: passwords that cannot be ours (wrong shape) fail without Argon2;
failed verifies are remembered for a few seconds under the same kind of key; at most
``max_concurrent_verifies`` verifies run at once (the rest queue), and concurrent checks with
the same cold credentials wait for one verify instead of each doing their own. The consumer
orgnr is compared before the password, so a token for the wrong organisation costs nothing.

Refresh ahead: a check that finds a verified entry in the last quarter of its life still
answers from it at once, and starts one verify of the same credentials in the background that
renews the entry. Without it, under steady traffic every entry expired while requests were
arriving, and they all waited for the one verify (~170 ms on the development machine, ~0.5 s
with the cores busy): the two-worker p99 in docs/performance.md. Nothing is trusted longer than
before without a verify: the entry still expires at its own time if the renewal has not
landed, and a renewal is a full Argon2 verify against the hash just read.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import hmac
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Uuid, and_, bindparam, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from kjoretoyregister.config import KonfigSettings
from kjoretoyregister.konfig import feltpolicy, passwords
from kjoretoyregister.konfig.feltpolicy import FieldPolicy
from kjoretoyregister.konfig.models import (
    TJENESTE,
    FiksOrganisasjon,
    Integrasjon,
    Tilgang,
    TjenesteAktivering,
)
from kjoretoyregister.store.db import READ_ONLY


class Outcome(enum.Enum):
    """What the gateway answers."""

    #: Authenticated and authorized: forward the call.
    OK = "ok"
    #: 401 «Autentisering feilet for integrasjon med id …» (which part failed is not told).
    INTEGRATION_AUTH_FAILED = "integration_auth_failed"
    #: 403: the integration is genuine but may not do this on this organisation.
    NO_ACCESS = "no_access"


@dataclass(frozen=True)
class Decision:
    """The answer of :meth:`Authorizer.check`.

    Fields are filled as far as the check got: ``authorized_orgnr`` and ``fiks_org_orgnr`` only
    once the integration has authenticated (so a failed login learns nothing from them).
    """

    outcome: Outcome
    integrasjon_id: str | None
    authorized_orgnr: str | None
    fiks_org_id: str | None
    fiks_org_orgnr: str | None
    purpose_required: bool = False
    # The grant's field policy (data minimisation); None = pass SVV's answer through unchanged.
    feltpolicy: FieldPolicy | None = None


def _build_query() -> Any:
    i = Integrasjon.__table__
    o = FiksOrganisasjon.__table__
    a = TjenesteAktivering.__table__
    g = Tilgang.__table__
    org = bindparam("org", type_=Uuid())
    return (
        select(
            i.c.password_hash,
            i.c.autorisert_orgnr,
            o.c.orgnr,
            a.c.aktiv,
            g.c.purpose_required,
            g.c.feltpolicy,
            g.c.feltpolicy_felter,
        )
        .select_from(i)
        .outerjoin(o, o.c.id == org)
        .outerjoin(a, and_(a.c.fiks_org_id == org, a.c.tjeneste == TJENESTE))
        .outerjoin(
            g,
            and_(
                g.c.integrasjon_id == i.c.id,
                g.c.fiks_org_id == org,
                g.c.privilegium == bindparam("privilege"),
            ),
        )
        .where(i.c.id == bindparam("integration", type_=Uuid()), i.c.deleted_at.is_(None))
    )


_QUERY = _build_query()

#: A verified entry with less than this share of its TTL left is renewed in the background.
REFRESH_AHEAD = 0.25


def _as_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return None


class Authorizer:
    """Thread-safe authorization checks with a verified-credentials cache.

    Args:
        session_factory: sessions on the Konfigurasjon database.
        cache_secret: HMAC key for cache keys; random per instance if None (a cache is
            per-process anyway).
        cache_ttl_s: how long a verified password is trusted without a new Argon2 verify.
            The database row is still read on every check, so this bounds nothing about
            revocation; it only bounds how long a stolen cache key would be useful.
        negative_ttl_s: how long a failed verify is remembered.
        max_entries: cache size bound; oldest entries go first.
        max_concurrent_verifies: Argon2 verifies running at once in this instance.
        clock: monotonic clock (tests pass a fake one).
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        cache_secret: bytes | None = None,
        cache_ttl_s: float = 30.0,
        negative_ttl_s: float = 5.0,
        max_entries: int = 10_000,
        max_concurrent_verifies: int = 2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if cache_ttl_s < 0 or negative_ttl_s < 0:
            raise ValueError("cache TTLs must not be negative")
        if max_entries < 1 or max_concurrent_verifies < 1:
            raise ValueError("max_entries and max_concurrent_verifies must be at least 1")
        self._session_factory = session_factory
        bind = session_factory.kw.get("bind")
        # Going straight to the engine skips the ORM session (~2x cheaper per check).
        self._engine: Engine | None = bind if isinstance(bind, Engine) else None
        # One SELECT needs no transaction: on PostgreSQL autocommit saves the BEGIN and
        # ROLLBACK round trips; on SQLite a deferred BEGIN never waits for writers.
        self._read_options: dict[str, Any] = (
            {"isolation_level": "AUTOCOMMIT"}
            if self._engine is not None and self._engine.dialect.name == "postgresql"
            else READ_ONLY
        )
        self._secret = cache_secret or secrets.token_bytes(32)
        self._ttl = cache_ttl_s
        self._negative_ttl = negative_ttl_s
        self._max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[bytes, tuple[float, bool]] = {}
        self._inflight: dict[bytes, threading.Event] = {}
        self._verify_slots = threading.BoundedSemaphore(max_concurrent_verifies)
        #: Argon2 verifies done so far (tests and metrics read it).
        self.verifications = 0
        #: Verifies started ahead of an entry's expiry, in the background.
        self.refreshes = 0

    @classmethod
    def from_settings(
        cls, session_factory: sessionmaker[Session], settings: KonfigSettings
    ) -> Authorizer:
        """An authorizer with the cache TTLs and secret of the ``konfig`` settings section."""
        secret = settings.auth_cache_secret
        return cls(
            session_factory,
            cache_secret=secret.get_secret_value().encode() if secret else None,
            cache_ttl_s=settings.auth_cache_ttl_s,
            negative_ttl_s=settings.auth_negative_ttl_s,
        )

    # -- public ---------------------------------------------------------------------------

    def check(
        self,
        *,
        integrasjon_id: str,
        passord: str,
        consumer_orgnr: str,
        fiks_org_id: str,
        privilege: str,
    ) -> Decision:
        """Decide one call. Blocking (one database query, at most one Argon2 verify).

        Args:
            integrasjon_id: the ``IntegrasjonId`` header as received.
            passord: the ``IntegrasjonPassord`` header as received.
            consumer_orgnr: the orgnr from the verified token's ``consumer`` claim.
            fiks_org_id: the ``{fiksOrgId}`` path segment as received.
            privilege: the privilege the endpoint needs (see ``konfig.privileges``).

        Returns:
            The decision; never raises for bad input.
        """
        integration_uuid = _as_uuid(integrasjon_id)
        org_uuid = _as_uuid(fiks_org_id)
        org_str = str(org_uuid) if org_uuid else None
        if integration_uuid is None:
            return Decision(Outcome.INTEGRATION_AUTH_FAILED, None, None, org_str, None)
        integration_str = str(integration_uuid)
        failed = Decision(Outcome.INTEGRATION_AUTH_FAILED, integration_str, None, org_str, None)

        row = self._fetch(integration_uuid, org_uuid, privilege)
        if row is None:
            return failed
        password_hash, authorized_orgnr, org_orgnr, aktiv, purpose_required, policy, felter = row
        if password_hash is None or not hmac.compare_digest(
            consumer_orgnr.encode(), authorized_orgnr.encode()
        ):
            return failed
        if not self._password_ok(integration_uuid, passord, password_hash):
            return failed

        if org_uuid is None or org_orgnr is None or not aktiv or purpose_required is None:
            return Decision(
                Outcome.NO_ACCESS, integration_str, authorized_orgnr, org_str, org_orgnr
            )
        return Decision(
            Outcome.OK,
            integration_str,
            authorized_orgnr,
            org_str,
            org_orgnr,
            purpose_required=bool(purpose_required),
            feltpolicy=feltpolicy.from_stored(policy, felter),
        )

    async def acheck(
        self,
        *,
        integrasjon_id: str,
        passord: str,
        consumer_orgnr: str,
        fiks_org_id: str,
        privilege: str,
    ) -> Decision:
        """:meth:`check` in a worker thread, for the event loop."""
        return await asyncio.to_thread(
            self.check,
            integrasjon_id=integrasjon_id,
            passord=passord,
            consumer_orgnr=consumer_orgnr,
            fiks_org_id=fiks_org_id,
            privilege=privilege,
        )

    def clear_cache(self) -> None:
        """Forget every cached verification (e.g. after rotating the cache secret)."""
        with self._lock:
            self._cache.clear()

    # -- internals ------------------------------------------------------------------------

    def _fetch(
        self, integration: uuid.UUID, org: uuid.UUID | None, privilege: str
    ) -> tuple[Any, ...] | None:
        params = {"integration": integration, "org": org, "privilege": privilege}
        try:
            return self._fetch_once(params)
        except DBAPIError as exc:
            # A pooled connection the server dropped (restart, idle timeout): the pool has
            # been invalidated, so one retry gets a fresh connection instead of a 5xx.
            if not exc.connection_invalidated:
                raise
            return self._fetch_once(params)

    def _fetch_once(self, params: dict[str, Any]) -> tuple[Any, ...] | None:
        if self._engine is not None:
            with self._engine.connect() as conn:
                conn.execution_options(**self._read_options)
                row = conn.execute(_QUERY, params).first()
        else:
            with self._session_factory() as session:
                conn = session.connection(execution_options=READ_ONLY)
                row = conn.execute(_QUERY, params).first()
        return tuple(row) if row is not None else None

    def _key(self, integration: uuid.UUID, password: str, password_hash: str) -> bytes:
        raw = password.encode()
        message = integration.bytes + len(raw).to_bytes(4, "big") + raw + password_hash.encode()
        return hmac.new(self._secret, message, hashlib.sha256).digest()

    def _cached(self, key: bytes, now: float) -> tuple[bool, float] | None:
        """The cached outcome and its seconds left, or None (expired entries are dropped)."""
        entry = self._cache.get(key)
        if entry is None:
            return None
        expires, ok = entry
        if expires <= now:
            del self._cache[key]
            return None
        return ok, expires - now

    def _store(self, key: bytes, ok: bool) -> None:
        now = self._clock()
        ttl = self._ttl if ok else self._negative_ttl
        if ttl <= 0:
            return
        if len(self._cache) >= self._max_entries:
            for stale in [k for k, (exp, _) in self._cache.items() if exp <= now]:
                del self._cache[stale]
            while len(self._cache) >= self._max_entries:
                del self._cache[next(iter(self._cache))]  # dicts keep insertion order
        self._cache[key] = (now + ttl, ok)

    def _password_ok(self, integration: uuid.UUID, password: str, password_hash: str) -> bool:
        if not passwords.is_plausible(password):
            return False
        key = self._key(integration, password, password_hash)
        while True:
            with self._lock:
                hit = self._cached(key, self._clock())
                if hit is not None:
                    ok, left = hit
                    if ok and left < self._ttl * REFRESH_AHEAD and key not in self._inflight:
                        self._refresh(key, password, password_hash)
                    return ok
                event = self._inflight.get(key)
                leader = event is None
                if event is None:
                    event = threading.Event()
                    self._inflight[key] = event
            if leader:
                return self._verify_and_store(key, password, password_hash, event)
            # Someone is verifying exactly these credentials: wait for their answer, then
            # read it from the cache (or take the lead if they could not store one).
            event.wait(timeout=30)

    def _refresh(self, key: bytes, password: str, password_hash: str) -> None:
        """Renew a verified entry in the background (caller holds the lock): later checks
        answer from the entry until it expires, then wait for this verify like any other."""
        event = threading.Event()
        self._inflight[key] = event
        self.refreshes += 1
        threading.Thread(
            target=self._verify_and_store,
            args=(key, password, password_hash, event),
            name="konfig-verify-ahead",
            daemon=True,
        ).start()

    def _verify_and_store(
        self, key: bytes, password: str, password_hash: str, event: threading.Event
    ) -> bool:
        try:
            with self._verify_slots:
                ok = passwords.verify_password(password_hash, password)
            with self._lock:
                self.verifications += 1
                self._store(key, ok)
            return ok
        finally:
            with self._lock:
                self._inflight.pop(key, None)
            event.set()
