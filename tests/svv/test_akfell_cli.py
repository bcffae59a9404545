"""``kjoretoyregister svv serve --api akfell`` for real: a child process on a real port, with
tokens from the Maskinporten stand-in (served in this test's event loop)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import aiohttp
import pytest
from akfell_env import SCOPE

from cluster import free_port
from kjoretoyregister.maskinporten.state import MaskinportenState
from kjoretoyregister.maskinporten.testing import make_client, make_grant, running


@pytest.mark.slow
@pytest.mark.timeout(60)
async def test_serve_api_akfell_answers_with_maskinporten_tokens(
    svv_register_path: Path, tmp_path: Path
) -> None:
    state = MaskinportenState.open(tmp_path / "mp")
    client = make_client(state, "akfell-cli", "910000004", [SCOPE])
    port = free_port()
    async with running(state) as mp, aiohttp.ClientSession() as http:
        server = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "kjoretoyregister", "svv", "serve",
            "--api", "akfell", "--data", str(svv_register_path), "--port", str(port),
            "--akfell-issuer", mp.issuer, "--akfell-daily-quota", "10",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        try:
            grant = make_grant(
                issuer=mp.issuer, client_id=client.client_id, private_key=client.private_key,
                kid=client.kid, scope=SCOPE,
            )  # fmt: skip
            form = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": grant}
            async with http.post(mp.token_url, data=form) as resp:
                token = (await resp.json())["access_token"]
            url = f"http://127.0.0.1:{port}/kjoretoyoppslag/bulk/kjennemerke"
            body = [{"kjennemerke": "CU11297"}]
            headers = {"Authorization": f"Bearer {token}"}
            deadline = asyncio.get_running_loop().time() + 30
            while True:
                try:
                    async with http.post(url, json=body, headers=headers) as resp:
                        status, answer = resp.status, await resp.json()
                        break
                except aiohttp.ClientConnectionError:
                    assert server.returncode is None, "svv serve exited"
                    assert asyncio.get_running_loop().time() < deadline, "did not come up"
                    await asyncio.sleep(0.1)
            assert status == 200
            assert answer["gjenstaendeKvote"] == 9
            kjoretoy = answer["responser"][0]["kjoretoydata"]
            assert kjoretoy["kjoretoyId"] == {
                "kjennemerke": "CU 11297",
                "understellsnummer": "SISDINKY45727043",
            }
            async with http.post(url, json=body) as resp:
                assert resp.status == 401
            v2 = f"http://127.0.0.1:{port}/ws/no/vegvesen/kjoretoy/felles/v2/rest/distribusjon/"
            async with http.post(v2 + "kjoretoy/v2.0/bulk/kjennemerke", json=body) as resp:
                assert resp.status == 404  # --api akfell: no v2 routes
        finally:
            server.terminate()
            output, _ = await server.communicate()
    text = output.decode()
    assert "akfell" in text and "CU11297" not in text and token not in text
