"""``kjoretoyregister oppslag``/``sok`` via typer's CliRunner against the running stack.

The CLI runs its own event loop (``asyncio.run``), so each invocation runs in a worker thread
while the stack keeps serving on the test's loop.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from typer.testing import CliRunner

from client.helpers import write_profile
from cluster import free_port
from kjoretoyregister.cli import app
from stack import Stack

pytestmark = pytest.mark.asyncio(loop_scope="module")

runner = CliRunner()


async def _invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = await asyncio.to_thread(runner.invoke, app, list(args), env=env)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def _json_line(out: str) -> str:
    """The JSON body line of stdout.

    The gateway under test runs in this process and may log to the same (captured) stdout
    while the CLI runs; a real CLI process hosts no gateway, so only the test needs this.
    """
    return next(line for line in out.splitlines() if line.startswith(("[", "{")))


class TestOppslag:
    async def test_card(self, stack: Stack, profile_path: Path) -> None:
        """The default output is a readable card with identity, make, status and roles."""
        code, out, err = await _invoke(
            "oppslag", "kjennemerke", "CU11297", "--profile", str(profile_path)
        )
        assert code == 0, err
        for text in ("CU 11297", "SISDINKY45727043", "BMW", "MØLLER BIL AS", "986130861"):
            assert text in out
        assert "Leasingtaker" in out and "Eier" in out and "Neste EU-kontroll" in out

    async def test_json_is_svvs_body_unchanged(self, stack: Stack, profile_path: Path) -> None:
        """--json prints the gateway's (= SVV's) body bytes as received."""
        code, out, err = await _invoke(
            "oppslag", "kjennemerke", "CU11297", "--json", "--profile", str(profile_path)
        )
        assert code == 0, err
        async with stack.http.post(
            stack.api("bulk/kjennemerke"),
            data=orjson.dumps([{"kjennemerke": "CU11297"}]),
            headers=stack.headers(await stack.token(), **{"Content-Type": "application/json"}),
        ) as resp:
            direct = await resp.read()
        assert _json_line(out).encode() == direct
        assert orjson.loads(direct)[0]["kjoretoy"]["kjoretoyId"]["kjennemerke"] == "CU 11297"

    async def test_profile_from_environment(self, stack: Stack, profile_path: Path) -> None:
        """KJR_PROFILE names the profile when --profile is not given (read via settings)."""
        code, out, err = await _invoke(
            "oppslag", "understellsnummer", "SISDINKY45727043",
            env={"KJR_PROFILE": str(profile_path)},
        )  # fmt: skip
        assert code == 0, err
        assert "CU 11297" in out

    async def test_dtg_as_date_shows_the_owner_then(self, stack: Stack, profile_path: Path) -> None:
        """--dtg 2016-06-01 (start of that day in Norway) shows that day's owner, not today's
        (CU10944: the simulator's own example of an earlier owner, see svv/sisdinky.py)."""
        code, now, err = await _invoke(
            "oppslag", "kjennemerke", "CU10944", "--profile", str(profile_path)
        )
        assert code == 0, err
        code, then, err = await _invoke(
            "oppslag", "kjennemerke", "CU10944", "--dtg", "2016-06-01",
            "--profile", str(profile_path),
        )  # fmt: skip
        assert code == 0, err
        assert "KLAR LYKT" in now and "KLAR LYKT" not in then
        assert "VENNLIG ELG" in then and "VENNLIG ELG" not in now

    async def test_dtg_before_svvs_first_registration_is_a_miss(
        self, stack: Stack, profile_path: Path
    ) -> None:
        """CU11297 came into SVV's test register on 2022-11-18: in 2020 it did not exist."""
        code, out, _ = await _invoke(
            "oppslag", "kjennemerke", "CU11297", "--dtg", "2020-01-01",
            "--profile", str(profile_path),
        )  # fmt: skip
        assert code == 3 and "KJENNEMERKE_UKJENT" in out

    async def test_miss_and_kuid(self, stack: Stack, profile_path: Path) -> None:
        """An unknown plate shows its code; kuid lookups work too."""
        code, out, _ = await _invoke(
            "oppslag", "kjennemerke", "ZZ99999", "--profile", str(profile_path)
        )
        assert code == 3 and "KJENNEMERKE_UKJENT" in out  # 3 = answered, not found
        code, out, _ = await _invoke(
            "oppslag", "kuid", "0000000000", "--profile", str(profile_path)
        )
        assert code == 3 and "KUID_UKJENT" in out
        code, out, _ = await _invoke(
            "oppslag", "kjennemerke", "CU11297", "ZZ99999", "--profile", str(profile_path)
        )
        assert code == 3 and "CU 11297" in out  # one miss in a batch is still a miss

    async def test_fiks_error_exits_1_with_error_id(self, stack: Stack, tmp_path: Path) -> None:
        """A refused request prints the Fiks errorId on stderr and exits 1."""
        path = write_profile(stack, tmp_path / "bad")
        data = orjson.loads(path.read_bytes())
        data["integrasjon_passord"] = "feil"
        path.write_bytes(orjson.dumps(data))
        code, _, err = await _invoke("oppslag", "kjennemerke", "CU11297", "--profile", str(path))
        assert code == 1
        assert "errorId" in err and "401" in err

    async def test_svv_error_exits_1_with_svvguid(self, faults: Stack, profile_path: Path) -> None:
        """An SVV outage prints the svvguid and exits 1."""
        await faults.sim_faults(outage=True)
        code, _, err = await _invoke(
            "oppslag", "kjennemerke", "CU11297", "--profile", str(profile_path)
        )
        assert code == 1 and "svvguid" in err

    async def test_missing_profile_exits_2(self, tmp_path: Path) -> None:  # no stack needed
        """No profile → a clear message and exit 2, no traceback."""
        code, _, err = await _invoke("oppslag", "kjennemerke", "CU11297")
        assert code == 2 and "KJR_PROFILE" in err and err.startswith("error: ")
        code, _, err = await _invoke(
            "oppslag", "kjennemerke", "CU11297", "--profile", str(tmp_path / "nope.json")
        )
        assert code == 2 and "cannot read profile" in err and err.startswith("error: ")

    async def test_past_dtg_card_says_so(self, stack: Stack, profile_path: Path) -> None:
        """A card for a past dtg says which day it shows; today's EU-kontroll is marked so."""
        code, now, err = await _invoke(
            "oppslag", "kjennemerke", "CU11297", "--profile", str(profile_path)
        )
        assert code == 0, err
        assert "Slik var det" not in now and "per i dag" not in now
        code, then, err = await _invoke(
            "oppslag", "kjennemerke", "CU10944", "--dtg", "2016-06-01",
            "--profile", str(profile_path),
        )  # fmt: skip
        assert code == 0, err
        assert "Slik var det 2016-06-01" in then
        assert "Neste EU-kontroll (per i dag)" in then

    async def test_codes_as_words(self, stack: Stack, profile_path: Path) -> None:
        """Kodeverk values show as their names, not «Registrert (REGISTRERT)» or KJORETOY."""
        code, out, err = await _invoke(
            "oppslag", "kjennemerke", "CU11297", "--profile", str(profile_path)
        )
        assert code == 0, err
        assert "Registrert" in out and "REGISTRERT" not in out
        assert "Kjøretøy" in out and "KJORETOY" not in out


class TestInputErrors:
    """Bad input is refused before any request, in one ``error:`` line that says what is valid.

    The profile points at ports nobody listens on: a CLI that sent a request would exit 1
    with "cannot reach"; one that checks first exits 2 with the rule.
    """

    @pytest.fixture
    def dead_profile(self, tmp_path: Path) -> Path:
        port = free_port()
        key = tmp_path / "key.pem"
        key.write_bytes(
            rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        path = tmp_path / "dead.json"
        path.write_bytes(
            orjson.dumps(
                {
                    "gateway_url": f"http://127.0.0.1:{port}/kjoretoyregister/api",
                    "fiks_org_id": "00000000-0000-4000-8000-000000000000",
                    "integrasjon_id": "00000000-0000-4000-8000-000000000001",
                    "integrasjon_passord": "x",
                    "maskinporten": {
                        "issuer": f"http://127.0.0.1:{port}/",
                        "token_url": f"http://127.0.0.1:{port}/token",
                        "client_id": "c",
                        "kid": "k",
                        "private_key_path": str(key),
                        "scope": "ks:fiks",
                    },
                }
            )
        )
        return path

    async def test_bad_plate_says_which_and_what_a_plate_is(self, dead_profile: Path) -> None:
        code, _, err = await _invoke(
            "oppslag", "kjennemerke", "CU11297", "CU-11297!!", "--profile", str(dead_profile)
        )
        assert code == 2, err
        assert err.startswith("error: kjennemerke nr. 2 (CU-11297!!): ugyldig kjennemerke")
        assert "f.eks. CU11297" in err and "cannot reach" not in err
        assert len(err.strip().splitlines()) == 1

    async def test_bad_kuid(self, dead_profile: Path) -> None:
        code, _, err = await _invoke("oppslag", "kuid", "12ab", "--profile", str(dead_profile))
        assert code == 2 and "kuid nr. 1 (12ab)" in err and "sifre" in err

    @pytest.mark.parametrize("dtg", ["yesterday", "2020-13-01", "2020-01-01T00:00:00"])
    async def test_bad_dtg_names_both_forms(self, dead_profile: Path, dtg: str) -> None:
        code, _, err = await _invoke(
            "oppslag", "kjennemerke", "CU11297", "--dtg", dtg, "--profile", str(dead_profile)
        )
        assert code == 2, err
        assert f"--dtg {dtg!r}" in err and "2020-01-01" in err and "+01:00" in err

    async def test_unreachable_maskinporten_names_the_url(self, dead_profile: Path) -> None:
        """No ClientConnectorError(ConnectionKey(…: which URL, why, and what to check."""
        token_url = orjson.loads(await asyncio.to_thread(dead_profile.read_bytes))["maskinporten"][
            "token_url"
        ]
        code, _, err = await _invoke(
            "oppslag", "kjennemerke", "CU11297", "--profile", str(dead_profile)
        )
        assert code == 1, err
        assert f"cannot reach {token_url}: connection refused" in err
        assert "hint:" in err and "demo" in err
        assert "ConnectionKey" not in err and "ClientConnectorError" not in err


class TestSok:
    async def test_star_in_plate_search_says_which_wildcards(
        self, stack: Stack, profile_path: Path
    ) -> None:
        """sok kjennemerke takes ? (not *): the gateway's error says so, exit 1 with errorId."""
        code, _, err = await _invoke("sok", "kjennemerke", "CU1*", "--profile", str(profile_path))
        assert code == 1, err
        assert "? for ett ukjent tegn" in err and "* brukes bare i sok/understellsnummer" in err
        assert "errorId" in err

    async def test_no_hits_exits_3(self, stack: Stack, profile_path: Path) -> None:
        code, out, err = await _invoke(
            "sok", "organisasjonsnummer", "974760673", "--profile", str(profile_path)
        )
        assert code == 3, (out, err)
        assert "0 av 0 treff" in out

    async def test_eiernavn_all_pages(self, stack: Stack, profile_path: Path) -> None:
        """sok eiernavn --all fetches every page and shows a table with the total."""
        code, out, err = await _invoke(
            "sok", "eiernavn", "MØLLER BIL AS", "--all", "--antall", "1",
            "--profile", str(profile_path),
        )  # fmt: skip
        assert code == 0, err
        assert "CU 11297" in out and "treff" in out

    async def test_sok_json(self, stack: Stack, profile_path: Path) -> None:
        """sok … --json prints SVV's KjoretoysokResponse body."""
        code, out, err = await _invoke(
            "sok", "organisasjonsnummer", "986130861", "--json", "--profile", str(profile_path)
        )
        assert code == 0, err
        body = orjson.loads(_json_line(out))
        assert body["antallTreffTotalt"] >= 1 and body["kjoretoyresponser"]
