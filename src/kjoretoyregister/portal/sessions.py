"""Server-side sessions: a random id in an HttpOnly cookie, the data in a shared store.

Why server-side: a logout or a timeout ends the session for real (a signed cookie would stay
valid until it expires), and nothing about the person travels in the cookie. The portal keeps
sessions in Redis with ``KJR_PORTAL__REDIS_URL``
(:class:`~kjoretoyregister.portal.redis_sessions.RedisSessionStore`), else in its database
(:class:`~kjoretoyregister.portal.db_sessions.DatabaseSessionStore`): either way any instance
behind a load balancer serves any session and a logout on one ends it on all. The in-memory
:class:`SessionStore` defines the interface and the timeout rules (and serves unit tests);
its sessions are neither shared nor kept over a restart.

Timeouts: *idle* (no request for ``idle_timeout_s``) and *absolute* (``absolute_timeout_s``
after login, however busy). A login always gets a fresh session id (no session fixation).
Each session carries its CSRF synchronizer token (see :mod:`kjoretoyregister.portal.security`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

COOKIE_NAME = "kjr_portal"
#: More live sessions than this and the oldest-idle are dropped (memory bound).
MAX_SESSIONS = 10_000


@dataclass(slots=True)
class Person:
    """The logged-in person: pseudonymised pid (never the fnr itself) and display name."""

    pid_pseudonym: str
    navn: str
    acr: str


@dataclass(slots=True)
class PendingLogin:
    """What the callback must match: OIDC ``state``, ``nonce`` and the PKCE verifier."""

    state: str
    nonce: str
    code_verifier: str
    redirect_uri: str
    started: float


@dataclass(slots=True)
class PortalSession:
    """One browser's session."""

    sid: str
    created: float
    last_seen: float
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    person: Person | None = None
    login: PendingLogin | None = None
    org_id: str | None = None
    notice: str | None = None  # one message shown on the next page (then cleared)

    def pop_notice(self) -> str | None:
        """The pending message, once."""
        notice, self.notice = self.notice, None
        return notice


class SessionStoreUnavailable(Exception):
    """The shared session store (Redis or the database) could not be reached."""


def encode_session(session: PortalSession) -> bytes:
    """The session as JSON, without its id (shared stores key it by a hash of the id only)."""
    data = dataclasses.asdict(session)
    del data["sid"]  # the cookie value stays out of the store: its key is only a hash of it
    return orjson.dumps(data)


def decode_session(sid: str, raw: bytes | str) -> PortalSession:
    """The session :func:`encode_session` wrote, under the id the cookie named."""
    data: dict[str, Any] = orjson.loads(raw)
    person = data.pop("person", None)
    login = data.pop("login", None)
    return PortalSession(
        sid=sid,
        **data,
        person=Person(**person) if person else None,
        login=PendingLogin(**login) if login else None,
    )


def store_key(sid: str) -> str:
    """What a shared store names a session by: SHA-256 of the cookie value, hex (64 chars).

    A dump of Redis or of the session table therefore hands out no live cookie.
    """
    return hashlib.sha256(sid.encode()).hexdigest()


class SessionStore:
    """Sessions by id with idle and absolute timeouts, in this process's memory.

    The interface every store has: :meth:`new` builds a session (nothing stored yet),
    :meth:`get` finds a live one (and touches it), :meth:`save` stores a session as the
    request left it, :meth:`delete` ends one. The portal's middleware saves the request's
    session after every handler, so handlers simply change the object.

    Args:
        idle_timeout_s: a session unused this long is gone.
        absolute_timeout_s: a session older than this is gone (counted from creation, and a
            login creates a new session).
        clock: seconds; tests pass their own.
    """

    def __init__(
        self,
        *,
        idle_timeout_s: float,
        absolute_timeout_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.idle_timeout_s = idle_timeout_s
        self.absolute_timeout_s = absolute_timeout_s
        self._clock = clock
        self._sessions: dict[str, PortalSession] = {}

    def _expired(self, s: PortalSession, now: float) -> bool:
        return now - s.last_seen > self.idle_timeout_s or now - s.created > self.absolute_timeout_s

    def expires_at(self, session: PortalSession) -> float:
        """When ``session`` ends if unused: the sooner of its idle and absolute timeouts."""
        return min(
            session.last_seen + self.idle_timeout_s, session.created + self.absolute_timeout_s
        )

    async def _admit(self, sid: str, raw: bytes | str | None) -> tuple[PortalSession | None, bool]:
        """A shared store's answer for ``sid``: decoded and touched if live; if timed out,
        deleted (on every instance at once) and reported as such."""
        if raw is None:
            return None, False
        session = decode_session(sid, raw)
        now = self._clock()
        if self._expired(session, now):
            await self.delete(sid)
            return None, True
        session.last_seen = now
        return session, False

    def new(self) -> PortalSession:
        """A new empty session with a fresh id and CSRF token (stored by :meth:`save`)."""
        now = self._clock()
        return PortalSession(sid=secrets.token_urlsafe(32), created=now, last_seen=now)

    async def get(self, sid: str | None) -> tuple[PortalSession | None, bool]:
        """The live session for ``sid`` (touched), and whether one existed but timed out."""
        if not sid:
            return None, False
        session = self._sessions.get(sid)
        if session is None:
            return None, False
        now = self._clock()
        if self._expired(session, now):
            del self._sessions[sid]
            return None, True
        session.last_seen = now
        return session, False

    async def save(self, session: PortalSession) -> None:
        """Store ``session`` as it is now."""
        if session.sid not in self._sessions:
            self._prune()
        self._sessions[session.sid] = session

    async def delete(self, sid: str) -> None:
        """End a session (logout, or the old id at login)."""
        self._sessions.pop(sid, None)

    async def close(self) -> None:
        return None

    def __len__(self) -> int:
        return len(self._sessions)

    def _prune(self) -> None:
        now = self._clock()
        for sid in [k for k, s in self._sessions.items() if self._expired(s, now)]:
            del self._sessions[sid]
        if len(self._sessions) >= MAX_SESSIONS:
            oldest = sorted(self._sessions.values(), key=lambda s: s.last_seen)
            for s in oldest[: len(self._sessions) - MAX_SESSIONS + 1]:
                del self._sessions[s.sid]
