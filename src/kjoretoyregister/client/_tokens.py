"""
Where the client's access tokens come from: the ``TokenProvider`` protocol, and a
``MaskinportenTokenProvider`` built from a profile.
"""

from __future__ import annotations

from typing import Protocol

import aiohttp

from kjoretoyregister.client.maskinporten import MaskinportenTokenProvider, load_private_key
from kjoretoyregister.client.profile import Profile, ProfileError

__all__ = ["TokenProvider", "provider_from_profile"]


class TokenProvider(Protocol):
    """Where access tokens come from (``MaskinportenTokenProvider`` in practice)."""

    async def atoken(self, session: aiohttp.ClientSession | None = None) -> str:
        """A valid access token, cached until shortly before it expires."""
        ...

    def invalidate(self) -> None:
        """Forget the cached token (the gateway refused it)."""
        ...


def provider_from_profile(profile: Profile) -> MaskinportenTokenProvider:
    """
    A ``MaskinportenTokenProvider`` for the profile's Maskinporten client and key.

    Raises:
        ProfileError: the private key file cannot be read or is not an RSA key.
    """
    mp = profile.maskinporten
    try:
        key = load_private_key(mp.private_key_path)
    except (OSError, ValueError) as exc:
        raise ProfileError(f"cannot load private key {mp.private_key_path}: {exc}") from exc
    return MaskinportenTokenProvider(
        token_url=mp.token_url,
        issuer=mp.issuer,
        client_id=mp.client_id,
        private_key=key,
        kid=mp.kid,
        scope=mp.scope,
        resource=mp.resource,
        consumer_org=mp.consumer_org,
    )
