"""Anchors: checkpoints of the chain head signed with an Ed25519 key that the database never sees.

The hash chain shows edits, but whoever can write the tables can also recompute every hash.
An anchor pins ``(seq, hash)`` of the head at a moment, signed; kept in an append-only JSON
Lines file shipped off the host, it lets :func:`check_anchors` prove the chain was neither
re-hashed nor cut short since. The private key lives in a file (mode 0600) or a secret
setting, never in the database, so write access to the database is not enough to forge one.

An anchor is ``{"v": 1, "seq", "hash", "entry_count", "time", "key_id", "sig"}``; ``sig`` is
the base64url Ed25519 signature of the other fields as JSON with sorted keys.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Connection, Engine, Table, select

from kjoretoyregister.audit import chain
from kjoretoyregister.audit.models import AuditChainHead, AuditEntry
from kjoretoyregister.audit.verify import read_transaction
from kjoretoyregister.config import AuditSettings
from kjoretoyregister.store.db import utcnow

VERSION = 1
_FIELDS = ("v", "seq", "hash", "entry_count", "time", "key_id")
_ENTRY = cast(Table, AuditEntry.__table__)
_HEAD = cast(Table, AuditChainHead.__table__)
_PEM = "-----BEGIN"

#: Problem kinds found by :func:`check_anchors`.
FORGED = "anchor_forged"
TRUNCATED = "anchor_truncated"
REWRITTEN = "anchor_rewritten"
REORDERED = "anchor_reordered"


class AnchorError(ValueError):
    """A key or anchor file that cannot be used; the message is one line, without secrets."""


# --- keys ----------------------------------------------------------------------------------


def key_id(public_key: Ed25519PublicKey) -> str:
    """First 16 hex characters of SHA-256 of the raw 32-byte public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_pem(public_key: Ed25519PublicKey) -> str:
    """The public key as SubjectPublicKeyInfo PEM."""
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def generate_key(path: Path) -> Ed25519PrivateKey:
    """Create a new private key at ``path`` (PKCS#8 PEM, mode 0600); never overwrite one."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        # O_EXCL: an existing key may have signed anchors that must stay verifiable.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise AnchorError(f"{path} already exists; refusing to overwrite a key") from None
    except OSError as exc:
        raise AnchorError(f"cannot create {path}: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
        fh.flush()
        os.fsync(fh.fileno())
    return key


def _pem_bytes(text: str) -> bytes:
    """PEM as given, or the base64 of a PEM (one line fits an environment variable)."""
    text = text.strip()
    if text.startswith(_PEM):
        return text.encode()
    try:
        decoded = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_")
    except (binascii.Error, ValueError):
        decoded = b""
    if not decoded.lstrip().startswith(_PEM.encode()):
        raise AnchorError("not a PEM key nor the base64 of one")
    return decoded


def load_private_key(source: Path | str) -> Ed25519PrivateKey:
    """A private key from a file (``Path``) or from a PEM / base64-of-PEM string."""
    where = str(source) if isinstance(source, Path) else "the anchor key setting"
    try:
        text = source.read_text() if isinstance(source, Path) else source
    except (OSError, UnicodeDecodeError) as exc:
        raise AnchorError(f"cannot read anchor key {where}: {_reason(exc)}") from None
    try:
        key = serialization.load_pem_private_key(_pem_bytes(text), password=None)
    except (AnchorError, ValueError, TypeError):
        # The library's message may quote key material: say only what and where.
        raise AnchorError(f"{where} is not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise AnchorError(f"{where} is not an Ed25519 key")
    return key


def load_public_key(value: str) -> Ed25519PublicKey:
    """A public key from a PEM string, a file holding one, or the base64 of a PEM."""
    text = value
    if not value.lstrip().startswith(_PEM) and Path(value).is_file():
        try:
            text = Path(value).read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise AnchorError(f"cannot read public key {value}: {_reason(exc)}") from None
    try:
        key = serialization.load_pem_public_key(_pem_bytes(text))
    except (AnchorError, ValueError, TypeError):
        shown = value if len(value) < 80 and "\n" not in value else "a given value"
        raise AnchorError(f"public key {shown!r} is not a PEM public key or its file") from None
    if not isinstance(key, Ed25519PublicKey):
        raise AnchorError("a given public key is not an Ed25519 key")
    return key


def key_from_settings(audit: AuditSettings) -> Ed25519PrivateKey | None:
    """The configured signing key (file or secret), or None when anchoring is not set up."""
    if audit.anchor_key_file is not None:
        return load_private_key(audit.anchor_key_file)
    if audit.anchor_key is not None:
        return load_private_key(audit.anchor_key.get_secret_value())
    return None


def accepted_keys(
    keys: Iterable[Ed25519PublicKey],
) -> dict[str, Ed25519PublicKey]:
    """Public keys by key id, as :func:`check_anchors` takes them."""
    return {key_id(k): k for k in keys}


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or type(exc).__name__


# --- anchors -------------------------------------------------------------------------------


def _signed_bytes(anchor: Mapping[str, Any]) -> bytes:
    return orjson.dumps(
        {k: v for k, v in anchor.items() if k != "sig"}, option=orjson.OPT_SORT_KEYS
    )


def sign(fields: Mapping[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """``fields`` with ``key_id`` set and ``sig`` added."""
    anchor = {**fields, "key_id": key_id(key.public_key())}
    anchor.pop("sig", None)
    sig = key.sign(_signed_bytes(anchor))
    return {**anchor, "sig": base64.urlsafe_b64encode(sig).rstrip(b"=").decode()}


def make_anchor(engine: Engine, key: Ed25519PrivateKey) -> dict[str, Any]:
    """Sign the current chain head.

    Reads the head row in a read snapshot rather than under the chain lock (as checkpoints
    do): the row is only ever updated in the commit that adds its entries, so any committed
    value is a consistent head, and writers are never held up by anchoring.
    """
    with read_transaction(engine) as conn, conn.begin():
        head = conn.execute(
            select(_HEAD.c.seq, _HEAD.c.hash, _HEAD.c.base_seq).where(_HEAD.c.id == 1)
        ).one_or_none()
    if head is None:
        raise AnchorError("the audit chain head row is missing: run the migrations")
    fields = {
        "v": VERSION,
        "seq": int(head.seq),
        "hash": str(head.hash),
        "entry_count": int(head.seq) - int(head.base_seq),
        "time": chain.format_time(utcnow()),
    }
    return sign(fields, key)


def append_anchor(path: Path, anchor: Mapping[str, Any]) -> None:
    """Append ``anchor`` as one JSON line and fsync it: an anchor that is not on disk is none."""
    line = orjson.dumps(dict(anchor)) + b"\n"
    new = not path.exists()
    # One write() on an O_APPEND descriptor: a line is never interleaved with another writer's.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    if new:
        _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    # So the new file's name survives a crash too (POSIX; no-op where directories cannot open).
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_anchors(path: Path) -> list[dict[str, Any]]:
    """Every anchor in a JSON Lines file, in file order (blank lines skipped)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AnchorError(f"cannot read anchor file {path}: {_reason(exc)}") from None
    out: list[dict[str, Any]] = []
    for n, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise AnchorError(f"{path}:{n}: not a JSON line") from None
        if not isinstance(value, dict):
            raise AnchorError(f"{path}:{n}: not a JSON object")
        out.append(value)
    return out


