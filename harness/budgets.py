"""Budgets: the limits a run must stay within, read from YAML and judged against a result.

    # budgets/default.yml
    latency_p95_ms: 250      # 95th percentile of request latency
    latency_p99_ms: 500
    error_rate: 0.01         # failed requests / all requests
    memory_p95_mb: 400       # gateway working set, MiB
    memory_max_mb: 480
    throughput_min_rps: 30   # completed requests per second

Every key is optional, unknown keys are an error. A budget the run could not measure (memory
of a URL target, say) is reported as unavailable: it neither passes nor fails the run, and a run
in which no budget could be measured does not pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, ValidationError

from harness.errors import BudgetsError
from reports.result import BudgetVerdict, ErrorStats, LatencyStats, MemoryStats

MIB = 1024 * 1024


class Budgets(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    latency_p50_ms: PositiveFloat | None = None
    latency_p95_ms: PositiveFloat | None = None
    latency_p99_ms: PositiveFloat | None = None
    error_rate: float | None = Field(default=None, ge=0.0, le=1.0)
    memory_p95_mb: PositiveFloat | None = None
    memory_max_mb: PositiveFloat | None = None
    throughput_min_rps: PositiveFloat | None = None
    image_size_mb: PositiveFloat | None = None
    knee_min_rps: PositiveFloat | None = None
    memory_growth_mb_per_10k: float | None = Field(default=None, ge=0)
    fd_growth_per_10k: float | None = Field(default=None, ge=0)
    tcp_growth_per_10k: float | None = Field(default=None, ge=0)
    upstream_saved_min: float | None = Field(default=None, ge=0.0, le=1.0)
    unexpected_status_max: int | None = Field(default=None, ge=0)
    rejected_p99_ms: PositiveFloat | None = None
    timeouts_max: int | None = Field(default=None, ge=0)
    dropped_max: int | None = Field(default=None, ge=0)
    not_ready_max_ms: PositiveFloat | None = None
    exit_max_s: PositiveFloat | None = None
    goodput_min: float | None = Field(default=None, ge=0.0, le=1.0)
    goodput_ttft_ms: PositiveFloat = 500.0
    """The SLO goodput counts against: first token within this (streams only)..."""
    goodput_latency_ms: PositiveFloat = 2000.0
    """...and the whole answer within this."""
    generator_lag_p99_ms: PositiveFloat = 20.0
    """Beyond this schedule lag the generator, not the gateway, set the pace: the run is refused."""
    generator_cpu_max_cores: float = Field(default=0.9, gt=0.0)


# Budgets judged against a figure the scenario computed: key -> (figure, unit, is a minimum).
FIGURE_BUDGETS: dict[str, tuple[str, str, bool]] = {
    "image_size_mb": ("image_size_mb", "MB", False),
    "knee_min_rps": ("knee_rps", "req/s", True),
    "memory_growth_mb_per_10k": ("memory_growth_mb_per_10k", "MiB", False),
    "fd_growth_per_10k": ("fd_growth_per_10k", "", False),
    "tcp_growth_per_10k": ("tcp_growth_per_10k", "", False),
    "upstream_saved_min": ("upstream_saved_ratio", "", True),
    "unexpected_status_max": ("unexpected_status", "", False),
    "rejected_p99_ms": ("rejected_p99_ms", "ms", False),
    "timeouts_max": ("timeouts", "", False),
    "dropped_max": ("dropped", "", False),
    "not_ready_max_ms": ("not_ready_after_ms", "ms", False),
    "exit_max_s": ("exited_after_s", "s", False),
    "goodput_min": ("goodput", "", True),
}
STEP_BUDGETS = ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "error_rate")
"""In a ramp these judge each step (to find the knee), not the whole run."""


def load_budgets(path: Path) -> Budgets:
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise BudgetsError(f"cannot read budgets file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise BudgetsError(f"budgets file {path} is not valid YAML{where}") from exc
    if not isinstance(document, dict) or not document:
        raise BudgetsError(f"budgets file {path} must be a mapping of budget names to limits")
    try:
        budgets = Budgets.model_validate(document)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            key = ".".join(str(part) for part in error["loc"])
            if error["type"] == "extra_forbidden":
                known = ", ".join(Budgets.model_fields)
                problems.append(f"unknown budget {key!r} (known: {known})")
            else:
                problems.append(f"{key}: {error['msg']}")
        raise BudgetsError(f"budgets file {path}: " + "; ".join(problems)) from None
    return budgets


@dataclass(frozen=True)
class Observed:
    """What a run measured that budgets can judge."""

    latency: LatencyStats
    errors: ErrorStats
    memory: MemoryStats | None
    throughput_rps: float
    figures: Mapping[str, float | None] = field(default_factory=dict)
    per_step: bool = False
    """A ramp: latency and error budgets were applied to each step, not to the whole run."""


def budget_verdict(
    name: str, limit: float, unit: str, value: float | None, is_minimum: bool
) -> BudgetVerdict:
    """`value` against `limit` (a floor when `is_minimum`); unmeasured (None) is n/a."""
    if value is None:
        passed = None
    else:
        passed = value >= limit if is_minimum else value <= limit
    return BudgetVerdict(name=name, limit=limit, observed=value, unit=unit, passed=passed)


def evaluate(budgets: Budgets, observed: Observed) -> list[BudgetVerdict]:
    memory = observed.memory
    checks: list[tuple[str, float | None, str, float | None, bool]] = [
        ("latency_p50_ms", budgets.latency_p50_ms, "ms", observed.latency.p50_ms, False),
        ("latency_p95_ms", budgets.latency_p95_ms, "ms", observed.latency.p95_ms, False),
        ("latency_p99_ms", budgets.latency_p99_ms, "ms", observed.latency.p99_ms, False),
        ("error_rate", budgets.error_rate, "", observed.errors.rate, False),
        (
            "memory_p95_mb",
            budgets.memory_p95_mb,
            "MiB",
            memory.p95_bytes / MIB if memory else None,
            False,
        ),
        (
            "memory_max_mb",
            budgets.memory_max_mb,
            "MiB",
            memory.max_bytes / MIB if memory else None,
            False,
        ),
        ("throughput_min_rps", budgets.throughput_min_rps, "req/s", observed.throughput_rps, True),
    ]
    verdicts = [
        budget_verdict(name, limit, unit, value, is_minimum)
        for name, limit, unit, value, is_minimum in checks
        if limit is not None and not (observed.per_step and name in STEP_BUDGETS)
    ]
    for name, (figure, unit, is_minimum) in FIGURE_BUDGETS.items():
        limit = getattr(budgets, name)
        if limit is not None:
            verdicts.append(
                budget_verdict(name, limit, unit, observed.figures.get(figure), is_minimum)
            )
    if observed.latency.count == 0:
        verdicts.append(
            BudgetVerdict(name="requests_completed", limit=1, observed=0, unit="", passed=False)
        )
    return verdicts


def overall(verdicts: list[BudgetVerdict]) -> bool:
    """A run passes when no budget failed and at least one was measured."""
    return all(v.passed is not False for v in verdicts) and any(v.passed for v in verdicts)
