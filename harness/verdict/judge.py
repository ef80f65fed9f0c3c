"""The one place that judges a run: budgets, the always-on checks, a ramp's steps, the verdict.

    measure  (harness/run/record.py, reports/findings.py)   figures, without verdicts
    judge(result, budgets)                                the same result, judged
    loadgate report RUN --budgets FILE                    judge(load_result(RUN), FILE's budgets)

Judging reads the result file alone, so a stored run is re-judged exactly as it was judged when
it ran. Two things are measured *with* budgets, because they decide what is measured: a ramp
stops at its first step over budget (the knee is then known), and goodput counts requests
within the SLO named in the budgets file (a re-judge against another SLO reports goodput as
unavailable rather than guess).

Budgets files are read by `harness.verdict.budgets`. A budget the run could not
measure is reported as unavailable: it neither passes nor fails, and a run in which no budget
of the file could be measured does not pass. The always-on checks (`ALWAYS_ON`) apply to every
judged run, budgets file or not, because each one means the figures cannot be trusted or a
failure would otherwise go unseen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from harness.verdict.budgets import Budgets
from reports.result import (
    MIB,
    BudgetVerdict,
    GeneratorRecord,
    MemoryStats,
    ReadinessRecord,
    RunResult,
    StepStats,
    Verdict,
)
from scenarios.catalog import SCENARIOS

STEP_BUDGETS = ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "error_rate")
"""In a ramp these judge each step (to find the knee), not the whole run."""
STEP_JUDGED_SCENARIOS = frozenset(s.name for s in SCENARIOS.values() if s.judged_by_step)
"""Scenarios whose steps are judged (a result names its scenario; the catalogue says which)."""


# Budgets judged against a figure the scenario measured: key -> (figure, unit, is a minimum).
FIGURE_BUDGETS: dict[str, tuple[str, str, bool]] = {
    "image_size_mb": ("image_size_mb", "MB", False),
    "knee_min_rps": ("knee_rps", "req/s", True),
    "memory_growth_mb_per_10k": ("memory_growth_mb_per_10k", "MiB", False),
    "fd_growth_per_10k": ("fd_growth_per_10k", "", False),
    "tcp_growth_per_10k": ("tcp_growth_per_10k", "", False),
    "memory_failing_mb_per_1k": ("memory_failing_mb_per_1k", "MiB", False),
    "upstream_saved_min": ("upstream_saved_ratio", "", True),
    "unexpected_status_max": ("unexpected_status", "", False),
    "rejected_p99_ms": ("rejected_p99_ms", "ms", False),
    "timeouts_max": ("timeouts", "", False),
    "dropped_max": ("dropped", "", False),
    "not_ready_max_ms": ("not_ready_after_ms", "ms", False),
    "exit_max_s": ("exited_after_s", "s", False),
    "goodput_min": ("goodput", "", True),
}

ALWAYS_ON: dict[str, str] = {
    "requests_completed": "at least one request was made and recorded",
    "requests_succeeded": "at least one request succeeded",
    "requests_all_failing": "the first requests of the run did not all fail the same way "
    "(if they did, the load was stopped at once)",
    "provider_token_in_logs": "the provider token given to the gateway is in no container's logs",
    "provider_token_in_responses": "the provider token is in no answer the clients received "
    "(every non-2xx body and headers, and 1 in 100 successful answers, are scanned)",
    "gateway_oom_killed": "the gateway was not OOM-killed",
    "gateway_restarts": "the gateway did not restart (outside a deliberate SIGTERM)",
    "gateway_healthcheck": "the compose healthcheck can run in the gateway's image",
    "throughput_ratio": "the gateway served at least throughput_min_ratio (0.95) of the offered "
    "request rate",
    "ready_probe_failures": "the readiness path answered 200 within 1 s to every probe, once a "
    "second, outside a deliberate drain (ready_probe_failures_max, 0)",
    "shutdown_exit_code": "after SIGTERM the gateway exited with code 0",
    "shutdown_sigkill_needed": "after SIGTERM the gateway exited before the stop grace period",
    "generator_cpu_cores": "the load generator had CPU to spare (generator_cpu_max_cores)",
    "generator_lag_p99_ms": "the open-model generator sent on schedule (generator_lag_p99_ms)",
    "generator_missed_sends": "the open-model generator sent every request it scheduled",
    "generator_workers_lost": "every worker of a distributed run (--expect-workers) ran its "
    "part to the end: none lost mid-run (no heartbeat, or it left), none whose generator failed, "
    "none that sent rows the master refused (out of the run's window, or more than its share)",
}
"""Every check a judged run gets, budgets file or not, and what passing it means."""

INTEGRITY_CHECKS = frozenset(
    {
        "requests_completed",
        "requests_succeeded",
        "requests_all_failing",
        "provider_token_in_logs",
        "provider_token_in_responses",
        "gateway_oom_killed",
        "generator_cpu_cores",
        "generator_lag_p99_ms",
        "generator_missed_sends",
    }
)
"""The checks that still apply to a run explicitly left unjudged (`--no-budgets`)."""


def budget_verdict(
    name: str, limit: float, unit: str, value: float | None, is_minimum: bool = False
) -> BudgetVerdict:
    """`value` against `limit` (a floor when `is_minimum`); unmeasured (None) is n/a."""
    if value is None:
        passed = None
    else:
        passed = value >= limit if is_minimum else value <= limit
    return BudgetVerdict(name=name, limit=limit, observed=value, unit=unit, passed=passed)


# --- steps (a ramp's knee) -------------------------------------------------------------------

STEP_LATENCY_LIMITS = (
    ("p50", "latency_p50_ms"),
    ("p95", "latency_p95_ms"),
    ("p99", "latency_p99_ms"),
)


def step_breach(step: StepStats, limits: Mapping[str, float | None]) -> str | None:
    """Which latency or error limit (`latency_p95_ms`, `error_rate`...) the step broke, if any."""
    error_limit = limits.get("error_rate")
    if error_limit is not None and not step.error_rate <= error_limit:  # NaN breaks it too
        return f"error rate {step.error_rate:.2%} > {error_limit:g}"
    for name, budget in STEP_LATENCY_LIMITS:
        limit, value = limits.get(budget), getattr(step, f"{name}_ms")
        if limit is not None and (value is None or not value <= limit):
            shown = "none" if value is None else f"{value:.0f} ms"
            return f"{name} {shown} > {limit:g} ms"
    return None


def judge_steps(steps: list[StepStats], limits: Mapping[str, float | None]) -> list[StepStats]:
    """Mark each step against the latency and error limits; a step not reached is n/a."""
    return [
        step.model_copy(
            update={"passed": None if step.requests == 0 else step_breach(step, limits) is None}
        )
        for step in steps
    ]


def knee(steps: Sequence[StepStats]) -> float | None:
    """The highest target rate of the steps before the first one that broke a budget: 0 when
    the first step already broke one, None when no step was reached (nothing to say)."""
    best = None
    for step in steps:
        if not step.passed:
            break
        best = step.target_rps
    if best is None and any(step.passed is False for step in steps):
        return 0.0
    return best


Figures = dict[str, float | None]


def judge_ramp(
    steps: list[StepStats], budgets: Budgets
) -> tuple[list[StepStats], Figures, list[str]]:
    """Each step against the latency and error budgets; the knee; the generator's health up to
    the knee (the steps the knee claims)."""
    steps = judge_steps(steps, budgets.model_dump())
    found = knee(steps)
    figures: Figures = {"knee_rps": found}
    notes = []
    if found == 0.0:
        notes.append("the first step already broke a budget: no knee")
    elif found is None:
        notes.append("no step of the ramp was reached: no knee")
    elif all(step.passed is not False for step in steps):
        notes.append("every step met the budgets: the knee is above the last step")
    claimed = [s for s in steps if s.passed] or steps[:1]
    lags = [s.lag_p99_ms for s in claimed if s.lag_p99_ms is not None]
    figures["generator_lag_p99_to_knee_ms"] = max(lags) if lags else None
    broken = next((s for s in steps if s.passed is False), None)
    bound = budgets.generator_lag_p99_ms
    if broken is not None and broken.lag_p99_ms is not None and broken.lag_p99_ms > bound:
        notes.append(
            f"{broken.name} broke the budgets while the generator itself lagged (p99 "
            f"{broken.lag_p99_ms:.0f} ms): the knee is at least {found:g} req/s, and the limit "
            "may be this machine's rather than the gateway's"
            if found is not None
            else f"{broken.name} broke the budgets while the generator itself lagged"
        )
    return steps, figures, notes


# --- the budgets file and the always-on checks -----------------------------------------------


def evaluate(budgets: Budgets, result: RunResult, figures: Figures) -> list[BudgetVerdict]:
    """The budgets the file names, each against what the run measured."""
    memory = result.memory
    per_step = result.scenario in STEP_JUDGED_SCENARIOS
    checks: list[tuple[str, float | None, str, float | None, bool]] = [
        ("latency_p50_ms", budgets.latency_p50_ms, "ms", result.latency.p50_ms, False),
        ("latency_p95_ms", budgets.latency_p95_ms, "ms", result.latency.p95_ms, False),
        ("latency_p99_ms", budgets.latency_p99_ms, "ms", result.latency.p99_ms, False),
        ("error_rate", budgets.error_rate, "", result.errors.rate, False),
        ("memory_p95_mb", budgets.memory_p95_mb, "MiB", _mib(memory, "p95_bytes"), False),
        ("memory_max_mb", budgets.memory_max_mb, "MiB", _mib(memory, "max_bytes"), False),
        ("throughput_min_rps", budgets.throughput_min_rps, "req/s", result.throughput_rps, True),
    ]
    verdicts = [
        budget_verdict(name, limit, unit, value, is_minimum)
        for name, limit, unit, value, is_minimum in checks
        if limit is not None and not (per_step and name in STEP_BUDGETS)
    ]
    for name, (figure, unit, is_minimum) in FIGURE_BUDGETS.items():
        limit = getattr(budgets, name)
        if limit is not None:
            verdicts.append(budget_verdict(name, limit, unit, figures.get(figure), is_minimum))
    return verdicts


def _mib(memory: MemoryStats | None, field_name: str) -> float | None:
    return None if memory is None else float(getattr(memory, field_name)) / MIB


@dataclass
class _Checks:
    budgets: Budgets
    verdicts: list[BudgetVerdict] = field(default_factory=list)

    def at_most(self, name: str, limit: float, value: float | None, unit: str = "") -> None:
        self.verdicts.append(budget_verdict(name, limit, unit, value))

    def at_least(self, name: str, limit: float, value: float | None, unit: str = "") -> None:
        self.verdicts.append(budget_verdict(name, limit, unit, value, is_minimum=True))


def always_checked(result: RunResult, budgets: Budgets, figures: Figures) -> list[BudgetVerdict]:
    """The checks every judged run gets (`ALWAYS_ON`), whatever its budgets file names."""
    checks = _Checks(budgets)
    checks.at_least("requests_completed", 1, float(result.latency.count))
    checks.at_least("requests_succeeded", 1, float(result.latency.count - result.errors.total))
    checks.at_most("requests_all_failing", 0, figures.get("all_failing"))
    _container_checks(checks, result)
    if result.responses is not None and result.container is not None:
        checks.at_most("provider_token_in_responses", 0, float(len(result.responses.token_hits)))
    checks.at_least(
        "throughput_ratio", budgets.throughput_min_ratio, figures.get("throughput_ratio")
    )
    if result.readiness is not None:
        failures = _probe_failures(result, result.readiness)
        checks.at_most("ready_probe_failures", budgets.ready_probe_failures_max, failures)
    _generator_checks(checks, result, figures)
    return checks.verdicts


def _probe_failures(result: RunResult, readiness: ReadinessRecord) -> float:
    """Failed readiness probes; a ramp claims only the steps before the first that broke its
    budgets (past its knee the gateway is overloaded on purpose)."""
    broken = next((s for s in result.findings.steps if s.passed is False), None)
    if result.scenario not in STEP_JUDGED_SCENARIOS or broken is None:
        return float(readiness.failures)
    return float(sum(1 for t in readiness.failed_at_s if t < broken.start_s))


def _container_checks(checks: _Checks, result: RunResult) -> None:
    container = result.container
    if container is not None:
        checks.at_most("provider_token_in_logs", 0, float(container.token_in_logs))
        checks.at_most("gateway_oom_killed", 0, float(container.oom_killed))
        if result.shutdown is None:
            checks.at_most("gateway_restarts", 0, float(container.restarts))
        checks.at_most("gateway_healthcheck", 0, float(container.healthcheck_problem is not None))
    shutdown = result.shutdown
    if shutdown is not None:
        checks.at_most("shutdown_exit_code", 0, float(abs(shutdown.exit_code)))
        checks.at_most("shutdown_sigkill_needed", 0, float(shutdown.killed))


def _generator_checks(checks: _Checks, result: RunResult, figures: Figures) -> None:
    generator = result.generator
    if generator is None:
        return
    budgets = checks.budgets
    checks.at_most(
        "generator_cpu_cores",
        budgets.generator_cpu_max_cores,
        generator.busiest_process_cores,
        "cores",
    )
    if generator.model == "open":
        # A ramp claims only the steps up to its knee: the generator must have kept up there.
        lag = figures.get("generator_lag_p99_to_knee_ms", generator.lag_p99_ms)
        lag = _worst_worker_lag(generator, lag)
        checks.at_most("generator_lag_p99_ms", budgets.generator_lag_p99_ms, lag, "ms")
        checks.at_most("generator_missed_sends", 0, float(generator.missed or 0))
    if generator.workers:
        failed = [
            w for w in generator.workers if w.lost_after_s is not None or w.error or w.rejected_rows
        ]
        checks.at_most("generator_workers_lost", 0, float(len(failed)))


def _worst_worker_lag(generator: GeneratorRecord, lag: float | None) -> float | None:
    """Each worker is judged on its own schedule: the merged lag of many workers would hide
    the one that fell behind."""
    lags = [w.lag_p99_ms for w in generator.workers if w.lag_p99_ms is not None]
    if not lags:
        return lag
    return max(lags) if lag is None else max(lag, *lags)


def overall(verdicts: list[BudgetVerdict]) -> bool:
    """A run passes when no budget failed and at least one was measured."""
    return all(v.passed is not False for v in verdicts) and any(v.passed for v in verdicts)


def _goodput_slo_matches(budgets: Budgets, figures: Figures) -> bool:
    ttft, latency = figures.get("goodput_slo_ttft_ms"), figures.get("goodput_slo_latency_ms")
    if ttft is None or latency is None:
        return True  # a result from before the SLO was recorded: judged as it was measured
    return ttft == budgets.goodput_ttft_ms and latency == budgets.goodput_latency_ms


def judge(result: RunResult, budgets: Budgets | None) -> RunResult:
    """The result with its budget verdicts and its verdict, from the result alone.

    `budgets=None` (an explicit `--no-budgets`) judges only the integrity checks: the verdict is
    "no-budgets" unless one of them failed.
    """
    findings = result.findings
    measured: Figures = dict(findings.figures)
    notes = [n for n in findings.notes if not n.startswith(_SLO_NOTE)]
    steps = findings.steps
    if budgets is not None and result.scenario in STEP_JUDGED_SCENARIOS:
        steps, found, said = judge_ramp(steps, budgets)
        measured.update(found)
        notes = [n for n in notes if n not in _RAMP_NOTES and "broke the budgets" not in n]
        notes.extend(said)
    figures = dict(measured)
    with_steps = result.model_copy(
        update={"findings": findings.model_copy(update={"steps": steps})}
    )
    always = always_checked(with_steps, budgets or Budgets(), figures)
    if budgets is None:
        verdicts = [v for v in always if v.name in INTEGRITY_CHECKS]
        verdict: Verdict = "fail" if any(v.passed is False for v in verdicts) else "no-budgets"
    else:
        if not _goodput_slo_matches(budgets, figures):
            figures["goodput"] = None
            notes.append(
                f"{_SLO_NOTE} this run measured goodput against another SLO "
                f"({figures.get('goodput_slo_ttft_ms'):g} ms to the first token, "
                f"{figures.get('goodput_slo_latency_ms'):g} ms in all): run again to judge it"
            )
        notes = [n for n in notes if not n.startswith(_LOOSENED_NOTE)] + _loosened(budgets)
        judged = evaluate(budgets, result, figures)
        verdicts = judged + always
        passed = overall(judged) and all(v.passed is not False for v in always)
        verdict = "pass" if passed else "fail"
    judged_findings = findings.model_copy(
        update={"steps": steps, "notes": notes, "figures": measured}
    )
    return result.model_copy(
        update={"budgets": verdicts, "verdict": verdict, "findings": judged_findings}
    )


_SLO_NOTE = "goodput unavailable:"
_LOOSENED_NOTE = "the budgets file loosens always-on checks:"
_ALWAYS_ON_LIMITS = (
    "throughput_min_ratio",
    "ready_probe_failures_max",
    "generator_lag_p99_ms",
    "generator_cpu_max_cores",
)


def _loosened(budgets: Budgets) -> list[str]:
    """A note naming each always-on limit the file set looser than its default: a budgets file
    in a pull request can quietly turn a check off, so the verdict says so."""
    defaults = Budgets()
    looser = []
    for name in _ALWAYS_ON_LIMITS:
        value, default = getattr(budgets, name), getattr(defaults, name)
        is_floor = name == "throughput_min_ratio"
        if (value < default) if is_floor else (value > default):
            looser.append(f"{name} {value:g} (default {default:g})")
    return [f"{_LOOSENED_NOTE} {', '.join(looser)}"] if looser else []


_RAMP_NOTES = (
    "the first step already broke a budget: no knee",
    "no step of the ramp was reached: no knee",
    "every step met the budgets: the knee is above the last step",
)
