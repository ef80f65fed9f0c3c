"""Compare maths on synthetic rounds with known differences: lognormal latencies, each round
shifted by a random factor (the run-to-run noise of a shared machine), and hand-computed cases."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from harness.compare.bootstrap import _draw, _rank_index, _side, percentile_changes
from harness.compare.stats import Change, MetricVerdict, RequestRounds, classify, scalar_change
from harness.compare.student_t import t_quantile

PERCENTILES = (50.0, 95.0, 99.0)
SIMULATIONS = 200
"""A/A compares: a false-alarm rate of 5 % is known to about ±1.5 %."""
REQUESTS = 300
"""Requests per simulated round: few, so the file runs in seconds; it makes the noise within a
run larger than on a real round (about 3,000), which only widens the intervals."""
RESAMPLES = 50
"""Enough for a variance (about ±20 %); a compare makes 2,000."""


def rounds(
    rng: np.random.Generator,
    count: int,
    *,
    change: float = 0.0,
    round_sd: float = 0.075,
    requests: int = REQUESTS,
    failure_rate: float = 0.02,
) -> RequestRounds:
    """`count` rounds of lognormal latencies (median 100 ms x (1 + change)), each round scaled
    by exp(N(0, round_sd)), failures at random."""
    centre = math.log(100 * (1 + change))
    latencies = [
        rng.lognormal(centre + rng.normal(0, round_sd), 0.5, requests) for _ in range(count)
    ]
    failed = [rng.random(requests) < failure_rate for _ in range(count)]
    return RequestRounds(latencies=latencies, failed=failed)


def constant(value: float, requests: int, count: int, failed: bool = False) -> RequestRounds:
    return RequestRounds(
        latencies=[np.full(requests, value) for _ in range(count)],
        failed=[np.full(requests, failed) for _ in range(count)],
    )


@dataclass(frozen=True)
class Simulated:
    """Every compare of one simulated scenario: the percentile changes and the error rate's."""

    percentiles: list[dict[float, Change]]
    error_rate: list[Change]

    def metric(self, name: str) -> list[Change]:
        if name == "error_rate":
            return self.error_rate
        return [p[float(name.removeprefix("p"))] for p in self.percentiles]


def simulate(
    change: float, per_side: int, round_sd: float, seed: int, simulations: int = SIMULATIONS
) -> Simulated:
    rng = np.random.default_rng(seed)
    percentiles, error_rate = [], []
    for i in range(simulations):
        base = rounds(rng, per_side, round_sd=round_sd)
        head = rounds(rng, per_side, change=change, round_sd=round_sd)
        changes, errors = percentile_changes(base, head, PERCENTILES, resamples=RESAMPLES, seed=i)
        percentiles.append(changes)
        error_rate.append(errors)
    return Simulated(percentiles, error_rate)


@pytest.fixture(scope="module")
def same_gateway() -> Simulated:
    """A/A: base and head the same gateway, 3 rounds a side, round shifts of sd 7.5 %."""
    return simulate(change=0.0, per_side=3, round_sd=0.075, seed=1)


@pytest.fixture(scope="module")
def slower_head() -> Simulated:
    """Head 30 % slower at every percentile, 5 rounds a side, round shifts of sd 5 %."""
    return simulate(change=0.30, per_side=5, round_sd=0.05, seed=2, simulations=100)


def verdict_rate(changes: list[Change], verdict: MetricVerdict, threshold: float) -> float:
    verdicts = [classify(c, threshold, higher_is_worse=True) for c in changes]
    return verdicts.count(verdict) / len(verdicts)


@pytest.mark.parametrize("metric", ["p50", "p95", "p99", "error_rate"])
def test_same_gateway_rarely_differs_at_threshold_zero(
    same_gateway: Simulated, metric: str
) -> None:
    """A/A: an interval excludes 0 in at most 7 % of compares (5 % nominal)."""
    changes = same_gateway.metric(metric)
    alarms = 1 - verdict_rate(changes, "unchanged", threshold=0.0)
    assert alarms <= 0.07


