"""The technical approval of a catalogue variant: ``kjoretoyklassifisering`` and ``tekniskeData``.

Built once per variant at generation time and stored as JSON in ``modellvarianter``; the
register assembles each vehicle around it (the colour is the vehicle's own). Every value follows
from the catalogue line (class, dimensions, weights, tyres, towing, engine) and agrees with the
others as at SVV: egenvekt + nyttelast = tillattTotalvekt, the axle loads carry the total
weight and every tyre its share of its axle, one tyre entry per axle in each tyre combination,
seats by class, electric motors without slagvolum, trailers without motor.
Axles and tyres are in :mod:`.teknisk_aksler`, engines and emissions in :mod:`.teknisk_motor`,
kodeverk as SVV spells it in :mod:`.tekniske_koder`.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import orjson

from kjoretoyregister.svv import kodeverk
from kjoretoyregister.svv.teknisk_aksler import akslinger_og_dekk
from kjoretoyregister.svv.teknisk_motor import miljodata, motor_og_drivverk
from kjoretoyregister.svv.tekniske_koder import kode

if TYPE_CHECKING:
    from kjoretoyregister.svv.catalog import Variant

Json = dict[str, Any]
_L_CLASSES = {"L1e", "L3e"}
_TRAILERS = {"O1", "O2"}
_HEAVY = {"N1", "N1G", "M2", "M1BOBIL"}
_MERKNAD = "TYPEGODKJENNINGSMERKNAD"
# class: (tekniskKode, klassifisering.beskrivelse, kjoretoyAvgiftsKode) as SVV has them; SVV
# shows a campingbil as a Personbil (tekniskUnderkode SA), motorcycles by power (_mc_kind).
CLASSES: dict[str, tuple[str, str, str]] = {
    "M1": ("M1", "Personbil", "101"),
    "M1BOBIL": ("M1", "Personbil", "101"),
    "M2": ("M2", "Buss kl B", "211"),
    "N1": ("N1", "Varebil kl 2", "315"),
    "N1G": ("N1G", "Varebil kl 1", "314"),
    "L1e": ("L1e", "Moped", "601"),
    "L3e": ("L3e", "Motorsykkel", "620"),
    "O1": ("O1", "Påhengsvogn", "709"),
    "O2": ("O2", "Påhengsvogn", "709"),
}
_KRAV = {
    "kravomrade": kode("kravomrade", "AVGIFTSKLASSIFISERING_00"),
    "kravoppfyllelse": kode("kravoppfyllelse", "KRAV_1"),
}


@cache
def _fabrikanter() -> dict[str, list[str]]:
    path = resources.files("kjoretoyregister.svv").joinpath("data/fabrikanter.json")
    table: dict[str, list[str]] = orjson.loads(path.read_bytes())["fabrikanter"]
    return table


# --- classification --------------------------------------------------------------------------


def _direktiv(klasse: str, year: int) -> str:
    if klasse in _L_CLASSES:
        return "168/2013" if year >= 2016 else "2002/24"
    if year >= 2021:
        return "2018/858"
    return "2007/46" if year >= 2010 else "2001/116"


def _mc_kind(variant: Variant) -> tuple[str, str, str]:
    """(beskrivelse, tekniskUnderkode, kjoretoyAvgiftsKode) of a motorcycle by power."""
    kw = variant.engine.kw if variant.engine else 0
    if kw <= 11:
        return "Lett motorsykkel", "A1", "610"
    if kw <= 35:
        return "MC mellomtung", "A2", "620"
    return "Tung motorsykkel", "A3", "620"


def _spesielle_kjennetegn(variant: Variant, totalvekt: int) -> str:
    klasse = variant.model.klasse
    if klasse == "L1e":
        return "Maks hastighet 45 km/t, maks slagvolum 50 cm3, maks 4 kw med el-motor"
    if klasse == "L3e":
        underkode = _mc_kind(variant)[1]
        if underkode == "A2":
            return "Maks effekt 35 kW, maks effekt/egenvekt 0,2 kW/kg"
        return "Maks slagvolum 125 cm3, maks effekt 11 kW" if underkode == "A1" else ""
    if klasse == "M2":
        return "Under 23 passasjerplasser, ingen ståplasser, over 6 meter, totalvekt under 5001 kg"
    if klasse in _TRAILERS:
        return "Totalvekt ikke over 750 kg" if totalvekt <= 750 else "Totalvekt ikke over 3500 kg"
    return ""


def klassifisering(variant: Variant, totalvekt: int) -> Json:
    """``kjoretoyklassifisering``: class, EU type approval (from 1998) and national approval."""
    model = variant.model
    klasse = model.klasse
    teknisk, beskrivelse, avgift = CLASSES[klasse]
    underkode = underkode_of(variant)
    if klasse == "L3e":
        beskrivelse, _, avgift = _mc_kind(variant)
    year = variant.years[0]
    result: Json = {"beskrivelse": beskrivelse}
    serie = f"{(int(model.merkekode) * 7 + variant.id) % 9000 + 100:04d}"
    if year >= 1998:
        utvidelse = f"{(year - 1995) % 40:02d}"
        direktiv = _direktiv(klasse, year)
        result["efTypegodkjenning"] = {
            "typegodkjenningNrTekst": f"{model.land}*{direktiv}*{serie}*{utvidelse}",
            "typegodkjenningnummer": {
                "direktiv": direktiv,
                "land": model.land,
                "serie": serie,
                "utvidelse": utvidelse,
            },
            "variant": f"{model.typebetegnelse.replace(' ', '')[:4]}{variant.id % 97:02d}",
            "versjon": f"V{(variant.engine.kw if variant.engine else 1):03d}",
        }
    result["kjoretoyAvgiftsKode"] = kode("kjoretoyAvgiftsKode", avgift)
    result["nasjonalGodkjenning"] = {
        "nasjonaltGodkjenningsAr": str(year),
        "nasjonaltGodkjenningsHovednummer": f"{int(model.merkekode) % 9000 + 1000}",
        "nasjonaltGodkjenningsUndernummer": f"{variant.id % 900 + 1:03d}",
    }
    result["spesielleKjennetegn"] = _spesielle_kjennetegn(variant, totalvekt)
    result["tekniskKode"] = kode("tekniskKode", teknisk)
    result["tekniskUnderkode"] = underkode
    if year >= 1998:
        result["iSamsvarMedTypegodkjenning"] = True
    return result


def underkode_of(variant: Variant) -> Json:
    """``tekniskUnderkode``: motorcycle kind, bus kind B, campingbil SA, else INGENKODE."""
    klasse = variant.model.klasse
    if klasse == "L3e":
        return kode("tekniskUnderkode", _mc_kind(variant)[1])
    if klasse == "M2":
        return kode("tekniskUnderkode", "B")
    if klasse == "M1BOBIL":
        return kode("tekniskUnderkode", "SA")
    return kode("tekniskUnderkode", "INGENKODE")


# --- body, seats, weights, coupling ----------------------------------------------------------

_DOORS = {2: "2_SIDE_1_BAK", 3: "3_SIDE", 4: "4_SIDE", 5: "4_SIDE_1_BAK", 6: "4_SIDE_2_BAK"}


def karosseri(variant: Variant) -> Json:
    """``karosseriOgLasteplan`` without the colour (per vehicle)."""
    model = variant.model
    klasse = model.klasse
    small_plate = klasse in _L_CLASSES
    result: Json = {"antallDorer": [model.doors] if model.doors else []}
    if klasse == "M2":
        result["bussKategori"] = "B"
    result["dorUtforming"] = []
    if small_plate:
        result["karosseriArt"] = "Rørramme"
    if model.karosseri:
        result["karosseritype"] = kode("karosseritype", model.karosseri)
    plate = kode("kjennemerkestorrelse", "LS" if small_plate else "SS")
    result["kjennemerketypeBak"] = plate
    result["kjennemerkestorrelseBak"] = plate
    if klasse not in _TRAILERS and not small_plate:
        result["kjennemerketypeForan"] = plate
        result["kjennemerkestorrelseForan"] = plate
    if not small_plate:
        result["kjoringSide"] = "HOYRE"
    result["oppbygningUnderstellsnummer"] = f"{model.wmi}{'?' * 14}"
    if klasse in _TRAILERS:
        result["overhengBak"] = int(model.dims[0] * 0.3)
    if model.doors in _DOORS:
        result["plasseringAvDorer"] = kode("plasseringAvDorer", _DOORS[model.doors])
    plate_at, vin_at = _markings(variant)
    result["plasseringFabrikasjonsplate"] = [kode("plasseringMerking", plate_at)]
    result["plasseringUnderstellsnummer"] = [kode("plasseringMerking", vin_at)]
    result["rFarge"] = []
    return result


def _markings(variant: Variant) -> tuple[str, str]:
    """Where the maker's plate and the VIN are (SVV's PLASSERINGMERKING codes)."""
    klasse = variant.model.klasse
    if klasse in _L_CLASSES:
        return "STYREHODE", "STYREHODE_HOYRE"
    if klasse in _TRAILERS:
        return "ANNET", "RAMME_HOYRE_FORAN"
    if klasse in {"N1", "N1G"}:
        return "B_STOLPE_VENSTRE", "A_STOLPE_HOYRE"
    if klasse in {"M2", "M1BOBIL"}:
        return "MOTORROM_FORAN", "KUPE_GULV_HOYRE"
    return "B_STOLPE_HOYRE", "KUPE_GULV_HOYRE" if variant.id % 2 else "MOTORROM_HOYRE"


def persontall(variant: Variant) -> Json:
    """Seats: the rider alone on a moped; a driver's row and seats in all for cars; none on
    a trailer; belt tensioners on cars from 2000."""
    model = variant.model
    klasse = model.klasse
    if klasse in _TRAILERS:
        return {"sitteplasserTotalt": 0}
    result: Json = {}
    if klasse in {"M1", "N1", "N1G"}:
        result["sitteplassListe"] = {"sitteplass": [{"beltestrammer": variant.years[0] >= 2000}]}
    if klasse in _L_CLASSES or klasse == "M2":
        foran = 1
    else:
        foran = min(model.seats, 3 if klasse == "N1" and model.seats <= 3 else 2)
    result["sitteplasserForan"] = foran
    result["sitteplasserTotalt"] = model.seats
    return result


def vertikal_last(variant: Variant) -> int:
    """Permitted vertical coupling load: of the ball on a towing car, of the trailer's hitch."""
    model = variant.model
    if model.klasse in _TRAILERS:
        return 50 if model.klasse == "O1" else 100
    if model.tow[0] <= 0:
        return 0
    return 75 if model.tow[0] < 2000 else 100 if model.tow[0] < 3000 else 140


