"""Persistent state of the stand-in: signing keys, clients, delegations and the test CA.

Layout of the state directory (mode 0700)::

    signing/keys.json        [{kid, created_at, retired_at, publish_until}], newest last
    signing/<kid>.pem        the signing keys (PKCS#8, mode 0600)
    clients.json             {"clients": {client_id: {orgnr, scopes, keys: [...]}}}
    delegations.json         {"delegations": [{client_id, consumer_orgnr, scopes, source}]}
    ca/ca-key.pem, ca/ca-cert.pem    the test CA that x5c chains must lead to
    .lock                    flock(2) target that serialises writers

The admin commands and a running ``serve`` share the directory: writers take the lock, re-read
the files, change them and replace them atomically; the server calls
:meth:`MaskinportenState.reload_if_changed` per request (a few ``stat`` calls) so a client
registered or a key rotated from the CLI is seen without a restart.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from stdnum.no import orgnr as stdnum_orgnr

from kjoretoyregister.logs import get_logger
from kjoretoyregister.maskinporten import certs, keys

_log = get_logger(__name__)

# What Maskinporten's test environment puts in delegation_source for Altinn delegations.
DEFAULT_DELEGATION_SOURCE = "https://tt02.altinn.no/"
# Digdir: asymmetric client keys live one year (MP-121 after that).
CLIENT_KEY_LIFETIME_S = 365 * 86_400

_CLIENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}")
_SCOPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}")
_KID = re.compile(r"[A-Za-z0-9._-]{1,200}")


def check_orgnr(orgnr: str) -> str:
    """Return ``orgnr`` if it is 9 digits with a valid mod-11 check digit; else ValueError."""
    if not (len(orgnr) == 9 and orgnr.isdigit() and stdnum_orgnr.is_valid(orgnr)):
        raise ValueError(f"not a valid organisation number: {orgnr!r}")
    return orgnr


def check_scopes(scopes: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Validate scope names (``prefix:name``-like, no spaces); return them de-duplicated."""
    if not scopes:
        raise ValueError("at least one scope is required")
    for scope in scopes:
        if not _SCOPE.fullmatch(scope):
            raise ValueError(f"not a valid scope name: {scope!r}")
    return tuple(dict.fromkeys(scopes))


