"""The tune loop against a fake `pipeline.run`: the CPU bisection, why it stops, the
confirmation run, and what `--write` does with its outcome."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import pytest

from harness.errors import ComposeError, StackNotReadyError, UsageError
from harness.progress import ProgressDisplay
from harness.stack.services import ResourceLimits
from harness.tune.search import Tuner, tune
from reports.tune_result import load_tune

if TYPE_CHECKING:
    from tests.unit.harness.conftest import FakeRuns, TuneSettingsFor

MIB = 1024 * 1024
COMPOSE = (
    "services:\n  gateway:\n    image: g\n    deploy:\n      resources:\n"
    "        limits:\n          cpus: '1.0'\n          memory: 512M\n"
    "        reservations:\n          cpus: '0.25'\n          memory: 256M\n"
    "  redis:\n    image: redis:7.2-alpine\n"
)
QUIET = ProgressDisplay(quiet=True)


def test_the_cpu_limit_is_bisected_then_confirmed(
    runs: FakeRuns, tune_settings: TuneSettingsFor
) -> None:
    """Needing 0.3 cores from 1.0: 0.55, 0.33 pass, 0.22, 0.28 fail; 0.33 x 1.2 is confirmed."""
    outcome = tune(tune_settings(COMPOSE, max_runs=8), QUIET)
    result = outcome.result
    assert runs.cpus == [1.0, 0.55, 0.33, 0.22, 0.28, 0.4]
    assert [p.role for p in result.points] == ["baseline", *["search"] * 4, "confirmation"]
    assert [p.passed for p in result.points] == [True, True, True, False, False, True]
    assert {limits.memory_bytes for limits in runs.limits[:5]} == {512 * MIB}
    assert result.stop_reason == "CPU limit bisected to within 0.05 cores"
    rec = result.recommendation
    assert rec is not None and rec.smallest_passing_cpus == 0.33 and rec.cpus == 0.4
    assert runs.limits[-1] == ResourceLimits(
        rec.cpus, rec.memory_bytes, rec.reserved_cpus, rec.reserved_memory_bytes
    )
    assert result.confirmed and not result.written
    assert load_tune(outcome.directory) == result


def test_the_run_count_keeps_room_for_the_confirmation(
    runs: FakeRuns, tune_settings: TuneSettingsFor
) -> None:
    """With 4 runs: the baseline, two search runs, then the confirmation instead of a third."""
    result = tune(tune_settings(COMPOSE, max_runs=4), QUIET).result
    assert runs.cpus == [1.0, 0.55, 0.33, 0.4]
    assert result.stop_reason == "run count or time budget reached"
    assert result.points[-1].role == "confirmation"


def test_the_time_budget_counts_the_longest_run_twice_ahead(
    runs: FakeRuns, tune_settings: TuneSettingsFor
) -> None:
    """Runs of 100 s in 350 s: after 200 s a search run and a confirmation no longer fit."""
    runs.takes_s = 100
    tuner = Tuner(tune_settings(COMPOSE, max_runs=8, time_budget_s=350), QUIET, clock=runs.clock)
    reason = tuner.search(ResourceLimits(cpus=1.0, memory_bytes=512 * MIB))
    assert reason == "run count or time budget reached"
    assert runs.cpus == [1.0, 0.55] and runs.clock.now == 200
    assert tuner.longest_run_s == 100


def test_a_failing_baseline_ends_the_tune_without_a_recommendation(
    runs: FakeRuns, tune_settings: TuneSettingsFor
) -> None:
    """The compose file's own limits fail: one run, nothing recommended, the file untouched."""
    runs.needs_cpus = 2.0
    settings = tune_settings(COMPOSE, write=True)
    result = tune(settings, QUIET).result
    assert runs.calls == 1
    assert result.stop_reason == (
        "the compose file's own limits do not meet the budgets at this load"
    )
    assert result.recommendation is None and not result.confirmed and not result.written
    assert result.compose_diff == ""
    assert settings.run.compose_file.read_text() == COMPOSE


def test_a_failed_confirmation_is_not_written(
    runs: FakeRuns, tune_settings: TuneSettingsFor
) -> None:
    """The recommended memory fails its confirmation: --write leaves the file, the diff is shown."""
    runs.needs_memory = 512 * MIB  # only the compose file's memory passes
    settings = tune_settings(COMPOSE, write=True, max_runs=8)
    result = tune(settings, QUIET).result
    assert result.points[-1].role == "confirmation" and not result.points[-1].passed
    assert not result.confirmed and not result.written
    assert "-          memory: 512M" in result.compose_diff
    assert settings.run.compose_file.read_text() == COMPOSE


def test_a_run_that_never_gets_ready_is_a_failing_point(
    runs: FakeRuns, tune_settings: TuneSettingsFor
) -> None:
    """An OOM before readiness at 0.33 cores: failed, OOM-killed, first line as the reason."""
    runs.raises[0.33] = StackNotReadyError(
        "gateway", "exited 137", "line 1\nline 2", oom_killed=True
    )
    result = tune(tune_settings(COMPOSE, max_runs=8), QUIET).result
    point = next(p for p in result.points if p.cpus == 0.33)
    assert not point.passed and point.oom_killed and point.run_id is None
    assert point.reason == "gateway never became ready: exited 137"
    assert runs.cpus[:4] == [1.0, 0.55, 0.33, 0.44]


@pytest.mark.parametrize(
    ("compose", "budgets", "changes", "error", "message"),
    [
        pytest.param(COMPOSE, True, {"max_runs": 1}, UsageError, "--max-runs", id="one-run"),
        pytest.param(COMPOSE, False, {}, UsageError, "needs budgets", id="no-budgets"),
        pytest.param(
            COMPOSE.replace("          cpus: '1.0'\n", ""),
            True,
            {},
            ComposeError,
            "needs both cpus and memory",
            id="no-cpu-limit",
        ),
    ],
)
def test_a_tune_that_cannot_start_runs_nothing(
    runs: FakeRuns,
    tune_settings: TuneSettingsFor,
    compose: str,
    budgets: bool,
    changes: dict[str, object],
    error: type[Exception],
    message: str,
) -> None:
    """At most one run, budgets to judge with, and limits to start from: else no run at all."""
    settings = tune_settings(compose, **changes)
    if not budgets:
        settings = dataclasses.replace(
            settings, run=dataclasses.replace(settings.run, budgets_file=None)
        )
    with pytest.raises(error, match=message):
        tune(settings, QUIET)
    assert runs.calls == 0
