"""The closed model's send schedule, against a simulated server that stalls."""

from __future__ import annotations

import heapq

import numpy as np
import pytest

from scenarios.pacing import SendSchedule, corrected, stagger_phase


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("users", "workers"), [(12, 1), (12, 3), (5, 1)], ids=["one-process", "three-workers", "odd"]
)
def test_users_are_staggered_evenly_over_one_interval(users: int, workers: int) -> None:
    """Every user of every process takes its own slot: the phases are 0, 1/N, ..., (N-1)/N."""
    phases = [
        stagger_phase(number, users, worker, workers)
        for worker in range(workers)
        for number in range(1, users // workers + 1)
    ]
    assert sorted(phases) == pytest.approx([slot / users for slot in range(users)])


def test_schedule_starts_at_its_phase_and_keeps_its_interval() -> None:
    """Send k is due at t0 + k/rate, t0 being the user's phase of one interval from its start."""
    clock = Clock()
    schedule = SendSchedule(4.0, phase=0.5, clock=clock)
    assert schedule.wait_s() == pytest.approx(0.125)
    clock.now += 0.125
    assert schedule.take() == pytest.approx(1000.125)
    assert schedule.wait_s() == pytest.approx(0.25)
    clock.now += 0.3  # woke a little late: the next send is still due on the grid
    assert schedule.take() == pytest.approx(1000.375)
    assert schedule.wait_s() == pytest.approx(0.2)


def test_a_late_user_catches_up_back_to_back() -> None:
    """After a 1 s stall at 10 req/s the user owes ten sends and waits for none of them."""
    clock = Clock()
    schedule = SendSchedule(10.0, clock=clock)
    schedule.take()
    clock.now += 1.0
    owed = []
    while schedule.wait_s() == 0.0:
        owed.append(schedule.take())
    assert len(owed) == 10
    assert owed[0] == pytest.approx(1000.1) and owed[-1] == pytest.approx(1001.0)


def test_schedule_refuses_a_rate_of_zero() -> None:
    """Rate 0 is unpaced, which is no schedule at all."""
    with pytest.raises(ValueError, match="above 0"):
        SendSchedule(0.0)


@pytest.mark.parametrize(
    ("sent_at", "expected"),
    [(10.25, (270.0, 250.0)), (10.0, (20.0, 0.0)), (9.9999, (20.0, 0.0))],
    ids=["late", "on-time", "a-hair-early"],
)
def test_latency_runs_from_the_intended_time(sent_at: float, expected: tuple[float, float]) -> None:
    """Latency counts the lag; the lag is never negative, so latency - lag is the service time."""
    assert corrected(sent_at, 10.0, 20.0) == pytest.approx(expected)


def simulate(users: int, rate: float, duration_s: float, stall: tuple[float, float]) -> np.ndarray:
    """Closed-model users on a server answering in 20 ms, except that nothing is answered during
    `stall` (start, end): rows of (latency ms from the intended time, lag ms, service ms)."""
    clock = Clock(0.0)
    schedules = [
        SendSchedule(rate, stagger_phase(n, users), clock=clock) for n in range(1, users + 1)
    ]
    ready = [(0.0, n) for n in range(users)]
    rows = []
    while ready:
        clock.now, user = heapq.heappop(ready)
        sent_at = clock.now + schedules[user].wait_s()
        if sent_at >= duration_s:
            continue
        intended = schedules[user].take()
        begins = stall[1] if stall[0] <= sent_at < stall[1] else sent_at
        ended = begins + 0.020
        service_ms = (ended - sent_at) * 1000
        rows.append((*corrected(sent_at, intended, service_ms), service_ms))
        heapq.heappush(ready, (ended, user))
    return np.array(rows)


def test_a_stall_shows_in_the_corrected_p99_and_not_in_service_times() -> None:
    """A 1.5 s stall at 50 req/s: the latency p99 carries it, the service-time p99 does not."""
    rows = simulate(users=10, rate=5.0, duration_s=30.0, stall=(5.0, 6.5))
    latency, lag, service = rows[:, 0], rows[:, 1], rows[:, 2]
    assert len(rows) == pytest.approx(1500, abs=10)  # catching up kept the rate
    assert np.percentile(latency, 99) > 1000
    assert np.percentile(service, 99) < 100
    assert np.allclose(latency - lag, service)


def test_without_a_stall_latency_is_the_service_time() -> None:
    """A server that keeps up leaves no lag: the two measures agree."""
    rows = simulate(users=10, rate=5.0, duration_s=10.0, stall=(0.0, 0.0))
    assert np.allclose(rows[:, 1], 0.0)
    assert np.percentile(rows[:, 0], 99) == pytest.approx(20.0)
