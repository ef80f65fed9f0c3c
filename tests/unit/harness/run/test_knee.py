"""Stopping a ramp at the first step that breaks a budget."""

from __future__ import annotations

from pathlib import Path

from harness.run.knee import KneeWatch
from harness.run.runner import SampleTail
from harness.verdict.budgets import Budgets
from scenarios.arrivals import Stage

STAGES = [Stage(10, 10), Stage(10, 20), Stage(10, 40)]
BUDGETS = Budgets(latency_p95_ms=100, error_rate=0.01)


def tail_with(tmp_path: Path, rows: list[tuple[float, float, bool]]) -> SampleTail:
    tail = SampleTail(tmp_path)
    tail.rows.extend(rows)
    return tail


def steady_rows(
    start: float, seconds: float, rate: float, latency_ms: float
) -> list[tuple[float, float, bool]]:
    count = int(seconds * rate)
    return [(start + i / rate, latency_ms, False) for i in range(count)]


def test_a_healthy_step_lets_the_ramp_go_on(tmp_path: Path) -> None:
    """Steps within budget are judged once settled, and do not stop the ramp."""
    tail = tail_with(tmp_path, steady_rows(0, 10, 10, 20) + steady_rows(10, 10, 20, 30))
    watch = KneeWatch(STAGES, BUDGETS)
    assert watch.check(tail, 0.0, now=5.0) is None  # step 1 is not over yet
    assert watch.check(tail, 0.0, now=25.0) is None


def test_the_first_step_over_budget_stops_the_ramp(tmp_path: Path) -> None:
    """A slow second step stops the ramp, and the reason names the step and the budget."""
    tail = tail_with(tmp_path, steady_rows(0, 10, 10, 20) + steady_rows(10, 10, 20, 400))
    reason = KneeWatch(STAGES, BUDGETS).check(tail, 0.0, now=25.0)
    assert reason is not None and "step 2 (20 req/s)" in reason and "p95 400 ms" in reason


def test_answers_still_missing_break_the_step(tmp_path: Path) -> None:
    """A stalled server whose answers have not come back does not look fast."""
    tail = tail_with(tmp_path, steady_rows(0, 5, 10, 20))
    reason = KneeWatch(STAGES, BUDGETS).check(tail, 0.0, now=15.0)
    assert reason is not None and "answered 50 of 100" in reason


def test_errors_over_budget_break_the_step(tmp_path: Path) -> None:
    """An error rate above the budget stops the ramp too."""
    rows = [(i / 10, 20.0, i % 10 == 0) for i in range(100)]
    reason = KneeWatch(STAGES, BUDGETS).check(tail_with(tmp_path, rows), 0.0, now=15.0)
    assert reason is not None and "error rate 10.00%" in reason
