"""A compare in the console: one line per round as it ends, then the metrics table and verdict.

Figures are rounded for people (`number`); every change is printed with its interval, so a
reader sees at once whether "+4 %" was measured to within a percent or within twenty.
"""

from __future__ import annotations

import math

from reports.compare_result import CompareResult, MetricComparison
from reports.result import RunResult

LABELS = {
    "p50": "latency p50",
    "p95": "latency p95",
    "p99": "latency p99",
    "throughput": "throughput",
    "error_rate": "error rate",
    "memory_p95": "memory p95",
    "cpu_per_request": "CPU per request",
}


def number(value: float) -> str:
    """A figure for people: 12,193 not 1.219e+04, 0 not -7.566e-14, 0.9511 as it is."""
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) < 0.0005:
        return "0"
    return f"{value:.4g}"


def round_line(position: int, total: int, side: str, result: RunResult) -> str:
    lat = result.latency
    verdict = {"pass": "PASS", "fail": "FAIL", "no-budgets": "not judged"}[result.verdict]
    return (
        f"round {position}/{total} {side:<4} run {result.run_id}: {lat.count:,} requests, "
        f"p95 {number(lat.p95_ms)} ms, errors {result.errors.rate * 100:.2f} %, {verdict}"
    )


def _signed(metric: MetricComparison, value: float | None) -> str:
    if value is None:
        return "-"
    if metric.kind == "absolute":
        return f"{value * 100:+.2f} pt"
    return f"{value * 100:+.1f} %"


def _value(metric: MetricComparison, value: float | None) -> str:
    if value is None:
        return "-"
    if metric.metric == "error_rate":
        return f"{value * 100:.2f} %"
    return number(value)


def metric_row(metric: MetricComparison) -> tuple[str, ...]:
    """name, base, head, change, interval, threshold, verdict: as people read them."""
    unit = f" {metric.unit}" if metric.unit else ""
    if metric.low is None or metric.high is None:
        interval = "no interval"
    else:
        interval = f"[{_signed(metric, metric.low)}, {_signed(metric, metric.high)}]"
    direction = "+" if metric.higher_is_worse else "-"
    limit = (
        f"{direction}{metric.threshold * 100:g} pt"
        if metric.kind == "absolute"
        else f"{direction}{metric.threshold * 100:g} %"
    )
    return (
        LABELS[metric.metric] + unit,
        _value(metric, metric.base),
        _value(metric, metric.head),
        _signed(metric, metric.change),
        interval,
        limit,
        metric.verdict,
    )


def compare_lines(result: CompareResult) -> list[str]:
    order = " ".join(r.side for r in result.rounds)
    lines = [
        f"compare {result.compare_id}: scenario {result.scenario}, "
        f"{result.rounds_per_side} round(s) per side ({order})",
        f"base: {result.base.gateway}, {result.base.requests:,} requests",
        f"head: {result.head.gateway}, {result.head.requests:,} requests",
    ]
    header = ("metric", "base", "head", "change", f"{result.confidence:.0%} interval", "limit", "")
    rows = [header, *(metric_row(m) for m in result.metrics)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        lines.append(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    lines += [f"problem: {p}" for p in result.problems]
    lines += [f"note: {n}" for n in result.notes]
    lines.append(f"verdict: {verdict_line(result)}")
    return lines


def verdict_line(result: CompareResult) -> str:
    if result.verdict == "pass":
        return "PASS (nothing regressed)"
    reasons = [f"{LABELS[m.metric]} regressed {_signed(m, m.change)}" for m in result.regressed]
    if result.problems:
        reasons.append(f"{len(result.problems)} problem(s) with the rounds")
    return "FAIL (" + "; ".join(reasons) + ")"
