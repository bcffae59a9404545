"""
Where the client's access tokens come from: the ``TokenProvider`` protocol, and a
``MaskinportenTokenProvider`` built from a profile.
"""

from __future__ import annotations

from typing import Protocol

import aiohttp

from kjoretoyregister.client._transport import AiohttpTransport, Transport
from kjoretoyregister.client.errors import TokenError
from kjoretoyregister.client.maskinporten import (
    MaskinportenError,
    MaskinportenTokenProvider,
    load_private_key,
)
from kjoretoyregister.client.profile import Profile, ProfileError

__all__ = ["TokenProvider", "fetch_token", "provider_from_profile"]


class TokenProvider(Protocol):
    """Where access tokens come from (``MaskinportenTokenProvider`` in practice)."""

    async def atoken(self, session: aiohttp.ClientSession | None = None) -> str:
        """A valid access token, cached until shortly before it expires."""
        ...

    def invalidate(self) -> None:
        """Forget the cached token (the gateway refused it)."""
        ...


async def fetch_token(tokens: TokenProvider, transport: Transport) -> str:
    """A token from ``tokens``, over the transport's own connections where it has them.

    Raises:
        TokenError: Maskinporten gave no token (the reason is in the message).
    """
    session = transport.session if isinstance(transport, AiohttpTransport) else None
    try:
        return await tokens.atoken(session)
    except MaskinportenError as exc:
        raise TokenError(f"no Maskinporten token: {exc}") from exc


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
