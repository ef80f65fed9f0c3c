"""Driving the load: the generators, the scenario's actions at their times, `/metrics` scraped
and the readiness path probed while it runs, and the watch that ends a load early.

The same for a stack loadgate launched and for a deployment it did not start: only the handles
(containers to act on) and the credentials differ.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from harness.progress import ProgressDisplay
from harness.run.actions import ActionLog, ScenarioActions, StackHandles
from harness.run.failfast import FailFastWatch, failure_summary
from harness.run.knee import KneeWatch
from harness.run.ready_probe import Probe, ReadinessProbe, path_missing, readiness_record
from harness.run.runner import LoadRun, SampleTail, run_load
from harness.run.scrape import MetricsScraper
from harness.settings import RunSettings
from harness.verdict.budgets import Budgets
from reports.result import GatewayMetrics, ReadinessRecord, ShutdownRecord
from scenarios.catalog import OpenLoad, Scenario


@dataclass(frozen=True)
class Driven:
    """What driving the load produced, beside the samples."""

    load: LoadRun
    actions: ActionLog
    metrics: GatewayMetrics
    probes: list[Probe]
    failed_fast: str | None

    @property
    def readiness_missing(self) -> bool:
        return path_missing(self.probes)

    def readiness(self, path: str, shutdown: ShutdownRecord | None) -> ReadinessRecord | None:
        """The probes as recorded; None when every probe answered 404 (a target without such
        a path: `readiness_missing` says so)."""
        if not self.probes or self.readiness_missing:
            return None
        drain_from = shutdown.sigterm_at if shutdown is not None else None
        return readiness_record(path, self.probes, self.load.started_at, drain_from)


def drive(
    settings: RunSettings,
    url: str,
    handles: StackHandles,
    output: tuple[Path, ProgressDisplay],
    budgets: Budgets | None,
    environment: Mapping[str, str],
    scrape_headers: Mapping[str, str] | None = None,
) -> Driven:
    """The load, with the scenario's actions at their times, the gateway's /metrics scraped and
    its readiness probed while it runs; all are stopped however the load ends. `environment`
    reaches the generators (credentials, the secret to scan answers for) and nothing else."""
    run_dir, display = output
    scenario = settings.scenario
    actions = ScenarioActions(scenario.actions, handles)
    scraper = MetricsScraper(url.rstrip("/") + "/metrics", headers=scrape_headers)
    probe = ReadinessProbe(url.rstrip("/") + settings.ready_path)
    watch = _StopWatch(scenario, budgets)
    scraper.start()
    probe.start()
    try:
        load = run_load(
            scenario,
            url,
            run_dir,
            display.update,
            environment,
            settings.processes,
            on_started=actions.start,
            distributed=settings.distributed,
            stop_when=watch.check,
            model=settings.model,
        )
    finally:
        action_log = actions.stop()
        metrics = scraper.stop()
        probes = probe.stop()
    return Driven(load, action_log, metrics, probes, watch.failure(load))


class _StopWatch:
    """Ends a load early: at once when its first requests all fail the same way; a ramp at its
    first step that breaks a budget (the knee is then known)."""

    def __init__(self, scenario: Scenario, budgets: Budgets | None) -> None:
        self._fail_fast = FailFastWatch()
        self._knee = None
        if scenario.judged_by_step and isinstance(scenario.load, OpenLoad) and budgets:
            self._knee = KneeWatch(scenario.load.stages, budgets)

    def check(self, tail: SampleTail, load_started_at: float, now: float) -> str | None:
        reason = self._fail_fast.check(tail.kinds, tail.requests, now - load_started_at)
        if reason is None and self._knee is not None:
            reason = self._knee.check(tail, load_started_at, now)
        return reason

    def failure(self, load: LoadRun) -> str | None:
        """The one line that says why every request failed, when the load was stopped for it:
        the status and the start of the first failed answer (scrubbed by the generators)."""
        kinds = self._fail_fast.kinds
        if not kinds:
            return None
        failures = sorted(load.responses.failures, key=lambda f: f.t)
        first = failures[0] if failures else None
        if first is None:
            return failure_summary(kinds, None, None)
        return failure_summary(kinds, first.status or None, first.body, f"POST {first.route}")
