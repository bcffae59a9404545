"""Every endpoint through the gateway against the real simulator, and SVV's answers passed on.

For each call the test also asks the simulator directly (with the gateway's Basic credentials)
and checks that the gateway's answer is SVV's answer: same status, same body bytes, same
Content-Type and Svvguid semantics.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest
import pytest_asyncio

from kjoretoyregister.httpserver import CHUNK_BYTES, ChunkedBody
from kjoretoyregister.svv.identifiers import make_fodselsnummer
from stack import Stack, start_stack

pytestmark = pytest.mark.asyncio(loop_scope="module")

V2 = "/rest/distribusjon/kjoretoy/v2.0/"
PLATE = "CU11297"  # sisdinky: eier MØLLER BIL AS + leasingtaker (always in the register)
VIN = "SISDINKY45727043"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared(
    tmp_path_factory: pytest.TempPathFactory, register_path: Path
) -> AsyncIterator[tuple[Stack, str]]:
    async with start_stack(tmp_path_factory.mktemp("e2e"), register_path=register_path) as s:
        yield s, await s.token()


@pytest_asyncio.fixture(loop_scope="module")
async def env(shared: tuple[Stack, str]) -> tuple[Stack, str]:
    stack, _ = shared
    stack.memory_audit.events.clear()
    await stack.sim_faults(latency_ms=0, fault_rate=0, outage=False, quota_exceeded=False)
    return shared


async def _both(
    stack: Stack, token: str, method: str, tail: str, body: Any = None
) -> tuple[tuple[int, bytes, dict[str, str]], tuple[int, bytes, dict[str, str]]]:
    """(gateway answer, simulator's direct answer) for the same request."""
    data = None if body is None else orjson.dumps(body)
    out = []
    for url, headers in (
        (stack.api(tail), stack.headers(token)),
        (stack.svv_url + V2 + tail, stack.svv_auth()),
    ):
        async with stack.http.request(
            method, url, data=data, headers={**headers, "Content-Type": "application/json"}
        ) as resp:
            out.append((resp.status, await resp.read(), dict(resp.headers)))
    return out[0], out[1]


async def _same(stack: Stack, token: str, method: str, tail: str, body: Any = None) -> Any:
    (gs, gb, gh), (ss, sb, sh) = await _both(stack, token, method, tail, body)
    assert gs == ss, (gs, gb[:300])
    assert gb == sb
    assert gh.get("Content-Type") == sh.get("Content-Type") or gs == 204
    return orjson.loads(gb) if gb else None


class TestBulk:
    async def test_kjennemerke_found(self, env: tuple[Stack, str]) -> None:
        stack, token = env
        body = await _same(stack, token, "POST", "bulk/kjennemerke", [{"kjennemerke": PLATE}])
        assert body[0]["kjoretoy"]["kjoretoyId"]["kjennemerke"] == "CU 11297"
        (event,) = stack.memory_audit.events
        (item,) = event.items
        assert item.outcome == "found" and "986130861" in item.returned_identities
        assert event.svv_status == 200 and event.http_status == 200

    async def test_a_big_answer_is_passed_through_whole_with_its_length(
        self, env: tuple[Stack, str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Above CHUNK_BYTES the gateway writes SVV's answer in pieces (ChunkedBody): the
        client still gets SVV's bytes exactly, with a Content-Length, not chunked."""
        stack, token = env
        written: list[int] = []
        original = ChunkedBody.write_with_length

        async def counting(self: ChunkedBody, writer: Any, length: int | None) -> None:
            written.append(len(self._value))
            await original(self, writer, length)

        monkeypatch.setattr(ChunkedBody, "write_with_length", counting)
        assert stack.register is not None
        plates = stack.register.sample_kjennemerker(400, seed=8)
        body = [{"kjennemerke": p} for p in plates]
        (status, data, headers), (_, direct, _) = await _both(
            stack, token, "POST", "bulk/kjennemerke", body
        )
        assert status == 200 and len(data) > CHUNK_BYTES
        assert data == direct
        assert headers["Content-Length"] == str(len(data))
        assert "Transfer-Encoding" not in headers
        assert headers["Content-Type"].startswith("application/json")
        # The simulator answered twice (to the gateway and directly), the gateway once.
        assert len(written) == 3

    async def test_kjennemerke_mixed_list_and_past_dtg(self, env: tuple[Stack, str]) -> None:
        """Found, unknown, and a dtg long before the vehicle existed: per-item outcomes."""
        stack, token = env
        items = [
            {"kjennemerke": PLATE},
            {"kjennemerke": "ZZ99999"},
            {"kjennemerke": PLATE, "dtg": "1990-01-01T00:00:00+01:00"},
            {"kjennemerke": "cu 11297", "dtg": "2024-06-01T12:00:00.000+02:00"},
        ]
        body = await _same(stack, token, "POST", "bulk/kjennemerke", items)
        assert len(body) == 4
        outcomes = [i.outcome for i in stack.memory_audit.events[-1].items]
        assert outcomes[0] == "found" and outcomes[1] == "not_found"
        assert outcomes[2] == ("found" if "kjoretoy" in body[2] else "not_found")
        assert [i.dtg for i in stack.memory_audit.events[-1].items][
            2
        ] == "1990-01-01T00:00:00+01:00"

    async def test_kuid(self, env: tuple[Stack, str]) -> None:
        stack, token = env
        first = await _same(stack, token, "POST", "bulk/kjennemerke", [{"kjennemerke": PLATE}])
        kuid = first[0]["kjoretoy"]["kjoretoyId"]["kuid"]
        body = await _same(stack, token, "POST", "bulk/kuid", [{"kuid": kuid}, {"kuid": "1"}])
        assert body[0]["kjoretoy"]["kjoretoyId"]["kuid"] == kuid
        assert [i.outcome for i in stack.memory_audit.events[-1].items] == ["found", "not_found"]

    async def test_understellsnummer(self, env: tuple[Stack, str]) -> None:
        stack, token = env
        body = await _same(stack, token, "GET", f"bulk/understellsnummer/{VIN}")
        assert body[0]["kjoretoy"]["kjoretoyId"]["understellsnummer"] == VIN
        (item,) = stack.memory_audit.events[-1].items
        assert (item.identifier_type, item.outcome) == ("understellsnummer", "found")

    async def test_understellsnummer_with_past_dtg(self, env: tuple[Stack, str]) -> None:
        stack, token = env
        await _same(stack, token, "GET", f"bulk/understellsnummer/{VIN}?dtg=2020-01-01T00:00:00Z")


class TestSok:
    @pytest.mark.parametrize(
        "query",
        [
            f"sok/kjennemerke?kjennemerke={PLATE}",
            "sok/kjennemerke?kjennemerke=CU1129%3F&fra=1&antall=5",
            f"sok/understellsnummer?understellsnummer={VIN}",
            "sok/understellsnummer?understellsnummer=SISDINKY4572704*",
            "sok/organisasjonsnummer?organisasjonsnummer=986130861&ekskluderVraketUtfort=true",
            "sok/kundeid?kundeid=124000639",
            "sok/eiernavn?navn=M%C3%98LLER%20BIL%20AS",
            "sok/kunde?eiertype=ORGANISASJON&navn=M%C3%98LLER%20BIL%20AS",
        ],
    )
    async def test_each_search_is_svvs_answer(self, env: tuple[Stack, str], query: str) -> None:
        stack, token = env
        await _same(stack, token, "GET", query)
        (event,) = stack.memory_audit.events
        assert event.items[0].identifier_type == query.split("?")[0]

    async def test_fodselsnummer_of_a_known_person(self, env: tuple[Stack, str]) -> None:
        stack, token = env
        assert stack.register is not None
        person = stack.register.sample_persons(1, seed=3)[0]
        fnr = person["fodselsnummer"]
        body = await _same(stack, token, "GET", f"sok/fodselsnummer?fodselsnummer={fnr}")
        assert body is not None and body["antallTreffTotalt"] >= 1
        (item,) = stack.memory_audit.events[-1].items
        assert item.outcome == "found" and fnr in item.returned_identities

    async def test_no_hits_is_204_passed_through(self, env: tuple[Stack, str]) -> None:
        stack, token = env
        fnr = next(  # a valid synthetic fnr (month + 80) born in 1901: owns nothing here
            f for n in range(100, 120) if (f := make_fodselsnummer(date(1901, 1, 1), n)) is not None
        )
        assert await _same(stack, token, "GET", f"sok/fodselsnummer?fodselsnummer={fnr}") is None
        (item,) = stack.memory_audit.events[-1].items
        assert item.outcome == "not_found"


class TestSvvErrorsPassThrough:
    async def test_svv_400(self, env: tuple[Stack, str]) -> None:
        """A value the gateway's format check lets through but SVV refuses (antall > max)."""
        stack, token = env
        (gs, gb, _), (ss, _, _) = await _both(
            stack, token, "GET", "sok/eiernavn?navn=HANSEN&antall=99999"
        )
        assert gs == ss == 400
        assert orjson.loads(gb)["responskoder"]
        assert [i.outcome for i in stack.memory_audit.events[-1].items] == ["error"]

    async def test_svv_422_quota_with_retry_after(self, env: tuple[Stack, str]) -> None:
        stack, token = env
        await stack.sim_faults(quota_exceeded=True)
        (gs, gb, gh), (ss, sb, _) = await _both(
            stack, token, "POST", "bulk/kjennemerke", [{"kjennemerke": PLATE}]
        )
        assert gs == ss == 422
        assert gh["Retry-After"] and gh.get("Svvguid")
        assert gb.split(b'"svvguid"')[0] == sb.split(b'"svvguid"')[0]

    @pytest.mark.parametrize(("switch", "status"), [("outage", 503), ("fault_rate", 500)])
    async def test_svv_5xx(self, env: tuple[Stack, str], switch: str, status: int) -> None:
        stack, token = env
        await stack.sim_faults(**{switch: True if switch == "outage" else 1.0})
        async with stack.http.post(
            stack.api("bulk/kjennemerke"),
            json=[{"kjennemerke": PLATE}],
            headers=stack.headers(token),
        ) as resp:
            assert resp.status == status
            guid = resp.headers["Svvguid"]
            body = await resp.json()
            assert body.get("svvguid") == guid  # SVV's body, not a Fiks one
        event = stack.memory_audit.events[-1]
        assert event.svv_status == status and event.svvguid == guid


async def test_upstream_timeout_is_504(tmp_path: Path, register_path: Path) -> None:
    """Simulator slower than the gateway's read timeout → 504 KJR-SVV-…; items audited as error."""
    async with start_stack(
        tmp_path / "s", register_path=register_path, gateway={"read_timeout_s": 0.2}
    ) as stack:
        await stack.sim_faults(latency_ms=700)
        async with stack.http.post(
            stack.api("bulk/kjennemerke"),
            json=[{"kjennemerke": PLATE}],
            headers=stack.headers(await stack.token()),
        ) as resp:
            assert resp.status == 504
            assert (await resp.json())["errorCode"] == "KJR-SVV-TIDSAVBRUDD"
        (event,) = stack.memory_audit.events
        assert event.http_status == 504 and [i.outcome for i in event.items] == ["error"]


async def test_upstream_down_is_502(tmp_path: Path, register_path: Path) -> None:
    """Nothing listening on SVV's port → 502 KJR-SVV-UTILGJENGELIG."""
    gateway = {"svv_url": "http://127.0.0.1:9/ws/no/vegvesen/kjoretoy/felles/v2"}
    async with start_stack(tmp_path / "s", register_path=register_path, gateway=gateway) as stack:
        token = await stack.token()
        url, body = stack.api("bulk/kjennemerke"), [{"kjennemerke": PLATE}]
        async with stack.http.post(url, json=body, headers=stack.headers(token)) as resp:
            assert resp.status == 502
            assert (await resp.json())["errorCode"] == "KJR-SVV-UTILGJENGELIG"
