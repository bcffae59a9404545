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


class TestMessagesSayWhatIsValid:
    """A refusal names the item as a case officer counts it and says what would be accepted."""

    def test_bad_plate_is_numbered_from_1_with_its_value(self) -> None:
        with pytest.raises(InvalidInput) as info:
            _bulk("bulk/kjennemerke", [{"kjennemerke": "CU11297"}, {"kjennemerke": "CU-1!"}])
        message = info.value.message
        assert message.startswith("kjennemerke nr. 2 (CU-1!): ugyldig kjennemerke; gyldig er ")
        assert "CU11297" in message and "element" not in message

    def test_echoed_value_is_cut_and_escaped(self) -> None:
        with pytest.raises(InvalidInput) as info:
            _bulk("bulk/kuid", [{"kuid": "\x01" + "9" * 100}])
        message = info.value.message
        assert "\x01" not in message and "\\x01" in message and "9" * 40 not in message

    def test_bad_dtg_shows_the_accepted_form(self) -> None:
        with pytest.raises(InvalidInput) as info:
            _bulk("bulk/kjennemerke", [{"kjennemerke": "CU11297", "dtg": "2020-01-01"}])
        assert "kjennemerke nr. 1: ugyldig dtg" in info.value.message
        assert "2018-11-15T23:00:00+01:00" in info.value.message

    @pytest.mark.parametrize(
        ("name", "query", "expected"),
        [
            ("sok/kjennemerke", {"kjennemerke": "CU1*"}, "* brukes bare i sok/understellsnummer"),
            ("sok/kjennemerke", {"kjennemerke": "C????"}, "høyst tre ?"),
            ("sok/understellsnummer", {"understellsnummer": "*AB*C"}, "* først og/eller sist"),
            ("sok/kunde", {"eiertype": "ALLE"}, "en av BEGGE, ORGANISASJON, PERSON"),
            ("sok/kunde", {"eiertype": "PERSON", "fodselsdato": "1.1.80"}, "eller et årstall"),
            ("sok/eiernavn", {"navn": "X", "antall": "0"}, "et heltall fra 1"),
            ("sok/eiernavn", {"navn": "X", "postnummer": "150"}, "4 sifre"),
            ("sok/fodselsnummer", {"fodselsnummer": "123"}, "11 sifre"),
            ("sok/eiernavn", {"navn": "X" * 201}, "tekst på 1–200 tegn"),
        ],
    )
    def test_search_parameter(self, name: str, query: dict[str, str], expected: str) -> None:
        with pytest.raises(InvalidInput) as info:
            _sok(name, query)
        assert "gyldig er" in info.value.message and expected in info.value.message

    def test_fodselsnummer_is_not_echoed(self) -> None:
        """Search values (an fnr) are not repeated back; only bulk items, which are plates."""
        with pytest.raises(InvalidInput) as info:
            _sok("sok/fodselsnummer", {"fodselsnummer": "1234567890X"})
        assert "1234567890X" not in info.value.message
