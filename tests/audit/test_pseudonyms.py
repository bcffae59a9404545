"""Pseudonyms are keyed and normalised; sealed identifiers open only with the same secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import stat
from pathlib import Path

import pytest

from kjoretoyregister.audit.pseudonyms import Pseudonymizer, SealError, load_secret

from .conftest import FNR, ORGNR, PLATE


def test_pseudonym_is_keyed_and_normalised(pz: Pseudonymizer) -> None:
    """Same subject, same pseudonym however it was typed; another key gives another one."""
    assert pz.pseudonym("kjennemerke", "cu 11297") == pz.pseudonym("kjennemerke", PLATE)
    assert pz.pseudonym("kjennemerke", "CU-11297") == pz.pseudonym("kjennemerke", PLATE)
    assert pz.pseudonym("fodselsnummer", FNR) != pz.pseudonym("kjennemerke", FNR)
    other = Pseudonymizer(b"another-secret-of-enough-length")
    assert other.pseudonym("fodselsnummer", FNR) != pz.pseudonym("fodselsnummer", FNR)
    assert FNR not in pz.pseudonym("fodselsnummer", FNR)


@pytest.mark.parametrize(
    ("kind", "typed", "canonical"),
    [
        ("kjennemerke", "cu-11297", "kjennemerke:CU11297"),
        ("orgnr", "986 130 861", "organisasjonsnummer:986130861"),
        ("fodselsnummer", FNR, f"fodselsnummer:{FNR}"),
        ("understellsnummer", "sisdinky\t45727043", "understellsnummer:SISDINKY45727043"),
    ],
)
def test_pseudonym_is_hmac_sha256_of_kind_and_value(kind: str, typed: str, canonical: str) -> None:
    """The stored pseudonyms' definition: a faster computation must give the very same hex."""
    secret = b"test-audit-secret-0123456789abcdef"
    key = hmac.new(secret, b"kjr-audit-pseudonym-v1", hashlib.sha256).digest()
    expected = hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()
    assert Pseudonymizer(secret).pseudonym(kind, typed) == expected


def test_returned_identities_are_told_apart_by_length(pz: Pseudonymizer) -> None:
    """An 11-digit identity is a person, a 9-digit one an organisation (innsyn finds both)."""
    assert pz.identity(FNR) == pz.pseudonym("fodselsnummer", FNR)
    assert pz.identity(ORGNR) == pz.pseudonym("orgnr", ORGNR)


def test_search_query_strings_name_their_subjects(pz: Pseudonymizer) -> None:
    """A search item carries a query string; each subject key in it becomes a pseudonym."""
    subjects = pz.subjects_of("sok/fodselsnummer", f"fodselsnummer={FNR}&fra=1")
    assert subjects == {pz.pseudonym("fodselsnummer", FNR)}
    assert pz.subjects_of("sok/eiernavn", "navn=Ola+Nordmann") == set()
    assert pz.subjects_of("kjennemerke", PLATE) == {pz.pseudonym("kjennemerke", PLATE)}
    assert pz.subjects_of("sok/organisasjonsnummer", ORGNR) == {pz.identity(ORGNR)}


def test_seal_round_trip_and_wrong_key(pz: Pseudonymizer) -> None:
    """The stored form hides the identifier; only the same secret opens it."""
    sealed = pz.seal(FNR)
    assert FNR not in sealed
    assert pz.open(sealed) == FNR
    assert pz.seal(FNR) != sealed  # random nonce: equal inputs do not show as equal rows
    with pytest.raises(SealError):
        Pseudonymizer(b"another-secret-of-enough-length").open(sealed)


def test_seal_many_seals_each_with_a_nonce_of_its_own(pz: Pseudonymizer) -> None:
    """The batch form opens to the same values, and equal values never seal alike."""
    values = [FNR, FNR, PLATE, ORGNR, ""]
    sealed = pz.seal_many(values)
    assert [pz.open(s) for s in sealed] == values
    assert len({base64.b64decode(s)[:12] for s in sealed}) == len(values)
    assert sealed[0] != sealed[1] and FNR not in "".join(sealed)
    assert pz.seal_many([]) == []


def test_key_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    """Without a configured secret one is generated, kept private, and reused."""
    first = load_secret(None, tmp_path / "data")
    mode = stat.S_IMODE((tmp_path / "data" / "audit.key").stat().st_mode)
    assert mode == 0o600
    assert load_secret(None, tmp_path / "data") == first
    assert load_secret("configured-secret-value", tmp_path) == b"configured-secret-value"


def test_short_secret_is_refused() -> None:
    """A short key would make pseudonyms of fnr brute-forceable; refuse it at start."""
    with pytest.raises(ValueError, match="16 bytes"):
        Pseudonymizer(b"short")
