"""Profile files: what `demo --profile` writes is read; a broken one is a clear ProfileError."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from cryptography.hazmat.primitives import serialization

from kjoretoyregister.client import (
    AsyncKjoretoyregisterClient,
    ProfileError,
    load_profile,
    provider_from_profile,
)
from kjoretoyregister.maskinporten.testing import new_rsa_key


def _write(folder: Path, **changes: object) -> Path:
    key = folder / "key.pem"
    key.write_bytes(
        new_rsa_key().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    data: dict[str, object] = {
        "gateway_url": "http://127.0.0.1:8080/kjoretoyregister/api",
        "fiks_org_id": "11111111-2222-3333-4444-555555555555",
        "integrasjon_id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "integrasjon_passord": "hemmelig",
        "maskinporten": {
            "issuer": "http://127.0.0.1:8082/",
            "token_url": "http://127.0.0.1:8082/token",
            "client_id": "demo",
            "kid": "k1",
            "private_key_path": "key.pem",
            "scope": "ks:fiks",
        },
        "svv_url": "http://127.0.0.1:8081/ws/no/vegvesen/kjoretoy/felles/v2",
        "database_url": "sqlite:///x.db",
        **changes,
    }
    path = folder / "profile.json"
    path.write_bytes(orjson.dumps(data))
    return path


def test_reads_profile_and_resolves_key_path(tmp_path: Path) -> None:
    """A relative key path is taken relative to the profile; the password is masked."""
    profile = load_profile(_write(tmp_path))
    assert profile.maskinporten.private_key_path == (tmp_path / "key.pem").resolve()
    assert "hemmelig" not in repr(profile)
    assert provider_from_profile(profile).client_id == "demo"


async def test_client_from_profile(tmp_path: Path) -> None:
    """from_profile builds a client without contacting anything."""
    async with AsyncKjoretoyregisterClient.from_profile(_write(tmp_path)) as client:
        assert client.max_bulk_items == 1000


@pytest.mark.parametrize(
    ("content", "message"),
    [
        # missing file, not JSON, missing keys
        (None, "cannot read profile"),
        (b"{not json", "not JSON"),
        (b'{"gateway_url": "x"}', "incomplete"),
    ],
)
def test_broken_profiles(tmp_path: Path, content: bytes | None, message: str) -> None:
    """Each way a profile can be broken names the file and the problem."""
    path = tmp_path / "p.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ProfileError, match=message):
        load_profile(path)


def test_missing_key_file(tmp_path: Path) -> None:
    """A profile whose key file is gone fails with ProfileError, not OSError."""
    path = _write(tmp_path)
    (tmp_path / "key.pem").unlink()
    with pytest.raises(ProfileError, match="private key"):
        provider_from_profile(load_profile(path))
