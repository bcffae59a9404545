"""The audit commands find the store through settings and migrate it up themselves."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from kjoretoyregister.cli import app

runner = CliRunner()


def test_commands_migrate_an_empty_default_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No KJR_DATABASE_URL: the default SQLite file in the data dir is created and migrated,
    and the key file is generated on first use."""
    monkeypatch.setenv("KJR_DATA_DIR", str(tmp_path / "data"))
    result = runner.invoke(app, ["audit", "verify", "--json"])
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.output)["head_seq"] == 0
    result = runner.invoke(app, ["audit", "usage", "--month", "2026-11", "--json"])
    assert result.exit_code == 0 and orjson.loads(result.output) == []
    assert (tmp_path / "data" / "kjoretoyregister.db").exists()
    assert (tmp_path / "data" / "audit.key").exists()


def test_bad_time_filter_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KJR_DATA_DIR", str(tmp_path / "data"))
    result = runner.invoke(app, ["audit", "search", "--since", "last tuesday"])
    assert result.exit_code == 2
