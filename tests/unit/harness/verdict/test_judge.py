"""The one judge: budgets files, their verdicts, the always-on checks, steps, and re-judging."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.errors import BudgetsError
from harness.verdict.budgets import Budgets, load_budgets
from harness.verdict.judge import ALWAYS_ON, judge, judge_steps, knee, overall
from reports.console import verdict_line
from reports.result import (
    Findings,
    GeneratorRecord,
    ReadinessRecord,
    ResponseScan,
    RunResult,
    StepStats,
    TokenHit,
    WorkerRecord,
)

BUDGETS_DIR = Path(__file__).resolve().parents[4] / "budgets"

if TYPE_CHECKING:
    from tests.unit.conftest import MakeResult


ResultWith = Callable[..., RunResult]


@pytest.fixture
def result_with(make_result: MakeResult) -> ResultWith:
    """The sample result (smoke, p95 110 ms, 0.5 % errors, memory p95 60 MiB), unjudged, with
    `changes`."""

    def build(**changes: Any) -> RunResult:
        return make_result().model_copy(update={"budgets": [], "verdict": "no-budgets", **changes})

    return build


def verdicts(result: RunResult) -> dict[str, bool | None]:
    return {v.name: v.passed for v in result.budgets}


def test_the_project_budgets_files_load() -> None:
    """budgets/default.yml and every budgets/<scenario>.yml are valid and name a scenario."""
    from scenarios.catalog import SCENARIOS

    for path in BUDGETS_DIR.glob("*.yml"):
        load_budgets(path)
        assert path.stem == "default" or path.stem in SCENARIOS, path.name
    assert (BUDGETS_DIR / "smoke.yml").is_file() and (BUDGETS_DIR / "steady.yml").is_file()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(b"latency_p95: 200\n", "unknown budget 'latency_p95'", id="unknown-key"),
        pytest.param(b"latency_p95_ms: -5\n", "latency_p95_ms", id="negative"),
        pytest.param(b"error_rate: 3\n", "error_rate", id="rate-above-1"),
        pytest.param(b"latency_p95_ms: fast\n", "latency_p95_ms", id="not-a-number"),
        pytest.param(b"latency_p95_ms: .inf\n", "latency_p95_ms", id="infinite"),
        pytest.param(b"memory_max_mb: .nan\n", "memory_max_mb", id="not-a-number-nan"),
        pytest.param(b"", "must be a mapping", id="empty"),
        pytest.param(b"- 1\n- 2\n", "must be a mapping", id="list"),
        pytest.param(b"a: [\n", "not valid YAML (line", id="broken-yaml"),
        pytest.param(b"latency_p95_ms: 2\xff\n", "not UTF-8", id="not-utf8"),
        pytest.param(b"a: &a [*a]\n", "budgets file", id="recursive-alias"),
    ],
)
def test_bad_budget_files_are_one_clear_error(tmp_path: Path, content: bytes, message: str) -> None:
    """Each problem is named in one message, never a traceback."""
    path = tmp_path / "budgets.yml"
    path.write_bytes(content)
    with pytest.raises(BudgetsError) as caught:
        load_budgets(path)
    assert message in str(caught.value)


def test_a_missing_budgets_file_is_a_usage_error(tmp_path: Path) -> None:
    """A path that does not exist is named."""
    with pytest.raises(BudgetsError, match="cannot read budgets file"):
        load_budgets(tmp_path / "missing.yml")


def test_a_breached_latency_budget_fails_the_run(result_with: ResultWith) -> None:
    """Observed p95 above the limit is a failing verdict; the error budget still passes."""
    judged = judge(result_with(), Budgets(latency_p95_ms=80, error_rate=0.01))
    assert judged.verdict == "fail"
    assert verdicts(judged)["latency_p95_ms"] is False
    assert verdicts(judged)["error_rate"] is True


def test_limits_are_inclusive(result_with: ResultWith) -> None:
    """A value exactly at its budget passes."""
    assert judge(result_with(), Budgets(latency_p95_ms=110, memory_p95_mb=60)).verdict == "pass"


def test_an_error_rate_above_its_budget_never_passes(
    make_result: MakeResult, result_with: ResultWith
) -> None:
    """Every request failed: whatever else the file says, the run fails."""
    errors = make_result().errors.model_copy(update={"total": 600, "rate": 1.0})
    judged = judge(result_with(errors=errors), Budgets(latency_p95_ms=250, error_rate=0.01))
    assert judged.verdict == "fail"


def test_unmeasured_budgets_are_unavailable_and_cannot_pass_a_run_alone(
    result_with: ResultWith,
) -> None:
    """Memory of a URL target is n/a; a run in which nothing of the file was measured fails."""
    judged = judge(result_with(memory=None, container=None), Budgets(memory_p95_mb=100))
    assert verdicts(judged)["memory_p95_mb"] is None
    assert judged.verdict == "fail"


def test_figure_budgets_judge_the_scenarios_figures(result_with: ResultWith) -> None:
    """A figure budget compares the scenario's figure; one the run lacks is n/a."""
    findings = Findings(figures={"dropped": 3.0, "knee_rps": 800.0})
    budgets = Budgets(dropped_max=0, upstream_saved_min=0.9, memory_failing_mb_per_1k=3)
    judged = verdicts(judge(result_with(findings=findings), budgets))
    assert judged["dropped_max"] is False
    assert judged["upstream_saved_min"] is None and judged["memory_failing_mb_per_1k"] is None


