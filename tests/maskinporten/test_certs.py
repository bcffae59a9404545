"""Virksomhetssertifikat: orgnr in the subject (SEID 1 and 2) and chain validation rules."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from kjoretoyregister.maskinporten import certs

from .helpers import SUPPLIER

NOW = dt.datetime.now(dt.UTC)


def _leaf(
    subject: list[x509.NameAttribute],
    issuer_key: rsa.RSAPrivateKey,
    issuer: x509.Certificate,
    key: rsa.RSAPrivateKey,
    *,
    ca: bool = False,
) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name(subject))
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )


@pytest.fixture(scope="module")
def ca(rsa_keys: list[rsa.RSAPrivateKey]) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    return rsa_keys[0], certs.create_ca(rsa_keys[0])


class TestOrgnr:
    def test_both_attributes(
        self, ca: tuple[rsa.RSAPrivateKey, x509.Certificate], rsa_keys: list[rsa.RSAPrivateKey]
    ) -> None:
        cert = certs.issue_virksomhetssertifikat(ca[0], ca[1], rsa_keys[1].public_key(), SUPPLIER)
        assert certs.orgnr_of(cert) == SUPPLIER
        assert cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == SUPPLIER
        org_id = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)[0].value
        assert org_id == f"NTRNO-{SUPPLIER}"

    def test_seid1_serial_number_only(
        self, ca: tuple[rsa.RSAPrivateKey, x509.Certificate], rsa_keys: list[rsa.RSAPrivateKey]
    ) -> None:
        subject = [x509.NameAttribute(NameOID.SERIAL_NUMBER, SUPPLIER)]
        assert certs.orgnr_of(_leaf(subject, ca[0], ca[1], rsa_keys[1])) == SUPPLIER

    def test_seid2_organization_identifier_wins(
        self, ca: tuple[rsa.RSAPrivateKey, x509.Certificate], rsa_keys: list[rsa.RSAPrivateKey]
    ) -> None:
        """In SEID 2 certificates serialNumber may be something else; NTRNO- is the orgnr."""
        subject = [
            x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, f"NTRNO-{SUPPLIER}"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, "123456789"),
        ]
        assert certs.orgnr_of(_leaf(subject, ca[0], ca[1], rsa_keys[1])) == SUPPLIER

    @pytest.mark.parametrize(
        "subject",
        [
            [x509.NameAttribute(NameOID.COMMON_NAME, "no orgnr")],
            [x509.NameAttribute(NameOID.SERIAL_NUMBER, "UN:NO-1234")],
            [x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, "VATSE-556677889901")],
        ],
        ids=["cn-only", "personal-serial", "foreign-vat"],
    )
    def test_no_orgnr(
        self,
        subject: list[x509.NameAttribute],
        ca: tuple[rsa.RSAPrivateKey, x509.Certificate],
        rsa_keys: list[rsa.RSAPrivateKey],
    ) -> None:
        assert certs.orgnr_of(_leaf(subject, ca[0], ca[1], rsa_keys[1])) is None


class TestChain:
    def test_leaf_directly_under_the_anchor(
        self, ca: tuple[rsa.RSAPrivateKey, x509.Certificate], rsa_keys: list[rsa.RSAPrivateKey]
    ) -> None:
        leaf = certs.issue_virksomhetssertifikat(ca[0], ca[1], rsa_keys[1].public_key(), SUPPLIER)
        certs.validate_chain([leaf], [ca[1]], NOW)
        certs.validate_chain([leaf, ca[1]], [ca[1]], NOW)  # the root may be sent along

    def test_through_an_intermediate(
        self, ca: tuple[rsa.RSAPrivateKey, x509.Certificate], rsa_keys: list[rsa.RSAPrivateKey]
    ) -> None:
        inter_subject = [x509.NameAttribute(NameOID.COMMON_NAME, "Intermediate")]
        intermediate = _leaf(inter_subject, ca[0], ca[1], rsa_keys[2], ca=True)
        leaf = certs.issue_virksomhetssertifikat(
            rsa_keys[2], intermediate, rsa_keys[1].public_key(), SUPPLIER
        )
        certs.validate_chain([leaf, intermediate], [ca[1]], NOW)
        with pytest.raises(certs.CertificateError, match="trusted CA"):
            certs.validate_chain([leaf], [ca[1]], NOW)  # intermediate missing

    def test_intermediate_that_is_not_a_ca_is_refused(
        self, ca: tuple[rsa.RSAPrivateKey, x509.Certificate], rsa_keys: list[rsa.RSAPrivateKey]
    ) -> None:
        not_ca = _leaf([x509.NameAttribute(NameOID.COMMON_NAME, "x")], ca[0], ca[1], rsa_keys[2])
        leaf = certs.issue_virksomhetssertifikat(
            rsa_keys[2], not_ca, rsa_keys[1].public_key(), SUPPLIER
        )
        with pytest.raises(certs.CertificateError, match="not signed by"):
            certs.validate_chain([leaf, not_ca], [ca[1]], NOW)

    def test_not_yet_valid(
        self, ca: tuple[rsa.RSAPrivateKey, x509.Certificate], rsa_keys: list[rsa.RSAPrivateKey]
    ) -> None:
        leaf = certs.issue_virksomhetssertifikat(
            ca[0],
            ca[1],
            rsa_keys[1].public_key(),
            SUPPLIER,
            not_before=NOW + dt.timedelta(days=1),
            not_after=NOW + dt.timedelta(days=2),
        )
        with pytest.raises(certs.CertificateError, match="not yet valid"):
            certs.validate_chain([leaf], [ca[1]], NOW)

    def test_the_ca_itself_is_not_a_client_certificate(
        self, ca: tuple[rsa.RSAPrivateKey, x509.Certificate]
    ) -> None:
        with pytest.raises(certs.CertificateError, match="CA certificate"):
            certs.validate_chain([ca[1]], [ca[1]], NOW)

    def test_no_anchor_configured(
        self, ca: tuple[rsa.RSAPrivateKey, x509.Certificate], rsa_keys: list[rsa.RSAPrivateKey]
    ) -> None:
        leaf = certs.issue_virksomhetssertifikat(ca[0], ca[1], rsa_keys[1].public_key(), SUPPLIER)
        with pytest.raises(certs.CertificateError, match="no trusted CA"):
            certs.validate_chain([leaf], [], NOW)

    def test_x5c_chain_length_is_bounded(self) -> None:
        with pytest.raises(certs.X5cError):
            certs.parse_x5c(["AAAA"] * (certs.MAX_CHAIN + 1))