@pytest.mark.parametrize(
    ("metric", "threshold"),
    [("p50", 0.10), ("p95", 0.10), ("p99", 0.10), ("error_rate", 0.01)],
    ids=["p50-10%", "p95-10%", "p99-10%", "error_rate-1pt"],
)
def test_same_gateway_never_regresses_beyond_a_threshold(
    same_gateway: Simulated, metric: str, threshold: float
) -> None:
    """A/A: with a 10 % threshold (1 point for errors) no compare raises an alarm."""
    changes = same_gateway.metric(metric)
    assert verdict_rate(changes, "unchanged", threshold) == 1.0


def test_slower_head_is_a_regression_of_p95(slower_head: Simulated) -> None:
    """A true +30 % on p95 is classified regressed (threshold 0) in at least 95 % of compares."""
    assert verdict_rate(slower_head.metric("p95"), "regressed", threshold=0.0) >= 0.95


@pytest.mark.parametrize("metric", ["p50", "p95", "p99"])
def test_intervals_cover_the_true_change(slower_head: Simulated, metric: str) -> None:
    """The 95 % intervals hold the true +30 % in at least 90 % of compares."""
    changes = slower_head.metric(metric)
    covered = [
        c.low is not None and c.high is not None and c.low <= 0.30 <= c.high for c in changes
    ]
    assert sum(covered) / len(covered) >= 0.90


def test_bin_by_bin_draw_matches_drawing_every_request() -> None:
    """The resampled percentiles and failed fraction have the distribution of a plain two-stage
    draw of every request (rounds of unequal size, tied latencies, the extremes included)."""
    rng = np.random.default_rng(5)
    latencies = [np.round(rng.lognormal(4.6 + rng.normal(0, 0.1), 0.5, n)) for n in (200, 350, 120)]
    failed = [rng.random(lat.size) < 0.05 for lat in latencies]
    side = _side(RequestRounds(latencies, failed), "base")
    assert side is not None
    quantiles = np.array([0.0, 0.5, 0.95, 0.99, 1.0])
    picked = rng.integers(0, 3, size=(2000, 3))
    drawn, rate = _draw(side, quantiles, picked, rng)
    plain = np.empty_like(drawn)
    plain_rate = np.empty_like(rate)
    for b, rounds_ in enumerate(picked):
        indices = [rng.integers(0, latencies[r].size, latencies[r].size) for r in rounds_]
        pool = np.concatenate([latencies[r][i] for r, i in zip(rounds_, indices, strict=True)])
        fails = np.concatenate([failed[r][i] for r, i in zip(rounds_, indices, strict=True)])
        plain[b] = np.percentile(pool, quantiles * 100, method="inverted_cdf")
        plain_rate[b] = fails.mean()
    assert set(np.unique(drawn)) <= set(np.concatenate(latencies))
    for column in range(quantiles.size):
        assert drawn[:, column].mean() == pytest.approx(plain[:, column].mean(), rel=0.02)
        assert drawn[:, column].std() == pytest.approx(plain[:, column].std(), rel=0.1)
    assert rate.mean() == pytest.approx(plain_rate.mean(), rel=0.03)
    assert rate.std() == pytest.approx(plain_rate.std(), rel=0.1)


@pytest.mark.parametrize("requests", [1, 2, 3, 7, 20, 99, 100, 101, 1000, 2999, 3000])
def test_rank_is_numpy_nearest_rank(requests: int) -> None:
    """The rank read in every resample is numpy's inverted_cdf rank, to the last ulp."""
    values = np.sort(np.random.default_rng(requests).random(requests))
    percentiles = np.array([0, 1, 5, 10, 25, 33.3, 50, 90, 92.5, 95, 99, 99.9, 99.99, 100])
    index = _rank_index(np.array([float(requests)]), percentiles / 100)[0]
    expected = np.percentile(values, percentiles, method="inverted_cdf")
    assert np.array_equal(values[index], expected)


def test_point_estimates_are_pooled_nearest_rank_percentiles() -> None:
    """`base` and `head` are the percentiles of every request of the side, as loadgate reports."""
    rng = np.random.default_rng(3)
    base, head = rounds(rng, 3), rounds(rng, 3, change=0.2)
    changes, errors = percentile_changes(base, head, PERCENTILES, resamples=20)
    for q, change in changes.items():
        pooled = np.concatenate(list(base.latencies))
        assert change.base == np.percentile(pooled, q, method="inverted_cdf")
        assert change.head is not None and change.base is not None
        assert change.change == pytest.approx(change.head / change.base - 1)
    assert errors.base == pytest.approx(np.concatenate(list(base.failed)).mean())


