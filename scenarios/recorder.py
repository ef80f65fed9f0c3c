"""Writes every request Locust makes to the samples file (`scenarios.samples`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gevent
from locust.env import Environment

from scenarios.samples import SampleWriter, row

FLUSH_EVERY_S = 0.5


def error_kind(status: int, exception: BaseException | None) -> str:
    if exception is None:
        return ""
    if status:
        return f"http_{status}"
    return type(exception).__name__


class SampleRecorder:
    def __init__(self, environment: Environment, path: Path) -> None:
        self._writer = SampleWriter(path)
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
        self._writer.add(
            row(
                start,
                response_time,
                name,
                status,
                error_kind(status, exception),
                response_length or 0,
            )
        )

    def flush(self) -> None:
        self._writer.flush()

    def _flush_loop(self) -> None:
        while True:
            gevent.sleep(FLUSH_EVERY_S)
            self.flush()

    def close(self, **_: Any) -> None:
        self._flusher.kill(block=False)
        self._writer.close()