# --- checking ------------------------------------------------------------------------------


@dataclass(slots=True)
class AnchorCheck:
    """What :func:`check_anchors` found: problems (tampering) and notes (fine, but unchecked)."""

    checked: int = 0
    problems: list[chain.Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _well_formed(anchor: Mapping[str, Any]) -> bool:
    try:
        datetime.fromisoformat(str(anchor["time"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return False
    ints = all(type(anchor.get(k)) is int for k in ("v", "seq", "entry_count"))
    strs = all(isinstance(anchor.get(k), str) for k in ("hash", "key_id", "sig", "time"))
    return ints and strs and anchor["v"] == VERSION


def _signature_ok(anchor: Mapping[str, Any], key: Ed25519PublicKey) -> bool:
    sig = str(anchor["sig"])
    try:
        key.verify(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)), _signed_bytes(anchor))
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def check_anchors(
    engine: Engine,
    anchors: Sequence[Mapping[str, Any]],
    public_keys: Mapping[str, Ed25519PublicKey],
    *,
    source: str = "anchors",
) -> AnchorCheck:
    """Compare signed anchors (in file order) with the stored chain.

    Args:
        engine: the audit database.
        anchors: as read by :func:`read_anchors`.
        public_keys: accepted keys by key id (:func:`accepted_keys`); older keys stay here
            after a rotation so the anchors they signed still verify.
        source: the file's name, for messages.
    """
    result = AnchorCheck()
    with read_transaction(engine) as conn, conn.begin():
        head = conn.execute(select(_HEAD).where(_HEAD.c.id == 1)).one_or_none()
        if head is None:
            result.problems.append(chain.Problem(None, "head", "the chain head row is missing"))
            return result
        head_seq, base_seq, base_hash = int(head.seq), int(head.base_seq), str(head.base_hash)
        last: tuple[int, str] | None = None
        for n, anchor in enumerate(anchors, 1):
            where = f"{source} #{n}"
            result.checked += 1
            if not _well_formed(anchor):
                result.problems.append(chain.Problem(None, FORGED, f"{where}: malformed anchor"))
                continue
            seq, digest = int(anchor["seq"]), str(anchor["hash"])
            key = public_keys.get(str(anchor["key_id"]))
            if key is None:
                msg = f"{where}: signed by key {anchor['key_id']}, which is not an accepted key"
                result.problems.append(chain.Problem(seq, FORGED, msg))
                continue
            if not _signature_ok(anchor, key):
                msg = f"{where}: signature does not match its content (anchor edited)"
                result.problems.append(chain.Problem(seq, FORGED, msg))
                continue
            # Only genuine anchors count for the order: a forged line is reported once.
            when = str(anchor["time"])
            if last is not None and (seq < last[0] or when < last[1]):
                msg = (
                    f"{where}: seq {seq} at {when} comes after seq {last[0]} at {last[1]} "
                    "(anchor file reordered or edited)"
                )
                result.problems.append(chain.Problem(seq, REORDERED, msg))
            last = (seq, when)
            if seq > head_seq:
                msg = (
                    f"{where}: anchored seq {seq} but the chain ends at {head_seq} "
                    "(records at the end were deleted)"
                )
                result.problems.append(chain.Problem(seq, TRUNCATED, msg))
            elif seq < base_seq:
                result.notes.append(
                    f"{where}: seq {seq} was purged by retention (chain now starts after "
                    f"{base_seq}); it cannot be compared, which is expected"
                )
            else:
                stored = base_hash if seq == base_seq else _hash_at(conn, seq)
                if stored != digest:
                    state = "is missing" if stored is None else "differs from the anchor"
                    msg = f"{where}: stored hash at seq {seq} {state} (chain re-hashed or changed)"
                    result.problems.append(chain.Problem(seq, REWRITTEN, msg))
    return result


def _hash_at(conn: Connection, seq: int) -> str | None:
    value = conn.execute(select(_ENTRY.c.hash).where(_ENTRY.c.seq == seq)).scalar_one_or_none()
    return None if value is None else str(value)
