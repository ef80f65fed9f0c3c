"""One self-contained HTML report from a `RunResult` (jinja2, inline SVG charts, inline CSS)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from reports import figures
from reports.atomic import write_atomic
from reports.charts import Series, Threshold, line_chart, percentile_chart
from reports.result import PercentilePoint, RunResult

MIB = figures.MIB
REPORT_FILE = "report.html"


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("reports", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        number=figures.number,
        measured=figures.measured,
        count=figures.count,
        mib=figures.mib,
        cores=figures.cores,
        ms=figures.ms,
        pct=figures.percent,
        change=figures.signed_percent,
        rps=figures.per_second,
        fixed=figures.fixed,
    )
    env.filters["when"] = lambda ts: datetime.fromtimestamp(ts, UTC).strftime(
        "%Y-%m-%d %H:%M:%S UTC"
    )
    return env


def charts(result: RunResult) -> dict[str, str]:
    timeline = result.timeline
    latency = line_chart(
        "Latency percentiles per second",
        [
            Series("p50", [(p.t, p.p50_ms) for p in timeline]),
            Series("p95", [(p.t, p.p95_ms) for p in timeline]),
            Series("p99", [(p.t, p.p99_ms) for p in timeline]),
        ],
        "milliseconds",
    )
    throughput = line_chart(
        "Throughput and errors",
        [
            Series("requests/s", [(p.t, float(p.requests)) for p in timeline]),
            Series("errors/s", [(p.t, float(p.errors)) for p in timeline]),
        ],
        "per second",
    )
    out = {"latency": latency, "throughput": throughput}
    if result.latency_distribution:
        out["distribution"] = distribution_chart(result)
    if result.resources:
        limit = result.memory.limit_bytes if result.memory else None
        out["memory"] = line_chart(
            "Gateway working-set memory",
            [Series("working set", [(p.t, p.memory_bytes / MIB) for p in result.resources])],
            "MiB",
            Threshold(f"limit {limit / MIB:,.0f} MiB", limit / MIB) if limit else None,
        )
        cpu_limit = result.cpu.limit_cores if result.cpu else None
        out["cpu"] = line_chart(
            "Gateway CPU",
            [Series("cores", [(p.t, p.cpu_cores) for p in result.resources])],
            "cores",
            Threshold(f"limit {cpu_limit:g} cores", cpu_limit) if cpu_limit else None,
        )
        if any(p.open_fds is not None for p in result.resources):
            out["connections"] = line_chart(
                "Gateway file descriptors and TCP connections",
                [
                    Series("open fds", [(p.t, _num(p.open_fds)) for p in result.resources]),
                    Series("inbound", [(p.t, _num(p.tcp_inbound)) for p in result.resources]),
                    Series("outbound", [(p.t, _num(p.tcp_outbound)) for p in result.resources]),
                ],
                "count",
            )
    return out


def distribution_chart(result: RunResult) -> str:
    """The run's latency by percentile; beside it the service time, when the load kept a
    schedule: the gap between the two lines is the wait that coordinated omission hides."""
    lines = [_line("latency from the intended send", result.latency_distribution)]
    if result.service_latency_distribution:
        lines.append(_line("service time (actual send)", result.service_latency_distribution))
    return percentile_chart("Latency by percentile", lines)


def _line(name: str, distribution: list[PercentilePoint]) -> Series:
    return Series(name, [(p.percentile, p.latency_ms) for p in distribution])


def _num(value: int | None) -> float | None:
    return None if value is None else float(value)


def render_report(result: RunResult) -> str:
    template = environment().get_template("report.html.j2")
    return template.render(result=result, charts=charts(result))


def write_report(result: RunResult, run_dir: Path) -> Path:
    path = run_dir / REPORT_FILE
    write_atomic(path, render_report(result))
    return path
