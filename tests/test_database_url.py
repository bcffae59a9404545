"""A bad ``KJR_DATABASE_URL``: one ``error:`` line naming what is valid, nothing created.

The commands run as real subprocesses, the way a user meets them; the URL check itself is
also tested directly.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from kjoretoyregister.config import DATABASE_FORMS, checked_database_url

COMMANDS = [["admin", "org", "list"], ["audit", "verify"]]


def _run(args: list[str], url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kjoretoyregister", *args],
        env={**os.environ, "KJR_DATABASE_URL": url},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:"), lines[0]
    return lines[0]


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
@pytest.mark.parametrize("url", ["foo://x", "mysql://root@127.0.0.1/test", "not a url"])
def test_an_unsupported_url_names_the_valid_forms(
    args: list[str], url: str, tmp_path: Path
) -> None:
    result = _run(args, url, tmp_path)
    assert result.returncode == 2, result.stderr
    line = _one_error_line(result)
    assert "valid forms" in line and "sqlite:///" in line and "postgresql+psycopg://" in line


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_a_missing_sqlite_folder_is_refused_not_created(args: list[str], tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such"
    result = _run(args, f"sqlite:///{missing}/k.db", tmp_path)
    assert result.returncode == 2, result.stderr
    assert "does not exist" in _one_error_line(result)
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_an_unreachable_postgresql_is_one_line_with_a_hint(args: list[str], tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on: bound here, never listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        result = _run(args, f"postgresql://kjr:hemmelig@127.0.0.1:{port}/x", tmp_path)
    assert result.returncode == 1, result.stderr
    line = _one_error_line(result)
    assert "cannot open database" in line and "KJR_DATABASE_URL" in line
    assert "hemmelig" not in line  # the password is never printed


def test_a_good_sqlite_url_still_works(tmp_path: Path) -> None:
    result = _run(["admin", "org", "list", "--json"], f"sqlite:///{tmp_path}/k.db", tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert (tmp_path / "k.db").exists()


class TestCheckedDatabaseUrl:
    def test_plain_postgresql_gets_the_installed_driver(self) -> None:
        assert checked_database_url("postgresql://u@h:5432/d") == "postgresql+psycopg://u@h:5432/d"
        assert checked_database_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"

    def test_sqlite_forms_pass_unchanged(self, tmp_path: Path) -> None:
        for url in ("sqlite://", "sqlite:///:memory:", f"sqlite:///{tmp_path}/x.db"):
            assert checked_database_url(url) == url

    @pytest.mark.parametrize("url", ["foo://x", "postgresql+psycopg2://u@h/d", "oracle://h/d"])
    def test_other_drivers_are_refused_with_the_forms(self, url: str) -> None:
        with pytest.raises(ValueError, match="valid forms") as info:
            checked_database_url(url)
        assert DATABASE_FORMS in str(info.value)
