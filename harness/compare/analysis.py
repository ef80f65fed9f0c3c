"""Rounds in, a judged comparison out: each metric's change, its interval, its verdict.

    latency p50/p95/p99, error rate   every request of every round (`stats.percentile_changes`)
    throughput, memory p95, CPU/req   one figure per round (`stats.scalar_change`)

The comparison is only as good as its rounds, so it fails, whatever the metrics say, when a
round cannot be trusted (the generator was the bottleneck, nothing succeeded, the load was
stopped because every request failed) or when the head failed an always-on check (a leaked
token, an OOM kill, a third of the load served): a gate that exits 0 on those would pass the
worst pull requests. An always-on check the base failed too is reported, not blamed on the head.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from harness.compare.bootstrap import percentile_changes
from harness.compare.samples import RoundSamples
from harness.compare.sides import PreparedSide
from harness.compare.stats import Change, RequestRounds, classify, scalar_change
from harness.compare.thresholds import HIGHER_IS_WORSE
from harness.verdict.judge import ALWAYS_ON
from reports import aggregate
from reports.compare_result import (
    CompareResult,
    CompareRound,
    Metric,
    MetricComparison,
    Side,
    SideRecord,
)
from reports.result import MIB

UNTRUSTED = {
    "requests_completed": "no request was recorded",
    "requests_succeeded": "no request succeeded",
    "requests_all_failing": "every request failed the same way and the load was stopped",
    "generator_cpu_cores": "the load generator ran out of CPU",
    "generator_lag_p99_ms": "the load generator fell behind its schedule",
    "generator_missed_sends": "the load generator missed sends",
}
"""Checks that, failed in any round, make the comparison say nothing about the gateways."""
PERCENTILE_METRICS: dict[Metric, float] = {"p50": 50.0, "p95": 95.0, "p99": 99.0}
UNITS: dict[Metric, str] = {
    "p50": "ms",
    "p95": "ms",
    "p99": "ms",
    "throughput": "req/s",
    "error_rate": "",
    "memory_p95": "MiB",
    "cpu_per_request": "ms",
}


@dataclass(frozen=True)
class CompareInputs:
    """What a comparison is made of: each side's rounds in the order they ran."""

    compare_id: str
    started_at: float
    base: Sequence[RoundSamples]
    head: Sequence[RoundSamples]
    order: Sequence[tuple[Side, RoundSamples]]
    sides: Mapping[Side, PreparedSide | None]
    thresholds: Mapping[Metric, float]
    confidence: float = 0.95
    resamples: int = 2000
    seed: int = 0
    stored: bool = False
    problems: Sequence[str] = ()
    """Found while running the rounds (a head that never became ready)."""


def _round_record(side: Side, order: int, samples: RoundSamples) -> CompareRound:
    result = samples.result
    return CompareRound(
        side=side,
        order=order,
        run_id=result.run_id,
        verdict=result.verdict,
        failed_checks=[b.name for b in result.budgets if b.passed is False],
        requests=result.latency.count,
        errors=result.errors.total,
        p95_ms=result.latency.p95_ms if result.latency.count else None,
        throughput_rps=samples.throughput_rps,
        memory_p95_bytes=samples.memory_p95_bytes,
        cpu_ms_per_request=samples.cpu_ms_per_request,
        distribution=result.latency_distribution,
    )


def _side_record(
    side: Side, rounds: Sequence[RoundSamples], prepared: PreparedSide | None
) -> SideRecord:
    pooled = np.concatenate([r.latencies for r in rounds]) if rounds else np.array([])
    image_id: str | None
    if prepared is not None:
        gateway, image_id = prepared.description, prepared.image_id
    else:
        images = rounds[0].result.images if rounds else {}
        image = images.get("gateway")
        gateway = f"stored run {rounds[0].result.run_id}" if rounds else "no run"
        image_id = image.id if image is not None else None
    return SideRecord(
        side=side,
        gateway=gateway,
        image_id=image_id,
        rounds=len(rounds),
        requests=int(pooled.size),
        distribution=aggregate.latency_distribution(pooled),
    )


def _request_rounds(rounds: Sequence[RoundSamples]) -> RequestRounds:
    return RequestRounds(latencies=[r.latencies for r in rounds], failed=[r.failed for r in rounds])


def _per_round(rounds: Sequence[RoundSamples], metric: Metric) -> list[float] | None:
    """One figure per round, or None when a round lacks it (no container measured)."""
    values: list[float | None]
    if metric == "throughput":
        values = [r.throughput_rps for r in rounds]
    elif metric == "memory_p95":
        values = [None if r.memory_p95_bytes is None else r.memory_p95_bytes / MIB for r in rounds]
    else:
        values = [r.cpu_ms_per_request for r in rounds]
    if not values or any(v is None for v in values):
        return None
    return [float(v) for v in values if v is not None]


