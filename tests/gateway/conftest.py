"""Fixtures for the gateway's end-to-end tests: the real stack from :mod:`tests.stack`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from stack import Stack, ensure_register, start_stack


@pytest.fixture(scope="session")
def register_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small generated register for the whole session (generation is the slow part)."""
    return ensure_register(tmp_path_factory.mktemp("register") / "register.sqlite")


@pytest.fixture
async def stack(tmp_path: Path, register_path: Path) -> AsyncIterator[Stack]:
    """Simulator + Maskinporten + Konfigurasjon + gateway, fresh for each test."""
    async with start_stack(tmp_path / "stack", register_path=register_path) as s:
        yield s
