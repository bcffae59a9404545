"""Optional OpenTelemetry spans: off by default, a no-op when the ``otel`` extra is missing.

With ``KJR_GATEWAY__TRACING=true`` and ``pip install 'kjoretoyregister[otel]'`` each API
request gets a server span ``kjr.gateway.request`` (attributes: method, route *template*,
status; never identifiers), with children ``kjr.svv.call`` (each upstream attempt) and
``kjr.audit.record``. The exporter is OTLP over HTTP, configured by the standard
``OTEL_EXPORTER_OTLP_*`` variables that the exporter library reads itself; a provider the
host application already installed is used as it is.

Off (the default), :func:`span` returns a shared null context: no allocation, no import.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

from kjoretoyregister.logs import get_logger

log = get_logger(__name__)

_NULL: AbstractContextManager[None] = contextlib.nullcontext()
_tracer: Any = None


def setup(enabled: bool, service_name: str = "kjoretoyregister-gateway") -> bool:
    """Turn tracing on if asked and possible; returns whether spans are now recorded."""
    global _tracer
    if not enabled:
        _tracer = None
        return False
    try:
        from opentelemetry import trace
    except ImportError:
        log.warning("tracing_unavailable", hint="pip install 'kjoretoyregister[otel]'")
        _tracer = None
        return False
    if type(trace.get_tracer_provider()).__name__ == "ProxyTracerProvider":
        _install_provider(service_name)
    _tracer = trace.get_tracer("kjoretoyregister.gateway")
    return True


def _install_provider(service_name: str) -> None:
    try:
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.warning("tracing_sdk_missing", hint="pip install 'kjoretoyregister[otel]'")
        return
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)


def span(name: str, **attributes: str | int) -> AbstractContextManager[Any]:
    """A span (or the null context when tracing is off)."""
    if _tracer is None:
        return _NULL
    return _started(name, attributes)


@contextlib.contextmanager
def _started(name: str, attributes: dict[str, str | int]) -> Iterator[Any]:
    with _tracer.start_as_current_span(name, attributes=attributes) as current:
        yield current


def set_attribute(current: Any, key: str, value: str | int) -> None:
    """Set an attribute on a span from :func:`span` (ignored for the null context)."""
    if current is not None:
        current.set_attribute(key, value)
