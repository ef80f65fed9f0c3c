"""A compare's figures as people read them: one set of rows for summary.md, compare.html and
the console, so the three never disagree on a rounding or a sign.

A change is relative (+12.3 %: head 12.3 % above base) except the error rate's, which is the
difference of two rates in percentage points (+0.50 pp). Cells hold text that may come from the
file (a unit); each consumer escapes for its medium (Jinja autoescape, `markdown.inert`).
"""

from __future__ import annotations

from dataclasses import dataclass

from reports.compare_result import CompareResult, CompareRound, Metric, MetricComparison
from reports.figures import count, fixed, measured, mib, ms, per_second, percent, signed_percent
from reports.markdown import visible
from reports.result import RunResult

LABELS: dict[Metric, str] = {
    "p50": "latency p50",
    "p95": "latency p95",
    "p99": "latency p99",
    "throughput": "throughput",
    "error_rate": "error rate",
    "memory_p95": "memory p95",
    "cpu_per_request": "CPU per request",
}
VERDICTS = {
    "regressed": "REGRESSED",
    "improved": "improved",
    "unchanged": "unchanged",
    "unavailable": "n/a",
}


@dataclass(frozen=True)
class MetricRow:
    """One metric of a compare, every figure as text."""

    metric: str
    base: str
    head: str
    change: str
    interval: str
    threshold: str
    verdict: str
    regressed: bool


@dataclass(frozen=True)
class RoundRow:
    """One round of a compare, every figure as text."""

    order: int
    side: str
    run_id: str
    requests: str
    errors: str
    p95: str
    throughput: str
    verdict: str
    failed: bool


def interval_label(result: CompareResult) -> str:
    """The interval column's name: "95 % CI"."""
    return f"{fixed(result.confidence * 100, 0 if result.confidence * 100 % 1 == 0 else 1)} % CI"


def value(metric: MetricComparison, figure: float | None) -> str:
    """A base or head figure in its unit: ms, req/s, a percentage, MiB for bytes."""
    if figure is None:
        return "n/a"
    if metric.metric == "error_rate":
        return percent(figure)
    unit = metric.unit
    if unit == "ms":
        return ms(figure)
    if unit == "req/s":
        return per_second(figure)
    if unit == "bytes":
        return mib(figure)
    return measured(figure, visible(unit, 20))


def change(metric: MetricComparison, figure: float | None) -> str:
    """A change: signed percent when relative, signed percentage points when absolute."""
    if figure is None:
        return "n/a"
    if metric.kind == "relative":
        return signed_percent(figure)
    shown = fixed(figure * 100, 2)
    positive = not shown.startswith("-") and shown.strip("0.,")
    return f"{'+' if positive else ''}{shown} pp"


def metric_row(metric: MetricComparison) -> MetricRow:
    """`metric` as text: the threshold is signed in the direction that counts as worse."""
    interval = (
        "n/a"
        if metric.low is None or metric.high is None
        else f"{change(metric, metric.low)} … {change(metric, metric.high)}"
    )
    worse = metric.threshold if metric.higher_is_worse else -metric.threshold
    return MetricRow(
        metric=LABELS.get(metric.metric, metric.metric),
        base=value(metric, metric.base),
        head=value(metric, metric.head),
        change=change(metric, metric.change),
        interval=interval,
        threshold=change(metric, worse),
        verdict=VERDICTS[metric.verdict],
        regressed=metric.verdict == "regressed",
    )


def round_row(item: CompareRound) -> RoundRow:
    """`item` as text; a failed round names the checks it failed."""
    verdict = {"pass": "pass", "fail": "FAIL", "no-budgets": "not judged"}[item.verdict]
    if item.failed_checks:
        verdict += ": " + ", ".join(visible(check, 80) for check in item.failed_checks)
    return RoundRow(
        order=item.order,
        side=item.side,
        run_id=item.run_id,
        requests=count(item.requests),
        errors=count(item.errors),
        p95=ms(item.p95_ms),
        throughput=per_second(item.throughput_rps),
        verdict=verdict,
        failed=item.verdict == "fail",
    )


def headline(result: CompareResult) -> str:
    """PASS, or FAIL with the regressed metrics and the number of problems."""
    if result.verdict == "pass":
        return "PASS"
    reasons = [f"{LABELS.get(m.metric, m.metric)} regressed" for m in result.regressed]
    if result.problems:
        reasons.append(f"{len(result.problems)} problem{'s' if len(result.problems) > 1 else ''}")
    return "FAIL" + (f": {', '.join(reasons)}" if reasons else "")


def compare_table(result: CompareResult) -> str:
    """The metrics as a plain-text table for the console, then the verdict line."""
    header = ("metric", "base", "head", "change", interval_label(result), "threshold", "verdict")
    rows = [header] + [
        (r.metric, r.base, r.head, r.change, r.interval, r.threshold, r.verdict)
        for r in (metric_row(m) for m in result.metrics)
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines += [f"problem: {visible(p)}" for p in result.problems]
    lines += [f"note: {visible(n)}" for n in result.notes]
    lines.append(f"verdict: {headline(result)}")
    return "\n".join(lines)


def round_line(position: int, total: int, side: str, result: RunResult) -> str:
    """One round as it ends, for the console."""
    lat = result.latency
    verdict = {"pass": "pass", "fail": "FAIL", "no-budgets": "not judged"}[result.verdict]
    return (
        f"round {position}/{total} {side:<4} run {result.run_id}: {count(lat.count)} requests, "
        f"p95 {ms(lat.p95_ms)}, errors {percent(result.errors.rate)}, {verdict}"
    )


def compare_lines(result: CompareResult) -> list[str]:
    """The whole compare for the console: what ran, the metrics table, the verdict."""
    order = " ".join(r.side for r in result.rounds)
    return [
        f"compare {result.compare_id}: scenario {result.scenario}, "
        f"{result.rounds_per_side} round(s) per side ({order})",
        f"base: {visible(result.base.gateway)}, {count(result.base.requests)} requests",
        f"head: {visible(result.head.gateway)}, {count(result.head.requests)} requests",
        *compare_table(result).splitlines(),
    ]
