"""A compare's figures as text: signs, units, intervals, the headline and the console table."""

from __future__ import annotations

import pytest

from reports.compare_figures import compare_table, headline, metric_row, round_row
from reports.compare_result import CompareResult, MetricComparison
from tests.unit.reports.fixtures import sample_compare


def metric(name: str) -> MetricComparison:
    """The fixture's comparison of `name`."""
    return next(m for m in sample_compare().metrics if m.metric == name)


def test_relative_change_is_a_signed_percentage_with_its_interval() -> None:
    """p95 25 % slower: +25.0 %, its interval, and the +10 % threshold it broke."""
    row = metric_row(metric("p95"))
    assert (row.base, row.head) == ("101.0 ms", "126.2 ms")
    assert (row.change, row.interval, row.threshold) == ("+25.0 %", "+23.0 % … +27.0 %", "+10.0 %")
    assert row.verdict == "REGRESSED" and row.regressed


def test_error_rate_changes_in_percentage_points() -> None:
    """The error rate is a share: its change is a difference of rates, in pp."""
    row = metric_row(metric("error_rate"))
    assert (row.base, row.change, row.interval, row.threshold) == (
        "0.08 %",
        "0.00 pp",
        "-0.20 pp … +0.20 pp",
        "+1.00 pp",
    )


@pytest.mark.parametrize(
    ("name", "threshold", "base"),
    [
        pytest.param("throughput", "-10.0 %", "40.0 req/s", id="lower-is-worse"),
        pytest.param("memory_p95", "+10.0 %", "60.0 MiB", id="bytes-as-mib"),
    ],
)
def test_threshold_points_the_worse_way_and_units_read_well(
    name: str, threshold: str, base: str
) -> None:
    """Less throughput is worse, so its threshold is negative; bytes are shown in MiB."""
    row = metric_row(metric(name))
    assert (row.threshold, row.base) == (threshold, base)


def test_missing_interval_and_unknown_unit() -> None:
    """No interval reads n/a; a unit loadgate does not know is shown as text, one line."""
    odd = metric("cpu_per_request").model_copy(
        update={"low": None, "high": None, "unit": "cpu\nms\x1b[31m", "base": 12193.4}
    )
    row = metric_row(odd)
    assert row.interval == "n/a" and row.base == "12,193 cpu ms[31m"


def test_round_row_names_failed_checks() -> None:
    """A failed round reads FAIL with the checks it failed."""
    item = (
        sample_compare()
        .rounds[1]
        .model_copy(update={"verdict": "fail", "failed_checks": ["error_rate", "token_in_logs"]})
    )
    row = round_row(item)
    assert row.failed and row.verdict == "FAIL: error_rate, token_in_logs"
    assert (row.requests, row.p95, row.throughput) == ("1,200", "125.0 ms", "40.0 req/s")


@pytest.mark.parametrize(
    ("result", "shown"),
    [
        pytest.param(sample_compare(regressed=False), "PASS", id="pass"),
        pytest.param(
            sample_compare(), "FAIL: latency p50 regressed, latency p95 regressed", id="regressed"
        ),
        pytest.param(
            sample_compare(regressed=False).model_copy(
                update={"verdict": "fail", "problems": ["a", "b"]}
            ),
            "FAIL: 2 problems",
            id="problems",
        ),
    ],
)
def test_headline_gives_the_reasons(result: CompareResult, shown: str) -> None:
    """PASS, or FAIL with what regressed and how many problems."""
    assert headline(result) == shown


def test_console_table_is_aligned_and_ends_with_the_verdict() -> None:
    """Columns line up; problems and notes are one line each, the verdict last."""
    result = sample_compare().model_copy(update={"problems": ["round 3\nfailed\x07"]})
    lines = compare_table(result).splitlines()
    header = "metric base head change 95 % CI threshold verdict"
    assert lines[0].split() == header.split()
    head_at = lines[0].index("head")
    for line in lines[1:8]:  # every metric's head figure starts under the header
        assert line[head_at - 2 : head_at] == "  " and line[head_at] != " "
    assert "problem: round 3 failed" in lines and lines[-1].startswith("verdict: FAIL")
