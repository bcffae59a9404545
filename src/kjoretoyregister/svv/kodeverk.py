"""SVV kodeverk values as v2 ``KodeverkType`` objects (svv-api.md §4.3, §7).

Values seen in SVV's own responses are used as they are (REGISTRERT, ORDINART,
EGENTRANSP_ANNEN, VANLIG_BOSATT, SVALBARD, EIERSKAP, tekniskKode M1 …, drivstoff 1/5,
girkasse A, hybridKategori LADBAR, euroKlasse 6L, karosseri AC, farge 03/06, COC). Where the
published material shows no value, the code here is a plausible stand-in and says so.

Every object is built once and shared: the JSON serialiser writes shared objects as often as
they occur, and nothing downstream mutates them.
"""

from __future__ import annotations

from typing import Any

Kode = dict[str, Any]


def kode(
    verdi: str,
    navn: str | None = None,
    beskrivelse: str | None = None,
    type_id: str | None = None,
) -> Kode:
    """A ``KodeverkType``; absent parts are left out (never null), ``tidligereKodeVerdi`` = []."""
    result: Kode = {"kodeVerdi": verdi}
    if navn is not None:
        result["kodeNavn"] = navn
    if beskrivelse is not None:
        result["kodeBeskrivelse"] = beskrivelse
    if type_id is not None:
        result["kodeTypeId"] = type_id
    result["tidligereKodeVerdi"] = []
    return result


# registreringsstatus, indexed by the status number stored in the register.
REGISTRERT, AVREGISTRERT, VRAKET, UTFORT = 0, 1, 2, 3
REGISTRERINGSSTATUS: tuple[Kode, ...] = (
    kode("REGISTRERT", beskrivelse="Registrert"),
    kode("AVREGISTRERT", beskrivelse="Avregistrert"),
    kode("VRAKET", beskrivelse="Vraket"),
    kode("UTFORT", beskrivelse="Utført"),
)
STATUS_NAMES = ("REGISTRERT", "AVREGISTRERT", "VRAKET", "UTFORT")

# kjoringensArt, indexed by the number stored per vehicle.
KJORINGENS_ART: tuple[Kode, ...] = (
    kode("EGENTRANSP_ANNEN", "Egentransport", "Annen egentransport."),
    kode("DROSJE_EIER", "Drosje", "Drosje, kjøretøyet eies av løyvehaver."),
    kode("DROSJE_LEASING", "Drosje", "Drosje, kjøretøyet leases av løyvehaver."),
    kode("EGENTRANSP_POLITIET", "Egentransport", "Egentransport for politiet."),
    kode("ANNEN_ERVM_KJORING", "Annen ervervsmessig kjøring", "Annen ervervsmessig kjøring."),
    kode(
        "RUTEV_LP_KOMB_EIER",
        "Rutevogn kombinert transport registrert på løyvehaver",
        "Løyvepliktig kombinert transport i rute med motorvogn registrert på løyvehaver.",
    ),
)
ART_EGENTRANSPORT, ART_DROSJE_EIER, ART_DROSJE_LEASING, ART_POLITI, ART_ERVERV = range(5)

KJENNEMERKETYPE_ORDINART = kode("ORDINART", "Ordinære kjennemerker", "Sorte tegn på hvit bunn")
KJENNEMERKETYPER: dict[str, Kode] = {
    k["kodeVerdi"]: k
    for k in (
        KJENNEMERKETYPE_ORDINART,
        kode("VAREBIL_KLASSE_2", "Varebil klasse 2", "Sorte tegn på grønn bunn"),
    )
}
# The kjennemerkekategori enum of the v2 schema, indexed by the number stored per plate.
KATEGORI_KJORETOY, KATEGORI_PERSONLIG = 0, 1
KJENNEMERKEKATEGORI = ("KJORETOY", "PERSONLIG")

# adressestatus (persons only), indexed by the number stored per kunde.
ADRESSESTATUS: tuple[Kode, ...] = (kode("VANLIG_BOSATT"), kode("SVALBARD"))
BOSATT, SVALBARD = 0, 1

# unntattOffentlighet (kodeverk Skjermingsomfang).
EIERSKAP = kode("EIERSKAP", "Eierskap", "Opplysninger om eierskap er unntatt offentlighet")
TEKNISK_DATA = kode("TEKNISK_DATA", "Tekniske data", "Tekniske data er unntatt offentlighet")

GODKJENNINGSUNDERTYPE_COC = kode("COC", "COC")
TEKNISK_UNDERKODE_INGEN = kode("INGENKODE")

GIRKASSE = {
    "A": kode("A", "Automat", type_id="TEKNISKEDATA.GIRKASSETYPE"),
    "M": kode("M", "Manuell", type_id="TEKNISKEDATA.GIRKASSETYPE"),
}
DRIVSTOFF = {
    # 1 and 5 as seen; 2 Diesel and 7 Hydrogen follow the same list (stand-ins).
    "BENSIN": kode("1", "Bensin", "Bensin", "TEKNISKEDATA.DRIVSTOFFTYPE"),
    "DIESEL": kode("2", "Diesel", "Diesel", "TEKNISKEDATA.DRIVSTOFFTYPE"),
    "ELEKTRISK": kode("5", "Elektrisk", "Elektrisk", "TEKNISKEDATA.DRIVSTOFFTYPE"),
}
HYBRID_LADBAR = kode("LADBAR", "Ladbar hybrid", type_id="TEKNISKEDATA.HYBRIDKATEGORI")
HYBRID_IKKE_LADBAR = kode(
    "IKKE_LADBAR", "Ikke ladbar hybrid", type_id="TEKNISKEDATA.HYBRIDKATEGORI"
)

