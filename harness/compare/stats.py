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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

MetricVerdict = Literal["regressed", "improved", "unchanged", "unavailable"]

_CHUNK_CELLS = 500_000
"""Round-by-bin cells per chunk of resamples: bounds the memory of the multinomial draws."""


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
    """One side's requests ranked by latency, and where each round's requests fall among `bins`
    consecutive ranks (so a resample can be drawn bin by bin)."""

    sorted_latencies: np.ndarray
    sizes: np.ndarray
    """Requests per round (rounds without requests are left out)."""
    failures: np.ndarray
    """Failed requests per round."""
    edges: np.ndarray
    """Bin g holds the ranks edges[g] <= rank < edges[g + 1]."""
    shares: np.ndarray
    """(rounds, bins): the fraction of a round's requests in each bin."""
    in_bin: np.ndarray
    """(rounds, bins): how many of a round's requests are in each bin."""
    first: np.ndarray
    """(rounds, bins): where a round's requests in a bin start in `members`."""
    members: np.ndarray
    """The ranks of every round's requests, round after round, ascending within a round."""


@dataclass(frozen=True)
class _Context:
    """What every change of one compare shares."""

    method: str
    rounds: tuple[int, int]
    """Rounds with requests: base, head."""
    confidence: float


@dataclass(frozen=True)
class _Boot:
    """A side's bootstrap distributions: percentiles (resamples x percentiles) and failed
    fraction, of the two-stage draw and of the draw within its rounds as they are."""

    percentiles: np.ndarray
    rate: np.ndarray
    within_percentiles: np.ndarray
    within_rate: np.ndarray


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
            None
            if boots is None
            else [(b.percentiles[:, i], b.within_percentiles[:, i]) for b in boots],
            ctx,
        )
        for i, q in enumerate(percentiles)
    }
    rates = None if boots is None else [(b.rate, b.within_rate) for b in boots]
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
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.arange(order.size)
    bins = max(1, int(math.sqrt(pooled.size) / 2))
    edges = np.unique(np.round(np.linspace(0, pooled.size, bins + 1)).astype(np.int64))
    members = np.concatenate([np.sort(r) for r in np.split(rank, np.cumsum(sizes)[:-1])])
    round_of = np.repeat(np.arange(sizes.size), sizes)
    bin_of = np.searchsorted(edges, members, side="right") - 1
    in_bin = np.zeros((sizes.size, edges.size - 1), dtype=np.int64)
    np.add.at(in_bin, (round_of, bin_of), 1)
    starts = np.cumsum(in_bin, axis=1) - in_bin + (np.cumsum(sizes) - sizes)[:, None]
    return _Side(
        sorted_latencies=pooled[order],
        sizes=sizes,
        failures=np.array([f.sum() for f in failed], dtype=np.int64),
        edges=edges,
        shares=in_bin / sizes[:, None],
        in_bin=in_bin,
        first=starts,
        members=members,
    )


