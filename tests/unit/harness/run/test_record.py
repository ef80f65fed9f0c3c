"""`build_result` on a hand-written samples.csv and resource samples: every statistic by hand."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from harness.run.record import RESOURCES_FILE, RunRecord, build_result
from harness.run.runner import GeneratorStats
from harness.stack.sampler import ResourceSample
from harness.stack.services import ResourceLimits
from harness.verdict.budgets import Budgets
from reports.result import ContainerOutcome
from scenarios.catalog import ClosedLoad, Scenario
from scenarios.samples import HEADER, row

T0 = 1_800_000_000.0
MIB = 1024 * 1024
UNPACED = Scenario("unit", "ten requests, no offered rate", ClosedLoad(1, 1, 0), duration_s=1.0)


def write_samples(path: Path) -> Path:
    """Ten requests 0.1 s apart taking 10, 20, ... 100 ms, 1 ms late; the 3rd and 7th got 502."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for i in range(10):
            status, error = (502, "http_502") if i in (2, 6) else (200, "")
            writer.writerow(row(T0 + i / 10, 10.0 * (i + 1), "/v1/infer", status, error, 5, 1.0))
    return path


def resource(t: float, memory_mib: int, cpu_s: float, throttled_s: float) -> ResourceSample:
    return ResourceSample(
        t=t,
        memory_bytes=memory_mib * MIB,
        memory_usage_bytes=memory_mib * MIB + MIB,
        cpu_ns=int(cpu_s * 1e9),
        throttled_ns=int(throttled_s * 1e9),
        open_fds=30,
        tcp_inbound=4,
        tcp_outbound=2,
    )


RESOURCES = [
    resource(T0 - 1.0, 40, 0.0, 0.0),  # idle, before the load
    resource(T0, 50, 0.5, 0.0),  # 0.5 cores over the idle second
    resource(T0 + 0.5, 60, 1.0, 0.1),  # 1.0 core
    resource(T0 + 1.0, 70, 1.25, 0.3),  # 0.5 cores
]


def record(tmp_path: Path, **changes: object) -> RunRecord:
    """A finished run of `UNPACED` whose load started at T0, with `RESOURCES` sampled."""
    values: dict[str, object] = {
        "run_id": "run-unit",
        "scenario": UNPACED,
        "target_url": "http://127.0.0.1:9",
        "started_at": T0 - 2,
        "finished_at": T0 + 2,
        "samples_file": write_samples(tmp_path / "samples.csv"),
        "resources": RESOURCES,
        "resource_source": "cgroup-v1",
        "images": None,
        "limits": ResourceLimits(cpus=1.5, memory_bytes=256 * MIB),
        "container": ContainerOutcome(
            restarts=0, oom_killed=False, exit_code=None, token_in_logs=False
        ),
        "load_started_at": T0,
    }
    values.update(changes)
    return RunRecord(**values)  # type: ignore[arg-type]


def test_latency_errors_and_throughput_come_from_the_rows(tmp_path: Path) -> None:
    """Nearest-rank percentiles of 10..100 ms, 2 errors in 10, 10 answers in the 1 s load."""
    result = build_result(record(tmp_path), None)
    latency = result.latency
    assert (latency.count, latency.mean_ms, latency.max_ms) == (10, 55.0, 100.0)
    assert (latency.p50_ms, latency.p90_ms, latency.p95_ms, latency.p99_ms) == (50, 90, 100, 100)
    assert result.service_latency is not None and result.service_latency.p50_ms == 49.0
    assert result.errors.total == 2 and result.errors.rate == 0.2
    assert result.errors.by_kind == {"http_502": 2}
    assert result.load_duration_s == pytest.approx(1.0)  # last answer ends at T0 + 0.9 + 0.1
    assert result.throughput_rps == pytest.approx(10.0)
    assert [(p.t, p.requests, p.errors) for p in result.timeline] == [(0.0, 9, 2), (1.0, 1, 0)]


