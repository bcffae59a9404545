"""``motorOgDrivverk`` and ``miljodata`` of a catalogue variant: engines, fuel, emissions, noise.

Everything follows from the variant's engine (fuel, kW, gearbox, cm³), its class, era and
egenvekt, so a variant always has the same values. What SVV shows per class is the model:
combustion engines carry slagvolum, cylinders and arbeidsprinsipp, electric motors none of
them; a plug-in or full hybrid has one combustion and one electric motor; the electric
maksNettoEffekt of an EV is its power; mopeds and motorcycles have their emission values
measured by another method (ANNEN) and no CO2; trailers have an empty motor list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kjoretoyregister.svv.tekniske_koder import kode

if TYPE_CHECKING:
    from kjoretoyregister.svv.catalog import Engine, Variant

Json = dict[str, Any]
_L_CLASSES = {"L1e", "L3e"}
_HEAVY = {"N1", "N1G", "M2", "M1BOBIL"}
_V_ENGINES = {"DUCATI", "HARLEY-DAVIDSON"}
_BOXER_LIKE = {"SUBARU", "BMW MOTORRAD"}


def _drivstoff(name: str) -> Json:
    return kode("drivstoff", {"BENSIN": "1", "DIESEL": "2", "ELEKTRISK": "5"}[name])


def _cylinders(variant: Variant, ccm: int) -> int:
    if ccm < 400:
        return 1
    if ccm < 1000 and variant.model.klasse == "L3e":
        return 2
    return 3 if ccm < 1250 else 4 if ccm < 2600 else 6


def _arrangement(variant: Variant, cylinders: int) -> Json:
    merke = variant.model.merke
    if cylinders == 1:
        return kode("sylinderArrangement", "ENSYLINDRET")
    if merke in _V_ENGINES or cylinders == 6:
        return kode("sylinderArrangement", "V")
    if merke in _BOXER_LIKE:
        return kode("sylinderArrangement", "ANNET")
    return kode("sylinderArrangement", "REKKE")


def _arbeidsprinsipp(variant: Variant, engine: Engine) -> Json:
    if engine.fuel == "D":
        return kode("arbeidsprinsipp", "DIESEL_4_TAKTER")
    if variant.model.klasse == "L1e":
        return kode("arbeidsprinsipp", "OTTO_2_TAKTER")
    if variant.model.klasse == "L3e":
        return kode("arbeidsprinsipp", "OTTO")  # as SVV shows its motorcycles
    return kode("arbeidsprinsipp", "OTTO_4_TAKTER")


def ice_kw(engine: Engine) -> int:
    """The combustion engine's share of a variant's power (all of it unless a hybrid)."""
    return engine.kw if engine.fuel in {"B", "D"} else int(engine.kw * 0.65)


def electric_kw(engine: Engine) -> int:
    """The electric motor's power (0 without one)."""
    if engine.fuel == "E":
        return engine.kw
    return int(engine.kw * {"P": 0.5, "H": 0.35}.get(engine.fuel, 0.0))


