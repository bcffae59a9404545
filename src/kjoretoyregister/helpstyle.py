"""Conventional ``--help`` placeholders for every ``kjoretoyregister`` command.

Typer 0.2x shows Python types as placeholders (``<str>``, ``<bool>``, ``<list[str]>``,
``<int range>``) and required arguments as ``{kjennemerke}...``. Users of command-line tools
read ``TEXT``, ``INTEGER RANGE``, ``KJENNEMERKE...`` and no placeholder at all for a flag, as
click, git and coreutils print them. Typer has no setting for this, so :func:`apply` replaces the
two methods that format them, once, for the whole CLI. It checks that they exist first: if a
Typer release renames them, help falls back to Typer's own style instead of breaking, and
``tests/test_help_style.py`` fails to say so.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, get_args, get_origin
from uuid import UUID

from typer import core

_NAMES: dict[Any, str] = {
    str: "TEXT",
    int: "INTEGER",
    float: "FLOAT",
    bool: "BOOLEAN",
    Path: "PATH",
    UUID: "UUID",
    datetime: "DATETIME",
}
_applied = False


def _type_name(annotation: Any) -> str:
    if get_origin(annotation) is list and len(get_args(annotation)) == 1:
        return _type_name(get_args(annotation)[0])
    if annotation in _NAMES:
        return _NAMES[annotation]
    name = getattr(annotation, "__name__", None) or str(annotation)
    return name.upper()


def _display_type(self: Any, ctx: Any) -> str:
    """``TEXT``, ``INTEGER RANGE``, ``[a|b]``, ``DATE``; empty for a flag (it takes no value)."""
    if getattr(self, "is_flag", False):
        return ""
    desc = self.type_descriptor
    if desc.is_choice:
        return "[" + "|".join(str(getattr(c, "value", c)) for c in desc.choices or ()) + "]"
    if desc.is_datetime:
        formats = desc.parameter_info.formats or ()
        return "DATE" if tuple(formats) == ("%Y-%m-%d",) else "DATETIME"
    if desc.is_path:
        return str(desc.path_type).upper()
    if desc.is_ranged:
        return f"{_type_name(desc.annotation)} RANGE"
    return _type_name(desc.annotation)


def _option_display_type_rich(self: Any, ctx: Any) -> str | None:
    if self.metavar is not None:
        return str(self.metavar)
    shown = _display_type(self, ctx)
    if not shown:
        return None
    return shown + "..." if self.nargs != 1 else shown


def _argument_usage_name(self: Any) -> str:
    """``KJENNEMERKE...`` when required, ``[KJENNEMERKE]`` when not (click's convention)."""
    name = str(self.metavar) if self.metavar is not None else str(self.name).upper()
    if self.nargs != 1:
        name += "..."
    return name if self.required else f"[{name}]"


def apply() -> bool:
    """Install the conventional placeholders (idempotent); False if Typer changed shape."""
    global _applied
    parameter = getattr(core, "_TyperParameter", None)
    option = getattr(core, "TyperOption", None)
    argument = getattr(core, "TyperArgument", None)
    needed = (
        (parameter, "display_type"),
        (option, "display_type_rich"),
        (argument, "_usage_display_name"),
    )
    if any(cls is None or not hasattr(cls, attr) for cls, attr in needed):
        return False
    if not _applied:
        parameter.display_type = _display_type  # type: ignore[union-attr]
        option.display_type_rich = _option_display_type_rich  # type: ignore[union-attr]
        argument._usage_display_name = _argument_usage_name  # type: ignore[union-attr]
        _applied = True
    return True
