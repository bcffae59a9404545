"""Reading credential headers as the untrusted bytes they are.

aiohttp decodes header bytes as UTF-8 with ``surrogateescape``, so a raw ``0xFF`` arrives as
the lone surrogate ``\\udcff``: harmless until someone calls ``.encode()`` on it (hashing a
password, comparing a token), which then raises ``UnicodeEncodeError`` — a 500. Tokens,
passwords and integration ids are ASCII by definition (JWTs are base64url, ours are UUIDs and
generated secrets), so anything outside visible ASCII is refused at the door, before any code
that could trip over it runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# Visible ASCII plus the space and tab that may sit between a scheme and its credentials.
_VISIBLE_ASCII = re.compile(r"[\x20-\x7e\t]*")


class UnsafeHeader(ValueError):
    """A header held bytes outside visible ASCII; ``name`` says which (never the value)."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"{name}: only visible ASCII characters are accepted")


def is_visible_ascii(value: str) -> bool:
    """True if ``value`` is only visible ASCII, space and tab."""
    return _VISIBLE_ASCII.fullmatch(value) is not None


def ascii_header(headers: Mapping[str, str], name: str) -> str | None:
    """The header's value, or None when absent; :class:`UnsafeHeader` if not visible ASCII."""
    value = headers.get(name)
    if value is not None and not is_visible_ascii(value):
        raise UnsafeHeader(name)
    return value


def credentials(headers: Mapping[str, str], scheme: str) -> str | None:
    """The credentials of ``Authorization: <scheme> <credentials>``, or None.

    None for an absent header, another scheme, empty credentials, or any byte outside visible
    ASCII: callers answer all of these with the same 401, so none needs telling apart.
    """
    value = headers.get("Authorization")
    if not value or not is_visible_ascii(value):
        return None
    given, _, rest = value.strip().partition(" ")
    rest = rest.strip()
    if given.lower() != scheme.lower() or not rest:
        return None
    return rest
