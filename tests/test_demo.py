"""``kjoretoyregister demo`` as a user runs it: a subprocess, a profile, a real lookup, SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import orjson
import pytest

from kjoretoyregister.client.maskinporten import MaskinportenTokenProvider
from kjoretoyregister.demo import ensure_register
from kjoretoyregister.svv.register import Register

pytestmark = pytest.mark.slow


def _start(data_dir: Path, profile: Path, port_base: int = 0) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KJR_")}
    env["KJR_DATA_DIR"] = str(data_dir)
    cmd = [
        sys.executable,
        "-m",
        "kjoretoyregister",
        "demo",
        "--profile",
        str(profile),
        "--port-base",
        str(port_base),
        "--vehicles",
        "60",
    ]
    return subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )


def _wait_for(profile: Path, proc: subprocess.Popen[bytes]) -> dict:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode() if proc.stdout else ""
            raise AssertionError(f"demo exited early ({proc.returncode}):\n{out}")
        if profile.exists():
            return orjson.loads(profile.read_bytes())
        time.sleep(0.2)
    raise AssertionError("no profile within the timeout")


async def _lookup(profile: dict, key: bytes) -> tuple[int, object]:
    mp = profile["maskinporten"]
    provider = MaskinportenTokenProvider(
        token_url=mp["token_url"],
        issuer=mp["issuer"],
        client_id=mp["client_id"],
        private_key=key,
        kid=mp["kid"],
        scope=mp["scope"],
    )
    async with aiohttp.ClientSession() as http:
        token = await provider.atoken(http)
        url = (
            f"{profile['gateway_url']}/{profile['fiks_org_id']}"
            "/rest/distribusjon/kjoretoy/v2.0/bulk/kjennemerke"
        )
        headers = {
            "Authorization": f"Bearer {token}",
            "IntegrasjonId": profile["integrasjon_id"],
            "IntegrasjonPassord": profile["integrasjon_passord"],
        }
        async with http.post(url, json=[{"kjennemerke": "CU11297"}], headers=headers) as resp:
            return resp.status, await resp.json(content_type=None)


def _stop(proc: subprocess.Popen[bytes]) -> tuple[int, str]:
    os.kill(proc.pid, signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        raise AssertionError("demo did not stop within 20 s of SIGTERM") from None
    return proc.returncode, out.decode()


def test_demo_serves_a_real_lookup_and_stops_cleanly(tmp_path: Path) -> None:
    """Start, look up CU11297 through the gateway with a real token, SIGTERM → exit 0; twice."""
    data_dir = tmp_path / "data"
    for run in (1, 2):  # the second run reuses the data dir (idempotent seeding)
        profile_path = tmp_path / f"profile-{run}.json"
        proc = _start(data_dir, profile_path)
        try:
            profile = _wait_for(profile_path, proc)
            assert (data_dir / "profile.json").exists()
            assert oct(profile_path.stat().st_mode & 0o777) == "0o600"
            key = Path(profile["maskinporten"]["private_key_path"])
            assert oct(key.stat().st_mode & 0o777) == "0o600"
            status, body = asyncio.run(_lookup(profile, key.read_bytes()))
            assert status == 200, body
            assert isinstance(body, list) and body[0]["kjoretoy"]["kjoretoyId"]["kjennemerke"]
        finally:
            code, out = _stop(proc)
        assert code == 0, out
        assert "curl" in out and "kjoretoyregister oppslag kjennemerke CU11297 --profile" in out


async def _admin_orgs(profile: dict) -> int:
    headers = {"Authorization": f"Bearer {profile['admin_token']}"}
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{profile['admin_url']}/orgs", headers=headers) as resp,
    ):
        return resp.status


def test_a_demo_that_cannot_start_changes_nothing(tmp_path: Path) -> None:
    """A second demo on the first one's ports fails in one line, before it seeds anything.

    Seeding rotates the demo integration's password; if the failed start did that, the running
    demo would answer 401 to its own profile. The printed admin token works meanwhile.
    """
    data_dir = tmp_path / "data"
    first_profile = tmp_path / "first.json"
    proc = _start(data_dir, first_profile)
    try:
        profile = _wait_for(first_profile, proc)
        key = Path(profile["maskinporten"]["private_key_path"]).read_bytes()
        assert asyncio.run(_admin_orgs(profile)) == 200
        shared_profile = (data_dir / "profile.json").read_bytes()

        port = int(profile["gateway_url"].split(":")[2].split("/")[0])
        second_profile = tmp_path / "second.json"
        second = _start(data_dir, second_profile, port_base=port)
        out, _ = second.communicate(timeout=60)
        lines = [line for line in out.decode().splitlines() if line.strip()]
        assert second.returncode == 1, out
        assert len(lines) == 1 and lines[0].startswith("error:"), lines
        assert f":{port}" in lines[0] and "--port-base" in lines[0]
        assert "Traceback" not in out.decode()

        assert not second_profile.exists()
        assert (data_dir / "profile.json").read_bytes() == shared_profile
        status, body = asyncio.run(_lookup(profile, key))
        assert status == 200, body
    finally:
        code, out_first = _stop(proc)
    assert code == 0, out_first
    assert "Authorization: Bearer " + profile["admin_token"] in out_first


def test_a_register_of_an_older_schema_is_made_again(tmp_path: Path) -> None:
    """A demo register left by an older version (another schema) is generated anew, so
    ``demo`` keeps working after an upgrade; a current one is kept as it is."""
    path = tmp_path / "demo-register.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    db.close()
    ensure_register(path, 0)
    register = Register(path)
    try:
        assert register.by_kjennemerke("CU11297", None)
    finally:
        register.close()
    made = path.stat().st_mtime_ns
    ensure_register(path, 0)
    assert path.stat().st_mtime_ns == made
