"""``akslinger`` and ``dekkOgFelg`` of a catalogue variant: axles, their loads, tyres and rims.

The axle loads together carry the total weight (a trailer's with its coupling load); every tyre
combination names each axle once, and each tyre's load index carries its share of its axle's
load and its speed symbol the vehicle's top speed. Sizes as SVV prints them (``235/45R18 ``,
``8Jx18 ``, ``120/70ZR 17``, ``17M/C x MT3.50``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from kjoretoyregister.svv.teknisk_motor import vmax

if TYPE_CHECKING:
    from kjoretoyregister.svv.catalog import Variant

Json = dict[str, Any]
_L_CLASSES = {"L1e", "L3e"}
_TRAILERS = {"O1", "O2"}
# Motorcycle and moped rim widths (inches).
_MC_RIMS = (1.60, 1.85, 2.15, 2.50, 2.75, 3.00, 3.50, 4.00, 4.50, 5.00, 5.50, 6.00)
# Tyre speed symbols and their km/h, ascending.
_SPEED_SYMBOLS = (
    ("J", 100), ("L", 120), ("M", 130), ("N", 140), ("P", 150), ("Q", 160), ("R", 170),
    ("S", 180), ("T", 190), ("H", 210), ("V", 240), ("W", 270), ("Y", 300),
)  # fmt: skip


def tyre_capacity(load_index: int) -> int:
    """The load (kg) a tyre of ``load_index`` carries (ETRTO table, to within a few per cent)."""
    return round(615 * 1.0297 ** (load_index - 91))


def _load_index(kg_per_tyre: float, minimum: int) -> int:
    index = minimum
    while tyre_capacity(index) < kg_per_tyre * 1.05:
        index += 1
    return index


def speed_symbol(kmh: int) -> str:
    """The lowest tyre speed symbol for a vehicle that does ``kmh``."""
    for symbol, limit in _SPEED_SYMBOLS:
        if limit >= kmh:
            return symbol
    return _SPEED_SYMBOLS[-1][0]


def _axle_loads(variant: Variant, totalvekt: int, vertikal: int) -> list[int]:
    """Technically permitted axle loads (kg): together they carry the total weight."""
    klasse = variant.model.klasse
    if klasse in _TRAILERS:
        carried = totalvekt - vertikal
        if totalvekt > 2000:  # tandem
            return [-(-carried // 20) * 10] * 2
        return [-(-carried // 10) * 10]
    front, rear = (0.38, 0.66) if klasse in _L_CLASSES else (0.52, 0.56)
    if klasse in {"M2", "M1BOBIL"}:
        front, rear = 0.40, 0.70
    return [-(-int(totalvekt * share) // 10) * 10 for share in (front, rear)]


def _tyre(dekk: str, rim: str, width: int, front_mc: bool) -> tuple[str, str]:
    """(dekkdimensjon, felgdimensjon) as SVV prints them."""
    if front_mc:
        return f"120/70ZR {rim}", f"{rim}M/C x MT3.50"
    if "-" in dekk or "B" in dekk or "ZR" in dekk:  # moped/motorcycle sizes
        rim_width = min(_MC_RIMS, key=lambda inches: abs(inches - width / 32))
        return dekk.replace("ZR", "ZR "), f"{rim}M/C x MT{rim_width:.2f}"
    return f"{dekk} ", f"{max(4.0, round(width / 25.4 * 0.85 * 2) / 2):g}Jx{rim} "


def akslinger_og_dekk(variant: Variant, totalvekt: int, vertikal: int) -> tuple[Json, Json]:
    """``akslinger`` and ``dekkOgFelg``: one tyre entry per axle in every combination."""
    model = variant.model
    klasse = model.klasse
    loads = _axle_loads(variant, totalvekt, vertikal)
    wheels = [1 if klasse in _L_CLASSES else 2] * len(loads)
    if klasse == "M2":
        wheels[-1] = 4  # twin tyres on the driven rear axle of a minibus
    length, width, _ = model.dims
    wheelbase = int(length * (0.66 if klasse in _L_CLASSES else 0.6))
    track = int(width * 0.865)
    motorised = variant.engine is not None
    four_wheel = klasse == "N1G" or (variant.fuel == "E" and model.karosseri == "AF")
    front_drive = variant.fuel != "E" and klasse in {"M1", "N1", "M1BOBIL"}
    groups = []
    for index, load in enumerate(loads, start=1):
        aksel: Json = {"antallHjul": wheels[index - 1]}
        if index < len(loads):
            aksel["avstandTilNesteAksling"] = wheelbase if motorised else 800
        aksel["belastbar"] = False
        if motorised:
            drives = four_wheel or (index == 1) == front_drive
            if klasse in _L_CLASSES:
                drives = index == 2
            aksel["drivAksel"] = drives
        aksel["id"] = index
        aksel["loftbar"] = False
        aksel["luftfjaering"] = False
        aksel["plasseringAksel"] = str(index)
        if wheels[index - 1] >= 2:
            aksel["sporvidde"] = track
        if motorised:
            aksel["styreAksel"] = False
        aksel["tekniskTillattAkselLast"] = load
        groups.append(
            {
                "akselListe": {"aksel": [aksel]},
                "id": index,
                "plasseringAkselGruppe": str(index),
                "tekniskTillattAkselGruppeLast": load,
            }
        )
    akslinger = {"akselGruppe": groups, "antallAksler": len(loads)}
    sizes = [model.dekk]
    if klasse in {"M1", "N1", "N1G"}:
        sizes.append(_larger(model.dekk))
    combinations = [
        {"akselDekkOgFelg": _tyres(variant, dekk, loads, wheels, step)}
        for step, dekk in enumerate(sizes)
    ]
    return akslinger, {"akselDekkOgFelgKombinasjon": combinations}


def _larger(dekk: str) -> str:
    """The optional tyre one rim size up: width +10 mm, profile -5, rim +1 inch."""
    m = re.fullmatch(r"(\d+)/(\d+)R(\d+)", dekk)
    if m is None:
        return dekk
    return f"{int(m.group(1)) + 10}/{int(m.group(2)) - 5}R{int(m.group(3)) + 1}"


def _tyres(
    variant: Variant, dekk: str, loads: list[int], wheels: list[int], step: int
) -> list[Json]:
    klasse = variant.model.klasse
    rim_match = re.search(r"(\d{2})$", dekk)
    rim = rim_match.group(1) if rim_match else "15"
    width = int(re.split(r"[/-]", dekk)[0])
    minimum = 50 if klasse in _L_CLASSES else 80 if klasse in _TRAILERS else 88
    symbol = speed_symbol(vmax(variant) + (0 if klasse in _TRAILERS else 10))
    result = []
    for axle, load in enumerate(loads, start=1):
        dimensjon, felg = _tyre(dekk, rim, width, klasse == "L3e" and axle == 1)
        tyre: Json = {
            "akselId": axle,
            "belastningskodeDekk": str(_load_index(load / wheels[axle - 1], minimum) + step),
            "dekkdimensjon": dimensjon,
            "felgdimensjon": felg,
            "hastighetskodeDekk": symbol,
        }
        if klasse not in _L_CLASSES:
            tyre["innpress"] = f"{45 - 3 * step if klasse in {'M1', 'N1G'} else 50}.0"
        tyre["tvilling"] = wheels[axle - 1] == 4
        result.append(tyre)
    return result
