"""`TuneResult`: the outcome of `loadgate tune`, saved as `tune.json` beside each run's result.

Loaded with the same guards as a run's result (`reports.result`): ids are plain names, for
`tune.html` links to `<run_id>/report.html`; times and CPU limits are finite and bounded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from reports.atomic import write_atomic
from reports.result import Epoch, RunId, load_model

TUNE_FILE = "tune.json"

PointRole = Literal["baseline", "search", "confirmation"]


Cores = Annotated[float, Field(ge=0, le=1e6, allow_inf_nan=False)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_inf_nan="strings")


class TunePoint(_Model):
    """One run at one set of limits: a data point whether it passed, failed or crashed."""

    role: PointRole
    cpus: Cores
    memory_bytes: int
    passed: bool
    reason: str
    """Why it failed (budgets breached, OOM-killed, never ready...), empty when it passed."""
    run_id: RunId | None
    p95_ms: float | None = None
    p99_ms: float | None = None
    throughput_rps: float | None = None
    error_rate: float | None = None
    memory_p95_bytes: int | None = None
    memory_max_bytes: int | None = None
    cpu_p95_cores: float | None = None
    throttled_s: float | None = None
    oom_killed: bool = False
    restarts: int = 0


class Margins(_Model):
    """Safety margins of the recommendation (all settings, shown in every output)."""

    memory_peak_factor: float = 1.15
    memory_p95_factor: float = 1.2
    cpu_headroom: float = 0.2
    cpu_step: float = 0.05
    memory_step_mib: int = 16


class Recommendation(_Model):
    cpus: float
    memory_bytes: int
    reserved_cpus: float
    reserved_memory_bytes: int
    smallest_passing_cpus: float
    peak_memory_bytes: int
    p95_memory_bytes: int
    p95_cpu_cores: float
    explanation: list[str]


class TuneResult(_Model):
    tune_id: RunId
    service: str
    scenario: str
    users: int
    target_rps: float | None
    duration_s: float
    budgets: dict[str, float]
    compose_file: str
    started_at: Epoch
    finished_at: Epoch
    margins: Margins
    points: list[TunePoint]
    stop_reason: str
    recommendation: Recommendation | None
    confirmed: bool
    compose_diff: str
    written: bool

    def save(self, directory: Path) -> Path:
        path = directory / TUNE_FILE
        write_atomic(path, self.model_dump_json(indent=2))
        return path


def load_tune(path: Path) -> TuneResult:
    return load_model(TuneResult, path, TUNE_FILE, "tune result")
