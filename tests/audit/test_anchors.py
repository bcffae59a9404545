"""Signed anchors catch what the chain alone cannot: a re-hashed chain and a cut-off tail. They
cannot be forged without the private key, survive a key rotation and a retention purge, and
the gateway's writer appends them by itself."""

from __future__ import annotations

import asyncio
import base64
import functools
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, text
from typer.testing import CliRunner, Result

from kjoretoyregister.audit import anchors, retention
from kjoretoyregister.audit.pseudonyms import Pseudonymizer
from kjoretoyregister.audit.writer import DurableAuditSink
from kjoretoyregister.cli import app
from kjoretoyregister.config import ConfigError, load_settings

from .conftest import EventFactory
from .test_verify import N, _delete, _fill, _rewrite_chain

runner = CliRunner()


def _cli(*args: str) -> Result:
    return runner.invoke(app, ["audit", *args])


def _new_key(path: Path) -> str:
    """Generate a key through the CLI; return its key id."""
    result = _cli("anchor-key", "generate", "--out", str(path))
    assert result.exit_code == 0, result.output
    assert "BEGIN PUBLIC KEY" in result.stdout
    return result.stdout.rsplit("key_id: ", 1)[1].strip()


def _public(key: Path, tmp_path: Path) -> Path:
    result = _cli("anchor-key", "public", "--key", str(key))
    assert result.exit_code == 0, result.output
    out = tmp_path / f"{key.stem}.pub"
    out.write_text(result.stdout)
    return out


def _anchor(file: Path, key: Path | None = None) -> dict[str, Any]:
    args = ["anchor", "--file", str(file)] + (["--key", str(key)] if key else [])
    result = _cli(*args)
    assert result.exit_code == 0, result.output
    made: dict[str, Any] = orjson.loads(result.stdout)
    return made


def _verify(file: Path, *public: Path) -> tuple[int, dict[str, Any]]:
    args = ["verify", "--json", "--anchors", str(file)]
    for p in public:
        args += ["--public-key", str(p)]
    result = _cli(*args)
    assert result.exit_code in (0, 1), result.output
    report: dict[str, Any] = orjson.loads(result.stdout)
    return result.exit_code, report


def _kinds(report: dict[str, Any]) -> set[tuple[str, int | None]]:
    return {(p["kind"], p["seq"]) for p in report["problems"]}


def _lines(file: Path) -> list[bytes]:
    return file.read_bytes().splitlines()


def _one_line_error(result: Result) -> None:
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("error: ")


def test_intact_chain_with_anchors_verifies(
    engine: Engine, pz: Pseudonymizer, event: EventFactory, cli_env: str, tmp_path: Path
) -> None:
    key, file = tmp_path / "anchor.key", tmp_path / "anchors.jsonl"
    kid = _new_key(key)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    _fill(engine, pz, event)
    first = _anchor(file, key)
    assert first["seq"] == N and first["entry_count"] == N and first["key_id"] == kid
    assert set(first) == {"v", "seq", "hash", "entry_count", "time", "key_id", "sig"}
    _fill(engine, pz, event, 2)  # the chain grows past an anchor: still consistent
    _anchor(file, key)
    assert len(_lines(file)) == 2
    code, report = _verify(file, _public(key, tmp_path))
    assert code == 0 and report["ok"] and report["anchors_checked"] == 2, report
    # The human output says the anchors were checked.
    result = _cli("verify", "--anchors", str(file), "--public-key", str(_public(key, tmp_path)))
    assert result.exit_code == 0 and "2 anchor(s): intact" in result.stdout


def test_truncated_tail_with_a_fixed_head_is_found(
    engine: Engine, pz: Pseudonymizer, event: EventFactory, cli_env: str, tmp_path: Path
) -> None:
    key, file = tmp_path / "anchor.key", tmp_path / "anchors.jsonl"
    _new_key(key)
    _fill(engine, pz, event)
    _anchor(file, key)
    with engine.begin() as conn:
        for seq in (N, N - 1):
            _delete(conn, seq)
        last = conn.execute(
            text("SELECT hash FROM audit_entry WHERE seq = :s"), {"s": N - 2}
        ).scalar_one()
        head = text("UPDATE audit_chain_head SET seq = :s, hash = :h")
        conn.execute(head, {"s": N - 2, "h": last})
    assert _cli("verify").exit_code == 0  # the chain alone looks whole
    code, report = _verify(file, _public(key, tmp_path))
    assert code == 1
    assert _kinds(report) == {(anchors.TRUNCATED, N)}


