"""A CompareResult and a stalled RunResult for report tests (`sample_result` lives in
`tests/unit/conftest.py`)."""

from __future__ import annotations

from reports.compare_result import (
    CompareResult,
    CompareRound,
    MetricComparison,
    Side,
    SideRecord,
)
from reports.result import (
    MIB,
    LatencyStats,
    PercentilePoint,
    RunResult,
)
from tests.unit.conftest import sample_result

PERCENTILES = (0, 50, 90, 95, 99, 99.5, 99.9, 100)


def distribution(scale: float, tail: float = 1.0) -> list[PercentilePoint]:
    """A plausible latency distribution: `scale` ms at the median, a tail `tail` times longer."""
    shape = {0: 0.4, 50: 1.0, 90: 1.6, 95: 2.0, 99: 3.0, 99.5: 3.6, 99.9: 4.5, 100: 6.0}
    return [
        PercentilePoint(
            percentile=p, latency_ms=scale * (shape[p] if p <= 50 else 1 + (shape[p] - 1) * tail)
        )
        for p in PERCENTILES
    ]


def _round(side: Side, order: int, p50: float) -> CompareRound:
    return CompareRound(
        side=side,
        order=order,
        run_id=f"20260101-00000{order}-{side}",
        verdict="pass",
        requests=1200,
        errors=1,
        p95_ms=p50 * 2,
        throughput_rps=40.0,
        memory_p95_bytes=60 * MIB,
        cpu_ms_per_request=1.5,
        distribution=distribution(p50),
    )


def _metric(
    metric: str, unit: str, base: float, head: float, verdict: str = "unchanged"
) -> MetricComparison:
    kind = "absolute" if metric == "error_rate" else "relative"
    change = head - base if kind == "absolute" else head / base - 1
    return MetricComparison.model_validate(
        {
            "metric": metric,
            "unit": unit,
            "base": base,
            "head": head,
            "kind": kind,
            "change": change,
            "low": change - (0.002 if kind == "absolute" else 0.02),
            "high": change + (0.002 if kind == "absolute" else 0.02),
            "threshold": 0.01 if kind == "absolute" else 0.1,
            "higher_is_worse": metric != "throughput",
            "verdict": verdict,
            "method": "two-stage bootstrap, 2,000 resamples",
        }
    )


def sample_compare(regressed: bool = True) -> CompareResult:
    """Two rounds a side (ABBA); head's p95 is 25 % slower when `regressed`."""
    head_p50 = 62.5 if regressed else 50.0
    rounds = [
        _round("base", 1, 50.0),
        _round("head", 2, head_p50),
        _round("head", 3, head_p50 * 1.02),
        _round("base", 4, 51.0),
    ]
    metrics = [
        _metric("p50", "ms", 50.5, head_p50 * 1.01, "regressed" if regressed else "unchanged"),
        _metric("p95", "ms", 101, head_p50 * 2.02, "regressed" if regressed else "unchanged"),
        _metric("p99", "ms", 150, 152),
        _metric("throughput", "req/s", 40, 40),
        _metric("error_rate", "", 0.0008, 0.0008),
        _metric("memory_p95", "bytes", 60 * MIB, 58 * MIB, "improved"),
        _metric("cpu_per_request", "ms", 1.5, 1.5),
    ]
    return CompareResult(
        compare_id="compare-20260101-000000-abcd",
        scenario="smoke",
        started_at=1_767_225_600.0,
        finished_at=1_767_225_900.0,
        rounds_per_side=2,
        confidence=0.95,
        resamples=2000,
        seed=7,
        base=SideRecord(
            side="base",
            gateway="git ref main (1a2b3c4)",
            image_id="sha256:" + "b" * 64,
            rounds=2,
            requests=2400,
            distribution=distribution(50.5),
        ),
        head=SideRecord(
            side="head",
            gateway="build ./gateway",
            image_id="sha256:" + "c" * 64,
            rounds=2,
            requests=2400,
            distribution=distribution(head_p50 * 1.01),
        ),
        rounds=rounds,
        metrics=metrics,
        problems=[],
        notes=["rounds alternated base, head, head, base"],
        verdict="fail" if regressed else "pass",
    )


def stalled_result() -> RunResult:
    """`sample_result` with both latency distributions: requests that waited behind a stall
    carry the wait from their intended send (corrected), not from their actual send (service)."""
    corrected = distribution(50.0, tail=8.0)
    service = distribution(48.0)
    return sample_result().model_copy(
        update={
            "latency_distribution": corrected,
            "service_latency_distribution": service,
            "service_latency": LatencyStats(
                count=600, mean_ms=50, p50_ms=48, p90_ms=77, p95_ms=96, p99_ms=144, max_ms=288
            ),
        }
    )
