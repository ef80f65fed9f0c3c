"""Runs Locust headless in its own process, bounded in time, and follows its samples.

Locust runs as a subprocess so that its gevent monkey-patching never touches the harness (which
samples containers in threads). Its requests land in a CSV file (`scenarios/recorder.py`) that
this module tails for the progress display.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import scenarios
from harness.errors import LoadGeneratorError

LOCUSTFILE = Path(scenarios.__file__).parent / "locustfile.py"
STOP_TIMEOUT_S = 5
GRACE_S = 30.0
WINDOW_S = 5.0


@dataclass(frozen=True)
class LoadPlan:
    user_class: str
    users: int
    spawn_rate: float
    duration_s: float
    rps_per_user: float


@dataclass(frozen=True)
class Progress:
    elapsed_s: float
    remaining_s: float
    requests: int
    errors: int
    window_p95_ms: float | None


class SampleTail:
    """Reads rows appended to the samples CSV since the last call."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._file: IO[str] | None = None
        self._pending = ""
        self.requests = 0
        self.errors = 0
        self._window: deque[tuple[float, float]] = deque()

    def poll(self, now: float) -> None:
        if self._file is None:
            if not self._path.exists():
                return
            self._file = self._path.open(newline="")
            self._file.readline()  # header
        self._pending += self._file.read()
        lines = self._pending.split("\n")
        self._pending = lines.pop()
        for row in csv.reader(lines):
            if len(row) < 5:
                continue
            self.requests += 1
            self.errors += 1 if row[4] else 0
            self._window.append((float(row[0]) + float(row[1]) / 1000, float(row[1])))
        while self._window and self._window[0][0] < now - WINDOW_S:
            self._window.popleft()

    def window_p95(self) -> float | None:
        if not self._window:
            return None
        latencies = sorted(latency for _, latency in self._window)
        return latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def locust_command(plan: LoadPlan, host: str, samples: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        plan.user_class,
        "--headless",
        "--host",
        host,
        "--users",
        str(plan.users),
        "--spawn-rate",
        str(plan.spawn_rate),
        "--run-time",
        f"{max(1, round(plan.duration_s))}s",
        "--stop-timeout",
        str(STOP_TIMEOUT_S),
        "--only-summary",
        "--exit-code-on-error",
        "0",
        "--loglevel",
        "WARNING",
        "--lg-samples",
        str(samples),
        "--lg-rps-per-user",
        str(plan.rps_per_user),
    ]


def run_locust(
    plan: LoadPlan,
    host: str,
    run_dir: Path,
    on_progress: Callable[[Progress], None],
    environment: Mapping[str, str] | None = None,
) -> Path:
    """Run the plan to completion; returns the samples file. Interrupts stop Locust first."""
    samples = run_dir / "samples.csv"
    log_path = run_dir / "locust.log"
    tail = SampleTail(samples)
    deadline_s = plan.duration_s + STOP_TIMEOUT_S + GRACE_S
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            locust_command(plan, host, samples),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(environment or {})},
            start_new_session=True,  # Ctrl-C reaches the harness, which stops Locust itself
        )
        started = time.monotonic()
        try:
            while process.poll() is None:
                elapsed = time.monotonic() - started
                if elapsed > deadline_s:
                    raise LoadGeneratorError(f"Locust did not stop within {deadline_s:.0f} s")
                tail.poll(time.time())
                on_progress(
                    Progress(
                        elapsed,
                        max(0.0, plan.duration_s - elapsed),
                        tail.requests,
                        tail.errors,
                        tail.window_p95(),
                    )
                )
                time.sleep(1.0)
        finally:
            _stop(process)
            tail.close()
    if process.returncode != 0:
        output = log_path.read_text()[-2000:]
        raise LoadGeneratorError(f"Locust exited with code {process.returncode}:\n{output}")
    if not samples.exists():
        raise LoadGeneratorError(f"Locust recorded no samples (see {log_path})")
    return samples


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_S + 5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
