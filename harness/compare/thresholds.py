"""What counts as a regression in `loadgate compare`: one threshold per metric.

A metric regresses when its change in the worse direction is larger than its threshold (and the
statistics say the change is real, `stats.py`). The thresholds come from three places, each
overriding the one before:

    DEFAULT_THRESHOLDS                     below
    a budgets file's `compare:` block      `compare: {p95: 10%, throughput: 0.05}`
    the `--max-regression` flag            `--max-regression p95=10%,error_rate=0.5%`

Every threshold is a fraction from 0 to 1, written `10%` or `0.10`. A bare number above 1 is
refused rather than guessed: `10` could mean 10 % or ten times, and a gate that silently allows a
tenfold slowdown is worse than an error. Thresholds are relative (0.10 = head 10 % worse than
base) except for `error_rate`, which is absolute (0.01 = one percentage point): near an error
rate of 0 a relative change means nothing (0.1 % -> 0.3 % is "+200 %").

The statistics decide whether a change is real; the threshold decides whether it matters. The
defaults are starting points, not yet calibrated by measurement: p99 gets more room than p50 and
p95 (a handful of requests per round decide it), throughput less (it is mostly set by the load).
Single runs are not enough to judge 10 %: two 5 s `smoke` runs of the same gateway on a busy
2-core machine differed by 12 % at the median (56.0 and 49.7 ms), hence the rounds.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict
from pydantic_core import PydanticCustomError

from harness.errors import UsageError
from reports.compare_result import METRICS, Metric

if TYPE_CHECKING:
    from harness.verdict.budgets import Budgets

DEFAULT_THRESHOLDS: Mapping[Metric, float] = MappingProxyType(
    {
        "p50": 0.10,
        "p95": 0.10,
        "p99": 0.15,
        "throughput": 0.05,
        "error_rate": 0.01,
        "memory_p95": 0.10,
        "cpu_per_request": 0.10,
    }
)
HIGHER_IS_WORSE: Mapping[Metric, bool] = MappingProxyType(
    {metric: metric != "throughput" for metric in METRICS}
)
ABSOLUTE_METRICS: frozenset[Metric] = frozenset({"error_rate"})
"""Metrics whose change and threshold are a difference (percentage points), not a ratio."""

_BY_NAME: Mapping[str, Metric] = MappingProxyType({metric: metric for metric in METRICS})
_NUMBER = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)")
FLAG = "--max-regression"
_RANGE = "a threshold is from 0 to 1 (0% to 100%)"


class ThresholdError(ValueError):
    """A threshold that is not a fraction from 0 to 1 (or 0 % to 100 %)."""


def parse_threshold(value: object) -> float:
    """A fraction from `10%`, `"0.1"` or `0.1`; anything else is a `ThresholdError`."""
    amount, percent, text = _amount(value)
    if amount < 0:
        raise ThresholdError(f"{text} is negative: {_RANGE}")
    if percent and amount > 100:
        raise ThresholdError(f"{text} is above 100%")
    if not percent and amount > 1:
        raise ThresholdError(
            f"{text} is not a fraction from 0 to 1: write {amount:g}% or {amount / 100:g}"
        )
    return amount / 100 if percent else amount


def _amount(value: object) -> tuple[float, bool, str]:
    """The number written, whether it ended in `%`, and the value as the user wrote it."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ThresholdError(f"{value!r} is not a finite number")
        return float(value), False, f"{value!r}"
    if not isinstance(value, str):
        raise ThresholdError(f"{value!r} is not a threshold (write 10% or 0.10)")
    text = value.strip()
    number = text.removesuffix("%").strip()
    if number.startswith("-"):
        raise ThresholdError(f"{text!r} is negative: {_RANGE}")
    if not _NUMBER.fullmatch(number):
        raise ThresholdError(f"{text!r} is not a threshold (write 10% or 0.10)")
    return float(number), text.endswith("%"), repr(text)


def _metric(name: str) -> Metric:
    metric = _BY_NAME.get(name)
    if metric is None:
        raise ThresholdError(f"unknown metric {name!r} (known: {', '.join(METRICS)})")
    return metric


def _parse_flag(text: str) -> dict[Metric, float]:
    if not text.strip():
        raise ThresholdError("no threshold given (e.g. p95=10%,throughput=5%)")
    found: dict[Metric, float] = {}
    for item in text.split(","):
        name, equals, value = item.partition("=")
        if not equals or not name.strip() or not value.strip():
            raise ThresholdError(f"{item.strip()!r} is not NAME=VALUE (e.g. p95=10%)")
        metric = _metric(name.strip())
        if metric in found:
            raise ThresholdError(f"{metric} is given twice")
        try:
            found[metric] = parse_threshold(value)
        except ThresholdError as exc:
            raise ThresholdError(f"{metric}: {exc}") from None
    return found


def parse_max_regression(text: str) -> dict[Metric, float]:
    """`p95=10%,throughput=5%,error_rate=0.5%` as fractions; bad text is one `UsageError` line."""
    try:
        return _parse_flag(text)
    except ThresholdError as exc:
        raise UsageError(f"{FLAG}: {exc}") from None


def max_regression_type(text: str) -> dict[Metric, float]:
    """`parse_max_regression` as an argparse `type=`: argparse names the flag and exits 2."""
    try:
        return _parse_flag(text)
    except ThresholdError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _from_file(value: object) -> float | None:
    if value is None:
        return None
    try:
        return parse_threshold(value)
    except ThresholdError as exc:
        raise PydanticCustomError("threshold", str(exc)) from None


Threshold = Annotated[float | None, BeforeValidator(_from_file)]


class CompareThresholds(BaseModel):
    """A budgets file's `compare:` block: the metrics it names, each `10%` or `0.10`."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    p50: Threshold = None
    p95: Threshold = None
    p99: Threshold = None
    throughput: Threshold = None
    error_rate: Threshold = None
    memory_p95: Threshold = None
    cpu_per_request: Threshold = None

    def named(self) -> dict[Metric, float]:
        """The thresholds the block sets (the others keep their default)."""
        values = {metric: getattr(self, metric) for metric in METRICS}
        return {metric: value for metric, value in values.items() if value is not None}


def thresholds(budgets: Budgets | None, overrides: Mapping[Metric, float]) -> dict[Metric, float]:
    """Every metric's threshold: the defaults, then the budgets file's block, then the flag."""
    chosen = dict(DEFAULT_THRESHOLDS)
    if budgets is not None and budgets.compare is not None:
        chosen.update(budgets.compare.named())
    chosen.update(overrides)
    return chosen
