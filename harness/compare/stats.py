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
false alarm in 15 % of simulated A/A compares (at threshold 0, where 5 % is the nominal rate),
because drawing R of R rounds under-estimates the between-round variance by (R - 1) / R and a
normal quantile ignores that 3 rounds estimate a variance poorly. Each side's bootstrap variance
(of the log percentile; of the rate) is multiplied by R / (R - 1) and given R - 1 degrees of
freedom, and the interval is Welch's t with Welch-Satterthwaite degrees of freedom around the
point estimate (log head / base for percentiles). It errs wide: the two-stage draw counts the
noise within a run about twice (Davison & Hinkley's point about resampling both stages), which
matters only when runs are short. With one round on a side there is no between-round spread to
see: that side's variance is the bootstrap's as is (within-run noise only), and `method` says so.

Per-round figures (throughput, memory p95, CPU ms per request) have one value per round:
`scalar_change` gives the ratio of geometric means with Welch's t interval on the logs
(Welch-Satterthwaite degrees of freedom). The t quantile is inverted here from the regularized
incomplete beta function, as scipy is not a dependency.

The verdict is criterion.rs's rule: regressed only when the whole interval lies beyond the
threshold in the worse direction, improved when it lies wholly beyond it in the better one.

Speed: SPEED_NOTE
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

MetricVerdict = Literal["regressed", "improved", "unchanged", "unavailable"]

_CHUNK_DRAWS = 250_000
"""Requests drawn per chunk of resamples: keeps the count arrays near the CPU caches (8 times
smaller chunks halved the time)."""


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


@dataclass(frozen=True)
class _Side:
    """One side's requests pooled in round order, with each request's rank by latency."""

    sorted_latencies: np.ndarray
    rank: np.ndarray
    """Where each pooled request sits in `sorted_latencies` (int32)."""
    failed_ranks: np.ndarray
    """The ranks of the failed requests."""
    offsets: np.ndarray
    """Where each round starts in the pool."""
    sizes: np.ndarray


@dataclass(frozen=True)
class _Context:
    """What every change of one compare shares."""

    method: str
    rounds: tuple[int, int]
    """Rounds with requests: base, head."""
    confidence: float


@dataclass(frozen=True)
class _Boot:
    """A side's bootstrap distribution: percentiles (resamples x percentiles), failed fraction."""

    percentiles: np.ndarray
    rate: np.ndarray


def percentile_changes(
    base: RequestRounds,
    head: RequestRounds,
    percentiles: Sequence[float],
    *,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[dict[float, Change], Change]:
    """Relative change of each latency percentile (nearest-rank, numpy method="inverted_cdf", as
    the rest of loadgate), and the absolute change of the error rate, from the same resamples."""
    _check_confidence(confidence)
    quantiles = np.asarray(percentiles, dtype=float) / 100
    if quantiles.ndim != 1 or not np.all((quantiles >= 0) & (quantiles <= 1)):
        raise ValueError(f"percentiles must lie between 0 and 100, got {list(percentiles)}")
    base_side, head_side = _side(base, "base"), _side(head, "head")
    if base_side is None or head_side is None:
        empty = [n for n, s in (("base", base_side), ("head", head_side)) if s is None]
        method = f"no requests on {' and '.join(empty)}"
        none = Change(None, None, "relative", None, None, None, method)
        rate = Change(None, None, "absolute", None, None, None, method)
        return dict.fromkeys(percentiles, none), rate
    rounds = (base_side.sizes.size, head_side.sizes.size)
    ctx = _Context(_bootstrap_method(resamples, *rounds), rounds, confidence)
    boots: tuple[_Boot, _Boot] | None = None
    if resamples >= 1:
        generators = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2)]
        boots = (
            _resample(base_side, quantiles, resamples, generators[0]),
            _resample(head_side, quantiles, resamples, generators[1]),
        )
    base_points = _percentiles_at(base_side.sorted_latencies, quantiles)
    head_points = _percentiles_at(head_side.sorted_latencies, quantiles)
    changes = {
        q: _relative_change(
            (float(base_points[i]), float(head_points[i])),
            None if boots is None else (boots[0].percentiles[:, i], boots[1].percentiles[:, i]),
            ctx,
        )
        for i, q in enumerate(percentiles)
    }
    rates = None if boots is None else (boots[0].rate, boots[1].rate)
    return changes, _absolute_change((_rate(base_side), _rate(head_side)), rates, ctx)


