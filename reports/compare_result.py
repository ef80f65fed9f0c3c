"""`CompareResult`: a base gateway against a head gateway, saved as `compare.json`.

`loadgate compare` runs the same scenario against both, in alternating rounds (base, head, head,
base, ...), each round an ordinary run directory beside this file. The comparison is computed
from those run directories alone (`harness.compare.samples`), so a stored compare is re-read,
re-rendered and summarised without Docker, and `loadgate compare RUN_A RUN_B` gives the same
output from two runs made earlier.

Like a result file, a compare file is input: it is validated on load (names that become links
are plain names, numbers are finite and bounded).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from reports.atomic import write_atomic
from reports.result import (
    Epoch,
    PercentilePoint,
    RunId,
    Verdict,
    load_model,
)

COMPARE_FILE = "compare.json"
Side = Literal["base", "head"]
Metric = Literal["p50", "p95", "p99", "throughput", "error_rate", "memory_p95", "cpu_per_request"]
METRICS: tuple[Metric, ...] = (
    "p50",
    "p95",
    "p99",
    "throughput",
    "error_rate",
    "memory_p95",
    "cpu_per_request",
)
MetricVerdict = Literal["regressed", "improved", "unchanged", "unavailable"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Finite = Annotated[float, Field(allow_inf_nan=False, ge=-1e15, le=1e15)]


class CompareRound(_Model):
    """One run of the compare: which side, in which order, and what it measured."""

    side: Side
    order: int = Field(ge=1, le=1000)
    """1 for the first run made, 2 for the next..."""
    run_id: RunId
    """The run directory's name, beside `compare.json` (or the stored run compared)."""
    verdict: Verdict
    failed_checks: list[str] = []
    """Budgets and always-on checks this round failed."""
    requests: int = Field(ge=0)
    errors: int = Field(ge=0)
    p95_ms: Finite | None
    throughput_rps: Finite | None
    memory_p95_bytes: int | None = None
    cpu_ms_per_request: Finite | None = None
    distribution: list[PercentilePoint] = Field(default=[], max_length=1000)
    """Latency (from each request's intended send) at `reports.aggregate` percentiles."""


class SideRecord(_Model):
    """What one side ran: the gateway, its image, its pooled latency distribution."""

    side: Side
    gateway: str
    """For people: "the compose file's gateway", "image NAME", "build DIR", "git ref REF (sha)"."""
    image_id: str | None
    """The image every round of this side ran (None for stored runs without one)."""
    rounds: int = Field(ge=0, le=1000)
    requests: int = Field(ge=0)
    distribution: list[PercentilePoint] = Field(default=[], max_length=1000)
    """Every request of every round of this side, pooled."""


class MetricComparison(_Model):
    """One metric, base against head, with its confidence interval and its verdict.

    `change` is relative (head / base - 1, 0.10 = head 10 % higher) except for `error_rate`,
    whose change is the absolute difference of the rates (0.01 = one percentage point). `low`
    and `high` bound `change` at the compare's confidence level; both are None when the rounds
    cannot give an interval.
    """

    metric: Metric
    unit: str
    base: Finite | None
    head: Finite | None
    kind: Literal["relative", "absolute"]
    change: Finite | None
    low: Finite | None
    high: Finite | None
    threshold: Finite = Field(ge=0)
    """The largest change in the worse direction that is not a regression."""
    higher_is_worse: bool
    verdict: MetricVerdict
    method: str
    """How the interval was made, in a few words (e.g. "two-stage bootstrap, 2,000 resamples")."""


class CompareResult(_Model):
    schema_version: int = 1
    compare_id: RunId
    scenario: str
    started_at: Epoch
    finished_at: Epoch
    rounds_per_side: int = Field(ge=1, le=1000)
    confidence: float = Field(gt=0, lt=1)
    resamples: int = Field(ge=0, le=1_000_000)
    seed: int
    stored: bool = False
    """Compared from two stored runs (`loadgate compare RUN_A RUN_B`), not run by this compare."""
    base: SideRecord
    head: SideRecord
    rounds: list[CompareRound] = Field(max_length=2000)
    metrics: list[MetricComparison]
    problems: list[str] = []
    """Why the compare fails apart from a regressed metric (a round the comparison cannot trust,
    an always-on check the head failed), one sentence each."""
    notes: list[str] = []
    verdict: Literal["pass", "fail"]
    files: dict[str, str] = {}

    def save(self, directory: Path) -> Path:
        path = directory / COMPARE_FILE
        write_atomic(path, self.model_dump_json(indent=2))
        return path

    @property
    def regressed(self) -> list[MetricComparison]:
        return [m for m in self.metrics if m.verdict == "regressed"]


def load_compare(path: Path) -> CompareResult:
    return load_model(CompareResult, path, COMPARE_FILE, "compare")
