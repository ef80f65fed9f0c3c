"""Fixtures shared by the unit tests of every package: a small, complete RunResult."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from reports.result import (
    BudgetVerdict,
    ContainerOutcome,
    CpuStats,
    ErrorStats,
    ImageRecord,
    LatencyStats,
    MemoryStats,
    ResourcePoint,
    RunResult,
    TimePoint,
    Verdict,
)

MIB = 1024 * 1024


def sample_result(verdict: Verdict = "pass") -> RunResult:
    """A smoke run of 600 requests, 3 errors, memory and CPU sampled, two budgets judged."""
    return RunResult(
        run_id="20260101-000000-abcd",
        scenario="smoke",
        target_url="http://127.0.0.1:32768",
        started_at=1_767_225_600.0,
        load_started_at=1_767_225_605.0,
        finished_at=1_767_225_625.0,
        load_duration_s=15.0,
        users=8,
        target_rps=40.0,
        throughput_rps=39.5,
        latency=LatencyStats(
            count=600, mean_ms=55, p50_ms=50, p90_ms=90, p95_ms=110, p99_ms=150, max_ms=210
        ),
        errors=ErrorStats(total=3, rate=0.005, by_kind={"http_502": 3}),
        memory=MemoryStats(
            source="cgroup-v1",
            samples=75,
            rate_hz=5.0,
            idle_bytes=55 * MIB,
            p50_bytes=58 * MIB,
            p95_bytes=60 * MIB,
            max_bytes=64 * MIB,
            limit_bytes=512 * MIB,
        ),
        cpu=CpuStats(
            mean_cores=0.2, p95_cores=0.3, max_cores=0.4, throttled_s=0.0, limit_cores=1.0
        ),
        images={
            "gateway": ImageRecord(
                name="loadgate/gateway:latest", id="sha256:" + "a" * 64, size_bytes=200 * MIB
            )
        },
        limits={
            "cpus": 1.0,
            "memory_bytes": 512 * MIB,
            "reserved_cpus": None,
            "reserved_memory_bytes": None,
        },
        container=ContainerOutcome(
            restarts=0, oom_killed=False, exit_code=None, token_in_logs=False
        ),
        timeline=[
            TimePoint(
                t=float(t),
                requests=40,
                errors=1 if t == 3 else 0,
                p50_ms=50,
                p95_ms=100 + t,
                p99_ms=150,
            )
            for t in range(15)
        ],
        resources=[
            ResourcePoint(t=t / 5, memory_bytes=(55 + t % 5) * MIB, cpu_cores=0.2)
            for t in range(75)
        ],
        budgets=[
            BudgetVerdict(name="latency_p95_ms", limit=250, observed=110, unit="ms", passed=True),
            BudgetVerdict(
                name="memory_p95_mb", limit=40, observed=60, unit="MiB", passed=verdict == "pass"
            ),
        ],
        verdict=verdict,
        files={"samples": "samples.csv"},
    )


MakeResult = Callable[..., RunResult]
"""`make_result(verdict="pass")`: `sample_result` as a fixture."""


@pytest.fixture
def make_result() -> MakeResult:
    """Builds the sample RunResult with the verdict asked for."""
    return sample_result
