"""Why a connection failed, in words a user can act on (not the exception's repr)."""

from __future__ import annotations

import os
import urllib.error

import aiohttp


def connection_reason(exc: BaseException) -> str:
    """The OS-level reason under an aiohttp or urllib connection error, e.g. "connection refused".

    aiohttp's own text ("Cannot connect to host … ssl:default [Connect call failed …]") and the
    repr (``ClientConnectorError(ConnectionKey(host=…``) are Python internals; errno's wording
    is the same whichever library made the call.
    """
    cause: object = exc
    if isinstance(exc, aiohttp.ClientConnectorError):
        cause = exc.os_error
    elif isinstance(exc, urllib.error.URLError):
        cause = exc.reason
    if isinstance(cause, TimeoutError):
        return "no answer in time"
    if isinstance(cause, OSError) and (cause.errno or cause.strerror):
        text = os.strerror(cause.errno) if cause.errno else str(cause.strerror)
        return text[:1].lower() + text[1:]
    return str(cause) or type(cause).__name__
