"""The open-model schedule and its coordinated-omission accounting, against simulated servers."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from scenarios.arrivals import (
    BATCH_S,
    DriverReport,
    OpenModelDriver,
    Reply,
    Stage,
    intended_offsets,
    total_duration,
)


def test_uniform_offsets_follow_each_stage_rate() -> None:
    """Uniform arrivals: exactly rate x duration sends per stage, evenly spaced."""
    offsets = list(intended_offsets([Stage(2, 10), Stage(1, 40)]))
    assert len(offsets) == 20 + 40
    assert offsets[:3] == pytest.approx([0.0, 0.1, 0.2])
    assert all(2.0 <= t < 3.0 for t in offsets[20:])
    assert total_duration([Stage(2, 10), Stage(1, 40)]) == 3


def test_shares_of_a_split_schedule_interleave_into_the_whole() -> None:
    """Three processes' uniform shares together are the one-process schedule."""
    whole = list(intended_offsets([Stage(1, 30)]))
    parts = sorted(t for i in range(3) for t in intended_offsets([Stage(1, 30)], share=(i, 3)))
    assert parts == pytest.approx(whole)


def test_poisson_offsets_have_the_mean_rate_and_are_seeded() -> None:
    """Poisson arrivals average the stage rate and repeat under the same seed."""
    first = list(intended_offsets([Stage(20, 100)], "poisson", seed=3))
    again = list(intended_offsets([Stage(20, 100)], "poisson", seed=3))
    assert first == again
    assert 1900 < len(first) < 2100


def test_zero_rate_stage_is_a_pause() -> None:
    """A stage at 0 req/s sends nothing and shifts the next stage."""
    offsets = list(intended_offsets([Stage(1, 0), Stage(1, 5)]))
    assert offsets == pytest.approx([1.0, 1.2, 1.4, 1.6, 1.8])


class SingleConnectionServer:
    """Answers one request at a time in `service_s`; stalls once for `stall_s` at `stall_at`."""

    def __init__(self, service_s: float, stall_at: float, stall_s: float) -> None:
        self._lock = asyncio.Lock()
        self.service_s = service_s
        self.stall_at = stall_at
        self.stall_s = stall_s
        self.started = time.monotonic()
        self.service_times: list[float] = []

    async def send(self) -> Reply:
        async with self._lock:
            began = time.monotonic()
            if self.stall_s and began - self.started >= self.stall_at:
                stall, self.stall_s = self.stall_s, 0.0
                await asyncio.sleep(stall)
            await asyncio.sleep(self.service_s)
            self.service_times.append(time.monotonic() - began)
        return Reply(200)


def test_a_stall_appears_in_the_tail_measured_from_intended_send_times() -> None:
    """A 400 ms stall at 200 req/s puts ~80 late requests in p99; service times hide it."""
    server = SingleConnectionServer(service_s=0.0005, stall_at=0.5, stall_s=0.4)

    async def scenario() -> list[float]:
        driver = OpenModelDriver(server.send, max_in_flight=1)
        report = await driver.run(intended_offsets([Stage(1.5, 200)]), drain_s=5)
        assert report.missed == report.unfinished == 0
        return [o.latency_s for o in report.outcomes]

    latencies = asyncio.run(scenario())
    assert len(latencies) == 300
    assert np.percentile(latencies, 99) > 0.3
    assert np.percentile(latencies, 90) > 0.05  # the queue behind the stall, not one sample
    naive = np.percentile(server.service_times, 99)  # what a closed loop would have reported
    assert naive < 0.1