def test_rehashed_chain_is_found(
    engine: Engine, pz: Pseudonymizer, event: EventFactory, cli_env: str, tmp_path: Path
) -> None:
    key, file = tmp_path / "anchor.key", tmp_path / "anchors.jsonl"
    _new_key(key)
    _fill(engine, pz, event)
    _anchor(file, key)
    _rewrite_chain(engine, 2)
    assert _cli("verify").exit_code == 0
    code, report = _verify(file, _public(key, tmp_path))
    assert code == 1
    assert _kinds(report) == {(anchors.REWRITTEN, N)}


def test_forged_anchors_are_found(
    engine: Engine,
    pz: Pseudonymizer,
    event: EventFactory,
    cli_env: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After a re-hash the attacker edits the anchor to match: unsigned, or signed by own key."""
    key, file = tmp_path / "anchor.key", tmp_path / "anchors.jsonl"
    _new_key(key)
    monkeypatch.setenv("KJR_AUDIT__ANCHOR_KEY_FILE", str(key))  # verify's default keys
    _fill(engine, pz, event)
    genuine = _anchor(file)
    _rewrite_chain(engine, 2)
    with engine.connect() as conn:
        new_hash = conn.execute(text("SELECT hash FROM audit_chain_head")).scalar_one()

    edited = {**genuine, "hash": new_hash}
    resigned = anchors.sign(edited, Ed25519PrivateKey.generate())
    for forged, why in ((edited, "signature"), (resigned, "not an accepted key")):
        file.write_bytes(orjson.dumps(forged) + b"\n")
        code, report = _verify(file)
        assert code == 1
        assert _kinds(report) == {(anchors.FORGED, N)}
        assert why in report["problems"][0]["message"]


def test_key_rotation_keeps_old_anchors_verifiable(
    engine: Engine,
    pz: Pseudonymizer,
    event: EventFactory,
    cli_env: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old, new, file = tmp_path / "old.key", tmp_path / "new.key", tmp_path / "anchors.jsonl"
    old_id, new_id = _new_key(old), _new_key(new)
    assert old_id != new_id
    monkeypatch.setenv("KJR_AUDIT__ANCHOR_KEY_FILE", str(old))
    _fill(engine, pz, event, 2)
    assert _anchor(file)["key_id"] == old_id
    old_pub = _public(old, tmp_path)

    # Rotate: the new key signs, the old public key is still accepted.
    monkeypatch.setenv("KJR_AUDIT__ANCHOR_KEY_FILE", str(new))
    _fill(engine, pz, event, 2)
    assert _anchor(file)["key_id"] == new_id
    code, report = _verify(file)
    assert code == 1 and _kinds(report) == {(anchors.FORGED, 2)}  # old key not accepted yet
    monkeypatch.setenv("KJR_AUDIT__ANCHOR_PUBLIC_KEYS", orjson.dumps([str(old_pub)]).decode())
    code, report = _verify(file)
    assert code == 0, report
    # Explicit --public-key replaces the defaults: only the old key → the new anchor is forged.
    code, report = _verify(file, old_pub)
    assert code == 1 and _kinds(report) == {(anchors.FORGED, 4)}


def test_reordered_anchor_lines_are_found(
    engine: Engine, pz: Pseudonymizer, event: EventFactory, cli_env: str, tmp_path: Path
) -> None:
    key, file = tmp_path / "anchor.key", tmp_path / "anchors.jsonl"
    _new_key(key)
    for _ in range(3):
        _fill(engine, pz, event, 1)
        _anchor(file, key)
    a, b, c = _lines(file)
    file.write_bytes(b"\n".join([a, c, b]) + b"\n")
    code, report = _verify(file, _public(key, tmp_path))
    assert code == 1
    assert _kinds(report) == {(anchors.REORDERED, 2)}


def test_anchors_before_a_purge_are_noted_not_alarms(
    engine: Engine, pz: Pseudonymizer, event: EventFactory, cli_env: str, tmp_path: Path
) -> None:
    key, file = tmp_path / "anchor.key", tmp_path / "anchors.jsonl"
    _new_key(key)
    now = datetime.now(UTC)
    for i in range(3):
        _fill(engine, pz, functools.partial(event, time=now - timedelta(days=400 - i)), 1)
        if i:
            _anchor(file, key)  # seq 2, then seq 3 (the purge's new base)
    _fill(engine, pz, event, 2)
    _anchor(file, key)  # seq 5, kept
    result = retention.purge(engine, retention_days=30, actor="test")
    assert result.anchor_seq == 3
    code, report = _verify(file, _public(key, tmp_path))
    assert code == 0, report
    assert len(report["notes"]) == 1 and "seq 2 was purged" in report["notes"][0]


def test_cli_errors_are_one_line_and_write_nothing(
    cli_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, file = tmp_path / "anchor.key", tmp_path / "anchors.jsonl"
    _new_key(key)
    before = key.read_bytes()
    _one_line_error(_cli("anchor-key", "generate", "--out", str(key)))
    assert key.read_bytes() == before

    # No key anywhere, a key that is not one, a missing key file: nothing is appended.
    _one_line_error(_cli("anchor", "--file", str(file)))
    garbage = tmp_path / "garbage.key"
    garbage.write_text("not a key")
    _one_line_error(_cli("anchor", "--file", str(file), "--key", str(garbage)))
    _one_line_error(_cli("anchor", "--file", str(file), "--key", str(tmp_path / "nope.key")))
    _one_line_error(_cli("anchor", "--key", str(key)))  # no file given or configured
    assert not file.exists()

    # verify: no key to check with, an unreadable or broken anchor file.
    file.write_text('{"v": 1}\n')
    _one_line_error(_cli("verify", "--anchors", str(file)))
    _one_line_error(_cli("verify", "--anchors", str(tmp_path / "missing.jsonl")))
    file.write_text("not json\n")
    _one_line_error(_cli("verify", "--anchors", str(file), "--public-key", str(key)))

    monkeypatch.setenv("KJR_AUDIT__ANCHOR_KEY", "-----BEGIN PRIVATE KEY-----\nbroken")
    _one_line_error(_cli("anchor", "--file", str(tmp_path / "other.jsonl")))
    assert not (tmp_path / "other.jsonl").exists()


def test_a_key_and_a_key_file_together_are_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KJR_AUDIT__ANCHOR_KEY_FILE", str(tmp_path / "a.key"))
    monkeypatch.setenv("KJR_AUDIT__ANCHOR_KEY", "x")
    with pytest.raises(ConfigError, match="not both"):
        load_settings()


def test_writer_anchors_periodically_and_on_close(
    engine: Engine, pz: Pseudonymizer, event: EventFactory, tmp_path: Path
) -> None:
    key = anchors.generate_key(tmp_path / "anchor.key")
    file = tmp_path / "anchors.jsonl"

    async def go() -> int:
        sink = DurableAuditSink(
            engine, pz, anchor_key=key, anchor_file=file, anchor_interval_s=0.01
        )
        async with sink:
            for i in range(5):
                await sink.record(event(integrasjon=f"int-{i}"))
                await asyncio.sleep(0.05)
        return sink.anchors

    written = asyncio.run(go())
    lines = anchors.read_anchors(file)
    assert written == len(lines) >= 2
    assert lines[-1]["seq"] == 5  # the last commit is pinned when the writer stops
    found = anchors.check_anchors(engine, lines, anchors.accepted_keys([key.public_key()]))
    assert found.checked == len(lines) and not found.problems


def test_writer_takes_the_key_from_settings(
    engine: Engine,
    pz: Pseudonymizer,
    event: EventFactory,
    cli_env: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The key as base64 of its PEM in the environment (no key file on the host)."""
    key_file = tmp_path / "anchor.key"
    key = anchors.generate_key(key_file)
    monkeypatch.setenv("KJR_AUDIT__ANCHOR_KEY", base64.b64encode(key_file.read_bytes()).decode())
    os.remove(key_file)
    file = tmp_path / "anchors.jsonl"
    monkeypatch.setenv("KJR_AUDIT__ANCHOR_FILE", str(file))

    async def go() -> None:
        async with DurableAuditSink.from_settings(load_settings()) as sink:
            await sink.record(event())

    asyncio.run(go())
    lines = anchors.read_anchors(file)
    assert [a["seq"] for a in lines] == [1]
    assert lines[0]["key_id"] == anchors.key_id(key.public_key())


def test_writer_without_an_anchor_file_writes_none(
    engine: Engine, pz: Pseudonymizer, event: EventFactory, tmp_path: Path
) -> None:
    key = anchors.generate_key(tmp_path / "anchor.key")

    async def go() -> int:
        async with DurableAuditSink(engine, pz, anchor_key=key, anchor_interval_s=0.01) as sink:
            await sink.record(event())
        return sink.anchors

    assert asyncio.run(go()) == 0
    assert not list(tmp_path.glob("*.jsonl"))
