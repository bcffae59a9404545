"""Norwegian vehicle and party identifiers: normalise, format, validate and make them.

- kjennemerke: ordinary plates ``AB 12345`` (cars, vans, trailers, the EV series EL/EK/EV/EB/
  EC/ED/EE/EF/EH/EJ), ``AB 1234`` (motorcycles, mopeds) and personal plates (free text, 2-7
  characters, kept as they are).
- understellsnummer (VIN): ISO 3779, 17 characters without I, O and Q. The position-9 check digit
  is only mandatory in North America, so validation does not require it.
- fødselsnummer: ``DDMMYYIIIKK`` with two mod-11 check digits. D-numbers add 40 to the day,
  H-numbers 40 to the month, and the *synthetic* test persons of Skatteetaten's Tenor (and of
  this simulator) add 80 to the month. Every person this project makes is synthetic.
- organisasjonsnummer: 9 digits, the last a mod-11 check digit.
"""

from __future__ import annotations

import re
from datetime import date

_SPACE_OR_HYPHEN = re.compile(r"[\s\-]+")
_ORDINARY_PLATE = re.compile(r"([A-Z]{2})(\d{4,5})")

VIN_ALPHABET = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
_VIN_RE = re.compile(r"[A-HJ-NPR-Z0-9]{17}")
# ISO 3779 / FMVSS 565 transliteration and position weights for the check digit.
_VIN_VALUES = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
# Model-year codes (VIN position 10) repeat every 30 years, starting with A = 1980.
_YEAR_CODES = "ABCDEFGHJKLMNPRSTVWXY123456789"

_ORGNR_WEIGHTS = (3, 2, 7, 6, 5, 4, 3, 2)

SYNTHETIC_MONTH_OFFSET = 80
D_NUMBER_DAY_OFFSET = 40
H_NUMBER_MONTH_OFFSET = 40


# --- kjennemerke ---------------------------------------------------------------------------


def normalise_kjennemerke(value: str) -> str:
    """Upper case, spaces and hyphens removed: ``"cu 11297"`` → ``"CU11297"``."""
    return _SPACE_OR_HYPHEN.sub("", value).upper()


def format_kjennemerke(value: str) -> str:
    """As SVV prints a plate: ``"CU11297"`` → ``"CU 11297"``; personal plates unchanged."""
    # Fast path for the normalised plates the register stores (thousands per bulk answer).
    ascii_plate = 6 <= len(value) <= 7 and value.isascii() and value.isupper()
    if ascii_plate and value[:2].isalpha() and value[2:].isdigit():
        return f"{value[:2]} {value[2:]}"
    plate = normalise_kjennemerke(value)
    match = _ORDINARY_PLATE.fullmatch(plate)
    if match is None:
        return plate
    return f"{match.group(1)} {match.group(2)}"


def is_ordinary_kjennemerke(value: str) -> bool:
    """Two letters and 4 or 5 digits (spaces allowed), the format of every non-personal plate."""
    return _ORDINARY_PLATE.fullmatch(normalise_kjennemerke(value)) is not None


# --- understellsnummer (VIN) ---------------------------------------------------------------


def is_valid_vin(value: str) -> bool:
    """17 characters of the ISO 3779 alphabet (no I, O, Q); the check digit is not required."""
    return _VIN_RE.fullmatch(value) is not None


def vin_check_digit(vin: str) -> str:
    """The position-9 check digit of a 17-character VIN (``"X"`` stands for 10)."""
    if len(vin) != 17:
        raise ValueError("a VIN has 17 characters")
    total = sum(_VIN_VALUES[c] * w for c, w in zip(vin, _VIN_WEIGHTS, strict=True))
    rest = total % 11
    return "X" if rest == 10 else str(rest)


def vin_year_code(year: int) -> str:
    """The model-year character of VIN position 10 (A = 1980 or 2010, … 9 = 2009 or 2039)."""
    return _YEAR_CODES[(year - 1980) % 30]


# --- fødselsnummer ---------------------------------------------------------------------------


def _fnr_check_digits(first9: str) -> str | None:
    d = [ord(c) - 48 for c in first9]
    s1 = (
        3 * d[0] + 7 * d[1] + 6 * d[2] + d[3] + 8 * d[4] + 9 * d[5] + 4 * d[6] + 5 * d[7] + 2 * d[8]
    )
    k1 = (11 - s1 % 11) % 11
    if k1 == 10:
        return None
    s2 = 5 * d[0] + 4 * d[1] + 3 * d[2] + 2 * d[3] + 7 * d[4] + 6 * d[5] + 5 * d[6] + 4 * d[7]
    s2 += 3 * d[8] + 2 * k1
    k2 = (11 - s2 % 11) % 11
    if k2 == 10:
        return None
    return f"{k1}{k2}"