def test_a_blocked_event_loop_shows_as_schedule_lag() -> None:
    """When the generator itself blocks, its sends are late and the lag says by how much."""
    blocked = False

    async def send() -> Reply:
        nonlocal blocked
        if not blocked:
            blocked = True
            time.sleep(0.2)  # the generator, not the server, is stuck
        return Reply(200)

    async def scenario() -> list[float]:
        driver = OpenModelDriver(send, max_in_flight=100)
        report = await driver.run(intended_offsets([Stage(0.5, 100)]), drain_s=5)
        return [o.lag_s for o in report.outcomes]

    lags = asyncio.run(scenario())
    assert max(lags) > 0.15
    assert sorted(lags)[len(lags) // 2] < 0.19  # late sends catch up: no lag carried forever


def test_requests_still_queued_at_the_end_are_missed_and_counted() -> None:
    """A server that never answers: one request in flight (unfinished), the rest missed."""

    async def send() -> Reply:
        await asyncio.sleep(60)
        return Reply(200)

    async def scenario() -> tuple[int, int, int, list[str]]:
        driver = OpenModelDriver(send, max_in_flight=1)
        report = await driver.run(intended_offsets([Stage(0.2, 50)]), drain_s=0.1)
        errors = [o.reply.error for o in report.outcomes]
        return report.scheduled, report.unfinished, report.missed, errors

    scheduled, unfinished, missed, errors = asyncio.run(scenario())
    assert scheduled == 10
    assert (unfinished, missed) == (1, 9)
    assert sorted(set(errors)) == ["not_sent", "unfinished"]


def test_stop_ends_the_schedule_and_keeps_the_answers_in_flight() -> None:
    """After stop() nothing more is sent, and what was sent is still answered and recorded."""

    async def scenario() -> tuple[int, int, int]:
        async def send() -> Reply:
            await asyncio.sleep(0.05)
            return Reply(200)

        driver = OpenModelDriver(send, max_in_flight=100)
        asyncio.get_running_loop().call_later(0.25, driver.stop)
        report = await driver.run(intended_offsets([Stage(2, 100)]), drain_s=5)
        ok = sum(1 for o in report.outcomes if o.reply.status == 200)
        return report.scheduled, len(report.outcomes), ok

    scheduled, recorded, ok = asyncio.run(scenario())
    assert 20 <= scheduled <= 30  # 0.25 s of a 100 req/s schedule, not 2 s of it
    assert recorded == ok == scheduled


def test_a_shared_origin_in_the_future_delays_the_first_send() -> None:
    """Workers given one origin wait for it: the first send goes out at the origin, not at once."""

    async def scenario() -> tuple[float, float]:
        sent_at: list[float] = []

        async def send() -> Reply:
            sent_at.append(time.monotonic())
            return Reply(200)

        origin = time.monotonic() + 0.2
        driver = OpenModelDriver(send, max_in_flight=10)
        await driver.run(intended_offsets([Stage(0.1, 50)]), drain_s=1, start=origin)
        return origin, sent_at[0]

    origin, first = asyncio.run(scenario())
    assert first >= origin - 0.001


def test_an_origin_already_past_counts_the_sends_due_as_late() -> None:
    """A worker that starts after the shared origin sends what is due at once, its lag counted."""

    async def scenario() -> list[float]:
        driver = OpenModelDriver(_ok, max_in_flight=10)
        origin = time.monotonic() - 0.1
        report = await driver.run(intended_offsets([Stage(0.2, 50)]), drain_s=1, start=origin)
        return sorted(o.lag_s for o in report.outcomes)

    lags = asyncio.run(scenario())
    assert lags[-1] >= 0.08  # the first sends were due 0.1 s before the driver began
    assert lags[0] < 0.05


async def _ok() -> Reply:
    return Reply(200)


def test_futures_are_followed_without_tasks_and_accounted_like_coroutines() -> None:
    """A send returning bare futures: one in flight, never answered (unfinished), the rest
    queued behind it (missed), as for coroutines."""

    async def scenario() -> tuple[DriverReport, list[str]]:
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[Reply]] = []

        def send() -> asyncio.Future[Reply]:
            futures.append(loop.create_future())
            return futures[-1]

        driver = OpenModelDriver(send, max_in_flight=1)
        report = await driver.run(intended_offsets([Stage(0.2, 50)]), drain_s=0.1)
        assert len(futures) == 1 and futures[0].cancelled()
        return report, sorted(o.reply.error for o in report.outcomes)

    report, errors = asyncio.run(scenario())
    assert (report.scheduled, report.sent, report.unfinished, report.missed) == (10, 1, 1, 9)
    assert errors == ["not_sent"] * 9 + ["unfinished"]


def test_a_failed_future_is_a_failed_request_named_by_its_error() -> None:
    """A send whose future ends in an exception is recorded with the exception's name."""

    async def scenario() -> list[Reply]:
        loop = asyncio.get_running_loop()

        def send() -> asyncio.Future[Reply]:
            future: asyncio.Future[Reply] = loop.create_future()
            loop.call_soon(future.set_exception, ConnectionResetError("gone"))
            return future

        driver = OpenModelDriver(send, max_in_flight=4)
        report = await driver.run(intended_offsets([Stage(0.1, 30)]), drain_s=1)
        return [o.reply for o in report.outcomes]

    replies = asyncio.run(scenario())
    assert replies == [Reply(0, "ConnectionResetError")] * 3


def test_close_sends_go_out_in_batches_never_early_and_little_late() -> None:
    """At 2,000 req/s every send goes out at or after its time, at most a batch late."""

    async def scenario() -> tuple[list[tuple[float, float]], list[float]]:
        sent: list[float] = []
        loop = asyncio.get_running_loop()

        def send() -> asyncio.Future[Reply]:
            sent.append(time.monotonic())
            future: asyncio.Future[Reply] = loop.create_future()
            future.set_result(Reply(200))
            return future

        driver = OpenModelDriver(send, max_in_flight=100)
        report = await driver.run(intended_offsets([Stage(0.5, 2000)]), drain_s=1)
        return [(o.intended_at, o.lag_s) for o in report.outcomes], sent

    outcomes, sent = asyncio.run(scenario())
    assert len(outcomes) == len(sent) == 1000
    intended = sorted(t for t, _ in outcomes)
    assert all(at >= due for at, due in zip(sent, intended, strict=True))
    lags = sorted(lag for _, lag in outcomes)
    assert lags[len(lags) // 2] < 2 * BATCH_S  # a loaded machine may add a little
