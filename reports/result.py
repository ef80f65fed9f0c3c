"""`RunResult`: the machine-readable outcome of one run, saved as `result.json`.

A result file is input like any other: `loadgate report` may be handed a crafted one. So the
loader refuses, in one line, what would hang or mislead a report: a run id that is not a plain
name (it becomes a link and a path), times that are not finite or lie outside sane bounds (they
size chart axes and loops), a `limits` mapping without its four keys. A gauge the gateway
reports as NaN or Inf is kept: non-finite floats are written as the JSON strings "NaN",
"Infinity" and "-Infinity" (still standard JSON) and read back as floats.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from reports.atomic import write_atomic

SCHEMA_VERSION = 1
MIB = 1024 * 1024
ModelT = TypeVar("ModelT", bound=BaseModel)
RESULT_FILE = "result.json"
FAILED_FAST_PREFIX = "every request "
"""How the note that says why every request failed begins (`harness.run.failfast.failure_summary`):
the console's verdict line quotes it."""
MAX_SECONDS = 1e11
"""Bound of every time in a result (the year 5138 as a timestamp): beyond it, a crafted file."""

RunId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]
"""A run's directory name and link target: letters, digits, `.`, `_`, `-`, never a path."""
Epoch = Annotated[float, Field(ge=0, le=MAX_SECONDS, allow_inf_nan=False)]
"""Seconds since 1970, finite and bounded."""
Seconds = Annotated[float, Field(ge=-MAX_SECONDS, le=MAX_SECONDS, allow_inf_nan=False)]
"""A time or an offset in seconds, finite and bounded (charts and loops are sized by it)."""
Span = Annotated[float, Field(ge=0, le=MAX_SECONDS, allow_inf_nan=False)]
LIMIT_KEYS = frozenset({"cpus", "memory_bytes", "reserved_cpus", "reserved_memory_bytes"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_inf_nan="strings")


class LatencyStats(_Model):
    """Milliseconds, from every request (nearest-rank percentiles: each is an observed value)."""

    count: int
    mean_ms: float
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


class PercentilePoint(_Model):
    """One point of a latency distribution: `percentile` % of requests took at most `latency_ms`
    (nearest rank, an observed value). Drawn HdrHistogram-style, on a log axis of "nines"."""

    percentile: float = Field(ge=0, le=100, allow_inf_nan=False)
    latency_ms: float = Field(allow_inf_nan=False)
    """Not bounded below: a request cut by a SIGTERM can be recorded a fraction of a millisecond
    below zero (its end seen before its intended start), and the distribution keeps what the
    samples hold, as `LatencyStats` does."""


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
    """The provider token appeared in the logs of a container of the stack."""
    healthcheck_problem: str | None = None
    """The gateway's healthcheck cannot run in its image (e.g. `curl` missing), in a sentence."""


class StreamStats(_Model):
    """Streaming answers: time to first token and inter-token latency (ms), tokens/s."""

    count: int
    ttft_p50_ms: float
    ttft_p95_ms: float
    ttft_p99_ms: float
    itl_p50_ms: float | None
    itl_p95_ms: float | None
    tokens_per_s_p50: float | None
    """Output tokens per second of one stream, after its first token."""


class WorkerRecord(_Model):
    """One worker of a distributed run (`loadgate worker`), as its master recorded it."""

    index: int
    host: str
    share: str
    """Its part of the load: its sends of the open schedule, or the users Locust gave it."""
    requests: int
    rejected_rows: int
    """Rows it sent that were not sample rows (dropped, never merged)."""
    cpu_s: float
    wall_s: float
    cores: float
    """Its generator's CPU over its part of the run, in cores."""
    lag_p50_ms: float | None
    lag_p99_ms: float | None
    scheduled: int | None
    sent: int | None
    missed: int | None
    unfinished: int | None
    lost_after_s: float | None
    """Seconds into the load when the master lost it (None: it reported to the end)."""
    error: str | None
    """Why its share could not run, when it could not."""


class GeneratorRecord(_Model):
    """The load generator's own health: a run it could not drive is not a gateway result."""

    model: Literal["open", "closed"]
    processes: int
    cpu_s: float
    wall_s: float
    busiest_process_cores: float
    scheduled: int | None
    sent: int | None
    missed: int | None
    """Sends due that never went out before the run ended."""
    unfinished: int | None
    lag_p50_ms: float | None
    lag_p99_ms: float | None
    lag_max_ms: float | None
    workers: list[WorkerRecord] = []
    """The workers of a distributed run (empty: the load came from this machine)."""


class RunEvent(_Model):
    """Something done to the stack during the run (a fault switched on, Redis stopped...)."""

    t: Seconds
    name: str
    detail: str = ""


class ShutdownRecord(_Model):
    sigterm_at: Seconds
    not_ready_after_s: float | None
    """From SIGTERM until `/ready` stopped answering 200 (None: it never did)."""
    not_ready_answer: str
    """What `/ready` answered then: "503", or the connection error once the process was gone."""
    exited_after_s: float
    exit_code: int
    killed: bool
    """SIGKILL was needed: the process outlived the stop grace period."""


class MetricSeries(_Model):
    first: float
    last: float
    max: float


class GatewayMetrics(_Model):
    """The gateway's own Prometheus metrics, scraped during the run, if it has any."""

    available: bool
    reason: str = ""
    scrapes: int = 0
    series: dict[str, MetricSeries] = {}


class StepStats(_Model):
    """One stage of an open-model schedule (or one phase of a run split by its events)."""

    name: str
    start_s: Seconds
    end_s: Seconds
    target_rps: float | None
    requests: int
    throughput_rps: float
    error_rate: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    passed: bool | None = None
    """For a ramp: whether this step met the budgets."""
    lag_p99_ms: float | None = None
    """The open-model generator's schedule lag in this step (its own health)."""


class Findings(_Model):
    """What the scenario exists to find: named figures, and a table of steps or phases."""

    figures: dict[str, float | None] = {}
    notes: list[str] = []
    steps: list[StepStats] = []


class TimePoint(_Model):
    """One second of the run, `t` seconds after the load started."""

    t: Seconds
    requests: int
    errors: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


class ResourcePoint(_Model):
    t: Seconds
    memory_bytes: int
    cpu_cores: float | None
    open_fds: int | None = None
    tcp_inbound: int | None = None
    tcp_outbound: int | None = None


class ReadinessRecord(_Model):
    """The gateway's readiness path, probed once a second through the run, as a kubelet would."""

    path: str
    timeout_s: float
    probes: int
    """Probes that count: those sent during a deliberate drain (after SIGTERM) are left out."""
    failures: int
    """Probes that did not answer 200 within the timeout."""
    excluded: int = 0
    latency_p50_ms: float | None = None
    latency_max_ms: float | None = None
    first_failure: str | None = None
    """When and how the first failing probe failed (e.g. "timeout after 1 s at 12.0 s")."""
    failed_at_s: list[float] = []
    """Seconds into the load of each failed probe (the first hundred)."""


class TokenHit(_Model):
    """A response that carried the provider token: where, never the token itself."""

    route: str
    status: int
    where: str


class FailedAnswer(_Model):
    """One of the first failed requests: status and the start of its body, secrets scrubbed."""

    route: str
    status: int
    error: str
    body: str


class ResponseScan(_Model):
    """What the generators saw in answers: the provider token, and the first failures."""

    scanned_non_2xx: int
    scanned_2xx: int
    token_hits: list[TokenHit] = []
    first_failures: list[FailedAnswer] = []


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
    run_id: RunId
    scenario: str
    target_url: str
    started_at: Epoch
    load_started_at: Epoch
    finished_at: Epoch
    load_duration_s: Span
    users: int
    target_rps: float | None
    throughput_rps: float
    latency: LatencyStats
    """From each request's intended send time when the load kept a schedule (corrected for
    coordinated omission): what budgets judge."""
    service_latency: LatencyStats | None = None
    """From each request's actual send time (what a closed loop alone reports), for comparison."""
    latency_distribution: list[PercentilePoint] = Field(default=[], max_length=1000)
    """`latency` at the percentiles of `reports.aggregate.DISTRIBUTION_PERCENTILES`."""
    service_latency_distribution: list[PercentilePoint] = Field(default=[], max_length=1000)
    errors: ErrorStats
    memory: MemoryStats | None
    cpu: CpuStats | None
    images: dict[str, ImageRecord]
    limits: dict[str, float | None]
    container: ContainerOutcome | None
    timeline: list[TimePoint]
    resources: list[ResourcePoint]
    generator: GeneratorRecord | None = None
    streaming: StreamStats | None = None
    events: list[RunEvent] = []
    shutdown: ShutdownRecord | None = None
    gateway_metrics: GatewayMetrics | None = None
    upstream_calls: dict[str, int] | None = None
    """The mock provider's counters over the load (None when the provider is not loadgate's)."""
    readiness: ReadinessRecord | None = None
    responses: ResponseScan | None = None
    findings: Findings = Findings()
    budgets: list[BudgetVerdict]
    verdict: Verdict
    files: dict[str, str]

    @field_validator("limits")
    @classmethod
    def _four_limits(cls, limits: dict[str, float | None]) -> dict[str, float | None]:
        if set(limits) != LIMIT_KEYS:
            raise ValueError(f"must hold exactly {', '.join(sorted(LIMIT_KEYS))}")
        return limits

    def save(self, run_dir: Path) -> Path:
        path = run_dir / RESULT_FILE
        write_atomic(path, self.model_dump_json(indent=2))
        return path


class ResultFileError(ValueError):
    """A result file that cannot be read."""


def load_model(model: type[ModelT], path: Path, file_name: str, what: str) -> ModelT:
    """Read a saved model from `path` (or `path/file_name`), as one clear error if it cannot be."""
    if path.is_dir():
        path = path / file_name
    try:
        raw = path.read_bytes()
        return model.model_validate_json(raw.decode("utf-8"))
    except OSError as exc:
        raise ResultFileError(f"cannot read {what} file {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ResultFileError(
            f"{path} is not a loadgate {what} (not UTF-8: byte 0x{raw[exc.start]:02x} "
            f"at offset {exc.start})"
        ) from exc
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ResultFileError(f"{path} is not a loadgate {what} ({where}: {first['msg']})") from exc


def load_result(path: Path) -> RunResult:
    return load_model(RunResult, path, RESULT_FILE, "result")
