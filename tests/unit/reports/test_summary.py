"""summary.md: the run in Markdown for a pull-request comment, inert whatever the result holds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from harness.cli import main
from reports.outputs import write_run_outputs
from reports.result import (
    FailedAnswer,
    Findings,
    LatencyStats,
    ResponseScan,
    RunResult,
    TokenHit,
)
from reports.summary import (
    SUMMARY_FILE,
    StepSummaryError,
    append_step_summary,
    compare_summary,
    run_summary,
    write_summary,
)
from tests.unit.conftest import sample_result
from tests.unit.reports.fixtures import sample_compare

HOSTILE = (
    "![x](https://evil.example/p.png) <img src=x onerror=alert(1)> <script>alert(1)</script> "
    "[approve](javascript:alert(1)) <https://evil.example> @octocat #1\n| forged | row |\n# Title"
)


def rendered(markdown: str) -> str:
    """The HTML a CommonMark renderer (raw HTML allowed, tables on) makes of `markdown`."""
    html: str = MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)
    return html


def hostile_result() -> RunResult:
    base = sample_result(verdict="fail")
    return base.model_copy(
        update={
            "scenario": "smoke<b>",
            "findings": Findings(notes=[HOSTILE]),
            "responses": ResponseScan(
                scanned_non_2xx=1,
                scanned_2xx=0,
                token_hits=[TokenHit(route="/v1/[x](y)", status=200, where="body")],
                first_failures=[
                    FailedAnswer(route="/v1/chat", status=502, error="http_502", body=HOSTILE)
                ],
            ),
        }
    )


def test_passing_run_shows_verdict_figures_and_budgets() -> None:
    """A pass names the scenario, the key figures rounded for people and each budget."""
    text = run_summary(sample_result())
    assert text.startswith("### loadgate smoke: PASS")
    assert "| Requests | 600 in 15 s |" in text
    assert "target 40.0 req/s, served 39.5 req/s" in text
    assert "| Errors | 0.50 % (3) |" in text
    assert "50.0 ms / 110.0 ms / 150.0 ms" in text
    assert "60.0 MiB / 64.0 MiB (limit 512.0 MiB)" in text
    assert "| latency\\_p95\\_ms | 110 ms | 250 ms | pass |" in text


def test_failing_run_names_its_failed_checks() -> None:
    """The headline of a failed run lists each failed check with its figure and limit."""
    text = run_summary(sample_result(verdict="fail"))
    assert "### loadgate smoke: FAIL\n\nFailed: memory\\_p95\\_mb (60 MiB, limit 40 MiB)" in text
    assert "| memory\\_p95\\_mb | 60 MiB | 40 MiB | **FAIL** |" in text


def test_unjudged_run_says_so() -> None:
    """A --no-budgets run is NOT JUDGED, and renders as such."""
    result = sample_result().model_copy(update={"verdict": "no-budgets", "budgets": []})
    html = rendered(run_summary(result))
    assert "NOT JUDGED (run with --no-budgets)" in html and "Budgets" not in html


def test_service_time_is_shown_beside_corrected_latency() -> None:
    """With a schedule kept, both latencies are in the figures, each named by where it starts."""
    service = LatencyStats(
        count=600, mean_ms=20, p50_ms=18, p90_ms=30, p95_ms=35, p99_ms=41.25, max_ms=60
    )
    text = run_summary(sample_result().model_copy(update={"service_latency": service}))
    assert "Latency p50 / p95 / p99 (from the intended send)" in text
    assert "(from the actual send) | 18.0 ms / 35.0 ms / 41.2 ms |" in text


def test_hostile_text_cannot_inject_links_images_or_html() -> None:
    """Notes, error bodies and routes render as literal text: no link, image, tag or row."""
    text = run_summary(hostile_result())
    html = rendered(text)
    assert "<img" not in html and "<script" not in html and "<b>" not in html
    assert "<a " not in html and "href" not in html and "<h1>" not in html
    assert "forged" in html and "<td>forged</td>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "![x](https://evil.example/p.png)" in html
    assert "@\u200boctocat" in text and "#\u200b1" in text  # no mention, no issue link
    assert "the provider token was in 1 answer(s)" in html


def test_control_characters_and_long_bodies_are_contained() -> None:
    """Bidi overrides are dropped and a long body is cut, so a comment stays readable."""
    body = "\u202eevil\u0007 " + "x" * 5000
    result = hostile_result()
    assert result.responses is not None
    answer = result.responses.first_failures[0].model_copy(update={"body": body})
    scan = result.responses.model_copy(update={"first_failures": [answer]})
    text = run_summary(result.model_copy(update={"responses": scan}))
    assert "\u202e" not in text and "\u0007" not in text
    assert len(text) < 4000 and "…" in text


def test_write_summary_writes_the_file_and_appends_to_the_step_summary(tmp_path: Path) -> None:
    """summary.md is replaced; the step summary is created, then appended to, never replaced."""
    step = tmp_path / "step.md"
    write_summary("first\n", tmp_path, step)
    path = write_summary("second", tmp_path, step)
    assert path == tmp_path / SUMMARY_FILE and path.read_text() == "second"
    assert step.read_text() == "first\nsecond\n"


def test_unwritable_step_summary_is_a_clear_error_after_the_file(tmp_path: Path) -> None:
    """A step summary that cannot be opened raises StepSummaryError; summary.md is written."""
    step = tmp_path / "is-a-directory"
    step.mkdir()
    with pytest.raises(StepSummaryError, match=r"cannot append to the step summary .*is-a-dir"):
        write_summary("text", tmp_path, step)
    assert (tmp_path / SUMMARY_FILE).read_text() == "text"
    assert isinstance(StepSummaryError("x"), OSError)


def test_append_step_summary_warns_instead_of_failing(tmp_path: Path) -> None:
    """No variable: nothing; a bad target or no summary.md: a warning line, never an error."""
    assert append_step_summary(tmp_path, None) is None
    assert append_step_summary(tmp_path, "") is None
    assert "no summary.md" in (append_step_summary(tmp_path, str(tmp_path / "s.md")) or "")
    write_summary("text", tmp_path)
    assert "cannot append" in (append_step_summary(tmp_path, str(tmp_path)) or "")


def test_run_outputs_are_written_together(tmp_path: Path) -> None:
    """One call leaves report.html, junit.xml and summary.md beside each other."""
    report = write_run_outputs(sample_result(), tmp_path)
    assert report == tmp_path / "report.html"
    assert {p.name for p in tmp_path.iterdir()} == {"report.html", "junit.xml", SUMMARY_FILE}


def test_report_command_appends_to_the_github_step_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`loadgate report` writes summary.md and appends it to $GITHUB_STEP_SUMMARY."""
    sample_result(verdict="fail").save(tmp_path)
    step = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    assert main(["report", str(tmp_path)]) != 0
    assert step.read_text() == (tmp_path / SUMMARY_FILE).read_text()
    assert "FAIL" in step.read_text() and "warning" not in capsys.readouterr().err


