"""Switches that make the simulator misbehave on purpose, for tests and demos.

- ``latency_ms``: added before every service request is handled;
- ``fault_rate``: the share of service requests answered 500 (svvguid body) instead;
- ``outage``: every service request is answered 503 (svvguid body);
- ``quota_exceeded``: bulk requests are answered 422 with ``Retry-After`` = seconds until
  midnight in Norway, as akfell does when the daily quota is used up (svv-api.md §2.3, §6).

They start from :class:`~kjoretoyregister.config.SvvSettings` and can be changed while the
server runs through the admin routes in :mod:`kjoretoyregister.svv.admin`. The ``/_sim``
routes themselves are exempt, so an outage can always be switched off again.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from kjoretoyregister.config import SvvSettings
from kjoretoyregister.svv.errors import InjectedFault, Outage, QuotaExceeded

OSLO = ZoneInfo("Europe/Oslo")


@dataclass(slots=True)
class FaultSwitches:
    """The current switch positions; one instance per app, changed in place at run time."""

    latency_ms: float = 0.0
    fault_rate: float = 0.0
    outage: bool = False
    quota_exceeded: bool = False

    @classmethod
    def from_settings(cls, settings: SvvSettings) -> FaultSwitches:
        return cls(
            latency_ms=settings.latency_ms,
            fault_rate=settings.fault_rate,
            outage=settings.outage,
            quota_exceeded=settings.quota_exceeded,
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a partial update, checking types and ranges first (all or nothing).

        Raises:
            ValueError: an unknown switch or a value out of range; nothing is changed then.
        """
        current = self.as_dict()
        for name, value in changes.items():
            if name not in current:
                raise ValueError(f"ukjent bryter '{name}' (kjente: {', '.join(sorted(current))})")
            if name in ("outage", "quota_exceeded"):
                if not isinstance(value, bool):
                    raise ValueError(f"'{name}' må være true eller false")
            elif isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"'{name}' må være et tall")
            elif name == "latency_ms" and not 0 <= value <= 600_000:
                raise ValueError("'latency_ms' må være mellom 0 og 600000")
            elif name == "fault_rate" and not 0 <= value <= 1:
                raise ValueError("'fault_rate' må være mellom 0 og 1")
            current[name] = value
        self.latency_ms = float(current["latency_ms"])
        self.fault_rate = float(current["fault_rate"])
        self.outage = bool(current["outage"])
        self.quota_exceeded = bool(current["quota_exceeded"])

    async def apply(self, rng: random.Random) -> None:
        """Run the outage, latency and fault-rate switches for one service request.

        Raises:
            Outage: the outage switch is on.
            InjectedFault: the fault-rate draw hit.
        """
        if self.outage:
            raise Outage("Tjenesten er midlertidig utilgjengelig (simulert driftsavbrudd)")
        if self.latency_ms > 0:
            await asyncio.sleep(self.latency_ms / 1000)
        if self.fault_rate > 0 and rng.random() < self.fault_rate:
            raise InjectedFault("Intern feil i tjenesten (simulert)")

    def check_quota(self) -> None:
        """Called by the bulk routes once the user is known (a quota is per consumer).

        Raises:
            QuotaExceeded: quota mode is on.
        """
        if self.quota_exceeded:
            raise QuotaExceeded(
                "Antall kjøretøy i responsen overstiger kvoten; prøv igjen etter midnatt",
                headers={"Retry-After": str(seconds_until_oslo_midnight())},
            )


def seconds_until_oslo_midnight(now: datetime | None = None) -> int:
    """Whole seconds until the next midnight in Norway (at least 1)."""
    local = (now or datetime.now(OSLO)).astimezone(OSLO)
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), OSLO)
    # Subtract in UTC: two datetimes sharing a ZoneInfo subtract as wall clocks, wrong on DST days.
    return max(1, int((midnight.astimezone(UTC) - local.astimezone(UTC)).total_seconds()))
