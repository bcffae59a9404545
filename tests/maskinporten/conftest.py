"""Fixtures for the Maskinporten stand-in tests: keys made once, a state and a live server."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from kjoretoyregister.maskinporten.state import MaskinportenState
from kjoretoyregister.maskinporten.testing import RunningMaskinporten, new_rsa_key, running


@pytest.fixture(scope="module")
def rsa_keys() -> list[rsa.RSAPrivateKey]:
    """Four 2048-bit keys, generated once per module (key generation is the slow part)."""
    return [new_rsa_key() for _ in range(4)]


@pytest.fixture(scope="session")
def _template_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state directory with a signing key, made once and copied per test."""
    path = tmp_path_factory.mktemp("mp-template") / "mp"
    MaskinportenState.open(path)
    return path


@pytest.fixture
def state(tmp_path: Path, _template_state: Path) -> MaskinportenState:
    """A fresh state per test (a copy of the template: no key generation per test)."""
    shutil.copytree(_template_state, tmp_path / "mp")
    return MaskinportenState.open(tmp_path / "mp")


@pytest.fixture
async def mp(state: MaskinportenState) -> AsyncIterator[RunningMaskinporten]:
    async with running(state) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
