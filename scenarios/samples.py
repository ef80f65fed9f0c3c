"""The per-request samples file both generators write, at full resolution.

One row a request: `start` (Unix seconds: when the request was *meant* to be sent, by the open
model's schedule or a paced closed-model user's; when it was sent, for unpaced users),
`latency_ms` from that moment to the end of the answer, request `name`, HTTP `status` (0 when
no response), `error` kind (empty on success), response `bytes`; scheduled rows add `lag_ms`
(how late the send went out, so `latency_ms - lag_ms` is the service time), and streams add
`ttft_ms` (to the first token, from the same start) and `tokens` (content chunks received).
Percentiles are computed from these rows, never from rounded histogram buckets.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import IO, Protocol

HEADER = ("start", "latency_ms", "name", "status", "error", "bytes", "lag_ms", "ttft_ms", "tokens")
Row = tuple[str, str, str, int, str, int, str, str, str]


def optional(value: float | None, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def row(
    start: float,
    latency_ms: float,
    name: str,
    status: int,
    error: str = "",
    size: int = 0,
    lag_ms: float | None = None,
    ttft_ms: float | None = None,
    tokens: int | None = None,
) -> Row:
    return (  # `optional` written out: a row is formatted per request, at thousands a second
        f"{start:.6f}",
        f"{latency_ms:.3f}",
        name,
        status,
        error,
        size,
        "" if lag_ms is None else f"{lag_ms:.3f}",
        "" if ttft_ms is None else f"{ttft_ms:.3f}",
        "" if tokens is None else str(tokens),
    )


class RowSink(Protocol):
    """Where a recorder's rows go: a samples file, or a distributed worker's master."""

    def add(self, sample: Row) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class RowReader:
    """Reads the rows appended to a samples file since the last call (a line still being
    written waits for its end; the header, once written, is skipped)."""

    def __init__(self, path: Path) -> None:
        self._file: IO[str] = path.open(newline="")
        self._pending = ""

    def read(self) -> list[list[str]]:
        text = self._pending + self._file.read()
        lines = text.split("\n")
        self._pending = lines.pop()
        return [row for row in csv.reader(lines) if len(row) >= 5 and tuple(row) != HEADER]

    def close(self) -> None:
        self._file.close()


class SampleWriter:
    """Buffers rows and appends them to the file on `flush()` (the harness tails it)."""

    def __init__(self, path: Path) -> None:
        self._rows: list[Row] = []
        self.add: Callable[[Row], None] = self._rows.append
        """Keep a row for the next flush (the list's own append: called per request)."""
        self._file: IO[str] = path.open("w", newline="")
        self._writer = csv.writer(self._file)
        self._writer.writerow(HEADER)
        self._file.flush()

    def flush(self) -> None:
        if self._rows and not self._file.closed:
            self._writer.writerows(self._rows)
            self._rows.clear()
            self._file.flush()

    def close(self) -> None:
        self.flush()
        self._file.close()