def test_report_command_warns_when_the_step_summary_is_unwritable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unwritable step summary is one warning line; the verdict's exit code is unchanged."""
    sample_result().save(tmp_path)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path))
    assert main(["report", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("warning: cannot append to the step summary")


def test_compare_summary_has_verdict_metrics_sides_and_rounds() -> None:
    """The headline gives the reasons; each metric has base, head, change, interval, threshold
    and verdict; the sides say what ran; the rounds are listed in the order they ran."""
    text = compare_summary(sample_compare())
    html = rendered(text)
    assert text.startswith(
        "### loadgate compare smoke: FAIL: latency p50 regressed, latency p95 regressed"
    )
    assert "| Metric | Base | Head | Change | 95 % CI | Threshold | Verdict |" in text
    assert (
        "<td>latency p95</td>\n<td>101.0 ms</td>\n<td>126.2 ms</td>\n<td>+25.0 %</td>\n"
        "<td>+23.0 % … +27.0 %</td>\n<td>+10.0 %</td>\n<td><strong>REGRESSED</strong></td>"
    ) in html
    assert "<td>git ref main (1a2b3c4)</td>" in html
    orders = re.findall(r"<tr>\n<td>(\d)</td>\n<td>(base|head)</td>", html)
    assert orders == [("1", "base"), ("2", "head"), ("3", "head"), ("4", "base")]


def test_compare_summary_of_a_pass_lists_no_problems() -> None:
    """A pass is PASS, with its notes and no Problems section."""
    text = compare_summary(sample_compare(regressed=False))
    assert "compare smoke: PASS" in text and "Problems" not in text and "Notes" in text


def test_compare_summary_text_from_the_file_is_inert() -> None:
    """Gateway names, problems, notes and failed checks cannot inject Markdown or HTML."""
    result = sample_compare()
    failed = result.rounds[0].model_copy(update={"verdict": "fail", "failed_checks": [HOSTILE]})
    crafted = result.model_copy(
        update={
            "head": result.head.model_copy(update={"gateway": HOSTILE}),
            "problems": [HOSTILE],
            "notes": [HOSTILE],
            "rounds": [failed, *result.rounds[1:]],
        }
    )
    html = rendered(compare_summary(crafted))
    assert "<img" not in html and "<script" not in html and "<a " not in html
    assert "<td>forged</td>" not in html and html.count("&lt;img src=x") == 4
