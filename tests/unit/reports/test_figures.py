"""Figures for people: one rounding rule on the console, in the HTML report and in JUnit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from reports import figures
from reports.junit import junit_xml
from reports.render import render_report
from reports.result import BudgetVerdict, Findings, RunResult
from tests.unit.conftest import sample_result


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        pytest.param(12193.4, "12,193", id="large"),
        pytest.param(-7.566e-14, "0", id="rounding-noise"),
        pytest.param(0.95113, "0.9511", id="ratio"),
        pytest.param(90.55, "90.55", id="ms"),
        pytest.param(float("nan"), "nan", id="not-a-number"),
    ],
)
def test_number_rounds_for_people(value: float, shown: str) -> None:
    """No scientific notation and no rounding noise; NaN is shown as it is."""
    assert figures.number(value) == shown


@pytest.mark.parametrize(
    ("function", "value", "shown"),
    [
        pytest.param(figures.percent, 0.005, "0.50 %", id="percent"),
        pytest.param(figures.percent, -1e-15, "0.00 %", id="percent-noise"),
        pytest.param(figures.percent, None, "n/a", id="percent-missing"),
        pytest.param(figures.signed_percent, 0.1234, "+12.3 %", id="change-up"),
        pytest.param(figures.signed_percent, -0.04, "-4.0 %", id="change-down"),
        pytest.param(figures.signed_percent, -1e-9, "0.0 %", id="change-noise"),
        pytest.param(figures.ms, 1234.56, "1,234.6 ms", id="ms"),
        pytest.param(figures.ms, -0.01, "0.0 ms", id="ms-noise"),
        pytest.param(figures.mib, 60 * figures.MIB, "60.0 MiB", id="mib"),
        pytest.param(figures.mib, None, "not set", id="mib-missing"),
        pytest.param(figures.cores, 1.0, "1 core", id="one-core"),
        pytest.param(figures.cores, 0.25, "0.25 cores", id="cores"),
        pytest.param(figures.per_second, 12193.44, "12,193.4 req/s", id="rate"),
        pytest.param(figures.count, 12193, "12,193", id="count"),
    ],
)
def test_helpers_show_units_and_missing_values(
    function: Callable[[Any], str], value: float | None, shown: str
) -> None:
    """Each helper rounds, separates thousands, names its unit and says what is missing."""
    assert function(value) == shown


def test_measured_names_the_unit_or_unavailable() -> None:
    """A budget's figure carries its unit; one the run could not measure says so."""
    assert figures.measured(12193.4, "MiB") == "12,193 MiB"
    assert figures.measured(None, "ms") == "unavailable"
    assert figures.measured(0.25) == "0.25"


def _noisy_result() -> RunResult:
    base = sample_result(verdict="fail")
    return base.model_copy(
        update={
            "budgets": [
                BudgetVerdict(
                    name="memory_growth_mb_per_10k",
                    limit=5,
                    observed=-7.566e-14,
                    unit="MiB",
                    passed=True,
                ),
                BudgetVerdict(
                    name="latency_p99_ms", limit=2000, observed=12193.4, unit="ms", passed=False
                ),
            ],
            "findings": Findings(figures={"requests_to_knee": 12193.4, "slope": -7.566e-14}),
        }
    )


def test_html_report_rounds_budgets_and_figures() -> None:
    """Rounding noise shows as 0 and a large figure with separators, never as 1.219e+04."""
    html = render_report(_noisy_result())
    assert "0 MiB" in html and "12,193 ms" in html and "2,000 ms" in html
    assert '<td class="num">12,193</td>' in html and '<td class="num">0</td>' in html
    assert "e+0" not in html and "e-1" not in html


def test_junit_rounds_observed_and_limit() -> None:
    """The failure message reads 12,193 ms beyond 2,000 ms; noise does not appear at all."""
    xml = junit_xml(_noisy_result())
    assert "latency_p99_ms: 12,193 ms, beyond its limit 2,000 ms" in xml
    assert "e+0" not in xml and "e-1" not in xml
