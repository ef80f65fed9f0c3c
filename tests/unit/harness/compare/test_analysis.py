"""Rounds judged into a comparison: regressions found, and rounds that cannot be trusted refused."""

from __future__ import annotations

import numpy as np

from harness.compare.analysis import CompareInputs, analyse
from harness.compare.samples import RoundSamples, read_round
from harness.compare.thresholds import DEFAULT_THRESHOLDS
from reports.compare_result import Side
from tests.unit.harness.compare.conftest import MakeRun

RNG = np.random.default_rng(7)


def _latencies(scale: float, n: int = 2000) -> np.ndarray:
    return RNG.lognormal(mean=np.log(50.0 * scale), sigma=0.4, size=n)


def _inputs(
    base: list[RoundSamples], head: list[RoundSamples], problems: tuple[str, ...] = ()
) -> CompareInputs:
    order: list[tuple[Side, RoundSamples]] = []
    for index, b in enumerate(base):
        order.append(("base", b))
        if index < len(head):
            order.append(("head", head[index]))
    return CompareInputs(
        compare_id="compare-test",
        started_at=1_767_225_600.0,
        base=base,
        head=head,
        order=order,
        sides={"base": None, "head": None},
        thresholds=DEFAULT_THRESHOLDS,
        resamples=300,
        problems=problems,
    )


def _rounds(
    make_run: MakeRun, side: str, scale: float, count: int = 3, **update: object
) -> list[RoundSamples]:
    return [
        read_round(make_run(f"{side}-{i}", _latencies(scale * (1 + 0.02 * i)), **update))
        for i in range(count)
    ]


def test_a_much_slower_head_regresses_latency(make_run: MakeRun) -> None:
    """Head 40 % slower at every percentile: p50, p95 and p99 regressed, the compare fails."""
    result = analyse(_inputs(_rounds(make_run, "b", 1.0), _rounds(make_run, "h", 1.4)))
    verdicts = {m.metric: m.verdict for m in result.metrics}
    assert verdicts["p50"] == verdicts["p95"] == "regressed"
    assert result.verdict == "fail"
    p95 = next(m for m in result.metrics if m.metric == "p95")
    assert p95.change is not None and 0.3 < p95.change < 0.5


def test_the_same_gateway_twice_passes(make_run: MakeRun) -> None:
    """Rounds drawn from one distribution: nothing regressed, verdict pass, no problem."""
    result = analyse(_inputs(_rounds(make_run, "b", 1.0), _rounds(make_run, "h", 1.0)))
    assert not result.regressed
    assert result.problems == []
    assert result.verdict == "pass"


def test_a_round_whose_generator_fell_behind_fails_the_compare(make_run: MakeRun) -> None:
    """The generator was the bottleneck in a base round: the comparison says nothing."""
    base = _rounds(make_run, "b", 1.0)
    base[1] = read_round(
        make_run("b-slow", _latencies(1.0), failed_checks=["generator_lag_p99_ms"])
    )
    result = analyse(_inputs(base, _rounds(make_run, "h", 1.0)))
    assert result.verdict == "fail"
    assert "the load generator fell behind its schedule" in result.problems[0]
    assert "round 3 (base" in result.problems[0]


def test_an_always_on_check_only_the_head_failed_fails_the_compare(make_run: MakeRun) -> None:
    """The head leaked the token (the base did not): fail, whatever the latency says."""
    head = _rounds(make_run, "h", 1.0)
    head[0] = read_round(
        make_run("h-leak", _latencies(1.0), failed_checks=["provider_token_in_responses"])
    )
    result = analyse(_inputs(_rounds(make_run, "b", 1.0), head))
    assert result.verdict == "fail"
    assert "failed provider_token_in_responses" in result.problems[0]
    assert "(the base did not fail it)" in result.problems[0]


def test_a_check_both_sides_failed_is_a_note_not_a_failure(make_run: MakeRun) -> None:
    """Readiness failures on base and head alike are not the head's doing."""
    base = _rounds(make_run, "b", 1.0, failed_checks=["ready_probe_failures"])
    head = _rounds(make_run, "h", 1.0, failed_checks=["ready_probe_failures"])
    result = analyse(_inputs(base, head))
    assert result.problems == []
    assert any("failed ready_probe_failures, as the base did" in n for n in result.notes)


def test_a_budget_that_is_not_always_on_is_left_to_the_metrics(make_run: MakeRun) -> None:
    """A scenario budget both breach on a slow machine (latency_p95_ms) does not fail a compare."""
    head = _rounds(make_run, "h", 1.0, failed_checks=["latency_p95_ms"])
    result = analyse(_inputs(_rounds(make_run, "b", 1.0), head))
    assert result.problems == []
    assert result.verdict == "pass"


def test_a_head_that_never_started_fails_with_every_metric_unavailable(make_run: MakeRun) -> None:
    """No head round: metrics unavailable, the problem given, verdict fail."""
    base = _rounds(make_run, "b", 1.0, count=1)
    result = analyse(
        _inputs(base, [], problems=("round 2 (head): the rounds stopped: never ready",))
    )
    assert result.verdict == "fail"
    assert {m.verdict for m in result.metrics} == {"unavailable"}
    assert result.problems == ["round 2 (head): the rounds stopped: never ready"]


def test_one_round_a_side_says_its_intervals_hold_only_the_noise_within_a_run(
    make_run: MakeRun,
) -> None:
    """Two stored runs: the note tells the reader to use more rounds."""
    result = analyse(_inputs(_rounds(make_run, "b", 1.0, 1), _rounds(make_run, "h", 1.0, 1)))
    assert any("one round on a side" in n for n in result.notes)
