"""Identifiers: plates, VINs, synthetic fødselsnummer/d-numbers and organisasjonsnummer."""

from __future__ import annotations

import re
from datetime import date

import pytest
from stdnum.no import fodselsnummer as stdnum_fnr
from stdnum.no import orgnr as stdnum_orgnr

from kjoretoyregister.svv import identifiers as ids
from kjoretoyregister.svv.catalog import VARIANTS, uses_check_digit
from kjoretoyregister.svv.fleet import vin_of
from kjoretoyregister.svv.plates import EV_SERIES, PlateAllocator, personal_plates
from kjoretoyregister.svv.population import (
    max_persons,
    org_number,
    person_fodselsnummer,
    person_slot,
)

VIN_CHARS = re.compile(r"[A-HJ-NPR-Z0-9]{17}")


class TestKjennemerke:
    @pytest.mark.parametrize(
        ("raw", "normalised", "formatted"),
        [
            # ordinary car and EV plates
            ("cu 11297", "CU11297", "CU 11297"),
            ("EC-80287", "EC80287", "EC 80287"),
            # motorcycles and mopeds: two letters and four digits
            ("yx 1382", "YX1382", "YX 1382"),
            # personal plates are free text and stay as they are
            ("Tesla1", "TESLA1", "TESLA1"),
        ],
    )
    def test_normalise_and_format(self, raw: str, normalised: str, formatted: str) -> None:
        """Lookups are case- and space-insensitive; answers print plates as SVV does."""
        assert ids.normalise_kjennemerke(raw) == normalised
        assert ids.format_kjennemerke(raw) == formatted

    def test_allocator_hands_out_unique_plates_in_the_right_formats(self) -> None:
        """Cars get AB 12345, EVs their year's E-series, MCs AB 1234; chunks never overlap."""
        import random

        rng = random.Random(1)
        seen: set[str] = set()
        for chunk in range(3):
            plates = PlateAllocator(chunk, 3)
            for _ in range(2000):
                car = plates.ordinary(rng, small=False)
                mc = plates.ordinary(rng, small=True)
                ev = plates.electric(rng, 2021)
                assert re.fullmatch(r"[A-Z]{2}\d{5}", car) and not car.startswith("E")
                assert re.fullmatch(r"[A-Z]{2}\d{4}", mc)
                assert re.fullmatch(r"E[A-Z]\d{5}", ev) and ev[:2] in EV_SERIES
                for plate in (car, mc, ev):
                    assert plate not in seen
                    seen.add(plate)

    def test_personal_plates_are_free_text_of_at_most_seven(self) -> None:
        plates = personal_plates()
        assert len(plates) > 10_000
        assert len(set(plates)) == len(plates)
        assert all(2 <= len(p) <= 7 and not ids.is_ordinary_kjennemerke(p) for p in plates)


class TestVin:
    def test_generated_vins_follow_iso_3779(self) -> None:
        """17 characters without I, O, Q; check digit right where the maker uses one; unique."""
        vins = set()
        for index in range(0, 3_000_000, 997):
            variant = VARIANTS[index % len(VARIANTS)]
            year = variant.years[0]
            vin = vin_of(index, variant.id, year)
            assert VIN_CHARS.fullmatch(vin), vin
            assert ids.is_valid_vin(vin)
            assert vin[9] == ids.vin_year_code(year)
            if uses_check_digit(variant):
                assert vin[8] == ids.vin_check_digit(vin)
            vins.add(vin)
        assert len(vins) == len(range(0, 3_000_000, 997))

    @pytest.mark.parametrize("bad", ["WVWZZZ1KZ8W12345", "WVWZZZ1KZ8W1234567", "WVWZZZ1KZ8WI23456"])
    def test_invalid_vins(self, bad: str) -> None:
        """Wrong length or a forbidden letter (I, O, Q)."""
        assert not ids.is_valid_vin(bad)

    def test_known_check_digit(self) -> None:
        # The textbook example of the North American check digit.
        assert ids.vin_check_digit("1M8GDM9AXKP042788") == "X"


class TestFodselsnummer:
    @pytest.mark.parametrize("number", ["63888700414", "12857009566"])
    def test_published_synthetic_numbers_are_valid(self, number: str) -> None:
        """SVV's own test leasingtaker and the example of svv-api.md §10."""
        assert ids.is_valid_fodselsnummer(number)
        assert ids.is_synthetic_fodselsnummer(number)
        assert stdnum_fnr.calc_check_digit1(number) == number[9]
        assert stdnum_fnr.calc_check_digit2(number) == number[10]

    def test_d_number_decodes_day_minus_40(self) -> None:
        assert ids.is_d_number("63888700414")
        assert ids.fodselsdato_from_fodselsnummer("63888700414") == date(1987, 8, 23)

    @pytest.mark.parametrize("bad", ["63888700415", "6388870041", "12857009566x", "32857009566"])
    def test_invalid(self, bad: str) -> None:
        assert not ids.is_valid_fodselsnummer(bad)

    def test_make_fodselsnummer(self) -> None:
        number = ids.make_fodselsnummer(date(1992, 5, 19), 903)
        assert number is not None and number.startswith("198592903")
        assert ids.fodselsdato_from_fodselsnummer(number) == date(1992, 5, 19)
        with pytest.raises(ValueError, match="does not fit"):
            ids.make_fodselsnummer(date(1992, 5, 19), 600)

    def test_generated_persons_have_unique_synthetic_numbers(self) -> None:
        """Month + 80, both mod-11 check digits valid (checked with python-stdnum), unique."""
        indexes = list(range(0, 60_000)) + list(range(max_persons() - 20_000, max_persons()))
        numbers = set()
        for index in indexes:
            d_number = index % 7 == 0
            number = person_fodselsnummer(index, d_number)
            assert stdnum_fnr.calc_check_digit1(number) == number[9]
            assert stdnum_fnr.calc_check_digit2(number) == number[10]
            assert int(number[2:4]) > 80, "synthetic: month + 80"
            assert ids.is_d_number(number) == d_number
            born = ids.fodselsdato_from_fodselsnummer(number)
            assert born is not None and born.toordinal() == person_slot(index)[0]
            numbers.add(number)
        assert len(numbers) == len(indexes)

    def test_kjonn(self) -> None:
        assert ids.kjonn_from_fodselsnummer("12857009566") == "M"
        assert ids.kjonn_from_fodselsnummer("63888700414") == "K"
        number = ids.make_fodselsnummer(date(1970, 1, 1), 11)
        assert number is not None and ids.kjonn_from_fodselsnummer(number) == "M"


class TestOrgnr:
    def test_generated_orgnr_valid_synthetic_and_unique(self) -> None:
        numbers = {org_number(index) for index in range(200_000)}
        assert len(numbers) == 200_000
        for number in list(numbers)[:20_000]:
            assert number.startswith("3")
            assert ids.is_valid_orgnr(number)
            assert stdnum_orgnr.is_valid(number)

    @pytest.mark.parametrize("real", ["986130861", "971032081", "314099923"])
    def test_published_orgnr(self, real: str) -> None:
        assert ids.is_valid_orgnr(real)

    @pytest.mark.parametrize("bad", ["986130862", "98613086", "98613086a"])
    def test_invalid_orgnr(self, bad: str) -> None:
        assert not ids.is_valid_orgnr(bad)
