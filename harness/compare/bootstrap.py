"""The two-stage bootstrap of `loadgate compare`'s latency percentiles and error rate (the
method and its references are in `harness.compare.stats`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from harness.compare.stats import Change, RequestRounds, check_confidence, variance
from harness.compare.student_t import welch_half_width

_CHUNK_CELLS = 500_000
"""Round-by-bin cells per chunk of resamples: bounds the memory of the multinomial draws."""


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
    check_confidence(confidence)
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
    half = welch_half_width(parts, ctx.confidence)
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
    half = welch_half_width(parts, ctx.confidence)
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
    total, within = variance(two_stage), variance(kept)
    if rounds < 2:
        return total, math.inf
    return max(rounds * (total - within) / (rounds - 1), within), float(rounds - 1)
