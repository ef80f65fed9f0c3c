"""The progress display: phase, elapsed/remaining, requests, errors and the current p95."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from harness.run.runner import Progress

PLAIN_EVERY_S = 5.0


class ProgressDisplay:
    """Rewrites one status line on a terminal; prints a line every few seconds otherwise."""

    def __init__(self, stream: TextIO = sys.stderr, quiet: bool = False) -> None:
        self.stream = stream
        self.quiet = quiet
        self.tty = stream.isatty()
        self._phase = ""
        self._last_plain = 0.0
        self._started = time.monotonic()
        self._line_open = False

    def say(self, message: str) -> None:
        if self.quiet:
            return
        self._end_line()
        elapsed = time.monotonic() - self._started
        print(f"[{elapsed:6.1f}s] {message}", file=self.stream, flush=True)

    def phase(self, name: str) -> None:
        self._phase = name
        self.say(f"phase: {name}")

    def update(self, progress: Progress) -> None:
        if self.quiet:
            return
        p95 = "-" if progress.window_p95_ms is None else f"{progress.window_p95_ms:.0f} ms"
        line = (
            f"{self._phase}: {progress.elapsed_s:5.1f}s elapsed, "
            f"{progress.remaining_s:5.1f}s left | "
            f"requests {progress.requests:,} | errors {progress.errors:,} | p95 (5 s) {p95}"
        )
        if self.tty:
            self.stream.write("\r\033[K" + line)
            self.stream.flush()
            self._line_open = True
        elif time.monotonic() - self._last_plain >= PLAIN_EVERY_S:
            self._last_plain = time.monotonic()
            print(line, file=self.stream, flush=True)

    def _end_line(self) -> None:
        if self._line_open:
            self.stream.write("\n")
            self._line_open = False
