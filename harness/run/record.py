"""Turns what a run recorded (request samples, resource samples, container state) into a result."""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from harness.run.runner import GeneratorStats
from harness.run.scenario_figures import FindingInputs, compute
from harness.stack.images import StackImages
from harness.stack.sampler import ResourceSample
from harness.stack.services import ResourceLimits
from harness.verdict.budgets import Budgets
from harness.verdict.judge import judge
from reports import aggregate
from reports.findings import stream_stats
from reports.result import (
    ContainerOutcome,
    FailedAnswer,
    GatewayMetrics,
    GeneratorRecord,
    ImageRecord,
    ReadinessRecord,
    ResponseScan,
    RunEvent,
    RunResult,
    ShutdownRecord,
    TokenHit,
)
from scenarios.catalog import Scenario
from scenarios.inspection import ResponseNotes

RESOURCES_FILE = "resources.csv"
FIRST_FAILURES_KEPT = 5


def response_scan(notes: ResponseNotes) -> ResponseScan:
    """The generators' notes on the answers, as the result records them (never a token)."""
    return ResponseScan(
        scanned_non_2xx=notes.non_2xx_scanned,
        scanned_2xx=notes.sampled_2xx_scanned,
        token_hits=[TokenHit(route=h.route, status=h.status, where=h.where) for h in notes.secrets],
        first_failures=[
            FailedAnswer(route=f.route, status=f.status, error=f.error, body=f.body)
            for f in notes.failures[:FIRST_FAILURES_KEPT]
        ],
    )


@dataclass(frozen=True)
class RunRecord:
    """Everything a finished run hands over, before any statistics."""

    run_id: str
    scenario: Scenario
    target_url: str
    started_at: float
    finished_at: float
    samples_file: Path
    resources: list[ResourceSample]
    resource_source: str
    images: StackImages | None
    """None for an external target: loadgate built nothing."""
    limits: ResourceLimits
    container: ContainerOutcome | None
    load_started_at: float | None = None
    generator: GeneratorStats | None = None
    events: list[RunEvent] = field(default_factory=list)
    shutdown: ShutdownRecord | None = None
    metrics: GatewayMetrics | None = None
    upstream_calls: Mapping[str, int] | None = None
    readiness: ReadinessRecord | None = None
    readiness_missing: bool = False
    """Every readiness probe answered 404: the path does not exist there, nothing was judged."""
    responses: ResponseScan | None = None
    failed_fast: str | None = None
    """Why the load was stopped at once: its first requests all failed the same way."""


def write_resources(samples: list[ResourceSample], path: Path) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(aggregate.RESOURCE_COLUMNS)
        for s in samples:
            t, *rest = dataclasses.astuple(s)
            writer.writerow([f"{t:.4f}", *rest])


def generator_record(
    stats: GeneratorStats | None, requests: pd.DataFrame
) -> GeneratorRecord | None:
    if stats is None:
        return None
    lags = requests["lag_ms"].dropna().to_numpy(dtype=float)
    return GeneratorRecord(
        model="open" if stats.model == "open" else "closed",
        processes=stats.processes,
        cpu_s=stats.cpu_s,
        wall_s=stats.wall_s,
        busiest_process_cores=stats.busiest_process_cores,
        scheduled=stats.scheduled,
        sent=stats.sent,
        missed=stats.missed,
        unfinished=stats.unfinished,
        lag_p50_ms=aggregate.percentile(lags, 50) if lags.size else None,
        lag_p99_ms=aggregate.percentile(lags, 99) if lags.size else None,
        lag_max_ms=float(lags.max()) if lags.size else None,
        workers=list(stats.workers),
    )


def build_result(record: RunRecord, judging: Budgets | None) -> RunResult:
    """Measure everything the run recorded, then judge it (`judging=None`: `--no-budgets`)."""
    requests = aggregate.load_requests(record.samples_file)
    run_dir = record.samples_file.parent
    load_started_at = record.load_started_at or (
        float(requests["start"].min()) if not requests.empty else record.started_at
    )
    ends = requests["start"] + requests["latency_ms"] / 1000
    load_duration = float(ends.max() - load_started_at) if not requests.empty else 0.0
    latency = aggregate.latency_stats(requests)
    service = aggregate.service_latencies(requests)
    errors = aggregate.error_stats(requests)
    throughput = latency.count / load_duration if load_duration > 0 else 0.0

    memory = cpu = None
    points = []
    frame = None
    files = {"samples": record.samples_file.name}
    if record.resources:
        write_resources(record.resources, run_dir / RESOURCES_FILE)
        files["resources"] = RESOURCES_FILE
        frame = aggregate.resource_frame([dataclasses.astuple(s) for s in record.resources])
        memory = aggregate.memory_stats(
            frame, load_started_at, record.resource_source, record.limits.memory_bytes
        )
        cpu = aggregate.cpu_stats(frame, load_started_at, record.limits.cpus)
        points = aggregate.resource_points(frame, load_started_at)

    budgets = judging or Budgets()
    findings = compute(
        FindingInputs(
            scenario=record.scenario,
            requests=requests,
            resources=frame,
            load_started_at=load_started_at,
            goodput_slo=(budgets.goodput_ttft_ms, budgets.goodput_latency_ms),
            events=record.events,
            shutdown=record.shutdown,
            metrics=record.metrics,
            upstream_calls=record.upstream_calls,
            image_size_bytes=record.images.gateway.size_bytes if record.images else None,
            failed_fast=record.failed_fast,
            readiness=record.readiness,
            readiness_missing=record.readiness_missing,
            container_launched=record.container is not None,
            healthcheck_problem=(
                record.container.healthcheck_problem if record.container is not None else None
            ),
        )
    )
    generator = generator_record(record.generator, requests)
    images = {}
    if record.images is not None:
        images = {
            role: ImageRecord(name=info.name, id=info.id, size_bytes=info.size_bytes)
            for role, info in (
                ("gateway", record.images.gateway),
                ("mock-upstream", record.images.mock),
                ("redis", record.images.redis),
            )
        }
    result = RunResult(
        run_id=record.run_id,
        scenario=record.scenario.name,
        target_url=record.target_url,
        started_at=record.started_at,
        load_started_at=load_started_at,
        finished_at=record.finished_at,
        load_duration_s=load_duration,
        users=record.scenario.users,
        target_rps=record.scenario.target_rps or None,
        throughput_rps=throughput,
        latency=latency,
        service_latency=None if service is None else aggregate.summary(service),
        latency_distribution=aggregate.latency_distribution(aggregate.request_latencies(requests)),
        service_latency_distribution=(
            [] if service is None else aggregate.latency_distribution(service)
        ),
        errors=errors,
        memory=memory,
        cpu=cpu,
        images=images,
        limits={
            "cpus": record.limits.cpus,
            "memory_bytes": record.limits.memory_bytes,
            "reserved_cpus": record.limits.reserved_cpus,
            "reserved_memory_bytes": record.limits.reserved_memory_bytes,
        },
        container=record.container,
        timeline=aggregate.timeline(requests, load_started_at),
        resources=points,
        generator=generator,
        streaming=stream_stats(requests),
        events=record.events,
        shutdown=record.shutdown,
        gateway_metrics=record.metrics,
        upstream_calls=dict(record.upstream_calls) if record.upstream_calls is not None else None,
        readiness=record.readiness,
        responses=record.responses,
        findings=findings,
        budgets=[],
        verdict="no-budgets",
        files=files,
    )
    return judge(result, judging)
