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
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

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


class Reply(NamedTuple):
    """What one request got back, as the send function reports it."""

    status: int
    error: str = ""
    size: int = 0
    first_byte_at: float | None = None
    """Clock time of the first streamed token, for streams."""
    tokens: int | None = None


class Outcome(NamedTuple):
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

BATCH_S = 0.001
"""Sends due less than `2 * BATCH_S` apart go out in batches, one every `BATCH_S`.

Waking up is what costs a generator most on a small VM: about 30 µs of CPU per wake-up of the
event loop, more than a request's own work, and at a thousand requests a second and more the
loop would wake for nearly every answer. So while the next send is due within `2 * BATCH_S`, the
driver blocks the loop (`time.sleep`) until it is due, but for at least `BATCH_S`, then lets the
loop read every answer that came meanwhile at once: one wake-up per batch. The price: a send goes
out up to `BATCH_S` late (its lag says so), and an answer that arrived during a block is read up
to `BATCH_S` later than it came (its latency carries that). Sends further apart are slept for on
the event loop, whose answers are read as they come (and uvloop's timers, whole milliseconds,
are never asked for less than one, which would spin the loop)."""


class OpenModelDriver:
    """Fires `send()` at each offset; at most `max_in_flight` requests are outstanding, and a
    request waiting for a free slot keeps its intended send time (the wait is latency).

    A send that returns a future (`scenarios.h1client`) costs no task: the driver follows it
    with a callback, and queues what waits for a slot itself. A coroutine gets a task. Sends
    close together go out in batches (`BATCH_S`)."""

    def __init__(
        self,
        send: Send,
        max_in_flight: int,
        record: Record | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._send = send
        self._free = max_in_flight
        self._clock = clock
        self.report = DriverReport()
        self._record = record or self.report.outcomes.append
        self._stopping = False
        self._waiting: deque[tuple[float, float]] = deque()
        """(intended send time, lag) of the requests due that wait for a free slot."""
        self._in_flight: dict[asyncio.Future[Reply], tuple[float, float]] = {}
        """The requests sent and not answered yet, with their (intended send time, lag)."""
        self._on_answer = self._answered
        self._drained: asyncio.Future[None] | None = None

    def stop(self) -> None:
        """Schedule nothing more (the requests already sent are still awaited)."""
        self._stopping = True

    async def run(
        self, offsets: Iterator[float], drain_s: float, start: float | None = None
    ) -> DriverReport:
        """Send on schedule from `start` (a time of the driver's clock; default now), then wait
        up to `drain_s` for the answers still outstanding. Workers sharing one schedule start at
        one origin: a send already due when the driver begins goes out at once, its lag counted.
        Never early: a timer that fires before the send is due is slept again."""
        clock, report, fire = self._clock, self.report, self._fire
        start = clock() if start is None else start
        for offset in offsets:
            due = start + offset
            now = clock()
            while now < due:
                gap = due - now
                if gap > 2 * BATCH_S:
                    await asyncio.sleep(gap - BATCH_S)  # answers read the moment they come
                else:
                    time.sleep(max(gap, BATCH_S))  # answers wait, to be read as one batch
                    await asyncio.sleep(0)
                now = clock()
            if self._stopping:
                break
            report.scheduled += 1
            if self._free:
                fire(due, now - due)
            else:
                self._waiting.append((due, now - due))
        if self._in_flight or self._waiting:
            self._drained = asyncio.get_running_loop().create_future()
            await asyncio.wait([self._drained], timeout=drain_s)
        await self._abandon()
        return self.report

    def _fire(self, due: float, lag: float) -> None:
        self._free -= 1
        self.report.sent += 1
        sending = self._send()
        future = sending if isinstance(sending, asyncio.Future) else asyncio.ensure_future(sending)
        self._in_flight[future] = (due, lag)
        future.add_done_callback(self._on_answer)

    def _answered(self, future: asyncio.Future[Reply]) -> None:
        due, lag = self._in_flight.pop(future)
        self._free += 1
        try:
            reply = future.result()
        except asyncio.CancelledError:
            # The run ended first: the request counts, with the time it had waited so far.
            self.report.unfinished += 1
            reply = Reply(0, "unfinished")
        except Exception as exc:  # noqa: BLE001 - a send that raised is a request that failed
            reply = Reply(0, type(exc).__name__)
        self._record(Outcome(due, lag, self._clock() - due, reply))
        if self._waiting:
            self._fire(*self._waiting.popleft())
        elif not self._in_flight and self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    async def _abandon(self) -> None:
        """The run is over: what is still queued was missed, what is in flight is unfinished."""
        while self._waiting:
            due, lag = self._waiting.popleft()
            self.report.missed += 1
            self._record(Outcome(due, lag, self._clock() - due, Reply(0, "not_sent")))
        pending = list(self._in_flight)
        for future in pending:
            future.cancel()
        if pending:
            await asyncio.wait(pending)
