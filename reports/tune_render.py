"""The tune report: every run tried, latency against CPU limit, the recommendation and its proof."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment

from reports.atomic import write_atomic
from reports.charts import Series, line_chart
from reports.render import MIB, charts, environment
from reports.result import ResultFileError, load_result
from reports.tune_result import TuneResult

TUNE_REPORT_FILE = "tune.html"


def _latency_against_cpu(result: TuneResult) -> str:
    measured = sorted((p for p in result.points if p.p95_ms is not None), key=lambda p: p.cpus)
    return line_chart(
        "Latency against CPU limit",
        [
            Series("p95", [(p.cpus, p.p95_ms) for p in measured]),
            Series("p99", [(p.cpus, p.p99_ms) for p in measured]),
        ],
        "milliseconds",
        x_label="CPU limit (cores)",
    )


def render_tune_report(result: TuneResult, directory: Path) -> str:
    confirmation = next((p for p in result.points if p.role == "confirmation"), None)
    memory_chart = ""
    if confirmation is not None and confirmation.run_id is not None:
        try:
            run = load_result(directory / confirmation.run_id)
            memory_chart = charts(run).get("memory", "")
        except ResultFileError:
            memory_chart = '<p class="empty">the confirmation run\'s result file is missing</p>'
    env: Environment = environment()
    return env.get_template("tune.html.j2").render(
        result=result,
        confirmation=confirmation,
        latency_chart=_latency_against_cpu(result),
        memory_chart=memory_chart,
        MIB=MIB,
    )


def write_tune_report(result: TuneResult, directory: Path) -> Path:
    path = directory / TUNE_REPORT_FILE
    write_atomic(path, render_tune_report(result, directory))
    return path
