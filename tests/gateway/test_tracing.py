"""OpenTelemetry spans when tracing is on (the otel extra installed); nothing when off."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from kjoretoyregister.gateway import tracing
from stack import start_stack

otel_sdk = pytest.importorskip("opentelemetry.sdk.trace")


async def test_spans_carry_route_templates_not_identifiers(
    tmp_path: Path, register_path: Path
) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = otel_sdk.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)  # once per process; later stacks turn tracing off
    try:
        async with start_stack(
            tmp_path, register_path=register_path, gateway={"tracing": True}
        ) as stack:
            token = await stack.token()
            async with stack.http.post(
                stack.api("bulk/kjennemerke"),
                data=orjson.dumps([{"kjennemerke": "CU11297"}]),
                headers={**stack.headers(token), "Content-Type": "application/json"},
            ) as resp:
                assert resp.status == 200
        spans = {s.name: s for s in exporter.get_finished_spans()}
        assert {"kjr.gateway.request", "kjr.svv.call", "kjr.audit.record"} <= set(spans)
        root = spans["kjr.gateway.request"]
        assert root.attributes is not None
        assert root.attributes["http.response.status_code"] == 200
        assert "{fiksOrgId}" in str(root.attributes["http.route"])
        assert spans["kjr.svv.call"].parent is not None
        dumped = repr([dict(s.attributes or {}) for s in spans.values()])
        assert "CU11297" not in dumped and stack.fiks_org_id not in dumped
    finally:
        tracing.setup(False)


def test_off_is_a_null_context() -> None:
    tracing.setup(False)
    with tracing.span("x") as current:
        assert current is None
