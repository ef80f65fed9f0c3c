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

from dataclasses import dataclass
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
    verdicts = []
    for name, limit, unit, value, is_minimum in checks:
        if limit is None:
            continue
        if value is None:
            passed = None
        else:
            passed = value >= limit if is_minimum else value <= limit
        verdicts.append(
            BudgetVerdict(name=name, limit=limit, observed=value, unit=unit, passed=passed)
        )
    if observed.latency.count == 0:
        verdicts.append(
            BudgetVerdict(name="requests_completed", limit=1, observed=0, unit="", passed=False)
        )
    return verdicts


def overall(verdicts: list[BudgetVerdict]) -> bool:
    """A run passes when no budget failed and at least one was measured."""
    return all(v.passed is not False for v in verdicts) and any(v.passed for v in verdicts)
