"""Application logging: structlog on top of the standard library.

Log events carry route templates, statuses, timings and correlation ids. They never carry
plates, VINs, names, fødselsnummer or organisation numbers of owners: those belong in the
audit log, which has its own access rules. Callers pass such values nowhere near a logger.
"""

from __future__ import annotations

import logging
import sys

import structlog
from aiohttp.http_exceptions import HttpProcessingError


def configure_logging(level: str = "INFO", json: bool = False) -> None:
    """Set up structlog and the stdlib root logger once per process."""
    processors: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
    if json:
        # Standard-library records (aiohttp, alembic, SQLAlchemy) as JSON lines too, so a log
        # shipper sees one format; their messages pass the same no-identifier rule.
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                processor=structlog.processors.JSONRenderer(),
                foreign_pre_chain=[
                    structlog.stdlib.add_logger_name,
                    structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso", utc=True),
                ],
            )
        )
        logging.basicConfig(level=level, handlers=[handler])
    else:
        logging.basicConfig(
            level=level, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s"
        )
    # aiohttp's access log would print full request lines (paths with plates/VINs): keep it off.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # Every CLI command migrates its store first; "Context impl SQLiteImpl" on each run is noise.
    if level != "DEBUG":
        logging.getLogger("alembic").setLevel(logging.WARNING)
    redact_protocol_errors()


class _CurrentStderr:
    """A file-like that writes to whatever ``sys.stderr`` is at the moment of writing.

    Loggers are bound once (at app creation) for speed; test runners and daemons swap the
    stream later, and a logger holding a stale or closed stream would lose lines or turn every
    request into a 500.
    """

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


_STDERR = _CurrentStderr()


def _stderr_logger(*_args: object) -> structlog.PrintLogger:
    return structlog.PrintLogger(_STDERR)  # type: ignore[arg-type]


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)  # type: ignore[no-any-return]


class ProtocolErrorRedactor(logging.Filter):
    """Rewrite aiohttp's "bad request" log records so they carry no request content.

    aiohttp answers a request it cannot parse (raw UTF-8 in the query, ``?navn=MØLLER``, a
    broken request line) itself, before any handler of ours, and logs it on ``aiohttp.server``
    with the raw request line, which can hold a plate, a VIN, a name or a token. Only the kind
    of error is kept.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact a record whose exception is an HTTP parse error; pass all others."""
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            record.msg = "refused a malformed HTTP request (%s %s)"
            record.args = (exc.code, type(exc).__name__)
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def redact_protocol_errors() -> None:
    """Install :class:`ProtocolErrorRedactor` on ``aiohttp.server`` once per process.

    Every aiohttp app factory calls this too, since tests and embedders build apps without
    going through :func:`configure_logging`.
    """
    logger = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, ProtocolErrorRedactor) for f in logger.filters):
        logger.addFilter(ProtocolErrorRedactor())