def test_the_distribution_stops_at_what_ten_requests_resolve(tmp_path: Path) -> None:
    """With 10 requests only percentiles up to 90 and the maximum are shown."""
    result = build_result(record(tmp_path), None)
    points = {p.percentile: p.latency_ms for p in result.latency_distribution}
    assert list(points) == [0, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 100]
    assert (points[0], points[75], points[90], points[100]) == (10, 80, 90, 100)
    service = {p.percentile: p.latency_ms for p in result.service_latency_distribution}
    assert service[100] == 99.0


def test_memory_and_cpu_are_taken_under_load_with_the_idle_sample_apart(tmp_path: Path) -> None:
    """Idle 40 MiB before T0; 50/60/70 MiB and 0.5/1.0/0.5 cores under load; 0.3 s throttled."""
    result = build_result(record(tmp_path), None)
    memory, cpu = result.memory, result.cpu
    assert memory is not None and cpu is not None
    assert (memory.samples, memory.rate_hz, memory.source) == (3, 2.0, "cgroup-v1")
    assert memory.idle_bytes == 40 * MIB
    assert (memory.p50_bytes, memory.p95_bytes, memory.max_bytes) == (60 * MIB, 70 * MIB, 70 * MIB)
    assert memory.limit_bytes == 256 * MIB
    assert cpu.mean_cores == pytest.approx(2 / 3)
    assert (cpu.p95_cores, cpu.max_cores, cpu.limit_cores) == (1.0, 1.0, 1.5)
    assert cpu.throttled_s == pytest.approx(0.3)
    assert [p.t for p in result.resources] == [-1.0, 0.0, 0.5, 1.0]
    assert result.files == {"samples": "samples.csv", "resources": RESOURCES_FILE}
    with (tmp_path / RESOURCES_FILE).open() as handle:
        written = list(csv.DictReader(handle))
    assert [r["memory_bytes"] for r in written] == [str(m * MIB) for m in (40, 50, 60, 70)]


def test_a_run_without_resource_samples_has_no_memory_or_cpu(tmp_path: Path) -> None:
    """An external target: no resources.csv, memory and CPU unknown rather than zero."""
    result = build_result(record(tmp_path, resources=[]), None)
    assert result.memory is None and result.cpu is None and result.resources == []
    assert result.files == {"samples": "samples.csv"}
    assert not (tmp_path / RESOURCES_FILE).exists()


def test_without_a_load_start_the_first_request_starts_the_load(tmp_path: Path) -> None:
    """No recorded load start: the earliest `start` in the samples is used."""
    result = build_result(record(tmp_path, load_started_at=None, started_at=T0 - 30), None)
    assert result.load_started_at == T0 and result.load_duration_s == pytest.approx(1.0)


def test_the_generator_record_carries_the_schedule_lag(tmp_path: Path) -> None:
    """Lag percentiles come from the rows; counts and CPU from the generator's own stats."""
    stats = GeneratorStats("open", 1, 0.4, 1.0, 0.4, scheduled=10, sent=10, missed=0)
    generator = build_result(record(tmp_path, generator=stats), None).generator
    assert generator is not None
    assert (generator.model, generator.sent, generator.cpu_s) == ("open", 10, 0.4)
    assert (generator.lag_p50_ms, generator.lag_p99_ms, generator.lag_max_ms) == (1.0, 1.0, 1.0)


@pytest.mark.parametrize(
    ("budgets", "verdict", "failed"),
    [
        pytest.param(None, "no-budgets", [], id="no-budgets"),
        pytest.param(Budgets(latency_p95_ms=150, error_rate=0.25), "pass", [], id="within"),
        pytest.param(
            Budgets(latency_p95_ms=99, error_rate=0.25), "fail", ["latency_p95_ms"], id="p95-over"
        ),
        pytest.param(
            Budgets(memory_p95_mb=64, error_rate=0.1),
            "fail",
            ["error_rate", "memory_p95_mb"],
            id="errors-and-memory-over",
        ),
    ],
)
def test_the_result_is_judged_against_the_budgets(
    tmp_path: Path, budgets: Budgets | None, verdict: str, failed: list[str]
) -> None:
    """p95 100 ms, 20 % errors, memory p95 70 MiB: judged budget by budget."""
    result = build_result(record(tmp_path), budgets)
    assert result.verdict == verdict
    assert sorted(b.name for b in result.budgets if b.passed is False) == failed
