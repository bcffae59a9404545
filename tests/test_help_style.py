"""Every ``--help`` uses conventional placeholders: TEXT, INTEGER, KJENNEMERKE..., no flag value."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import typer
from typer.testing import CliRunner

from kjoretoyregister.cli import app

# What Typer 0.2x prints when left alone: Python types and braces around required arguments.
_PYTHON_STYLE = re.compile(r"<(str|bool|int|float|path|list\[[^\]]*\]|int range|float range)>")


def _commands(group: object, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    commands = getattr(group, "commands", None)
    if not commands:
        yield path
        return
    yield path
    for name, command in sorted(commands.items()):
        if not getattr(command, "hidden", False):
            yield from _commands(command, (*path, name))


ALL = list(_commands(typer.main.get_command(app)))


def test_the_walk_finds_the_commands() -> None:
    assert ("oppslag", "kjennemerke") in ALL and ("audit", "search") in ALL and len(ALL) > 30


@pytest.mark.parametrize("path", ALL, ids=lambda p: " ".join(p) or "root")
def test_help_placeholders(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    text = result.output
    assert not _PYTHON_STYLE.search(text), text
    usage = next(line for line in text.splitlines() if "Usage:" in line)
    assert "{" not in usage, usage


def test_examples() -> None:
    out = CliRunner().invoke(app, ["oppslag", "kjennemerke", "--help"], env={"COLUMNS": "200"})
    usage = next(line for line in out.output.splitlines() if "Usage:" in line)
    assert usage.strip().endswith("[OPTIONS] KJENNEMERKE...")
    json_row = next(line for line in out.output.splitlines() if "--json" in line)
    assert "TEXT" not in json_row and "BOOLEAN" not in json_row  # a flag takes no value
    out = CliRunner().invoke(app, ["audit", "search", "--help"], env={"COLUMNS": "200"})
    assert "INTEGER RANGE" in out.output
