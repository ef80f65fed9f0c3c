"""The Locust side of `loadgate bench --generator`: plain `FastHttpUser`s, unpaced, posting the
bench's body, with nothing of loadgate's (no recorder, no pacing), so the figure is Locust's own.

It measures itself over the steady window only, from the moment every user has spawned to the
test's stop (so its start-up is not counted): requests, failures, CPU seconds of this process
and wall seconds, written as JSON to the file `LOADGATE_BENCH_RESULT` names. The body comes from
`LOADGATE_BENCH_BODY`. Both are read when Locust initialises, never at import.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from locust import FastHttpUser, constant, events, task
from locust.env import Environment

from harness.bench.baselines import BODY_ENV, RESULT_ENV
from harness.bench.run import CHAT


class BenchUser(FastHttpUser):
    """Posts the body back to back, no wait, redirects not followed."""

    wait_time = constant(0)
    max_redirects = 0
    body = "{}"

    @task
    def chat(self) -> None:
        self.client.post(CHAT, data=self.body, headers={"Content-Type": "application/json"})


class _Window:
    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.result = Path(os.environ[RESULT_ENV])
        self.started: tuple[float, float, int, int] | None = None

    def mark(self) -> tuple[float, float, int, int]:
        total = self.environment.stats.total
        return time.monotonic(), time.process_time(), total.num_requests, total.num_failures

    def start(self, **_: Any) -> None:
        self.started = self.mark()

    def stop(self, **_: Any) -> None:
        if self.started is None:
            return
        end = self.mark()
        wall, cpu, requests, failures = (b - a for a, b in zip(self.started, end, strict=True))
        figures = {"wall_s": wall, "cpu_s": cpu, "requests": requests, "failures": failures}
        self.result.write_text(json.dumps(figures))


def _measure(environment: Environment, **_: Any) -> None:
    BenchUser.body = os.environ.get(BODY_ENV, "{}")
    window = _Window(environment)
    # Locust's event hooks are untyped.
    environment.events.spawning_complete.add_listener(window.start)  # type: ignore[no-untyped-call]
    environment.events.test_stop.add_listener(window.stop)  # type: ignore[no-untyped-call]


events.init.add_listener(_measure)  # type: ignore[no-untyped-call]
