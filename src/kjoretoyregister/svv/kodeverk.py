"""SVV kodeverk values as v2 ``KodeverkType`` objects (svv-api.md §4.3, §7).

Values seen in SVV's own responses are used as they are (REGISTRERT, ORDINART,
EGENTRANSP_ANNEN, VANLIG_BOSATT, SVALBARD, EIERSKAP, farge 01/06, COC). Where the published
material shows no value, the code here is a plausible stand-in and says so. The technical
kodeverk of ``tekniskeData`` (tekniskKode, drivstoff, euroKlasse …) is in :mod:`.tekniske_koder`.

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
# rFarge: SVV's list (TEKNISKEDATA.KAROSSERIFARGE); the kodeBeskrivelse of 01 and 06 as SVV
# writes them, the others in the same style (SVV leaves some out, as here 03 and 05).
FARGER: tuple[Kode, ...] = tuple(
    kode(code, name, beskrivelse, type_id="TEKNISKEDATA.KAROSSERIFARGE")
    for code, name, beskrivelse in (
        ("01", "Hvit", "herunder: Antikkhvit, offwhite"),
        ("02", "Gul", "herunder: Sitrongul, gul metallic"),
        ("03", "Blå", None),
        ("04", "Grønn", "herunder: Turkis, olivengrønn, grønn metallic"),
        ("05", "Grå", None),
        (
            "06",
            "Svart",
            "herunder: Blåsvart, grafitt mørk, gråsort, koksgrå mørk, koksgrå mørk metallic",
        ),
        ("07", "Rød", "herunder: Vinrød, bordeaux, rød metallic"),
        ("08", "Brun", "herunder: Bronse, kobber, brun metallic"),
        ("09", "Sølv", "herunder: Sølvgrå, sølv metallic"),
        ("10", "Oransje", "herunder: Oransje metallic"),
        ("11", "Beige", "herunder: Sand, champagne"),
    )
)
