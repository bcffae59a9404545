"""The client's public API is exactly ``__all__``: complete, sorted, and importable."""

from __future__ import annotations

import kjoretoyregister.client as client


def test_all_is_sorted_and_importable() -> None:
    """Every name in __all__ exists; the list is sorted so additions are reviewed."""
    assert client.__all__ == sorted(client.__all__)
    for name in client.__all__:
        assert getattr(client, name) is not None


def test_every_public_name_is_exported() -> None:
    """Nothing public sits in the package namespace without being in __all__."""
    modules = {"akfell", "cards", "cli", "display", "errors", "maskinporten", "models", "profile"}
    public = {
        n for n in vars(client) if not n.startswith("_") and n not in modules and n != "annotations"
    }
    assert public == set(client.__all__)
