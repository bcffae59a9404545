"""Pure parts of the akfell profile: the quota's day, and the conversion leaving the register's
shared dicts alone."""

from __future__ import annotations

from datetime import datetime

import orjson
import pytest

from kjoretoyregister.svv.akfell.convert import to_akfell
from kjoretoyregister.svv.akfell.mapping import is_v2_only, leaves
from kjoretoyregister.svv.akfell.quota import DailyQuota, QuotaExhausted
from kjoretoyregister.svv.faults import OSLO
from kjoretoyregister.svv.kjoretoy import plain
from kjoretoyregister.svv.register import Register


def test_quota_is_per_client_and_starts_again_at_midnight_in_norway() -> None:
    now = [datetime(2026, 3, 28, 23, 59, 0, tzinfo=OSLO)]
    quota = DailyQuota(5, now=lambda: now[0])
    assert quota.take("a", 3) == 2
    with pytest.raises(QuotaExhausted) as exhausted:
        quota.take("a", 3)
    assert exhausted.value.remaining == 2
    assert quota.remaining("a") == 2  # a refused answer uses nothing
    assert quota.take("b", 5) == 0
    now[0] = datetime(2026, 3, 29, 0, 0, 1, tzinfo=OSLO)
    assert quota.remaining("a") == 5 and quota.take("b", 1) == 4


def test_conversion_leaves_the_registers_dicts_unchanged(svv_register: Register) -> None:
    """The register shares technical subtrees between answers: converting must not edit them."""
    for plate in ["CU11296", "CU11297", "CU11293", *svv_register.sample_kjennemerker(20, seed=1)]:
        [found] = svv_register.by_kjennemerke(plate, None)
        # Generated vehicles hold tekniskeData pre-serialised (orjson.Fragment): compare bytes.
        before_bytes = orjson.dumps(found.kjoretoy)
        before = plain(found.kjoretoy)
        akfell = plain(to_akfell(found.kjoretoy))
        assert orjson.dumps(found.kjoretoy) == before_bytes
        assert not [path for path, _ in leaves(akfell) if is_v2_only(path)]
        assert "eierskap" not in to_akfell(found.kjoretoy, eierskap=False)
        if before["registrering"]["registreringsstatus"]["kodeVerdi"] == "AVREGISTRERT":
            assert (
                akfell["registrering"]["avregistrertSidenDato"]
                == (before["registrering"]["fomTidspunkt"])
            )
        else:
            assert "avregistrertSidenDato" not in akfell["registrering"]