def _side(rounds: RequestRounds, name: str) -> _Side | None:
    """Pool one side's rounds (those with requests); None when no round has one."""
    if len(rounds.latencies) != len(rounds.failed):
        raise ValueError(
            f"{name}: {len(rounds.latencies)} rounds of latencies "
            f"but {len(rounds.failed)} of failed flags"
        )
    latencies, failed = [], []
    for i, (lat, fail) in enumerate(zip(rounds.latencies, rounds.failed, strict=True)):
        lat_a, fail_a = np.asarray(lat, dtype=float).ravel(), np.asarray(fail, dtype=bool).ravel()
        if lat_a.shape != fail_a.shape:
            raise ValueError(
                f"{name} round {i + 1}: {lat_a.size} latencies but {fail_a.size} failed flags"
            )
        if not np.all(np.isfinite(lat_a)):
            raise ValueError(f"{name} round {i + 1}: a latency is not a finite number")
        if lat_a.size:
            latencies.append(lat_a)
            failed.append(fail_a)
    if not latencies:
        return None
    sizes = np.array([a.size for a in latencies], dtype=np.int64)
    pooled = np.concatenate(latencies)
    order = np.argsort(pooled, kind="stable")
    rank = np.empty(order.size, dtype=np.int32)
    rank[order] = np.arange(order.size, dtype=np.int32)
    return _Side(
        sorted_latencies=pooled[order],
        rank=rank,
        failed_ranks=np.nonzero(np.concatenate(failed)[order])[0],
        offsets=np.concatenate(([0], np.cumsum(sizes)[:-1])),
        sizes=sizes,
    )


def _rate(side: _Side) -> float:
    return side.failed_ranks.size / side.rank.size


def _bootstrap_method(resamples: int, base_rounds: int, head_rounds: int) -> str:
    if resamples < 1:
        return "no resamples: point estimate only"
    method = (
        f"two-stage bootstrap, {resamples:,} resamples, {base_rounds} + {head_rounds} rounds, "
        "Welch t on its variance x R/(R-1)"
    )
    if min(base_rounds, head_rounds) == 1:
        method += "; one round on a side: only the noise within that run"
    return method


