"""The HTML report: one self-contained file rendered from a result alone."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from reports.charts import nice_ticks
from reports.junit import junit_xml
from reports.render import render_report, write_report
from reports.result import (
    Findings,
    GeneratorRecord,
    ShutdownRecord,
    StepStats,
    WorkerRecord,
    load_result,
)
from tests.unit.conftest import sample_result
from tests.unit.reports.fixtures import stalled_result

if TYPE_CHECKING:
    from tests.unit.conftest import MakeResult


def test_report_is_self_contained(make_result: MakeResult) -> None:
    """No script, stylesheet, image or font is fetched from anywhere: it works offline."""
    html = render_report(make_result())
    assert not re.search(r"<(script|link|img|iframe)\b", html)
    assert "url(" not in html and "@import" not in html
    assert html.count("<svg") == 4  # latency, throughput, memory, cpu


def test_report_shows_summary_budgets_and_limit(make_result: MakeResult) -> None:
    """Verdict, percentiles, budgets with their verdicts, and the memory limit line are there."""
    html = render_report(make_result(verdict="fail"))
    assert "FAIL" in html and "memory_p95_mb" in html and "latency_p95_ms" in html
    assert "110.0 ms" in html  # p95
    assert "limit 512 MiB" in html
    assert "http_502" in html


def test_report_round_trips_through_the_result_file(
    tmp_path: Path, make_result: MakeResult
) -> None:
    """A saved result loads back identically and renders to a file."""
    result = make_result()
    result.save(tmp_path)
    loaded = load_result(tmp_path / "result.json")
    assert loaded == result
    assert write_report(loaded, tmp_path).read_text().startswith("<!doctype html>")


def test_junit_marks_failed_budgets(make_result: MakeResult) -> None:
    """Each budget is a test case; the breached one is a failure."""
    xml = junit_xml(make_result(verdict="fail"))
    assert 'tests="2"' in xml and 'failures="1"' in xml
    assert "memory_p95_mb: 60 MiB, beyond its limit 40 MiB" in xml


def test_chart_axes_cover_every_point() -> None:
    """Ticks start at or below the lowest value and end at or above the highest."""
    for low, high in [(0.0, 15.6), (-1.2, 15.0), (0.0, 0.37), (3.0, 3.0)]:
        ticks = nice_ticks(low, high)
        assert ticks[0] <= low
        assert ticks[-1] >= high


def test_limits_are_shown_with_units(make_result: MakeResult) -> None:
    """The deployment table shows cores and MiB, not raw byte counts."""
    html = render_report(make_result())
    assert "1 core / not set" in html
    assert "512.0 MiB / not set" in html
    assert "536870912" not in html


def test_report_shows_what_the_scenario_found(make_result: MakeResult) -> None:
    """Findings, steps, the generator, shutdown figures and connections are rendered."""
    base = make_result()
    step = StepStats(
        name="step 1: 100 req/s",
        start_s=0,
        end_s=8,
        target_rps=100,
        requests=800,
        throughput_rps=100,
        error_rate=0,
        p50_ms=40,
        p95_ms=90,
        p99_ms=120,
        passed=True,
    )
    result = base.model_copy(
        update={
            "findings": Findings(figures={"knee_rps": 1600.0}, notes=["a note"], steps=[step]),
            "generator": GeneratorRecord(
                model="open",
                processes=1,
                cpu_s=3,
                wall_s=30,
                busiest_process_cores=0.1,
                scheduled=800,
                sent=800,
                missed=0,
                unfinished=0,
                lag_p50_ms=0.2,
                lag_p99_ms=1.5,
                lag_max_ms=3.0,
            ),
            "shutdown": ShutdownRecord(
                sigterm_at=0,
                not_ready_after_s=0.019,
                not_ready_answer="503",
                exited_after_s=1.2,
                exit_code=0,
                killed=False,
            ),
            "resources": [
                p.model_copy(update={"open_fds": 30, "tcp_inbound": 8, "tcp_outbound": 4})
                for p in base.resources
            ],
        }
    )
    html = render_report(result)
    assert "knee_rps" in html and "1,600" in html and "a note" in html
    assert "step 1: 100 req/s" in html
    assert "open model" in html and "Schedule lag" in html
    assert "19.0 ms (503)" in html and "exit code 0" in html
    assert html.count("<svg") == 5


def test_report_shows_both_latencies_the_readiness_probes_and_token_hits(
    make_result: MakeResult,
) -> None:
    """Corrected and service latency side by side; probe failures; where the token leaked."""
    from reports.result import LatencyStats, ReadinessRecord, ResponseScan, TokenHit

    result = make_result(verdict="fail").model_copy(
        update={
            "service_latency": LatencyStats(
                count=600, mean_ms=40, p50_ms=41, p90_ms=70, p95_ms=77.5, p99_ms=99, max_ms=120
            ),
            "readiness": ReadinessRecord(
                path="/ready",
                timeout_s=1,
                probes=30,
                failures=4,
                first_failure="timeout after 1 s at 3.0 s into the load",
            ),
            "responses": ResponseScan(
                scanned_non_2xx=12,
                scanned_2xx=6,
                token_hits=[TokenHit(route="/v1/infer", status=502, where="body")],
            ),
        }
    )
    html = render_report(result)
    assert "Service time" in html and "77.5 ms" in html and "110.0 ms" in html
    assert "4 of 30 failed" in html and "timeout after 1 s at 3.0 s" in html
    assert "found in 1" in html and "/v1/infer 502 body" in html


def test_report_draws_latency_by_percentile_beside_service_time() -> None:
    """With both distributions, one chart holds the corrected line and the service-time line."""
    html = render_report(stalled_result())
    assert html.count("<svg") == 5 and "Latency by percentile" in html
    assert ">latency from the intended send</text>" in html
    assert ">service time (actual send)</text>" in html
    assert "coordinated omission" in html
    assert "Latency by percentile" not in render_report(sample_result())


def test_report_lists_each_worker_of_a_distributed_run(make_result: MakeResult) -> None:
    """One row per worker: its host (escaped), share, requests, lag, and lost or not."""
    worker = {
        "index": 0, "host": "<b>load-0</b>", "share": "send 1 of every 2", "requests": 6000,
        "rejected_rows": 0, "cpu_s": 1.2, "wall_s": 20.0, "cores": 0.06, "lag_p50_ms": 0.5,
        "lag_p99_ms": 5.0, "scheduled": 6000, "sent": 6000, "missed": 0, "unfinished": 0,
        "lost_after_s": None, "error": None,
    }  # fmt: skip
    lost = {**worker, "index": 1, "host": "load-1", "requests": 900, "lost_after_s": 9.25}
    generator = GeneratorRecord(
        model="open", processes=2, cpu_s=1.5, wall_s=20.0, busiest_process_cores=0.06,
        scheduled=12000, sent=6900, missed=0, unfinished=0, lag_p50_ms=0.5, lag_p99_ms=5.0,
        lag_max_ms=9.0, workers=[WorkerRecord(**worker), WorkerRecord(**lost)],
    )  # fmt: skip
    html = render_report(make_result().model_copy(update={"generator": generator}))
    assert "Workers (2;" in html
    assert "&lt;b&gt;load-0&lt;/b&gt;" in html and "<b>load-0</b>" not in html
    assert "6,000 / 0" in html
    assert "<strong>lost</strong> 9.2 s into the load" in html
