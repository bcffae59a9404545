"""Configuration: one typed object, env with KJR_ prefix, TOML file, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from kjoretoyregister.cli import app
from kjoretoyregister.config import ConfigError, load_settings


def test_env_overrides_default_and_nested_sections(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KJR_SVV__MAX_BULK_ITEMS", "250")
    monkeypatch.setenv("KJR_GATEWAY__PORT", "9999")
    settings = load_settings()
    assert settings.svv.max_bulk_items == 250
    assert settings.gateway.port == 9999


def test_toml_file_is_read_and_env_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    toml = tmp_path / "kjr.toml"
    toml.write_text('log_level = "debug"\n[svv]\nport = 7001\nmax_antall = 50\n')
    monkeypatch.setenv("KJR_CONFIG_FILE", str(toml))
    monkeypatch.setenv("KJR_SVV__PORT", "7002")
    settings = load_settings()
    assert settings.log_level == "DEBUG"
    assert settings.svv.max_antall == 50
    assert settings.svv.port == 7002


def test_overrides_win_and_merge_with_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KJR_SVV__MAX_ANTALL", "42")
    settings = load_settings(svv={"port": 1234})
    assert settings.svv.port == 1234
    assert settings.svv.max_antall == 42


@pytest.mark.parametrize(
    ("env", "value", "needle"),
    [
        ("KJR_SVV__PORT", "seventy", "KJR_SVV__PORT"),
        ("KJR_SVV__FAULT_RATE", "1.5", "KJR_SVV__FAULT_RATE"),
        ("KJR_LOG_LEVEL", "chatty", "KJR_LOG_LEVEL"),
        ("KJR_NO_SUCH_THING", "1", "KJR_NO_SUCH_THING"),
    ],
)
def test_bad_value_names_the_setting(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, needle: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert needle in str(info.value) or needle.removeprefix("KJR_").lower() in str(info.value)


def test_missing_config_file_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KJR_CONFIG_FILE", "/nonexistent/kjr.toml")
    with pytest.raises(ConfigError, match="is not a file"):
        load_settings()


def test_secrets_are_masked_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KJR_GATEWAY__SVV_PASSWORD", "hemmelig-passord")
    settings = load_settings()
    assert "hemmelig-passord" not in repr(settings)
    assert settings.gateway.svv_password.get_secret_value() == "hemmelig-passord"


def test_every_command_has_help() -> None:
    """`--help` works on the root and on every sub-command group and command."""
    import typer.main

    root = typer.main.get_command(app)
    runner = CliRunner()

    def walk(cmd: object, path: list[str]) -> None:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage" in result.output
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, [*path, name])

    walk(root, [])
