"""What each scenario finds: its figures, notes and steps, from everything a run recorded.

Figures that need something the run did not have (the gateway's `/metrics`, the mock provider's
counters, a container) are left out, and the budgets that would judge them report "unavailable".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from reports import findings as f
from reports.aggregate import percentile
from reports.result import (
    MIB,
    Findings,
    GatewayMetrics,
    ReadinessRecord,
    RunEvent,
    ShutdownRecord,
    StepStats,
)
from scenarios.catalog import ClosedLoad, OpenLoad, Scenario

MB = 1000 * 1000
MIN_PHASE_S = 1.0
CLOSED_END_MARGIN_S = 1.0
"""Shorter phases (an action at the very start) hold too few requests to say anything."""
MAPPED_STATUSES = {200, 429, 502, 503, 504}
"""What a gateway may answer while its provider fails: success or a mapped error."""


@dataclass
class FindingInputs:
    scenario: Scenario
    requests: pd.DataFrame
    resources: pd.DataFrame | None
    load_started_at: float
    goodput_slo: tuple[float, float] = (500.0, 2000.0)
    """(first token within, whole answer within) in ms: the SLO goodput counts against."""
    events: list[RunEvent] = field(default_factory=list)
    shutdown: ShutdownRecord | None = None
    metrics: GatewayMetrics | None = None
    upstream_calls: Mapping[str, int] | None = None
    image_size_bytes: int | None = None
    failed_fast: str | None = None
    """Why the load was stopped at once (its first requests all failed the same way)."""
    readiness: ReadinessRecord | None = None
    readiness_missing: bool = False
    healthcheck_problem: str | None = None
    container_launched: bool = False
    """The gateway is a container loadgate started (its provider is loadgate's mock)."""


def _metric_delta(metrics: GatewayMetrics | None, name: str) -> float | None:
    if metrics is None or not metrics.available or name not in metrics.series:
        return None
    series = metrics.series[name]
    return series.last - series.first


def _metric_max(metrics: GatewayMetrics | None, name: str) -> float | None:
    if metrics is None or not metrics.available or name not in metrics.series:
        return None
    return metrics.series[name].max


def _phases(inputs: FindingInputs) -> list[StepStats]:
    """The run split at each event: before the first, between events, after the last."""
    marks = [e for e in inputs.events if e.name not in ("gateway exited", "load stopped early")]
    if not marks:
        return []
    end = inputs.scenario.duration_s
    edges = [0.0] + [max(0.0, e.t - inputs.load_started_at) for e in marks] + [end]
    names = ["before " + marks[0].name] + [
        f"{e.name} at {edge:.0f} s" for e, edge in zip(marks, edges[1:], strict=False)
    ]
    return [
        f.step_stats(inputs.requests, name, (lo, hi), inputs.load_started_at)
        for name, lo, hi in zip(names, edges, edges[1:], strict=False)
        if hi - lo >= MIN_PHASE_S
    ]


def compute(inputs: FindingInputs) -> Findings:
    figures: dict[str, float | None] = {}
    notes: list[str] = []
    steps: list[StepStats] = []
    requests, load = inputs.requests, inputs.scenario.load

    figures["all_failing"] = float(inputs.failed_fast is not None)
    if inputs.failed_fast is not None:
        notes.append(inputs.failed_fast)
    if inputs.image_size_bytes is not None:
        figures["image_size_mb"] = inputs.image_size_bytes / MB
    ttft_ms, latency_ms = inputs.goodput_slo
    figures["goodput"] = f.goodput(requests, ttft_ms, latency_ms)
    figures["goodput_slo_ttft_ms"], figures["goodput_slo_latency_ms"] = ttft_ms, latency_ms
    _throughput(inputs, figures, notes)
    _readiness(inputs, notes)
    if inputs.healthcheck_problem is not None:
        notes.append(inputs.healthcheck_problem)
    if inputs.resources is not None and inputs.shutdown is None:
        for column, name, scale in (
            ("memory_bytes", "memory_growth_mb_per_10k", MIB),
            ("own_fds", "fd_growth_per_10k", 1),
            ("tcp_outbound", "tcp_growth_per_10k", 1),
        ):
            slope = f.growth_per_10k(inputs.resources, requests, column, inputs.load_started_at)
            figures[name] = None if slope is None else slope / scale

    if isinstance(load, OpenLoad) and len(load.stages) > 1:
        stages = [(s.duration_s, s.rate_rps) for s in load.stages]
        steps = f.stage_steps(requests, stages, inputs.load_started_at)
    elif inputs.events:
        steps = _phases(inputs)

    special = _SCENARIO_FIGURES.get(inputs.scenario.name)
    if special is not None:
        steps = special(inputs, steps, figures, notes)
    if inputs.metrics is not None and not inputs.metrics.available:
        notes.append(f"gateway metrics unavailable: {inputs.metrics.reason}")
    return Findings(figures=figures, notes=notes, steps=steps)


Figures = dict[str, float | None]


def _load_window(inputs: FindingInputs) -> tuple[float, float]:
    """Seconds into the load over which the offered rate is compared with the achieved one:
    without a closed load's spawning and its last interval, and up to a deliberate stop (the
    load stopped early, or SIGTERM sent to the gateway)."""
    load = inputs.scenario.load
    lo, hi = 0.0, inputs.scenario.duration_s
    if isinstance(load, ClosedLoad) and load.rps_per_user > 0:
        # Locust counts its run time from before its first request: leave it a second.
        interval = 1 / load.rps_per_user
        lo = load.users / load.spawn_rate + interval
        hi -= interval + CLOSED_END_MARGIN_S
    stops = [e.t for e in inputs.events if e.name == "load stopped early"]
    if inputs.shutdown is not None:
        stops.append(inputs.shutdown.sigterm_at)
    for stop in stops:
        hi = min(hi, stop - inputs.load_started_at)
    return lo, hi


def _throughput(inputs: FindingInputs, figures: Figures, notes: list[str]) -> None:
    """Achieved / offered request rate: a gateway that serves a third of its load has failed."""
    load = inputs.scenario.load
    if isinstance(load, ClosedLoad):
        if load.rps_per_user <= 0:
            return  # unpaced users offer whatever the gateway takes: no offered rate
        stages = [(inputs.scenario.duration_s, load.peak_rps)]
    else:
        stages = [(s.duration_s, s.rate_rps) for s in load.stages]
    rates = f.served_rates(inputs.requests, stages, _load_window(inputs), inputs.load_started_at)
    if rates is None or rates[0] <= 0:
        return
    offered, achieved = rates
    figures["offered_rps"], figures["achieved_rps"] = offered, achieved
    figures["throughput_ratio"] = achieved / offered
    if achieved < 0.95 * offered:
        notes.append(
            f"the gateway served {achieved:.1f} of the {offered:.1f} req/s offered "
            f"({achieved / offered:.0%})"
        )


def _readiness(inputs: FindingInputs, notes: list[str]) -> None:
    if inputs.readiness_missing:
        notes.append(
            "the readiness path answered 404 to every probe: readiness was not judged "
            "(--ready-path names the target's own)"
        )
    readiness = inputs.readiness
    if readiness is None or not readiness.failures:
        return
    notes.append(
        f"the readiness path {readiness.path} failed {readiness.failures} of "
        f"{readiness.probes} probes (first: {readiness.first_failure}): an orchestrator would "
        "have taken the gateway out of service under load"
    )
    slowed = any(
        a.kind == "mock_config" and "latency_ms" in a.config for a in inputs.scenario.actions
    )
    if slowed and inputs.container_launched:
        notes.append(
            f"only the provider was slow when {readiness.path} failed: the readiness path waits "
            "on the provider; it should answer from the gateway's own state"
        )


def _spike(
    inputs: FindingInputs, steps: list[StepStats], figures: Figures, notes: list[str]
) -> list[StepStats]:
    if len(steps) == 3:
        figures["baseline_p95_ms"] = steps[0].p95_ms
        figures["spike_p99_ms"] = steps[1].p99_ms
        figures["recovery_s"] = _recovery_s(inputs, steps)
        if figures["recovery_s"] is None:
            notes.append("latency did not return to the baseline after the spike")
    return steps


def _failing(
    inputs: FindingInputs, steps: list[StepStats], figures: Figures, notes: list[str]
) -> list[StepStats]:
    figures["unexpected_status"] = float(f.unexpected_statuses(inputs.requests, MAPPED_STATUSES))
    resources, events = inputs.resources, inputs.events
    if resources is not None and len(events) >= 2:
        t = resources["t"]
        before = resources[(t < events[0].t) & (t >= inputs.load_started_at)]
        during = resources[(t >= events[0].t) & (t < events[1].t)]
        if not before.empty and not during.empty:
            last_before = float(before["memory_bytes"].tail(15).median())
            last_during = float(during["memory_bytes"].tail(15).median())
            change_mb = (last_during - last_before) / MIB
            figures["memory_change_while_failing_mb"] = change_mb
            sent = inputs.requests["start"]
            failing = inputs.requests[
                (sent >= events[0].t) & (sent < events[1].t) & (inputs.requests["error"] != "")
            ]
            figures["failed_while_failing"] = float(len(failing))
            if len(failing) >= 100:
                figures["memory_failing_mb_per_1k"] = change_mb / (len(failing) / 1000)
            else:
                notes.append("too few failed requests to judge memory per 1,000 failures")
            figures["outbound_tcp_max_before"] = float(before["tcp_outbound"].max())
            figures["outbound_tcp_max_while_failing"] = float(during["tcp_outbound"].max())
    return steps


def _recovery_s(inputs: FindingInputs, steps: list[StepStats]) -> float | None:
    """Seconds after the spike until a second's p95 is back within 1.5x the baseline's."""
    baseline = steps[0].p95_ms
    if baseline is None:
        return None
    bound = max(1.5 * baseline, baseline + 20)
    start = steps[2].start_s
    for second in range(int(steps[2].end_s - start)):
        window = (start + second, start + second + 1)
        step = f.step_stats(inputs.requests, "", window, inputs.load_started_at)
        if step.p95_ms is not None and step.p95_ms <= bound:
            return float(second)
    return None


def _cache(
    inputs: FindingInputs, steps: list[StepStats], figures: Figures, notes: list[str]
) -> list[StepStats]:
    answered = int((inputs.requests["error"] == "").sum())
    calls = inputs.upstream_calls
    if calls is not None and answered:
        upstream = calls.get("requests", 0)
        figures["upstream_calls"] = float(upstream)
        figures["upstream_saved_ratio"] = max(0.0, 1 - upstream / answered)
    else:
        notes.append("upstream calls unavailable: the provider is not loadgate's mock")
    hits = _metric_delta(inputs.metrics, 'gateway_cache_lookups_total{outcome="hit"}')
    misses = _metric_delta(inputs.metrics, 'gateway_cache_lookups_total{outcome="miss"}')
    if hits is not None and misses is not None and hits + misses > 0:
        figures["cache_hit_ratio"] = hits / (hits + misses)
    figures["deduplicated"] = _metric_delta(inputs.metrics, "gateway_deduplicated_requests_total")
    return steps


def _pool(
    inputs: FindingInputs, steps: list[StepStats], figures: Figures, notes: list[str]
) -> list[StepStats]:
    requests = inputs.requests
    figures["rejected"] = float((requests["status"] == 503).sum())
    figures["rejected_p99_ms"] = f.rejected_p99(requests, 503)
    timed_out = (requests["status"] == 504) | requests["error"].isin(
        ["Timeout", "unfinished", "ServerTimeoutError"]
    )
    figures["timeouts"] = float(timed_out.sum())
    accepted = requests[requests["status"] == 200]["latency_ms"]
    figures["accepted_p99_ms"] = percentile(accepted, 99) if len(accepted) else None
    metrics = inputs.metrics
    figures["pool_in_use_max"] = _metric_max(metrics, "gateway_upstream_pool_connections_in_use")
    figures["pool_timeouts"] = _metric_delta(metrics, "gateway_upstream_pool_timeouts_total")
    figures["shed"] = _metric_delta(metrics, "gateway_shed_requests_total")
    return steps


def _shutdown(
    inputs: FindingInputs, steps: list[StepStats], figures: Figures, notes: list[str]
) -> list[StepStats]:
    record = inputs.shutdown
    if record is None:
        notes.append("no SIGTERM was sent: the gateway is not a container loadgate started")
        return steps
    in_flight = f.in_flight_at(inputs.requests, record.sigterm_at)
    completed = int((in_flight["error"] == "").sum())
    figures["in_flight_at_sigterm"] = float(len(in_flight))
    figures["completed"] = float(completed)
    figures["dropped"] = float(len(in_flight) - completed)
    figures["not_ready_after_ms"] = (
        None if record.not_ready_after_s is None else record.not_ready_after_s * 1000
    )
    figures["exited_after_s"] = record.exited_after_s
    figures["exit_code"] = float(record.exit_code)
    figures["sigkill_needed"] = float(record.killed)
    after = inputs.requests[inputs.requests["start"] >= record.sigterm_at]
    figures["refused_after_sigterm"] = float((after["error"] != "").sum())
    return steps


_SCENARIO_FIGURES = {
    "spike": _spike,
    "cache": _cache,
    "failing-upstream": _failing,
    "pool-exhaustion": _pool,
    "shutdown": _shutdown,
}
