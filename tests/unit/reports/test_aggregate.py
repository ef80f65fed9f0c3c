"""Statistics from raw samples: exact percentiles, timelines, memory and CPU."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reports import aggregate


def requests_frame(
    latencies: list[float], errors: list[str] | None = None, t0: float = 1000.0
) -> pd.DataFrame:
    n = len(latencies)
    return pd.DataFrame(
        {
            "start": [t0 + i * 0.1 for i in range(n)],
            "latency_ms": latencies,
            "name": ["/v1/infer"] * n,
            "status": [200] * n,
            "error": errors or [""] * n,
            "bytes": [10] * n,
        }
    )


def test_percentiles_are_nearest_rank_on_known_data() -> None:
    """For 1..100 ms, p50 is 50, p95 is 95, p99 is 99: observed values, not interpolations."""
    stats = aggregate.latency_stats(requests_frame([float(v) for v in range(100, 0, -1)]))
    assert (stats.p50_ms, stats.p90_ms, stats.p95_ms, stats.p99_ms, stats.max_ms) == (
        50,
        90,
        95,
        99,
        100,
    )
    assert stats.count == 100 and stats.mean_ms == pytest.approx(50.5)


def test_one_slow_request_in_a_hundred_shows_in_p99_only() -> None:
    """A single 5 s stall among 1 ms requests is the max, above p99 = 1 ms at n=101."""
    stats = aggregate.latency_stats(requests_frame([1.0] * 100 + [5000.0]))
    assert stats.p99_ms == 1.0 and stats.max_ms == 5000.0
    stats = aggregate.latency_stats(requests_frame([1.0] * 98 + [5000.0] * 2))
    assert stats.p99_ms == 5000.0


def test_error_stats_group_by_kind() -> None:
    """Errors are counted by kind and as a share of all requests."""
    errors = aggregate.error_stats(
        requests_frame([1, 1, 1, 1], ["", "http_502", "http_502", "ReadTimeout"])
    )
    assert errors.total == 3 and errors.rate == 0.75
    assert errors.by_kind == {"http_502": 2, "ReadTimeout": 1}


def test_timeline_buckets_by_completion_second() -> None:
    """Each second holds the requests that completed in it, with their percentiles."""
    frame = requests_frame([10.0] * 10 + [20.0] * 10)  # 0.1 s apart: two seconds of traffic
    points = aggregate.timeline(frame, load_started_at=1000.0)
    assert [p.requests for p in points] == [10, 10]
    assert points[0].p95_ms == 10.0 and points[1].p95_ms == 20.0


def test_memory_and_cpu_from_resource_samples() -> None:
    """Working set percentiles under load, idle memory before it, CPU from counter deltas."""
    rows = [(float(t), 100 + t, 200, int(t * 0.5e9), 0, 10, 4, 2) for t in range(11)]
    frame = aggregate.resource_frame(rows)
    memory = aggregate.memory_stats(
        frame, load_started_at=2.0, source="cgroup-v1", limit_bytes=1000
    )
    assert memory is not None
    assert memory.idle_bytes == 100  # median of t=0,1 → 100.5 → int
    assert memory.max_bytes == 110 and memory.samples == 9 and memory.rate_hz == pytest.approx(1.0)
    cpu = aggregate.cpu_stats(frame, load_started_at=2.0, limit=1.0)
    assert cpu is not None and cpu.mean_cores == pytest.approx(0.5)


def test_percentile_matches_numpy_inverted_cdf() -> None:
    """The helper is numpy's inverted-CDF percentile on random data."""
    values = np.random.default_rng(3).lognormal(3, 1, 1000)
    assert aggregate.percentile(values, 99) == float(
        np.percentile(values, 99, method="inverted_cdf")
    )


def test_a_distribution_keeps_a_latency_just_below_zero() -> None:
    """A request cut by a SIGTERM can be recorded at -0.3 ms: the distribution holds it, not a
    validation error that loses the whole result (seen in the shutdown scenario)."""
    points = aggregate.latency_distribution(np.array([-0.286, 5.0, 7.0, 9.0]))
    assert points[0].percentile == 0 and points[0].latency_ms == -0.286
    assert points[-1].latency_ms == 9.0