def test_same_seed_gives_the_same_intervals() -> None:
    """A compare re-read from its rounds gives the same figures; another seed moves them."""
    rng = np.random.default_rng(4)
    base, head = rounds(rng, 3), rounds(rng, 3)
    first = percentile_changes(base, head, PERCENTILES, resamples=200, seed=7)
    again = percentile_changes(base, head, PERCENTILES, resamples=200, seed=7)
    other = percentile_changes(base, head, PERCENTILES, resamples=200, seed=8)
    assert first == again
    assert first[0][95.0].low != other[0][95.0].low


def test_one_round_a_side_says_the_interval_is_within_run_noise() -> None:
    """With a single round each, the interval exists but `method` says it holds only one run's
    noise; three rounds far apart (sd 30 %) widen it."""
    rng = np.random.default_rng(6)
    base, head = rounds(rng, 3, round_sd=0.3), rounds(rng, 3, round_sd=0.3)
    single = [RequestRounds([r.latencies[0]], [r.failed[0]]) for r in (base, head)]
    one = percentile_changes(single[0], single[1], PERCENTILES, resamples=200)[0][50.0]
    three = percentile_changes(base, head, PERCENTILES, resamples=200)[0][50.0]
    assert "only the noise within that run" in one.method
    assert "only the noise" not in three.method
    assert one.low is not None and one.high is not None and one.change is not None
    assert three.low is not None and three.high is not None
    assert one.low < one.change < one.high
    assert three.high - three.low > 2 * (one.high - one.low)


@pytest.mark.parametrize(
    "side",
    ["base", "head", "both"],
)
def test_no_requests_make_every_change_unavailable(side: str) -> None:
    """A side whose rounds hold no request gives change None (unavailable), not a crash."""
    rng = np.random.default_rng(7)
    empty = RequestRounds([np.array([]), np.array([])], [np.array([], bool), np.array([], bool)])
    base = empty if side in ("base", "both") else rounds(rng, 2)
    head = empty if side in ("head", "both") else rounds(rng, 2)
    changes, errors = percentile_changes(base, head, PERCENTILES, resamples=50)
    for change in [*changes.values(), errors]:
        assert change.change is None
        assert classify(change, 0.1, higher_is_worse=True) == "unavailable"
        assert "no requests" in change.method


def test_empty_rounds_are_left_out() -> None:
    """A round without requests neither counts as a round nor breaks the resampling."""
    rng = np.random.default_rng(8)
    base = rounds(rng, 2)
    with_empty = RequestRounds([*base.latencies, np.array([])], [*base.failed, np.array([], bool)])
    changes, _ = percentile_changes(with_empty, rounds(rng, 2), PERCENTILES, resamples=50)
    assert "2 + 2 rounds" in changes[95.0].method


def test_all_failed_gives_an_error_rate_change_of_zero() -> None:
    """Every request failed on both sides: the error rate is unchanged at exactly 0, latencies
    (failed ones included) are still compared."""
    rng = np.random.default_rng(9)
    base, head = rounds(rng, 3, failure_rate=1.0), rounds(rng, 3, failure_rate=1.0)
    changes, errors = percentile_changes(base, head, PERCENTILES, resamples=50)
    assert (errors.base, errors.head, errors.change, errors.low, errors.high) == (1, 1, 0, 0, 0)
    assert classify(errors, 0.0, higher_is_worse=True) == "unchanged"
    assert all(c.change is not None and c.low is not None for c in changes.values())


def test_base_of_zero_has_no_relative_change() -> None:
    """A base percentile of 0 ms gives change None and says why, without a division warning."""
    base, head = constant(0.0, 100, 3), constant(5.0, 100, 3)
    changes, errors = percentile_changes(base, head, PERCENTILES, resamples=50)
    assert all(c.change is None and "base is 0" in c.method for c in changes.values())
    assert errors.change == 0


def test_identical_constant_samples_are_unchanged() -> None:
    """Identical constant rounds give the interval [0, 0]: unchanged even at threshold 0."""
    base, head = constant(42.0, 200, 3), constant(42.0, 200, 3)
    changes, errors = percentile_changes(base, head, PERCENTILES, resamples=50)
    for change in [*changes.values(), errors]:
        assert (change.change, change.low, change.high) == (0, 0, 0)
        assert classify(change, 0.0, higher_is_worse=True) == "unchanged"


