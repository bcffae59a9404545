"""The Fiks error body (``ErrorMessage``) that every kjoretoyregister server answers with.

Shape (fiks-platform.md §1.8; ``fiks-common.json`` ``ErrorMessage``)::

    {"timestamp": 1700000000000, "status": 403, "error": "Forbidden",
     "errorId": "…uuid…", "path": "/…", "originalPath": null,
     "message": "…", "errorCode": "…" | null, "errorJson": null}

``timestamp`` is epoch milliseconds, ``error`` the HTTP reason phrase, ``errorId`` a UUID that
support can search for (callers may pass their correlation id). Fields Fiks leaves empty are
sent as ``null``, as the Java services do.
"""

from __future__ import annotations

import time
import uuid
from http import HTTPStatus
from typing import Any


def reason_phrase(status: int) -> str:
    """The standard reason phrase of ``status`` («Bad Request»), or «Error» if unknown."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def fiks_error_body(
    status: int,
    message: str,
    path: str,
    error_code: str | None = None,
    error_id: str | None = None,
) -> dict[str, Any]:
    """Build a Fiks ``ErrorMessage`` body.

    Args:
        status: the HTTP status of the response.
        message: human-readable text (never secrets, plates, fnr or names).
        path: the request path (without the query string).
        error_code: machine-readable service code, or None.
        error_id: a UUID string to use as ``errorId``; a new random one if None.

    Returns:
        A dict ready for JSON serialisation.
    """
    return {
        "timestamp": time.time_ns() // 1_000_000,
        "status": status,
        "error": reason_phrase(status),
        "errorId": error_id or str(uuid.uuid4()),
        "path": path,
        "originalPath": None,
        "message": message,
        "errorCode": error_code,
        "errorJson": None,
    }
