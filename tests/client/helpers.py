"""Helpers for the client's stack tests."""

from __future__ import annotations

from pathlib import Path

import orjson
from cryptography.hazmat.primitives import serialization

from stack import Stack


def write_profile(stack: Stack, folder: Path) -> Path:
    """A profile with the keys ``demo --profile`` writes (issue 5), key file next to it."""
    folder.mkdir(parents=True, exist_ok=True)
    key_path = folder / "client-key.pem"
    key_path.write_bytes(
        stack.client.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    profile = {
        "gateway_url": stack.gateway_url,
        "fiks_org_id": stack.fiks_org_id,
        "integrasjon_id": stack.integrasjon_id,
        "integrasjon_passord": stack.integrasjon_passord,
        "maskinporten": {
            "issuer": stack.mp_issuer,
            "token_url": stack.mp_token_url,
            "client_id": stack.client.client_id,
            "kid": stack.client.kid,
            "private_key_path": key_path.name,  # relative: resolved against the profile's folder
            "scope": "ks:fiks",
        },
        "svv_url": stack.svv_url,
        "database_url": stack.database_url,
    }
    path = folder / "profile.json"
    path.write_bytes(orjson.dumps(profile, option=orjson.OPT_INDENT_2))
    return path
