"""Keep identifiers out of aiohttp's own error logs.

aiohttp answers a request it cannot parse (raw UTF-8 in the query, ``?navn=MØLLER``, a broken
request line) itself, before our handler, and logs it on ``aiohttp.server`` *with the raw
request line*, which can hold a plate, a VIN, a name or a token. This filter keeps only the kind
of error. (The simulator has the same filter; logs.configure_logging would be the one place.)
"""

from __future__ import annotations

import logging

from aiohttp.http_exceptions import HttpProcessingError


class ProtocolErrorRedactor(logging.Filter):
    """Rewrite aiohttp's "bad request" log records to carry no request content."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact a record whose exception is an HTTP parse error; pass all others."""
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            record.msg = "gateway: refused a malformed HTTP request (%s %s)"
            record.args = (exc.code, type(exc).__name__)
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def install() -> None:
    """Add the filter to ``aiohttp.server`` once per process."""
    logger = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, ProtocolErrorRedactor) for f in logger.filters):
        logger.addFilter(ProtocolErrorRedactor())
