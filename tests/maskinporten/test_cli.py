"""The admin commands and `maskinporten serve`, as an operator runs them."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography import x509
from typer.testing import CliRunner

from kjoretoyregister.cli import app
from kjoretoyregister.client.maskinporten import MaskinportenTokenProvider, load_private_key
from kjoretoyregister.logs import configure_logging
from kjoretoyregister.maskinporten import certs
from kjoretoyregister.maskinporten.state import MaskinportenState

from .helpers import KOMMUNE, SUPPLIER

runner = CliRunner()


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """The CLI binds logging to CliRunner's stderr, which is closed afterwards; rebind it.

    Without this, any later test in the session that logs would write to a closed file.
    """
    yield
    configure_logging()


def run(*args: str) -> Any:
    """Run `kjoretoyregister maskinporten …` with --json and return the parsed output."""
    result = runner.invoke(app, ["maskinporten", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def fails(*args: str) -> str:
    result = runner.invoke(app, ["maskinporten", *args])
    assert result.exit_code != 0, result.output
    return result.output


def test_client_register_with_generated_key(tmp_path: Path) -> None:
    key_path = tmp_path / "fagsystem.pem"
    out = run(
        "client", "register", "--client-id", "fagsystem", "--orgnr", SUPPLIER,
        "--generate-key", str(key_path),
    )  # fmt: skip
    assert out["client_id"] == "fagsystem"
    assert out["scopes"] == ["ks:fiks"]
    assert len(out["kid"]) == 43
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    load_private_key(key_path)  # a usable RSA key

    (listed,) = run("client", "list")
    assert listed["client_id"] == "fagsystem"
    assert listed["orgnr"] == SUPPLIER
    assert [k["kid"] for k in listed["keys"]] == [out["kid"]]

    assert "exists" in fails(
        "client", "register", "--client-id", "x", "--orgnr", SUPPLIER,
        "--generate-key", str(key_path),
    )  # fmt: skip


def test_client_register_with_public_key_and_state_dir(tmp_path: Path) -> None:
    from kjoretoyregister.maskinporten import keys

    pem = tmp_path / "pub.pem"
    pem.write_bytes(keys.public_pem(keys.new_rsa_key().public_key()))
    state_dir = tmp_path / "elsewhere"
    out = run(
        "client", "register", "--client-id", "c", "--orgnr", SUPPLIER, "--scope", "ks:fiks",
        "--scope", "ks:annet", "--public-key", str(pem), "--kid", "my-kid",
        "--state-dir", str(state_dir),
    )  # fmt: skip
    assert out["kid"] == "my-kid"
    client = MaskinportenState.open(state_dir).client("c")
    assert client is not None and client.scopes == ("ks:fiks", "ks:annet")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--orgnr", "123456789"], "organisation number"),
        (["--orgnr", SUPPLIER, "--public-key", "/nonexistent.pem"], "nonexistent"),
        (["--orgnr", SUPPLIER, "--public-key", "a", "--certificate", "b"], "at most one"),
    ],
)
def test_client_register_errors(args: list[str], needle: str) -> None:
    assert needle in fails("client", "register", "--client-id", "c", *args)


def test_ca_and_cert_issue(tmp_path: Path) -> None:
    assert "ca create" in fails(
        "cert", "issue", "--orgnr", SUPPLIER, "--out-key", str(tmp_path / "k.pem"),
        "--out-cert", str(tmp_path / "c.pem"),
    )  # fmt: skip
    ca = run("ca", "create")
    assert Path(ca["certificate"]).is_file()
    assert "exists" in fails("ca", "create")

    out = run(
        "cert", "issue", "--orgnr", SUPPLIER, "--out-key", str(tmp_path / "k.pem"),
        "--out-cert", str(tmp_path / "c.pem"), "--name", "LEVERANDØR AS", "--days", "30",
    )  # fmt: skip
    assert stat.S_IMODE((tmp_path / "k.pem").stat().st_mode) == 0o600
    cert = x509.load_pem_x509_certificate((tmp_path / "c.pem").read_bytes())
    assert certs.orgnr_of(cert) == SUPPLIER
    assert f"2.5.4.97=NTRNO-{SUPPLIER}" in out["subject"]
    assert f"2.5.4.5={SUPPLIER}" in out["subject"]
    ca_cert = x509.load_pem_x509_certificate(Path(ca["certificate"]).read_bytes())
    certs.validate_chain([cert], [ca_cert], cert.not_valid_before_utc)


def test_delegation_commands() -> None:
    run("client", "register", "--client-id", "lev", "--orgnr", SUPPLIER)
    added = run("delegation", "add", "--client", "lev", "--consumer-orgnr", KOMMUNE)
    assert added["scopes"] == ["ks:fiks"]
    assert [d["consumer_orgnr"] for d in run("delegation", "list")] == [KOMMUNE]
    assert "itself" in fails("delegation", "add", "--client", "lev", "--consumer-orgnr", SUPPLIER)
    result = runner.invoke(
        app,
        ["maskinporten", "delegation", "remove", "--client", "lev", "--consumer-orgnr", KOMMUNE],
    )
    assert result.exit_code == 0
    assert run("delegation", "list") == []


def test_key_rotate_and_list() -> None:
    (before,) = run("key", "list")
    assert before["active"]
    rotated = run("key", "rotate", "--overlap-s", "600")
    listed = {k["kid"]: k for k in run("key", "list")}
    assert listed[rotated["kid"]]["active"]
    assert not listed[before["kid"]]["active"]
    assert listed[before["kid"]]["publish_until"] is not None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_serve_answers_a_token_request_from_the_sync_provider(tmp_path: Path) -> None:
    """The real command in its own process: register with the CLI, fetch a token, verify it."""
    key_path = tmp_path / "client.pem"
    registered = run(
        "client", "register", "--client-id", "fagsystem", "--orgnr", SUPPLIER,
        "--generate-key", str(key_path),
    )  # fmt: skip
    port = _free_port()
    env = {**os.environ, "KJR_MASKINPORTEN__PORT": str(port)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "kjoretoyregister", "maskinporten", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}/"
        provider = MaskinportenTokenProvider(
            token_url=base + "token",
            issuer=base,
            client_id="fagsystem",
            private_key=load_private_key(key_path),
            kid=registered["kid"],
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                token = provider.token()
                break
            except Exception:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        state = MaskinportenState.open(Path(os.environ["KJR_DATA_DIR"]) / "mp")
        claims = jwt.decode(
            token,
            state.signing_key.private_key.public_key(),
            algorithms=["RS256"],
            audience="unspecified",
            issuer=base,
        )
        assert claims["consumer"]["ID"] == f"0192:{SUPPLIER}"
        assert provider.token() == token  # cached
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        assert proc.stderr is not None
        proc.stderr.close()


def test_serve_idporten_refuses_without_a_shared_client_secret() -> None:
    """--idporten without the portal's client secret would offer a login nobody can finish."""
    result = runner.invoke(app, ["maskinporten", "serve", "--idporten", "--port", "0"])
    assert result.exit_code == 2
    assert "KJR_PORTAL__CLIENT_SECRET" in result.output


@pytest.mark.slow
def test_serve_idporten_offers_the_person_login(tmp_path: Path) -> None:
    """`serve --idporten` mounts the OIDC login next to the token service, on the same keys."""
    import urllib.request

    port = _free_port()
    env = {
        **os.environ,
        "KJR_MASKINPORTEN__PORT": str(port),
        "KJR_PORTAL__CLIENT_SECRET": "a-shared-secret-for-this-test",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "kjoretoyregister", "maskinporten", "serve", "--idporten"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(
                    base + "/idporten/.well-known/openid-configuration", timeout=2
                ) as resp:
                    discovery = json.load(resp)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        assert discovery["issuer"] == base + "/idporten/"
        assert "S256" in discovery["code_challenge_methods_supported"]
        with urllib.request.urlopen(discovery["jwks_uri"], timeout=2) as resp:
            idporten_keys = {k["kid"] for k in json.load(resp)["keys"]}
        with urllib.request.urlopen(base + "/jwk", timeout=2) as resp:
            assert idporten_keys == {k["kid"] for k in json.load(resp)["keys"]}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
