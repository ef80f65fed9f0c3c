"""The access log: one key=value line per API request, written in batches.

A write per line into a container's log pipe cost 64 µs a request here (14 % of a core at
2,000 req/s); lines are therefore formatted at once and buffered, and a background task writes
the buffer every `FLUSH_EVERY_S` (or sooner when it fills). The lifespan flushes what is left at
shutdown, so a drained gateway loses no line; a crash can lose the last fraction of a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TextIO

FLUSH_EVERY_S = 0.2
MAX_BUFFERED = 512


class AccessLog:
    def __init__(self, stream: TextIO, enabled: bool) -> None:
        self._stream = stream
        self.enabled = enabled
        self._lines: list[str] = []
        self._task: asyncio.Task[None] | None = None

    def line(
        self, request_id: str, method: str, path: str, status: int, latency_ms: float, cache: str
    ) -> None:
        if not self.enabled:
            return
        self._lines.append(
            f"ts={time.time():.3f} level=INFO logger=gateway.access msg=request id={request_id} "
            f"method={method} path={path} status={status} latency_ms={latency_ms:.1f} "
            f"cache={cache}\n"
        )
        if len(self._lines) >= MAX_BUFFERED:
            self.flush()

    def flush(self) -> None:
        if self._lines:
            lines, self._lines = self._lines, []
            self._stream.write("".join(lines))
            self._stream.flush()

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_EVERY_S)
            self.flush()

    def start(self) -> None:
        if self.enabled and self._task is None:
            self._task = asyncio.create_task(self._flush_periodically())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.flush()
