"""Fail fast: a load whose first requests all fail the same way is stopped, with the cause."""

from __future__ import annotations

from collections import Counter

import pytest

from harness.failfast import FailFastWatch, failure_summary


@pytest.mark.parametrize(
    ("kinds", "requests", "seconds", "stops"),
    [
        pytest.param({"http_400": 50}, 50, 1.0, True, id="first-50-all-400"),
        pytest.param({"http_400": 8}, 8, 5.0, True, id="first-5-seconds-all-400"),
        pytest.param({"http_400": 49}, 49, 1.0, False, id="too-early-to-say"),
        pytest.param({"http_400": 2}, 2, 6.0, False, id="too-few-answers"),
        pytest.param({"http_400": 40, "": 10}, 50, 1.0, False, id="some-succeeded"),
        pytest.param({"http_400": 25, "http_502": 25}, 50, 1.0, False, id="failed-two-ways"),
        pytest.param({"": 50}, 50, 1.0, False, id="all-succeeded"),
    ],
)
def test_the_load_stops_only_when_the_first_requests_all_failed_alike(
    kinds: dict[str, int], requests: int, seconds: float, stops: bool
) -> None:
    """One error kind for every answer of the first 50 (or 5 s) stops the load."""
    watch = FailFastWatch()
    reason = watch.check(Counter(kinds), requests, seconds)
    assert (reason is not None) is stops


def test_the_decision_is_taken_once() -> None:
    """Once the first answers were mixed, later failures do not stop the load (budgets judge)."""
    watch = FailFastWatch()
    assert watch.check(Counter({"": 50}), 50, 1.0) is None
    assert watch.check(Counter({"": 50, "http_500": 500}), 550, 10.0) is None


def test_the_summary_names_the_status_and_the_body_on_one_line() -> None:
    """'every request answered 400: {...}', the body's whitespace folded."""
    body = '{"error":\n  "Invalid model name"}'
    assert failure_summary("http_400", 400, body) == (
        'every request answered 400: {"error": "Invalid model name"}'
    )
    assert failure_summary("ConnectionResetError", None, None) == (
        "every request failed without an answer (ConnectionResetError)"
    )
