"""The register's v2 ``Kjoretoy`` as akfell serves it: the "Begrenset" models (svv-api.md §4.4).

:func:`to_akfell` leaves out the :data:`~.mapping.V2_ONLY` fields, adds ``avregistrertSidenDato``
(the time of the AVREGISTRERT status, which is the registrering's ``fomTidspunkt``; SVV's CU11296
shows both equal) and the akfell-only WLTP values SVV holds for its sisdinky vehicles (package
data ``data/sisdinky_wltp.json``: NEDC values, road-load coefficients, test mass, frontal area;
the v2 model has no place for them). Without ``eierskap`` it is the enkeltoppslag's
``EnkeltOppslagKjoretoydata``.

The register's dicts are shared between answers (technical subtrees are cached), so nothing
here changes them: the answer copies only the objects along the changed paths.
"""

from __future__ import annotations

import contextlib
from functools import cache
from importlib import resources
from typing import Any

import orjson

from kjoretoyregister.svv.akfell.mapping import ANY, V2_ONLY, Pattern

Json = dict[str, Any]


@cache
def _wltp_extras() -> dict[str, list[Json]]:
    raw = resources.files("kjoretoyregister.svv.akfell").joinpath("data/sisdinky_wltp.json")
    data: dict[str, list[Json]] = orjson.loads(raw.read_bytes())["kjoretoy"]
    return data


def _drop(value: Any, pattern: Pattern) -> Any:
    """``value`` without the field(s) at ``pattern`` (copied along the path, else shared)."""
    head, rest = pattern[0], pattern[1:]
    if head == ANY:
        if isinstance(value, list):
            return [_drop(item, rest) for item in value]
        return value
    if not isinstance(value, dict) or head not in value:
        return value
    if not rest:
        return {key: item for key, item in value.items() if key != head}
    return {**value, head: _drop(value[head], rest)}


def _with_wltp(kjoretoy: Json, extras: list[Json]) -> Json:
    """Add the akfell-only WLTP values at their (gruppe, forbruk, WLTP object) places
    (below ``mapping.FORBRUK_OG_UTSLIPP``)."""
    godkjenning = dict(kjoretoy["godkjenning"])
    teknisk = dict(godkjenning["tekniskGodkjenning"])
    data = dict(teknisk["tekniskeData"])
    miljo = dict(data["miljodata"])
    grupper = [dict(g) for g in miljo["miljoOgdrivstoffGruppe"]]
    for extra in extras:
        gruppe = grupper[extra["gruppe"]]
        forbruk = [dict(f) for f in gruppe["forbrukOgUtslipp"]]
        target = forbruk[extra["forbruk"]]
        target[extra["wltp"]] = {**target.get(extra["wltp"], {}), **extra["verdier"]}
        gruppe["forbrukOgUtslipp"] = forbruk
    miljo["miljoOgdrivstoffGruppe"] = grupper
    data["miljodata"] = miljo
    teknisk["tekniskeData"] = data
    godkjenning["tekniskGodkjenning"] = teknisk
    return {**kjoretoy, "godkjenning": godkjenning}


def to_akfell(kjoretoy: Json, *, eierskap: bool = True) -> Json:
    """The akfell ``KjoretoyMedBegrensedeEieropplysninger`` (or, without ``eierskap``, the
    enkeltoppslag's ``EnkeltOppslagKjoretoydata``) of a v2 ``Kjoretoy``."""
    result: Any = kjoretoy
    for pattern in V2_ONLY:
        result = _drop(result, pattern)
    if not eierskap:
        result = {key: item for key, item in result.items() if key != "eierskap"}
    registrering = result.get("registrering")
    if (
        isinstance(registrering, dict)
        and registrering.get("registreringsstatus", {}).get("kodeVerdi") == "AVREGISTRERT"
        and "fomTidspunkt" in registrering
    ):
        result["registrering"] = {
            **registrering,
            "avregistrertSidenDato": registrering["fomTidspunkt"],
        }
    vin = result.get("kjoretoyId", {}).get("understellsnummer")
    extras = _wltp_extras().get(vin) if isinstance(vin, str) else None
    if extras:
        # A register whose technical data differ from SVV's is served without them.
        with contextlib.suppress(KeyError, IndexError, TypeError):
            result = _with_wltp(result, extras)
    out: Json = result
    return out
