"""compare.html: verdict, metrics, the overlay plot and linked rounds, escaped everywhere; the
compare's own junit.xml."""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree import ElementTree as ET

from reports.compare_render import render_compare_report, write_compare_report
from reports.compare_result import CompareResult, load_compare
from reports.junit import JUNIT_FILE
from reports.outputs import write_compare_outputs
from tests.unit.reports.fixtures import PERCENTILES, sample_compare

HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(1)">'


def test_report_shows_verdict_metrics_and_interval() -> None:
    """FAIL with the regressed metrics, each metric's change and its 95 % interval."""
    html = render_compare_report(sample_compare())
    assert '<span class="badge fail">FAIL</span>' in html
    assert "FAIL: latency p50 regressed, latency p95 regressed" in html
    assert "<th>95 % CI</th>" in html
    assert '<td class="num">+25.0 %</td><td class="num">+23.0 % … +27.0 %</td>' in html
    assert "two-stage bootstrap, 2,000 resamples" in html


def test_report_is_self_contained_with_one_overlay_chart() -> None:
    """No script, stylesheet or image is fetched; one chart holds both sides and every round."""
    result = sample_compare()
    html = render_compare_report(result)
    assert not re.search(r"<(script|link|img|iframe)\b", html)
    assert "url(" not in html and "@import" not in html
    assert html.count("<svg") == 1
    round_points = len(result.rounds) * len(PERCENTILES)
    maxima = 2  # one marker on each side's line
    assert html.count("<circle") == round_points + maxima


def test_rounds_link_to_their_run_reports_in_order() -> None:
    """Each round links to `<run_id>/report.html`, in the order the rounds ran."""
    html = render_compare_report(sample_compare())
    links = re.findall(r'<a href="([^"]+)">', html)
    assert links == [
        f"20260101-00000{n}-{side}/report.html"
        for n, side in [(1, "base"), (2, "head"), (3, "head"), (4, "base")]
    ]


def test_text_from_the_file_is_escaped() -> None:
    """Scenario, gateway, problems, notes and failed checks are text, never markup."""
    result = sample_compare()
    failed = result.rounds[0].model_copy(update={"verdict": "fail", "failed_checks": [HOSTILE]})
    crafted = result.model_copy(
        update={
            "scenario": HOSTILE,
            "base": result.base.model_copy(update={"gateway": HOSTILE}),
            "problems": [HOSTILE],
            "notes": [HOSTILE],
            "rounds": [failed, *result.rounds[1:]],
        }
    )
    html = render_compare_report(crafted)
    assert "<script>" not in html and "<img" not in html
    assert html.count("&lt;script&gt;") >= 5


def test_a_compare_without_distributions_says_so() -> None:
    """Stored runs without distributions leave a sentence where the chart would be."""
    result = sample_compare()
    bare = result.model_copy(
        update={
            "base": result.base.model_copy(update={"distribution": []}),
            "head": result.head.model_copy(update={"distribution": []}),
            "rounds": [r.model_copy(update={"distribution": []}) for r in result.rounds],
        }
    )
    assert "no data</p>" in render_compare_report(bare)


def test_written_from_a_saved_compare(tmp_path: Path) -> None:
    """compare.json round-trips and renders to compare.html beside it."""
    result: CompareResult = sample_compare()
    result.save(tmp_path)
    path = write_compare_report(load_compare(tmp_path), tmp_path)
    assert path == tmp_path / "compare.html"
    assert path.read_text().startswith("<!doctype html>")


def test_a_compare_has_one_junit_file_of_its_metrics_and_problems(tmp_path: Path) -> None:
    """The compare's own JUnit: a regressed metric and each problem fail a case, the rest pass;
    its rounds' files are not what CI is shown."""
    result = sample_compare(regressed=True).model_copy(
        update={"problems": ["the head failed an always-on check the base passed: oom"]}
    )
    write_compare_outputs(result, tmp_path)
    suite = ET.parse(tmp_path / JUNIT_FILE).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures")) == ("8", "3")
    failures = {
        case.get("name"): failure.get("message", "")
        for case in suite.iter("testcase")
        if (failure := case.find("failure")) is not None
    }
    assert set(failures) == {"p50", "p95", "problem 1"}
    assert failures["p95"].startswith("latency p95 regressed: +25.0 %")
    assert "threshold" in failures["p95"] and "oom" in failures["problem 1"]


def test_a_passing_compare_has_no_failed_case(tmp_path: Path) -> None:
    """An unchanged head: every metric's case passes."""
    write_compare_outputs(sample_compare(regressed=False), tmp_path)
    suite = ET.parse(tmp_path / JUNIT_FILE).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "0"