@pytest.mark.parametrize(
    ("changes", "check"),
    [
        pytest.param(
            {"findings": Findings(figures={"throughput_ratio": 0.34})},
            "throughput_ratio",
            id="a-third-of-the-load-served",
        ),
        pytest.param(
            {
                "readiness": ReadinessRecord(
                    path="/ready", timeout_s=1, probes=30, failures=4, first_failure="timeout"
                )
            },
            "ready_probe_failures",
            id="readiness-failed-under-load",
        ),
        pytest.param(
            {
                "responses": ResponseScan(
                    scanned_non_2xx=10,
                    scanned_2xx=5,
                    token_hits=[TokenHit(route="/v1/infer", status=502, where="body")],
                )
            },
            "provider_token_in_responses",
            id="token-in-an-answer",
        ),
        pytest.param(
            {"findings": Findings(figures={"all_failing": 1.0}, notes=["every request ..."])},
            "requests_all_failing",
            id="every-first-request-failed",
        ),
    ],
)
def test_always_on_checks_fail_a_run_whose_budgets_passed(
    changes: dict[str, Any], check: str, result_with: ResultWith
) -> None:
    """Each always-on check fails the run by itself, with a budgets file that passes."""
    judged = judge(result_with(**changes), Budgets(latency_p95_ms=250))
    assert verdicts(judged)["latency_p95_ms"] is True
    assert verdicts(judged)[check] is False
    assert judged.verdict == "fail"
    assert check in ALWAYS_ON


def test_the_throughput_ratio_can_be_set_by_the_budgets_file(result_with: ResultWith) -> None:
    """throughput_min_ratio lowers the bar for a run that serves 90 % of its load."""
    result = result_with(findings=Findings(figures={"throughput_ratio": 0.9}))
    assert judge(result, Budgets(latency_p95_ms=250)).verdict == "fail"
    assert judge(result, Budgets(latency_p95_ms=250, throughput_min_ratio=0.85)).verdict == "pass"


def test_without_budgets_only_integrity_checks_apply(
    make_result: MakeResult, result_with: ResultWith
) -> None:
    """--no-budgets: slow and short of throughput is "no-budgets"; a leaked token still fails."""
    slow = result_with(findings=Findings(figures={"throughput_ratio": 0.3}))
    judged = judge(slow, None)
    assert judged.verdict == "no-budgets"
    assert "throughput_ratio" not in verdicts(judged)
    leaked = result_with(
        container=make_result().container.model_copy(  # type: ignore[union-attr]
            update={"token_in_logs": True}
        )
    )
    assert judge(leaked, None).verdict == "fail"


def test_judging_needs_only_the_result_and_is_repeatable(
    tmp_path: Path, result_with: ResultWith
) -> None:
    """A judged result saved and judged again by the same budgets gives the same verdicts."""
    budgets = Budgets(latency_p95_ms=250, error_rate=0.01)
    first = judge(result_with(), budgets)
    first.save(tmp_path)
    again = judge(RunResult.model_validate_json((tmp_path / "result.json").read_text()), budgets)
    assert again.budgets == first.budgets and again.verdict == first.verdict


