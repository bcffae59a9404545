"""The correlation id: one per request, taken from ``X-Request-ID`` when it looks sane.

It is returned in ``X-Request-ID``, used as the Fiks error body's ``errorId``, sent upstream,
logged and audited, so a caller's support case can be followed end to end.
"""

from __future__ import annotations

import re
import uuid

HEADER = "X-Request-ID"

# Printable token characters only, bounded: the value goes into logs and the audit log.
_SANE = re.compile(r"[A-Za-z0-9._:\-]{8,128}")


def correlation_id(incoming: str | None) -> str:
    """Return ``incoming`` if it is a sane id (8–128 of ``[A-Za-z0-9._:-]``), else a new uuid4."""
    if incoming is not None and _SANE.fullmatch(incoming):
        return incoming
    return str(uuid.uuid4())
