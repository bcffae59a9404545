"""The OpenID Connect relying party: authorization code flow with PKCE against ID-porten.

Library use:

- **Authlib** (``authlib.oauth2.client.OAuth2Client``) builds the authorization URL with
  ``state``, ``nonce`` and the PKCE ``S256`` challenge, and prepares the token request body.
  It is used without a transport; the HTTP calls go through the portal's aiohttp session,
  because the project's HTTP client is aiohttp everywhere.
- **joserfc** (Authlib's own JOSE library, which replaces the deprecated ``authlib.jose``)
  verifies the ID token's signature against the provider's JWKS and its claims: ``iss``,
  ``aud``, ``exp``/``iat`` (with a small leeway), ``nonce``, ``acr`` and ``pid``.

Discovery (``<issuer>/.well-known/openid-configuration``) and the JWKS are cached; an ID token
signed with an unknown ``kid`` refetches the JWKS once (key rotation).
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson
from authlib.common.security import generate_token
from authlib.oauth2.client import OAuth2Client
from authlib.oauth2.rfc6749.parameters import prepare_token_request
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from kjoretoyregister.config import PortalSettings
from kjoretoyregister.portal.sessions import PendingLogin

SCOPE = "openid profile"
LEEWAY_S = 30
METADATA_TTL_S = 3600.0
LOGIN_MAX_AGE_S = 600.0
ACCEPTED_ACR = ("idporten-loa-substantial", "idporten-loa-high")
_TIMEOUT = aiohttp.ClientTimeout(total=10)


class LoginFailed(Exception):
    """The login could not be completed; the message is safe to show (no token contents)."""


@dataclass(frozen=True, slots=True)
class Identity:
    """Who logged in, from a verified ID token."""

    pid: str
    name: str
    acr: str


class RelyingParty:
    """Our side of the login.

    Args:
        settings: the ``portal`` settings (issuer, client id/secret, redirect URI, acr).
        http: an open aiohttp session for discovery, JWKS and token calls.
    """

    def __init__(self, settings: PortalSettings, http: aiohttp.ClientSession) -> None:
        self.settings = settings
        self.issuer = settings.issuer_url.rstrip("/") + "/"
        self._http = http
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._keys: KeySet | None = None

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            async with self._http.get(url, timeout=_TIMEOUT) as resp:
                if resp.status != 200:
                    raise LoginFailed("ID-porten svarte ikke som forventet")
                data = orjson.loads(await resp.read())
        except (aiohttp.ClientError, TimeoutError, orjson.JSONDecodeError) as exc:
            raise LoginFailed("ID-porten er ikke tilgjengelig akkurat nå") from exc
        if not isinstance(data, dict):
            raise LoginFailed("ID-porten svarte ikke som forventet")
        return data

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (cached for an hour)."""
        now = time.monotonic()
        if self._metadata is None or now - self._metadata_at > METADATA_TTL_S:
            doc = await self._get_json(self.issuer + ".well-known/openid-configuration")
            if doc.get("issuer") != self.issuer:
                raise LoginFailed("ID-porten oppga en annen utsteder enn den konfigurerte")
            for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(doc.get(key), str):
                    raise LoginFailed("ID-porten sitt metadata-dokument mangler endepunkter")
            self._metadata, self._metadata_at = doc, now
        return self._metadata

    async def _keyset(self, refresh: bool = False) -> KeySet:
        if self._keys is None or refresh:
            meta = await self.metadata()
            self._keys = KeySet.import_key_set(await self._get_json(meta["jwks_uri"]))  # type: ignore[arg-type]
        return self._keys

    def _client(self, redirect_uri: str) -> OAuth2Client:
        return OAuth2Client(
            None,
            client_id=self.settings.client_id,
            client_secret=self.settings.client_secret.get_secret_value(),
            redirect_uri=redirect_uri,
            scope=SCOPE,
            code_challenge_method="S256",
        )

    async def begin(self, redirect_uri: str, now: float) -> tuple[str, PendingLogin]:
        """The URL to send the browser to, and what the callback must match."""
        meta = await self.metadata()
        pending = PendingLogin(
            state=generate_token(32),
            nonce=generate_token(32),
            code_verifier=generate_token(64),
            redirect_uri=redirect_uri,
            started=now,
        )
        url, _ = self._client(redirect_uri).create_authorization_url(
            meta["authorization_endpoint"],
            state=pending.state,
            code_verifier=pending.code_verifier,
            nonce=pending.nonce,
            acr_values=self.settings.acr_values,
            ui_locales="nb",
        )
        return str(url), pending

    async def finish(self, pending: PendingLogin, *, code: str, state: str, now: float) -> Identity:
        """Check ``state``, redeem ``code`` (with the PKCE verifier) and verify the ID token."""
        if not state or state != pending.state:
            raise LoginFailed("Innloggingen kunne ikke bekreftes (ukjent tilstand). Prøv igjen.")
        if now - pending.started > LOGIN_MAX_AGE_S:
            raise LoginFailed("Innloggingen tok for lang tid. Prøv igjen.")
        if not code or len(code) > 512:
            raise LoginFailed("ID-porten sendte ingen gyldig kode")
        meta = await self.metadata()
        body = prepare_token_request(
            "authorization_code",
            code=code,
            redirect_uri=pending.redirect_uri,
            code_verifier=pending.code_verifier,
        )
        s = self.settings
        # RFC 6749 §2.3.1: id and secret are form-encoded before Basic encoding.
        pair = f"{quote(s.client_id, safe='')}:{quote(s.client_secret.get_secret_value(), safe='')}"
        basic = base64.b64encode(pair.encode()).decode("ascii")
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
            "Authorization": f"Basic {basic}",
        }
        try:
            async with self._http.post(
                meta["token_endpoint"], data=body, headers=headers, timeout=_TIMEOUT
            ) as resp:
                status, raw = resp.status, await resp.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise LoginFailed("ID-porten er ikke tilgjengelig akkurat nå") from exc
        try:
            tokens = orjson.loads(raw)
        except orjson.JSONDecodeError:
            tokens = None
        if status != 200 or not isinstance(tokens, dict):
            raise LoginFailed("ID-porten avviste innloggingen. Prøv igjen.")
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str) or str(tokens.get("token_type", "")).lower() != "bearer":
            raise LoginFailed("ID-porten sendte ikke et gyldig ID-token")
        return await self._verify(id_token, pending.nonce)

    async def _verify(self, id_token: str, nonce: str) -> Identity:
        keys = await self._keyset()
        try:
            token = jwt.decode(id_token, keys, algorithms=["RS256"])
        except JoseError:
            # An unknown kid after a key rotation: fetch the JWKS once more and retry.
            keys = await self._keyset(refresh=True)
            try:
                token = jwt.decode(id_token, keys, algorithms=["RS256"])
            except JoseError as exc:
                raise LoginFailed("ID-tokenet kunne ikke verifiseres") from exc
        registry = jwt.JWTClaimsRegistry(
            leeway=LEEWAY_S,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.settings.client_id},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
            acr={"essential": True, "values": list(ACCEPTED_ACR)},
            pid={"essential": True},
        )
        try:
            registry.validate(token.claims)
        except JoseError as exc:
            raise LoginFailed("ID-tokenet er ikke gyldig for denne tjenesten") from exc
        claims = token.claims
        pid = str(claims["pid"])
        if len(pid) != 11 or not pid.isdigit():
            raise LoginFailed("ID-tokenet har ikke et gyldig fødselsnummer")
        name = " ".join(str(claims.get("name") or "").split())[:200] or "Ukjent navn"
        return Identity(pid=pid, name=name, acr=str(claims["acr"]))