def _birth_year(yy: int, individnummer: int) -> int | None:
    if individnummer < 500:
        return 1900 + yy
    if individnummer < 750 and yy >= 54:
        return 1800 + yy
    if yy < 40:
        return 2000 + yy
    if individnummer >= 900:
        return 1900 + yy
    return None


def fodselsdato_from_fodselsnummer(value: str) -> date | None:
    """The birth date a fødselsnummer or d-number encodes (synthetic +80 month understood)."""
    if len(value) != 11 or not value.isdigit():
        return None
    day, month, yy, ind = int(value[0:2]), int(value[2:4]), int(value[4:6]), int(value[6:9])
    if day > D_NUMBER_DAY_OFFSET:
        day -= D_NUMBER_DAY_OFFSET
    if month > SYNTHETIC_MONTH_OFFSET:
        month -= SYNTHETIC_MONTH_OFFSET
    elif month > H_NUMBER_MONTH_OFFSET:
        month -= H_NUMBER_MONTH_OFFSET
    year = _birth_year(yy, ind)
    if year is None:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def is_valid_fodselsnummer(value: str) -> bool:
    """11 digits, both mod-11 check digits right, and a real date (d-, H- and +80 numbers too)."""
    if len(value) != 11 or not value.isdigit():
        return False
    if _fnr_check_digits(value[:9]) != value[9:]:
        return False
    return fodselsdato_from_fodselsnummer(value) is not None


def is_synthetic_fodselsnummer(value: str) -> bool:
    """Valid, and marked synthetic by a month + 80 (as every person of this simulator is)."""
    return is_valid_fodselsnummer(value) and int(value[2:4]) > SYNTHETIC_MONTH_OFFSET


def is_d_number(value: str) -> bool:
    """The day digits carry the +40 of a d-number (for persons without a fødselsnummer)."""
    return len(value) == 11 and value.isdigit() and int(value[0:2]) > D_NUMBER_DAY_OFFSET


def kjonn_from_fodselsnummer(value: str) -> str:
    """``"M"`` when the third individual digit is odd, else ``"K"``."""
    return "M" if int(value[8]) % 2 else "K"


def make_fodselsnummer(
    birth: date, individnummer: int, *, d_number: bool = False, synthetic: bool = True
) -> str | None:
    """The number for a birth date and individual number, or None if the check digits fail.

    About one in five individual numbers gives a check digit of 10 and so no number at all;
    callers try the next one. Of any three consecutive individual numbers at least one works,
    because each step moves both check sums to a different residue mod 11.
    """
    if not 0 <= individnummer <= 999:
        raise ValueError("individnummer is three digits")
    if _birth_year(birth.year % 100, individnummer) != birth.year:
        raise ValueError(f"individnummer {individnummer:03d} does not fit birth year {birth.year}")
    day = birth.day + (D_NUMBER_DAY_OFFSET if d_number else 0)
    month = birth.month + (SYNTHETIC_MONTH_OFFSET if synthetic else 0)
    first9 = f"{day:02d}{month:02d}{birth.year % 100:02d}{individnummer:03d}"
    check = _fnr_check_digits(first9)
    return None if check is None else first9 + check


# --- organisasjonsnummer ---------------------------------------------------------------------


def orgnr_check_digit(first8: str) -> int | None:
    """The mod-11 check digit for 8 digits, or None when there is none (remainder 1)."""
    total = sum(int(c) * w for c, w in zip(first8, _ORGNR_WEIGHTS, strict=True))
    check = (11 - total % 11) % 11
    return None if check == 10 else check


def is_valid_orgnr(value: str) -> bool:
    """9 digits whose last is the right mod-11 check digit."""
    if len(value) != 9 or not value.isdigit():
        return False
    return orgnr_check_digit(value[:8]) == int(value[8])


def make_orgnr(first8: int) -> str | None:
    """The organisasjonsnummer starting with these 8 digits, or None if none is valid."""
    digits = f"{first8:08d}"
    check = orgnr_check_digit(digits)
    return None if check is None else f"{digits}{check}"
