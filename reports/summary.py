"""`summary.md`: a run (or a compare) in a few lines of Markdown, for a pull-request comment.

CI posts it as a comment or appends it to the job's summary page (`$GITHUB_STEP_SUMMARY`), so
a reviewer sees the verdict and its reasons without opening an artifact. Figures go through
`reports.figures`; every piece of text that comes from the result goes through
`reports.markdown.inert` (see there why: a hostile gateway's error body ends up here).
"""

from __future__ import annotations

from pathlib import Path

from reports.atomic import write_atomic
from reports.compare_figures import headline, interval_label, metric_row, round_row
from reports.compare_result import CompareResult, SideRecord
from reports.figures import cores, count, measured, mib, ms, per_second, percent
from reports.markdown import inert, table
from reports.result import BudgetVerdict, RunResult

SUMMARY_FILE = "summary.md"
SHOWN_FAILURES = 3
"""Failed answers quoted in a summary (the report holds the rest)."""


class StepSummaryError(OSError):
    """The CI step summary file (`$GITHUB_STEP_SUMMARY`) could not be appended to."""


def run_summary(result: RunResult) -> str:
    """The run as Markdown: verdict, key figures, budgets, what it found."""
    parts = [_headline(result), _key_figures(result)]
    if result.budgets:
        parts.append("#### Budgets\n\n" + _budgets(result.budgets))
    findings = _findings(result)
    if findings:
        parts.append("#### Findings\n\n" + "\n".join(f"- {line}" for line in findings))
    parts.append(f"<sub>run {inert(result.run_id)} · full report: report.html beside this</sub>")
    return "\n\n".join(parts) + "\n"


def _headline(result: RunResult) -> str:
    scenario = inert(result.scenario, 80)
    if result.verdict == "pass":
        return f"### loadgate {scenario}: PASS"
    if result.verdict == "no-budgets":
        return f"### loadgate {scenario}: NOT JUDGED (run with \\-\\-no\\-budgets)"
    failed = [b for b in result.budgets if b.passed is False]
    shown = ", ".join(
        f"{inert(b.name, 80)} ({_observed(b)}, limit {measured(b.limit, inert(b.unit, 20))})"
        for b in failed
    )
    return f"### loadgate {scenario}: FAIL\n\nFailed: {shown or 'see the report'}"


def _observed(budget: BudgetVerdict) -> str:
    return measured(budget.observed, inert(budget.unit, 20))


def _key_figures(result: RunResult) -> str:
    figures = result.findings.figures
    offered, served = figures.get("offered_rps"), figures.get("achieved_rps")
    if offered is not None:
        rate = f"offered {per_second(offered)}, served {per_second(served)}"
    elif result.target_rps:
        rate = f"target {per_second(result.target_rps)}, served {per_second(result.throughput_rps)}"
    else:
        rate = f"served {per_second(result.throughput_rps)}"
    lat = result.latency
    rows = [
        ["Requests", f"{count(lat.count)} in {measured(result.load_duration_s, 's')}"],
        ["Rate", rate],
        ["Errors", f"{percent(result.errors.rate)} ({count(result.errors.total)})"],
        ["Latency p50 / p95 / p99", f"{ms(lat.p50_ms)} / {ms(lat.p95_ms)} / {ms(lat.p99_ms)}"],
    ]
    service = result.service_latency
    if service is not None:
        rows[-1][0] += " (from the intended send)"
        rows.append(
            [
                "Service time p50 / p95 / p99 (from the actual send)",
                f"{ms(service.p50_ms)} / {ms(service.p95_ms)} / {ms(service.p99_ms)}",
            ]
        )
    return table(["Figure", "Value"], rows + _resource_rows(result))


def _resource_rows(result: RunResult) -> list[list[str]]:
    rows = []
    memory, cpu = result.memory, result.cpu
    if memory is not None:
        rows.append(
            [
                "Memory p95 / max",
                f"{mib(memory.p95_bytes)} / {mib(memory.max_bytes)} "
                f"(limit {mib(memory.limit_bytes, 'none')})",
            ]
        )
    if cpu is not None:
        throttled = measured(cpu.throttled_s, "s")
        rows.append(
            [
                "CPU mean / p95",
                f"{measured(cpu.mean_cores)} / {cores(cpu.p95_cores)} "
                f"(limit {cores(cpu.limit_cores, 'none')}), throttled {throttled}",
            ]
        )
    return rows


def _budgets(budgets: list[BudgetVerdict]) -> str:
    marks = {True: "pass", False: "**FAIL**", None: "not measured"}
    rows = [
        [inert(b.name, 80), _observed(b), measured(b.limit, inert(b.unit, 20)), marks[b.passed]]
        for b in budgets
    ]
    return table(["Check", "Observed", "Limit", "Result"], rows)


