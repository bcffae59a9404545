"""``kjoretoyregister svv serve``: refusing bad start-ups clearly, and serving for real."""

from __future__ import annotations

import base64
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from kjoretoyregister.cli import app
from kjoretoyregister.config import load_settings
from kjoretoyregister.svv.server import V2

runner = CliRunner()


def test_refuses_to_start_without_users(svv_register_path: Path) -> None:
    result = runner.invoke(app, ["svv", "serve", "--data", str(svv_register_path)])
    assert result.exit_code == 2
    assert "error: no users configured" in result.output


def test_bad_user_entry_is_named_not_echoed(svv_register_path: Path) -> None:
    result = runner.invoke(
        app, ["svv", "serve", "--data", str(svv_register_path), "--user", "fiks:hemmelig:ROOT"]
    )
    assert result.exit_code == 2
    assert "ROOT" in result.output
    assert "hemmelig" not in result.output


def test_missing_or_bad_register_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["svv", "serve", "--user", "a:b"])
    assert result.exit_code == 2
    assert "error: no register file" in result.output
    bad = tmp_path / "not-a-register.sqlite"
    bad.write_bytes(b"hello")
    result = runner.invoke(app, ["svv", "serve", "--user", "a:b", "--data", str(bad)])
    assert result.exit_code == 2
    assert "cannot open register" in result.output


def test_users_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """KJR_SVV__USERS is a JSON list; the passwords never show in a printed Settings."""
    monkeypatch.setenv("KJR_SVV__USERS", '["fiks:hemmelig:KJORETOYSOK", "admin:pw2"]')
    settings = load_settings()
    assert [u.get_secret_value() for u in settings.svv.users] == [
        "fiks:hemmelig:KJORETOYSOK",
        "admin:pw2",
    ]
    assert "hemmelig" not in repr(settings)
    result = runner.invoke(app, ["svv", "serve"])  # users are fine; the data file is missing
    assert "error: no register file" in result.output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_serve_answers_over_http(svv_register_path: Path) -> None:
    """The real command in a child process, on a real port: a bulk lookup of CU11297."""
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kjoretoyregister",
            "svv",
            "serve",
            "--data",
            str(svv_register_path),
            "--port",
            str(port),
            "--user",
            "fiks:hemmelig:KJORETOYOPPSLAG",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}{V2}/bulk/kjennemerke",
            data=orjson.dumps([{"kjennemerke": "cu11297"}]),
            headers={
                "Content-Type": "application/json",
                "Authorization": "Basic " + base64.b64encode(b"fiks:hemmelig").decode(),
            },
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    body = orjson.loads(response.read())
                    break
            except (urllib.error.URLError, ConnectionError):
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                assert time.monotonic() < deadline, "svv serve did not come up"
                time.sleep(0.1)
        assert body[0]["kjoretoy"]["kjoretoyId"]["kjennemerke"] == "CU 11297"
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=15)
    assert b"hemmelig" not in output
