"""A client generated with openapi-python-client from the gateway's served OpenAPI calls
every endpoint of the running stack and gets typed answers (issue 15.4).

The document is fetched from the running gateway, checked with openapi-spec-validator, and
turned into a package in ``tmp_path`` by the generator's CLI (from PyPI, installed by
``scripts/test.sh`` in ``.venv-gen``);
the test then imports that package and calls all ten endpoints with its ``asyncio_detailed``
functions, plus a 204 ("no hits", no body) and a 401 (a typed Fiks error).
"""

from __future__ import annotations

import asyncio
import importlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any
from uuid import UUID

import orjson
import pytest
import pytest_asyncio
from openapi_spec_validator import validate

from kjoretoyregister.svv.identifiers import make_fodselsnummer
from stack import Stack, start_stack

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

PACKAGE = "kjr_gateway_client"
PLATE, VIN = "CU11297", "SISDINKY45727043"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(
    tmp_path_factory: pytest.TempPathFactory, register_path: Path
) -> AsyncIterator[Stack]:
    async with start_stack(tmp_path_factory.mktemp("gen"), register_path=register_path) as s:
        yield s


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def generated(
    stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ModuleType]:
    async with stack.http.get(stack.gateway_url + "/openapi.json") as resp:
        assert resp.status == 200
        doc = await resp.json()
    validate(doc)
    out = tmp_path_factory.mktemp("client")
    (out / "openapi.json").write_bytes(orjson.dumps(doc))
    await asyncio.to_thread(_generate, out)
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


#: scripts/test.sh installs the generator in a venv of its own (it pins typer<0.28).
GENERATOR_BIN = Path(__file__).resolve().parents[2] / ".venv-gen" / "bin"


def _generate(out: Path) -> None:
    """Run the generator's CLI (it formats its output with ruff, found on PATH)."""
    bindir = GENERATOR_BIN
    if not (bindir / "openapi-python-client").exists():
        message = f"{bindir}/openapi-python-client is missing (bash scripts/test.sh installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"}
    args = ["generate", "--path", str(out / "openapi.json"), "--meta", "none"]
    done = subprocess.run(
        [str(bindir / "openapi-python-client"), *args, "--output-path", str(out / PACKAGE)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout, done.stdout


def _api(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.api.default.{name}")


def _model(name: str) -> Any:
    return getattr(importlib.import_module(f"{PACKAGE}.models"), name)


@pytest.fixture
def call(stack: Stack, generated: ModuleType) -> Iterator[Any]:
    """``await call(endpoint, token, **kwargs)`` → the generated client's Response."""

    async def run(endpoint: str, token: str, password: str | None = None, **kwargs: Any) -> Any:
        client = generated.AuthenticatedClient(base_url=stack.gateway_root, token=token)
        async with client:
            return await _api(endpoint).asyncio_detailed(
                UUID(stack.fiks_org_id),
                client=client,
                integrasjon_id=stack.integrasjon_id,
                integrasjon_passord=password or stack.integrasjon_passord,
                **kwargs,
            )

    yield run


def _plate(answer: Any) -> str:
    return str(answer.kjoretoy.kjoretoy_id.kjennemerke)


async def test_every_endpoint_gives_typed_answers(stack: Stack, call: Any) -> None:
    token = await stack.token()
    kjennemerke_item, kuid_item = _model("BulkKjennemerkeBodyItem"), _model("BulkKuidBodyItem")
    kjoretoy_response, sok_response = _model("KjoretoyResponse"), _model("KjoretoysokResponse")

    r = await call("bulk_kjennemerke", token, body=[kjennemerke_item(kjennemerke=PLATE)])
    assert r.status_code == 200 and isinstance(r.parsed[0], kjoretoy_response)
    assert _plate(r.parsed[0]) == "CU 11297"  # SVV spells it with a space
    owner = r.parsed[0].kjoretoy.eierskap.eier
    kuid = str(r.parsed[0].kjoretoy.kjoretoy_id.kuid)
    kundeid = str(owner.kunde_id)
    orgnr = str(owner.enhet.organisasjonsnummer)

    r = await call("bulk_kuid", token, body=[kuid_item(kuid=kuid)])
    assert r.status_code == 200 and _plate(r.parsed[0]) == "CU 11297"
    r = await call("bulk_understellsnummer", token, understellsnummer=VIN)
    assert r.status_code == 200 and _plate(r.parsed[0]) == "CU 11297"

    searches: dict[str, dict[str, Any]] = {
        "sok_kjennemerke": {"kjennemerke": PLATE},
        "sok_understellsnummer": {"understellsnummer": VIN},
        "sok_organisasjonsnummer": {"organisasjonsnummer": orgnr},
        "sok_kundeid": {"kundeid": kundeid},
        "sok_eiernavn": {"navn": "MØLLER BIL AS"},
    }
    for endpoint, params in searches.items():
        r = await call(endpoint, token, **params)
        assert r.status_code == 200, (endpoint, r.content)
        assert isinstance(r.parsed, sok_response), endpoint
        hits = r.parsed.kjoretoyresponser
        hits = hits if isinstance(hits, list) else r.parsed.kjoretoy  # SVV fills one of them
        assert "CU 11297" in {_plate(k) for k in hits}, endpoint

    eiertype = importlib.import_module(f"{PACKAGE}.models.sok_kunde_eiertype").SokKundeEiertype
    r = await call("sok_kunde", token, eiertype=eiertype("ORGANISASJON"), navn="MØLLER BIL AS")
    assert r.status_code == 200 and isinstance(r.parsed, _model("KundeSokResponse"))

    fnr = next(
        f for n in range(100, 120) if (f := make_fodselsnummer(date(1901, 1, 1), n)) is not None
    )
    r = await call("sok_fodselsnummer", token, fodselsnummer=fnr)
    assert r.status_code == 204 and r.parsed is None and r.content == b""


async def test_refusal_is_a_typed_fiks_error(stack: Stack, call: Any) -> None:
    token = await stack.token()
    item = _model("BulkKjennemerkeBodyItem")
    r = await call(
        "bulk_kjennemerke", token, password="feil-passord", body=[item(kjennemerke=PLATE)]
    )
    assert r.status_code == 401
    assert isinstance(r.parsed, _model("FiksError"))
    assert r.parsed.error_code == "KJR-GW-INTEGRASJON" and r.parsed.status == 401