def _rate(side: _Side) -> float:
    return float(side.failures.sum() / side.sizes.sum())


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
    """The two-stage bootstrap of one side, and a smaller one that keeps every round once."""
    rounds = side.sizes.size
    within = max(resamples // 4, min(resamples, 250))
    picked = np.concatenate(
        (
            rng.integers(0, rounds, size=(resamples, rounds)),
            np.tile(np.arange(rounds), (within, 1)),
        )
    )
    percentiles, rate = _draw(side, quantiles, picked, rng)
    return _Boot(
        percentiles[:resamples], rate[:resamples], percentiles[resamples:], rate[resamples:]
    )


def _draw(
    side: _Side, quantiles: np.ndarray, picked: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Percentiles and failed fraction of each resample; `picked[b]` holds its rounds."""
    chunk = max(1, _CHUNK_CELLS // side.shares.size)
    parts = [
        _resample_chunk(side, quantiles, picked[start : start + chunk], rng)
        for start in range(0, picked.shape[0], chunk)
    ]
    return np.concatenate([p for p, _ in parts]), np.concatenate([r for _, r in parts])


def _resample_chunk(
    side: _Side, quantiles: np.ndarray, picked: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Draw every picked round's requests with replacement, in two steps that give the same
    distribution as drawing them one by one: how many fall in each bin of ranks (a multinomial),
    then, only in the bin that holds a wanted rank, which requests (uniform among the round's
    requests in that bin). The failed count of a drawn round is its binomial."""
    sizes = side.sizes[picked]
    totals = sizes.sum(axis=1)
    per_bin = rng.multinomial(sizes, side.shares[picked])  # resample, slot, bin
    cumulative = np.cumsum(per_bin.sum(axis=1), axis=1)  # resample, bin
    wanted = _rank_index(totals.astype(float), quantiles) + 1  # resample, percentile
    bin_ = (cumulative[:, None, :] < wanted[:, :, None]).sum(axis=2)
    before = np.take_along_axis(cumulative, np.maximum(bin_ - 1, 0), axis=1)
    inside = wanted - np.where(bin_ > 0, before, 0)
    offset = _ranks_in_bin(side, picked, per_bin, bin_, inside, rng)
    failed = rng.binomial(sizes, side.failures[picked] / side.sizes[picked]).sum(axis=1)
    return side.sorted_latencies[side.edges[bin_] + offset], failed / totals


def _ranks_in_bin(
    side: _Side,
    picked: np.ndarray,
    per_bin: np.ndarray,
    bin_: np.ndarray,
    inside: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """For each resample and percentile, the `inside`-th smallest request drawn into bin `bin_`,
    as an offset from the bin's first rank: the bin's draws are made, counted by rank, and the
    rank is found by a search in the cumulative counts, rows laid end to end."""
    count, slots = picked.shape
    rows = np.arange(count)[:, None, None]
    chosen = bin_[:, :, None]  # resample, percentile, slot
    draws = per_bin[rows, np.arange(slots)[None, None, :], chosen].ravel()
    rounds = np.broadcast_to(picked[:, None, :], (count, bin_.shape[1], slots))
    start = np.repeat(side.first[rounds, chosen].ravel(), draws)
    span = np.repeat(side.in_bin[rounds, chosen].ravel(), draws)
    group = np.repeat(np.arange(draws.size) // slots, draws)
    member = side.members[start + (rng.random(start.size) * span).astype(np.int64)]
    width = int(np.diff(side.edges).max())
    offset = member - side.edges[bin_].ravel()[group]
    counts = np.bincount(group * width + offset, minlength=bin_.size * width)
    cumulative = np.cumsum(counts.reshape(bin_.size, width), axis=1)
    lift = np.arange(bin_.size) * (int(cumulative[:, -1].max(initial=0)) + 1)
    found = np.searchsorted((cumulative + lift[:, None]).ravel(), inside.ravel() + lift)
    return (found - np.arange(bin_.size) * width).reshape(bin_.shape)


def _relative_change(
    points: tuple[float, float], boots: list[tuple[np.ndarray, np.ndarray]] | None, ctx: _Context
) -> Change:
    base, head = points
    if base <= 0:
        return Change(base, head, "relative", None, None, None, f"base is {base:g}: no ratio")
    change = head / base - 1
    if boots is None:
        return Change(base, head, "relative", change, None, None, ctx.method)
    if head <= 0 or any(np.any(v <= 0) for pair in boots for v in pair):
        why = "a resampled percentile is 0: point estimate only"
        return Change(base, head, "relative", change, None, None, why)
    parts = [
        _bootstrap_part(np.log(two), np.log(kept), r)
        for (two, kept), r in zip(boots, ctx.rounds, strict=True)
    ]
    half = _half_width(parts, ctx.confidence)
    centre = math.log(head / base)
    low, high = math.expm1(centre - half), math.expm1(centre + half)
    return Change(base, head, "relative", change, low, high, ctx.method)


def _absolute_change(
    points: tuple[float, float], boots: list[tuple[np.ndarray, np.ndarray]] | None, ctx: _Context
) -> Change:
    base, head = points
    change = head - base
    if boots is None:
        return Change(base, head, "absolute", change, None, None, ctx.method)
    parts = [
        _bootstrap_part(two, kept, r) for (two, kept), r in zip(boots, ctx.rounds, strict=True)
    ]
    half = _half_width(parts, ctx.confidence)
    return Change(base, head, "absolute", change, change - half, change + half, ctx.method)


def _bootstrap_part(two_stage: np.ndarray, kept: np.ndarray, rounds: int) -> tuple[float, float]:
    """One side's variance of the estimate, and its degrees of freedom.

    For a statistic that is a mean, with between-round variance B and within-run variance W of
    the pooled estimate, the two-stage variance v2 is (R - 1) / R B + (2R - 1) / R W, and the
    draw within the rounds as they are gives W. So the side's variance B + W is
    R / (R - 1) (v2 - W), never less than W. It gets R - 1 degrees of freedom, as if the rounds
    dominated: Satterthwaite's split between B and W raised A/A false alarms to 7-12 % in the
    tests' simulations, this keeps them under 5 %. One round: the bootstrap's variance, the
    noise within that run only."""
    variance, within = _variance(two_stage), _variance(kept)
    if rounds < 2:
        return variance, math.inf
    return max(rounds * (variance - within) / (rounds - 1), within), float(rounds - 1)


def _variance(values: np.ndarray) -> float:
    """The variance, exactly 0 for equal values (np.var can leave a rounding residue)."""
    return float(np.var(values)) if np.ptp(values) > 0 else 0.0


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
    """The variance of a mean of rounds (sample variance / n) and its degrees of freedom."""
    return _variance(values) / (values.size - 1), float(values.size - 1)


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
    Welch-Satterthwaite gives, or infinite: the normal quantile): Newton's method on the cdf,
    kept inside a bracket that bisection narrows whenever a step would leave it."""
    if not 0 < p < 1 or not df > 0:
        raise ValueError(f"t quantile needs 0 < p < 1 and df > 0, got p={p}, df={df}")
    if p < 0.5:
        return -t_quantile(1 - p, df)
    cdf: Callable[[float], float] = _normal_cdf
    pdf: Callable[[float], float] = _normal_pdf
    if not math.isinf(df):
        cdf, pdf = (lambda t: _t_cdf(t, df)), (lambda t: _t_pdf(t, df))
    low, high = 0.0, 1.0
    while cdf(high) < p:
        low, high = high, high * 2
    t = (low + high) / 2
    for _ in range(200):
        error = cdf(t) - p
        low, high = (t, high) if error < 0 else (low, t)
        step = t - error / pdf(t)
        step = step if low < step < high else (low + high) / 2
        if abs(step - t) <= 1e-13 * max(1.0, t):
            return step
        t = step
    return t


def _normal_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2))


def _normal_pdf(x: float) -> float:
    return math.exp(-x * x / 2) / math.sqrt(2 * math.pi)


def _t_pdf(t: float, df: float) -> float:
    log_scale = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    return math.exp(log_scale - (df + 1) / 2 * math.log1p(t * t / df))


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
