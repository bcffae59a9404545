"""HTTP Basic users and roles of the simulator, as SVV gives its service users.

A user is configured as ``NAME:PASSWORD[:ROLE,ROLE]``. SVV grants data sets per role
(svv-api.md §1); the simulator knows three:

- ``KJORETOYOPPSLAG``: the bulk lookups (``bulk/kjennemerke``, ``bulk/kuid``,
  ``bulk/understellsnummer``);
- ``KJORETOYSOK``: the seven ``sok/*`` searches;
- ``SIMULATOR``: the ``/_sim/*`` switches (latency, faults, outage, quota).

A user configured without roles has all three. The name may not contain ``:`` and neither may
the password (the separator would be ambiguous); both must be non-empty.

Password checks compare SHA-256 digests with :func:`hmac.compare_digest`, and an unknown name is
checked against a dummy digest, so the time taken says nothing about which part was wrong.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from kjoretoyregister.headers import credentials

KJORETOYOPPSLAG = "KJORETOYOPPSLAG"
KJORETOYSOK = "KJORETOYSOK"
SIMULATOR = "SIMULATOR"
ALL_ROLES: frozenset[str] = frozenset({KJORETOYOPPSLAG, KJORETOYSOK, SIMULATOR})


class UserSpecError(ValueError):
    """A ``--user`` / ``KJR_SVV__USERS`` entry is not ``NAME:PASSWORD[:ROLE,ROLE]``."""


@dataclass(frozen=True, slots=True)
class User:
    """One Basic-auth service user; the password is kept only as a digest."""

    name: str
    password_digest: bytes
    roles: frozenset[str]

    def __repr__(self) -> str:
        return f"User(name={self.name!r}, roles={sorted(self.roles)!r})"


def _digest(password: str) -> bytes:
    return hashlib.sha256(password.encode("utf-8")).digest()


def parse_user(spec: str) -> User:
    """Parse ``NAME:PASSWORD[:ROLE,ROLE]``.

    Raises:
        UserSpecError: with a message that names the user but never the password.
    """
    parts = spec.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        shown = parts[0] if parts and parts[0] else "?"
        raise UserSpecError(
            f"user {shown!r}: expected NAME:PASSWORD or NAME:PASSWORD:ROLE[,ROLE] "
            "(no ':' inside the name or password)"
        )
    name, password = parts[0], parts[1]
    roles = ALL_ROLES
    if len(parts) == 3:
        wanted = {r.strip().upper() for r in parts[2].split(",") if r.strip()}
        unknown = sorted(wanted - ALL_ROLES)
        if not wanted or unknown:
            raise UserSpecError(
                f"user {name!r}: unknown role(s) {', '.join(unknown) or '(none given)'}; "
                f"known roles are {', '.join(sorted(ALL_ROLES))}"
            )
        roles = frozenset(wanted)
    return User(name=name, password_digest=_digest(password), roles=roles)


class Users:
    """The configured users; answers "who is this Authorization header?"."""

    _DUMMY = _digest("\x00no such user\x00")

    def __init__(self, users: Iterable[User]) -> None:
        self._by_name: dict[str, User] = {}
        for user in users:
            if user.name in self._by_name:
                raise UserSpecError(f"user {user.name!r} is configured twice")
            self._by_name[user.name] = user

    @classmethod
    def from_specs(cls, specs: Iterable[str]) -> Users:
        """Build from ``NAME:PASSWORD[:ROLE,ROLE]`` strings (raises :class:`UserSpecError`)."""
        return cls(parse_user(spec) for spec in specs)

    def __len__(self) -> int:
        return len(self._by_name)

    @property
    def names(self) -> list[str]:
        return sorted(self._by_name)

    def authenticate(self, authorization: str | None) -> User | None:
        """Return the user named by a valid ``Authorization: Basic …`` header, else None."""
        credentials = _basic_credentials(authorization)
        if credentials is None:
            return None
        name, password = credentials
        user = self._by_name.get(name)
        expected = user.password_digest if user else self._DUMMY
        matches = hmac.compare_digest(_digest(password), expected)
        return user if (user is not None and matches) else None


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    token = credentials({"Authorization": authorization} if authorization else {}, "Basic")
    if token is None:
        return None
    try:
        decoded = base64.b64decode(token, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    name, sep, password = decoded.partition(":")
    if not sep:
        return None
    return name, password