def test_no_resamples_gives_the_point_estimate_alone() -> None:
    """resamples=0: point estimates, no interval, and `method` says so."""
    rng = np.random.default_rng(10)
    changes, errors = percentile_changes(rounds(rng, 3), rounds(rng, 3), [95], resamples=0)
    assert changes[95].change is not None
    assert (changes[95].low, errors.high) == (None, None)
    assert "point estimate only" in errors.method


@pytest.mark.parametrize(
    ("base", "percentiles", "confidence", "message"),
    [
        (RequestRounds([np.ones(3)], [np.zeros(2, bool)]), [50], 0.95, "3 latencies but 2"),
        (RequestRounds([np.ones(3)], []), [50], 0.95, "1 rounds of latencies but 0"),
        (RequestRounds([np.array([1.0, np.nan])], [np.zeros(2, bool)]), [50], 0.95, "finite"),
        (constant(1.0, 3, 1), [101], 0.95, "between 0 and 100"),
        (constant(1.0, 3, 1), [50], 1.0, "strictly between 0 and 1"),
    ],
    ids=["shapes", "rounds", "nan", "percentile", "confidence"],
)
def test_bad_input_is_named(
    base: RequestRounds, percentiles: list[float], confidence: float, message: str
) -> None:
    """Inconsistent rounds, a NaN latency, a percentile or confidence out of range: ValueError."""
    with pytest.raises(ValueError, match=message):
        percentile_changes(base, constant(1.0, 3, 1), percentiles, confidence=confidence)


@pytest.mark.parametrize(
    ("p", "df", "expected"),
    [
        (0.975, 1, 12.706),
        (0.975, 2, 4.303),
        (0.975, 4, 2.776),
        (0.975, 10, 2.228),
        (0.975, 30, 2.042),
        (0.95, 10, 1.812),
        (0.995, 5, 4.032),
        (0.9, 3, 1.638),
        (0.975, math.inf, 1.960),
        (0.025, 4, -2.776),
    ],
    ids=[
        "97.5-1",
        "97.5-2",
        "97.5-4",
        "97.5-10",
        "97.5-30",
        "95-10",
        "99.5-5",
        "90-3",
        "97.5-inf",
        "2.5-4",
    ],
)
def test_t_quantile_matches_the_tables(p: float, df: float, expected: float) -> None:
    """Student's t quantiles agree with the printed tables to their 3 decimals."""
    assert t_quantile(p, df) == pytest.approx(expected, abs=5e-4)


@pytest.mark.parametrize("p", [0.55, 0.75, 0.9, 0.975, 0.999])
def test_t_quantile_matches_closed_forms(p: float) -> None:
    """df 1 (Cauchy: tan(pi (p - 1/2))) and df 2 ((2p - 1) / sqrt(2 p (1 - p))) to 1e-9."""
    assert t_quantile(p, 1) == pytest.approx(math.tan(math.pi * (p - 0.5)), rel=1e-9)
    assert t_quantile(p, 2) == pytest.approx((2 * p - 1) / math.sqrt(2 * p * (1 - p)), rel=1e-9)
    assert t_quantile(p, 7.3) < t_quantile(p, 3.7)  # fractional df, heavier tails with fewer


@pytest.mark.parametrize(("p", "df"), [(0.0, 3), (1.0, 3), (0.5, 0)], ids=["p0", "p1", "df0"])
def test_t_quantile_rejects_impossible_arguments(p: float, df: float) -> None:
    """p outside (0, 1) or df <= 0: ValueError naming both."""
    with pytest.raises(ValueError, match="0 < p < 1 and df > 0"):
        t_quantile(p, df)


def test_scalar_change_is_welch_on_logs() -> None:
    """By hand: logs 0, ±0.1 against 0.3, 0.3 ± 0.1 give variances 0.01/3 each, df 4, so
    exp(0.3 ± 2.7764 sqrt(0.02 / 3)) - 1 = [0.0761, 0.6933] around 0.3499."""
    base = [100 * math.exp(x) for x in (0.0, 0.1, -0.1)]
    head = [100 * math.exp(x) for x in (0.2, 0.3, 0.4)]
    change = scalar_change(base, head)
    assert change.change == pytest.approx(math.expm1(0.3))
    assert change.low == pytest.approx(0.0761, abs=1e-4)
    assert change.high == pytest.approx(0.6933, abs=1e-4)
    assert change.base == pytest.approx(100)
    assert "geometric means" in change.method


