"""Every ``… serve`` command on a taken port: one ``error:`` line and exit 1, no traceback.

Run as real subprocesses (the way a user meets them), each against a port this test holds.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from stack import ensure_register


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def _serve(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kjoretoyregister", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("part", ["gateway", "svv", "maskinporten", "portal", "admin"])
def test_a_taken_port_is_one_clear_line(part: str, taken_port: int, tmp_path: Path) -> None:
    args = [part, "serve", "--port", str(taken_port)]
    env: dict[str, str] = {}
    if part == "svv":
        register = ensure_register(tmp_path / "register.sqlite", vehicles=20)
        args += ["--data", str(register), "--user", f"fiks:{secrets.token_urlsafe(12)}"]
    if part == "admin":
        env["KJR_KONFIG__ADMIN_TOKENS"] = f'["test:{secrets.token_urlsafe(24)}"]'
    if part == "portal":
        env["KJR_PORTAL__CLIENT_SECRET"] = secrets.token_urlsafe(16)
    result = _serve(args, env)
    assert result.returncode == 1, (result.returncode, result.stderr[-800:])
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr[-800:]
    assert f"127.0.0.1:{taken_port}" in errors[0] and "--port" in errors[0]
