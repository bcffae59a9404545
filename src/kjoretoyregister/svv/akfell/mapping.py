"""How SVV's akfell vehicle model relates to the v2 ``Kjoretoy``: the one mapping table.

Both generations use the same field names at the same paths (svv-api.md §4.4); akfell's
"Begrenset" schemas are the v2 ones with some fields left out, plus a few akfell-only fields.
So the table is two lists of paths (``*`` = any list index):

- :data:`V2_ONLY`: v2 fields that akfell does not serve. :func:`.convert.to_akfell` drops
  them; a test (tests/svv/test_sisdinky_reference.py) checks that none of them is in SVV's
  real akfell answer.
- :data:`AKFELL_ONLY`: akfell fields with no v2 counterpart (the v2 answer has nothing to
  compare them with).

Every other akfell leaf is at the same path in the v2 ``kjoretoy``: :func:`v2_path` is the
identity outside :data:`AKFELL_ONLY`.

Sources: KjoretoyIdentitetBegrenset, PersonEnhetBegrenset, PersonnavnMedFodselsdato, akfell's
Unntak, Krav, WLTP and Registrering schemas [svv-api.md §4.4, S:AKFELL]. Two rules are read off
SVV's real sisdinky answer rather than the schema: ``kjoretoyId.kuid`` and
``registrering.registrertForstegangPaEierskap`` are in akfell's schema but SVV filled neither for
any of the 24 vehicles (inferred: not delivered to this consumer class), so we leave them out.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Path = tuple[str | int, ...]
Pattern = tuple[str, ...]

ANY = "*"

_PERSON_ENHET_V2_ONLY = ("kundeId", "adressestatus", "erUverifisert", "erUnntattOffentlighet")
ROLES = ("eier", "medeier", "leasingtaker", "underenhet")

V2_ONLY: tuple[Pattern, ...] = (
    # KjoretoyIdentitetBegrenset = {kjennemerke, understellsnummer, kuid}; kuid not filled.
    ("kjoretoyId", "kuid"),
    ("kjoretoyId", "merkekode"),
    ("kjoretoyId", "imid"),
    ("kjoretoyId", "kjoretoyErKryssbyttet"),
    ("kjoretoyId", "kryssbytter"),
    ("kjoretoyId", "unntattOffentlighet"),
    # Not filled in SVV's akfell answer (see the module docstring).
    ("registrering", "registrertForstegangPaEierskap"),
    # PersonEnhetBegrenset and PersonnavnMedFodselsdato (no fødselsnummer).
    *(("eierskap", role, field) for role in ROLES for field in _PERSON_ENHET_V2_ONLY),
    *(("eierskap", role, "person", "fodselsnummer") for role in ROLES),
    # akfell's Unntak is {unntak}; its Krav has no vognkortmerknad.
    ("godkjenning", "forstegangsGodkjenning", "unntak", ANY, "merknad"),
    ("godkjenning", "tekniskGodkjenning", "unntak", ANY, "merknad"),
    ("godkjenning", "tekniskGodkjenning", "krav", ANY, "vognkortmerknad"),
    ("godkjenning", "tilleggsgodkjenninger", ANY, "krav", ANY, "vognkortmerknad"),
)

WLTP_AKFELL_ONLY = (
    "elEnergiforbruk",
    "frontalareal",
    "testmasse",
    "veilastkoeffisientf0",
    "veilastkoeffisientf1",
    "veilastkoeffisientf2",
    "nedcForbrukBykjoring",
    "nedcForbrukLandeveiskjoring",
    "nedcForbrukBlandetKjoring",
    "nedcCo2BykjoringGPrKm",
    "nedcCo2LandeveiskjoringGPrKm",
    "nedcCo2BlandetKjoringGPrKm",
    "nedcVektetKombinertDrivstoffCo2",
    "nedcVektetKombinertDrivstoff",
    "nedcEnergiforbruk",
    "nedcRekkeviddeKm",
)
WLTP_FIELDS = (
    "wltpKjoretoyspesifikk",
    "wltpTypegodkjenningMaks",
    "wltpTypegodkjenningMedium",
    "wltpTypegodkjenningMin",
)
FORBRUK_OG_UTSLIPP: Pattern = (
    "godkjenning",
    "tekniskGodkjenning",
    "tekniskeData",
    "miljodata",
    "miljoOgdrivstoffGruppe",
    ANY,
    "forbrukOgUtslipp",
    ANY,
)

AKFELL_ONLY: tuple[Pattern, ...] = (
    # akfell's Registrering adds avregistrertSidenDato (present when AVREGISTRERT).
    ("registrering", "avregistrertSidenDato"),
    # akfell's WLTP adds NEDC values, road-load coefficients, test mass and frontal area.
    *((*FORBRUK_OG_UTSLIPP, wltp, field) for wltp in WLTP_FIELDS for field in WLTP_AKFELL_ONLY),
)


def matches(pattern: Pattern, path: Path) -> bool:
    """Whether ``path`` is ``pattern`` or below it (``*`` matches any one key or index)."""
    if len(path) < len(pattern):
        return False
    return all(p in (ANY, part) for p, part in zip(pattern, path, strict=False))


def is_akfell_only(path: Path) -> bool:
    return any(matches(pattern, path) for pattern in AKFELL_ONLY)


def is_v2_only(path: Path) -> bool:
    return any(matches(pattern, path) for pattern in V2_ONLY)


def v2_path(akfell: Path) -> Path | None:
    """The v2 ``Kjoretoy`` path of an akfell ``kjoretoydata`` leaf, None if akfell-only."""
    return None if is_akfell_only(akfell) else akfell


def leaves(value: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every leaf of a JSON value; an empty object or list is a leaf of its own."""
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            yield from leaves(item, (*path, index))
    else:
        yield path, value
