"""Shared fixtures: settings isolation and the real PostgreSQL/Redis services.

PostgreSQL and Redis tests run against the servers this machine kind starts. Locally a missing
server skips those tests; in CI (``CI=true``) it fails them, because they prove behaviour that
only the real server shows.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_HOST, PG_PORT = "127.0.0.1", 5432
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
IN_CI = os.environ.get("CI", "").lower() == "true"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip (locally) or fail (in CI) when a real service the test needs is not there."""
    if _reachable(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if IN_CI:
        pytest.fail(message + " (required in CI)")
    pytest.skip(message)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Each test gets its own data dir and no KJR_ settings leaking in from the shell."""
    for key in list(os.environ):
        if key.startswith("KJR_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("KJR_DATA_DIR", str(tmp_path / "kjr"))
    yield


@pytest.fixture
def postgres_url() -> str:
    require_service("PostgreSQL", PG_HOST, PG_PORT)
    return f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/test"


@pytest.fixture
def redis_url() -> str:
    require_service("Redis", REDIS_HOST, REDIS_PORT)
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/0"
