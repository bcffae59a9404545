"""Layout of the register file (one SQLite file) written by ``svv generate``.

Small lookup tables make the file self-contained (names, streets, postal areas, næringskoder,
colours, model variants with their technical JSON), so a register stays readable when the
embedded data of this package changes. The big tables hold small integers:

- ``kjoretoy``: one row per vehicle; ``kuid`` is the row id. The vehicle points at a model
  variant and a colour; registration history is derived from ``forstereg`` (first
  registration), the owner changes, one optional temporary deregistration and the current
  status with its start (see :func:`kjoretoyregister.svv.kjoretoy.registrering_at`).
- ``kjennemerker``: plate intervals ``[fom, tom)`` per vehicle, clustered by kuid.
- ``eierskap``: role intervals per vehicle (rolle 0 eier, 1 medeier, 2 leasingtaker,
  3 underenhet), clustered by kuid, pointing at ``kunder``.
- ``kunder``: persons (type 0, fornavn/mellomnavn/etternavn as ``navn`` ids) and organisations
  (type 1, name as text); ``id`` is the kundeId.
- ``kundeadresser``: the ``Adresse`` JSON of a kunde whose address is SVV's own (the sisdinky
  persons and units), used instead of the one built from gate/husnr/post.
- ``fastdata``: SVV's own values of a fixed (sisdinky) vehicle, as JSON: ``godkjenning``
  (without the variant's subtrees), ``periodiskKjoretoyKontroll`` and ``vedtak`` ([role fom,
  vedtakstidspunkt] pairs). Its variant is a ``modellvarianter`` row of its own (``"fast"``).

Times are Unix seconds (UTC) with milliseconds, as REAL values (SVV's times carry
milliseconds; the sisdinky rows hold SVV's own); ``tom`` NULL means "still so". Indexes are
built after loading.
"""

from __future__ import annotations

SCHEMA_VERSION = 2

# Roles in ``eierskap.rolle``, in the order the Eierforhold object lists them.
ROLLER = ("eier", "medeier", "leasingtaker", "underenhet")
EIER, MEDEIER, LEASINGTAKER, UNDERENHET = range(4)

# ``kjoretoy.skjerming``: how much is withheld (unntattOffentlighet).
SKJERMING_INGEN, SKJERMING_EIERSKAP, SKJERMING_HELT = 0, 1, 2

# ``kjoretoy.flagg`` bits.
FLAGG_BRUKTIMPORT = 1

# ``kunder.flagg`` bits.
KUNDE_SVALBARD = 1  # adressestatus SVALBARD (else VANLIG_BOSATT)
KUNDE_UVERIFISERT = 2  # erUverifisert
KUNDE_UNNTATT = 4  # erUnntattOffentlighet: the address is not given out

PERSON, ORGANISASJON = 0, 1

# Id ranges: kundeId = base + index; navn ids for etternavn start at ETTERNAVN_BASE.
PERSON_BASE = 110_000_000
SISDINKY_KUNDE_BASE = 124_000_000
ORG_BASE = 190_000_000
ETTERNAVN_BASE = 10_000
KUID_BASE = 3_000_000_017
KUID_STRIDE = 37

TABLES = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE fylker (nummer TEXT PRIMARY KEY, navn TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE poststeder (
    id INTEGER PRIMARY KEY,
    postnummer TEXT NOT NULL,
    poststed TEXT NOT NULL,
    kommunenummer TEXT NOT NULL,
    kommunenavn TEXT NOT NULL,
    fylkesnummer TEXT NOT NULL
);
CREATE TABLE gatenavn (id INTEGER PRIMARY KEY, navn TEXT NOT NULL);
CREATE TABLE navn (id INTEGER PRIMARY KEY, liste TEXT NOT NULL, navn TEXT NOT NULL);
CREATE TABLE naeringskoder (id INTEGER PRIMARY KEY, kode TEXT NOT NULL, beskrivelse TEXT NOT NULL);
CREATE TABLE farger (id INTEGER PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE modellvarianter (
    id INTEGER PRIMARY KEY,
    merkekode TEXT NOT NULL,
    klasse TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE kunder (
    id INTEGER PRIMARY KEY,
    type INTEGER NOT NULL,
    ident INTEGER NOT NULL,
    fornavn INTEGER,
    mellomnavn INTEGER,
    etternavn INTEGER,
    orgnavn TEXT,
    fonetisk TEXT,
    gate INTEGER NOT NULL,
    husnr INTEGER NOT NULL,
    post INTEGER NOT NULL,
    flagg INTEGER NOT NULL,
    naering INTEGER
);
CREATE TABLE kjoretoy (
    kuid INTEGER PRIMARY KEY,
    vin TEXT NOT NULL,
    variant INTEGER NOT NULL,
    farge INTEGER NOT NULL,
    forstereg INTEGER NOT NULL,
    status INTEGER NOT NULL,
    status_fom INTEGER,
    avreg_fom INTEGER,
    avreg_tom INTEGER,
    art INTEGER NOT NULL,
    skjerming INTEGER NOT NULL,
    flagg INTEGER NOT NULL,
    imid TEXT
);
CREATE TABLE kundeadresser (kunde INTEGER PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE fastdata (kuid INTEGER PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE kjennemerker (
    kuid INTEGER NOT NULL,
    fom INTEGER NOT NULL,
    kjennemerke TEXT NOT NULL,
    tom INTEGER,
    kategori INTEGER NOT NULL,
    PRIMARY KEY (kuid, fom, kjennemerke)
) WITHOUT ROWID;
CREATE TABLE eierskap (
    kuid INTEGER NOT NULL,
    rolle INTEGER NOT NULL,
    fom INTEGER NOT NULL,
    tom INTEGER,
    kunde INTEGER NOT NULL,
    PRIMARY KEY (kuid, rolle, fom)
) WITHOUT ROWID;
"""

# Built after the bulk load (much faster than maintaining them row by row).
INDEXES: tuple[tuple[str, str], ...] = (
    ("kjennemerker", "CREATE INDEX kjennemerker_kjennemerke ON kjennemerker (kjennemerke, tom)"),
    ("kjoretoy", "CREATE INDEX kjoretoy_vin ON kjoretoy (vin)"),
    ("eierskap", "CREATE INDEX eierskap_kunde ON eierskap (kunde) WHERE tom IS NULL"),
    ("kunder", "CREATE INDEX kunder_ident ON kunder (ident)"),
    (
        "kunder",
        "CREATE INDEX kunder_personnavn ON kunder (etternavn, fornavn, mellomnavn) WHERE type = 0",
    ),
    ("kunder", "CREATE INDEX kunder_orgnavn ON kunder (orgnavn) WHERE type = 1"),
    ("kunder", "CREATE INDEX kunder_fonetisk ON kunder (fonetisk) WHERE type = 1"),
)
