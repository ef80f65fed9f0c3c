"""Scenario figures from raw rows: steps, growth slopes, streams, shutdown accounting, served
rates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reports import findings

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


def test_served_rates_count_answers_sent_in_the_window_against_the_schedule() -> None:
    """20 answered sends a second against 60 offered: a third of the load was served."""
    frame = rows([T0 + i / 20 for i in range(200)])
    offered, achieved = findings.served_rates(frame, [(10, 60)], (1, 9), T0) or (0, 0)
    assert offered == 60 and achieved == 20


def test_served_rates_leave_out_requests_that_got_no_answer() -> None:
    """A request without any answer (status 0) was not served; an error answer was."""
    frame = rows([T0 + i / 10 for i in range(100)], status=[0, 502] * 50)
    _, achieved = findings.served_rates(frame, [(10, 10)], (0, 10), T0) or (0, 0)
    assert achieved == 5


def test_served_rates_of_a_window_under_a_second_are_unknown() -> None:
    """Too short a window says nothing."""
    assert findings.served_rates(rows([T0]), [(1, 10)], (0.5, 1.0), T0) is None