def _findings(result: RunResult) -> list[str]:
    lines = [inert(note) for note in result.findings.notes]
    scan = result.responses
    if scan is not None:
        if scan.token_hits:
            where = "; ".join(
                inert(f"{hit.route} {hit.status} ({hit.where})", 120) for hit in scan.token_hits[:5]
            )
            lines.append(
                f"**the provider token was in {count(len(scan.token_hits))} answer(s)**: {where}"
            )
        for failure in scan.first_failures[:SHOWN_FAILURES]:
            lines.append(
                f"failed answer: {failure.status} on {inert(failure.route, 120)}: "
                f"{inert(failure.error, 120)} {inert(failure.body, 240)}".rstrip()
            )
    container = result.container
    if container is not None and container.token_in_logs:
        lines.append("**the provider token was in the logs of a container of the stack**")
    return lines


def compare_summary(result: CompareResult) -> str:
    """The compare as Markdown: verdict, metrics with intervals, sides, rounds, problems."""
    parts = [
        f"### loadgate compare {inert(result.scenario, 80)}: {headline(result)}",
        _metrics(result),
        "#### Sides\n\n"
        + table(
            ["Side", "Gateway", "Image", "Rounds", "Requests"],
            [_side(result.base), _side(result.head)],
        ),
        "#### Rounds\n\n" + _rounds(result),
    ]
    if result.problems:
        parts.append("#### Problems\n\n" + "\n".join(f"- {inert(p)}" for p in result.problems))
    if result.notes:
        parts.append("#### Notes\n\n" + "\n".join(f"- {inert(n)}" for n in result.notes))
    parts.append(f"<sub>compare {inert(result.compare_id)} · full report: compare.html</sub>")
    return "\n\n".join(parts) + "\n"


def _metrics(result: CompareResult) -> str:
    rows = []
    for metric in result.metrics:
        row = metric_row(metric)
        verdict = f"**{row.verdict}**" if row.regressed else row.verdict
        figures = [row.change, row.interval, row.threshold]  # numbers and our units only
        rows.append([row.metric, inert(row.base, 80), inert(row.head, 80), *figures, verdict])
    header = ["Metric", "Base", "Head", "Change", interval_label(result), "Threshold", "Verdict"]
    methods = sorted({inert(m.method, 120) for m in result.metrics})
    note = f"\n\nIntervals: {'; '.join(methods)}." if methods else ""
    return table(header, rows) + note


def _side(side: SideRecord) -> list[str]:
    image = "n/a" if side.image_id is None else inert(side.image_id[:19], 19)
    return [side.side, inert(side.gateway, 160), image, count(side.rounds), count(side.requests)]


def _rounds(result: CompareResult) -> str:
    rows = []
    for item in sorted(result.rounds, key=lambda r: r.order):
        row = round_row(item)
        verdict = f"**{inert(row.verdict, 300)}**" if row.failed else inert(row.verdict, 300)
        rows.append([str(row.order), row.side, inert(row.run_id), row.requests, row.p95, verdict])
    return table(["#", "Side", "Run", "Requests", "p95", "Verdict"], rows)


def write_summary(text: str, directory: Path, step_summary: Path | None = None) -> Path:
    """Write `directory/summary.md` atomically; append `text` to `step_summary` when given.

    The summary file is written first, so a step summary that cannot be appended to (raised as
    `StepSummaryError`, an OSError naming the file) leaves the run's own files complete: the
    caller prints a warning and carries on."""
    path = directory / SUMMARY_FILE
    write_atomic(path, text)
    if step_summary is not None:
        _append(text, step_summary)
    return path


def append_step_summary(run_dir: Path, step_summary: str | None) -> str | None:
    """Append `run_dir/summary.md` to the CI step summary file named by `step_summary` (the
    CLI passes `$GITHUB_STEP_SUMMARY`; None or empty: nothing to do). Returns a warning line when
    it could not, never raises: a run's verdict does not depend on CI's summary page."""
    if not step_summary:
        return None
    try:
        _append((run_dir / SUMMARY_FILE).read_text(encoding="utf-8"), Path(step_summary))
    except OSError as exc:
        return str(exc) if isinstance(exc, StepSummaryError) else f"no summary.md: {exc}"
    return None


def _append(text: str, step_summary: Path) -> None:
    try:
        with step_summary.open("a", encoding="utf-8") as file:
            file.write(text if text.endswith("\n") else text + "\n")
    except OSError as exc:
        raise StepSummaryError(
            f"cannot append to the step summary {step_summary}: {exc.strerror or exc}"
        ) from exc
