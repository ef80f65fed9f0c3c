"""`RunResult`: the machine-readable outcome of one run, saved as `result.json`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

SCHEMA_VERSION = 1
ModelT = TypeVar("ModelT", bound=BaseModel)
RESULT_FILE = "result.json"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LatencyStats(_Model):
    """Milliseconds, from every request (nearest-rank percentiles: each is an observed value)."""

    count: int
    mean_ms: float
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


class ErrorStats(_Model):
    total: int
    rate: float
    by_kind: dict[str, int]


class MemoryStats(_Model):
    """Working-set bytes of the gateway container."""

    source: str
    samples: int
    rate_hz: float
    idle_bytes: int | None
    p50_bytes: int
    p95_bytes: int
    max_bytes: int
    limit_bytes: int | None


class CpuStats(_Model):
    """CPU of the gateway container in cores (1.0 = one core busy)."""

    mean_cores: float
    p95_cores: float
    max_cores: float
    throttled_s: float
    limit_cores: float | None


class ImageRecord(_Model):
    name: str
    id: str
    size_bytes: int


class ContainerOutcome(_Model):
    restarts: int
    oom_killed: bool
    exit_code: int | None
    token_in_logs: bool


class TimePoint(_Model):
    """One second of the run, `t` seconds after the load started."""

    t: float
    requests: int
    errors: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


class ResourcePoint(_Model):
    t: float
    memory_bytes: int
    cpu_cores: float | None


class BudgetVerdict(_Model):
    name: str
    limit: float
    observed: float | None
    unit: str
    passed: bool | None
    """None when the run could not measure it (reported, never counted as a pass)."""


Verdict = Literal["pass", "fail", "no-budgets"]


class RunResult(_Model):
    schema_version: int = SCHEMA_VERSION
    run_id: str
    scenario: str
    target_url: str
    started_at: float
    load_started_at: float
    finished_at: float
    load_duration_s: float
    users: int
    target_rps: float | None
    throughput_rps: float
    latency: LatencyStats
    errors: ErrorStats
    memory: MemoryStats | None
    cpu: CpuStats | None
    images: dict[str, ImageRecord]
    limits: dict[str, float | None]
    container: ContainerOutcome | None
    timeline: list[TimePoint]
    resources: list[ResourcePoint]
    budgets: list[BudgetVerdict]
    verdict: Verdict
    files: dict[str, str]

    def save(self, run_dir: Path) -> Path:
        path = run_dir / RESULT_FILE
        path.write_text(self.model_dump_json(indent=2))
        return path


class ResultFileError(ValueError):
    """A result file that cannot be read."""


def load_model(model: type[ModelT], path: Path, file_name: str, what: str) -> ModelT:
    """Read a saved model from `path` (or `path/file_name`), as one clear error if it cannot be."""
    if path.is_dir():
        path = path / file_name
    try:
        return model.model_validate_json(path.read_text())
    except OSError as exc:
        raise ResultFileError(f"cannot read {what} file {path}: {exc.strerror}") from exc
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ResultFileError(f"{path} is not a loadgate {what} ({where}: {first['msg']})") from exc


def load_result(path: Path) -> RunResult:
    return load_model(RunResult, path, RESULT_FILE, "result")
