"""The open-model generator's own benchmark: how many requests a second one core of it sends
on schedule, and how late.

The mock provider runs as a local process answering at once, so every microsecond of CPU the
generator spends is its own; the generator process then runs a constant arrival rate, step after
step, and each step reports the rate achieved, the generator's CPU (its process's own
accounting), requests per second per core of it, and its schedule lag. The target is the
issue's: at least `TARGET_PER_CORE` req/s per core with schedule lag p99 under `TARGET_LAG_MS`.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from harness.bench.wrk import stat_cpu_s
from harness.errors import StackNotReadyError
from harness.ids import new_id
from harness.run.runner import run_load
from harness.stack.readiness import http_ok, wait_ready
from reports import aggregate
from reports.atomic import write_atomic
from scenarios.arrivals import Stage
from scenarios.catalog import OpenLoad, Scenario

RATES = (1000, 2000, 3000, 4000, 5000)
TARGET_PER_CORE = 2500.0
TARGET_LAG_MS = 5.0


@dataclass(frozen=True)
class GeneratorPoint:
    rate_rps: float
    achieved_rps: float
    errors: int
    generator_cores: float
    per_core_rps: float
    lag_p50_ms: float
    lag_p99_ms: float
    mock_cores: float


@dataclass(frozen=True)
class GeneratorBench:
    points: list[GeneratorPoint]
    best_per_core_rps: float
    """The best req/s per generator core among the points whose lag p99 met the target."""
    met: bool


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    return stat_cpu_s(Path(f"/proc/{pid}/stat").read_text())


def _start_mock(port: int) -> subprocess.Popen[bytes]:
    environment = {**os.environ, "MOCK_PORT": str(port), "MOCK_LATENCY_MS": "0"}
    environment["MOCK_COMPLETION_TOKENS"] = "16"
    mock = subprocess.Popen(
        [sys.executable, "-m", "harness.mock_upstream"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready("mock-upstream", http_ok(f"http://127.0.0.1:{port}/health"), 15, _alive(mock))
    except StackNotReadyError:
        mock.kill()
        raise
    return mock


def _alive(process: subprocess.Popen[bytes]) -> Callable[[], None]:
    """A readiness check that gives up at once when the local mock exited."""

    def check() -> None:
        if process.poll() is not None:
            raise StackNotReadyError("mock-upstream", f"exited with code {process.returncode}")

    return check


def _point(
    rate: float, duration_s: float, url: str, run_dir: Path, mock_pid: int
) -> GeneratorPoint:
    chosen = Scenario(
        name=f"generator-{rate:g}",
        description="generator benchmark",
        load=OpenLoad((Stage(duration_s, rate),)),
        duration_s=duration_s,
        protocol="openai",
    )
    run_dir.mkdir(parents=True)
    mock_before = _cpu_seconds(mock_pid)
    load = run_load(chosen, url, run_dir, lambda _: None)
    mock_cores = (_cpu_seconds(mock_pid) - mock_before) / load.generator.wall_s
    requests = aggregate.load_requests(load.samples)
    lags = requests["lag_ms"].dropna().to_numpy(dtype=float)
    ends = requests["start"] + requests["latency_ms"] / 1000
    span = float(ends.max() - requests["start"].min())
    cores = load.generator.busiest_process_cores
    achieved = len(requests) / span
    return GeneratorPoint(
        rate_rps=rate,
        achieved_rps=achieved,
        errors=int((requests["error"] != "").sum()),
        generator_cores=cores,
        per_core_rps=achieved / cores if cores else 0.0,
        lag_p50_ms=aggregate.percentile(lags, 50),
        lag_p99_ms=aggregate.percentile(lags, 99),
        mock_cores=mock_cores,
    )


def run_generator_bench(output_dir: Path, duration_s: float) -> tuple[GeneratorBench, Path]:
    directory = output_dir / new_id("bench-generator")
    directory.mkdir(parents=True)
    port = _free_port()
    mock = _start_mock(port)
    try:
        points = [
            _point(rate, duration_s, f"http://127.0.0.1:{port}", directory / f"{rate}", mock.pid)
            for rate in RATES
        ]
    finally:
        mock.terminate()
        mock.wait(timeout=10)
    bench = summarise(points)
    write_atomic(directory / "bench-generator.json", json.dumps(asdict(bench), indent=2))
    return bench, directory


def summarise(points: list[GeneratorPoint]) -> GeneratorBench:
    """The best req/s per generator core among the steps it drove on time and without errors."""
    healthy = [p for p in points if p.lag_p99_ms < TARGET_LAG_MS and p.errors == 0]
    best = max((p.per_core_rps for p in healthy), default=0.0)
    return GeneratorBench(points=points, best_per_core_rps=best, met=best >= TARGET_PER_CORE)


def format_generator_table(bench: GeneratorBench) -> str:
    lines = [
        f"{'target':>8} {'achieved':>9} {'errors':>7} {'gen cores':>10} {'req/s/core':>11} "
        f"{'lag p50':>8} {'lag p99':>8} {'mock cores':>11}"
    ]
    for p in bench.points:
        lines.append(
            f"{p.rate_rps:>8.0f} {p.achieved_rps:>9.0f} {p.errors:>7} {p.generator_cores:>10.2f} "
            f"{p.per_core_rps:>11.0f} {p.lag_p50_ms:>6.2f}ms {p.lag_p99_ms:>6.2f}ms "
            f"{p.mock_cores:>11.2f}"
        )
    mark = "met" if bench.met else "MISSED"
    lines.append(
        f"best with lag p99 < {TARGET_LAG_MS:g} ms: {bench.best_per_core_rps:,.0f} req/s per "
        f"generator core (target {TARGET_PER_CORE:,.0f}: {mark})"
    )
    return "\n".join(lines)
