"""The maths of `loadgate compare`: how much head differs from base, how sure we are, and the
verdict per metric. Pure functions on numpy arrays; no I/O.

Latency percentiles and the error rate come from a two-stage (hierarchical) bootstrap, as for
clustered data in Davison & Hinkley, *Bootstrap Methods and their Application* (1997), §3.8, and
Ren et al., "Nonparametric bootstrapping for hierarchical data", J. Applied Statistics 37 (2010).
Each resample of a side draws its rounds with replacement, then each drawn round's requests with
replacement, pools them and reads the percentile (nearest rank, numpy's `inverted_cdf`, as
`reports.aggregate`) and the failed fraction; base and head are resampled independently. So the
spread carries both the noise inside a run and the spread between runs of the same gateway,
which on a shared 2-core machine is the larger (about ±15 % from run to run).

The interval is not the bootstrap's percentile interval: with 3 rounds a side that one raised a
false alarm in 15 % of simulated A/A compares at threshold 0 (5 % nominal), because drawing R
of R rounds under-estimates the between-round variance by (R - 1) / R, the two-stage draw
counts the noise within a run about twice (Davison & Hinkley's analysis of resampling both
stages), and a normal quantile ignores how poorly 3 rounds estimate a variance. So a second,
smaller draw keeps each round as it is (within-run noise W only), each side's variance is
R / (R - 1) (v2 - W), unbiased for a mean, with R - 1 degrees of freedom, and the interval is
Welch's t around the point estimate (on log head / base for percentiles, Welch-Satterthwaite
degrees of freedom). In the tests' simulations A/A false alarms stay under 5 % and intervals
cover the true change in over 90 % of compares. With one round on a side there is no spread
between rounds to see: that side's variance is the bootstrap's (within-run noise only), and
`method` says so.

Per-round figures (throughput, memory p95, CPU ms per request) have one value per round:
`scalar_change` gives the ratio of geometric means with Welch's t interval on the logs
(Welch-Satterthwaite degrees of freedom). The t quantile is inverted here from the regularized
incomplete beta function, as scipy is not a dependency.

The verdict is criterion.rs's rule: regressed only when the whole interval lies beyond the
threshold in the worse direction, improved when it lies wholly beyond it in the better one.

Speed: a resample is drawn bin by bin (a multinomial over about sqrt(N) / 2 bins of consecutive
latency ranks, then single requests only in the bin that holds a wanted rank), the same
distribution as drawing every request. 2,000 resamples (and 500 that keep the rounds) of 3 + 3
rounds of 3,000 requests, three percentiles: 0.2 s of CPU, 0.4-0.8 s wall on the shared, busy
2-core machine; drawing every request one by one took 4-6 times as long.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from harness.compare.student_t import welch_half_width

MetricVerdict = Literal["regressed", "improved", "unchanged", "unavailable"]


@dataclass(frozen=True)
class Change:
    """One metric, base against head: the point estimate of the change and its interval."""

    base: float | None
    """The metric on the base side (pooled over its rounds)."""
    head: float | None
    kind: Literal["relative", "absolute"]
    """relative: head / base - 1; absolute: head - base."""
    change: float | None
    """The point estimate; None when there is none (no data, a base of 0)."""
    low: float | None
    """The confidence interval of `change` (both None: no interval possible)."""
    high: float | None
    method: str
    """How the interval was made, in a few words."""


@dataclass(frozen=True)
class RequestRounds:
    """One side's per-request data, one array per round."""

    latencies: Sequence[np.ndarray]
    """ms, per request (every request, failed ones included)."""
    failed: Sequence[np.ndarray]
    """bool per request, same shapes."""


def variance(values: np.ndarray) -> float:
    """The variance, exactly 0 for equal values (np.var can leave a rounding residue)."""
    return float(np.var(values)) if np.ptp(values) > 0 else 0.0


def check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")


