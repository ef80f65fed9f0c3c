"""A closed-model user's send schedule, kept so that a stall is not omitted from the percentiles.

Locust's `constant_throughput` paces a user by waiting out the rest of its interval after each
answer: after a stall the user simply resumes, so the sends it owed are never made and the
stall is one slow sample per user (coordinated omission). A 12-user `steady` run at 50 req/s
with the gateway paused for 1.5 s sent 516 of 600 requests and measured p95 112 ms that way;
with the schedule below it sent 581 and measured p95 1,144 ms, p99 1,523 ms.

Each user keeps an intended schedule instead, as wrk2 does: send k is due at `t0 + k / rate`,
a user that fell behind sends back to back until it has caught up, and each request is
measured from its *intended* send time. The closed model's samples then
have the open model's meaning (`scenarios.arrivals`): `start` is the intended send time,
`latency_ms` runs from it to the end of the answer, `lag_ms` is how late the send went out, and
the service time alone is `latency_ms - lag_ms`.

Users are staggered over one interval (`stagger_phase`) so that they do not fire in lockstep.
Importable without Locust; the clock is injected so tests drive it against simulated servers.
"""

from __future__ import annotations

import time
from collections.abc import Callable

INTENDED = "lg_intended"
"""Key of the intended send time (Unix seconds) in a Locust request's `context`."""


def stagger_phase(number: int, users: int, worker_index: int = 0, workers: int = 1) -> float:
    """Where in its interval user `number` (1-based, counted per process) starts, in [0, 1).

    Worker w of W holds about users / W of them; user k of worker w takes slot (k-1)·W + w of
    `users`, so the slots of all processes together are spread evenly over the interval.
    """
    slot = (number - 1) * max(1, workers) + worker_index
    return (slot % max(1, users)) / max(1, users)


class SendSchedule:
    """Intended send times `t0 + k / rate_rps`, with `t0` at `phase` of an interval from now."""

    def __init__(
        self, rate_rps: float, phase: float = 0.0, clock: Callable[[], float] = time.time
    ) -> None:
        if rate_rps <= 0:
            raise ValueError(f"a send schedule needs a rate above 0, not {rate_rps}")
        self.interval_s = 1.0 / rate_rps
        self._clock = clock
        self._origin = clock() + phase * self.interval_s
        self._taken = 0

    @property
    def next_at(self) -> float:
        """The intended time of the next send."""
        return self._origin + self._taken * self.interval_s

    def wait_s(self) -> float:
        """How long to wait before the next send: 0 when it is already due (a late user
        catches up back to back instead of skipping the sends it owes)."""
        return max(0.0, self.next_at - self._clock())

    def take(self) -> float:
        """The intended time of the send going out now; the schedule moves on by one interval."""
        intended = self.next_at
        self._taken += 1
        return intended


def corrected(sent_at: float, intended: float, response_time_ms: float) -> tuple[float, float]:
    """(latency ms from the intended send time, lag ms) of a request sent at `sent_at`.

    The lag is never negative (a send woken a hair early counts as on time), so the service
    time `latency - lag` is always the measured response time.
    """
    lag_ms = max(0.0, (sent_at - intended) * 1000)
    return response_time_ms + lag_ms, lag_ms
