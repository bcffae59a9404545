"""Integration passwords: generated with ``secrets``, stored only as Argon2id hashes.

A password is 32 random bytes (256 bits) in URL-safe base64, 43 characters, shown to the
administrator exactly once. Only its Argon2id hash (argon2-cffi defaults: RFC 9106 low-memory
profile, t=3, m=64 MiB, p=4 — roughly 50–150 ms per verify) is stored, so a database dump
does not give working credentials. The gateway does not pay that cost per request:
:mod:`kjoretoyregister.konfig.authz` caches verified results.
"""

from __future__ import annotations

import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

#: Random bytes per generated password (256 bits of entropy).
PASSWORD_BYTES = 32

# What a password we generated can look like. Anything else cannot match a stored hash, so the
# authorizer refuses it without spending an Argon2 verify on it.
_PLAUSIBLE = re.compile(r"[A-Za-z0-9_-]{43,128}")

_hasher = PasswordHasher()


def generate_password() -> str:
    """A new random password (43 URL-safe characters, 256 bits)."""
    return secrets.token_urlsafe(PASSWORD_BYTES)


def hasher() -> PasswordHasher:
    """The hasher used for new passwords (verification reads parameters from the hash)."""
    return _hasher


def hash_password(password: str) -> str:
    """The Argon2id hash (PHC string) to store for ``password``."""
    return str(hasher().hash(password))


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``; False for a mismatch or a broken hash."""
    try:
        return bool(hasher().verify(password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def is_plausible(password: str) -> bool:
    """Cheap pre-check: could ``password`` be one we generated? (No Argon2 work for junk.)"""
    return _PLAUSIBLE.fullmatch(password) is not None