def scalar_change(
    base: Sequence[float], head: Sequence[float], *, confidence: float = 0.95
) -> Change:
    """A per-round figure (throughput, memory p95, CPU ms per request): relative change of the
    means, with Welch's t interval on the logs (a ratio of geometric means, Welch-Satterthwaite
    degrees of freedom). Non-finite values (a round that measured nothing) are left out. With a
    value <= 0 there are no logs: the ratio of arithmetic means, with the delta method's Welch
    interval on the raw values. Fewer than 2 rounds on a side: the point estimate alone."""
    check_confidence(confidence)
    b = np.asarray(base, dtype=float)
    h = np.asarray(head, dtype=float)
    b, h = b[np.isfinite(b)], h[np.isfinite(h)]
    if b.size == 0 or h.size == 0:
        missing = " and ".join(n for n, v in (("base", b), ("head", h)) if v.size == 0)
        return Change(None, None, "relative", None, None, None, f"no value on {missing}")
    if np.all(b > 0) and np.all(h > 0):
        return _geometric_change(np.log(b), np.log(h), confidence)
    return _arithmetic_change(b, h, confidence)


def _geometric_change(log_base: np.ndarray, log_head: np.ndarray, confidence: float) -> Change:
    base, head = math.exp(log_base.mean()), math.exp(log_head.mean())
    change = head / base - 1
    rounds = f"{log_base.size} + {log_head.size} rounds"
    if min(log_base.size, log_head.size) < 2:
        why = f"geometric means, {rounds}: fewer than 2 rounds on a side, no interval"
        return Change(base, head, "relative", change, None, None, why)
    parts = [_mean_part(v) for v in (log_base, log_head)]
    half = welch_half_width(parts, confidence)
    centre = math.log(head / base)
    low, high = math.expm1(centre - half), math.expm1(centre + half)
    method = f"ratio of geometric means, Welch t on logs, {rounds}"
    return Change(base, head, "relative", change, low, high, method)


def _arithmetic_change(b: np.ndarray, h: np.ndarray, confidence: float) -> Change:
    """Ratio of means with the delta method: var(h̄/b̄) ≈ var(h̄)/b̄² + h̄² var(b̄)/b̄⁴."""
    base, head = float(b.mean()), float(h.mean())
    rounds = f"{b.size} + {h.size} rounds"
    if base <= 0:
        why = f"base mean is {base:g}: no ratio"
        return Change(base, head, "relative", None, None, None, why)
    change = head / base - 1
    if min(b.size, h.size) < 2:
        why = f"means (a value <= 0), {rounds}: fewer than 2 rounds on a side, no interval"
        return Change(base, head, "relative", change, None, None, why)
    (vb, dfb), (vh, dfh) = _mean_part(b), _mean_part(h)
    parts = [(vb * head * head / base**4, dfb), (vh / base**2, dfh)]
    half = welch_half_width(parts, confidence)
    method = f"ratio of means (a value <= 0), delta-method Welch t, {rounds}"
    return Change(base, head, "relative", change, change - half, change + half, method)


def _mean_part(values: np.ndarray) -> tuple[float, float]:
    """The variance of a mean of rounds (sample variance / n) and its degrees of freedom."""
    return variance(values) / (values.size - 1), float(values.size - 1)


def classify(change: Change, threshold: float, higher_is_worse: bool) -> MetricVerdict:
    """criterion.rs's rule: regressed when the whole interval lies beyond +threshold in the worse
    direction; improved when it lies wholly beyond the threshold in the better direction;
    otherwise unchanged. No interval (low/high None): decide on the point estimate alone (a
    single stored run each: a throughput drop from 60 to 20 must still be flagged). change None:
    unavailable."""
    if change.change is None:
        return "unavailable"
    if change.low is None or change.high is None:
        low = high = change.change
    else:
        low, high = change.low, change.high
    if not higher_is_worse:  # mirror, so that "worse" is always upward
        low, high = -high, -low
    if low > threshold:
        return "regressed"
    if high < -threshold:
        return "improved"
    return "unchanged"
