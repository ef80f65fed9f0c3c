"""Scenario figures from raw rows: steps, knee, growth slopes, streams, shutdown accounting."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reports import findings
from reports.result import StepStats

T0 = 1000.0


def rows(
    starts: list[float],
    latency_ms: float | list[float] = 10.0,
    status: int | list[int] = 200,
    ttft_ms: float | None = None,
    tokens: float | None = None,
) -> pd.DataFrame:
    n = len(starts)
    statuses = status if isinstance(status, list) else [status] * n
    return pd.DataFrame(
        {
            "start": starts,
            "latency_ms": latency_ms if isinstance(latency_ms, list) else [latency_ms] * n,
            "name": ["/v1/infer"] * n,
            "status": statuses,
            "error": ["" if s == 200 else f"http_{s}" for s in statuses],
            "bytes": [10] * n,
            "lag_ms": [0.5] * n,
            "ttft_ms": [ttft_ms if ttft_ms is not None else np.nan] * n,
            "tokens": [tokens if tokens is not None else np.nan] * n,
        }
    )


def test_stage_steps_count_requests_by_intended_start() -> None:
    """Each stage holds the requests meant to be sent in it, at its own rate."""
    frame = rows([T0 + i / 10 for i in range(10)] + [T0 + 1 + i / 40 for i in range(40)])
    steps = findings.stage_steps(frame, [(1, 10), (1, 40)], T0)
    assert [s.requests for s in steps] == [10, 40]
    assert [s.throughput_rps for s in steps] == [10, 40]
    assert steps[1].name == "step 2: 40 req/s" and steps[1].lag_p99_ms == 0.5


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
    judged = findings.judge_steps(steps, {"latency_p95_ms": 250})
    assert [s.passed for s in judged] == [True, True, False, None]
    assert findings.knee(judged) == 200


def test_no_knee_when_the_first_step_breaks() -> None:
    """A ramp whose first step is already over budget has no knee."""
    judged = findings.judge_steps([step("a", 100, 900)], {"latency_p95_ms": 250})
    assert findings.knee(judged) is None


def resources(memory: list[float], t: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"t": t, "memory_bytes": memory, "own_fds": [20] * len(t)})


def test_a_leak_shows_as_a_slope_per_10k_requests() -> None:
    """1 KiB kept per request is ~9.8 MiB per 10k requests; a flat series is ~0."""
    starts = [T0 + i / 100 for i in range(6000)]  # 60 s at 100 req/s
    frame = rows(starts)
    t = [T0 + s for s in range(61)]
    leaking = resources([50e6 + 1024 * 100 * s for s in range(61)], t)
    slope = findings.growth_per_10k(leaking, frame, "memory_bytes", T0)
    assert slope is not None and slope / 2**20 == pytest.approx(9.77, rel=0.05)
    flat = findings.growth_per_10k(resources([50e6] * 61, t), frame, "own_fds", T0)
    assert flat == pytest.approx(0, abs=1e-6)


def test_too_few_points_give_no_slope() -> None:
    """A handful of samples is not a trend: unavailable, not zero."""
    frame = rows([T0 + i for i in range(5)])
    assert (
        findings.growth_per_10k(resources([1, 2], [T0, T0 + 1]), frame, "memory_bytes", T0) is None
    )


def test_stream_figures_from_first_token_and_token_counts() -> None:
    """TTFT from the rows; inter-token latency and tokens/s from the time after it."""
    frame = rows([T0, T0 + 1], latency_ms=[310.0, 310.0], ttft_ms=100.0, tokens=22)
    stats = findings.stream_stats(frame)
    assert stats is not None
    assert stats.ttft_p50_ms == 100
    assert stats.itl_p50_ms == pytest.approx(10)  # 210 ms over 21 gaps
    assert stats.tokens_per_s_p50 == pytest.approx(100)


def test_goodput_counts_requests_within_the_slo() -> None:
    """Failed, slow, or late-first-token requests are not good."""
    frame = rows([T0 + i for i in range(4)], latency_ms=[100.0, 3000.0, 100.0, 100.0])
    frame.loc[2, "error"] = "http_502"
    frame.loc[3, "ttft_ms"] = 900.0
    assert findings.goodput(frame, ttft_ms=500, latency_ms=2000) == 0.25


def test_in_flight_at_a_moment_are_sent_before_and_answered_after() -> None:
    """Only requests that straddle the moment are in flight."""
    frame = rows([T0, T0 + 1, T0 + 2], latency_ms=[500.0, 3000.0, 10.0])
    assert findings.in_flight_at(frame, T0 + 1.5)["start"].tolist() == [T0 + 1]


def test_unexpected_statuses_and_rejected_latency() -> None:
    """500s and missing answers are unexpected; rejected p99 is over the 503s only."""
    frame = rows([T0 + i for i in range(5)], [5.0, 6.0, 7.0, 300.0, 1.0], [200, 503, 503, 500, 0])
    assert findings.unexpected_statuses(frame, {200, 429, 502, 503, 504}) == 2
    assert findings.rejected_p99(frame) == 7.0