@dataclass(frozen=True, slots=True)
class RegisteredKey:
    """A public key (or certificate) registered on a client, used with ``kid`` in the grant."""

    kid: str
    public_key_pem: str
    certificate_pem: str | None
    created_at: int
    expires_at: int
    public_key: rsa.RSAPublicKey = field(compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "kid": self.kid,
            "public_key_pem": self.public_key_pem,
            "certificate_pem": self.certificate_pem,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RegisteredKey:
        return cls(
            kid=data["kid"],
            public_key_pem=data["public_key_pem"],
            certificate_pem=data.get("certificate_pem"),
            created_at=int(data["created_at"]),
            expires_at=int(data["expires_at"]),
            public_key=keys.load_public_key(data["public_key_pem"].encode()),
        )


@dataclass(frozen=True, slots=True)
class Client:
    """A Maskinporten client (integration): owner orgnr, registered scopes and keys."""

    client_id: str
    orgnr: str
    scopes: tuple[str, ...]
    keys: tuple[RegisteredKey, ...]
    created_at: int

    def key(self, kid: str) -> RegisteredKey | None:
        """The registered key with this ``kid``, or None."""
        return next((k for k in self.keys if k.kid == kid), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "orgnr": self.orgnr,
            "scopes": list(self.scopes),
            "keys": [k.to_json() for k in self.keys],
            "created_at": self.created_at,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Client:
        return cls(
            client_id=data["client_id"],
            orgnr=data["orgnr"],
            scopes=tuple(data["scopes"]),
            keys=tuple(RegisteredKey.from_json(k) for k in data.get("keys", [])),
            created_at=int(data["created_at"]),
        )


@dataclass(frozen=True, slots=True)
class Delegation:
    """An Altinn-style delegation: ``consumer_orgnr`` lets the client's owner use ``scopes``."""

    client_id: str
    consumer_orgnr: str
    scopes: tuple[str, ...]
    source: str
    created_at: int

    def to_json(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "consumer_orgnr": self.consumer_orgnr,
            "scopes": list(self.scopes),
            "source": self.source,
            "created_at": self.created_at,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Delegation:
        return cls(
            client_id=data["client_id"],
            consumer_orgnr=data["consumer_orgnr"],
            scopes=tuple(data["scopes"]),
            source=data["source"],
            created_at=int(data["created_at"]),
        )


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One of the stand-in's own token-signing keys."""

    kid: str
    private_key: rsa.RSAPrivateKey = field(repr=False)
    created_at: int
    retired_at: int | None = None  # set when a newer key took over
    publish_until: int | None = None  # a retired key stays in /jwk until then

    def published_at(self, now: float) -> bool:
        """Whether /jwk lists this key at ``now``."""
        return self.publish_until is None or now <= self.publish_until


Fingerprint = tuple[int, int, int] | None


def _fingerprint(path: Path) -> Fingerprint:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    # Writers replace files (new inode), so inode + mtime + size catches every change even on
    # file systems with coarse timestamps.
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    os.replace(tmp, path)


class MaskinportenState:
    """The stand-in's persistent state in one directory. Open it with :meth:`open`."""

    def __init__(self, state_dir: Path, *, key_overlap_s: int, signing_key_bits: int) -> None:
        self.state_dir = state_dir
        self.key_overlap_s = key_overlap_s
        self._signing_key_bits = signing_key_bits
        self._clients: dict[str, Client] = {}
        self._delegations: list[Delegation] = []
        self._signing: list[SigningKey] = []
        self._ca: tuple[rsa.RSAPrivateKey, x509.Certificate] | None = None
        self._fingerprints: dict[str, Fingerprint] = {}

    # -- paths -----------------------------------------------------------------------------
    @property
    def _clients_path(self) -> Path:
        return self.state_dir / "clients.json"

    @property
    def _delegations_path(self) -> Path:
        return self.state_dir / "delegations.json"

    @property
    def _signing_dir(self) -> Path:
        return self.state_dir / "signing"

    @property
    def _signing_index(self) -> Path:
        return self._signing_dir / "keys.json"

    @property
    def ca_cert_path(self) -> Path:
        """Where the test CA certificate (PEM) lives; hand it to whoever validates chains."""
        return self.state_dir / "ca" / "ca-cert.pem"

    @property
    def _ca_key_path(self) -> Path:
        return self.state_dir / "ca" / "ca-key.pem"

    def _watched(self) -> dict[str, Path]:
        return {
            "clients": self._clients_path,
            "delegations": self._delegations_path,
            "signing": self._signing_index,
            "ca": self.ca_cert_path,
        }

    # -- opening and reloading -------------------------------------------------------------
    @classmethod
    def open(
        cls, state_dir: Path, *, key_overlap_s: int = 86_400, signing_key_bits: int = 2048
    ) -> MaskinportenState:
        """Open (or create) the state in ``state_dir``; creates a signing key if there is none.

        Args:
            state_dir: the directory; created with mode 0700 if missing.
            key_overlap_s: how long a rotated-out signing key stays in /jwk by default.
            signing_key_bits: size of newly generated signing keys.
        """
        if key_overlap_s < 0:
            raise ValueError("key_overlap_s must be ≥ 0")
        state_dir = Path(state_dir)
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        state = cls(state_dir, key_overlap_s=key_overlap_s, signing_key_bits=signing_key_bits)
        with state._locked():
            state._load_all()
            if not state._signing:
                state._add_signing_key(now=int(time.time()))
        return state

    @contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(self.state_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _load_all(self) -> None:
        for name in self._watched():
            self._load(name)

    def _load(self, name: str) -> None:
        path = self._watched()[name]
        self._fingerprints[name] = _fingerprint(path)
        if name == "clients":
            raw = orjson.loads(path.read_bytes()) if path.exists() else {"clients": {}}
            self._clients = {cid: Client.from_json(c) for cid, c in raw["clients"].items()}
        elif name == "delegations":
            raw = orjson.loads(path.read_bytes()) if path.exists() else {"delegations": []}
            self._delegations = [Delegation.from_json(d) for d in raw["delegations"]]
        elif name == "signing":
            entries = orjson.loads(path.read_bytes()) if path.exists() else []
            self._signing = [
                SigningKey(
                    kid=e["kid"],
                    private_key=keys.load_private_key(
                        (self._signing_dir / f"{e['kid']}.pem").read_bytes()
                    ),
                    created_at=int(e["created_at"]),
                    retired_at=e.get("retired_at"),
                    publish_until=e.get("publish_until"),
                )
                for e in entries
            ]
        elif name == "ca":
            if path.exists():
                cert = certs.load_pem_certificates(path.read_bytes())[0]
                self._ca = (keys.load_private_key(self._ca_key_path.read_bytes()), cert)
            else:
                self._ca = None

    def reload_if_changed(self) -> None:
        """Re-read any state file another process has changed since we last read it.

        A file that cannot be read (hand-edited into invalid JSON, a key file missing) leaves
        the last good copy in force and is tried again on the next call, so a running server
        keeps serving while the operator repairs it.
        """
        for name, path in self._watched().items():
            if _fingerprint(path) == self._fingerprints.get(name):
                continue
            before = self._fingerprints.get(name)
            try:
                self._load(name)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                self._fingerprints[name] = before
                _log.warning(
                    "state file unreadable; keeping the last good copy", file=name, error=str(exc)
                )

    # -- reading ---------------------------------------------------------------------------
    @property
    def clients(self) -> dict[str, Client]:
        """All registered clients by client_id (a copy)."""
        return dict(self._clients)

    def client(self, client_id: str) -> Client | None:
        """The client with this id, or None."""
        return self._clients.get(client_id)

    @property
    def delegations(self) -> list[Delegation]:
        """All delegation records (a copy)."""
        return list(self._delegations)

    def delegation(self, client_id: str, consumer_orgnr: str) -> Delegation | None:
        """The delegation from ``consumer_orgnr`` to the owner of ``client_id``, or None."""
        return next(
            (
                d
                for d in self._delegations
                if d.client_id == client_id and d.consumer_orgnr == consumer_orgnr
            ),
            None,
        )

    @property
    def signing_key(self) -> SigningKey:
        """The key new access tokens are signed with (the newest one)."""
        return self._signing[-1]

    def published_keys(self, now: float | None = None) -> list[SigningKey]:
        """The signing keys /jwk lists at ``now``: the active one and rotated ones in overlap."""
        at = time.time() if now is None else now
        return [k for k in self._signing if k is self._signing[-1] or k.published_at(at)]

    @property
    def trust_anchors(self) -> list[x509.Certificate]:
        """CA certificates that ``x5c`` chains must lead to (the test CA, if created)."""
        return [self._ca[1]] if self._ca else []

    @property
    def ca(self) -> tuple[rsa.RSAPrivateKey, x509.Certificate] | None:
        """The test CA's key and certificate, or None before ``ca create``."""
        return self._ca

    # -- writing ---------------------------------------------------------------------------
    def register_client(
        self,
        client_id: str,
        orgnr: str,
        scopes: list[str],
        *,
        public_key_pem: bytes | None = None,
        kid: str | None = None,
        certificate_pem: bytes | None = None,
        key_expires_at: int | None = None,
    ) -> str | None:
        """Create or update a client; optionally register a public key or certificate on it.

        Registering an existing client replaces its scopes and adds the key (a client may hold
        several keys, e.g. during a key change). The owner orgnr cannot change.

        Args:
            client_id: the client's id (the grant's ``iss``).
            orgnr: the owner organisation (the token's ``consumer`` unless delegated).
            scopes: scopes the client may ask for.
            public_key_pem: an RSA public key (≥ 2048 bits) for ``kid`` grants.
            kid: its key id; default the RFC 7638 thumbprint.
            certificate_pem: a certificate whose key is registered instead (for ``kid`` grants);
                it expires with the certificate, and its orgnr (if any) must be ``orgnr``.
            key_expires_at: epoch seconds; default one year from now (Digdir's key lifetime).

        Returns:
            The registered key's kid, or None when no key was given.

        Raises:
            ValueError: bad id/orgnr/scope/key, both a key and a certificate, kid clash.
        """
        if not _CLIENT_ID.fullmatch(client_id):
            raise ValueError(f"not a valid client_id: {client_id!r}")
        check_orgnr(orgnr)
        scope_tuple = check_scopes(scopes)
        if public_key_pem is not None and certificate_pem is not None:
            raise ValueError("give a public key or a certificate, not both")
        now = int(time.time())
        new_key: RegisteredKey | None = None
        if certificate_pem is not None:
            cert = certs.load_pem_certificates(certificate_pem)[0]
            cert_org = certs.orgnr_of(cert)
            if cert_org is not None and cert_org != orgnr:
                raise ValueError("the certificate belongs to another organisation")
            pub_pem = keys.public_pem(cert.public_key())  # type: ignore[arg-type]
            new_key = self._make_key(
                pub_pem,
                kid,
                now,
                int(cert.not_valid_after_utc.timestamp()),
                certs.cert_pem(cert).decode(),
            )
        elif public_key_pem is not None:
            expires = key_expires_at if key_expires_at is not None else now + CLIENT_KEY_LIFETIME_S
            new_key = self._make_key(public_key_pem, kid, now, expires, None)

        with self._locked():
            self._load("clients")
            existing = self._clients.get(client_id)
            if existing is not None and existing.orgnr != orgnr:
                raise ValueError(f"client {client_id} belongs to another organisation")
            client_keys = list(existing.keys) if existing else []
            if new_key is not None:
                same = next((k for k in client_keys if k.kid == new_key.kid), None)
                if same is not None and same.public_key_pem != new_key.public_key_pem:
                    raise ValueError(f"kid {new_key.kid} is already used by another key")
                if same is None:
                    client_keys.append(new_key)
            self._clients[client_id] = Client(
                client_id=client_id,
                orgnr=orgnr,
                scopes=scope_tuple,
                keys=tuple(client_keys),
                created_at=existing.created_at if existing else now,
            )
            self._save_clients()
        return new_key.kid if new_key else None

    @staticmethod
    def _make_key(
        pem: bytes, kid: str | None, now: int, expires_at: int, cert_pem: str | None
    ) -> RegisteredKey:
        try:
            public_key = keys.load_public_key(pem)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"unusable public key: {exc}") from exc
        key_id = kid or keys.thumbprint(public_key)
        if not _KID.fullmatch(key_id):
            raise ValueError(f"not a valid kid: {key_id!r}")
        return RegisteredKey(
            kid=key_id,
            public_key_pem=keys.public_pem(public_key).decode(),
            certificate_pem=cert_pem,
            created_at=now,
            expires_at=expires_at,
            public_key=public_key,
        )

    def _save_clients(self) -> None:
        data = {"clients": {cid: c.to_json() for cid, c in sorted(self._clients.items())}}
        _write_json_atomic(self._clients_path, data)
        self._fingerprints["clients"] = _fingerprint(self._clients_path)

    def add_delegation(
        self,
        client_id: str,
        consumer_orgnr: str,
        scopes: list[str],
        *,
        source: str = DEFAULT_DELEGATION_SOURCE,
    ) -> Delegation:
        """Record that ``consumer_orgnr`` delegates ``scopes`` to the owner of ``client_id``.

        Replaces an earlier delegation between the same pair.

        Raises:
            ValueError: unknown client, bad orgnr/scopes, or the client's own org.
        """
        check_orgnr(consumer_orgnr)
        scope_tuple = check_scopes(scopes)
        with self._locked():
            self._load("clients")
            self._load("delegations")
            client = self._clients.get(client_id)
            if client is None:
                raise ValueError(f"no client {client_id!r}")
            if client.orgnr == consumer_orgnr:
                raise ValueError("an organisation cannot delegate to itself")
            record = Delegation(client_id, consumer_orgnr, scope_tuple, source, int(time.time()))
            self._delegations = [
                d
                for d in self._delegations
                if not (d.client_id == client_id and d.consumer_orgnr == consumer_orgnr)
            ] + [record]
            self._save_delegations()
        return record

    def remove_delegation(self, client_id: str, consumer_orgnr: str) -> bool:
        """Delete the delegation between this pair; True if there was one."""
        with self._locked():
            self._load("delegations")
            before = len(self._delegations)
            self._delegations = [
                d
                for d in self._delegations
                if not (d.client_id == client_id and d.consumer_orgnr == consumer_orgnr)
            ]
            self._save_delegations()
            return len(self._delegations) != before

    def _save_delegations(self) -> None:
        _write_json_atomic(
            self._delegations_path, {"delegations": [d.to_json() for d in self._delegations]}
        )
        self._fingerprints["delegations"] = _fingerprint(self._delegations_path)

    def rotate_signing_key(self, *, overlap_s: int | None = None, now: int | None = None) -> str:
        """Make a new signing key the active one; the old one stays in /jwk for the overlap.

        Args:
            overlap_s: how long the old key stays published; default ``key_overlap_s``.
            now: epoch seconds (tests); default the clock.

        Returns:
            The new key's kid.
        """
        overlap = self.key_overlap_s if overlap_s is None else overlap_s
        if overlap < 0:
            raise ValueError("overlap_s must be ≥ 0")
        at = int(time.time()) if now is None else now
        with self._locked():
            self._load("signing")
            old = self._signing[-1] if self._signing else None
            if old is not None:
                self._signing[-1] = SigningKey(
                    old.kid, old.private_key, old.created_at, at, at + overlap
                )
            return self._add_signing_key(now=at)

    def _add_signing_key(self, *, now: int) -> str:
        """Generate and store a new active key; drop keys whose overlap has ended."""
        self._signing_dir.mkdir(mode=0o700, exist_ok=True)
        private_key = keys.new_rsa_key(self._signing_key_bits)
        kid = keys.thumbprint(private_key.public_key())
        keys.write_secret(self._signing_dir / f"{kid}.pem", keys.private_pem(private_key))
        kept = [k for k in self._signing if k.published_at(now)]
        gone = [k for k in self._signing if k not in kept]
        self._signing = [*kept, SigningKey(kid, private_key, now)]
        entries = [
            {
                "kid": k.kid,
                "created_at": k.created_at,
                "retired_at": k.retired_at,
                "publish_until": k.publish_until,
            }
            for k in self._signing
        ]
        _write_json_atomic(self._signing_index, entries)
        self._fingerprints["signing"] = _fingerprint(self._signing_index)
        # Only now that the index no longer names them: a reader never meets a missing file.
        for key in gone:
            (self._signing_dir / f"{key.kid}.pem").unlink(missing_ok=True)
        return kid

    def create_ca(
        self, *, name: str = "Kjoretoyregister Test CA", overwrite: bool = False
    ) -> x509.Certificate:
        """Create the test CA (key 0600 + self-signed certificate) that x5c chains lead to.

        Raises:
            FileExistsError: a CA exists and ``overwrite`` is False (replacing it invalidates
                every certificate issued so far).
        """
        with self._locked():
            if self.ca_cert_path.exists() and not overwrite:
                raise FileExistsError(f"a test CA exists already: {self.ca_cert_path}")
            self.ca_cert_path.parent.mkdir(mode=0o700, exist_ok=True)
            key = keys.new_rsa_key(self._signing_key_bits)
            cert = certs.create_ca(key, name=name)
            keys.write_secret(self._ca_key_path, keys.private_pem(key), overwrite=True)
            tmp = self.ca_cert_path.with_name(".ca-cert.pem.tmp")
            tmp.write_bytes(certs.cert_pem(cert))
            os.replace(tmp, self.ca_cert_path)
            self._ca = (key, cert)
            self._fingerprints["ca"] = _fingerprint(self.ca_cert_path)
        return cert

    def issue_certificate(
        self,
        orgnr: str,
        subject_key: rsa.RSAPublicKey,
        *,
        name: str | None = None,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
    ) -> x509.Certificate:
        """Issue a virksomhetssertifikat for ``orgnr`` signed by the test CA.

        Raises:
            LookupError: there is no test CA yet.
        """
        check_orgnr(orgnr)
        self.reload_if_changed()
        if self._ca is None:
            raise LookupError("no test CA: run `kjoretoyregister maskinporten ca create` first")
        ca_key, ca_cert = self._ca
        return certs.issue_virksomhetssertifikat(
            ca_key,
            ca_cert,
            subject_key,
            orgnr,
            name=name,
            not_before=not_before,
            not_after=not_after,
        )
