"""The budgets a run is held to: the model of a budgets file, and the loader that refuses bad ones.

Budgets files (`budgets/<scenario>.yml`, else `budgets/default.yml`) are YAML mappings; every key
is optional, unknown keys and non-finite numbers are refused, each with its key and the keys the
file may hold there. Judging them is `harness.verdict.judge`'s work.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, ValidationError

from harness.compare.thresholds import CompareThresholds
from harness.errors import BudgetsError


class Budgets(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    latency_p50_ms: PositiveFloat | None = None
    latency_p95_ms: PositiveFloat | None = None
    latency_p99_ms: PositiveFloat | None = None
    error_rate: float | None = Field(default=None, ge=0.0, le=1.0)
    memory_p95_mb: PositiveFloat | None = None
    memory_max_mb: PositiveFloat | None = None
    throughput_min_rps: PositiveFloat | None = None
    throughput_min_ratio: float = Field(default=0.95, gt=0.0, le=1.0)
    """Achieved / offered request rate: below it the gateway did not serve the load."""
    image_size_mb: PositiveFloat | None = None
    knee_min_rps: PositiveFloat | None = None
    memory_growth_mb_per_10k: float | None = Field(default=None, ge=0)
    fd_growth_per_10k: float | None = Field(default=None, ge=0)
    tcp_growth_per_10k: float | None = Field(default=None, ge=0)
    memory_failing_mb_per_1k: float | None = Field(default=None, ge=0)
    """Working-set growth while the provider fails, per 1,000 failed requests."""
    upstream_saved_min: float | None = Field(default=None, ge=0.0, le=1.0)
    unexpected_status_max: int | None = Field(default=None, ge=0)
    rejected_p99_ms: PositiveFloat | None = None
    timeouts_max: int | None = Field(default=None, ge=0)
    dropped_max: int | None = Field(default=None, ge=0)
    not_ready_max_ms: PositiveFloat | None = None
    exit_max_s: PositiveFloat | None = None
    ready_probe_failures_max: int = Field(default=0, ge=0)
    """Readiness probes (1 s timeout, once a second) that failed outside a deliberate drain."""
    goodput_min: float | None = Field(default=None, ge=0.0, le=1.0)
    goodput_ttft_ms: PositiveFloat = 500.0
    """The SLO goodput counts against: first token within this (streams only)..."""
    goodput_latency_ms: PositiveFloat = 2000.0
    """...and the whole answer within this."""
    generator_lag_p99_ms: PositiveFloat = 20.0
    """Beyond this schedule lag the generator, not the gateway, set the pace: the run is refused."""
    generator_cpu_max_cores: float = Field(default=0.9, gt=0.0)
    compare: CompareThresholds | None = None
    """`loadgate compare` only: the change per metric that counts as a regression."""


def load_budgets(path: Path) -> Budgets:
    try:
        document = yaml.safe_load(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise BudgetsError(f"cannot read budgets file {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise BudgetsError(f"budgets file {path} is not UTF-8 text") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise BudgetsError(f"budgets file {path} is not valid YAML{where}") from exc
    except RecursionError as exc:
        raise BudgetsError(f"budgets file {path} nests too deeply (a recursive alias?)") from exc
    if not isinstance(document, dict) or not document:
        raise BudgetsError(f"budgets file {path} must be a mapping of budget names to limits")
    try:
        return Budgets.model_validate(document)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            key = ".".join(str(part) for part in error["loc"])
            if error["type"] == "extra_forbidden":
                problems.append(_unknown_key(key))
            else:
                problems.append(f"{key}: {error['msg']}")
        raise BudgetsError(f"budgets file {path}: " + "; ".join(problems)) from None
    except RecursionError as exc:
        raise BudgetsError(f"budgets file {path} nests too deeply (a recursive alias?)") from exc


def _unknown_key(key: str) -> str:
    """A key the file may not hold, with the keys it may hold at that place."""
    if key.startswith("compare."):
        known = ", ".join(CompareThresholds.model_fields)
        return f"unknown compare metric {key!r} (known: {known})"
    return f"unknown budget {key!r} (known: {', '.join(Budgets.model_fields)})"
