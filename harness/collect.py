"""Turns what a run recorded (request samples, resource samples, container state) into a result."""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from harness.budgets import Budgets, Observed, budget_verdict, evaluate, overall
from harness.compose import ResourceLimits
from harness.findings import FindingInputs, compute, judge_ramp
from harness.images import StackImages
from harness.runner import GeneratorStats
from harness.sampler import ResourceSample
from reports import aggregate
from reports.findings import stream_stats
from reports.result import (
    BudgetVerdict,
    ContainerOutcome,
    GatewayMetrics,
    GeneratorRecord,
    ImageRecord,
    RunEvent,
    RunResult,
    ShutdownRecord,
    Verdict,
)
from scenarios.catalog import Scenario

RESOURCES_FILE = "resources.csv"


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


def write_resources(samples: list[ResourceSample], path: Path) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(aggregate.RESOURCE_COLUMNS)
        for s in samples:
            t, *rest = dataclasses.astuple(s)
            writer.writerow([f"{t:.4f}", *rest])


def _always_checked(
    observed: Observed, result_parts: ResultParts, budgets: Budgets
) -> list[BudgetVerdict]:
    """Checks every run gets, budgets file or not: what would make its numbers meaningless or
    hide a failure (a leaked token, an OOM kill, a generator that could not keep up)."""
    checks: list[BudgetVerdict] = []

    def check(name: str, limit: float, value: float | None, unit: str = "") -> None:
        checks.append(budget_verdict(name, limit, unit, value, is_minimum=False))

    container = result_parts.container
    if container is not None:
        check("provider_token_in_logs", 0, float(container.token_in_logs))
        check("gateway_oom_killed", 0, float(container.oom_killed))
        if result_parts.shutdown is None:
            check("gateway_restarts", 0, float(container.restarts))
    shutdown = result_parts.shutdown
    if shutdown is not None:
        check("shutdown_exit_code", 0, float(abs(shutdown.exit_code)))
        check("shutdown_sigkill_needed", 0, float(shutdown.killed))
    generator = result_parts.generator
    if generator is not None:
        check(
            "generator_cpu_cores",
            budgets.generator_cpu_max_cores,
            generator.busiest_process_cores,
            "cores",
        )
        if generator.model == "open":
            # A ramp claims only the steps up to its knee: the generator must have kept up there.
            lag = observed.figures.get("generator_lag_p99_to_knee_ms", generator.lag_p99_ms)
            check("generator_lag_p99_ms", budgets.generator_lag_p99_ms, lag, "ms")
            check("generator_missed_sends", 0, float(generator.missed or 0))
    return checks


@dataclass(frozen=True)
class ResultParts:
    """The parts of a result the always-on checks read."""

    container: ContainerOutcome | None
    shutdown: ShutdownRecord | None
    generator: GeneratorRecord | None


def judge(
    budgets: Budgets | None, observed: Observed, parts: ResultParts
) -> tuple[list[BudgetVerdict], Verdict]:
    """A run passes when nothing failed and at least one budget of the file was measured: the
    always-on checks can fail a run, but cannot pass one on their own."""
    judged = evaluate(budgets, observed) if budgets is not None else []
    always = _always_checked(observed, parts, budgets or Budgets())
    if budgets is None:
        failed = any(v.passed is False for v in always)
        return always, "fail" if failed else "no-budgets"
    passed = overall(judged) and all(v.passed is not False for v in always)
    return judged + always, "pass" if passed else "fail"


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
    )


def build_result(record: RunRecord, budgets: Budgets | None) -> RunResult:
    requests = aggregate.load_requests(record.samples_file)
    run_dir = record.samples_file.parent
    load_started_at = record.load_started_at or (
        float(requests["start"].min()) if not requests.empty else record.started_at
    )
    ends = requests["start"] + requests["latency_ms"] / 1000
    load_duration = float(ends.max() - load_started_at) if not requests.empty else 0.0
    latency = aggregate.latency_stats(requests)
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

    findings = compute(
        FindingInputs(
            scenario=record.scenario,
            requests=requests,
            resources=frame,
            load_started_at=load_started_at,
            budgets=budgets or Budgets(),
            events=record.events,
            shutdown=record.shutdown,
            metrics=record.metrics,
            upstream_calls=record.upstream_calls,
            image_size_bytes=record.images.gateway.size_bytes if record.images else None,
        )
    )
    generator = generator_record(record.generator, requests)
    observed = Observed(
        latency=latency,
        errors=errors,
        memory=memory,
        throughput_rps=throughput,
        figures=findings.figures,
        per_step=record.scenario.name == "ramp",
    )
    parts = ResultParts(record.container, record.shutdown, generator)
    verdicts, verdict = judge(budgets, observed, parts)
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
    return RunResult(
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
        findings=findings,
        budgets=verdicts,
        verdict=verdict,
        files=files,
    )


def rejudge(result: RunResult, budgets: Budgets) -> RunResult:
    """The same result judged against other budgets (for `loadgate report --budgets`)."""
    findings = result.findings
    if result.scenario == "ramp":
        steps, found, notes = judge_ramp(findings.steps, budgets)
        findings = findings.model_copy(
            update={"steps": steps, "figures": {**findings.figures, **found}, "notes": notes}
        )
    observed = Observed(
        result.latency,
        result.errors,
        result.memory,
        result.throughput_rps,
        figures=findings.figures,
        per_step=result.scenario == "ramp",
    )
    parts = ResultParts(result.container, result.shutdown, result.generator)
    verdicts, verdict = judge(budgets, observed, parts)
    return result.model_copy(update={"budgets": verdicts, "verdict": verdict, "findings": findings})
