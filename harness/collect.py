"""Turns what a run recorded (request samples, resource samples, container state) into a result."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from harness.budgets import Budgets, Observed, evaluate, overall
from harness.compose import ResourceLimits
from harness.images import StackImages
from harness.sampler import ResourceSample
from reports import aggregate
from reports.result import BudgetVerdict, ContainerOutcome, ImageRecord, RunResult, Verdict

RESOURCES_FILE = "resources.csv"


@dataclass(frozen=True)
class RunRecord:
    """Everything a finished run hands over, before any statistics."""

    run_id: str
    scenario: str
    target_url: str
    started_at: float
    finished_at: float
    users: int
    target_rps: float | None
    samples_file: Path
    resources: list[ResourceSample]
    resource_source: str
    images: StackImages | None
    """None for an external target: loadgate built nothing."""
    limits: ResourceLimits
    container: ContainerOutcome | None


def write_resources(samples: list[ResourceSample], path: Path) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(aggregate.RESOURCE_COLUMNS)
        for s in samples:
            writer.writerow(
                [
                    f"{s.t:.4f}",
                    s.memory_bytes,
                    s.memory_usage_bytes,
                    s.cpu_ns,
                    s.throttled_ns,
                    s.open_fds,
                ]
            )


def judge(
    budgets: Budgets | None, observed: Observed, container: ContainerOutcome | None
) -> tuple[list[BudgetVerdict], Verdict]:
    verdicts = evaluate(budgets, observed) if budgets is not None else []
    if container is not None:
        leaked = float(container.token_in_logs)
        verdicts.append(
            BudgetVerdict(
                name="provider_token_in_logs", limit=0, observed=leaked, unit="", passed=not leaked
            )
        )
    if budgets is None:
        failed = any(v.passed is False for v in verdicts)
        return verdicts, "fail" if failed else "no-budgets"
    return verdicts, "pass" if overall(verdicts) else "fail"


def build_result(record: RunRecord, budgets: Budgets | None) -> RunResult:
    requests = aggregate.load_requests(record.samples_file)
    run_dir = record.samples_file.parent
    load_started_at = float(requests["start"].min()) if not requests.empty else record.started_at
    ends = requests["start"] + requests["latency_ms"] / 1000
    load_duration = float(ends.max() - load_started_at) if not requests.empty else 0.0
    latency = aggregate.latency_stats(requests)
    errors = aggregate.error_stats(requests)
    throughput = latency.count / load_duration if load_duration > 0 else 0.0

    memory = cpu = None
    points = []
    files = {"samples": record.samples_file.name}
    if record.resources:
        write_resources(record.resources, run_dir / RESOURCES_FILE)
        files["resources"] = RESOURCES_FILE
        frame = aggregate.resource_frame(
            [
                (s.t, s.memory_bytes, s.memory_usage_bytes, s.cpu_ns, s.throttled_ns, s.open_fds)
                for s in record.resources
            ]
        )
        memory = aggregate.memory_stats(
            frame, load_started_at, record.resource_source, record.limits.memory_bytes
        )
        cpu = aggregate.cpu_stats(frame, load_started_at, record.limits.cpus)
        points = aggregate.resource_points(frame, load_started_at)

    observed = Observed(latency=latency, errors=errors, memory=memory, throughput_rps=throughput)
    verdicts, verdict = judge(budgets, observed, record.container)
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
        scenario=record.scenario,
        target_url=record.target_url,
        started_at=record.started_at,
        load_started_at=load_started_at,
        finished_at=record.finished_at,
        load_duration_s=load_duration,
        users=record.users,
        target_rps=record.target_rps,
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
        budgets=verdicts,
        verdict=verdict,
        files=files,
    )


def rejudge(result: RunResult, budgets: Budgets) -> RunResult:
    """The same result judged against other budgets (for `loadgate report --budgets`)."""
    observed = Observed(result.latency, result.errors, result.memory, result.throughput_rps)
    verdicts, verdict = judge(budgets, observed, result.container)
    return result.model_copy(update={"budgets": verdicts, "verdict": verdict})
