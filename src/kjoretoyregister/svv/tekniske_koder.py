"""The technical kodeverk (``TEKNISKEDATA.*``) as SVV spells it: ``data/teknisk_kodeverk.json``.

The file holds SVV's own objects (from its answer for the sisdinky vehicles) and, apart, this
project's stand-ins for codes that answer does not show. Each object is built once and shared.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import orjson

Kode = dict[str, Any]


@cache
def _table() -> dict[str, dict[str, Kode]]:
    text = resources.files("kjoretoyregister.svv").joinpath("data/teknisk_kodeverk.json")
    doc = orjson.loads(text.read_bytes())
    table: dict[str, dict[str, Kode]] = {}
    for part in ("svv", "egne"):
        for field, codes in doc[part].items():
            for verdi, rest in codes.items():
                # SVV's key order: kodeBeskrivelse, kodeNavn, kodeTypeId, kodeVerdi, tidligere….
                table.setdefault(field, {})[verdi] = {
                    **rest,
                    "kodeVerdi": verdi,
                    "tidligereKodeVerdi": [],
                }
    return table


def kode(field: str, verdi: str) -> Kode:
    """The shared ``KodeverkType`` of ``field`` (e.g. ``euroKlasse``) with ``kodeVerdi``."""
    return _table()[field][verdi]


def has(field: str, verdi: str) -> bool:
    """Whether the table knows the code."""
    return verdi in _table().get(field, {})