def tilhengerkopling(variant: Variant, vertikal: int) -> Json:
    """The coupling: a 50 mm ball on towing vehicles, the matching hitch on trailers."""
    model = variant.model
    if model.klasse in _TRAILERS:
        return {
            "kopling": [
                {
                    "avstandSenterKoplingTilForsteAksel": int(model.dims[0] * 0.62),
                    "belastningSverdi": float(vertikal),
                    "fabrikantKopling": "AL-KO" if variant.id % 2 else "Knott",
                    "handelsbetegnelseKopling": "AK 7" if model.klasse == "O1" else "KF13",
                    "type": kode("hengerfeste", "Kulehanske_for_50_mm_kule"),
                }
            ]
        }
    if not vertikal:
        return {"kopling": []}
    kopling: Json = {"belastningLoddrettMaks": vertikal}
    if variant.years[0] >= 2000:
        kopling["eftype"] = f"e1*94/20*{(variant.id * 37) % 9000 + 1000}*00"
    kopling["type"] = kode("hengerfeste", "Kule_50_mm")
    return {"kopling": [kopling]}


def vekter(variant: Variant, egenvekt: int, totalvekt: int, vertikal: int) -> Json:
    """Weights that add up: egenvekt + nyttelast = tillattTotalvekt, vogntog = total + tow."""
    model = variant.model
    klasse = model.klasse
    result: Json = {"egenvekt": egenvekt}
    # The lightest equipment level: SVV's L-category spans are wide (a quarter of egenvekt).
    margin = 25 if klasse in _HEAVY else egenvekt // 4 if klasse in _L_CLASSES else 20
    result["egenvektMinimum"] = egenvekt - margin if variant.engine else egenvekt
    result["nyttelast"] = totalvekt - egenvekt
    braked, unbraked = model.tow
    if braked > 0 and klasse == "M1":
        result["tekniskTillattVektPahengsvogn"] = braked
    if klasse in {"M1", "N1", "N1G", "M1BOBIL"}:
        result["tillattTaklast"] = 75 if klasse == "M1" else 100 if klasse == "M1BOBIL" else 150
    if braked > 0:
        result["tillattTilhengervektMedBrems"] = braked
        result["tillattTilhengervektUtenBrems"] = unbraked
    result["tillattTotalvekt"] = totalvekt
    if vertikal:
        result["tillattVertikalKoplingslast"] = vertikal
    if braked > 0:
        result["tillattVogntogvekt"] = totalvekt + braked
    result["vogntogvektAvhBremsesystem"] = []
    return result


