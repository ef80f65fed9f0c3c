"""The open-model generator's own benchmark: how many requests a second one core of it sends
on schedule, and how late, beside Locust's `FastHttpUser` and wrk in the same run.

The mock provider runs as a local process answering at once (latency 0), so every microsecond
of CPU a generator spends is its own. loadgate's generator runs one process at constant arrival
rates, step after step, and each step reports the rate achieved, the generator's cores and
requests per CPU-second (its process's own accounting, from its summary), its schedule lag
p50/p99, and the mock's cores. Then Locust (`FastHttpUser`, closed, unpaced, one process) and
wrk drive the same mock as hard as they can, each charged for its own CPU
(`harness.bench.baselines`). The target is the issue's: at least `TARGET_PER_CORE` requests a
second per generator core with schedule lag p99 under `TARGET_LAG_MS`.

The machine has two cores and the mock needs most of one: from about 4,000-5,000 req/s (as
busy as the machine is) the mock cannot keep up (its column nears 1.0, the step is marked
"mock-bound"), answers queue and the step measures the mock more than the generator. So the
rates stop at 5,000, and the best step is usually one where the mock kept up.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness.bench.baselines import BaselinePoint, cpu_seconds, run_locust, run_wrk
from harness.bench.run import BODY
from harness.errors import SetupError, StackNotReadyError
from harness.ids import new_id
from harness.run.generator_commands import open_model_command
from harness.stack.readiness import http_ok, wait_ready
from reports import aggregate
from reports.atomic import write_atomic
from scenarios.arrivals import Stage
from scenarios.catalog import OpenLoad, Scenario
from scenarios.plan import open_shares

RATES = (2000, 3000, 4000, 5000)
TARGET_PER_CORE = 15000.0
TARGET_LAG_MS = 5.0
MOCK_SATURATED_CORES = 0.9
"""A mock this busy is the limit of the step, not the generator."""


@dataclass(frozen=True)
class GeneratorPoint:
    rate_rps: float
    achieved_rps: float
    errors: int
    generator_cores: float
    per_core_rps: float
    """Requests answered per CPU-second of the generator process."""
    lag_p50_ms: float
    lag_p99_ms: float
    mock_cores: float


@dataclass(frozen=True)
class GeneratorBench:
    points: list[GeneratorPoint]
    best_per_core_rps: float
    """The best req/s per generator core among the points whose lag p99 met the target."""
    met: bool
    baselines: list[BaselinePoint] = field(default_factory=list)
    """Locust's and wrk's runs beside it, against the same mock."""
    skipped: dict[str, str] = field(default_factory=dict)
    """Each yardstick that could not run, with why."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
    """One constant-rate step of one generator process, run directly (no harness tailing its
    samples beside it, on these two cores)."""
    load = OpenLoad((Stage(duration_s, rate),))
    chosen = Scenario(
        name=f"generator-{rate:g}",
        description="generator benchmark",
        load=load,
        duration_s=duration_s,
        protocol="openai",
    )
    run_dir.mkdir(parents=True)
    command = open_model_command(chosen, url, run_dir, open_shares(1, load.max_in_flight)[0])
    mock_before = cpu_seconds(mock_pid)
    with (run_dir / "generator.log").open("wb") as log:
        finished = subprocess.run(command, check=False, stderr=log, timeout=duration_s + 90)
    code = finished.returncode
    if code != 0:
        raise SetupError(f"the generator exited with {code}: see {run_dir / 'generator.log'}")
    summary = json.loads((run_dir / "generator-0.json").read_text())
    wall_s, cpu_s = summary["wall_s"], summary["cpu_s"]
    mock_cores = (cpu_seconds(mock_pid) - mock_before) / wall_s
    requests = aggregate.load_requests(run_dir / "samples-0.csv")
    lags = requests["lag_ms"].dropna().to_numpy(dtype=float)
    ends = requests["start"] + requests["latency_ms"] / 1000
    span = float(ends.max() - requests["start"].min())
    return GeneratorPoint(
        rate_rps=rate,
        achieved_rps=len(requests) / span,
        errors=int((requests["error"] != "").sum()),
        generator_cores=cpu_s / wall_s,
        per_core_rps=len(requests) / cpu_s if cpu_s else 0.0,
        lag_p50_ms=aggregate.percentile(lags, 50),
        lag_p99_ms=aggregate.percentile(lags, 99),
        mock_cores=mock_cores,
    )


