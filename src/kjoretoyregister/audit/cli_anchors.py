"""``kjoretoyregister audit anchor-key …`` and ``audit anchor``: signed anchors of the chain head.

Also the key handling that ``audit verify --anchors`` uses. Every failure is one line on
stderr and exit status 2, checked before anything is created or appended.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Engine

from kjoretoyregister.audit import anchors
from kjoretoyregister.audit.anchors import AnchorCheck, AnchorError
from kjoretoyregister.cliutil import migrate_or_exit, settings_or_exit
from kjoretoyregister.config import Settings
from kjoretoyregister.store.db import make_engine

key_app = typer.Typer(help="The Ed25519 key that signs anchors (kept off the database).")

# Module-level option objects: typer reads them as defaults (ruff B008 wants them hoisted).
_OUT = typer.Option(..., "--out", help="Write the new private key here (mode 0600)")
_KEY = typer.Option(None, "--key", help="Private key file [default: KJR_AUDIT__ANCHOR_KEY_FILE]")
_FILE = typer.Option(
    None, "--file", help="Append to this JSON Lines file [default: KJR_AUDIT__ANCHOR_FILE]"
)


def fail(message: str) -> typer.Exit:
    """Print one error line; the caller raises the returned exit (status 2)."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _signing_key(settings: Settings, key_file: Path | None) -> Ed25519PrivateKey:
    try:
        key = anchors.load_private_key(key_file) if key_file else None
        key = key or anchors.key_from_settings(settings.audit)
    except AnchorError as exc:
        raise fail(str(exc)) from None
    if key is None:
        raise fail("no anchor key: give --key or set KJR_AUDIT__ANCHOR_KEY_FILE")
    return key


def verification_keys(settings: Settings, given: list[str] | None) -> dict[str, Ed25519PublicKey]:
    """Keys ``verify --anchors`` accepts: those given, else the configured key and old ones."""
    try:
        if given:
            keys = [anchors.load_public_key(v) for v in given]
        else:
            own = anchors.key_from_settings(settings.audit)
            keys = [own.public_key()] if own else []
            keys += [anchors.load_public_key(v) for v in settings.audit.anchor_public_keys]
    except AnchorError as exc:
        raise fail(str(exc)) from None
    if not keys:
        raise fail(
            "no public key to check anchors with: give --public-key or configure the anchor key"
        )
    return anchors.accepted_keys(keys)


def read_anchor_files(paths: list[Path]) -> list[tuple[Path, list[dict[str, object]]]]:
    """Every given anchor file, read before the store is opened."""
    try:
        return [(p, anchors.read_anchors(p)) for p in paths]
    except AnchorError as exc:
        raise fail(str(exc)) from None


def check_files(
    engine: Engine,
    files: list[tuple[Path, list[dict[str, object]]]],
    keys: dict[str, Ed25519PublicKey],
) -> AnchorCheck:
    """Check each file's anchors against the store (files one by one: order is per file)."""
    total = AnchorCheck()
    for path, lines in files:
        found = anchors.check_anchors(engine, lines, keys, source=path.name)
        total.checked += found.checked
        total.problems += found.problems
        total.notes += found.notes
    return total


@key_app.command("generate")
def key_generate(
    out: Path = _OUT,
) -> None:
    """Create a signing key; print its public key (PEM) and key id. Never overwrites a file."""
    try:
        key = anchors.generate_key(out)
    except AnchorError as exc:
        raise fail(str(exc)) from None
    public = key.public_key()
    typer.echo(anchors.public_pem(public), nl=False)
    typer.echo(f"key_id: {anchors.key_id(public)}")


@key_app.command("public")
def key_public(
    key_file: Path | None = _KEY,
) -> None:
    """Print the public key (PEM) of a signing key, e.g. to keep after a rotation."""
    key = _signing_key(settings_or_exit(), key_file)
    typer.echo(anchors.public_pem(key.public_key()), nl=False)


def anchor(
    file: Path | None = _FILE,
    key_file: Path | None = _KEY,
) -> None:
    """Sign the current chain head and append it to the anchor file; print the anchor."""
    settings = settings_or_exit()
    key = _signing_key(settings, key_file)
    target = file or settings.audit.anchor_file
    if target is None:
        raise fail("no anchor file: give --file or set KJR_AUDIT__ANCHOR_FILE")
    if not target.parent.is_dir():
        raise fail(f"directory {target.parent} does not exist")
    engine = make_engine(migrate_or_exit(settings.effective_database_url))
    try:
        made = anchors.make_anchor(engine, key)
    except AnchorError as exc:
        raise fail(str(exc)) from None
    finally:
        engine.dispose()
    try:
        anchors.append_anchor(target, made)
    except OSError as exc:
        raise fail(f"cannot append to {target}: {exc.strerror}") from None
    typer.echo(orjson.dumps(made).decode())


def register(app: typer.Typer) -> None:
    """Add ``anchor-key`` and ``anchor`` to the audit app."""
    app.add_typer(key_app, name="anchor-key")
    app.command("anchor")(anchor)
