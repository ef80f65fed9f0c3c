"""Tune maths on recorded results: the CPU bisection and the recommendation formula."""

from __future__ import annotations

import pytest

from harness.tune.recommend import CpuBisection, recommend, round_up
from reports.tune_result import Margins, TunePoint

MIB = 1024 * 1024


def point(
    cpus: float,
    passed: bool,
    mem_p95: int = 60 * MIB,
    mem_max: int = 70 * MIB,
    cpu_p95: float | None = None,
    role: str = "search",
    **extra: object,
) -> TunePoint:
    return TunePoint.model_validate(
        {
            "role": role,
            "cpus": cpus,
            "memory_bytes": 512 * MIB,
            "passed": passed,
            "reason": "" if passed else "latency_p95_ms",
            "run_id": f"run-{cpus}",
            "p95_ms": 100.0,
            "memory_p95_bytes": mem_p95,
            "memory_max_bytes": mem_max,
            "cpu_p95_cores": cpus * 0.9 if cpu_p95 is None else cpu_p95,
            **extra,
        }
    )


def test_bisection_narrows_to_the_resolution() -> None:
    """Against a gateway needing 0.3 cores, the search converges on the smallest passing value."""
    bisection = CpuBisection(floor=0.1, ceiling=1.0, resolution=0.05)
    tried = []
    while (cpus := bisection.next_cpus()) is not None:
        tried.append(cpus)
        bisection.record(cpus, passed=cpus >= 0.3)
    assert tried[0] == 0.55
    assert bisection.hi - bisection.lo <= 0.05
    assert 0.3 <= bisection.hi <= 0.35
    assert len(tried) <= 5


def test_bisection_stops_when_even_the_floor_region_passes() -> None:
    """A gateway that passes everywhere ends just above the floor."""
    bisection = CpuBisection(floor=0.1, ceiling=1.0, resolution=0.05)
    while (cpus := bisection.next_cpus()) is not None:
        bisection.record(cpus, passed=True)
    assert bisection.hi <= 0.15


def test_recommendation_applies_the_stated_margins() -> None:
    """CPU from the smallest pass plus headroom; memory from peak and p95 with their factors."""
    points = [
        point(1.0, True, role="baseline"),
        point(0.55, True),
        point(0.33, True, mem_p95=61 * MIB, mem_max=68 * MIB, cpu_p95=0.278),
        point(0.22, False, mem_max=200 * MIB),  # failing runs do not size memory
    ]
    rec = recommend(points, Margins())
    assert rec is not None
    assert rec.smallest_passing_cpus == 0.33
    assert rec.cpus == 0.4  # 0.33 x 1.2 = 0.396 -> 0.40
    assert rec.reserved_cpus == 0.3  # p95 use 0.278 -> 0.30
    # max(70 MiB x 1.15 = 80.5, 61 MiB x 1.2 = 73.2) -> 80.5 -> 96 MiB (16 MiB steps)
    assert rec.peak_memory_bytes == 70 * MIB
    assert rec.memory_bytes == 96 * MIB
    assert rec.reserved_memory_bytes == 64 * MIB  # p95 61 MiB -> 64
    assert any("headroom 0.2" in line for line in rec.explanation)


def test_p95_factor_wins_when_the_peak_is_close_to_p95() -> None:
    """The memory limit is never below p95 x 1.2."""
    rec = recommend([point(0.5, True, mem_p95=100 * MIB, mem_max=101 * MIB)], Margins())
    assert rec is not None
    assert rec.memory_bytes == round_up(120 * MIB, 16 * MIB)


def test_oom_and_throttled_points_are_data_not_recommendations() -> None:
    """OOM-killed and heavily throttled failures never become the recommended limit."""
    points = [
        point(1.0, True, role="baseline"),
        point(0.55, False, oom_killed=True, restarts=1),
        point(0.3, False, throttled_s=4.2),
    ]
    rec = recommend(points, Margins())
    assert rec is not None
    assert rec.smallest_passing_cpus == 1.0
    assert rec.cpus == 1.2


def test_no_passing_run_means_no_recommendation() -> None:
    """If nothing met the budgets there is nothing to recommend."""
    assert recommend([point(1.0, False, role="baseline")], Margins()) is None


def test_confirmation_runs_do_not_feed_the_recommendation() -> None:
    """The recommendation is made from the search, then confirmed, never the other way round."""
    rec = recommend([point(0.5, True), point(0.1, True, role="confirmation")], Margins())
    assert rec is not None
    assert rec.smallest_passing_cpus == 0.5


@pytest.mark.parametrize(
    ("value", "step", "expected"),
    [(0.396, 0.05, 0.4), (0.4, 0.05, 0.4), (0.401, 0.05, 0.45), (0.0, 0.05, 0.0)],
)
def test_round_up(value: float, step: float, expected: float) -> None:
    """Rounding is upward to the step, and exact multiples stay put."""
    assert round_up(value, step) == pytest.approx(expected)
