"""Pure pandas: the figures scenarios exist to find, from the raw rows of a run.

Steps and phases (a ramp's stages, the time before / during / after a fault), growth per 10k
requests (a leak is a slope, not a high value), streaming figures (time to first token,
inter-token latency, tokens/s, goodput), and the shutdown accounting of in-flight requests.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from reports.aggregate import percentile
from reports.result import StepStats, StreamStats

WARM_UP_SHARE = 0.2
"""Growth slopes skip this first share of the load (pools and caches fill up, then hold)."""


def _ends(requests: pd.DataFrame) -> pd.Series:
    return requests["start"] + requests["latency_ms"] / 1000


def step_stats(
    requests: pd.DataFrame,
    name: str,
    window: tuple[float, float],
    load_started_at: float,
    target_rps: float | None = None,
) -> StepStats:
    """Requests *sent* (or meant to be sent) in [start_s, end_s) seconds into the load."""
    start_s, end_s = window
    offset = requests["start"] - load_started_at
    chosen = requests[(offset >= start_s) & (offset < end_s)]
    latencies = chosen["latency_ms"].to_numpy(dtype=float)
    lags = chosen["lag_ms"].dropna().to_numpy(dtype=float)
    span = end_s - start_s
    count = len(chosen)
    failed = int((chosen["error"] != "").sum())
    return StepStats(
        name=name,
        start_s=round(start_s, 3),
        end_s=round(end_s, 3),
        target_rps=target_rps,
        requests=count,
        throughput_rps=count / span if span > 0 else 0.0,
        error_rate=failed / count if count else 0.0,
        p50_ms=percentile(latencies, 50) if count else None,
        p95_ms=percentile(latencies, 95) if count else None,
        p99_ms=percentile(latencies, 99) if count else None,
        lag_p99_ms=percentile(lags, 99) if lags.size else None,
    )


def stage_steps(
    requests: pd.DataFrame, stages: Sequence[tuple[float, float]], load_started_at: float
) -> list[StepStats]:
    """One row per open-model stage `(duration_s, rate_rps)`."""
    steps, start = [], 0.0
    for index, (duration, rate) in enumerate(stages):
        name = f"step {index + 1}: {rate:g} req/s"
        steps.append(step_stats(requests, name, (start, start + duration), load_started_at, rate))
        start += duration
    return steps


def growth_per_10k(
    resources: pd.DataFrame, requests: pd.DataFrame, column: str, load_started_at: float
) -> float | None:
    """Least-squares slope of `column` against requests completed, per 10,000 requests, after
    the warm-up share of the load. None when there are too few points to fit."""
    if column not in resources or requests.empty:
        return None
    ends = np.sort(_ends(requests).to_numpy(dtype=float))
    frame = resources[resources["t"] >= load_started_at].dropna(subset=[column])
    frame = frame[frame["t"] <= ends[-1]]
    if len(frame) < 10:
        return None
    completed = np.searchsorted(ends, frame["t"].to_numpy(dtype=float))
    keep = completed >= WARM_UP_SHARE * len(ends)
    x, y = completed[keep], frame[column].to_numpy(dtype=float)[keep]
    if len(x) < 5 or np.ptp(x) == 0:
        return None
    slope = float(np.polyfit(x, y, 1)[0])
    return slope * 10_000


def stream_stats(requests: pd.DataFrame) -> StreamStats | None:
    streams = requests[(requests["error"] == "") & requests["ttft_ms"].notna()]
    if streams.empty:
        return None
    ttft = streams["ttft_ms"].to_numpy(dtype=float)
    tokens = streams["tokens"].to_numpy(dtype=float)
    generating_ms = streams["latency_ms"].to_numpy(dtype=float) - ttft
    several = tokens > 1
    itl = generating_ms[several] / (tokens[several] - 1)
    rates = (tokens[several] - 1) / (generating_ms[several] / 1000)
    rates = rates[np.isfinite(rates)]
    return StreamStats(
        count=len(streams),
        ttft_p50_ms=percentile(ttft, 50),
        ttft_p95_ms=percentile(ttft, 95),
        ttft_p99_ms=percentile(ttft, 99),
        itl_p50_ms=percentile(itl, 50) if itl.size else None,
        itl_p95_ms=percentile(itl, 95) if itl.size else None,
        tokens_per_s_p50=percentile(rates, 50) if rates.size else None,
    )


def goodput(requests: pd.DataFrame, ttft_ms: float, latency_ms: float) -> float | None:
    """Share of all requests that succeeded within the SLO (first token too, for streams)."""
    if requests.empty:
        return None
    good = (requests["error"] == "") & (requests["latency_ms"] <= latency_ms)
    good &= requests["ttft_ms"].isna() | (requests["ttft_ms"] <= ttft_ms)
    return float(good.mean())


def in_flight_at(requests: pd.DataFrame, moment: float) -> pd.DataFrame:
    """Requests sent before `moment` and not finished by then."""
    return requests[(requests["start"] < moment) & (_ends(requests) > moment)]


def unexpected_statuses(requests: pd.DataFrame, expected: set[int]) -> int:
    """Answers outside `expected` (no answer at all counts as unexpected)."""
    return int((~requests["status"].isin(list(expected))).sum())


def rejected_p99(requests: pd.DataFrame, status: int = 503) -> float | None:
    rejected = requests[requests["status"] == status]["latency_ms"].to_numpy(dtype=float)
    return percentile(rejected, 99) if rejected.size else None


def served_rates(
    requests: pd.DataFrame,
    stages: Sequence[tuple[float, float]],
    window: tuple[float, float],
    load_started_at: float,
) -> tuple[float, float] | None:
    """(offered, achieved) request rates over `window` (seconds into the load).

    Offered: what the schedule `stages` (`(duration_s, rate_rps)`) asked for in the window.
    Achieved: requests actually *sent* in the window (intended time + schedule lag) that got an
    answer, whatever its status (an error answer is judged by the error budgets). A closed-model
    generator that waits for a slow gateway sends less than it was asked to: that shortfall is
    the gateway's, and it shows here. None when the window is shorter than a second.
    """
    lo, hi = window
    if hi - lo < 1.0:
        return None
    offered, start = 0.0, 0.0
    for duration, rate in stages:
        overlap = min(hi, start + duration) - max(lo, start)
        offered += rate * max(0.0, overlap)
        start += duration
    sent = requests["start"] + requests["lag_ms"].fillna(0.0) / 1000 - load_started_at
    answered = (sent >= lo) & (sent < hi) & (requests["status"] > 0)
    span = hi - lo
    return offered / span, float(answered.sum()) / span