def run_generator_bench(
    root: Path, output_dir: Path, duration_s: float, say: Callable[[str], None] = print
) -> tuple[GeneratorBench, Path]:
    directory = output_dir / new_id("bench-generator")
    directory.mkdir(parents=True)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    mock = _start_mock(port)
    baselines: list[BaselinePoint] = []
    skipped: dict[str, str] = {}
    try:
        points = []
        for rate in RATES:
            say(f"loadgate open model at {rate:,} req/s for {duration_s:g} s")
            points.append(_point(rate, duration_s, url, directory / f"{rate}", mock.pid))
        say(f"Locust FastHttpUser, unpaced, for {duration_s:g} s")
        baselines.append(run_locust(url, duration_s, mock.pid, BODY))
        say(f"wrk, unpaced, for {duration_s:g} s")
        try:
            baselines.append(run_wrk(root, url, duration_s, mock.pid, BODY, say))
        except SetupError as exc:
            skipped["wrk"] = str(exc)
    finally:
        mock.terminate()
        mock.wait(timeout=10)
    bench = summarise(points, baselines, skipped)
    write_atomic(directory / "bench-generator.json", json.dumps(asdict(bench), indent=2))
    return bench, directory


def summarise(
    points: list[GeneratorPoint],
    baselines: list[BaselinePoint] | None = None,
    skipped: dict[str, str] | None = None,
) -> GeneratorBench:
    """The best req/s per generator core among the steps it drove on time and without errors."""
    healthy = [p for p in points if p.lag_p99_ms < TARGET_LAG_MS and p.errors == 0]
    best = max((p.per_core_rps for p in healthy), default=0.0)
    return GeneratorBench(
        points=points,
        best_per_core_rps=best,
        met=best >= TARGET_PER_CORE,
        baselines=baselines or [],
        skipped=skipped or {},
    )


def format_generator_table(bench: GeneratorBench) -> str:
    """One table: loadgate's steps, then Locust and wrk, then the verdict line."""
    lines = [
        f"{'generator':<22}{'load':>15}{'req/s':>9}{'errors':>7}{'cores':>7}{'req/s/core':>11}"
        f"{'lag p50':>9}{'lag p99':>9}{'mock cores':>11}"
    ]
    for p in bench.points:
        mark = "  mock-bound" if p.mock_cores >= MOCK_SATURATED_CORES else ""
        lines.append(
            f"{'loadgate open model':<22}{f'{p.rate_rps:,.0f} req/s':>15}{p.achieved_rps:>9,.0f}"
            f"{p.errors:>7}{p.generator_cores:>7.2f}{p.per_core_rps:>11,.0f}"
            f"{p.lag_p50_ms:>7.2f}ms{p.lag_p99_ms:>7.2f}ms{p.mock_cores:>11.2f}{mark}"
        )
    for b in bench.baselines:
        mark = "  mock-bound" if b.mock_cores >= MOCK_SATURATED_CORES else ""
        lines.append(
            f"{b.generator:<22}{b.load:>15}{b.achieved_rps:>9,.0f}{b.errors:>7}{b.cores:>7.2f}"
            f"{b.per_core_rps:>11,.0f}{'-':>9}{'-':>9}{b.mock_cores:>11.2f}{mark}"
        )
    for name, reason in bench.skipped.items():
        lines.append(f"{name:<22} skipped: {reason}")
    verdict = "met" if bench.met else "MISSED"
    lines.append(
        f"best with lag p99 < {TARGET_LAG_MS:g} ms: {bench.best_per_core_rps:,.0f} req/s per "
        f"generator core (target {TARGET_PER_CORE:,.0f}: {verdict})"
    )
    return "\n".join(lines)
