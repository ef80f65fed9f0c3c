"""The two yardsticks `loadgate bench --generator` measures beside loadgate's generator, in the
same run and against the same local mock: Locust's `FastHttpUser` and wrk.

Each drives the mock closed-loop and unpaced, as hard as it can, and is charged for its own CPU
only: Locust for its process over its steady window (it measures itself:
`harness/bench/fasthttp_locustfile.py`), wrk for its process from the kernel's accounting
(`harness.bench.wrk`). wrk runs from its image (`loadgate/wrk:bookworm`, built here) with the
host's network, so it reaches the mock on the loopback; with no Docker engine it is skipped, and
the reason printed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.bench import wrk
from harness.bench.run import CHAT, WRK_DOCKERFILE, WRK_IMAGE
from harness.bench.wrk import stat_cpu_s
from harness.errors import SetupError
from harness.stack.docker import LABEL_PROJECT, LABEL_RUN, DockerEngine, owner_labels
from harness.stack.images import ImageBuilder

LOCUSTFILE = Path(__file__).with_name("fasthttp_locustfile.py")
"""Run by Locust in its own process: never imported here (Locust patches the standard library)."""
RESULT_ENV = "LOADGATE_BENCH_RESULT"
BODY_ENV = "LOADGATE_BENCH_BODY"
LOCUST_USERS = 32
"""Enough users to keep one Locust process busy (it is CPU-bound well before 32)."""
WRK_CONNECTIONS = 32


@dataclass(frozen=True)
class BaselinePoint:
    """One yardstick's run: what it achieved and what it cost."""

    generator: str
    load: str
    """How it drove the mock (users or connections)."""
    achieved_rps: float
    errors: int
    cores: float
    per_core_rps: float
    mock_cores: float


def cpu_seconds(pid: int) -> float:
    return stat_cpu_s(Path(f"/proc/{pid}/stat").read_text())


def run_locust(url: str, duration_s: float, mock_pid: int, body: str) -> BaselinePoint:
    """One Locust process, `LOCUST_USERS` FastHttpUsers, unpaced, for `duration_s`."""
    with tempfile.TemporaryDirectory(prefix="loadgate-bench-locust-") as scratch:
        result = Path(scratch) / "locust.json"
        command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless"]
        command += ["--host", url, "--users", str(LOCUST_USERS), "--spawn-rate", "1000"]
        command += ["--run-time", f"{max(1, round(duration_s))}s", "--only-summary"]
        command += ["--loglevel", "ERROR", "--exit-code-on-error", "0"]
        environment = {**os.environ, RESULT_ENV: str(result), BODY_ENV: body}
        mock_before = cpu_seconds(mock_pid)
        finished = subprocess.run(
            command,
            check=False,
            env=environment,
            capture_output=True,
            text=True,
            timeout=duration_s + 60,
        )
        if finished.returncode != 0 or not result.exists():
            raise SetupError(f"Locust failed ({finished.returncode}): {finished.stderr[-500:]}")
        figures = json.loads(result.read_text())
    wall, cpu, requests = figures["wall_s"], figures["cpu_s"], figures["requests"]
    return BaselinePoint(
        generator="Locust FastHttpUser",
        load=f"{LOCUST_USERS} users",
        achieved_rps=requests / wall,
        errors=int(figures["failures"]),
        cores=cpu / wall,
        per_core_rps=requests / cpu if cpu else 0.0,
        mock_cores=(cpu_seconds(mock_pid) - mock_before) / wall,
    )


def run_wrk(
    root: Path, url: str, duration_s: float, mock_pid: int, body: str, say: Callable[[str], None]
) -> BaselinePoint:
    """wrk (one thread, `WRK_CONNECTIONS`) from its container on the host's network. Raises
    `SetupError` when no engine answers or its image cannot be built."""
    engine = DockerEngine.connect()
    try:
        builder = ImageBuilder(engine, root, "python:3.11-slim", say)
        builder.build(WRK_IMAGE, root, WRK_DOCKERFILE, builder.base())
        labels = {LABEL_PROJECT: "bench", LABEL_RUN: "bench-generator", **owner_labels()}
        mock_before = cpu_seconds(mock_pid)
        result = wrk.run_in_container(
            engine, WRK_IMAGE, "host", labels, url + CHAT, body, WRK_CONNECTIONS, duration_s
        )
        mock_cores = (cpu_seconds(mock_pid) - mock_before) / duration_s
    finally:
        engine.close()
    seconds = max(1, round(duration_s))
    return BaselinePoint(
        generator="wrk",
        load=f"{WRK_CONNECTIONS} connections",
        achieved_rps=result.rps,
        errors=result.errors,
        cores=result.cpu_s / seconds,
        per_core_rps=result.requests / result.cpu_s if result.cpu_s else 0.0,
        mock_cores=mock_cores,
    )
