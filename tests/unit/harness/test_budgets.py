"""Budgets files and their verdicts."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from harness.budgets import Budgets, Observed, evaluate, load_budgets, overall
from harness.errors import BudgetsError
from reports.result import ErrorStats, LatencyStats, MemoryStats

MIB = 1024 * 1024


def observed(
    p95: float = 100.0, error_rate: float = 0.0, memory_p95_mib: float | None = 100
) -> Observed:
    latency = LatencyStats(
        count=100, mean_ms=50, p50_ms=50, p90_ms=90, p95_ms=p95, p99_ms=p95 * 1.5, max_ms=300
    )
    memory = None
    if memory_p95_mib is not None:
        memory = MemoryStats(
            source="cgroup-v1",
            samples=10,
            rate_hz=5,
            idle_bytes=None,
            p50_bytes=int(50 * MIB),
            p95_bytes=int(memory_p95_mib * MIB),
            max_bytes=int(memory_p95_mib * MIB),
            limit_bytes=None,
        )
    errors = ErrorStats(total=int(error_rate * 100), rate=error_rate, by_kind={})
    return Observed(latency=latency, errors=errors, memory=memory, throughput_rps=40.0)


def test_the_project_budgets_file_loads() -> None:
    """budgets/default.yml, used by make loadtest, is valid."""
    budgets = load_budgets(Path(__file__).resolve().parents[3] / "budgets" / "default.yml")
    assert budgets.latency_p95_ms is not None and budgets.memory_p95_mb is not None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("latency_p95: 200\n", "unknown budget 'latency_p95'", id="unknown-key"),
        pytest.param("latency_p95_ms: -5\n", "latency_p95_ms", id="negative"),
        pytest.param("error_rate: 3\n", "error_rate", id="rate-above-1"),
        pytest.param("latency_p95_ms: fast\n", "latency_p95_ms", id="not-a-number"),
        pytest.param("", "must be a mapping", id="empty"),
        pytest.param("- 1\n- 2\n", "must be a mapping", id="list"),
        pytest.param("a: [\n", "not valid YAML (line", id="broken-yaml"),
    ],
)
def test_bad_budget_files_are_clear_errors(tmp_path: Path, text: str, message: str) -> None:
    """Each problem is named in one message."""
    path = tmp_path / "budgets.yml"
    path.write_text(text)
    with pytest.raises(BudgetsError) as caught:
        load_budgets(path)
    assert message in str(caught.value)


def test_missing_budgets_file(tmp_path: Path) -> None:
    """A path that does not exist is a usage error."""
    with pytest.raises(BudgetsError, match="cannot read budgets file"):
        load_budgets(tmp_path / "missing.yml")


def test_a_breached_latency_budget_fails_the_run() -> None:
    """Observed p95 above the limit is a failing verdict."""
    verdicts = evaluate(Budgets(latency_p95_ms=80, error_rate=0.01), observed(p95=120))
    by_name = {v.name: v for v in verdicts}
    assert by_name["latency_p95_ms"].passed is False
    assert by_name["latency_p95_ms"].observed == 120
    assert by_name["error_rate"].passed is True
    assert overall(verdicts) is False


def test_limits_are_inclusive() -> None:
    """A value exactly at its budget passes."""
    assert overall(evaluate(Budgets(latency_p95_ms=100, memory_p95_mb=100), observed()))


def test_throughput_is_a_minimum() -> None:
    """throughput_min_rps fails when the run was slower than asked."""
    verdicts = evaluate(Budgets(throughput_min_rps=50), observed())
    assert verdicts[0].passed is False


def test_unmeasured_budgets_are_unavailable_not_passed() -> None:
    """Memory of a target that cannot be sampled is n/a; alone it cannot make a run pass."""
    verdicts = evaluate(Budgets(memory_p95_mb=100), observed(memory_p95_mib=None))
    assert verdicts[0].passed is None and verdicts[0].observed is None
    assert overall(verdicts) is False
    both = evaluate(Budgets(memory_p95_mb=100, latency_p95_ms=200), observed(memory_p95_mib=None))
    assert overall(both) is True


def test_every_scenario_budgets_file_loads() -> None:
    """Each budgets/<scenario>.yml is valid and names a scenario of the catalogue."""
    from scenarios.catalog import SCENARIOS

    folder = Path(__file__).resolve().parents[3] / "budgets"
    for path in folder.glob("*.yml"):
        load_budgets(path)
        assert path.stem == "default" or path.stem in SCENARIOS, path.name


def test_scenario_figures_are_judged_and_missing_ones_are_unavailable() -> None:
    """A figure budget compares the scenario's figure; one the run lacks is n/a."""
    budgets = Budgets(dropped_max=0, knee_min_rps=400, upstream_saved_min=0.9)
    facts = dataclasses.replace(observed(), figures={"dropped": 3.0, "knee_rps": 800.0})
    verdicts = {v.name: v.passed for v in evaluate(budgets, facts)}
    assert verdicts == {"knee_min_rps": True, "dropped_max": False, "upstream_saved_min": None}


def test_a_ramp_judges_latency_per_step_not_over_the_whole_run() -> None:
    """With per_step set, latency and error budgets are left to the steps."""
    facts = dataclasses.replace(observed(p95=900), per_step=True, figures={"knee_rps": 800.0})
    verdicts = evaluate(Budgets(latency_p95_ms=250, knee_min_rps=400), facts)
    assert [v.name for v in verdicts] == ["knee_min_rps"]
