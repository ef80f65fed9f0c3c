"""Writes every request Locust makes to a CSV file, at full resolution.

One row a request: start time (Unix seconds), latency in milliseconds as measured by Locust,
request name, HTTP status (0 when no response), error kind (empty on success), response bytes.
Percentiles are computed from these rows, never from Locust's rounded histogram buckets.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import IO, Any

import gevent
from locust.env import Environment

HEADER = ("start", "latency_ms", "name", "status", "error", "bytes")
FLUSH_EVERY_S = 0.5


def error_kind(status: int, exception: BaseException | None) -> str:
    if exception is None:
        return ""
    if status:
        return f"http_{status}"
    return type(exception).__name__


class SampleRecorder:
    def __init__(self, environment: Environment, path: Path) -> None:
        self._rows: list[tuple[Any, ...]] = []
        self._file: IO[str] = path.open("w", newline="")
        self._writer = csv.writer(self._file)
        self._writer.writerow(HEADER)
        self._file.flush()
        environment.events.request.add_listener(self.on_request)
        environment.events.quitting.add_listener(self.close)
        self._flusher = gevent.spawn(self._flush_loop)

    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float,
        response_length: int,
        response: Any = None,
        exception: BaseException | None = None,
        start_time: float | None = None,
        **_: Any,
    ) -> None:
        status = int(getattr(response, "status_code", 0) or 0)
        start = start_time if start_time is not None else 0.0
        self._rows.append(
            (
                f"{start:.6f}",
                f"{response_time:.3f}",
                name,
                status,
                error_kind(status, exception),
                response_length or 0,
            )
        )

    def flush(self) -> None:
        if self._rows and not self._file.closed:
            rows, self._rows = self._rows, []
            self._writer.writerows(rows)
            self._file.flush()

    def _flush_loop(self) -> None:
        while True:
            gevent.sleep(FLUSH_EVERY_S)
            self.flush()

    def close(self, **_: Any) -> None:
        self._flusher.kill(block=False)
        self.flush()
        self._file.close()
