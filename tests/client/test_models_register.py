"""Every vehicle of a generated register round-trips through the models without loss."""

from __future__ import annotations

from pathlib import Path

from kjoretoyregister.client.models import Kjoretoy


def test_register_vehicles_round_trip(register_path: Path) -> None:
    """All sampled simulator Kjoretoy objects parse and dump back to the same JSON."""
    from kjoretoyregister.svv.kjoretoy import plain
    from kjoretoyregister.svv.register import Register

    register = Register(register_path)
    try:
        plates = register.sample_kjennemerker(300, seed=11)
        checked = 0
        for plate in plates:
            for result in register.by_kjennemerke(plate, None):
                kjoretoy = plain(result.kjoretoy)  # the technical part is pre-serialised
                model = Kjoretoy.model_validate(kjoretoy)
                dumped = model.model_dump(mode="json", exclude_unset=True, by_alias=True)
                assert dumped == kjoretoy, plate
                assert model.kjennemerke is not None or result.hidden
                checked += 1
    finally:
        register.close()
    assert checked >= 250
