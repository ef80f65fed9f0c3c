"""Reading a request body: whole, bounded in size and in time, before any slot is taken.

A concurrency slot used to be taken before the body was read, and reading had no deadline: with
MAX_CONCURRENCY=2, two clients that sent 1 of 1,000 announced bytes held both slots for as long
as they stalled, and every other caller got 503. The body is therefore read first (so a slot is
only held by a request the gateway can work on) and within `REQUEST_BODY_TIMEOUT_SECONDS` (so a
stalled upload ends with 408 and its connection closed). The deadline is one timer per request,
about 1 µs; small bodies have usually arrived with the headers and are read in one `receive`.
"""

from __future__ import annotations

import asyncio

from starlette.types import Receive

MAX_BODY_BYTES = 8 * 1024 * 1024


class BodyTooLargeError(Exception):
    """The body is larger than `MAX_BODY_BYTES` (413)."""


class ClientDisconnectedError(Exception):
    """The client went away before its body was complete: nobody is left to answer."""


class BodyTimeoutError(Exception):
    """The body was not received within the deadline (408)."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        super().__init__(f"request body not received within {timeout_s:g} s")


async def read_body(receive: Receive, timeout_s: float) -> bytes:
    """The whole body, at most `MAX_BODY_BYTES`, received within `timeout_s` seconds."""
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ClientDisconnectedError
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise BodyTooLargeError
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
    except TimeoutError:
        raise BodyTimeoutError(timeout_s) from None
