"""compare.html: a base gateway against a head gateway, in one self-contained page.

The verdict, each metric's change with its confidence interval, both sides' pooled latency by
percentile with each round's percentiles around them (so a verdict driven by one odd round is
seen as such), and every round linked to its own run report. Rendered from `compare.json`
alone; the environment, filters and escaping are the run report's.
"""

from __future__ import annotations

from pathlib import Path

from reports.atomic import write_atomic
from reports.charts import Series, percentile_chart
from reports.compare_figures import headline, interval_label, metric_row, round_row
from reports.compare_result import CompareResult
from reports.render import environment
from reports.result import PercentilePoint

COMPARE_REPORT_FILE = "compare.html"


def overlay_chart(result: CompareResult) -> str:
    """Base and head pooled distributions as lines, each round's distribution as points."""
    lines = [_series(side.side, side.distribution) for side in (result.base, result.head)]
    dots = [_series(item.side, item.distribution) for item in result.rounds]
    return percentile_chart("Latency by percentile: base and head", lines, dots)


def _series(name: str, distribution: list[PercentilePoint]) -> Series:
    return Series(name, [(p.percentile, p.latency_ms) for p in distribution])


def render_compare_report(result: CompareResult) -> str:
    """The compare report as one HTML document (autoescaped; run ids are plain names)."""
    return (
        environment()
        .get_template("compare.html.j2")
        .render(
            result=result,
            headline=headline(result),
            interval=interval_label(result),
            metrics=[metric_row(m) for m in result.metrics],
            methods=sorted({m.method for m in result.metrics}),
            rounds=[round_row(r) for r in sorted(result.rounds, key=lambda r: r.order)],
            chart=overlay_chart(result),
        )
    )


def write_compare_report(result: CompareResult, directory: Path) -> Path:
    """Write `directory/compare.html` atomically and return its path."""
    path = directory / COMPARE_REPORT_FILE
    write_atomic(path, render_compare_report(result))
    return path