def test_goodput_against_another_slo_is_unavailable_not_guessed(result_with: ResultWith) -> None:
    """Goodput measured against a 500 ms TTFT cannot be judged against a 1 s one."""
    figures = {"goodput": 0.97, "goodput_slo_ttft_ms": 500.0, "goodput_slo_latency_ms": 2000.0}
    result = result_with(findings=Findings(figures=figures))
    same = judge(result, Budgets(goodput_min=0.95))
    other = judge(result, Budgets(goodput_min=0.95, goodput_ttft_ms=1000))
    assert verdicts(same)["goodput_min"] is True
    assert verdicts(other)["goodput_min"] is None
    assert other.findings.figures["goodput"] == 0.97  # the measurement is kept


def step(name: str, target: float, p95: float, requests: int = 100) -> StepStats:
    return StepStats(
        name=name,
        start_s=0,
        end_s=1,
        target_rps=target,
        requests=requests,
        throughput_rps=target,
        error_rate=0,
        p50_ms=p95 / 2,
        p95_ms=p95,
        p99_ms=p95,
    )


def test_the_knee_is_the_last_step_before_the_first_breach() -> None:
    """Steps judged against p95 250 ms: the knee is 200 req/s; unreached steps are n/a."""
    steps = [step("a", 100, 90), step("b", 200, 120), step("c", 400, 900), step("d", 800, 0, 0)]
    judged = judge_steps(steps, {"latency_p95_ms": 250})
    assert [s.passed for s in judged] == [True, True, False, None]
    assert knee(judged) == 200


def test_a_first_step_over_budget_is_a_knee_of_zero_not_unavailable(
    result_with: ResultWith,
) -> None:
    """A ramp whose first step broke a budget fails knee_min_rps; an unreached ramp is n/a."""
    assert knee(judge_steps([step("a", 100, 900)], {"latency_p95_ms": 250})) == 0
    assert knee(judge_steps([step("a", 100, 0, requests=0)], {"latency_p95_ms": 250})) is None
    ramp = result_with(scenario="ramp", findings=Findings(steps=[step("a", 100, 900)]))
    judged = judge(ramp, Budgets(latency_p95_ms=250, knee_min_rps=50, memory_max_mb=480))
    assert verdicts(judged)["knee_min_rps"] is False and judged.verdict == "fail"


def test_a_nan_step_figure_breaks_its_budget() -> None:
    """A crafted result whose step p95 is NaN does not pass a step."""
    nan_step = step("a", 100, 90).model_copy(update={"p95_ms": float("nan")})
    assert judge_steps([nan_step], {"latency_p95_ms": 250})[0].passed is False


def test_a_run_where_nothing_succeeded_fails_whatever_the_budgets(
    make_result: MakeResult, result_with: ResultWith
) -> None:
    """100 % errors in mixed kinds, with a file that does not judge errors: FAIL."""
    errors = make_result().errors.model_copy(update={"total": 600, "rate": 1.0})
    judged = judge(result_with(errors=errors), Budgets(latency_p95_ms=250))
    assert verdicts(judged)["requests_succeeded"] is False and judged.verdict == "fail"
    assert judge(result_with(errors=errors), None).verdict == "fail"


def test_loosened_always_on_limits_are_named_in_a_note(result_with: ResultWith) -> None:
    """A budgets file that switches a check off in effect is said so in the findings."""
    loose = Budgets(latency_p95_ms=250, throughput_min_ratio=0.000001)
    notes = judge(result_with(), loose).findings.notes
    assert any("throughput_min_ratio 1e-06 (default 0.95)" in n for n in notes)
    assert not any("loosens" in n for n in judge(result_with(), Budgets()).findings.notes)


def test_a_ramp_is_judged_by_its_steps_and_knee_not_the_whole_run(result_with: ResultWith) -> None:
    """Latency budgets judge each step; the knee is found from the result alone."""
    steps = [step("a", 100, 90), step("b", 200, 120), step("c", 400, 900)]
    ramp = result_with(scenario="ramp", findings=Findings(steps=steps))
    judged = judge(ramp, Budgets(latency_p95_ms=250, knee_min_rps=150))
    assert "latency_p95_ms" not in verdicts(judged)
    assert verdicts(judged)["knee_min_rps"] is True
    assert judged.findings.figures["knee_rps"] == 200
    stricter = judge(judged, Budgets(latency_p95_ms=100, knee_min_rps=150))
    assert stricter.findings.figures["knee_rps"] == 100 and stricter.verdict == "fail"


def test_overall_needs_one_measured_pass() -> None:
    """No budgets at all is not a pass."""
    assert overall([]) is False


