"""Writes every request Locust makes to the samples file (`scenarios.samples`), and notes its
answers (`scenarios.inspection`).

A paced user passes the intended send time of each request in its `context`
(`scenarios.pacing.INTENDED`); the row then starts at that time, as the open model's rows do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gevent
from locust.env import Environment

from scenarios.inspection import ResponseInspector, body_error
from scenarios.pacing import INTENDED, corrected
from scenarios.samples import RowSink, SampleWriter, row

FLUSH_EVERY_S = 0.5


def error_kind(status: int, exception: BaseException | None) -> str:
    """Empty on success; `http_<status>` for an error status or a redirect (never followed, so
    never a success); the exception's name when there was no answer."""
    if exception is None:
        return f"http_{status}" if 300 <= status < 400 else ""
    if status:
        return f"http_{status}"
    return type(exception).__name__


def _content(response: Any) -> bytes:
    try:
        body = getattr(response, "content", None) or b""
    except Exception:  # noqa: BLE001 - an answer cut short: what was read is unknown
        return b""
    return body if isinstance(body, bytes) else str(body).encode()


class SampleRecorder:
    """Rows go to `writer` (default: a samples file at `path`); notes on the answers go next to
    `path` (`scenarios.inspection`)."""

    def __init__(self, environment: Environment, path: Path, writer: RowSink | None = None) -> None:
        self._writer = writer or SampleWriter(path)
        self._inspector = ResponseInspector.from_environment(path)
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
        context: dict[str, Any] | None = None,
        **_: Any,
    ) -> None:
        status = int(getattr(response, "status_code", 0) or 0)
        body = _content(response)
        error = error_kind(status, exception)
        if not error and 200 <= status < 300:
            error = body_error(body)
        sent_at = start_time if start_time is not None else 0.0
        intended = (context or {}).get(INTENDED)
        if intended is None:
            sample = row(sent_at, response_time, name, status, error, response_length or 0)
        else:
            latency_ms, lag_ms = corrected(sent_at, float(intended), response_time)
            size = response_length or 0
            sample = row(float(intended), latency_ms, name, status, error, size, lag_ms)
        self._writer.add(sample)
        headers = getattr(response, "headers", None)
        self._inspector.answer(name, status, error, headers.items() if headers else (), body)

    def flush(self) -> None:
        self._writer.flush()

    def _flush_loop(self) -> None:
        while True:
            gevent.sleep(FLUSH_EVERY_S)
            self.flush()

    def close(self, **_: Any) -> None:
        self._flusher.kill(block=False)
        self._writer.close()
        self._inspector.close()