def _changes(inputs: CompareInputs) -> dict[Metric, Change]:
    if not inputs.base or not inputs.head:
        missing = Change(None, None, "relative", None, None, None, "a side has no round")
        return dict.fromkeys(UNITS, missing)
    base, head = _request_rounds(inputs.base), _request_rounds(inputs.head)
    by_percentile, errors = percentile_changes(
        base,
        head,
        list(PERCENTILE_METRICS.values()),
        confidence=inputs.confidence,
        resamples=inputs.resamples,
        seed=inputs.seed,
    )
    changes: dict[Metric, Change] = {
        metric: by_percentile[q] for metric, q in PERCENTILE_METRICS.items()
    }
    changes["error_rate"] = errors
    for metric in ("throughput", "memory_p95", "cpu_per_request"):
        base_values, head_values = _per_round(inputs.base, metric), _per_round(inputs.head, metric)
        if base_values is None or head_values is None:
            changes[metric] = Change(None, None, "relative", None, None, None, "not measured")
        else:
            changes[metric] = scalar_change(base_values, head_values, confidence=inputs.confidence)
    return changes


def _comparison(metric: Metric, change: Change, threshold: float) -> MetricComparison:
    worse = HIGHER_IS_WORSE[metric]
    return MetricComparison(
        metric=metric,
        unit=UNITS[metric],
        base=change.base,
        head=change.head,
        kind=change.kind,
        change=change.change,
        low=change.low,
        high=change.high,
        threshold=threshold,
        higher_is_worse=worse,
        verdict=classify(change, threshold, worse),
        method=change.method,
    )


def _problems(inputs: CompareInputs) -> tuple[list[str], list[str]]:
    """Why the comparison fails apart from its metrics, and what it notes."""
    problems, notes = [], []
    base_failed = {b.name for r in inputs.base for b in r.result.budgets if b.passed is False}
    for position, (side, samples) in enumerate(inputs.order, start=1):
        failed = [b.name for b in samples.result.budgets if b.passed is False]
        untrusted = [UNTRUSTED[name] for name in failed if name in UNTRUSTED]
        if untrusted:
            problems.append(
                f"round {position} ({side}, run {samples.result.run_id}): "
                f"{'; '.join(untrusted)}: the comparison says nothing about the gateways"
            )
            continue
        if side != "head":
            continue
        for name in failed:
            if name not in ALWAYS_ON:
                continue
            if name in base_failed:
                notes.append(f"round {position} (head) failed {name}, as the base did")
            else:
                problems.append(
                    f"round {position} (head, run {samples.result.run_id}) failed {name}: "
                    f"{ALWAYS_ON[name]} (the base did not fail it)"
                )
    return problems, notes


def _scenario_notes(inputs: CompareInputs) -> list[str]:
    results = [r.result for r in (*inputs.base, *inputs.head)]
    notes = []
    if len({(r.target_rps, r.users) for r in results}) > 1:
        notes.append("the rounds did not all offer the same load (rate or users differ)")
    if min(len(inputs.base), len(inputs.head)) < 2:
        notes.append(
            "one round on a side: the intervals hold only the noise within a run, not the "
            "spread between runs (compare with --rounds 2 or more for a verdict to rely on)"
        )
    return notes


def analyse(inputs: CompareInputs) -> CompareResult:
    """The comparison of `inputs`, judged against `inputs.thresholds`."""
    changes = _changes(inputs)
    metrics = [_comparison(m, changes[m], inputs.thresholds[m]) for m in changes]
    problems, notes = _problems(inputs)
    problems = [*inputs.problems, *problems]
    notes = _scenario_notes(inputs) + notes
    failed = bool(problems) or any(m.verdict == "regressed" for m in metrics)
    rounds = [
        _round_record(side, position, samples)
        for position, (side, samples) in enumerate(inputs.order, start=1)
    ]
    return CompareResult(
        compare_id=inputs.compare_id,
        scenario=next(samples.result.scenario for _, samples in inputs.order),
        started_at=inputs.started_at,
        finished_at=time.time(),
        rounds_per_side=max(1, min(len(inputs.base), len(inputs.head))),
        confidence=inputs.confidence,
        resamples=inputs.resamples,
        seed=inputs.seed,
        stored=inputs.stored,
        base=_side_record("base", inputs.base, inputs.sides.get("base")),
        head=_side_record("head", inputs.head, inputs.sides.get("head")),
        rounds=rounds,
        metrics=metrics,
        problems=problems,
        notes=notes,
        verdict="fail" if failed else "pass",
    )
