"""
The connection profile: one JSON file with everything a client needs to call the gateway.

``kjoretoyregister demo --profile PATH`` writes it; scripts and ``kjoretoyregister oppslag``
read it. Keys (others, such as ``svv_url`` and ``database_url``, are kept but unused here)::

    {
      "gateway_url": "http://127.0.0.1:8080/kjoretoyregister/api",
      "fiks_org_id": "…", "integrasjon_id": "…", "integrasjon_passord": "…",
      "maskinporten": {"issuer": "…", "token_url": "…", "client_id": "…", "kid": "…",
                       "private_key_path": "…", "scope": "ks:fiks"}
    }

A relative ``private_key_path`` is taken relative to the profile file's folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from kjoretoyregister.client.errors import KjoretoyregisterError

__all__ = ["MaskinportenProfile", "Profile", "ProfileError", "load_profile"]


class ProfileError(KjoretoyregisterError):
    """The profile file is missing, not JSON, or lacks a required key."""


class MaskinportenProfile(BaseModel):
    """How to get a Maskinporten token: the JWT grant's issuer, client and key."""

    model_config = ConfigDict(frozen=True, extra="allow")

    issuer: str
    token_url: str
    client_id: str
    kid: str | None = None
    private_key_path: Path
    scope: str = "ks:fiks"
    resource: str | None = None
    consumer_org: str | None = None


class Profile(BaseModel):
    """A parsed profile; the password is masked in ``repr`` and logs."""

    model_config = ConfigDict(frozen=True, extra="allow")

    gateway_url: str
    fiks_org_id: str
    integrasjon_id: str
    integrasjon_passord: SecretStr
    maskinporten: MaskinportenProfile


def load_profile(path: Path) -> Profile:
    """
    Read and check a profile file.

    Args:
        path: the JSON file ``demo --profile`` wrote.

    Returns:
        The profile, with ``maskinporten.private_key_path`` made absolute.

    Raises:
        ProfileError: the file is missing, not JSON, or lacks a required key.
    """
    try:
        raw: Any = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise ProfileError(f"cannot read profile {path}: {exc.strerror or exc}") from exc
    except orjson.JSONDecodeError as exc:
        raise ProfileError(f"profile {path} is not JSON: {exc}") from exc
    try:
        profile = Profile.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ProfileError(f"profile {path} is incomplete: {problems}") from None
    key_path = profile.maskinporten.private_key_path
    if not key_path.is_absolute():
        key_path = (path.parent / key_path).resolve()
        maskinporten = profile.maskinporten.model_copy(update={"private_key_path": key_path})
        profile = profile.model_copy(update={"maskinporten": maskinporten})
    return profile