def vmax(variant: Variant) -> int:
    """Maximum speed, km/h."""
    engine = variant.engine
    klasse = variant.model.klasse
    if engine is None:
        return 80
    if klasse == "L1e":
        return 45
    if klasse == "L3e":
        return min(140 + engine.kw, 260)
    if klasse in _HEAVY:
        return min(140 + engine.kw // 4, 180)
    return min(150 + engine.kw // 2, 250 if engine.fuel != "E" else 225)


def motor_og_drivverk(variant: Variant, egenvekt: int) -> Json:
    """``motorOgDrivverk``; a trailer's has no motor, only its speed limit."""
    engine = variant.engine
    if engine is None:
        return {
            "girutvekslingPrGir": [],
            "hybridKategori": kode("hybridKategori", "INGEN"),
            "maksimumHastighet": [vmax(variant)],
            "maksimumHastighetMalt": [],
            "motor": [],
        }
    model = variant.model
    klasse = model.klasse
    year = variant.years[0]
    motors: list[Json] = []
    if engine.fuel != "E":
        ccm = engine.ccm or 0
        fossil = _drivstoff("DIESEL" if engine.fuel == "D" else "BENSIN")
        drivstoff: Json = {"drivstoffKode": fossil, "maksNettoEffekt": float(ice_kw(engine))}
        if klasse in _L_CLASSES:
            drivstoff["effektVektForhold"] = round(ice_kw(engine) / egenvekt, 2)
        cylinders = _cylinders(variant, ccm)
        ice: Json = {
            "antallSylindre": cylinders,
            "arbeidsprinsipp": _arbeidsprinsipp(variant, engine),
            "drivstoff": [drivstoff],
            "fabrikant": model.merke,
            "motorKode": f"{model.typebetegnelse[:2].upper()}{ccm // 10:03d}",
        }
        if engine.fuel == "D" and year >= 2009:
            ice["partikkelfilterMotor"] = True
        ice["slagvolum"] = ccm
        ice["sylinderArrangement"] = _arrangement(variant, cylinders)
        motors.append(ice)
    el_kw = electric_kw(engine)
    if el_kw:
        electric: Json = {
            "arbeidsprinsipp": kode("arbeidsprinsipp", "ELEKTRISK"),
            "drivstoff": [
                {
                    "drivstoffKode": _drivstoff("ELEKTRISK"),
                    "maksEffektPrTime": float(max(1, round(el_kw * 0.45))),
                    "maksNettoEffekt": float(el_kw),
                }
            ],
            "fabrikant": model.merke,
            "motorKode": f"E{el_kw:03d}{model.typebetegnelse[:1].upper()}",
        }
        motors.append(electric)
    result: Json = {}
    if engine.gear == "M":
        result["antallGir"] = 6 if year >= 2005 or klasse in _L_CLASSES else 5
    result["girkassetype"] = kode("girkassetype", engine.gear)
    result["girutvekslingPrGir"] = []
    result["hybridElektriskKjoretoy"] = engine.fuel in {"H", "P"}
    result["hybridKategori"] = kode(
        "hybridKategori",
        {"P": "LADBAR", "H": "IKKE_LADBAR"}.get(engine.fuel, "INGEN"),
    )
    result["maksimumHastighet"] = [vmax(variant)]
    result["maksimumHastighetMalt"] = []
    result["motor"] = motors
    if year >= (2017 if klasse in _L_CLASSES else 2001):
        result["obd"] = True
    result["utelukkendeElektriskDrift"] = engine.fuel == "E"
    return result


def _co2(variant: Variant, engine: Engine, egenvekt: int) -> float:
    base = 95 + 0.45 * engine.kw + 0.03 * max(0, egenvekt - 1000)
    base *= {"B": 1.0, "D": 0.88, "H": 0.72, "P": 0.25, "E": 0.0}[engine.fuel]
    year = variant.years[0]
    era = 1.4 if year < 2001 else 1.2 if year < 2011 else 1.05 if year < 2016 else 1.0
    if variant.wltp:
        era *= 1.15
    return round(base * era, 0)


def _lyd(variant: Variant, engine: Engine) -> Json:
    klasse = variant.model.klasse
    lyd: Json = {
        "kjorestoy": 66 + min(engine.kw // 40, 8) + (4 if klasse in _L_CLASSES else 0),
    }
    if engine.fuel != "E":
        lyd["standstoy"] = 72 + min(engine.kw // 25, 16) + (10 if klasse in _L_CLASSES else 0)
    lyd["stoyMalingOppgittAv"] = kode("stoyMalingOppgittAv", "1")
    if engine.fuel != "E":
        lyd["vedAntallOmdreininger"] = (
            2750 if engine.fuel == "D" else 5000 if klasse == "L3e" else 3750
        )
    return lyd


def _utslipp(variant: Variant, engine: Engine, egenvekt: int) -> Json:
    """Consumption and exhaust values of the combustion engine, by class and era."""
    klasse = variant.model.klasse
    diesel = engine.fuel == "D"
    modern = variant.euro in {"5L", "6L"}
    if klasse in _L_CLASSES:
        result: Json = {"malemetode": kode("malemetode", "ANNEN")}
        if klasse == "L3e":
            result["partikkelfilterUtslipp"] = False
        result["utslippCOmgPrKm"] = 695.0 if klasse == "L1e" else 394.0
        if klasse == "L1e":
            result["utslippNMHCmgPrKm"] = 41.0
        result["utslippNOxMgPrKm"] = 41.0 if klasse == "L1e" else 18.0
        return result
    co2 = _co2(variant, engine, egenvekt)
    litre = round(co2 / (26.4 if diesel else 23.2), 1)
    plugin = engine.fuel == "P"
    if plugin:  # weighted with the electric share, as the type approval gives it
        co2, litre = round(co2 / 4, 0), round(litre / 4, 1)
    result = {}
    if not variant.wltp:  # NEDC values at the top level; WLTP's in wltpKjoretoyspesifikk
        result["co2BlandetKjoring"] = co2
        result["forbrukBlandetKjoring"] = litre
    result["malemetode"] = kode("malemetode", "WLTP" if variant.wltp else "NEDC")
    if modern:
        result["partikkelfilterFabrikkmontert"] = diesel or variant.years[0] >= 2018
    if variant.wltp:
        result["partikkelfilterUtslipp"] = False
    result["utslippCOmgPrKm"] = 180.0 if diesel else 320.0
    if diesel and variant.euro in {"3L", "4L", "5L", "6L"}:
        result["utslippHCogNOxMgPrKm"] = 130.0 if variant.euro in {"3L", "4L"} else 75.0
        result["utslippKorrigertAbsorpsjonskoeffisient"] = 0.51
    if not diesel:
        result["utslippNMHCmgPrKm"] = 6.5
    result["utslippNOxMgPrKm"] = 56.0 if diesel else 9.0
    if modern:
        result["utslippPartikkelAntallPrKm"] = 6.2e9 if diesel else 1.3
        result["utslippPartiklerMgPrKm"] = 0.5 if diesel else 0.15
    if diesel:
        result["utslippTHCogNOxMgPrKm"] = 75.0
    else:
        result["utslippTHCmgPrKm"] = 9.0
    if variant.wltp:
        result["wltpKjoretoyspesifikk"] = (
            {"co2VektetKombinert": co2, "forbrukVektetKombinert": litre}
            if plugin
            else {"co2Kombinert": co2, "forbrukKombinert": litre}
        )
    return result


def _range_km(variant: Variant, engine: Engine) -> int:
    if engine.fuel == "P":
        return 45 + engine.kw // 10 if variant.years[0] >= 2019 else 30 + engine.kw // 20
    if variant.model.klasse in _L_CLASSES:
        return 60 + engine.kw * 2
    reach = 160 + int(engine.kw * 1.1) if variant.years[0] < 2018 else 300 + engine.kw
    return min(reach, 620)


def miljodata(variant: Variant, egenvekt: int) -> Json:
    """``miljodata``: euro class, one group per energy carrier with its values and noise."""
    engine = variant.engine
    if engine is None:
        return {"miljoOgdrivstoffGruppe": []}
    klasse = variant.model.klasse
    groups: list[Json] = []
    if engine.fuel != "E":
        fossil = _drivstoff("DIESEL" if engine.fuel == "D" else "BENSIN")
        groups.append(
            {
                "drivstoffKodeMiljodata": fossil,
                "forbrukOgUtslipp": [_utslipp(variant, engine, egenvekt)],
                "lyd": _lyd(variant, engine),
            }
        )
    if engine.fuel in {"P", "E"}:
        wh = int(130 + 0.04 * max(0, egenvekt - 1500) + 0.08 * engine.kw)
        malemetode = kode("malemetode", "WLTP" if variant.wltp else "NEDC")
        values: Json = {"malemetode": malemetode}
        if variant.wltp:
            reach = _range_km(variant, engine)
            values["wltpKjoretoyspesifikk"] = {"rekkeviddeKmBlandetkjoring": reach}
        else:
            values["elEnergiforbruk"] = wh
            values["rekkeviddeKm"] = _range_km(variant, engine)
        group: Json = {
            "drivstoffKodeMiljodata": _drivstoff("ELEKTRISK"),
            "forbrukOgUtslipp": [values],
        }
        if engine.fuel == "E":
            group["lyd"] = _lyd(variant, engine)
        groups.append(group)
    result: Json = {}
    if engine.fuel == "E":
        result["euroKlasse"] = kode("euroKlasse", "0")
    elif variant.euro is not None:
        euro = {"MC4": "4M", "MC5": "5M"}.get(variant.euro, variant.euro)
        result["euroKlasse"] = kode("euroKlasse", euro)
    if klasse == "L3e":
        model = variant.model
        land = model.land
        result["lyddemperUtblas"] = (
            f"{model.merke.title()} {model.typebetegnelse[:3]} {land} {land.upper()}"
        )
    result["miljoOgdrivstoffGruppe"] = groups
    # Eco-innovations (efficient lights, alternators) on some recent combustion cars.
    eco = klasse == "M1" and engine.fuel != "E" and variant.wltp and variant.id % 3 == 0
    result["okoInnovasjon"] = eco
    if eco:
        result["co2BesparelsePgaOkoInnovasjon"] = 1.24
        result["typeOkoInnovasjon"] = f"{variant.model.land} {17 + variant.id % 3}"
    return result
