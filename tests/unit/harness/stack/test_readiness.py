"""The one readiness loop: ready at the first good answer, refused at once or after the timeout."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from harness.errors import StackNotReadyError
from harness.stack.readiness import wait_ready


def _answers(*answers: str | None) -> Iterator[str | None]:
    yield from answers
    while True:
        yield answers[-1]


def test_ready_at_the_first_good_answer() -> None:
    """The loop returns as soon as the probe answers None, after the answers before it."""
    answers = _answers("502", "502", None)
    calls: list[str | None] = []

    def probe() -> str | None:
        calls.append(next(answers))
        return calls[-1]

    wait_ready("gateway", probe, timeout_s=5)
    assert calls == ["502", "502", None]


def test_timeout_names_the_last_answer_and_carries_the_logs() -> None:
    """A service never ready is refused after the timeout with its last answer and its logs."""
    with pytest.raises(StackNotReadyError) as caught:
        wait_ready("redis", lambda: "PING answered b'-LOADING'", 0.3, logs=lambda: "loading")
    assert "PING answered b'-LOADING'" in str(caught.value)
    assert caught.value.service == "redis"
    assert caught.value.logs == "loading"


def test_a_failing_check_gives_up_at_once() -> None:
    """A check that raises (a dead container) ends the wait before the timeout."""

    def check() -> None:
        raise StackNotReadyError("gateway", "container exited with code 3")

    began = time.monotonic()
    with pytest.raises(StackNotReadyError, match="exited with code 3"):
        wait_ready("gateway", lambda: "no answer", 30, check)
    assert time.monotonic() - began < 1
