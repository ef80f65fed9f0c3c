"""The open model: requests sent on a schedule, whether or not earlier ones have returned.

A closed-model generator (a user that waits for its answer before it sends again) slows down
when the server does, so a stall produces one slow sample instead of a queue of late ones: the
stall all but vanishes from the percentiles (coordinated omission). Here every request has an
*intended* send time taken from the schedule, and its latency is measured from that time, so a
request that waited behind a stall carries the wait.

The driver also watches itself. `lag` is how late the schedule fired a send (the generator's own
event loop falling behind), and sends still waiting when the run ends are counted as missed; the
harness refuses to judge a gateway on a run whose generator was the bottleneck.

Importable without I/O: `OpenModelDriver` takes the send function, so tests drive it with a
simulated server.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

Arrival = Literal["uniform", "poisson"]


@dataclass(frozen=True)
class Stage:
    """`rate_rps` requests a second for `duration_s` seconds."""

    duration_s: float
    rate_rps: float


def total_duration(stages: Sequence[Stage]) -> float:
    return sum(stage.duration_s for stage in stages)


def intended_offsets(
    stages: Sequence[Stage],
    arrival: Arrival = "uniform",
    seed: int = 0,
    share: tuple[int, int] = (0, 1),
) -> Iterator[float]:
    """Send times in seconds after the start, stage after stage.

    `share=(i, n)` is process i's part of a schedule split across n generator processes: uniform
    arrivals interleave (each takes every n-th slot), Poisson streams are independent at rate/n.
    """
    index, processes = share
    rng = random.Random(seed * 1_000_003 + index)
    stage_start = 0.0
    for stage in stages:
        stage_end = stage_start + stage.duration_s
        rate = stage.rate_rps / processes
        if rate > 0:
            if arrival == "uniform":
                # Slot k of this stage, computed afresh so rounding never adds a send.
                slots = math.ceil(stage.duration_s * rate - index / processes - 1e-9)
                for k in range(max(0, slots)):
                    yield stage_start + (k + index / processes) / rate
            else:
                t = stage_start + rng.expovariate(rate)
                while t < stage_end:
                    yield t
                    t += rng.expovariate(rate)
        stage_start = stage_end


@dataclass(frozen=True)
class Reply:
    """What one request got back, as the send function reports it."""

    status: int
    error: str = ""
    size: int = 0
    first_byte_at: float | None = None
    """Clock time of the first streamed token, for streams."""
    tokens: int | None = None


@dataclass(frozen=True)
class Outcome:
    """One request as the open model accounts for it (clock times from the driver's clock)."""

    intended_at: float
    lag_s: float
    """How late the schedule fired this send (the generator's own delay)."""
    latency_s: float
    """From the intended send time to the end of the answer."""
    reply: Reply

    @property
    def ttft_s(self) -> float | None:
        if self.reply.first_byte_at is None:
            return None
        return self.reply.first_byte_at - self.intended_at


@dataclass
class DriverReport:
    scheduled: int = 0
    sent: int = 0
    missed: int = 0
    """Due but never sent before the run ended (all connections busy)."""
    unfinished: int = 0
    """Sent but not answered when the run ended."""
    outcomes: list[Outcome] = field(default_factory=list)


Send = Callable[[], Awaitable[Reply]]
Record = Callable[[Outcome], None]


class OpenModelDriver:
    """Fires `send()` at each offset; at most `max_in_flight` requests are outstanding, and a
    request waiting for a free slot keeps its intended send time (the wait is latency)."""

    def __init__(
        self,
        send: Send,
        max_in_flight: int,
        record: Record | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._send = send
        self._slots = asyncio.Semaphore(max_in_flight)
        self._clock = clock
        self.report = DriverReport()
        self._record = record or self.report.outcomes.append
        self._stopping = False

    def stop(self) -> None:
        """Schedule nothing more (the requests already sent are still awaited)."""
        self._stopping = True

    async def run(
        self, offsets: Iterator[float], drain_s: float, start: float | None = None
    ) -> DriverReport:
        """Send on schedule from `start` (a time of the driver's clock; default now), then wait
        up to `drain_s` for the answers still outstanding. Workers sharing one schedule start at
        one origin: a send already due when the driver begins goes out at once, its lag counted."""
        start = self._clock() if start is None else start
        tasks: set[asyncio.Task[None]] = set()
        for offset in offsets:
            due = start + offset
            delay = due - self._clock()
            if delay > 0:
                await asyncio.sleep(delay)
            if self._stopping:
                break
            lag = max(0.0, self._clock() - due)
            task = asyncio.create_task(self._one(due, lag))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            self.report.scheduled += 1
        if tasks:
            await asyncio.wait(set(tasks), timeout=drain_s)
        await self._abandon(tasks)
        return self.report

    async def _one(self, due: float, lag: float) -> None:
        sent = False
        try:
            async with self._slots:
                sent = True
                self.report.sent += 1
                reply = await self._send()
        except asyncio.CancelledError:
            # The run ended first: the request counts, with the time it had waited so far.
            if sent:
                self.report.unfinished += 1
            else:
                self.report.missed += 1
            reply = Reply(status=0, error="unfinished" if sent else "not_sent")
        self._record(Outcome(due, lag, self._clock() - due, reply))

    async def _abandon(self, tasks: set[asyncio.Task[None]]) -> None:
        """The run is over: what is still queued was missed, what is in flight is unfinished."""
        pending = list(tasks)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