def bremser(variant: Variant) -> Json:
    """Brakes: hydraulic on motor vehicles, overrun brakes on braked trailers, none on O1."""
    klasse = variant.model.klasse
    if klasse == "O1":
        return {"tilhengerBremseforbindelse": []}
    if klasse == "O2":
        return {"bremsesystem": "Mekanisk", "tilhengerBremseforbindelse": []}
    result: Json = {"abs": klasse not in _L_CLASSES or variant.years[0] >= 2016}
    result["bremsesystem"] = "Hydraulisk med skiver" if variant.years[0] >= 1995 else "Hydraulisk"
    result["tilhengerBremseforbindelse"] = []
    return result


# --- the whole subtree -----------------------------------------------------------------------

_FUEL_DELTA = {"B": 0, "D": 70, "H": 60, "P": 230, "E": 330, "-": 0}


def egenvekt_of(variant: Variant) -> int:
    """The variant's egenvekt: the model's, adjusted for fuel (a battery weighs)."""
    model = variant.model
    first = model.engines[0].fuel if model.engines else "-"
    return model.egenvekt + _FUEL_DELTA[variant.fuel] - _FUEL_DELTA[first]


_WEIGHT_LIMITS = {"N1": 3500, "N1G": 3500, "M1BOBIL": 3500, "M2": 5000, "O1": 750, "O2": 3500}


