"""Per-endpoint validation: what may go upstream, and the clear 400 for what may not."""

from __future__ import annotations

import orjson
import pytest

from kjoretoyregister.gateway.errors import InvalidInput
from kjoretoyregister.gateway.routes import ROUTES
from kjoretoyregister.gateway.validation import valid_dtg, validate


def _bulk(name: str, body: object, max_items: int = 10) -> object:
    return validate(
        ROUTES[name],
        body=orjson.dumps(body),
        path_identifier=None,
        query={},
        query_pairs=0,
        max_items=max_items,
    )


def _sok(name: str, query: dict[str, str], pairs: int | None = None) -> object:
    return validate(
        ROUTES[name],
        body=b"",
        path_identifier=None,
        query=query,
        query_pairs=len(query) if pairs is None else pairs,
        max_items=10,
    )


class TestDtg:
    @pytest.mark.parametrize(
        "value",
        [
            "2018-11-15T23:00:00.000+01:00",
            "2016-11-15T23:00:00+01:00",
            "2023-06-02T13:33:07Z",
            "2022-11-25T16:32:09.123456789+01:00",
        ],
    )
    def test_accepted(self, value: str) -> None:
        assert valid_dtg(value)

    @pytest.mark.parametrize(
        "value", ["2018-11-15", "2018-13-15T23:00:00+01:00", "yesterday", "2018-11-15T23:00:00"]
    )
    def test_refused(self, value: str) -> None:
        assert not valid_dtg(value)


class TestBulk:
    def test_valid_kjennemerke_list(self) -> None:
        v = _bulk(
            "bulk/kjennemerke",
            [
                {"kjennemerke": "cu 11297"},
                {"kjennemerke": "BR12345", "dtg": "2018-11-15T23:00:00.000+01:00"},
            ],
        )
        assert [i.identifier for i in v.items] == ["cu 11297", "BR12345"]  # type: ignore[attr-defined]

    @pytest.mark.parametrize(
        ("name", "body"),
        [
            # shape
            ("bulk/kjennemerke", {"kjennemerke": "CU11297"}),
            ("bulk/kjennemerke", []),
            ("bulk/kjennemerke", ["CU11297"]),
            ("bulk/kjennemerke", [{"kjennemerke": 11297}]),
            ("bulk/kjennemerke", [{"kjennemerke": "CU11297", "extra": 1}]),
            # formats
            ("bulk/kjennemerke", [{"kjennemerke": "CU/11297"}]),
            ("bulk/kjennemerke", [{"kjennemerke": "A" * 11}]),
            ("bulk/kjennemerke", [{"kjennemerke": "CU11297", "dtg": "i går"}]),
            ("bulk/kuid", [{"kuid": "33781197x9"}]),
            ("bulk/kuid", [{"kuid": "12345678901"}]),
            ("bulk/kuid", [{"kjennemerke": "CU11297"}]),
            # too many
            ("bulk/kuid", [{"kuid": "1"}] * 11),
        ],
    )
    def test_refused(self, name: str, body: object) -> None:
        with pytest.raises(InvalidInput):
            _bulk(name, body)

    def test_malformed_json(self) -> None:
        with pytest.raises(InvalidInput, match="JSON"):
            validate(
                ROUTES["bulk/kuid"],
                body=b"[{",
                path_identifier=None,
                query={},
                query_pairs=0,
                max_items=5,
            )

    @pytest.mark.parametrize("vin", ["../../admin", "A B", "A/B", "", "A" * 31, "%2e%2e"])
    def test_understellsnummer_path(self, vin: str) -> None:
        with pytest.raises(InvalidInput):
            validate(
                ROUTES["bulk/understellsnummer"],
                body=b"",
                path_identifier=vin,
                query={},
                query_pairs=0,
                max_items=5,
            )


class TestSok:
    @pytest.mark.parametrize(
        ("name", "query"),
        [
            ("sok/kjennemerke", {"kjennemerke": "AF3676?", "fra": "11", "antall": "10"}),
            ("sok/understellsnummer", {"understellsnummer": "*0000016", "merkekode": "4011"}),
            (
                "sok/fodselsnummer",
                {"fodselsnummer": "01017000000", "ekskluderVraketUtfort": "true"},
            ),
            ("sok/organisasjonsnummer", {"organisasjonsnummer": "986130861"}),
            ("sok/kundeid", {"kundeid": "124000639"}),
            ("sok/eiernavn", {"navn": "Hans Hansen", "postnummer": "0640", "erPerson": "false"}),
            (
                "sok/kunde",
                {"eiertype": "PERSON", "fornavn": "HANS", "kjonn": "M", "fodselsdato": "1970"},
            ),
        ],
    )
    def test_accepted(self, name: str, query: dict[str, str]) -> None:
        assert _sok(name, query).search  # type: ignore[attr-defined]

    @pytest.mark.parametrize(
        ("name", "query"),
        [
            ("sok/kjennemerke", {}),  # required missing
            ("sok/kjennemerke", {"kjennemerke": "A????"}),  # more than 3 unknown
            ("sok/kjennemerke", {"kjennemerke": "CU11297", "navn": "x"}),  # not allow-listed
            ("sok/understellsnummer", {"understellsnummer": "AB*CD"}),
            ("sok/fodselsnummer", {"fodselsnummer": "0101700000"}),
            ("sok/organisasjonsnummer", {"organisasjonsnummer": "98613086a"}),
            ("sok/eiernavn", {"navn": "x", "fra": "0"}),
            ("sok/eiernavn", {"navn": "x", "erPerson": "ja"}),
            ("sok/eiernavn", {"navn": "\x00"}),
            ("sok/kunde", {"eiertype": "ALLE"}),
            ("sok/kunde", {"eiertype": "BEGGE", "navn": "x", "fornavn": "y"}),
            ("sok/kunde", {"eiertype": "BEGGE", "kjonn": "M"}),
        ],
    )
    def test_refused(self, name: str, query: dict[str, str]) -> None:
        with pytest.raises(InvalidInput):
            _sok(name, query)

    def test_repeated_parameter_refused(self) -> None:
        with pytest.raises(InvalidInput, match="flere ganger"):
            _sok("sok/eiernavn", {"navn": "x"}, pairs=2)
