"""Fail fast: a load whose first requests all failed is stopped, with the cause."""

from __future__ import annotations

from collections import Counter

import pytest

from harness.run.failfast import FailFastWatch, failure_summary
from reports.markdown import printable


@pytest.mark.parametrize(
    ("kinds", "requests", "seconds", "stops"),
    [
        pytest.param({"http_400": 500}, 500, 5.0, True, id="first-5-seconds-all-400"),
        pytest.param({"http_502": 30, "http_503": 20}, 50, 5.0, True, id="all-failed-two-ways"),
        pytest.param({"ConnectionResetError": 9}, 9, 6.0, True, id="no-answer-at-all"),
        pytest.param({"http_400": 500}, 500, 4.9, False, id="too-early-to-say"),
        pytest.param({"http_400": 4}, 4, 6.0, False, id="too-few-answers"),
        pytest.param({"http_429": 40, "": 1}, 41, 5.0, False, id="one-succeeded"),
        pytest.param({"": 50}, 50, 5.0, False, id="all-succeeded"),
    ],
)
def test_the_load_stops_only_when_every_first_request_failed(
    kinds: dict[str, int], requests: int, seconds: float, stops: bool
) -> None:
    """Every answer of the first 5 s (five at least) failed, in whatever way: stop."""
    watch = FailFastWatch()
    reason = watch.check(Counter(kinds), requests, seconds)
    assert (reason is not None) is stops
    assert bool(watch.kinds) is stops


def test_the_decision_is_taken_once() -> None:
    """Once the first answers held a success, later failures do not stop the load."""
    watch = FailFastWatch()
    assert watch.check(Counter({"": 50}), 50, 5.0) is None
    assert watch.check(Counter({"": 50, "http_500": 500}), 550, 10.0) is None


def test_the_summary_names_the_status_and_the_body_on_one_line() -> None:
    """'every request answered 400: {...}', the body's whitespace folded."""
    body = '{"error":\n  "Invalid model name"}'
    assert failure_summary(Counter({"http_400": 9}), 400, body) == (
        'every request answered 400: {"error": "Invalid model name"}'
    )
    assert failure_summary(Counter({"ConnectionResetError": 9}), None, None) == (
        "every request failed without an answer (ConnectionResetError)"
    )
    assert failure_summary(Counter({"http_502": 3, "http_503": 2}), 502, "x") == (
        "every request failed (http_502: 3, http_503: 2); the first answered 502: x"
    )


def test_control_characters_of_a_hostile_body_are_escaped() -> None:
    """ANSI escapes and bells from a target cannot drive the terminal or a CI log."""
    shown = failure_summary(Counter({"http_400": 5}), 400, "\x1b]0;owned\x07\x1b[2Jok")
    assert "\x1b" not in shown and "\x07" not in shown and "\\x1b" in shown
    assert printable("line\u2028break") == "line\\u2028break"


def test_the_summary_names_the_request_when_known() -> None:
    """A wrong --protocol shows at once: the route every request was sent to."""
    line = failure_summary(
        Counter({"http_404": 9}), 404, '{"detail":"Not Found"}', "POST /v1/infer"
    )
    assert line == 'every request (POST /v1/infer) answered 404: {"detail":"Not Found"}'