def totalvekt_of(variant: Variant) -> int:
    """tillattTotalvekt: the model's egenvekt + nyttelast, plus the fuel's extra weight where
    the class allows it; at a class limit (a van's 3500 kg) the extra weight is payload lost."""
    model = variant.model
    total = egenvekt_of(variant) + model.nyttelast
    return min(total, _WEIGHT_LIMITS.get(model.klasse, total))


def tekniske_data(variant: Variant) -> Json:
    """``tekniskeData`` of a variant, without ``karosseriOgLasteplan.rFarge`` (per vehicle)."""
    model = variant.model
    klasse = model.klasse
    egenvekt = egenvekt_of(variant)
    totalvekt = totalvekt_of(variant)
    vertikal = vertikal_last(variant)
    akslinger, dekk = akslinger_og_dekk(variant, totalvekt, vertikal)
    length, width, height = model.dims
    dimensjoner: Json = {"bredde": width, "hoyde": height, "lengde": length}
    if klasse == "N1" and model.karosseri == "BB":
        dimensjoner["lengdeInnvendigLasteplan"] = int(length * 0.52)
    fabrikanter: list[Json] = []
    address = _fabrikanter()[model.fabrikant]
    if variant.years[0] >= 1998:  # older national approvals do not name the maker
        fabrikant: Json = {"fabrikantAdresse": address[0], "fabrikantNavn": model.fabrikant}
        if len(address) == 3:
            fabrikant["fabrikantRepresentantAdresse"] = address[2]
            fabrikant["fabrikantRepresentantNavn"] = address[1]
        fabrikanter.append(fabrikant)
    return {
        "akslinger": akslinger,
        "bremser": bremser(variant),
        "dekkOgFelg": dekk,
        "dimensjoner": dimensjoner,
        "generelt": {
            "fabrikant": fabrikanter,
            "handelsbetegnelse": [model.handelsbetegnelse],
            "merke": [{"merke": model.merke, "merkeKode": model.merkekode}],
            "tekniskKode": kode("tekniskKode", CLASSES[klasse][0]),
            "tekniskUnderkode": underkode_of(variant),
            "typebetegnelse": model.typebetegnelse,
        },
        "karosseriOgLasteplan": karosseri(variant),
        "miljodata": miljodata(variant, egenvekt),
        "motorOgDrivverk": motor_og_drivverk(variant, egenvekt),
        "ovrigeTekniskeData": _ovrige(variant),
        "persontall": persontall(variant),
        "tilhengerkopling": tilhengerkopling(variant, vertikal),
        "vekter": vekter(variant, egenvekt, totalvekt, vertikal),
    }


def _ovrige(variant: Variant) -> list[Json]:
    """SVV's free-form extra fields: a motorhome's special body, where a motorcycle's VIN and
    plate are (as coordinates)."""
    if variant.model.klasse == "M1BOBIL":
        return [
            {"datafeltNavn": "spesialkarosseriKode", "datafeltVerdi": "SA"},
            {"datafeltNavn": "spesialkarosseriTekst", "datafeltVerdi": "Campingbil"},
        ]
    if variant.model.klasse not in _L_CLASSES:
        return []
    return [
        {"datafeltNavn": f"plassering{what}Beskrivelse", "datafeltVerdi": f"R, X442, Y{y}, Z429"}
        for what, y in (("Understellsnummer", 54), ("Fabrikasjonsplate", 44))
    ]


def kjoretoymerknad(variant: Variant) -> list[Json]:
    """The type-approval remark SVV prints on nearly every vehicle."""
    if variant.model.klasse == "L1e":
        text = "Maks konstruktiv hastighet er 45 km/t."
    else:
        text = "Egenvekt og nyttelast er veiledende - avhengig av utstyr"
    return [{"merknad": text, "merknadtypeKode": _MERKNAD}]


def variant_data(variant: Variant) -> Json:
    """What the register stores per variant: classification, technical data, approval subtype,
    and the requirements and remarks of its approval."""
    totalvekt = totalvekt_of(variant)
    return {
        "godkjenningsundertype": kodeverk.GODKJENNINGSUNDERTYPE_COC,
        "kjoretoyklassifisering": klassifisering(variant, totalvekt),
        "tekniskeData": tekniske_data(variant),
        "krav": [_KRAV],
        "kjoretoymerknad": kjoretoymerknad(variant),
    }