def _rank_index(counts: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """0-based index of the nearest-rank percentile in n sorted values, for each n in `counts`
    (rows) and each quantile (columns): numpy's `inverted_cdf` arithmetic, to the last ulp."""
    virtual = counts[:, None] * quantiles[None, :] - 1
    below = np.floor(virtual)
    index = np.where(virtual - below == 0, below, below + 1).astype(np.int64)
    return np.asarray(np.maximum(index, 0), dtype=np.int64)


def _percentiles_at(sorted_values: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    index = _rank_index(np.array([sorted_values.size], dtype=float), quantiles)[0]
    return np.asarray(sorted_values[index], dtype=float)


def _resample(
    side: _Side, quantiles: np.ndarray, resamples: int, rng: np.random.Generator
) -> _Boot:
    """The two-stage bootstrap of one side, in chunks of resamples."""
    rounds = side.sizes.size
    chunk = max(1, _CHUNK_DRAWS // int(side.sizes.sum()))
    percentiles = np.empty((resamples, quantiles.size))
    rate = np.empty(resamples)
    for start in range(0, resamples, chunk):
        stop = min(resamples, start + chunk)
        picked = rng.integers(0, rounds, size=(stop - start, rounds))
        percentiles[start:stop], rate[start:stop] = _resample_chunk(side, quantiles, picked, rng)
    return _Boot(percentiles=percentiles, rate=rate)


def _resample_chunk(
    side: _Side, quantiles: np.ndarray, picked: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """`picked[b]` holds the rounds drawn for resample b. Each round's requests are drawn with a
    scalar bound (several times faster than per-element bounds), counted by latency rank, and a
    percentile is found by a search in the cumulative counts of its resample."""
    count, pool = picked.shape[0], side.rank.size
    keys = []
    for r in range(side.sizes.size):
        rows = np.nonzero(picked == r)[0].astype(np.int32)
        if rows.size == 0:
            continue
        start, size = int(side.offsets[r]), int(side.sizes[r])
        drawn = rng.integers(0, size, size=(rows.size, size), dtype=np.int32)
        keys.append(
            (rows[:, None] * np.int32(pool) + side.rank[start : start + size][drawn]).ravel()
        )
    counts = np.bincount(np.concatenate(keys), minlength=count * pool).reshape(count, pool)
    failures = counts[:, side.failed_ranks].sum(axis=1)
    totals = side.sizes[picked].sum(axis=1)
    cumulative = np.cumsum(counts, axis=1, out=counts)
    # Rows laid end to end stay sorted once row b is lifted by b x (largest total + 1).
    lift = np.arange(count, dtype=np.int64) * (int(totals.max()) + 1)
    wanted = _rank_index(totals.astype(float), quantiles) + 1 + lift[:, None]
    position = np.searchsorted((cumulative + lift[:, None]).ravel(), wanted.ravel())
    position = position.reshape(wanted.shape) - (np.arange(count) * pool)[:, None]
    return side.sorted_latencies[position], failures / totals


def _relative_change(
    points: tuple[float, float], boots: tuple[np.ndarray, np.ndarray] | None, ctx: _Context
) -> Change:
    base, head = points
    if base <= 0:
        return Change(base, head, "relative", None, None, None, f"base is {base:g}: no ratio")
    change = head / base - 1
    if boots is None:
        return Change(base, head, "relative", change, None, None, ctx.method)
    if head <= 0 or np.any(boots[0] <= 0) or np.any(boots[1] <= 0):
        why = "a resampled percentile is 0: point estimate only"
        return Change(base, head, "relative", change, None, None, why)
    parts = [_bootstrap_part(np.log(b), r) for b, r in zip(boots, ctx.rounds, strict=True)]
    half = _half_width(parts, ctx.confidence)
    centre = math.log(head / base)
    low, high = math.expm1(centre - half), math.expm1(centre + half)
    return Change(base, head, "relative", change, low, high, ctx.method)


def _absolute_change(
    points: tuple[float, float], boots: tuple[np.ndarray, np.ndarray] | None, ctx: _Context
) -> Change:
    base, head = points
    change = head - base
    if boots is None:
        return Change(base, head, "absolute", change, None, None, ctx.method)
    parts = [_bootstrap_part(b, r) for b, r in zip(boots, ctx.rounds, strict=True)]
    half = _half_width(parts, ctx.confidence)
    return Change(base, head, "absolute", change, change - half, change + half, ctx.method)


def _bootstrap_part(values: np.ndarray, rounds: int) -> tuple[float, float]:
    """One side's variance of the estimate and its degrees of freedom: the bootstrap variance
    times R / (R - 1), which restores the between-round part resampling R of R rounds loses;
    R - 1 degrees of freedom, as that part dominates. One round: within-run variance, as is."""
    variance = float(np.var(values))
    if rounds < 2:
        return variance, math.inf
    return variance * rounds / (rounds - 1), float(rounds - 1)


def _half_width(parts: Sequence[tuple[float, float]], confidence: float) -> float:
    """Half the width of Welch's t interval from each side's (variance, degrees of freedom),
    with the Welch-Satterthwaite degrees of freedom."""
    variance = sum(v for v, _ in parts)
    if variance <= 0:
        return 0.0
    spread = sum(v * v / df for v, df in parts if math.isfinite(df))
    df = variance * variance / spread if spread > 0 else math.inf
    return t_quantile(1 - (1 - confidence) / 2, df) * math.sqrt(variance)


def _check_confidence(confidence: float) -> None:
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
    _check_confidence(confidence)
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
    half = _half_width(parts, confidence)
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
    half = _half_width(parts, confidence)
    method = f"ratio of means (a value <= 0), delta-method Welch t, {rounds}"
    return Change(base, head, "relative", change, change - half, change + half, method)


def _mean_part(values: np.ndarray) -> tuple[float, float]:
    """The variance of a mean of rounds and its degrees of freedom."""
    return float(values.var(ddof=1)) / values.size, float(values.size - 1)


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


def t_quantile(p: float, df: float) -> float:
    """The p quantile of Student's t with `df` degrees of freedom (df may be fractional, as
    Welch-Satterthwaite gives, or infinite: the normal quantile), by bisection of the cdf."""
    if not 0 < p < 1 or not df > 0:
        raise ValueError(f"t quantile needs 0 < p < 1 and df > 0, got p={p}, df={df}")
    if p < 0.5:
        return -t_quantile(1 - p, df)
    cdf = _normal_cdf if math.isinf(df) else lambda t: _t_cdf(t, df)
    high = 1.0
    while cdf(high) < p:
        high *= 2
    low = 0.0
    for _ in range(100):
        middle = (low + high) / 2
        low, high = (middle, high) if cdf(middle) < p else (low, middle)
    return (low + high) / 2


def _normal_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2))


def _t_cdf(t: float, df: float) -> float:
    """P(T <= t) for t >= 0: 1 - I_x(df/2, 1/2) / 2 with x = df / (df + t²)."""
    return 1 - 0.5 * _regularized_beta(df / (df + t * t), df / 2, 0.5)


def _regularized_beta(x: float, a: float, b: float) -> float:
    """I_x(a, b) by its continued fraction (Numerical Recipes, 3rd ed., §6.4), on the side of
    x where the fraction converges fast."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1) / (a + b + 2):
        return front * _beta_fraction(x, a, b) / a
    return 1 - front * _beta_fraction(1 - x, b, a) / b


def _beta_fraction(x: float, a: float, b: float) -> float:
    """The continued fraction of the incomplete beta function, by the modified Lentz method."""
    tiny = 1e-300

    def guard(value: float) -> float:
        return tiny if abs(value) < tiny else value

    c, d = 1.0, 1 / guard(1 - (a + b) * x / (a + 1))
    result = d
    for m in range(1, 1000):
        even = m * (b - m) * x / ((a - 1 + 2 * m) * (a + 2 * m))
        odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 1 + 2 * m))
        for step in (even, odd):
            d = 1 / guard(1 + step * d)
            c = guard(1 + step / c)
            result *= d * c
        if abs(d * c - 1) < 1e-15:
            break
    return result
