"""Pure parsing pieces of the simulator API: dtg, bulk bodies, users, fault switches."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest
from multidict import MultiDict

from kjoretoyregister.svv.auth import ALL_ROLES, Users, UserSpecError, parse_user
from kjoretoyregister.svv.errors import BadRequest
from kjoretoyregister.svv.faults import OSLO, FaultSwitches, seconds_until_oslo_midnight
from kjoretoyregister.svv.sokparams import parse_kjennemerke, parse_kunde, parse_understellsnummer
from kjoretoyregister.svv.sokquery import SokLimits, SokParameterError
from kjoretoyregister.svv.validation import InvalidDtg, parse_bulk_body, parse_dtg

CET = timezone(timedelta(hours=1))


class TestParseDtg:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            # the forms SVV's own examples use
            ("2018-11-15T23:00:00.000+01:00", datetime(2018, 11, 15, 23, tzinfo=CET)),
            (
                "2023-06-02T13:33:07+02:00",
                datetime(2023, 6, 2, 13, 33, 7, tzinfo=timezone(timedelta(hours=2))),
            ),
            # other legal RFC 3339 / ISO 8601 spellings
            ("2022-11-25T16:32:09.12+01:00", datetime(2022, 11, 25, 16, 32, 9, 120000, CET)),
            ("2020-01-01T00:00:00Z", datetime(2020, 1, 1, tzinfo=UTC)),
            ("2020-01-01T00:00:00.123456789Z", datetime(2020, 1, 1, 0, 0, 0, 123456, UTC)),
            ("2020-01-01t10:15z", datetime(2020, 1, 1, 10, 15, tzinfo=UTC)),
            (
                "2020-01-01T10:15:00-0330",
                datetime(2020, 1, 1, 10, 15, tzinfo=timezone(-timedelta(hours=3, minutes=30))),
            ),
        ],
    )
    def test_accepts_iso_with_offset(self, text: str, expected: datetime) -> None:
        parsed = parse_dtg(text)
        assert parsed == expected
        assert parsed.utcoffset() == expected.utcoffset()

    @pytest.mark.parametrize(
        "text",
        [
            "2018-11-15T23:00:00",  # naive: no zone, no answer
            "2018-11-15",  # a date is not a point in time
            "2018-13-15T23:00:00+01:00",  # month 13
            "2018-02-30T23:00:00+01:00",  # 30 February
            "2018-11-15T25:00:00+01:00",
            "2018-11-15 23:00:00+01:00",  # space instead of T
            "2018-11-15T23:00:00+25:00",
            "15.11.2018 23:00",
            "",
            "null",
            "2018-11-15T23:00:00.+01:00",
        ],
    )
    def test_rejects_naive_or_malformed(self, text: str) -> None:
        with pytest.raises(InvalidDtg):
            parse_dtg(text)

    def test_message_cuts_long_input(self) -> None:
        with pytest.raises(InvalidDtg) as info:
            parse_dtg("x" * 10_000)
        assert len(str(info.value)) < 200


class TestParseBulkBody:
    def test_plates_are_normalised_and_dtg_parsed(self) -> None:
        body = (
            b'[{"kjennemerke": "cu 11297"},'
            b' {"kjennemerke": "CU11297", "dtg": "2020-01-01T00:00:00Z", "x": 1}]'
        )
        items = parse_bulk_body(body, "kjennemerke", max_items=10)
        assert items == [("CU11297", None), ("CU11297", datetime(2020, 1, 1, tzinfo=UTC))]

    def test_null_dtg_means_now(self) -> None:
        assert parse_bulk_body(b'[{"kuid": " 3378119709 ", "dtg": null}]', "kuid", max_items=1) == [
            ("3378119709", None)
        ]

    def test_empty_list_is_fine(self) -> None:
        assert parse_bulk_body(b"[]", "kjennemerke", max_items=1) == []

    @pytest.mark.parametrize(
        ("body", "needle"),
        [
            (b"", "Tom"),
            (b"[{", "Ugyldig JSON"),
            (b'{"kjennemerke": "CU11297"}', "JSON-liste"),
            (b'"CU11297"', "JSON-liste"),
            (b'["CU11297"]', "indeks 0: forventet et objekt"),
            (b'[{"kjennemerke": "CU11297"}, {}]', "indeks 1: 'kjennemerke' mangler"),
            (b'[{"kjennemerke": 11297}]', "må være en tekst"),
            (b'[{"kjennemerke": ""}]', "er tom"),
            (b'[{"kjennemerke": " - "}]', "er tom"),
            (b'[{"kjennemerke": "' + b"A" * 40 + b'"}]', "for lang"),
            (b'[{"kjennemerke": "CU11297", "dtg": 20200101}]', "'dtg' må være en tekst"),
            (
                b'[{"kjennemerke": "A1"}, {"kjennemerke": "CU11297", "dtg": "2020-01-01"}]',
                "indeks 1: dtg",
            ),
            (b'[{"kjennemerke": "A"}, {"kjennemerke": "B"}, {"kjennemerke": "C"}]', "maks 2"),
        ],
    )
    def test_bad_bodies_name_the_problem(self, body: bytes, needle: str) -> None:
        with pytest.raises(BadRequest) as info:
            parse_bulk_body(body, "kjennemerke", max_items=2)
        assert needle in info.value.feilmelding


class TestUsers:
    def test_roles_default_to_all(self) -> None:
        assert parse_user("fiks:hemmelig").roles == ALL_ROLES

    def test_roles_are_parsed(self) -> None:
        user = parse_user("fiks:hemmelig:kjoretoysok, KJORETOYOPPSLAG")
        assert user.roles == {"KJORETOYSOK", "KJORETOYOPPSLAG"}

    @pytest.mark.parametrize(
        "spec", ["fiks", "fiks:", ":pw", "fiks:pw:NOSUCHROLE", "fiks:pw:", "a:b:c:d"]
    )
    def test_bad_specs_are_refused_without_echoing_the_password(self, spec: str) -> None:
        with pytest.raises(UserSpecError) as info:
            parse_user(spec)
        assert "pw" not in str(info.value).replace("PASSWORD", "")

    def test_repr_hides_the_password(self) -> None:
        assert "hemmelig" not in repr(parse_user("fiks:hemmelig"))

    def test_duplicate_names_are_refused(self) -> None:
        with pytest.raises(UserSpecError, match="twice"):
            Users.from_specs(["a:b", "a:c"])

    @pytest.mark.parametrize(
        ("header", "ok"),
        [
            ("Basic " + base64.b64encode(b"fiks:hemmelig").decode(), True),
            ("basic " + base64.b64encode(b"fiks:hemmelig").decode(), True),
            ("Basic " + base64.b64encode(b"fiks:feil").decode(), False),
            ("Basic " + base64.b64encode(b"ukjent:hemmelig").decode(), False),
            ("Basic " + base64.b64encode(b"fiks").decode(), False),
            ("Basic !!!", False),
            ("Basic " + base64.b64encode(b"\xff\xfe:x").decode(), False),
            ("Bearer abc", False),
            ("", False),
            (None, False),
        ],
    )
    def test_authenticate(self, header: str | None, ok: bool) -> None:
        users = Users.from_specs(["fiks:hemmelig"])
        assert (users.authenticate(header) is not None) is ok


class TestSokParams:
    LIMITS = SokLimits(default_antall=20, max_antall=100)

    def test_defaults(self) -> None:
        query = parse_kjennemerke(MultiDict(kjennemerke="cu 1129?"), self.LIMITS)
        assert (query.pattern, query.fra, query.antall) == ("CU1129?", 1, 20)
        assert query.ekskluder_vraket_utfort is False

    def test_all_problems_are_reported_at_once(self) -> None:
        with pytest.raises(SokParameterError) as info:
            parse_kjennemerke(
                MultiDict(ekskluderVraketUtfort="ja", fra="0", antall="101", foo="1"), self.LIMITS
            )
        codes = [r["kode"] for r in info.value.responskoder]
        assert codes.count("PARAMETER_MANGLER") == 1
        assert codes.count("UGYLDIG_PARAMETER") == 3
        assert codes.count("UKJENT_PARAMETER") == 1

    def test_vin_wildcards_and_merkekode(self) -> None:
        query = parse_understellsnummer(
            MultiDict(understellsnummer="*sisdinky4572*", merkekode="65"), self.LIMITS
        )
        assert (query.pattern, query.merkekode) == ("*SISDINKY4572*", "0065")

    def test_kunde_name_parts(self) -> None:
        query = parse_kunde(
            MultiDict(eiertype="person", fornavn="MUSIKALSK", kjonn="k", fodselsdato="1992"),
            self.LIMITS,
        )
        assert query.eiertype == "PERSON"
        assert query.names["fornavn"] == "MUSIKALSK"
        assert query.names["navn"] is None
        assert query.kjonn == "K"

    def test_limits_must_be_consistent(self) -> None:
        with pytest.raises(ValueError):
            SokLimits(default_antall=200, max_antall=100)


class TestSwitches:
    def test_update_is_all_or_nothing(self) -> None:
        switches = FaultSwitches()
        with pytest.raises(ValueError):
            switches.update({"outage": True, "fault_rate": 2})
        assert switches.outage is False
        switches.update({"outage": True, "latency_ms": 5})
        assert (switches.outage, switches.latency_ms) == (True, 5.0)

    @pytest.mark.parametrize(
        "changes", [{"outage": "yes"}, {"latency_ms": True}, {"nope": 1}, {"latency_ms": -1}]
    )
    def test_bad_values_are_refused(self, changes: dict[str, object]) -> None:
        with pytest.raises(ValueError):
            FaultSwitches().update(changes)

    def test_retry_after_counts_to_norwegian_midnight(self) -> None:
        # 23:00 in Oslo → one hour left, whatever the machine's zone
        assert seconds_until_oslo_midnight(datetime(2024, 1, 10, 23, 0, tzinfo=OSLO)) == 3600
        # the night summer time starts (31 March 2024) still ends at local midnight
        assert seconds_until_oslo_midnight(datetime(2024, 3, 30, 22, 0, tzinfo=UTC)) == 3600
        # 00:30 on that day: the clock skips an hour, so 22.5 real hours remain, not 23.5
        assert seconds_until_oslo_midnight(datetime(2024, 3, 30, 23, 30, tzinfo=UTC)) == 81_000
