"""The published synthetic vehicles of SVV's test environment ("sisdinky"), always present.

Fiks' test environment routes every call to SVV's synthetic data set. The vehicles below are
the ones visible in public sources (svv-api.md §8): the same plates, VINs, makes, owner names
and roles, statuses, and where published the kuid, imid and the leasingtaker's fødselsnummer.
An integration written against Fiks' test environment finds them here, whatever the seed or
size of the register.

What the sources do not show is filled in, in the same style: earlier owners, addresses, dates,
the owners of the mopeds and motorcycles, and synthetic fødselsnummer (month + 80, both check
digits valid) for every person.

**Earlier owners (for "a past dtg returns an earlier owner").** Every vehicle with an owner has
at least one earlier eier. The clearest demonstration is ``CU11297`` (BMW 330e): from
2019-05-03 its eier was the person VENNLIG ELG; since 2021-09-01 the eier is MØLLER BIL AS
with leasingtaker KONKURRANSEDYKTIG BUDEIE. A lookup with ``dtg`` 2020-06-01 returns VENNLIG
ELG as eier with ``tilTidspunkt`` 2021-09-01T10:00:00+02:00; a ``dtg`` before 2019-05-03
returns nothing. See :data:`EARLIER_OWNER_EXAMPLE`.

Also here, because the generated part cannot promise them for every seed: a VIN shared by two
vehicles (:data:`SHARED_VIN`, an old Volvo 940 registered twice) and a vehicle that changed
plates (``KH 34512`` until 2015-04-20, ``CU 10943`` since; :data:`PLATE_CHANGE_EXAMPLE`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from kjoretoyregister.svv import kodeverk
from kjoretoyregister.svv.registerfile import SKJERMING_HELT, SKJERMING_INGEN

OSLO = ZoneInfo("Europe/Oslo")


@dataclass(frozen=True, slots=True)
class SisPerson:
    """A synthetic person; ``fodselsnummer`` None means: make a synthetic one."""

    key: str
    fornavn: str
    etternavn: str
    fodselsdato: date
    postnummer: str
    gate: str
    husnr: int
    fodselsnummer: str | None = None
    mellomnavn: str | None = None
    svalbard: bool = False
    kjonn: str | None = None  # "M"/"K" where the name says so; the third individual digit


@dataclass(frozen=True, slots=True)
class SisOrg:
    """An organisation with its (published or synthetic) organisasjonsnummer."""

    key: str
    navn: str
    orgnr: str
    naeringskode: str
    postnummer: str
    gate: str
    husnr: int


@dataclass(frozen=True, slots=True)
class Period:
    """From ``fom`` (Oslo local time) the vehicle had these role holders (party keys)."""

    fom: str
    eier: str
    medeier: str | None = None
    leasingtaker: str | None = None
    underenhet: str | None = None


@dataclass(frozen=True, slots=True)
class SisVehicle:
    """One fixed vehicle; ``plates`` is the plate history, oldest first (plate, from)."""

    plates: tuple[tuple[str, str], ...]
    vin: str
    merke: str
    handelsbetegnelse: str
    klasse: str
    fuel: str
    year: int
    periods: tuple[Period, ...]
    farge: str = "05"
    status: int = kodeverk.REGISTRERT
    status_fom: str | None = None
    kuid: int | None = None
    imid: str | None = None
    skjerming: int = SKJERMING_INGEN
    art: int = kodeverk.ART_EGENTRANSPORT
    avregistrert: tuple[str, str] | None = field(default=None)

    @property
    def kjennemerke(self) -> str:
        """The current plate, normalised."""
        return self.plates[-1][0]


def when(local: str) -> int:
    """Unix seconds for an Oslo local time ``YYYY-MM-DDTHH:MM``."""
    return int(datetime.fromisoformat(local).replace(tzinfo=OSLO).timestamp())


PERSONS: tuple[SisPerson, ...] = (
    SisPerson(
        "musikalsk", "MUSIKALSK", "FORSKJELL", date(1992, 5, 19), "0467", "Kirkegata", 12 << 3
    ),
    SisPerson(
        "selvhjulpen", "SELVHJULPEN", "KENGURU", date(1978, 11, 2), "2317", "Skoleveien", 4 << 3
    ),
    SisPerson(
        "budeie", "KONKURRANSEDYKTIG", "BUDEIE", date(1985, 3, 27), "7030", "Elvegata", 8 << 3
    ),
    SisPerson("avstand", "OPPRETT", "AVSTAND", date(1964, 8, 14), "5007", "Fjordveien", 31 << 3),
    SisPerson("vott", "STRAFFET", "VOTT", date(1999, 1, 9), "9008", "Sjøgata", 3 << 3),
    SisPerson(
        "linjal", "TILFREDSSTILLENDE", "LINJAL", date(1971, 6, 30), "4014", "Berggata", 17 << 3
    ),
    SisPerson("praksis", "TØRR", "PRAKSIS", date(1973, 2, 21), "4014", "Berggata", 17 << 3),
    SisPerson("humor", "GLOVARM", "HUMOR", date(1988, 10, 5), "1369", "Parkveien", 22 << 3),
    SisPerson(
        "poesi", "UTTRYKKSFULL", "POESI", date(1957, 4, 18), "3013", "Torggata", (9 << 3) | 2
    ),
    SisPerson(
        "klaustrofobi", "RIMELIG", "KLAUSTROFOBI", date(1995, 12, 1), "0660", "Solbakken", 6 << 3
    ),
    SisPerson(
        "jernbane", "PRAKTISK", "JERNBANE", date(1969, 7, 7), "2380", "Stasjonsveien", 14 << 3
    ),
    SisPerson(
        "firkant",
        "LEDENDE",
        "FIRKANT",
        date(1987, 8, 23),
        "0158",
        "Storgata",
        40 << 3,
        fodselsnummer="63888700414",
    ),
    SisPerson(
        "kroken",
        "HELGE",
        "KROKEN",
        date(1960, 9, 12),
        "9170",
        "Sjøveien",
        5 << 3,
        svalbard=True,
        kjonn="M",
    ),
    SisPerson(
        "berger",
        "JARLE",
        "BERGER",
        date(1962, 3, 3),
        "9170",
        "Sjøveien",
        5 << 3,
        svalbard=True,
        kjonn="M",
    ),
    # Earlier owners and the riders of the mopeds and motorcycles (names in the same style).
    SisPerson("elg", "VENNLIG", "ELG", date(1975, 1, 28), "1706", "Granveien", 11 << 3),
    SisPerson("blaabaer", "ROLIG", "BLÅBÆR", date(1970, 5, 12), "2317", "Kirkeveien", 4 << 3),
    SisPerson("fjord", "STILLE", "FJORD", date(1981, 9, 3), "5035", "Bryggeveien", 2 << 3),
    SisPerson("pingvin", "MODIG", "PINGVIN", date(1990, 2, 17), "3717", "Sagveien", 19 << 3),
    SisPerson("sykkel", "BLID", "SYKKEL", date(1983, 6, 6), "0172", "Mølleveien", 7 << 3),
    SisPerson("gaupe", "TRYGG", "GAUPE", date(1966, 11, 11), "8006", "Haugeveien", 45 << 3),
    SisPerson("foss", "SPRUDLENDE", "FOSS", date(1993, 4, 24), "6009", "Bakkelia", 3 << 3),
    SisPerson("ugle", "KLOK", "UGLE", date(1952, 12, 24), "4631", "Eikeveien", 28 << 3),
    SisPerson("ekorn", "LEKEN", "EKORN", date(2005, 7, 19), "1481", "Lønneveien", 9 << 3),
    SisPerson("hare", "RASK", "HARE", date(2006, 3, 2), "2050", "Furuveien", 15 << 3),
    SisPerson("rev", "KVIKK", "REV", date(1979, 8, 8), "3256", "Strandveien", 66 << 3),
    SisPerson("tiger", "STOLT", "TIGER", date(1986, 1, 15), "7046", "Bakkeveien", 12 << 3),
    SisPerson("ulv", "TØFF", "ULV", date(1991, 10, 30), "9510", "Myrveien", 5 << 3),
    SisPerson("orn", "SKARP", "ØRN", date(1974, 5, 5), "1605", "Sjøveien", 21 << 3),
    SisPerson("kompass", "PRESIS", "KOMPASS", date(1968, 2, 29), "3611", "Kongsveien", 8 << 3),
    SisPerson("lykt", "KLAR", "LYKT", date(1958, 6, 21), "5141", "Lieveien", 33 << 3),
    SisPerson("tulipan", "MILD", "TULIPAN", date(1984, 4, 4), "0371", "Rosevegen", 10 << 3),
)

ORGS: tuple[SisOrg, ...] = (
    SisOrg(
        "nordbyhagen", "NORDBYHAGEN OG VRÅDAL", "910654497", "70.220", "1415", "Parkveien", 2 << 3
    ),
    SisOrg("stolavs", "ST. OLAVS HOSPITAL HF", "883974832", "86.906", "7030", "Elvegata", 17 << 3),
    SisOrg("bilia", "BILIA PERSONBIL AS", "976023188", "45.111", "0668", "Industriveien", 31 << 3),
    SisOrg("moller", "MØLLER BIL AS", "986130861", "45.111", "0581", "Fabrikkgata", 5 << 3),
    SisOrg("vegvesen", "STATENS VEGVESEN", "971032081", "84.130", "6411", "Postveien", 1 << 3),
    SisOrg(
        "leaseplan", "LEASEPLAN NORGE AS", "945098775", "77.110", "1366", "Strandveien", 50 << 3
    ),
    SisOrg("scania", "NORSK SCANIA AS", "879263662", "45.111", "1366", "Industriveien", 6 << 3),
    SisOrg(
        "scaniaskoyen",
        "NORSK SCANIA AS HOVEDKONTOR SKØYEN",
        "973114468",
        "45.111",
        "0283",
        "Industriveien",
        6 << 3,
    ),
    SisOrg("politi", "SØR-ØST POLITIDISTRIKT", "983998178", "84.240", "3019", "Kongsgata", 32 << 3),
    SisOrg("tiger", "LYSEBLÅ KURSIV TIGER AS", "314099923", "49.391", "5055", "Kirkegata", 3 << 3),
)

SHARED_VIN = "YV1944A0WS1234567"
EARLIER_OWNER_EXAMPLE = ("CU11297", "2020-06-01T12:00:00+02:00", "VENNLIG ELG")
PLATE_CHANGE_EXAMPLE = ("KH34512", "CU10943", "2015-04-20T09:30")

VEHICLES: tuple[SisVehicle, ...] = (
    SisVehicle(
        (("CU10149", "2017-04-03T09:15"),),
        "TESTMINBIL0000001",
        "VOLKSWAGEN",
        "GOLF",
        "M1",
        "B",
        2017,
        (Period("2017-04-03T09:15", "elg"), Period("2020-02-11T13:40", "nordbyhagen")),
        farge="01",
    ),
    SisVehicle(
        (("CU10150", "2017-04-05T10:02"),),
        "TESTMINBIL0000002",
        "VOLKSWAGEN",
        "GOLF",
        "M1",
        "B",
        2017,
        (Period("2017-04-05T10:02", "pingvin"), Period("2020-02-11T13:55", "nordbyhagen")),
        farge="06",
    ),
    SisVehicle(
        (("CU11193", "2020-09-14T08:30"),),
        "SISDINKY73745598",
        "VOLKSWAGEN",
        "CRAFTER",
        "N1",
        "D",
        2020,
        (Period("2020-09-14T08:30", "leaseplan"), Period("2022-01-10T09:00", "stolavs")),
        farge="01",
    ),
    SisVehicle(
        (("CU11293", "2021-03-15T10:12"),),
        "SISDINKY89778834",
        "FORD",
        "KUGA",
        "M1",
        "P",
        2021,
        (Period("2021-03-15T10:12", "fjord"), Period("2023-05-02T14:20", "musikalsk")),
        farge="03",
    ),
    SisVehicle(
        (("CU11295", "2018-06-20T11:00"),),
        "SISDINKY22675301",
        "HONDA",
        "CIVIC",
        "M1",
        "B",
        2018,
        (Period("2018-06-20T11:00", "sykkel"), Period("2022-11-25T16:32", "bilia")),
        farge="07",
    ),
    SisVehicle(
        (("CU11296", "2016-02-10T09:45"),),
        "SISDINKY87334230",
        "MITSUBISHI",
        "OUTLANDER",
        "M1",
        "P",
        2016,
        (Period("2016-02-10T09:45", "gaupe"), Period("2019-08-19T12:10", "selvhjulpen")),
        status=kodeverk.AVREGISTRERT,
        status_fom="2022-10-03T08:05",
        farge="09",
    ),
    SisVehicle(
        (("CU11297", "2019-05-03T10:30"),),
        "SISDINKY45727043",
        "BMW",
        "330E",
        "M1",
        "P",
        2019,
        (
            Period("2019-05-03T10:30", "elg"),
            Period("2021-09-01T10:00", "moller", leasingtaker="budeie"),
        ),
        farge="06",
    ),
    SisVehicle(
        (("CU11298", "2020-10-07T13:00"),),
        "SISDINKY24905671",
        "DACIA",
        "DUSTER",
        "M1",
        "B",
        2020,
        (
            Period("2020-10-07T13:00", "foss"),
            Period("2021-11-15T09:20", "moller", leasingtaker="vegvesen"),
        ),
        farge="05",
    ),
    SisVehicle(
        (("CU11299", "2011-05-30T12:00"),),
        "SISDINKY61770342",
        "OPEL",
        "ASTRA",
        "M1",
        "B",
        2011,
        (Period("2011-05-30T12:00", "ugle"), Period("2015-03-03T10:45", "avstand")),
        status=kodeverk.VRAKET,
        status_fom="2023-04-12T11:30",
        farge="07",
    ),
    SisVehicle(
        (("CU11300", "2020-01-20T09:00"),),
        "SISDINKY10493385",
        "TESLA",
        "MODEL 3",
        "M1",
        "E",
        2020,
        (Period("2020-01-20T09:00", "tiger"), Period("2022-06-01T10:00", "lykt")),
        skjerming=SKJERMING_HELT,
        farge="01",
    ),
    SisVehicle(
        (("CU11301", "2021-02-08T10:00"),),
        "SISDINKY20587741",
        "VOLVO",
        "XC60",
        "M1",
        "P",
        2021,
        (Period("2021-02-08T10:00", "orn"), Period("2023-08-14T13:00", "kompass")),
        skjerming=SKJERMING_HELT,
        farge="05",
    ),
    SisVehicle(
        (("CU11302", "2021-04-12T10:00"),),
        "SISDINKY32027367",
        "HONDA",
        "JAZZ",
        "M1",
        "H",
        2021,
        (Period("2021-04-12T10:00", "tulipan"), Period("2023-01-17T12:30", "vott")),
        farge="02",
    ),
    SisVehicle(
        (("CU11304", "2017-08-21T09:40"),),
        "SISDINKY98367310",
        "MERCEDES-BENZ",
        "A 180",
        "M1",
        "B",
        2017,
        (
            Period("2017-08-21T09:40", "kompass"),
            Period("2020-03-09T15:00", "linjal", medeier="praksis"),
        ),
        farge="09",
    ),
    SisVehicle(
        (("CU11305", "2019-11-04T11:15"),),
        "SISDINKY48152721",
        "MERCEDES-BENZ",
        "E 200",
        "M1",
        "B",
        2019,
        (
            Period("2019-11-04T11:15", "moller", leasingtaker="rev"),
            Period("2022-11-04T11:15", "leaseplan", leasingtaker="humor"),
        ),
        farge="06",
    ),
    SisVehicle(
        (("CU11306", "2020-05-25T08:00"),),
        "SISDINKY35995054",
        "TOYOTA",
        "LAND CRUISER",
        "N1G",
        "D",
        2020,
        (
            Period("2020-05-25T08:00", "bilia"),
            Period("2021-01-04T08:00", "scania", leasingtaker="scaniaskoyen"),
        ),
        farge="05",
    ),
    SisVehicle(
        (("CU11307", "2018-04-16T12:00"),),
        "SISDINKY21036357",
        "SOLIFER",
        "H747",
        "M1BOBIL",
        "D",
        2018,
        (Period("2018-04-16T12:00", "ugle"), Period("2021-06-28T10:00", "poesi")),
        farge="01",
        avregistrert=("2023-10-15T09:00", "2024-04-02T09:00"),
    ),
    SisVehicle(
        (("CU11308", "2018-09-03T09:00"),),
        "SISDINKY61472525",
        "VOLVO",
        "V60",
        "M1",
        "D",
        2018,
        (Period("2018-09-03T09:00", "vegvesen"), Period("2020-01-06T09:00", "politi")),
        farge="01",
        art=kodeverk.ART_POLITI,
    ),
    SisVehicle(
        (("CU11309", "2019-03-18T10:00"),),
        "SISDINKY45833062",
        "ACBUS",
        "SPRINTER",
        "M2",
        "D",
        2019,
        (Period("2019-03-18T10:00", "leaseplan"), Period("2020-04-01T10:00", "tiger")),
        farge="01",
        art=kodeverk.ART_ERVERV,
    ),
    SisVehicle(
        (("EC80287", "2022-02-14T14:00"),),
        "SISDINKY50341276",
        "FORD",
        "MUSTANG MACH-E",
        "M1",
        "E",
        2022,
        (Period("2022-02-14T14:00", "blaabaer"), Period("2024-05-21T16:10", "klaustrofobi")),
        farge="07",
    ),
    SisVehicle(
        (("YX1382", "2019-06-03T12:00"),),
        "SISDINKY55273456",
        "RIEJU",
        "MRT 50",
        "L1e",
        "B",
        2019,
        (Period("2019-06-03T12:00", "tiger"), Period("2022-05-10T15:00", "ekorn")),
        farge="07",
    ),
    SisVehicle(
        (("YX1383", "2019-06-03T12:30"),),
        "SISDINKY42370775",
        "RIEJU",
        "MRT 50",
        "L1e",
        "B",
        2019,
        (Period("2019-06-03T12:30", "ulv"), Period("2022-07-01T11:00", "hare")),
        farge="03",
    ),
    SisVehicle(
        (("YX1384", "2020-04-20T10:00"),),
        "SISDINKY50658867",
        "KAWASAKI",
        "Z900",
        "L3e",
        "B",
        2020,
        (Period("2020-04-20T10:00", "orn"), Period("2023-03-30T17:00", "rev")),
        farge="04",
    ),
    SisVehicle(
        (("YX1385", "2019-05-06T10:00"),),
        "SISDINKY65328013",
        "YAMAHA",
        "MT-07",
        "L3e",
        "B",
        2019,
        (Period("2019-05-06T10:00", "pingvin"), Period("2021-04-12T18:00", "tiger")),
        farge="06",
        avregistrert=("2022-10-01T09:00", "2023-04-01T09:00"),
    ),
    SisVehicle(
        (("YX1444", "2021-05-10T10:00"),),
        "SISDINKY92742534",
        "KTM",
        "390 DUKE",
        "L3e",
        "B",
        2021,
        (Period("2021-05-10T10:00", "ulv"), Period("2024-04-22T16:00", "foss")),
        farge="10",
    ),
    SisVehicle(
        (("YX1445", "2018-04-09T10:00"),),
        "SISDINKY17931098",
        "TRIUMPH",
        "STREET TRIPLE",
        "L3e",
        "B",
        2018,
        (Period("2018-04-09T10:00", "lykt"), Period("2021-06-14T12:00", "ulv")),
        farge="05",
    ),
    SisVehicle(
        (("YX1480", "2017-07-03T09:00"),),
        "SISDINKY59328113",
        "HIPPE",
        "HA 1300",
        "O2",
        "-",
        2017,
        (Period("2017-07-03T09:00", "gaupe"), Period("2020-09-09T09:00", "jernbane")),
        farge="09",
    ),
    SisVehicle(
        (("CU10942", "2018-08-27T10:00"),),
        "TESTDIGDIR0000016",
        "MITSUBISHI",
        "OUTLANDER",
        "M1",
        "P",
        2018,
        (
            Period("2018-08-27T10:00", "sykkel"),
            Period("2021-04-21T14:02", "kroken", medeier="berger"),
        ),
        kuid=3378119709,
        imid="4628",
        farge="05",
    ),
    SisVehicle(
        (("EC80261", "2021-06-15T10:00"),),
        "TESTDIGDIR0000015",
        "VOLKSWAGEN",
        "ID.4",
        "M1",
        "E",
        2021,
        (Period("2021-06-15T10:00", "foss"), Period("2023-09-01T12:00", "sykkel")),
        kuid=3378119451,
        farge="01",
    ),
    SisVehicle(
        (("CU10001", "2016-01-18T09:00"),),
        "TESTSISDINKY00004",
        "OPEL",
        "ASTRA",
        "M1",
        "D",
        2016,
        (
            Period("2016-01-18T09:00", "blaabaer"),
            Period("2019-01-07T09:00", "leaseplan", leasingtaker="firkant"),
        ),
        kuid=3378041341,
        farge="05",
    ),
    # A vehicle that changed plates: KH 34512 until 2015-04-20, then CU 10943.
    SisVehicle(
        (("KH34512", "2009-03-02T10:00"), ("CU10943", "2015-04-20T09:30")),
        "TESTSISDINKY00011",
        "TOYOTA",
        "AVENSIS",
        "M1",
        "D",
        2009,
        (Period("2009-03-02T10:00", "ugle"), Period("2015-04-20T09:30", "kompass")),
        farge="09",
    ),
    # One VIN, two vehicles: a Volvo 940 scrapped in 2012 and its re-registered twin.
    SisVehicle(
        (("DE24018", "1996-05-13T10:00"),),
        SHARED_VIN,
        "VOLVO",
        "940",
        "M1",
        "B",
        1996,
        (Period("1996-05-13T10:00", "ugle"), Period("2004-09-20T10:00", "gaupe")),
        status=kodeverk.VRAKET,
        status_fom="2012-10-01T10:00",
        farge="08",
    ),
    SisVehicle(
        (("CU10944", "2014-06-02T10:00"),),
        SHARED_VIN,
        "VOLVO",
        "940",
        "M1",
        "B",
        1996,
        (Period("2014-06-02T10:00", "jernbane"), Period("2019-02-18T10:00", "lykt")),
        farge="08",
    ),
)

RESERVED_PLATES: frozenset[str] = frozenset(p for v in VEHICLES for p, _ in v.plates)