def test_scalar_change_with_a_zero_falls_back_to_the_delta_method() -> None:
    """By hand: base 0, 2, 4 (mean 2, var 4) and head 3, 3, 3: change 0.5, variance
    (4/3) 9 / 16 = 0.75 with df 2, so 0.5 ± 4.3027 sqrt(0.75) = [-3.2262, 4.2262]."""
    change = scalar_change([0.0, 2.0, 4.0], [3.0, 3.0, 3.0])
    assert change.change == pytest.approx(0.5)
    assert change.low == pytest.approx(-3.2262, abs=1e-4)
    assert change.high == pytest.approx(4.2262, abs=1e-4)
    assert "delta-method" in change.method


def test_one_stored_run_each_is_judged_on_the_point_estimate() -> None:
    """One round a side: no interval, `method` says why, and a throughput drop from 60 to 20
    is still a regression."""
    change = scalar_change([60.0], [20.0])
    assert (change.low, change.high) == (None, None)
    assert change.change == pytest.approx(-2 / 3)
    assert "fewer than 2 rounds" in change.method
    assert classify(change, 0.1, higher_is_worse=False) == "regressed"
    assert classify(scalar_change([60.0], [58.0]), 0.1, higher_is_worse=False) == "unchanged"


@pytest.mark.parametrize(
    ("base", "head", "reason"),
    [
        ([], [1.0], "no value on base"),
        ([0.0, 0.0], [1.0, 2.0], "base mean is 0"),
        ([math.nan], [1.0], "no value on base"),
    ],
    ids=["empty", "zero-mean", "nan"],
)
def test_scalar_change_without_a_base_is_unavailable(
    base: list[float], head: list[float], reason: str
) -> None:
    """No base value, or a base mean of 0: change None, and `method` says why."""
    change = scalar_change(base, head)
    assert change.change is None
    assert reason in change.method
    assert classify(change, 0.0, higher_is_worse=True) == "unavailable"


def test_scalar_change_leaves_out_missing_rounds() -> None:
    """A NaN (a round that measured nothing) is left out, not propagated."""
    change = scalar_change([10.0, math.nan, 10.0], [12.0, 12.0])
    assert change.change == pytest.approx(0.2)
    assert change.low == pytest.approx(0.2)
    assert change.high == pytest.approx(0.2)


def interval(low: float | None, high: float | None, change: float | None = 0.0) -> Change:
    return Change(1.0, 1.0, "relative", change, low, high, "test")


@pytest.mark.parametrize(
    ("change", "higher_is_worse", "expected"),
    [
        (interval(0.12, 0.30), True, "regressed"),
        (interval(0.05, 0.30), True, "unchanged"),
        (interval(-0.30, -0.12), True, "improved"),
        (interval(-0.30, -0.12), False, "regressed"),
        (interval(0.12, 0.30), False, "improved"),
        (interval(-0.05, 0.05), True, "unchanged"),
        (interval(0.10, 0.30), True, "unchanged"),
        (interval(None, None, 0.11), True, "regressed"),
        (interval(None, None, -0.11), True, "improved"),
        (interval(None, None, 0.09), True, "unchanged"),
        (interval(None, None, None), True, "unavailable"),
    ],
    ids=[
        "above",
        "straddles-threshold",
        "below",
        "below-lower-is-worse",
        "above-lower-is-worse",
        "around-zero",
        "touches-threshold",
        "point-above",
        "point-below",
        "point-within",
        "none",
    ],
)
def test_classify_is_criterions_rule(
    change: Change, higher_is_worse: bool, expected: MetricVerdict
) -> None:
    """At threshold 10 %: only an interval wholly beyond it counts; no interval, the point."""
    assert classify(change, 0.10, higher_is_worse) == expected


def test_no_percentiles_asked_gives_the_error_rate_alone() -> None:
    """An empty list of percentiles: an empty dict and the error rate's change, no crash."""
    rng = np.random.default_rng(11)
    changes, errors = percentile_changes(rounds(rng, 2), rounds(rng, 2), [], resamples=20)
    assert changes == {}
    assert errors.low is not None and errors.high is not None
