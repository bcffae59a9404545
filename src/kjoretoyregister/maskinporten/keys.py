"""RSA keys: generation, PEM files, JWK form and RFC 7638 thumbprint key ids.

Maskinporten's own ``kid`` values look like base64url SHA-256 thumbprints (43 characters,
fiks-platform.md §2.1), so both our signing keys and generated client keys use the RFC 7638
thumbprint as their ``kid``.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

# Keys shorter than this are refused: NIST SP 800-131A, and PyJWT warns below it.
MIN_RSA_BITS = 2048


def new_rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    """Generate an RSA private key (public exponent 65537)."""
    if bits < MIN_RSA_BITS:
        raise ValueError(f"RSA keys must be at least {MIN_RSA_BITS} bits")
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def public_jwk(key: rsa.RSAPublicKey, kid: str | None = None, alg: str = "RS256") -> dict[str, str]:
    """The public key as a JWK with ``kty``, ``e``, ``n`` and, when given, ``kid``/``alg``/``use``.

    Args:
        key: the RSA public key.
        kid: the key id to publish; None gives a bare JWK (what the thumbprint is taken of).
        alg: the algorithm the key signs with.
    """
    numbers = key.public_numbers()
    jwk = {"kty": "RSA", "e": _b64url_uint(numbers.e), "n": _b64url_uint(numbers.n)}
    if kid is not None:
        jwk |= {"kid": kid, "alg": alg, "use": "sig"}
    return jwk


def thumbprint(key: rsa.RSAPublicKey) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url without padding)."""
    bare = public_jwk(key)
    canonical = orjson.dumps({"e": bare["e"], "kty": "RSA", "n": bare["n"]})
    digest = hashlib.sha256(canonical).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def private_pem(key: rsa.RSAPrivateKey) -> bytes:
    """PKCS#8 PEM, unencrypted (the file is protected by its 0600 mode instead)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_pem(key: rsa.RSAPublicKey) -> bytes:
    """SubjectPublicKeyInfo PEM."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_private_key(pem: bytes) -> rsa.RSAPrivateKey:
    """Read an unencrypted RSA private key from PEM; ValueError if it is something else."""
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key


def load_public_key(pem: bytes) -> rsa.RSAPublicKey:
    """Read an RSA public key (SubjectPublicKeyInfo PEM) of at least 2048 bits."""
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError(
            "not an RSA public key (Maskinporten grants are signed with RS256/384/512)"
        )
    if key.key_size < MIN_RSA_BITS:
        raise ValueError(f"RSA key is {key.key_size} bits; at least {MIN_RSA_BITS} are required")
    return key


def write_secret(path: Path, data: bytes, *, overwrite: bool = False) -> None:
    """Write ``data`` to a new file that only the owner can read (mode 0600).

    The file is created with 0600 from the start (never world-readable for a moment), and an
    existing file is refused unless ``overwrite`` is set, so a typo cannot destroy a key.
    """
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    fd = os.open(path, flags, 0o600)
    os.fchmod(fd, 0o600)  # O_TRUNC keeps an old file's mode; make it 0600 in any case
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
