"""Test CA and virksomhetssertifikat: issue them, and validate an ``x5c`` chain against the CA.

A virksomhetssertifikat names its organisation in the subject: SEID 1 certificates carry the
9-digit orgnr as ``serialNumber`` (2.5.4.5), SEID 2 certificates carry ``organizationIdentifier``
(2.5.4.97) ``NTRNO-<orgnr>`` (fiks-platform.md §2.2). We issue both attributes, and read either.

Chain validation is done by hand rather than with ``cryptography.x509.verification``: that
verifier applies the Web PKI profile (SAN, EKU for TLS), which enterprise certificates do not
follow. Our rules: every certificate is within its validity period, each is signed by the
next, every issuer is a CA, and the last one is a trust anchor or is signed by one.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from kjoretoyregister.maskinporten.keys import MIN_RSA_BITS

_ORGNR = re.compile(r"\d{9}")
_NTRNO = re.compile(r"NTRNO-(\d{9})")
# Chains longer than this are not virksomhetssertifikat chains (leaf, intermediate, root).
MAX_CHAIN = 5


class X5cError(ValueError):
    """The ``x5c`` header is not a JSON array of base64 DER certificates."""


class CertificateError(ValueError):
    """The certificate chain is not acceptable: untrusted, expired, wrong use or key."""


def create_ca(
    key: rsa.RSAPrivateKey,
    *,
    name: str = "Kjoretoyregister Test CA",
    now: dt.datetime | None = None,
    days: int = 3650,
) -> x509.Certificate:
    """A self-signed root CA certificate for issuing test virksomhetssertifikat."""
    start = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(minutes=5)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "NO"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Kjoretoyregister test"),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )


def issue_virksomhetssertifikat(
    ca_key: rsa.RSAPrivateKey,
    ca_cert: x509.Certificate,
    subject_key: rsa.RSAPublicKey,
    orgnr: str,
    *,
    name: str | None = None,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> x509.Certificate:
    """Issue an authentication certificate for ``orgnr``, signed by the test CA.

    The subject carries both ``serialNumber=<orgnr>`` (SEID 1) and
    ``organizationIdentifier=NTRNO-<orgnr>`` (SEID 2). Validity defaults to one year from now.
    """
    if not _ORGNR.fullmatch(orgnr):
        raise ValueError("orgnr must be 9 digits")
    start = not_before or dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    end = not_after or start + dt.timedelta(days=365)
    org_name = name or f"TESTVIRKSOMHET {orgnr}"
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "NO"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org_name),
            x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, f"NTRNO-{orgnr}"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, orgnr),
            x509.NameAttribute(NameOID.COMMON_NAME, org_name),
        ]
    )
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(subject_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )


def cert_pem(cert: x509.Certificate) -> bytes:
    """The certificate as PEM."""
    return cert.public_bytes(serialization.Encoding.PEM)


def cert_der_b64(cert: x509.Certificate) -> str:
    """The certificate as one ``x5c`` element: standard base64 of the DER (RFC 7515 §4.1.6)."""
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode("ascii")


def load_pem_certificates(pem: bytes) -> list[x509.Certificate]:
    """All certificates in a PEM file (a chain file may hold several); ValueError if none."""
    certs = x509.load_pem_x509_certificates(pem)
    if not certs:
        raise ValueError("no certificate in PEM data")
    return certs


def parse_x5c(value: object) -> list[x509.Certificate]:
    """Decode an ``x5c`` header value: a non-empty JSON array of base64 DER strings.

    Raises:
        X5cError: a plain string (Digdir's MP-123 case), an empty or too long list, bad
            base64, or bytes that are not a DER certificate.
    """
    if not isinstance(value, list):
        raise X5cError("x5c must be a JSON array of base64 DER certificates, not a single value")
    if not value or len(value) > MAX_CHAIN:
        raise X5cError(f"x5c must hold 1 to {MAX_CHAIN} certificates")
    certs = []
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise X5cError(f"x5c[{index}] is not a string")
        try:
            der = base64.b64decode(item, validate=True)
            certs.append(x509.load_der_x509_certificate(der))
        except (binascii.Error, ValueError) as exc:
            raise X5cError(f"x5c[{index}] is not a base64 DER certificate") from exc
    return certs


def _within_validity(cert: x509.Certificate, now: dt.datetime, what: str) -> None:
    if now < cert.not_valid_before_utc:
        raise CertificateError(f"{what} is not yet valid")
    if now > cert.not_valid_after_utc:
        raise CertificateError(f"{what} has expired")


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def validate_chain(
    chain: list[x509.Certificate], anchors: list[x509.Certificate], now: dt.datetime
) -> None:
    """Check that ``chain`` (leaf first) leads to one of ``anchors`` and is valid at ``now``.

    Raises:
        CertificateError: the reason, in words a supplier can act on.
    """
    if not anchors:
        raise CertificateError("no trusted CA is configured (run `maskinporten ca create`)")
    leaf = chain[0]
    _within_validity(leaf, now, "the certificate")
    if _is_ca(leaf):
        raise CertificateError("the certificate is a CA certificate, not a virksomhetssertifikat")
    try:
        usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is not None and not usage.digital_signature:
        raise CertificateError("the certificate may not be used for digital signatures")
    key = leaf.public_key()
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < MIN_RSA_BITS:
        raise CertificateError(f"the certificate key must be RSA of at least {MIN_RSA_BITS} bits")

    anchor_ders = {a.public_bytes(serialization.Encoding.DER) for a in anchors}
    current = leaf
    for position, issuer in enumerate(chain[1:], start=1):
        if issuer.public_bytes(serialization.Encoding.DER) in anchor_ders:
            if _signed_by(current, issuer):
                _within_validity(issuer, now, "the CA certificate")
                return
            raise CertificateError(f"x5c[{position - 1}] is not signed by x5c[{position}]")
        if not _is_ca(issuer) or not _signed_by(current, issuer):
            raise CertificateError(f"x5c[{position - 1}] is not signed by x5c[{position}]")
        _within_validity(issuer, now, f"x5c[{position}]")
        current = issuer
    for anchor in anchors:
        if _signed_by(current, anchor):
            _within_validity(anchor, now, "the CA certificate")
            return
    raise CertificateError("the certificate chain does not lead to a trusted CA")


def orgnr_of(cert: x509.Certificate) -> str | None:
    """The organisation number in a virksomhetssertifikat subject, or None.

    ``organizationIdentifier`` ``NTRNO-<orgnr>`` (SEID 2) wins over ``serialNumber`` (SEID 1),
    because in SEID 2 certificates ``serialNumber`` may hold something else.
    """
    for attr in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER):
        match = _NTRNO.fullmatch(str(attr.value))
        if match:
            return match.group(1)
    for attr in cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER):
        if _ORGNR.fullmatch(str(attr.value)):
            return str(attr.value)
    return None