EURO = {
    # Light vehicles use the "L" suffix seen for 6L; L-category vehicles their own Euro steps.
    "1L": kode("1L", "Euro 1", type_id="TEKNISKEDATA.EUROKLASSE"),
    "2L": kode("2L", "Euro 2", type_id="TEKNISKEDATA.EUROKLASSE"),
    "3L": kode("3L", "Euro 3", type_id="TEKNISKEDATA.EUROKLASSE"),
    "4L": kode("4L", "Euro 4", type_id="TEKNISKEDATA.EUROKLASSE"),
    "5L": kode("5L", "Euro 5", type_id="TEKNISKEDATA.EUROKLASSE"),
    "6L": kode("6L", "Euro 6", type_id="TEKNISKEDATA.EUROKLASSE"),
    "MC4": kode("MC4", "Euro 4 (L-kategori)", type_id="TEKNISKEDATA.EUROKLASSE"),
    "MC5": kode("MC5", "Euro 5 (L-kategori)", type_id="TEKNISKEDATA.EUROKLASSE"),
}
MALEMETODE = {
    "NEDC": kode("NEDC", "NEDC", type_id="TEKNISKEDATA.MALEMETODE"),
    "WLTP": kode("WLTP", "WLTP", type_id="TEKNISKEDATA.MALEMETODE"),
}
KAROSSERI = {
    code: kode(code, name, type_id="TEKNISKEDATA.KAROSSERITYPE")
    for code, name in (
        ("AA", "Sedan"),
        ("AB", "Kombikupé"),
        ("AC", "Stasjonsvogn"),
        ("AF", "Flerbruksbil"),
        ("BB", "Varebil"),
        ("BE", "Pickup"),
        ("CA", "Buss, enkeltdekk"),
        ("SA", "Bobil"),
        ("DA", "Tilhenger"),
    )
}
# rFarge: 03 Blå and 06 Svart as seen, the rest follow the same two-digit list.
FARGER: tuple[Kode, ...] = tuple(
    kode(code, name, type_id="TEKNISKEDATA.KAROSSERIFARGE")
    for code, name in (
        ("01", "Hvit"),
        ("02", "Gul"),
        ("03", "Blå"),
        ("04", "Grønn"),
        ("05", "Grå"),
        ("06", "Svart"),
        ("07", "Rød"),
        ("08", "Brun"),
        ("09", "Sølv"),
        ("10", "Oransje"),
        ("11", "Beige"),
    )
)

# Vehicle classes: tekniskKode (with kodeNavn/-Beskrivelse) and kjøretøyavgiftskode. 101 is as
# seen; the other avgiftskoder are stand-ins in the same style.
TEKNISK_KODE: dict[str, tuple[Kode, str, Kode]] = {
    # class: (tekniskKode, klassifisering.beskrivelse, kjoretoyAvgiftsKode)
    "M1": (
        kode(
            "M1",
            "Personbil",
            "Bil for persontransport med høyst 8 sitteplasser i tillegg til førersetet (Personbil)",
        ),
        "Personbil",
        kode("101", "Personbil", "Personbil, unntatt ambulanse"),
    ),
    "M1BOBIL": (
        kode(
            "M1",
            "Personbil",
            "Bil for persontransport med høyst 8 sitteplasser i tillegg til førersetet (Personbil)",
        ),
        "Bobil",
        kode("104", "Bobil", "Bobil"),
    ),
    "M2": (
        kode(
            "M2",
            "Buss",
            "Bil for persontransport med mer enn 8 sitteplasser i tillegg til førersetet og "
            "tillatt totalvekt ikke over 5000 kg (Buss)",
        ),
        "Minibuss",
        kode("201", "Buss", "Buss"),
    ),
    "N1": (
        kode(
            "N1",
            "Varebil",
            "Bil for godstransport med tillatt totalvekt ikke over 3500 kg (Varebil)",
        ),
        "Varebil",
        kode("301", "Varebil", "Varebil klasse 2"),
    ),
    "N1G": (
        kode(
            "N1G",
            "Varebil, terrenggående",
            "Terrenggående bil for godstransport med tillatt totalvekt ikke over 3500 kg",
        ),
        "Varebil",
        kode("301", "Varebil", "Varebil klasse 2"),
    ),
    "L1e": (
        kode(
            "L1e",
            "Moped",
            "To-hjuls moped med konstruktiv hastighet ikke over 45 km/t (Moped)",
        ),
        "Moped",
        kode("601", "Moped", "Moped"),
    ),
    "L3e": (
        kode("L3e", "Motorsykkel", "To-hjuls motorsykkel uten sidevogn (Motorsykkel)"),
        "Motorsykkel",
        kode("501", "Motorsykkel", "Motorsykkel"),
    ),
    "O1": (
        kode("O1", "Tilhenger", "Tilhenger med tillatt totalvekt ikke over 750 kg"),
        "Tilhenger",
        kode("709", "Tilhenger", "Tilhenger med tillatt totalvekt ikke over 750 kg"),
    ),
    "O2": (
        kode(
            "O2",
            "Tilhenger",
            "Tilhenger med tillatt totalvekt over 750 kg, men ikke over 3500 kg",
        ),
        "Tilhenger",
        kode("710", "Tilhenger", "Tilhenger med tillatt totalvekt over 750 kg til 3500 kg"),
    ),
}
