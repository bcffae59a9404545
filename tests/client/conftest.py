"""Fixtures for the client's end-to-end tests: the real stack and a profile file for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from client.helpers import write_profile
from stack import Stack, ensure_register, start_stack


@pytest.fixture(scope="session")
def register_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small generated register for the session (generation is the slow part)."""
    return ensure_register(tmp_path_factory.mktemp("client-register") / "register.sqlite")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(
    tmp_path_factory: pytest.TempPathFactory, register_path: Path
) -> AsyncIterator[Stack]:
    """Simulator + Maskinporten + Konfigurasjon + gateway, one per test module.

    Starting the stack costs seconds on a shared machine; the tests only read, and the few
    that flip the simulator's fault switches put them back (see ``faults``).
    """
    async with start_stack(tmp_path_factory.mktemp("stack"), register_path=register_path) as s:
        yield s


@pytest_asyncio.fixture(loop_scope="module")
async def faults(stack: Stack) -> AsyncIterator[Stack]:
    """The shared stack, with every simulator switch reset after the test."""
    try:
        yield stack
    finally:
        await stack.sim_faults(outage=False, quota_exceeded=False, fault_rate=0.0, latency_ms=0.0)


@pytest.fixture
def profile_path(stack: Stack, tmp_path: Path) -> Path:
    """A profile file for the running stack."""
    return write_profile(stack, tmp_path / "profile")
