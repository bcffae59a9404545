# ruff: noqa: S608  (SQL text is built from this module's constants only; values are bound)
"""akfell's person and organisation lookups: the vehicles a holder has a role on at a dtg.

- person: eier, medeier or leasingtaker with this fødselsnummer/d-nummer **and** this etternavn
  ("written exactly as in the Folkeregister": compared exactly, case aside, since the register
  keeps names in upper case); no such person is ``FNR_ETTERNAVN_UKJENT``;
- organisasjon: eier or medeier with this organisasjonsnummer (akfell's request schema says
  "eier eller medeier"), a page ``side`` (from 0) of ``antall`` vehicles ordered by kuid.

Wholly withheld vehicles are left out, as the v2 searches do. At ``dtg`` None only current
roles count (an indexed read); a past ``dtg`` reads the holder's ended roles too, which scans
the role table (fine for the simulator's sizes; slow on a Norway-scale register).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from kjoretoyregister.svv.kjoretoy import valid_at
from kjoretoyregister.svv.register import Register, VehicleResult, _epoch
from kjoretoyregister.svv.register_search import IN_JSON, json_list
from kjoretoyregister.svv.registerfile import ORGANISASJON, PERSON, SKJERMING_INGEN

_PERSON_ROLES = 3  # eier, medeier, leasingtaker
_ORG_ROLES = 2  # eier, medeier


class TooManyHits(Exception):
    """More vehicles than the allowed maximum."""


def _kuids(
    register: Register, kunder: Sequence[int], roles: int, dtg: datetime | None
) -> list[int]:
    if not kunder:
        return []
    t = _epoch(dtg)
    sql = (
        "SELECT e.kuid, e.fom, e.tom FROM eierskap e JOIN kjoretoy v ON v.kuid = e.kuid "
        f"WHERE e.kunde {IN_JSON} AND e.rolle < ? AND v.skjerming = ?"
    )
    if t is None:
        sql += " AND e.tom IS NULL"
    rows = register._conn().execute(sql, (json_list(kunder), roles, SKJERMING_INGEN))
    return sorted({kuid for kuid, fom, tom in rows if valid_at(fom, tom, t)})


def _build(register: Register, kuids: Sequence[int], dtg: datetime | None) -> list[VehicleResult]:
    t = _epoch(dtg)
    built = register._build(register._conn(), [(kuid, t) for kuid in kuids])
    return [result for result in built if result is not None]


def person_vehicles(
    register: Register, fodselsnummer: str, etternavn: str, dtg: datetime | None, *, limit: int
) -> list[VehicleResult] | None:
    """The person's vehicles at ``dtg``; None when no person has that fnr and etternavn.

    Raises:
        TooManyHits: more than ``limit`` vehicles.
    """
    name_id = register._etternavn.get(etternavn.upper())
    if name_id is None:
        return None
    kunder = [
        row[0]
        for row in register._conn().execute(
            "SELECT id FROM kunder WHERE ident = ? AND type = ? AND etternavn = ?",
            (int(fodselsnummer), PERSON, name_id),
        )
    ]
    if not kunder:
        return None
    kuids = _kuids(register, kunder, _PERSON_ROLES, dtg)
    if len(kuids) > limit:
        raise TooManyHits()
    return _build(register, kuids, dtg)


def organisation_vehicles(
    register: Register, organisasjonsnummer: str, dtg: datetime | None, *, side: int, antall: int
) -> list[VehicleResult] | None:
    """Page ``side`` of the organisation's vehicles at ``dtg``; None for an unknown orgnr."""
    kunder = [
        row[0]
        for row in register._conn().execute(
            "SELECT id FROM kunder WHERE ident = ? AND type = ?",
            (int(organisasjonsnummer), ORGANISASJON),
        )
    ]
    if not kunder:
        return None
    kuids = _kuids(register, kunder, _ORG_ROLES, dtg)
    return _build(register, kuids[side * antall : (side + 1) * antall], dtg)