def test_a_ramp_judges_readiness_only_up_to_its_first_broken_step(result_with: ResultWith) -> None:
    """Past the knee the gateway is overloaded on purpose: probes failing there do not count."""
    steps = [step("a", 100, 90), step("b", 200, 900)]
    steps[1] = steps[1].model_copy(update={"start_s": 8.0, "end_s": 16.0})
    readiness = ReadinessRecord(
        path="/ready", timeout_s=1, probes=16, failures=1, failed_at_s=[12.5]
    )
    ramp = result_with(scenario="ramp", findings=Findings(steps=steps), readiness=readiness)
    assert verdicts(judge(ramp, Budgets(latency_p95_ms=250)))["ready_probe_failures"] is True
    early = readiness.model_copy(update={"failed_at_s": [3.0]})
    judged = judge(ramp.model_copy(update={"readiness": early}), Budgets(latency_p95_ms=250))
    assert verdicts(judged)["ready_probe_failures"] is False


def _worker(index: int, **changes: Any) -> WorkerRecord:
    fields: dict[str, Any] = {
        "index": index,
        "host": f"load-{index}",
        "share": f"send {index + 1} of every 2",
        "requests": 300,
        "rejected_rows": 0,
        "cpu_s": 1.0,
        "wall_s": 10.0,
        "cores": 0.1,
        "lag_p50_ms": 0.4,
        "lag_p99_ms": 2.0,
        "scheduled": 300,
        "sent": 300,
        "missed": 0,
        "unfinished": 0,
        "lost_after_s": None,
        "error": None,
    }
    return WorkerRecord(**{**fields, **changes})


def _distributed(result_with: ResultWith, *workers: WorkerRecord) -> RunResult:
    generator = GeneratorRecord(
        model="open",
        processes=len(workers),
        cpu_s=2.0,
        wall_s=10.0,
        busiest_process_cores=max(w.cores for w in workers),
        scheduled=600,
        sent=600,
        missed=0,
        unfinished=0,
        lag_p50_ms=0.4,
        lag_p99_ms=3.0,
        lag_max_ms=9.0,
        workers=list(workers),
    )
    return result_with(generator=generator)


def test_a_lost_worker_fails_the_run_and_the_verdict_names_it(result_with: ResultWith) -> None:
    """Whatever the latency says, a run that lost a worker is not the load it claims."""
    judged = judge(_distributed(result_with, _worker(0), _worker(1, lost_after_s=7.25)), Budgets())
    assert judged.verdict == "fail"
    assert verdicts(judged)["generator_workers_lost"] is False
    assert verdict_line(judged).startswith("FAIL: worker 1 (load-1) lost 7.2 s into the load")


def test_a_worker_whose_generator_failed_fails_the_run(result_with: ResultWith) -> None:
    """A worker that reported an error instead of running its share counts as lost."""
    judged = judge(_distributed(result_with, _worker(0), _worker(1, error="exit 2")), Budgets())
    assert verdicts(judged)["generator_workers_lost"] is False
    assert "could not run its share: exit 2" in verdict_line(judged)


def test_a_worker_whose_rows_were_refused_fails_the_run(result_with: ResultWith) -> None:
    """Rows the master refused (out of the run's window, a flood) are requests the run lacks."""
    judged = judge(_distributed(result_with, _worker(0), _worker(1, rejected_rows=3)), Budgets())
    assert verdicts(judged)["generator_workers_lost"] is False
    assert "worker 1 (load-1) sent 3 rows that were refused" in verdict_line(judged)


def test_every_worker_is_judged_on_its_own_schedule_lag(result_with: ResultWith) -> None:
    """One worker that fell behind is not averaged away by the merged lag of the others."""
    judged = judge(
        _distributed(result_with, _worker(0), _worker(1, lag_p99_ms=45.0)),
        Budgets(generator_lag_p99_ms=20),
    )
    lag = next(v for v in judged.budgets if v.name == "generator_lag_p99_ms")
    assert (lag.observed, lag.passed) == (45.0, False)


def test_a_distributed_run_whose_workers_all_finished_passes(result_with: ResultWith) -> None:
    """Two healthy workers: the worker check passes and the run is judged on its figures."""
    judged = judge(_distributed(result_with, _worker(0), _worker(1)), Budgets(latency_p95_ms=250))
    assert verdicts(judged)["generator_workers_lost"] is True
    assert judged.verdict == "pass"
