"""How SVV's akfell bulk answer maps onto our v2 bulk answer: the one mapping table.

akfell (``POST …/kjoretoyoppslag/bulk/kjennemerke``) answers ``{"responser": [{"request",
"kjoretoydata" | "feilmelding"}]}``; v2 answers ``[{"kjoretoy" | "responskoder"}]`` in request
order (svv-api.md §4.1). Inside the vehicle both generations use the same field names
(svv-api.md §4.4): the "Begrenset" akfell schemas are subsets of the v2 ones. The only akfell
fields with no v2 counterpart are listed in :data:`AKFELL_ONLY`; every other akfell leaf must
appear unchanged at the same path of the v2 ``kjoretoy``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

Path = tuple[str | int, ...]

# akfell path (regex over "/"-joined keys, list indexes as digits) -> v2 path, when they differ.
# A rule's target None means: the field exists in akfell only (no v2 field to compare with).
_WLTP = (
    r"godkjenning/tekniskGodkjenning/tekniskeData/miljodata/miljoOgdrivstoffGruppe/\d+"
    r"/forbrukOgUtslipp/\d+/wltpKjoretoyspesifikk/"
)
MAPPING: tuple[tuple[str, str | None], ...] = (
    # akfell's Registrering adds avregistrertSidenDato; v2 has the status' fomTidspunkt only.
    (r"registrering/avregistrertSidenDato", None),
    # akfell's WLTP adds NEDC values, road-load coefficients, test mass and frontal area.
    (
        _WLTP
        + r"(elEnergiforbruk|frontalareal|testmasse|veilastkoeffisientf[0-2]"
        + r"|nedc(Co2BlandetKjoringGPrKm|Energiforbruk|ForbrukBlandetKjoring|RekkeviddeKm"
        + r"|VektetKombinertDrivstoff|VektetKombinertDrivstoffCo2))",
        None,
    ),
)
AKFELL_ONLY = tuple(pattern for pattern, target in MAPPING if target is None)
_RULES = [(re.compile(pattern + r"$"), target) for pattern, target in MAPPING]


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


def v2_path(akfell: Path) -> Path | None:
    """The v2 ``Kjoretoy`` path of an akfell ``kjoretoydata`` leaf, None if akfell-only."""
    text = "/".join(str(part) for part in akfell)
    for pattern, target in _RULES:
        if pattern.match(text):
            if target is None:
                return None
            text = pattern.sub(target, text)
            return tuple(int(p) if p.isdigit() else p for p in text.split("/"))
    return akfell


_MISSING = object()


def lookup(value: Any, path: Path) -> Any:
    """The value at ``path``, or a sentinel that equals nothing."""
    for part in path:
        if isinstance(part, int):
            if not isinstance(value, list) or part >= len(value):
                return _MISSING
        elif not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def same(expected: Any, actual: Any) -> bool:
    """Equal JSON leaves of the same JSON type (1 is not 1.0, nor True)."""
    return type(expected) is type(actual) and expected == actual


def compare_item(akfell_item: dict[str, Any], v2_item: dict[str, Any]) -> tuple[int, list[str]]:
    """(number of akfell leaves compared, differences) for one akfell ``responser`` element."""
    if "feilmelding" in akfell_item:
        kode = akfell_item["feilmelding"]
        codes = [r.get("kode") for r in v2_item.get("responskoder", [])]
        ok = kode in codes and "kjoretoy" not in v2_item
        return 1, [] if ok else [f"feilmelding: akfell {kode!r}, v2 responskoder {codes}"]
    differences: list[str] = []
    count = 0
    kjoretoy = v2_item.get("kjoretoy", {})
    for path, expected in leaves(akfell_item["kjoretoydata"]):
        target = v2_path(path)
        if target is None:
            continue
        count += 1
        actual = lookup(kjoretoy, target)
        if not same(expected, actual):
            shown = "(absent)" if actual is _MISSING else repr(actual)
            differences.append(f"{'/'.join(map(str, target))}: SVV {expected!r}, ours {shown}")
    return count, differences
