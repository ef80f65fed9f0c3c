"""Reading a request body: whole, bounded in size and in time, before any slot is taken.

A concurrency slot used to be taken before the body was read, and reading had no deadline: with
MAX_CONCURRENCY=2, two clients that sent 1 of 1,000 announced bytes held both slots for as long
as they stalled, and every other caller got 503. The body is therefore read first (a slot is
only held by a request the gateway can work on), and within `REQUEST_BODY_TIMEOUT_SECONDS` (a
stalled upload ends with 408 and its connection closed).

The deadline is kept by one sweep a quarter of the timeout apart (at most `SWEEP_EVERY_S`),
which cancels the reads past it, and not by a timer per request: `asyncio.timeout` cost 6-8 µs
a request here, registering a read in the sweep's table well under 1 µs. A stalled read ends
between 1 and 1.25 times the timeout after it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from starlette.types import Receive

MAX_BODY_BYTES = 8 * 1024 * 1024
SWEEP_EVERY_S = 1.0


class BodyTooLargeError(Exception):
    """The body is larger than `MAX_BODY_BYTES` (413)."""


class ClientDisconnectedError(Exception):
    """The client went away before its body was complete: nobody is left to answer."""


class BodyTimeoutError(Exception):
    """The body was not received within the deadline (408)."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        super().__init__(f"request body not received within {timeout_s:g} s")


class BodyReader:
    """Reads bodies under a deadline that one periodic sweep enforces (`start` it)."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._deadlines: dict[asyncio.Task[object], float] = {}
        self._expired: set[asyncio.Task[object]] = set()
        self._sweeper: asyncio.Task[None] | None = None

    async def read(self, receive: Receive) -> bytes:
        """The whole body, at most `MAX_BODY_BYTES`, received within the timeout."""
        task = asyncio.current_task()
        if task is None:  # not in a task: nothing the sweep could cancel
            return await _read_bounded(receive)
        self._deadlines[task] = time.monotonic() + self.timeout_s
        try:
            return await _read_bounded(receive)
        except asyncio.CancelledError:
            if task not in self._expired:
                raise
            self._expired.discard(task)
            task.uncancel()
            raise BodyTimeoutError(self.timeout_s) from None
        finally:
            del self._deadlines[task]

    def start(self) -> None:
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep())

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(min(self.timeout_s / 4, SWEEP_EVERY_S))
            now = time.monotonic()
            for task, deadline in list(self._deadlines.items()):
                if deadline <= now and task not in self._expired:
                    self._expired.add(task)
                    task.cancel()


async def _read_bounded(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
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
