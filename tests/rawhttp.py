"""Raw-socket HTTP for tests: send exactly the bytes an HTTP library would refuse to send."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass
class RawAnswer:
    """What came back: status (0 = the server closed without answering), headers, body."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    seconds: float = 0.0

    def json(self) -> Any:
        return orjson.loads(self.body)


def parse(raw: bytes) -> RawAnswer:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines or not lines[0].startswith("HTTP/"):
        return RawAnswer(0, body=raw)
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = headers.get("content-length")
    if length is not None:
        body = body[: int(length)]
    return RawAnswer(status, headers, body)


async def exchange(
    host: str, port: int, *chunks: bytes, pause_s: float = 0.0, timeout_s: float = 5.0
) -> RawAnswer:
    """Send ``chunks`` (``pause_s`` apart), then read until the server closes or answers.

    The read stops at ``timeout_s``; a request the server neither answered nor closed by then
    comes back as status -1, so a test can tell "hung" from "refused".
    """
    started = time.monotonic()
    reader, writer = await asyncio.open_connection(host, port)
    received = b""
    try:
        for i, chunk in enumerate(chunks):
            if i and pause_s:
                await asyncio.sleep(pause_s)
            writer.write(chunk)
            try:
                await writer.drain()
            except ConnectionError:
                break
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    part = await reader.read(65_536)
                    if not part:
                        break
                    received += part
                    answer = parse(received)
                    if (
                        answer.status
                        and len(answer.body) >= int(answer.headers.get("content-length", "-1")) >= 0
                    ):
                        break
        except TimeoutError:
            if not received:
                return RawAnswer(-1, seconds=time.monotonic() - started)
        except ConnectionError:
            pass
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    answer = parse(received)
    answer.seconds = time.monotonic() - started
    return answer


def request(
    method: str, target: bytes, headers: list[tuple[bytes, bytes]], body: bytes = b""
) -> bytes:
    """One HTTP/1.1 request as bytes, with nothing checked or escaped."""
    lines = [method.encode() + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1"]
    lines += [name + b": " + value for name, value in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body
