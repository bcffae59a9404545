"""The gateway's Prometheus metrics, on its own registry, served at ``/metrics``.

Labels hold only route templates, methods, status codes, upstream names and limit scopes:
never a fiksOrgId, integration id, plate or any other identifier, so the endpoint cannot be
used to enumerate who asks for what (and label cardinality stays bounded).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 35)


class IndexerState(Protocol):
    """What the audit's pseudonym indexer tells (audit.subject_index.SubjectIndexer)."""

    lag: int
    failures: int


class _SubjectIndexCollector(Collector):
    """Reads the indexer's state at scrape time (it lives in the audit sink's thread)."""

    def __init__(self, indexer: IndexerState) -> None:
        self._indexer = indexer

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "kjr_audit_subject_index_lag_entries",
            "Audit entries the pseudonym index's last step left unindexed (innsyn scans "
            "these without the index; above 0 only while the indexer is behind)",
            value=self._indexer.lag,
        )
        yield CounterMetricFamily(
            "kjr_audit_subject_index_failures",
            "Pseudonym index steps that failed (retried; innsyn stays complete meanwhile)",
            value=self._indexer.failures,
        )


class GatewayMetrics:
    """One instance per application (tests run several gateways in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "kjr_gateway_requests",
            "API requests answered, by route template, method and status",
            ("route", "method", "status"),
            registry=r,
        )
        self.duration = Histogram(
            "kjr_gateway_request_duration_seconds",
            "Time from request to answer, by route template",
            ("route",),
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.upstream_duration = Histogram(
            "kjr_gateway_upstream_duration_seconds",
            "SVV call latency (each attempt), by outcome",
            ("upstream", "outcome"),
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.upstream_retries = Counter(
            "kjr_gateway_upstream_retries",
            "Retried idempotent SVV calls",
            ("upstream",),
            registry=r,
        )
        self.audit_commit = Histogram(
            "kjr_gateway_audit_commit_seconds",
            "Time until the audit sink confirmed an event durable",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.breaker_state = Gauge(
            "kjr_gateway_breaker_state",
            "Circuit breaker per upstream: 0 closed, 1 half-open, 2 open",
            ("upstream",),
            registry=r,
        )
        self.rate_rejections = Counter(
            "kjr_gateway_ratelimit_rejections",
            "Requests refused with 429, by scope (org|integration) and kind (requests|items)",
            ("scope", "kind"),
            registry=r,
        )
        self.rate_backend_errors = Counter(
            "kjr_gateway_ratelimit_backend_errors",
            "Rate-limit store (Redis) failures; limits fell back to in-process counters",
            registry=r,
        )
        self.shed = Counter(
            "kjr_gateway_shed",
            "Requests refused with 503 because too many were in flight",
            registry=r,
        )
        self.in_flight = Gauge("kjr_gateway_in_flight", "API requests in progress", registry=r)
        self.maintenance = Gauge(
            "kjr_gateway_maintenance", "1 while in maintenance mode", registry=r
        )
        self.authz_invalidations = Counter(
            "kjr_gateway_authz_cache_invalidations",
            "Times the authorization decision cache was dropped after a Konfigurasjon change",
            registry=r,
        )

    def watch_subject_index(self, indexer: IndexerState) -> None:
        """Export the audit pseudonym indexer's lag and failures."""
        self.registry.register(_SubjectIndexCollector(indexer))

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)

    async def handle(self, request: web.Request) -> web.Response:
        """``GET /metrics``."""
        return web.Response(body=self.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})
