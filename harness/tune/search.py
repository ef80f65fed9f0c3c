"""`loadgate tune`: the smallest compose limits that meet the budgets at a given load.

Runs the scenario at the compose file's limits (the baseline), bisects the CPU limit while the
budgets pass, sizes memory from what the passing runs used (`harness.tune.recommend`), confirms the
recommendation with one more run, and writes `tune.json`, `tune.html` and, with `--write`, the
new limits into the compose file. A run that crashes, is OOM-killed or never gets ready is a
failing data point, not the end of the tune. The whole tune is bounded by a run count and a time
budget, and each run keeps its own result directory.

Whether the limits can be rewritten in place is checked before the first run
(`compose_edit.check_editable`): with `--write` a layout it cannot edit is refused then, without
it the tune runs and says, in place of the diff, why it cannot show one. `tune.json` is saved
before the compose file is written, so a failed write never loses the runs.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import (
    ComposeError,
    LoadGeneratorError,
    SetupError,
    StackNotReadyError,
    UsageError,
)
from harness.ids import new_id
from harness.progress import ProgressDisplay
from harness.run import pipeline
from harness.run.gateway_services import stack_services
from harness.settings import RunSettings
from harness.stack.compose import ComposeFile, read_compose_text
from harness.stack.services import ResourceLimits
from harness.tune.compose_edit import (
    LimitValues,
    check_editable,
    format_cpus,
    format_memory,
    rewrite_limits,
    unified_diff,
    write_compose,
)
from harness.tune.recommend import CpuBisection, recommend
from reports.result import RunResult
from reports.tune_render import write_tune_report
from reports.tune_result import Margins, PointRole, Recommendation, TunePoint, TuneResult


@dataclass(frozen=True)
class TuneSettings:
    run: RunSettings
    service: str = "gateway"
    max_runs: int = 8
    time_budget_s: float = 900.0
    cpu_floor: float = 0.1
    cpu_resolution: float = 0.05
    margins: Margins = field(default_factory=Margins)
    write: bool = False


def tuned_service(run: RunSettings) -> str:
    """The compose service whose limits are tuned: the gateway, as a run finds it
    (`--gateway-service`, else `gateway`, else the one service that looks like it)."""
    gateway, _ = ComposeFile.load(run.compose_file).find_services(
        run.gateway_service, run.redis_service
    )
    return gateway


@dataclass(frozen=True)
class TuneOutcome:
    result: TuneResult
    directory: Path
    report: Path


def _point(role: PointRole, cpus: float, memory: int, result: RunResult) -> TunePoint:
    failed = [b.name for b in result.budgets if b.passed is False]
    container = result.container
    oom = bool(container and container.oom_killed)
    reason = ", ".join(failed) + (" (OOM-killed)" if oom else "")
    return TunePoint(
        role=role,
        cpus=cpus,
        memory_bytes=memory,
        passed=result.verdict == "pass",
        reason=reason if result.verdict != "pass" else "",
        run_id=result.run_id,
        p95_ms=result.latency.p95_ms,
        p99_ms=result.latency.p99_ms,
        throughput_rps=result.throughput_rps,
        error_rate=result.errors.rate,
        memory_p95_bytes=result.memory.p95_bytes if result.memory else None,
        memory_max_bytes=result.memory.max_bytes if result.memory else None,
        cpu_p95_cores=result.cpu.p95_cores if result.cpu else None,
        throttled_s=result.cpu.throttled_s if result.cpu else None,
        oom_killed=oom,
        restarts=container.restarts if container else 0,
    )


class Tuner:
    """The runs of one tune; `clock` (monotonic seconds) measures them against the time budget."""

    def __init__(
        self,
        settings: TuneSettings,
        display: ProgressDisplay,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.display = display
        self.clock = clock
        self.points: list[TunePoint] = []
        self.started = clock()
        self.longest_run_s = 0.0
        self.tune_id = new_id("tune")
        self.directory = settings.run.output_dir / self.tune_id

    def attempt(self, role: PointRole, limits: ResourceLimits) -> TunePoint:
        cpus, memory = limits.cpus or 0.0, limits.memory_bytes or 0
        number = len(self.points) + 1
        self.display.say(
            f"tune run {number}/{self.settings.max_runs} ({role}): "
            f"cpus {format_cpus(cpus)}, memory {format_memory(memory)}"
        )
        run_settings = dataclasses.replace(
            self.settings.run, output_dir=self.directory, gateway_limits=limits
        )
        began = self.clock()
        try:
            outcome = pipeline.run(run_settings, self.display)
            point = _point(role, cpus, memory, outcome.result)
        except (SetupError, LoadGeneratorError) as exc:
            reason = str(exc).splitlines()[0]
            point = TunePoint(
                role=role,
                cpus=cpus,
                memory_bytes=memory,
                passed=False,
                reason=reason,
                run_id=None,
                oom_killed=isinstance(exc, StackNotReadyError) and exc.oom_killed,
            )
        self.longest_run_s = max(self.longest_run_s, self.clock() - began)
        self.points.append(point)
        verdict = "pass" if point.passed else f"FAIL ({point.reason})"
        p95 = f", p95 {point.p95_ms:.0f} ms" if point.p95_ms is not None else ""
        self.display.say(f"  -> {verdict}{p95}")
        return point

    def room_for(self, runs: int) -> bool:
        """Whether `runs` more runs fit in both the run count and the time budget."""
        elapsed = self.clock() - self.started
        fits_time = elapsed + runs * self.longest_run_s <= self.settings.time_budget_s
        return len(self.points) + runs <= self.settings.max_runs and fits_time

    def search(self, limits: ResourceLimits) -> str:
        baseline = self.attempt("baseline", limits)
        if not baseline.passed:
            return "the compose file's own limits do not meet the budgets at this load"
        bisection = CpuBisection(
            self.settings.cpu_floor, limits.cpus or 1.0, self.settings.cpu_resolution
        )
        while True:
            cpus = bisection.next_cpus()
            if cpus is None:
                return f"CPU limit bisected to within {self.settings.cpu_resolution:g} cores"
            if not self.room_for(2):  # this run and the confirmation
                return "run count or time budget reached"
            point = self.attempt("search", dataclasses.replace(limits, cpus=cpus))
            bisection.record(cpus, point.passed)


def _recommended_limits(rec: Recommendation) -> ResourceLimits:
    return ResourceLimits(
        cpus=rec.cpus,
        memory_bytes=rec.memory_bytes,
        reserved_cpus=rec.reserved_cpus,
        reserved_memory_bytes=rec.reserved_memory_bytes,
    )


def _editable(settings: TuneSettings, path: Path, text: str) -> str:
    """Empty when tune can rewrite the limits in place, else why not (refused with --write)."""
    try:
        check_editable(text, settings.service)
    except ComposeError as exc:
        if settings.write:
            raise ComposeError(
                f"{path.name}: --write cannot apply a recommendation: {exc}"
            ) from exc
        return str(exc)
    return ""


@dataclass
class _Applied:
    diff: str = ""
    written: bool = False
    error: ComposeError | None = None


def _apply(
    settings: TuneSettings, path: Path, text: str, rec: Recommendation, confirmed: bool
) -> _Applied:
    """The diff of the recommendation and, with --write and a confirmed run, the new file."""
    values = LimitValues(rec.cpus, rec.memory_bytes, rec.reserved_cpus, rec.reserved_memory_bytes)
    try:
        new = rewrite_limits(text, settings.service, values)
    except ComposeError as exc:
        return _Applied(diff=f"# {exc}: apply the recommendation by hand\n", error=exc)
    applied = _Applied(diff=unified_diff(path, text, new))
    if not (settings.write and confirmed):
        return applied
    try:
        if read_compose_text(path) != text:
            raise ComposeError(f"{path} changed during the tune: the limits were not written")
        write_compose(path, new)
    except ComposeError as exc:
        applied.error = exc
    else:
        applied.written = True
    return applied


def tune(settings: TuneSettings, display: ProgressDisplay) -> TuneOutcome:
    compose, budgets = pipeline.prepare(settings.run)
    if budgets is None:
        raise UsageError("loadgate tune needs budgets to judge each run: pass --budgets FILE")
    if settings.max_runs < 2:
        raise UsageError("--max-runs must allow at least a baseline and a confirmation run (2)")
    spec, _ = stack_services(compose, "not-a-token", settings.run)  # as a run reads it
    if spec.limits.cpus is None or spec.limits.memory_bytes is None:
        raise ComposeError(
            f"{compose.path.name}: services.{settings.service}.deploy.resources.limits "
            "needs both cpus and memory to tune from"
        )
    text = read_compose_text(compose.path)
    not_editable = _editable(settings, compose.path, text)
    tuner = Tuner(settings, display)
    tuner.directory.mkdir(parents=True)
    started_at = time.time()
    stop_reason = tuner.search(spec.limits)
    recommendation = recommend(tuner.points, settings.margins)
    confirmed = False
    applied = _Applied()
    if recommendation is not None:
        confirmation = tuner.attempt("confirmation", _recommended_limits(recommendation))
        confirmed = confirmation.passed
        if not_editable:
            applied.diff = f"# {not_editable}: apply the recommendation by hand\n"
        else:
            applied = _apply(settings, compose.path, text, recommendation, confirmed)
    scenario = settings.run.scenario
    result = TuneResult(
        tune_id=tuner.tune_id,
        service=settings.service,
        scenario=scenario.name,
        users=scenario.users,
        target_rps=scenario.target_rps or None,
        duration_s=scenario.duration_s,
        budgets={k: v for k, v in budgets.model_dump().items() if v is not None},
        compose_file=str(compose.path),
        started_at=started_at,
        finished_at=time.time(),
        margins=settings.margins,
        points=tuner.points,
        stop_reason=stop_reason,
        recommendation=recommendation,
        confirmed=confirmed,
        compose_diff=applied.diff,
        written=applied.written,
    )
    result.save(tuner.directory)
    report = write_tune_report(result, tuner.directory)
    if applied.error is not None and settings.write and confirmed:
        raise ComposeError(f"{applied.error} (the tune is saved in {tuner.directory})")
    return TuneOutcome(result=result, directory=tuner.directory, report=report)
