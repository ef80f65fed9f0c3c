"""A run directory read back as one round of a compare: every request, and the per-round figures.

A compare is computed from run directories alone (its own rounds, or two stored runs), so this
is also where a crafted run directory is refused: its result file through `load_result`, and
the samples file it names only when that name is a plain file name inside the directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from reports import aggregate
from reports.result import ResultFileError, RunResult, load_result

SAMPLE_COLUMNS = frozenset({"start", "latency_ms", "error"})


@dataclass(frozen=True)
class RoundSamples:
    """One run, as a compare sees it."""

    run_dir: Path
    result: RunResult
    latencies: np.ndarray
    """Milliseconds per request, from its intended send time (what budgets judge)."""
    failed: np.ndarray
    """Per request: it failed (any error kind)."""

    @property
    def throughput_rps(self) -> float | None:
        """Answered requests per second over the load: the judged `achieved_rps` when the run
        measured it (the load without its spawning), else the headline figure."""
        achieved = self.result.findings.figures.get("achieved_rps")
        return achieved if achieved is not None else self.result.throughput_rps or None

    @property
    def memory_p95_bytes(self) -> int | None:
        memory = self.result.memory
        return None if memory is None else memory.p95_bytes

    @property
    def cpu_ms_per_request(self) -> float | None:
        """The gateway's CPU time per request: mean cores x load seconds / requests."""
        cpu, requests = self.result.cpu, self.result.latency.count
        if cpu is None or requests == 0:
            return None
        return cpu.mean_cores * self.result.load_duration_s * 1000.0 / requests


def read_round(run_dir: Path) -> RoundSamples:
    """The run in `run_dir` (its `result.json` and the samples file it names)."""
    result = load_result(run_dir)
    name = result.files.get("samples", "")
    if not name or Path(name).name != name or name.startswith("."):
        raise ResultFileError(f"{run_dir}: the result names no samples file in its directory")
    path = run_dir / name
    try:
        requests = aggregate.load_requests(path)
    except FileNotFoundError as exc:
        raise ResultFileError(f"{run_dir}: its samples file {name} is missing") from exc
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise ResultFileError(f"{path} is not a loadgate samples file ({exc})") from exc
    if not set(requests.columns) >= SAMPLE_COLUMNS:
        raise ResultFileError(f"{path} is not a loadgate samples file (no latency_ms column)")
    latencies = pd.to_numeric(requests["latency_ms"], errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(latencies).all():
        raise ResultFileError(f"{path} holds a latency that is not a finite number")
    failed = (requests["error"] != "").to_numpy(dtype=bool)
    return RoundSamples(run_dir=run_dir, result=result, latencies=latencies, failed=failed)
