"""Compare thresholds: the defaults, `--max-regression`, a budgets file's `compare:` block."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from harness.compare.thresholds import (
    ABSOLUTE_METRICS,
    DEFAULT_THRESHOLDS,
    HIGHER_IS_WORSE,
    CompareThresholds,
    max_regression_type,
    parse_max_regression,
    thresholds,
)
from harness.errors import BudgetsError, UsageError
from harness.verdict.budgets import Budgets, load_budgets
from reports.compare_result import METRICS


def budgets_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "budgets.yml"
    path.write_text(text)
    return path


def test_every_metric_has_a_default_and_a_direction() -> None:
    """The defaults and the directions cover exactly the metrics a compare result names."""
    assert set(DEFAULT_THRESHOLDS) == set(METRICS) == set(HIGHER_IS_WORSE)
    assert all(0 <= value <= 1 for value in DEFAULT_THRESHOLDS.values())
    assert [m for m in METRICS if not HIGHER_IS_WORSE[m]] == ["throughput"]
    assert sorted(ABSOLUTE_METRICS) == ["error_rate"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("p95=10%", {"p95": 0.10}, id="percent"),
        pytest.param("p95=0.1", {"p95": 0.1}, id="fraction"),
        pytest.param("p95=.25", {"p95": 0.25}, id="fraction-no-leading-zero"),
        pytest.param("throughput=0", {"throughput": 0.0}, id="zero"),
        pytest.param("p99=1", {"p99": 1.0}, id="one"),
        pytest.param("p99=100%", {"p99": 1.0}, id="hundred-percent"),
        pytest.param(
            "p95=10%,throughput=5%,error_rate=0.5%",
            {"p95": 0.10, "throughput": 0.05, "error_rate": 0.005},
            id="several",
        ),
        pytest.param(
            " p50 = 7.5 % , memory_p95=0.2 ", {"p50": 0.075, "memory_p95": 0.2}, id="spaces"
        ),
    ],
)
def test_max_regression_is_read_as_fractions(text: str, expected: dict[str, float]) -> None:
    """`N%` is N/100, a plain number from 0 to 1 is itself, for each metric named."""
    assert parse_max_regression(text) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("p95=10", "'10' is not a fraction from 0 to 1: write 10% or 0.1", id="bare"),
        pytest.param("p95=1.5", "write 1.5% or 0.015", id="bare-above-one"),
        pytest.param("p96=10%", "unknown metric 'p96' (known: p50, p95, p99, thro", id="unknown"),
        pytest.param("p95=10%,p95=5%", "p95 is given twice", id="duplicate"),
        pytest.param("p95=-5%", "p95: '-5%' is negative", id="negative-percent"),
        pytest.param("p95=-0.1", "p95: '-0.1' is negative", id="negative-fraction"),
        pytest.param("p95=nan", "'nan' is not a threshold", id="nan"),
        pytest.param("p95=inf%", "'inf%' is not a threshold", id="inf"),
        pytest.param("p95=1e-1", "'1e-1' is not a threshold", id="exponent"),
        pytest.param("p95=1_0%", "'1_0%' is not a threshold", id="underscore"),
        pytest.param("p95=150%", "'150%' is above 100%", id="above-100-percent"),
        pytest.param("p95=ten", "'ten' is not a threshold", id="word"),
        pytest.param("p95=", "'p95=' is not NAME=VALUE", id="empty-value"),
        pytest.param("=10%", "'=10%' is not NAME=VALUE", id="empty-name"),
        pytest.param("p95", "'p95' is not NAME=VALUE", id="no-equals"),
        pytest.param("p95=10%,", "'' is not NAME=VALUE", id="trailing-comma"),
        pytest.param("", "no threshold given", id="empty"),
        pytest.param("  ", "no threshold given", id="blank"),
    ],
)
def test_bad_max_regression_is_one_usage_line(text: str, message: str) -> None:
    """Each mistake is one line naming the flag and the value, raised as a usage error."""
    with pytest.raises(UsageError) as caught:
        parse_max_regression(text)
    assert str(caught.value).startswith("--max-regression: ")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_argparse_type_lets_argparse_name_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    """As a `type=`, a good value parses and a bad one exits 2 with argparse's one line."""
    parser = argparse.ArgumentParser(prog="loadgate compare")
    parser.add_argument("--max-regression", type=max_regression_type, default={})
    assert parser.parse_args(["--max-regression", "p95=5%"]).max_regression == {"p95": 0.05}
    with pytest.raises(SystemExit) as caught:
        parser.parse_args(["--max-regression", "p95=20"])
    assert caught.value.code == 2
    error = capsys.readouterr().err.splitlines()[-1]
    assert error == (
        "loadgate compare: error: argument --max-regression: "
        "p95: '20' is not a fraction from 0 to 1: write 20% or 0.2"
    )


