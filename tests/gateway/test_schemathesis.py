"""Schemathesis against the gateway's published OpenAPI, on the real stack.

Up to 30 generated requests per operation (10 operations), with a valid token and integration
credentials. Checks: no 5xx from the gateway itself, status codes the document lists, the
documented content types, and bodies that match the documented schemas (Fiks error bodies
for the gateway's own errors).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from stack import Stack, start_stack

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 30


class StackThread:
    """The async stack on its own event loop in a thread, for a synchronous test."""

    def __init__(self, workdir: Path, register_path: Path) -> None:
        self._workdir, self._register = workdir, register_path
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self.stack: Stack | None = None
        self.token = ""
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
        finally:
            self._loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        async with start_stack(self._workdir, register_path=self._register) as stack:
            self.stack = stack
            self.token = await stack.token()
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> StackThread:
        self._thread.start()
        self._ready.wait(60)
        if self._error is not None or self.stack is None:
            raise RuntimeError("stack did not start") from self._error
        return self

    def __exit__(self, *exc: object) -> None:
        stop = self._stop
        if stop is not None:
            self._loop.call_soon_threadsafe(stop.set)
        self._thread.join(30)


@pytest.fixture
def running(tmp_path: Path, register_path: Path) -> Iterator[StackThread]:
    with StackThread(tmp_path / "stack", register_path) as running:
        yield running


def test_gateway_conforms_to_its_openapi(running: StackThread) -> None:
    stack = running.stack
    assert stack is not None
    doc = requests.get(stack.gateway_url + "/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(doc)
    headers = {
        "Authorization": f"Bearer {running.token}",
        "IntegrasjonId": stack.integrasjon_id,
        "IntegrasjonPassord": stack.integrasjon_passord,
    }
    session = requests.Session()
    statuses: dict[int, int] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 10
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            case.path_parameters = {**(case.path_parameters or {}), "fiksOrgId": stack.fiks_org_id}
            case.headers = {**(case.headers or {}), **headers}
            response = case.call(base_url=stack.gateway_root, session=session, timeout=30)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            # SVV (the simulator) is healthy here, so any 5xx is the gateway's own fault.
            assert response.status_code < 500, (response.status_code, response.text[:300])
            case.validate_response(
                response,
                checks=[
                    checks.status_code_conformance,
                    checks.content_type_conformance,
                    checks.response_schema_conformance,
                ],
            )

        run()
    # Generated input reached SVV (200/204) as well as the gateway's validation (400).
    assert statuses.get(400, 0) > 0
    assert statuses.get(200, 0) + statuses.get(204, 0) > 0, statuses
    print("schemathesis statuses:", dict(sorted(statuses.items())))
