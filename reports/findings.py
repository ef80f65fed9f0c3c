"""Pure pandas: the figures scenarios exist to find, from the raw rows of a run.

Steps and phases (a ramp's stages, the time before / during / after a fault), growth per 10k
requests (a leak is a slope, not a high value), streaming figures (time to first token,
inter-token latency, tokens/s, goodput), and the shutdown accounting of in-flight requests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from reports.aggregate import percentile
from reports.result import StepStats, StreamStats

MIB = 1024 * 1024
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


STEP_LATENCY_LIMITS = (
    ("p50", "latency_p50_ms"),
    ("p95", "latency_p95_ms"),
    ("p99", "latency_p99_ms"),
)


def step_breach(step: StepStats, limits: Mapping[str, float | None]) -> str | None:
    """Which latency or error limit (`latency_p95_ms`, `error_rate`...) the step broke, if any."""
    error_limit = limits.get("error_rate")
    if error_limit is not None and step.error_rate > error_limit:
        return f"error rate {step.error_rate:.2%} > {error_limit:g}"
    for name, budget in STEP_LATENCY_LIMITS:
        limit, value = limits.get(budget), getattr(step, f"{name}_ms")
        if limit is not None and (value is None or value > limit):
            shown = "none" if value is None else f"{value:.0f} ms"
            return f"{name} {shown} > {limit:g} ms"
    return None


def judge_steps(steps: list[StepStats], limits: Mapping[str, float | None]) -> list[StepStats]:
    """Mark each step against the latency and error limits; a step not reached is n/a."""
    return [
        step.model_copy(
            update={"passed": None if step.requests == 0 else step_breach(step, limits) is None}
        )
        for step in steps
    ]


def knee(steps: Sequence[StepStats]) -> float | None:
    """The highest target rate of the steps before the first one that broke a budget."""
    best = None
    for step in steps:
        if not step.passed:
            break
        best = step.target_rps
    return best


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