def test_a_budgets_file_compare_block_is_loaded(tmp_path: Path) -> None:
    """Numbers are fractions, strings may be percentages; the other budgets load beside it."""
    path = budgets_file(tmp_path, "latency_p95_ms: 250\ncompare:\n  p95: 12%\n  throughput: 0.03\n")
    budgets = load_budgets(path)
    assert budgets.latency_p95_ms == 250
    assert budgets.compare == CompareThresholds(p95=0.12, throughput=0.03)
    assert budgets.compare is not None
    assert budgets.compare.named() == pytest.approx({"p95": 0.12, "throughput": 0.03})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "compare:\n  p96: 10%\n",
            "unknown compare metric 'compare.p96' (known: p50, p95, p99, throughput, error_rate, "
            "memory_p95, cpu_per_request)",
            id="unknown-metric",
        ),
        pytest.param("compare:\n  p95: 10\n", "compare.p95: 10 is not a fraction", id="bare"),
        pytest.param("compare:\n  p95: -0.1\n", "compare.p95: -0.1 is negative", id="negative"),
        pytest.param("compare:\n  p95: .nan\n", "compare.p95: nan is not a finite", id="nan"),
        pytest.param("compare:\n  p95: .inf\n", "compare.p95: inf is not a finite", id="inf"),
        pytest.param("compare:\n  p95: 150%\n", "compare.p95: '150%' is above 100%", id="pct"),
        pytest.param("compare:\n  p95: yes\n", "compare.p95: True is not a threshold", id="bool"),
        pytest.param("compare:\n  p95: [1]\n", "compare.p95: [1] is not a threshold", id="list"),
        pytest.param("compare: 10%\n", "compare: Input should be", id="not-a-mapping"),
        pytest.param("comparison:\n  p95: 10%\n", "unknown budget 'comparison'", id="misnamed"),
    ],
)
def test_a_bad_compare_block_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    """load_budgets names the key path and what is wrong with it, in one line."""
    with pytest.raises(BudgetsError) as caught:
        load_budgets(budgets_file(tmp_path, text))
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_flag_overrides_the_file_which_overrides_the_defaults(tmp_path: Path) -> None:
    """Defaults, then the file's block, then `--max-regression`, metric by metric."""
    budgets = load_budgets(budgets_file(tmp_path, "compare:\n  p95: 20%\n  p99: 30%\n"))
    chosen = thresholds(budgets, parse_max_regression("p99=25%,throughput=1%"))
    assert chosen == pytest.approx(
        {**DEFAULT_THRESHOLDS, "p95": 0.20, "p99": 0.25, "throughput": 0.01}
    )


@pytest.mark.parametrize(
    "budgets",
    [
        pytest.param(None, id="no-budgets"),
        pytest.param(Budgets(latency_p95_ms=100), id="budgets-without-compare"),
        pytest.param(Budgets(compare=CompareThresholds()), id="empty-compare-block"),
    ],
)
def test_without_a_block_or_flag_the_defaults_apply(budgets: Budgets | None) -> None:
    """Nothing named anywhere: every metric gets its default, and the defaults stay unchanged."""
    chosen = thresholds(budgets, {})
    assert chosen == DEFAULT_THRESHOLDS
    chosen["p95"] = 0.5
    assert DEFAULT_THRESHOLDS["p95"] == 0.10
